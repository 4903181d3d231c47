//! Data files are code: every file loads and validates; required ids exist;
//! parameter counts match published figures.

use flopprint::catalog::{self, Kind};

#[test]
fn every_catalog_file_loads_and_validates() {
    let counts = catalog::validate_all().unwrap_or_else(|e| panic!("{e}"));
    assert!(counts["sites"] >= 30, "{counts:?}");
    assert!(counts["accelerators"] >= 13);
    assert!(counts["models"] >= 22);
}

#[test]
fn required_ids_exist() {
    let need = [
        (Kind::Accelerator, &["v100-sxm2-16gb", "v100-sxm2-32gb", "a100-sxm4-40gb", "a100-sxm4-80gb", "h100-sxm5-80gb", "h200-sxm-141gb", "b200", "mi300x", "tpu-v3", "tpu-v4", "p100-sxm2", "rtx-4090", "epyc-7763"][..]),
        (Kind::System, &["dgx-a100-40gb", "dgx-a100-80gb", "dgx-h100", "dgx-b200", "dgx-1-v100", "dgx-2-v100", "tpu-v3-host", "tpu-v4-host"][..]),
        (Kind::Site, &["world", "us-average", "france", "germany", "quebec", "china", "india", "sweden", "norway", "uk", "japan", "us-east-1-virginia"][..]),
        (Kind::Model, &["gpt3-175b", "bert-base", "bert-large", "xlm-roberta-large", "xlnet-large", "bloom-176b", "glm-130b", "mt-nlg-530b", "nemo-megatron-gpt-20b", "cohere-command-r-35b", "opt-175b", "t5-11b", "palm-540b", "llama2-7b", "llama2-70b", "llama3.1-405b", "mixtral-8x7b", "deepseek-v3", "megatron-22b", "megatron-175b", "megatron-530b", "megatron-1t"][..]),
    ];
    for (kind, ids) in need {
        let have = catalog::ids(kind);
        for id in ids {
            assert!(have.iter().any(|h| h == id), "missing {}/{id}.toml", kind.prefix());
        }
    }
}

#[test]
fn dgx_a100_matches_its_datasheet() {
    let s = catalog::system("dgx-a100-80gb").unwrap();
    assert_eq!(s.accelerators_per_node, 8);
    assert!((s.node_max_power_w - 6500.0).abs() < 1e-9);
    assert_eq!(s.price_usd, Some(199_000.0));
    assert_eq!(s.price_year, Some(2020));
}

/// Published parameter counts within 1 % (the list, plus every model
/// that publishes one and whose architecture the schema expresses).
#[test]
fn published_parameter_counts_within_one_percent() {
    for id in ["gpt3-175b", "llama2-70b", "llama2-7b", "bloom-176b", "mixtral-8x7b", "opt-175b", "palm-540b", "mt-nlg-530b", "llama3.1-405b", "deepseek-v3", "bert-base", "gpt2-small"] {
        let m = catalog::model(id).unwrap();
        let p = m.params();
        let published = m.params_published.expect("published count");
        let err = (p.total - published).abs() / published;
        assert!(err < 0.01, "{id}: computed {:.4e} vs published {published:.4e} ({:.2} %)", p.total, err * 100.0);
    }
    // Devlin et al. 2019 round BERT-large to 340M; the checkpoint holds 336M.
    let bl = catalog::model("bert-large").unwrap().params().total;
    assert!((bl - 336e6).abs() / 336e6 < 0.01, "{bl}");
    let mx = catalog::model("mixtral-8x7b").unwrap();
    let p = mx.params();
    assert!((p.total - 46.7e9).abs() / 46.7e9 < 0.01, "{}", p.total);
    assert!((p.active - 12.9e9).abs() / 12.9e9 < 0.01, "{}", p.active);
}

#[test]
fn hugging_face_configs_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hf");
    let expect = [
        ("gpt2.json", 124.4e6),
        ("llama-2-7b.json", 6.738e9),
        ("mistral-7b.json", 7.24e9),
        ("mixtral-8x7b.json", 46.7e9),
        ("bloom-560m.json", 559.2e6),
        ("opt-125m.json", 125.2e6),
        ("falcon-7b.json", 6.92e9),
        ("bert-base-uncased.json", 109.5e6),
        ("roberta-base.json", 124.6e6),
        ("t5-small.json", 60.5e6),
        ("gpt-neox-20b.json", 20.55e9),
    ];
    for (f, want) in expect {
        let path = dir.join(f);
        let m = catalog::model(path.to_str().unwrap()).unwrap_or_else(|e| panic!("{f}: {e}"));
        let got = m.params().total;
        assert!((got - want).abs() / want < 0.02, "{f}: {got:.4e} vs {want:.4e}");
    }
}
