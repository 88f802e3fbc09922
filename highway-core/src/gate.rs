//! The transform and carry gates shared by every highway layer.
//!
//! Srivastava, Greff & Schmidhuber, *Highway Networks* (arXiv:1505.00387), eq. (2)-(3):
//!
//! ```text
//! y = H(x)·T(x) + x·C(x),    T(x) = σ(W_T x + b_T)
//! ```
//!
//! With the coupled carry gate `C = 1 − T` of the papers this is `y = (H(x) − x)·T(x) + x`.
//! The transform gate `T` is the one that carries the (negative) bias `b_T`: this crate gates
//! the *transform*, as the paper does, not the carry (the "sign trap" of some libraries that
//! compute `y = x·t + H·(1 − t)` with a positive bias).

use burn::config::Config;
use burn::tensor::Tensor;

/// How the carry gate `C(x)` is formed.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CarryMode {
    /// `C = 1 − T`: the form of every experiment in the papers (default).
    Coupled,
    /// `C = σ(W_C x + b_C)`: an independent carry gate with its own weights.
    Free,
}

/// Overrides the learned transform gate, for analysis.
///
/// `Carry` is the lesion of *Training Very Deep Networks* s4: the layer's `T` is forced to 0, so
/// a coupled layer passes its input through unchanged (`y = x`). `Transform` forces `T = 1`, so
/// the layer computes only its block `H` (`y = H(x)`, plus `x·C` with a free carry gate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GateOverride {
    /// Use the learned gate `T(x)` (training and normal inference).
    #[default]
    Learned,
    /// Force `T = 0` (pure carry: the layer is lesioned).
    Carry,
    /// Force `T = 1` (pure transform).
    Transform,
}

impl GateOverride {
    /// Applies the override to a computed transform gate.
    pub fn apply<const D: usize>(self, t: Tensor<D>) -> Tensor<D> {
        match self {
            GateOverride::Learned => t,
            GateOverride::Carry => t.zeros_like(),
            GateOverride::Transform => t.ones_like(),
        }
    }
}

/// Combines the block output, the gates and the input: `y = H·T + x·C`.
///
/// `carry` is `None` for the coupled gate (`C = 1 − T`), computed as `(H − x)·T + x`, one
/// multiplication fewer than the literal form and the same value.
///
/// # Shapes
///
/// - `h`, `t`, `x` and `carry`: the same shape, any rank.
/// - output: that shape.
pub fn highway_combine<const D: usize>(
    h: Tensor<D>,
    t: Tensor<D>,
    carry: Option<Tensor<D>>,
    x: Tensor<D>,
) -> Tensor<D> {
    match carry {
        None => (h - x.clone()) * t + x,
        Some(c) => h * t + x * c,
    }
}

/// The output of one highway layer together with the transform gate it used.
#[derive(Debug, Clone)]
pub struct GatedOutput<const D: usize> {
    /// The layer output `y`.
    pub output: Tensor<D>,
    /// The transform gate `T(x)` after any [`GateOverride`], the same shape as `output`.
    pub transform_gate: Tensor<D>,
}
