//! Dropout (Hinton et al. 2012, arXiv:1207.0580; the conv nets of *Training Very Deep
//! Networks*, arXiv:1507.06228, Table 1 and s4.1) with its mask drawn in parallel on the CPU.
//!
//! ```text
//! y = x·m / (1 − p),   m_i ~ Bernoulli(1 − p)
//! ```
//!
//! [`dropout`] is Burn's [`Dropout::forward`] (the readable reference, used on the GPU
//! backends and with [`FAST_PATH_ENV`](highway_core::FAST_PATH_ENV) off): on Burn's CPU
//! backends that draws every element's mask serially, which was 10% of a Table 1 training
//! step's samples, on one thread while the other waited. Here one seed is drawn from the
//! device's generator (so `device.seed(s)` still fixes the masks), and element `i` keeps its
//! value when the `i + 1`-th output of SplitMix64 from that seed is below `(1 − p)·2⁶⁴`: a
//! stream that any thread can compute from `i` alone, so the mask does not depend on the
//! number of threads ([`keep_mask`]). Inside [`highway_core::with_mask_seed`] the seed comes
//! from the thread's stream instead, on every backend.

use burn::nn::Dropout;
use burn::tensor::{Distribution, Tensor, TensorData};
use highway_core::keep_mask;

/// Applies `layer` to `x` as [`Dropout::forward`] does: the input itself outside training
/// (no autodiff, a frozen layer, `p = 0`), else `x·m / (1 − p)`, with the mask drawn in
/// parallel on the CPU backends.
///
/// # Shapes
///
/// - input and output: `[..., any]`
pub fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if !layer.training.is_enabled() || !device.is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - layer.prob;
    let seed = match highway_core::next_mask_seed() {
        // A thread stream (data parallelism): the mask from it, on any backend.
        Some(seed) => seed,
        None if !highway_core::on_fast_path(&device) => return layer.forward(x),
        None => {
            // 48 bits of seed from the device's generator: two uniform floats with 24 bits
            // each.
            let draw = Tensor::<1>::random([2], Distribution::Default, &device)
                .into_data()
                .try_to_vec::<f32>()
                .expect("a float tensor's values");
            let bits = |u: f32| (u * (1u32 << 24) as f32) as u64;
            (bits(draw[0]) << 24) | bits(draw[1])
        }
    };
    let shape = x.shape();
    let mask = keep_mask(seed, shape.num_elements(), keep);
    x * Tensor::<D>::from_data(TensorData::new(mask, shape), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::DropoutConfig;
    use burn::tensor::Device;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn kept_values_are_scaled_and_the_kept_share_is_one_minus_p() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let layer = DropoutConfig::new(0.3).init();
        let y = values(dropout(&layer, Tensor::<2>::ones([1000, 1000], &device)));
        let scale = 1.0 / 0.7f32;
        assert!(y.iter().all(|v| *v == 0.0 || (v - scale).abs() < 1e-6));
        let kept = y.iter().filter(|v| **v != 0.0).count() as f64 / y.len() as f64;
        // The binomial's standard deviation is 0.00046 here.
        assert!((kept - 0.7).abs() < 0.003, "kept share {kept}");
        // Neighbours are independent: both kept in 0.49 of the pairs.
        let both = y.windows(2).filter(|w| w[0] != 0.0 && w[1] != 0.0).count() as f64;
        let share = both / (y.len() - 1) as f64;
        assert!((share - 0.49).abs() < 0.003, "pairs kept {share}");
    }

    #[test]
    fn the_gradient_is_the_mask() {
        let device = Device::flex().autodiff();
        device.seed(4);
        let layer = DropoutConfig::new(0.5).init();
        let x = Tensor::<2>::ones([30, 40], &device).require_grad();
        let y = dropout(&layer, x.clone());
        let grads = y.clone().sum().backward();
        let dx = x.grad(&grads).expect("the input's gradient");
        assert_eq!(values(dx), values(y.clone()));
        assert!(values(y).contains(&0.0));
    }

    #[test]
    fn the_seed_fixes_the_masks_and_each_call_draws_a_new_one() {
        let device = Device::flex().autodiff();
        let layer = DropoutConfig::new(0.4).init();
        let draw = || values(dropout(&layer, Tensor::<2>::ones([50, 50], &device)));
        device.seed(9);
        let (first, second) = (draw(), draw());
        device.seed(9);
        assert_eq!(draw(), first);
        assert_ne!(first, second);
    }

    #[test]
    fn outside_training_it_is_the_identity() {
        let x = |device: &Device| Tensor::<2>::ones([20, 20], device) * 3.0;
        let layer = DropoutConfig::new(0.5).init();
        // No autodiff.
        let plain = Device::flex();
        assert_eq!(values(dropout(&layer, x(&plain))), values(x(&plain)));
        // p = 0, and a frozen layer.
        let device = Device::flex().autodiff();
        let none = DropoutConfig::new(0.0).init();
        assert_eq!(values(dropout(&none, x(&device))), values(x(&device)));
        let frozen = layer.clone().freeze();
        assert!(!frozen.training.is_enabled());
        assert_eq!(values(dropout(&frozen, x(&device))), values(x(&device)));
    }

    #[test]
    fn a_thread_stream_fixes_the_masks_whatever_the_device_seed() {
        let device = Device::flex().autodiff();
        let layer = DropoutConfig::new(0.4).init();
        let draw = || values(dropout(&layer, Tensor::<2>::ones([30, 30], &device)));
        device.seed(1);
        let a = highway_core::with_mask_seed(5, || (draw(), draw()));
        device.seed(2);
        let b = highway_core::with_mask_seed(5, || (draw(), draw()));
        assert_eq!(a, b);
        assert_ne!(a.0, a.1);
        let c = highway_core::with_mask_seed(6, draw);
        assert_ne!(c, a.0);
    }
}
