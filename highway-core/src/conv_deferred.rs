//! A [`ConvHighwayStack`] trained outside autodiff on the CPU: the forward and backward of
//! every layer run on raw buffers (the [`conv_kernel`] module), and the stack meets
//! Burn's autodiff only at its two ends. The output is a graph leaf; after `loss.backward()`,
//! [`ConvStackTape::complete`] reads the leaf's gradient, back-propagates through the layers,
//! adds every kernel's and bias's gradient to the [`Gradients`], and sends `∂L/∂x` on into the
//! graph that computed the input with a second `backward`.
//!
//! ```text
//! let (y, tape) = stack.forward_deferred(x);   // x: [batch, d, h, w], tracked or not
//! let loss = head(y);                          // any Burn ops
//! let mut grads = loss.backward();
//! tape.complete(&stack, &model, &mut grads);   // the stack's and everything upstream
//! ```
//!
//! The fast path runs on the CPU backends (`flex`, `ndarray`) for layers whose `H` is ReLU or
//! tanh and whose transform gate is learned; elsewhere [`forward_deferred`](
//! ConvHighwayStack::forward_deferred) is the stack's ordinary forward under autodiff and the
//! tape is empty. Either way the values and gradients are the same (`tests/conv_fast_path.rs`).

use burn::module::Module;
use burn::nn::activation::Activation;
use burn::tensor::{Device, Gradients, Tensor, TensorData};

use crate::conv_kernel::{self, Act, Grid, LayerWeights, Saved};
use crate::grads::{Merge, accumulate};
use crate::{ConvHighway, ConvHighwayStack};

/// What [`ConvHighwayStack::forward_deferred`] recorded for the backward.
#[derive(Debug)]
pub struct ConvStackTape {
    recorded: Option<Recorded>,
}

#[derive(Debug)]
struct Recorded {
    grid: Grid,
    act: Act,
    weights: Vec<LayerWeights>,
    /// The padded input of every layer.
    inputs: Vec<Vec<f32>>,
    saved: Vec<Saved>,
    /// The stack's input, in the caller's graph.
    x: Tensor<4>,
    /// The stack's output: a graph leaf.
    y: Tensor<4>,
}

/// The fast path's activation for `layer`, if it has one.
fn fast_act(layer: &ConvHighway) -> Option<Act> {
    match layer.activation {
        Activation::Relu(_) => Some(Act::Relu),
        Activation::Tanh(_) => Some(Act::Tanh),
        _ => None,
    }
}

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor values")
}

fn bias_values(conv: &burn::nn::conv::Conv2d, d: usize) -> Vec<f32> {
    conv.bias
        .as_ref()
        .map_or(vec![0.0; d], |b| values(&b.val()))
}

impl ConvHighwayStack {
    /// The activation the fast path would compute for every layer, if it applies on `device`:
    /// a CPU backend, every layer ReLU (or every layer tanh), and a non-empty stack.
    pub fn fast_path(&self, device: &Device) -> Option<Act> {
        if !crate::is_cpu_device(device) || self.layers.is_empty() {
            return None;
        }
        let act = fast_act(&self.layers[0])?;
        let kernel = self.layers[0].h.kernel_size;
        self.layers
            .iter()
            .all(|l| fast_act(l) == Some(act) && l.h.kernel_size == kernel)
            .then_some(act)
    }

    /// Applies the stack as [`forward`](crate::LayerStack::forward) does, on the CPU fast path
    /// where it applies ([`fast_path`](Self::fast_path)); the output is then a graph leaf and
    /// the tape must be completed after `loss.backward()` ([`ConvStackTape::complete`]).
    /// Elsewhere the stack runs under autodiff as usual and the tape is empty.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_model, height, width]`
    /// - output: `[batch, d_model, height, width]`
    pub fn forward_deferred(&self, x: Tensor<4>) -> (Tensor<4>, ConvStackTape) {
        let device = x.device();
        let Some(act) = self.fast_path(&device) else {
            return (self.forward(x), ConvStackTape { recorded: None });
        };
        let [batch, channels, height, width] = x.dims();
        let kernel = self.layers[0].h.kernel_size[0];
        let grid = Grid {
            batch,
            height,
            width,
            channels,
            kernel,
        };
        let weights: Vec<LayerWeights> = self
            .layers
            .iter()
            .map(|l| {
                let convs: Vec<&burn::nn::conv::Conv2d> =
                    [&l.h, &l.t].into_iter().chain(&l.c).collect();
                let kernels: Vec<Vec<f32>> =
                    convs.iter().map(|c| values(&c.weight.val())).collect();
                let biases: Vec<Vec<f32>> =
                    convs.iter().map(|c| bias_values(c, channels)).collect();
                let k: Vec<&[f32]> = kernels.iter().map(|v| v.as_slice()).collect();
                let b: Vec<&[f32]> = biases.iter().map(|v| v.as_slice()).collect();
                LayerWeights::pack(&grid, &k, &b)
            })
            .collect();
        let mut inputs = vec![grid.pad_nchw(&values(&x))];
        let mut saved = Vec::with_capacity(weights.len());
        for w in &weights {
            let mut y = vec![0.0f32; grid.len()];
            saved.push(conv_kernel::forward(
                &grid,
                w,
                act,
                inputs.last().expect("input"),
                &mut y,
            ));
            inputs.push(y);
        }
        let out = inputs.pop().expect("the last layer's output");
        let shape = [batch, channels, height, width];
        let y = Tensor::<4>::from_data(TensorData::new(grid.unpad_nchw(&out), shape), &device);
        if !device.is_autodiff() {
            return (y, ConvStackTape { recorded: None });
        }
        let y = y.require_grad();
        let recorded = Recorded {
            grid,
            act,
            weights,
            inputs,
            saved,
            x,
            y: y.clone(),
        };
        (
            y,
            ConvStackTape {
                recorded: Some(recorded),
            },
        )
    }
}

impl ConvStackTape {
    /// Whether nothing was recorded (the ordinary forward ran, or no autodiff).
    pub fn is_empty(&self) -> bool {
        self.recorded.is_none()
    }

    /// Back-propagates through the recorded stack: reads the output's gradient from `grads`,
    /// adds the gradient of every kernel and bias of `stack`, and back-propagates `∂L/∂x` into
    /// whatever computed the input with a second `backward`, whose gradients of `model`'s
    /// parameters are added to `grads`. Call it once, after `loss.backward()`.
    ///
    /// `model` holds every parameter the stack's input depends on (the whole model, or `stack`
    /// itself for a leaf input). Returns the second `backward`'s gradients with `model`'s
    /// parameters moved out (those of other tracked tensors upstream, such as a leaf input);
    /// `None` when the tape is empty, the output got no gradient or nothing upstream is
    /// tracked.
    ///
    /// # Panics
    ///
    /// If `stack` is not the stack that recorded the tape.
    pub fn complete<M: Module>(
        self,
        stack: &ConvHighwayStack,
        model: &M,
        grads: &mut Gradients,
    ) -> Option<Gradients> {
        self.complete_after(stack, model, grads, None)
    }

    /// As [`complete`](Self::complete), for a stack whose output also reaches the loss
    /// through a later deferred stack: its gradient is read from `grads` and from `later`, the
    /// gradients that the later tape's `complete` returned.
    ///
    /// # Panics
    ///
    /// If `stack` is not the stack that recorded the tape.
    pub fn complete_after<M: Module>(
        self,
        stack: &ConvHighwayStack,
        model: &M,
        grads: &mut Gradients,
        later: Option<&mut Gradients>,
    ) -> Option<Gradients> {
        let r = self.recorded?;
        assert_eq!(
            stack.layers.len(),
            r.weights.len(),
            "the stack that recorded the tape"
        );
        let from_later = later.and_then(|g| r.y.grad_remove(g));
        let dy = match (r.y.grad_remove(grads), from_later) {
            (Some(a), Some(b)) => a + b,
            (a, b) => a.or(b)?,
        };
        let grid = r.grid;
        let mut d = grid.pad_nchw(&values(&dy));
        for (l, layer) in stack.layers.iter().enumerate().rev() {
            let (dx, g) =
                conv_kernel::backward(&grid, &r.weights[l], r.act, &r.inputs[l], &r.saved[l], &d);
            let convs: Vec<&burn::nn::conv::Conv2d> =
                [&layer.h, &layer.t].into_iter().chain(&layer.c).collect();
            for (gate, conv) in convs.into_iter().enumerate() {
                let w = conv.weight.val();
                let inner = w.clone().inner().device();
                let gw = Tensor::<4>::from_data(TensorData::new(g.kernel(gate), w.dims()), &inner);
                accumulate(&w, grads, gw);
                if let Some(b) = &conv.bias {
                    let b = b.val();
                    let gb =
                        Tensor::<1>::from_data(TensorData::new(g.bias(gate), b.dims()), &inner);
                    accumulate(&b, grads, gb);
                }
            }
            d = dx;
        }
        if !r.x.is_tracked() {
            return None;
        }
        let dims = r.x.dims();
        let dx = Tensor::<4>::from_data(TensorData::new(grid.unpad_nchw(&d), dims), &r.x.device());
        let mut input_grads = (r.x * dx).sum().backward();
        model.visit(&mut Merge {
            from: &mut input_grads,
            into: grads,
        });
        Some(input_grads)
    }
}
