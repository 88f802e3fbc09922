//! `ptb`: word-level language modelling on the real Penn Treebank with an RHN (*Recurrent
//! Highway Networks*, Zilly et al. 2017) or the LSTM baseline of equal parameter count.
//!
//! ```text
//! cargo run -p experiments --bin ptb -- --preset small --epochs 1 --max-windows 200
//! cargo run -p experiments --bin ptb -- --preset sota            # the paper's 23M model (GPU)
//! cargo run -p experiments --bin ptb -- --preset small --model lstm
//! ```

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use datasets::{PtbCorpus, PtbSplit};
use experiments::cli::RunArgs;
use experiments::lm::{LmArgs, train_and_test};
use experiments::train::{RunDir, git_commit};
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
#[command(mut_arg("out", |a| a.help(
    "Artifact directory (default `artifacts/ptb-MODEL-PRESET`); re-running resumes"
)))]
struct Args {
    #[arg(long, value_enum, default_value = "small")]
    preset: Preset,
    #[arg(long, value_enum, default_value = "rhn")]
    model: Model,
    #[command(flatten)]
    train: LmArgs,
    #[command(flatten)]
    run: RunArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let corpus = PtbCorpus::load(args.run.data.dir())?;
    let rhn_config = match args.preset {
        Preset::Small => RhnLmConfig::ptb_small(),
        Preset::Sota => RhnLmConfig::ptb_sota(),
    };
    rhn_config.validate().map_err(anyhow::Error::msg)?;
    // The paper: batch 20, BPTT 35, lr decay 1.02 from epoch 19.
    let config = args.train.train_config((20, 35, 1.02, 19));
    let train = corpus.bptt(PtbSplit::Train, config.batch_size, config.seq_len)?;
    let eval_batch = args.train.eval_batch;
    let valid = corpus.bptt(PtbSplit::Valid, eval_batch, config.seq_len)?;
    let test = corpus.bptt(PtbSplit::Test, eval_batch, config.seq_len)?;
    let name = format!("{:?}-{:?}", args.model, args.preset).to_lowercase();
    let out = args
        .run
        .out
        .dir_or_else(|| PathBuf::from(format!("artifacts/ptb-{name}")));
    let run = RunDir::create(&out)?;
    let device = args.run.device.devices()?.autodiff();
    device.seed(config.seed);
    let run_label = format!("ptb {name}");
    let data = (&train, &valid, &test);
    let outcome = match args.model {
        Model::Rhn => {
            let model = rhn_config.init(&device);
            train_and_test(
                model,
                &rhn_config,
                data,
                &config,
                args.train.mc_samples,
                &run,
                (run_label.as_str(), args.run.quiet.quiet),
                &device,
            )?
        }
        Model::Lstm => {
            // Same size and the same embedding, input and output dropout as the RHN.
            let lstm = LstmLmConfig::matching_params(rhn_config.num_params(), 10_000, true)
                .with_dropout(rhn_config.dropout.clone());
            let model = lstm.init(&device);
            let mc = args.train.mc_samples;
            train_and_test(
                model,
                &lstm,
                data,
                &config,
                mc,
                &run,
                (run_label.as_str(), args.run.quiet.quiet),
                &device,
            )?
        }
    };
    let last = outcome.history.last().expect("an epoch");
    let summary = serde_json::json!({
        "model": name,
        "parameters": outcome.parameters,
        "epochs": outcome.history.len(),
        "valid_ppl": last.valid_ppl,
        "test_ppl": outcome.test_loss.exp(),
        "mc_dropout_test_ppl": outcome.mc_test_loss.map(f64::exp),
        "mc_samples": args.train.mc_samples,
        "train_windows": outcome.history.iter().map(|e| e.windows).sum::<usize>(),
        "tokens_per_s": last.tokens_per_s,
        "peak_memory_mib": experiments::bench::peak_memory_mib(),
        "wall_time_s": outcome.wall_time_s,
        "evaluation_batch": eval_batch,
        "backend": device.names(),
        "git_commit": git_commit(),
    });
    run.write_json("summary.json", &summary)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
