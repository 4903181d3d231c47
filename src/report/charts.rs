//! Charts of `flopprint report`: bar charts (stacked, floating, with a
//! reference line; vertical or horizontal) and line charts, rendered to
//! SVG or PNG with plotters. Okabe–Ito colour-blind-safe palette (Okabe &
//! Ito 2008, "Color Universal Design"), one light major grid, value labels
//! with units, titles naming the scenario. Output is deterministic.

use super::plot::PlotFormat;
use plotters::prelude::*;

/// The Okabe–Ito palette (orange, sky blue, bluish green, yellow, blue,
/// vermillion, reddish purple, black).
pub const OKABE_ITO: [RGBColor; 8] = [
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x00, 0x00, 0x00),
];

const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
const W: u32 = 900;
const H: u32 = 500;

/// One bar segment: category `cat`, from `from` to `to`, coloured by `series`.
#[derive(Debug, Clone)]
pub struct Seg {
    pub cat: usize,
    pub from: f64,
    pub to: f64,
    pub series: usize,
}

/// A bar chart.
#[derive(Debug, Clone, Default)]
pub struct Bars {
    pub title: String,
    /// The value axis, with its unit.
    pub value_label: String,
    pub categories: Vec<String>,
    /// Series names (legend) in palette order.
    pub series: Vec<String>,
    pub segs: Vec<Seg>,
    /// Text at a category and value (value labels with units).
    pub labels: Vec<(usize, f64, String)>,
    /// A reference line across the chart (value, legend text).
    pub reference: Option<(f64, String)>,
    /// Markers (category, value), e.g. a median.
    pub markers: Vec<(usize, f64)>,
    pub horizontal: bool,
}

/// A line chart.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// (name, points); each series gets the next palette colour.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Point labels (series, index, text).
    pub labels: Vec<(usize, usize, String)>,
    pub log_x: bool,
}

/// One panel of a scatter chart: points (x, y, label, on the front).
#[derive(Debug, Clone, Default)]
pub struct ScatterPanel {
    pub y_label: String,
    pub points: Vec<(f64, f64, String, bool)>,
    /// A vertical reference line (x, legend text), e.g. a deadline.
    pub vline: Option<(f64, String)>,
    /// A horizontal reference line (y, legend text), e.g. a budget.
    pub hline: Option<(f64, String)>,
}

/// Scatter panels side by side sharing a log x axis; the highlighted points
/// (a Pareto front) are joined in x order.
#[derive(Debug, Clone, Default)]
pub struct Scatter {
    pub title: String,
    pub x_label: String,
    pub front_name: String,
    pub other_name: String,
    pub panels: Vec<ScatterPanel>,
}

#[allow(clippy::needless_pass_by_value)] // used as map_err(err)
fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

fn bounds(b: &Bars) -> (f64, f64) {
    let mut lo = 0.0_f64;
    let mut hi = 0.0_f64;
    for s in &b.segs {
        lo = lo.min(s.from.min(s.to));
        hi = hi.max(s.from.max(s.to));
    }
    for (_, v, _) in &b.labels {
        hi = hi.max(*v);
    }
    if let Some((v, _)) = b.reference {
        hi = hi.max(v);
    }
    if b.horizontal {
        // floating bars (ranges, swings): zoom on them, room for labels on the right
        let lo = b.segs.iter().map(|s| s.from.min(s.to)).fold(f64::INFINITY, f64::min);
        let span = (hi - lo).max(1e-12 * hi.abs().max(1.0));
        return (lo - 0.1 * span, hi + 0.45 * span);
    }
    let span = (hi - lo).max(1e-12);
    (if lo < 0.0 { lo - 0.05 * span } else { 0.0 }, hi + 0.18 * span)
}

fn cat_label(v: &SegmentValue<i32>, cats: &[String]) -> String {
    match v {
        SegmentValue::CenterOf(i) => usize::try_from(*i).ok().and_then(|i| cats.get(i)).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, b: &Bars) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (lo, hi) = bounds(b);
    let n = i32::try_from(b.categories.len()).unwrap_or(1).max(1);
    let mut builder = ChartBuilder::on(root);
    builder.caption(&b.title, ("sans-serif", 15)).margin(16);
    let text = ("sans-serif", 13).into_font();
    if b.horizontal {
        builder.x_label_area_size(40).y_label_area_size(150);
        let mut c = builder.build_cartesian_2d(lo..hi, (0..n - 1).into_segmented()).map_err(err)?;
        c.configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_desc(&b.value_label)
            .y_labels(b.categories.len())
            .y_label_formatter(&|v| cat_label(v, &b.categories))
            .draw()
            .map_err(err)?;
        for (k, name) in b.series.iter().enumerate() {
            let color = OKABE_ITO[k % OKABE_ITO.len()];
            let segs: Vec<&Seg> = b.segs.iter().filter(|s| s.series == k).collect();
            c.draw_series(segs.iter().map(|s| {
                let i = i32::try_from(s.cat).unwrap_or(0);
                let mut r = Rectangle::new([(s.from, SegmentValue::Exact(i)), (s.to, SegmentValue::Exact(i + 1))], color.filled());
                r.set_margin(10, 10, 0, 0);
                r
            }))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        }
        c.draw_series(b.markers.iter().map(|(cat, v)| {
            let i = i32::try_from(*cat).unwrap_or(0);
            PathElement::new(vec![(*v, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))], BLACK.stroke_width(2))
        }))
        .map_err(err)?;
        if let Some((v, name)) = &b.reference {
            c.draw_series(std::iter::once(PathElement::new(vec![(*v, SegmentValue::Exact(0)), (*v, SegmentValue::Exact(n))], BLACK.stroke_width(1))))
                .map_err(err)?
                .label(name.as_str())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK));
        }
        c.draw_series(b.labels.iter().map(|(cat, v, t)| {
            let i = i32::try_from(*cat).unwrap_or(0);
            Text::new(t.clone(), (*v + 0.01 * (hi - lo), SegmentValue::CenterOf(i)), text.clone())
        }))
        .map_err(err)?;
        c.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(GRID).position(SeriesLabelPosition::LowerRight).draw().map_err(err)?;
    } else {
        builder.x_label_area_size(40).y_label_area_size(80);
        let mut c = builder.build_cartesian_2d((0..n - 1).into_segmented(), lo..hi).map_err(err)?;
        c.configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .y_desc(&b.value_label)
            .x_labels(b.categories.len())
            .x_label_formatter(&|v| cat_label(v, &b.categories))
            .draw()
            .map_err(err)?;
        for (k, name) in b.series.iter().enumerate() {
            let color = OKABE_ITO[k % OKABE_ITO.len()];
            let segs: Vec<&Seg> = b.segs.iter().filter(|s| s.series == k).collect();
            c.draw_series(segs.iter().map(|s| {
                let i = i32::try_from(s.cat).unwrap_or(0);
                let mut r = Rectangle::new([(SegmentValue::Exact(i), s.from), (SegmentValue::Exact(i + 1), s.to)], color.filled());
                r.set_margin(0, 0, 14, 14);
                r
            }))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        }
        c.draw_series(b.markers.iter().map(|(cat, v)| {
            let i = i32::try_from(*cat).unwrap_or(0);
            PathElement::new(vec![(SegmentValue::Exact(i), *v), (SegmentValue::Exact(i + 1), *v)], BLACK.stroke_width(2))
        }))
        .map_err(err)?;
        if let Some((v, name)) = &b.reference {
            c.draw_series(std::iter::once(PathElement::new(vec![(SegmentValue::Exact(0), *v), (SegmentValue::Exact(n), *v)], BLACK.stroke_width(2))))
                .map_err(err)?
                .label(name.as_str())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.stroke_width(2)));
        }
        let centred = text
            .clone()
            .color(&BLACK)
            .pos(plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Center, plotters::style::text_anchor::VPos::Bottom));
        c.draw_series(b.labels.iter().map(|(cat, v, t)| {
            let i = i32::try_from(*cat).unwrap_or(0);
            Text::new(t.clone(), (SegmentValue::CenterOf(i), *v + 0.01 * (hi - lo)), centred.clone())
        }))
        .map_err(err)?;
        c.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(GRID).position(SeriesLabelPosition::UpperRight).draw().map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, l: &Lines) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let pts = || l.series.iter().flat_map(|(_, p)| p.iter());
    let (x0, x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let y1 = pts().fold(0.0_f64, |a, p| a.max(p.1)).max(1e-12) * 1.2;
    let text = ("sans-serif", 13).into_font();
    let mut builder = ChartBuilder::on(root);
    builder.caption(&l.title, ("sans-serif", 15)).margin(16).x_label_area_size(40).y_label_area_size(80);
    let (x0, x1) = if x1 > x0 { (x0 / 1.15, x1 * 1.15) } else { (x0 * 0.5, x0 * 2.0) };
    // a log x axis: plot log2(x) and label 2^v
    let fx = |x: f64| if l.log_x { x.log2() } else { x };
    let mut c = builder.build_cartesian_2d(fx(x0)..fx(x1), 0.0..y1).map_err(err)?;
    let log = l.log_x;
    c.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_desc(&l.x_label)
        .y_desc(&l.y_label)
        .x_label_formatter(&|v| if log { format!("{:.0}", v.exp2()) } else { super::sig3(*v) })
        .draw()
        .map_err(err)?;
    for (k, (name, p)) in l.series.iter().enumerate() {
        let color = OKABE_ITO[(k * 4) % OKABE_ITO.len()];
        c.draw_series(LineSeries::new(p.iter().map(|(x, y)| (fx(*x), *y)), color.stroke_width(2)))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], color.stroke_width(2)));
        c.draw_series(p.iter().map(|(x, y)| Circle::new((fx(*x), *y), 4, color.filled()))).map_err(err)?;
    }
    c.draw_series(
        l.labels
            .iter()
            .filter_map(|(s, i, t)| l.series.get(*s).and_then(|(_, p)| p.get(*i)).map(|(x, y)| Text::new(t.clone(), (fx(*x), *y + 0.03 * y1), text.clone()))),
    )
    .map_err(err)?;
    c.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(GRID).position(SeriesLabelPosition::UpperRight).draw().map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

fn draw_scatter<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, sc: &Scatter) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(&sc.title, ("sans-serif", 15)).map_err(err)?;
    let areas = root.split_evenly((1, sc.panels.len().max(1)));
    let text = ("sans-serif", 12).into_font();
    let front = OKABE_ITO[4];
    let other = OKABE_ITO[0];
    let budget = OKABE_ITO[5];
    for (area, p) in areas.iter().zip(&sc.panels) {
        let xs = p.points.iter().map(|q| q.0).chain(p.vline.iter().map(|v| v.0)).filter(|x| *x > 0.0);
        let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        let (x0, x1) = if x1 >= x0 { (x0 / 1.4, x1 * 1.4) } else { (1.0, 10.0) };
        let y1 = p.points.iter().map(|q| q.1).chain(p.hline.iter().map(|h| h.0)).fold(0.0_f64, f64::max).max(1e-12) * 1.15;
        let mut c =
            ChartBuilder::on(area).margin(14).x_label_area_size(40).y_label_area_size(70).build_cartesian_2d((x0..x1).log_scale(), 0.0..y1).map_err(err)?;
        c.configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_desc(&sc.x_label)
            .y_desc(&p.y_label)
            .x_label_formatter(&|v| super::sig3(*v))
            .y_label_formatter(&|v| super::sig3(*v))
            .draw()
            .map_err(err)?;
        let mut on: Vec<(f64, f64)> = p.points.iter().filter(|q| q.3 && q.0 > 0.0).map(|q| (q.0, q.1)).collect();
        on.sort_by(|a, b| a.0.total_cmp(&b.0));
        c.draw_series(LineSeries::new(on.iter().copied(), front.stroke_width(2)))
            .map_err(err)?
            .label(sc.front_name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], front.stroke_width(2)));
        c.draw_series(on.iter().map(|(x, y)| Circle::new((*x, *y), 4, front.filled()))).map_err(err)?;
        let off: Vec<(f64, f64)> = p.points.iter().filter(|q| !q.3 && q.0 > 0.0).map(|q| (q.0, q.1)).collect();
        if !off.is_empty() {
            c.draw_series(off.iter().map(|(x, y)| Circle::new((*x, *y), 4, other.stroke_width(2))))
                .map_err(err)?
                .label(sc.other_name.as_str())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, other.stroke_width(2)));
        }
        c.draw_series(p.points.iter().filter(|q| q.0 > 0.0).map(|q| Text::new(q.2.clone(), (q.0 * 1.04, q.1 + 0.015 * y1), text.clone()))).map_err(err)?;
        if let Some((v, name)) = &p.vline {
            c.draw_series(std::iter::once(PathElement::new(vec![(*v, 0.0), (*v, y1)], BLACK.stroke_width(1))))
                .map_err(err)?
                .label(name.as_str())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK));
        }
        if let Some((v, name)) = &p.hline {
            c.draw_series(std::iter::once(PathElement::new(vec![(x0, *v), (x1, *v)], budget.stroke_width(1))))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], budget));
        }
        c.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(GRID).position(SeriesLabelPosition::LowerLeft).draw().map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A chart of any kind.
#[derive(Debug, Clone)]
pub enum Chart {
    Bars(Bars),
    Lines(Lines),
    Scatter(Scatter),
}

impl Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        match self {
            Self::Scatter(s) => (W.max(560 * u32::try_from(s.panels.len()).unwrap_or(1)), H),
            _ => (W, H),
        }
    }
}

/// Renders a chart.
///
/// # Errors
/// A drawing or encoding failure.
pub fn render(chart: &Chart, f: PlotFormat) -> Result<Vec<u8>, String> {
    super::plot::register_font();
    let (w, h) = chart.size();
    match f {
        PlotFormat::Svg => {
            let mut s = String::new();
            {
                let area = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
                match chart {
                    Chart::Bars(b) => draw_bars(&area, b)?,
                    Chart::Lines(l) => draw_lines(&area, l)?,
                    Chart::Scatter(x) => draw_scatter(&area, x)?,
                }
            }
            Ok(s.into_bytes())
        }
        PlotFormat::Png => {
            let mut rgb = vec![0u8; (w * h * 3) as usize];
            {
                let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                match chart {
                    Chart::Bars(b) => draw_bars(&area, b)?,
                    Chart::Lines(l) => draw_lines(&area, l)?,
                    Chart::Scatter(x) => draw_scatter(&area, x)?,
                }
            }
            let img = image::RgbImage::from_raw(w, h, rgb).ok_or("PNG buffer has the wrong size")?;
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageOutputFormat::Png).map_err(|x| x.to_string())?;
            Ok(out.into_inner())
        }
    }
}
