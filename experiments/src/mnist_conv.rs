//! Training the Table 1 convolutional highway net (*Training Very Deep Networks*) on MNIST or
//! Fashion-MNIST, with the authors' schedule scaled to a chosen number of epochs. The
//! command-line interface ([`MnistConvArgs`]) lives here, beside the pipeline it runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use clap::{Parser, ValueEnum};
use datasets::{MnistDataset, MnistKind};
use models::MnistConvNetConfig;
use serde::{Deserialize, Serialize};

use crate::cli::RunArgs;
use crate::provenance::{create_run, git_commit};
use models::train::MnistData;
use models::train::{FitOptions, LabelledData, TrainConfig, fit_classifier};

/// The authors' initial learning rate.
pub const AUTHORS_LR: f64 = 0.01;

/// The authors' optimiser: Nesterov momentum 0.9, weight decay 1e-3, batch 100, initial rate
/// `lr` (theirs: [`AUTHORS_LR`]) decayed ×0.1 at 1/3 and 2/3 of training (60k and 120k of 180k
/// iterations in the paper).
pub fn authors_schedule(epochs: usize, n_train: usize, lr: f64, seed: u64) -> TrainConfig {
    let batch_size = 100;
    let total = epochs * n_train.div_ceil(batch_size);
    TrainConfig::nesterov_step(epochs, batch_size, lr, vec![total / 3, 2 * total / 3], seed)
}

/// The authors' solver with the ×0.1 steps moved to the ends of the given epochs (1-based,
/// increasing, each before the last epoch): a short run can stay longer at the initial rate than
/// 1/3 of its epochs. `decay_epochs = [3, 6]` of 9 epochs is [`authors_schedule`]`(9, …)`.
pub fn schedule_with_decay_epochs(
    epochs: usize,
    n_train: usize,
    lr: f64,
    seed: u64,
    decay_epochs: &[usize],
) -> anyhow::Result<TrainConfig> {
    let mut previous = 0;
    for &e in decay_epochs {
        if e <= previous || e >= epochs {
            anyhow::bail!(
                "--decay-epochs {decay_epochs:?}: each must be after the one before it and before \
                 the last epoch ({epochs})"
            );
        }
        previous = e;
    }
    let mut config = authors_schedule(epochs, n_train, lr, seed);
    let per_epoch = n_train.div_ceil(config.batch_size);
    if let models::train::LrSchedule::Step { milestones, .. } = &mut config.schedule {
        *milestones = decay_epochs.iter().map(|e| e * per_epoch).collect();
    }
    Ok(config)
}

/// `summary.json` of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConvSummary {
    /// `mnist` or `fashion-mnist`.
    pub dataset: String,
    /// Net width.
    pub width: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f64,
    /// Test accuracy after the last epoch.
    pub test_accuracy: f64,
    /// Best test accuracy over the epochs.
    pub best_test_accuracy: f64,
    /// Wall-clock seconds of this invocation.
    pub wall_time_s: f64,
    /// Training throughput (examples per second of training steps, evaluation excluded).
    pub train_samples_per_s: f64,
    /// Peak resident memory of the process (MiB, Linux), if known.
    pub peak_memory_mib: Option<f64>,
    /// Backend / device.
    pub backend: String,
    /// Git commit.
    pub git_commit: String,
}

/// The data set (`--help` lists the names alone, so the variants have no doc comments).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Dataset {
    Mnist,
    FashionMnist,
}

/// Options of the `mnist-conv` binary.
#[derive(Parser, Debug)]
#[command(
    name = "mnist-conv",
    about = "Table 1 conv highway net on MNIST / Fashion-MNIST (Training Very Deep Networks)"
)]
#[command(mut_arg("out", |a| a.help(
    "Artifact directory (default `artifacts/mnist-conv-DATASET-wWIDTH`); re-running resumes"
)))]
pub struct MnistConvArgs {
    /// Channels per layer (16 or 32 in the paper).
    #[arg(long, default_value_t = 32)]
    pub width: usize,
    /// Epochs (the paper: 180k iterations of batch 100 = 300 epochs); the ×0.1 steps fall at
    /// 1/3 and 2/3 of them.
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    /// Data set.
    #[arg(long, value_enum, default_value = "mnist")]
    pub(crate) dataset: Dataset,
    /// Only the first N training examples (for a smoke run).
    #[arg(long)]
    pub train_examples: Option<usize>,
    /// Initial learning rate (the authors': 0.01 over 300 epochs; a short run profits from a
    /// larger one). Decayed ×0.1 at 1/3 and 2/3 of the epochs unless `--decay-epochs` says.
    #[arg(long, default_value_t = AUTHORS_LR)]
    pub lr: f64,
    /// Decay the rate ×0.1 at the end of these epochs instead (e.g. `9,12` of 13).
    #[arg(long, value_delimiter = ',')]
    pub decay_epochs: Option<Vec<usize>>,
    /// Initial transform-gate bias.
    #[arg(long, default_value_t = -1.0, allow_hyphen_values = true)]
    pub transform_bias: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `--out`, `--data-dir`, `--quiet`, `--device`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the `mnist-conv` command line: loads the data, then trains (or resumes) the net and
/// writes the run's artifacts.
pub fn run_cli(args: &MnistConvArgs) -> anyhow::Result<ConvSummary> {
    let (kind, dataset) = match args.dataset {
        Dataset::Mnist => (MnistKind::Mnist, "mnist"),
        Dataset::FashionMnist => (MnistKind::FashionMnist, "fashion-mnist"),
    };
    if args.width == 0 || args.epochs == 0 {
        anyhow::bail!("--width and --epochs must be at least 1");
    }
    if !(args.lr.is_finite() && args.lr > 0.0) {
        anyhow::bail!("--lr must be a positive number, got {}", args.lr);
    }
    let data_dir = args.run.data.dir();
    let mut train = MnistData::new(MnistDataset::train(kind, data_dir)?);
    if let Some(n) = args.train_examples {
        train = train.take(n)?;
    }
    let test = MnistData::new(MnistDataset::test(kind, data_dir)?);
    let model_config = MnistConvNetConfig::new(args.width).with_transform_bias(args.transform_bias);
    let (epochs, n_train) = (args.epochs, train.data.len());
    let train_config = match &args.decay_epochs {
        None => authors_schedule(epochs, n_train, args.lr, args.seed),
        Some(at) => schedule_with_decay_epochs(epochs, n_train, args.lr, args.seed, at)?,
    };
    let out = args
        .run
        .out
        .dir_or_else(|| PathBuf::from(format!("artifacts/mnist-conv-{dataset}-w{}", args.width)));
    let device = args.run.device.devices()?.autodiff();
    let quiet = args.run.quiet.quiet;

    let dir = create_run(out)?;
    dir.write_json(
        "config.json",
        &serde_json::json!({ "dataset": dataset, "model": model_config, "train": train_config }),
    )?;
    device.seed(train_config.seed);
    let model = model_config.init(&device);
    let parameters = model.num_params();
    let label = format!("{dataset} conv{}", model_config.width);
    if !quiet {
        println!("[{label}] {parameters} parameters");
    }
    let start = Instant::now();
    let train_data: Arc<dyn LabelledData<4>> = Arc::new(train);
    let evals: Vec<(&str, Arc<dyn LabelledData<4>>)> = vec![("test", Arc::new(test))];
    let options = FitOptions::resuming(&dir, &label, quiet, &device);
    let (_, history) = fit_classifier(model, train_data, &evals, &train_config, &options)?;
    let last = history.last().expect("at least one epoch");
    let acc =
        |m: &models::train::EpochMetrics| m.evals.first().and_then(|e| e.accuracy).unwrap_or(0.0);
    let summary = ConvSummary {
        dataset: dataset.into(),
        width: model_config.width,
        parameters,
        epochs: history.len(),
        final_train_loss: last.train_loss,
        test_accuracy: acc(last),
        best_test_accuracy: history.iter().map(acc).fold(0.0, f64::max),
        wall_time_s: start.elapsed().as_secs_f64(),
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
    use models::train::{LrSchedule, OptimizerConfig};

    #[test]
    fn authors_schedule_scales_the_steps_to_the_epochs_and_keeps_the_solver() {
        let c = authors_schedule(9, 60_000, 0.05, 3);
        assert_eq!((c.epochs, c.batch_size, c.lr, c.seed), (9, 100, 0.05, 3));
        match &c.schedule {
            LrSchedule::Step { milestones, factor } => {
                assert_eq!(milestones, &vec![1800, 3600]);
                assert_eq!(*factor, 0.1);
            }
            other => panic!("expected step decay, got {other:?}"),
        }
        assert!(matches!(
            c.optimizer,
            OptimizerConfig::Sgd { momentum, nesterov: true, weight_decay }
                if momentum == 0.9 && weight_decay == 1e-3
        ));
        // The paper: 180k iterations = 300 epochs of 600, steps at 60k and 120k.
        let paper = authors_schedule(300, 60_000, AUTHORS_LR, 1);
        assert_eq!(paper.lr, 0.01);
        assert!(
            matches!(&paper.schedule, LrSchedule::Step { milestones, .. } if milestones == &vec![60_000, 120_000])
        );
    }

    #[test]
    fn decay_epochs_move_the_steps_and_bad_lists_are_refused() {
        let c = schedule_with_decay_epochs(13, 60_000, 0.05, 1, &[9, 12]).unwrap();
        assert!(
            matches!(&c.schedule, LrSchedule::Step { milestones, factor } if milestones == &vec![5400, 7200] && *factor == 0.1)
        );
        let same = schedule_with_decay_epochs(9, 60_000, 0.05, 3, &[3, 6]).unwrap();
        assert_eq!(
            serde_json::to_string(&same).unwrap(),
            serde_json::to_string(&authors_schedule(9, 60_000, 0.05, 3)).unwrap()
        );
        for bad in [&[9, 9][..], &[12, 9], &[13], &[0]] {
            let err = schedule_with_decay_epochs(13, 60_000, 0.05, 1, bad).unwrap_err();
            assert!(err.to_string().contains("--decay-epochs"), "{err}");
        }
    }
}
