//! `cifar`: the CIFAR-10/100 convolutional highway nets of *Training Very Deep Networks*
//! Tables 2 (Highway A, B, C against Fitnets) and 3 (the 19-layer net with augmentation), with
//! the authors' schedule. See `docs/cifar.md`.
//!
//! ```text
//! cargo run --release -p experiments --bin cifar -- --net table3 --dataset cifar10
//! cargo run --release -p experiments --bin cifar -- --net b --augment off --iterations 20000
//! cargo run --release -p experiments --bin cifar -- --samples --net a --augment off --iterations 60
//! cargo run --release -p experiments --features cuda --bin cifar -- --net table3 --device cuda
//! ```

use clap::Parser;
use experiments::cifar::{CifarArgs, run_cli};

fn main() -> anyhow::Result<()> {
    let args = CifarArgs::parse();
    let summary = run_cli(&args)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
