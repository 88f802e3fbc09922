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
//! For the zoo's language models ([`LanguageModel`]): training under a stored config with the
//! papers' settings ([`fit_lm`], [`LmTrainConfig`], [`LmDefaults`]; with the test loss after
//! it, [`fit_and_test_lm`]), the evaluation of a whole stream with the state carried
//! ([`evaluate_lm`], and under Monte-Carlo dropout, [`evaluate_lm_mc`]) and one training step
//! outside the `Learner`, for benchmarks ([`train_window`]).

use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use burn::data::dataloader::DataLoader;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Int, Tensor};
use burn::train::metric::{LearningRateMetric, LossMetric};
use burn::train::{InferenceStep, LearnerModel, TrainStep};
use datasets::Bptt;
use serde::{Deserialize, Serialize};

use super::parallel::BatchState;
use super::strategy::ZooModel;
use super::{
    BpttLoader, EpochClock, EpochMetrics, FitOptions, LrSchedule, OptimizerConfig, RunData, Solver,
    clip_global_norm, fit,
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

/// How a language model is trained (stored in `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmTrainConfig {
    /// Epochs.
    pub epochs: usize,
    /// Rows of the token stream (batch size).
    pub batch_size: usize,
    /// BPTT window length.
    pub seq_len: usize,
    /// Initial learning rate (applied to the loss summed over the window).
    pub lr: f64,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Optimiser (plain SGD with L2 weight decay in the paper).
    pub optimizer: OptimizerConfig,
    /// Global gradient-norm clip (10 in the paper; 0 = off).
    pub clip_norm: f64,
    /// Stop an epoch after this many windows (0 = all), for short runs.
    pub max_windows: usize,
    /// Training wall-time budget in seconds over all epochs (0 = none).
    #[serde(default)]
    pub max_train_seconds: f64,
    /// Seed of the dropout masks.
    pub seed: u64,
}

/// A paper's training settings for a language model: what an [`LmTrainConfig`] takes from the
/// paper where a run's own settings leave it open.
#[derive(Debug, Clone, PartialEq)]
pub struct LmDefaults {
    /// Batch size.
    pub batch_size: usize,
    /// BPTT length.
    pub seq_len: usize,
    /// Learning rate.
    pub lr: f64,
    /// Global gradient-norm clip.
    pub clip_norm: f64,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
}

impl LmDefaults {
    /// *Recurrent Highway Networks* on PTB: batch 20, BPTT 35, lr 0.2, clip 10, lr decay
    /// 1.02 from epoch 19 (0-based).
    pub fn rhn_ptb() -> Self {
        Self {
            batch_size: 20,
            seq_len: 35,
            lr: 0.2,
            clip_norm: 10.0,
            schedule: LrSchedule::InverseDecay {
                decay: 1.02,
                start: 19,
            },
        }
    }

    /// *Recurrent Highway Networks* on enwik8/text8: batch 128, BPTT 50, lr 0.2, clip 10, lr
    /// decay 1.03 from epoch 5.
    pub fn rhn_char() -> Self {
        Self {
            batch_size: 128,
            seq_len: 50,
            schedule: LrSchedule::InverseDecay {
                decay: 1.03,
                start: 5,
            },
            ..Self::rhn_ptb()
        }
    }

    /// *Character-Aware Neural Language Models* on PTB (the authors' `main.lua`): batch 20,
    /// BPTT 35, lr 1.0, clip 5, the rate halved after every epoch from the third on whose
    /// validation perplexity fell by less than 1.
    pub fn kim_ptb() -> Self {
        Self {
            lr: 1.0,
            clip_norm: 5.0,
            schedule: LrSchedule::Plateau {
                factor: 0.5,
                threshold: 1.0,
            },
            ..Self::rhn_ptb()
        }
    }

    /// The schedule, or where `decay` or `start` is given, `lr0 / decay^max(epoch − start, 0)`
    /// with the other taken from the schedule when it is of that form (else 1 and 0).
    pub fn schedule_with(&self, decay: Option<f64>, start: Option<usize>) -> LrSchedule {
        if decay.is_none() && start.is_none() {
            return self.schedule.clone();
        }
        let (default_decay, default_start) = match self.schedule {
            LrSchedule::InverseDecay { decay, start } => (decay, start),
            _ => (1.0, 0),
        };
        LrSchedule::InverseDecay {
            decay: decay.unwrap_or(default_decay),
            start: start.unwrap_or(default_start),
        }
    }
}

/// Metrics of one epoch of a language model ([`fit_lm`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmEpoch {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Training perplexity (per token, with dropout).
    pub train_ppl: f64,
    /// Validation perplexity.
    pub valid_ppl: f64,
    /// Learning rate.
    pub lr: f64,
    /// Training tokens per second.
    pub tokens_per_s: f64,
    /// Seconds for the epoch.
    pub seconds: f64,
    /// Training windows run (fewer than the epoch's when the time budget ran out).
    #[serde(default)]
    pub windows: usize,
}

impl LmEpoch {
    /// The language-model view of an epoch's metrics: perplexities `exp(loss)` of the mean
    /// loss per token (training, with dropout; validation, the first evaluation split),
    /// tokens per second of training.
    pub fn from_metrics(m: &EpochMetrics) -> Self {
        Self {
            epoch: m.epoch,
            train_ppl: m.train_loss.exp(),
            valid_ppl: m.evals.first().map(|e| e.loss.exp()).unwrap_or(f64::NAN),
            lr: m.lr,
            tokens_per_s: m.examples as f64 / m.train_seconds.max(f64::MIN_POSITIVE),
            seconds: m.seconds,
            windows: m.steps,
        }
    }
}

/// Trains `model` on `train` with truncated BPTT ([`fit_tbptt`]: burn-train's
/// `SupervisedTraining` and `Learner` with this module's strategy), the state carried and
/// detached from window to window, validating on `valid` after every epoch; Burn's loss,
/// perplexity and learning-rate metrics. Writes metrics and a checkpoint set per epoch into the run
/// directory, resuming from its newest checkpoint when `options.resume` is set.
pub fn fit_lm<M: LanguageModel>(
    model: M,
    train: &Bptt,
    valid: &Bptt,
    config: &LmTrainConfig,
    options: &FitOptions,
) -> anyhow::Result<(M, Vec<LmEpoch>)> {
    if config.epochs == 0 || config.seq_len == 0 || config.batch_size == 0 {
        bail!("epochs, batch_size and seq_len must be at least 1");
    }
    let solver = Solver {
        epochs: config.epochs,
        lr: config.lr,
        schedule: config.schedule.clone(),
        optimizer: config.optimizer.clone(),
        clip_norm: config.clip_norm,
        seed: config.seed,
        keep_checkpoints: 2,
    };
    let options = FitOptions {
        max_minutes: (config.max_train_seconds > 0.0).then(|| config.max_train_seconds / 60.0),
        ..options.clone()
    };
    let (model, history) = fit_tbptt(model, train, valid, config.max_windows, &solver, &options)?;
    Ok((model, history.iter().map(LmEpoch::from_metrics).collect()))
}

/// The result of [`fit_and_test_lm`].
#[derive(Debug, Clone)]
pub struct LmOutcome {
    /// Trainable parameters.
    pub parameters: usize,
    /// Per-epoch metrics.
    pub history: Vec<LmEpoch>,
    /// Mean per-token test loss (nats).
    pub test_loss: f64,
    /// Mean per-token test loss under Monte-Carlo dropout, if asked for (nats).
    pub mc_test_loss: Option<f64>,
    /// Wall-clock seconds of the training and the test.
    pub wall_time_s: f64,
}

/// [`fit_lm`], then the mean per-token loss of the trained model on `test` ([`evaluate_lm`],
/// and with `mc_samples` Monte-Carlo dropout samples when non-zero, [`evaluate_lm_mc`]) on the
/// main device without autodiff. Unless `options.quiet`, prints the parameter count and the
/// start of the Monte-Carlo evaluation as `[label] ...` lines.
pub fn fit_and_test_lm<M: LanguageModel>(
    model: M,
    (train, valid, test): (&Bptt, &Bptt, &Bptt),
    config: &LmTrainConfig,
    mc_samples: usize,
    options: &FitOptions,
) -> anyhow::Result<LmOutcome> {
    let parameters = model.num_params();
    let say = |line: String| {
        if !options.quiet {
            println!("[{}] {line}", options.label);
        }
    };
    say(format!("{parameters} parameters"));
    let start = Instant::now();
    let (model, history) = fit_lm(model, train, valid, config, options)?;
    let eval_device = options.device.main.clone().without_autodiff();
    let test_loss = evaluate_lm(&model.valid(), test, &eval_device);
    let mc_test_loss = (mc_samples > 0).then(|| {
        say(format!("Monte-Carlo dropout test, {mc_samples} samples"));
        evaluate_lm_mc(&model.valid(), test, mc_samples, &eval_device)
    });
    Ok(LmOutcome {
        parameters,
        history,
        test_loss,
        mc_test_loss,
        wall_time_s: start.elapsed().as_secs_f64(),
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
        sum -= super::optim::sum_in_order(picked.log()).into_scalar::<f64>();
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
