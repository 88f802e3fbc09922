//! Text for `sample`: the vocabulary of a run's corpus ([`Vocabulary`]), prompts
//! ([`Vocabulary::encode_prompt`], [`default_prompt`]) and printing ([`Detokenizer`]).

use std::path::Path;

use anyhow::{Context, bail};
use datasets::{CharCorpus, CharFilter, CharVocab, PtbCorpus, Vocab};

use crate::lm::{LmCorpus, LmData};

/// The default prompt of a corpus: `the` (words), `The ` (characters), `the ` (the
/// lower-case text8-like corpora).
pub fn default_prompt(corpus: LmCorpus) -> &'static str {
    match corpus {
        LmCorpus::Ptb => "the",
        LmCorpus::Text8 | LmCorpus::WikiText8 => "the ",
        LmCorpus::Wiki | LmCorpus::Enwik8 | LmCorpus::File => "The ",
    }
}

/// The vocabulary of a run's corpus: words or characters (bytes).
#[derive(Debug, Clone)]
pub enum Vocabulary {
    /// A word vocabulary (PTB).
    Words(Vocab),
    /// A character (byte) vocabulary.
    Chars(Box<CharVocab>),
}

impl Vocabulary {
    /// Loads the corpus `data` names (found in `data_dir`, then the cache, as the training
    /// binaries do) and keeps its vocabulary.
    ///
    /// # Errors
    ///
    /// The corpus cannot be found or read, or a `file` corpus names no file.
    pub fn load(data: &LmData, data_dir: Option<&Path>) -> anyhow::Result<Self> {
        let what = || {
            format!(
                "loading the {} corpus for its vocabulary",
                data.corpus.name()
            )
        };
        let chars = |corpus: datasets::Result<CharCorpus>| -> anyhow::Result<Self> {
            Ok(Vocabulary::Chars(Box::new(
                corpus.with_context(what)?.vocab,
            )))
        };
        match data.corpus {
            LmCorpus::Ptb => Ok(Vocabulary::Words(
                PtbCorpus::load(data_dir).with_context(what)?.vocab,
            )),
            LmCorpus::Wiki => chars(CharCorpus::wiki(data_dir, CharFilter::Raw)),
            LmCorpus::WikiText8 => chars(CharCorpus::wiki(data_dir, CharFilter::Text8)),
            LmCorpus::Enwik8 => chars(CharCorpus::enwik8(data_dir)),
            LmCorpus::Text8 => chars(CharCorpus::text8(data_dir)),
            LmCorpus::File => {
                let path = data
                    .file
                    .as_deref()
                    .context("the run's corpus is \"file\" but names no file")?;
                chars(CharCorpus::from_file(path, CharFilter::Raw))
            }
        }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        match self {
            Vocabulary::Words(v) => v.len(),
            Vocabulary::Chars(v) => v.len(),
        }
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `words` or `characters`, for messages.
    pub fn unit(&self) -> &'static str {
        match self {
            Vocabulary::Words(_) => "words",
            Vocabulary::Chars(_) => "characters",
        }
    }

    /// The id of `<eos>` (word vocabularies that have it).
    pub fn eos(&self) -> Option<u32> {
        match self {
            Vocabulary::Words(v) => v.id(datasets::ptb::EOS),
            Vocabulary::Chars(_) => None,
        }
    }

    /// The prompt's token ids: whitespace-separated words, or the UTF-8 bytes.
    ///
    /// # Errors
    ///
    /// An empty prompt (for words: nothing but whitespace), or a word or character not in the
    /// vocabulary, named in the message.
    pub fn encode_prompt(&self, prompt: &str) -> anyhow::Result<Vec<u32>> {
        match self {
            Vocabulary::Words(v) => {
                let words: Vec<&str> = prompt.split_whitespace().collect();
                if words.is_empty() {
                    bail!("the prompt is empty: give at least one word, e.g. --prompt \"the\"");
                }
                words
                    .iter()
                    .map(|w| {
                        v.id(w).with_context(|| {
                            format!(
                                "the prompt word \"{w}\" is not in the vocabulary of {} words \
                                 (PTB is lower case, writes numbers as N and rare words as \
                                 <unk>: use <unk> for it)",
                                v.len()
                            )
                        })
                    })
                    .collect()
            }
            Vocabulary::Chars(v) => {
                if prompt.is_empty() {
                    bail!(
                        "the prompt is empty: give at least one character, e.g. --prompt \"The \""
                    );
                }
                let mut ids = Vec::with_capacity(prompt.len());
                for ch in prompt.chars() {
                    let mut buf = [0u8; 4];
                    for &b in ch.encode_utf8(&mut buf).as_bytes() {
                        let id = v.id(b).with_context(|| {
                            format!(
                                "the prompt character {ch:?} (byte {b:#04x}) is not among the \
                                 corpus's {} symbols",
                                v.len()
                            )
                        })?;
                        ids.push(id);
                    }
                }
                Ok(ids)
            }
        }
    }

    /// A [`Detokenizer`] at the start of a line.
    pub fn detokenizer(&self) -> Detokenizer<'_> {
        Detokenizer {
            vocab: self,
            line_start: true,
        }
    }
}

/// Turns token ids back into text, one token at a time: words separated by spaces, `<eos>` as
/// a line break; characters as their bytes. An id outside the vocabulary (not produced by a
/// model whose size was checked) is written `<#ID>`.
#[derive(Debug, Clone)]
pub struct Detokenizer<'a> {
    vocab: &'a Vocabulary,
    line_start: bool,
}

impl Detokenizer<'_> {
    /// The bytes that print token `id` after the tokens seen so far.
    pub fn piece(&mut self, id: u32) -> Vec<u8> {
        match self.vocab {
            Vocabulary::Words(v) => match v.word(id) {
                Some(datasets::ptb::EOS) => {
                    self.line_start = true;
                    b"\n".to_vec()
                }
                word => {
                    let word = word.map_or_else(|| format!("<#{id}>"), str::to_string);
                    let sep = if self.line_start { "" } else { " " };
                    self.line_start = false;
                    format!("{sep}{word}").into_bytes()
                }
            },
            Vocabulary::Chars(v) => match v.symbol(id) {
                Some(b) => {
                    self.line_start = b == b'\n';
                    vec![b]
                }
                None => {
                    self.line_start = false;
                    format!("<#{id}>").into_bytes()
                }
            },
        }
    }

    /// The bytes of several tokens.
    pub fn pieces(&mut self, ids: &[u32]) -> Vec<u8> {
        ids.iter().flat_map(|&id| self.piece(id)).collect()
    }

    /// Whether the text so far ends a line (or is empty).
    pub fn at_line_start(&self) -> bool {
        self.line_start
    }
}

/// `ids` as text from the start of a line (bytes as lossy UTF-8).
pub fn detokenize(vocab: &Vocabulary, ids: &[u32]) -> String {
    String::from_utf8_lossy(&vocab.detokenizer().pieces(ids)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> Vocabulary {
        let mut v = Vocab::default();
        datasets::ptb::tokenize_train(Path::new("t"), "the cat sat\na dog <unk>", &mut v).unwrap();
        Vocabulary::Words(v)
    }

    #[test]
    fn word_prompts_are_checked_word_by_word() {
        let v = words();
        assert_eq!(v.encode_prompt("  the   cat ").unwrap(), [0, 1]);
        assert_eq!(v.eos(), Some(3));
        for empty in ["", "  \n\t"] {
            let err = v.encode_prompt(empty).unwrap_err().to_string();
            assert!(err.contains("empty"), "{err}");
        }
        let err = v.encode_prompt("the Cat").unwrap_err().to_string();
        assert!(err.contains("\"Cat\"") && err.contains("<unk>"), "{err}");
    }

    #[test]
    fn char_prompts_are_checked_byte_by_byte() {
        let v = Vocabulary::Chars(Box::new(CharVocab::from_bytes(b"ab c\n")));
        // Ids in byte order: '\n' 0, ' ' 1, 'a' 2, 'b' 3, 'c' 4.
        assert_eq!(v.encode_prompt("a b").unwrap(), [2, 1, 3]);
        assert_eq!(v.encode_prompt(" ").unwrap(), [1]);
        assert_eq!(v.eos(), None);
        assert!(
            v.encode_prompt("")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let err = v.encode_prompt("abé").unwrap_err().to_string();
        assert!(err.contains("'é'") && err.contains("0xc3"), "{err}");
    }

    #[test]
    fn tokens_print_as_text() {
        let v = words();
        // the 0, cat 1, sat 2, <eos> 3, a 4, dog 5, <unk> 6.
        assert_eq!(
            detokenize(&v, &[0, 1, 3, 4, 5, 3, 0]),
            "the cat\na dog\nthe"
        );
        let mut d = v.detokenizer();
        assert_eq!(d.pieces(&[0, 1]), b"the cat");
        assert_eq!(d.piece(2), b" sat");
        assert!(!d.at_line_start());
        assert_eq!(d.piece(3), b"\n");
        assert!(d.at_line_start());
        assert_eq!(d.piece(99), b"<#99>");
        let c = Vocabulary::Chars(Box::new(CharVocab::from_bytes(b"ab c\n")));
        assert_eq!(detokenize(&c, &[2, 1, 3, 0, 4]), "a b\nc");
    }

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
}
