//! `lesion`: force one layer's transform gate to 0 (pure carry) at a time and measure loss and
//! error on the training and test sets, *Training Very Deep Networks* (arXiv:1507.06228) s4,
//! Figure 4; for an RHN language model, each micro-layer in turn (PTB validation perplexity).
//!
//! ```text
//! cargo run -p experiments --bin lesion -- --run artifacts/analysis/mnist50/nets/bt-2,artifacts/analysis/mnist50/nets/bt-4
//! cargo run -p experiments --bin lesion -- --rhn-run artifacts/ptb-hour-rhn
//! cargo run -p experiments --bin lesion -- --cifar-run artifacts/cifar-a-samples
//! ```

use clap::Parser;
use experiments::analysis::{LesionArgs, run_lesion};

fn main() -> anyhow::Result<()> {
    run_lesion(&LesionArgs::parse())
}
