//! The highway layer of *Training Very Deep Networks* (arXiv:1507.06228) eq. (2) with
//! same-padded `k×k` convolutions, on raw `f32` buffers: the CPU fast path behind
//! [`LayerStack::forward_deferred`](crate::LayerStack::forward_deferred). The dense layer
//! (eq. (2) with `W x`) is its 1×1 case on images of one pixel ([`Grid::dense`]).
//!
//! ```text
//! z_H = W_H ∗ x + b_H,  z_T = W_T ∗ x + b_T  (z_C = W_C ∗ x + b_C)
//! y   = act(z_H)·σ(z_T) + x·C,   C = 1 − σ(z_T)  (C = σ(z_C))
//! ```
//!
//! Activations are kept zero-padded and channels-last ([`Grid`]): position `q` of the padded
//! grid holds `C` channels, and the `k×k` window whose top-left corner is `q` covers, for each
//! kernel row `ky`, the `k` consecutive positions from `q + ky·W_p`: one contiguous run of
//! `k·C` floats. A block of pixels therefore gathers its windows with `k` copies each
//! (`im2col`; the corners of the padding are skipped, which spares a 3×3 layer 11% of the
//! work on a 32×32 image and 44% on a 6×6 one), and `z = [z_H z_T (z_C)]` comes from one
//! product `[n, k²·C] × [k²·C, G·C]` with the gates computed while the block is in cache. The
//! output is written straight into the next layer's padded input. Backward:
//!
//! ```text
//! ∂z_H = ∂y·T·act'(z_H),  ∂z_T = ∂y·(H − x)·T(1 − T)   (free: ∂y·H·T(1 − T), ∂z_C = ∂y·x·C(1 − C))
//! ∂W   = Σ_q window(q)ᵀ·∂z(q),   ∂b = Σ_q ∂z(q)
//! ∂x(r) = ∂y(r)·C(r) + Σ_{ky,kx} ∂z(r − ky·W_p − kx)·W_{ky,kx}ᵀ
//! ```
//!
//! the last one again a product per block, over windows of `∂z` read backwards. Blocks run on
//! rayon's threads; weight gradients are summed per fixed group of blocks and the groups in
//! order, so results do not depend on the number of threads. The readable reference is
//! [`ConvHighway::forward`](crate::ConvHighway::forward) (Burn's `conv2d` under autodiff) and
//! [`Highway::forward`](crate::Highway::forward); `tests/conv_fast_path.rs` and
//! `tests/dense_fast_path.rs` keep them equal.
//!
//! A plain layer (*Training Very Deep Networks* s3.1, `y = act(W ∗ x + b)`) is the case of one
//! gate: `y = H`, `∂z_H = ∂y·act'(z_H)` and no carry term.

use rayon::prelude::*;

/// Pixels per block: one product `[BLOCK, k²·C] × [k²·C, G·C]` at a time.
const BLOCK: usize = 256;

/// Rows per block, and per part of the batch ([`Grid::parts`]), of a dense layer (a 1×1
/// kernel). On two threads, the 50-layer, 71-unit MLP at batch 128 trained at 38 steps/s in
/// parts of 32 rows and 45-61 in parts of 64, against 36-48 in one part of 128 (the Burn path
/// beside it: 40-54; `bench-highway --model mlp --variants fast,unfused`, rebuilt with each
/// value, 2026-12-01, AMD EPYC, 2 cores, runs minutes apart).
const DENSE_BLOCK: usize = 64;

/// Groups of blocks whose weight gradients are summed separately, then in order.
const GROUPS: usize = 16;

/// The padded, channels-last layout of one stack's activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Images.
    pub batch: usize,
    /// Rows of an image.
    pub height: usize,
    /// Columns of an image.
    pub width: usize,
    /// Channels (the layer's `d_model`).
    pub channels: usize,
    /// Kernel side (odd).
    pub kernel: usize,
}

impl Grid {
    /// The grid of a dense layer on `[batch, features]`: `batch` images of one pixel and a
    /// 1×1 kernel, so that a window is one row and the product is `[n, C] × [C, G·C]`. The
    /// padded buffer of such a grid is the row-major `[batch, features]` matrix itself.
    pub fn dense(batch: usize, features: usize) -> Self {
        Self {
            batch,
            height: 1,
            width: 1,
            channels: features,
            kernel: 1,
        }
    }

    /// The batch in parts that each run the whole stack on one thread, with the first image
    /// of each: a dense layer's products are too small to share between threads one layer at
    /// a time, so a dense batch is cut into parts of one block (`DENSE_BLOCK` rows); a conv
    /// batch stays whole and shares each layer's blocks. The parts depend on the batch size
    /// only, so the results do not depend on the number of threads.
    pub fn parts(&self) -> Vec<(usize, Grid)> {
        let rows = if self.kernel == 1 && self.height == 1 && self.width == 1 {
            DENSE_BLOCK
        } else {
            self.batch.max(1)
        };
        (0..self.batch)
            .step_by(rows)
            .map(|first| {
                let batch = rows.min(self.batch - first);
                (first, Grid { batch, ..*self })
            })
            .collect()
    }

    /// Floats of one image in NCHW order.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Pixels per block of the products.
    fn block(&self) -> usize {
        if self.kernel == 1 { DENSE_BLOCK } else { BLOCK }
    }

    /// Zero padding on each side: `k / 2`.
    pub fn pad(&self) -> usize {
        self.kernel / 2
    }

    /// Padded row length `W_p = W + 2·pad`.
    pub fn wp(&self) -> usize {
        self.width + 2 * self.pad()
    }

    /// Padded positions per image.
    fn image(&self) -> usize {
        (self.height + 2 * self.pad()) * self.wp()
    }

    /// Positions of the padded grid (window corners `q` range over them).
    pub fn positions(&self) -> usize {
        self.batch * self.image()
    }

    /// The farthest a window reaches from its corner: `(k − 1)·W_p + (k − 1)`.
    fn reach(&self) -> usize {
        (self.kernel - 1) * (self.wp() + 1)
    }

    /// From a window's corner to its centre: `pad·W_p + pad`.
    pub fn center(&self) -> usize {
        self.pad() * (self.wp() + 1)
    }

    /// Floats of an activation buffer: the grid and a zero margin for the last windows.
    pub fn len(&self) -> usize {
        (self.positions() + self.reach()) * self.channels
    }

    /// Whether the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.positions() == 0
    }

    /// Whether corner `q` is the window of an output pixel (not of the padding).
    pub fn valid(&self, q: usize) -> bool {
        let r = q % self.image();
        r / self.wp() < self.height && r % self.wp() < self.width
    }

    /// Pixels of the batch: `batch·height·width`.
    pub fn pixels(&self) -> usize {
        self.batch * self.height * self.width
    }

    /// The window corner of pixel `p`, pixels numbered image by image and row by row: the
    /// corner of `(b, i, j)` with `p = (b·H + i)·W + j`.
    pub fn pixel_corner(&self, p: usize) -> usize {
        let (row, j) = (p / self.width, p % self.width);
        self.corner(row / self.height, row % self.height, j)
    }

    /// The corner of pixel `(b, i, j)`.
    fn corner(&self, b: usize, i: usize, j: usize) -> usize {
        b * self.image() + i * self.wp() + j
    }

    /// An NCHW tensor's values as a padded buffer (images in parallel).
    pub fn pad_nchw(&self, nchw: &[f32]) -> Vec<f32> {
        assert_eq!(nchw.len(), self.batch * self.image_len(), "NCHW input size");
        let mut out = crate::buffers::zeroed(self.len());
        let len = self.positions() * self.channels;
        out[..len]
            .par_chunks_mut((self.image() * self.channels).max(1))
            .zip(nchw.par_chunks(self.image_len().max(1)))
            .with_min_len(self.images_per_task())
            .for_each(|(padded, image)| {
                self.walk_image(|at, ch, pixel, hw| padded[at + ch] = image[ch * hw + pixel])
            });
        out
    }

    /// A padded buffer's pixels in NCHW order (images in parallel).
    pub fn unpad_nchw(&self, padded: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; self.batch * self.image_len()];
        let len = self.positions() * self.channels;
        out.par_chunks_mut(self.image_len().max(1))
            .zip(padded[..len].par_chunks((self.image() * self.channels).max(1)))
            .with_min_len(self.images_per_task())
            .for_each(|(image, padded)| {
                self.walk_image(|at, ch, pixel, hw| image[ch * hw + pixel] = padded[at + ch])
            });
        out
    }

    /// Calls `f(at, ch, pixel, H·W)` for channel `ch` of every pixel of one image: `at` is the
    /// pixel's offset in the padded image, `pixel` its index `i·W + j` in an NCHW plane.
    fn walk_image(&self, mut f: impl FnMut(usize, usize, usize, usize)) {
        let (c, h, w) = (self.channels, self.height, self.width);
        for i in 0..h {
            for j in 0..w {
                let at = (self.corner(0, i, j) + self.center()) * c;
                for ch in 0..c {
                    f(at, ch, i * w + j, h * w);
                }
            }
        }
    }

    /// Images per parallel task of [`pad_nchw`](Self::pad_nchw): enough for ~16K floats, so
    /// that the dense layers' one-pixel images are not copied one task each.
    fn images_per_task(&self) -> usize {
        (16_384 / self.image_len().max(1)).max(1)
    }
}

/// The non-linearity of `H` the fast path computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `max(z, 0)`.
    Relu,
    /// `tanh z`.
    Tanh,
}

/// A non-linearity as a type, so that the gate loops are compiled once for each, without a
/// branch on it per element.
trait Nonlinearity {
    /// `act(z)`.
    fn value(z: f32) -> f32;
    /// `act'(z)` from `h = act(z)`.
    fn derivative(h: f32) -> f32;
}

struct Relu;

impl Nonlinearity for Relu {
    #[inline(always)]
    fn value(z: f32) -> f32 {
        z.max(0.0)
    }

    /// `h > 0` exactly where `z > 0`.
    #[inline(always)]
    fn derivative(h: f32) -> f32 {
        if h > 0.0 { 1.0 } else { 0.0 }
    }
}

struct Tanh;

impl Nonlinearity for Tanh {
    #[inline(always)]
    fn value(z: f32) -> f32 {
        z.tanh()
    }

    #[inline(always)]
    fn derivative(h: f32) -> f32 {
        1.0 - h * h
    }
}

/// `e^x` without a library call, so that a loop of it vectorises: Cephes' `expf` (the
/// argument reduced by `n·ln 2` with `n` rounded to nearest, a degree-6 polynomial on
/// `[−ln 2 / 2, ln 2 / 2]`, `2ⁿ` put into the exponent bits). Arguments are clamped to
/// `[−87, 88]`, where `2ⁿ` is a normal number; NaN stays NaN. Within two ulp of `f32::exp`
/// (tested).
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Adding and subtracting 1.5·2²³ rounds a float of magnitude below 2²² to an integer.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `σ(z) = 1 / (1 + e^{−z})`.
#[inline(always)]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp(-z))
}

/// The gate arithmetic of one position, forward: `z` (`[G·C]`, biases added) becomes
/// `H = act(z_H)`, `T = σ(z_T)` (and `C = σ(z_C)`) in place, and `out` gets
/// `y = H·T + x·(1 − T)` (coupled carry), `H·T + x·C` (free carry) or `H` (a plain layer).
fn gates_forward(act: Act, gates: usize, z: &mut [f32], x: &[f32], out: &mut [f32]) {
    match act {
        Act::Relu => gates_forward_with::<Relu>(gates, z, x, out),
        Act::Tanh => gates_forward_with::<Tanh>(gates, z, x, out),
    }
}

fn gates_forward_with<A: Nonlinearity>(gates: usize, z: &mut [f32], x: &[f32], out: &mut [f32]) {
    let c = out.len();
    let (h, rest) = z.split_at_mut(c);
    for v in h.iter_mut() {
        *v = A::value(*v);
    }
    match gates {
        1 => out.copy_from_slice(h),
        2 => {
            let t = &mut rest[..c];
            for v in t.iter_mut() {
                *v = sigmoid(*v);
            }
            for (((o, h), t), x) in out.iter_mut().zip(&*h).zip(&*t).zip(x) {
                *o = h * t + x * (1.0 - t);
            }
        }
        _ => {
            let (t, carry) = rest.split_at_mut(c);
            for v in t.iter_mut() {
                *v = sigmoid(*v);
            }
            for v in carry.iter_mut() {
                *v = sigmoid(*v);
            }
            let it = out.iter_mut().zip(&*h).zip(&*t).zip(&*carry).zip(x);
            for ((((o, h), t), cg), x) in it {
                *o = h * t + x * cg;
            }
        }
    }
}

/// The gate arithmetic of one position, backward: from `∂y` (`d`), the saved `H, T (, C)` and
/// the input `x`, writes `∂z` (`[G·C]`) and the carry part of `∂x`:
/// `∂z_H = ∂y·T·act'`, `∂z_T = ∂y·(H − x)·T(1 − T)` and `∂x = ∂y·(1 − T)` (coupled);
/// `∂z_T = ∂y·H·T(1 − T)`, `∂z_C = ∂y·x·C(1 − C)` and `∂x = ∂y·C` (free);
/// `∂z_H = ∂y·act'` and no carry part (plain).
fn gates_backward(
    act: Act,
    gates: usize,
    d: &[f32],
    saved: &[f32],
    x: &[f32],
    dz: &mut [f32],
    dx: &mut [f32],
) {
    match act {
        Act::Relu => gates_backward_with::<Relu>(gates, d, saved, x, dz, dx),
        Act::Tanh => gates_backward_with::<Tanh>(gates, d, saved, x, dz, dx),
    }
}

fn gates_backward_with<A: Nonlinearity>(
    gates: usize,
    d: &[f32],
    saved: &[f32],
    x: &[f32],
    dz: &mut [f32],
    dx: &mut [f32],
) {
    let c = d.len();
    let h = &saved[..c];
    let (dz_h, dz_rest) = dz.split_at_mut(c);
    if gates == 1 {
        for ((o, d), h) in dz_h.iter_mut().zip(d).zip(h) {
            *o = d * A::derivative(*h);
        }
        return;
    }
    let t = &saved[c..2 * c];
    for (((o, d), h), t) in dz_h.iter_mut().zip(d).zip(h).zip(t) {
        *o = d * t * A::derivative(*h);
    }
    if gates == 2 {
        let it = dz_rest
            .iter_mut()
            .zip(dx.iter_mut())
            .zip(d)
            .zip(h)
            .zip(t)
            .zip(x);
        for (((((dz_t, dx), d), h), t), x) in it {
            *dz_t = d * (h - x) * t * (1.0 - t);
            *dx = d * (1.0 - t);
        }
    } else {
        let carry = &saved[2 * c..3 * c];
        let (dz_t, dz_c) = dz_rest.split_at_mut(c);
        for (((o, d), h), t) in dz_t.iter_mut().zip(d).zip(h).zip(t) {
            *o = d * h * t * (1.0 - t);
        }
        let it = dz_c.iter_mut().zip(dx.iter_mut()).zip(d).zip(carry).zip(x);
        for ((((dz_c, dx), d), cg), x) in it {
            *dz_c = d * x * cg * (1.0 - cg);
            *dx = d * cg;
        }
    }
}

/// One layer's kernels and biases, packed for the products.
#[derive(Debug, Clone)]
pub struct LayerWeights {
    /// Gates: 1 (`H` alone: a plain layer), 2 (`H`, `T`; coupled carry) or 3 (and `C`).
    pub gates: usize,
    /// `[k²·C, G·C]`: row `(ky·k + kx)·C + c_in`, column `g·C + c_out`.
    forward: Vec<f32>,
    /// `[k²·G·C, C]` for `∂x`: row `ky·k·G·C + (k − 1 − kx)·G·C + g·C + c_out`, column `c_in`.
    backward: Vec<f32>,
    /// `[G·C]`: `b_H`, `b_T` (, `b_C`).
    bias: Vec<f32>,
}

impl LayerWeights {
    /// Packs the Burn-layout kernels `[C_out, C_in, k, k]` and biases `[C]` of `H`, `T` (and
    /// `C`), in that order; `H`'s alone for a plain layer.
    pub fn pack(grid: &Grid, kernels: &[&[f32]], biases: &[&[f32]]) -> Self {
        let (c, k) = (grid.channels, grid.kernel);
        let gates = kernels.len();
        assert!((1..=3).contains(&gates), "H, then T and optionally C");
        let gc = gates * c;
        let mut forward = crate::buffers::zeroed(k * k * c * gc);
        let mut backward = crate::buffers::zeroed(k * k * gc * c);
        for (g, w) in kernels.iter().enumerate() {
            assert_eq!(w.len(), c * c * k * k, "kernel size");
            for co in 0..c {
                for ci in 0..c {
                    for ky in 0..k {
                        for kx in 0..k {
                            let v = w[((co * c + ci) * k + ky) * k + kx];
                            forward[((ky * k + kx) * c + ci) * gc + g * c + co] = v;
                            let row = ky * k * gc + (k - 1 - kx) * gc + g * c + co;
                            backward[row * c + ci] = v;
                        }
                    }
                }
            }
        }
        Self::with_biases(gates, forward, backward, biases)
    }

    /// Packs the weights of a dense layer (a [`Grid::dense`]) in Burn's `Linear` layout
    /// `[C_in, C_out]` (`y = x·W`) and its biases `[C]`, for `H`, `T` (and `C`) in that order;
    /// `H`'s alone for a plain layer.
    pub fn pack_dense(grid: &Grid, weights: &[&[f32]], biases: &[&[f32]]) -> Self {
        let c = grid.channels;
        assert_eq!(grid.kernel, 1, "a dense layer's grid");
        let gates = weights.len();
        assert!((1..=3).contains(&gates), "H, then T and optionally C");
        let gc = gates * c;
        let mut forward = crate::buffers::zeroed(c * gc);
        let mut backward = crate::buffers::zeroed(gc * c);
        for (g, w) in weights.iter().enumerate() {
            assert_eq!(w.len(), c * c, "weight size");
            for ci in 0..c {
                for co in 0..c {
                    let v = w[ci * c + co];
                    forward[ci * gc + g * c + co] = v;
                    backward[(g * c + co) * c + ci] = v;
                }
            }
        }
        Self::with_biases(gates, forward, backward, biases)
    }

    /// Returns the buffers for reuse ([`buffers`](crate::buffers)).
    pub fn recycle(self) {
        crate::buffers::recycle(self.forward);
        crate::buffers::recycle(self.backward);
    }

    fn with_biases(gates: usize, forward: Vec<f32>, backward: Vec<f32>, biases: &[&[f32]]) -> Self {
        assert_eq!(biases.len(), gates);
        Self {
            gates,
            forward,
            backward,
            bias: biases.iter().flat_map(|b| b.iter().copied()).collect(),
        }
    }
}

/// One layer's weight and bias gradients, packed as [`LayerWeights`]'s forward matrix.
#[derive(Debug, Clone)]
pub struct LayerGradients {
    gates: usize,
    channels: usize,
    kernel: usize,
    /// `[k²·C, G·C]`.
    weight: Vec<f32>,
    /// `[G·C]`.
    bias: Vec<f32>,
}

impl LayerGradients {
    /// The gradient of gate `g`'s kernel (0: `H`, 1: `T`, 2: `C`) in Burn's layout
    /// `[C_out, C_in, k, k]`.
    pub fn kernel(&self, g: usize) -> Vec<f32> {
        let (c, k, gc) = (self.channels, self.kernel, self.gates * self.channels);
        let mut out = vec![0.0; c * c * k * k];
        for co in 0..c {
            for ci in 0..c {
                for ky in 0..k {
                    for kx in 0..k {
                        out[((co * c + ci) * k + ky) * k + kx] =
                            self.weight[((ky * k + kx) * c + ci) * gc + g * c + co];
                    }
                }
            }
        }
        out
    }

    /// Returns the buffers for reuse ([`buffers`](crate::buffers)).
    pub fn recycle(self) {
        crate::buffers::recycle(self.weight);
        crate::buffers::recycle(self.bias);
    }

    /// Adds `other` (the gradients of the same layer on another part of the batch).
    pub fn add(&mut self, other: &LayerGradients) {
        for (s, v) in self.weight.iter_mut().zip(&other.weight) {
            *s += v;
        }
        for (s, v) in self.bias.iter_mut().zip(&other.bias) {
            *s += v;
        }
    }

    /// The gradient of gate `g`'s weight of a dense layer in Burn's `Linear` layout
    /// `[C_in, C_out]`.
    pub fn linear(&self, g: usize) -> Vec<f32> {
        assert_eq!(self.kernel, 1, "a dense layer's gradients");
        let (c, gc) = (self.channels, self.gates * self.channels);
        self.weight
            .chunks(gc)
            .flat_map(|row| row[g * c..(g + 1) * c].iter().copied())
            .collect()
    }

    /// The gradient of gate `g`'s bias `[C]`.
    pub fn bias(&self, g: usize) -> Vec<f32> {
        self.bias[g * self.channels..(g + 1) * self.channels].to_vec()
    }
}

/// `dst[m × n] (+)= lhs[m × k] · rhs[k × n]` on one thread, `dst` and `rhs` row-major and
/// contiguous, `lhs` read through its strides `(along k, along m)`.
#[allow(clippy::too_many_arguments)]
fn gemm_into(
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    m: usize,
    n: usize,
    k: usize,
) {
    debug_assert!(dst.len() >= m * n && rhs.len() >= k * n);
    debug_assert!(lhs.len() > (k - 1) * lhs_strides.0 + (m - 1) * lhs_strides.1);
    // SAFETY: the asserts above: every element the strides reach is inside its slice.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_strides.0 as isize,
            lhs_strides.1 as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `dst[rows × n] (+)= lhs[rows × k] · rhs[k × n]`, all row-major and contiguous, one thread.
fn product(dst: &mut [f32], accumulate: bool, lhs: &[f32], rhs: &[f32], rows: usize, k: usize) {
    gemm_into(dst, accumulate, lhs, (1, k), rhs, rows, rhs.len() / k, k);
}

/// `dst[k × n] += lhs[rows × k]ᵀ · rhs[rows × n]`, one thread.
fn product_transposed(dst: &mut [f32], lhs: &[f32], rhs: &[f32], rows: usize, k: usize) {
    gemm_into(dst, true, lhs, (k, 1), rhs, k, rhs.len() / rows, rows);
}

/// Copies `rows` windows into `cols` (`[rows, k·k·w]`, `w` floats per position of `src`): for
/// row `i` and kernel row `ky`, the run of `k·w` floats from position `start(i, ky)`.
fn gather(
    grid: &Grid,
    src: &[f32],
    w: usize,
    rows: usize,
    cols: &mut [f32],
    start: impl Fn(usize, usize) -> usize,
) {
    let k = grid.kernel;
    let run = k * w;
    for i in 0..rows {
        for ky in 0..k {
            let at = start(i, ky) * w;
            let to = (i * k + ky) * run;
            cols[to..to + run].copy_from_slice(&src[at..at + run]);
        }
    }
}

/// The corners of pixels `first..first + rows` ([`Grid::pixel_corner`]) into `corners`.
fn pixel_corners(grid: &Grid, first: usize, rows: usize, corners: &mut Vec<usize>) {
    corners.clear();
    corners.extend((first..first + rows).map(|p| grid.pixel_corner(p)));
}

/// The windows of the corners `corners` of `x`: kernel row `ky` of corner `q` starts at
/// `q + ky·W_p`.
fn gather_windows(grid: &Grid, x: &[f32], corners: &[usize], cols: &mut [f32]) {
    let wp = grid.wp();
    gather(grid, x, grid.channels, corners.len(), cols, |i, ky| {
        corners[i] + ky * wp
    });
}

/// The saved state of one layer's forward: `H`, `T` (and `C`) of every pixel (`[pixels,
/// G·C]`, pixels in [`Grid::pixel_corner`] order), from which the backward needs no
/// exponential.
#[derive(Debug, Clone)]
pub struct Saved {
    gates: Vec<f32>,
}

impl Saved {
    /// Returns the buffer for reuse ([`buffers`](crate::buffers)).
    pub fn recycle(self) {
        crate::buffers::recycle(self.gates);
    }
}

/// One layer forward: reads the padded input `x` and writes the padded output `y` (its padding
/// is left as it is: zero in a fresh buffer). Returns what backward needs.
///
/// Only the windows of pixels are computed: a block is `BLOCK` consecutive pixels
/// ([`Grid::pixel_corner`]), whose windows are gathered row by row.
pub fn forward(grid: &Grid, weights: &LayerWeights, act: Act, x: &[f32], y: &mut [f32]) -> Saved {
    let (c, k) = (grid.channels, grid.kernel);
    let gc = weights.gates * c;
    let kkc = k * k * c;
    let center = grid.center();
    assert!(x.len() == grid.len() && y.len() == grid.len());
    let block = grid.block();
    let mut z = crate::buffers::zeroed(grid.pixels() * gc);
    // Each block writes its rows of `z` and its pixels of `y`: disjoint ranges of both.
    let y_ptr = SharedMut(y.as_mut_ptr());
    z.par_chunks_mut(block * gc).enumerate().for_each_init(
        || (vec![0.0f32; block * kkc], Vec::with_capacity(block)),
        |(cols, corners), (blk, zb)| {
            let rows = zb.len() / gc;
            pixel_corners(grid, blk * block, rows, corners);
            gather_windows(grid, x, corners, cols);
            product(zb, false, cols, &weights.forward, rows, kkc);
            for (zq, &q) in zb.chunks_exact_mut(gc).zip(corners.iter()) {
                // z, then H, T (C) in its place.
                for (v, b) in zq.iter_mut().zip(&weights.bias) {
                    *v += b;
                }
                let at = (q + center) * c;
                // SAFETY: pixel `q`'s channels are written by this block only.
                let out = unsafe { y_ptr.slice(at, c) };
                gates_forward(act, weights.gates, zq, &x[at..at + c], out);
            }
        },
    );
    Saved { gates: z }
}

/// A raw pointer that blocks share to write disjoint ranges.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: every user writes ranges no other thread touches.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The `len` values from `offset` on, to write.
    ///
    /// # Safety
    ///
    /// They are in the buffer, and no other thread reads or writes them while the slice lives.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, offset: usize, len: usize) -> &mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

/// One layer backward: from the layer's input `x`, its [`Saved`] forward and `dy` (padded, as
/// `y`; only pixels are read) returns `∂x` (padded; its padding is zero) and the weight and
/// bias gradients.
pub fn backward(
    grid: &Grid,
    weights: &LayerWeights,
    act: Act,
    x: &[f32],
    saved: &Saved,
    dy: &[f32],
) -> (Vec<f32>, LayerGradients) {
    let (c, k) = (grid.channels, grid.kernel);
    let g = weights.gates;
    let gc = g * c;
    let kkc = k * k * c;
    let center = grid.center();
    let reach = grid.reach();
    let pixels = grid.pixels();
    // ∂z at every corner (zero at those of the padding), with `reach` zero rows in front, so
    // that windows read backwards stay in bounds.
    let mut dz = crate::buffers::zeroed((reach + grid.positions()) * gc);
    let mut dx = crate::buffers::zeroed(grid.len());
    let block = grid.block();
    let blocks = pixels.div_ceil(block);
    let per_group = blocks.div_ceil(GROUPS).max(1);
    let dx_ptr = SharedMut(dx.as_mut_ptr());
    let dz_ptr = SharedMut(dz.as_mut_ptr());
    // Pass 1: ∂z and the carry part of ∂x per block; weight gradients per group of blocks.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = (0..blocks.div_ceil(per_group))
        .into_par_iter()
        .map(|group| {
            let mut dw = vec![0.0f32; kkc * gc];
            let mut db = vec![0.0f32; gc];
            let mut cols = vec![0.0f32; block * kkc];
            let mut dzb = vec![0.0f32; block * gc];
            let mut corners = Vec::with_capacity(block);
            for blk in group * per_group..((group + 1) * per_group).min(blocks) {
                let first = blk * block;
                let rows = block.min(pixels - first);
                pixel_corners(grid, first, rows, &mut corners);
                for (i, &q) in corners.iter().enumerate() {
                    let sq = &saved.gates[(first + i) * gc..(first + i + 1) * gc];
                    let dq = &mut dzb[i * gc..(i + 1) * gc];
                    let at = (q + center) * c;
                    // SAFETY: pixel `q`'s channels and corner `q`'s row of ∂z are written by
                    // this block only.
                    let dxq = unsafe { dx_ptr.slice(at, c) };
                    let (dyq, xq) = (&dy[at..at + c], &x[at..at + c]);
                    gates_backward(act, g, dyq, sq, xq, dq, dxq);
                    for (s, v) in db.iter_mut().zip(dq.iter()) {
                        *s += v;
                    }
                    unsafe { dz_ptr.slice((reach + q) * gc, gc) }.copy_from_slice(dq);
                }
                gather_windows(grid, x, &corners, &mut cols);
                product_transposed(&mut dw, &cols, &dzb[..rows * gc], rows, kkc);
            }
            (dw, db)
        })
        .collect();
    let mut weight = crate::buffers::zeroed(kkc * gc);
    let mut bias = crate::buffers::zeroed(gc);
    for (dw, db) in &partials {
        for (s, v) in weight.iter_mut().zip(dw) {
            *s += v;
        }
        for (s, v) in bias.iter_mut().zip(db) {
            *s += v;
        }
    }
    // Pass 2: ∂x(r) += Σ ∂z(r − ky·W_p − kx)·W_{ky,kx}ᵀ, per block of pixels r.
    let kkgc = k * k * gc;
    let dz_rows = &dz;
    (0..blocks).into_par_iter().for_each_init(
        || {
            let cols = vec![0.0f32; block * kkgc];
            (cols, vec![0.0f32; block * c], Vec::with_capacity(block))
        },
        |(cols, dxb, corners), blk| {
            let first = blk * block;
            let rows = block.min(pixels - first);
            pixel_corners(grid, first, rows, corners);
            // Kernel row ky of pixel r = q + centre: the k positions of ∂z from
            // r − ky·W_p − (k − 1) (read backwards in kx by the packing of
            // `weights.backward`), which is row r + (k − 1 − ky)·W_p of the buffer with its
            // `reach` leading rows.
            let wp = grid.wp();
            gather(grid, dz_rows, gc, rows, cols, |i, ky| {
                corners[i] + center + (k - 1 - ky) * wp
            });
            product(
                &mut dxb[..rows * c],
                false,
                cols,
                &weights.backward,
                rows,
                kkgc,
            );
            for (d, &q) in dxb.chunks_exact(c).zip(corners.iter()) {
                // SAFETY: pixel `q`'s channels are written by this block only.
                let dxq = unsafe { dx_ptr.slice((q + center) * c, c) };
                for (s, v) in dxq.iter_mut().zip(d) {
                    *s += v;
                }
            }
        },
    );
    crate::buffers::recycle(dz);
    (
        dx,
        LayerGradients {
            gates: g,
            channels: c,
            kernel: k,
            weight,
            bias,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid {
            batch: 2,
            height: 3,
            width: 4,
            channels: 2,
            kernel: 3,
        }
    }

    #[test]
    fn padding_round_trips_and_only_pixels_are_valid() {
        let g = grid();
        let nchw: Vec<f32> = (0..2 * 2 * 3 * 4).map(|v| v as f32 + 1.0).collect();
        let padded = g.pad_nchw(&nchw);
        assert_eq!(padded.len(), g.len());
        assert_eq!(g.unpad_nchw(&padded), nchw);
        // Every value once, the rest zero padding.
        assert_eq!(padded.iter().filter(|v| **v != 0.0).count(), nchw.len());
        let valid: Vec<usize> = (0..g.positions()).filter(|&q| g.valid(q)).collect();
        assert_eq!(valid.len(), 2 * 3 * 4);
        // The blocks' pixels are exactly the valid corners, in order.
        let pixels: Vec<usize> = (0..g.pixels()).map(|p| g.pixel_corner(p)).collect();
        assert_eq!(pixels, valid);
        // Pixel (b=1, c=1, i=2, j=3) sits at corner (1, 2, 3) + centre.
        let q = g.corner(1, 2, 3) + g.center();
        assert_eq!(padded[q * 2 + 1], nchw[((2 + 1) * 3 + 2) * 4 + 3]);
    }

    /// The layer by its definition, one output at a time.
    fn direct(g: &Grid, w: &[Vec<f32>], b: &[Vec<f32>], x: &[f32]) -> Vec<f32> {
        let (c, k, h, wd) = (g.channels, g.kernel, g.height, g.width);
        let p = k as isize / 2;
        let at = |bi: usize, ch: usize, i: isize, j: isize| -> f32 {
            if i < 0 || j < 0 || i >= h as isize || j >= wd as isize {
                return 0.0;
            }
            x[((bi * c + ch) * h + i as usize) * wd + j as usize]
        };
        let mut y = vec![0.0; x.len()];
        for bi in 0..g.batch {
            for co in 0..c {
                for i in 0..h {
                    for j in 0..wd {
                        let z = |gate: usize| {
                            let mut s = b[gate][co];
                            for ci in 0..c {
                                for ky in 0..k {
                                    for kx in 0..k {
                                        let v = at(
                                            bi,
                                            ci,
                                            i as isize + ky as isize - p,
                                            j as isize + kx as isize - p,
                                        );
                                        s += w[gate][((co * c + ci) * k + ky) * k + kx] * v;
                                    }
                                }
                            }
                            s
                        };
                        let t = 1.0 / (1.0 + (-z(1)).exp());
                        let xv = at(bi, co, i as isize, j as isize);
                        y[((bi * c + co) * h + i) * wd + j] = z(0).max(0.0) * t + xv * (1.0 - t);
                    }
                }
            }
        }
        y
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_the_library_exp() {
        let mut worst = 0.0f64;
        for i in 0..=1_750_000 {
            let x = -87.0 + i as f32 * 1e-4;
            let (fast, reference) = (exp(x) as f64, x.exp() as f64);
            worst = worst.max((fast - reference).abs() / reference);
        }
        // f32's ulp is 2^-23 ≈ 1.2e-7 relative.
        assert!(worst < 2.5e-7, "relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
        // Clamped at the ends: finite, and the sigmoid saturates to 0 and 1.
        assert!(exp(1000.0).is_finite() && exp(-1000.0) > 0.0);
        assert!(sigmoid(-1000.0) < 1e-37 && sigmoid(1000.0) == 1.0);
        assert!((sigmoid(0.5) - 1.0 / (1.0 + (-0.5f32).exp())).abs() < 1e-7);
    }

    #[test]
    fn forward_equals_the_definition() {
        let g = grid();
        let n = g.channels * g.channels * 9;
        let wave = |s: f32, len: usize| {
            (0..len)
                .map(|i| ((i as f32 + s) * 0.37).sin() * 0.5)
                .collect::<Vec<_>>()
        };
        let w = vec![wave(1.0, n), wave(2.0, n)];
        let b = vec![wave(3.0, 2), wave(4.0, 2)];
        let x = wave(5.0, 2 * 2 * 3 * 4);
        let weights = LayerWeights::pack(&g, &[&w[0], &w[1]], &[&b[0], &b[1]]);
        let mut y = vec![0.0; g.len()];
        forward(&g, &weights, Act::Relu, &g.pad_nchw(&x), &mut y);
        let expected = direct(&g, &w, &b, &x);
        for (a, e) in g.unpad_nchw(&y).iter().zip(&expected) {
            assert!((a - e).abs() < 1e-5, "{a} vs {e}");
        }
        // The output's padding stays zero: it is the next layer's padded input.
        let pixels: f32 = g.unpad_nchw(&y).iter().map(|v| v.abs()).sum();
        let all: f32 = y.iter().map(|v| v.abs()).sum();
        assert!((pixels - all).abs() < 1e-4);
    }
}
