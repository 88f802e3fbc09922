//! Penn Treebank, word level, in Mikolov's language-modelling split (`ptb.train.txt`,
//! `ptb.valid.txt`, `ptb.test.txt`; 10,000-word vocabulary with `<unk>` already applied).
//!
//! Tokenisation as in Zaremba et al.'s `reader.py` (and the RHN code): each line's
//! whitespace-separated words followed by `<eos>`. The vocabulary is built from the training
//! file only, ids in order of first appearance (so `aer` is 0); a word in the validation or
//! test file that the vocabulary lacks is an error naming the word and the line. Token
//! counts: 929,589 / 73,760 / 82,430.
//!
//! Batching for truncated BPTT: [`PtbCorpus::bptt`] (see [`crate::bptt`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::bptt::Bptt;
use crate::catalog::DatasetName;
use crate::error::{DataError, Result};
use crate::fetch;

/// The end-of-sentence token appended to every line.
pub const EOS: &str = "<eos>";

/// A word vocabulary: ids `0..len` in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocab {
    words: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Vocab {
    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of `word`.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// The word with id `id`.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// All words, by id.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    fn insert(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(word.to_string());
        self.ids.insert(word.to_string(), id);
        id
    }
}

fn as_text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes)
        .map_err(|e| DataError::format(path, format!("not UTF-8 text (byte {})", e.valid_up_to())))
}

/// Tokenises a training text, growing `vocab` with every new word; returns the ids.
/// `path` is only used in messages. A text without a word is [`DataError::EmptyCorpus`].
pub fn tokenize_train(path: &Path, text: &str, vocab: &mut Vocab) -> Result<Vec<u32>> {
    let mut ids = Vec::with_capacity(text.len() / 5);
    let mut words = 0usize;
    for line in text.lines() {
        for word in line.split_whitespace() {
            ids.push(vocab.insert(word));
            words += 1;
        }
        ids.push(vocab.insert(EOS));
    }
    if words == 0 {
        return Err(DataError::EmptyCorpus {
            path: path.to_path_buf(),
        });
    }
    Ok(ids)
}

/// Tokenises a validation or test text with a fixed vocabulary; a word not in it is a
/// [`DataError::UnknownWord`] with the word and its 1-based line number.
pub fn tokenize_with(path: &Path, text: &str, vocab: &Vocab) -> Result<Vec<u32>> {
    let eos = vocab.id(EOS).ok_or_else(|| DataError::UnknownWord {
        path: path.to_path_buf(),
        word: EOS.to_string(),
        line: 1,
    })?;
    let mut ids = Vec::with_capacity(text.len() / 5);
    let mut words = 0usize;
    for (i, line) in text.lines().enumerate() {
        for word in line.split_whitespace() {
            ids.push(vocab.id(word).ok_or_else(|| DataError::UnknownWord {
                path: path.to_path_buf(),
                word: word.to_string(),
                line: i + 1,
            })?);
            words += 1;
        }
        ids.push(eos);
    }
    if words == 0 {
        return Err(DataError::EmptyCorpus {
            path: path.to_path_buf(),
        });
    }
    Ok(ids)
}

/// The three splits of a word-level corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PtbSplit {
    /// `ptb.train.txt`.
    Train,
    /// `ptb.valid.txt`.
    Valid,
    /// `ptb.test.txt`.
    Test,
}

impl PtbSplit {
    /// Canonical file name.
    pub fn file_name(self) -> &'static str {
        match self {
            PtbSplit::Train => "ptb.train.txt",
            PtbSplit::Valid => "ptb.valid.txt",
            PtbSplit::Test => "ptb.test.txt",
        }
    }
}

/// Penn Treebank (or any corpus in its format) as token ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtbCorpus {
    /// Vocabulary built from the training file.
    pub vocab: Vocab,
    /// Training token ids (with `<eos>`).
    pub train: Vec<u32>,
    /// Validation token ids.
    pub valid: Vec<u32>,
    /// Test token ids.
    pub test: Vec<u32>,
}

impl PtbCorpus {
    /// Builds the corpus from three text files.
    pub fn from_files(train: &Path, valid: &Path, test: &Path) -> Result<Self> {
        let read = |p: &Path| fetch::read_file(p);
        let (train_b, valid_b, test_b) = (read(train)?, read(valid)?, read(test)?);
        Self::from_bytes((train, &train_b), (valid, &valid_b), (test, &test_b))
    }

    /// Builds the corpus from the (decompressed) bytes of the three files, each with the
    /// path used in messages: every file must be UTF-8 text, then as [`Self::from_texts`].
    pub fn from_bytes(
        train: (&Path, &[u8]),
        valid: (&Path, &[u8]),
        test: (&Path, &[u8]),
    ) -> Result<Self> {
        Self::from_texts(
            (train.0, as_text(train.0, train.1)?),
            (valid.0, as_text(valid.0, valid.1)?),
            (test.0, as_text(test.0, test.1)?),
        )
    }

    /// Builds the corpus from texts, each with the path used in messages.
    pub fn from_texts(
        train: (&Path, &str),
        valid: (&Path, &str),
        test: (&Path, &str),
    ) -> Result<Self> {
        let mut vocab = Vocab::default();
        let train_ids = tokenize_train(train.0, train.1, &mut vocab)?;
        let valid_ids = tokenize_with(valid.0, valid.1, &vocab)?;
        let test_ids = tokenize_with(test.0, test.1, &vocab)?;
        Ok(Self {
            vocab,
            train: train_ids,
            valid: valid_ids,
            test: test_ids,
        })
    }

    /// Loads `ptb.{train,valid,test}.txt` from `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = |s: PtbSplit| -> Result<PathBuf> { fetch::require_file(dir, s.file_name()) };
        Self::from_files(
            &path(PtbSplit::Train)?,
            &path(PtbSplit::Valid)?,
            &path(PtbSplit::Test)?,
        )
    }

    /// Finds the files (`data_dir`, the cache, then a download) and loads them.
    pub fn load(data_dir: Option<&Path>) -> Result<Self> {
        Self::from_dir(&DatasetName::Ptb.fetch(data_dir)?)
    }

    /// The ids of a split.
    pub fn split(&self, split: PtbSplit) -> &[u32] {
        match split {
            PtbSplit::Train => &self.train,
            PtbSplit::Valid => &self.valid,
            PtbSplit::Test => &self.test,
        }
    }

    /// A split laid out for truncated BPTT (`batch` rows, windows of `seq_len`).
    pub fn bptt(&self, split: PtbSplit, batch: usize, seq_len: usize) -> Result<Bptt> {
        Bptt::new(self.split(split), batch, seq_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> PathBuf {
        PathBuf::from(name)
    }

    #[test]
    fn vocabulary_in_order_of_first_appearance_with_eos() {
        let c = PtbCorpus::from_texts(
            (&p("ptb.train.txt"), " the cat sat \n the dog \n"),
            (&p("ptb.valid.txt"), " dog sat \n"),
            (&p("ptb.test.txt"), " the \n\n"),
        )
        .unwrap();
        assert_eq!(c.vocab.words(), &["the", "cat", "sat", EOS, "dog"]);
        assert_eq!(c.train, vec![0, 1, 2, 3, 0, 4, 3]);
        assert_eq!(c.valid, vec![4, 2, 3]);
        assert_eq!(c.test, vec![0, 3, 3]);
        assert_eq!(c.vocab.id("dog"), Some(4));
        assert_eq!(c.vocab.word(1), Some("cat"));
    }

    #[test]
    fn unknown_word_names_word_and_line() {
        let err = PtbCorpus::from_texts(
            (&p("ptb.train.txt"), "a b\nc\n"),
            (&p("data/ptb.valid.txt"), "a\nb c\nc zebra a\n"),
            (&p("ptb.test.txt"), "a\n"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, DataError::UnknownWord { line: 3, .. }),
            "{msg}"
        );
        assert!(msg.contains("data/ptb.valid.txt"), "{msg}");
        assert!(msg.contains("\"zebra\""), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("not in the training vocabulary"), "{msg}");
    }

    #[test]
    fn empty_corpus_is_an_error() {
        for (train, valid) in [("", "a\n"), (" \n\n", "a\n"), ("a\n", "")] {
            let err = PtbCorpus::from_texts(
                (&p("ptb.train.txt"), train),
                (&p("ptb.valid.txt"), valid),
                (&p("ptb.test.txt"), "a\n"),
            )
            .unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("empty corpus"), "{msg}");
            let file = if train.trim().is_empty() {
                "ptb.train.txt"
            } else {
                "ptb.valid.txt"
            };
            assert!(msg.contains(file), "{msg}");
        }
    }

    #[test]
    fn files_from_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ptb.train.txt"), " a b \n b c \n").unwrap();
        std::fs::write(dir.path().join("ptb.valid.txt"), " c \n").unwrap();
        let msg = PtbCorpus::from_dir(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("ptb.test.txt") && msg.contains("not found"),
            "{msg}"
        );
        std::fs::write(dir.path().join("ptb.test.txt"), " a \n").unwrap();
        let c = PtbCorpus::from_dir(dir.path()).unwrap();
        assert_eq!(c.train.len(), 6);
        let b = c.bptt(PtbSplit::Train, 2, 2).unwrap();
        assert_eq!(b.num_windows(), 1);
        std::fs::write(dir.path().join("ptb.test.txt"), [0xff, 0xfe]).unwrap();
        let msg = PtbCorpus::from_dir(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("ptb.test.txt") && msg.contains("UTF-8"),
            "{msg}"
        );
    }
}
