//! `export`: a trained run's newest checkpoint (`mnist-depth`, `mnist-conv`, `cifar`, `ptb`,
//! `charlm`) as a safetensors file with PyTorch's names and layouts, plus a JSON file beside it
//! naming the model and its configuration, for `zoo_torch.load_export` in `bench/zoo_torch.py`.
//!
//! ```text
//! cargo run -p experiments --bin export -- --run artifacts/mnist-depth/highway-050/run-00 --weights mlp.safetensors
//! ~/torch-venv/bin/python bench/torch_peer.py evaluate mlp.json --mnist-dir ~/.cache/highway-zoo/mnist
//! ```

use std::path::PathBuf;

use clap::Parser;
use experiments::cli::DeviceArgs;
use experiments::export::export_run;

#[derive(Parser, Debug)]
#[command(about = "Export a trained run's newest checkpoint to safetensors with PyTorch's names")]
struct Args {
    /// The run directory (or an `mnist-depth --out` directory holding one run).
    #[arg(long)]
    run: PathBuf,
    /// The weights file to write (`.safetensors`); the JSON description goes beside it
    /// (same name, `.json`).
    #[arg(long)]
    weights: PathBuf,
    #[command(flatten)]
    device: DeviceArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let info = export_run(&args.run, &args.weights, &args.device.device()?)?;
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(())
}
