//! Thin matrix products `z = W·s` on the CPU: `W` `[rows, depth]` used for many products
//! (a window's recurrent matrix in `rhn`'s backward through time), `s` `[depth, n]` with few
//! columns (the batch, 20 for the Penn Treebank).
//!
//! The `gemm` crate behind `burn-flex` lays such a product out with the batch along its
//! micro-kernel's rows, 16 at a time: a batch of 20 takes two passes over `W`, and costs as
//! much as a batch of 32. Here `W` is packed once into panels of 16 rows, stored column by
//! column, and a kernel computes 16 rows × 5 columns of `z` at a time with AVX2 (ten
//! accumulators of 8), or 16 rows × 10 columns with AVX-512 (ten of 16; the `x86-v4` feature),
//! one fused multiply-add per element of `W` and column, over `depth` in order, so that the
//! batch's columns take one pass over each panel.
//!
//! One partition's `[830, 830]·[830, B]` of `ptb_sota`, one thread, medians of three runs
//! (`RAYON_NUM_THREADS=2 cargo run --release -p experiments --example rhn_matmuls sota`):
//!
//! | CPU (2026-12-07) | `gemm`, B = 16 / 20 / 32 | this kernel, B = 20 |
//! |---|---|---|
//! | Zen 3 EPYC, AVX2 | 356 / 587 / 614 µs | AVX2: faster (the step's A/B in `docs/speed.md`) |
//! | Zen 4 EPYC, AVX-512 | 287 / 487 / 484 µs | AVX-512: 341 µs |
//!
//! (files `docs/bench/avx2/rhn-matmuls-2026-12-07-sota-*.txt`,
//! `docs/bench/avx512/rhn-matmuls-2026-12-07-sota-*.txt`).
//!
//! [`PackedRows::product`] runs the widest kernel the CPU and the build allow ([`available`]:
//! at least AVX2 and FMA), and the same arithmetic as a plain loop elsewhere (bit-equal: each
//! element is the same chain of fused multiply-adds; tested for every kernel the CPU runs).
//! The loop is correct everywhere but not fast: callers keep their own matrix product where
//! the kernel does not [`pay off`](pays_off).

use crate::simd;

/// Rows of `W` per panel: two AVX2 vectors of 8.
const PANEL: usize = 16;
/// Columns of `s` per call of the AVX2 kernel (and of the plain loop): ten accumulators of 8.
const COLUMNS: usize = 5;

/// One kernel call's result: `PANEL` rows of up to `C` columns, column by column.
type Block<const C: usize = COLUMNS> = [[f32; PANEL]; C];

/// Whether [`PackedRows::product`] runs its vector kernel on this CPU: x86-64 with AVX2 and FMA.
pub fn available() -> bool {
    simd::avx2_fma()
}

/// The kernel [`PackedRows::product`] runs on this CPU and build: `"AVX-512"` (with the
/// `x86-v4` feature), `"AVX2+FMA"` or `"plain loop"`.
pub fn kernel() -> &'static str {
    #[cfg(all(target_arch = "x86_64", feature = "x86-v4"))]
    if simd::avx512f() {
        return "AVX-512";
    }
    if available() {
        "AVX2+FMA"
    } else {
        "plain loop"
    }
}

/// Whether the kernel is the faster way on this CPU: [`available`]. Measured faster than
/// `gemm`'s kernels at the Penn Treebank's batch of 20 on a Zen 3 EPYC (AVX2) and on a Zen 4
/// EPYC (AVX-512, both kernels against `gemm`'s AVX-512 ones); not measured on Intel's
/// AVX-512 CPUs.
pub fn pays_off() -> bool {
    available()
}

/// A matrix `W` `[rows, depth]` packed for [`product`](Self::product): panels of 16 rows,
/// each stored column by column (`[depth][16]`), the last panel padded with zero rows.
#[derive(Debug, Clone)]
pub struct PackedRows {
    rows: usize,
    depth: usize,
    panels: Vec<f32>,
}

impl PackedRows {
    /// Packs `w`, `[rows, depth]` row-major.
    ///
    /// # Panics
    ///
    /// If `w` does not hold `rows · depth` values.
    pub fn pack(w: &[f32], rows: usize, depth: usize) -> Self {
        assert_eq!(w.len(), rows * depth, "a [{rows}, {depth}] matrix");
        Self::from_rows(rows, depth, |i, row| {
            row.copy_from_slice(&w[i * depth..(i + 1) * depth])
        })
    }

    /// Packs the matrix whose row `i` `row(i, out)` writes into `out` (`depth` values), without
    /// a row-major copy of it first.
    pub fn from_rows(rows: usize, depth: usize, mut row: impl FnMut(usize, &mut [f32])) -> Self {
        let mut packed = Self::zeros(rows, depth);
        let mut values = vec![0.0; depth];
        for i in 0..rows {
            row(i, &mut values);
            let (panel, r) = (i / PANEL, i % PANEL);
            for (j, &v) in values.iter().enumerate() {
                packed.panels[(panel * depth + j) * PANEL + r] = v;
            }
        }
        packed
    }

    /// Packs the matrix whose column `j` `column(j, out)` writes into `out` (`rows` values).
    pub fn from_columns(
        rows: usize,
        depth: usize,
        mut column: impl FnMut(usize, &mut [f32]),
    ) -> Self {
        let mut packed = Self::zeros(rows, depth);
        let mut values = vec![0.0; rows];
        for j in 0..depth {
            column(j, &mut values);
            for (panel, part) in values.chunks(PANEL).enumerate() {
                let at = (panel * depth + j) * PANEL;
                packed.panels[at..at + part.len()].copy_from_slice(part);
            }
        }
        packed
    }

    fn zeros(rows: usize, depth: usize) -> Self {
        Self {
            rows,
            depth,
            panels: vec![0.0; rows.div_ceil(PANEL) * depth * PANEL],
        }
    }

    /// The rows of `W`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The columns of `W` (the rows of `s`).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Writes `z = W·s` for `s` `[depth, n]` into `z` `[rows, n]` (both row-major).
    ///
    /// # Panics
    ///
    /// If `s` or `z` do not hold `depth · n` and `rows · n` values.
    pub fn product(&self, s: &[f32], n: usize, z: &mut [f32]) {
        assert_eq!(s.len(), self.depth * n, "s: [{}, {n}]", self.depth);
        assert_eq!(z.len(), self.rows * n, "z: [{}, {n}]", self.rows);
        #[cfg(all(target_arch = "x86_64", feature = "x86-v4"))]
        if simd::avx512f() {
            // SAFETY: the CPU has AVX-512F, and the lengths are checked above.
            unsafe { avx512::product(self, s, n, z) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if available() {
            // SAFETY: the CPU has AVX2 and FMA, and the lengths are checked above.
            unsafe { avx2::product(self, s, n, z) };
            return;
        }
        self.product_portable(s, n, z);
    }

    /// [`product`](Self::product) as a plain loop: the kernel's arithmetic in the same order.
    pub fn product_portable(&self, s: &[f32], n: usize, z: &mut [f32]) {
        assert_eq!(s.len(), self.depth * n, "s: [{}, {n}]", self.depth);
        assert_eq!(z.len(), self.rows * n, "z: [{}, {n}]", self.rows);
        self.for_each_block::<COLUMNS>(n, z, |panel, j0, width| {
            let mut acc: Block = [[0.0; PANEL]; COLUMNS];
            for (kk, w) in panel.chunks_exact(PANEL).enumerate() {
                for (c, &sv) in s[kk * n + j0..kk * n + j0 + width].iter().enumerate() {
                    for (a, &wv) in acc[c].iter_mut().zip(w) {
                        *a = wv.mul_add(sv, *a);
                    }
                }
            }
            acc
        });
    }

    /// Computes every block of `z` with `block(panel, first column, columns)` and stores it.
    /// `C` columns at a time.
    fn for_each_block<const C: usize>(
        &self,
        n: usize,
        z: &mut [f32],
        mut block: impl FnMut(&[f32], usize, usize) -> Block<C>,
    ) {
        let size = self.depth * PANEL;
        for p in 0..self.rows.div_ceil(PANEL) {
            let panel = &self.panels[p * size..(p + 1) * size];
            let mut j0 = 0;
            while j0 < n {
                let width = C.min(n - j0);
                let acc = block(panel, j0, width);
                for r in 0..PANEL.min(self.rows - p * PANEL) {
                    let row = &mut z[(p * PANEL + r) * n + j0..][..width];
                    for (c, out) in row.iter_mut().enumerate() {
                        *out = acc[c][r];
                    }
                }
                j0 += width;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };

    use super::{Block, COLUMNS, PANEL, PackedRows};

    /// [`PackedRows::product`] with AVX2 and FMA.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2 and FMA, and `s`, `z` the lengths `product` checks.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product(w: &PackedRows, s: &[f32], n: usize, z: &mut [f32]) {
        w.for_each_block::<COLUMNS>(n, z, |panel, j0, width| {
            // SAFETY: this closure runs inside `product`, which has AVX2 and FMA.
            unsafe {
                match width {
                    5 => block::<5>(panel, s, n, j0),
                    4 => block::<4>(panel, s, n, j0),
                    3 => block::<3>(panel, s, n, j0),
                    2 => block::<2>(panel, s, n, j0),
                    _ => block::<1>(panel, s, n, j0),
                }
            }
        });
    }

    /// Columns `j0..j0 + C` of one panel's rows of `z`.
    ///
    /// # Safety
    ///
    /// AVX2 and FMA; `panel` holds `depth` columns of 16 and `s` `depth` rows of `n` with
    /// `j0 + C <= n`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block<const C: usize>(panel: &[f32], s: &[f32], n: usize, j0: usize) -> Block {
        debug_assert!(C <= COLUMNS && j0 + C <= n);
        debug_assert_eq!(s.len() / n.max(1), panel.len() / PANEL);
        let mut lo: [__m256; C] = [_mm256_setzero_ps(); C];
        let mut hi: [__m256; C] = [_mm256_setzero_ps(); C];
        for (kk, w) in panel.chunks_exact(PANEL).enumerate() {
            // SAFETY: `w` holds 16 values, and row `kk` of `s` holds columns `j0..j0 + C`.
            unsafe {
                let (w0, w1) = (
                    _mm256_loadu_ps(w.as_ptr()),
                    _mm256_loadu_ps(w.as_ptr().add(8)),
                );
                let row = s.as_ptr().add(kk * n + j0);
                for c in 0..C {
                    let b = _mm256_set1_ps(*row.add(c));
                    lo[c] = _mm256_fmadd_ps(w0, b, lo[c]);
                    hi[c] = _mm256_fmadd_ps(w1, b, hi[c]);
                }
            }
        }
        let mut acc: Block = [[0.0; PANEL]; COLUMNS];
        for c in 0..C {
            // SAFETY: `acc[c]` holds 16 values.
            unsafe {
                _mm256_storeu_ps(acc[c].as_mut_ptr(), lo[c]);
                _mm256_storeu_ps(acc[c].as_mut_ptr().add(8), hi[c]);
            }
        }
        acc
    }
}

/// The AVX-512 kernel: one vector of 16 holds a panel's rows, so a call computes 16 rows × 10
/// columns with ten accumulators (of the 32 registers), the batch of 20 in two calls per
/// panel. Each element is the same chain of fused multiply-adds as in the plain loop.
#[cfg(all(target_arch = "x86_64", feature = "x86-v4"))]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
        _mm512_storeu_ps,
    };

    use super::{Block, PANEL, PackedRows};

    /// Columns per call.
    const WIDE: usize = 10;

    /// [`PackedRows::product`] with AVX-512F.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX-512F, and `s`, `z` the lengths `product` checks.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(w: &PackedRows, s: &[f32], n: usize, z: &mut [f32]) {
        w.for_each_block::<WIDE>(n, z, |panel, j0, width| {
            // SAFETY: this closure runs inside `product`, which has AVX-512F.
            unsafe {
                match width {
                    10 => block::<10>(panel, s, n, j0),
                    9 => block::<9>(panel, s, n, j0),
                    8 => block::<8>(panel, s, n, j0),
                    7 => block::<7>(panel, s, n, j0),
                    6 => block::<6>(panel, s, n, j0),
                    5 => block::<5>(panel, s, n, j0),
                    4 => block::<4>(panel, s, n, j0),
                    3 => block::<3>(panel, s, n, j0),
                    2 => block::<2>(panel, s, n, j0),
                    _ => block::<1>(panel, s, n, j0),
                }
            }
        });
    }

    /// Columns `j0..j0 + C` of one panel's rows of `z`.
    ///
    /// # Safety
    ///
    /// AVX-512F; `panel` holds `depth` columns of 16 and `s` `depth` rows of `n` with
    /// `j0 + C <= n`.
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const C: usize>(panel: &[f32], s: &[f32], n: usize, j0: usize) -> Block<WIDE> {
        debug_assert!(C <= WIDE && j0 + C <= n);
        let mut acc: [__m512; C] = [_mm512_setzero_ps(); C];
        for (kk, w) in panel.chunks_exact(PANEL).enumerate() {
            // SAFETY: `w` holds 16 values, and row `kk` of `s` holds columns `j0..j0 + C`.
            unsafe {
                let w = _mm512_loadu_ps(w.as_ptr());
                let row = s.as_ptr().add(kk * n + j0);
                for (c, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(w, _mm512_set1_ps(*row.add(c)), *a);
                }
            }
        }
        let mut out: Block<WIDE> = [[0.0; PANEL]; WIDE];
        for (o, a) in out.iter_mut().zip(acc) {
            // SAFETY: `o` holds 16 values.
            unsafe { _mm512_storeu_ps(o.as_mut_ptr(), a) };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in (−1, 1).
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// `W·s` in f64, the textbook triple loop.
    fn reference(w: &[f32], s: &[f32], rows: usize, depth: usize, n: usize) -> Vec<f64> {
        let mut z = vec![0.0; rows * n];
        for i in 0..rows {
            for j in 0..n {
                z[i * n + j] = (0..depth)
                    .map(|k| f64::from(w[i * depth + k]) * f64::from(s[k * n + j]))
                    .sum();
            }
        }
        z
    }

    #[test]
    fn hand_computed_product() {
        // W = [[1, 2], [3, 4], [5, 6]], s = [[1, 0, 2], [−1, 1, 0.5]]:
        // W·s = [[−1, 2, 3], [−1, 4, 8], [−1, 6, 13]].
        let w = PackedRows::pack(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
        let mut z = vec![f32::NAN; 9];
        w.product(&[1.0, 0.0, 2.0, -1.0, 1.0, 0.5], 3, &mut z);
        assert_eq!(z, [-1.0, 2.0, 3.0, -1.0, 4.0, 8.0, -1.0, 6.0, 13.0]);
    }

    #[test]
    fn products_equal_the_textbook_product_and_the_kernel_its_loop() {
        for (rows, depth, n) in [
            (1, 1, 1),
            (16, 8, 5),
            (17, 33, 20),
            (40, 7, 3),
            (830 / 10, 64, 20),
            (5, 100, 23),
            (31, 16, 1),
        ] {
            let (w, s) = (values(rows * depth, 1), values(depth * n, 2));
            let packed = PackedRows::pack(&w, rows, depth);
            let (mut fast, mut slow) = (vec![f32::NAN; rows * n], vec![f32::NAN; rows * n]);
            packed.product(&s, n, &mut fast);
            packed.product_portable(&s, n, &mut slow);
            let bits = |z: &[f32]| z.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&slow), "[{rows}, {depth}]·[{depth}, {n}]");
            // Each vector kernel this CPU runs, whichever `product` picks.
            #[cfg(target_arch = "x86_64")]
            if available() {
                let mut z = vec![f32::NAN; rows * n];
                // SAFETY: the CPU has AVX2 and FMA; the lengths are right.
                unsafe { avx2::product(&packed, &s, n, &mut z) };
                assert_eq!(
                    bits(&z),
                    bits(&slow),
                    "AVX2: [{rows}, {depth}]·[{depth}, {n}]"
                );
            }
            #[cfg(all(target_arch = "x86_64", feature = "x86-v4"))]
            if simd::avx512f() {
                let mut z = vec![f32::NAN; rows * n];
                // SAFETY: the CPU has AVX-512F; the lengths are right.
                unsafe { avx512::product(&packed, &s, n, &mut z) };
                assert_eq!(
                    bits(&z),
                    bits(&slow),
                    "AVX-512: [{rows}, {depth}]·[{depth}, {n}]"
                );
            }
            for (got, want) in fast.iter().zip(reference(&w, &s, rows, depth, n)) {
                let bound = 1e-6 * depth as f64;
                assert!((f64::from(*got) - want).abs() <= bound, "{got} vs {want}");
            }
        }
    }

    #[test]
    fn packing_by_rows_and_by_columns_agree() {
        let (rows, depth) = (19, 7);
        let w = values(rows * depth, 3);
        let packed = PackedRows::pack(&w, rows, depth);
        let by_columns = PackedRows::from_columns(rows, depth, |j, out| {
            for (i, v) in out.iter_mut().enumerate() {
                *v = w[i * depth + j];
            }
        });
        assert_eq!(packed.panels, by_columns.panels);
    }

    #[test]
    fn the_kernel_named_is_a_vector_kernel_where_one_runs() {
        assert_eq!(kernel() == "plain loop", !available(), "{}", kernel());
    }

    #[test]
    fn an_empty_depth_gives_zeros() {
        let w = PackedRows::pack(&[], 3, 0);
        let mut z = vec![f32::NAN; 6];
        w.product(&[], 2, &mut z);
        assert_eq!(z, [0.0; 6]);
    }

    #[test]
    #[should_panic(expected = "s: [2, 3]")]
    fn a_wrong_shape_is_refused() {
        let w = PackedRows::pack(&[1.0; 4], 2, 2);
        w.product(&[1.0; 5], 3, &mut [0.0; 6]);
    }
}
