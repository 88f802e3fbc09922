#!/usr/bin/env python3
"""Self-checks of zoo_torch.py against the Rust unit tests' hand-computed values and against
PyTorch's own modules. Run: ``~/torch-venv/bin/python bench/test_zoo_torch.py`` (a second or
two on a CPU; also collected by pytest)."""
import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo_torch as zoo  # noqa: E402


def set_linear(layer: nn.Linear, burn_rows, bias=None):
    """Set a Linear from Burn's ``[d_input, d_output]`` rows (as the Rust tests write them)."""
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(burn_rows, dtype=torch.float64).t())
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias, dtype=torch.float64))


def close(a, b, tol):
    a = torch.as_tensor(a, dtype=torch.float64).flatten()
    b = torch.as_tensor(b, dtype=torch.float64).flatten()
    assert a.shape == b.shape and (a - b).abs().max().item() <= tol, (a, b)


def sigma(z):
    return 1.0 / (1.0 + math.exp(-z))


def test_highway_matches_dense_rs_hand_values():
    # highway-core/src/dense.rs tests::layer, coupled_matches_hand_computed_values
    for fused in (False, True):
        for carry in ("Coupled", "Free"):
            layer = zoo.Highway(2, carry=carry, fused=fused).double()
            set_linear(layer.h, [[1.0, -1.0], [0.5, 2.0]], [0.0, -1.0])
            set_linear(layer.t, [[0.5, 0.0], [0.0, -0.5]], [-1.0, 0.5])
            if carry == "Free":
                set_linear(layer.c, [[0.0, 1.0], [1.0, 0.0]], [0.25, 0.0])
                t = sigma(-0.5)
                close(layer(torch.tensor([[1.0, 2.0]], dtype=torch.float64)),
                      [2 * t + sigma(2.25), 2 * t + 2 * sigma(1.0)], 1e-12)
            else:
                close(layer(torch.tensor([[1.0, 2.0]], dtype=torch.float64)),
                      [1.3775407, 2.0], 1e-6)
                close(layer(torch.tensor([[-1.0, 1.0]], dtype=torch.float64)),
                      [-0.8175745, 1.5], 1e-6)
    layer = zoo.Highway(3)
    x = torch.randn(2, 3)
    close(layer.forward_gated(x, "carry")[0], x, 0.0)


def test_conv_highway_matches_conv_rs_hand_values():
    # highway-core/src/conv.rs matches_hand_computed_values_with_constant_kernels
    for fused in (False, True):
        layer = zoo.ConvHighway(1, transform_bias=0.0, fused=fused).double()
        with torch.no_grad():
            layer.h.weight.fill_(0.1)
            layer.t.weight.zero_()
        x = torch.arange(1.0, 10.0, dtype=torch.float64).reshape(1, 1, 3, 3)
        close(layer(x), [1.1, 2.05, 2.3, 3.35, 4.75, 4.65, 4.7, 5.95, 5.9], 1e-6)


def tiny_cell(fused):
    cell = zoo.RhnCell(1, 1, 2, fused=fused).double()
    set_linear(cell.w_h, [[2.0]])
    set_linear(cell.w_t, [[-1.0]])
    set_linear(cell.layers[0].r_h, [[0.5]], [0.0])
    set_linear(cell.layers[0].r_t, [[1.0]], [0.5])
    set_linear(cell.layers[1].r_h, [[-1.0]], [0.25])
    set_linear(cell.layers[1].r_t, [[2.0]], [-1.0])
    return cell


def test_rhn_cell_matches_cell_rs_hand_values():
    # rhn/src/cell.rs tiny_cell_matches_hand_computed_values, step_applies_the_..._masks
    t64 = lambda v: torch.tensor([[v]], dtype=torch.float64)
    for fused in (True, False):
        cell = tiny_cell(fused)
        s1, g = cell.step(t64(1.0), t64(0.0))
        close(s1, [0.1575213], 1e-6)
        close(torch.cat(g), [0.37754067, 0.43239634], 1e-6)
        s2, g = cell.step(t64(-0.5), s1)
        close(s2, [-0.3805588], 1e-6)
        close(torch.cat(g), [0.760882, 0.11606803], 1e-6)
        masks = zoo.RhnMasks(input=t64(0.0), hidden=t64(0.0))
        close(cell.step(t64(1.0), t64(1.0), masks)[0], [0.3418731], 1e-6)


def test_rhn_sequence_equals_stepping_the_cell_and_fused_equals_unfused():
    torch.manual_seed(0)
    for carry in ("Coupled", "Free"):
        rhn = zoo.Rhn(3, 4, 3, carry=carry, initializer={"Uniform": {"min": -0.7, "max": 0.7}})
        x, s0 = torch.randn(2, 5, 3), torch.randn(2, 4)
        masks = zoo.RhnMasks.sample({"input": 0.5, "hidden": 0.5}, 2, None, 3, 4)
        y, s, g = rhn.forward_with_gates(x, s0, masks)
        assert g.shape == (2, 5, 3)
        s_ref = s0
        for t in range(5):
            s_ref, _ = rhn.cell.step(x[:, t], s_ref, masks)
            close(y[:, t], s_ref, 1e-6)
        close(s, s_ref, 1e-6)
        rhn.cell.fused = False
        close(rhn(x, s0, masks)[0], y, 1e-6)


def test_burn_lstm_equals_torch_lstm():
    torch.manual_seed(0)
    lstm = zoo.BurnLstm(3, 4, True, {"Uniform": {"min": -0.5, "max": 0.5}})
    ref = lstm.to_torch_lstm()
    x, c0, h0 = torch.randn(2, 6, 3), torch.randn(2, 4), torch.randn(2, 4)
    y, (c, h) = lstm(x, (c0, h0))
    y_ref, (h_ref, c_ref) = ref(x, (h0[None], c0[None]))
    close(y, y_ref, 1e-6)
    close(c, c_ref, 1e-6)
    close(h, h_ref, 1e-6)


def test_tied_lm_uses_the_embedding_and_keys_are_burn_paths():
    lm = zoo.RhnLm(11, 6, 2, tied_embeddings=True)
    assert "softmax_w" not in lm.state_dict()
    tokens = torch.randint(0, 11, (2, 3))
    logits, _ = lm(tokens)
    y, _ = lm.rhn(lm.embedding(tokens))
    close(logits, y @ lm.embedding.weight.t() + lm.softmax_b, 1e-6)
    assert zoo.RhnLm(5, 6, 2).embedding.weight.shape == (5, 5)  # authors' d_embed rule
    keys = set(zoo.DeepMlp(4, 3, 3, 2).state_dict())
    assert "body.layers.1.t.bias" in keys and "input.linear.weight" in keys
    net = zoo.CifarNet([(4, 1), (6, 1)], head="ConvAvgPool", hidden=5)
    paths = {r["torch_key"]: r["burn_path"] for r in zoo.param_table(net)}
    assert paths["stages.1.layers.0.h.weight"] == "stages.1.Highway.layers.0.h.weight"
    assert paths["head.weight"] == "head.Conv1x1.weight"
    lm_rows = {r["torch_key"]: r for r in zoo.param_table(zoo.LstmLm(7, 5))}
    assert lm_rows["softmax_w"]["transform"] == "none"
    assert lm_rows["lstm.cell_gate.hidden_transform.weight"]["transform"] == "transpose"


if __name__ == "__main__":
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)
