//! Data parallelism over the devices of one machine (`--devices`): every batch is split along
//! its batch dimension into one slice per device, each device runs the model's own
//! [`TrainStep`](burn::train::TrainStep) on its slice (in a thread of its own), and the
//! slices' gradients are moved to the main device and combined there, weighted by the
//! examples each slice holds:
//!
//! ```text
//! g = Σ_k (n_k / n) · g_k        g_k the gradient of slice k's mean loss, n_k its examples
//! ```
//!
//! so that `g` is the gradient of the whole batch's mean loss, whatever each step computes its
//! gradients with (autodiff's `backward`, or the RHN's hand-written backward through time: the
//! combination reads the [`GradientsParams`] each step returns, so no gradient is missed).
//! A language model's window is split by rows, and each slice's final state goes back into its
//! rows: the carried state is exactly the one-device state.
//!
//! Burn 0.22.1's own strategies do otherwise: its multi-device strategy gives each device its
//! own data loader (consecutive windows of a language model would land on different devices
//! and break the carried state), and its DDP strategy (CUDA, NCCL) all-reduces only the
//! gradients autodiff's `backward` produced.

use crate::{ClassBatch, LmOutput, LmWindow};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn::train::ClassificationOutput;

/// A training item that splits along its batch dimension.
pub trait SplitBatch: Sized {
    /// Its batch size (rows).
    fn batch_size(&self) -> usize;

    /// Rows `start..start + len`, moved to `device`.
    fn slice(&self, start: usize, len: usize, device: &Device) -> Self;
}

/// A step output that is put together from the outputs of the slices of one batch.
pub trait MergeBatch: Sized {
    /// The outputs of consecutive slices as one output on `device`.
    fn merge(parts: Vec<Self>, device: &Device) -> Self;
}

/// A recurrent state that splits and joins along its batch dimension (`()` for none).
pub trait BatchState: Sized {
    /// Rows `start..start + len`, moved to `device`.
    fn slice(&self, start: usize, len: usize, device: &Device) -> Self;

    /// Consecutive slices as one state on `device`.
    fn cat(parts: Vec<Self>, device: &Device) -> Self;
}

/// The sizes of `parts` slices of `n` rows, as equal as can be (the first ones one larger).
/// Slices of zero rows are left out, so fewer than `parts` sizes come back when `n < parts`.
pub fn slice_sizes(n: usize, parts: usize) -> Vec<usize> {
    let parts = parts.max(1);
    (0..parts)
        .map(|k| n / parts + usize::from(k < n % parts))
        .filter(|&s| s > 0)
        .collect()
}

fn rows<const D: usize, K>(
    t: &Tensor<D, K>,
    start: usize,
    len: usize,
    device: &Device,
) -> Tensor<D, K>
where
    K: burn::tensor::kind::Basic,
    Tensor<D, K>: Clone,
{
    t.clone().narrow(0, start, len).to_device(device)
}

fn cat_rows<const D: usize, K>(parts: Vec<Tensor<D, K>>, device: &Device) -> Tensor<D, K>
where
    K: burn::tensor::kind::Basic,
{
    Tensor::cat(parts.into_iter().map(|t| t.to_device(device)).collect(), 0)
}

/// `Σ w_k x_k / Σ w_k` of `(x_k, w_k)`.
fn weighted_mean(values: impl IntoIterator<Item = (f64, usize)>) -> f64 {
    let (sum, weight) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, w), (x, n)| (s + x * n as f64, w + n));
    sum / weight.max(1) as f64
}

impl<const D: usize> SplitBatch for ClassBatch<D> {
    fn batch_size(&self) -> usize {
        self.targets.dims()[0]
    }

    fn slice(&self, start: usize, len: usize, device: &Device) -> Self {
        ClassBatch {
            inputs: rows(&self.inputs, start, len, device),
            targets: rows(&self.targets, start, len, device),
        }
    }
}

impl MergeBatch for ClassificationOutput {
    fn merge(parts: Vec<Self>, device: &Device) -> Self {
        // The slices' losses weighted by their sizes, on `device`: nothing read to the host.
        let total: usize = parts.iter().map(|p| p.targets.dims()[0]).sum();
        let loss = parts
            .iter()
            .map(|p| {
                let weight = p.targets.dims()[0] as f64 / total.max(1) as f64;
                p.loss.clone().to_device(device).reshape([1]) * weight
            })
            .reduce(|a, b| a + b)
            .expect("at least one slice");
        let (outputs, targets): (Vec<_>, Vec<_>) =
            parts.into_iter().map(|p| (p.output, p.targets)).unzip();
        ClassificationOutput {
            loss,
            output: cat_rows(outputs, device),
            targets: cat_rows::<1, Int>(targets, device),
        }
    }
}

impl<S: BatchState> SplitBatch for LmWindow<S> {
    fn batch_size(&self) -> usize {
        self.tokens.dims()[0]
    }

    fn slice(&self, start: usize, len: usize, device: &Device) -> Self {
        LmWindow {
            tokens: rows(&self.tokens, start, len, device),
            targets: rows(&self.targets, start, len, device),
            state: self.state.as_ref().map(|s| s.slice(start, len, device)),
        }
    }
}

impl<S: BatchState> MergeBatch for LmOutput<S> {
    fn merge(parts: Vec<Self>, device: &Device) -> Self {
        let mean_loss = weighted_mean(parts.iter().map(|p| (p.mean_loss, p.tokens)));
        let tokens = parts.iter().map(|p| p.tokens).sum();
        let states: Option<Vec<S>> = parts.into_iter().map(|p| p.state).collect();
        LmOutput {
            loss: Tensor::from_data(TensorData::new(vec![mean_loss as f32], [1]), device),
            mean_loss,
            tokens,
            state: states.map(|s| S::cat(s, device)),
        }
    }
}

// A carried state starts a new graph in every window. Burn's `detach` keeps a tensor that
// required gradients a (new) tracked leaf, so two slices narrowed from it would share that leaf
// and the second backward would find it consumed: every slice and join is an untracked copy.

/// `t` outside the autodiff graph: its values, tracked by nothing.
fn untracked<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    if t.is_autodiff() {
        Tensor::from_inner(t.inner())
    } else {
        t
    }
}

impl BatchState for rhn::RhnState {
    fn slice(&self, start: usize, len: usize, device: &Device) -> Self {
        rhn::RhnState::new(untracked(rows(&self.s, start, len, device)))
    }

    fn cat(parts: Vec<Self>, device: &Device) -> Self {
        let s = cat_rows(parts.into_iter().map(|p| p.s).collect(), device);
        rhn::RhnState::new(untracked(s))
    }
}

impl BatchState for burn::nn::LstmState<2> {
    fn slice(&self, start: usize, len: usize, device: &Device) -> Self {
        burn::nn::LstmState::new(
            untracked(rows(&self.cell, start, len, device)),
            untracked(rows(&self.hidden, start, len, device)),
        )
    }

    fn cat(parts: Vec<Self>, device: &Device) -> Self {
        let (cell, hidden): (Vec<_>, Vec<_>) =
            parts.into_iter().map(|p| (p.cell, p.hidden)).unzip();
        burn::nn::LstmState::new(
            untracked(cat_rows(cell, device)),
            untracked(cat_rows(hidden, device)),
        )
    }
}

/// A state per layer (a stack of LSTM layers): each layer's state split and joined alike.
impl<S: BatchState> BatchState for Vec<S> {
    fn slice(&self, start: usize, len: usize, device: &Device) -> Self {
        self.iter().map(|s| s.slice(start, len, device)).collect()
    }

    fn cat(parts: Vec<Self>, device: &Device) -> Self {
        let layers = parts.first().map_or(0, Vec::len);
        let mut per_layer: Vec<Vec<S>> = (0..layers).map(|_| Vec::new()).collect();
        for part in parts {
            assert_eq!(
                part.len(),
                layers,
                "slices with different numbers of layers"
            );
            for (l, s) in part.into_iter().enumerate() {
                per_layer[l].push(s);
            }
        }
        per_layer.into_iter().map(|p| S::cat(p, device)).collect()
    }
}

/// `Σ_k w_k · g_k` of every parameter of `model`, on `device`. A parameter missing from a
/// slice's gradients (no gradient reached it there) counts as zero.
pub fn combine_gradients<M: Module>(
    model: &M,
    parts: Vec<(f64, GradientsParams)>,
    device: &Device,
) -> GradientsParams {
    struct Combine<'a> {
        parts: &'a [(f64, GradientsParams)],
        device: &'a Device,
        out: GradientsParams,
    }
    impl ModuleVisitor for Combine<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let sum = self
                .parts
                .iter()
                .filter_map(|(w, g)| g.get::<D>(param.id).map(|g| g.to_device(self.device) * *w))
                .reduce(|a, b| a + b);
            if let Some(sum) = sum {
                self.out.register(param.id, sum);
            }
        }
    }
    let mut combine = Combine {
        parts: &parts,
        device,
        out: GradientsParams::new(),
    };
    model.visit(&mut combine);
    combine.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_the_batch_once_as_evenly_as_possible() {
        assert_eq!(slice_sizes(10, 3), vec![4, 3, 3]);
        assert_eq!(slice_sizes(2, 4), vec![1, 1]);
        assert_eq!(slice_sizes(7, 1), vec![7]);
        for (n, k) in [(128, 2), (20, 3), (5, 5), (1, 2)] {
            assert_eq!(slice_sizes(n, k).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn windows_split_and_merge_back_to_the_same_rows() {
        let device = Device::flex();
        let tokens = Tensor::<2, Int>::from_ints([[1, 2], [3, 4], [5, 6]], &device);
        let state = rhn::RhnState::new(Tensor::from_floats([[0.1], [0.2], [0.3]], &device));
        let window = LmWindow {
            tokens: tokens.clone(),
            targets: tokens.clone(),
            state: Some(state),
        };
        let (a, b) = (window.slice(0, 2, &device), window.slice(2, 1, &device));
        assert_eq!(a.tokens.dims(), [2, 2]);
        let out = |w: &LmWindow<rhn::RhnState>, loss: f64| LmOutput {
            loss: Tensor::from_floats([loss as f32], &device),
            mean_loss: loss,
            tokens: w.tokens.dims()[0] * 2,
            state: w.state.clone(),
        };
        let merged = LmOutput::merge(vec![out(&a, 1.0), out(&b, 4.0)], &device);
        assert_eq!(merged.tokens, 6);
        assert!((merged.mean_loss - 2.0).abs() < 1e-12);
        let s = merged
            .state
            .unwrap()
            .s
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(s, vec![0.1, 0.2, 0.3]);
    }
}
