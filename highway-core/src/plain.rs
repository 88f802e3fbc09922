//! Plain (ungated) layers, the baseline of the plain-vs-highway comparisons.
//!
//! *Training Very Deep Networks* (arXiv:1507.06228), s3.1: a plain layer is `y = H(x) =
//! act(W x + b)`, i.e. a highway layer whose transform gate is always open (`T = 1`). Plain
//! nets of more than ~20 layers fail to optimise; highway nets of 100 layers do not.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// Configuration to create a [`Plain`] layer.
#[derive(Config, Debug)]
pub struct PlainConfig {
    /// Input features.
    pub d_input: usize,
    /// Output features.
    pub d_output: usize,
    /// Non-linearity.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Weight initialiser (biases start at zero).
    #[config(default = "Initializer::XavierUniform { gain: 1.0 }")]
    pub initializer: Initializer,
}

/// A plain fully connected layer `y = act(W x + b)`.
///
/// Should be created with [`PlainConfig`].
#[derive(Module, Debug)]
pub struct Plain {
    /// The affine map.
    pub linear: Linear,
    /// The non-linearity.
    pub activation: Activation,
}

impl PlainConfig {
    /// Initialises a new [`Plain`] layer.
    pub fn init(&self, device: &Device) -> Plain {
        let mut linear = LinearConfig::new(self.d_input, self.d_output)
            .with_initializer(self.initializer.clone())
            .init(device);
        linear.bias = Some(Initializer::Zeros.init([self.d_output], device));
        Plain {
            linear,
            activation: self.activation.init(device),
        }
    }

    /// Initialises a [`PlainStack`](crate::PlainStack) of `depth` layers.
    ///
    /// # Panics
    ///
    /// If `depth > 1` and `d_input != d_output` (the layers could not be chained).
    pub fn init_stack(&self, depth: usize, device: &Device) -> crate::PlainStack {
        assert!(
            depth <= 1 || self.d_input == self.d_output,
            "PlainConfig::init_stack: a stack needs d_input == d_output, got {} and {}",
            self.d_input,
            self.d_output
        );
        crate::LayerStack::new((0..depth).map(|_| self.init(device)).collect())
    }
}

impl Plain {
    /// Applies the layer.
    ///
    /// # Shapes
    ///
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.activation.forward(self.linear.forward(x))
    }
}

/// Configuration to create a [`ConvPlain`] layer.
#[derive(Config, Debug)]
pub struct ConvPlainConfig {
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Side of the square kernel (odd; same padding).
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Non-linearity.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Kernel initialiser (biases start at zero).
    #[config(default = "Initializer::XavierUniform { gain: 1.0 }")]
    pub initializer: Initializer,
}

/// A plain same-padded convolution with a non-linearity.
///
/// Should be created with [`ConvPlainConfig`].
#[derive(Module, Debug)]
pub struct ConvPlain {
    /// The convolution.
    pub conv: Conv2d,
    /// The non-linearity.
    pub activation: Activation,
}

impl ConvPlainConfig {
    /// Initialises a new [`ConvPlain`] layer.
    ///
    /// # Panics
    ///
    /// If `kernel_size` is even.
    pub fn init(&self, device: &Device) -> ConvPlain {
        assert!(
            self.kernel_size % 2 == 1,
            "ConvPlainConfig: kernel_size must be odd for same padding, got {}",
            self.kernel_size
        );
        let mut conv = Conv2dConfig::new(self.channels, [self.kernel_size; 2])
            .with_padding(PaddingConfig2d::Same)
            .with_initializer(self.initializer.clone())
            .init(device);
        conv.bias = Some(Initializer::Zeros.init([self.channels[1]], device));
        ConvPlain {
            conv,
            activation: self.activation.init(device),
        }
    }

    /// Initialises a [`ConvPlainStack`](crate::ConvPlainStack) of `depth` layers.
    ///
    /// # Panics
    ///
    /// If `depth > 1` and the input and output channels differ.
    pub fn init_stack(&self, depth: usize, device: &Device) -> crate::ConvPlainStack {
        assert!(
            depth <= 1 || self.channels[0] == self.channels[1],
            "ConvPlainConfig::init_stack: a stack needs equal input and output channels, got {:?}",
            self.channels
        );
        crate::LayerStack::new((0..depth).map(|_| self.init(device)).collect())
    }
}

impl ConvPlain {
    /// Applies the layer.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, channels_in, height, width]`
    /// - output: `[batch, channels_out, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.activation.forward(self.conv.forward(x))
    }
}
