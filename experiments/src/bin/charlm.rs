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

use clap::{Parser, ValueEnum};
use datasets::{CharCorpus, CharFilter, CharSplit};
use experiments::cli::RunArgs;
use experiments::lm::{LmArgs, LmCorpus, LmData, LmDefaults, train_and_test};
use experiments::provenance::{create_run, git_commit};
use models::RhnLmConfig;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Corpus {
    /// The gensim Wikipedia XML excerpt, raw bytes (enwik8-like).
    Wiki,
    /// The same excerpt filtered to a-z and space (text8-like).
    WikiText8,
    /// enwik8 (100M bytes).
    Enwik8,
    /// text8 (100M characters).
    Text8,
    /// `--file PATH`, raw bytes.
    File,
}

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
    corpus: Corpus,
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
    let dir = args.run.data.dir();
    let (corpus, name) = match args.corpus {
        Corpus::Wiki => (CharCorpus::wiki(dir, CharFilter::Raw)?, "wiki"),
        Corpus::WikiText8 => (CharCorpus::wiki(dir, CharFilter::Text8)?, "wiki-text8"),
        Corpus::Enwik8 => (CharCorpus::enwik8(dir)?, "enwik8"),
        Corpus::Text8 => (CharCorpus::text8(dir)?, "text8"),
        Corpus::File => {
            let path = args
                .file
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("--corpus file needs --file PATH"))?;
            (CharCorpus::from_file(path, CharFilter::Raw)?, "file")
        }
    };
    let data_spec = LmData::new(
        match args.corpus {
            Corpus::Wiki => LmCorpus::Wiki,
            Corpus::WikiText8 => LmCorpus::WikiText8,
            Corpus::Enwik8 => LmCorpus::Enwik8,
            Corpus::Text8 => LmCorpus::Text8,
            Corpus::File => LmCorpus::File,
        },
        args.file
            .as_deref()
            .filter(|_| matches!(args.corpus, Corpus::File)),
    );
    let vocab = corpus.vocab.len();
    let model_config = match (args.preset, args.corpus) {
        (Preset::Small, _) => RhnLmConfig::char_small(),
        (Preset::Sota, Corpus::Text8 | Corpus::WikiText8) => RhnLmConfig::text8_sota(),
        (Preset::Sota, _) => RhnLmConfig::enwik8_sota(),
    }
    .with_vocab_size(vocab);
    model_config.validate().map_err(anyhow::Error::msg)?;
    let config = args.train.train_config(&LmDefaults::rhn_char());
    let train = corpus.bptt(CharSplit::Train, config.batch_size, config.seq_len)?;
    let eval_batch = args.train.eval_batch;
    let valid = corpus.bptt(CharSplit::Valid, eval_batch, config.seq_len)?;
    let test = corpus.bptt(CharSplit::Test, eval_batch, config.seq_len)?;
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
    let outcome = train_and_test(
        model,
        &model_config,
        &data_spec,
        (&train, &valid, &test),
        &config,
        args.train.mc_samples,
        &run,
        (run_label.as_str(), args.run.quiet.quiet),
        &device,
    )?;
    let bpc = |nats: f64| nats / std::f64::consts::LN_2;
    let last = outcome.history.last().expect("an epoch");
    let summary = serde_json::json!({
        "corpus": name,
        "vocab": vocab,
        "evaluation_batch": eval_batch,
        "parameters": outcome.parameters,
        "epochs": outcome.history.len(),
        "valid_bpc": bpc(last.valid_ppl.ln()),
        "test_bpc": bpc(outcome.test_loss),
        "mc_dropout_test_bpc": outcome.mc_test_loss.map(bpc),
        "mc_samples": args.train.mc_samples,
        "tokens_per_s": last.tokens_per_s,
        "peak_memory_mib": experiments::bench::peak_memory_mib(),
        "wall_time_s": outcome.wall_time_s,
        "backend": device.names(),
        "git_commit": git_commit(),
    });
    run.write_json("summary.json", &summary)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
