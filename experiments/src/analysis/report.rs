//! The tables and figures the analysis writes: CSV and Markdown tables of gate statistics and
//! lesions, and the heat maps and line plots of the `gates` and `lesion` commands (drawn by
//! [`crate::plot`]).

use std::path::{Path, PathBuf};

use models::analysis::{GateReport, LayerBias, LesionReport, LossError, RhnGateReport};
use models::train::write_atomic;

use crate::plot::{Heatmap, LinePlot, Series, series, write_plot};

/// Writes `text` to `dir/name` atomically.
pub fn write_text(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    write_atomic(&dir.join(name), text.as_bytes())
}

/// The gate activity of every unit of an MLP for each kept example (Figure 2, right): one panel
/// per example, units as rows and layers as columns, white 0 to dark 1.
pub fn example_heatmap(label: &str, report: &GateReport) -> Heatmap {
    let panels = report
        .example_gates
        .iter()
        .map(|e| {
            // Rows: units; columns: layers.
            let rows = (0..report.units)
                .map(|u| e.gates.iter().map(|l| l[u] as f64).collect())
                .collect();
            (format!("example {} (digit {})", e.index, e.label), rows)
        })
        .collect();
    Heatmap {
        title: format!("{label}: transform gate T of every unit (white 0, dark 1)"),
        x_label: "layer".into(),
        y_label: "unit".into(),
        panels,
        range: (0.0, 1.0),
        diverging: false,
        x_offset: report.first_layer,
    }
}

/// Each class's mean gate activity minus the overall mean, per layer (Figure 3), on a
/// blue-white-red scale symmetric about 0; rows are the classes (`class_name`: `digit`,
/// `class`).
pub fn class_heatmap(title: &str, class_name: &str, report: &GateReport) -> Heatmap {
    let max_dev = report
        .class_deviation
        .iter()
        .flatten()
        .fold(1e-6f64, |m, v| m.max(v.abs()));
    Heatmap {
        title: format!("{title}: class mean T minus overall mean (±{max_dev:.3})"),
        x_label: "layer".into(),
        y_label: class_name.into(),
        panels: vec![("per class".into(), report.class_deviation.clone())],
        range: (-max_dev, max_dev),
        diverging: true,
        x_offset: report.first_layer,
    }
}

/// The line plots comparing trained MLPs, each given as `(label, gate statistics, learned
/// biases)`, with the file stem of each: `gate-bias` (learned `b_T` minus its initial value:
/// mean, min and max over units), `gate-mean` (Figure 2, mean `T` per layer) and
/// `layer-distance` (Greff et al.: each layer's distance from the final output).
pub fn mlp_gate_plots(
    nets: &[(String, GateReport, Vec<LayerBias>)],
) -> [(&'static str, LinePlot); 3] {
    let mut bias_lines = Vec::new();
    for (c, (label, _, b)) in nets.iter().enumerate() {
        let stat = |l: &LayerBias, i: usize| [l.mean, l.min, l.max][i];
        let stats = [("mean", false), ("min", true), ("max", true)];
        for (i, (name, dashed)) in stats.into_iter().enumerate() {
            let pts = b
                .iter()
                .map(|l| (l.layer as f64, stat(l, i) - l.initial))
                .collect();
            bias_lines.push(series(&format!("{label} {name}"), c, dashed, pts));
        }
    }
    // One line per net, of the points `f` takes from its report.
    let per_net = |f: &dyn Fn(&GateReport) -> Vec<(f64, f64)>| -> Vec<Series> {
        nets.iter()
            .enumerate()
            .map(|(c, (l, r, _))| series(l, c, false, f(r)))
            .collect()
    };
    let mean = per_net(&|r| {
        (0..r.layers)
            .map(|i| ((r.first_layer + i) as f64, r.mean_per_layer[i]))
            .collect()
    });
    let distance = per_net(&|r| {
        r.relative_distance
            .iter()
            .enumerate()
            .map(|(i, v)| ((r.first_layer - 1 + i) as f64, *v))
            .collect()
    });
    let plots = [
        (
            "gate-bias",
            "Learned transform-gate bias minus its initial value, per layer",
            "layer",
            "b_T - initial b_T (mean, min, max over units)",
            bias_lines,
        ),
        (
            "gate-mean",
            "Mean transform-gate activity per layer",
            "layer",
            "mean T",
            mean,
        ),
        (
            "layer-distance",
            "Distance of each layer's output from the final output (Greff et al.)",
            "layer (1: the plain input layer)",
            "mean ||z_l - z_L|| / mean ||z_L||",
            distance,
        ),
    ];
    plots.map(|(stem, title, x_label, y_label, lines)| {
        (
            stem,
            line_plot(title.into(), x_label, y_label, false, lines),
        )
    })
}

/// A [`LinePlot`] of `series`.
fn line_plot(
    title: String,
    x_label: &str,
    y_label: &str,
    log_y: bool,
    series: Vec<Series>,
) -> LinePlot {
    LinePlot {
        title,
        x_label: x_label.into(),
        y_label: y_label.into(),
        log_y,
        series,
    }
}

/// The mean transform gate of each RHN micro-layer at each time step of the window.
pub fn rhn_time_plot(report: &RhnGateReport) -> LinePlot {
    let lines = (0..report.depth).map(|l| {
        let pts = report
            .per_time_step
            .iter()
            .enumerate()
            .map(|(t, r)| ((t + 1) as f64, r[l]))
            .collect();
        series(&format!("micro-layer {}", l + 1), l, false, pts)
    });
    line_plot(
        format!(
            "RHN (depth {}): mean transform gate per micro-layer over the window",
            report.depth
        ),
        "time step in the 35-step window",
        "mean T",
        false,
        lines.collect(),
    )
}

/// The lesion plots of one or more nets: error and loss against the lesioned layer, one solid
/// line per net and split, dashed lines for the intact nets. Writes `<stem>-error` and
/// `<stem>-loss`.
pub fn plot_lesions(reports: &[LesionReport], x_label: &str, stem: &Path) -> Vec<PathBuf> {
    // Every net's every split, each a colour.
    let splits: Vec<_> = reports
        .iter()
        .flat_map(|r| r.baseline.iter().enumerate().map(move |(si, b)| (r, si, b)))
        .collect();
    let mut out = Vec::new();
    for (what, is_error) in [("error", true), ("loss", false)] {
        let pick = |e: &LossError| if is_error { e.error } else { e.loss };
        let mut lines = Vec::new();
        for (color, &(r, si, (split, base))) in splits.iter().enumerate() {
            let points: Vec<(f64, f64)> = r
                .rows
                .iter()
                .filter_map(|row| row.splits.get(si).map(|(_, e)| (row.layer as f64, pick(e))))
                .collect();
            let first = points.first().map(|p| p.0).unwrap_or(0.0);
            let last = points.last().map(|p| p.0).unwrap_or(1.0);
            let name = |state: &str| format!("{} {split}, {state}", r.label);
            lines.push(series(&name("lesioned"), color, false, points));
            let intact = vec![(first, pick(base)), (last, pick(base))];
            lines.push(series(&name("intact"), color, true, intact));
        }
        let y_label = if is_error {
            "error (fraction misclassified; perplexity for an LM)"
        } else {
            "mean cross-entropy"
        };
        let title = format!("Lesioning: {what} with one layer's transform gate forced to 0");
        let plot = line_plot(title, x_label, y_label, true, lines);
        let file = stem
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("lesion");
        out.extend(write_plot(
            &plot,
            &stem.with_file_name(format!("{file}-{what}")),
        ));
    }
    out
}

/// The Markdown summary of a lesion study: per split the intact loss and error, the worst
/// lesion and the harmless layers (error raised by at most `tolerance`), then Greff et al.'s
/// comparison of the first stacked layer's lesion with the later layers'.
pub fn lesion_summary(r: &LesionReport, tolerance: f64) -> String {
    let mut out = format!(
        "### {}\n\n| split | intact loss | intact error | worst lesion | its error | harmless layers (error +≤{:.1} pt) |\n|---|---|---|---|---|---|\n",
        r.label,
        100.0 * tolerance
    );
    for (si, (split, base)) in r.baseline.iter().enumerate() {
        let worst = r
            .rows
            .iter()
            .max_by(|a, b| a.splits[si].1.error.total_cmp(&b.splits[si].1.error));
        let (wl, we) = worst
            .map(|w| {
                (
                    w.layer.to_string(),
                    format!("{:.2}%", 100.0 * w.splits[si].1.error),
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "| {split} | {:.4} | {:.2}% | {wl} | {we} | {} |\n",
            base.loss,
            100.0 * base.error,
            ranges(&r.harmless_layers(split, tolerance))
        ));
    }
    if let (Some(first), true) = (r.rows.first(), r.rows.len() > 1) {
        let rest = &r.rows[1..];
        for (si, (split, base)) in r.baseline.iter().enumerate() {
            let mean_rest =
                rest.iter().map(|x| x.splits[si].1.loss).sum::<f64>() / rest.len() as f64;
            out.push_str(&format!(
                "\nGreff et al.: {split} loss with the first stacked layer (layer {}) lesioned {:.4}, mean over the later layers {:.4} (intact {:.4}).\n",
                first.layer, first.splits[si].1.loss, mean_rest, base.loss
            ));
        }
    }
    out
}

/// Greff et al.'s comparison per stage of a staged conv net (`stages`: the lesioned layers of
/// each stage, in the order of the report's rows), as Markdown: the first layer's lesion against
/// the mean of the stage's later layers, on the report's last split.
pub fn stage_table(report: &LesionReport, stages: &[usize]) -> String {
    let si = report.baseline.len() - 1;
    let split = &report.baseline[si].0;
    let mut s = format!(
        "\n| stage | layers | first-layer lesion: {split} loss | later layers: mean {split} loss | intact |\n|---|---|---|---|---|\n"
    );
    let mut first = 0;
    for (k, d) in stages.iter().enumerate().filter(|(_, d)| **d > 0) {
        let rows = &report.rows[first..first + d];
        let later = if *d > 1 {
            format!(
                "{:.4}",
                rows[1..].iter().map(|r| r.splits[si].1.loss).sum::<f64>() / (*d - 1) as f64
            )
        } else {
            "-".into()
        };
        s.push_str(&format!(
            "| {} | {}-{} | {:.4} | {later} | {:.4} |\n",
            k + 1,
            rows[0].layer,
            rows[d - 1].layer,
            rows[0].splits[si].1.loss,
            report.baseline[si].1.loss
        ));
        first += d;
    }
    s
}

/// The Markdown table of a language model's lesions (`label`, evaluated on `windows` PTB
/// validation windows; `layer`: what is lesioned, e.g. `micro-layer`): loss and perplexity,
/// intact first.
pub fn lm_lesion_table(label: &str, layer: &str, windows: usize, report: &LesionReport) -> String {
    let mut s = format!(
        "### {label} (PTB valid, {} windows; error column = perplexity)\n\n| lesioned {layer} | loss | perplexity |\n|---|---|---|\n| none | {:.4} | {:.1} |\n",
        windows, report.baseline[0].1.loss, report.baseline[0].1.error
    );
    for r in &report.rows {
        s.push_str(&format!(
            "| {} | {:.4} | {:.1} |\n",
            r.layer, r.splits[0].1.loss, r.splits[0].1.error
        ));
    }
    s
}

/// A file-name-safe label of a net with initial transform bias `b`: `bt-2`, `bt-4.5`.
pub fn bias_label(b: f64) -> (String, String) {
    (format!("b_T={b}"), format!("bt{b}"))
}

/// Formats sorted layer numbers as ranges: `[2, 3, 4, 7]` → `2-4, 7`.
pub fn ranges(layers: &[usize]) -> String {
    if layers.is_empty() {
        return "none".into();
    }
    let runs: Vec<String> = layers
        .chunk_by(|a, b| *b == a + 1)
        .map(|run| match run {
            [first, .., last] => format!("{first}-{last}"),
            _ => run[0].to_string(),
        })
        .collect();
    runs.join(", ")
}
