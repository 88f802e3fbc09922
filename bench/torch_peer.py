#!/usr/bin/env python3
"""highway-zoo's PyTorch (CPU) peer for the benchmarks, and the parity-fixture writer.

Times full training steps (forward + backward + optimizer) of the bench workloads in PyTorch
on random data with a fixed seed, for side-by-side figures with the Rust/Burn benches
(`bench-rhn --peer PYTHON` runs `torch_peer.py rhn ...` itself; `bench-highway` documents the
matching `mlp` / `conv` commands). The models come from `zoo_torch.py`, the zoo's reference
implementations (the same layers the parity fixtures check).

Models
------
mlp   bench-highway's fully connected highway MLP (Srivastava et al. 2015, "Training Very
      Deep Networks"): 784 -> Linear(W) -> D x Highway(W) -> Linear(10), softmax
      cross-entropy, batch 128, SGD(momentum 0.9, lr 0.01) or --optim adam (Adam, lr 1e-3,
      as bench-highway). Highway = zoo_torch.Highway:
        H = relu(x W_H + b_H), T = sigmoid(x W_T + b_T), y = (H - x)*T + x  (= H*T + x*(1-T))
      Xavier-uniform W_H, W_T; b_H = 0; b_T = --t-bias (default -2).
conv  bench-highway's conv stack on 32x32x3 inputs: Conv3x3(3->C, same) ->
      D x ConvHighway(C, 3x3, same padding) -> global avg pool -> Linear(10),
      cross-entropy, batch 64, SGD(momentum 0.9) (or --optim adam).
rhn   RHN language model step (Zilly et al. 2017, "Recurrent Highway Networks"):
      zoo_torch.RhnLm = models::RhnLm: Embedding(V, E) -> Rhn(recurrence depth L, hidden
      N) -> logits y W + b (W = E^T when --tied), truncated BPTT over seq_len tokens (state
      carried over and detached between steps), SGD (paper: lr 0.2, grad-norm clip 10) or
      Adam. No dropout (timing only). Micro-step l = 0..L-1, coupled carry (c = 1 - t):
        h_l = tanh (W_H x [l==0] + R_H,l s_{l-1} + b_H,l)
        t_l = sigmoid(W_T x [l==0] + R_T,l s_{l-1} + b_T,l)
        s_l = h_l * t_l + s_{l-1} * (1 - t_l)
      where s_{-1} is the previous time step's output state. b_T,l = --t-bias (paper's
      PTB config: -2); every other weight and bias uniform(-0.04, 0.04) (init_scale).
matmul  a large f32 matmul: the machine's practical peak.

--device cuda (or cuda:N) runs the benches on an NVIDIA GPU (models, data and optimiser
state on the GPU, every timed step ended by torch.cuda.synchronize(); float32 products in
full float32, i.e. TF32 off, PyTorch's default; the rows carry the peak GPU memory); the
default is the CPU with --threads threads.
fixtures  not a benchmark: writes the Rust parity fixtures (see fixtures.py), e.g.
      torch_peer.py fixtures --out models/tests/fixtures
evaluate  not a benchmark: loads a model exported from a Rust run (`export` binary:
      NAME.json + NAME.safetensors, zoo_torch.load_export) and reports its accuracy and
      mean cross-entropy on MNIST / Fashion-MNIST (DeepMlp, MnistConvNet), reading the IDX
      files and scaling the pixels exactly as the Rust loader does (see evaluate.py);
      its --json file has a "provenance" object (command, date, commit, machine) in the
      format of the Rust runs' provenance.json

Every highway layer uses separate H and T products by default (as in the papers);
--fuse concatenates the H and T (C) weights and computes them with one matmul/conv of
width 2*out, then splits, as the zoo's `fused` layers do in Rust (the dense and conv
layers concatenate at every call, the RHN once per window; same math, only timing differs).

Timing: --warmup untimed steps, then --steps steps each timed individually
(time.perf_counter); reported steps/s = 1 / median step time, samples/s =
batch / median. For rhn, tokens/s = batch*seq_len / median is also given.
foreign_cpu: cores kept busy by other processes during the timed steps (> 0.1 is flagged
CONTENDED). Compare in one run on an idle machine and quote ratios.

Examples
--------
  python torch_peer.py all                      # the standard table
  python torch_peer.py mlp --depth 50 --width 71 --optim adam
  python torch_peer.py rhn --hidden 830 --steps 5 --warmup 2 --tied
  python torch_peer.py matmul --n 2048
  python torch_peer.py rhn --hidden 830 --tied --device cuda
  python torch_peer.py all --json results.json
  python torch_peer.py fixtures --out models/tests/fixtures
  python torch_peer.py evaluate mlp.json --mnist-dir ~/.cache/highway-zoo/mnist --json eval.json
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo_torch as zoo  # noqa: E402  (the zoo's reference layers, next to this file)


# --------------------------------------------------------------------------- #
# Models: the bench workloads, built from the zoo's reference layers (zoo_torch.py)
# --------------------------------------------------------------------------- #
class HighwayMLP(nn.Module):
    """bench-highway's `Mlp`: Linear(784, W) -> HighwayStack(D x Highway(W)) -> Linear(10).

    The input/output Linear layers have Burn's (= PyTorch's) default init; the highway
    layers are `zoo_torch.Highway` (Xavier, b_H = 0, b_T = t_bias).
    """

    def __init__(self, depth, width, n_in=784, n_out=10, t_bias=-2.0, fuse=False):
        super().__init__()
        self.input = nn.Linear(n_in, width)  # plain linear projection (no activation)
        self.stack = zoo.highway_stack(depth, width, transform_bias=t_bias, fused=fuse)
        self.output = nn.Linear(width, n_out)

    def forward(self, x):
        return self.output(self.stack(self.input(x)))


class ConvHighwayNet(nn.Module):
    """bench-highway's `ConvNet`: Conv3x3(3->C, same) -> ConvHighwayStack(D x ConvHighway(C))
    -> global average pool -> Linear(10)."""

    def __init__(self, depth, channels, in_ch=3, n_out=10, t_bias=-2.0, fuse=False):
        super().__init__()
        self.input = nn.Conv2d(in_ch, channels, 3, padding=1)
        self.stack = zoo.conv_highway_stack(depth, channels, kernel_size=3,
                                            transform_bias=t_bias, fused=fuse)
        self.output = nn.Linear(channels, n_out)

    def forward(self, x):
        y = self.stack(self.input(x))
        return self.output(y.mean(dim=(2, 3)))


def rhn_lm(vocab, hidden, depth, emb=None, tied=False, t_bias=-2.0, fuse=False):
    """The RHN language model: `zoo_torch.RhnLm` (= `models::RhnLm`), uniform +-0.04 init,
    b_T = t_bias, coupled carry, no dropout. Unfused H/T products unless `fuse`."""
    emb = hidden if (emb is None or tied) else emb
    return zoo.RhnLm(vocab, hidden, depth, embed_size=emb, tied_embeddings=tied,
                     transform_bias=t_bias, fused=fuse)


# --------------------------------------------------------------------------- #
# FLOP estimates (multiply-add = 2 FLOPs; matmul/conv terms only)
# --------------------------------------------------------------------------- #
def mlp_flops(depth, width, batch, n_in=784, n_out=10):
    """Forward matmul FLOPs and training-step FLOPs.

    Backward of a linear layer = grad wrt weights (same cost as fwd) + grad wrt
    input (same cost), except the first layer whose input needs no gradient.
    """
    f_in = 2 * batch * n_in * width
    f_hw = depth * 2 * (2 * batch * width * width)
    f_out = 2 * batch * width * n_out
    fwd = f_in + f_hw + f_out
    train = 3 * fwd - f_in
    return fwd, train


def conv_flops(depth, ch, batch, hw=32, in_ch=3, k=3):
    f_in = 2 * batch * hw * hw * ch * in_ch * k * k
    f_hw = depth * 2 * (2 * batch * hw * hw * ch * ch * k * k)
    fwd = f_in + f_hw
    return fwd, 3 * fwd - f_in


def rhn_flops(hidden, depth, emb, vocab, seq, batch):
    tokens = seq * batch
    f_x = 2 * tokens * emb * 2 * hidden
    f_r = tokens * depth * 2 * (2 * hidden * hidden)  # R_H and R_T per micro-step
    f_o = 2 * tokens * hidden * vocab
    fwd = f_x + f_r + f_o
    return fwd, 3 * fwd - f_x  # embeddings need no input grad


# --------------------------------------------------------------------------- #
# Timing helpers
# --------------------------------------------------------------------------- #
def _busy_cpu_s():
    """(system-wide busy CPU seconds from /proc/stat or None, this process's CPU seconds)."""
    own = sum(os.times()[:2])
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK"), own
    except (OSError, ValueError):
        return None, own


def _synchronize(device):
    """Waits for the work queued on ``device`` (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step_fn, warmup, steps, device=torch.device("cpu")):
    """Run warmup steps, then time each step (ended by a device synchronisation on a GPU);
    returns (times, foreign_cpu).

    foreign_cpu = average number of cores kept busy by OTHER processes during
    the timed steps (Linux /proc/stat); > ~0.1 means the timing is contended.
    """
    for _ in range(warmup):
        step_fn()
    _synchronize(device)
    times = []
    sys0, own0 = _busy_cpu_s()
    w0 = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        step_fn()
        _synchronize(device)
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - w0
    sys1, own1 = _busy_cpu_s()
    foreign = None if sys0 is None else max(0.0, (sys1 - sys0) - (own1 - own0)) / wall
    return times, foreign


def summarize(name, config, timing, batch, flops_train, extra_per_step=None):
    times, foreign = timing
    med = statistics.median(times)
    r = {
        "bench": name,
        "config": config,
        "batch": batch,
        "n_timed": len(times),
        "median_step_s": med,
        "min_step_s": min(times),
        "max_step_s": max(times),
        "steps_per_s": 1.0 / med,
        "samples_per_s": batch / med,
        "train_flops_per_step": flops_train,
        "gflops_per_s": flops_train / med / 1e9,
        "foreign_cpu": foreign,
    }
    if extra_per_step:
        for k, v in extra_per_step.items():
            r[k + "_per_s"] = v / med
    return r


def make_optimizer(args, model):
    """mlp/conv: SGD(momentum 0.9, lr 0.01) by default; `--optim adam`: Adam(lr 1e-3), the
    optimiser bench-highway's MLP uses (highway_torch.py ignored --optim for these)."""
    if args.optim == "adam":
        return torch.optim.Adam(model.parameters(), lr=args.lr or 1e-3)
    return torch.optim.SGD(model.parameters(), lr=args.lr or 0.01, momentum=0.9)


def _bench_classifier(args, name, cfg, model, input_shape, flops_train):
    """Time SGD/Adam steps of cross-entropy on one fixed random batch (``input_shape``,
    uniform [0, 1), labels 0..9); shared by the mlp and conv benches."""
    batch = input_shape[0]
    model = model.to(args.device)
    opt = make_optimizer(args, model)
    g = torch.Generator().manual_seed(args.seed)
    x = torch.rand(*input_shape, generator=g).to(args.device)
    y = torch.randint(0, 10, (batch,), generator=g).to(args.device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    timing = time_steps(step, args.warmup, args.steps, args.device)
    r = summarize(name, cfg, timing, batch, flops_train)
    r["optim"] = args.optim
    return r


def bench_mlp(args, depth, width):
    torch.manual_seed(args.seed)
    batch = args.batch or 128
    model = HighwayMLP(depth, width, t_bias=args.t_bias, fuse=args.fuse)
    _, ftrain = mlp_flops(depth, width, batch)
    return _bench_classifier(args, "mlp", f"D={depth},W={width}", model, (batch, 784), ftrain)


def bench_conv(args, depth, ch):
    torch.manual_seed(args.seed)
    batch = args.batch or 64
    model = ConvHighwayNet(depth, ch, t_bias=args.t_bias, fuse=args.fuse)
    _, ftrain = conv_flops(depth, ch, batch)
    return _bench_classifier(args, "conv", f"D={depth},C={ch}", model, (batch, 3, 32, 32),
                             ftrain)


def bench_rhn(args, hidden):
    torch.manual_seed(args.seed)
    batch, seq, vocab, depth = args.batch or 20, args.seq_len, args.vocab, args.rhn_depth
    emb = hidden if (args.tied or args.emb is None) else args.emb
    model = rhn_lm(vocab, hidden, depth, emb=emb, tied=args.tied, t_bias=args.t_bias,
                   fuse=args.fuse).to(args.device)
    if args.optim == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr or 1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr or 0.2)
    g = torch.Generator().manual_seed(args.seed)
    # A random "corpus" long enough for warmup+steps consecutive BPTT windows.
    n_win = args.warmup + args.steps
    data = torch.randint(0, vocab, (n_win * seq + 1, batch), generator=g).to(args.device)
    state = {"s": torch.zeros(batch, hidden, device=args.device), "i": 0}

    def step():
        i = state["i"] % n_win
        state["i"] += 1
        # The corpus is time-major [time, batch]; the zoo model is batch first.
        inp = data[i * seq:(i + 1) * seq].t()
        tgt = data[i * seq + 1:(i + 1) * seq + 1].t()
        opt.zero_grad(set_to_none=True)
        logits, s = model(inp, state["s"].detach())  # truncated BPTT; logits [B, T, V]
        loss = F.cross_entropy(logits.reshape(-1, vocab), tgt.reshape(-1))
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        state["s"] = s.detach()

    timing = time_steps(step, args.warmup, args.steps, args.device)
    _, ftrain = rhn_flops(hidden, depth, emb, vocab, seq, batch)
    n_params = sum(p.numel() for p in model.parameters())
    cfg = f"N={hidden},L={depth},E={emb},V={vocab},T={seq},tied={int(args.tied)},{args.optim}"
    r = summarize("rhn", cfg, timing, batch, ftrain, {"tokens": batch * seq})
    r["params"] = n_params
    return r


def bench_matmul(args):
    n = args.n
    g = torch.Generator().manual_seed(args.seed)
    a = torch.randn(n, n, generator=g).to(args.device)
    b = torch.randn(n, n, generator=g).to(args.device)
    c = torch.empty(n, n, device=args.device)
    times, foreign = time_steps(lambda: torch.mm(a, b, out=c), max(args.warmup, 2),
                                max(args.steps, 10), args.device)
    med = statistics.median(times)
    flops = 2 * n ** 3
    return {"bench": "matmul", "config": f"{n}x{n}x{n} f32", "median_step_s": med,
            "min_step_s": min(times), "gflops_per_s": flops / med / 1e9,
            "best_gflops_per_s": flops / min(times) / 1e9, "foreign_cpu": foreign}


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #
def fmt(r):
    warn = ""
    if r.get("foreign_cpu") is not None and r["foreign_cpu"] > 0.1:
        warn = f"  [CONTENDED: other processes used {r['foreign_cpu']:.2f} cores]"
    if r["bench"] == "matmul":
        return (f"{'matmul':6} {r['config']:42} median {r['median_step_s']*1e3:9.2f} ms   "
                f"{r['gflops_per_s']:7.1f} GFLOP/s (best {r['best_gflops_per_s']:.1f})" + warn)
    s = (f"{r['bench']:6} {r['config']:42} {r['steps_per_s']:9.2f} steps/s "
         f"{r['samples_per_s']:10.1f} samples/s")
    if "tokens_per_s" in r:
        s += f" {r['tokens_per_s']:9.0f} tok/s"
    s += f"   {r['gflops_per_s']:6.1f} GFLOP/s  (median {r['median_step_s']*1e3:.2f} ms)"
    return s + warn


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__[__doc__.index("Examples"):])
    p.add_argument("bench", choices=["mlp", "conv", "rhn", "matmul", "all", "fixtures",
                                      "evaluate"])
    p.add_argument("export", nargs="?",
                   help="evaluate: the export's NAME.json (or NAME.safetensors)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu",
                   help="cpu (default) or cuda / cuda:N: where the benches run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=None, help="untimed steps (default: per bench)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: per bench)")
    p.add_argument("--batch", type=int, default=None,
                   help="default: mlp 128, conv 64, rhn 20, evaluate 1000")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--t-bias", type=float, default=-2.0, help="transform-gate bias init")
    p.add_argument("--fuse", action="store_true", help="compute H and T with one op")
    p.add_argument("--depth", type=int, nargs="+", default=None,
                   help="highway depth(s) D (mlp default 10 50 100; conv default 9)")
    p.add_argument("--width", type=int, default=None, help="mlp width (50) / conv channels (32)")
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 830], help="rhn hidden size(s)")
    p.add_argument("--rhn-depth", type=int, default=10, help="RHN recurrence depth L")
    p.add_argument("--emb", type=int, default=None, help="rhn embedding size (untied; default hidden)")
    p.add_argument("--tied", action="store_true", help="tie input/output embeddings")
    p.add_argument("--vocab", type=int, default=10000)
    p.add_argument("--seq-len", type=int, default=35)
    p.add_argument("--optim", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--clip", type=float, default=10.0, help="grad-norm clip for rhn (0 = off)")
    p.add_argument("--n", type=int, default=2048, help="matmul size")
    p.add_argument("--json", help="also write results to this JSON file")
    p.add_argument("--show-config", action="store_true", help="print torch.__config__.show()")
    p.add_argument("--out", default="models/tests/fixtures",
                   help="fixtures: output directory (default models/tests/fixtures)")
    p.add_argument("--mnist-dir", help="evaluate: directory of the MNIST IDX files (raw or "
                   ".gz), e.g. ~/.cache/highway-zoo/mnist")
    p.add_argument("--fashion-mnist-dir", help="evaluate: the same for Fashion-MNIST")
    p.add_argument("--split", choices=["test", "train"], default="test",
                   help="evaluate: t10k-* (10,000) or train-* (60,000) files")
    p.add_argument("--examples", type=int, default=None,
                   help="evaluate: the first N examples only")
    args = p.parse_args(argv)
    # The command line, for the evaluation's provenance: this process's, or the one given.
    args.command = sys.argv if argv is None else [os.path.relpath(__file__), *argv]
    if args.bench != "evaluate" and args.export is not None:
        p.error(f"unexpected argument {args.export!r}")

    if args.bench == "evaluate":
        return evaluate_main(p, args)

    if args.bench == "fixtures":
        import fixtures  # noqa: E402  (bench/fixtures.py)
        torch.set_num_threads(args.threads)
        fixtures.write_all(args.out, seed=args.seed, argv=sys.argv)
        return []

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.device = parse_device(p, args.device)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"python {platform.python_version()}, {platform.processor() or platform.machine()}"
          + (f", {gpu_name(args.device)}" if args.device.type == "cuda" else ""),
          flush=True)
    if args.show_config:
        print(torch.__config__.show())

    def run(kind, fn, *fa, warmup, steps):
        a = argparse.Namespace(**vars(args))
        a.warmup = args.warmup if args.warmup is not None else warmup
        a.steps = args.steps if args.steps is not None else steps
        if args.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(args.device)
        r = fn(a, *fa)
        r["threads"] = args.threads
        r["warmup"] = a.warmup
        r["device"] = str(args.device)
        if args.device.type == "cuda":
            r["peak_gpu_memory_mib"] = torch.cuda.max_memory_allocated(args.device) / 2**20
        print(fmt(r), flush=True)
        return r

    results = []
    if args.bench in ("matmul", "all"):
        results.append(run("matmul", bench_matmul, warmup=3, steps=10))
    if args.bench in ("mlp", "all"):
        for d in (args.depth if args.bench == "mlp" and args.depth else [10, 50, 100]):
            results.append(run("mlp", bench_mlp, d, args.width or 50, warmup=20, steps=50))
    if args.bench in ("conv", "all"):
        for d in (args.depth if args.bench == "conv" and args.depth else [9]):
            results.append(run("conv", bench_conv, d, args.width or 32, warmup=3, steps=10))
    if args.bench in ("rhn", "all"):
        for n in args.hidden:
            results.append(run("rhn", bench_rhn, n, warmup=2, steps=5 if n > 512 else 10))

    if args.json:
        meta = {"torch": torch.__version__, "threads": args.threads, "argv": sys.argv[1:],
                "fuse": args.fuse, "t_bias": args.t_bias, "optim": args.optim,
                "peer": "bench/torch_peer.py", "device": str(args.device)}
        if args.device.type == "cuda":
            meta["gpu"] = gpu_name(args.device)
            meta["cuda"] = torch.version.cuda
            meta["tf32"] = torch.backends.cuda.matmul.allow_tf32
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)
    return results


def parse_device(p, name):
    """``--device``: ``cpu``, ``cuda`` or ``cuda:N``, checked to be there (a clear error, not a
    traceback, when PyTorch sees no such GPU)."""
    kind, _, index = name.partition(":")
    if kind not in ("cpu", "cuda") or (index and (kind == "cpu" or not index.isdigit())):
        p.error(f"--device {name!r}: give cpu, cuda or cuda:N")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            p.error(f"--device {name}: PyTorch finds no CUDA GPU (torch {torch.__version__}, "
                    f"built for CUDA {torch.version.cuda or 'none'}; is the NVIDIA driver "
                    "loaded?)")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            p.error(f"--device {name}: only {torch.cuda.device_count()} CUDA GPU(s) found")
        device = torch.device("cuda", index)
    return device


def gpu_name(device):
    """``NVIDIA H100 80GB HBM3, driver 580.xx, CUDA 13.0`` for a CUDA ``device``."""
    driver = None
    try:
        import subprocess  # noqa: PLC0415
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader",
                              f"--id={device.index or 0}"], capture_output=True, text=True,
                             check=True)
        driver = out.stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        pass
    name = torch.cuda.get_device_name(device)
    return f"{name}" + (f", driver {driver}" if driver else "") + f", CUDA {torch.version.cuda}"


def _first_field(path, key, sep):
    """The value of the first ``key SEP value`` line of the file at ``path``, or None."""
    try:
        with open(path) as f:
            for line in f:
                k, found, v = line.partition(sep)
                if found and k.strip() == key and v.strip():
                    return v.strip()
    except OSError:
        pass
    return None


def provenance(argv):
    """Where this process's results come from, in the Rust side's ``provenance.json`` format
    (``experiments/src/train/provenance.rs``): command line (the home directory as ``~``),
    UTC date, git commit and uncommitted paths, interpreter and torch versions, machine."""
    import subprocess  # noqa: PLC0415

    home = os.path.expanduser("~")

    def tilde(a):
        return "~" + a[len(home):] if home not in ("", "/") and (
            a == home or a.startswith(home + "/")) else a

    def git(*a):
        try:
            out = subprocess.run(["git", *a], capture_output=True, text=True, check=True)
            return out.stdout
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = (git("rev-parse", "--short=12", "HEAD") or "unknown").strip() or "unknown"
    # As the Rust side: the run records (docs/runs, docs/bench) are data, not the source.
    status = git("status", "--porcelain=v1", "--untracked-files=normal", "--", ":(top)",
                 ":(top,exclude)docs/runs", ":(top,exclude)docs/bench")
    modified = [ln[3:] for ln in (status or "").splitlines() if ln[3:]]
    if len(modified) > 50:
        modified = modified[:50] + [f"... and {len(modified) - 50} more"]
    mem = _first_field("/proc/meminfo", "MemTotal", ":")
    kernel = platform.release() or None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {
        "format": "highway-zoo-provenance/1",
        "program": argv[0],
        "args": [tilde(a) for a in argv[1:]],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_commit": commit,
        "git_modified": modified,
        "build": f"python {platform.python_version()}, torch {torch.__version__}",
        "backends": [],
        "backend": f"torch cpu, {torch.get_num_threads()} threads",
        # Variables that force PyTorch's kernels to AVX2 on an AVX-512 CPU, where set.
        "env": {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")
                if k in os.environ},
        "matrix_kernels": _torch_kernels(),
        "machine": {
            "cpu": _first_field("/proc/cpuinfo", "model name", ":") or platform.machine(),
            "logical_cores": cores,
            "memory_gib": round(int(mem.split()[0]) / 1024 / 1024, 1) if mem else None,
            "os": (_first_field("/etc/os-release", "PRETTY_NAME", "=") or platform.system())
            .strip('"'),
            "kernel": kernel,
            "arch": platform.machine(),
            "vector": _vector_extension(),
        },
    }


def _vector_extension():
    """The CPU's widest vector set, named as the Rust side's ``Machine::vector``."""
    flags = set((_first_field("/proc/cpuinfo", "flags", ":") or "").split())
    if not flags:
        return "NEON" if platform.machine() in ("aarch64", "arm64") else None
    if "avx512f" in flags:
        return "AVX-512"
    if {"avx2", "fma"} <= flags:
        return "AVX2"
    return "SSE4.2" if "sse4_2" in flags else "SSE2"


def _torch_kernels():
    """The instruction set of PyTorch's matrix products in this process: MKL's, which follow
    MKL_ENABLE_INSTRUCTIONS where it is set (AVX2 on an AVX-512 CPU, say) and the CPU's widest
    set otherwise (ATEN_CPU_CAPABILITY lowers only ATen's own, element-wise kernels)."""
    mkl = os.environ.get("MKL_ENABLE_INSTRUCTIONS", "").upper()
    names = {"AVX512": "AVX-512", "AVX512_E1": "AVX-512", "AVX2": "AVX2", "AVX": "AVX",
             "SSE4_2": "SSE4.2"}
    for prefix, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        if mkl.startswith(prefix):
            return name
    return _vector_extension()


def evaluate_main(p, args):
    import evaluate  # noqa: E402  (bench/evaluate.py)
    if args.export is None:
        p.error("evaluate: give the export's NAME.json")
    dirs = [(ds, d) for ds, d in (("mnist", args.mnist_dir),
                                  ("fashion-mnist", args.fashion_mnist_dir)) if d]
    if len(dirs) != 1:
        p.error("evaluate: give one of --mnist-dir DIR, --fashion-mnist-dir DIR")
    if args.examples is not None and args.examples < 1:
        p.error("--examples must be at least 1")
    (dataset, data_dir), = dirs
    torch.set_num_threads(args.threads)
    try:
        r = evaluate.evaluate_export(args.export, os.path.expanduser(data_dir), dataset,
                                     args.split, args.batch or 1000, args.examples)
    except (OSError, ValueError, RuntimeError) as e:
        sys.exit(f"torch_peer.py evaluate: {e}")
    print(evaluate.fmt(r), flush=True)
    r["provenance"] = provenance(args.command)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)
            f.write("\n")
    return [r]


if __name__ == "__main__":
    main()
