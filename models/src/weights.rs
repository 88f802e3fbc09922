//! Weights in and out in PyTorch's conventions, through burn-store.
//!
//! [`load_pytorch`] reads a PyTorch state dict (`torch.save(model.state_dict(), path)`, a
//! `.pt`/`.pth` file), [`load_safetensors`] a safetensors file written by PyTorch
//! (`safetensors.torch.save_file(model.state_dict(), path)`), and [`save_safetensors`] writes
//! one that PyTorch loads with `model.load_state_dict(safetensors.torch.load_file(path))`. All
//! three go through burn-store with its PyTorch adapters; the PyTorch classes are the project's
//! own reference implementations in `bench/zoo_torch.py`, which compute what the Rust modules
//! compute and name their parameters the same way.
//!
//! ## The mapping
//!
//! One rule for every layer and model, and the loaders apply nothing else:
//!
//! - **Keys.** A PyTorch key is the Burn module's field path with the names of enum variants
//!   left out: a struct field adds its name, a `Vec` its index, an `Option` nothing, an enum
//!   module (such as [`MlpBody`](crate::MlpBody), [`ConvStage`](crate::ConvStage),
//!   [`CifarHeadLayer`](crate::CifarHeadLayer)) nothing. Indices are taken as they are (no
//!   renumbering).
//! - **Layout.** The weight of a `Linear` is `[out, in]` in PyTorch and `[in, out]` in Burn:
//!   transposed on the way in and out. Everything else has one layout in both: convolution
//!   kernels `[out, in, kh, kw]`, embeddings `[vocab, d]`, biases `[d]`, and the language
//!   models' bare `softmax_w` parameter `[d_hidden, vocab]` (an `nn.Parameter` in PyTorch, not
//!   a `Linear`, so it is not transposed).
//! - **Dtype.** `float32` (a file's `float64` tensor is an error, not a silent conversion).
//!
//! | Burn module | PyTorch keys | transposed |
//! |---|---|---|
//! | `highway_core::Highway` | `h.weight`, `h.bias`, `t.weight`, `t.bias` (+ `c.*`, free carry) | `*.weight` |
//! | `highway_core::ConvHighway` | `h.*`, `t.*` (+ `c.*`), kernels `[d, d, k, k]` | — |
//! | `highway_core::Plain` / `ConvPlain` | `linear.weight`, `linear.bias` / `conv.weight`, `conv.bias` | `linear.weight` |
//! | `rhn::RhnCell` | `w_h.weight`, `w_t.weight` (+ `w_c`; no bias), `layers.{l}.r_h.*`, `layers.{l}.r_t.*` (+ `r_c.*`) | every `weight` |
//! | `rhn::Rhn` | the cell's keys under `cell.` | every `weight` |
//! | [`DeepMlp`](crate::DeepMlp) | `input.linear.*`, `body.layers.{i}.{h,t}.*` (highway) or `body.layers.{i}.linear.*` (plain), `output.*` | every `weight` |
//! | [`MnistConvNet`](crate::MnistConvNet) | `input.*`, `stages.{s}.layers.{i}.{h,t}.*`, `output.*` | `output.weight` |
//! | [`CifarNet`](crate::CifarNet) | `inputs.{j}.conv.*`, `stages.{s}.layers.{i}.{h,t}.*`, `head.*` (a `Linear` or a 1×1 conv), `output.*` | `output.weight` (and a `Linear` head's) |
//! | [`RhnLm`](crate::RhnLm) | `embedding.weight`, `rhn.cell.*`, `softmax_w` (untied only), `softmax_b` | the RHN's |
//! | [`LstmLm`](crate::LstmLm) | `embedding.weight`, `lstm.{input,forget,output,cell}_gate.{input,hidden}_transform.{weight,bias}`, `softmax_w` (untied only), `softmax_b` | the gates' |
//!
//! The parity tests (`models/tests/parity.rs`) check this table against every fixture's key
//! list, and the outputs (and, for the layers, the gradients) against PyTorch's.
//!
//! ## Errors
//!
//! A file that does not match the model is refused as a whole: every missing key, every key
//! the model has no parameter for, every shape or dtype that differs is named in one
//! [`WeightsError::Mismatch`], and the model passed in is left as it was (the loaders return a
//! new one).
//!
//! ```no_run
//! use burn::prelude::*;
//! use models::{DeepMlpConfig, weights};
//!
//! let device = Device::flex();
//! let model = DeepMlpConfig::mnist_highway(10).init(&device);
//! let model = weights::load_pytorch(&model, "mlp.pt")?;
//! weights::save_safetensors(&model, "mlp.safetensors")?;
//! # Ok::<(), weights::WeightsError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};

/// Why weights could not be loaded or saved.
#[derive(Debug)]
pub enum WeightsError {
    /// The file could not be read or written, or is not a valid file of its format.
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file is readable but does not match the model; nothing was loaded.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// One line per key: missing, unexpected, or of the wrong shape or dtype.
        problems: Vec<String>,
    },
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, message } => write!(f, "{}: {message}", path.display()),
            Self::Mismatch { path, problems } => {
                write!(
                    f,
                    "{}: the weights do not match the model ({} problem{}; nothing loaded)",
                    path.display(),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for WeightsError {}

/// Loads a PyTorch state dict (`.pt`/`.pth`, as `torch.save(model.state_dict(), path)` writes
/// it) into a copy of `model`, following the [mapping](self#the-mapping).
///
/// # Errors
///
/// [`WeightsError::File`] when the file cannot be read as a PyTorch checkpoint;
/// [`WeightsError::Mismatch`] naming every key that is missing, unexpected or of the wrong
/// shape or dtype.
pub fn load_pytorch<M: Module>(model: &M, path: impl AsRef<Path>) -> Result<M, WeightsError> {
    let path = path.as_ref();
    let store = PytorchStore::from_file(path)
        .skip_enum_variants(true)
        .map_indices_contiguous(false)
        .allow_partial(true)
        .validate(false);
    apply(model, store, path)
}

/// Loads a safetensors file with PyTorch's names and layouts (as
/// `safetensors.torch.save_file(model.state_dict(), path)` or [`save_safetensors`] write it)
/// into a copy of `model`.
///
/// # Errors
///
/// As [`load_pytorch`].
pub fn load_safetensors<M: Module>(model: &M, path: impl AsRef<Path>) -> Result<M, WeightsError> {
    let path = path.as_ref();
    let store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .skip_enum_variants(true)
        .map_indices_contiguous(false)
        .allow_partial(true)
        .validate(false);
    apply(model, store, path)
}

/// Writes `model`'s parameters to a safetensors file with PyTorch's names and layouts. The
/// file is written whole or not at all (a temporary file renamed into place); an existing file
/// is replaced.
///
/// # Errors
///
/// [`WeightsError::File`] when the file cannot be written.
pub fn save_safetensors<M: Module>(model: &M, path: impl AsRef<Path>) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let mut store = SafetensorsStore::from_file(path)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true)
        .metadata("producer", "highway-zoo")
        .overwrite(true);
    model.save_into(&mut store).map_err(|e| WeightsError::File {
        path: path.to_path_buf(),
        message: format!("cannot write safetensors: {e}"),
    })
}

/// The model's parameters under their PyTorch keys, with their PyTorch shapes: what
/// [`save_safetensors`] writes and what the loaders expect.
pub fn pytorch_keys<M: Module>(model: &M) -> BTreeMap<String, Vec<usize>> {
    model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| (t.name, t.shape.to_vec()))
        .collect()
}

/// Each parameter's Burn path (with enum variants) and its PyTorch key, in visiting order.
fn burn_to_pytorch<M: Module>(model: &M) -> BTreeMap<String, String> {
    let burn = model.collect(None, None, false);
    let torch = model.collect(None, None, true);
    burn.into_iter()
        .zip(torch)
        .map(|(b, t)| (b.name, t.name))
        .collect()
}

/// Applies `store` to a copy of `model`; the copy only when nothing is wrong.
fn apply<M: Module, S: ModuleStore>(
    model: &M,
    mut store: S,
    path: &Path,
) -> Result<M, WeightsError> {
    let file_error = |e: S::Error| WeightsError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    // Read the file first: an unreadable file is a file error, not a list of missing keys.
    let in_file: BTreeMap<String, Vec<usize>> = store
        .get_all_tensors()
        .map_err(file_error)?
        .iter()
        .map(|(k, t)| (k.clone(), t.shape.to_vec()))
        .collect();
    let mut loaded = model.clone();
    let result = loaded.load_from(&mut store).map_err(file_error)?;
    if result.missing.is_empty() && result.unused.is_empty() && result.errors.is_empty() {
        return Ok(loaded);
    }
    // Only a refused file needs the model's key table, to name each problem.
    let keys = Keys {
        torch: burn_to_pytorch(model),
        expected: pytorch_keys(model),
        in_file,
    };
    Err(WeightsError::Mismatch {
        path: path.to_path_buf(),
        problems: problems(&result, &keys),
    })
}

/// What the problems are reported with.
struct Keys {
    /// Burn path → PyTorch key.
    torch: BTreeMap<String, String>,
    /// PyTorch key → the model's shape in PyTorch's layout.
    expected: BTreeMap<String, Vec<usize>>,
    /// Key → shape of every tensor in the file.
    in_file: BTreeMap<String, Vec<usize>>,
}

impl Keys {
    /// The PyTorch key of a Burn path (the path itself if it is one already).
    fn key(&self, path: &str) -> String {
        self.torch
            .get(path)
            .cloned()
            .unwrap_or_else(|| path.to_string())
    }
}

/// One line per key that does not match, missing keys first.
fn problems(result: &ApplyResult, keys: &Keys) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, _) in &result.missing {
        let key = keys.key(path);
        let shape = keys
            .expected
            .get(&key)
            .map(|s| format!(" (the model's shape {s:?})"))
            .unwrap_or_default();
        problems.push(format!("missing key '{key}'{shape}"));
    }
    for key in &result.unused {
        let shape = keys
            .in_file
            .get(key)
            .map(|s| format!(" (shape {s:?} in the file)"))
            .unwrap_or_default();
        problems.push(format!(
            "unexpected key '{key}'{shape}: the model has no such parameter"
        ));
    }
    for error in &result.errors {
        problems.push(match error {
            ApplyError::ShapeMismatch { path, .. } => {
                let key = keys.key(path);
                format!(
                    "key '{key}': shape {:?} in the file, the model's is {:?}",
                    keys.in_file.get(&key).cloned().unwrap_or_default(),
                    keys.expected.get(&key).cloned().unwrap_or_default(),
                )
            }
            ApplyError::DTypeMismatch {
                path,
                expected,
                found,
            } => format!(
                "key '{}': dtype {found:?} in the file, the model's is {expected:?}",
                keys.key(path)
            ),
            other => other.to_string(),
        });
    }
    problems
}
