#![warn(missing_docs)]
//! # highway-core
//!
//! Highway layers for [Burn](https://burn.dev), after Srivastava, Greff & Schmidhuber,
//! *Highway Networks* (arXiv:1505.00387) and *Training Very Deep Networks* (arXiv:1507.06228):
//!
//! ```text
//! y = H(x)·T(x) + x·C(x),   T(x) = σ(W_T x + b_T),   C = 1 − T
//! ```
//!
//! - [`Highway`] (dense, any rank, features last) and [`ConvHighway`] (2-D, same padding);
//! - [`Plain`] and [`ConvPlain`], the ungated baselines;
//! - [`LayerStack`] ([`HighwayStack`], [`ConvHighwayStack`], [`PlainStack`],
//!   [`ConvPlainStack`]) with per-layer gate read-out and lesioning;
//! - a CPU fast path for training dense and conv stacks, highway or plain
//!   ([`LayerStack::forward_deferred`], [`conv_kernel`]): forward and backward on raw
//!   buffers, equal to the stack's `forward` under autodiff, the buffers kept from one step
//!   for the next ([`buffers`]; [`buffers::release`] frees them);
//! - [`mask_stream`]: dropout masks from a seed, and a per-thread stream of them
//!   ([`with_mask_seed`]) for data parallelism that gives the same masks in any thread order;
//! - `gradcheck` (feature `gradcheck`): finite-difference gradient checks for any module.
//!
//! ```
//! use burn::prelude::*;
//! use highway_core::{HighwayConfig, CarryMode};
//!
//! let device = Device::default();
//! // A 10-layer stack of 50-unit highway layers, gate bias −2, as in the papers.
//! let stack = HighwayConfig::new(50)
//!     .with_transform_bias(-2.0)
//!     .with_carry(CarryMode::Coupled)
//!     .init_stack(10, &device);
//! let x = Tensor::<2>::zeros([32, 50], &device);
//! let out = stack.forward_with_gates(x, None);
//! assert_eq!(out.output.dims(), [32, 50]);
//! assert_eq!(out.gate_mean_per_layer().unwrap().dims(), [10]);
//! ```

pub mod buffers;
pub mod conv;
pub mod conv_kernel;
#[cfg(feature = "autodiff")]
pub mod deferred;
pub mod dense;
pub mod fast_exp;
pub mod fast_tanh;
pub mod gate;
#[cfg(any(test, feature = "gradcheck"))]
pub mod gradcheck;
#[cfg(feature = "autodiff")]
pub mod grads;
pub mod host;
pub mod mask_stream;
pub mod plain;
pub mod simd;
pub mod stack;
pub mod thin;

pub use conv::{ConvHighway, ConvHighwayConfig};
#[cfg(feature = "autodiff")]
pub use deferred::{ConvStackTape, DeferredLayer, DenseStackTape, StackTape};
pub use dense::{Highway, HighwayConfig};
pub use gate::{CarryMode, GateOverride, GatedOutput, highway_combine};
pub use mask_stream::{keep_mask, next_mask_seed, with_mask_seed};
pub use plain::{ConvPlain, ConvPlainConfig, Plain, PlainConfig};
pub use stack::{
    ConvHighwayStack, ConvPlainStack, HighwayStack, LayerStack, PlainStack, StackLayer, StackOutput,
};

/// Whether `device` is one of Burn's CPU backends (`flex`, `ndarray`), where the hand-written
/// fast paths (this crate's conv stacks, `rhn`'s recurrence partitions) apply. Burn 0.22 names
/// the backend only in the device's `Debug` text, which this reads.
pub fn is_cpu_device(device: &burn::tensor::Device) -> bool {
    let name = format!("{device:?}");
    name.contains("Flex") || name.contains("NdArray")
}

/// The environment variable that switches the CPU fast paths off: `HIGHWAY_ZOO_FAST_PATH=off`
/// (or `0`, `false`). [`LayerStack::forward_deferred`] then runs the stack under autodiff,
/// through Burn's own ops, and `models`' softmax loss runs through Burn's tensor ops. Read
/// once, at the first use.
pub const FAST_PATH_ENV: &str = "HIGHWAY_ZOO_FAST_PATH";

/// Whether the highway stacks' CPU fast path is switched on: unless [`FAST_PATH_ENV`] says
/// `off`, `0` or `false`.
pub fn fast_path_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| switched_on(std::env::var(FAST_PATH_ENV).ok().as_deref()))
}

/// Whether the CPU fast paths run on `device`: a CPU backend ([`is_cpu_device`]) and the
/// switch on ([`fast_path_enabled`]).
pub fn on_fast_path(device: &burn::tensor::Device) -> bool {
    is_cpu_device(device) && fast_path_enabled()
}

/// Draws every parameter of `module` that Burn has not initialised yet, now and in the
/// module's order. Burn initialises a parameter at its first read, from the device's random
/// stream: left to later, the draws would interleave with whatever else takes from that stream
/// (dropout masks), or happen in whatever order threads reach them, and two clones of an
/// undrawn module would draw different weights.
pub fn materialize<M: burn::module::Module>(module: &M) {
    struct Touch;
    impl burn::module::ModuleVisitor for Touch {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}

/// The value of [`FAST_PATH_ENV`] read as a switch: on unless `off`, `0` or `false`.
fn switched_on(value: Option<&str>) -> bool {
    value.is_none_or(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false"
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fast_path_switch_is_on_unless_it_says_off() {
        for (value, on) in [
            (None, true),
            (Some("on"), true),
            (Some("1"), true),
            (Some(""), true),
            (Some("off"), false),
            (Some(" OFF "), false),
            (Some("0"), false),
            (Some("false"), false),
        ] {
            assert_eq!(super::switched_on(value), on, "{value:?}");
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use burn::module::Param;
    use burn::tensor::{Device, Tensor};

    pub fn device() -> Device {
        Device::flex()
    }

    pub fn autodiff_device() -> Device {
        Device::flex().autodiff()
    }

    pub fn tensor2<const N: usize, const M: usize>(rows: [[f32; M]; N]) -> Tensor<2> {
        Tensor::<2>::from_floats(rows, &device())
    }

    /// Sets a 2-in 2-out `Linear` to `x·W + b`.
    pub fn set_linear(layer: &mut burn::nn::Linear, w: [[f32; 2]; 2], b: [f32; 2]) {
        let device = device();
        layer.weight = Param::from_tensor(Tensor::<2>::from_floats(w, &device));
        layer.bias = Some(Param::from_tensor(Tensor::<1>::from_floats(b, &device)));
    }

    pub fn assert_close<const D: usize>(actual: &Tensor<D>, expected: &[f32], tol: f32) {
        let actual = actual.to_data().try_to_vec::<f32>().unwrap();
        assert_eq!(actual.len(), expected.len(), "length");
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (a - e).abs() <= tol,
                "element {i}: {a} vs expected {e} (tol {tol})\nactual {actual:?}"
            );
        }
    }

    pub fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "highway-core-test-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
