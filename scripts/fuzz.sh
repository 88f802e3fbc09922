#!/usr/bin/env bash
# Coverage-guided fuzzing of the datasets parsers with cargo-fuzz (libFuzzer). Not part of
# CI; see docs/fuzzing.md.
#
#   bash scripts/fuzz.sh                 # every target, 600 s each, one after the other
#   bash scripts/fuzz.sh 60 idx ptb      # 60 s each, only these targets
#   FUZZ_SANITIZER=none bash scripts/fuzz.sh   # without AddressSanitizer
#
# Targets: idx (MNIST IDX images + labels, raw or .gz), cifar10, cifar100 (binary records),
# cifar_png (32x32 sample PNGs), ptb (word corpus: train/valid/test), chars (char corpus),
# zip (the enwik8/text8 archive reader: stored and deflated members, CRC and name checks).
# Seeds are made from the first records of the real files in the data cache
# (~/.cache/highway-zoo, `bash scripts/fetch-data.sh mnist ptb cifar10-samples`) when
# present, else from small synthetic files. The corpora grow in datasets/fuzz/corpus/,
# crashes land in datasets/fuzz/artifacts/TARGET/, logs in datasets/fuzz/logs/ (all ignored
# by git). Works on stable Rust through RUSTC_BOOTSTRAP=1 (cargo-fuzz wants nightly flags).
set -euo pipefail

SECONDS_EACH=${1:-600}
shift || true
ALL_TARGETS=(idx cifar10 cifar100 cifar_png ptb chars zip)
TARGETS=("${@:-${ALL_TARGETS[@]}}")
SANITIZER=${FUZZ_SANITIZER:-address}
NICE=${FUZZ_NICE:-5}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ="$ROOT/datasets/fuzz"
CACHE=${HIGHWAY_ZOO_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/highway-zoo}
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz (crates.io)" >&2
    cargo install cargo-fuzz --locked
fi

# Synthetic bytes: n bytes counting 0, 1, 2, ... (mod 256).
# `count` bytes of `file` from offset `skip`.
bytes_at() { dd if="$1" bs=4096 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }
counting() { perl -e 'print map { chr($_ % 256) } 0 .. $ARGV[0] - 1' "$1"; }
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))"
    printf "\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }

seed() {
    local t=$1 d="$FUZZ/corpus/$1"
    mkdir -p "$d"
    [ -n "$(ls -A "$d")" ] && return 0
    case $t in
    idx)
        local img="$CACHE/mnist/t10k-images-idx3-ubyte" lab="$CACHE/mnist/t10k-labels-idx1-ubyte"
        { printf '\x00\x00\x08\x03'; be32 2; be32 28; be32 28
          if [ -f "$img" ]; then bytes_at "$img" 16 1568; else LC_ALL=C counting 1568; fi
        } >"$d/images-2"
        { printf '\x00\x00\x08\x01'; be32 8
          if [ -f "$lab" ]; then bytes_at "$lab" 8 8; else printf '\x07\x02\x01\x00\x04\x01\x04\x09'; fi
        } >"$d/labels-8"
        gzip -9nc "$d/images-2" >"$d/images-2.gz"
        gzip -9nc "$d/labels-8" >"$d/labels-8.gz"
        ;;
    cifar10 | cifar100)
        local labels='\x03' pix="$CACHE/mnist/t10k-images-idx3-ubyte"
        [ "$t" = cifar100 ] && labels='\x0b\x2a'
        for n in 1 2; do
            for _ in $(seq "$n"); do
                printf "$labels"
                if [ -f "$pix" ]; then bytes_at "$pix" 16 3072; else LC_ALL=C counting 3072; fi
            done >"$d/records-$n"
        done
        ;;
    cifar_png)
        local n=0
        for f in "$CACHE"/cifar10-samples/cifar10_0[0-2]_*.png; do
            [ -f "$f" ] && cp "$f" "$d/" && n=$((n + 1))
        done
        # Fallback: a 1x1 grey PNG (wrong size, but a valid PNG to mutate).
        [ "$n" -gt 0 ] || printf '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc\xf8\x0f\x00\x01\x01\x01\x00\x18\xdd\x8d\xb0\x00\x00\x00\x00IEND\xaeB`\x82' >"$d/tiny.png"
        ;;
    ptb)
        local p="$CACHE/ptb"
        if [ -f "$p/ptb.train.txt" ]; then
            { head -n 8 "$p/ptb.train.txt"; printf '\0'; head -n 8 "$p/ptb.train.txt" | tail -n 2
              printf '\0'; head -n 3 "$p/ptb.train.txt" | tail -n 1; } >"$d/train-valid-test"
        else
            printf ' the cat sat \n the dog <unk> \n\0 the dog \n\0 sat \n' >"$d/train-valid-test"
        fi
        printf ' a b \n c \n\0 a \n\0 a zebra \n' >"$d/unknown-word"
        ;;
    chars)
        local w="$CACHE/wiki/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
        if [ -f "$w" ]; then bzip2 -dc "$w" 2>/dev/null | head -c 2000 >"$d/wiki-2000" || true; fi
        printf 'anarchism originated as a term of abuse first used against early working class radicals' >"$d/text8-like"
        printf '<page>\n  <title>Caf\xc3\xa9</title>\n  <text>[[Link|x]] &amp; 3 dogs</text>\n</page>\n' >"$d/xml-like"
        ;;
    zip)
        # Small archives like text8.zip / enwik8.zip: one stored member, one deflated member,
        # and a directory with two members (made with Python's zipfile, fixed timestamps).
        if command -v python3 >/dev/null 2>&1; then
            python3 - "$d" <<'PY'
import os, sys, zipfile
d = sys.argv[1]
text = b"anarchism originated as a term of abuse first used against early working class radicals "
def write(name, members):
    with zipfile.ZipFile(os.path.join(d, name), "w") as z:
        for member, data, method in members:
            z.writestr(zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0)), data, method)
write("stored.zip", [("text8", text, zipfile.ZIP_STORED)])
write("deflated.zip", [("text8", text * 4, zipfile.ZIP_DEFLATED)])
write("two-members.zip", [("data/", b"", zipfile.ZIP_STORED),
                          ("data/enwik8", b"<mediawiki>\n  <page>", zipfile.ZIP_DEFLATED),
                          ("data/text8", text, zipfile.ZIP_STORED)])
PY
        else # stored member "text8" holding "anarchism originated"
            printf 'PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\xd8\x4e\x7e\x7e\x14\x00\x00\x00\x14\x00\x00\x00\x05\x00\x00\x00text8anarchism originatedPK\x01\x02\x14\x03\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\xd8\x4e\x7e\x7e\x14\x00\x00\x00\x14\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00text8PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\x33\x00\x00\x00\x37\x00\x00\x00\x00\x00' >"$d/stored.zip"
        fi
        ;;
    esac
}

max_len() {
    case $1 in
    cifar10 | cifar100) echo 10000 ;;
    idx | cifar_png) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

cd "$FUZZ"
mkdir -p logs
cargo fuzz build --sanitizer "$SANITIZER" # all targets, one build
status=0
for t in "${TARGETS[@]}"; do
    seed "$t"
    mkdir -p "artifacts/$t"
    echo "== $t: ${SECONDS_EACH}s (log: datasets/fuzz/logs/$t.log)" >&2
    if ! nice -n "$NICE" cargo fuzz run --sanitizer "$SANITIZER" "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len "$t")" -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1; then
        echo "!! $t failed: see datasets/fuzz/logs/$t.log and datasets/fuzz/artifacts/$t/" >&2
        status=1
    fi
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|Done [0-9]+ runs)' "logs/$t.log" >&2 || true
done
exit $status
