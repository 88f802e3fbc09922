//! `speed-gpu`: the bench files timed on a GPU (`scripts/gpu-check.sh`: `bench-rhn` and
//! `bench-highway` on `cuda` and `wgpu`, the PyTorch peer on CUDA in the same run), one row per
//! workload, backend and file. The files are known by their provenance's
//! [`Machine::gpu`](crate::provenance::Machine::gpu); `speed-rhn` and the README summary leave
//! them out.

use super::Outcome;
use super::columns::Table;
use super::inputs::Inputs;
use super::speed_conv::field;
use super::speed_rhn::bench_model;
use super::tables::thousands;
use crate::provenance::Provenance;

/// One workload on one backend in one file.
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
    let [model, backend, variant, rest @ ..] = &words[..] else {
        return None;
    };
    let rest = rest.join(" ");
    let batch = field(&rest, "batch")?;
    let (d, w) = (field(&rest, "depth"), field(&rest, "width"));
    let (label, peer) = match (*model, &d, &w) {
        ("Mlp", Some(d), Some(w)) => (format!("{d}×{w} highway MLP, Adam"), Some("mlp")),
        ("Conv", Some(d), Some(w)) => (format!("{d}×{w} conv highway stack, 32×32"), Some("conv")),
        ("MnistConv", _, Some(w)) => (format!("Table 1 net (width {w})"), None),
        (m, _, _) if m.starts_with("Cifar") => {
            (format!("CIFAR net {}", m.trim_start_matches("Cifar")), None)
        }
        _ => return None,
    };
    let peer = match (peer, &d, &w) {
        (Some(p), Some(d), Some(w)) => {
            Some(format!("PyTorch {p} depth {d} width {w} batch {batch} "))
        }
        _ => None,
    };
    Some((
        backend.to_string(),
        format!("{label} ({variant}), batch {batch}"),
        peer,
    ))
}

/// The rows of every GPU bench file.
fn gpu_rows(inputs: &Inputs) -> Vec<GpuRow<'_>> {
    let mut out = Vec::new();
    for bench in inputs.bench_rhn.iter() {
        let p = &bench.provenance;
        if p.machine.gpu.is_none() {
            continue;
        }
        for row in bench.rows.iter().filter(|r| r.implementation == "burn") {
            let key = (row.depth, row.hidden, row.batch, row.seq_len);
            let peer = bench.rows.iter().find(|r| {
                r.implementation == "pytorch" && (r.depth, r.hidden, r.batch, r.seq_len) == key
            });
            let model = match &row.model {
                Some(name) => format!("Kim et al. `{name}`"),
                None => format!("RHN {}", bench_model(row.depth, row.hidden)),
            };
            out.push(GpuRow {
                workload: format!("{model}, {} × {}", row.batch, row.seq_len),
                backend: p.backend.clone(),
                burn: row.tokens_per_s,
                peer: peer.map(|r| r.tokens_per_s),
                unit: "tokens/s",
                provenance: p,
            });
        }
    }
    for bench in inputs.bench_highway.iter() {
        let p = &bench.provenance;
        if p.machine.gpu.is_none() {
            continue;
        }
        for row in &bench.rows {
            let Some((backend, workload, peer)) = highway_workload(&row.name) else {
                continue;
            };
            out.push(GpuRow {
                workload,
                backend,
                burn: row.steps_per_s,
                peer: peer
                    .and_then(|prefix| bench.row(&prefix))
                    .map(|r| r.steps_per_s),
                unit: "steps/s",
                provenance: p,
            });
        }
    }
    out
}

/// `speed-gpu`: Burn on the GPU beside PyTorch on CUDA.
pub fn speed_gpu_table(inputs: &Inputs, name: &str) -> Outcome {
    let rows = gpu_rows(inputs);
    if rows.is_empty() {
        return Outcome::none(name);
    }
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
            r.peer.map_or("—".into(), |v| format!("{:.2}", r.burn / v))
        })
        .provenance(|r| r.provenance);
    Outcome::generated(table.render(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn only_files_timed_on_a_gpu_are_rows() {
        use super::super::inputs::HighwayBench;
        let bench = |gpu: Option<&str>| {
            let mut provenance = Provenance::current();
            provenance.machine.gpu = gpu.map(String::from);
            provenance.backend = "cuda,wgpu".into();
            HighwayBench::of_rows(
                provenance,
                &[
                    ("Mlp cuda fused depth 50 width 71 batch 128", 300.0),
                    ("PyTorch mlp depth 50 width 71 batch 128 on cuda", 200.0),
                ],
            )
        };
        let cpu = Inputs {
            bench_highway: vec![bench(None)],
            ..Inputs::default()
        };
        assert!(matches!(
            speed_gpu_table(&cpu, "speed-gpu"),
            Outcome::NotRegenerated(_)
        ));
        let gpu = Inputs {
            bench_highway: vec![bench(Some("NVIDIA H100 80GB HBM3, driver 580.95.05"))],
            ..Inputs::default()
        };
        let Outcome::Generated { content, .. } = speed_gpu_table(&gpu, "speed-gpu") else {
            panic!("a table");
        };
        assert!(
            content.contains("| 50×71 highway MLP, Adam (fused), batch 128 | `cuda` | 300 steps/s | 200 steps/s | 1.50 |"),
            "{content}"
        );
        assert!(content.contains("NVIDIA H100 80GB HBM3"), "{content}");
    }
}
