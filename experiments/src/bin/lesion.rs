//! `lesion`: force one layer's transform gate to 0 (pure carry) at a time and measure loss and
//! error on the training and test sets, *Training Very Deep Networks* (arXiv:1507.06228) s4,
//! Figure 4; for an RHN language model, each micro-layer in turn (PTB validation perplexity).
//!
//! ```text
//! cargo run -p experiments --bin lesion -- --run artifacts/analysis/mnist50-bt-2,artifacts/analysis/mnist50-bt-4
//! cargo run -p experiments --bin lesion -- --rhn-run artifacts/ptb-rhn-small
//! cargo run -p experiments --bin lesion -- --cifar-run artifacts/cifar-overfit-a
//! ```

use std::path::PathBuf;

use clap::Parser;
use datasets::{MnistDataset, MnistKind, PtbCorpus, PtbSplit};
use experiments::analysis::{
    LesionReport, NetArgs, bias_label, cifar_lesion, cifar_run_splits, cifar_stage_depths,
    conv_lesion, conv_stage_depths, load_cifar_run, load_conv_run, load_mlp_run, load_rhn_run,
    mlp_lesion, plot_lesions, ranges, rhn_lesion, write_text,
};
use experiments::backend::DeviceArgs;
use experiments::data::MnistData;
use experiments::train::RunDir;

#[derive(Parser, Debug)]
#[command(
    about = "Lesion each layer of trained highway nets (Training Very Deep Networks, Fig. 4)"
)]
struct Args {
    #[command(flatten)]
    nets: NetArgs,
    /// Training examples evaluated (the first N).
    #[arg(long, default_value_t = 60_000)]
    train_examples: usize,
    /// Test examples evaluated (the first N).
    #[arg(long, default_value_t = 10_000)]
    test_examples: usize,
    /// A lesion counts as harmless when it raises the error by at most this much (absolute).
    #[arg(long, default_value_t = 0.005)]
    tolerance: f64,
    /// Evaluation batch size.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Output directory.
    #[arg(long, default_value = "artifacts/analysis/lesion")]
    out: PathBuf,
    #[command(flatten)]
    device: DeviceArgs,
}

fn summary(r: &LesionReport, tolerance: f64) -> String {
    let mut out = format!(
        "### {}\n\n| split | intact loss | intact error | worst lesion | its error | harmless layers (error +≤{:.1} pt) |\n|---|---|---|---|---|---|\n",
        r.label,
        100.0 * tolerance
    );
    for (si, (split, base)) in r.baseline.iter().enumerate() {
        let worst = r
            .rows
            .iter()
            .max_by(|a, b| a.splits[si].1.error.total_cmp(&b.splits[si].1.error));
        let (wl, we) = worst
            .map(|w| {
                (
                    w.layer.to_string(),
                    format!("{:.2}%", 100.0 * w.splits[si].1.error),
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "| {split} | {:.4} | {:.2}% | {wl} | {we} | {} |\n",
            base.loss,
            100.0 * base.error,
            ranges(&r.harmless_layers(split, tolerance))
        ));
    }
    if let (Some(first), true) = (r.rows.first(), r.rows.len() > 1) {
        let rest = &r.rows[1..];
        for (si, (split, base)) in r.baseline.iter().enumerate() {
            let mean_rest =
                rest.iter().map(|x| x.splits[si].1.loss).sum::<f64>() / rest.len() as f64;
            out.push_str(&format!(
                "\nGreff et al.: {split} loss with the first stacked layer (layer {}) lesioned {:.4}, mean over the later layers {:.4} (intact {:.4}).\n",
                first.layer, first.splits[si].1.loss, mean_rest, base.loss
            ));
        }
    }
    out
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
    let mut s = summary(report, tolerance);
    let si = report.baseline.len() - 1;
    let split = &report.baseline[si].0;
    s.push_str(&format!("\n| stage | layers | first-layer lesion: {split} loss | later layers: mean {split} loss | intact |\n|---|---|---|---|---|\n"));
    let mut first = 0;
    for (k, d) in stages.iter().enumerate().filter(|(_, d)| **d > 0) {
        let rows = &report.rows[first..first + d];
        let later = if *d > 1 {
            format!(
                "{:.4}",
                rows[1..].iter().map(|r| r.splits[si].1.loss).sum::<f64>() / (*d - 1) as f64
            )
        } else {
            "-".into()
        };
        s.push_str(&format!(
            "| {} | {}-{} | {:.4} | {later} | {:.4} |\n",
            k + 1,
            rows[0].layer,
            rows[d - 1].layer,
            rows[0].splits[si].1.loss,
            report.baseline[si].1.loss
        ));
        first += d;
    }
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

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.nets.check()?;
    let device = args.device.device()?;
    let out = RunDir::create(&args.out)?;
    let mut table = String::from("# Lesioning\n\n");
    if !args.nets.run.is_empty() {
        let dir = args.nets.data_dir.as_deref();
        let train = MnistData::new(MnistDataset::train(MnistKind::Mnist, dir)?);
        let test = MnistData::new(MnistDataset::test(MnistKind::Mnist, dir)?);
        let mut reports = Vec::new();
        for path in &args.nets.run {
            let run = load_mlp_run(path, &device)?;
            let (label, slug) = bias_label(run.config.transform_bias);
            let start = std::time::Instant::now();
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
            let s = summary(&report, args.tolerance);
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
        let dir = args.nets.data_dir.as_deref();
        let train = MnistData::new(MnistDataset::train(MnistKind::Mnist, dir)?);
        let test = MnistData::new(MnistDataset::test(MnistKind::Mnist, dir)?);
        let stages = conv_stage_depths(&run.model);
        let label = format!(
            "conv w{} b_T={}",
            run.config.width, run.config.transform_bias
        );
        let start = std::time::Instant::now();
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
        let data = cifar_run_splits(&run.dir, args.nets.data_dir.as_deref())?;
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
        let start = std::time::Instant::now();
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
        let corpus = PtbCorpus::load(args.nets.data_dir.as_deref())?;
        let data = corpus.bptt(PtbSplit::Valid, 10, 35)?;
        let start = std::time::Instant::now();
        let label = format!("RHN depth {}", run.config.depth);
        let report = rhn_lesion(
            &label,
            &run.model,
            &data,
            "valid",
            args.nets.windows,
            &device,
        )?;
        println!(
            "{label} ({}, epoch {}): {} micro-layer lesions in {:.1}s",
            run.dir.display(),
            run.epoch,
            report.rows.len(),
            start.elapsed().as_secs_f64()
        );
        write_text(&out.path, "lesion-rhn.csv", &report.csv())?;
        out.write_json("lesion-rhn.json", &report)?;
        let mut s = format!(
            "### {label} (PTB valid, {} windows; error column = perplexity)\n\n| lesioned micro-layer | loss | perplexity |\n|---|---|---|\n| none | {:.4} | {:.1} |\n",
            args.nets.windows, report.baseline[0].1.loss, report.baseline[0].1.error
        );
        for r in &report.rows {
            s.push_str(&format!(
                "| {} | {:.4} | {:.1} |\n",
                r.layer, r.splits[0].1.loss, r.splits[0].1.error
            ));
        }
        println!("{s}");
        table.push_str(&s);
        for p in plot_lesions(
            std::slice::from_ref(&report),
            "lesioned micro-layer",
            &out.file("lesion-rhn"),
        ) {
            println!("wrote {}", p.display());
        }
    }
    write_text(&out.path, "table.md", &table)?;
    println!("artifacts: {}", args.out.display());
    Ok(())
}
