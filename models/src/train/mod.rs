//! Training for Burn models through burn-train's `SupervisedTraining` and `Learner`, with what
//! Burn's own strategies leave out (feature `train`):
//!
//! - **truncated back-propagation through time** ([`tbptt`]): a recurrent state carried from
//!   window to window, detached, for any model whose step takes an [`LmWindow`](crate::LmWindow);
//! - **exact resume**: the data order, augmentation and dropout of epoch `e` come from
//!   `(seed, e)` ([`EpochLoader`], [`BpttLoader`], [`EpochClock`]), and checkpoints are atomic as
//!   a set (model, optimiser, scheduler and the run's metrics: [`CheckpointSet`]), so a run
//!   killed at any point and started again ends where an uninterrupted one does;
//! - a **NaN stop** before the optimiser step, a **time budget**, global-norm **clipping**;
//! - **data parallelism** over the devices of one machine ([`parallel`], [`Devices`]) that keeps
//!   each row's carried state and draws each slice's dropout masks from
//!   `(seed, epoch, step, slice)`;
//! - the papers' optimisers and schedules ([`OptimizerConfig`], [`LrSchedule`]), Burn's `Adam`
//!   and plain `Sgd` in one pass per parameter on the CPU ([`FusedAdam`], [`FusedSgd`]), a run
//!   directory with metrics files ([`RunDir`]) and a plain-lines or TUI renderer.
//!
//! [`fit()`] is the one entry point ([`fit_tbptt`] and [`fit_classifier`] build on it): it
//! assembles `SupervisedTraining` with the strategy ([`strategy::ZooStrategy`]), the
//! checkpointers and the renderer, and launches `Learner::new(model, optimiser, schedule)`.
//! `models/examples/tbptt_lstm.rs` trains Burn's own `Lstm` with it.

pub mod checkpoint;
pub mod classifier;
pub mod data;
pub mod devices;
pub mod fit;
pub mod fused_adam;
pub mod fused_sgd;
pub mod loader;
pub mod optim;
pub mod parallel;
pub mod renderer;
pub mod run_dir;
pub mod strategy;
pub mod tbptt;

pub use checkpoint::CheckpointSet;
pub use classifier::{EvalResult, LabelledData, fit_classifier};
pub use data::{CifarData, MnistData};
pub use devices::{Devices, backend_name};
pub use fit::{Diverged, FitOptions, RunData, Solver, fit};
pub use fused_adam::{FusedAdam, FusedAdamConfig};
pub use fused_sgd::{FusedSgd, FusedSgdConfig};
pub use loader::{BpttLoader, EpochClock, EpochLoader};
pub use optim::{
    LrSchedule, OptimizerConfig, ScheduleLr, ValidHistory, clip_global_norm,
    clip_global_norm_on_device,
};
pub use run_dir::{RunDir, sync_dir, write_atomic};
pub use strategy::{RunOutcome, Stop, ZooModel, ZooStrategy};
pub use tbptt::fit_tbptt;

use datasets::SplitMix64;
use serde::{Deserialize, Serialize};

/// How to train: stored in each run's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Optimiser.
    pub optimizer: OptimizerConfig,
    /// Seed of the weights, the data order and dropout.
    pub seed: u64,
    /// Checkpoints kept on disk.
    #[serde(default = "default_keep")]
    pub keep_checkpoints: usize,
}

fn default_keep() -> usize {
    2
}

impl TrainConfig {
    /// The conv nets' solver in *Training Very Deep Networks* (MNIST and CIFAR): Nesterov
    /// momentum 0.9, weight decay 1e-3, learning rate `lr` multiplied by 0.1 at each of the
    /// iteration `milestones`; two checkpoints kept.
    pub fn nesterov_step(
        epochs: usize,
        batch_size: usize,
        lr: f64,
        milestones: Vec<usize>,
        seed: u64,
    ) -> Self {
        Self {
            epochs,
            batch_size,
            lr,
            schedule: LrSchedule::Step {
                milestones,
                factor: 0.1,
            },
            optimizer: OptimizerConfig::Sgd {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 1e-3,
            },
            seed,
            keep_checkpoints: 2,
        }
    }

    /// Checks the values, naming the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return Err("batch_size must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(format!("lr must be positive and finite, got {}", self.lr));
        }
        self.optimizer.validate()
    }
}

/// Metrics of one epoch (one row of `metrics.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch (1-based, as printed).
    pub epoch: usize,
    /// Mean training loss over the epoch's mini-batches.
    pub train_loss: f64,
    /// Training accuracy over the epoch's mini-batches (classifiers).
    pub train_accuracy: Option<f64>,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Evaluations: `(split name, loss, accuracy)`.
    pub evals: Vec<EvalResult>,
    /// Seconds spent in this epoch (training and evaluation).
    pub seconds: f64,
    /// Seconds of training steps alone (throughput = examples / this).
    #[serde(default)]
    pub train_seconds: f64,
    /// Optimiser steps taken in the epoch (fewer than a full pass when the time budget ran
    /// out).
    #[serde(default)]
    pub steps: usize,
    /// Training examples seen in the epoch (tokens, for language models).
    #[serde(default)]
    pub examples: usize,
}

/// Training throughput over `history`: the examples its epochs trained on divided by their
/// training seconds (evaluation excluded); 0 when no time was recorded.
pub fn samples_per_second(history: &[EpochMetrics]) -> f64 {
    let seconds: f64 = history.iter().map(|m| m.train_seconds).sum();
    let examples: usize = history.iter().map(|m| m.examples).sum();
    if seconds > 0.0 {
        examples as f64 / seconds
    } else {
        0.0
    }
}

/// Writes the metrics history as `metrics.json` and `metrics.csv`.
pub fn write_metrics(run: &RunDir, history: &[EpochMetrics]) -> anyhow::Result<()> {
    run.write_json("metrics.json", history)?;
    let mut csv = String::from("epoch,train_loss,train_accuracy,lr,seconds");
    if let Some(first) = history.first() {
        for e in &first.evals {
            csv.push_str(&format!(",{0}_loss,{0}_accuracy", e.split));
        }
    }
    csv.push('\n');
    for m in history {
        csv.push_str(&format!(
            "{},{},{},{},{:.3}",
            m.epoch,
            m.train_loss,
            m.train_accuracy.map(|a| a.to_string()).unwrap_or_default(),
            m.lr,
            m.seconds
        ));
        for e in &m.evals {
            csv.push_str(&format!(
                ",{},{}",
                e.loss,
                e.accuracy.map(|a| a.to_string()).unwrap_or_default()
            ));
        }
        csv.push('\n');
    }
    write_atomic(&run.file("metrics.csv"), csv.as_bytes())
}

/// A deterministic permutation of `0..n` for `(seed, epoch)`: the data order of an epoch does
/// not depend on how many epochs ran before in this process, so a resumed run sees the same
/// batches as an uninterrupted one.
pub fn epoch_permutation(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    SplitMix64::from_stream(seed, epoch as u64).shuffle(&mut idx);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_deterministic_per_epoch_and_complete() {
        let a = epoch_permutation(100, 7, 3);
        assert_eq!(a, epoch_permutation(100, 7, 3));
        assert_ne!(a, epoch_permutation(100, 7, 4));
        assert_ne!(a, epoch_permutation(100, 8, 3));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn bad_train_configs_are_named() {
        let c = TrainConfig {
            epochs: 1,
            batch_size: 0,
            lr: 0.1,
            schedule: LrSchedule::Constant,
            optimizer: OptimizerConfig::Adam { weight_decay: 0.0 },
            seed: 0,
            keep_checkpoints: 2,
        };
        assert!(c.validate().unwrap_err().contains("batch_size"));
        let c = TrainConfig {
            batch_size: 4,
            lr: f64::NAN,
            ..c
        };
        assert!(c.validate().unwrap_err().contains("lr must be positive"));
    }
}
