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
//!   2022 runs them synchronously) unless `tp_overlap` is set, in which
//!   case they hide behind the block's GEMMs where shorter;
//! * the data-parallel gradient reduction overlaps the last micro-batch's
//!   backward except its last bucket when `dp_overlap` is set (PyTorch DDP
//!   / Megatron bucketed all-reduce, 40M-element buckets), else it is
//!   exposed; ZeRO-2/3 per-micro-batch collectives overlap that
//!   micro-batch's compute.

pub mod device;
pub mod network;

pub use device::{AnalyticDevice, DeviceModel, ProfileDevice};
pub use network::{Layout, Network};

use crate::units::{Bytes, Seconds};
use crate::workload::{CommRole, Group, Op, Workload};
use serde::Serialize;

/// Megatron-LM / PyTorch DDP gradient bucket: 40M elements (Megatron's
/// `DistributedDataParallel` default `bucket_size = 40_000_000`).
pub const DP_BUCKET_PARAMS: f64 = 40e6;

/// Scheduling options that are not part of the parallel layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SimOptions {
    /// Overlap DP gradient reduction with backward (default true).
    pub dp_overlap: bool,
    /// Overlap TP collectives with GEMMs (default false: Megatron 2022).
    pub tp_overlap: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self { dp_overlap: true, tp_overlap: false }
    }
}

/// Where the step time goes, seconds per step (per device, the slowest
/// stage).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Breakdown {
    /// GEMMs and memory-bound kernels, forward + backward, all micro-batches.
    pub compute_s: f64,
    /// Of which recomputation.
    pub recompute_s: f64,
    pub tp_comm_exposed_s: f64,
    pub ep_comm_exposed_s: f64,
    pub pp_comm_s: f64,
    pub dp_comm_exposed_s: f64,
    pub bubble_s: f64,
    pub optimizer_s: f64,
    pub step_time_s: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Parts {
    gemm: f64,
    mem: f64,
    tp: f64,
    ep: f64,
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
    }
}

/// Prices a workload.
pub struct Simulator<'a, D: DeviceModel + ?Sized> {
    pub device: &'a D,
    pub network: &'a Network,
    pub options: SimOptions,
}

impl<D: DeviceModel + ?Sized> Simulator<'_, D> {
    fn layout(w: &Workload) -> Layout {
        Layout { tp: w.tp, dp: w.dp, pp: w.pp, ep: w.ep }
    }

    fn comm(&self, op: &Op, l: Layout) -> f64 {
        match *op {
            Op::Comm { coll, group, bytes, .. } => self.network.time(coll, group, bytes, l).value(),
            _ => 0.0,
        }
    }

    fn parts(&self, ops: &[Op], w: &Workload) -> Parts {
        let l = Self::layout(w);
        let mut p = Parts::default();
        for op in ops {
            match *op {
                Op::Gemm { m, n, k, batch, .. } => p.gemm += self.device.gemm_time(m, n, k, batch, w.dtype).value(),
                Op::Mem { bytes, .. } => p.mem += self.device.mem_time(bytes).value(),
                Op::Comm { group: Group::Expert, .. } => p.ep += self.comm(op, l),
                Op::Comm { .. } => p.tp += self.comm(op, l),
            }
        }
        if self.options.tp_overlap {
            p.tp = (p.tp - p.gemm).max(0.0);
        }
        p
    }

    /// Simulates one step.
    #[must_use]
    pub fn step(&self, w: &Workload) -> Breakdown {
        let l = Self::layout(w);
        // per micro-batch, on the stage body
        let mut body_fwd = Parts::default();
        let mut body_bwd = Parts::default();
        let mut body_rc = Parts::default();
        for blk in &w.blocks {
            body_fwd.add(self.parts(&blk.forward, w), blk.per_stage);
            body_bwd.add(self.parts(&blk.backward, w), blk.per_stage);
            body_rc.add(self.parts(&blk.recompute, w), blk.per_stage);
        }
        let mut first = Parts::default();
        first.add(self.parts(&w.embed_forward, w), 1.0);
        first.add(self.parts(&w.embed_backward, w), 1.0);
        let mut last = Parts::default();
        last.add(self.parts(&w.head_forward, w), 1.0);
        last.add(self.parts(&w.head_backward, w), 1.0);
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
        let t_mb = stage.compute() + stage.tp + stage.ep + p2p;
        let bubble = (w.pp as f64 - 1.0) / w.interleave as f64 * t_mb;

        // data parallelism
        let params_bucket = |bytes: Bytes| bytes.value() / 2.0;
        let bwd_window = (body_bwd.compute() + body_rc.compute()).max(0.0);
        let fwd_window = body_fwd.compute();
        let mut dp_exposed = 0.0;
        for op in &w.dp_per_microbatch {
            let t = self.comm(op, l);
            let window = stage.compute() / w.dp_per_microbatch.len().max(1) as f64;
            dp_exposed += m * if self.options.dp_overlap { (t - window).max(0.0) } else { t };
        }
        for op in &w.dp_per_step {
            let t = self.comm(op, l);
            let Op::Comm { role, bytes, .. } = op else { continue };
            let frac = (DP_BUCKET_PARAMS / params_bucket(*bytes).max(1.0)).min(1.0);
            let window = if *role == CommRole::Overlappable { bwd_window } else { fwd_window };
            dp_exposed += if self.options.dp_overlap { (t * frac).max(t - window) } else { t };
        }
        let optimizer: f64 = w.optimizer.iter().map(|o| match *o {
            Op::Mem { bytes, .. } => self.device.mem_time(bytes).value(),
            _ => 0.0,
        }).fold(0.0, |a, x| a + x);
        let compute = m * stage.compute();
        let b = Breakdown {
            compute_s: compute,
            recompute_s: m * body_rc.compute(),
            tp_comm_exposed_s: m * stage.tp,
            ep_comm_exposed_s: m * stage.ep,
            pp_comm_s: m * p2p,
            dp_comm_exposed_s: dp_exposed,
            bubble_s: bubble,
            optimizer_s: optimizer,
            step_time_s: 0.0,
        };
        Breakdown { step_time_s: b.compute_s + b.tp_comm_exposed_s + b.ep_comm_exposed_s + b.pp_comm_s + b.dp_comm_exposed_s + b.bubble_s + b.optimizer_s, ..b }
    }

    /// Step time.
    #[must_use]
    pub fn step_time(&self, w: &Workload) -> Seconds {
        Seconds::new(self.step(w).step_time_s)
    }
}
