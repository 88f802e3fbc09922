//! The `gates` command: transform-gate analysis of trained highway nets, *Training Very Deep
//! Networks* (arXiv:1507.06228) s4, Figures 2 and 3, and the layer-output distances of Greff et
//! al. (arXiv:1612.07771); for an RHN language model the activity per micro-layer and time
//! step. [`GatesArgs`] is its command line and [`run_gates`] runs it; the `gates` binary only
//! parses the arguments.

use crate::provenance::create_run;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use datasets::{MnistDataset, MnistKind, PtbCorpus, PtbSplit};

use super::char_cnn::{
    TABLE6_WORDS, char_cnn_gate_report, load_char_cnn_run, nearest_neighbours, neighbours_table,
};
use super::cifar::{cifar_gate_report, cifar_run_splits, cifar_stage_depths, load_cifar_run};
use super::conv::{conv_gate_report, conv_stage_depths};
use super::gate_stats::{GateReport, LayerBias, bias_table, mlp_gate_report};
use super::report::{
    bias_csv, bias_label, class_heatmap, example_heatmap, mlp_gate_plots, rhn_time_plot, write_text,
};
use super::rhn::rhn_gate_report;
use super::runs::{NetArgs, load_conv_run, load_mlp_run, load_rhn_run};
use crate::cli::{DataDirArgs, DeviceArgs, OutArgs};
use crate::plot::{write_heatmap, write_plot};
use models::train::MnistData;
use models::train::RunDir;

/// Where `gates` writes without `--out`.
pub const GATES_OUT: &str = "artifacts/analysis/gates";

/// The split the gate activity is measured on: `train` or `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// Doc comments on the variants would become their `--help` text and change its layout.
#[allow(missing_docs)]
pub enum EvalSplit {
    Train,
    Test,
}

/// Options of the `gates` binary.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "gates",
    about = "Transform-gate biases and activity of trained highway nets (Training Very Deep Networks, Figs. 2-3)"
)]
#[command(mut_arg("out", |a| a.help("Output directory").default_value(GATES_OUT)))]
pub struct GatesArgs {
    /// The trained nets.
    #[command(flatten)]
    pub nets: NetArgs,
    /// Where their data sets are.
    #[command(flatten)]
    pub data: DataDirArgs,
    /// MNIST split to measure the gate activity on.
    #[arg(long, value_enum, default_value = "test")]
    pub split: EvalSplit,
    /// Use only the first N examples of the split.
    #[arg(long, default_value_t = usize::MAX)]
    pub examples: usize,
    /// Examples whose every unit's gate activity is plotted.
    #[arg(long, default_value_t = 3)]
    pub show_examples: usize,
    /// Evaluation batch size.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Words whose nearest neighbours a `--char-run` model lists (the paper's Table 6 by
    /// default; words outside the vocabulary are spelled from their characters).
    #[arg(long, value_delimiter = ',', default_values_t = TABLE6_WORDS.map(String::from))]
    pub words: Vec<String>,
    /// Neighbours listed per word.
    #[arg(long, default_value_t = 5)]
    pub neighbours: usize,
    /// Output directory.
    #[command(flatten)]
    pub out: OutArgs,
    /// Backend and device.
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Runs the `gates` command line: reads out every net named, writes its tables and figures
/// under `--out` and prints a summary of each.
pub fn run_gates(args: &GatesArgs) -> anyhow::Result<()> {
    args.nets.check()?;
    let device = args.device.device()?;
    let out_dir = args.out.dir_or_else(|| GATES_OUT.into());
    let out = create_run(&out_dir)?;
    let mnist = || -> anyhow::Result<MnistData> {
        let dir = args.data.dir();
        Ok(MnistData::new(match args.split {
            EvalSplit::Train => MnistDataset::train(MnistKind::Mnist, dir)?,
            EvalSplit::Test => MnistDataset::test(MnistKind::Mnist, dir)?,
        }))
    };
    if !args.nets.run.is_empty() {
        let data = mnist()?;
        let mut reports: Vec<(String, GateReport, Vec<LayerBias>)> = Vec::new();
        for path in &args.nets.run {
            let run = load_mlp_run(path, &device)?;
            let (label, slug) = bias_label(run.config.transform_bias);
            let start = Instant::now();
            let report = mlp_gate_report(
                &run.model,
                &data,
                args.examples,
                args.show_examples,
                args.batch_size,
                &device,
            )?;
            let biases: Vec<Vec<f32>> = run
                .model
                .transform_biases()
                .context("a highway net")?
                .into_iter()
                .map(|b| {
                    b.into_data()
                        .convert::<f32>()
                        .try_to_vec::<f32>()
                        .unwrap_or_default()
                })
                .collect();
            let biases = bias_table(&biases, run.config.transform_bias, 2);
            let sub = create_run(out.file(&slug))?;
            write_text(&sub.path, "biases.csv", &bias_csv(&biases))?;
            write_text(&sub.path, "layers.csv", &report.layer_csv())?;
            write_text(&sub.path, "classes.csv", &report.class_csv())?;
            sub.write_json("report.json", &report)?;
            sub.write_json("biases.json", &biases)?;
            write_heatmap(&example_heatmap(&label, &report), &sub.file("examples"));
            write_heatmap(
                &class_heatmap(&label, "digit", &report),
                &sub.file("classes"),
            );
            println!(
                "{label} ({}, epoch {}): {} examples in {:.1}s; mean T per layer {}",
                run.dir.display(),
                run.epoch,
                report.examples,
                start.elapsed().as_secs_f64(),
                report
                    .mean_per_layer
                    .iter()
                    .map(|m| format!("{m:.2}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            reports.push((label, report, biases));
        }
        for (label, _, b) in &reports {
            let units: Vec<f64> = b
                .iter()
                .flat_map(|l| l.units.iter().map(|u| u - l.initial))
                .collect();
            println!(
                "{label}: learned b_T minus initial: mean {:+.4}, {:.1}% of {} units decreased",
                units.iter().sum::<f64>() / units.len() as f64,
                100.0 * units.iter().filter(|u| **u < 0.0).count() as f64 / units.len() as f64,
                units.len()
            );
        }
        for (stem, plot) in mlp_gate_plots(&reports) {
            for p in write_plot(&plot, &out.file(stem)) {
                println!("wrote {}", p.display());
            }
        }
    }
    if let Some(path) = &args.nets.conv_run {
        let run = load_conv_run(path, &device)?;
        let data = mnist()?;
        let start = Instant::now();
        let report = conv_gate_report(&run.model, &data, args.examples, 100, &device)?;
        write_staged(
            &out,
            "conv",
            &format!("conv net {}", run.dir.display()),
            &format!("conv net (stages {:?})", conv_stage_depths(&run.model)),
            "digit",
            (run.epoch, start.elapsed().as_secs_f64()),
            &report,
        )?;
    }
    if let Some(path) = &args.nets.cifar_run {
        let run = load_cifar_run(path, &device)?;
        let stages = cifar_stage_depths(&run.model)?;
        let splits = cifar_run_splits(&run.dir, args.data.dir())?;
        let want = match args.split {
            EvalSplit::Train => "train",
            EvalSplit::Test => "test",
        };
        // A --samples run has one split (its 20 images are both trained on and evaluated).
        let (split, data) = match splits.iter().find(|(n, _)| *n == want) {
            Some(s) => s,
            None => &splits[0],
        };
        let start = Instant::now();
        let report = cifar_gate_report(&run.model, data, args.examples, 100, &device)?;
        write_staged(
            &out,
            "cifar",
            &format!("CIFAR net {} ({split} split)", run.dir.display()),
            &format!(
                "CIFAR net (highway layers per stage {stages:?}, b_T={})",
                run.config.transform_bias
            ),
            "class",
            (run.epoch, start.elapsed().as_secs_f64()),
            &report,
        )?;
    }
    if let Some(path) = &args.nets.rhn_run {
        let run = load_rhn_run(path, &device)?;
        let corpus = PtbCorpus::load(args.data.dir())?;
        let data = corpus.bptt(PtbSplit::Valid, 10, 35)?;
        let start = Instant::now();
        let report = rhn_gate_report(
            &run.model,
            run.config.transform_bias,
            &data,
            args.nets.windows,
            &device,
        )?;
        let sub = create_run(out.file("rhn"))?;
        sub.write_json("report.json", &report)?;
        write_text(&sub.path, "biases.csv", &bias_csv(&report.biases))?;
        write_text(&sub.path, "per_time_step.csv", &report.time_csv())?;
        for p in write_plot(&rhn_time_plot(&report), &sub.file("time")) {
            println!("wrote {}", p.display());
        }
        println!(
            "RHN {} (epoch {}), {} PTB valid windows in {:.1}s: mean T per micro-layer {}; mean b_T {}",
            run.dir.display(),
            run.epoch,
            report.windows,
            start.elapsed().as_secs_f64(),
            listed(&report.mean_per_micro_layer, 3),
            listed(&report.biases.iter().map(|b| b.mean).collect::<Vec<_>>(), 2)
        );
    }
    if let Some(path) = &args.nets.char_run {
        char_cnn_gates(args, path, &out, &device)?;
    }
    println!("artifacts: {}", out_dir.display());
    Ok(())
}

/// `values` with `digits` decimals, separated by spaces.
fn listed(values: &[f64], digits: usize) -> String {
    values
        .iter()
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `gates --char-run`: the highway layers' mean gate activity on PTB validation windows, the
/// learned `b_T`, and the nearest neighbours of `--words` (Table 6), written to `out/char`.
fn char_cnn_gates(
    args: &GatesArgs,
    path: &std::path::Path,
    out: &RunDir,
    device: &burn::tensor::Device,
) -> anyhow::Result<()> {
    let corpus = PtbCorpus::load(args.data.dir())?;
    let (run, spelling) = load_char_cnn_run(path, &corpus, device)?;
    let data = corpus.bptt(PtbSplit::Valid, 10, 35)?;
    let start = Instant::now();
    let report = char_cnn_gate_report(
        &run.model,
        run.config.transform_bias,
        &data,
        args.nets.windows,
        device,
    )?;
    let neighbours = nearest_neighbours(
        &run.model,
        &spelling,
        &corpus.vocab,
        &args.words,
        args.neighbours,
        device,
    )?;
    let sub = create_run(out.file("char"))?;
    sub.write_json("report.json", &report)?;
    sub.write_json("neighbours.json", &neighbours)?;
    write_text(&sub.path, "biases.csv", &bias_csv(&report.biases))?;
    let table = neighbours_table(&neighbours);
    write_text(&sub.path, "neighbours.md", &table)?;
    println!(
        "character-aware LM {} (epoch {}), {} PTB valid windows in {:.1}s: mean T per highway \
         layer {}; mean b_T {}",
        run.dir.display(),
        run.epoch,
        report.windows,
        start.elapsed().as_secs_f64(),
        listed(&report.mean_per_layer, 3),
        listed(&report.biases.iter().map(|b| b.mean).collect::<Vec<_>>(), 2)
    );
    println!("nearest neighbours (cosine), before and after the highway layers:\n{table}");
    Ok(())
}

/// Writes the per-layer statistics of a conv net (one "unit" per layer) to `out/<name>`:
/// `layers.csv`, `classes.csv`, `report.json` and the per-class heat map; prints a summary.
fn write_staged(
    out: &RunDir,
    name: &str,
    what: &str,
    title: &str,
    class_name: &str,
    (epoch, seconds): (usize, f64),
    report: &GateReport,
) -> anyhow::Result<()> {
    let sub = create_run(out.file(name))?;
    write_text(&sub.path, "layers.csv", &report.layer_csv())?;
    write_text(&sub.path, "classes.csv", &report.class_csv())?;
    sub.write_json("report.json", report)?;
    write_heatmap(
        &class_heatmap(title, class_name, report),
        &sub.file("classes"),
    );
    println!(
        "{what} (epoch {epoch}): {} examples in {seconds:.1}s; mean T per layer (from layer {}) {}",
        report.examples,
        report.first_layer,
        report
            .mean_per_layer
            .iter()
            .map(|m| format!("{m:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_valid_and_keeps_its_defaults() {
        GatesArgs::command().debug_assert();
        let args = GatesArgs::try_parse_from(["gates", "--rhn-run", "r"]).unwrap();
        assert_eq!(
            args.out.out.as_deref(),
            Some(std::path::Path::new(GATES_OUT))
        );
        assert_eq!((args.split, args.nets.windows), (EvalSplit::Test, 40));
        let args = GatesArgs::try_parse_from([
            "gates",
            "--run",
            "a,b",
            "--data-dir",
            "d",
            "--out",
            "o",
            "--device",
            "cpu",
        ])
        .unwrap();
        assert_eq!(args.nets.run.len(), 2);
        assert_eq!(args.data.dir(), Some(std::path::Path::new("d")));
        assert_eq!(
            args.out.dir_or_else(|| GATES_OUT.into()),
            std::path::PathBuf::from("o")
        );
    }
}
