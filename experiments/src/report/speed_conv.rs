//! `speed-conv`: the conv workloads of the `bench-highway --json` files, the CPU fast path
//! beside Burn's `conv2d` and the PyTorch peer, with the fast path's GFLOP/s against the 2048³
//! product the same run timed. Each workload's figures are ranges over the files of the newest
//! commit that timed it; every ratio is taken within one file (one run).

use super::Outcome;
use super::inputs::{HighwayBench, HighwayBenchRow, Inputs};
use super::tables::{code, distinct, of_newest_commit, range, table, when};

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
pub(super) fn field(name: &str, key: &str) -> Option<usize> {
    let words: Vec<&str> = name.split(' ').collect();
    let at = words.iter().position(|w| *w == key)?;
    words.get(at + 1)?.parse().ok()
}

/// The table's label of a workload: `9×32 conv highway stack, batch 64`, `Table 1 net (width
/// 32), batch 100`, `CIFAR net A, batch 100`.
fn label(workload: &str) -> String {
    let model = workload.split(' ').next().unwrap_or_default();
    let batch = field(workload, "batch").map_or(String::new(), |b| format!(", batch {b}"));
    let width = field(workload, "width").unwrap_or_default();
    match model {
        "Conv" => {
            let depth = field(workload, "depth").unwrap_or_default();
            format!("{depth}×{width} conv highway stack, 32×32{batch}")
        }
        "MnistConv" => format!("Table 1 net (width {width}){batch}"),
        cifar => {
            let net = cifar.strip_prefix("Cifar").unwrap_or(cifar);
            format!("CIFAR net {net}{batch}")
        }
    }
}

/// One file's figures for one workload.
struct Run<'a> {
    bench: &'a HighwayBench,
    fast: f64,
    conv2d: Option<f64>,
    torch: Option<f64>,
    /// The fast path's GFLOP/s and Burn's 2048³ product's, where the file has both.
    gflops: Option<(f64, f64)>,
}

fn run<'a>(bench: &'a HighwayBench, workload: &str) -> Option<Run<'a>> {
    let fast = bench
        .rows
        .iter()
        .find(|r| self::workload(&r.name).as_deref() == Some(workload))?;
    let backend = workload.split(' ').nth(1).unwrap_or_default();
    let torch = workload.starts_with("Conv ").then(|| {
        let (d, w, b) = (
            field(workload, "depth")?,
            field(workload, "width")?,
            field(workload, "batch")?,
        );
        bench.row(&format!("PyTorch conv depth {d} width {w} batch {b} "))
    });
    let matmul = bench.row(&format!("matmul {backend} 2048x2048x2048"));
    let rate = |r: &HighwayBenchRow| Some(r.gflop_per_step? * r.steps_per_s);
    let gflops = rate(fast).zip(matmul.and_then(rate));
    Some(Run {
        bench,
        fast: fast.steps_per_s,
        conv2d: bench
            .row(&fast.name.replacen(" fast ", " unfused ", 1))
            .map(|r| r.steps_per_s),
        torch: torch.flatten().map(|r| r.steps_per_s),
        gflops,
    })
}

/// The runs of workload `w` in the files of the newest commit that timed it.
fn newest_runs<'a>(inputs: &'a Inputs, w: &str) -> Vec<Run<'a>> {
    let all = inputs
        .bench_highway
        .iter()
        .filter_map(|b| run(b, w))
        .collect();
    of_newest_commit(all, |r| &r.bench.provenance)
}

/// The README summary's conv speed figures: the 9×32 stack at batch 64 on the fast path over
/// PyTorch, and the Table 1 net's fast path over its `conv2d` path (ranges over the newest
/// commit's runs), with the provenance of the newest stack run.
pub fn summary_figures(inputs: &Inputs) -> Option<(String, &crate::provenance::Provenance)> {
    let stack = newest_runs(inputs, "Conv flex depth 9 width 32 batch 64");
    let ratios: Vec<f64> = stack
        .iter()
        .filter_map(|r| Some(r.fast / r.torch?))
        .collect();
    if ratios.is_empty() {
        return None;
    }
    let newest = stack
        .iter()
        .map(|r| &r.bench.provenance)
        .max_by_key(|p| &p.date)?;
    let times = |v: &[f64]| format!("{}×", range(v, |x| format!("{x:.2}")));
    let mut text = format!("{} over {} runs", times(&ratios), ratios.len());
    let table1 = newest_runs(inputs, "MnistConv flex depth 50 width 32 batch 100");
    let t1: Vec<f64> = table1
        .iter()
        .filter_map(|r| Some(r.fast / r.conv2d?))
        .collect();
    if !t1.is_empty() {
        text.push_str(&format!(
            "; Table 1 net (width 32): {} its steps through Burn's `conv2d`",
            times(&t1)
        ));
    }
    Some((text, newest))
}

/// `speed-conv`: one row per conv workload.
pub fn speed_conv_table(inputs: &Inputs, name: &str) -> Outcome {
    let mut workloads: Vec<String> = Vec::new();
    for bench in &inputs.bench_highway {
        for w in bench.rows.iter().filter_map(|r| workload(&r.name)) {
            if !workloads.contains(&w) {
                workloads.push(w);
            }
        }
    }
    if workloads.is_empty() {
        return Outcome::none(name);
    }
    // The stack, then the Table 1 net, then the CIFAR nets; smaller batches first.
    let rank = |w: &String| {
        let model = match w.split(' ').next() {
            Some("Conv") => 0,
            Some("MnistConv") => 1,
            _ => 2,
        };
        (model, field(w, "batch"), w.clone())
    };
    workloads.sort_by_key(rank);
    let steps = |v: f64| format!("{v:.2}");
    let mut files = Vec::new();
    let mut cells = Vec::new();
    for w in &workloads {
        let runs = newest_runs(inputs, w);
        if runs.is_empty() {
            continue;
        }
        let of =
            |f: &dyn Fn(&Run) -> Option<f64>| -> Vec<f64> { runs.iter().filter_map(f).collect() };
        let or_dash = |v: Vec<f64>, f: &dyn Fn(f64) -> String| {
            if v.is_empty() {
                "—".to_string()
            } else {
                range(&v, f)
            }
        };
        // `0.83-0.97×`.
        let times = |v: Vec<f64>| match v.is_empty() {
            true => "—".to_string(),
            false => format!("{}×", range(&v, |x| format!("{x:.2}"))),
        };
        let gflops = of(&|r| r.gflops.map(|g| g.0));
        let share = of(&|r| r.gflops.map(|(g, m)| 100.0 * g / m));
        let rate = if gflops.is_empty() {
            "—".to_string()
        } else {
            format!(
                "{} ({}% of the 2048³ product)",
                range(&gflops, |v| format!("{v:.0}")),
                range(&share, |v| format!("{v:.0}"))
            )
        };
        cells.push(vec![
            label(w),
            range(&of(&|r| Some(r.fast)), steps),
            or_dash(of(&|r| r.conv2d), &steps),
            or_dash(of(&|r| r.torch), &steps),
            times(of(&|r| Some(r.fast / r.torch?))),
            times(of(&|r| Some(r.fast / r.conv2d?))),
            rate,
            runs.len().to_string(),
            distinct(runs.iter().map(|r| when(&r.bench.provenance))),
            distinct(runs.iter().map(|r| r.bench.provenance.machine_short())),
        ]);
        files.extend(
            runs.iter()
                .map(|r| code(&r.bench.file.display().to_string())),
        );
    }
    let backends = distinct(
        inputs
            .bench_highway
            .iter()
            .map(|b| b.provenance.backend.clone()),
    );
    let fast = format!("Burn `{backends}` fast path, steps/s");
    let header = [
        "workload (training step)",
        fast.as_str(),
        "Burn `conv2d`, steps/s",
        "PyTorch, steps/s",
        "fast / PyTorch",
        "fast / `conv2d`",
        "fast path GFLOP/s",
        "runs",
        "date, commit",
        "machine",
    ];
    let content = format!(
        "{}\nRanges over the bench files of each workload's newest commit: {}.\n",
        table(&header, &cells),
        distinct(files)
    );
    Outcome::generated(content)
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
}
