//! The CIFAR-10 sample PNGs (`decode_png_32x32`, as `CifarDataset::from_png_dir` calls it).
#![no_main]

use std::path::Path;

use datasets::cifar::decode_png_32x32;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("cifar10_00_3.png");
    if let Err(e) = decode_png_32x32(path, data) {
        let msg = e.to_string();
        assert!(
            msg.contains("cifar10_00_3.png"),
            "message does not name the file: {msg}"
        );
    }
});
