//! The classifier training loop: mini-batch SGD/Adam on cross-entropy, per-epoch evaluation,
//! atomic checkpoints every epoch, `--resume` from the newest checkpoint with the same result as
//! an uninterrupted run, and a clear stop on a NaN/Inf loss that keeps the last good checkpoint.

use std::time::Instant;

use anyhow::bail;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::{EpochMetrics, Progress, RunDir, TrainConfig, epoch_permutation, write_metrics};

/// A model that maps a batch of inputs of rank `D` to class logits.
pub trait Classifier<const D: usize>: Module + Clone {
    /// Class logits.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, ...]` (rank `D`)
    /// - output: `[batch, n_classes]`
    fn logits(&self, input: Tensor<D>) -> Tensor<2>;
}

/// A labelled data set that can hand out any batch of its items as tensors.
pub trait LabelledData<const D: usize> {
    /// Number of items.
    fn len(&self) -> usize;

    /// Whether there are no items.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The items at `indices`, as `(inputs [batch, ...], targets [batch])`. `train` asks for
    /// training-time augmentation (`epoch` seeds it).
    fn batch(
        &self,
        indices: &[usize],
        train: bool,
        epoch: usize,
        device: &Device,
    ) -> (Tensor<D>, Tensor<1, Int>);
}

/// Loss and accuracy of a model on one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// Split name (`test`, `valid`, `train`).
    pub split: String,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// What a checkpoint records besides the weights and the optimiser state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainState {
    /// Epochs completed.
    epochs_done: usize,
    /// Optimiser steps taken.
    iteration: usize,
    /// Metrics of the completed epochs.
    history: Vec<EpochMetrics>,
}

/// Evaluates `model` (use `model.valid()`) on `data` in batches.
pub fn evaluate<M: Classifier<D>, const D: usize>(
    model: &M,
    data: &dyn LabelledData<D>,
    split: &str,
    batch_size: usize,
    device: &Device,
) -> EvalResult {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let n = data.len();
    let (mut loss_sum, mut correct) = (0.0f64, 0i64);
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, y) = data.batch(chunk, false, 0, device);
        let logits = model.logits(x);
        correct += count_correct(&logits, &y);
        let loss = loss_fn.forward(logits, y).into_scalar::<f64>();
        loss_sum += loss * chunk.len() as f64;
    }
    EvalResult {
        split: split.to_string(),
        loss: loss_sum / n.max(1) as f64,
        accuracy: correct as f64 / n.max(1) as f64,
    }
}

fn count_correct(logits: &Tensor<2>, targets: &Tensor<1, Int>) -> i64 {
    let [batch, _] = logits.dims();
    logits
        .clone()
        .argmax(1)
        .reshape([batch])
        .equal(targets.clone())
        .int()
        .sum()
        .into_scalar::<i64>()
}

/// Trains `model` (created on `device`, with autodiff) and returns the trained model and its
/// metrics history. Writes `metrics.{json,csv}` and a checkpoint per epoch into `run`; with
/// `resume`, continues from the newest checkpoint in `run` (the caller builds `model` from the
/// same config). Evaluates on every `evals` split at the end of each epoch.
///
/// A NaN or infinite training loss stops the run with an error naming the epoch and step; the
/// newest checkpoint on disk is the last good one.
#[allow(clippy::too_many_arguments)]
pub fn fit_classifier<M: Classifier<D>, const D: usize>(
    mut model: M,
    train: &dyn LabelledData<D>,
    evals: &[(&str, &dyn LabelledData<D>)],
    config: &TrainConfig,
    run: &RunDir,
    resume: bool,
    progress: &mut Progress,
    device: &Device,
) -> anyhow::Result<(M, Vec<EpochMetrics>)> {
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("bad training config: {e}"))?;
    if train.is_empty() {
        bail!("the training set is empty");
    }
    let mut optim = config.optimizer.init();
    let mut state = TrainState {
        epochs_done: 0,
        iteration: 0,
        history: Vec::new(),
    };
    if resume && let Some(r) = run.load_training_checkpoint(model.clone(), optim.clone())? {
        progress.message(&format!(
            "resuming after epoch {} from {}",
            r.epoch + 1,
            r.dir.display()
        ));
        (model, optim, state) = (r.model, r.optim, r.state);
    }
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let n = train.len();
    let steps = n.div_ceil(config.batch_size);
    for epoch in state.epochs_done..config.epochs {
        let start = Instant::now();
        // Dropout and augmentation of this epoch depend on (seed, epoch) only.
        device.seed(config.seed.wrapping_add(epoch as u64 * 1_000_003));
        let order = epoch_permutation(n, config.seed, epoch);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0i64, 0usize);
        let mut lr = config.lr;
        for (step, chunk) in order.chunks(config.batch_size).enumerate() {
            lr = config.schedule.lr(config.lr, epoch, state.iteration);
            let (x, y) = train.batch(chunk, true, epoch, device);
            let logits = model.logits(x);
            correct += count_correct(&logits, &y);
            let loss = loss_fn.forward(logits, y);
            let value = loss.clone().into_scalar::<f64>();
            if !value.is_finite() {
                bail!(
                    "training loss is {value} at epoch {}, step {} (lr {lr}): stopping; {}",
                    epoch + 1,
                    step + 1,
                    run.last_good()
                );
            }
            loss_sum += value * chunk.len() as f64;
            seen += chunk.len();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            progress.train_metric("Learning rate", lr);
            state.iteration += 1;
            progress.step(
                epoch + 1,
                config.epochs,
                step + 1,
                steps,
                loss_sum / seen as f64,
            );
        }
        let valid_model = model.valid();
        let eval_device = device.clone().without_autodiff();
        let train_seconds = start.elapsed().as_secs_f64();
        let results: Vec<EvalResult> = evals
            .iter()
            .map(|(name, data)| evaluate(&valid_model, *data, name, 1000, &eval_device))
            .collect();
        if let Some(bad) = results.iter().find(|e| !e.loss.is_finite()) {
            bail!(
                "{} loss is {} after epoch {}: the weights diverged; stopping; {}",
                bad.split,
                bad.loss,
                epoch + 1,
                run.last_good()
            );
        }
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / seen as f64,
            train_accuracy: Some(correct as f64 / seen as f64),
            lr,
            evals: results,
            seconds: start.elapsed().as_secs_f64(),
            train_seconds,
        };
        let mut line = format!(
            "epoch {}/{}  train loss {:.5} acc {:.2}%",
            epoch + 1,
            config.epochs,
            metrics.train_loss,
            100.0 * metrics.train_accuracy.unwrap_or(0.0)
        );
        for e in &metrics.evals {
            line.push_str(&format!(
                "  {} loss {:.4} acc {:.2}%",
                e.split,
                e.loss,
                100.0 * e.accuracy
            ));
        }
        line.push_str(&format!("  lr {lr:.4}  {:.1}s", metrics.seconds));
        // The first evaluation split shares the dashboard's Loss/Accuracy plots with training.
        let dashboard: Vec<(String, f64, bool)> = metrics
            .evals
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                let prefix = if i == 0 {
                    String::new()
                } else {
                    format!("{} ", e.split)
                };
                [
                    (format!("{prefix}Loss"), e.loss, false),
                    (format!("{prefix}Accuracy"), 100.0 * e.accuracy, true),
                ]
            })
            .collect();
        progress.valid(&dashboard);
        progress.epoch(&line);
        state.history.push(metrics);
        state.epochs_done = epoch + 1;
        write_metrics(run, &state.history)?;
        run.save_training_checkpoint(epoch, config.keep_checkpoints, &model, &optim, &state)?;
    }
    Ok((model, state.history))
}
