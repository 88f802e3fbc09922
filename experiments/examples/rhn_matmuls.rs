//! The matrix products of one `ptb_sota` training step (*Recurrent Highway Networks*, depth 10,
//! 830 units, batch 20 × 35, vocabulary 10,000) on Burn's `flex` backend. A diagnostic for
//! `bench-rhn`: it shows which products are slow, not the step's speed.
//!
//! 1. Each product in the operand layout the step uses, in ms and GFLOP/s; the recurrent ones
//!    also cycling through ten matrices as a step does (5.5 MB each, they do not stay in cache).
//! 2. The four ways to lay out a recurrent product `z_l = s_{l−1}·R_l` (`s` `[20, 830]`, `R_l`
//!    `[830, 1660]` with `H` and `T` fused), forward and backward (the product autodiff runs for
//!    `∂L/∂s`), cycling through ten matrices. Whichever way the matrix is stored, one direction
//!    reads it through a transposed view and is 2-4× slower under autodiff. `rhn`'s plain
//!    forward computes F1; its hand-written backward through time (`Rhn::forward_deferred`,
//!    used for training) computes F1 forward and F4's backward, each on a contiguous copy of
//!    its matrix, split by hidden units over the threads.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -p experiments --example rhn_matmuls
//! ```

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};

/// `(name, m, k, n, lhs stored transposed, rhs stored transposed, uses per step, distinct lhs
/// matrices per step)`.
type Shape = (&'static str, usize, usize, usize, bool, bool, usize, usize);

const SHAPES: [Shape; 7] = [
    (
        "recurrent forward  R_lᵀ·sᵀ",
        1660,
        830,
        20,
        false,
        true,
        350,
        10,
    ),
    (
        "recurrent backward R_l·gᵀ",
        830,
        1660,
        20,
        true,
        true,
        350,
        10,
    ),
    (
        "deferred weights   Sᵀ·G",
        830,
        700,
        1660,
        true,
        false,
        10,
        1,
    ),
    ("input projection   x·W", 700, 830, 1660, false, false, 1, 1),
    (
        "softmax forward    h·Eᵀ",
        700,
        830,
        10_000,
        false,
        true,
        1,
        1,
    ),
    (
        "softmax backward   g·E",
        700,
        10_000,
        830,
        false,
        false,
        1,
        1,
    ),
    (
        "softmax weights    gᵀ·h",
        10_000,
        700,
        830,
        true,
        false,
        1,
        1,
    ),
];

fn operand(rows: usize, cols: usize, transposed: bool, device: &Device) -> Tensor<2> {
    if transposed {
        Tensor::<2>::random([cols, rows], Distribution::Default, device).transpose()
    } else {
        Tensor::<2>::random([rows, cols], Distribution::Default, device)
    }
}

/// Seconds per product `lhs[i]·rhs[i]`, cycling through both lists (a single matrix hides the
/// cost of reading it from memory by staying in cache).
fn time_product(lhs: &[Tensor<2>], rhs: &[Tensor<2>], flops: f64) -> f64 {
    let reps = ((2e9 / flops).ceil() as usize).max(2 * lhs.len().max(rhs.len()));
    let _ = lhs[0].clone().matmul(rhs[0].clone()).into_data();
    let start = Instant::now();
    for r in 0..reps {
        let _ = lhs[r % lhs.len()]
            .clone()
            .matmul(rhs[r % rhs.len()].clone())
            .into_data();
    }
    start.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let device = Device::flex();
    let mut total = 0.0;
    for (name, m, k, n, lhs_t, rhs_t, uses, matrices) in SHAPES {
        let lhs: Vec<_> = (0..matrices)
            .map(|_| operand(m, k, lhs_t, &device))
            .collect();
        let rhs = [operand(k, n, rhs_t, &device)];
        let flops = 2.0 * (m * k * n) as f64;
        let line = |s: f64, what: &str| {
            println!(
                "{name:30} [{m}, {k}] × [{k}, {n}]  {:8.3} ms  {:6.1} GFLOP/s  × {uses} per step{what}",
                s * 1e3,
                flops / s / 1e9
            )
        };
        let mut s = time_product(&lhs[..1], &rhs, flops);
        line(s, "");
        if matrices > 1 {
            s = time_product(&lhs, &rhs, flops);
            line(s, ", 10 matrices in turn");
        }
        total += s * uses as f64;
    }
    println!("sum over one step: {total:.3} s\n");

    // The layouts of a recurrent product, forward + backward, ten matrices in turn.
    let r = |rows: usize, cols: usize| operand(rows, cols, false, &device);
    let m1: Vec<_> = (0..10).map(|_| r(1660, 830)).collect(); // R_lᵀ stored
    let m2: Vec<_> = (0..10).map(|_| r(830, 1660)).collect(); // R_l stored
    let m1t: Vec<_> = m1.iter().map(|m| m.clone().transpose()).collect();
    let m2t: Vec<_> = m2.iter().map(|m| m.clone().transpose()).collect();
    let (s, g) = ([r(20, 830)], [r(20, 1660)]);
    let (st, gt) = (
        [operand(830, 20, true, &device)],
        [operand(1660, 20, true, &device)],
    );
    let flops = 2.0 * (20 * 830 * 1660) as f64;
    let ms = |lhs: &[Tensor<2>], rhs: &[Tensor<2>]| time_product(lhs, rhs, flops) * 1e3;
    for (name, (fwd, bwd)) in [
        ("F1 (R_lᵀ·sᵀ)ᵀ", (ms(&m1, &st), ms(&m1t, &gt))),
        ("F2 s·R_l", (ms(&s, &m2), ms(&g, &m2t))),
        ("F3 s·(R_lᵀ)ᵀ", (ms(&s, &m1t), ms(&g, &m1))),
        ("F4 ((R_l)ᵀ·sᵀ)ᵀ", (ms(&m2t, &st), ms(&m2, &gt))),
    ] {
        println!(
            "{name:18} forward {fwd:.3} ms  backward {bwd:.3} ms  sum {:.3} ms",
            fwd + bwd
        );
    }
}
