//! Thin matrix products `z = W·s` on the CPU: `W` `[rows, depth]` used for many products
//! (a window's recurrent matrix in `rhn`'s backward through time), `s` `[depth, n]` with few
//! columns (the batch, 20 for the Penn Treebank).
//!
//! The `gemm` crate behind `burn-flex` lays such a product out with the batch along its
//! micro-kernel's rows, 16 at a time with AVX2: a batch of 20 takes two passes over `W`, and
//! costs as much as a batch of 32 (one partition's `[830, 830]·[830, B]` of `ptb_sota`, medians
//! of three runs on a Zen 3 EPYC, 2026-12-07: 356 µs at B = 16, 587 µs at 20, 614 µs at 32;
//! `RAYON_NUM_THREADS=2 cargo run --release -p experiments --example rhn_matmuls sota`, files
//! `docs/bench/avx2/rhn-matmuls-2026-12-07-sota-*.txt`). Here `W` is packed once into
//! panels of 16 rows, stored column by column, and a kernel computes 16 rows × 5 columns of
//! `z` at a time (ten AVX2 accumulators, one fused multiply-add per element of `W` and column,
//! over `depth` in order), so that the batch's columns take one pass over each panel.
//!
//! [`PackedRows::product`] runs that kernel on x86-64 CPUs with AVX2 and FMA ([`available`]),
//! and the same arithmetic as a plain loop elsewhere (bit-equal: each element is the same chain
//! of fused multiply-adds; tested). Callers keep their own matrix product where the kernel does
//! not [`pay off`](pays_off): the loop is correct everywhere but not fast, and on CPUs with
//! AVX-512 the kernel has not been measured against `gemm`'s AVX-512 kernels.

use crate::simd;

/// Rows of `W` per panel: two AVX2 vectors of 8.
const PANEL: usize = 16;
/// Columns of `s` per kernel call.
const COLUMNS: usize = 5;

/// One kernel call's result: `PANEL` rows of up to `COLUMNS` columns, column by column.
type Block = [[f32; PANEL]; COLUMNS];

/// Whether [`PackedRows::product`] runs its vector kernel on this CPU: x86-64 with AVX2 and FMA.
pub fn available() -> bool {
    simd::avx2_fma()
}

/// Whether the kernel is the faster way on this CPU, as measured: [`available`], and no
/// AVX-512, where `gemm`'s own kernels run (with `burn-flex`'s `x86-v4` feature) and the kernel
/// has not been measured against them.
pub fn pays_off() -> bool {
    available() && !simd::avx512f()
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
        self.for_each_block(n, z, |panel, j0, width| {
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
    fn for_each_block(
        &self,
        n: usize,
        z: &mut [f32],
        mut block: impl FnMut(&[f32], usize, usize) -> Block,
    ) {
        let size = self.depth * PANEL;
        for p in 0..self.rows.div_ceil(PANEL) {
            let panel = &self.panels[p * size..(p + 1) * size];
            let mut j0 = 0;
            while j0 < n {
                let width = COLUMNS.min(n - j0);
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
        w.for_each_block(n, z, |panel, j0, width| {
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
            assert_eq!(
                fast.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                slow.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "[{rows}, {depth}]·[{depth}, {n}]: the kernel and its loop"
            );
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
