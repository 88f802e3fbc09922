//! Stacks of highway or plain layers, with gate read-out and lesioning.
//!
//! *Training Very Deep Networks* (arXiv:1507.06228), s4: the transform-gate activity of every
//! layer, and the lesion that sets one layer's `T` to 0 (pure carry) at inference to see how
//! much the net relies on it. Greff, Srivastava & Schmidhuber, *Highway and Residual Networks
//! learn Unrolled Iterative Estimation* (arXiv:1612.07771): the output of every layer, to
//! measure how each refines the stack's estimate.

use std::ops::Range;

use burn::module::Module;
use burn::tensor::Tensor;

use crate::gate::GateOverride;
use crate::{ConvHighway, ConvPlain, Highway, Plain};

/// A layer that a [`LayerStack`] can chain on rank-`D` tensors.
pub trait StackLayer<const D: usize> {
    /// Applies the layer with the gate override; returns the output and, for gated layers, the
    /// transform gate `T(x)` it used.
    fn forward_layer(&self, x: Tensor<D>, gate: GateOverride) -> (Tensor<D>, Option<Tensor<D>>);
}

impl<const D: usize> StackLayer<D> for Highway {
    fn forward_layer(&self, x: Tensor<D>, gate: GateOverride) -> (Tensor<D>, Option<Tensor<D>>) {
        let out = self.forward_gated(x, gate);
        (out.output, Some(out.transform_gate))
    }
}

impl StackLayer<4> for ConvHighway {
    fn forward_layer(&self, x: Tensor<4>, gate: GateOverride) -> (Tensor<4>, Option<Tensor<4>>) {
        let out = self.forward_gated(x, gate);
        (out.output, Some(out.transform_gate))
    }
}

/// A plain layer behaves as a highway layer whose gate is always open: lesioning it (`T = 0`)
/// removes it, leaving its input unchanged.
impl<const D: usize> StackLayer<D> for Plain {
    fn forward_layer(&self, x: Tensor<D>, gate: GateOverride) -> (Tensor<D>, Option<Tensor<D>>) {
        match gate {
            GateOverride::Carry => (x, None),
            _ => (self.forward(x), None),
        }
    }
}

impl StackLayer<4> for ConvPlain {
    fn forward_layer(&self, x: Tensor<4>, gate: GateOverride) -> (Tensor<4>, Option<Tensor<4>>) {
        match gate {
            GateOverride::Carry => (x, None),
            _ => (self.forward(x), None),
        }
    }
}

/// A stack of `depth` layers of one kind, applied in order.
///
/// Created by `init_stack` on a layer config ([`HighwayConfig::init_stack`](crate::HighwayConfig::init_stack),
/// [`ConvHighwayConfig::init_stack`](crate::ConvHighwayConfig::init_stack), ...) or from any
/// list of layers with [`LayerStack::new`].
#[derive(Module, Debug)]
pub struct LayerStack<L> {
    /// The layers, input side first.
    pub layers: Vec<L>,
}

/// A stack of fully connected highway layers.
pub type HighwayStack = LayerStack<Highway>;
/// A stack of convolutional highway layers.
pub type ConvHighwayStack = LayerStack<ConvHighway>;
/// A stack of plain fully connected layers.
pub type PlainStack = LayerStack<Plain>;
/// A stack of plain convolutional layers.
pub type ConvPlainStack = LayerStack<ConvPlain>;

/// Everything [`LayerStack::forward_with_gates`] observed.
#[derive(Debug, Clone)]
pub struct StackOutput<const D: usize> {
    /// The stack's output.
    pub output: Tensor<D>,
    /// The output of every layer (the last equals `output`).
    pub layer_outputs: Vec<Tensor<D>>,
    /// The transform gate of every gated layer, input side first (empty for a plain stack).
    pub gates: Vec<Tensor<D>>,
}

/// Mean activity of each gate tensor over all its elements (examples, units, positions), as
/// one value per layer; `None` for no gates (a plain stack or net).
///
/// # Shapes
///
/// - `gates`: `depth` tensors `[batch, ...]`
/// - output: `[depth]`
pub fn gate_mean_per_layer<const D: usize>(gates: &[Tensor<D>]) -> Option<Tensor<1>> {
    if gates.is_empty() {
        return None;
    }
    Some(Tensor::cat(
        gates.iter().map(|g| g.clone().mean()).collect(),
        0,
    ))
}

/// Mean activity of each gate tensor for each example (over its units and, for conv layers,
/// positions); `None` for no gates.
///
/// # Shapes
///
/// - `gates`: `depth` tensors `[batch, ...]`
/// - output: `[batch, depth]`
pub fn gate_mean_per_example<const D: usize>(gates: &[Tensor<D>]) -> Option<Tensor<2>> {
    if gates.is_empty() {
        return None;
    }
    Some(Tensor::cat(
        gates
            .iter()
            .map(|g| g.clone().flatten::<2>(1, D - 1).mean_dim(1))
            .collect(),
        1,
    ))
}

impl<const D: usize> StackOutput<D> {
    /// Mean transform-gate activity of each layer over all examples and units
    /// ([`gate_mean_per_layer`]).
    ///
    /// # Shapes
    ///
    /// - output: `[depth]` (`[0]`-sized is not possible: a plain stack returns `None`)
    pub fn gate_mean_per_layer(&self) -> Option<Tensor<1>> {
        gate_mean_per_layer(&self.gates)
    }

    /// Mean transform-gate activity of each layer for each example (over its units and, for
    /// conv layers, positions; [`gate_mean_per_example`]).
    ///
    /// # Shapes
    ///
    /// - output: `[batch, depth]`
    pub fn gate_mean_per_example(&self) -> Option<Tensor<2>> {
        gate_mean_per_example(&self.gates)
    }
}

impl<L> LayerStack<L> {
    /// A stack of the given layers.
    pub fn new(layers: Vec<L>) -> Self {
        Self { layers }
    }

    /// Number of layers.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Applies every layer in order.
    ///
    /// # Shapes
    ///
    /// - input: the layers' input shape (`[..., d_model]` dense, `[batch, channels, h, w]` conv)
    /// - output: the same shape
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D>
    where
        L: StackLayer<D>,
    {
        self.layers.iter().fold(x, |x, layer| {
            layer.forward_layer(x, GateOverride::Learned).0
        })
    }

    /// Applies only the layers `range` (0-based, end exclusive) with their learned gates. The
    /// lesion of layer `k` on a stack whose clean layer outputs are known is
    /// `forward_range(input_of_k, k + 1..depth)`: the layers before `k` need not be recomputed.
    ///
    /// # Shapes
    ///
    /// - input and output: as [`LayerStack::forward`]
    ///
    /// # Panics
    ///
    /// If `range` reaches past the end of the stack.
    pub fn forward_range<const D: usize>(&self, x: Tensor<D>, range: Range<usize>) -> Tensor<D>
    where
        L: StackLayer<D>,
    {
        self.layers[range].iter().fold(x, |x, layer| {
            layer.forward_layer(x, GateOverride::Learned).0
        })
    }

    /// Applies the stack and records every layer's output and transform gate. With
    /// `lesion = Some(k)`, layer `k` (0-based) has its transform gate forced to 0 (pure carry),
    /// as in *Training Very Deep Networks* s4; the layers before `k` are unaffected.
    ///
    /// # Shapes
    ///
    /// - input: as [`LayerStack::forward`]
    /// - output, each layer output and each gate: the same shape
    ///
    /// # Panics
    ///
    /// If `lesion` names a layer past the end of the stack.
    pub fn forward_with_gates<const D: usize>(
        &self,
        x: Tensor<D>,
        lesion: Option<usize>,
    ) -> StackOutput<D>
    where
        L: StackLayer<D>,
    {
        if let Some(k) = lesion {
            assert!(
                k < self.layers.len(),
                "lesion index {k} is out of range for a stack of {} layers",
                self.layers.len()
            );
        }
        let mut layer_outputs = Vec::with_capacity(self.layers.len());
        let mut gates = Vec::new();
        let mut x = x;
        for (i, layer) in self.layers.iter().enumerate() {
            let gate = if lesion == Some(i) {
                GateOverride::Carry
            } else {
                GateOverride::Learned
            };
            let (y, t) = layer.forward_layer(x, gate);
            gates.extend(t);
            layer_outputs.push(y.clone());
            x = y;
        }
        StackOutput {
            output: x,
            layer_outputs,
            gates,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::test_util::{assert_close, device};
    use crate::{ConvHighwayConfig, ConvPlainConfig, HighwayConfig, PlainConfig};
    use burn::tensor::{Distribution, Tensor};

    fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn forward_equals_forward_with_gates_and_layerwise_application() {
        let device = device();
        let stack = HighwayConfig::new(6).init_stack(4, &device);
        let x = Tensor::<2>::random([3, 6], Distribution::Default, &device);
        let out = stack.forward_with_gates(x.clone(), None);
        let manual = stack.layers.iter().fold(x.clone(), |x, l| l.forward(x));
        assert_close(&out.output, &values(&manual), 1e-6);
        assert_close(&stack.forward(x), &values(&manual), 1e-6);
        assert_eq!(out.gates.len(), 4);
        assert_eq!(out.layer_outputs.len(), 4);
        // Means: per layer [4]; per example [3, 4], whose column means are the layer means.
        let per_layer = out.gate_mean_per_layer().unwrap();
        let per_example = out.gate_mean_per_example().unwrap();
        assert_eq!(per_example.dims(), [3, 4]);
        assert_close(
            &per_example.mean_dim(0).reshape([4]),
            &values(&per_layer),
            1e-6,
        );
        // Gates start near σ(−2) = 0.119 (Xavier weights move them a little).
        for m in values(&per_layer) {
            assert!((0.02..0.3).contains(&m), "initial gate mean {m}");
        }
    }

    #[test]
    fn lesioning_layer_k_changes_only_what_follows_it() {
        let device = device();
        let stack = HighwayConfig::new(5)
            .with_transform_bias(0.0)
            .init_stack(5, &device);
        let x = Tensor::<2>::random([2, 5], Distribution::Default, &device);
        let clean = stack.forward_with_gates(x.clone(), None);
        let k = 2;
        let lesioned = stack.forward_with_gates(x, Some(k));
        for i in 0..k {
            assert_close(
                &lesioned.layer_outputs[i],
                &values(&clean.layer_outputs[i]),
                0.0,
            );
        }
        // Layer k passes its input through and its gate reads 0 ...
        assert_close(
            &lesioned.layer_outputs[k],
            &values(&clean.layer_outputs[k - 1]),
            0.0,
        );
        assert_close(&lesioned.gates[k], &[0.0; 10], 0.0);
        // ... and everything after it changes.
        for i in k..5 {
            let a = values(&lesioned.layer_outputs[i]);
            let b = values(&clean.layer_outputs[i]);
            assert!(
                a.iter().zip(&b).any(|(a, b)| (a - b).abs() > 1e-4),
                "layer {i}"
            );
        }
    }

    #[test]
    fn lesion_from_cached_prefix_equals_full_lesioned_pass() {
        let device = device();
        let stack = HighwayConfig::new(4)
            .with_transform_bias(0.0)
            .init_stack(4, &device);
        let x = Tensor::<2>::random([3, 4], Distribution::Default, &device);
        let clean = stack.forward_with_gates(x.clone(), None);
        for k in 0..4 {
            let input = if k == 0 {
                x.clone()
            } else {
                clean.layer_outputs[k - 1].clone()
            };
            let fast = stack.forward_range(input, k + 1..4);
            let full = stack.forward_with_gates(x.clone(), Some(k)).output;
            assert_close(&fast, &values(&full), 1e-6);
        }
        // The empty range is the identity; the full range is the stack.
        assert_close(&stack.forward_range(x.clone(), 0..0), &values(&x), 0.0);
        assert_close(
            &stack.forward_range(x.clone(), 0..4),
            &values(&clean.output),
            1e-6,
        );
    }

    #[test]
    fn conv_stacks_and_plain_stacks_share_the_interface() {
        let device = device();
        let x = Tensor::<4>::random([2, 3, 5, 5], Distribution::Default, &device);
        let conv = ConvHighwayConfig::new(3).init_stack(3, &device);
        let out = conv.forward_with_gates(x.clone(), Some(1));
        assert_eq!(out.gates.len(), 3);
        assert_eq!(out.gate_mean_per_example().unwrap().dims(), [2, 3]);
        assert_eq!(out.output.dims(), [2, 3, 5, 5]);

        let plain = ConvPlainConfig::new([3, 3]).init_stack(3, &device);
        let out = plain.forward_with_gates(x.clone(), Some(0));
        assert!(out.gates.is_empty() && out.gate_mean_per_layer().is_none());
        // A lesioned plain layer is skipped: with layer 0 removed the stack is layers 1..3.
        let rest = plain.layers[1..].iter().fold(x, |x, l| l.forward(x));
        assert_close(&out.output, &values(&rest), 1e-6);

        let dense = PlainConfig::new(4, 4).init_stack(2, &device);
        let y = dense.forward(Tensor::<3>::ones([2, 2, 4], &device));
        assert_eq!(y.dims(), [2, 2, 4]);
    }

    #[test]
    #[should_panic(expected = "lesion index 3 is out of range for a stack of 3 layers")]
    fn lesion_out_of_range_is_a_clear_error() {
        let device = device();
        let stack = HighwayConfig::new(2).init_stack(3, &device);
        stack.forward_with_gates(Tensor::<2>::ones([1, 2], &device), Some(3));
    }
}
