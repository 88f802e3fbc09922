//! Where a run comes from: its command line, UTC date, git commit, machine and backend, as
//! `provenance.json` in every run directory ([`create_run`] writes it when the directory has
//! none) and as the `provenance` object of the bench binaries' and `export`'s JSON files. The
//! `report` binary reads it to give every generated table row its command, date, commit and
//! machine.
//!
//! ```json
//! {
//!   "format": "highway-zoo-provenance/1",
//!   "program": "mnist-depth",
//!   "args": ["--preset", "quick", "--out", "docs/runs/mnist-depth-quick", "--quiet"],
//!   "date": "2026-12-01T12:40:00Z",
//!   "git_commit": "c94f659a1b2c",
//!   "git_modified": ["experiments/src/train/run_dir.rs"],
//!   "build": "dev",
//!   "backends": ["flex"],
//!   "backend": "flex",
//!   "env": { "RAYON_NUM_THREADS": "1" },
//!   "machine": { "cpu": "AMD EPYC", "logical_cores": 2, "memory_gib": 23.5,
//!                "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.18.44", "arch": "x86_64",
//!                "vector": "AVX2" },
//!   "matrix_kernels": "AVX2"
//! }
//! ```
//!
//! `args` has the home directory written as `~`. `git_modified` lists what `git status
//! --porcelain` reported (uncommitted changes and untracked files, the run records under
//! `docs/runs` and `docs/bench` left out) when the process started: empty means the build was
//! the commit itself. A record written by hand for a run that predates these files says so
//! with `"recorded_after_the_run": true`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use models::train::RunDir;

/// The `format` of a provenance record.
pub const PROVENANCE_FORMAT: &str = "highway-zoo-provenance/1";

/// The file name of a run directory's provenance record.
pub const PROVENANCE_FILE: &str = "provenance.json";

/// Environment variables that change how a run trains or how fast, recorded when set.
/// `ATEN_CPU_CAPABILITY` and `MKL_ENABLE_INSTRUCTIONS` choose the kernels of the PyTorch peer
/// that the bench binaries start.
const RECORDED_ENV: &[&str] = &[
    "RAYON_NUM_THREADS",
    "HIGHWAY_ZOO_DATA",
    "HIGHWAY_ZOO_FAST_PATH",
    "ATEN_CPU_CAPABILITY",
    "MKL_ENABLE_INSTRUCTIONS",
];

/// At most this many paths of `git status` are kept in [`Provenance::git_modified`].
const MAX_MODIFIED: usize = 50;

/// Where a run (or a benchmark, an export) comes from. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// [`PROVENANCE_FORMAT`].
    pub format: String,
    /// The program: a binary's name (`mnist-depth`) or a script's path (`bench/torch_peer.py`).
    pub program: String,
    /// Its arguments, the home directory written as `~`.
    pub args: Vec<String>,
    /// UTC date and time, ISO 8601 (`2026-12-01T12:40:00Z`).
    pub date: String,
    /// The git commit checked out (`git rev-parse --short=12 HEAD`), or `unknown`.
    pub git_commit: String,
    /// Paths with uncommitted changes or untracked (`git status --porcelain`); empty: clean.
    #[serde(default)]
    pub git_modified: Vec<String>,
    /// `dev` or `release` (Rust), or the interpreter and library versions (Python).
    pub build: String,
    /// The backends compiled in (cargo features of `experiments`).
    #[serde(default)]
    pub backends: Vec<String>,
    /// The cargo features of `experiments` other than the backends that change what runs
    /// (`x86-v4`). Absent in records written before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// The backend that `--device` (or its default) names.
    pub backend: String,
    /// The environment variables that change how a run trains, where set (`RAYON_NUM_THREADS`,
    /// `HIGHWAY_ZOO_DATA`, `HIGHWAY_ZOO_FAST_PATH`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The machine.
    pub machine: Machine,
    /// The instruction set of the matrix-product kernels this build runs on this machine
    /// (`AVX-512`, `AVX2`, `NEON`): the CPU's [`Machine::vector`], except `AVX2` on an AVX-512
    /// CPU for a build without the `x86-v4` feature. Absent in records written before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix_kernels: Option<String>,
    /// `true` for a record written by hand after the run, from what is known of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recorded_after_the_run: bool,
}

/// The machine a run ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name (`/proc/cpuinfo`), else the architecture.
    pub cpu: String,
    /// Logical cores available to the process.
    pub logical_cores: usize,
    /// Total memory in GiB (`/proc/meminfo`), if known.
    #[serde(default)]
    pub memory_gib: Option<f64>,
    /// Operating system (`/etc/os-release`'s `PRETTY_NAME`, else the OS family).
    pub os: String,
    /// Kernel release, if known.
    #[serde(default)]
    pub kernel: Option<String>,
    /// CPU architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// The widest vector instruction set of the CPU (`AVX-512`, `AVX2`, `SSE4.2`, `SSE2`,
    /// `NEON`). Absent in records written before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    /// The NVIDIA GPU of a run on a GPU backend, as `nvidia-smi` names it: `NVIDIA H100 80GB
    /// HBM3, driver 580.95.05`. Absent for runs on the CPU (`wgpu:cpu` included) and where
    /// `nvidia-smi` answers nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
}

/// The standard output of `program args`, if it ran and succeeded.
fn stdout_of(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The GPU `backend` (a `--device` value) runs on, as [`Machine::gpu`] names it: `cuda`,
/// `cuda:N` and `wgpu`, `wgpu:N` on an NVIDIA GPU (`nvidia-smi`, if it answers); `None` on
/// the CPU.
fn gpu_of(backend: &str) -> Option<String> {
    static GPU: OnceLock<Option<String>> = OnceLock::new();
    let first = backend.split(',').next()?;
    let (kind, index) = first.split_once(':').unwrap_or((first, "0"));
    if !matches!(kind, "cuda" | "wgpu") {
        return None;
    }
    let id = format!("--id={}", index.parse::<usize>().ok()?);
    let query = [
        "--query-gpu=name,driver_version",
        "--format=csv,noheader",
        &id,
    ];
    let gpu = || {
        let text = stdout_of("nvidia-smi", &query)?;
        let (name, driver) = text.lines().next()?.split_once(',')?;
        Some(format!("{}, driver {}", name.trim(), driver.trim()))
    };
    GPU.get_or_init(gpu).clone()
}

/// The widest vector instruction set of this CPU, as [`Machine::vector`] names it.
pub fn vector_extension() -> Option<String> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        use std::arch::is_x86_feature_detected as has;
        // `gemm` picks its AVX-512 kernels on `avx512f`.
        let set = if has!("avx512f") {
            "AVX-512"
        } else if has!("avx2") && has!("fma") {
            "AVX2"
        } else if has!("sse4.2") {
            "SSE4.2"
        } else {
            "SSE2"
        };
        Some(set.to_string())
    }
    #[cfg(target_arch = "aarch64")]
    {
        Some("NEON".to_string())
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        None
    }
}

/// The instruction set of the matrix-product kernels of this build on a CPU whose widest set
/// is `vector`: `burn-flex`'s products (the `gemm` crate) use AVX-512 only when built with
/// its `x86-v4` feature (`experiments`' `x86-v4` feature, on by default).
pub fn matrix_kernels(vector: Option<&str>) -> Option<String> {
    match vector {
        Some("AVX-512") if !cfg!(feature = "x86-v4") => Some("AVX2".to_string()),
        v => v.map(String::from),
    }
}

impl Machine {
    /// This machine.
    pub fn current() -> Self {
        let cpu = ["model name", "Model", "Hardware", "cpu model"]
            .iter()
            .find_map(|key| field("/proc/cpuinfo", key, ':'))
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let memory_gib = field("/proc/meminfo", "MemTotal", ':')
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kib| (kib / (1024.0 * 1024.0) * 10.0).round() / 10.0);
        let os = field("/etc/os-release", "PRETTY_NAME", '=')
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        Self {
            cpu,
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib,
            os,
            kernel,
            arch: std::env::consts::ARCH.to_string(),
            vector: vector_extension(),
            gpu: None,
        }
    }

    /// `AMD EPYC (AVX2), 2 cores`: the short form for tables (`1 core` for a process pinned
    /// to one; no vector set for a record that has none), naming `kernels` too where they
    /// differ from the CPU's widest set: `AMD EPYC (AVX-512, AVX2 kernels), 2 cores`.
    pub fn short_with_kernels(&self, kernels: Option<&str>) -> String {
        let plural = if self.logical_cores == 1 { "" } else { "s" };
        let vector = match (self.vector.as_deref(), kernels) {
            (Some(v), Some(k)) if k != v => format!(" ({v}, {k} kernels)"),
            (Some(v), _) => format!(" ({v})"),
            (None, _) => String::new(),
        };
        format!("{}{vector}, {} core{plural}", self.cpu, self.logical_cores)
    }
}

/// The value of the first `key SEP value` line of the file `path`.
fn field(path: &str, key: &str, sep: char) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(sep)?;
        (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_string())
    })
}

/// `seconds` since the Unix epoch as ISO 8601 UTC (RFC 3339): `2026-12-01T12:40:00Z`.
pub fn iso8601_utc(seconds: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // RFC 3339 has the years 0 to 9999: an empty string before year 0.
    t.format(&Rfc3339).unwrap_or_default()
}

/// Now, as [`iso8601_utc`].
pub fn now_utc() -> String {
    iso8601_utc(OffsetDateTime::now_utc().unix_timestamp())
}

/// `path` with the home directory written as `~`.
fn tilde(arg: String) -> String {
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() && home != "/" => match arg.strip_prefix(&home) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("~{rest}"),
            _ => arg,
        },
        _ => arg,
    }
}

/// The paths `git status --porcelain` reports, at most [`MAX_MODIFIED`] (then a count).
fn git_modified() -> Vec<String> {
    // The run records (docs/runs, docs/bench) are data being written, not the source.
    // `--no-optional-locks`: a status does not refresh the index, so a run killed while it
    // asks (the tests kill workers) leaves no `.git/index.lock` behind, and runs started
    // at once do not contend for it.
    let Some(text) = stdout_of(
        "git",
        &[
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "--untracked-files=normal",
            "--",
            ":(top)",
            ":(top,exclude)docs/runs",
            ":(top,exclude)docs/bench",
        ],
    ) else {
        return Vec::new();
    };
    let mut paths: Vec<String> = text
        .lines()
        .filter_map(|l| l.get(3..))
        .map(str::to_string)
        .collect();
    if paths.len() > MAX_MODIFIED {
        let more = paths.len() - MAX_MODIFIED;
        paths.truncate(MAX_MODIFIED);
        paths.push(format!("... and {more} more"));
    }
    paths
}

/// The backend `--device VALUE` / `--device=VALUE` (or `--devices`) in `args` names, else the
/// default that [`crate::backend::parse_device`] picks.
fn backend_of(args: &[String]) -> String {
    let mut named = None;
    for (i, a) in args.iter().enumerate() {
        for flag in ["--device", "--devices"] {
            if a == flag {
                named = args.get(i + 1).cloned();
            } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                named = Some(v.to_string());
            }
        }
    }
    named.unwrap_or_else(|| {
        crate::backend::compiled_backends()
            .first()
            .map_or("none", |b| b)
            .to_string()
    })
}

impl Provenance {
    /// This process: its command line, now, the checked-out commit, this build and machine.
    /// The git state and the machine are read once per process.
    pub fn current() -> Self {
        static FIXED: OnceLock<(String, Vec<String>, Machine)> = OnceLock::new();
        let (commit, modified, machine) =
            FIXED.get_or_init(|| (git_commit(), git_modified(), Machine::current()));
        let mut argv = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
        let argv0 = argv.next().unwrap_or_default();
        let name = Path::new(&argv0)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let program = name.unwrap_or(argv0);
        let args: Vec<String> = argv.map(tilde).collect();
        let env = RECORDED_ENV
            .iter()
            .filter_map(|k| Some((k.to_string(), tilde(std::env::var(k).ok()?))))
            .collect();
        let backend = backend_of(&args);
        let machine = Machine {
            gpu: gpu_of(&backend),
            ..machine.clone()
        };
        Self {
            format: PROVENANCE_FORMAT.into(),
            backend,
            program,
            args,
            date: now_utc(),
            git_commit: commit.clone(),
            git_modified: modified.clone(),
            build: if cfg!(debug_assertions) {
                "dev"
            } else {
                "release"
            }
            .into(),
            backends: crate::backend::compiled_backends()
                .into_iter()
                .map(String::from)
                .collect(),
            features: Some(Vec::from_iter(
                cfg!(feature = "x86-v4").then(|| "x86-v4".to_string()),
            )),
            env,
            matrix_kernels: matrix_kernels(machine.vector.as_deref()),
            machine,
            recorded_after_the_run: false,
        }
    }

    /// The machine as tables show it, with the matrix kernels where they differ from the
    /// CPU's widest set: `AMD EPYC (AVX-512, AVX2 kernels), 2 cores`; a run on a GPU names
    /// the GPU and its backend first: `` `cuda` on NVIDIA H100 80GB HBM3, driver 580.95.05 (AMD
    /// EPYC, 16 cores) ``.
    pub fn machine_short(&self) -> String {
        let host = self
            .machine
            .short_with_kernels(self.matrix_kernels.as_deref());
        match &self.machine.gpu {
            Some(gpu) => format!("`{}` on {gpu} ({host})", self.backend),
            None => host,
        }
    }

    /// The commit as tables show it: 7 characters, `-dirty` when the tree had changes.
    pub fn short_commit(&self) -> String {
        let mut c: String = self.git_commit.chars().take(7).collect();
        if !self.git_modified.is_empty() {
            c.push_str("-dirty");
        }
        c
    }

    /// The day of [`date`](Self::date): `2026-12-01`.
    pub fn day(&self) -> &str {
        self.date.get(..10).unwrap_or(&self.date)
    }

    /// The command that reproduces the run, for a shell at the repository's root: `cargo run
    /// [--release] -p experiments [--features ..] --bin PROGRAM -- ARGS` for the project's
    /// binaries, `python PROGRAM ARGS` for a script; recorded environment variables first.
    pub fn command(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_quote(v)))
            .collect();
        if self.program.ends_with(".py") {
            parts.push("python".into());
            parts.push(shell_quote(&self.program));
        } else {
            parts.push("cargo run".into());
            if self.build == "release" {
                parts.push("--release".into());
            }
            parts.push("-p experiments".into());
            // The default features are `flex` and `x86-v4`; a record from before `features`
            // was written had `x86-v4` whenever it had `flex`.
            let has = |list: &[String], f: &str| list.iter().any(|b| b == f);
            let defaults = has(&self.backends, "flex")
                && self.features.as_ref().is_none_or(|f| has(f, "x86-v4"));
            let features = self.backends.iter().chain(self.features.iter().flatten());
            let extra: Vec<&str> = features
                .map(String::as_str)
                .filter(|f| !defaults || !["flex", "x86-v4"].contains(f))
                .collect();
            if !self.backends.is_empty() && !defaults {
                parts.push("--no-default-features".into());
            }
            if !extra.is_empty() {
                parts.push(format!("--features {}", extra.join(",")));
            }
            parts.push(format!("--bin {}", self.program));
            if !self.args.is_empty() {
                parts.push("--".into());
            }
        }
        parts.extend(self.args.iter().map(|a| shell_quote(a)));
        parts.join(" ")
    }

    /// `path/provenance.json`, or `None` if there is none; an error names a malformed file.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Self>> {
        let run = RunDir {
            path: dir.to_path_buf(),
        };
        run.read_json(PROVENANCE_FILE)
    }
}

/// `arg` as a POSIX shell word: unchanged if it has only safe characters, else single-quoted.
pub fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c);
    // A leading `~/` stays unquoted, so that the shell expands it.
    let rest = arg.strip_prefix("~/").unwrap_or(arg);
    if !rest.is_empty() && rest.chars().all(safe) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The short git commit of the working tree when this process first asks, or `"unknown"`: a
/// run's summary names the commit it started from (its `provenance.json`'s), even where the
/// checkout moves on while it trains.
pub fn git_commit() -> String {
    static COMMIT: OnceLock<String> = OnceLock::new();
    let read = || {
        stdout_of("git", &["rev-parse", "--short=12", "HEAD"])
            .map_or_else(|| "unknown".into(), |s| s.trim().to_string())
    };
    COMMIT.get_or_init(read).clone()
}

/// Opens (creating if needed) the run directory `path` and records this process's
/// [`Provenance`] in its `provenance.json` if it has none yet (a resumed run keeps the first
/// one's): how every zoo binary opens its run.
pub fn create_run(path: impl Into<PathBuf>) -> anyhow::Result<RunDir> {
    let run = RunDir::create(path)?;
    if !run.file(PROVENANCE_FILE).exists() {
        run.write_json(PROVENANCE_FILE, &Provenance::current())?;
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso8601_utc() {
        // Values from `date -u -d DATE +%s`.
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (951_868_799, "2000-02-29T23:59:59Z"),
            (1_796_128_800, "2026-12-01T12:40:00Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (-719_468 * 86_400, "0000-03-01T00:00:00Z"),
        ] {
            assert_eq!(iso8601_utc(seconds), text, "{seconds}");
        }
        let now = now_utc();
        assert_eq!((now.len(), &now[10..11], &now[19..]), (20, "T", "Z"));
    }

    #[test]
    fn commands_reproduce_the_run() {
        let mut p = Provenance::current();
        p.program = "mnist-depth".into();
        p.args = ["--preset", "quick", "--out", "a b"]
            .map(String::from)
            .to_vec();
        p.build = "dev".into();
        p.backends = vec!["flex".into()];
        p.features = Some(vec!["x86-v4".into()]);
        p.env = BTreeMap::from([("RAYON_NUM_THREADS".into(), "1".into())]);
        assert_eq!(
            p.command(),
            "RAYON_NUM_THREADS=1 cargo run -p experiments --bin mnist-depth -- --preset quick --out 'a b'"
        );
        p.build = "release".into();
        p.backends = vec!["wgpu".into(), "flex".into()];
        p.env.clear();
        p.args = vec!["--json".into(), "~/x.json".into()];
        assert_eq!(
            p.command(),
            "cargo run --release -p experiments --features wgpu --bin mnist-depth -- --json ~/x.json"
        );
        // Without `x86-v4`: the AVX2 matrix kernels on any x86 CPU.
        p.features = Some(vec![]);
        assert_eq!(
            p.command(),
            "cargo run --release -p experiments --no-default-features --features wgpu,flex --bin mnist-depth -- --json ~/x.json"
        );
        // A record from before `features`: the defaults.
        p.features = None;
        p.backends = vec!["flex".into()];
        assert_eq!(
            p.command(),
            "cargo run --release -p experiments --bin mnist-depth -- --json ~/x.json"
        );
        p.program = "bench/torch_peer.py".into();
        p.args = vec!["evaluate".into(), "it's".into()];
        assert_eq!(
            p.command(),
            r"python bench/torch_peer.py evaluate 'it'\''s'"
        );
        p.git_commit = "c94f659a1b2c".into();
        p.git_modified = vec![];
        assert_eq!(p.short_commit(), "c94f659");
        p.git_modified = vec!["x.rs".into()];
        assert_eq!(p.short_commit(), "c94f659-dirty");
        assert_eq!(
            backend_of(&["--device".into(), "wgpu:cpu".into()]),
            "wgpu:cpu"
        );
        assert_eq!(
            backend_of(&["--devices=cuda:0,cuda:1".into()]),
            "cuda:0,cuda:1"
        );
    }

    #[test]
    fn machines_name_their_vector_kernels() {
        let mut m = Machine::current();
        m.cpu = "AMD EPYC".into();
        for (vector, cores, kernels, short) in [
            (None, 2, None, "AMD EPYC, 2 cores"),
            (Some("AVX2"), 2, None, "AMD EPYC (AVX2), 2 cores"),
            (Some("AVX2"), 2, Some("AVX2"), "AMD EPYC (AVX2), 2 cores"),
            (
                Some("AVX-512"),
                1,
                Some("AVX2"),
                "AMD EPYC (AVX-512, AVX2 kernels), 1 core",
            ),
        ] {
            (m.vector, m.logical_cores) = (vector.map(String::from), cores);
            assert_eq!(m.short_with_kernels(kernels), short);
        }
        // The products' kernels follow the CPU, except AVX-512 without `x86-v4`.
        assert_eq!(matrix_kernels(Some("AVX2")).as_deref(), Some("AVX2"));
        let expected = if cfg!(feature = "x86-v4") {
            "AVX-512"
        } else {
            "AVX2"
        };
        assert_eq!(matrix_kernels(Some("AVX-512")).as_deref(), Some(expected));
        #[cfg(target_arch = "x86_64")]
        assert!(vector_extension().is_some_and(|v| v.starts_with("AVX") || v.starts_with("SSE")));
    }

    #[test]
    fn runs_on_a_gpu_name_it_and_their_backend() {
        assert_eq!(gpu_of("flex"), None);
        assert_eq!(gpu_of("wgpu:cpu"), None);
        assert_eq!(gpu_of("ndarray,flex"), None);
        let mut p = Provenance::current();
        p.machine.cpu = "AMD EPYC".into();
        p.machine.logical_cores = 16;
        p.machine.vector = Some("AVX-512".into());
        p.matrix_kernels = Some("AVX-512".into());
        p.machine.gpu = None;
        assert_eq!(p.machine_short(), "AMD EPYC (AVX-512), 16 cores");
        p.machine.gpu = Some("NVIDIA H100 80GB HBM3, driver 580.95.05".into());
        p.backend = "cuda".into();
        assert_eq!(
            p.machine_short(),
            "`cuda` on NVIDIA H100 80GB HBM3, driver 580.95.05 (AMD EPYC (AVX-512), 16 cores)"
        );
        // Records without the field (all older ones) read as runs without a GPU.
        let mut value = serde_json::to_value(&p).unwrap();
        value["machine"].as_object_mut().unwrap().remove("gpu");
        let back: Provenance = serde_json::from_value(value).unwrap();
        assert_eq!(back.machine.gpu, None);
    }

    #[test]
    fn records_round_trip_and_name_their_machine() {
        let p = Provenance::current();
        assert_eq!(p.format, PROVENANCE_FORMAT);
        assert!(p.machine.logical_cores >= 1 && !p.machine.cpu.is_empty());
        let text = serde_json::to_string(&p).unwrap();
        assert!(!text.contains("recorded_after_the_run"), "{text}");
        let back: Provenance = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn a_run_records_its_provenance_once() {
        let dir = std::env::temp_dir().join(format!("hz-provenance-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let run = create_run(&dir).unwrap();
        // The provenance is written once, and a second `create_run` (a resumed run) keeps it.
        let first = Provenance::read(&run.path)
            .unwrap()
            .expect("provenance.json");
        assert_eq!(first.format, PROVENANCE_FORMAT);
        let mut older = first.clone();
        older.date = "2000-01-01T00:00:00Z".into();
        run.write_json(PROVENANCE_FILE, &older).unwrap();
        let run = create_run(&dir).unwrap();
        assert_eq!(Provenance::read(&run.path).unwrap(), Some(older));
        std::fs::remove_dir_all(dir).ok();
    }
}
