//! Character corpora: `CharCorpus::from_bytes` on the raw bytes (enwik8 style) and on
//! `text8_filter` of them (text8 style), as `CharCorpus::from_file` calls them.
#![no_main]

use std::path::Path;

use datasets::{CharCorpus, text8_filter};
use libfuzzer_sys::fuzz_target;

fn check(path: &Path, bytes: &[u8]) {
    match CharCorpus::from_bytes(path, bytes) {
        Ok(c) => {
            let n = bytes.len();
            assert_eq!(c.len(), n);
            assert_eq!(c.train.len(), n * 90 / 100);
            assert_eq!(c.valid.len(), n * 5 / 100);
            assert!(!c.valid.is_empty() && !c.test.is_empty());
            let v = c.vocab.len() as u32;
            assert!((1..=256).contains(&v));
            // Decoding the ids gives back the bytes.
            let decoded: Vec<u8> = c
                .train
                .iter()
                .chain(&c.valid)
                .chain(&c.test)
                .map(|&id| c.vocab.symbol(id).unwrap())
                .collect();
            assert_eq!(decoded, bytes);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(path.to_str().unwrap()),
                "message does not name the file: {msg}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(Path::new("input.txt"), data);
    let filtered = text8_filter(data);
    assert!(
        filtered
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b == b' ')
    );
    assert!(!filtered.windows(2).any(|w| w == b"  "));
    check(Path::new("text8"), &filtered);
});
