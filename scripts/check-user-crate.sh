#!/usr/bin/env bash
# Builds the README's "use the crates from your own Burn project" snippets the way a new user
# would: in a fresh crate outside the workspace, without our Cargo.lock, so every dependency
# is resolved afresh from crates.io (a newly released crate that breaks Burn shows up here).
#
#   bash scripts/check-user-crate.sh            # cargo check of the snippets (CI)
#   USER_CRATE_BUILD=1 bash scripts/check-user-crate.sh   # a full build instead
#
# The crate's files are the README's code blocks that follow a `<!-- user-crate: FILE -->`
# line (its Cargo.toml), each written to FILE with `/path/to/highway-zoo` replaced by this
# checkout, and the examples the README shows and links: highway-core's quickstart (as
# src/main.rs) and models' burn-train examples (examples/learner.rs, examples/tbptt_lstm.rs). Needs network access to
# crates.io (or a filled cargo registry cache).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CRATE="$WORK/zoo-user"
mkdir -p "$CRATE/src"

python3 - "$ROOT/README.md" "$CRATE" "$ROOT" <<'PY'
import pathlib, re, sys
readme, crate, root = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
text = open(readme, encoding="utf-8").read()
blocks = re.findall(r"<!-- user-crate: (\S+) -->\s*```\w*\n(.*?)```", text, re.S)
if not blocks:
    sys.exit(f"{readme}: no `<!-- user-crate: FILE -->` snippets found")
names = [name for name, _ in blocks]
if "Cargo.toml" not in names:
    sys.exit(f"{readme}: no Cargo.toml snippet among {names}")
for name, body in blocks:
    path = crate / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body.replace("/path/to/highway-zoo", root), encoding="utf-8")
    print(f"[user-crate] {name}: {len(body.splitlines())} lines from the README")
PY
mkdir -p "$CRATE/examples"
cp "$ROOT/highway-core/examples/quickstart.rs" "$CRATE/src/main.rs"
cp "$ROOT/models/examples/learner.rs" "$CRATE/examples/learner.rs"
cp "$ROOT/models/examples/tbptt_lstm.rs" "$CRATE/examples/tbptt_lstm.rs"

cd "$CRATE"
export CARGO_TARGET_DIR="${USER_CRATE_TARGET:-$ROOT/target/user-crate}"
cargo generate-lockfile
echo "[user-crate] resolved: $(grep -c '^name = ' Cargo.lock) packages"
grep -A1 '^name = "systemstat"' Cargo.lock || true
if [[ "${USER_CRATE_BUILD:-0}" == 1 ]]; then
    cargo build --all-targets
else
    cargo check --all-targets
fi
echo "[user-crate] the README's snippets build in a fresh crate"
