//! The `lesion` command: force one layer's transform gate to 0 (pure carry) at a time and
//! measure loss and error on the training and test sets, *Training Very Deep Networks*
//! (arXiv:1507.06228) s4, Figure 4; for an RHN language model, each micro-layer in turn (PTB
//! validation perplexity). [`LesionArgs`] is its command line and [`run_lesion`] runs it; the
//! `lesion` binary only parses the arguments.

use crate::provenance::create_run;
use std::time::Instant;

use clap::Parser;
use datasets::{MnistDataset, MnistKind, PtbCorpus, PtbSplit};

use super::char_cnn::{char_cnn_lesion, load_char_cnn_run};
use super::cifar::{cifar_lesion, cifar_run_splits, cifar_stage_depths, load_cifar_run};
use super::conv::{conv_lesion, conv_stage_depths};
use super::lesion::{LesionReport, mlp_lesion};
use super::report::{
    bias_label, lesion_summary, lm_lesion_table, plot_lesions, stage_table, write_text,
};
use super::rhn::rhn_lesion;
use super::runs::{NetArgs, load_conv_run, load_mlp_run, load_rhn_run};
use crate::cli::{DataDirArgs, DeviceArgs, OutArgs};
use models::train::MnistData;
use models::train::RunDir;

/// Where `lesion` writes without `--out`.
pub const LESION_OUT: &str = "artifacts/analysis/lesion";

/// Options of the `lesion` binary.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "lesion",
    about = "Lesion each layer of trained highway nets (Training Very Deep Networks, Fig. 4)"
)]
#[command(mut_arg("out", |a| a.help("Output directory").default_value(LESION_OUT)))]
pub struct LesionArgs {
    /// The trained nets.
    #[command(flatten)]
    pub nets: NetArgs,
    /// Where their data sets are.
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Training examples evaluated (the first N).
    #[arg(long, default_value_t = 60_000)]
    pub train_examples: usize,
    /// Test examples evaluated (the first N).
    #[arg(long, default_value_t = 10_000)]
    pub test_examples: usize,
    /// A lesion counts as harmless when it raises the error by at most this much (absolute).
    #[arg(long, default_value_t = 0.005)]
    pub tolerance: f64,
    /// Evaluation batch size.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Output directory.
    #[command(flatten)]
    pub out: OutArgs,
    /// Backend and device.
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Runs the `lesion` command line: lesions every layer of every net named, writes the CSV,
/// JSON and plots of each and `table.md` with all summaries under `--out`, and prints them.
pub fn run_lesion(args: &LesionArgs) -> anyhow::Result<()> {
    args.nets.check()?;
    let device = args.device.device()?;
    let out_dir = args.out.dir_or_else(|| LESION_OUT.into());
    let out = create_run(&out_dir)?;
    let mnist = || -> anyhow::Result<(MnistData, MnistData)> {
        let dir = args.data.dir();
        Ok((
            MnistData::new(MnistDataset::train(MnistKind::Mnist, dir)?),
            MnistData::new(MnistDataset::test(MnistKind::Mnist, dir)?),
        ))
    };
    let mut table = String::from("# Lesioning\n\n");
    if !args.nets.run.is_empty() {
        let (train, test) = mnist()?;
        let mut reports = Vec::new();
        for path in &args.nets.run {
            let run = load_mlp_run(path, &device)?;
            let (label, slug) = bias_label(run.config.transform_bias);
            let start = Instant::now();
            let report = mlp_lesion(
                &label,
                &run.model,
                &[
                    ("train", &train, args.train_examples),
                    ("test", &test, args.test_examples),
                ],
                args.batch_size,
                &device,
            )?;
            println!(
                "{label} ({}, epoch {}): {} lesions in {:.1}s",
                run.dir.display(),
                run.epoch,
                report.rows.len(),
                start.elapsed().as_secs_f64()
            );
            write_text(&out.path, &format!("lesion-{slug}.csv"), &report.csv())?;
            out.write_json(&format!("lesion-{slug}.json"), &report)?;
            let s = lesion_summary(&report, args.tolerance);
            println!("{s}");
            table.push_str(&s);
            table.push('\n');
            reports.push(report);
        }
        for p in plot_lesions(&reports, "lesioned layer", &out.file("lesion")) {
            println!("wrote {}", p.display());
        }
    }
    if let Some(path) = &args.nets.conv_run {
        let run = load_conv_run(path, &device)?;
        let (train, test) = mnist()?;
        let stages = conv_stage_depths(&run.model);
        let label = format!(
            "conv w{} b_T={}",
            run.config.width, run.config.transform_bias
        );
        let start = Instant::now();
        let report = conv_lesion(
            &label,
            &run.model,
            &[
                ("train", &train, args.train_examples),
                ("test", &test, args.test_examples),
            ],
            100,
            &device,
        )?;
        println!(
            "{label} ({}, epoch {}, stages {stages:?}): {} lesions in {:.1}s",
            run.dir.display(),
            run.epoch,
            report.rows.len(),
            start.elapsed().as_secs_f64()
        );
        table.push_str(&write_staged(
            &out,
            "conv",
            &report,
            &stages,
            "lesioned layer (stages of the conv net)",
            args.tolerance,
        )?);
    }
    if let Some(path) = &args.nets.cifar_run {
        let run = load_cifar_run(path, &device)?;
        let stages = cifar_stage_depths(&run.model)?;
        let data = cifar_run_splits(&run.dir, args.data.dir())?;
        let splits: Vec<_> = data
            .iter()
            .map(|(name, d)| {
                let n = if *name == "test" {
                    args.test_examples
                } else {
                    args.train_examples
                };
                (*name, d, n)
            })
            .collect();
        let label = format!(
            "CIFAR highway {:?} b_T={}",
            stages, run.config.transform_bias
        );
        let start = Instant::now();
        let report = cifar_lesion(&label, &run.model, &splits, 100, &device)?;
        println!(
            "{label} ({}, epoch {}): {} lesions in {:.1}s; layers are highway layers 1.. over \
             the stages (each stage's plain first convolution is not lesioned)",
            run.dir.display(),
            run.epoch,
            report.rows.len(),
            start.elapsed().as_secs_f64()
        );
        table.push_str(&write_staged(
            &out,
            "cifar",
            &report,
            &stages,
            "lesioned highway layer (over the stages of the CIFAR net)",
            args.tolerance,
        )?);
    }
    if let Some(path) = &args.nets.rhn_run {
        let run = load_rhn_run(path, &device)?;
        let corpus = PtbCorpus::load(args.data.dir())?;
        let data = corpus.bptt(PtbSplit::Valid, 10, 35)?;
        let start = Instant::now();
        let label = format!("RHN depth {}", run.config.depth);
        let report = rhn_lesion(
            &label,
            &run.model,
            &data,
            "valid",
            args.nets.windows,
            &device,
        )?;
        let what = ("rhn", "micro-layer", run.epoch);
        table.push_str(&write_lm(&out, &run.dir, what, &report, args, start)?);
        for p in plot_lesions(
            std::slice::from_ref(&report),
            "lesioned micro-layer",
            &out.file("lesion-rhn"),
        ) {
            println!("wrote {}", p.display());
        }
    }
    if let Some(path) = &args.nets.char_run {
        let corpus = PtbCorpus::load(args.data.dir())?;
        let (run, _) = load_char_cnn_run(path, &corpus, &device)?;
        let data = corpus.bptt(PtbSplit::Valid, 10, 35)?;
        let start = Instant::now();
        let label = format!(
            "character-aware LM, {} highway layers",
            run.config.highway_layers
        );
        let report = char_cnn_lesion(
            &label,
            &run.model,
            &data,
            "valid",
            args.nets.windows,
            &device,
        )?;
        let what = ("char", "highway layer", run.epoch);
        table.push_str(&write_lm(&out, &run.dir, what, &report, args, start)?);
    }
    write_text(&out.path, "table.md", &table)?;
    println!("artifacts: {}", out_dir.display());
    Ok(())
}

/// Writes `lesion-<name>.csv` and `.json` of a language model's lesions (`what`: the name, what
/// a layer is called, the checkpoint's epoch) and returns (and prints) their table.
fn write_lm(
    out: &RunDir,
    dir: &std::path::Path,
    (name, layer, epoch): (&str, &str, usize),
    report: &LesionReport,
    args: &LesionArgs,
    start: Instant,
) -> anyhow::Result<String> {
    println!(
        "{} ({}, epoch {epoch}): {} {layer} lesions in {:.1}s",
        report.label,
        dir.display(),
        report.rows.len(),
        start.elapsed().as_secs_f64()
    );
    write_text(&out.path, &format!("lesion-{name}.csv"), &report.csv())?;
    out.write_json(&format!("lesion-{name}.json"), report)?;
    let s = lm_lesion_table(&report.label, layer, args.nets.windows, report);
    println!("{s}");
    Ok(s)
}

/// Writes `lesion-<name>.csv`, `.json` and the plots of a staged conv net's lesions, and
/// returns (and prints) the summary with Greff et al.'s comparison per stage: the first layer
/// of each stage against the stage's later layers.
fn write_staged(
    out: &RunDir,
    name: &str,
    report: &LesionReport,
    stages: &[usize],
    x_label: &str,
    tolerance: f64,
) -> anyhow::Result<String> {
    write_text(&out.path, &format!("lesion-{name}.csv"), &report.csv())?;
    out.write_json(&format!("lesion-{name}.json"), report)?;
    let mut s = lesion_summary(report, tolerance);
    s.push_str(&stage_table(report, stages));
    println!("{s}");
    for p in plot_lesions(
        std::slice::from_ref(report),
        x_label,
        &out.file(&format!("lesion-{name}")),
    ) {
        println!("wrote {}", p.display());
    }
    Ok(s + "\n")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_valid_and_keeps_its_defaults() {
        LesionArgs::command().debug_assert();
        let args = LesionArgs::try_parse_from(["lesion", "--cifar-run", "c"]).unwrap();
        assert_eq!(
            args.out.out.as_deref(),
            Some(std::path::Path::new(LESION_OUT))
        );
        assert_eq!((args.train_examples, args.test_examples), (60_000, 10_000));
        let args = LesionArgs::try_parse_from(["lesion", "--rhn-run", "r", "--out", "o"]).unwrap();
        assert_eq!(
            args.out.dir_or_else(|| LESION_OUT.into()),
            std::path::PathBuf::from("o")
        );
        assert_eq!(args.data.dir(), None);
    }
}
