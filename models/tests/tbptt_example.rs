//! `examples/tbptt_lstm.rs` (Burn's own `Lstm` trained on PTB with truncated BPTT) run as a
//! user runs it: killed with SIGKILL once its first checkpoint set is on disk and started
//! again with the same arguments, it ends with the metrics of an uninterrupted run. Needs PTB
//! (`bash scripts/fetch-data.sh ptb`): skipped without it, a failure under CI.

#![cfg(all(feature = "train", unix))]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The example's binary, which `cargo test` builds beside the test binaries.
fn example() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let path = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/tbptt_lstm");
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// The example training `epochs` epochs of 4 windows into `dir`.
fn command(dir: &Path, epochs: usize) -> Command {
    let mut c = Command::new(example());
    c.arg(dir).arg(epochs.to_string()).arg("4");
    c
}

fn metrics(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("metrics.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for epoch in value.as_array_mut().unwrap() {
        for timing in ["seconds", "train_seconds"] {
            epoch.as_object_mut().unwrap().remove(timing);
        }
    }
    value
}

#[test]
fn the_lstm_example_resumes_exactly_after_a_kill() {
    if datasets::DatasetName::Ptb.locate(None).is_none() {
        datasets::missing_in_test("ptb");
        return;
    }
    let temp = |n: &str| std::env::temp_dir().join(format!("hz-tbptt-{n}-{}", std::process::id()));
    let (straight, killed) = (temp("straight"), temp("killed"));
    for dir in [&straight, &killed] {
        std::fs::remove_dir_all(dir).ok();
    }
    let out = command(&straight, 2).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("epoch 2: valid perplexity"));

    let mut child = command(&killed, 2).spawn().unwrap();
    let start = Instant::now();
    while !killed.join("checkpoints/latest").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no checkpoint written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let latest = std::fs::read_to_string(killed.join("checkpoints/latest")).unwrap();
    assert!(
        latest.trim().parse::<usize>().unwrap() < 2,
        "killed after the end"
    );
    let out = command(&killed, 2).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (metrics(&straight), metrics(&killed));
    assert_eq!(a.as_array().unwrap().len(), 2);
    assert_eq!(a, b);
    for dir in [&straight, &killed] {
        std::fs::remove_dir_all(dir).ok();
    }
}
