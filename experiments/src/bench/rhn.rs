//! Training-step throughput of the RHN language models (*Recurrent Highway Networks*, Zilly et
//! al. 2017), and of the character-aware models of Kim et al. 2016 (`--preset kim-small,
//! kim-large`, the words of the PTB vocabulary; no PyTorch peer), in tokens per second: one truncated-BPTT window (batch 20, 35 steps by default) of
//! forward, backward, global-norm clipping and SGD, exactly the step `ptb` trains with
//! ([`models::train::tbptt::train_window`]), on random tokens. Dropout is off by default, as in the
//! PyTorch peer `bench/torch_peer.py rhn`; `--peer PYTHON` runs that peer with the
//! same configuration right after, so both figures come from one run on one machine; `--matmul`
//! adds both sides' 2048³ product rates, against which the RHN step's GFLOP/s is read (its
//! `gflop_per_step`, counted as the peer counts it). On a GPU
//! every timed step ends with a device synchronisation, and `--peer-device cuda` runs the peer
//! on the NVIDIA GPU (`scripts/gpu-check.sh`).
//!
//! ```text
//! cargo run --release -p experiments --bin bench-rhn -- --preset sota,small \
//!     --peer ~/torch-venv/bin/python
//! cargo run --release -p experiments --features cuda --bin bench-rhn -- --device cuda \
//!     --preset sota,small --peer python3 --peer-device cuda
//! ```

use burn::tensor::{Device, Distribution, Int, Tensor};
use clap::{Parser, ValueEnum};
use datasets::PtbCorpus;
use models::train::OptimizerConfig;
use models::train::tbptt::{LanguageModel, train_window};
use models::{CharCnnLmConfig, RhnLmConfig};
use rhn::VariationalDropoutConfig;

use super::{
    BenchArgs, CpuMeter, MATMUL_GFLOP, bench_matmul, peak_memory_mib, peer_matmul, time_steps,
};
use crate::backend::DeviceArgs;
use crate::cli::DataDirArgs;
use models::analysis::ptb_spelling;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Preset {
    /// `RhnLmConfig::ptb_sota()`: depth 10, 830 units, tied (23.5M parameters).
    Sota,
    /// `RhnLmConfig::ptb_small()`: depth 4, 256 units, tied.
    Small,
    /// `CharCnnLmConfig::kim_small`: 5.3M parameters (no peer).
    KimSmall,
    /// `CharCnnLmConfig::kim_large`: 19.4M parameters (no peer).
    KimLarge,
}

#[derive(Parser, Debug)]
#[command(about = "Tokens/s of one RHN language-model training step, beside the PyTorch peer")]
struct Args {
    /// Presets to time.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "sota,small")]
    preset: Vec<Preset>,
    /// Batch size (rows of the token stream).
    #[arg(long, default_value_t = 20)]
    batch: usize,
    /// BPTT window length.
    #[arg(long, default_value_t = 35)]
    seq_len: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Keep the preset's variational dropout (the peer has none).
    #[arg(long)]
    dropout: bool,
    /// Also time a 2048³ product, Burn's on the device and the peer's beside it (with
    /// `--peer`), in the same run: the file's `matmul_gflops_per_s`, against which the RHN
    /// steps' `gflop_per_step` is read.
    #[arg(long)]
    matmul: bool,
    /// The PyTorch peer, and `--json`.
    #[command(flatten)]
    bench: BenchArgs,
    /// Where PTB is (the kim presets spell the words of its vocabulary).
    #[command(flatten)]
    data: DataDirArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

/// The arithmetic of one training step of `config` in GFLOP, as the PyTorch peer counts it
/// (`bench/torch_peer.py`'s `rhn_flops`): the products of the input projection, the recurrence
/// and the softmax layer, three times for forward and backward, less the input projection's
/// gradient to the embeddings, which need none.
fn rhn_train_gflop(config: &RhnLmConfig, batch: usize, seq_len: usize) -> f64 {
    let tokens = (batch * seq_len) as f64;
    let hidden = config.d_hidden as f64;
    let embed = config.embed_size.unwrap_or(config.d_hidden) as f64;
    let input = 2.0 * tokens * embed * 2.0 * hidden;
    let recurrence = tokens * config.depth as f64 * 2.0 * (2.0 * hidden * hidden);
    let output = 2.0 * tokens * hidden * config.vocab_size as f64;
    (3.0 * (input + recurrence + output) - input) / 1e9
}

/// Times `model`'s training step; `describe`'s fields (the model's sizes) open the row.
fn time_burn<M: LanguageModel>(
    model: M,
    describe: serde_json::Value,
    args: &Args,
    device: &Device,
) -> serde_json::Value {
    let mut optim = OptimizerConfig::Sgd {
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.0,
    }
    .init();
    let (b, s) = (args.batch, args.seq_len);
    let vocab = model.vocab_size() as f64;
    // The windows are drawn before timing (as the peer's corpus is), and the model is moved
    // through each step, not cloned: a clone would keep a second reference to every parameter
    // and stop the optimiser from updating in place, as `fit_lm` does.
    let draw = || Tensor::<2>::random([b, s], Distribution::Uniform(0.0, vocab), device).int();
    let windows: Vec<(Tensor<2, Int>, Tensor<2, Int>)> = (0..args.warmup + args.steps.max(1))
        .map(|_| (draw(), draw()))
        .collect();
    let mut next_window = windows.into_iter().cycle();
    let mut slot = Some(model);
    let mut state = None;
    let meter = CpuMeter::start();
    let timing = time_steps("lm", args.warmup, args.steps, || {
        let window = next_window.next().expect("a window");
        let m = slot.take().expect("the model");
        let (m, _, next) = train_window(m, &mut optim, window, state.take(), 0.2, 10.0);
        slot = Some(m);
        state = Some(next);
        // A GPU's queued work is part of the step (a no-op on the CPU backends).
        device.sync().expect("device sync");
    });
    let model = slot.expect("the model");
    let tokens_per_s = (b * s) as f64 / timing.median_s;
    let mut row = describe;
    let fields = serde_json::json!({
        "impl": "burn",
        "parameters": model.num_params(),
        "vocab": model.vocab_size(),
        "batch": b,
        "seq_len": s,
        "dropout": args.dropout,
        "median_step_s": timing.median_s,
        "tokens_per_s": tokens_per_s,
        "peak_memory_mib": peak_memory_mib(),
        "foreign_cpu": meter.and_then(|m| m.foreign_cores()),
        "device": crate::backend::backend_name(device),
    });
    if let (Some(row), serde_json::Value::Object(fields)) = (row.as_object_mut(), fields) {
        row.extend(fields);
    }
    row
}

fn run_peer(config: &RhnLmConfig, args: &Args) -> anyhow::Result<Option<serde_json::Value>> {
    let mut flags = format!(
        "--hidden {} --rhn-depth {} --vocab {} --batch {} --seq-len {} --warmup {} --steps {} \
         --clip 10 --t-bias {}",
        config.d_hidden,
        config.depth,
        config.vocab_size,
        args.batch,
        args.seq_len,
        args.warmup,
        args.steps,
        config.transform_bias
    );
    if config.tied_embeddings {
        flags += " --tied";
    }
    let Some(value) = args.bench.run_peer("rhn", &flags)? else {
        return Ok(None);
    };
    let row = value["results"][0].clone();
    let mut peer = serde_json::json!({
        "impl": "pytorch",
        "depth": config.depth,
        "hidden": config.d_hidden,
        "parameters": row["params"],
        "batch": args.batch,
        "seq_len": args.seq_len,
        "median_step_s": row["median_step_s"],
        "tokens_per_s": row["tokens_per_s"],
        "foreign_cpu": row["foreign_cpu"],
        "threads": args.bench.peer_threads,
        "device": args.bench.peer_device,
        "peak_gpu_memory_mib": row["peak_gpu_memory_mib"],
        "gpu": value["meta"]["gpu"],
        "torch": value["meta"]["torch"],
    });
    // The GPU's fields only where the peer ran on one.
    if let Some(fields) = peer.as_object_mut() {
        fields.retain(|k, v| !(v.is_null() && matches!(k.as_str(), "peak_gpu_memory_mib" | "gpu")));
    }
    Ok(Some(peer))
}

/// The `bench-rhn` program on the command line `args` (its name first).
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<()> {
    let args = Args::parse_from(args);
    let device = args.device.device()?.autodiff();
    let no_dropout = VariationalDropoutConfig::none;
    let mut rows = Vec::new();
    let mut matmul = serde_json::Map::new();
    if args.matmul {
        let plain = device.clone().without_autodiff();
        let name = crate::backend::backend_name(&plain);
        let t = bench_matmul(&plain, &name, 2, 10)?;
        matmul.insert("burn".into(), (MATMUL_GFLOP * t.steps_per_s).into());
    }
    for preset in &args.preset {
        device.seed(1);
        // The RHN presets' config, for the peer.
        let (burn, rhn) = match preset {
            Preset::Sota | Preset::Small => {
                let mut config = match preset {
                    Preset::Sota => RhnLmConfig::ptb_sota(),
                    _ => RhnLmConfig::ptb_small(),
                };
                if !args.dropout {
                    config = config.with_dropout(no_dropout());
                }
                let describe = serde_json::json!({
                    "depth": config.depth,
                    "hidden": config.d_hidden,
                    "gflop_per_step": rhn_train_gflop(&config, args.batch, args.seq_len),
                });
                let burn = time_burn(config.init(&device), describe, &args, &device);
                (burn, Some(config))
            }
            Preset::KimSmall | Preset::KimLarge => {
                let corpus = PtbCorpus::load(args.data.dir())?;
                let spelling = ptb_spelling(&corpus.vocab)?;
                let (name, mut kim) = match preset {
                    Preset::KimSmall => ("kim_small", CharCnnLmConfig::kim_small(&spelling)),
                    _ => ("kim_large", CharCnnLmConfig::kim_large(&spelling)),
                };
                if !args.dropout {
                    kim = kim.with_dropout(no_dropout());
                }
                let model = kim.init(&spelling, &device).map_err(anyhow::Error::msg)?;
                let describe = serde_json::json!({ "model": name, "hidden": kim.d_hidden });
                (time_burn(model, describe, &args, &device), None)
            }
        };
        println!("{preset:?}: {burn}");
        if let Some(peer) = rhn.map(|c| run_peer(&c, &args)).transpose()?.flatten() {
            let ratio = burn["tokens_per_s"].as_f64().unwrap_or(0.0)
                / peer["tokens_per_s"].as_f64().unwrap_or(f64::NAN);
            println!("{preset:?} peer: {peer}");
            println!("{preset:?}: Burn / PyTorch tokens/s = {ratio:.2}");
            rows.push(peer);
        }
        rows.push(burn);
    }
    if args.matmul && args.bench.peer.is_some() {
        let t = peer_matmul(&args.bench, 2, 10)?;
        matmul.insert("pytorch".into(), (MATMUL_GFLOP * t.steps_per_s).into());
    }
    let mut extra = serde_json::Map::new();
    if args.matmul {
        extra.insert("matmul_gflops_per_s".into(), matmul.into());
    }
    args.bench.write_json_with(&rows, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_arithmetic_is_the_peers_count() {
        // By hand for `ptb_sota` (batch 20 × 35 = 700 tokens, 830 units, depth 10, 10,000
        // words): input 2·700·830·1660 = 1.929e9, recurrence 700·10·2·(2·830²) = 1.929e10,
        // softmax 2·700·830·10⁴ = 1.162e10; 3·(sum) − input = 96.59 GFLOP.
        let sota = rhn_train_gflop(&RhnLmConfig::ptb_sota(), 20, 35);
        assert!((sota - 96.59).abs() < 0.01, "{sota}");
        // `ptb_small`: 256 units, depth 4: 3·(0.1835 + 0.7340 + 3.584) − 0.1835 = 13.32 GFLOP.
        let small = rhn_train_gflop(&RhnLmConfig::ptb_small(), 20, 35);
        assert!((small - 13.32).abs() < 0.01, "{small}");
    }
}
