//! The `datasets` crate's MNIST, Fashion-MNIST and CIFAR sets as the classifier training's
//! [`LabelledData`] ([`fit_classifier`](super::fit_classifier)).

use burn::data::dataset::Dataset;
use burn::tensor::{Device, Int, Tensor};
use datasets::{CifarBatcher, CifarDataset, CifarTransform, MnistBatcher, MnistDataset};

use super::LabelledData;

/// MNIST or Fashion-MNIST as flat `[batch, 784]` images (MLPs) or `[batch, 1, 28, 28]` (conv
/// nets), pixels scaled to `[0, 1]` (or normalised with the batcher's mean/std).
#[derive(Debug, Clone)]
pub struct MnistData {
    /// The images and labels.
    pub data: MnistDataset,
    /// Pixel scaling.
    pub batcher: MnistBatcher,
}

impl MnistData {
    /// Wraps a loaded set with pixels in `[0, 1]`.
    pub fn new(data: MnistDataset) -> Self {
        Self {
            data,
            batcher: MnistBatcher::new(),
        }
    }

    /// The first `n` examples only (for short runs); all if `n` is larger.
    pub fn take(self, n: usize) -> anyhow::Result<Self> {
        if n >= self.data.len() {
            return Ok(self);
        }
        // `split_validation` keeps the order and puts the last examples in the second part.
        let (first, _) = self.data.split_validation(self.data.len() - n, None)?;
        Ok(Self {
            data: first,
            batcher: self.batcher,
        })
    }

    fn gather(&self, indices: &[usize]) -> (Vec<u8>, Vec<u8>) {
        let mut images = Vec::with_capacity(indices.len() * 784);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.data.image(i).expect("index in range"));
            labels.push(self.data.label(i).expect("index in range"));
        }
        (images, labels)
    }
}

impl LabelledData<2> for MnistData {
    fn len(&self) -> usize {
        self.data.len()
    }

    fn batch(
        &self,
        indices: &[usize],
        _train: bool,
        _epoch: usize,
        device: &Device,
    ) -> (Tensor<2>, Tensor<1, Int>) {
        let (images, labels) = self.gather(indices);
        let b = self.batcher.batch_raw(&images, &labels, device);
        (b.images, b.targets)
    }
}

impl LabelledData<4> for MnistData {
    fn len(&self) -> usize {
        self.data.len()
    }

    fn batch(
        &self,
        indices: &[usize],
        _train: bool,
        _epoch: usize,
        device: &Device,
    ) -> (Tensor<4>, Tensor<1, Int>) {
        let (images, labels) = self.gather(indices);
        let b = self.batcher.batch_raw(&images, &labels, device);
        (b.images_nchw(), b.targets)
    }
}

/// CIFAR-10/100 as `[batch, 3, 32, 32]` images: global contrast normalisation always, and for
/// training batches the augmentation of `train` (random crop of the zero-padded image, mirror),
/// drawn from a stream fixed by `(train.seed, epoch, first index of the batch)`, so that a
/// resumed run sees the same augmented batches as an uninterrupted one.
#[derive(Debug, Clone)]
pub struct CifarData {
    /// The images and labels.
    pub data: CifarDataset,
    /// Preprocessing and augmentation of training batches.
    pub train: CifarTransform,
}

impl CifarData {
    /// Wraps a loaded set; `train` applies to training batches, evaluation batches get the
    /// same contrast normalisation without augmentation.
    pub fn new(data: CifarDataset, train: CifarTransform) -> Self {
        Self { data, train }
    }

    /// The first `n` examples only (for short runs); all if `n` is larger.
    pub fn take(self, n: usize) -> anyhow::Result<Self> {
        if n >= self.data.len() {
            return Ok(self);
        }
        // `split_validation` keeps the order and puts the last examples in the second part.
        let (first, _) = self.data.split_validation(self.data.len() - n, None)?;
        Ok(Self {
            data: first,
            train: self.train,
        })
    }
}

impl LabelledData<4> for CifarData {
    fn len(&self) -> usize {
        self.data.len()
    }

    fn batch(
        &self,
        indices: &[usize],
        train: bool,
        epoch: usize,
        device: &Device,
    ) -> (Tensor<4>, Tensor<1, Int>) {
        let items: Vec<_> = indices
            .iter()
            .map(|&i| self.data.get(i).expect("index in range"))
            .collect();
        let transform = if train {
            self.train
        } else {
            CifarTransform::eval().with_gcn(self.train.gcn)
        };
        let stream = ((epoch as u64) << 32) | indices.first().copied().unwrap_or(0) as u64;
        let b = CifarBatcher::new(transform).batch_stream(&items, stream, device);
        (b.images, b.targets)
    }
}
