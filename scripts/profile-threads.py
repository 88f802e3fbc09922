#!/usr/bin/env python3
"""Where a training step leaves a core idle: the threads of a `perf` call-graph profile laid out in time.

`perf record -e cpu-clock` samples each running thread at a fixed rate, so a time slot of two
sampling periods holds a sample of (almost) every thread that ran through it; a slot of one
period would miss threads whose samples jitter into the next slot, and count them idle.
Idle spells shorter than a slot are not seen: the figures are lower bounds. This script
reads the text of `perf script -F tid,time,ip,sym` (with call graphs) and prints

- how many slots had one, two or more threads running;
- per step, the time the main thread (the lowest thread id) ran while no other thread did,
  and the time one other thread ran alone, each split by the first of the `--phase` names
  found in its call stack (leaf first).

    perf record -e cpu-clock -F 2000 --call-graph dwarf,16384 -o rhn.data -- \\
        target/release/bench-rhn --preset small --warmup 2 --steps 10
    perf script -i rhn.data -F tid,time,ip,sym > rhn.trace
    python3 scripts/profile-threads.py rhn.trace --steps 12 --skip 2 --slot 0.001

Samples before the first stack holding `--anchor` (the training step) are left out, and with
`--skip K` the first K of the `--steps` steps (taken as equally long: the first step also
initialises the parameters). Slot counts move with the sampling's jitter: compare runs made
alike.
"""

import argparse
import collections
import re

PHASES = [
    "RhnTape::backward",
    "softmax_cross_entropy",
    "Rhn::forward_deferred",
    "Embedding::forward",
    "clip_global_norm",
    "ModuleOptimizer",
    "backward_impl",
    "train_step",
]


def samples(path):
    """Yields (tid, time, [frames leaf first]) from `perf script` text."""
    sample = None
    with open(path, errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line.strip():
                if sample:
                    yield sample
                sample = None
            elif not line.startswith("\t"):
                tid, time = line.split()[:2]
                sample = (int(tid), float(time.rstrip(":")), [])
            elif sample is not None:
                parts = line.strip().split(None, 1)
                sample[2].append(re.sub(r"<.*", "", parts[-1]))
    if sample:
        yield sample


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", help="the output of perf script -F tid,time,ip,sym")
    parser.add_argument("--slot", type=float, default=0.001, help="seconds per slot (two sampling periods)")
    parser.add_argument("--steps", type=int, required=True, help="training steps in the trace")
    parser.add_argument("--skip", type=int, default=0, help="steps left out at the start")
    parser.add_argument("--anchor", default="lm_train_step", help="a function of the training step")
    parser.add_argument("--phase", action="append", help="a phase name (repeatable; default: the RHN step's)")
    args = parser.parse_args()
    phases = args.phase or PHASES
    all_samples = list(samples(args.trace))
    if not all_samples:
        raise SystemExit(f"{args.trace}: no samples")
    anchored = [t for _, t, frames in all_samples if any(args.anchor in f for f in frames)]
    if not anchored:
        raise SystemExit(f"{args.trace}: no stack holds {args.anchor!r}")
    start, end = min(anchored), max(anchored)
    if not 0 <= args.skip < args.steps:
        raise SystemExit(f"--skip {args.skip}: not below --steps {args.steps}")
    start += (end - start) * args.skip / args.steps
    steps = args.steps - args.skip
    main_tid = min(tid for tid, _, _ in all_samples)
    slots = collections.defaultdict(list)
    for tid, time, frames in all_samples:
        if start <= time <= end:
            slots[int((time - start) / args.slot)].append((tid, frames))
    busy = collections.Counter(len({tid for tid, _ in s}) for s in slots.values())
    total = int((end - start) / args.slot) + 1
    print(f"{end - start:.3f} s of {steps} steps of {args.anchor}, {total} slots")
    print(f"  no thread: {total - len(slots)}")
    for threads, count in sorted(busy.items()):
        print(f"  {threads} thread(s) running: {count} ({100 * count / total:.1f}%)")
    alone = {True: collections.Counter(), False: collections.Counter()}
    for s in slots.values():
        tids = {tid for tid, _ in s}
        if len(tids) == 1:
            frames = s[0][1]
            name = next((p for f in frames for p in phases if p in f), "other")
            alone[tids == {main_tid}][name] += 1
    per_step = args.slot * 1000 / steps
    for is_main, title in [(True, f"main thread {main_tid}"), (False, "one other thread")]:
        counts = alone[is_main]
        print(f"{title} alone: {sum(counts.values()) * per_step:.2f} ms per step")
        for name, count in counts.most_common():
            print(f"  {count * per_step:6.2f} ms  {name}")


if __name__ == "__main__":
    main()
