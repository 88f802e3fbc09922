//! The CPU fast path of [`softmax_cross_entropy`](crate::softmax_cross_entropy): the same loss
//! and gradients (the closed form in the [`softmax_loss`](crate::softmax_loss) docs) computed on
//! the host in one pass over the logits.
//!
//! The product `h·W` is written once, into memory that is not zeroed first; then each row,
//! while it is in cache, gets `b` added and becomes `∂L/∂logits`: its maximum, `exp(logit − max)`
//! and their sum, the row's loss `log Σ + max − logit_y`, the scaling by `scale / (N·Σ)`, the
//! target's `−scale/N`, and the row added into `∂L/∂b`. `∂L/∂h` and `∂L/∂W` are two more
//! products that read `W` and `h` through their strides (no transposed copy). Burn's tensor
//! ops (the readable form beside it) make about ten passes over the `[tokens, vocab]` logits
//! and call the C library's scalar `expf` per element; this form makes one, with an `exp`
//! that vectorises ([`highway_core::fast_exp`]). On x86-64 the row pass is compiled a second
//! time for AVX2 with FMA and picked at run time ([`highway_core::simd`]); elsewhere (ARM, or
//! an x86 CPU without AVX2) the same loops run as the compiler vectorises them for the target
//! (NEON, SSE2).
//!
//! `softmax_loss`'s tests hold it to the tensor form and to autodiff.

use gemm::Parallelism;
use highway_core::fast_exp::exp;
use rayon::prelude::*;

/// The loss and gradients of [`softmax_cross_entropy_host`], as values.
#[derive(Debug, Clone)]
pub struct HostSoftmaxLoss {
    /// Mean cross-entropy per token (unscaled).
    pub mean: f64,
    /// `∂L/∂h`, `[tokens, d]` row-major.
    pub d_h: Vec<f32>,
    /// `∂L/∂W`, row-major in the layout of `W` (`[d, vocab]` or `[vocab, d]`).
    pub d_w: Vec<f32>,
    /// `∂L/∂b`, `[vocab]`.
    pub d_b: Vec<f32>,
}

/// How the softmax layer's `W` is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightLayout {
    /// `[d, vocab]`: `logits = h·W`.
    Columns,
    /// `[vocab, d]`, the embedding's layout when the two are tied (`logits = h·Eᵀ`).
    Rows,
}

/// A matrix operand: its values and the strides of its rows and its columns.
#[derive(Clone, Copy)]
struct Operand<'a> {
    values: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Operand<'a> {
    fn row_major(values: &'a [f32], cols: usize) -> Self {
        Self {
            values,
            row_stride: cols,
            col_stride: 1,
        }
    }

    fn transposed(self) -> Self {
        Self {
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether `[rows, cols]` elements at these strides lie inside the values.
    fn holds(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.values.len()
    }
}

/// `lhs [m, k] · rhs [k, n]`, row-major, over the rayon threads. The result is written into
/// fresh memory, never zeroed first (a `[700, 10000]` product's 28 MB, which one thread zeroed
/// or filled while the other waited).
fn product(lhs: Operand, rhs: Operand, (m, k, n): Shape) -> Vec<f32> {
    assert!(lhs.holds(m, k) && rhs.holds(k, n));
    let mut dst: Vec<f32> = Vec::with_capacity(m * n);
    // SAFETY: the assert: every element the strides address lies inside its slice. `dst` has
    // room for the `m·n` values, which `gemm` writes without reading them (`read_dst` false),
    // so they are all initialised when the length is set.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.values.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.values.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::Rayon(0),
        );
        dst.set_len(m * n);
    }
    dst
}

/// `(m, k, n)` of a product.
type Shape = (usize, usize, usize);

/// [`softmax_cross_entropy`](crate::softmax_cross_entropy) on host values: `h` `[tokens, d]`,
/// `w` as `layout` says (`∂L/∂W` comes back in the same layout), `b` `[vocab]`, `targets`
/// `[tokens]`, each below `vocab`; all row-major.
///
/// # Panics
///
/// If the lengths do not fit these shapes or a target is not below `vocab` (the callers check
/// their data; an out-of-range target is a bug, not an input error).
pub fn softmax_cross_entropy_host(
    h: &[f32],
    w: &[f32],
    layout: WeightLayout,
    b: &[f32],
    targets: &[usize],
    scale: f64,
) -> HostSoftmaxLoss {
    let (n, vocab) = (targets.len(), b.len());
    assert!(n > 0 && vocab > 0, "softmax loss of no tokens or no words");
    let d = h.len() / n;
    assert_eq!(h.len(), n * d, "h is not [tokens, d]");
    assert_eq!(w.len(), d * vocab, "w does not hold d × vocab values");
    assert!(
        targets.iter().all(|&t| t < vocab),
        "a target is not below the vocabulary size {vocab}"
    );
    let h_op = Operand::row_major(h, d);
    // W as the [d, vocab] matrix of `logits = h·W`.
    let w_op = match layout {
        WeightLayout::Columns => Operand::row_major(w, vocab),
        WeightLayout::Rows => Operand::row_major(w, d).transposed(),
    };
    // h·W; the row pass adds b.
    let mut logits = product(h_op, w_op, (n, d, vocab));
    let g = (scale / n as f64) as f32;
    let (loss_sum, d_b) = rows_to_gradients(&mut logits, targets, b, g);
    let d_logits = Operand::row_major(&logits, vocab);
    // ∂L/∂h [n, d] = ∂L/∂logits [n, vocab] · Wᵀ [vocab, d].
    let d_h = product(d_logits, w_op.transposed(), (n, vocab, d));
    // ∂L/∂W = hᵀ·∂L/∂logits [d, vocab], or its transpose ∂L/∂logitsᵀ·h [vocab, d].
    let d_w = match layout {
        WeightLayout::Columns => product(h_op.transposed(), d_logits, (d, n, vocab)),
        WeightLayout::Rows => product(d_logits.transposed(), h_op, (vocab, n, d)),
    };
    HostSoftmaxLoss {
        mean: loss_sum / n as f64,
        d_h,
        d_w,
        d_b,
    }
}

/// Rows per task of the row pass: a fixed number, so that the sums of the loss and of `∂L/∂b`
/// (over the tasks, in order) do not depend on the number of threads.
const ROWS_PER_TASK: usize = 64;

/// Turns every row of `h·W` (`[tokens, vocab]`) into `g·(p − onehot(y))` for the logits
/// `h·W + b`, in place, in tasks of [`ROWS_PER_TASK`] rows over the rayon threads; returns the
/// sum of the rows' losses and `∂L/∂b` (the sum of the rows).
fn rows_to_gradients(logits: &mut [f32], targets: &[usize], b: &[f32], g: f32) -> (f64, Vec<f32>) {
    let vocab = b.len();
    let partials: Vec<(f64, Vec<f32>)> = logits
        .par_chunks_mut(ROWS_PER_TASK * vocab)
        .zip(targets.par_chunks(ROWS_PER_TASK))
        .map(|(rows, targets)| {
            let mut d_b = vec![0.0f32; vocab];
            let loss = rows_pass(rows, targets, b, g, &mut d_b);
            (loss, d_b)
        })
        .collect();
    let mut d_b = vec![0.0f32; vocab];
    let mut loss = 0.0;
    for (l, part) in partials {
        loss += l;
        for (a, p) in d_b.iter_mut().zip(&part) {
            *a += p;
        }
    }
    (loss, d_b)
}

/// [`rows_body`], on AVX2 with FMA where the CPU has them ([`highway_core::simd`]).
fn rows_pass(rows: &mut [f32], targets: &[usize], b: &[f32], g: f32, d_b: &mut [f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if highway_core::simd::avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { rows_avx2(rows, targets, b, g, d_b) };
    }
    rows_body(rows, targets, b, g, d_b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn rows_avx2(rows: &mut [f32], targets: &[usize], b: &[f32], g: f32, d_b: &mut [f32]) -> f64 {
    rows_body(rows, targets, b, g, d_b)
}

/// Lanes of the row loops' partial maxima and sums: wide enough for the compiler to keep
/// them in vector registers (two AVX2 registers).
const LANES: usize = 16;

/// The row pass: each row of `rows` (`h·W`, `vocab = d_b.len()` wide) becomes the logits
/// `h·W + b` and then `g·(p − onehot(y))`, `d_b` gets the rows added; returns the sum of the
/// rows' losses.
#[inline(always)]
fn rows_body(rows: &mut [f32], targets: &[usize], b: &[f32], g: f32, d_b: &mut [f32]) -> f64 {
    let vocab = d_b.len();
    let mut loss = 0.0f64;
    for (row, &target) in rows.chunks_exact_mut(vocab).zip(targets) {
        let max = add_bias_and_max(row, b);
        let target_logit = row[target];
        // exp(logit − max) in place, summed in lanes (a NaN logit makes the sum NaN).
        let mut lanes = [0.0f32; LANES];
        let mut chunks = row.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            for (v, s) in chunk.iter_mut().zip(&mut lanes) {
                *v = exp(*v - max);
                *s += *v;
            }
        }
        let mut sum: f32 = 0.0;
        for v in chunks.into_remainder() {
            *v = exp(*v - max);
            sum += *v;
        }
        let sum = sum + lanes.iter().sum::<f32>();
        loss += f64::from(sum).ln() + f64::from(max) - f64::from(target_logit);
        let k = g / sum;
        for (v, b) in row.iter_mut().zip(d_b.iter_mut()) {
            *v *= k;
            *b += *v;
        }
        row[target] -= g;
        d_b[target] -= g;
    }
    loss
}

/// Adds `b` to `row` and returns the largest value (NaN values are passed over: the sum of the
/// exponentials is NaN then, and so is the loss).
#[inline(always)]
fn add_bias_and_max(row: &mut [f32], b: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    let mut b_chunks = b.chunks_exact(LANES);
    for (chunk, b) in (&mut chunks).zip(&mut b_chunks) {
        for ((m, v), b) in lanes.iter_mut().zip(chunk).zip(b) {
            *v += b;
            *m = m.max(*v);
        }
    }
    let mut max = lanes.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    for (v, b) in chunks.into_remainder().iter_mut().zip(b_chunks.remainder()) {
        *v += b;
        max = max.max(*v);
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row pass as picked at run time gives the bits of the baseline build.
    #[test]
    fn the_row_pass_equals_its_baseline_build() {
        let (n, vocab) = (5, 203);
        let logits: Vec<f32> = (0..n * vocab)
            .map(|i| ((i as f32) * 0.37).sin() * 9.0)
            .collect();
        let bias: Vec<f32> = (0..vocab).map(|j| (j as f32 * 0.11).cos()).collect();
        let targets = [0, 202, 17, 17, 100];
        let (mut a, mut b) = (logits.clone(), logits);
        let (mut db_a, mut db_b) = (vec![0.0; vocab], vec![0.0; vocab]);
        let loss_a = rows_pass(&mut a, &targets, &bias, 0.3, &mut db_a);
        let loss_b = rows_body(&mut b, &targets, &bias, 0.3, &mut db_b);
        assert_eq!((loss_a, &a, &db_a), (loss_b, &b, &db_b));
        assert!(loss_a.is_finite() && loss_a > 0.0);
    }

    /// The loss and every gradient are the same bits on one thread and on three: the rows'
    /// tasks have a fixed size and their sums a fixed order.
    #[test]
    fn the_result_does_not_depend_on_the_thread_count() {
        let (n, d, vocab) = (150, 7, 90);
        let wave = |s: f32, len: usize| -> Vec<f32> {
            (0..len).map(|i| ((i as f32 + s) * 0.61).sin()).collect()
        };
        let (h, w, b) = (wave(1.0, n * d), wave(2.0, d * vocab), wave(3.0, vocab));
        let targets: Vec<usize> = (0..n).map(|i| (i * 13) % vocab).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                softmax_cross_entropy_host(&h, &w, WeightLayout::Columns, &b, &targets, 1.5)
            })
        };
        let (one, three) = (run(1), run(3));
        assert_eq!(one.mean.to_bits(), three.mean.to_bits());
        assert_eq!(
            (&one.d_h, &one.d_w, &one.d_b),
            (&three.d_h, &three.d_w, &three.d_b)
        );
    }
}
