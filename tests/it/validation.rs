//! Validation of the simulator against published measurements, with one
//! hardware profile (dgx-a100-80gb) and one set of defaults for all runs.
//! Run with `cargo test --locked --test validation -- --nocapture` to see
//! the predicted-vs-published tables.
//!
//! * Korthikanti et al. 2022 (arXiv 2205.05198) Table 5: iteration times of
//!   GPT 22B/175B/530B/1T on A100-80GB, configurations of its Table 3 (TP 8;
//!   PP 1/8/35/64; 8/64/280/512 GPUs; micro-batch 4/1/1/1; global batch
//!   4/64/280/512; interleave 1/3/3/1 as in Calculon's
//!   `validation/seqsel/tab5/*.json`), each with full recomputation (TP
//!   all-reduce) and with sequence parallelism + selective recomputation.
//! * Korthikanti 2022 Figure 1: memory per GPU of the same configurations.

use flopprint::catalog;
use flopprint::dtype::Dtype;
use flopprint::flops::{FineTune, Recompute};
use flopprint::memory;
use flopprint::parallel::Plan;
use flopprint::simulator::{AnalyticDevice, Network, SimOptions, Simulator};
use flopprint::workload;

struct Run {
    model: &'static str,
    pp: u64,
    gpus: u64,
    micro: u64,
    global: u64,
    interleave: u64,
    full_s: f64,
    seqsel_s: f64,
}

const RUNS: [Run; 4] = [
    Run { model: "megatron-22b", pp: 1, gpus: 8, micro: 4, global: 4, interleave: 1, full_s: 1.42, seqsel_s: 1.10 },
    Run { model: "megatron-175b", pp: 8, gpus: 64, micro: 1, global: 64, interleave: 3, full_s: 18.13, seqsel_s: 13.75 },
    Run { model: "megatron-530b", pp: 35, gpus: 280, micro: 1, global: 280, interleave: 3, full_s: 49.05, seqsel_s: 37.83 },
    Run { model: "megatron-1t", pp: 64, gpus: 512, micro: 1, global: 512, interleave: 1, full_s: 94.42, seqsel_s: 71.49 },
];

fn plan(r: &Run, seqsel: bool) -> Plan {
    Plan {
        tp: 8,
        cp: 1,
        pp: r.pp,
        dp: r.gpus / (8 * r.pp),
        interleave: r.interleave,
        sp: seqsel,
        ep: 1,
        zero: 0,
        recompute: if seqsel { Recompute::Selective } else { Recompute::Full },
        micro_batch: r.micro,
        global_batch: r.global,
        dtype: Dtype::Fp16,
    }
}

#[test]
fn korthikanti_table5_iteration_times() {
    let sys = catalog::system("dgx-a100-80gb").unwrap();
    let acc = catalog::accelerator(&sys.accelerator).unwrap();
    let device = AnalyticDevice::new(&acc);
    let mut errs = Vec::new();
    println!("\nKorthikanti et al. 2022 Table 5 (A100-80GB, fp16, s = 2048): iteration time");
    println!("{:<15} {:<8} {:>9} {:>9} {:>7}  breakdown (compute/recompute/tp/pp/bubble/optimizer s)", "model", "mode", "predicted", "published", "error");
    for r in &RUNS {
        let spec = catalog::model(r.model).unwrap();
        let net = Network::from_system(Some(&sys), r.gpus);
        for (seqsel, published) in [(false, r.full_s), (true, r.seqsel_s)] {
            let p = plan(r, seqsel);
            p.validate(&spec).unwrap();
            let w = workload::build(&spec, &p, 2048).unwrap();
            let sim = Simulator { device: &device, network: &net, options: SimOptions::default() };
            let b = sim.step(&w);
            let err = (b.step_time_s - published) / published;
            errs.push(err.abs());
            println!(
                "{:<15} {:<8} {:>8.2}s {:>8.2}s {:>+6.1}%  {:.2}/{:.2}/{:.2}/{:.2}/{:.2}/{:.3}",
                r.model,
                if seqsel { "sp+sel" } else { "full" },
                b.step_time_s,
                published,
                err * 100.0,
                b.compute_s,
                b.recompute_s,
                b.tp_comm_exposed_s,
                b.pp_comm_s,
                b.bubble_s,
                b.optimizer_s
            );
        }
    }
    let mean = errs.iter().sum::<f64>() / errs.len() as f64;
    let max = errs.iter().copied().fold(0.0, f64::max);
    println!("mean |error| {:.2} %, max {:.2} % (Calculon: 3.65 % / 8.87 %)", mean * 100.0, max * 100.0);
    assert!(mean <= 0.03, "mean |error| {:.2} % > 3 %", mean * 100.0);
    assert!(max <= 0.06, "max |error| {:.2} % > 6 %", max * 100.0);
}

/// Figure 1, GiB per GPU (Calculon `validation.py::seqsel_fig1`, the
/// paper's values): weights + gradients + optimizer of the transformer
/// layers; activations without recomputation; activations with SP +
/// selective recomputation.
#[test]
fn korthikanti_figure1_memory() {
    let fig1 = [
        ("megatron-22b", 45.5625, 59.25, 9.5625),
        ("megatron-175b", 45.5625, 66.84375, 12.3515625),
        ("megatron-530b", 31.640625, 114.0234375, 23.076171875),
        ("megatron-1t", 32.958984375, 131.25, 26.5625),
    ];
    let cap = catalog::accelerator("a100-sxm4-80gb").unwrap().memory();
    println!("\nKorthikanti et al. 2022 Figure 1: GiB per GPU, predicted / published (error)");
    let mut worst: f64 = 0.0;
    for (r, (id, states, act_none, act_seqsel)) in RUNS.iter().zip(fig1) {
        assert_eq!(r.model, id);
        let spec = catalog::model(id).unwrap();
        let mut none = plan(r, false);
        none.recompute = Recompute::None;
        let m0 = memory::per_device(&spec, &none, 2048, FineTune::Full, cap);
        let m1 = memory::per_device(&spec, &plan(r, true), 2048, FineTune::Full, cap);
        // Figure 1 counts the transformer layers' states only
        let st = m0.weights_gib + m0.gradients_gib + m0.optimizer_gib - m0.embedding_states_gib;
        let e = |a: f64, b: f64| (a - b) / b;
        println!(
            "{id:<15} states {st:6.2} / {states:6.2} ({:+.1}%)  act none {:6.2} / {act_none:6.2} ({:+.1}%)  act sp+sel {:6.2} / {act_seqsel:6.2} ({:+.1}%)",
            e(st, states) * 100.0,
            m0.activations_gib,
            e(m0.activations_gib, act_none) * 100.0,
            m1.activations_gib,
            e(m1.activations_gib, act_seqsel) * 100.0
        );
        for err in [e(st, states), e(m0.activations_gib, act_none), e(m1.activations_gib, act_seqsel)] {
            worst = worst.max(err.abs());
        }
    }
    assert!(worst <= 0.05, "worst memory error {:.2} % > 5 %", worst * 100.0);
}

/// One row of NVIDIA's NeMo pre-training performance tables (FP8, per-tensor
/// current scaling; Transformer Engine, fused attention, distributed
/// optimizer, TP communication overlap).
struct NemoRow {
    model: &'static str,
    gpus: u64,
    gbs: u64,
    mbs: u64,
    seq: u64,
    tp: u64,
    pp: u64,
    vp: u64,
    tokens_per_gpu_s: f64,
}

/// NeMo 24.12 performance summary, DGX-H100, FP8 (docs.nvidia.com
/// nemo-framework/user-guide/24.12 performance_summary, 2024): the rows
/// whose models are in the catalog and that use no context parallelism.
const NEMO_H100: [NemoRow; 5] = [
    NemoRow { model: "nemo-megatron-gpt-20b", gpus: 64, gbs: 256, mbs: 2, seq: 2048, tp: 2, pp: 1, vp: 1, tokens_per_gpu_s: 5851.0 },
    NemoRow { model: "gpt3-175b", gpus: 128, gbs: 256, mbs: 1, seq: 2048, tp: 4, pp: 8, vp: 6, tokens_per_gpu_s: 716.0 },
    NemoRow { model: "gpt3-175b", gpus: 512, gbs: 2048, mbs: 2, seq: 2048, tp: 4, pp: 8, vp: 6, tokens_per_gpu_s: 825.0 },
    NemoRow { model: "llama2-7b", gpus: 8, gbs: 128, mbs: 1, seq: 4096, tp: 1, pp: 1, vp: 1, tokens_per_gpu_s: 16934.0 },
    NemoRow { model: "llama2-70b", gpus: 64, gbs: 128, mbs: 1, seq: 4096, tp: 4, pp: 4, vp: 20, tokens_per_gpu_s: 1728.0 },
];

/// NeMo 25.02 performance summary, DGX-B200, FP8 (same page, container
/// 25.02, 2025): catalog models without context parallelism.
const NEMO_B200: [NemoRow; 2] = [
    NemoRow { model: "gpt3-175b", gpus: 512, gbs: 2048, mbs: 2, seq: 2048, tp: 4, pp: 4, vp: 6, tokens_per_gpu_s: 1600.0 },
    NemoRow { model: "llama3-8b", gpus: 8, gbs: 128, mbs: 2, seq: 8192, tp: 1, pp: 1, vp: 1, tokens_per_gpu_s: 26006.0 },
];

/// Simulated tokens/s/GPU of a NeMo row with the given GEMM scale.
fn nemo_predict(r: &NemoRow, system: &str, scale: f64) -> f64 {
    use flopprint::simulator::{AttentionKernel, Overlap, TpOverlap};
    let sys = catalog::system(system).unwrap();
    let acc = catalog::accelerator(&sys.accelerator).unwrap();
    let device = AnalyticDevice::new(&acc).with_gemm_scale(scale);
    let spec = catalog::model(r.model).unwrap();
    let dp = r.gpus / (r.tp * r.pp);
    let plan = Plan {
        tp: r.tp,
        cp: 1,
        pp: r.pp,
        dp,
        interleave: r.vp,
        sp: r.tp > 1,
        ep: 1,
        zero: u8::from(dp > 1),
        recompute: Recompute::None,
        micro_batch: r.mbs,
        global_batch: r.gbs,
        dtype: Dtype::Fp8,
    };
    plan.validate(&spec).unwrap();
    let w = workload::build(&spec, &plan, r.seq).unwrap();
    let net = Network::from_system(Some(&sys), r.gpus);
    let options = SimOptions {
        attention: AttentionKernel::Flash,
        overlap: Overlap::Realistic,
        tp_overlap: if r.tp > 1 { TpOverlap::Ring } else { TpOverlap::None },
        ..SimOptions::default()
    };
    let b = Simulator { device: &device, network: &net, options }.step(&w);
    (r.gbs * r.seq) as f64 / b.step_time_s / r.gpus as f64
}

/// Mean |ln(predicted / published)| of rows at a scale.
fn nemo_loss(rows: &[&NemoRow], system: &str, scale: f64) -> f64 {
    rows.iter().map(|r| (nemo_predict(r, system, scale) / r.tokens_per_gpu_s).ln().abs()).sum::<f64>() / rows.len() as f64
}

/// The scale in 0.40..=1.30 (step 0.01) minimising [`nemo_loss`].
fn nemo_fit(rows: &[&NemoRow], system: &str) -> f64 {
    (40..=130).map(|i| f64::from(i) / 100.0).min_by(|a, b| nemo_loss(rows, system, *a).total_cmp(&nemo_loss(rows, system, *b))).unwrap()
}

/// Prints the held-out errors of a family's GEMM scale on NeMo rows (the
/// scale was not fitted on them) and, for information only, the scale a
/// fit on these rows would give. Returns the mean |error|.
fn family_held_out(label: &str, rows: &[NemoRow], system: &str, constant: f64) -> f64 {
    let all: Vec<&NemoRow> = rows.iter().collect();
    let would_fit = nemo_fit(&all, system);
    println!("\n{label}: GEMM scale {constant:.2} (not fitted here; a fit on these {} rows would give {would_fit:.2})", rows.len());
    println!("{:<22} {:>5} {:>10} {:>10} {:>8}", "model", "GPUs", "published", "predicted", "error");
    let mut abs = 0.0;
    for r in rows {
        let pred = nemo_predict(r, system, constant);
        let e = pred / r.tokens_per_gpu_s - 1.0;
        abs += e.abs();
        println!("{:<22} {:>5} {:>10.0} {:>10.0} {:>+7.1}%", r.model, r.gpus, r.tokens_per_gpu_s, pred, e * 100.0);
    }
    let mean = abs / rows.len() as f64;
    println!("mean |held-out error| {:.1} %", mean * 100.0);
    mean
}

#[test]
fn nemo_h100_fp8_held_out() {
    use flopprint::simulator::device::HOPPER_GEMM_SCALE;
    let e = family_held_out("Hopper (DGX-H100, NeMo 24.12 FP8)", &NEMO_H100, "dgx-h100", HOPPER_GEMM_SCALE);
    assert!(e < BOUND_H100, "mean |error| {e}");
}

#[test]
fn nemo_b200_fp8_held_out() {
    use flopprint::simulator::device::BLACKWELL_GEMM_SCALE;
    let e = family_held_out("Blackwell (DGX-B200, NeMo 25.02 FP8)", &NEMO_B200, "dgx-b200", BLACKWELL_GEMM_SCALE);
    assert!(e < BOUND_B200, "mean |error| {e}");
}

/// Measured 2026-11-30 (third session, with each accelerator's measured
/// matmul ceiling): 10.5 % (Hopper; 16.1 % before), 22.7 % (Blackwell;
/// 23.1 %), plus a margin.
const BOUND_H100: f64 = 0.12;
const BOUND_B200: f64 = 0.25;
