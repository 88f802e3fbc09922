//! `summary`: the README's headline table, one row per result, each linking into the docs,
//! built from the same inputs as the full tables. A row is known by the link its first cell
//! starts with (`[MNIST depth study](docs/results.md#mnist-depth-study)`): a row with inputs is
//! generated, a row without them is kept as it is, and a generated row the table does not have
//! yet goes after the row of the result before it.

use super::Outcome;
use super::inputs::{Inputs, PtbSummary, Run};
use super::language::{self, training_seconds};
use super::tables::{
    breadth_studies, conv_runs, depth_study_for, of_newest_commit, percent, range, rust_test,
    table, table1_paper,
};
use crate::provenance::Provenance;
use models::LayerKind;

const HEADER: [&str; 5] = [
    "result",
    "here",
    "paper",
    "date, commit",
    "build, threads, machine",
];

/// The last two cells of a generated row: date and commit; build, threads and machine (for a
/// Python script: its backend and machine).
fn provenance_cells(p: &Provenance) -> [String; 2] {
    let how = if p.program.ends_with(".py") {
        p.backend.clone()
    } else {
        let threads = p
            .env
            .get("RAYON_NUM_THREADS")
            .cloned()
            .unwrap_or_else(|| p.machine.logical_cores.to_string());
        format!("{}, {threads}", p.build)
    };
    [
        format!("{}, {}", p.day(), p.short_commit()),
        format!("{how}; {}", p.machine_short()),
    ]
}

/// A generated row's cells.
struct Row {
    cells: Vec<String>,
}

/// The last two cells of a row whose figures come from several runs, each labelled (`RHN`,
/// `Kim`): each distinct value once, followed by the labels of its runs where the runs differ
/// (`2026-12-01, abcdef1 (RHN, LSTM); 2026-12-02, 7654321 (Kim)`).
fn provenance_cells_of(runs: &[(&str, &Provenance)]) -> [String; 2] {
    let cells: Vec<[String; 2]> = runs.iter().map(|(_, p)| provenance_cells(p)).collect();
    std::array::from_fn(|i| {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for ((label, _), c) in runs.iter().zip(&cells) {
            match groups.iter_mut().find(|(value, _)| *value == c[i]) {
                Some((_, labels)) => labels.push(*label),
                None => groups.push((c[i].as_str(), vec![*label])),
            }
        }
        if groups.len() == 1 {
            return groups[0].0.to_string();
        }
        groups
            .iter()
            .map(|(value, labels)| format!("{value} ({})", labels.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// A generated row of the runs `runs` (labelled as [`provenance_cells_of`] needs).
fn row_of(
    key: &'static str,
    rest: &str,
    here: String,
    paper: &str,
    runs: &[(&str, &Provenance)],
) -> Row {
    let [when, how] = provenance_cells_of(runs);
    Row {
        cells: vec![format!("{key}{rest}"), here, paper.to_string(), when, how],
    }
}

/// A generated row of one run.
fn row(key: &'static str, rest: &str, here: String, paper: &str, p: &Provenance) -> Row {
    row_of(key, rest, here, paper, &[("", p)])
}

const DEPTH: &str = "[MNIST depth study](docs/results.md#mnist-depth-study)";
const DEPTH_QUICK: &str = "[MNIST depth study, quick](docs/results.md#mnist-depth-study)";
const TABLE1: &str =
    "[MNIST conv net, Table 1](docs/results.md#mnist-conv-net-table-1-and-fashion-mnist)";
const FASHION: &str = "[Fashion-MNIST](docs/results.md#mnist-conv-net-table-1-and-fashion-mnist)";
const PTB: &str = "[Penn Treebank](docs/results.md#penn-treebank)";
const CHAR: &str = "[Character level](docs/results.md#character-level)";
const EXPORT: &str = "[Weights in PyTorch](docs/results.md#weights-in-pytorch)";
const SPEED_RHN: &str = "[Speed](docs/speed.md#rhn-language-model)";
const SPEED_MLP: &str = "[Speed](docs/speed.md#highway-mlp)";
const SPEED_CONV: &str = "[Speed](docs/speed.md#the-cpu-fast-path)";
const CIFAR: &str = "[CIFAR-10, net A](docs/results.md#cifar-10100-tables-2-and-3)";
const LESION: &str = "[Lesioning](docs/results.md#gate-analysis-and-lesioning)";

/// The rows in the order they appear, each `None` without inputs.
fn rows(inputs: &Inputs) -> Vec<(&'static str, Option<Row>)> {
    vec![
        (DEPTH, depth_row(inputs, false)),
        (DEPTH_QUICK, depth_row(inputs, true)),
        (TABLE1, conv_row(inputs, "mnist")),
        (FASHION, conv_row(inputs, "fashion-mnist")),
        (PTB, ptb_row(inputs)),
        (CHAR, char_row(inputs)),
        (EXPORT, export_row(inputs)),
        (LESION, lesion_row(inputs)),
        (CIFAR, cifar_row(inputs)),
        (SPEED_MLP, speed_mlp_row(inputs)),
        (SPEED_CONV, speed_conv_row(inputs)),
        (SPEED_RHN, speed_row(inputs)),
    ]
}

/// The depth study's row: from the studies at the paper's breadth (every seed's mean of the
/// best 10, plain / highway, at the two deepest depths), else from the shorter random search.
fn breadth_row(inputs: &Inputs) -> Option<Row> {
    let (studies, _) = breadth_studies(inputs, "summary");
    let newest = studies.iter().max_by_key(|s| &s.provenance.date)?;
    let depths = &newest.result.config.depths;
    let deepest: Vec<usize> = depths.iter().rev().take(2).rev().copied().collect();
    let seeds: Vec<String> = studies
        .iter()
        .map(|s| s.result.config.seed.to_string())
        .collect();
    let mut parts = Vec::new();
    for depth in &deepest {
        let ratios: Vec<String> = studies
            .iter()
            .map(|s| {
                let ratio = s
                    .result
                    .ratios()
                    .into_iter()
                    .find(|(d, _, _)| d == depth)
                    .and_then(|(_, _, top)| top);
                ratio.map_or("-".into(), |r| format!("{r:.1}x"))
            })
            .collect();
        parts.push(format!("{depth} layers: **{}**", ratios.join(", ")));
    }
    Some(row(
        DEPTH,
        &format!(
            ", {} runs per cell, seed{} {}: mean of the best 10 training losses, plain / highway",
            newest.result.config.runs,
            if seeds.len() == 1 { "" } else { "s" },
            seeds.join(" and ")
        ),
        parts.join("; "),
        "plain nets fail at 50-100 layers, highway nets train",
        &newest.provenance,
    ))
}

fn depth_row(inputs: &Inputs, fixed: bool) -> Option<Row> {
    if !fixed && let Some(row) = breadth_row(inputs) {
        return Some(row);
    }
    let (study, _) = depth_study_for(inputs, fixed, "summary")?;
    let r = &study.result;
    let depth = r.config.depths.iter().copied().rev().find(|&d| {
        r.best_loss(LayerKind::Plain, d).is_some() && r.best_loss(LayerKind::Highway, d).is_some()
    })?;
    let (p, h) = (
        r.best_loss(LayerKind::Plain, depth)?,
        r.best_loss(LayerKind::Highway, depth)?,
    );
    let (key, what) = if fixed {
        (
            DEPTH_QUICK,
            " (`--preset quick`, as the README's first command)",
        )
    } else {
        (DEPTH, "")
    };
    Some(row(
        key,
        &format!("{what}, {depth} layers: best training loss, plain / highway"),
        format!("{p:.3e} / {h:.3e} ({:.1}x)", p / h),
        "plain nets fail at 50-100 layers, highway nets train",
        &study.provenance,
    ))
}

fn conv_row(inputs: &Inputs, dataset: &str) -> Option<Row> {
    let best = conv_runs(inputs, dataset)
        .into_iter()
        .max_by(|a, b| a.summary.test_accuracy.total_cmp(&b.summary.test_accuracy))?;
    let s = &best.summary;
    let (key, rest, here) = if dataset == "mnist" {
        (
            TABLE1,
            format!(", width {}, {} epochs", s.width, s.epochs),
            format!("**{}** test", percent(s.test_accuracy)),
        )
    } else {
        (
            FASHION,
            format!(", Table 1 net, width {}, {} epochs", s.width, s.epochs),
            format!("{} test", percent(s.test_accuracy)),
        )
    };
    Some(row(
        key,
        &rest,
        here,
        table1_paper(dataset, s.width),
        &best.provenance,
    ))
}

/// The newest fit of net A to the sample images.
fn cifar_row(inputs: &Inputs) -> Option<Row> {
    let run = inputs
        .cifar
        .iter()
        .filter(|r| {
            r.summary.dataset == "cifar10-samples" && r.summary.net == crate::cifar::NetChoice::A
        })
        .max_by(|a, b| a.provenance.date.cmp(&b.provenance.date))?;
    let here = match run.summary.first_iteration_at_100_percent {
        Some(step) => format!("100% training accuracy at step {step}"),
        None => format!("not all classified after {} steps", run.summary.iterations),
    };
    Some(row(
        CIFAR,
        &format!(
            ", {} real images (no full data set offline)",
            run.summary.train_images
        ),
        here,
        "—",
        &run.provenance,
    ))
}

fn lesion_row(inputs: &Inputs) -> Option<Row> {
    let (here, depth, p) = super::analysis::harmless_summary(inputs)?;
    Some(row(
        LESION,
        &format!(", {depth}-layer MNIST highway MLPs"),
        here,
        "layers ~15-45 hardly matter",
        p,
    ))
}

fn minutes(seconds: f64) -> String {
    format!("{:.0} min", seconds / 60.0)
}

/// The PTB row: the best RHN by test perplexity, and the best same-size LSTM and Kim et al.
/// model with as many minutes of training, each test perplexity after the RHN's; the date and
/// machine of every run shown.
fn ptb_row(inputs: &Inputs) -> Option<Row> {
    let training =
        |r: &&Run<PtbSummary>| minutes(training_seconds(&r.metrics, r.summary.wall_time_s));
    let best = |prefix: &str, within: Option<&str>| {
        inputs
            .ptb
            .iter()
            .filter(|r| r.summary.model.starts_with(prefix))
            .filter(|r| within.is_none_or(|m| training(r) == m))
            .min_by(|a, b| a.summary.test_ppl.total_cmp(&b.summary.test_ppl))
    };
    let rhn = best("rhn", None)?;
    let preset = rhn.summary.model.rsplit('-').next().unwrap_or("small");
    let time = training(&rhn);
    let kim_preset = language::kim_preset(&format!("kim-{preset}"));
    let peers = [
        (
            "LSTM",
            "same-size LSTM".to_string(),
            format!("lstm-{preset}"),
        ),
        (
            "Kim",
            format!("Kim et al. `{kim_preset}`"),
            format!("kim-{preset}"),
        ),
    ];
    let mut names = vec![format!("RHN `ptb_{preset}`")];
    let mut ppl = vec![format!("**{:.1}**", rhn.summary.test_ppl)];
    let mut runs = vec![("RHN", &rhn.provenance)];
    let mut paper = "65.4 (`ptb_sota`, days on a GPU)".to_string();
    for (label, name, prefix) in &peers {
        let Some(peer) = best(prefix.as_str(), Some(time.as_str())) else {
            continue;
        };
        names.push(name.clone());
        ppl.push(format!("{:.1}", peer.summary.test_ppl));
        runs.push((*label, &peer.provenance));
        if *label == "Kim"
            && let Some(figure) = language::kim_paper(&kim_preset)
        {
            paper.push_str(&format!("; {figure} (Kim et al. `{kim_preset}`)"));
        }
    }
    Some(row_of(
        PTB,
        &format!(", {time} of training: {}", names.join(" / ")),
        format!("test ppl {}", ppl.join(" / ")),
        &paper,
        &runs,
    ))
}

fn char_row(inputs: &Inputs) -> Option<Row> {
    let best = inputs
        .char
        .iter()
        .min_by(|a, b| a.summary.test_bpc.total_cmp(&b.summary.test_bpc))?;
    let s = &best.summary;
    let corpus = match s.corpus.as_str() {
        "wiki" | "wiki-text8" => "Wikipedia excerpt",
        other => other,
    };
    Some(row(
        CHAR,
        &format!(", char RHN, {corpus}, {}", minutes(s.wall_time_s)),
        format!("{:.2} test BPC", s.test_bpc),
        language::char_paper(&s.corpus),
        &best.provenance,
    ))
}

fn export_row(inputs: &Inputs) -> Option<Row> {
    let e = inputs.evals.first()?;
    let (rust, _) = rust_test(e)?;
    let p = e.eval.provenance.as_ref()?;
    let what = match e.export.as_ref().map(|x| &x.config) {
        Some(c) if e.eval.model == "DeepMlp" => format!(
            "{}-layer {} MLP",
            c.get("depth").and_then(|d| d.as_u64()).unwrap_or(0),
            c.get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_lowercase()
        ),
        _ => e.eval.model.clone(),
    };
    Some(row(
        EXPORT,
        &format!(": a trained {what}, exported and evaluated in PyTorch"),
        format!(
            "{} test accuracy in PyTorch, {} in Rust",
            percent(e.eval.accuracy),
            percent(rust)
        ),
        "—",
        p,
    ))
}

/// The MLP speed row: Burn's fast path over PyTorch in the newest `bench-highway` file that
/// timed both, and in every other file of the same commit (a range over the runs).
fn speed_mlp_row(inputs: &Inputs) -> Option<Row> {
    let rate = |b: &super::inputs::HighwayBench, prefix: &str| b.row(prefix).map(|r| r.steps_per_s);
    let runs: Vec<_> = inputs
        .bench_highway
        .iter()
        .filter_map(|b| {
            let fast = rate(b, "Mlp flex fast depth 50 width 71 ")?;
            let torch = rate(b, "PyTorch mlp depth 50 width 71 ")?;
            let ops = rate(b, "Mlp flex unfused depth 50 width 71 ");
            Some((b, fast / torch, ops.map(|u| u / torch)))
        })
        .collect();
    let same = of_newest_commit(runs, |r| &r.0.provenance);
    let newest = same
        .iter()
        .max_by(|a, b| a.0.provenance.date.cmp(&b.0.provenance.date))?
        .0;
    let times = |v: f64| format!("{v:.2}");
    let fast: Vec<f64> = same.iter().map(|r| r.1).collect();
    let ops: Vec<f64> = same.iter().filter_map(|r| r.2).collect();
    let over = if same.len() > 1 {
        format!(" over {} runs", same.len())
    } else {
        String::new()
    };
    let ops = if ops.is_empty() {
        String::new()
    } else {
        format!(" (Burn's own ops: {}×)", range(&ops, times))
    };
    Some(row(
        SPEED_MLP,
        ": 50-layer highway MLP step on the CPU fast path, Burn / PyTorch",
        format!("{}×{over}{ops}", range(&fast, times)),
        "—",
        &newest.provenance,
    ))
}

/// The conv speed row ([`super::speed_conv::summary_figures`]).
fn speed_conv_row(inputs: &Inputs) -> Option<Row> {
    let (text, provenance) = super::speed_conv::summary_figures(inputs)?;
    Some(row(
        SPEED_CONV,
        ": 9×32 conv highway stack step (batch 64) on the CPU fast path, Burn / PyTorch",
        text,
        "—",
        provenance,
    ))
}

fn speed_row(inputs: &Inputs) -> Option<Row> {
    let rows = super::speed_rhn::speed_rows(inputs);
    // The machine measured most recently, where several were.
    let newest_date =
        |r: &&super::speed_rhn::SpeedRow| r.provenance.iter().map(|p| p.date.clone()).max();
    let sota = rows
        .iter()
        .filter(|r| (r.key.0, r.key.1) == (10, 830) && !r.ratio.is_empty())
        .max_by_key(newest_date)?;
    let min = sota.ratio.iter().copied().fold(f64::INFINITY, f64::min);
    let max = sota.ratio.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (format!("{min:.2}"), format!("{max:.2}"));
    let ratio = if a == b { a } else { format!("{a}-{b}") };
    let newest = sota.provenance.iter().max_by_key(|p| &p.date)?;
    Some(row(
        SPEED_RHN,
        ": RHN `ptb_sota` tokens/s, Burn / PyTorch",
        format!("**{ratio}×**"),
        "—",
        newest,
    ))
}

/// The key of an existing row: the `[text](target)` its first cell starts with.
fn key_of(line: &str) -> Option<&str> {
    let first = line.trim().strip_prefix('|')?.split('|').next()?.trim();
    if !first.starts_with('[') {
        return None;
    }
    let close = first.find("](")?;
    let end = close + first[close..].find(')')?;
    Some(&first[..=end])
}

/// The summary table from `existing` (the section's current content) and `inputs`.
pub fn summary(existing: &str, inputs: &Inputs, name: &str) -> Outcome {
    let generated = rows(inputs);
    if generated.iter().all(|(_, r)| r.is_none()) {
        return Outcome::none(name);
    }
    let render = |r: &Row| format!("| {} |", r.cells.join(" | "));
    // Existing body rows (after the header and separator lines).
    let body: Vec<&str> = existing
        .lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .skip(2)
        .collect();
    let mut out: Vec<(Option<&str>, String)> = Vec::new();
    let mut kept = Vec::new();
    for line in body {
        let key = key_of(line);
        match generated.iter().find(|(k, _)| Some(*k) == key) {
            Some((_, Some(r))) => out.push((key, render(r))),
            Some((k, None)) => {
                kept.push(*k);
                out.push((key, line.trim_end().to_string()));
            }
            None => out.push((key, line.trim_end().to_string())),
        }
    }
    // Rows not in the table yet: after the row of the result before them.
    for (i, (key, r)) in generated.iter().enumerate() {
        let Some(r) = r else { continue };
        if out.iter().any(|(k, _)| *k == Some(*key)) {
            continue;
        }
        let at = generated[..i]
            .iter()
            .rev()
            .find_map(|(k, _)| out.iter().position(|(o, _)| *o == Some(*k)))
            .map_or(0, |p| p + 1);
        out.insert(at, (Some(key), render(r)));
    }
    let mut content = table(&HEADER, &[]);
    for (_, line) in &out {
        content.push_str(line);
        content.push('\n');
    }
    let notes = kept
        .iter()
        .map(|k| format!("{name}: row {k} kept as it is (no runs)"))
        .collect();
    Outcome::Generated { content, notes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_known_by_their_leading_link() {
        assert_eq!(
            key_of("| [Speed](docs/speed.md#highway-mlp): 50-layer | x |"),
            Some("[Speed](docs/speed.md#highway-mlp)")
        );
        assert_eq!(key_of("| plain | x |"), None);
    }

    #[test]
    fn the_mlp_speed_row_gives_the_range_over_the_newest_commits_runs() {
        use super::super::inputs::HighwayBench;
        let bench = |commit: &str, date: &str, fast: f64, ops: f64| {
            let mut provenance = Provenance::current();
            provenance.git_commit = commit.into();
            provenance.date = date.into();
            HighwayBench::of_rows(
                provenance,
                &[
                    ("Mlp flex fast depth 50 width 71 batch 128", fast),
                    ("Mlp flex unfused depth 50 width 71 batch 128", ops),
                    ("PyTorch mlp depth 50 width 71 batch 128 threads 2", 40.0),
                ],
            )
        };
        let inputs = Inputs {
            bench_highway: vec![
                bench("aaa", "2026-12-01T10:00:00Z", 80.0, 40.0),
                bench("bbb", "2026-12-01T12:00:00Z", 44.0, 36.0),
                bench("bbb", "2026-12-01T12:05:00Z", 60.0, 48.0),
            ],
            ..Inputs::default()
        };
        let row = speed_mlp_row(&inputs).expect("a row");
        assert_eq!(
            row.cells[1],
            "1.10-1.50× over 2 runs (Burn's own ops: 0.90-1.20×)"
        );
        let one = Inputs {
            bench_highway: vec![bench("aaa", "2026-12-01T10:00:00Z", 80.0, 40.0)],
            ..Inputs::default()
        };
        assert_eq!(
            speed_mlp_row(&one).expect("a row").cells[1],
            "2.00× (Burn's own ops: 1.00×)"
        );
    }

    #[test]
    fn without_inputs_the_summary_is_not_regenerated_and_rows_are_kept_in_place() {
        let existing = "| a | b |\n|---|---|\n| [X](y) | 1 |\n";
        assert!(matches!(
            summary(existing, &Inputs::default(), "summary"),
            Outcome::NotRegenerated(_)
        ));
    }
}
