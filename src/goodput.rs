//! Production goodput: the share of a run's wall clock spent on useful
//! training, once failures, restarts, checkpoints and evaluation are paid.
//!
//! ```text
//! M  = 1 / (λ · GPUs)                      job mean time to interruption (h)
//! δ  = checkpoint bytes / write bandwidth   blocking checkpoint write (s)
//! τ  = sqrt(2 · δ · M)                      checkpoint interval (Young 1974)
//! L  = τ / 2 + R                            work lost per interruption (s)
//! goodput = (1 − L / M) / (1 + δ/τ + e + r) productive time / wall time
//! wall time = ideal wall time / goodput
//! ```
//!
//! with λ the unexpected interruptions per GPU-hour, R the restart time,
//! e the evaluation share and r the ramp-up share of productive time. The
//! first-order waste `δ/τ + (τ/2 + R)/M` is the standard Young/Daly cost
//! (Young 1974; Daly 2006, whose higher-order terms are not used here).
//!
//! | constant | default | source |
//! |---|---|---|
//! | λ | 2.0e-5 per GPU-hour | Llama Team 2024 (arXiv 2407.21783) §3.3.4 / Table 5: 419 unexpected interruptions in 54 days on 16,384 H100 → 419 / (16,384 × 1,296 h) = 1.97e-5 (derived; GPU count during the window assumed) |
//! | bytes per parameter | 14 (2-byte weights + fp32 master + two fp32 Adam moments) | Narayanan et al. 2021 §5.10: 13.8 TB for 1.008e12 parameters = 13.7 B/param (derived) |
//! | write bandwidth | 273 GB/s for the job | Narayanan et al. 2021 §5.10: 1T checkpoint saved at "40 % of peak write bandwidth (273 GB/s)" on Selene; assumed available to the job whatever its size |
//! | R | 946 s = 600 s detect + diagnose, + 346 s job init and checkpoint load | Jiang et al. 2024 (MegaScale, arXiv 2402.15627) §6.3: detection + diagnostics "less than 10 minutes" on average; init: median of the untimed init (`init_start`→`init_stop`) of six MLPerf Training GPT-3 logs v3.0–v4.0 (168–832 s, derived) |
//! | e | 0.01 of productive time | assumption: no published whole-run evaluation share was found; MLPerf GPT-3's 7.5–11 % is a short-run upper bound |
//! | r | 0 | Llama Team 2024 §3.4.1: the reduced-batch ramp-up covers 252M of 15.6T tokens (< 0.01 %); its wall-time effect is second order (derived) |
//!
//! Every constant can be overridden: `--goodput X` replaces the factor,
//! `--failure-rate` and `--checkpoint-bandwidth` the model's inputs.

use serde::Serialize;

/// Unexpected job interruptions per GPU-hour (Llama 3 §3.3.4, derived).
pub const FAILURE_RATE_PER_GPU_HOUR: f64 = 2.0e-5;
/// Checkpoint bytes per parameter with mixed-precision Adam state (Narayanan 2021 §5.10, derived 13.7).
pub const CHECKPOINT_BYTES_PER_PARAM: f64 = 14.0;
/// Bytes per trainable parameter beyond the 2-byte weights (fp32 master + 2 moments).
pub const OPTIMIZER_BYTES_PER_TRAINABLE_PARAM: f64 = 12.0;
/// Checkpoint write bandwidth available to the job, GB/s (Narayanan 2021 §5.10, Selene).
pub const CHECKPOINT_WRITE_GB_PER_S: f64 = 273.0;
/// Failure detection and diagnosis, s (MegaScale 2024 §6.3: "less than 10 minutes").
pub const DETECT_S: f64 = 600.0;
/// Job init and checkpoint load, s (median of six MLPerf GPT-3 logs, 168–832 s, derived).
pub const INIT_S: f64 = 346.0;
/// Evaluation share of productive time (assumption; see the module doc).
pub const EVAL_SHARE: f64 = 0.01;
/// Ramp-up share of productive time (second order; see the module doc).
pub const RAMP_UP_SHARE: f64 = 0.0;
/// The goodput floor: below it the job would spend its time recovering.
pub const MIN_GOODPUT: f64 = 0.05;

/// What the user asked for (all optional).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GoodputRequest {
    /// `--goodput`: the factor itself.
    pub factor: Option<f64>,
    /// `--failure-rate`: interruptions per GPU-hour.
    pub failure_rate_per_gpu_hour: Option<f64>,
    /// `--checkpoint-bandwidth`: GB/s.
    pub checkpoint_gb_per_s: Option<f64>,
}

/// The model's inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GoodputInputs {
    pub gpus: f64,
    pub failure_rate_per_gpu_hour: f64,
    pub checkpoint_bytes: f64,
    pub checkpoint_gb_per_s: f64,
    pub restart_s: f64,
    pub eval_share: f64,
    pub ramp_up_share: f64,
}

impl GoodputInputs {
    /// The defaults for a run of `gpus` GPUs holding `params_total`
    /// parameters of which `params_trainable` carry optimizer state.
    #[must_use]
    pub fn new(gpus: f64, params_total: f64, params_trainable: f64, req: &GoodputRequest) -> Self {
        Self {
            gpus,
            failure_rate_per_gpu_hour: req.failure_rate_per_gpu_hour.unwrap_or(FAILURE_RATE_PER_GPU_HOUR),
            checkpoint_bytes: checkpoint_bytes(params_total, params_trainable),
            checkpoint_gb_per_s: req.checkpoint_gb_per_s.unwrap_or(CHECKPOINT_WRITE_GB_PER_S),
            restart_s: DETECT_S + INIT_S,
            eval_share: EVAL_SHARE,
            ramp_up_share: RAMP_UP_SHARE,
        }
    }
}

/// Checkpoint size: 2-byte weights for every parameter plus fp32 master
/// weights and two Adam moments for the trainable ones (14 B/param for
/// full training).
#[must_use]
pub fn checkpoint_bytes(params_total: f64, params_trainable: f64) -> f64 {
    2.0 * params_total + OPTIMIZER_BYTES_PER_TRAINABLE_PARAM * params_trainable
}

/// Young's (1974) optimal checkpoint interval `sqrt(2 δ M)`.
#[must_use]
pub fn young_interval(delta: f64, mtbf: f64) -> f64 {
    (2.0 * delta * mtbf).sqrt()
}

/// The first-order form of Daly's (2006) interval, `sqrt(2 δ M) − δ`
/// (for comparison; the model uses Young's).
#[must_use]
pub fn daly_first_order_interval(delta: f64, mtbf: f64) -> f64 {
    young_interval(delta, mtbf) - delta
}

/// The goodput model's terms. Shares are of the wall clock and sum to 1
/// with the productive share (`factor`) unless the floor applies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GoodputModel {
    /// Productive time / wall time, as modelled.
    pub factor: f64,
    pub failure_rate_per_gpu_hour: f64,
    /// Job mean time to interruption.
    pub mtti_h: f64,
    pub checkpoint_bytes: f64,
    pub checkpoint_write_gb_per_s: f64,
    pub checkpoint_write_s: f64,
    /// Young's optimal interval.
    pub checkpoint_interval_s: f64,
    pub restart_s: f64,
    /// τ/2 + restart.
    pub lost_per_interruption_s: f64,
    pub checkpoint_share: f64,
    pub failure_share: f64,
    pub eval_share: f64,
    pub ramp_up_share: f64,
    /// Whether the floor [`MIN_GOODPUT`] applied.
    pub floored: bool,
}

/// Evaluates the model.
#[must_use]
pub fn model(i: &GoodputInputs) -> GoodputModel {
    let rate = i.failure_rate_per_gpu_hour * i.gpus;
    let mtti_s = if rate > 0.0 { 3600.0 / rate } else { f64::INFINITY };
    let delta = i.checkpoint_bytes / (i.checkpoint_gb_per_s * 1e9);
    let (tau, ckpt_over, fail) = if mtti_s.is_finite() {
        let tau = young_interval(delta, mtti_s).max(delta);
        (tau, delta / tau, (tau / 2.0 + i.restart_s) / mtti_s)
    } else {
        (f64::INFINITY, 0.0, 0.0)
    };
    let raw = (1.0 - fail) / (1.0 + ckpt_over + i.eval_share + i.ramp_up_share);
    let floored = raw < MIN_GOODPUT;
    let g = raw.max(MIN_GOODPUT);
    GoodputModel {
        factor: g,
        failure_rate_per_gpu_hour: i.failure_rate_per_gpu_hour,
        mtti_h: mtti_s / 3600.0,
        checkpoint_bytes: i.checkpoint_bytes,
        checkpoint_write_gb_per_s: i.checkpoint_gb_per_s,
        checkpoint_write_s: delta,
        checkpoint_interval_s: tau,
        restart_s: i.restart_s,
        lost_per_interruption_s: tau / 2.0 + i.restart_s,
        checkpoint_share: g * ckpt_over,
        failure_share: fail.min(1.0),
        eval_share: g * i.eval_share,
        ramp_up_share: g * i.ramp_up_share,
        floored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daly_test_points() {
        // Daly 2006 Figs. 3-5 (abstract page): M, δ in minutes; first-order forms
        for (m, d, young, daly1) in [(24.0 * 60.0, 5.0, 120.0, 115.0), (6.0 * 60.0, 5.0, 60.0, 55.0), (15.0, 5.0, 12.2, 7.2)] {
            assert!((young_interval(d, m) - young).abs() < 0.1, "{m}");
            assert!((daly_first_order_interval(d, m) - daly1).abs() < 0.1, "{m}");
        }
    }

    #[test]
    fn llama3_rate_is_the_derived_one() {
        let rate: f64 = 419.0 / (16_384.0 * 54.0 * 24.0);
        assert!((rate - 1.97e-5).abs() < 0.01e-5);
        assert!((FAILURE_RATE_PER_GPU_HOUR / rate - 1.0).abs() < 0.02);
    }

    #[test]
    fn shares_sum_to_one_and_scale_with_gpus() {
        let req = GoodputRequest::default();
        let small = model(&GoodputInputs::new(8.0, 7e9, 7e9, &req));
        let big = model(&GoodputInputs::new(16_384.0, 405e9, 405e9, &req));
        for g in [small, big] {
            let sum = g.factor + g.checkpoint_share + g.failure_share + g.eval_share + g.ramp_up_share;
            assert!((sum - 1.0).abs() < 1e-12, "{sum}");
        }
        assert!(small.factor > 0.98 && small.factor < 1.0, "{}", small.factor);
        // Llama 3 405B at 16K GPUs: reported "> 90 %" effective training time with
        // faster-than-default checkpointing and restarts; the default model gives ≈0.85
        assert!(big.factor > 0.80 && big.factor < 0.92, "{}", big.factor);
        assert!((big.mtti_h - 3.05).abs() < 0.01);
    }

    #[test]
    fn the_floor_applies() {
        let req = GoodputRequest { failure_rate_per_gpu_hour: Some(1.0), ..GoodputRequest::default() };
        let g = model(&GoodputInputs::new(1000.0, 1e12, 1e12, &req));
        assert!(g.floored && g.factor == MIN_GOODPUT);
        let none = model(&GoodputInputs::new(8.0, 1e9, 1e9, &GoodputRequest { failure_rate_per_gpu_hour: Some(0.0), ..GoodputRequest::default() }));
        assert!(!none.floored && (none.factor - 1.0 / 1.01).abs() < 1e-12);
    }
}
