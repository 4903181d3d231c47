//! `flopprint calibrate`: measure the GEMM throughput this machine actually
//! achieves (per dtype and shape), with confidence intervals, kernel
//! verification and, where a meter exists, power. The resulting
//! [`CalibrationProfile`] is the device efficiency curve the estimator uses
//! through [`CalibrationProfile::achieved_flops_per_s`].
//!
//! Self-contained: this module only uses `crate::calibrate::*` and external
//! crates.

pub mod check;
pub mod cpu;
pub mod cuda;
pub mod fake;
pub mod local;
pub mod power;
pub mod stats;

pub use check::{check, transformer_step_shapes, CheckItem, CheckReport};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Version of the JSON layout of [`CalibrationProfile`].
pub const SCHEMA_VERSION: u32 = 1;

/// Where to calibrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        })
    }
}

impl FromStr for DeviceKind {
    type Err = CalibrateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" | "gpu" | "nvidia" => Ok(DeviceKind::Cuda),
            other => Err(CalibrateError::InvalidOptions(format!("unknown device `{other}` (expected `cpu` or `cuda`)"))),
        }
    }
}

pub use crate::dtype::Dtype;

/// C (m x n) = A (m x k) * B (k x n).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GemmShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

impl GemmShape {
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        GemmShape { m, n, k }
    }
    pub fn square(n: usize) -> Self {
        GemmShape { m: n, n, k: n }
    }
    /// 2*m*n*k (one multiply and one add per inner-product term).
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

impl fmt::Display for GemmShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.m, self.n, self.k)
    }
}

/// What to measure. `quick`: small sweep (CPU 256/512/1024, +2048 fp32;
/// <= ~15 s); `full`: 256..2048 on CPU, 256..8192 on GPU; neither: powers of
/// two 256..2048 (CPU) / 256..4096 (GPU). Empty `dtypes` = backend default.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrateOptions {
    pub devices: Vec<DeviceKind>,
    pub quick: bool,
    pub full: bool,
    pub dtypes: Vec<Dtype>,
    /// Exact shapes of a model's training step, supplied by the caller; measured
    /// for every selected dtype in addition to the sweep.
    pub extra_shapes: Vec<GemmShape>,
    /// Total wall-clock budget for the measurements (seconds); split evenly
    /// over the shapes still to run. Every shape still gets >= 5 repeats.
    pub time_budget_s: f64,
    /// CPU threads (default: all available).
    pub threads: Option<usize>,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Use the deterministic fake backend (tests; `--fake-backend`).
    pub fake: bool,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        CalibrateOptions {
            devices: vec![DeviceKind::Cpu],
            quick: true,
            full: false,
            dtypes: Vec::new(),
            extra_shapes: Vec::new(),
            time_budget_s: 12.0,
            threads: None,
            progress: false,
            fake: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub kind: DeviceKind,
    pub name: String,
    pub vendor: String,
    /// Worker threads used for the CPU GEMMs (GPU: 1 host thread).
    pub threads: usize,
    /// Physical cores (CPU) or streaming multiprocessors (GPU) where known.
    pub cores: Option<usize>,
    /// Theoretical fp32 peak where known (CPU: cores x clock x FLOP/cycle of
    /// the ISA the GEMM backend uses; GPU: datasheet, dense).
    pub peak_flops_per_s: Option<f64>,
    /// Per-dtype / per-ISA theoretical and measured peaks.
    #[serde(default)]
    pub peaks: Vec<PeakFlops>,
    /// Hardware catalog id (hardware/accelerators/<id>.toml), e.g. "h100-sxm5-80gb".
    pub catalog_id: Option<String>,
    /// Nominal clock where known (CPU: /proc/cpuinfo, understates boost).
    #[serde(default)]
    pub clock_mhz: Option<f64>,
    /// SIMD features / compute capability, free text.
    #[serde(default)]
    pub features: Vec<String>,
    /// Memory the device computes from (CPU: MemTotal of /proc/meminfo).
    #[serde(default)]
    pub memory_gib: Option<f64>,
    /// Measured copy bandwidth (read + write bytes / s), GB/s.
    #[serde(default)]
    pub memory_bandwidth_gb_s: Option<f64>,
}

/// Measures memory copy bandwidth: best of 3 copies of a 256 MiB buffer,
/// counting bytes read plus bytes written (STREAM "copy" convention,
/// McCalpin 1995).
#[must_use]
pub fn copy_bandwidth_gb_s() -> Option<f64> {
    let n = 64 << 20; // f32 elements = 256 MiB
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        dst.copy_from_slice(&src);
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(&mut dst);
    }
    (best > 0.0).then(|| 2.0 * (n * 4) as f64 / best / 1e9)
}

/// MemTotal of /proc/meminfo in GiB, where readable.
#[must_use]
pub fn host_memory_gib() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1_048_576.0)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakFlops {
    pub dtype: Dtype,
    /// e.g. "avx2+fma", "avx512f", "tensor-core", "datasheet".
    pub isa: String,
    pub theoretical_flops_per_s: Option<f64>,
    /// From an FMA micro-benchmark on all threads (CPU only).
    pub measured_flops_per_s: Option<f64>,
    /// Whether the GEMM backend in this build uses this ISA.
    #[serde(default)]
    pub used_by_gemm_backend: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareInfo {
    pub flopprint_version: String,
    pub backend: String,
    pub backend_version: String,
    #[serde(default)]
    pub build_profile: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerSource {
    Rapl,
    Nvml,
    Unavailable,
    /// The deterministic test backend's constant.
    Fake,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerInfo {
    pub source: PowerSource,
    /// Metered domains (e.g. "intel-rapl:0 package-0", "GPU 0").
    #[serde(default)]
    pub domains: Vec<String>,
    /// What the number covers / why unavailable.
    #[serde(default)]
    pub note: String,
}

impl PowerInfo {
    pub fn unavailable(note: impl Into<String>) -> Self {
        PowerInfo { source: PowerSource::Unavailable, domains: Vec::new(), note: note.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GemmResult {
    pub dtype: Dtype,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// 2mnk / seconds_median.
    pub flops_per_s: f64,
    pub seconds_median: f64,
    /// 95% CI of the median seconds (order-statistic method).
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// Coefficient of variation of the per-run seconds.
    pub cv: f64,
    pub repeats: usize,
    pub verified: bool,
    pub avg_power_w: Option<f64>,
    pub joules_per_flop: Option<f64>,
    /// flops_per_s / theoretical peak of this dtype, where known.
    #[serde(default)]
    pub fraction_of_peak: Option<f64>,
    /// Mean SM clock during the timed loop (NVML), MHz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_sm_clock_mhz: Option<f64>,
}

impl GemmResult {
    pub fn shape(&self) -> GemmShape {
        GemmShape { m: self.m, n: self.n, k: self.k }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationProfile {
    pub schema_version: u32,
    pub device: DeviceInfo,
    pub created_unix_s: u64,
    pub software: SoftwareInfo,
    pub results: Vec<GemmResult>,
    pub power: PowerInfo,
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl CalibrationProfile {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("CalibrationProfile serialises")
    }

    pub fn from_json(s: &str) -> Result<Self, CalibrateError> {
        #[derive(Deserialize)]
        struct Probe {
            schema_version: Option<u32>,
        }
        let probe: Probe = serde_json::from_str(s)?;
        match probe.schema_version {
            Some(SCHEMA_VERSION) => Ok(serde_json::from_str(s)?),
            found => Err(CalibrateError::SchemaVersion { found, expected: SCHEMA_VERSION }),
        }
    }

    /// Achieved throughput for a GEMM of this dtype and shape, interpolated
    /// over the measured points of the same dtype: exact shape if measured,
    /// otherwise linear in ln(FLOPs) between the two neighbouring points
    /// (points with equal FLOPs are averaged), clamped to the end points.
    /// `None` when this dtype was not measured.
    pub fn achieved_flops_per_s(&self, dtype: Dtype, m: usize, n: usize, k: usize) -> Option<f64> {
        let pts: Vec<&GemmResult> = self.results.iter().filter(|r| r.dtype == dtype && r.flops_per_s.is_finite() && r.flops_per_s > 0.0).collect();
        if pts.is_empty() {
            return None;
        }
        if let Some(r) = pts.iter().find(|r| r.m == m && r.n == n && r.k == k) {
            return Some(r.flops_per_s);
        }
        // (ln flops, flops_per_s), merged by equal x.
        let mut xy: Vec<(f64, f64)> = pts.iter().map(|r| (r.shape().flops().ln(), r.flops_per_s)).collect();
        xy.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        let mut merged: Vec<(f64, f64, usize)> = Vec::new();
        for (x, y) in xy {
            match merged.last_mut() {
                Some(last) if (last.0 - x).abs() < 1e-9 => {
                    last.1 += y;
                    last.2 += 1;
                }
                _ => merged.push((x, y, 1)),
            }
        }
        let merged: Vec<(f64, f64)> = merged.into_iter().map(|(x, s, c)| (x, s / c as f64)).collect();
        let x = GemmShape::new(m, n, k).flops().max(1.0).ln();
        let first = merged[0];
        let last = merged[merged.len() - 1];
        if x <= first.0 {
            return Some(first.1);
        }
        if x >= last.0 {
            return Some(last.1);
        }
        for w in merged.windows(2) {
            let (x0, y0) = w[0];
            let (x1, y1) = w[1];
            if x >= x0 && x <= x1 {
                let t = (x - x0) / (x1 - x0);
                return Some(y0 + t * (y1 - y0));
            }
        }
        Some(last.1)
    }

    /// Predicted seconds for one GEMM, from [`Self::achieved_flops_per_s`].
    pub fn predict_seconds(&self, dtype: Dtype, shape: GemmShape) -> Option<f64> {
        self.achieved_flops_per_s(dtype, shape.m, shape.n, shape.k).map(|f| shape.flops() / f)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error("no NVIDIA driver found (libcuda.so not loadable): install the NVIDIA driver or run `flopprint calibrate --device cpu`")]
    NoCudaDriver,
    #[error("cuBLAS not found (libcublas.so not loadable): install the CUDA toolkit (cuBLAS) or run `flopprint calibrate --device cpu`")]
    NoCublas,
    #[error("built without the `cuda` feature: rebuild with `cargo build --features cuda`")]
    CudaFeatureDisabled,
    #[error("CUDA error: {0}")]
    Cuda(String),
    #[error("NVML error: {0}")]
    Nvml(String),
    #[error("kernel result wrong: max rel err {max_rel_err:.3e} > tol {tol:.3e} for {dtype} {m}x{n}x{k}")]
    VerificationFailed { dtype: Dtype, m: usize, n: usize, k: usize, max_rel_err: f64, tol: f64 },
    #[error("{dtype} is not supported on {device}: {reason}")]
    UnsupportedDtype { dtype: Dtype, device: DeviceKind, reason: String },
    #[error("invalid calibration options: {0}")]
    InvalidOptions(String),
    #[error("invalid calibration profile JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported calibration profile schema_version {found:?} (this flopprint reads version {expected}): re-run `flopprint calibrate`")]
    SchemaVersion { found: Option<u32>, expected: u32 },
    #[error("calibration profile has no measurement for {dtype} (measured: {measured}): re-run `flopprint calibrate --dtype {dtype}`")]
    NoMeasurement { dtype: Dtype, measured: String },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A GEMM backend: times a work list of (dtype, shape) on one device.
pub(crate) trait Backend {
    fn run(&self, opts: &CalibrateOptions, work: &[(Dtype, GemmShape)]) -> Result<BackendRun, CalibrateError>;
}

struct CpuBackend;
struct CudaBackend;
struct FakeBackend;

impl Backend for CpuBackend {
    fn run(&self, opts: &CalibrateOptions, work: &[(Dtype, GemmShape)]) -> Result<BackendRun, CalibrateError> {
        cpu::run(opts, work)
    }
}
impl Backend for CudaBackend {
    fn run(&self, opts: &CalibrateOptions, work: &[(Dtype, GemmShape)]) -> Result<BackendRun, CalibrateError> {
        cuda::run(opts, work)
    }
}
impl Backend for FakeBackend {
    fn run(&self, opts: &CalibrateOptions, work: &[(Dtype, GemmShape)]) -> Result<BackendRun, CalibrateError> {
        Ok(fake::run(opts, work))
    }
}

/// The backend for a device (the fake one when asked, for tests).
fn backend(kind: DeviceKind, fake: bool) -> &'static dyn Backend {
    match (kind, fake) {
        (_, true) => &FakeBackend,
        (DeviceKind::Cpu, false) => &CpuBackend,
        (DeviceKind::Cuda, false) => &CudaBackend,
    }
}

/// What one backend hands back; [`run`] adds the common fields.
pub(crate) struct BackendRun {
    pub device: DeviceInfo,
    pub power: PowerInfo,
    pub backend: String,
    pub backend_version: String,
    pub results: Vec<GemmResult>,
    pub warnings: Vec<String>,
}

/// Dtypes and shapes to measure on `kind` for these options.
pub fn plan(opts: &CalibrateOptions, kind: DeviceKind) -> Vec<(Dtype, GemmShape)> {
    let dtypes: Vec<Dtype> = if opts.dtypes.is_empty() {
        match kind {
            DeviceKind::Cpu => vec![Dtype::Fp64, Dtype::Fp32, Dtype::Fp16],
            DeviceKind::Cuda => vec![Dtype::Fp32, Dtype::Tf32, Dtype::Fp16, Dtype::Bf16],
        }
    } else {
        let mut d = opts.dtypes.clone();
        d.dedup();
        d
    };
    let sizes: Vec<usize> = match (kind, opts.full, opts.quick) {
        (DeviceKind::Cpu, true, _) => vec![256, 384, 512, 768, 1024, 1536, 2048],
        (DeviceKind::Cuda, true, _) => vec![256, 512, 1024, 2048, 3072, 4096, 6144, 8192],
        (DeviceKind::Cpu, false, true) => vec![256, 512, 1024],
        (DeviceKind::Cuda, false, true) => vec![256, 1024, 4096],
        (DeviceKind::Cpu, false, false) => vec![256, 512, 1024, 2048],
        (DeviceKind::Cuda, false, false) => vec![256, 512, 1024, 2048, 4096],
    };
    let mut out = Vec::new();
    for &d in &dtypes {
        for &s in &sizes {
            out.push((d, GemmShape::square(s)));
        }
        if kind == DeviceKind::Cpu && opts.quick && !opts.full && d == Dtype::Fp32 {
            out.push((d, GemmShape::square(2048)));
        }
        for &s in &opts.extra_shapes {
            if !out.contains(&(d, s)) {
                out.push((d, s));
            }
        }
    }
    out
}

/// Calibrate one device (`opts.devices` must name at most one; empty = CPU).
/// Use [`run_all`] for several.
pub fn run(opts: &CalibrateOptions) -> Result<CalibrationProfile, CalibrateError> {
    let kind = match opts.devices.as_slice() {
        [] => DeviceKind::Cpu,
        [k] => *k,
        more => return Err(CalibrateError::InvalidOptions(format!("run() calibrates one device, got {more:?}: use run_all()"))),
    };
    // also rejects NaN
    if opts.time_budget_s.is_nan() || opts.time_budget_s <= 0.0 {
        return Err(CalibrateError::InvalidOptions(format!("time_budget_s must be > 0, got {}", opts.time_budget_s)));
    }
    if opts.threads == Some(0) {
        return Err(CalibrateError::InvalidOptions("threads must be >= 1".into()));
    }
    for s in &opts.extra_shapes {
        if s.m == 0 || s.n == 0 || s.k == 0 {
            return Err(CalibrateError::InvalidOptions(format!("empty GEMM shape {s}")));
        }
    }
    let work = plan(opts, kind);
    let backend = backend(kind, opts.fake).run(opts, &work)?;
    let created_unix_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(CalibrationProfile {
        schema_version: SCHEMA_VERSION,
        device: backend.device,
        created_unix_s,
        software: SoftwareInfo {
            flopprint_version: env!("CARGO_PKG_VERSION").to_string(),
            backend: backend.backend,
            backend_version: backend.backend_version,
            build_profile: if cfg!(debug_assertions) { "debug".into() } else { "release".into() },
        },
        results: backend.results,
        power: backend.power,
        warnings: backend.warnings,
    })
}

/// Calibrate every device in `opts.devices`, in order; stops at the first error.
pub fn run_all(opts: &CalibrateOptions) -> Result<CalibrationRun, CalibrateError> {
    let devices = if opts.devices.is_empty() { vec![DeviceKind::Cpu] } else { opts.devices.clone() };
    let several = devices.len() > 1;
    let mut out = CalibrationRun::default();
    for d in devices {
        match run(&CalibrateOptions { devices: vec![d], ..opts.clone() }) {
            Ok(p) => out.profiles.push(p),
            // asked for every device: a machine without a GPU still calibrates its CPU
            Err(e @ (CalibrateError::NoCudaDriver | CalibrateError::NoCublas | CalibrateError::CudaFeatureDisabled)) if several && d == DeviceKind::Cuda => {
                out.skipped.push((d, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The profiles of [`run_all`], and the devices skipped because they are
/// not present (with the reason).
#[derive(Debug, Default)]
pub struct CalibrationRun {
    pub profiles: Vec<CalibrationProfile>,
    pub skipped: Vec<(DeviceKind, String)>,
}

/// The distinct single GEMM shapes (m, n, k) of a model's training step
/// under tensor parallelism `tp` (batched attention GEMMs left out: the
/// profile times single GEMMs).
///
/// # Errors
/// A plan the model cannot run (e.g. `tp` not dividing its heads).
pub fn model_shapes(spec: &crate::catalog::ModelSpec, tp: u64, seq_len: u64, micro_batch: u64) -> Result<Vec<GemmShape>, CalibrateError> {
    let plan = crate::parallel::Plan {
        tp,
        cp: 1,
        pp: 1,
        dp: 1,
        interleave: 1,
        sp: tp > 1,
        ep: 1,
        zero: 0,
        recompute: crate::flops::Recompute::None,
        micro_batch,
        global_batch: micro_batch,
        dtype: Dtype::Fp32,
    };
    plan.validate(spec).map_err(|e| CalibrateError::InvalidOptions(format!("--model {}: {e}", spec.id)))?;
    let w = crate::workload::build(spec, &plan, seq_len).map_err(|e| CalibrateError::InvalidOptions(format!("--model {}: {e}", spec.id)))?;
    let mut shapes: Vec<GemmShape> = Vec::new();
    for op in w.all_ops() {
        if let crate::workload::Op::Gemm { m, n, k, batch: 1, .. } = *op {
            let conv = |x: u64| usize::try_from(x).map_err(|_| CalibrateError::InvalidOptions(format!("--model {}: GEMM dimension {x} too large", spec.id)));
            let sh = GemmShape::new(conv(m)?, conv(n)?, conv(k)?);
            if !shapes.contains(&sh) {
                shapes.push(sh);
            }
        }
    }
    Ok(shapes)
}

/// Small deterministic PRNG (xorshift64*), so that runs are reproducible and
/// no extra crate is needed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A progress bar over `total` kernels on stderr (indicatif hides it when
/// stderr is not a terminal, so scripts and tests see only the lines
/// printed through it).
pub(crate) fn progress_bar(show: bool, total: usize, device: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!("[calibrate {device}] {{bar:30}} {{pos}}/{{len}} {{msg}} ({{elapsed}})")) {
        bar.set_style(style);
    }
    bar
}

/// A log line above the bar, or on plain stderr when the bar is hidden.
pub(crate) fn progress_line(bar: &indicatif::ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// Round f32 to bf16 (round to nearest even); returns the bit pattern.
/// Used by the CUDA backend's bf16 GEMMs.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) fn f32_to_bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) as u16) | 0x40;
    }
    let rounding = ((bits >> 16) & 1) + 0x7FFF;
    ((bits.wrapping_add(rounding)) >> 16) as u16
}

#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) fn bf16_bits_to_f32(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(dtype: Dtype, n: usize, fps: f64) -> GemmResult {
        let s = GemmShape::square(n);
        GemmResult {
            dtype,
            m: n,
            n,
            k: n,
            flops_per_s: fps,
            seconds_median: s.flops() / fps,
            ci95_low: s.flops() / fps * 0.99,
            ci95_high: s.flops() / fps * 1.01,
            cv: 0.01,
            repeats: 7,
            verified: true,
            avg_power_w: None,
            joules_per_flop: None,
            fraction_of_peak: Some(0.5),
            avg_sm_clock_mhz: None,
        }
    }

    pub(crate) fn sample_profile() -> CalibrationProfile {
        CalibrationProfile {
            schema_version: SCHEMA_VERSION,
            device: DeviceInfo {
                kind: DeviceKind::Cpu,
                name: "Test CPU".into(),
                vendor: "Test".into(),
                threads: 2,
                cores: Some(2),
                peak_flops_per_s: Some(1e11),
                peaks: vec![PeakFlops {
                    dtype: Dtype::Fp32,
                    isa: "avx2+fma".into(),
                    theoretical_flops_per_s: Some(1e11),
                    measured_flops_per_s: Some(1.1e11),
                    used_by_gemm_backend: true,
                }],
                catalog_id: None,
                clock_mhz: Some(2300.0),
                features: vec!["avx2".into()],
                memory_gib: Some(16.0),
                memory_bandwidth_gb_s: Some(20.0),
            },
            created_unix_s: 1_700_000_000,
            software: SoftwareInfo { flopprint_version: "0.1.0".into(), backend: "gemm".into(), backend_version: "0.19".into(), build_profile: "debug".into() },
            results: vec![result(Dtype::Fp32, 256, 20e9), result(Dtype::Fp32, 512, 40e9), result(Dtype::Fp32, 1024, 60e9), result(Dtype::Fp64, 512, 20e9)],
            power: PowerInfo::unavailable("test"),
            warnings: vec!["noisy".into()],
        }
    }

    #[test]
    fn json_round_trip() {
        let p = sample_profile();
        let j = p.to_json();
        assert!(j.contains("\"fp32\""));
        assert!(j.contains("\"schema_version\": 1"));
        assert!(j.contains("\"unavailable\""));
        let q = CalibrationProfile::from_json(&j).unwrap();
        // serde_json (without `float_roundtrip`) may be off by 1 ulp on parse
        fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
            use serde_json::Value as V;
            match (a, b) {
                (V::Number(x), V::Number(y)) => {
                    let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                    (x - y).abs() <= 1e-14 * x.abs().max(y.abs())
                }
                (V::Array(x), V::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b)),
                (V::Object(x), V::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w))),
                _ => a == b,
            }
        }
        let (a, b) = (serde_json::to_value(&p).unwrap(), serde_json::to_value(&q).unwrap());
        assert!(close(&a, &b), "{a}\n{b}");
        assert_eq!(p.results.len(), q.results.len());
        assert_eq!(p.device.kind, q.device.kind);
        assert_eq!(p.power.source, q.power.source);
    }

    #[test]
    fn json_wrong_version_is_error() {
        let j = sample_profile().to_json().replace("\"schema_version\": 1", "\"schema_version\": 99");
        let e = CalibrationProfile::from_json(&j).unwrap_err();
        assert!(matches!(e, CalibrateError::SchemaVersion { found: Some(99), .. }), "{e}");
        assert!(CalibrationProfile::from_json("{").is_err());
    }

    #[test]
    fn interpolation() {
        let p = sample_profile();
        // exact
        assert_eq!(p.achieved_flops_per_s(Dtype::Fp32, 512, 512, 512), Some(40e9));
        // clamp
        assert_eq!(p.achieved_flops_per_s(Dtype::Fp32, 16, 16, 16), Some(20e9));
        assert_eq!(p.achieved_flops_per_s(Dtype::Fp32, 8192, 8192, 8192), Some(60e9));
        // midpoint in ln(flops) between 256^3 and 512^3: geometric mean of flops
        let mid = (256f64 * 512.0).sqrt().round() as usize; // ~362
        let f = p.achieved_flops_per_s(Dtype::Fp32, mid, mid, mid).unwrap();
        assert!((f - 30e9).abs() < 0.2e9, "{f}");
        // non-square shape with the flops of 512^3 -> the 512 point
        let f = p.achieved_flops_per_s(Dtype::Fp32, 2048, 128, 512).unwrap();
        assert!((f - 40e9).abs() < 1.0, "{f}");
        // monotone between points
        let a = p.achieved_flops_per_s(Dtype::Fp32, 600, 600, 600).unwrap();
        let b = p.achieved_flops_per_s(Dtype::Fp32, 900, 900, 900).unwrap();
        assert!(40e9 < a && a < b && b < 60e9);
        // single point dtype, unknown dtype
        assert_eq!(p.achieved_flops_per_s(Dtype::Fp64, 100, 100, 100), Some(20e9));
        assert_eq!(p.achieved_flops_per_s(Dtype::Bf16, 100, 100, 100), None);
    }

    #[test]
    fn dtype_names() {
        for d in Dtype::ALL {
            assert_eq!(d.as_str().parse::<Dtype>().unwrap(), d);
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{}\"", d.as_str()));
        }
        assert!("int4".parse::<Dtype>().is_err());
        assert_eq!(serde_json::to_string(&DeviceKind::Cuda).unwrap(), "\"cuda\"");
    }

    #[test]
    fn plan_quick_cpu() {
        let opts = CalibrateOptions::default();
        let p = plan(&opts, DeviceKind::Cpu);
        assert_eq!(p.len(), 3 * 3 + 1);
        assert!(p.contains(&(Dtype::Fp32, GemmShape::square(2048))));
        assert!(!p.contains(&(Dtype::Fp64, GemmShape::square(2048))));
        let opts = CalibrateOptions { extra_shapes: vec![GemmShape::new(2048, 1536, 512)], dtypes: vec![Dtype::Fp32], ..Default::default() };
        let p = plan(&opts, DeviceKind::Cpu);
        assert!(p.contains(&(Dtype::Fp32, GemmShape::new(2048, 1536, 512))));
    }

    #[test]
    fn bf16_rounding() {
        assert_eq!(bf16_bits_to_f32(f32_to_bf16_bits(1.0)), 1.0);
        let x = 1.0 + 2f32.powi(-9); // below half ulp (ulp at 1.0 is 2^-7) -> rounds down
        assert_eq!(bf16_bits_to_f32(f32_to_bf16_bits(x)), 1.0);
        let y = 1.0 + 3.0 * 2f32.powi(-9); // above half ulp -> rounds up
        assert_eq!(bf16_bits_to_f32(f32_to_bf16_bits(y)), 1.0 + 2f32.powi(-7));
    }

    #[test]
    fn multiple_devices_need_run_all() {
        let opts = CalibrateOptions { devices: vec![DeviceKind::Cpu, DeviceKind::Cuda], ..Default::default() };
        assert!(matches!(run(&opts), Err(CalibrateError::InvalidOptions(_))));
    }
}
