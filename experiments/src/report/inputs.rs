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
use crate::analysis::{
    CharCnnGateReport, GateReport, LayerBias, LesionReport, Neighbours, RhnGateReport,
};
use crate::cifar::CifarSummary;
use crate::depth_study::schedule::Invocation;
use crate::depth_study::{RunSummary, StudyConfig, StudyResult};
use crate::export::ExportInfo;
use crate::mnist_conv::ConvSummary;
use crate::provenance::Provenance;
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
    /// torch version (PyTorch rows of newer files).
    #[serde(default)]
    pub torch: Option<String>,
}

/// A `bench-rhn --json` file with its provenance.
#[derive(Debug, Clone)]
pub struct RhnBench {
    /// The file.
    pub file: PathBuf,
    /// Its `provenance` object.
    pub provenance: Provenance,
    /// Its rows.
    pub rows: Vec<RhnBenchRow>,
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

/// A `bench-highway --json` file.
#[derive(Debug, Clone)]
pub struct HighwayBench {
    /// The file.
    pub file: PathBuf,
    /// Its `provenance` object.
    pub provenance: Provenance,
    /// Its rows.
    pub rows: Vec<HighwayBenchRow>,
}

impl HighwayBench {
    /// The row whose name starts with `prefix`.
    pub fn row(&self, prefix: &str) -> Option<&HighwayBenchRow> {
        self.rows.iter().find(|r| r.name.starts_with(prefix))
    }

    /// A bench file of `rows` (name, steps/s) with `provenance`, for the tables' tests.
    #[cfg(test)]
    pub fn of_rows(provenance: Provenance, rows: &[(&str, f64)]) -> Self {
        Self {
            file: "b.json".into(),
            provenance,
            rows: rows
                .iter()
                .map(|&(name, steps_per_s)| HighwayBenchRow {
                    name: name.into(),
                    steps_per_s,
                    gflop_per_step: None,
                })
                .collect(),
        }
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
#[derive(Debug, Clone)]
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

/// Reads `path` as JSON; an error names the file.
fn read_value(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// `value` (read from `path`) as a `T`; an error names the file and what it should be.
fn parse<T: DeserializeOwned>(value: Value, path: &Path, what: &str) -> anyhow::Result<T> {
    serde_json::from_value(value)
        .with_context(|| format!("{} is not a valid {what}", path.display()))
}

/// `dir/name` as JSON if it exists.
fn optional(dir: &Path, name: &str) -> anyhow::Result<Option<Value>> {
    let path = dir.join(name);
    path.exists().then(|| read_value(&path)).transpose()
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
    match optional(dir, "metrics.json")? {
        Some(v) => parse(v, &dir.join("metrics.json"), "metrics.json"),
        None => Ok(Vec::new()),
    }
}

/// Every directory at or below `root`, sorted, without `checkpoints/`, `burn/` and hidden ones.
fn directories(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let dir = out[i].clone();
        i += 1;
        let children = subdirectories(&dir)?.into_iter().filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            name != "checkpoints" && name != "burn"
        });
        out.extend(children);
    }
    out.sort();
    Ok(out)
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

    fn load_runs(&mut self, root: &Path) -> anyhow::Result<()> {
        let dirs = directories(root)?;
        let mut study_dirs = Vec::new();
        let mut depth_runs: Vec<(PathBuf, RunSummary)> = Vec::new();
        let mut gates: Vec<GatesRecord> = Vec::new();
        let mut lesions: Vec<LesionRecord> = Vec::new();
        for dir in &dirs {
            match analysis_program(dir)? {
                Some(Program::Gates) => {
                    gates.push(load_gates(dir)?);
                    continue;
                }
                Some(Program::GatesNet) => continue,
                Some(Program::Lesion) => {
                    lesions.push(load_lesion(dir)?);
                    continue;
                }
                Some(Program::Sample) => {
                    self.load_sample(dir)?;
                    continue;
                }
                None => {}
            }
            let config = optional(dir, "config.json")?.unwrap_or(Value::Null);
            if config.get("depths").is_some() && config.get("kinds").is_some() {
                let path = dir.join("config.json");
                let config: StudyConfig = parse(config, &path, "mnist-depth study config")?;
                study_dirs.push((dir.clone(), config));
                continue;
            }
            if dir.join(TORCH_EVAL_FILE).exists() {
                self.load_eval(dir)?;
            }
            let Some(summary) = optional(dir, "summary.json")? else {
                continue;
            };
            let path = dir.join("summary.json");
            let has = |k: &str| summary.get(k).is_some();
            if has("kind") && has("depth") && has("hyper") {
                depth_runs.push((
                    dir.clone(),
                    parse(summary, &path, "mnist-depth run summary")?,
                ));
            } else if has("dataset") && has("width") {
                let summary = parse(summary, &path, "mnist-conv summary")?;
                self.conv.push(run_record(dir, summary, config)?);
            } else if has("test_ppl") {
                let summary = parse(summary, &path, "ptb summary")?;
                self.ptb.push(run_record(dir, summary, config)?);
            } else if has("test_bpc") {
                let summary = parse(summary, &path, "charlm summary")?;
                self.char.push(run_record(dir, summary, config)?);
            } else if has("net") && has("iterations") {
                let summary = parse(summary, &path, "cifar summary")?;
                self.cifar.push(run_record(dir, summary, config)?);
            } else {
                self.notes
                    .push(format!("{}: a summary no table uses", path.display()));
            }
        }
        for (dir, config) in study_dirs {
            let mut runs: Vec<RunSummary> = Vec::new();
            depth_runs.retain(|(run_dir, summary)| {
                let inside = run_dir.starts_with(&dir);
                if inside {
                    runs.push(summary.clone());
                }
                !inside
            });
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

    /// Pairs `gates` and `lesion` outputs that share a parent directory into analysis records,
    /// and moves the studies below each record's directory into it.
    fn group_analyses(&mut self, gates: Vec<GatesRecord>, lesions: Vec<LesionRecord>) {
        let parent = |d: &Path| d.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut analyses: Vec<Analysis> = Vec::new();
        let record = |analyses: &mut Vec<Analysis>, dir: PathBuf| -> usize {
            match analyses.iter().position(|a| a.dir == dir) {
                Some(i) => i,
                None => {
                    analyses.push(Analysis {
                        dir,
                        gates: None,
                        lesion: None,
                        nets: Vec::new(),
                    });
                    analyses.len() - 1
                }
            }
        };
        let mut duplicate = Vec::new();
        for g in gates {
            let i = record(&mut analyses, parent(&g.dir));
            if let Some(old) = analyses[i].gates.replace(g) {
                duplicate.push(old.dir);
            }
        }
        for l in lesions {
            let i = record(&mut analyses, parent(&l.dir));
            if let Some(old) = analyses[i].lesion.replace(l) {
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
            let (inside, outside) = std::mem::take(&mut self.studies)
                .into_iter()
                .partition(|s| s.dir.starts_with(&a.dir));
            a.nets = inside;
            self.studies = outside;
        }
        analyses.sort_by(|a, b| a.dir.cmp(&b.dir));
        self.analyses = analyses;
    }

    /// A sample record, or a note if `dir` (written by `sample`) has no `sample.json`.
    fn load_sample(&mut self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join("sample.json");
        let Some(value) = optional(dir, "sample.json")? else {
            self.notes.push(format!(
                "{}: written by sample but without sample.json; not used",
                dir.display()
            ));
            return Ok(());
        };
        self.samples.push(Sample {
            dir: dir.to_path_buf(),
            sample: parse(value, &path, "sample record")?,
            provenance: provenance(dir)?,
        });
        Ok(())
    }

    fn load_eval(&mut self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(TORCH_EVAL_FILE);
        let eval: TorchEval = parse(read_value(&path)?, &path, "PyTorch evaluation")?;
        if eval.provenance.is_none() {
            self.notes
                .push(format!("{}: no provenance; not used", path.display()));
            return Ok(());
        }
        let export = match Path::new(&eval.export).file_name() {
            Some(name) => {
                let file = dir.join(name);
                match file.exists() {
                    true => Some(parse(read_value(&file)?, &file, "export JSON")?),
                    false => None,
                }
            }
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
        let value = read_value(file)?;
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
        if provenance.program == "bench-highway" {
            let rows = parse(rows.clone(), file, "bench-highway file (rows)")?;
            self.bench_highway.push(HighwayBench {
                file: file.to_path_buf(),
                provenance,
                rows,
            });
            return Ok(());
        }
        if provenance.program != "bench-rhn" {
            self.notes.push(format!(
                "{}: {} rows; no table uses them",
                file.display(),
                provenance.program
            ));
            return Ok(());
        }
        let rows = parse(rows.clone(), file, "bench-rhn file (rows)")?;
        self.bench_rhn.push(RhnBench {
            file: file.to_path_buf(),
            provenance,
            rows,
        });
        Ok(())
    }
}

/// What the directory of an analysis command or of `sample` is.
enum Program {
    /// A `gates` output directory.
    Gates,
    /// One net's directory inside it.
    GatesNet,
    /// A `lesion` output directory.
    Lesion,
    /// A `sample --json` output directory.
    Sample,
}

/// Whether `dir` was written by `gates`, `lesion` or `sample` (its `provenance.json`'s
/// program).
fn analysis_program(dir: &Path) -> anyhow::Result<Option<Program>> {
    if !dir.join(crate::provenance::PROVENANCE_FILE).exists() {
        return Ok(None);
    }
    let p = provenance(dir)?;
    Ok(match p.program.as_str() {
        "gates" if dir.join("report.json").exists() => Some(Program::GatesNet),
        "gates" => Some(Program::Gates),
        "lesion" => Some(Program::Lesion),
        "sample" => Some(Program::Sample),
        _ => None,
    })
}

/// The sub-directories of `dir` (sorted), without hidden ones.
fn subdirectories(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(".")
                .starts_with('.')
        })
        .collect();
    out.sort();
    Ok(out)
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
        let Some(report) = optional(&sub, "report.json")? else {
            continue;
        };
        let path = sub.join("report.json");
        let name = sub
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        match name.as_str() {
            "rhn" => record.rhn = Some(parse(report, &path, "RHN gate report")?),
            "char" => {
                let neighbours_path = sub.join("neighbours.json");
                let neighbours = optional(&sub, "neighbours.json")?.with_context(|| {
                    format!(
                        "{}: a character-aware LM's gate report without neighbours.json",
                        sub.display()
                    )
                })?;
                record.char = Some(CharGates {
                    report: parse(report, &path, "character-aware LM gate report")?,
                    neighbours: parse(neighbours, &neighbours_path, "list of nearest neighbours")?,
                });
            }
            "conv" | "cifar" => record
                .staged
                .push((name, parse(report, &path, "gate report")?)),
            _ => {
                let biases_path = sub.join("biases.json");
                let biases = optional(&sub, "biases.json")?.with_context(|| {
                    format!(
                        "{}: an MLP's gate report without biases.json",
                        sub.display()
                    )
                })?;
                record.mlp.push((
                    name,
                    parse(report, &path, "gate report")?,
                    parse(biases, &biases_path, "list of learned gate biases")?,
                ));
            }
        }
    }
    Ok(record)
}

/// A `lesion` output directory: its `lesion-NAME.json` files.
fn load_lesion(dir: &Path) -> anyhow::Result<LesionRecord> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut reports = Vec::new();
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let Some(name) = stem.strip_prefix("lesion-") else {
            continue;
        };
        reports.push((
            name.to_string(),
            parse(read_value(&file)?, &file, "lesion report")?,
        ));
    }
    Ok(LesionRecord {
        dir: dir.to_path_buf(),
        provenance: provenance(dir)?,
        reports,
    })
}

/// A run directory's records around its parsed `summary`.
fn run_record<S>(dir: &Path, summary: S, config: Value) -> anyhow::Result<Run<S>> {
    Ok(Run {
        dir: dir.to_path_buf(),
        summary,
        config,
        provenance: provenance(dir)?,
        metrics: metrics(dir)?,
    })
}
