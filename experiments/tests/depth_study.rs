//! The depth study's scheduler on the real MNIST (a tiny random-search study: 3 runs in each of
//! 2 cells on a few hundred images), through the `mnist-depth` binary: `--jobs 2` gives exactly
//! the results of `--jobs 1`; the union of `--shard 1/3, 2/3, 3/3` gives exactly the unsharded
//! study, and `--collect` names the runs of a shard that has not run; a study killed mid-run
//! resumes to the same summaries; a directory that holds another study is refused.
//! Skipped (with a message) when the MNIST files are not in the cache: run
//! `bash scripts/fetch-data.sh mnist`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use experiments::depth_study::StudyResult;
use experiments::depth_study::schedule::Invocation;

const BIN: &str = env!("CARGO_BIN_EXE_mnist-depth");

/// The tiny study's flags (random search: every run draws its own hyper-parameters).
const STUDY: &[&str] = &[
    "--depths",
    "3",
    "--kinds",
    "plain,highway",
    "--runs",
    "3",
    "--epochs",
    "3",
    "--train-examples",
    "400",
    "--test-examples",
    "200",
    "--batch-size",
    "50",
    "--seed",
    "5",
    "--quiet",
];

fn mnist_present() -> bool {
    let found = datasets::MnistDataset::test(datasets::MnistKind::Mnist, None).is_ok();
    if !found {
        datasets::missing_in_test("mnist");
    }
    found
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hz-depth-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn study(out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(STUDY).arg("--out").arg(out).args(extra);
    command
}

fn run(out: &Path, extra: &[&str]) -> Output {
    study(out, extra).output().expect("mnist-depth starts")
}

fn run_ok(out: &Path, extra: &[&str]) {
    let output = run(out, extra);
    assert!(
        output.status.success(),
        "mnist-depth {extra:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn result(out: &Path) -> StudyResult {
    let text = std::fs::read_to_string(out.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("a study result")
}

/// Everything of the two results except wall-clock times and memory: every run's draws, loss
/// curve and accuracy, bit for bit, and each cell's statistics.
fn assert_same(a: &StudyResult, b: &StudyResult, what: &str) {
    assert_eq!(a.runs.len(), b.runs.len(), "{what}");
    for (x, y) in a.runs.iter().zip(&b.runs) {
        let run = format!("{what}: {}-{} #{}", x.kind, x.depth, x.run);
        assert_eq!((x.kind, x.depth, x.run), (y.kind, y.depth, y.run), "{run}");
        assert_eq!(x.hyper, y.hyper, "{run}");
        assert_eq!(x.status, y.status, "{run}");
        assert_eq!(x.train_loss_curve, y.train_loss_curve, "{run}");
        assert_eq!(x.final_train_loss, y.final_train_loss, "{run}");
        assert_eq!(x.test_accuracy, y.test_accuracy, "{run}");
    }
    assert_eq!(a.best, b.best, "{what}");
    assert_eq!(a.cells, b.cells, "{what}");
}

#[test]
fn two_jobs_and_three_shards_give_the_one_job_study() {
    if !mnist_present() {
        return;
    }
    let one = temp("jobs1");
    run_ok(&one, &["--jobs", "1"]);
    let reference = result(&one);
    assert_eq!(reference.runs.len(), 6);
    assert_eq!(reference.cells.len(), 2);
    let draws: Vec<_> = reference.runs.iter().map(|r| r.hyper.lr).collect();
    assert!(
        draws.windows(2).all(|w| w[0] != w[1]),
        "each run draws its own learning rate: {draws:?}"
    );
    assert!(
        reference
            .runs
            .iter()
            .any(|r| r.final_train_loss.is_some_and(|l| l < 2.0)),
        "some run learns: {:?}",
        reference.runs
    );
    for file in ["table.md", "config.json", "figure1-top10.svg"] {
        assert!(one.join(file).exists(), "{file}");
    }
    let invocations = Invocation::read_all(&one).unwrap();
    assert_eq!(invocations.len(), 1);
    assert_eq!((invocations[0].jobs, invocations[0].runs_trained), (1, 6));

    let two = temp("jobs2");
    run_ok(&two, &["--jobs", "2"]);
    assert_same(&reference, &result(&two), "--jobs 2");

    let shards = temp("shards");
    run_ok(&shards, &["--jobs", "2", "--shard", "1/3"]);
    run_ok(&shards, &["--jobs", "2", "--shard", "2/3"]);
    assert!(
        !shards.join("results.json").exists(),
        "no tables from an incomplete study"
    );
    let early = run(&shards, &["--collect"]);
    assert!(!early.status.success(), "--collect with a shard missing");
    let message = String::from_utf8_lossy(&early.stderr);
    // Shard 3/3 holds runs 2 and 5 of the plan: plain #2 and highway #2.
    assert!(
        message.contains("2 of 6 runs")
            && message.contains("plain-003/run-02")
            && message.contains("highway-003/run-02")
            && message.contains("not started"),
        "{message}"
    );
    run_ok(&shards, &["--jobs", "1", "--shard", "3/3"]);
    std::fs::remove_file(shards.join("results.json")).ok();
    run_ok(&shards, &["--collect"]);
    assert_same(&reference, &result(&shards), "shards 1/3, 2/3, 3/3");
    let invocations = Invocation::read_all(&shards).unwrap();
    let shard_names: Vec<&str> = invocations.iter().map(|i| i.shard.as_str()).collect();
    assert_eq!(shard_names, ["1/3", "2/3", "3/3"]);
    assert_eq!(invocations.iter().map(|i| i.runs_trained).sum::<usize>(), 6);

    // The same directory with another configuration is refused, naming the file.
    let other = run(&one, &["--jobs", "1", "--transform-bias", "-1"]);
    assert!(!other.status.success());
    let message = String::from_utf8_lossy(&other.stderr);
    assert!(
        message.contains("config.json holds another study's configuration"),
        "{message}"
    );

    for dir in [one, two, shards] {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// The first run directory with a published checkpoint but no summary, if any.
fn interrupted_run(out: &Path) -> Option<PathBuf> {
    let cells = std::fs::read_dir(out).ok()?;
    for cell in cells.filter_map(|e| e.ok()) {
        for run in std::fs::read_dir(cell.path()).ok()?.filter_map(|e| e.ok()) {
            let dir = run.path();
            if dir.join("checkpoints/latest").exists() && !dir.join("summary.json").exists() {
                return Some(dir);
            }
        }
    }
    None
}

#[test]
fn a_study_killed_mid_run_resumes_to_the_same_summaries() {
    if !mnist_present() {
        return;
    }
    let whole = temp("whole");
    run_ok(&whole, &["--jobs", "2"]);

    let killed = temp("killed");
    let mut child = study(&killed, &["--jobs", "2"])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mnist-depth starts");
    let start = Instant::now();
    let interrupted = loop {
        if let Some(dir) = interrupted_run(&killed) {
            break dir;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the study ended before a run was caught between checkpoints"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(2));
    };
    // SIGKILL to the parent and its workers.
    let group = child.id() as i32;
    assert_eq!(unsafe { libc::kill(-group, libc::SIGKILL) }, 0);
    child.wait().unwrap();
    assert!(!interrupted.join("summary.json").exists());

    run_ok(&killed, &["--jobs", "2"]);
    assert_same(&result(&whole), &result(&killed), "killed and resumed");
    for dir in [whole, killed] {
        std::fs::remove_dir_all(dir).ok();
    }
}
