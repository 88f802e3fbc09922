//! `gates`: transform-gate analysis of trained highway nets, *Training Very Deep Networks*
//! (arXiv:1507.06228) s4, Figures 2 and 3, and the layer-output distances of Greff et al.
//! (arXiv:1612.07771); for an RHN language model the activity per micro-layer and time step.
//!
//! ```text
//! cargo run -p experiments --bin gates -- --run artifacts/analysis/mnist50-bt-2,artifacts/analysis/mnist50-bt-4
//! cargo run -p experiments --bin gates -- --rhn-run artifacts/ptb-rhn-small
//! cargo run -p experiments --bin gates -- --cifar-run artifacts/cifar-overfit-a
//! ```

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use datasets::{MnistDataset, MnistKind, PtbCorpus, PtbSplit};
use experiments::analysis::{
    GateReport, Heatmap, NetArgs, bias_csv, bias_label, bias_table, cifar_gate_report,
    cifar_run_splits, cifar_stage_depths, conv_gate_report, conv_stage_depths, load_cifar_run,
    load_conv_run, load_mlp_run, load_rhn_run, mlp_gate_report, rhn_gate_report, series,
    write_heatmap, write_plot, write_text,
};
use experiments::backend::DeviceArgs;
use experiments::data::MnistData;
use experiments::plot::LinePlot;
use experiments::train::RunDir;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Split {
    Train,
    Test,
}

#[derive(Parser, Debug)]
#[command(
    about = "Transform-gate biases and activity of trained highway nets (Training Very Deep Networks, Figs. 2-3)"
)]
struct Args {
    #[command(flatten)]
    nets: NetArgs,
    /// MNIST split to measure the gate activity on.
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    /// Use only the first N examples of the split.
    #[arg(long, default_value_t = usize::MAX)]
    examples: usize,
    /// Examples whose every unit's gate activity is plotted.
    #[arg(long, default_value_t = 3)]
    show_examples: usize,
    /// Evaluation batch size.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Output directory.
    #[arg(long, default_value = "artifacts/analysis/gates")]
    out: PathBuf,
    #[command(flatten)]
    device: DeviceArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.nets.check()?;
    let device = args.device.device()?;
    let out = RunDir::create(&args.out)?;
    let mut reports: Vec<(String, GateReport, Vec<experiments::analysis::LayerBias>)> = Vec::new();
    if !args.nets.run.is_empty() {
        let dir = args.nets.data_dir.as_deref();
        let data = MnistData::new(match args.split {
            Split::Train => MnistDataset::train(MnistKind::Mnist, dir)?,
            Split::Test => MnistDataset::test(MnistKind::Mnist, dir)?,
        });
        for path in &args.nets.run {
            let run = load_mlp_run(path, &device)?;
            let (label, slug) = bias_label(run.config.transform_bias);
            let start = std::time::Instant::now();
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
            let sub = RunDir::create(out.file(&slug))?;
            write_text(&sub.path, "biases.csv", &bias_csv(&biases))?;
            write_text(&sub.path, "layers.csv", &report.layer_csv())?;
            write_text(&sub.path, "classes.csv", &report.class_csv())?;
            sub.write_json("report.json", &report)?;
            sub.write_json("biases.json", &biases)?;
            let panels = report
                .example_gates
                .iter()
                .map(|e| {
                    // Rows: units; columns: layers.
                    let rows = (0..report.units)
                        .map(|u| e.gates.iter().map(|l| l[u] as f64).collect())
                        .collect();
                    (format!("example {} (digit {})", e.index, e.label), rows)
                })
                .collect();
            write_heatmap(
                &Heatmap {
                    title: format!("{label}: transform gate T of every unit (white 0, dark 1)"),
                    x_label: "layer".into(),
                    y_label: "unit".into(),
                    panels,
                    range: (0.0, 1.0),
                    diverging: false,
                    x_offset: 2,
                },
                &sub.file("examples"),
            );
            let max_dev = report
                .class_deviation
                .iter()
                .flatten()
                .fold(1e-6f64, |m, v| m.max(v.abs()));
            write_heatmap(
                &Heatmap {
                    title: format!("{label}: class mean T minus overall mean (±{max_dev:.3})"),
                    x_label: "layer".into(),
                    y_label: "digit".into(),
                    panels: vec![("per class".into(), report.class_deviation.clone())],
                    range: (-max_dev, max_dev),
                    diverging: true,
                    x_offset: 2,
                },
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
        let layer_points =
            |f: &dyn Fn(&GateReport, usize) -> f64, r: &GateReport| -> Vec<(f64, f64)> {
                (0..r.layers)
                    .map(|i| ((r.first_layer + i) as f64, f(r, i)))
                    .collect()
            };
        let mut bias_lines = Vec::new();
        for (c, (label, _, b)) in reports.iter().enumerate() {
            let pts = |f: &dyn Fn(&experiments::analysis::LayerBias) -> f64| {
                b.iter()
                    .map(|l| (l.layer as f64, f(l) - l.initial))
                    .collect::<Vec<_>>()
            };
            bias_lines.push(series(&format!("{label} mean"), c, false, pts(&|l| l.mean)));
            bias_lines.push(series(&format!("{label} min"), c, true, pts(&|l| l.min)));
            bias_lines.push(series(&format!("{label} max"), c, true, pts(&|l| l.max)));
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
        for (stem, plot) in [
            (
                "gate-bias",
                LinePlot {
                    title: "Learned transform-gate bias minus its initial value, per layer".into(),
                    x_label: "layer".into(),
                    y_label: "b_T - initial b_T (mean, min, max over units)".into(),
                    log_y: false,
                    series: bias_lines,
                },
            ),
            (
                "gate-mean",
                LinePlot {
                    title: "Mean transform-gate activity per layer".into(),
                    x_label: "layer".into(),
                    y_label: "mean T".into(),
                    log_y: false,
                    series: reports
                        .iter()
                        .enumerate()
                        .map(|(c, (l, r, _))| {
                            series(l, c, false, layer_points(&|r, i| r.mean_per_layer[i], r))
                        })
                        .collect(),
                },
            ),
            (
                "layer-distance",
                LinePlot {
                    title: "Distance of each layer's output from the final output (Greff et al.)"
                        .into(),
                    x_label: "layer (1: the plain input layer)".into(),
                    y_label: "mean ||z_l - z_L|| / mean ||z_L||".into(),
                    log_y: false,
                    series: reports
                        .iter()
                        .enumerate()
                        .map(|(c, (l, r, _))| {
                            let pts = r
                                .relative_distance
                                .iter()
                                .enumerate()
                                .map(|(i, v)| ((r.first_layer - 1 + i) as f64, *v))
                                .collect();
                            series(l, c, false, pts)
                        })
                        .collect(),
                },
            ),
        ] {
            for p in write_plot(&plot, &out.file(stem)) {
                println!("wrote {}", p.display());
            }
        }
    }
    if let Some(path) = &args.nets.conv_run {
        let run = load_conv_run(path, &device)?;
        let dir = args.nets.data_dir.as_deref();
        let data = MnistData::new(match args.split {
            Split::Train => MnistDataset::train(MnistKind::Mnist, dir)?,
            Split::Test => MnistDataset::test(MnistKind::Mnist, dir)?,
        });
        let start = std::time::Instant::now();
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
        let splits = cifar_run_splits(&run.dir, args.nets.data_dir.as_deref())?;
        let want = match args.split {
            Split::Train => "train",
            Split::Test => "test",
        };
        // A --samples run has one split (its 20 images are both trained on and evaluated).
        let (split, data) = match splits.iter().find(|(n, _)| *n == want) {
            Some(s) => s,
            None => &splits[0],
        };
        let start = std::time::Instant::now();
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
        let corpus = PtbCorpus::load(args.nets.data_dir.as_deref())?;
        let data = corpus.bptt(PtbSplit::Valid, 10, 35)?;
        let start = std::time::Instant::now();
        let report = rhn_gate_report(
            &run.model,
            run.config.transform_bias,
            &data,
            args.nets.windows,
            &device,
        )?;
        let sub = RunDir::create(out.file("rhn"))?;
        sub.write_json("report.json", &report)?;
        write_text(&sub.path, "biases.csv", &bias_csv(&report.biases))?;
        let mut csv = String::from("step");
        for l in 0..report.depth {
            csv.push_str(&format!(",micro_layer{}", l + 1));
        }
        csv.push('\n');
        for (t, row) in report.per_time_step.iter().enumerate() {
            csv.push_str(&(t + 1).to_string());
            for v in row {
                csv.push_str(&format!(",{v:.5}"));
            }
            csv.push('\n');
        }
        write_text(&sub.path, "per_time_step.csv", &csv)?;
        let plot = LinePlot {
            title: format!(
                "RHN (depth {}): mean transform gate per micro-layer over the window",
                report.depth
            ),
            x_label: "time step in the 35-step window".into(),
            y_label: "mean T".into(),
            log_y: false,
            series: (0..report.depth)
                .map(|l| {
                    let pts = report
                        .per_time_step
                        .iter()
                        .enumerate()
                        .map(|(t, r)| ((t + 1) as f64, r[l]))
                        .collect();
                    series(&format!("micro-layer {}", l + 1), l, false, pts)
                })
                .collect(),
        };
        for p in write_plot(&plot, &sub.file("time")) {
            println!("wrote {}", p.display());
        }
        println!(
            "RHN {} (epoch {}), {} PTB valid windows in {:.1}s: mean T per micro-layer {}; mean b_T {}",
            run.dir.display(),
            run.epoch,
            report.windows,
            start.elapsed().as_secs_f64(),
            report
                .mean_per_micro_layer
                .iter()
                .map(|m| format!("{m:.3}"))
                .collect::<Vec<_>>()
                .join(" "),
            report
                .biases
                .iter()
                .map(|b| format!("{:.2}", b.mean))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!("artifacts: {}", args.out.display());
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
    let sub = RunDir::create(out.file(name))?;
    write_text(&sub.path, "layers.csv", &report.layer_csv())?;
    write_text(&sub.path, "classes.csv", &report.class_csv())?;
    sub.write_json("report.json", report)?;
    let max_dev = report
        .class_deviation
        .iter()
        .flatten()
        .fold(1e-6f64, |m, v| m.max(v.abs()));
    write_heatmap(
        &Heatmap {
            title: format!("{title}: class mean T minus overall mean (±{max_dev:.3})"),
            x_label: "layer".into(),
            y_label: class_name.into(),
            panels: vec![("per class".into(), report.class_deviation.clone())],
            range: (-max_dev, max_dev),
            diverging: true,
            x_offset: report.first_layer,
        },
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
