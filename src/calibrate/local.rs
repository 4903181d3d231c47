//! From a calibration profile to the estimator: the measured device as an
//! accelerator (`--system local`) and its measured GEMM throughput as the
//! simulator's device model (`--calibration FILE`).
//!
//! What the profile measured is used as measured; what it could not measure
//! stays unknown and is asked for. Power in particular: with RAPL or NVML
//! readings the device draws its measured average watts; without them the
//! estimate asks for `--power-per-gpu` or `--total-power` instead of
//! guessing.

use super::{CalibrationProfile, DeviceKind, PowerSource};
use crate::catalog::{self, Accelerator, AcceleratorKind, PeakTflops};
use crate::dtype::Dtype;
use crate::simulator::{AnalyticDevice, ProfileDevice};
use std::collections::BTreeMap;

/// Reads a profile from disk.
///
/// # Errors
/// Unreadable file or a profile this version cannot read, naming the file.
pub fn load(path: &str) -> Result<CalibrationProfile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--calibration {path}: {e}; make one with `flopprint calibrate --out {path}`"))?;
    CalibrationProfile::from_json(&text).map_err(|e| format!("--calibration {path}: {e}"))
}

/// Average measured power over the verified results, W.
#[must_use]
pub fn measured_power_w(p: &CalibrationProfile) -> Option<f64> {
    if p.power.source == PowerSource::Unavailable {
        return None;
    }
    let w: Vec<f64> = p.results.iter().filter(|r| r.verified).filter_map(|r| r.avg_power_w).collect();
    (!w.is_empty()).then(|| w.iter().sum::<f64>() / w.len() as f64)
}

/// The highest average power the profile measured on a verified GEMM in
/// `dtype` (the device's sustained draw at GEMM saturation), W.
#[must_use]
pub fn measured_gemm_power_w(p: &CalibrationProfile, dtype: Dtype) -> Option<f64> {
    if p.power.source == PowerSource::Unavailable {
        return None;
    }
    p.results.iter().filter(|r| r.verified && r.dtype == dtype).filter_map(|r| r.avg_power_w).fold(None, |a: Option<f64>, w| Some(a.map_or(w, |a| a.max(w))))
}

fn best_measured(p: &CalibrationProfile, d: Dtype) -> Option<f64> {
    let peak = p
        .device
        .peaks
        .iter()
        .filter(|x| x.dtype == d && x.used_by_gemm_backend)
        .filter_map(|x| x.measured_flops_per_s.or(x.theoretical_flops_per_s))
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
    let achieved =
        p.results.iter().filter(|r| r.dtype == d && r.verified).map(|r| r.flops_per_s).fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
    match (peak, achieved) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The accelerator a profile describes: its catalog entry for a GPU the
/// profile mapped, else (a CPU) one built from the measurements.
///
/// # Errors
/// A GPU profile without a catalog id, or a CPU profile without results.
pub fn accelerator(p: &CalibrationProfile) -> Result<Accelerator, String> {
    if let Some(id) = &p.device.catalog_id {
        return catalog::accelerator(id).map_err(|e| e.to_string());
    }
    if p.device.kind == DeviceKind::Cuda {
        return Err(format!(
            "the profile's GPU `{}` maps to no hardware/accelerators entry; add one, or give --accelerator ID with --calibration",
            p.device.name
        ));
    }
    let mut peak = PeakTflops::default();
    for d in [Dtype::Fp64, Dtype::Fp32, Dtype::Fp16] {
        let v = best_measured(p, d).map(|f| f / 1e12);
        match d {
            Dtype::Fp64 => peak.fp64 = v,
            Dtype::Fp32 => peak.fp32 = v,
            _ => peak.fp16 = v,
        }
    }
    if peak.fp32.is_none() && peak.fp64.is_none() {
        return Err("the calibration profile has no verified fp32/fp64 result: rerun `flopprint calibrate`".into());
    }
    let power = measured_power_w(p);
    let mut sources = BTreeMap::new();
    sources.insert(
        "peak_tflops".to_string(),
        format!("measured by `flopprint calibrate` ({} threads, {}) at unix time {}", p.device.threads, p.software.backend, p.created_unix_s),
    );
    Ok(Accelerator {
        id: "local".into(),
        name: format!("{} (calibrated)", p.device.name),
        vendor: p.device.vendor.clone(),
        kind: AcceleratorKind::Cpu,
        family: "cpu".into(),
        year: 2026,
        source: "flopprint calibrate profile".into(),
        source_year: 2026,
        memory_gib: p.device.memory_gib.unwrap_or(f64::NAN),
        memory_bandwidth_gb_s: p.device.memory_bandwidth_gb_s.unwrap_or(f64::NAN),
        // measured average while running GEMMs; NaN = not measured
        tdp_w: power.unwrap_or(f64::NAN),
        idle_w: 0.0,
        measured_max_w: None,
        peak_tflops: peak,
        mamf_bf16_tflops: None,
        mamf_fp8_tflops: None,
        embodied_kgco2e: 0.0,
        embodied_method: "not known for a calibrated local device: embodied carbon is not counted".into(),
        lifetime_years: None,
        purchase_usd: None,
        purchase_year: None,
        rental_usd_per_gpu_hour: None,
        rental_year: None,
        rental_tiers: crate::catalog::RentalTiers::default(),
        field_sources: sources,
    })
}

/// The simulator's device model for a profile: GEMM times from the
/// measured throughput (interpolated in log FLOPs between measured shapes),
/// the analytic model for memory-bound kernels and unmeasured dtypes.
#[must_use]
pub fn device_model(profile: CalibrationProfile, fallback: AnalyticDevice) -> ProfileDevice<impl Fn(Dtype, u64, u64, u64) -> Option<f64> + Sync> {
    let cast = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
    ProfileDevice { fallback, achieved_flops_per_s: move |d: Dtype, m: u64, n: u64, k: u64| profile.achieved_flops_per_s(d, cast(m), cast(n), cast(k)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_profile_becomes_an_accelerator_with_measured_peak_and_unknown_power() {
        let p = super::super::tests::sample_profile();
        let a = accelerator(&p).unwrap();
        assert_eq!(a.kind, AcceleratorKind::Cpu);
        assert!(a.peak(Dtype::Fp32).unwrap().value() >= 1.1e11);
        assert!(a.tdp_w.is_nan(), "no RAPL: power must stay unknown, not guessed");
        assert!((a.memory_gib - 16.0).abs() < 1e-9);
    }

    #[test]
    fn calibrated_device_uses_measured_throughput() {
        let p = super::super::tests::sample_profile();
        let acc = accelerator(&p).unwrap();
        let d = device_model(p.clone(), AnalyticDevice::new(&acc));
        use crate::simulator::DeviceModel;
        let r = &p.results[0];
        let t = d.gemm_time(r.m as u64, r.n as u64, r.k as u64, 1, r.dtype).value();
        assert!((t - r.seconds_median).abs() / r.seconds_median < 1e-9);
    }
}
