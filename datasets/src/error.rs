//! The one error type of the crate: every message names the file and what is wrong with it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout the crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Everything that can go wrong while locating, downloading, verifying or parsing a data set.
///
/// Bad input never panics: each parser checks sizes, magic numbers, dimensions and label
/// ranges and returns one of these, whose [`Display`](fmt::Display) names the file and the
/// problem.
#[derive(Debug)]
pub enum DataError {
    /// A required file does not exist.
    Missing {
        /// The path that was looked for.
        path: PathBuf,
        /// How to get the file.
        help: String,
    },
    /// An I/O error while reading or writing a file.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file is shorter (or longer) than its header or format says.
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the file should have.
        expected: u64,
        /// Bytes it has.
        found: u64,
    },
    /// An IDX file starts with the wrong magic number.
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number for this kind of IDX file.
        expected: u32,
        /// The magic number read.
        found: u32,
    },
    /// An IDX file declares dimensions other than the data set's.
    BadDimensions {
        /// The file.
        path: PathBuf,
        /// The dimensions expected, e.g. `28x28`.
        expected: String,
        /// The dimensions declared in the file.
        found: String,
    },
    /// The image file and the label file disagree on the number of examples.
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images it holds.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels it holds.
        n_labels: usize,
    },
    /// A CIFAR file whose size is not a whole number of records.
    PartialRecord {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// Bytes per record.
        record: u64,
    },
    /// A label outside `0..classes`.
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Index of the example (record) in the file.
        index: usize,
        /// The label read.
        label: u32,
        /// Number of classes.
        classes: u32,
    },
    /// A corpus (or a split of it) with no tokens.
    EmptyCorpus {
        /// The file.
        path: PathBuf,
    },
    /// A word in a validation or test file that the training vocabulary lacks.
    UnknownWord {
        /// The file.
        path: PathBuf,
        /// The word.
        word: String,
        /// 1-based line number.
        line: usize,
    },
    /// A file whose checksum differs from the published one.
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Algorithm (`md5`, `sha256`, `size`).
        algorithm: &'static str,
        /// Published value.
        expected: String,
        /// Value computed from the file.
        found: String,
    },
    /// A download failed; `help` says exactly how to get the files another way.
    Download {
        /// Data set name, as given to `scripts/fetch-data.sh`.
        dataset: String,
        /// The URL tried.
        url: String,
        /// Why it failed.
        reason: String,
        /// How to get the files without this download.
        help: String,
    },
    /// A file that is malformed in some other way (bad PNG, bad archive, bad byte in text8, ...).
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// An invalid argument from the caller (zero batch size, split larger than the set, ...).
    InvalidArgument(String),
}

impl DataError {
    /// Wraps an I/O error on `path`; a not-found error becomes [`DataError::Missing`].
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        if source.kind() == io::ErrorKind::NotFound {
            DataError::Missing {
                path,
                help: String::new(),
            }
        } else {
            DataError::Io { path, source }
        }
    }

    /// A [`DataError::Format`] error on `path`.
    pub fn format(path: impl AsRef<Path>, what: impl Into<String>) -> Self {
        DataError::Format {
            path: path.as_ref().to_path_buf(),
            what: what.into(),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataError::*;
        match self {
            Missing { path, help } => {
                write!(f, "{}: file not found", path.display())?;
                if !help.is_empty() {
                    write!(f, "; {help}")?;
                }
                Ok(())
            }
            Io { path, source } => write!(f, "{}: I/O error: {source}", path.display()),
            Truncated {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: truncated or wrong-sized file: expected {expected} bytes, found {found} bytes",
                path.display()
            ),
            BadMagic {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: wrong IDX magic number: expected {expected:#010x} ({expected}), found {found:#010x} ({found})",
                path.display()
            ),
            BadDimensions {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: wrong dimensions: expected {expected}, found {found}",
                path.display()
            ),
            CountMismatch {
                images,
                n_images,
                labels,
                n_labels,
            } => write!(
                f,
                "image/label count mismatch: {} holds {n_images} images but {} holds {n_labels} labels",
                images.display(),
                labels.display()
            ),
            PartialRecord { path, size, record } => write!(
                f,
                "{}: size {size} bytes is not a whole number of {record}-byte CIFAR records ({} records and {} bytes left over)",
                path.display(),
                size / record,
                size % record
            ),
            LabelOutOfRange {
                path,
                index,
                label,
                classes,
            } => write!(
                f,
                "{}: label {label} of record {index} is out of range (expected 0..{classes})",
                path.display()
            ),
            EmptyCorpus { path } => write!(f, "{}: empty corpus (no tokens)", path.display()),
            UnknownWord { path, word, line } => write!(
                f,
                "{}:{line}: word {word:?} on line {line} is not in the training vocabulary",
                path.display()
            ),
            ChecksumMismatch {
                path,
                algorithm,
                expected,
                found,
            } => write!(
                f,
                "{}: {algorithm} checksum mismatch: expected {expected}, found {found}",
                path.display()
            ),
            Download {
                dataset,
                url,
                reason,
                help,
            } => write!(
                f,
                "could not download {dataset} from {url}: {reason}\n{help}"
            ),
            Format { path, what } => write!(f, "{}: {what}", path.display()),
            InvalidArgument(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
