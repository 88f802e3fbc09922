//! Truncated-BPTT training of recurrent language models (*Recurrent Highway Networks*,
//! Zilly et al. 2017, and the LSTM baseline): state carried across windows and detached, the
//! authors' loss scaling (cross-entropy summed over time, averaged over the batch), global-norm
//! gradient clipping, per-epoch validation perplexity, atomic checkpoints, `--resume` and a
//! NaN stop, on the shared run-directory infrastructure.

use std::time::Instant;

use anyhow::bail;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use datasets::Bptt;
use models::{RecurrentLm, token_loss};
use serde::{Deserialize, Serialize};

use crate::train::{LrSchedule, OptimizerConfig, Progress, RunDir};

/// Command-line options shared by the language-model binaries (`ptb`, `charlm`); the
/// defaults are the paper's PTB settings, which `charlm` overrides where the char setup differs.
#[derive(clap::Args, Debug, Clone)]
pub struct LmArgs {
    /// Epochs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Batch size (PTB 20, char 128 in the paper).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// BPTT length (PTB 35, char 50 in the paper).
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Learning rate on the loss summed over the window (0.2 in the paper).
    #[arg(long, default_value_t = 0.2)]
    pub lr: f64,
    /// lr = lr0 / decay^max(epoch − decay_start, 0) (PTB 1.02 after 19, char 1.03 after 5).
    #[arg(long)]
    pub decay: Option<f64>,
    /// First epoch (0-based) of the decay.
    #[arg(long)]
    pub decay_start: Option<usize>,
    /// Global gradient-norm clip (0 = off).
    #[arg(long, default_value_t = 10.0)]
    pub clip_norm: f64,
    /// L2 weight decay (1e-7 in the paper).
    #[arg(long, default_value_t = 1e-7)]
    pub weight_decay: f64,
    /// Windows per epoch (0 = all).
    #[arg(long, default_value_t = 0)]
    pub max_windows: usize,
    /// Seed of the weights and the dropout masks.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Rows of the validation and test streams (1 = the paper's non-batched evaluation).
    #[arg(long, default_value_t = 10)]
    pub eval_batch: usize,
    /// Optimiser: the paper's plain SGD, or Adam (use a small `--lr`, e.g. 0.002).
    #[arg(long, value_enum, default_value = "sgd")]
    pub optimizer: LmOptimizer,
    /// Training wall-time budget in minutes (0 = none): training stops after the window that
    /// crosses it, validates, and records the partial epoch.
    #[arg(long, default_value_t = 0.0)]
    pub max_minutes: f64,
    /// Also evaluate the test set with Monte-Carlo dropout, averaging the predicted
    /// probabilities over this many mask samples (0 = off).
    #[arg(long, default_value_t = 0)]
    pub mc_samples: usize,
}

/// The optimisers of the language-model binaries.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LmOptimizer {
    /// Plain SGD with L2 weight decay (the paper).
    Sgd,
    /// Adam with L2 weight decay.
    Adam,
}

impl LmArgs {
    /// The training config, with `(batch, seq_len, decay, decay_start)` defaults for what the
    /// flags leave unset.
    pub fn train_config(&self, defaults: (usize, usize, f64, usize)) -> LmTrainConfig {
        LmTrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size.unwrap_or(defaults.0),
            seq_len: self.seq_len.unwrap_or(defaults.1),
            lr: self.lr,
            schedule: LrSchedule::InverseDecay {
                decay: self.decay.unwrap_or(defaults.2),
                start: self.decay_start.unwrap_or(defaults.3),
            },
            optimizer: match self.optimizer {
                LmOptimizer::Sgd => OptimizerConfig::Sgd {
                    momentum: 0.0,
                    nesterov: false,
                    weight_decay: self.weight_decay,
                },
                LmOptimizer::Adam => OptimizerConfig::Adam {
                    weight_decay: self.weight_decay,
                },
            },
            clip_norm: self.clip_norm,
            max_windows: self.max_windows,
            max_train_seconds: self.max_minutes * 60.0,
            seed: self.seed,
        }
    }
}

/// The result of [`train_and_test`].
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
    /// Wall-clock seconds.
    pub wall_time_s: f64,
}

/// Writes `config.json` (`model_config` and `config`), trains (resuming from `run`), and
/// evaluates on `test` (also with `mc_samples` Monte-Carlo dropout samples when non-zero): the
/// whole job of a language-model binary, for any [`RecurrentLm`].
#[allow(clippy::too_many_arguments)]
pub fn train_and_test<M: RecurrentLm + Module + Clone>(
    model: M,
    model_config: &impl Serialize,
    data: (&Bptt, &Bptt, &Bptt),
    config: &LmTrainConfig,
    mc_samples: usize,
    run: &RunDir,
    progress: &mut Progress,
    device: &Device,
) -> anyhow::Result<LmOutcome> {
    run.write_json(
        "config.json",
        &serde_json::json!({ "model": model_config, "train": config }),
    )?;
    let parameters = model.num_params();
    progress.message(&format!("{parameters} parameters"));
    let start = Instant::now();
    let (train, valid, test) = data;
    let (model, history) = fit_lm(model, train, valid, config, run, true, progress, device)?;
    let eval_device = device.clone().without_autodiff();
    let test_loss = evaluate_lm(&model.valid(), test, &eval_device);
    let mc_test_loss = (mc_samples > 0).then(|| {
        progress.message(&format!("Monte-Carlo dropout test, {mc_samples} samples"));
        evaluate_lm_mc(&model.valid(), test, mc_samples, &eval_device)
    });
    progress.finish();
    Ok(LmOutcome {
        parameters,
        history,
        test_loss,
        mc_test_loss,
        wall_time_s: start.elapsed().as_secs_f64(),
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

/// Metrics of one epoch.
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LmState {
    epochs_done: usize,
    history: Vec<LmEpoch>,
    /// Training seconds spent so far (windows only, not validation), for the time budget.
    #[serde(default)]
    train_seconds: f64,
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

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.sum += g.powi_scalar(2).sum().into_scalar::<f64>();
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g * self.factor);
        }
    }
}

/// Scales all gradients of `model` so that their global L2 norm is at most `max_norm`;
/// returns the norm before clipping.
pub fn clip_global_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut norm = SquaredNorm { grads, sum: 0.0 };
    model.visit(&mut norm);
    let total = norm.sum.sqrt();
    if max_norm > 0.0 && total > max_norm {
        model.visit(&mut Scale {
            grads,
            factor: max_norm / total,
        });
    }
    total
}

/// One truncated-BPTT training step on the window `(x, y)` (`[batch, seq]` tokens and
/// targets): fresh dropout masks, forward from `carried`, the authors' loss (cross-entropy
/// summed over time, averaged over the batch), backward, global-norm clipping at `clip_norm`
/// (0 = off) and the optimiser step. Returns the updated model, the mean loss per token and the
/// detached state to carry; when the loss is not finite the model is returned un-updated.
pub fn train_window<M>(
    model: M,
    optim: &mut ModuleOptimizer,
    (x, y): (Tensor<2, Int>, Tensor<2, Int>),
    carried: Option<M::State>,
    lr: f64,
    clip_norm: f64,
) -> (M, f64, M::State)
where
    M: RecurrentLm + Module + Clone,
{
    let [batch, seq_len] = x.dims();
    let masks = model.sample_masks(batch, &x.device());
    let (value, next, grads) = model.train_step(x, y, carried, Some(&masks), seq_len as f64);
    let next = M::detach_state(next);
    let Some(grads) = grads.filter(|_| value.is_finite()) else {
        return (model, value, next);
    };
    let mut grads = GradientsParams::from_grads(grads, &model);
    clip_global_norm(&model, &mut grads, clip_norm);
    (optim.step(lr, model, grads), value, next)
}

/// Trains `model` on `train`, validating on `valid` after every epoch; writes metrics and a
/// checkpoint per epoch into `run`, resuming from its newest checkpoint with `resume`.
#[allow(clippy::too_many_arguments)]
pub fn fit_lm<M>(
    mut model: M,
    train: &Bptt,
    valid: &Bptt,
    config: &LmTrainConfig,
    run: &RunDir,
    resume: bool,
    progress: &mut Progress,
    device: &Device,
) -> anyhow::Result<(M, Vec<LmEpoch>)>
where
    M: RecurrentLm + Module + Clone,
{
    if config.epochs == 0 || config.seq_len == 0 || config.batch_size == 0 {
        bail!("epochs, batch_size and seq_len must be at least 1");
    }
    config.optimizer.validate().map_err(anyhow::Error::msg)?;
    let mut optim = config.optimizer.init();
    let mut state = LmState {
        epochs_done: 0,
        history: Vec::new(),
        train_seconds: 0.0,
    };
    if resume && let Some(r) = run.load_training_checkpoint(model.clone(), optim.clone())? {
        progress.message(&format!(
            "resuming after epoch {} from {}",
            r.epoch + 1,
            r.dir.display()
        ));
        (model, optim, state) = (r.model, r.optim, r.state);
    }
    let windows = match config.max_windows {
        0 => train.num_windows(),
        n => n.min(train.num_windows()),
    };
    let budget = config.max_train_seconds;
    let over_budget = |spent: f64| budget > 0.0 && spent >= budget;
    for epoch in state.epochs_done..config.epochs {
        if over_budget(state.train_seconds) {
            progress.message(&format!(
                "training time budget of {:.0} s spent: stopping before epoch {}",
                budget,
                epoch + 1
            ));
            break;
        }
        let start = Instant::now();
        device.seed(config.seed.wrapping_add(epoch as u64 * 1_000_003));
        let lr = config.schedule.lr(config.lr, epoch, 0);
        progress.train_metric("Learning rate", lr);
        let (mut sum, mut count) = (0.0f64, 0usize);
        let mut carried = None;
        let mut done = 0;
        for k in 0..windows {
            // At least one window per epoch run, so that its metrics are defined.
            if k > 0 && over_budget(state.train_seconds + start.elapsed().as_secs_f64()) {
                break;
            }
            let (x, y) = train.window(k).expect("window in range").to_tensors(device);
            let n = y.shape().num_elements();
            let (next_model, value, next) =
                train_window(model, &mut optim, (x, y), carried, lr, config.clip_norm);
            model = next_model;
            if !value.is_finite() {
                bail!(
                    "training loss is {value} at epoch {}, window {}: stopping; {}",
                    epoch + 1,
                    k + 1,
                    run.last_good()
                );
            }
            carried = Some(next);
            sum += value * n as f64;
            count += n;
            done += 1;
            progress.step(epoch + 1, config.epochs, k + 1, windows, sum / count as f64);
        }
        let train_seconds = start.elapsed().as_secs_f64();
        state.train_seconds += train_seconds;
        let valid_loss = evaluate_lm(&model.valid(), valid, &device.clone().without_autodiff());
        if !valid_loss.is_finite() {
            bail!(
                "validation loss is {valid_loss} after epoch {}: stopping",
                epoch + 1
            );
        }
        let metrics = LmEpoch {
            epoch: epoch + 1,
            train_ppl: (sum / count.max(1) as f64).exp(),
            valid_ppl: valid_loss.exp(),
            lr,
            tokens_per_s: count as f64 / train_seconds,
            seconds: start.elapsed().as_secs_f64(),
            windows: done,
        };
        progress.valid(&[
            ("Loss", valid_loss, false),
            ("Perplexity", metrics.valid_ppl, false),
        ]);
        progress.epoch(&format!(
            "epoch {}/{}  ({}/{} windows)  train ppl {:.2}  valid ppl {:.2}  lr {:.4}  {:.0} tokens/s  {:.1}s",
            metrics.epoch,
            config.epochs,
            done,
            windows,
            metrics.train_ppl,
            metrics.valid_ppl,
            lr,
            metrics.tokens_per_s,
            metrics.seconds
        ));
        state.history.push(metrics);
        state.epochs_done = epoch + 1;
        run.write_json("metrics.json", &state.history)?;
        run.save_training_checkpoint(epoch, 2, &model, &optim, &state)?;
    }
    Ok((model, state.history))
}
