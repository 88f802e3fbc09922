//! A Burn [`DataLoader`] whose order and augmentation come from `(seed, epoch)` alone.
//!
//! burn-train's own loaders re-seed their shuffle when a run is restored, so a resumed epoch
//! `k` would see epoch 1's order. This loader draws epoch `e`'s permutation from
//! [`epoch_permutation`]`(n, seed, e)`, with `e` read from an [`EpochClock`] that the training
//! strategy sets before each epoch: a run killed and resumed sees the same batches as an
//! uninterrupted one. [`BpttLoader`] hands out a token stream's truncated-BPTT windows in
//! order, for the language models.

use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{ClassBatch, LmWindow};
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;
use datasets::Bptt;

use super::{LabelledData, epoch_permutation};

/// The epoch (0-based) the loaders of a run are in; shared between the strategy and them.
#[derive(Debug, Clone, Default)]
pub struct EpochClock(Arc<AtomicUsize>);

impl EpochClock {
    /// Sets the current epoch (0-based).
    pub fn set(&self, epoch: usize) {
        self.0.store(epoch, Ordering::SeqCst);
    }

    /// The current epoch (0-based).
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Batches of a [`LabelledData`] set: shuffled per `(seed, epoch)` with training-time
/// augmentation, or in order without it for evaluation.
#[derive(Clone)]
pub struct EpochLoader<const D: usize> {
    data: Arc<dyn LabelledData<D>>,
    batch_size: usize,
    /// `Some(seed)`: training order and augmentation; `None`: evaluation, in order.
    shuffle_seed: Option<u64>,
    clock: EpochClock,
    range: Range<usize>,
    device: Device,
}

impl<const D: usize> EpochLoader<D> {
    /// Training batches of `data`, shuffled per `(seed, clock's epoch)`, augmented.
    pub fn train(
        data: Arc<dyn LabelledData<D>>,
        batch_size: usize,
        seed: u64,
        clock: EpochClock,
        device: &Device,
    ) -> Self {
        let range = 0..data.len();
        Self {
            data,
            batch_size,
            shuffle_seed: Some(seed),
            clock,
            range,
            device: device.clone(),
        }
    }

    /// Evaluation batches of `data`, in order, not augmented.
    pub fn eval(data: Arc<dyn LabelledData<D>>, batch_size: usize, device: &Device) -> Self {
        let range = 0..data.len();
        Self {
            data,
            batch_size,
            shuffle_seed: None,
            clock: EpochClock::default(),
            range,
            device: device.clone(),
        }
    }

    /// The indices of one pass, in order.
    fn order(&self) -> (Vec<usize>, usize) {
        let epoch = self.clock.get();
        let n = self.range.len();
        let order = match self.shuffle_seed {
            Some(seed) => epoch_permutation(n, seed, epoch)
                .into_iter()
                .map(|i| self.range.start + i)
                .collect(),
            None => self.range.clone().collect(),
        };
        (order, epoch)
    }
}

struct EpochIter<'a, const D: usize> {
    loader: &'a EpochLoader<D>,
    order: Vec<usize>,
    epoch: usize,
    next: usize,
}

impl<const D: usize> Iterator for EpochIter<'_, D> {
    type Item = Result<ClassBatch<D>, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.loader.batch_size).min(self.order.len());
        let chunk = &self.order[self.next..end];
        self.next = end;
        let (inputs, targets) = self.loader.data.batch(
            chunk,
            self.loader.shuffle_seed.is_some(),
            self.epoch,
            &self.loader.device,
        );
        Some(Ok(ClassBatch { inputs, targets }))
    }
}

impl<const D: usize> DataLoaderIterator<ClassBatch<D>> for EpochIter<'_, D> {
    fn progress(&self) -> Progress {
        Progress::new(self.next, self.order.len(), Some("items".to_string()))
    }
}

impl<const D: usize> DataLoader<ClassBatch<D>> for EpochLoader<D> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ClassBatch<D>> + 'a> {
        let (order, epoch) = self.order();
        Box::new(EpochIter {
            loader: self,
            order,
            epoch,
            next: 0,
        })
    }

    fn num_items(&self) -> usize {
        self.range.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ClassBatch<D>>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.clone()
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ClassBatch<D>>> {
        let start = (self.range.start + start).min(self.range.end);
        let end = (self.range.start + end).clamp(start, self.range.end);
        Arc::new(Self {
            range: start..end,
            ..self.clone()
        })
    }
}

/// The truncated-BPTT windows of a token stream, in order (`max_windows`: the first that
/// many; 0 = all): the items of a language model's epoch. Each window starts with no state;
/// the strategy carries the previous window's final state into it.
pub struct BpttLoader<S> {
    data: Arc<Bptt>,
    windows: Range<usize>,
    device: Device,
    state: PhantomData<fn() -> S>,
}

impl<S> Clone for BpttLoader<S> {
    fn clone(&self) -> Self {
        Self {
            data: self.data.clone(),
            windows: self.windows.clone(),
            device: self.device.clone(),
            state: PhantomData,
        }
    }
}

impl<S> BpttLoader<S> {
    /// The first `max_windows` windows of `data` (0 = all), on `device`.
    pub fn new(data: Arc<Bptt>, max_windows: usize, device: &Device) -> Self {
        let n = match max_windows {
            0 => data.num_windows(),
            m => m.min(data.num_windows()),
        };
        Self {
            data,
            windows: 0..n,
            device: device.clone(),
            state: PhantomData,
        }
    }
}

struct BpttIter<'a, S> {
    loader: &'a BpttLoader<S>,
    next: usize,
}

impl<S> Iterator for BpttIter<'_, S> {
    type Item = Result<LmWindow<S>, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let k = self.loader.windows.start + self.next;
        if k >= self.loader.windows.end {
            return None;
        }
        self.next += 1;
        let window = self.loader.data.window(k)?;
        let (tokens, targets) = window.to_tensors(&self.loader.device);
        Some(Ok(LmWindow {
            tokens,
            targets,
            state: None,
        }))
    }
}

impl<S> DataLoaderIterator<LmWindow<S>> for BpttIter<'_, S> {
    fn progress(&self) -> Progress {
        Progress::new(self.next, self.loader.windows.len(), Some("windows".into()))
    }
}

impl<S: Send + 'static> DataLoader<LmWindow<S>> for BpttLoader<S> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<LmWindow<S>> + 'a> {
        Box::new(BpttIter {
            loader: self,
            next: 0,
        })
    }

    /// Windows, not tokens: one item is one window.
    fn num_items(&self) -> usize {
        self.windows.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<LmWindow<S>>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.clone()
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<LmWindow<S>>> {
        let start = (self.windows.start + start).min(self.windows.end);
        let end = (self.windows.start + end).clamp(start, self.windows.end);
        Arc::new(Self {
            windows: start..end,
            ..self.clone()
        })
    }
}
