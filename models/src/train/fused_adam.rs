//! Adam (Kingma & Ba, *Adam: A Method for Stochastic Optimization*, arXiv:1412.6980,
//! Algorithm 1) in the form of Burn's [`Adam`], with one pass over each parameter on Burn's CPU
//! backends.
//!
//! Burn's `Adam` updates a parameter through about a dozen tensor operations, each of which
//! reads and writes the whole tensor. [`FusedAdam`] reads the parameter, its gradient
//! and both moments to the host once, updates them in one loop (compiled a second time for AVX2
//! and picked where the CPU has it, as [`highway_core::simd`] describes; without FMA, so that
//! every product and sum is rounded as Burn's are), and hands them back, the buffers moved
//! rather than copied where Burn's `flex` backend owns them alone.
//!
//! Per element, in Burn's order of operations (so that both give the same bits):
//!
//! ```text
//! g ← p·λ + g                                  (weight decay λ, if set)
//! m ← m·β₁ + g·(1 − β₁)        v ← v·β₂ + g²·(1 − β₂)   (first step: m ← g·(1 − β₁), v ← g²·(1 − β₂))
//! c₂ = √(1 − β₂ᵗ)              c = c₂ / (1 − β₁ᵗ)
//! p ← p − lr · (m·c) / (√v + ε·c₂)
//! ```
//!
//! On the 2-core Zen 4 EPYC (2026-12-07, `cargo run --release -p experiments --example
//! adam_step 30`, `docs/bench/avx512/adam-step-2026-12-07-*.txt`) the step of the 50×71 highway
//! MLP's 204 parameter tensors took 2.40-2.77 ms with Burn's `Adam` and 1.59-2.04 ms with this
//! one (the rest is `ModuleOptimizer`'s work per parameter), and one `[10000, 830]` parameter
//! 86.7-95.0 ms against 4.6-5.6 ms.
//!
//! Its state is Burn's [`AdamState`], so checkpoints of either optimiser load into the other.
//! On other devices (GPU backends), for non-`f32` parameters, or with the CPU fast paths
//! switched off ([`highway_core::FAST_PATH_ENV`]), a step is Burn's `Adam`'s own: the readable
//! reference, which `fused_adam_equals_burns_adam` holds equal to the loop.

use burn::config::Config;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{Device, Tensor, TensorData};

use crate::host::f32_values;

/// Configuration of [`FusedAdam`]: the settings of Burn's [`AdamConfig`] it supports, with the
/// same defaults.
#[derive(Config, Debug)]
pub struct FusedAdamConfig {
    /// Decay of the first moment, `β₁`.
    #[config(default = 0.9)]
    pub beta_1: f32,
    /// Decay of the second moment, `β₂`.
    #[config(default = 0.999)]
    pub beta_2: f32,
    /// `ε`, added to `√v` (scaled by `√(1 − β₂ᵗ)`, as Burn does).
    #[config(default = 1e-5)]
    pub epsilon: f32,
    /// L2 weight decay `λ`, added to the gradient as `p·λ`.
    pub weight_decay: Option<WeightDecayConfig>,
}

impl FusedAdamConfig {
    /// The optimiser, for a `Learner` or a training loop.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// The per-parameter optimiser that [`init`](Self::init) wraps.
    pub fn build(&self) -> FusedAdam {
        let reference = AdamConfig::new()
            .with_beta_1(self.beta_1)
            .with_beta_2(self.beta_2)
            .with_epsilon(self.epsilon)
            .with_weight_decay(self.weight_decay.clone())
            .build();
        FusedAdam {
            config: self.clone(),
            reference,
        }
    }
}

/// Adam with one pass over each parameter on the CPU; see the [module docs](self).
#[derive(Clone)]
pub struct FusedAdam {
    config: FusedAdamConfig,
    /// Burn's `Adam` with the same settings: the step off the CPU.
    reference: Adam,
}

impl FusedAdam {
    /// Step `time` (1 for the first) of the loop over `p` (the parameter), `g` (its
    /// gradient), `m` and `v` (its moments; ignored at the first step, which sets them).
    fn update(
        &self,
        lr: f32,
        p: &mut [f32],
        g: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        time: usize,
    ) {
        let FusedAdamConfig {
            beta_1: b1,
            beta_2: b2,
            epsilon,
            ref weight_decay,
        } = self.config;
        let c2 = (1.0 - b2.powi(time as i32)).sqrt();
        let k = Coefficients {
            b1,
            b2,
            c: c2 / (1.0 - b1.powi(time as i32)),
            eps: epsilon * c2,
            lr,
            penalty: weight_decay.as_ref().map(|w| w.penalty),
            first: time == 1,
        };
        #[cfg(target_arch = "x86_64")]
        if highway_core::simd::avx2_fma() {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { update_avx2(&k, p, g, m, v) };
        }
        update_loop(&k, p, g, m, v)
    }
}

/// The scalars of one step.
struct Coefficients {
    b1: f32,
    b2: f32,
    /// `√(1 − β₂ᵗ) / (1 − β₁ᵗ)`.
    c: f32,
    /// `ε·√(1 − β₂ᵗ)`.
    eps: f32,
    lr: f32,
    penalty: Option<f32>,
    first: bool,
}

/// The loop of the [module docs](self), over every element.
#[inline(always)]
fn update_loop(k: &Coefficients, p: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32]) {
    if let Some(penalty) = k.penalty {
        for (g, p) in g.iter_mut().zip(p.iter()) {
            *g += *p * penalty;
        }
    }
    let (f1, f2) = (1.0 - k.b1, 1.0 - k.b2);
    for (((p, &g), m), v) in p.iter_mut().zip(g.iter()).zip(m).zip(v) {
        (*m, *v) = if k.first {
            (g * f1, (g * g) * f2)
        } else {
            (*m * k.b1 + g * f1, *v * k.b2 + (g * g) * f2)
        };
        *p -= (*m * k.c) / (v.sqrt() + k.eps) * k.lr;
    }
}

/// [`update_loop`] compiled for AVX2 (no FMA: every product and sum rounded as Burn's are).
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_avx2(
    k: &Coefficients,
    p: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    update_loop(k, p, g, m, v)
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        if !crate::host::on_host_path(&tensor) {
            return self.reference.step(lr, tensor, grad, state);
        }
        let shape = tensor.shape();
        let (mut p, mut g) = (tensor.into_data(), grad.into_data());
        let zeros = || TensorData::new(vec![0.0f32; shape.num_elements()], shape.clone());
        let (time, mut m, mut v) = match state {
            Some(AdamState { momentum }) => (
                momentum.time + 1,
                momentum.moment_1.into_data(),
                momentum.moment_2.into_data(),
            ),
            None => (1, zeros(), zeros()),
        };
        // Burn scales by the learning rate as a scalar of the tensor's type.
        let (pv, gv) = (f32_values(&mut p), f32_values(&mut g));
        self.update(
            lr as f32,
            pv,
            gv,
            f32_values(&mut m),
            f32_values(&mut v),
            time,
        );
        let momentum = AdaptiveMomentumState::new(
            time,
            Tensor::from_data(m, &device),
            Tensor::from_data(v, &device),
        );
        (
            Tensor::from_data(p, &device),
            Some(AdamState::new(momentum)),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;

    /// A tensor's values as bits (the fused optimisers' tests compare them).
    pub(in crate::train) fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
        t.into_data().iter::<f32>().map(f32::to_bits).collect()
    }

    /// `n` values of both signs over six decades, the same for the same `seed`, drawn on the
    /// host: the device's random stream is shared with the tests running beside this one.
    pub(in crate::train) fn numbers(seed: u64, n: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let unit = (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                unit * 10f32.powi(i as i32 % 7 - 3)
            })
            .collect()
    }

    /// A tensor with zeros, negative zeros and values of both signs and several magnitudes.
    fn values(seed: u64, device: &Device) -> Tensor<2> {
        let mut v = numbers(seed, 7 * 9);
        v[0] = 0.0;
        v[1] = -0.0;
        Tensor::from_data(TensorData::new(v, [7, 9]), device)
    }

    #[test]
    fn fused_adam_equals_burns_adam() {
        let device = Device::flex();
        assert!(highway_core::on_fast_path(&device), "the loop runs on flex");
        for decay in [None, Some(WeightDecayConfig::new(0.01))] {
            let config = FusedAdamConfig::new()
                .with_beta_2(0.99)
                .with_weight_decay(decay.clone());
            let fused = config.build();
            let burn = AdamConfig::new()
                .with_beta_2(0.99)
                .with_weight_decay(decay)
                .build();
            let (mut p_fused, mut p_burn) = (values(1, &device), values(1, &device));
            let (mut s_fused, mut s_burn) = (None, None);
            for step in 0..5 {
                let g = values(10 + step, &device);
                let lr = [1e-3, 0.5][step as usize % 2];
                (p_fused, s_fused) = fused.step(lr, p_fused, g.clone(), s_fused);
                (p_burn, s_burn) = burn.step(lr, p_burn, g, s_burn);
                assert_eq!(bits(p_fused.clone()), bits(p_burn.clone()), "step {step}");
                let (a, b) = (
                    &s_fused.as_ref().unwrap().momentum,
                    &s_burn.as_ref().unwrap().momentum,
                );
                assert_eq!(a.time, b.time);
                assert_eq!(bits(a.moment_1.clone()), bits(b.moment_1.clone()));
                assert_eq!(bits(a.moment_2.clone()), bits(b.moment_2.clone()));
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_build_of_the_loop_equals_the_baseline() {
        if !highway_core::simd::avx2_fma() {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let device = Device::flex();
        for first in [true, false] {
            let k = Coefficients {
                b1: 0.9,
                b2: 0.999,
                c: 0.7,
                eps: 1e-5,
                lr: 0.01,
                penalty: Some(0.1),
                first,
            };
            let run = |avx2: bool| {
                let [mut p, mut g, mut m, v] = [1, 2, 3, 4]
                    .map(|s| values(s, &device).into_data().try_to_vec::<f32>().unwrap());
                let mut v: Vec<f32> = v.into_iter().map(f32::abs).collect();
                if avx2 {
                    // SAFETY: checked above.
                    unsafe { update_avx2(&k, &mut p, &mut g, &mut m, &mut v) };
                } else {
                    update_loop(&k, &mut p, &mut g, &mut m, &mut v);
                }
                [p, g, m, v].map(|x| x.into_iter().map(f32::to_bits).collect::<Vec<_>>())
            };
            assert_eq!(run(true), run(false), "first step: {first}");
        }
    }

    fn grads(model: &Linear, seed: u64) -> GradientsParams {
        let device = model.weight.device();
        let x: Tensor<2> =
            Tensor::from_data(TensorData::new(numbers(seed, 5 * 6), [5, 6]), &device);
        GradientsParams::from_grads(model.forward(x).powi_scalar(2).sum().backward(), model)
    }

    #[test]
    fn a_model_trains_alike_and_the_state_loads_into_burns_adam() {
        let device = Device::flex().autodiff();
        device.seed(0);
        let start = LinearConfig::new(6, 4).init(&device);
        assert!(highway_core::on_fast_path(&device), "the loop runs on flex");
        let (mut fused, mut burn) = (FusedAdamConfig::new().init(), AdamConfig::new().init());
        let weights = |m: &Linear| bits(m.weight.val().inner());
        let initial = weights(&start);
        let (mut a, mut b) = (start.clone(), start);
        for seed in 1..4 {
            a = fused.step(1e-2, a.clone(), grads(&a, seed));
            b = burn.step(1e-2, b.clone(), grads(&b, seed));
        }
        assert_eq!(weights(&a), weights(&b));
        assert_ne!(weights(&a), initial, "the steps changed the weights");
        // Burn's `Adam` resumes from `FusedAdam`'s state, and the other way round.
        let mut burn_resumed = AdamConfig::new().init().load_record(fused.to_record());
        let mut fused_resumed = FusedAdamConfig::new().init().load_record(burn.to_record());
        let next = [
            fused.step(1e-2, a.clone(), grads(&a, 9)),
            burn_resumed.step(1e-2, a.clone(), grads(&a, 9)),
            fused_resumed.step(1e-2, b.clone(), grads(&b, 9)),
        ];
        assert_eq!(weights(&next[0]), weights(&next[1]));
        assert_eq!(weights(&next[0]), weights(&next[2]));
    }
}
