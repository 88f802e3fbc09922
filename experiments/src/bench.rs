//! Timing helpers for the bench binaries: median of individually timed repetitions, the
//! PyTorch peer they run beside Burn and the JSON file they write (`--json`); the programs
//! themselves, [`highway`] (`bench-highway`) and [`rhn`] (`bench-rhn`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use burn::tensor::{Device, Distribution, Tensor};

use crate::provenance::Provenance;

pub mod highway;
pub mod rhn;

/// The flags both bench binaries share: the PyTorch peer's and `--json`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Python interpreter with torch: also run the PyTorch peer (`bench/torch_peer.py`) with
    /// the same configuration.
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// Threads for the peer (match `RAYON_NUM_THREADS` / the cores Burn uses).
    #[arg(long, default_value_t = 2)]
    pub peer_threads: usize,
    /// Where the peer runs: `cpu`, or `cuda` / `cuda:N` (an NVIDIA GPU, beside Burn's `cuda`
    /// or `wgpu` on it).
    #[arg(long, default_value = "cpu", value_parser = parse_peer_device)]
    pub peer_device: String,
    /// Also write the rows as JSON to this file, with this run's provenance (command line,
    /// date, commit, machine): `{"provenance": {..}, "rows": [..]}`.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn parse_peer_device(value: &str) -> Result<String, String> {
    let (kind, index) = value.split_once(':').unwrap_or((value, ""));
    let index_ok = index.is_empty() || index.parse::<usize>().is_ok();
    match kind {
        "cpu" if index.is_empty() => Ok(value.to_string()),
        "cuda" if index_ok => Ok(value.to_string()),
        _ => Err(format!("`{value}`: give cpu, cuda or cuda:N")),
    }
}

impl BenchArgs {
    /// Runs the PyTorch peer `bench/torch_peer.py BENCH ARGS.. --threads N --device D --json
    /// FILE` with `--peer`'s Python, if it was given (`args`: flags and values separated by
    /// spaces), and returns what it wrote: `{"meta": {..}, "results": [..]}`, with at least one
    /// result row.
    pub fn run_peer(&self, bench: &str, args: &str) -> anyhow::Result<Option<serde_json::Value>> {
        let Some(python) = &self.peer else {
            return Ok(None);
        };
        let script = peer_script()?;
        let out = std::env::temp_dir().join(format!("hz-peer-{bench}-{}.json", std::process::id()));
        let mut cmd = std::process::Command::new(python);
        cmd.arg(&script).arg(bench).args(args.split_whitespace());
        cmd.args([
            "--threads",
            &self.peer_threads.to_string(),
            "--device",
            &self.peer_device,
        ]);
        cmd.arg("--json").arg(&out);
        let status = cmd
            .status()
            .with_context(|| format!("--peer {}: cannot start it", python.display()))?;
        if !status.success() {
            anyhow::bail!("the PyTorch peer failed ({status}): {cmd:?}");
        }
        let text =
            std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        std::fs::remove_file(&out).ok();
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("the PyTorch peer's {} is not JSON", out.display()))?;
        if value["results"][0].is_null() {
            anyhow::bail!("the PyTorch peer wrote no result row: {text}");
        }
        Ok(Some(value))
    }

    /// Writes a bench binary's `rows` to `--json`'s file, if it was given, as `{"provenance":
    /// .., "rows": [..], "peak_memory_mib": ..}`: the rows with this process's [`Provenance`]
    /// (command line, date, commit, machine, backend) and its peak resident memory so far
    /// ([`peak_memory_mib`]).
    pub fn write_json<T: serde::Serialize>(&self, rows: &[T]) -> anyhow::Result<()> {
        self.write_json_with(rows, serde_json::Map::new())
    }

    /// [`write_json`](Self::write_json), with `extra`'s fields beside the rows.
    pub fn write_json_with<T: serde::Serialize>(
        &self,
        rows: &[T],
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<()> {
        let Some(path) = &self.json else {
            return Ok(());
        };
        let mut value = serde_json::json!({
            "provenance": Provenance::current(),
            "rows": rows,
            "peak_memory_mib": peak_memory_mib(),
        });
        if let Some(fields) = value.as_object_mut() {
            fields.extend(extra);
        }
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        // Atomic, and into a directory created if missing: a long benchmark never ends on an
        // unwritable path or leaves a torn file.
        models::train::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// `bench/torch_peer.py`: under the current directory (a checkout run from its root, as on a
/// machine the binaries were carried to), else in the checkout this binary was built from.
fn peer_script() -> anyhow::Result<PathBuf> {
    let here = PathBuf::from("bench/torch_peer.py");
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/torch_peer.py");
    [here.clone(), built.clone()]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--peer: the PyTorch peer is neither at {} (run from the repository's root) nor \
                 at {}",
                here.display(),
                built.display()
            )
        })
}

/// The result of timing one workload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timing {
    /// What was timed.
    pub name: String,
    /// Median seconds per step.
    pub median_s: f64,
    /// Steps per second (1 / median).
    pub steps_per_s: f64,
    /// Number of timed steps.
    pub steps: usize,
    /// The arithmetic of one step in GFLOP, where the bench counts it (the 2048³ product,
    /// the 3×3 convolutions of a conv workload).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gflop_per_step: Option<f64>,
}

/// Runs `step` `warmup` times untimed, then `steps` times timed one by one; reports the median.
pub fn time_steps(name: &str, warmup: usize, steps: usize, mut step: impl FnMut()) -> Timing {
    for _ in 0..warmup {
        step();
    }
    let mut times: Vec<Duration> = (0..steps.max(1))
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed()
        })
        .collect();
    times.sort();
    let median_s = times[times.len() / 2].as_secs_f64();
    Timing {
        name: name.to_string(),
        median_s,
        steps_per_s: 1.0 / median_s,
        steps: times.len(),
        gflop_per_step: None,
    }
}

/// The arithmetic of the 2048³ product that `--matmul` times, in GFLOP: `2·2048³`.
pub const MATMUL_GFLOP: f64 = 2.0 * 2048.0 * 2048.0 * 2048.0 / 1e9;

/// Times a 2048³ `f32` product on `device` (named `device_name` in the row) and prints its
/// rate: the machine's practical peak for Burn, beside which a workload's GFLOP/s is read.
pub fn bench_matmul(
    device: &Device,
    device_name: &str,
    warmup: usize,
    steps: usize,
) -> anyhow::Result<Timing> {
    device.seed(0);
    let n = 2048;
    let a = Tensor::<2>::random([n, n], Distribution::Default, device);
    let b = Tensor::<2>::random([n, n], Distribution::Default, device);
    let name = format!("matmul {device_name} {n}x{n}x{n}");
    let mut t = time_steps(&name, warmup.max(2), steps.max(10), || {
        let c = a.clone().matmul(b.clone());
        device.sync().expect("device sync");
        drop(c);
    });
    t.gflop_per_step = Some(MATMUL_GFLOP);
    println!(
        "{:<55} {:8.1} GFLOP/s  (median {:.2} ms)",
        t.name,
        MATMUL_GFLOP * t.steps_per_s,
        t.median_s * 1e3
    );
    Ok(t)
}

/// Times the PyTorch peer's 2048³ product (`torch_peer.py matmul`, `--peer` given) and prints
/// its rate; the row is named `PyTorch matmul 2048x2048x2048`.
pub fn peer_matmul(peer: &BenchArgs, warmup: usize, steps: usize) -> anyhow::Result<Timing> {
    let flags = format!("--warmup {warmup} --steps {steps}");
    let value = peer.run_peer("matmul", &flags)?;
    let row = &value.context("--matmul beside the peer: --peer is not given")?["results"][0];
    let number = |key: &str| {
        row[key]
            .as_f64()
            .with_context(|| format!("the PyTorch peer's matmul row has no {key}: {row}"))
    };
    let gflops = number("gflops_per_s")?;
    println!("PyTorch matmul 2048x2048x2048: {gflops:.1} GFLOP/s");
    Ok(Timing {
        name: "PyTorch matmul 2048x2048x2048".to_string(),
        median_s: number("median_step_s")?,
        steps_per_s: gflops / MATMUL_GFLOP,
        steps: steps.max(10),
        gflop_per_step: Some(MATMUL_GFLOP),
    })
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Measures how many cores *other* processes kept busy while a benchmark ran (Linux
/// `/proc/stat` minus this process's `/proc/self/stat`), like the PyTorch peer's
/// `foreign_cpu`: above ~0.1 the timing is contended.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    busy_ticks: u64,
    own_ticks: u64,
    start: std::time::Instant,
}

/// Clock ticks per second of `/proc` (`USER_HZ`, 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

fn system_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some(v.iter().take(8).sum::<u64>() - idle)
}

fn own_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

impl CpuMeter {
    /// Starts measuring; `None` where `/proc` is unavailable.
    pub fn start() -> Option<Self> {
        Some(Self {
            busy_ticks: system_busy_ticks()?,
            own_ticks: own_ticks()?,
            start: std::time::Instant::now(),
        })
    }

    /// Average cores kept busy by other processes since [`start`](Self::start).
    pub fn foreign_cores(&self) -> Option<f64> {
        let busy = system_busy_ticks()?.saturating_sub(self.busy_ticks) as f64;
        let own = own_ticks()?.saturating_sub(self.own_ticks) as f64;
        let wall = self.start.elapsed().as_secs_f64();
        Some(((busy - own) / TICKS_PER_S / wall).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_devices_are_cpu_or_cuda() {
        for ok in ["cpu", "cuda", "cuda:1"] {
            assert_eq!(parse_peer_device(ok).as_deref(), Ok(ok));
        }
        for bad in ["gpu", "cpu:0", "cuda:x", "wgpu", ""] {
            let e = parse_peer_device(bad).unwrap_err();
            assert!(e.contains("give cpu, cuda or cuda:N"), "{bad}: {e}");
        }
    }
}
