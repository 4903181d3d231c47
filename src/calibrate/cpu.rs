//! CPU backend: `gemm` 0.19 (fp64, fp32, fp16 — fp16 is packed to f32 and
//! computed in f32 by gemm-f16), verified with Freivalds' test plus sampled
//! elements against an f64 reference, timed with [`stats::measure`], compared
//! with the theoretical peak (cores x clock x FLOP/cycle) and with a measured
//! FMA peak (micro-benchmark on all threads).

use crate::calibrate::power;
use crate::calibrate::stats::{self, MeasureConfig};
use crate::calibrate::{BackendRun, CalibrateError, CalibrateOptions, DeviceInfo, DeviceKind, Dtype, GemmResult, GemmShape, PeakFlops, Rng};
use std::time::Instant;

pub const BACKEND: &str = "gemm";
pub const BACKEND_VERSION: &str = "0.19";

/// FP32 FMA pipes per core assumed for the theoretical peak (2 on Intel
/// Skylake-SP and later server parts, AMD Zen 2+). Documented in the profile.
pub const FMA_UNITS_PER_CORE: f64 = 2.0;

// ---------------------------------------------------------------- elements

/// Element types the gemm crate handles.
pub trait Elem: Copy + Send + Sync + 'static {
    const DTYPE: Dtype;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn zero() -> Self;
    fn one() -> Self;
}

impl Elem for f64 {
    const DTYPE: Dtype = Dtype::Fp64;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
}

impl Elem for f32 {
    const DTYPE: Dtype = Dtype::Fp32;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
}

impl Elem for gemm::f16 {
    const DTYPE: Dtype = Dtype::Fp16;
    fn from_f64(x: f64) -> Self {
        gemm::f16::from_f64(x)
    }
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn zero() -> Self {
        gemm::f16::from_f32(0.0)
    }
    fn one() -> Self {
        gemm::f16::from_f32(1.0)
    }
}

/// Column-major buffers for C = A * B.
pub struct GemmBufs<T> {
    pub shape: GemmShape,
    pub a: Vec<T>,
    pub b: Vec<T>,
    pub c: Vec<T>,
}

impl<T: Elem> GemmBufs<T> {
    /// A, B uniform in [0, 1) (rounded to T), C zero.
    pub fn random(shape: GemmShape, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let a = (0..shape.m * shape.k).map(|_| T::from_f64(rng.uniform())).collect();
        let b = (0..shape.k * shape.n).map(|_| T::from_f64(rng.uniform())).collect();
        GemmBufs { shape, a, b, c: vec![T::zero(); shape.m * shape.n] }
    }

    /// C = A * B with `threads` rayon workers (call inside the pool).
    pub fn run(&mut self, threads: usize) {
        let GemmShape { m, n, k } = self.shape;
        gemm_colmajor(m, n, k, &self.a, &self.b, &mut self.c, threads);
    }
}

/// C (m x n) = A (m x k) * B (k x n), all column-major and contiguous.
pub fn gemm_colmajor<T: Elem>(m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T], threads: usize) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let par = if threads <= 1 { gemm::Parallelism::None } else { gemm::Parallelism::Rayon(threads) };
    // SAFETY: sizes checked above; strides describe contiguous column-major
    // matrices (row stride 1, column stride = rows). gemm computes
    // dst = alpha*dst + beta*lhs*rhs; read_dst=false ignores alpha.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            m as isize,
            1,
            false,
            a.as_ptr(),
            m as isize,
            1,
            b.as_ptr(),
            k as isize,
            1,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
}

// ------------------------------------------------------------ verification

/// Freivalds' test in f64: compare C·x with A·(B·x) for a random x >= 0.
/// Returns the max over rows of |C·x - A·(B·x)| / (|A|·(|B|·|x|)).
/// Accessors take (row, col) of column-major matrices.
pub fn freivalds(shape: GemmShape, a: &dyn Fn(usize, usize) -> f64, b: &dyn Fn(usize, usize) -> f64, c: &dyn Fn(usize, usize) -> f64, rng: &mut Rng) -> f64 {
    let GemmShape { m, n, k } = shape;
    let x: Vec<f64> = (0..n).map(|_| 0.5 + rng.uniform()).collect();
    let mut bx = vec![0.0; k];
    let mut bx_abs = vec![0.0; k];
    for j in 0..n {
        for l in 0..k {
            let v = b(l, j);
            bx[l] += v * x[j];
            bx_abs[l] += v.abs() * x[j];
        }
    }
    let mut abx = vec![0.0; m];
    let mut abx_abs = vec![0.0; m];
    for l in 0..k {
        for i in 0..m {
            let v = a(i, l);
            abx[i] += v * bx[l];
            abx_abs[i] += v.abs() * bx_abs[l];
        }
    }
    let mut cx = vec![0.0; m];
    for j in 0..n {
        for i in 0..m {
            cx[i] += c(i, j) * x[j];
        }
    }
    (0..m)
        .map(|i| {
            let d = (cx[i] - abx[i]).abs();
            if !d.is_finite() {
                f64::INFINITY
            } else if abx_abs[i] > 0.0 {
                d / abx_abs[i]
            } else {
                d
            }
        })
        .fold(0.0, f64::max)
}

/// Max relative error of `samples` random elements of C (columns < `cols`)
/// against f64 dot products, normalised by sum |a||b|.
pub fn sampled_elements(
    shape: GemmShape,
    a: &dyn Fn(usize, usize) -> f64,
    b: &dyn Fn(usize, usize) -> f64,
    c: &dyn Fn(usize, usize) -> f64,
    cols: usize,
    samples: usize,
    rng: &mut Rng,
) -> f64 {
    let GemmShape { m, n, k } = shape;
    let cols = cols.min(n).max(1);
    let mut worst: f64 = 0.0;
    for s in 0..samples {
        // always include the corners, then random elements
        let (i, j) = match s {
            0 => (0, 0),
            1 => (m - 1, cols - 1),
            _ => (rng.below(m), rng.below(cols)),
        };
        let (mut dot, mut abs) = (0.0, 0.0);
        for l in 0..k {
            let p = a(i, l) * b(l, j);
            dot += p;
            abs += p.abs();
        }
        let d = (c(i, j) - dot).abs();
        let e = if !d.is_finite() {
            f64::INFINITY
        } else if abs > 0.0 {
            d / abs
        } else {
            d
        };
        worst = worst.max(e);
    }
    worst
}

pub(crate) fn check_tolerance(dtype: Dtype, shape: GemmShape, err: f64) -> Result<(), CalibrateError> {
    let tol = dtype.tolerance(shape.k);
    if err <= tol {
        Ok(())
    } else {
        Err(CalibrateError::VerificationFailed { dtype, m: shape.m, n: shape.n, k: shape.k, max_rel_err: err, tol })
    }
}

/// Freivalds + 32 sampled elements; Err if either exceeds the dtype tolerance.
pub fn verify<T: Elem>(bufs: &GemmBufs<T>, seed: u64) -> Result<f64, CalibrateError> {
    let m = bufs.shape.m;
    let k = bufs.shape.k;
    let a = |i: usize, l: usize| bufs.a[i + l * m].to_f64();
    let b = |l: usize, j: usize| bufs.b[l + j * k].to_f64();
    let c = |i: usize, j: usize| bufs.c[i + j * m].to_f64();
    let mut rng = Rng::new(seed);
    let e1 = freivalds(bufs.shape, &a, &b, &c, &mut rng);
    let e2 = sampled_elements(bufs.shape, &a, &b, &c, bufs.shape.n, 32, &mut rng);
    let err = e1.max(e2);
    check_tolerance(T::DTYPE, bufs.shape, err)?;
    Ok(err)
}

// ------------------------------------------------------------ CPU identity

#[derive(Debug, Clone, Default)]
pub struct CpuIdentity {
    pub name: String,
    pub vendor: String,
    pub logical: usize,
    pub physical_cores: Option<usize>,
    pub clock_mhz: Option<f64>,
    pub features: Vec<String>,
}

pub fn cpu_identity() -> CpuIdentity {
    let logical = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut id = CpuIdentity { logical, ..Default::default() };
    if let Ok(text) = std::fs::read_to_string("/proc/cpuinfo") {
        let mut pairs = std::collections::BTreeSet::new();
        let (mut phys, mut core) = (None::<String>, None::<String>);
        let mut cpu_cores = None;
        for line in text.lines() {
            let Some((key, val)) = line.split_once(':') else {
                continue;
            };
            let (key, val) = (key.trim(), val.trim());
            match key {
                "model name" if id.name.is_empty() => id.name = val.to_string(),
                "vendor_id" if id.vendor.is_empty() => id.vendor = val.to_string(),
                "cpu MHz" if id.clock_mhz.is_none() => id.clock_mhz = val.parse().ok(),
                "cpu cores" if cpu_cores.is_none() => cpu_cores = val.parse::<usize>().ok(),
                "physical id" => phys = Some(val.to_string()),
                "core id" => core = Some(val.to_string()),
                _ => {}
            }
            if let (Some(p), Some(c)) = (&phys, &core) {
                pairs.insert((p.clone(), c.clone()));
                phys = None;
                core = None;
            }
        }
        id.physical_cores = if pairs.is_empty() { cpu_cores } else { Some(pairs.len()) };
    }
    if id.name.is_empty() {
        id.name = std::env::consts::ARCH.to_string();
    }
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        for (f, on) in [
            ("avx2", is_x86_feature_detected!("avx2")),
            ("fma", is_x86_feature_detected!("fma")),
            ("avx512f", is_x86_feature_detected!("avx512f")),
            ("f16c", is_x86_feature_detected!("f16c")),
        ] {
            if on {
                id.features.push(f.to_string());
            }
        }
    }
    id
}

// ------------------------------------------------------ FMA micro-benchmark

#[cfg(target_arch = "x86_64")]
mod fma {
    use std::arch::x86_64::{
        _mm256_add_pd, _mm256_add_ps, _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_set1_pd, _mm256_set1_ps, _mm256_setzero_pd, _mm256_setzero_ps, _mm256_storeu_pd,
        _mm256_storeu_ps, _mm512_add_ps, _mm512_fmadd_ps, _mm512_reduce_add_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };

    pub const ACC: usize = 12;

    /// `iters` x ACC independent FMA chains of f32x8.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn f32_avx2(iters: u64) -> f32 {
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_set1_ps(0.0); ACC];
        for _ in 0..iters {
            for v in &mut acc {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let mut s = _mm256_setzero_ps();
        for v in acc {
            s = _mm256_add_ps(s, v);
        }
        let mut out = [0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), s);
        out.iter().sum()
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn f64_avx2(iters: u64) -> f64 {
        let a = _mm256_set1_pd(0.999_999);
        let b = _mm256_set1_pd(1e-7);
        let mut acc = [_mm256_set1_pd(0.0); ACC];
        for _ in 0..iters {
            for v in &mut acc {
                *v = _mm256_fmadd_pd(*v, a, b);
            }
        }
        let mut s = _mm256_setzero_pd();
        for v in acc {
            s = _mm256_add_pd(s, v);
        }
        let mut out = [0f64; 4];
        _mm256_storeu_pd(out.as_mut_ptr(), s);
        out.iter().sum()
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn f32_avx512(iters: u64) -> f32 {
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_set1_ps(0.0); ACC];
        for _ in 0..iters {
            for v in &mut acc {
                *v = _mm512_fmadd_ps(*v, a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for v in acc {
            s = _mm512_add_ps(s, v);
        }
        _mm512_reduce_add_ps(s)
    }
}

/// Best-of-3 FLOP/s of `kernel(iters)` run on `threads` threads at once;
/// each call does iters*ACC FMAs of `lanes` lanes.
#[cfg(target_arch = "x86_64")]
fn fma_flops(threads: usize, lanes: usize, target_s: f64, kernel: fn(u64) -> f64) -> f64 {
    // size the loop: time 2^20 iterations on one thread
    let probe = 1u64 << 20;
    let t = Instant::now();
    std::hint::black_box(kernel(std::hint::black_box(probe)));
    let per_iter = t.elapsed().as_secs_f64() / probe as f64;
    let iters = ((target_s / per_iter.max(1e-12)) as u64).clamp(1 << 16, 1 << 32);
    let mut best: f64 = 0.0;
    for _ in 0..3 {
        let barrier = std::sync::Barrier::new(threads + 1);
        let secs = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        let t = Instant::now();
                        std::hint::black_box(kernel(std::hint::black_box(iters)));
                        t.elapsed().as_secs_f64()
                    })
                })
                .collect();
            barrier.wait();
            hs.into_iter().map(|h| h.join().unwrap()).fold(0.0, f64::max)
        });
        let flops = threads as f64 * iters as f64 * fma::ACC as f64 * lanes as f64 * 2.0;
        best = best.max(flops / secs);
    }
    best
}

/// Theoretical and measured peaks for `threads` threads (at most one per core).
pub fn peaks(id: &CpuIdentity, threads: usize, micro_bench: bool) -> Vec<PeakFlops> {
    let cores_used = id.physical_cores.unwrap_or(id.logical).min(threads).max(1) as f64;
    let theo = |lanes_f32: f64| id.clock_mhz.map(|mhz| cores_used * mhz * 1e6 * FMA_UNITS_PER_CORE * lanes_f32 * 2.0);
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        let avx512 = is_x86_feature_detected!("avx512f");
        let bench = |lanes: usize, k: fn(u64) -> f64| if micro_bench { Some(fma_flops(threads, lanes, 0.04, k)) } else { None };
        if avx2 {
            out.push(PeakFlops {
                dtype: Dtype::Fp32,
                isa: "avx2+fma".into(),
                theoretical_flops_per_s: theo(8.0),
                measured_flops_per_s: bench(8, |i| unsafe { f64::from(fma::f32_avx2(i)) }),
                used_by_gemm_backend: !avx512,
            });
            out.push(PeakFlops {
                dtype: Dtype::Fp64,
                isa: "avx2+fma".into(),
                theoretical_flops_per_s: theo(4.0),
                measured_flops_per_s: bench(4, |i| unsafe { fma::f64_avx2(i) }),
                used_by_gemm_backend: !avx512,
            });
            out.push(PeakFlops {
                dtype: Dtype::Fp16,
                isa: "avx2+fma (fp16 packed to fp32)".into(),
                theoretical_flops_per_s: theo(8.0),
                measured_flops_per_s: None,
                used_by_gemm_backend: true,
            });
        }
        if avx512 {
            out.push(PeakFlops {
                dtype: Dtype::Fp32,
                isa: "avx512f".into(),
                theoretical_flops_per_s: theo(16.0),
                measured_flops_per_s: bench(16, |i| unsafe { f64::from(fma::f32_avx512(i)) }),
                // flopprint builds gemm 0.19 with its `x86-v4` feature: AVX-512
                // kernels, chosen at run time where the CPU has them
                used_by_gemm_backend: true,
            });
            out.push(PeakFlops {
                dtype: Dtype::Fp64,
                isa: "avx512f".into(),
                theoretical_flops_per_s: theo(8.0),
                measured_flops_per_s: None,
                used_by_gemm_backend: true,
            });
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (theo, micro_bench);
    }
    out
}

fn peak_for(peaks: &[PeakFlops], dtype: Dtype) -> Option<f64> {
    peaks
        .iter()
        .filter(|p| p.dtype == dtype && p.used_by_gemm_backend)
        .filter_map(|p| p.theoretical_flops_per_s)
        .fold(None, |acc: Option<f64>, x| Some(acc.map_or(x, |a| a.max(x))))
}

// ----------------------------------------------------------------- backend

pub(crate) fn pool(threads: usize) -> Result<rayon::ThreadPool, CalibrateError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("calib-gemm-{i}"))
        .build()
        .map_err(|e| CalibrateError::InvalidOptions(format!("cannot start {threads} threads: {e}")))
}

pub fn supports(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::Fp64 | Dtype::Fp32 | Dtype::Fp16)
}

struct Ctx<'a> {
    threads: usize,
    rapl: Option<&'a power::Rapl>,
}

fn bench_one<T: Elem>(ctx: &Ctx<'_>, shape: GemmShape, budget_s: f64, seed: u64, warnings: &mut Vec<String>) -> Result<GemmResult, CalibrateError> {
    let mut bufs = GemmBufs::<T>::random(shape, seed);
    bufs.run(ctx.threads);
    verify(&bufs, seed ^ 0xABCD)?;
    let cfg = MeasureConfig { budget_s, ..Default::default() };
    let e0 = ctx.rapl.and_then(super::power::Rapl::read);
    let t0 = Instant::now();
    let m = stats::measure::<CalibrateError>(&cfg, |inner| {
        let t = Instant::now();
        for _ in 0..inner {
            bufs.run(ctx.threads);
        }
        Ok(t.elapsed().as_secs_f64())
    })?;
    let wall = t0.elapsed().as_secs_f64();
    let e1 = ctx.rapl.and_then(super::power::Rapl::read);
    let s = &m.summary;
    warnings.extend(m.warnings(&format!("{} {}", T::DTYPE, shape)));
    let flops_per_s = shape.flops() / s.median;
    let avg_power_w = match (ctx.rapl, e0, e1) {
        (Some(r), Some(a), Some(b)) if wall > 0.0 => Some(r.joules(&a, &b) / wall),
        _ => None,
    };
    Ok(GemmResult {
        dtype: T::DTYPE,
        m: shape.m,
        n: shape.n,
        k: shape.k,
        flops_per_s,
        seconds_median: s.median,
        ci95_low: s.ci95_low,
        ci95_high: s.ci95_high,
        cv: s.cv,
        repeats: s.n,
        verified: true,
        avg_power_w,
        joules_per_flop: avg_power_w.map(|w| w / flops_per_s),
        fraction_of_peak: None,
        avg_sm_clock_mhz: None,
    })
}

pub(crate) fn run_shape(
    dtype: Dtype,
    shape: GemmShape,
    threads: usize,
    rapl: Option<&power::Rapl>,
    budget_s: f64,
    seed: u64,
    warnings: &mut Vec<String>,
) -> Result<GemmResult, CalibrateError> {
    let ctx = Ctx { threads, rapl };
    match dtype {
        Dtype::Fp64 => bench_one::<f64>(&ctx, shape, budget_s, seed, warnings),
        Dtype::Fp32 => bench_one::<f32>(&ctx, shape, budget_s, seed, warnings),
        Dtype::Fp16 => bench_one::<gemm::f16>(&ctx, shape, budget_s, seed, warnings),
        other => {
            Err(CalibrateError::UnsupportedDtype { dtype: other, device: DeviceKind::Cpu, reason: "the gemm crate has fp64/fp32/fp16 kernels only".into() })
        }
    }
}

pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

pub(crate) fn run(opts: &CalibrateOptions, work: &[(Dtype, GemmShape)]) -> Result<BackendRun, CalibrateError> {
    let started = Instant::now();
    let threads = opts.threads.unwrap_or_else(default_threads);
    let id = cpu_identity();
    let mut warnings = Vec::new();
    let unsupported: Vec<Dtype> = {
        let mut v: Vec<Dtype> = work.iter().map(|w| w.0).filter(|d| !supports(*d)).collect();
        v.dedup();
        v
    };
    let work: Vec<(Dtype, GemmShape)> = work.iter().copied().filter(|w| supports(w.0)).collect();
    if work.is_empty() {
        return Err(CalibrateError::UnsupportedDtype {
            dtype: unsupported.first().copied().unwrap_or(Dtype::Bf16),
            device: DeviceKind::Cpu,
            reason: "the gemm crate has fp64/fp32/fp16 kernels only".into(),
        });
    }
    for d in unsupported {
        warnings.push(format!("{d} skipped on cpu: the gemm crate has fp64/fp32/fp16 kernels only"));
    }
    if threads > id.logical {
        warnings.push(format!("{threads} threads requested on {} logical CPUs: oversubscribed", id.logical));
    }
    let (rapl, power_info) = power::cpu_meter();
    let pool = pool(threads)?;
    // unoptimised builds do not inline the intrinsics: the micro-benchmark
    // would measure call overhead, so it only runs in optimised builds
    let micro = !cfg!(debug_assertions);
    if !micro {
        warnings.push("FMA peak micro-benchmark skipped: debug build (use --release)".into());
    }
    let peaks = peaks(&id, threads, micro);
    if opts.progress {
        for p in &peaks {
            eprintln!(
                "[calibrate] cpu peak {} {}: theoretical {} GFLOP/s, FMA micro-benchmark {} GFLOP/s",
                p.dtype,
                p.isa,
                p.theoretical_flops_per_s.map_or("?".into(), |f| format!("{:.1}", f / 1e9)),
                p.measured_flops_per_s.map_or("-".into(), |f| format!("{:.1}", f / 1e9)),
            );
        }
    }
    let mut results = Vec::new();
    let total = work.len();
    let bar = super::progress_bar(opts.progress, total, "cpu");
    for (idx, (dtype, shape)) in work.iter().enumerate() {
        let left = (opts.time_budget_s - started.elapsed().as_secs_f64()).max(0.0);
        let budget = left / (total - idx) as f64;
        let seed = 0x5EED_0000 + idx as u64;
        bar.set_message(format!("{dtype} {shape}"));
        let mut r = pool.install(|| run_shape(*dtype, *shape, threads, rapl.as_ref(), budget, seed, &mut warnings))?;
        r.fraction_of_peak = peak_for(&peaks, *dtype).map(|p| r.flops_per_s / p);
        if opts.progress {
            super::progress_line(
                &bar,
                format!(
                    "[calibrate] cpu {} {}: {:.1} GFLOP/s (median {:.3} ms, CI +-{:.1}%, cv {:.1}%, {} runs){}",
                    dtype,
                    shape,
                    r.flops_per_s / 1e9,
                    r.seconds_median * 1e3,
                    (r.ci95_high - r.ci95_low) / 2.0 / r.seconds_median * 100.0,
                    r.cv * 100.0,
                    r.repeats,
                    r.fraction_of_peak.map_or(String::new(), |f| format!(", {:.0}% of peak", f * 100.0)),
                ),
            );
        }
        bar.inc(1);
        results.push(r);
    }
    bar.finish_and_clear();
    let peak_f32 = peak_for(&peaks, Dtype::Fp32);
    Ok(BackendRun {
        device: DeviceInfo {
            kind: DeviceKind::Cpu,
            name: id.name.clone(),
            vendor: id.vendor.clone(),
            threads,
            cores: id.physical_cores,
            peak_flops_per_s: peak_f32,
            peaks,
            catalog_id: None,
            clock_mhz: id.clock_mhz,
            features: id.features.clone(),
            memory_gib: super::host_memory_gib(),
            memory_bandwidth_gb_s: super::copy_bandwidth_gb_s(),
        },
        power: power_info,
        backend: BACKEND.into(),
        backend_version: BACKEND_VERSION.into(),
        results,
        warnings,
    })
}

/// Execute `items` back to back (buffers allocated once per dtype, reused),
/// `repeats` times after one warm-up; returns the median seconds of the
/// whole sequence. Used by [`crate::calibrate::check`].
pub(crate) fn time_sequence(items: &[(Dtype, GemmShape)], threads: usize, repeats: usize) -> Result<Vec<f64>, CalibrateError> {
    fn bufs_for<T: Elem>(items: &[(Dtype, GemmShape)]) -> Option<GemmBufs<T>> {
        let sel: Vec<GemmShape> = items.iter().filter(|i| i.0 == T::DTYPE).map(|i| i.1).collect();
        if sel.is_empty() {
            return None;
        }
        let ma = sel.iter().map(|s| s.m * s.k).max().unwrap();
        let mb = sel.iter().map(|s| s.k * s.n).max().unwrap();
        let mc = sel.iter().map(|s| s.m * s.n).max().unwrap();
        let mut rng = Rng::new(42);
        Some(GemmBufs {
            shape: sel[0],
            a: (0..ma).map(|_| T::from_f64(rng.uniform())).collect(),
            b: (0..mb).map(|_| T::from_f64(rng.uniform())).collect(),
            c: vec![T::zero(); mc],
        })
    }
    for (d, _) in items {
        if !supports(*d) {
            return Err(CalibrateError::UnsupportedDtype {
                dtype: *d,
                device: DeviceKind::Cpu,
                reason: "the gemm crate has fp64/fp32/fp16 kernels only".into(),
            });
        }
    }
    let mut b64 = bufs_for::<f64>(items);
    let mut b32 = bufs_for::<f32>(items);
    let mut b16 = bufs_for::<gemm::f16>(items);
    let pool = pool(threads)?;
    let mut once = || {
        for (d, s) in items {
            match d {
                Dtype::Fp64 => {
                    let b = b64.as_mut().unwrap();
                    gemm_colmajor(s.m, s.n, s.k, &b.a, &b.b, &mut b.c, threads);
                }
                Dtype::Fp32 => {
                    let b = b32.as_mut().unwrap();
                    gemm_colmajor(s.m, s.n, s.k, &b.a, &b.b, &mut b.c, threads);
                }
                _ => {
                    let b = b16.as_mut().unwrap();
                    gemm_colmajor(s.m, s.n, s.k, &b.a, &b.b, &mut b.c, threads);
                }
            }
        }
    };
    pool.install(|| {
        once();
        let mut out = Vec::with_capacity(repeats);
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            once();
            out.push(t.elapsed().as_secs_f64());
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_gemm_verifies_all_dtypes() {
        let s = GemmShape::new(37, 23, 29);
        let mut b = GemmBufs::<f64>::random(s, 1);
        b.run(2);
        assert!(verify(&b, 9).unwrap() < 1e-14);
        let mut b = GemmBufs::<f32>::random(s, 2);
        b.run(1);
        verify(&b, 9).unwrap();
        let mut b = GemmBufs::<gemm::f16>::random(s, 3);
        b.run(2);
        verify(&b, 9).unwrap();
    }

    #[test]
    fn freivalds_catches_corruption() {
        let s = GemmShape::new(48, 40, 32);
        let mut b = GemmBufs::<f32>::random(s, 4);
        b.run(1);
        verify(&b, 1).unwrap();
        // one element 1% off: Freivalds alone must see it
        b.c[5 + 7 * 48] *= 1.01;
        let m = s.m;
        let k = s.k;
        let a = |i: usize, l: usize| f64::from(b.a[i + l * m]);
        let bb = |l: usize, j: usize| f64::from(b.b[l + j * k]);
        let c = |i: usize, j: usize| f64::from(b.c[i + j * m]);
        let err = freivalds(s, &a, &bb, &c, &mut Rng::new(3));
        assert!(err > Dtype::Fp32.tolerance(k), "err {err}");
        let e = verify(&b, 1).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("kernel result wrong: max rel err"), "{msg}");
        assert!(msg.contains("for fp32 48x40x32"), "{msg}");
        // a NaN anywhere fails too
        let mut b = GemmBufs::<f64>::random(s, 5);
        b.run(1);
        b.c[100] = f64::NAN;
        assert!(verify(&b, 1).is_err());
    }

    #[test]
    fn identity_and_peaks_without_benchmark() {
        let id = cpu_identity();
        assert!(id.logical >= 1);
        let p = peaks(&id, 1, false);
        for x in &p {
            assert!(x.measured_flops_per_s.is_none());
            if let Some(t) = x.theoretical_flops_per_s {
                assert!(t > 1e9 && t < 1e13, "{t}");
            }
        }
    }

    #[test]
    fn sequence_runs() {
        let items = [(Dtype::Fp32, GemmShape::new(16, 8, 4)), (Dtype::Fp64, GemmShape::new(8, 8, 8))];
        let t = time_sequence(&items, 1, 3).unwrap();
        assert_eq!(t.len(), 3);
        assert!(time_sequence(&[(Dtype::Bf16, GemmShape::square(4))], 1, 1).is_err());
    }
}
