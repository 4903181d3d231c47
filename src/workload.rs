//! One training iteration as a list of operations per pipeline stage and
//! micro-batch: GEMMs with their shapes, memory-bound kernels with their
//! bytes, and collectives with their sizes and groups.
//!
//! The op list follows Megatron-LM's GPT block as described by Shoeybi et
//! al. 2019 (tensor parallelism: column- then row-parallel linears with one
//! all-reduce per sub-block in each direction), Korthikanti et al. 2022
//! (sequence parallelism: all-gather before and reduce-scatter after each
//! sub-block; selective recomputation of the attention core; full
//! recomputation of the whole block), Narayanan et al. 2021 (1F1B and
//! interleaved pipeline schedules, scatter/gather of the p2p activations
//! over TP ranks), and Rajbhandari et al. 2020 (ZeRO stages 1–3 data-parallel
//! collectives). MoE layers follow Lepikhin et al. 2021 (GShard) /
//! Fedus et al. 2022: a router GEMM, an all-to-all dispatch and combine
//! across the expert-parallel group, and per-expert GEMMs over the routed
//! tokens (balanced routing assumed).
//!
//! Sizes are per device. A block's ops are listed once and weighted by the
//! number of such blocks on the most loaded stage, so building a workload
//! costs O(ops per block), independent of depth.

use crate::catalog::ModelSpec;
use crate::dtype::Dtype;
use crate::flops::Recompute;
use crate::plan::Plan;
use crate::units::Bytes;

/// A collective pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collective {
    AllReduce,
    ReduceScatter,
    AllGather,
    AllToAll,
    /// Point-to-point send/receive (pipeline neighbours).
    P2p,
}

/// The process group a collective runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Tensor,
    Pipeline,
    Data,
    Expert,
}

/// How a collective relates to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommRole {
    /// On the critical path (Megatron-LM 2022 TP collectives, PP p2p).
    Exposed,
    /// Can hide behind the surrounding compute of the same phase.
    Overlappable,
}

/// One operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `batch` independent `m x k` by `k x n` products.
    Gemm { name: &'static str, m: u64, n: u64, k: u64, batch: u64 },
    /// A bandwidth-bound kernel moving `bytes` through device memory.
    Mem { name: &'static str, bytes: Bytes },
    /// A collective of `bytes` (the full logical buffer per rank, e.g. the
    /// all-reduced tensor, or the gathered output of an all-gather).
    Comm { name: &'static str, coll: Collective, group: Group, bytes: Bytes, role: CommRole },
}

impl Op {
    /// FLOPs of a GEMM op (0 for others).
    #[must_use]
    pub fn flops(&self) -> f64 {
        match *self {
            Op::Gemm { m, n, k, batch, .. } => 2.0 * (m * n) as f64 * k as f64 * batch as f64,
            _ => 0.0,
        }
    }
}

/// The ops of one kind of transformer block, per micro-batch.
#[derive(Debug, Clone, Default)]
pub struct BlockOps {
    /// How many blocks of this kind the most loaded stage holds (fractional
    /// when MoE layers do not split evenly across stages).
    pub per_stage: f64,
    pub forward: Vec<Op>,
    pub backward: Vec<Op>,
    /// Extra forward work re-run before the backward pass.
    pub recompute: Vec<Op>,
}

/// Per-device byte sizes that offloading to host memory moves (transformer
/// blocks only; the embedding and head stay resident).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OffloadSizes {
    /// One block's weights as held per device (after ZeRO-3 sharding).
    pub block_weights: f64,
    /// One block's stored activations for one micro-batch (SP all-gather
    /// redone; the checkpoint only under full recomputation).
    pub block_activations: f64,
    /// Extra stored bytes per block and micro-batch without the SP
    /// all-gather redo.
    pub block_gathered_extra: f64,
    /// All block weights on the device.
    pub weights: f64,
    /// All block optimizer states on the device (after ZeRO-1 sharding).
    pub optimizer: f64,
}

/// One training iteration on the most loaded pipeline stage.
#[derive(Debug, Clone)]
pub struct Workload {
    pub dtype: Dtype,
    pub blocks: Vec<BlockOps>,
    /// First stage extras (embedding) forward/backward, per micro-batch.
    pub embed_forward: Vec<Op>,
    pub embed_backward: Vec<Op>,
    /// Last stage extras (final norm, logits, loss) forward/backward.
    pub head_forward: Vec<Op>,
    pub head_backward: Vec<Op>,
    /// Pipeline sends/receives on the critical path per micro-batch
    /// (already multiplied by the interleave factor).
    pub p2p_per_microbatch: Vec<Op>,
    /// Data-parallel collectives per micro-batch (ZeRO-2/3), overlappable.
    pub dp_per_microbatch: Vec<Op>,
    /// Data-parallel collectives once per step (gradient reduction, ZeRO-1
    /// parameter gather), with the part that can overlap the last backward.
    pub dp_per_step: Vec<Op>,
    /// Optimizer kernels once per step.
    pub optimizer: Vec<Op>,
    /// What offloading would move.
    pub offload: OffloadSizes,
    pub microbatches: u64,
    pub pp: u64,
    pub interleave: u64,
    /// Group sizes, for the network model.
    pub tp: u64,
    pub dp: u64,
    pub ep: u64,
}

/// Name of the backward re-gather of the SP input for the weight gradient
/// (skipped by the simulator when the gathered input is stored instead).
pub const TP_AG_REDO: &str = "tp_ag_redo";

/// Bytes per parameter moved by one mixed-precision optimizer step in
/// Megatron-LM (fp32 master weights and fp32 `main_grad`): Adam reads
/// master, m, v, grad (16 B) and writes master, m, v (12 B); the
/// inf/NaN check and unscale read the grads (4 B), the gradient-norm clip
/// reads them again (4 B), the fp32→fp16 copy of the master weights reads 4
/// and writes 2 B, and zeroing `main_grad` writes 4 B: 46 B/param.
pub const OPTIMIZER_BYTES_PER_PARAM_MIXED: f64 = 46.0;
/// fp32 training: Adam 16 B read + 12 B write, norm clip 4 B, zero-grad 4 B.
pub const OPTIMIZER_BYTES_PER_PARAM_FP32: f64 = 36.0;

fn b(x: f64) -> Bytes {
    Bytes::new(x)
}

/// Parameters of the most loaded device (the quantity the optimizer and the
/// data-parallel collectives move), before ZeRO sharding.
#[must_use]
pub fn params_per_device(spec: &ModelSpec, plan: &Plan) -> f64 {
    crate::memory::params_on_device(spec, plan)
}

/// Builds one iteration's workload. The plan must have been validated.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn build(spec: &ModelSpec, plan: &Plan, seq_len: u64) -> Workload {
    // activations are stored in 16 bits under mixed precision (fp8 GEMMs
    // keep bf16 activations), else in the training dtype
    let e = crate::memory::activation_dtype_bytes(plan.dtype);
    let t = plan.tp;
    let tf = t as f64;
    let s = seq_len;
    let mb = plan.micro_batch;
    let tokens = s * mb;
    let tok = tokens as f64;
    let h = spec.hidden;
    let hf = h as f64;
    let a = spec.heads;
    let (d_qk, d_v) = match &spec.mla {
        Some(m) => (m.qk_nope_head_dim + m.qk_rope_head_dim, m.v_head_dim),
        None => (spec.head_dim(), spec.head_dim()),
    };
    let heads_local = (a / t).max(1);
    // Q, K, V (or MLA's low-rank) projection width per rank: all attention
    // weights but the output projection, consistent with `flops.rs`
    let qkv_width = (((spec.attn_matmul_params() - (a * d_v * h) as f64) / hf).round() as u64 / t).max(1);
    let sp = plan.sp;
    // elements of an [s, b, h] activation held per rank between sub-blocks
    let act_local = if sp { tok * hf / tf } else { tok * hf };
    let act_full = tok * hf;
    let gated = spec.activation.ffn_matrices() > 2.0;
    // LayerNorm and RMSNorm both read the input and write the output once
    let ln_passes = 2.0;

    // --- sub-block boundaries: TP collectives (Shoeybi 2019; Korthikanti 2022 §4.2.2)
    let enter = |v: &mut Vec<Op>, name| {
        if t > 1 && sp {
            v.push(Op::Comm { name, coll: Collective::AllGather, group: Group::Tensor, bytes: b(act_full * e), role: CommRole::Exposed });
        }
    };
    let leave = |v: &mut Vec<Op>, name| {
        if t > 1 {
            let coll = if sp { Collective::ReduceScatter } else { Collective::AllReduce };
            v.push(Op::Comm { name, coll, group: Group::Tensor, bytes: b(act_full * e), role: CommRole::Exposed });
        }
    };
    // backward of `leave` (AG with SP, identity without) and of `enter`
    // (RS with SP, AR without); with SP the gathered input is re-gathered
    // for the weight gradient (Korthikanti 2022 §4.2.2).
    let leave_bwd = |v: &mut Vec<Op>, name| {
        if t > 1 && sp {
            v.push(Op::Comm { name, coll: Collective::AllGather, group: Group::Tensor, bytes: b(act_full * e), role: CommRole::Exposed });
        }
    };
    let enter_bwd = |v: &mut Vec<Op>, name| {
        if t > 1 {
            if sp {
                v.push(Op::Comm { name: TP_AG_REDO, coll: Collective::AllGather, group: Group::Tensor, bytes: b(act_full * e), role: CommRole::Exposed });
            }
            let coll = if sp { Collective::ReduceScatter } else { Collective::AllReduce };
            v.push(Op::Comm { name, coll, group: Group::Tensor, bytes: b(act_full * e), role: CommRole::Exposed });
        }
    };
    let gemm_bwd = |v: &mut Vec<Op>, g: Op| {
        if let Op::Gemm { name, m, n, k, batch } = g {
            // dgrad: [m x n] x [n x k]; wgrad: [k x m] x [m x n]
            v.push(Op::Gemm { name, m, n: k, k: n, batch });
            v.push(Op::Gemm { name, m: k, n, k: m, batch });
        }
    };

    // --- attention sub-block
    let mut attn_pre = Vec::new(); // LN + gather (re-run by full recompute)
    attn_pre.push(Op::Mem { name: "layernorm", bytes: b(ln_passes * act_local * e) });
    enter(&mut attn_pre, "tp_ag_attn");
    let qkv = Op::Gemm { name: "qkv", m: tokens, n: qkv_width, k: h, batch: 1 };
    let bh = mb * heads_local;
    let score_elems = (bh * s * s) as f64;
    let core_fwd = vec![
        Op::Gemm { name: "attn_qk", m: s, n: s, k: d_qk, batch: bh },
        // fused scale + mask + softmax: read and write the scores
        Op::Mem { name: "softmax", bytes: b(2.0 * score_elems * e) },
        // dropout on probabilities: read, write, 1-byte mask
        Op::Mem { name: "attn_dropout", bytes: b(score_elems * (2.0 * e + 1.0)) },
        Op::Gemm { name: "attn_av", m: s, n: d_v, k: s, batch: bh },
    ];
    let out = Op::Gemm { name: "attn_out", m: tokens, n: h, k: heads_local * d_v, batch: 1 };
    // bias + dropout + residual add: read 2, write 1, 1-byte mask
    let bda = Op::Mem { name: "bias_dropout_add", bytes: b(act_local * (3.0 * e + 1.0)) };

    let mut attn_fwd = attn_pre.clone();
    attn_fwd.push(qkv);
    attn_fwd.extend(core_fwd.iter().copied());
    attn_fwd.push(out);
    leave(&mut attn_fwd, "tp_rs_attn");
    attn_fwd.push(bda);

    let mut attn_bwd = Vec::new();
    attn_bwd.push(Op::Mem { name: "bias_dropout_add_bwd", bytes: b(act_local * (2.0 * e + 1.0)) });
    leave_bwd(&mut attn_bwd, "tp_ag_attn_bwd");
    gemm_bwd(&mut attn_bwd, out);
    for op in core_fwd.iter().rev() {
        match *op {
            Op::Gemm { .. } => gemm_bwd(&mut attn_bwd, *op),
            Op::Mem { name: "softmax", .. } => attn_bwd.push(Op::Mem { name: "softmax_bwd", bytes: b(3.0 * score_elems * e) }),
            Op::Mem { .. } => attn_bwd.push(Op::Mem { name: "attn_dropout_bwd", bytes: b(score_elems * (2.0 * e + 1.0)) }),
            Op::Comm { .. } => {}
        }
    }
    gemm_bwd(&mut attn_bwd, qkv);
    enter_bwd(&mut attn_bwd, "tp_rs_attn_bwd");
    attn_bwd.push(Op::Mem { name: "layernorm_bwd", bytes: b(3.0 * act_local * e) });

    // --- FFN sub-block (dense, or MoE)
    let ffn_block = |moe: bool| -> (Vec<Op>, Vec<Op>, Vec<Op>) {
        let mut pre = vec![Op::Mem { name: "layernorm", bytes: b(ln_passes * act_local * e) }];
        enter(&mut pre, "tp_ag_mlp");
        let mut fwd = pre.clone();
        let mut bwd = Vec::new();
        let mut gemms: Vec<Op> = Vec::new();
        let mut acts = 0.0; // elements through the activation function
        let mut a2a = Vec::new();
        let ep = plan.ep;
        match (&spec.moe, moe) {
            (Some(m), true) => {
                let fe = m.expert_ffn_hidden;
                let router = Op::Gemm { name: "router", m: tokens, n: u64::from(m.experts), k: h, batch: 1 };
                fwd.push(router);
                gemms.push(router);
                let routed = tok * f64::from(m.top_k);
                if ep > 1 {
                    // dispatch and combine all-to-alls of the routed tokens
                    let bytes = b(routed * hf * e / if sp { tf } else { 1.0 });
                    a2a.push(Op::Comm { name: "ep_all_to_all", coll: Collective::AllToAll, group: Group::Expert, bytes, role: CommRole::Exposed });
                }
                let local_experts = (u64::from(m.experts) / ep).max(1);
                // balanced routing: each local expert gets routed·ep/E tokens
                let per_expert = ((routed * ep as f64 / f64::from(m.experts)).ceil() as u64).max(1);
                let up_n = if gated { 2 * fe / t } else { fe / t }.max(1);
                gemms.push(Op::Gemm { name: "expert_up", m: per_expert, n: up_n, k: h, batch: local_experts });
                gemms.push(Op::Gemm { name: "expert_down", m: per_expert, n: h, k: (fe / t).max(1), batch: local_experts });
                acts += (per_expert * local_experts) as f64 * (fe / t).max(1) as f64;
                if m.shared_experts > 0 {
                    let fs = fe * u64::from(m.shared_experts);
                    gemms.push(Op::Gemm { name: "shared_up", m: tokens, n: if gated { 2 * fs / t } else { fs / t }.max(1), k: h, batch: 1 });
                    gemms.push(Op::Gemm { name: "shared_down", m: tokens, n: h, k: (fs / t).max(1), batch: 1 });
                    acts += tok * (fs / t).max(1) as f64;
                }
                fwd.extend(a2a.iter().copied());
                fwd.extend(gemms[1..].iter().copied());
                fwd.extend(a2a.iter().copied());
            }
            _ => {
                let f = spec.ffn_hidden;
                let up = Op::Gemm { name: "ffn_up", m: tokens, n: if gated { 2 * f / t } else { f / t }.max(1), k: h, batch: 1 };
                let down = Op::Gemm { name: "ffn_down", m: tokens, n: h, k: (f / t).max(1), batch: 1 };
                gemms.push(up);
                gemms.push(down);
                acts += tok * (f / t).max(1) as f64;
                fwd.push(up);
                fwd.push(down);
            }
        }
        // activation function (+ GLU product): read input(s), write output
        let act_bytes = acts * e * if gated { 3.0 } else { 2.0 };
        fwd.insert(fwd.len() - 1, Op::Mem { name: "activation", bytes: b(act_bytes) });
        leave(&mut fwd, "tp_rs_mlp");
        fwd.push(bda);
        bwd.push(Op::Mem { name: "bias_dropout_add_bwd", bytes: b(act_local * (2.0 * e + 1.0)) });
        leave_bwd(&mut bwd, "tp_ag_mlp_bwd");
        bwd.extend(a2a.iter().copied());
        for g in gemms.iter().rev() {
            gemm_bwd(&mut bwd, *g);
        }
        bwd.push(Op::Mem { name: "activation_bwd", bytes: b(act_bytes * 1.5) });
        bwd.extend(a2a.iter().copied());
        enter_bwd(&mut bwd, "tp_rs_mlp_bwd");
        bwd.push(Op::Mem { name: "layernorm_bwd", bytes: b(3.0 * act_local * e) });
        (fwd, bwd, pre)
    };

    let recompute_of = |attn_fwd: &Vec<Op>, ffn_fwd: &Vec<Op>| -> Vec<Op> {
        match plan.recompute {
            Recompute::None => Vec::new(),
            // the attention core only: QKᵀ, softmax, dropout, ·V
            Recompute::Selective => core_fwd.clone(),
            // the whole block forward again
            Recompute::Full => attn_fwd.iter().chain(ffn_fwd.iter()).copied().collect(),
        }
    };

    let layers = spec.total_layers().max(1);
    let stage_layers = layers.div_ceil(plan.pp) as f64;
    let moe_layers = spec.moe_layers();
    let mut blocks = Vec::new();
    let kinds: Vec<(bool, f64)> = if moe_layers == 0 {
        vec![(false, stage_layers)]
    } else {
        let frac = moe_layers as f64 / layers as f64;
        vec![(true, stage_layers * frac), (false, stage_layers * (1.0 - frac))]
    };
    for (moe, n) in kinds {
        if n <= 0.0 {
            continue;
        }
        let (ffn_fwd, ffn_bwd, _) = ffn_block(moe);
        let mut fwd = attn_fwd.clone();
        fwd.extend(ffn_fwd.iter().copied());
        let mut bwd = ffn_bwd;
        bwd.extend(attn_bwd.iter().copied());
        let recompute = recompute_of(&attn_fwd, &ffn_fwd);
        blocks.push(BlockOps { per_stage: n, forward: fwd, backward: bwd, recompute });
    }

    // --- embedding (first stage): vocab-parallel lookup, then all-reduce
    // (reduce-scatter with SP) across TP ranks; add positions; dropout.
    let mut embed_forward = vec![Op::Mem { name: "embedding", bytes: b(act_full * e * 2.0 + act_local * (3.0 * e + 1.0)) }];
    leave(&mut embed_forward, "tp_embedding");
    let embed_backward = vec![Op::Mem { name: "embedding_bwd", bytes: b(act_full * (e + 4.0) + act_local * (2.0 * e + 1.0)) }];

    // --- head (last stage): final norm, gather, logits GEMM, vocab-parallel
    // cross-entropy in fp32 (Megatron's VocabParallelCrossEntropy)
    let v_local = spec.vocab.div_ceil(t);
    let logit_elems = tok * v_local as f64;
    let mut head_forward = vec![Op::Mem { name: "final_layernorm", bytes: b(ln_passes * act_local * e) }];
    enter(&mut head_forward, "tp_ag_head");
    let logits = Op::Gemm { name: "logits", m: tokens, n: v_local, k: h, batch: 1 };
    head_forward.push(logits);
    // read logits, fp32 max/exp/sum passes and write of the softmax
    head_forward.push(Op::Mem { name: "cross_entropy", bytes: b(logit_elems * (e + 4.0 + 4.0)) });
    let mut head_backward = vec![Op::Mem { name: "cross_entropy_bwd", bytes: b(logit_elems * (4.0 + e)) }];
    gemm_bwd(&mut head_backward, logits);
    enter_bwd(&mut head_backward, "tp_head_bwd");
    head_backward.push(Op::Mem { name: "final_layernorm_bwd", bytes: b(3.0 * act_local * e) });

    // --- pipeline p2p: activations forward, gradients backward, v times per
    // micro-batch with interleaving; scatter/gather over TP ranks
    // (Narayanan 2021 §4.1) sends 1/t of the tensor per rank.
    let mut p2p_per_microbatch = Vec::new();
    if plan.pp > 1 {
        let bytes = b(act_full * e / tf);
        for _ in 0..(2 * plan.interleave) {
            p2p_per_microbatch.push(Op::Comm { name: "pp_p2p", coll: Collective::P2p, group: Group::Pipeline, bytes, role: CommRole::Exposed });
        }
        if t > 1 && !sp {
            // all-gather back the scattered tensor inside the TP group
            for _ in 0..(2 * plan.interleave) {
                p2p_per_microbatch.push(Op::Comm { name: "pp_gather", coll: Collective::AllGather, group: Group::Tensor, bytes: b(act_full * e), role: CommRole::Exposed });
            }
        }
    }

    // --- data parallelism and the optimizer (Rajbhandari 2020 §5, §7)
    let params = params_per_device(spec, plan);
    let dp = plan.dp;
    let grad_bytes = params * e;
    let mut dp_per_microbatch = Vec::new();
    let mut dp_per_step = Vec::new();
    if dp > 1 {
        match plan.zero {
            0 => dp_per_step.push(Op::Comm { name: "dp_grad_allreduce", coll: Collective::AllReduce, group: Group::Data, bytes: b(grad_bytes), role: CommRole::Overlappable }),
            1 => {
                dp_per_step.push(Op::Comm { name: "dp_grad_reduce_scatter", coll: Collective::ReduceScatter, group: Group::Data, bytes: b(grad_bytes), role: CommRole::Overlappable });
                dp_per_step.push(Op::Comm { name: "dp_param_all_gather", coll: Collective::AllGather, group: Group::Data, bytes: b(params * e), role: CommRole::Exposed });
            }
            2 => {
                // gradients are reduce-scattered every micro-batch
                dp_per_microbatch.push(Op::Comm { name: "dp_grad_reduce_scatter", coll: Collective::ReduceScatter, group: Group::Data, bytes: b(grad_bytes), role: CommRole::Overlappable });
                dp_per_step.push(Op::Comm { name: "dp_param_all_gather", coll: Collective::AllGather, group: Group::Data, bytes: b(params * e), role: CommRole::Exposed });
            }
            _ => {
                // parameters gathered for forward and for backward, gradients
                // reduce-scattered: 1.5x ZeRO-0 volume per micro-batch
                for name in ["dp_param_all_gather_fwd", "dp_param_all_gather_bwd"] {
                    dp_per_microbatch.push(Op::Comm { name, coll: Collective::AllGather, group: Group::Data, bytes: b(params * e), role: CommRole::Overlappable });
                }
                dp_per_microbatch.push(Op::Comm { name: "dp_grad_reduce_scatter", coll: Collective::ReduceScatter, group: Group::Data, bytes: b(grad_bytes), role: CommRole::Overlappable });
            }
        }
    }
    let opt_params = if plan.zero >= 1 { params / dp as f64 } else { params };
    let per_param = if plan.dtype.is_mixed_precision() { OPTIMIZER_BYTES_PER_PARAM_MIXED } else { OPTIMIZER_BYTES_PER_PARAM_FP32 };
    let optimizer = vec![Op::Mem { name: "adam_step", bytes: b(opt_params * per_param) }];

    // --- what offloading moves (memory.rs holds the same quantities)
    let body_params = (params - spec.params().embedding / tf).max(0.0);
    let (w_bytes, o_bytes) = if plan.dtype.is_mixed_precision() { (e, 12.0) } else { (plan.dtype.bytes(), 2.0 * plan.dtype.bytes()) };
    let weights_dev = body_params * w_bytes / if plan.zero >= 3 { dp as f64 } else { 1.0 };
    let optimizer_dev = body_params * o_bytes / if plan.zero >= 1 { dp as f64 } else { 1.0 };
    let act_redo = crate::memory::activation_bytes_per_layer_with(spec, plan, seq_len, true);
    let offload = OffloadSizes {
        block_weights: weights_dev / stage_layers,
        block_activations: act_redo,
        block_gathered_extra: crate::memory::activation_bytes_per_layer_with(spec, plan, seq_len, false) - act_redo,
        weights: weights_dev,
        optimizer: optimizer_dev,
    };

    Workload {
        dtype: plan.dtype,
        blocks,
        embed_forward,
        embed_backward,
        head_forward,
        head_backward,
        p2p_per_microbatch,
        dp_per_microbatch,
        dp_per_step,
        optimizer,
        offload,
        microbatches: plan.micro_batches(),
        pp: plan.pp,
        interleave: plan.interleave,
        tp: plan.tp,
        dp: plan.dp,
        ep: plan.ep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use crate::flops::{training_per_token, FineTune};

    fn plan(tp: u64, pp: u64, dp: u64, sp: bool, rc: Recompute) -> Plan {
        Plan { tp, pp, dp, interleave: 1, sp, ep: 1, zero: 0, recompute: rc, micro_batch: 1, global_batch: 8 * dp, dtype: Dtype::Fp16 }
    }

    fn flops_of(ops: &[Op]) -> f64 {
        ops.iter().map(Op::flops).sum()
    }

    /// The GEMMs of the workload reproduce the closed-form FLOP model
    /// (Korthikanti 2022 eq. 7 via `flops.rs`) on one device.
    #[test]
    fn gemm_flops_match_the_flop_model() {
        let m = catalog::model("megatron-22b").unwrap();
        for rc in [Recompute::None, Recompute::Selective, Recompute::Full] {
            let p = plan(1, 1, 1, false, rc);
            let w = build(&m, &p, 2048);
            let blk = &w.blocks[0];
            let per_mb = blk.per_stage * (flops_of(&blk.forward) + flops_of(&blk.backward) + flops_of(&blk.recompute))
                + flops_of(&w.head_forward) + flops_of(&w.head_backward);
            let tf = training_per_token(&m, 2048, rc, FineTune::Full);
            let want = tf.hardware.value() * 2048.0;
            assert!((per_mb - want).abs() / want < 1e-9, "{rc}: {per_mb:e} vs {want:e}");
        }
    }

    #[test]
    fn tensor_parallel_divides_gemm_flops() {
        let m = catalog::model("megatron-175b").unwrap();
        let one = build(&m, &plan(1, 1, 1, false, Recompute::None), 2048);
        let eight = build(&m, &plan(8, 1, 1, true, Recompute::None), 2048);
        let f1 = flops_of(&one.blocks[0].forward);
        let f8 = flops_of(&eight.blocks[0].forward);
        assert!((f1 / f8 - 8.0).abs() < 1e-9);
        let comms = |ops: &[Op]| ops.iter().filter(|o| matches!(o, Op::Comm { .. })).count();
        // SP: 2 all-gathers + 2 reduce-scatters forward; backward adds the re-gathers
        assert_eq!(comms(&eight.blocks[0].forward), 4);
        assert_eq!(comms(&eight.blocks[0].backward), 6);
        assert_eq!(comms(&one.blocks[0].forward), 0);
    }

    #[test]
    fn moe_workload_has_all_to_all() {
        let m = catalog::model("mixtral-8x7b").unwrap();
        let mut p = plan(1, 1, 8, false, Recompute::None);
        p.ep = 8;
        let w = build(&m, &p, 4096);
        assert!(w.blocks[0].forward.iter().any(|o| matches!(o, Op::Comm { coll: Collective::AllToAll, .. })));
    }
}
