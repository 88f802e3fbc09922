//! The generated tables of `docs/speed.md`, from the bench files:
//! - `speed-rhn`: the language models' training-step tokens/s of the `bench-rhn` files, beside
//!   the PyTorch peer where it ran (the RHN presets; the character-aware presets have none),
//!   ranges over the files of each commit and machine;
//! - `speed-conv`: the conv workloads of the `bench-highway --json` files, the CPU fast path
//!   beside Burn's `conv2d` and the PyTorch peer, with the fast path's GFLOP/s against the 2048³
//!   product the same run timed. Each workload's figures are ranges over the files of the
//!   newest commit that timed it; every ratio is taken within one file (one run);
//! - `speed-gpu`: the bench files timed on a GPU (`scripts/gpu-check.sh`: `bench-rhn` and
//!   `bench-highway` on `cuda` and `wgpu`, the PyTorch peer on CUDA in the same run), one row
//!   per workload, backend and file. The files are known by their provenance's
//!   [`Machine::gpu`](crate::provenance::Machine::gpu); `speed-rhn` and the README summary
//!   leave them out.

use models::RhnLmConfig;

use super::Outcome;
use super::columns::{
    Table, code, distinct, median_range, of_newest_commit, path_code, range, sorted, span,
    thousands, two, when,
};
use super::inputs::{HighwayBench, HighwayBenchRow, Inputs};
use crate::provenance::Provenance;

/// The model of a bench-rhn row: `` `ptb_sota` (depth 10, 830 units) ``.
fn bench_model(depth: usize, hidden: usize) -> String {
    let presets = [
        ("ptb_sota", RhnLmConfig::ptb_sota()),
        ("ptb_small", RhnLmConfig::ptb_small()),
    ];
    let units = format!("depth {depth}, {hidden} units");
    let preset = presets
        .iter()
        .find(|(_, c)| c.depth == depth && c.d_hidden == hidden);
    preset.map_or(units.clone(), |(name, _)| format!("`{name}` ({units})"))
}

/// One configuration's figures over the `bench-rhn` files.
#[derive(Default)]
pub struct SpeedRow<'a> {
    /// `(depth, hidden, batch, seq_len)` (depth 0 for a model other than an RHN).
    pub key: (usize, usize, usize, usize),
    /// The machine as tables show it ([`Provenance::machine_short`]): runs on machines with
    /// other cores or other vector kernels are rows of their own.
    pub machine: String,
    /// The commit as tables show it ([`Provenance::short_commit`]): the runs of each commit
    /// are a row of their own, so that a median is of one build.
    pub commit: String,
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
    /// Burn's GFLOP/s, per file that counts the step's arithmetic.
    pub gflops: Vec<f64>,
    /// Burn's GFLOP/s over the PyTorch peer's 2048³ product rate in the same run, per file that
    /// has both (`bench-rhn --matmul --peer`).
    pub of_peer_matmul: Vec<f64>,
    /// The files' provenance.
    pub provenance: Vec<&'a Provenance>,
}

/// The figures of each configuration, machine and commit in the `bench-rhn` files timed on the
/// CPU (those timed on a GPU are `speed-gpu`'s), largest model first, then by machine, the
/// newest commit first.
pub fn speed_rows(inputs: &Inputs) -> Vec<SpeedRow<'_>> {
    let mut out: Vec<SpeedRow> = Vec::new();
    let on_the_cpu = inputs
        .bench_rhn
        .iter()
        .filter(|b| b.provenance.machine.gpu.is_none());
    for bench in on_the_cpu {
        for (row, peer) in bench.with_peers() {
            let key = (row.depth, row.hidden, row.batch, row.seq_len);
            let machine = bench.provenance.machine_short();
            let commit = bench.provenance.short_commit();
            let at = out
                .iter()
                .position(|o| o.key == key && o.machine == machine && o.commit == commit);
            let i = at.unwrap_or_else(|| {
                out.push(SpeedRow {
                    key,
                    machine,
                    commit,
                    model: row.model.clone(),
                    parameters: row.parameters,
                    ..SpeedRow::default()
                });
                out.len() - 1
            });
            let entry = &mut out[i];
            entry.burn.push(row.tokens_per_s);
            let tokens = (row.batch * row.seq_len) as f64;
            if let Some(gflops) = row.gflop_per_step.map(|g| g * row.tokens_per_s / tokens) {
                entry.gflops.push(gflops);
                let peer_matmul = bench.matmul.as_ref().and_then(|m| m.pytorch);
                entry.of_peer_matmul.extend(peer_matmul.map(|m| gflops / m));
            }
            if let Some(peer) = peer {
                entry.peer.push(peer.tokens_per_s);
                entry.ratio.push(row.tokens_per_s / peer.tokens_per_s);
            }
            entry.provenance.push(&bench.provenance);
        }
    }
    let newest = |r: &SpeedRow| r.provenance.iter().map(|p| p.date.clone()).max();
    out.sort_by(|a, b| {
        let by_size = b.parameters.cmp(&a.parameters);
        let by_machine = by_size.then_with(|| a.machine.cmp(&b.machine));
        by_machine.then_with(|| newest(b).cmp(&newest(a)))
    });
    out
}

/// `speed-rhn`: `bench-rhn` tokens/s beside the PyTorch peer, ranges over the bench files of
/// each commit.
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
    let table = Table::new()
        .col("model", |r: &SpeedRow| match &r.model {
            Some(name) => format!("Kim et al. `{name}` (LSTM {} units)", r.key.1),
            None => bench_model(r.key.0, r.key.1),
        })
        .col("parameters", |r| thousands(r.parameters))
        .col("batch × steps", |r| format!("{} × {}", r.key.2, r.key.3))
        .col(format!("Burn `{backends}` tokens/s"), move |r| {
            range(&r.burn, tokens)
        })
        .col("PyTorch tokens/s", move |r| span(&r.peer, tokens, ""))
        .col("Burn / PyTorch, median (range)", |r| {
            match r.ratio.is_empty() {
                true => "—".to_string(),
                false => median_range(&r.ratio, two),
            }
        })
        .col("Burn GFLOP/s", |r| {
            span(&r.gflops, |v| format!("{v:.0}"), "")
        })
        .col(
            "of PyTorch's 2048³ product in the same run, median (range)",
            |r| match r.of_peer_matmul.is_empty() {
                true => "—".to_string(),
                false => median_range(&r.of_peer_matmul, |v| format!("{:.0}%", 100.0 * v)),
            },
        )
        .col("runs", |r| r.burn.len().to_string())
        .col("command", |r| {
            distinct(r.provenance.iter().map(|p| code(&p.command())))
        })
        .col("date, commit", |r| {
            distinct(r.provenance.iter().map(|p| when(p)))
        })
        .col("machine", |r| r.machine.clone());
    let files = distinct(inputs.bench_rhn.iter().map(|b| path_code(&b.file)));
    let content = format!(
        "{}\nRanges over the bench files: {files}.\n",
        table.render(&rows)
    );
    Outcome::generated(content)
}

/// A conv workload's fast-path row name without the variant: `Conv flex depth 9 width 32 batch
/// 64` from `Conv flex fast depth 9 width 32 batch 64`; `None` for the MLP and other rows.
fn workload(name: &str) -> Option<String> {
    let model = name.split(' ').next()?;
    if !(model == "Conv" || model == "MnistConv" || model.starts_with("Cifar")) {
        return None;
    }
    name.contains(" fast ")
        .then(|| name.replacen(" fast ", " ", 1))
}

/// The value after `key` in a row name (`depth 9` → 9).
fn field(name: &str, key: &str) -> Option<usize> {
    let words: Vec<&str> = name.split(' ').collect();
    let at = words.iter().position(|w| *w == key)?;
    words.get(at + 1)?.parse().ok()
}

/// The net of a `bench-highway` row name (`MODEL BACKEND VARIANT depth D width W batch B`,
/// some without depth or width): `9×32 conv highway stack, 32×32`, `Table 1 net (width 32)`,
/// `CIFAR net A`, `50×71 highway MLP, Adam`; `None` for the rows of other workloads.
fn net(name: &str) -> Option<String> {
    let model = name.split(' ').next()?;
    Some(match (model, field(name, "depth"), field(name, "width")) {
        ("Mlp", Some(d), Some(w)) => format!("{d}×{w} highway MLP, Adam"),
        ("Conv", Some(d), Some(w)) => format!("{d}×{w} conv highway stack, 32×32"),
        ("MnistConv", _, Some(w)) => format!("Table 1 net (width {w})"),
        (m, _, _) if m.starts_with("Cifar") => {
            format!("CIFAR net {}", m.trim_start_matches("Cifar"))
        }
        _ => return None,
    })
}

/// The row-name prefix of the PyTorch peer of an MLP or a conv stack (`Mlp` or `Conv` row
/// names): `PyTorch conv depth 9 width 32 batch 64 `; `None` for other nets.
fn peer(name: &str) -> Option<String> {
    let model = match name.split(' ').next()? {
        "Mlp" => "mlp",
        "Conv" => "conv",
        _ => return None,
    };
    let (d, w, b) = (
        field(name, "depth")?,
        field(name, "width")?,
        field(name, "batch")?,
    );
    Some(format!("PyTorch {model} depth {d} width {w} batch {b} "))
}

/// The table's label of a conv workload: `9×32 conv highway stack, 32×32, batch 64`, `Table 1
/// net (width 32), batch 100`, `CIFAR net A, batch 100`.
fn label(workload: &str) -> String {
    let batch = field(workload, "batch").map_or(String::new(), |b| format!(", batch {b}"));
    format!("{}{batch}", net(workload).unwrap_or_default())
}

/// One file's figures for one conv workload.
struct Run<'a> {
    bench: &'a HighwayBench,
    fast: f64,
    conv2d: Option<f64>,
    torch: Option<f64>,
    /// The fast path's GFLOP/s and Burn's 2048³ product's, where the file has both.
    gflops: Option<(f64, f64)>,
}

/// The figures of `workload` in `bench`, if it timed it.
fn run<'a>(bench: &'a HighwayBench, workload: &str) -> Option<Run<'a>> {
    let fast = bench
        .rows
        .iter()
        .find(|r| self::workload(&r.name).as_deref() == Some(workload))?;
    let backend = workload.split(' ').nth(1).unwrap_or_default();
    let torch = peer(workload).and_then(|prefix| bench.row(&prefix));
    let matmul = bench.row(&format!("matmul {backend} 2048x2048x2048"));
    let rate = |r: &HighwayBenchRow| Some(r.gflop_per_step? * r.steps_per_s);
    let conv2d = bench.row(&fast.name.replacen(" fast ", " unfused ", 1));
    Some(Run {
        bench,
        fast: fast.steps_per_s,
        conv2d: conv2d.map(|r| r.steps_per_s),
        torch: torch.map(|r| r.steps_per_s),
        gflops: rate(fast).zip(matmul.and_then(rate)),
    })
}

/// The runs of workload `w` in the files of the newest commit that timed it.
fn newest_runs<'a>(inputs: &'a Inputs, w: &str) -> Vec<Run<'a>> {
    let all = inputs.bench_highway.iter().filter_map(|b| run(b, w));
    of_newest_commit(all.collect(), |r| &r.bench.provenance)
}

/// `f` of each of `runs` that has it.
fn values(runs: &[Run], f: impl Fn(&Run) -> Option<f64>) -> Vec<f64> {
    runs.iter().filter_map(f).collect()
}

/// The [`span`] of `f` over `runs`, two decimals.
fn spans(runs: &[Run], f: impl Fn(&Run) -> Option<f64>, unit: &str) -> String {
    span(&values(runs, f), two, unit)
}

/// The README summary's conv speed figures: the 9×32 stack at batch 64 on the fast path over
/// PyTorch, and the Table 1 net's fast path over its `conv2d` path (ranges over the newest
/// commit's runs), with the provenance of the newest stack run.
pub fn summary_figures(inputs: &Inputs) -> Option<(String, &Provenance)> {
    let stack = newest_runs(inputs, "Conv flex depth 9 width 32 batch 64");
    let ratios = values(&stack, |r| Some(r.fast / r.torch?));
    if ratios.is_empty() {
        return None;
    }
    let newest = stack
        .iter()
        .map(|r| &r.bench.provenance)
        .max_by_key(|p| &p.date)?;
    let mut text = format!("{} over {} runs", span(&ratios, two, "×"), ratios.len());
    let table1 = newest_runs(inputs, "MnistConv flex depth 50 width 32 batch 100");
    let t1 = values(&table1, |r| Some(r.fast / r.conv2d?));
    if !t1.is_empty() {
        text.push_str(&format!(
            "; Table 1 net (width 32): {} its steps through Burn's `conv2d`",
            span(&t1, two, "×")
        ));
    }
    Some((text, newest))
}

/// `speed-conv`: one row per conv workload.
pub fn speed_conv_table(inputs: &Inputs, name: &str) -> Outcome {
    /// A workload and its runs.
    type Row<'a> = (String, Vec<Run<'a>>);
    let names = inputs.bench_highway.iter().flat_map(|b| &b.rows);
    let mut workloads = sorted(names.filter_map(|r| workload(&r.name)));
    if workloads.is_empty() {
        return Outcome::none(name);
    }
    // The stack, then the Table 1 net, then the CIFAR nets; smaller batches first.
    workloads.sort_by_key(|w| {
        let model = ["Conv ", "MnistConv "]
            .iter()
            .position(|m| w.starts_with(m));
        (model.unwrap_or(2), field(w, "batch"), w.clone())
    });
    let rows: Vec<Row> = workloads
        .into_iter()
        .map(|w| {
            let runs = newest_runs(inputs, &w);
            (w, runs)
        })
        .filter(|(_, runs)| !runs.is_empty())
        .collect();
    let backends = inputs.bench_highway.iter().map(|b| &b.provenance.backend);
    let backends = distinct(backends.cloned());
    let table = Table::new()
        .col("workload (training step)", |(w, _): &Row| label(w))
        .col(
            format!("Burn `{backends}` fast path, steps/s"),
            |(_, runs)| spans(runs, |r| Some(r.fast), ""),
        )
        .col("Burn `conv2d`, steps/s", |(_, runs)| {
            spans(runs, |r| r.conv2d, "")
        })
        .col("PyTorch, steps/s", |(_, runs)| spans(runs, |r| r.torch, ""))
        .col("fast / PyTorch", |(_, runs)| {
            spans(runs, |r| Some(r.fast / r.torch?), "×")
        })
        .col("fast / `conv2d`", |(_, runs)| {
            spans(runs, |r| Some(r.fast / r.conv2d?), "×")
        })
        .col("fast path GFLOP/s", |(_, runs)| {
            let gflops = values(runs, |r| Some(r.gflops?.0));
            let share = values(runs, |r| r.gflops.map(|(g, m)| 100.0 * g / m));
            let whole = |v: f64| format!("{v:.0}");
            match gflops.is_empty() {
                true => "—".to_string(),
                false => format!(
                    "{} ({}% of the 2048³ product)",
                    range(&gflops, whole),
                    range(&share, whole)
                ),
            }
        })
        .col("runs", |(_, runs)| runs.len().to_string())
        .col("date, commit", |(_, runs)| {
            distinct(runs.iter().map(|r| when(&r.bench.provenance)))
        })
        .col("machine", |(_, runs)| {
            distinct(runs.iter().map(|r| r.bench.provenance.machine_short()))
        });
    let files = rows
        .iter()
        .flat_map(|(_, runs)| runs.iter().map(|r| path_code(&r.bench.file)));
    Outcome::generated(format!(
        "{}\nRanges over the bench files of each workload's newest commit: {}.\n",
        table.render(&rows),
        distinct(files)
    ))
}

/// One workload on one backend in one GPU bench file.
struct GpuRow<'a> {
    workload: String,
    backend: String,
    /// Burn's rate and the peer's, in `unit`.
    burn: f64,
    peer: Option<f64>,
    unit: &'static str,
    provenance: &'a Provenance,
}

/// `Mlp cuda fused depth 50 width 71 batch 128` → (`cuda`, `50×71 highway MLP (fused), batch
/// 128`, the peer's row prefix); `None` for rows that are not a GPU workload.
fn highway_workload(name: &str) -> Option<(String, String, Option<String>)> {
    let words: Vec<&str> = name.split(' ').collect();
    let [_, backend, variant, ..] = &words[..] else {
        return None;
    };
    let (batch, title) = (field(name, "batch")?, net(name)?);
    let workload = format!("{title} ({variant}), batch {batch}");
    Some((backend.to_string(), workload, peer(name)))
}

/// The rows of every GPU bench file.
fn gpu_rows(inputs: &Inputs) -> Vec<GpuRow<'_>> {
    let mut out = Vec::new();
    let on_a_gpu = |p: &Provenance| p.machine.gpu.is_some();
    for bench in inputs.bench_rhn.iter().filter(|b| on_a_gpu(&b.provenance)) {
        for (row, peer) in bench.with_peers() {
            let model = match &row.model {
                Some(name) => format!("Kim et al. `{name}`"),
                None => format!("RHN {}", bench_model(row.depth, row.hidden)),
            };
            out.push(GpuRow {
                workload: format!("{model}, {} × {}", row.batch, row.seq_len),
                backend: bench.provenance.backend.clone(),
                burn: row.tokens_per_s,
                peer: peer.map(|r| r.tokens_per_s),
                unit: "tokens/s",
                provenance: &bench.provenance,
            });
        }
    }
    for bench in inputs
        .bench_highway
        .iter()
        .filter(|b| on_a_gpu(&b.provenance))
    {
        for row in &bench.rows {
            let Some((backend, workload, peer)) = highway_workload(&row.name) else {
                continue;
            };
            let peer = peer.and_then(|prefix| bench.row(&prefix));
            out.push(GpuRow {
                workload,
                backend,
                burn: row.steps_per_s,
                peer: peer.map(|r| r.steps_per_s),
                unit: "steps/s",
                provenance: &bench.provenance,
            });
        }
    }
    out
}

/// `speed-gpu`: Burn on the GPU beside PyTorch on CUDA.
pub fn speed_gpu_table(inputs: &Inputs, name: &str) -> Outcome {
    let rate = |v: f64, unit: &str| format!("{} {unit}", thousands(v.round() as usize));
    let table = Table::new()
        .col("workload (one training step)", |r: &GpuRow| {
            r.workload.clone()
        })
        .col("Burn backend", |r| format!("`{}`", r.backend))
        .col("Burn", move |r| rate(r.burn, r.unit))
        .col("PyTorch (CUDA)", move |r| {
            r.peer.map_or("—".into(), |v| rate(v, r.unit))
        })
        .col("Burn / PyTorch", |r| {
            r.peer.map_or("—".into(), |v| two(r.burn / v))
        })
        .provenance(|r| r.provenance);
    table.section(name, &gpu_rows(inputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_and_their_labels() {
        let conv = workload("Conv flex fast depth 9 width 32 batch 64").unwrap();
        assert_eq!(conv, "Conv flex depth 9 width 32 batch 64");
        assert_eq!(label(&conv), "9×32 conv highway stack, 32×32, batch 64");
        let t1 = workload("MnistConv flex fast depth 50 width 32 batch 100").unwrap();
        assert_eq!(label(&t1), "Table 1 net (width 32), batch 100");
        assert_eq!(
            label(&workload("CifarA flex fast batch 100").unwrap()),
            "CIFAR net A, batch 100"
        );
        // Not conv workloads, or not the fast path's row.
        assert_eq!(workload("Mlp flex fast depth 50 width 71 batch 128"), None);
        assert_eq!(
            workload("Conv flex unfused depth 9 width 32 batch 64"),
            None
        );
        assert_eq!(
            workload("PyTorch conv depth 9 width 32 batch 64 threads 2"),
            None
        );
    }

    #[test]
    fn highway_rows_name_their_workload_backend_and_peer() {
        let (backend, workload, peer) =
            highway_workload("Mlp cuda fused depth 50 width 71 batch 128").unwrap();
        assert_eq!(backend, "cuda");
        assert_eq!(workload, "50×71 highway MLP, Adam (fused), batch 128");
        assert_eq!(
            peer.as_deref(),
            Some("PyTorch mlp depth 50 width 71 batch 128 ")
        );
        let (_, workload, peer) =
            highway_workload("MnistConv wgpu unfused depth 50 width 32 batch 100").unwrap();
        assert_eq!(workload, "Table 1 net (width 32) (unfused), batch 100");
        assert_eq!(peer, None);
        assert!(highway_workload("matmul cuda 2048x2048x2048").is_none());
        assert!(highway_workload("PyTorch mlp depth 50 width 71 batch 128 on cuda").is_none());
    }
}
