//! CIFAR-100 binary records (`parse_cifar_records`, as `CifarDataset::from_files` calls it).
#![no_main]

use std::path::Path;

use datasets::CifarKind;
use datasets::cifar::{CIFAR_PIXELS, parse_cifar_records};
use libfuzzer_sys::fuzz_target;

const KIND: CifarKind = CifarKind::Cifar100;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("train.bin");
    match parse_cifar_records(path, data, KIND) {
        Ok(r) => {
            let n = data.len() / KIND.record_bytes();
            assert!(n > 0);
            assert_eq!(data.len(), n * KIND.record_bytes());
            assert_eq!(r.labels.len(), n);
            assert_eq!(r.pixels.len(), n * CIFAR_PIXELS);
            assert!(r.labels.iter().all(|&l| (l as usize) < KIND.classes()));
            if KIND == CifarKind::Cifar100 {
                assert_eq!(r.coarse.len(), n);
                assert!(r.coarse.iter().all(|&l| l < 20));
            } else {
                assert!(r.coarse.is_empty());
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(path.to_str().unwrap()),
                "message does not name the file: {msg}"
            );
        }
    }
});
