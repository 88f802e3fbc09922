#!/usr/bin/env bash
# Installs the LLVM 23 that Burn's `cuda` feature builds against, from PyPI, so that
#
#   CUDARC_CUDA_VERSION=13000 cargo build -p experiments --release --features cuda
#
# works without the network access the build would otherwise need. `burn/cuda` reaches
# `cubecl-llvm`, whose build depends on `tracel-llvm-bundler`: that build script downloads an
# LLVM 23.1.0 archive from GitHub into `<data dir>/tracel/tracel-llvm-23.1.0-4` unless the
# marker file `.tracel-llvm-installed` is there. PyPI's `mlc-llvm-static==23.1.1.post0` and
# `mlc-llvm-static-extra-targets==23.1.1.post0` (the NVPTX target) hold a static, relocatable
# LLVM 23 with its headers and an `llvm-config` (a Python script: python3 must be on PATH
# during the build). This script installs them into one folder, links that folder's prefix as
# the bundler's directory and writes the marker.
#
#   bash scripts/cuda-llvm.sh            # installs (about 90 MB of wheels, 400 MB on disk)
#   export CUDARC_CUDA_VERSION=13000     # CUDA 13.0 bindings (driver 580); match your driver
#
# `<data dir>` is `$XDG_DATA_HOME`, else `~/.local/share` (Linux; the `dirs` crate's
# `data_local_dir`). Set `HIGHWAY_ZOO_LLVM_DIR` to install the wheels elsewhere.
set -euo pipefail

VERSION=23.1.1.post0
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
PREFIX="$DATA/tracel/tracel-llvm-23.1.0-4"
MARKER="$PREFIX/.tracel-llvm-installed"
WHEELS="${HIGHWAY_ZOO_LLVM_DIR:-$DATA/highway-zoo/mlc-llvm-static-$VERSION}"
PYTHON="${PYTHON:-python3}"

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
    echo "scripts/cuda-llvm.sh: the PyPI wheels are for Linux x86-64; on $(uname -s)-$(uname -m)" \
         "let the build download its LLVM" >&2
    exit 1
fi
if [[ -e "$MARKER" ]]; then
    echo "[cuda-llvm] $PREFIX is installed ($("$PREFIX/bin/llvm-config" --version))"
    exit 0
fi
if [[ -e "$PREFIX" && ! -L "$PREFIX" ]]; then
    echo "scripts/cuda-llvm.sh: $PREFIX exists but has no $MARKER (a partial download of" \
         "the bundler?); remove it and run again" >&2
    exit 1
fi
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$WHEELS" \
    "mlc-llvm-static==$VERSION" "mlc-llvm-static-extra-targets==$VERSION"
STATIC="$WHEELS/mlc_llvm_static/static"
TARGETS=$("$STATIC/bin/llvm-config" --targets-built)
if [[ " $TARGETS " != *" NVPTX "* ]]; then
    echo "scripts/cuda-llvm.sh: $STATIC has no NVPTX target ($TARGETS)" >&2
    exit 1
fi
mkdir -p "$(dirname "$PREFIX")"
ln -sfn "$STATIC" "$PREFIX"
touch "$MARKER"
echo "[cuda-llvm] LLVM $("$PREFIX/bin/llvm-config" --version) (NVPTX) at $PREFIX -> $STATIC"
echo "[cuda-llvm] now: export CUDARC_CUDA_VERSION=13000 (or your driver's CUDA version)"
