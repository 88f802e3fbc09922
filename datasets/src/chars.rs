//! Character-level corpora: enwik8, text8, the Wikipedia XML excerpt shipped in the gensim
//! wheel, and any local text file.
//!
//! - **enwik8** (Hutter prize): the first 10⁸ bytes of an English Wikipedia XML dump, raw
//!   bytes as symbols, split into the first 90M / next 5M / last 5M bytes.
//! - **text8**: the same kind of text filtered to `a`–`z` and single spaces, same split.
//! - **Any file** ([`CharCorpus::from_file`]): the same proportions, 90% / 5% / 5% (rounded
//!   down for train and valid, the rest for test), so enwik8 and text8 give exactly the
//!   published sizes.
//! - **Wikipedia excerpt** ([`CharCorpus::wiki`]): the 6.09 MB MediaWiki XML of the PyPI wheel
//!   `gensim==4.4.0` (`bash scripts/fetch-data.sh wiki`), raw (like enwik8, 201 distinct
//!   bytes) or through [`text8_filter`] (like text8).
//!
//! The vocabulary is the set of byte values present anywhere in the corpus, ids in byte
//! order. Batching for truncated BPTT is shared with the word level: [`CharCorpus::bptt`].

use std::path::Path;

use crate::bptt::Bptt;
use crate::catalog::DatasetName;
use crate::error::{DataError, Result};
use crate::fetch;

/// Size of enwik8 and text8 in bytes.
pub const HUTTER_SIZE: usize = 100_000_000;
/// Training bytes of enwik8/text8 (the first 90M).
pub const HUTTER_TRAIN: usize = 90_000_000;
/// Validation bytes of enwik8/text8 (the next 5M; the last 5M are the test set).
pub const HUTTER_VALID: usize = 5_000_000;

/// File name of the Wikipedia excerpt in the gensim wheel.
pub const WIKI_FILE: &str = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2";

/// The byte values of a corpus, ids in increasing byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharVocab {
    symbols: Vec<u8>,
    ids: [u16; 256],
}

impl CharVocab {
    const ABSENT: u16 = u16::MAX;

    /// The vocabulary of the bytes present in `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut present = [false; 256];
        for &b in bytes {
            present[b as usize] = true;
        }
        let mut ids = [Self::ABSENT; 256];
        let mut symbols = Vec::new();
        for (b, _) in present.iter().enumerate().filter(|(_, p)| **p) {
            ids[b] = symbols.len() as u16;
            symbols.push(b as u8);
        }
        Self { symbols, ids }
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// The id of byte `b`.
    pub fn id(&self, b: u8) -> Option<u32> {
        let id = self.ids[b as usize];
        (id != Self::ABSENT).then_some(id as u32)
    }

    /// The byte with id `id`.
    pub fn symbol(&self, id: u32) -> Option<u8> {
        self.symbols.get(id as usize).copied()
    }

    /// All symbols, by id.
    pub fn symbols(&self) -> &[u8] {
        &self.symbols
    }

    /// Maps bytes to ids (every byte must be in the vocabulary: bytes outside map to 0).
    pub fn encode(&self, bytes: &[u8]) -> Vec<u32> {
        bytes.iter().map(|&b| self.id(b).unwrap_or(0)).collect()
    }
}

/// How to turn the raw bytes into symbols before splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CharFilter {
    /// Raw bytes (enwik8 style).
    Raw,
    /// [`text8_filter`]: lowercase `a`–`z` and single spaces (text8 style).
    Text8,
}

/// A text8-style filter: ASCII letters lowercased, every run of other bytes (digits,
/// punctuation, markup, non-ASCII) becomes one space. Simpler than Mahoney's `wikifil.pl`,
/// which also strips XML/wiki markup and spells digits: on the Wikipedia excerpt this keeps
/// 5,241,430 of 6,089,746 bytes.
pub fn text8_filter(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_gap = false;
    for &b in bytes {
        let c = b.to_ascii_lowercase();
        if c.is_ascii_lowercase() {
            out.push(c);
            in_gap = false;
        } else if !in_gap {
            out.push(b' ');
            in_gap = true;
        }
    }
    out
}

/// The three splits of a character corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CharSplit {
    /// The first 90%.
    Train,
    /// The next 5%.
    Valid,
    /// The last 5%.
    Test,
}

/// A character-level corpus as symbol ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharCorpus {
    /// Symbols present in the corpus.
    pub vocab: CharVocab,
    /// Training ids.
    pub train: Vec<u32>,
    /// Validation ids.
    pub valid: Vec<u32>,
    /// Test ids.
    pub test: Vec<u32>,
}

impl CharCorpus {
    /// Splits `bytes` 90% / 5% / 5% (`path` is used in messages). Each split must be
    /// non-empty (at least 20 bytes in all).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let n = bytes.len();
        if n == 0 {
            return Err(DataError::EmptyCorpus {
                path: path.to_path_buf(),
            });
        }
        let train = n * 90 / 100;
        let valid = n * 5 / 100;
        if valid == 0 {
            return Err(DataError::format(
                path,
                format!("corpus of {n} bytes is too short to split 90/5/5 (need at least 20)"),
            ));
        }
        let vocab = CharVocab::from_bytes(bytes);
        Ok(Self {
            train: vocab.encode(&bytes[..train]),
            valid: vocab.encode(&bytes[train..train + valid]),
            test: vocab.encode(&bytes[train + valid..]),
            vocab,
        })
    }

    /// Any text file (`.gz`/`.bz2` decompressed), raw or filtered, split 90/5/5.
    pub fn from_file(path: &Path, filter: CharFilter) -> Result<Self> {
        let bytes = fetch::read_file(path)?;
        let bytes = match filter {
            CharFilter::Raw => bytes,
            CharFilter::Text8 => text8_filter(&bytes),
        };
        Self::from_bytes(path, &bytes)
    }

    /// enwik8 from a file of exactly 10⁸ bytes: 90M / 5M / 5M raw bytes.
    pub fn enwik8_file(path: &Path) -> Result<Self> {
        let bytes = fetch::read_file(path)?;
        check_hutter_size(path, &bytes)?;
        Self::from_bytes(path, &bytes)
    }

    /// text8 from a file of exactly 10⁸ bytes of `a`–`z` and spaces: 90M / 5M / 5M.
    pub fn text8_file(path: &Path) -> Result<Self> {
        let bytes = fetch::read_file(path)?;
        check_hutter_size(path, &bytes)?;
        check_text8(path, &bytes)?;
        Self::from_bytes(path, &bytes)
    }

    /// enwik8, found in `data_dir` or the cache, else downloaded.
    pub fn enwik8(data_dir: Option<&Path>) -> Result<Self> {
        let dir = DatasetName::Enwik8.fetch(data_dir)?;
        Self::enwik8_file(&fetch::require_file(&dir, "enwik8")?)
    }

    /// text8, found in `data_dir` or the cache, else downloaded.
    pub fn text8(data_dir: Option<&Path>) -> Result<Self> {
        let dir = DatasetName::Text8.fetch(data_dir)?;
        Self::text8_file(&fetch::require_file(&dir, "text8")?)
    }

    /// The Wikipedia XML excerpt from the gensim wheel (`.bz2` or decompressed), found in
    /// `data_dir` or the cache, raw or filtered, split 90/5/5.
    pub fn wiki(data_dir: Option<&Path>, filter: CharFilter) -> Result<Self> {
        let dir = DatasetName::Wiki.fetch(data_dir)?;
        Self::from_file(&fetch::require_file(&dir, WIKI_FILE)?, filter)
    }

    /// The ids of a split.
    pub fn split(&self, split: CharSplit) -> &[u32] {
        match split {
            CharSplit::Train => &self.train,
            CharSplit::Valid => &self.valid,
            CharSplit::Test => &self.test,
        }
    }

    /// Total number of symbols.
    pub fn len(&self) -> usize {
        self.train.len() + self.valid.len() + self.test.len()
    }

    /// Whether the corpus is empty (never, for a loaded corpus).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A split laid out for truncated BPTT (`batch` rows, windows of `seq_len`).
    pub fn bptt(&self, split: CharSplit, batch: usize, seq_len: usize) -> Result<Bptt> {
        Bptt::new(self.split(split), batch, seq_len)
    }
}

fn check_hutter_size(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.len() != HUTTER_SIZE {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: HUTTER_SIZE as u64,
            found: bytes.len() as u64,
        });
    }
    Ok(())
}

fn check_text8(path: &Path, bytes: &[u8]) -> Result<()> {
    match bytes
        .iter()
        .position(|&b| !(b.is_ascii_lowercase() || b == b' '))
    {
        Some(at) => Err(DataError::format(
            path,
            format!(
                "byte {:#04x} at offset {at} is not a-z or space (not a text8 file)",
                bytes[at]
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn split_90_5_5_and_vocab() {
        let bytes: Vec<u8> = (0..200u32).map(|i| b"abcde"[(i % 5) as usize]).collect();
        let c = CharCorpus::from_bytes(&PathBuf::from("x.txt"), &bytes).unwrap();
        assert_eq!((c.train.len(), c.valid.len(), c.test.len()), (180, 10, 10));
        assert_eq!(c.vocab.symbols(), b"abcde");
        assert_eq!(&c.train[..6], &[0, 1, 2, 3, 4, 0]);
        assert_eq!(c.vocab.id(b'z'), None);
        assert_eq!(c.vocab.symbol(4), Some(b'e'));
        // Rounding: train and valid rounded down, test gets the rest.
        let c = CharCorpus::from_bytes(&PathBuf::from("x.txt"), &bytes[..199]).unwrap();
        assert_eq!((c.train.len(), c.valid.len(), c.test.len()), (179, 9, 11));
    }

    #[test]
    fn empty_corpus_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.txt");
        std::fs::write(&path, b"").unwrap();
        let msg = CharCorpus::from_file(&path, CharFilter::Raw)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("input.txt") && msg.contains("empty corpus"),
            "{msg}"
        );
        std::fs::write(&path, b"short").unwrap();
        let msg = CharCorpus::from_file(&path, CharFilter::Raw)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("input.txt") && msg.contains("too short"),
            "{msg}"
        );
    }

    #[test]
    fn hutter_files_must_have_the_published_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enwik8");
        std::fs::write(&path, b"<mediawiki>").unwrap();
        let msg = CharCorpus::enwik8_file(&path).unwrap_err().to_string();
        assert!(msg.contains("enwik8"), "{msg}");
        assert!(
            msg.contains("expected 100000000 bytes, found 11 bytes"),
            "{msg}"
        );
    }

    #[test]
    fn text8_content_is_checked() {
        let path = PathBuf::from("text8");
        assert!(check_text8(&path, b"anarchism originated as").is_ok());
        let msg = check_text8(&path, b"anarchism Originated")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("text8") && msg.contains("offset 10"), "{msg}");
    }

    #[test]
    fn text8_filter_lowercases_and_squeezes() {
        assert_eq!(
            text8_filter(b"<page>The Cat, 3 dogs &amp; caf\xc3\xa9!</page>"),
            b" page the cat dogs amp caf page ".to_vec()
        );
    }
}
