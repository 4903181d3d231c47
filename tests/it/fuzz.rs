//! Fuzzing the parsers and the pipeline (proptest, fixed seed): random and
//! mutated scenario TOML, mutated Hugging Face config.json files, and
//! random valid scenarios through the whole pipeline. Properties: no panic,
//! every rejection names the file, flag or field, and every accepted
//! scenario prints finite, non-negative figures with MFU <= 1.
//!
//! Per CI run: 6,000 TOML + 3,000 config.json + 1,000 pipeline cases
//! (10,000 in all). A longer run: `FLOPPRINT_FUZZ_SCALE=20 cargo test
//! --release --locked --test it fuzz::` (200,000 cases).

use flopprint::catalog::{self, Kind};
use flopprint::estimate::estimate;
use flopprint::scenario::{known_keys, ScenarioInput};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;
use std::fmt::Write as _;

fn scale() -> u32 {
    std::env::var("FLOPPRINT_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
}

fn config(cases: u32) -> Config {
    Config { cases: cases * scale(), rng_seed: RngSeed::Fixed(0x666c_6f70), failure_persistence: None, ..Config::default() }
}

/// A TOML value of any shape, including hostile ones.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        (0u64..10_000).prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| if v.is_finite() { format!("{v:e}") } else { "nan".into() }),
        Just("inf".to_string()),
        Just("-0.0".to_string()),
        Just("1e400".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z0-9.\\-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        prop::sample::select(vec![
            "\"gpt3-175b\"",
            "\"dgx-a100-80gb\"",
            "\"h100-sxm5-80gb\"",
            "\"france\"",
            "\"bf16\"",
            "\"selective\"",
            "\"lora\"",
            "\"300B\"",
            "\"4M\"",
            "\"lifecycle\""
        ])
        .prop_map(str::to_string),
        Just("[1, 2]".to_string()),
        Just("{ a = 1 }".to_string()),
    ]
}

fn scenario_toml() -> impl Strategy<Value = String> {
    let keys = known_keys();
    let mut with_typo = keys.clone();
    with_typo.extend(["modle", "node", "gpu", "Model", "tp ", "x"].map(String::from));
    prop::collection::vec((prop::sample::select(with_typo), toml_value()), 0..8).prop_map(|kv| {
        let mut seen = std::collections::BTreeSet::new();
        kv.into_iter().filter(|(k, _)| seen.insert(k.clone())).map(|(k, v)| k + " = " + &v + "\n").collect()
    })
}

/// Byte-level mutations of a valid scenario.
fn mutated_seed() -> impl Strategy<Value = String> {
    let seed = "name = \"x\"\nmodel = \"llama2-7b\"\nsystem = \"dgx-a100-80gb\"\nnodes = 2\ntokens = \"10B\"\nsite = \"france\"\ntp = 2\npp = 1\n";
    (0..seed.len(), any::<u8>(), 0usize..3).prop_map(move |(at, byte, op)| {
        let mut b = seed.as_bytes().to_vec();
        match op {
            0 => b[at] = byte,
            1 => {
                b.remove(at);
            }
            _ => b.insert(at, byte),
        }
        String::from_utf8_lossy(&b).into_owned()
    })
}

/// A rejection must say where: a file, a `--flag`, or a `quoted` field/id.
fn names_something(msg: &str) -> bool {
    msg.contains("fuzz.toml") || msg.contains("--") || msg.contains('`')
}

fn check_scenario_text(text: &str) -> Result<(), TestCaseError> {
    match ScenarioInput::from_toml("fuzz.toml", text) {
        Err(e) => prop_assert!(e.to_string().contains("fuzz.toml"), "{e}"),
        Ok(input) => {
            if let Err(e) = input.resolve(Vec::new()) {
                prop_assert!(names_something(&e.to_string()), "unnamed rejection: {e}");
            }
        }
    }
    Ok(())
}

#[test]
fn random_scenario_toml_never_panics_and_rejections_name_the_field() {
    proptest!(config(3000), |(text in scenario_toml())| check_scenario_text(&text)?);
}

#[test]
fn mutated_scenario_toml_never_panics() {
    proptest!(config(3000), |(text in mutated_seed())| check_scenario_text(&text)?);
}

fn hf_fixtures() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hf");
    let mut v: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn mutated_hf_configs_never_panic_and_name_the_file() {
    let fixtures = hf_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let replacement = prop_oneof![
        Just(Value::Null),
        Just(serde_json::json!(0)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(1e30)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!("12")),
        Just(serde_json::json!([1])),
        (1u64..100_000).prop_map(|n| serde_json::json!(n)),
    ];
    proptest!(config(3000), |(which in 0..fixtures.len(), key_pick in any::<prop::sample::Index>(), delete in any::<bool>(), val in replacement)| {
        let (name, base) = &fixtures[which];
        let mut obj = base.as_object().unwrap().clone();
        let keys: Vec<String> = obj.keys().cloned().collect();
        let key = key_pick.get(&keys).clone();
        if delete { obj.remove(&key); } else { obj.insert(key.clone(), val); }
        let path = dir.path().join(format!("m-{name}"));
        std::fs::write(&path, serde_json::to_string(&Value::Object(obj)).unwrap()).unwrap();
        match catalog::model(path.to_str().unwrap()) {
            Err(e) => prop_assert!(e.to_string().contains(&format!("m-{name}")), "{e}"),
            Ok(m) => {
                let p = m.params();
                prop_assert!(p.total.is_finite() && p.total > 0.0, "{key}: params {}", p.total);
            }
        }
    });
}

/// Random valid scenarios through the whole pipeline.
#[test]
fn random_valid_scenarios_give_finite_figures() {
    let models = ["gpt2-small", "bert-base", "llama2-7b", "llama3-8b", "gpt3-6.7b", "mixtral-8x7b", "megatron-22b"];
    let systems: Vec<String> = catalog::ids(Kind::System).into_iter().filter(|s| !s.starts_with("cpu") && !s.starts_with("tpu")).collect();
    let sites = catalog::ids(Kind::Site);
    proptest!(config(1000), |(
        model in prop::sample::select(models.to_vec()),
        system in prop::sample::select(systems.clone()),
        site in prop::sample::select(sites.clone()),
        nodes in 1u64..16,
        tokens in 1e6f64..1e12,
        tp in prop::sample::select(vec![1u64, 2, 4, 8]),
        pp in prop::sample::select(vec![1u64, 2]),
        account in any::<bool>(),
        hours in 0.01f64..1e4,
        mfu in prop::option::of(0.05f64..0.9),
    )| {
        let mut t = format!("model = \"{model}\"\nsystem = \"{system}\"\nnodes = {nodes}\ntokens = {tokens:e}\nsite = \"{site}\"\ntp = {tp}\npp = {pp}\n");
        if account { let _ = writeln!(t, "hours = {hours:e}"); }
        if let Some(m) = mfu { let _ = writeln!(t, "mfu = {m}"); }
        let input = ScenarioInput::from_toml("fuzz.toml", &t).unwrap();
        let sc = match input.resolve(Vec::new()) {
            Ok(sc) => sc,
            Err(e) => { prop_assert!(names_something(&e.to_string()), "{e}"); return Ok(()); }
        };
        match estimate(&sc) {
            Err(e) => prop_assert!(names_something(&e.to_string()) || e.to_string().contains("memory"), "{e}"),
            Ok(e) => {
                for (k, v) in [("wall_time_h", e.wall_time_h), ("gpu_hours", e.gpu_hours), ("power_total_w", e.power_total_w), ("energy_facility_kwh", e.energy_facility_kwh), ("co2e_total_kg", e.co2e_total_kg), ("electricity_cost_usd", e.electricity_cost_usd)] {
                    prop_assert!(v.is_finite() && v >= 0.0, "{k} = {v} for\n{t}");
                }
                for r in [e.uncertainty.wall_time_h, e.uncertainty.energy_facility_kwh, e.uncertainty.co2e_total_kg] {
                    prop_assert!(r.p5.is_finite() && r.p5 <= r.p50 && r.p50 <= r.p95, "{r:?} for\n{t}");
                }
                if let Some(m) = e.mfu { prop_assert!(m > 0.0 && m <= 1.0, "mfu {m} for\n{t}"); }
                prop_assert!(e.power_total_w <= e.power_nameplate_per_gpu_w * e.gpus as f64 * 1.05 || account, "power above nameplate for\n{t}");
            }
        }
    });
}
