//! The CLI as a user runs it: each test reads like a usage example.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn flopprint() -> Command {
    Command::cargo_bin("flopprint").unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = flopprint().args(args).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("field {k} missing or not a number: {}", v[k]))
}

fn seed(name: &str) -> String {
    format!("{}/reports/seed/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn estimate_with_no_arguments_prints_the_default_scenario() {
    flopprint()
        .arg("estimate")
        .assert()
        .success()
        .stdout(predicate::str::contains("256 DGX H100 nodes"))
        .stdout(predicate::str::contains("wall clock"))
        .stdout(predicate::str::contains("tCO2e"));
}

#[test]
fn json_contract_has_every_documented_field() {
    let v = json(&["estimate"]);
    for k in [
        "params_total",
        "params_active",
        "tokens",
        "flops_total",
        "flops_per_token",
        "step_time_s",
        "mfu",
        "model_tflops_per_gpu",
        "wall_time_h",
        "gpu_hours",
        "energy_it_kwh",
        "energy_facility_kwh",
        "co2e_operational_kg",
        "co2e_embodied_kg",
        "co2e_total_kg",
        "cost_rental_usd",
        "capex_usd",
        "cost_owned_usd",
        "memory_per_gpu_gib",
        "fits_in_memory",
        "flights_ny_sf",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    // internal consistency: energy = power x time, facility = IT x PUE
    let e_it = num(&v, "power_total_w") * num(&v, "wall_time_h") / 1000.0;
    assert!((num(&v, "energy_it_kwh") - e_it).abs() / e_it < 1e-9);
    let fac = num(&v, "energy_it_kwh") * num(&v, "pue");
    assert!((num(&v, "energy_facility_kwh") - fac).abs() / fac < 1e-9);
    let total = num(&v, "co2e_operational_kg") + num(&v, "co2e_embodied_kg");
    assert!((num(&v, "co2e_total_kg") - total).abs() / total < 1e-9);
}

/// Seed: Megatron-Turing NLG 530B, "close to $100M" of hardware: 560 DGX
/// A100 at $199,000 (2020 list price) = $111.44M.
#[test]
fn seed_mt_nlg_capex_is_111_million() {
    let v = json(&["estimate", &seed("mt-nlg-530b")]);
    assert_eq!(v["gpus"], 4480);
    assert!((num(&v, "capex_usd") - 111_440_000.0).abs() < 1.0);
    assert!(num(&v, "cost_rental_usd") > 1e6);
    // "a DGX A100 draws up to 6.5 kW": the nameplate stays visible as the
    // upper bound; the modelled draw is below it (Selene under HPL: 4.73 kW)
    assert!((num(&v, "power_nameplate_per_gpu_w") * 4480.0 - 560.0 * 6500.0).abs() < 1e-6);
    let node_kw = (num(&v, "power_total_w") - num(&v, "energy_network_kwh") / num(&v, "wall_time_h") * 1000.0) / 560.0 / 1000.0;
    assert!(node_kw > 3.5 && node_kw < 6.0, "modelled DGX A100 draw {node_kw} kW");
    let rest = num(&v, "energy_node_rest_kwh") / num(&v, "energy_it_kwh");
    assert!(rest > 0.1 && rest < 0.5, "non-GPU share of node energy {rest}");
}

/// Seed: Strubell et al. 2019 Table 3, BERT-base: 1,438 lbs CO2e, about
/// 0.72 NY-SF round trips (1,984 lbs each).
#[test]
fn seed_strubell_bert_is_a_trans_american_flight() {
    let v = json(&["estimate", &seed("strubell-bert-base")]);
    let lbs = num(&v, "co2e_total_kg") / 0.453_592_37;
    assert!((lbs - 1438.0).abs() / 1438.0 < 0.01, "{lbs} lbs");
    assert!((num(&v, "flights_ny_sf") - 0.72).abs() < 0.01);
    assert_eq!(v["mode"], "account");
    assert!((num(&v, "gpu_hours") - 64.0 * 79.2).abs() < 1e-6);
}

#[test]
fn lora_costs_less_than_full_fine_tune_which_costs_less_than_pretraining() {
    let pre = json(&["estimate", &seed("llama2-7b-pretrain")]);
    let full = json(&["estimate", &seed("llama2-7b-finetune-full")]);
    let lora = json(&["estimate", &seed("llama2-7b-finetune-lora")]);
    assert!(num(&lora, "flops_total") < num(&full, "flops_total"));
    assert!(num(&full, "flops_total") < num(&pre, "flops_total"));
    assert!(num(&lora, "params_trainable") < 0.01 * num(&lora, "params_total"));
    // at the same plan LoRA needs less memory (the searched plans may spend
    // what LoRA saves on a larger micro-batch)
    let same = |s: &str| json(&["estimate", &seed(s), "--micro-batch", "1"]);
    let (full1, lora1) = (same("llama2-7b-finetune-full"), same("llama2-7b-finetune-lora"));
    assert_eq!(full1["plan"], lora1["plan"]);
    assert!(num(&lora1, "memory_per_gpu_gib") < num(&full1, "memory_per_gpu_gib"));
}

#[test]
fn flags_override_the_scenario_file() {
    let a = json(&["estimate", &seed("llama2-7b-pretrain")]);
    let b = json(&["estimate", &seed("llama2-7b-pretrain"), "--site", "france"]);
    assert_eq!(b["site"], "france");
    assert!(num(&b, "co2e_operational_kg") < num(&a, "co2e_operational_kg"));
    assert_eq!(a["energy_it_kwh"], b["energy_it_kwh"]);
}

#[test]
fn tokens_accept_suffixes() {
    let a = json(&["estimate", "--model", "gpt2-small", "--accelerator", "rtx-4090", "--tokens", "1.5B"]);
    let b = json(&["estimate", "--model", "gpt2-small", "--accelerator", "rtx-4090", "--tokens", "1500e6"]);
    assert_eq!(a["tokens"], b["tokens"]);
    assert_eq!(num(&a, "tokens"), 1.5e9);
}

#[test]
fn accounting_from_gpu_hours() {
    let v = json(&["estimate", "--model", "llama2-70b", "--system", "dgx-a100-80gb", "--nodes", "64", "--gpu-hours", "1720320", "--tokens", "2T"]);
    assert_eq!(v["mode"], "account");
    assert!((num(&v, "gpu_hours") - 1_720_320.0).abs() < 1e-6);
    let mfu = num(&v, "mfu");
    assert!(mfu > 0.2 && mfu < 0.8, "{mfu}");
}

#[test]
fn more_tokens_never_cost_less() {
    let mut last = 0.0;
    for t in ["1B", "10B", "100B"] {
        let v = json(&["estimate", "--model", "llama2-7b", "--system", "dgx-a100-80gb", "--nodes", "2", "--tokens", t]);
        let c = num(&v, "co2e_total_kg");
        assert!(c > last);
        last = c;
    }
}

#[test]
fn hugging_face_config_as_model() {
    let p = format!("{}/tests/data/hf/mistral-7b.json", env!("CARGO_MANIFEST_DIR"));
    let v = json(&["estimate", "--model", &p, "--system", "dgx-h100", "--tokens", "10B"]);
    assert!((num(&v, "params_total") - 7.24e9).abs() / 7.24e9 < 0.01);
}

#[test]
fn list_and_show() {
    flopprint().args(["list", "models"]).assert().success().stdout(predicate::str::contains("gpt3-175b"));
    flopprint().args(["list", "sites"]).assert().success().stdout(predicate::str::contains("france"));
    flopprint().args(["list", "systems"]).assert().success().stdout(predicate::str::contains("dgx-a100-80gb"));
    flopprint().args(["list", "hardware"]).assert().success().stdout(predicate::str::contains("h100-sxm5-80gb"));
    flopprint().args(["show", "dgx-a100-80gb"]).assert().success().stdout(predicate::str::contains("6500"));
}

#[test]
fn markdown_report_lists_sources() {
    flopprint()
        .args(["estimate", "--format", "markdown"])
        .assert()
        .success()
        .stdout(predicate::str::contains("## Sources"))
        .stdout(predicate::str::contains("| Carbon | total |"));
}

// ---- bad input: clear error naming the flag/file/field, non-zero exit, no panic, no partial file

fn fails_with(args: &[&str], needle: &str) {
    let out = flopprint().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure for {args:?}");
    assert!(!err.contains("panicked"), "panic for {args:?}: {err}");
    assert!(err.contains(needle), "for {args:?} expected `{needle}` in: {err}");
}

#[test]
fn unknown_ids_are_named_with_a_suggestion() {
    fails_with(&["estimate", "--model", "gpt3-175", "--accelerator", "a100-sxm4-80gb", "--tokens", "1B"], "did you mean `gpt3-175b`");
    fails_with(&["estimate", "--system", "dgx-a100"], "unknown system id `dgx-a100`");
    fails_with(&["estimate", "--site", "atlantis"], "unknown site id `atlantis`");
    fails_with(&["show", "nothing-like-this"], "unknown id");
}

#[test]
fn bad_numbers_name_the_flag() {
    fails_with(&["estimate", "--nodes", "0"], "--nodes");
    fails_with(&["estimate", "--gpus", "-4"], "--gpus");
    fails_with(&["estimate", "--tokens", "NaN"], "--tokens");
    fails_with(&["estimate", "--tokens", "abc"], "not a number");
    fails_with(&["estimate", "--tokens", "1e30"], "--tokens");
    fails_with(&["estimate", "--mfu", "1.5"], "--mfu");
    fails_with(&["estimate", "--mfu", "0"], "--mfu");
    fails_with(&["estimate", "--pue", "0.5"], "--pue");
    fails_with(&["estimate", "--grid-intensity", "inf"], "--grid-intensity");
    fails_with(&["estimate", "--hours", "-1"], "--hours");
    fails_with(&["estimate", "--hours", "1", "--gpu-hours", "8"], "cannot be used with");
    fails_with(&["estimate", "--power-per-gpu", "1e12"], "--power-per-gpu");
    fails_with(&["estimate", "--dtype", "fp7"], "unknown dtype");
    fails_with(&["estimate", "--zero", "4"], "--zero");
}

#[test]
fn impossible_parallelism_is_explained() {
    fails_with(&["estimate", "--tp", "3", "--pp", "1"], "--tp 3 does not divide");
    fails_with(&["estimate", "--tp", "8", "--pp", "7"], "not divisible by --tp 8 x --pp 7");
    fails_with(&["estimate", "--dtype", "bf16", "--accelerator", "v100-sxm2-32gb", "--gpus", "8"], "has no bf16");
}

#[test]
fn a_plan_that_does_not_fit_is_an_error_with_the_breakdown() {
    fails_with(&["estimate", "--model", "llama2-70b", "--accelerator", "rtx-4090", "--gpus", "1", "--tokens", "1B"], "does not fit in memory");
    fails_with(&["estimate", "--model", "gpt3-175b", "--system", "dgx-a100-80gb", "--nodes", "1", "--tp", "8", "--pp", "1", "--tokens", "1B"], "optimizer");
}

#[test]
fn malformed_files_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "model = \"gpt3-175b\"\nnodes = [1,\n").unwrap();
    fails_with(&["estimate", bad.to_str().unwrap()], "bad.toml");
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "modle = \"gpt3-175b\"\n").unwrap();
    fails_with(&["estimate", typo.to_str().unwrap()], "unknown field `modle`");
    let json = dir.path().join("config.json");
    std::fs::write(&json, "{\"model_type\": \"llama\", \"hidden_size\": 4096 ").unwrap();
    fails_with(&["estimate", "--model", json.to_str().unwrap()], "not valid JSON");
    std::fs::write(&json, "{\"model_type\": \"llama\", \"hidden_size\": 4096, \"num_attention_heads\": 32, \"vocab_size\": 32000}").unwrap();
    fails_with(&["estimate", "--model", json.to_str().unwrap()], "num_hidden_layers");
    fails_with(&["estimate", "/no/such/scenario.toml"], "/no/such/scenario.toml");
}

#[test]
fn no_partial_output_file_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("est.json");
    flopprint().args(["estimate", "--mfu", "7", "--format", "json", "--out", out.to_str().unwrap()]).assert().failure();
    assert!(!out.exists());
    flopprint().args(["estimate", "--format", "json", "--out", out.to_str().unwrap()]).assert().success();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(v["co2e_total_kg"].as_f64().unwrap() > 0.0);
}

#[test]
fn spreadsheet_exports_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let csv = flopprint().args(["estimate", "--format", "csv"]).output().unwrap();
    assert!(csv.status.success());
    let text = String::from_utf8(csv.stdout).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert!(header.contains(&"co2e_total_kg") && header.contains(&"uncertainty.co2e_total_kg.p95"));
    assert_eq!(text.lines().count(), 2);
    for (fmt, magic) in [("parquet", &b"PAR1"[..]), ("xlsx", &b"PK"[..])] {
        let out = dir.path().join(format!("e.{fmt}"));
        flopprint().args(["estimate", "--format", fmt, "--out", out.to_str().unwrap()]).assert().success();
        assert!(std::fs::read(&out).unwrap().starts_with(magic));
    }
    fails_with(&["estimate", "--format", "parquet"], "give --out");
    for ext in ["svg", "png"] {
        let p = dir.path().join(format!("plot.{ext}"));
        flopprint().args(["estimate", "--plot", p.to_str().unwrap()]).assert().success();
        assert!(std::fs::metadata(&p).unwrap().len() > 1000);
    }
    fails_with(&["estimate", "--plot", "x.pdf"], "--plot x.pdf");
}

#[test]
fn estimates_carry_p5_p50_p95_ranges() {
    let v = json(&["estimate"]);
    let u = &v["uncertainty"]["co2e_total_kg"];
    let (p5, p50, p95) = (u["p5"].as_f64().unwrap(), u["p50"].as_f64().unwrap(), u["p95"].as_f64().unwrap());
    assert!(p5 < p50 && p50 < p95);
    assert!(p5 < num(&v, "co2e_total_kg") && num(&v, "co2e_total_kg") < p95);
    // measured inputs are not varied: accounting with measured power and grid has no time spread
    let a = json(&["estimate", &seed("strubell-bert-base")]);
    let w = &a["uncertainty"]["wall_time_h"];
    assert_eq!(w["p5"], w["p95"]);
}

#[test]
fn sp_flag_takes_an_optional_value() {
    let base = [
        "estimate",
        "--model",
        "megatron-175b",
        "--system",
        "dgx-a100-80gb",
        "--gpus",
        "64",
        "--tp",
        "8",
        "--pp",
        "8",
        "--global-batch",
        "64",
        "--tokens",
        "1B",
        "--recompute",
        "full",
    ];
    let on = json(&[&base[..], &["--sp"]].concat());
    let off = json(&[&base[..], &["--sp", "false"]].concat());
    assert_eq!(on["plan"]["sp"], true);
    assert_eq!(off["plan"]["sp"], false);
}

// ---- what a newcomer types works, or fails naming the flag and the fix

#[test]
fn default_dtype_falls_back_where_the_hardware_has_no_bf16() {
    let v = json(&["estimate", "--model", "bert-base", "--accelerator", "v100-sxm2-32gb", "--gpus", "8", "--tokens", "1B"]);
    assert_eq!(v["dtype"], "fp16");
    let notes = v["notes"].to_string();
    assert!(notes.contains("v100-sxm2-32gb has no bf16"), "{notes}");
    // the user's own dtype is never replaced
    fails_with(&["estimate", "--model", "bert-base", "--accelerator", "v100-sxm2-32gb", "--gpus", "8", "--tokens", "1B", "--dtype", "bf16"], "has no bf16");
}

/// Patterson et al. 2021 Table 4, GPT-3: 10,000 V100, 355.2 h, 330 W per
/// GPU with its host share, PUE 1.1, 429 gCO2e/kWh.
const PATTERSON_GPT3: &[&str] = &[
    "estimate",
    "--model",
    "gpt3-175b",
    "--accelerator",
    "v100-sxm2-32gb",
    "--dtype",
    "fp16",
    "--gpus",
    "10000",
    "--hours",
    "355.2",
    "--power-per-gpu",
    "330",
    "--pue",
    "1.1",
    "--grid-intensity",
    "429",
];

#[test]
fn accounting_needs_no_feasible_plan() {
    // GPT-3 on 10,000 V100 (Patterson et al. 2021 Table 4): no plan fits the
    // default batch exactly, and none is needed to account the run
    let v = json(PATTERSON_GPT3);
    assert_eq!(v["mode"], "account");
    let mwh = num(&v, "energy_facility_kwh") / 1000.0;
    // 10,000 x 330 W x 355.2 h x 1.1 = 1,289 MWh (Patterson: 1,287 MWh)
    assert!((mwh - 1289.4).abs() < 1.0, "{mwh}");
    // an impossible plan (TP 3 does not divide 96 heads) still accounts, with a note
    let w = json(&[
        "estimate",
        "--model",
        "gpt3-175b",
        "--accelerator",
        "v100-sxm2-32gb",
        "--dtype",
        "fp16",
        "--gpus",
        "10000",
        "--hours",
        "355.2",
        "--tp",
        "3",
        "--pp",
        "1",
    ]);
    assert!(w["plan"].is_null());
    assert!(w["notes"].to_string().contains("no parallel plan could be built"));
}

#[test]
fn batch_in_tokens_and_indivisible_batches_round_with_a_note() {
    let v = json(&[
        "estimate",
        "--model",
        "llama2-7b",
        "--system",
        "dgx-a100-80gb",
        "--nodes",
        "256",
        "--tokens",
        "10B",
        "--seq-len",
        "2048",
        "--global-batch-tokens",
        "4M",
    ]);
    let notes = v["notes"].to_string();
    assert!(notes.contains("1953 sequences of 2048"), "{notes}");
    let g = v["plan"]["global_batch"].as_u64().unwrap();
    let dp = v["plan"]["dp"].as_u64().unwrap() * v["plan"]["micro_batch"].as_u64().unwrap();
    assert_eq!(g % dp, 0);
    assert!(g.abs_diff(1953) <= 1953 / 4, "{g}");
    let u = json(&[
        "estimate",
        "--model",
        "llama2-7b",
        "--system",
        "dgx-a100-80gb",
        "--tp",
        "2",
        "--pp",
        "1",
        "--global-batch",
        "100",
        "--micro-batch",
        "3",
        "--tokens",
        "1B",
    ]);
    assert_eq!(u["plan"]["global_batch"], 96);
    assert!(u["notes"].to_string().contains("global batch 100 rounded to 96"));
}

#[test]
fn accounting_takes_tokens_only_from_the_user_and_never_prints_mfu_above_one() {
    let v = json(&["estimate", "--model", "llama2-70b", "--system", "dgx-h100", "--nodes", "1", "--hours", "0.5"]);
    assert!(v["tokens"].is_null() && v["mfu"].is_null());
    assert!(v["notes"].to_string().contains("tokens come only from the user"));
    let w = json(&["estimate", "--model", "llama2-70b", "--system", "dgx-h100", "--nodes", "1", "--hours", "0.5", "--tokens", "2T"]);
    assert!(w["mfu"].is_null());
    assert!(w["notes"].to_string().contains("above 1, which is impossible"));
}

#[test]
fn absurd_sizes_are_errors_not_wraps() {
    fails_with(&["estimate", "--model", "gpt2-small", "--accelerator", "h100-sxm5-80gb", "--tokens", "1B", "--seq-len", "10000000"], "--seq-len");
    let out = flopprint()
        .args([
            "estimate",
            "--model",
            "llama3-8b",
            "--accelerator",
            "h100-sxm5-80gb",
            "--gpus",
            "1",
            "--tokens",
            "1B",
            "--seq-len",
            "10000000",
            "--micro-batch",
            "1000000",
            "--tp",
            "1",
            "--pp",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

// ---- power follows the step, not the nameplate (issue 8)

#[test]
fn a_loaded_dgx_h100_draws_7_to_8_kw_not_its_10_2_kw_rating() {
    // dense single-node training (Latif et al. 2024: ~8.4 kW peak; Newkirk et
    // al. 2025: <= 76 % of 10.2 kW)
    let v = json(&["estimate", "--model", "llama2-7b", "--system", "dgx-h100", "--nodes", "1", "--tokens", "10B"]);
    let node_w = num(&v, "power_per_gpu_w") * 8.0;
    assert!(node_w > 6500.0 && node_w < 8500.0, "{node_w} W");
    assert!((num(&v, "power_nameplate_per_gpu_w") - 1275.0).abs() < 1e-9);
    assert!(v["power"]["phases"].as_array().unwrap().len() >= 5);
}

#[test]
fn many_nodes_with_little_work_each_draw_less_per_node() {
    let one = json(&["estimate", "--model", "llama2-7b", "--system", "dgx-h100", "--nodes", "1", "--tokens", "10B"]);
    let many = json(&["estimate", "--model", "llama2-7b", "--system", "dgx-h100", "--nodes", "64", "--tokens", "10B", "--global-batch", "512"]);
    // node part only (accelerators + node remainder), the network share aside
    let node = |v: &Value| num(&v["power"], "accelerator_w") + num(&v["power"], "node_rest_w_per_gpu");
    assert!(node(&many) < node(&one), "64 nodes {} vs 1 node {}", node(&many), node(&one));
}

#[test]
fn measured_power_overrides_the_model_exactly() {
    // Patterson et al. 2021 Table 4, GPT-3: 10,000 V100, 355.2 h... 330 W per GPU incl. host
    let v = json(PATTERSON_GPT3);
    assert_eq!(num(&v, "power_per_gpu_w"), 330.0);
    let t = num(&v, "co2e_operational_kg") / 1000.0;
    // 10,000 x 330 W x 355.2 h x 1.1 x 429 g/kWh = 553 tCO2e (Patterson: 552)
    assert!((t - 553.1).abs() < 1.0, "{t}");
    assert_eq!(v["uncertainty"]["energy_facility_kwh"]["p5"], v["uncertainty"]["energy_facility_kwh"]["p95"]);
}

#[test]
fn price_tiers_come_from_sourced_ranges() {
    let od = json(&["estimate"]);
    assert_eq!(od["price_basis"], "on-demand, 2026");
    let mk = json(&["estimate", "--price-tier", "market"]);
    assert!(num(&mk, "price_per_gpu_hour_usd") < num(&od, "price_per_gpu_hour_usd"));
    assert!(mk["sources"]["price_per_gpu_hour"].as_str().unwrap().contains("market tier"));
    // a given price is exact: no spread
    let given = json(&["estimate", "--price-per-gpu-hour", "2"]);
    let r = &given["uncertainty"]["cost_rental_usd"];
    assert!(
        (r["p95"].as_f64().unwrap() / r["p5"].as_f64().unwrap()
            - num(&given["uncertainty"]["gpu_hours"], "p95") / num(&given["uncertainty"]["gpu_hours"], "p5"))
        .abs()
            < 1e-9
    );
    fails_with(&["estimate", "--model", "gpt2-small", "--accelerator", "l4", "--tokens", "1B", "--price-tier", "reserved"], "--price-tier");
    fails_with(&["estimate", "--price-tier", "cheap"], "--price-tier");
}

#[test]
fn grid_basis_is_stated_and_selectable() {
    let life = json(&["estimate", "--site", "us-east-1-virginia"]);
    let direct = json(&["estimate", "--site", "us-east-1-virginia", "--grid-basis", "direct"]);
    assert_eq!(life["grid_basis"], "lifecycle");
    assert_eq!(direct["grid_basis"], "direct");
    assert!(num(&direct, "grid_gco2e_per_kwh") < num(&life, "grid_gco2e_per_kwh"));
    let given = json(&["estimate", "--grid-intensity", "100"]);
    assert_eq!(given["grid_basis"], "given");
}

// ---- the hardware people plan on now (issue 10)

#[test]
fn every_new_system_is_listable_showable_and_estimable() {
    for (system, gpus) in [("hgx-b300", 8.0), ("gb200-nvl72", 72.0), ("hgx-h800", 8.0), ("mi355x-node", 8.0), ("gaudi3-node", 8.0)] {
        flopprint().args(["list", "systems"]).assert().success().stdout(predicate::str::contains(system));
        flopprint().args(["show", system]).assert().success();
        let v = json(&["estimate", "--model", "llama2-7b", "--system", system, "--nodes", "1", "--tokens", "10B"]);
        assert_eq!(num(&v, "gpus"), gpus, "{system}");
        let h = num(&v, "wall_time_h");
        assert!(h.is_finite() && h > 0.0, "{system}: {h} h");
        let mfu = num(&v, "mfu");
        assert!(mfu > 0.05 && mfu < 0.75, "{system}: MFU {mfu}");
        assert!(num(&v, "power_per_gpu_w") <= num(&v, "power_nameplate_per_gpu_w"), "{system}");
        assert!(num(&v, "co2e_total_kg") > 0.0 && num(&v, "energy_facility_kwh") > 0.0, "{system}");
    }
    for acc in ["b300", "gb200", "h800-sxm-80gb", "mi355x", "gaudi3"] {
        flopprint().args(["list", "hardware"]).assert().success().stdout(predicate::str::contains(acc));
        flopprint().args(["show", acc]).assert().success().stdout(predicate::str::contains("TFLOPS").or(predicate::str::contains("tflops")));
    }
}

#[test]
fn an_h800_node_is_slower_than_an_h100_node_where_tensor_parallelism_crosses_nvlink() {
    // same compute and memory; NVLink 200 vs 450 GB/s per direction
    let args = |s: &'static str| {
        ["estimate", "--model", "llama2-70b", "--system", s, "--nodes", "4", "--tokens", "10B", "--tp", "8", "--pp", "1", "--recompute", "full"]
    };
    let h800 = num(&json(&args("hgx-h800")), "wall_time_h");
    let h100 = num(&json(&args("dgx-h100")), "wall_time_h");
    assert!(h800 > h100 * 1.05, "H800 {h800} h vs H100 {h100} h");
}

#[test]
fn a_gb200_rack_prices_the_rack_and_a_b300_node_its_gpus() {
    let rack = json(&["estimate", "--model", "llama2-7b", "--system", "gb200-nvl72", "--nodes", "2", "--tokens", "10B"]);
    assert!((num(&rack, "capex_usd") - 6.0e6).abs() < 1.0);
    assert!(rack["sources"]["capex"].as_str().unwrap().contains("gb200-nvl72"));
    let b300 = json(&["estimate", "--model", "llama2-7b", "--system", "hgx-b300", "--nodes", "1", "--tokens", "10B"]);
    assert!((num(&b300, "capex_usd") - 8.0 * 45_000.0).abs() < 1.0);
}
