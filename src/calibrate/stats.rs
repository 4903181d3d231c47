//! Repeat-until-stable timing and robust summaries: median, CV, a
//! distribution-free 95% CI for the median (binomial order statistics),
//! MAD-based outlier count.

use statrs::distribution::{Binomial, DiscreteCDF};
use std::time::Instant;

/// When to stop repeating a measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasureConfig {
    /// Untimed runs before the first sample (caches, page faults, clocks).
    pub warmup_runs: usize,
    pub min_repeats: usize,
    pub max_repeats: usize,
    /// Stop once the 95% CI half-width of the median is below this fraction
    /// of the median.
    pub target_rel_halfwidth: f64,
    /// Wall-clock budget for this measurement (seconds, warm-up included);
    /// `min_repeats` samples are taken even when it is exceeded.
    pub budget_s: f64,
    /// Each sample runs the kernel back to back until it lasts about this
    /// long, so that timer resolution and launch overhead do not dominate.
    pub min_sample_s: f64,
}

impl Default for MeasureConfig {
    fn default() -> Self {
        MeasureConfig { warmup_runs: 2, min_repeats: 5, max_repeats: 200, target_rel_halfwidth: 0.02, budget_s: 2.0, min_sample_s: 0.005 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub mean: f64,
    pub std: f64,
    /// std / mean.
    pub cv: f64,
    /// Median absolute deviation (unscaled).
    pub mad: f64,
    /// 95% CI of the median (order statistics; [min, max] when n < 6).
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// Exact coverage of that interval under the binomial model.
    pub ci_coverage: f64,
    /// Samples more than 3 scaled MADs (1.4826 x MAD) from the median.
    pub outliers: usize,
}

impl Summary {
    /// Half-width of the CI relative to the median.
    pub fn rel_halfwidth(&self) -> f64 {
        if self.median > 0.0 {
            (self.ci95_high - self.ci95_low) / 2.0 / self.median
        } else {
            f64::INFINITY
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Seconds per single kernel call, one per sample.
    pub samples: Vec<f64>,
    /// Kernel calls per sample.
    pub inner: usize,
    pub summary: Summary,
    /// Wall seconds spent in the timed samples (not warm-up).
    pub timed_wall_s: f64,
    /// True if the budget ran out before the CI target was met.
    pub budget_exhausted: bool,
}

pub fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    assert!(n > 0, "median of no samples");
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("NaN in timing samples"));
    v
}

/// Distribution-free 95% CI for the median from the order statistics:
/// the widest-possible symmetric pair (x_(j), x_(n-j+1)) whose coverage
/// P(j <= B <= n-j), B ~ Binomial(n, 1/2), is still >= 95%.
/// Returns (low, high, coverage). For n < 6 no such pair exists and the
/// sample range is returned with its (lower) coverage.
pub fn median_ci95(sorted: &[f64]) -> (f64, f64, f64) {
    let n = sorted.len();
    assert!(n > 0);
    if n == 1 {
        return (sorted[0], sorted[0], 0.0);
    }
    let b = Binomial::new(0.5, n as u64).expect("valid binomial");
    // largest j >= 1 with P(B <= j-1) <= 0.025
    let mut j = 0usize;
    for cand in 1..=n / 2 {
        if b.cdf((cand - 1) as u64) <= 0.025 {
            j = cand;
        } else {
            break;
        }
    }
    if j == 0 {
        let cov = 1.0 - 2.0 * b.cdf(0);
        return (sorted[0], sorted[n - 1], cov);
    }
    let cov = 1.0 - 2.0 * b.cdf((j - 1) as u64);
    (sorted[j - 1], sorted[n - j], cov)
}

pub fn summarize(xs: &[f64]) -> Summary {
    let s = sorted(xs);
    let n = s.len();
    let median = median_sorted(&s);
    let mean = s.iter().sum::<f64>() / n as f64;
    let var = if n > 1 { s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
    let std = var.sqrt();
    let cv = if mean > 0.0 { std / mean } else { 0.0 };
    let mad = median_sorted(&sorted(&s.iter().map(|x| (x - median).abs()).collect::<Vec<_>>()));
    let scaled = 1.4826 * mad;
    let outliers = if scaled > 0.0 { s.iter().filter(|x| (*x - median).abs() > 3.0 * scaled).count() } else { 0 };
    let (lo, hi, cov) = median_ci95(&s);
    Summary { n, median, mean, std, cv, mad, ci95_low: lo, ci95_high: hi, ci_coverage: cov, outliers }
}

impl Measurement {
    /// All warnings of this measurement: noise and outliers of its summary,
    /// and a time budget that ran out before the CI target.
    #[must_use]
    pub fn warnings(&self, label: &str) -> Vec<String> {
        let mut w = warnings_for(label, &self.summary);
        if self.budget_exhausted {
            w.push(format!(
                "{label}: time budget ran out before the 95% CI reached +-2% (now +-{:.1}%, {} runs)",
                self.summary.rel_halfwidth() * 100.0,
                self.summary.n
            ));
        }
        w
    }
}

/// Warnings for a summary; `label` names the kernel, e.g. "fp32 1024x1024x1024".
pub fn warnings_for(label: &str, s: &Summary) -> Vec<String> {
    let mut w = Vec::new();
    if s.cv > 0.05 {
        w.push(format!("noisy: {label}: run-to-run CV {:.1}% > 5%: close other programs (and check CPU frequency scaling / thermal throttling)", s.cv * 100.0));
    }
    if s.outliers > 0 {
        w.push(format!("{label}: {} of {} runs are outliers (> 3 MAD from the median); the median is used", s.outliers, s.n));
    }
    w
}

/// Time a kernel: `run(inner)` executes it `inner` times back to back and
/// returns the elapsed seconds (wall clock, or device events). Warm-up, then
/// samples until the CI target, the budget or `max_repeats` is reached.
pub fn measure<E>(cfg: &MeasureConfig, mut run: impl FnMut(usize) -> Result<f64, E>) -> Result<Measurement, E> {
    let start = Instant::now();
    let mut one = f64::INFINITY;
    for _ in 0..cfg.warmup_runs.max(1) {
        one = one.min(run(1)?);
    }
    let inner = if one > 0.0 && one.is_finite() { ((cfg.min_sample_s / one).ceil() as usize).clamp(1, 10_000) } else { 1 };
    let min_rep = cfg.min_repeats.max(1);
    let mut samples = Vec::new();
    let t_timed = Instant::now();
    let mut budget_exhausted = false;
    loop {
        let t = run(inner)?;
        samples.push(t / inner as f64);
        let n = samples.len();
        if n >= cfg.max_repeats.max(min_rep) {
            budget_exhausted = n >= cfg.max_repeats && summarize(&samples).rel_halfwidth() >= cfg.target_rel_halfwidth;
            break;
        }
        if n >= min_rep {
            let s = summarize(&samples);
            if s.rel_halfwidth() < cfg.target_rel_halfwidth {
                break;
            }
            if start.elapsed().as_secs_f64() >= cfg.budget_s {
                budget_exhausted = true;
                break;
            }
        }
    }
    let summary = summarize(&samples);
    Ok(Measurement { samples, inner, summary, timed_wall_s: t_timed.elapsed().as_secs_f64(), budget_exhausted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_cv() {
        let s = summarize(&[3.0, 1.0, 2.0]);
        assert_eq!(s.median, 2.0);
        assert_eq!(s.mean, 2.0);
        assert!((s.std - 1.0).abs() < 1e-12);
        assert!((s.cv - 0.5).abs() < 1e-12);
        assert_eq!(summarize(&[4.0, 1.0, 3.0, 2.0]).median, 2.5);
    }

    #[test]
    fn ci_order_statistics() {
        // n = 5: no 95% pair exists -> range, coverage 1 - 2/32
        let (lo, hi, cov) = median_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((lo, hi), (1.0, 5.0));
        assert!((cov - 0.9375).abs() < 1e-9);
        // n = 6: P(B<=0) = 1/64 <= 0.025 -> (x1, x6), coverage 0.96875
        let v: Vec<f64> = (1..=6).map(f64::from).collect();
        let (lo, hi, cov) = median_ci95(&v);
        assert_eq!((lo, hi), (1.0, 6.0));
        assert!((cov - 0.96875).abs() < 1e-9);
        // n = 100: textbook pair is (x40, x61)
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let (lo, hi, cov) = median_ci95(&v);
        assert_eq!((lo, hi), (40.0, 61.0));
        assert!((0.95..0.97).contains(&cov), "{cov}");
    }

    #[test]
    fn ci_covers_true_median_mostly() {
        // synthetic: 400 trials of n=21 draws from a skewed distribution
        let mut rng = crate::calibrate::Rng::new(7);
        let true_median = (2f64).ln(); // Exp(1)
        let mut hit = 0;
        for _ in 0..400 {
            let xs: Vec<f64> = (0..21).map(|_| -(1.0 - rng.uniform()).ln()).collect();
            let s = summarize(&xs);
            if s.ci95_low <= true_median && true_median <= s.ci95_high {
                hit += 1;
            }
        }
        let rate = f64::from(hit) / 400.0;
        assert!(rate > 0.92, "coverage {rate}");
    }

    #[test]
    fn outliers_and_warnings() {
        let mut xs = vec![1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01];
        let s = summarize(&xs);
        assert_eq!(s.outliers, 0);
        assert!(warnings_for("x", &s).is_empty());
        xs.push(5.0);
        let s = summarize(&xs);
        assert_eq!(s.outliers, 1);
        let w = warnings_for("fp32 8x8x8", &s);
        assert!(w.iter().any(|m| m.starts_with("noisy")), "{w:?}");
        assert!(w.iter().any(|m| m.contains("outlier")), "{w:?}");
    }

    #[test]
    fn measure_stops_when_stable() {
        let cfg = MeasureConfig { min_sample_s: 0.0, ..Default::default() };
        let mut calls = 0;
        let m = measure::<()>(&cfg, |inner| {
            calls += 1;
            Ok(0.001 * inner as f64)
        })
        .unwrap();
        assert_eq!(m.samples.len(), 5);
        assert_eq!(m.summary.median, 0.001);
        assert!(!m.budget_exhausted);
        assert_eq!(calls, 2 + 5);
    }

    #[test]
    fn measure_respects_budget_and_min_repeats() {
        // alternating noisy samples never reach 2%; zero budget -> exactly min repeats
        let cfg = MeasureConfig { budget_s: 0.0, min_sample_s: 0.0, ..Default::default() };
        let mut i = 0;
        let m = measure::<()>(&cfg, |_| {
            i += 1;
            Ok(if i % 2 == 0 { 1.0 } else { 2.0 })
        })
        .unwrap();
        assert_eq!(m.samples.len(), 5);
        assert!(m.budget_exhausted);
        // errors propagate
        let e = measure(&cfg, |_| Err::<f64, &str>("boom"));
        assert_eq!(e.unwrap_err(), "boom");
    }

    #[test]
    fn measure_batches_short_kernels() {
        let cfg = MeasureConfig { min_sample_s: 0.01, ..Default::default() };
        let m = measure::<()>(&cfg, |inner| Ok(1e-4 * inner as f64)).unwrap();
        assert_eq!(m.inner, 100);
        assert!((m.summary.median - 1e-4).abs() < 1e-12);
    }
}
