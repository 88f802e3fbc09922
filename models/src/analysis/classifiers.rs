//! The classifiers of *Training Very Deep Networks* read out and lesioned through one path,
//! [`GatedClassifier`]: the highway MLPs of `mnist-depth` (one unit per neuron, Figures 2-4),
//! the convolutional nets of `mnist-conv` (Table 1) and the CIFAR nets of `cifar` (Tables 2
//! and 3). The convolutional nets are read out per layer (one "unit" per layer: the mean over
//! channels and positions); the CIFAR nets' layers are numbered 1.. over the highway layers of
//! all stages (each stage's plain first convolution is not counted).

use crate::train::LabelledData;
use crate::{CifarNet, ConvStage, DeepMlp, MnistConvNet};
use anyhow::{Context, bail};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::gate_stats::{GateAccumulator, GateReport, LayerBias, bias_table};
use super::host;
use super::lesion::{LesionReport, LossError, LossErrorSum};

/// A trained classifier whose gated layers the analysis reads out, and lesions one at a time,
/// on inputs of rank `D` (`[batch, ...]`).
pub trait GatedClassifier<const D: usize> {
    /// Network layer number of the first gated layer (row numbering of the reports).
    const FIRST_LAYER: usize;

    /// The gated layers, which are read out and lesioned (an error for a net without gates).
    fn layers(&self) -> anyhow::Result<usize>;

    /// Units per layer in the gate statistics: one for a conv net (the mean over channels and
    /// positions).
    fn units(&self) -> anyhow::Result<usize> {
        Ok(1)
    }

    /// Number of classes.
    fn classes(&self) -> usize;

    /// One batch's read-out for [`GateAccumulator::add`]: the gates `[batch, layers, units]`
    /// and the stack's input and layer outputs `[batch, layers + 1, units]`, row-major (zeros
    /// where the distances to the output are not measured).
    fn read_gates(&self, x: Tensor<D>) -> anyhow::Result<(Vec<f32>, Vec<f32>)>;

    /// One batch's logits `[batch, classes]` at inference: intact, and with each gated layer
    /// forced to carry in turn (entry `k`: layer `k`, 0-based).
    fn lesioned_logits(&self, x: Tensor<D>) -> anyhow::Result<(Tensor<2>, Vec<Tensor<2>>)>;
}

impl GatedClassifier<2> for DeepMlp {
    const FIRST_LAYER: usize = 2;

    fn layers(&self) -> anyhow::Result<usize> {
        Ok(self.stack_depth())
    }

    fn units(&self) -> anyhow::Result<usize> {
        match self.transform_biases().and_then(|b| b.into_iter().next()) {
            Some(bias) => Ok(bias.dims()[0]),
            None => bail!("gate statistics need a highway net; this one has plain layers"),
        }
    }

    fn classes(&self) -> usize {
        self.output.weight.dims()[1]
    }

    fn read_gates(&self, x: Tensor<2>) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        let z0 = self.input_features(x.clone());
        let (_, out) = self.forward_with_gates(x, None);
        let outputs: Vec<Tensor<2>> = std::iter::once(z0).chain(out.layer_outputs).collect();
        let gates = host(Tensor::stack::<3>(out.gates, 1))?;
        Ok((gates, host(Tensor::stack::<3>(outputs, 1))?))
    }

    fn lesioned_logits(&self, x: Tensor<2>) -> anyhow::Result<(Tensor<2>, Vec<Tensor<2>>)> {
        let (clean, _, lesioned) = self.forward_all_lesions(x);
        Ok((clean, lesioned))
    }
}

impl GatedClassifier<4> for MnistConvNet {
    const FIRST_LAYER: usize = 2;

    fn layers(&self) -> anyhow::Result<usize> {
        Ok(conv_stage_depths(self).iter().sum())
    }

    fn classes(&self) -> usize {
        self.output.weight.dims()[1]
    }

    fn read_gates(&self, x: Tensor<4>) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        staged_read_out(conv_forward(self, x, None).1, self.layers()?)
    }

    fn lesioned_logits(&self, x: Tensor<4>) -> anyhow::Result<(Tensor<2>, Vec<Tensor<2>>)> {
        Ok(each_lesion(x, self.layers()?, |x, k| {
            conv_forward(self, x, k).0
        }))
    }
}

impl GatedClassifier<4> for CifarNet {
    const FIRST_LAYER: usize = 1;

    fn layers(&self) -> anyhow::Result<usize> {
        Ok(cifar_stage_depths(self)?.iter().sum())
    }

    fn classes(&self) -> usize {
        self.output.weight.dims()[1]
    }

    fn read_gates(&self, x: Tensor<4>) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        staged_read_out(cifar_forward(self, x, None).1, self.layers()?)
    }

    fn lesioned_logits(&self, x: Tensor<4>) -> anyhow::Result<(Tensor<2>, Vec<Tensor<2>>)> {
        Ok(each_lesion(x, self.layers()?, |x, k| {
            cifar_forward(self, x, k).0
        }))
    }
}

/// The learned transform-gate biases of a highway [`DeepMlp`] against their common initial
/// value `initial` (Figure 2, left), numbered as network layers from 2 (an error for a plain
/// net).
pub fn mlp_bias_table(model: &DeepMlp, initial: f64) -> anyhow::Result<Vec<LayerBias>> {
    let learned = model.transform_biases().context("a highway net")?;
    let learned: Vec<Vec<f32>> = learned
        .into_iter()
        .map(host)
        .collect::<anyhow::Result<_>>()?;
    let first = <DeepMlp as GatedClassifier<2>>::FIRST_LAYER;
    Ok(bias_table(&learned, initial, first))
}

/// A staged conv net's read-out for [`GateAccumulator::add`]: the per-example mean gate
/// activity `[batch, layers]` as one "unit" per layer, and zeros for the outputs.
fn staged_read_out(
    gates: Option<Tensor<2>>,
    layers: usize,
) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    let gates = gates.context("gate statistics need a highway net; this one is plain")?;
    let zeros = vec![0.0; gates.dims()[0] * (layers + 1)];
    Ok((host(gates)?, zeros))
}

/// The logits of `forward(x, lesion)` intact and with each of `layers` layers lesioned in turn.
fn each_lesion(
    x: Tensor<4>,
    layers: usize,
    forward: impl Fn(Tensor<4>, Option<usize>) -> Tensor<2>,
) -> (Tensor<2>, Vec<Tensor<2>>) {
    let clean = forward(x.clone(), None);
    (
        clean,
        (0..layers).map(|k| forward(x.clone(), Some(k))).collect(),
    )
}

/// Runs `f(inputs, labels)` on the first `examples` items of `data` in order, in batches of
/// `batch_size`, without augmentation.
fn for_batches<const D: usize>(
    data: &impl LabelledData<D>,
    examples: usize,
    batch_size: usize,
    device: &Device,
    mut f: impl FnMut(Tensor<D>, Vec<usize>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let indices: Vec<usize> = (0..examples.min(data.len())).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, y) = data.batch(chunk, false, 0, device);
        let labels = y
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .map_err(|e| anyhow::anyhow!("reading labels back to the host: {e:?}"))?;
        f(x, labels.into_iter().map(|y| y as usize).collect())?;
    }
    Ok(())
}

/// Gate statistics of `model` over the first `examples` items of `data` (batches of
/// `batch_size`), keeping the full activity of the first `keep_examples`. For a conv net each
/// layer is one "unit" and the distances to the output are not measured (they read 0).
pub fn classifier_gate_report<const D: usize, M: GatedClassifier<D>>(
    model: &M,
    data: &impl LabelledData<D>,
    examples: usize,
    keep_examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<GateReport> {
    let (layers, units) = (model.layers()?, model.units()?);
    let mut acc = GateAccumulator::new(layers, units, model.classes(), keep_examples);
    for_batches(data, examples, batch_size, device, |x, labels| {
        let (gates, outputs) = model.read_gates(x)?;
        acc.add(&gates, &labels, &outputs)
    })?;
    acc.finish(M::FIRST_LAYER)
}

/// Lesions each gated layer of `model` in turn on each `(name, data, examples)` split (its
/// first `examples` items). Rows are numbered as network layers from
/// [`GatedClassifier::FIRST_LAYER`]: for the MNIST nets the input layer is 1 and the stacked
/// layers 2, 3, ... (across the stages of a conv net), for a CIFAR net the highway layers 1..
pub fn classifier_lesion<const D: usize, M: GatedClassifier<D>, T: LabelledData<D>>(
    label: &str,
    model: &M,
    splits: &[(&str, &T, usize)],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let layers = model.layers()?;
    let splits = splits
        .iter()
        .map(|&(name, data, examples)| -> anyhow::Result<_> {
            let mut base = LossErrorSum::default();
            let mut sums = vec![LossErrorSum::default(); layers];
            for_batches(data, examples, batch_size, device, |x, labels| {
                let (clean, lesioned) = model.lesioned_logits(x)?;
                base.add(&host(clean)?, &labels)?;
                for (sum, logits) in sums.iter_mut().zip(lesioned) {
                    sum.add(&host(logits)?, &labels)?;
                }
                Ok(())
            })?;
            let lesioned: Vec<LossError> = sums.iter().map(LossErrorSum::finish).collect();
            Ok((name.to_string(), base.finish(), lesioned))
        });
    LesionReport::from_splits(label, M::FIRST_LAYER, layers, splits)
}

/// The number of gated (or plain) layers in each stage of a conv net.
pub fn conv_stage_depths(model: &MnistConvNet) -> Vec<usize> {
    model.stages.iter().map(ConvStage::depth).collect()
}

/// The number of highway layers in each stage of a CIFAR net (the stages' plain first
/// convolutions not counted); an error for a plain net (`cifar --plain`), which has no gates.
pub fn cifar_stage_depths(model: &CifarNet) -> anyhow::Result<Vec<usize>> {
    if model
        .stages
        .iter()
        .any(|s| matches!(s, ConvStage::Plain(_)))
    {
        bail!(
            "this CIFAR net is plain (trained with `cifar --plain`): it has no transform gates to \
             read out or lesion; analyse a highway run instead"
        );
    }
    Ok(model.stages.iter().map(ConvStage::depth).collect())
}

/// Class logits of a [`MnistConvNet`] at inference (dropout off), with gated layer `lesion`
/// (0-based over all stages) forced to carry, and every highway layer's per-example mean
/// transform-gate activity.
///
/// # Shapes
///
/// - input: `[batch, 1, 28, 28]`
/// - output: logits `[batch, n_classes]`; gate means `[batch, layers]` (`None` for plain stages)
pub fn conv_forward(
    model: &MnistConvNet,
    x: Tensor<4>,
    lesion: Option<usize>,
) -> (Tensor<2>, Option<Tensor<2>>) {
    let mut z = relu(model.input.forward(x));
    let mut gates = Vec::new();
    let mut first = 0;
    let stages = model.stages.iter().zip(&model.pools);
    for ((stage, pool), depth) in stages.zip(conv_stage_depths(model)) {
        // The lesioned layer's index in this stage, if it is one of this stage's layers.
        let les = lesion
            .and_then(|k| k.checked_sub(first))
            .filter(|l| *l < depth);
        first += depth;
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

/// Class logits of a [`CifarNet`] at inference (on a device without autodiff dropout is off)
/// with highway layer `lesion` (0-based over all stages) forced to carry, and every highway
/// layer's per-example mean transform-gate activity.
///
/// # Shapes
///
/// - input: `[batch, 3, 32, 32]`
/// - output: logits `[batch, n_classes]`; gate means `[batch, highway layers]` (`None` for a
///   plain net)
pub fn cifar_forward(
    model: &CifarNet,
    x: Tensor<4>,
    lesion: Option<usize>,
) -> (Tensor<2>, Option<Tensor<2>>) {
    let out = model.forward_with_gates(x, lesion);
    let gates = out.gate_mean_per_example();
    (out.logits, gates)
}
