//! The partitions' recurrence on host values: the CPU fast path of the hand-written backward
//! through time (the parent module's equations and layout).
//!
//! Through Burn's operations each micro-layer step is some twenty tensor operations on
//! `[units, batch]` slices (`ptb_small`: 256 units, a batch of 20), each with its own
//! allocation and dispatch, and most of a partition's time went to them rather than to the
//! products. Here a partition keeps the window in plain buffers: its rows of every `R_l`
//! packed once for [`highway_core::thin`]'s product (whose kernel takes the batch's columns
//! in one pass over the matrix), the gates computed by [`highway_core::conv_kernel`]'s gate
//! loops (the highway layer's arithmetic, the same in a micro-layer), and the states and
//! `∂z` swapped with the other partitions as shared buffers. The weight gradients are one
//! product per micro-layer, as in the tensor form.
//!
//! Taken for `f32` values on the CPU backends where the thin kernel pays off ([`pays_off`]);
//! elsewhere the parent module's tensor form runs. `deferred`'s tests hold both to plain
//! autodiff.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use burn::tensor::{DType, Tensor, TensorData};
use highway_core::conv_kernel::{Act, gates_forward};
use highway_core::host::HostValues;
use highway_core::thin::{self, PackedRows};

use super::Window;
use crate::partition::{self, Exchange};

/// One partition's slice of a state or of `∂z`, shared with the others without a copy.
type Slice = Arc<Vec<f32>>;

/// Whether the recurrence of an input like `x` runs on host values: `f32` values on a CPU
/// backend where the thin kernel pays off ([`thin::pays_off`]: AVX2 and FMA), the fast paths
/// on ([`highway_core::on_fast_path`]).
pub(super) fn pays_off(x: &Tensor<3>) -> bool {
    x.dtype() == DType::F32 && thin::pays_off() && highway_core::on_fast_path(&x.device())
}

/// What one partition recorded for its units `u0..u0 + n`.
#[cfg_attr(not(feature = "autodiff"), allow(dead_code))]
#[derive(Debug)]
pub(in crate::deferred) struct HostPart {
    units: Range<usize>,
    /// Each micro-layer's rows of `R_l` `[n, k·d]`, packed (`∂s_in = R_l·∂zᵀ`).
    weights: Vec<PackedRows>,
    /// Per step and micro-layer (`t·depth + l`): the units' `s_{l−1}` `[n, batch]` and the
    /// gates `h_l`, `t_l` (`c_l`) `[k·n, batch]`.
    saved: Vec<(Vec<f32>, Vec<f32>)>,
    /// Per micro-layer: the whole masked state `s_in` of every step, `[d, seq·batch]` (step
    /// `t` in columns `t·batch..`), for `∂L/∂R_l`.
    s_in: Vec<Vec<f32>>,
}

/// The window's host values, read once and shared by the partitions.
struct HostWindow {
    /// `(W x_t)ᵀ`, `[seq·k·d, batch]` as [`Window::xp`].
    xp: HostValues,
    /// `m_hᵀ` `[d, batch]`.
    mask: Option<HostValues>,
    /// `s^{[0]}ᵀ` `[d, batch]`.
    s0: HostValues,
    batch: usize,
}

/// The forward of [`super::forward_in_parts`] on host values: `sᵀ` of every step `[seq, d,
/// batch]`, the last one `[d, batch]`, and each partition's record.
pub(super) fn forward(window: &Window, parts: usize) -> (Tensor<3>, Tensor<2>, Vec<HostPart>) {
    let device = window.s0.device();
    let [d, batch] = window.s0.dims();
    let host = HostWindow {
        xp: HostValues::read(&window.xp),
        mask: window.mask.as_ref().map(HostValues::read),
        s0: HostValues::read(&window.s0),
        batch,
    };
    let results = partition::run(parts, |p, exchange: &Exchange<Slice>| {
        forward_part(
            window,
            &host,
            partition::units(p, parts, d),
            p == 0,
            |round, next| exchange.share(p, round, next),
        )
    });
    let mut records = Vec::with_capacity(parts);
    let (mut ys, mut s) = (Vec::new(), Vec::new());
    for (p, (part, part_ys, last)) in results.into_iter().enumerate() {
        if p == 0 {
            (ys, s) = (part_ys, last);
        }
        records.push(part);
    }
    let ys = Tensor::from_data(TensorData::new(ys, [window.seq, d, batch]), &device);
    let s = Tensor::from_data(TensorData::new(s, [d, batch]), &device);
    (ys, s, records)
}

/// This partition's rows of every micro-layer's `R`, packed: the forward's `[k·n, d]` (row
/// `g·n + i` is column `u0 + i` of `R_g`) and the backward's `[n, k·d]` (row `i` is row
/// `u0 + i` of every `R_g`), and its biases `[k·n]`. The values of each `R` are read here, so
/// that a partition holds one micro-layer's at a time.
fn pack(
    window: &Window,
    units: &Range<usize>,
) -> (Vec<PackedRows>, Vec<PackedRows>, Vec<Vec<f32>>) {
    let (u0, n, d, k) = (units.start, units.len(), window.d, window.k);
    let mut forward = Vec::with_capacity(window.maps.len());
    let mut backward = Vec::with_capacity(window.maps.len());
    let mut biases = Vec::with_capacity(window.maps.len());
    for gates in &window.maps {
        let r: Vec<HostValues> = gates.iter().map(|(w, _)| HostValues::read(w)).collect();
        forward.push(PackedRows::from_columns(k * n, d, |j, column| {
            for (g, part) in column.chunks_exact_mut(n).enumerate() {
                part.copy_from_slice(&r[g][j * d + u0..j * d + u0 + n]);
            }
        }));
        backward.push(PackedRows::from_rows(n, k * d, |i, row| {
            for (g, part) in row.chunks_exact_mut(d).enumerate() {
                part.copy_from_slice(&r[g][(u0 + i) * d..(u0 + i + 1) * d]);
            }
        }));
        let b = gates
            .iter()
            .flat_map(|(_, b)| HostValues::read(b)[units.clone()].to_vec());
        biases.push(b.collect());
    }
    (forward, backward, biases)
}

/// The partitions' slices, one after the other.
fn concat(parts: &[Slice]) -> Vec<f32> {
    let mut all = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        all.extend_from_slice(p);
    }
    all
}

/// Writes `values` (`[rows, batch]`) into the columns `t·batch..` of `all` (`[rows, seq·batch]`).
fn put_columns(all: &mut [f32], values: &[f32], t: usize, batch: usize, seq: usize) {
    for (row, v) in all
        .chunks_exact_mut(seq * batch)
        .zip(values.chunks_exact(batch))
    {
        row[t * batch..(t + 1) * batch].copy_from_slice(v);
    }
}

/// The recurrence over the window for one partition's `units`. `share(round, next)` swaps this
/// partition's slice of the new state for every partition's. Returns the record, `sᵀ` of every
/// step (`[seq, d, batch]`, only with `outputs`) and the last one.
fn forward_part(
    window: &Window,
    host: &HostWindow,
    units: Range<usize>,
    outputs: bool,
    share: impl Fn(usize, Slice) -> Vec<Slice>,
) -> (HostPart, Vec<f32>, Vec<f32>) {
    let (u0, n) = (units.start, units.len());
    let (k, d, seq, batch) = (window.k, window.d, window.seq, host.batch);
    let depth = window.maps.len();
    let (forward, backward, biases) = pack(window, &units);
    let mut s = host.s0.to_vec();
    let mut s_in_all = vec![vec![0.0; d * seq * batch]; depth];
    let mut saved = Vec::with_capacity(seq * depth);
    let mut ys = Vec::with_capacity(if outputs { seq * d * batch } else { 0 });
    let mut round = 0;
    for t in 0..seq {
        for l in 0..depth {
            let s_in: Cow<[f32]> = match &host.mask {
                Some(m) => s.iter().zip(m.iter()).map(|(s, m)| s * m).collect(),
                None => Cow::Borrowed(&s),
            };
            let mut z = vec![0.0; k * n * batch];
            forward[l].product(&s_in, batch, &mut z);
            for (r, row) in z.chunks_exact_mut(batch).enumerate() {
                let b = biases[l][r];
                row.iter_mut().for_each(|v| *v += b);
                if l == 0 {
                    // Row `g·n + i` takes gate g's input of unit u0 + i.
                    let (g, i) = (r / n, r % n);
                    let at = ((t * k + g) * d + u0 + i) * batch;
                    let input = &host.xp[at..at + batch];
                    row.iter_mut().zip(input).for_each(|(v, x)| *v += x);
                }
            }
            let s_prev = s[u0 * batch..(u0 + n) * batch].to_vec();
            let mut next = vec![0.0; n * batch];
            // z becomes h, t (c) in place.
            gates_forward(Act::Tanh, k, &mut z, &s_prev, &mut next);
            put_columns(&mut s_in_all[l], &s_in, t, batch, seq);
            saved.push((s_prev, z));
            s = concat(&share(round, Arc::new(next)));
            round += 1;
        }
        if outputs {
            ys.extend_from_slice(&s);
        }
    }
    let part = HostPart {
        units,
        weights: backward,
        saved,
        s_in: s_in_all,
    };
    (part, ys, s)
}

#[cfg(feature = "autodiff")]
pub(super) use backward::backward;

#[cfg(feature = "autodiff")]
mod backward {
    use std::sync::Mutex;

    use super::*;
    use crate::deferred::{Outgoing, PartsBackward};
    use highway_core::conv_kernel::gates_backward;

    /// The backward of [`super::super::RhnTape::backward`] on host values.
    pub(in crate::deferred) fn backward(
        parts: Vec<HostPart>,
        outgoing: &Outgoing<'_>,
        k: usize,
    ) -> PartsBackward {
        let device = outgoing.ds_last.device();
        let [d, batch] = outgoing.ds_last.dims();
        let gy = HostValues::read(outgoing.gy);
        let ds_last = HostValues::read(outgoing.ds_last);
        let mask = outgoing.mask.map(HostValues::read);
        let seq = gy.len() / (d * batch);
        let n_parts = parts.len();
        let depth = parts[0].weights.len();
        // Every micro-layer's and gate's ∂L/∂R `[d, d]` and ∂L/∂b `[d]`, each partition
        // writing its units' columns.
        let mut dw: Vec<Vec<f32>> = (0..depth * k).map(|_| Vec::with_capacity(d * d)).collect();
        let mut db: Vec<Vec<f32>> = (0..depth * k).map(|_| Vec::with_capacity(d)).collect();
        let out = Columns {
            dw: dw.iter_mut().map(|v| v.as_mut_ptr()).collect(),
            db: db.iter_mut().map(|v| v.as_mut_ptr()).collect(),
            d,
        };
        let parts: Vec<Mutex<Option<HostPart>>> =
            parts.into_iter().map(|p| Mutex::new(Some(p))).collect();
        let results = partition::run(n_parts, |p, exchange: &Exchange<Slice>| {
            let part = parts[p]
                .lock()
                .expect("partition slot")
                .take()
                .expect("each partition runs once");
            let io = Io {
                gy: &gy,
                ds_last: &ds_last,
                mask: mask.as_deref(),
                k,
                d,
                batch,
                seq,
            };
            backward_part(part, &io, &out, p == 0, |round, dz| {
                gate_major(&exchange.share(p, round, dz), k)
            })
        });
        let mut ds0 = Vec::with_capacity(d * batch);
        let mut dx = Vec::new();
        for (p, (ds, part_dx)) in results.into_iter().enumerate() {
            ds0.extend_from_slice(&ds);
            if p == 0 {
                dx = part_dx;
            }
        }
        for v in dw.iter_mut().chain(&mut db) {
            // SAFETY: the partitions' units cover 0..d once each (`partition::units`), and each
            // partition wrote all of its units' columns of every matrix and vector
            // (`backward_part`), so every value is initialised; a panic in a partition does not
            // get here.
            unsafe { v.set_len(v.capacity()) };
        }
        let mut db = db.into_iter();
        let mut per_gate = dw.into_iter().map(|w| {
            let b = db.next().expect("a bias gradient per matrix");
            (
                Tensor::from_data(TensorData::new(w, [d, d]), &device),
                Tensor::from_data(TensorData::new(b, [d]), &device),
            )
        });
        let weight_grads = (0..depth)
            .map(|_| per_gate.by_ref().take(k).collect())
            .collect();
        let ds0 = Tensor::from_data(TensorData::new(ds0, [d, batch]), &device);
        let dx = Tensor::from_data(TensorData::new(dx, [seq, k * d, batch]), &device);
        (ds0, dx, weight_grads)
    }

    /// Where the partitions write the weight and bias gradients: for micro-layer `l` and gate
    /// `g`, `dw[l·k + g]` `[d, d]` and `db[l·k + g]` `[d]`, allocated and not yet initialised;
    /// each partition writes only its units' columns (and entries).
    struct Columns {
        dw: Vec<*mut f32>,
        db: Vec<*mut f32>,
        d: usize,
    }

    // SAFETY: the partitions write disjoint parts of the buffers (their units' columns), and
    // the buffers outlive `partition::run`, which joins every partition before it returns.
    unsafe impl Sync for Columns {}

    impl Columns {
        /// Writes `∂L/∂R[:, u0..u0 + n] = S [d, m] · G_gᵀ` for the `n` rows of `g` `[n, m]` (gate
        /// `g` of micro-layer `l`, the units `u0..u0 + n`), and `∂L/∂b[u0..u0 + n]` = the
        /// rows' sums.
        fn write(&self, l: usize, g: usize, k: usize, u0: usize, s: &[f32], rows: &[f32]) {
            let d = self.d;
            let m = s.len() / d;
            let n = rows.len() / m;
            assert!(s.len() == d * m && rows.len() == n * m && u0 + n <= d);
            let at = l * k + g;
            // SAFETY: `dw[at]` has room for `d·d` values and `db[at]` for `d`; the product
            // writes rows 0..d, columns u0..u0 + n of a row-major `[d, d]` (`read_dst` false:
            // it reads none), inside the buffer by the assert; `s` and `rows` are read inside
            // their slices at the strides given.
            unsafe {
                gemm::gemm(
                    d,
                    n,
                    m,
                    self.dw[at].add(u0),
                    1,
                    d as isize,
                    false,
                    s.as_ptr(),
                    1,
                    m as isize,
                    rows.as_ptr(),
                    m as isize,
                    1,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
                for (i, row) in rows.chunks_exact(m).enumerate() {
                    self.db[at].add(u0 + i).write(row.iter().sum());
                }
            }
        }
    }

    /// The host values every partition's backward reads.
    struct Io<'a> {
        /// `∂L/∂y` of every step, `[seq·d, batch]`.
        gy: &'a [f32],
        /// `∂L/∂s^{[T]}`, `[d, batch]`.
        ds_last: &'a [f32],
        /// `m_hᵀ`, `[d, batch]`.
        mask: Option<&'a [f32]>,
        k: usize,
        d: usize,
        batch: usize,
        seq: usize,
    }

    /// Every partition's `∂z` (`[k·n_q, batch]`, gates stacked) as one `[k·d, batch]`,
    /// gate-major as the columns of `R_l`.
    fn gate_major(parts: &[Slice], k: usize) -> Vec<f32> {
        let mut all = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        for g in 0..k {
            for z in parts {
                let per_gate = z.len() / k;
                all.extend_from_slice(&z[g * per_gate..(g + 1) * per_gate]);
            }
        }
        all
    }

    /// One partition's backward through the window, last step first. `share(round, dz)` swaps
    /// this partition's `∂z` `[k·n, batch]` for every unit's, gate-major (`[k·d, batch]`).
    /// Returns `∂L/∂s^{[0]}` for the partition's units `[n, batch]` and `∂L/∂(W x_t)ᵀ` of every
    /// step (`[seq, k·d, batch]`; only with `input`), and writes its units' columns of every
    /// micro-layer's weight and bias gradients into `out`.
    fn backward_part(
        part: HostPart,
        io: &Io<'_>,
        out: &Columns,
        input: bool,
        share: impl Fn(usize, Slice) -> Vec<f32>,
    ) -> (Vec<f32>, Vec<f32>) {
        let (u0, n) = (part.units.start, part.units.len());
        let (k, d, batch, seq) = (io.k, io.d, io.batch, io.seq);
        let depth = part.weights.len();
        let mine = u0 * batch..(u0 + n) * batch;
        let mut ds = io.ds_last[mine.clone()].to_vec();
        let mask = io.mask.map(|m| &m[mine]);
        // Per micro-layer: ∂z of every step, [k·n, seq·batch].
        let mut g_all = vec![vec![0.0; k * n * seq * batch]; depth];
        let mut dx = vec![0.0; if input { seq * k * d * batch } else { 0 }];
        let mut saved = part.saved;
        let mut round = 0;
        for t in (0..seq).rev() {
            let at = (t * d + u0) * batch;
            let gy = &io.gy[at..at + n * batch];
            ds.iter_mut().zip(gy).for_each(|(a, g)| *a += g);
            for l in (0..depth).rev() {
                let (s_prev, gates) = saved.pop().expect("a record per step and micro-layer");
                let mut dz = vec![0.0; k * n * batch];
                let mut ds_carry = vec![0.0; n * batch];
                gates_backward(Act::Tanh, k, &ds, &gates, &s_prev, &mut dz, &mut ds_carry);
                put_columns(&mut g_all[l], &dz, t, batch, seq);
                let dz_full = share(round, Arc::new(dz));
                round += 1;
                let mut ds_in = vec![0.0; n * batch];
                part.weights[l].product(&dz_full, batch, &mut ds_in);
                if let Some(m) = mask {
                    ds_in.iter_mut().zip(m).for_each(|(v, m)| *v *= m);
                }
                ds = ds_carry;
                ds.iter_mut().zip(&ds_in).for_each(|(a, b)| *a += b);
                if l == 0 && input {
                    let size = k * d * batch;
                    dx[t * size..(t + 1) * size].copy_from_slice(&dz_full);
                }
            }
        }
        // ∂L/∂R_l for this partition's columns: [d, seq·batch] × [seq·batch, n] per gate.
        for (l, (g_all, s_in)) in g_all.iter().zip(&part.s_in).enumerate() {
            for (g, rows) in g_all.chunks_exact(n * seq * batch).enumerate() {
                out.write(l, g, k, u0, s_in, rows);
            }
        }
        (ds, dx)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{DType, Device, Tensor};

    #[test]
    fn only_f32_values_take_the_host_form() {
        let x = Tensor::<3>::zeros([1, 2, 3], &Device::flex());
        let cpu = highway_core::thin::pays_off() && highway_core::on_fast_path(&x.device());
        assert_eq!(super::pays_off(&x), cpu);
        assert!(!super::pays_off(&x.cast(DType::F16)));
    }
}
