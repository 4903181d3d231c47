//! Benchmark of the plan search and of one simulated estimate.
//!
//! `cargo bench --locked --bench bench_plan` searches MT-NLG 530B on
//! 5,128 A100-80GB (641 DGX nodes), global batch 2,520, fp16 — the example
//! of Calculon's README (Isaev et al. 2023; 63.6–72 s on this 2-core
//! machine) — and prints configurations per second and wall time, then
//! times single simulations.

use flopprint::catalog;
use flopprint::dtype::Dtype;
use flopprint::flops::FineTune;
use flopprint::search::{self, Constraints, Problem};
use flopprint::simulator::{AnalyticDevice, Network, SimOptions, Simulator};
use flopprint::workload;
use std::time::Instant;

fn main() {
    let spec = catalog::model("mt-nlg-530b").expect("model");
    let sys = catalog::system("dgx-a100-80gb").expect("system");
    let acc = catalog::accelerator(&sys.accelerator).expect("accelerator");
    let device = AnalyticDevice::new(&acc);
    for (gpus, batch) in [(5128u64, 2520u64), (4096, 3072)] {
        let network = Network::from_system(Some(&sys), gpus);
        let problem = Problem {
            spec: &spec,
            seq_len: 2048,
            gpus,
            global_batch: batch,
            round_batch: flopprint::search::BatchRounding::Down,
            dtype: Dtype::Fp16,
            fine_tune: FineTune::Full,
            capacity: acc.memory(),
            device: &device,
            network: &network,
            constraints: Constraints::default(),
        };
        let _ = search::search(&problem, 10); // warm-up
        let reps = 5;
        let t0 = Instant::now();
        let mut r = search::search(&problem, 10);
        for _ in 1..reps {
            r = search::search(&problem, 10);
        }
        let wall = t0.elapsed().as_secs_f64() / f64::from(reps);
        println!(
            "plan mt-nlg-530b, {gpus} x a100-sxm4-80gb, global batch {batch}: {} configs evaluated ({} feasible, {} OOM, {} invalid) in {:.4} s wall = {:.0} configs/s on {} threads",
            r.configs_evaluated, r.configs_feasible, r.configs_out_of_memory, r.configs_invalid, wall, r.configs_evaluated as f64 / wall, rayon::current_num_threads()
        );
        if let Some(b) = r.top.first() {
            println!("  best: {:?} -> {:.2} s/step, MFU {:.1} %", b.plan, b.step_time_s, b.mfu * 100.0);
        }
    }
    // one simulation (what a simulated `estimate` with a given plan adds)
    let best = {
        let network = Network::from_system(Some(&sys), 280);
        let spec = catalog::model("megatron-530b").expect("model");
        let plan = flopprint::parallel::Plan {
            tp: 8,
            cp: 1,
            pp: 35,
            dp: 1,
            interleave: 3,
            sp: true,
            ep: 1,
            zero: 0,
            recompute: flopprint::flops::Recompute::Selective,
            micro_batch: 1,
            global_batch: 280,
            dtype: Dtype::Fp16,
        };
        let n = 10_000;
        let t0 = Instant::now();
        let mut acc_t = 0.0;
        for _ in 0..n {
            let w = workload::build(&spec, &plan, 2048).expect("workload");
            acc_t += Simulator { device: &device, network: &network, options: SimOptions::default() }.step(&w).step_time_s;
        }
        (t0.elapsed().as_secs_f64() / f64::from(n), acc_t / f64::from(n))
    };
    println!("one workload build + simulation: {:.1} us (530B TP8 PP35: {:.2} s/step)", best.0 * 1e6, best.1);
    // one whole `estimate` as the CLI runs it (catalog load, plan, simulation,
    // footprint, 4,000-sample uncertainty), with a given plan and with search
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/seed/mt-nlg-530b.toml");
    for (label, file) in [("given plan (reports/seed/mt-nlg-530b.toml)", Some(seed.as_path())), ("built-in default (plan searched)", None)] {
        let n = 50;
        let t0 = Instant::now();
        for _ in 0..n {
            let (input, defaulted) = flopprint::scenario::input_with_defaults(file, &flopprint::scenario::ScenarioInput::default()).expect("scenario");
            let e = flopprint::estimate::estimate(&input.resolve(defaulted).expect("resolves")).expect("estimates");
            std::hint::black_box(e);
        }
        println!("one estimate, {label}: {:.2} ms", t0.elapsed().as_secs_f64() / f64::from(n) * 1e3);
    }
    // the power stage's share of an estimate: the stage itself plus the 14
    // power-model evaluations the uncertainty stage makes (issue target < 5 %)
    {
        use flopprint::estimate::{compute, power, timing, uncertainty};
        let (input, defaulted) =
            flopprint::scenario::input_with_defaults(Some(seed.as_path()), &flopprint::scenario::ScenarioInput::default()).expect("scenario");
        let sc = input.resolve(defaulted).expect("resolves");
        let n = 200;
        let t0 = Instant::now();
        for _ in 0..n {
            std::hint::black_box(flopprint::estimate::estimate(&sc).expect("estimates"));
        }
        let whole = t0.elapsed().as_secs_f64() / f64::from(n);
        let c = compute::run(&sc).expect("compute");
        let t = timing::run(&sc, &c);
        let t0 = Instant::now();
        for _ in 0..n {
            let p = power::run(&sc, &c, &t).expect("power");
            std::hint::black_box(uncertainty::power_response(&p));
        }
        let pw = t0.elapsed().as_secs_f64() / f64::from(n);
        println!("power stage (model + uncertainty response): {:.1} us of a {:.2} ms estimate = {:.2} %", pw * 1e6, whole * 1e3, 100.0 * pw / whole);
    }
}
