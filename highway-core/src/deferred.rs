//! Highway and plain stacks trained outside autodiff on the CPU: the forward and backward of every layer
//! run on raw buffers (the [`conv_kernel`] module; a dense layer is its 1×1 case), and the
//! stack meets Burn's autodiff only at its two ends. The output is a graph leaf; after
//! `loss.backward()`, [`StackTape::complete`] reads the leaf's gradient, back-propagates
//! through the layers, adds every weight's and bias's gradient to the [`Gradients`], and sends
//! `∂L/∂x` on into the graph that computed the input with a second `backward`.
//!
//! ```text
//! let (y, tape) = stack.forward_deferred(x);   // x: [batch, d] (dense) or [batch, d, h, w]
//! let loss = head(y);                          // any Burn ops
//! let mut grads = loss.backward();
//! tape.complete(&stack, &model, &mut grads);   // the stack's and everything upstream
//! ```
//!
//! The fast path runs on the CPU backends (`flex`, `ndarray`) for layers whose `H` is ReLU or
//! tanh (plain layers as wide as their input); elsewhere `forward_deferred` is the stack's
//! ordinary forward under autodiff and the tape is empty. Either way the values and gradients
//! are the same (`tests/conv_fast_path.rs`, `tests/dense_fast_path.rs`).

use crate::host::HostValues;
use burn::module::Module;
use burn::nn::activation::Activation;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use rayon::prelude::*;

use crate::conv_kernel::{self, Act, Grid, LayerGradients, LayerWeights, Saved};
use crate::grads::{Merge, accumulate};
use crate::stack::StackLayer;
use crate::{ConvHighway, ConvPlain, Highway, LayerStack, Plain};

/// A layer that the fast path can compute on rank-`D` inputs: [`Highway`] and [`Plain`] on
/// `[batch, d]`, [`ConvHighway`] and [`ConvPlain`] on `[batch, d, h, w]` (a plain layer as
/// wide as its input).
pub trait DeferredLayer<const D: usize>: StackLayer<D> + Module + Sync {
    /// The fast path's activation for this layer, if it has one.
    fn fast_act(&self) -> Option<Act>;

    /// The raw-buffer layout of an input of shape `dims` (the same for every layer of a stack
    /// that [`LayerStack::fast_path`] accepts).
    fn grid(&self, dims: [usize; D]) -> Grid;

    /// The layer's weights, packed for `grid`.
    fn pack(&self, grid: &Grid) -> LayerWeights;

    /// The layer's weight and bias gradients `g` as values in Burn's layouts, one `Vec` per
    /// parameter, in the order [`add_gradients`](Self::add_gradients) takes them.
    fn gradient_values(&self, g: &LayerGradients) -> Vec<Vec<f32>>;

    /// Adds the layer's weight and bias gradients, as [`gradient_values`](Self::gradient_values)
    /// gives them, to `grads`.
    fn add_gradients(&self, values: Vec<Vec<f32>>, grads: &mut Gradients);
}

/// What [`LayerStack::forward_deferred`] recorded for the backward.
#[derive(Debug)]
pub struct StackTape<const D: usize> {
    recorded: Option<Recorded<D>>,
}

/// The tape of a [`ConvHighwayStack`](crate::ConvHighwayStack).
pub type ConvStackTape = StackTape<4>;

/// The tape of a dense [`HighwayStack`](crate::HighwayStack).
pub type DenseStackTape = StackTape<2>;

#[derive(Debug)]
struct Recorded<const D: usize> {
    act: Act,
    weights: Vec<LayerWeights>,
    /// The batch's parts ([`Grid::parts`]), each with what its backward needs.
    parts: Vec<Part>,
    /// The stack's input, in the caller's graph.
    x: Tensor<D>,
    /// The stack's output: a graph leaf.
    y: Tensor<D>,
}

/// One part of the batch through the whole stack.
#[derive(Debug)]
struct Part {
    /// Its first image.
    first: usize,
    grid: Grid,
    /// The padded input of every layer.
    inputs: Vec<Vec<f32>>,
    saved: Vec<Saved>,
}

impl Part {
    /// Runs images `first..first + grid.batch` of `x` (NCHW values) through every layer.
    fn forward(first: usize, grid: Grid, weights: &[LayerWeights], act: Act, x: &[f32]) -> Self {
        let n = grid.image_len();
        let mut inputs = vec![grid.pad_nchw(&x[first * n..(first + grid.batch) * n])];
        let mut saved = Vec::with_capacity(weights.len());
        for w in weights {
            // A 1×1 kernel's grid has no padding: the layer writes every value of `y`.
            let mut y = match grid.kernel {
                1 => crate::buffers::for_overwrite(grid.len()),
                _ => crate::buffers::zeroed(grid.len()),
            };
            saved.push(conv_kernel::forward(
                &grid,
                w,
                act,
                inputs.last().expect("input"),
                &mut y,
            ));
            inputs.push(y);
        }
        Self {
            first,
            grid,
            inputs,
            saved,
        }
    }

    /// From the stack's `∂L/∂y` (NCHW values of the whole batch), this part's `∂L/∂x` (NCHW)
    /// and every layer's gradients on it, input side first; the part's buffers go back to the
    /// pool ([`buffers`](crate::buffers)).
    fn backward(
        self,
        weights: &[LayerWeights],
        act: Act,
        dy: &[f32],
    ) -> (Vec<f32>, Vec<LayerGradients>) {
        let (grid, n) = (&self.grid, self.grid.image_len());
        let mut d = grid.pad_nchw(&dy[self.first * n..(self.first + grid.batch) * n]);
        let mut grads = Vec::with_capacity(weights.len());
        for (l, w) in weights.iter().enumerate().rev() {
            let (dx, g) = conv_kernel::backward(grid, w, act, &self.inputs[l], &self.saved[l], &d);
            grads.push(g);
            crate::buffers::recycle(std::mem::replace(&mut d, dx));
        }
        grads.reverse();
        let dx = grid.unpad_nchw(&d);
        crate::buffers::recycle(d);
        self.inputs.into_iter().for_each(crate::buffers::recycle);
        self.saved.into_iter().for_each(Saved::recycle);
        (dx, grads)
    }
}

fn act_of(activation: &Activation) -> Option<Act> {
    match activation {
        Activation::Relu(_) => Some(Act::Relu),
        Activation::Tanh(_) => Some(Act::Tanh),
        _ => None,
    }
}

/// Adds `values` (of `param`'s shape) to `param`'s gradient in `grads`.
fn add_gradient<const D: usize>(param: &Tensor<D>, values: Vec<f32>, grads: &mut Gradients) {
    let inner = param.clone().inner().device();
    let g = Tensor::<D>::from_data(TensorData::new(values, param.dims()), &inner);
    accumulate(param, grads, g);
}

/// The bias of `layer` (zeros without one) as values.
fn bias_values(bias: Option<&burn::module::Param<Tensor<1>>>, d: usize) -> Vec<f32> {
    bias.map_or_else(|| vec![0.0; d], |b| HostValues::read(&b.val()).to_vec())
}

/// The `Linear` maps of `H`, `T` (and `C`) packed for a dense grid.
fn pack_linears(grid: &Grid, linears: &[&burn::nn::Linear]) -> LayerWeights {
    let weights: Vec<HostValues> = linears
        .iter()
        .map(|l| HostValues::read(&l.weight.val()))
        .collect();
    let biases: Vec<Vec<f32>> = linears
        .iter()
        .map(|l| bias_values(l.bias.as_ref(), grid.channels))
        .collect();
    let w: Vec<&[f32]> = weights.iter().map(|v| &v[..]).collect();
    let b: Vec<&[f32]> = biases.iter().map(|v| v.as_slice()).collect();
    LayerWeights::pack_dense(grid, &w, &b)
}

/// The convolutions of `H`, `T` (and `C`) packed for `grid`.
fn pack_convs(grid: &Grid, convs: &[&Conv2d]) -> LayerWeights {
    let kernels: Vec<HostValues> = convs
        .iter()
        .map(|c| HostValues::read(&c.weight.val()))
        .collect();
    let biases: Vec<Vec<f32>> = convs
        .iter()
        .map(|c| bias_values(c.bias.as_ref(), grid.channels))
        .collect();
    let k: Vec<&[f32]> = kernels.iter().map(|v| &v[..]).collect();
    let b: Vec<&[f32]> = biases.iter().map(|v| v.as_slice()).collect();
    LayerWeights::pack(grid, &k, &b)
}

/// The gradients `g` of the `Linear` maps of `H`, `T` (and `C`): each map's weight, then its
/// bias where it has one.
fn linear_gradient_values(linears: &[&burn::nn::Linear], g: &LayerGradients) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(2 * linears.len());
    for (gate, linear) in linears.iter().enumerate() {
        out.push(g.linear(gate));
        if linear.bias.is_some() {
            out.push(g.bias(gate));
        }
    }
    out
}

/// The gradients `g` of the convolutions of `H`, `T` (and `C`): each kernel, then its bias
/// where it has one.
fn conv_gradient_values(convs: &[&Conv2d], g: &LayerGradients) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(2 * convs.len());
    for (gate, conv) in convs.iter().enumerate() {
        out.push(g.kernel(gate));
        if conv.bias.is_some() {
            out.push(g.bias(gate));
        }
    }
    out
}

/// Adds gradient `values` (weight, then bias where there is one, of each of `params`) to
/// `grads`.
fn add_gradients<const D: usize>(
    params: impl Iterator<Item = (Tensor<D>, Option<Tensor<1>>)>,
    values: Vec<Vec<f32>>,
    grads: &mut Gradients,
) {
    let mut values = values.into_iter();
    let mut next = || values.next().expect("a gradient for every parameter");
    for (weight, bias) in params {
        add_gradient(&weight, next(), grads);
        if let Some(b) = bias {
            add_gradient(&b, next(), grads);
        }
    }
}

/// Adds gradient `values` to the weights and biases of `linears`.
fn add_linear_gradients(
    linears: &[&burn::nn::Linear],
    values: Vec<Vec<f32>>,
    grads: &mut Gradients,
) {
    let params = linears
        .iter()
        .map(|l| (l.weight.val(), l.bias.as_ref().map(|b| b.val())));
    add_gradients(params, values, grads);
}

/// Adds gradient `values` to the kernels and biases of `convs`.
fn add_conv_gradients(convs: &[&Conv2d], values: Vec<Vec<f32>>, grads: &mut Gradients) {
    let params = convs
        .iter()
        .map(|c| (c.weight.val(), c.bias.as_ref().map(|b| b.val())));
    add_gradients(params, values, grads);
}

/// A conv layer's grid: NCHW input, the kernel's side.
fn conv_grid([batch, channels, height, width]: [usize; 4], conv: &Conv2d) -> Grid {
    Grid {
        batch,
        height,
        width,
        channels,
        kernel: conv.kernel_size[0],
    }
}

impl Highway {
    fn linears(&self) -> Vec<&burn::nn::Linear> {
        [&self.h, &self.t].into_iter().chain(&self.c).collect()
    }
}

impl ConvHighway {
    fn convs(&self) -> Vec<&Conv2d> {
        [&self.h, &self.t].into_iter().chain(&self.c).collect()
    }
}

impl DeferredLayer<2> for Highway {
    fn fast_act(&self) -> Option<Act> {
        act_of(&self.activation)
    }

    fn grid(&self, [batch, features]: [usize; 2]) -> Grid {
        Grid::dense(batch, features)
    }

    fn pack(&self, grid: &Grid) -> LayerWeights {
        pack_linears(grid, &self.linears())
    }

    fn gradient_values(&self, g: &LayerGradients) -> Vec<Vec<f32>> {
        linear_gradient_values(&self.linears(), g)
    }

    fn add_gradients(&self, values: Vec<Vec<f32>>, grads: &mut Gradients) {
        add_linear_gradients(&self.linears(), values, grads);
    }
}

impl DeferredLayer<2> for Plain {
    fn fast_act(&self) -> Option<Act> {
        let [d_in, d_out] = self.linear.weight.dims();
        (d_in == d_out).then(|| act_of(&self.activation)).flatten()
    }

    fn grid(&self, [batch, features]: [usize; 2]) -> Grid {
        Grid::dense(batch, features)
    }

    fn pack(&self, grid: &Grid) -> LayerWeights {
        pack_linears(grid, &[&self.linear])
    }

    fn gradient_values(&self, g: &LayerGradients) -> Vec<Vec<f32>> {
        linear_gradient_values(&[&self.linear], g)
    }

    fn add_gradients(&self, values: Vec<Vec<f32>>, grads: &mut Gradients) {
        add_linear_gradients(&[&self.linear], values, grads);
    }
}

impl DeferredLayer<4> for ConvHighway {
    fn fast_act(&self) -> Option<Act> {
        act_of(&self.activation)
    }

    fn grid(&self, dims: [usize; 4]) -> Grid {
        conv_grid(dims, &self.h)
    }

    fn pack(&self, grid: &Grid) -> LayerWeights {
        pack_convs(grid, &self.convs())
    }

    fn gradient_values(&self, g: &LayerGradients) -> Vec<Vec<f32>> {
        conv_gradient_values(&self.convs(), g)
    }

    fn add_gradients(&self, values: Vec<Vec<f32>>, grads: &mut Gradients) {
        add_conv_gradients(&self.convs(), values, grads);
    }
}

impl DeferredLayer<4> for ConvPlain {
    fn fast_act(&self) -> Option<Act> {
        let [c_out, c_in, _, _] = self.conv.weight.dims();
        (c_in == c_out).then(|| act_of(&self.activation)).flatten()
    }

    fn grid(&self, dims: [usize; 4]) -> Grid {
        conv_grid(dims, &self.conv)
    }

    fn pack(&self, grid: &Grid) -> LayerWeights {
        pack_convs(grid, &[&self.conv])
    }

    fn gradient_values(&self, g: &LayerGradients) -> Vec<Vec<f32>> {
        conv_gradient_values(&[&self.conv], g)
    }

    fn add_gradients(&self, values: Vec<Vec<f32>>, grads: &mut Gradients) {
        add_conv_gradients(&[&self.conv], values, grads);
    }
}

impl<L> LayerStack<L> {
    /// The activation the fast path would compute for every layer, if it applies on `device`
    /// to an input of shape `dims`: a CPU backend, every layer ReLU (or every layer tanh) on
    /// the same layout (for conv layers, the same kernel size), a non-empty stack and a
    /// non-empty input, and the fast path not switched off ([`crate::FAST_PATH_ENV`]).
    pub fn fast_path<const D: usize>(&self, device: &Device, dims: [usize; D]) -> Option<Act>
    where
        L: DeferredLayer<D>,
    {
        if !crate::on_fast_path(device) || self.layers.is_empty() {
            return None;
        }
        let first = &self.layers[0];
        let (act, grid) = (first.fast_act()?, first.grid(dims));
        if grid.is_empty() || grid.channels == 0 {
            return None;
        }
        self.layers
            .iter()
            .all(|l| l.fast_act() == Some(act) && l.grid(dims) == grid)
            .then_some(act)
    }

    /// Applies the stack as [`forward`](LayerStack::forward) does, on the CPU fast path where
    /// it applies ([`fast_path`](Self::fast_path)); the output is then a graph leaf and the
    /// tape must be completed after `loss.backward()` ([`StackTape::complete`]). Elsewhere
    /// the stack runs under autodiff as usual and the tape is empty.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, d_model]` (dense) or `[batch, d_model, height, width]` (conv)
    /// - output: the same shape
    pub fn forward_deferred<const D: usize>(&self, x: Tensor<D>) -> (Tensor<D>, StackTape<D>)
    where
        L: DeferredLayer<D>,
    {
        let device = x.device();
        let dims = x.dims();
        let Some(act) = self.fast_path(&device, dims) else {
            return (self.forward(x), StackTape { recorded: None });
        };
        let grid = self.layers[0].grid(dims);
        // Parameters still waiting for their lazy initialisation draw their values from the
        // device's random stream: here, in the stack's order, and not in whatever order the
        // threads packing the layers would reach them.
        self.layers.iter().for_each(crate::materialize);
        let weights: Vec<LayerWeights> = self.layers.par_iter().map(|l| l.pack(&grid)).collect();
        let xv = HostValues::read(&x);
        let mut parts: Vec<Part> = grid
            .parts()
            .into_par_iter()
            .map(|(first, g)| Part::forward(first, g, &weights, act, &xv))
            .collect();
        let mut out = Vec::with_capacity(xv.len());
        for part in &mut parts {
            let y = part.inputs.pop().expect("the last layer's output");
            out.extend(part.grid.unpad_nchw(&y));
            crate::buffers::recycle(y);
        }
        let y = Tensor::<D>::from_data(TensorData::new(out, dims), &device);
        if !device.is_autodiff() {
            for part in parts {
                part.inputs.into_iter().for_each(crate::buffers::recycle);
                part.saved.into_iter().for_each(Saved::recycle);
            }
            weights.into_iter().for_each(LayerWeights::recycle);
            return (y, StackTape { recorded: None });
        }
        let y = y.require_grad();
        let recorded = Recorded {
            act,
            weights,
            parts,
            x,
            y: y.clone(),
        };
        (
            y,
            StackTape {
                recorded: Some(recorded),
            },
        )
    }
}

impl<const D: usize> StackTape<D> {
    /// Whether nothing was recorded (the ordinary forward ran, or no autodiff).
    pub fn is_empty(&self) -> bool {
        self.recorded.is_none()
    }

    /// Back-propagates through the recorded stack: reads the output's gradient from `grads`,
    /// adds the gradient of every weight and bias of `stack`, and back-propagates `∂L/∂x` into
    /// whatever computed the input with a second `backward`, whose gradients of `model`'s
    /// parameters are added to `grads`. Call it once, after `loss.backward()`.
    ///
    /// `model` holds every parameter the stack's input depends on (the whole model, or `stack`
    /// itself for a leaf input). Returns the second `backward`'s gradients with `model`'s
    /// parameters moved out: those of other tracked tensors upstream, such as a leaf input,
    /// whose gradient is therefore read from the returned `Gradients`, not from `grads`.
    /// `None` when the tape is empty, the output got no gradient or nothing upstream is
    /// tracked.
    ///
    /// # Panics
    ///
    /// If `stack` is not the stack that recorded the tape.
    pub fn complete<L: DeferredLayer<D>, M: Module>(
        self,
        stack: &LayerStack<L>,
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
    pub fn complete_after<L: DeferredLayer<D>, M: Module>(
        self,
        stack: &LayerStack<L>,
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
        let dy = HostValues::read(&dy);
        let (weights, act) = (&r.weights, r.act);
        let mut parts = r
            .parts
            .into_par_iter()
            .map(|part| part.backward(weights, act, &dy))
            .collect::<Vec<_>>()
            .into_iter();
        let (mut dx, first) = parts.next().expect("a part");
        let mut by_layer: Vec<Vec<LayerGradients>> = first.into_iter().map(|g| vec![g]).collect();
        for (part_dx, part_grads) in parts {
            dx.extend(part_dx);
            for (layer, g) in by_layer.iter_mut().zip(part_grads) {
                layer.push(g);
            }
        }
        // Layer by layer in parallel, each layer's parts summed in order: the sum does not
        // depend on the threads.
        let values: Vec<Vec<Vec<f32>>> = stack
            .layers
            .par_iter()
            .zip(by_layer)
            .map(|(layer, parts)| {
                let mut parts = parts.into_iter();
                let mut total = parts.next().expect("a part");
                for g in parts {
                    total.add(&g);
                    g.recycle();
                }
                let values = layer.gradient_values(&total);
                total.recycle();
                values
            })
            .collect();
        for (layer, values) in stack.layers.iter().zip(values) {
            layer.add_gradients(values, grads);
        }
        r.weights.into_iter().for_each(LayerWeights::recycle);
        if !r.x.is_tracked() {
            return None;
        }
        let dims = r.x.dims();
        let dx = Tensor::<D>::from_data(TensorData::new(dx, dims), &r.x.device());
        let mut input_grads = (r.x * dx).sum().backward();
        model.visit(&mut Merge {
            from: &mut input_grads,
            into: grads,
        });
        Some(input_grads)
    }
}
