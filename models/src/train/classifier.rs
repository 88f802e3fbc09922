//! Classifier training: labelled data sets ([`LabelledData`]) as Burn data loaders, trained by
//! [`fit_classifier`] through the one training path, [`fit`].

use std::sync::Arc;

use crate::ClassBatch;
use anyhow::bail;
use burn::data::dataloader::DataLoader;
use burn::tensor::{Device, Int, Tensor};
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::{ClassificationOutput, InferenceStep, LearnerModel, TrainStep};
use serde::{Deserialize, Serialize};

use super::fit::{FitOptions, RunData, Solver, fit};
use super::{EpochClock, EpochLoader, EpochMetrics, TrainConfig};

/// A labelled data set that can hand out any batch of its items as tensors.
pub trait LabelledData<const D: usize>: Send + Sync {
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
    /// Fraction classified correctly (`None` for language models).
    pub accuracy: Option<f64>,
}

/// Trains the classifier `model` (created on `options.device`) on `train` through [`fit`]
/// (burn-train's `SupervisedTraining` and `Learner`, with Burn's loss, accuracy and
/// learning-rate metrics), evaluating on every `evals` split after each epoch (the first
/// through Burn's validation loader), and returns the trained model (in validation mode)
/// with the metrics of every epoch. Writes `metrics.{json,csv}` and a checkpoint set per
/// epoch into the run directory.
///
/// A NaN or infinite loss is the error [`Diverged`](super::Diverged); the newest checkpoint on disk is then the
/// last good one. Every other failure is another error.
pub fn fit_classifier<M, const D: usize>(
    model: M,
    train: Arc<dyn LabelledData<D>>,
    evals: &[(&str, Arc<dyn LabelledData<D>>)],
    config: &TrainConfig,
    options: &FitOptions,
) -> anyhow::Result<(M, Vec<EpochMetrics>)>
where
    M: LearnerModel
        + TrainStep<Input = ClassBatch<D>, Output = ClassificationOutput>
        + InferenceStep<Input = ClassBatch<D>, Output = ClassificationOutput>,
{
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("bad training config: {e}"))?;
    if train.is_empty() {
        bail!("the training set is empty");
    }
    let Some(((valid_name, valid_data), extra)) = evals.split_first() else {
        bail!("fit_classifier needs at least one evaluation split");
    };
    let eval_device = options.device.main.clone().inner();
    let eval_loader = |data: &Arc<dyn LabelledData<D>>| -> Arc<dyn DataLoader<ClassBatch<D>>> {
        Arc::new(EpochLoader::eval(data.clone(), 1000, &eval_device))
    };
    let clock = EpochClock::default();
    let data = RunData {
        train: Arc::new(EpochLoader::train(
            train,
            config.batch_size,
            config.seed,
            clock.clone(),
            options.device,
        )),
        clock,
        valid: (valid_name.to_string(), eval_loader(valid_data)),
        extra_evals: extra
            .iter()
            .map(|(name, data)| (name.to_string(), eval_loader(data)))
            .collect(),
    };
    let solver = Solver {
        epochs: config.epochs,
        lr: config.lr,
        schedule: config.schedule.clone(),
        optimizer: config.optimizer.clone(),
        clip_norm: 0.0,
        seed: config.seed,
        keep_checkpoints: config.keep_checkpoints,
    };
    fit::<M, ()>(model, data, &solver, options, |training| {
        training
            .metrics((LossMetric::new(), AccuracyMetric::new()))
            .metric_train_numeric(LearningRateMetric::new())
    })
}
