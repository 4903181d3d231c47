//! Model architecture specs (`models/*.toml`) and their parameter counts.
//!
//! Parameter counting follows the layer structure of the architecture
//! families (Vaswani 2017; Devlin 2019; Radford 2019; Raffel 2020; Shazeer
//! 2019 MQA; Ainslie 2023 GQA; Shazeer 2020 GLU variants; Fedus 2022 MoE;
//! DeepSeek-AI 2024 MLA). Every weight matrix, bias and norm is counted; the
//! test suite checks published counts within 1 %.

use super::{check_pos, check_source, validate_field_sources, CatalogError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    Decoder,
    Encoder,
    EncoderDecoder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Gelu,
    Relu,
    Swiglu,
    Geglu,
}

impl Activation {
    /// Weight matrices in the FFN: 3 for gated linear units, else 2.
    #[must_use]
    pub fn ffn_matrices(self) -> f64 {
        match self {
            Activation::Swiglu | Activation::Geglu => 3.0,
            Activation::Gelu | Activation::Relu => 2.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    Learned,
    Rotary,
    Alibi,
    Relative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    Layernorm,
    Rmsnorm,
}

/// Mixture-of-experts FFN.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moe {
    pub experts: u32,
    pub top_k: u32,
    pub expert_ffn_hidden: u64,
    #[serde(default)]
    pub shared_experts: u32,
    #[serde(default = "one")]
    pub layer_freq: u32,
    #[serde(default)]
    pub first_dense_layers: u32,
    pub params_active_published: Option<f64>,
}

fn one() -> u32 {
    1
}

/// DeepSeek multi-head latent attention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mla {
    pub q_lora_rank: Option<u64>,
    pub kv_lora_rank: u64,
    pub qk_nope_head_dim: u64,
    pub qk_rope_head_dim: u64,
    pub v_head_dim: u64,
}

/// A published training run of this model, used for validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingRun {
    pub tokens: Option<f64>,
    pub accelerator: Option<String>,
    pub accelerators: Option<u64>,
    pub hours: Option<f64>,
    pub gpu_hours: Option<f64>,
    pub seq_len: Option<u64>,
    pub global_batch: Option<u64>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    #[serde(default, skip_deserializing)]
    pub id: String,
    pub name: String,
    pub arch: Arch,
    #[serde(default)]
    pub layers: u64,
    pub hidden: u64,
    pub heads: u64,
    pub kv_heads: Option<u64>,
    pub head_dim: Option<u64>,
    pub ffn_hidden: u64,
    pub activation: Activation,
    pub vocab: u64,
    pub max_seq_len: u64,
    pub position: Position,
    #[serde(default = "default_norm")]
    pub norm: Norm,
    #[serde(default = "yes")]
    pub bias: bool,
    #[serde(default = "yes")]
    pub tied_embeddings: bool,
    pub params_published: Option<f64>,
    pub source: String,
    pub source_year: u32,
    pub encoder_layers: Option<u64>,
    pub decoder_layers: Option<u64>,
    pub type_vocab: Option<u64>,
    pub extra_params: Option<f64>,
    pub moe: Option<Moe>,
    pub mla: Option<Mla>,
    /// Dropout probability in training (hidden and attention). Absent:
    /// unknown, and the memory model counts the dropout masks, as
    /// Korthikanti et al. 2022 do for GPT (Megatron's default 0.1).
    pub dropout: Option<f64>,
    pub training: Option<TrainingRun>,
    #[serde(default)]
    pub field_sources: BTreeMap<String, String>,
    /// Set when the spec was read from a Hugging Face config.json, which
    /// carries no source year of its own.
    #[serde(skip)]
    pub from_hf_config: bool,
}

fn default_norm() -> Norm {
    Norm::Layernorm
}
fn yes() -> bool {
    true
}

const FIELDS: &[&str] = &[
    "name",
    "arch",
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "head_dim",
    "ffn_hidden",
    "activation",
    "vocab",
    "max_seq_len",
    "position",
    "norm",
    "bias",
    "tied_embeddings",
    "params_published",
    "encoder_layers",
    "decoder_layers",
    "type_vocab",
    "extra_params",
    "moe",
    "mla",
    "dropout",
    "training",
];

/// Largest dimension accepted anywhere in a model spec (guards overflow and
/// typos such as an extra zero run amok).
const MAX_DIM: f64 = 1e8;

/// Parameter counts of a model, split the way the FLOP and memory models
/// need them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamCounts {
    /// All parameters.
    pub total: f64,
    /// Parameters touched per token (MoE: shared + top-k experts).
    pub active: f64,
    /// Input embedding tables (token, position, type).
    pub embedding: f64,
    /// Weights of matrix multiplies touched per token (excludes embedding
    /// lookups, biases and norms; includes the output projection).
    pub matmul_active: f64,
}

impl ModelSpec {
    pub(crate) fn validate(&self, file: &str) -> Result<(), CatalogError> {
        if !self.from_hf_config {
            check_source(file, &self.source, self.source_year)?;
        }
        match self.arch {
            Arch::EncoderDecoder => {
                for (f, v) in [("encoder_layers", self.encoder_layers), ("decoder_layers", self.decoder_layers)] {
                    match v {
                        Some(n) if n > 0 && (n as f64) <= 1e4 => {}
                        _ => return Err(CatalogError::invalid(file, f, "encoder_decoder models need encoder_layers and decoder_layers in 1..=10000")),
                    }
                }
            }
            _ => {
                if self.layers == 0 || self.layers > 10_000 {
                    return Err(CatalogError::invalid(file, "layers", format!("{} must be in 1..=10000", self.layers)));
                }
            }
        }
        for (f, v) in
            [("hidden", self.hidden), ("heads", self.heads), ("ffn_hidden", self.ffn_hidden), ("vocab", self.vocab), ("max_seq_len", self.max_seq_len)]
        {
            check_pos(file, f, v as f64, MAX_DIM)?;
        }
        let kv = self.kv_heads();
        if kv == 0 || kv > self.heads || !self.heads.is_multiple_of(kv) {
            return Err(CatalogError::invalid(file, "kv_heads", format!("{kv} must divide heads = {}", self.heads)));
        }
        if self.head_dim.is_none() && self.mla.is_none() && !self.hidden.is_multiple_of(self.heads) {
            return Err(CatalogError::invalid(file, "head_dim", format!("hidden {} is not divisible by heads {}; give head_dim", self.hidden, self.heads)));
        }
        if let Some(m) = &self.moe {
            if m.experts == 0 || m.top_k == 0 || m.top_k > m.experts {
                return Err(CatalogError::invalid(file, "moe.top_k", format!("need 1 <= top_k ({}) <= experts ({})", m.top_k, m.experts)));
            }
            check_pos(file, "moe.expert_ffn_hidden", m.expert_ffn_hidden as f64, MAX_DIM)?;
            if m.layer_freq == 0 {
                return Err(CatalogError::invalid(file, "moe.layer_freq", "must be >= 1"));
            }
        }
        if let Some(p) = self.params_published {
            check_pos(file, "params_published", p, 1e15)?;
        }
        if let Some(d) = self.dropout {
            if !(0.0..1.0).contains(&d) {
                return Err(CatalogError::invalid(file, "dropout", format!("{d} must be a probability in [0, 1)")));
            }
        }
        validate_field_sources(file, &self.field_sources, FIELDS)
    }

    /// Whether training stores dropout masks (unknown counts as yes).
    #[must_use]
    pub fn has_dropout(&self) -> bool {
        self.dropout.is_none_or(|d| d > 0.0)
    }
    #[must_use]
    pub fn kv_heads(&self) -> u64 {
        self.kv_heads.unwrap_or(self.heads)
    }
    /// Per-head dimension of queries/keys (and values, outside MLA).
    #[must_use]
    pub fn head_dim(&self) -> u64 {
        self.head_dim.unwrap_or(self.hidden / self.heads.max(1))
    }
    /// Total transformer blocks (encoder + decoder for encoder-decoder).
    #[must_use]
    pub fn total_layers(&self) -> u64 {
        match self.arch {
            Arch::EncoderDecoder => self.encoder_layers.unwrap_or(0) + self.decoder_layers.unwrap_or(0),
            _ => self.layers,
        }
    }
    #[must_use]
    pub fn is_moe(&self) -> bool {
        self.moe.is_some()
    }

    /// Whether block `i` (0-based, decoder stack) has an MoE FFN.
    #[must_use]
    pub fn is_moe_layer(&self, i: u64) -> bool {
        match &self.moe {
            None => false,
            Some(m) => i >= u64::from(m.first_dense_layers) && (i - u64::from(m.first_dense_layers)).is_multiple_of(u64::from(m.layer_freq)),
        }
    }

    /// Number of MoE blocks.
    #[must_use]
    pub fn moe_layers(&self) -> u64 {
        (0..self.total_layers()).filter(|i| self.is_moe_layer(*i)).count() as u64
    }

    /// Weights of the attention projections of one block (matmul weights only).
    #[must_use]
    pub fn attn_matmul_params(&self) -> f64 {
        let h = self.hidden as f64;
        let a = self.heads as f64;
        if let Some(m) = &self.mla {
            let qk = (m.qk_nope_head_dim + m.qk_rope_head_dim) as f64;
            let q = match m.q_lora_rank {
                Some(r) => h * r as f64 + r as f64 * a * qk,
                None => h * a * qk,
            };
            let kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) as f64 + m.kv_lora_rank as f64 * a * (m.qk_nope_head_dim + m.v_head_dim) as f64;
            let o = a * m.v_head_dim as f64 * h;
            return q + kv + o;
        }
        let d = self.head_dim() as f64;
        let kv = self.kv_heads() as f64;
        h * a * d + 2.0 * h * kv * d + a * d * h
    }

    /// Biases and norms inside the attention sub-block.
    fn attn_other_params(&self) -> f64 {
        let h = self.hidden as f64;
        let mut p = self.norm_params();
        if let Some(m) = &self.mla {
            // latent norms (RMSNorm weight) on the compressed q and kv
            p += m.q_lora_rank.unwrap_or(0) as f64 + m.kv_lora_rank as f64;
        } else if self.bias {
            let d = self.head_dim() as f64;
            p += self.heads as f64 * d + 2.0 * self.kv_heads() as f64 * d + h;
        }
        p
    }

    fn norm_params(&self) -> f64 {
        let h = self.hidden as f64;
        match self.norm {
            Norm::Layernorm => 2.0 * h,
            Norm::Rmsnorm => h,
        }
    }

    /// Matmul weights of one dense FFN of width `f`.
    fn ffn_matmul(&self, f: f64) -> f64 {
        self.activation.ffn_matrices() * self.hidden as f64 * f
    }

    fn ffn_bias(&self, f: f64) -> f64 {
        if self.bias {
            (self.activation.ffn_matrices() - 1.0) * f + self.hidden as f64
        } else {
            0.0
        }
    }

    /// (total, active, matmul-active) parameters of the FFN of block `i`.
    fn ffn_params(&self, i: u64) -> (f64, f64, f64) {
        let n = self.norm_params();
        match &self.moe {
            Some(m) if self.is_moe_layer(i) => {
                let f = m.expert_ffn_hidden as f64;
                let one = self.ffn_matmul(f) + self.ffn_bias(f);
                let router = self.hidden as f64 * f64::from(m.experts);
                let total = f64::from(m.experts + m.shared_experts) * one + router + n;
                let active = f64::from(m.top_k + m.shared_experts) * one + router + n;
                let mm = f64::from(m.top_k + m.shared_experts) * self.ffn_matmul(f) + router;
                (total, active, mm)
            }
            _ => {
                let f = self.ffn_hidden as f64;
                let p = self.ffn_matmul(f) + self.ffn_bias(f) + n;
                (p, p, self.ffn_matmul(f))
            }
        }
    }

    /// Input embedding parameters (token + learned position + token type).
    #[must_use]
    pub fn embedding_params(&self) -> f64 {
        let h = self.hidden as f64;
        let mut p = self.vocab as f64 * h;
        if self.position == Position::Learned {
            p += self.max_seq_len as f64 * h;
        }
        p += self.type_vocab.unwrap_or(0) as f64 * h;
        p
    }

    /// Parameter counts (total, active, embedding, active matmul weights).
    #[must_use]
    pub fn params(&self) -> ParamCounts {
        let h = self.hidden as f64;
        let v = self.vocab as f64;
        let attn = self.attn_matmul_params() + self.attn_other_params();
        let mut total = 0.0;
        let mut active = 0.0;
        let mut mm = 0.0;
        if self.arch == Arch::EncoderDecoder {
            let enc = self.encoder_layers.unwrap_or(0);
            let dec = self.decoder_layers.unwrap_or(0);
            let (ft, fa, fm) = self.ffn_params(0);
            total += enc as f64 * (attn + ft);
            active += enc as f64 * (attn + fa);
            mm += enc as f64 * (self.attn_matmul_params() + fm);
            // decoder blocks: self-attention + cross-attention + FFN
            total += dec as f64 * (2.0 * attn + ft);
            active += dec as f64 * (2.0 * attn + fa);
            mm += dec as f64 * (2.0 * self.attn_matmul_params() + fm);
            // final norms of encoder and decoder stacks
            total += 2.0 * self.norm_params();
            active += 2.0 * self.norm_params();
        } else {
            for i in 0..self.layers {
                let (ft, fa, fm) = self.ffn_params(i);
                total += attn + ft;
                active += attn + fa;
                mm += self.attn_matmul_params() + fm;
            }
            total += self.norm_params();
            active += self.norm_params();
        }
        if self.arch == Arch::Encoder {
            // BERT: embedding LayerNorm, pooler (h x h + h), MLM head transform
            // (h x h + h + LayerNorm) and output bias (Devlin et al. 2019).
            let extra = 2.0 * h + (h * h + h) + (h * h + h + 2.0 * h) + v;
            // the final-norm counted above does not exist in post-LN BERT;
            // replace it with the embedding LayerNorm already in `extra`.
            total += extra - self.norm_params();
            active += extra - self.norm_params();
        } else if self.position == Position::Alibi && self.norm == Norm::Layernorm {
            // BLOOM applies a LayerNorm to the word embeddings (Le Scao 2022).
            total += self.norm_params();
            active += self.norm_params();
        }
        let emb = self.embedding_params();
        total += emb;
        active += emb;
        // output projection: shares the embedding matrix when tied
        mm += v * h;
        if !self.tied_embeddings {
            total += v * h;
            active += v * h;
        }
        if let Some(x) = self.extra_params {
            total += x;
            active += x;
        }
        ParamCounts { total, active, embedding: emb, matmul_active: mm }
    }
}
