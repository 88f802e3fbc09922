//! The optimiser step alone, for the net that `bench-highway --model mlp` trains (784 → 71, 50
//! highway layers of 71 units, → 10: 204 parameter tensors, 570,000 parameters): Burn's
//! `Adam` against [`models::train::FusedAdam`] on Burn's `flex` backend, each step given the
//! same gradients, the two alternating, the median of each. A diagnostic for `bench-highway`:
//! the optimiser's share of a training step. It also checks that both nets end with the same
//! weights, bit for bit. Then the same for one parameter of `[10000, 830]` (the size of
//! `ptb_sota`'s tied embedding and softmax weights), where the step is the arithmetic alone.
//!
//! ```text
//! cargo run --release -p experiments --example adam_step [steps]
//! ```

use std::time::{Duration, Instant};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Distribution, Tensor};
use models::train::FusedAdamConfig;
use models::{DeepMlp, DeepMlpConfig, LayerKind};

/// Every parameter's values as bits, and how many tensors hold them.
#[derive(Default)]
struct Bits(Vec<u32>, usize);

impl ModuleVisitor for Bits {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data();
        self.0.extend(data.iter::<f32>().map(f32::to_bits));
        self.1 += 1;
    }
}

fn bits(net: &DeepMlp) -> Bits {
    let mut bits = Bits::default();
    net.visit(&mut bits);
    bits
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .map_or(30, |s| s.parse().expect("steps"));
    let device = Device::flex().autodiff();
    device.seed(0);
    let model = DeepMlpConfig::new(784, 71, 51, 10, LayerKind::Highway).init(&device);
    let x = Tensor::<2>::random([128, 784], Distribution::Default, &device);
    let grads = |m: &DeepMlp| {
        let loss = m.forward(x.clone()).powi_scalar(2).mean();
        GradientsParams::from_grads(loss.backward(), m)
    };
    let optims: [(&str, ModuleOptimizer); 2] = [
        ("Burn's Adam", AdamConfig::new().init()),
        ("FusedAdam", FusedAdamConfig::new().init()),
    ];
    let mut runs = optims.map(|(name, optim)| (name, optim, model.clone(), Vec::new()));
    for step in 0..steps + 3 {
        for (_, optim, net, times) in &mut runs {
            let g = grads(net);
            let start = Instant::now();
            // The net moves into the step, as in training (no second reference to its
            // tensors).
            let owned = std::mem::replace(net, model.clone());
            *net = optim.step(1e-3, owned, g);
            device.sync().expect("device sync");
            if step >= 3 {
                times.push(start.elapsed());
            }
        }
    }
    println!(
        "{} parameters in {} tensors, {steps} steps after 3 untimed",
        model.num_params(),
        bits(&model).1
    );
    let same = bits(&runs[0].2).0 == bits(&runs[1].2).0;
    let [a, b] = runs.map(|(name, _, _, times)| (name, median(times)));
    for (name, ms) in [a, b] {
        println!("{name:12} median {ms:.3} ms per step");
    }
    println!(
        "ratio {:.2}x; the same weights after every step: {same}",
        a.1 / b.1
    );
    large(steps.min(10));
}

/// One `[10000, 830]` parameter, `steps` steps of each optimiser (alternating).
fn large(steps: usize) {
    let device = Device::flex();
    let shape = [10_000, 830];
    let start = Tensor::<2>::random(shape, Distribution::Default, &device);
    let (burn, fused) = (AdamConfig::new().build(), FusedAdamConfig::new().build());
    // `+ 0.0`: a tensor of its own, as a parameter is.
    let (mut a, mut b) = (start.clone() + 0.0, start + 0.0);
    let (mut state_a, mut state_b) = (None, None);
    let (mut times_a, mut times_b) = (Vec::new(), Vec::new());
    // Reading one value back waits for the step.
    let wait = |t: &Tensor<2>| t.clone().slice([0..1, 0..1]).into_data();
    for _ in 0..steps {
        let g = Tensor::<2>::random(shape, Distribution::Default, &device);
        let t = Instant::now();
        (a, state_a) = burn.step(1e-3, a, g.clone() + 0.0, state_a);
        wait(&a);
        times_a.push(t.elapsed());
        let t = Instant::now();
        (b, state_b) = fused.step(1e-3, b, g, state_b);
        wait(&b);
        times_b.push(t.elapsed());
    }
    let bits =
        |t: Tensor<2>| -> Vec<u32> { t.into_data().iter::<f32>().map(f32::to_bits).collect() };
    let same = bits(a) == bits(b);
    let (ms_a, ms_b) = (median(times_a), median(times_b));
    println!("one [10000, 830] parameter, {steps} steps:");
    println!("Burn's Adam  median {ms_a:.3} ms per step");
    println!("FusedAdam    median {ms_b:.3} ms per step");
    println!(
        "ratio {:.2}x; the same weights after every step: {same}",
        ms_a / ms_b
    );
}
