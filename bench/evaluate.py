"""Evaluate a model exported from a Rust run (``zoo_torch.load_export``) on MNIST or
Fashion-MNIST, with the Rust side's data pipeline mirrored exactly.

Run as ``torch_peer.py evaluate EXPORT.json --mnist-dir DIR`` (see ``main`` there).

The Rust pipeline (``datasets/src/mnist.rs``, ``datasets/src/fetch.rs``,
``experiments/src/data.rs``), reproduced here:

* files: ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (60,000) and
  ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte`` (10,000), each raw or with ``.gz``
  (``fetch::find_file`` tries ``NAME`` then ``NAME.gz``; gzip members may be concatenated);
* IDX: big-endian ``u32`` magic ``0x00000803`` (images) / ``0x00000801`` (labels), the
  count, for images rows = cols = 28, then the bytes; sizes must match exactly, labels < 10,
  as many labels as images;
* pixels: every training binary uses ``MnistData::new`` → ``MnistBatcher::new()`` =
  ``normalized(0.0, 1.0)``: byte ``v`` → ``(v as f32 / 255.0 - 0.0) / 1.0`` in float32, i.e.
  ``v / 255`` in [0, 1], no mean/std standardisation;
* layout: ``[batch, 784]`` row-major for ``DeepMlp`` (``LabelledData<2>``), and the same
  buffer reshaped to ``[batch, 1, 28, 28]`` (NCHW, ``MnistBatch::images_nchw``) for
  ``MnistConvNet`` (``LabelledData<4>``);
* metrics: accuracy = correct / examples (arg-max of the logits), loss = mean softmax
  cross-entropy over all examples (``Sums`` in ``experiments/src/train/strategy.rs`` weights
  each batch's mean by its size). Evaluation has no dropout (eval mode).
"""
from __future__ import annotations

import bz2
import gzip
import json
import os
import sys
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import zoo_torch as zoo

MNIST_SIDE = 28
MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE
MNIST_CLASSES = 10
IDX_IMAGES_MAGIC = 0x0000_0803
IDX_LABELS_MAGIC = 0x0000_0801
#: ``MnistSplit::file_names``.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Catalog slugs (``datasets/src/catalog.rs``): a data directory may hold ``slug/``.
SLUGS = {"mnist": "mnist", "fashion-mnist": "fashion-mnist"}
#: The models this evaluates, and how each takes the images.
MNIST_MODELS = ("DeepMlp", "MnistConvNet")


def find_file(directory: str, name: str) -> Optional[str]:
    """``fetch::find_file``: ``dir/name``, else ``dir/name.gz``."""
    for candidate in (os.path.join(directory, name), os.path.join(directory, name + ".gz")):
        if os.path.isfile(candidate):
            return candidate
    return None


def read_file(path: str) -> bytes:
    """``fetch::read_file``: the bytes, decompressed by extension (``.gz``, ``.bz2``;
    concatenated members/streams allowed)."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".bz2"):
        return bz2.decompress(data)
    return data


def _be_u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "big")


def _check_idx(path: str, data: bytes, header: int, magic_expected: int) -> None:
    """The checks both IDX parsers start with: the header is there, the magic is right."""
    if len(data) < header:
        raise ValueError(f"{path}: truncated: expected {header} bytes, found {len(data)} bytes")
    magic = _be_u32(data, 0)
    if magic != magic_expected:
        raise ValueError(f"{path}: bad magic: expected 0x{magic_expected:08x}, "
                         f"found 0x{magic:08x}")


def _check_length(path: str, data: bytes, expected: int) -> None:
    if len(data) != expected:
        raise ValueError(f"{path}: truncated: expected {expected} bytes, found {len(data)} bytes")


def parse_idx_images(path: str, data: bytes, rows: int = MNIST_SIDE,
                     cols: int = MNIST_SIDE) -> np.ndarray:
    """``parse_idx_images``: ``[n, rows·cols]`` uint8, image after image, row-major."""
    _check_idx(path, data, 16, IDX_IMAGES_MAGIC)
    n, r, c = _be_u32(data, 4), _be_u32(data, 8), _be_u32(data, 12)
    if (r, c) != (rows, cols):
        raise ValueError(f"{path}: images are {n}x{r}x{c}, expected {n}x{rows}x{cols}")
    _check_length(path, data, 16 + n * rows * cols)
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)


def parse_idx_labels(path: str, data: bytes, classes: int = MNIST_CLASSES) -> np.ndarray:
    """``parse_idx_labels``: ``[n]`` uint8, every label below ``classes``."""
    _check_idx(path, data, 8, IDX_LABELS_MAGIC)
    _check_length(path, data, 8 + _be_u32(data, 4))
    labels = np.frombuffer(data, dtype=np.uint8, offset=8)
    bad = np.nonzero(labels >= classes)[0]
    if bad.size:
        raise ValueError(f"{path}: label {labels[bad[0]]} at {bad[0]} is not below {classes}")
    return labels


def resolve_dir(directory: str, dataset: str, split: str) -> str:
    """``directory``, or ``directory/<slug>`` when only that holds the split's files (as the
    Rust ``--data-dir`` lookup, ``fetch::locate``, tries the slug first)."""
    names = SPLIT_FILES[split]
    nested = os.path.join(directory, SLUGS[dataset])
    for d in (nested, directory):
        if all(find_file(d, n) for n in names):
            return d
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory}: no such directory")
    raise FileNotFoundError(f"{directory}: {names[0]} and {names[1]} (raw or .gz) not found "
                            f"(also looked in {nested})")


def load_mnist(directory: str, split: str = "test",
               dataset: str = "mnist") -> Tuple[np.ndarray, np.ndarray, str]:
    """``MnistDataset::from_dir``: ``(pixels [n, 784] uint8, labels [n] uint8, directory)``."""
    d = resolve_dir(directory, dataset, split)
    image_path, label_path = (find_file(d, n) for n in SPLIT_FILES[split])
    images = parse_idx_images(image_path, read_file(image_path))
    labels = parse_idx_labels(label_path, read_file(label_path))
    if len(images) != len(labels):
        raise ValueError(f"{image_path} holds {len(images)} images but {label_path} "
                         f"{len(labels)} labels")
    return images, labels, d


def pixel_table(mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """``MnistBatcher::normalized(mean, std)``'s table, in float32 as in Rust:
    ``(v as f32 / 255.0 - mean) / std``. The training binaries use ``(0, 1)``
    (``MnistBatcher::new``): exactly ``v / 255``."""
    v = np.arange(256, dtype=np.float32) / np.float32(255.0)
    return (v - np.float32(mean)) / np.float32(std)


def model_input(model: nn.Module, pixels: np.ndarray, table: np.ndarray) -> torch.Tensor:
    """A batch of pixel bytes ``[b, 784]`` → what the model takes: ``[b, 784]`` float32 for
    ``DeepMlp``, ``[b, 1, 28, 28]`` for ``MnistConvNet``."""
    x = torch.from_numpy(table[pixels])
    if isinstance(model, zoo.MnistConvNet):
        return x.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE)
    if isinstance(model, zoo.DeepMlp):
        d_input = model.input.linear.in_features
        if d_input != MNIST_PIXELS:
            raise ValueError(f"DeepMlp has d_input {d_input}, MNIST images have {MNIST_PIXELS}")
        return x
    raise ValueError(f"{type(model).__name__} is not an MNIST model ({', '.join(MNIST_MODELS)})")


@torch.no_grad()
def evaluate_classifier(model: nn.Module, images: np.ndarray, labels: np.ndarray,
                        batch: int = 1000, table: Optional[np.ndarray] = None) -> Dict:
    """Accuracy and mean cross-entropy of ``model`` (eval mode, float32) on the images."""
    if model.training:
        raise ValueError("put the model in eval mode (dropout off) first")
    table = pixel_table() if table is None else table
    n = len(labels)
    correct, loss_sum = 0, 0.0
    for start in range(0, n, batch):
        x = model_input(model, images[start:start + batch], table)
        y = torch.from_numpy(labels[start:start + batch].astype(np.int64))
        logits = model(x)
        if logits.dtype != torch.float32 or logits.ndim != 2 or logits.shape[0] != len(y):
            raise ValueError(f"unexpected logits {logits.dtype} {tuple(logits.shape)}")
        correct += int((logits.argmax(dim=1) == y).sum())
        loss_sum += float(F.cross_entropy(logits, y, reduction="none").double().sum())
    return {"examples": n, "correct": correct, "accuracy": correct / max(n, 1),
            "error_rate": 1.0 - correct / max(n, 1), "mean_cross_entropy": loss_sum / max(n, 1)}


def run_dataset(info: Dict) -> Optional[str]:
    """The data set the exported run's ``config.json`` names (``"dataset"``), if readable."""
    run = info.get("run")
    try:
        with open(os.path.join(run, "config.json")) as f:
            ds = json.load(f).get("dataset")
        return ds if isinstance(ds, str) else None
    except (OSError, TypeError, ValueError, AttributeError):
        return None


def evaluate_export(export: str, data_dir: str, dataset: str = "mnist", split: str = "test",
                    batch: int = 1000, examples: Optional[int] = None) -> Dict:
    """Load an export, evaluate it on a split of MNIST / Fashion-MNIST; the results."""
    model = zoo.load_export(export)
    info = model.export_info
    if info["model"] not in MNIST_MODELS:
        raise ValueError(f"{export}: a {info['model']}; evaluate handles "
                         f"{', '.join(MNIST_MODELS)} (MNIST / Fashion-MNIST)")
    images, labels, directory = load_mnist(data_dir, split, dataset)
    if examples is not None:  # MnistData::take: the first n
        images, labels = images[:examples], labels[:examples]
    trained_on = run_dataset(info)
    if trained_on is not None and trained_on != dataset:
        print(f"warning: the run's config.json says dataset {trained_on!r}, evaluating on "
              f"{dataset!r}", file=sys.stderr)
    metrics = evaluate_classifier(model, images, labels, batch)
    return {
        "export": os.path.abspath(export),
        "model": info["model"],
        "config": info["config"],
        "epoch": info.get("epoch"),
        "run": info.get("run"),
        "dataset": dataset,
        "split": split,
        "data_dir": os.path.abspath(directory),
        **metrics,
        "batch": batch,
        "preprocessing": "pixels v/255 in [0, 1] float32 (MnistBatcher::new); DeepMlp "
                         "[batch, 784], MnistConvNet [batch, 1, 28, 28]",
        "params": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def fmt(r: Dict) -> str:
    return (f"{r['model']} (epoch {r['epoch']}) on {r['dataset']} {r['split']}: accuracy "
            f"{r['accuracy']:.4f} ({r['correct']}/{r['examples']}), error "
            f"{100 * r['error_rate']:.2f}%, mean cross-entropy {r['mean_cross_entropy']:.5f}")
