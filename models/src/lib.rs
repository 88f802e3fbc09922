#![warn(missing_docs)]
//! # models
//!
//! The highway-zoo models, built from `highway-core` (and `rhn`), with named presets whose
//! docs state the paper's configuration and figure.
//!
//! - [`DeepMlp`]: the fully connected plain/highway nets of the depth study, *Training Very Deep
//!   Networks* (arXiv:1507.06228) s3.1, Figure 1.

pub mod mlp;

pub use mlp::{DeepMlp, DeepMlpConfig, LayerKind, MlpBody};
