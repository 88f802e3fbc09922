//! The CIFAR highway nets of the `cifar` binary (Tables 2 and 3), read out and lesioned per
//! highway layer, numbered 1.. over the stages (each stage's plain first convolution is not
//! counted).

use std::path::Path;

use anyhow::{Context, bail};
use burn::tensor::{Device, Tensor};
use datasets::{CifarDataset, CifarKind, CifarSplit, CifarTransform};
use models::{CifarHighwayConfig, CifarNet, ConvStage};

use super::conv::{stage_depths, staged_gate_report, staged_lesion};
use super::gate_stats::GateReport;
use super::lesion::LesionReport;
use super::runs::{LoadedRun, load_run, run_config};
use models::train::CifarData;
use models::train::LabelledData;

/// Loads a [`CifarNet`] trained by `cifar`.
pub fn load_cifar_run(
    path: &Path,
    device: &Device,
) -> anyhow::Result<LoadedRun<CifarHighwayConfig, CifarNet>> {
    load_run(path, |c: &CifarHighwayConfig| {
        c.validate().map_err(anyhow::Error::msg)?;
        Ok(c.init(device))
    })
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
    Ok(stage_depths(&model.stages))
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

/// Per-layer mean gate activity and per-class deviations of a CIFAR highway net, as
/// [`conv_gate_report`](super::conv::conv_gate_report); layers are numbered 1.. over the
/// highway layers of all stages.
pub fn cifar_gate_report(
    model: &CifarNet,
    data: &CifarData,
    examples: usize,
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<GateReport> {
    let layers = cifar_stage_depths(model)?.iter().sum();
    let forward = |x, k| cifar_forward(model, x, k);
    let n_classes = model.output.weight.dims()[1];
    staged_gate_report(
        &forward, layers, n_classes, 1, data, examples, batch_size, device,
    )
}

/// Lesions every highway layer of a CIFAR net in turn on each `(name, data, examples)` split;
/// rows are numbered 1.. over the highway layers of all stages.
pub fn cifar_lesion(
    label: &str,
    model: &CifarNet,
    splits: &[(&str, &CifarData, usize)],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<LesionReport> {
    let layers = cifar_stage_depths(model)?.iter().sum();
    let forward = |x, k| cifar_forward(model, x, k);
    let splits: Vec<(&str, &dyn LabelledData<4>, usize)> = splits
        .iter()
        .map(|(n, d, e)| (*n, *d as &dyn LabelledData<4>, *e))
        .collect();
    staged_lesion(label, &forward, layers, 1, &splits, batch_size, device)
}

/// The evaluation data of a `cifar` run, chosen by the `dataset` entry of its `config.json`:
/// `[("train", ..), ("test", ..)]` for `cifar10` and `cifar100`, `[("samples", ..)]` for
/// `cifar10-samples` (the 20 foolbox images, on which such a run is both trained and
/// evaluated). Evaluation batches get the training run's contrast normalisation and no
/// augmentation.
pub fn cifar_run_splits(
    run_dir: &Path,
    data_dir: Option<&Path>,
) -> anyhow::Result<Vec<(&'static str, CifarData)>> {
    let config = run_config(run_dir)?;
    let dataset = config
        .get("dataset")
        .and_then(|d| d.as_str())
        .with_context(|| {
            format!(
                "{}: config.json has no \"dataset\" entry (expected a run of the cifar binary)",
                run_dir.display()
            )
        })?;
    let wrap = |set| CifarData::new(set, CifarTransform::eval());
    let load = |kind| -> anyhow::Result<Vec<(&'static str, CifarData)>> {
        Ok(vec![
            (
                "train",
                wrap(CifarDataset::load(kind, CifarSplit::Train, data_dir)?),
            ),
            (
                "test",
                wrap(CifarDataset::load(kind, CifarSplit::Test, data_dir)?),
            ),
        ])
    };
    match dataset {
        "cifar10" => load(CifarKind::Cifar10),
        "cifar100" => load(CifarKind::Cifar100),
        "cifar10-samples" => Ok(vec![(
            "samples",
            wrap(CifarDataset::cifar10_samples(data_dir)?),
        )]),
        other => bail!(
            "{}: dataset {other:?} is not a cifar run's (cifar10, cifar100, cifar10-samples)",
            run_dir.display()
        ),
    }
}
