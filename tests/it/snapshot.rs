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

/// The command that regenerates every committed report under `reports/`.
pub const REGENERATE: &str = "FLOPPRINT_BLESS=1 cargo test --locked --test it committed_reports";

/// Compares `bytes` with the committed file `dir/file` (a line diff for
/// text, a sentence for drawings and binaries), or writes it when blessing.
pub fn committed(dir: &std::path::Path, file: &str, bytes: &[u8], mismatches: &mut Vec<String>) {
    let path = dir.join(file);
    if std::env::var_os("FLOPPRINT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        return;
    }
    let Ok(old) = std::fs::read(&path) else {
        mismatches.push(format!("{file}: not committed\n"));
        return;
    };
    if old != bytes {
        let drawing = std::path::Path::new(file).extension().is_some_and(|x| x.eq_ignore_ascii_case("svg"));
        mismatches.push(match (std::str::from_utf8(&old), std::str::from_utf8(bytes)) {
            (Ok(old), Ok(new)) if !drawing => diff(file, old, new, 12),
            _ => format!("{file}: the binary or drawing changed\n"),
        });
    }
}

/// Fails with every mismatch and the command that regenerates the reports.
pub fn assert_committed(what: &str, mismatches: &[String]) {
    assert!(mismatches.is_empty(), "{what} out of date; regenerate with `{REGENERATE}` and review the diff:\n{}", mismatches.join("\n"));
}
