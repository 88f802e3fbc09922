//! Helpers shared by the integration tests.
// Each test binary uses some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use models::train::RunDir;

/// Publishes checkpoint set `epoch` of `run` with the files `write` puts into its staging
/// directory, keeping the newest `keep` (as a training run's checkpointers do).
pub fn publish_checkpoint(
    run: &RunDir,
    epoch: usize,
    keep: usize,
    write: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<PathBuf> {
    let staged = run.staging_dir(epoch);
    std::fs::create_dir_all(&staged)?;
    write(&staged)?;
    run.publish_checkpoint(epoch, keep)
}

/// Starts the ignored test `child` of this test binary with `HZ_CHILD_RUN=run_dir`, its output
/// discarded.
pub fn spawn_child(child: &str, run_dir: &Path) -> std::process::Child {
    let exe = std::env::current_exe().expect("the test binary");
    std::process::Command::new(exe)
        .args(["--exact", child, "--ignored", "--quiet"])
        .env("HZ_CHILD_RUN", run_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the child test starts")
}

/// Runs the ignored test `child` of this test binary with `HZ_CHILD_RUN=run_dir`, and kills it
/// with SIGKILL after `delay_ms` milliseconds (or waits for it if it ends first).
pub fn run_child_then_kill(child: &str, run_dir: &Path, delay_ms: u64) {
    let mut process = spawn_child(child, run_dir);
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    process.kill().expect("SIGKILL");
    process.wait().expect("the child ends");
}

/// Kills the child test `child`, training into `run` and resuming there, once after each of
/// `delays_ms`, and asserts that the first kill came before the run's last epoch `epochs` (so
/// that training was really interrupted); returns the newest checkpoint's epoch after each.
pub fn kill_repeatedly(child: &str, run: &RunDir, delays_ms: &[u64], epochs: usize) -> Vec<usize> {
    let mut reached = Vec::new();
    for &delay_ms in delays_ms {
        run_child_then_kill(child, &run.path, delay_ms);
        if let Some((epoch, _)) = run.latest_checkpoint() {
            reached.push(epoch);
        }
    }
    eprintln!("epochs reached at each kill: {reached:?}");
    assert!(reached.first().is_some_and(|e| *e < epochs), "{reached:?}");
    reached
}

/// Burn's CPU backend draws every random number (lazily drawn weights, dropout masks) from one
/// stream per process, so a test that seeds it and compares two runs would see other tests of
/// the same binary draw in between. Every test of a binary that does so holds this lock for its
/// whole body: the binary's tests then run one at a time.
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
