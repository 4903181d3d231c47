//! Reading a Hugging Face `config.json` on disk (offline) into a [`ModelSpec`].
//!
//! Key sets supported: GPT-2, GPT-NeoX, LLaMA / Mistral / Qwen2, Mixtral,
//! DeepSeek-V2/V3, BLOOM, OPT, Falcon, BERT / RoBERTa / XLM-R, T5 / mT5.
//! Unknown keys are ignored; a missing essential key is named in the error.

use super::model::{Activation, Arch, Mla, ModelSpec, Moe, Norm, Position};
use super::CatalogError;
use serde_json::Value;
use std::collections::BTreeMap;

struct Cfg<'a> {
    file: &'a str,
    v: &'a serde_json::Map<String, Value>,
}

impl Cfg<'_> {
    fn opt_u64(&self, keys: &[&str]) -> Result<Option<u64>, CatalogError> {
        for k in keys {
            match self.v.get(*k) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) => {
                    if let Some(u) = n.as_u64() {
                        // sizes, counts and positions of real models are far below
                        // this; larger ones would overflow the size arithmetic
                        if u > MAX_CONFIG_INT {
                            return Err(CatalogError::invalid(self.file, k, format!("{u} is implausibly large (at most {MAX_CONFIG_INT})")));
                        }
                        return Ok(Some(u));
                    }
                    return Err(CatalogError::invalid(self.file, k, format!("{n} must be a non-negative integer")));
                }
                Some(other) => return Err(CatalogError::invalid(self.file, k, format!("expected an integer, found {other}"))),
            }
        }
        Ok(None)
    }
    fn u64(&self, keys: &[&str]) -> Result<u64, CatalogError> {
        self.opt_u64(keys)?
            .ok_or_else(|| CatalogError::invalid(self.file, keys[0], format!("missing: a Hugging Face config needs one of the keys {}", keys.join(" / "))))
    }
    fn str(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.v.get(*k).and_then(Value::as_str))
    }
    /// The largest of the probabilities under `keys` that are present
    /// (None when none is).
    fn max_prob(&self, keys: &[&str]) -> Result<Option<f64>, CatalogError> {
        let mut out: Option<f64> = None;
        for k in keys {
            match self.v.get(*k) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(x) if (0.0..1.0).contains(&x) => out = Some(out.map_or(x, |o| o.max(x))),
                    _ => return Err(CatalogError::invalid(self.file, k, format!("{n} must be a probability in [0, 1)"))),
                },
                Some(other) => return Err(CatalogError::invalid(self.file, k, format!("expected a number, found {other}"))),
            }
        }
        Ok(out)
    }
    fn bool(&self, key: &str) -> Option<bool> {
        self.v.get(key).and_then(Value::as_bool)
    }
}

/// Dropout probabilities in the config.json families supported.
const DROPOUT_KEYS: &[&str] = &[
    "resid_pdrop",
    "attn_pdrop",
    "embd_pdrop",
    "hidden_dropout",
    "attention_dropout",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "dropout",
    "activation_dropout",
    "dropout_rate",
];

/// The largest integer a config.json field may hold (2^40).
const MAX_CONFIG_INT: u64 = 1 << 40;

fn activation_of(name: Option<&str>, gated: bool) -> Activation {
    let n = name.unwrap_or("gelu").to_ascii_lowercase();
    let is_relu = n.contains("relu");
    match (gated, is_relu) {
        (true, _) if n.contains("silu") || n.contains("swish") => Activation::Swiglu,
        (true, true) => Activation::Swiglu, // ReGLU is rare; counted as a 3-matrix GLU
        (true, false) => Activation::Geglu,
        (false, true) => Activation::Relu,
        (false, false) => Activation::Gelu,
    }
}

/// Parses a Hugging Face `config.json`.
///
/// # Errors
/// Malformed JSON, or missing essential keys (named with the alternatives).
pub fn from_hf_config(file: &str, text: &str) -> Result<ModelSpec, CatalogError> {
    let root: Value = serde_json::from_str(text).map_err(|e| CatalogError::Parse { file: file.to_string(), message: format!("not valid JSON: {e}") })?;
    let Some(v) = root.as_object() else {
        return Err(CatalogError::Parse { file: file.to_string(), message: "expected a JSON object (a Hugging Face config.json)".into() });
    };
    let c = Cfg { file, v };
    let model_type = c.str(&["model_type"]).unwrap_or("").to_ascii_lowercase();
    let hidden = c.u64(&["hidden_size", "n_embd", "d_model", "n_embed"])?;
    let heads = c.u64(&["num_attention_heads", "n_head", "num_heads", "n_heads"])?;
    let vocab = c.u64(&["vocab_size", "padded_vocab_size"])?;
    let mut spec = ModelSpec {
        id: String::new(),
        name: c.str(&["_name_or_path"]).filter(|s| !s.is_empty()).map_or_else(|| format!("{model_type} ({file})"), str::to_string),
        arch: Arch::Decoder,
        layers: 0,
        hidden,
        heads,
        kv_heads: None,
        head_dim: c.opt_u64(&["head_dim"])?,
        ffn_hidden: 4 * hidden,
        activation: Activation::Gelu,
        vocab,
        max_seq_len: c.opt_u64(&["max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"])?.unwrap_or(2048),
        position: Position::Rotary,
        norm: Norm::Layernorm,
        bias: true,
        tied_embeddings: c.bool("tie_word_embeddings").unwrap_or(true),
        params_published: None,
        source: format!("Hugging Face config.json at {file}"),
        source_year: 0,
        encoder_layers: None,
        decoder_layers: None,
        type_vocab: None,
        extra_params: None,
        moe: None,
        mla: None,
        // the dropouts the config declares (GPT-2 `resid_pdrop`…, BERT
        // `hidden_dropout_prob`…, LLaMA `attention_dropout`, T5 `dropout_rate`)
        dropout: c.max_prob(DROPOUT_KEYS)?,
        training: None,
        field_sources: BTreeMap::new(),
        from_hf_config: true,
    };
    let layers_keys: &[&str] = &["num_hidden_layers", "n_layer", "num_layers", "n_layers"];
    let act = c.str(&["hidden_act", "activation_function", "hidden_activation"]);
    match model_type.as_str() {
        "gpt2" => {
            spec.layers = c.u64(layers_keys)?;
            spec.ffn_hidden = c.opt_u64(&["n_inner"])?.unwrap_or(4 * hidden);
            spec.position = Position::Learned;
            spec.activation = activation_of(act, false);
        }
        "gpt_neox" => {
            spec.layers = c.u64(layers_keys)?;
            spec.ffn_hidden = c.u64(&["intermediate_size"])?;
            spec.tied_embeddings = c.bool("tie_word_embeddings").unwrap_or(false);
            spec.activation = activation_of(act, false);
        }
        "bloom" => {
            spec.layers = c.u64(layers_keys)?;
            spec.position = Position::Alibi;
        }
        "opt" => {
            spec.layers = c.u64(layers_keys)?;
            spec.ffn_hidden = c.u64(&["ffn_dim"])?;
            spec.position = Position::Learned;
            // OPT's learned positions carry an offset of 2 (HF OPTLearnedPositionalEmbedding)
            spec.max_seq_len += 2;
            spec.activation = activation_of(act, false);
        }
        "falcon" | "refinedweb" | "refinedwebmodel" => {
            spec.layers = c.u64(layers_keys)?;
            spec.bias = c.bool("bias").unwrap_or(false);
            let new_arch = c.bool("new_decoder_architecture").unwrap_or(false);
            let mq = c.bool("multi_query").unwrap_or(true);
            spec.kv_heads = Some(c.opt_u64(&["num_kv_heads", "n_head_kv"])?.unwrap_or(if new_arch || !mq { heads } else { 1 }));
            spec.ffn_hidden = c.opt_u64(&["ffn_hidden_size"])?.unwrap_or(4 * hidden);
            if c.bool("alibi").unwrap_or(false) {
                spec.position = Position::Alibi;
            }
        }
        "bert" | "roberta" | "xlm-roberta" | "electra" | "deberta" => {
            spec.arch = Arch::Encoder;
            spec.layers = c.u64(layers_keys)?;
            spec.ffn_hidden = c.u64(&["intermediate_size"])?;
            spec.position = Position::Learned;
            spec.type_vocab = c.opt_u64(&["type_vocab_size"])?;
            spec.activation = activation_of(act, false);
        }
        "t5" | "mt5" | "umt5" => {
            spec.arch = Arch::EncoderDecoder;
            let enc = c.u64(&["num_layers"])?;
            spec.encoder_layers = Some(enc);
            spec.decoder_layers = Some(c.opt_u64(&["num_decoder_layers"])?.unwrap_or(enc));
            spec.head_dim = Some(c.u64(&["d_kv"])?);
            spec.ffn_hidden = c.u64(&["d_ff"])?;
            let proj = c.str(&["feed_forward_proj"]).unwrap_or("relu");
            spec.activation = activation_of(Some(proj), proj.starts_with("gated"));
            spec.position = Position::Relative;
            spec.norm = Norm::Rmsnorm;
            spec.bias = false;
            spec.max_seq_len = c.opt_u64(&["n_positions"])?.unwrap_or(512);
        }
        _ => {
            // LLaMA family and its descendants (mistral, mixtral, qwen2, gemma,
            // deepseek): SwiGLU, RMSNorm, rotary, no biases, untied.
            if model_type.is_empty() {
                return Err(CatalogError::invalid(file, "model_type", "missing: cannot tell the architecture family"));
            }
            spec.layers = c.u64(layers_keys)?;
            spec.ffn_hidden = c.u64(&["intermediate_size"])?;
            spec.kv_heads = c.opt_u64(&["num_key_value_heads"])?;
            // the LLaMA architecture has no dropout but attention_dropout,
            // whose default in transformers' LlamaConfig / MistralConfig /
            // MixtralConfig / Qwen2Config is 0.0 (older configs omit the key)
            spec.dropout = spec.dropout.or(Some(0.0));
            spec.activation = activation_of(act.or(Some("silu")), true);
            spec.norm = Norm::Rmsnorm;
            spec.bias = c.bool("attention_bias").unwrap_or(false);
            spec.tied_embeddings = c.bool("tie_word_embeddings").unwrap_or(false);
            if let Some(experts) = c.opt_u64(&["num_local_experts", "n_routed_experts", "num_experts"])? {
                let top_k = c.u64(&["num_experts_per_tok", "num_experts_per_token"])?;
                let expert_ffn = c.opt_u64(&["moe_intermediate_size"])?.unwrap_or(spec.ffn_hidden);
                spec.moe = Some(Moe {
                    experts: u32::try_from(experts).map_err(|_| CatalogError::invalid(file, "num_local_experts", "too large"))?,
                    top_k: u32::try_from(top_k).map_err(|_| CatalogError::invalid(file, "num_experts_per_tok", "too large"))?,
                    expert_ffn_hidden: expert_ffn,
                    shared_experts: u32::try_from(c.opt_u64(&["n_shared_experts"])?.unwrap_or(0)).unwrap_or(0),
                    layer_freq: u32::try_from(c.opt_u64(&["moe_layer_freq"])?.unwrap_or(1)).unwrap_or(1),
                    first_dense_layers: u32::try_from(c.opt_u64(&["first_k_dense_replace"])?.unwrap_or(0)).unwrap_or(0),
                    params_active_published: None,
                });
            }
            if let Some(kv_lora) = c.opt_u64(&["kv_lora_rank"])? {
                spec.mla = Some(Mla {
                    q_lora_rank: c.opt_u64(&["q_lora_rank"])?,
                    kv_lora_rank: kv_lora,
                    qk_nope_head_dim: c.u64(&["qk_nope_head_dim"])?,
                    qk_rope_head_dim: c.u64(&["qk_rope_head_dim"])?,
                    v_head_dim: c.u64(&["v_head_dim"])?,
                });
            }
        }
    }
    Ok(spec)
}
