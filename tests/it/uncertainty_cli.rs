//! Uncertainty people can steer: `--samples`, `--seed`, `spread_*`, and
//! the sensitivity ranking.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn flopprint() -> Command {
    Command::cargo_bin("flopprint").unwrap()
}

fn uncertainty(args: &[&str]) -> Value {
    let out = flopprint().arg("estimate").args(args).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["uncertainty"].clone()
}

#[test]
fn samples_and_seed_steer_the_monte_carlo_deterministically() {
    let a = uncertainty(&["--samples", "500", "--seed", "1"]);
    assert_eq!(a["samples"], 500);
    assert_eq!(a["seed"], 1);
    assert_eq!(a, uncertainty(&["--samples", "500", "--seed", "1"]), "same seed, same ranges");
    assert_ne!(a["co2e_total_kg"], uncertainty(&["--samples", "500", "--seed", "2"])["co2e_total_kg"]);
    for k in ["wall_time_h", "gpu_hours", "energy_facility_kwh", "co2e_total_kg", "cost_rental_usd", "cost_owned_usd"] {
        let r = &a[k];
        assert!(r["p5"].as_f64().unwrap() <= r["p50"].as_f64().unwrap() && r["p50"].as_f64().unwrap() <= r["p95"].as_f64().unwrap(), "{k}: {r}");
    }
    // the sensitivity ranking: shares in [0, 1], largest first
    let co2 = a["sensitivity"]["outputs"]["co2e_total_kg"].as_array().unwrap();
    assert!(co2.len() >= 3, "{co2:?}");
    let shares: Vec<f64> = co2.iter().map(|f| f["share"].as_f64().unwrap()).collect();
    assert!(shares.windows(2).all(|w| w[0] >= w[1]) && shares.iter().all(|s| (0.0..=1.0).contains(s)), "{shares:?}");
    assert!(a["sensitivity"]["method"].as_str().unwrap().contains("ln(output)"));
}

#[test]
fn spreads_are_fixed_or_widened_in_the_scenario_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.toml");
    std::fs::write(
        &f,
        "model = \"llama2-7b\"\naccelerator = \"a100-sxm4-80gb\"\ngpus = 64\ntokens = \"100B\"\ngoodput = 1\nsamples = 800\nspread_throughput = 0\nspread_power = 0\nspread_grid = 0.3\n",
    )
    .unwrap();
    let u = uncertainty(&[f.to_str().unwrap()]);
    assert_eq!(u["samples"], 800);
    assert_eq!(u["wall_time_h"]["p5"], u["wall_time_h"]["p95"], "throughput and goodput fixed: no time range");
    assert!(u["sensitivity"]["outputs"]["wall_time_h"].as_array().unwrap().is_empty());
    assert_eq!(u["spreads"]["grid_rel_sigma"], 0.3);
    assert_eq!(u["sensitivity"]["outputs"]["co2e_total_kg"][0]["input"], "grid_intensity");
}

#[test]
fn a_bad_sample_count_names_the_flag() {
    flopprint().args(["estimate", "--samples", "1"]).assert().code(2).stderr(predicate::str::contains("--samples"));
    flopprint().args(["estimate", "--spread-pue", "-1"]).assert().code(2).stderr(predicate::str::contains("--spread-pue"));
}

#[test]
fn the_table_ranks_what_drives_the_spread() {
    flopprint()
        .args(["estimate", "--samples", "1000"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Sensitivity (share of ln variance)"))
        .stdout(predicate::str::contains("1000 (seed"));
}
