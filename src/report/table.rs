//! The terminal table.

use super::{rows, Exporter};
use crate::estimate::Estimate;
use std::fmt::Write;

pub struct Table;

impl Exporter for Table {
    fn render(&self, e: &Estimate) -> Result<Vec<u8>, String> {
        let mut s = String::new();
        if let Some(n) = &e.scenario {
            let _ = writeln!(s, "{n}");
        }
        let w = rows(e).iter().map(|(_, l, _)| l.len()).max().unwrap_or(0);
        let mut section = "";
        for (sec, label, value) in rows(e) {
            if sec != section {
                let _ = writeln!(s, "{sec}");
                section = sec;
            }
            let _ = writeln!(s, "  {label:<w$}  {value}");
        }
        for n in &e.notes {
            let _ = writeln!(s, "note: {n}");
        }
        Ok(s.into_bytes())
    }
}
