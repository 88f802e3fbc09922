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
//!
//! For the zoo's language models ([`LanguageModel`]): the evaluation of a whole stream with
//! the state carried ([`evaluate_lm`], and under Monte-Carlo dropout, [`evaluate_lm_mc`]) and
//! one training step outside the `Learner`, for benchmarks ([`train_window`]).

use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Int, Tensor};
use burn::train::metric::{LearningRateMetric, LossMetric};
use burn::train::{InferenceStep, LearnerModel, TrainStep};
use datasets::Bptt;

use super::parallel::BatchState;
use super::strategy::ZooModel;
use super::{
    BpttLoader, EpochClock, EpochMetrics, FitOptions, RunData, Solver, clip_global_norm, fit,
};
use crate::{LmOutput, LmWindow, RecurrentLm, TokenPerplexity, token_loss};

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

/// A zoo language model as a burn-train `Learner` model: [`RecurrentLm`] with its
/// `TrainStep` / `InferenceStep` on one BPTT window (`models::learner`).
pub trait LanguageModel:
    RecurrentLm<State: Send + BatchState + 'static>
    + LearnerModel
    + TrainStep<Input = LmWindow<Self::State>, Output = LmOutput<Self::State>>
    + InferenceStep<Input = LmWindow<Self::State>, Output = LmOutput<Self::State>>
{
}

impl<M> LanguageModel for M
where
    M: RecurrentLm
        + LearnerModel
        + TrainStep<Input = LmWindow<M::State>, Output = LmOutput<M::State>>
        + InferenceStep<Input = LmWindow<M::State>, Output = LmOutput<M::State>>,
    M::State: Send + BatchState + 'static,
{
}

/// Per-token mean loss of `model` (use `model.valid()`) over all windows of `data`.
pub fn evaluate_lm<M: RecurrentLm>(model: &M, data: &Bptt, device: &Device) -> f64 {
    let (mut sum, mut count) = (0.0f64, 0usize);
    let mut state = None;
    for k in 0..data.num_windows() {
        let window = data.window(k).expect("window in range");
        let (x, y) = window.to_tensors(device);
        let n = y.shape().num_elements();
        let (logits, next) = model.forward_lm(x, state, None);
        sum += token_loss(logits, y).into_scalar::<f64>() * n as f64;
        count += n;
        state = Some(M::detach_state(next));
    }
    sum / count.max(1) as f64
}

/// Per-token mean loss of `model` (use `model.valid()`) over all windows of `data` under
/// Monte-Carlo dropout: the predicted distributions of `samples` independent dropout-mask
/// draws (fresh masks per window, each draw with its own carried state) are averaged before
/// the log, as in Gal & Ghahramani's MC dropout that the RHN paper reports.
pub fn evaluate_lm_mc<M: RecurrentLm>(
    model: &M,
    data: &Bptt,
    samples: usize,
    device: &Device,
) -> f64 {
    let samples = samples.max(1);
    let (mut sum, mut count) = (0.0f64, 0usize);
    let mut states: Vec<Option<M::State>> = vec![None; samples];
    for k in 0..data.num_windows() {
        let window = data.window(k).expect("window in range");
        let (x, y) = window.to_tensors(device);
        let [b, s] = y.dims();
        let mut probs: Option<Tensor<2>> = None;
        for state in states.iter_mut() {
            let masks = model.sample_masks(b, device);
            let (logits, next) = model.forward_lm(x.clone(), state.take(), Some(&masks));
            let v = logits.dims()[2];
            let p = burn::tensor::activation::softmax(logits.reshape([b * s, v]), 1);
            probs = Some(match probs {
                Some(acc) => acc + p,
                None => p,
            });
            *state = Some(M::detach_state(next));
        }
        let mean = probs.expect("at least one sample") / samples as f64;
        let picked = mean.gather(1, y.reshape([b * s, 1]));
        sum -= picked.log().sum().into_scalar::<f64>();
        count += b * s;
    }
    sum / count.max(1) as f64
}

/// One truncated-BPTT training step on the window `(x, y)` (`[batch, seq]` tokens and
/// targets) outside the Learner, for benchmarks: the model's `TrainStep` (fresh dropout
/// masks, forward from `carried`, the authors' loss, backward), global-norm clipping at
/// `clip_norm` (0 = off) and the optimiser step, as the training strategy runs them. Returns
/// the updated model, the mean loss per token and the detached state to carry; when the loss
/// is not finite the model is returned un-updated.
pub fn train_window<M: LanguageModel>(
    model: M,
    optim: &mut ModuleOptimizer,
    (tokens, targets): (Tensor<2, Int>, Tensor<2, Int>),
    carried: Option<M::State>,
    lr: f64,
    clip_norm: f64,
) -> (M, f64, M::State) {
    let out = TrainStep::step(
        &model,
        LmWindow {
            tokens,
            targets,
            state: carried,
        },
    );
    let value = out.item.mean_loss;
    let next = out.item.state.expect("a training step returns its state");
    if !value.is_finite() {
        return (model, value, next);
    }
    let mut grads = out.grads;
    clip_global_norm(&model, &mut grads, clip_norm);
    (optim.step(lr, model, grads), value, next)
}
