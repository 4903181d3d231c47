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
//! | failure rate (goodput model) | lognormal, σ = 0.5, through the goodput model's response | Llama 3 2024 §3.3.4: 1.3e-5 (GPU causes) to 2.2e-5 (incl. planned) per GPU-hour; OPT 2021 cloud ≈4× (derived from "~2 machines go down every day") |
//! | rental price (catalog) | lognormal, σ = 0.25 | on-demand vs committed vs spot prices differ by ~2× (cloud price lists) |
//!
//! Sampling uses a seeded SplitMix64 generator and statrs' inverse CDFs,
//! so results are reproducible: the same `--seed` (default fixed) gives the
//! same ranges. Samples are drawn in blocks of [`BLOCK`]; block `k` has its
//! own generator seeded from (`seed`, `k`), so the blocks run in parallel
//! (rayon) and the result does not depend on the number of threads.
//! `--samples` sets the count; each spread above can be overridden in the
//! scenario (`spread_throughput`, `spread_power` (a scale on the power
//! constants' σ), `spread_pue`, `spread_grid`, `spread_embodied`,
//! `spread_price`; 0 fixes the input).
//!
//! **Sensitivity.** For each output and each varied input, the share of the
//! variance of ln(output) that the input explains, estimated as the squared
//! Pearson correlation between ln(input factor) and ln(output) over the
//! samples. The inputs are drawn independently, so for an output that is a
//! product of the factors (wall time, GPU-hours, energy, rental cost) these
//! are the first-order variance (Sobol) indices and sum to 1; for sums
//! (CO2e = operational + embodied, owned cost = capex + electricity) they
//! are the first-order linear shares and the remainder, 1 − Σ, is what
//! interactions and curvature explain. Each entry also carries a
//! one-at-a-time swing for a tornado chart: the output with that input at
//! its own sampled P5 and P95 and every other input at its point value. The power factor is separable and
//! log-linear per constant: the power model is evaluated once at ±1σ of each
//! constant (14 evaluations per estimate), and a sample with draws `z`
//! takes `exp(Σ_i z_i·ln f_i(sign z_i))`; this keeps the Monte Carlo at
//! O(samples) cheap arithmetic while following the model's asymmetric
//! response (activities clamp at 1).

use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};
use std::collections::BTreeMap;

/// Which inputs vary and by how much (σ of the log, or of the relative
/// normal), per the table above.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spreads {
    pub throughput_log_sigma: f64,
    /// Whether power is varied (through the power model's constants).
    pub power_varied: bool,
    /// Scale on the power model's constants' σ (1 = as stated in src/power.rs).
    pub power_sigma_scale: f64,
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
        power_sigma_scale: 1.0,
        pue_rel_sigma: 0.0,
        grid_rel_sigma: 0.0,
        embodied_log_sigma: 0.0,
        price_log_sigma: 0.0,
        goodput_log_sigma: 0.0,
    };
    pub const GOODPUT_LOG_SIGMA: f64 = 0.5;
    pub const DEFAULT_MFU_LOG_SIGMA: f64 = 0.20;
    pub const SIMULATED_LOG_SIGMA: f64 = 0.05;
    pub const SIMULATED_OTHER_LOG_SIGMA: f64 = 0.15;
    pub const CALIBRATED_LOG_SIGMA: f64 = 0.07;
    pub const PUE_REL_SIGMA: f64 = 0.03;
    pub const GRID_REL_SIGMA: f64 = 0.10;
    pub const EMBODIED_LOG_SIGMA: f64 = 0.5;
    pub const PRICE_LOG_SIGMA: f64 = 0.25;

    /// Lays the scenario's overrides over the defaults.
    #[must_use]
    pub fn with(mut self, o: &SpreadOverrides) -> Self {
        if let Some(v) = o.throughput {
            self.throughput_log_sigma = v;
        }
        if let Some(v) = o.power {
            self.power_sigma_scale = v;
            if v == 0.0 {
                self.power_varied = false;
            }
        }
        for (dst, src) in [
            (&mut self.pue_rel_sigma, o.pue),
            (&mut self.grid_rel_sigma, o.grid),
            (&mut self.embodied_log_sigma, o.embodied),
            (&mut self.price_log_sigma, o.price),
        ] {
            if let Some(v) = src {
                *dst = v;
            }
        }
        self
    }
}

/// Spreads the scenario sets (`spread_*` keys / flags); `None` keeps the
/// default for this scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SpreadOverrides {
    pub throughput: Option<f64>,
    pub power: Option<f64>,
    pub pue: Option<f64>,
    pub grid: Option<f64>,
    pub embodied: Option<f64>,
    pub price: Option<f64>,
}

/// How the Monte Carlo runs (`--samples`, `--seed`, `spread_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub samples: usize,
    pub seed: u64,
    pub overrides: SpreadOverrides,
}

/// Monte Carlo samples per estimate by default (P5/P95 stable to ~1 % at 4,000).
pub const DEFAULT_SAMPLES: usize = 4000;
/// Default seed: the same scenario always prints the same ranges.
pub const DEFAULT_SEED: u64 = 0x666c_6f70_7072_696e;
/// Samples per generator block (see the module doc).
pub const BLOCK: usize = 4096;

impl Default for Options {
    fn default() -> Self {
        Self { samples: DEFAULT_SAMPLES, seed: DEFAULT_SEED, overrides: SpreadOverrides::default() }
    }
}

/// Percentiles of one output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Range {
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

/// One input's part in one output's spread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    /// `throughput`, `power`, `pue`, `grid_intensity`, `embodied`, `price`.
    pub input: &'static str,
    /// Share of the variance of ln(output) it explains (squared correlation).
    pub share: f64,
    /// The output with this input at its P5 and at its P95, the others at
    /// their point values (one-at-a-time swing; `low` may exceed `high`
    /// where the output falls as the input rises, e.g. throughput).
    pub low: f64,
    pub high: f64,
}

/// The sensitivity ranking (see the module doc for the method).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensitivity {
    pub method: &'static str,
    /// For each output, the varied inputs ranked by share, largest first.
    pub outputs: BTreeMap<&'static str, Vec<Factor>>,
}

/// The method, as printed in the JSON.
pub const SENSITIVITY_METHOD: &str = "share of the variance of ln(output) explained by each input: squared Pearson correlation of ln(input factor) with ln(output) over the Monte Carlo samples (first-order index; inputs independent); low/high: output at the input's P5/P95, others at their point values";

/// P5/P50/P95 of the main outputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uncertainty {
    pub samples: usize,
    pub seed: u64,
    pub wall_time_h: Range,
    pub gpu_hours: Range,
    pub energy_facility_kwh: Range,
    pub co2e_total_kg: Range,
    pub cost_rental_usd: Option<Range>,
    pub cost_owned_usd: Option<Range>,
    pub spreads: Spreads,
    pub sensitivity: Sensitivity,
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
    /// Purchase price of the hardware (owned cost = capex + electricity).
    pub capex_usd: Option<f64>,
    pub electricity_usd_per_kwh: f64,
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

/// Type-7 percentiles (Hyndman & Fan) of `v` at `qs` (ascending), by
/// selection rather than a full sort.
fn percentiles<const K: usize>(v: &mut [f64], qs: [f64; K]) -> [f64; K] {
    let n = v.len();
    let mut out = [0.0; K];
    for (o, q) in out.iter_mut().zip(qs) {
        let pos = q * (n - 1) as f64;
        let lo = pos.floor() as usize;
        let (_, a, rest) = v.select_nth_unstable_by(lo, f64::total_cmp);
        let a = *a;
        let b = if pos > lo as f64 { rest.iter().copied().fold(f64::INFINITY, f64::min) } else { a };
        *o = a + (b - a) * (pos - lo as f64);
    }
    out
}

fn range(v: &mut [f64]) -> Range {
    let [p5, p50, p95] = percentiles(v, [0.05, 0.50, 0.95]);
    Range { p5, p50, p95 }
}

/// Standard-normal draws a power sampler takes.
pub const POWER_DRAWS: usize = crate::power::PowerSpread::DRAWS;

/// A factor on the point estimate's power for standard-normal draws.
pub type PowerSampler<'a> = &'a (dyn Fn(&[f64; POWER_DRAWS]) -> f64 + Sync);

/// The uncertain inputs, in the order of [`INPUTS`].
const N_IN: usize = 7;
/// Names of the uncertain inputs.
pub const INPUTS: [&str; N_IN] = ["throughput", "power", "pue", "grid_intensity", "embodied", "price", "failure_rate"];
/// The outputs.
const N_OUT: usize = 6;
const OUTPUTS: [&str; N_OUT] = ["wall_time_h", "gpu_hours", "energy_facility_kwh", "co2e_total_kg", "cost_rental_usd", "cost_owned_usd"];

/// Which inputs each output depends on (rows: [`OUTPUTS`], columns: [`INPUTS`]).
const DEPENDS: [[bool; N_IN]; N_OUT] = [
    [true, false, false, false, false, false, true],
    [true, false, false, false, false, false, true],
    [true, true, true, false, false, false, true],
    [true, true, true, true, true, false, true],
    [true, false, false, false, false, true, true],
    [true, true, true, false, false, false, true],
];

/// The outputs for one set of input factors: (speed, power, pue, grid,
/// embodied, price, lost time from failures) → the [`OUTPUTS`].
fn outputs(p: &Point, f: &[f64; N_IN]) -> [f64; N_OUT] {
    let [speed, power, pue, grid, emb, price, lost] = *f;
    // time scales as 1 / throughput and 1 / goodput
    let scale_t = lost / speed;
    let t = p.wall_time_h * scale_t;
    let e_fac = p.energy_it_kwh * scale_t * power * pue;
    [
        t,
        t * p.gpus,
        e_fac,
        e_fac * grid / 1000.0 + emb * scale_t,
        p.price_per_gpu_hour.map_or(0.0, |pr| t * p.gpus * pr * price),
        p.capex_usd.map_or(0.0, |c| c + e_fac * p.electricity_usd_per_kwh),
    ]
}

/// One block of samples: the inputs' factors and the outputs, column-wise.
struct Block {
    inputs: [Vec<f64>; N_IN],
    outputs: [Vec<f64>; N_OUT],
}

fn block(p: &Point, s: &Spreads, n: usize, seed: u64, power: Option<PowerSampler<'_>>) -> Block {
    let std = Normal::new(0.0, 1.0).expect("unit normal");
    let mut rng = SplitMix64(seed);
    let mut b = Block { inputs: std::array::from_fn(|_| Vec::with_capacity(n)), outputs: std::array::from_fn(|_| Vec::with_capacity(n)) };
    for _ in 0..n {
        let mut z = || std.inverse_cdf(rng.unit());
        let power = match power {
            Some(f) if s.power_varied => {
                let draws: [f64; POWER_DRAWS] = std::array::from_fn(|_| z() * s.power_sigma_scale);
                f(&draws)
            }
            _ => 1.0,
        };
        let f = [
            (s.throughput_log_sigma * z()).exp(),
            power,
            (p.pue * (1.0 + s.pue_rel_sigma * z())).max(1.0),
            (p.grid_g_per_kwh * (1.0 + s.grid_rel_sigma * z())).max(0.0),
            p.embodied_kg * (s.embodied_log_sigma * z()).exp(),
            (s.price_log_sigma * z()).exp(),
            // drawn last, and only when varied, so runs without it keep their stream
            if s.goodput_log_sigma > 0.0 {
                let zg = z();
                if zg >= 0.0 {
                    (p.goodput_ln_response.0 * zg).exp()
                } else {
                    (p.goodput_ln_response.1 * -zg).exp()
                }
            } else {
                1.0
            },
        ];
        for (v, x) in b.inputs.iter_mut().zip(f) {
            v.push(x);
        }
        for (v, x) in b.outputs.iter_mut().zip(outputs(p, &f)) {
            v.push(x);
        }
    }
    b
}

/// The seed of block `k`.
fn block_seed(seed: u64, k: usize) -> u64 {
    if k == 0 {
        seed
    } else {
        SplitMix64(seed ^ (k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
    }
}

/// The logarithms [`r2_log`] correlates (floored at 1e-300).
fn ln_column(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| x.max(1e-300).ln()).collect()
}

/// Squared Pearson correlation of ln(x) and ln(y) (0 where either is
/// constant), from the columns' logarithms ([`ln_column`], computed once
/// per column rather than once per pair).
fn r2_log(lx: &[f64], ly: &[f64]) -> f64 {
    let n = lx.len() as f64;
    let (mut sx, mut sy) = (0.0, 0.0);
    for (&a, &b) in lx.iter().zip(ly) {
        sx += a;
        sy += b;
    }
    let (mx, my) = (sx / n, sy / n);
    let (mut cxy, mut cxx, mut cyy) = (0.0, 0.0, 0.0);
    for (&a, &b) in lx.iter().zip(ly) {
        let (dx, dy) = (a - mx, b - my);
        cxy += dx * dy;
        cxx += dx * dx;
        cyy += dy * dy;
    }
    // relative tolerance: a constant column has rounding-level variance
    if cxx <= 1e-24 * n || cyy <= 1e-24 * n * my.abs().max(1.0) {
        0.0
    } else {
        (cxy * cxy / (cxx * cyy)).min(1.0)
    }
}

/// Draws `n` samples of the outputs; `power` gives the power factor of
/// a sample (modelled power), `None` keeps power fixed.
#[must_use]
pub fn monte_carlo(p: &Point, s: &Spreads, n: usize, seed: u64, power: Option<PowerSampler<'_>>) -> Uncertainty {
    let n = n.max(2);
    let blocks: Vec<Block> = (0..n.div_ceil(BLOCK)).into_par_iter().map(|k| block(p, s, BLOCK.min(n - k * BLOCK), block_seed(seed, k), power)).collect();
    let mut inputs: [Vec<f64>; N_IN] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut outs: [Vec<f64>; N_OUT] = std::array::from_fn(|_| Vec::with_capacity(n));
    for b in blocks {
        for (dst, src) in inputs.iter_mut().zip(b.inputs) {
            dst.extend(src);
        }
        for (dst, src) in outs.iter_mut().zip(b.outputs) {
            dst.extend(src);
        }
    }
    let present = [true, true, true, true, p.price_per_gpu_hour.is_some(), p.capex_usd.is_some()];
    let varied = [
        s.throughput_log_sigma > 0.0,
        s.power_varied && power.is_some() && s.power_sigma_scale > 0.0,
        s.pue_rel_sigma > 0.0,
        s.grid_rel_sigma > 0.0,
        s.embodied_log_sigma > 0.0 && p.embodied_kg > 0.0,
        s.price_log_sigma > 0.0 && p.price_per_gpu_hour.is_some(),
        s.goodput_log_sigma > 0.0,
    ];
    // point values of the factors (the swing holds the others here)
    let point = [1.0, 1.0, p.pue, p.grid_g_per_kwh, p.embodied_kg, 1.0, 1.0];
    // per input: its P5 and P95 (before the outputs are reordered)
    let mut swings = [[0.0; 2]; N_IN];
    let mut work = Vec::with_capacity(n);
    for i in 0..N_IN {
        if varied[i] {
            work.clear();
            work.extend_from_slice(&inputs[i]);
            let [a, b] = percentiles(&mut work, [0.05, 0.95]);
            swings[i] = [a, b];
        }
    }
    let mut sens = BTreeMap::new();
    // logarithms of the columns some share needs, once each
    let ln_in: Vec<Option<Vec<f64>>> = (0..N_IN).into_par_iter().map(|i| varied[i].then(|| ln_column(&inputs[i]))).collect();
    let ln_out: Vec<Option<Vec<f64>>> = (0..N_OUT).into_par_iter().map(|o| present[o].then(|| ln_column(&outs[o]))).collect();
    let shares: Vec<[f64; N_IN]> = (0..N_OUT)
        .into_par_iter()
        .map(|o| {
            std::array::from_fn(|i| match (&ln_in[i], &ln_out[o]) {
                (Some(x), Some(y)) if DEPENDS[o][i] => r2_log(x, y),
                _ => 0.0,
            })
        })
        .collect();
    for o in 0..N_OUT {
        if !present[o] {
            continue;
        }
        let mut v: Vec<Factor> = (0..N_IN)
            .filter(|&i| varied[i] && DEPENDS[o][i])
            .map(|i| {
                let at = |x: f64| {
                    let mut f = point;
                    f[i] = x;
                    outputs(p, &f)[o]
                };
                Factor { input: INPUTS[i], share: shares[o][i], low: at(swings[i][0]), high: at(swings[i][1]) }
            })
            .collect();
        v.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.input.cmp(b.input)));
        sens.insert(OUTPUTS[o], v);
    }
    let [wall, gh, energy, co2, cost, owned] = &mut outs;
    Uncertainty {
        samples: n,
        seed,
        wall_time_h: range(wall),
        gpu_hours: range(gh),
        energy_facility_kwh: range(energy),
        co2e_total_kg: range(co2),
        cost_rental_usd: p.price_per_gpu_hour.map(|_| range(cost)),
        cost_owned_usd: p.capex_usd.map(|_| range(owned)),
        spreads: *s,
        sensitivity: Sensitivity { method: SENSITIVITY_METHOD, outputs: sens },
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
            capex_usd: Some(1e5),
            electricity_usd_per_kwh: 0.1,
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
            power_sigma_scale: 1.0,
            pue_rel_sigma: 0.03,
            grid_rel_sigma: 0.1,
            embodied_log_sigma: 0.5,
            price_log_sigma: 0.25,
            goodput_log_sigma: 0.0,
        };
        let f = |z: &[f64; POWER_DRAWS]| (0.1 * z[0]).exp();
        let u = monte_carlo(&point(), &s, 20_000, 7, Some(&f));
        for r in [u.wall_time_h, u.gpu_hours, u.energy_facility_kwh, u.co2e_total_kg, u.cost_rental_usd.unwrap(), u.cost_owned_usd.unwrap()] {
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

    #[test]
    fn results_do_not_depend_on_blocks_run_in_parallel() {
        let s = Spreads { throughput_log_sigma: 0.2, price_log_sigma: 0.25, ..Spreads::NONE };
        let a = monte_carlo(&point(), &s, 3 * BLOCK + 17, 9, None);
        let b = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| monte_carlo(&point(), &s, 3 * BLOCK + 17, 9, None));
        assert_eq!(a, b);
        assert_ne!(a, monte_carlo(&point(), &s, 3 * BLOCK + 17, 10, None), "another seed draws other samples");
    }

    #[test]
    fn sensitivity_shares_are_the_variance_shares_of_the_logs() {
        // cost = time x price: ln cost = -ln speed + ln price, variances 0.2² and 0.25²
        let s = Spreads { throughput_log_sigma: 0.2, price_log_sigma: 0.25, ..Spreads::NONE };
        let u = monte_carlo(&point(), &s, 50_000, 1, None);
        let cost = &u.sensitivity.outputs["cost_rental_usd"];
        assert_eq!(cost[0].input, "price");
        let want = 0.0625 / (0.04 + 0.0625);
        assert!((cost[0].share - want).abs() < 0.02, "{cost:?}");
        assert!((cost[0].share + cost[1].share - 1.0).abs() < 0.01);
        // wall time depends on throughput only
        let wall = &u.sensitivity.outputs["wall_time_h"];
        assert!(wall.len() == 1 && wall[0].input == "throughput" && wall[0].share > 0.99, "{wall:?}");
        // the swing: time at throughput P5 is longer than at its P95
        assert!(wall[0].low > 100.0 && wall[0].high < 100.0);
    }

    #[test]
    fn overrides_replace_the_defaults_and_zero_fixes_an_input() {
        let s = Spreads { throughput_log_sigma: 0.2, power_varied: true, ..Spreads::NONE };
        let o = SpreadOverrides { throughput: Some(0.0), power: Some(0.0), grid: Some(0.3), ..SpreadOverrides::default() };
        let t = s.with(&o);
        assert_eq!(t.throughput_log_sigma, 0.0);
        assert!(!t.power_varied);
        assert_eq!(t.grid_rel_sigma, 0.3);
        let u = monte_carlo(&point(), &t, 1000, 1, None);
        assert_eq!(u.wall_time_h.p5, u.wall_time_h.p95);
        assert_eq!(u.sensitivity.outputs["co2e_total_kg"].iter().map(|f| f.input).collect::<Vec<_>>(), ["grid_intensity"]);
    }
}
