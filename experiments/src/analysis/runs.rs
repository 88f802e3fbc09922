//! Loading trained runs: the run directories of the training binaries, rebuilt from their
//! `config.json` and newest checkpoint, the evaluation data of a `cifar` run, and the flags
//! that name them ([`NetArgs`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::Device;
use datasets::{CifarDataset, CifarKind, CifarSplit, CifarTransform, PtbCorpus};
use models::analysis::ptb_spelling;
use models::train::{CifarData, RunDir};
use models::{
    CharCnnLm, CharCnnLmConfig, CifarHighwayConfig, CifarNet, DeepMlp, DeepMlpConfig, MnistConvNet,
    MnistConvNetConfig, RhnLm, RhnLmConfig, WordSpelling,
};

/// Which trained nets the analysis binaries (`gates`, `lesion`) read: run directories of the
/// training binaries, rebuilt from their `config.json` and newest checkpoint.
#[derive(clap::Args, Debug, Clone)]
pub struct NetArgs {
    /// Trained `mnist-depth` highway runs (a run directory, or an --out directory holding one run).
    #[arg(long, value_delimiter = ',')]
    pub run: Vec<PathBuf>,
    /// A trained `mnist-conv` highway net (per layer of each stage).
    #[arg(long)]
    pub conv_run: Option<PathBuf>,
    /// A trained `cifar` highway net (not --plain), on the run's own data set (highway layers
    /// numbered 1.. over the stages; a --samples run has only its 20 images).
    #[arg(long)]
    pub cifar_run: Option<PathBuf>,
    /// A trained RHN language model (`ptb` run directory), per micro-layer.
    #[arg(long)]
    pub rhn_run: Option<PathBuf>,
    /// A trained character-aware language model (`ptb --model kim` run directory), per
    /// highway layer.
    #[arg(long)]
    pub char_run: Option<PathBuf>,
    /// PTB validation windows (batch 10, 35 steps) for the language models (0: all).
    #[arg(long, default_value_t = 40)]
    pub windows: usize,
}

impl NetArgs {
    /// An error unless at least one net is named.
    pub fn check(&self) -> anyhow::Result<()> {
        let single = [
            &self.conv_run,
            &self.cifar_run,
            &self.rhn_run,
            &self.char_run,
        ];
        if self.run.is_empty() && single.iter().all(|p| p.is_none()) {
            bail!(
                "name at least one trained net with --run (MNIST MLP), --conv-run (MNIST conv \
                 net), --cifar-run (CIFAR conv net), --rhn-run (PTB RHN) or --char-run (PTB \
                 character-aware LM)"
            );
        }
        Ok(())
    }
}

/// A trained model read back from a run directory (`config.json` + `checkpoints/`).
#[derive(Debug)]
pub struct LoadedRun<C, M> {
    /// The run directory.
    pub dir: PathBuf,
    /// The model configuration (the `model` entry of `config.json`).
    pub config: C,
    /// The model with the weights of the newest checkpoint.
    pub model: M,
    /// Epoch (1-based) of that checkpoint.
    pub epoch: usize,
}

/// Finds the run directory: `path` itself if its `config.json` has a `model` entry, else the
/// single `*/run-*` directory below it that has one (an `mnist-depth --out` directory with one
/// run). Errors list what was found.
pub fn resolve_run_dir(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.is_dir() {
        bail!("{}: no such run directory", path.display());
    }
    let has_model = |dir: &Path| run_config(dir).is_ok_and(|v| v.get("model").is_some());
    if has_model(path) {
        return Ok(path.to_path_buf());
    }
    let mut found = Vec::new();
    for cell in std::fs::read_dir(path)?.filter_map(|e| e.ok()) {
        if !cell.path().is_dir() {
            continue;
        }
        for run in std::fs::read_dir(cell.path())?.filter_map(|e| e.ok()) {
            let p = run.path();
            let is_run = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("run-"));
            if is_run && has_model(&p) {
                found.push(p);
            }
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "{}: neither it nor a */run-* directory below it has a config.json with a \"model\" \
             entry (expected a run written by mnist-depth, mnist-conv, ptb or cifar)",
            path.display()
        ),
        _ => bail!(
            "{}: holds {} runs; name one of them: {}",
            path.display(),
            found.len(),
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The parsed `config.json` of a run directory.
pub fn run_config(dir: &Path) -> anyhow::Result<serde_json::Value> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", config_path.display()))
}

/// Rebuilds a model with `init` from the `model` entry of a run's `config.json` and loads the
/// weights of its newest checkpoint.
pub fn load_run<C: serde::de::DeserializeOwned, M: Module>(
    path: &Path,
    init: impl FnOnce(&C) -> anyhow::Result<M>,
) -> anyhow::Result<LoadedRun<C, M>> {
    let dir = resolve_run_dir(path)?;
    let config_path = dir.join("config.json");
    let value = run_config(&dir)?;
    let model_value = value
        .get("model")
        .cloned()
        .with_context(|| format!("{} has no \"model\" entry", config_path.display()))?;
    let config: C = serde_json::from_value(model_value).with_context(|| {
        format!(
            "the \"model\" entry of {} is not this model's configuration",
            config_path.display()
        )
    })?;
    let run = RunDir { path: dir.clone() };
    let (epoch, ckpt) = run.latest_checkpoint().with_context(|| {
        format!(
            "{}: no checkpoint (checkpoints/latest is missing or names a missing epoch)",
            dir.display()
        )
    })?;
    let weights = ckpt.join("model.bpk");
    let model = init(&config)?
        .try_load_file(&weights)
        .with_context(|| format!("loading {}", weights.display()))?;
    Ok(LoadedRun {
        dir,
        config,
        model,
        epoch,
    })
}

/// Loads a [`DeepMlp`] trained by `mnist-depth` (a run directory or an `--out` directory with
/// one run).
pub fn load_mlp_run(
    path: &Path,
    device: &Device,
) -> anyhow::Result<LoadedRun<DeepMlpConfig, DeepMlp>> {
    load_run(path, |c: &DeepMlpConfig| {
        c.validate().map_err(anyhow::Error::msg)?;
        Ok(c.init(device))
    })
}

/// Loads a [`MnistConvNet`] trained by `mnist-conv`.
pub fn load_conv_run(
    path: &Path,
    device: &Device,
) -> anyhow::Result<LoadedRun<MnistConvNetConfig, MnistConvNet>> {
    load_run(path, |c: &MnistConvNetConfig| Ok(c.init(device)))
}

/// Loads an [`RhnLm`] trained by `ptb` (or `charlm`).
pub fn load_rhn_run(path: &Path, device: &Device) -> anyhow::Result<LoadedRun<RhnLmConfig, RhnLm>> {
    load_run(path, |c: &RhnLmConfig| {
        c.validate().map_err(anyhow::Error::msg)?;
        Ok(c.init(device))
    })
}

/// Loads a [`CifarNet`] trained by `cifar`.
pub fn load_cifar_run(
    path: &Path,
    device: &Device,
) -> anyhow::Result<LoadedRun<CifarHighwayConfig, CifarNet>> {
    load_run(path, |c: &CifarHighwayConfig| {
        c.validate().map_err(anyhow::Error::msg)?;
        Ok(c.init(device))
    })
}

/// The evaluation data of a `cifar` run, chosen by the `dataset` entry of its `config.json`:
/// `[("train", ..), ("test", ..)]` for `cifar10` and `cifar100`, `[("samples", ..)]` for
/// `cifar10-samples` (the 20 foolbox images, on which such a run is both trained and
/// evaluated). Evaluation batches get the training run's contrast normalisation and no
/// augmentation.
pub fn cifar_run_splits(
    run_dir: &Path,
    data_dir: Option<&Path>,
) -> anyhow::Result<Vec<(&'static str, CifarData)>> {
    let config = run_config(run_dir)?;
    let dataset = config
        .get("dataset")
        .and_then(|d| d.as_str())
        .with_context(|| {
            format!(
                "{}: config.json has no \"dataset\" entry (expected a run of the cifar binary)",
                run_dir.display()
            )
        })?;
    let wrap = |set| CifarData::new(set, CifarTransform::eval());
    let load = |kind| -> anyhow::Result<Vec<(&'static str, CifarData)>> {
        let split = |s| anyhow::Ok(wrap(CifarDataset::load(kind, s, data_dir)?));
        Ok(vec![
            ("train", split(CifarSplit::Train)?),
            ("test", split(CifarSplit::Test)?),
        ])
    };
    match dataset {
        "cifar10" => load(CifarKind::Cifar10),
        "cifar100" => load(CifarKind::Cifar100),
        "cifar10-samples" => Ok(vec![(
            "samples",
            wrap(CifarDataset::cifar10_samples(data_dir)?),
        )]),
        other => bail!(
            "{}: dataset {other:?} is not a cifar run's (cifar10, cifar100, cifar10-samples)",
            run_dir.display()
        ),
    }
}

/// Loads a [`CharCnnLm`] trained by `ptb --model kim` (its words spelled from the PTB
/// vocabulary of `corpus`).
pub fn load_char_cnn_run(
    path: &Path,
    corpus: &PtbCorpus,
    device: &Device,
) -> anyhow::Result<(LoadedRun<CharCnnLmConfig, CharCnnLm>, WordSpelling)> {
    let spelling = ptb_spelling(&corpus.vocab)?;
    let run = load_run(path, |c: &CharCnnLmConfig| {
        c.init(&spelling, device).map_err(anyhow::Error::msg)
    })?;
    Ok((run, spelling))
}
