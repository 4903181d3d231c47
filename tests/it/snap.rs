//! Snapshot files under tests/it/snapshots/: compared byte for byte;
//! regenerate with `FLOPPRINT_BLESS=1 cargo test --test it` and review the diff.

use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots")
}

/// Compares `text` with the committed snapshot `name`, or writes it when blessing.
pub fn check(name: &str, text: &str) {
    let path = dir().join(name);
    if std::env::var_os("FLOPPRINT_BLESS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != text {
        let first = committed.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(committed.lines().count().min(text.lines().count()));
        panic!(
            "snapshot {name} out of date (first difference at line {}: committed {:?}, now {:?}); regenerate with `FLOPPRINT_BLESS=1 cargo test --test it` and review the diff",
            first + 1,
            committed.lines().nth(first),
            text.lines().nth(first)
        );
    }
}
