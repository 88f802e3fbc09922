//! The authors' weight initialisation.
//!
//! *Training Very Deep Networks* (Srivastava, Greff & Schmidhuber 2015) initialises its conv
//! nets with Caffe's `xavier` filler, which draws from `U(−a, a)` with `a = √(3 / fan_in)`.
//! Burn's [`Initializer::XavierUniform`] is Glorot's form, `a = √(6 / (fan_in + fan_out))`: the
//! two agree for layers with as many inputs as outputs (the highway layers), but not for the
//! input convolutions, where Glorot's is several times smaller (4× for the MNIST net's 5×5
//! convolution, fan-in 25 and fan-out 800). That slows the start of training: in a 200-step
//! probe of the width-16 MNIST net (lr 0.01, 20,000 images: `mnist-conv --width 16 --epochs 1
//! --train-examples 20000 --lr 0.01`) test accuracy was 44.7% with this filler and 24.9% with
//! Glorot's.

use burn::nn::Initializer;

/// Caffe's `xavier` filler: uniform on `±√(3 / fan_in)` (Burn's Kaiming uniform with gain 1).
pub const CAFFE_XAVIER: Initializer = Initializer::KaimingUniform {
    gain: 1.0,
    fan_out_only: false,
};

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Tensor};

    #[test]
    fn caffe_xavier_bounds_follow_fan_in_only() {
        let device = Device::flex();
        // A 5×5 conv 1 → 32: fan_in 25, fan_out 800. Caffe: a = √(3/25) ≈ 0.346.
        let w: Tensor<4> = CAFFE_XAVIER
            .init_with([32, 1, 5, 5], Some(25), Some(800), &device)
            .into_value();
        let max = f64::from(w.abs().max().into_scalar::<f32>());
        let a = (3.0f64 / 25.0).sqrt();
        assert!(max <= a && max > 0.9 * a, "max |w| {max}, bound {a}");
        // Glorot's bound for the same layer would be √(6/825) ≈ 0.085.
        assert!(max > 2.0 * (6.0f64 / 825.0).sqrt());
    }
}
