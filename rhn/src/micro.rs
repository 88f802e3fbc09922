//! One highway micro-layer of the RHN, element-wise, forward and backward.
//!
//! Zilly, Srivastava, Koutník & Schmidhuber, *Recurrent Highway Networks* (arXiv:1607.03474),
//! eq. (6)-(8). From the gate pre-activations of micro-layer `l` (`z_H = W_H x_t·[l = 1] +
//! R_H,l s_{l−1} + b_H,l`, likewise `z_T`, `z_C`) and the previous state `s_{l−1}`:
//!
//! ```text
//! h_l = tanh z_H,   t_l = σ(z_T),   c_l = σ(z_C)            (c_l only for a free carry gate)
//! s_l = h_l·t_l + s_{l−1}·(1 − t_l)                          (coupled carry)
//! s_l = h_l·t_l + s_{l−1}·c_l                                (free carry)
//! ```
//!
//! and back, from `∂s_l = ∂L/∂s_l`:
//!
//! ```text
//! ∂z_H = ∂s_l·t_l·(1 − h_l²)
//! ∂z_T = ∂s_l·(h_l − s_{l−1})·t_l·(1 − t_l)                  (free carry: ∂s_l·h_l·t_l·(1 − t_l))
//! ∂z_C = ∂s_l·s_{l−1}·c_l·(1 − c_l)
//! ∂s_{l−1} = ∂s_l·(1 − t_l)  (free: ∂s_l·c_l)  + the recurrent products' share, R_l·∂z
//! ```
//!
//! The caller does the matrix products (`z` from `s_{l−1}`, and `R_l·∂z` back); everything here
//! is element-wise, so it serves any layout: `[batch, d]` in [`RhnCell`](crate::RhnCell) and
//! `[d, batch]` in the hand-written backward through time ([`RhnTape`](crate::RhnTape)).

use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use highway_core::{GateOverride, highway_combine};

/// The activations of one micro-layer: what its output and its backward need.
#[derive(Debug, Clone)]
pub(crate) struct MicroLayer {
    /// `h_l = tanh z_H`.
    pub h: Tensor<2>,
    /// `t_l = σ(z_T)`, or 0 for a lesioned micro-layer.
    pub t: Tensor<2>,
    /// `c_l = σ(z_C)` of a free carry gate (`None`: coupled, `1 − t_l`).
    pub c: Option<Tensor<2>>,
}

impl MicroLayer {
    /// The gates from the pre-activations in gate order `z_H`, `z_T` (`z_C`). With `lesion`
    /// the transform gate is forced to 0 (pure carry, [`GateOverride::Carry`]); a lesioned
    /// micro-layer has no [`backward`](Self::backward).
    ///
    /// # Panics
    ///
    /// If fewer than two pre-activations are given.
    pub fn activate(z: impl IntoIterator<Item = Tensor<2>>, lesion: bool) -> Self {
        let mut z = z.into_iter();
        let h = z.next().expect("z_H").tanh();
        let mut t = sigmoid(z.next().expect("z_T"));
        if lesion {
            t = GateOverride::Carry.apply(t);
        }
        let c = z.next().map(sigmoid);
        Self { h, t, c }
    }

    /// The new state `s_l` from the previous one.
    pub fn output(&self, s_prev: Tensor<2>) -> Tensor<2> {
        highway_combine(self.h.clone(), self.t.clone(), self.c.clone(), s_prev)
    }

    /// The backward from `ds = ∂L/∂s_l`: the pre-activations' gradients in gate order
    /// (`∂z_H`, `∂z_T`, `∂z_C`) and the carry path's share of `∂L/∂s_{l−1}`, to which the
    /// caller adds the recurrent products' share (`R_l·∂z`, masked).
    #[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
    pub fn backward(self, ds: Tensor<2>, s_prev: Tensor<2>) -> (Vec<Tensor<2>>, Tensor<2>) {
        let Self { h, t, c } = self;
        let dh = ds.clone() * t.clone();
        let one_minus_t = t.clone().neg() + 1.0;
        let (dt, carry) = match &c {
            None => (
                ds.clone() * (h.clone() - s_prev.clone()),
                one_minus_t.clone(),
            ),
            Some(c) => (ds.clone() * h.clone(), c.clone()),
        };
        let mut dz = vec![dh.clone() - dh * h.clone() * h, dt * t * one_minus_t];
        if let Some(c) = c {
            let dc = ds.clone() * s_prev;
            dz.push(dc * c.clone() * (c.neg() + 1.0));
        }
        (dz, ds * carry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, autodiff_device, values};
    use burn::tensor::Distribution;

    /// The backward equals autodiff of the forward, for both carry modes.
    #[test]
    fn backward_is_the_gradient_of_the_output() {
        let device = autodiff_device();
        for free in [false, true] {
            let leaf = || Tensor::<2>::random([3, 4], Distribution::Default, &device);
            let z: Vec<_> = (0..2 + usize::from(free))
                .map(|_| leaf().require_grad())
                .collect();
            let s_prev = leaf().require_grad();
            let cotangent = leaf();
            let micro = MicroLayer::activate(z.clone(), false);
            let grads = (micro.output(s_prev.clone()) * cotangent.clone())
                .sum()
                .backward();
            let inner = MicroLayer {
                h: micro.h.inner(),
                t: micro.t.inner(),
                c: micro.c.map(Tensor::inner),
            };
            let (dz, ds_carry) = inner.backward(cotangent.clone().inner(), s_prev.clone().inner());
            for (z, dz) in z.iter().zip(&dz) {
                assert_close(dz, &values(&z.grad(&grads).unwrap()), 1e-6);
            }
            assert_close(&ds_carry, &values(&s_prev.grad(&grads).unwrap()), 1e-6);
        }
    }

    #[test]
    fn hand_computed_coupled_step_and_lesion() {
        // z_H = 0.5, z_T = 0, s = 2: h = tanh 0.5 = 0.46211716, t = 0.5,
        // s' = 0.46211716·0.5 + 2·0.5 = 1.23105858; lesioned: t = 0, s' = 2.
        let device = crate::test_util::device();
        let z = || [0.5f32, 0.0].map(|v| Tensor::<2>::from_floats([[v]], &device));
        let s = || Tensor::<2>::from_floats([[2.0]], &device);
        assert_close(
            &MicroLayer::activate(z(), false).output(s()),
            &[1.231_058_6],
            1e-6,
        );
        assert_close(&MicroLayer::activate(z(), true).output(s()), &[2.0], 0.0);
    }
}
