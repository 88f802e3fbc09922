//! Truncated-BPTT training of recurrent language models (*Recurrent Highway Networks*,
//! Zilly et al. 2017, and the LSTM baseline): state carried across windows and detached, the
//! authors' loss scaling (cross-entropy summed over time, averaged over the batch), global-norm
//! gradient clipping, per-epoch validation perplexity, atomic checkpoints, `--resume` and a
//! NaN stop, on the shared run-directory infrastructure.

use std::time::Instant;

use anyhow::{Context, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use datasets::Bptt;
use models::RecurrentLm;
use serde::{Deserialize, Serialize};

use crate::train::{LrSchedule, OptimizerConfig, Progress, RunDir};

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LmState {
    epochs_done: usize,
    history: Vec<LmEpoch>,
}

/// Mean cross-entropy per token of `logits [b, s, V]` against `targets [b, s]`.
fn token_loss(logits: Tensor<3>, targets: Tensor<2, burn::tensor::Int>) -> Tensor<1> {
    let [b, s, v] = logits.dims();
    let device = logits.device();
    CrossEntropyLossConfig::new()
        .init(&device)
        .forward(logits.reshape([b * s, v]), targets.reshape([b * s]))
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
    };
    if let Some((epoch, dir)) = run.latest_checkpoint().filter(|_| resume) {
        model = model
            .try_load_file(dir.join("model.bpk"))
            .with_context(|| format!("loading {}", dir.join("model.bpk").display()))?;
        optim = optim
            .load(dir.join("optim.bpk"))
            .with_context(|| format!("loading {}", dir.join("optim.bpk").display()))?;
        let text = std::fs::read_to_string(dir.join("state.json"))?;
        state = serde_json::from_str(&text)
            .with_context(|| format!("{} is corrupt", dir.join("state.json").display()))?;
        progress.message(&format!("resuming after epoch {}", epoch + 1));
    }
    let windows = match config.max_windows {
        0 => train.num_windows(),
        n => n.min(train.num_windows()),
    };
    for epoch in state.epochs_done..config.epochs {
        let start = Instant::now();
        device.seed(config.seed.wrapping_add(epoch as u64 * 1_000_003));
        let lr = config.schedule.lr(config.lr, epoch, 0);
        let (mut sum, mut count) = (0.0f64, 0usize);
        let mut carried = None;
        for k in 0..windows {
            let (x, y) = train.window(k).expect("window in range").to_tensors(device);
            let n = y.shape().num_elements();
            let masks = model.sample_masks(config.batch_size, device);
            let (logits, next, tape) = model.forward_train(x, carried, Some(&masks));
            let mean = token_loss(logits, y);
            let value = mean.clone().into_scalar::<f64>();
            if !value.is_finite() {
                bail!(
                    "training loss is {value} at epoch {}, window {}: stopping; {}",
                    epoch + 1,
                    k + 1,
                    run.latest_checkpoint()
                        .map(|(e, d)| format!(
                            "the last good checkpoint (epoch {}) is {}",
                            e + 1,
                            d.display()
                        ))
                        .unwrap_or_else(|| "no checkpoint was written yet".into())
                );
            }
            // The authors' scaling: summed over time, averaged over the batch.
            let loss = mean * config.seq_len as f64;
            let grads = model.backward_lm(loss, tape);
            let mut grads = GradientsParams::from_grads(grads, &model);
            clip_global_norm(&model, &mut grads, config.clip_norm);
            model = optim.step(lr, model, grads);
            carried = Some(M::detach_state(next));
            sum += value * n as f64;
            count += n;
            progress.step(
                epoch + 1,
                config.epochs,
                k + 1,
                windows,
                (sum / count as f64).exp(),
            );
        }
        let train_seconds = start.elapsed().as_secs_f64();
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
        };
        progress.epoch(&format!(
            "epoch {}/{}  train ppl {:.2}  valid ppl {:.2}  lr {:.4}  {:.0} tokens/s  {:.1}s",
            metrics.epoch,
            config.epochs,
            metrics.train_ppl,
            metrics.valid_ppl,
            lr,
            metrics.tokens_per_s,
            metrics.seconds
        ));
        state.history.push(metrics);
        state.epochs_done = epoch + 1;
        run.write_json("metrics.json", &state.history)?;
        let snapshot = model.clone();
        run.save_checkpoint(epoch, 2, |dir| {
            snapshot.save_file(dir.join("model.bpk"))?;
            optim.save(dir.join("optim.bpk"))?;
            std::fs::write(dir.join("state.json"), serde_json::to_vec_pretty(&state)?)?;
            Ok(())
        })?;
    }
    Ok((model, state.history))
}
