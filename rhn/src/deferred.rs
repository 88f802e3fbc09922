//! Deferred recurrent-weight gradients: one matrix product per micro-layer per window.
//!
//! With plain autodiff, every use of a recurrent matrix `R_l` (once per time step) adds its own
//! weight gradient `s_{l−1}ᵀ·g` to the total: `seq` products `[d, batch] × [batch, 2d]` with an
//! inner dimension of only `batch` (20 for PTB), each writing a full `d × 2d` matrix. These are
//! the most expensive operations of an RHN training step on a CPU.
//!
//! [`Rhn::forward_deferred`](crate::Rhn::forward_deferred) instead uses the recurrent weights as
//! constants of the per-step products (their values without autodiff, so autodiff neither
//! computes nor accumulates per-step weight gradients), records the state `s_{l−1}` (after the
//! `h` mask) that enters each product, and adds a zero-valued leaf ("probe") to each product, so
//! that back-propagation leaves `g = ∂L/∂z` in the gradients. [`RhnTape::complete`] then computes, per micro-layer,
//!
//! ```text
//! ∂L/∂R_l = Σ_t s_{l−1,t}ᵀ g_{l,t} = Sᵀ·G     (one product [d, seq·batch] × [seq·batch, 2d])
//! ∂L/∂b_l = Σ_t Σ_rows g_{l,t}
//! ```
//!
//! and stores them as the gradients of `R_H,l`, `R_T,l` (`R_C,l`) and their biases. The result
//! equals plain autodiff (tested); only the order of the summation differs.
//!
//! ```
//! use burn::prelude::*;
//! use burn::tensor::Distribution;
//! use rhn::RhnConfig;
//!
//! let device = Device::flex().autodiff();
//! let rhn = RhnConfig::new(4, 6, 2).init(&device);
//! let x = Tensor::<3>::random([3, 5, 4], Distribution::Default, &device);
//! let (y, _state, tape) = rhn.forward_deferred(x, None, None);
//! let mut grads = y.sum().backward();
//! tape.complete(&rhn, &mut grads); // fills in the R_l and b_l gradients
//! assert!(rhn.cell.layers[1].r_h.weight.val().grad(&grads).is_some());
//! ```

use burn::tensor::Tensor;

/// What [`Rhn::forward_deferred`](crate::Rhn::forward_deferred) recorded: the inputs of every
/// recurrent product and the probes that catch their output gradients. Pass it to
/// [`RhnTape::complete`] after `backward`.
#[derive(Debug, Default)]
pub struct RhnTape {
    /// `[micro-layer][step]`: the (masked) state entering the product, without autodiff.
    states: Vec<Vec<Tensor<2>>>,
    /// `[micro-layer][step]`: the zero leaves added to the products `[batch, k·d]`.
    probes: Vec<Vec<Tensor<2>>>,
}

impl RhnTape {
    pub(crate) fn new(depth: usize) -> Self {
        Self {
            states: vec![Vec::new(); depth],
            probes: vec![Vec::new(); depth],
        }
    }

    /// Whether nothing was recorded (a forward without autodiff).
    pub fn is_empty(&self) -> bool {
        self.probes.iter().all(Vec::is_empty)
    }

    /// Records micro-layer `l`'s product input and returns `z + probe` (same value).
    pub(crate) fn record(
        &mut self,
        l: usize,
        s_in: &Tensor<2>,
        z: Vec<Tensor<2>>,
    ) -> Vec<Tensor<2>> {
        assert_eq!(z.len(), 1, "deferred gradients need the fused products");
        self.states[l].push(s_in.clone().inner());
        z.into_iter()
            .map(|z| {
                let probe = Tensor::<2>::zeros(z.dims(), &z.device()).require_grad();
                self.probes[l].push(probe.clone());
                z + probe
            })
            .collect()
    }

    /// Computes the recurrent weight and bias gradients from the probes' gradients in `grads`
    /// (one product per micro-layer) and adds them to `grads` for `rhn`'s parameters, where
    /// `GradientsParams::from_grads` and the optimisers find them. Call it once per tape, after
    /// `loss.backward()` and before building the optimiser's gradients.
    ///
    /// # Panics
    ///
    /// If `rhn` is not the layer that recorded the tape (shapes differ).
    #[cfg(feature = "autodiff")]
    pub fn complete(self, rhn: &crate::Rhn, grads: &mut burn::tensor::Gradients) {
        if self.is_empty() {
            return;
        }
        let d = rhn.d_hidden();
        for (l, (states, probes)) in self.states.into_iter().zip(self.probes).enumerate() {
            let g: Vec<Tensor<2>> = probes
                .iter()
                .map(|p| {
                    p.grad_remove(grads)
                        .unwrap_or_else(|| Tensor::zeros(p.dims(), &p.device()).inner())
                })
                .collect();
            let g = Tensor::cat(g, 0); // [steps·batch, k·d]
            let s = Tensor::cat(states, 0); // [steps·batch, d]
            let dw = s.transpose().matmul(g.clone()); // [d, k·d]
            let db = g.sum_dim(0).squeeze_dim::<1>(0); // [k·d]
            let layer = &rhn.cell.layers[l];
            let maps = [Some(&layer.r_h), Some(&layer.r_t), layer.r_c.as_ref()];
            for (k, map) in maps.into_iter().flatten().enumerate() {
                accumulate(&map.weight.val(), grads, dw.clone().narrow(1, k * d, d));
                let bias = map.bias.as_ref().expect("recurrent maps have a bias").val();
                accumulate(&bias, grads, db.clone().narrow(0, k * d, d));
            }
        }
    }
}

/// Adds `grad` to the gradient of `param` in `grads`.
#[cfg(feature = "autodiff")]
fn accumulate<const D: usize>(
    param: &Tensor<D>,
    grads: &mut burn::tensor::Gradients,
    grad: Tensor<D>,
) {
    let grad = match param.grad_remove(grads) {
        Some(previous) => previous + grad,
        None => grad,
    };
    param.grad_replace(grads, grad);
}

#[cfg(test)]
mod tests {
    use crate::test_util::{autodiff_device, values};
    use crate::{CarryMode, RhnConfig, RhnMasks, RhnState, VariationalDropoutConfig};
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::nn::Initializer;
    use burn::tensor::{Distribution, Gradients, Tensor};

    /// Every float parameter's gradient, in visit order.
    struct Collect<'a>(&'a Gradients, Vec<Vec<f32>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = param
                .val()
                .grad(self.0)
                .expect("every parameter has a gradient");
            self.1.push(values(&g));
        }
    }

    #[test]
    fn deferred_gradients_equal_plain_autodiff() {
        let device = autodiff_device();
        for (carry, fused) in [(CarryMode::Coupled, true), (CarryMode::Free, false)] {
            let rhn = RhnConfig::new(3, 4, 3)
                .with_carry(carry)
                .with_fused(fused)
                .with_transform_bias(-0.5)
                .with_initializer(Initializer::Uniform {
                    min: -0.6,
                    max: 0.6,
                })
                .init(&device);
            let x = Tensor::<3>::random([2, 5, 3], Distribution::Default, &device);
            let s0 = RhnState::new(Tensor::random([2, 4], Distribution::Default, &device));
            let r = Tensor::<3>::random([2, 5, 4], Distribution::Default, &device);
            let masks = RhnMasks::sample(
                &VariationalDropoutConfig::new()
                    .with_input(0.3)
                    .with_hidden(0.3),
                2,
                None,
                3,
                4,
                &device,
            );
            // The loss also reads the final state, as the next window would.
            let loss = |y: Tensor<3>, s: RhnState| (y * r.clone()).sum() + s.s.powi_scalar(2).sum();

            let (y, s) = rhn.forward(x.clone(), Some(s0.clone()), Some(&masks));
            let plain = loss(y.clone(), s).backward();
            let (y2, s2, tape) = rhn.forward_deferred(x.clone(), Some(s0.clone()), Some(&masks));
            for (u, v) in values(&y2).iter().zip(values(&y)) {
                assert!((u - v).abs() < 1e-5);
            }
            assert!(!tape.is_empty());
            let mut deferred = loss(y2, s2).backward();
            tape.complete(&rhn, &mut deferred);

            let mut a = Collect(&plain, Vec::new());
            rhn.visit(&mut a);
            let mut b = Collect(&deferred, Vec::new());
            rhn.visit(&mut b);
            assert_eq!(a.1.len(), b.1.len());
            for (pa, pb) in a.1.iter().zip(&b.1) {
                for (u, v) in pa.iter().zip(pb) {
                    assert!((u - v).abs() <= 1e-4 + 1e-4 * u.abs(), "{u} vs {v}");
                }
            }
        }
    }

    #[test]
    fn without_autodiff_the_tape_is_empty_and_complete_is_a_no_op() {
        let device = crate::test_util::device();
        let rhn = RhnConfig::new(3, 4, 2).init(&device);
        let x = Tensor::<3>::random([2, 3, 3], Distribution::Default, &device);
        let (y, _, tape) = rhn.forward_deferred(x.clone(), None, None);
        assert!(tape.is_empty());
        assert_eq!(values(&y), values(&rhn.forward(x, None, None).0));
    }
}
