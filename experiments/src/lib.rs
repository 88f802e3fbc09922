#![warn(missing_docs)]
//! # experiments
//!
//! Library code shared by the highway-zoo binaries (`src/bin/`): backend selection and the
//! shared command-line flags ([`cli`]), run provenance ([`provenance`]), language-model and
//! classifier set-ups over `models::train`, the gate analysis,
//! benchmark helpers, the results tables generated from the runs ([`report`]) and text generation
//! from trained language models ([`sample`]). The binaries only parse arguments, build configs and call in here.

pub mod analysis;
pub mod backend;
pub mod bench;
pub mod cifar;
pub mod cli;
pub mod depth_study;
pub mod export;
pub mod lm;
pub mod mnist_conv;
pub mod plot;
pub mod provenance;
pub mod report;
pub mod sample;
