//! The end of an RHN training step alone: global-norm clipping to 10 and plain SGD, as `ptb`
//! and `bench-rhn` run them ([`models::train::clip_global_norm`], then
//! [`models::train::OptimizerConfig::Sgd`], which is [`models::train::FusedSgd`]), on the
//! parameters of `ptb_small` and `ptb_sota` with random gradients (their norm above 10, so
//! that every step scales them). Run it twice, the second time with `HIGHWAY_ZOO_FAST_PATH=off`,
//! for the readable reference: Burn's `Sgd` and the clipping through Burn's tensor operations.
//! Prints the median milliseconds of the clipping and of the whole end of the step.
//!
//! ```text
//! cargo run --release -p experiments --example sgd_step [steps]
//! HIGHWAY_ZOO_FAST_PATH=off cargo run --release -p experiments --example sgd_step [steps]
//! ```

use std::time::{Duration, Instant};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use models::RhnLmConfig;
use models::train::{OptimizerConfig, clip_global_norm};
use rhn::VariationalDropoutConfig;

/// Random gradients for every parameter, on the device without autodiff.
struct RandomGrads {
    grads: GradientsParams,
    device: Device,
}

impl ModuleVisitor for RandomGrads {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let shape = param.val().shape();
        let g = Tensor::<D>::random(shape, Distribution::Default, &self.device);
        self.grads.register(param.id, g);
    }
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .map_or(20, |s| s.parse().expect("steps"));
    let fast = highway_core::fast_path_enabled();
    println!(
        "CPU fast paths {}",
        if fast { "on" } else { "off (the reference)" }
    );
    let device = Device::flex().autodiff();
    device.seed(0);
    for (name, config) in [
        ("ptb_small", RhnLmConfig::ptb_small()),
        ("ptb_sota", RhnLmConfig::ptb_sota()),
    ] {
        let mut model = config
            .with_dropout(VariationalDropoutConfig::none())
            .init(&device);
        let mut optim = OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
        .init();
        let (mut clip, mut whole) = (Vec::new(), Vec::new());
        for step in 0..steps + 2 {
            let mut random = RandomGrads {
                grads: GradientsParams::new(),
                device: device.clone().without_autodiff(),
            };
            model.visit(&mut random);
            let mut grads = random.grads;
            device.sync().expect("device sync");
            let start = Instant::now();
            clip_global_norm(&model, &mut grads, 10.0);
            let clipped = start.elapsed();
            // The model moves into the step, as in training.
            model = optim.step(0.2, model, grads);
            device.sync().expect("device sync");
            if step >= 2 {
                clip.push(clipped);
                whole.push(start.elapsed());
            }
        }
        println!(
            "{name}: {} parameters; clipping {:.2} ms, clipping and SGD {:.2} ms (medians of {steps} \
             steps)",
            model.num_params(),
            median(clip),
            median(whole)
        );
    }
}
