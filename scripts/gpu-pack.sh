#!/usr/bin/env bash
# Builds and packs what scripts/gpu-check.sh runs on a GPU machine that has the NVIDIA driver
# and PyTorch but no Rust toolchain and no network. Run it here, on a CPU machine, from the
# repository's root:
#
#   bash scripts/gpu-pack.sh          # writes .gpu/ (git-ignored)
#
# .gpu/ then travels with the working tree to the GPU machine (the device tool's
# `carry: [".gpu"]`), where `bash scripts/gpu-check.sh` unpacks and runs it. It holds:
#
#   bin.tar.xz     release builds with the `cuda` and `wgpu` features: gpu-multi (bench-rhn,
#                  bench-highway and ptb in one executable, so that their shared code travels
#                  once; scripts/gpu-check.sh links the three names to it) and the test binary
#                  of experiments/tests/gpu/ (symbols and debug info stripped)
#   data.tar.xz    Penn Treebank and MNIST's test split from the data cache
#                  (scripts/fetch-data.sh)
#   vulkan/*.deb   the Vulkan loader (libvulkan1), for a GPU machine without one
#   manifest.txt   the commit, the build's command and each file's size
#
# GPU_PACK_FEATURES (default cuda,wgpu) picks the backends, GPU_PACK_PROFILE (default release)
# the cargo profile: `GPU_PACK_FEATURES=wgpu GPU_PACK_PROFILE=dev` reuses the dev build of the
# wgpu tests and, with `GPU_CHECK_DEVICES=wgpu`, lets scripts/gpu-check.sh run on lavapipe (a
# check of the scripts themselves).
#
# The `cuda` build needs LLVM 23 (scripts/cuda-llvm.sh installs it offline) and
# CUDARC_CUDA_VERSION (13000 here: CUDA 13.0, the GPU machines' driver 580). It is long (see
# below).
# The pack travels with the working tree, and the device tool takes 64 MiB in all: the script
# fails above PACK_LIMIT_MIB (default: 64 MiB less the tracked files and 1 MiB). Measured
# 2026-12-07 (the 2-core AMD EPYC): the release build with `cuda` and `wgpu` (a cold build of
# 36 min at commit ad604cf) is two stripped binaries of 196 and 195 MB, packed into 47 MiB;
# with PTB and MNIST's test split (2.6 MiB packed) the pack is 49.6 MiB, and with the 8.8 MiB
# of tracked files 58.4 MiB, inside the 64.
set -euo pipefail
cd "$(dirname "$0")/.."

PACK=.gpu
tracked_mib=$(( $(git ls-files -z | xargs -0 cat | wc -c) / 1024 / 1024 + 1 ))
LIMIT_MIB="${PACK_LIMIT_MIB:-$(( 64 - tracked_mib - 1 ))}"
FEATURES="${GPU_PACK_FEATURES:-cuda,wgpu}"
PROFILE="${GPU_PACK_PROFILE:-release}"
case "$PROFILE" in
    release) PROFILE_FLAG=--release ;;
    dev) PROFILE_FLAG= ;;
    *) echo "scripts/gpu-pack.sh: GPU_PACK_PROFILE=$PROFILE: give release or dev" >&2; exit 1 ;;
esac
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"
DATA="${HIGHWAY_ZOO_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/highway-zoo}"

# The gpu test's MNIST runs read only the test split (MnistDataset::test), and the benches
# make their own inputs: the 47 MB of training images stay behind.
MNIST_TEST=(t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
# The path of data file $1 as the cache stores it: raw or gzipped.
stored() {
    local path
    for path in "$1" "$1.gz"; do
        [[ -f "$path" ]] && { echo "$path"; return 0; }
    done
    return 1
}
missing() {
    echo "scripts/gpu-pack.sh: $DATA/$1 is missing: run scripts/fetch-data.sh first" >&2
    exit 1
}
[[ -d "$DATA/ptb" ]] || missing ptb
for f in "${MNIST_TEST[@]}"; do
    stored "$DATA/mnist/$f" >/dev/null || missing "mnist/$f"
done

if [[ ",$FEATURES," == *",cuda,"* ]]; then
    echo "== LLVM 23 for the cuda feature (scripts/cuda-llvm.sh)"
    bash scripts/cuda-llvm.sh
fi

echo "== $PROFILE build, features $FEATURES (CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION)"
bins=(gpu-multi)
# One build: cargo builds the package's binaries for its integration tests with the tests'
# features (Burn's ndarray from the dev-dependencies among them), so the binaries and the gpu
# test binary share every dependency's build. Their paths are in cargo's JSON messages (the
# test binary's name carries a hash).
artifacts=$(cargo test $PROFILE_FLAG --locked -p experiments --features "$FEATURES" --test gpu \
    --no-run --message-format=json \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])')
executable() { awk -v name="$1" '$1 == name { print $2 }' <<< "$artifacts"; }
test_bin=$(executable gpu)
for name in gpu "${bins[@]}"; do
    if [[ -z "$(executable "$name")" ]]; then
        echo "scripts/gpu-pack.sh: cargo built no $name binary" >&2
        exit 1
    fi
done

rm -rf "$PACK"
mkdir -p "$PACK" "$PACK/vulkan"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/data"
for b in "${bins[@]}"; do
    cp "$(executable "$b")" "$stage/bin/$b"
done
cp "$test_bin" "$stage/bin/gpu-test"
strip --strip-all "$stage"/bin/*

echo "== packing"
# One solid archive with a large dictionary: the binaries share most of their code.
tar -C "$stage" -cf - bin | xz -9e --lzma2=preset=9e,dict=256MiB -T1 > "$PACK/bin.tar.xz"
mkdir -p "$stage/data/mnist"
cp -r "$DATA/ptb" "$stage/data/"
for f in "${MNIST_TEST[@]}"; do
    cp "$(stored "$DATA/mnist/$f")" "$stage/data/mnist/"
done
tar -C "$stage" -cf - data | xz -9 -T2 > "$PACK/data.tar.xz"
(cd "$PACK/vulkan" && apt-get download libvulkan1 >/dev/null) || \
    echo "warning: apt-get download libvulkan1 failed: the GPU machine must have a Vulkan loader" >&2

{
    echo "commit $(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD || echo ' (modified)')"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "profile $PROFILE, features $FEATURES, CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION, rustc $(rustc --version | cut -d' ' -f2)"
    (cd "$stage" && du -b bin/* | sed 's/^/unpacked /')
    (cd "$PACK" && find . -type f -printf 'packed %s %p\n' | sort)
} > "$PACK/manifest.txt"
cat "$PACK/manifest.txt"

size=$(du -sb "$PACK" | cut -f1)
echo "$PACK: $((size / 1024 / 1024)) MiB"
if (( size > LIMIT_MIB * 1024 * 1024 )); then
    echo "scripts/gpu-pack.sh: $PACK is over $LIMIT_MIB MiB: with the working tree it may not" \
         "fit the device tool's 64 MiB" >&2
    exit 1
fi
