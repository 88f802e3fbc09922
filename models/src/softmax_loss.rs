//! The language models' loss: cross-entropy of a softmax layer over the vocabulary, per token.
//!
//! [`token_loss`] is the plain autodiff form. [`softmax_cross_entropy`] computes the same loss
//! of the softmax layer `logits = h·W + b` outside autodiff together with its gradients, by the
//! closed form of the softmax-cross-entropy derivative:
//!
//! ```text
//! p = softmax(logits),  L = scale · mean_n(log Σ_v exp(logits_nv) − logits_{n,y_n})
//! ∂L/∂logits = scale · (p − onehot(y)) / N
//! ∂L/∂h = ∂L/∂logits · Wᵀ,  ∂L/∂W = hᵀ · ∂L/∂logits,  ∂L/∂b = Σ_n ∂L/∂logits
//! ```
//!
//! With a 10,000-word vocabulary the `[tokens, vocab]` logits dominate a small model's step;
//! the closed form takes the exponential of them once and records no autodiff graph over them
//! (`bench-rhn --preset small`: 2,511 → 4,266 tokens/s together with the RHN's hand-written
//! backward, see docs/speed.md). On the CPU ([`highway_core::on_fast_path`]) it runs on the
//! host in one pass over the logits ([`softmax_kernel`](crate::softmax_kernel)); on other
//! devices, and as the readable form the tests hold it to, through Burn's tensor ops
//! ([`softmax_cross_entropy_tensors`]).

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};
use highway_core::host::HostValues;

use crate::softmax_kernel::{WeightLayout, softmax_cross_entropy_host};

/// Mean cross-entropy per token of `logits` `[batch, seq, vocab]` against `targets`
/// `[batch, seq]` (in autodiff when the logits are).
pub fn token_loss(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    let [b, s, v] = logits.dims();
    let device = logits.device();
    CrossEntropyLossConfig::new()
        .init(&device)
        .forward(logits.reshape([b * s, v]), targets.reshape([b * s]))
}

/// What [`softmax_cross_entropy`] returns: the mean loss per token (unscaled) and the gradients
/// of `scale ×` that loss, all without autodiff.
#[derive(Debug, Clone)]
pub struct SoftmaxLoss {
    /// Mean cross-entropy per token.
    pub mean: f64,
    /// `∂L/∂h` `[tokens, d]`.
    pub d_h: Tensor<2>,
    /// `∂L/∂W` `[d, vocab]`.
    pub d_w: Tensor<2>,
    /// `∂L/∂b` `[vocab]`.
    pub d_b: Tensor<1>,
}

/// The cross-entropy of the softmax layer `logits = h·w + b` against `targets` and the
/// gradients of `L = scale × mean loss` with respect to `h`, `w` and `b` (see the
/// [module docs](self)). The inputs are used as values (call it with tensors outside autodiff,
/// or their `inner()`); nothing is recorded.
///
/// # Shapes
///
/// - `h`: `[tokens, d]`, `w`: `[d, vocab]`, `b`: `[vocab]`, `targets`: `[tokens]`
pub fn softmax_cross_entropy(
    h: Tensor<2>,
    w: Tensor<2>,
    b: Tensor<1>,
    targets: Tensor<1, Int>,
    scale: f64,
) -> SoftmaxLoss {
    softmax_cross_entropy_in(h, w, WeightLayout::Columns, b, targets, scale)
}

/// [`softmax_cross_entropy`] of a softmax layer tied to the input embedding: `logits =
/// h·Eᵀ + b`, `embedding` `[vocab, d]`, and `∂L/∂E` (`d_w`) `[vocab, d]`.
pub fn softmax_cross_entropy_tied(
    h: Tensor<2>,
    embedding: Tensor<2>,
    b: Tensor<1>,
    targets: Tensor<1, Int>,
    scale: f64,
) -> SoftmaxLoss {
    softmax_cross_entropy_in(h, embedding, WeightLayout::Rows, b, targets, scale)
}

/// The loss with `w` stored as `layout` says: on the host on the CPU, else through the
/// tensor form.
fn softmax_cross_entropy_in(
    h: Tensor<2>,
    w: Tensor<2>,
    layout: WeightLayout,
    b: Tensor<1>,
    targets: Tensor<1, Int>,
    scale: f64,
) -> SoftmaxLoss {
    if crate::host::on_host_path(&h) {
        return softmax_cross_entropy_on_host(h, w, layout, b, targets, scale);
    }
    match layout {
        WeightLayout::Columns => softmax_cross_entropy_tensors(h, w, b, targets, scale),
        WeightLayout::Rows => {
            let out = softmax_cross_entropy_tensors(h, w.transpose(), b, targets, scale);
            SoftmaxLoss {
                d_w: out.d_w.transpose(),
                ..out
            }
        }
    }
}

/// [`softmax_cross_entropy`] (or [`softmax_cross_entropy_tied`], as `layout` says) on the
/// CPU: the values go to the host, where [`softmax_cross_entropy_host`] makes one pass over
/// the logits.
pub fn softmax_cross_entropy_on_host(
    h: Tensor<2>,
    w: Tensor<2>,
    layout: WeightLayout,
    b: Tensor<1>,
    targets: Tensor<1, Int>,
    scale: f64,
) -> SoftmaxLoss {
    let device = h.device();
    let w_dims = w.dims();
    let ([n, d], vocab) = (h.dims(), b.dims()[0]);
    let expected = match layout {
        WeightLayout::Columns => [d, vocab],
        WeightLayout::Rows => [vocab, d],
    };
    assert_eq!(
        w_dims, expected,
        "softmax weights of shape {w_dims:?} for h [{n}, {d}], {vocab} words and {layout:?}"
    );
    let targets: Vec<usize> = targets
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("int tensor values")
        .into_iter()
        .map(|t| usize::try_from(t).expect("a negative target token"))
        .collect();
    // Read in place (the model still holds `W`: `into_data` would copy it, 10 MB for a tied
    // `[10000, 256]` softmax).
    let (h, w, b) = (
        HostValues::read(&h),
        HostValues::read(&w),
        HostValues::read(&b),
    );
    let out = softmax_cross_entropy_host(&h, &w, layout, &b, &targets, scale);
    let tensor = |values: Vec<f32>, shape: Vec<usize>| TensorData::new(values, shape);
    SoftmaxLoss {
        mean: out.mean,
        d_h: Tensor::from_data(tensor(out.d_h, vec![n, d]), &device),
        d_w: Tensor::from_data(tensor(out.d_w, w_dims.to_vec()), &device),
        d_b: Tensor::from_data(tensor(out.d_b, vec![vocab]), &device),
    }
}

/// [`softmax_cross_entropy`] through Burn's tensor ops: the readable form, and the one every
/// backend other than the CPU runs.
pub fn softmax_cross_entropy_tensors(
    h: Tensor<2>,
    w: Tensor<2>,
    b: Tensor<1>,
    targets: Tensor<1, Int>,
    scale: f64,
) -> SoftmaxLoss {
    let [n, _] = h.dims();
    let vocab = w.dims()[1];
    let logits = h.clone().matmul(w.clone()) + b.unsqueeze_dim(0); // [n, vocab]
    let targets = targets.reshape([n, 1]);
    let target_logits = logits.clone().gather(1, targets.clone()); // [n, 1]
    let max = logits.clone().max_dim(1); // [n, 1]
    let e = (logits - max.clone()).exp();
    let sum = e.clone().sum_dim(1); // [n, 1]
    // log Σ exp − logit_y, per token.
    let losses = sum.clone().log() + max - target_logits;
    let mean = crate::host::read_scalar(losses.mean());
    // scale·(p − onehot)/N: p = e / sum.
    let g = scale / n as f64;
    let d_logits = (e * (sum.recip() * g)).scatter(
        1,
        targets.clone(),
        Tensor::full([n, 1], -g, &h.device()),
        IndexingUpdateOp::Add,
    );
    debug_assert_eq!(d_logits.dims(), [n, vocab]);
    SoftmaxLoss {
        mean,
        d_h: d_logits.clone().matmul(w.transpose()),
        d_w: h.transpose().matmul(d_logits.clone()),
        d_b: d_logits.sum_dim(0).reshape([vocab]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn equals_autodiff_of_the_token_loss() {
        let device = Device::flex().autodiff();
        let (n, d, vocab, scale) = (6, 4, 9, 3.0);
        let h = Tensor::<2>::random([n, d], Distribution::Normal(0.0, 2.0), &device).require_grad();
        let w =
            Tensor::<2>::random([d, vocab], Distribution::Normal(0.0, 2.0), &device).require_grad();
        let b = Tensor::<1>::random([vocab], Distribution::Default, &device).require_grad();
        let targets = Tensor::<1, Int>::from_ints([0, 8, 3, 3, 5, 1], &device);
        let logits = h.clone().matmul(w.clone()) + b.clone().unsqueeze_dim(0);
        let loss = token_loss(
            logits.reshape([1, n, vocab]),
            targets.clone().reshape([1, n]),
        );
        let expected = loss.clone().into_scalar::<f64>();
        let grads = (loss * scale).backward();

        let fused = softmax_cross_entropy(
            h.clone().inner(),
            w.clone().inner(),
            b.clone().inner(),
            targets.inner(),
            scale,
        );
        assert!(
            expected > 1.0,
            "a loss that is not trivially small: {expected}"
        );
        assert!(
            (fused.mean - expected).abs() < 1e-5 * expected,
            "{} vs {expected}",
            fused.mean
        );
        let pairs = [
            (values(&h.grad(&grads).unwrap()), values(&fused.d_h)),
            (values(&w.grad(&grads).unwrap()), values(&fused.d_w)),
        ];
        for (u, v) in pairs
            .iter()
            .chain([&(values(&b.grad(&grads).unwrap()), values(&fused.d_b))])
        {
            assert_eq!(u.len(), v.len());
            for (u, v) in u.iter().zip(v) {
                assert!((u - v).abs() < 1e-5 + 1e-4 * u.abs(), "{u} vs {v}");
            }
        }
    }

    /// The host pass equals the tensor form: odd shapes (rows not a multiple of the threads,
    /// a vocabulary not a multiple of the lanes), repeated targets, large and tiny logits.
    #[test]
    fn the_host_pass_equals_the_tensor_form() {
        let device = Device::flex();
        for (n, d, vocab, std) in [(7, 5, 37, 2.0), (1, 3, 16, 1.0), (23, 16, 301, 8.0)] {
            let h = Tensor::<2>::random([n, d], Distribution::Normal(0.0, std), &device);
            let w = Tensor::<2>::random([d, vocab], Distribution::Normal(0.0, std), &device);
            let b = Tensor::<1>::random([vocab], Distribution::Default, &device);
            let targets: Vec<i64> = (0..n as i64).map(|i| (i * 7 + 3) % vocab as i64).collect();
            let targets = Tensor::<1, Int>::from_ints(targets.as_slice(), &device);
            let reference = softmax_cross_entropy_tensors(
                h.clone(),
                w.clone(),
                b.clone(),
                targets.clone(),
                2.5,
            );
            let columns = softmax_cross_entropy_on_host(
                h.clone(),
                w.clone(),
                WeightLayout::Columns,
                b.clone(),
                targets.clone(),
                2.5,
            );
            // W stored as the embedding `[vocab, d]` (tied): ∂L/∂W comes back transposed.
            let rows = softmax_cross_entropy_on_host(
                h.clone(),
                w.clone().transpose(),
                WeightLayout::Rows,
                b.clone(),
                targets.clone(),
                2.5,
            );
            assert_eq!(rows.d_w.dims(), [vocab, d]);
            let rows = SoftmaxLoss {
                d_w: rows.d_w.transpose(),
                ..rows
            };
            for fast in [columns, rows] {
                assert!(
                    (fast.mean - reference.mean).abs() < 1e-5 * reference.mean.abs().max(1.0),
                    "{} vs {}",
                    fast.mean,
                    reference.mean
                );
                for (a, b) in [(&fast.d_h, &reference.d_h), (&fast.d_w, &reference.d_w)] {
                    assert_eq!(a.dims(), b.dims());
                    close(&values(a), &values(b));
                }
                assert_eq!(fast.d_b.dims(), reference.d_b.dims());
                close(&values(&fast.d_b), &values(&reference.d_b));
            }
        }
    }

    fn close(a: &[f32], b: &[f32]) {
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-5 * scale + 1e-7,
                "{x} vs {y} (max {scale})"
            );
        }
    }

    /// The loss of a softmax layer of one unit and three words, `w = [1, 2, 3]`, over two
    /// tokens whose `h` are `rows` (targets 2 and 0): on the host and through the tensor form.
    fn two_tokens(rows: [f32; 2]) -> (SoftmaxLoss, SoftmaxLoss) {
        let device = Device::flex();
        let h = Tensor::<2>::from_floats([[rows[0]], [rows[1]]], &device);
        let w = Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &device);
        let b = Tensor::<1>::zeros([3], &device);
        let targets = Tensor::<1, Int>::from_ints([2, 0], &device);
        let host = softmax_cross_entropy_on_host(
            h.clone(),
            w.clone(),
            WeightLayout::Columns,
            b.clone(),
            targets.clone(),
            1.0,
        );
        (host, softmax_cross_entropy_tensors(h, w, b, targets, 1.0))
    }

    /// A NaN logit makes the host pass's loss NaN, as the tensor form's: the training loop's
    /// NaN stop sees it.
    #[test]
    fn a_nan_logit_makes_the_host_loss_nan() {
        let (fast, reference) = two_tokens([1.0, f32::NAN]);
        assert!(fast.mean.is_nan() && reference.mean.is_nan());
    }

    #[test]
    fn large_logits_do_not_overflow() {
        let (host, out) = two_tokens([100.0, -100.0]);
        assert!(host.mean.is_finite() && host.mean < 1e-6, "{}", host.mean);
        // Row 1: logits 100, 200, 300 → loss ≈ 0; row 2: −100, −200, −300 → loss ≈ 0.
        assert!(out.mean.is_finite() && out.mean < 1e-6, "{}", out.mean);
        assert!(values(&out.d_w).iter().all(|v| v.is_finite()));
    }
}
