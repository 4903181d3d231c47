//! Markdown: the figures, then every input's source (traceability).

use super::{rows, Exporter};
use crate::estimate::Estimate;
use std::fmt::Write;

pub struct Markdown;

impl Exporter for Markdown {
    fn render(&self, e: &Estimate) -> Result<Vec<u8>, String> {
        let mut s = String::new();
        let _ = writeln!(s, "# {}\n", e.scenario.as_deref().unwrap_or("flopprint estimate"));
        let _ = writeln!(s, "| section | quantity | value |\n|---|---|---|");
        for (sec, label, value) in rows(e) {
            let _ = writeln!(s, "| {sec} | {} | {} |", label.trim(), value.replace('|', "\\|"));
        }
        let _ = writeln!(s, "\n## Formulas\n");
        let _ = writeln!(s, "- training FLOPs = tokens x FLOP/token; FLOP/token = 3 x forward (per-op count, see README)");
        let _ = writeln!(s, "- wall clock = steps x simulated step time (compute + exposed communication + pipeline bubble + optimizer), or FLOPs / (GPUs x peak x MFU) with --mfu / --no-simulate, or measured (account)");
        let _ = writeln!(s, "- IT energy = power x wall clock; facility energy = IT energy x PUE");
        let _ = writeln!(s, "- operational CO2e = facility energy x grid intensity; embodied = hardware embodied x wall clock / lifetime");
        let _ = writeln!(s, "- rental = GPU-hours x $/GPU-hour; owned = capex + facility energy x $/kWh");
        let _ = writeln!(s, "\n## Sources\n");
        let _ = writeln!(s, "- MFU: {}", e.mfu_source);
        for (k, v) in &e.sources {
            let _ = writeln!(s, "- {k}: {v}");
        }
        if !e.notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n");
            for n in &e.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        Ok(s.into_bytes())
    }
}
