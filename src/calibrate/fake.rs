//! A deterministic GEMM backend for tests (hyperfine's mock-executor idea):
//! no kernel runs; each shape "takes" `2mnk / (peak x efficiency(m,n,k))`
//! with a fixed shape-efficiency curve, and draws a fixed power. It lets
//! the calibrate CLI and the estimate that reads its profile be tested to
//! exact figures. Reachable only through the hidden `--fake-backend` flag;
//! its profiles say `backend = "fake"` and carry a warning.

use super::{BackendRun, CalibrateOptions, DeviceInfo, DeviceKind, Dtype, GemmResult, GemmShape, PeakFlops, PowerInfo, PowerSource};

/// Peak of the fake device, FLOP/s (any dtype).
pub const FAKE_PEAK_FLOPS_PER_S: f64 = 1e12;
/// Power the fake device draws under load, W.
pub const FAKE_POWER_W: f64 = 100.0;

/// The fake device's efficiency on an `m x n x k` GEMM: a saturating curve
/// in the smallest dimension, `d / (d + 256)`.
#[must_use]
pub fn efficiency(s: GemmShape) -> f64 {
    let d = s.m.min(s.n).min(s.k) as f64;
    d / (d + 256.0)
}

pub(crate) fn run(_opts: &CalibrateOptions, work: &[(Dtype, GemmShape)]) -> BackendRun {
    let results = work
        .iter()
        .map(|&(dtype, shape)| {
            let flops = 2.0 * shape.m as f64 * shape.n as f64 * shape.k as f64;
            let rate = FAKE_PEAK_FLOPS_PER_S * efficiency(shape);
            let t = flops / rate;
            GemmResult {
                dtype,
                m: shape.m,
                n: shape.n,
                k: shape.k,
                flops_per_s: flops / t,
                seconds_median: t,
                ci95_low: t * 0.99,
                ci95_high: t * 1.01,
                cv: 0.01,
                repeats: 10,
                verified: true,
                avg_power_w: Some(FAKE_POWER_W),
                joules_per_flop: Some(FAKE_POWER_W / rate),
                fraction_of_peak: Some(efficiency(shape)),
                avg_sm_clock_mhz: None,
            }
        })
        .collect();
    let dtypes: Vec<Dtype> = {
        let mut v: Vec<Dtype> = work.iter().map(|w| w.0).collect();
        v.sort();
        v.dedup();
        v
    };
    BackendRun {
        device: DeviceInfo {
            kind: DeviceKind::Cpu,
            name: "fake device (deterministic, for tests)".into(),
            vendor: "flopprint".into(),
            threads: 1,
            cores: Some(1),
            peak_flops_per_s: Some(FAKE_PEAK_FLOPS_PER_S),
            peaks: dtypes
                .into_iter()
                .map(|dtype| PeakFlops {
                    dtype,
                    isa: "fake".into(),
                    theoretical_flops_per_s: Some(FAKE_PEAK_FLOPS_PER_S),
                    measured_flops_per_s: None,
                    used_by_gemm_backend: true,
                })
                .collect(),
            catalog_id: None,
            clock_mhz: None,
            features: Vec::new(),
            memory_gib: Some(64.0),
            memory_bandwidth_gb_s: Some(100.0),
        },
        power: PowerInfo { source: PowerSource::Fake, domains: vec!["fake".into()], note: format!("fake backend: a constant {FAKE_POWER_W} W") },
        backend: "fake".into(),
        backend_version: env!("CARGO_PKG_VERSION").into(),
        results,
        warnings: vec!["fake backend: deterministic timings for tests; nothing was measured".into()],
    }
}
