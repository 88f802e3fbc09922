//! The 2-D convolutional highway layer.
//!
//! Srivastava, Greff & Schmidhuber, *Training Very Deep Networks* (arXiv:1507.06228), s2 and
//! s3.2: the layer of eq. (2)-(3) with `H` and `T` computed by same-padded convolutions, so
//! that input and output keep their shape:
//!
//! ```text
//! y = H(x)·T(x) + x·C(x),   H(x) = act(W_H ∗ x + b_H),   T(x) = σ(W_T ∗ x + b_T)
//! ```
//!
//! with `C = 1 − T` (coupled, default) or `C = σ(W_C ∗ x + b_C)` (free).

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::sigmoid;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use crate::gate::{CarryMode, GateOverride, GatedOutput, highway_combine};

/// Configuration to create a [`ConvHighway`] layer with [`ConvHighwayConfig::init`].
#[derive(Config, Debug)]
pub struct ConvHighwayConfig {
    /// Number of channels of input and output.
    pub d_model: usize,
    /// Side of the square convolution kernel of `H` and `T` (odd, so that "same" padding is
    /// symmetric).
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Non-linearity of the block `H`.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Initial value of every transform-gate bias `b_T` (the authors use −1 to −3 for conv
    /// nets, deeper nets lower).
    #[config(default = -2.0)]
    pub transform_bias: f64,
    /// How the carry gate is formed.
    #[config(default = "CarryMode::Coupled")]
    pub carry: CarryMode,
    /// Initial carry-gate bias for [`CarryMode::Free`]; `None` uses `−transform_bias`.
    #[config(default = "None")]
    pub carry_bias: Option<f64>,
    /// Initialiser of the kernels (biases of `H` start at zero); Xavier/Glorot uniform as the
    /// authors' code.
    #[config(default = "Initializer::XavierUniform { gain: 1.0 }")]
    pub initializer: Initializer,
    /// Compute `H`, `T` (and `C`) with one convolution of 2·d (3·d) output channels; same
    /// result (the kernels are concatenated at each call; no faster on Burn's CPU backends).
    #[config(default = false)]
    pub fused: bool,
}

/// A convolutional highway layer.
///
/// Should be created with [`ConvHighwayConfig`].
#[derive(Module, Debug)]
pub struct ConvHighway {
    /// The block `H`: kernel `W_H` `[d_model, d_model, k, k]` and bias `b_H`.
    pub h: Conv2d,
    /// The transform gate: kernel `W_T` and bias `b_T`.
    pub t: Conv2d,
    /// The free carry gate (`None` for the coupled carry).
    pub c: Option<Conv2d>,
    /// The non-linearity of `H`.
    pub activation: Activation,
    /// Whether [`ConvHighway::forward`] uses the fused convolution.
    pub fused: bool,
}

impl ConvHighwayConfig {
    /// Initialises a new [`ConvHighway`] layer.
    ///
    /// # Panics
    ///
    /// If `kernel_size` is even or zero (same padding would be asymmetric).
    pub fn init(&self, device: &Device) -> ConvHighway {
        assert!(
            self.kernel_size % 2 == 1,
            "ConvHighwayConfig: kernel_size must be odd for same padding, got {}",
            self.kernel_size
        );
        let d = self.d_model;
        let conv = |bias: f64| {
            let mut layer = Conv2dConfig::new([d, d], [self.kernel_size; 2])
                .with_padding(PaddingConfig2d::Same)
                .with_initializer(self.initializer.clone())
                .init(device);
            layer.bias = Some(Initializer::Constant { value: bias }.init([d], device));
            layer
        };
        let c = match self.carry {
            CarryMode::Coupled => None,
            CarryMode::Free => Some(conv(self.carry_bias.unwrap_or(-self.transform_bias))),
        };
        ConvHighway {
            h: conv(0.0),
            t: conv(self.transform_bias),
            c,
            activation: self.activation.init(device),
            fused: self.fused,
        }
    }

    /// Initialises a [`ConvHighwayStack`](crate::ConvHighwayStack) of `depth` such layers.
    pub fn init_stack(&self, depth: usize, device: &Device) -> crate::ConvHighwayStack {
        crate::LayerStack::new((0..depth).map(|_| self.init(device)).collect())
    }
}

impl ConvHighway {
    /// Applies the layer.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_model, height, width]`
    /// - output: `[batch, d_model, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_gated(x, GateOverride::Learned).output
    }

    /// Applies the layer and returns its transform gate, optionally overridden.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_model, height, width]`
    /// - output and transform gate: `[batch, d_model, height, width]`
    pub fn forward_gated(&self, x: Tensor<4>, gate: GateOverride) -> GatedOutput<4> {
        let (h, t, c) = if self.fused {
            self.conv_fused(x.clone())
        } else {
            (
                self.h.forward(x.clone()),
                self.t.forward(x.clone()),
                self.c.as_ref().map(|c| c.forward(x.clone())),
            )
        };
        let h = self.activation.forward(h);
        let t = gate.apply(sigmoid(t));
        let c = c.map(sigmoid);
        GatedOutput {
            output: highway_combine(h, t.clone(), c, x),
            transform_gate: t,
        }
    }

    /// `W_H ∗ x + b_H`, `W_T ∗ x + b_T` (and `W_C ∗ x + b_C`) as one convolution.
    fn conv_fused(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>, Option<Tensor<4>>) {
        let convs: Vec<&Conv2d> = [&self.h, &self.t].into_iter().chain(&self.c).collect();
        let weight = Tensor::cat(convs.iter().map(|c| c.weight.val()).collect(), 0);
        let bias = Tensor::cat(convs.iter().map(|c| bias_of(c)).collect(), 0);
        let pad = self.h.kernel_size.map(|k| k / 2);
        let options = ConvOptions::new([1, 1], pad, [1, 1], 1);
        let mut parts = conv2d(x, weight, Some(bias), options)
            .chunk(convs.len(), 1)
            .into_iter();
        let h = parts.next().expect("H part");
        let t = parts.next().expect("T part");
        (h, t, parts.next())
    }

    /// The current transform-gate biases `b_T`.
    ///
    /// # Shapes
    ///
    /// - output: `[d_model]`
    pub fn transform_bias(&self) -> Tensor<1> {
        bias_of(&self.t)
    }
}

fn bias_of(conv: &Conv2d) -> Tensor<1> {
    match &conv.bias {
        Some(b) => b.val(),
        None => {
            let d = conv.weight.shape().dims::<4>()[0];
            Tensor::zeros([d], &conv.weight.device())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, device, temp_dir};
    use burn::module::Param;
    use burn::tensor::Distribution;

    fn values(t: &Tensor<4>) -> Vec<f32> {
        t.to_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn matches_hand_computed_values_with_constant_kernels() {
        let device = device();
        for fused in [false, true] {
            let mut layer = ConvHighwayConfig::new(1)
                .with_transform_bias(0.0)
                .with_fused(fused)
                .init(&device);
            // W_H: every tap 0.1, so H = relu(0.1 · sum of the 3×3 neighbourhood, zero padded);
            // W_T = 0 and b_T = 0, so T = 0.5 everywhere and y = 0.5·H + 0.5·x.
            layer.h.weight = Param::from_tensor(Tensor::full([1, 1, 3, 3], 0.1, &device));
            layer.t.weight = Param::from_tensor(Tensor::zeros([1, 1, 3, 3], &device));
            let x = Tensor::<1>::from_floats([1., 2., 3., 4., 5., 6., 7., 8., 9.], &device)
                .reshape([1, 1, 3, 3]);
            // Neighbourhood sums: 12 21 16 / 27 45 33 / 24 39 28.
            let y = layer.forward(x);
            assert_close(
                &y,
                &[1.1, 2.05, 2.3, 3.35, 4.75, 4.65, 4.7, 5.95, 5.9],
                1e-5,
            );
        }
    }

    #[test]
    fn very_negative_bias_is_identity_and_forced_gate_gives_h() {
        let device = device();
        let layer = ConvHighwayConfig::new(3)
            .with_transform_bias(-60.0)
            .init(&device);
        let x = Tensor::<4>::random([2, 3, 5, 4], Distribution::Default, &device);
        assert_close(&layer.forward(x.clone()), &values(&x), 1e-6);
        let h = layer.activation.forward(layer.h.forward(x.clone()));
        let forced = layer.forward_gated(x.clone(), GateOverride::Transform);
        assert_close(&forced.output, &values(&h), 1e-6);
        let lesioned = layer.forward_gated(x.clone(), GateOverride::Carry);
        assert_close(&lesioned.output, &values(&x), 0.0);
    }

    #[test]
    fn fused_and_unfused_agree() {
        let device = device();
        for (carry, kernel) in [(CarryMode::Coupled, 3), (CarryMode::Free, 5)] {
            let fused = ConvHighwayConfig::new(4)
                .with_fused(true)
                .with_kernel_size(kernel)
                .with_carry(carry)
                .init(&device);
            let mut unfused = fused.clone();
            unfused.fused = false;
            let x = Tensor::<4>::random([2, 4, 6, 7], Distribution::Default, &device);
            let a = fused.forward(x.clone());
            assert_eq!(a.dims(), [2, 4, 6, 7]);
            assert_close(&a, &values(&unfused.forward(x)), 1e-5);
        }
    }

    #[test]
    #[should_panic(expected = "kernel_size must be odd")]
    fn even_kernel_is_rejected_with_a_clear_message() {
        ConvHighwayConfig::new(2)
            .with_kernel_size(4)
            .init(&device());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let device = crate::test_util::autodiff_device();
        for carry in [CarryMode::Coupled, CarryMode::Free] {
            let layer = ConvHighwayConfig::new(2)
                .with_carry(carry)
                .with_transform_bias(-0.5)
                .with_activation(ActivationConfig::Tanh)
                .init(&device);
            let x = Tensor::<4>::random([1, 2, 3, 3], Distribution::Uniform(-1.0, 1.0), &device);
            let r = Tensor::<4>::random([1, 2, 3, 3], Distribution::Uniform(-1.0, 1.0), &device);
            let check = crate::gradcheck::check_gradients(
                &layer,
                x,
                |m, x| (m.forward(x) * r.clone()).sum(),
                1e-2,
            );
            let per_conv = 2 * 2 * 9 + 2;
            let n_conv = if carry == CarryMode::Free { 3 } else { 2 };
            assert_eq!(check.entries.len(), 18 + n_conv * per_conv);
            check.assert_close(2e-3, 1e-2);
        }
    }

    #[test]
    fn config_round_trips_and_module_saves_and_loads() {
        let device = device();
        let config = ConvHighwayConfig::new(3)
            .with_kernel_size(5)
            .with_transform_bias(-1.0)
            .with_carry(CarryMode::Free);
        let json = serde_json::to_string(&config).unwrap();
        let back: ConvHighwayConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.kernel_size, 5);
        assert_eq!(back.carry, CarryMode::Free);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);

        let layer = back.init(&device);
        let dir = temp_dir("conv-save");
        let path = dir.join("conv.bpk");
        layer.clone().save_file(&path).unwrap();
        let x = Tensor::<4>::random([1, 3, 4, 4], Distribution::Default, &device);
        let loaded = config.init(&device).try_load_file(&path).unwrap();
        assert_close(&loaded.forward(x.clone()), &values(&layer.forward(x)), 0.0);
        std::fs::remove_dir_all(dir).ok();
    }
}
