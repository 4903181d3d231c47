//! `flopprint plan --deadline DAYS | --budget USD`: search the cluster size
//! as well as the parallel plan.
//!
//! Candidate sizes are node counts (GPU counts without `--system`) on a
//! geometric ladder — powers of two and the 1.5× steps between them (1, 2,
//! 3, 4, 6, 8, 12, …) — up to `--max-gpus`. Each size runs the whole
//! estimate pipeline (plan search, simulated step, goodput, power,
//! footprint), exactly as `flopprint estimate --nodes N` would, in parallel
//! (rayon). Sizes with no plan that fits memory drop out; the smallest one
//! that runs is the minimum that fits.
//!
//! The constraint filters, the objective ranks: `time` → the fastest size
//! within the budget/deadline, `cost` → the cheapest (rental) size, `co2e`
//! → the lowest CO2e (operational + embodied). Ties go to fewer GPUs. With
//! a fixed token count, more GPUs finish sooner but scale imperfectly
//! (communication, pipeline bubbles, a smaller batch per GPU), so the
//! fastest and the cheapest size differ: that is the trade-off the
//! objective chooses on. The Pareto front is the set of sizes no other size
//! beats on wall time, rental cost and CO2e at once (Deb 2001,
//! "Multi-Objective Optimization using Evolutionary Algorithms", §2.4:
//! non-dominated set), whether or not they meet the constraint.

use crate::estimate::{Estimate, PlanOut};
use crate::report::charts::{Chart, Scatter, ScatterPanel};
use crate::report::{mass, sig3, usd};
use crate::scenario::{self, ScenarioInput};
use crate::search::Objective;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

/// The default bound of the search: 16,384 GPUs (2,048 eight-GPU nodes; the
/// size of Meta's Llama 3 405B run, Dubey et al. 2024 §3.3).
pub const DEFAULT_MAX_GPUS: u64 = 16_384;
/// The largest `--max-gpus` accepted.
pub const MAX_GPUS_LIMIT: u64 = 1_048_576;
/// The longest `--deadline` accepted: 100 years.
pub const MAX_DEADLINE_DAYS: f64 = 36_500.0;
/// The largest `--budget` accepted: a trillion dollars.
pub const MAX_BUDGET_USD: f64 = 1e12;

/// Errors of the cluster-size search; each names the flag and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SizingError {
    #[error("--deadline {0}: must be a number of days in (0, {MAX_DEADLINE_DAYS}], e.g. --deadline 30")]
    Deadline(f64),
    #[error("--budget {0}: must be an amount in US dollars in (0, {MAX_BUDGET_USD:e}], e.g. --budget 2e6")]
    Budget(f64),
    #[error("--max-gpus {0}: must be in 1..={MAX_GPUS_LIMIT}")]
    MaxGpus(u64),
    #[error("--{0} fixes the cluster, but --deadline/--budget search its size: drop --{0} (bound the search with --max-gpus)")]
    FixedSize(&'static str),
    #[error("--{0} accounts a finished run, but --deadline/--budget plan one: drop --{0}")]
    Measured(&'static str),
    #[error("--budget and --objective cost need a rental price and {0} has none: give --price-per-gpu-hour USD")]
    NoPrice(String),
    #[error("{0}")]
    Scenario(String),
    #[error("no cluster size up to {max_gpus} GPUs can run this scenario ({sizes} sizes tried); the largest says: {why}")]
    NothingRuns { max_gpus: u64, sizes: usize, why: String },
    #[error("{0}")]
    Unmet(String),
}

/// What to search for.
#[derive(Debug, Clone, Copy)]
pub struct SizingRequest {
    pub deadline_days: Option<f64>,
    pub budget_usd: Option<f64>,
    pub objective: Objective,
    pub max_gpus: u64,
    pub top: usize,
}

impl SizingRequest {
    /// Validates the flags.
    ///
    /// # Errors
    /// A deadline, budget or bound that is zero, negative, not a number or
    /// too large, naming the flag.
    pub fn new(deadline_days: Option<f64>, budget_usd: Option<f64>, objective: Objective, max_gpus: Option<u64>, top: usize) -> Result<Self, SizingError> {
        if let Some(d) = deadline_days {
            if !(d.is_finite() && d > 0.0 && d <= MAX_DEADLINE_DAYS) {
                return Err(SizingError::Deadline(d));
            }
        }
        if let Some(b) = budget_usd {
            if !(b.is_finite() && b > 0.0 && b <= MAX_BUDGET_USD) {
                return Err(SizingError::Budget(b));
            }
        }
        let max_gpus = max_gpus.unwrap_or(DEFAULT_MAX_GPUS);
        if max_gpus == 0 || max_gpus > MAX_GPUS_LIMIT {
            return Err(SizingError::MaxGpus(max_gpus));
        }
        Ok(Self { deadline_days, budget_usd, objective, max_gpus, top: top.max(1) })
    }
}

/// One cluster size with its estimate. Field names carry units.
#[derive(Debug, Clone, Serialize)]
pub struct SizeEntry {
    /// Rank by the objective among the sizes meeting the constraint (`null`: misses it).
    pub rank: Option<usize>,
    pub nodes: Option<u64>,
    pub gpus: u64,
    pub plan: Option<PlanOut>,
    pub step_time_s: Option<f64>,
    pub mfu: Option<f64>,
    pub memory_per_gpu_gib: Option<f64>,
    pub wall_time_h: f64,
    pub wall_time_days: f64,
    pub gpu_hours: f64,
    pub cost_rental_usd: Option<f64>,
    pub energy_it_kwh: f64,
    pub energy_facility_kwh: f64,
    pub co2e_operational_kg: f64,
    pub co2e_embodied_kg: f64,
    pub co2e_total_kg: f64,
    pub meets_deadline: Option<bool>,
    pub meets_budget: Option<bool>,
    /// On the Pareto front of wall time, rental cost and CO2e.
    pub pareto: bool,
}

impl SizeEntry {
    fn new(e: &Estimate, req: &SizingRequest) -> Self {
        Self {
            rank: None,
            nodes: if e.system.is_some() { e.nodes } else { None },
            gpus: e.gpus,
            plan: e.plan.clone(),
            step_time_s: e.step_time_s,
            mfu: e.mfu,
            memory_per_gpu_gib: e.memory_per_gpu_gib,
            wall_time_h: e.wall_time_h,
            wall_time_days: e.wall_time_days,
            gpu_hours: e.gpu_hours,
            cost_rental_usd: e.cost_rental_usd,
            energy_it_kwh: e.energy_it_kwh,
            energy_facility_kwh: e.energy_facility_kwh,
            co2e_operational_kg: e.co2e_operational_kg,
            co2e_embodied_kg: e.co2e_embodied_kg,
            co2e_total_kg: e.co2e_total_kg,
            meets_deadline: req.deadline_days.map(|d| e.wall_time_days <= d),
            meets_budget: req.budget_usd.map(|b| e.cost_rental_usd.is_some_and(|c| c <= b)),
            pareto: false,
        }
    }
    fn meets(&self) -> bool {
        self.meets_deadline != Some(false) && self.meets_budget != Some(false)
    }
    fn size_text(&self) -> String {
        match self.nodes {
            Some(n) => format!("{n} nodes ({} GPUs)", self.gpus),
            None => format!("{} GPUs", self.gpus),
        }
    }
    fn key(&self, o: Objective) -> f64 {
        match o {
            Objective::Time => self.wall_time_h,
            Objective::Cost => self.cost_rental_usd.unwrap_or(f64::INFINITY),
            Objective::Co2e => self.co2e_total_kg,
        }
    }
}

/// A size the search tried that could not run.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub nodes: Option<u64>,
    pub gpus: u64,
    pub error: String,
}

/// What `flopprint plan --deadline/--budget` prints.
#[derive(Debug, Clone, Serialize)]
pub struct SizingReport {
    /// `cluster_size`: the cluster size was searched.
    pub search: &'static str,
    pub scenario: Option<String>,
    pub model: String,
    pub accelerator: String,
    pub system: Option<String>,
    pub site: String,
    pub tokens: Option<f64>,
    pub objective: Objective,
    pub deadline_days: Option<f64>,
    pub budget_usd: Option<f64>,
    pub max_gpus: u64,
    pub sizes_evaluated: usize,
    pub sizes_run: usize,
    pub sizes_meeting_constraint: usize,
    pub best: SizeEntry,
    /// The sizes meeting the constraint, best first (up to `--top`).
    pub top: Vec<SizeEntry>,
    /// Non-dominated sizes (wall time, rental cost, CO2e), fewest GPUs first.
    pub pareto_front: Vec<SizeEntry>,
    /// Every size that ran, fewest GPUs first.
    pub sizes: Vec<SizeEntry>,
    /// Sizes that could not run (too small to fit memory, no valid split).
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

/// The ladder of sizes: powers of two and the 1.5× steps between them, up to `max`.
#[must_use]
pub fn ladder(max: u64) -> Vec<u64> {
    let mut v = Vec::new();
    let mut p: u64 = 1;
    while p <= max {
        v.push(p);
        let mid = p + p / 2;
        if mid > p && mid < 2 * p && mid <= max {
            v.push(mid);
        }
        p = match p.checked_mul(2) {
            Some(x) => x,
            None => break,
        };
    }
    v
}

/// `a` dominates `b`: no worse on every objective, better on one.
fn dominates(a: &SizeEntry, b: &SizeEntry) -> bool {
    let ka = [a.wall_time_h, a.cost_rental_usd.unwrap_or(0.0), a.co2e_total_kg];
    let kb = [b.wall_time_h, b.cost_rental_usd.unwrap_or(0.0), b.co2e_total_kg];
    ka.iter().zip(&kb).all(|(x, y)| x <= y) && ka.iter().zip(&kb).any(|(x, y)| x < y)
}

/// The estimate at one size: the scenario input with its cluster replaced.
///
/// # Errors
/// The scenario's or estimate's error, as text.
pub fn evaluate(base: &ScenarioInput, defaulted: &[String], axis: &str, n: u64) -> Result<Estimate, String> {
    let mut input = base.clone();
    input.hardware.nodes = None;
    input.hardware.gpus = None;
    if axis == "nodes" {
        input.hardware.nodes = Some(n);
    } else {
        input.hardware.gpus = Some(n);
    }
    let defaulted: Vec<String> = defaulted.iter().filter(|f| *f != "nodes" && *f != "gpus").cloned().collect();
    let sc = input.resolve(defaulted).map_err(|e| e.to_string())?;
    crate::estimate::estimate(&sc).map_err(|e| e.to_string())
}

/// Searches cluster sizes (and each size's plan) for the scenario.
///
/// # Errors
/// A scenario error, no size that runs, no size meeting the constraint
/// (naming the best achievable value), or no rental price where one is needed.
pub fn run(file: Option<&Path>, flags: &ScenarioInput, req: &SizingRequest) -> Result<SizingReport, SizingError> {
    if flags.hardware.nodes.is_some() {
        return Err(SizingError::FixedSize("nodes"));
    }
    if flags.hardware.gpus.is_some() {
        return Err(SizingError::FixedSize("gpus"));
    }
    let (input, defaulted) = scenario::input_with_defaults(file, flags).map_err(|e| SizingError::Scenario(e.to_string()))?;
    if input.measured.hours.is_some() {
        return Err(SizingError::Measured("hours"));
    }
    if input.measured.gpu_hours.is_some() {
        return Err(SizingError::Measured("gpu-hours"));
    }
    let mut notes = Vec::new();
    if file.is_some() && (input.hardware.nodes.is_some() || input.hardware.gpus.is_some()) && !defaulted.iter().any(|f| f == "nodes" || f == "gpus") {
        notes.push("the scenario file's nodes/gpus are replaced by the searched sizes".to_string());
    }
    // the base scenario at one unit: catches scenario errors (unknown ids, no tokens) once
    let mut probe = input.clone();
    probe.hardware.nodes = None;
    probe.hardware.gpus = None;
    let base =
        probe.resolve(defaulted.iter().filter(|f| *f != "nodes" && *f != "gpus").cloned().collect()).map_err(|e| SizingError::Scenario(e.to_string()))?;
    let (axis, per) = match &base.system {
        Some(s) => ("nodes", u64::from(s.accelerators_per_node)),
        None => ("gpus", 1),
    };
    let sizes = ladder(req.max_gpus / per);
    let results: Vec<(u64, Result<Estimate, String>)> = sizes.par_iter().map(|&n| (n, evaluate(&input, &defaulted, axis, n))).collect();
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for (n, r) in &results {
        match r {
            Ok(e) => entries.push(SizeEntry::new(e, req)),
            Err(why) => skipped.push(Skipped { nodes: (axis == "nodes").then_some(*n), gpus: n * per, error: why.clone() }),
        }
    }
    let Some(first) = results.iter().find_map(|(_, r)| r.as_ref().ok()) else {
        return Err(SizingError::NothingRuns {
            max_gpus: req.max_gpus,
            sizes: sizes.len(),
            why: skipped.last().map_or_else(|| "no size below --max-gpus".to_string(), |s| s.error.clone()),
        });
    };
    if (req.budget_usd.is_some() || req.objective == Objective::Cost) && entries.iter().any(|e| e.cost_rental_usd.is_none()) {
        return Err(SizingError::NoPrice(first.accelerator.clone()));
    }
    let flags_front: Vec<bool> = entries.iter().map(|e| !entries.iter().any(|o| dominates(o, e))).collect();
    for (e, p) in entries.iter_mut().zip(flags_front) {
        e.pareto = p;
    }
    let mut ranked: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].meets()).collect();
    ranked.sort_by(|&a, &b| entries[a].key(req.objective).total_cmp(&entries[b].key(req.objective)).then(entries[a].gpus.cmp(&entries[b].gpus)));
    if ranked.is_empty() {
        return Err(SizingError::Unmet(unmet_text(&entries, req)));
    }
    for (k, &i) in ranked.iter().enumerate() {
        entries[i].rank = Some(k + 1);
    }
    let top: Vec<SizeEntry> = ranked.iter().take(req.top).map(|&i| entries[i].clone()).collect();
    let best = top[0].clone();
    let smallest = &entries[0];
    if !skipped.is_empty() {
        notes.push(format!(
            "{} smaller than {} cannot run (see `skipped`): {} is the smallest that fits",
            plural(skipped.len()),
            smallest.size_text(),
            smallest.size_text()
        ));
    }
    notes.push("each size runs the full estimate (plan search, goodput, power, footprint): `flopprint estimate` with the same flags and --nodes (or --gpus) gives the same figures".into());
    Ok(SizingReport {
        search: "cluster_size",
        scenario: first.scenario.clone(),
        model: first.model.clone(),
        accelerator: first.accelerator.clone(),
        system: first.system.clone(),
        site: first.site.clone(),
        tokens: first.tokens,
        objective: req.objective,
        deadline_days: req.deadline_days,
        budget_usd: req.budget_usd,
        max_gpus: req.max_gpus,
        sizes_evaluated: sizes.len(),
        sizes_run: entries.len(),
        sizes_meeting_constraint: ranked.len(),
        best,
        top,
        pareto_front: entries.iter().filter(|e| e.pareto).cloned().collect(),
        sizes: entries,
        skipped,
        notes,
    })
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 size".into()
    } else {
        format!("{n} sizes")
    }
}

/// Why no size meets the constraint, with the best achievable value and the fix.
fn unmet_text(entries: &[SizeEntry], req: &SizingRequest) -> String {
    let fastest = entries.iter().min_by(|a, b| a.wall_time_h.total_cmp(&b.wall_time_h).then(a.gpus.cmp(&b.gpus)));
    let cheapest = entries
        .iter()
        .filter(|e| e.cost_rental_usd.is_some())
        .min_by(|a, b| a.key(Objective::Cost).total_cmp(&b.key(Objective::Cost)).then(a.gpus.cmp(&b.gpus)));
    let mut parts = Vec::new();
    if let (Some(d), Some(f)) = (req.deadline_days, fastest) {
        if f.wall_time_days > d {
            parts.push(format!(
                "no cluster size up to {} GPUs meets --deadline {d} days: the fastest, {}, takes {} days; raise --deadline to at least {}, raise --max-gpus, or choose faster hardware",
                req.max_gpus,
                f.size_text(),
                sig3(f.wall_time_days),
                ceil3(f.wall_time_days)
            ));
        }
    }
    if let (Some(b), Some(c)) = (req.budget_usd, cheapest) {
        let cost = c.cost_rental_usd.unwrap_or(0.0);
        if cost > b {
            parts.push(format!(
                "no cluster size meets --budget {b} USD: the cheapest, {}, costs {}; raise --budget to at least {}, or lower --price-per-gpu-hour",
                c.size_text(),
                usd(cost),
                cost.ceil()
            ));
        }
    }
    if parts.is_empty() {
        // each constraint alone is met, not both together
        let (d, b) = (req.deadline_days.unwrap_or(f64::INFINITY), req.budget_usd.unwrap_or(f64::INFINITY));
        let within_deadline = entries.iter().filter(|e| e.wall_time_days <= d).filter_map(|e| e.cost_rental_usd).fold(f64::INFINITY, f64::min);
        let within_budget = entries.iter().filter(|e| e.cost_rental_usd.is_some_and(|c| c <= b)).map(|e| e.wall_time_days).fold(f64::INFINITY, f64::min);
        parts.push(format!(
            "no cluster size meets --deadline {d} days and --budget {b} USD together: within the deadline the cheapest costs {}, within the budget the fastest takes {} days; raise --budget to at least {} or --deadline to at least {}",
            usd(within_deadline),
            sig3(within_budget),
            within_deadline.ceil(),
            ceil3(within_budget)
        ));
    }
    parts.join("; ")
}

/// Rounds up to three significant digits (a deadline that is then met).
fn ceil3(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(2 - v.log10().floor() as i32);
    (v * scale).ceil() / scale
}

/// A table of the sizes searched.
#[must_use]
pub fn table(r: &SizingReport) -> String {
    let mut s = String::new();
    let constraint: Vec<String> =
        [r.deadline_days.map(|d| format!("deadline {} days", sig3(d))), r.budget_usd.map(|b| format!("budget {}", usd(b)))].into_iter().flatten().collect();
    let _ = writeln!(
        s,
        "{} on {}{} at {}: {} sizes up to {} GPUs, {} run, {} meet {}; objective {}",
        r.model,
        r.system.as_deref().unwrap_or(&r.accelerator),
        r.tokens.map_or(String::new(), |t| format!(", {} tokens", crate::report::si(t).replace(' ', ""))),
        r.site,
        r.sizes_evaluated,
        r.max_gpus,
        r.sizes_run,
        r.sizes_meeting_constraint,
        constraint.join(" and "),
        objective_text(r.objective)
    );
    let _ = writeln!(
        s,
        "{:>4} {:>6} {:>6} {:>3} {:>3} {:>3} {:>5} {:>3} {:>6} {:>9} {:>11} {:>14} {:>10} {:>9} {:>5} {:>6}",
        "rank", "nodes", "gpus", "tp", "cp", "pp", "dp", "mb", "MFU%", "days", "GPU-hours", "rental USD", "tCO2e", "MWh", "meets", "pareto"
    );
    for e in &r.sizes {
        let p = e.plan.as_ref();
        let row = format!(
            "{:>4} {:>6} {:>6} {:>3} {:>3} {:>3} {:>5} {:>3} {:>6} {:>9.1} {:>11} {:>14} {:>10.1} {:>9.1} {:>5} {:>6}",
            e.rank.map_or("-".into(), |k| k.to_string()),
            e.nodes.map_or("-".into(), |n| n.to_string()),
            e.gpus,
            p.map_or("-".into(), |p| p.tp.to_string()),
            p.map_or("-".into(), |p| p.cp.to_string()),
            p.map_or("-".into(), |p| p.pp.to_string()),
            p.map_or("-".into(), |p| p.dp.to_string()),
            p.map_or("-".into(), |p| p.micro_batch.to_string()),
            e.mfu.map_or("-".into(), |m| format!("{:.1}", m * 100.0)),
            e.wall_time_days,
            crate::report::si(e.gpu_hours),
            e.cost_rental_usd.map_or("-".into(), usd),
            e.co2e_total_kg / 1000.0,
            e.energy_facility_kwh / 1000.0,
            if e.meets() { "yes" } else { "no" },
            if e.pareto { "*" } else { "" }
        );
        let _ = writeln!(s, "{}", row.trim_end());
    }
    let b = &r.best;
    let _ = writeln!(
        s,
        "best ({}): {}, {} days, {} rental, {}",
        objective_text(r.objective),
        b.size_text(),
        sig3(b.wall_time_days),
        b.cost_rental_usd.map_or("-".into(), usd),
        mass(b.co2e_total_kg)
    );
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}

fn objective_text(o: Objective) -> &'static str {
    match o {
        Objective::Time => "fastest",
        Objective::Cost => "cheapest",
        Objective::Co2e => "lowest CO2e",
    }
}

/// The Pareto plot: wall time against rental cost and against CO2e, every
/// size a point labelled with its size, the front joined, the constraint
/// drawn as a line.
#[must_use]
pub fn chart(r: &SizingReport) -> Chart {
    let label = |e: &SizeEntry| e.nodes.map_or_else(|| format!("{} GPUs", e.gpus), |n| format!("{n} n"));
    let pts = |f: &dyn Fn(&SizeEntry) -> f64| r.sizes.iter().map(|e| (e.wall_time_days, f(e), label(e), e.pareto)).collect::<Vec<_>>();
    let deadline = r.deadline_days.map(|d| (d, format!("deadline {} d", sig3(d))));
    let mut panels = Vec::new();
    if r.sizes.iter().all(|e| e.cost_rental_usd.is_some()) {
        panels.push(ScatterPanel {
            y_label: "rental cost ($M)".into(),
            points: pts(&|e| e.cost_rental_usd.unwrap_or(0.0) / 1e6),
            vline: deadline.clone(),
            hline: r.budget_usd.map(|b| (b / 1e6, format!("budget {}", usd(b)))),
        });
    }
    panels.push(ScatterPanel { y_label: "CO2e total (t)".into(), points: pts(&|e| e.co2e_total_kg / 1000.0), vline: deadline, hline: None });
    let name = r.scenario.clone().unwrap_or_else(|| {
        format!(
            "{} on {}{}",
            r.model,
            r.system.as_deref().unwrap_or(&r.accelerator),
            r.tokens.map_or(String::new(), |t| format!(", {} tokens", crate::report::si(t).replace(' ', "")))
        )
    });
    Chart::Scatter(Scatter {
        title: format!("Cluster sizes: time vs cost and CO2e (Pareto front joined): {name}"),
        x_label: "wall time (days, log scale)".into(),
        front_name: "Pareto front".into(),
        other_name: "dominated size".into(),
        panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_has_powers_of_two_and_the_steps_between() {
        assert_eq!(ladder(16), [1, 2, 3, 4, 6, 8, 12, 16]);
        assert_eq!(ladder(5), [1, 2, 3, 4]);
        assert_eq!(ladder(0), Vec::<u64>::new());
        assert_eq!(ladder(1), [1]);
    }

    #[test]
    fn bad_flags_are_named() {
        for d in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(SizingRequest::new(Some(d), None, Objective::Time, None, 5).unwrap_err().to_string().starts_with("--deadline"), "{d}");
        }
        for b in [0.0, -5.0, f64::NAN, 1e13] {
            assert!(SizingRequest::new(None, Some(b), Objective::Time, None, 5).unwrap_err().to_string().starts_with("--budget"), "{b}");
        }
        assert!(SizingRequest::new(Some(30.0), None, Objective::Time, Some(0), 5).unwrap_err().to_string().starts_with("--max-gpus"));
        assert!(SizingRequest::new(Some(30.0), Some(1e6), Objective::Cost, Some(64), 5).is_ok());
    }

    fn entry(h: f64, c: f64, g: f64) -> SizeEntry {
        SizeEntry {
            rank: None,
            nodes: None,
            gpus: 1,
            plan: None,
            step_time_s: None,
            mfu: None,
            memory_per_gpu_gib: None,
            wall_time_h: h,
            wall_time_days: h / 24.0,
            gpu_hours: h,
            cost_rental_usd: Some(c),
            energy_it_kwh: 0.0,
            energy_facility_kwh: 0.0,
            co2e_operational_kg: g,
            co2e_embodied_kg: 0.0,
            co2e_total_kg: g,
            meets_deadline: None,
            meets_budget: None,
            pareto: false,
        }
    }

    #[test]
    fn domination_needs_no_worse_everywhere_and_better_somewhere() {
        assert!(dominates(&entry(1.0, 1.0, 1.0), &entry(2.0, 1.0, 1.0)));
        assert!(!dominates(&entry(1.0, 1.0, 1.0), &entry(1.0, 1.0, 1.0)), "equal points do not dominate");
        assert!(!dominates(&entry(1.0, 2.0, 1.0), &entry(2.0, 1.0, 1.0)), "a trade-off: neither dominates");
        assert!(!dominates(&entry(1.0, 1.0, 2.0), &entry(2.0, 1.0, 1.0)), "CO2e counts too");
    }

    #[test]
    fn ceil3_rounds_up_to_three_digits() {
        assert_eq!(ceil3(23.41), 23.5);
        assert_eq!(ceil3(0.1234), 0.124);
        assert_eq!(ceil3(1500.0), 1500.0);
    }
}
