#![warn(missing_docs)]
//! # models
//!
//! The highway-zoo models, built from `highway-core` (and `rhn`), with named presets whose
//! docs state the paper's configuration and figure.
//!
//! - [`DeepMlp`]: the fully connected plain/highway nets of the depth study, *Training Very Deep
//!   Networks* (arXiv:1507.06228) s3.1, Figure 1.
//! - [`MnistConvNet`]: the 10-layer convolutional highway net of Table 1 (widths 16 and 32).
//! - [`CifarNet`]: the CIFAR-10/100 convolutional highway nets of Tables 2 and 3 (Highway A, B,
//!   C and the 19-layer net with a 1×1 convolution + global average pooling head).
//! - [`RhnLm`] and [`LstmLm`]: the language models of *Recurrent Highway Networks*
//!   (arXiv:1607.03474) and their same-size LSTM baseline.
//! - [`CharCnnLm`]: the character-aware word language model of Kim et al. (arXiv:1508.06615),
//!   a character CNN and highway layers under a two-layer LSTM ([`WordSpelling`] spells its
//!   words).
//! - [`generate()`]: text generation from any of the language models ([`RecurrentLm`]): a
//!   prompt, temperature / top-k / top-p sampling under a seed ([`SamplingConfig`]), the
//!   recurrent state carried token by token.
//!
//! With the `train` feature every model here is a burn-train `Learner` model ([`learner`]), and
//! [`train`] trains them, or any Burn model, through `SupervisedTraining` with truncated BPTT,
//! exact resume and set-atomic checkpoints, and [`analysis`] reads out a trained model's gates
//! and lesions its layers (Srivastava et al.'s Figures 2-4, Kim et al.'s Table 6).
//! [`weights`] loads PyTorch state dicts and writes safetensors with PyTorch's names.

#[cfg(feature = "train")]
pub mod analysis;
pub mod char_cnn_lm;
pub mod cifar;
pub mod dropout;
pub mod fast_stages;
pub mod generate;
pub mod host;
pub mod init;
#[cfg(feature = "train")]
pub mod learner;
pub mod lstm_fast;
pub mod lstm_lm;
pub mod mlp;
pub mod mnist_conv;
pub mod rhn_lm;
pub mod softmax_kernel;
pub mod softmax_loss;
pub mod spelling;
#[cfg(feature = "train")]
pub mod train;
pub mod weights;

pub use char_cnn_lm::{CharCnnLm, CharCnnLmConfig, WordFeatures};
pub use cifar::{CifarHead, CifarHeadLayer, CifarHighwayConfig, CifarNet, CifarOutput, CifarStage};
pub use dropout::dropout;
pub use fast_stages::StageTapes;
pub use generate::{SamplingConfig, TokenRng, generate, sample_token};
pub use init::CAFFE_XAVIER;
#[cfg(feature = "train")]
pub use learner::{
    ClassBatch, LmOutput, LmWindow, TokenLossInput, TokenPerplexity, classification_output,
};
pub use lstm_fast::lstm_forward;
pub use lstm_lm::{LstmLm, LstmLmConfig};
pub use mlp::{DeepMlp, DeepMlpConfig, LayerKind, MlpBody};
pub use mnist_conv::{ConvStage, MnistConvNet, MnistConvNetConfig};
pub use rhn_lm::{RecurrentLm, RhnLm, RhnLmConfig};
pub use softmax_loss::{
    SoftmaxLoss, softmax_cross_entropy, softmax_cross_entropy_tied, token_loss,
};
pub use spelling::WordSpelling;
