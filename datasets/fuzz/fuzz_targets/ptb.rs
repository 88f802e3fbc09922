//! Penn Treebank word corpus (`PtbCorpus::from_bytes`, as `PtbCorpus::from_files` calls it).
//! The input is split at its first two NUL bytes into the train, valid and test files
//! (missing parts are empty), so the fuzzer reaches the vocabulary building, the
//! not-in-vocabulary error, the empty-corpus error and the UTF-8 check of each file.
#![no_main]

use std::path::Path;

use datasets::ptb::EOS;
use datasets::{PtbCorpus, PtbSplit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let train = parts.next().unwrap_or(&[]);
    let valid = parts.next().unwrap_or(&[]);
    let test = parts.next().unwrap_or(&[]);
    let paths = ["ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"].map(Path::new);
    match PtbCorpus::from_bytes((paths[0], train), (paths[1], valid), (paths[2], test)) {
        Ok(c) => {
            let v = c.vocab.len() as u32;
            assert!(v >= 2, "a corpus has a word and <eos>");
            for (split, text) in [(&c.train, train), (&c.valid, valid), (&c.test, test)] {
                let text = std::str::from_utf8(text).unwrap();
                let words = text.split_whitespace().count();
                let lines = text.lines().count();
                assert_eq!(split.len(), words + lines);
                assert!(split.iter().all(|&id| id < v));
            }
            // Ids round-trip through the vocabulary, <eos> included.
            for (id, w) in c.vocab.words().iter().enumerate() {
                assert_eq!(c.vocab.id(w), Some(id as u32));
            }
            assert!(c.vocab.id(EOS).is_some());
            // Truncated-BPTT layout of the parsed ids: Ok or a clear error, never a panic.
            let batch = 1 + data.len() % 7;
            let seq = 1 + data.len() % 5;
            for split in [PtbSplit::Train, PtbSplit::Valid, PtbSplit::Test] {
                if let Ok(b) = c.bptt(split, batch, seq) {
                    let windows: Vec<_> = b.iter().collect();
                    assert_eq!(windows.len(), b.num_windows());
                    assert!(windows.iter().all(|w| w.inputs.len() == batch * seq));
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                paths.iter().any(|p| msg.contains(p.to_str().unwrap())),
                "message does not name a file: {msg}"
            );
        }
    }
});
