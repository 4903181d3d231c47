//! Plots of an estimate (SVG or PNG, rendered to bytes with plotters).
//!
//! Two panels: the energy of the run split into accelerators, the rest of
//! the node and the facility overhead (PUE); and the CO2e split into
//! operational and embodied, with the Monte Carlo P5–P95 range of the total.
//! PNG text uses the bundled DejaVu Sans (Bitstream Vera licence, see
//! `src/report/fonts/DejaVuSans-LICENSE.txt`), so no system fonts are needed.

use crate::estimate::Estimate;
use plotters::prelude::*;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Plot file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    /// From a file name's extension.
    ///
    /// # Errors
    /// An extension other than .svg or .png.
    pub fn from_path(p: &std::path::Path) -> Result<Self, String> {
        match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Ok(Self::Svg),
            Some("png") => Ok(Self::Png),
            _ => Err(format!("--plot {}: the file name must end in .svg or .png", p.display())),
        }
    }
}

fn seg_label(v: &SegmentValue<i32>, labels: &[&str]) -> String {
    match v {
        SegmentValue::CenterOf(i) => labels.get(usize::try_from(*i).unwrap_or(usize::MAX)).map_or(String::new(), ToString::to_string),
        _ => String::new(),
    }
}

fn bar(i: i32, v: f64, style: ShapeStyle) -> Rectangle<(SegmentValue<i32>, f64)> {
    let mut r = Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), v)], style);
    r.set_margin(0, 0, 12, 12);
    r
}

const W: u32 = 1000;
const H: u32 = 480;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, e: &Estimate) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(err)?;
    let title = e.scenario.clone().unwrap_or_else(|| format!("{} on {} x {}", e.model, e.gpus, e.accelerator));
    let root = root.titled(&title, ("sans-serif", 18)).map_err(err)?;
    let (left, right) = root.split_horizontally(W / 2);

    // energy panel (MWh)
    let acc = e.energy_accelerators_kwh.unwrap_or(e.energy_it_kwh);
    let rest = e.energy_node_rest_kwh.unwrap_or(0.0);
    let overhead = e.energy_facility_kwh - e.energy_it_kwh;
    let bars = [("accelerators", acc / 1000.0, BLUE), ("rest of node", rest / 1000.0, CYAN), ("facility (PUE)", overhead / 1000.0, MAGENTA)];
    let ymax = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1e-9) * 1.15;
    let mut c = ChartBuilder::on(&left)
        .caption("Energy (MWh)", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d((0..2).into_segmented(), 0.0..ymax)
        .map_err(err)?;
    c.configure_mesh().disable_x_mesh().x_labels(3).x_label_formatter(&|v| seg_label(v, &bars.map(|b| b.0))).draw().map_err(err)?;
    c.draw_series(bars.iter().enumerate().map(|(i, b)| {
        let i = i32::try_from(i).unwrap_or(0);
        bar(i, b.1, b.2.mix(0.7).filled())
    }))
    .map_err(err)?;

    // CO2e panel (t) with the P5-P95 range of the total
    let op = e.co2e_operational_kg / 1000.0;
    let emb = e.co2e_embodied_kg / 1000.0;
    let u = e.uncertainty.co2e_total_kg;
    let ymax = (u.p95 / 1000.0).max(op + emb).max(1e-9) * 1.15;
    let mut c = ChartBuilder::on(&right)
        .caption("CO2e (t): operational + embodied, P5-P95", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d((0..2).into_segmented(), 0.0..ymax)
        .map_err(err)?;
    let labels = ["operational", "embodied", "total"];
    c.configure_mesh().disable_x_mesh().x_labels(3).x_label_formatter(&|v| seg_label(v, &labels)).draw().map_err(err)?;
    c.draw_series([bar(0, op, RED.mix(0.6).filled()), bar(1, emb, BLACK.mix(0.4).filled()), bar(2, op + emb, GREEN.mix(0.6).filled())]).map_err(err)?;
    let whisker = |y: f64| PathElement::new(vec![(SegmentValue::Exact(2), y), (SegmentValue::Exact(3), y)], BLACK.stroke_width(2));
    c.draw_series([whisker(u.p5 / 1000.0), whisker(u.p95 / 1000.0)]).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Registers the bundled DejaVu Sans as `sans-serif` (once).
pub fn register_font() {
    REGISTER.call_once(|| {
        // the bundled font is valid (tested); a failure would only lose text
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Renders the estimate's plot.
///
/// # Errors
/// A drawing or encoding failure.
pub fn render(e: &Estimate, f: PlotFormat) -> Result<Vec<u8>, String> {
    register_font();
    match f {
        PlotFormat::Svg => {
            let mut s = String::new();
            draw(&SVGBackend::with_string(&mut s, (W, H)).into_drawing_area(), e)?;
            Ok(s.into_bytes())
        }
        PlotFormat::Png => {
            let mut rgb = vec![0u8; (W * H * 3) as usize];
            draw(&BitMapBackend::with_buffer(&mut rgb, (W, H)).into_drawing_area(), e)?;
            let img = image::RgbImage::from_raw(W, H, rgb).ok_or("PNG buffer has the wrong size")?;
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageOutputFormat::Png).map_err(|x| x.to_string())?;
            Ok(out.into_inner())
        }
    }
}
