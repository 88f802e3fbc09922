#!/usr/bin/env bash
# Installs lavapipe (Debian's mesa-vulkan-drivers: Mesa's Vulkan driver running on the CPU) and
# the Vulkan loader where no Vulkan driver is installed, so that Burn's `wgpu` backend runs on a
# machine without a GPU (slowly; `.ci/run` checks every model on it). Needs apt-get, as root or
# through sudo. Idempotent: does nothing when a Vulkan driver is already installed.
set -euo pipefail

log() { printf '[vulkan-cpu] %s\n' "$*" >&2; }

if compgen -G "/usr/share/vulkan/icd.d/*.json" >/dev/null && ldconfig -p | grep -q libvulkan.so.1; then
    log "a Vulkan driver and the loader are installed: $(ls /usr/share/vulkan/icd.d | tr '\n' ' ')"
    exit 0
fi
command -v apt-get >/dev/null || {
    log "ERROR: no Vulkan driver and no apt-get: install Mesa's Vulkan drivers (lavapipe) and the Vulkan loader"
    exit 1
}
sudo=""
[[ "$(id -u)" == 0 ]] || sudo="sudo"
packages=(mesa-vulkan-drivers libvulkan1)
log "apt-get install -y ${packages[*]}"
if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >&2; then
    log "not found: running apt-get update first"
    $sudo apt-get update -q >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >&2
fi
log "installed: $(ls /usr/share/vulkan/icd.d | tr '\n' ' ')"
