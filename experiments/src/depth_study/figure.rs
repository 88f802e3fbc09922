//! Figure 1 of *Training Very Deep Networks*, both panels, from a study's runs: left, the
//! per-epoch training loss of each cell's best run; right, per depth, the mean final training
//! loss of each type's [`TOP`] best runs, with bars from the best to the worst of them.

use std::path::{Path, PathBuf};

use models::LayerKind;

use super::StudyResult;
use super::stats::TOP;
use crate::plot::{LinePlot, Series, series};

/// Figure 1, left: the training loss per epoch of each cell's best run (plain dashed).
pub fn best_runs(result: &StudyResult) -> LinePlot {
    let lines = result
        .best
        .iter()
        .filter_map(|&(kind, depth, i)| {
            let color = result.config.depths.iter().position(|d| *d == depth)?;
            let curve = result.runs[i].train_loss_curve.iter().enumerate();
            let points = curve.map(|(e, l)| ((e + 1) as f64, *l)).collect();
            let name = format!("{kind} {depth}");
            Some(series(&name, color, kind == LayerKind::Plain, points))
        })
        .collect();
    LinePlot {
        title: "MNIST: best training loss per epoch (dashed: plain, solid: highway)".into(),
        x_label: "epoch".into(),
        y_label: "mean training cross-entropy".into(),
        log_y: true,
        series: lines,
    }
}

/// Figure 1, right: per depth, the mean final training loss of the best [`TOP`] runs of each
/// type, with a bar from the best to the worst of them. A cell whose best runs include a
/// diverged one has no point.
pub fn top_runs(result: &StudyResult) -> LinePlot {
    let lines = result
        .config
        .kinds
        .iter()
        .enumerate()
        .map(|(color, &kind)| {
            let cells: Vec<_> = result
                .cells
                .iter()
                .filter(|c| c.kind == kind && c.top_mean.is_finite())
                .collect();
            let n = cells.iter().map(|c| c.top_count).max().unwrap_or(TOP);
            let points = cells.iter().map(|c| (c.depth as f64, c.top_mean)).collect();
            let name = format!("{kind}: mean of best {n}");
            Series {
                bars: cells
                    .iter()
                    .map(|c| (c.depth as f64, c.best, c.top_worst))
                    .collect(),
                ..series(&name, color, kind == LayerKind::Plain, points)
            }
        })
        .collect();
    LinePlot {
        title: format!(
            "MNIST: final training loss of the best {TOP} runs per depth (bars: best to worst of them)"
        ),
        x_label: "depth (layers)".into(),
        y_label: "mean training cross-entropy".into(),
        log_y: true,
        series: lines,
    }
}

/// Writes `figure1.{png,svg}` (left panel) and `figure1-top10.{png,svg}` (right panel) into
/// `dir`; returns the paths written.
pub fn write(result: &StudyResult, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = best_runs(result).write(&dir.join("figure1"))?;
    paths.extend(top_runs(result).write(&dir.join(format!("figure1-top{TOP}")))?);
    Ok(paths)
}
