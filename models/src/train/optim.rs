//! Optimisers and learning-rate schedules the papers use.
//!
//! - *Training Very Deep Networks*: SGD with momentum (MNIST depth study), Nesterov momentum
//!   0.9 with weight decay and step decay ×0.1 at iteration milestones (conv nets), exponential
//!   decay per epoch (random search).
//! - *Recurrent Highway Networks*: plain SGD with `lr = lr0 / decay^max(epoch − k, 0)`.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{LearningRate, ModuleOptimizer, SgdConfig};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use std::sync::{Arc, Mutex};

use super::{EpochClock, FusedAdamConfig, FusedSgdConfig};

/// An optimiser, as data (stored in `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// Stochastic gradient descent, optionally with (Nesterov) momentum and L2 weight decay.
    Sgd {
        /// Momentum factor (0 for plain SGD).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 penalty added to the gradient (`weight_decay · w`).
        weight_decay: f64,
    },
    /// Adam with default betas ([`FusedAdam`](super::FusedAdam): Burn's `Adam` in one pass per
    /// parameter on the CPU).
    Adam {
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
}

impl OptimizerConfig {
    /// Builds the Burn optimiser.
    pub fn init(&self) -> ModuleOptimizer {
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let decay =
                    (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32));
                if momentum <= 0.0 {
                    // Burn's plain `Sgd`, in one pass per parameter on the CPU (the same bits).
                    return FusedSgdConfig::new().with_weight_decay(decay).init();
                }
                // PyTorch semantics: no dampening.
                SgdConfig::new()
                    .with_momentum(Some(
                        MomentumConfig::new()
                            .with_momentum(momentum)
                            .with_dampening(0.0)
                            .with_nesterov(nesterov),
                    ))
                    .with_weight_decay(decay)
                    .init()
            }
            // Burn's `Adam`, in one pass per parameter on the CPU (the same bits).
            OptimizerConfig::Adam { weight_decay } => FusedAdamConfig::new()
                .with_weight_decay(
                    (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32)),
                )
                .init(),
        }
    }

    /// Checks the values, naming the bad one.
    pub fn validate(&self) -> Result<(), String> {
        let (m, wd) = match *self {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                ..
            } => (momentum, weight_decay),
            OptimizerConfig::Adam { weight_decay } => (0.0, weight_decay),
        };
        if !(0.0..1.0).contains(&m) {
            return Err(format!("momentum must be in [0, 1), got {m}"));
        }
        if !(wd >= 0.0 && wd.is_finite()) {
            return Err(format!("weight_decay must be >= 0, got {wd}"));
        }
        Ok(())
    }
}

/// A learning-rate schedule, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// `lr0` throughout.
    Constant,
    /// `lr0 · gamma^epoch` (epochs 0-based).
    Exponential {
        /// Factor per epoch.
        gamma: f64,
    },
    /// `lr0 · factor^(number of milestones ≤ iteration)` (iterations 0-based).
    Step {
        /// Iterations at which the rate is multiplied by `factor`.
        milestones: Vec<usize>,
        /// The factor (0.1 in the papers).
        factor: f64,
    },
    /// The RHN code's `lr0 / decay^max(epoch − start, 0)`.
    InverseDecay {
        /// Divisor per epoch (1.02 for PTB, 1.03 for enwik8/text8).
        decay: f64,
        /// First epoch (0-based) whose rate is not yet decayed.
        start: usize,
    },
    /// Kim et al.'s rule (yoonkim/lstm-char-cnn, `main.lua`): after the validation of every
    /// epoch from the third on, the rate is multiplied by `factor` when the validation
    /// perplexity fell by less than `threshold` since the previous epoch.
    Plateau {
        /// The factor (0.5).
        factor: f64,
        /// The least fall of the validation perplexity that keeps the rate (1.0).
        threshold: f64,
    },
}

impl LrSchedule {
    /// The rate at `epoch` (0-based) and global `iteration` (0-based); `valid_losses`: the
    /// mean validation loss (nats) after each finished epoch, read by [`LrSchedule::Plateau`].
    pub fn lr(&self, lr0: f64, epoch: usize, iteration: usize, valid_losses: &[f64]) -> f64 {
        match self {
            LrSchedule::Constant => lr0,
            LrSchedule::Exponential { gamma } => lr0 * gamma.powi(epoch as i32),
            LrSchedule::Step { milestones, factor } => {
                let passed = milestones.iter().filter(|m| **m <= iteration).count();
                lr0 * factor.powi(passed as i32)
            }
            LrSchedule::InverseDecay { decay, start } => {
                lr0 / decay.powi(epoch.saturating_sub(*start) as i32)
            }
            LrSchedule::Plateau { factor, threshold } => {
                // The decision after epoch j (0-based, j ≥ 2) sets the rate from epoch j + 1.
                let ppl: Vec<f64> = valid_losses.iter().map(|l| l.exp()).collect();
                let stalls = (2..epoch.min(ppl.len()))
                    .filter(|&j| {
                        let fall = ppl[j - 1] - ppl[j];
                        fall.is_nan() || fall < *threshold
                    })
                    .count();
                lr0 * factor.powi(stalls as i32)
            }
        }
    }
}

/// The validation loss after each finished epoch of a run, shared between the strategy,
/// which sets it at the start of every epoch (a resumed run's history included), and
/// [`ScheduleLr`], which reads it for [`LrSchedule::Plateau`].
#[derive(Debug, Clone, Default)]
pub struct ValidHistory(Arc<Mutex<Vec<f64>>>);

impl ValidHistory {
    /// Replaces the history.
    pub fn set(&self, losses: Vec<f64>) {
        *self.0.lock().expect("validation history") = losses;
    }

    /// The history.
    pub fn get(&self) -> Vec<f64> {
        self.0.lock().expect("validation history").clone()
    }
}

/// A [`LrSchedule`] as burn-train's [`LrScheduler`]: step `i` (0-based, counted over the
/// run) taken in epoch `e` (0-based, read from the run's [`EpochClock`]) gets
/// `schedule.lr(lr0, e, i)`. Its record is the iteration count, so a restored run continues
/// the schedule where it stopped.
#[derive(Debug, Clone)]
pub struct ScheduleLr {
    schedule: LrSchedule,
    lr0: f64,
    clock: EpochClock,
    history: ValidHistory,
    iteration: usize,
}

impl ScheduleLr {
    /// The record's key for the iteration count.
    pub const ITERATION: &'static str = "iteration";

    /// `schedule` from `lr0`, at iteration 0, in the epochs `clock` tells, after the
    /// validation losses `history` holds.
    pub fn new(schedule: LrSchedule, lr0: f64, clock: EpochClock, history: ValidHistory) -> Self {
        Self {
            schedule,
            lr0,
            clock,
            history,
            iteration: 0,
        }
    }

    /// The iteration count in the record of a learner's scheduler (Burn's
    /// `ModuleLrScheduler`, with this schedule as its one parameter group, `0`), as a
    /// checkpoint stores it; an error names what is missing.
    pub fn learner_record_iteration(record: &LrSchedulerRecord) -> Result<usize, String> {
        Self::record_iteration(&record.record("0")).map_err(|e| format!("{e} in parameter group 0"))
    }

    /// The iteration count a record of this scheduler holds, or an error naming what is
    /// missing.
    pub fn record_iteration(record: &LrSchedulerRecord) -> Result<usize, String> {
        record
            .scalar::<u64>(Self::ITERATION)
            .map(|i| i as usize)
            .ok_or_else(|| format!("the scheduler record has no `{}`", Self::ITERATION))
    }
}

impl LrScheduler for ScheduleLr {
    fn step(&mut self) -> LearningRate {
        let valid = match self.schedule {
            LrSchedule::Plateau { .. } => self.history.get(),
            _ => Vec::new(),
        };
        let lr = self
            .schedule
            .lr(self.lr0, self.clock.get(), self.iteration, &valid);
        self.iteration += 1;
        lr
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar(Self::ITERATION, self.iteration as u64)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        // Records are checked before a run is restored (`CheckpointSet::newest_loadable`).
        self.iteration = Self::record_iteration(&record).expect("checked scheduler record");
    }
}

/// The squared L2 norm of each gradient, summed on the device.
struct SquaredNorms<'a> {
    grads: &'a GradientsParams,
    sums: Vec<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorms<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.sums.push(sum_in_order(g.powi_scalar(2)));
        }
    }
}

/// Multiplies every gradient by a factor held on the device (`[1]`).
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: Tensor<1>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let factor = self.factor.clone().to_device(&g.device());
            self.grads.register(param.id, g * factor.reshape([1; D]));
        }
    }
}

/// Scales all gradients of `model` so that their global L2 norm `‖g‖` is at most `max_norm`
/// (`max_norm ≤ 0`: no clipping); returns `‖g‖` before clipping (`[1]`, on the gradients'
/// device), or `None` when `grads` holds no gradient of `model`.
///
/// On a GPU nothing is read to the host: the factor `min(1, max_norm / ‖g‖)` is computed on the
/// device and multiplies every gradient, so the step does not wait for the device here. On a
/// CPU backend, where a read costs nothing and the multiplication a pass over every gradient,
/// the gradients are scaled only when `‖g‖` exceeds `max_norm`. With the CPU fast paths on and
/// `f32` gradients, `‖g‖` is summed on the host in one pass over the gradients' buffers (moved
/// out of `grads` and back, not copied, where the backend owns them alone), split over rayon's
/// threads in fixed pieces and accumulated in `f64`, and the gradients are scaled in place;
/// elsewhere (`HIGHWAY_ZOO_FAST_PATH=off`) through Burn's tensor operations, with `‖g‖` summed
/// in `f32`.
/// Both give the same result up to the rounding of the sum ([`clip_global_norm_on_device`] is
/// the GPU path; both are tested equal to it).
pub fn clip_global_norm<M: Module>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> Option<Tensor<1>> {
    if let Some(host) = HostGradients::take(model, grads) {
        return Some(host.clip(model, grads, max_norm));
    }
    let norm = global_norm(model, grads)?;
    if max_norm <= 0.0 || !highway_core::is_cpu_device(&norm.device()) {
        return clip_with(model, grads, max_norm, norm);
    }
    let total = crate::host::read_scalar(norm.clone());
    if total > max_norm {
        model.visit(&mut Scale {
            grads,
            factor: Tensor::full([1], max_norm / total, &norm.device()),
        });
    }
    Some(norm)
}

/// [`clip_global_norm`] as it runs on a GPU, on any device: the clipping factor computed and
/// applied on the device, nothing read to the host.
pub fn clip_global_norm_on_device<M: Module>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> Option<Tensor<1>> {
    let norm = global_norm(model, grads)?;
    clip_with(model, grads, max_norm, norm)
}

/// Elements per piece of the host pass: each piece's sum of squares is one thread's.
const PIECE: usize = 1 << 16;

/// `Σ x²` over `v` in `f64`: eight running sums, one per position modulo 8 (independent, so
/// that they vectorise), added in order at the end, then the elements past the last multiple of
/// eight.
#[inline(always)]
fn square_sum_loop(v: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(x) * f64::from(x);
        }
    }
    let total: f64 = lanes.iter().sum();
    rest.iter()
        .fold(total, |sum, &x| sum + f64::from(x) * f64::from(x))
}

/// [`square_sum_loop`] compiled for AVX2 (no FMA, so that it gives the same bits).
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn square_sum_avx2(v: &[f32]) -> f64 {
    square_sum_loop(v)
}

/// [`square_sum_loop`] in its widest build for this CPU.
fn square_sum(v: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if highway_core::simd::avx2_fma() {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { square_sum_avx2(v) };
    }
    square_sum_loop(v)
}

/// The gradients of a model's parameters on the host, in the order the model visits them.
struct HostGradients {
    /// Each gradient's parameter and values (moved out of the tensor where the backend owns
    /// it alone, and back into one: Burn's `flex` hands its buffers over and takes them back).
    grads: Vec<(ParamId, TensorData)>,
    /// Their device.
    device: burn::tensor::Device,
}

/// Whether every gradient of a model is an `f32` tensor on a device of the CPU fast paths.
struct AllOnHost<'a> {
    grads: &'a GradientsParams,
    all: bool,
    any: bool,
}

impl ModuleVisitor for AllOnHost<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.any = true;
            self.all &= crate::host::on_host_path(&g);
        }
    }
}

/// Moves a model's gradients out of `grads` to the host.
struct TakeGradients<'a> {
    from: &'a mut GradientsParams,
    into: &'a mut HostGradients,
}

impl ModuleVisitor for TakeGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.from.remove::<D>(param.id) {
            self.into.device = g.device();
            self.into.grads.push((param.id, g.into_data()));
        }
    }
}

/// Hands the gradients back to `grads`, in the order they were taken.
struct PutGradients<'a> {
    from: std::vec::IntoIter<(ParamId, TensorData)>,
    into: &'a mut GradientsParams,
    device: &'a burn::tensor::Device,
}

impl ModuleVisitor for PutGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self
            .from
            .as_slice()
            .first()
            .is_some_and(|(id, ..)| *id == param.id)
        {
            let (id, values) = self.from.next().expect("checked");
            let g: Tensor<D> = Tensor::from_data(values, self.device);
            self.into.register(id, g);
        }
    }
}

impl HostGradients {
    /// Moves `model`'s gradients out of `grads`, if every one is an `f32` tensor on a device
    /// of the CPU fast paths and there is at least one.
    fn take<M: Module>(model: &M, grads: &mut GradientsParams) -> Option<Self> {
        let mut check = AllOnHost {
            grads,
            all: true,
            any: false,
        };
        model.visit(&mut check);
        if !(check.all && check.any) {
            return None;
        }
        let mut host = HostGradients {
            grads: Vec::new(),
            device: burn::tensor::Device::default(),
        };
        model.visit(&mut TakeGradients {
            from: grads,
            into: &mut host,
        });
        Some(host)
    }

    /// `‖g‖`: each gradient's pieces summed in parallel, in `f64`, the sums added in order.
    fn norm(&self) -> f64 {
        let sums: Vec<f64> = self
            .grads
            .iter()
            .map(|(_, data)| {
                let v = data.as_slice::<f32>().expect("an f32 gradient");
                v.par_chunks(PIECE)
                    .map(square_sum)
                    .collect::<Vec<_>>()
                    .iter()
                    .sum()
            })
            .collect();
        sums.iter().sum::<f64>().sqrt()
    }

    /// Scales every gradient where `‖g‖ > max_norm`, as [`clip_global_norm`] describes, and
    /// hands them back to `grads`; returns `‖g‖`.
    fn clip<M: Module>(
        mut self,
        model: &M,
        grads: &mut GradientsParams,
        max_norm: f64,
    ) -> Tensor<1> {
        let total = self.norm();
        crate::host::count_read();
        if max_norm > 0.0 && total > max_norm {
            // The factor as a scalar of the gradients' type, as `Scale` multiplies by it.
            let factor = (max_norm / total) as f32;
            for (_, data) in &mut self.grads {
                let v = crate::host::f32_values(data);
                v.par_chunks_mut(PIECE)
                    .for_each(|piece| piece.iter_mut().for_each(|x| *x *= factor));
            }
        }
        let device = self.device.clone();
        model.visit(&mut PutGradients {
            from: self.grads.into_iter(),
            into: grads,
            device: &device,
        });
        Tensor::from_data(TensorData::new(vec![total as f32], [1]), &device)
    }
}

/// `‖g‖` over every gradient of `model` in `grads`, on the device.
fn global_norm<M: Module>(model: &M, grads: &GradientsParams) -> Option<Tensor<1>> {
    let mut norms = SquaredNorms {
        grads,
        sums: Vec::new(),
    };
    model.visit(&mut norms);
    let device = norms.sums.first()?.device();
    let sums: Vec<Tensor<1>> = norms
        .sums
        .into_iter()
        .map(|t| t.to_device(&device))
        .collect();
    Some(sum_in_order(Tensor::cat(sums, 0)).sqrt())
}

/// The sum of every element of `t`, as `[1]`, through Burn's reduction along one dimension,
/// which adds in an order fixed by its kernel. Burn's `sum()` of a whole tensor may run an
/// autotuned one-shot kernel on a GPU that adds with atomics, in the order the threads arrive,
/// which can give other bits from run to run.
pub(crate) fn sum_in_order<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    let n = t.shape().num_elements();
    t.reshape([n]).sum_dim(0)
}

/// Multiplies the gradients by `min(1, max_norm / norm)` on the device (`max_norm ≤ 0`:
/// nothing); returns `norm`.
fn clip_with<M: Module>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
    norm: Tensor<1>,
) -> Option<Tensor<1>> {
    if max_norm > 0.0 {
        // A zero norm gives an infinite ratio, clamped to 1.
        let factor = (norm.clone().recip() * max_norm).clamp_max(1.0);
        model.visit(&mut Scale { grads, factor });
    }
    Some(norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both paths of the clipping on the CPU: the same norm and the same gradients, clipped to
    /// the bound in the gradients' direction, and left alone under it.
    #[test]
    fn the_square_sum_is_the_sum_of_squares() {
        // 3² + 4² + 12² = 169 over the eight lanes and the rest (19 elements).
        let mut v = vec![0.0f32; 19];
        (v[3], v[10], v[18]) = (3.0, 4.0, 12.0);
        assert_eq!(square_sum_loop(&v), 169.0);
        assert_eq!(square_sum(&v), 169.0);
        let v: Vec<f32> = (0..1001).map(|i| (i as f32 * 0.37).sin()).collect();
        let plain: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        assert!((square_sum(&v) - plain).abs() <= 1e-12 * plain);
        assert_eq!(square_sum(&v).to_bits(), square_sum_loop(&v).to_bits());
    }

    #[test]
    fn the_host_pass_equals_the_tensor_form_over_many_pieces() {
        use burn::nn::{Linear, LinearConfig};
        use burn::tensor::{Device, Distribution};
        let device = Device::flex().autodiff();
        // 180,000 weights: three pieces of the host pass, the last one short.
        let model: Linear = LinearConfig::new(600, 300).init(&device);
        let x = Tensor::<2>::random([8, 600], Distribution::Default, &device);
        let bias = model.bias.as_ref().unwrap().id;
        let fresh = || {
            let loss = model.forward(x.clone()).powi_scalar(2).sum();
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            // A parameter without a gradient stays without one.
            grads.remove::<1>(bias);
            grads
        };
        let weights = |g: &GradientsParams| -> Vec<f32> {
            let w = g.get::<2>(model.weight.id).unwrap();
            w.into_data().try_to_vec::<f32>().unwrap()
        };
        assert!(HostGradients::take(&model, &mut fresh()).is_some());
        let norm = clip_global_norm_on_device(&model, &mut fresh(), 0.0).unwrap();
        let norm = f64::from(norm.into_scalar::<f32>());
        for bound in [0.5 * norm, 2.0 * norm] {
            let (mut a, mut b) = (fresh(), fresh());
            let na = clip_global_norm(&model, &mut a, bound).unwrap();
            let nb = clip_global_norm_on_device(&model, &mut b, bound).unwrap();
            let (na, nb) = (na.into_scalar::<f32>(), nb.into_scalar::<f32>());
            assert!((na - nb).abs() <= 1e-6 * nb, "{na} vs {nb}");
            assert!(a.get::<1>(bias).is_none());
            for (u, v) in weights(&a).iter().zip(&weights(&b)) {
                assert!((u - v).abs() <= 1e-6 * v.abs(), "{u} vs {v}");
            }
        }
    }

    #[test]
    fn clipping_on_the_device_equals_the_cpu_path() {
        use burn::nn::{Linear, LinearConfig};
        use burn::tensor::{Device, Distribution};
        let device = Device::flex().autodiff();
        let model: Linear = LinearConfig::new(5, 3).init(&device);
        let x = Tensor::<2>::random([4, 5], Distribution::Default, &device);
        let fresh = || {
            let loss = model.forward(x.clone()).powi_scalar(2).sum() * 10.0;
            GradientsParams::from_grads(loss.backward(), &model)
        };
        let values = |g: &GradientsParams| -> Vec<f32> {
            let w = g.get::<2>(model.weight.id).unwrap();
            let b = g.get::<1>(model.bias.as_ref().unwrap().id).unwrap();
            let mut v = w.into_data().try_to_vec::<f32>().unwrap();
            v.extend(b.into_data().try_to_vec::<f32>().unwrap());
            v
        };
        let original = values(&fresh());
        let norm = original.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(norm > 1.0, "{norm}");
        for bound in [0.5 * norm as f64, 2.0 * norm as f64, 0.0] {
            let (mut a, mut b) = (fresh(), fresh());
            let na = clip_global_norm(&model, &mut a, bound).unwrap();
            let nb = clip_global_norm_on_device(&model, &mut b, bound).unwrap();
            let (na, nb) = (na.into_scalar::<f32>(), nb.into_scalar::<f32>());
            // The host pass sums in f64, the device form in f32.
            assert!(
                (na - norm).abs() <= 1e-5 * norm && (na - nb).abs() <= 1e-6 * na,
                "{na} {nb} {norm}"
            );
            let (va, vb) = (values(&a), values(&b));
            let scale = if bound > 0.0 {
                (bound as f32 / norm).min(1.0)
            } else {
                1.0
            };
            for ((u, v), g) in va.iter().zip(&vb).zip(&original) {
                assert!((u - v).abs() <= 1e-6 * g.abs().max(1.0), "{u} vs {v}");
                assert!(
                    (u - g * scale).abs() <= 1e-5 * g.abs().max(1.0),
                    "{u} vs {g}·{scale}"
                );
            }
        }
    }

    #[test]
    fn schedules_follow_their_formulas() {
        assert_eq!(LrSchedule::Constant.lr(0.1, 7, 900, &[]), 0.1);
        let e = LrSchedule::Exponential { gamma: 0.5 };
        assert_eq!(e.lr(0.8, 0, 0, &[]), 0.8);
        assert_eq!(e.lr(0.8, 3, 0, &[]), 0.1);
        let s = LrSchedule::Step {
            milestones: vec![100, 150],
            factor: 0.1,
        };
        assert_eq!(s.lr(1.0, 0, 99, &[]), 1.0);
        assert!((s.lr(1.0, 0, 100, &[]) - 0.1).abs() < 1e-12);
        assert!((s.lr(1.0, 0, 175, &[]) - 0.01).abs() < 1e-12);
        let r = LrSchedule::InverseDecay {
            decay: 1.02,
            start: 19,
        };
        assert_eq!(r.lr(0.2, 19, 0, &[]), 0.2);
        assert!((r.lr(0.2, 21, 0, &[]) - 0.2 / 1.02f64.powi(2)).abs() < 1e-12);
    }

    #[test]
    fn the_plateau_rule_halves_after_a_stall_from_the_third_epoch_on() {
        let p = LrSchedule::Plateau {
            factor: 0.5,
            threshold: 1.0,
        };
        // Validation perplexities 200, 199.5 (a stall, but only the second epoch), 150, 149.2
        // (a stall), 149.0 (a stall), 100.
        let losses: Vec<f64> = [200.0f64, 199.5, 150.0, 149.2, 149.0, 100.0]
            .iter()
            .map(|p| p.ln())
            .collect();
        let lrs: Vec<f64> = (0..7).map(|e| p.lr(1.0, e, 0, &losses)).collect();
        assert_eq!(lrs, [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.25]);
        // Only the finished epochs count: epoch 4 before epoch 3 was validated.
        assert_eq!(p.lr(1.0, 4, 0, &losses[..3]), 1.0);
        // A diverged validation (NaN) counts as a stall.
        assert_eq!(p.lr(1.0, 3, 0, &[1.0, 0.5, f64::NAN]), 0.5);
        // Through the scheduler, reading the shared history.
        let (clock, history) = (EpochClock::default(), ValidHistory::default());
        let mut s = ScheduleLr::new(p, 1.0, clock.clone(), history.clone());
        clock.set(4);
        assert_eq!(s.step(), 1.0);
        history.set(losses);
        assert_eq!(s.step(), 0.5);
    }

    #[test]
    fn scheduler_steps_follow_the_schedule_and_resume_from_its_record() {
        let schedule = LrSchedule::Step {
            milestones: vec![5],
            factor: 0.5,
        };
        let clock = EpochClock::default();
        let mut a = ScheduleLr::new(
            schedule.clone(),
            0.8,
            clock.clone(),
            ValidHistory::default(),
        );
        let mut lrs = Vec::new();
        for epoch in 0..3 {
            clock.set(epoch);
            lrs.extend((0..3).map(|_| a.step()));
        }
        assert_eq!(lrs, [0.8, 0.8, 0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.4]);
        // Per epoch, from the clock.
        let e = EpochClock::default();
        let mut x = ScheduleLr::new(
            LrSchedule::Exponential { gamma: 0.5 },
            0.8,
            e.clone(),
            ValidHistory::default(),
        );
        assert_eq!(x.step(), 0.8);
        e.set(2);
        assert_eq!(x.step(), 0.2);
        let mut c = ScheduleLr::new(schedule, 0.8, clock, ValidHistory::default());
        c.load_record(a.to_record());
        assert_eq!(c.iteration, 9);
        assert_eq!(c.step(), 0.4);
        let err = ScheduleLr::record_iteration(&LrSchedulerRecord::new()).unwrap_err();
        assert!(err.contains("iteration"), "{err}");
    }

    #[test]
    fn configs_round_trip_and_validate() {
        let o = OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-3,
        };
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains("\"kind\":\"sgd\""), "{json}");
        assert_eq!(serde_json::from_str::<OptimizerConfig>(&json).unwrap(), o);
        let bad = OptimizerConfig::Sgd {
            momentum: 1.5,
            nesterov: false,
            weight_decay: 0.0,
        };
        assert!(bad.validate().unwrap_err().contains("momentum"));
    }
}
