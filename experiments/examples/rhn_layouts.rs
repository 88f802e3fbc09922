//! The four ways to lay out one recurrent product of a `ptb_sota` step (*Recurrent Highway
//! Networks*: `z_l = s_{l−1}·R_l`, `s` `[20, 830]`, `R_l` `[830, 1660]` with `H` and `T` fused),
//! each timed forward and backward (the product autodiff runs for `∂L/∂s`), cycling through ten
//! matrices as a step does (they do not stay in cache). Whichever way the matrix is stored, one
//! of the two products reads it through a transposed view, and that one is 2-4× slower: the
//! reason the RHN step is slower than the sum of its products timed alone (`rhn_matmuls`).
//!
//! `rhn` computes F1, except on its deferred-gradient path (large `d`), which computes F3
//! (`s·(R_lᵀ)ᵀ`, the stored `R_lᵀ` read contiguously backward) in row blocks. F3 as one product
//! trained `ptb_sota` 1.33× faster than F1 on one thread but 0.85× on two (flex splits a 20-row
//! product poorly across threads); split into 4-10 row blocks (a batched product, which flex
//! spreads over its threads) it is 1.23-1.27× faster on two threads and 1.32-1.35× on one
//! (`bench-rhn --preset sota`, session 3, idle machine).
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -p experiments --example rhn_layouts
//! ```

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};

/// Milliseconds per product, cycling through the operands.
fn t(lhs: &[Tensor<2>], rhs: &[Tensor<2>]) -> f64 {
    let reps = 60;
    let _ = lhs[0].clone().matmul(rhs[0].clone()).into_data();
    let start = Instant::now();
    for r in 0..reps {
        let _ = lhs[r % lhs.len()]
            .clone()
            .matmul(rhs[r % rhs.len()].clone())
            .into_data();
    }
    start.elapsed().as_secs_f64() / reps as f64 * 1e3
}
fn main() {
    let d = Device::flex();
    let r = |a: usize, b: usize| Tensor::<2>::random([a, b], Distribution::Default, &d);
    let m1: Vec<_> = (0..10).map(|_| r(1660, 830)).collect(); // R^T stored
    let m2: Vec<_> = (0..10).map(|_| r(830, 1660)).collect(); // R stored
    let m1t: Vec<_> = m1.iter().map(|m| m.clone().transpose()).collect();
    let m2t: Vec<_> = m2.iter().map(|m| m.clone().transpose()).collect();
    let s = vec![r(20, 830)];
    let st = vec![r(20, 830).transpose()];
    let g = vec![r(20, 1660)];
    let gt = vec![r(20, 1660).transpose()];
    // Forward and backward of each form (`sT`, `gT`: transposed views of the small operands).
    let (p1, p2) = (t(&m1, &st), t(&m1t, &gt));
    let (p3, p4) = (t(&s, &m2), t(&g, &m2t));
    let (p5, p6) = (t(&s, &m1t), t(&g, &m1));
    let (p7, p8) = (t(&m2t, &st), t(&m2, &gt));
    println!(
        "F1 Rt·sT (used):    fwd {p1:.3} bwd {p2:.3} sum {:.3} ms",
        p1 + p2
    );
    println!(
        "F2 s·R:             fwd {p3:.3} bwd {p4:.3} sum {:.3} ms",
        p3 + p4
    );
    println!(
        "F3 s·(Rt)^T:        fwd {p5:.3} bwd {p6:.3} sum {:.3} ms",
        p5 + p6
    );
    println!(
        "F4 (R)^T·sT:        fwd {p7:.3} bwd {p8:.3} sum {:.3} ms",
        p7 + p8
    );
}
