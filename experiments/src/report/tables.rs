//! The generated tables of `docs/results.md` and `docs/speed.md`, one function per section
//! (the language models' in [`super::language`]), and the helpers every section uses.

use burn::module::Module;
use models::{LayerKind, MnistConvNetConfig, RhnLmConfig};

use super::Outcome;
use super::columns::{Table, per_epoch, run_table};
use super::inputs::{ExportEval, Inputs, Run, Study};
use crate::cifar::{CifarSummary, NetChoice};
use crate::depth_study::stats::PAPER_RUNS;
use crate::provenance::Provenance;

/// The paper's Table 1 test accuracies, as the presets' docs state them
/// ([`MnistConvNetConfig::table1_width16`], [`MnistConvNetConfig::table1_width32`]).
const TABLE1_PAPER: &[(usize, &str)] = &[(16, "99.43% (300 epochs)"), (32, "99.55% (300 epochs)")];

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `0.9525` → `95.25%`.
pub fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// `text` as inline code in a table cell.
pub fn code(text: &str) -> String {
    format!("`{}`", text.replace('|', "\\|"))
}

/// `2026-12-01, c94f659`: the date and commit cell.
pub fn when(p: &Provenance) -> String {
    format!("{}, {}", p.day(), p.short_commit())
}

/// A Markdown table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|", header.join(" | "));
    out.push_str(&"---|".repeat(header.len()));
    out.push('\n');
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// `items` joined by `; `, each once, in order of first appearance.
pub fn distinct(items: impl IntoIterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.join("; ")
}

/// Seconds as `12 s`, `3.5 min` or `60 min`.
pub fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.0} s")
    } else if seconds < 600.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

/// The provenance columns of a run's row: command, date and commit, machine.
pub fn provenance_cells(p: &Provenance) -> [String; 3] {
    [code(&p.command()), when(p), p.machine_short()]
}

/// The newest of `studies` by recorded date (then directory), and a note if there were more.
fn newest<'a>(studies: Vec<&'a Study>, name: &str) -> Option<(&'a Study, Vec<String>)> {
    let count = studies.len();
    let study = studies
        .into_iter()
        .max_by(|a, b| (&a.provenance.date, &a.dir).cmp(&(&b.provenance.date, &b.dir)))?;
    let notes = (count > 1)
        .then(|| {
            format!(
                "{name}: {count} studies match; the newest is used: {}",
                study.dir.display()
            )
        })
        .into_iter()
        .collect();
    Some((study, notes))
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
    let breadth: Vec<&Study> = inputs
        .studies
        .iter()
        .filter(|s| s.result.config.fixed.is_none() && s.result.config.runs >= PAPER_RUNS)
        .collect();
    let mut seeds: Vec<u64> = breadth.iter().map(|s| s.result.config.seed).collect();
    seeds.sort();
    seeds.dedup();
    let mut studies = Vec::new();
    let mut notes = Vec::new();
    for seed in seeds {
        let matching = breadth
            .iter()
            .copied()
            .filter(|s| s.result.config.seed == seed)
            .collect();
        if let Some((study, more)) = newest(matching, &format!("{name} (seed {seed})")) {
            studies.push(study);
            notes.extend(more);
        }
    }
    (studies, notes)
}

/// Training throughput of a run's epochs (examples per second of training steps), with
/// thousands separators.
pub fn throughput(metrics: &[models::train::EpochMetrics]) -> String {
    thousands(models::train::samples_per_second(metrics).round() as usize)
}

/// `x` as `4.3x`, or `-`.
fn times(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.1}x"))
}

/// A loss cell: `1.234e-2`, or `diverged` for `+inf`.
fn loss_cell(l: f64) -> String {
    if l.is_finite() {
        format!("{l:.3e}")
    } else {
        "diverged".into()
    }
}

/// A study's wall time from its invocation records: `31 min (1 invocation, 2 jobs)`.
fn study_wall_time(study: &Study) -> String {
    let inv = &study.invocations;
    if inv.is_empty() {
        return "wall time not recorded".into();
    }
    let seconds: f64 = inv.iter().map(|i| i.wall_time_s).sum();
    let mut jobs: Vec<usize> = inv.iter().map(|i| i.jobs).collect();
    jobs.sort();
    jobs.dedup();
    let jobs: Vec<String> = jobs.iter().map(|j| j.to_string()).collect();
    format!(
        "{} of wall time ({} invocation{}, {} job{} at a time)",
        duration(seconds),
        inv.len(),
        if inv.len() == 1 { "" } else { "s" },
        jobs.join(" or "),
        if jobs.len() == 1 && jobs[0] == "1" {
            ""
        } else {
            "s"
        }
    )
}

/// `depth-study-breadth`: the studies at the paper's breadth, one per seed: per depth and seed
/// the best and the mean of the best 10 for each type and their ratios, then each study's
/// command and conditions and its per-cell statistics.
pub fn depth_study_breadth(inputs: &Inputs, name: &str) -> Outcome {
    let (studies, notes) = breadth_studies(inputs, name);
    if studies.is_empty() {
        return Outcome::none(name);
    }
    let depths: Vec<usize> = {
        let mut d: Vec<usize> = studies
            .iter()
            .flat_map(|s| s.result.config.depths.iter().copied())
            .collect();
        d.sort();
        d.dedup();
        d
    };
    let mut rows = Vec::new();
    for &depth in &depths {
        for study in &studies {
            let r = &study.result;
            let (Some(p), Some(h)) = (
                r.cell(LayerKind::Plain, depth),
                r.cell(LayerKind::Highway, depth),
            ) else {
                continue;
            };
            let ratio = |a: f64, b: f64| times((a.is_finite() && b.is_finite()).then(|| a / b));
            rows.push(vec![
                depth.to_string(),
                r.config.seed.to_string(),
                loss_cell(p.best),
                loss_cell(h.best),
                ratio(p.best, h.best),
                loss_cell(p.top_mean),
                loss_cell(h.top_mean),
                format!("**{}**", ratio(p.top_mean, h.top_mean)),
            ]);
        }
    }
    let mut content = table(
        &[
            "depth",
            "seed",
            "best plain",
            "best highway",
            "plain / highway",
            "mean of best 10, plain",
            "mean of best 10, highway",
            "plain / highway",
        ],
        &rows,
    );
    for study in &studies {
        let p = &study.provenance;
        let r = &study.result;
        let run_seconds: f64 = r.runs.iter().map(|r| r.wall_time_s).sum();
        content.push_str(&format!(
            "\nSeed {}: {}: {}, commit {}, {} ({} build). {} of {} runs, {}; the runs' own \
             times add up to {}; run files in {}.\n\n{}",
            r.config.seed,
            code(&p.command()),
            p.day(),
            p.short_commit(),
            p.machine_short(),
            p.build,
            r.runs.len(),
            study.planned_runs(),
            study_wall_time(study),
            duration(run_seconds),
            code(&study.dir.display().to_string()),
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
    let p = &study.provenance;
    let runs = &study.result.runs;
    let seconds: f64 = runs.iter().map(|r| r.wall_time_s).sum();
    let content = format!(
        "{}\n{}: {}, commit {}, {} ({} build). {} runs, {} s in all (the sum of their \
         `wall_time_s`); run files in {}.\n",
        study.result.table(),
        code(&p.command()),
        p.day(),
        p.short_commit(),
        p.machine_short(),
        p.build,
        runs.len(),
        seconds.round(),
        code(&study.dir.display().to_string()),
    );
    Outcome::Generated { content, notes }
}

/// The conv runs on `dataset`, sorted by width, epochs and date.
pub fn conv_runs<'a>(
    inputs: &'a Inputs,
    dataset: &str,
) -> Vec<&'a Run<crate::mnist_conv::ConvSummary>> {
    let mut runs: Vec<_> = inputs
        .conv
        .iter()
        .filter(|r| r.summary.dataset == dataset)
        .collect();
    runs.sort_by(|a, b| {
        (a.summary.width, a.summary.epochs, &a.provenance.date).cmp(&(
            b.summary.width,
            b.summary.epochs,
            &b.provenance.date,
        ))
    });
    runs
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
    let rows = vec![
        vec![
            "MNIST conv highway, width 16 (Table 1)".to_string(),
            "39K".into(),
            thousands(conv(MnistConvNetConfig::table1_width16())),
        ],
        vec![
            "MNIST conv highway, width 32 (Table 1)".to_string(),
            "151K".into(),
            thousands(conv(MnistConvNetConfig::table1_width32())),
        ],
        vec![
            "RHN `ptb_sota` (depth 10, 830 units, tied)".to_string(),
            "23M".into(),
            thousands(RhnLmConfig::ptb_sota().num_params()),
        ],
    ];
    let mut content = table(&["net", "paper", "ours"], &rows);
    content.push_str(
        "\nComputed by `report` from the presets (`MnistConvNetConfig::table1_width16`, \
         `table1_width32`, `RhnLmConfig::ptb_sota`): each model's `num_params`.\n",
    );
    Ok(Outcome::generated(content))
}

/// The CIFAR nets of Tables 2 and 3: parameters of each preset, the paper's figures, and the
/// test accuracy of any full-data `cifar` run of it; then every run on the 20 sample images
/// (`--samples`), with the step at which it classified all of them. Without `cifar` runs the
/// section is left as it is.
pub fn cifar_table(inputs: &Inputs, name: &str) -> anyhow::Result<Outcome> {
    if inputs.cifar.is_empty() {
        return Ok(Outcome::none(name));
    }
    let device = crate::backend::parse_device(None)?;
    let nets = [
        (NetChoice::A, "Highway A (`--net a`)", "~236K, 89.18%"),
        (NetChoice::B, "Highway B (`--net b`)", "~2.3M, 92.46%"),
        (NetChoice::C, "Highway C (`--net c`)", "~1.25M, 91.20%"),
        (
            NetChoice::Table3,
            "Table 3 (`--net table3`)",
            "CIFAR-10 92.40%, CIFAR-100 67.76%",
        ),
    ];
    let highway = |r: &&Run<CifarSummary>| r.summary.kind == LayerKind::Highway;
    let rows: Vec<Vec<String>> = nets
        .iter()
        .map(|(net, label, paper)| {
            let params = crate::cifar::model_config(*net, 10, false)
                .init(&device)
                .num_params();
            let full: Vec<String> = inputs
                .cifar
                .iter()
                .filter(highway)
                .filter(|r| r.summary.net == *net && r.summary.dataset != "cifar10-samples")
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
            let here = if full.is_empty() {
                "not reproduced (no data)".to_string()
            } else {
                full.join("; ")
            };
            vec![
                label.to_string(),
                thousands(params),
                paper.to_string(),
                here,
            ]
        })
        .collect();
    let mut content = table(
        &[
            "net",
            "parameters (CIFAR-10)",
            "paper",
            "Table 2/3 accuracy here",
        ],
        &rows,
    );
    content.push_str(
        "\nParameters computed by `report` from the presets (`CifarHighwayConfig::fitnet_a`, \
         `fitnet_b`, `fitnet_c`, `table3`): each net's `num_params`.\n",
    );
    let fits: Vec<Vec<String>> = inputs
        .cifar
        .iter()
        .filter(|r| r.summary.dataset == "cifar10-samples")
        .map(|r| {
            let s = &r.summary;
            let mut row = vec![
                format!("{:?}", s.net),
                s.train_images.to_string(),
                s.iterations.to_string(),
                s.first_iteration_at_100_percent
                    .map_or("never".into(), |i| format!("step {i}")),
                duration(s.wall_time_s),
            ];
            row.extend(provenance_cells(&r.provenance));
            row
        })
        .collect();
    if !fits.is_empty() {
        content.push_str("\nThe net fitting the sample images (evaluated on the same images):\n\n");
        content.push_str(&table(
            &[
                "net",
                "images",
                "steps",
                "100% accuracy",
                "training",
                "command",
                "date, commit",
                "machine",
            ],
            &fits,
        ));
    }
    Ok(Outcome::generated(content))
}

/// `727` or `727-746`: the range of `values`, rounded.
pub fn range(values: &[f64], format: impl Fn(f64) -> String) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (format(min), format(max));
    if a == b { a } else { format!("{a}-{b}") }
}

/// `median (min-max)` of `values` (the range alone for fewer than three), each as `format`
/// writes it: `1.35 (1.23-1.48)`.
pub fn median_range(values: &[f64], format: impl Fn(f64) -> String) -> String {
    let spread = range(values, &format);
    if values.len() < 3 {
        return spread;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    };
    format!("{} ({spread})", format(median))
}

/// The items of the newest commit among `items` (that of the newest date), in their order.
pub fn of_newest_commit<T>(items: Vec<T>, provenance: impl Fn(&T) -> &Provenance) -> Vec<T> {
    let Some(commit) = items
        .iter()
        .map(&provenance)
        .max_by(|a, b| a.date.cmp(&b.date))
        .map(|p| p.git_commit.clone())
    else {
        return items;
    };
    items
        .into_iter()
        .filter(|i| provenance(i).git_commit == commit)
        .collect()
}

/// The run's own final test accuracy and loss (`metrics.json`, last epoch, `test` split).
pub fn rust_test(e: &ExportEval) -> Option<(f64, f64)> {
    let last = e.metrics.last()?;
    let test = last.evals.iter().find(|x| x.split == e.eval.split)?;
    Some((test.accuracy?, test.loss))
}

/// `export`: exported runs evaluated in PyTorch beside their own test figures.
pub fn export_table(inputs: &Inputs, name: &str) -> Outcome {
    if inputs.evals.is_empty() {
        return Outcome::none(name);
    }
    fn torch(e: &ExportEval) -> &Provenance {
        e.eval
            .provenance
            .as_ref()
            .expect("loaded evaluations have provenance")
    }
    let rust =
        |f: fn((f64, f64)) -> String| move |e: &ExportEval| rust_test(e).map_or("—".into(), f);
    let table = Table::new()
        .col("run", |e: &ExportEval| {
            format!(
                "{} (epoch {})",
                code(&e.run.display().to_string()),
                e.eval.epoch
            )
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
        .col("same accuracy", |e| match rust_test(e) {
            Some((acc, _)) => {
                let correct = (acc * e.eval.examples as f64).round() as usize;
                if correct == e.eval.correct {
                    "yes"
                } else {
                    "no"
                }
                .to_string()
            }
            None => "—".into(),
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
    Outcome::generated(table.render(&inputs.evals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_come_with_their_range() {
        let f = |x: f64| format!("{x:.2}");
        assert_eq!(median_range(&[1.48, 1.23, 1.35], f), "1.35 (1.23-1.48)");
        assert_eq!(median_range(&[1.0, 4.0, 2.0, 3.0], f), "2.50 (1.00-4.00)");
        assert_eq!(median_range(&[1.2, 1.3], f), "1.20-1.30");
        assert_eq!(median_range(&[1.2], f), "1.20");
    }

    #[test]
    fn numbers_and_ranges_format_as_the_tables_do() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(23_482_400), "23,482,400");
        assert_eq!(percent(0.9525), "95.25%");
        assert_eq!(
            range(&[746.2, 727.4, 736.0], |v| format!("{v:.0}")),
            "727-746"
        );
        assert_eq!(range(&[1.0], |v| format!("{v:.2}")), "1.00");
        assert_eq!(duration(43.1), "43 s");
        assert_eq!(duration(3600.0), "60 min");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(table1_paper("mnist", 32), "99.55% (300 epochs)");
        assert_eq!(table1_paper("fashion-mnist", 32), "—");
    }

    #[test]
    fn sizes_match_the_paper_presets() {
        let Outcome::Generated { content, .. } = sizes_table().unwrap() else {
            panic!("sizes needs no runs")
        };
        assert!(content.contains("| MNIST conv highway, width 16 (Table 1) | 39K | 38,986 |"));
        assert!(
            content.contains("| RHN `ptb_sota` (depth 10, 830 units, tied) | 23M | 23,482,400 |")
        );
    }

    /// A random-search study over depth 50 of `runs` runs per type: plain run `r` ends at
    /// `plain·(1 + r/100)`, highway run `r` at `highway·(1 + r/100)`.
    fn synthetic_study(seed: u64, runs: usize, plain: f64, highway: f64) -> Study {
        use crate::depth_study::{StudyConfig, StudyResult};
        let config = StudyConfig {
            depths: vec![50],
            kinds: vec![LayerKind::Plain, LayerKind::Highway],
            runs,
            epochs: 1,
            batch_size: 128,
            train_examples: 100,
            test_examples: 100,
            seed,
            fixed: None,
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
