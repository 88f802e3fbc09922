//! The generated tables of `docs/results.md` other than the language models' (those are
//! [`super::language`]'s): the depth studies, Table 1, the CIFAR nets, the presets' sizes and
//! the exported runs.

use burn::module::Module;
use models::{LayerKind, MnistConvNetConfig, RhnLmConfig};

use super::Outcome;
use super::columns::{
    Table, code, command_line, duration, path_code, per_epoch, percent, run_table, sorted,
    thousands, throughput, when,
};
use super::inputs::{ExportEval, Inputs, Run, Study};
use crate::cifar::{CifarSummary, NetChoice};
use crate::depth_study::stats::{CellStats, PAPER_RUNS, loss};
use crate::provenance::Provenance;

/// The paper's Table 1 test accuracies, as the presets' docs state them
/// ([`MnistConvNetConfig::table1_width16`], [`MnistConvNetConfig::table1_width32`]).
const TABLE1_PAPER: &[(usize, &str)] = &[(16, "99.43% (300 epochs)"), (32, "99.55% (300 epochs)")];

/// The `cifar` data set of the 20 sample images (`--samples`).
pub const CIFAR_SAMPLES: &str = "cifar10-samples";

/// The newest of `studies` by recorded date (then directory), and a note if there were more.
fn newest<'a>(studies: Vec<&'a Study>, name: &str) -> Option<(&'a Study, Vec<String>)> {
    let count = studies.len();
    let study = studies
        .into_iter()
        .max_by_key(|s| (&s.provenance.date, &s.dir))?;
    let note = format!(
        "{name}: {count} studies match; the newest is used: {}",
        study.dir.display()
    );
    Some((study, (count > 1).then_some(note).into_iter().collect()))
}

/// The `mnist-depth` study for `depth-study` (random search with fewer than
/// [`PAPER_RUNS`] runs per cell, `--preset cpu-study`) or `depth-study-quick` (fixed
/// hyper-parameters, as `--preset quick`).
pub fn depth_study_for<'a>(
    inputs: &'a Inputs,
    fixed: bool,
    name: &str,
) -> Option<(&'a Study, Vec<String>)> {
    let matching = inputs
        .studies
        .iter()
        .filter(|s| s.result.config.fixed.is_some() == fixed)
        .filter(|s| fixed || s.result.config.runs < PAPER_RUNS)
        .collect();
    newest(matching, name)
}

/// The random-search studies with at least [`PAPER_RUNS`] runs per cell, the newest of each
/// seed, by seed.
pub fn breadth_studies<'a>(inputs: &'a Inputs, name: &str) -> (Vec<&'a Study>, Vec<String>) {
    let breadth =
        |s: &&Study| s.result.config.fixed.is_none() && s.result.config.runs >= PAPER_RUNS;
    let all = || inputs.studies.iter().filter(breadth);
    let (mut studies, mut notes) = (Vec::new(), Vec::new());
    for seed in sorted(all().map(|s| s.result.config.seed)) {
        let matching = all().filter(|s| s.result.config.seed == seed).collect();
        if let Some((study, more)) = newest(matching, &format!("{name} (seed {seed})")) {
            studies.push(study);
            notes.extend(more);
        }
    }
    (studies, notes)
}

/// `x` as `4.3x`, or `-`.
pub fn times(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.1}x"))
}

/// A study's wall time from its invocation records: `31 min (1 invocation, 2 jobs)`.
fn study_wall_time(study: &Study) -> String {
    let inv = &study.invocations;
    if inv.is_empty() {
        return "wall time not recorded".into();
    }
    let seconds: f64 = inv.iter().map(|i| i.wall_time_s).sum();
    let jobs = sorted(inv.iter().map(|i| i.jobs));
    let list: Vec<String> = jobs.iter().map(usize::to_string).collect();
    let plural = |many: bool| if many { "s" } else { "" };
    format!(
        "{} of wall time ({} invocation{}, {} job{} at a time)",
        duration(seconds),
        inv.len(),
        plural(inv.len() != 1),
        list.join(" or "),
        plural(jobs != [1])
    )
}

/// `depth-study-breadth`: the studies at the paper's breadth, one per seed: per depth and seed
/// the best and the mean of the best 10 for each type and their ratios, then each study's
/// command and conditions and its per-cell statistics.
pub fn depth_study_breadth(inputs: &Inputs, name: &str) -> Outcome {
    /// A depth, a seed, and the plain and the highway cell of that seed's study.
    type Row<'a> = (usize, u64, &'a CellStats, &'a CellStats);
    let (studies, notes) = breadth_studies(inputs, name);
    if studies.is_empty() {
        return Outcome::none(name);
    }
    let mut rows: Vec<Row> = Vec::new();
    for depth in sorted(studies.iter().flat_map(|s| s.result.config.depths.clone())) {
        for &s in &studies {
            let cell = |kind| s.result.cell(kind, depth);
            if let (Some(p), Some(h)) = (cell(LayerKind::Plain), cell(LayerKind::Highway)) {
                rows.push((depth, s.result.config.seed, p, h));
            }
        }
    }
    let ratio = |a: f64, b: f64| times((a.is_finite() && b.is_finite()).then(|| a / b));
    let table = Table::new()
        .col("depth", |r: &Row| r.0.to_string())
        .col("seed", |r| r.1.to_string())
        .col("best plain", |r| loss(r.2.best))
        .col("best highway", |r| loss(r.3.best))
        .col("plain / highway", move |r| ratio(r.2.best, r.3.best))
        .col("mean of best 10, plain", |r| loss(r.2.top_mean))
        .col("mean of best 10, highway", |r| loss(r.3.top_mean))
        .col("plain / highway", move |r| {
            format!("**{}**", ratio(r.2.top_mean, r.3.top_mean))
        });
    let mut content = table.render(&rows);
    for study in &studies {
        let r = &study.result;
        let run_seconds: f64 = r.runs.iter().map(|r| r.wall_time_s).sum();
        content.push_str(&format!(
            "\nSeed {}: {}. {} of {} runs, {}; the runs' own times add up to {}; run files in \
             {}.\n\n{}",
            r.config.seed,
            command_line(&study.provenance),
            r.runs.len(),
            study.planned_runs(),
            study_wall_time(study),
            duration(run_seconds),
            path_code(&study.dir),
            r.cell_table(),
        ));
    }
    Outcome::Generated { content, notes }
}

/// `depth-study` / `depth-study-quick`: the study's table as `mnist-depth` prints it
/// (`table.md`), then its command, date, commit and machine.
pub fn depth_study(inputs: &Inputs, fixed: bool, name: &str) -> Outcome {
    let Some((study, notes)) = depth_study_for(inputs, fixed, name) else {
        return Outcome::none(name);
    };
    let runs = &study.result.runs;
    let seconds: f64 = runs.iter().map(|r| r.wall_time_s).sum();
    let content = format!(
        "{}\n{}. {} runs, {} s in all (the sum of their `wall_time_s`); run files in {}.\n",
        study.result.table(),
        command_line(&study.provenance),
        runs.len(),
        seconds.round(),
        path_code(&study.dir),
    );
    Outcome::Generated { content, notes }
}

/// The paper's Table 1 figure for an MNIST net of `width`, or `—`.
pub fn table1_paper(dataset: &str, width: usize) -> &'static str {
    TABLE1_PAPER
        .iter()
        .find(|(w, _)| dataset == "mnist" && *w == width)
        .map_or("—", |(_, p)| p)
}

/// `mnist` → `MNIST`, `fashion-mnist` → `Fashion-MNIST`.
fn dataset_name(dataset: &str) -> &str {
    match dataset {
        "mnist" => "MNIST",
        "fashion-mnist" => "Fashion-MNIST",
        other => other,
    }
}

/// `table1` / `table1-fashion`: the `mnist-conv` runs on `dataset`, by width, epochs and date.
pub fn conv_table(inputs: &Inputs, dataset: &str, name: &str) -> Outcome {
    run_table(
        name,
        inputs.conv.iter().filter(|r| r.summary.dataset == dataset),
        |r| (r.summary.width, r.summary.epochs, r.provenance.date.clone()),
        |t| {
            t.col("data set", |_| dataset_name(dataset).to_string())
                .col("width", |r| r.summary.width.to_string())
                .col("epochs", |r| r.summary.epochs.to_string())
                .col("parameters", |r| thousands(r.summary.parameters))
                .col("test accuracy", |r| percent(r.summary.test_accuracy))
                .col("best epoch", |r| percent(r.summary.best_test_accuracy))
                .col("test accuracy after each epoch (%)", |r| {
                    per_epoch(&r.metrics, 2, |m| {
                        let test = m.evals.iter().find(|e| e.split == "test")?;
                        Some(100.0 * test.accuracy?)
                    })
                })
                .col("training images/s", |r| throughput(&r.metrics))
                .col("training", |r| duration(r.summary.wall_time_s))
                .col("paper", |r| {
                    table1_paper(dataset, r.summary.width).to_string()
                })
        },
    )
}

/// `sizes`: parameter counts of the presets, computed from their configs (no runs).
pub fn sizes_table() -> anyhow::Result<Outcome> {
    let device = crate::backend::parse_device(None)?;
    let conv = |c: MnistConvNetConfig| c.init(&device).num_params();
    let rows = [
        (
            "MNIST conv highway, width 16 (Table 1)",
            "39K",
            conv(MnistConvNetConfig::table1_width16()),
        ),
        (
            "MNIST conv highway, width 32 (Table 1)",
            "151K",
            conv(MnistConvNetConfig::table1_width32()),
        ),
        (
            "RHN `ptb_sota` (depth 10, 830 units, tied)",
            "23M",
            RhnLmConfig::ptb_sota().num_params(),
        ),
    ];
    let table = Table::new()
        .col("net", |r: &(&str, &str, usize)| r.0.to_string())
        .col("paper", |r| r.1.to_string())
        .col("ours", |r| thousands(r.2));
    Ok(Outcome::generated(format!(
        "{}\nComputed by `report` from the presets (`MnistConvNetConfig::table1_width16`, \
         `table1_width32`, `RhnLmConfig::ptb_sota`): each model's `num_params`.\n",
        table.render(&rows)
    )))
}

/// The CIFAR nets of Tables 2 and 3: parameters of each preset, the paper's figures, and the
/// test accuracy of any full-data `cifar` run of it; then every run on the 20 sample images
/// (`--samples`), with the step at which it classified all of them. Without `cifar` runs the
/// section is left as it is.
pub fn cifar_table(inputs: &Inputs, name: &str) -> anyhow::Result<Outcome> {
    /// A net: its choice, its label and the paper's figures.
    type Net = (NetChoice, &'static str, &'static str);
    if inputs.cifar.is_empty() {
        return Ok(Outcome::none(name));
    }
    let device = crate::backend::parse_device(None)?;
    let nets: [Net; 4] = [
        (NetChoice::A, "Highway A (`--net a`)", "~236K, 89.18%"),
        (NetChoice::B, "Highway B (`--net b`)", "~2.3M, 92.46%"),
        (NetChoice::C, "Highway C (`--net c`)", "~1.25M, 91.20%"),
        (
            NetChoice::Table3,
            "Table 3 (`--net table3`)",
            "CIFAR-10 92.40%, CIFAR-100 67.76%",
        ),
    ];
    let samples = |r: &&Run<CifarSummary>| r.summary.dataset == CIFAR_SAMPLES;
    // The accuracy of each full-data run of a highway net.
    let here = |&(net, _, _): &Net| {
        let full: Vec<String> = inputs
            .cifar
            .iter()
            .filter(|r| r.summary.kind == LayerKind::Highway && r.summary.net == net)
            .filter(|r| !samples(r))
            .map(|r| {
                let acc = r.summary.final_evals.first().and_then(|e| e.accuracy);
                format!(
                    "{} {} after {} epochs ({})",
                    r.summary.dataset,
                    acc.map_or("no accuracy".into(), percent),
                    r.summary.epochs,
                    when(&r.provenance)
                )
            })
            .collect();
        match full.is_empty() {
            true => "not reproduced (no data)".to_string(),
            false => full.join("; "),
        }
    };
    let table = Table::new()
        .col("net", |n: &Net| n.1.to_string())
        .col("parameters (CIFAR-10)", |n| {
            let config = crate::cifar::model_config(n.0, 10, false);
            thousands(config.init(&device).num_params())
        })
        .col("paper", |n| n.2.to_string())
        .col("Table 2/3 accuracy here", here);
    let mut content = format!(
        "{}\nParameters computed by `report` from the presets (`CifarHighwayConfig::fitnet_a`, \
         `fitnet_b`, `fitnet_c`, `table3`): each net's `num_params`.\n",
        table.render(&nets)
    );
    let fits: Vec<&Run<CifarSummary>> = inputs.cifar.iter().filter(samples).collect();
    if !fits.is_empty() {
        let table = Table::new()
            .col("net", |r: &Run<CifarSummary>| {
                format!("{:?}", r.summary.net)
            })
            .col("images", |r| r.summary.train_images.to_string())
            .col("steps", |r| r.summary.iterations.to_string())
            .col("100% accuracy", |r| {
                let step = r.summary.first_iteration_at_100_percent;
                step.map_or("never".into(), |i| format!("step {i}"))
            })
            .col("training", |r| duration(r.summary.wall_time_s))
            .provenance(|r| &r.provenance);
        content.push_str("\nThe net fitting the sample images (evaluated on the same images):\n\n");
        content.push_str(&table.render(fits));
    }
    Ok(Outcome::generated(content))
}

/// The run's own final test accuracy and loss (`metrics.json`, last epoch, `test` split).
pub fn rust_test(e: &ExportEval) -> Option<(f64, f64)> {
    let last = e.metrics.last()?;
    let test = last.evals.iter().find(|x| x.split == e.eval.split)?;
    Some((test.accuracy?, test.loss))
}

/// `export`: exported runs evaluated in PyTorch beside their own test figures.
pub fn export_table(inputs: &Inputs, name: &str) -> Outcome {
    fn torch(e: &ExportEval) -> &Provenance {
        let provenance = e.eval.provenance.as_ref();
        provenance.expect("loaded evaluations have provenance")
    }
    let rust =
        |f: fn((f64, f64)) -> String| move |e: &ExportEval| rust_test(e).map_or("—".into(), f);
    let table = Table::new()
        .col("run", |e: &ExportEval| {
            format!("{} (epoch {})", path_code(&e.run), e.eval.epoch)
        })
        .col("model, data", |e| {
            let ev = &e.eval;
            format!("{}, {} {}", ev.model, dataset_name(&ev.dataset), ev.split)
        })
        .col("Rust accuracy", rust(|(a, _)| percent(a)))
        .col("Rust loss", rust(|(_, l)| format!("{l:.6}")))
        .col("PyTorch accuracy", |e| {
            let ev = &e.eval;
            format!("{} ({}/{})", percent(ev.accuracy), ev.correct, ev.examples)
        })
        .col("PyTorch cross-entropy", |e| {
            format!("{:.6}", e.eval.mean_cross_entropy)
        })
        .col("same accuracy", |e| {
            let examples = e.eval.examples as f64;
            let correct = rust_test(e).map(|(acc, _)| (acc * examples).round() as usize);
            let same = correct.map(|c| if c == e.eval.correct { "yes" } else { "no" });
            same.unwrap_or("—").to_string()
        })
        .col("commands", |e| {
            let export = e.export.as_ref().and_then(|x| x.provenance.as_ref());
            let commands: Vec<String> = export
                .into_iter()
                .chain([torch(e)])
                .map(|p| code(&p.command()))
                .collect();
            commands.join(", then ")
        })
        .col("date, commit", |e| when(torch(e)))
        .col("machine", |e| {
            format!("{}, torch {}", torch(e).machine_short(), e.eval.torch)
        });
    table.section(name, &inputs.evals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paper_figures_are_those_of_mnist() {
        assert_eq!(table1_paper("mnist", 32), "99.55% (300 epochs)");
        assert_eq!(table1_paper("fashion-mnist", 32), "—");
    }

    /// A random-search study over depth 50 of `runs` runs per type: plain run `r` ends at
    /// `plain·(1 + r/100)`, highway run `r` at `highway·(1 + r/100)`.
    fn synthetic_study(seed: u64, runs: usize, plain: f64, highway: f64) -> Study {
        use crate::depth_study::{StudyConfig, StudyResult, test_config};
        let kinds = [LayerKind::Plain, LayerKind::Highway];
        let config = StudyConfig {
            seed,
            ..test_config(&[50], &kinds, runs)
        };
        let mut all = Vec::new();
        for (kind, base) in [(LayerKind::Plain, plain), (LayerKind::Highway, highway)] {
            for run in 0..runs {
                let loss = base * (1.0 + run as f64 / 100.0);
                all.push(crate::depth_study::test_summary(kind, 50, run, Some(loss)));
            }
        }
        Study {
            dir: format!("runs/seed{seed}-{runs}").into(),
            provenance: Provenance::current(),
            result: StudyResult::new(config, all),
            invocations: Vec::new(),
        }
    }

    #[test]
    fn the_breadth_table_has_every_seed_and_the_short_study_stays_apart() {
        let inputs = Inputs {
            studies: vec![
                synthetic_study(2, PAPER_RUNS, 2.0, 0.1),
                synthetic_study(1, PAPER_RUNS, 1.0, 0.1),
                synthetic_study(1, 8, 3.0, 0.1),
            ],
            ..Inputs::default()
        };
        let Outcome::Generated { content, .. } = depth_study_breadth(&inputs, "b") else {
            panic!("two breadth studies")
        };
        // Mean of the 10 best: base·1.045; plain / highway = 10.0 (seed 1), 20.0 (seed 2).
        assert!(
            content.contains(
                "| 50 | 1 | 1.000e0 | 1.000e-1 | 10.0x | 1.045e0 | 1.045e-1 | **10.0x** |"
            ),
            "{content}"
        );
        assert!(content.contains("| 50 | 2 | 2.000e0 |"), "{content}");
        assert!(
            content.find("| 50 | 1 |") < content.find("| 50 | 2 |"),
            "by seed"
        );
        assert!(content.contains("Seed 1:") && content.contains("Seed 2:"));
        assert!(
            content.contains("200 of 200 runs, wall time not recorded"),
            "{content}"
        );
        // The 8-run study is the short version's.
        let (short, _) = depth_study_for(&inputs, false, "d").unwrap();
        assert_eq!(short.result.config.runs, 8);
        assert!(matches!(
            depth_study_breadth(&Inputs::default(), "b"),
            Outcome::NotRegenerated(_)
        ));
    }
}
