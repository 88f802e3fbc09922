//! Timing helpers for the bench binaries: median of individually timed repetitions.

use std::time::{Duration, Instant};

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
    }
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
