//! `flopprint calibrate` and estimates that rest on its profile.

use assert_cmd::Command;
use serde_json::Value;

fn flopprint() -> Command {
    Command::cargo_bin("flopprint").unwrap()
}

#[test]
fn calibrate_writes_a_verified_profile_that_estimate_uses() {
    let dir = tempfile::tempdir().unwrap();
    let prof = dir.path().join("cpu.json");
    let out = flopprint().args(["calibrate", "--dtypes", "fp32", "--budget", "1", "--format", "json", "--out", prof.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["device"]["kind"], "cpu");
    let results = v["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        for k in ["dtype", "m", "n", "k", "flops_per_s", "seconds_median", "ci95_low", "ci95_high", "verified"] {
            assert!(r.get(k).is_some(), "result lacks {k}");
        }
        assert_eq!(r["verified"], true);
        let (lo, med, hi) = (r["ci95_low"].as_f64().unwrap(), r["seconds_median"].as_f64().unwrap(), r["ci95_high"].as_f64().unwrap());
        assert!(lo <= med && med <= hi);
        let f = 2.0 * r["m"].as_f64().unwrap() * r["n"].as_f64().unwrap() * r["k"].as_f64().unwrap() / med;
        assert!((f - r["flops_per_s"].as_f64().unwrap()).abs() / f < 1e-9);
    }
    // power is either measured (RAPL) or declared unavailable, never guessed
    let src = v["power"]["source"].as_str().unwrap();
    assert!(src == "rapl" || src == "unavailable");

    let p = prof.to_str().unwrap();
    let est = flopprint()
        .args([
            "estimate",
            "--system",
            "local",
            "--calibration",
            p,
            "--model",
            "gpt2-small",
            "--tokens",
            "10M",
            "--dtype",
            "fp32",
            "--power-per-gpu",
            "120",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(est.status.success(), "{}", String::from_utf8_lossy(&est.stderr));
    let e: Value = serde_json::from_slice(&est.stdout).unwrap();
    assert_eq!(e["accelerator"], "local");
    assert!(e["sources"]["device_model"].as_str().unwrap().contains("calibration profile"));
    let mfu = e["mfu"].as_f64().unwrap();
    assert!(mfu > 0.0 && mfu <= 1.0);

    // a profile of another device does not silently calibrate an A100
    let bad =
        flopprint().args(["estimate", "--accelerator", "a100-sxm4-80gb", "--calibration", p, "--model", "gpt2-small", "--tokens", "1B"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--calibration measured"));
}

#[test]
fn local_system_needs_a_profile() {
    let out = flopprint().args(["estimate", "--system", "local", "--model", "gpt2-small", "--tokens", "1B"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--system local needs --calibration FILE"));
    let out =
        flopprint().args(["estimate", "--system", "local", "--calibration", "/no/such.json", "--model", "gpt2-small", "--tokens", "1B"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--calibration /no/such.json"));
}

#[test]
fn cuda_without_a_driver_is_a_clear_error_not_a_panic() {
    let out = flopprint().args(["calibrate", "--device", "cuda", "--budget", "1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    if out.status.success() {
        // a machine with an NVIDIA driver: the profile is a CUDA one
        assert!(String::from_utf8_lossy(&out.stdout).contains("Cuda"));
    } else {
        assert!(err.contains("driver") || err.contains("cuda") || err.contains("CUDA"), "{err}");
    }
}

/// The deterministic fake backend (hidden `--fake-backend`): the CLI path
/// from calibration to an estimate, checked to exact figures.
#[test]
fn fake_backend_profile_drives_the_estimate_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let prof = dir.path().join("fake.json");
    let out = flopprint().args(["calibrate", "--fake-backend", "--dtypes", "fp32", "--format", "json", "--out", prof.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["software"]["backend"], "fake");
    // 1 TFLOP/s peak x d/(d+256): the 1024^3 GEMM runs at 800 GFLOP/s
    let r = v["results"].as_array().unwrap().iter().find(|r| r["m"] == 1024).unwrap();
    assert!((r["flops_per_s"].as_f64().unwrap() - 800e9).abs() < 1.0);
    assert_eq!(r["avg_power_w"], 100.0);
    // the same profile twice is the same profile, apart from its timestamp
    let again = flopprint().args(["calibrate", "--fake-backend", "--dtypes", "fp32", "--format", "json"]).output().unwrap();
    let mut w: Value = serde_json::from_slice(&again.stdout).unwrap();
    w["created_unix_s"] = v["created_unix_s"].clone();
    assert_eq!(v, w);
    let est = flopprint()
        .args([
            "estimate",
            "--system",
            "local",
            "--calibration",
            prof.to_str().unwrap(),
            "--model",
            "gpt2-small",
            "--tokens",
            "1B",
            "--dtype",
            "fp32",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(est.status.success(), "{}", String::from_utf8_lossy(&est.stderr));
    let e: Value = serde_json::from_slice(&est.stdout).unwrap();
    // no accelerator runs faster than its measured best, none draws above its measured power
    assert!(e["mfu"].as_f64().unwrap() <= 0.89 + 1e-9);
    assert!(e["power_per_gpu_w"].as_f64().unwrap() <= 100.0 + 1e-9);
    assert!(!e["notes"].to_string().contains("no --system"));
}
