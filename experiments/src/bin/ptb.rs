//! `ptb`: word-level language modelling on the real Penn Treebank with an RHN (*Recurrent
//! Highway Networks*, Zilly et al. 2017), the LSTM baseline of equal parameter count, or the
//! character-aware model of Kim et al. 2016 (a character CNN and highway layers under a
//! two-layer LSTM).
//!
//! ```text
//! cargo run -p experiments --bin ptb -- --preset small --epochs 1 --max-windows 200
//! cargo run -p experiments --bin ptb -- --preset sota            # the paper's 23M model (GPU)
//! cargo run -p experiments --bin ptb -- --preset small --model lstm
//! cargo run -p experiments --bin ptb -- --model kim --preset small    # Kim et al.'s 5M model
//! ```

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, ValueEnum};
use datasets::{PtbCorpus, PtbSplit};
use experiments::cli::RunArgs;
use experiments::lm::{LmArgs, LmCorpus, LmData, LmDefaults, LmJob};
use experiments::provenance::create_run;
use models::analysis::ptb_spelling;
use models::train::FitOptions;
use models::{CharCnnLmConfig, LstmLmConfig, RhnLmConfig};

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
enum Preset {
    /// RHN and LSTM: `RhnLmConfig::ptb_small()`, depth 4, 256 units, tied (a 2-core CPU);
    /// kim: `CharCnnLmConfig::kim_small`, ~5M parameters.
    Small,
    /// RHN and LSTM: `RhnLmConfig::ptb_sota()`, depth 10, 830 units, tied, 23M parameters.
    Sota,
    /// kim: `CharCnnLmConfig::kim_large`, ~19M parameters.
    Large,
}

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
enum Model {
    Rhn,
    /// An LSTM with the parameter count of the chosen RHN preset.
    Lstm,
    /// The character-aware LM of Kim et al. (--preset small or large; its paper's SGD lr 1.0,
    /// clip 5 and plateau halving unless the flags say otherwise).
    Kim,
}

#[derive(Parser, Debug)]
#[command(
    about = "RHN / LSTM / character-aware language models on Penn Treebank (Recurrent Highway \
             Networks; Character-Aware Neural Language Models)"
)]
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
    run(std::env::args_os())
}

/// The program on the command line `args` (its name first).
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    let args = Args::parse_from(args);
    let rhn_config = match (args.model, args.preset) {
        (Model::Kim, Preset::Sota) => {
            bail!("--preset sota is an RHN preset: --model kim takes --preset small or large")
        }
        (Model::Rhn | Model::Lstm, Preset::Large) => bail!(
            "--preset large is a preset of --model kim: the RHN and the LSTM take --preset small \
             or sota"
        ),
        (_, Preset::Sota) => RhnLmConfig::ptb_sota(),
        _ => RhnLmConfig::ptb_small(),
    };
    rhn_config.validate().map_err(anyhow::Error::msg)?;
    let corpus = PtbCorpus::load(args.run.data.dir())?;
    let defaults = match args.model {
        Model::Kim => LmDefaults::kim_ptb(),
        _ => LmDefaults::rhn_ptb(),
    };
    let config = args.train.train_config(&defaults);
    let train_data = corpus.bptt(PtbSplit::Train, config.batch_size, config.seq_len)?;
    let valid = corpus.bptt(PtbSplit::Valid, args.train.eval_batch, config.seq_len)?;
    let test = corpus.bptt(PtbSplit::Test, args.train.eval_batch, config.seq_len)?;
    let name = format!("{:?}-{:?}", args.model, args.preset).to_lowercase();
    let out = args
        .run
        .out
        .dir_or_else(|| PathBuf::from(format!("artifacts/ptb-{name}")));
    let run = create_run(&out)?;
    let device = args.run.device.devices()?.autodiff();
    device.seed(config.seed);
    let run_label = format!("ptb {name}");
    let job = LmJob {
        data_spec: LmData::new(LmCorpus::Ptb, None),
        data: (&train_data, &valid, &test),
        config: &config,
        args: &args.train,
        options: FitOptions::resuming(&run, &run_label, args.run.quiet.quiet, &device),
    };
    let outcome = match args.model {
        Model::Rhn => job.train(rhn_config.init(&device), &rhn_config)?,
        Model::Lstm => {
            // Same size and the same embedding, input and output dropout as the RHN.
            let lstm = LstmLmConfig::matching_params(rhn_config.num_params(), 10_000, true)
                .with_dropout(rhn_config.dropout.clone());
            job.train(lstm.init(&device), &lstm)?
        }
        Model::Kim => {
            let spelling = ptb_spelling(&corpus.vocab)?;
            let kim = match args.preset {
                Preset::Large => CharCnnLmConfig::kim_large(&spelling),
                _ => CharCnnLmConfig::kim_small(&spelling),
            };
            let model = kim.init(&spelling, &device).map_err(anyhow::Error::msg)?;
            job.train(model, &kim)?
        }
    };
    let last = outcome.history.last().expect("an epoch");
    let own = serde_json::json!({
        "model": name,
        "valid_ppl": last.valid_ppl,
        "test_ppl": outcome.test_loss.exp(),
        "mc_dropout_test_ppl": outcome.mc_test_loss.map(f64::exp),
        "train_windows": outcome.history.iter().map(|e| e.windows).sum::<usize>(),
    });
    job.summarize(&outcome, own)
}
