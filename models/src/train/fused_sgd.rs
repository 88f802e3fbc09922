//! Plain stochastic gradient descent in the form of Burn's [`Sgd`] without momentum, with one
//! pass over each parameter on Burn's CPU backends: the optimiser of *Recurrent Highway
//! Networks* (Zilly et al. 2017, s5: SGD, the gradient's global norm clipped).
//!
//! Burn's `Sgd` updates a parameter with two tensor operations (`δ = g·lr`, then `p − δ`), each
//! a pass over the whole tensor on one thread. [`FusedSgd`] reads the parameter and its
//! gradient to the host (the buffers moved rather than copied where Burn's `flex` backend owns
//! them alone), updates them in one loop, split over rayon's threads for large tensors, and
//! hands the parameter back. Per element, in Burn's order of operations and rounding (no fused
//! multiply-add), so that both give the same bits:
//!
//! ```text
//! g ← p·λ + g          (weight decay λ, if set)
//! p ← p − g·lr
//! ```
//!
//! Its state is Burn's [`SgdState`] (without momentum), so checkpoints of either optimiser load
//! into the other. On other devices (GPU backends), for non-`f32` parameters, or with the CPU
//! fast paths switched off ([`highway_core::FAST_PATH_ENV`]), a step is Burn's `Sgd`'s own: the
//! readable reference, which `fused_sgd_equals_burns_sgd` holds equal to the loop. SGD with
//! momentum stays Burn's `Sgd` ([`OptimizerConfig`](super::OptimizerConfig)).

use burn::config::Config;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, Sgd, SgdConfig, SgdState};
use burn::tensor::{Device, Tensor};

use crate::host::f32_values;
use rayon::prelude::*;

/// Elements per piece of a parameter updated by one thread: tensors smaller than two pieces are
/// updated on the calling thread.
const PIECE: usize = 1 << 17;

/// Configuration of [`FusedSgd`]: plain SGD, optionally with L2 weight decay.
#[derive(Config, Debug)]
pub struct FusedSgdConfig {
    /// L2 weight decay `λ`, added to the gradient as `p·λ`.
    pub weight_decay: Option<WeightDecayConfig>,
}

impl FusedSgdConfig {
    /// The optimiser, for a `Learner` or a training loop.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// The per-parameter optimiser that [`init`](Self::init) wraps.
    pub fn build(&self) -> FusedSgd {
        FusedSgd {
            penalty: self.weight_decay.as_ref().map(|w| w.penalty),
            reference: SgdConfig::new()
                .with_weight_decay(self.weight_decay.clone())
                .build(),
        }
    }
}

/// Plain SGD with one pass over each parameter on the CPU; see the [module docs](self).
#[derive(Clone)]
pub struct FusedSgd {
    /// The weight decay `λ`.
    penalty: Option<f32>,
    /// Burn's `Sgd` with the same settings: the step off the CPU.
    reference: Sgd,
}

/// The loop of the [module docs](self) over one piece.
#[inline(always)]
fn update_loop(lr: f32, penalty: Option<f32>, p: &mut [f32], g: &[f32]) {
    match penalty {
        Some(penalty) => {
            for (p, &g) in p.iter_mut().zip(g) {
                *p -= (*p * penalty + g) * lr;
            }
        }
        None => {
            for (p, &g) in p.iter_mut().zip(g) {
                *p -= g * lr;
            }
        }
    }
}

/// [`update_loop`] compiled for AVX2 (no FMA: every product and sum rounded as Burn's are).
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_avx2(lr: f32, penalty: Option<f32>, p: &mut [f32], g: &[f32]) {
    update_loop(lr, penalty, p, g)
}

/// [`update_loop`] in its widest build for this CPU.
fn update_piece(lr: f32, penalty: Option<f32>, p: &mut [f32], g: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if highway_core::simd::avx2_fma() {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { update_avx2(lr, penalty, p, g) };
    }
    update_loop(lr, penalty, p, g)
}

impl FusedSgd {
    /// One step over `p` with gradient `g`: element by element, so the result does not depend
    /// on how the pieces are split over threads.
    fn update(&self, lr: f32, p: &mut [f32], g: &[f32]) {
        if p.len() < 2 * PIECE {
            return update_piece(lr, self.penalty, p, g);
        }
        p.par_chunks_mut(PIECE)
            .zip(g.par_chunks(PIECE))
            .for_each(|(p, g)| update_piece(lr, self.penalty, p, g));
    }
}

impl Optimizer for FusedSgd {
    type State<const D: usize> = SgdState<D>;

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
        let (mut p, mut g) = (tensor.into_data(), grad.into_data());
        // Burn scales by the learning rate as a scalar of the tensor's type.
        self.update(lr as f32, f32_values(&mut p), f32_values(&mut g));
        (Tensor::from_data(p, &device), Some(SgdState::new(None)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Sgd::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::fused_adam::tests::{bits, numbers};
    use burn::tensor::TensorData;

    fn values(seed: u64, shape: [usize; 2], device: &Device) -> Tensor<2> {
        let mut v = numbers(seed, shape[0] * shape[1]);
        v[0] = 0.0;
        v[1] = -0.0;
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    #[test]
    fn fused_sgd_equals_burns_sgd() {
        let device = Device::flex();
        assert!(highway_core::on_fast_path(&device), "the loop runs on flex");
        // A small tensor (one piece) and one split over threads (uneven last piece).
        for shape in [[7, 9], [3, 2 * PIECE / 3 + 5]] {
            for decay in [None, Some(WeightDecayConfig::new(0.01))] {
                let config = FusedSgdConfig::new().with_weight_decay(decay.clone());
                let fused = config.build();
                let burn = SgdConfig::new().with_weight_decay(decay).build();
                let (mut p_fused, mut p_burn) =
                    (values(1, shape, &device), values(1, shape, &device));
                let (mut s_fused, mut s_burn) = (None, None);
                for step in 0..4 {
                    let g = values(10 + step, shape, &device);
                    let lr = [1e-3, 0.7][step as usize % 2];
                    (p_fused, s_fused) = fused.step(lr, p_fused, g.clone(), s_fused);
                    (p_burn, s_burn) = burn.step(lr, p_burn, g, s_burn);
                    assert_eq!(
                        bits(p_fused.clone()),
                        bits(p_burn.clone()),
                        "{shape:?}, step {step}"
                    );
                    assert!(s_fused.as_ref().unwrap().momentum.is_none());
                    assert!(s_burn.as_ref().unwrap().momentum.is_none());
                }
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
        for penalty in [None, Some(0.1)] {
            let g = numbers(2, 1000);
            let mut a = numbers(1, 1000);
            let mut b = a.clone();
            update_loop(0.3, penalty, &mut a, &g);
            // SAFETY: checked above.
            unsafe { update_avx2(0.3, penalty, &mut b, &g) };
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(b), "weight decay {penalty:?}");
        }
    }

    #[test]
    fn the_loop_is_the_update_by_hand() {
        let mut p = vec![1.0f32, -2.0, 0.5];
        update_loop(0.5, None, &mut p, &[2.0, 4.0, -1.0]);
        assert_eq!(p, vec![0.0, -4.0, 1.0]);
        let mut p = vec![1.0f32, -2.0];
        // g ← p·0.5 + g = [2.5, 3.0]; p ← p − g·0.5.
        update_loop(0.5, Some(0.5), &mut p, &[2.0, 4.0]);
        assert_eq!(p, vec![-0.25, -3.5]);
    }
}
