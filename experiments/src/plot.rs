//! Line plots written as PNG and SVG with `plotters` (no display needed).
//!
//! Text is drawn with `ab_glyph` from a TrueType font file: `$HIGHWAY_ZOO_FONT`, else DejaVu
//! Sans or Liberation Sans from the usual Debian paths (`apt-get install fonts-dejavu-core`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};
use plotters::coord::Shift;
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

fn font_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(p) = std::env::var("HIGHWAY_ZOO_FONT") {
        out.push(PathBuf::from(p));
    }
    for p in [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/Library/Fonts/Arial.ttf",
    ] {
        out.push(PathBuf::from(p));
    }
    out
}

/// Registers the plot font once; an error names the package to install.
pub(crate) fn ensure_font() -> anyhow::Result<()> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        for path in font_candidates() {
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
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        figure
            .draw(&root)
            .with_context(|| format!("drawing {}", png.display()))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", png.display()))?;
    }
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        figure
            .draw(&root)
            .with_context(|| format!("drawing {}", svg.display()))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", svg.display()))?;
    }
    Ok(vec![png, svg])
}

impl LinePlot {
    /// Writes `<stem>.png` and `<stem>.svg`; returns their paths.
    pub fn write(&self, stem: &Path) -> anyhow::Result<Vec<PathBuf>> {
        if self.series.iter().all(|s| s.points.is_empty()) {
            bail!("nothing to plot for {}", stem.display());
        }
        write_png_svg(self, stem, (900, 600))
    }
}

impl Figure for LinePlot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
        root.fill(&WHITE).map_err(err)?;
        let points = self.series.iter().flat_map(|s| s.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points {
            if !(x.is_finite() && y.is_finite()) || (self.log_y && y <= 0.0) {
                continue;
            }
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
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(self.x_label.as_str())
                    .y_desc(self.y_label.as_str())
                    .y_label_formatter(&|v| format!("{v:.3}"))
                    .label_style(("sans-serif", 15))
                    .draw()
                    .map_err(err)?;
                for s in &self.series {
                    let color = PALETTE[s.color % PALETTE.len()];
                    let pts: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .copied()
                        .filter(|(x, y)| {
                            x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0)
                        })
                        .collect();
                    let style = color.stroke_width(2);
                    let anno = if s.dashed {
                        chart
                            .draw_series(DashedLineSeries::new(pts.clone(), 6, 4, style))
                            .map_err(err)?
                    } else {
                        chart
                            .draw_series(LineSeries::new(pts.clone(), style))
                            .map_err(err)?
                    };
                    anno.label(s.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(err)?;
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .position(SeriesLabelPosition::UpperRight)
                    .draw()
                    .map_err(err)?;
            }};
        }
        if self.log_y {
            finish!(
                builder
                    .build_cartesian_2d(x0..x1, (y0 * 0.8..y1 * 1.25).log_scale())
                    .map_err(err)?
            );
        } else {
            let pad = (y1 - y0) * 0.05;
            finish!(
                builder
                    .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
                    .map_err(err)?
            );
        }
        Ok(())
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
                Series {
                    name: "a".into(),
                    points: vec![(1.0, 1.0), (2.0, 0.1), (3.0, 0.01)],
                    color: 0,
                    dashed: false,
                },
                Series {
                    name: "b".into(),
                    points: vec![(1.0, 2.0), (2.0, 1.9), (3.0, f64::NAN)],
                    color: 1,
                    dashed: true,
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
}
