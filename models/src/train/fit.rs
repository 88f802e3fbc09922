//! One training path for every zoo model: [`fit`] builds burn-train's `SupervisedTraining`
//! with the zoo's strategy ([`ZooStrategy`]), checkpoint sets ([`CheckpointSet`]) and renderer,
//! registers the caller's Burn metrics, and launches it with `Learner::new(model, optimiser,
//! schedule)`. Running it again on the same directory resumes from the newest loadable
//! checkpoint with the same result as an uninterrupted run.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use anyhow::bail;
use burn::data::dataloader::DataLoader;
use burn::train::{InferenceStep, Learner, SupervisedTraining, TrainStep, TrainingStrategy};

use super::checkpoint::{EveryEpoch, Part};
use super::renderer::renderer;
use super::strategy::{RunOutcome, RunState, Stop, ZooModel, ZooStrategy};
use super::{
    CheckpointSet, Devices, EpochClock, EpochMetrics, LrSchedule, OptimizerConfig, RunDir,
    ScheduleLr, ValidHistory,
};

/// A training run that diverged: a NaN or infinite loss (the message names the epoch, the
/// step and the last good checkpoint). Any other error is an I/O, data or configuration
/// fault, never a divergence.
#[derive(Debug, Clone, PartialEq)]
pub struct Diverged(pub String);

impl std::fmt::Display for Diverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Diverged {}

/// Where and how a run trains, besides the model, the data and the solver.
#[derive(Debug, Clone)]
pub struct FitOptions<'a> {
    /// The run's directory.
    pub run: &'a RunDir,
    /// Continue from the newest loadable checkpoint in `run`.
    pub resume: bool,
    /// The run's name in progress lines.
    pub label: &'a str,
    /// Print nothing.
    pub quiet: bool,
    /// Training-time budget in minutes (see [`ZooStrategy::max_seconds`]).
    pub max_minutes: Option<f64>,
    /// The training devices (autodiff is added where missing): one, or several of one
    /// machine, each training a slice of every batch ([`parallel`](super::parallel)).
    pub device: &'a Devices,
}

impl<'a> FitOptions<'a> {
    /// A run in `run` that resumes from its newest checkpoint, with no time budget.
    pub fn resuming(run: &'a RunDir, label: &'a str, quiet: bool, device: &'a Devices) -> Self {
        Self {
            run,
            resume: true,
            label,
            quiet,
            max_minutes: None,
            device,
        }
    }
}

/// The solver of a run.
#[derive(Debug, Clone)]
pub struct Solver {
    /// Epochs.
    pub epochs: usize,
    /// Initial learning rate and its schedule.
    pub lr: f64,
    /// The schedule.
    pub schedule: LrSchedule,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// Global gradient-norm clip (0: none).
    pub clip_norm: f64,
    /// Seed of each epoch's data order, augmentation and dropout.
    pub seed: u64,
    /// Checkpoint sets kept (at least 2).
    pub keep_checkpoints: usize,
}

impl Solver {
    /// Plain SGD (no momentum, no weight decay) at the constant learning rate `lr` for
    /// `epochs` epochs: no clipping, seed 0, the newest two checkpoint sets kept. Change the
    /// rest with struct update syntax: `Solver { clip_norm: 0.25, ..Solver::sgd(6, 20.0) }`.
    pub fn sgd(epochs: usize, lr: f64) -> Self {
        Self {
            epochs,
            lr,
            schedule: LrSchedule::Constant,
            optimizer: OptimizerConfig::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
            },
            clip_norm: 0.0,
            seed: 0,
            keep_checkpoints: 2,
        }
    }
}

/// The data of a run: the training loader (reading `clock`), the split behind Burn's
/// validation loader, and more evaluation splits.
pub struct RunData<TI, VI> {
    /// The epoch the loaders read; shared with the strategy and the schedule.
    pub clock: EpochClock,
    /// Training items.
    pub train: Arc<dyn DataLoader<TI>>,
    /// Name and items of the validation split.
    pub valid: (String, Arc<dyn DataLoader<VI>>),
    /// Further evaluation splits.
    pub extra_evals: Vec<(String, Arc<dyn DataLoader<VI>>)>,
}

/// Trains `model` through `SupervisedTraining` and the [`Learner`] (see the
/// [module docs](self)); `metrics` registers the Burn metrics the renderer and logs show.
/// Returns the trained model (in validation mode) and the metrics of every epoch, resumed
/// ones included. A NaN or infinite loss is the error [`Diverged`]; every other failure is
/// another error.
pub fn fit<M, S>(
    model: M,
    data: RunData<<M as TrainStep>::Input, <M as InferenceStep>::Input>,
    solver: &Solver,
    options: &FitOptions,
    metrics: impl FnOnce(SupervisedTraining<M>) -> SupervisedTraining<M>,
) -> anyhow::Result<(M, Vec<EpochMetrics>)>
where
    M: ZooModel<S>,
    S: 'static,
{
    if solver.epochs == 0 {
        bail!("epochs must be at least 1");
    }
    solver.optimizer.validate().map_err(anyhow::Error::msg)?;
    let run = options.run;
    let Devices {
        main: device,
        replicas,
    } = options.device.clone().autodiff();
    let checkpoints = CheckpointSet::open(run, solver.keep_checkpoints)?;
    // Drawn now: left to the first training step, the initial weights would be drawn after the
    // epoch's dropout seed, interleaved with its masks, and would depend on the dropout stream,
    // not only on the RNG state the caller seeded before `init`.
    highway_core::materialize(&model);
    let mut model = model;
    let mut resumed: Option<(usize, RunState)> = None;
    if options.resume
        && let Some((epoch, loaded, state)) = checkpoints.newest_loadable::<M, RunState>(&model)?
    {
        model = loaded;
        resumed = Some((epoch, state));
    }
    if let Some((epoch, state)) = &resumed
        && *epoch >= solver.epochs
    {
        // Finished earlier: the checkpoint holds the final model and metrics.
        return Ok((model.valid(), state.history.clone()));
    }

    let outcome = Arc::new(Mutex::new(RunOutcome {
        state: resumed.as_ref().map(|r| r.1.clone()).unwrap_or_default(),
        stop: None,
    }));
    let (valid_name, valid) = data.valid;
    let valid_history = ValidHistory::default();
    let strategy = ZooStrategy {
        device: device.clone(),
        replicas,
        clock: data.clock.clone(),
        valid_history: valid_history.clone(),
        seed: solver.seed,
        run: run.clone(),
        checkpoints: checkpoints.clone(),
        valid_name: valid_name.clone(),
        extra_evals: data.extra_evals,
        max_seconds: options.max_minutes.map(|m| m * 60.0),
        clip_norm: solver.clip_norm,
        outcome: outcome.clone(),
        carried: PhantomData::<fn() -> S>,
    };
    let schedule = ScheduleLr::new(
        solver.schedule.clone(),
        solver.lr,
        data.clock,
        valid_history.clone(),
    );

    let training = SupervisedTraining::new(run.file("burn"), data.train, valid)
        .with_training_strategy(TrainingStrategy::Custom(Arc::new(strategy)))
        .with_custom_checkpointers(
            checkpoints.part(Part::Model),
            checkpoints.part(Part::Optim),
            checkpoints.part(Part::Scheduler),
        )
        .with_checkpointing_strategy(EveryEpoch)
        .with_application_logger(None)
        .num_epochs(solver.epochs)
        .label(options.label);
    let mut training = metrics(training);
    let checkpoint = resumed.as_ref().map(|r| r.0);
    let interrupter = training.interrupter();
    training = training.renderer(renderer(
        options.label,
        &valid_name,
        options.quiet,
        interrupter,
        checkpoint,
    ));
    if let Some(epoch) = checkpoint {
        training = training.checkpoint(epoch);
    }
    let result = training.launch(Learner::new(
        model.fork(&device),
        solver.optimizer.init(),
        schedule,
    ));
    drop(result.renderer);
    let outcome = std::mem::take(&mut *outcome.lock().expect("outcome"));
    match &outcome.stop {
        Some(Stop::Diverged(message)) => return Err(Diverged(message.clone()).into()),
        Some(Stop::Refused(message)) => bail!("{message}"),
        _ => {}
    }
    if let Some(error) = result.error {
        bail!("training stopped on an error: {error}; {}", run.last_good());
    }
    if let Some(stop) = result.interrupted
        && outcome.stop.is_none()
    {
        bail!(
            "training was stopped ({}); {}",
            stop.reason.unwrap_or_else(|| "by the user".into()),
            run.last_good()
        );
    }
    Ok((result.model, outcome.state.history))
}
