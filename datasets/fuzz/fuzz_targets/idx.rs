//! MNIST / Fashion-MNIST IDX files, raw or gzipped: every input is parsed both as an image
//! file and as a label file, exactly as `MnistDataset::from_idx_files` reads them
//! (`fetch::decompress` for a `.gz` name, then `parse_idx_images` / `parse_idx_labels`).
#![no_main]

use std::path::Path;

use datasets::fetch::decompress;
use datasets::mnist::{
    MNIST_CLASSES, MNIST_PIXELS, MNIST_SIDE, parse_idx_images, parse_idx_labels,
};
use libfuzzer_sys::fuzz_target;

/// The error's message must name the file.
fn check_err(name: &Path, e: datasets::DataError) {
    let msg = e.to_string();
    assert!(
        msg.contains(name.to_str().unwrap()),
        "message does not name the file: {msg}"
    );
}

fuzz_target!(|data: &[u8]| {
    // A gzip member (magic 1f 8b) is read as `NAME.gz`, like the files in the cache.
    let gz = data.starts_with(&[0x1f, 0x8b]);
    let (images, labels) = if gz {
        (
            Path::new("train-images-idx3-ubyte.gz"),
            Path::new("train-labels-idx1-ubyte.gz"),
        )
    } else {
        (
            Path::new("train-images-idx3-ubyte"),
            Path::new("train-labels-idx1-ubyte"),
        )
    };
    let bytes = match decompress(images, data.to_vec()) {
        Ok(b) => b,
        Err(e) => return check_err(images, e),
    };
    match parse_idx_images(images, bytes.clone(), MNIST_SIDE, MNIST_SIDE) {
        Ok((n, pixels)) => {
            assert_eq!(pixels.len(), n * MNIST_PIXELS);
            assert_eq!(bytes.len(), 16 + n * MNIST_PIXELS);
        }
        Err(e) => check_err(images, e),
    }
    let bytes = match decompress(labels, data.to_vec()) {
        Ok(b) => b,
        Err(e) => return check_err(labels, e),
    };
    match parse_idx_labels(labels, bytes.clone(), MNIST_CLASSES) {
        Ok(l) => {
            assert_eq!(l.len() + 8, bytes.len());
            assert!(l.iter().all(|&c| (c as usize) < MNIST_CLASSES));
        }
        Err(e) => check_err(labels, e),
    }
});
