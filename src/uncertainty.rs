//! Monte Carlo over the uncertain inputs of an estimate → P5 / P50 / P95.
//!
//! Every figure flopprint prints is a product of its inputs (time ∝ 1/MFU,
//! energy = power × time × PUE, CO2e = energy × grid + embodied × time /
//! lifetime, cost = GPU-hours × price), so each sample rescales the point
//! estimate by independently drawn factors. Inputs given by the user as
//! measurements (`--hours`, `--gpu-hours`, `--total-power`, `--power-per-gpu`,
//! `--pue`, `--grid-intensity`, `--price-per-gpu-hour`, `--mfu`) are not
//! varied. The spreads below are stated assumptions, each with the evidence
//! that motivates its width; they are not fitted to any result.
//!
//! | input | factor distribution | evidence for the width |
//! |---|---|---|
//! | throughput (default MFU) | lognormal, σ = 0.20 | published MFUs on one family span ~0.7–1.3× the default: A100 runs at 30–55 % (Narayanan 2021; Zhang 2022 OPT; Le Scao 2022 BLOOM) |
//! | throughput (simulated, A100) | lognormal, σ = 0.05 | flopprint's simulator: mean 2.3 %, max 3.7 % error on Korthikanti 2022 Table 5 (A100); Calculon 3.65 % / 8.87 % |
//! | throughput (simulated, other) | lognormal, σ = 0.15 | other families run on A100 efficiency curves scaled to their datasheets: unvalidated, so wider |
//! | throughput (calibrated device) | lognormal, σ = 0.07 | `flopprint calibrate --check`: predicted vs executed GEMM sequences within 0.7–2.1 % on an idle CPU, 11–40 % on a loaded one |
//! | modelled power | the power model's own constants, lognormal around their point values (`PowerSpread`, src/power.rs), centred on the printed figure | the constants are fitted on four named measurements or estimated; see src/power.rs |
//! | PUE (site default) | normal, σ = 3 % | quarterly fleet PUE varies ±2–4 % (Google 2023 environmental report) |
//! | grid intensity (site default) | normal, σ = 10 % | annual averages move ~5–15 % year on year (Ember 2024) |
//! | embodied carbon | lognormal, σ = 0.5 | LCA estimates for one GPU differ ~2× between methods (LLMCarbon vs vendor PCFs) |
//! | rental price (catalog) | lognormal, σ = ln(high/low)/(2·1.645) from the tier's sourced provider range (P5–P95 ≈ low–high), else σ = 0.25 | providers' price lists per tier (hardware/accelerators `[rental_tiers]`); without a range, on-demand vs committed vs spot differ by ~2× |
//! | failure rate (goodput model) | lognormal, σ = 0.5, through the goodput model's response | Llama 3 2024 §3.3.4: 1.3e-5 (GPU causes) to 2.2e-5 (incl. planned) per GPU-hour; OPT 2021 cloud ≈4× (derived from "~2 machines go down every day") |
//!
//! Sampling uses a fixed-seed SplitMix64 generator and statrs' inverse CDFs,
//! so results are reproducible. The power factor is separable and
//! log-linear per constant: the power model is evaluated once at ±1σ of each
//! constant (14 evaluations per estimate), and a sample with draws `z`
//! takes `exp(Σ_i z_i·ln f_i(sign z_i))`; this keeps the Monte Carlo at
//! O(samples) cheap arithmetic while following the model's asymmetric
//! response (activities clamp at 1).

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

/// Which inputs vary and by how much (σ of the log, or of the relative
/// normal), per the table above.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spreads {
    pub throughput_log_sigma: f64,
    /// Whether power is varied (through the power model's constants).
    pub power_varied: bool,
    pub pue_rel_sigma: f64,
    pub grid_rel_sigma: f64,
    pub embodied_log_sigma: f64,
    pub price_log_sigma: f64,
    /// σ of the log of the goodput model's failure rate (0: not varied).
    pub goodput_log_sigma: f64,
}

impl Spreads {
    /// No uncertainty on anything.
    pub const NONE: Spreads = Spreads {
        throughput_log_sigma: 0.0,
        power_varied: false,
        pue_rel_sigma: 0.0,
        grid_rel_sigma: 0.0,
        embodied_log_sigma: 0.0,
        price_log_sigma: 0.0,
        goodput_log_sigma: 0.0,
    };
    pub const DEFAULT_MFU_LOG_SIGMA: f64 = 0.20;
    pub const SIMULATED_LOG_SIGMA: f64 = 0.05;
    pub const SIMULATED_OTHER_LOG_SIGMA: f64 = 0.15;
    pub const CALIBRATED_LOG_SIGMA: f64 = 0.07;
    pub const PUE_REL_SIGMA: f64 = 0.03;
    pub const GRID_REL_SIGMA: f64 = 0.10;
    pub const EMBODIED_LOG_SIGMA: f64 = 0.5;
    pub const PRICE_LOG_SIGMA: f64 = 0.25;
    pub const GOODPUT_LOG_SIGMA: f64 = 0.5;
}

/// Percentiles of one output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

/// P5/P50/P95 of the main outputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uncertainty {
    pub samples: usize,
    pub wall_time_h: Range,
    pub gpu_hours: Range,
    pub energy_facility_kwh: Range,
    pub co2e_total_kg: Range,
    pub cost_rental_usd: Option<Range>,
    pub spreads: Spreads,
}

/// The point estimate's figures that samples rescale.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub wall_time_h: f64,
    pub gpus: f64,
    pub energy_it_kwh: f64,
    pub pue: f64,
    pub grid_g_per_kwh: f64,
    pub embodied_kg: f64,
    pub price_per_gpu_hour: Option<f64>,
    /// `ln` of the wall-time factor at failure rate × exp(±σ) (goodput).
    pub goodput_ln_response: (f64, f64),
}

struct SplitMix64(u64);
impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in the open interval (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    // linear interpolation between order statistics (Hyndman & Fan type 7)
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn range(mut v: Vec<f64>) -> Range {
    v.sort_by(f64::total_cmp);
    Range { p5: percentile(&v, 0.05), p50: percentile(&v, 0.50), p95: percentile(&v, 0.95) }
}

/// Standard-normal draws a power sampler takes.
pub const POWER_DRAWS: usize = crate::power::PowerSpread::DRAWS;

/// A factor on the point estimate's power for standard-normal draws.
pub type PowerSampler<'a> = &'a dyn Fn(&[f64; POWER_DRAWS]) -> f64;

/// Draws `n` samples of the outputs; `power` gives the power factor of
/// a sample (modelled power), `None` keeps power fixed.
#[must_use]
pub fn monte_carlo(p: &Point, s: &Spreads, n: usize, seed: u64, power: Option<PowerSampler<'_>>) -> Uncertainty {
    let std = Normal::new(0.0, 1.0).expect("unit normal");
    let mut rng = SplitMix64(seed);
    let n = n.max(2);
    let (mut wall, mut gh, mut energy, mut co2, mut cost) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let mut z = || std.inverse_cdf(rng.unit());
        let power = match power {
            Some(f) if s.power_varied => {
                let draws: [f64; POWER_DRAWS] = std::array::from_fn(|_| z());
                f(&draws)
            }
            _ => 1.0,
        };
        let speed = (s.throughput_log_sigma * z()).exp();
        let pue = (p.pue * (1.0 + s.pue_rel_sigma * z())).max(1.0);
        let grid = (p.grid_g_per_kwh * (1.0 + s.grid_rel_sigma * z())).max(0.0);
        let emb = p.embodied_kg * (s.embodied_log_sigma * z()).exp();
        let price = (s.price_log_sigma * z()).exp();
        // drawn last, and only when varied, so runs without it keep their stream
        let lost = if s.goodput_log_sigma > 0.0 {
            let zg = z();
            if zg >= 0.0 {
                (p.goodput_ln_response.0 * zg).exp()
            } else {
                (p.goodput_ln_response.1 * -zg).exp()
            }
        } else {
            1.0
        };
        // time scales as 1 / throughput and 1 / goodput
        let scale_t = lost / speed;
        let t = p.wall_time_h * scale_t;
        let e_fac = p.energy_it_kwh * scale_t * power * pue;
        wall.push(t);
        gh.push(t * p.gpus);
        energy.push(e_fac);
        co2.push(e_fac * grid / 1000.0 + emb * scale_t);
        if let Some(pr) = p.price_per_gpu_hour {
            cost.push(t * p.gpus * pr * price);
        }
    }
    Uncertainty {
        samples: n,
        wall_time_h: range(wall),
        gpu_hours: range(gh),
        energy_facility_kwh: range(energy),
        co2e_total_kg: range(co2),
        cost_rental_usd: p.price_per_gpu_hour.map(|_| range(cost)),
        spreads: *s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> Point {
        Point {
            wall_time_h: 100.0,
            gpus: 8.0,
            energy_it_kwh: 1000.0,
            pue: 1.2,
            grid_g_per_kwh: 400.0,
            embodied_kg: 50.0,
            price_per_gpu_hour: Some(2.0),
            goodput_ln_response: (0.0, 0.0),
        }
    }

    #[test]
    fn no_spread_gives_the_point_estimate() {
        let u = monte_carlo(&point(), &Spreads::NONE, 100, 1, None);
        assert!((u.wall_time_h.p5 - 100.0).abs() < 1e-9 && (u.wall_time_h.p95 - 100.0).abs() < 1e-9);
        let co2 = 1000.0 * 1.2 * 400.0 / 1000.0 + 50.0;
        assert!((u.co2e_total_kg.p50 - co2).abs() < 1e-9);
    }

    #[test]
    fn ranges_are_ordered_and_bracket_the_median() {
        let s = Spreads {
            throughput_log_sigma: 0.2,
            power_varied: true,
            pue_rel_sigma: 0.03,
            grid_rel_sigma: 0.1,
            embodied_log_sigma: 0.5,
            price_log_sigma: 0.25,
            goodput_log_sigma: 0.0,
        };
        let f = |z: &[f64; POWER_DRAWS]| (0.1 * z[0]).exp();
        let u = monte_carlo(&point(), &s, 20_000, 7, Some(&f));
        for r in [u.wall_time_h, u.gpu_hours, u.energy_facility_kwh, u.co2e_total_kg, u.cost_rental_usd.unwrap()] {
            assert!(r.p5 < r.p50 && r.p50 < r.p95, "{r:?}");
        }
        // lognormal σ=0.2: P95/P50 of time = exp(1.645·0.2) = 1.39
        let ratio = u.wall_time_h.p95 / u.wall_time_h.p50;
        assert!((ratio - (1.645f64 * 0.2).exp()).abs() < 0.03, "{ratio}");
    }

    #[test]
    fn same_seed_same_result() {
        let s = Spreads { throughput_log_sigma: 0.2, ..Spreads::NONE };
        assert_eq!(monte_carlo(&point(), &s, 1000, 3, None), monte_carlo(&point(), &s, 1000, 3, None));
    }
}
