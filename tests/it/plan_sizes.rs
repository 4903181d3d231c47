//! `flopprint plan --deadline/--budget`: the cluster size searched with
//! the plan; the constraint filters, the objective ranks; each size is the
//! estimate `flopprint estimate --nodes N` gives; the Pareto front.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn flopprint() -> Command {
    Command::cargo_bin("flopprint").unwrap()
}

/// Llama-2-70B, 2T tokens, DGX H100 in Virginia (the built-in scenario),
/// bounded at 4,096 GPUs: 8.6 days at 512 nodes, 51.7 days at 64.
const BASE: [&str; 4] = ["plan", "--max-gpus", "4096", "--deadline"];

fn plan(extra: &[&str]) -> Value {
    let out = flopprint().args(BASE).args(["60", "--format", "json"]).args(extra).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn time_and_cost_objectives_choose_different_sizes_within_the_deadline() {
    let time = plan(&["--objective", "time"]);
    let cost = plan(&["--objective", "cost"]);
    let co2e = plan(&["--objective", "co2e"]);
    let (bt, bc, bg) = (&time["best"], &cost["best"], &co2e["best"]);
    assert_ne!(bt["gpus"], bc["gpus"], "a trade-off exists: the fastest size is not the cheapest");
    assert!(f(bt, "wall_time_h") < f(bc, "wall_time_h"));
    assert!(f(bc, "cost_rental_usd") < f(bt, "cost_rental_usd"));
    for b in [bt, bc, bg] {
        assert!(f(b, "wall_time_days") <= 60.0, "the deadline filters: {b}");
        assert_eq!(b["meets_deadline"], true);
        for k in ["gpus", "nodes", "wall_time_h", "cost_rental_usd", "co2e_total_kg", "energy_facility_kwh"] {
            assert!(!b[k].is_null(), "{k}");
        }
    }
    // each best is the extreme of its objective among the sizes that meet the deadline
    let sizes = time["sizes"].as_array().unwrap();
    let meeting: Vec<&Value> = sizes.iter().filter(|e| f(e, "wall_time_days") <= 60.0).collect();
    assert!(meeting.len() >= 3 && meeting.len() < sizes.len(), "the deadline excludes the small sizes");
    let min = |k: &str| meeting.iter().map(|e| f(e, k)).fold(f64::INFINITY, f64::min);
    assert_eq!(f(bt, "wall_time_h"), min("wall_time_h"));
    assert_eq!(f(bc, "cost_rental_usd"), min("cost_rental_usd"));
    assert_eq!(f(bg, "co2e_total_kg"), min("co2e_total_kg"));
    assert_eq!(time["top"].as_array().unwrap().len(), meeting.len().min(10));
    // the front: no size dominates a front member; every other size is dominated
    let key = |e: &Value| [f(e, "wall_time_h"), f(e, "cost_rental_usd"), f(e, "co2e_total_kg")];
    let dominates = |a: &Value, b: &Value| {
        let (ka, kb) = (key(a), key(b));
        ka.iter().zip(&kb).all(|(x, y)| x <= y) && ka.iter().zip(&kb).any(|(x, y)| x < y)
    };
    for e in sizes {
        let dominated = sizes.iter().any(|o| dominates(o, e));
        assert_eq!(e["pareto"].as_bool().unwrap(), !dominated, "{}", e["gpus"]);
    }
    let front = time["pareto_front"].as_array().unwrap();
    assert!(front.len() >= 2 && front.len() < sizes.len());
    // one node cannot hold a 70B model's training state: the search starts where it fits
    assert_eq!(time["skipped"][0]["nodes"], 1);
    assert!(time["skipped"][0]["error"].as_str().unwrap().contains("does not fit"));
}

#[test]
fn every_size_agrees_with_estimate_at_that_size() {
    let r = plan(&[]);
    let sizes = r["sizes"].as_array().unwrap();
    for e in [&sizes[0], &r["best"], &sizes[sizes.len() / 2]] {
        let nodes = e["nodes"].as_u64().unwrap().to_string();
        let out = flopprint().args(["estimate", "--nodes", &nodes, "--format", "json"]).output().unwrap();
        assert!(out.status.success());
        let est: Value = serde_json::from_slice(&out.stdout).unwrap();
        for k in [
            "gpus",
            "wall_time_h",
            "gpu_hours",
            "cost_rental_usd",
            "energy_it_kwh",
            "energy_facility_kwh",
            "co2e_operational_kg",
            "co2e_embodied_kg",
            "co2e_total_kg",
            "mfu",
            "step_time_s",
        ] {
            assert_eq!(e[k], est[k], "{k} at {nodes} nodes");
        }
        assert_eq!(e["plan"], est["plan"], "plan at {nodes} nodes");
    }
}

#[test]
fn cluster_size_json_snapshot_and_pareto_plots() {
    let dir = tempfile::tempdir().unwrap();
    let (svg, png) = (dir.path().join("front.svg"), dir.path().join("front.png"));
    let args = ["plan", "--model", "llama2-7b", "--system", "dgx-a100-80gb", "--tokens", "200B", "--site", "france", "--max-gpus", "256", "--budget", "41700"];
    let out = flopprint().args(args).args(["--format", "json", "--plot"]).arg(&svg).arg("--plot").arg(&png).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    super::snap::check("plan-sizes.json", &text);
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.contains("Pareto front") && s.contains("budget $41,700") && s.contains("llama2-7b"), "legend, constraint and scenario drawn");
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    // the table names the best size
    flopprint().args(args).assert().success().stdout(predicate::str::contains("best (fastest): ")).stdout(predicate::str::contains("pareto"));
}

#[test]
fn unmet_constraints_name_the_flag_the_best_value_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.json");
    let plot = dir.path().join("front.svg");
    flopprint()
        .args(BASE)
        .args(["3", "--format", "json", "--out"])
        .arg(&out)
        .arg("--plot")
        .arg(&plot)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("meets --deadline 3 days: the fastest, 512 nodes (4096 GPUs), takes 8.08 days; raise --deadline to at least 8.09"));
    assert!(!out.exists() && !plot.exists(), "no partial output");
    flopprint().args(["plan", "--max-gpus", "4096", "--budget", "1e6"]).assert().code(2).stderr(
        predicate::str::contains("no cluster size meets --budget 1000000 USD: the cheapest").and(predicate::str::contains("raise --budget to at least")),
    );
    flopprint()
        .args(["plan", "--max-gpus", "4096", "--budget", "4.5e6", "--deadline", "10"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--deadline 10 days and --budget 4500000 USD together"));
}

#[test]
fn bad_deadlines_budgets_and_bounds_are_named_errors() {
    for (flag, v) in [
        ("--deadline", "0"),
        ("--deadline", "-2"),
        ("--deadline", "NaN"),
        ("--deadline", "inf"),
        ("--deadline", "1e9"),
        ("--budget", "0"),
        ("--budget", "-1e6"),
        ("--budget", "nan"),
        ("--budget", "1e20"),
    ] {
        flopprint().args(["plan", flag, v]).assert().code(2).stderr(predicate::str::starts_with(format!("error: {flag} ")));
    }
    flopprint().args(["plan", "--deadline", "soon"]).assert().code(2).stderr(predicate::str::contains("--deadline"));
    flopprint().args(["plan", "--deadline", "30", "--max-gpus", "0"]).assert().code(2).stderr(predicate::str::contains("--max-gpus 0: must be in"));
    flopprint().args(["plan", "--deadline", "30", "--nodes", "4"]).assert().code(2).stderr(predicate::str::contains("drop --nodes"));
    flopprint()
        .args(["plan", "--deadline", "30", "--gpu-hours", "1000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--gpu-hours accounts a finished run"));
    flopprint().args(["plan", "--deadline", "30", "--plot", "front.pdf"]).assert().code(2).stderr(predicate::str::contains("must end in .svg or .png"));
    flopprint().args(["plan", "--plot", "front.svg"]).assert().code(2).stderr(predicate::str::contains("give --deadline DAYS or --budget USD"));
    flopprint()
        .args(["plan", "--model", "llama2-7b", "--accelerator", "rtx-4090", "--max-gpus", "16", "--budget", "1e5"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("give --price-per-gpu-hour"));
}
