//! `gates`: transform-gate analysis of trained highway nets, *Training Very Deep Networks*
//! (arXiv:1507.06228) s4, Figures 2 and 3, and the layer-output distances of Greff et al.
//! (arXiv:1612.07771); for an RHN language model the activity per micro-layer and time step.
//!
//! ```text
//! cargo run -p experiments --bin gates -- --run artifacts/analysis/mnist50/nets/bt-2,artifacts/analysis/mnist50/nets/bt-4
//! cargo run -p experiments --bin gates -- --rhn-run artifacts/ptb-hour-rhn
//! cargo run -p experiments --bin gates -- --cifar-run artifacts/cifar-a-samples
//! ```

use clap::Parser;
use experiments::analysis::{GatesArgs, run_gates};

fn main() -> anyhow::Result<()> {
    run_gates(&GatesArgs::parse())
}
