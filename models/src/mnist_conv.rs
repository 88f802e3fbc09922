//! The MNIST convolutional highway net of *Training Very Deep Networks* (Srivastava, Greff &
//! Schmidhuber, arXiv:1507.06228), Table 1: 10 layers (9 convolutional + softmax).
//!
//! The authors' layer list (their code): 5×5 conv → 2 highway → max-pool 3/2 → 3 highway →
//! max-pool 3/2 → 3 highway → max-pool 2/2 → softmax; highway layers 3×3 with `b_T = −1`;
//! dropout 0.2 / 0.3 / 0.4 / 0.5. Width 16: 39K parameters, 99.43% test accuracy; width 32:
//! 151K, 99.55%.
//!
//! ```text
//! z = drop_0.2(relu(conv5x5(x)))
//! z = drop_0.3(pool_3/2(highway²(z)))
//! z = drop_0.4(pool_3/2(highway³(z)))
//! z = drop_0.5(pool_2/2(highway³(z)))          28 → 13 → 6 → 3
//! p = softmax(W z + b)
//! ```

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Gradients, Tensor};
use highway_core::{ConvHighwayConfig, ConvHighwayStack, ConvPlainConfig, ConvPlainStack};

use crate::LayerKind;
use crate::fast_stages::StageTapes;

/// Configuration of a [`MnistConvNet`].
#[derive(Config, Debug)]
pub struct MnistConvNetConfig {
    /// Channels of every convolution.
    pub width: usize,
    /// Highway (the paper) or plain convolutions.
    #[config(default = "LayerKind::Highway")]
    pub kind: LayerKind,
    /// Initial transform-gate bias (−1 in the authors' code).
    #[config(default = -1.0)]
    pub transform_bias: f64,
    /// Dropout after the first convolution and after each pooling stage.
    #[config(default = "[0.2, 0.3, 0.4, 0.5]")]
    pub dropout: [f64; 4],
    /// Number of classes.
    #[config(default = 10)]
    pub n_classes: usize,
}

impl MnistConvNetConfig {
    /// Table 1, width 16: 39K parameters, 99.43% test accuracy (mean 99.4 ± 0.03).
    pub fn table1_width16() -> Self {
        Self::new(16)
    }

    /// Table 1, width 32: 151K parameters, 99.55% test accuracy (mean 99.54 ± 0.02).
    pub fn table1_width32() -> Self {
        Self::new(32)
    }

    /// Highway layers per stage (2, 3, 3).
    pub const STAGES: [usize; 3] = [2, 3, 3];

    /// Initialises the net.
    pub fn init(&self, device: &Device) -> MnistConvNet {
        let w = self.width;
        let init = crate::CAFFE_XAVIER;
        let stage = |depth: usize| match self.kind {
            LayerKind::Highway => ConvStage::Highway(
                ConvHighwayConfig::new(w)
                    .with_transform_bias(self.transform_bias)
                    .init_stack(depth, device),
            ),
            LayerKind::Plain => {
                ConvStage::Plain(ConvPlainConfig::new([w, w]).init_stack(depth, device))
            }
        };
        MnistConvNet {
            input: Conv2dConfig::new([1, w], [5, 5])
                .with_padding(PaddingConfig2d::Same)
                .with_initializer(init.clone())
                .init(device),
            stages: Self::STAGES.iter().map(|d| stage(*d)).collect(),
            pools: vec![
                MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
                MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
                MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            ],
            dropout: self
                .dropout
                .iter()
                .map(|p| DropoutConfig::new(*p).init())
                .collect(),
            output: LinearConfig::new(w * 3 * 3, self.n_classes)
                .with_initializer(init)
                .init(device),
        }
    }
}

/// One stage of highway or plain convolutions.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ConvStage {
    /// Highway layers.
    Highway(ConvHighwayStack),
    /// Plain layers.
    Plain(ConvPlainStack),
}

impl ConvStage {
    /// Number of highway (or plain) layers in the stage.
    pub fn depth(&self) -> usize {
        match self {
            ConvStage::Highway(s) => s.depth(),
            ConvStage::Plain(s) => s.depth(),
        }
    }

    /// Applies the stage.
    ///
    /// # Shapes
    ///
    /// - input and output: `[batch, width, h, w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            ConvStage::Highway(s) => s.forward(x),
            ConvStage::Plain(s) => s.forward(x),
        }
    }
}

/// The Table 1 net. Should be created with [`MnistConvNetConfig`].
#[derive(Module, Debug)]
pub struct MnistConvNet {
    /// 5×5 input convolution.
    pub input: Conv2d,
    /// The three stages of 3×3 highway (or plain) layers.
    pub stages: Vec<ConvStage>,
    /// Max-pooling after each stage.
    pub pools: Vec<MaxPool2d>,
    /// Dropout after the input convolution and after each pooling.
    pub dropout: Vec<Dropout>,
    /// Softmax layer (logits).
    pub output: Linear,
}

impl MnistConvNet {
    /// Class logits.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 1, 28, 28]`
    /// - output: `[batch, n_classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_stages(x, |_, stage, z| stage.forward(z))
    }

    /// Class logits for a training step: as [`forward`](Self::forward), with the highway
    /// stages on the CPU fast path where it applies; complete the tapes after
    /// `loss.backward()` ([`StageTapes::complete`]).
    ///
    /// # Shapes
    ///
    /// - input: `[batch, 1, 28, 28]`
    /// - output: `[batch, n_classes]`
    pub fn forward_train(&self, x: Tensor<4>) -> (Tensor<2>, StageTapes) {
        StageTapes::record(|stage| self.forward_stages(x, stage))
    }

    /// Adds the gradients of the stages that [`forward_train`](Self::forward_train) ran on
    /// the fast path, and of everything before them, to `grads` (those of `loss.backward()`).
    pub fn complete_train(&self, tapes: StageTapes, grads: &mut Gradients) {
        tapes.complete(&self.stages, self, grads);
    }

    /// The net with `stage(index, stage, z)` applying each stage.
    fn forward_stages(
        &self,
        x: Tensor<4>,
        mut stage: impl FnMut(usize, &ConvStage, Tensor<4>) -> Tensor<4>,
    ) -> Tensor<2> {
        let mut z = crate::dropout(&self.dropout[0], relu(self.input.forward(x)));
        let layers = self.stages.iter().zip(&self.pools).zip(&self.dropout[1..]);
        for (i, ((s, pool), drop)) in layers.enumerate() {
            z = crate::dropout(drop, pool.forward(stage(i, s, z)));
        }
        self.output.forward(z.flatten::<2>(1, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_are_within_three_percent_of_table_1() {
        let device = Device::flex();
        for (config, paper) in [
            (MnistConvNetConfig::table1_width16(), 39_000.0),
            (MnistConvNetConfig::table1_width32(), 151_000.0),
        ] {
            let n = config.init(&device).num_params() as f64;
            assert!(
                (n / paper - 1.0).abs() < 0.03,
                "width {}: {n} vs {paper}",
                config.width
            );
        }
        // Width 32 exactly: 5×5 conv 832, 8 highway layers of 2·(32·32·9 + 32), FC 288·10 + 10.
        let n = MnistConvNetConfig::table1_width32()
            .init(&device)
            .num_params();
        assert_eq!(n, 832 + 8 * 2 * (32 * 32 * 9 + 32) + 2890);
    }

    #[test]
    fn input_conv_and_output_use_caffes_xavier_bounds() {
        let device = Device::flex();
        let net = MnistConvNetConfig::table1_width32().init(&device);
        let max_abs = |w: Tensor<4>| f64::from(w.abs().max().into_scalar::<f32>());
        // 5×5 conv 1 → 32: Caffe ±√(3/25) ≈ 0.346; Glorot's ±√(6/(25+800)) ≈ 0.085.
        let input = max_abs(net.input.weight.val());
        assert!(input <= (3.0f64 / 25.0).sqrt() && input > 0.3, "{input}");
        // Output 288 → 10: Caffe ±√(3/288) ≈ 0.102; Glorot's ±√(6/298) ≈ 0.142.
        let output = max_abs(net.output.weight.val().unsqueeze::<4>());
        assert!(
            output <= (3.0f64 / 288.0).sqrt() && output > 0.09,
            "{output}"
        );
    }

    #[test]
    fn forward_shapes_for_highway_and_plain() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Default, &device);
        for kind in [LayerKind::Highway, LayerKind::Plain] {
            let net = MnistConvNetConfig::new(4).with_kind(kind).init(&device);
            assert_eq!(net.forward(x.clone()).dims(), [2, 10]);
        }
    }
}
