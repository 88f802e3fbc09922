//! Real-data smoke test of the depth study: a tiny study on the real MNIST trains, writes its
//! artifacts, and a second invocation reuses the finished runs instead of training again.
//! Skipped (with a message) when the MNIST files are not in the cache, a failure under CI
//! (`CI=true`): run `bash scripts/fetch-data.sh mnist`.

use datasets::{MnistDataset, MnistKind};
use experiments::depth_study::{Act, Hyper, StudyConfig, run_study};
use models::LayerKind;
use models::train::MnistData;

#[test]
fn tiny_depth_study_on_real_mnist_trains_and_resumes() {
    let (Ok(train), Ok(test)) = (
        MnistDataset::train(MnistKind::Mnist, None),
        MnistDataset::test(MnistKind::Mnist, None),
    ) else {
        datasets::missing_in_test("mnist");
        return;
    };
    let train = MnistData::new(train);
    let test = MnistData::new(test);
    let config = StudyConfig {
        depths: vec![5],
        kinds: vec![LayerKind::Plain, LayerKind::Highway],
        runs: 1,
        epochs: 2,
        batch_size: 64,
        train_examples: 3000,
        // The first 1,000 test images are enough to see learning.
        test_examples: 1000,
        seed: 7,
        fixed: Some(Hyper {
            lr: 0.05,
            momentum: 0.9,
            decay: 0.9,
            activation: Act::Relu,
            transform_bias: -2.0,
        }),
    };
    let out = std::env::temp_dir().join(format!("hz-smoke-{}", std::process::id()));
    std::fs::remove_dir_all(&out).ok();
    let device = experiments::backend::Devices::from(burn::tensor::Device::flex().autodiff());
    let first = run_study(&config, &train, &test, &out, &device, true).unwrap();
    assert_eq!(first.runs.len(), 2);
    for run in &first.runs {
        let loss = run.final_train_loss.expect("converged");
        assert!(
            loss < 1.0,
            "{:?} {}: training loss {loss}",
            run.kind,
            run.depth
        );
        assert!(run.test_accuracy.unwrap() > 0.7, "{run:?}");
        assert_eq!(run.train_loss_curve.len(), 2);
        assert!(run.train_loss_curve[1] < run.train_loss_curve[0]);
    }
    for file in ["config.json", "results.json", "table.md"] {
        assert!(out.join(file).exists(), "{file}");
    }
    assert!(out.join("highway-005/run-00/summary.json").exists());
    assert!(out.join("highway-005/run-00/metrics.csv").exists());
    // A second invocation reuses the finished runs: same numbers, no new training.
    let second = run_study(&config, &train, &test, &out, &device, true).unwrap();
    for (a, b) in first.runs.iter().zip(&second.runs) {
        assert_eq!(a.final_train_loss, b.final_train_loss);
        assert_eq!(a.wall_time_s, b.wall_time_s);
    }
    std::fs::remove_dir_all(&out).ok();
}
