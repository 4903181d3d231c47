//! Data files are code: every file loads and validates; required ids exist;
//! parameter counts match published figures.

use flopprint::catalog::{self, Kind};

#[test]
fn every_catalog_file_loads_and_validates() {
    let counts = catalog::validate_all().unwrap_or_else(|e| panic!("{e}"));
    assert!(counts["sites"] >= 30, "{counts:?}");
    assert!(counts["accelerators"] >= 17);
    assert!(counts["models"] >= 22);
}

#[test]
fn required_ids_exist() {
    let need = [
        (
            Kind::Accelerator,
            &[
                "v100-sxm2-16gb",
                "v100-sxm2-32gb",
                "a100-sxm4-40gb",
                "a100-sxm4-80gb",
                "h100-sxm5-80gb",
                "h200-sxm-141gb",
                "b200",
                "mi300x",
                "tpu-v3",
                "tpu-v4",
                "p100-sxm2",
                "rtx-4090",
                "epyc-7763",
                "v100-sxm3-32gb",
                "mi325x",
                "tpu-v5p",
                "tpu-v6e",
                "trainium2",
                "b300",
                "gb200",
                "h800-sxm-80gb",
                "mi355x",
                "gaudi3",
            ][..],
        ),
        (
            Kind::System,
            &[
                "dgx-a100-40gb",
                "dgx-a100-80gb",
                "dgx-h100",
                "dgx-b200",
                "dgx-1-v100",
                "dgx-2-v100",
                "tpu-v3-host",
                "tpu-v4-host",
                "hgx-b300",
                "gb200-nvl72",
                "hgx-h800",
                "mi355x-node",
                "gaudi3-node",
            ][..],
        ),
        (
            Kind::Site,
            &[
                "world",
                "us-average",
                "france",
                "germany",
                "quebec",
                "china",
                "india",
                "sweden",
                "norway",
                "uk",
                "japan",
                "us-east-1-virginia",
                "azure-swedencentral",
                "azure-eastus",
                "azure-westeurope",
                "azure-northeurope",
            ][..],
        ),
        (
            Kind::Model,
            &[
                "gpt3-175b",
                "bert-base",
                "bert-large",
                "xlm-roberta-large",
                "xlnet-large",
                "bloom-176b",
                "glm-130b",
                "mt-nlg-530b",
                "nemo-megatron-gpt-20b",
                "cohere-command-r-35b",
                "opt-175b",
                "t5-11b",
                "palm-540b",
                "llama2-7b",
                "llama2-70b",
                "llama3.1-405b",
                "mixtral-8x7b",
                "deepseek-v3",
                "megatron-22b",
                "megatron-175b",
                "megatron-530b",
                "megatron-1t",
            ][..],
        ),
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

/// Published parameter counts within 1 % (the issue's list, plus every model
/// that publishes one and whose architecture the schema expresses).
#[test]
fn published_parameter_counts_within_one_percent() {
    for id in [
        "gpt3-175b",
        "llama2-70b",
        "llama2-7b",
        "bloom-176b",
        "mixtral-8x7b",
        "opt-175b",
        "palm-540b",
        "mt-nlg-530b",
        "llama3.1-405b",
        "deepseek-v3",
        "bert-base",
        "gpt2-small",
    ] {
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
        ("opt-synthetic.json", 125.2e6),
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
    // dropout, the largest of the probabilities the config declares (the
    // memory model stores masks unless it is 0; absent = unknown)
    let dropout = |f: &str| catalog::model(dir.join(f).to_str().unwrap()).unwrap().dropout;
    assert_eq!(dropout("mixtral-8x7b.json"), Some(0.0));
    // a LLaMA-family config without the key: transformers' default 0.0
    assert_eq!(dropout("llama-2-7b.json"), Some(0.0));
    assert_eq!(dropout("gpt-neox-20b.json"), None);
    assert_eq!(dropout("bert-base-uncased.json"), Some(0.1));
    assert_eq!(dropout("t5-small.json"), Some(0.1));
    let bad = tempfile::tempdir().unwrap();
    let cfg = std::fs::read_to_string(dir.join("mixtral-8x7b.json")).unwrap().replace("\"attention_dropout\": 0.0", "\"attention_dropout\": 1.5");
    let path = bad.path().join("config.json");
    std::fs::write(&path, cfg).unwrap();
    let err = catalog::model(path.to_str().unwrap()).unwrap_err().to_string();
    assert!(err.contains("attention_dropout") && err.contains("probability"), "{err}");
}

/// Every site states the basis of its grid figure, and a life-cycle figure
/// exists for every site except the Strubell et al. convention (which
/// reproduces a published direct figure as is).
#[test]
fn every_site_has_a_basis_and_a_lifecycle_figure() {
    use flopprint::catalog::GridBasis;
    for id in catalog::ids(Kind::Site) {
        let s = catalog::site(&id).unwrap();
        let lc = s.grid_for(GridBasis::Lifecycle);
        if id == "us-average-2018-strubell" {
            assert_eq!(s.grid_basis, GridBasis::Direct);
            continue;
        }
        let lc = lc.unwrap_or_else(|| panic!("{id}: no life-cycle grid figure"));
        assert!(lc.year >= 2023, "{id}: life-cycle figure from {}", lc.year);
        assert!(s.grid_year >= 2023, "{id}: grid figure from {}", s.grid_year);
    }
}

/// A site file without `grid_basis`, or with a grid value without its year,
/// fails to load.
#[test]
fn site_without_basis_or_year_is_rejected() {
    let base = "name = \"t\"\ncountry = \"XX\"\nkind = \"country\"\ngrid_gco2e_per_kwh = 100.0\ngrid_year = 2024\n\
                grid_source = \"s (2024)\"\ngrid_licence = \"CC-BY-4.0\"\npue = 1.2\npue_source = \"p (2024)\"\n\
                electricity_usd_per_kwh = 0.1\nelectricity_source = \"e (2024)\"\n";
    assert!(catalog::parse_site("t", base).is_err(), "missing grid_basis must fail");
    let with_basis = format!("{base}grid_basis = \"direct\"\n");
    assert!(catalog::parse_site("t", &with_basis).is_ok());
    let no_primary_year = with_basis.replace("grid_year = 2024\n", "");
    assert!(catalog::parse_site("t", &no_primary_year).is_err(), "missing grid_year must fail");
    let alt_no_year = format!("{with_basis}grid_lifecycle_gco2e_per_kwh = 110.0\ngrid_lifecycle_source = \"x (2024)\"\n");
    assert!(catalog::parse_site("t", &alt_no_year).is_err(), "alternative without year must fail");
}

/// Grid figures checked against the sources read for issue 10.
#[test]
fn grid_figures_match_their_sources() {
    use flopprint::catalog::GridBasis;
    let lc = |id: &str| catalog::site(id).unwrap().grid_for(GridBasis::Lifecycle).unwrap().gco2e_per_kwh;
    for (id, want) in [("france", 44.2), ("uk", 210.9), ("germany", 344.1), ("us-average", 383.5), ("world", 473.0)] {
        assert!((lc(id) - want).abs() < 0.05, "{id}: {}", lc(id));
    }
    let va = catalog::site("us-east-1-virginia").unwrap();
    assert_eq!(va.grid_basis, GridBasis::Direct);
    assert!((va.grid_gco2e_per_kwh - 270.5).abs() < 0.05);
    assert!(va.grid_licence.contains("Public domain"));
    for id in catalog::ids(Kind::Site) {
        let s = catalog::site(&id).unwrap();
        if s.grid_source.contains("region-carbon-info") {
            assert!(s.grid_licence.starts_with("Apache-2.0"), "{id}: {}", s.grid_licence);
            assert_eq!(s.grid_basis, GridBasis::Direct, "{id}");
        }
    }
}

/// DGX-2 carries V100 SXM3 (350 W) modules; TPU measured maxima are kept
/// apart from TDP; GPU memory is in GiB as nvidia-smi reports it.
#[test]
fn hardware_fixes_of_issue_10() {
    let dgx2 = catalog::system("dgx-2-v100").unwrap();
    assert_eq!(dgx2.accelerator, "v100-sxm3-32gb");
    assert!((catalog::accelerator("v100-sxm3-32gb").unwrap().tdp_w - 350.0).abs() < 1e-9);
    assert_eq!(catalog::accelerator("tpu-v4").unwrap().measured_max_w, Some(192.0));
    assert_eq!(catalog::accelerator("tpu-v3").unwrap().measured_max_w, Some(262.0));
    assert!((catalog::accelerator("h200-sxm-141gb").unwrap().memory_gib - 143_771.0 / 1024.0).abs() < 0.05);
    assert!((catalog::accelerator("b200").unwrap().memory_gib - 183_359.0 / 1024.0).abs() < 0.05);
}

/// Price tiers: each given tier has low <= high and a dated source; the
/// 2025-2026 AWS figures read for issue 10 are where they belong.
#[test]
fn rental_tiers_are_ordered_and_dated() {
    use flopprint::catalog::PriceTier;
    let mut with_tiers = 0;
    for id in catalog::ids(Kind::Accelerator) {
        let a = catalog::accelerator(&id).unwrap();
        let mut any = false;
        for t in PriceTier::ALL {
            if let Some((lo, hi, src)) = a.rental_tier(t) {
                assert!(lo.value() > 0.0 && lo.value() <= hi.value(), "{id} {t}");
                assert!(src.contains("202"), "{id} {t}: {src}");
                any = true;
            }
        }
        with_tiers += usize::from(any);
    }
    assert!(with_tiers >= 8, "{with_tiers}");
    let h100 = catalog::accelerator("h100-sxm5-80gb").unwrap();
    let (lo, hi, src) = h100.rental_tier(PriceTier::OnDemand).unwrap();
    assert!(lo.value() <= 6.88 && 6.88 <= hi.value() && src.contains("p5.48xlarge $55.04"));
    for (id, want) in [("h200-sxm-141gb", 63.296 / 8.0), ("b200", 113.9328 / 8.0), ("a100-sxm4-40gb", 21.957642 / 8.0)] {
        let a = catalog::accelerator(id).unwrap();
        assert!((a.rental_usd_per_gpu_hour.unwrap() - want).abs() < 0.001, "{id}");
        assert_eq!(a.rental_year, Some(2026), "{id}");
    }
    assert_eq!("on-demand".parse::<PriceTier>().unwrap(), PriceTier::OnDemand);
}

/// Trainium2 dense peaks from the AWS Neuron docs (sparse 2,563 not used);
/// Azure Sweden Central carries Microsoft's design PUE.
#[test]
fn trainium2_and_azure_sweden_match_their_sources() {
    use flopprint::dtype::Dtype;
    let t = catalog::accelerator("trainium2").unwrap();
    assert!((t.peak(Dtype::Bf16).unwrap().value() - 667e12).abs() < 1e6);
    assert!((t.peak(Dtype::Fp8).unwrap().value() - 1299e12).abs() < 1e6);
    assert!((t.memory_gib - 96.0).abs() < 1e-9);
    assert!(t.source_of("tdp_w").starts_with("estimate"));
    let s = catalog::site("azure-swedencentral").unwrap();
    assert!((s.pue - 1.16).abs() < 1e-9);
}

/// The accelerators and systems added to finish issue 10, checked against
/// the figures their files cite.
#[test]
fn new_hardware_matches_its_sources() {
    use flopprint::dtype::Dtype;
    let acc = |id: &str| catalog::accelerator(id).unwrap();
    let tflops = |id: &str, d: Dtype| acc(id).peak(d).unwrap().value() / 1e12;
    // GiB from nvidia-smi / hl-smi / ROCm, not vendor GB
    assert!((acc("b300").memory_gib - 275_040.0 / 1024.0).abs() < 0.05);
    assert!((acc("gb200").memory_gib - 189_471.0 / 1024.0).abs() < 0.05);
    assert!((acc("gaudi3").memory_gib - 128.0).abs() < 1e-9);
    assert!((acc("mi355x").memory_gib - 288.0).abs() < 1e-9);
    // dense peaks
    assert!((tflops("b300", Dtype::Bf16) - 2250.0).abs() < 1e-6 && (tflops("b300", Dtype::Fp8) - 4500.0).abs() < 1e-6);
    assert!((tflops("gb200", Dtype::Bf16) - 2500.0).abs() < 1e-6 && (tflops("gb200", Dtype::Fp8) - 5000.0).abs() < 1e-6);
    assert!((tflops("mi355x", Dtype::Bf16) - 2516.6).abs() < 1e-6 && (tflops("mi355x", Dtype::Fp8) - 5033.2).abs() < 1e-6);
    assert!((tflops("gaudi3", Dtype::Bf16) - 1677.0).abs() < 1e-6);
    // H800: the H100's compute, memory and power; only the NVLink differs
    let (h800, h100) = (acc("h800-sxm-80gb"), acc("h100-sxm5-80gb"));
    for d in [Dtype::Fp32, Dtype::Tf32, Dtype::Bf16, Dtype::Fp8] {
        assert_eq!(h800.peak(d).unwrap().value(), h100.peak(d).unwrap().value(), "{d}");
    }
    assert_eq!((h800.memory_gib, h800.memory_bandwidth_gb_s, h800.tdp_w), (h100.memory_gib, h100.memory_bandwidth_gb_s, h100.tdp_w));
    assert_eq!(h800.family, "hopper");
    let nvlink = |id: &str| catalog::system(id).unwrap().intra_node.unwrap().bandwidth_gb_s.unwrap();
    assert!((nvlink("hgx-h800") - 200.0).abs() < 1e-9 && (nvlink("dgx-h100") - 450.0).abs() < 1e-9);
    // families the device model knows (or the stated fallback)
    for (id, fam) in [("b300", "blackwell"), ("gb200", "blackwell"), ("mi355x", "cdna4"), ("gaudi3", "gaudi")] {
        assert_eq!(acc(id).family, fam, "{id}");
    }
    // GB200 NVL72: one rack is one node, 72 GPUs at 1,200 W in one NVLink domain
    let nvl = catalog::system("gb200-nvl72").unwrap();
    assert_eq!(nvl.accelerators_per_node, 72);
    assert!((acc("gb200").tdp_w - 1200.0).abs() < 1e-9);
    assert!((120_000.0..=132_000.0).contains(&nvl.node_max_power_w));
    assert!((nvlink("gb200-nvl72") - 900.0).abs() < 1e-9);
    // estimates are labelled as such
    assert!(acc("gaudi3").source_of("idle_w").starts_with("estimate"));
    assert!(acc("gb200").source_of("idle_w").starts_with("estimate"));
    assert!(acc("b300").source_of("purchase_usd").starts_with("estimate"));
    assert!((acc("b300").rental_usd_per_gpu_hour.unwrap() - 142.416 / 8.0).abs() < 1e-9);
    // DGX H100 now has a (press/analyst) system price, stored like DGX A100's
    let dgx = catalog::system("dgx-h100").unwrap();
    assert_eq!((dgx.price_usd, dgx.price_year), (Some(270_000.0), Some(2023)));
    assert!(dgx.source_of("price_usd").starts_with("approximate"));
}

/// No site claims a read electricity price it recalled: every file that still
/// carries a recalled price says NOT READ in the source it prints; the
/// Eurostat prices read for issue 10 carry their table, period and rate.
#[test]
fn electricity_prices_are_read_or_say_they_are_not() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hardware/sites");
    let mut read = 0;
    for id in catalog::ids(Kind::Site) {
        let text = std::fs::read_to_string(dir.join(format!("{id}.toml"))).unwrap();
        let s = catalog::site(&id).unwrap();
        assert!(!text.contains("recalled value, +/- ~20%); verify"), "{id}: old 'recalled' comment left");
        if text.contains("recalled") {
            assert!(s.electricity_source.contains("NOT READ"), "{id}: {}", s.electricity_source);
        }
        if s.electricity_source.starts_with("Eurostat nrg_pc_205") {
            assert!(s.electricity_source.contains("2024-S") && s.electricity_source.contains("1.0824"), "{id}");
            read += 1;
        }
    }
    assert!(read >= 15, "{read}");
    let de = catalog::site("germany").unwrap();
    assert!((de.electricity_usd_per_kwh - 0.2359 * 1.0824).abs() < 1e-4);
}

/// Cloud fleet PUEs from the providers' newest reports; Azure regions from
/// Microsoft's regional fact sheets (fleet figure where none was found).
#[test]
fn cloud_pues_are_the_newest_read() {
    for id in catalog::ids(Kind::Site) {
        let s = catalog::site(&id).unwrap();
        match s.cloud.as_deref() {
            Some("aws") => assert!((s.pue - 1.14).abs() < 1e-9, "{id}"),
            Some("gcp") => assert!((s.pue - 1.09).abs() < 1e-9, "{id}"),
            _ => {}
        }
    }
    for (id, pue, country) in
        [("azure-eastus", 1.18, "US"), ("azure-westeurope", 1.16, "NL"), ("azure-northeurope", 1.22, "IE"), ("azure-swedencentral", 1.16, "SE")]
    {
        let s = catalog::site(id).unwrap();
        assert!((s.pue - pue).abs() < 1e-9, "{id}");
        assert_eq!(s.country, country);
        assert_eq!(s.grid_basis, flopprint::catalog::GridBasis::Lifecycle, "{id}");
    }
}
