//! The conv highway stack's CPU fast path (`ConvHighwayStack::forward_deferred`, raw buffers
//! and a hand-written backward) against the readable reference, the stack's `forward` under
//! Burn's autodiff (`conv2d`): the output and the gradient of every kernel, every bias, the
//! layer before the stack and the input agree, for coupled and free carry, kernels 1, 3 and 5,
//! ReLU and tanh, odd image sizes, batch 1 and channel counts that are not multiples of 8.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::activation::ActivationConfig;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Distribution, Tensor};
use highway_core::{
    CarryMode, ConvHighwayConfig, ConvHighwayStack, ConvPlainConfig, ConvPlainStack,
};

/// A layer before the stack (so that `∂L/∂x` must flow on into parameters) and the stack.
#[derive(Module, Debug)]
struct Net {
    stem: Conv2d,
    stack: ConvHighwayStack,
}

mod common;

use common::{assert_close, assert_thread_independent, check_against_autodiff, values};

struct Case {
    carry: CarryMode,
    kernel: usize,
    activation: ActivationConfig,
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    depth: usize,
}

fn check(case: &Case) {
    let device = Device::flex().autodiff();
    device.seed(11);
    let c = case.channels;
    let net = Net {
        stem: Conv2dConfig::new([2, c], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(&device),
        stack: ConvHighwayConfig::new(c)
            .with_kernel_size(case.kernel)
            .with_carry(case.carry)
            .with_activation(case.activation.clone())
            .with_transform_bias(-1.0)
            .init_stack(case.depth, &device),
    };
    let shape = [case.batch, 2, case.height, case.width];
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
    let out_shape = [case.batch, c, case.height, case.width];
    // L = Σ r·y with fixed random r: an arbitrary ∂L/∂y.
    let r = Tensor::<4>::random(out_shape, Distribution::Normal(0.0, 1.0), &device);

    let name = format!(
        "{:?} k{} {:?} {:?}",
        case.carry, case.kernel, case.activation, out_shape
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
fn coupled_relu_3x3_equals_autodiff() {
    check(&Case {
        carry: CarryMode::Coupled,
        kernel: 3,
        activation: ActivationConfig::Relu,
        batch: 2,
        channels: 5,
        height: 7,
        width: 6,
        depth: 3,
    });
}

#[test]
fn free_tanh_5x5_batch_1_equals_autodiff() {
    check(&Case {
        carry: CarryMode::Free,
        kernel: 5,
        activation: ActivationConfig::Tanh,
        batch: 1,
        channels: 3,
        height: 5,
        width: 9,
        depth: 2,
    });
}

/// A 1×1 kernel: no padding, the windows read in place and the `∂x` product on the forward
/// matrix transposed.
#[test]
fn free_and_coupled_1x1_equal_autodiff() {
    for carry in [CarryMode::Free, CarryMode::Coupled] {
        check(&Case {
            carry,
            kernel: 1,
            activation: ActivationConfig::Relu,
            batch: 3,
            channels: 6,
            height: 5,
            width: 7,
            depth: 3,
        });
    }
}

#[test]
fn coupled_tanh_and_free_relu_with_12_channels_equal_autodiff() {
    for (carry, activation) in [
        (CarryMode::Coupled, ActivationConfig::Tanh),
        (CarryMode::Free, ActivationConfig::Relu),
    ] {
        check(&Case {
            carry,
            kernel: 3,
            activation,
            batch: 3,
            channels: 12,
            height: 11,
            width: 4,
            depth: 2,
        });
    }
}

#[test]
fn one_pixel_rows_and_a_kernel_wider_than_the_image_equal_autodiff() {
    check(&Case {
        carry: CarryMode::Coupled,
        kernel: 5,
        activation: ActivationConfig::Relu,
        batch: 2,
        channels: 1,
        height: 1,
        width: 3,
        depth: 2,
    });
}

#[test]
fn large_enough_for_many_blocks_equals_autodiff() {
    // 2·(20+2)·(19+2) = 924 positions: four blocks of 256.
    check(&Case {
        carry: CarryMode::Coupled,
        kernel: 3,
        activation: ActivationConfig::Relu,
        batch: 2,
        channels: 9,
        height: 20,
        width: 19,
        depth: 2,
    });
}

#[test]
fn other_activations_and_devices_without_autodiff_take_the_ordinary_path() {
    let device = Device::flex().autodiff();
    let stack = ConvHighwayConfig::new(3)
        .with_activation(ActivationConfig::Gelu)
        .init_stack(2, &device);
    let x = Tensor::<4>::random([1, 3, 4, 4], Distribution::Default, &device);
    let (y, tape) = stack.forward_deferred(x.clone());
    assert!(tape.is_empty());
    assert_close("gelu", &values(&stack.forward(x)), &values(&y));

    // Without autodiff: the fast forward, no tape, the same values.
    let device = Device::flex();
    let stack = ConvHighwayConfig::new(3).init_stack(2, &device);
    let x = Tensor::<4>::random([2, 3, 5, 4], Distribution::Default, &device);
    let (y, tape) = stack.forward_deferred(x.clone());
    assert!(tape.is_empty());
    assert_close("inference", &values(&stack.forward(x)), &values(&y));
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let stack = ConvHighwayConfig::new(6).init_stack(2, &device);
    let x = Tensor::<4>::random([3, 6, 17, 15], Distribution::Default, &device).require_grad();
    assert_thread_independent(&stack, &x);
}

/// A layer before a plain stack and the stack.
#[derive(Module, Debug)]
struct PlainNet {
    stem: Conv2d,
    stack: ConvPlainStack,
}

#[test]
fn plain_stacks_equal_autodiff() {
    for (activation, kernel, batch, channels, height, width) in [
        (ActivationConfig::Relu, 3, 2, 5, 7, 6),
        (ActivationConfig::Tanh, 5, 1, 3, 5, 9),
        (ActivationConfig::Relu, 1, 2, 4, 3, 5),
    ] {
        let device = Device::flex().autodiff();
        device.seed(19);
        let depth = 2;
        let net = PlainNet {
            stem: Conv2dConfig::new([2, channels], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(&device),
            stack: ConvPlainConfig::new([channels, channels])
                .with_kernel_size(kernel)
                .with_activation(activation.clone())
                .init_stack(depth, &device),
        };
        let shape = [batch, 2, height, width];
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
        let out_shape = [batch, channels, height, width];
        let r = Tensor::<4>::random(out_shape, Distribution::Normal(0.0, 1.0), &device);
        check_against_autodiff(
            &format!("plain {activation:?} k{kernel} {out_shape:?}"),
            &net,
            2 + 2 * depth,
            &net.stack,
            |x| net.stem.forward(x),
            &x,
            &r,
        );
    }
}
