//! The zoo's training strategy for burn-train's `SupervisedTraining` (`TrainingStrategy::Custom`).
//!
//! Burn's single-device strategy with what a reproduction needs built in:
//! - the data order, augmentation and dropout of epoch `e` come from `(seed, e)` alone (the
//!   [`EpochClock`] the loaders read, and `device.seed`), so a resumed run gives the same
//!   losses as an uninterrupted one;
//! - a NaN or infinite training loss stops the run before the optimiser step, naming the epoch
//!   and step; no checkpoint is written after it, so the newest one is the last good one;
//! - a training-time budget (`--max-minutes`): the epoch in which it runs out ends early, is
//!   validated and checkpointed, and the run stops;
//! - recurrent state carried from item to item within a pass ([`CarryIn`], [`CarryOut`]:
//!   truncated BPTT for the language models), and global-norm gradient clipping;
//! - after every epoch, the run's metrics ([`EpochMetrics`], `metrics.json` and `metrics.csv`)
//!   are staged with the checkpoint set ([`CheckpointSet`]), so they resume with it;
//! - extra evaluation splits beyond Burn's one validation loader;
//! - data parallelism over several devices of one machine ([`parallel`](super::parallel)):
//!   every batch split into one slice per device, the gradients combined on the main device.
//!
//! Everything else is Burn's: the [`Learner`]'s step, optimiser and scheduler, the event
//! processor (metrics, renderer, metric logs) and the checkpointers. Burn's gradient
//! accumulation and early stopping are refused with an error naming them ([`Stop::Refused`]).

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::tensor::{Device, Tensor};
use burn::train::{
    EventProcessorTraining, InferenceStep, Learner, LearnerEvent, LearnerModel,
    SupervisedLearningStrategy, SupervisedTrainingEventProcessor, TrainLoader, TrainOutput,
    TrainStep, TrainingComponents, TrainingItem, ValidLoader,
};
use serde::{Deserialize, Serialize};

use super::parallel::{MergeBatch, SplitBatch, combine_gradients, slice_sizes};
use super::{
    CheckpointSet, EpochClock, EpochMetrics, EvalResult, RunDir, ValidHistory, clip_global_norm,
    write_metrics,
};

/// What the strategy reads from a step's output: the loss, the batch size and, for
/// classifiers, how many were classified correctly.
pub trait StepStats {
    /// The mean loss of the batch and, for classifiers, the examples classified correctly: at
    /// most one read of device data ([`crate::host`]).
    fn read(&self) -> (f64, Option<usize>);
    /// The examples in the batch.
    fn examples(&self) -> usize;
}

impl StepStats for burn::train::ClassificationOutput {
    /// The loss and the count of correct predictions, read together.
    fn read(&self) -> (f64, Option<usize>) {
        let [batch, _] = self.output.dims();
        let hits = self
            .output
            .clone()
            .argmax(1)
            .reshape([batch])
            .equal(self.targets.clone())
            .int()
            .sum()
            .float();
        let both = Tensor::cat(vec![self.loss.clone().reshape([1]), hits], 0);
        let values = crate::host::read_values(both);
        (values[0], Some(values[1] as usize))
    }

    fn examples(&self) -> usize {
        self.targets.dims()[0]
    }
}

/// An item that starts from a recurrent state (a language model's window); classifiers'
/// batches carry none (`S = ()`).
pub trait CarryIn<S> {
    /// Sets the state the item starts from (`None`: zeros).
    fn carry_in(&mut self, state: Option<S>);
}

/// A step output that ends in a recurrent state, to start the next item from.
pub trait CarryOut<S> {
    /// Takes the (detached) final state out of the output.
    fn carry_out(&mut self) -> Option<S>;
}

impl<const D: usize> CarryIn<()> for crate::ClassBatch<D> {
    fn carry_in(&mut self, _state: Option<()>) {}
}

impl CarryOut<()> for burn::train::ClassificationOutput {
    fn carry_out(&mut self) -> Option<()> {
        None
    }
}

impl<S> CarryIn<S> for crate::LmWindow<S> {
    fn carry_in(&mut self, state: Option<S>) {
        self.state = state;
    }
}

impl<S> CarryOut<S> for crate::LmOutput<S> {
    fn carry_out(&mut self) -> Option<S> {
        self.state.take()
    }
}

impl<S> StepStats for crate::LmOutput<S> {
    /// The mean loss the step read already.
    fn read(&self) -> (f64, Option<usize>) {
        (self.mean_loss, None)
    }

    fn examples(&self) -> usize {
        self.tokens
    }
}

/// The run's own state, saved with every checkpoint set (`state.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    /// Metrics of the completed epochs.
    pub history: Vec<EpochMetrics>,
}

/// Why a run stopped before its last epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// A non-finite loss: the message names the epoch, the step and the last good checkpoint.
    Diverged(String),
    /// The training-time budget ran out.
    TimeUp,
    /// A `SupervisedTraining` setting this strategy does not carry out (the message names it);
    /// nothing was trained.
    Refused(String),
}

/// Why the strategy refuses to train with these Burn settings, if it does: gradient
/// accumulation (each item's gradients are applied at once, the carried state would go
/// through several windows per step) and an early-stopping strategy (the run's length is its
/// epochs and its time budget). Accepting them silently would train otherwise than asked.
fn refused(grad_accumulation: &Option<usize>, early_stopping: bool) -> Option<String> {
    if let Some(n) = grad_accumulation.filter(|&n| n > 1) {
        return Some(format!(
            "gradient accumulation ({n} steps, `SupervisedTraining::grads_accumulation`) is not \
             supported by this training strategy: remove it and use a batch {n} times larger"
        ));
    }
    early_stopping.then(|| {
        "an early-stopping strategy (`SupervisedTraining::early_stopping`) is not supported by \
         this training strategy: the run trains its epochs, or until its time budget \
         (`max_seconds`) is spent"
            .to_string()
    })
}

/// What a training produced, read by the caller after `launch`.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// The run's state (metrics of every epoch so far, resumed ones included).
    pub state: RunState,
    /// Why it stopped early, if it did.
    pub stop: Option<Stop>,
}

/// Sums over the batches of one pass.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    loss: f64,
    correct: usize,
    examples: usize,
    classified: bool,
}

impl Sums {
    fn add(&mut self, n: usize, loss: f64, correct: Option<usize>) {
        self.loss += loss * n as f64;
        self.examples += n;
        if let Some(c) = correct {
            self.correct += c;
            self.classified = true;
        }
    }

    fn mean_loss(&self) -> f64 {
        self.loss / self.examples.max(1) as f64
    }

    fn accuracy(&self) -> Option<f64> {
        self.classified
            .then(|| self.correct as f64 / self.examples.max(1) as f64)
    }
}

/// The zoo's strategy (see the [module docs](self)). `VI` is the model's inference input,
/// `S` the recurrent state carried from item to item within a pass (`()` for classifiers).
pub struct ZooStrategy<VI, S = ()> {
    /// The training device (with autodiff): the model, the optimiser, the evaluation.
    pub device: Device,
    /// More training devices (with autodiff), each training one slice of every batch beside
    /// `device` (empty: one device; see [`parallel`](super::parallel)).
    pub replicas: Vec<Device>,
    /// The epoch the loaders draw their order from.
    pub clock: EpochClock,
    /// The validation loss of every finished epoch, set before each epoch for the learning-rate
    /// schedule.
    pub valid_history: ValidHistory,
    /// Seed of each epoch's dropout (`seed + 1,000,003 · epoch`).
    pub seed: u64,
    /// The run directory (metrics files).
    pub run: RunDir,
    /// The run's checkpoint sets.
    pub checkpoints: Arc<CheckpointSet>,
    /// Name of the split behind Burn's validation loader.
    pub valid_name: String,
    /// More evaluation splits, each evaluated after every epoch.
    pub extra_evals: Vec<(String, Arc<dyn DataLoader<VI>>)>,
    /// Training-time budget in seconds over the whole run (evaluation excluded): the epoch in
    /// which it runs out stops after its current step (at least one), then validates and
    /// checkpoints; a resumed run whose budget is spent trains no further epoch.
    pub max_seconds: Option<f64>,
    /// Clip the global L2 norm of the gradients at this (0: no clipping).
    pub clip_norm: f64,
    /// Filled in as the run goes (resumed runs start from the checkpoint's state).
    pub outcome: Arc<Mutex<RunOutcome>>,
    /// The carried state's type.
    pub carried: PhantomData<fn() -> S>,
}

impl<VI: Send + 'static, S> ZooStrategy<VI, S> {
    fn evaluate<M>(
        &self,
        model: &M,
        name: &str,
        loader: &Arc<dyn DataLoader<VI>>,
        mut report: impl FnMut(<M as InferenceStep>::Output, TrainingItemProgress),
    ) -> Result<EvalResult, burn::data::dataset::DatasetError>
    where
        M: InferenceStep<Input = VI>,
        VI: CarryIn<S>,
        <M as InferenceStep>::Output: StepStats + CarryOut<S>,
    {
        let mut sums = Sums::default();
        let mut iterator = loader.iter();
        let mut iteration = 0;
        let mut carried = None;
        while let Some(item) = iterator.next() {
            let mut item = item?;
            item.carry_in(carried.take());
            let mut out = InferenceStep::step(model, item);
            carried = out.carry_out();
            iteration += 1;
            let (loss, correct) = out.read();
            sums.add(out.examples(), loss, correct);
            report(out, (iterator.progress(), iteration));
        }
        Ok(EvalResult {
            split: name.to_string(),
            loss: sums.mean_loss(),
            accuracy: sums.accuracy(),
        })
    }
}

type TrainingItemProgress = (burn::data::dataloader::Progress, usize);

/// A model the zoo's strategy trains: a burn-train Learner model whose items take and whose
/// outputs give the carried state `S` (`()` for classifiers), and whose outputs report their
/// loss.
pub trait ZooModel<S>:
    LearnerModel
    + TrainStep<Input: CarryIn<S> + SplitBatch, Output: StepStats + CarryOut<S> + MergeBatch + Send>
    + InferenceStep<Input: CarryIn<S>, Output: StepStats + CarryOut<S>>
{
}

impl<M, S> ZooModel<S> for M where
    M: LearnerModel
        + TrainStep<
            Input: CarryIn<S> + SplitBatch,
            Output: StepStats + CarryOut<S> + MergeBatch + Send,
        > + InferenceStep<Input: CarryIn<S>, Output: StepStats + CarryOut<S>>
{
}

impl<VI, S> ZooStrategy<VI, S> {
    /// One training step over the main device and the replicas: the batch split into one slice
    /// per device, each slice's step in a thread of its own, the outputs and the gradients
    /// (weighted by the slices' examples) put together on the main device. The dropout masks of
    /// slice `k` come from the seed `(seed, epoch, step, k)`
    /// ([`highway_core::with_mask_seed`]), not from the devices' generators, so they do not
    /// depend on the threads' order and a resumed run draws them again.
    fn parallel_step<M: ZooModel<S>>(
        &self,
        model: &M,
        item: <M as TrainStep>::Input,
        epoch: usize,
        step: usize,
    ) -> TrainOutput<<M as TrainStep>::Output> {
        let devices: Vec<&Device> = std::iter::once(&self.device)
            .chain(&self.replicas)
            .collect();
        let mut start = 0;
        let slices: Vec<_> = slice_sizes(item.batch_size(), devices.len())
            .into_iter()
            .zip(&devices)
            .map(|(n, device)| {
                let slice = item.slice(start, n, device);
                start += n;
                ((*device).clone(), slice)
            })
            .collect();
        drop(item);
        let outputs: Vec<TrainOutput<<M as TrainStep>::Output>> = std::thread::scope(|scope| {
            let handles: Vec<_> = slices
                .into_iter()
                .enumerate()
                .map(|(k, (device, slice))| {
                    let model = model.clone();
                    let seed = highway_core::mask_stream::stream_seed(&[
                        self.seed,
                        epoch as u64,
                        step as u64,
                        k as u64,
                    ]);
                    scope.spawn(move || {
                        highway_core::with_mask_seed(seed, || {
                            TrainStep::step(&model.fork(&device), slice)
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let total: usize = outputs.iter().map(|o| o.item.examples()).sum();
        let (items, grads): (Vec<_>, Vec<_>) = outputs
            .into_iter()
            .map(|o| {
                let weight = o.item.examples() as f64 / total.max(1) as f64;
                (o.item, (weight, o.grads))
            })
            .unzip();
        TrainOutput {
            grads: combine_gradients(model, grads, &self.device),
            item: MergeBatch::merge(items, &self.device),
        }
    }
}

impl<M: ZooModel<S>, S> SupervisedLearningStrategy<M>
    for ZooStrategy<<M as InferenceStep>::Input, S>
{
    fn fit(
        &self,
        components: TrainingComponents<M>,
        mut learner: Learner<M>,
        dataloader_train: TrainLoader<M>,
        dataloader_valid: ValidLoader<M>,
        starting_epoch: usize,
    ) -> (M, SupervisedTrainingEventProcessor<M>) {
        let train = dataloader_train.to_device(&self.device);
        let valid = dataloader_valid.to_device(&self.device.clone().inner());
        let (train_items, valid_items) = (train.num_items(), valid.num_items());
        learner.fork(&self.device);
        let interrupter = components.interrupter.clone();
        let mut events = components.event_processor;
        let mut checkpointer = components.checkpointer;
        if let Some(message) = refused(
            &components.grad_accumulation,
            components.early_stopping.is_some(),
        ) {
            interrupter.stop(Some(&message));
            self.outcome.lock().expect("outcome").stop = Some(Stop::Refused(message));
            return (learner.model(), events);
        }
        // Steps and training seconds of the epochs before this process (a resumed run's
        // iteration count and spent budget).
        let (mut iteration, mut spent) = {
            let outcome = self.outcome.lock().expect("outcome");
            let history = &outcome.state.history;
            (
                history.iter().map(|m| m.steps).sum::<usize>(),
                history.iter().map(|m| m.train_seconds).sum::<f64>(),
            )
        };

        for epoch in starting_epoch..=components.num_epochs {
            if self.max_seconds.is_some_and(|limit| spent >= limit) {
                self.outcome.lock().expect("outcome").stop = Some(Stop::TimeUp);
                break;
            }
            let epoch_start = Instant::now();
            self.clock.set(epoch - 1);
            self.valid_history.set(
                self.outcome
                    .lock()
                    .expect("outcome")
                    .state
                    .history
                    .iter()
                    .map(|m| m.evals.first().map_or(f64::NAN, |e| e.loss))
                    .collect(),
            );
            self.device
                .seed(self.seed.wrapping_add((epoch - 1) as u64 * 1_000_003));
            interrupter.fail_on_error(events.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: train_items,
            }));
            let mut sums = Sums::default();
            let mut last_lr = f64::NAN;
            let mut iterator = train.iter();
            let mut step = 0;
            let mut carried = None;
            let mut time_up = false;
            while let Some(item) = iterator.next() {
                let mut item = match item {
                    Ok(item) => item,
                    Err(err) => {
                        interrupter.fail(err);
                        break;
                    }
                };
                item.carry_in(carried.take());
                step += 1;
                iteration += 1;
                let progress = iterator.progress();
                learner.lr_step();
                let lr = learner.lr_current().base();
                let mut out = if self.replicas.is_empty() {
                    learner.train_step(item)
                } else {
                    self.parallel_step(&learner.model(), item, epoch, step)
                };
                carried = out.item.carry_out();
                let (loss, correct) = out.item.read();
                if !loss.is_finite() {
                    let message = format!(
                        "training loss is {loss} at epoch {epoch}, step {step} (lr {lr}): \
                         stopping; {}",
                        self.run.last_good()
                    );
                    interrupter.stop(Some(&message));
                    self.outcome.lock().expect("outcome").stop = Some(Stop::Diverged(message));
                    break;
                }
                sums.add(out.item.examples(), loss, correct);
                last_lr = lr;
                let mut grads = out.grads;
                if self.clip_norm > 0.0 {
                    clip_global_norm(&learner.model(), &mut grads, self.clip_norm);
                }
                learner.optimizer_step(grads);
                let item = TrainingItem::new(
                    out.item,
                    progress,
                    Some(iteration),
                    Some(learner.lr_current()),
                );
                interrupter.fail_on_error(events.process_train(LearnerEvent::ProcessedItem(item)));
                if interrupter.should_stop() {
                    break;
                }
                if self
                    .max_seconds
                    .is_some_and(|limit| spent + epoch_start.elapsed().as_secs_f64() >= limit)
                {
                    time_up = true;
                    break;
                }
            }
            interrupter.fail_on_error(events.process_train(LearnerEvent::EndSplit(epoch)));
            if interrupter.should_stop() {
                break;
            }
            let train_seconds = epoch_start.elapsed().as_secs_f64();
            spent += train_seconds;

            let model = learner.model().valid();
            interrupter.fail_on_error(events.process_valid(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: valid_items,
            }));
            let first = self.evaluate(&model, &self.valid_name, &valid, |out, (p, i)| {
                let item = TrainingItem::new(out, p, Some(i), None);
                interrupter.fail_on_error(events.process_valid(LearnerEvent::ProcessedItem(item)));
            });
            interrupter.fail_on_error(events.process_valid(LearnerEvent::EndSplit(epoch)));
            let mut evals = Vec::new();
            match first {
                Ok(r) => evals.push(r),
                Err(err) => interrupter.fail(err),
            }
            for (name, loader) in &self.extra_evals {
                let loader = loader.to_device(&self.device.clone().inner());
                match self.evaluate(&model, name, &loader, |_, _| {}) {
                    Ok(r) => evals.push(r),
                    Err(err) => interrupter.fail(err),
                }
            }
            interrupter.fail_on_error(events.process_train(LearnerEvent::EndEpoch(epoch)));
            interrupter.fail_on_error(events.flush());
            if interrupter.should_stop() {
                break;
            }
            if let Some(bad) = evals.iter().find(|e| !e.loss.is_finite()) {
                let message = format!(
                    "{} loss is {} after epoch {epoch}: the weights diverged; stopping; {}",
                    bad.split,
                    bad.loss,
                    self.run.last_good()
                );
                interrupter.stop(Some(&message));
                self.outcome.lock().expect("outcome").stop = Some(Stop::Diverged(message));
                break;
            }

            let metrics = EpochMetrics {
                epoch,
                train_loss: sums.mean_loss(),
                train_accuracy: sums.accuracy(),
                lr: last_lr,
                evals,
                seconds: epoch_start.elapsed().as_secs_f64(),
                train_seconds,
                steps: step,
                examples: sums.examples,
            };
            let state = {
                let mut outcome = self.outcome.lock().expect("outcome");
                outcome.state.history.push(metrics);
                outcome.state.clone()
            };
            if let Err(e) = write_metrics(&self.run, &state.history) {
                interrupter.fail(burn::train::checkpoint::CheckpointerError::Unknown(
                    format!("{e:#}"),
                ));
                break;
            }
            if let Some(checkpointer) = &mut checkpointer {
                if let Err(e) = self.checkpoints.stage_state(epoch, &state) {
                    interrupter.fail(burn::train::checkpoint::CheckpointerError::Unknown(
                        format!("{e:#}"),
                    ));
                    break;
                }
                checkpointer.checkpoint(&learner, epoch, &components.event_store);
                // The records are read on Burn's checkpointer threads: the next epoch waits
                // for them (a GPU backend would update tensors they still share).
                if let Err(e) = self.checkpoints.wait_saved(epoch) {
                    interrupter.fail(burn::train::checkpoint::CheckpointerError::Unknown(
                        format!("{e:#}"),
                    ));
                    break;
                }
            }
            if time_up && epoch < components.num_epochs {
                self.outcome.lock().expect("outcome").stop = Some(Stop::TimeUp);
                break;
            }
        }
        // Dropping the checkpointer waits for its threads: the last set is published.
        drop(checkpointer);
        (learner.model(), events)
    }
}
