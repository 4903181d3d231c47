//! Snapshot comparison shared by the report tests: on a mismatch, the
//! first differing lines are printed (a small line diff), so a failure says
//! what changed without opening the files.

use std::fmt::Write as _;

/// A line diff of `old` → `new`: the lines around the first difference,
/// `-` for the committed text and `+` for the produced one, at most
/// `max` lines of each.
pub fn diff(file: &str, old: &str, new: &str, max: usize) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    // common suffix after the first difference
    let mut tail = 0;
    while tail < a.len() - first && tail < b.len() - first && a[a.len() - 1 - tail] == b[b.len() - 1 - tail] {
        tail += 1;
    }
    let mut out = format!("--- {file} (committed)\n+++ {file} (produced)\n@@ line {} @@\n", first + 1);
    for l in a[first..a.len() - tail].iter().take(max) {
        let _ = writeln!(out, "-{l}");
    }
    for l in b[first..b.len() - tail].iter().take(max) {
        let _ = writeln!(out, "+{l}");
    }
    out
}

#[test]
fn diff_shows_the_changed_lines_only() {
    let d = diff("x", "a\nb\nc\nd\n", "a\nB\nc\nd\n", 10);
    assert!(d.contains("-b\n+B\n"), "{d}");
    assert!(!d.contains("-a") && !d.contains("-c"), "{d}");
}
