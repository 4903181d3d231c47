//! Closing the loop: predict the time of a GEMM sequence (e.g. one
//! transformer training step) from a calibration profile, run the sequence
//! on the same device, and report the relative error.

use crate::calibrate::stats;
use crate::calibrate::{cpu, cuda, CalibrateError, CalibrationProfile, DeviceKind, Dtype, GemmShape};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckItem {
    pub dtype: Dtype,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub flops: f64,
    /// From the profile's efficiency curve.
    pub achieved_flops_per_s: f64,
    pub predicted_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub device: DeviceKind,
    pub items: Vec<CheckItem>,
    pub total_flops: f64,
    pub predicted_s: f64,
    /// Median over repeats of the whole sequence, run back to back.
    pub measured_s: f64,
    pub measured_ci95_low: f64,
    pub measured_ci95_high: f64,
    pub repeats: usize,
    /// (predicted - measured) / measured.
    pub rel_error: f64,
}

/// GEMMs of one training step of a transformer block's dense layers
/// (QKV projection, attention output projection, FFN up (4h) and down), each
/// as forward Y = X·W, backward dX = dY·Wᵀ and dW = Xᵀ·dY; `tokens` =
/// sequence length x batch. Attention score GEMMs are not included.
pub fn transformer_step_shapes(hidden: usize, tokens: usize, dtype: Dtype) -> Vec<(Dtype, GemmShape)> {
    let h = hidden;
    let t = tokens;
    // (in, out) features of each dense layer
    let layers = [(h, 3 * h), (h, h), (h, 4 * h), (4 * h, h)];
    let mut v = Vec::new();
    for (fin, fout) in layers {
        v.push((dtype, GemmShape::new(t, fout, fin))); // forward
        v.push((dtype, GemmShape::new(t, fin, fout))); // dX
        v.push((dtype, GemmShape::new(fin, fout, t))); // dW
    }
    v
}

/// Predict the sequence from `profile`, then execute it on the profile's
/// device kind (CPU: `profile.device.threads` threads) and compare.
pub fn check(profile: &CalibrationProfile, shapes: &[(Dtype, GemmShape)]) -> Result<CheckReport, CalibrateError> {
    if shapes.is_empty() {
        return Err(CalibrateError::InvalidOptions("check needs at least one GEMM shape".into()));
    }
    let mut items = Vec::with_capacity(shapes.len());
    for (dtype, s) in shapes {
        let f = profile.achieved_flops_per_s(*dtype, s.m, s.n, s.k).ok_or_else(|| {
            let mut measured: Vec<&str> = profile.results.iter().map(|r| r.dtype.as_str()).collect();
            measured.dedup();
            CalibrateError::NoMeasurement { dtype: *dtype, measured: measured.join(", ") }
        })?;
        items.push(CheckItem { dtype: *dtype, m: s.m, n: s.n, k: s.k, flops: s.flops(), achieved_flops_per_s: f, predicted_s: s.flops() / f });
    }
    let predicted_s: f64 = items.iter().map(|i| i.predicted_s).sum();
    let total_flops: f64 = items.iter().map(|i| i.flops).sum();
    // enough repeats for a usable median without running for long
    let repeats = ((2.0 / predicted_s.max(1e-6)) as usize).clamp(5, 50);
    let samples = match profile.device.kind {
        DeviceKind::Cpu => cpu::time_sequence(shapes, profile.device.threads.max(1), repeats)?,
        DeviceKind::Cuda => cuda::time_sequence(shapes, repeats)?,
    };
    let s = stats::summarize(&samples);
    Ok(CheckReport {
        device: profile.device.kind,
        items,
        total_flops,
        predicted_s,
        measured_s: s.median,
        measured_ci95_low: s.ci95_low,
        measured_ci95_high: s.ci95_high,
        repeats: s.n,
        rel_error: (predicted_s - s.median) / s.median,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transformer_shapes() {
        let v = transformer_step_shapes(512, 2048, Dtype::Fp32);
        assert_eq!(v.len(), 12);
        assert!(v.contains(&(Dtype::Fp32, GemmShape::new(2048, 1536, 512))));
        assert!(v.contains(&(Dtype::Fp32, GemmShape::new(512, 2048, 2048)))); // FFN-up dW: h x 4h, k = tokens
                                                                              // total flops = 3 passes x 2 x T x (params of 4 layers = 12 h^2)
        let total: f64 = v.iter().map(|x| x.1.flops()).sum();
        assert_eq!(total, 3.0 * 2.0 * 2048.0 * 12.0 * 512.0 * 512.0);
    }

    #[test]
    fn check_on_cpu_tiny() {
        let mut p = crate::calibrate::tests::sample_profile();
        p.device.threads = 1;
        let shapes = vec![(Dtype::Fp32, GemmShape::new(32, 16, 8)), (Dtype::Fp32, GemmShape::new(8, 8, 8))];
        let r = check(&p, &shapes).unwrap();
        assert_eq!(r.items.len(), 2);
        assert!(r.predicted_s > 0.0 && r.measured_s > 0.0);
        assert!(r.rel_error.is_finite());
        // dtype without measurements -> clear error
        let e = check(&p, &[(Dtype::Fp16, GemmShape::square(8))]).unwrap_err();
        assert!(e.to_string().contains("no measurement for fp16"), "{e}");
    }
}
