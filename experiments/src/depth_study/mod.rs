//! The plain-vs-highway depth study of *Training Very Deep Networks* (Srivastava, Greff &
//! Schmidhuber, arXiv:1507.06228), s3.1 and Figure 1, on MNIST.
//!
//! For each depth and layer type, `runs` training runs with hyper-parameters drawn from the
//! paper's search space (initial learning rate, momentum, exponential learning-rate decay,
//! ReLU or tanh, and for highway nets the transform bias in [−10, −1]) or fixed by the caller;
//! each (type, depth) cell's statistics (best final training loss, mean of the 10 best,
//! median, diverged and at-chance runs: [`stats`]) go in tables, and both panels of Figure 1
//! are drawn from them ([`figure`]). Every run has its own artifact directory and is
//! resumable; finished runs are skipped on a re-run. [`schedule`] lists the runs, slices them
//! over machines (`--shard`) and trains them in worker processes (`--jobs`).

pub mod figure;
pub mod schedule;
pub mod stats;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use datasets::{MnistDataset, MnistKind, SplitMix64};
use models::{DeepMlpConfig, LayerKind};
use serde::{Deserialize, Serialize};

pub use schedule::{Collected, Missing, RunKey, Shard, collect, plan};
pub use stats::{CellStats, StudyResult};

use crate::backend::Devices;
use crate::provenance::{create_run, git_commit};
use models::train::MnistData;
use models::train::{
    Diverged, EpochMetrics, FitOptions, LabelledData, LrSchedule, OptimizerConfig, RunDir,
    TrainConfig, fit_classifier,
};

/// Non-linearity of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    /// ReLU.
    Relu,
    /// tanh.
    Tanh,
}

impl Act {
    fn config(self) -> ActivationConfig {
        match self {
            Act::Relu => ActivationConfig::Relu,
            Act::Tanh => ActivationConfig::Tanh,
        }
    }
}

/// The hyper-parameters of one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hyper {
    /// Initial learning rate.
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// Learning rate multiplied by this after every epoch.
    pub decay: f64,
    /// Non-linearity.
    pub activation: Act,
    /// Initial transform-gate bias (highway nets).
    pub transform_bias: f64,
}

impl Hyper {
    /// A draw from the search space: `lr = 10^U(−2.5, −0.5)`, `momentum = 1 − 10^U(−2, −0.7)`
    /// (≈ 0.8–0.99), `decay = U(0.85, 1)`, ReLU or tanh, `b_T = U(−10, −1)` (the papers give the
    /// searched quantities and the `b_T` range, not the other bounds).
    pub fn sample(rng: &mut SplitMix64) -> Self {
        let mut u = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        Self {
            lr: 10f64.powf(-2.5 + 2.0 * u()),
            momentum: 1.0 - 10f64.powf(-2.0 + 1.3 * u()),
            decay: 0.85 + 0.15 * u(),
            activation: if u() < 0.5 { Act::Relu } else { Act::Tanh },
            transform_bias: -1.0 - 9.0 * u(),
        }
    }
}

/// MNIST's test set: 10,000 images.
fn all_test_examples() -> usize {
    10_000
}

/// How the study is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyConfig {
    /// Depths (hidden layers, counting the first plain layer).
    pub depths: Vec<usize>,
    /// Layer types.
    pub kinds: Vec<LayerKind>,
    /// Runs per (type, depth).
    pub runs: usize,
    /// Epochs per run.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Training examples used (the first N of the 60,000).
    pub train_examples: usize,
    /// Test examples each run is evaluated on after every epoch (the first N of the 10,000).
    #[serde(default = "all_test_examples")]
    pub test_examples: usize,
    /// Seed of the search and of every run.
    pub seed: u64,
    /// Fixed hyper-parameters for every run (`None`: random search).
    pub fixed: Option<Hyper>,
}

impl StudyConfig {
    /// Checks the values before anything trains, naming the command-line flag at fault.
    pub fn validate(&self) -> anyhow::Result<()> {
        let no_depth = self.depths.is_empty() || self.depths.contains(&0);
        let checks = [
            (no_depth, "--depths"),
            (self.kinds.is_empty(), "--kinds"),
            (self.runs == 0, "--runs"),
            (self.epochs == 0, "--epochs"),
            (self.batch_size == 0, "--batch-size"),
            (self.train_examples == 0, "--train-examples"),
            (self.test_examples == 0, "--test-examples"),
        ];
        for (bad, flag) in checks {
            if bad {
                anyhow::bail!("{flag} must be at least 1 (and not empty)");
            }
        }
        if let Some(h) = &self.fixed {
            if !(h.lr > 0.0 && h.lr.is_finite()) {
                anyhow::bail!("--lr must be positive and finite, got {}", h.lr);
            }
            if !(0.0..1.0).contains(&h.momentum) {
                anyhow::bail!("--momentum must be in [0, 1), got {}", h.momentum);
            }
            if !(h.decay > 0.0 && h.decay.is_finite()) {
                anyhow::bail!("--decay must be positive, got {}", h.decay);
            }
        }
        Ok(())
    }
}

/// A random-search study of `runs` runs per cell over `depths` and `kinds`, of one epoch of one
/// example (for the unit tests of the statistics and the schedule).
#[cfg(test)]
pub(crate) fn test_config(depths: &[usize], kinds: &[LayerKind], runs: usize) -> StudyConfig {
    StudyConfig {
        depths: depths.to_vec(),
        kinds: kinds.to_vec(),
        runs,
        epochs: 1,
        batch_size: 1,
        train_examples: 1,
        test_examples: 1,
        seed: 1,
        fixed: None,
    }
}

/// Run `run` of cell `(kind, depth)` ending at `loss` (`None`: diverged), for the unit tests of
/// the statistics and the report.
#[cfg(test)]
pub(crate) fn test_summary(
    kind: LayerKind,
    depth: usize,
    run: usize,
    loss: Option<f64>,
) -> RunSummary {
    RunSummary {
        kind,
        depth,
        run,
        hyper: Hyper {
            lr: 0.01,
            momentum: 0.9,
            decay: 0.9,
            activation: Act::Relu,
            transform_bias: -2.0,
        },
        status: loss.map_or("diverged", |_| "completed").into(),
        final_train_loss: loss,
        test_accuracy: loss.map(|_| 0.9),
        parameters: 1,
        epochs: 1,
        train_loss_curve: loss.into_iter().collect(),
        wall_time_s: 2.0,
        train_samples_per_s: 1.0,
        peak_memory_mib: None,
        backend: "flex".into(),
        git_commit: "test".into(),
        error: None,
    }
}

/// The outcome of one run (its `summary.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// `plain` or `highway`.
    pub kind: LayerKind,
    /// Depth.
    pub depth: usize,
    /// Run index within the cell.
    pub run: usize,
    /// Hyper-parameters.
    pub hyper: Hyper,
    /// `completed` or `diverged` (NaN/Inf loss).
    pub status: String,
    /// Mean training cross-entropy of the last epoch (`None` if diverged).
    pub final_train_loss: Option<f64>,
    /// Test accuracy after the last epoch.
    pub test_accuracy: Option<f64>,
    /// Trainable parameters.
    pub parameters: usize,
    /// Epochs trained.
    pub epochs: usize,
    /// Training loss per epoch.
    pub train_loss_curve: Vec<f64>,
    /// Wall-clock seconds.
    pub wall_time_s: f64,
    /// Training throughput (examples per second of training steps, evaluation excluded).
    #[serde(default)]
    pub train_samples_per_s: f64,
    /// Peak resident memory of the process so far (MiB, Linux), if known.
    #[serde(default)]
    pub peak_memory_mib: Option<f64>,
    /// Backend / device.
    pub backend: String,
    /// Git commit of the code.
    pub git_commit: String,
    /// The error message of a diverged run.
    pub error: Option<String>,
}

impl RunSummary {
    /// The final training loss, `+inf` for a diverged run (for ranking).
    pub fn loss_or_inf(&self) -> f64 {
        self.final_train_loss.unwrap_or(f64::INFINITY)
    }
}

/// Hyper-parameters of run `run` of a cell: fixed, or drawn from a stream of the study seed
/// that depends only on `(kind, depth, run)`, so re-running the study draws the same values.
pub fn hyper_for(config: &StudyConfig, kind: LayerKind, depth: usize, run: usize) -> Hyper {
    if let Some(h) = config.fixed {
        return h;
    }
    let stream = (depth as u64) << 32 | (run as u64) << 1 | (kind == LayerKind::Highway) as u64;
    Hyper::sample(&mut SplitMix64::from_stream(config.seed, stream))
}

/// Opens the study's directory `out`, writing its `config.json`; an existing `config.json` that
/// holds another configuration is an error (the runs under it belong to that study).
pub fn open_study(config: &StudyConfig, out: &Path) -> anyhow::Result<RunDir> {
    config.validate()?;
    let root = create_run(out)?;
    if let Some(existing) = root.read_json::<StudyConfig>("config.json")? {
        if &existing != config {
            anyhow::bail!(
                "{} holds another study's configuration:\n  there: {}\n  here:  {}\n\
                 use another --out, or the flags that study was run with",
                root.file("config.json").display(),
                serde_json::to_string(&existing)?,
                serde_json::to_string(config)?,
            );
        }
    } else {
        root.write_json("config.json", config)?;
    }
    Ok(root)
}

/// Runs (or resumes) the whole study in this process, one run after the other; writes each
/// run's directory and the study's outputs ([`write_outputs`]) into `out`. The `mnist-depth`
/// binary runs the same runs in worker processes instead ([`schedule::run_jobs`]).
pub fn run_study(
    config: &StudyConfig,
    train: &MnistData,
    test: &MnistData,
    out: &Path,
    device: &Devices,
    quiet: bool,
) -> anyhow::Result<StudyResult> {
    open_study(config, out)?;
    let data = StudyData::new(config, train, test)?;
    for key in plan(config) {
        run_one(config, key, &data, out, device, quiet)?;
    }
    write_outputs(config, out, quiet)
}

/// The study's result from the runs under `out` (an error names any run that has not
/// finished), written as `results.json`, `table.md` (the best runs' table and the per-cell
/// statistics) and both panels of Figure 1 ([`figure::write`]; a missing font is a warning).
pub fn write_outputs(config: &StudyConfig, out: &Path, quiet: bool) -> anyhow::Result<StudyResult> {
    let result = collect(config, out)?.complete(out)?;
    let root = RunDir::create(out)?;
    root.write_json("results.json", &result)?;
    let table = format!("{}\n{}", result.table(), result.cell_table());
    models::train::write_atomic(&root.file("table.md"), table.as_bytes())?;
    match figure::write(&result, out) {
        Ok(paths) if !quiet => paths.iter().for_each(|p| println!("wrote {}", p.display())),
        Ok(_) => {}
        Err(e) => eprintln!("warning: no plot written: {e:#}"),
    }
    Ok(result)
}

/// The data a study's runs train and are tested on.
pub struct StudyData {
    train: Arc<dyn LabelledData<2>>,
    test: Arc<dyn LabelledData<2>>,
}

impl StudyData {
    /// The first `config.train_examples` of `train` and `config.test_examples` of `test`.
    pub fn new(config: &StudyConfig, train: &MnistData, test: &MnistData) -> anyhow::Result<Self> {
        Ok(Self {
            train: Arc::new(train.clone().take(config.train_examples)?),
            test: Arc::new(test.clone().take(config.test_examples)?),
        })
    }

    /// [`Self::new`] of MNIST, read from `data_dir` or the cache.
    pub fn load(config: &StudyConfig, data_dir: Option<&Path>) -> anyhow::Result<Self> {
        let train = MnistDataset::train(MnistKind::Mnist, data_dir)?;
        let test = MnistDataset::test(MnistKind::Mnist, data_dir)?;
        Self::new(config, &MnistData::new(train), &MnistData::new(test))
    }
}

/// Trains (or resumes) run `key` of the study into its directory under `out` and returns its
/// summary; a run that finished earlier is read back, not trained again. A diverged run
/// (non-finite loss) is a result; any other failure is an error naming the run's directory.
pub fn run_one(
    config: &StudyConfig,
    key: RunKey,
    data: &StudyData,
    out: &Path,
    device: &Devices,
    quiet: bool,
) -> anyhow::Result<RunSummary> {
    let (kind, depth, r) = (key.kind, key.depth, key.run);
    let label = format!("{kind} {depth} #{r}");
    let dir = create_run(key.dir(out))?;
    if let Some(done) = dir.read_json::<RunSummary>("summary.json")? {
        if !quiet {
            let loss = done.loss_or_inf();
            println!("[{label}] done earlier: final train loss {loss:.3e}");
        }
        return Ok(done);
    }
    let hyper = hyper_for(config, kind, depth, r);
    let model_config = match kind {
        LayerKind::Plain => DeepMlpConfig::mnist_plain(depth),
        LayerKind::Highway => DeepMlpConfig::mnist_highway(depth),
    }
    .with_activation(hyper.activation.config())
    .with_transform_bias(hyper.transform_bias);
    let seed = config.seed.wrapping_add(r as u64 * 7919 + depth as u64);
    let train_config = TrainConfig {
        epochs: config.epochs,
        batch_size: config.batch_size,
        lr: hyper.lr,
        schedule: LrSchedule::Exponential { gamma: hyper.decay },
        optimizer: OptimizerConfig::Sgd {
            momentum: hyper.momentum,
            nesterov: false,
            weight_decay: 0.0,
        },
        seed,
        keep_checkpoints: 2,
    };
    dir.write_json(
        "config.json",
        &serde_json::json!({ "model": model_config, "train": train_config, "hyper": hyper }),
    )?;
    device.seed(seed);
    let model = model_config.init(device);
    let parameters = model.num_params();
    if !quiet {
        println!(
            "[{label}] lr {:.2e} momentum {:.3} decay {:.3} {:?} b_T {:.2}, {parameters} parameters",
            hyper.lr, hyper.momentum, hyper.decay, hyper.activation, hyper.transform_bias
        );
    }
    let start = Instant::now();
    let evals: Vec<(&str, Arc<dyn LabelledData<2>>)> = vec![("test", data.test.clone())];
    // Only a non-finite loss is a divergence (its metrics are those of the epochs before it);
    // any other failure stops the study.
    let options = FitOptions::resuming(&dir, &label, quiet, device);
    let (history, error) =
        match fit_classifier(model, data.train.clone(), &evals, &train_config, &options) {
            Ok((_, history)) => (history, None),
            Err(e) => match e.downcast::<Diverged>() {
                Ok(diverged) => {
                    let history = dir.read_json::<Vec<EpochMetrics>>("metrics.json")?;
                    (history.unwrap_or_default(), Some(diverged.to_string()))
                }
                Err(other) => return Err(other.context(format!("run {}", dir.path.display()))),
            },
        };
    let summary = RunSummary {
        kind,
        depth,
        run: r,
        hyper,
        status: error.as_ref().map_or("completed", |_| "diverged").into(),
        final_train_loss: history
            .last()
            .filter(|_| error.is_none())
            .map(|m| m.train_loss),
        test_accuracy: history
            .last()
            .and_then(|m| m.evals.first())
            .and_then(|e| e.accuracy),
        parameters,
        epochs: history.len(),
        train_loss_curve: history.iter().map(|m| m.train_loss).collect(),
        wall_time_s: start.elapsed().as_secs_f64(),
        train_samples_per_s: models::train::samples_per_second(&history),
        peak_memory_mib: crate::bench::peak_memory_mib(),
        backend: device.names(),
        git_commit: git_commit(),
        error,
    };
    if let Some(e) = &summary.error
        && !quiet
    {
        println!("[{label}] diverged: {e}");
    }
    dir.write_json("summary.json", &summary)?;
    Ok(summary)
}
