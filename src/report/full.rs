//! `flopprint report`: a directory with `report.md` (scenario, results
//! table, method, sources) and its plots, each as SVG and PNG, embedded by
//! relative path:
//!
//! | file | what |
//! |---|---|
//! | `scaling` | time to train and rental cost vs cluster size: the scenario at ¼, ½, 1, 2, 4 × its nodes (or GPUs) |
//! | `co2e-by-site` | CO2e of the same run at several sites (the scenario's and [`SITES`]) |
//! | `energy-cost` | energy (accelerators, rest of node, network, facility overhead) and cost (rental vs owned: capex + electricity) breakdowns, stacked |
//! | `memory` | memory per GPU by kind vs the accelerator's capacity |
//! | `uncertainty` | P5–P95 bands of the main outputs relative to the point estimate, with the median |
//! | `tornado` | the one-at-a-time swing of CO2e total per uncertain input (from the sensitivity ranking) |
//!
//! Everything is rendered before anything is written; the output is
//! deterministic (same scenario, same bytes).

use super::charts::{Bars, Chart, Lines, Seg};
use super::plot::PlotFormat;
use super::{mass, sig3, usd};
use crate::estimate::Estimate;
use crate::scenario::ScenarioInput;
use rayon::prelude::*;
use std::fmt::Write;
use std::path::Path;

/// Sites the CO2e comparison adds to the scenario's own (low to high grid
/// intensity, several continents).
pub const SITES: [&str; 6] = ["quebec", "france", "us-east-1-virginia", "germany", "china", "poland"];

/// Cluster-size factors of the scaling curve.
pub const SCALE: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

/// What `report` computed.
pub struct Report {
    pub base: Estimate,
    /// (nodes or GPUs, estimate) along the scaling curve.
    pub scaling: Vec<(u64, Result<Estimate, String>)>,
    pub sites: Vec<(String, Result<Estimate, String>)>,
}

fn title(e: &Estimate) -> String {
    e.scenario.clone().unwrap_or_else(|| format!("{} on {} x {} at {}", e.model, e.gpus, e.accelerator, e.site))
}

/// Runs the scenario and its variants (in parallel).
///
/// # Errors
/// The base scenario's error.
pub fn run(file: Option<&Path>, flags: &ScenarioInput) -> Result<Report, String> {
    let base = crate::sweep::evaluate(file, flags, &[])?;
    let (axis, n0) = match base.nodes {
        Some(n) if base.system.is_some() => ("nodes", n),
        _ => ("gpus", base.gpus),
    };
    let mut sizes: Vec<u64> = SCALE.iter().map(|f| ((n0 as f64 * f).round() as u64).max(1)).collect();
    sizes.dedup();
    let scaling = sizes.par_iter().map(|&n| (n, crate::sweep::evaluate(file, flags, &[(axis, n.to_string())]))).collect();
    let mut site_ids: Vec<String> = vec![base.site.clone()];
    site_ids.extend(SITES.iter().map(ToString::to_string).filter(|s| *s != base.site));
    // keep the scenario's cluster when the site changes
    let mut site_flags = flags.clone();
    site_flags.site = crate::scenario::SiteSection::default();
    let sites = site_ids.par_iter().map(|s| (s.clone(), crate::sweep::evaluate(file, &site_flags, &[("site", s.clone())]))).collect();
    Ok(Report { base, scaling, sites })
}

/// The charts of a report, by file stem.
#[must_use]
pub fn charts(r: &Report) -> Vec<(&'static str, Chart)> {
    let e = &r.base;
    let name = title(e);
    let mut out = Vec::new();

    // scaling curve
    let ok: Vec<(u64, &Estimate)> = r.scaling.iter().filter_map(|(n, x)| x.as_ref().ok().map(|e| (*n, e))).collect();
    let days: Vec<(f64, f64)> = ok.iter().map(|(_, e)| (e.gpus as f64, e.wall_time_days)).collect();
    let mut series = vec![("time to train (days)".to_string(), days)];
    let mut labels: Vec<(usize, usize, String)> = ok.iter().enumerate().map(|(i, (_, e))| (0, i, format!("{} d", sig3(e.wall_time_days)))).collect();
    if ok.iter().all(|(_, e)| e.cost_rental_usd.is_some()) && !ok.is_empty() {
        // cost on the same axis in units that keep both readable: $100k
        series.push(("rental cost ($100k)".to_string(), ok.iter().map(|(_, e)| (e.gpus as f64, e.cost_rental_usd.unwrap_or(0.0) / 1e5)).collect()));
        labels.extend(ok.iter().enumerate().map(|(i, (_, e))| (1, i, usd(e.cost_rental_usd.unwrap_or(0.0)))));
    }
    out.push((
        "scaling",
        Chart::Lines(Lines {
            title: format!("Time to train and cost vs cluster size: {name}"),
            x_label: "GPUs (log scale)".into(),
            y_label: "days; rental cost in $100k".into(),
            series,
            labels,
            log_x: true,
        }),
    ));

    // CO2e by site
    let ok: Vec<(&String, &Estimate)> = r.sites.iter().filter_map(|(s, x)| x.as_ref().ok().map(|e| (s, e))).collect();
    let mut b = Bars {
        title: format!("CO2e by site: {name}"),
        value_label: "CO2e (t)".into(),
        series: vec!["operational".into(), "embodied".into()],
        horizontal: false,
        ..Bars::default()
    };
    for (i, (s, x)) in ok.iter().enumerate() {
        b.categories.push((*s).clone());
        let op = x.co2e_operational_kg / 1000.0;
        let emb = x.co2e_embodied_kg / 1000.0;
        b.segs.push(Seg { cat: i, from: 0.0, to: op, series: 0 });
        b.segs.push(Seg { cat: i, from: op, to: op + emb, series: 1 });
        b.labels.push((i, op + emb, mass(x.co2e_total_kg)));
    }
    out.push(("co2e-by-site", Chart::Bars(b)));

    // energy and cost breakdowns (stacked; two bars on a shared axis of
    // their own units: MWh and $k)
    let acc = e.energy_accelerators_kwh.unwrap_or(e.energy_it_kwh);
    let net = e.energy_network_kwh.unwrap_or(0.0);
    let rest = e.energy_node_rest_kwh.unwrap_or(0.0);
    let over = e.energy_facility_kwh - e.energy_it_kwh;
    let mut b = Bars {
        title: format!("Energy and owned cost breakdown: {name}"),
        value_label: "energy (MWh)".into(),
        categories: vec!["energy (MWh)".into()],
        series: vec!["accelerators".into(), "rest of node".into(), "network".into(), "facility overhead (PUE)".into()],
        ..Bars::default()
    };
    let mut y = 0.0;
    for (k, v) in [acc, rest, net, over].into_iter().enumerate() {
        let v = v / 1000.0;
        b.segs.push(Seg { cat: 0, from: y, to: y + v, series: k });
        y += v;
    }
    b.labels.push((0, y, format!("{} MWh", sig3(y))));
    out.push(("energy", Chart::Bars(b)));
    let mut b = Bars {
        title: format!("Cost breakdown: {name}"),
        value_label: "cost (USD millions)".into(),
        series: vec!["rental".into(), "capex".into(), "electricity".into(), "capex amortised over the run".into()],
        ..Bars::default()
    };
    let mut cat = 0;
    if let Some(c) = e.cost_rental_usd {
        b.categories.push("rent".into());
        b.segs.push(Seg { cat, from: 0.0, to: c / 1e6, series: 0 });
        b.labels.push((cat, c / 1e6, usd(c)));
        cat += 1;
    }
    if let (Some(capex), Some(owned)) = (e.capex_usd, e.cost_owned_usd) {
        b.categories.push("buy".into());
        b.segs.push(Seg { cat, from: 0.0, to: capex / 1e6, series: 1 });
        b.segs.push(Seg { cat, from: capex / 1e6, to: owned / 1e6, series: 2 });
        b.labels.push((cat, owned / 1e6, usd(owned)));
        cat += 1;
    }
    if let Some(am) = e.cost_owned_amortised_usd {
        b.categories.push("own, amortised".into());
        let el = e.electricity_cost_usd;
        b.segs.push(Seg { cat, from: 0.0, to: (am - el) / 1e6, series: 3 });
        b.segs.push(Seg { cat, from: (am - el) / 1e6, to: am / 1e6, series: 2 });
        b.labels.push((cat, am / 1e6, usd(am)));
    }
    out.push(("cost", Chart::Bars(b)));

    // memory per GPU vs capacity
    if let Some(m) = &e.memory {
        let parts = [
            ("weights", m.weights_gib),
            ("gradients", m.gradients_gib),
            ("optimizer", m.optimizer_gib),
            ("activations", m.activations_gib),
            ("embedding states", m.embedding_states_gib),
            ("reserve", m.reserve_gib),
        ];
        let mut b = Bars {
            title: format!("Memory per GPU vs capacity: {name}"),
            value_label: "GiB per GPU".into(),
            categories: vec![format!("{} (plan {})", e.accelerator, e.plan.as_ref().map_or(String::new(), |p| format!("TP{} PP{} DP{}", p.tp, p.pp, p.dp)))],
            series: parts.iter().map(|p| p.0.to_string()).collect(),
            reference: Some((m.capacity_gib, format!("capacity {} GiB", sig3(m.capacity_gib)))),
            ..Bars::default()
        };
        let mut y = 0.0;
        for (k, (_, v)) in parts.iter().enumerate() {
            b.segs.push(Seg { cat: 0, from: y, to: y + v, series: k });
            y += v;
        }
        b.labels.push((0, y, format!("{} GiB{}", sig3(m.total_gib), if m.fits { "" } else { " (does not fit)" })));
        out.push(("memory", Chart::Bars(b)));
    }

    // uncertainty bands, relative to the point estimate
    let u = &e.uncertainty;
    let mut rows = vec![
        ("wall time", u.wall_time_h, e.wall_time_h),
        ("GPU-hours", u.gpu_hours, e.gpu_hours),
        ("facility energy", u.energy_facility_kwh, e.energy_facility_kwh),
        ("CO2e total", u.co2e_total_kg, e.co2e_total_kg),
    ];
    if let (Some(r), Some(p)) = (u.cost_rental_usd, e.cost_rental_usd) {
        rows.push(("rental cost", r, p));
    }
    let mut b = Bars {
        title: format!("P5-P95 ranges ({} samples): {name}", u.samples),
        value_label: "relative to the point estimate (1 = point)".into(),
        series: vec!["P5-P95".into()],
        horizontal: true,
        reference: Some((1.0, "point estimate".into())),
        ..Bars::default()
    };
    for (i, (label, r, p)) in rows.iter().enumerate() {
        let p = p.max(1e-300);
        b.categories.push((*label).to_string());
        b.segs.push(Seg { cat: i, from: r.p5 / p, to: r.p95 / p, series: 0 });
        b.markers.push((i, r.p50 / p));
        b.labels.push((i, r.p95 / p, format!("x{:.2}-{:.2}", r.p5 / p, r.p95 / p)));
    }
    out.push(("uncertainty", Chart::Bars(b)));

    // tornado of CO2e total
    if let Some(f) = u.sensitivity.outputs.get("co2e_total_kg").filter(|v| !v.is_empty()) {
        let point = e.co2e_total_kg / 1000.0;
        let mut b = Bars {
            title: format!("What moves CO2e (P5/P95 of each input, others fixed): {name}"),
            value_label: "CO2e total (t)".into(),
            series: vec!["input at its P5".into(), "input at its P95".into()],
            horizontal: true,
            reference: Some((point, format!("point {}", mass(e.co2e_total_kg)))),
            ..Bars::default()
        };
        // largest share on top: plotters draws category 0 at the bottom
        for (i, x) in f.iter().rev().enumerate() {
            b.categories.push(format!("{} ({:.0} %)", x.input, x.share * 100.0));
            b.segs.push(Seg { cat: i, from: point, to: x.low / 1000.0, series: 0 });
            b.segs.push(Seg { cat: i, from: point, to: x.high / 1000.0, series: 1 });
            b.labels.push((i, (x.low.max(x.high)) / 1000.0, format!("{} - {}", mass(x.low.min(x.high)), mass(x.low.max(x.high)))));
        }
        out.push(("tornado", Chart::Bars(b)));
    }
    out
}

/// `report.md` (plots embedded by relative path as PNG, SVG linked).
#[must_use]
pub fn markdown(r: &Report, stems: &[&str]) -> String {
    let e = &r.base;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", title(e));
    let _ = writeln!(s, "Generated by flopprint {}. Plots: PNG embedded, SVG alongside.\n", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(s, "## Scaling\n\n| nodes or GPUs | GPUs | days | GPU-hours | CO2e | rental cost |\n|---|---|---|---|---|---|");
    for (n, x) in &r.scaling {
        match x {
            Ok(x) => {
                let _ = writeln!(
                    s,
                    "| {n} | {} | {} | {} | {} | {} |",
                    x.gpus,
                    sig3(x.wall_time_days),
                    super::si(x.gpu_hours),
                    mass(x.co2e_total_kg),
                    x.cost_rental_usd.map_or("n/a".into(), usd)
                );
            }
            Err(err) => {
                let _ = writeln!(s, "| {n} | error: {} | | | | |", err.replace('|', "/"));
            }
        }
    }
    let _ = writeln!(s, "\n## CO2e by site\n\n| site | grid gCO2e/kWh | PUE | CO2e |\n|---|---|---|---|");
    for (site, x) in &r.sites {
        match x {
            Ok(x) => {
                let _ = writeln!(s, "| {site} | {} | {} | {} |", sig3(x.grid_gco2e_per_kwh), x.pue, mass(x.co2e_total_kg));
            }
            Err(err) => {
                let _ = writeln!(s, "| {site} | error: {} | | |", err.replace('|', "/"));
            }
        }
    }
    let _ = writeln!(s, "\n## Plots\n");
    for stem in stems {
        let _ = writeln!(s, "![{stem}]({stem}.png)\n\n([SVG]({stem}.svg))\n");
    }
    let _ = writeln!(s, "## Results, method and sources\n");
    let md = super::exporter(super::Format::Markdown).render(e).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    // demote the estimate report's headings one level under this section
    for line in md.lines() {
        if line.starts_with('#') {
            let _ = writeln!(s, "##{line}");
        } else {
            let _ = writeln!(s, "{line}");
        }
    }
    let _ = writeln!(s, "\n### Uncertainty method\n\n{}", crate::uncertainty::SENSITIVITY_METHOD);
    s
}

/// Files by name.
type Files = Vec<(String, Vec<u8>)>;

/// Every file of the report: (name, bytes).
///
/// # Errors
/// A rendering failure.
pub fn files(r: &Report) -> Result<Files, String> {
    let charts = charts(r);
    let rendered: Vec<Result<Files, String>> = charts
        .par_iter()
        .map(|(stem, c)| {
            Ok(vec![(format!("{stem}.svg"), super::charts::render(c, PlotFormat::Svg)?), (format!("{stem}.png"), super::charts::render(c, PlotFormat::Png)?)])
        })
        .collect();
    let mut out = Vec::new();
    for f in rendered {
        out.extend(f?);
    }
    let stems: Vec<&str> = charts.iter().map(|(s, _)| *s).collect();
    out.insert(0, ("report.md".to_string(), markdown(r, &stems).into_bytes()));
    Ok(out)
}
