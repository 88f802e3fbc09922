//! `mnist-depth`: the plain-vs-highway depth study of *Training Very Deep Networks* s3.1,
//! Figure 1, on the real MNIST.
//!
//! ```text
//! cargo run -p experiments --bin mnist-depth -- --preset quick          # about a minute
//! cargo run -p experiments --bin mnist-depth -- --preset cpu-study      # 64 runs
//! cargo run --release -p experiments --bin mnist-depth -- --preset paper-breadth   # 800 runs
//! cargo run -p experiments --bin mnist-depth -- --depths 50 --runs 10 --epochs 5
//! # one slice of the runs per machine, then the tables from all of them:
//! cargo run --release -p experiments --bin mnist-depth -- --preset paper-breadth --shard 3/8
//! cargo run --release -p experiments --bin mnist-depth -- --preset paper-breadth --collect
//! ```
//!
//! Every run trains in a worker process of its own with one thread, `--jobs` at a time.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, ValueEnum};
use experiments::cli::RunArgs;
use experiments::depth_study::schedule::{Invocation, run_jobs};
use experiments::depth_study::stats::TOP;
use experiments::depth_study::{
    Act, Hyper, RunSummary, Shard, StudyConfig, StudyData, StudyResult, collect, open_study, plan,
    run_one, write_outputs,
};
use experiments::provenance::Provenance;
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
    /// The paper's breadth: depths 10, 20, 50, 100; 100 random-search runs per cell (800 in
    /// all); 6 epochs on the first 5,000 training examples, tested on the first 2,000 test
    /// images (about 3.5 single-thread seconds per run on average on a 2-core AMD EPYC: half
    /// an hour with two jobs).
    PaperBreadth,
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
    #[arg(long, value_delimiter = ',', value_parser = layer_kind())]
    kinds: Option<Vec<LayerKind>>,
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
    /// Test each run on the first N test examples.
    #[arg(long)]
    test_examples: Option<usize>,
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
    /// Runs trained at once, each in its own one-thread process (default: one per core on a
    /// CPU device, 1 on a GPU). The results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Train only the K-th of N slices of the run list (run i is in slice i mod N + 1), e.g.
    /// one slice per machine or per array task; then build the tables with `--collect`.
    #[arg(long, default_value = "1/1")]
    shard: Shard,
    /// Train nothing: build the tables and figures from the run directories under `--out`
    /// (every shard's), naming any run that is missing or unfinished.
    #[arg(long, conflicts_with = "shard")]
    collect: bool,
    /// Internal: train only run I of the run list in this process (how `--jobs` runs one).
    #[arg(long, hide = true, value_name = "I")]
    worker_run: Option<usize>,
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
    let cpu_study = StudyConfig {
        depths: vec![10, 20, 50, 100],
        kinds: vec![LayerKind::Plain, LayerKind::Highway],
        runs: 8,
        epochs: 6,
        batch_size: 128,
        train_examples: 10_000,
        test_examples: 10_000,
        seed: args.seed,
        fixed: None,
    };
    let mut config = match args.preset {
        Some(Preset::Quick) => StudyConfig {
            depths: vec![10, 50],
            runs: 1,
            epochs: 2,
            train_examples: 60_000,
            fixed: Some(quick_hyper),
            ..cpu_study
        },
        Some(Preset::CpuStudy) | None => cpu_study,
        Some(Preset::PaperBreadth) => StudyConfig {
            runs: 100,
            train_examples: 5_000,
            test_examples: 2_000,
            ..cpu_study
        },
    };
    config.depths = args.depths.clone().unwrap_or(config.depths);
    config.kinds = args.kinds.clone().unwrap_or(config.kinds);
    config.runs = args.runs.unwrap_or(config.runs);
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    config.train_examples = args.train_examples.unwrap_or(config.train_examples);
    config.test_examples = args.test_examples.unwrap_or(config.test_examples);
    let fixed_values = [args.lr, args.momentum, args.decay, args.transform_bias];
    if fixed_values.iter().any(Option::is_some) || args.activation.is_some() {
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
    let out = args.run.out.dir_or_else(|| DEFAULT_OUT.into());

    if let Some(i) = args.worker_run {
        return worker(&config, i, &args, &out);
    }
    if !args.collect && !train_shard(&config, &args, &out)? {
        return Ok(());
    }
    let result = write_outputs(&config, &out, args.run.quiet.quiet)?;
    print_result(&result);
    println!("artifacts: {}", out.display());
    Ok(())
}

/// Trains the runs of `--shard` that have not finished, `--jobs` at a time in worker
/// processes; whether every run of the study has finished (else it says which have not).
fn train_shard(config: &StudyConfig, args: &Args, out: &Path) -> anyhow::Result<bool> {
    let quiet = args.run.quiet.quiet;
    // Flags and data are checked here, once, before any worker starts.
    let device = args.run.device.devices()?;
    StudyData::load(config, args.run.data.dir())?;
    let jobs = match args.jobs {
        Some(0) => anyhow::bail!("--jobs must be at least 1"),
        Some(n) => n,
        None if matches!(device.names().as_str(), "flex" | "ndarray") => {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
        None => 1,
    };
    open_study(config, out)?;
    let plan = plan(config);
    let todo = args.shard.select(&plan);
    println!(
        "MNIST depth study: depths {:?}, {} run(s) per cell, {} epoch(s), {} training and {} test examples, batch {}, device {}; {} of {} runs (shard {}), {jobs} at a time",
        config.depths,
        config.runs,
        config.epochs,
        config.train_examples,
        config.test_examples,
        config.batch_size,
        device.names(),
        todo.len(),
        plan.len(),
        args.shard,
    );
    let exe = std::env::current_exe()?;
    let worker = |i: usize| {
        let mut command = Command::new(&exe);
        command
            .args(std::env::args_os().skip(1))
            .arg("--worker-run")
            .arg(i.to_string());
        command
    };
    let done = AtomicUsize::new(0);
    let finished = |i: usize, s: &RunSummary| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        if !quiet {
            let loss = s
                .final_train_loss
                .map_or("diverged".into(), |l| format!("final train loss {l:.3e}"));
            println!("[{n}] {}: {loss}, {:.1} s", plan[i], s.wall_time_s);
        }
    };
    let start = std::time::Instant::now();
    run_jobs(&plan, &todo, out, jobs, &worker, &finished)?;
    let trained = done.load(Ordering::SeqCst);
    if trained > 0 {
        Invocation {
            provenance: Provenance::current(),
            shard: args.shard.to_string(),
            jobs,
            runs_trained: trained,
            wall_time_s: start.elapsed().as_secs_f64(),
        }
        .write(out)?;
    }
    let collected = collect(config, out)?;
    if !collected.missing.is_empty() {
        println!(
            "shard {}: its {} runs are done. {}. When every shard has finished, build the tables \
             and figures with the same flags and --collect.",
            args.shard,
            todo.len(),
            collected.describe_missing(out)
        );
    }
    Ok(collected.missing.is_empty())
}

/// `--worker-run I`: trains run `I` of the plan in this process.
fn worker(config: &StudyConfig, i: usize, args: &Args, out: &Path) -> anyhow::Result<()> {
    let plan = plan(config);
    let Some(&key) = plan.get(i) else {
        anyhow::bail!("--worker-run {i}: the study has {} runs", plan.len());
    };
    let device = args.run.device.devices()?.autodiff();
    let data = StudyData::load(config, args.run.data.dir())?;
    run_one(config, key, &data, out, &device, args.run.quiet.quiet)?;
    Ok(())
}

/// `--kinds`' values: `plain`, `highway`.
fn layer_kind() -> impl TypedValueParser<Value = LayerKind> {
    PossibleValuesParser::new(["plain", "highway"]).map(|name| match name.as_str() {
        "plain" => LayerKind::Plain,
        _ => LayerKind::Highway,
    })
}

/// Prints the tables and, for depths of 50 and more, how the paper's claim fares.
fn print_result(result: &StudyResult) {
    println!("\n{}\n{}", result.table(), result.cell_table());
    for (depth, best, top) in result.ratios().into_iter().filter(|r| r.0 >= 50) {
        let x = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.1}x"));
        println!(
            "depth {depth}: plain / highway training loss: best {}, mean of the best {} {} ({})",
            x(best),
            TOP,
            x(top),
            if best.is_some_and(|r| r >= 10.0) {
                "the best highway net at least 10x lower, as the paper finds"
            } else {
                "the best highway net less than 10x lower"
            }
        );
    }
}
