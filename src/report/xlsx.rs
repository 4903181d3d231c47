//! The XLSX planning workbook (`estimate --format xlsx`, `sweep.xlsx`).
//!
//! Not a dump: a reader edits the assumptions and the outputs follow.
//!
//! * **Inputs** — one row per scenario, the editable assumptions: price per
//!   GPU-hour, electricity price, PUE, grid intensity and a goodput factor
//!   (the productive fraction of the wall clock; 1 = flopprint's figure).
//! * **Outputs** — the per-scenario quantities flopprint computed (GPUs,
//!   wall time at goodput 1, IT power, embodied CO2e per hour of the run,
//!   capex), then wall time, GPU-hours, energy, CO2e and costs as
//!   **formulas** over them and over Inputs, so editing an input
//!   recalculates the plan. Each formula cell caches flopprint's own value
//!   (shown by viewers that do not recalculate); with the inputs unchanged
//!   the formulas give exactly flopprint's figures (tested by evaluating
//!   them from the written file).
//! * **Sources** — where every constant and input came from.
//! * **Data** — every field of the JSON contract, flattened, one row per
//!   scenario (left out above [`DATA_CELL_LIMIT`] cells).
//!
//! Headers carry units, numbers have formats, the header row is frozen.
//! Formulas use only cell references, `+ - * /` and parentheses.

use crate::estimate::Estimate;
use polars::prelude::DataFrame;
use rust_xlsxwriter::{Color, Format, FormatBorder, Formula, Workbook, Worksheet, XlsxError};

/// The Data sheet is written when rows x columns stay below this.
pub const DATA_CELL_LIMIT: usize = 2_000_000;

#[allow(clippy::needless_pass_by_value)] // used as map_err(e2s)
fn e2s(e: XlsxError) -> String {
    e.to_string()
}

/// Column letters of a 0-based index (A, B, …, Z, AA, …).
#[must_use]
pub fn col_name(mut c: u16) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// An editable assumption of the Inputs sheet.
struct InputCol {
    header: &'static str,
    format: &'static str,
    value: fn(&Estimate) -> Option<f64>,
}

const INPUTS: [InputCol; 5] = [
    InputCol { header: "price per GPU-hour (USD/GPU-h)", format: "$#,##0.00", value: |e| e.price_per_gpu_hour_usd },
    InputCol { header: "electricity price (USD/kWh)", format: "$0.000", value: |e| Some(e.electricity_price_usd_per_kwh) },
    InputCol { header: "PUE (-)", format: "0.00", value: |e| Some(e.pue) },
    InputCol { header: "grid intensity (gCO2e/kWh)", format: "#,##0", value: |e| Some(e.grid_gco2e_per_kwh) },
    InputCol { header: "goodput factor (productive fraction of wall time, -)", format: "0.00", value: |_| Some(1.0) },
];

/// Inputs sheet columns: A scenario, then [`INPUTS`] from B.
fn input_ref(name: &str, row: u32) -> String {
    let k = INPUTS.iter().position(|c| c.header.starts_with(name)).expect("a known input") as u16;
    format!("Inputs!{}{}", col_name(k + 1), row + 1)
}

/// An Outputs column: a quantity from flopprint, or a formula.
enum Cell {
    Value(fn(&Estimate) -> Option<f64>),
    /// A formula template: `{r}` is the 1-based row; `{name}` an Inputs cell.
    Formula(&'static str, fn(&Estimate) -> Option<f64>, fn(&Estimate) -> bool),
}

struct OutCol {
    header: &'static str,
    format: &'static str,
    cell: Cell,
}

const ALWAYS: fn(&Estimate) -> bool = |_| true;

/// The Outputs columns, from B (A is the scenario). Formulas refer to the
/// columns by letter: B GPUs, C wall at goodput 1, D IT power, E embodied
/// rate, F capex, G wall time, …
const OUTPUTS: [OutCol; 16] = [
    OutCol { header: "GPUs (flopprint)", format: "#,##0", cell: Cell::Value(|e| Some(e.gpus as f64)) },
    OutCol { header: "wall time at goodput 1 (h, flopprint)", format: "#,##0.0", cell: Cell::Value(|e| Some(e.wall_time_h)) },
    OutCol { header: "IT power (kW, flopprint)", format: "#,##0.0", cell: Cell::Value(|e| Some(e.power_total_w / 1000.0)) },
    OutCol {
        header: "embodied CO2e per hour of the run (kgCO2e/h, flopprint)",
        format: "#,##0.000",
        cell: Cell::Value(|e| Some(if e.wall_time_h > 0.0 { e.co2e_embodied_kg / e.wall_time_h } else { 0.0 })),
    },
    OutCol { header: "capex (USD, flopprint)", format: "$#,##0", cell: Cell::Value(|e| e.capex_usd) },
    OutCol { header: "wall time (h)", format: "#,##0.0", cell: Cell::Formula("C{r}/{goodput}", |e| Some(e.wall_time_h), ALWAYS) },
    OutCol { header: "wall time (days)", format: "#,##0.0", cell: Cell::Formula("G{r}/24", |e| Some(e.wall_time_days), ALWAYS) },
    OutCol { header: "GPU-hours (GPU-h)", format: "#,##0", cell: Cell::Formula("B{r}*G{r}", |e| Some(e.gpu_hours), ALWAYS) },
    OutCol { header: "IT energy (kWh)", format: "#,##0", cell: Cell::Formula("D{r}*G{r}", |e| Some(e.energy_it_kwh), ALWAYS) },
    OutCol { header: "facility energy (kWh)", format: "#,##0", cell: Cell::Formula("J{r}*{PUE}", |e| Some(e.energy_facility_kwh), ALWAYS) },
    OutCol { header: "operational CO2e (kgCO2e)", format: "#,##0", cell: Cell::Formula("K{r}*{grid}/1000", |e| Some(e.co2e_operational_kg), ALWAYS) },
    OutCol { header: "embodied CO2e (kgCO2e)", format: "#,##0", cell: Cell::Formula("E{r}*G{r}", |e| Some(e.co2e_embodied_kg), ALWAYS) },
    OutCol { header: "total CO2e (kgCO2e)", format: "#,##0", cell: Cell::Formula("L{r}+M{r}", |e| Some(e.co2e_total_kg), ALWAYS) },
    OutCol {
        header: "rental cost (USD)",
        format: "$#,##0",
        cell: Cell::Formula("I{r}*{price}", |e| e.cost_rental_usd, |e| e.price_per_gpu_hour_usd.is_some()),
    },
    OutCol { header: "electricity cost (USD)", format: "$#,##0", cell: Cell::Formula("K{r}*{electricity}", |e| Some(e.electricity_cost_usd), ALWAYS) },
    OutCol {
        header: "owned cost: capex + electricity (USD)",
        format: "$#,##0",
        cell: Cell::Formula("F{r}+P{r}", |e| e.cost_owned_usd, |e| e.capex_usd.is_some()),
    },
];

/// The formula text of one Outputs cell (0-based `row`), as written.
fn formula(template: &str, row: u32) -> String {
    let mut f = template.replace("{r}", &(row + 1).to_string());
    for (key, input) in [("{goodput}", "goodput"), ("{PUE}", "PUE"), ("{grid}", "grid"), ("{price}", "price"), ("{electricity}", "electricity")] {
        if f.contains(key) {
            f = f.replace(key, &input_ref(input, row));
        }
    }
    f
}

fn label(e: &Estimate) -> String {
    e.scenario.clone().unwrap_or_else(|| format!("{} on {} x {} at {}", e.model, e.gpus, e.accelerator, e.site))
}

struct Formats {
    header: Format,
    input: Format,
}

fn formats() -> Formats {
    Formats {
        header: Format::new().set_bold().set_text_wrap().set_background_color(Color::RGB(0x00E8_EEF4)).set_border_bottom(FormatBorder::Thin),
        input: Format::new().set_background_color(Color::RGB(0x00FF_F7D6)),
    }
}

fn headers(ws: &mut Worksheet, f: &Formats, names: &[&str]) -> Result<(), String> {
    for (c, h) in names.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &f.header).map_err(e2s)?;
    }
    ws.set_row_height(0, 48).map_err(e2s)?;
    ws.set_freeze_panes(1, 1).map_err(e2s)?;
    ws.set_column_width(0, 48).map_err(e2s)?;
    for c in 1..names.len() {
        ws.set_column_width(c as u16, 16).map_err(e2s)?;
    }
    Ok(())
}

/// Writes the Inputs, Outputs and Sources sheets for `rows`.
fn planning(wb: &mut Workbook, rows: &[&Estimate], extra_sources: &[(String, String)]) -> Result<(), String> {
    let f = formats();
    let ws = wb.add_worksheet().set_name("Inputs").map_err(e2s)?;
    let mut names = vec!["scenario"];
    names.extend(INPUTS.iter().map(|c| c.header));
    headers(ws, &f, &names)?;
    for (i, e) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, label(e)).map_err(e2s)?;
        for (k, c) in INPUTS.iter().enumerate() {
            let fmt = f.input.clone().set_num_format(c.format);
            match (c.value)(e) {
                Some(v) => ws.write_number_with_format(r, k as u16 + 1, v, &fmt).map_err(e2s)?,
                None => ws.write_blank(r, k as u16 + 1, &fmt).map_err(e2s)?,
            };
        }
    }
    let note_row = rows.len() as u32 + 2;
    ws.write_string(note_row, 0, "Yellow cells are assumptions: edit them and the Outputs sheet recalculates. A blank price means none is known.")
        .map_err(e2s)?;

    let ws = wb.add_worksheet().set_name("Outputs").map_err(e2s)?;
    let mut names = vec!["scenario"];
    names.extend(OUTPUTS.iter().map(|c| c.header));
    headers(ws, &f, &names)?;
    for (i, e) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, label(e)).map_err(e2s)?;
        for (k, c) in OUTPUTS.iter().enumerate() {
            let col = k as u16 + 1;
            let fmt = Format::new().set_num_format(c.format);
            match &c.cell {
                Cell::Value(v) => match v(e) {
                    Some(x) => ws.write_number_with_format(r, col, x, &fmt).map_err(e2s)?,
                    None => ws.write_string(r, col, "n/a").map_err(e2s)?,
                },
                Cell::Formula(t, value, applies) => {
                    if applies(e) {
                        let mut fm = Formula::new(formula(t, r));
                        if let Some(x) = value(e) {
                            fm = fm.set_result(format!("{x}"));
                        }
                        ws.write_formula_with_format(r, col, fm, &fmt).map_err(e2s)?
                    } else {
                        ws.write_string(r, col, "n/a").map_err(e2s)?
                    }
                }
            };
        }
    }

    let ws = wb.add_worksheet().set_name("Sources").map_err(e2s)?;
    headers(ws, &f, &["input or constant", "value", "source"])?;
    ws.set_column_width(0, 36).map_err(e2s)?;
    ws.set_column_width(2, 120).map_err(e2s)?;
    let mut r = 1u32;
    let mut seen = std::collections::BTreeSet::new();
    for e in rows {
        for (k, v) in &e.sources {
            if seen.insert((k.clone(), v.clone())) {
                ws.write_string(r, 0, k).map_err(e2s)?;
                if let Some(x) = source_value(e, k) {
                    ws.write_number(r, 1, x).map_err(e2s)?;
                }
                ws.write_string(r, 2, v).map_err(e2s)?;
                r += 1;
            }
        }
    }
    for (k, v) in constants().iter().chain(extra_sources) {
        ws.write_string(r, 0, k).map_err(e2s)?;
        ws.write_string(r, 2, v).map_err(e2s)?;
        r += 1;
    }
    Ok(())
}

fn source_value(e: &Estimate, key: &str) -> Option<f64> {
    match key {
        "pue" => Some(e.pue),
        "grid_gco2e_per_kwh" => Some(e.grid_gco2e_per_kwh),
        "electricity_price_usd_per_kwh" => Some(e.electricity_price_usd_per_kwh),
        "price_per_gpu_hour" => e.price_per_gpu_hour_usd,
        "capex" => e.capex_usd,
        _ => None,
    }
}

/// The constants of the formulas and ranges, with their citations.
#[must_use]
pub fn constants() -> Vec<(String, String)> {
    use crate::uncertainty::Spreads as S;
    let s = |k: &str, v: String| (k.to_string(), v);
    vec![
        s("energy", "E_IT = IT power x wall time; E_facility = PUE x E_IT (src/footprint.rs)".into()),
        s("co2e operational", "E_facility x grid intensity (src/footprint.rs)".into()),
        s(
            "co2e embodied",
            "(accelerators' + nodes' embodied carbon) x wall time / hardware lifetime (Faiz et al. 2024, LLMCarbon); the sheet holds it per hour of the run"
                .into(),
        ),
        s("cost rental", "GPU-hours x USD per GPU-hour".into()),
        s("cost owned", "capex of the hardware bought + electricity (E_facility x USD/kWh)".into()),
        s("flight NY-SF round trip", format!("{:.1} kgCO2e (1,984 lbs; Strubell et al. 2019, Table 1)", crate::footprint::FLIGHT_NY_SF_KG)),
        s("car km", format!("{:.4} kgCO2/km (400 g/mile; US EPA 2023, EPA-420-F-23-014)", crate::footprint::CAR_KG_PER_KM)),
        s("seconds per year", format!("{} (365.25 days, Julian year; hardware lifetime amortisation)", crate::footprint::SECONDS_PER_YEAR)),
        s(
            "spread: throughput, default MFU",
            format!(
                "lognormal sigma {} (published MFUs on one family span ~0.7-1.3x: Narayanan 2021; Zhang 2022 OPT; Le Scao 2022 BLOOM)",
                S::DEFAULT_MFU_LOG_SIGMA
            ),
        ),
        s(
            "spread: throughput, simulated A100",
            format!("lognormal sigma {} (simulator vs Korthikanti 2022 Table 5: mean 2.3 %, max 3.7 %)", S::SIMULATED_LOG_SIGMA),
        ),
        s(
            "spread: throughput, simulated other",
            format!("lognormal sigma {} (A100 curves scaled to other datasheets: unvalidated)", S::SIMULATED_OTHER_LOG_SIGMA),
        ),
        s(
            "spread: throughput, calibrated",
            format!("lognormal sigma {} (flopprint calibrate --check: 0.7-2.1 % idle, 11-40 % loaded)", S::CALIBRATED_LOG_SIGMA),
        ),
        s("spread: PUE", format!("normal, relative sigma {} (quarterly fleet PUE varies 2-4 %: Google 2023 environmental report)", S::PUE_REL_SIGMA)),
        s("spread: grid intensity", format!("normal, relative sigma {} (annual averages move 5-15 % year on year: Ember 2024)", S::GRID_REL_SIGMA)),
        s("spread: embodied carbon", format!("lognormal sigma {} (LCA estimates for one GPU differ ~2x: LLMCarbon vs vendor PCFs)", S::EMBODIED_LOG_SIGMA)),
        s("spread: rental price", format!("lognormal sigma {} (on-demand vs committed vs spot differ ~2x: cloud price lists)", S::PRICE_LOG_SIGMA)),
        s("spread: power", "the power model's constants, lognormal around their point values (src/power.rs PowerSpread)".into()),
    ]
}

/// Writes the Data sheet (every column of `df`).
fn data(wb: &mut Workbook, df: &DataFrame) -> Result<(), String> {
    let ws = wb.add_worksheet().set_name("Data").map_err(e2s)?;
    let bold = Format::new().set_bold();
    if df.height() * df.width() > DATA_CELL_LIMIT {
        ws.write_string(0, 0, format!("{} rows x {} columns: too large for this sheet; see sweep.parquet / sweep.csv", df.height(), df.width()))
            .map_err(e2s)?;
        return Ok(());
    }
    for (c, col) in df.columns().iter().enumerate() {
        let c = u16::try_from(c).map_err(|_| "too many columns for XLSX".to_string())?;
        ws.write_string_with_format(0, c, col.name().as_str(), &bold).map_err(e2s)?;
        for r in 0..df.height() {
            let row = r as u32 + 1;
            match col.get(r).map_err(|e| e.to_string())? {
                polars::prelude::AnyValue::Null => {}
                polars::prelude::AnyValue::Float64(x) => {
                    if x.is_finite() {
                        ws.write_number(row, c, x).map_err(e2s)?;
                    }
                }
                polars::prelude::AnyValue::Boolean(b) => {
                    ws.write_boolean(row, c, b).map_err(e2s)?;
                }
                polars::prelude::AnyValue::String(s) => {
                    ws.write_string(row, c, s).map_err(e2s)?;
                }
                other => {
                    ws.write_string(row, c, other.to_string()).map_err(e2s)?;
                }
            }
        }
    }
    ws.set_freeze_panes(1, 0).map_err(e2s)?;
    Ok(())
}

/// The planning workbook of one estimate.
///
/// # Errors
/// A writer failure.
pub fn estimate(e: &Estimate) -> Result<Vec<u8>, String> {
    let mut wb = Workbook::new();
    planning(&mut wb, &[e], &[])?;
    data(&mut wb, &super::export::frame(std::slice::from_ref(e))?)?;
    wb.save_to_buffer().map_err(e2s)
}

/// The planning workbook of a sweep: the scenarios that ran in Inputs and
/// Outputs, every row (failed ones with their error) in Data.
///
/// # Errors
/// A writer failure.
pub fn sweep(outcomes: &[crate::sweep::Outcome], df: &DataFrame) -> Result<Vec<u8>, String> {
    let mut wb = Workbook::new();
    let ok: Vec<&Estimate> = outcomes.iter().filter_map(|o| o.result.as_ref().ok()).collect();
    let labelled: Vec<Estimate> = outcomes
        .iter()
        .filter_map(|o| {
            o.result.as_ref().ok().map(|e| {
                let mut e = e.clone();
                let axes: Vec<String> = o.scenario.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                e.scenario = Some(format!("#{} {}", o.scenario.index, axes.join(" ")));
                e
            })
        })
        .collect();
    let refs: Vec<&Estimate> = labelled.iter().collect();
    debug_assert_eq!(ok.len(), refs.len());
    planning(&mut wb, &refs, &[])?;
    data(&mut wb, df)?;
    wb.save_to_buffer().map_err(e2s)
}
