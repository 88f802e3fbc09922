//! `speed-rhn`: the language models' training-step tokens/s of the `bench-rhn` files, beside
//! the PyTorch peer where it ran (the RHN presets; the character-aware presets have none).

use models::RhnLmConfig;

use super::Outcome;
use super::columns::Table;
use super::inputs::Inputs;
use super::tables::{code, distinct, median_range, range, thousands, when};
use crate::provenance::Provenance;

/// The model of a bench-rhn row: `` `ptb_sota` (depth 10, 830 units) ``.
pub(super) fn bench_model(depth: usize, hidden: usize) -> String {
    let presets = [
        ("ptb_sota", RhnLmConfig::ptb_sota()),
        ("ptb_small", RhnLmConfig::ptb_small()),
    ];
    let units = format!("depth {depth}, {hidden} units");
    match presets
        .iter()
        .find(|(_, c)| c.depth == depth && c.d_hidden == hidden)
    {
        Some((name, _)) => format!("`{name}` ({units})"),
        None => units,
    }
}

/// One configuration's figures over the `bench-rhn` files.
pub struct SpeedRow<'a> {
    /// `(depth, hidden, batch, seq_len)` (depth 0 for a model other than an RHN).
    pub key: (usize, usize, usize, usize),
    /// The machine as tables show it ([`Provenance::machine_short`]): runs on machines with
    /// other cores or other vector kernels are rows of their own.
    pub machine: String,
    /// The preset of a model other than an RHN (`kim_large`).
    pub model: Option<String>,
    /// Parameters.
    pub parameters: usize,
    /// Burn's tokens/s, one per file.
    pub burn: Vec<f64>,
    /// The PyTorch peer's tokens/s, per file that has it.
    pub peer: Vec<f64>,
    /// Burn / PyTorch, per file that has both.
    pub ratio: Vec<f64>,
    /// The files' provenance.
    pub provenance: Vec<&'a Provenance>,
}

/// The figures of each configuration in the `bench-rhn` files timed on the CPU (those timed
/// on a GPU are `speed-gpu`'s), largest model first.
pub fn speed_rows(inputs: &Inputs) -> Vec<SpeedRow<'_>> {
    let mut out: Vec<SpeedRow> = Vec::new();
    let on_the_cpu = inputs
        .bench_rhn
        .iter()
        .filter(|b| b.provenance.machine.gpu.is_none());
    for bench in on_the_cpu {
        for row in bench.rows.iter().filter(|r| r.implementation == "burn") {
            let key = (row.depth, row.hidden, row.batch, row.seq_len);
            let machine = bench.provenance.machine_short();
            let model = row.model.clone();
            let peer = bench.rows.iter().find(|r| {
                r.implementation == "pytorch" && (r.depth, r.hidden, r.batch, r.seq_len) == key
            });
            let i = match out
                .iter()
                .position(|o| o.key == key && o.machine == machine)
            {
                Some(i) => i,
                None => {
                    out.push(SpeedRow {
                        key,
                        machine,
                        model,
                        parameters: row.parameters,
                        burn: vec![],
                        peer: vec![],
                        ratio: vec![],
                        provenance: vec![],
                    });
                    out.len() - 1
                }
            };
            let entry = &mut out[i];
            entry.burn.push(row.tokens_per_s);
            if let Some(peer) = peer {
                entry.peer.push(peer.tokens_per_s);
                entry.ratio.push(row.tokens_per_s / peer.tokens_per_s);
            }
            entry.provenance.push(&bench.provenance);
        }
    }
    out.sort_by(|a, b| {
        b.parameters
            .cmp(&a.parameters)
            .then_with(|| a.machine.cmp(&b.machine))
    });
    out
}

/// `speed-rhn`: `bench-rhn` tokens/s beside the PyTorch peer, ranges over the bench files.
pub fn speed_rhn_table(inputs: &Inputs, name: &str) -> Outcome {
    let rows = speed_rows(inputs);
    if rows.is_empty() {
        return Outcome::none(name);
    }
    let backends = distinct(
        inputs
            .bench_rhn
            .iter()
            .map(|b| b.provenance.backend.clone()),
    );
    let tokens = |v: f64| thousands(v.round() as usize);
    let or_dash = |v: &[f64], f: &dyn Fn(f64) -> String| {
        if v.is_empty() {
            "—".to_string()
        } else {
            range(v, f)
        }
    };
    let burn_header = format!("Burn `{backends}` tokens/s");
    let table = Table::new()
        .col("model", |r: &SpeedRow| {
            let (depth, hidden, _, _) = r.key;
            match &r.model {
                Some(name) => format!("Kim et al. `{name}` (LSTM {hidden} units)"),
                None => bench_model(depth, hidden),
            }
        })
        .col("parameters", |r| thousands(r.parameters))
        .col("batch × steps", |r| format!("{} × {}", r.key.2, r.key.3))
        .col(&burn_header, move |r| range(&r.burn, tokens))
        .col("PyTorch tokens/s", move |r| or_dash(&r.peer, &tokens))
        .col("Burn / PyTorch, median (range)", move |r| {
            if r.ratio.is_empty() {
                "—".to_string()
            } else {
                median_range(&r.ratio, |x| format!("{x:.2}"))
            }
        })
        .col("runs", |r| r.burn.len().to_string())
        .col("command", |r| {
            distinct(r.provenance.iter().map(|p| code(&p.command())))
        })
        .col("date, commit", |r| {
            distinct(r.provenance.iter().map(|p| when(p)))
        })
        .col("machine", |r| r.machine.clone());
    let files = distinct(
        inputs
            .bench_rhn
            .iter()
            .map(|b| code(&b.file.display().to_string())),
    );
    let content = format!(
        "{}\nRanges over the bench files: {files}.\n",
        table.render(&rows)
    );
    Outcome::generated(content)
}
