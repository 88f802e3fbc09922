//! Lesioning (*Training Very Deep Networks* Figure 4): one layer's transform gate forced to 0
//! (pure carry) at a time, and the loss and error of the net so damaged.

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// Loss and error of a model on one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossError {
    /// Mean cross-entropy (nats).
    pub loss: f64,
    /// Fraction misclassified.
    pub error: f64,
}

/// Sums of cross-entropy and correct predictions, accumulated over batches.
#[derive(Debug, Clone, Copy, Default)]
pub struct LossErrorSum {
    loss: f64,
    correct: usize,
    n: usize,
}

impl LossErrorSum {
    /// Adds a batch of logits (`[batch, classes]`, row-major) with its labels.
    pub fn add(&mut self, logits: &[f32], labels: &[usize]) -> anyhow::Result<()> {
        let batch = labels.len();
        if batch == 0 || !logits.len().is_multiple_of(batch) {
            bail!("{} logits do not split into {batch} rows", logits.len());
        }
        let c = logits.len() / batch;
        for (row, &y) in logits.chunks(c).zip(labels) {
            if y >= c {
                bail!("label {y} is not below {c} classes");
            }
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = max
                + row
                    .iter()
                    .map(|v| (*v as f64 - max).exp())
                    .sum::<f64>()
                    .ln();
            self.loss += lse - row[y] as f64;
            let arg = row
                .iter()
                .enumerate()
                .fold(0, |best, (i, v)| if *v > row[best] { i } else { best });
            self.correct += usize::from(arg == y);
        }
        self.n += batch;
        Ok(())
    }

    /// Mean loss and error.
    pub fn finish(&self) -> LossError {
        let n = self.n.max(1) as f64;
        LossError {
            loss: self.loss / n,
            error: 1.0 - self.correct as f64 / n,
        }
    }
}

/// One row of a lesion table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LesionRow {
    /// Network layer number of the lesioned layer (micro-layer number, 1-based, for an RHN).
    pub layer: usize,
    /// Per split: `(name, loss and error)`.
    pub splits: Vec<(String, LossError)>,
}

/// A lesion study: the intact net and one row per lesioned layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LesionReport {
    /// Label of the net (e.g. `b_T=-2`).
    pub label: String,
    /// The intact net per split.
    pub baseline: Vec<(String, LossError)>,
    /// One row per lesioned layer.
    pub rows: Vec<LesionRow>,
}

impl LesionReport {
    /// The study of `layers` lesions, rows numbered from `first_layer`, over named splits: each
    /// split gives the intact net's loss and error and those with layer `k` lesioned (entry
    /// `k`).
    pub(super) fn from_splits(
        label: &str,
        first_layer: usize,
        layers: usize,
        splits: impl IntoIterator<Item = anyhow::Result<(String, LossError, Vec<LossError>)>>,
    ) -> anyhow::Result<Self> {
        let mut report = Self {
            label: label.to_string(),
            baseline: Vec::new(),
            rows: (0..layers)
                .map(|k| LesionRow {
                    layer: first_layer + k,
                    splits: Vec::new(),
                })
                .collect(),
        };
        for split in splits {
            let (name, base, lesioned) = split?;
            for (row, e) in report.rows.iter_mut().zip(lesioned) {
                row.splits.push((name.clone(), e));
            }
            report.baseline.push((name, base));
        }
        Ok(report)
    }

    /// Layers whose lesion raises the error on `split` by at most `tolerance` (absolute).
    pub fn harmless_layers(&self, split: &str, tolerance: f64) -> Vec<usize> {
        let Some(base) = self.baseline.iter().find(|(s, _)| s == split) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter(|r| {
                r.splits
                    .iter()
                    .find(|(s, _)| s == split)
                    .is_some_and(|(_, e)| e.error - base.1.error <= tolerance)
            })
            .map(|r| r.layer)
            .collect()
    }
}

impl LesionReport {
    /// The rows as CSV: `layer,<split>_loss,<split>_error,...`, baseline first as layer 0.
    pub fn csv(&self) -> String {
        let mut out = String::from("layer");
        for (s, _) in &self.baseline {
            out.push_str(&format!(",{s}_loss,{s}_error"));
        }
        out.push('\n');
        let mut line = |layer: usize, v: &[(String, LossError)]| {
            out.push_str(&layer.to_string());
            for (_, e) in v {
                out.push_str(&format!(",{:.6},{:.6}", e.loss, e.error));
            }
            out.push('\n');
        };
        line(0, &self.baseline);
        for r in &self.rows {
            line(r.layer, &r.splits);
        }
        out
    }
}
