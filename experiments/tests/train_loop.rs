//! The shared training loop: resume equals an uninterrupted run, NaN stops cleanly and keeps
//! the last good checkpoint, checkpoints are published atomically.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use experiments::train::{
    Classifier, LabelledData, LrSchedule, OptimizerConfig, Progress, RunDir, TrainConfig,
    fit_classifier,
};

#[derive(Module, Debug)]
struct Softmax {
    linear: Linear,
}

impl Classifier<2> for Softmax {
    fn logits(&self, input: Tensor<2>) -> Tensor<2> {
        self.linear.forward(input)
    }
}

fn model(device: &Device) -> Softmax {
    Softmax {
        linear: LinearConfig::new(4, 3)
            .with_initializer(Initializer::Constant { value: 0.01 })
            .init(device),
    }
}

/// Three Gaussian-ish blobs made by a fixed formula.
struct Blobs {
    x: Vec<f32>,
    y: Vec<i64>,
    scale: f32,
}

impl Blobs {
    fn new(n: usize, scale: f32) -> Self {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let class = (i % 3) as i64;
            for d in 0..4 {
                let noise = (((i * 7 + d * 13) % 17) as f32 / 17.0) - 0.5;
                let centre = if d as i64 == class { 2.0 } else { 0.0 };
                x.push(centre + noise);
            }
            y.push(class);
        }
        Self { x, y, scale }
    }
}

impl LabelledData<2> for Blobs {
    fn len(&self) -> usize {
        self.y.len()
    }

    fn batch(
        &self,
        indices: &[usize],
        _train: bool,
        _epoch: usize,
        device: &Device,
    ) -> (Tensor<2>, Tensor<1, Int>) {
        let x: Vec<f32> = indices
            .iter()
            .flat_map(|&i| self.x[i * 4..i * 4 + 4].iter().map(|v| v * self.scale))
            .collect();
        let y: Vec<i64> = indices.iter().map(|&i| self.y[i]).collect();
        (
            Tensor::from_data(TensorData::new(x, [indices.len(), 4]), device),
            Tensor::from_data(TensorData::new(y, [indices.len()]), device),
        )
    }
}

fn config(epochs: usize, lr: f64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 8,
        lr,
        schedule: LrSchedule::Exponential { gamma: 0.9 },
        optimizer: OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-4,
        },
        seed: 3,
        keep_checkpoints: 2,
    }
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hz-train-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn weights(m: &Softmax) -> Vec<f32> {
    m.linear.weight.val().to_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn resume_gives_the_same_result_as_an_uninterrupted_run() {
    let device = Device::flex().autodiff();
    let data = Blobs::new(60, 1.0);
    let test = Blobs::new(30, 1.0);
    let evals: Vec<(&str, &dyn LabelledData<2>)> = vec![("test", &test)];
    let mut quiet = Progress::new("t", true);

    let a_dir = temp("a");
    let run_a = RunDir::create(&a_dir).unwrap();
    let (a, hist_a) = fit_classifier(
        model(&device),
        &data,
        &evals,
        &config(3, 0.05),
        &run_a,
        false,
        &mut quiet,
        &device,
    )
    .unwrap();

    let b_dir = temp("b");
    let run_b = RunDir::create(&b_dir).unwrap();
    fit_classifier(
        model(&device),
        &data,
        &evals,
        &config(2, 0.05),
        &run_b,
        false,
        &mut quiet,
        &device,
    )
    .unwrap();
    assert_eq!(run_b.latest_checkpoint().unwrap().0, 1);
    let (b, hist_b) = fit_classifier(
        model(&device),
        &data,
        &evals,
        &config(3, 0.05),
        &run_b,
        true,
        &mut quiet,
        &device,
    )
    .unwrap();

    assert_eq!(hist_a.len(), 3);
    assert_eq!(hist_b.len(), 3);
    for (x, y) in hist_a.iter().zip(&hist_b) {
        assert_eq!(x.train_loss, y.train_loss, "epoch {}", x.epoch);
        assert_eq!(x.evals, y.evals);
    }
    assert_eq!(weights(&a), weights(&b));
    // The loss went down and the metrics files exist.
    assert!(hist_a[2].train_loss < hist_a[0].train_loss);
    let csv = std::fs::read_to_string(run_b.file("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("epoch,train_loss,train_accuracy,lr,seconds,test_loss,test_accuracy"));
    // No temporary checkpoint directories are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(b_dir.join("checkpoints"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(a_dir).ok();
    std::fs::remove_dir_all(b_dir).ok();
}

#[test]
fn nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint() {
    let device = Device::flex().autodiff();
    let good = Blobs::new(30, 1.0);
    let mut quiet = Progress::new("t", true);
    let dir = temp("nan");
    let run = RunDir::create(&dir).unwrap();
    fit_classifier(
        model(&device),
        &good,
        &[],
        &config(1, 0.05),
        &run,
        false,
        &mut quiet,
        &device,
    )
    .unwrap();
    let saved = std::fs::read(run.checkpoint_dir(0).join("model.bpk")).unwrap();

    // Huge inputs and rate: the weights overflow within a few steps.
    let bad = Blobs::new(30, 1e30);
    let err = fit_classifier(
        model(&device),
        &bad,
        &[],
        &config(3, 1e30),
        &run,
        true,
        &mut quiet,
        &device,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("training loss is"), "{err}");
    assert!(err.contains("at epoch 2"), "{err}");
    assert!(err.contains("last good checkpoint (epoch 1)"), "{err}");
    assert_eq!(run.latest_checkpoint().unwrap().0, 0);
    assert_eq!(
        std::fs::read(run.checkpoint_dir(0).join("model.bpk")).unwrap(),
        saved
    );
    // That checkpoint still loads.
    let loaded = model(&device)
        .try_load_file(run.checkpoint_dir(0).join("model.bpk"))
        .unwrap();
    assert!(weights(&loaded).iter().all(|w| w.is_finite()));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_config_is_rejected_before_training() {
    let device = Device::flex().autodiff();
    let data = Blobs::new(9, 1.0);
    let dir = temp("bad");
    let run = RunDir::create(&dir).unwrap();
    let mut cfg = config(1, 0.1);
    cfg.batch_size = 0;
    let err = fit_classifier(
        model(&device),
        &data,
        &[],
        &cfg,
        &run,
        false,
        &mut Progress::new("t", true),
        &device,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("batch_size must be at least 1"), "{err}");
    let _ = Param::from_tensor(Tensor::<1>::zeros([1], &device));
    std::fs::remove_dir_all(dir).ok();
}
