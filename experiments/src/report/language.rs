//! The language models' tables: `ptb` (Penn Treebank: the RHN, the same-size LSTM and the
//! character-aware model of Kim et al. 2016) and `char` (character-level RHNs), with the names
//! of their models and the papers' figures that the README summary shares.

use models::RhnLmConfig;
use serde_json::Value;

use super::Outcome;
use super::columns::{duration, per_epoch, run_table, thousands, throughput};
use super::inputs::{CharSummary, Inputs, PtbSummary, Run};
use crate::analysis::ranges;

/// The PTB test perplexities of Kim et al.'s Table 3 for the presets, as
/// [`CharCnnLmConfig::kim_small`](models::CharCnnLmConfig::kim_small) and
/// [`kim_large`](models::CharCnnLmConfig::kim_large) state them.
const KIM_PAPER: &[(&str, &str)] = &[("kim_small", "92.3"), ("kim_large", "78.9")];

/// Seconds of training steps over a run's epochs (evaluation excluded), or its wall time if
/// its metrics have none.
pub fn training_seconds(metrics: &[models::train::EpochMetrics], wall_time_s: f64) -> f64 {
    let seconds: f64 = metrics.iter().map(|m| m.train_seconds).sum();
    if seconds > 0.0 { seconds } else { wall_time_s }
}

/// A number of a `config.json` `model` entry (0 if it has none).
fn number(model: &Value, key: &str) -> u64 {
    model.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// An RHN's size from its `config.json` `model` entry, after the name of the preset of
/// `presets` it equals in size, if any: `` `ptb_small` (depth 4, 256 units) ``.
fn rhn_size(model: &Value, presets: &[(&str, RhnLmConfig)]) -> String {
    let (depth, hidden) = (number(model, "depth"), number(model, "d_hidden"));
    let units = format!("(depth {depth}, {hidden} units)");
    let size = |c: &RhnLmConfig| (c.depth as u64, c.d_hidden as u64);
    match presets.iter().find(|(_, c)| size(c) == (depth, hidden)) {
        Some((name, _)) => format!("`{name}` {units}"),
        None => units,
    }
}

/// The preset of a Kim et al. model from its `ptb` summary's model name: `kim-small` →
/// `kim_small`.
pub fn kim_preset(model: &str) -> String {
    model.replace('-', "_")
}

/// The paper's PTB test perplexity for the Kim et al. preset `preset` (`kim_small`), if it is
/// one of the paper's.
pub fn kim_paper(preset: &str) -> Option<&'static str> {
    let figure = KIM_PAPER.iter().find(|(p, _)| *p == preset);
    figure.map(|(_, ppl)| *ppl)
}

/// A Kim et al. model from its summary's model name and the `model` entry of its
/// `config.json` (a [`CharCnnLmConfig`](models::CharCnnLmConfig)'s `kernel_widths`,
/// `highway_layers`, `lstm_layers` and `d_hidden`): `Kim et al. `kim_small` (char CNN widths
/// 1-6, 1 highway layer, 2×300 LSTM)`.
fn kim_model(name: &str, model: &Value) -> String {
    let preset = format!("Kim et al. `{}`", kim_preset(name));
    let Some(widths) = model.get("kernel_widths").and_then(Value::as_array) else {
        return preset;
    };
    let widths: Vec<usize> = widths
        .iter()
        .filter_map(Value::as_u64)
        .map(|w| w as usize)
        .collect();
    let highway = number(model, "highway_layers");
    format!(
        "{preset} (char CNN widths {}, {highway} highway layer{}, {}×{} LSTM)",
        ranges(&widths),
        if highway == 1 { "" } else { "s" },
        number(model, "lstm_layers"),
        number(model, "d_hidden")
    )
}

/// A `ptb` run's model: `RHN `ptb_small` (depth 4, 256 units)`, `LSTM, as large as `ptb_small`
/// (1 layer, 265 units)`, `Kim et al. `kim_small` (char CNN widths 1-6, 1 highway layer, 2×300
/// LSTM)`. A Kim et al. model is known by its summary's model name (`kim-small`) or by the
/// `kernel_widths` of its config, before the RHN and the LSTM are told apart.
pub fn ptb_model(run: &Run<PtbSummary>) -> String {
    let (name, model) = (&run.summary.model, &run.config["model"]);
    if name.starts_with("kim") || model.get("kernel_widths").is_some() {
        return kim_model(name, model);
    }
    if !name.starts_with("rhn") {
        let size = name.rsplit('-').next().unwrap_or("");
        let hidden = number(model, "d_hidden");
        return format!("LSTM, as large as `ptb_{size}` (1 layer, {hidden} units)");
    }
    if model.get("depth").is_none() {
        return format!("RHN (`{name}`)");
    }
    let presets = [
        ("ptb_small", RhnLmConfig::ptb_small()),
        ("ptb_sota", RhnLmConfig::ptb_sota()),
    ];
    format!("RHN {}", rhn_size(model, &presets))
}

/// `ptb`: the Penn Treebank runs.
pub fn ptb_table(inputs: &Inputs, name: &str) -> Outcome {
    let ppl = |x: f64| format!("{x:.1}");
    run_table(
        name,
        &inputs.ptb,
        |r| (r.summary.model.clone(), r.provenance.date.clone()),
        |t| {
            t.col("model", ptb_model)
                .col("parameters", |r| thousands(r.summary.parameters))
                .col("training (evaluation excluded)", |r| {
                    duration(training_seconds(&r.metrics, r.summary.wall_time_s))
                })
                .col("epochs", |r| r.summary.epochs.to_string())
                .col("training tokens/s", |r| throughput(&r.metrics))
                .col("valid ppl after each epoch", |r| {
                    per_epoch(&r.metrics, 1, |m| Some(m.evals.first()?.loss.exp()))
                })
                .col("valid ppl", move |r| ppl(r.summary.valid_ppl))
                .col("test ppl", move |r| ppl(r.summary.test_ppl))
        },
    )
}

/// A `charlm` corpus as the tables name it.
pub fn corpus_name(corpus: &str, vocab: usize) -> String {
    match corpus {
        "wiki" => format!("Wikipedia excerpt (gensim), {vocab} symbols"),
        "wiki-text8" => format!("Wikipedia excerpt, a-z and space, {vocab} symbols"),
        "file" => format!("a text file, {vocab} symbols"),
        other => other.to_string(),
    }
}

/// A `charlm` run's model: `char RHN `small` (depth 4, 256 units)`.
pub fn char_model(run: &Run<CharSummary>) -> String {
    let presets = [
        ("small", RhnLmConfig::char_small()),
        ("sota", RhnLmConfig::enwik8_sota()),
    ];
    format!("char RHN {}", rhn_size(&run.config["model"], &presets))
}

/// The RHN paper's figure for a `charlm` corpus.
pub fn char_paper(corpus: &str) -> &'static str {
    match corpus {
        "text8" | "wiki-text8" => "1.27 (text8)",
        _ => "1.27 (enwik8)",
    }
}

/// `char`: the character-level runs.
pub fn char_table(inputs: &Inputs, name: &str) -> Outcome {
    run_table(
        name,
        &inputs.char,
        |r| (r.summary.corpus.clone(), r.provenance.date.clone()),
        |t| {
            t.col("model", char_model)
                .col("parameters", |r| thousands(r.summary.parameters))
                .col("corpus", |r| {
                    corpus_name(&r.summary.corpus, r.summary.vocab)
                })
                .col("training", |r| duration(r.summary.wall_time_s))
                .col("epochs", |r| r.summary.epochs.to_string())
                .col("valid BPC", |r| format!("{:.2}", r.summary.valid_bpc))
                .col("test BPC", |r| format!("{:.2}", r.summary.test_bpc))
                .col("paper", |r| char_paper(&r.summary.corpus).to_string())
        },
    )
}
