//! The timing stage: the wall-clock time of the run and where it comes
//! from — the simulated step, an MFU, or a measurement.
//!
//! * Simulated: `wall = steps x step_time`, `steps = tokens / (global
//!   batch x seq len)`, the step from the workload, device and network
//!   models (src/simulator).
//! * MFU: `wall = model FLOPs / (GPUs x peak x MFU)` (`--mfu`, or the
//!   family default with `--no-simulate`, src/device.rs).
//! * Measured: `--hours`, or `--gpu-hours / GPUs`.
//!
//! MFU is `model FLOPs / (GPUs x peak x wall)`; it is reported only where
//! the tokens are known and never above 1 (an accounted run whose tokens
//! and time imply more is reported without MFU, with a note).

use super::compute::Compute;
use crate::notes::Note;
use crate::scenario::{MeasuredTime, Scenario, Throughput};
use crate::simulator::{Breakdown, Simulator};
use crate::units::{Flop, Seconds};

/// Where the wall-clock time comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeSource {
    /// The step-time simulator.
    Simulated { breakdown: Breakdown },
    /// FLOPs over an MFU.
    Mfu { mfu: f64, source: String },
    /// Measured on the run.
    Measured(MeasuredTime),
}

/// What the timing stage found.
#[derive(Debug, Clone)]
pub struct Timing {
    /// The wall clock of the run (after the goodput stage: ideal / goodput).
    pub wall: Seconds,
    /// The wall clock of productive time (no failures, checkpoints, evaluation).
    pub wall_ideal: Seconds,
    pub source: TimeSource,
    /// The step simulated for the power model's phase mix, when a plan
    /// exists (also in accounting mode and with `--mfu`).
    pub phases: Option<Breakdown>,
    pub flops_model: Option<Flop>,
    pub flops_hardware: Option<Flop>,
    pub steps: Option<f64>,
    pub mfu: Option<f64>,
    pub hfu: Option<f64>,
    pub notes: Vec<Note>,
}

impl Timing {
    /// A human description of the time source.
    #[must_use]
    pub fn source_text(&self) -> String {
        match &self.source {
            TimeSource::Simulated { .. } => {
                "simulated: step time from the workload, device and network models (src/simulator); MFU = model FLOPs / (GPUs x peak x time)".into()
            }
            TimeSource::Mfu { source, .. } => source.clone(),
            TimeSource::Measured(_) => "measured: model FLOPs / (GPUs x peak x measured time)".into(),
        }
    }
}

/// Runs the timing stage.
#[must_use]
pub fn run(sc: &Scenario, c: &Compute) -> Timing {
    let mut notes = Vec::new();
    let gpus = sc.gpus as f64;
    let peak_cluster = c.machine.peak * gpus;
    let flops_model = sc.tokens.map(|t| c.flops.model * t);
    let flops_hardware = sc.tokens.map(|t| c.flops.hardware * t);
    // the simulated step: the time in predict mode, the phase mix always
    let phases = c.step.as_ref().map(|s| Simulator { device: c.machine.device.as_ref(), network: &c.machine.network, options: s.options }.step(&s.workload));
    let steps = match (&c.step, sc.tokens) {
        (Some(s), Some(t)) => Some(t / (s.plan.global_batch as f64 * sc.seq_len as f64)),
        _ => None,
    };
    let (wall, source) = match (sc.measured_time, sc.throughput) {
        (Some(m), _) => {
            let w = match m {
                MeasuredTime::Hours(h) => Seconds::from_hours(h),
                MeasuredTime::GpuHours(gh) => Seconds::from_hours(gh / gpus),
            };
            (w, TimeSource::Measured(m))
        }
        (None, Throughput::Mfu(m)) => (flops_model.unwrap_or(Flop::ZERO) / (peak_cluster * m), TimeSource::Mfu { mfu: m, source: "--mfu".into() }),
        (None, Throughput::DefaultMfu) => {
            let dm = crate::default_mfu::default_mfu(&sc.accelerator);
            let source = format!("default for {} ({}): {}", sc.accelerator.family, sc.accelerator.id, dm.source);
            (flops_model.unwrap_or(Flop::ZERO) / (peak_cluster * dm.mfu), TimeSource::Mfu { mfu: dm.mfu, source })
        }
        (None, Throughput::Simulate) => {
            // predict mode always has a plan (the compute stage fails otherwise)
            let b = phases.unwrap_or_default();
            (Seconds::new(b.step_time_s * steps.unwrap_or(0.0)), TimeSource::Simulated { breakdown: b })
        }
    };
    let util = |f: Option<Flop>| f.map(|f| f / (peak_cluster * wall)).filter(|u| u.is_finite());
    let mut mfu = util(flops_model);
    let hfu = util(flops_hardware).filter(|h| *h <= 1.0);
    if sc.tokens.is_none() {
        notes.push(Note::NoTokensNoMfu);
    }
    if let Some(m) = mfu.filter(|m| *m > 1.0) {
        notes.push(Note::ImpossibleMfu { mfu: m });
        mfu = None;
    }
    Timing { wall, wall_ideal: wall, source, phases, flops_model, flops_hardware, steps, mfu, hfu, notes }
}
