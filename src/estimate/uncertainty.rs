//! The uncertainty stage: which inputs are uncertain, and how much, for
//! this scenario (measured inputs are not varied), then the Monte Carlo of
//! src/uncertainty.rs.

use super::footprint::FootprintStage;
use super::power::Power;
use super::timing::{TimeSource, Timing};
use crate::power::{PowerParams, PowerSpread};
use crate::scenario::Scenario;
use crate::uncertainty::{monte_carlo, Point, PowerSampler, Spreads, Uncertainty, POWER_DRAWS};

/// Monte Carlo samples per estimate by default (P5/P95 stable to ~1 % at 4,000; `--samples`).
pub const UNCERTAINTY_SAMPLES: usize = crate::uncertainty::DEFAULT_SAMPLES;
/// Default seed: the same scenario always prints the same ranges (`--seed`).
pub const UNCERTAINTY_SEED: u64 = crate::uncertainty::DEFAULT_SEED;

/// The spreads of this scenario's uncertain inputs, with the scenario's
/// `spread_*` overrides laid over the defaults.
#[must_use]
pub fn spreads(sc: &Scenario, t: &Timing, p: &Power, goodput_varied: bool) -> Spreads {
    default_spreads(sc, t, p, goodput_varied).with(&sc.uncertainty.overrides)
}

fn default_spreads(sc: &Scenario, t: &Timing, p: &Power, goodput_varied: bool) -> Spreads {
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
        power_varied: !p.measured && p.inputs.is_some(),
        power_sigma_scale: 1.0,
        pue_rel_sigma: if sc.site_values.pue_given { 0.0 } else { Spreads::PUE_REL_SIGMA },
        grid_rel_sigma: if sc.site_values.grid_given { 0.0 } else { Spreads::GRID_REL_SIGMA },
        embodied_log_sigma: Spreads::EMBODIED_LOG_SIGMA,
        price_log_sigma: sc.price_log_sigma.unwrap_or(Spreads::PRICE_LOG_SIGMA),
        goodput_log_sigma: if goodput_varied { Spreads::GOODPUT_LOG_SIGMA } else { 0.0 },
    }
}

/// The power model's response to each uncertain constant at ±1σ, as
/// `ln` factors (see src/uncertainty.rs for how samples combine them).
#[must_use]
pub fn power_response(p: &Power) -> Option<([f64; POWER_DRAWS], [f64; POWER_DRAWS])> {
    let (inputs, phases) = p.inputs.as_ref()?;
    let spread = PowerSpread::default();
    let params = PowerParams::default();
    let mut up = [0.0; POWER_DRAWS];
    let mut down = [0.0; POWER_DRAWS];
    for i in 0..POWER_DRAWS {
        let mut z = [0.0; POWER_DRAWS];
        z[i] = 1.0;
        up[i] = spread.sample(inputs, phases, &params, &z).max(1e-9).ln();
        z[i] = -1.0;
        down[i] = spread.sample(inputs, phases, &params, &z).max(1e-9).ln();
    }
    Some((up, down))
}

/// Runs the uncertainty stage.
#[must_use]
pub fn run(sc: &Scenario, t: &Timing, p: &Power, f: &FootprintStage, goodput: Option<(f64, f64)>) -> Uncertainty {
    let fp = &f.footprint;
    let response = if p.measured { None } else { power_response(p) };
    let sampler = response.map(|(up, down)| {
        move |z: &[f64; POWER_DRAWS]| -> f64 { z.iter().enumerate().map(|(i, &zi)| if zi >= 0.0 { up[i] * zi } else { down[i] * -zi }).sum::<f64>().exp() }
    });
    monte_carlo(
        &Point {
            wall_time_h: t.wall.hours(),
            gpus: sc.gpus as f64,
            energy_it_kwh: fp.energy_it.kwh(),
            pue: sc.site_values.pue.value,
            grid_g_per_kwh: sc.site_values.grid.value.value(),
            embodied_kg: fp.co2e_embodied.value(),
            price_per_gpu_hour: sc.price_per_gpu_hour.as_ref().map(|r| r.value.value()),
            capex_usd: fp.capex.map(crate::units::Usd::value),
            electricity_usd_per_kwh: sc.site_values.electricity.value.value(),
            goodput_ln_response: goodput.unwrap_or((0.0, 0.0)),
        },
        &spreads(sc, t, p, goodput.is_some()),
        sc.uncertainty.samples,
        sc.uncertainty.seed,
        sampler.as_ref().map(|f| f as PowerSampler<'_>),
    )
}
