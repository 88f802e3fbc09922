#!/usr/bin/env bash
# The zoo on one NVIDIA GPU, in at most about 9 minutes (the sum of the steps' limits), on a
# machine with the NVIDIA driver and PyTorch with CUDA but no Rust toolchain and no network. Run from the repository's root with
# the pack of scripts/gpu-pack.sh in .gpu/ (built beforehand on a CPU machine):
#
#   bash scripts/gpu-check.sh [OUT]        # OUT: $OUT where set, else gpu-check-out
#
# It runs, each step under its own time limit (a step that fails or overruns is reported
# and the next one runs):
#   1. experiments/tests/gpu/ on `cuda`, then on `wgpu` (the GPU through Vulkan): one
#      training step of every zoo model against the CPU, short MNIST and PTB runs resumed
#      after a stop, from a checkpoint written while the run went on, and after a kill;
#   2. bench-rhn `--preset small,sota` on `cuda` and on `wgpu`, the PyTorch peer on CUDA in
#      the same run; bench-highway's conv stack 9×32, Table 1 net and 50×71 MLP on both, with
#      a 2048³ product, the peer beside them;
#   3. `ptb --preset sota` on `cuda` for PTB_MINUTES (default 2) minutes: its per-window
#      losses, tokens/s, and the GPU's peak memory (nvidia-smi, every 500 ms).
#
# GPU_CHECK_DEVICES (default "cuda wgpu") names the backends: `GPU_CHECK_DEVICES=wgpu` with a
# pack built by `GPU_PACK_FEATURES=wgpu bash scripts/gpu-pack.sh` runs the same check on a
# machine without an NVIDIA GPU (lavapipe: slow, to check the script itself; multiply every
# step's time limit by GPU_CHECK_TIME_SCALE there).
#
# OUT gets two files: gpu-check.log (everything printed) and results.tar.gz (the bench JSON
# files, the ptb run's records, nvidia-smi's report, the pack's manifest). Put the bench JSON
# files in docs/bench/ (report reads that folder's *.json, not its sub-folders) and run
# `report --write docs/speed.md` to bring them into its GPU table.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-${OUT:-gpu-check-out}}"
PACK=.gpu
PTB_MINUTES="${PTB_MINUTES:-2}"
read -r -a DEVICES <<< "${GPU_CHECK_DEVICES:-cuda wgpu}"
DEVICE_LIST=$(IFS=,; echo "${DEVICES[*]}")
SCALE="${GPU_CHECK_TIME_SCALE:-1}"
WORK=$(mktemp -d /tmp/hz-gpu-check.XXXXXX)
RESULTS="$WORK/results"
mkdir -p "$OUT" "$RESULTS"
exec > >(tee "$OUT/gpu-check.log") 2>&1

if [[ ! -f "$PACK/bin.tar.xz" || ! -f "$PACK/data.tar.xz" ]]; then
    echo "scripts/gpu-check.sh: $PACK/bin.tar.xz or $PACK/data.tar.xz is missing: run" \
         "scripts/gpu-pack.sh on a CPU machine and carry $PACK" >&2
    exit 1
fi
NVIDIA=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    NVIDIA=1
elif [[ " ${DEVICES[*]} " == *" cuda "* ]]; then
    echo "scripts/gpu-check.sh: nvidia-smi finds no NVIDIA GPU on this machine (devices:" \
         "${DEVICES[*]})" >&2
    exit 1
fi

echo "== unpacking $PACK ($(date -u +%H:%M:%S))"
# Python's tarfile, in case the machine has no xz.
for archive in "$PACK/bin.tar.xz" "$PACK/data.tar.xz"; do
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
        "$archive" "$WORK" || exit 1
done
chmod +x "$WORK"/bin/*
BIN="$WORK/bin"
# bench-rhn, bench-highway and ptb are one executable, run by the name it is called under.
for program in bench-rhn bench-highway ptb; do
    ln -sf gpu-multi "$BIN/$program"
done
export HIGHWAY_ZOO_DATA="$WORK/data"
cp "$PACK/manifest.txt" "$RESULTS/" 2>/dev/null
cat "$PACK/manifest.txt" 2>/dev/null
(( NVIDIA )) && nvidia-smi | tee "$RESULTS/nvidia-smi.txt"

# wgpu needs the Vulkan loader and the NVIDIA driver's Vulkan manifest.
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
    for f in "$PACK"/vulkan/*.deb; do
        [[ -f "$f" ]] && dpkg -x "$f" /
    done
    ldconfig
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [[ -f "$icd" && ! -e /usr/share/vulkan/icd.d/nvidia_icd.json \
          && ! -e /etc/vulkan/icd.d/nvidia_icd.json ]]; then
        export VK_DRIVER_FILES="$icd"
    fi
done
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$WORK}"
PYTHON="${PYTHON:-python3}"
if "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
        2>/dev/null; then
    PEER=(--peer "$PYTHON" --peer-device cuda)
else
    echo "warning: $PYTHON has no PyTorch with CUDA: the benches run without the peer"
    PEER=()
fi

STATUS="$RESULTS/steps.txt"
# step NAME SECONDS COMMAND...: runs COMMAND under a time limit and records its outcome.
step() {
    local name=$1 limit=$(($2 * SCALE))
    shift 2
    echo
    echo "== $name (limit ${limit}s, $(date -u +%H:%M:%S))"
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    local verdict=passed
    if (( rc == 124 || rc == 137 )); then verdict="timed out"; elif (( rc != 0 )); then verdict="failed (exit $rc)"; fi
    printf '%-28s %-18s %4ds\n' "$name" "$verdict" $((SECONDS - start)) | tee -a "$STATUS"
}

# 1. Every model against the CPU, and runs resumed after a stop and a kill.
# CI=true: a device that does not answer, or missing data, fails the tests instead of
# skipping them.
for device in "${DEVICES[@]}"; do
    CI=true HIGHWAY_ZOO_GPU_TEST=$device step "tests-$device" 90 "$BIN/gpu-test" --test-threads 1
done

# 2. The benches, the peer on the same GPU.
for device in "${DEVICES[@]}"; do
    step "bench-rhn-$device" 40 "$BIN/bench-rhn" --device "$device" --preset small,sota \
        --warmup 3 --steps 10 "${PEER[@]}" --json "$RESULTS/rhn-tokens-$device.json"
done
step bench-highway-conv 30 "$BIN/bench-highway" --model conv --depth 9 --width 32 --batch 64 \
    --devices "$DEVICE_LIST" --variants fused,unfused --matmul --warmup 3 --steps 10 "${PEER[@]}" \
    --json "$RESULTS/conv-stack-gpu.json"
step bench-highway-mlp 30 "$BIN/bench-highway" --model mlp --devices "$DEVICE_LIST" \
    --variants fused,unfused --warmup 5 --steps 30 "${PEER[@]}" --json "$RESULTS/mlp-gpu.json"
step bench-highway-table1 25 "$BIN/bench-highway" --model mnist-conv --width 32 --batch 100 \
    --devices "$DEVICE_LIST" --variants fused,unfused --warmup 3 --steps 10 \
    --json "$RESULTS/table1-gpu.json"

# 3. A few minutes of the paper's PTB model; the GPU's memory sampled meanwhile.
PTB_DEVICE=${DEVICES[0]}
RUN="ptb-sota-$PTB_DEVICE"
if (( NVIDIA )); then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 \
        > "$WORK/memory.csv" 2>/dev/null &
    SAMPLER=$!
fi
step "$RUN" $((PTB_MINUTES * 60 + 30)) "$BIN/ptb" --preset sota --device "$PTB_DEVICE" \
    --max-minutes "$PTB_MINUTES" --out "$WORK/$RUN"
if (( NVIDIA )); then
    kill "$SAMPLER" 2>/dev/null
    peak=$(sort -n "$WORK/memory.csv" 2>/dev/null | tail -n 1)
    echo "peak GPU memory during ptb: ${peak:-unknown} MiB (nvidia-smi, whole GPU)" \
        | tee -a "$STATUS"
    cp "$WORK/memory.csv" "$RESULTS/$RUN-gpu-memory-mib.csv" 2>/dev/null
fi
mkdir -p "$RESULTS/$RUN"
for f in config.json provenance.json summary.json metrics.csv; do
    cp "$WORK/$RUN/$f" "$RESULTS/$RUN/" 2>/dev/null
done
for log in "$WORK/$RUN"/burn/train/epoch-*/Loss.log; do
    [[ -f "$log" ]] || continue
    epoch=$(basename "$(dirname "$log")")
    cp "$log" "$RESULTS/$RUN/train-loss-$epoch.log"
done

echo
echo "== summary"
cat "$STATUS"
tar -C "$WORK" -czf "$OUT/results.tar.gz" results
echo "results: $OUT/results.tar.gz, log: $OUT/gpu-check.log"
rc=0
grep -q -e failed -e 'timed out' "$STATUS" && rc=1
rm -rf "$WORK"
exit "$rc"
