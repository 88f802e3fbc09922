//! The RHN language models of Zilly et al. (arXiv:1607.03474), read out and lesioned per
//! micro-layer on a token stream, with the state carried across windows and no dropout.

use anyhow::{Context, bail};
use burn::tensor::{Device, Int, Tensor};
use datasets::Bptt;
use models::RhnLm;
use serde::{Deserialize, Serialize};

use super::gate_stats::{LayerBias, bias_table};
use super::host;
use super::lesion::{LesionReport, LesionRow, LossError, LossErrorSum};

/// Transform-gate activity of an RHN language model on a token stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RhnGateReport {
    /// Recurrence depth.
    pub depth: usize,
    /// Windows evaluated.
    pub windows: usize,
    /// Mean transform-gate activity of each micro-layer (1-based index = position).
    pub mean_per_micro_layer: Vec<f64>,
    /// Mean activity of each micro-layer at each position in the window: `[seq][depth]`.
    pub per_time_step: Vec<Vec<f64>>,
    /// Learned transform-gate biases: mean, min, max per micro-layer.
    pub biases: Vec<LayerBias>,
}

/// Gate statistics of an RHN LM over the first `max_windows` windows of `data` (0: all), with
/// the state carried across windows and no dropout.
pub fn rhn_gate_report(
    model: &RhnLm,
    initial_bias: f64,
    data: &Bptt,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<RhnGateReport> {
    let depth = model.rhn.depth();
    let mut state = None;
    let mut sum_t: Vec<Vec<f64>> = Vec::new();
    let mut windows = 0;
    for w in 0..data.num_windows() {
        if max_windows > 0 && w >= max_windows {
            break;
        }
        let window = data.window(w).context("BPTT window out of range")?;
        let (x, _) = window.to_tensors(device);
        let (_, out) = model.forward_with_gates(x, state, None, None);
        state = Some(out.state);
        let per_t = host(out.gates.per_time_step())?;
        let seq = per_t.len() / depth;
        if sum_t.len() < seq {
            sum_t.resize(seq, vec![0.0; depth]);
        }
        for (t, row) in per_t.chunks(depth).enumerate() {
            for (l, v) in row.iter().enumerate() {
                sum_t[t][l] += *v as f64;
            }
        }
        windows += 1;
    }
    if windows == 0 {
        bail!("RHN gate statistics: the data has no windows");
    }
    let per_time_step: Vec<Vec<f64>> = sum_t
        .iter()
        .map(|r| r.iter().map(|v| v / windows as f64).collect())
        .collect();
    let mean_per_micro_layer = (0..depth)
        .map(|l| per_time_step.iter().map(|r| r[l]).sum::<f64>() / per_time_step.len() as f64)
        .collect();
    let b = host(model.rhn.cell.transform_biases())?;
    let d = b.len() / depth;
    let rows: Vec<Vec<f32>> = b.chunks(d).map(|r| r.to_vec()).collect();
    Ok(RhnGateReport {
        depth,
        windows,
        mean_per_micro_layer,
        per_time_step,
        biases: bias_table(&rows, initial_bias, 1),
    })
}

/// Per-token cross-entropy (nats) of an RHN LM on `data` with micro-layer `lesion` forced to
/// carry (`None`: intact), over the first `max_windows` windows (0: all).
pub fn rhn_loss(
    model: &RhnLm,
    data: &Bptt,
    lesion: Option<usize>,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<f64> {
    stream_loss(data, max_windows, device, None, |x, state| {
        let (logits, out) = model.forward_with_gates(x, state, None, lesion);
        (logits, out.state)
    })
}

/// Per-token cross-entropy (nats) of a language model over the first `max_windows` windows
/// of `data` (0: all), the state carried from window to window: `forward(tokens, state)`
/// gives the window's logits `[batch, seq, vocab]` and the next state.
pub fn stream_loss<S>(
    data: &Bptt,
    max_windows: usize,
    device: &Device,
    mut state: Option<S>,
    mut forward: impl FnMut(Tensor<2, Int>, Option<S>) -> (Tensor<3>, S),
) -> anyhow::Result<f64> {
    let mut acc = LossErrorSum::default();
    for w in 0..data.num_windows() {
        if max_windows > 0 && w >= max_windows {
            break;
        }
        let window = data.window(w).context("BPTT window out of range")?;
        let (x, _) = window.to_tensors(device);
        let (logits, next) = forward(x, state);
        state = Some(next);
        let [b, s, v] = logits.dims();
        let labels: Vec<usize> = window.targets.iter().map(|t| *t as usize).collect();
        acc.add(&host(logits.reshape([b * s, v]))?, &labels)?;
    }
    Ok(acc.finish().loss)
}

/// Lesions each micro-layer of an RHN LM in turn; rows hold the per-token loss, and the
/// `error` field holds the perplexity `exp(loss)`.
pub fn rhn_lesion(
    label: &str,
    model: &RhnLm,
    data: &Bptt,
    split: &str,
    max_windows: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    lm_lesion(label, split, model.rhn.depth(), |lesion| {
        rhn_loss(model, data, lesion, max_windows, device)
    })
}

/// A language model's lesion study: `loss(None)` intact, then `loss(Some(l))` for each of its
/// `layers` layers in turn (0-based); rows hold the per-token loss, and the `error` field
/// holds the perplexity `exp(loss)`.
pub fn lm_lesion(
    label: &str,
    split: &str,
    layers: usize,
    mut loss: impl FnMut(Option<usize>) -> anyhow::Result<f64>,
) -> anyhow::Result<LesionReport> {
    let point = |loss: f64| LossError {
        loss,
        error: loss.exp(),
    };
    let base = loss(None)?;
    let mut rows = Vec::new();
    for l in 0..layers {
        rows.push(LesionRow {
            layer: l + 1,
            splits: vec![(split.to_string(), point(loss(Some(l))?))],
        });
    }
    Ok(LesionReport {
        label: label.to_string(),
        baseline: vec![(split.to_string(), point(base))],
        rows,
    })
}
