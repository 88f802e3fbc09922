#!/usr/bin/env python3
"""PyTorch reference implementations of the highway-zoo layers and models.

Each class computes what the Rust (Burn 0.22.1) module of the same name computes in its
``forward``, with the same parameters under the same names, so that ``model.state_dict()``
can be loaded into the Burn module by burn-store's PyTorch import with the identity key
mapping, and the parity fixtures (``torch_peer.py fixtures``) can be checked in Rust.

Rust sources mirrored (paths relative to the repository root):

=================  ==============================================  ===========================
PyTorch class      Rust module                                     file
=================  ==============================================  ===========================
Highway            highway_core::Highway                           highway-core/src/dense.rs
ConvHighway        highway_core::ConvHighway                       highway-core/src/conv.rs
Plain, ConvPlain   highway_core::{Plain, ConvPlain}                highway-core/src/plain.rs
LayerStack         highway_core::LayerStack<L> (HighwayStack, ...) highway-core/src/stack.rs
RhnCell            rhn::RhnCell (+ RhnMicroLayer)                  rhn/src/cell.rs
Rhn                rhn::Rhn                                        rhn/src/layer.rs
RhnMasks           rhn::RhnMasks (variational dropout)             rhn/src/dropout.rs
DeepMlp            models::DeepMlp                                 models/src/mlp.rs
MnistConvNet       models::MnistConvNet                            models/src/mnist_conv.rs
CifarNet           models::CifarNet                                models/src/cifar.rs
RhnLm              models::RhnLm                                   models/src/rhn_lm.rs
LstmLm, BurnLstm   models::LstmLm, burn::nn::Lstm                  models/src/lstm_lm.rs
=================  ==============================================  ===========================

Equations (coupled carry ``C = 1 - T``; Rust computes ``(H - x)·T + x``, and so do these):

    Highway:  y = act(x W_H + b_H)·T + x·C,  T = σ(x W_T + b_T),  C = 1 − T or σ(x W_C + b_C)
    RHN step: s_0 = s^{[t-1]};  for l = 0..L-1 (input only at l = 0, no input bias):
              h_l = tanh(W_H x_t [l=0] + R_H,l s_{l-1} + b_H,l)
              t_l = σ   (W_T x_t [l=0] + R_T,l s_{l-1} + b_T,l)
              s_l = h_l·t_l + s_{l-1}·(1 − t_l)    (free carry: s_{l-1}·c_l, c_l = σ(W_C.. + R_C,l.. + b_C,l))
              y_t = s^{[t]} = s_{L-1}

Key mapping: the ``state_dict`` keys are the Burn field paths without enum variant names,
``Linear`` weights ``[out, in]``; the table, per model, is written once, in the Rust crate's
docs (``models/src/weights.rs``), and ``bench/MAPPING.md`` says what burn-store 0.22.1 does with
it.  Every fixture's ``manifest.json`` entry lists its keys one by one (``params``), and the
Rust parity tests check the two agree.

Building from Rust configurations and loading Rust exports: ``from_config(model, config)``
maps a zoo config in its serde JSON form (a run's ``config.json`` ``"model"`` entry, a
fixture's ``config.fields``) to its class; ``load_export("NAME.json")`` rebuilds a model the
Rust ``export`` binary wrote (``NAME.json`` + ``NAME.safetensors``, format
``highway-zoo-export/1``) with its weights, in eval mode.

Everything here is evaluation-mode numerics (dropout off; ``RhnMasks`` can be passed
explicitly); training details that only matter for speed (the fused products, the Rust RHN's
deferred backward through time) compute the same values.
"""
from __future__ import annotations

import inspect
import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------- #
# Burn initialisers (burn-nn 0.22.1 src/initializer.rs), in their serde JSON form
# --------------------------------------------------------------------------- #
#: Burn's ``Initializer::XavierUniform { gain: 1.0 }`` (the highway layers' default).
XAVIER = {"XavierUniform": {"gain": 1.0}}
#: The RHN / LM default ``Initializer::Uniform { min: -0.04, max: 0.04 }``.
RHN_UNIFORM = {"Uniform": {"min": -0.04, "max": 0.04}}
#: ``models::CAFFE_XAVIER`` = ``KaimingUniform { gain: 1.0, fan_out_only: false }``.
CAFFE_XAVIER = {"KaimingUniform": {"gain": 1.0, "fan_out_only": False}}
#: Burn's ``LinearConfig`` / ``Conv2dConfig`` default (= PyTorch's default bound 1/sqrt(fan_in)).
BURN_DEFAULT = {"KaimingUniform": {"gain": 1.0 / math.sqrt(3.0), "fan_out_only": False}}


def burn_init_(tensor: torch.Tensor, initializer, fan_in: Optional[int] = None,
               fan_out: Optional[int] = None) -> torch.Tensor:
    """Fill ``tensor`` in place as Burn's ``Initializer::init_with(shape, fan_in, fan_out)``.

    The distribution is element-wise, so the PyTorch layout of the tensor does not matter;
    ``fan_in``/``fan_out`` are the ones Burn passes (Linear: d_input/d_output; Conv2d:
    c_in·k·k / c_out·k·k; a Linear or Conv2d bias uses the layer's fans too).
    """
    if isinstance(initializer, str):
        kind, a = initializer, {}
    else:
        (kind, a), = initializer.items()
    with torch.no_grad():
        if kind == "Constant":
            return tensor.fill_(a["value"])
        if kind == "Ones":
            return tensor.fill_(1.0)
        if kind == "Zeros":
            return tensor.zero_()
        if kind == "Uniform":
            return tensor.uniform_(a["min"], a["max"])
        if kind == "Normal":
            return tensor.normal_(a["mean"], a["std"])
        if kind in ("KaimingUniform", "KaimingNormal"):
            fan = fan_out if a.get("fan_out_only") else fan_in
            std = a["gain"] / math.sqrt(fan)
            if kind == "KaimingUniform":
                b = math.sqrt(3.0) * std
                return tensor.uniform_(-b, b)
            return tensor.normal_(0.0, std)
        if kind in ("XavierUniform", "XavierNormal"):
            std = a["gain"] * math.sqrt(2.0 / (fan_in + fan_out))
            if kind == "XavierUniform":
                b = math.sqrt(3.0) * std
                return tensor.uniform_(-b, b)
            return tensor.normal_(0.0, std)
    raise UnsupportedInitializer(f"unsupported initializer {initializer!r}")


class UnsupportedInitializer(ValueError):
    """A Burn ``Initializer`` variant :func:`burn_init_` does not mirror (e.g. ``Orthogonal``).
    :func:`load_export` builds such a model with another initialiser (the weights are loaded
    over it anyway)."""


def burn_linear(d_in: int, d_out: int, bias: bool = True, initializer=BURN_DEFAULT,
                bias_value: Optional[float] = None) -> nn.Linear:
    """``LinearConfig::new(d_in, d_out).with_bias(bias).with_initializer(i).init()``; with
    ``bias_value`` the bias is then replaced by that constant (as the zoo's layers do)."""
    layer = nn.Linear(d_in, d_out, bias=bias)
    burn_init_(layer.weight, initializer, d_in, d_out)
    if bias:
        if bias_value is None:
            burn_init_(layer.bias, initializer, d_in, d_out)
        else:
            burn_init_(layer.bias, {"Constant": {"value": bias_value}})
    return layer


def burn_conv2d(c_in: int, c_out: int, k: int, padding: int, initializer=BURN_DEFAULT,
                bias_value: Optional[float] = None) -> nn.Conv2d:
    """``Conv2dConfig::new([c_in, c_out], [k, k])`` (stride 1, bias) with symmetric padding."""
    conv = nn.Conv2d(c_in, c_out, k, padding=padding)
    fan_in, fan_out = c_in * k * k, c_out * k * k
    burn_init_(conv.weight, initializer, fan_in, fan_out)
    if bias_value is None:
        burn_init_(conv.bias, initializer, fan_in, fan_out)
    else:
        burn_init_(conv.bias, {"Constant": {"value": bias_value}})
    return conv


_ACTIVATIONS = {
    "Relu": torch.relu,
    "Tanh": torch.tanh,
    "Sigmoid": torch.sigmoid,
    "Identity": lambda x: x,
    "Gelu": F.gelu,
}


def activation_fn(name: str):
    """Burn ``ActivationConfig`` unit variant name (``"Relu"``, ``"Tanh"``, ...) → function."""
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"activation {name!r} not mirrored (have {sorted(_ACTIVATIONS)})")


def highway_combine(h, t, c, x):
    """``highway_core::highway_combine``: ``(h − x)·t + x`` (coupled) or ``h·t + x·c``."""
    if c is None:
        return (h - x) * t + x
    return h * t + x * c


def apply_gate_override(t, gate: str):
    """``GateOverride``: ``"learned"`` (t), ``"carry"`` (T = 0), ``"transform"`` (T = 1)."""
    if gate == "learned":
        return t
    if gate == "carry":
        return torch.zeros_like(t)
    if gate == "transform":
        return torch.ones_like(t)
    raise ValueError(gate)


# --------------------------------------------------------------------------- #
# highway-core
# --------------------------------------------------------------------------- #
class _HighwayBase(nn.Module):
    """What ``Highway`` and ``ConvHighway`` share: maps ``h`` (b_H = 0), ``t`` (b_T =
    transform_bias) and, with a free carry, ``c`` (b_C = carry_bias or −transform_bias), each
    made by ``make_map(bias_value)`` in that order; the subclass says how the fused product
    is computed (``_fused_parts``)."""

    def _init_maps(self, make_map, activation: str, transform_bias: float, carry: str,
                   carry_bias: Optional[float], fused: bool):
        self.h = make_map(0.0)
        self.t = make_map(transform_bias)
        if carry == "Free":
            b_c = -transform_bias if carry_bias is None else carry_bias
            self.c = make_map(b_c)
        elif carry == "Coupled":
            self.c = None
        else:
            raise ValueError(carry)
        self.activation = activation
        self.act = activation_fn(activation)
        self.fused = fused

    def _fused_parts(self, x, w, b, n):
        """The ``n`` pre-activations from the concatenated weights ``w`` and biases ``b``."""
        raise NotImplementedError

    def affine(self, x):
        maps = [m for m in (self.h, self.t, self.c) if m is not None]
        if self.fused:
            w = torch.cat([m.weight for m in maps], 0)
            b = torch.cat([m.bias for m in maps], 0)
            parts = self._fused_parts(x, w, b, len(maps))
        else:
            parts = [m(x) for m in maps]
        return parts[0], parts[1], (parts[2] if len(parts) > 2 else None)

    def forward_gated(self, x, gate: str = "learned"):
        """``Highway::forward_gated``: (output, transform gate)."""
        h, t, c = self.affine(x)
        h = self.act(h)
        t = apply_gate_override(torch.sigmoid(t), gate)
        c = None if c is None else torch.sigmoid(c)
        return highway_combine(h, t, c, x), t

    def forward(self, x):
        return self.forward_gated(x)[0]


class Highway(_HighwayBase):
    """``highway_core::Highway`` (dense, any rank, features last).

    Parameters: ``h`` (W_H, b_H = 0 at init), ``t`` (W_T, b_T = transform_bias), ``c`` (free
    carry only, b_C = carry_bias or −transform_bias). ``fused`` concatenates the weights at
    each call and uses one product, as the Rust layer does (same values).
    """

    def __init__(self, d_model: int, activation: str = "Relu", transform_bias: float = -2.0,
                 carry: str = "Coupled", carry_bias: Optional[float] = None,
                 initializer=XAVIER, fused: bool = False):
        super().__init__()
        d = d_model
        self._init_maps(lambda bias: burn_linear(d, d, True, initializer, bias_value=bias),
                        activation, transform_bias, carry, carry_bias, fused)

    def _fused_parts(self, x, w, b, n):
        return list(F.linear(x, w, b).chunk(n, dim=-1))


class ConvHighway(_HighwayBase):
    """``highway_core::ConvHighway``: the highway layer with same-padded k×k convolutions
    (``PaddingConfig2d::Same``: (k−1)/2 each side for odd k, stride 1)."""

    def __init__(self, d_model: int, kernel_size: int = 3, activation: str = "Relu",
                 transform_bias: float = -2.0, carry: str = "Coupled",
                 carry_bias: Optional[float] = None, initializer=XAVIER, fused: bool = False):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("ConvHighwayConfig: kernel_size must be odd for same padding")
        d, k = d_model, kernel_size
        self.pad = k // 2
        self._init_maps(lambda bias: burn_conv2d(d, d, k, self.pad, initializer, bias_value=bias),
                        activation, transform_bias, carry, carry_bias, fused)

    def _fused_parts(self, x, w, b, n):
        return list(F.conv2d(x, w, b, padding=self.pad).chunk(n, dim=1))


class _PlainBase(nn.Module):
    """What ``Plain`` and ``ConvPlain`` share: ``act(map(x))``, and a lesioned (T = 0) plain
    layer is removed (stack.rs StackLayer for Plain); the subclass names the map."""

    def _map(self, x):
        raise NotImplementedError

    def _set_activation(self, activation: str):
        self.activation = activation
        self.act = activation_fn(activation)

    def forward_gated(self, x, gate: str = "learned"):
        return (x if gate == "carry" else self.forward(x)), None

    def forward(self, x):
        return self.act(self._map(x))


class Plain(_PlainBase):
    """``highway_core::Plain``: ``act(x W + b)``, b = 0 at init (field ``linear``)."""

    def __init__(self, d_input: int, d_output: int, activation: str = "Relu",
                 initializer=XAVIER):
        super().__init__()
        self.linear = burn_linear(d_input, d_output, True, initializer, bias_value=0.0)
        self._set_activation(activation)

    def _map(self, x):
        return self.linear(x)


class ConvPlain(_PlainBase):
    """``highway_core::ConvPlain``: same-padded convolution + activation (field ``conv``)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, activation: str = "Relu",
                 initializer=XAVIER):
        super().__init__()
        self.conv = burn_conv2d(c_in, c_out, kernel_size, kernel_size // 2, initializer,
                                bias_value=0.0)
        self._set_activation(activation)

    def _map(self, x):
        return self.conv(x)


class LayerStack(nn.Module):
    """``highway_core::LayerStack<L>``: field ``layers`` (``Vec<L>`` → ``layers.{i}``)."""

    def __init__(self, layers: Sequence[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_with_gates(self, x, lesion: Optional[int] = None):
        """(output, layer outputs, gates); layer ``lesion`` forced to carry."""
        outs, gates = [], []
        for i, layer in enumerate(self.layers):
            x, t = layer.forward_gated(x, "carry" if lesion == i else "learned")
            outs.append(x)
            if t is not None:
                gates.append(t)
        return x, outs, gates


def highway_stack(depth: int, d_model: int, **kw) -> LayerStack:
    """``HighwayConfig::new(d_model)...init_stack(depth)``."""
    return LayerStack([Highway(d_model, **kw) for _ in range(depth)])


def conv_highway_stack(depth: int, d_model: int, **kw) -> LayerStack:
    """``ConvHighwayConfig::new(d_model)...init_stack(depth)``."""
    return LayerStack([ConvHighway(d_model, **kw) for _ in range(depth)])


# --------------------------------------------------------------------------- #
# rhn
# --------------------------------------------------------------------------- #
class RhnMasks:
    """``rhn::RhnMasks``: inverted variational-dropout masks drawn once per window.

    ``embedding`` [batch, vocab], ``input`` [batch, d_input], ``hidden`` [batch, d_hidden],
    ``output`` [batch, d_hidden]; any may be None. Kept entries are 1/(1 − p).
    """

    def __init__(self, embedding=None, input=None, hidden=None, output=None):
        self.embedding, self.input, self.hidden, self.output = embedding, input, hidden, output

    @staticmethod
    def sample(p: Dict[str, float], batch: int, vocab: Optional[int], d_input: int,
               d_hidden: int, generator=None, dtype=torch.float32) -> "RhnMasks":
        def draw(n, prob):
            if not prob:
                return None
            keep = 1.0 - prob
            return torch.bernoulli(torch.full((batch, n), keep, dtype=dtype),
                                   generator=generator) / keep
        return RhnMasks(
            embedding=None if vocab is None else draw(vocab, p.get("embedding", 0.0)),
            input=draw(d_input, p.get("input", 0.0)),
            hidden=draw(d_hidden, p.get("hidden", 0.0)),
            output=draw(d_hidden, p.get("output", 0.0)),
        )

    def apply_embedding(self, embedded, tokens):
        """``embedded [B, T, e] · mask[b, tokens[b, j]]``: a word type dropped in all positions."""
        if self.embedding is None:
            return embedded
        return embedded * self.embedding.gather(1, tokens).unsqueeze(2)

    def apply_input(self, x):
        return x if self.input is None else x * self.input.unsqueeze(1)

    def apply_output(self, y):
        return y if self.output is None else y * self.output.unsqueeze(1)


class RhnMicroLayer(nn.Module):
    """``rhn::RhnMicroLayer``: ``r_h`` (R_H,l, b_H,l), ``r_t`` (R_T,l, b_T,l), ``r_c`` (free)."""

    def __init__(self, d_hidden: int, transform_bias: float, carry_bias: Optional[float],
                 initializer):
        super().__init__()
        d = d_hidden
        self.r_h = burn_linear(d, d, True, initializer)  # b_H,l drawn from the initialiser
        self.r_t = burn_linear(d, d, True, initializer, bias_value=transform_bias)
        self.r_c = (None if carry_bias is None
                    else burn_linear(d, d, True, initializer, bias_value=carry_bias))

    def maps(self) -> List[nn.Linear]:
        return [m for m in (self.r_h, self.r_t, self.r_c) if m is not None]


class RhnCell(nn.Module):
    """``rhn::RhnCell``: one time step, ``depth`` highway micro-layers (rhn/src/cell.rs).

    ``w_h``, ``w_t`` (``w_c``): input maps without bias, used by micro-layer 0 only;
    ``layers.{l}``: the recurrent maps with their biases. ``fused`` (default true, as Rust)
    concatenates the gates' matrices and does one product per micro-layer (same values).
    """

    def __init__(self, d_input: int, d_hidden: int, depth: int, carry: str = "Coupled",
                 transform_bias: float = -2.0, carry_bias: Optional[float] = None,
                 initializer=RHN_UNIFORM, fused: bool = True):
        super().__init__()
        if min(d_input, d_hidden, depth) < 1:
            raise ValueError("RhnCellConfig: d_input, d_hidden and depth must be at least 1")
        free = carry == "Free"
        if carry not in ("Free", "Coupled"):
            raise ValueError(carry)
        b_c = (-transform_bias if carry_bias is None else carry_bias) if free else None
        self.w_h = burn_linear(d_input, d_hidden, False, initializer)
        self.w_t = burn_linear(d_input, d_hidden, False, initializer)
        self.w_c = burn_linear(d_input, d_hidden, False, initializer) if free else None
        self.layers = nn.ModuleList(
            [RhnMicroLayer(d_hidden, transform_bias, b_c, initializer) for _ in range(depth)])
        self.fused = fused
        self.d_hidden = d_hidden

    @property
    def n_gates(self) -> int:
        return 3 if self.w_c is not None else 2

    def input_maps(self) -> List[nn.Linear]:
        return [m for m in (self.w_h, self.w_t, self.w_c) if m is not None]

    def project_input(self, x) -> List[torch.Tensor]:
        """``W_H x``, ``W_T x`` (``W_C x``) as one ``[n, k·d]`` tensor (fused) or k tensors."""
        maps = self.input_maps()
        if self.fused:
            return [F.linear(x, torch.cat([m.weight for m in maps], 0))]
        return [m(x) for m in maps]

    def weights(self) -> List[List[Tuple[torch.Tensor, torch.Tensor]]]:
        """``RhnCell::weights``: every micro-layer's (weight, bias) products, prepared once per
        window: one concatenated ``[k·d, d]`` product when fused, else one per gate."""
        out = []
        for layer in self.layers:
            maps = layer.maps()
            if self.fused:
                out.append([(torch.cat([m.weight for m in maps], 0),
                             torch.cat([m.bias for m in maps], 0))])
            else:
                out.append([(m.weight, m.bias) for m in maps])
        return out

    def micro_layers(self, x_proj: List[torch.Tensor], s, hidden_mask=None,
                     lesion: Optional[int] = None, weights=None):
        """``RhnWeights::step``: the L micro-layers of one time step; returns (s_L, [t_l])."""
        weights = self.weights() if weights is None else weights
        gates = []
        pending = x_proj
        for l, products in enumerate(weights):
            s_in = s if hidden_mask is None else s * hidden_mask  # carry uses the unmasked s
            z = [F.linear(s_in, w, b) for w, b in products]
            if pending is not None:  # the input enters micro-layer 0 only
                z = [a + b for a, b in zip(z, pending)]
                pending = None
            parts = list(z[0].chunk(self.n_gates, dim=1)) if len(z) == 1 else z
            h = torch.tanh(parts[0])
            t = torch.sigmoid(parts[1])
            if lesion == l:
                t = torch.zeros_like(t)
            c = torch.sigmoid(parts[2]) if len(parts) > 2 else None
            gates.append(t)
            s = highway_combine(h, t, c, s)
        return s, gates

    def step(self, x_t, s, masks: Optional[RhnMasks] = None):
        """``RhnCell::step``: x_t [B, d_in], s [B, d] → (new state [B, d], L gates [B, d])."""
        if masks is not None and masks.input is not None:
            x_t = x_t * masks.input
        hidden = None if masks is None else masks.hidden
        return self.micro_layers(self.project_input(x_t), s, hidden)

    def forward(self, x_t, s, masks: Optional[RhnMasks] = None):
        return self.step(x_t, s, masks)


class Rhn(nn.Module):
    """``rhn::Rhn``: the cell over a sequence, batch first, explicit state ``s`` [B, d].
    (``RhnConfig { cell: RhnCellConfig }``: the keyword arguments are the cell's.)"""

    def __init__(self, d_input: int, d_hidden: int, depth: int, **cell_kw):
        super().__init__()
        self.cell = RhnCell(d_input, d_hidden, depth, **cell_kw)

    def run(self, x, state=None, masks: Optional[RhnMasks] = None,
            lesion: Optional[int] = None, record: bool = False):
        """x [B, T, d_in] → (y [B, T, d], s_T [B, d], gate means [B, T, L] or None)."""
        b, seq, d_in = x.shape
        s = x.new_zeros(b, self.cell.d_hidden) if state is None else state
        if masks is not None:
            x = masks.apply_input(x)
        hidden = None if masks is None else masks.hidden
        # All time steps' input products at once, time-major rows (layer.rs `run`).
        proj = self.cell.project_input(x.transpose(0, 1).reshape(seq * b, d_in))
        weights = self.cell.weights()  # once per window, as RhnCell::weights in layer.rs
        outs, means = [], []
        for t in range(seq):
            x_t = [p[t * b:(t + 1) * b] for p in proj]
            s, gates = self.cell.micro_layers(x_t, s, hidden, lesion, weights)
            if record:
                means.append(torch.stack([g.mean(dim=1) for g in gates], 1))
            outs.append(s)
        return torch.stack(outs, 1), s, (torch.stack(means, 1) if record else None)

    def forward(self, x, state=None, masks: Optional[RhnMasks] = None):
        """``Rhn::forward``: (outputs [B, T, d], final state [B, d])."""
        y, s, _ = self.run(x, state, masks)
        return y, s

    def forward_with_gates(self, x, state=None, masks=None, lesion=None):
        """``Rhn::forward_with_gates``: (y, s, transform_mean [B, T, L])."""
        return self.run(x, state, masks, lesion, record=True)


# --------------------------------------------------------------------------- #
# models
# --------------------------------------------------------------------------- #
class DeepMlp(nn.Module):
    """``models::DeepMlp``: Plain(d_input → d_hidden) + (depth − 1) highway/plain layers +
    Linear(n_classes) logits. ``body`` is the enum ``MlpBody`` (Burn path adds ``Highway`` or
    ``Plain`` after ``body``)."""

    def __init__(self, d_input: int, d_hidden: int, depth: int, n_classes: int,
                 kind: str = "Highway", activation: str = "Relu", transform_bias: float = -2.0,
                 initializer=XAVIER, fused: bool = False):
        super().__init__()
        self.input = Plain(d_input, d_hidden, activation, initializer)
        n = depth - 1
        if kind == "Highway":
            self.body = highway_stack(n, d_hidden, activation=activation,
                                      transform_bias=transform_bias,
                                      initializer=initializer, fused=fused)
        elif kind == "Plain":
            self.body = LayerStack([Plain(d_hidden, d_hidden, activation, initializer)
                                    for _ in range(n)])
        else:
            raise ValueError(kind)
        self.kind = kind
        # LinearConfig with the initialiser: the bias is drawn from it too (not zero).
        self.output = burn_linear(d_hidden, n_classes, True, initializer)

    def forward(self, x):
        return self.output(self.body(self.input(x)))

    def forward_with_gates(self, x, lesion=None):
        z, outs, gates = self.body.forward_with_gates(self.input(x), lesion)
        return self.output(z), outs, gates


class MnistConvNet(nn.Module):
    """``models::MnistConvNet`` (Table 1): conv5×5 same + ReLU, 3 stages of 3×3 highway (2, 3,
    3 layers) each followed by max-pool (3/2, 3/2, 2/2; no padding, floor), Linear(9w → n).
    28 → 13 → 6 → 3. Dropout (0.2 / 0.3 / 0.4 / 0.5) is identity in evaluation."""

    STAGES = (2, 3, 3)

    def __init__(self, width: int, kind: str = "Highway", transform_bias: float = -1.0,
                 dropout=(0.2, 0.3, 0.4, 0.5), n_classes: int = 10):
        super().__init__()
        w = width
        self.input = burn_conv2d(1, w, 5, 2, CAFFE_XAVIER)

        def stage(depth):
            if kind == "Highway":
                # ConvHighwayConfig defaults: Xavier kernels (not Caffe's filler).
                return conv_highway_stack(depth, w, transform_bias=transform_bias)
            if kind == "Plain":
                return LayerStack([ConvPlain(w, w) for _ in range(depth)])
            raise ValueError(kind)

        self.stages = nn.ModuleList([stage(d) for d in self.STAGES])
        self.pools = [(3, 2), (3, 2), (2, 2)]  # (kernel, stride): not parameters
        self.dropout = list(dropout)
        self.output = burn_linear(w * 3 * 3, n_classes, True, CAFFE_XAVIER)

    def forward(self, x):
        z = F.dropout(torch.relu(self.input(x)), self.dropout[0], self.training)
        for stage, (k, st), p in zip(self.stages, self.pools, self.dropout[1:]):
            z = F.dropout(F.max_pool2d(stage(z), k, st), p, self.training)
        return self.output(z.flatten(1))


class CifarNet(nn.Module):
    """``models::CifarNet`` (Tables 2 and 3): per stage a ConvPlain 3×3 (+ReLU) to the stage
    width then highway (or plain) 3×3 layers, 2×2/2 max-pool between stages; head
    ``MaxPoolFc`` (global max → Linear → ReLU) or ``ConvAvgPool`` (1×1 conv → ReLU → global
    mean); dropout (input, after each pool, before the output layer) off in evaluation."""

    def __init__(self, stages: Sequence[Tuple[int, int]], head: str = "MaxPoolFc",
                 hidden: int = 100, kind: str = "Highway", transform_bias: float = -2.0,
                 dropout: float = 0.2, n_classes: int = 10):
        super().__init__()
        inputs, blocks, c = [], [], 3
        for width, n in stages:
            inputs.append(ConvPlain(c, width, 3, "Relu", XAVIER))
            if kind == "Highway":
                blocks.append(conv_highway_stack(n, width, transform_bias=transform_bias,
                                                 initializer=XAVIER))
            elif kind == "Plain":
                blocks.append(LayerStack([ConvPlain(width, width) for _ in range(n)]))
            else:
                raise ValueError(kind)
            c = width
        self.inputs = nn.ModuleList(inputs)
        self.stages = nn.ModuleList(blocks)
        self.head_kind = head
        if head == "MaxPoolFc":
            self.head = burn_linear(c, hidden, True, XAVIER)       # Burn: head.Fc.*
        elif head == "ConvAvgPool":
            self.head = burn_conv2d(c, hidden, 1, 0, XAVIER)       # Burn: head.Conv1x1.*
        else:
            raise ValueError(head)
        self.p = dropout
        self.output = burn_linear(hidden, n_classes, True, XAVIER)

    def forward_with_gates(self, x, lesion: Optional[int] = None):
        drop = lambda z: F.dropout(z, self.p, self.training)
        z, gates, offset = drop(x), [], 0
        last = len(self.stages) - 1
        for i, (inp, stage) in enumerate(zip(self.inputs, self.stages)):
            z = inp(z)
            n = len(stage.layers)
            local = lesion - offset if lesion is not None and offset <= lesion < offset + n else None
            z, _, g = stage.forward_with_gates(z, local)
            gates.extend(g)
            offset += n
            if i < last:
                z = drop(F.max_pool2d(z, 2, 2))
        if self.head_kind == "MaxPoolFc":
            hidden = torch.relu(self.head(z.amax(dim=(2, 3))))
        else:
            hidden = torch.relu(self.head(z)).mean(dim=(2, 3))
        return self.output(drop(hidden)), gates

    def forward(self, x):
        return self.forward_with_gates(x)[0]


def d_embed_rule(vocab_size: int, d_hidden: int, tied: bool,
                 embed_size: Optional[int] = None) -> int:
    """``RhnLmConfig::d_embed``: explicit size, else vocab when vocab < d_hidden and untied."""
    if embed_size is not None:
        return embed_size
    return vocab_size if (vocab_size < d_hidden and not tied) else d_hidden


class RhnLm(nn.Module):
    """``models::RhnLm``: Embedding → Rhn → softmax layer ``logits = y·W + b``.

    ``softmax_w`` is a bare Burn ``Param`` of shape ``[d_hidden, vocab]`` (Burn's layout,
    not transposed by burn-store); with tied embeddings it is absent and ``W = Eᵀ``.
    Tokens and logits are batch first: tokens [B, T] → logits [B, T, V].
    """

    def __init__(self, vocab_size: int, d_hidden: int, depth: int,
                 embed_size: Optional[int] = None, tied_embeddings: bool = False,
                 transform_bias: float = -2.0, carry: str = "Coupled",
                 initializer=RHN_UNIFORM, fused: bool = True, dropout=None):
        super().__init__()
        v, d = vocab_size, d_hidden
        e = d_embed_rule(v, d, tied_embeddings, embed_size)
        if tied_embeddings and e != d:
            raise ValueError(f"tied embeddings need d_embed ({e}) == d_hidden ({d})")
        self.embedding = nn.Embedding(v, e)
        burn_init_(self.embedding.weight, initializer, None, None)
        self.rhn = Rhn(e, d, depth, carry=carry, transform_bias=transform_bias,
                       initializer=initializer, fused=fused)
        if tied_embeddings:
            self.register_parameter("softmax_w", None)
        else:
            self.softmax_w = nn.Parameter(burn_init_(torch.empty(d, v), initializer, d, v))
        self.softmax_b = nn.Parameter(burn_init_(torch.empty(v), initializer, d, v))
        self.dropout = dict(dropout or {})

    def softmax_weight(self):
        """``[d_hidden, vocab]``: ``softmax_w`` or ``Eᵀ``."""
        return self.embedding.weight.t() if self.softmax_w is None else self.softmax_w

    def embed(self, tokens, masks: Optional[RhnMasks] = None):
        x = self.embedding(tokens)
        return x if masks is None else masks.apply_embedding(x, tokens)

    def logits(self, y, masks: Optional[RhnMasks] = None):
        if masks is not None:
            y = masks.apply_output(y)
        b, seq, d = y.shape
        w = self.softmax_weight()
        return torch.addmm(self.softmax_b, y.reshape(b * seq, d), w).reshape(b, seq, -1)

    def forward(self, tokens, state=None, masks: Optional[RhnMasks] = None):
        """tokens [B, T] (int64), state [B, d] or None → (logits [B, T, V], state [B, d])."""
        y, s = self.rhn(self.embed(tokens, masks), state, masks)
        return self.logits(y, masks), s

    def forward_with_gates(self, tokens, state=None, masks=None, lesion=None):
        y, s, g = self.rhn.forward_with_gates(self.embed(tokens, masks), state, masks, lesion)
        return self.logits(y, masks), s, g


class GateController(nn.Module):
    """``burn::nn::GateController``: ``input_transform(x) + hidden_transform(h)``."""

    def __init__(self, d_input: int, d_output: int, bias: bool, initializer):
        super().__init__()
        self.input_transform = burn_linear(d_input, d_output, bias, initializer)
        self.hidden_transform = burn_linear(d_output, d_output, bias, initializer)

    def forward(self, x, h):
        return self.input_transform(x) + self.hidden_transform(h)


class BurnLstm(nn.Module):
    """``burn::nn::Lstm`` (burn-nn 0.22.1 rnn/lstm/lstm_module.rs), batch first, forward
    direction, no clip, separate forget gate, sigmoid/tanh/tanh:

        i = σ(G_i), f = σ(G_f), o = σ(G_o), g = tanh(G_c);  c' = f·c + i·g;  h' = o·tanh(c')

    Two biases per gate (input and hidden transform), like PyTorch's b_ih + b_hh; see
    :meth:`to_torch_lstm` for the ``nn.LSTM`` layout (gate order i, f, g, o).
    """

    GATES = ("input_gate", "forget_gate", "output_gate", "cell_gate")

    def __init__(self, d_input: int, d_hidden: int, bias: bool = True,
                 initializer={"XavierNormal": {"gain": 1.0}}):
        super().__init__()
        self.input_gate = GateController(d_input, d_hidden, bias, initializer)
        self.forget_gate = GateController(d_input, d_hidden, bias, initializer)
        self.output_gate = GateController(d_input, d_hidden, bias, initializer)
        self.cell_gate = GateController(d_input, d_hidden, bias, initializer)
        self.d_hidden = d_hidden

    def forward(self, x, state=None):
        """x [B, T, d_in]; state (cell, hidden) each [B, d] → (h [B, T, d], (cell, hidden))."""
        b, seq, _ = x.shape
        if state is None:
            c = x.new_zeros(b, self.d_hidden)
            h = x.new_zeros(b, self.d_hidden)
        else:
            c, h = state
        outs = []
        for t in range(seq):
            x_t = x[:, t]
            i = torch.sigmoid(self.input_gate(x_t, h))
            f = torch.sigmoid(self.forget_gate(x_t, h))
            o = torch.sigmoid(self.output_gate(x_t, h))
            g = torch.tanh(self.cell_gate(x_t, h))
            c = f * c + i * g
            h = o * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs, 1), (c, h)

    def to_torch_lstm(self) -> nn.LSTM:
        """An equivalent ``nn.LSTM(batch_first=True)``: rows of ``weight_ih_l0`` are the
        input/forget/cell/output gates' ``input_transform.weight`` in that (i, f, g, o) order,
        ``weight_hh_l0`` the ``hidden_transform`` ones, ``bias_ih_l0``/``bias_hh_l0`` their
        biases."""
        gates = [self.input_gate, self.forget_gate, self.cell_gate, self.output_gate]
        d_in = self.input_gate.input_transform.in_features
        lstm = nn.LSTM(d_in, self.d_hidden, batch_first=True)
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(torch.cat([g.input_transform.weight for g in gates]))
            lstm.weight_hh_l0.copy_(torch.cat([g.hidden_transform.weight for g in gates]))
            lstm.bias_ih_l0.copy_(torch.cat([g.input_transform.bias for g in gates]))
            lstm.bias_hh_l0.copy_(torch.cat([g.hidden_transform.bias for g in gates]))
        return lstm.to(self.input_gate.input_transform.weight.dtype)


class LstmLm(nn.Module):
    """``models::LstmLm``: Embedding(V, d) → Lstm(d, d, bias) → ``y·W + b`` (tied: ``W = Eᵀ``).
    Every weight and bias uniform ±0.04 by default. State (cell, hidden) [B, d] each."""

    def __init__(self, vocab_size: int, d_hidden: int, tied_embeddings: bool = False,
                 initializer=RHN_UNIFORM, dropout=None):
        super().__init__()
        v, h = vocab_size, d_hidden
        self.embedding = nn.Embedding(v, h)
        burn_init_(self.embedding.weight, initializer, None, None)
        self.lstm = BurnLstm(h, h, True, initializer)
        if tied_embeddings:
            self.register_parameter("softmax_w", None)
        else:
            self.softmax_w = nn.Parameter(burn_init_(torch.empty(h, v), initializer, h, v))
        self.softmax_b = nn.Parameter(burn_init_(torch.empty(v), initializer, h, v))
        self.dropout = dict(dropout or {})

    def forward(self, tokens, state=None, masks: Optional[RhnMasks] = None):
        """tokens [B, T] → (logits [B, T, V], (cell, hidden)). ``masks``: embedding, input,
        output (the LSTM has no recurrent mask)."""
        x = self.embedding(tokens)
        if masks is not None:
            x = masks.apply_input(masks.apply_embedding(x, tokens))
        y, state = self.lstm(x, state)
        if masks is not None:
            y = masks.apply_output(y)
        b, seq, d = y.shape
        w = self.embedding.weight.t() if self.softmax_w is None else self.softmax_w
        logits = torch.addmm(self.softmax_b, y.reshape(b * seq, d), w)
        return logits.reshape(b, seq, -1), state


# --------------------------------------------------------------------------- #
# Key mapping helpers
# --------------------------------------------------------------------------- #
#: Which PyTorch classes hold Linear weights that burn-store transposes.
def param_table(model: nn.Module) -> List[Dict]:
    """For every state_dict entry: PyTorch key, Burn path, shapes in both, transformation.

    Derived from the module tree: a ``weight`` whose owner is an ``nn.Linear`` is transposed
    (Burn ``Linear`` with the default ``LinearLayout::Row``); enum variant names are inserted
    for ``DeepMlp.body``, ``*.stages.{s}`` of the conv nets and ``CifarNet.head``.
    """
    owners = {}
    for mod_name, mod in model.named_modules():
        for p_name, _ in mod.named_parameters(recurse=False):
            owners[f"{mod_name}.{p_name}" if mod_name else p_name] = mod
    rows = []
    for key, tensor in model.state_dict().items():
        owner = owners.get(key)
        shape = list(tensor.shape)
        transposed = isinstance(owner, nn.Linear) and key.endswith(".weight") and len(shape) == 2
        rows.append({
            "torch_key": key,
            "burn_path": burn_path(model, key),
            "torch_shape": shape,
            "burn_shape": shape[::-1] if transposed else shape,
            "transform": "transpose" if transposed else "none",
        })
    return rows


def burn_path(model: nn.Module, key: str) -> str:
    """The Burn module path of a PyTorch key (enum variant names inserted)."""
    parts = key.split(".")
    if isinstance(model, DeepMlp) and parts[0] == "body":
        parts.insert(1, model.kind)
    elif isinstance(model, (MnistConvNet, CifarNet)) and parts[0] == "stages":
        stage = model.stages[int(parts[1])]
        variant = "Highway" if isinstance(stage.layers[0], ConvHighway) else "Plain"
        parts.insert(2, variant)
    if isinstance(model, CifarNet) and parts[0] == "head":
        parts.insert(1, "Fc" if model.head_kind == "MaxPoolFc" else "Conv1x1")
    return ".".join(parts)


# --------------------------------------------------------------------------- #
# Rust configurations → modules; exported runs
# --------------------------------------------------------------------------- #
#: What :func:`from_config` builds: name → (class, the Rust config struct it mirrors). The
#: config's serde JSON fields are the class's keyword arguments, except ``RhnConfig``
#: (``{"cell": RhnCellConfig}``) and ``CifarHighwayConfig.stages`` (a list of
#: ``{"width", "highway_layers"}``).
CONFIGS = {
    "DeepMlp": (DeepMlp, "DeepMlpConfig"),
    "MnistConvNet": (MnistConvNet, "MnistConvNetConfig"),
    "CifarNet": (CifarNet, "CifarHighwayConfig"),
    "RhnLm": (RhnLm, "RhnLmConfig"),
    "LstmLm": (LstmLm, "LstmLmConfig"),
    "Highway": (Highway, "HighwayConfig"),
    "ConvHighway": (ConvHighway, "ConvHighwayConfig"),
    "RhnCell": (RhnCell, "RhnCellConfig"),
    "Rhn": (Rhn, "RhnConfig"),
}
#: The ``format`` of an export's JSON file (``experiments/src/export.rs``, ``EXPORT_FORMAT``).
EXPORT_FORMAT = "highway-zoo-export/1"
#: The models an export can hold (its ``model`` entry).
EXPORT_MODELS = ("DeepMlp", "MnistConvNet", "CifarNet", "RhnLm", "LstmLm")


def _model_name(model: str) -> str:
    """``"DeepMlp"``, ``"models::DeepMlp"`` or ``"DeepMlpConfig"`` → ``"DeepMlp"``."""
    name = str(model).split("::")[-1]
    if name in CONFIGS:
        return name
    for key, (_, struct) in CONFIGS.items():
        if name == struct:
            return key
    raise ValueError(f"unknown zoo model {model!r} (known: {', '.join(CONFIGS)})")


def _config_kwargs(cls, struct: str, config, initializer) -> Dict:
    """Check a config's fields against ``cls``'s keyword arguments; the keyword arguments."""
    if not isinstance(config, dict):
        raise ValueError(f"{struct}: expected a JSON object of fields, got {config!r}")
    params = {k: p for k, p in inspect.signature(cls.__init__).parameters.items()
              if k != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = sorted(set(config) - set(params))
    if unknown:
        raise ValueError(f"{struct}: field(s) {unknown} not mirrored by zoo_torch."
                         f"{cls.__name__} (its fields: {sorted(params)})")
    missing = sorted(k for k, p in params.items() if p.default is p.empty and k not in config)
    if missing:
        raise ValueError(f"{struct}: required field(s) {missing} missing")
    kw = dict(config)
    act = kw.get("activation")
    if act is not None and not isinstance(act, str):
        # serde writes unit variants as "Relu"; {"LeakyRelu": {...}} etc. are not mirrored.
        raise ValueError(f"{struct}: activation {act!r} not mirrored (have "
                         f"{sorted(_ACTIVATIONS)})")
    if initializer is not None and "initializer" in params:
        kw["initializer"] = initializer
    return kw


def _cifar_stage(stage) -> Tuple[int, int]:
    if isinstance(stage, dict):
        if set(stage) != {"width", "highway_layers"}:
            raise ValueError(f"CifarStage: expected width and highway_layers, got {stage!r}")
        return int(stage["width"]), int(stage["highway_layers"])
    width, layers = stage
    return int(width), int(layers)


def from_config(model: str, config: Dict, *, initializer=None) -> nn.Module:
    """The zoo module a Rust configuration describes, in its serde JSON form.

    ``model``: ``"DeepMlp"``, ``"MnistConvNet"``, ``"CifarNet"``, ``"RhnLm"``, ``"LstmLm"``
    (an export's ``model`` entry), or a layer: ``"Highway"``, ``"ConvHighway"``, ``"RhnCell"``,
    ``"Rhn"``; a Rust path (``"models::DeepMlp"``) or the config struct's name
    (``"DeepMlpConfig"``, ``"CifarHighwayConfig"``) works too. ``config``: the struct's fields as
    serde writes them (a run's ``config.json`` ``"model"`` entry, an export's ``"config"``,
    a fixture's ``config.fields``), e.g. ``{"d_input": 784, "d_hidden": 50, "depth": 50,
    "n_classes": 10, "kind": "Highway", "activation": "Relu", "transform_bias": -3.0,
    "initializer": {"XavierUniform": {"gain": 1.0}}, "fused": false}``. Fields left out take
    the Rust defaults (the classes' defaults mirror them); a field the class does not know is
    an error. ``initializer`` replaces the config's initialiser (only the initial values
    depend on it). The module is in training mode, float32, with fresh Burn-style weights.
    """
    name = _model_name(model)
    cls, struct = CONFIGS[name]
    if name == "Rhn":
        if not isinstance(config, dict) or set(config) != {"cell"}:
            raise ValueError(f"RhnConfig: expected {{\"cell\": RhnCellConfig}}, got {config!r}")
        return Rhn(**_config_kwargs(RhnCell, "RhnCellConfig", config["cell"], initializer))
    kw = _config_kwargs(cls, struct, config, initializer)
    if name == "CifarNet":
        kw["stages"] = [_cifar_stage(s) for s in kw["stages"]]
    return cls(**kw)


def export_json_path(path) -> str:
    """An export's JSON file, given it, its ``.safetensors`` file (the JSON beside it, as Rust's
    ``out.with_extension("json")``) or ``NAME`` (``NAME.json``)."""
    p = os.fspath(path)
    root, ext = os.path.splitext(p)
    if ext == ".json":
        return p
    if ext == ".safetensors":
        return root + ".json"
    if os.path.isfile(p + ".json"):
        return p + ".json"
    raise ValueError(f"{p}: give the export's .json or .safetensors file")


def read_export(path) -> Tuple[Dict, str]:
    """An export's JSON (checked: format, model, config, weights) and the path of its weights
    file (the JSON's ``weights`` name, beside the JSON file)."""
    json_path = export_json_path(path)
    with open(json_path) as f:
        info = json.load(f)
    if not isinstance(info, dict) or info.get("format") != EXPORT_FORMAT:
        got = info.get("format") if isinstance(info, dict) else info
        raise ValueError(f"{json_path}: format {got!r}, expected {EXPORT_FORMAT!r}")
    if info.get("model") not in EXPORT_MODELS:
        raise ValueError(f"{json_path}: model {info.get('model')!r} is none of "
                         f"{', '.join(EXPORT_MODELS)}")
    if not isinstance(info.get("config"), dict):
        raise ValueError(f"{json_path}: \"config\" is not a JSON object")
    weights = info.get("weights")
    if not isinstance(weights, str) or not weights:
        raise ValueError(f"{json_path}: no \"weights\" file name")
    return info, os.path.join(os.path.dirname(json_path), weights)


def load_export(path, device="cpu") -> nn.Module:
    """A model exported from a Rust training run (``cargo run -p experiments --bin export``):
    ``NAME.json`` (or ``NAME.safetensors``, the JSON beside it is read) → the zoo_torch module
    built with :func:`from_config` from the JSON's ``model`` and ``config``, its weights loaded
    from the safetensors file with ``load_state_dict(strict=True)``, in eval mode (dropout
    off), float32, on ``device``. The JSON is kept as ``model.export_info``."""
    from safetensors.torch import load_file  # noqa: PLC0415  (only needed here)

    info, weights = read_export(path)
    try:
        model = from_config(info["model"], info["config"])
    except UnsupportedInitializer:
        model = from_config(info["model"], info["config"], initializer=XAVIER)
    state = load_file(weights)
    if "tensors" in info and info["tensors"] != len(state):
        raise ValueError(f"{weights}: {len(state)} tensors, the export's JSON says "
                         f"{info['tensors']}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f"{weights} does not fit zoo_torch.{type(model).__name__} with "
                           f"config {info['config']}: {e}") from None
    model.export_info = info
    return model.to(device).eval()


__all__ = [
    "XAVIER", "RHN_UNIFORM", "CAFFE_XAVIER", "BURN_DEFAULT", "burn_init_", "burn_linear",
    "burn_conv2d", "highway_combine", "Highway", "ConvHighway", "Plain", "ConvPlain",
    "LayerStack", "highway_stack", "conv_highway_stack", "RhnMasks", "RhnMicroLayer",
    "RhnCell", "Rhn", "DeepMlp", "MnistConvNet", "CifarNet", "RhnLm", "GateController",
    "BurnLstm", "LstmLm", "d_embed_rule", "param_table", "burn_path", "UnsupportedInitializer",
    "CONFIGS", "EXPORT_FORMAT", "EXPORT_MODELS", "from_config", "export_json_path", "read_export",
    "load_export",
]
