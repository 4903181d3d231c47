//! Benchmark of the uncertainty stage at scale.
//!
//! `cargo bench --locked --bench bench_uncertainty` runs one whole
//! estimate of the built-in default scenario (catalog load, plan search,
//! simulation, power, footprint) with `--samples 100000`, and the Monte
//! Carlo alone, and prints the wall time and thread count. Target: 10⁵
//! samples of a full estimate in ≤ 1 s in release on 2 cores.

use flopprint::scenario::{input_with_defaults, ScenarioInput, UncertaintySection};
use std::time::Instant;

fn estimate(samples: u64) -> flopprint::estimate::Estimate {
    let over = ScenarioInput { uncertainty: UncertaintySection { samples: Some(samples), ..UncertaintySection::default() }, ..ScenarioInput::default() };
    let (input, defaulted) = input_with_defaults(None, &over).expect("scenario");
    flopprint::estimate::estimate(&input.resolve(defaulted).expect("resolves")).expect("estimates")
}

fn main() {
    let threads = rayon::current_num_threads();
    let _ = estimate(1000); // warm-up (catalog, page cache)
    for samples in [4_000u64, 100_000] {
        let reps = 5;
        let t0 = Instant::now();
        let mut e = estimate(samples);
        for _ in 1..reps {
            e = estimate(samples);
        }
        let wall = t0.elapsed().as_secs_f64() / f64::from(reps);
        let u = &e.uncertainty;
        println!(
            "full estimate (built-in default scenario, plan searched) with {samples} samples: {:.3} s wall on {threads} threads (CO2e P5-P95 {:.0}-{:.0} kg)",
            wall, u.co2e_total_kg.p5, u.co2e_total_kg.p95
        );
    }
    let t0 = Instant::now();
    let base = estimate(2);
    println!("the same estimate with 2 samples (pipeline alone): {:.3} s (point CO2e {:.0} kg)", t0.elapsed().as_secs_f64(), base.co2e_total_kg);
}
