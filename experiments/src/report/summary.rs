//! `summary`: the README's headline table, one row per result, each linking into the docs,
//! built from the same inputs as the full tables. A row is known by the link its first cell
//! starts with (`[MNIST depth study](docs/results.md#mnist-depth-study)`): a row with inputs is
//! generated, a row without them is kept as it is, and a generated row the table does not have
//! yet goes after the row of the result before it.

use super::Outcome;
use super::columns::{header, of_newest_commit, percent, range, span, two};
use super::inputs::{Inputs, PtbSummary, Run};
use super::language::{self, training_seconds};
use super::tables::{
    CIFAR_SAMPLES, breadth_studies, depth_study_for, rust_test, table1_paper, times,
};
use crate::mnist_conv::ConvSummary;
use crate::provenance::Provenance;
use models::LayerKind;

/// The table's columns.
const HEADER: [&str; 5] = [
    "result",
    "here",
    "paper",
    "date, commit",
    "build, threads, machine",
];

/// The paper's finding the depth study's rows reproduce.
const DEPTH_PAPER: &str = "plain nets fail at 50-100 layers, highway nets train";

/// A generated row: its first cell after the result's link, the figures here and the paper's,
/// and the runs they come from, labelled where there are several (`RHN`, `Kim`).
struct Row<'a> {
    rest: String,
    here: String,
    paper: String,
    runs: Vec<(&'a str, &'a Provenance)>,
}

/// A row of one run.
fn row<'a>(rest: impl Into<String>, here: String, paper: &str, run: &'a Provenance) -> Row<'a> {
    let (rest, paper) = (rest.into(), paper.to_string());
    Row {
        rest,
        here,
        paper,
        runs: vec![("", run)],
    }
}

/// The last two cells of a generated row: date and commit; build, threads and machine (for a
/// Python script: its backend and machine).
fn provenance_cells(p: &Provenance) -> [String; 2] {
    let how = if p.program.ends_with(".py") {
        p.backend.clone()
    } else {
        let threads = p.env.get("RAYON_NUM_THREADS").cloned();
        let threads = threads.unwrap_or_else(|| p.machine.logical_cores.to_string());
        format!("{}, {threads}", p.build)
    };
    [
        format!("{}, {}", p.day(), p.short_commit()),
        format!("{how}; {}", p.machine_short()),
    ]
}

impl Row<'_> {
    /// The row's line after the result's link `key`. The provenance cells give each distinct
    /// value once, followed by the labels of its runs where the runs differ
    /// (`2026-12-01, abcdef1 (RHN, LSTM); 2026-12-02, 7654321 (Kim)`).
    fn render(&self, key: &str) -> String {
        let cells: Vec<[String; 2]> = self.runs.iter().map(|(_, p)| provenance_cells(p)).collect();
        let [when, how]: [String; 2] = std::array::from_fn(|i| {
            let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
            for ((label, _), c) in self.runs.iter().zip(&cells) {
                match groups.iter_mut().find(|(value, _)| *value == c[i]) {
                    Some((_, labels)) => labels.push(*label),
                    None => groups.push((c[i].as_str(), vec![*label])),
                }
            }
            if groups.len() == 1 {
                return groups[0].0.to_string();
            }
            let labelled = groups
                .iter()
                .map(|(value, labels)| format!("{value} ({})", labels.join(", ")));
            labelled.collect::<Vec<_>>().join("; ")
        });
        let (rest, here, paper) = (&self.rest, &self.here, &self.paper);
        format!("| {key}{rest} | {here} | {paper} | {when} | {how} |")
    }
}

const DEPTH: &str = "[MNIST depth study](docs/results.md#mnist-depth-study)";
const DEPTH_QUICK: &str = "[MNIST depth study, quick](docs/results.md#mnist-depth-study)";
const TABLE1: &str =
    "[MNIST conv net, Table 1](docs/results.md#mnist-conv-net-table-1-and-fashion-mnist)";
const FASHION: &str = "[Fashion-MNIST](docs/results.md#mnist-conv-net-table-1-and-fashion-mnist)";
const PTB: &str = "[Penn Treebank](docs/results.md#penn-treebank)";
const CHAR: &str = "[Character level](docs/results.md#character-level)";
const EXPORT: &str = "[Weights in PyTorch](docs/results.md#weights-in-pytorch)";
const LESION: &str = "[Lesioning](docs/results.md#gate-analysis-and-lesioning)";
const CIFAR: &str = "[CIFAR-10, net A](docs/results.md#cifar-10100-tables-2-and-3)";
const SPEED_MLP: &str = "[Speed](docs/speed.md#highway-mlp)";
const SPEED_CONV: &str = "[Speed](docs/speed.md#the-cpu-fast-path)";
const SPEED_RHN: &str = "[Speed](docs/speed.md#rhn-language-model)";

/// The rows in the order they appear, each by the link it starts with, `None` without inputs.
fn rows(inputs: &Inputs) -> Vec<(&'static str, Option<Row<'_>>)> {
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
        (SPEED_RHN, speed_rhn_row(inputs)),
    ]
}

/// The depth study's row: from the studies at the paper's breadth (every seed's mean of the
/// best 10, plain / highway, at the two deepest depths), else from the shorter random search.
fn breadth_row(inputs: &Inputs) -> Option<Row<'_>> {
    let (studies, _) = breadth_studies(inputs, "summary");
    let newest = studies.iter().max_by_key(|s| &s.provenance.date)?;
    let config = &newest.result.config;
    let seeds: Vec<String> = studies
        .iter()
        .map(|s| s.result.config.seed.to_string())
        .collect();
    let deepest = config.depths.iter().rev().take(2).rev();
    let parts: Vec<String> = deepest
        .map(|depth| {
            let ratios: Vec<String> = studies
                .iter()
                .map(|s| {
                    let ratio = s.result.ratios().into_iter().find(|(d, _, _)| d == depth);
                    times(ratio.and_then(|(_, _, top)| top))
                })
                .collect();
            format!("{depth} layers: **{}**", ratios.join(", "))
        })
        .collect();
    let rest = format!(
        ", {} runs per cell, seed{} {}: mean of the best 10 training losses, plain / highway",
        config.runs,
        if seeds.len() == 1 { "" } else { "s" },
        seeds.join(" and ")
    );
    Some(row(rest, parts.join("; "), DEPTH_PAPER, &newest.provenance))
}

/// The depth study's row (`fixed`: the quick study's): the deepest depth where both types
/// have a best run.
fn depth_row(inputs: &Inputs, fixed: bool) -> Option<Row<'_>> {
    if !fixed && let Some(row) = breadth_row(inputs) {
        return Some(row);
    }
    let (study, _) = depth_study_for(inputs, fixed, "summary")?;
    let r = &study.result;
    let best = |d| {
        Some((
            r.best_loss(LayerKind::Plain, d)?,
            r.best_loss(LayerKind::Highway, d)?,
        ))
    };
    let mut depths = r.config.depths.iter().rev();
    let (depth, (p, h)) = depths.find_map(|&d| Some((d, best(d)?)))?;
    let what = match fixed {
        true => " (`--preset quick`, as the README's first command)",
        false => "",
    };
    Some(row(
        format!("{what}, {depth} layers: best training loss, plain / highway"),
        format!("{p:.3e} / {h:.3e} ({:.1}x)", p / h),
        DEPTH_PAPER,
        &study.provenance,
    ))
}

/// The best `mnist-conv` run on `dataset` by test accuracy (the last of equals by width,
/// epochs and date).
fn conv_row<'a>(inputs: &'a Inputs, dataset: &str) -> Option<Row<'a>> {
    let key = |r: &Run<ConvSummary>| (r.summary.width, r.summary.epochs, r.provenance.date.clone());
    let runs = inputs.conv.iter().filter(|r| r.summary.dataset == dataset);
    let best = runs.max_by(|a, b| {
        let by_accuracy = a.summary.test_accuracy.total_cmp(&b.summary.test_accuracy);
        by_accuracy.then_with(|| key(a).cmp(&key(b)))
    })?;
    let s = &best.summary;
    let test = percent(s.test_accuracy);
    let (net, here) = match dataset {
        "mnist" => ("", format!("**{test}** test")),
        _ => (", Table 1 net", format!("{test} test")),
    };
    Some(row(
        format!("{net}, width {}, {} epochs", s.width, s.epochs),
        here,
        table1_paper(dataset, s.width),
        &best.provenance,
    ))
}

/// The newest fit of net A to the sample images.
fn cifar_row(inputs: &Inputs) -> Option<Row<'_>> {
    let net_a = |r: &&Run<crate::cifar::CifarSummary>| {
        r.summary.dataset == CIFAR_SAMPLES && r.summary.net == crate::cifar::NetChoice::A
    };
    let run = inputs
        .cifar
        .iter()
        .filter(net_a)
        .max_by(|a, b| a.provenance.date.cmp(&b.provenance.date))?;
    let s = &run.summary;
    let here = match s.first_iteration_at_100_percent {
        Some(step) => format!("100% training accuracy at step {step}"),
        None => format!("not all classified after {} steps", s.iterations),
    };
    let rest = format!(
        ", {} real images (no full data set offline)",
        s.train_images
    );
    Some(row(rest, here, "—", &run.provenance))
}

fn lesion_row(inputs: &Inputs) -> Option<Row<'_>> {
    let (here, depth, p) = super::analysis::harmless_summary(inputs)?;
    let rest = format!(", {depth}-layer MNIST highway MLPs");
    Some(row(rest, here, "layers ~15-45 hardly matter", p))
}

fn minutes(seconds: f64) -> String {
    format!("{:.0} min", seconds / 60.0)
}

/// The PTB row: the best RHN by test perplexity, and the best same-size LSTM and Kim et al.
/// model with as many minutes of training, each test perplexity after the RHN's; the date and
/// machine of every run shown.
fn ptb_row(inputs: &Inputs) -> Option<Row<'_>> {
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
        ("LSTM", "same-size LSTM".to_string(), "lstm"),
        ("Kim", format!("Kim et al. `{kim_preset}`"), "kim"),
    ];
    let mut names = vec![format!("RHN `ptb_{preset}`")];
    let mut ppl = vec![format!("**{:.1}**", rhn.summary.test_ppl)];
    let mut runs = vec![("RHN", &rhn.provenance)];
    let mut paper = "65.4 (`ptb_sota`, days on a GPU)".to_string();
    for (label, name, model) in peers {
        let Some(peer) = best(&format!("{model}-{preset}"), Some(time.as_str())) else {
            continue;
        };
        names.push(name);
        ppl.push(format!("{:.1}", peer.summary.test_ppl));
        runs.push((label, &peer.provenance));
        if label == "Kim"
            && let Some(figure) = language::kim_paper(&kim_preset)
        {
            paper.push_str(&format!("; {figure} (Kim et al. `{kim_preset}`)"));
        }
    }
    Some(Row {
        rest: format!(", {time} of training: {}", names.join(" / ")),
        here: format!("test ppl {}", ppl.join(" / ")),
        paper,
        runs,
    })
}

fn char_row(inputs: &Inputs) -> Option<Row<'_>> {
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
        format!(", char RHN, {corpus}, {}", minutes(s.wall_time_s)),
        format!("{:.2} test BPC", s.test_bpc),
        language::char_paper(&s.corpus),
        &best.provenance,
    ))
}

fn export_row(inputs: &Inputs) -> Option<Row<'_>> {
    let e = inputs.evals.first()?;
    let (rust, _) = rust_test(e)?;
    let what = match e.export.as_ref().map(|x| &x.config) {
        Some(c) if e.eval.model == "DeepMlp" => {
            let depth = c.get("depth").and_then(|d| d.as_u64()).unwrap_or(0);
            let kind = c.get("kind").and_then(|k| k.as_str()).unwrap_or("");
            format!("{depth}-layer {} MLP", kind.to_lowercase())
        }
        _ => e.eval.model.clone(),
    };
    let (torch, rust) = (percent(e.eval.accuracy), percent(rust));
    Some(row(
        format!(": a trained {what}, exported and evaluated in PyTorch"),
        format!("{torch} test accuracy in PyTorch, {rust} in Rust"),
        "—",
        e.eval.provenance.as_ref()?,
    ))
}

/// The MLP speed row: Burn's fast path over PyTorch in the newest `bench-highway` file that
/// timed both, and in every other file of the same commit (a range over the runs).
fn speed_mlp_row(inputs: &Inputs) -> Option<Row<'_>> {
    let runs: Vec<_> = inputs
        .bench_highway
        .iter()
        .filter_map(|b| {
            let rate = |prefix: &str| Some(b.row(prefix)?.steps_per_s);
            let fast = rate("Mlp flex fast depth 50 width 71 ")?;
            let torch = rate("PyTorch mlp depth 50 width 71 ")?;
            let ops = rate("Mlp flex unfused depth 50 width 71 ");
            Some((b, fast / torch, ops.map(|u| u / torch)))
        })
        .collect();
    let same = of_newest_commit(runs, |r| &r.0.provenance);
    let newest = same
        .iter()
        .map(|r| r.0)
        .max_by_key(|b| &b.provenance.date)?;
    let fast: Vec<f64> = same.iter().map(|r| r.1).collect();
    let ops: Vec<f64> = same.iter().filter_map(|r| r.2).collect();
    let over = match same.len() {
        1 => String::new(),
        n => format!(" over {n} runs"),
    };
    let ops = match ops.is_empty() {
        true => String::new(),
        false => format!(" (Burn's own ops: {})", span(&ops, two, "×")),
    };
    Some(row(
        ": 50-layer highway MLP step on the CPU fast path, Burn / PyTorch",
        format!("{}×{over}{ops}", range(&fast, two)),
        "—",
        &newest.provenance,
    ))
}

/// The conv speed row ([`super::speed::summary_figures`]).
fn speed_conv_row(inputs: &Inputs) -> Option<Row<'_>> {
    let (text, provenance) = super::speed::summary_figures(inputs)?;
    Some(row(
        ": 9×32 conv highway stack step (batch 64) on the CPU fast path, Burn / PyTorch",
        text,
        "—",
        provenance,
    ))
}

/// The RHN speed row: `ptb_sota`'s Burn / PyTorch range on the machine measured most recently,
/// where several were.
fn speed_rhn_row(inputs: &Inputs) -> Option<Row<'_>> {
    let rows = super::speed::speed_rows(inputs);
    let sota = rows
        .iter()
        .filter(|r| (r.key.0, r.key.1) == (10, 830) && !r.ratio.is_empty())
        .max_by_key(|r| r.provenance.iter().map(|p| p.date.clone()).max())?;
    let ratio = range(&sota.ratio, two);
    let newest = sota.provenance.iter().copied().max_by_key(|p| &p.date)?;
    Some(row(
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
    // Existing body rows (after the header and separator lines).
    let body = existing
        .lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .skip(2);
    let mut out: Vec<(Option<&str>, String)> = Vec::new();
    let mut kept = Vec::new();
    for line in body {
        let key = key_of(line);
        match generated.iter().find(|(k, _)| Some(*k) == key) {
            Some((k, Some(r))) => out.push((key, r.render(k))),
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
        out.insert(at, (Some(key), r.render(key)));
    }
    let mut content = header(&HEADER);
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
}
