//! `mnist-conv`: the 10-layer convolutional highway net of *Training Very Deep Networks*
//! Table 1 (widths 16 and 32) on the real MNIST or Fashion-MNIST.
//!
//! ```text
//! cargo run -p experiments --bin mnist-conv -- --width 32 --epochs 12
//! cargo run -p experiments --bin mnist-conv -- --width 32 --epochs 12 --dataset fashion-mnist
//! ```

use clap::Parser;
use experiments::mnist_conv::{MnistConvArgs, run_cli};

fn main() -> anyhow::Result<()> {
    let summary = run_cli(&MnistConvArgs::parse())?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
