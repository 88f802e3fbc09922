//! Parity with the project's PyTorch reference nets (`bench/zoo_torch.py`): every fixture under
//! `tests/fixtures/` holds random weights as a PyTorch state dict, an input batch, PyTorch's
//! outputs and (for the layers and the MLP) the gradients of `(output · cotangent).sum()`. Each
//! test loads the state dict through [`weights::load_pytorch`], checks the key table, compares
//! the outputs and gradients to `1e-5` relative, and writes the weights back with
//! [`weights::save_safetensors`], which must give PyTorch's own safetensors file tensor for
//! tensor, bit for bit. `tests/fixtures/README.md` has the command that made the fixtures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::LstmState;
use burn::prelude::*;
use burn::store::{ModuleStore, SafetensorsStore, bridge};
use burn::tensor::{Gradients, TensorData};
use highway_core::{ConvHighwayConfig, GateOverride, GatedOutput, HighwayConfig};
use models::weights::{self, WeightsError};
use models::{CifarHighwayConfig, DeepMlpConfig, LstmLmConfig, MnistConvNetConfig, RhnLmConfig};
use rhn::{RhnCellConfig, RhnConfig, RhnMasks, RhnState};
use serde_json::Value;

/// Relative tolerance of every comparison with PyTorch (on `max(1, |expected|)`).
const TOLERANCE: f32 = 1e-5;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One fixture: its manifest entry and its tensors.
struct Fixture {
    name: String,
    entry: Value,
    io: BTreeMap<String, TensorData>,
}

fn read_safetensors(path: &Path) -> BTreeMap<String, TensorData> {
    let mut store = SafetensorsStore::from_file(path);
    store
        .get_all_tensors()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .iter()
        .map(|(k, t)| (k.clone(), bridge::to_data(t).expect("tensor data")))
        .collect()
}

impl Fixture {
    fn new(name: &str) -> Self {
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures_dir().join("manifest.json")).expect("manifest"),
        )
        .expect("manifest JSON");
        let entry = manifest["fixtures"][name].clone();
        assert!(entry.is_object(), "no fixture {name} in the manifest");
        let io = read_safetensors(&fixtures_dir().join(format!("{name}.io.safetensors")));
        Self {
            name: name.to_string(),
            entry,
            io,
        }
    }

    /// The Rust configuration the fixture was made for.
    fn config<C: serde::de::DeserializeOwned>(&self) -> C {
        serde_json::from_value(self.entry["config"]["fields"].clone())
            .unwrap_or_else(|e| panic!("{}: config: {e}", self.name))
    }

    fn data(&self, key: &str) -> &TensorData {
        self.io
            .get(key)
            .unwrap_or_else(|| panic!("{}: no tensor {key}", self.name))
    }

    fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Tensor<D> {
        Tensor::from_data(self.data(key).clone(), device)
    }

    fn tokens(&self, key: &str, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(self.data(key).clone(), device)
    }

    fn path(&self, what: &str) -> PathBuf {
        fixtures_dir().join(self.entry["files"][what].as_str().expect("file name"))
    }

    /// Loads the PyTorch state dict into `model`, after checking that the model's PyTorch keys
    /// and shapes are the manifest's, one for one.
    fn load<M: Module>(&self, model: &M) -> M {
        let expected: BTreeMap<String, Vec<usize>> = self.entry["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|p| {
                let shape = p["torch_shape"].as_array().expect("shape");
                (
                    p["torch_key"].as_str().expect("key").to_string(),
                    shape.iter().map(|d| d.as_u64().unwrap() as usize).collect(),
                )
            })
            .collect();
        assert_eq!(
            weights::pytorch_keys(model),
            expected,
            "{}: key table",
            self.name
        );
        weights::load_pytorch(model, self.path("weights"))
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// `actual` equals the fixture's `key` to [`TOLERANCE`].
    fn assert_close<const D: usize>(&self, key: &str, actual: Tensor<D>) {
        let expected = self.data(key);
        assert_eq!(
            actual.dims().to_vec(),
            expected.shape().to_vec(),
            "{}: {key} shape",
            self.name
        );
        close(
            &format!("{}: {key}", self.name),
            &actual.into_data(),
            expected,
        );
    }

    /// Every parameter gradient and the given input gradients equal PyTorch's, and no
    /// gradient of the fixture is left unchecked.
    fn assert_gradients<M: Module>(
        &self,
        model: &M,
        grads: &Gradients,
        inputs: Vec<(&str, TensorData)>,
    ) {
        let mut checked: Vec<String> = Vec::new();
        let params = weights_of(model.clone().map(&mut ToGradients(grads)));
        let all = params
            .into_iter()
            .chain(inputs.into_iter().map(|(k, d)| (k.to_string(), d)));
        for (key, grad) in all {
            let expected = self.data(&format!("grad.{key}"));
            assert_eq!(
                grad.shape(),
                expected.shape(),
                "{}: gradient of {key}",
                self.name
            );
            close(
                &format!("{}: gradient of {key}", self.name),
                &grad,
                expected,
            );
            checked.push(format!("grad.{key}"));
        }
        checked.sort();
        let expected: Vec<&String> = self.io.keys().filter(|k| k.starts_with("grad.")).collect();
        assert_eq!(
            checked.iter().collect::<Vec<_>>(),
            expected,
            "{}: gradients",
            self.name
        );
    }

    /// Saving `model` gives PyTorch's safetensors file tensor for tensor, bit for bit, and the
    /// saved file loads back to the same weights.
    fn assert_round_trip<M: Module>(&self, model: &M) {
        let dir = std::env::temp_dir().join(format!("hz-parity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let saved = dir.join(format!("{}.safetensors", self.name));
        weights::save_safetensors(model, &saved).unwrap();
        let ours = read_safetensors(&saved);
        let theirs = read_safetensors(&self.path("weights_safetensors"));
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{}: saved keys",
            self.name
        );
        for (key, data) in &ours {
            assert_eq!(
                data.shape(),
                theirs[key].shape(),
                "{}: {key} shape",
                self.name
            );
            assert_eq!(
                data.as_bytes(),
                theirs[key].as_bytes(),
                "{}: {key} bytes",
                self.name
            );
        }
        let back = weights::load_safetensors(model, &saved).unwrap();
        let (a, b) = (weights_of(model.clone()), weights_of(back));
        for (key, data) in &a {
            assert_eq!(
                data.as_bytes(),
                b[key].as_bytes(),
                "{}: reloaded {key}",
                self.name
            );
        }
        std::fs::remove_file(saved).ok();
    }
}

/// `|actual − expected| ≤ TOLERANCE · max(1, |expected|)` element by element.
fn close(what: &str, actual: &TensorData, expected: &TensorData) {
    let a = actual
        .clone()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let e = expected
        .clone()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    assert_eq!(a.len(), e.len(), "{what}: length");
    for (i, (a, e)) in a.iter().zip(&e).enumerate() {
        let err = (a - e).abs() / e.abs().max(1.0);
        assert!(err <= TOLERANCE, "{what}[{i}]: {a} vs PyTorch {e}");
    }
    assert!(
        e.iter().any(|v| *v != 0.0),
        "{what}: all zero in the fixture"
    );
}

/// The module's parameters under their PyTorch keys and in PyTorch's layout.
fn weights_of<M: Module>(model: M) -> BTreeMap<String, TensorData> {
    let dir = std::env::temp_dir().join(format!("hz-parity-w-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:?}.safetensors", std::thread::current().id()));
    weights::save_safetensors(&model, &path).unwrap();
    let out = read_safetensors(&path);
    std::fs::remove_file(path).ok();
    out
}

/// Replaces every parameter by its gradient.
struct ToGradients<'a>(&'a Gradients);

impl ModuleMapper for ToGradients<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let grad = param
            .val()
            .grad(self.0)
            .expect("every parameter has a gradient");
        Param::from_tensor(grad)
    }
}

fn plain() -> Device {
    Device::flex()
}

fn autodiff() -> Device {
    Device::flex().autodiff()
}

/// A layer fixture's input (tracked) and cotangent on `device`.
fn layer_input<const D: usize>(f: &Fixture, device: &Device) -> (Tensor<D>, Tensor<D>) {
    (
        f.tensor::<D>("input", device).require_grad(),
        f.tensor::<D>("cotangent", device),
    )
}

/// The gradient of a tracked input.
fn grad_of<const D: usize>(t: &Tensor<D>, grads: &Gradients) -> TensorData {
    t.grad(grads)
        .expect("a tracked input has a gradient")
        .into_data()
}

/// A gated layer's fixture: its outputs, transform gate, gradients and round trip.
fn gated_layer_matches<const D: usize, L: Module>(
    name: &str,
    init: impl Fn(&Fixture, &Device) -> L,
    forward: impl Fn(&L, Tensor<D>) -> GatedOutput<D>,
) {
    let device = autodiff();
    let f = Fixture::new(name);
    let layer = f.load(&init(&f, &device));
    let (x, cot) = layer_input::<D>(&f, &device);
    let out = forward(&layer, x.clone());
    f.assert_close("output", out.output.clone());
    f.assert_close("transform_gate", out.transform_gate);
    let grads = (out.output * cot).sum().backward();
    f.assert_gradients(&layer, &grads, vec![("input", grad_of(&x, &grads))]);
    f.assert_round_trip(&layer);
}

#[test]
fn highway_layers_match_pytorch() {
    let init = |f: &Fixture, d: &Device| f.config::<HighwayConfig>().init(d);
    gated_layer_matches::<2, _>("highway", init, |l, x| {
        l.forward_gated(x, GateOverride::Learned)
    });
    // Free carry gate, fused products, a rank-3 input.
    gated_layer_matches::<3, _>("highway_free_tanh", init, |l, x| {
        l.forward_gated(x, GateOverride::Learned)
    });
}

#[test]
fn conv_highway_layers_match_pytorch() {
    for name in ["conv_highway", "conv_highway_free_k5"] {
        let init = |f: &Fixture, d: &Device| f.config::<ConvHighwayConfig>().init(d);
        gated_layer_matches::<4, _>(name, init, |l, x| l.forward_gated(x, GateOverride::Learned));
    }
}

#[test]
fn rhn_cell_matches_pytorch() {
    let f = Fixture::new("rhn_cell");
    let device = autodiff();
    let cell = f.load(&f.config::<RhnCellConfig>().init(&device));
    let (x, cot) = layer_input::<2>(&f, &device);
    let s = f.tensor::<2>("state", &device).require_grad();
    let (next, gates) = cell.step(x.clone(), s.clone(), None);
    f.assert_close("output", next.clone());
    f.assert_close("state_out", next.clone());
    f.assert_close("gates", Tensor::stack::<3>(gates, 0));
    let grads = (next * cot).sum().backward();
    let inputs = vec![
        ("input", grad_of(&x, &grads)),
        ("state", grad_of(&s, &grads)),
    ];
    f.assert_gradients(&cell, &grads, inputs);
    f.assert_round_trip(&cell);
}

/// The RHN layer, through autodiff and through the hand-written backward through time.
#[test]
fn rhn_layer_matches_pytorch_in_both_backwards() {
    for name in ["rhn", "rhn_free", "rhn_masked"] {
        let f = Fixture::new(name);
        let device = autodiff();
        let rhn = f.load(&f.config::<RhnConfig>().init(&device));
        let masks = f.io.contains_key("mask.input").then(|| RhnMasks {
            input: Some(f.tensor("mask.input", &device)),
            hidden: Some(f.tensor("mask.hidden", &device)),
            ..RhnMasks::none()
        });
        let (x, cot) = layer_input::<3>(&f, &device);
        let s0 = f.tensor::<2>("state", &device).require_grad();
        let state = || Some(RhnState::new(s0.clone()));
        let out = rhn.forward_with_gates(x.clone(), state(), masks.as_ref(), None);
        f.assert_close("output", out.output.clone());
        f.assert_close("state_out", out.state.s.clone());
        f.assert_close("transform_mean", out.gates.transform_mean);
        let grads = (out.output * cot.clone()).sum().backward();
        let inputs = vec![
            ("input", grad_of(&x, &grads)),
            ("state", grad_of(&s0, &grads)),
        ];
        f.assert_gradients(&rhn, &grads, inputs);

        let (y, _, tape) = rhn.forward_deferred(x.clone(), state(), masks.as_ref());
        f.assert_close("output", y.clone());
        let mut grads = (y * cot).sum().backward();
        let upstream = tape
            .complete(&rhn, &rhn, &mut grads)
            .expect("tracked inputs");
        let inputs = vec![
            ("input", grad_of(&x, &upstream)),
            ("state", grad_of(&s0, &upstream)),
        ];
        f.assert_gradients(&rhn, &grads, inputs);
        f.assert_round_trip(&rhn);
    }
}

#[test]
fn deep_mlps_match_pytorch() {
    for name in ["deep_mlp", "deep_mlp_plain"] {
        let f = Fixture::new(name);
        let device = autodiff();
        let net = f.load(&f.config::<DeepMlpConfig>().init(&device));
        let (x, cot) = layer_input::<2>(&f, &device);
        let (logits, stack) = net.forward_with_gates(x.clone(), None);
        f.assert_close("output", logits.clone());
        match stack.gate_mean_per_layer() {
            Some(means) => f.assert_close("gate_mean_per_layer", means),
            None => assert!(!f.io.contains_key("gate_mean_per_layer")),
        }
        let grads = (logits * cot).sum().backward();
        f.assert_gradients(&net, &grads, vec![("input", grad_of(&x, &grads))]);
        f.assert_round_trip(&net);
    }
}

#[test]
fn conv_nets_match_pytorch() {
    // A plain device: evaluation, dropout is the identity.
    let device = plain();
    let f = Fixture::new("mnist_conv_net");
    let net = f.load(&f.config::<MnistConvNetConfig>().init(&device));
    f.assert_close("output", net.forward(f.tensor("input", &device)));
    f.assert_round_trip(&net);
    for name in [
        "cifar_net_maxpool_fc",
        "cifar_net_conv_avgpool",
        "cifar_net_plain",
    ] {
        let f = Fixture::new(name);
        let net = f.load(&f.config::<CifarHighwayConfig>().init(&device));
        let out = net.forward_with_gates(f.tensor("input", &device), None);
        match out.gate_mean_per_layer() {
            Some(means) => f.assert_close("gate_mean_per_layer", means),
            None => assert!(!f.io.contains_key("gate_mean_per_layer")),
        }
        f.assert_close("output", out.logits);
        f.assert_round_trip(&net);
    }
}

#[test]
fn language_models_match_pytorch() {
    let device = plain();
    for name in ["rhn_lm_tied", "rhn_lm_untied", "rhn_lm_masked"] {
        let f = Fixture::new(name);
        let lm = f.load(&f.config::<RhnLmConfig>().init(&device));
        let masks = f.io.contains_key("mask.embedding").then(|| RhnMasks {
            embedding: Some(f.tensor("mask.embedding", &device)),
            input: Some(f.tensor("mask.input", &device)),
            hidden: Some(f.tensor("mask.hidden", &device)),
            output: Some(f.tensor("mask.output", &device)),
        });
        let (logits, out) = lm.forward_with_gates(
            f.tokens("input", &device),
            Some(RhnState::new(f.tensor("state", &device))),
            masks.as_ref(),
            None,
        );
        f.assert_close("output", logits);
        f.assert_close("state_out", out.state.s);
        f.assert_close("transform_mean", out.gates.transform_mean);
        f.assert_round_trip(&lm);
    }
    for name in ["lstm_lm_tied", "lstm_lm_untied"] {
        let f = Fixture::new(name);
        let lm = f.load(&f.config::<LstmLmConfig>().init(&device));
        let state = LstmState::new(
            f.tensor("state.cell", &device),
            f.tensor("state.hidden", &device),
        );
        let (logits, next) = lm.forward(f.tokens("input", &device), Some(state), None);
        f.assert_close("output", logits);
        f.assert_close("state_out.cell", next.cell);
        f.assert_close("state_out.hidden", next.hidden);
        f.assert_round_trip(&lm);
    }
}

/// A state dict with a missing key, an extra key or a wrong shape is refused as a whole,
/// naming the key (and both shapes), and leaves the model as it was.
#[test]
fn mismatched_state_dicts_are_refused_naming_the_key() {
    let device = plain();
    let f = Fixture::new("deep_mlp");
    let config = f.config::<DeepMlpConfig>();
    let model = config.init(&device);
    let before = weights_of(model.clone());
    let mut good = read_safetensors(&f.path("weights_safetensors"));
    let dir = std::env::temp_dir().join(format!("hz-parity-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, tensors: &BTreeMap<String, TensorData>| {
        let path = dir.join(name);
        write_raw(&path, tensors);
        path
    };

    let mut missing = good.clone();
    missing.remove("body.layers.1.t.bias");
    let err =
        weights::load_safetensors(&model, write("missing.safetensors", &missing)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, WeightsError::Mismatch { .. }), "{text}");
    assert!(
        text.contains("missing key 'body.layers.1.t.bias'"),
        "{text}"
    );
    assert!(text.contains("[6]"), "{text}");

    let mut extra = good.clone();
    extra.insert(
        "body.layers.9.h.bias".into(),
        good["body.layers.1.t.bias"].clone(),
    );
    let text = weights::load_safetensors(&model, write("extra.safetensors", &extra))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("unexpected key 'body.layers.9.h.bias'"),
        "{text}"
    );

    good.insert(
        "output.weight".into(),
        TensorData::new(vec![0.5f32; 4 * 6], [4, 6]),
    );
    let path = write("shape.safetensors", &good);
    let text = weights::load_safetensors(&model, &path)
        .unwrap_err()
        .to_string();
    assert!(text.contains("key 'output.weight'"), "{text}");
    assert!(text.contains("[4, 6]") && text.contains("[5, 6]"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");

    // A real PyTorch state dict of the plain net: every highway key missing, every plain key
    // unexpected.
    let plain_pt = Fixture::new("deep_mlp_plain").path("weights");
    let text = weights::load_pytorch(&model, &plain_pt)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("missing key 'body.layers.0.h.weight' (the model's shape [6, 6])"),
        "{text}"
    );
    assert!(
        text.contains("unexpected key 'body.layers.0.linear.weight' (shape [6, 6] in the file)"),
        "{text}"
    );

    // Not a file of the format: a file error naming the file.
    let junk = dir.join("junk.pt");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    let err = weights::load_pytorch(&model, &junk).unwrap_err();
    assert!(matches!(err, WeightsError::File { .. }), "{err}");
    assert!(err.to_string().contains("junk.pt"), "{err}");

    // The model passed in is unchanged after every refusal.
    let after = weights_of(model);
    for (k, v) in &before {
        assert_eq!(v.as_bytes(), after[k].as_bytes(), "{k} changed");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Writes `tensors` as a safetensors file, as PyTorch would (names and layouts as given).
fn write_raw(path: &Path, tensors: &BTreeMap<String, TensorData>) {
    use safetensors::tensor::{Dtype, TensorView};
    let views = tensors.iter().map(|(k, d)| {
        let view = TensorView::new(Dtype::F32, d.shape().to_vec(), d.as_bytes()).expect("a view");
        (k.clone(), view)
    });
    safetensors::serialize_to_file(views, None, path).expect("written");
}
