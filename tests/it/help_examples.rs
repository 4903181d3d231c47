//! Every subcommand's `--help` ends with real examples: each one listed is
//! run here (in a temporary directory, in order, so one may use the file
//! the one before wrote), so they cannot rot. And shell completions.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn flopprint() -> Command {
    Command::cargo_bin("flopprint").unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = flopprint().args(args).output().unwrap();
    assert!(out.status.success(), "flopprint {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands `flopprint --help` lists (without `help`).
fn subcommands() -> Vec<String> {
    let top = stdout(&["--help"]);
    let list = top.split("Commands:").nth(1).expect("a Commands: section");
    list.lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(ToString::to_string)
        .collect()
}

/// The example lines at the end of a subcommand's help: all of them,
/// unwrapped (a line that does not start with `  flopprint ` fails here).
fn examples(cmd: &str) -> Vec<String> {
    let help = stdout(&[cmd, "--help"]);
    let tail = help.split("\nExamples:\n").nth(1).unwrap_or_else(|| panic!("`flopprint {cmd} --help` ends with no Examples: section"));
    let lines: Vec<String> = tail.lines().filter(|l| !l.trim().is_empty()).map(ToString::to_string).collect();
    for l in &lines {
        assert!(
            l.starts_with("  flopprint "),
            "`flopprint {cmd} --help`: example line {l:?} is not a whole `flopprint` command (wrapped? keep examples under 98 characters)"
        );
    }
    lines
}

/// Runs one example line in `dir`: repository files become absolute paths,
/// `> FILE` captures stdout; checks it succeeds and produces something.
fn run_example(line: &str, dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (command, redirect) = match line.split_once(" > ") {
        Some((c, f)) => (c, Some(f.trim())),
        None => (line, None),
    };
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    let args: Vec<String> = words.iter().map(|w| if root.join(w).is_file() { root.join(w).display().to_string() } else { (*w).to_string() }).collect();
    let out = flopprint().args(&args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "example `{line}` failed: {}", String::from_utf8_lossy(&out.stderr));
    let written: Vec<&str> = words.windows(2).filter(|w| w[0] == "--out" || w[0] == "--plot").map(|w| w[1]).collect();
    for f in &written {
        let p = dir.join(f);
        assert!(p.is_file() || p.read_dir().is_ok_and(|mut d| d.next().is_some()), "example `{line}` wrote no {f}");
    }
    match redirect {
        Some(f) => {
            assert!(!out.stdout.is_empty(), "example `{line}` printed nothing");
            std::fs::write(dir.join(f), &out.stdout).unwrap();
        }
        None => assert!(!out.stdout.is_empty() || !written.is_empty(), "example `{line}` printed and wrote nothing"),
    }
}

#[test]
fn every_help_example_runs() {
    let commands = subcommands();
    for c in ["estimate", "plan", "sweep", "report", "calibrate", "list", "validate", "show", "completions"] {
        assert!(commands.iter().any(|x| x == c), "{c} in {commands:?}");
    }
    for c in &commands {
        let ex = examples(c);
        assert!((2..=3).contains(&ex.len()), "`flopprint {c} --help` has {} examples; give two or three", ex.len());
        let dir = tempfile::tempdir().unwrap();
        for line in &ex {
            run_example(line, dir.path());
        }
    }
}

#[test]
fn completions_name_every_subcommand_in_each_shell() {
    for (shell, marker) in [("bash", "complete -F _flopprint"), ("zsh", "#compdef flopprint"), ("fish", "complete -c flopprint")] {
        let script = stdout(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {marker}");
        for c in ["estimate", "plan", "sweep", "report", "calibrate", "list", "validate", "show", "completions"] {
            assert!(script.contains(c), "{shell} script mentions {c}");
        }
        assert!(script.contains("deadline"), "{shell}: flags complete too");
    }
    // the bash script is valid bash, where bash is installed
    if std::process::Command::new("bash").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("flopprint.bash");
        std::fs::write(&f, stdout(&["completions", "bash"])).unwrap();
        let ok = std::process::Command::new("bash").arg("-n").arg(&f).status().unwrap();
        assert!(ok.success(), "bash -n rejects the completion script");
    }
    flopprint().args(["completions", "tcsh"]).assert().code(2).stderr(predicate::str::contains("possible values"));
}
