#!/usr/bin/env bash
# Where a CPU training step spends its time: `perf record -e cpu-clock` (a software clock, so it
# works on VMs without hardware counters) of the release bench binaries, the flat profile by
# symbol written to OUT/profile-<workload>.txt with the CPU's description. Needs `perf`
# (Debian's linux-perf) and a release build:
#   cargo build --release -p experiments --bin bench-rhn --bin bench-highway
#   bash scripts/profile-cpu.sh docs/bench/avx2
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/profile-cpu.sh OUT_DIR}"
mkdir -p "$out"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
profile() {
  local name="$1"
  shift
  perf record -q -e cpu-clock -F 1000 -o "$data/$name.data" -- "$@" >/dev/null 2>&1
  {
    echo "# $name: perf record -e cpu-clock -F 1000 -- $*"
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- . ':(exclude)docs' || echo ' (uncommitted changes)')"
    lscpu | grep -E '^(Model name|CPU family|Model|CPU\(s\)):' | sed 's/^/# /'
    echo "# vector extensions: $(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    perf report -i "$data/$name.data" --stdio --no-children --sort symbol 2>/dev/null \
      | grep -v -e '^#' -e '^$' | awk 'NR <= 40' | cut -c1-140
  } >"$out/profile-$name.txt"
  echo "wrote $out/profile-$name.txt"
}
profile rhn-sota target/release/bench-rhn --preset sota --warmup 1 --steps 6
profile rhn-small target/release/bench-rhn --preset small --warmup 2 --steps 15
profile mlp target/release/bench-highway --model mlp --devices flex --variants fast --warmup 3 --steps 40
