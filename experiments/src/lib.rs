#![warn(missing_docs)]
//! # experiments
//!
//! Library code shared by the highway-zoo binaries (`src/bin/`): backend selection and the
//! training infrastructure. The binaries only parse arguments, build configs and call in here.

pub mod backend;
pub mod bench;
