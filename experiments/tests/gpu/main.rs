//! The zoo on a GPU backend, checked against the CPU (`flex`). Compiled only with the `wgpu` or
//! the `cuda` feature; `.ci/run` runs it on wgpu through lavapipe (Mesa's Vulkan driver on the
//! CPU), `scripts/gpu-check.sh` on a real GPU.
//!
//! - One training step of every zoo model ([`DeepMlp`](models::DeepMlp),
//!   [`MnistConvNet`](models::MnistConvNet), [`CifarNet`](models::CifarNet),
//!   [`RhnLm`](models::RhnLm) on its hand-written backward through time and on autodiff,
//!   [`LstmLm`](models::LstmLm)), dropout on, from the same weights and masks on both devices:
//!   the same loss to [`steps::LOSS_TOLERANCE`] and every parameter's gradient to [`steps::GRAD_TOLERANCE`]
//!   of that parameter's largest gradient. The CPU fast paths are not taken on the GPU (they
//!   apply only on the CPU backends), so this checks Burn's own ops, fused and autotuned, against
//!   the CPU fast paths.
//! - A short MNIST run (the depth study's highway MLP) and a short Penn Treebank run (an RHN),
//!   both through burn-train's `Learner`, stopped after their first epoch and resumed in the
//!   same process (the MNIST run also from a checkpoint written while the run went on), and
//!   killed (SIGKILL) once a checkpoint is on disk and resumed by a new process, give the
//!   uninterrupted run's losses: to [`resume::RESUMED_TOLERANCE`] in one process, room for kernels
//!   that Burn chooses by timing, and to [`resume::KILLED_TOLERANCE`] after a kill, room for another
//!   process's kernel choices (most runs measure 0 for both on lavapipe; `-- --nocapture`
//!   prints the deviations). On wgpu a checkpoint written while training went on (Burn's
//!   checkpointer threads read the records late) once resumed 0.7-2.6% off the uninterrupted
//!   run; the training strategy now waits for its records
//!   (`models::train::CheckpointSet::wait_saved`). The CPU's runs resume bit for bit
//!   (`experiments/tests/lm_loop.rs`, `models/tests/train_loop.rs`).
//!
//! Its modules: [`steps`] (one training step against the CPU), [`resume`] (runs stopped or
//! killed and resumed), [`kernels`] (kernel launches per RHN window); here the device under test
//! and the checks of moving tensors and of the clipping.
//!
//! The device under test is `HIGHWAY_ZOO_GPU_TEST` (a `--device` value: `wgpu`, `wgpu:cpu`,
//! `cuda`, `cuda:1`), else `cuda` when compiled in, else `wgpu`. A device that does not answer
//! fails the tests under CI (`CI=true`) and skips them elsewhere, saying why.

#![cfg(any(feature = "wgpu-plain", feature = "cuda"))]

#[path = "../../../models/tests/common/mod.rs"]
mod common;
mod kernels;
mod resume;
mod steps;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use experiments::backend::parse_device;

/// The environment variable naming the device under test.
const DEVICE_ENV: &str = "HIGHWAY_ZOO_GPU_TEST";

/// The device under test (without autodiff), or `None` (skipped, outside CI) when it does not
/// answer.
fn gpu() -> Option<Device> {
    let name = std::env::var(DEVICE_ENV).ok().unwrap_or_else(|| {
        if cfg!(feature = "cuda") {
            "cuda"
        } else {
            "wgpu"
        }
        .into()
    });
    match parse_device(Some(&name)) {
        Ok(device) => Some(device),
        Err(e) if datasets::under_ci() => panic!("CI=true and the device under test fails: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {e} (set {DEVICE_ENV} to choose the device)");
            None
        }
    }
}

/// Every parameter's gradient, in visiting order, as plain numbers.
struct Collect<'a> {
    grads: &'a GradientsParams,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let g = self.grads.get::<D>(param.id).unwrap_or_else(|| {
            panic!(
                "parameter {} of shape {:?} has no gradient",
                param.id,
                param.shape()
            )
        });
        self.out
            .push(g.into_data().convert::<f32>().try_to_vec().unwrap());
    }
}

/// A copy of `model` on `device`, its weights drawn first (Burn draws parameters at first use:
/// two copies of an undrawn model would draw different weights).
fn copy_to<M: Module>(model: &M, device: &Device) -> M {
    highway_core::materialize(model);
    model.clone().fork(device)
}

fn collect<M: Module>(model: &M, grads: &GradientsParams) -> Vec<Vec<f32>> {
    let mut c = Collect {
        grads,
        out: Vec::new(),
    };
    model.visit(&mut c);
    c.out
}

/// A fresh temporary directory for `name`, unique to this process.
fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hz-gpu-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

/// The CPU device and the device under test, both with autodiff.
fn devices() -> Option<(Device, Device)> {
    Some((Device::flex().autodiff(), gpu()?.autodiff()))
}

/// A random tensor made on the CPU and moved, to check that moving keeps the values (the step
/// comparisons above rest on it).
#[test]
fn moving_a_tensor_to_the_gpu_keeps_its_values() {
    let Some((cpu, gpu)) = devices() else { return };
    let t = Tensor::<2>::random([5, 7], Distribution::Default, &cpu);
    let moved = t.clone().to_device(&gpu);
    assert_eq!(
        t.into_data().try_to_vec::<f32>().unwrap(),
        moved.into_data().try_to_vec::<f32>().unwrap()
    );
}

/// The clipping on the device gives the same norm and the same clipped gradients every time,
/// so that it adds no rounding of its own between two runs of the same steps. Burn's `sum()` of a whole tensor may add
/// with atomics on a GPU (in whatever order the threads arrive), so the norm must not use it.
#[test]
fn the_clipping_on_the_gpu_gives_the_same_bits_every_time() {
    use burn::nn::{Linear, LinearConfig};
    let Some(gpu) = gpu() else { return };
    let device = gpu.autodiff();
    let _rng = common::rng_lock();
    device.seed(3);
    let model: Linear = LinearConfig::new(700, 400).init(&device);
    let x = Tensor::<2>::random([16, 700], Distribution::Default, &device);
    let clipped = |max_norm: f64| {
        let loss = model.forward(x.clone()).powi_scalar(2).sum();
        let mut g = GradientsParams::from_grads(loss.backward(), &model);
        let norm = models::train::clip_global_norm_on_device(&model, &mut g, max_norm).unwrap();
        let mut bits = collect(&model, &g).concat();
        bits.push(norm.into_data().try_to_vec::<f32>().unwrap()[0]);
        bits.into_iter().map(f32::to_bits).collect::<Vec<_>>()
    };
    for max_norm in [1e-3, 0.0] {
        // The first call tunes the kernels it needs; the comparison starts after it.
        clipped(max_norm);
        let first = clipped(max_norm);
        for run in 1..20 {
            assert!(
                clipped(max_norm) == first,
                "max_norm {max_norm}, run {run}: other bits"
            );
        }
    }
}
