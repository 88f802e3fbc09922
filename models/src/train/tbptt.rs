//! Truncated back-propagation through time (TBPTT) for any recurrent Burn model whose step
//! takes an [`LmWindow`] and gives an [`LmOutput`]: the zoo's language models, or a model of the
//! caller's own around Burn's `Lstm`, `Gru` or anything else with a state
//! (`models/examples/tbptt_lstm.rs`).
//!
//! Burn's `Learner` has no TBPTT: its steps are stateless and its multi-device strategies give
//! each device its own loader. Here the training stream is cut into `[batch, seq_len]`
//! windows ([`Bptt`]), handed out in order ([`BpttLoader`]), and the strategy ([`fit()`]) puts
//! each window's final state, detached, into the next window: gradients flow through
//! `seq_len` steps, the state through the whole stream. Everything else of [`fit()`] holds: exact
//! resume from set-atomic checkpoints, the NaN stop, the time budget, gradient clipping and
//! data parallelism that keeps each row's state.

use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::train::metric::{LearningRateMetric, LossMetric};
use burn::train::{InferenceStep, TrainStep};
use datasets::Bptt;

use super::parallel::BatchState;
use super::strategy::ZooModel;
use super::{BpttLoader, EpochClock, EpochMetrics, FitOptions, RunData, Solver, fit};
use crate::{LmOutput, LmWindow, TokenPerplexity};

/// Trains `model` with truncated BPTT on the windows of `train` (the first `max_windows` of
/// each epoch; 0: all), validating on every window of `valid` after each epoch, through
/// [`fit()`]; Burn's loss and learning-rate metrics and the token-weighted perplexity
/// ([`TokenPerplexity`]) are shown. Returns the trained model (validation mode) and the
/// metrics of every epoch, resumed ones included (`evals[0]` is `valid`'s mean loss per
/// token).
pub fn fit_tbptt<M, S>(
    model: M,
    train: &Bptt,
    valid: &Bptt,
    max_windows: usize,
    solver: &Solver,
    options: &FitOptions,
) -> anyhow::Result<(M, Vec<EpochMetrics>)>
where
    M: ZooModel<S>
        + TrainStep<Input = LmWindow<S>, Output = LmOutput<S>>
        + InferenceStep<Input = LmWindow<S>, Output = LmOutput<S>>,
    S: BatchState + Send + 'static,
{
    let eval_device = options.device.main.clone().inner();
    let data = RunData {
        train: Arc::new(BpttLoader::<S>::new(
            Arc::new(train.clone()),
            max_windows,
            options.device,
        )) as Arc<dyn DataLoader<_>>,
        clock: EpochClock::default(),
        valid: (
            "valid".to_string(),
            Arc::new(BpttLoader::<S>::new(
                Arc::new(valid.clone()),
                0,
                &eval_device,
            )),
        ),
        extra_evals: Vec::new(),
    };
    fit::<M, S>(model, data, solver, options, |training| {
        training
            .metrics((LossMetric::new(), TokenPerplexity::new()))
            .metric_train_numeric(LearningRateMetric::new())
    })
}
