//! `flopprint sweep`: lists and ranges of inputs, one row per scenario,
//! failed scenarios as rows with their error, four files with `--out`.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn flopprint() -> Command {
    Command::cargo_bin("flopprint").unwrap()
}

const SWEEP: [&str; 16] = [
    "sweep",
    "--model",
    "llama2-7b",
    "--accelerator",
    "a100-sxm4-80gb",
    "--gpus",
    "8..32x4",
    "--site",
    "france,poland,atlantis",
    "--tokens",
    "20B",
    "--mfu",
    "0.4",
    "--samples",
    "100",
    "--no-embodied",
];

#[test]
fn a_sweep_writes_four_files_with_one_row_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    flopprint()
        .args(SWEEP)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("6 scenarios: 4 estimated, 2 failed"))
        .stdout(predicate::str::contains("unknown site id `atlantis`"));
    for f in ["sweep.csv", "sweep.parquet", "sweep.json", "sweep.xlsx"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let pq = std::fs::read(out.join("sweep.parquet")).unwrap();
    assert_eq!(&pq[..4], b"PAR1");
    let rows: Vec<Value> = serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0]["sweep.gpus"], "8");
    assert_eq!(rows[1]["sweep.site"], "poland");
    assert!(rows[2]["error"].as_str().unwrap().contains("atlantis") && rows[2]["wall_time_h"].is_null());
    assert!(rows[0]["error"].is_null());
    // four times the GPUs at a fixed MFU: a quarter of the ideal time
    // (the production goodput depends on the GPU count)
    let t = |r: &Value| r["wall_time_ideal_h"].as_f64().unwrap();
    assert!((t(&rows[0]) / t(&rows[3]) - 4.0).abs() < 1e-9);
    assert!(rows[1]["co2e_total_kg"].as_f64().unwrap() > 5.0 * rows[0]["co2e_total_kg"].as_f64().unwrap(), "Poland's grid is dirtier than France's");
    // the planning workbook's formulas give the rows that ran
    let book = super::xlsx::Book::open(std::fs::read(out.join("sweep.xlsx")).unwrap());
    assert_eq!(book.sheets, ["Inputs", "Outputs", "Sources", "Data"]);
    let ok: Vec<&Value> = rows.iter().filter(|r| r["error"].is_null()).collect();
    for (k, r) in ok.iter().enumerate() {
        super::xlsx::assert_row_matches(&book, k + 2, r);
    }
}

#[test]
fn sweep_csv_and_json_are_the_committed_ones() {
    let csv = flopprint().args(SWEEP).args(["--format", "csv"]).output().unwrap();
    assert!(csv.status.success(), "{}", String::from_utf8_lossy(&csv.stderr));
    super::snap::check("sweep.csv", &String::from_utf8(csv.stdout).unwrap());
    let json = flopprint().args(SWEEP).args(["--format", "json"]).output().unwrap();
    super::snap::check("sweep.json", &String::from_utf8(json.stdout).unwrap());
    let table = flopprint().args(SWEEP).output().unwrap();
    super::snap::check("sweep-table.txt", &String::from_utf8(table.stdout).unwrap());
}

#[test]
fn a_bad_range_names_the_flag_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    flopprint().args(["sweep", "--nodes", "64..8x2", "--out"]).arg(&out).assert().code(2).stderr(predicate::str::contains("--nodes 64..8x2"));
    assert!(!out.exists());
    flopprint().args(["sweep", "--site", "a..b"]).assert().code(2).stderr(predicate::str::contains("ranges are for --nodes and --gpus"));
}
