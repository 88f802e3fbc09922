//! Which runs a study invocation trains, and where: the run list ([`plan`]), its slice for
//! one machine ([`Shard`], `--shard K/N`), the pool of worker processes that trains them
//! ([`run_jobs`], `--jobs N`) and the study rebuilt from whatever run directories are there
//! ([`collect`]), naming every run that is missing or unfinished.
//!
//! Each run trains in its own process with one thread (`RAYON_NUM_THREADS=1`). Burn's CPU
//! backend draws random numbers from one stream per process, so runs in threads of one process
//! would draw each other's numbers; in processes, a run's weights, dropout-free updates and
//! data order depend only on its seed, and a study's results do not depend on `--jobs` or on
//! `--shard`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use models::LayerKind;
use serde::{Deserialize, Serialize};

use super::{RunSummary, StudyConfig, StudyResult, hyper_for};
use crate::provenance::Provenance;
use models::train::{RunDir, write_atomic};

/// One run of the study: its cell and its index in the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey {
    /// Layer type.
    pub kind: LayerKind,
    /// Depth.
    pub depth: usize,
    /// Index within the cell.
    pub run: usize,
}

impl RunKey {
    /// The run's directory under the study's `out`: `highway-050/run-03`.
    pub fn dir(&self, out: &Path) -> PathBuf {
        out.join(self.to_string())
    }
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:03}/run-{:02}", self.kind, self.depth, self.run)
    }
}

/// Every run of the study, in the order it is listed and trained: by depth, then type (as
/// `config.kinds` lists them), then run.
pub fn plan(config: &StudyConfig) -> Vec<RunKey> {
    let runs = |kind, depth| (0..config.runs).map(move |run| RunKey { kind, depth, run });
    let cells = |depth| config.kinds.iter().flat_map(move |&kind| runs(kind, depth));
    config
        .depths
        .iter()
        .flat_map(|&depth| cells(depth))
        .collect()
}

/// `--shard K/N`: the K-th of N slices of the run list (1 ≤ K ≤ N). Run `i` of [`plan`] belongs
/// to slice `i mod N + 1`, so every slice holds about the same mix of depths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 1.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl Shard {
    /// The positions in `plan` of this slice's runs.
    pub fn select(&self, plan: &[RunKey]) -> Vec<usize> {
        (0..plan.len())
            .filter(|i| i % self.count == self.index - 1)
            .collect()
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |x: &str| x.trim().parse::<usize>().ok();
        match s.split_once('/').map(|(k, n)| (number(k), number(n))) {
            Some((Some(index), Some(count))) if 1 <= index && index <= count => {
                Ok(Self { index, count })
            }
            _ => Err(format!("expected K/N with 1 ≤ K ≤ N (e.g. 2/8), got `{s}`")),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The name of the file under a run's directory that holds its worker's output.
pub const WORKER_LOG: &str = "worker.log";

/// The file that a finished run's directory holds: its [`RunSummary`].
const SUMMARY: &str = "summary.json";

/// The last `n` lines of `path` (empty if it cannot be read).
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Copies a worker's stderr into its log, line by line as it comes, and hands every line that
/// starts with `warning:` to `warn` as `warning: run KEY: …`, so that warnings (e.g. a damaged
/// checkpoint skipped on resume) reach the person running the study, not only the log.
fn forward_stderr(
    stderr: impl std::io::Read,
    mut log: impl std::io::Write,
    key: &str,
    warn: &mut dyn FnMut(String),
) -> std::io::Result<()> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(stderr);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line)? > 0 {
        log.write_all(&line)?;
        let text = String::from_utf8_lossy(&line);
        if let Some(rest) = text.trim().strip_prefix("warning:") {
            warn(format!("warning: run {key}: {}", rest.trim_start()));
        }
        line.clear();
    }
    log.flush()
}

/// Trains the runs at positions `todo` of `plan` that have not finished, `jobs` at a time,
/// each in the process that `worker(position)` describes (its output goes to the run's
/// [`WORKER_LOG`], its warnings also to this process's stderr; `RAYON_NUM_THREADS=1` is set
/// for it). `finished(position, summary)` is called as each one ends. A worker that fails or
/// is killed stops the scheduling of new runs; the ones already running finish, and the error
/// names the run, how it ended and the end of its log. Re-running resumes: finished runs are
/// skipped, an unfinished one continues from its last checkpoint.
pub fn run_jobs(
    plan: &[RunKey],
    todo: &[usize],
    out: &Path,
    jobs: usize,
    worker: &(dyn Fn(usize) -> Command + Sync),
    finished: &(dyn Fn(usize, &RunSummary) + Sync),
) -> anyhow::Result<()> {
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    // A run that has finished has its summary.
    let done = |i: &usize| plan[*i].dir(out).join(SUMMARY).exists();
    let pending: Vec<usize> = todo.iter().copied().filter(|i| !done(i)).collect();
    let queue = Mutex::new(pending.into_iter());
    let stop = AtomicBool::new(false);
    let errors = Mutex::new(Vec::<anyhow::Error>::new());
    let one = |i: usize| -> anyhow::Result<()> {
        let key = plan[i];
        let dir = RunDir::create(key.dir(out))?;
        let log_path = dir.file(WORKER_LOG);
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = worker(i);
        command
            .env("RAYON_NUM_THREADS", "1")
            .stdin(std::process::Stdio::null())
            .stdout(
                log.try_clone()
                    .context("duplicating the worker log's handle")?,
            )
            .stderr(std::process::Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("starting the worker for run {key}"))?;
        let stderr = child.stderr.take().context("the worker's stderr")?;
        let copied = forward_stderr(stderr, log, &key.to_string(), &mut |w| eprintln!("{w}"))
            .with_context(|| format!("copying the worker's output to {}", log_path.display()));
        let status = child
            .wait()
            .with_context(|| format!("waiting for the worker of run {key}"))?;
        copied?;
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => format!("was killed ({status})"),
            };
            bail!(
                "run {key} {how}; re-run the same command to resume it. The end of {}:\n{}",
                log_path.display(),
                tail(&log_path, 15)
            );
        }
        let summary = dir.read_json::<RunSummary>(SUMMARY)?.with_context(|| {
            let path = dir.file(SUMMARY);
            format!(
                "run {key}: its worker exited without writing {}",
                path.display()
            )
        })?;
        finished(i, &summary);
        Ok(())
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let Some(i) = queue.lock().unwrap().next() else {
                        break;
                    };
                    if let Err(e) = one(i) {
                        stop.store(true, Ordering::SeqCst);
                        errors.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let mut errors = errors.into_inner().unwrap();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        n => {
            let all: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
            bail!("{n} runs failed:\n{}", all.join("\n\n"))
        }
    }
}

/// The directory under a study's `out` that holds one [`Invocation`] file per invocation.
pub const INVOCATIONS_DIR: &str = "invocations";

/// One invocation of the study that trained runs (a shard, a resumed study): how many, how,
/// on what, and how long it took. Each is its own file under [`INVOCATIONS_DIR`], so shards
/// that share a directory never write the same file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// The command, date, commit and machine.
    pub provenance: Provenance,
    /// `--shard`.
    pub shard: String,
    /// `--jobs`.
    pub jobs: usize,
    /// Runs trained (or finished after an interruption) by this invocation.
    pub runs_trained: usize,
    /// Wall-clock seconds from the first worker's start to the last one's end.
    pub wall_time_s: f64,
}

impl Invocation {
    /// Writes this invocation's file under `out`'s [`INVOCATIONS_DIR`].
    pub fn write(&self, out: &Path) -> anyhow::Result<()> {
        let stamp: String = self
            .provenance
            .date
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let shard = self.shard.replace('/', "of");
        let name = format!("{stamp}-shard{shard}-{}.json", std::process::id());
        let path = out.join(INVOCATIONS_DIR).join(name);
        write_atomic(&path, serde_json::to_string_pretty(self)?.as_bytes())
    }

    /// Every invocation recorded under `out`, oldest first (none if the directory is absent).
    pub fn read_all(out: &Path) -> anyhow::Result<Vec<Self>> {
        let dir = out.join(INVOCATIONS_DIR);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a study invocation record", p.display()))
            })
            .collect()
    }
}

/// Why a run of the plan has no summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No directory: not started (or on another shard's machine).
    NotStarted,
    /// A directory without `summary.json`: started, not finished.
    Unfinished,
}

/// The study as far as its run directories go: the result of the finished runs and the runs
/// of the plan that have no summary.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The finished runs' result.
    pub result: StudyResult,
    /// The runs without a summary, in plan order.
    pub missing: Vec<(RunKey, Missing)>,
}

impl Collected {
    /// The result if every run of the plan has finished; else an error that names the missing
    /// and unfinished runs.
    pub fn complete(self, out: &Path) -> anyhow::Result<StudyResult> {
        if self.missing.is_empty() {
            return Ok(self.result);
        }
        bail!("{}", self.describe_missing(out))
    }

    /// `12 of 800 runs in <out> have no summary: 10 not started (…), 2 unfinished (…)`.
    pub fn describe_missing(&self, out: &Path) -> String {
        let total = self.result.runs.len() + self.missing.len();
        let mut parts = Vec::new();
        for (which, what) in [
            (Missing::NotStarted, "not started"),
            (Missing::Unfinished, "unfinished"),
        ] {
            let keys: Vec<String> = self
                .missing
                .iter()
                .filter(|(_, m)| *m == which)
                .map(|(k, _)| k.to_string())
                .collect();
            let more = match keys.len().saturating_sub(20) {
                0 => String::new(),
                n => format!(", and {n} more"),
            };
            if !keys.is_empty() {
                let shown = keys[..keys.len().min(20)].join(", ");
                parts.push(format!("{} {what} ({shown}{more})", keys.len()));
            }
        }
        format!(
            "{} of {total} runs in {} have no summary.json: {}",
            self.missing.len(),
            out.display(),
            parts.join("; ")
        )
    }
}

/// Reads every run of `config`'s plan under `out`. A summary that is not valid JSON, or that
/// belongs to another run or another study (its cell, index or hyper-parameters differ from
/// the plan's), is an error naming the file.
pub fn collect(config: &StudyConfig, out: &Path) -> anyhow::Result<Collected> {
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    for key in plan(config) {
        let dir = RunDir { path: key.dir(out) };
        let Some(summary) = dir.read_json::<RunSummary>(SUMMARY)? else {
            let why = if dir.path.is_dir() {
                Missing::Unfinished
            } else {
                Missing::NotStarted
            };
            missing.push((key, why));
            continue;
        };
        let hyper = hyper_for(config, key.kind, key.depth, key.run);
        if (summary.kind, summary.depth, summary.run) != (key.kind, key.depth, key.run)
            || summary.hyper != hyper
        {
            bail!(
                "{} is not run {key} of this study: it records {}-{:03} run {} with {:?}, the \
                 study's run has {:?} (a run directory copied from another study?)",
                dir.file(SUMMARY).display(),
                summary.kind,
                summary.depth,
                summary.run,
                summary.hyper,
                hyper
            );
        }
        runs.push(summary);
    }
    Ok(Collected {
        result: StudyResult::new(config.clone(), runs),
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(runs: usize) -> StudyConfig {
        crate::depth_study::test_config(&[10, 50], &[LayerKind::Plain, LayerKind::Highway], runs)
    }

    #[test]
    fn the_plan_is_by_depth_then_type_then_run() {
        let plan = plan(&config(2));
        let names: Vec<String> = plan.iter().map(|k| k.to_string()).collect();
        let expected = "plain-010/run-00 plain-010/run-01 highway-010/run-00 highway-010/run-01 \
                        plain-050/run-00 plain-050/run-01 highway-050/run-00 highway-050/run-01";
        assert_eq!(names.join(" "), expected);
    }

    #[test]
    fn shards_partition_the_plan_and_bad_ones_are_refused() {
        let plan = plan(&config(7));
        for count in 1..=5 {
            let mut all: Vec<usize> = (1..=count)
                .flat_map(|index| Shard { index, count }.select(&plan))
                .collect();
            all.sort();
            assert_eq!(all, (0..plan.len()).collect::<Vec<_>>(), "{count} shards");
        }
        assert_eq!(Shard { index: 2, count: 3 }.select(&plan)[..3], [1, 4, 7]);
        assert_eq!("3/8".parse::<Shard>(), Ok(Shard { index: 3, count: 8 }));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "1/2/3", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("K/N") && e.contains(bad), "{bad}: {e}");
        }
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hz-jobs-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        dir
    }

    #[test]
    fn a_failed_or_killed_worker_is_an_error_naming_the_run_and_its_output() {
        let plan = plan(&config(1));
        let out = temp("fail");
        let failing = |_: usize| {
            let mut c = Command::new("sh");
            c.args(["-c", "echo the data file is bad >&2; exit 3"]);
            c
        };
        let e = run_jobs(&plan, &[0], &out, 1, &failing, &|_, _| {}).unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("run plain-010/run-00 exited with status 3")
                && text.contains("the data file is bad")
                && text.contains("re-run the same command to resume"),
            "{text}"
        );
        let killed = |_: usize| {
            let mut c = Command::new("sh");
            c.args(["-c", "kill -9 $$"]);
            c
        };
        // Two at a time: the first failure stops the hand-out, so one or both are reported.
        let e = run_jobs(&plan, &[0, 1], &out, 2, &killed, &|_, _| {}).unwrap_err();
        let text = format!("{e:#}");
        assert!(text.contains("was killed (signal: 9"), "{text}");
        assert!(
            text.contains("run plain-010/run-00") || text.contains("run highway-010/run-00"),
            "{text}"
        );
        // A worker that exits 0 without a summary.
        let silent = |_: usize| Command::new("true");
        let e = run_jobs(&plan, &[2], &out, 1, &silent, &|_, _| {}).unwrap_err();
        assert!(format!("{e:#}").contains("without writing"), "{e:#}");
        // The collected study names them as unfinished (directories without summaries) or
        // not started.
        let collected = collect(&config(1), &out).unwrap();
        assert_eq!(collected.missing.len(), 4);
        let text = collected.describe_missing(&out);
        // The second of the two killed workers may not have started before the first one's
        // failure stopped the hand-out.
        let both = "1 not started (highway-050/run-00); 3 unfinished (plain-010/run-00, \
                    highway-010/run-00, plain-050/run-00)";
        let one = "2 not started (highway-010/run-00, highway-050/run-00); 2 unfinished \
                   (plain-010/run-00, plain-050/run-00)";
        assert!(
            text.contains("4 of 4 runs") && (text.contains(both) || text.contains(one)),
            "{text}"
        );
        assert!(run_jobs(&plan, &[0], &out, 0, &silent, &|_, _| {}).is_err());
        std::fs::remove_dir_all(out).ok();
    }

    #[test]
    fn worker_warnings_reach_the_caller_and_everything_the_log() {
        let stderr = "epoch 1\nwarning: checkpoint of epoch 2 is unusable: bad\n  warning: x\nno \
                      warning: here"
            .as_bytes();
        let mut log = Vec::new();
        let mut warnings = Vec::new();
        forward_stderr(stderr, &mut log, "plain-010/run-00", &mut |w| {
            warnings.push(w)
        })
        .unwrap();
        assert_eq!(log, stderr);
        assert_eq!(
            warnings,
            [
                "warning: run plain-010/run-00: checkpoint of epoch 2 is unusable: bad",
                "warning: run plain-010/run-00: x"
            ]
        );
    }
}
