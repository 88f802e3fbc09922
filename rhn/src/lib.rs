#![warn(missing_docs)]
//! # rhn
//!
//! Recurrent Highway Networks (Zilly, Srivastava, Koutník & Schmidhuber, arXiv:1607.03474)
//! for Burn.
