//! Reads of device data by the host, counted.
//!
//! On a GPU every read of a tensor's values (a loss for the metrics, a NaN check,
//! `into_scalar`) waits until the device has run everything queued before it: the training loop
//! stalls while the GPU drains, then the GPU idles while the host queues the next step. The
//! training path of this crate (the language models' and classifiers' steps, `train`'s loop and
//! gradient clipping) reads through [`read_values`], which counts, so that a test can hold it to
//! one read per training step on a GPU ([`host_reads`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::Tensor;

static READS: AtomicUsize = AtomicUsize::new(0);

/// The values of `tensor` on the host, as `f64`, counted as one read ([`host_reads`]).
///
/// # Shapes
///
/// - `tensor`: any; its values come back in row-major order
pub fn read_values<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    READS.fetch_add(1, Ordering::Relaxed);
    tensor
        .into_data()
        .try_into_vec_as::<f64>()
        .expect("a tensor read from its device")
}

/// Counts one read of device data made without [`read_values`]: a host pass over a CPU
/// backend's buffers that stands for it.
#[cfg(feature = "train")]
pub(crate) fn count_read() {
    READS.fetch_add(1, Ordering::Relaxed);
}

/// The `f32` values of `data` (a tensor's `into_data`), to update in place: where the backend
/// owned the tensor's buffer alone, Burn's `flex` hands it over and `Tensor::from_data` takes it
/// back, so the values are never copied (`try_into_vec` would copy a buffer aligned otherwise
/// than a `Vec<f32>`'s).
///
/// # Panics
///
/// If `data` does not hold `f32` values (the callers check the dtype).
#[cfg(feature = "train")]
pub(crate) fn f32_values(data: &mut burn::tensor::TensorData) -> &mut [f32] {
    data.as_mut_slice::<f32>().expect("f32 tensor values")
}

/// Whether `tensor` takes the host passes of this crate (the softmax loss, the fused
/// optimisers, the clipping): `f32` values on a CPU backend with the fast paths on
/// ([`highway_core::on_fast_path`]); elsewhere they run through Burn's tensor operations.
pub fn on_host_path<const D: usize>(tensor: &Tensor<D>) -> bool {
    tensor.dtype() == burn::tensor::DType::F32 && highway_core::on_fast_path(&tensor.device())
}

/// The one value of a one-element `tensor`, counted as one read.
///
/// # Shapes
///
/// - `tensor`: one element, any rank
pub fn read_scalar<const D: usize>(tensor: Tensor<D>) -> f64 {
    let values = read_values(tensor);
    assert_eq!(
        values.len(),
        1,
        "read_scalar of a tensor of {} values",
        values.len()
    );
    values[0]
}

/// Reads of device data made through [`read_values`] since the process started (all threads).
pub fn host_reads() -> usize {
    READS.load(Ordering::Relaxed)
}
