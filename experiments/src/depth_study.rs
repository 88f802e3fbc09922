//! The plain-vs-highway depth study of *Training Very Deep Networks* (Srivastava, Greff &
//! Schmidhuber, arXiv:1507.06228), s3.1 and Figure 1, on MNIST.
//!
//! For each depth and layer type, `runs` training runs with hyper-parameters drawn from the
//! paper's search space (initial learning rate, momentum, exponential learning-rate decay,
//! ReLU or tanh, and for highway nets the transform bias in [−10, −1]) or fixed by the caller;
//! the best final training loss of each (type, depth) cell goes in a table and the loss curve
//! of each cell's best run in a plot like Figure 1. Every run has its own artifact directory
//! and is resumable; finished runs are skipped on a re-run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use datasets::SplitMix64;
use models::{DeepMlpConfig, LayerKind};
use serde::{Deserialize, Serialize};

use crate::backend::Devices;
use crate::data::MnistData;
use crate::plot::{LinePlot, Series};
use crate::train::{
    Diverged, EpochMetrics, FitOptions, LabelledData, LrSchedule, OptimizerConfig, RunDir,
    TrainConfig, fit_classifier, git_commit,
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
    /// Seed of the search and of every run.
    pub seed: u64,
    /// Fixed hyper-parameters for every run (`None`: random search).
    pub fixed: Option<Hyper>,
}

impl StudyConfig {
    /// Checks the values before anything trains, naming the command-line flag at fault.
    pub fn validate(&self) -> anyhow::Result<()> {
        let checks = [
            (
                self.depths.is_empty() || self.depths.contains(&0),
                "--depths",
            ),
            (self.kinds.is_empty(), "--kinds"),
            (self.runs == 0, "--runs"),
            (self.epochs == 0, "--epochs"),
            (self.batch_size == 0, "--batch-size"),
            (self.train_examples == 0, "--train-examples"),
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

/// The best run of each (type, depth) cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StudyResult {
    /// The configuration.
    pub config: StudyConfig,
    /// Every run.
    pub runs: Vec<RunSummary>,
    /// `(kind, depth, index into runs)` of each cell's best run.
    pub best: Vec<(LayerKind, usize, usize)>,
}

impl RunSummary {
    /// The final training loss, `+inf` for a diverged run (for ranking).
    pub fn loss_or_inf(&self) -> f64 {
        self.final_train_loss.unwrap_or(f64::INFINITY)
    }
}

impl StudyResult {
    /// The study's result from its runs (in the order the study trains them: by depth, then
    /// type, then run): each (type, depth) cell's best run is the one with the lowest final
    /// training loss, the first of equals.
    pub fn new(config: StudyConfig, runs: Vec<RunSummary>) -> Self {
        let mut best = Vec::new();
        for &depth in &config.depths {
            for &kind in &config.kinds {
                let idx = runs
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.kind == kind && s.depth == depth)
                    .min_by(|a, b| a.1.loss_or_inf().total_cmp(&b.1.loss_or_inf()))
                    .map(|(i, _)| i);
                if let Some(i) = idx {
                    best.push((kind, depth, i));
                }
            }
        }
        Self { config, runs, best }
    }

    /// Best final training loss of a cell.
    pub fn best_loss(&self, kind: LayerKind, depth: usize) -> Option<f64> {
        self.best
            .iter()
            .find(|(k, d, _)| *k == kind && *d == depth)
            .map(|(_, _, i)| self.runs[*i].loss_or_inf())
    }

    /// The results table as Markdown.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| depth | best plain train loss | best highway train loss | plain / highway | plain test acc | highway test acc |\n|---|---|---|---|---|---|\n",
        );
        let cell = |kind, depth| {
            self.best
                .iter()
                .find(|(k, d, _)| *k == kind && *d == depth)
                .map(|(_, _, i)| &self.runs[*i])
        };
        for &depth in &self.config.depths {
            let p = cell(LayerKind::Plain, depth);
            let h = cell(LayerKind::Highway, depth);
            let loss = |r: Option<&RunSummary>| {
                r.map(|r| match r.final_train_loss {
                    Some(l) => format!("{l:.3e}"),
                    None => "diverged".into(),
                })
                .unwrap_or_else(|| "-".into())
            };
            let acc = |r: Option<&RunSummary>| {
                r.and_then(|r| r.test_accuracy)
                    .map(|a| format!("{:.2}%", 100.0 * a))
                    .unwrap_or_else(|| "-".into())
            };
            let ratio = match (p, h) {
                (Some(p), Some(h)) => format!("{:.1}x", p.loss_or_inf() / h.loss_or_inf()),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "| {depth} | {} | {} | {ratio} | {} | {} |\n",
                loss(p),
                loss(h),
                acc(p),
                acc(h)
            ));
        }
        out
    }
}

fn run_dir(out: &Path, kind: LayerKind, depth: usize, run: usize) -> PathBuf {
    out.join(format!("{kind}-{depth:03}"))
        .join(format!("run-{run:02}"))
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

/// Runs (or resumes) the whole study; writes each run's directory, `results.json`,
/// `table.md` and the Figure 1 plot into `out`.
pub fn run_study(
    config: &StudyConfig,
    train: &MnistData,
    test: &MnistData,
    out: &Path,
    device: &Devices,
    quiet: bool,
) -> anyhow::Result<StudyResult> {
    config.validate()?;
    let root = RunDir::create(out)?;
    root.write_json("config.json", config)?;
    let train: Arc<dyn LabelledData<2>> = Arc::new(train.clone().take(config.train_examples)?);
    let test: Arc<dyn LabelledData<2>> = Arc::new(test.clone());
    let mut runs = Vec::new();
    for &depth in &config.depths {
        for &kind in &config.kinds {
            for r in 0..config.runs {
                let summary = run_one(config, kind, depth, r, &train, &test, out, device, quiet)?;
                runs.push(summary);
            }
        }
    }
    let result = StudyResult::new(config.clone(), runs);
    root.write_json("results.json", &result)?;
    crate::train::write_atomic(&root.file("table.md"), result.table().as_bytes())?;
    let series: Vec<Series> = result
        .best
        .iter()
        .filter_map(|&(kind, depth, i)| {
            let run = &result.runs[i];
            let color = config.depths.iter().position(|d| *d == depth)?;
            Some(Series {
                name: format!("{kind} {depth}"),
                points: run
                    .train_loss_curve
                    .iter()
                    .enumerate()
                    .map(|(e, l)| ((e + 1) as f64, *l))
                    .collect(),
                color,
                dashed: kind == LayerKind::Plain,
            })
        })
        .collect();
    let plot = LinePlot {
        title: "MNIST: best training loss per epoch (dashed: plain, solid: highway)".into(),
        x_label: "epoch".into(),
        y_label: "mean training cross-entropy".into(),
        log_y: true,
        series,
    };
    match plot.write(&root.file("figure1")) {
        Ok(paths) => {
            if !quiet {
                for p in paths {
                    println!("wrote {}", p.display());
                }
            }
        }
        Err(e) => eprintln!("warning: no plot written: {e:#}"),
    }
    Ok(result)
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    config: &StudyConfig,
    kind: LayerKind,
    depth: usize,
    r: usize,
    train: &Arc<dyn LabelledData<2>>,
    test: &Arc<dyn LabelledData<2>>,
    out: &Path,
    device: &Devices,
    quiet: bool,
) -> anyhow::Result<RunSummary> {
    let dir = RunDir::create(run_dir(out, kind, depth, r))?;
    if let Some(done) = dir.read_json::<RunSummary>("summary.json")? {
        if !quiet {
            println!(
                "[{kind} {depth} #{r}] done earlier: final train loss {:.3e}",
                done.loss_or_inf()
            );
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
    let label = format!("{kind} {depth} #{r}");
    if !quiet {
        println!(
            "[{label}] lr {:.2e} momentum {:.3} decay {:.3} {:?} b_T {:.2}, {parameters} parameters",
            hyper.lr, hyper.momentum, hyper.decay, hyper.activation, hyper.transform_bias
        );
    }
    let start = Instant::now();
    let evals: Vec<(&str, Arc<dyn LabelledData<2>>)> = vec![("test", test.clone())];
    let outcome = fit_classifier(
        model,
        train.clone(),
        &evals,
        &train_config,
        &FitOptions::resuming(&dir, &label, quiet, device),
    );
    // Only a non-finite loss is a divergence; any other failure stops the study.
    let outcome = match outcome {
        Ok((_, history)) => Ok(history),
        Err(e) => match e.downcast::<Diverged>() {
            Ok(diverged) => Err(diverged),
            Err(other) => return Err(other.context(format!("run {}", dir.path.display()))),
        },
    };
    let history: Vec<EpochMetrics> = match &outcome {
        Ok(h) => h.clone(),
        Err(_) => dir
            .read_json::<Vec<EpochMetrics>>("metrics.json")?
            .unwrap_or_default(),
    };
    let summary = RunSummary {
        kind,
        depth,
        run: r,
        hyper,
        status: if outcome.is_ok() {
            "completed"
        } else {
            "diverged"
        }
        .into(),
        final_train_loss: match &outcome {
            Ok(_) => history.last().map(|m| m.train_loss),
            Err(_) => None,
        },
        test_accuracy: history
            .last()
            .and_then(|m| m.evals.first())
            .and_then(|e| e.accuracy),
        parameters,
        epochs: history.len(),
        train_loss_curve: history.iter().map(|m| m.train_loss).collect(),
        wall_time_s: start.elapsed().as_secs_f64(),
        train_samples_per_s: crate::train::samples_per_second(&history),
        peak_memory_mib: crate::bench::peak_memory_mib(),
        backend: device.names(),
        git_commit: git_commit(),
        error: outcome.as_ref().err().map(|e| e.to_string()),
    };
    if let Some(e) = &summary.error
        && !quiet
    {
        println!("[{label}] diverged: {e}");
    }
    dir.write_json("summary.json", &summary)?;
    Ok(summary)
}
