//! Memory per device for a plan: weights, gradients, optimizer states,
//! activations, and a framework reserve.
//!
//! * Model states (Rajbhandari et al. 2020, ZeRO, §3.1): mixed-precision
//!   Adam keeps 2 bytes of fp16/bf16 weights and 12 of fp32 master weights,
//!   momentum and variance per parameter. Gradients: Megatron-LM
//!   accumulates them in an fp32 `main_grad` buffer (4 B), so its states
//!   are 18 B/param — exactly what Korthikanti et al. 2022 Figure 1 plots
//!   (e.g. 175B on TP 8 x PP 8: 12 layers x 12h² / 64 x 18 B = 45.56 GiB);
//!   ZeRO's 16 B/param assumes fp16 gradients. fp32 training keeps 4 + 4 + 8. ZeRO-1 shards the optimizer states over
//!   data parallelism, ZeRO-2 also gradients, ZeRO-3 also weights.
//! * Activations (Korthikanti et al. 2022, §4, Table 2) per layer and
//!   micro-batch of `b` sequences of length `s`, in bytes at 16-bit:
//!   `s·b·h·(34 + 5·a·s/h)` without parallelism; the terms split as
//!   attention 11·sbh + 5·a·s²·b, MLP 19·sbh, norms 4·sbh. Tensor
//!   parallelism divides all but 10·sbh by t; sequence parallelism divides
//!   those too; selective recomputation drops the 5·a·s²·b term; full
//!   recomputation keeps only each layer's 2·sbh input. The MLP term is
//!   generalised to FFN width and gated units (2 + ffn/h·(4 or 6) + 1), the
//!   attention term to grouped-query attention (K and V `kv_heads/heads` as
//!   wide: 6 + 4·kv/heads + 1; Q and the projection input at their own
//!   width where heads·head_dim ≠ h; MLA at its Q/K/V widths and latents),
//!   and a model that trains without dropout
//!   (`dropout = 0`, e.g. LLaMA) stores no masks: 1·sbh less in each of the
//!   attention and MLP terms, and a core of 2·a·s²·b (the softmax output)
//!   instead of 5. GPT-3-style models (MHA, dropout) keep Korthikanti's 34.
//! * 1F1B keeps `p` micro-batches in flight on the first stage, so it holds
//!   the activations of `L/p x p = L` layers; interleaving by `v` multiplies
//!   this by `1 + (p−1)/(p·v)` for `v > 1` (Korthikanti 2022 §4.2.3).
//! * Offloading ([`Offload`], Calculon's `weight_offload`,
//!   `activations_offload`, `optimizer_offload`; Isaev et al. 2023 §III;
//!   ZeRO-Offload, Ren et al. 2021; ZeRO-R CPU checkpointing, Rajbhandari
//!   2020 §6.1): the offloaded tensors of the transformer blocks live in host
//!   memory; the device keeps [`OFFLOAD_RESIDENT_BLOCKS`] blocks' worth (the
//!   one in use and the one in flight over the host link). The host holds
//!   all of them and must fit its per-GPU share of the node's memory.
//! * Sequence-parallel all-gather redo (Korthikanti 2022 §4.2.2; Calculon's
//!   `seq_par_ag_redo`): Megatron stores the QKV and FC1 inputs sharded
//!   (`2·sbh/t` each) and re-gathers them for the weight gradient; without
//!   the redo the gathered inputs (`2·sbh` each) are stored instead, i.e.
//!   `4·sbh·(1 − 1/t)` more per layer (none under full recomputation).

use crate::catalog::ModelSpec;
use crate::dtype::Dtype;
use crate::flops::{lora_params, FineTune, Recompute};
use crate::parallel::Plan;
use crate::units::Bytes;
use serde::Serialize;

/// Memory the framework keeps beyond tensors: CUDA context, cuBLAS
/// workspaces, allocator fragmentation. An assumption (1 GiB), not a fit:
/// PyTorch's CUDA context alone takes 0.3–0.8 GiB on recent drivers.
pub const FRAMEWORK_RESERVE_GIB: f64 = 1.0;

/// Bytes per gradient element under mixed precision: Megatron-LM's fp32
/// `main_grad` accumulation buffer (Korthikanti 2022 Figure 1 implies it).
pub const MAIN_GRAD_BYTES: f64 = 4.0;

/// Blocks whose offloaded tensors stay resident on the device: the block in
/// use and the one being prefetched or written back (double buffering;
/// Calculon keeps two blocks, `get_weight_space_min` etc.).
pub const OFFLOAD_RESIDENT_BLOCKS: f64 = 2.0;

/// Which tensors of the transformer blocks live in host memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Offload {
    /// Weights (as held per device, i.e. after ZeRO-3 sharding).
    pub weights: bool,
    /// Stored activations (the checkpoints under full recomputation).
    pub activations: bool,
    /// Optimizer states (fp32 master weights, Adam moments).
    pub optimizer: bool,
}

impl Offload {
    /// All 8 combinations.
    #[must_use]
    pub fn all() -> [Offload; 8] {
        std::array::from_fn(|i| Offload { weights: i & 1 != 0, activations: i & 2 != 0, optimizer: i & 4 != 0 })
    }
    #[must_use]
    pub fn any(&self) -> bool {
        self.weights || self.activations || self.optimizer
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemoryBreakdown {
    pub weights_gib: f64,
    pub gradients_gib: f64,
    /// The share of weights + gradients + optimizer held for the embedding
    /// (first stage); Korthikanti 2022 Figure 1 counts transformer layers only.
    pub embedding_states_gib: f64,
    pub optimizer_gib: f64,
    pub activations_gib: f64,
    pub reserve_gib: f64,
    pub total_gib: f64,
    pub capacity_gib: f64,
    /// Offloaded tensors in host memory, per GPU.
    pub host_gib: f64,
    /// The GPU's share of its node's host memory (0 when unknown).
    pub host_capacity_gib: f64,
    pub fits: bool,
}

/// Parameters held by the most loaded device (first pipeline stage), and the
/// trainable share of them.
#[must_use]
pub fn params_on_device(spec: &ModelSpec, plan: &Plan) -> f64 {
    let p = spec.params();
    let body = p.total - p.embedding - if spec.tied_embeddings { 0.0 } else { spec.vocab as f64 * spec.hidden as f64 };
    // expert weights are split across expert-parallel ranks
    let expert = expert_params(spec);
    let per_stage = on_stage(body - expert + expert / plan.ep as f64, spec, plan);
    (per_stage + p.embedding) / plan.tp as f64
}

/// All experts' weights of the model (0 without MoE).
fn expert_params(spec: &ModelSpec) -> f64 {
    spec.moe
        .as_ref()
        .map_or(0.0, |m| spec.activation.ffn_matrices() * spec.hidden as f64 * m.expert_ffn_hidden as f64 * f64::from(m.experts) * spec.moe_layers() as f64)
}

/// The share of `x` (spread over all layers) on the most loaded pipeline stage.
fn on_stage(x: f64, spec: &ModelSpec, plan: &Plan) -> f64 {
    let layers = spec.total_layers().max(1) as f64;
    x * (layers / plan.pp as f64).ceil() / layers
}

/// Of [`params_on_device`], the expert weights: replicated over only
/// `dp·cp/ep` ranks (Megatron-core's expert-data-parallel group), so ZeRO
/// shards their states that many ways.
#[must_use]
pub fn expert_params_on_device(spec: &ModelSpec, plan: &Plan) -> f64 {
    on_stage(expert_params(spec) / plan.ep as f64, spec, plan) / plan.tp as f64
}

/// Stored activation bytes of one layer and micro-batch (Korthikanti 2022
/// Table 2 as generalised above), with the SP all-gather redo or not.
///
/// `fused_attention`: a FlashAttention-style kernel stores no `s x s`
/// scores, softmax or dropout mask (it keeps the softmax statistics, `s`
/// values per head, and recomputes the scores in backward; Dao et al. 2022
/// §3.1), so the attention core's `5·a·s²·b` bytes are not held, as with
/// selective recomputation.
#[must_use]
pub fn activation_bytes_per_layer_with(spec: &ModelSpec, plan: &Plan, seq_len: u64, sp_ag_redo: bool, fused_attention: bool) -> f64 {
    // context parallelism: each rank holds seq_len / cp tokens (its queries
    // still see every key: unfused scores are s/cp x s)
    let s = plan.local_seq(seq_len) as f64;
    let b = plan.micro_batch as f64;
    let mut x = activation_bytes_per_layer(spec, plan, s, seq_len as f64, b, fused_attention);
    if !sp_ag_redo && plan.sp && plan.tp > 1 && plan.recompute != Recompute::Full {
        let scale = activation_dtype_bytes(plan.dtype) / 2.0;
        x += 4.0 * s * b * spec.hidden as f64 * (1.0 - 1.0 / plan.tp as f64) * scale;
    }
    x
}

fn activation_bytes_per_layer(spec: &ModelSpec, plan: &Plan, s: f64, keys: f64, b: f64, fused_attention: bool) -> f64 {
    let h = spec.hidden as f64;
    let a = spec.heads as f64;
    let t = plan.tp as f64;
    let sbh = s * b * h;
    // the coefficients are bytes at 2 bytes/element (16-bit activations)
    let scale = activation_dtype_bytes(plan.dtype) / 2.0;
    if plan.recompute == Recompute::Full {
        let input = 2.0 * sbh * scale;
        return if plan.sp { input / t } else { input };
    }
    // dropout masks: one byte per element (Korthikanti §4.1), only where the
    // model trains with dropout (LLaMA-family models do not)
    let d = if spec.has_dropout() { 1.0 } else { 0.0 };
    let ffn = match &spec.moe {
        Some(m) => m.expert_ffn_hidden as f64 * f64::from(m.top_k + m.shared_experts),
        None => spec.ffn_hidden as f64,
    };
    let mlp = 2.0 + ffn / h * if spec.activation.ffn_matrices() > 2.0 { 6.0 } else { 4.0 } + d;
    // attention block (Korthikanti §4.1: QKV input 2, Q 2, K 2, V 2, output
    // projection input 2, dropout mask 1 = 11·sbh), each tensor at its own
    // width relative to h: Q and the output projection's input heads·head_dim,
    // K and V kv_heads·head_dim (grouped-query attention); a TP rank holds at
    // least one KV head, so with kv_heads < t the KV heads are replicated
    // (Megatron-LM). MLA (DeepSeek-V2/V3): Q and K at heads·(nope + rope),
    // V and the output input at heads·v_head_dim, plus the two latents that
    // feed the up-projections (q_lora_rank, kv_lora_rank + rope).
    let attn = if let Some(m) = &spec.mla {
        let qk = a * (m.qk_nope_head_dim + m.qk_rope_head_dim) as f64 / h;
        let v = a * m.v_head_dim as f64 / h;
        let latents = (m.q_lora_rank.unwrap_or(0) + m.kv_lora_rank + m.qk_rope_head_dim) as f64 / h;
        2.0 + 2.0 * qk + 2.0 * qk + 2.0 * v + 2.0 * v + 2.0 * latents + d
    } else {
        let q = a * spec.head_dim() as f64 / h;
        let kv_heads = spec.kv_heads() as f64;
        let kv = kv_heads.max(t.min(a)) * spec.head_dim() as f64 / h;
        2.0 + 2.0 * q + 4.0 * kv + 2.0 * q + d
    };
    // softmax output 2·as²b, plus with dropout its mask as²b and output 2·as²b
    let attn_core = if plan.recompute == Recompute::Selective || fused_attention { 0.0 } else { (2.0 + 3.0 * d) * a * s * keys * b };
    // parts replicated across TP ranks without SP: layernorm inputs (4sbh),
    // the QKV and MLP inputs (4sbh) and the two dropout masks (Korthikanti
    // Table 2: 10sbh)
    let replicated = (8.0 + 2.0 * d) * sbh;
    let shardable = (attn + mlp + 4.0) * sbh - replicated + attn_core;
    (if plan.sp { (replicated + shardable) / t } else { replicated + shardable / t }) * scale
}

/// Memory per device of the most loaded device (Megatron-LM defaults: no
/// offload, SP all-gather redone in backward).
#[must_use]
pub fn per_device(spec: &ModelSpec, plan: &Plan, seq_len: u64, fine_tune: FineTune, capacity: Bytes) -> MemoryBreakdown {
    per_device_with(spec, plan, seq_len, fine_tune, capacity, Offload::default(), true, Bytes::new(0.0), false)
}

/// Memory per device with offloading and the SP all-gather redo choice;
/// `host_capacity` is the GPU's share of host memory.
#[must_use]
pub fn per_device_with(
    spec: &ModelSpec,
    plan: &Plan,
    seq_len: u64,
    fine_tune: FineTune,
    capacity: Bytes,
    offload: Offload,
    sp_ag_redo: bool,
    host_capacity: Bytes,
    fused_attention: bool,
) -> MemoryBreakdown {
    let params = params_on_device(spec, plan);
    // ZeRO shards over the data x context ranks (the weights are replicated
    // across context-parallel ranks)
    let dp = (plan.dp * plan.cp) as f64;
    let (w_b, g_b, o_b) = if plan.dtype.is_mixed_precision() {
        (plan.dtype.bytes().max(2.0), MAIN_GRAD_BYTES, 12.0)
    } else {
        (plan.dtype.bytes(), plan.dtype.bytes(), 2.0 * plan.dtype.bytes())
    };
    let trainable = match fine_tune {
        FineTune::Full => params,
        FineTune::Lora { rank } => lora_params(spec, rank) / (plan.pp * plan.tp) as f64,
    };
    let shard = |stage: u8| if plan.zero >= stage { dp } else { 1.0 };
    // expert states shard over the expert-data-parallel group only
    let expert = expert_params_on_device(spec, plan).min(params);
    let dp_expert = (dp / plan.ep.max(1) as f64).max(1.0);
    let shard_e = |stage: u8| if plan.zero >= stage { dp_expert } else { 1.0 };
    let (dense, dense_trainable) = (params - expert, (trainable - if matches!(fine_tune, FineTune::Full) { expert } else { 0.0 }).max(0.0));
    let expert_trainable = if matches!(fine_tune, FineTune::Full) { expert } else { 0.0 };
    let weights = dense * w_b / shard(3) + expert * w_b / shard_e(3);
    let grads = dense_trainable * g_b / shard(2) + expert_trainable * g_b / shard_e(2);
    let optim = dense_trainable * o_b / shard(1) + expert_trainable * o_b / shard_e(1);
    let s = plan.local_seq(seq_len) as f64;
    let b = plan.micro_batch as f64;
    let layers = spec.total_layers() as f64;
    let p = plan.pp as f64;
    let v = plan.interleave as f64;
    // interleaving keeps (p−1)/(p·v) more of the first stage's activations
    // (Korthikanti 2022 §4.2.3); plain 1F1B holds exactly L layers' worth
    // (Figure 1: 1T on PP 64 without interleaving = 128 x 21·sbh)
    let in_flight = if plan.pp > 1 && plan.interleave > 1 { 1.0 + (p - 1.0) / (p * v) } else { 1.0 };
    let per_layer = activation_bytes_per_layer_with(spec, plan, seq_len, sp_ag_redo, fused_attention);
    // no pipeline: one micro-batch's activations of all layers
    let mut act = per_layer * layers * if plan.pp > 1 { in_flight } else { 1.0 };
    let mut host = 0.0;
    if offload.activations {
        let resident = (per_layer * OFFLOAD_RESIDENT_BLOCKS).min(act);
        host += act;
        act = resident;
    }
    // embedding dropout output and, on a single stage, the logits (fp32
    // softmax input): Korthikanti 2022 §4.3.
    act += s * b * spec.hidden as f64 * p / plan.tp as f64;
    if plan.pp == 1 {
        act += 4.0 * s * b * spec.vocab as f64 / plan.tp as f64;
    }
    let gib = |x: f64| Bytes::new(x).gib();
    let emb_share = (spec.params().embedding / plan.tp as f64 / params.max(1.0)).min(1.0);
    // offloaded block tensors: the device keeps two blocks' worth
    let stage_layers = (spec.total_layers().max(1) as f64 / plan.pp as f64).ceil();
    let resident = (OFFLOAD_RESIDENT_BLOCKS / stage_layers).min(1.0);
    let mut off = |x: f64, on: bool| -> f64 {
        if !on {
            return x;
        }
        let body = x * (1.0 - emb_share);
        host += body;
        x - body + body * resident
    };
    let weights = off(weights, offload.weights);
    let optim = off(optim, offload.optimizer);
    let trainable_share = if trainable > 0.0 { emb_share.min(1.0) } else { 0.0 };
    let embedding_states = gib(weights) * emb_share + (gib(grads) + gib(optim)) * if matches!(fine_tune, FineTune::Full) { trainable_share } else { 0.0 };
    let reserve = FRAMEWORK_RESERVE_GIB;
    let total = gib(weights) + gib(grads) + gib(optim) + gib(act) + reserve;
    let host_fits = host == 0.0 || host <= host_capacity.value();
    MemoryBreakdown {
        weights_gib: gib(weights),
        gradients_gib: gib(grads),
        embedding_states_gib: embedding_states,
        optimizer_gib: gib(optim),
        activations_gib: gib(act),
        reserve_gib: reserve,
        total_gib: total,
        capacity_gib: capacity.gib(),
        host_gib: gib(host),
        host_capacity_gib: host_capacity.gib(),
        fits: total <= capacity.gib() && host_fits,
    }
}

/// Bytes per element the plan stores activations in.
#[must_use]
pub fn activation_dtype_bytes(d: Dtype) -> f64 {
    d.bytes().max(2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::Dtype;
    use crate::flops::Recompute;

    /// Expert weights are replicated over only DP·CP / EP ranks, so ZeRO-1
    /// shards their optimizer states that many ways, not DP·CP.
    #[test]
    fn expert_states_shard_over_the_expert_data_parallel_group_only() {
        let spec = crate::catalog::model("mixtral-8x7b").unwrap();
        let plan = |ep: u64, dp: u64, cp: u64| Plan {
            tp: 1,
            cp,
            pp: 1,
            dp,
            interleave: 1,
            sp: false,
            ep,
            zero: 1,
            recompute: Recompute::Full,
            micro_batch: 1,
            global_batch: dp,
            dtype: Dtype::Bf16,
        };
        let cap = Bytes::from_gib(80.0);
        let optim = |p: &Plan| per_device(&spec, p, 4096, FineTune::Full, cap).optimizer_gib;
        // EP 8 over DP 1 x CP 8: one replica of each expert, nothing to shard
        let p = plan(8, 1, 8);
        let expert = expert_params_on_device(&spec, &p);
        assert!(expert > 0.5 * params_on_device(&spec, &p));
        let dense = params_on_device(&spec, &p) - expert;
        let want = (expert * 12.0 + dense * 12.0 / 8.0) / 1024f64.powi(3);
        assert!((optim(&p) - want).abs() / want < 1e-9, "{} vs {want}", optim(&p));
        // EP 8 over DP 64: the expert states shard 8 ways
        let q = plan(8, 64, 1);
        let want = (expert * 12.0 / 8.0 + dense * 12.0 / 64.0) / 1024f64.powi(3);
        assert!((optim(&q) - want).abs() / want < 1e-9);
    }

    /// Korthikanti's 34·sbh per layer (TP + SP, FlashAttention, no
    /// recomputation: divided by t) holds for a GPT-3-style model (MHA,
    /// dropout unknown); LLaMA 3.1 405B (GQA 8 of 128 heads, SwiGLU of
    /// width 3.25h, no dropout) stores 2 + 2 + 4/16 + 2 (attention) +
    /// 2 + 6·3.25 (MLP) + 4 (norms) = 31.75·sbh, and with dropout it would
    /// store 2 more (the two masks).
    #[test]
    fn activation_count_follows_dropout_and_grouped_query_attention() {
        let plan = Plan {
            tp: 8,
            cp: 1,
            pp: 16,
            dp: 64,
            interleave: 1,
            sp: true,
            ep: 1,
            zero: 1,
            recompute: Recompute::None,
            micro_batch: 1,
            global_batch: 64,
            dtype: Dtype::Bf16,
        };
        let per_sbh = |spec: &ModelSpec, s: u64| activation_bytes_per_layer_with(spec, &plan, s, true, true) / (s as f64 * spec.hidden as f64 / 8.0);
        let gpt = crate::catalog::model("gpt3-175b").unwrap();
        assert!(gpt.dropout.is_none() && gpt.has_dropout());
        assert!((per_sbh(&gpt, 2048) - 34.0).abs() < 1e-9, "{}", per_sbh(&gpt, 2048));
        let mut llama = crate::catalog::model("llama3.1-405b").unwrap();
        assert_eq!(llama.dropout, Some(0.0));
        assert!((per_sbh(&llama, 8192) - 31.75).abs() < 1e-9, "{}", per_sbh(&llama, 8192));
        llama.dropout = Some(0.1);
        assert!((per_sbh(&llama, 8192) - 33.75).abs() < 1e-9, "{}", per_sbh(&llama, 8192));
        // a KV head per TP rank at least: MQA on TP 8 stores what 8 KV heads do
        let mut mqa = llama.clone();
        mqa.kv_heads = Some(1);
        assert!((per_sbh(&mqa, 8192) - per_sbh(&llama, 8192)).abs() < 1e-9);
        // Q and the projection input at their own width: head_dim doubled
        // makes Q, K, V and the projection input 2h wide, 2 + 4 + 8 + 4 + 1
        let mut wide = gpt.clone();
        wide.head_dim = Some(2 * gpt.hidden / gpt.heads);
        assert!((per_sbh(&wide, 2048) - (34.0 + 8.0)).abs() < 1e-9, "{}", per_sbh(&wide, 2048));
        // unfused attention without dropout keeps the softmax output only:
        // 2·a·s²·b instead of 5·a·s²·b
        llama.dropout = Some(0.0);
        let unfused = activation_bytes_per_layer_with(&llama, &plan, 8192, true, false) - activation_bytes_per_layer_with(&llama, &plan, 8192, true, true);
        let want = 2.0 * 128.0 * 8192f64.powi(2) / 8.0;
        assert!((unfused - want).abs() / want < 1e-12, "{unfused} vs {want}");
    }
}
