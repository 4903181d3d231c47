//! `flopprint sweep`: the estimate over the cross product of lists of
//! inputs, one row per scenario.
//!
//! Any of `--nodes`, `--gpus`, `--system`, `--accelerator`, `--site`,
//! `--tokens`, `--model`, `--dtype`, `--price-per-gpu-hour` takes a
//! comma-separated list; `--nodes` and `--gpus` also take ranges,
//! `8..256x2` (geometric: 8, 16, …, 256) and `8..64+8` (arithmetic: 8, 16,
//! …, 64), mixed with single values (`1,2,8..64x2`). Every other estimate
//! flag applies to all scenarios. The scenarios run in parallel (rayon);
//! one that fails becomes a row with its `error`, the sweep goes on.
//! Rows come back in the order of the cross product (the last axis
//! fastest), whatever the thread count.

use crate::estimate::{self, Estimate, PlanCache};
use crate::scenario::{self, Count, ScenarioInput};
use clap::{ArgMatches, Args, Command, FromArgMatches};
use polars::prelude::{Column, DataFrame};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The flags that take lists (clap ids = scenario TOML keys).
pub const AXES: [&str; 9] = ["nodes", "gpus", "system", "accelerator", "site", "tokens", "model", "dtype", "price_per_gpu_hour"];

/// The most scenarios one sweep evaluates.
pub const MAX_SCENARIOS: usize = 10_000_000;

/// The estimate flags with list-valued axes (`flopprint sweep`).
#[derive(Debug, Clone, Default)]
pub struct SweepInput {
    /// The axes given, in [`AXES`] order, each with its raw text.
    pub axes: Vec<(&'static str, String)>,
    /// Every other flag, applied to all scenarios.
    pub flags: ScenarioInput,
}

const AXIS_HELP: &str = "comma-separated list";

impl Args for SweepInput {
    fn augment_args(cmd: Command) -> Command {
        let mut cmd = ScenarioInput::augment_args(cmd);
        for id in AXES {
            cmd = cmd.mut_arg(id, |a| {
                let help = a.get_help().map(ToString::to_string).unwrap_or_default();
                let extra = if matches!(id, "nodes" | "gpus") { format!("{AXIS_HELP} or ranges (8..256x2, 8..64+8)") } else { AXIS_HELP.to_string() };
                a.value_parser(clap::builder::NonEmptyStringValueParser::new()).help(format!("{help} Sweep: a {extra}."))
            });
        }
        cmd
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SweepInput {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut m.clone())
    }
    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        // take the axes out as text; the derived parser then finds them absent
        let axes = AXES.iter().filter_map(|id| m.remove_one::<String>(id).map(|v| (*id, v))).collect();
        Ok(Self { axes, flags: ScenarioInput::from_arg_matches_mut(m)? })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

fn flag(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

/// Expands `a..b x k` (geometric) or `a..b+k` (arithmetic).
fn range(id: &str, item: &str) -> Result<Vec<u64>, String> {
    let bad = |why: &str| format!("{} {item}: {why}; write a range as 8..256x2 (x2 each step) or 8..64+8 (+8 each step)", flag(id));
    let (a, rest) = item.split_once("..").ok_or_else(|| bad("not a range"))?;
    let (b, step, geometric) = if let Some((b, k)) = rest.split_once('x') {
        (b, k, true)
    } else if let Some((b, k)) = rest.split_once('+') {
        (b, k, false)
    } else {
        (rest, "1", false)
    };
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad(&format!("`{}` is not a whole number", s.trim())));
    let (a, b, k) = (num(a)?, num(b)?, num(step)?);
    if a == 0 || a > b {
        return Err(bad("the start must be at least 1 and not above the end"));
    }
    if (geometric && k < 2) || (!geometric && k == 0) {
        return Err(bad(if geometric { "the factor must be at least 2" } else { "the step must be at least 1" }));
    }
    let mut v = Vec::new();
    let mut x = a;
    while x <= b {
        v.push(x);
        if v.len() > MAX_SCENARIOS {
            return Err(bad("too many values"));
        }
        x = if geometric { x.saturating_mul(k) } else { x.saturating_add(k) };
        if x == u64::MAX {
            break;
        }
    }
    Ok(v)
}

/// The values of one axis: its list, ranges expanded.
///
/// # Errors
/// An empty item, or a malformed range, naming the flag.
pub fn values(id: &str, text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("{} {text}: an empty item in the list", flag(id)));
        }
        if item.contains("..") {
            if !matches!(id, "nodes" | "gpus") {
                return Err(format!("{} {item}: ranges are for --nodes and --gpus; give a comma-separated list", flag(id)));
            }
            out.extend(range(id, item)?.into_iter().map(|n| n.to_string()));
        } else {
            out.push(item.to_string());
        }
    }
    Ok(out)
}

/// Sets one axis value on a scenario input.
///
/// # Errors
/// A value that does not parse, naming the flag.
pub fn apply(input: &mut ScenarioInput, id: &str, value: &str) -> Result<(), String> {
    let bad = |e: String| format!("{} {value}: {e}", flag(id));
    let int = || value.parse::<u64>().map_err(|_| bad("not a whole number".into()));
    match id {
        "nodes" => input.hardware.nodes = Some(int()?),
        "gpus" => input.hardware.gpus = Some(int()?),
        "system" => input.hardware.system = Some(value.to_string()),
        "accelerator" => input.hardware.accelerator = Some(value.to_string()),
        "site" => input.site.site = Some(value.to_string()),
        "tokens" => input.tokens = Some(Count(scenario::parse_count(value).map_err(bad)?)),
        "model" => input.model.model = Some(value.to_string()),
        "dtype" => input.plan.dtype = Some(value.parse().map_err(bad)?),
        "price_per_gpu_hour" => input.pricing.price_per_gpu_hour = Some(value.parse::<f64>().map_err(|_| bad("not a number".into()))?),
        _ => return Err(format!("--{id} is not a sweep axis")),
    }
    Ok(())
}

/// One scenario of a sweep.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Position in the cross product.
    pub index: usize,
    /// The values of the axes that vary (lists of two or more).
    pub values: Vec<(&'static str, String)>,
    /// The axes given a single value (applied to every scenario, not shown as columns).
    pub fixed: std::sync::Arc<Vec<(&'static str, String)>>,
}

/// The cross product of the axes (the last axis varies fastest).
///
/// # Errors
/// A malformed list, or more than [`MAX_SCENARIOS`] scenarios.
pub fn scenarios(axes: &[(&'static str, String)]) -> Result<Vec<Scenario>, String> {
    let all: Vec<(&'static str, Vec<String>)> = axes.iter().map(|(id, t)| values(id, t).map(|v| (*id, v))).collect::<Result<_, _>>()?;
    let (lists, single): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, v)| v.len() > 1);
    let fixed = std::sync::Arc::new(single.into_iter().map(|(id, mut v)| (id, v.remove(0))).collect::<Vec<_>>());
    let n = lists.iter().try_fold(1usize, |acc, (_, v)| acc.checked_mul(v.len())).filter(|&n| n <= MAX_SCENARIOS).ok_or_else(|| {
        format!(
            "the sweep has more than {MAX_SCENARIOS} scenarios ({}); shorten a list",
            lists.iter().map(|(id, v)| format!("{} {}", flag(id), v.len())).collect::<Vec<_>>().join(" x ")
        )
    })?;
    Ok((0..n)
        .map(|index| {
            let mut rest = index;
            let mut values: Vec<(&'static str, String)> = vec![("", String::new()); lists.len()];
            for (k, (id, v)) in lists.iter().enumerate().rev() {
                values[k] = (*id, v[rest % v.len()].clone());
                rest /= v.len();
            }
            Scenario { index, values, fixed: fixed.clone() }
        })
        .collect())
}

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: Scenario,
    pub result: Result<Estimate, String>,
}

/// Evaluates one scenario: the axis values laid over the common flags,
/// then the scenario file (or built-in default) as for `estimate`.
///
/// # Errors
/// The scenario's error, as text.
pub fn evaluate(file: Option<&Path>, flags: &ScenarioInput, values: &[(&'static str, String)]) -> Result<Estimate, String> {
    let base = scenario::Base::load(file).map_err(|e| e.to_string())?;
    evaluate_on(&base, flags, values, None)
}

/// [`evaluate`] on a scenario file already read, reusing a cache of
/// searched plans across scenarios.
///
/// # Errors
/// The scenario's error, as text.
pub fn evaluate_on(base: &scenario::Base, flags: &ScenarioInput, values: &[(&'static str, String)], plans: Option<&PlanCache>) -> Result<Estimate, String> {
    let mut over = flags.clone();
    for (id, v) in values {
        apply(&mut over, id, v)?;
    }
    let (input, defaulted) = scenario::input_over(base, &over);
    let sc = input.resolve(defaulted).map_err(|e| e.to_string())?;
    estimate::estimate_with(&sc, plans).map_err(|e| e.to_string())
}

/// Runs every scenario in parallel; `progress` is called after each one
/// finishes (from any thread).
///
/// The scenario file is read once, catalog entries are parsed once, and
/// the plan search runs once per distinct cluster ([`PlanCache`]).
#[must_use]
pub fn run(file: Option<&Path>, flags: &ScenarioInput, scenarios: Vec<Scenario>, progress: &(dyn Fn() + Sync)) -> Vec<Outcome> {
    let base = scenario::Base::load(file).map_err(|e| e.to_string());
    let plans = PlanCache::default();
    scenarios
        .into_par_iter()
        .map(|s| {
            let all: Vec<(&'static str, String)> = s.fixed.iter().chain(&s.values).cloned().collect();
            let result = base.as_ref().map_err(Clone::clone).and_then(|b| evaluate_on(b, flags, &all, Some(&plans)));
            progress();
            Outcome { scenario: s, result }
        })
        .collect()
}

/// A progress bar on stderr that appears only on a terminal and only once
/// the sweep has run for more than half a second.
pub struct Progress {
    bar: indicatif::ProgressBar,
    start: Instant,
    shown: AtomicBool,
}

impl Progress {
    #[must_use]
    pub fn new(n: usize) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(Some(n as u64), indicatif::ProgressDrawTarget::hidden());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} scenarios, {elapsed} elapsed, ETA {eta}") {
            bar.set_style(style);
        }
        Self { bar, start: Instant::now(), shown: AtomicBool::new(false) }
    }
    /// One more scenario done.
    pub fn inc(&self) {
        if !self.shown.load(Ordering::Relaxed) && self.start.elapsed().as_secs_f64() > 0.5 && !self.shown.swap(true, Ordering::Relaxed) {
            // ProgressDrawTarget::stderr draws nothing when stderr is not a terminal
            self.bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        self.bar.inc(1);
    }
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Fields of the estimate left out of the sweep's columns (not scalars).
const SKIP: [&str; 3] = ["notes", "sources", "uncertainty.sensitivity"];

fn flatten(prefix: &str, v: Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                if SKIP.iter().any(|s| key == *s) {
                    continue;
                }
                flatten(&key, x, out);
            }
        }
        Value::Array(_) => {}
        other => out.push((prefix.to_string(), other)),
    }
}

/// One row per scenario: `index`, the axis values (`sweep.<axis>`),
/// `error` (null where the scenario ran), then the estimate's JSON
/// contract flattened to scalar columns (`uncertainty.co2e_total_kg.p95`).
///
/// # Errors
/// A polars error.
pub fn frame(outcomes: &[Outcome]) -> Result<DataFrame, String> {
    let n = outcomes.len();
    let mut names: Vec<String> = vec!["index".into()];
    if let Some(o) = outcomes.first() {
        names.extend(o.scenario.values.iter().map(|(id, _)| format!("sweep.{id}")));
    }
    names.push("error".into());
    let fixed = names.len();
    let mut cols: Vec<Vec<Value>> = vec![Vec::with_capacity(n); fixed];
    let mut index: HashMap<String, usize> = names.iter().enumerate().map(|(i, k)| (k.clone(), i)).collect();
    let flat: Vec<Vec<(String, Value)>> = outcomes
        .par_iter()
        .map(|o| {
            let mut f = Vec::new();
            if let Ok(e) = &o.result {
                flatten("", serde_json::to_value(e).unwrap_or(Value::Null), &mut f);
            }
            f
        })
        .collect();
    for (row, (o, f)) in outcomes.iter().zip(flat).enumerate() {
        cols[0].push(Value::from(o.scenario.index as u64));
        for (k, (_, v)) in o.scenario.values.iter().enumerate() {
            cols[1 + k].push(Value::String(v.clone()));
        }
        cols[fixed - 1].push(o.result.as_ref().err().map_or(Value::Null, |e| Value::String(e.clone())));
        for (k, v) in f {
            let i = *index.entry(k.clone()).or_insert_with(|| {
                names.push(k);
                cols.push(vec![Value::Null; row]);
                cols.len() - 1
            });
            cols[i].push(v);
        }
        for c in &mut cols {
            if c.len() == row {
                c.push(Value::Null);
            }
        }
    }
    let columns: Vec<Column> = names.iter().zip(cols).map(|(name, vals)| crate::report::export::column(name, &vals)).collect();
    DataFrame::new(n, columns).map_err(|e| e.to_string())
}

/// What a sweep writes with `--out DIR`.
pub const FILES: [&str; 4] = ["sweep.csv", "sweep.parquet", "sweep.json", "sweep.xlsx"];

/// Renders the four files of a sweep (same order as [`FILES`]).
///
/// # Errors
/// A writer failure.
pub fn render_files(outcomes: &[Outcome]) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let df = frame(outcomes)?;
    let csv = crate::report::export::render_frame(&df, crate::report::export::Sheet::Csv)?;
    let parquet = crate::report::export::render_frame(&df, crate::report::export::Sheet::Parquet)?;
    let json = json(&df)?;
    let xlsx = crate::report::xlsx::sweep(outcomes, &df)?;
    Ok(FILES.into_iter().zip([csv, parquet, json, xlsx]).collect())
}

/// The frame as a JSON array of flat objects (one per scenario).
///
/// # Errors
/// Serialization failure.
pub fn json(df: &DataFrame) -> Result<Vec<u8>, String> {
    let names: Vec<String> = df.get_column_names().iter().map(ToString::to_string).collect();
    let cols = df.columns();
    let mut rows = Vec::with_capacity(df.height());
    for r in 0..df.height() {
        let mut m = serde_json::Map::with_capacity(names.len());
        for (name, c) in names.iter().zip(cols) {
            let v = c.get(r).map_err(|e| e.to_string())?;
            m.insert(name.clone(), crate::report::export::any_to_json(&v));
        }
        rows.push(Value::Object(m));
    }
    let mut v = serde_json::to_vec_pretty(&rows).map_err(|e| e.to_string())?;
    v.push(b'\n');
    Ok(v)
}

/// A summary table of a sweep for the terminal.
#[must_use]
pub fn table(outcomes: &[Outcome]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let axes: Vec<&str> = outcomes.first().map(|o| o.scenario.values.iter().map(|(id, _)| *id).collect()).unwrap_or_default();
    let mut head = String::new();
    for a in &axes {
        let _ = write!(head, "{a:>18} ");
    }
    let _ = writeln!(s, "{head}{:>6} {:>10} {:>12} {:>11} {:>14} {:>14}", "gpus", "days", "GPU-hours", "tCO2e", "rental USD", "owned USD");
    let (mut ok, mut failed) = (0, 0);
    for o in outcomes {
        let mut line = String::new();
        for (_, v) in &o.scenario.values {
            let _ = write!(line, "{v:>18} ");
        }
        match &o.result {
            Ok(e) => {
                ok += 1;
                let money = |v: Option<f64>| v.map_or("-".to_string(), crate::report::usd);
                let _ = writeln!(
                    s,
                    "{line}{:>6} {:>10.1} {:>12} {:>11.1} {:>14} {:>14}",
                    e.gpus,
                    e.wall_time_days,
                    crate::report::si(e.gpu_hours),
                    e.co2e_total_t,
                    money(e.cost_rental_usd),
                    money(e.cost_owned_usd)
                );
            }
            Err(err) => {
                failed += 1;
                let _ = writeln!(s, "{line}error: {err}");
            }
        }
    }
    let _ = writeln!(s, "{} scenarios: {ok} estimated, {failed} failed", outcomes.len());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_geometrically_and_arithmetically() {
        assert_eq!(values("nodes", "8..256x2").unwrap(), ["8", "16", "32", "64", "128", "256"]);
        assert_eq!(values("nodes", "8..64+8").unwrap(), ["8", "16", "24", "32", "40", "48", "56", "64"]);
        assert_eq!(values("gpus", "1, 2,8..20x2").unwrap(), ["1", "2", "8", "16"]);
        assert_eq!(values("site", "france,poland").unwrap(), ["france", "poland"]);
    }

    #[test]
    fn bad_lists_name_the_flag_and_the_fix() {
        for (id, t) in [("nodes", "8..4x2"), ("nodes", "8..64x1"), ("nodes", "a..b"), ("site", "a..b"), ("nodes", "8,,16"), ("gpus", "0..8+1")] {
            let e = values(id, t).unwrap_err();
            assert!(e.contains(&format!("--{id}")), "{e}");
        }
        assert!(values("nodes", "8..64x2").is_ok());
    }

    #[test]
    fn the_cross_product_runs_the_last_axis_fastest() {
        let s = scenarios(&[("nodes", "1,2".into()), ("site", "a,b,c".into())]).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s[1].values, [("nodes", "1".to_string()), ("site", "b".to_string())]);
        assert_eq!(s[3].values, [("nodes", "2".to_string()), ("site", "a".to_string())]);
        assert_eq!(scenarios(&[]).unwrap().len(), 1, "no axis: the one scenario");
        assert!(scenarios(&[("nodes", "1..1000000+1".into()), ("gpus", "1..100+1".into())]).unwrap_err().contains("more than"));
    }

    #[test]
    fn a_cached_plan_search_gives_the_uncached_estimate() {
        let mut flags = ScenarioInput::default();
        flags.model.model = Some("llama2-7b".into());
        flags.hardware.system = Some("dgx-a100-80gb".into());
        flags.tokens = Some(Count(1e11));
        flags.uncertainty.samples = Some(100);
        let base = scenario::Base::load(None).unwrap();
        let plans = PlanCache::default();
        for nodes in ["2", "4"] {
            for price in ["1.5", "2.5", "4"] {
                let v = [("nodes", nodes.to_string()), ("price_per_gpu_hour", price.to_string())];
                let cached = evaluate_on(&base, &flags, &v, Some(&plans)).unwrap();
                let fresh = evaluate(None, &flags, &v).unwrap();
                assert_eq!(serde_json::to_value(&cached).unwrap(), serde_json::to_value(&fresh).unwrap(), "{nodes} nodes at ${price}");
            }
        }
        assert_eq!(plans.len(), 2, "one search per cluster, not per price");
        // a cluster no plan fits: the error is cached and the same
        flags.model.model = Some("megatron-1t".into());
        let v = [("nodes", "1".to_string())];
        let e1 = evaluate_on(&base, &flags, &v, Some(&plans)).unwrap_err();
        let e2 = evaluate_on(&base, &flags, &v, Some(&plans)).unwrap_err();
        assert_eq!(e1, e2);
        assert_eq!(e1, evaluate(None, &flags, &v).unwrap_err());
        assert_eq!(plans.len(), 3);
    }

    #[test]
    fn axis_values_parse_into_the_scenario() {
        let mut i = ScenarioInput::default();
        apply(&mut i, "tokens", "300B").unwrap();
        apply(&mut i, "dtype", "fp8").unwrap();
        apply(&mut i, "price_per_gpu_hour", "2.5").unwrap();
        assert_eq!(i.tokens.unwrap().0, 300e9);
        assert_eq!(i.pricing.price_per_gpu_hour, Some(2.5));
        assert!(apply(&mut i, "dtype", "fp7").unwrap_err().contains("--dtype"));
        assert!(apply(&mut i, "price_per_gpu_hour", "cheap").unwrap_err().contains("--price-per-gpu-hour"));
    }
}
