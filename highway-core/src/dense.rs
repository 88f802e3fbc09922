//! The fully connected highway layer.
//!
//! Srivastava, Greff & Schmidhuber, *Highway Networks* (arXiv:1505.00387) and *Training Very
//! Deep Networks* (arXiv:1507.06228), eq. (2)-(3):
//!
//! ```text
//! y = H(x)·T(x) + x·C(x)
//! H(x) = act(W_H x + b_H),   T(x) = σ(W_T x + b_T),   C(x) = 1 − T(x)  (coupled, default)
//!                                                     C(x) = σ(W_C x + b_C) (free)
//! ```
//!
//! `b_T` starts negative (default −2) so that every layer initially carries its input.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::module::linear;
use burn::tensor::{Device, Tensor};

use crate::gate::{CarryMode, GateOverride, GatedOutput, highway_combine};

/// Configuration to create a [`Highway`] layer with [`HighwayConfig::init`].
#[derive(Config, Debug)]
pub struct HighwayConfig {
    /// Width of the layer: input and output have `d_model` features.
    pub d_model: usize,
    /// Non-linearity of the block `H` (the papers use ReLU or tanh).
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Initial value of every transform-gate bias `b_T` (negative: a prior towards carrying).
    #[config(default = -2.0)]
    pub transform_bias: f64,
    /// How the carry gate is formed.
    #[config(default = "CarryMode::Coupled")]
    pub carry: CarryMode,
    /// Initial carry-gate bias `b_C` for [`CarryMode::Free`]; `None` uses `−transform_bias`, so
    /// that the free layer starts with the same `C ≈ 1 − T` as the coupled one.
    #[config(default = "None")]
    pub carry_bias: Option<f64>,
    /// Initialiser of the weight matrices (biases of `H` start at zero). The papers use the
    /// normalised (Xavier/Glorot uniform) initialisation, the default; `Uniform { min, max }`
    /// gives the RHN code's ±0.04 and `KaimingUniform` Burn's own default.
    #[config(default = "Initializer::XavierUniform { gain: 1.0 }")]
    pub initializer: Initializer,
    /// Compute `H`, `T` (and `C`) with one matrix product of width 2·d (3·d with a free carry)
    /// instead of two or three; same result. The weights stay separate and are concatenated at
    /// each call, which costs more than it saves on Burn's CPU backends at the papers' widths
    /// (`bench-highway` at 50×71: 0.95× on flex), hence off by default.
    #[config(default = false)]
    pub fused: bool,
}

/// A fully connected highway layer: `y = H(x)·T(x) + x·C(x)`.
///
/// Should be created with [`HighwayConfig`].
#[derive(Module, Debug)]
pub struct Highway {
    /// The block `H`: weights `W_H` `[d_model, d_model]` and bias `b_H`.
    pub h: Linear,
    /// The transform gate: weights `W_T` and bias `b_T`.
    pub t: Linear,
    /// The free carry gate `W_C`, `b_C` (`None` for the coupled carry `C = 1 − T`).
    pub c: Option<Linear>,
    /// The non-linearity of `H`.
    pub activation: Activation,
    /// Whether [`Highway::forward`] uses the fused matrix product.
    pub fused: bool,
}

impl HighwayConfig {
    /// Initialises a new [`Highway`] layer.
    pub fn init(&self, device: &Device) -> Highway {
        let d = self.d_model;
        let affine = |bias: f64| {
            let mut layer = LinearConfig::new(d, d)
                .with_initializer(self.initializer.clone())
                .init(device);
            layer.bias = Some(Initializer::Constant { value: bias }.init([d], device));
            layer
        };
        let c = match self.carry {
            CarryMode::Coupled => None,
            CarryMode::Free => Some(affine(self.carry_bias.unwrap_or(-self.transform_bias))),
        };
        Highway {
            h: affine(0.0),
            t: affine(self.transform_bias),
            c,
            activation: self.activation.init(device),
            fused: self.fused,
        }
    }

    /// Initialises a [`HighwayStack`](crate::HighwayStack) of `depth` such layers.
    pub fn init_stack(&self, depth: usize, device: &Device) -> crate::HighwayStack {
        crate::LayerStack::new((0..depth).map(|_| self.init(device)).collect())
    }
}

impl Highway {
    /// Applies the layer.
    ///
    /// # Shapes
    ///
    /// - input: `[..., d_model]` (any rank, features last)
    /// - output: `[..., d_model]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.forward_gated(x, GateOverride::Learned).output
    }

    /// Applies the layer and returns its transform gate too, optionally overriding the gate
    /// (for lesioning, see [`GateOverride`]).
    ///
    /// # Shapes
    ///
    /// - input: `[..., d_model]`
    /// - output and transform gate: `[..., d_model]`
    pub fn forward_gated<const D: usize>(
        &self,
        x: Tensor<D>,
        gate: GateOverride,
    ) -> GatedOutput<D> {
        let (h, t, c) = if self.fused {
            self.affine_fused(x.clone())
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

    /// `W_H x + b_H`, `W_T x + b_T` (and `W_C x + b_C`) with one matrix product.
    fn affine_fused<const D: usize>(
        &self,
        x: Tensor<D>,
    ) -> (Tensor<D>, Tensor<D>, Option<Tensor<D>>) {
        let layers: Vec<&Linear> = [&self.h, &self.t].into_iter().chain(&self.c).collect();
        let weight = Tensor::cat(layers.iter().map(|l| l.weight.val()).collect(), 1);
        let bias = Tensor::cat(layers.iter().map(|l| bias_of(l)).collect(), 0);
        let mut parts = linear(x, weight, Some(bias))
            .chunk(layers.len(), D - 1)
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

    /// Width of the layer.
    pub fn d_model(&self) -> usize {
        self.h.weight.shape().dims::<2>()[1]
    }
}

fn bias_of(layer: &Linear) -> Tensor<1> {
    match &layer.bias {
        Some(b) => b.val(),
        None => {
            let [_, d] = layer.weight.shape().dims();
            Tensor::zeros([d], &layer.weight.device())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, device, set_linear, tensor2};
    use burn::module::Module;

    /// A 2-unit layer with hand-chosen weights.
    fn layer(carry: CarryMode, fused: bool) -> Highway {
        let device = device();
        let mut l = HighwayConfig::new(2)
            .with_carry(carry)
            .with_fused(fused)
            .init(&device);
        // Burn's Linear computes x·W with W of shape [d_input, d_output].
        set_linear(&mut l.h, [[1.0, -1.0], [0.5, 2.0]], [0.0, -1.0]);
        set_linear(&mut l.t, [[0.5, 0.0], [0.0, -0.5]], [-1.0, 0.5]);
        if let Some(c) = l.c.as_mut() {
            set_linear(c, [[0.0, 1.0], [1.0, 0.0]], [0.25, 0.0]);
        }
        l
    }

    fn sigma(z: f32) -> f32 {
        1.0 / (1.0 + (-z).exp())
    }

    #[test]
    fn coupled_matches_hand_computed_values() {
        // x = [1, 2]: W_H x + b_H = [1 + 1, -1 + 4 - 1] = [2, 2]; ReLU keeps both.
        // W_T x + b_T = [0.5 - 1, -1 + 0.5] = [-0.5, -0.5]; T = σ(-0.5) = 0.37754067.
        // y = H·T + x·(1 − T) = [2·0.3775 + 1·0.6225, 2·0.3775 + 2·0.6225] = [1.3775407, 2.0].
        for fused in [false, true] {
            let y = layer(CarryMode::Coupled, fused).forward(tensor2([[1.0, 2.0]]));
            assert_close(&y, &[1.377_540_7, 2.0], 1e-6);
        }
        // x = [-1, 1]: W_H x = [-1 + 0.5, 1 + 2 - 1] = [-0.5, 2]: ReLU gives [0, 2].
        // W_T x + b_T = [-0.5 - 1, -0.5 + 0.5] = [-1.5, 0]; T = [0.18242552, 0.5].
        // y = [0·0.1824 + (-1)·0.8176, 2·0.5 + 1·0.5] = [-0.8175745, 1.5].
        let y = layer(CarryMode::Coupled, true).forward(tensor2([[-1.0, 1.0]]));
        assert_close(&y, &[-0.817_574_5, 1.5], 1e-6);
    }

    #[test]
    fn free_carry_matches_hand_computed_values() {
        // x = [1, 2]: H = [2, 2], T = σ(-0.5) both; W_C x + b_C = [2 + 0.25, 1] (W_C swaps).
        let t = sigma(-0.5);
        let expected = [2.0 * t + sigma(2.25), 2.0 * t + 2.0 * sigma(1.0)];
        for fused in [false, true] {
            let y = layer(CarryMode::Free, fused).forward(tensor2([[1.0, 2.0]]));
            assert_close(&y, &expected, 1e-6);
        }
    }

    #[test]
    fn coupled_and_free_differ_only_through_the_carry_term() {
        let x = tensor2([[1.0, 2.0], [-1.0, 0.5]]);
        let coupled = layer(CarryMode::Coupled, true).forward_gated(x.clone(), Default::default());
        let free = layer(CarryMode::Free, true).forward_gated(x.clone(), Default::default());
        // Same H and T: the gate values agree exactly ...
        assert_close(&free.transform_gate, &values(&coupled.transform_gate), 0.0);
        // ... and the outputs differ by exactly x·(C − (1 − T)).
        let c = sigmoid(layer(CarryMode::Free, true).c.unwrap().forward(x.clone()));
        let diff = x * (c - (free.transform_gate.ones_like() - free.transform_gate));
        assert_close(&(free.output - coupled.output), &values(&diff), 1e-6);
        // With T forced to 1 the carry term is gone for the coupled layer only.
        let coupled_t1 = layer(CarryMode::Coupled, true)
            .forward_gated(tensor2([[1.0, 2.0]]), GateOverride::Transform)
            .output;
        assert_close(&coupled_t1, &[2.0, 2.0], 1e-6);
    }

    fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn very_negative_transform_bias_is_the_identity() {
        let device = device();
        let layer = HighwayConfig::new(8)
            .with_transform_bias(-60.0)
            .init(&device);
        let x = Tensor::<3>::random([2, 3, 8], burn::tensor::Distribution::Default, &device);
        let y = layer.forward(x.clone());
        assert_close(&y, &values(&x), 1e-6);
    }

    #[test]
    fn transform_gate_forced_to_one_equals_h() {
        let device = device();
        for activation in [ActivationConfig::Relu, ActivationConfig::Tanh] {
            let config = HighwayConfig::new(6).with_activation(activation);
            let layer = config.init(&device);
            let x = Tensor::<2>::random([4, 6], burn::tensor::Distribution::Default, &device);
            let h = layer.activation.forward(layer.h.forward(x.clone()));
            let forced = layer
                .forward_gated(x.clone(), GateOverride::Transform)
                .output;
            assert_close(&forced, &values(&h), 1e-6);
            // A huge positive bias saturates the learned gate to 1 as well.
            let mut open = layer.clone();
            open.t.bias = Some(Initializer::Constant { value: 60.0 }.init([6], &device));
            assert_close(&open.forward(x), &values(&h), 1e-6);
        }
    }

    #[test]
    fn lesioned_gate_is_pure_carry() {
        let device = device();
        let layer = HighwayConfig::new(5).init(&device);
        let x = Tensor::<2>::random([3, 5], burn::tensor::Distribution::Default, &device);
        let out = layer.forward_gated(x.clone(), GateOverride::Carry);
        assert_close(&out.output, &values(&x), 0.0);
        assert_close(&out.transform_gate, &[0.0; 15], 0.0);
    }

    #[test]
    fn fused_and_unfused_agree_on_random_weights_any_rank() {
        let device = device();
        for carry in [CarryMode::Coupled, CarryMode::Free] {
            let fused = HighwayConfig::new(7)
                .with_fused(true)
                .with_carry(carry)
                .with_activation(ActivationConfig::Tanh)
                .init(&device);
            let mut unfused = fused.clone();
            unfused.fused = false;
            let x = Tensor::<4>::random([2, 3, 4, 7], burn::tensor::Distribution::Default, &device);
            let a = fused.forward(x.clone());
            let b = unfused.forward(x);
            assert_eq!(a.dims(), [2, 3, 4, 7]);
            assert_close(&a, &values(&b), 1e-5);
        }
    }

    #[test]
    fn initial_gate_bias_and_initialiser_follow_the_config() {
        let device = device();
        let layer = HighwayConfig::new(4)
            .with_transform_bias(-3.5)
            .with_initializer(Initializer::Uniform {
                min: -0.04,
                max: 0.04,
            })
            .init(&device);
        assert_close(&layer.transform_bias(), &[-3.5; 4], 0.0);
        let w = values(&layer.h.weight.val());
        assert!(w.iter().all(|v| v.abs() <= 0.04), "{w:?}");
        assert!(w.iter().any(|v| *v != 0.0));
        assert_eq!(layer.num_params(), 2 * (4 * 4 + 4));
        let free = HighwayConfig::new(4)
            .with_carry(CarryMode::Free)
            .init(&device);
        assert_eq!(free.num_params(), 3 * (4 * 4 + 4));
        assert_close(&bias_of(free.c.as_ref().unwrap()), &[2.0; 4], 0.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let device = crate::test_util::autodiff_device();
        for (carry, fused) in [
            (CarryMode::Coupled, true),
            (CarryMode::Coupled, false),
            (CarryMode::Free, true),
        ] {
            let layer = HighwayConfig::new(3)
                .with_carry(carry)
                .with_fused(fused)
                .with_transform_bias(-0.5)
                .with_activation(ActivationConfig::Tanh)
                .init(&device);
            let x = Tensor::<2>::from_floats([[0.3, -0.8, 0.5], [1.2, 0.1, -0.4]], &device);
            let r = Tensor::<2>::from_floats([[0.7, -1.1, 0.4], [-0.3, 0.9, 1.3]], &device);
            let check = crate::gradcheck::check_gradients(
                &layer,
                x,
                |m, x| (m.forward(x) * r.clone()).sum(),
                1e-2,
            );
            // 6 input entries + 2 or 3 affine maps of 3·3 + 3 parameters.
            let n_affine = if carry == CarryMode::Free { 3 } else { 2 };
            assert_eq!(check.entries.len(), 6 + n_affine * 12);
            check.assert_close(2e-3, 1e-2);
        }
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = HighwayConfig::new(16)
            .with_activation(ActivationConfig::Tanh)
            .with_transform_bias(-4.0)
            .with_carry(CarryMode::Free)
            .with_carry_bias(Some(1.5))
            .with_initializer(Initializer::Uniform {
                min: -0.04,
                max: 0.04,
            })
            .with_fused(false);
        let json = serde_json::to_string(&config).unwrap();
        let back: HighwayConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert_eq!(back.d_model, 16);
        assert_eq!(back.carry, CarryMode::Free);
        assert_eq!(back.transform_bias, -4.0);
    }

    #[test]
    fn save_and_load_through_burnpack_gives_the_same_outputs() {
        let device = device();
        let config = HighwayConfig::new(5).with_carry(CarryMode::Free);
        let layer = config.init(&device);
        let dir = crate::test_util::temp_dir("dense-save");
        let path = dir.join("highway.bpk");
        layer.clone().save_file(&path).unwrap();
        let fresh = config.init(&device);
        let x = Tensor::<2>::random([3, 5], burn::tensor::Distribution::Default, &device);
        let before = values(&layer.forward(x.clone()));
        assert!(values(&fresh.forward(x.clone())) != before);
        let loaded = fresh.try_load_file(&path).unwrap();
        assert_close(&loaded.forward(x), &before, 0.0);
        std::fs::remove_dir_all(dir).ok();
    }
}
