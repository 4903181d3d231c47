//! `flopprint report`: report.md with the plots, each as SVG and PNG,
//! deterministic.

use assert_cmd::Command;

const ARGS: [&str; 14] =
    ["report", "--model", "llama2-7b", "--system", "dgx-a100-80gb", "--nodes", "4", "--tokens", "100B", "--mfu", "0.4", "--samples", "500", "--out"];

#[test]
fn report_writes_markdown_and_every_plot_twice_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    Command::cargo_bin("flopprint").unwrap().args(ARGS).arg(&a).assert().success();
    Command::cargo_bin("flopprint").unwrap().args(ARGS).arg(&b).assert().success();
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    for stem in ["scaling", "co2e-by-site", "energy", "cost", "memory", "uncertainty", "tornado"] {
        assert!(md.contains(&format!("![{stem}]({stem}.png)")), "{stem} embedded");
        for ext in ["svg", "png"] {
            let f = format!("{stem}.{ext}");
            let x = std::fs::read(a.join(&f)).unwrap_or_else(|_| panic!("{f}"));
            assert_eq!(x, std::fs::read(b.join(&f)).unwrap(), "{f} is deterministic");
        }
        let svg = std::fs::read_to_string(a.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("llama2-7b"), "{stem}: the title names the scenario");
    }
    assert_eq!(&std::fs::read(a.join("scaling.png")).unwrap()[1..4], b"PNG");
    super::snap::check("report.md", &md);
    super::snap::check("report-tornado.svg", &std::fs::read_to_string(a.join("tornado.svg")).unwrap());
}
