//! The report's inputs: run directories found under `--runs` (their `summary.json`,
//! `config.json`, `metrics.json` and `provenance.json`), PyTorch evaluations of exported runs
//! (`torch-eval.json` in a run directory) and bench JSON files.
//!
//! A directory is
//! - an `mnist-depth` **study** when its `config.json` has `depths` and `kinds` (the study's
//!   [`StudyConfig`]); its runs are the directories below it whose `summary.json` is an
//!   `mnist-depth` run summary ([`RunSummary`]);
//! - an `mnist-conv` run when its `summary.json` has `dataset` and `width` ([`ConvSummary`]);
//! - a `ptb` run when it has `test_ppl`, a `charlm` run when it has `test_bpc`, a `cifar` run
//!   when it has `net` and `iterations` ([`CifarSummary`]);
//! - the source of an export row when it holds `torch-eval.json` (`bench/torch_peer.py evaluate
//!   --json`), the export's JSON (`export --weights NAME.safetensors` writes `NAME.json`) beside
//!   it.
//!
//! A study's `invocations/*.json` ([`Invocation`]) give its wall time.
//!
//! An **analysis** record ([`Analysis`]) is a directory holding the output of `gates` (a
//! directory whose `provenance.json` names the program `gates`: one sub-directory per net with
//! its `report.json`, and `biases.json` for an MLP, `neighbours.json` for the character-aware
//! LM in `char`) and/or of `lesion` (program `lesion`: one `lesion-NAME.json` per net), and any
//! `mnist-depth` studies that trained its nets. Those studies belong to the analysis, not to
//! the depth-study tables.
//!
//! A **sample** record ([`Sample`]) is a directory whose `provenance.json` names the program
//! `sample` and which holds the `sample.json` that `sample --json DIR/sample.json` wrote.
//!
//! `checkpoints/`, `burn/` and hidden directories are not searched. Any other summary is
//! listed in [`Inputs::notes`] as not used. A file that is not valid JSON, or not the record it
//! should be, is an error naming the file; so is a run used by a table without its
//! `provenance.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::samples::Sample;
use crate::cifar::CifarSummary;
use crate::depth_study::schedule::Invocation;
use crate::depth_study::{RunSummary, StudyConfig, StudyResult};
use crate::export::ExportInfo;
use crate::mnist_conv::ConvSummary;
use crate::provenance::Provenance;
use models::analysis::{
    CharCnnGateReport, GateReport, LayerBias, LesionReport, Neighbours, RhnGateReport,
};
use models::train::EpochMetrics;

/// The name of a PyTorch evaluation's JSON file in a run directory.
pub const TORCH_EVAL_FILE: &str = "torch-eval.json";

/// One run directory and its records.
#[derive(Debug, Clone)]
pub struct Run<S> {
    /// The directory (under `--runs`, as given).
    pub dir: PathBuf,
    /// Its `summary.json`.
    pub summary: S,
    /// Its `config.json` (`Null` if it has none).
    pub config: Value,
    /// Its `provenance.json`.
    pub provenance: Provenance,
    /// Its `metrics.json` (empty if it has none).
    pub metrics: Vec<EpochMetrics>,
}

/// An `mnist-depth` study directory: its result rebuilt from its runs' summaries.
#[derive(Debug, Clone)]
pub struct Study {
    /// The directory.
    pub dir: PathBuf,
    /// The study's `provenance.json` (the command that ran the whole study).
    pub provenance: Provenance,
    /// Config and runs, and each cell's best run, as `mnist-depth` computes them.
    pub result: StudyResult,
    /// The invocations that trained its runs (`invocations/*.json`; none for older studies).
    pub invocations: Vec<Invocation>,
}

impl Study {
    /// Runs of the study's plan (`depths × kinds × runs`).
    pub fn planned_runs(&self) -> usize {
        let c = &self.result.config;
        c.depths.len() * c.kinds.len() * c.runs
    }
}

/// `summary.json` of a `ptb` run (the fields the tables use).
#[derive(Debug, Clone, Deserialize)]
pub struct PtbSummary {
    /// `rhn-small`, `lstm-sota`, ...
    pub model: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// Epochs (the last one possibly partial).
    pub epochs: usize,
    /// Validation perplexity after the last epoch.
    pub valid_ppl: f64,
    /// Test perplexity.
    pub test_ppl: f64,
    /// Wall-clock seconds.
    pub wall_time_s: f64,
}

/// `summary.json` of a `charlm` run (the fields the tables use).
#[derive(Debug, Clone, Deserialize)]
pub struct CharSummary {
    /// `wiki`, `enwik8`, `text8`, `wiki-text8` or `file`.
    pub corpus: String,
    /// Symbols.
    pub vocab: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Epochs (the last one possibly partial).
    pub epochs: usize,
    /// Validation bits per character after the last epoch.
    pub valid_bpc: f64,
    /// Test bits per character.
    pub test_bpc: f64,
    /// Wall-clock seconds.
    pub wall_time_s: f64,
}

/// `bench/torch_peer.py evaluate --json` (the fields the tables use).
#[derive(Debug, Clone, Deserialize)]
pub struct TorchEval {
    /// The export's JSON file, as given to the script.
    pub export: String,
    /// The zoo model.
    pub model: String,
    /// The exported checkpoint's epoch.
    pub epoch: usize,
    /// `mnist` or `fashion-mnist`.
    pub dataset: String,
    /// `test` or `train`.
    pub split: String,
    /// Examples evaluated.
    pub examples: usize,
    /// Classified correctly.
    pub correct: usize,
    /// `correct / examples`.
    pub accuracy: f64,
    /// Mean softmax cross-entropy.
    pub mean_cross_entropy: f64,
    /// torch version.
    pub torch: String,
    /// The evaluation's command line, date, commit and machine.
    pub provenance: Option<Provenance>,
}

/// A run exported to PyTorch and evaluated there.
#[derive(Debug, Clone)]
pub struct ExportEval {
    /// The run directory.
    pub run: PathBuf,
    /// The run's `metrics.json`.
    pub metrics: Vec<EpochMetrics>,
    /// The evaluation (`torch-eval.json`).
    pub eval: TorchEval,
    /// The export's JSON, if it is beside the evaluation.
    pub export: Option<ExportInfo>,
}

/// One row of a `bench-rhn --json` file.
#[derive(Debug, Clone, Deserialize)]
pub struct RhnBenchRow {
    /// `burn` or `pytorch`.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// The preset of a model other than an RHN (`kim_small`, `kim_large`), absent for an RHN.
    #[serde(default)]
    pub model: Option<String>,
    /// Recurrence depth (0 for a model other than an RHN).
    #[serde(default)]
    pub depth: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Parameters.
    pub parameters: usize,
    /// Batch size.
    pub batch: usize,
    /// BPTT length.
    pub seq_len: usize,
    /// Training tokens per second.
    pub tokens_per_s: f64,
    /// The step's arithmetic in GFLOP, as the PyTorch peer counts it (Burn's rows of an RHN;
    /// absent in older files).
    #[serde(default)]
    pub gflop_per_step: Option<f64>,
}

/// The 2048³ product rates in GFLOP/s that `bench-rhn --matmul` timed in the same run.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MatmulRates {
    /// Burn's, on the run's device.
    #[serde(default)]
    pub burn: Option<f64>,
    /// The PyTorch peer's (with `--peer`).
    #[serde(default)]
    pub pytorch: Option<f64>,
}

/// One row of a `bench-highway --json` file (the fields the tables use).
#[derive(Debug, Clone, Deserialize)]
pub struct HighwayBenchRow {
    /// `Mlp flex fast depth 50 width 71 batch 128`, `PyTorch mlp depth 50 width 71 batch 128
    /// threads 2`, ...
    pub name: String,
    /// Training steps per second.
    pub steps_per_s: f64,
    /// The step's arithmetic in GFLOP, where the bench counted it (absent in older files).
    #[serde(default)]
    pub gflop_per_step: Option<f64>,
}

/// A bench JSON file with its provenance and its rows `R`.
#[derive(Debug, Clone)]
pub struct Bench<R> {
    /// The file.
    pub file: PathBuf,
    /// Its `provenance` object.
    pub provenance: Provenance,
    /// Its rows.
    pub rows: Vec<R>,
    /// Its `matmul_gflops_per_s` object (`bench-rhn --matmul`).
    pub matmul: Option<MatmulRates>,
}

/// A `bench-rhn --json` file.
pub type RhnBench = Bench<RhnBenchRow>;

/// A `bench-highway --json` file.
pub type HighwayBench = Bench<HighwayBenchRow>;

impl RhnBench {
    /// Burn's rows, each with the PyTorch row of the same configuration (depth, hidden units,
    /// batch and BPTT length) if the file has one.
    pub fn with_peers(&self) -> impl Iterator<Item = (&RhnBenchRow, Option<&RhnBenchRow>)> {
        let key = |r: &RhnBenchRow| (r.depth, r.hidden, r.batch, r.seq_len);
        let of = move |implementation: &'static str| {
            self.rows
                .iter()
                .filter(move |r| r.implementation == implementation)
        };
        of("burn").map(move |row| (row, of("pytorch").find(|&p| key(p) == key(row))))
    }
}

impl HighwayBench {
    /// The row whose name starts with `prefix`.
    pub fn row(&self, prefix: &str) -> Option<&HighwayBenchRow> {
        self.rows.iter().find(|r| r.name.starts_with(prefix))
    }
}

/// A character-aware LM's `gates` output (`--char-run`: the sub-directory `char`).
#[derive(Debug, Clone)]
pub struct CharGates {
    /// Its `report.json`: mean `T` and learned `b_T` per highway layer.
    pub report: CharCnnGateReport,
    /// Its `neighbours.json`: the nearest vocabulary words of each query word before and after
    /// the highway layers (Kim et al.'s Table 6).
    pub neighbours: Vec<Neighbours>,
}

/// The output of one `gates` command: the gate statistics of each net it read.
#[derive(Debug, Clone)]
pub struct GatesRecord {
    /// The `--out` directory.
    pub dir: PathBuf,
    /// Its `provenance.json`.
    pub provenance: Provenance,
    /// MLPs (`--run`): the sub-directory's name (`bt-2`: the net's initial `b_T`), its
    /// statistics and learned biases.
    pub mlp: Vec<(String, GateReport, Vec<LayerBias>)>,
    /// Conv nets (`conv`: `--conv-run`, `cifar`: `--cifar-run`): one "unit" per layer.
    pub staged: Vec<(String, GateReport)>,
    /// An RHN (`--rhn-run`).
    pub rhn: Option<RhnGateReport>,
    /// A character-aware LM (`--char-run`).
    pub char: Option<CharGates>,
}

/// The output of one `lesion` command.
#[derive(Debug, Clone)]
pub struct LesionRecord {
    /// The `--out` directory.
    pub dir: PathBuf,
    /// Its `provenance.json`.
    pub provenance: Provenance,
    /// Each `lesion-NAME.json` as `(NAME, report)`: `bt-2`, `conv`, `cifar`, `rhn`, `char`.
    pub reports: Vec<(String, LesionReport)>,
}

impl LesionRecord {
    /// The report called `name`.
    pub fn report(&self, name: &str) -> Option<&LesionReport> {
        self.reports.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }
}

/// An analysis record: `gates` and `lesion` output side by side, and the studies that trained
/// the nets they read.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// The directory holding them.
    pub dir: PathBuf,
    /// The `gates` output, if any.
    pub gates: Option<GatesRecord>,
    /// The `lesion` output, if any.
    pub lesion: Option<LesionRecord>,
    /// The `mnist-depth` studies below `dir`.
    pub nets: Vec<Study>,
}

/// Everything the report reads.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `mnist-depth` studies.
    pub studies: Vec<Study>,
    /// `mnist-conv` runs.
    pub conv: Vec<Run<ConvSummary>>,
    /// `ptb` runs.
    pub ptb: Vec<Run<PtbSummary>>,
    /// `charlm` runs.
    pub char: Vec<Run<CharSummary>>,
    /// `cifar` runs.
    pub cifar: Vec<Run<CifarSummary>>,
    /// Exported runs evaluated in PyTorch.
    pub evals: Vec<ExportEval>,
    /// `bench-rhn` files with provenance.
    pub bench_rhn: Vec<RhnBench>,
    /// `bench-highway` files.
    pub bench_highway: Vec<HighwayBench>,
    /// Gate analyses and lesion studies.
    pub analyses: Vec<Analysis>,
    /// Sample records, by directory.
    pub samples: Vec<Sample>,
    /// Inputs found but not used, and why.
    pub notes: Vec<String>,
}

/// `value` (read from `path`) as a `T`; an error names the file and what it should be.
fn parse<T: DeserializeOwned>(value: Value, path: &Path, what: &str) -> anyhow::Result<T> {
    serde_json::from_value(value)
        .with_context(|| format!("{} is not a valid {what}", path.display()))
}

/// `path` as a `T` (`what` it should be); an error names the file.
fn read<T: DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    parse(value, path, what)
}

/// `dir/name` as a `T` if the file exists.
fn optional<T: DeserializeOwned>(
    dir: &Path,
    name: impl AsRef<Path>,
    what: &str,
) -> anyhow::Result<Option<T>> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    read(&path, what).map(Some)
}

/// `dir/name` as a `T`, which `owner` (a file in `dir`) needs beside it.
fn beside<T: DeserializeOwned>(
    dir: &Path,
    name: &str,
    what: &str,
    owner: &str,
) -> anyhow::Result<T> {
    optional(dir, name, what)?.with_context(|| format!("{}: {owner} without {name}", dir.display()))
}

/// `dir`'s provenance, required.
fn provenance(dir: &Path) -> anyhow::Result<Provenance> {
    Provenance::read(dir)?.with_context(|| {
        format!(
            "{}: no provenance.json (a run in the report's inputs needs one; one written by \
             hand for an older run says \"recorded_after_the_run\": true)",
            dir.display()
        )
    })
}

/// `dir`'s `metrics.json`, or none.
fn metrics(dir: &Path) -> anyhow::Result<Vec<EpochMetrics>> {
    Ok(optional(dir, "metrics.json", "metrics.json")?.unwrap_or_default())
}

/// The name of the file or directory `path` (`.`, as a hidden one, if it is not UTF-8).
fn name_of(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or(".")
}

/// The entries of `dir` that `keep` accepts, sorted.
fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> anyhow::Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut out: Vec<PathBuf> = read
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| keep(p))
        .collect();
    out.sort();
    Ok(out)
}

/// The `*.json` files in `dir`, sorted.
pub fn json_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    entries(dir, |p| p.extension().is_some_and(|e| e == "json"))
}

/// The sub-directories of `dir` (sorted), without hidden ones.
fn subdirectories(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    entries(dir, |p| p.is_dir() && !name_of(p).starts_with('.'))
}

/// Every directory at or below `root`, sorted, without `checkpoints/`, `burn/` and hidden ones.
fn directories(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let children = subdirectories(&out[i])?;
        out.extend(
            children
                .into_iter()
                .filter(|p| !matches!(name_of(p), "checkpoints" | "burn")),
        );
        i += 1;
    }
    out.sort();
    Ok(out)
}

/// Adds to `runs` the run directory `dir` with its `summary` (read from its `summary.json`,
/// `what` it should be) and `config`.
fn push_run<S: DeserializeOwned>(
    runs: &mut Vec<Run<S>>,
    dir: &Path,
    summary: Value,
    what: &str,
    config: Value,
) -> anyhow::Result<()> {
    runs.push(Run {
        dir: dir.to_path_buf(),
        summary: parse(summary, &dir.join("summary.json"), what)?,
        config,
        provenance: provenance(dir)?,
        metrics: metrics(dir)?,
    });
    Ok(())
}

/// The analysis record of the `gates` or `lesion` output `dir` (its parent directory), added
/// to `analyses` if it is not there yet.
fn analysis_of<'a>(analyses: &'a mut Vec<Analysis>, dir: &Path) -> &'a mut Analysis {
    let dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let at = analyses.iter().position(|a| a.dir == dir);
    let i = at.unwrap_or_else(|| {
        analyses.push(Analysis {
            dir,
            ..Analysis::default()
        });
        analyses.len() - 1
    });
    &mut analyses[i]
}

impl Inputs {
    /// Reads the run directories under `runs` (none if it does not exist) and the `bench`
    /// files.
    pub fn load(runs: &Path, bench: &[PathBuf]) -> anyhow::Result<Self> {
        let mut inputs = Self::default();
        if runs.is_dir() {
            inputs.load_runs(runs)?;
        }
        for file in bench {
            inputs.load_bench(file)?;
        }
        Ok(inputs)
    }

    /// Every directory under `root`: analysis and sample records by the program that wrote
    /// them, anything else as a study or a run ([`Self::load_run`]).
    fn load_runs(&mut self, root: &Path) -> anyhow::Result<()> {
        let mut studies = Vec::new();
        let mut depth_runs = Vec::new();
        let mut gates = Vec::new();
        let mut lesions = Vec::new();
        for dir in &directories(root)? {
            let program = Provenance::read(dir)?.map(|p| p.program);
            match program.as_deref() {
                // One net's directory inside a `gates` output.
                Some("gates") if dir.join("report.json").exists() => {}
                Some("gates") => gates.push(load_gates(dir)?),
                Some("lesion") => lesions.push(load_lesion(dir)?),
                Some("sample") => self.load_sample(dir)?,
                _ => self.load_run(dir, &mut studies, &mut depth_runs)?,
            }
        }
        for (dir, config) in studies {
            let inside = depth_runs.extract_if(.., |(run_dir, _)| run_dir.starts_with(&dir));
            let mut runs: Vec<RunSummary> = inside.map(|(_, s)| s).collect();
            let position = |s: &RunSummary| {
                let d = config.depths.iter().position(|d| *d == s.depth);
                let k = config.kinds.iter().position(|k| *k == s.kind);
                (d.unwrap_or(usize::MAX), k.unwrap_or(usize::MAX), s.run)
            };
            runs.sort_by_key(position);
            self.studies.push(Study {
                provenance: provenance(&dir)?,
                invocations: Invocation::read_all(&dir)?,
                dir,
                result: StudyResult::new(config, runs),
            });
        }
        self.group_analyses(gates, lesions);
        for (dir, _) in depth_runs {
            self.notes.push(format!(
                "{}: an mnist-depth run outside a study directory (no config.json with depths \
                 above it); not used",
                dir.display()
            ));
        }
        Ok(())
    }

    /// A directory that is not an analysis or sample record: a study (its config, to
    /// `studies`), an evaluated export, and a run by the fields of its `summary.json` (an
    /// `mnist-depth` run to `depth_runs`, to be given to its study).
    fn load_run(
        &mut self,
        dir: &Path,
        studies: &mut Vec<(PathBuf, StudyConfig)>,
        depth_runs: &mut Vec<(PathBuf, RunSummary)>,
    ) -> anyhow::Result<()> {
        let config: Value = optional(dir, "config.json", "JSON")?.unwrap_or(Value::Null);
        if config.get("depths").is_some() && config.get("kinds").is_some() {
            let path = dir.join("config.json");
            studies.push((
                dir.to_path_buf(),
                parse(config, &path, "mnist-depth study config")?,
            ));
            return Ok(());
        }
        if dir.join(TORCH_EVAL_FILE).exists() {
            self.load_eval(dir)?;
        }
        let Some(summary) = optional::<Value>(dir, "summary.json", "JSON")? else {
            return Ok(());
        };
        let has = |k: &str| summary.get(k).is_some();
        if has("kind") && has("depth") && has("hyper") {
            let path = dir.join("summary.json");
            let summary = parse(summary, &path, "mnist-depth run summary")?;
            depth_runs.push((dir.to_path_buf(), summary));
        } else if has("dataset") && has("width") {
            push_run(&mut self.conv, dir, summary, "mnist-conv summary", config)?;
        } else if has("test_ppl") {
            push_run(&mut self.ptb, dir, summary, "ptb summary", config)?;
        } else if has("test_bpc") {
            push_run(&mut self.char, dir, summary, "charlm summary", config)?;
        } else if has("net") && has("iterations") {
            push_run(&mut self.cifar, dir, summary, "cifar summary", config)?;
        } else {
            let path = dir.join("summary.json");
            self.notes
                .push(format!("{}: a summary no table uses", path.display()));
        }
        Ok(())
    }

    /// Pairs `gates` and `lesion` outputs that share a parent directory into analysis records,
    /// and moves the studies below each record's directory into it.
    fn group_analyses(&mut self, gates: Vec<GatesRecord>, lesions: Vec<LesionRecord>) {
        let mut analyses: Vec<Analysis> = Vec::new();
        let mut duplicate = Vec::new();
        for g in gates {
            if let Some(old) = analysis_of(&mut analyses, &g.dir).gates.replace(g) {
                duplicate.push(old.dir);
            }
        }
        for l in lesions {
            if let Some(old) = analysis_of(&mut analyses, &l.dir).lesion.replace(l) {
                duplicate.push(old.dir);
            }
        }
        for dir in duplicate {
            self.notes.push(format!(
                "{}: a second output of the same command in one analysis directory; not used",
                dir.display()
            ));
        }
        for a in &mut analyses {
            let inside = self.studies.extract_if(.., |s| s.dir.starts_with(&a.dir));
            a.nets = inside.collect();
        }
        analyses.sort_by(|a, b| a.dir.cmp(&b.dir));
        self.analyses = analyses;
    }

    /// A sample record, or a note if `dir` (written by `sample`) has no `sample.json`.
    fn load_sample(&mut self, dir: &Path) -> anyhow::Result<()> {
        match optional(dir, "sample.json", "sample record")? {
            Some(sample) => self.samples.push(Sample {
                dir: dir.to_path_buf(),
                sample,
                provenance: provenance(dir)?,
            }),
            None => self.notes.push(format!(
                "{}: written by sample but without sample.json; not used",
                dir.display()
            )),
        }
        Ok(())
    }

    fn load_eval(&mut self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(TORCH_EVAL_FILE);
        let eval: TorchEval = read(&path, "PyTorch evaluation")?;
        if eval.provenance.is_none() {
            self.notes
                .push(format!("{}: no provenance; not used", path.display()));
            return Ok(());
        }
        let export = match Path::new(&eval.export).file_name() {
            Some(name) => optional(dir, name, "export JSON")?,
            None => None,
        };
        self.evals.push(ExportEval {
            run: dir.to_path_buf(),
            metrics: metrics(dir)?,
            eval,
            export,
        });
        Ok(())
    }

    fn load_bench(&mut self, file: &Path) -> anyhow::Result<()> {
        let value: Value = read(file, "JSON")?;
        if value.is_array() {
            self.notes.push(format!(
                "{}: rows without provenance (written before bench files recorded it); not used",
                file.display()
            ));
            return Ok(());
        }
        let (Some(p), Some(rows)) = (value.get("provenance"), value.get("rows")) else {
            bail!(
                "{} is not a bench file: expected {{\"provenance\": .., \"rows\": [..]}}",
                file.display()
            );
        };
        let provenance: Provenance = parse(p.clone(), file, "bench file (provenance)")?;
        let (what, rows) = (format!("{} file (rows)", provenance.program), rows.clone());
        let matmul = match value.get("matmul_gflops_per_s") {
            Some(m) => Some(parse(m.clone(), file, "bench file (matmul_gflops_per_s)")?),
            None => None,
        };
        match provenance.program.clone().as_str() {
            "bench-highway" => self.bench_highway.push(Bench {
                rows: parse(rows, file, &what)?,
                file: file.to_path_buf(),
                provenance,
                matmul,
            }),
            "bench-rhn" => self.bench_rhn.push(Bench {
                rows: parse(rows, file, &what)?,
                file: file.to_path_buf(),
                provenance,
                matmul,
            }),
            other => self.notes.push(format!(
                "{}: {other} rows; no table uses them",
                file.display()
            )),
        }
        Ok(())
    }
}

/// A `gates` output directory: each sub-directory with a `report.json` is one net, read as an
/// RHN (`rhn`), a character-aware LM (`char`, with `neighbours.json`), a conv net (`conv`,
/// `cifar`) or an MLP (any other name, with `biases.json`).
fn load_gates(dir: &Path) -> anyhow::Result<GatesRecord> {
    let mut record = GatesRecord {
        dir: dir.to_path_buf(),
        provenance: provenance(dir)?,
        mlp: Vec::new(),
        staged: Vec::new(),
        rhn: None,
        char: None,
    };
    for sub in subdirectories(dir)? {
        let path = sub.join("report.json");
        if !path.exists() {
            continue;
        }
        let name = name_of(&sub).to_string();
        match name.as_str() {
            "rhn" => record.rhn = Some(read(&path, "RHN gate report")?),
            "char" => {
                let report = read(&path, "character-aware LM gate report")?;
                let owner = "a character-aware LM's gate report";
                let neighbours =
                    beside(&sub, "neighbours.json", "list of nearest neighbours", owner)?;
                record.char = Some(CharGates { report, neighbours });
            }
            "conv" | "cifar" => record.staged.push((name, read(&path, "gate report")?)),
            _ => {
                let report = read(&path, "gate report")?;
                let owner = "an MLP's gate report";
                let biases = beside(&sub, "biases.json", "list of learned gate biases", owner)?;
                record.mlp.push((name, report, biases));
            }
        }
    }
    Ok(record)
}

/// A `lesion` output directory: its `lesion-NAME.json` files.
fn load_lesion(dir: &Path) -> anyhow::Result<LesionRecord> {
    let mut reports = Vec::new();
    for file in json_files(dir)? {
        let name = name_of(&file).strip_prefix("lesion-");
        if let Some(name) = name.and_then(|n| n.strip_suffix(".json")) {
            reports.push((name.to_string(), read(&file, "lesion report")?));
        }
    }
    Ok(LesionRecord {
        dir: dir.to_path_buf(),
        provenance: provenance(dir)?,
        reports,
    })
}
