//! The results tables of README.md and docs/, generated from the runs' own files.
//!
//! ```text
//! cargo run -p experiments --bin report -- --write README.md docs/results.md docs/speed.md docs/analysis.md
//! cargo run -p experiments --bin report -- --check --write README.md docs/results.md docs/speed.md docs/analysis.md
//! ```
//!
//! A Markdown file's generated tables sit between `<!-- report:NAME -->` and
//! `<!-- /report:NAME -->` lines ([`markdown`]); the `report` binary rewrites what is between
//! them and leaves every other byte of the file as it is. The inputs ([`inputs`]) are the run
//! directories under `--runs` (default `docs/runs`: small copies of the runs that back the
//! figures: JSON and CSV, and the analysis records' plots) and the bench files (`--bench`,
//! default `docs/bench/*.json`).
//! Every row names its command, date, commit and machine from the run's `provenance.json`
//! ([`crate::provenance::Provenance`]).
//!
//! | section             | from |
//! |---------------------|------|
//! | `summary`           | the headline row of each section below (README.md); rows without inputs kept |
//! | `depth-study-breadth` | the `mnist-depth` studies with 100 random-search runs per cell (`--preset paper-breadth`), the newest of each seed |
//! | `depth-study`       | an `mnist-depth` study with random search and fewer runs (`--preset cpu-study`) |
//! | `depth-study-quick` | an `mnist-depth` study with fixed hyper-parameters (`--preset quick`) |
//! | `table1`            | `mnist-conv` runs on MNIST |
//! | `table1-fashion`    | `mnist-conv` runs on Fashion-MNIST |
//! | `ptb`               | `ptb` runs (the RHN, the same-size LSTM, the character-aware model of Kim et al.) |
//! | `char`              | `charlm` runs |
//! | `samples`           | sample records: directories with a `sample.json` (`sample --json`) and a `provenance.json` of the program `sample` |
//! | `sizes`             | no runs: the presets' `num_params` |
//! | `speed-rhn`         | `bench-rhn --json` files with provenance, the RHN beside PyTorch and the character-aware presets (`bench-highway --json` files give the summary's MLP speed row) |
//! | `speed-conv`        | `bench-highway --json` files of the conv workloads (`--model conv`, `mnist-conv`, `cifar-*`) |
//! | `speed-gpu`         | `bench-rhn` and `bench-highway` files timed on a GPU (`scripts/gpu-check.sh`), beside the PyTorch peer on CUDA |
//! | `export`            | run directories with a `torch-eval.json` (`bench/torch_peer.py evaluate`) |
//! | `cifar`             | the presets' `num_params`, and `cifar` runs (Tables 2-3 accuracy on CIFAR-10/100; the fit of the 20 sample images) |
//! | `analysis-nets`     | analysis records ([`inputs::Analysis`]): the `mnist-depth` studies that trained the MLPs, with the lesion study's intact errors |
//! | `analysis-gates`    | analysis records: `gates` output of MLPs (learned `b_T`, mean `T`) |
//! | `analysis-lesion`   | analysis records: `lesion` output of MLPs (worst and harmless lesions) |
//! | `analysis-lesion-layers` | the same, the error with each layer lesioned |
//! | `analysis-distance` | analysis records: `gates` output of MLPs (Greff et al.'s layer-output distances) |
//! | `analysis-stage`    | analysis records: `lesion` output of MLPs (the first stacked layer against the later ones) |
//! | `analysis-rhn`      | analysis records: `gates --rhn-run` and `lesion --rhn-run` output |
//! | `analysis-char`     | analysis records: `gates --char-run` and `lesion --char-run` output (per highway layer; the nearest neighbours of Kim et al.'s Table 6) |
//! | `analysis-conv`, `analysis-cifar` | analysis records: `gates` and `lesion` output of `--conv-run` / `--cifar-run` |
//!
//! A section whose inputs are absent is left as it is, with a note "not regenerated: no runs
//! for NAME"; where several studies match a depth-study section, the newest is used. An
//! unknown section name is an error.

mod analysis;
mod columns;
pub mod inputs;
mod language;
pub mod markdown;
pub mod samples;
mod speed;
mod summary;
mod tables;

use std::path::{Path, PathBuf};

use analysis::{distance_table, lesion_layers_table, lesion_table, staged_table};
pub use inputs::Inputs;
use tables::{conv_table, depth_study, depth_study_breadth};

/// How a section is made: from the inputs, the section's name and its current content.
pub type Generator = fn(&Inputs, &str, &str) -> anyhow::Result<Outcome>;

/// The sections the report knows, in the order it prints them, each with its generator.
pub const SECTIONS: &[(&str, Generator)] = &[
    ("summary", |i, n, old| Ok(summary::summary(old, i, n))),
    ("depth-study-breadth", |i, n, _| {
        Ok(depth_study_breadth(i, n))
    }),
    ("depth-study", |i, n, _| Ok(depth_study(i, false, n))),
    ("depth-study-quick", |i, n, _| Ok(depth_study(i, true, n))),
    ("table1", |i, n, _| Ok(conv_table(i, "mnist", n))),
    ("table1-fashion", |i, n, _| {
        Ok(conv_table(i, "fashion-mnist", n))
    }),
    ("cifar", |i, n, _| tables::cifar_table(i, n)),
    ("ptb", |i, n, _| Ok(language::ptb_table(i, n))),
    ("char", |i, n, _| Ok(language::char_table(i, n))),
    ("samples", |i, n, _| Ok(samples::samples_section(i, n))),
    ("sizes", |_, _, _| tables::sizes_table()),
    ("speed-rhn", |i, n, _| Ok(speed::speed_rhn_table(i, n))),
    ("speed-conv", |i, n, _| Ok(speed::speed_conv_table(i, n))),
    ("speed-gpu", |i, n, _| Ok(speed::speed_gpu_table(i, n))),
    ("export", |i, n, _| Ok(tables::export_table(i, n))),
    ("analysis-nets", |i, n, _| Ok(analysis::nets_table(i, n))),
    ("analysis-gates", |i, n, _| Ok(analysis::gates_table(i, n))),
    ("analysis-lesion", |i, n, _| Ok(lesion_table(i, n))),
    ("analysis-lesion-layers", |i, n, _| {
        Ok(lesion_layers_table(i, n))
    }),
    ("analysis-distance", |i, n, _| Ok(distance_table(i, n))),
    ("analysis-stage", |i, n, _| Ok(analysis::stage_table(i, n))),
    ("analysis-rhn", |i, n, _| Ok(analysis::rhn_table(i, n))),
    ("analysis-char", |i, n, _| Ok(analysis::char_table(i, n))),
    ("analysis-conv", |i, n, _| Ok(staged_table(i, "conv", n))),
    ("analysis-cifar", |i, n, _| Ok(staged_table(i, "cifar", n))),
];

/// What the report makes of one section.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Its new content, and notes on what it was made from.
    Generated {
        /// The lines between the markers.
        content: String,
        /// Notes for stderr.
        notes: Vec<String>,
    },
    /// Left as it is, and why.
    NotRegenerated(String),
}

impl Outcome {
    fn generated(content: String) -> Self {
        Self::Generated {
            content,
            notes: Vec::new(),
        }
    }

    fn none(name: &str) -> Self {
        Self::NotRegenerated(format!("not regenerated: no runs for {name}"))
    }
}

/// The section `name`, whose current content is `existing`, from `inputs`.
pub fn generate(name: &str, existing: &str, inputs: &Inputs) -> anyhow::Result<Outcome> {
    let Some((_, generator)) = SECTIONS.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = SECTIONS.iter().map(|(n, _)| *n).collect();
        anyhow::bail!(
            "unknown report section `{name}` (known: {})",
            known.join(", ")
        );
    };
    generator(inputs, name, existing)
}

/// One Markdown file before and after the report.
#[derive(Debug, Clone)]
pub struct FileUpdate {
    /// The file.
    pub path: PathBuf,
    /// Its text now.
    pub old: String,
    /// Its text with the sections regenerated.
    pub new: String,
    /// A diff-like description of each changed section.
    pub changes: Vec<String>,
    /// Notes: sections not regenerated and why, inputs chosen.
    pub notes: Vec<String>,
}

/// Regenerates the sections of the Markdown file `path` from `inputs` (writes nothing).
pub fn update_file(path: &Path, inputs: &Inputs) -> anyhow::Result<FileUpdate> {
    let old = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let sections = markdown::sections(&old, path)?;
    let mut new_content = Vec::new();
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    for s in &sections {
        let existing = &old[s.content.clone()];
        let outcome = generate(&s.name, existing, inputs)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e:#}", path.display(), s.line))?;
        match outcome {
            Outcome::Generated {
                content,
                notes: more,
            } => {
                notes.extend(more.into_iter().map(|n| format!("{}: {n}", path.display())));
                if content != existing {
                    changes.push(format!(
                        "{}: report:{} would change\n{}",
                        path.display(),
                        s.name,
                        markdown::describe_change(existing, &content, s.line + 1)
                    ));
                }
                new_content.push(Some(content));
            }
            Outcome::NotRegenerated(why) => {
                notes.push(format!("{}: {why}", path.display()));
                new_content.push(None);
            }
        }
    }
    let new = markdown::replace(&old, &sections, &new_content);
    Ok(FileUpdate {
        path: path.to_path_buf(),
        old,
        new,
        changes,
        notes,
    })
}
