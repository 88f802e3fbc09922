//! A stack whose parameters are still lazy (Burn initialises a parameter when it is first
//! read) gets the same initial values on the fast path however its threads are scheduled: the
//! fast path packs the layers' weights in parallel, and parameters initialised there would draw
//! from the device's random stream in whatever order the threads reach them. One test in its
//! own process, so that no other test draws from the shared stream meanwhile.

use burn::tensor::{Device, Tensor, TensorData};
use highway_core::HighwayConfig;

/// Every weight of a freshly initialised stack of 40 layers after one fast-path forward, with
/// the device seeded with `seed` first.
fn weights_after_one_forward(seed: u64) -> Vec<u32> {
    let device = Device::flex().autodiff();
    device.seed(seed);
    let (batch, d) = (16, 12);
    let stack = HighwayConfig::new(d).init_stack(40, &device);
    let x: Vec<f32> = (0..batch * d).map(|i| (i % 7) as f32 / 7.0 - 0.5).collect();
    let x = Tensor::<2>::from_data(TensorData::new(x, [batch, d]), &device);
    let (_, tape) = stack.forward_deferred(x);
    assert!(!tape.is_empty(), "the fast path ran");
    let mut bits = Vec::new();
    for layer in &stack.layers {
        for linear in [&layer.h, &layer.t] {
            let w = linear
                .weight
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            bits.extend(w.into_iter().map(f32::to_bits));
        }
    }
    bits
}

#[test]
fn lazy_parameters_get_the_same_values_on_every_run() {
    let first = weights_after_one_forward(3);
    for run in 1..8 {
        assert!(
            weights_after_one_forward(3) == first,
            "run {run} initialised the stack differently"
        );
    }
    assert!(weights_after_one_forward(4) != first, "the seed matters");
}
