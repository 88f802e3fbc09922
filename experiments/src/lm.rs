//! Truncated-BPTT training of recurrent language models (*Recurrent Highway Networks*,
//! Zilly et al. 2017, and the LSTM baseline): state carried across windows and detached, the
//! authors' loss scaling (cross-entropy summed over time, averaged over the batch), global-norm
//! gradient clipping, per-epoch validation perplexity, atomic checkpoint sets, `--resume` and
//! a NaN stop, through the one training path (burn-train's `SupervisedTraining` / `Learner`
//! with the zoo's strategy, which carries the state).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;

use crate::backend::Devices;
use datasets::Bptt;
use serde::{Deserialize, Serialize};

use models::train::tbptt::{LanguageModel, evaluate_lm, evaluate_lm_mc};
use models::train::{
    EpochMetrics, FitOptions, LrSchedule, OptimizerConfig, RunDir, Solver, fit_tbptt,
};

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
    /// Learning rate on the loss summed over the window (RHN 0.2, character-aware LM 1.0).
    #[arg(long)]
    pub lr: Option<f64>,
    /// lr = lr0 / decay^max(epoch − decay_start, 0) (RHN: PTB 1.02 after 19, char 1.03 after
    /// 5; the character-aware LM halves the rate when the validation perplexity stalls).
    #[arg(long)]
    pub decay: Option<f64>,
    /// First epoch (0-based) of the decay.
    #[arg(long)]
    pub decay_start: Option<usize>,
    /// Global gradient-norm clip (0 = off; RHN 10, character-aware LM 5).
    #[arg(long)]
    pub clip_norm: Option<f64>,
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

/// A paper's training settings, which the flags of [`LmArgs`] override.
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
    /// Learning-rate schedule (replaced by `--decay` / `--decay-start` when either is given).
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
}

impl LmArgs {
    /// The training config: `defaults` for what the flags leave unset. `--decay` or
    /// `--decay-start` replace the default schedule by `lr0 / decay^max(epoch − start, 0)`
    /// (the other taken from the default schedule when it is of that form, else 1 and 0).
    pub fn train_config(&self, defaults: &LmDefaults) -> LmTrainConfig {
        let schedule = if self.decay.is_none() && self.decay_start.is_none() {
            defaults.schedule.clone()
        } else {
            let (decay, start) = match defaults.schedule {
                LrSchedule::InverseDecay { decay, start } => (decay, start),
                _ => (1.0, 0),
            };
            LrSchedule::InverseDecay {
                decay: self.decay.unwrap_or(decay),
                start: self.decay_start.unwrap_or(start),
            }
        };
        LmTrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            seq_len: self.seq_len.unwrap_or(defaults.seq_len),
            lr: self.lr.unwrap_or(defaults.lr),
            schedule,
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
            clip_norm: self.clip_norm.unwrap_or(defaults.clip_norm),
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

/// Writes `config.json` (`"model"`: `model_config`, `"train"`: `config`, `"data"`:
/// `data_spec`, the corpus that `sample` rebuilds the vocabulary from), trains (resuming from
/// `run`), and evaluates on `test` (also with `mc_samples` Monte-Carlo dropout samples when
/// non-zero): the whole job of a language-model binary, for any [`RecurrentLm`](models::RecurrentLm).
#[allow(clippy::too_many_arguments)]
pub fn train_and_test<M: LanguageModel>(
    model: M,
    model_config: &impl Serialize,
    data_spec: &LmData,
    data: (&Bptt, &Bptt, &Bptt),
    config: &LmTrainConfig,
    mc_samples: usize,
    run: &RunDir,
    (label, quiet): (&str, bool),
    device: &Devices,
) -> anyhow::Result<LmOutcome> {
    run.write_json(
        "config.json",
        &serde_json::json!({ "model": model_config, "train": config, "data": data_spec }),
    )?;
    let parameters = model.num_params();
    let say = |line: String| {
        if !quiet {
            println!("[{label}] {line}");
        }
    };
    say(format!("{parameters} parameters"));
    let start = Instant::now();
    let (train, valid, test) = data;
    let options = FitOptions::resuming(run, label, quiet, device);
    let (model, history) = fit_lm(model, train, valid, config, &options)?;
    let eval_device = device.main.clone().without_autodiff();
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

/// The corpora of the language-model binaries, as the `corpus` of [`LmData`] names them (the
/// names of `charlm --corpus`, and `ptb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LmCorpus {
    /// Penn Treebank, word level (`ptb`).
    Ptb,
    /// The gensim Wikipedia excerpt, raw bytes (`charlm --corpus wiki`).
    Wiki,
    /// The same excerpt filtered to a-z and space (`charlm --corpus wiki-text8`).
    WikiText8,
    /// enwik8 (`charlm --corpus enwik8`).
    Enwik8,
    /// text8 (`charlm --corpus text8`).
    Text8,
    /// A text file, raw bytes (`charlm --corpus file --file PATH`).
    File,
}

impl LmCorpus {
    /// Every corpus.
    pub const ALL: [LmCorpus; 6] = [
        LmCorpus::Ptb,
        LmCorpus::Wiki,
        LmCorpus::WikiText8,
        LmCorpus::Enwik8,
        LmCorpus::Text8,
        LmCorpus::File,
    ];

    /// The name in `config.json` and on the command line (`wiki-text8`).
    pub fn name(self) -> &'static str {
        match self {
            LmCorpus::Ptb => "ptb",
            LmCorpus::Wiki => "wiki",
            LmCorpus::WikiText8 => "wiki-text8",
            LmCorpus::Enwik8 => "enwik8",
            LmCorpus::Text8 => "text8",
            LmCorpus::File => "file",
        }
    }

    /// The corpus named `name` ([`LmCorpus::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether the tokens are words (else characters: bytes).
    pub fn is_word_level(self) -> bool {
        self == LmCorpus::Ptb
    }
}

/// The data a language model was trained on: the `"data"` entry of a run's `config.json`,
/// from which `sample` rebuilds the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LmData {
    /// The corpus.
    pub corpus: LmCorpus,
    /// The text file of [`LmCorpus::File`] (absolute when it could be resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

impl LmData {
    /// `corpus`, with `file` for [`LmCorpus::File`] (made absolute when it exists, so that the
    /// run can be sampled from another directory).
    pub fn new(corpus: LmCorpus, file: Option<&Path>) -> Self {
        let file = file.map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.to_path_buf()));
        Self { corpus, file }
    }
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
/// `SupervisedTraining` and `Learner` with `models::train`'s strategy), the state carried and
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
