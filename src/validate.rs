//! `flopprint validate`: predictions against published training runs.
//!
//! The dataset (`tests/data/published_runs.toml`, embedded) lists cases,
//! each a published figure (step time, TFLOP/s per GPU, MFU, whole-run
//! GPU-hours or wall clock, energy) with the inputs of the run and the
//! figure's convention. For each case a scenario is built directly (no
//! built-in defaults), run through the estimate pipeline, and the metric
//! matching the case's convention is compared:
//! `error_pct = (predicted − published) / published × 100`.
//!
//! Beside it, the planner's rule of thumb: `time = 6·N·D / (GPUs × peak ×
//! 0.40)` (N active parameters, D tokens; for one step D = batch × sequence
//! length; for an MFU case the baseline is 0.40 itself; for energy,
//! baseline GPU-hours × TDP).
//!
//! Per-step cases (step time, throughput, MFU) are run with `--goodput 1`
//! (they measure productive time); whole-run cases with the production
//! goodput model (src/goodput.rs). Cases flopprint cannot express are
//! listed as skipped with the reason, never dropped silently.
//!
//! Fit honesty: `GEMM_EFFICIENCY_SCALE` (src/simulator/device.rs) was fitted
//! on Korthikanti et al. 2022 Table 5, `ZERO3_COLLECTIVE_EFFICIENCY`
//! (src/simulator/network.rs) on Narayanan et al. 2021 Table 2's ZeRO-3
//! rows; those cases carry `fitted = true` (and `fit`) and their errors are
//! reported as fit residuals, apart from the held-out rest. The ZeRO-3
//! constant is refitted here, with its leave-one-out error.

use crate::catalog::ModelSpec;
use crate::dtype::Dtype;
use crate::estimate::{self, Estimate};
use crate::flops::Recompute;
use crate::scenario::{self, Count, Scenario, ScenarioInput};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Once;

/// The embedded dataset.
pub const DATASET: &str = include_str!("../tests/data/published_runs.toml");
/// The rule of thumb's MFU.
pub const BASELINE_MFU: f64 = 0.40;

/// The dataset file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub case: Vec<Case>,
}

/// A model shape given in the case itself (Narayanan 2021 Table 1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelShape {
    pub layers: u64,
    pub hidden: u64,
    pub heads: u64,
    pub ffn_hidden: u64,
    pub vocab: u64,
    pub seq: u64,
    pub params_published: f64,
    pub source: String,
}

/// One published figure and the run's inputs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub category: String,
    pub metric: String,
    pub published: f64,
    pub unit: String,
    pub convention: String,
    pub source: String,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub fitted: bool,
    /// The constant a `fitted` case was used to fit: `gemm_efficiency_scale`
    /// (the default) or `zero3_efficiency`.
    #[serde(default)]
    pub fit: Option<String>,
    /// `narayanan_eq3` or `korthikanti_eq7`: the paper's FLOP count.
    #[serde(default)]
    pub flops_formula: Option<String>,
    /// `accelerators`, `it` or `facility` (energy cases).
    #[serde(default)]
    pub energy_boundary: Option<String>,
    pub model: String,
    #[serde(default)]
    pub model_spec: Option<ModelShape>,
    #[serde(default)]
    pub accelerator: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    /// `flash` or `unfused` (default: fused where the family has it).
    #[serde(default)]
    pub attention: Option<String>,
    #[serde(default)]
    pub gpus: Option<u64>,
    #[serde(default)]
    pub seq_len: Option<u64>,
    #[serde(default)]
    pub global_batch: Option<u64>,
    #[serde(default)]
    pub micro_batch: Option<u64>,
    #[serde(default)]
    pub tp: Option<u64>,
    #[serde(default)]
    pub pp: Option<u64>,
    #[serde(default)]
    pub dp: Option<u64>,
    #[serde(default)]
    pub cp: Option<u64>,
    #[serde(default)]
    pub model_parallel: Option<u64>,
    #[serde(default)]
    pub interleave: Option<u64>,
    #[serde(default)]
    pub sp: Option<bool>,
    #[serde(default)]
    pub zero: Option<u8>,
    #[serde(default)]
    pub ep_overlap: Option<bool>,
    /// Checkpoint write bandwidth of the run's storage, GB/s (goodput model).
    #[serde(default)]
    pub checkpoint_bandwidth: Option<f64>,
    #[serde(default)]
    pub recompute: Option<String>,
    #[serde(default)]
    pub dtype: Option<String>,
    #[serde(default)]
    pub tokens: Option<String>,
    // published context, not inputs
    #[serde(default)]
    pub tokens_per_batch: Option<String>,
    #[serde(default)]
    pub tflops_per_gpu: Option<f64>,
    #[serde(default)]
    pub hfu: Option<f64>,
    #[serde(default)]
    pub time_to_train_min: Option<f64>,
}

/// A compared case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub category: String,
    pub metric: String,
    pub unit: String,
    pub published: f64,
    pub predicted: f64,
    pub error_pct: f64,
    pub baseline_6nd40: f64,
    pub baseline_error_pct: f64,
    /// The case was used to fit a constant: its error is a fit residual.
    pub fitted: bool,
    /// Which constant (`gemm_efficiency_scale`, `zero3_efficiency`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<String>,
    pub source: String,
    pub convention: String,
}

/// A case flopprint cannot express.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub name: String,
    pub category: String,
    pub metric: String,
    pub reason: String,
}

/// Errors of one group of cases.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct GroupSummary {
    pub n: usize,
    pub mape_pct: f64,
    pub max_abs_error_pct: f64,
    pub baseline_mape_pct: f64,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub cases: Vec<CaseResult>,
    pub skipped: Vec<Skipped>,
    /// Per category, held-out cases only.
    pub summary: BTreeMap<String, GroupSummary>,
    /// The Korthikanti Table 5 cases GEMM_EFFICIENCY_SCALE was fitted on.
    pub fit_residual: Option<GroupSummary>,
    /// `ZERO3_COLLECTIVE_EFFICIENCY` refitted on its cases, with the
    /// leave-one-out error.
    pub zero3_fit: Option<Zero3Fit>,
    /// Every held-out case together.
    pub held_out: Option<GroupSummary>,
}

/// The ZeRO-3 efficiency refitted on the cases marked
/// `fit = "zero3_efficiency"`, and its leave-one-out error: each case
/// predicted with the constant fitted on the others.
#[derive(Debug, Clone, Serialize)]
pub struct Zero3Fit {
    /// `ZERO3_COLLECTIVE_EFFICIENCY` as in the code.
    pub value_in_code: f64,
    /// The value that minimises the cases' MAPE (log grid, 0.2 % steps).
    pub refit: f64,
    pub n: usize,
    /// MAPE of the cases at the code's value (a fit residual).
    pub fit_residual_mape_pct: f64,
    /// MAPE with each case left out of the fit (an accuracy estimate).
    pub leave_one_out_mape_pct: f64,
    pub leave_one_out: Vec<LeaveOneOut>,
}

/// One case predicted with the constant fitted without it.
#[derive(Debug, Clone, Serialize)]
pub struct LeaveOneOut {
    pub name: String,
    /// The constant fitted on the other cases.
    pub fitted_without: f64,
    pub published: f64,
    pub predicted: f64,
    pub error_pct: f64,
}

/// Parses a dataset.
///
/// # Errors
/// Malformed TOML or an unknown field, naming the file.
pub fn parse(file: &str, text: &str) -> Result<Dataset, String> {
    let ds: Dataset = toml::from_str(text).map_err(|e| format!("{file}: {}", e.to_string().trim_end()))?;
    for c in &ds.case {
        match (c.fitted, c.fit.as_deref()) {
            (_, Some(f)) if !FITS.contains(&f) => {
                return Err(format!("{file}: case `{}`: fit = \"{f}\" is not a fitted constant; use one of: {}", c.name, FITS.join(", ")));
            }
            (false, Some(f)) => {
                return Err(format!("{file}: case `{}`: fit = \"{f}\" needs fitted = true (a case a constant was fitted on is not held out)", c.name))
            }
            _ => {}
        }
    }
    Ok(ds)
}

/// The constants a case can be marked as fitted on.
const FITS: [&str; 2] = ["gemm_efficiency_scale", "zero3_efficiency"];

fn is_step_metric(m: &str) -> bool {
    matches!(m, "iteration_time_s" | "train_step_time_s" | "mfu" | "tflops_per_gpu")
}

fn parse_tokens(s: &str) -> Result<f64, String> {
    let first = s.split_whitespace().next().unwrap_or("").trim_end_matches('+');
    scenario::parse_count(first)
}

/// Why a case cannot be expressed, if it cannot.
fn skip_reason(c: &Case) -> Option<String> {
    let known = [
        "iteration_time_s",
        "train_step_time_s",
        "mfu",
        "tflops_per_gpu",
        "gpu_hours",
        "wall_clock_h",
        "wall_clock_days",
        "ideal_wall_clock_days",
        "energy_kwh",
    ];
    if c.metric == "layer_fwd_bwd_time_ms" {
        return Some("per-layer forward/backward time is not an output of the estimate (flopprint predicts whole steps)".into());
    }
    if !known.contains(&c.metric.as_str()) {
        return Some(format!("metric `{}` is not one flopprint predicts", c.metric));
    }
    if is_step_metric(&c.metric) {
        if c.tp.is_none() || c.pp.is_none() {
            return Some(match c.model_parallel {
                Some(mp) => format!("only the model-parallel size (TP x PP = {mp}) is published, not the split"),
                None => "the plan (TP/PP) of this figure is not published".into(),
            });
        }
        if c.gpus.is_none() {
            return Some("the GPU count is not published".into());
        }
    } else {
        if c.gpus.is_none() {
            return Some("the GPU count is not published (the plan, hence the step time and the goodput, depend on it)".into());
        }
        if c.tokens.is_none() {
            return Some("the token count is not published".into());
        }
    }
    None
}

fn model_from_shape(id: &str, s: &ModelShape) -> Result<ModelSpec, String> {
    let mut t = toml::Table::new();
    t.insert("name".into(), id.into());
    t.insert("arch".into(), "decoder".into());
    t.insert("layers".into(), toml::Value::Integer(s.layers as i64));
    t.insert("hidden".into(), toml::Value::Integer(s.hidden as i64));
    t.insert("heads".into(), toml::Value::Integer(s.heads as i64));
    t.insert("ffn_hidden".into(), toml::Value::Integer(s.ffn_hidden as i64));
    t.insert("activation".into(), "gelu".into());
    t.insert("vocab".into(), toml::Value::Integer(s.vocab as i64));
    t.insert("max_seq_len".into(), toml::Value::Integer(s.seq as i64));
    t.insert("position".into(), "learned".into());
    t.insert("params_published".into(), s.params_published.into());
    t.insert("source".into(), s.source.clone().into());
    t.insert("source_year".into(), toml::Value::Integer(2021));
    let mut m: ModelSpec = toml::Value::Table(t).try_into().map_err(|e: toml::de::Error| e.to_string())?;
    m.id = id.to_string();
    Ok(m)
}

/// The scenario of a case: built field by field, no built-in defaults.
fn scenario_of(c: &Case) -> Result<Scenario, String> {
    let step = is_step_metric(&c.metric);
    let mut i = ScenarioInput { name: Some(c.name.clone()), ..ScenarioInput::default() };
    // a shape given in the case replaces a catalog GPT of the same family after resolving
    i.model.model = Some(if c.model_spec.is_some() { "megatron-22b".into() } else { c.model.clone() });
    i.model.seq_len = c.seq_len;
    i.model.global_batch = c.global_batch;
    i.hardware.system.clone_from(&c.system);
    i.hardware.accelerator = if c.system.is_some() { None } else { c.accelerator.clone() };
    i.hardware.gpus = c.gpus;
    i.plan.tp = c.tp;
    i.plan.cp = c.cp;
    i.plan.pp = c.pp;
    i.plan.interleave = c.interleave;
    i.plan.sp = c.sp;
    i.plan.zero = c.zero;
    i.plan.ep_overlap = c.ep_overlap;
    i.plan.checkpoint_bandwidth = c.checkpoint_bandwidth;
    i.plan.micro_batch = c.micro_batch;
    i.plan.attention = c.attention.as_deref().map(str::parse::<crate::simulator::AttentionKernel>).transpose().map_err(|e| format!("attention: {e}"))?;
    i.plan.recompute = c.recompute.as_deref().map(str::parse::<Recompute>).transpose().map_err(|e| format!("recompute: {e}"))?;
    i.plan.dtype = c.dtype.as_deref().map(str::parse::<Dtype>).transpose().map_err(|e| format!("dtype: {e}"))?;
    if step {
        i.plan.goodput = Some(1.0);
        let (Some(b), Some(s)) = (c.global_batch, c.seq_len) else {
            return Err("a per-step case needs global_batch and seq_len".into());
        };
        i.tokens = Some(Count((b * s) as f64));
    } else {
        i.tokens = Some(Count(parse_tokens(c.tokens.as_deref().unwrap_or_default())?));
    }
    let mut sc = i.resolve(vec![]).map_err(|e| e.to_string())?;
    if let Some(shape) = &c.model_spec {
        sc.model = model_from_shape(&c.model, shape)?;
        sc.seq_len = c.seq_len.unwrap_or(shape.seq);
    }
    Ok(sc)
}

/// The paper's FLOPs per step for the case's formula.
fn formula_flops(formula: &str, m: &ModelSpec, batch: f64, s: f64) -> Option<f64> {
    let (l, h, v) = (m.layers as f64, m.hidden as f64, m.vocab as f64);
    match formula {
        // Narayanan 2021 Eq. 3 (with the recompute forward)
        "narayanan_eq3" => Some(96.0 * batch * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h))),
        // Korthikanti 2022 Appendix A Eq. 7 (model FLOPs)
        "korthikanti_eq7" => Some(72.0 * batch * l * s * h * h * (1.0 + s / (6.0 * h) + v / (12.0 * h * l))),
        _ => None,
    }
}

/// (predicted, baseline) of the case's metric.
fn metric_of(c: &Case, sc: &Scenario, e: &Estimate) -> Result<(f64, f64), String> {
    let g = e.gpus as f64;
    let peak = e.peak_tflops_per_gpu * 1e12;
    let n = e.params_active;
    let need = |x: Option<f64>, what: &str| x.filter(|v| v.is_finite()).ok_or_else(|| format!("the estimate has no {what}"));
    if is_step_metric(&c.metric) {
        let step = need(e.step_time_s, "step time")?;
        let batch = e.plan.as_ref().map_or(0.0, |p| p.global_batch as f64);
        let s = e.seq_len as f64;
        let base_step = 6.0 * n * batch * s / (g * peak * BASELINE_MFU);
        let formula = c.flops_formula.as_deref().and_then(|f| formula_flops(f, &sc.model, batch, s));
        let predicted = match step_metric(c, formula, g, peak, step) {
            Some(v) => v,
            None if c.metric == "mfu" => need(e.mfu, "MFU")?,
            None => need(e.hardware_tflops_per_gpu, "hardware TFLOP/s")?,
        };
        let baseline = match c.metric.as_str() {
            "iteration_time_s" | "train_step_time_s" => base_step,
            "mfu" => BASELINE_MFU,
            _ => formula.map_or(BASELINE_MFU * e.peak_tflops_per_gpu, |f| f / (base_step * g) / 1e12),
        };
        return Ok((predicted, baseline));
    }
    let d = e.tokens.ok_or("the estimate has no tokens")?;
    let base_wall_s = 6.0 * n * d / (g * peak * BASELINE_MFU);
    let base_gpu_h = base_wall_s * g / 3600.0;
    match c.metric.as_str() {
        "gpu_hours" => Ok((e.gpu_hours, base_gpu_h)),
        "wall_clock_h" => Ok((e.wall_time_h, base_wall_s / 3600.0)),
        "wall_clock_days" => Ok((e.wall_time_days, base_wall_s / 86400.0)),
        "ideal_wall_clock_days" => Ok((e.wall_time_ideal_h / 24.0, base_wall_s / 86400.0)),
        "energy_kwh" => {
            let base = base_gpu_h * sc.accelerator.tdp_w / 1000.0;
            let p = match c.energy_boundary.as_deref() {
                Some("accelerators") => need(e.energy_accelerators_kwh, "accelerator energy")?,
                Some("it") => e.energy_it_kwh,
                Some("facility") | None => e.energy_facility_kwh,
                Some(b) => return Err(format!("unknown energy_boundary `{b}`")),
            };
            Ok((p, base))
        }
        m => Err(format!("metric `{m}` is not one flopprint predicts")),
    }
}

fn summarise<'a>(rs: impl Iterator<Item = &'a CaseResult>) -> Option<GroupSummary> {
    let v: Vec<&CaseResult> = rs.collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    Some(GroupSummary {
        n: v.len(),
        mape_pct: v.iter().map(|r| r.error_pct.abs()).sum::<f64>() / n,
        max_abs_error_pct: v.iter().map(|r| r.error_pct.abs()).fold(0.0, f64::max),
        baseline_mape_pct: v.iter().map(|r| r.baseline_error_pct.abs()).sum::<f64>() / n,
    })
}

/// A case's step metric from a step time (the estimate's own path for
/// per-step cases, without the later stages).
/// `None` for an MFU or TFLOP/s case without a `flops_formula` (the
/// estimate's own figure is used then).
fn step_metric(c: &Case, formula: Option<f64>, gpus: f64, peak: f64, step: f64) -> Option<f64> {
    match c.metric.as_str() {
        "iteration_time_s" | "train_step_time_s" => Some(step),
        "mfu" => formula.map(|f| f / (step * gpus * peak)),
        "tflops_per_gpu" => formula.map(|f| f / (step * gpus) / 1e12),
        _ => None,
    }
}

/// Refits `ZERO3_COLLECTIVE_EFFICIENCY` on the cases marked
/// `fit = "zero3_efficiency"` and predicts each with the value fitted on
/// the others. Each case's plan and workload are built once; the step is
/// re-simulated per candidate value.
fn zero3_fit(ds: &Dataset) -> Result<Option<Zero3Fit>, String> {
    use crate::simulator::{network::ZERO3_COLLECTIVE_EFFICIENCY, Simulator};
    let marked: Vec<&Case> = ds.case.iter().filter(|c| c.fit.as_deref() == Some("zero3_efficiency")).collect();
    if marked.is_empty() {
        return Ok(None);
    }
    // log grid 0.01 .. 1 in 0.2 % steps
    // ln(100) / ln(1.002) = 2305 steps
    let grid: Vec<f64> = (0..=2305).map(|i| 0.01 * 1.002f64.powi(i)).filter(|&e| e <= 1.0).collect();
    // per case: (published, predictions over the grid)
    let mut rows = Vec::new();
    for c in &marked {
        let sc = scenario_of(c)?;
        let comp = estimate::compute::run(&sc).map_err(|e| format!("{}: {e}", c.name))?;
        let step = comp.step.as_ref().ok_or_else(|| format!("{}: no plan", c.name))?;
        let gb = step.plan.global_batch as f64;
        let formula = c.flops_formula.as_deref().and_then(|f| formula_flops(f, &sc.model, gb, sc.seq_len as f64));
        let peak = comp.machine.peak.value();
        let mut preds = Vec::with_capacity(grid.len());
        for &e in &grid {
            let network = crate::simulator::Network { zero3_efficiency: e, ..comp.machine.network };
            let sim = Simulator { device: comp.machine.device.as_ref(), network: &network, options: step.options };
            let t = sim.step(&step.workload).step_time_s;
            preds.push(
                step_metric(c, formula, sc.gpus as f64, peak, t)
                    .ok_or_else(|| format!("{}: a zero3 fit case needs a per-step metric with a flops_formula", c.name))?,
            );
        }
        rows.push((c, preds));
    }
    let err = |published: f64, p: f64| (p - published) / published * 100.0;
    // the grid point of least summed |error| over the cases other than `skip`
    let best = |skip: Option<usize>| -> usize {
        let mape = |gi: usize| rows.iter().enumerate().filter(|(i, _)| Some(*i) != skip).map(|(_, (c, p))| err(c.published, p[gi]).abs()).sum::<f64>();
        (0..grid.len()).map(|gi| (gi, mape(gi))).min_by(|a, b| a.1.total_cmp(&b.1)).map_or(0, |(gi, _)| gi)
    };
    let all = best(None);
    let mut loo = Vec::new();
    for (i, (c, p)) in rows.iter().enumerate() {
        let gi = best(Some(i));
        loo.push(LeaveOneOut { name: c.name.clone(), fitted_without: grid[gi], published: c.published, predicted: p[gi], error_pct: err(c.published, p[gi]) });
    }
    // the residual at the code's value: the grid point nearest to it
    let at_code =
        (0..grid.len()).min_by(|&a, &b| (grid[a] - ZERO3_COLLECTIVE_EFFICIENCY).abs().total_cmp(&(grid[b] - ZERO3_COLLECTIVE_EFFICIENCY).abs())).unwrap_or(0);
    let n = rows.len() as f64;
    Ok(Some(Zero3Fit {
        value_in_code: ZERO3_COLLECTIVE_EFFICIENCY,
        refit: grid[all],
        n: rows.len(),
        fit_residual_mape_pct: rows.iter().map(|(c, p)| err(c.published, p[at_code]).abs()).sum::<f64>() / n,
        leave_one_out_mape_pct: loo.iter().map(|l| l.error_pct.abs()).sum::<f64>() / n,
        leave_one_out: loo,
    }))
}

/// Runs every case of a dataset.
///
/// # Errors
/// A dataset that does not parse (a case that cannot run is skipped, with its reason).
pub fn run(file: &str, text: &str) -> Result<Validation, String> {
    let ds = parse(file, text)?;
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for c in &ds.case {
        let skip = |reason: String| Skipped { name: c.name.clone(), category: c.category.clone(), metric: c.metric.clone(), reason };
        if let Some(r) = skip_reason(c) {
            skipped.push(skip(r));
            continue;
        }
        let result = scenario_of(c).and_then(|sc| {
            let e = estimate::estimate(&sc).map_err(|e| format!("flopprint rejects the run: {e}"))?;
            metric_of(c, &sc, &e)
        });
        match result {
            Ok((predicted, baseline)) => {
                let err = |x: f64| (x - c.published) / c.published * 100.0;
                cases.push(CaseResult {
                    name: c.name.clone(),
                    category: c.category.clone(),
                    metric: c.metric.clone(),
                    unit: c.unit.clone(),
                    published: c.published,
                    predicted,
                    error_pct: err(predicted),
                    baseline_6nd40: baseline,
                    baseline_error_pct: err(baseline),
                    fitted: c.fitted,
                    fit: c.fitted.then(|| c.fit.clone().unwrap_or_else(|| "gemm_efficiency_scale".into())),
                    source: c.source.clone(),
                    convention: c.convention.clone(),
                });
            }
            Err(r) => skipped.push(skip(r)),
        }
    }
    let mut summary = BTreeMap::new();
    let cats: std::collections::BTreeSet<String> = cases.iter().map(|r| r.category.clone()).collect();
    for cat in cats {
        if let Some(s) = summarise(cases.iter().filter(|r| r.category == cat && !r.fitted)) {
            summary.insert(cat, s);
        }
    }
    let fit_residual = summarise(cases.iter().filter(|r| r.fit.as_deref() == Some("gemm_efficiency_scale")));
    let held_out = summarise(cases.iter().filter(|r| !r.fitted));
    let zero3_fit = zero3_fit(&ds)?;
    Ok(Validation { cases, skipped, summary, fit_residual, zero3_fit, held_out })
}

/// Runs the embedded dataset.
///
/// # Errors
/// Never for the embedded dataset (tested).
pub fn run_embedded() -> Result<Validation, String> {
    run("tests/data/published_runs.toml", DATASET)
}

fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-3..6).contains(&mag) {
        return format!("{x:.3e}");
    }
    let dec = (2 - mag).max(0) as usize;
    format!("{x:.dec$}")
}

fn group_row(s: &mut String, name: &str, g: &GroupSummary) {
    let _ = writeln!(s, "| {name} | {} | {:.1} | {:.1} | {:.1} |", g.n, g.mape_pct, g.max_abs_error_pct, g.baseline_mape_pct);
}

/// The summary tables (markdown).
#[must_use]
pub fn summary_table(v: &Validation) -> String {
    let mut s = String::from("| group | n | flopprint MAPE % | flopprint max abs error % | 6ND@40% MAPE % |\n|---|---|---|---|---|\n");
    for (cat, g) in &v.summary {
        group_row(&mut s, &format!("{cat} (held out)"), g);
    }
    if let Some(g) = &v.held_out {
        group_row(&mut s, "all held-out cases", g);
    }
    if let Some(g) = &v.fit_residual {
        group_row(&mut s, "fit residual (Korthikanti 2022 Table 5)", g);
    }
    if let Some(g) = summarise(v.cases.iter().filter(|r| r.fit.as_deref() == Some("zero3_efficiency"))) {
        group_row(&mut s, "fit residual (Narayanan 2021 Table 2, ZeRO-3)", &g);
    }
    if let Some(f) = &v.zero3_fit {
        let max = f.leave_one_out.iter().map(|l| l.error_pct.abs()).fold(0.0, f64::max);
        let _ = writeln!(s, "| leave-one-out (Narayanan 2021 Table 2, ZeRO-3) | {} | {:.1} | {:.1} | |", f.n, f.leave_one_out_mape_pct, max);
    }
    s
}

/// The ZeRO-3 constant's refit and leave-one-out table (markdown).
#[must_use]
pub fn zero3_fit_table(f: &Zero3Fit) -> String {
    let mut s = format!(
        "ZERO3_COLLECTIVE_EFFICIENCY = {} in the code; refitted here on {} cases: {:.3}. Fit residual {:.1} %, leave-one-out {:.1} %.\n\n\
| left out | fitted on the others | published | predicted | error % |\n|---|---|---|---|---|\n",
        f.value_in_code, f.n, f.refit, f.fit_residual_mape_pct, f.leave_one_out_mape_pct
    );
    for l in &f.leave_one_out {
        let _ = writeln!(s, "| {} | {:.3} | {} | {} | {:+.1} |", l.name, l.fitted_without, sig(l.published), sig(l.predicted), l.error_pct);
    }
    s
}

/// The cases table and the skipped list (markdown; also the CLI's table).
#[must_use]
pub fn table(v: &Validation) -> String {
    let mut s = String::from("| case | metric | published | flopprint | error % | 6ND@40% | error % | fitted |\n|---|---|---|---|---|---|---|---|\n");
    for r in &v.cases {
        let _ = writeln!(
            s,
            "| {} | {} ({}) | {} | {} | {:+.1} | {} | {:+.1} | {} |",
            r.name,
            r.metric,
            r.unit,
            sig(r.published),
            sig(r.predicted),
            r.error_pct,
            sig(r.baseline_6nd40),
            r.baseline_error_pct,
            if r.fitted { "yes" } else { "" }
        );
    }
    s.push('\n');
    s.push_str(&summary_table(v));
    if let Some(f) = &v.zero3_fit {
        s.push('\n');
        s.push_str(&zero3_fit_table(f));
    }
    if !v.skipped.is_empty() {
        let _ = writeln!(s, "\nSkipped ({} cases flopprint cannot express):\n", v.skipped.len());
        for k in &v.skipped {
            let _ = writeln!(s, "- {} ({}): {}", k.name, k.metric, k.reason);
        }
    }
    s
}

/// `reports/validation/validation.md`.
#[must_use]
pub fn markdown(v: &Validation) -> String {
    let mut s = String::from(
        "# flopprint vs published training runs\n\n\
Generated by `FLOPPRINT_BLESS=1 cargo test --locked --test it validate::` (also `flopprint validate`) from \
`tests/data/published_runs.toml`; the plot is `predicted_vs_published.svg` / `.png` beside this file.\n\n\
Each case is run as its own scenario (the published model, hardware, GPU count, plan, batch, dtype; nothing from \
the built-in default scenario). Per-step cases (step time, TFLOP/s per GPU, MFU) are predicted with `--goodput 1`; \
whole-run cases (GPU-hours, wall clock, energy) with the production goodput model (src/goodput.rs). \
Error = (predicted − published) / published. The baseline is the planner's rule of thumb, \
time = 6·N·D / (GPUs × peak × 0.40), with N the active parameters (for an MFU case: 0.40 itself; for energy: \
its GPU-hours × the accelerator's TDP).\n\n\
## What was fitted on what\n\n\
- `GEMM_EFFICIENCY_SCALE = 0.81` (src/simulator/device.rs) was fitted on Korthikanti et al. 2022 Table 5. \
Those cases (`fitted = yes`: the eight iteration times and the four MFUs of the same runs) are **fit residuals**, \
not accuracy; they are summarised apart.\n\
- `ZERO3_COLLECTIVE_EFFICIENCY` (src/simulator/network.rs), the fraction of each GPU's NIC share that ZeRO-3's \
parameter gathers and gradient reduce-scatters reach across nodes, was fitted on Narayanan et al. 2021 Table 2's six DeepSpeed \
ZeRO-3 rows (`fitted = yes`); `validate` refits it and predicts each row with the value fitted on the other five \
(leave-one-out, the accuracy figure for it).\n\
- Nothing else was fitted on this dataset. The goodput constants (src/goodput.rs) come from Llama 3 §3.3.4, \
Narayanan 2021 §5.10, MegaScale §6.3 and MLPerf logs, not from the whole-run figures here; the power model's \
constants from Latif/Newkirk/Selene measurements (src/power.rs).\n\
- Everything else is held out: Korthikanti §6.3 (DP 8), Narayanan 2021 Table 1 and Table 2's PTD-P rows, Llama 3 Table 4, MLPerf \
GPT-3 (H100, FP8) and the whole-run figures.\n\n\
## Summary\n\n",
    );
    s.push_str(&summary_table(v));
    s.push_str("\n## Cases\n\n");
    s.push_str(&table(v));
    s
}

static FONT: &[u8] = include_bytes!("report/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Okabe & Ito (2008) colour-blind-safe palette.
const OKABE_ITO: [(u8, u8, u8); 7] = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (213, 94, 0), (0, 114, 178), (204, 121, 167), (240, 228, 66)];
const PW: u32 = 900;
const PH: u32 = 800;

fn draw_plot<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, v: &Validation) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(err)?;
    let vals = v.cases.iter().flat_map(|r| [r.published, r.predicted, r.baseline_6nd40]).filter(|x| *x > 0.0 && x.is_finite());
    let (lo, hi) = vals.fold((f64::INFINITY, 0.0_f64), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo.is_finite() { (lo / 2.0, hi * 2.0) } else { (0.1, 10.0) };
    let mut c = ChartBuilder::on(root)
        .caption("flopprint vs published (filled: flopprint; hollow: 6ND @ 40% MFU)", ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((lo..hi).log_scale(), (lo..hi).log_scale())
        .map_err(err)?;
    c.configure_mesh().x_desc("published (each case in its own unit)").y_desc("predicted").label_style(("sans-serif", 13)).draw().map_err(err)?;
    let band = |k: f64| {
        let pts: Vec<(f64, f64)> = (0..=60).map(|i| lo * (hi / lo).powf(f64::from(i) / 60.0)).map(|x| (x, x * k)).collect();
        pts
    };
    c.draw_series(std::iter::once(PathElement::new(band(1.0), BLACK.stroke_width(1))))
        .map_err(err)?
        .label("y = x (grey: ±10 %)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1)));
    for k in [0.9, 1.1] {
        c.draw_series(std::iter::once(PathElement::new(band(k), BLACK.mix(0.35).stroke_width(1)))).map_err(err)?;
    }
    let cats: Vec<String> = v.cases.iter().map(|r| r.category.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    for (i, cat) in cats.iter().enumerate() {
        let (r, g, b) = OKABE_ITO[i % OKABE_ITO.len()];
        let col = RGBColor(r, g, b);
        let pts: Vec<&CaseResult> = v.cases.iter().filter(|x| &x.category == cat).collect();
        c.draw_series(pts.iter().map(|x| Circle::new((x.published, x.baseline_6nd40), 4, col.stroke_width(1)))).map_err(err)?;
        c.draw_series(pts.iter().map(|x| Circle::new((x.published, x.predicted), 5, col.filled())))
            .map_err(err)?
            .label(cat.as_str())
            .legend(move |(x, y)| Circle::new((x + 9, y), 5, col.filled()));
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// The predicted-vs-published plot; `png` selects PNG (bundled font), else SVG.
///
/// # Errors
/// A drawing or encoding failure.
pub fn plot(v: &Validation, png: bool) -> Result<Vec<u8>, String> {
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
    if png {
        let mut rgb = vec![0u8; (PW * PH * 3) as usize];
        draw_plot(&BitMapBackend::with_buffer(&mut rgb, (PW, PH)).into_drawing_area(), v)?;
        let img = image::RgbImage::from_raw(PW, PH, rgb).ok_or("PNG buffer has the wrong size")?;
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageOutputFormat::Png).map_err(|x| x.to_string())?;
        Ok(out.into_inner())
    } else {
        let mut s = String::new();
        draw_plot(&SVGBackend::with_string(&mut s, (PW, PH)).into_drawing_area(), v)?;
        Ok(s.into_bytes())
    }
}
