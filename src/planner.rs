//! `flopprint plan`: search the parallel plans of a scenario's cluster,
//! simulate each, and rank the feasible ones.

use crate::estimate::{self, compute, ChosenBy, EstimateError, PlanOut};
use crate::scenario::Scenario;
use crate::search::{self, BatchRounding, Constraints, Objective, Problem};
use crate::simulator::{Breakdown, Offload, TpOverlap};
use serde::Serialize;

/// One ranked plan of `flopprint plan`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEntry {
    pub rank: usize,
    pub plan: PlanOut,
    pub dp_overlap: bool,
    pub tp_overlap: TpOverlap,
    pub sp_ag_redo: bool,
    pub offload: Offload,
    /// Rank order data-fastest (else Megatron's tensor-fastest).
    pub dp_inner: bool,
    pub step_time_s: f64,
    pub samples_per_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub hfu: f64,
    pub model_tflops_per_gpu: f64,
    pub hardware_tflops_per_gpu: f64,
    pub memory_per_gpu_gib: f64,
    pub breakdown: Breakdown,
    /// With `--tokens`: the whole run.
    pub wall_time_h: Option<f64>,
    pub cost_rental_usd: Option<f64>,
    pub co2e_total_t: Option<f64>,
}

/// What `flopprint plan` prints.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub model: String,
    pub accelerator: String,
    pub system: Option<String>,
    pub gpus: u64,
    pub seq_len: u64,
    pub dtype: String,
    pub global_batch: u64,
    pub objective: Objective,
    pub configs_evaluated: u64,
    pub configs_feasible: u64,
    pub configs_out_of_memory: u64,
    pub configs_invalid: u64,
    pub elapsed_s: f64,
    pub best: Option<PlanEntry>,
    pub top: Vec<PlanEntry>,
    pub notes: Vec<String>,
}

/// Searches the plans of a scenario and ranks them by `objective`.
///
/// # Errors
/// A failure pricing the best plan.
pub fn rank_plans(sc: &Scenario, objective: Objective, top: usize, megatron_schedule: bool) -> Result<PlanReport, EstimateError> {
    let spec = &sc.model;
    let device = compute::device_model(sc);
    let network = compute::network(sc);
    let global = sc.batch.sequences(sc.seq_len).unwrap_or_else(|| estimate::default_global_batch(spec, sc.seq_len, sc.gpus));
    let mut c = estimate::constraints(&sc.plan);
    if !megatron_schedule {
        c = Constraints { tp_overlap: None, sp_ag_redo: None, offload: None, dp_inner: None, ..c };
    }
    let problem = Problem {
        spec,
        seq_len: sc.seq_len,
        gpus: sc.gpus,
        global_batch: global,
        round_batch: BatchRounding::Down,
        dtype: sc.dtype,
        fine_tune: sc.fine_tune,
        capacity: sc.accelerator.memory(),
        device: device.as_ref(),
        network: &network,
        constraints: c,
    };
    let r = search::search(&problem, top.max(1));
    let mut notes = vec![
        "global batch rounded down to a multiple of the data-parallel size where it does not divide (Calculon's rule); each plan shows its own".to_string(),
        "with a fixed GPU count, rental cost and CO2e are proportional to wall time, so the three objectives give the same order; --deadline DAYS or --budget USD searches the cluster size, where they differ".to_string(),
    ];
    if megatron_schedule {
        notes.push("schedule fixed at Megatron-LM 2022's (no TP overlap, SP all-gather redo, no offload, tensor-fastest rank order)".into());
    } else if !network.has_host() {
        notes.push("offload not searched: the system profile gives no host_link_gb_s / host_memory_gib".into());
    }
    // cost and CO2e per hour of this cluster, from the full pipeline, on the
    // best plan a scenario can state (offload is searched, not a plan field;
    // the hourly rates hardly depend on the plan)
    let no_offload = r.top.iter().find(|c| c.options.offload == Offload::default()).cloned().or_else(|| {
        // every listed plan offloads: the best plan without offload, searched apart
        let c2 = Constraints { offload: Some(Offload::default()), ..problem.constraints };
        search::search(&Problem { constraints: c2, ..problem }, 1).top.into_iter().next()
    });
    let rates = match no_offload.as_ref() {
        Some(best) if sc.tokens.is_some() => {
            let mut s2 = sc.clone();
            let p = &best.plan;
            // the searched plan, with the request's stated assumptions
            s2.plan = crate::scenario::PlanRequest {
                tp: Some(p.tp),
                cp: Some(p.cp),
                pp: Some(p.pp),
                interleave: Some(p.interleave),
                sp: Some(p.sp),
                ep: Some(p.ep),
                zero: Some(p.zero),
                recompute: Some(p.recompute),
                micro_batch: Some(p.micro_batch),
                ..sc.plan
            };
            s2.batch = crate::scenario::BatchRequest::Sequences(p.global_batch);
            s2.throughput = crate::scenario::Throughput::Mfu(0.5);
            let e = estimate::estimate(&s2)?;
            Some((e.cost_rental_usd.map(|c| c / e.wall_time_h), e.co2e_total_t / e.wall_time_h))
        }
        None if sc.tokens.is_some() && !r.top.is_empty() => {
            notes.push(
                "cost and CO2e not priced: every feasible plan offloads to host memory, which the estimate pipeline does not take as a plan field".into(),
            );
            None
        }
        _ => None,
    };
    let peak = device.peak(sc.dtype).value();
    let entries: Vec<PlanEntry> = r
        .top
        .iter()
        .enumerate()
        .map(|(k, cand)| {
            let p = &cand.plan;
            let tokens_step = (p.global_batch * sc.seq_len) as f64;
            let wall_h = sc.tokens.map(|t| t / tokens_step * cand.step_time_s / 3600.0);
            PlanEntry {
                rank: k + 1,
                plan: PlanOut::new(p, ChosenBy::Search),
                dp_overlap: cand.options.dp_overlap,
                tp_overlap: cand.options.tp_overlap,
                sp_ag_redo: cand.options.sp_ag_redo,
                offload: cand.options.offload,
                dp_inner: cand.options.dp_inner,
                step_time_s: cand.step_time_s,
                samples_per_s: cand.samples_per_s,
                tokens_per_s: cand.samples_per_s * sc.seq_len as f64,
                mfu: cand.mfu,
                hfu: cand.hfu,
                model_tflops_per_gpu: cand.mfu * peak / 1e12,
                hardware_tflops_per_gpu: cand.hfu * peak / 1e12,
                memory_per_gpu_gib: cand.memory_gib,
                breakdown: cand.breakdown,
                wall_time_h: wall_h,
                cost_rental_usd: wall_h.and_then(|w| rates.and_then(|(c, _)| c.map(|c| c * w))),
                co2e_total_t: wall_h.and_then(|w| rates.map(|(_, g)| g * w)),
            }
        })
        .collect();
    if entries.is_empty() {
        let why = r
            .least_memory
            .as_ref()
            .map_or_else(|| format!("no valid split of {} GPUs for global batch {global}", sc.gpus), |l| compute::does_not_fit_text(&l.memory));
        notes.push(why);
    }
    Ok(PlanReport {
        model: spec.id.clone(),
        accelerator: sc.accelerator.id.clone(),
        system: sc.system.as_ref().map(|s| s.id.clone()),
        gpus: sc.gpus,
        seq_len: sc.seq_len,
        dtype: sc.dtype.to_string(),
        global_batch: global,
        objective,
        configs_evaluated: r.configs_evaluated,
        configs_feasible: r.configs_feasible,
        configs_out_of_memory: r.configs_out_of_memory,
        configs_invalid: r.configs_invalid,
        elapsed_s: r.elapsed_s,
        best: entries.first().cloned(),
        top: entries,
        notes,
    })
}

/// TP overlap, SP all-gather store (`agst`), offloads, rank order.
fn schedule_text(e: &PlanEntry) -> String {
    let mut v: Vec<String> = Vec::new();
    match e.tp_overlap {
        TpOverlap::None => {}
        TpOverlap::Ring => v.push("ring".into()),
        TpOverlap::Pipe => v.push("pipe".into()),
    }
    if !e.sp_ag_redo {
        v.push("agst".into());
    }
    let o = e.offload;
    let off: String = [(o.weights, 'w'), (o.activations, 'a'), (o.optimizer, 'o')].iter().filter(|x| x.0).map(|x| x.1).collect();
    if !off.is_empty() {
        v.push(format!("off:{off}"));
    }
    if e.dp_inner {
        v.push("dp-in".into());
    }
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

/// A table of a plan report.
#[must_use]
pub fn plan_table(r: &PlanReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} on {} x {} ({}), global batch {}, seq {}: {} configs evaluated, {} feasible, {} out of memory, {} invalid, {:.3} s",
        r.model,
        r.gpus,
        r.accelerator,
        r.dtype,
        r.global_batch,
        r.seq_len,
        r.configs_evaluated,
        r.configs_feasible,
        r.configs_out_of_memory,
        r.configs_invalid,
        r.elapsed_s
    );
    let _ = writeln!(
        s,
        "{:>4} {:>3} {:>3} {:>3} {:>5} {:>2} {:>3} {:>3} {:>4} {:>9} {:>3} {:>4} {:>6} {:>14} {:>9} {:>6} {:>6} {:>8} {:>10} {:>8}",
        "rank",
        "tp",
        "cp",
        "pp",
        "dp",
        "v",
        "sp",
        "ep",
        "zero",
        "recompute",
        "mb",
        "gb",
        "dp-ov",
        "schedule",
        "step s",
        "MFU%",
        "HFU%",
        "mem GiB",
        "wall h",
        "tCO2e"
    );
    for e in &r.top {
        let p = &e.plan;
        let _ = writeln!(
            s,
            "{:>4} {:>3} {:>3} {:>3} {:>5} {:>2} {:>3} {:>3} {:>4} {:>9} {:>3} {:>4} {:>6} {:>14} {:>9.3} {:>6.1} {:>6.1} {:>8.1} {:>10} {:>8}",
            e.rank,
            p.tp,
            p.cp,
            p.pp,
            p.dp,
            p.interleave,
            if p.sp { "y" } else { "n" },
            p.ep,
            p.zero,
            p.recompute.to_string(),
            p.micro_batch,
            p.global_batch,
            if e.dp_overlap { "y" } else { "n" },
            schedule_text(e),
            e.step_time_s,
            e.mfu * 100.0,
            e.hfu * 100.0,
            e.memory_per_gpu_gib,
            e.wall_time_h.map_or("-".into(), |w| format!("{w:.1}")),
            e.co2e_total_t.map_or("-".into(), |c| format!("{c:.1}"))
        );
    }
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
