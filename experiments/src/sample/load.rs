//! Loading a language-model run for `sample`: the model ([`ModelKind`], [`load_lm`]), the
//! corpus it was trained on ([`data_spec`]) and that corpus's vocabulary
//! ([`load_vocabulary`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Device;
use datasets::PtbCorpus;
use models::LstmLmConfig;
use models::generate::{TextLm, TextVocab};
use serde::{Deserialize, Serialize};

use crate::analysis::runs::{load_rhn_run, load_run, resolve_run_dir, run_config};
use crate::lm::{LmCorpus, LmData};
use crate::provenance::Provenance;

/// The language models `sample` loads, told apart by the `"model"` entry of `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// [`RhnLm`](models::RhnLm) ([`RhnLmConfig`](models::RhnLmConfig): `vocab_size` and `depth`).
    Rhn,
    /// [`LstmLm`](models::LstmLm) ([`LstmLmConfig`]: `vocab_size` and `d_hidden`, no `depth`).
    Lstm,
    /// [`CharCnnLm`](models::CharCnnLm) ([`models::CharCnnLmConfig`]: `vocab_size` and
    /// `kernel_widths`).
    CharCnn,
}

impl ModelKind {
    /// The kind of the `"model"` entry `model`, if it is one of the language models.
    pub fn of(model: &serde_json::Value) -> Option<Self> {
        let has = |key: &str| model.get(key).is_some();
        if !has("vocab_size") {
            None
        } else if has("depth") {
            Some(ModelKind::Rhn)
        } else if has("kernel_widths") {
            Some(ModelKind::CharCnn)
        } else if has("d_hidden") {
            Some(ModelKind::Lstm)
        } else {
            None
        }
    }

    /// `rhn`, `lstm`, `char_cnn`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Rhn => "rhn",
            ModelKind::Lstm => "lstm",
            ModelKind::CharCnn => "char_cnn",
        }
    }
}

/// A language-model run read back by [`load_lm`] (another model is one more [`ModelKind`],
/// loaded in [`load_lm`]).
pub struct LoadedLm {
    /// The run directory.
    pub dir: PathBuf,
    /// Epoch (1-based) of the checkpoint loaded (the newest).
    pub epoch: usize,
    /// The corpus the model was trained on.
    pub data: LmData,
    /// Which model it is.
    pub kind: ModelKind,
    /// The model, with the checkpoint's weights.
    pub model: Box<dyn TextLm>,
}

/// Loads the language model of a `ptb` or `charlm` run directory: its corpus ([`data_spec`]),
/// the model rebuilt from the `"model"` entry of `config.json` with the newest checkpoint's
/// weights, on `device` (a character-aware model spells the words of the PTB vocabulary,
/// read from `data_dir` or the data cache).
///
/// # Errors
///
/// A missing directory, a `config.json` or checkpoint that is missing or unreadable, a model
/// that is not a language model, or no way to tell the corpus; each names the file.
pub fn load_lm(path: &Path, data_dir: Option<&Path>, device: &Device) -> anyhow::Result<LoadedLm> {
    let dir = resolve_run_dir(path)?;
    let config = run_config(&dir)?;
    let config_path = dir.join("config.json");
    let entry = config
        .get("model")
        .with_context(|| format!("{} has no \"model\" entry", config_path.display()))?;
    let kind = ModelKind::of(entry).with_context(|| {
        format!(
            "the \"model\" entry of {} is not a language model (RhnLm, LstmLm, CharCnnLm): expected a run \
             of ptb or charlm",
            config_path.display()
        )
    })?;
    let data = data_spec(&dir, &config)?;
    let (model, epoch): (Box<dyn TextLm>, usize) = match kind {
        ModelKind::Rhn => {
            let run = load_rhn_run(&dir, device)?;
            (Box::new(run.model), run.epoch)
        }
        ModelKind::Lstm => {
            let run = load_run(&dir, |c: &LstmLmConfig| {
                c.validate().map_err(anyhow::Error::msg)?;
                Ok(c.init(device))
            })?;
            (Box::new(run.model), run.epoch)
        }
        ModelKind::CharCnn => {
            if data.corpus != LmCorpus::Ptb {
                bail!(
                    "{}: a character-aware model of the {} corpus; it reads PTB only",
                    config_path.display(),
                    data.corpus.name()
                );
            }
            let corpus = PtbCorpus::load(data_dir)?;
            let (run, _) = crate::analysis::load_char_cnn_run(&dir, &corpus, device)?;
            (Box::new(run.model), run.epoch)
        }
    };
    Ok(LoadedLm {
        dir,
        epoch,
        data,
        kind,
        model,
    })
}

/// The vocabulary of the corpus `data` names, found in `data_dir`, then the data cache, as
/// the training binaries find it.
///
/// # Errors
///
/// The corpus cannot be found or read, or a `file` corpus names no file.
pub fn load_vocabulary(data: &LmData, data_dir: Option<&Path>) -> anyhow::Result<TextVocab> {
    let name = data.corpus.name();
    let what = || format!("loading the {name} corpus for its vocabulary");
    if data.corpus == LmCorpus::Ptb {
        let corpus = PtbCorpus::load(data_dir).with_context(what)?;
        return Ok(TextVocab::Words(corpus.vocab));
    }
    if data.corpus == LmCorpus::File && data.file.is_none() {
        bail!("the run's corpus is \"file\" but names no file");
    }
    let corpus = data
        .corpus
        .load_chars(data.file.as_deref(), data_dir)
        .with_context(what)?;
    Ok(TextVocab::Chars(Box::new(corpus.vocab)))
}

/// The default prompt of a corpus: `the` (words), `The ` (characters), `the ` (the
/// lower-case text8-like corpora).
pub fn default_prompt(corpus: LmCorpus) -> &'static str {
    match corpus {
        LmCorpus::Ptb => "the",
        LmCorpus::Text8 | LmCorpus::WikiText8 => "the ",
        LmCorpus::Wiki | LmCorpus::Enwik8 | LmCorpus::File => "The ",
    }
}

/// The corpus of the run in `dir` whose parsed `config.json` is `config`: its `"data"` entry,
/// else (a run made before that entry) what the run's `provenance.json` says
/// ([`data_from_provenance`]).
///
/// # Errors
///
/// A malformed `"data"` entry, a malformed `provenance.json`, or neither of them naming a
/// language-model corpus; the message names the file.
pub fn data_spec(dir: &Path, config: &serde_json::Value) -> anyhow::Result<LmData> {
    let config_path = dir.join("config.json");
    if let Some(data) = config.get("data") {
        return serde_json::from_value(data.clone()).with_context(|| {
            format!(
                "the \"data\" entry of {} is not a language model's corpus (expected \
                 {{\"corpus\": \"ptb\" | \"wiki\" | \"wiki-text8\" | \"enwik8\" | \"text8\" | \
                 \"file\", \"file\": PATH}})",
                config_path.display()
            )
        });
    }
    let Some(provenance) = Provenance::read(dir)? else {
        bail!(
            "{} has no \"data\" entry and {} has no provenance.json: cannot tell which corpus \
             the model was trained on (add \"data\": {{\"corpus\": \"ptb\"}} or the charlm \
             corpus to config.json)",
            config_path.display(),
            dir.display()
        );
    };
    data_from_provenance(&provenance).with_context(|| {
        format!(
            "{} has no \"data\" entry, and its provenance.json does not tell the corpus",
            config_path.display()
        )
    })
}

/// The corpus of a run made by `ptb` or `charlm` from its provenance record: `ptb` → PTB;
/// `charlm` → its `--corpus` (default `wiki`) and, for `file`, its `--file` (`~` expanded;
/// a relative path is taken relative to the current directory).
///
/// # Errors
///
/// Another program, an unknown `--corpus`, or `--corpus file` without `--file`.
pub fn data_from_provenance(provenance: &Provenance) -> anyhow::Result<LmData> {
    let program = provenance.program.trim_end_matches(".exe");
    match program {
        "ptb" => Ok(LmData {
            corpus: LmCorpus::Ptb,
            file: None,
        }),
        "charlm" => {
            let name = flag_value(&provenance.args, "--corpus").unwrap_or("wiki");
            let corpus = LmCorpus::from_name(name)
                .filter(|c| !c.is_word_level())
                .with_context(|| format!("charlm --corpus {name} is not a known corpus"))?;
            let file = match corpus {
                LmCorpus::File => Some(expand_home(
                    flag_value(&provenance.args, "--file")
                        .context("charlm --corpus file without --file")?,
                )),
                _ => None,
            };
            Ok(LmData { corpus, file })
        }
        other => bail!("the run was made by `{other}`, not by ptb or charlm"),
    }
}

/// The value of the last `FLAG VALUE` or `FLAG=VALUE` in `args`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let mut value = None;
    for (i, a) in args.iter().enumerate() {
        if a == flag {
            value = args.get(i + 1).map(String::as_str);
        } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            value = Some(v);
        }
    }
    value
}

/// `path` with a leading `~` (as provenance records write the home directory) expanded.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix('~'), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            PathBuf::from(home).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use models::RhnLmConfig;

    use super::*;
    use crate::provenance::{PROVENANCE_FILE, create_run};
    use crate::sample::tests::temp;

    #[test]
    fn corpus_names_round_trip() {
        for corpus in LmCorpus::ALL {
            let json = serde_json::to_value(corpus).unwrap();
            assert_eq!(json, corpus.name());
            assert_eq!(LmCorpus::from_name(corpus.name()), Some(corpus));
        }
        assert_eq!(LmCorpus::from_name("wiki_text8"), None);
        let data = LmData {
            corpus: LmCorpus::WikiText8,
            file: None,
        };
        let json = serde_json::to_string(&data).unwrap();
        assert_eq!(json, r#"{"corpus":"wiki-text8"}"#);
        assert_eq!(serde_json::from_str::<LmData>(&json).unwrap(), data);
        assert_eq!(default_prompt(LmCorpus::Ptb), "the");
        assert_eq!(default_prompt(LmCorpus::Text8), "the ");
        assert_eq!(default_prompt(LmCorpus::Enwik8), "The ");
    }

    #[test]
    fn model_kinds_come_from_the_config_fields() {
        let rhn = serde_json::to_value(RhnLmConfig::ptb_small()).unwrap();
        let lstm = serde_json::to_value(LstmLmConfig::new(10, 4)).unwrap();
        assert_eq!(ModelKind::of(&rhn), Some(ModelKind::Rhn));
        assert_eq!(ModelKind::of(&lstm), Some(ModelKind::Lstm));
        let mlp = serde_json::json!({ "d_input": 784, "d_hidden": 50, "depth": 10 });
        assert_eq!(ModelKind::of(&mlp), None);
    }

    #[test]
    fn runs_without_a_data_entry_fall_back_to_their_provenance() {
        let dir = temp("provenance");
        let run = create_run(&dir).unwrap();
        let no_data = serde_json::json!({ "model": {}, "train": {} });
        let mut p = Provenance::current();
        let mut spec = |program: &str, args: &[&str]| {
            p.program = program.into();
            p.args = args.iter().map(|a| a.to_string()).collect();
            run.write_json(PROVENANCE_FILE, &p).unwrap();
            data_spec(&dir, &no_data)
        };
        let data = |corpus, file: Option<&str>| LmData {
            corpus,
            file: file.map(PathBuf::from),
        };
        assert_eq!(
            spec("ptb", &["--epochs", "1"]).unwrap(),
            data(LmCorpus::Ptb, None)
        );
        assert_eq!(spec("charlm", &[]).unwrap(), data(LmCorpus::Wiki, None));
        assert_eq!(
            spec("charlm", &["--corpus", "wiki-text8", "--quiet"]).unwrap(),
            data(LmCorpus::WikiText8, None)
        );
        assert_eq!(
            spec("charlm", &["--corpus=file", "--file", "/data/x.txt"]).unwrap(),
            data(LmCorpus::File, Some("/data/x.txt"))
        );
        if let Some(home) = std::env::var_os("HOME") {
            let expected = PathBuf::from(home).join("x.txt");
            let got = spec("charlm", &["--corpus", "file", "--file=~/x.txt"]).unwrap();
            assert_eq!(got.file, Some(expected));
        }
        let err = format!("{:#}", spec("charlm", &["--corpus", "file"]).unwrap_err());
        assert!(err.contains("--file"), "{err}");
        let err = format!("{:#}", spec("charlm", &["--corpus", "ptb"]).unwrap_err());
        assert!(err.contains("--corpus ptb"), "{err}");
        let err = format!("{:#}", spec("mnist-depth", &[]).unwrap_err());
        assert!(
            err.contains("config.json") && err.contains("mnist-depth"),
            "{err}"
        );
        // The "data" entry wins over the provenance; a malformed one is an error.
        let with_data = serde_json::json!({ "model": {}, "data": { "corpus": "text8" } });
        assert_eq!(
            data_spec(&dir, &with_data).unwrap(),
            data(LmCorpus::Text8, None)
        );
        let bad = serde_json::json!({ "model": {}, "data": { "corpus": "nope" } });
        let err = format!("{:#}", data_spec(&dir, &bad).unwrap_err());
        assert!(err.contains("\"data\" entry"), "{err}");
        // Neither: the error names config.json.
        std::fs::remove_file(dir.join(PROVENANCE_FILE)).unwrap();
        let err = format!("{:#}", data_spec(&dir, &no_data).unwrap_err());
        assert!(
            err.contains("config.json") && err.contains("provenance.json"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
