//! Device model: how long one GEMM or one memory-bound kernel takes.
//!
//! `time(GEMM) = max(FLOPs / (peak(dtype) x eff_flop(FLOPs)),
//!                   bytes / (bandwidth x eff_mem(bytes)))` — a roofline
//! (Williams et al. 2009) whose two ceilings carry size-dependent
//! efficiencies; `time(memory-bound op) = bytes / (bandwidth x eff_mem)`.
//!
//! The GEMM efficiency SHAPE is the published A100 curve of Calculon
//! (Isaev et al., SC'23, `systems/a100_80g.json`), interpolated
//! log-linearly between its thresholds; each accelerator family has its own
//! scale on it ([`FamilyModel`]): Ampere's fitted on Korthikanti 2022
//! Table 5; Hopper and Blackwell use Ampere's scale with their own SM
//! counts, attention kernels and FP8 speed-up (no fit on their data, see
//! [`HOPPER_GEMM_SCALE`]); other families use Ampere's. Each accelerator
//! with a measured maximum achievable matmul throughput (`mamf_bf16_tflops`)
//! has that scale carried to its own ceiling ([`A100_SXM_MAMF_EFFICIENCY`]).
//! FP8 GEMMs run at the 16-bit rate times the family's FP8/BF16 speed-up
//! (cuBLAS 12.9 figures for Hopper), its large-GEMM end at the measured
//! FP8/BF16 MAMF ratio where the file gives one. Fused attention is priced from the FlashAttention
//! papers' measured TFLOP/s by sequence length ([`FA2_FWD`], [`FA3_FWD`]).
//! Memory-bound kernels use Calculon's A100 HBM efficiency curve on every
//! family (no per-family figure was sourced). A measured calibration
//! profile replaces the GEMM curve through [`ProfileDevice`].

use crate::catalog::Accelerator;
use crate::dtype::Dtype;
use crate::units::{Bytes, BytesPerSec, FlopPerSec, Seconds};

/// The time model of one device; implement it to plug in measurements.
pub trait DeviceModel: Sync {
    /// Time of `batch` GEMMs of `m x k` by `k x n` in `dtype`.
    fn gemm_time(&self, m: u64, n: u64, k: u64, batch: u64, dtype: Dtype) -> Seconds;
    /// Time of a bandwidth-bound kernel moving `bytes`.
    fn mem_time(&self, bytes: Bytes) -> Seconds;
    /// Dense peak for `dtype` (the MFU/HFU denominator).
    fn peak(&self, dtype: Dtype) -> FlopPerSec;
    /// Time of a fused (FlashAttention-style) attention kernel doing
    /// `flops` of QKᵀ and ·V work (forward count; the backward's own
    /// GEMM FLOPs when `backward`) on sequences of `seq` tokens, in 16-bit.
    /// Default: the [`Family::Other`] curves on the 16-bit peak.
    fn attention_time(&self, flops: f64, seq: u64, backward: bool) -> Seconds {
        let peak = self.peak(Dtype::Bf16).value().max(self.peak(Dtype::Fp16).value()).max(1.0);
        Seconds::new(attention_seconds(FamilyModel::of(Family::Other), flops, seq, backward, peak))
    }
}

/// Accelerator families with their own device constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// NVIDIA A100 (and any accelerator without family data).
    Ampere,
    /// NVIDIA H100 / H200 / H800.
    Hopper,
    /// NVIDIA B200, GB200 and B300 (Blackwell Ultra: the B200 fit is used).
    Blackwell,
    /// Everything else (AMD CDNA, Intel Gaudi, TPUs, Trainium, CPUs): the
    /// Ampere GEMM curves, no FP8 speed-up, unfused attention by default.
    Other,
}

impl Family {
    /// From the catalog's `family` field.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "ampere" => Family::Ampere,
            "hopper" => Family::Hopper,
            "blackwell" => Family::Blackwell,
            _ => Family::Other,
        }
    }
    /// Whether fused FlashAttention-style kernels are what a framework runs
    /// on this family by default (FlashAttention-2 needs Ampere or newer).
    #[must_use]
    pub fn has_flash_attention(self) -> bool {
        matches!(self, Family::Ampere | Family::Hopper | Family::Blackwell)
    }
}

/// The per-family constants of the analytic device (see the module doc and
/// README methodology section for the data behind each).
#[derive(Debug, Clone, Copy)]
pub struct FamilyModel {
    pub family: Family,
    /// GEMM efficiency by FLOPs relative to its top ([`GEMM_SHAPE`], or
    /// [`HOPPER_GEMM_SHAPE`] measured on Hopper).
    pub gemm_shape: Curve,
    /// Multiplies the shape (16-bit GEMMs).
    pub gemm_scale: f64,
    /// Achieved FP8 / 16-bit GEMM throughput by GEMM FLOPs (1 = no FP8
    /// speed-up); applied on the 16-bit rate, capped by the FP8 peak.
    pub fp8_speedup: Curve,
    /// Fused attention forward, fraction of the 16-bit peak by sequence length.
    pub attn_fwd: Curve,
    /// Fused attention backward, fraction of the 16-bit peak by sequence
    /// length, counting [`ATTN_BWD_FLOP_FACTOR`] x the forward FLOPs.
    pub attn_bwd: Curve,
}

/// FlashAttention papers count the backward as 2.5x the forward's FLOPs
/// (the four backward GEMMs plus the recomputed QKᵀ; Dao 2023 §4.1,
/// Shah et al. 2024 §4.1); the workload's backward lists 2x (four GEMMs),
/// so the kernel's time is 1.25 x its listed FLOPs at the published rate.
pub const ATTN_BWD_FLOP_FACTOR: f64 = 1.25;

/// A100 SXM's maximum achievable matmul efficiency: 271.2 of 312 BF16
/// TFLOP/s (S. Bekman, ml-engineering, compute/accelerator/README.md,
/// "Maximum Achievable Matmul FLOPS comparison table", torch 2.6.0+cu126,
/// commit 744d01e of Aug 2026; CC BY-SA 4.0, the figure cited). An
/// accelerator whose file gives `mamf_bf16_tflops` has its family's GEMM
/// scale multiplied by `(mamf / peak) / A100_SXM_MAMF_EFFICIENCY`: the
/// framework fraction of the ceiling fitted on A100 (Korthikanti 2022)
/// carried to the accelerator's own measured ceiling (H100 80.3 %, B200
/// 77.6 %, MI300X 51.1 % of this catalog's 1307.4 peak, Gaudi 3 74.1 %;
/// A100 itself 1, so the
/// Korthikanti fit is unchanged). With `mamf_fp8_tflops`
/// too, the FP8 speed-up curve's large-GEMM end moves to the measured FP8 /
/// BF16 ratio (H100 1.77, B200 1.97), its small-GEMM end staying the
/// family's. The ceiling applies to 16-bit GEMMs (and FP8, which runs at
/// the 16-bit rate times the speed-up); other dtypes keep the family's
/// curve. Not fitted: the
/// table is a hardware measurement. Held-out effect (H100 large GEMMs 7.6 %
/// slower in BF16): NeMo 24.12 DGX-H100 FP8 16.1 → 10.5 %, NeMo 25.02
/// DGX-B200 FP8 23.1 → 22.7 % (tests/it/validation.rs); `flopprint validate`
/// MLPerf GPT-3 H100 step time 6.4 → 7.2 %, whole-run GPU-hours 36.9 →
/// 37.6 % (Llama 3.1 405B +21 → +28 %).
pub const A100_SXM_MAMF_EFFICIENCY: f64 = 271.2 / 312.0;

/// Hopper's GEMM scale: NOT fitted on Hopper data. It is Ampere's
/// [`GEMM_EFFICIENCY_SCALE`] (fitted on Korthikanti 2022 Table 5, Megatron-LM
/// on A100), i.e. the assumption that Megatron-style frameworks reach the
/// same fraction of the shape curve on Hopper; what is Hopper's own is the
/// SM count (wave quantisation), the FlashAttention-3 curves and the FP8
/// speed-up. Why not a Hopper fit: every published Hopper throughput table
/// within reach is FP8 (NeMo, MLPerf), so a fit sets the product scale x
/// FP8 speed-up and leaves BF16 unidentified (an earlier fit on NeMo 24.12
/// FP8 gave 0.65, which put large BF16 GEMMs at 62 % of peak and made Llama
/// 3.1 405B's GPU-hours +41 % instead of +21 %), and the issue naming the fit sources
/// does not name NeMo. Held-out checks (tests/it/validation.rs
/// `nemo_h100_fp8_held_out`, `flopprint validate`): NeMo 24.12 DGX-H100
/// FP8, 5 rows; MLPerf Training GPT-3 H100 step times, 8 cases.
pub const HOPPER_GEMM_SCALE: f64 = GEMM_EFFICIENCY_SCALE;

/// Blackwell's GEMM scale: Ampere's, as [`HOPPER_GEMM_SCALE`] (not fitted
/// on Blackwell data). Held-out check: NeMo 25.02 DGX-B200 FP8, 2 rows
/// (tests/it/validation.rs `nemo_b200_fp8_held_out`).
pub const BLACKWELL_GEMM_SCALE: f64 = GEMM_EFFICIENCY_SCALE;

/// FP8 / BF16 GEMM speed-up on Hopper: "1.75x speedup for large matmuls
/// and at least 1.25x for most other cases compared to the BF16 baseline"
/// (NVIDIA technical blog, cuBLAS 12.9, 2025). Placed at 1 GFLOP (1.25)
/// and 128 GFLOP (1.75, where [`GEMM_SHAPE`] saturates); log-linear between.
pub const HOPPER_FP8_SPEEDUP: Curve = Curve(&[(1e9, 1.25), (128e9, 1.75)]);

/// No FP8 speed-up (families without FP8 data: the FP8 peak with the
/// 16-bit efficiency would double the rate, which no source supports).
pub const NO_FP8_SPEEDUP: Curve = Curve(&[(1.0, 1.0)]);

/// FlashAttention-3 (Shah et al. 2024, arXiv 2407.08608, Figure 5/6: H100
/// SXM5, head dim 128, BF16, causal forward; backward) in TFLOP/s at
/// sequence 512/1k/2k/4k/8k/16k: forward 292/423/521/579/602/616,
/// backward 316/424/501/542/559/561; divided by the 989.5 TFLOP/s dense
/// BF16 peak.
pub const FA3_FWD: Curve = Curve(&[(512.0, 0.295), (1024.0, 0.427), (2048.0, 0.527), (4096.0, 0.585), (8192.0, 0.608), (16384.0, 0.623)]);
pub const FA3_BWD: Curve = Curve(&[(512.0, 0.319), (1024.0, 0.428), (2048.0, 0.506), (4096.0, 0.548), (8192.0, 0.565), (16384.0, 0.567)]);

/// FlashAttention-2 on A100 (Dao 2023, arXiv 2307.08691, abstract: "reaching
/// 50-73% of the theoretical maximum FLOPs/s on A100"); the range is placed
/// at sequence 512 and 16k. The backward uses the same range: FA2's
/// backward and forward rates are within 3 % of each other at 2k-16k in
/// the FA3 paper's H100 figures (FA2 forward 298-335, backward 291-322).
pub const FA2_FWD: Curve = Curve(&[(512.0, 0.50), (16384.0, 0.73)]);
pub const FA2_BWD: Curve = FA2_FWD;

impl FamilyModel {
    #[must_use]
    pub fn of(family: Family) -> Self {
        match family {
            Family::Hopper => Self {
                family,
                gemm_shape: HOPPER_GEMM_SHAPE,
                gemm_scale: HOPPER_GEMM_SCALE,
                fp8_speedup: HOPPER_FP8_SPEEDUP,
                attn_fwd: FA3_FWD,
                attn_bwd: FA3_BWD,
            },
            // B200: FA3-class kernels and the Hopper FP8 ratio (no
            // Blackwell attention or FP8-vs-BF16 GEMM figures were read)
            Family::Blackwell => {
                Self { family, gemm_shape: GEMM_SHAPE, gemm_scale: BLACKWELL_GEMM_SCALE, fp8_speedup: HOPPER_FP8_SPEEDUP, attn_fwd: FA3_FWD, attn_bwd: FA3_BWD }
            }
            Family::Ampere | Family::Other => {
                Self { family, gemm_shape: GEMM_SHAPE, gemm_scale: GEMM_EFFICIENCY_SCALE, fp8_speedup: NO_FP8_SPEEDUP, attn_fwd: FA2_FWD, attn_bwd: FA2_BWD }
            }
        }
    }
}

/// Seconds of a fused attention kernel (see [`DeviceModel::attention_time`]).
#[must_use]
pub fn attention_seconds(f: FamilyModel, flops: f64, seq: u64, backward: bool, peak16: f64) -> f64 {
    if flops <= 0.0 {
        return 0.0;
    }
    let s = seq.max(1) as f64;
    if backward {
        ATTN_BWD_FLOP_FACTOR * flops / (peak16 * f.attn_bwd.at(s))
    } else {
        flops / (peak16 * f.attn_fwd.at(s))
    }
}

/// A size → efficiency curve: points `(size, efficiency)` in increasing
/// size, log-linear in size between points, flat outside.
#[derive(Debug, Clone, Copy)]
pub struct Curve(pub &'static [(f64, f64)]);

impl Curve {
    #[must_use]
    pub fn at(&self, x: f64) -> f64 {
        let p = self.0;
        if x <= p[0].0 {
            return p[0].1;
        }
        for w in p.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if x <= x1 {
                let f = (x.ln() - x0.ln()) / (x1.ln() - x0.ln());
                return y0 + f * (y1 - y0);
            }
        }
        p[p.len() - 1].1
    }
}

/// The shape of tensor-core GEMM efficiency by the op's FLOPs. Source:
/// Calculon `systems/a100_80g.json` "matrix" efficiency table (≥1 GFLOP
/// 0.60, ≥16 GFLOP 0.90, ≥128 GFLOP 0.95; 0.10 below). Points sit at the
/// thresholds; the 0.10 floor is placed at 16 MFLOP.
pub const GEMM_SHAPE: Curve = Curve(&[(16e6, 0.10), (1e9, 0.60), (16e9, 0.90), (128e9, 0.95)]);

/// Hopper's GEMM efficiency by FLOPs, with the top of [`GEMM_SHAPE`] (0.95)
/// so that the level stays the A100 fit carried to the measured ceiling
/// (MAMF) and only the fall-off with size is Hopper's own. Source: OpenXLA
/// `xla/service/gpu/model/matmul_interpolator_data.h`, `sm_90` table, commit
/// 71feeddf7cc3c9c7878eee18ea43c983631e6e84 (2025-10-21; Apache-2.0):
/// 375 BF16 GEMMs (batch 1/2/4 x M, N, K in 256..4096) on an H100-class
/// part (BF16 max 814 of 989 TFLOP/s), each the median CUPTI kernel time of
/// XLA's autotuned cuBLAS/Triton kernel. Points: the median efficiency of
/// each power-of-two FLOP bin (2·b·m·n·k) at the bin's geometric centre,
/// times 0.95 / 0.810 (0.810 = the median of the largest bin, 256–550
/// GFLOP): 0.35 GFLOP 0.044, 0.71 0.083, 1.4 0.144, 2.8 0.234, 5.7 0.350,
/// 11 0.479, 23 0.608, 45 0.730, 91 0.732, 181 0.779, 392 0.810 of peak.
/// Calculon's A100 curve reaches 0.90/0.95 of its top at 16 GFLOP; Hopper
/// measures 0.75 of its top at 23 GFLOP: its larger, faster SM array needs
/// larger GEMMs to fill. The table includes wave quantization, which the
/// simulator also applies per shape (≤ 3 % at the sizes where the two
/// meet, 4096³ on 132 SMs).
pub const HOPPER_GEMM_SHAPE: Curve = Curve(&[
    (0.354e9, 0.044 * 0.95 / 0.810),
    (0.707e9, 0.083 * 0.95 / 0.810),
    (1.41e9, 0.144 * 0.95 / 0.810),
    (2.83e9, 0.234 * 0.95 / 0.810),
    (5.66e9, 0.350 * 0.95 / 0.810),
    (11.3e9, 0.479 * 0.95 / 0.810),
    (22.6e9, 0.608 * 0.95 / 0.810),
    (45.3e9, 0.730 * 0.95 / 0.810),
    (90.5e9, 0.732 * 0.95 / 0.810),
    (181e9, 0.779 * 0.95 / 0.810),
    (392e9, 0.95),
]);

/// The one fitted constant of the device model: the GEMM curve above is
/// multiplied by this scale. Calculon's table alone (scale 1) predicts the 8
/// Korthikanti et al. 2022 Table 5 iteration times 13–18 % too fast with
/// this simulator (whose memory-bound kernels, wave quantization and
/// collectives are accounted separately). FIT: the scale was chosen on
/// those 8 times (22B/175B/530B/1T x full / SP+selective, 1.42/1.10,
/// 18.13/13.75, 49.05/37.83, 94.42/71.49 s) to minimise the worst error:
/// 0.80 gives mean 2.1 % / max 4.8 %, 0.81 gives 2.3 % / 3.7 %, 0.82
/// gives 2.6 % / 3.9 %. It puts large fp16 GEMMs at 0.95 x 0.81 = 77 % of
/// peak (240 TFLOP/s on A100) before wave quantization.
pub const GEMM_EFFICIENCY_SCALE: f64 = 0.81;

/// Efficiency of the largest GEMMs.
pub const GEMM_EFFICIENCY_MAX: f64 = 0.95 * GEMM_EFFICIENCY_SCALE;

/// GEMM efficiency by FLOPs: [`GEMM_SHAPE`] x [`GEMM_EFFICIENCY_SCALE`].
#[must_use]
pub fn gemm_efficiency(flops: f64) -> f64 {
    GEMM_SHAPE.at(flops) * GEMM_EFFICIENCY_SCALE
}

/// HBM bandwidth efficiency by bytes moved. Source: Calculon
/// `systems/a100_80g.json` "mem1" table (≥1 MB 0.60, ≥10 MB 0.75,
/// ≥100 MB 0.90; 0.30 below), i.e. STREAM-like kernels reach ~90 % of
/// datasheet bandwidth only when large.
pub const MEM_EFFICIENCY: Curve = Curve(&[(64e3, 0.30), (1e6, 0.60), (10e6, 0.75), (100e6, 0.90)]);

/// The analytic device: datasheet peaks and bandwidth with the global curves.
#[derive(Debug, Clone)]
pub struct AnalyticDevice {
    peaks: [f64; 6],
    bandwidth: BytesPerSec,
    model: FamilyModel,
    /// Streaming multiprocessors (compute units) that GEMM tiles fill in waves.
    sms: u64,
    /// The accelerator's measured GEMM ceiling relative to A100's
    /// ([`A100_SXM_MAMF_EFFICIENCY`]); 1 without a measurement.
    ceiling: f64,
    /// The FP8 / BF16 speed-up at the large-GEMM end: the accelerator's
    /// measured MAMF ratio, else the family curve's own end.
    fp8_top: Option<f64>,
}

/// Output tile of a large tensor-core GEMM: 256 x 128 (cuBLAS/CUTLASS's
/// largest A100/H100 fp16 tile; NVIDIA "Matrix Multiplication Background
/// User's Guide", 2023, §tile and wave quantization).
pub const GEMM_TILE: (u64, u64) = (256, 128);

/// Streaming multiprocessors by accelerator id (datasheets/whitepapers:
/// A100 108, H100 SXM5 132, H100 PCIe 114, H200 132, B200 148, V100 80,
/// P100 56, RTX 4090 128, MI300X 304 CUs, L4 58; H800 132 as the same
/// GH100 configuration as H100 SXM (NVIDIA aiconfigurator h800_sxm.yaml,
/// 2026); GB200 148 as B200 (same silicon); B300 160 (Blackwell Ultra,
/// public developer notes, 2026); MI355X 256 CUs (ROCm GPU specifications,
/// 2026)); 108 otherwise (Gaudi and other ASICs have no SM array: the
/// A100 figure is a stated fallback).
#[must_use]
pub fn sm_count(id: &str) -> u64 {
    let table: [(&str, u64); 14] = [
        ("a100", 108),
        ("h100-pcie", 114),
        ("h100", 132),
        ("h200", 132),
        ("h800", 132),
        ("b200", 148),
        ("gb200", 148),
        ("b300", 160),
        ("mi355x", 256),
        ("v100", 80),
        ("p100", 56),
        ("rtx-4090", 128),
        ("mi300x", 304),
        ("l4", 58),
    ];
    table.iter().find(|(k, _)| id.starts_with(k)).map_or(108, |(_, n)| *n)
}

/// Wave quantization: the last wave of output tiles may fill only part of
/// the SMs, so the GEMM runs `tiles / (waves x SMs)` of its ideal rate.
#[must_use]
pub fn wave_efficiency(m: u64, n: u64, batch: u64, sms: u64) -> f64 {
    let tiles = m.div_ceil(GEMM_TILE.0) * n.div_ceil(GEMM_TILE.1) * batch.max(1);
    let sms = sms.max(1);
    tiles as f64 / (tiles.div_ceil(sms) * sms) as f64
}

fn dtype_index(d: Dtype) -> usize {
    Dtype::ALL.iter().position(|x| *x == d).unwrap_or(0)
}

impl AnalyticDevice {
    #[must_use]
    pub fn new(acc: &Accelerator) -> Self {
        let mut peaks = [0.0; 6];
        for d in Dtype::ALL {
            peaks[dtype_index(d)] = acc.peak(d).map_or(0.0, FlopPerSec::value);
        }
        let p16 = acc.peak(Dtype::Bf16).or_else(|_| acc.peak(Dtype::Fp16)).map_or(0.0, |p| p.value() / 1e12);
        // the measured GEMM ceiling, relative to the A100 the scale was fitted on
        let (ceiling, fp8_top) = match acc.mamf_bf16_tflops {
            Some(m) if p16 > 0.0 => ((m / p16) / A100_SXM_MAMF_EFFICIENCY, acc.mamf_fp8_tflops.map(|f| f / m)),
            _ => (1.0, None),
        };
        Self { peaks, bandwidth: acc.bandwidth(), model: FamilyModel::of(Family::from_name(&acc.family)), sms: sm_count(&acc.id), ceiling, fp8_top }
    }

    /// FP8 / 16-bit speed-up at `flops`: the family curve, its large-GEMM
    /// end moved to the accelerator's measured ratio where there is one
    /// (the small-GEMM end stays the family's).
    #[must_use]
    pub fn fp8_speedup(&self, flops: f64) -> f64 {
        let c = self.model.fp8_speedup;
        let s = c.at(flops);
        let Some(top) = self.fp8_top else { return s };
        // the curve's two ends (it is flat outside them)
        let (lo, hi) = (c.0[0].1, c.0[c.0.len() - 1].1);
        if hi > lo {
            lo + (s - lo) * (top - lo) / (hi - lo)
        } else {
            top
        }
    }

    /// The family constants in use.
    #[must_use]
    pub fn family_model(&self) -> FamilyModel {
        self.model
    }

    /// The same device with another GEMM scale (fits and their
    /// leave-one-out checks).
    #[must_use]
    pub fn with_gemm_scale(mut self, scale: f64) -> Self {
        self.model.gemm_scale = scale;
        self
    }

    /// GEMM efficiency by FLOPs on the 16-bit peak for this family.
    #[must_use]
    pub fn gemm_efficiency(&self, flops: f64) -> f64 {
        self.model.gemm_shape.at(flops) * self.model.gemm_scale * self.ceiling
    }

    /// The 16-bit efficiency of the largest GEMMs (the shape curve's top
    /// with the family scale and the measured ceiling).
    #[must_use]
    pub fn max_gemm_efficiency(&self) -> f64 {
        self.gemm_efficiency(f64::MAX)
    }

    /// A device from raw numbers (tests, calibration fallbacks).
    #[must_use]
    pub fn from_parts(peak_16bit: FlopPerSec, bandwidth: BytesPerSec) -> Self {
        let mut peaks = [0.0; 6];
        for d in Dtype::ALL {
            peaks[dtype_index(d)] = peak_16bit.value();
        }
        Self { peaks, bandwidth, model: FamilyModel::of(Family::Ampere), sms: 108, ceiling: 1.0, fp8_top: None }
    }

    fn gemm_bytes(m: u64, n: u64, k: u64, batch: u64, dtype: Dtype) -> f64 {
        let e = dtype.bytes();
        let out = crate::memory::activation_dtype_bytes(dtype);
        batch as f64 * (e * (m as f64 * k as f64 + k as f64 * n as f64) + out * m as f64 * n as f64)
    }
}

impl DeviceModel for AnalyticDevice {
    fn gemm_time(&self, m: u64, n: u64, k: u64, batch: u64, dtype: Dtype) -> Seconds {
        let flops = 2.0 * m as f64 * n as f64 * k as f64 * batch as f64;
        let peak = self.peaks[dtype_index(dtype)].max(1.0);
        // FP8 runs at the 16-bit rate times the family's measured speed-up
        // (capped by the FP8 peak), not at the FP8 peak with 16-bit efficiency
        let rate = if dtype == Dtype::Fp8 {
            let p16 = self.peaks[dtype_index(Dtype::Bf16)].max(self.peaks[dtype_index(Dtype::Fp16)]);
            if p16 > 0.0 {
                (p16 * self.gemm_efficiency(flops) * self.fp8_speedup(flops)).min(peak)
            } else {
                peak * self.gemm_efficiency(flops)
            }
        } else if dtype == Dtype::Bf16 || (dtype == Dtype::Fp16 && peak == self.peaks[dtype_index(Dtype::Bf16)]) {
            // BF16, or FP16 on the same engine (same peak): the measured ceiling applies
            peak * self.gemm_efficiency(flops)
        } else {
            // another matrix rate (TF32, FP32, FP64, FP16 on a separate
            // engine): no measurement, the family's curve
            peak * self.model.gemm_shape.at(flops) * self.model.gemm_scale
        };
        let compute = flops / (rate * wave_efficiency(m, n, batch, self.sms));
        let bytes = Self::gemm_bytes(m, n, k, batch, dtype);
        let memory = self.mem_time(Bytes::new(bytes)).value();
        Seconds::new(compute.max(memory))
    }
    fn mem_time(&self, bytes: Bytes) -> Seconds {
        let x = bytes.value();
        if x <= 0.0 {
            return Seconds::ZERO;
        }
        Seconds::new(x / (self.bandwidth.value() * MEM_EFFICIENCY.at(x)))
    }
    fn peak(&self, dtype: Dtype) -> FlopPerSec {
        FlopPerSec::new(self.peaks[dtype_index(dtype)])
    }
    fn attention_time(&self, flops: f64, seq: u64, backward: bool) -> Seconds {
        let p16 = self.peaks[dtype_index(Dtype::Bf16)].max(self.peaks[dtype_index(Dtype::Fp16)]).max(1.0);
        Seconds::new(attention_seconds(self.model, flops, seq, backward, p16))
    }
}

/// A device whose GEMM throughput comes from a measured calibration profile
/// (`achieved_flops_per_s(dtype, m, n, k)`); shapes the profile does not
/// cover fall back to the analytic model.
pub struct ProfileDevice<F> {
    pub fallback: AnalyticDevice,
    pub achieved_flops_per_s: F,
}

impl<F> DeviceModel for ProfileDevice<F>
where
    F: Fn(Dtype, u64, u64, u64) -> Option<f64> + Sync,
{
    fn gemm_time(&self, m: u64, n: u64, k: u64, batch: u64, dtype: Dtype) -> Seconds {
        match (self.achieved_flops_per_s)(dtype, m, n, k) {
            Some(r) if r > 0.0 => Seconds::new(2.0 * m as f64 * n as f64 * k as f64 * batch as f64 / r),
            _ => self.fallback.gemm_time(m, n, k, batch, dtype),
        }
    }
    fn mem_time(&self, bytes: Bytes) -> Seconds {
        self.fallback.mem_time(bytes)
    }
    fn peak(&self, dtype: Dtype) -> FlopPerSec {
        self.fallback.peak(dtype)
    }
    fn attention_time(&self, flops: f64, seq: u64, backward: bool) -> Seconds {
        self.fallback.attention_time(flops, seq, backward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_matmul_ceilings_carry_the_a100_scale() {
        let dev = |id: &str| AnalyticDevice::new(&crate::catalog::accelerator(id).unwrap());
        let big = 1e13;
        // A100 is the reference: its efficiency is the fitted curve itself
        assert!((dev("a100-sxm4-80gb").gemm_efficiency(big) - GEMM_SHAPE.at(big) * GEMM_EFFICIENCY_SCALE).abs() < 1e-12);
        // H100: 794.5 / 989.5 of peak against A100's 271.2 / 312
        let h = dev("h100-sxm5-80gb");
        let want = GEMM_SHAPE.at(big) * HOPPER_GEMM_SCALE * (794.5 / 989.5) / (271.2 / 312.0);
        assert!((h.gemm_efficiency(big) - want).abs() < 1e-12);
        // its FP8 speed-up: the measured ratio at the large end, the family's at the small end
        assert!((h.fp8_speedup(1e15) - 1402.6 / 794.5).abs() < 1e-9);
        assert!((h.fp8_speedup(1e6) - HOPPER_FP8_SPEEDUP.at(1e6)).abs() < 1e-12);
        // MI300X's ceiling (51.4 %) is well under A100's (86.9 %)
        assert!(dev("mi300x").gemm_efficiency(big) < 0.6 * dev("a100-sxm4-80gb").gemm_efficiency(big));
        assert!((h.max_gemm_efficiency() - 0.95 * want / GEMM_SHAPE.at(big)).abs() < 1e-12);
        // without a measurement nothing changes (TPU v4: the family's scale)
        assert!((dev("tpu-v4").gemm_efficiency(big) - GEMM_SHAPE.at(big) * GEMM_EFFICIENCY_SCALE).abs() < 1e-12);
    }

    /// Hopper falls off with size on its own measured curve (OpenXLA sm_90
    /// table) and keeps the A100 curve's top, so its large-GEMM level is
    /// still the MAMF-carried fit; A100 keeps Calculon's shape.
    #[test]
    fn hopper_has_its_own_gemm_shape_with_the_same_top() {
        let dev = |id: &str| AnalyticDevice::new(&crate::catalog::accelerator(id).unwrap());
        let (h, a) = (dev("h100-sxm5-80gb"), dev("a100-sxm4-80gb"));
        let rel = |d: &AnalyticDevice, f: f64| d.gemm_efficiency(f) / d.max_gemm_efficiency();
        // 23 GFLOP: Hopper measured 0.608 of peak against 0.810 at the top
        assert!((rel(&h, 22.6e9) - 0.608 / 0.810).abs() < 1e-9, "{}", rel(&h, 22.6e9));
        assert!((rel(&a, 22.6e9) - GEMM_SHAPE.at(22.6e9) / 0.95).abs() < 1e-12);
        assert!(rel(&h, 22.6e9) < rel(&a, 22.6e9) - 0.15);
        // the top is shared: large GEMMs unchanged by the shape
        assert_eq!(HOPPER_GEMM_SHAPE.at(1e15), GEMM_SHAPE.at(1e15));
        // the points rise with size (the bins 45 and 91 GFLOP are level)
        assert!(HOPPER_GEMM_SHAPE.0.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(dev("h200-sxm-141gb").family_model().gemm_shape.0.len(), HOPPER_GEMM_SHAPE.0.len());
    }

    #[test]
    fn curve_interpolates_and_clamps() {
        assert!((GEMM_SHAPE.at(1e9) - 0.60).abs() < 1e-12);
        assert!((gemm_efficiency(1e15) - GEMM_EFFICIENCY_MAX).abs() < 1e-12);
        assert!((GEMM_SHAPE.at(1.0) - 0.10).abs() < 1e-12);
        let mid = GEMM_SHAPE.at(4e9);
        assert!(mid > 0.60 && mid < 0.90);
    }

    #[test]
    fn large_gemm_is_compute_bound_attention_core_memory_bound() {
        let d = AnalyticDevice::from_parts(FlopPerSec::from_tflops(312.0), BytesPerSec::from_gb_s(2039.0));
        let big = d.gemm_time(8192, 8192, 8192, 1, Dtype::Fp16).value();
        let ideal = 2.0 * 8192f64.powi(3) / 312e12;
        let waves = wave_efficiency(8192, 8192, 1, 108);
        assert!((big / ideal - 1.0 / (GEMM_EFFICIENCY_MAX * waves)).abs() < 1e-9);
        // 32 x 64 = 2048 tiles = 18.96 waves of 108 SMs
        assert!((waves - 2048.0 / (19.0 * 108.0)).abs() < 1e-12);
        // QKᵀ of one head with d = 64: 128 FLOP/B, below the 153 FLOP/B ridge
        let qk = d.gemm_time(2048, 2048, 64, 32, Dtype::Fp16).value();
        let flops_bound = 2.0 * 2048.0 * 2048.0 * 64.0 * 32.0 / (312e12 * gemm_efficiency(2.0 * 2048.0 * 2048.0 * 64.0 * 32.0));
        assert!(qk > flops_bound);
    }

    fn h100() -> AnalyticDevice {
        AnalyticDevice::new(&crate::catalog::accelerator("h100-sxm5-80gb").unwrap())
    }

    /// Every family's GEMM, FP8 and attention curves rise with size and
    /// stay below the peak.
    #[test]
    fn family_curves_are_monotone_and_below_peak() {
        for f in [Family::Ampere, Family::Hopper, Family::Blackwell, Family::Other] {
            let m = FamilyModel::of(f);
            let mut last = (0.0, 0.0, 0.0);
            for i in 0..40 {
                let x = 1e6 * 2f64.powi(i);
                let g = GEMM_SHAPE.at(x) * m.gemm_scale;
                let g8 = g * m.fp8_speedup.at(x) / 2.0;
                assert!(g >= last.0 && g < 1.0 && g8 >= last.1 && g8 < 1.0, "{f:?} {x}");
                last.0 = g;
                last.1 = g8;
            }
            for s in [128.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 131072.0] {
                let a = m.attn_fwd.at(s).min(m.attn_bwd.at(s));
                assert!(a >= last.2 && m.attn_fwd.at(s) < 1.0 && m.attn_bwd.at(s) < 1.0, "{f:?} {s}");
                last.2 = a;
            }
        }
    }

    /// FP8 linear layers on H100: faster than BF16 for large GEMMs, but not 2x.
    #[test]
    fn fp8_beats_bf16_on_h100_but_not_twofold() {
        let d = h100();
        for n in [4096u64, 8192, 16384] {
            let b = d.gemm_time(n, n, n, 1, Dtype::Bf16).value();
            let f = d.gemm_time(n, n, n, 1, Dtype::Fp8).value();
            assert!(f < b && b / f < 1.9, "{n}: bf16 {b} fp8 {f}");
        }
        // the attention kernel is 16-bit whatever the run's dtype
        assert!(d.attention_time(1e12, 4096, false).value() > 1e12 / d.peak(Dtype::Bf16).value());
        // FA3 at 2k is faster on H100 than FA2 on A100 in absolute terms
        let a100 = AnalyticDevice::new(&crate::catalog::accelerator("a100-sxm4-80gb").unwrap());
        assert!(d.attention_time(1e12, 2048, true).value() < a100.attention_time(1e12, 2048, true).value());
    }

    #[test]
    fn profile_overrides_gemm() {
        let fallback = AnalyticDevice::from_parts(FlopPerSec::from_tflops(312.0), BytesPerSec::from_gb_s(2039.0));
        let p = ProfileDevice { fallback, achieved_flops_per_s: |_d: Dtype, _m: u64, _n: u64, _k: u64| Some(100e12) };
        let t = p.gemm_time(1000, 1000, 1000, 1, Dtype::Fp16).value();
        assert!((t - 2e9 / 100e12).abs() < 1e-15);
    }
}
