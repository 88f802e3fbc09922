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
//! backward, see docs/speed.md).

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{IndexingUpdateOp, Int, Tensor};

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

    #[test]
    fn large_logits_do_not_overflow() {
        let device = Device::flex();
        let h = Tensor::<2>::from_floats([[100.0], [-100.0]], &device);
        let w = Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &device);
        let b = Tensor::<1>::zeros([3], &device);
        let targets = Tensor::<1, Int>::from_ints([2, 0], &device);
        let out = softmax_cross_entropy(h, w, b, targets, 1.0);
        // Row 1: logits 100, 200, 300 → loss ≈ 0; row 2: −100, −200, −300 → loss ≈ 0.
        assert!(out.mean.is_finite() && out.mean < 1e-6, "{}", out.mean);
        assert!(values(&out.d_w).iter().all(|v| v.is_finite()));
    }
}
