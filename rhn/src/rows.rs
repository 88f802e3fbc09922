//! A partition's matrix for the recurrence's thin products `M·x` (`x`: `[k, batch]`, a
//! batch of 20 for the Penn Treebank): on an x86-64 CPU with AVX2 (or AVX-512) packed once
//! per window for [`highway_core::thin`], whose kernel takes the batch's columns in one pass
//! over `M` where the matrix library behind `burn-flex` takes two; elsewhere (a GPU, another
//! CPU, the fast paths switched off by `HIGHWAY_ZOO_FAST_PATH`) Burn's `matmul`. Both give the
//! product up to the order of summation (tested through the backward through time against
//! plain autodiff, on whichever this CPU takes, and the kernel itself in `highway_core::thin`).

use burn::tensor::{Tensor, TensorData};
use highway_core::thin::{self, PackedRows};

/// `M` `[m, k]`, as a tensor or packed.
// A partition holds one per micro-layer and direction: the tensor's size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Rows {
    Tensor(Tensor<2>),
    Packed(PackedRows),
}

/// Whether the recurrence's products take [`highway_core::thin`] on `device`: a CPU backend
/// where the kernel pays off ([`thin::pays_off`]: AVX2 and FMA), the fast paths on
/// ([`highway_core::on_fast_path`]).
pub(crate) fn packed_on(device: &burn::tensor::Device) -> bool {
    thin::pays_off() && highway_core::on_fast_path(device)
}

impl Rows {
    /// `M·x` on `x`'s device.
    ///
    /// # Shapes
    ///
    /// - `x`: `[k, batch]`
    /// - output: `[m, batch]`
    pub(crate) fn times(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Tensor(m) => m.clone().matmul(x),
            Self::Packed(m) => {
                let [_, batch] = x.dims();
                let mut z = vec![0.0; m.rows() * batch];
                m.product(&host(&x), batch, &mut z);
                Tensor::from_data(TensorData::new(z, [m.rows(), batch]), &x.device())
            }
        }
    }
}

/// A tensor's values, row-major.
pub(crate) fn host<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor values")
}
