//! One training step (forward, backward, Adam) of the 50-layer, 71-unit dense highway MLP of
//! the issue tracker's benchmark, batch 128, on random data: fused vs unfused `H`/`T`, on every
//! CPU backend compiled in (`--features ndarray` adds ndarray beside flex).
//!
//! The model matches the PyTorch peer `../shared/peers/highway_torch.py mlp --depth 50 --width
//! 71 --optim adam`: `784 → Linear(71) → 50 highway layers → Linear(10)`.
//!
//! ```text
//! cargo run --release -p experiments --features ndarray --bin bench-highway
//! ```

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use clap::Parser;
use experiments::backend::parse_device;
use experiments::bench::{Timing, peak_memory_mib, time_steps};
use highway_core::{HighwayConfig, HighwayStack};

#[derive(Parser, Debug)]
#[command(about = "Time training steps of the 50x71 highway MLP (fused vs unfused, per backend)")]
struct Args {
    /// Highway layers.
    #[arg(long, default_value_t = 50)]
    depth: usize,
    /// Units per layer.
    #[arg(long, default_value_t = 71)]
    width: usize,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// Devices to time (default: every CPU backend compiled in).
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// Also write the rows as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Module, Debug)]
struct Mlp {
    input: Linear,
    stack: HighwayStack,
    output: Linear,
}

impl Mlp {
    fn new(args: &Args, fused: bool, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(784, args.width).init(device),
            stack: HighwayConfig::new(args.width)
                .with_fused(fused)
                .init_stack(args.depth, device),
            output: LinearConfig::new(args.width, 10).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.output
            .forward(self.stack.forward(self.input.forward(x)))
    }
}

fn bench(args: &Args, device_name: &str, fused: bool) -> anyhow::Result<Timing> {
    let device = parse_device(Some(device_name))?.autodiff();
    device.seed(0);
    let mut model = Some(Mlp::new(args, fused, &device));
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<2>::random([args.batch, 784], Distribution::Default, &device);
    let y = Tensor::<1, Int>::random([args.batch], Distribution::Uniform(0.0, 10.0), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let name = format!(
        "{device_name} {} depth {} width {} batch {}",
        if fused { "fused" } else { "unfused" },
        args.depth,
        args.width,
        args.batch
    );
    let timing = time_steps(&name, args.warmup, args.steps, || {
        let m = model.take().expect("model");
        let loss = loss_fn.forward(m.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        let m = optim.step(1e-3, m, grads);
        // Wait for the device so that the step is timed in full.
        device.sync().expect("device sync");
        model = Some(m);
    });
    Ok(timing)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let devices = if args.devices.is_empty() {
        experiments::backend::compiled_backends()
            .into_iter()
            .filter(|b| matches!(*b, "flex" | "ndarray"))
            .map(String::from)
            .collect()
    } else {
        args.devices.clone()
    };
    let mut rows = Vec::new();
    for device in &devices {
        for fused in [true, false] {
            let t = bench(&args, device, fused)?;
            println!(
                "{:<45} {:8.2} steps/s  {:9.0} samples/s  (median {:.2} ms over {} steps)",
                t.name,
                t.steps_per_s,
                t.steps_per_s * args.batch as f64,
                t.median_s * 1e3,
                t.steps
            );
            rows.push(t);
        }
    }
    for device in &devices {
        let find = |fused: bool| {
            rows.iter()
                .find(|r| {
                    r.name.starts_with(&format!(
                        "{device} {}",
                        if fused { "fused" } else { "unfused" }
                    ))
                })
                .map(|r| r.steps_per_s)
        };
        if let (Some(f), Some(u)) = (find(true), find(false)) {
            println!("{device}: fused / unfused = {:.2}x", f / u);
        }
    }
    if let Some(mib) = peak_memory_mib() {
        println!("peak resident memory: {mib:.0} MiB");
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}
