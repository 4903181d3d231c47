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
use crate::parallel::Plan;
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
    /// Data-parallel collectives run over the data x context ranks (the
    /// weights are replicated across context-parallel ranks).
    Data,
    Expert,
    /// Context-parallel ring (keys and values of the other sequence chunks).
    Context,
}

/// How a collective relates to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommRole {
    /// On the critical path (Megatron-LM 2022 TP collectives, PP p2p).
    Exposed,
    /// Can hide behind the surrounding compute of the same phase.
    Overlappable,
}

/// What an op is: the builders and the simulator dispatch on this, never
/// on names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    // GEMMs
    Qkv,
    AttnQk,
    AttnAv,
    AttnOut,
    FfnUp,
    FfnDown,
    Router,
    ExpertUp,
    ExpertDown,
    SharedUp,
    SharedDown,
    Logits,
    // memory-bound kernels
    LayerNorm,
    LayerNormBwd,
    Softmax,
    SoftmaxBwd,
    AttnDropout,
    AttnDropoutBwd,
    BiasDropoutAdd,
    BiasDropoutAddBwd,
    Activation,
    ActivationBwd,
    Embedding,
    EmbeddingBwd,
    FinalLayerNorm,
    FinalLayerNormBwd,
    CrossEntropy,
    CrossEntropyBwd,
    AdamStep,
    /// FP8 training (Transformer Engine): cast of a linear layer's input
    /// (forward) or output gradient (backward) to FP8 with its amax.
    Fp8Cast,
    /// FP8 training: the once-per-step cast of the weights to FP8 (TE
    /// caches them across micro-batches).
    Fp8WeightCast,
    // collectives
    /// SP all-gather entering a sub-block (forward).
    TpGatherIn,
    /// Reduce-scatter (SP) or all-reduce leaving a sub-block (forward).
    TpReduceOut,
    /// Backward of `TpReduceOut` with SP: all-gather of the gradient.
    TpGatherBwd,
    /// Backward of `TpGatherIn`: reduce-scatter (SP) or all-reduce.
    TpReduceBwd,
    /// The backward re-gather of the SP input for the weight gradient
    /// (skipped by the simulator when the gathered input is stored).
    TpAgRedo,
    /// Embedding output across TP ranks.
    TpEmbedding,
    EpAllToAll,
    PpP2p,
    PpGather,
    DpGradAllReduce,
    DpGradReduceScatter,
    DpParamAllGather,
    DpParamAllGatherFwd,
    DpParamAllGatherBwd,
    /// Context parallelism: keys and values of the other chunks (forward,
    /// and again in backward), and their gradients back to their owners.
    CpKvGather,
    CpKvGradReduceScatter,
}

/// Why a workload cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    #[error("{what} = {detail} overflows: the configuration is too large to simulate; use a smaller --seq-len or --micro-batch")]
    Overflow { what: &'static str, detail: String },
}

/// One operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `batch` independent `m x k` by `k x n` products.
    Gemm { kind: OpKind, m: u64, n: u64, k: u64, batch: u64 },
    /// A bandwidth-bound kernel moving `bytes` through device memory.
    Mem { kind: OpKind, bytes: Bytes },
    /// A collective of `bytes` (the full logical buffer per rank, e.g. the
    /// all-reduced tensor, or the gathered output of an all-gather).
    Comm { kind: OpKind, coll: Collective, group: Group, bytes: Bytes, role: CommRole },
}

impl Op {
    /// FLOPs of a GEMM op (0 for others), in f64 so no product wraps.
    #[must_use]
    pub fn flops(&self) -> f64 {
        match *self {
            Op::Gemm { m, n, k, batch, .. } => 2.0 * m as f64 * n as f64 * k as f64 * batch as f64,
            _ => 0.0,
        }
    }
    #[must_use]
    pub fn kind(&self) -> OpKind {
        match *self {
            Op::Gemm { kind, .. } | Op::Mem { kind, .. } | Op::Comm { kind, .. } => kind,
        }
    }
}

impl OpKind {
    /// Whether Transformer-Engine FP8 training runs this GEMM in FP8: the
    /// transformer blocks' linear layers. Attention's batched GEMMs (TE's
    /// fused attention stays BF16 unless `fp8_dpa`), the router and the
    /// output layer (Megatron's non-TE `ColumnParallelLinear`) stay 16-bit.
    #[must_use]
    pub fn fp8_gemm(self) -> bool {
        matches!(
            self,
            OpKind::Qkv | OpKind::AttnOut | OpKind::FfnUp | OpKind::FfnDown | OpKind::ExpertUp | OpKind::ExpertDown | OpKind::SharedUp | OpKind::SharedDown
        )
    }

    /// The fused attention core (FlashAttention): its GEMMs.
    #[must_use]
    pub fn attention_gemm(self) -> bool {
        matches!(self, OpKind::AttnQk | OpKind::AttnAv)
    }

    /// The fused attention core: memory-bound kernels a fused kernel does
    /// not run (the s x s scores never reach HBM).
    #[must_use]
    pub fn attention_elementwise(self) -> bool {
        matches!(self, OpKind::Softmax | OpKind::SoftmaxBwd | OpKind::AttnDropout | OpKind::AttnDropoutBwd)
    }
}

/// The arithmetic of a GEMM of `kind` in a run of `dtype`: FP8 runs only
/// the [`OpKind::fp8_gemm`] GEMMs in FP8, the rest in BF16.
#[must_use]
pub fn gemm_dtype(kind: OpKind, dtype: Dtype) -> Dtype {
    if dtype == Dtype::Fp8 && !kind.fp8_gemm() {
        Dtype::Bf16
    } else {
        dtype
    }
}

/// Bytes moved per element by an FP8 cast with amax: read 2 (bf16), write 1.
pub const FP8_CAST_BYTES_PER_ELEMENT: f64 = 3.0;

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
    /// Sequence length (the fused-attention model's shape).
    pub seq_len: u64,
    /// Transformer layers on the most loaded stage (ZeRO-3 prefetch).
    pub stage_layers: f64,
    /// Group sizes, for the network model.
    pub tp: u64,
    pub cp: u64,
    pub dp: u64,
    pub ep: u64,
}

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

/// The dimensions every block builder shares, computed once with checked
/// arithmetic on the integer sizes (element counts are f64).
struct Ctx<'a> {
    spec: &'a ModelSpec,
    plan: &'a Plan,
    seq_len: u64,
    /// Activation element size, bytes.
    e: f64,
    t: u64,
    tf: f64,
    /// Tokens per micro-batch (s x b).
    tokens: u64,
    tok: f64,
    h: u64,
    hf: f64,
    heads_local: u64,
    d_qk: u64,
    d_v: u64,
    qkv_width: u64,
    /// Elements of an [s, b, h] activation held per rank between sub-blocks.
    act_local: f64,
    act_full: f64,
    gated: bool,
    /// micro-batch x local heads: the batch of the attention GEMMs.
    bh: u64,
    score_elems: f64,
}

/// LayerNorm and RMSNorm both read the input and write the output once.
const LN_PASSES: f64 = 2.0;

fn mul(what: &'static str, a: u64, b: u64) -> Result<u64, WorkloadError> {
    a.checked_mul(b).ok_or_else(|| WorkloadError::Overflow { what, detail: format!("{a} x {b}") })
}

impl<'a> Ctx<'a> {
    fn new(spec: &'a ModelSpec, plan: &'a Plan, seq_len: u64) -> Result<Self, WorkloadError> {
        // activations are stored in 16 bits under mixed precision (fp8 GEMMs
        // keep bf16 activations), else in the training dtype
        let e = crate::memory::activation_dtype_bytes(plan.dtype);
        let t = plan.tp.max(1);
        // each context-parallel rank holds seq_len / cp tokens of every sequence
        let local_seq = plan.local_seq(seq_len);
        let tokens = mul("seq_len x micro_batch", local_seq, plan.micro_batch)?;
        let tok = tokens as f64;
        let h = spec.hidden;
        let hf = h as f64;
        let a = spec.heads;
        let (d_qk, d_v) = match &spec.mla {
            Some(m) => (m.qk_nope_head_dim + m.qk_rope_head_dim, m.v_head_dim),
            None => (spec.head_dim(), spec.head_dim()),
        };
        let heads_local = (a / t).max(1);
        // Q, K, V (or MLA's low-rank) projection width per rank: all
        // attention weights but the output projection, consistent with flops.rs
        let qkv_width = (((spec.attn_matmul_params() - a as f64 * d_v as f64 * hf) / hf).round() as u64 / t).max(1);
        let bh = mul("micro_batch x heads", plan.micro_batch, heads_local)?;
        mul("heads x head_dim", heads_local, d_v)?;
        let s = seq_len as f64;
        Ok(Self {
            spec,
            plan,
            seq_len,
            e,
            t,
            tf: t as f64,
            tokens,
            tok,
            h,
            hf,
            heads_local,
            d_qk,
            d_v,
            qkv_width,
            act_local: if plan.sp { tok * hf / t as f64 } else { tok * hf },
            act_full: tok * hf,
            gated: spec.activation.ffn_matrices() > 2.0,
            bh,
            // local queries against every key
            score_elems: bh as f64 * local_seq as f64 * s,
        })
    }

    fn tp_comm(&self, kind: OpKind, coll: Collective) -> Op {
        Op::Comm { kind, coll, group: Group::Tensor, bytes: b(self.act_full * self.e), role: CommRole::Exposed }
    }

    // --- sub-block boundaries: TP collectives (Shoeybi 2019; Korthikanti 2022 §4.2.2)
    fn enter(&self, v: &mut Vec<Op>) {
        if self.t > 1 && self.plan.sp {
            v.push(self.tp_comm(OpKind::TpGatherIn, Collective::AllGather));
        }
    }
    fn leave(&self, v: &mut Vec<Op>, kind: OpKind) {
        if self.t > 1 {
            v.push(self.tp_comm(kind, if self.plan.sp { Collective::ReduceScatter } else { Collective::AllReduce }));
        }
    }
    /// Backward of `leave` (AG with SP, identity without).
    fn leave_bwd(&self, v: &mut Vec<Op>) {
        if self.t > 1 && self.plan.sp {
            v.push(self.tp_comm(OpKind::TpGatherBwd, Collective::AllGather));
        }
    }
    /// Backward of `enter` (RS with SP, AR without); with SP the gathered
    /// input is re-gathered for the weight gradient (Korthikanti 2022 §4.2.2).
    fn enter_bwd(&self, v: &mut Vec<Op>) {
        if self.t > 1 {
            if self.plan.sp {
                v.push(self.tp_comm(OpKind::TpAgRedo, Collective::AllGather));
            }
            v.push(self.tp_comm(OpKind::TpReduceBwd, if self.plan.sp { Collective::ReduceScatter } else { Collective::AllReduce }));
        }
    }

    fn layernorm(&self) -> Op {
        Op::Mem { kind: OpKind::LayerNorm, bytes: b(LN_PASSES * self.act_local * self.e) }
    }
    fn layernorm_bwd(&self) -> Op {
        Op::Mem { kind: OpKind::LayerNormBwd, bytes: b(3.0 * self.act_local * self.e) }
    }
    /// Bias + dropout + residual add: read 2, write 1, 1-byte mask.
    fn bda(&self) -> Op {
        Op::Mem { kind: OpKind::BiasDropoutAdd, bytes: b(self.act_local * (3.0 * self.e + 1.0)) }
    }
    fn bda_bwd(&self) -> Op {
        Op::Mem { kind: OpKind::BiasDropoutAddBwd, bytes: b(self.act_local * (2.0 * self.e + 1.0)) }
    }
}

/// FP8 casts around the linear layers of an op list (Transformer Engine):
/// before each FP8 GEMM, its `m x k` input in forward, or in backward its
/// `m x n` output gradient (the backward's dgrad lists `k` as its `n`).
fn with_fp8_casts(ops: Vec<Op>, dtype: Dtype, backward: bool) -> Vec<Op> {
    if dtype != Dtype::Fp8 {
        return ops;
    }
    let mut out = Vec::with_capacity(ops.len() * 2);
    let mut skip_next = false;
    for op in ops {
        if let Op::Gemm { kind, m, k, batch, .. } = op {
            if kind.fp8_gemm() {
                if backward {
                    // dgrad and wgrad come in pairs and share one cast
                    if !skip_next {
                        out.push(Op::Mem { kind: OpKind::Fp8Cast, bytes: b(FP8_CAST_BYTES_PER_ELEMENT * m as f64 * k as f64 * batch as f64) });
                    }
                    skip_next = !skip_next;
                } else {
                    out.push(Op::Mem { kind: OpKind::Fp8Cast, bytes: b(FP8_CAST_BYTES_PER_ELEMENT * m as f64 * k as f64 * batch as f64) });
                }
            }
        }
        out.push(op);
    }
    out
}

/// dgrad `[m x n] x [n x k]` and wgrad `[k x m] x [m x n]` of a GEMM.
fn gemm_bwd(v: &mut Vec<Op>, g: Op) {
    if let Op::Gemm { kind, m, n, k, batch } = g {
        v.push(Op::Gemm { kind, m, n: k, k: n, batch });
        v.push(Op::Gemm { kind, m: k, n, k: m, batch });
    }
}

/// The attention sub-block.
struct Attention {
    fwd: Vec<Op>,
    bwd: Vec<Op>,
    /// QKᵀ, softmax, dropout, ·V: what selective recomputation re-runs.
    core: Vec<Op>,
}

fn attention(c: &Ctx<'_>) -> Attention {
    let s = c.seq_len;
    let e = c.e;
    let qkv = Op::Gemm { kind: OpKind::Qkv, m: c.tokens, n: c.qkv_width, k: c.h, batch: 1 };
    let softmax = Op::Mem { kind: OpKind::Softmax, bytes: b(2.0 * c.score_elems * e) };
    let dropout = Op::Mem { kind: OpKind::AttnDropout, bytes: b(c.score_elems * (2.0 * e + 1.0)) };
    // with context parallelism the local queries (s / cp) meet every key
    let q_len = c.tokens / c.plan.micro_batch.max(1);
    let qk = Op::Gemm { kind: OpKind::AttnQk, m: q_len, n: s, k: c.d_qk, batch: c.bh };
    let av = Op::Gemm { kind: OpKind::AttnAv, m: q_len, n: c.d_v, k: s, batch: c.bh };
    // ring attention: the other ranks' keys and values arrive while the
    // local chunks compute (forward, and again when the core is recomputed),
    // and once more with their gradients returned in backward (Liu et al.
    // 2023; Megatron-core CP). Per token and TP rank: the up-projected keys
    // and values (MLA: every local head's; GQA/MHA: the local KV heads, one
    // at least when TP exceeds the KV heads and they are replicated).
    let kv_width = if c.spec.mla.is_some() { c.heads_local * (c.d_qk + c.d_v) } else { 2 * (c.spec.kv_heads() / c.t).max(1) * c.d_qk };
    let kv = kv_width as f64 * c.tok * c.plan.cp as f64 * e;
    let cp_comm = |kind, coll| Op::Comm { kind, coll, group: Group::Context, bytes: b(kv), role: CommRole::Overlappable };
    // fused scale + mask + softmax reads and writes the scores; dropout on
    // the probabilities reads, writes and stores a 1-byte mask
    let mut core = Vec::with_capacity(5);
    if c.plan.cp > 1 {
        core.push(cp_comm(OpKind::CpKvGather, Collective::AllGather));
    }
    core.extend([qk, softmax, dropout, av]);
    let out = Op::Gemm { kind: OpKind::AttnOut, m: c.tokens, n: c.h, k: c.heads_local * c.d_v, batch: 1 };

    let mut fwd = vec![c.layernorm()];
    c.enter(&mut fwd);
    fwd.push(qkv);
    fwd.extend(core.iter().copied());
    fwd.push(out);
    c.leave(&mut fwd, OpKind::TpReduceOut);
    fwd.push(c.bda());

    let mut bwd = vec![c.bda_bwd()];
    c.leave_bwd(&mut bwd);
    gemm_bwd(&mut bwd, out);
    gemm_bwd(&mut bwd, av);
    bwd.push(Op::Mem { kind: OpKind::AttnDropoutBwd, bytes: b(c.score_elems * (2.0 * e + 1.0)) });
    bwd.push(Op::Mem { kind: OpKind::SoftmaxBwd, bytes: b(3.0 * c.score_elems * e) });
    gemm_bwd(&mut bwd, qk);
    if c.plan.cp > 1 {
        bwd.push(cp_comm(OpKind::CpKvGather, Collective::AllGather));
        bwd.push(cp_comm(OpKind::CpKvGradReduceScatter, Collective::ReduceScatter));
    }
    gemm_bwd(&mut bwd, qkv);
    c.enter_bwd(&mut bwd);
    bwd.push(c.layernorm_bwd());
    Attention { fwd, bwd, core }
}

/// The FFN sub-block: dense, or MoE (GShard / Switch: router, all-to-all
/// dispatch and combine over the expert-parallel group, per-expert GEMMs
/// over balanced routed tokens, optional shared experts).
fn ffn(c: &Ctx<'_>, moe: bool) -> (Vec<Op>, Vec<Op>) {
    let (t, e) = (c.t, c.e);
    let mut fwd = vec![c.layernorm()];
    c.enter(&mut fwd);
    let mut gemms: Vec<Op> = Vec::new();
    let mut acts = 0.0; // elements through the activation function
    let mut a2a = Vec::new();
    let up_width = |f: u64| if c.gated { 2 * f / t } else { f / t }.max(1);
    if let (Some(m), true) = (&c.spec.moe, moe) {
        let ep = c.plan.ep.max(1);
        let fe = m.expert_ffn_hidden;
        let router = Op::Gemm { kind: OpKind::Router, m: c.tokens, n: u64::from(m.experts), k: c.h, batch: 1 };
        fwd.push(router);
        gemms.push(router);
        let routed = c.tok * f64::from(m.top_k);
        if ep > 1 {
            let bytes = b(routed * c.hf * e / if c.plan.sp { c.tf } else { 1.0 });
            a2a.push(Op::Comm { kind: OpKind::EpAllToAll, coll: Collective::AllToAll, group: Group::Expert, bytes, role: CommRole::Exposed });
        }
        let local_experts = (u64::from(m.experts) / ep).max(1);
        // balanced routing: each local expert gets routed·ep/E tokens
        let per_expert = ((routed * ep as f64 / f64::from(m.experts)).ceil() as u64).max(1);
        gemms.push(Op::Gemm { kind: OpKind::ExpertUp, m: per_expert, n: up_width(fe), k: c.h, batch: local_experts });
        gemms.push(Op::Gemm { kind: OpKind::ExpertDown, m: per_expert, n: c.h, k: (fe / t).max(1), batch: local_experts });
        acts += per_expert as f64 * local_experts as f64 * (fe / t).max(1) as f64;
        if m.shared_experts > 0 {
            let fs = fe * u64::from(m.shared_experts);
            gemms.push(Op::Gemm { kind: OpKind::SharedUp, m: c.tokens, n: up_width(fs), k: c.h, batch: 1 });
            gemms.push(Op::Gemm { kind: OpKind::SharedDown, m: c.tokens, n: c.h, k: (fs / t).max(1), batch: 1 });
            acts += c.tok * (fs / t).max(1) as f64;
        }
        fwd.extend(a2a.iter().copied());
        fwd.extend(gemms[1..].iter().copied());
        fwd.extend(a2a.iter().copied());
    } else {
        let f = c.spec.ffn_hidden;
        gemms.push(Op::Gemm { kind: OpKind::FfnUp, m: c.tokens, n: up_width(f), k: c.h, batch: 1 });
        gemms.push(Op::Gemm { kind: OpKind::FfnDown, m: c.tokens, n: c.h, k: (f / t).max(1), batch: 1 });
        acts += c.tok * (f / t).max(1) as f64;
        fwd.extend(gemms.iter().copied());
    }
    // activation function (+ GLU product): read input(s), write output;
    // it runs before the last (down) projection
    let act_bytes = acts * e * if c.gated { 3.0 } else { 2.0 };
    fwd.insert(fwd.len() - 1, Op::Mem { kind: OpKind::Activation, bytes: b(act_bytes) });
    c.leave(&mut fwd, OpKind::TpReduceOut);
    fwd.push(c.bda());
    let mut bwd = vec![c.bda_bwd()];
    c.leave_bwd(&mut bwd);
    bwd.extend(a2a.iter().copied());
    for g in gemms.iter().rev() {
        gemm_bwd(&mut bwd, *g);
    }
    bwd.push(Op::Mem { kind: OpKind::ActivationBwd, bytes: b(act_bytes * 1.5) });
    bwd.extend(a2a.iter().copied());
    c.enter_bwd(&mut bwd);
    bwd.push(c.layernorm_bwd());
    (fwd, bwd)
}

/// The transformer blocks of the most loaded stage: one entry per kind of
/// block (dense, MoE) weighted by how many the stage holds.
fn blocks(c: &Ctx<'_>) -> Vec<BlockOps> {
    let attn = attention(c);
    let layers = c.spec.total_layers().max(1);
    let stage_layers = layers.div_ceil(c.plan.pp.max(1)) as f64;
    let moe_layers = c.spec.moe_layers();
    let kinds: Vec<(bool, f64)> = if moe_layers == 0 {
        vec![(false, stage_layers)]
    } else {
        let frac = moe_layers as f64 / layers as f64;
        vec![(true, stage_layers * frac), (false, stage_layers * (1.0 - frac))]
    };
    kinds
        .into_iter()
        .filter(|(_, n)| *n > 0.0)
        .map(|(moe, n)| {
            let (ffn_fwd, ffn_bwd) = ffn(c, moe);
            let recompute = match c.plan.recompute {
                Recompute::None => Vec::new(),
                Recompute::Selective => attn.core.clone(),
                // the whole block forward again
                Recompute::Full => attn.fwd.iter().chain(ffn_fwd.iter()).copied().collect(),
            };
            let mut forward = attn.fwd.clone();
            forward.extend(ffn_fwd);
            let mut backward = ffn_bwd;
            backward.extend(attn.bwd.iter().copied());
            let d = c.plan.dtype;
            BlockOps {
                per_stage: n,
                forward: with_fp8_casts(forward, d, false),
                backward: with_fp8_casts(backward, d, true),
                recompute: with_fp8_casts(recompute, d, false),
            }
        })
        .collect()
}

/// Embedding (first stage): vocab-parallel lookup, then all-reduce
/// (reduce-scatter with SP) across TP ranks; add positions; dropout.
fn embedding(c: &Ctx<'_>) -> (Vec<Op>, Vec<Op>) {
    let e = c.e;
    let mut fwd = vec![Op::Mem { kind: OpKind::Embedding, bytes: b(c.act_full * e * 2.0 + c.act_local * (3.0 * e + 1.0)) }];
    c.leave(&mut fwd, OpKind::TpEmbedding);
    let bwd = vec![Op::Mem { kind: OpKind::EmbeddingBwd, bytes: b(c.act_full * (e + 4.0) + c.act_local * (2.0 * e + 1.0)) }];
    (fwd, bwd)
}

/// Head (last stage): final norm, gather, logits GEMM, vocab-parallel
/// cross-entropy in fp32 (Megatron's `VocabParallelCrossEntropy`).
fn head(c: &Ctx<'_>) -> (Vec<Op>, Vec<Op>) {
    let e = c.e;
    let v_local = c.spec.vocab.div_ceil(c.t);
    let logit_elems = c.tok * v_local as f64;
    let mut fwd = vec![Op::Mem { kind: OpKind::FinalLayerNorm, bytes: b(LN_PASSES * c.act_local * e) }];
    c.enter(&mut fwd);
    let logits = Op::Gemm { kind: OpKind::Logits, m: c.tokens, n: v_local, k: c.h, batch: 1 };
    fwd.push(logits);
    // read logits, fp32 max/exp/sum passes and write of the softmax
    fwd.push(Op::Mem { kind: OpKind::CrossEntropy, bytes: b(logit_elems * (e + 4.0 + 4.0)) });
    let mut bwd = vec![Op::Mem { kind: OpKind::CrossEntropyBwd, bytes: b(logit_elems * (4.0 + e)) }];
    gemm_bwd(&mut bwd, logits);
    c.enter_bwd(&mut bwd);
    bwd.push(Op::Mem { kind: OpKind::FinalLayerNormBwd, bytes: b(3.0 * c.act_local * e) });
    (fwd, bwd)
}

/// Pipeline p2p: activations forward, gradients backward, v times per
/// micro-batch with interleaving; scatter/gather over TP ranks (Narayanan
/// 2021 §4.1) sends 1/t of the tensor per rank.
fn pipeline(c: &Ctx<'_>) -> Vec<Op> {
    let mut v = Vec::new();
    if c.plan.pp > 1 {
        let n = 2 * c.plan.interleave;
        let bytes = b(c.act_full * c.e / c.tf);
        v.extend((0..n).map(|_| Op::Comm { kind: OpKind::PpP2p, coll: Collective::P2p, group: Group::Pipeline, bytes, role: CommRole::Exposed }));
        if c.t > 1 && !c.plan.sp {
            // all-gather back the scattered tensor inside the TP group
            v.extend((0..n).map(|_| Op::Comm {
                kind: OpKind::PpGather,
                coll: Collective::AllGather,
                group: Group::Tensor,
                bytes: b(c.act_full * c.e),
                role: CommRole::Exposed,
            }));
        }
    }
    v
}

/// Data-parallel collectives per micro-batch and per step (Rajbhandari et
/// al. 2020 §5, §7).
fn data_parallel(c: &Ctx<'_>, params: f64) -> (Vec<Op>, Vec<Op>) {
    let grad = b(params * c.e);
    let dp_comm = |kind, coll, role| Op::Comm { kind, coll, group: Group::Data, bytes: grad, role };
    let mut per_mb = Vec::new();
    let mut per_step = Vec::new();
    if c.plan.dp * c.plan.cp > 1 {
        match c.plan.zero {
            0 => per_step.push(dp_comm(OpKind::DpGradAllReduce, Collective::AllReduce, CommRole::Overlappable)),
            1 => {
                per_step.push(dp_comm(OpKind::DpGradReduceScatter, Collective::ReduceScatter, CommRole::Overlappable));
                per_step.push(dp_comm(OpKind::DpParamAllGather, Collective::AllGather, CommRole::Exposed));
            }
            2 => {
                // gradients are reduce-scattered every micro-batch
                per_mb.push(dp_comm(OpKind::DpGradReduceScatter, Collective::ReduceScatter, CommRole::Overlappable));
                per_step.push(dp_comm(OpKind::DpParamAllGather, Collective::AllGather, CommRole::Exposed));
            }
            _ => {
                // parameters gathered for forward and for backward, gradients
                // reduce-scattered: 1.5x ZeRO-0 volume per micro-batch
                per_mb.push(dp_comm(OpKind::DpParamAllGatherFwd, Collective::AllGather, CommRole::Overlappable));
                per_mb.push(dp_comm(OpKind::DpParamAllGatherBwd, Collective::AllGather, CommRole::Overlappable));
                per_mb.push(dp_comm(OpKind::DpGradReduceScatter, Collective::ReduceScatter, CommRole::Overlappable));
            }
        }
    }
    (per_mb, per_step)
}

/// The optimizer step's memory traffic.
fn optimizer(c: &Ctx<'_>, params: f64) -> Vec<Op> {
    let opt_params = if c.plan.zero >= 1 { params / (c.plan.dp * c.plan.cp) as f64 } else { params };
    let per_param = if c.plan.dtype.is_mixed_precision() { OPTIMIZER_BYTES_PER_PARAM_MIXED } else { OPTIMIZER_BYTES_PER_PARAM_FP32 };
    let mut v = vec![Op::Mem { kind: OpKind::AdamStep, bytes: b(opt_params * per_param) }];
    if c.plan.dtype == Dtype::Fp8 {
        // the device's transformer weights cast to FP8 once per step
        let body = (params - c.spec.params().embedding / c.tf).max(0.0);
        v.push(Op::Mem { kind: OpKind::Fp8WeightCast, bytes: b(FP8_CAST_BYTES_PER_ELEMENT * body) });
    }
    v
}

/// What offloading would move (memory.rs holds the same quantities).
fn offload_sizes(c: &Ctx<'_>, params: f64) -> OffloadSizes {
    let (plan, dp) = (c.plan, (c.plan.dp * c.plan.cp) as f64);
    let stage_layers = c.spec.total_layers().max(1).div_ceil(plan.pp.max(1)) as f64;
    let body_params = (params - c.spec.params().embedding / c.tf).max(0.0);
    let (w_bytes, o_bytes) = if plan.dtype.is_mixed_precision() { (c.e, 12.0) } else { (plan.dtype.bytes(), 2.0 * plan.dtype.bytes()) };
    let weights_dev = body_params * w_bytes / if plan.zero >= 3 { dp } else { 1.0 };
    let optimizer_dev = body_params * o_bytes / if plan.zero >= 1 { dp } else { 1.0 };
    let act_redo = crate::memory::activation_bytes_per_layer_with(c.spec, plan, c.seq_len, true, false);
    OffloadSizes {
        block_weights: weights_dev / stage_layers,
        block_activations: act_redo,
        block_gathered_extra: crate::memory::activation_bytes_per_layer_with(c.spec, plan, c.seq_len, false, false) - act_redo,
        weights: weights_dev,
        optimizer: optimizer_dev,
    }
}

/// Builds one iteration's workload. The plan must have been validated.
///
/// # Errors
/// Sizes whose products overflow (absurd sequence lengths or batches).
pub fn build(spec: &ModelSpec, plan: &Plan, seq_len: u64) -> Result<Workload, WorkloadError> {
    let c = Ctx::new(spec, plan, seq_len)?;
    let params = params_per_device(spec, plan);
    let (embed_forward, embed_backward) = embedding(&c);
    let (head_forward, head_backward) = head(&c);
    let (dp_per_microbatch, dp_per_step) = data_parallel(&c, params);
    Ok(Workload {
        dtype: plan.dtype,
        blocks: blocks(&c),
        embed_forward,
        embed_backward,
        head_forward,
        head_backward,
        p2p_per_microbatch: pipeline(&c),
        dp_per_microbatch,
        dp_per_step,
        optimizer: optimizer(&c, params),
        offload: offload_sizes(&c, params),
        microbatches: plan.micro_batches(),
        pp: plan.pp,
        interleave: plan.interleave,
        seq_len,
        stage_layers: spec.total_layers().max(1).div_ceil(plan.pp.max(1)) as f64,
        tp: plan.tp,
        cp: plan.cp,
        dp: plan.dp,
        ep: plan.ep,
    })
}

impl Workload {
    /// Every op of the step's compute (blocks, embedding, head), each once.
    pub fn all_ops(&self) -> impl Iterator<Item = &Op> {
        self.blocks
            .iter()
            .flat_map(|b| b.forward.iter().chain(b.backward.iter()))
            .chain(self.embed_forward.iter())
            .chain(self.embed_backward.iter())
            .chain(self.head_forward.iter())
            .chain(self.head_backward.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use crate::flops::{training_per_token, FineTune};

    fn plan(tp: u64, pp: u64, dp: u64, sp: bool, rc: Recompute) -> Plan {
        Plan { tp, cp: 1, pp, dp, interleave: 1, sp, ep: 1, zero: 0, recompute: rc, micro_batch: 1, global_batch: 8 * dp, dtype: Dtype::Fp16 }
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
            let w = build(&m, &p, 2048).unwrap();
            let blk = &w.blocks[0];
            let per_mb = blk.per_stage * (flops_of(&blk.forward) + flops_of(&blk.backward) + flops_of(&blk.recompute))
                + flops_of(&w.head_forward)
                + flops_of(&w.head_backward);
            let tf = training_per_token(&m, 2048, rc, FineTune::Full);
            let want = tf.hardware.value() * 2048.0;
            assert!((per_mb - want).abs() / want < 1e-9, "{rc}: {per_mb:e} vs {want:e}");
        }
    }

    #[test]
    fn tensor_parallel_divides_gemm_flops() {
        let m = catalog::model("megatron-175b").unwrap();
        let one = build(&m, &plan(1, 1, 1, false, Recompute::None), 2048).unwrap();
        let eight = build(&m, &plan(8, 1, 1, true, Recompute::None), 2048).unwrap();
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
        let w = build(&m, &p, 4096).unwrap();
        assert!(w.blocks[0].forward.iter().any(|o| matches!(o, Op::Comm { coll: Collective::AllToAll, .. })));
    }

    /// Context parallelism splits every sequence: a device's FLOPs are
    /// 1/cp of the unsplit device's (queries s/cp against every key), and
    /// the ring traffic appears only with cp > 1.
    #[test]
    fn context_parallelism_divides_the_work_and_adds_the_ring() {
        let spec = catalog::model("llama2-7b").unwrap();
        let flops = |w: &Workload| w.all_ops().map(Op::flops).sum::<f64>();
        let ring = |w: &Workload| w.all_ops().filter(|o| matches!(o, Op::Comm { group: Group::Context, .. })).count();
        let one = build(&spec, &plan(1, 1, 8, false, Recompute::None), 8192).unwrap();
        let four = build(&spec, &Plan { cp: 4, ..plan(1, 1, 2, false, Recompute::None) }, 8192).unwrap();
        let rel = (flops(&four) * 4.0 / flops(&one) - 1.0).abs();
        assert!(rel < 1e-12, "{rel}");
        assert_eq!(ring(&one), 0);
        // per block: forward keys and values in; backward again, plus their
        // gradients out
        assert_eq!(ring(&four), 3);
        // MLA (DeepSeek-V3) exchanges its up-projected keys and values too
        let mla = catalog::model("deepseek-v3").unwrap();
        let w = build(&mla, &Plan { cp: 2, ep: 1, ..plan(1, 1, 2, false, Recompute::None) }, 4096).unwrap();
        let bytes: f64 = w.all_ops().filter_map(|o| if let Op::Comm { group: Group::Context, bytes, .. } = o { Some(bytes.value()) } else { None }).sum();
        assert!(bytes > 0.0);
    }
}
