//! The study's statistics per (type, depth) cell, as *Training Very Deep Networks* reports them
//! for Figure 1: the best run's final training loss (left panel) and the mean of the 10 best
//! runs out of 100 (right panel); beside them, the median and the share of runs that diverged
//! or stayed at chance.

use models::LayerKind;
use serde::{Deserialize, Serialize};

use super::{RunSummary, StudyConfig};

/// How many of a cell's best runs Figure 1 (right) averages.
pub const TOP: usize = 10;

/// Runs per cell in the paper's search (and in `--preset paper-breadth`).
pub const PAPER_RUNS: usize = 100;

/// A final training loss at or above this stayed at chance: 90% of `ln 10` (2.303, the
/// cross-entropy of a uniform prediction over the ten digits).
pub const CHANCE_LOSS: f64 = 0.9 * std::f64::consts::LN_10;

/// One (type, depth) cell's statistics over its runs (a diverged run ranks as `+inf`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellStats {
    /// Layer type.
    pub kind: LayerKind,
    /// Depth.
    pub depth: usize,
    /// Runs in the cell.
    pub runs: usize,
    /// The lowest final training loss (`+inf`: every run diverged).
    pub best: f64,
    /// How many runs [`Self::top_mean`] averages: `min(TOP, runs)`.
    pub top_count: usize,
    /// Mean final training loss of the `top_count` best runs (`+inf` if one of them diverged).
    pub top_mean: f64,
    /// The worst of the `top_count` best runs (the spread of `top_mean` is `best..=top_worst`).
    pub top_worst: f64,
    /// Median final training loss (`+inf` if half or more diverged).
    pub median: f64,
    /// Runs whose loss became NaN or infinite.
    pub diverged: usize,
    /// Completed runs whose final loss is at or above [`CHANCE_LOSS`].
    pub at_chance: usize,
}

impl CellStats {
    /// The statistics of `runs` (all of one cell); `None` for no runs.
    pub fn new(kind: LayerKind, depth: usize, runs: &[&RunSummary]) -> Option<Self> {
        if runs.is_empty() {
            return None;
        }
        let mut losses: Vec<f64> = runs.iter().map(|r| r.loss_or_inf()).collect();
        losses.sort_by(f64::total_cmp);
        let n = losses.len();
        let top_count = TOP.min(n);
        let top = &losses[..top_count];
        let median = if n % 2 == 1 {
            losses[n / 2]
        } else {
            (losses[n / 2 - 1] + losses[n / 2]) / 2.0
        };
        Some(Self {
            kind,
            depth,
            runs: n,
            best: losses[0],
            top_count,
            top_mean: top.iter().sum::<f64>() / top_count as f64,
            top_worst: top[top_count - 1],
            median,
            diverged: runs.iter().filter(|r| r.final_train_loss.is_none()).count(),
            at_chance: runs
                .iter()
                .filter(|r| r.final_train_loss.is_some_and(|l| l >= CHANCE_LOSS))
                .count(),
        })
    }
}

/// The study's runs and each cell's statistics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StudyResult {
    /// The configuration.
    pub config: StudyConfig,
    /// Every run.
    pub runs: Vec<RunSummary>,
    /// `(kind, depth, index into runs)` of each cell's best run.
    pub best: Vec<(LayerKind, usize, usize)>,
    /// Each cell's statistics, by depth then type.
    #[serde(default)]
    pub cells: Vec<CellStats>,
}

/// A loss cell: `1.234e-2`, or `diverged` for `+inf`.
pub(crate) fn loss(l: f64) -> String {
    if l.is_finite() {
        format!("{l:.3e}")
    } else {
        "diverged".into()
    }
}

/// `a / b` as `4.3x`, or `-` where either is not finite.
fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() {
        format!("{:.1}x", a / b)
    } else {
        "-".into()
    }
}

impl StudyResult {
    /// The study's result from its runs (in the order the study trains them: by depth, then
    /// type, then run): each (type, depth) cell's best run is the one with the lowest final
    /// training loss, the first of equals.
    pub fn new(config: StudyConfig, runs: Vec<RunSummary>) -> Self {
        let mut best = Vec::new();
        let mut cells = Vec::new();
        for &depth in &config.depths {
            for &kind in &config.kinds {
                let (index, cell): (Vec<usize>, Vec<&RunSummary>) = (runs.iter().enumerate())
                    .filter(|(_, s)| s.kind == kind && s.depth == depth)
                    .unzip();
                let losses = cell.iter().map(|s| s.loss_or_inf());
                if let Some(i) = losses.enumerate().min_by(|a, b| a.1.total_cmp(&b.1)) {
                    best.push((kind, depth, index[i.0]));
                }
                cells.extend(CellStats::new(kind, depth, &cell));
            }
        }
        Self {
            config,
            runs,
            best,
            cells,
        }
    }

    /// The best run of a cell.
    fn best_run(&self, kind: LayerKind, depth: usize) -> Option<&RunSummary> {
        let (_, _, i) = self
            .best
            .iter()
            .find(|(k, d, _)| *k == kind && *d == depth)?;
        Some(&self.runs[*i])
    }

    /// Best final training loss of a cell.
    pub fn best_loss(&self, kind: LayerKind, depth: usize) -> Option<f64> {
        self.best_run(kind, depth).map(RunSummary::loss_or_inf)
    }

    /// A cell's statistics.
    pub fn cell(&self, kind: LayerKind, depth: usize) -> Option<&CellStats> {
        self.cells
            .iter()
            .find(|c| c.kind == kind && c.depth == depth)
    }

    /// The best runs' table as Markdown: per depth the best plain and highway training loss,
    /// their ratio and the two runs' test accuracies.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| depth | best plain train loss | best highway train loss | plain / highway | plain test acc | highway test acc |\n|---|---|---|---|---|---|\n",
        );
        for &depth in &self.config.depths {
            let p = self.best_run(LayerKind::Plain, depth);
            let h = self.best_run(LayerKind::Highway, depth);
            let l = |r: Option<&RunSummary>| r.map(|r| loss(r.loss_or_inf())).unwrap_or("-".into());
            let acc = |r: Option<&RunSummary>| {
                r.and_then(|r| r.test_accuracy)
                    .map(|a| format!("{:.2}%", 100.0 * a))
                    .unwrap_or_else(|| "-".into())
            };
            let q = match (p, h) {
                (Some(p), Some(h)) => ratio(p.loss_or_inf(), h.loss_or_inf()),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "| {depth} | {} | {} | {q} | {} | {} |\n",
                l(p),
                l(h),
                acc(p),
                acc(h)
            ));
        }
        out
    }

    /// The per-cell table as Markdown: runs, best, mean of the best [`TOP`] (with their
    /// range), median, and the runs that diverged or stayed at chance.
    pub fn cell_table(&self) -> String {
        let mut out = format!(
            "| depth | type | runs | best | mean of best {TOP} (range) | median | diverged | at chance |\n|---|---|---|---|---|---|---|---|\n"
        );
        for c in &self.cells {
            let (mean, best, worst) = (loss(c.top_mean), loss(c.best), loss(c.top_worst));
            let top = match c.top_count {
                TOP => format!("{mean} ({best}–{worst})"),
                n => format!("{mean} ({best}–{worst}; {n} runs)"),
            };
            let share = |k: usize| format!("{k} ({:.0}%)", 100.0 * k as f64 / c.runs as f64);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {top} | {} | {} | {} |\n",
                c.depth,
                c.kind,
                c.runs,
                best,
                loss(c.median),
                share(c.diverged),
                share(c.at_chance),
            ));
        }
        out
    }

    /// Per depth, plain / highway for the best run and for the mean of the best [`TOP`].
    pub fn ratios(&self) -> Vec<(usize, Option<f64>, Option<f64>)> {
        let finite = |x: f64| x.is_finite().then_some(x);
        let ratios = |d| {
            let p = self.cell(LayerKind::Plain, d)?;
            let h = self.cell(LayerKind::Highway, d)?;
            Some((finite(p.best / h.best), finite(p.top_mean / h.top_mean)))
        };
        let with_depth = |&d: &usize| {
            let (best, top) = ratios(d).unwrap_or_default();
            (d, best, top)
        };
        self.config.depths.iter().map(with_depth).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn run(run: usize, loss: Option<f64>) -> RunSummary {
        crate::depth_study::test_summary(LayerKind::Highway, 50, run, loss)
    }

    #[test]
    fn statistics_of_twelve_runs_by_hand() {
        // Losses 0.1 .. 0.9 (nine runs), one at chance (2.3), one just under the chance
        // threshold (2.0) and one diverged.
        let mut losses: Vec<Option<f64>> = (1..=9).map(|i| Some(i as f64 / 10.0)).collect();
        losses.extend([Some(2.3), Some(2.0), None]);
        let runs: Vec<RunSummary> = losses
            .iter()
            .enumerate()
            .map(|(i, l)| run(i, *l))
            .rev()
            .collect();
        let refs: Vec<&RunSummary> = runs.iter().collect();
        let c = CellStats::new(LayerKind::Highway, 50, &refs).unwrap();
        assert_eq!(c.runs, 12);
        assert_eq!(c.best, 0.1);
        assert_eq!(c.top_count, 10);
        // The ten best: 0.1 .. 0.9 and 2.0.
        assert!(
            (c.top_mean - (4.5 + 2.0) / 10.0).abs() < 1e-12,
            "{}",
            c.top_mean
        );
        assert_eq!(c.top_worst, 2.0);
        // Sorted: 0.1 .. 0.9, 2.0, 2.3, inf; the middle two are 0.6 and 0.7.
        assert!((c.median - 0.65).abs() < 1e-12);
        assert_eq!(c.diverged, 1);
        assert_eq!(c.at_chance, 1, "2.3 ≥ 0.9 ln 10 = 2.072 > 2.0");
    }

    #[test]
    fn fewer_than_ten_runs_and_diverged_best_runs() {
        let runs = [run(0, Some(0.5)), run(1, None), run(2, Some(0.3))];
        let refs: Vec<&RunSummary> = runs.iter().collect();
        let c = CellStats::new(LayerKind::Highway, 50, &refs).unwrap();
        assert_eq!((c.top_count, c.best, c.median), (3, 0.3, 0.5));
        assert!(c.top_mean.is_infinite(), "a diverged run among the best");
        assert!(c.top_worst.is_infinite());
        let all_diverged = [run(0, None), run(1, None)];
        let refs: Vec<&RunSummary> = all_diverged.iter().collect();
        let c = CellStats::new(LayerKind::Highway, 50, &refs).unwrap();
        assert!(c.best.is_infinite() && c.median.is_infinite());
        assert_eq!(c.diverged, 2);
        assert!(CellStats::new(LayerKind::Highway, 50, &[]).is_none());
    }

    #[test]
    fn the_cell_table_shows_diverged_cells_and_shares() {
        let config = crate::depth_study::test_config(&[50], &[LayerKind::Highway], 2);
        let result = StudyResult::new(config, vec![run(0, Some(0.25)), run(1, None)]);
        let table = result.cell_table();
        assert!(
            table.contains("| 50 | highway | 2 | 2.500e-1 | diverged (2.500e-1–diverged; 2 runs) | diverged | 1 (50%) | 0 (0%) |"),
            "{table}"
        );
    }
}
