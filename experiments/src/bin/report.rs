//! `report`: writes the results tables of README.md and docs/ from the runs' own files (their
//! `summary.json`, `metrics.json`, `config.json` and `provenance.json` under `--runs`, and the
//! bench JSON files), between the files' `<!-- report:NAME -->` markers; see
//! `experiments::report`.
//!
//! ```text
//! cargo run -p experiments --bin report -- --write README.md docs/results.md docs/speed.md docs/analysis.md
//! cargo run -p experiments --bin report -- --check --write README.md docs/results.md docs/speed.md docs/analysis.md
//! cargo run -p experiments --bin report              # print the tables that have inputs
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use experiments::report::inputs::json_files;
use experiments::report::{Inputs, Outcome, SECTIONS, generate, update_file};

#[derive(Parser, Debug)]
#[command(about = "Write the results tables of README.md and docs/ from the run records")]
struct Args {
    /// Directory searched recursively for run directories.
    #[arg(long, default_value = "docs/runs")]
    runs: PathBuf,
    /// Bench JSON files (`bench-rhn --json`) [default: docs/bench/*.json].
    #[arg(long, num_args = 1..)]
    bench: Option<Vec<PathBuf>>,
    /// Markdown files whose marker sections are regenerated in place.
    #[arg(long, num_args = 1..)]
    write: Vec<PathBuf>,
    /// With --write: write nothing; exit 1, describing the change, if a file would change.
    #[arg(long, requires = "write")]
    check: bool,
}

fn run(args: &Args) -> anyhow::Result<bool> {
    let default_bench = || json_files(Path::new("docs/bench")).unwrap_or_default();
    let bench = args.bench.clone().unwrap_or_else(default_bench);
    if !args.runs.is_dir() {
        anyhow::bail!("--runs {}: no such directory", args.runs.display());
    }
    let inputs = Inputs::load(&args.runs, &bench)?;
    for note in &inputs.notes {
        eprintln!("{note}");
    }
    if args.write.is_empty() {
        for (name, _) in SECTIONS {
            match generate(name, "", &inputs)? {
                Outcome::Generated { content, notes } => {
                    notes.iter().for_each(|n| eprintln!("{n}"));
                    println!("<!-- report:{name} -->\n{content}<!-- /report:{name} -->\n");
                }
                Outcome::NotRegenerated(why) => eprintln!("{why}"),
            }
        }
        return Ok(true);
    }
    let mut fresh = true;
    for path in &args.write {
        let update = update_file(path, &inputs)?;
        update.notes.iter().for_each(|n| eprintln!("{n}"));
        if update.new == update.old {
            continue;
        }
        if args.check {
            fresh = false;
            update.changes.iter().for_each(|c| eprint!("{c}"));
        } else {
            models::train::write_atomic(path, update.new.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
    }
    if !fresh {
        eprintln!(
            "report --check: out of date; regenerate with `cargo run -p experiments --bin report \
             -- --write {}`",
            args.write
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(fresh)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
