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

use burn::module::Module;
use clap::{Parser, ValueEnum};
use datasets::{CharCorpus, CharFilter, CharSplit};
use experiments::backend::DeviceArgs;
use experiments::lm::{LmTrainConfig, evaluate_lm, fit_lm};
use experiments::train::{LrSchedule, OptimizerConfig, Progress, RunDir, git_commit};
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
struct Args {
    #[arg(long, value_enum, default_value = "wiki")]
    corpus: Corpus,
    /// Text file for `--corpus file`.
    #[arg(long)]
    file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "small")]
    preset: Preset,
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Batch (128 in the paper).
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// BPTT length (50 in the paper).
    #[arg(long, default_value_t = 50)]
    seq_len: usize,
    /// Learning rate on the loss summed over the window (0.2 in the paper).
    #[arg(long, default_value_t = 0.2)]
    lr: f64,
    /// lr = lr0 / decay^max(epoch − decay_start, 0) (1.03 after 5 in the paper).
    #[arg(long, default_value_t = 1.03)]
    decay: f64,
    #[arg(long, default_value_t = 5)]
    decay_start: usize,
    #[arg(long, default_value_t = 10.0)]
    clip_norm: f64,
    #[arg(long, default_value_t = 1e-7)]
    weight_decay: f64,
    /// Windows per epoch (0 = all).
    #[arg(long, default_value_t = 0)]
    max_windows: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
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
    let dir = args.data_dir.as_deref();
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
    let vocab = corpus.vocab.len();
    let model_config = match (args.preset, args.corpus) {
        (Preset::Small, _) => RhnLmConfig::char_small(),
        (Preset::Sota, Corpus::Text8 | Corpus::WikiText8) => RhnLmConfig::text8_sota(),
        (Preset::Sota, _) => RhnLmConfig::enwik8_sota(),
    }
    .with_vocab_size(vocab);
    model_config.validate().map_err(anyhow::Error::msg)?;
    let train = corpus.bptt(CharSplit::Train, args.batch_size, args.seq_len)?;
    let valid = corpus.bptt(CharSplit::Valid, 16, args.seq_len)?;
    let test = corpus.bptt(CharSplit::Test, 16, args.seq_len)?;
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
    let label = format!("{name}-{:?}", args.preset).to_lowercase();
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("artifacts/charlm-{label}")));
    let run = RunDir::create(&out)?;
    run.write_json(
        "config.json",
        &serde_json::json!({"corpus": name, "vocab": vocab, "model": model_config, "train": config}),
    )?;
    let device = args.device.device()?.autodiff();
    device.seed(args.seed);
    let model = model_config.init(&device);
    let params = model.num_params();
    let mut progress = Progress::new(format!("charlm {label}"), args.quiet);
    progress.message(&format!("{params} parameters, {vocab} symbols"));
    let start = std::time::Instant::now();
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
    let test_loss = evaluate_lm(&model.valid(), &test, &device.clone().without_autodiff());
    let bpc = |nats: f64| nats / std::f64::consts::LN_2;
    let last = history.last().expect("an epoch");
    let summary = serde_json::json!({
        "corpus": name,
        "parameters": params,
        "epochs": history.len(),
        "valid_bpc": bpc(last.valid_ppl.ln()),
        "test_bpc": bpc(test_loss),
        "tokens_per_s": last.tokens_per_s,
        "wall_time_s": start.elapsed().as_secs_f64(),
        "backend": format!("{device:?}"),
        "git_commit": git_commit(),
    });
    run.write_json("summary.json", &summary)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
