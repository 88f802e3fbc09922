//! Training the CIFAR-10/100 convolutional highway nets of *Training Very Deep Networks*
//! (arXiv:1507.06228), Tables 2 and 3 (`models::CifarNet`), with the authors' schedule
//! (their code, `cifar10-19layers`): Nesterov momentum 0.9, lr 0.025, weight decay 1e-3,
//! batch 100, lr ×0.1 at 100k, 150k and 175k of 200k iterations (scaled to `--iterations`:
//! at 1/2, 3/4 and 7/8 of them), global contrast normalisation, and for Table 3 the
//! augmentation of the `datasets` crate (8-pixel zero pad + random 32×32 crop, mirroring).
//!
//! The command-line interface ([`CifarArgs`]) lives here so that the tests run the same
//! pipeline as the `cifar` binary.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::module::Module;
use clap::{Parser, ValueEnum};
use datasets::{CifarDataset, CifarKind, CifarSplit, CifarTransform};
use models::{CifarHighwayConfig, CifarStage, LayerKind};
use serde::{Deserialize, Serialize};

use crate::cli::RunArgs;
use crate::provenance::{create_run, git_commit};
use models::train::CifarData;
use models::train::{EvalResult, FitOptions, LabelledData, TrainConfig, fit_classifier};

/// The paper's number of iterations (200k of batch 100 = 400 epochs of 50,000 images).
pub const PAPER_ITERATIONS: usize = 200_000;

/// Which net.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetChoice {
    /// Table 2 Highway A: 11 layers, ~236K parameters.
    A,
    /// Table 2 Highway B: 19 layers, ~2.3M parameters.
    B,
    /// Table 2 Highway C: 32 layers, ~1.25M parameters.
    C,
    /// Table 3: the authors' 19-layer net with a 1×1 conv + global average pooling head.
    Table3,
    /// Not in the paper: two stages of 4 channels (one highway layer each), for smoke tests.
    Tiny,
}

/// CIFAR-10 or CIFAR-100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetChoice {
    /// 10 classes.
    Cifar10,
    /// 100 (fine) classes.
    Cifar100,
}

impl DatasetChoice {
    /// The `datasets` kind.
    pub fn kind(self) -> CifarKind {
        match self {
            DatasetChoice::Cifar10 => CifarKind::Cifar10,
            DatasetChoice::Cifar100 => CifarKind::Cifar100,
        }
    }
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// Options of the `cifar` binary.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "cifar",
    about = "CIFAR-10/100 conv highway nets of Tables 2 and 3 (Training Very Deep Networks)"
)]
#[command(mut_arg("data_dir", |a| a.help(
    "Directory holding the binary files (CIFAR-10: data_batch_1..5.bin, test_batch.bin; \
     CIFAR-100: train.bin, test.bin), or with --samples the foolbox PNGs (default: the cache)"
)))]
#[command(mut_arg("out", |a| a.help(
    "Artifact directory (default `artifacts/cifar-DATASET-NET[-plain]`, DATASET \
     `cifar10-samples` with --samples); re-running resumes"
)))]
pub struct CifarArgs {
    /// Data set.
    #[arg(long, value_enum, default_value = "cifar10")]
    pub dataset: DatasetChoice,
    /// Net: a, b, c (Table 2), table3 (Table 3), tiny (smoke tests).
    #[arg(long, value_enum, default_value = "table3")]
    pub net: NetChoice,
    /// Plain counterpart: every highway layer becomes a plain 3×3 conv + ReLU.
    #[arg(long)]
    pub plain: bool,
    /// Optimiser steps (the paper: 200000); rounded up to whole epochs; the ×0.1 steps fall at
    /// 1/2, 3/4 and 7/8 of them.
    #[arg(long, default_value_t = PAPER_ITERATIONS)]
    pub iterations: usize,
    /// Epochs instead of --iterations.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training augmentation (8-px pad + random crop, mirror); default on for table3 (Table 3),
    /// off for a, b, c (Table 2). Contrast normalisation is always on.
    #[arg(long, value_enum)]
    pub augment: Option<OnOff>,
    /// Only the first N training images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Train on the 20 real CIFAR-10 test images of foolbox (`bash scripts/fetch-data.sh
    /// cifar10-samples`) and evaluate on the same images: the overfitting check.
    #[arg(long)]
    pub samples: bool,
    /// Mini-batch size (the paper: 100).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Dropout rate instead of the preset's 0.2.
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Initial transform-gate bias instead of the preset's.
    #[arg(long, allow_hyphen_values = true)]
    pub transform_bias: Option<f64>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `--out`, `--data-dir`, `--quiet`, `--device`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The model of `net` for `n_classes` classes (`plain`: the plain counterpart).
pub fn model_config(net: NetChoice, n_classes: usize, plain: bool) -> CifarHighwayConfig {
    let config = match net {
        NetChoice::A => CifarHighwayConfig::fitnet_a(),
        NetChoice::B => CifarHighwayConfig::fitnet_b(),
        NetChoice::C => CifarHighwayConfig::fitnet_c(),
        NetChoice::Table3 => CifarHighwayConfig::table3(),
        NetChoice::Tiny => CifarHighwayConfig::new(vec![CifarStage::new(4, 1); 2]).with_hidden(8),
    };
    let kind = if plain {
        LayerKind::Plain
    } else {
        LayerKind::Highway
    };
    config.with_n_classes(n_classes).with_kind(kind)
}

/// The authors' optimiser and schedule for `iterations` steps of `batch_size` over `n_train`
/// images: Nesterov momentum 0.9, lr 0.025, weight decay 1e-3, ×0.1 at 1/2, 3/4 and 7/8 of
/// `iterations` (100k/150k/175k of 200k); training runs whole epochs, so the last epoch may
/// go past `iterations`.
pub fn authors_schedule(
    iterations: usize,
    n_train: usize,
    batch_size: usize,
    seed: u64,
) -> TrainConfig {
    let steps_per_epoch = n_train.div_ceil(batch_size.max(1)).max(1);
    TrainConfig::nesterov_step(
        iterations.div_ceil(steps_per_epoch).max(1),
        batch_size,
        0.025,
        vec![iterations / 2, iterations * 3 / 4, iterations * 7 / 8],
        seed,
    )
}

/// `summary.json` of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CifarSummary {
    /// `cifar10`, `cifar100` or `cifar10-samples`.
    pub dataset: String,
    /// Net preset.
    pub net: NetChoice,
    /// Highway or plain.
    pub kind: LayerKind,
    /// Trainable parameters.
    pub parameters: usize,
    /// Weight layers as the paper counts them.
    pub layers: usize,
    /// Training augmentation on.
    pub augment: bool,
    /// Training images.
    pub train_images: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Optimiser steps taken.
    pub iterations: usize,
    /// Mean training loss of the last epoch (training mode: dropout, augmentation).
    pub final_train_loss: f64,
    /// Training accuracy of the last epoch (training mode).
    pub final_train_accuracy: f64,
    /// Evaluations after the last epoch (evaluation mode: no dropout, no augmentation).
    pub final_evals: Vec<EvalResult>,
    /// Best accuracy of the first evaluation split over the epochs.
    pub best_eval_accuracy: f64,
    /// First optimiser step after which the first evaluation split was classified 100%
    /// correctly (evaluation mode), if ever.
    pub first_iteration_at_100_percent: Option<usize>,
    /// Wall-clock seconds of the training in this invocation.
    pub wall_time_s: f64,
    /// Mean seconds per optimiser step over the epochs (their evaluation included).
    pub seconds_per_step: f64,
    /// Training throughput (images per second of training steps, evaluation excluded).
    #[serde(default)]
    pub train_samples_per_s: f64,
    /// Peak resident memory of the process (MiB, Linux), if known.
    #[serde(default)]
    pub peak_memory_mib: Option<f64>,
    /// Backend / device.
    pub backend: String,
    /// Git commit.
    pub git_commit: String,
}

/// Runs the `cifar` command line: loads the data, builds the net and schedule, then trains
/// (or resumes) the net, evaluating it after every epoch, and writes the run's artifacts.
pub fn run_cli(args: &CifarArgs) -> anyhow::Result<CifarSummary> {
    if args.iterations == 0 || args.epochs == Some(0) || args.batch_size == 0 {
        bail!("--iterations, --epochs and --batch-size must be at least 1");
    }
    if args.limit == Some(0) {
        bail!("--limit must be at least 1");
    }
    if args.samples && args.dataset != DatasetChoice::Cifar10 {
        bail!("--samples are CIFAR-10 images: use --dataset cifar10");
    }
    let kind = args.dataset.kind();
    let mut config = model_config(args.net, kind.classes(), args.plain);
    if let Some(p) = args.dropout {
        config = config.with_dropout(p);
    }
    if let Some(b) = args.transform_bias {
        config = config.with_transform_bias(b);
    }
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("bad model options: {e}"))?;
    let augment = args
        .augment
        .map_or(args.net == NetChoice::Table3, |a| a == OnOff::On);
    let mut transform = CifarTransform::train(args.seed);
    if !augment {
        transform = transform.with_pad(0).with_mirror(false);
    }
    let data_dir = args.run.data.dir();
    let (train_set, test_set, dataset) = if args.samples {
        let set = CifarDataset::cifar10_samples(data_dir)?;
        (set, None, "cifar10-samples".to_string())
    } else {
        let train = CifarDataset::load(kind, CifarSplit::Train, data_dir)?;
        let test = CifarDataset::load(kind, CifarSplit::Test, data_dir)?;
        let name = format!("{:?}", args.dataset).to_lowercase();
        (train, Some(test), name)
    };
    let mut train = CifarData::new(train_set, transform);
    if let Some(n) = args.limit {
        train = train.take(n)?;
    }
    // Without a test set (--samples) the training images themselves are evaluated.
    let test = test_set.map(|t| CifarData::new(t, transform));
    let evals: Vec<(&str, Arc<dyn LabelledData<4>>)> = match &test {
        Some(t) => vec![("test", Arc::new(t.clone()))],
        None => vec![("train", Arc::new(train.clone()))],
    };
    let steps_per_epoch = train.len().div_ceil(args.batch_size);
    let iterations = args.epochs.map_or(args.iterations, |e| e * steps_per_epoch);
    let train_config = authors_schedule(iterations, train.len(), args.batch_size, args.seed);
    let net = format!("{:?}", args.net).to_lowercase();
    let out = args.run.out.dir_or_else(|| {
        let plain = if args.plain { "-plain" } else { "" };
        PathBuf::from(format!("artifacts/cifar-{dataset}-{net}{plain}"))
    });
    let device = args.run.device.devices()?.autodiff();
    let quiet = args.run.quiet.quiet;

    let dir = create_run(out)?;
    dir.write_json(
        "config.json",
        &serde_json::json!({
            "dataset": dataset, "net": args.net, "model": config, "train": train_config,
            "augment": train.train.augments(), "train_images": train.len(),
        }),
    )?;
    device.seed(train_config.seed);
    let model = config.init(&device);
    let parameters = model.num_params();
    let mut label = format!("{dataset} {net}");
    if config.kind == LayerKind::Plain {
        label += " plain";
    }
    if !quiet {
        println!(
            "[{label}] {parameters} parameters, {} layers, {} training images, {} epochs of {} steps",
            config.layers(),
            train.len(),
            train_config.epochs,
            steps_per_epoch
        );
    }
    let start = Instant::now();
    let train_data: Arc<dyn LabelledData<4>> = Arc::new(train.clone());
    let options = FitOptions::resuming(&dir, &label, quiet, &device);
    let (_, history) = fit_classifier(model, train_data, &evals, &train_config, &options)?;
    let wall_time_s = start.elapsed().as_secs_f64();
    let last = history.last().context("no epoch was trained")?;
    let acc =
        |m: &models::train::EpochMetrics| m.evals.first().and_then(|e| e.accuracy).unwrap_or(0.0);
    let summary = CifarSummary {
        dataset,
        net: args.net,
        kind: config.kind,
        parameters,
        layers: config.layers(),
        augment: train.train.augments(),
        train_images: train.len(),
        epochs: history.len(),
        iterations: history.len() * steps_per_epoch,
        final_train_loss: last.train_loss,
        final_train_accuracy: last.train_accuracy.unwrap_or(0.0),
        final_evals: last.evals.clone(),
        best_eval_accuracy: history.iter().map(acc).fold(0.0, f64::max),
        first_iteration_at_100_percent: history
            .iter()
            .find(|m| acc(m) >= 1.0)
            .map(|m| m.epoch * steps_per_epoch),
        wall_time_s,
        seconds_per_step: history.iter().map(|m| m.seconds).sum::<f64>()
            / (history.len() * steps_per_epoch) as f64,
        train_samples_per_s: models::train::samples_per_second(&history),
        peak_memory_mib: crate::bench::peak_memory_mib(),
        backend: device.names(),
        git_commit: git_commit(),
    };
    dir.write_json("summary.json", &summary)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::train::LrSchedule;

    #[test]
    fn paper_schedule_has_the_papers_milestones() {
        let c = authors_schedule(PAPER_ITERATIONS, 50_000, 100, 1);
        assert_eq!(c.epochs, 400);
        assert_eq!(
            c.schedule,
            LrSchedule::Step {
                milestones: vec![100_000, 150_000, 175_000],
                factor: 0.1
            }
        );
        assert_eq!(c.lr, 0.025);
        // Short runs round up to whole epochs.
        assert_eq!(authors_schedule(7, 20, 100, 1).epochs, 7);
        assert_eq!(authors_schedule(7, 250, 100, 1).epochs, 3);
    }

    #[test]
    fn augmentation_defaults_follow_the_tables() {
        let args = CifarArgs::try_parse_from(["cifar", "--net", "a", "--plain"]).unwrap();
        assert_eq!(args.augment, None);
        let m = model_config(args.net, 100, args.plain);
        assert_eq!((m.kind, m.n_classes), (LayerKind::Plain, 100));
        let err = run_cli(
            &CifarArgs::try_parse_from(["cifar", "--samples", "--dataset", "cifar100"]).unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--dataset cifar10"), "{err}");
    }
}
