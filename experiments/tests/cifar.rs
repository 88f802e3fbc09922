//! The `cifar` pipeline end to end on tiny files in the exact upstream binary formats
//! (CIFAR-10 `data_batch_{1..5}.bin` + `test_batch.bin`, `<label><3072 pixels>` records;
//! CIFAR-100 `train.bin` + `test.bin`, `<coarse><fine><3072 pixels>`): load, augment, train a
//! tiny net for a few steps with the authors' optimiser, evaluate, write the artifacts, resume.

use std::path::{Path, PathBuf};

use clap::Parser;
use datasets::cifar::{CIFAR_PIXELS, write_cifar_bin};
use datasets::{CifarKind, CifarSplit};
use experiments::cifar::{CifarArgs, run_cli};

/// Images whose class is readable from the red plane's brightness, so that learning shows.
fn write_split(dir: &Path, kind: CifarKind, split: CifarSplit, per_file: usize, seed: usize) {
    let classes = kind.classes();
    for (f, name) in kind.file_names(split).iter().enumerate() {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        let mut coarse = Vec::new();
        for i in 0..per_file {
            let label = (seed + f * per_file + i) % classes;
            let mut im = [0u8; CIFAR_PIXELS];
            for (j, p) in im.iter_mut().enumerate() {
                let noise = (j * 31 + i * 17 + f * 7) % 23;
                *p = if j < 1024 {
                    (label * 250 / classes) as u8 / 2 + noise as u8
                } else {
                    noise as u8 * 3
                };
            }
            images.push(im);
            labels.push(label as u8);
            coarse.push((label / 5) as u8);
        }
        write_cifar_bin(&dir.join(name), kind, &images, &labels, &coarse).unwrap();
    }
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hz-cifar-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn args(dir: &Path, out: &Path, dataset: &str, extra: &[&str]) -> CifarArgs {
    let mut argv = vec![
        "cifar",
        "--net",
        "tiny",
        "--dataset",
        dataset,
        "--data-dir",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--batch-size",
        "8",
        "--quiet",
        "--device",
        "cpu",
    ];
    argv.extend_from_slice(extra);
    CifarArgs::try_parse_from(argv).unwrap()
}

#[test]
fn cifar10_and_cifar100_binary_files_train_end_to_end_and_resume() {
    let tmp = TempDir::new("e2e");
    for (kind, name, per_file, test_per_file) in [
        (CifarKind::Cifar10, "cifar10", 4, 6),
        (CifarKind::Cifar100, "cifar100", 20, 6),
    ] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        write_split(&dir, kind, CifarSplit::Train, per_file, 0);
        write_split(&dir, kind, CifarSplit::Test, test_per_file, 3);
        let out = tmp.path().join(format!("run-{name}"));
        // 20 training images in batches of 8: 3 steps per epoch, 2 epochs, augmentation on.
        let a = args(&dir, &out, name, &["--epochs", "2", "--augment", "on"]);
        let summary = run_cli(&a).unwrap();
        assert_eq!(summary.dataset, name);
        assert_eq!(summary.train_images, 20);
        assert_eq!((summary.epochs, summary.iterations), (2, 6));
        assert!(summary.augment);
        assert!(summary.final_train_loss.is_finite());
        assert_eq!(summary.final_evals.len(), 1);
        assert_eq!(summary.final_evals[0].split, "test");
        for file in ["config.json", "metrics.csv", "metrics.json", "summary.json"] {
            assert!(out.join(file).exists(), "{name}: {file}");
        }
        assert!(out.join("checkpoints/latest").exists());
        let config = std::fs::read_to_string(out.join("config.json")).unwrap();
        assert!(config.contains("\"lr\": 0.025"), "{config}");
        assert!(config.contains("\"nesterov\": true"), "{config}");
        // Re-running resumes from the finished checkpoint: no new training, same metrics.
        let again = run_cli(&a).unwrap();
        assert_eq!(again.final_train_loss, summary.final_train_loss);
        assert_eq!(again.final_evals, summary.final_evals);
        assert!(again.wall_time_s < summary.wall_time_s);
    }
}

/// The output layer has one unit per class: the tiny net (hidden 8) gains 90 · (8 + 1)
/// parameters from CIFAR-10 to CIFAR-100.
#[test]
fn parameter_count_follows_the_class_count() {
    let tmp = TempDir::new("classes");
    let mut counts = Vec::new();
    for (kind, name) in [
        (CifarKind::Cifar10, "cifar10"),
        (CifarKind::Cifar100, "cifar100"),
    ] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        write_split(&dir, kind, CifarSplit::Train, 2, 0);
        write_split(&dir, kind, CifarSplit::Test, 2, 1);
        let out = tmp.path().join(format!("run-{name}"));
        let summary = run_cli(&args(&dir, &out, name, &["--iterations", "1"])).unwrap();
        assert!(!summary.augment, "tiny nets default to no augmentation");
        counts.push(summary.parameters);
    }
    assert_eq!(counts[1] - counts[0], 90 * (8 + 1));
}

#[test]
fn broken_files_give_errors_naming_them() {
    let tmp = TempDir::new("broken");
    let dir = tmp.path();
    write_split(dir, CifarKind::Cifar10, CifarSplit::Train, 2, 0);
    // No test_batch.bin.
    let out = dir.join("run");
    let err = run_cli(&args(dir, &out, "cifar10", &["--iterations", "1"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("test_batch.bin"), "{err}");
    // A truncated training file.
    write_split(dir, CifarKind::Cifar10, CifarSplit::Test, 2, 0);
    let path = dir.join("data_batch_3.bin");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err = run_cli(&args(dir, &out, "cifar10", &["--iterations", "1"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("data_batch_3.bin"), "{err}");
    // CIFAR-100 needs its own files.
    let err = run_cli(&args(dir, &out, "cifar100", &["--iterations", "1"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("train.bin"), "{err}");
}
