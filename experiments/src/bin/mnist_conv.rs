//! `mnist-conv`: the 10-layer convolutional highway net of *Training Very Deep Networks*
//! Table 1 (widths 16 and 32) on the real MNIST or Fashion-MNIST.
//!
//! ```text
//! cargo run -p experiments --bin mnist-conv -- --width 32 --epochs 12
//! cargo run -p experiments --bin mnist-conv -- --width 32 --epochs 12 --dataset fashion-mnist
//! ```

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use datasets::{MnistDataset, MnistKind};
use experiments::cli::RunArgs;
use experiments::mnist_conv::{AUTHORS_LR, authors_schedule, run, schedule_with_decay_epochs};
use models::MnistConvNetConfig;
use models::train::MnistData;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Dataset {
    Mnist,
    FashionMnist,
}

#[derive(Parser, Debug)]
#[command(
    about = "Table 1 conv highway net on MNIST / Fashion-MNIST (Training Very Deep Networks)"
)]
#[command(mut_arg("out", |a| a.help(
    "Artifact directory (default `artifacts/mnist-conv-DATASET-wWIDTH`); re-running resumes"
)))]
struct Args {
    /// Channels per layer (16 or 32 in the paper).
    #[arg(long, default_value_t = 32)]
    width: usize,
    /// Epochs (the paper: 180k iterations of batch 100 = 300 epochs); the ×0.1 steps fall at
    /// 1/3 and 2/3 of them.
    #[arg(long, default_value_t = 12)]
    epochs: usize,
    /// Data set.
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: Dataset,
    /// Only the first N training examples (for a smoke run).
    #[arg(long)]
    train_examples: Option<usize>,
    /// Initial learning rate (the authors': 0.01 over 300 epochs; a short run profits from a
    /// larger one). Decayed ×0.1 at 1/3 and 2/3 of the epochs unless `--decay-epochs` says.
    #[arg(long, default_value_t = AUTHORS_LR)]
    lr: f64,
    /// Decay the rate ×0.1 at the end of these epochs instead (e.g. `9,12` of 13).
    #[arg(long, value_delimiter = ',')]
    decay_epochs: Option<Vec<usize>>,
    /// Initial transform-gate bias.
    #[arg(long, default_value_t = -1.0, allow_hyphen_values = true)]
    transform_bias: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    run: RunArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (kind, name) = match args.dataset {
        Dataset::Mnist => (MnistKind::Mnist, "mnist"),
        Dataset::FashionMnist => (MnistKind::FashionMnist, "fashion-mnist"),
    };
    if args.width == 0 || args.epochs == 0 {
        anyhow::bail!("--width and --epochs must be at least 1");
    }
    if !(args.lr.is_finite() && args.lr > 0.0) {
        anyhow::bail!("--lr must be a positive number, got {}", args.lr);
    }
    let dir = args.run.data.dir();
    let mut train = MnistData::new(MnistDataset::train(kind, dir)?);
    if let Some(n) = args.train_examples {
        train = train.take(n)?;
    }
    let test = MnistData::new(MnistDataset::test(kind, dir)?);
    let model = MnistConvNetConfig::new(args.width).with_transform_bias(args.transform_bias);
    let config = match &args.decay_epochs {
        None => authors_schedule(args.epochs, train.data.len(), args.lr, args.seed),
        Some(at) => {
            schedule_with_decay_epochs(args.epochs, train.data.len(), args.lr, args.seed, at)?
        }
    };
    let out = args
        .run
        .out
        .dir_or_else(|| PathBuf::from(format!("artifacts/mnist-conv-{name}-w{}", args.width)));
    let device = args.run.device.devices()?.autodiff();
    let summary = run(
        name,
        &model,
        &config,
        &train,
        &test,
        &out,
        &device,
        args.run.quiet.quiet,
    )?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
