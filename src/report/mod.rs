//! Rendering an [`Estimate`](crate::estimate::Estimate): one exporter per
//! file, each returning bytes, so every format is testable without disk.

pub mod calibration;
pub mod catalog;
pub mod charts;
pub mod export;
pub mod full;
pub mod json;
pub mod markdown;
pub mod plot;
pub mod table;
pub mod xlsx;

use crate::estimate::Estimate;

/// Output formats of `estimate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    Csv,
    Parquet,
    Xlsx,
}

/// An exporter turns an estimate into bytes.
pub trait Exporter {
    /// # Errors
    /// Serialization failure.
    fn render(&self, e: &Estimate) -> Result<Vec<u8>, String>;
}

/// The exporter for a format.
#[must_use]
pub fn exporter(f: Format) -> Box<dyn Exporter> {
    match f {
        Format::Table => Box::new(table::Table),
        Format::Json => Box::new(json::Json),
        Format::Markdown => Box::new(markdown::Markdown),
        Format::Csv => Box::new(Spreadsheet(export::Sheet::Csv)),
        Format::Parquet => Box::new(Spreadsheet(export::Sheet::Parquet)),
        Format::Xlsx => Box::new(Planning),
    }
}

/// Binary formats must go to a file (`--out`), not a terminal.
#[must_use]
pub fn is_binary(f: Format) -> bool {
    matches!(f, Format::Parquet | Format::Xlsx)
}

/// The planning workbook (src/report/xlsx.rs).
struct Planning;

impl Exporter for Planning {
    fn render(&self, e: &Estimate) -> Result<Vec<u8>, String> {
        xlsx::estimate(e)
    }
}

/// One-row spreadsheet of an estimate.
struct Spreadsheet(export::Sheet);

impl Exporter for Spreadsheet {
    fn render(&self, e: &Estimate) -> Result<Vec<u8>, String> {
        export::render(std::slice::from_ref(e), self.0)
    }
}

/// Human formatting of a large number with SI suffix: 1.23e12 -> "1.23 T".
#[must_use]
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (d, s) = if a >= 1e21 {
        (1e21, "Z")
    } else if a >= 1e18 {
        (1e18, "E")
    } else if a >= 1e15 {
        (1e15, "P")
    } else if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    format!("{} {s}", sig3(v / d)).trim_end().to_string()
}

/// A parameter count the way model cards write it: 69.0B, 336M, 1.01T.
#[must_use]
pub fn param_count(v: f64) -> String {
    let s = si(v);
    match s.split_once(' ') {
        Some((n, "G")) => format!("{n}B"),
        Some((n, p)) => format!("{n}{p}"),
        None => s,
    }
}

/// A value with an SI-prefixed unit: `si_unit(2.61e6, "W")` = "2.61 MW".
#[must_use]
pub fn si_unit(v: f64, unit: &str) -> String {
    let s = si(v);
    match s.split_once(' ') {
        Some((n, p)) => format!("{n} {p}{unit}"),
        None => format!("{s} {unit}"),
    }
}

/// Three significant digits.
#[must_use]
pub fn sig3(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A mass of CO2e in readable units: t above one tonne, else kg.
#[must_use]
pub fn mass(kg: f64) -> String {
    if kg.abs() >= 1000.0 {
        format!("{} tCO2e", sig3(kg / 1000.0))
    } else {
        format!("{} kgCO2e", sig3(kg))
    }
}

/// Dollars with thousands separators.
#[must_use]
pub fn usd(v: f64) -> String {
    if v.abs() < 100.0 {
        return format!("${v:.2}");
    }
    let r = v.round() as i128;
    let s = r.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}${out}", if r < 0 { "-" } else { "" })
}

/// The rows shared by the table and Markdown reports: (section, label, value).
#[must_use]
pub fn rows(e: &Estimate) -> Vec<(&'static str, String, String)> {
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or_else(|| "n/a".to_string(), f);
    let mut r = vec![
        ("Run", "model".into(), format!("{} ({})", e.model, e.model_name)),
        (
            "Run",
            "hardware".into(),
            format!("{} x {}{}", e.gpus, e.accelerator, e.system.as_ref().map_or(String::new(), |s| format!(" in {} {s} nodes", e.nodes.unwrap_or(0)))),
        ),
        ("Run", "site".into(), e.site.clone()),
        ("Run", "mode".into(), format!("{:?}", e.mode).to_lowercase()),
        (
            "Run",
            "plan".into(),
            e.plan.as_ref().map_or_else(
                || "none (accounted without a plan)".to_string(),
                |p| {
                    format!(
                        "TP {}{} x PP {} x DP {}{}{}, ZeRO-{}, recompute {}, micro-batch {}, global batch {} ({})",
                        p.tp,
                        if p.cp > 1 { format!(" x CP {}", p.cp) } else { String::new() },
                        p.pp,
                        p.dp,
                        if p.interleave > 1 { format!(" (interleave {})", p.interleave) } else { String::new() },
                        if p.sp { ", SP" } else { "" },
                        p.zero,
                        p.recompute,
                        p.micro_batch,
                        p.global_batch,
                        format!("{:?}", p.chosen_by).to_lowercase()
                    )
                },
            ),
        ),
        (
            "Compute",
            "parameters".into(),
            format!(
                "{} total, {} active{}",
                param_count(e.params_total),
                param_count(e.params_active),
                if e.fine_tune == "full" { String::new() } else { format!(", {} trainable ({})", param_count(e.params_trainable), e.fine_tune) }
            ),
        ),
        ("Compute", "tokens".into(), opt(e.tokens, &|t| format!("{} (seq len {})", si(t), e.seq_len))),
        ("Compute", "training FLOPs".into(), opt(e.flops_total, &|f| format!("{f:.3e} ({}FLOP/token)", si(e.flops_per_token)))),
        (
            "Compute",
            "MFU".into(),
            opt(e.mfu, &|m| {
                format!("{:.1} % ({} model TFLOP/s per GPU of {} peak {})", m * 100.0, opt(e.model_tflops_per_gpu, &sig3), sig3(e.peak_tflops_per_gpu), e.dtype)
            }),
        ),
        ("Compute", "step time".into(), opt(e.step_time_s, &|s| format!("{} s x {} steps", sig3(s), opt(e.steps, &|n| format!("{n:.0}"))))),
        (
            "Compute",
            "step breakdown".into(),
            e.breakdown.map_or_else(
                || "n/a (no plan to simulate)".to_string(),
                |b| {
                    format!(
                        "compute {} s (recompute {}), TP comm {}, PP comm {}, DP comm {}, EP comm {}, bubble {}, optimizer {} s",
                        sig3(b.compute_s),
                        sig3(b.recompute_s),
                        sig3(b.tp_comm_exposed_s),
                        sig3(b.pp_comm_s),
                        sig3(b.dp_comm_exposed_s),
                        sig3(b.ep_comm_exposed_s),
                        sig3(b.bubble_s),
                        sig3(b.optimizer_s)
                    )
                },
            ),
        ),
        (
            "Compute",
            "memory per GPU".into(),
            match (e.memory_per_gpu_gib, e.fits_in_memory) {
                (Some(m), Some(fits)) => format!("{m:.1} / {:.1} GiB ({})", e.memory_capacity_gib, if fits { "fits" } else { "DOES NOT FIT" }),
                _ => "n/a (no plan)".to_string(),
            },
        ),
        ("Time", "wall clock".into(), format!("{} h ({} days)", sig3(e.wall_time_h), sig3(e.wall_time_days))),
        ("Time", "GPU-hours".into(), si(e.gpu_hours)),
        (
            "Energy",
            "power".into(),
            format!(
                "{} W per GPU, {} total (nameplate bound {} W per GPU)",
                sig3(e.power_per_gpu_w),
                si_unit(e.power_total_w, "W"),
                sig3(e.power_nameplate_per_gpu_w)
            ),
        ),
        ("Energy", "IT energy".into(), si_unit(e.energy_it_kwh * 1000.0, "Wh")),
    ];
    if let Some(p) = &e.power {
        r.push((
            "Energy",
            "  power split".into(),
            format!(
                "accelerator {} W (activity {:.2}), node remainder {} W, network {} W per GPU",
                sig3(p.accelerator_w.value()),
                p.accelerator_activity,
                sig3(p.node_rest_w_per_gpu.value()),
                sig3(p.network_w_per_gpu.value())
            ),
        ));
    }
    if let (Some(a), Some(n)) = (e.energy_accelerators_kwh, e.energy_node_rest_kwh) {
        r.push((
            "Energy",
            "  of which".into(),
            format!(
                "accelerators {}, rest of node {} ({:.0} %), network {}",
                si_unit(a * 1000.0, "Wh"),
                si_unit(n * 1000.0, "Wh"),
                100.0 * n / e.energy_it_kwh,
                si_unit(e.energy_network_kwh.unwrap_or(0.0) * 1000.0, "Wh")
            ),
        ));
    }
    r.extend([
        ("Energy", "facility energy".into(), format!("{} (PUE {})", si_unit(e.energy_facility_kwh * 1000.0, "Wh"), e.pue)),
        ("Carbon", "operational".into(), format!("{} (grid {} gCO2e/kWh)", mass(e.co2e_operational_kg), sig3(e.grid_gco2e_per_kwh))),
        ("Carbon", "embodied".into(), format!("{} (hardware lifetime {} years)", mass(e.co2e_embodied_kg), e.hardware_lifetime_years)),
        ("Carbon", "total".into(), format!("{} = {} NY-SF round-trip flights = {} car-km", mass(e.co2e_total_kg), sig3(e.flights_ny_sf), si(e.car_km))),
        (
            "Cost",
            "rental".into(),
            opt(e.cost_rental_usd, &|c| {
                format!("{} (at ${:.2}/GPU-hour, {})", usd(c), e.price_per_gpu_hour_usd.unwrap_or(0.0), e.price_basis.as_deref().unwrap_or(""))
            }),
        ),
        (
            "Cost",
            "owned".into(),
            opt(e.cost_owned_usd, &|c| {
                format!(
                    "{} = capex {} + electricity {} (${}/kWh)",
                    usd(c),
                    usd(e.capex_usd.unwrap_or(0.0)),
                    usd(e.electricity_cost_usd),
                    e.electricity_price_usd_per_kwh
                )
            }),
        ),
        (
            "Cost",
            "owned, amortised".into(),
            opt(e.cost_owned_amortised_usd, &|c| format!("{} (capex x run time / {} years + electricity)", usd(c), e.hardware_lifetime_years)),
        ),
    ]);
    let u = &e.uncertainty;
    if u.wall_time_h.p95 > u.wall_time_h.p5 * 1.0001 || u.co2e_total_kg.p95 > u.co2e_total_kg.p5 * 1.0001 {
        r.push(("Range (P5-P95)", "wall clock".into(), format!("{} - {} h", sig3(u.wall_time_h.p5), sig3(u.wall_time_h.p95))));
        r.push((
            "Range (P5-P95)",
            "facility energy".into(),
            format!("{} - {}", si_unit(u.energy_facility_kwh.p5 * 1000.0, "Wh"), si_unit(u.energy_facility_kwh.p95 * 1000.0, "Wh")),
        ));
        r.push(("Range (P5-P95)", "CO2e total".into(), format!("{} - {}", mass(u.co2e_total_kg.p5), mass(u.co2e_total_kg.p95))));
        if let Some(c) = u.cost_rental_usd {
            r.push(("Range (P5-P95)", "rental".into(), format!("{} - {}", usd(c.p5), usd(c.p95))));
        }
        if let Some(c) = u.cost_owned_usd {
            r.push(("Range (P5-P95)", "owned".into(), format!("{} - {}", usd(c.p5), usd(c.p95))));
        }
        r.push(("Range (P5-P95)", "samples".into(), format!("{} (seed {})", u.samples, u.seed)));
        for (key, label) in [("wall_time_h", "wall clock"), ("co2e_total_kg", "CO2e total"), ("cost_rental_usd", "rental")] {
            if let Some(v) = u.sensitivity.outputs.get(key).filter(|v| !v.is_empty()) {
                r.push(("Sensitivity (share of ln variance)", label.into(), sensitivity_text(v)));
            }
        }
    }
    r
}

/// "grid_intensity 52 %, embodied 30 %, throughput 12 %" (shares of the
/// variance of ln(output), largest first, those above 0.5 %).
#[must_use]
pub fn sensitivity_text(v: &[crate::uncertainty::Factor]) -> String {
    let parts: Vec<String> = v.iter().filter(|f| f.share >= 0.005).map(|f| format!("{} {:.0} %", f.input, f.share * 100.0)).collect();
    if parts.is_empty() {
        "none above 0.5 %".into()
    } else {
        parts.join(", ")
    }
}
