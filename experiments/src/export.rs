//! A trained run's newest checkpoint as a safetensors file with PyTorch's names and layouts
//! ([`models::weights`]), and a JSON file beside it naming the model and its configuration, so
//! that the project's PyTorch classes (`bench/zoo_torch.py`, `zoo_torch.load_export`) rebuild
//! the same net:
//!
//! ```text
//! cargo run -p experiments --bin export -- --run artifacts/mnist-depth/highway-050/run-00 --weights mlp.safetensors
//! ~/torch-venv/bin/python bench/torch_peer.py evaluate mlp.json --mnist-dir ~/.cache/highway-zoo/mnist
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::Device;
use models::{LstmLmConfig, weights};
use serde::{Deserialize, Serialize};

use crate::analysis::{
    LoadedRun, load_cifar_run, load_conv_run, load_mlp_run, load_rhn_run, load_run,
    resolve_run_dir, run_config,
};
use crate::provenance::Provenance;
use crate::sample::ModelKind;

/// The `format` of an export's JSON file.
pub const EXPORT_FORMAT: &str = "highway-zoo-export/1";

/// The JSON file written beside an export's weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExportInfo {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// The zoo model: `DeepMlp`, `MnistConvNet`, `CifarNet`, `RhnLm` or `LstmLm`.
    pub model: String,
    /// Its configuration, as in the run's `config.json` (`model` entry).
    pub config: serde_json::Value,
    /// Epoch (1-based) of the exported checkpoint.
    pub epoch: usize,
    /// The run directory it came from.
    pub run: PathBuf,
    /// The weights file's name (beside this file).
    pub weights: String,
    /// Number of tensors in the weights file.
    pub tensors: usize,
    /// The export's own command line, date, commit and machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// Writes `run`'s newest checkpoint to `out` (a `.safetensors` path) and its [`ExportInfo`] to
/// `out` with the extension `.json`. `run` is a run directory or an `mnist-depth --out`
/// directory holding one run.
///
/// # Errors
///
/// A missing or unreadable run, a configuration that is none of the zoo's models, an `out`
/// that does not end in `.safetensors`, or a file that cannot be written.
pub fn export_run(run: &Path, out: &Path, device: &Device) -> anyhow::Result<ExportInfo> {
    if out.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        bail!(
            "--out {}: the weights file must end in .safetensors",
            out.display()
        );
    }
    let dir = resolve_run_dir(run)?;
    let entry = run_config(&dir)?
        .get("model")
        .cloned()
        .with_context(|| format!("{}: config.json has no \"model\" entry", dir.display()))?;
    // The model is told by the fields only its configuration has; a language model as
    // `sample` tells it ([`ModelKind::of`]).
    let has = |k: &str| entry.get(k).is_some();
    let (model, (epoch, tensors)) = if has("d_input") {
        ("DeepMlp", save(load_mlp_run(&dir, device)?, out)?)
    } else if has("width") {
        ("MnistConvNet", save(load_conv_run(&dir, device)?, out)?)
    } else if has("stages") {
        ("CifarNet", save(load_cifar_run(&dir, device)?, out)?)
    } else {
        match ModelKind::of(&entry) {
            Some(ModelKind::Rhn) => ("RhnLm", save(load_rhn_run(&dir, device)?, out)?),
            Some(ModelKind::Lstm) => {
                let lstm = load_run(&dir, |c: &LstmLmConfig| Ok(c.init(device)))?;
                ("LstmLm", save(lstm, out)?)
            }
            Some(ModelKind::CharCnn) => bail!(
                "{}: a character-aware language model (`ptb --model kim`) cannot be exported: \
                 `bench/zoo_torch.py` has no PyTorch counterpart for it (export takes DeepMlp, \
                 MnistConvNet, CifarNet, RhnLm and LstmLm runs)",
                dir.display()
            ),
            None => bail!(
                "{}: the \"model\" entry of config.json is none of the zoo's models (DeepMlp, \
                 MnistConvNet, CifarNet, RhnLm, LstmLm)",
                dir.join("config.json").display()
            ),
        }
    };
    let info = ExportInfo {
        format: EXPORT_FORMAT.into(),
        model: model.into(),
        config: entry,
        epoch,
        run: dir,
        weights: out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        tensors,
        provenance: Some(Provenance::current()),
    };
    let text = serde_json::to_string_pretty(&info)?;
    models::train::write_atomic(&out.with_extension("json"), text.as_bytes())?;
    Ok(info)
}

/// Saves a loaded run's model; its epoch and number of tensors.
fn save<C, M: Module>(run: LoadedRun<C, M>, out: &Path) -> anyhow::Result<(usize, usize)> {
    weights::save_safetensors(&run.model, out)?;
    Ok((run.epoch, weights::pytorch_keys(&run.model).len()))
}
