//! MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from IDX files.
//!
//! The whole split is kept in memory as one `Vec<u8>` of pixels and one of labels (47 MB for
//! the 60,000 training images); items are the raw bytes and the [`MnistBatcher`] scales them
//! to `[0, 1]` (optionally then `(x - mean) / std`) while building one `Vec<f32>` for the whole
//! batch and one tensor from it.
//!
//! IDX format: big-endian `u32` magic (`0x00000803` for images, `0x00000801` for labels), one
//! big-endian `u32` per dimension, then the bytes. Files may be raw or gzipped (`.gz`).

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::catalog::DatasetName;
use crate::error::{DataError, Result};
use crate::fetch;
use crate::rng::SplitMix64;

/// Image side in pixels.
pub const MNIST_SIDE: usize = 28;
/// Pixels per image (`28 × 28`).
pub const MNIST_PIXELS: usize = MNIST_SIDE * MNIST_SIDE;
/// Number of classes (digits, or clothing categories for Fashion-MNIST).
pub const MNIST_CLASSES: usize = 10;
/// IDX magic number of an image file (`u8` data, 3 dimensions).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic number of a label file (`u8` data, 1 dimension).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Which of the two data sets with the MNIST layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MnistKind {
    /// Handwritten digits.
    Mnist,
    /// Zalando's clothing images.
    FashionMnist,
}

impl MnistKind {
    /// The catalog entry (files, checksums, sources).
    pub fn name(self) -> DatasetName {
        match self {
            MnistKind::Mnist => DatasetName::Mnist,
            MnistKind::FashionMnist => DatasetName::FashionMnist,
        }
    }

    /// Mean and standard deviation of the training pixels scaled to `[0, 1]`
    /// (MNIST 0.1307 / 0.3081, Fashion-MNIST 0.2860 / 0.3530), for
    /// [`MnistBatcher::normalized`]. [`MnistDataset::pixel_mean_std`] computes them.
    pub fn mean_std(self) -> (f32, f32) {
        match self {
            MnistKind::Mnist => (0.1307, 0.3081),
            MnistKind::FashionMnist => (0.2860, 0.3530),
        }
    }
}

/// The two published splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MnistSplit {
    /// 60,000 images (`train-*`).
    Train,
    /// 10,000 images (`t10k-*`).
    Test,
}

impl MnistSplit {
    /// Canonical file names `(images, labels)`, without `.gz`.
    pub fn file_names(self) -> (&'static str, &'static str) {
        match self {
            MnistSplit::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            MnistSplit::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Parses an IDX image file's bytes (`path` is only used in error messages): checks the
/// magic number, that the images are `rows × cols` and that the size matches the header.
/// Returns the number of images and the pixels, image after image.
pub fn parse_idx_images(
    path: &Path,
    bytes: Vec<u8>,
    rows: usize,
    cols: usize,
) -> Result<(usize, Vec<u8>)> {
    const HEADER: usize = 16;
    if bytes.len() < HEADER {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: HEADER as u64,
            found: bytes.len() as u64,
        });
    }
    let magic = be_u32(&bytes, 0);
    if magic != IDX_IMAGES_MAGIC {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: IDX_IMAGES_MAGIC,
            found: magic,
        });
    }
    let n = be_u32(&bytes, 4) as usize;
    let (r, c) = (be_u32(&bytes, 8) as usize, be_u32(&bytes, 12) as usize);
    if (r, c) != (rows, cols) {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            expected: format!("{n}x{rows}x{cols}"),
            found: format!("{n}x{r}x{c}"),
        });
    }
    let expected = HEADER as u64 + n as u64 * (rows * cols) as u64;
    if bytes.len() as u64 != expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            found: bytes.len() as u64,
        });
    }
    let mut pixels = bytes;
    pixels.drain(..HEADER);
    Ok((n, pixels))
}

/// Parses an IDX label file's bytes: checks the magic number, the size and that every label
/// is below `classes`.
pub fn parse_idx_labels(path: &Path, bytes: Vec<u8>, classes: usize) -> Result<Vec<u8>> {
    const HEADER: usize = 8;
    if bytes.len() < HEADER {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: HEADER as u64,
            found: bytes.len() as u64,
        });
    }
    let magic = be_u32(&bytes, 0);
    if magic != IDX_LABELS_MAGIC {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: IDX_LABELS_MAGIC,
            found: magic,
        });
    }
    let n = be_u32(&bytes, 4) as u64;
    let expected = HEADER as u64 + n;
    if bytes.len() as u64 != expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            found: bytes.len() as u64,
        });
    }
    let mut labels = bytes;
    labels.drain(..HEADER);
    if let Some(index) = labels.iter().position(|&l| l as usize >= classes) {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: labels[index] as u32,
            classes: classes as u32,
        });
    }
    Ok(labels)
}

/// One example: the raw pixels (row-major, 0 = background) and the class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistItem {
    /// 784 pixel bytes, row-major.
    pub image: [u8; MNIST_PIXELS],
    /// Class in `0..10`.
    pub label: u8,
}

/// MNIST or Fashion-MNIST images held in memory; a Burn [`Dataset`] of [`MnistItem`]s.
///
/// Cheap to clone and to split: the pixel and label buffers are shared, a dataset is a list
/// of rows into them.
#[derive(Debug, Clone)]
pub struct MnistDataset {
    pixels: Arc<Vec<u8>>,
    labels: Arc<Vec<u8>>,
    rows: Vec<u32>,
}

impl MnistDataset {
    /// Loads a pair of IDX files (raw or `.gz`), checking magic numbers, dimensions (28×28),
    /// sizes, labels (< 10) and that both hold the same number of examples.
    pub fn from_idx_files(images: &Path, labels: &Path) -> Result<Self> {
        let (n_images, pixels) =
            parse_idx_images(images, fetch::read_file(images)?, MNIST_SIDE, MNIST_SIDE)?;
        let label_bytes = parse_idx_labels(labels, fetch::read_file(labels)?, MNIST_CLASSES)?;
        if n_images != label_bytes.len() {
            return Err(DataError::CountMismatch {
                images: images.to_path_buf(),
                n_images,
                labels: labels.to_path_buf(),
                n_labels: label_bytes.len(),
            });
        }
        Ok(Self {
            pixels: Arc::new(pixels),
            labels: Arc::new(label_bytes),
            rows: (0..n_images as u32).collect(),
        })
    }

    /// Loads a split from a directory holding the canonical file names (raw or `.gz`).
    pub fn from_dir(dir: &Path, split: MnistSplit) -> Result<Self> {
        let (images, labels) = split.file_names();
        Self::from_idx_files(
            &fetch::require_file(dir, images)?,
            &fetch::require_file(dir, labels)?,
        )
    }

    /// Finds the split's two files (`data_dir`, then the cache, then a download of the data
    /// set: see [`crate::fetch`]) and loads the split. The other split's files need not be
    /// there.
    pub fn load(kind: MnistKind, split: MnistSplit, data_dir: Option<&Path>) -> Result<Self> {
        let (images, labels) = split.file_names();
        let dir = fetch::fetch_files(kind.name().spec(), &[images, labels], data_dir)?;
        Self::from_dir(&dir, split)
    }

    /// The 60,000 training images.
    pub fn train(kind: MnistKind, data_dir: Option<&Path>) -> Result<Self> {
        Self::load(kind, MnistSplit::Train, data_dir)
    }

    /// The 10,000 test images.
    pub fn test(kind: MnistKind, data_dir: Option<&Path>) -> Result<Self> {
        Self::load(kind, MnistSplit::Test, data_dir)
    }

    /// Splits off `n_valid` examples for validation: the last `n_valid` (`shuffle_seed`
    /// `None`, e.g. the usual 50,000/10,000 split), or a random subset fixed by the seed.
    /// Returns `(train, valid)`.
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
            pixels: self.pixels.clone(),
            labels: self.labels.clone(),
            rows,
        };
        Ok((with(rows), with(valid)))
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Pixels of example `index` (784 bytes), `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let row = *self.rows.get(index)? as usize;
        Some(&self.pixels[row * MNIST_PIXELS..(row + 1) * MNIST_PIXELS])
    }

    /// Label of example `index`, `None` past the end.
    pub fn label(&self, index: usize) -> Option<u8> {
        Some(self.labels[*self.rows.get(index)? as usize])
    }

    /// All labels, in order.
    pub fn labels(&self) -> Vec<u8> {
        self.rows.iter().map(|&r| self.labels[r as usize]).collect()
    }

    /// Number of examples of each class.
    pub fn class_counts(&self) -> [usize; MNIST_CLASSES] {
        let mut counts = [0; MNIST_CLASSES];
        for &r in &self.rows {
            counts[self.labels[r as usize] as usize] += 1;
        }
        counts
    }

    /// Mean and standard deviation of the pixels scaled to `[0, 1]`.
    pub fn pixel_mean_std(&self) -> (f64, f64) {
        let mut hist = [0u64; 256];
        for &r in &self.rows {
            let r = r as usize;
            for &p in &self.pixels[r * MNIST_PIXELS..(r + 1) * MNIST_PIXELS] {
                hist[p as usize] += 1;
            }
        }
        let n: u64 = hist.iter().sum();
        if n == 0 {
            return (0.0, 0.0);
        }
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for (v, &c) in hist.iter().enumerate() {
            let x = v as f64 / 255.0;
            s += x * c as f64;
            s2 += x * x * c as f64;
        }
        let mean = s / n as f64;
        (mean, (s2 / n as f64 - mean * mean).max(0.0).sqrt())
    }
}

impl Dataset<MnistItem> for MnistDataset {
    fn get(&self, index: usize) -> std::result::Result<MnistItem, DatasetError> {
        match (self.image(index), self.label(index)) {
            (Some(pixels), Some(label)) => {
                let mut image = [0u8; MNIST_PIXELS];
                image.copy_from_slice(pixels);
                Ok(MnistItem { image, label })
            }
            _ => Err(DatasetError::new(DataError::InvalidArgument(format!(
                "index {index} past the end of an MNIST set of {}",
                self.len()
            )))),
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

/// A batch of MNIST images.
#[derive(Debug, Clone)]
pub struct MnistBatch {
    /// Images, flattened: `[batch, 784]`.
    pub images: Tensor<2>,
    /// Classes: `[batch]`.
    pub targets: Tensor<1, Int>,
}

impl MnistBatch {
    /// The images as `[batch, 1, 28, 28]` (NCHW) for convolutional networks.
    pub fn images_nchw(&self) -> Tensor<4> {
        let [batch, _] = self.images.dims();
        self.images
            .clone()
            .reshape([batch, 1, MNIST_SIDE, MNIST_SIDE])
    }
}

/// Turns [`MnistItem`]s into an [`MnistBatch`]: pixels scaled to `[0, 1]`, then
/// `(x - mean) / std` (identity by default).
#[derive(Debug, Clone)]
pub struct MnistBatcher {
    table: [f32; 256],
}

impl Default for MnistBatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl MnistBatcher {
    /// Pixels scaled to `[0, 1]`.
    pub fn new() -> Self {
        Self::normalized(0.0, 1.0)
    }

    /// Pixels scaled to `[0, 1]`, then standardised: `(x / 255 - mean) / std`.
    /// See [`MnistKind::mean_std`].
    pub fn normalized(mean: f32, std: f32) -> Self {
        let mut table = [0f32; 256];
        for (v, t) in table.iter_mut().enumerate() {
            *t = (v as f32 / 255.0 - mean) / std;
        }
        Self { table }
    }

    /// The value a pixel byte becomes.
    pub fn pixel_value(&self, byte: u8) -> f32 {
        self.table[byte as usize]
    }

    /// Batches borrowed images directly (no items): `images.len()` must be
    /// `labels.len() * 784`.
    pub fn batch_raw(&self, images: &[u8], labels: &[u8], device: &Device) -> MnistBatch {
        let n = labels.len();
        let values: Vec<f32> = images.iter().map(|&p| self.table[p as usize]).collect();
        let targets: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        MnistBatch {
            images: Tensor::from_data(TensorData::new(values, [n, MNIST_PIXELS]), device),
            targets: Tensor::from_data(TensorData::new(targets, [n]), device),
        }
    }
}

impl Batcher<MnistItem, MnistBatch> for MnistBatcher {
    fn batch(&self, items: Vec<MnistItem>, device: &Device) -> MnistBatch {
        let n = items.len();
        let mut values = Vec::with_capacity(n * MNIST_PIXELS);
        for item in &items {
            values.extend(item.image.iter().map(|&p| self.table[p as usize]));
        }
        let targets: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        MnistBatch {
            images: Tensor::from_data(TensorData::new(values, [n, MNIST_PIXELS]), device),
            targets: Tensor::from_data(TensorData::new(targets, [n]), device),
        }
    }
}

/// Writes an IDX image file and label file in the exact upstream format (for tests and for
/// users making small MNIST-like sets).
pub fn write_idx(
    images_path: &Path,
    labels_path: &Path,
    images: &[[u8; MNIST_PIXELS]],
    labels: &[u8],
) -> Result<()> {
    let mut img = Vec::with_capacity(16 + images.len() * MNIST_PIXELS);
    for v in [IDX_IMAGES_MAGIC, images.len() as u32, 28, 28] {
        img.extend_from_slice(&v.to_be_bytes());
    }
    for image in images {
        img.extend_from_slice(image);
    }
    let mut lab = Vec::with_capacity(8 + labels.len());
    for v in [IDX_LABELS_MAGIC, labels.len() as u32] {
        lab.extend_from_slice(&v.to_be_bytes());
    }
    lab.extend_from_slice(labels);
    std::fs::write(images_path, img).map_err(|e| DataError::io(images_path, e))?;
    std::fs::write(labels_path, lab).map_err(|e| DataError::io(labels_path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn small_set(dir: &Path, n: usize) -> (std::path::PathBuf, std::path::PathBuf) {
        let images: Vec<[u8; MNIST_PIXELS]> = (0..n)
            .map(|i| {
                let mut im = [0u8; MNIST_PIXELS];
                im[0] = i as u8;
                im[MNIST_PIXELS - 1] = 255;
                im
            })
            .collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let (ip, lp) = (
            dir.join("train-images-idx3-ubyte"),
            dir.join("train-labels-idx1-ubyte"),
        );
        write_idx(&ip, &lp, &images, &labels).unwrap();
        (ip, lp)
    }

    fn err_msg(r: Result<MnistDataset>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn loads_a_small_set() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = small_set(dir.path(), 25);
        let set = MnistDataset::from_idx_files(&ip, &lp).unwrap();
        assert_eq!(set.len(), 25);
        assert_eq!(set.label(13), Some(3));
        assert_eq!(set.image(7).unwrap()[0], 7);
        assert_eq!(set.class_counts(), [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
        let item = set.get(4).unwrap();
        assert_eq!((item.image[0], item.image[783], item.label), (4, 255, 4));
        assert!(set.get(25).is_err());
        let set2 = MnistDataset::from_dir(dir.path(), MnistSplit::Train).unwrap();
        assert_eq!(set2.labels(), set.labels());
    }

    #[test]
    fn a_split_loads_from_a_directory_holding_only_its_files() {
        // Only the training files are there: before, the directory was passed over for
        // lacking the test files, and the cache (or a download) was used instead.
        let dir = tempfile::tempdir().unwrap();
        small_set(dir.path(), 12);
        let set =
            MnistDataset::load(MnistKind::Mnist, MnistSplit::Train, Some(dir.path())).unwrap();
        assert_eq!(set.len(), 12);
        assert_eq!(set.label(11), Some(1));
    }

    #[test]
    fn reads_gzipped_idx() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = small_set(dir.path(), 5);
        for p in [&ip, &lp] {
            let raw = fs::read(p).unwrap();
            let gz_path =
                p.with_file_name(format!("{}.gz", p.file_name().unwrap().to_str().unwrap()));
            let mut enc = flate2::write::GzEncoder::new(
                fs::File::create(&gz_path).unwrap(),
                flate2::Compression::fast(),
            );
            enc.write_all(&raw).unwrap();
            enc.finish().unwrap();
            fs::remove_file(p).unwrap();
        }
        let set = MnistDataset::from_dir(dir.path(), MnistSplit::Train).unwrap();
        assert_eq!(set.labels(), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let msg = err_msg(MnistDataset::from_dir(dir.path(), MnistSplit::Test));
        assert!(msg.contains("t10k-images-idx3-ubyte"), "{msg}");
        assert!(msg.contains("not found"), "{msg}");
    }

    #[test]
    fn truncated_file() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = small_set(dir.path(), 3);
        let bytes = fs::read(&ip).unwrap();
        fs::write(&ip, &bytes[..bytes.len() - 100]).unwrap();
        let msg = err_msg(MnistDataset::from_idx_files(&ip, &lp));
        assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
        assert!(
            msg.contains(&format!("expected {} bytes", 16 + 3 * 784)),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("found {} bytes", 16 + 3 * 784 - 100)),
            "{msg}"
        );
        // Shorter than the header.
        let (ip, lp) = small_set(dir.path(), 3);
        fs::write(&lp, [0, 0, 8]).unwrap();
        let msg = err_msg(MnistDataset::from_idx_files(&ip, &lp));
        assert!(msg.contains("train-labels-idx1-ubyte"), "{msg}");
        assert!(msg.contains("expected 8 bytes, found 3 bytes"), "{msg}");
    }

    #[test]
    fn wrong_magic() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = small_set(dir.path(), 3);
        // An image file passed as the label file.
        let msg = err_msg(MnistDataset::from_idx_files(&ip, &ip));
        assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
        assert!(msg.contains("magic"), "{msg}");
        assert!(msg.contains("expected 0x00000801"), "{msg}");
        assert!(msg.contains("found 0x00000803"), "{msg}");
        let mut bytes = fs::read(&ip).unwrap();
        bytes[2] = 0x0d;
        fs::write(&ip, bytes).unwrap();
        let msg = err_msg(MnistDataset::from_idx_files(&ip, &lp));
        assert!(msg.contains("expected 0x00000803"), "{msg}");
        assert!(msg.contains("found 0x00000d03"), "{msg}");
    }

    #[test]
    fn wrong_dimensions() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = small_set(dir.path(), 3);
        let mut bytes = fs::read(&ip).unwrap();
        bytes[8..12].copy_from_slice(&32u32.to_be_bytes());
        fs::write(&ip, bytes).unwrap();
        let msg = err_msg(MnistDataset::from_idx_files(&ip, &lp));
        assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
        assert!(msg.contains("wrong dimensions"), "{msg}");
        assert!(msg.contains("expected 3x28x28, found 3x32x28"), "{msg}");
    }

    #[test]
    fn count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, _) = small_set(dir.path(), 3);
        let lp = dir.path().join("other-labels");
        let mut lab = IDX_LABELS_MAGIC.to_be_bytes().to_vec();
        lab.extend_from_slice(&4u32.to_be_bytes());
        lab.extend_from_slice(&[1, 2, 3, 4]);
        fs::write(&lp, lab).unwrap();
        let msg = err_msg(MnistDataset::from_idx_files(&ip, &lp));
        assert!(msg.contains("count mismatch"), "{msg}");
        assert!(
            msg.contains("train-images-idx3-ubyte holds 3 images"),
            "{msg}"
        );
        assert!(msg.contains("other-labels holds 4 labels"), "{msg}");
    }

    #[test]
    fn label_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = small_set(dir.path(), 3);
        let mut bytes = fs::read(&lp).unwrap();
        bytes[9] = 10;
        fs::write(&lp, bytes).unwrap();
        let msg = err_msg(MnistDataset::from_idx_files(&ip, &lp));
        assert!(msg.contains("train-labels-idx1-ubyte"), "{msg}");
        assert!(
            msg.contains("label 10 of record 1 is out of range"),
            "{msg}"
        );
    }

    #[test]
    fn validation_split_is_fixed_under_a_seed() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = small_set(dir.path(), 50);
        let set = MnistDataset::from_idx_files(&ip, &lp).unwrap();
        let (train, valid) = set.split_validation(10, None).unwrap();
        assert_eq!((train.len(), valid.len()), (40, 10));
        assert_eq!(valid.image(0).unwrap()[0], 40);
        let (t1, v1) = set.split_validation(10, Some(3)).unwrap();
        let (t2, v2) = set.split_validation(10, Some(3)).unwrap();
        assert_eq!(v1.rows, v2.rows);
        assert_eq!(t1.rows, t2.rows);
        let mut all: Vec<u32> = t1.rows.iter().chain(&v1.rows).copied().collect();
        all.sort();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        assert!(set.split_validation(51, None).is_err());
    }

    #[test]
    fn batcher_scales_and_shapes() {
        let device = Device::flex();
        let mut image = [0u8; MNIST_PIXELS];
        image[1] = 255;
        image[2] = 51;
        let items = vec![
            MnistItem { image, label: 7 },
            MnistItem {
                image: [255; MNIST_PIXELS],
                label: 2,
            },
        ];
        let batch = MnistBatcher::new().batch(items.clone(), &device);
        assert_eq!(batch.images.dims(), [2, 784]);
        assert_eq!(batch.images_nchw().dims(), [2, 1, 28, 28]);
        let v = batch.images.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(&v[..3], &[0.0, 1.0, 0.2]);
        assert_eq!(v[784], 1.0);
        let t = batch
            .targets
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        assert_eq!(t, vec![7, 2]);
        let norm = MnistBatcher::normalized(0.5, 0.25).batch(items, &device);
        let v = norm.images.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(&v[..2], &[-2.0, 2.0]);
    }
}
