//! Line plots ([`LinePlot`]) and grids of heat maps ([`Heatmap`]) written as PNG and SVG with
//! `plotters` (no display needed).
//!
//! A log y axis is labelled at 1, 2 and 5 times the powers of ten within its range
//! (…, 0.1, 0.2, 0.5, 1, 2, 5, …; finer in a range of less than a factor of 2.5, coarser
//! beyond 6 decades), with light grid lines at the other integer multiples. Dashed series
//! are dashed in the legend too.
//!
//! Text is drawn with `ab_glyph` from a TrueType font file: `$HIGHWAY_ZOO_FONT`, else DejaVu
//! Sans or Liberation Sans from the usual Debian paths (`apt-get install fonts-dejavu-core`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// One line of a plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
    /// Colour index into a fixed palette.
    pub color: usize,
    /// Drawn dashed (e.g. plain nets) instead of solid.
    pub dashed: bool,
    /// Vertical bars `(x, low, high)` in the series' colour (a spread around its points).
    pub bars: Vec<(f64, f64, f64)>,
}

/// A plot: title, axis labels, log or linear y, and its lines.
#[derive(Debug, Clone)]
pub struct LinePlot {
    /// Title.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
}

/// Dash and gap length in pixels of a dashed series, in the plot and in its legend entry.
const DASH: (u32, u32) = (6, 4);

/// Length in pixels of a legend entry's line.
const LEGEND_LINE: i32 = 26;

/// The labelled ticks of a log axis over `lo..=hi`: 1, 2 and 5 times each power of ten in
/// the range, ascending (…, 0.1, 0.2, 0.5, 1, 2, 5, …). A range that holds fewer than two of
/// these is labelled at 1, 2, …, 9 times the powers of ten, and failing that at 1.0, 1.1, …,
/// 9.9 times; a range that holds more than 19 (wider than about 6 decades) only at the powers
/// of ten. Empty for an empty or non-positive range.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let ticks = log_multiples(lo, hi, &[10, 20, 50]);
    if ticks.len() > 19 {
        return log_multiples(lo, hi, &[10]);
    }
    if ticks.len() >= 2 {
        return ticks;
    }
    let units = log_grid(lo, hi);
    if units.len() >= 2 {
        return units;
    }
    log_multiples(lo, hi, &(10..100).collect::<Vec<u32>>())
}

/// The light grid lines of a log axis over `lo..=hi`: 1, 2, …, 9 times the powers of ten.
fn log_grid(lo: f64, hi: f64) -> Vec<f64> {
    log_multiples(lo, hi, &[10, 20, 30, 40, 50, 60, 70, 80, 90])
}

/// `m / 10 * 10^k` for each mantissa `m` (in tenths, `10..100`) and every `k`, the values in
/// `lo..=hi`, ascending.
fn log_multiples(lo: f64, hi: f64, tenths: &[u32]) -> Vec<f64> {
    if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
        return Vec::new();
    }
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mut out = Vec::new();
    for k in k0..=k1 {
        for &m in tenths {
            // m * 10^(k - 1); dividing by an exact power of ten gives the double nearest to
            // the decimal value (0.002, not 0.0020000000000000005).
            let e = k - 1;
            let v = if e < 0 {
                f64::from(m) / 10f64.powi(-e)
            } else {
                f64::from(m) * 10f64.powi(e)
            };
            // A relative slack, so that a tick at the very end of the range is kept.
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
    }
    out
}

/// The label of a log-axis tick: the shortest decimal form (`0.05`, `2`, `1.5`, `500`), in
/// scientific notation below 1e-4 and from 1e6 on (`1e-5`, `2e6`).
fn log_tick_label(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Registers the plot font once; an error names the package to install.
pub(crate) fn ensure_font() -> anyhow::Result<()> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let system = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/Library/Fonts/Arial.ttf",
        ];
        let chosen = std::env::var("HIGHWAY_ZOO_FONT").ok().map(PathBuf::from);
        for path in chosen.into_iter().chain(system.map(PathBuf::from)) {
            if let Ok(bytes) = std::fs::read(&path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(
            "no TrueType font found for plots: install fonts-dejavu-core (apt-get install \
             fonts-dejavu-core) or set HIGHWAY_ZOO_FONT to a .ttf file"
                .to_string(),
        )
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

/// A figure that draws itself on any `plotters` backend (so it can be written as PNG and SVG).
pub trait Figure {
    /// Draws the figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// Writes `figure` as `<stem>.png` and `<stem>.svg`, `size` pixels; returns their paths.
pub fn write_png_svg(
    figure: &impl Figure,
    stem: &Path,
    size: (u32, u32),
) -> anyhow::Result<Vec<PathBuf>> {
    ensure_font()?;
    let (png, svg) = (stem.with_extension("png"), stem.with_extension("svg"));
    present(
        figure,
        BitMapBackend::new(&png, size).into_drawing_area(),
        &png,
    )?;
    present(
        figure,
        SVGBackend::new(&svg, size).into_drawing_area(),
        &svg,
    )?;
    Ok(vec![png, svg])
}

/// Draws `figure` on `root` and writes it to `path`.
fn present<DB: DrawingBackend>(
    figure: &impl Figure,
    root: DrawingArea<DB, Shift>,
    path: &Path,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    figure
        .draw(&root)
        .with_context(|| format!("drawing {}", path.display()))?;
    root.present()
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

impl LinePlot {
    /// Writes `<stem>.png` and `<stem>.svg`; returns their paths.
    pub fn write(&self, stem: &Path) -> anyhow::Result<Vec<PathBuf>> {
        if self.series.iter().all(|s| s.points.is_empty()) {
            bail!("nothing to plot for {}", stem.display());
        }
        write_png_svg(self, stem, (900, 600))
    }

    /// Whether `(x, y)` can be drawn: finite, and positive on a log axis.
    fn plottable(&self, (x, y): (f64, f64)) -> bool {
        x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0)
    }
}

impl Figure for LinePlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
        root.fill(&WHITE).map_err(err)?;
        let bar_ends = self
            .series
            .iter()
            .flat_map(|s| s.bars.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]));
        let points = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .chain(bar_ends);
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in points.filter(|&p| self.plottable(p)) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            bail!("no finite points to plot");
        }
        if x1 == x0 {
            x1 = x0 + 1.0;
        }
        // A little room so that the first and last points (and their bars) clear the axes.
        let x_pad = (x1 - x0) * 0.03;
        let (x0, x1) = (x0 - x_pad, x1 + x_pad);
        if y1 == y0 {
            y1 = y0 * 2.0 + 1e-12;
        }
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.title, ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(80);
        macro_rules! finish {
            ($chart:expr, $y_label:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(self.x_label.as_str())
                    .y_desc(self.y_label.as_str())
                    .x_label_formatter(&|v| format!("{v}"))
                    .y_label_formatter($y_label)
                    .label_style(("sans-serif", 15))
                    .draw()
                    .map_err(err)?;
                for s in &self.series {
                    let color = PALETTE[s.color % PALETTE.len()];
                    let pts: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .copied()
                        .filter(|&p| self.plottable(p))
                        .collect();
                    let (style, dashed, (dash, gap)) = (color.stroke_width(2), s.dashed, DASH);
                    let line = if dashed {
                        chart.draw_series(DashedLineSeries::new(pts.clone(), dash, gap, style))
                    } else {
                        chart.draw_series(LineSeries::new(pts.clone(), style))
                    };
                    line.map_err(err)?
                        .label(s.name.clone())
                        .legend(move |(x, y)| {
                            let ends = vec![(x, y), (x + LEGEND_LINE, y)];
                            if dashed {
                                DashedPathElement::new(ends, dash, gap, style).into_dyn()
                            } else {
                                PathElement::new(ends, style).into_dyn()
                            }
                        });
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(err)?;
                    // Each bar's marker sits on the series' point at its x (or midway).
                    let mid = |x: f64, lo: f64, hi: f64| {
                        s.points
                            .iter()
                            .find(|p| p.0 == x && p.1.is_finite())
                            .map_or((lo + hi) / 2.0, |p| p.1)
                    };
                    let bars = s.bars.iter().copied().filter(|(x, lo, hi)| {
                        [x, lo, hi].iter().all(|v| v.is_finite())
                            && (!self.log_y || (*lo > 0.0 && *hi > 0.0))
                    });
                    chart
                        .draw_series(bars.map(|(x, lo, hi)| {
                            ErrorBar::new_vertical(
                                x,
                                lo,
                                mid(x, lo, hi),
                                hi,
                                color.stroke_width(1),
                                8,
                            )
                        }))
                        .map_err(err)?;
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .legend_area_size(LEGEND_LINE + 8)
                    .position(SeriesLabelPosition::UpperRight)
                    .draw()
                    .map_err(err)?;
            }};
        }
        if self.log_y {
            let (lo, hi) = (y0 * 0.8, y1 * 1.25);
            let y = (lo..hi)
                .log_scale()
                .with_key_points(log_ticks(lo, hi))
                .with_light_points(log_grid(lo, hi));
            finish!(builder.build_cartesian_2d(x0..x1, y).map_err(err)?, &|v| {
                log_tick_label(*v)
            });
        } else {
            let pad = (y1 - y0) * 0.05;
            finish!(
                builder
                    .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
                    .map_err(err)?,
                &|v| format!("{v:.3}")
            );
        }
        Ok(())
    }
}

/// A grid of heat maps (one panel per matrix), written as PNG and SVG.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// Title over the whole figure.
    pub title: String,
    /// x-axis label of every panel (columns).
    pub x_label: String,
    /// y-axis label of every panel (rows).
    pub y_label: String,
    /// `(panel title, rows of values)`; every row of a panel has the same length.
    pub panels: Vec<(String, Vec<Vec<f64>>)>,
    /// Value range mapped onto the colour scale.
    pub range: (f64, f64),
    /// Blue–white–red around the middle of `range` instead of white-to-dark-blue.
    pub diverging: bool,
    /// Number of the first column on the x axis (e.g. the first gated layer).
    pub x_offset: usize,
}

fn lerp(a: (u8, u8, u8), b: (u8, u8, u8), t: f64) -> RGBColor {
    let f = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    RGBColor(f(a.0, b.0), f(a.1, b.1), f(a.2, b.2))
}

impl Heatmap {
    fn color(&self, v: f64) -> RGBColor {
        let (lo, hi) = self.range;
        let t = if hi > lo {
            ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        if self.diverging {
            if t < 0.5 {
                lerp((33, 102, 172), (255, 255, 255), t * 2.0)
            } else {
                lerp((255, 255, 255), (178, 24, 43), (t - 0.5) * 2.0)
            }
        } else if t < 0.5 {
            lerp((255, 255, 255), (65, 182, 196), t * 2.0)
        } else {
            lerp((65, 182, 196), (8, 29, 88), (t - 0.5) * 2.0)
        }
    }

    /// Writes `<stem>.png` and `<stem>.svg`.
    pub fn write(&self, stem: &Path) -> anyhow::Result<Vec<PathBuf>> {
        if self.panels.is_empty()
            || self
                .panels
                .iter()
                .any(|(_, m)| m.is_empty() || m[0].is_empty())
        {
            bail!("nothing to plot for {}", stem.display());
        }
        let width = (60 + 330 * self.panels.len() as u32).max(700);
        write_png_svg(self, stem, (width, 420))
    }
}

impl Figure for Heatmap {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(&self.title, ("sans-serif", 20)).map_err(err)?;
        let areas = root.split_evenly((1, self.panels.len()));
        for (area, (name, m)) in areas.iter().zip(&self.panels) {
            let (rows, cols) = (m.len(), m[0].len());
            let x0 = self.x_offset as f64;
            let mut chart = ChartBuilder::on(area)
                .caption(name, ("sans-serif", 15))
                .margin(8)
                .x_label_area_size(35)
                .y_label_area_size(45)
                .build_cartesian_2d(x0 - 0.5..x0 + cols as f64 - 0.5, -0.5..rows as f64 - 0.5)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_label_formatter(&|v| format!("{}", v.round() as i64))
                .y_label_formatter(&|v| format!("{}", v.round() as i64))
                .x_desc(self.x_label.as_str())
                .y_desc(self.y_label.as_str())
                .label_style(("sans-serif", 12))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(m.iter().enumerate().flat_map(|(r, row)| {
                    row.iter().enumerate().map(move |(c, v)| {
                        let x = x0 + c as f64;
                        let y = r as f64;
                        Rectangle::new(
                            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                            self.color(*v).filled(),
                        )
                    })
                }))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// Writes a line plot, printing (not failing on) a missing font.
pub fn write_plot(plot: &LinePlot, stem: &Path) -> Vec<PathBuf> {
    or_warn(plot.write(stem), stem)
}

/// Writes a heat map, printing (not failing on) a missing font.
pub fn write_heatmap(map: &Heatmap, stem: &Path) -> Vec<PathBuf> {
    or_warn(map.write(stem), stem)
}

/// The paths written, or none after printing why not.
fn or_warn(written: anyhow::Result<Vec<PathBuf>>, stem: &Path) -> Vec<PathBuf> {
    written.unwrap_or_else(|e| {
        eprintln!("warning: no plot {}: {e:#}", stem.display());
        Vec::new()
    })
}

/// A [`Series`]: the line `name` of `(x, y)` points in palette colour `color`, dashed or solid.
pub fn series(name: &str, color: usize, dashed: bool, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: name.to_string(),
        points,
        color,
        dashed,
        bars: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_png_and_svg_or_names_the_missing_font() {
        let dir = std::env::temp_dir().join(format!("hz-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plot = LinePlot {
            title: "test".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            log_y: true,
            series: vec![
                series("a", 0, false, vec![(1.0, 1.0), (2.0, 0.1), (3.0, 0.01)]),
                Series {
                    bars: vec![(2.0, 0.05, 0.5)],
                    ..series("b", 1, true, vec![(1.0, 2.0), (2.0, 1.9), (3.0, f64::NAN)])
                },
            ],
        };
        match plot.write(&dir.join("p")) {
            Ok(paths) => {
                let png = std::fs::read(&paths[0]).unwrap();
                assert_eq!(&png[1..4], b"PNG");
                let svg = std::fs::read_to_string(&paths[1]).unwrap();
                assert!(svg.contains("<svg") && svg.contains("epoch"));
            }
            Err(e) => assert!(e.to_string().contains("fonts-dejavu-core"), "{e}"),
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn log_axis_ticks_are_decades_and_their_doubles_and_fives() {
        for (lo, hi, ticks) in [
            // The depth study's range (losses 0.06 .. 2.3, padded by 0.8 and 1.25).
            (0.06 * 0.8, 2.3 * 1.25, "0.05 0.1 0.2 0.5 1 2"),
            (0.8, 2.5, "1 2"),
            (0.001, 0.01, "0.001 0.002 0.005 0.01"),
            (3.0, 1200.0, "5 10 20 50 100 200 500 1000"),
            (1e-5, 3e-5, "1e-5 2e-5"),
            // Ends of the range are kept.
            (0.1, 1.0, "0.1 0.2 0.5 1"),
            // Narrow ranges: 1..9 times, then tenths.
            (2.1, 4.4, "3 4"),
            (
                1.6,
                2.875,
                "1.6 1.7 1.8 1.9 2 2.1 2.2 2.3 2.4 2.5 2.6 2.7 2.8",
            ),
            // More than 6 decades: only the powers of ten.
            (1e-6, 2e3, "1e-6 1e-5 0.0001 0.001 0.01 0.1 1 10 100 1000"),
            // Nothing for an empty or non-positive range.
            (0.0, 1.0, ""),
            (2.0, 1.0, ""),
            (1.0, f64::INFINITY, ""),
        ] {
            let labels: Vec<String> = log_ticks(lo, hi).into_iter().map(log_tick_label).collect();
            assert_eq!(labels.join(" "), ticks, "{lo}..{hi}");
        }
        // Grid lines at every integer multiple.
        assert_eq!(log_grid(0.7, 3.5), [0.7, 0.8, 0.9, 1.0, 2.0, 3.0]);
    }
}
