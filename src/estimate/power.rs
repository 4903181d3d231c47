//! The power stage: the average power of the job while it runs.
//!
//! The phase-aware model of src/power.rs follows the simulated step: each
//! phase (GEMMs at their achieved efficiency, memory-bound kernels,
//! exposed communication, bubble, optimizer) draws an accelerator power
//! between idle and cap, the node remainder follows the accelerators'
//! activity, and fabric switches are charged per NIC port for multi-node
//! runs. Without a simulated step (no plan) the phase mix comes from the
//! MFU (given, measured, or the family default), with a note. Measured
//! power (`--power-per-gpu`, `--total-power`) overrides everything; the
//! model still reports its breakdown and the nameplate bound.

use super::compute::Compute;
use super::timing::Timing;
use crate::notes::Note;
use crate::power::{self, PhaseTimes, PowerEstimate, PowerInputs, PowerParams};
use crate::scenario::{MeasuredPower, Scenario};
use crate::units::{Flop, Seconds, Watts};

/// What the power stage found.
#[derive(Debug, Clone)]
pub struct Power {
    /// Average power of the whole job.
    pub total: Watts,
    /// Of which the accelerators (when modelled).
    pub accelerators: Option<Watts>,
    /// Of which the fabric switches (when modelled).
    pub network: Option<Watts>,
    /// The nameplate upper bound of the whole job (node maximum, or
    /// accelerator TDP without a system).
    pub nameplate: Watts,
    /// Given by the user (not varied by the uncertainty stage).
    pub measured: bool,
    pub source: String,
    /// The model: per-phase accelerator power, node remainder, network.
    pub model: Option<PowerEstimate>,
    /// The model's inputs, for the uncertainty stage.
    pub inputs: Option<(PowerInputs, PhaseTimes)>,
    pub notes: Vec<Note>,
}

/// The step's phase mix: from the simulated step, else from the MFU.
fn phases(sc: &Scenario, c: &Compute, t: &Timing, notes: &mut Vec<Note>) -> PhaseTimes {
    if let (Some(b), Some(step)) = (&t.phases, &c.step) {
        let tokens_step = step.plan.global_batch as f64 * sc.seq_len as f64;
        let hw_per_device = Flop::new(c.flops.hardware.value() * tokens_step / sc.gpus as f64);
        let e = power::gemm_efficiency(hw_per_device, Seconds::new(b.gemm_s), c.machine.peak);
        let (p, n) = PhaseTimes::from_breakdown(b, sc.dtype, Some(e.min(1.0)));
        notes.extend(n.into_iter().map(Note::Info));
        return p;
    }
    let mfu = t.mfu.unwrap_or_else(|| crate::default_mfu::default_mfu(&sc.accelerator).mfu);
    let e_max = crate::simulator::AnalyticDevice::new(&sc.accelerator).max_gemm_efficiency();
    let (p, n) = PhaseTimes::from_mfu(mfu, sc.dtype, e_max);
    notes.push(Note::Info(n));
    p
}

/// Runs the power stage.
///
/// # Errors
/// A calibrated local device with no measured power and no override.
pub fn run(sc: &Scenario, c: &Compute, t: &Timing) -> Result<Power, super::EstimateError> {
    let mut notes = Vec::new();
    if !sc.accelerator.tdp_w.is_finite() {
        if sc.measured_power.is_none() {
            return Err(super::EstimateError::Calibration(format!(
                "the calibration profile of `{}` has no measured power (RAPL/NVML were not readable when it was made): give --power-per-gpu W or --total-power W",
                sc.accelerator.name
            )));
        }
        let total = match sc.measured_power {
            Some(MeasuredPower::PerGpu(w)) => w * sc.gpus as f64,
            Some(MeasuredPower::Total(w)) => w,
            None => unreachable!("checked above"),
        };
        return Ok(Power {
            total,
            accelerators: None,
            network: None,
            nameplate: total,
            measured: true,
            source: "measured (no power model for this calibrated device)".into(),
            model: None,
            inputs: None,
            notes,
        });
    }
    let gpus = sc.gpus as f64;
    let ph = phases(sc, c, t, &mut notes);
    let mut inputs = PowerInputs::new(&sc.accelerator, sc.system.as_ref(), gpus);
    // a calibration profile of this GPU model: its measured GEMM power
    // replaces the datasheet TDP as the accelerator's cap
    let measured_cap = sc.calibration.as_ref().filter(|_| !sc.local_machine).and_then(|p| crate::calibrate::local::measured_gemm_power_w(p, sc.dtype));
    if let Some(w) = measured_cap {
        inputs.acc_cap_w = Watts::new(w).max(inputs.acc_idle_w);
        notes.push(Note::Info(format!(
            "power: the accelerator's cap is its measured {} GEMM power {w:.0} W (calibration profile), not the datasheet's {} W",
            sc.dtype, sc.accelerator.tdp_w
        )));
    }
    let model = power::estimate(&inputs, &ph, &PowerParams::default());
    notes.extend(model.notes.iter().cloned().map(Note::Info));
    if sc.system.is_none() && !sc.local_machine {
        notes.push(Note::AcceleratorOnlyPower);
    }
    let nameplate = model.nameplate_w_per_gpu * gpus;
    let (total, accelerators, network, measured, source) = match sc.measured_power {
        Some(MeasuredPower::PerGpu(w)) => (w * gpus, None, None, true, "--power-per-gpu (measured, incl. node share)".to_string()),
        Some(MeasuredPower::Total(w)) => (w, None, None, true, "--total-power (measured, whole job)".to_string()),
        None => (model.power_per_gpu_w * gpus, Some(model.accelerator_w * gpus), Some(model.network_w_per_gpu * gpus), false, model.source.clone()),
    };
    Ok(Power { total, accelerators, network, nameplate, measured, source, model: Some(model), inputs: Some((inputs, ph)), notes })
}
