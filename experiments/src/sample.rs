//! The `sample` command: text generation from a trained language-model run (`ptb`, `charlm`).
//! [`SampleArgs`] is its command line and [`run_sample`] runs it; the `sample` binary only
//! parses the arguments. The generation itself is [`models::generate()`]; prompts,
//! vocabularies and printing are [`models::generate::text`].
//!
//! ```text
//! cargo run --release -p experiments --bin sample -- --run artifacts/ptb-rhn-small \
//!     --prompt "the company" --tokens 40 --temperature 0.8 --top-k 40
//! ```
//!
//! - **The model** is rebuilt from the `"model"` entry of the run's `config.json` ([`ModelKind`])
//!   with its newest checkpoint, on the device `--device` names, without autodiff or dropout
//!   ([`load_lm`]).
//! - **The vocabulary** is that of the run's corpus ([`data_spec`]: the `"data"` entry of
//!   `config.json`, or for an older run its `provenance.json`), loaded again (`--data-dir`);
//!   it must have as many tokens as the model's softmax.
//! - **The prompt**: whitespace-separated words of the vocabulary (word models) or UTF-8 bytes
//!   of the corpus's symbols (character models); an empty prompt or an unknown word or
//!   character is an error naming it. The default is [`default_prompt`].
//! - **The output**: the prompt, then each token as it is drawn (words separated by spaces,
//!   `<eos>` as a line break; characters as their bytes); `--json PATH` also writes a
//!   [`SampleRecord`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use clap::Parser;
use models::SamplingConfig;
use models::train::write_atomic;
use serde::{Deserialize, Serialize};

use crate::cli::{DataDirArgs, DeviceArgs};
use crate::lm::LmData;
use crate::provenance::{create_run, now_utc};

mod load;

pub use load::{
    LoadedLm, ModelKind, data_from_provenance, data_spec, default_prompt, load_lm, load_vocabulary,
};

/// Options of the `sample` binary.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "sample",
    about = "Generate text from a trained language model (a ptb or charlm run directory)"
)]
pub struct SampleArgs {
    /// Run directory of a `ptb` or `charlm` run: the model is rebuilt from its config.json and
    /// loaded from its newest checkpoint.
    #[arg(long)]
    pub run: PathBuf,
    /// The prompt: words (word models; each must be in the vocabulary: lower case, numbers as
    /// N, rare words as `<unk>`) or text (character models). Default: "the" (word models), "The "
    /// (character models; "the " for the text8-like corpora).
    #[arg(long)]
    pub prompt: Option<String>,
    /// `--tokens`, `--temperature`, `--top-k`, `--top-p`, `--seed`, `--until-eos`.
    #[command(flatten)]
    pub settings: SampleSettings,
    /// Also write the prompt, the settings and the output to this JSON file (its directory
    /// gets a `provenance.json`, as every program's output, unless it has one).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where the run's corpus is (its vocabulary is rebuilt from it).
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Backend and device.
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl SampleArgs {
    /// The sampling settings of the flags, checked; an error names the flag.
    pub fn sampling_config(&self) -> anyhow::Result<SamplingConfig> {
        let s = &self.settings;
        let config = SamplingConfig::new()
            .with_temperature(s.temperature)
            .with_top_k(s.top_k)
            .with_top_p(s.top_p)
            .with_seed(s.seed);
        // `validate`'s messages start with the setting's name: `top_k must be ...`.
        config.validate().map_err(|e| match e.split_once(' ') {
            Some((name, rest)) => anyhow!("--{} {rest}", name.replace('_', "-")),
            None => anyhow!(e),
        })?;
        Ok(config)
    }
}

/// The settings of a sample: flags of `sample`, stored in its [`SampleRecord`].
#[derive(clap::Args, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSettings {
    /// Tokens (words or characters) to generate after the prompt.
    #[arg(long, default_value_t = 50)]
    pub tokens: usize,
    /// Softmax temperature (> 0); 0 = greedy (argmax) decoding.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Sample only among the K most likely tokens (K >= 1; default: no limit).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Nucleus sampling: only among the most likely tokens whose probabilities sum to at
    /// least P, in (0, 1] (default: no limit).
    #[arg(long, allow_negative_numbers = true)]
    pub top_p: Option<f64>,
    /// Seed of the sampling (the same seed, model and settings give the same text).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Word models: stop at the first generated `<eos>` (default: go on, printing `<eos>` as a
    /// line break).
    #[arg(long)]
    #[serde(default)]
    pub until_eos: bool,
}

/// What `sample --json` writes (and `report` reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleRecord {
    /// The run directory.
    pub run: PathBuf,
    /// Epoch of the checkpoint used.
    pub checkpoint_epoch: usize,
    /// The model's kind.
    pub model: ModelKind,
    /// The corpus (whose vocabulary was used).
    pub data: LmData,
    /// The prompt as given (or the default).
    pub prompt: String,
    /// The prompt's token ids.
    pub prompt_tokens: Vec<u32>,
    /// The settings.
    pub settings: SampleSettings,
    /// The generated token ids (after the prompt).
    pub generated_tokens: Vec<u32>,
    /// The generated text, as printed after the prompt (lossy UTF-8).
    pub generated_text: String,
    /// The prompt and the generated text, as printed (lossy UTF-8).
    pub text: String,
    /// UTC date and time of the sample (ISO 8601).
    pub date: String,
}

/// Runs the `sample` command line: prints the prompt and the generated text to `out` (stdout
/// for the binary) as it is produced (a line about the run to stderr), writes `--json` if
/// asked, and returns the record.
///
/// # Errors
///
/// See the [module docs](self): bad settings, a bad run, a corpus that cannot be loaded or
/// does not match the model, a bad prompt, `--until-eos` on a character model.
pub fn run_sample(args: &SampleArgs, out: &mut dyn Write) -> anyhow::Result<SampleRecord> {
    let sampling = args.sampling_config()?;
    let device = args.device.device()?.without_autodiff();
    let loaded = load_lm(&args.run, args.data.dir(), &device)?;
    let vocab = load_vocabulary(&loaded.data, args.data.dir())?;
    let model_vocab = loaded.model.vocab_len();
    if model_vocab != vocab.len() {
        bail!(
            "{}: the model predicts {model_vocab} tokens but the {} corpus has {} {}: is \
             --data-dir the data the run was trained on?",
            loaded.dir.display(),
            loaded.data.corpus.name(),
            vocab.len(),
            vocab.unit()
        );
    }
    let settings = &args.settings;
    let stop = match (settings.until_eos, vocab.eos()) {
        (false, _) => None,
        (true, Some(eos)) => Some(eos),
        (true, None) => bail!(
            "--until-eos stops at <eos>, which only word models have; {} is a character-level \
             model",
            loaded.dir.display()
        ),
    };
    let prompt = args
        .prompt
        .clone()
        .unwrap_or_else(|| default_prompt(loaded.data.corpus).to_string());
    let prompt_tokens = vocab.encode_prompt(&prompt)?;
    eprintln!(
        "sample: {} (epoch {}, {} model, {} corpus, {} {}); temperature {}{}{}, seed {}",
        loaded.dir.display(),
        loaded.epoch,
        loaded.kind.name(),
        loaded.data.corpus.name(),
        vocab.len(),
        vocab.unit(),
        settings.temperature,
        settings
            .top_k
            .map(|k| format!(", top-k {k}"))
            .unwrap_or_default(),
        settings
            .top_p
            .map(|p| format!(", top-p {p}"))
            .unwrap_or_default(),
        settings.seed
    );
    let generated = loaded.model.generate_text(
        &vocab,
        &prompt_tokens,
        settings.tokens,
        &sampling,
        stop,
        &device,
        out,
    )?;
    let record = SampleRecord {
        run: loaded.dir.clone(),
        checkpoint_epoch: loaded.epoch,
        model: loaded.kind,
        data: loaded.data.clone(),
        prompt,
        prompt_tokens,
        settings: settings.clone(),
        generated_tokens: generated.tokens,
        generated_text: generated.generated_text,
        text: generated.text,
        date: now_utc(),
    };
    if let Some(path) = &args.json {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        create_run(dir.unwrap_or(std::path::Path::new(".")))?;
        let mut bytes = serde_json::to_vec_pretty(&record)?;
        bytes.push(b'\n');
        write_atomic(path, &bytes)?;
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use burn::module::Module;
    use burn::tensor::Device;
    use clap::CommandFactory;
    use datasets::CharVocab;
    use models::RhnLmConfig;

    use super::*;
    use crate::lm::LmCorpus;

    /// A fresh scratch directory for the test `name`.
    pub(super) fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hz-sample-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn args(list: &[&str]) -> SampleArgs {
        let mut all = vec!["sample"];
        all.extend_from_slice(list);
        SampleArgs::try_parse_from(all).unwrap()
    }

    #[test]
    fn the_command_line_is_valid_and_settings_errors_name_the_flag() {
        SampleArgs::command().debug_assert();
        let a = args(&["--run", "r"]);
        let s = &a.settings;
        assert_eq!((s.tokens, s.temperature, s.seed), (50, 1.0, 1));
        assert!(a.prompt.is_none() && s.top_k.is_none() && !s.until_eos);
        assert!(a.sampling_config().is_ok());
        for (flags, name) in [
            (["--temperature", "-1"], "--temperature"),
            (["--top-k", "0"], "--top-k"),
            (["--top-p", "0"], "--top-p"),
            (["--top-p", "1.5"], "--top-p"),
        ] {
            let a = args(&["--run", "r", flags[0], flags[1]]);
            let err = a.sampling_config().unwrap_err().to_string();
            assert!(err.starts_with(name), "{err}");
        }
        let greedy = args(&["--run", "r", "--temperature", "0"]);
        assert!(greedy.sampling_config().unwrap().is_greedy());
    }

    /// A run directory as `charlm --corpus file` writes it (config.json with model, train and
    /// data; one checkpoint with `model.bpk`), with an untrained tiny RHN.
    #[test]
    fn samples_a_tiny_character_run() {
        let dir = temp("run");
        let corpus = dir.join("corpus.txt");
        let text = "the cat sat on the mat. ".repeat(10);
        std::fs::write(&corpus, &text).unwrap();
        let vocab = CharVocab::from_bytes(text.as_bytes());
        let device = Device::flex();
        let config = RhnLmConfig::new(vocab.len(), 8, 2);
        let model = config.init(&device);
        let run_dir = dir.join("run");
        let run = create_run(&run_dir).unwrap();
        let write_config = |file: &Path| {
            let data = LmData::new(LmCorpus::File, Some(file));
            let json = serde_json::json!({ "model": &config, "train": {}, "data": data });
            run.write_json("config.json", &json).unwrap();
        };
        write_config(&corpus);
        let staged = run.staging_dir(1);
        std::fs::create_dir_all(&staged).unwrap();
        model.clone().save_file(staged.join("model.bpk")).unwrap();
        run.publish_checkpoint(1, 2).unwrap();
        let run_arg = run_dir.to_str().unwrap();
        let json_path = dir.join("out/sample.json");
        let a = args(&[
            "--run",
            run_arg,
            "--prompt",
            "the ",
            "--tokens",
            "12",
            "--temperature",
            "0",
            "--device",
            "cpu",
            "--json",
            json_path.to_str().unwrap(),
        ]);
        let mut printed: Vec<u8> = Vec::new();
        let record = run_sample(&a, &mut printed).unwrap();
        assert_eq!((record.checkpoint_epoch, record.model), (1, ModelKind::Rhn));
        assert_eq!(record.prompt_tokens, vocab.encode(b"the "));
        let greedy = SamplingConfig::new().with_temperature(0.0);
        let prompt = vocab.encode(b"the ");
        let expected = models::generate(&model, &prompt, 12, &greedy, None, &device, |_| {});
        assert_eq!(record.generated_tokens, expected.unwrap());
        assert_eq!(
            String::from_utf8_lossy(&printed),
            format!("{}\n", record.text)
        );
        assert!(record.text.starts_with("the ") && record.text.ends_with(&record.generated_text));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        assert!(dir.join("out/provenance.json").is_file());
        assert_eq!(json["prompt"], "the ");
        assert_eq!(json["model"], "rhn");
        assert_eq!(json["data"]["corpus"], "file");
        assert_eq!(json["settings"]["tokens"], 12);
        assert_eq!(json["generated_tokens"].as_array().unwrap().len(), 12);
        // Errors: a prompt character the corpus lacks, --until-eos on characters, a bad run,
        // and a corpus whose vocabulary does not match the model.
        let fails = |extra: &[&str]| {
            let mut list = vec!["--run", run_arg, "--tokens", "3", "--device", "cpu"];
            list.extend_from_slice(extra);
            format!(
                "{:#}",
                run_sample(&args(&list), &mut Vec::<u8>::new()).unwrap_err()
            )
        };
        let err = fails(&["--prompt", "the dog"]);
        assert!(err.contains("'d'"), "{err}");
        assert!(fails(&["--until-eos"]).contains("--until-eos"));
        assert!(fails(&["--top-k", "0"]).contains("--top-k"));
        let missing = dir.join("missing");
        let err = format!(
            "{:#}",
            run_sample(
                &args(&["--run", missing.to_str().unwrap()]),
                &mut Vec::<u8>::new()
            )
            .unwrap_err()
        );
        assert!(err.contains("no such run directory"), "{err}");
        let other = dir.join("other.txt");
        std::fs::write(&other, "abc abc abc abc abc abc abc abc ").unwrap();
        write_config(&other);
        let err = fails(&["--prompt", "a"]);
        assert!(err.contains("--data-dir"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }
}
