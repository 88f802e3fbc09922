//! The language-model binaries (`ptb`, `charlm`) over `models::train::tbptt`: their shared
//! flags ([`LmArgs`]) over a paper's settings ([`LmDefaults`]), the job they share ([`LmJob`]:
//! `config.json`, truncated-BPTT training with exact resume, the test evaluation and
//! `summary.json`), and the corpora a run records for `sample` ([`LmCorpus`], [`LmData`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::ValueEnum;
use datasets::{Bptt, CharCorpus, CharFilter};
use serde::{Deserialize, Serialize};

use crate::provenance::git_commit;
use models::train::tbptt::{LanguageModel, fit_and_test_lm};
use models::train::{FitOptions, OptimizerConfig};

pub use models::train::tbptt::{LmDefaults, LmEpoch, LmOutcome, LmTrainConfig, fit_lm};

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

impl LmArgs {
    /// The training config: `defaults` for what the flags leave unset. `--decay` or
    /// `--decay-start` replace the default schedule by `lr0 / decay^max(epoch − start, 0)`
    /// (the other taken from the default schedule when it is of that form, else 1 and 0:
    /// [`LmDefaults::schedule_with`]).
    pub fn train_config(&self, defaults: &LmDefaults) -> LmTrainConfig {
        LmTrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            seq_len: self.seq_len.unwrap_or(defaults.seq_len),
            lr: self.lr.unwrap_or(defaults.lr),
            schedule: defaults.schedule_with(self.decay, self.decay_start),
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

/// What the training of every model of a language-model binary (`ptb`, `charlm`) shares.
#[derive(Debug, Clone)]
pub struct LmJob<'a> {
    /// The corpus, written as the `"data"` entry of `config.json` (`sample` rebuilds the
    /// vocabulary from it).
    pub data_spec: LmData,
    /// Training, validation and test windows.
    pub data: (&'a Bptt, &'a Bptt, &'a Bptt),
    /// The training config.
    pub config: &'a LmTrainConfig,
    /// The flags (`--mc-samples`, `--eval-batch`).
    pub args: &'a LmArgs,
    /// The run directory, the run's name in progress lines, `--quiet`, the training devices
    /// ([`FitOptions::resuming`]: a run resumes from its newest checkpoint).
    pub options: FitOptions<'a>,
}

impl LmJob<'_> {
    /// Writes `config.json` (`"model"`: `model_config`, `"train"`: the training config,
    /// `"data"`: the corpus), then trains as `options` say and evaluates on the test windows,
    /// also with `--mc-samples` Monte-Carlo dropout samples when non-zero ([`fit_and_test_lm`]):
    /// the whole job of a language-model binary, for any [`LanguageModel`].
    pub fn train<M: LanguageModel>(
        &self,
        model: M,
        model_config: &impl Serialize,
    ) -> anyhow::Result<LmOutcome> {
        self.options.run.write_json(
            "config.json",
            &serde_json::json!({
                "model": model_config,
                "train": self.config,
                "data": self.data_spec,
            }),
        )?;
        let mc_samples = self.args.mc_samples;
        fit_and_test_lm(model, self.data, self.config, mc_samples, &self.options)
    }

    /// Writes `summary.json` and prints it: the binary's `own` entries (a JSON object) and
    /// those of every language-model run (parameters, epochs, `--mc-samples`, the last
    /// epoch's tokens per second, peak memory, wall time, `--eval-batch`, backend, commit).
    pub fn summarize(&self, outcome: &LmOutcome, own: serde_json::Value) -> anyhow::Result<()> {
        let last = outcome.history.last().expect("an epoch");
        let mut summary = serde_json::json!({
            "parameters": outcome.parameters,
            "epochs": outcome.history.len(),
            "mc_samples": self.args.mc_samples,
            "tokens_per_s": last.tokens_per_s,
            "peak_memory_mib": crate::bench::peak_memory_mib(),
            "wall_time_s": outcome.wall_time_s,
            "evaluation_batch": self.args.eval_batch,
            "backend": self.options.device.names(),
            "git_commit": git_commit(),
        });
        if let (Some(all), serde_json::Value::Object(own)) = (summary.as_object_mut(), own) {
            all.extend(own);
        }
        self.options.run.write_json("summary.json", &summary)?;
        println!("{}", serde_json::to_string_pretty(&summary)?);
        Ok(())
    }
}

/// The corpora of the language-model binaries, as the `corpus` of [`LmData`] names them: `ptb`,
/// and the values of `charlm --corpus` (whose help the variants' docs are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LmCorpus {
    /// Penn Treebank, word level (`ptb`).
    #[value(skip)]
    Ptb,
    /// The gensim Wikipedia XML excerpt, raw bytes (enwik8-like).
    Wiki,
    /// The same excerpt filtered to a-z and space (text8-like).
    WikiText8,
    /// enwik8 (100M bytes).
    Enwik8,
    /// text8 (100M characters).
    Text8,
    /// `--file PATH`, raw bytes.
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

    /// Loads this character corpus (`file`: the text file of [`LmCorpus::File`]) from
    /// `data_dir`, then the data cache.
    ///
    /// # Errors
    ///
    /// PTB (a word corpus), a `file` corpus without `file`, or a corpus that cannot be found or
    /// read.
    pub fn load_chars(
        self,
        file: Option<&Path>,
        data_dir: Option<&Path>,
    ) -> anyhow::Result<CharCorpus> {
        Ok(match self {
            LmCorpus::Ptb => bail!("ptb is a word-level corpus"),
            LmCorpus::Wiki => CharCorpus::wiki(data_dir, CharFilter::Raw)?,
            LmCorpus::WikiText8 => CharCorpus::wiki(data_dir, CharFilter::Text8)?,
            LmCorpus::Enwik8 => CharCorpus::enwik8(data_dir)?,
            LmCorpus::Text8 => CharCorpus::text8(data_dir)?,
            LmCorpus::File => {
                let path = file.context("the file corpus needs a file")?;
                CharCorpus::from_file(path, CharFilter::Raw)?
            }
        })
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
