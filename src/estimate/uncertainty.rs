//! The uncertainty stage: which inputs are uncertain, and how much, for
//! this scenario (measured inputs are not varied), then the Monte Carlo of
//! src/uncertainty.rs.

use super::footprint::FootprintStage;
use super::power::Power;
use super::timing::{TimeSource, Timing};
use crate::scenario::Scenario;
use crate::uncertainty::{monte_carlo, Point, Spreads, Uncertainty};

/// Monte Carlo samples per estimate (P5/P95 stable to ~1 % at 4,000).
pub const UNCERTAINTY_SAMPLES: usize = 4000;
/// Fixed seed: the same scenario always prints the same ranges.
pub const UNCERTAINTY_SEED: u64 = 0x666c_6f70_7072_696e;

/// The spreads of this scenario's uncertain inputs.
#[must_use]
pub fn spreads(sc: &Scenario, t: &Timing, p: &Power) -> Spreads {
    Spreads {
        throughput_log_sigma: match &t.source {
            TimeSource::Measured(_) => 0.0,
            TimeSource::Mfu { source, .. } if source == "--mfu" => 0.0,
            TimeSource::Mfu { .. } => Spreads::DEFAULT_MFU_LOG_SIGMA,
            TimeSource::Simulated { .. } if sc.calibration.is_some() => Spreads::CALIBRATED_LOG_SIGMA,
            // the device model is validated on A100 (Korthikanti Table 5);
            // other families run on scaled A100 curves
            TimeSource::Simulated { .. } if sc.accelerator.family == "ampere" => Spreads::SIMULATED_LOG_SIGMA,
            TimeSource::Simulated { .. } => Spreads::SIMULATED_OTHER_LOG_SIGMA,
        },
        power_low: if p.measured { 1.0 } else { Spreads::POWER_LOW },
        pue_rel_sigma: if sc.site_values.pue_given { 0.0 } else { Spreads::PUE_REL_SIGMA },
        grid_rel_sigma: if sc.site_values.grid_given { 0.0 } else { Spreads::GRID_REL_SIGMA },
        embodied_log_sigma: Spreads::EMBODIED_LOG_SIGMA,
        price_log_sigma: match &sc.price_per_gpu_hour {
            Some(r) if r.source == "--price-per-gpu-hour" => 0.0,
            _ => Spreads::PRICE_LOG_SIGMA,
        },
    }
}

/// Runs the uncertainty stage.
#[must_use]
pub fn run(sc: &Scenario, t: &Timing, p: &Power, f: &FootprintStage) -> Uncertainty {
    let fp = &f.footprint;
    monte_carlo(
        &Point {
            wall_time_h: t.wall.hours(),
            gpus: sc.gpus as f64,
            energy_it_kwh: fp.energy_it.kwh(),
            pue: sc.site_values.pue.value,
            grid_g_per_kwh: sc.site_values.grid.value.value(),
            embodied_kg: fp.co2e_embodied.value(),
            price_per_gpu_hour: sc.price_per_gpu_hour.as_ref().map(|r| r.value.value()),
        },
        &spreads(sc, t, p),
        UNCERTAINTY_SAMPLES,
        UNCERTAINTY_SEED,
    )
}
