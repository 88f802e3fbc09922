#!/usr/bin/env python3
"""Self-checks of zoo_torch.py against the Rust unit tests' hand-computed values and against
PyTorch's own modules, and of the export round trip (``from_config``, ``load_export``) and the
MNIST evaluation (``evaluate.py``, ``torch_peer.py evaluate``) without Rust. Run:
``~/torch-venv/bin/python bench/test_zoo_torch.py`` (a few seconds on a CPU; also collected
by pytest)."""
import gzip
import json
import math
import os
import sys
import tempfile

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


# --------------------------------------------------------------------------- #
# from_config, load_export, evaluate
# --------------------------------------------------------------------------- #
#: DeepMlpConfig as serde writes it (a run's config.json "model" entry).
MLP_CONFIG = {"activation": "Relu", "d_hidden": 50, "d_input": 784, "depth": 50,
              "fused": False, "initializer": {"XavierUniform": {"gain": 1.0}},
              "kind": "Highway", "n_classes": 10, "transform_bias": -3.0}


def write_export(directory, name, model_name, config, model, **extra):
    """An export as the Rust `export` binary writes it: NAME.safetensors + NAME.json."""
    from safetensors.torch import save_file
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(directory, f"{name}.safetensors"))
    info = {"format": "highway-zoo-export/1", "model": model_name, "config": config,
            "epoch": 3, "run": os.path.join(directory, "no-such-run"),
            "weights": f"{name}.safetensors", "tensors": len(sd), **extra}
    path = os.path.join(directory, f"{name}.json")
    with open(path, "w") as f:
        json.dump(info, f, indent=2)
    return path


def perturb_(model, seed):
    """Every parameter changed from its initial value (so a load that kept the fresh
    initialisation cannot pass)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.empty_like(p).uniform_(-0.1, 0.1, generator=g))


def test_load_export_round_trip_deep_mlp():
    torch.manual_seed(1)
    model = zoo.from_config("DeepMlp", MLP_CONFIG)
    assert isinstance(model, zoo.DeepMlp) and len(model.body.layers) == 49
    assert model.body.layers[0].t.bias.detach().eq(-3.0).all()
    perturb_(model, 0)
    model.eval()
    x = torch.rand(7, 784)
    with torch.no_grad():
        ref = model(x)
    with tempfile.TemporaryDirectory() as d:
        path = write_export(d, "mlp", "DeepMlp", MLP_CONFIG, model)
        for given in (path, os.path.join(d, "mlp.safetensors"), os.path.join(d, "mlp")):
            torch.manual_seed(99)  # a different fresh initialisation underneath
            loaded = zoo.load_export(given)
            assert isinstance(loaded, zoo.DeepMlp) and not loaded.training
            assert loaded.export_info["epoch"] == 3
            assert all(p.dtype == torch.float32 for p in loaded.parameters())
            sd, sd2 = model.state_dict(), loaded.state_dict()
            assert list(sd) == list(sd2) and all(torch.equal(sd[k], sd2[k]) for k in sd)
            with torch.no_grad():
                assert torch.equal(loaded(x), ref)


def test_load_export_round_trip_every_exportable_fixture_model():
    import fixtures
    seen = set()
    for i, fx in enumerate(fixtures.fixtures()):
        name = fx.rust_module.split("::")[-1]
        if name not in zoo.EXPORT_MODELS:
            continue
        seen.add(name)
        gen = torch.Generator().manual_seed(i)
        model = zoo.from_config(name, fx.fields)
        fixtures.randomize_(model, gen)
        model.eval()
        io = fx.inputs(gen)
        with torch.no_grad():
            ref = fx.forward(model, io)
        with tempfile.TemporaryDirectory() as d:
            loaded = zoo.load_export(write_export(d, fx.name, name, fx.fields, model))
            with torch.no_grad():
                out = fx.forward(loaded, io)
        assert type(loaded) is type(model) and not loaded.training, fx.name
        for k in ref:
            assert torch.equal(out[k], ref[k]), (fx.name, k)
    assert seen == set(zoo.EXPORT_MODELS), seen


def test_from_config_checks_fields_and_load_export_checks_files():
    for bad in (dict(MLP_CONFIG, widht=3), {"d_input": 784}):
        try:
            zoo.from_config("DeepMlp", bad)
        except ValueError as e:
            assert "DeepMlpConfig" in str(e), e
        else:
            raise AssertionError(bad)
    try:
        leaky = {"LeakyRelu": {"negative_slope": 0.1}}
        zoo.from_config("DeepMlp", dict(MLP_CONFIG, activation=leaky))
    except ValueError as e:
        assert "activation" in str(e)
    else:
        raise AssertionError("parameterised activation accepted")
    # Names: model, Rust path, config struct; defaults fill left-out fields.
    net = zoo.from_config("models::CifarNet", {"stages": [{"width": 4, "highway_layers": 1}]})
    assert net.head_kind == "MaxPoolFc" and len(net.stages[0].layers) == 1
    assert isinstance(zoo.from_config("MnistConvNetConfig", {"width": 2}), zoo.MnistConvNet)
    rhn = zoo.from_config("Rhn", {"cell": {"d_input": 3, "d_hidden": 4, "depth": 2}})
    assert len(rhn.cell.layers) == 2
    # An initialiser zoo_torch does not mirror still loads (the weights replace it).
    small = dict(MLP_CONFIG, depth=3, d_hidden=4)
    model = zoo.from_config("DeepMlp", small).eval()
    with tempfile.TemporaryDirectory() as d:
        ortho = dict(small, initializer={"Orthogonal": {"gain": 1.0}})
        path = write_export(d, "o", "DeepMlp", ortho, model)
        x = torch.rand(2, 784)
        with torch.no_grad():
            assert torch.equal(zoo.load_export(path)(x), model(x))
        # Weights of another shape, and a wrong format, are refused.
        path = write_export(d, "w", "DeepMlp", dict(small, d_hidden=5), model)
        for path, err in ((path, RuntimeError),
                          (write_export(d, "f", "DeepMlp", small, model, format="x/0"),
                           ValueError)):
            try:
                zoo.load_export(path)
            except err:
                pass
            else:
                raise AssertionError(path)


def write_idx(directory, split, images, labels, gz=False):
    """datasets/src/mnist.rs write_idx (optionally gzipped, as the Fashion-MNIST cache)."""
    import evaluate
    names = evaluate.SPLIT_FILES[split]
    img = b"".join(v.to_bytes(4, "big") for v in (0x803, len(images), 28, 28)) + images.tobytes()
    lab = b"".join(v.to_bytes(4, "big") for v in (0x801, len(labels))) + labels.tobytes()
    for name, data in zip(names, (img, lab)):
        if gz:
            with gzip.open(os.path.join(directory, name + ".gz"), "wb") as f:
                f.write(data)
        else:
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)


def test_evaluate_mirrors_the_rust_pipeline():
    import numpy as np
    import evaluate
    import torch_peer
    table = evaluate.pixel_table()
    assert table.dtype == np.float32 and table[0] == 0.0 and table[255] == 1.0
    assert torch.equal(torch.from_numpy(table), torch.arange(256, dtype=torch.float32) / 255.0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(37, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, size=37, dtype=np.uint8)
    torch.manual_seed(2)
    with tempfile.TemporaryDirectory() as d:
        for sub, gz in (("raw", False), ("gz", True)):
            os.makedirs(os.path.join(d, sub))
            write_idx(os.path.join(d, sub), "test", images, labels, gz)
            im, lab, _ = evaluate.load_mnist(os.path.join(d, sub), "test")
            assert np.array_equal(im, images) and np.array_equal(lab, labels)
        # A data directory holding the slug's folder, as Rust's --data-dir lookup.
        os.makedirs(os.path.join(d, "root", "fashion-mnist"))
        write_idx(os.path.join(d, "root", "fashion-mnist"), "test", images, labels, True)
        assert evaluate.load_mnist(os.path.join(d, "root"), "test", "fashion-mnist")[2].endswith(
            "fashion-mnist")
        x = torch.from_numpy(images.astype(np.float32) / 255.0)
        y = torch.from_numpy(labels.astype(np.int64))
        conv_cfg = {"width": 2, "kind": "Highway", "transform_bias": -1.0,
                    "dropout": [0.2, 0.3, 0.4, 0.5], "n_classes": 10}
        small = dict(MLP_CONFIG, depth=4, d_hidden=8)
        for name, cfg, inp in (("DeepMlp", small, x),
                               ("MnistConvNet", conv_cfg, x.reshape(37, 1, 28, 28))):
            model = zoo.from_config(name, cfg)
            perturb_(model, 3)
            model.eval()
            with torch.no_grad():
                logits = model(inp)
            acc = (logits.argmax(1) == y).double().mean().item()
            ce = torch.nn.functional.cross_entropy(logits.double(), y).item()
            path = write_export(d, name, name, cfg, model)
            out = os.path.join(d, f"{name}-eval.json")
            r, = torch_peer.main(["evaluate", path, "--mnist-dir", os.path.join(d, "raw"),
                                  "--batch", "10", "--threads", "1", "--json", out])
            with open(out) as f:
                assert json.load(f)["correct"] == r["correct"]
            assert r["examples"] == 37 and r["model"] == name and r["split"] == "test"
            prov = r["provenance"]
            assert prov["format"] == "highway-zoo-provenance/1" and prov["args"][0] == "evaluate"
            assert prov["program"].endswith("torch_peer.py") and prov["date"].endswith("Z")
            assert abs(r["accuracy"] - acc) < 1e-12, (r, acc)
            assert abs(r["mean_cross_entropy"] - ce) < 1e-5, (r, ce)
            r2, = torch_peer.main(["evaluate", path, "--fashion-mnist-dir",
                                   os.path.join(d, "gz"), "--examples", "5", "--threads", "1"])
            assert r2["examples"] == 5 and r2["dataset"] == "fashion-mnist"


def test_peer_device_flag_is_checked_and_cpu_rows_say_where_they_ran():
    import torch_peer
    for bad in ["tpu", "cuda:x", "cpu:1"]:
        try:
            torch_peer.main(["matmul", "--device", bad])
        except SystemExit as e:
            assert e.code == 2, (bad, e.code)
        else:
            raise AssertionError(f"--device {bad} was accepted")
    if not torch.cuda.is_available():
        try:
            torch_peer.main(["matmul", "--device", "cuda"])
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError("--device cuda ran without a GPU")
    r, = torch_peer.main(["matmul", "--n", "64", "--threads", "1", "--steps", "2"])
    assert r["device"] == "cpu" and r["gflops_per_s"] > 0

if __name__ == "__main__":
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)
