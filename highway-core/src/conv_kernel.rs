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

mod gates;

pub use gates::{Act, gates_backward, gates_forward};

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

/// One layer's kernels and biases, packed for the products.
#[derive(Debug, Clone)]
pub struct LayerWeights {
    /// Gates: 1 (`H` alone: a plain layer), 2 (`H`, `T`; coupled carry) or 3 (and `C`).
    pub gates: usize,
    /// `[k²·C, G·C]`: row `(ky·k + kx)·C + c_in`, column `g·C + c_out`.
    forward: Vec<f32>,
    /// `[k²·G·C, C]` for `∂x`: row `ky·k·G·C + (k − 1 − kx)·G·C + g·C + c_out`, column `c_in`.
    /// Empty for a 1×1 kernel (a dense layer's too), whose `∂x` product reads `forward`
    /// transposed.
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
        // Every value of both is written below. A 1×1 kernel's `∂x` product reads `forward`
        // transposed, and has no backward matrix.
        let mut forward = crate::buffers::for_overwrite(k * k * c * gc);
        let mut backward = match k {
            1 => Vec::new(),
            _ => crate::buffers::for_overwrite(k * k * gc * c),
        };
        for (g, w) in kernels.iter().enumerate() {
            assert_eq!(w.len(), c * c * k * k, "kernel size");
            for co in 0..c {
                for ci in 0..c {
                    for ky in 0..k {
                        for kx in 0..k {
                            let v = w[((co * c + ci) * k + ky) * k + kx];
                            forward[((ky * k + kx) * c + ci) * gc + g * c + co] = v;
                            if k > 1 {
                                let row = ky * k * gc + (k - 1 - kx) * gc + g * c + co;
                                backward[row * c + ci] = v;
                            }
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
        // Every value is written below. With a 1×1 kernel the backward matrix would be
        // `forward`'s transpose, which the `∂x` product reads in place.
        let mut forward = crate::buffers::for_overwrite(c * gc);
        for (g, w) in weights.iter().enumerate() {
            assert_eq!(w.len(), c * c, "weight size");
            for (ci, row) in w.chunks_exact(c).enumerate() {
                forward[ci * gc + g * c..][..c].copy_from_slice(row);
            }
        }
        Self::with_biases(gates, forward, Vec::new(), biases)
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
        let mut out = Vec::with_capacity(c * c);
        for row in self.weight.chunks_exact(gc) {
            out.extend_from_slice(&row[g * c..(g + 1) * c]);
        }
        out
    }

    /// The gradient of gate `g`'s bias `[C]`.
    pub fn bias(&self, g: usize) -> Vec<f32> {
        self.bias[g * self.channels..(g + 1) * self.channels].to_vec()
    }
}

/// `dst[m × n] (+)= lhs[m × k] · rhs[k × n]` on one thread, `dst` row-major and contiguous,
/// `lhs` read through its strides `(along k, along m)` and `rhs` through its strides `(along
/// n, along k)`.
#[allow(clippy::too_many_arguments)]
fn gemm_into(
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    m: usize,
    n: usize,
    k: usize,
) {
    debug_assert!(dst.len() >= m * n);
    debug_assert!(lhs.len() > (k - 1) * lhs_strides.0 + (m - 1) * lhs_strides.1);
    debug_assert!(rhs.len() > (n - 1) * rhs_strides.0 + (k - 1) * rhs_strides.1);
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
            rhs_strides.0 as isize,
            rhs_strides.1 as isize,
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
    let n = rhs.len() / k;
    gemm_into(dst, accumulate, lhs, (1, k), rhs, (1, n), rows, n, k);
}

/// `dst[rows × n] = lhs[rows × k] · rhsᵀ` for `rhs` `[n × k]`, all row-major and contiguous,
/// one thread.
fn product_rhs_transposed(dst: &mut [f32], lhs: &[f32], rhs: &[f32], rows: usize, k: usize) {
    let n = rhs.len() / k;
    gemm_into(dst, false, lhs, (1, k), rhs, (k, 1), rows, n, k);
}

/// `dst[k × n] += lhs[rows × k]ᵀ · rhs[rows × n]`, one thread.
fn product_transposed(dst: &mut [f32], lhs: &[f32], rhs: &[f32], rows: usize, k: usize) {
    let n = rhs.len() / rows;
    gemm_into(dst, true, lhs, (k, 1), rhs, (1, n), k, n, rows);
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

/// `len` floats for the gathered windows of a block, none with a 1×1 kernel (whose windows
/// are read in place).
fn gathered(grid: &Grid, len: usize) -> usize {
    if grid.kernel == 1 { 0 } else { len }
}

/// The windows of the corners `corners` of `x`, those of the pixels from pixel `first` on, as
/// rows of `[k²·C]`: kernel row `ky` of corner `q` starts at `q + ky·W_p`. They are gathered
/// into `cols`, except with a 1×1 kernel, whose windows are the pixels' own rows of `x`, one
/// after another (no padding: pixel `p`'s corner is `p`), read in place.
fn gather_windows<'a>(
    grid: &Grid,
    x: &'a [f32],
    first: usize,
    corners: &[usize],
    cols: &'a mut [f32],
) -> &'a [f32] {
    let (c, rows) = (grid.channels, corners.len());
    if grid.kernel == 1 {
        return &x[first * c..(first + rows) * c];
    }
    let wp = grid.wp();
    gather(grid, x, c, rows, cols, |i, ky| corners[i] + ky * wp);
    cols
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
    // Every row is written by its block's product.
    let mut z = crate::buffers::for_overwrite(grid.pixels() * gc);
    // Each block writes its rows of `z` and its pixels of `y`: disjoint ranges of both.
    let y_ptr = SharedMut(y.as_mut_ptr());
    z.par_chunks_mut(block * gc).enumerate().for_each_init(
        || {
            (
                vec![0.0f32; gathered(grid, block * kkc)],
                Vec::with_capacity(block),
            )
        },
        |(cols, corners), (blk, zb)| {
            let rows = zb.len() / gc;
            pixel_corners(grid, blk * block, rows, corners);
            let windows = gather_windows(grid, x, blk * block, corners, cols);
            product(zb, false, windows, &weights.forward, rows, kkc);
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
    // With a 1×1 kernel every corner is a pixel's, so every row of ∂z is written below; and a
    // gated layer writes the carry part of every pixel's ∂x before pass 2 adds to it.
    let dense = k == 1;
    let mut dz = match dense {
        true => crate::buffers::for_overwrite(grid.positions() * gc),
        false => crate::buffers::zeroed((reach + grid.positions()) * gc),
    };
    let mut dx = match dense && g > 1 {
        true => crate::buffers::for_overwrite(grid.len()),
        false => crate::buffers::zeroed(grid.len()),
    };
    let block = grid.block();
    let blocks = pixels.div_ceil(block);
    let per_group = blocks.div_ceil(GROUPS).max(1);
    let dx_ptr = SharedMut(dx.as_mut_ptr());
    let dz_ptr = SharedMut(dz.as_mut_ptr());
    // Pass 1: ∂z and the carry part of ∂x per block; weight gradients per group of blocks.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = (0..blocks.div_ceil(per_group))
        .into_par_iter()
        .map(|group| {
            let mut dw = crate::buffers::zeroed(kkc * gc);
            let mut db = crate::buffers::zeroed(gc);
            let mut cols = vec![0.0f32; gathered(grid, block * kkc)];
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
                let windows = gather_windows(grid, x, first, &corners, &mut cols);
                product_transposed(&mut dw, windows, &dzb[..rows * gc], rows, kkc);
            }
            (dw, db)
        })
        .collect();
    // The groups' sums added in order to the first group's.
    let mut partials = partials.into_iter();
    let (mut weight, mut bias) = partials.next().expect("at least one group of blocks");
    for (dw, db) in partials {
        for (s, v) in weight.iter_mut().zip(&dw) {
            *s += v;
        }
        for (s, v) in bias.iter_mut().zip(&db) {
            *s += v;
        }
    }
    // Pass 2: ∂x(r) += Σ ∂z(r − ky·W_p − kx)·W_{ky,kx}ᵀ, per block of pixels r.
    let kkgc = k * k * gc;
    let dz_rows = &dz;
    (0..blocks).into_par_iter().for_each_init(
        || {
            let cols = vec![0.0f32; gathered(grid, block * kkgc)];
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
            let dxb = &mut dxb[..rows * c];
            if k == 1 {
                // The pixels' own rows of ∂z, one after another (no padding, no leading rows).
                let dz = &dz_rows[first * gc..(first + rows) * gc];
                product_rhs_transposed(dxb, dz, &weights.forward, rows, gc);
            } else {
                let wp = grid.wp();
                gather(grid, dz_rows, gc, rows, cols, |i, ky| {
                    corners[i] + center + (k - 1 - ky) * wp
                });
                product(dxb, false, cols, &weights.backward, rows, kkgc);
            }
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
mod tests;
