//! Gate analysis and lesioning of trained highway nets.
//!
//! *Training Very Deep Networks* (Srivastava, Greff & Schmidhuber, arXiv:1507.06228), s4:
//!
//! - Figure 2: the learned transform-gate bias `b_T` of every layer against its initial value,
//!   the mean transform-gate activity of every layer over a data split, and the activity of
//!   every unit for single examples;
//! - Figure 3: the mean gate activity of each class minus the mean over all examples;
//! - Figure 4: lesioning, i.e. forcing one layer's `T` to 0 (pure carry) and measuring loss and
//!   error on the training and test sets.
//!
//! Greff, Srivastava & Schmidhuber, *Highway and Residual Networks learn Unrolled Iterative
//! Estimation* (arXiv:1612.07771): the distance of each layer's output from the stack's final
//! output, which shrinks gradually if the layers refine one estimate.
//!
//! The convolutional nets (`mnist-conv`, and the CIFAR nets of Tables 2-3 trained by `cifar`)
//! are read out per layer: the mean over channels and positions (see [`conv_gate_report`],
//! [`cifar_gate_report`], [`cifar_lesion`]).
//!
//! For the RHN of Zilly et al. (arXiv:1607.03474) the same read-outs run per micro-layer (see
//! [`rhn_gate_report`] and [`rhn_lesion`]).
//!
//! The statistics are accumulated on the host from per-batch read-outs, so the arithmetic is
//! plain Rust that the tests check on hand-made inputs.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};
use datasets::{Bptt, CifarDataset, CifarKind, CifarSplit, CifarTransform};
use models::{
    CifarHighwayConfig, CifarNet, ConvStage, DeepMlp, DeepMlpConfig, MnistConvNet,
    MnistConvNetConfig, RhnLm, RhnLmConfig,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{CifarData, MnistData};
use crate::plot::{LinePlot, Series};
use crate::train::{LabelledData, RunDir, write_atomic};

// ---------------------------------------------------------------------------------------------
// Loading trained runs
// ---------------------------------------------------------------------------------------------

/// Which trained nets the analysis binaries (`gates`, `lesion`) read: run directories of the
/// training binaries, rebuilt from their `config.json` and newest checkpoint.
#[derive(clap::Args, Debug, Clone)]
pub struct NetArgs {
    /// Trained `mnist-depth` highway runs (a run directory, or an --out directory holding one run).
    #[arg(long, value_delimiter = ',')]
    pub run: Vec<PathBuf>,
    /// A trained `mnist-conv` highway net (per layer of each stage).
    #[arg(long)]
    pub conv_run: Option<PathBuf>,
    /// A trained `cifar` highway net (not --plain), on the run's own data set (highway layers
    /// numbered 1.. over the stages; a --samples run has only its 20 images).
    #[arg(long)]
    pub cifar_run: Option<PathBuf>,
    /// A trained RHN language model (`ptb` run directory), per micro-layer.
    #[arg(long)]
    pub rhn_run: Option<PathBuf>,
    /// PTB validation windows (batch 10, 35 steps) for the RHN (0: all).
    #[arg(long, default_value_t = 40)]
    pub windows: usize,
    /// Directory holding the data files (default: the cache filled by scripts/fetch-data.sh).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl NetArgs {
    /// An error unless at least one net is named.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.run.is_empty()
            && self.conv_run.is_none()
            && self.cifar_run.is_none()
            && self.rhn_run.is_none()
        {
            bail!(
                "name at least one trained net with --run (MNIST MLP), --conv-run (MNIST conv \
                 net), --cifar-run (CIFAR conv net) or --rhn-run (PTB RHN)"
            );
        }
        Ok(())
    }
}

/// A trained model read back from a run directory (`config.json` + `checkpoints/`).
#[derive(Debug)]
pub struct LoadedRun<C, M> {
    /// The run directory.
    pub dir: PathBuf,
    /// The model configuration (the `model` entry of `config.json`).
    pub config: C,
    /// The model with the weights of the newest checkpoint.
    pub model: M,
    /// Epoch (1-based) of that checkpoint.
    pub epoch: usize,
}

/// Finds the run directory: `path` itself if its `config.json` has a `model` entry, else the
/// single `*/run-*` directory below it that has one (an `mnist-depth --out` directory with one
/// run). Errors list what was found.
pub fn resolve_run_dir(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.is_dir() {
        bail!("{}: no such run directory", path.display());
    }
    let has_model = |dir: &Path| {
        std::fs::read_to_string(dir.join("config.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v.get("model").is_some())
    };
    if has_model(path) {
        return Ok(path.to_path_buf());
    }
    let mut found = Vec::new();
    for cell in std::fs::read_dir(path)?.filter_map(|e| e.ok()) {
        if !cell.path().is_dir() {
            continue;
        }
        for run in std::fs::read_dir(cell.path())?.filter_map(|e| e.ok()) {
            let p = run.path();
            let is_run = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("run-"));
            if is_run && has_model(&p) {
                found.push(p);
            }
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "{}: neither it nor a */run-* directory below it has a config.json with a \"model\" \
             entry (expected a run written by mnist-depth, mnist-conv, ptb or cifar)",
            path.display()
        ),
        _ => bail!(
            "{}: holds {} runs; name one of them: {}",
            path.display(),
            found.len(),
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The parsed `config.json` of a run directory.
fn run_config(dir: &Path) -> anyhow::Result<serde_json::Value> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", config_path.display()))
}

fn load_run<C: serde::de::DeserializeOwned, M: Module>(
    path: &Path,
    init: impl FnOnce(&C) -> anyhow::Result<M>,
) -> anyhow::Result<LoadedRun<C, M>> {
    let dir = resolve_run_dir(path)?;
    let config_path = dir.join("config.json");
    let value = run_config(&dir)?;
    let model_value = value
        .get("model")
        .cloned()
        .with_context(|| format!("{} has no \"model\" entry", config_path.display()))?;
    let config: C = serde_json::from_value(model_value).with_context(|| {
        format!(
            "the \"model\" entry of {} is not this model's configuration",
            config_path.display()
        )
    })?;
    let run = RunDir {
        path: dir.to_path_buf(),
    };
    let (epoch, ckpt) = run.latest_checkpoint().with_context(|| {
        format!(
            "{}: no checkpoint (checkpoints/latest is missing or names a missing epoch)",
            dir.display()
        )
    })?;
    let weights = ckpt.join("model.bpk");
    let model = init(&config)?
        .try_load_file(&weights)
        .with_context(|| format!("loading {}", weights.display()))?;
    Ok(LoadedRun {
        dir,
        config,
        model,
        epoch,
    })
}

/// Loads a [`DeepMlp`] trained by `mnist-depth` (a run directory or an `--out` directory with
/// one run).
pub fn load_mlp_run(
    path: &Path,
    device: &Device,
) -> anyhow::Result<LoadedRun<DeepMlpConfig, DeepMlp>> {
    load_run(path, |c: &DeepMlpConfig| {
        c.validate().map_err(anyhow::Error::msg)?;
        Ok(c.init(device))
    })
}

/// Loads a [`MnistConvNet`] trained by `mnist-conv`.
pub fn load_conv_run(
    path: &Path,
    device: &Device,
) -> anyhow::Result<LoadedRun<MnistConvNetConfig, MnistConvNet>> {
    load_run(path, |c: &MnistConvNetConfig| Ok(c.init(device)))
}

/// Loads an [`RhnLm`] trained by `ptb` (or `charlm`).
pub fn load_rhn_run(path: &Path, device: &Device) -> anyhow::Result<LoadedRun<RhnLmConfig, RhnLm>> {
    load_run(path, |c: &RhnLmConfig| {
        c.validate().map_err(anyhow::Error::msg)?;
        Ok(c.init(device))
    })
}

fn host<const D: usize>(t: Tensor<D>) -> anyhow::Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading a tensor back to the host: {e:?}"))
}

// ---------------------------------------------------------------------------------------------
// Gate statistics (Figures 2 and 3, Greff et al.)
// ---------------------------------------------------------------------------------------------

/// The transform-gate biases of one layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerBias {
    /// Layer number in the network (the plain input layer is 1, highway layers 2..depth).
    pub layer: usize,
    /// Initial value of every bias.
    pub initial: f64,
    /// Mean learned bias.
    pub mean: f64,
    /// Smallest learned bias.
    pub min: f64,
    /// Largest learned bias.
    pub max: f64,
    /// Every unit's learned bias.
    pub units: Vec<f64>,
}

/// Summarises learned transform-gate biases (one `Vec` per layer, input side first) against
/// their common initial value; the first gated layer is network layer `first_layer`.
pub fn bias_table(biases: &[Vec<f32>], initial: f64, first_layer: usize) -> Vec<LayerBias> {
    biases
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let units: Vec<f64> = b.iter().map(|v| *v as f64).collect();
            LayerBias {
                layer: first_layer + i,
                initial,
                mean: units.iter().sum::<f64>() / units.len().max(1) as f64,
                min: units.iter().copied().fold(f64::INFINITY, f64::min),
                max: units.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                units,
            }
        })
        .collect()
}

/// The gate activity of every unit of every layer for one example.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExampleGates {
    /// Index in the split.
    pub index: usize,
    /// Its class.
    pub label: usize,
    /// `T` of every unit: `[layers][units]`.
    pub gates: Vec<Vec<f32>>,
}

/// Accumulates gate statistics over batches (see [`GateAccumulator::add`]).
#[derive(Debug, Clone)]
pub struct GateAccumulator {
    layers: usize,
    units: usize,
    n_classes: usize,
    keep_examples: usize,
    examples: usize,
    unit_sum: Vec<f64>,
    layer_sq_sum: Vec<f64>,
    class_sum: Vec<f64>,
    class_counts: Vec<usize>,
    dist_sum: Vec<f64>,
    final_norm_sum: f64,
    kept: Vec<ExampleGates>,
}

/// Gate statistics of a trained net over one data split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateReport {
    /// Gated layers.
    pub layers: usize,
    /// Units per layer.
    pub units: usize,
    /// Network layer number of the first gated layer.
    pub first_layer: usize,
    /// Examples seen.
    pub examples: usize,
    /// Mean transform-gate activity of each layer over examples and units (Figure 2).
    pub mean_per_layer: Vec<f64>,
    /// Standard deviation over examples of each layer's per-example mean activity.
    pub std_over_examples: Vec<f64>,
    /// Mean activity of every unit: `[layers][units]`.
    pub mean_per_unit: Vec<Vec<f64>>,
    /// Fraction of units per layer whose mean `T` is below 0.1 (the unit mostly carries).
    pub closed_fraction: Vec<f64>,
    /// Examples per class.
    pub class_counts: Vec<usize>,
    /// Per-class mean activity minus the overall mean: `[classes][layers]` (Figure 3).
    pub class_deviation: Vec<Vec<f64>>,
    /// Mean L2 distance of each layer's output from the stack's final output, the input of the
    /// stack first (`layers + 1` entries, the last 0): Greff et al. 2017.
    pub distance_to_output: Vec<f64>,
    /// `distance_to_output` divided by the mean L2 norm of the final output.
    pub relative_distance: Vec<f64>,
    /// The first examples' full gate activity (Figure 2, right).
    pub example_gates: Vec<ExampleGates>,
}

impl GateAccumulator {
    /// An empty accumulator for `layers` gated layers of `units` units and `n_classes` classes,
    /// keeping the full activity of the first `keep_examples` examples.
    pub fn new(layers: usize, units: usize, n_classes: usize, keep_examples: usize) -> Self {
        Self {
            layers,
            units,
            n_classes,
            keep_examples,
            examples: 0,
            unit_sum: vec![0.0; layers * units],
            layer_sq_sum: vec![0.0; layers],
            class_sum: vec![0.0; n_classes * layers],
            class_counts: vec![0; n_classes],
            dist_sum: vec![0.0; layers + 1],
            final_norm_sum: 0.0,
            kept: Vec::new(),
        }
    }

    /// Adds one batch.
    ///
    /// # Shapes
    ///
    /// - `gates`: `[batch, layers, units]`, row-major
    /// - `labels`: `[batch]`, each below `n_classes`
    /// - `outputs`: `[batch, layers + 1, units]`: the stack's input, then every layer's output
    pub fn add(&mut self, gates: &[f32], labels: &[usize], outputs: &[f32]) -> anyhow::Result<()> {
        let (l, d) = (self.layers, self.units);
        let batch = labels.len();
        if gates.len() != batch * l * d || outputs.len() != batch * (l + 1) * d {
            bail!(
                "gate statistics: a batch of {batch} needs {} gate and {} output values, got {} and {}",
                batch * l * d,
                batch * (l + 1) * d,
                gates.len(),
                outputs.len()
            );
        }
        for (b, &label) in labels.iter().enumerate() {
            if label >= self.n_classes {
                bail!(
                    "gate statistics: label {label} is not below {}",
                    self.n_classes
                );
            }
            let g = &gates[b * l * d..(b + 1) * l * d];
            for layer in 0..l {
                let row = &g[layer * d..(layer + 1) * d];
                let mut m = 0.0;
                for (u, v) in row.iter().enumerate() {
                    self.unit_sum[layer * d + u] += *v as f64;
                    m += *v as f64;
                }
                m /= d as f64;
                self.layer_sq_sum[layer] += m * m;
                self.class_sum[label * l + layer] += m;
            }
            self.class_counts[label] += 1;
            let o = &outputs[b * (l + 1) * d..(b + 1) * (l + 1) * d];
            let last = &o[l * d..];
            self.final_norm_sum += last.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            for k in 0..=l {
                let dist: f64 = o[k * d..(k + 1) * d]
                    .iter()
                    .zip(last)
                    .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                    .sum();
                self.dist_sum[k] += dist.sqrt();
            }
            if self.kept.len() < self.keep_examples {
                self.kept.push(ExampleGates {
                    index: self.examples,
                    label,
                    gates: g.chunks(d).map(|r| r.to_vec()).collect(),
                });
            }
            self.examples += 1;
        }
        Ok(())
    }

    /// The statistics; `first_layer` is the network layer number of the first gated layer.
    pub fn finish(self, first_layer: usize) -> anyhow::Result<GateReport> {
        let (l, d) = (self.layers, self.units);
        let n = self.examples;
        if n == 0 {
            bail!("gate statistics: no examples");
        }
        let mean_per_unit: Vec<Vec<f64>> = self
            .unit_sum
            .chunks(d)
            .map(|r| r.iter().map(|s| s / n as f64).collect())
            .collect();
        let mean_per_layer: Vec<f64> = mean_per_unit
            .iter()
            .map(|r| r.iter().sum::<f64>() / d as f64)
            .collect();
        let std_over_examples = (0..l)
            .map(|i| {
                (self.layer_sq_sum[i] / n as f64 - mean_per_layer[i].powi(2))
                    .max(0.0)
                    .sqrt()
            })
            .collect();
        let closed_fraction = mean_per_unit
            .iter()
            .map(|r| r.iter().filter(|m| **m < 0.1).count() as f64 / d as f64)
            .collect();
        let class_deviation = (0..self.n_classes)
            .map(|c| {
                (0..l)
                    .map(|i| match self.class_counts[c] {
                        0 => 0.0,
                        k => self.class_sum[c * l + i] / k as f64 - mean_per_layer[i],
                    })
                    .collect()
            })
            .collect();
        let distance_to_output: Vec<f64> = self.dist_sum.iter().map(|s| s / n as f64).collect();
        let norm = self.final_norm_sum / n as f64;
        let relative_distance = distance_to_output
            .iter()
            .map(|v| if norm > 0.0 { v / norm } else { 0.0 })
            .collect();
        Ok(GateReport {
            layers: l,
            units: d,
            first_layer,
            examples: n,
            mean_per_layer,
            std_over_examples,
            mean_per_unit,
            closed_fraction,
            class_counts: self.class_counts,
            class_deviation,
            distance_to_output,
            relative_distance,
            example_gates: self.kept,
        })
    }
}

fn labels_of(data: &MnistData, indices: &[usize]) -> anyhow::Result<Vec<usize>> {
    indices
        .iter()
        .map(|&i| {
            data.data
                .label(i)
                .map(|l| l as usize)
                .with_context(|| format!("MNIST index {i} out of range"))
        })
        .collect()
}

/// Gate statistics of a highway [`DeepMlp`] over the first `examples` items of `data`.
pub fn mlp_gate_report(
    model: &DeepMlp,
    data: &MnistData,
    examples: usize,
    keep_examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<GateReport> {
    let layers = model.stack_depth();
    let Some(first_bias) = model.transform_biases().and_then(|b| b.into_iter().next()) else {
        bail!("gate statistics need a highway net; this one has plain layers");
    };
    let units = first_bias.dims()[0];
    let n_classes = model.output.weight.dims()[1];
    let mut acc = GateAccumulator::new(layers, units, n_classes, keep_examples);
    let n = examples.min(LabelledData::<2>::len(data));
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, _) = LabelledData::<2>::batch(data, chunk, false, 0, device);
        let z0 = model.input_features(x.clone());
        let (_, out) = model.forward_with_gates(x, None);
        let gates = host(Tensor::stack::<3>(out.gates, 1))?;
        let mut all = vec![z0];
        all.extend(out.layer_outputs);
        let outputs = host(Tensor::stack::<3>(all, 1))?;
        acc.add(&gates, &labels_of(data, chunk)?, &outputs)?;
    }
    acc.finish(2)
}

// ---------------------------------------------------------------------------------------------
// Lesioning (Figure 4)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Convolutional highway nets: per stage
// ---------------------------------------------------------------------------------------------

/// The number of gated (or plain) layers in each of `stages`.
pub fn stage_depths(stages: &[ConvStage]) -> Vec<usize> {
    stages
        .iter()
        .map(|s| match s {
            ConvStage::Highway(st) => st.depth(),
            ConvStage::Plain(st) => st.depth(),
        })
        .collect()
}

/// The number of gated (or plain) layers in each stage of a conv net.
pub fn conv_stage_depths(model: &MnistConvNet) -> Vec<usize> {
    stage_depths(&model.stages)
}

/// Class logits of a [`MnistConvNet`] at inference (dropout off), with layer `layer` of stage
/// `stage` forced to carry when `lesion = Some((stage, layer))` (0-based), and every highway
/// layer's per-example mean transform-gate activity.
///
/// # Shapes
///
/// - input: `[batch, 1, 28, 28]`
/// - output: logits `[batch, n_classes]`; gate means `[batch, layers]` (`None` for plain stages)
pub fn conv_forward(
    model: &MnistConvNet,
    x: Tensor<4>,
    lesion: Option<(usize, usize)>,
) -> (Tensor<2>, Option<Tensor<2>>) {
    let mut z = relu(model.input.forward(x));
    let mut gates = Vec::new();
    for (s, (stage, pool)) in model.stages.iter().zip(&model.pools).enumerate() {
        let les = lesion.and_then(|(ls, l)| (ls == s).then_some(l));
        z = match stage {
            ConvStage::Highway(st) => {
                let out = st.forward_with_gates(z, les);
                gates.extend(out.gate_mean_per_example());
                out.output
            }
            ConvStage::Plain(st) => st.forward_with_gates(z, les).output,
        };
        z = pool.forward(z);
    }
    let gates = (!gates.is_empty()).then(|| Tensor::cat(gates, 1));
    (model.output.forward(z.flatten::<2>(1, 3)), gates)
}

/// A staged conv net seen from the analysis: class logits and per-example mean gate activity
/// `[batch, layers]` with gated layer `k` (0-based over all stages) lesioned when `Some(k)`.
type StagedForward<'a> = &'a dyn Fn(Tensor<4>, Option<usize>) -> (Tensor<2>, Option<Tensor<2>>);

fn targets(t: Tensor<1, Int>) -> anyhow::Result<Vec<usize>> {
    t.into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map(|v| v.into_iter().map(|y| y as usize).collect())
        .map_err(|e| anyhow::anyhow!("reading labels back to the host: {e:?}"))
}

/// Gate statistics of a staged conv net with `layers` gated layers (one "unit" per layer).
#[allow(clippy::too_many_arguments)]
fn staged_gate_report(
    forward: StagedForward,
    layers: usize,
    n_classes: usize,
    first_layer: usize,
    data: &dyn LabelledData<4>,
    examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<GateReport> {
    let mut acc = GateAccumulator::new(layers, 1, n_classes, 0);
    let n = examples.min(data.len());
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, y) = data.batch(chunk, false, 0, device);
        let (_, gates) = forward(x, None);
        let gates = gates.context("gate statistics need a highway net; this one is plain")?;
        let zeros = vec![0.0; chunk.len() * (layers + 1)];
        acc.add(&host(gates)?, &targets(y)?, &zeros)?;
    }
    acc.finish(first_layer)
}

/// Lesions each of the `layers` gated layers of a staged conv net in turn on each split; row
/// `k` is numbered `first_layer + k`.
fn staged_lesion(
    label: &str,
    forward: StagedForward,
    layers: usize,
    first_layer: usize,
    splits: &[(&str, &dyn LabelledData<4>, usize)],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let mut baseline = Vec::new();
    let mut rows: Vec<LesionRow> = (0..layers)
        .map(|k| LesionRow {
            layer: first_layer + k,
            splits: Vec::new(),
        })
        .collect();
    for (name, data, examples) in splits {
        let mut base = LossErrorSum::default();
        let mut sums = vec![LossErrorSum::default(); layers];
        let n = (*examples).min(data.len());
        let indices: Vec<usize> = (0..n).collect();
        for chunk in indices.chunks(batch_size.max(1)) {
            let (x, y) = data.batch(chunk, false, 0, device);
            let labels = targets(y)?;
            base.add(&host(forward(x.clone(), None).0)?, &labels)?;
            for (k, sum) in sums.iter_mut().enumerate() {
                sum.add(&host(forward(x.clone(), Some(k)).0)?, &labels)?;
            }
        }
        baseline.push((name.to_string(), base.finish()));
        for (row, sum) in rows.iter_mut().zip(&sums) {
            row.splits.push((name.to_string(), sum.finish()));
        }
    }
    Ok(LesionReport {
        label: label.to_string(),
        baseline,
        rows,
    })
}

/// `(stage, layer)` of each gated layer of a conv net, in order.
fn conv_lesions(model: &MnistConvNet) -> Vec<(usize, usize)> {
    conv_stage_depths(model)
        .iter()
        .enumerate()
        .flat_map(|(s, d)| (0..*d).map(move |l| (s, l)))
        .collect()
}

/// Per-layer mean gate activity and per-class deviations of a conv highway net (the statistics
/// of [`GateReport`] with one "unit" per layer: the mean over channels and positions; the
/// distances to the output are not measured and read 0).
pub fn conv_gate_report(
    model: &MnistConvNet,
    data: &MnistData,
    examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<GateReport> {
    let lesions = conv_lesions(model);
    let forward = |x, k: Option<usize>| conv_forward(model, x, k.map(|k| lesions[k]));
    let n_classes = model.output.weight.dims()[1];
    staged_gate_report(
        &forward,
        lesions.len(),
        n_classes,
        2,
        data,
        examples,
        batch_size,
        device,
    )
}

/// Lesions every layer of every stage of a conv net in turn on each `(name, data, examples)`
/// split. Rows are numbered as network layers: the input convolution is 1, the stacked layers
/// 2, 3, ... across the stages.
pub fn conv_lesion(
    label: &str,
    model: &MnistConvNet,
    splits: &[(&str, &MnistData, usize)],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let lesions = conv_lesions(model);
    let forward = |x, k: Option<usize>| conv_forward(model, x, k.map(|k| lesions[k]));
    let splits: Vec<(&str, &dyn LabelledData<4>, usize)> = splits
        .iter()
        .map(|(n, d, e)| (*n, *d as &dyn LabelledData<4>, *e))
        .collect();
    staged_lesion(
        label,
        &forward,
        lesions.len(),
        2,
        &splits,
        batch_size,
        device,
    )
}

// ---------------------------------------------------------------------------------------------
// CIFAR highway nets (the `cifar` binary): per highway layer over the stages
// ---------------------------------------------------------------------------------------------

/// Loads a [`CifarNet`] trained by `cifar`.
pub fn load_cifar_run(
    path: &Path,
    device: &Device,
) -> anyhow::Result<LoadedRun<CifarHighwayConfig, CifarNet>> {
    load_run(path, |c: &CifarHighwayConfig| {
        c.validate().map_err(anyhow::Error::msg)?;
        Ok(c.init(device))
    })
}

/// The number of highway layers in each stage of a CIFAR net (the stages' plain first
/// convolutions not counted); an error for a plain net (`cifar --plain`), which has no gates.
pub fn cifar_stage_depths(model: &CifarNet) -> anyhow::Result<Vec<usize>> {
    if model
        .stages
        .iter()
        .any(|s| matches!(s, ConvStage::Plain(_)))
    {
        bail!(
            "this CIFAR net is plain (trained with `cifar --plain`): it has no transform gates to \
             read out or lesion; analyse a highway run instead"
        );
    }
    Ok(stage_depths(&model.stages))
}

/// Class logits of a [`CifarNet`] at inference (on a device without autodiff dropout is off)
/// with highway layer `lesion` (0-based over all stages) forced to carry, and every highway
/// layer's per-example mean transform-gate activity.
///
/// # Shapes
///
/// - input: `[batch, 3, 32, 32]`
/// - output: logits `[batch, n_classes]`; gate means `[batch, highway layers]` (`None` for a
///   plain net)
pub fn cifar_forward(
    model: &CifarNet,
    x: Tensor<4>,
    lesion: Option<usize>,
) -> (Tensor<2>, Option<Tensor<2>>) {
    let out = model.forward_with_gates(x, lesion);
    let gates = out.gate_mean_per_example();
    (out.logits, gates)
}

/// Per-layer mean gate activity and per-class deviations of a CIFAR highway net, as
/// [`conv_gate_report`]; layers are numbered 1.. over the highway layers of all stages.
pub fn cifar_gate_report(
    model: &CifarNet,
    data: &CifarData,
    examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<GateReport> {
    let layers = cifar_stage_depths(model)?.iter().sum();
    let forward = |x, k| cifar_forward(model, x, k);
    let n_classes = model.output.weight.dims()[1];
    staged_gate_report(
        &forward, layers, n_classes, 1, data, examples, batch_size, device,
    )
}

/// Lesions every highway layer of a CIFAR net in turn on each `(name, data, examples)` split;
/// rows are numbered 1.. over the highway layers of all stages.
pub fn cifar_lesion(
    label: &str,
    model: &CifarNet,
    splits: &[(&str, &CifarData, usize)],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let layers = cifar_stage_depths(model)?.iter().sum();
    let forward = |x, k| cifar_forward(model, x, k);
    let splits: Vec<(&str, &dyn LabelledData<4>, usize)> = splits
        .iter()
        .map(|(n, d, e)| (*n, *d as &dyn LabelledData<4>, *e))
        .collect();
    staged_lesion(label, &forward, layers, 1, &splits, batch_size, device)
}

/// The evaluation data of a `cifar` run, chosen by the `dataset` entry of its `config.json`:
/// `[("train", ..), ("test", ..)]` for `cifar10` and `cifar100`, `[("samples", ..)]` for
/// `cifar10-samples` (the 20 foolbox images, on which such a run is both trained and
/// evaluated). Evaluation batches get the training run's contrast normalisation and no
/// augmentation.
pub fn cifar_run_splits(
    run_dir: &Path,
    data_dir: Option<&Path>,
) -> anyhow::Result<Vec<(&'static str, CifarData)>> {
    let config = run_config(run_dir)?;
    let dataset = config
        .get("dataset")
        .and_then(|d| d.as_str())
        .with_context(|| {
            format!(
                "{}: config.json has no \"dataset\" entry (expected a run of the cifar binary)",
                run_dir.display()
            )
        })?;
    let wrap = |set| CifarData::new(set, CifarTransform::eval());
    let load = |kind| -> anyhow::Result<Vec<(&'static str, CifarData)>> {
        Ok(vec![
            (
                "train",
                wrap(CifarDataset::load(kind, CifarSplit::Train, data_dir)?),
            ),
            (
                "test",
                wrap(CifarDataset::load(kind, CifarSplit::Test, data_dir)?),
            ),
        ])
    };
    match dataset {
        "cifar10" => load(CifarKind::Cifar10),
        "cifar100" => load(CifarKind::Cifar100),
        "cifar10-samples" => Ok(vec![(
            "samples",
            wrap(CifarDataset::cifar10_samples(data_dir)?),
        )]),
        other => bail!(
            "{}: dataset {other:?} is not a cifar run's (cifar10, cifar100, cifar10-samples)",
            run_dir.display()
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// RHN: per micro-layer
// ---------------------------------------------------------------------------------------------

/// Transform-gate activity of an RHN language model on a token stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RhnGateReport {
    /// Recurrence depth.
    pub depth: usize,
    /// Windows evaluated.
    pub windows: usize,
    /// Mean transform-gate activity of each micro-layer (1-based index = position).
    pub mean_per_micro_layer: Vec<f64>,
    /// Mean activity of each micro-layer at each position in the window: `[seq][depth]`.
    pub per_time_step: Vec<Vec<f64>>,
    /// Learned transform-gate biases: mean, min, max per micro-layer.
    pub biases: Vec<LayerBias>,
}

/// Gate statistics of an RHN LM over the first `max_windows` windows of `data` (0: all), with
/// the state carried across windows and no dropout.
pub fn rhn_gate_report(
    model: &RhnLm,
    initial_bias: f64,
    data: &Bptt,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<RhnGateReport> {
    let depth = model.rhn.depth();
    let mut state = None;
    let mut sum_t: Vec<Vec<f64>> = Vec::new();
    let mut windows = 0;
    for w in 0..data.num_windows() {
        if max_windows > 0 && w >= max_windows {
            break;
        }
        let window = data.window(w).context("BPTT window out of range")?;
        let (x, _) = window.to_tensors(device);
        let (_, out) = model.forward_with_gates(x, state, None, None);
        state = Some(out.state);
        let per_t = host(out.gates.per_time_step())?;
        let seq = per_t.len() / depth;
        if sum_t.len() < seq {
            sum_t.resize(seq, vec![0.0; depth]);
        }
        for (t, row) in per_t.chunks(depth).enumerate() {
            for (l, v) in row.iter().enumerate() {
                sum_t[t][l] += *v as f64;
            }
        }
        windows += 1;
    }
    if windows == 0 {
        bail!("RHN gate statistics: the data has no windows");
    }
    let per_time_step: Vec<Vec<f64>> = sum_t
        .iter()
        .map(|r| r.iter().map(|v| v / windows as f64).collect())
        .collect();
    let mean_per_micro_layer = (0..depth)
        .map(|l| per_time_step.iter().map(|r| r[l]).sum::<f64>() / per_time_step.len() as f64)
        .collect();
    let b = host(model.rhn.cell.transform_biases())?;
    let d = b.len() / depth;
    let rows: Vec<Vec<f32>> = b.chunks(d).map(|r| r.to_vec()).collect();
    Ok(RhnGateReport {
        depth,
        windows,
        mean_per_micro_layer,
        per_time_step,
        biases: bias_table(&rows, initial_bias, 1),
    })
}

/// Per-token cross-entropy (nats) of an RHN LM on `data` with micro-layer `lesion` forced to
/// carry (`None`: intact), over the first `max_windows` windows (0: all).
pub fn rhn_loss(
    model: &RhnLm,
    data: &Bptt,
    lesion: Option<usize>,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<f64> {
    let mut state = None;
    let mut acc = LossErrorSum::default();
    for w in 0..data.num_windows() {
        if max_windows > 0 && w >= max_windows {
            break;
        }
        let window = data.window(w).context("BPTT window out of range")?;
        let (x, _) = window.to_tensors(device);
        let (logits, out) = model.forward_with_gates(x, state, None, lesion);
        state = Some(out.state);
        let [b, s, v] = logits.dims();
        let labels: Vec<usize> = window.targets.iter().map(|t| *t as usize).collect();
        acc.add(&host(logits.reshape([b * s, v]))?, &labels)?;
    }
    Ok(acc.finish().loss)
}

/// Lesions each micro-layer of an RHN LM in turn; rows hold the per-token loss, and the
/// `error` field holds the perplexity `exp(loss)`.
pub fn rhn_lesion(
    label: &str,
    model: &RhnLm,
    data: &Bptt,
    split: &str,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let point = |loss: f64| LossError {
        loss,
        error: loss.exp(),
    };
    let base = rhn_loss(model, data, None, max_windows, device)?;
    let mut rows = Vec::new();
    for l in 0..model.rhn.depth() {
        let loss = rhn_loss(model, data, Some(l), max_windows, device)?;
        rows.push(LesionRow {
            layer: l + 1,
            splits: vec![(split.to_string(), point(loss))],
        });
    }
    Ok(LesionReport {
        label: label.to_string(),
        baseline: vec![(split.to_string(), point(base))],
        rows,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing tables and plots
// ---------------------------------------------------------------------------------------------

/// Writes `text` to `dir/name` atomically.
pub fn write_text(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    write_atomic(&dir.join(name), text.as_bytes())
}

/// CSV of the learned biases: `layer,initial,mean,min,max`.
pub fn bias_csv(biases: &[LayerBias]) -> String {
    let mut out = String::from("layer,initial,mean,min,max\n");
    for b in biases {
        out.push_str(&format!(
            "{},{},{:.5},{:.5},{:.5}\n",
            b.layer, b.initial, b.mean, b.min, b.max
        ));
    }
    out
}

impl GateReport {
    /// Per-layer CSV: `layer,mean_t,std_over_examples,closed_fraction,distance_to_output,
    /// relative_distance`; the stack input is layer `first_layer − 1` (no gate).
    pub fn layer_csv(&self) -> String {
        let mut out = String::from(
            "layer,mean_t,std_over_examples,closed_fraction,distance_to_output,relative_distance\n",
        );
        out.push_str(&format!(
            "{},,,,{:.5},{:.5}\n",
            self.first_layer - 1,
            self.distance_to_output[0],
            self.relative_distance[0]
        ));
        for i in 0..self.layers {
            out.push_str(&format!(
                "{},{:.5},{:.5},{:.4},{:.5},{:.5}\n",
                self.first_layer + i,
                self.mean_per_layer[i],
                self.std_over_examples[i],
                self.closed_fraction[i],
                self.distance_to_output[i + 1],
                self.relative_distance[i + 1]
            ));
        }
        out
    }

    /// Per-class CSV: `class,count,<deviation of each layer>`.
    pub fn class_csv(&self) -> String {
        let mut out = String::from("class,count");
        for i in 0..self.layers {
            out.push_str(&format!(",layer{}", self.first_layer + i));
        }
        out.push('\n');
        for (c, row) in self.class_deviation.iter().enumerate() {
            out.push_str(&format!("{c},{}", self.class_counts[c]));
            for v in row {
                out.push_str(&format!(",{v:.5}"));
            }
            out.push('\n');
        }
        out
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
        crate::plot::write_png_svg(self, stem, (width, 420))
    }
}

impl crate::plot::Figure for Heatmap {
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
    match plot.write(stem) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warning: no plot {}: {e:#}", stem.display());
            Vec::new()
        }
    }
}

/// Writes a heat map, printing (not failing on) a missing font.
pub fn write_heatmap(map: &Heatmap, stem: &Path) -> Vec<PathBuf> {
    match map.write(stem) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warning: no plot {}: {e:#}", stem.display());
            Vec::new()
        }
    }
}

/// A line of `(layer, value)` points.
pub fn series(name: &str, color: usize, dashed: bool, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: name.to_string(),
        points,
        color,
        dashed,
    }
}

/// The lesion plots of one or more nets: error and loss against the lesioned layer, one solid
/// line per net and split, dashed lines for the intact nets. Writes `<stem>-error` and
/// `<stem>-loss`.
pub fn plot_lesions(reports: &[LesionReport], x_label: &str, stem: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (what, is_error) in [("error", true), ("loss", false)] {
        let mut lines = Vec::new();
        let mut color = 0;
        for r in reports {
            for (si, (split, base)) in r.baseline.iter().enumerate() {
                let pick = |e: &LossError| if is_error { e.error } else { e.loss };
                let points: Vec<(f64, f64)> = r
                    .rows
                    .iter()
                    .filter_map(|row| row.splits.get(si).map(|(_, e)| (row.layer as f64, pick(e))))
                    .collect();
                let (first, last) = (
                    points.first().map(|p| p.0).unwrap_or(0.0),
                    points.last().map(|p| p.0).unwrap_or(1.0),
                );
                lines.push(series(
                    &format!("{} {split}, lesioned", r.label),
                    color,
                    false,
                    points,
                ));
                lines.push(series(
                    &format!("{} {split}, intact", r.label),
                    color,
                    true,
                    vec![(first, pick(base)), (last, pick(base))],
                ));
                color += 1;
            }
        }
        let plot = LinePlot {
            title: format!("Lesioning: {what} with one layer's transform gate forced to 0"),
            x_label: x_label.to_string(),
            y_label: if is_error {
                "error (fraction misclassified; perplexity for an LM)".into()
            } else {
                "mean cross-entropy".into()
            },
            log_y: true,
            series: lines,
        };
        let name = format!(
            "{}-{what}",
            stem.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("lesion")
        );
        out.extend(write_plot(&plot, &stem.with_file_name(name)));
    }
    out
}

/// A file-name-safe label of a net with initial transform bias `b`: `bt-2`, `bt-4.5`.
pub fn bias_label(b: f64) -> (String, String) {
    (format!("b_T={b}"), format!("bt{b}"))
}

/// Formats sorted layer numbers as ranges: `[2, 3, 4, 7]` → `2-4, 7`.
pub fn ranges(layers: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < layers.len() {
        let start = layers[i];
        let mut end = start;
        while i + 1 < layers.len() && layers[i + 1] == end + 1 {
            i += 1;
            end = layers[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(", ")
    }
}
