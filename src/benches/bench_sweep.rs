//! Benchmark of `flopprint sweep` at scale.
//!
//! `cargo bench --locked --bench bench_sweep` sweeps 10⁵ scenarios of
//! Llama-2-70B on DGX H100 nodes (`--nodes 1..1000+1` x 100 prices per
//! GPU-hour, `--mfu 0.4` so no simulation, `--samples 16`), builds the
//! polars frame, and prints the wall time of each part and the thread count.

use flopprint::scenario::{ScenarioInput, UncertaintySection};
use flopprint::sweep;
use std::time::Instant;

fn main() {
    // `cargo bench` passes `--bench`; the node count is the first numeric argument
    let n_nodes: u64 = std::env::args().skip(1).find_map(|s| s.parse().ok()).unwrap_or(1000);
    let prices: Vec<String> = (0..100).map(|k| format!("{:.2}", 1.0 + 0.05 * f64::from(k))).collect();
    let axes = vec![("nodes", format!("1..{n_nodes}+1")), ("price_per_gpu_hour", prices.join(","))];
    let mut flags = ScenarioInput::default();
    flags.plan.mfu = Some(0.4);
    flags.uncertainty = UncertaintySection { samples: Some(16), ..UncertaintySection::default() };
    let t0 = Instant::now();
    let scenarios = sweep::scenarios(&axes).expect("axes");
    let n = scenarios.len();
    let outcomes = sweep::run(None, &flags, scenarios, &|| {});
    let t_run = t0.elapsed().as_secs_f64();
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let t1 = Instant::now();
    let df = sweep::frame(&outcomes).expect("frame");
    let t_frame = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let parquet = flopprint::report::export::render_frame(&df, flopprint::report::export::Sheet::Parquet).expect("parquet");
    let t_pq = t2.elapsed().as_secs_f64();
    println!(
        "sweep of {n} scenarios (--nodes 1..{n_nodes}+1 x 100 prices, --mfu 0.4, --samples 16) on {} threads: evaluate {t_run:.2} s ({:.1} us/scenario, {failed} failed), frame {}x{} {t_frame:.2} s, parquet {:.1} MB {t_pq:.2} s; total {:.2} s",
        rayon::current_num_threads(),
        t_run / n as f64 * 1e6,
        df.height(),
        df.width(),
        parquet.len() as f64 / 1e6,
        t_run + t_frame + t_pq
    );
}
