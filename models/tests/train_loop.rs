//! Classifier training through burn-train's `SupervisedTraining` / `Learner` with the zoo's
//! strategy: resume equals an uninterrupted run (also after SIGKILL during a checkpoint), NaN
//! stops cleanly and keeps the last good checkpoint, a damaged checkpoint falls back to the
//! previous one, stray files are cleaned up, bad configs are refused.

#![cfg(feature = "train")]

mod common;

use std::sync::Arc;

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use models::train::Devices;
use models::train::{
    CheckpointSet, Diverged, EpochMetrics, FitOptions, LabelledData, LrSchedule, OptimizerConfig,
    RunDir, TrainConfig, fit_classifier,
};
use models::{ClassBatch, classification_output};

#[derive(Module, Debug)]
struct Softmax {
    linear: Linear,
}

impl TrainStep for Softmax {
    type Input = ClassBatch<2>;
    type Output = ClassificationOutput;

    fn step(&self, b: ClassBatch<2>) -> TrainOutput<ClassificationOutput> {
        let out = classification_output(self.linear.forward(b.inputs), b.targets);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for Softmax {
    type Input = ClassBatch<2>;
    type Output = ClassificationOutput;

    fn step(&self, b: ClassBatch<2>) -> ClassificationOutput {
        classification_output(self.linear.forward(b.inputs), b.targets)
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
    fn shared(n: usize, scale: f32) -> Arc<dyn LabelledData<2>> {
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
        Arc::new(Self { x, y, scale })
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

fn fit(
    run: &RunDir,
    data: &Arc<dyn LabelledData<2>>,
    cfg: &TrainConfig,
    resume: bool,
) -> anyhow::Result<(Softmax, Vec<EpochMetrics>)> {
    fit_on(run, data, cfg, resume, &Device::flex().autodiff().into())
}

/// [`fit`] on `device`: one device or several.
fn fit_on(
    run: &RunDir,
    data: &Arc<dyn LabelledData<2>>,
    cfg: &TrainConfig,
    resume: bool,
    device: &Devices,
) -> anyhow::Result<(Softmax, Vec<EpochMetrics>)> {
    let evals = vec![("test", Blobs::shared(30, 1.0))];
    fit_classifier(
        model(device),
        data.clone(),
        &evals,
        cfg,
        &FitOptions {
            resume,
            ..FitOptions::resuming(run, "t", true, device)
        },
    )
}

fn assert_same(a: &[EpochMetrics], b: &[EpochMetrics]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.epoch, y.epoch);
        assert_eq!(x.train_loss, y.train_loss, "epoch {}", x.epoch);
        assert_eq!(x.train_accuracy, y.train_accuracy, "epoch {}", x.epoch);
        assert_eq!(x.lr, y.lr, "epoch {}", x.epoch);
        assert_eq!(x.evals, y.evals, "epoch {}", x.epoch);
    }
}

#[test]
fn resume_gives_the_same_result_as_an_uninterrupted_run() {
    let _rng = common::rng_lock();
    let data = Blobs::shared(60, 1.0);
    let a_dir = temp("a");
    let run_a = RunDir::create(&a_dir).unwrap();
    let (a, hist_a) = fit(&run_a, &data, &config(3, 0.05), false).unwrap();

    let b_dir = temp("b");
    let run_b = RunDir::create(&b_dir).unwrap();
    fit(&run_b, &data, &config(2, 0.05), false).unwrap();
    assert_eq!(run_b.latest_checkpoint().unwrap().0, 2);
    let (b, hist_b) = fit(&run_b, &data, &config(3, 0.05), true).unwrap();

    assert_eq!(hist_a.len(), 3);
    assert_same(&hist_a, &hist_b);
    assert_eq!(weights(&a), weights(&b));
    // The schedule continued: epoch 3's rate is 0.05 · 0.9².
    assert!(
        (hist_b[2].lr - 0.05 * 0.81).abs() < 1e-12,
        "{}",
        hist_b[2].lr
    );
    // The loss went down, the classifier learned, and the metrics files exist.
    assert!(hist_a[2].train_loss < hist_a[0].train_loss);
    assert!(
        hist_a[2].evals[0].accuracy.unwrap() > 0.9,
        "{:?}",
        hist_a[2].evals
    );
    let csv = std::fs::read_to_string(run_b.file("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("epoch,train_loss,train_accuracy,lr,seconds,test_loss,test_accuracy"));
    // Two checkpoint sets are kept, each complete; nothing temporary is left behind.
    let names: Vec<String> = std::fs::read_dir(b_dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut sets: Vec<&String> = names.iter().filter(|n| n.starts_with("epoch-")).collect();
    sets.sort();
    assert_eq!(sets, ["epoch-0002", "epoch-0003"], "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with('.')), "{names:?}");
    for file in ["model.bpk", "optim.bpk", "scheduler.bpk", "state.json"] {
        assert!(run_b.checkpoint_dir(3).join(file).exists(), "{file}");
    }
    // A finished run asked again returns its result without training.
    let (_, again) = fit(&run_b, &data, &config(3, 0.05), true).unwrap();
    assert_same(&hist_a, &again);
    std::fs::remove_dir_all(a_dir).ok();
    std::fs::remove_dir_all(b_dir).ok();
}

#[test]
fn nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint() {
    let _rng = common::rng_lock();
    let dir = temp("nan");
    let run = RunDir::create(&dir).unwrap();
    fit(&run, &Blobs::shared(30, 1.0), &config(1, 0.05), false).unwrap();
    let saved = std::fs::read(run.checkpoint_dir(1).join("model.bpk")).unwrap();

    // Huge inputs and rate: the weights overflow within a few steps.
    let err = fit(&run, &Blobs::shared(30, 1e30), &config(3, 1e30), true).unwrap_err();
    let diverged = err.downcast_ref::<Diverged>().expect("a divergence");
    let text = diverged.to_string();
    assert!(text.contains("training loss is"), "{text}");
    assert!(text.contains("at epoch 2, step"), "{text}");
    assert!(text.contains("last good checkpoint (epoch 1)"), "{text}");
    assert_eq!(run.latest_checkpoint().unwrap().0, 1);
    assert_eq!(
        std::fs::read(run.checkpoint_dir(1).join("model.bpk")).unwrap(),
        saved
    );
    // That checkpoint still loads.
    let device = Device::flex();
    let loaded = model(&device)
        .try_load_file(run.checkpoint_dir(1).join("model.bpk"))
        .unwrap();
    assert!(weights(&loaded).iter().all(|w| w.is_finite()));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_damaged_newest_checkpoint_falls_back_to_the_previous_one() {
    let _rng = common::rng_lock();
    let data = Blobs::shared(60, 1.0);
    let a_dir = temp("whole");
    let (_, straight) = fit(
        &RunDir::create(&a_dir).unwrap(),
        &data,
        &config(3, 0.05),
        false,
    )
    .unwrap();

    let dir = temp("damaged");
    let run = RunDir::create(&dir).unwrap();
    fit(&run, &data, &config(2, 0.05), false).unwrap();
    // `head -c 500` of the newest model file, and a killed writer's leftovers.
    let model_file = run.checkpoint_dir(2).join("model.bpk");
    let bytes = std::fs::read(&model_file).unwrap();
    std::fs::write(&model_file, &bytes[..500.min(bytes.len() / 2)]).unwrap();
    std::fs::write(dir.join("checkpoints/.latest.tmp-99999"), "2").unwrap();
    std::fs::create_dir_all(dir.join("checkpoints/.tmp-epoch-0003-99999")).unwrap();
    std::fs::write(dir.join(".metrics.json.tmp-99999"), "[").unwrap();

    let set = CheckpointSet::open(&run, 2).unwrap();
    let (epoch, _, _) = set
        .newest_loadable::<Softmax, serde_json::Value>(&model(&Device::flex()))
        .unwrap()
        .expect("the previous set");
    assert_eq!(epoch, 1);
    for stray in [
        "checkpoints/.latest.tmp-99999",
        "checkpoints/.tmp-epoch-0003-99999",
        ".metrics.json.tmp-99999",
    ] {
        assert!(!dir.join(stray).exists(), "{stray} is left");
    }
    // Resuming redoes epoch 2 from epoch 1's set and ends where the straight run did.
    let (_, resumed) = fit(&run, &data, &config(3, 0.05), true).unwrap();
    assert_same(&straight, &resumed);

    // With every set damaged, resuming is an error naming a file, not a divergence.
    for epoch in run.checkpoint_epochs() {
        std::fs::write(run.checkpoint_dir(epoch).join("optim.bpk"), b"junk").unwrap();
    }
    let err = fit(&run, &data, &config(4, 0.05), true).unwrap_err();
    assert!(err.downcast_ref::<Diverged>().is_none(), "{err:#}");
    let text = format!("{err:#}");
    assert!(text.contains("optim.bpk is damaged"), "{text}");
    std::fs::remove_dir_all(a_dir).ok();
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_config_is_rejected_before_training() {
    let _rng = common::rng_lock();
    let dir = temp("bad");
    let run = RunDir::create(&dir).unwrap();
    let mut cfg = config(1, 0.1);
    cfg.batch_size = 0;
    let err = fit(&run, &Blobs::shared(9, 1.0), &cfg, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("batch_size must be at least 1"), "{err}");
    let err = fit(&run, &Blobs::shared(0, 1.0), &config(1, 0.1), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("training set is empty"), "{err}");
    assert!(!run.file("checkpoints").exists());
    std::fs::remove_dir_all(dir).ok();
}

/// Epochs of the SIGKILL test's run: a few seconds, most of it checkpoint writes.
const KILL_EPOCHS: usize = 300;

/// The child of [`sigkill_during_checkpoints_leaves_a_loadable_set_and_resume_matches`]:
/// trains in the directory it is given until killed.
#[test]
#[ignore = "run by sigkill_during_checkpoints_leaves_a_loadable_set_and_resume_matches"]
fn child_trains_until_killed() {
    let _rng = common::rng_lock();
    let dir = std::env::var("HZ_CHILD_RUN").expect("HZ_CHILD_RUN");
    let run = RunDir::create(dir).unwrap();
    fit(
        &run,
        &Blobs::shared(60, 1.0),
        &config(KILL_EPOCHS, 0.05),
        true,
    )
    .unwrap();
}

#[cfg(unix)]
#[test]
fn sigkill_during_checkpoints_leaves_a_loadable_set_and_resume_matches() {
    let _rng = common::rng_lock();
    let data = Blobs::shared(60, 1.0);
    let a_dir = temp("kill-straight");
    let (_, straight) = fit(
        &RunDir::create(&a_dir).unwrap(),
        &data,
        &config(KILL_EPOCHS, 0.05),
        false,
    )
    .unwrap();

    let dir = temp("kill");
    let run = RunDir::create(&dir).unwrap();
    // Kills at different moments; each epoch is 8 steps and a checkpoint set, so most kills
    // land in or near a checkpoint write. Each child resumes where the last one was killed.
    let mut mid_write = 0;
    for (i, delay_ms) in [450u64, 610, 730, 890, 1030, 1170, 1330, 1490]
        .into_iter()
        .enumerate()
    {
        common::run_child_then_kill("child_trains_until_killed", &dir, delay_ms);
        let staged = std::fs::read_dir(dir.join("checkpoints"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-epoch-"));
        mid_write += staged as usize;
        // Whatever `latest` names loads whole.
        if let Some((latest, _)) = run.latest_checkpoint() {
            let set = CheckpointSet::open(&run, 2).unwrap();
            let (epoch, _, _) = set
                .newest_loadable::<Softmax, serde_json::Value>(&model(&Device::flex()))
                .unwrap()
                .unwrap();
            assert_eq!(epoch, latest, "kill {i}: the newest set does not load");
        }
    }
    eprintln!("{mid_write} of 8 kills left a half-written checkpoint set");
    assert!(
        run.latest_checkpoint().is_some(),
        "no checkpoint in 8 kills"
    );
    // Resuming to the end gives the uninterrupted run's losses, epoch by epoch.
    let (_, resumed) = fit(&run, &data, &config(KILL_EPOCHS, 0.05), true).unwrap();
    assert_same(&straight, &resumed);
    std::fs::remove_dir_all(a_dir).ok();
    std::fs::remove_dir_all(dir).ok();
}

/// Data parallelism over two handles of the CPU device: every batch split in two, the slices'
/// gradients combined by their sizes. The losses and weights are the one-device run's to
/// float rounding (the sums run in another order).
#[test]
fn two_devices_train_to_the_one_device_losses() {
    let _rng = common::rng_lock();
    let data = Blobs::shared(60, 1.0);
    let (one_dir, two_dir) = (temp("one-device"), temp("two-devices"));
    let (one, hist_one) = fit(
        &RunDir::create(&one_dir).unwrap(),
        &data,
        &config(3, 0.05),
        false,
    )
    .unwrap();
    let cpu = Device::flex().autodiff();
    let devices = Devices {
        main: cpu.clone(),
        replicas: vec![cpu],
    };
    let run = RunDir::create(&two_dir).unwrap();
    let (two, hist_two) = fit_on(&run, &data, &config(3, 0.05), false, &devices).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * a.abs().max(1.0);
    for (a, b) in hist_one.iter().zip(&hist_two) {
        assert!(close(a.train_loss, b.train_loss), "{a:?}\n{b:?}");
        assert!(close(a.evals[0].loss, b.evals[0].loss), "{a:?}\n{b:?}");
        assert_eq!(a.train_accuracy, b.train_accuracy);
        assert_eq!(a.examples, b.examples);
    }
    for (a, b) in weights(&one).iter().zip(weights(&two)) {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
    // The loss fell: the two-device run trained.
    assert!(hist_two[2].train_loss < hist_two[0].train_loss);
    std::fs::remove_dir_all(one_dir).ok();
    std::fs::remove_dir_all(two_dir).ok();
}

/// Burn settings the strategy does not carry out are refused by name before any step, rather
/// than silently ignored.
#[test]
fn gradient_accumulation_and_early_stopping_are_refused_by_name() {
    use burn::train::metric::LossMetric;
    use burn::train::metric::store::{Aggregate, Direction, Split};
    use burn::train::{MetricEarlyStoppingStrategy, StoppingCondition};
    use models::train::{EpochClock, EpochLoader, RunData, Solver};
    let _rng = common::rng_lock();
    let device: Devices = Device::flex().autodiff().into();
    let data = Blobs::shared(40, 1.0);
    for name in ["grads_accumulation", "early_stopping"] {
        let run = RunDir::create(temp(name)).unwrap();
        let clock = EpochClock::default();
        let run_data = RunData {
            train: Arc::new(EpochLoader::train(
                data.clone(),
                8,
                3,
                clock.clone(),
                &device,
            )),
            clock,
            valid: (
                "test".into(),
                Arc::new(EpochLoader::eval(data.clone(), 100, &device)),
            ),
            extra_evals: Vec::new(),
        };
        let solver = Solver {
            epochs: 2,
            lr: 0.1,
            schedule: LrSchedule::Constant,
            optimizer: config(1, 0.1).optimizer,
            clip_norm: 0.0,
            seed: 3,
            keep_checkpoints: 2,
        };
        let options = FitOptions::resuming(&run, "t", true, &device);
        let result = models::train::fit::<Softmax, ()>(
            model(&device),
            run_data,
            &solver,
            &options,
            |training| {
                let training = training.metrics((LossMetric::new(),));
                if name == "grads_accumulation" {
                    training.grads_accumulation(2)
                } else {
                    training.early_stopping(MetricEarlyStoppingStrategy::new(
                        &LossMetric::new(),
                        Aggregate::Mean,
                        Direction::Lowest,
                        Split::Valid,
                        StoppingCondition::NoImprovementSince { n_epochs: 1 },
                    ))
                }
            },
        );
        let err = format!("{:#}", result.expect_err("refused"));
        assert!(err.contains(name) && err.contains("not supported"), "{err}");
        assert!(run.latest_checkpoint().is_none(), "nothing was trained");
        std::fs::remove_dir_all(&run.path).ok();
    }
}
