//! The convolutional highway nets of `mnist-conv`, read out and lesioned per layer of each
//! stage (one "unit" per layer: the mean over channels and positions). The staged read-out and
//! lesion loops here serve the CIFAR nets too ([`super::cifar`]).

use anyhow::Context;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};
use models::{ConvStage, MnistConvNet};

use super::gate_stats::{GateAccumulator, GateReport};
use super::host;
use super::lesion::{LesionReport, LesionRow, LossErrorSum};
use models::train::LabelledData;
use models::train::MnistData;

/// The number of gated (or plain) layers in each of `stages`.
pub fn stage_depths(stages: &[ConvStage]) -> Vec<usize> {
    stages
        .iter()
        .map(|s| match s {
            ConvStage::Highway(st) => st.depth(),
            ConvStage::Plain(st) => st.depth(),
        })
        .collect()
}

/// The number of gated (or plain) layers in each stage of a conv net.
pub fn conv_stage_depths(model: &MnistConvNet) -> Vec<usize> {
    stage_depths(&model.stages)
}

/// Class logits of a [`MnistConvNet`] at inference (dropout off), with layer `layer` of stage
/// `stage` forced to carry when `lesion = Some((stage, layer))` (0-based), and every highway
/// layer's per-example mean transform-gate activity.
///
/// # Shapes
///
/// - input: `[batch, 1, 28, 28]`
/// - output: logits `[batch, n_classes]`; gate means `[batch, layers]` (`None` for plain stages)
pub fn conv_forward(
    model: &MnistConvNet,
    x: Tensor<4>,
    lesion: Option<(usize, usize)>,
) -> (Tensor<2>, Option<Tensor<2>>) {
    let mut z = relu(model.input.forward(x));
    let mut gates = Vec::new();
    for (s, (stage, pool)) in model.stages.iter().zip(&model.pools).enumerate() {
        let les = lesion.and_then(|(ls, l)| (ls == s).then_some(l));
        z = match stage {
            ConvStage::Highway(st) => {
                let out = st.forward_with_gates(z, les);
                gates.extend(out.gate_mean_per_example());
                out.output
            }
            ConvStage::Plain(st) => st.forward_with_gates(z, les).output,
        };
        z = pool.forward(z);
    }
    let gates = (!gates.is_empty()).then(|| Tensor::cat(gates, 1));
    (model.output.forward(z.flatten::<2>(1, 3)), gates)
}

/// A staged conv net seen from the analysis: class logits and per-example mean gate activity
/// `[batch, layers]` with gated layer `k` (0-based over all stages) lesioned when `Some(k)`.
pub(super) type StagedForward<'a> =
    &'a dyn Fn(Tensor<4>, Option<usize>) -> (Tensor<2>, Option<Tensor<2>>);

fn targets(t: Tensor<1, Int>) -> anyhow::Result<Vec<usize>> {
    t.into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map(|v| v.into_iter().map(|y| y as usize).collect())
        .map_err(|e| anyhow::anyhow!("reading labels back to the host: {e:?}"))
}

/// Gate statistics of a staged conv net with `layers` gated layers (one "unit" per layer).
#[allow(clippy::too_many_arguments)]
pub(super) fn staged_gate_report(
    forward: StagedForward,
    layers: usize,
    n_classes: usize,
    first_layer: usize,
    data: &dyn LabelledData<4>,
    examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<GateReport> {
    let mut acc = GateAccumulator::new(layers, 1, n_classes, 0);
    let n = examples.min(data.len());
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, y) = data.batch(chunk, false, 0, device);
        let (_, gates) = forward(x, None);
        let gates = gates.context("gate statistics need a highway net; this one is plain")?;
        let zeros = vec![0.0; chunk.len() * (layers + 1)];
        acc.add(&host(gates)?, &targets(y)?, &zeros)?;
    }
    acc.finish(first_layer)
}

/// Lesions each of the `layers` gated layers of a staged conv net in turn on each split; row
/// `k` is numbered `first_layer + k`.
pub(super) fn staged_lesion(
    label: &str,
    forward: StagedForward,
    layers: usize,
    first_layer: usize,
    splits: &[(&str, &dyn LabelledData<4>, usize)],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let mut baseline = Vec::new();
    let mut rows: Vec<LesionRow> = (0..layers)
        .map(|k| LesionRow {
            layer: first_layer + k,
            splits: Vec::new(),
        })
        .collect();
    for (name, data, examples) in splits {
        let mut base = LossErrorSum::default();
        let mut sums = vec![LossErrorSum::default(); layers];
        let n = (*examples).min(data.len());
        let indices: Vec<usize> = (0..n).collect();
        for chunk in indices.chunks(batch_size.max(1)) {
            let (x, y) = data.batch(chunk, false, 0, device);
            let labels = targets(y)?;
            base.add(&host(forward(x.clone(), None).0)?, &labels)?;
            for (k, sum) in sums.iter_mut().enumerate() {
                sum.add(&host(forward(x.clone(), Some(k)).0)?, &labels)?;
            }
        }
        baseline.push((name.to_string(), base.finish()));
        for (row, sum) in rows.iter_mut().zip(&sums) {
            row.splits.push((name.to_string(), sum.finish()));
        }
    }
    Ok(LesionReport {
        label: label.to_string(),
        baseline,
        rows,
    })
}

/// `(stage, layer)` of each gated layer of a conv net, in order.
fn conv_lesions(model: &MnistConvNet) -> Vec<(usize, usize)> {
    conv_stage_depths(model)
        .iter()
        .enumerate()
        .flat_map(|(s, d)| (0..*d).map(move |l| (s, l)))
        .collect()
}

/// Per-layer mean gate activity and per-class deviations of a conv highway net (the statistics
/// of [`GateReport`] with one "unit" per layer: the mean over channels and positions; the
/// distances to the output are not measured and read 0).
pub fn conv_gate_report(
    model: &MnistConvNet,
    data: &MnistData,
    examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<GateReport> {
    let lesions = conv_lesions(model);
    let forward = |x, k: Option<usize>| conv_forward(model, x, k.map(|k| lesions[k]));
    let n_classes = model.output.weight.dims()[1];
    staged_gate_report(
        &forward,
        lesions.len(),
        n_classes,
        2,
        data,
        examples,
        batch_size,
        device,
    )
}

/// Lesions every layer of every stage of a conv net in turn on each `(name, data, examples)`
/// split. Rows are numbered as network layers: the input convolution is 1, the stacked layers
/// 2, 3, ... across the stages.
pub fn conv_lesion(
    label: &str,
    model: &MnistConvNet,
    splits: &[(&str, &MnistData, usize)],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let lesions = conv_lesions(model);
    let forward = |x, k: Option<usize>| conv_forward(model, x, k.map(|k| lesions[k]));
    let splits: Vec<(&str, &dyn LabelledData<4>, usize)> = splits
        .iter()
        .map(|(n, d, e)| (*n, *d as &dyn LabelledData<4>, *e))
        .collect();
    staged_lesion(
        label,
        &forward,
        lesions.len(),
        2,
        &splits,
        batch_size,
        device,
    )
}
