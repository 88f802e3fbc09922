//! `sample`: text generation from a trained language model (a `ptb` or `charlm` run
//! directory): the model rebuilt from the run's `config.json` with its newest checkpoint, the
//! vocabulary from the run's corpus, temperature / top-k / top-p sampling under a seed
//! (`experiments::sample`, `models::generate`).
//!
//! ```text
//! cargo run --release -p experiments --bin sample -- --run artifacts/ptb-rhn-small \
//!     --prompt "the company" --tokens 40 --temperature 0.8 --top-k 40
//! cargo run --release -p experiments --bin sample -- --run artifacts/charlm-wiki-small \
//!     --prompt "The " --tokens 200 --temperature 0 --json sample.json
//! ```

use clap::Parser;
use experiments::sample::{SampleArgs, run_sample};

fn main() -> anyhow::Result<()> {
    run_sample(&SampleArgs::parse(), &mut std::io::stdout().lock()).map(|_| ())
}
