//! Step-time simulator: a [`Workload`] priced on a [`DeviceModel`] and a
//! [`Network`].
//!
//! Step time = compute + exposed communication + pipeline bubble +
//! optimizer (Narayanan et al. 2021 §2.2, §3; Isaev et al. 2023, Calculon):
//!
//! * the slowest pipeline stage (the one with the logits, or with the
//!   embedding) sets the per-micro-batch time `t_mb`; `m` micro-batches
//!   take `m · t_mb`;
//! * the 1F1B bubble is `(p−1)/v · t_mb`, i.e. `(p−1)/(m·v)` of the ideal
//!   time for `v` interleaved chunks (Narayanan 2021 eq. 1 and §2.2.2);
//! * tensor-parallel collectives are exposed (Megatron-LM of Korthikanti
//!   2022 runs them synchronously) unless [`TpOverlap`] is `Ring` or
//!   `Pipe`, which decompose each collective and its neighbouring GEMM into
//!   `t` tiles and overlap them (see [`TpOverlap`]);
//! * with offloading ([`Offload`]), each block's offloaded weights and
//!   activations cross the host link once per micro-batch in forward and
//!   in backward, overlapped with that block's GEMMs and exposed TP
//!   communication but not with its memory-bound kernels (which compete
//!   for HBM bandwidth; Calculon's rule): exposed = max(0, transfer −
//!   window) per block. PCIe is full duplex, so in forward the weight
//!   prefetch (host→device) and the activation write-back (device→host)
//!   take the longer of the two; in backward both are host→device and add.
//!   Once per step the optimizer states stream in and out around the
//!   optimizer kernel, and offloaded weights get their updated copy written
//!   back: exposed = max(0, max(in, out) − optimizer kernel);
//! * the data-parallel gradient reduction overlaps the last micro-batch's
//!   backward except its last bucket when `dp_overlap` is set (PyTorch DDP
//!   / Megatron bucketed all-reduce, 40M-element buckets), else it is
//!   exposed; ZeRO-2/3 per-micro-batch collectives overlap that
//!   micro-batch's compute.

pub mod device;
pub mod network;

pub use crate::memory::Offload;
pub use device::{AnalyticDevice, DeviceModel, ProfileDevice};
pub use network::{Layout, Network};

use crate::units::{Bytes, Seconds};
use crate::workload::{gemm_dtype, Collective, CommRole, Group, Op, OpKind, Workload};
use serde::Serialize;

/// Megatron-LM / PyTorch DDP gradient bucket: 40M elements (Megatron's
/// `DistributedDataParallel` default `bucket_size = 40_000_000`).
pub const DP_BUCKET_PARAMS: f64 = 40e6;

/// How tensor-parallel collectives overlap the GEMM next to them
/// (Calculon's `tensor_par_overlap`; Wang et al. 2023, "Overlap
/// communication with dependent computation via decomposition in large
/// deep learning models", ASPLOS'23; Megatron-core / Transformer Engine
/// `tp_comm_overlap`).
///
/// Model (Calculon `LinearOverlapped`): the collective of time `C` and its
/// neighbouring GEMM (the one consuming an all-gather's output, or
/// producing a reduce-scatter's / all-reduce's input) are cut into `n = t`
/// tiles along the larger of the GEMM's `m`/`k`. Each tiled GEMM is priced
/// on the device model, so the loss of efficiency of `n` smaller GEMMs is
/// charged (`n·time(m/n) − time(m)`). Of the `n` tiles, `n − 1` overlap:
/// exposed = `(n−1)·max(0, C/n − G/n)`, `G` the tiled GEMM time.
/// Assumptions: the collective's bandwidth is unchanged by tiling (the same
/// ring steps), the copies do not slow the GEMM (copy engines / p2p,
/// as in Wang et al.), and two collectives next to the same GEMM may each
/// overlap it (slightly optimistic for the SP backward re-gather).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TpOverlap {
    /// Synchronous collectives (Megatron-LM 2022; the default).
    #[default]
    None,
    /// Ring decomposition: each of the `t − 1` ring steps sends one tile
    /// while the GEMM works on the tile it already has, so the first tile
    /// needs no communication.
    Ring,
    /// Pipelined (bulk-chunked) overlap: tiles are pipelined through a
    /// collective per tile, which leaves one communication tile exposed
    /// (`+ C/n`) at the start of the pipeline.
    Pipe,
}

impl TpOverlap {
    pub const ALL: [TpOverlap; 3] = [TpOverlap::None, TpOverlap::Ring, TpOverlap::Pipe];
}

/// How the attention core (QKᵀ, softmax, dropout, ·V) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKernel {
    /// Separate batched GEMMs and memory-bound softmax/dropout kernels that
    /// materialise the s x s scores (Megatron-LM 2022; the default).
    #[default]
    Unfused,
    /// One fused FlashAttention-style kernel priced by the device's
    /// attention model ([`DeviceModel::attention_time`]); the score
    /// kernels vanish.
    Flash,
}

/// Which overlap assumptions price the exposed communication.
///
/// * `Realistic` (the default; what Megatron-LM / NeMo / PyTorch FSDP
///   runs achieve): ZeRO-3 parameter all-gathers are prefetched one layer
///   ahead, so each pass exposes the first layer's gather plus whatever of
///   the gathers exceeds that pass's compute (forward gathers against the
///   forward, backward gathers + gradient reduce-scatters against the
///   backward); ZeRO-2 gradient reduce-scatters hide only behind the
///   backward; the DP gradient reduction of ZeRO 0/1 overlaps only the
///   last micro-batch's backward (bucketed, the last bucket exposed); the
///   ZeRO-1/2 parameter all-gather after the optimizer step is exposed
///   (Megatron-LM's `--overlap-param-gather` defaults to off); a TP
///   collective whose group spans nodes is never hidden by TP overlap.
/// * `Ideal` (the simulator before issue 9): per-micro-batch DP
///   collectives hide behind the whole micro-batch's compute, the ZeRO-1/2
///   parameter all-gather behind the first micro-batch's forward, and TP
///   overlap hides cross-node TP collectives too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    #[default]
    Realistic,
    Ideal,
}

impl Overlap {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Realistic => "realistic",
            Overlap::Ideal => "ideal",
        }
    }
}

impl std::str::FromStr for AttentionKernel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "flash" | "fused" => Ok(AttentionKernel::Flash),
            "unfused" => Ok(AttentionKernel::Unfused),
            _ => Err(format!("--attention `{s}` is not an attention kernel; use flash or unfused")),
        }
    }
}

impl std::str::FromStr for Overlap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "realistic" => Ok(Overlap::Realistic),
            "ideal" => Ok(Overlap::Ideal),
            _ => Err(format!("--overlap `{s}` is not an overlap mode; use realistic or ideal")),
        }
    }
}

/// Scheduling and placement options that are not part of the parallel
/// split. The default is Megatron-LM 2022 (Korthikanti et al.): bucketed
/// DP overlap, synchronous TP collectives, SP all-gather redone in
/// backward, no offload, tensor-fastest rank order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SimOptions {
    /// Overlap DP gradient reduction with backward (default true).
    pub dp_overlap: bool,
    pub tp_overlap: TpOverlap,
    /// With SP: re-gather the sharded input for the weight gradient in
    /// backward (Megatron; true) instead of storing the gathered input.
    pub sp_ag_redo: bool,
    pub offload: Offload,
    /// Rank order data-fastest instead of tensor-fastest ([`Layout`]).
    pub dp_inner: bool,
    pub attention: AttentionKernel,
    pub overlap: Overlap,
    /// Expert all-to-all of one micro-batch hidden behind the compute of
    /// another (DeepSeek-V3 DualPipe, DeepSeek-AI 2024 §3.2.1; Megatron-core
    /// `--overlap-moe-expert-parallel-comm`); needs two micro-batches.
    pub ep_overlap: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            dp_overlap: true,
            tp_overlap: TpOverlap::None,
            sp_ag_redo: true,
            offload: Offload::default(),
            dp_inner: false,
            attention: AttentionKernel::Unfused,
            overlap: Overlap::Realistic,
            ep_overlap: false,
        }
    }
}

/// Where the step time goes, seconds per step (per device, the slowest
/// stage).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Breakdown {
    /// GEMMs and memory-bound kernels, forward + backward, all micro-batches.
    pub compute_s: f64,
    /// Of which tensor-core GEMMs (incl. attention's batched GEMMs).
    pub gemm_s: f64,
    /// Of which bandwidth-bound kernels (norms, softmax, elementwise).
    pub memory_bound_s: f64,
    /// Of which recomputation.
    pub recompute_s: f64,
    pub tp_comm_exposed_s: f64,
    pub ep_comm_exposed_s: f64,
    /// Context-parallel ring traffic not hidden behind the attention core.
    pub cp_comm_exposed_s: f64,
    pub pp_comm_s: f64,
    pub dp_comm_exposed_s: f64,
    pub bubble_s: f64,
    pub optimizer_s: f64,
    /// Host-link transfers of offloaded tensors not hidden behind compute.
    pub offload_exposed_s: f64,
    pub step_time_s: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Parts {
    gemm: f64,
    mem: f64,
    tp: f64,
    ep: f64,
    /// Context-parallel ring traffic (before overlap).
    cp: f64,
    /// Attention-core time (fused kernel or the QKᵀ / ·V GEMMs): the
    /// window the ring traffic hides behind.
    attn: f64,
    /// TP link busy time (before overlap), for NIC sharing with DP.
    tp_link: f64,
}

impl Parts {
    fn compute(&self) -> f64 {
        self.gemm + self.mem
    }
    fn add(&mut self, o: Parts, w: f64) {
        self.gemm += o.gemm * w;
        self.mem += o.mem * w;
        self.tp += o.tp * w;
        self.ep += o.ep * w;
        self.cp += o.cp * w;
        self.attn += o.attn * w;
        self.tp_link += o.tp_link * w;
    }
}

/// Prices a workload.
pub struct Simulator<'a, D: DeviceModel + ?Sized> {
    pub device: &'a D,
    pub network: &'a Network,
    pub options: SimOptions,
}

impl<D: DeviceModel + ?Sized> Simulator<'_, D> {
    fn layout(&self, w: &Workload) -> Layout {
        Layout { tp: w.tp, cp: w.cp, dp: w.dp, pp: w.pp, ep: w.ep, dp_inner: self.options.dp_inner }
    }

    /// Exposed time of a TP collective of time `c` at `ops[i]` under the
    /// overlap option, including the GEMM decomposition overhead.
    fn tp_exposed(&self, ops: &[Op], i: usize, c: f64, w: &Workload) -> f64 {
        if self.options.tp_overlap == TpOverlap::None || c == 0.0 {
            return c;
        }
        if self.options.overlap == Overlap::Realistic && self.network.spans_nodes(Group::Tensor, self.layout(w)) {
            return c;
        }
        let is_gemm = |o: &&Op| matches!(o, Op::Gemm { .. });
        let after = || ops[i + 1..].iter().find(is_gemm);
        let before = || ops[..i].iter().rev().find(is_gemm);
        let gather = matches!(ops[i], Op::Comm { coll: Collective::AllGather, .. });
        let nb = if gather { after().or_else(before) } else { before().or_else(after) };
        let Some(&Op::Gemm { kind, m, n, k, batch }) = nb else { return c };
        let tiles = w.tp.max(1);
        let d = gemm_dtype(kind, w.dtype);
        let whole = self.device.gemm_time(m, n, k, batch, d).value();
        let tiled = tiles as f64
            * if m >= k {
                self.device.gemm_time(m.div_ceil(tiles), n, k, batch, d).value()
            } else {
                self.device.gemm_time(m, n, k.div_ceil(tiles), batch, d).value()
            };
        let nf = tiles as f64;
        let mut exposed = (nf - 1.0) * (c / nf - tiled / nf).max(0.0);
        if self.options.tp_overlap == TpOverlap::Pipe {
            exposed += c / nf;
        }
        exposed + (tiled - whole).max(0.0)
    }

    fn comm(&self, op: &Op, l: Layout) -> f64 {
        match *op {
            Op::Comm { coll, group, bytes, .. } => self.network.time(coll, group, bytes, l).value(),
            _ => 0.0,
        }
    }

    fn parts(&self, ops: &[Op], w: &Workload, backward: bool) -> Parts {
        let l = self.layout(w);
        let flash = self.options.attention == AttentionKernel::Flash;
        let mut p = Parts::default();
        let mut attn_flops = 0.0;
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Gemm { kind, .. } if flash && kind.attention_gemm() => attn_flops += op.flops(),
                Op::Mem { kind, .. } if flash && kind.attention_elementwise() => {}
                Op::Gemm { kind, m, n, k, batch } => {
                    let t = self.device.gemm_time(m, n, k, batch, gemm_dtype(kind, w.dtype)).value();
                    p.gemm += t;
                    if kind.attention_gemm() {
                        p.attn += t;
                    }
                }
                Op::Mem { bytes, .. } => p.mem += self.device.mem_time(bytes).value(),
                Op::Comm { group: Group::Expert, .. } => p.ep += self.comm(op, l),
                Op::Comm { group: Group::Context, .. } => p.cp += self.comm(op, l),
                Op::Comm { kind: OpKind::TpAgRedo, .. } if !self.options.sp_ag_redo => {}
                Op::Comm { group: Group::Tensor, .. } => {
                    let c = self.comm(op, l);
                    p.tp_link += c;
                    p.tp += self.tp_exposed(ops, i, c, w);
                }
                Op::Comm { .. } => p.tp += self.comm(op, l),
            }
        }
        // under context parallelism the kernel runs on chunks of s / (2 cp)
        // (two per rank for causal load balance)
        let kernel_seq = if w.cp > 1 { (w.seq_len / (2 * w.cp)).max(1) } else { w.seq_len };
        let fused = self.device.attention_time(attn_flops, kernel_seq, backward).value();
        p.gemm += fused;
        p.attn += fused;
        p
    }

    /// Exposed host-link time of one block and micro-batch, forward and
    /// backward (see the module doc).
    fn offload_block(&self, w: &Workload, fwd: Parts, bwd: Parts, rc: Parts) -> f64 {
        let o = self.options.offload;
        if !(o.weights || o.activations) {
            return 0.0;
        }
        let s = w.offload;
        let wb = if o.weights { s.block_weights } else { 0.0 };
        let ab = if o.activations { s.block_activations + if self.options.sp_ag_redo { 0.0 } else { s.block_gathered_extra } } else { 0.0 };
        let net = self.network;
        let f = (net.host_time(wb.max(ab)) - (fwd.gemm + fwd.tp)).max(0.0);
        let b = (net.host_time(wb + ab) - (bwd.gemm + bwd.tp + rc.gemm + rc.tp)).max(0.0);
        f + b
    }

    /// Simulates one step.
    #[must_use]
    pub fn step(&self, w: &Workload) -> Breakdown {
        let l = self.layout(w);
        // per micro-batch, on the stage body
        let mut body_fwd = Parts::default();
        let mut body_bwd = Parts::default();
        let mut body_rc = Parts::default();
        let mut offload_mb = 0.0;
        for blk in &w.blocks {
            let (f, b, r) = (self.parts(&blk.forward, w, false), self.parts(&blk.backward, w, true), self.parts(&blk.recompute, w, false));
            offload_mb += blk.per_stage * self.offload_block(w, f, b, r);
            body_fwd.add(f, blk.per_stage);
            body_bwd.add(b, blk.per_stage);
            body_rc.add(r, blk.per_stage);
        }
        let mut first = Parts::default();
        first.add(self.parts(&w.embed_forward, w, false), 1.0);
        first.add(self.parts(&w.embed_backward, w, true), 1.0);
        let mut last = Parts::default();
        last.add(self.parts(&w.head_forward, w, false), 1.0);
        last.add(self.parts(&w.head_backward, w, true), 1.0);
        let mut stage = Parts::default();
        stage.add(body_fwd, 1.0);
        stage.add(body_bwd, 1.0);
        stage.add(body_rc, 1.0);
        if w.pp == 1 {
            stage.add(first, 1.0);
            stage.add(last, 1.0);
        } else {
            let pick = if first.compute() + first.tp >= last.compute() + last.tp { first } else { last };
            stage.add(pick, 1.0);
        }
        let p2p: f64 = w.p2p_per_microbatch.iter().map(|o| self.comm(o, l)).fold(0.0, |a, x| a + x);
        let m = w.microbatches as f64;
        // DualPipe-style overlap: a micro-batch's all-to-all runs while
        // another micro-batch computes; only the excess stays exposed
        // the first micro-batch has no partner to overlap with, so (m-1)/m of
        // the traffic can hide at most; the bubble sees it unhidden
        let ep = if self.options.ep_overlap && w.microbatches >= 2 {
            let m = w.microbatches as f64;
            let hideable = stage.ep * (m - 1.0) / m;
            stage.ep - hideable + (hideable - stage.compute()).max(0.0)
        } else {
            stage.ep
        };
        // ring attention: the next chunk's keys and values travel while the
        // current chunk's attention computes (forward and backward passes of
        // the body blocks, and the recomputed core)
        // of the cp ring steps, the last chunk's attention has no transfer
        // left to hide, so the window is (cp-1)/cp of the core
        let ring_window = if w.cp > 1 { (w.cp - 1) as f64 / w.cp as f64 } else { 0.0 };
        let exposed = |p: Parts| (p.cp - ring_window * p.attn).max(0.0);
        let cp = exposed(body_fwd) + exposed(body_bwd) + exposed(body_rc);
        let t_mb = stage.compute() + stage.tp + ep + cp + p2p + offload_mb;
        // nothing overlaps the expert all-to-all inside the bubble
        let bubble = (w.pp as f64 - 1.0) / w.interleave as f64 * (t_mb - ep + stage.ep);

        // data parallelism
        let params_bucket = |bytes: Bytes| bytes.value() / 2.0;
        // When TP and DP groups both span nodes they share the NICs: DP
        // traffic can only overlap compute while TP traffic is not on the
        // wire (no bandwidth sharing model beyond that).
        let share = self.network.spans_nodes(Group::Tensor, l) && self.network.spans_nodes(Group::Data, l);
        let busy = |p: Parts| if share { p.tp_link } else { 0.0 };
        let bwd_window = (body_bwd.compute() + body_rc.compute() - busy(body_bwd) - busy(body_rc)).max(0.0);
        let fwd_window = (body_fwd.compute() - busy(body_fwd)).max(0.0);
        let mut dp_exposed = 0.0;
        let mut ideal_mb = 0.0;
        // ZeRO-2/3's per-micro-batch collectives: each rank's bytes through
        // its NIC share (network::ZERO3_COLLECTIVE_EFFICIENCY)
        // (ZeRO-2's per-micro-batch reduce-scatter is the same collective)
        let zero3 = w.dp_per_microbatch.iter().any(|o| matches!(o.kind(), OpKind::DpParamAllGatherFwd | OpKind::DpGradReduceScatter));
        let dp_mb = |op: &Op| match *op {
            Op::Comm { coll, bytes, .. } if zero3 => self.network.zero3_time(coll, bytes, l).value(),
            _ => self.comm(op, l),
        };
        for op in &w.dp_per_microbatch {
            let t = dp_mb(op);
            let window = (stage.compute() - busy(stage)).max(0.0) / w.dp_per_microbatch.len().max(1) as f64;
            ideal_mb += m * if self.options.dp_overlap { (t - window).max(0.0) } else { t };
        }
        if self.options.overlap == Overlap::Ideal || !self.options.dp_overlap {
            dp_exposed += ideal_mb;
        } else {
            // realistic: forward gathers against the forward, backward
            // gathers + gradient reduce-scatters against the backward; the
            // first layer's gather of each pass cannot be prefetched
            let (mut fwd_t, mut bwd_t, mut first) = (0.0, 0.0, 0.0);
            for op in &w.dp_per_microbatch {
                let t = dp_mb(op);
                match op.kind() {
                    OpKind::DpParamAllGatherFwd => {
                        fwd_t += t;
                        first += t / w.stage_layers.max(1.0);
                    }
                    OpKind::DpParamAllGatherBwd => {
                        bwd_t += t;
                        first += t / w.stage_layers.max(1.0);
                    }
                    _ => bwd_t += t,
                }
            }
            // the ideal pricing is a lower bound by construction
            dp_exposed += (m * ((fwd_t - fwd_window).max(0.0) + (bwd_t - bwd_window).max(0.0) + first)).max(ideal_mb);
        }
        for op in &w.dp_per_step {
            let t = self.comm(op, l);
            let Op::Comm { role, bytes, .. } = op else { continue };
            let frac = (DP_BUCKET_PARAMS / params_bucket(*bytes).max(1.0)).min(1.0);
            // realistic: the distributed optimizer's parameter all-gather
            // runs after the optimizer step, before the next forward
            // (Megatron-LM `--overlap-param-gather` is off by default)
            let window = match (*role, self.options.overlap) {
                (CommRole::Overlappable, _) => bwd_window,
                (_, Overlap::Ideal) => fwd_window,
                (_, Overlap::Realistic) => 0.0,
            };
            dp_exposed += if self.options.dp_overlap { (t * frac).max(t - window) } else { t };
        }
        let optimizer: f64 = w
            .optimizer
            .iter()
            .map(|o| match *o {
                Op::Mem { bytes, .. } => self.device.mem_time(bytes).value(),
                _ => 0.0,
            })
            .fold(0.0, |a, x| a + x);
        let compute = m * stage.compute();
        // once per step: optimizer states in and out, updated weights out
        let o = self.options.offload;
        let opt_in = if o.optimizer { w.offload.optimizer } else { 0.0 };
        let opt_out = opt_in + if o.weights { w.offload.weights } else { 0.0 };
        let offload_step = (self.network.host_time(opt_in.max(opt_out)) - optimizer).max(0.0);
        let b = Breakdown {
            compute_s: compute,
            gemm_s: m * stage.gemm,
            memory_bound_s: m * stage.mem,
            recompute_s: m * body_rc.compute(),
            tp_comm_exposed_s: m * stage.tp,
            ep_comm_exposed_s: m * ep,
            cp_comm_exposed_s: m * cp,
            pp_comm_s: m * p2p,
            dp_comm_exposed_s: dp_exposed,
            bubble_s: bubble,
            optimizer_s: optimizer,
            offload_exposed_s: m * offload_mb + offload_step,
            step_time_s: 0.0,
        };
        Breakdown {
            step_time_s: b.compute_s
                + b.tp_comm_exposed_s
                + b.ep_comm_exposed_s
                + b.cp_comm_exposed_s
                + b.pp_comm_s
                + b.dp_comm_exposed_s
                + b.bubble_s
                + b.optimizer_s
                + b.offload_exposed_s,
            ..b
        }
    }

    /// Step time.
    #[must_use]
    pub fn step_time(&self, w: &Workload) -> Seconds {
        Seconds::new(self.step(w).step_time_s)
    }
}
