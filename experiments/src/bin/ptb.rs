//! `ptb`: word-level language modelling on the real Penn Treebank with an RHN (*Recurrent
//! Highway Networks*, Zilly et al. 2017) or the LSTM baseline of equal parameter count.
//!
//! ```text
//! cargo run -p experiments --bin ptb -- --preset small --epochs 1 --max-windows 200
//! cargo run -p experiments --bin ptb -- --preset sota            # the paper's 23M model (GPU)
//! cargo run -p experiments --bin ptb -- --preset small --model lstm
//! ```

use std::path::PathBuf;

use burn::module::Module;
use clap::{Parser, ValueEnum};
use datasets::{PtbCorpus, PtbSplit};
use experiments::backend::DeviceArgs;
use experiments::lm::{LmTrainConfig, evaluate_lm, fit_lm};
use experiments::train::{LrSchedule, OptimizerConfig, Progress, RunDir, git_commit};
use models::{LstmLmConfig, RhnLmConfig};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    /// `RhnLmConfig::ptb_small()`: depth 4, 256 units, tied (a 2-core CPU).
    Small,
    /// `RhnLmConfig::ptb_sota()`: depth 10, 830 units, tied, 23M parameters.
    Sota,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Model {
    Rhn,
    /// An LSTM with the parameter count of the chosen RHN preset.
    Lstm,
}

#[derive(Parser, Debug)]
#[command(about = "RHN / LSTM language models on Penn Treebank (Recurrent Highway Networks)")]
struct Args {
    #[arg(long, value_enum, default_value = "small")]
    preset: Preset,
    #[arg(long, value_enum, default_value = "rhn")]
    model: Model,
    /// Epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Batch size (20 in the paper).
    #[arg(long, default_value_t = 20)]
    batch_size: usize,
    /// BPTT length (35 in the paper).
    #[arg(long, default_value_t = 35)]
    seq_len: usize,
    /// Learning rate on the loss summed over the window (0.2 in the paper).
    #[arg(long, default_value_t = 0.2)]
    lr: f64,
    /// lr = lr0 / decay^max(epoch − decay_start, 0).
    #[arg(long, default_value_t = 1.02)]
    decay: f64,
    /// First epoch (0-based) of the decay (19 in the paper).
    #[arg(long, default_value_t = 19)]
    decay_start: usize,
    /// Global gradient-norm clip.
    #[arg(long, default_value_t = 10.0)]
    clip_norm: f64,
    /// L2 weight decay (1e-7 in the paper).
    #[arg(long, default_value_t = 1e-7)]
    weight_decay: f64,
    /// Windows per epoch (0 = all 1,327 at batch 20 × 35).
    #[arg(long, default_value_t = 0)]
    max_windows: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Artifact directory (re-running resumes).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let corpus = PtbCorpus::load(args.data_dir.as_deref())?;
    let rhn_config = match args.preset {
        Preset::Small => RhnLmConfig::ptb_small(),
        Preset::Sota => RhnLmConfig::ptb_sota(),
    };
    rhn_config.validate().map_err(anyhow::Error::msg)?;
    let train = corpus.bptt(PtbSplit::Train, args.batch_size, args.seq_len)?;
    let valid = corpus.bptt(PtbSplit::Valid, 10, args.seq_len)?;
    let test = corpus.bptt(PtbSplit::Test, 10, args.seq_len)?;
    let config = LmTrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        seq_len: args.seq_len,
        lr: args.lr,
        schedule: LrSchedule::InverseDecay {
            decay: args.decay,
            start: args.decay_start,
        },
        optimizer: OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: args.weight_decay,
        },
        clip_norm: args.clip_norm,
        max_windows: args.max_windows,
        seed: args.seed,
    };
    let name = format!("{:?}-{:?}", args.model, args.preset).to_lowercase();
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("artifacts/ptb-{name}")));
    let run = RunDir::create(&out)?;
    let device = args.device.device()?.autodiff();
    device.seed(args.seed);
    let mut progress = Progress::new(format!("ptb {name}"), args.quiet);
    let start = std::time::Instant::now();
    let (params, history, test_loss) = match args.model {
        Model::Rhn => {
            run.write_json(
                "config.json",
                &serde_json::json!({"model": rhn_config, "train": config}),
            )?;
            let model = rhn_config.init(&device);
            let params = model.num_params();
            progress.message(&format!("{params} parameters"));
            let (model, history) = fit_lm(
                model,
                &train,
                &valid,
                &config,
                &run,
                true,
                &mut progress,
                &device,
            )?;
            let test = evaluate_lm(&model.valid(), &test, &device.clone().without_autodiff());
            (params, history, test)
        }
        Model::Lstm => {
            let lstm = LstmLmConfig::matching_params(rhn_config.num_params(), 10_000, true);
            run.write_json(
                "config.json",
                &serde_json::json!({"model": lstm, "train": config}),
            )?;
            let model = lstm.init(&device);
            let params = model.num_params();
            progress.message(&format!("{params} parameters"));
            let (model, history) = fit_lm(
                model,
                &train,
                &valid,
                &config,
                &run,
                true,
                &mut progress,
                &device,
            )?;
            let test = evaluate_lm(&model.valid(), &test, &device.clone().without_autodiff());
            (params, history, test)
        }
    };
    let last = history.last().expect("an epoch");
    let summary = serde_json::json!({
        "model": name,
        "parameters": params,
        "epochs": history.len(),
        "valid_ppl": last.valid_ppl,
        "test_ppl": test_loss.exp(),
        "tokens_per_s": last.tokens_per_s,
        "wall_time_s": start.elapsed().as_secs_f64(),
        "evaluation_batch": 10,
        "backend": format!("{device:?}"),
        "git_commit": git_commit(),
    });
    run.write_json("summary.json", &summary)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
