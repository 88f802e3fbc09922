"""Parity fixtures: small zoo models with random weights, their inputs, outputs and gradients.

Written by ``torch_peer.py fixtures --out DIR`` (see ``write_all``). For every fixture NAME:

* ``NAME.pt``: ``torch.save(model.state_dict())`` of the ``zoo_torch`` reference module
  (float32, PyTorch layout; keys = Burn field paths, see ``bench/MAPPING.md``);
* ``NAME.weights.safetensors``: the same tensors under the same keys, for loading without
  burn-store's ``pytorch`` feature (``SafetensorsStore`` + ``PyTorchToBurnAdapter``);
* ``NAME.io.safetensors``: ``input`` (``state``, ``mask.*``), the outputs (``output``,
  ``state_out``, gate read-outs) and, for the layers and the MLP, ``cotangent``,
  ``grad.input`` (``grad.state``) and ``grad.<param key>`` (PyTorch layout) of
  ``(output * cotangent).sum()``;
* ``manifest.json``: per fixture the Rust config (struct name and fields, serde form), the
  Rust call, every tensor's dtype and shape, the key mapping, sensitivity checks and notes.

Reference values are computed in float64 from the float32 weights and inputs, then rounded
to float32, so they are the exact answer for the stored float32 parameters.
"""
from __future__ import annotations

import copy
import datetime
import json
import math
import os
import platform
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

import zoo_torch as zoo

COMMAND = ("~/torch-venv/bin/python bench/torch_peer.py fixtures --out models/tests/fixtures")

RHN_CONFIG_NOTE = ("config in the form RhnConfig { cell: RhnCellConfig } (rhn/src/layer.rs as of "
                   "the fixtures' date; earlier RhnConfig had the cell's fields flat)")

NO_DROPOUT = {"embedding": 0.0, "input": 0.0, "hidden": 0.0, "output": 0.0}


# --------------------------------------------------------------------------- #
# Random weights
# --------------------------------------------------------------------------- #
def randomize_(model: nn.Module, gen: torch.Generator, weight_gain: float = 1.0,
               bias_spread: float = 0.5) -> None:
    """Re-draw every weight, perturb every bias, in place.

    Matrices and kernels: uniform(±gain·√(3 / fan_in)) (unit-variance pre-activations for
    unit-variance inputs); embeddings: uniform(±1). Biases: their initial value (e.g. the
    transform bias) plus uniform(±bias_spread), so that no bias is exactly 0 or a constant.
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.add_(torch.empty_like(p).uniform_(-bias_spread, bias_spread, generator=gen))
                continue
            if name.endswith("embedding.weight"):
                a = 1.0
            elif name == "softmax_w":  # Burn layout [d_hidden, vocab]: fan-in is dim 0
                a = weight_gain * math.sqrt(3.0 / p.shape[0])
            else:  # PyTorch layout [out, in, ...]
                a = weight_gain * math.sqrt(3.0 / (p[0].numel()))
            p.uniform_(-a, a, generator=gen)


def uniform(shape, gen, lo=-1.0, hi=1.0):
    return torch.empty(*shape).uniform_(lo, hi, generator=gen)


def mask(shape, p, gen):
    keep = 1.0 - p
    return torch.bernoulli(torch.full(shape, keep), generator=gen) / keep


# --------------------------------------------------------------------------- #
# Fixture definitions
# --------------------------------------------------------------------------- #
class Fixture:
    """One fixture: the module (built from ``rust_module`` and the config ``fields`` by
    ``zoo_torch.from_config``), its inputs, and what its forward returns."""

    def __init__(self, name: str, rust_module: str, config_struct: str, fields: Dict,
                 inputs: Callable[[torch.Generator], Dict],
                 forward: Callable[[nn.Module, Dict], Dict], rust_call: str,
                 grads: bool = False, grad_inputs=("input",), notes: List[str] = (),
                 weight_gain: float = 1.0):
        self.name, self.rust_module, self.config_struct = name, rust_module, config_struct
        self.fields, self.inputs, self.forward = fields, inputs, forward
        self.rust_call, self.grads, self.grad_inputs = rust_call, grads, list(grad_inputs)
        self.notes, self.weight_gain = list(notes), weight_gain

    def build(self) -> nn.Module:
        return zoo.from_config(self.rust_module, self.fields)


def highway_fields(d, activation="Relu", transform_bias=-2.0, carry="Coupled",
                   carry_bias=None, fused=False):
    return {"d_model": d, "activation": activation, "transform_bias": transform_bias,
            "carry": carry, "carry_bias": carry_bias, "initializer": zoo.XAVIER, "fused": fused}


def conv_highway_fields(d, kernel_size=3, activation="Relu", transform_bias=-2.0,
                        carry="Coupled", carry_bias=None, fused=False):
    return {"d_model": d, "kernel_size": kernel_size, "activation": activation,
            "transform_bias": transform_bias, "carry": carry, "carry_bias": carry_bias,
            "initializer": zoo.XAVIER, "fused": fused}


def rhn_fields(d_input, d_hidden, depth, carry="Coupled", transform_bias=-2.0,
               carry_bias=None, fused=True):
    return {"d_input": d_input, "d_hidden": d_hidden, "depth": depth, "carry": carry,
            "transform_bias": transform_bias, "carry_bias": carry_bias,
            "initializer": zoo.RHN_UNIFORM, "fused": fused}


def gated_forward(model, io):
    y, t = model.forward_gated(io["input"])
    return {"output": y, "transform_gate": t}


def rhn_forward(model, io):
    masks = None
    if "mask.input" in io or "mask.hidden" in io:
        masks = zoo.RhnMasks(input=io.get("mask.input"), hidden=io.get("mask.hidden"))
    y, s, g = model.forward_with_gates(io["input"], io["state"], masks)
    return {"output": y, "state_out": s, "transform_mean": g}


def rhn_cell_forward(model, io):
    s, gates = model.step(io["input"], io["state"])
    return {"output": s, "state_out": s.clone(), "gates": torch.stack(gates, 0)}


def logits_and_gate_means(logits, gates):
    """``{"output": logits}``, with ``gate_mean_per_layer`` when the model has gates."""
    out = {"output": logits}
    if gates:
        out["gate_mean_per_layer"] = torch.stack([g.mean() for g in gates])
    return out


def mlp_forward(model, io):
    logits, _, gates = model.forward_with_gates(io["input"])
    return logits_and_gate_means(logits, gates)


def cifar_forward(model, io):
    logits, gates = model.forward_with_gates(io["input"])
    return logits_and_gate_means(logits, gates)


def lm_masks(io):
    keys = ("embedding", "input", "hidden", "output")
    if not any(f"mask.{k}" in io for k in keys):
        return None
    return zoo.RhnMasks(**{k: io.get(f"mask.{k}") for k in keys})


def rhn_lm_forward(model, io):
    logits, s, g = model.forward_with_gates(io["input"], io["state"], lm_masks(io))
    return {"output": logits, "state_out": s, "transform_mean": g}


def lstm_lm_forward(model, io):
    logits, (c, h) = model(io["input"], (io["state.cell"], io["state.hidden"]), lm_masks(io))
    return {"output": logits, "state_out.cell": c, "state_out.hidden": h}


def fixtures() -> List[Fixture]:
    fx = []

    # ---- highway-core ------------------------------------------------------------------
    f = highway_fields(6)
    fx.append(Fixture(
        "highway", "highway_core::Highway", "HighwayConfig", f,
        lambda g: {"input": uniform((4, 6), g)},
        gated_forward, "layer.forward_gated(input, GateOverride::Learned) -> "
        "GatedOutput { output, transform_gate }", grads=True,
        notes=["coupled carry, ReLU, b_T around -2 (init -2 + U(-0.5, 0.5))"]))
    f = highway_fields(5, activation="Tanh", transform_bias=-1.0, carry="Free", fused=True)
    fx.append(Fixture(
        "highway_free_tanh", "highway_core::Highway", "HighwayConfig", f,
        lambda g: {"input": uniform((2, 3, 5), g)},
        gated_forward, "layer.forward_gated(input, GateOverride::Learned) (rank-3 input)",
        grads=True,
        notes=["free carry gate c (b_C init = -transform_bias = 1), tanh, fused products, "
               "rank-3 input [2, 3, 5] (features last)"]))
    f = conv_highway_fields(3)
    fx.append(Fixture(
        "conv_highway", "highway_core::ConvHighway", "ConvHighwayConfig", f,
        lambda g: {"input": uniform((2, 3, 5, 5), g)},
        gated_forward, "layer.forward_gated(input, GateOverride::Learned)", grads=True,
        notes=["3x3 same padding (1 each side), coupled, ReLU; NCHW"]))
    f = conv_highway_fields(2, kernel_size=5, activation="Tanh", transform_bias=-1.0,
                            carry="Free", fused=True)
    fx.append(Fixture(
        "conv_highway_free_k5", "highway_core::ConvHighway", "ConvHighwayConfig", f,
        lambda g: {"input": uniform((1, 2, 6, 7), g)},
        gated_forward, "layer.forward_gated(input, GateOverride::Learned)", grads=True,
        notes=["5x5 same padding (2 each side) on a non-square 6x7 map, free carry, tanh, "
               "fused"]))

    # ---- rhn ---------------------------------------------------------------------------
    f = rhn_fields(3, 4, 3)
    fx.append(Fixture(
        "rhn_cell", "rhn::RhnCell", "RhnCellConfig", f,
        lambda g: {"input": uniform((2, 3), g), "state": uniform((2, 4), g, -0.5, 0.5)},
        rhn_cell_forward, "cell.step(input, state, None) -> (output = new state, gates: "
        "Vec of depth [batch, d_hidden], stacked on dim 0 as `gates`)",
        grads=True, grad_inputs=("input", "state"),
        notes=["one time step, recurrence depth 3, coupled, fused (default); "
               "state_out == output (the new state)"]))
    f = rhn_fields(3, 4, 3)
    fx.append(Fixture(
        "rhn", "rhn::Rhn", "RhnConfig", {"cell": f},
        lambda g: {"input": uniform((2, 5, 3), g), "state": uniform((2, 4), g, -0.5, 0.5)},
        rhn_forward, "rhn.forward_with_gates(input, Some(RhnState::new(state)), None, None) "
        "-> RhnOutput { output, state.s = state_out, gates.transform_mean }",
        grads=True, grad_inputs=("input", "state"),
        notes=["batch 2, seq 5, batch first; input only at micro-layer 0",
               RHN_CONFIG_NOTE]))
    f = rhn_fields(3, 4, 2, carry="Free", transform_bias=-1.0, fused=False)
    fx.append(Fixture(
        "rhn_free", "rhn::Rhn", "RhnConfig", {"cell": f},
        lambda g: {"input": uniform((2, 4, 3), g), "state": uniform((2, 4), g, -0.5, 0.5)},
        rhn_forward, "rhn.forward_with_gates(input, Some(RhnState::new(state)), None, None)",
        grads=True, grad_inputs=("input", "state"),
        notes=["free carry (w_c, layers.l.r_c; b_C init 1), unfused products",
               RHN_CONFIG_NOTE]))
    f = rhn_fields(3, 4, 3, transform_bias=-1.0)
    fx.append(Fixture(
        "rhn_masked", "rhn::Rhn", "RhnConfig", {"cell": f},
        lambda g: {"input": uniform((2, 4, 3), g), "state": uniform((2, 4), g, -0.5, 0.5),
                   "mask.input": mask((2, 3), 0.4, g), "mask.hidden": mask((2, 4), 0.3, g)},
        rhn_forward, "rhn.forward_with_gates(input, Some(RhnState::new(state)), "
        "Some(&RhnMasks { input: Some(mask.input), hidden: Some(mask.hidden), ..none() }), None)",
        grads=True, grad_inputs=("input", "state"),
        notes=["variational dropout masks given explicitly (inverted: kept = 1/(1-p); input "
               "p 0.4, hidden p 0.3): m_i scales x before W_H/W_T, m_h scales the state "
               "entering every R_l product; the carry term uses the unmasked state",
               RHN_CONFIG_NOTE]))

    # ---- models ------------------------------------------------------------------------
    f = {"d_input": 10, "d_hidden": 6, "depth": 4, "n_classes": 5, "kind": "Highway",
         "activation": "Relu", "transform_bias": -1.0, "initializer": zoo.XAVIER,
         "fused": False}
    fx.append(Fixture(
        "deep_mlp", "models::DeepMlp", "DeepMlpConfig", f,
        lambda g: {"input": uniform((3, 10), g)},
        mlp_forward, "net.forward(input); gate_mean_per_layer = "
        "net.forward_with_gates(input, None).1.gate_mean_per_layer()", grads=True,
        notes=["Plain(10 -> 6, ReLU) + 3 highway layers + Linear(6 -> 5) logits"]))
    f = dict(f, kind="Plain")
    fx.append(Fixture(
        "deep_mlp_plain", "models::DeepMlp", "DeepMlpConfig", f,
        lambda g: {"input": uniform((3, 10), g)},
        mlp_forward, "net.forward(input)", grads=True,
        notes=["MlpBody::Plain: Burn paths body.Plain.layers.{i}.linear.*"]))
    f = {"width": 4, "kind": "Highway", "transform_bias": -1.0,
         "dropout": [0.2, 0.3, 0.4, 0.5], "n_classes": 10}
    fx.append(Fixture(
        "mnist_conv_net", "models::MnistConvNet", "MnistConvNetConfig", f,
        lambda g: {"input": uniform((2, 1, 28, 28), g, 0.0, 1.0)},
        lambda m, io: {"output": m(io["input"])}, "net.forward(input)",
        notes=["evaluation: dropout is identity. Burn's Dropout is active on an autodiff "
               "device while training is enabled: run the Rust forward on a plain "
               "(non-autodiff) device"]))
    stages = [{"width": 4, "highway_layers": 1}, {"width": 6, "highway_layers": 2}]
    for head, kind, name in [("MaxPoolFc", "Highway", "cifar_net_maxpool_fc"),
                             ("ConvAvgPool", "Highway", "cifar_net_conv_avgpool"),
                             ("MaxPoolFc", "Plain", "cifar_net_plain")]:
        f = {"stages": stages, "head": head, "hidden": 5, "kind": kind,
             "transform_bias": -1.0, "dropout": 0.2, "n_classes": 7}
        fx.append(Fixture(
            name, "models::CifarNet", "CifarHighwayConfig", f,
            lambda g: {"input": uniform((2, 3, 8, 8), g)},
            cifar_forward, "net.forward_with_gates(input, None) -> CifarOutput { logits = "
            "output, gate_mean_per_layer() }",
            notes=[f"{kind} stages {stages}, head {head}; 8x8 input (any side divisible by "
                   "2^(stages-1) works); dropout identity in evaluation (non-autodiff device)"]))
    rhn_lm_tied = {"vocab_size": 11, "d_hidden": 6, "depth": 3, "embed_size": None,
                   "tied_embeddings": True, "transform_bias": -1.0, "carry": "Coupled",
                   "initializer": zoo.RHN_UNIFORM, "fused": True, "dropout": NO_DROPOUT}
    f = rhn_lm_tied
    fx.append(Fixture(
        "rhn_lm_tied", "models::RhnLm", "RhnLmConfig", f,
        lambda g: {"input": torch.randint(0, 11, (2, 4), generator=g),
                   "state": uniform((2, 6), g, -0.5, 0.5)},
        rhn_lm_forward, "lm.forward_with_gates(input, Some(RhnState::new(state)), None, None) "
        "-> (logits = output, RhnOutput { state.s = state_out, gates.transform_mean })",
        notes=["tied: no softmax_w, logits = y E^T + softmax_b; tokens int64 [batch, seq]"]))
    f = dict(f, vocab_size=5, depth=2, tied_embeddings=False)
    fx.append(Fixture(
        "rhn_lm_untied", "models::RhnLm", "RhnLmConfig", f,
        lambda g: {"input": torch.randint(0, 5, (2, 4), generator=g),
                   "state": uniform((2, 6), g, -0.5, 0.5)},
        rhn_lm_forward, "lm.forward_with_gates(input, Some(RhnState::new(state)), None, None)",
        notes=["untied, vocab 5 < d_hidden 6 and embed_size None: d_embed = vocab = 5 "
               "(authors' rule); softmax_w is a bare Param [d_hidden, vocab], same layout "
               "in both frameworks"]))
    f = dict(rhn_lm_tied)
    fx.append(Fixture(
        "rhn_lm_masked", "models::RhnLm", "RhnLmConfig", f,
        lambda g: {"input": torch.randint(0, 11, (2, 5), generator=g),
                   "state": uniform((2, 6), g, -0.5, 0.5),
                   "mask.embedding": mask((2, 11), 0.25, g), "mask.input": mask((2, 6), 0.4, g),
                   "mask.hidden": mask((2, 6), 0.25, g), "mask.output": mask((2, 6), 0.4, g)},
        rhn_lm_forward, "lm.forward_with_gates(input, Some(RhnState::new(state)), "
        "Some(&RhnMasks { embedding, input, hidden, output }), None)",
        notes=["all four variational masks given explicitly (x per batch row and word type "
               "[batch, vocab], i, h, o); the config's dropout stays 0 (masks are passed)"]))
    f = {"vocab_size": 11, "d_hidden": 6, "tied_embeddings": True,
         "initializer": zoo.RHN_UNIFORM, "dropout": NO_DROPOUT}
    fx.append(Fixture(
        "lstm_lm_tied", "models::LstmLm", "LstmLmConfig", f,
        lambda g: {"input": torch.randint(0, 11, (2, 4), generator=g),
                   "state.cell": uniform((2, 6), g), "state.hidden": uniform((2, 6), g, -0.5, 0.5)},
        lstm_lm_forward, "lm.forward(input, Some(LstmState::new(state.cell, state.hidden)), "
        "None) -> (output, LstmState { cell, hidden })",
        notes=["Burn Lstm: gates input/forget/output/cell, each input_transform + "
               "hidden_transform with a bias each"]))
    f = dict(f, vocab_size=7, d_hidden=5, tied_embeddings=False)
    fx.append(Fixture(
        "lstm_lm_untied", "models::LstmLm", "LstmLmConfig", f,
        lambda g: {"input": torch.randint(0, 7, (2, 4), generator=g),
                   "state.cell": uniform((2, 5), g), "state.hidden": uniform((2, 5), g, -0.5, 0.5)},
        lstm_lm_forward, "lm.forward(input, Some(LstmState::new(state.cell, state.hidden)), None)",
        notes=["untied: softmax_w [d_hidden, vocab] bare Param"]))
    return fx


# --------------------------------------------------------------------------- #
# Running one fixture
# --------------------------------------------------------------------------- #
def to64(io):
    return {k: (v.double() if v.is_floating_point() else v) for k, v in io.items()}


def spec(t: torch.Tensor) -> Dict:
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}


def gate_stats(t: torch.Tensor) -> Dict:
    t = t.detach().double()
    return {"min": t.min().item(), "max": t.max().item(), "mean": t.mean().item(),
            "std": t.std().item() if t.numel() > 1 else 0.0,
            "frac_in_0.02_0.98": ((t > 0.02) & (t < 0.98)).double().mean().item()}


def run_fixture(fx: Fixture, seed: int):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the Burn-style initialisers draw from the global generator
    model = fx.build().float()
    model.eval()
    randomize_(model, gen, weight_gain=fx.weight_gain)
    io = fx.inputs(gen)

    # Reference: float64 from the float32 values.
    m64 = copy.deepcopy(model).double()
    io64 = to64(io)
    leaves = [k for k in fx.grad_inputs if k in io64] if fx.grads else []
    for k in leaves:
        io64[k].requires_grad_(True)
    params = list(m64.named_parameters())
    out64 = fx.forward(m64, io64)
    cot = uniform(tuple(out64["output"].shape), gen)

    # Gradients of (output * cotangent).sum() (all fixtures for the checks; saved for some).
    loss = (out64["output"] * cot.double()).sum()
    wrt = [io64[k] for k in leaves] + [p for _, p in params]
    grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    grad_in = dict(zip(leaves, grads[:len(leaves)]))
    grad_p = {n: g for (n, _), g in zip(params, grads[len(leaves):])}

    tensors = {k: v.contiguous() for k, v in io.items()}
    for k, v in out64.items():
        tensors[k] = v.detach().float().contiguous()
    if fx.grads:
        tensors["cotangent"] = cot.contiguous()
        for k, g in grad_in.items():
            tensors[f"grad.{k}"] = g.float().contiguous()
        for n, g in grad_p.items():
            tensors[f"grad.{n}"] = (torch.zeros_like(dict(params)[n]) if g is None else g
                                    ).float().contiguous()

    # Checks: float32 forward error, gate saturation, every parameter matters.
    with torch.no_grad():
        out32 = fx.forward(model, io)
    f32_err = max((out32[k].double() - out64[k].detach()).abs().max().item() for k in out64)
    zero_grad = [n for n, g in grad_p.items() if g is None or g.abs().max().item() == 0.0]
    rms = {n: (g.pow(2).mean().sqrt().item() if g is not None else 0.0)
           for n, g in grad_p.items()}
    checks = {
        "f32_forward_max_abs_err": f32_err,
        "output_std": out64["output"].detach().std().item(),
        "params_with_zero_grad": zero_grad,
        "min_param_grad_rms": min(rms.values()),
    }
    for k in ("transform_gate", "gates"):
        if k in out64:
            checks["gates"] = gate_stats(out64[k])
    if "transform_mean" in out64:
        checks["transform_mean"] = gate_stats(out64["transform_mean"])
    if "gate_mean_per_layer" in out64:
        checks["gate_mean_per_layer"] = [round(v, 4) for v in
                                         out64["gate_mean_per_layer"].tolist()]
    if "input" in grad_in:
        checks["grad_input_rms"] = grad_in["input"].pow(2).mean().sqrt().item()
    checks["_input_keys"] = list(io)
    return model, tensors, checks


def sensitivity_ok(checks: Dict) -> List[str]:
    problems = []
    if checks["params_with_zero_grad"]:
        problems.append(f"parameters with zero gradient: {checks['params_with_zero_grad']}")
    g = checks.get("gates")
    if g is not None and (g["frac_in_0.02_0.98"] < 0.9 or g["std"] < 0.02):
        problems.append(f"gates saturated or constant: {g}")
    if checks["output_std"] < 1e-3:
        problems.append("output nearly constant")
    return problems


# --------------------------------------------------------------------------- #
# Writing, and reading back
# --------------------------------------------------------------------------- #
def compact_json(obj, indent: int = 0, width: int = 120) -> str:
    """JSON with one line per value that fits in `width` characters, indented otherwise."""
    flat = json.dumps(obj)
    if len(flat) + indent <= width or not isinstance(obj, (dict, list)) or not obj:
        return flat
    pad = " " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {compact_json(v, indent + 1, width)}"
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + compact_json(v, indent + 1, width) for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def write_all(out_dir: str, seed: int = 0, argv=None) -> Dict:
    os.makedirs(out_dir, exist_ok=True)
    manifest = {
        "generator": "bench/torch_peer.py fixtures (bench/fixtures.py, bench/zoo_torch.py)",
        "command": COMMAND,
        "argv": list(argv or []),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
        "seed": seed,
        "dtype": "float32 weights and float tensors; tokens int64",
        "reference": "outputs and gradients computed in float64 from the float32 values, "
                     "rounded to float32",
        "layouts": "all tensors in PyTorch layout (nn.Linear weight [out, in]); Burn's "
                   "Linear weight and its gradient are [in, out]: transpose to compare. "
                   "See each fixture's params table.",
        "loading": "PytorchStore::from_file(NAME.pt) (burn feature `pytorch`; applies "
                   "PyTorchToBurnAdapter and skips enum variants), or "
                   "SafetensorsStore::from_file(NAME.weights.safetensors)"
                   ".with_from_adapter(PyTorchToBurnAdapter).skip_enum_variants(true)",
        "suggested_tolerance": "float32 Rust forward: abs 1e-5 + rel 1e-4 (see each "
                               "fixture's checks.f32_forward_max_abs_err for PyTorch's own "
                               "float32 error)",
        "fixtures": {},
    }
    total = 0
    for i, fx in enumerate(fixtures()):
        model, tensors, checks = run_fixture(fx, seed * 1000 + i)
        problems = sensitivity_ok(checks)
        if problems:
            raise RuntimeError(f"fixture {fx.name}: {problems}")
        sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        pt = os.path.join(out_dir, f"{fx.name}.pt")
        torch.save(sd, pt)
        wst = os.path.join(out_dir, f"{fx.name}.weights.safetensors")
        save_file(sd, wst, metadata={"fixture": fx.name, "layout": "pytorch"})
        iost = os.path.join(out_dir, f"{fx.name}.io.safetensors")
        save_file(tensors, iost, metadata={"fixture": fx.name, "torch": torch.__version__})
        for path in (pt, wst, iost):
            os.chmod(path, 0o644)  # safetensors writes 0600
            total += os.path.getsize(path)
        in_keys = checks.pop("_input_keys")
        manifest["fixtures"][fx.name] = {
            "rust_module": fx.rust_module,
            "config": {"struct": fx.config_struct, "fields": fx.fields},
            "rust_call": fx.rust_call,
            "files": {"weights": os.path.basename(pt), "weights_safetensors":
                      os.path.basename(wst), "io": os.path.basename(iost)},
            "inputs": {k: spec(tensors[k]) for k in in_keys},
            "outputs": {k: spec(v) for k, v in tensors.items()
                        if k not in in_keys and not k.startswith("grad.") and k != "cotangent"},
            "gradients": ({"loss": "(output * cotangent).sum()",
                           "keys": [k for k in tensors if k.startswith("grad.")]}
                          if fx.grads else None),
            "params": zoo.param_table(model),
            "num_params": sum(p.numel() for p in model.parameters()),
            "checks": checks,
            "notes": fx.notes,
        }
    mpath = os.path.join(out_dir, "manifest.json")
    with open(mpath, "w") as f:
        f.write(compact_json(manifest) + "\n")
    total += os.path.getsize(mpath)
    readme = os.path.join(out_dir, "README.md")
    with open(readme, "w") as f:
        f.write(readme_text(manifest))
    total += os.path.getsize(readme)
    print(f"wrote {len(manifest['fixtures'])} fixtures to {out_dir} ({total / 1024:.0f} KiB)")
    verify(out_dir)
    return manifest


def readme_text(manifest: Dict) -> str:
    rows = []
    for name, e in manifest["fixtures"].items():
        ins = ", ".join(f"`{k}` {v['shape']}" + (" int64" if v["dtype"] == "int64" else "")
                        for k, v in e["inputs"].items())
        outs = ", ".join(f"`{k}` {v['shape']}" for k, v in e["outputs"].items())
        grads = "yes" if e["gradients"] else "—"
        rows.append(f"| `{name}` | `{e['rust_module']}` (`{e['config']['struct']}`) | "
                    f"{e['num_params']} | {ins} | {outs} | {grads} |")
    table = "\n".join(rows)
    return f"""# Parity fixtures (PyTorch reference → Burn)

Made by

    {manifest['command']}

with torch {manifest['torch']} (Python {manifest['python']}) on {manifest['date']}, seed
{manifest['seed']} (fixture *i* draws from seed `1000·seed + i`). Generator:
`bench/torch_peer.py` → `bench/fixtures.py`, modules from `bench/zoo_torch.py`; key mapping
in `bench/MAPPING.md`. Rerunning the command rewrites every file here (same values for the
same torch version and seed).

## Files, per fixture `NAME`

- `NAME.pt`: `torch.save(model.state_dict())`, float32, PyTorch layout, keys = Burn field
  paths without enum variant names. Load in Rust with `PytorchStore::from_file` (burn
  feature `pytorch`): the adapter transposes `Linear` weights and skips enum variants.
- `NAME.weights.safetensors`: the same tensors under the same keys, for
  `SafetensorsStore::from_file(..).with_from_adapter(PyTorchToBurnAdapter).skip_enum_variants(true)`.
- `NAME.io.safetensors`: `input` (and `state` / `state.cell`, `state.hidden`, `mask.*`), the
  outputs, and for the layers and the MLPs `cotangent`, `grad.input` (`grad.state`) and
  `grad.<param key>` = gradients of `(output * cotangent).sum()`, **in PyTorch layout** (a
  Burn `Linear` weight gradient is the transpose).
- `manifest.json`: per fixture the Rust config (`config.struct` and `config.fields`, in the
  config's serde JSON form, so `serde_json::from_value::<HighwayConfig>(fields)` builds it),
  the Rust call the outputs correspond to (`rust_call`), every tensor's dtype and shape, the
  parameter table (`params`: PyTorch key, Burn path, both shapes, transform), checks
  (float32 error, gate statistics, no parameter without gradient) and notes.

Weights are random (matrices uniform ±√(3/fan_in), embeddings ±1, every bias its initial
value + U(−0.5, 0.5)); outputs and gradients are computed in float64 from the float32 values
and stored as float32. Suggested tolerance for a float32 Rust forward: abs 1e-5 + rel 1e-4.
Evaluation only: dropout is off (Burn's `Dropout` is active on an autodiff device, so run the
conv nets' forward on a plain device), variational masks are given explicitly where used.

| fixture | Rust module (config) | params | inputs | outputs | grads |
|---|---|---|---|---|---|
{table}
"""


def verify(out_dir: str) -> None:
    """Load every fixture back: weights into a fresh module (strict), forward again in
    float64, compare with the stored outputs; the two weight files must agree."""
    with open(os.path.join(out_dir, "manifest.json")) as f:
        manifest = json.load(f)
    specs = {fx.name: fx for fx in fixtures()}
    for name, entry in manifest["fixtures"].items():
        fx = specs[name]
        torch.manual_seed(12345)
        model = fx.build().double().eval()
        sd = torch.load(os.path.join(out_dir, entry["files"]["weights"]), weights_only=True)
        model.load_state_dict(sd, strict=True)
        st = load_file(os.path.join(out_dir, entry["files"]["weights_safetensors"]))
        assert set(st) == set(sd) and all(torch.equal(st[k], sd[k]) for k in sd), name
        assert all(v.dtype == torch.float32 for v in sd.values()), name
        io = load_file(os.path.join(out_dir, entry["files"]["io"]))
        inputs = to64({k: io[k] for k in entry["inputs"]})
        with torch.no_grad():
            out = fx.forward(model, inputs)
        for k in entry["outputs"]:
            err = (out[k].float() - io[k]).abs().max().item()
            assert err <= 1e-6 * max(1.0, io[k].abs().max().item()), (name, k, err)
        if entry["gradients"]:
            for k in entry["gradients"]["keys"]:
                key = k[len("grad."):]
                ref = sd[key] if key in sd else io[key]
                assert io[k].shape == ref.shape, (name, k)
        for row in entry["params"]:
            assert list(sd[row["torch_key"]].shape) == row["torch_shape"], (name, row)
    print(f"verified {len(manifest['fixtures'])} fixtures in {out_dir}: weights load "
          "strictly, outputs reproduce, gradient shapes match")
