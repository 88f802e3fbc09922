//! The dense highway stack's CPU fast path (`HighwayStack::forward_deferred`: the conv
//! kernel's 1×1 case on raw buffers, a hand-written backward) against the readable reference,
//! the stack's `forward` under Burn's autodiff: the output and the gradient of every weight,
//! every bias, the layer before the stack and the input agree, for coupled and free carry,
//! ReLU and tanh, batch 1, batches cut into several parts that end in a partial one, and
//! widths that are not multiples of 8.

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};
use highway_core::{CarryMode, HighwayConfig, HighwayStack, PlainConfig, PlainStack};

mod common;

use common::{assert_close, assert_thread_independent, check_against_autodiff, values};

/// A layer before the stack (so that `∂L/∂x` must flow on into parameters) and the stack.
#[derive(Module, Debug)]
struct Net {
    stem: Linear,
    stack: HighwayStack,
}

struct Case {
    carry: CarryMode,
    activation: ActivationConfig,
    fused: bool,
    batch: usize,
    width: usize,
    depth: usize,
}

fn check(case: &Case) {
    let device = Device::flex().autodiff();
    device.seed(13);
    let d = case.width;
    let net = Net {
        stem: LinearConfig::new(5, d).init(&device),
        stack: HighwayConfig::new(d)
            .with_carry(case.carry)
            .with_activation(case.activation.clone())
            .with_transform_bias(-1.0)
            .with_fused(case.fused)
            .init_stack(case.depth, &device),
    };
    let x = Tensor::<2>::random([case.batch, 5], Distribution::Normal(0.0, 1.0), &device)
        .require_grad();
    // L = Σ r·y with fixed random r: an arbitrary ∂L/∂y.
    let r = Tensor::<2>::random([case.batch, d], Distribution::Normal(0.0, 1.0), &device);

    let name = format!(
        "{:?} {:?} fused {} [{}, {d}]",
        case.carry, case.activation, case.fused, case.batch
    );
    let per_layer = if case.carry == CarryMode::Free { 6 } else { 4 };
    check_against_autodiff(
        &name,
        &net,
        2 + case.depth * per_layer,
        &net.stack,
        |x| net.stem.forward(x),
        &x,
        &r,
    );
}

#[test]
fn coupled_relu_at_the_depth_studys_width_and_batch_equals_autodiff() {
    // Batch 128: two parts of the batch, of 64 rows each.
    check(&Case {
        carry: CarryMode::Coupled,
        activation: ActivationConfig::Relu,
        fused: false,
        batch: 128,
        width: 50,
        depth: 6,
    });
}

#[test]
fn free_tanh_batch_1_equals_autodiff() {
    check(&Case {
        carry: CarryMode::Free,
        activation: ActivationConfig::Tanh,
        fused: false,
        batch: 1,
        width: 7,
        depth: 3,
    });
}

#[test]
fn partial_blocks_fused_layers_and_odd_widths_equal_autodiff() {
    for (carry, activation, batch, width) in [
        (CarryMode::Coupled, ActivationConfig::Tanh, 33, 13),
        (CarryMode::Free, ActivationConfig::Relu, 300, 3),
    ] {
        check(&Case {
            carry,
            activation,
            fused: true,
            batch,
            width,
            depth: 2,
        });
    }
}

#[test]
fn other_activations_and_devices_without_autodiff_take_the_ordinary_path() {
    let device = Device::flex().autodiff();
    let stack = HighwayConfig::new(4)
        .with_activation(ActivationConfig::Gelu)
        .init_stack(2, &device);
    let x = Tensor::<2>::random([3, 4], Distribution::Default, &device);
    let (y, tape) = stack.forward_deferred(x.clone());
    assert!(tape.is_empty());
    assert_close("gelu", &values(&stack.forward(x)), &values(&y));

    // An empty batch: the ordinary path.
    let relu = HighwayConfig::new(4).init_stack(2, &device);
    let (y, tape) = relu.forward_deferred(Tensor::<2>::zeros([0, 4], &device));
    assert!(tape.is_empty());
    assert_eq!(y.dims(), [0, 4]);

    // Without autodiff: the fast forward, no tape, the same values.
    let device = Device::flex();
    let stack = HighwayConfig::new(9).init_stack(3, &device);
    let x = Tensor::<2>::random([40, 9], Distribution::Default, &device);
    let (y, tape) = stack.forward_deferred(x.clone());
    assert!(tape.is_empty());
    assert_close("inference", &values(&stack.forward(x)), &values(&y));
}

#[test]
fn a_leaf_input_gets_its_gradient_in_the_returned_gradients() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let stack = HighwayConfig::new(6).init_stack(2, &device);
    let x = Tensor::<2>::random([4, 6], Distribution::Default, &device).require_grad();
    let reference = (stack.forward(x.clone()) * 3.0).sum().backward();
    let (y, tape) = stack.forward_deferred(x.clone());
    let mut grads = (y * 3.0).sum().backward();
    let upstream = tape.complete(&stack, &stack, &mut grads).expect("tracked");
    assert!(x.grad(&grads).is_none(), "not in the loss's gradients");
    assert_close(
        "leaf input",
        &values(&x.grad(&reference).unwrap()),
        &values(&x.grad(&upstream).unwrap()),
    );
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let stack = HighwayConfig::new(10).init_stack(3, &device);
    // Five parts of the batch: four of 64 rows and one of 44.
    let x = Tensor::<2>::random([300, 10], Distribution::Default, &device).require_grad();
    assert_thread_independent(&stack, &x);
}

/// A layer before a plain stack and the stack.
#[derive(Module, Debug)]
struct PlainNet {
    stem: Linear,
    stack: PlainStack,
}

#[test]
fn plain_stacks_equal_autodiff() {
    for (activation, batch, width) in [
        (ActivationConfig::Relu, 128, 71),
        (ActivationConfig::Tanh, 1, 5),
        (ActivationConfig::Relu, 70, 9),
    ] {
        let device = Device::flex().autodiff();
        device.seed(17);
        let depth = 3;
        let net = PlainNet {
            stem: LinearConfig::new(4, width).init(&device),
            stack: PlainConfig::new(width, width)
                .with_activation(activation.clone())
                .init_stack(depth, &device),
        };
        let x =
            Tensor::<2>::random([batch, 4], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let r = Tensor::<2>::random([batch, width], Distribution::Normal(0.0, 1.0), &device);
        check_against_autodiff(
            &format!("plain {activation:?} [{batch}, {width}]"),
            &net,
            2 + 2 * depth,
            &net.stack,
            |x| net.stem.forward(x),
            &x,
            &r,
        );
    }
    // A plain layer that changes the width keeps to the ordinary path.
    let device = Device::flex().autodiff();
    let stack = PlainConfig::new(6, 4).init_stack(1, &device);
    let x = Tensor::<2>::random([3, 6], Distribution::Default, &device);
    let (y, tape) = stack.forward_deferred(x.clone());
    assert!(tape.is_empty());
    assert_close("6 -> 4", &values(&stack.forward(x)), &values(&y));
}
