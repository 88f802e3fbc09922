//! `charlm`: character-level language modelling with an RHN (*Recurrent Highway Networks*,
//! enwik8 / text8: 1.27 bits per character) on enwik8, text8, the Wikipedia excerpt shipped in
//! PyPI's gensim (`bash scripts/fetch-data.sh wiki`; the real corpus on machines without
//! enwik8), or any text file; split 90% / 5% / 5%.
//!
//! ```text
//! cargo run -p experiments --bin charlm -- --corpus wiki --epochs 1 --max-windows 200
//! cargo run -p experiments --bin charlm -- --corpus enwik8 --preset sota     # a GPU job
//! ```

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, ValueEnum};
use datasets::CharSplit;
use experiments::cli::RunArgs;
use experiments::lm::{LmArgs, LmCorpus, LmData, LmDefaults, LmJob};
use experiments::provenance::create_run;
use models::RhnLmConfig;
use models::train::FitOptions;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    /// `RhnLmConfig::char_small()`: depth 4, 256 units.
    Small,
    /// `enwik8_sota()` / `text8_sota()`: depth 10, 1500 units, b_T = −4.
    Sota,
}

#[derive(Parser, Debug)]
#[command(about = "Character-level RHN language model (bits per character)")]
#[command(mut_arg("out", |a| a.help(
    "Artifact directory (default `artifacts/charlm-CORPUS-PRESET`); re-running resumes"
)))]
struct Args {
    #[arg(long, value_enum, default_value = "wiki")]
    corpus: LmCorpus,
    /// Text file for `--corpus file`.
    #[arg(long)]
    file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "small")]
    preset: Preset,
    #[command(flatten)]
    train: LmArgs,
    #[command(flatten)]
    run: RunArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let is_file = args.corpus == LmCorpus::File;
    let file = args.file.as_deref().filter(|_| is_file);
    if is_file && file.is_none() {
        bail!("--corpus file needs --file PATH");
    }
    let corpus = args.corpus.load_chars(file, args.run.data.dir())?;
    let name = args.corpus.name();
    let vocab = corpus.vocab.len();
    let model_config = match (args.preset, args.corpus) {
        (Preset::Small, _) => RhnLmConfig::char_small(),
        (Preset::Sota, LmCorpus::Text8 | LmCorpus::WikiText8) => RhnLmConfig::text8_sota(),
        (Preset::Sota, _) => RhnLmConfig::enwik8_sota(),
    }
    .with_vocab_size(vocab);
    model_config.validate().map_err(anyhow::Error::msg)?;
    let config = args.train.train_config(&LmDefaults::rhn_char());
    let train = corpus.bptt(CharSplit::Train, config.batch_size, config.seq_len)?;
    let valid = corpus.bptt(CharSplit::Valid, args.train.eval_batch, config.seq_len)?;
    let test = corpus.bptt(CharSplit::Test, args.train.eval_batch, config.seq_len)?;
    let label = format!("{name}-{:?}", args.preset).to_lowercase();
    let out = args
        .run
        .out
        .dir_or_else(|| PathBuf::from(format!("artifacts/charlm-{label}")));
    let run = create_run(&out)?;
    let device = args.run.device.devices()?.autodiff();
    device.seed(config.seed);
    let model = model_config.init(&device);
    let run_label = format!("charlm {label} ({vocab} symbols)");
    let job = LmJob {
        data_spec: LmData::new(args.corpus, file),
        data: (&train, &valid, &test),
        config: &config,
        args: &args.train,
        options: FitOptions::resuming(&run, &run_label, args.run.quiet.quiet, &device),
    };
    let outcome = job.train(model, &model_config)?;
    let bpc = |nats: f64| nats / std::f64::consts::LN_2;
    let last = outcome.history.last().expect("an epoch");
    let own = serde_json::json!({
        "corpus": name,
        "vocab": vocab,
        "valid_bpc": bpc(last.valid_ppl.ln()),
        "test_bpc": bpc(outcome.test_loss),
        "mc_dropout_test_bpc": outcome.mc_test_loss.map(bpc),
    });
    job.summarize(&outcome, own)
}
