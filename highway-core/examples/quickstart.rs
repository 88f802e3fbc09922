//! The README's "use highway-core from your own Burn project" example, compiled by
//! `cargo test` (examples are built with the tests) and runnable with
//! `cargo run -p highway-core --example quickstart --features burn/flex`.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use highway_core::{HighwayConfig, HighwayStack};

/// A classifier with a 20-layer highway body.
#[derive(Module, Debug)]
struct Net {
    input: Linear,
    body: HighwayStack,
    output: Linear,
}

impl Net {
    fn new(device: &Device) -> Self {
        Self {
            input: LinearConfig::new(784, 64).init(device),
            // y = H(x)·T(x) + x·(1 − T(x)), T = σ(W_T x + b_T), b_T starts at −2.
            body: HighwayConfig::new(64)
                .with_transform_bias(-2.0)
                .init_stack(20, device),
            output: LinearConfig::new(64, 10).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.output
            .forward(self.body.forward(self.input.forward(x)))
    }
}

fn main() {
    let device = Device::default();
    let net = Net::new(&device);
    let x = Tensor::<2>::zeros([8, 784], &device);
    println!("logits: {:?}", net.forward(x.clone()).dims());
    // Gate activity per layer, and a lesion of layer 5 (its T forced to 0).
    let z = net.input.forward(x);
    let gates = net.body.forward_with_gates(z.clone(), None);
    println!("mean T per layer: {}", gates.gate_mean_per_layer().unwrap());
    let lesioned = net.body.forward_with_gates(z, Some(5));
    println!("output with layer 5 lesioned: {:?}", lesioned.output.dims());
    println!("{} parameters", net.num_params());
}
