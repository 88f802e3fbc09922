//! Training-step throughput (forward, backward, optimiser) on random data, fused vs unfused
//! `H`/`T`, on every CPU backend compiled in (`--features ndarray` adds ndarray beside flex).
//!
//! - `--model mlp` (default): the 50-layer, 71-unit dense highway MLP, batch 128, Adam (Burn's;
//!   `models::train::FusedAdam` on the fast path, the same bits); the same
//!   model as the PyTorch peer `bench/torch_peer.py mlp --depth 50 --width 71 --optim adam`:
//!   `784 → Linear(71) → 50 highway layers → Linear(10)`.
//! - `--model conv`: the peer's conv stack, `torch_peer.py conv` (3×3 conv 3 → C, D conv
//!   highway layers, global average pooling, Linear(10)) on 32×32×3 inputs, batch 64, SGD
//!   momentum 0.9; `--depth 9 --width 32` is the peer's default.
//! - `--model mnist-conv`: the Table 1 net (`models::MnistConvNet`, width `--width`), batch 100,
//!   Nesterov SGD, as `mnist-conv` trains it.
//! - `--model cifar-a|cifar-b|cifar-c|cifar-table3`: the CIFAR-10 nets of Tables 2 and 3
//!   (`models::CifarNet` presets), Nesterov SGD with weight decay as `cifar` trains them; use
//!   `--batch 100` (the paper's). Also prints the convolutions' training GFLOP/s (forward
//!   `2·B·H·W·C_in·C_out·9` per 3×3 conv, training = 3× forward less the first layer's input
//!   gradient, as the PyTorch peer counts).
//!
//! `--unfused-only` skips the fused variant (slow nets). Every model also times the CPU fast
//! path (`fast`: `LayerStack::forward_deferred`, each highway stack's forward and backward on
//! raw buffers, as the zoo's `TrainStep`s train), and `--model conv` prints every variant's
//! training GFLOP/s (counted as the PyTorch peer counts them). `--matmul` times a 2048³
//! product on each device, the rate the conv throughput is measured against; `--peer PYTHON`
//! runs the PyTorch peer (`bench/torch_peer.py`, `mlp` or `conv` with the same sizes, and its
//! `matmul` with `--matmul`) in the same run and prints the ratios. The peak resident memory
//! printed at the end is the whole process's: time one model per process to attribute it.
//!
//! ```text
//! cargo run --release -p experiments --features ndarray --bin bench-highway
//! cargo run --release -p experiments --features ndarray --bin bench-highway -- --model conv --depth 9 --width 32 --batch 64
//! cargo run --release -p experiments --bin bench-highway -- --model cifar-a --batch 100 --warmup 1 --steps 3 --unfused-only --devices flex
//! cargo run --release -p experiments --bin bench-highway -- --model conv --depth 9 --width 32 --batch 64 \
//!     --devices flex --unfused-only --matmul --peer ~/torch-venv/bin/python
//! ```

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Gradients, Int, Tensor};
use clap::{Parser, ValueEnum};

use super::{BenchArgs, Timing, bench_matmul, peak_memory_mib, peer_matmul, time_steps};
use crate::backend::parse_device;
use highway_core::{ConvHighwayConfig, ConvHighwayStack, HighwayConfig, HighwayStack};
use models::train::{FusedAdamConfig, OptimizerConfig};
use models::{CifarHighwayConfig, CifarNet, ConvStage, MnistConvNet, MnistConvNetConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Model {
    Mlp,
    Conv,
    MnistConv,
    CifarA,
    CifarB,
    CifarC,
    CifarTable3,
}

impl Model {
    fn cifar_config(self) -> Option<CifarHighwayConfig> {
        match self {
            Model::CifarA => Some(CifarHighwayConfig::fitnet_a()),
            Model::CifarB => Some(CifarHighwayConfig::fitnet_b()),
            Model::CifarC => Some(CifarHighwayConfig::fitnet_c()),
            Model::CifarTable3 => Some(CifarHighwayConfig::table3()),
            _ => None,
        }
    }
}

/// Training FLOPs of the 3×3 convolutions of a CIFAR net for one batch (see the module docs).
fn cifar_train_flops(config: &CifarHighwayConfig, batch: usize) -> f64 {
    let gates = if config.kind == models::LayerKind::Highway {
        2.0
    } else {
        1.0
    };
    let (mut side, mut channels, mut fwd, mut first) = (32.0f64, 3.0f64, 0.0f64, None);
    for (i, s) in config.stages.iter().enumerate() {
        if i > 0 {
            side /= 2.0;
        }
        let w = s.width as f64;
        let px = batch as f64 * side * side;
        let input = 2.0 * px * channels * w * 9.0;
        first.get_or_insert(input);
        fwd += input + s.highway_layers as f64 * gates * 2.0 * px * w * w * 9.0;
        channels = w;
    }
    3.0 * fwd - first.unwrap_or(0.0)
}

#[derive(Parser, Debug)]
#[command(about = "Time training steps of highway nets (fused vs unfused, per CPU backend)")]
struct Args {
    /// Which workload.
    #[arg(long, value_enum, default_value = "mlp")]
    model: Model,
    /// Highway layers (mlp, conv).
    #[arg(long, default_value_t = 50)]
    depth: usize,
    /// Units or channels per layer.
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
    /// Time only the unfused layers (the default of every preset).
    #[arg(long, conflicts_with = "variants")]
    unfused_only: bool,
    /// The variants to time (default: `fast`, `fused`, `unfused`);
    /// one per process to read the peak memory of each.
    #[arg(long, value_enum, value_delimiter = ',')]
    variants: Vec<Variant>,
    /// Also time a 2048³ matrix product on each device (and in the peer).
    #[arg(long)]
    matmul: bool,
    /// The PyTorch peer, with the same model and sizes (`mlp` and `conv`), and `--json`.
    #[command(flatten)]
    bench: BenchArgs,
}

/// How the highway layers of a timed step are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Variant {
    /// `H`, `T` from one product or convolution (`fused: true`).
    Fused,
    /// Each gate its own (the presets' default).
    Unfused,
    /// The CPU fast path of the highway stacks (`LayerStack::forward_deferred`).
    Fast,
}

#[derive(Module, Debug)]
struct Mlp {
    input: Linear,
    stack: HighwayStack,
    output: Linear,
}

#[derive(Module, Debug)]
struct ConvNet {
    input: Conv2d,
    stack: ConvHighwayStack,
    output: Linear,
}

#[derive(Module, Debug)]
enum Net {
    Mlp(Mlp),
    Conv(ConvNet),
    MnistConv(MnistConvNet),
    Cifar(CifarNet),
}

impl Net {
    fn new(args: &Args, fused: bool, device: &Device) -> Self {
        // The zoo's conv nets, with their highway layers fused or not.
        let set_fused = |stages: &mut Vec<ConvStage>| {
            for stage in stages {
                if let ConvStage::Highway(s) = stage {
                    s.layers.iter_mut().for_each(|l| l.fused = fused);
                }
            }
        };
        match args.model {
            Model::Mlp => Net::Mlp(Mlp {
                input: LinearConfig::new(784, args.width).init(device),
                stack: HighwayConfig::new(args.width)
                    .with_fused(fused)
                    .init_stack(args.depth, device),
                output: LinearConfig::new(args.width, 10).init(device),
            }),
            Model::Conv => Net::Conv(ConvNet {
                input: Conv2dConfig::new([3, args.width], [3, 3])
                    .with_padding(PaddingConfig2d::Same)
                    .init(device),
                stack: ConvHighwayConfig::new(args.width)
                    .with_fused(fused)
                    .init_stack(args.depth, device),
                output: LinearConfig::new(args.width, 10).init(device),
            }),
            Model::MnistConv => {
                let mut net = MnistConvNetConfig::new(args.width).init(device);
                set_fused(&mut net.stages);
                Net::MnistConv(net)
            }
            Model::CifarA | Model::CifarB | Model::CifarC | Model::CifarTable3 => {
                let config = args.model.cifar_config().expect("a CIFAR model");
                let mut net = config.init(device);
                set_fused(&mut net.stages);
                Net::Cifar(net)
            }
        }
    }

    fn input(&self, batch: usize, device: &Device) -> Tensor<4> {
        let shape = match self {
            Net::Mlp(_) => [batch, 1, 1, 784],
            Net::MnistConv(_) => [batch, 1, 28, 28],
            Net::Conv(_) | Net::Cifar(_) => [batch, 3, 32, 32],
        };
        Tensor::random(shape, Distribution::Default, device)
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Net::Mlp(m) => m
                .output
                .forward(m.stack.forward(m.input.forward(x.flatten(1, 3)))),
            Net::Conv(m) => m.head(m.stack.forward(m.input.forward(x))),
            Net::MnistConv(m) => m.forward(x),
            Net::Cifar(m) => m.forward(x),
        }
    }

    /// The gradients of one training step on `(x, y)`; `fast`: through the highway stacks'
    /// CPU fast path (`forward_deferred`, `forward_train`) where the net has one.
    fn grads(
        &self,
        x: Tensor<4>,
        y: Tensor<1, Int>,
        loss: &CrossEntropyLoss,
        fast: bool,
    ) -> GradientsParams {
        // The logits, and what completes the fast path's gradients after `backward`.
        type Complete<'a> = Box<dyn FnOnce(&mut Gradients) + 'a>;
        let (logits, complete): (Tensor<2>, Complete) = match (self, fast) {
            (Net::Mlp(n), true) => {
                let (z, tape) = n.stack.forward_deferred(n.input.forward(x.flatten(1, 3)));
                let complete = move |g: &mut Gradients| {
                    tape.complete(&n.stack, n, g);
                };
                (n.output.forward(z), Box::new(complete))
            }
            (Net::Conv(c), true) => {
                let (z, tape) = c.stack.forward_deferred(c.input.forward(x));
                let complete = move |g: &mut Gradients| {
                    tape.complete(&c.stack, c, g);
                };
                (c.head(z), Box::new(complete))
            }
            (Net::MnistConv(c), true) => {
                let (logits, tapes) = c.forward_train(x);
                (logits, Box::new(move |g| c.complete_train(tapes, g)))
            }
            (Net::Cifar(c), true) => {
                let (logits, tapes) = c.forward_train(x);
                (logits, Box::new(move |g| c.complete_train(tapes, g)))
            }
            _ => (self.forward(x), Box::new(|_| {})),
        };
        let mut grads = loss.forward(logits, y).backward();
        complete(&mut grads);
        GradientsParams::from_grads(grads, self)
    }
}

impl ConvNet {
    /// Global average pooling and the output layer.
    fn head(&self, z: Tensor<4>) -> Tensor<2> {
        self.output.forward(z.mean_dim(3).mean_dim(2).flatten(1, 3))
    }
}

/// The optimiser of `model`'s steps; the fast path (`fast`) takes [`FusedAdam`] for Adam.
///
/// [`FusedAdam`]: models::train::FusedAdam
fn optimizer(model: Model, fast: bool) -> ModuleOptimizer {
    let (nesterov, weight_decay) = match model {
        // The peer's `--optim adam`.
        Model::Mlp if fast => return FusedAdamConfig::new().init(),
        Model::Mlp => return AdamConfig::new().init(),
        Model::Conv => (false, 0.0),
        _ => (true, 1e-3),
    };
    OptimizerConfig::Sgd {
        momentum: 0.9,
        nesterov,
        weight_decay,
    }
    .init()
}

/// Training FLOPs of the `--model conv` net per step, as the peer's `conv_flops` counts them.
fn conv_train_flops(args: &Args) -> f64 {
    let (b, c, px) = (args.batch as f64, args.width as f64, 32.0 * 32.0);
    let input = 2.0 * b * px * c * 3.0 * 9.0;
    let stack = args.depth as f64 * 2.0 * (2.0 * b * px * c * c * 9.0);
    3.0 * (input + stack) - input
}

/// Runs the PyTorch peer's `bench` (`mlp` or `conv`) with `args`' sizes; returns its
/// first result row.
fn run_peer(bench: &str, args: &Args) -> anyhow::Result<serde_json::Value> {
    let mut flags = format!(
        "--depth {} --width {} --batch {} ",
        args.depth, args.width, args.batch
    );
    if bench == "mlp" {
        flags += "--optim adam ";
    }
    flags += &format!("--warmup {} --steps {}", args.warmup, args.steps);
    let value = args
        .bench
        .run_peer(bench, &flags)?
        .expect("--peer is given");
    Ok(value["results"][0].clone())
}

/// `threads N` for the peer on the CPU, `on cuda` on a GPU: the end of its rows' names.
fn peer_where(peer: &BenchArgs) -> String {
    if peer.peer_device == "cpu" {
        format!("threads {}", peer.peer_threads)
    } else {
        format!("on {}", peer.peer_device)
    }
}

fn bench(args: &Args, device_name: &str, variant: Variant) -> anyhow::Result<Timing> {
    let device = parse_device(Some(device_name))?.autodiff();
    device.seed(0);
    let mut model = Some(Net::new(args, variant == Variant::Fused, &device));
    let mut optim = optimizer(args.model, variant == Variant::Fast);
    let x = model.as_ref().expect("model").input(args.batch, &device);
    let y = Tensor::<1, Int>::random([args.batch], Distribution::Uniform(0.0, 10.0), &device);
    let loss = CrossEntropyLossConfig::new().init(&device);
    let variant_name = format!("{variant:?}").to_lowercase();
    // The CIFAR presets have their own depth and width.
    let sizes = match args.model.cifar_config() {
        Some(_) => String::new(),
        None => format!("depth {} width {} ", args.depth, args.width),
    };
    let name = format!(
        "{:?} {device_name} {variant_name} {sizes}batch {}",
        args.model, args.batch
    );
    let timing = time_steps(&name, args.warmup, args.steps, || {
        let m = model.take().expect("model");
        let grads = m.grads(x.clone(), y.clone(), &loss, variant == Variant::Fast);
        let m = optim.step(1e-3, m, grads);
        // Wait for the device so that the step is timed in full.
        device.sync().expect("device sync");
        model = Some(m);
    });
    Ok(timing)
}

/// The `bench-highway` program on the command line `args` (its name first).
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    let args = Args::parse_from(args);
    let devices = if args.devices.is_empty() {
        crate::backend::compiled_backends()
            .into_iter()
            .filter(|b| matches!(*b, "flex" | "ndarray"))
            .map(String::from)
            .collect()
    } else {
        args.devices.clone()
    };
    let (peer_bench, flops) = match args.model {
        Model::Mlp => (Some("mlp"), None),
        Model::Conv => (Some("conv"), Some(conv_train_flops(&args))),
        m => (
            None,
            m.cifar_config().map(|c| cifar_train_flops(&c, args.batch)),
        ),
    };
    if args.bench.peer.is_some() && peer_bench.is_none() {
        anyhow::bail!("--peer: the PyTorch peer has only the mlp and conv models");
    }
    let variants = match (args.variants.is_empty(), args.unfused_only) {
        (false, _) => args.variants.clone(),
        (true, true) => vec![Variant::Fast, Variant::Unfused],
        (true, false) => vec![Variant::Fast, Variant::Fused, Variant::Unfused],
    };
    let mut rows = Vec::new();
    // The Burn rows' positions in `rows`, for the ratios to the peer.
    let mut burn_rows = Vec::new();
    for device in &devices {
        if args.matmul {
            let on = parse_device(Some(device))?;
            rows.push(bench_matmul(&on, device, args.warmup, args.steps)?);
        }
        let mut pair = Vec::new();
        for &variant in &variants {
            let mut t = bench(&args, device, variant)?;
            t.gflop_per_step = flops.map(|f| f / 1e9);
            println!(
                "{:<55} {:8.2} steps/s  {:9.0} samples/s  (median {:.2} ms over {} steps)",
                t.name,
                t.steps_per_s,
                t.steps_per_s * args.batch as f64,
                t.median_s * 1e3,
                t.steps
            );
            if let Some(flops) = flops {
                println!(
                    "    {:.1} GFLOP per step (3x3 convs), {:.2} GFLOP/s",
                    flops / 1e9,
                    flops * t.steps_per_s / 1e9
                );
            }
            if variant != Variant::Fast {
                pair.push(t.steps_per_s);
            }
            burn_rows.push(rows.len());
            rows.push(t);
        }
        if let [fused, unfused] = pair[..] {
            println!("{device}: fused / unfused = {:.2}x", fused / unfused);
        }
    }
    if let (Some(_), Some(bench)) = (&args.bench.peer, peer_bench) {
        let number = |row: &serde_json::Value, key: &str| row[key].as_f64().unwrap_or(f64::NAN);
        if args.matmul {
            let mut t = peer_matmul(&args.bench, args.warmup, args.steps)?;
            t.name = format!("{} {}", t.name, peer_where(&args.bench));
            rows.push(t);
        }
        let peer = run_peer(bench, &args)?;
        let peer_rate = number(&peer, "steps_per_s");
        let sizes = format!(
            "PyTorch {bench} depth {} width {} batch {}",
            args.depth, args.width, args.batch
        );
        rows.push(Timing {
            name: format!("{sizes} {}", peer_where(&args.bench)),
            median_s: number(&peer, "median_step_s"),
            steps_per_s: peer_rate,
            steps: args.steps,
            gflop_per_step: flops.map(|f| f / 1e9),
        });
        println!(
            "{sizes}: {peer_rate:.2} steps/s, {:.1} GFLOP/s",
            number(&peer, "gflops_per_s")
        );
        for t in burn_rows.iter().map(|&i| &rows[i]) {
            println!(
                "{}: Burn / PyTorch = {:.2}x",
                t.name,
                t.steps_per_s / peer_rate
            );
        }
    }
    if let Some(mib) = peak_memory_mib() {
        println!("peak resident memory of this process: {mib:.0} MiB");
    }
    args.bench.write_json(&rows)
}
