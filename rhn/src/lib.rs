#![warn(missing_docs)]
//! # rhn
//!
//! Recurrent Highway Networks (Zilly, Srivastava, Koutník & Schmidhuber, *Recurrent Highway
//! Networks*, arXiv:1607.03474) for [Burn](https://burn.dev), as the paper and the authors'
//! code (jzilly/RecurrentHighwayNetworks) define them. Per time step, `L` highway micro-layers:
//!
//! ```text
//! h_l = tanh(W_H x_t·[l = 1] + R_H,l s_{l−1} + b_H,l)
//! t_l = σ   (W_T x_t·[l = 1] + R_T,l s_{l−1} + b_T,l)
//! s_l = h_l·t_l + s_{l−1}·(1 − t_l),     s_0 = s^{[t−1]},   y_t = s^{[t]} = s_L
//! ```
//!
//! - [`RhnCell`] ([`RhnCellConfig`]): one time step; coupled or free carry, fused or per-gate
//!   products, transform bias −2 and the authors' uniform ±0.04 initialisation by default;
//! - [`Rhn`] ([`RhnConfig`]): the cell over a sequence with an explicit, detachable
//!   [`RhnState`], transform-gate read-out and micro-layer lesions
//!   ([`Rhn::forward_with_gates`]);
//! - [`RhnMasks`] ([`VariationalDropoutConfig`]): the paper's variational dropout, masks drawn
//!   once per window (embedding `x`, input `i`, recurrent `h`, output `o`);
//! - [`RhnTape`] ([`Rhn::forward_deferred`]): the same gradients from a hand-written backward
//!   through time, outside autodiff, with one weight-gradient
//!   product per micro-layer and window instead of one per time step (faster training on CPU).
//!
//! ## One truncated-BPTT step
//!
//! Masks are drawn once per window; the state is carried into the next window and detached. A
//! language model adds an embedding before and a softmax layer after (the `models` crate's
//! `RhnLm`).
//!
//! ```
//! use burn::prelude::*;
//! use burn::tensor::Distribution;
//! use rhn::{RhnCellConfig, RhnConfig, RhnMasks, RhnState, VariationalDropoutConfig};
//!
//! let device = Device::flex().autodiff();
//! let (batch, bptt, d_input, d_hidden) = (4, 5, 8, 16);
//! let rhn = RhnConfig::new(RhnCellConfig::new(d_input, d_hidden, 3)).init(&device); // recurrence depth 3
//! let dropout = VariationalDropoutConfig::ptb_sota();
//!
//! let mut state: Option<RhnState> = None;
//! for _window in 0..2 {
//!     let x = Tensor::<3>::random([batch, bptt, d_input], Distribution::Default, &device);
//!     let target = Tensor::<3>::zeros([batch, bptt, d_hidden], &device);
//!     // One set of masks for the whole window (`None` at evaluation).
//!     let masks = RhnMasks::sample(&dropout, batch, None, d_input, d_hidden, &device);
//!     // `forward_deferred` (training) = `forward` + a tape for a hand-written backward.
//!     let (y, next, tape) = rhn.forward_deferred(x, state, Some(&masks));
//!     let y = masks.apply_output(y);
//!     // The authors' scaling: loss summed over time steps, averaged over the batch.
//!     let loss = (y - target).powi_scalar(2).sum().div_scalar(batch as f64);
//!     let mut grads = loss.backward();
//!     // Back-propagate through the recurrence; `&rhn` is also the module holding every
//!     // parameter its input depends on (a language model passes itself).
//!     tape.complete(&rhn, &rhn, &mut grads); // (not needed after a plain `forward`)
//!     assert!(rhn.cell.layers[0].r_t.weight.val().grad(&grads).is_some());
//!     // With an optimiser: `rhn = optim.step(lr, rhn, GradientsParams::from_grads(grads, &rhn))`.
//!     state = Some(next.detach()); // carry the state, cut the graph
//! }
//! ```

pub mod cell;
pub mod deferred;
pub mod dropout;
pub mod layer;
pub(crate) mod micro;
mod partition;

pub use cell::{RhnCell, RhnCellConfig, RhnMicroLayer};
pub use deferred::RhnTape;
pub use dropout::{RhnMasks, VariationalDropoutConfig, inverted_mask};
#[cfg(feature = "autodiff")]
pub use highway_core::grads::accumulate;
pub use highway_core::{CarryMode, GateOverride};
pub use layer::{Rhn, RhnConfig, RhnGates, RhnOutput, RhnState};

#[cfg(test)]
pub(crate) mod test_util {
    use burn::module::Param;
    use burn::nn::Linear;
    use burn::tensor::{Device, Tensor, TensorData};

    pub fn device() -> Device {
        Device::flex()
    }

    pub fn autodiff_device() -> Device {
        Device::flex().autodiff()
    }

    pub fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// Sets a `Linear` (Burn's `x·W + b`, `W` is `[d_input, d_output]`) to the given rows of
    /// `W` and bias.
    pub fn set_linear(layer: &mut Linear, rows: &[&[f32]], bias: Option<&[f32]>) {
        let device = device();
        let (n, m) = (rows.len(), rows[0].len());
        let w: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        layer.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [n, m]), &device));
        layer.bias = bias.map(|b| {
            Param::from_tensor(Tensor::from_data(
                TensorData::new(b.to_vec(), [b.len()]),
                &device,
            ))
        });
    }

    pub fn assert_close<const D: usize>(actual: &Tensor<D>, expected: &[f32], tol: f32) {
        let actual = values(actual);
        assert_eq!(actual.len(), expected.len(), "length");
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (a - e).abs() <= tol,
                "element {i}: {a} vs expected {e} (tol {tol})\nactual {actual:?}"
            );
        }
    }

    pub fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rhn-test-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
