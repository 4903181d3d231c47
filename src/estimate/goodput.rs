//! The goodput stage (predict mode): the ideal wall clock of the timing
//! stage divided by the production goodput of src/goodput.rs (failures,
//! restarts, checkpoints, evaluation), or by `--goodput`. GPU-hours,
//! energy, CO2e and cost follow the longer wall clock; step time, MFU and
//! TFLOP/s stay those of productive time. Accounted runs are left alone:
//! measured hours already include their failures.

use super::timing::Timing;
use crate::goodput::{self, GoodputInputs, GoodputModel};
use crate::notes::Note;
use crate::scenario::{Mode, Scenario};
use crate::units::Seconds;
use serde::Serialize;

/// The goodput in the output.
#[derive(Debug, Clone, Serialize)]
pub struct GoodputOut {
    /// Productive time / wall time applied to the ideal wall clock.
    pub factor: f64,
    /// `model` (src/goodput.rs) or `--goodput`.
    pub source: String,
    /// The model's terms (also when `--goodput` overrides the factor).
    pub model: GoodputModel,
}

/// What the goodput stage found.
#[derive(Debug, Clone)]
pub struct GoodputStage {
    pub out: Option<GoodputOut>,
    /// `ln` of the wall-time factor when the failure rate is multiplied by
    /// `exp(+σ)` and `exp(−σ)` (σ = `Spreads::GOODPUT_LOG_SIGMA`); `None`
    /// when the factor or the rate was given.
    pub response: Option<(f64, f64)>,
    pub notes: Vec<Note>,
}

/// Runs the stage, lengthening `t.wall` in predict mode.
pub fn run(sc: &Scenario, t: &mut Timing) -> GoodputStage {
    let mut notes = Vec::new();
    if sc.mode() == Mode::Account {
        if sc.goodput.factor.is_some() {
            notes.push(Note::Info("--goodput is not applied to an accounted run: measured hours already include failures and restarts".into()));
        }
        return GoodputStage { out: None, response: None, notes };
    }
    let params = sc.model.params();
    let trainable = match sc.fine_tune {
        crate::flops::FineTune::Full => params.total,
        crate::flops::FineTune::Lora { rank } => crate::flops::lora_params(&sc.model, rank),
    };
    let inputs = GoodputInputs::new(sc.gpus as f64, params.total, trainable, &sc.goodput);
    let m = goodput::model(&inputs);
    let (factor, source) = match sc.goodput.factor {
        Some(f) => (f, "--goodput".to_string()),
        None => (m.factor, "model".to_string()),
    };
    t.wall = Seconds::new(t.wall_ideal.value() / factor);
    if sc.goodput.factor.is_none() {
        notes.push(Note::Info(format!(
            "production goodput {:.3} (src/goodput.rs): job MTTI {:.1} h at {:.2e} interruptions per GPU-hour (Llama 3 2024), checkpoint {:.1} s every {:.0} s (Young 1974), {:.0} s restart; wall clock = ideal / goodput; the run's average power is applied to the whole wall clock; --goodput 1 gives the ideal run",
            factor, m.mtti_h, m.failure_rate_per_gpu_hour, m.checkpoint_write_s, m.checkpoint_interval_s, m.restart_s
        )));
    }
    if m.floored && sc.goodput.factor.is_none() {
        notes.push(Note::Info(format!("goodput floored at {}: at this failure rate the job would spend nearly all its time recovering", goodput::MIN_GOODPUT)));
    }
    let response = if sc.goodput.factor.is_none() && sc.goodput.failure_rate_per_gpu_hour.is_none() {
        let s = crate::uncertainty::Spreads::GOODPUT_LOG_SIGMA;
        let at = |k: f64| goodput::model(&GoodputInputs { failure_rate_per_gpu_hour: inputs.failure_rate_per_gpu_hour * k, ..inputs }).factor;
        Some(((m.factor / at(s.exp())).ln(), (m.factor / at((-s).exp())).ln()))
    } else {
        None
    };
    GoodputStage { out: Some(GoodputOut { factor, source, model: m }), response, notes }
}
