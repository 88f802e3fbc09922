//! Bad input never panics: every parser is fed thousands of truncated, mutated and random
//! inputs (a seeded, in-tree smoke test; not a replacement for coverage-guided fuzzing) and
//! must return `Ok` or a `DataError` whose message names the file.

use std::path::Path;

use datasets::cifar::{CIFAR_PIXELS, decode_png_32x32, parse_cifar_records};
use datasets::mnist::{IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, parse_idx_images, parse_idx_labels};
use datasets::*;

const FILE: &str = "fuzzed-input.bin";

/// Valid-looking seeds for each format, to mutate.
fn idx_images(n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [IDX_IMAGES_MAGIC, n, 28, 28] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend((0..n as usize * 784).map(|i| i as u8));
    v
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [IDX_LABELS_MAGIC, n] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend((0..n as u8).map(|i| i % 10));
    v
}

fn png_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 32, 32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[77; 32 * 32 * 3]).unwrap();
    }
    out
}

/// Truncations, byte flips, insertions and pure noise derived from `seed_input`.
fn mutants(seed_input: &[u8], rng: &mut SplitMix64, count: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let mut v = seed_input.to_vec();
        match k % 4 {
            0 => v.truncate(rng.below(v.len() as u64 + 1) as usize),
            1 => {
                for _ in 0..=rng.below(4) {
                    if !v.is_empty() {
                        let i = rng.below(v.len() as u64) as usize;
                        // Favour the header, where the interesting fields are.
                        let i = if rng.coin() { i % 24.min(v.len()) } else { i };
                        v[i] = rng.next_u64() as u8;
                    }
                }
            }
            2 => {
                let i = rng.below(v.len() as u64 + 1) as usize;
                let extra: Vec<u8> = (0..rng.below(8)).map(|_| rng.next_u64() as u8).collect();
                v.splice(i..i, extra);
            }
            _ => {
                v = (0..rng.below(64)).map(|_| rng.next_u64() as u8).collect();
            }
        }
        out.push(v);
    }
    out
}

fn names_file(r: Result<impl Sized>) {
    if let Err(e) = r {
        let msg = e.to_string();
        assert!(msg.contains(FILE), "error does not name the file: {msg}");
    }
}

#[test]
fn idx_parsers_never_panic() {
    let path = Path::new(FILE);
    let mut rng = SplitMix64::new(1);
    for m in mutants(&idx_images(3), &mut rng, 4000) {
        names_file(parse_idx_images(path, m, 28, 28));
    }
    for m in mutants(&idx_labels(12), &mut rng, 4000) {
        names_file(parse_idx_labels(path, m, 10));
    }
}

#[test]
fn cifar_parsers_never_panic() {
    let path = Path::new(FILE);
    let mut rng = SplitMix64::new(2);
    let mut record = vec![3u8];
    record.extend_from_slice(&[9u8; CIFAR_PIXELS]);
    let two = [record.clone(), record].concat();
    for m in mutants(&two, &mut rng, 2000) {
        names_file(parse_cifar_records(path, &m, CifarKind::Cifar10));
        names_file(parse_cifar_records(path, &m, CifarKind::Cifar100));
    }
    for m in mutants(&png_bytes(), &mut rng, 3000) {
        names_file(decode_png_32x32(path, &m));
    }
}

#[test]
fn text_parsers_never_panic() {
    let path = Path::new(FILE);
    let mut rng = SplitMix64::new(3);
    let text = b" the cat sat on the mat \n the dog <unk> \n N years \n".repeat(3);
    for m in mutants(&text, &mut rng, 3000) {
        if let Ok(s) = std::str::from_utf8(&m) {
            names_file(PtbCorpus::from_texts(
                (
                    Path::new("ptb.train.txt"),
                    " the cat sat on the mat <unk> N \n",
                ),
                (path, s),
                (Path::new("ptb.test.txt"), " the \n"),
            ));
        }
        names_file(CharCorpus::from_bytes(path, &m));
        let filtered = text8_filter(&m);
        assert!(
            filtered
                .iter()
                .all(|&b| b == b' ' || b.is_ascii_lowercase())
        );
        if let Ok(c) = CharCorpus::from_bytes(path, &m) {
            let _ = c.bptt(
                CharSplit::Train,
                1 + rng.below(4) as usize,
                1 + rng.below(8) as usize,
            );
        }
    }
}

#[test]
fn decompression_never_panics() {
    use std::io::Write;
    let raw = idx_labels(12);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&raw).unwrap();
    let gz = enc.finish().unwrap();
    let gz_path = Path::new("fuzzed-input.bin.gz");
    assert_eq!(fetch::decompress(gz_path, gz.clone()).unwrap(), raw);
    // Uncompressed names pass the bytes through.
    assert_eq!(fetch::decompress(Path::new(FILE), gz.clone()).unwrap(), gz);
    let mut rng = SplitMix64::new(4);
    for m in mutants(&gz, &mut rng, 3000) {
        names_file(fetch::decompress(gz_path, m.clone()));
        names_file(fetch::decompress(Path::new("fuzzed-input.bin.bz2"), m));
    }
}

#[test]
fn ptb_from_bytes_checks_utf8_per_file() {
    let train = Path::new("ptb.train.txt");
    let c = PtbCorpus::from_bytes(
        (train, b" a b \n"),
        (Path::new("ptb.valid.txt"), b" b \n"),
        (Path::new(FILE), b" a \n"),
    )
    .unwrap();
    assert_eq!(c.test, vec![0, 2]);
    let msg = PtbCorpus::from_bytes(
        (train, b" a b \n"),
        (Path::new("ptb.valid.txt"), b" b \n"),
        (Path::new(FILE), b" a \xff\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains(FILE) && msg.contains("not UTF-8"), "{msg}");
}
