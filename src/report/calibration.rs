//! `flopprint calibrate`'s table.

use crate::calibrate::{CalibrationProfile, CheckReport};
use std::fmt::Write as _;

/// The profiles and closing-the-loop checks as a table.
#[must_use]
pub fn table(profiles: &[CalibrationProfile], checks: &[(usize, CheckReport)]) -> String {
    let mut s = String::new();
    for p in profiles {
        let _ = writeln!(
            s,
            "device: {} ({:?}, {} threads){}",
            p.device.name,
            p.device.kind,
            p.device.threads,
            p.device.catalog_id.as_ref().map_or(String::new(), |c| format!(", catalog id {c}"))
        );
        for pk in &p.device.peaks {
            let _ = writeln!(
                s,
                "peak {} [{}]: theoretical {} GFLOP/s, FMA loop {} GFLOP/s{}",
                pk.dtype,
                pk.isa,
                pk.theoretical_flops_per_s.map_or("n/a".into(), |v| format!("{:.1}", v / 1e9)),
                pk.measured_flops_per_s.map_or("n/a".into(), |v| format!("{:.1}", v / 1e9)),
                if pk.used_by_gemm_backend { " (used by the GEMM backend)" } else { "" }
            );
        }
        let _ = writeln!(s, "power: {:?} {}", p.power.source, p.power.note);
        let _ = writeln!(
            s,
            "{:<6} {:>6} {:>6} {:>6} {:>10} {:>12} {:>22} {:>6} {:>7} {:>8}",
            "dtype", "m", "n", "k", "GFLOP/s", "median ms", "95% CI ms", "CV %", "repeats", "verified"
        );
        for r in &p.results {
            let _ = writeln!(
                s,
                "{:<6} {:>6} {:>6} {:>6} {:>10.1} {:>12.3} {:>10.3} - {:<10.3} {:>6.1} {:>7} {:>8}",
                r.dtype,
                r.m,
                r.n,
                r.k,
                r.flops_per_s / 1e9,
                r.seconds_median * 1e3,
                r.ci95_low * 1e3,
                r.ci95_high * 1e3,
                r.cv * 100.0,
                r.repeats,
                r.verified
            );
        }
        for w in &p.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
    }
    for (h, c) in checks {
        let _ = writeln!(
            s,
            "check h={h}, 2048 tokens ({} GEMMs, {:.2} GFLOP): predicted {:.2} ms, measured {:.2} ms (95% CI {:.2}-{:.2}), error {:+.1} %",
            c.items.len(),
            c.total_flops / 1e9,
            c.predicted_s * 1e3,
            c.measured_s * 1e3,
            c.measured_ci95_low * 1e3,
            c.measured_ci95_high * 1e3,
            c.rel_error * 100.0
        );
    }
    s
}
