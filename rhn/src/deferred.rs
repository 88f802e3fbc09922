//! Hand-written back-propagation through time for the RHN layer.
//!
//! With plain autodiff an RHN training step records ~20 operations per micro-layer and time step
//! (350 micro-layer steps per `ptb_sota` window), each recurrent product's backward reads its
//! matrix through a transposed view, and every use of `R_l` adds its own weight gradient
//! `s_{l−1}ᵀ·g` (`seq` products with an inner dimension of only `batch`).
//! [`Rhn::forward_deferred`](crate::Rhn::forward_deferred) instead runs the recurrence outside
//! autodiff, in a transposed layout (`sᵀ`: `[d, batch]`) where every recurrent product has the
//! large dimension first and reads a contiguous matrix:
//!
//! ```text
//! forward   z_lᵀ = R_lᵀ·s_inᵀ + b_l (+ (W x_t)ᵀ at l = 1)      R_lᵀ [k·d, d] stored contiguous
//!           h, t (c) and s_l from z_l and s_{l−1}: the micro-layer, element-wise
//! backward  ∂z_l and the carry path's ∂s_{l−1}: the micro-layer's backward, element-wise;
//!           ∂s_{l−1} += m_h·(R_l·∂z_lᵀ)                              R_l [d, k·d] stored contiguous
//! weights   ∂L/∂R_l = Σ_t s_in,tᵀ·∂z_{l,t} = Sᵀ·G  (one product per micro-layer and window)
//!           ∂L/∂b_l = Σ_t Σ_rows ∂z_{l,t}
//! ```
//!
//! where `s_in = s_{l−1}·m_h` is the state after the recurrent dropout mask. The micro-layer's
//! equations, forward and back, are written once (the crate's `micro` module) and shared with
//! [`RhnCell`](crate::RhnCell); this module holds only the layout, the partitions and the
//! tape. On the CPU backends the units are split into one partition per thread (the private
//! `partition` module): each thread keeps its rows of every matrix for the window and the
//! threads swap their slices of `s` (of `∂z`) after every micro-layer, instead of splitting
//! every small product anew. Where the thin products' kernel pays off (x86-64 with AVX2 and
//! FMA, the fast paths on), the partitions keep the window in host buffers (the private `host`
//! module: packed rows, the highway gate loops of `highway_core::conv_kernel`); elsewhere (a
//! GPU, another CPU, `HIGHWAY_ZOO_FAST_PATH=off`) they run the same steps through Burn's
//! operations, the readable form.
//!
//! The output and the final state leave as leaves of the autodiff graph; after
//! `loss.backward()`, [`RhnTape::complete`] reads their gradients, runs the backward above,
//! stores the recurrent weight and bias gradients, and back-propagates `∂L/∂(W x)` and
//! `∂L/∂s^{[0]}` through the input projection (and whatever computed the input: the embedding)
//! with a second, small `backward`, whose gradients it adds to the first. A caller that has
//! `∂L/∂y` without a graph (a closed-form softmax loss) passes it to [`RhnTape::backward`]
//! instead. The result equals plain autodiff (tested); only the order of the summation differs.
//!
//! ```
//! use burn::prelude::*;
//! use burn::tensor::Distribution;
//! use rhn::{RhnCellConfig, RhnConfig};
//!
//! let device = Device::flex().autodiff();
//! let rhn = RhnConfig::new(RhnCellConfig::new(4, 6, 2)).init(&device);
//! let x = Tensor::<3>::random([3, 5, 4], Distribution::Default, &device).require_grad();
//! let (y, _state, tape) = rhn.forward_deferred(x.clone(), None, None);
//! let mut grads = y.sum().backward();
//! // `grads` gains the RHN's parameter gradients; the returned set holds the gradients of
//! // tracked tensors upstream of the layer that are not parameters of `rhn`, such as `x`.
//! let upstream = tape.complete(&rhn, &rhn, &mut grads).expect("a recorded tape");
//! assert!(rhn.cell.layers[1].r_h.weight.val().grad(&grads).is_some());
//! assert!(rhn.cell.w_t.weight.val().grad(&grads).is_some());
//! assert!(x.grad(&upstream).is_some());
//! // The input's gradient is only there: `loss.backward()` ran before the hand-written part.
//! assert!(x.grad(&grads).is_none());
//! ```

#[cfg(feature = "autodiff")]
use std::sync::Mutex;

use burn::tensor::Tensor;

#[cfg(feature = "autodiff")]
use highway_core::grads::{Merge, accumulate};

use crate::dropout::RhnMasks;
use crate::layer::{Rhn, RhnState};
use crate::micro::MicroLayer;
use crate::partition;

mod host;

/// What [`Rhn::forward_deferred`](crate::Rhn::forward_deferred) recorded: the activations of
/// every micro-layer and time step, and the autodiff tensors that connect the hand-written
/// backward to the rest of the graph. Pass it to [`RhnTape::complete`] after `backward`.
#[derive(Debug, Default)]
pub struct RhnTape {
    recorded: Option<Recorded>,
}

// Read by the backward, which needs autodiff.
#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
#[derive(Debug)]
struct Recorded {
    /// `W x` of every step, in autodiff: `[batch, seq, k·d]`.
    x_proj: Tensor<3>,
    /// The initial state, in autodiff (maybe untracked): `[batch, d]`.
    s0: Tensor<2>,
    /// The output leaf `[batch, seq, d]` and the final-state leaf `[batch, d]`.
    y: Tensor<3>,
    s_last: Tensor<2>,
    /// `m_hᵀ` `[d, batch]`, when the recurrent state is dropped out.
    mask: Option<Tensor<2>>,
    /// Gated maps per micro-layer (2, or 3 with a free carry gate).
    k: usize,
    /// What each partition of the units recorded.
    parts: Parts,
}

/// The partitions' records: tensors (Burn's operations, the readable form, on every device),
/// or host values (the CPU fast path, [`host`]).
#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
#[derive(Debug)]
enum Parts {
    Tensors(Vec<Part>),
    Host(Vec<host::HostPart>),
}

/// One partition's share of the recurrence: its units `u0..u0 + n` of every gate.
#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
#[derive(Debug)]
struct Part {
    units: std::ops::Range<usize>,
    /// Each micro-layer's rows of `R_l` `[n, k·d]` for these units (`∂s_in = R_l·∂zᵀ`).
    weights: Vec<Tensor<2>>,
    /// `[step][micro-layer]`, transposed (`[n, batch]`).
    saved: Vec<Vec<Saved>>,
    /// `[micro-layer][step]`: the whole masked state `s_in` `[d, batch]` (for `∂L/∂R_l`).
    s_in: Vec<Vec<Tensor<2>>>,
}

#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
#[derive(Debug)]
struct Saved {
    /// This partition's units of `s_{l−1}`.
    s_prev: Tensor<2>,
    /// Its units of `h_l`, `t_l` (`c_l`).
    micro: MicroLayer,
}

/// The forward of [`Rhn::forward_deferred`] for an autodiff input, split over as many
/// partitions of the units as [`partition::parts_for`] gives.
pub(crate) fn forward(
    rhn: &Rhn,
    x: Tensor<3>,
    s0: Tensor<2>,
    masks: Option<&RhnMasks>,
) -> (Tensor<3>, RhnState, RhnTape) {
    let parts = partition::parts_for(&x.device(), rhn.d_hidden());
    let on_host = host::pays_off(&x);
    forward_in_parts(rhn, x, s0, masks, parts, on_host)
}

/// [`forward`] with `parts` partitions of the units (at most `d_hidden`), on host values
/// ([`host`]) or through Burn's operations.
pub(crate) fn forward_in_parts(
    rhn: &Rhn,
    x: Tensor<3>,
    s0: Tensor<2>,
    masks: Option<&RhnMasks>,
    parts: usize,
    on_host: bool,
) -> (Tensor<3>, RhnState, RhnTape) {
    let d = rhn.d_hidden();
    assert!((1..=d).contains(&parts), "1 to d_hidden partitions");
    let (x_proj, window) = Window::new(rhn, x, &s0, masks);
    // `ys`: `sᵀ` of every step, `[seq, d, batch]`; `s`: the last one, `[d, batch]`.
    let (ys, s, parts_out) = match on_host {
        true => {
            let (ys, s, parts) = host::forward(&window, parts);
            (ys, s, Parts::Host(parts))
        }
        false => {
            let (ys, s, parts) = forward_tensors(&window, parts);
            (ys, s, Parts::Tensors(parts))
        }
    };
    let y = Tensor::from_inner(ys.permute([2, 0, 1])).require_grad();
    let s_last = Tensor::from_inner(s.transpose()).require_grad();
    let tape = RhnTape {
        recorded: Some(Recorded {
            x_proj,
            s0,
            y: y.clone(),
            s_last: s_last.clone(),
            mask: window.mask,
            k: window.k,
            parts: parts_out,
        }),
    };
    (y, RhnState::new(s_last), tape)
}

/// The partitions' forward through Burn's operations: `sᵀ` of every step `[seq, d, batch]`,
/// the last one `[d, batch]`, and each partition's record.
fn forward_tensors(window: &Window, parts: usize) -> (Tensor<3>, Tensor<2>, Vec<Part>) {
    let results = partition::run(parts, |p, exchange| {
        forward_part(
            window,
            partition::units(p, parts, window.d),
            p == 0,
            |round, next| Tensor::cat(exchange.share(p, round, next), 0),
        )
    });
    let mut parts_out = Vec::with_capacity(parts);
    let mut outputs = Vec::new();
    let mut s = window.s0.clone();
    for (p, (part, out, last)) in results.into_iter().enumerate() {
        if p == 0 {
            outputs = out;
            s = last;
        }
        parts_out.push(part);
    }
    (Tensor::stack::<3>(outputs, 0), s, parts_out)
}

/// A window's inputs to the recurrence, outside autodiff and transposed, shared by every
/// partition.
struct Window {
    /// `(W x_t)ᵀ` of every step, time-major: rows `(t·k + g)·d..` of `[seq·k·d, batch]` are
    /// step `t`'s gate `g`.
    xp: Tensor<2>,
    /// Per micro-layer, each gate's `R` `[d, d]` and `b` `[d]`, in gate order `H`, `T` (`C`).
    maps: Vec<Vec<(Tensor<2>, Tensor<1>)>>,
    /// `m_hᵀ` `[d, batch]`, when the recurrent state is dropped out.
    mask: Option<Tensor<2>>,
    /// `s^{[0]}ᵀ` `[d, batch]`.
    s0: Tensor<2>,
    /// Gated maps per micro-layer, units, time steps.
    k: usize,
    d: usize,
    seq: usize,
}

impl Window {
    /// Also returns `W x` of every step in autodiff (`[batch, seq, k·d]`), for the input's
    /// backward.
    fn new(rhn: &Rhn, x: Tensor<3>, s0: &Tensor<2>, masks: Option<&RhnMasks>) -> (Tensor<3>, Self) {
        let [batch, seq, d_input] = x.dims();
        let cell = &rhn.cell;
        let d = rhn.d_hidden();
        let k = 2 + usize::from(cell.w_c.is_some());
        let x = match masks {
            Some(m) => m.apply_input(x),
            None => x,
        };
        let w_in = Tensor::cat(cell.input_maps().map(|l| l.weight.val()).collect(), 1);
        let x_proj = x
            .reshape([batch * seq, d_input])
            .matmul(w_in)
            .reshape([batch, seq, k * d]);
        let xp = x_proj
            .clone()
            .inner()
            .permute([1, 2, 0])
            .reshape([seq * k * d, batch]);
        let maps = cell
            .layers
            .iter()
            .map(|layer| {
                layer
                    .maps()
                    .map(|m| {
                        let b = m.bias.as_ref().expect("recurrent maps have a bias");
                        (m.weight.val().inner(), b.val().inner())
                    })
                    .collect()
            })
            .collect();
        let window = Self {
            xp,
            maps,
            mask: masks
                .and_then(|m| m.hidden.as_ref())
                .map(|m| m.clone().inner().transpose()),
            s0: s0.clone().inner().transpose(),
            k,
            d,
            seq,
        };
        (x_proj, window)
    }

    /// Step `t`'s input projection for `units`, gates stacked: `[k·n, batch]`.
    fn input(&self, t: usize, units: &std::ops::Range<usize>) -> Tensor<2> {
        let rows = (0..self.k)
            .map(|g| {
                self.xp
                    .clone()
                    .narrow(0, (t * self.k + g) * self.d + units.start, units.len())
            })
            .collect();
        Tensor::cat(rows, 0)
    }
}

/// One partition's rows of every micro-layer's weights, copied once per window.
struct PartWeights {
    /// The transposed product's rows `[k·n, d]`, gates stacked (`z = R_lᵀ·s_inᵀ`).
    forward: Vec<Tensor<2>>,
    /// The rows of `R_l` `[n, k·d]` (`∂s_in = R_l·∂zᵀ`).
    backward: Vec<Tensor<2>>,
    /// The biases `[k·n, 1]`.
    biases: Vec<Tensor<2>>,
}

impl PartWeights {
    fn new(window: &Window, units: &std::ops::Range<usize>) -> Self {
        let (u0, n) = (units.start, units.len());
        let stack =
            |gates: &[(Tensor<2>, Tensor<1>)], part: &dyn Fn(&Tensor<2>) -> Tensor<2>, dim| {
                Tensor::cat(gates.iter().map(|(w, _)| part(w)).collect(), dim)
            };
        let mut weights = Self {
            forward: Vec::with_capacity(window.maps.len()),
            backward: Vec::with_capacity(window.maps.len()),
            biases: Vec::with_capacity(window.maps.len()),
        };
        for gates in &window.maps {
            weights
                .forward
                .push(stack(gates, &|w| w.clone().narrow(1, u0, n).transpose(), 0));
            weights
                .backward
                .push(stack(gates, &|w| w.clone().narrow(0, u0, n), 1));
            let biases = gates.iter().map(|(_, b)| b.clone().narrow(0, u0, n));
            weights
                .biases
                .push(Tensor::cat(biases.collect(), 0).reshape([window.k * n, 1]));
        }
        weights
    }
}

/// The recurrence over the window for one partition's `units`. `share(round, next)` swaps
/// this partition's slice of the new state for the whole state. Returns what the partition
/// recorded, the outputs `sᵀ` of every step (only with `outputs`) and the final `sᵀ`.
fn forward_part(
    window: &Window,
    units: std::ops::Range<usize>,
    outputs: bool,
    share: impl Fn(usize, Tensor<2>) -> Tensor<2>,
) -> (Part, Vec<Tensor<2>>, Tensor<2>) {
    let (u0, n) = (units.start, units.len());
    let (k, depth, seq) = (window.k, window.maps.len(), window.seq);
    let weights = PartWeights::new(window, &units);
    let mut s = window.s0.clone();
    let mut saved = Vec::with_capacity(seq);
    let mut s_in_all: Vec<Vec<Tensor<2>>> = vec![Vec::with_capacity(seq); depth];
    let mut ys = Vec::with_capacity(if outputs { seq } else { 0 });
    let mut round = 0;
    for t in 0..seq {
        let mut step = Vec::with_capacity(depth);
        for (l, (w, b)) in weights.forward.iter().zip(&weights.biases).enumerate() {
            let s_in = match &window.mask {
                Some(m) => s.clone() * m.clone(),
                None => s.clone(),
            };
            let mut z = w.clone().matmul(s_in.clone()) + b.clone(); // [k·n, batch]
            if l == 0 {
                z = z + window.input(t, &units);
            }
            let micro = MicroLayer::activate(z.chunk(k, 0), false);
            let s_prev = s.narrow(0, u0, n);
            let next = micro.output(s_prev.clone());
            s_in_all[l].push(s_in);
            step.push(Saved { s_prev, micro });
            s = share(round, next);
            round += 1;
        }
        saved.push(step);
        if outputs {
            ys.push(s.clone());
        }
    }
    let part = Part {
        units,
        weights: weights.backward,
        saved,
        s_in: s_in_all,
    };
    (part, ys, s)
}

impl RhnTape {
    /// Whether nothing was recorded (a forward without autodiff).
    pub fn is_empty(&self) -> bool {
        self.recorded.is_none()
    }

    /// Back-propagates through the recorded recurrence: reads the gradients of the output and
    /// final state from `grads`, adds the gradients of every recurrent matrix and bias of `rhn`,
    /// and back-propagates into the input projection `W_H`, `W_T` (`W_C`), the input and the
    /// initial state with a second `backward`, whose parameter gradients are added to `grads`
    /// for every parameter of `model`. Call it once per tape, after `loss.backward()` and before
    /// building the optimiser's gradients.
    ///
    /// `model` is the module holding every parameter the layer's input depends on: the whole
    /// language model (the embedding), or `rhn` itself when the input comes from no parameters.
    /// Returns the second `backward`'s gradients with `model`'s parameters moved out (`None`
    /// when the tape is empty): the gradients of other tracked tensors upstream of the layer,
    /// such as a leaf input or initial state.
    ///
    /// # Panics
    ///
    /// If `rhn` is not the layer that recorded the tape (shapes differ).
    #[cfg(feature = "autodiff")]
    pub fn complete<M: burn::module::Module>(
        self,
        rhn: &Rhn,
        model: &M,
        grads: &mut burn::tensor::Gradients,
    ) -> Option<burn::tensor::Gradients> {
        let r = self.recorded.as_ref()?;
        let dy = r.y.grad_remove(grads);
        let ds = r.s_last.grad_remove(grads);
        let mut input_grads = self.backward(rhn, dy, ds)?;
        model.visit(&mut Merge {
            from: &mut input_grads,
            into: grads,
        });
        Some(input_grads)
    }

    /// Back-propagates given gradients of the output `dy` and of the final state `ds_last`
    /// (`None`: zero) through the recorded recurrence and on, with one `backward`, through the
    /// input projection and whatever computed the input: for a caller that computes `∂L/∂y`
    /// itself (a fused softmax loss) instead of calling `loss.backward()` on a graph through the
    /// output. Returns every gradient: the recurrent matrices' and biases', the input
    /// projection's and those upstream (the embedding). `None` when the tape is empty or
    /// nothing upstream of the layer is tracked.
    ///
    /// # Shapes
    ///
    /// - `dy`: `[batch, seq, d_hidden]`, `ds_last`: `[batch, d_hidden]`
    ///
    /// # Panics
    ///
    /// If `rhn` is not the layer that recorded the tape, or the shapes differ.
    #[cfg(feature = "autodiff")]
    pub fn backward(
        self,
        rhn: &Rhn,
        dy: Option<Tensor<3>>,
        ds_last: Option<Tensor<2>>,
    ) -> Option<burn::tensor::Gradients> {
        let r = self.recorded?;
        let [batch, seq, d] = r.y.dims();
        let k = r.k;
        let device = r.x_proj.device();
        let gy = dy
            .map(Tensor::inner)
            .unwrap_or_else(|| Tensor::zeros([batch, seq, d], &device).inner())
            .permute([1, 2, 0])
            .reshape([seq * d, batch]);
        let ds_last = ds_last
            .map(|g| g.inner().transpose())
            .unwrap_or_else(|| Tensor::zeros([d, batch], &device).inner());
        let outgoing = Outgoing {
            gy: &gy,
            ds_last: &ds_last,
            mask: r.mask.as_ref(),
        };
        let (ds0, dx, weight_grads) = match r.parts {
            Parts::Tensors(parts) => backward_tensors(parts, &outgoing, k),
            Parts::Host(parts) => host::backward(parts, &outgoing, k),
        };
        // ∂L/∂(W x) as [batch, seq, k·d], ∂L/∂s^{[0]}.
        let dx = dx.permute([2, 0, 1]);
        let mut surrogate = (r.x_proj * Tensor::from_inner(dx)).sum();
        if r.s0.is_tracked() {
            let ds0 = ds0.transpose();
            surrogate = surrogate + (r.s0 * Tensor::from_inner(ds0)).sum();
        }
        if !surrogate.is_tracked() {
            return None;
        }
        let mut grads = surrogate.backward();
        store_weight_gradients(rhn, weight_grads, &mut grads);
        Some(grads)
    }
}

/// What the partitions' backward returns: `∂L/∂s^{[0]}ᵀ` `[d, batch]`, `∂L/∂(W x)ᵀ` of every
/// step `[seq, k·d, batch]`, and every micro-layer's weight and bias gradients `[d, d]`, `[d]`
/// per gate (`[micro-layer][gate]`).
#[cfg(feature = "autodiff")]
type PartsBackward = (Tensor<2>, Tensor<3>, Vec<Vec<(Tensor<2>, Tensor<1>)>>);

/// The partitions' backward through Burn's operations.
#[cfg(feature = "autodiff")]
fn backward_tensors(parts: Vec<Part>, outgoing: &Outgoing<'_>, k: usize) -> PartsBackward {
    let n_parts = parts.len();
    let parts: Vec<Mutex<Option<Part>>> = parts.into_iter().map(|p| Mutex::new(Some(p))).collect();
    let results = partition::run(n_parts, |p, exchange| {
        let part = parts[p]
            .lock()
            .expect("partition slot")
            .take()
            .expect("each partition runs once");
        backward_part(part, outgoing, k, p == 0, |round, dz| {
            gate_major(exchange.share(p, round, dz), k)
        })
    });
    let mut ds0 = Vec::with_capacity(n_parts);
    let mut dx = Vec::new();
    let mut weight_grads = Vec::with_capacity(n_parts);
    for (p, (ds, part_dx, wg)) in results.into_iter().enumerate() {
        ds0.push(ds);
        if p == 0 {
            dx = part_dx;
        }
        weight_grads.push(wg);
    }
    // dx was collected last step first.
    dx.reverse();
    let depth = weight_grads[0].len();
    // Gate g's columns from every partition.
    let per_gate = |l: usize, g: usize| {
        let (dw, db): (Vec<_>, Vec<_>) = weight_grads
            .iter()
            .map(|wg: &Vec<(Tensor<2>, Tensor<1>)>| {
                let (dw, db) = &wg[l];
                let n = db.dims()[0] / k;
                (
                    dw.clone().narrow(1, g * n, n),
                    db.clone().narrow(0, g * n, n),
                )
            })
            .unzip();
        (Tensor::cat(dw, 1), Tensor::cat(db, 0))
    };
    let weight_grads = (0..depth)
        .map(|l| (0..k).map(|g| per_gate(l, g)).collect())
        .collect();
    (Tensor::cat(ds0, 0), Tensor::stack::<3>(dx, 0), weight_grads)
}

/// The gradients flowing into the recurrence from outside, transposed: `∂L/∂y` of every step
/// (`[seq·d, batch]`, step-major), `∂L/∂s^{[T]}` (`[d, batch]`), and `m_hᵀ`.
#[cfg(feature = "autodiff")]
struct Outgoing<'a> {
    gy: &'a Tensor<2>,
    ds_last: &'a Tensor<2>,
    mask: Option<&'a Tensor<2>>,
}

/// One partition's backward through the window, last step first. `share(round, dz)` swaps
/// this partition's `∂z` `[k·n, batch]` for every unit's, gate-major as the columns of `R_l`
/// (`[k·d, batch]`). Returns `∂L/∂s^{[0]}` for the partition's units, `∂L/∂(W x_t)ᵀ` of every
/// step (last step first; only with `input`), and its columns of every micro-layer's weight and
/// bias gradients.
#[cfg(feature = "autodiff")]
fn backward_part(
    part: Part,
    outgoing: &Outgoing<'_>,
    k: usize,
    input: bool,
    share: impl Fn(usize, Tensor<2>) -> Tensor<2>,
) -> (Tensor<2>, Vec<Tensor<2>>, Vec<(Tensor<2>, Tensor<1>)>) {
    let (u0, n) = (part.units.start, part.units.len());
    let d = outgoing.ds_last.dims()[0];
    let seq = part.saved.len();
    let mask = outgoing.mask.map(|m| m.clone().narrow(0, u0, n));
    let mut ds = outgoing.ds_last.clone().narrow(0, u0, n);
    let depth = part.weights.len();
    let mut dz_all: Vec<Vec<Tensor<2>>> = vec![Vec::with_capacity(seq); depth];
    let mut dx = Vec::with_capacity(if input { seq } else { 0 });
    let mut round = 0;
    for (t, step) in part.saved.into_iter().enumerate().rev() {
        ds = ds + outgoing.gy.clone().narrow(0, t * d + u0, n);
        for (l, saved) in step.into_iter().enumerate().rev() {
            let (dz, ds_carry) = saved.micro.backward(ds, saved.s_prev);
            let dz = Tensor::cat(dz, 0); // [k·n, batch]
            let dz_full = share(round, dz.clone());
            round += 1;
            let ds_in = part.weights[l].clone().matmul(dz_full.clone()); // [n, batch]
            let ds_in = match &mask {
                Some(m) => ds_in * m.clone(),
                None => ds_in,
            };
            ds = ds_carry + ds_in;
            if l == 0 && input {
                dx.push(dz_full);
            }
            dz_all[l].push(dz);
        }
    }
    // ∂L/∂R_l for this partition's columns: [d, seq·batch] × [seq·batch, k·n].
    let weight_grads = dz_all
        .into_iter()
        .zip(part.s_in)
        .map(|(mut dz, s_in)| {
            dz.reverse(); // collected last step first
            let g = Tensor::cat(dz, 1); // [k·n, seq·batch]
            let dw = Tensor::cat(s_in, 1).matmul(g.clone().transpose());
            (dw, g.sum_dim(1).reshape([k * n]))
        })
        .collect();
    (ds, dx, weight_grads)
}

/// Every partition's `∂z` (`[k·n_q, batch]`, gates stacked) as one `[k·d, batch]`, gate-major.
#[cfg(feature = "autodiff")]
fn gate_major(parts: Vec<Tensor<2>>, k: usize) -> Tensor<2> {
    Tensor::cat(
        (0..k)
            .flat_map(|g| {
                parts.iter().map(move |z| {
                    let n_q = z.dims()[0] / k;
                    z.clone().narrow(0, g * n_q, n_q)
                })
            })
            .collect(),
        0,
    )
}

/// Adds the recurrent weight and bias gradients (`[micro-layer][gate]`) to `rhn`'s.
#[cfg(feature = "autodiff")]
fn store_weight_gradients(
    rhn: &Rhn,
    weight_grads: Vec<Vec<(Tensor<2>, Tensor<1>)>>,
    grads: &mut burn::tensor::Gradients,
) {
    for (layer, per_gate) in rhn.cell.layers.iter().zip(weight_grads) {
        for (map, (dw, db)) in layer.maps().zip(per_gate) {
            accumulate(&map.weight.val(), grads, dw);
            let bias = map.bias.as_ref().expect("recurrent maps have a bias").val();
            accumulate(&bias, grads, db);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Parts, Recorded};
    use crate::test_util::{autodiff_device, values};
    use crate::{
        CarryMode, RhnCellConfig, RhnConfig, RhnMasks, RhnState, VariationalDropoutConfig,
    };
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::nn::Initializer;
    use burn::tensor::{Distribution, Gradients, Tensor};

    /// Every float parameter's gradient, in visit order.
    struct Collect<'a>(&'a Gradients, Vec<Vec<f32>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = param
                .val()
                .grad(self.0)
                .expect("every parameter has a gradient");
            self.1.push(values(&g));
        }
    }

    /// `input`'s gradient is the same (and not zero) in both.
    fn same_input_gradient<const D: usize>(input: &Tensor<D>, a: &Gradients, b: &Gradients) {
        let u = values(&input.grad(a).expect("plain input gradient"));
        let v = values(&input.grad(b).expect("deferred input gradient"));
        assert!(u.iter().any(|g| g.abs() > 1e-3));
        for (u, v) in u.iter().zip(&v) {
            assert!((u - v).abs() <= 1e-4 + 1e-4 * u.abs(), "input: {u} vs {v}");
        }
    }

    #[test]
    fn deferred_gradients_equal_plain_autodiff() {
        let device = autodiff_device();
        // 7 units: 1 partition, 2 of 3 + 4 units, 3 of 2 + 2 + 3.
        let d = 7;
        for (carry, fused) in [(CarryMode::Coupled, true), (CarryMode::Free, false)] {
            let rhn = RhnConfig::new(
                RhnCellConfig::new(3, d, 3)
                    .with_carry(carry)
                    .with_fused(fused)
                    .with_transform_bias(-0.5)
                    .with_initializer(Initializer::Uniform {
                        min: -0.6,
                        max: 0.6,
                    }),
            )
            .init(&device);
            // The input and the initial state need gradients too (the second backward).
            let x = Tensor::<3>::random([2, 5, 3], Distribution::Default, &device).require_grad();
            let s0 = RhnState::new(
                Tensor::random([2, d], Distribution::Default, &device).require_grad(),
            );
            let r = Tensor::<3>::random([2, 5, d], Distribution::Default, &device);
            let masks = RhnMasks::sample(
                &VariationalDropoutConfig::new()
                    .with_input(0.3)
                    .with_hidden(0.3),
                2,
                None,
                3,
                d,
                &device,
            );
            // The loss also reads the final state, as the next window would.
            let loss = |y: Tensor<3>, s: RhnState| (y * r.clone()).sum() + s.s.powi_scalar(2).sum();

            let (y, s) = rhn.forward(x.clone(), Some(s0.clone()), Some(&masks));
            let plain = loss(y.clone(), s).backward();
            let mut a = Collect(&plain, Vec::new());
            rhn.visit(&mut a);
            // Through Burn's operations and on host values (the CPU fast path).
            for (parts, on_host) in [1, 2, 3].into_iter().flat_map(|p| [(p, false), (p, true)]) {
                let (y2, s2, tape) = crate::deferred::forward_in_parts(
                    &rhn,
                    x.clone(),
                    s0.s.clone(),
                    Some(&masks),
                    parts,
                    on_host,
                );
                assert_eq!(
                    matches!(
                        tape.recorded,
                        Some(Recorded {
                            parts: Parts::Host(_),
                            ..
                        })
                    ),
                    on_host
                );
                for (u, v) in values(&y2).iter().zip(values(&y)) {
                    assert!((u - v).abs() < 1e-5, "{parts} parts: {u} vs {v}");
                }
                assert!(!tape.is_empty());
                let mut deferred = loss(y2, s2).backward();
                let inputs = tape
                    .complete(&rhn, &rhn, &mut deferred)
                    .expect("tracked inputs");
                let mut b = Collect(&deferred, Vec::new());
                rhn.visit(&mut b);
                same_input_gradient(&x, &plain, &inputs);
                same_input_gradient(&s0.s, &plain, &inputs);
                assert_eq!(a.1.len(), b.1.len());
                for (pa, pb) in a.1.iter().zip(&b.1) {
                    for (u, v) in pa.iter().zip(pb) {
                        assert!(
                            (u - v).abs() <= 1e-4 + 1e-4 * u.abs(),
                            "{parts} parts, host {on_host}: {u} vs {v}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn without_autodiff_the_tape_is_empty_and_complete_is_a_no_op() {
        let device = crate::test_util::device();
        let rhn = RhnConfig::new(RhnCellConfig::new(3, 4, 2)).init(&device);
        let x = Tensor::<3>::random([2, 3, 3], Distribution::Default, &device);
        let (y, _, tape) = rhn.forward_deferred(x.clone(), None, None);
        assert!(tape.is_empty());
        assert_eq!(values(&y), values(&rhn.forward(x, None, None).0));
    }
}
