//! The `gates` and `lesion` commands; [`GatesArgs`] and [`LesionArgs`] are their command lines
//! and [`run_gates`] and [`run_lesion`] run them (the binaries only parse the arguments).
//!
//! - `gates`: transform-gate analysis of trained highway nets, *Training Very Deep Networks*
//!   (arXiv:1507.06228) s4, Figures 2 and 3, and the layer-output distances of Greff et al.
//!   (arXiv:1612.07771); for an RHN language model the activity per micro-layer and time step.
//! - `lesion`: one layer's transform gate forced to 0 (pure carry) at a time, with loss and
//!   error on the training and test sets (Figure 4); for a language model each gated layer in
//!   turn (PTB validation perplexity).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use clap::{Parser, ValueEnum};
use datasets::{Bptt, MnistDataset, MnistKind, PtbCorpus, PtbSplit};
use models::train::{LabelledData, MnistData, RunDir};

use models::analysis::{
    GateReport, GatedClassifier, LayerBias, LesionReport, TABLE6_WORDS, bias_csv,
    char_cnn_gate_report, char_cnn_lesion, cifar_stage_depths, classifier_gate_report,
    classifier_lesion, conv_stage_depths, mlp_bias_table, nearest_neighbours, neighbours_table,
    rhn_gate_report, rhn_lesion,
};

use super::report::{
    bias_label, class_heatmap, example_heatmap, lesion_summary, lm_lesion_table, mlp_gate_plots,
    plot_lesions, rhn_time_plot, stage_table, write_text,
};
use super::runs::{
    LoadedRun, NetArgs, cifar_run_splits, load_char_cnn_run, load_cifar_run, load_conv_run,
    load_mlp_run, load_rhn_run,
};
use crate::cli::{DataDirArgs, DeviceArgs, OutArgs};
use crate::plot::{write_heatmap, write_plot};
use crate::provenance::create_run;

/// Where `gates` writes without `--out`.
pub const GATES_OUT: &str = "artifacts/analysis/gates";

/// Where `lesion` writes without `--out`.
pub const LESION_OUT: &str = "artifacts/analysis/lesion";

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

impl EvalSplit {
    /// The split's name in the reports: `train` or `test`.
    fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "test",
        }
    }
}

/// Checks that a net is named, opens the device and creates the output directory (`--out`,
/// else `default`).
fn open(
    nets: &NetArgs,
    device: &DeviceArgs,
    out: &OutArgs,
    default: &str,
) -> anyhow::Result<(Device, RunDir)> {
    nets.check()?;
    let device = device.device()?;
    Ok((device, create_run(out.dir_or_else(|| default.into()))?))
}

/// The MNIST `splits` under `--data-dir`, each with its name.
fn mnist(
    data: &DataDirArgs,
    splits: &[EvalSplit],
) -> anyhow::Result<Vec<(&'static str, MnistData)>> {
    let dir = data.dir();
    let load = |split| -> anyhow::Result<_> {
        Ok(match split {
            EvalSplit::Train => MnistDataset::train(MnistKind::Mnist, dir)?,
            EvalSplit::Test => MnistDataset::test(MnistKind::Mnist, dir)?,
        })
    };
    splits
        .iter()
        .map(|&s| Ok((s.name(), MnistData::new(load(s)?))))
        .collect()
}

/// The PTB corpus under `--data-dir` and its validation windows (batch 10, 35 steps), on which
/// the language models are read out and lesioned.
fn ptb_valid(data: &DataDirArgs) -> anyhow::Result<(PtbCorpus, Bptt)> {
    let corpus = PtbCorpus::load(data.dir())?;
    let valid = corpus.bptt(PtbSplit::Valid, 10, 35)?;
    Ok((corpus, valid))
}

/// Prints `wrote <path>` for each file written.
fn wrote(paths: Vec<PathBuf>) {
    for p in paths {
        println!("wrote {}", p.display());
    }
}

/// `values` with `digits` decimals, separated by spaces.
fn listed(values: &[f64], digits: usize) -> String {
    values
        .iter()
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the `gates` command line: reads out every net named, writes its tables and figures
/// under `--out` and prints a summary of each.
pub fn run_gates(args: &GatesArgs) -> anyhow::Result<()> {
    let (device, out) = open(&args.nets, &args.device, &args.out, GATES_OUT)?;
    if !args.nets.run.is_empty() {
        mlp_gates(args, &mnist(&args.data, &[args.split])?[0].1, &out, &device)?;
    }
    if let Some(path) = &args.nets.conv_run {
        let run = load_conv_run(path, &device)?;
        let data = mnist(&args.data, &[args.split])?;
        let what = format!("conv net {}", run.dir.display());
        let title = format!("conv net (stages {:?})", conv_stage_depths(&run.model));
        let names = ("conv", what.as_str(), title.as_str(), "digit");
        staged_gates(args, &out, &device, &run, &data[0].1, names)?;
    }
    if let Some(path) = &args.nets.cifar_run {
        let run = load_cifar_run(path, &device)?;
        let stages = cifar_stage_depths(&run.model)?;
        let splits = cifar_run_splits(&run.dir, args.data.dir())?;
        // A --samples run has one split (its 20 images are both trained on and evaluated).
        let (split, data) = splits
            .iter()
            .find(|(n, _)| *n == args.split.name())
            .unwrap_or(&splits[0]);
        let what = format!("CIFAR net {} ({split} split)", run.dir.display());
        let title = format!(
            "CIFAR net (highway layers per stage {stages:?}, b_T={})",
            run.config.transform_bias
        );
        let names = ("cifar", what.as_str(), title.as_str(), "class");
        staged_gates(args, &out, &device, &run, data, names)?;
    }
    if let Some(path) = &args.nets.rhn_run {
        let run = load_rhn_run(path, &device)?;
        let (_, data) = ptb_valid(&args.data)?;
        let start = Instant::now();
        let bias = run.config.transform_bias;
        let report = rhn_gate_report(&run.model, bias, &data, args.nets.windows, &device)?;
        let sub = create_run(out.file("rhn"))?;
        sub.write_json("report.json", &report)?;
        write_text(&sub.path, "biases.csv", &bias_csv(&report.biases))?;
        write_text(&sub.path, "per_time_step.csv", &report.time_csv())?;
        wrote(write_plot(&rhn_time_plot(&report), &sub.file("time")));
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
    println!("artifacts: {}", out.path.display());
    Ok(())
}

/// `gates --run`: each MLP's gate statistics, learned biases and heat maps under
/// `out/<bias slug>`, and the plots comparing the MLPs under `out`.
fn mlp_gates(
    args: &GatesArgs,
    data: &MnistData,
    out: &RunDir,
    device: &Device,
) -> anyhow::Result<()> {
    let mut reports: Vec<(String, GateReport, Vec<LayerBias>)> = Vec::new();
    for path in &args.nets.run {
        let run = load_mlp_run(path, device)?;
        let (label, slug) = bias_label(run.config.transform_bias);
        let start = Instant::now();
        let (examples, keep) = (args.examples, args.show_examples);
        let report =
            classifier_gate_report(&run.model, data, examples, keep, args.batch_size, device)?;
        let biases = mlp_bias_table(&run.model, run.config.transform_bias)?;
        let sub = create_run(out.file(&slug))?;
        write_text(&sub.path, "biases.csv", &bias_csv(&biases))?;
        sub.write_json("biases.json", &biases)?;
        write_heatmap(&example_heatmap(&label, &report), &sub.file("examples"));
        write_gate_files(&sub, &report, &label, "digit")?;
        println!(
            "{label} ({}, epoch {}): {} examples in {:.1}s; mean T per layer {}",
            run.dir.display(),
            run.epoch,
            report.examples,
            start.elapsed().as_secs_f64(),
            listed(&report.mean_per_layer, 2)
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
        wrote(write_plot(&plot, &out.file(stem)));
    }
    Ok(())
}

/// `gates --char-run`: the highway layers' mean gate activity on PTB validation windows, the
/// learned `b_T`, and the nearest neighbours of `--words` (Table 6), written to `out/char`.
fn char_cnn_gates(
    args: &GatesArgs,
    path: &Path,
    out: &RunDir,
    device: &Device,
) -> anyhow::Result<()> {
    let (corpus, data) = ptb_valid(&args.data)?;
    let (run, spelling) = load_char_cnn_run(path, &corpus, device)?;
    let start = Instant::now();
    let bias = run.config.transform_bias;
    let report = char_cnn_gate_report(&run.model, bias, &data, args.nets.windows, device)?;
    let (words, k) = (&args.words, args.neighbours);
    let neighbours = nearest_neighbours(&run.model, &spelling, &corpus.vocab, words, k, device)?;
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

/// Writes a net's gate statistics to `sub`: `layers.csv`, `classes.csv`, `report.json` and the
/// per-class heat map `classes` (titled `title`, one row per `class_name`).
fn write_gate_files(
    sub: &RunDir,
    report: &GateReport,
    title: &str,
    class_name: &str,
) -> anyhow::Result<()> {
    write_text(&sub.path, "layers.csv", &report.layer_csv())?;
    write_text(&sub.path, "classes.csv", &report.class_csv())?;
    sub.write_json("report.json", report)?;
    write_heatmap(
        &class_heatmap(title, class_name, report),
        &sub.file("classes"),
    );
    Ok(())
}

/// Reads out a staged conv net on `data` (one "unit" per layer), writes the statistics to
/// `out/<name>` with [`write_gate_files`] (heat map `title`, rows `class_name`) and prints a
/// summary naming the net `what`.
fn staged_gates<C, M: GatedClassifier<4>>(
    args: &GatesArgs,
    out: &RunDir,
    device: &Device,
    run: &LoadedRun<C, M>,
    data: &impl LabelledData<4>,
    (name, what, title, class_name): (&str, &str, &str, &str),
) -> anyhow::Result<()> {
    let start = Instant::now();
    let report = classifier_gate_report(&run.model, data, args.examples, 0, 100, device)?;
    let seconds = start.elapsed().as_secs_f64();
    write_gate_files(&create_run(out.file(name))?, &report, title, class_name)?;
    println!(
        "{what} (epoch {}): {} examples in {seconds:.1}s; mean T per layer (from layer {}) {}",
        run.epoch,
        report.examples,
        report.first_layer,
        listed(&report.mean_per_layer, 3)
    );
    Ok(())
}

/// Runs the `lesion` command line: lesions every layer of every net named, writes the CSV,
/// JSON and plots of each and `table.md` with all summaries under `--out`, and prints them.
pub fn run_lesion(args: &LesionArgs) -> anyhow::Result<()> {
    let (device, out) = open(&args.nets, &args.device, &args.out, LESION_OUT)?;
    let mnist = || mnist(&args.data, &[EvalSplit::Train, EvalSplit::Test]);
    let mut table = String::from("# Lesioning\n\n");
    if !args.nets.run.is_empty() {
        let data = mnist()?;
        let splits = limited(args, &data);
        let mut reports = Vec::new();
        for path in &args.nets.run {
            let run = load_mlp_run(path, &device)?;
            let (label, slug) = bias_label(run.config.transform_bias);
            let start = Instant::now();
            let report = classifier_lesion(&label, &run.model, &splits, args.batch_size, &device)?;
            println!(
                "{label} ({}, epoch {}): {} lesions in {:.1}s",
                run.dir.display(),
                run.epoch,
                report.rows.len(),
                start.elapsed().as_secs_f64()
            );
            write_lesion_files(&out, &slug, &report)?;
            let s = lesion_summary(&report, args.tolerance);
            println!("{s}");
            table.push_str(&s);
            table.push('\n');
            reports.push(report);
        }
        wrote(plot_lesions(
            &reports,
            "lesioned layer",
            &out.file("lesion"),
        ));
    }
    if let Some(path) = &args.nets.conv_run {
        let run = load_conv_run(path, &device)?;
        let data = mnist()?;
        let stages = conv_stage_depths(&run.model);
        let label = format!(
            "conv w{} b_T={}",
            run.config.width, run.config.transform_bias
        );
        let start = Instant::now();
        let report = classifier_lesion(&label, &run.model, &limited(args, &data), 100, &device)?;
        println!(
            "{label} ({}, epoch {}, stages {stages:?}): {} lesions in {:.1}s",
            run.dir.display(),
            run.epoch,
            report.rows.len(),
            start.elapsed().as_secs_f64()
        );
        let x_label = "lesioned layer (stages of the conv net)";
        let s = write_staged_lesion(&out, "conv", &report, &stages, x_label, args.tolerance)?;
        table.push_str(&s);
    }
    if let Some(path) = &args.nets.cifar_run {
        let run = load_cifar_run(path, &device)?;
        let stages = cifar_stage_depths(&run.model)?;
        let data = cifar_run_splits(&run.dir, args.data.dir())?;
        let label = format!(
            "CIFAR highway {:?} b_T={}",
            stages, run.config.transform_bias
        );
        let start = Instant::now();
        let report = classifier_lesion(&label, &run.model, &limited(args, &data), 100, &device)?;
        println!(
            "{label} ({}, epoch {}): {} lesions in {:.1}s; layers are highway layers 1.. over \
             the stages (each stage's plain first convolution is not lesioned)",
            run.dir.display(),
            run.epoch,
            report.rows.len(),
            start.elapsed().as_secs_f64()
        );
        let x_label = "lesioned highway layer (over the stages of the CIFAR net)";
        let s = write_staged_lesion(&out, "cifar", &report, &stages, x_label, args.tolerance)?;
        table.push_str(&s);
    }
    if let Some(path) = &args.nets.rhn_run {
        let run = load_rhn_run(path, &device)?;
        let (_, data) = ptb_valid(&args.data)?;
        let start = Instant::now();
        let label = format!("RHN depth {}", run.config.depth);
        let windows = args.nets.windows;
        let report = rhn_lesion(&label, &run.model, &data, "valid", windows, &device)?;
        let s = write_lm_lesion(&out, ("rhn", "micro-layer"), &run, &report, args, start)?;
        table.push_str(&s);
        let stem = out.file("lesion-rhn");
        wrote(plot_lesions(
            std::slice::from_ref(&report),
            "lesioned micro-layer",
            &stem,
        ));
    }
    if let Some(path) = &args.nets.char_run {
        let (corpus, data) = ptb_valid(&args.data)?;
        let (run, _) = load_char_cnn_run(path, &corpus, &device)?;
        let start = Instant::now();
        let layers = run.config.highway_layers;
        let label = format!("character-aware LM, {layers} highway layers");
        let windows = args.nets.windows;
        let report = char_cnn_lesion(&label, &run.model, &data, "valid", windows, &device)?;
        let s = write_lm_lesion(&out, ("char", "highway layer"), &run, &report, args, start)?;
        table.push_str(&s);
    }
    write_text(&out.path, "table.md", &table)?;
    println!("artifacts: {}", out.path.display());
    Ok(())
}

/// Each named split with the examples evaluated on it: `--test-examples` on `test`,
/// `--train-examples` on any other.
fn limited<'a, T>(args: &LesionArgs, splits: &'a [(&str, T)]) -> Vec<(&'a str, &'a T, usize)> {
    let examples = |name| match name {
        "test" => args.test_examples,
        _ => args.train_examples,
    };
    splits.iter().map(|(n, d)| (*n, d, examples(*n))).collect()
}

/// Writes a lesion study's `lesion-<name>.csv` and `lesion-<name>.json` to `out`.
fn write_lesion_files(out: &RunDir, name: &str, report: &LesionReport) -> anyhow::Result<()> {
    write_text(&out.path, &format!("lesion-{name}.csv"), &report.csv())?;
    out.write_json(&format!("lesion-{name}.json"), report)
}

/// Prints the lesions of a language model (`what`: the file name, what a gated layer is
/// called), writes their `lesion-<name>.csv` and `.json` and returns (and prints) their table.
fn write_lm_lesion<C, M>(
    out: &RunDir,
    (name, layer): (&str, &str),
    run: &LoadedRun<C, M>,
    report: &LesionReport,
    args: &LesionArgs,
    start: Instant,
) -> anyhow::Result<String> {
    println!(
        "{} ({}, epoch {}): {} {layer} lesions in {:.1}s",
        report.label,
        run.dir.display(),
        run.epoch,
        report.rows.len(),
        start.elapsed().as_secs_f64()
    );
    write_lesion_files(out, name, report)?;
    let s = lm_lesion_table(&report.label, layer, args.nets.windows, report);
    println!("{s}");
    Ok(s)
}

/// Writes `lesion-<name>.csv`, `.json` and the plots of a staged conv net's lesions, and
/// returns (and prints) the summary with Greff et al.'s comparison per stage: the first layer
/// of each stage against the stage's later layers.
fn write_staged_lesion(
    out: &RunDir,
    name: &str,
    report: &LesionReport,
    stages: &[usize],
    x_label: &str,
    tolerance: f64,
) -> anyhow::Result<String> {
    write_lesion_files(out, name, report)?;
    let mut s = lesion_summary(report, tolerance);
    s.push_str(&stage_table(report, stages));
    println!("{s}");
    let stem = out.file(&format!("lesion-{name}"));
    wrote(plot_lesions(std::slice::from_ref(report), x_label, &stem));
    Ok(s + "\n")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_lines_are_valid_and_keep_their_defaults() {
        GatesArgs::command().debug_assert();
        LesionArgs::command().debug_assert();
        let args = GatesArgs::try_parse_from(["gates", "--rhn-run", "r"]).unwrap();
        assert_eq!(args.out.out.as_deref(), Some(Path::new(GATES_OUT)));
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
        assert_eq!(args.data.dir(), Some(Path::new("d")));
        assert_eq!(
            args.out.dir_or_else(|| GATES_OUT.into()),
            PathBuf::from("o")
        );
        let args = LesionArgs::try_parse_from(["lesion", "--cifar-run", "c"]).unwrap();
        assert_eq!(args.out.out.as_deref(), Some(Path::new(LESION_OUT)));
        assert_eq!((args.train_examples, args.test_examples), (60_000, 10_000));
        let args = LesionArgs::try_parse_from(["lesion", "--rhn-run", "r", "--out", "o"]).unwrap();
        assert_eq!(
            args.out.dir_or_else(|| LESION_OUT.into()),
            PathBuf::from("o")
        );
        assert_eq!(args.data.dir(), None);
    }
}
