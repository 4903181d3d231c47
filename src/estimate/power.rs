//! The power stage: the average power of the job while it runs.
//!
//! Measured power (`--power-per-gpu`, `--total-power`) overrides
//! everything. Otherwise the power model of src/footprint.rs gives each
//! accelerator and its share of the node.

use super::timing::Timing;
use crate::footprint::PowerModel;
use crate::notes::Note;
use crate::scenario::{MeasuredPower, Scenario};
use crate::units::Watts;

/// What the power stage found.
#[derive(Debug, Clone)]
pub struct Power {
    /// Average power of the whole job.
    pub total: Watts,
    /// Of which the accelerators (when modelled).
    pub accelerators: Option<Watts>,
    /// The nameplate upper bound of the whole job (node maximum, or
    /// accelerator TDP without a system).
    pub nameplate: Watts,
    /// Given by the user (not varied by the uncertainty stage).
    pub measured: bool,
    pub source: String,
    pub notes: Vec<Note>,
}

/// Runs the power stage.
///
/// # Errors
/// A calibrated local device with no measured power and no override.
pub fn run(sc: &Scenario, _t: &Timing) -> Result<Power, super::EstimateError> {
    if !sc.accelerator.tdp_w.is_finite() && sc.measured_power.is_none() {
        return Err(super::EstimateError::Calibration(format!(
            "the calibration profile of `{}` has no measured power (RAPL/NVML were not readable when it was made): give --power-per-gpu W or --total-power W",
            sc.accelerator.name
        )));
    }
    let gpus = sc.gpus as f64;
    let mut notes = Vec::new();
    let pm = PowerModel {
        acc_idle: sc.accelerator.idle(),
        acc_tdp: sc.accelerator.tdp(),
        node: sc.system.as_ref().map(|s| (s.idle_power(), s.max_power(), s.accelerators_per_node)),
    };
    let full = pm.at(1.0);
    let nameplate = full.total() * gpus;
    Ok(match sc.measured_power {
        Some(MeasuredPower::PerGpu(w)) => Power { total: w * gpus, accelerators: None, nameplate, measured: true, source: "--power-per-gpu (measured, incl. node share)".into(), notes },
        Some(MeasuredPower::Total(w)) => Power { total: w, accelerators: None, nameplate, measured: true, source: "--total-power (measured, whole job)".into(), notes },
        None => {
            let source = if let Some(s) = &sc.system { format!("model: {} at TDP {} W plus its 1/{} share of the {} node remainder ({} W max node power)", sc.accelerator.id, sc.accelerator.tdp_w, s.accelerators_per_node, s.id, s.node_max_power_w) } else {
                notes.push(Note::AcceleratorOnlyPower);
                format!("model: {} at TDP {} W (accelerator only)", sc.accelerator.id, sc.accelerator.tdp_w)
            };
            Power { total: full.total() * gpus, accelerators: Some(full.accelerator * gpus), nameplate, measured: false, source, notes }
        }
    })
}
