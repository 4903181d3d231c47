//! CUDA backend (feature `cuda`): cuBLAS GEMMs (fp32, tf32, fp16, bf16 with
//! fp32 accumulation, fp64) timed with CUDA events, NVML power sampled in a
//! background thread during the timed loop, results verified on sampled
//! elements against an f64 CPU reference.
//!
//! cudarc is built with dynamic loading: its calls panic when libcuda is
//! absent, so [`driver_available`] checks `is_culib_present()` first and the
//! backend body also runs under `catch_unwind`.
//! Without the feature, [`run`] returns [`CalibrateError::CudaFeatureDisabled`].

use crate::calibrate::Dtype;

/// Hardware catalog id (hardware/accelerators/<id>.toml) for a device name as
/// reported by the driver/NVML, e.g. "NVIDIA H100 80GB HBM3" -> "h100-sxm5-80gb".
pub fn catalog_id_for_gpu_name(name: &str) -> Option<&'static str> {
    let up = name.to_ascii_uppercase().replace(['-', '_', '/'], " ");
    let toks: Vec<&str> = up.split_whitespace().collect();
    let has = |t: &str| toks.contains(&t);
    let pcie = has("PCIE");
    if has("NVL") {
        return None; // H100 NVL / H200 NVL: not in the catalog
    }
    if has("B200") {
        return Some("b200");
    }
    if has("H200") {
        return Some("h200-sxm-141gb");
    }
    if has("H100") {
        return Some(if pcie { "h100-pcie-80gb" } else { "h100-sxm5-80gb" });
    }
    if has("A100") {
        let gb80 = has("80GB");
        return match (pcie, gb80) {
            (false, true) => Some("a100-sxm4-80gb"),
            (false, false) => Some("a100-sxm4-40gb"),
            (true, false) => Some("a100-pcie-40gb"),
            (true, true) => None,
        };
    }
    if has("V100") {
        if has("32GB") {
            return Some("v100-sxm2-32gb");
        }
        if has("SXM2") || has("16GB") {
            return Some("v100-sxm2-16gb");
        }
        return None;
    }
    if has("P100") && has("SXM2") {
        return Some("p100-sxm2");
    }
    if has("L4") {
        return Some("l4");
    }
    if has("RTX") && has("4090") {
        return Some("rtx-4090");
    }
    None
}

/// Datasheet dense peak FLOP/s (hardware/accelerators/*.toml, [peak_tflops]).
pub fn datasheet_peak_flops(catalog_id: &str, dtype: Dtype) -> Option<f64> {
    // fp64, fp32, tf32, fp16, bf16, fp8 in TFLOPS (0 = not supported/listed)
    let row: [f64; 6] = match catalog_id {
        "a100-pcie-40gb" | "a100-sxm4-40gb" | "a100-sxm4-80gb" => [19.5, 19.5, 156.0, 312.0, 312.0, 0.0],
        "h100-pcie-80gb" => [51.0, 51.0, 378.0, 756.5, 756.5, 1513.0],
        "h100-sxm5-80gb" | "h200-sxm-141gb" => [67.0, 67.0, 494.5, 989.5, 989.5, 1979.0],
        "l4" => [0.0, 30.3, 60.0, 121.0, 121.0, 242.5],
        "v100-sxm2-16gb" | "v100-sxm2-32gb" => [7.8, 15.7, 0.0, 125.0, 0.0, 0.0],
        "p100-sxm2" => [5.3, 10.6, 0.0, 21.2, 0.0, 0.0],
        "rtx-4090" => [0.0, 82.6, 82.6, 165.2, 165.2, 330.3],
        "b200" => [37.0, 75.0, 1125.0, 2250.0, 2250.0, 4500.0],
        _ => return None,
    };
    let v = match dtype {
        Dtype::Fp64 => row[0],
        Dtype::Fp32 => row[1],
        Dtype::Tf32 => row[2],
        Dtype::Fp16 => row[3],
        Dtype::Bf16 => row[4],
        Dtype::Fp8 => row[5],
    };
    (v > 0.0).then_some(v * 1e12)
}

pub fn supports(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::Fp64 | Dtype::Fp32 | Dtype::Tf32 | Dtype::Fp16 | Dtype::Bf16)
}

pub use imp::driver_available;
pub(crate) use imp::{run, time_sequence};

#[cfg(not(feature = "cuda"))]
mod imp {
    use crate::calibrate::{BackendRun, CalibrateError, CalibrateOptions, Dtype, GemmShape};

    pub fn driver_available() -> Result<(), CalibrateError> {
        Err(CalibrateError::CudaFeatureDisabled)
    }

    pub(crate) fn run(_opts: &CalibrateOptions, _work: &[(Dtype, GemmShape)]) -> Result<BackendRun, CalibrateError> {
        Err(CalibrateError::CudaFeatureDisabled)
    }

    pub(crate) fn time_sequence(_items: &[(Dtype, GemmShape)], _repeats: usize) -> Result<Vec<f64>, CalibrateError> {
        Err(CalibrateError::CudaFeatureDisabled)
    }
}

#[cfg(feature = "cuda")]
mod imp {
    use super::{catalog_id_for_gpu_name, datasheet_peak_flops, supports};
    use crate::calibrate::cpu::{check_tolerance, freivalds, sampled_elements};
    use crate::calibrate::stats::{self, MeasureConfig};
    use crate::calibrate::{
        bf16_bits_to_f32, f32_to_bf16_bits, BackendRun, CalibrateError, CalibrateOptions, DeviceInfo, DeviceKind, Dtype, GemmResult, GemmShape, PeakFlops,
        PowerInfo, PowerSource, Rng,
    };
    use cudarc::cublas::{result as bres, sys as bsys, CudaBlas};
    use cudarc::driver::{sys as dsys, CudaContext, CudaSlice, CudaStream, DevicePtr};
    use std::ffi::c_void;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn cu(e: impl std::fmt::Debug) -> CalibrateError {
        CalibrateError::Cuda(format!("{e:?}"))
    }

    /// Ok when libcuda and libcublas can be loaded (no CUDA call is made).
    pub fn driver_available() -> Result<(), CalibrateError> {
        // SAFETY: only tries to dlopen the library.
        if !unsafe { dsys::is_culib_present() } {
            return Err(CalibrateError::NoCudaDriver);
        }
        if !unsafe { bsys::is_culib_present() } {
            return Err(CalibrateError::NoCublas);
        }
        Ok(())
    }

    struct Gpu {
        ctx: Arc<CudaContext>,
        stream: Arc<CudaStream>,
        blas: CudaBlas,
    }

    fn open() -> Result<Gpu, CalibrateError> {
        driver_available()?;
        let n = CudaContext::device_count().map_err(cu)?;
        if n < 1 {
            return Err(CalibrateError::Cuda("the NVIDIA driver is loaded but no CUDA device is visible (check CUDA_VISIBLE_DEVICES)".into()));
        }
        let ctx = CudaContext::new(0).map_err(cu)?;
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(|e| CalibrateError::Cuda(format!("cuBLAS init: {e:?}")))?;
        Ok(Gpu { ctx, stream, blas })
    }

    /// Host copy of a matrix in the device representation.
    enum HostMat {
        F64(Vec<f64>),
        F32(Vec<f32>),
        F16(Vec<u16>),
        Bf16(Vec<u16>),
    }

    impl HostMat {
        fn random(dtype: Dtype, len: usize, rng: &mut Rng) -> HostMat {
            match dtype {
                Dtype::Fp64 => HostMat::F64((0..len).map(|_| rng.uniform()).collect()),
                Dtype::Fp32 | Dtype::Tf32 => HostMat::F32((0..len).map(|_| rng.uniform() as f32).collect()),
                Dtype::Fp16 => HostMat::F16((0..len).map(|_| gemm::f16::from_f64(rng.uniform()).to_bits()).collect()),
                _ => HostMat::Bf16((0..len).map(|_| f32_to_bf16_bits(rng.uniform() as f32)).collect()),
            }
        }
        fn get(&self, i: usize) -> f64 {
            match self {
                HostMat::F64(v) => v[i],
                HostMat::F32(v) => f64::from(v[i]),
                HostMat::F16(v) => gemm::f16::from_bits(v[i]).to_f64(),
                HostMat::Bf16(v) => f64::from(bf16_bits_to_f32(v[i])),
            }
        }
    }

    enum DevMat {
        F64(CudaSlice<f64>),
        F32(CudaSlice<f32>),
        U16(CudaSlice<u16>),
    }

    impl DevMat {
        fn upload(stream: &Arc<CudaStream>, h: &HostMat) -> Result<DevMat, CalibrateError> {
            Ok(match h {
                HostMat::F64(v) => DevMat::F64(stream.clone_htod(v).map_err(cu)?),
                HostMat::F32(v) => DevMat::F32(stream.clone_htod(v).map_err(cu)?),
                HostMat::F16(v) | HostMat::Bf16(v) => DevMat::U16(stream.clone_htod(v).map_err(cu)?),
            })
        }
        fn zeros(stream: &Arc<CudaStream>, dtype: Dtype, len: usize) -> Result<DevMat, CalibrateError> {
            Ok(match dtype {
                Dtype::Fp64 => DevMat::F64(stream.alloc_zeros(len).map_err(cu)?),
                Dtype::Fp32 | Dtype::Tf32 => DevMat::F32(stream.alloc_zeros(len).map_err(cu)?),
                _ => DevMat::U16(stream.alloc_zeros(len).map_err(cu)?),
            })
        }
        /// Raw device pointer (valid while self lives; single-stream use).
        fn ptr(&self, stream: &CudaStream) -> u64 {
            match self {
                DevMat::F64(s) => s.device_ptr(stream).0,
                DevMat::F32(s) => s.device_ptr(stream).0,
                DevMat::U16(s) => s.device_ptr(stream).0,
            }
        }
        /// First `len` elements back to the host, as f64.
        fn download(&self, stream: &Arc<CudaStream>, dtype: Dtype, len: usize) -> Result<Vec<f64>, CalibrateError> {
            Ok(match self {
                DevMat::F64(s) => stream.clone_dtoh(&s.slice(0..len)).map_err(cu)?,
                DevMat::F32(s) => stream.clone_dtoh(&s.slice(0..len)).map_err(cu)?.into_iter().map(f64::from).collect(),
                DevMat::U16(s) => {
                    let v: Vec<u16> = stream.clone_dtoh(&s.slice(0..len)).map_err(cu)?;
                    if dtype == Dtype::Fp16 {
                        v.into_iter().map(|b| gemm::f16::from_bits(b).to_f64()).collect()
                    } else {
                        v.into_iter().map(|b| f64::from(bf16_bits_to_f32(b))).collect()
                    }
                }
            })
        }
    }

    /// C = A*B (column-major) through cublasGemmEx; fp32 accumulation for
    /// 16-bit types, TF32 tensor cores for tf32.
    fn gemm_ex(gpu: &Gpu, dtype: Dtype, s: GemmShape, a: u64, b: u64, c: u64) -> Result<(), CalibrateError> {
        use bsys::cublasComputeType_t as Ct;
        use bsys::cudaDataType as Dt;
        let (ty, compute) = match dtype {
            Dtype::Fp64 => (Dt::CUDA_R_64F, Ct::CUBLAS_COMPUTE_64F),
            Dtype::Fp32 => (Dt::CUDA_R_32F, Ct::CUBLAS_COMPUTE_32F),
            Dtype::Tf32 => (Dt::CUDA_R_32F, Ct::CUBLAS_COMPUTE_32F_FAST_TF32),
            Dtype::Fp16 => (Dt::CUDA_R_16F, Ct::CUBLAS_COMPUTE_32F),
            Dtype::Bf16 => (Dt::CUDA_R_16BF, Ct::CUBLAS_COMPUTE_32F),
            Dtype::Fp8 => {
                return Err(CalibrateError::UnsupportedDtype {
                    dtype,
                    device: DeviceKind::Cuda,
                    reason: "fp8 needs cublasLt with scaling factors: not implemented yet".into(),
                })
            }
        };
        let (one64, zero64) = (1.0f64, 0.0f64);
        let (one32, zero32) = (1.0f32, 0.0f32);
        let (alpha, beta): (*const c_void, *const c_void) = if dtype == Dtype::Fp64 {
            (std::ptr::from_ref::<f64>(&one64).cast(), std::ptr::from_ref::<f64>(&zero64).cast())
        } else {
            (std::ptr::from_ref::<f32>(&one32).cast(), std::ptr::from_ref::<f32>(&zero32).cast())
        };
        let (m, n, k) = (s.m as i32, s.n as i32, s.k as i32);
        // SAFETY: a, b, c are live device allocations of at least m*k, k*n,
        // m*n elements of `ty`; alpha/beta point to host scalars of the
        // compute type's scale type (f64 for 64F, f32 otherwise).
        unsafe {
            bres::gemm_ex(
                *gpu.blas.handle(),
                bsys::cublasOperation_t::CUBLAS_OP_N,
                bsys::cublasOperation_t::CUBLAS_OP_N,
                m,
                n,
                k,
                alpha,
                a as *const c_void,
                ty,
                m,
                b as *const c_void,
                ty,
                k,
                beta,
                c as *mut c_void,
                ty,
                m,
                compute,
                bsys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
            )
        }
        .map_err(|e| CalibrateError::Cuda(format!("cublasGemmEx {dtype} {s}: {e:?}")))
    }

    fn set_math_mode(gpu: &Gpu, dtype: Dtype) -> Result<(), CalibrateError> {
        let mode = if dtype == Dtype::Tf32 { bsys::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH } else { bsys::cublasMath_t::CUBLAS_DEFAULT_MATH };
        // SAFETY: valid handle.
        unsafe { bsys::cublasSetMathMode(*gpu.blas.handle(), mode) }.result().map_err(|e| CalibrateError::Cuda(format!("cublasSetMathMode: {e:?}")))
    }

    /// Seconds for `inner` back-to-back GEMMs, from CUDA events.
    fn timed(gpu: &Gpu, inner: usize, mut f: impl FnMut() -> Result<(), CalibrateError>) -> Result<f64, CalibrateError> {
        let start = gpu.ctx.new_event(Some(dsys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(cu)?;
        let end = gpu.ctx.new_event(Some(dsys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(cu)?;
        start.record(&gpu.stream).map_err(cu)?;
        for _ in 0..inner {
            f()?;
        }
        end.record(&gpu.stream).map_err(cu)?;
        let ms = start.elapsed_ms(&end).map_err(cu)?;
        Ok(f64::from(ms) * 1e-3)
    }

    struct Meter<'n> {
        dev: nvml_wrapper::Device<'n>,
        has_energy: bool,
    }

    /// What the meter saw while a GEMM's timed loop ran.
    struct Sampled {
        avg_w: Option<f64>,
        avg_sm_clock_mhz: Option<f64>,
        /// Why there is no power figure (window too short, no reading).
        why_none: Option<String>,
    }

    /// NVML power readings are taken every [`SAMPLE_PERIOD`]; the driver's
    /// `power_usage` is itself a moving average (about 1 s on Ampere and
    /// Hopper per the nvidia-smi documentation of `power.draw`), so the
    /// total-energy counter (Volta and newer, mJ) over the timed loop is used
    /// where it exists and the window is at least [`MIN_ENERGY_WINDOW_S`];
    /// otherwise the mean of at least [`MIN_POWER_SAMPLES`] readings. A
    /// shorter window is reported as too short to sample, never guessed.
    const SAMPLE_PERIOD: Duration = Duration::from_millis(10);
    const MIN_ENERGY_WINDOW_S: f64 = 0.1;
    const MIN_POWER_SAMPLES: usize = 20;

    impl Meter<'_> {
        /// Run `f` (a GEMM's whole timed loop, warm-up included) while
        /// sampling board power and SM clock.
        fn during<R>(&self, f: impl FnOnce() -> R) -> (R, Sampled) {
            let stop = AtomicBool::new(false);
            let e0 = if self.has_energy { self.dev.total_energy_consumption().ok() } else { None };
            let t0 = Instant::now();
            let (r, (watts, clocks)) = std::thread::scope(|s| {
                let h = s.spawn(|| {
                    let (mut w, mut c) = (Vec::new(), Vec::new());
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(mw) = self.dev.power_usage() {
                            w.push(f64::from(mw) / 1000.0);
                        }
                        if let Ok(mhz) = self.dev.clock_info(nvml_wrapper::enum_wrappers::device::Clock::SM) {
                            c.push(f64::from(mhz));
                        }
                        std::thread::sleep(SAMPLE_PERIOD);
                    }
                    (w, c)
                });
                let r = f();
                stop.store(true, Ordering::Relaxed);
                (r, h.join().unwrap_or_default())
            });
            let wall = t0.elapsed().as_secs_f64();
            let e1 = if self.has_energy { self.dev.total_energy_consumption().ok() } else { None };
            let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            let from_energy = match (e0, e1) {
                (Some(a), Some(b)) if b > a && wall >= MIN_ENERGY_WINDOW_S => Some((b - a) as f64 * 1e-3 / wall),
                _ => None,
            };
            let from_samples = (watts.len() >= MIN_POWER_SAMPLES).then(|| mean(&watts)).flatten();
            let avg_w = from_energy.or(from_samples);
            let why_none = avg_w.is_none().then(|| {
                format!(
                    "timed window {:.3} s with {} power readings: too short to sample (needs >= {MIN_ENERGY_WINDOW_S} s with the energy counter or >= {MIN_POWER_SAMPLES} readings); give a larger --budget",
                    wall,
                    watts.len()
                )
            });
            (r, Sampled { avg_w, avg_sm_clock_mhz: mean(&clocks), why_none })
        }
    }

    fn nvml_uuid(ctx: &CudaContext) -> Option<String> {
        let u = ctx.uuid().ok()?;
        let b: Vec<u8> = u.bytes.iter().map(|x| *x as u8).collect();
        Some(format!(
            "GPU-{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        ))
    }

    fn verify(gpu: &Gpu, dtype: Dtype, s: GemmShape, ha: &HostMat, hb: &HostMat, dc: &DevMat, seed: u64) -> Result<(), CalibrateError> {
        // whole C up to 4096^2 elements, else the first columns
        let cols = if s.m * s.n <= 4096 * 4096 { s.n } else { (4096 * 4096 / s.m).clamp(1, s.n) };
        let c = dc.download(&gpu.stream, dtype, s.m * cols)?;
        let (m, k) = (s.m, s.k);
        let a = |i: usize, l: usize| ha.get(i + l * m);
        let b = |l: usize, j: usize| hb.get(l + j * k);
        let cc = |i: usize, j: usize| c[i + j * m];
        let mut rng = Rng::new(seed);
        let mut err = sampled_elements(s, &a, &b, &cc, cols, 64, &mut rng);
        if cols == s.n {
            err = err.max(freivalds(s, &a, &b, &cc, &mut rng));
        }
        check_tolerance(dtype, s, err)
    }

    fn bench_one(
        gpu: &Gpu,
        meter: Option<&Meter<'_>>,
        dtype: Dtype,
        s: GemmShape,
        budget_s: f64,
        seed: u64,
        warnings: &mut Vec<String>,
    ) -> Result<GemmResult, CalibrateError> {
        let mut rng = Rng::new(seed);
        let ha = HostMat::random(dtype, s.m * s.k, &mut rng);
        let hb = HostMat::random(dtype, s.k * s.n, &mut rng);
        let da = DevMat::upload(&gpu.stream, &ha)?;
        let db = DevMat::upload(&gpu.stream, &hb)?;
        let dc = DevMat::zeros(&gpu.stream, dtype, s.m * s.n)?;
        let (pa, pb, pc) = (da.ptr(&gpu.stream), db.ptr(&gpu.stream), dc.ptr(&gpu.stream));
        set_math_mode(gpu, dtype)?;
        gemm_ex(gpu, dtype, s, pa, pb, pc)?;
        gpu.stream.synchronize().map_err(cu)?;
        verify(gpu, dtype, s, &ha, &hb, &dc, seed ^ 0xC0DA)?;
        drop((ha, hb));
        let cfg = MeasureConfig { budget_s, warmup_runs: 3, min_sample_s: 0.02, ..Default::default() };
        let measure = || stats::measure::<CalibrateError>(&cfg, |inner| timed(gpu, inner, || gemm_ex(gpu, dtype, s, pa, pb, pc)));
        let (m, avg_w, clock) = match meter {
            Some(mt) => {
                let (r, sampled) = mt.during(measure);
                if let Some(why) = sampled.why_none {
                    warnings.push(format!("{dtype} {s}: no power figure: {why}"));
                }
                (r?, sampled.avg_w, sampled.avg_sm_clock_mhz)
            }
            None => (measure()?, None, None),
        };
        let st = &m.summary;
        warnings.extend(m.warnings(&format!("{dtype} {s}")));
        let flops_per_s = s.flops() / st.median;
        Ok(GemmResult {
            dtype,
            m: s.m,
            n: s.n,
            k: s.k,
            flops_per_s,
            seconds_median: st.median,
            ci95_low: st.ci95_low,
            ci95_high: st.ci95_high,
            cv: st.cv,
            repeats: st.n,
            verified: true,
            avg_power_w: avg_w,
            joules_per_flop: avg_w.map(|w| w / flops_per_s),
            fraction_of_peak: None,
            avg_sm_clock_mhz: clock,
        })
    }

    fn run_inner(opts: &CalibrateOptions, work: &[(Dtype, GemmShape)]) -> Result<BackendRun, CalibrateError> {
        let started = Instant::now();
        let gpu = open()?;
        let mut warnings = Vec::new();
        let name = gpu.ctx.name().map_err(cu)?;
        let (maj, min) = gpu.ctx.compute_capability().map_err(cu)?;
        let sms = gpu.ctx.attribute(dsys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT).ok().map(|x| x as usize);
        let catalog_id = catalog_id_for_gpu_name(&name).map(str::to_string);
        if catalog_id.is_none() {
            warnings.push(format!("GPU `{name}` is not in the hardware catalog: no datasheet peak"));
        }
        // NVML: failure means no power numbers, never a guess.
        let nvml = nvml_wrapper::Nvml::init();
        let mut power = PowerInfo::unavailable("");
        let meter = match &nvml {
            Ok(nv) => {
                let dev = match nvml_uuid(&gpu.ctx) {
                    Some(u) => nv.device_by_uuid(u.as_str()).or_else(|_| nv.device_by_index(0)),
                    None => nv.device_by_index(0),
                };
                match dev {
                    Ok(dev) => {
                        let has_energy = dev.total_energy_consumption().is_ok();
                        let nm = dev.name().unwrap_or_else(|_| name.clone());
                        power = PowerInfo {
                            source: PowerSource::Nvml,
                            domains: vec![format!("GPU 0 {nm}")],
                            note: if has_energy {
                                "NVML total energy counter over the timed loop (board power, excludes host)".into()
                            } else {
                                "NVML power_usage sampled every 10 ms during the timed loop (board power, excludes host)".into()
                            },
                        };
                        Some(Meter { dev, has_energy })
                    }
                    Err(e) => {
                        power.note = format!("NVML device lookup failed: {e}");
                        None
                    }
                }
            }
            Err(e) => {
                power.note = format!("NVML not available: {e}");
                None
            }
        };
        let mut unsupported: Vec<Dtype> = work.iter().map(|w| w.0).filter(|d| !supports(*d)).collect();
        unsupported.dedup();
        for d in &unsupported {
            warnings.push(format!("{d} skipped on cuda: not implemented yet"));
        }
        let work: Vec<(Dtype, GemmShape)> = work.iter().copied().filter(|w| supports(w.0)).collect();
        if work.is_empty() {
            return Err(CalibrateError::UnsupportedDtype {
                dtype: unsupported.first().copied().unwrap_or(Dtype::Fp8),
                device: DeviceKind::Cuda,
                reason: "not implemented yet".into(),
            });
        }
        let mut dtypes: Vec<Dtype> = work.iter().map(|w| w.0).collect();
        dtypes.sort();
        dtypes.dedup();
        let peaks: Vec<PeakFlops> = dtypes
            .iter()
            .map(|d| PeakFlops {
                dtype: *d,
                isa: if matches!(d, Dtype::Fp32 | Dtype::Fp64) { "datasheet (CUDA cores)".into() } else { "datasheet (tensor cores, dense)".into() },
                theoretical_flops_per_s: catalog_id.as_deref().and_then(|c| datasheet_peak_flops(c, *d)),
                measured_flops_per_s: None,
                used_by_gemm_backend: true,
            })
            .collect();
        let mut results = Vec::new();
        let total = work.len();
        let bar = crate::calibrate::progress_bar(opts.progress, total, "cuda");
        for (idx, (dtype, s)) in work.iter().enumerate() {
            let left = (opts.time_budget_s - started.elapsed().as_secs_f64()).max(0.0);
            let budget = left / (total - idx) as f64;
            bar.set_message(format!("{dtype} {s}"));
            let mut r = bench_one(&gpu, meter.as_ref(), *dtype, *s, budget, 0xC0DE_0000 + idx as u64, &mut warnings)?;
            r.fraction_of_peak = catalog_id.as_deref().and_then(|c| datasheet_peak_flops(c, *dtype)).map(|p| r.flops_per_s / p);
            if opts.progress {
                crate::calibrate::progress_line(
                    &bar,
                    format!(
                        "[calibrate] cuda {} {}: {:.1} TFLOP/s (median {:.3} ms, cv {:.1}%, {} runs){}{}",
                        dtype,
                        s,
                        r.flops_per_s / 1e12,
                        r.seconds_median * 1e3,
                        r.cv * 100.0,
                        r.repeats,
                        r.avg_power_w.map_or(String::new(), |w| format!(", {w:.0} W")),
                        r.fraction_of_peak.map_or(String::new(), |f| format!(", {:.0}% of datasheet", f * 100.0)),
                    ),
                );
            }
            bar.inc(1);
            results.push(r);
        }
        bar.finish_and_clear();
        Ok(BackendRun {
            device: DeviceInfo {
                kind: DeviceKind::Cuda,
                name: name.clone(),
                vendor: "NVIDIA".into(),
                threads: 1,
                cores: sms,
                peak_flops_per_s: catalog_id.as_deref().and_then(|c| datasheet_peak_flops(c, Dtype::Fp32)),
                peaks,
                catalog_id,
                clock_mhz: None,
                features: vec![format!("sm_{maj}{min}")],
                memory_gib: None,
                memory_bandwidth_gb_s: None,
            },
            power,
            backend: "cublas".into(),
            backend_version: "cudarc 0.19".into(),
            results,
            warnings,
        })
    }

    fn no_panic<R>(f: impl FnOnce() -> Result<R, CalibrateError>) -> Result<R, CalibrateError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(std::string::ToString::to_string))
                .unwrap_or_else(|| "unknown panic".into());
            Err(CalibrateError::Cuda(format!("CUDA library call panicked: {msg}")))
        })
    }

    pub(crate) fn run(opts: &CalibrateOptions, work: &[(Dtype, GemmShape)]) -> Result<BackendRun, CalibrateError> {
        driver_available()?;
        no_panic(|| run_inner(opts, work))
    }

    pub(crate) fn time_sequence(items: &[(Dtype, GemmShape)], repeats: usize) -> Result<Vec<f64>, CalibrateError> {
        driver_available()?;
        no_panic(|| {
            let gpu = open()?;
            let mut dtypes: Vec<Dtype> = items.iter().map(|i| i.0).collect();
            dtypes.sort();
            dtypes.dedup();
            let mut bufs = Vec::new(); // (dtype, a, b, c) with max sizes
            let mut rng = Rng::new(11);
            for d in &dtypes {
                let sel: Vec<GemmShape> = items.iter().filter(|i| i.0 == *d).map(|i| i.1).collect();
                let ma = sel.iter().map(|s| s.m * s.k).max().unwrap_or(1);
                let mb = sel.iter().map(|s| s.k * s.n).max().unwrap_or(1);
                let mc = sel.iter().map(|s| s.m * s.n).max().unwrap_or(1);
                let a = DevMat::upload(&gpu.stream, &HostMat::random(*d, ma, &mut rng))?;
                let b = DevMat::upload(&gpu.stream, &HostMat::random(*d, mb, &mut rng))?;
                let c = DevMat::zeros(&gpu.stream, *d, mc)?;
                bufs.push((*d, a, b, c));
            }
            let ptrs: Vec<(Dtype, u64, u64, u64)> = bufs.iter().map(|(d, a, b, c)| (*d, a.ptr(&gpu.stream), b.ptr(&gpu.stream), c.ptr(&gpu.stream))).collect();
            let once = || -> Result<(), CalibrateError> {
                for (d, s) in items {
                    let (_, a, b, c) = ptrs.iter().find(|p| p.0 == *d).copied().expect("buffer per dtype");
                    set_math_mode(&gpu, *d)?;
                    gemm_ex(&gpu, *d, *s, a, b, c)?;
                }
                Ok(())
            };
            once()?;
            gpu.stream.synchronize().map_err(cu)?;
            let mut out = Vec::new();
            for _ in 0..repeats.max(1) {
                out.push(timed(&gpu, 1, &once)?);
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::{CalibrateError, CalibrateOptions, DeviceKind};

    #[test]
    fn catalog_mapping() {
        assert_eq!(catalog_id_for_gpu_name("NVIDIA H100 80GB HBM3"), Some("h100-sxm5-80gb"));
        assert_eq!(catalog_id_for_gpu_name("NVIDIA H100 PCIe"), Some("h100-pcie-80gb"));
        assert_eq!(catalog_id_for_gpu_name("NVIDIA H100 NVL"), None);
        assert_eq!(catalog_id_for_gpu_name("NVIDIA H200"), Some("h200-sxm-141gb"));
        assert_eq!(catalog_id_for_gpu_name("NVIDIA A100-SXM4-80GB"), Some("a100-sxm4-80gb"));
        assert_eq!(catalog_id_for_gpu_name("NVIDIA A100-SXM4-40GB"), Some("a100-sxm4-40gb"));
        assert_eq!(catalog_id_for_gpu_name("NVIDIA A100-PCIE-40GB"), Some("a100-pcie-40gb"));
        assert_eq!(catalog_id_for_gpu_name("Tesla V100-SXM2-32GB"), Some("v100-sxm2-32gb"));
        assert_eq!(catalog_id_for_gpu_name("NVIDIA L4"), Some("l4"));
        assert_eq!(catalog_id_for_gpu_name("NVIDIA L40S"), None);
        assert_eq!(catalog_id_for_gpu_name("NVIDIA GeForce RTX 4090"), Some("rtx-4090"));
        assert_eq!(datasheet_peak_flops("h100-sxm5-80gb", Dtype::Bf16), Some(989.5e12));
        assert_eq!(datasheet_peak_flops("v100-sxm2-16gb", Dtype::Tf32), None);
    }

    /// Up to the driver boundary: on a machine without libcuda this must be
    /// the clear NoCudaDriver error (or the feature-disabled error), not a panic.
    #[test]
    fn no_driver_is_an_error_not_a_panic() {
        let opts = CalibrateOptions { devices: vec![DeviceKind::Cuda], time_budget_s: 1.0, ..Default::default() };
        let r = std::panic::catch_unwind(|| crate::calibrate::run(&opts));
        let r = r.expect("calibrate::run panicked");
        // on a real GPU machine any outcome but a panic is fine here
        if driver_available().is_err() {
            {
                let e = r.unwrap_err();
                let msg = e.to_string();
                if cfg!(feature = "cuda") {
                    assert!(matches!(e, CalibrateError::NoCudaDriver | CalibrateError::NoCublas), "{msg}");
                    assert!(msg.contains("flopprint calibrate --device cpu"), "{msg}");
                } else {
                    assert!(matches!(e, CalibrateError::CudaFeatureDisabled), "{msg}");
                    assert!(msg.contains("cargo build --features cuda"), "{msg}");
                }
            }
        }
    }
}
