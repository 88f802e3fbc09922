//! `mnist-depth`: the plain-vs-highway depth study of *Training Very Deep Networks* s3.1,
//! Figure 1, on the real MNIST.
//!
//! ```text
//! cargo run -p experiments --bin mnist-depth -- --preset quick          # about a minute
//! cargo run -p experiments --bin mnist-depth -- --preset cpu-study      # docs/results.md's table
//! cargo run -p experiments --bin mnist-depth -- --depths 50 --runs 10 --epochs 5
//! ```

use clap::{Parser, ValueEnum};
use datasets::{MnistDataset, MnistKind};
use experiments::cli::RunArgs;
use experiments::data::MnistData;
use experiments::depth_study::{Act, Hyper, StudyConfig, run_study};
use models::LayerKind;

/// Where the study writes without `--out`.
const DEFAULT_OUT: &str = "artifacts/mnist-depth";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    /// Depths 10 and 50, one run each with fixed hyper-parameters (lr 0.1, momentum 0.9,
    /// decay 0.9, ReLU, b_T = −3), 2 epochs: highway vs plain in about a minute.
    Quick,
    /// Depths 10, 20, 50, 100; 8 random-search runs per cell; 6 epochs on the first 10,000
    /// training examples (a training-loss study: optimisation, not generalisation).
    CpuStudy,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Plain,
    Highway,
}

#[derive(Parser, Debug)]
#[command(
    about = "Plain vs highway MLPs on MNIST at several depths (Training Very Deep Networks, Fig. 1)"
)]
#[command(mut_arg("out", |a| a.help(
    "Artifact directory (re-running with the same directory resumes)"
).default_value(DEFAULT_OUT)))]
struct Args {
    /// A named configuration; explicit flags override its values.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Depths (hidden layers including the first plain layer).
    #[arg(long, value_delimiter = ',')]
    depths: Option<Vec<usize>>,
    /// Layer types to train.
    #[arg(long, value_delimiter = ',', value_enum)]
    kinds: Option<Vec<Kind>>,
    /// Runs per (type, depth).
    #[arg(long)]
    runs: Option<usize>,
    /// Epochs per run.
    #[arg(long)]
    epochs: Option<usize>,
    /// Mini-batch size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Use only the first N training examples.
    #[arg(long)]
    train_examples: Option<usize>,
    /// Fixed learning rate (with any of the fixed flags, every run uses fixed values instead
    /// of random search).
    #[arg(long)]
    lr: Option<f64>,
    /// Fixed momentum.
    #[arg(long)]
    momentum: Option<f64>,
    /// Fixed learning-rate decay per epoch.
    #[arg(long)]
    decay: Option<f64>,
    /// Fixed non-linearity.
    #[arg(long, value_enum)]
    activation: Option<Act>,
    /// Fixed initial transform-gate bias.
    #[arg(long, allow_hyphen_values = true)]
    transform_bias: Option<f64>,
    /// Seed of the search, the weights and the data order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    run: RunArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let quick_hyper = Hyper {
        lr: 0.1,
        momentum: 0.9,
        decay: 0.9,
        activation: Act::Relu,
        transform_bias: -3.0,
    };
    let mut config = match args.preset {
        Some(Preset::Quick) => StudyConfig {
            depths: vec![10, 50],
            kinds: vec![LayerKind::Plain, LayerKind::Highway],
            runs: 1,
            epochs: 2,
            batch_size: 128,
            train_examples: 60_000,
            seed: args.seed,
            fixed: Some(quick_hyper),
        },
        Some(Preset::CpuStudy) | None => StudyConfig {
            depths: vec![10, 20, 50, 100],
            kinds: vec![LayerKind::Plain, LayerKind::Highway],
            runs: 8,
            epochs: 6,
            batch_size: 128,
            train_examples: 10_000,
            seed: args.seed,
            fixed: None,
        },
    };
    if let Some(d) = args.depths {
        config.depths = d;
    }
    if let Some(k) = args.kinds {
        config.kinds = k
            .into_iter()
            .map(|k| match k {
                Kind::Plain => LayerKind::Plain,
                Kind::Highway => LayerKind::Highway,
            })
            .collect();
    }
    config.runs = args.runs.unwrap_or(config.runs);
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    config.train_examples = args.train_examples.unwrap_or(config.train_examples);
    let any_fixed = args.lr.is_some()
        || args.momentum.is_some()
        || args.decay.is_some()
        || args.activation.is_some()
        || args.transform_bias.is_some();
    if any_fixed {
        let base = config.fixed.unwrap_or(quick_hyper);
        config.fixed = Some(Hyper {
            lr: args.lr.unwrap_or(base.lr),
            momentum: args.momentum.unwrap_or(base.momentum),
            decay: args.decay.unwrap_or(base.decay),
            activation: args.activation.unwrap_or(base.activation),
            transform_bias: args.transform_bias.unwrap_or(base.transform_bias),
        });
    }
    config.validate()?;

    let device = args.run.device.devices()?.autodiff();
    let kind = MnistKind::Mnist;
    let dir = args.run.data.dir();
    let train = MnistData::new(MnistDataset::train(kind, dir)?);
    let test = MnistData::new(MnistDataset::test(kind, dir)?);
    println!(
        "MNIST depth study: depths {:?}, {} run(s) per cell, {} epoch(s), {} training examples, batch {}, device {}",
        config.depths,
        config.runs,
        config.epochs,
        config.train_examples,
        config.batch_size,
        device.names()
    );
    let out = args.run.out.dir_or_else(|| DEFAULT_OUT.into());
    let result = run_study(&config, &train, &test, &out, &device, args.run.quiet.quiet)?;
    println!("\n{}", result.table());
    for &depth in config.depths.iter().filter(|d| **d >= 50) {
        if let (Some(p), Some(h)) = (
            result.best_loss(LayerKind::Plain, depth),
            result.best_loss(LayerKind::Highway, depth),
        ) {
            let ratio = p / h;
            println!(
                "depth {depth}: best plain / best highway training loss = {ratio:.1}x ({})",
                if ratio >= 10.0 {
                    "highway at least 10x lower, as the paper finds"
                } else {
                    "less than 10x"
                }
            );
        }
    }
    println!("artifacts: {}", out.display());
    Ok(())
}
