//! Kernel launches per RHN window on the device under test, with Burn's fusion on or off.

use burn::tensor::{Int, Tensor, TensorData};
use models::{RecurrentLm, RhnLmConfig, token_loss};
use rhn::VariationalDropoutConfig;

use super::steps::window;
use super::{gpu, temp};

/// Windows counted after the warm-up window.
const COUNTED_WINDOWS: usize = 3;

/// The child of [`kernel_launches_per_rhn_window`]: runs one warm-up training step (forward,
/// loss, backward: `HZ_KERNEL_PATH` `hand` for the hand-written backward through time, else
/// autodiff) of an RHN
/// window (depth 4, BPTT 35, as `ptb_small`; 16 units) and then [`COUNTED_WINDOWS`] more,
/// printing the lines of the kernel log (`HZ_KERNEL_LOG`, written by cubecl's profiling logger
/// at level `minimal`: one line per kernel run) after each.
#[test]
#[ignore = "run by kernel_launches_per_rhn_window"]
fn child_counts_kernel_launches() {
    let log = std::path::PathBuf::from(std::env::var("HZ_KERNEL_LOG").expect("HZ_KERNEL_LOG"));
    let hand = std::env::var("HZ_KERNEL_PATH").expect("HZ_KERNEL_PATH") == "hand";
    let device = gpu().expect("the device under test").autodiff();
    device.seed(3);
    let model = RhnLmConfig::new(50, 16, 4)
        .with_tied_embeddings(true)
        .with_dropout(VariationalDropoutConfig::ptb_sota())
        .init(&device);
    let (batch, seq) = (2, 35);
    let (x, y) = window(batch, seq, 50);
    let lines = || {
        // The logger writes from a thread of its own: give it time to catch up.
        std::thread::sleep(std::time::Duration::from_millis(500));
        std::fs::read_to_string(&log)
            .map_or(0, |t| t.lines().filter(|l| l.contains("Executing")).count())
    };
    let mut counts = Vec::new();
    for _ in 0..=COUNTED_WINDOWS {
        let tokens = |t: &Vec<i64>| {
            Tensor::<2, Int>::from_data(TensorData::new(t.clone(), [batch, seq]), &device)
        };
        let masks = model.sample_masks(batch, &device);
        let grads = if hand {
            let (logits, _, tape) = model.forward_train(tokens(&x), None, Some(&masks));
            model.backward_lm(token_loss(logits, tokens(&y)) * seq as f64, tape)
        } else {
            let (logits, _) = model.forward_lm(tokens(&x), None, Some(&masks));
            (token_loss(logits, tokens(&y)) * seq as f64).backward()
        };
        // Reading one gradient waits for every kernel queued before it.
        let g = model
            .embedding
            .weight
            .val()
            .grad(&grads)
            .expect("a gradient");
        let _ = g.into_data();
        counts.push(lines());
    }
    println!("kernel log lines after each window: {counts:?}");
}

/// Kernel launches of one RHN training window (forward, loss and backward; no optimiser) on
/// the hand-written backward and on autodiff, counted from cubecl's kernel log in a child
/// process: about the same count for every window after the first (within 1%: the log is
/// written by a thread of its own), and printed for docs/speed.md.
#[cfg(unix)]
#[test]
fn kernel_launches_per_rhn_window() {
    let Some(_) = gpu() else { return };
    for path in ["hand", "autodiff"] {
        let dir = temp(&format!("kernels-{path}"));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("kernels.log");
        std::fs::write(
            dir.join("cubecl.toml"),
            format!(
                "[profiling.logger]\nlevel = \"minimal\"\nfile = {:?}\nappend = false\n",
                log.display().to_string()
            ),
        )
        .unwrap();
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kernels::child_counts_kernel_launches",
                "--ignored",
                "--nocapture",
            ])
            .current_dir(&dir)
            .env("HZ_KERNEL_LOG", &log)
            .env("HZ_KERNEL_PATH", path)
            .output()
            .expect("the child runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{path}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let counts: Vec<usize> = stdout
            .lines()
            .find_map(|l| l.strip_prefix("kernel log lines after each window: "))
            .expect("the child's counts")
            .trim_matches(['[', ']'])
            .split(", ")
            .map(|n| n.parse().unwrap())
            .collect();
        let per_window: Vec<usize> = counts.windows(2).map(|w| w[1] - w[0]).collect();
        eprintln!(
            "RHN window (depth 4, BPTT 35), {path}: {per_window:?} kernel launches per window \
             after the first ({} in the first, with compilation and autotuning), fusion {}",
            counts[0],
            if cfg!(any(feature = "wgpu", feature = "cuda")) {
                "on"
            } else {
                "off"
            }
        );
        assert!(per_window.iter().all(|&n| n > 0), "{path}: {counts:?}");
        let (low, high) = (
            per_window.iter().min().unwrap(),
            per_window.iter().max().unwrap(),
        );
        assert!(
            (high - low) * 100 <= *high,
            "{path}: about the same launches every window: {per_window:?}"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
