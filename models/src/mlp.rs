//! Deep fully connected plain and highway networks.
//!
//! *Training Very Deep Networks* (Srivastava, Greff & Schmidhuber, arXiv:1507.06228), s3.1 and
//! Figure 1: on MNIST, one plain fully connected layer, then `depth − 1` plain or highway
//! layers, then a softmax layer:
//!
//! ```text
//! z_0 = act(W_0 x + b_0);  z_l = layer_l(z_{l−1}), l = 1..depth−1;  p = softmax(W_out z + b_out)
//! ```
//!
//! Highway nets use 50 units per layer, plain nets 71 (about the same parameters per layer).

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Gradients, Tensor};
use highway_core::{
    DenseStackTape, HighwayConfig, HighwayStack, PlainConfig, PlainStack, StackOutput,
};
use serde::{Deserialize, Serialize};

/// Plain or highway layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerKind {
    /// `y = act(W x + b)`.
    Plain,
    /// `y = H(x)·T(x) + x·(1 − T(x))`.
    Highway,
}

impl std::fmt::Display for LayerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LayerKind::Plain => "plain",
            LayerKind::Highway => "highway",
        })
    }
}

/// Configuration of a [`DeepMlp`].
#[derive(Config, Debug)]
pub struct DeepMlpConfig {
    /// Input features (784 for MNIST).
    pub d_input: usize,
    /// Units per hidden layer.
    pub d_hidden: usize,
    /// Number of hidden layers: one plain input layer plus `depth − 1` plain or highway layers
    /// (the softmax layer is not counted, as in the paper).
    pub depth: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Plain or highway layers after the first.
    pub kind: LayerKind,
    /// Non-linearity of every hidden layer (and of `H` in highway layers).
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Initial transform-gate bias of the highway layers.
    #[config(default = -2.0)]
    pub transform_bias: f64,
    /// Weight initialiser.
    #[config(default = "Initializer::XavierUniform { gain: 1.0 }")]
    pub initializer: Initializer,
    /// Fused `H`/`T` matrix products in highway layers.
    #[config(default = false)]
    pub fused: bool,
}

impl DeepMlpConfig {
    /// The depth study's highway net on MNIST: 50 units per layer, `depth` ∈ {10, 20, 50, 100}
    /// (Figure 1; the best 100-layer highway net trains to a loss two orders of magnitude below
    /// the best plain net).
    pub fn mnist_highway(depth: usize) -> Self {
        Self::new(784, 50, depth, 10, LayerKind::Highway)
    }

    /// The depth study's plain net on MNIST: 71 units per layer (Figure 1: trains at 10-20
    /// layers, fails to optimise at 50-100).
    pub fn mnist_plain(depth: usize) -> Self {
        Self::new(784, 71, depth, 10, LayerKind::Plain)
    }

    /// Checks the sizes, with a message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("d_input", self.d_input),
            ("d_hidden", self.d_hidden),
            ("depth", self.depth),
            ("n_classes", self.n_classes),
        ] {
            if v == 0 {
                return Err(format!("DeepMlpConfig: {name} must be at least 1"));
            }
        }
        if !self.transform_bias.is_finite() {
            return Err("DeepMlpConfig: transform_bias must be finite".into());
        }
        Ok(())
    }

    /// Initialises the network.
    ///
    /// # Panics
    ///
    /// If [`DeepMlpConfig::validate`] fails.
    pub fn init(&self, device: &Device) -> DeepMlp {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let input = PlainConfig::new(self.d_input, self.d_hidden)
            .with_activation(self.activation.clone())
            .with_initializer(self.initializer.clone())
            .init(device);
        let n = self.depth - 1;
        let body = match self.kind {
            LayerKind::Plain => MlpBody::Plain(
                PlainConfig::new(self.d_hidden, self.d_hidden)
                    .with_activation(self.activation.clone())
                    .with_initializer(self.initializer.clone())
                    .init_stack(n, device),
            ),
            LayerKind::Highway => MlpBody::Highway(
                HighwayConfig::new(self.d_hidden)
                    .with_activation(self.activation.clone())
                    .with_transform_bias(self.transform_bias)
                    .with_initializer(self.initializer.clone())
                    .with_fused(self.fused)
                    .init_stack(n, device),
            ),
        };
        let output = LinearConfig::new(self.d_hidden, self.n_classes)
            .with_initializer(self.initializer.clone())
            .init(device);
        DeepMlp {
            input,
            body,
            output,
        }
    }
}

/// The `depth − 1` layers after the input layer.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum MlpBody {
    /// Plain layers.
    Plain(PlainStack),
    /// Highway layers.
    Highway(HighwayStack),
}

/// A deep plain or highway MLP classifier.
///
/// Should be created with [`DeepMlpConfig`].
#[derive(Module, Debug)]
pub struct DeepMlp {
    /// The plain input layer `784 → d_hidden`.
    pub input: highway_core::Plain,
    /// The stacked layers.
    pub body: MlpBody,
    /// The softmax layer (logits; the softmax is in the loss).
    pub output: Linear,
}

impl DeepMlp {
    /// Class logits.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_input]`
    /// - output: `[batch, n_classes]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let z = self.input.forward(x);
        let z = match &self.body {
            MlpBody::Plain(s) => s.forward(z),
            MlpBody::Highway(s) => s.forward(z),
        };
        self.output.forward(z)
    }

    /// Class logits for a training step: as [`forward`](Self::forward), with the stacked
    /// layers (plain or highway) on the CPU fast path where it applies
    /// ([`LayerStack::forward_deferred`](highway_core::LayerStack::forward_deferred)); pass the
    /// tape to [`complete_train`](Self::complete_train) after `loss.backward()`.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_input]`
    /// - output: `[batch, n_classes]`
    pub fn forward_train(&self, x: Tensor<2>) -> (Tensor<2>, DenseStackTape) {
        let z = self.input.forward(x);
        let (z, tape) = match &self.body {
            MlpBody::Plain(s) => s.forward_deferred(z),
            MlpBody::Highway(s) => s.forward_deferred(z),
        };
        (self.output.forward(z), tape)
    }

    /// Adds the gradients of the stack that [`forward_train`](Self::forward_train) ran on the
    /// fast path, and of the input layer before it, to `grads` (those of `loss.backward()`).
    pub fn complete_train(&self, tape: DenseStackTape, grads: &mut Gradients) {
        match &self.body {
            MlpBody::Plain(stack) => tape.complete(stack, self, grads),
            MlpBody::Highway(stack) => tape.complete(stack, self, grads),
        };
    }

    /// Class logits together with every stacked layer's output and transform gate; with
    /// `lesion = Some(k)` the k-th stacked layer (0-based, after the input layer) is forced to
    /// carry.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_input]`
    /// - logits: `[batch, n_classes]`; stack outputs and gates: `[batch, d_hidden]`
    pub fn forward_with_gates(
        &self,
        x: Tensor<2>,
        lesion: Option<usize>,
    ) -> (Tensor<2>, StackOutput<2>) {
        let z = self.input.forward(x);
        let out = match &self.body {
            MlpBody::Plain(s) => s.forward_with_gates(z, lesion),
            MlpBody::Highway(s) => s.forward_with_gates(z, lesion),
        };
        (self.output.forward(out.output.clone()), out)
    }

    /// Class logits with each stacked layer lesioned in turn (its transform gate forced to 0,
    /// *Training Very Deep Networks* s4, Figure 4), together with the clean pass. The layers in
    /// front of the lesioned one are computed once, so all `depth − 1` lesions cost about half
    /// of `depth − 1` full passes. For a plain body the lesion removes the layer.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_input]`
    /// - output: the clean logits `[batch, n_classes]`, the clean [`StackOutput`], and one
    ///   `[batch, n_classes]` logits tensor per stacked layer (entry `k`: layer `k` lesioned)
    pub fn forward_all_lesions(&self, x: Tensor<2>) -> (Tensor<2>, StackOutput<2>, Vec<Tensor<2>>) {
        let z0 = self.input.forward(x);
        let clean = match &self.body {
            MlpBody::Plain(s) => s.forward_with_gates(z0.clone(), None),
            MlpBody::Highway(s) => s.forward_with_gates(z0.clone(), None),
        };
        let n = self.stack_depth();
        let lesioned = (0..n)
            .map(|k| {
                let input = if k == 0 {
                    z0.clone()
                } else {
                    clean.layer_outputs[k - 1].clone()
                };
                let z = match &self.body {
                    MlpBody::Plain(s) => s.forward_range(input, k + 1..n),
                    MlpBody::Highway(s) => s.forward_range(input, k + 1..n),
                };
                self.output.forward(z)
            })
            .collect();
        (self.output.forward(clean.output.clone()), clean, lesioned)
    }

    /// The output of the plain input layer, the input of the stack.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_input]`
    /// - output: `[batch, d_hidden]`
    pub fn input_features(&self, x: Tensor<2>) -> Tensor<2> {
        self.input.forward(x)
    }

    /// The current transform-gate biases `b_T` of every highway layer, input side first
    /// (`None` for a plain body).
    ///
    /// # Shapes
    ///
    /// - output: `depth − 1` tensors `[d_hidden]`
    pub fn transform_biases(&self) -> Option<Vec<Tensor<1>>> {
        match &self.body {
            MlpBody::Plain(_) => None,
            MlpBody::Highway(s) => Some(s.layers.iter().map(|l| l.transform_bias()).collect()),
        }
    }

    /// Number of stacked layers (depth − 1).
    pub fn stack_depth(&self) -> usize {
        match &self.body {
            MlpBody::Plain(s) => s.depth(),
            MlpBody::Highway(s) => s.depth(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_the_papers_sizes_and_parameter_counts() {
        let device = Device::flex();
        let h = DeepMlpConfig::mnist_highway(10).init(&device);
        assert_eq!(h.stack_depth(), 9);
        // 784·50 + 50, nine highway layers of 2·(50·50 + 50), 50·10 + 10.
        assert_eq!(h.num_params(), 784 * 50 + 50 + 9 * 2 * (2500 + 50) + 510);
        let p = DeepMlpConfig::mnist_plain(10).init(&device);
        assert_eq!(
            p.num_params(),
            784 * 71 + 71 + 9 * (71 * 71 + 71) + 710 + 10
        );
        // Per stacked layer, about the same count (the paper's reason for 50 vs 71 units).
        let per_h = (2 * (2500 + 50)) as f64;
        let per_p = (71 * 71 + 71) as f64;
        assert!((per_h / per_p - 1.0).abs() < 0.02);
    }

    #[test]
    fn forward_shapes_gates_and_lesion() {
        let device = Device::flex();
        let model = DeepMlpConfig::mnist_highway(5).init(&device);
        let x = Tensor::<2>::random([3, 784], burn::tensor::Distribution::Default, &device);
        let logits = model.forward(x.clone());
        assert_eq!(logits.dims(), [3, 10]);
        let (same, stack) = model.forward_with_gates(x.clone(), None);
        let a = logits.to_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, same.to_data().try_to_vec::<f32>().unwrap());
        assert_eq!(stack.gates.len(), 4);
        let (lesioned, _) = model.forward_with_gates(x, Some(3));
        assert_ne!(a, lesioned.to_data().try_to_vec::<f32>().unwrap());
    }

    #[test]
    fn all_lesions_match_one_lesion_at_a_time() {
        let device = Device::flex();
        let model = DeepMlpConfig::new(6, 4, 4, 3, LayerKind::Highway)
            .with_transform_bias(0.0)
            .init(&device);
        let x = Tensor::<2>::random([2, 6], burn::tensor::Distribution::Default, &device);
        let (clean, stack, lesioned) = model.forward_all_lesions(x.clone());
        assert_eq!(lesioned.len(), 3);
        assert_eq!(stack.gates.len(), 3);
        let v = |t: &Tensor<2>| t.to_data().try_to_vec::<f32>().unwrap();
        assert_eq!(v(&clean), v(&model.forward(x.clone())));
        for (k, logits) in lesioned.iter().enumerate() {
            let (one, _) = model.forward_with_gates(x.clone(), Some(k));
            for (a, b) in v(logits).iter().zip(v(&one)) {
                assert!((a - b).abs() < 1e-5, "layer {k}: {a} vs {b}");
            }
        }
        let biases = model.transform_biases().unwrap();
        assert_eq!(biases.len(), 3);
        assert_eq!(v(&biases[0].clone().unsqueeze()), vec![0.0; 4]);
        let plain = DeepMlpConfig::new(6, 4, 3, 3, LayerKind::Plain).init(&device);
        assert!(plain.transform_biases().is_none());
        // Lesioning a plain layer removes it: the last lesion is the net without its last layer.
        let (_, _, lesioned) = plain.forward_all_lesions(x.clone());
        let MlpBody::Plain(body) = &plain.body else {
            unreachable!()
        };
        let z = body.layers[0].forward(plain.input_features(x));
        assert_eq!(v(&lesioned[1]), v(&plain.output.forward(z)));
    }

    #[test]
    fn bad_sizes_are_named() {
        let err = DeepMlpConfig::mnist_plain(0).validate().unwrap_err();
        assert!(err.contains("depth must be at least 1"), "{err}");
    }
}
