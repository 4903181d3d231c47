//! A parallelisation plan: how one training step is split across devices.
//!
//! Tensor (TP, Shoeybi et al. 2019), sequence (SP, Korthikanti et al. 2022),
//! pipeline (PP, 1F1B and interleaved, Narayanan et al. 2021), data (DP)
//! with ZeRO stages 0–3 (Rajbhandari et al. 2020), expert (EP) and context
//! (CP: each rank holds 1/CP of every sequence, keys and values circulate
//! in a ring; Liu et al. 2023 Ring Attention, Megatron-core context
//! parallelism) parallelism.

use crate::catalog::ModelSpec;
use crate::dtype::Dtype;
use crate::flops::Recompute;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Plan {
    pub tp: u64,
    /// Context-parallel size (1 = off): ranks that split each sequence.
    pub cp: u64,
    pub pp: u64,
    pub dp: u64,
    /// Virtual pipeline stages per device (interleaved 1F1B); 1 = plain 1F1B.
    pub interleave: u64,
    pub sp: bool,
    pub ep: u64,
    /// ZeRO stage 0–3 (1 = distributed optimizer).
    pub zero: u8,
    pub recompute: Recompute,
    pub micro_batch: u64,
    pub global_batch: u64,
    pub dtype: Dtype,
}

/// Why a plan cannot run; each message names the flag to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("--gpus {gpus} is not divisible by --tp {tp} x --pp {pp} = {}; choose --tp/--pp whose product divides the GPU count", tp * pp)]
    GpusNotDivisible { gpus: u64, tp: u64, pp: u64 },
    #[error("--gpus {gpus} is not divisible by --tp {tp} x --cp {cp} x --pp {pp} = {}; choose sizes whose product divides the GPU count", tp * cp * pp)]
    GpusNotDivisibleCp { gpus: u64, tp: u64, cp: u64, pp: u64 },
    #[error("--cp {cp} needs the sequence length ({seq_len}) divisible by 2 x --cp = {} (each rank takes two chunks for causal load balance); choose a divisor", 2 * cp)]
    CpSeq { cp: u64, seq_len: u64 },
    #[error("--tp {tp} does not divide the model's {heads} attention heads; use a divisor of {heads}")]
    TpHeads { tp: u64, heads: u64 },
    #[error("--tp {tp} does not divide the model's {kv} key/value heads; use a divisor of {kv} (or 1..{kv})")]
    TpKvHeads { tp: u64, kv: u64 },
    #[error("--pp {pp} x --interleave {v} = {} exceeds the model's {layers} layers; use fewer pipeline stages", pp * v)]
    PpLayers { pp: u64, v: u64, layers: u64 },
    #[error("--global-batch {global} is not divisible by data-parallel size {dp} x --micro-batch {micro}; choose a global batch that is a multiple of {}", dp * micro)]
    Batch { global: u64, dp: u64, micro: u64 },
    #[error("--interleave {v} needs --pp > 1 and the number of micro-batches per step ({m}) divisible by --pp {pp}")]
    Interleave { v: u64, pp: u64, m: u64 },
    #[error("--sp (sequence parallelism) needs --tp > 1")]
    SpWithoutTp,
    #[error("--ep {ep} must divide the model's {experts} experts and the data x context-parallel size {dp}")]
    Ep { ep: u64, experts: u64, dp: u64 },
    #[error("--zero {0} is not a ZeRO stage; use 0, 1, 2 or 3")]
    Zero(u8),
    #[error("{flag} must be at least 1")]
    Zeroed { flag: &'static str },
}

impl Plan {
    /// Devices in the plan.
    #[must_use]
    pub fn gpus(&self) -> u64 {
        self.tp * self.cp * self.pp * self.dp
    }
    /// Tokens of each sequence one context-parallel rank holds.
    #[must_use]
    pub fn local_seq(&self, seq_len: u64) -> u64 {
        (seq_len / self.cp.max(1)).max(1)
    }
    /// Micro-batches per step per pipeline (gradient accumulation steps).
    #[must_use]
    pub fn micro_batches(&self) -> u64 {
        self.global_batch / (self.dp * self.micro_batch).max(1)
    }

    /// Checks the plan against a model.
    ///
    /// # Errors
    /// The first violated constraint, naming the flag.
    pub fn validate(&self, spec: &ModelSpec) -> Result<(), PlanError> {
        for (flag, v) in [
            ("--tp", self.tp),
            ("--cp", self.cp),
            ("--pp", self.pp),
            ("data-parallel size", self.dp),
            ("--interleave", self.interleave),
            ("--micro-batch", self.micro_batch),
            ("--global-batch", self.global_batch),
            ("--ep", self.ep),
        ] {
            if v == 0 {
                return Err(PlanError::Zeroed { flag });
            }
        }
        if self.zero > 3 {
            return Err(PlanError::Zero(self.zero));
        }
        if !spec.heads.is_multiple_of(self.tp) {
            return Err(PlanError::TpHeads { tp: self.tp, heads: spec.heads });
        }
        let kv = spec.kv_heads();
        if spec.mla.is_none() && !kv.is_multiple_of(self.tp) && !self.tp.is_multiple_of(kv) {
            return Err(PlanError::TpKvHeads { tp: self.tp, kv });
        }
        let layers = spec.total_layers();
        if self.pp * self.interleave > layers {
            return Err(PlanError::PpLayers { pp: self.pp, v: self.interleave, layers });
        }
        if self.sp && self.tp == 1 {
            return Err(PlanError::SpWithoutTp);
        }
        if !self.global_batch.is_multiple_of(self.dp * self.micro_batch) {
            return Err(PlanError::Batch { global: self.global_batch, dp: self.dp, micro: self.micro_batch });
        }
        if self.interleave > 1 && (self.pp == 1 || !self.micro_batches().is_multiple_of(self.pp)) {
            return Err(PlanError::Interleave { v: self.interleave, pp: self.pp, m: self.micro_batches() });
        }
        let experts = spec.moe.as_ref().map_or(1, |m| u64::from(m.experts));
        // Megatron-core folds expert parallelism over the data x context ranks
        if self.ep > 1 && (!experts.is_multiple_of(self.ep) || !(self.dp * self.cp).is_multiple_of(self.ep)) {
            return Err(PlanError::Ep { ep: self.ep, experts, dp: self.dp * self.cp });
        }
        Ok(())
    }
}
