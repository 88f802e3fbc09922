//! Lesioning (*Training Very Deep Networks* Figure 4): one layer's transform gate forced to 0
//! (pure carry) at a time, and the loss and error of the net so damaged.

use anyhow::bail;
use burn::tensor::Device;
use models::DeepMlp;
use serde::{Deserialize, Serialize};

use super::{host, labels_of};
use models::train::LabelledData;
use models::train::MnistData;

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

/// Loss and error of the intact net and of each stacked layer lesioned, on `data`'s first
/// `examples` items.
pub fn mlp_lesion_split(
    model: &DeepMlp,
    data: &MnistData,
    examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<(LossError, Vec<LossError>)> {
    let layers = model.stack_depth();
    let mut base = LossErrorSum::default();
    let mut lesioned = vec![LossErrorSum::default(); layers];
    let n = examples.min(LabelledData::<2>::len(data));
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let labels = labels_of(data, chunk)?;
        let (x, _) = LabelledData::<2>::batch(data, chunk, false, 0, device);
        let (clean, _, all) = model.forward_all_lesions(x);
        base.add(&host(clean)?, &labels)?;
        for (acc, logits) in lesioned.iter_mut().zip(all) {
            acc.add(&host(logits)?, &labels)?;
        }
    }
    Ok((base.finish(), lesioned.iter().map(|s| s.finish()).collect()))
}

/// Lesions every stacked layer of `model` on each `(name, data, examples)` split.
pub fn mlp_lesion(
    label: &str,
    model: &DeepMlp,
    splits: &[(&str, &MnistData, usize)],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let mut baseline = Vec::new();
    let mut rows: Vec<LesionRow> = (0..model.stack_depth())
        .map(|k| LesionRow {
            layer: k + 2,
            splits: Vec::new(),
        })
        .collect();
    for (name, data, examples) in splits {
        let (base, lesioned) = mlp_lesion_split(model, data, *examples, batch_size, device)?;
        baseline.push((name.to_string(), base));
        for (row, e) in rows.iter_mut().zip(lesioned) {
            row.splits.push((name.to_string(), e));
        }
    }
    Ok(LesionReport {
        label: label.to_string(),
        baseline,
        rows,
    })
}
