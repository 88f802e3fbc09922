//! GFLOP/s of Burn's `flex` matrix products for the shapes of one `ptb_sota` training step
//! (*Recurrent Highway Networks*, depth 10, 830 units, batch 20 × 35, vocabulary 10,000), each
//! in the operand layout the step uses. A diagnostic for `bench-rhn`: it shows which products
//! are slow, not the step's speed.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -p experiments --example rhn_matmuls
//! ```

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};

/// `(name, m, k, n, lhs stored transposed, rhs stored transposed, uses per step)`.
type Shape = (&'static str, usize, usize, usize, bool, bool, usize);

const SHAPES: [Shape; 7] = [
    (
        "recurrent forward  R_lᵀ·sᵀ",
        1660,
        830,
        20,
        false,
        true,
        350,
    ),
    ("recurrent backward R_l·gᵀ", 830, 1660, 20, true, true, 350),
    ("deferred weights   Sᵀ·G", 830, 700, 1660, true, false, 10),
    ("input projection   x·W", 700, 830, 1660, false, false, 1),
    ("softmax forward    h·Eᵀ", 700, 830, 10_000, false, true, 1),
    ("softmax backward   g·E", 700, 10_000, 830, false, false, 1),
    ("softmax weights    gᵀ·h", 10_000, 700, 830, true, false, 1),
];

fn operand(rows: usize, cols: usize, transposed: bool, device: &Device) -> Tensor<2> {
    if transposed {
        Tensor::<2>::random([cols, rows], Distribution::Default, device).transpose()
    } else {
        Tensor::<2>::random([rows, cols], Distribution::Default, device)
    }
}

/// Seconds per product, cycling through `lhs` (one operand per micro-layer for the recurrent
/// products: a step uses ten different 5.5 MB matrices in turn, which a single matrix hides by
/// staying in cache).
fn time_product(lhs: &[Tensor<2>], rhs: &Tensor<2>, flops: f64) -> f64 {
    let reps = ((2e9 / flops).ceil() as usize).max(2 * lhs.len());
    let _ = lhs[0].clone().matmul(rhs.clone()).into_data();
    let start = Instant::now();
    for r in 0..reps {
        let _ = lhs[r % lhs.len()].clone().matmul(rhs.clone()).into_data();
    }
    start.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let device = Device::flex();
    let mut total = 0.0;
    for (name, m, k, n, lhs_t, rhs_t, uses) in SHAPES {
        let layers = if uses == 350 { 10 } else { 1 };
        let lhs: Vec<_> = (0..layers).map(|_| operand(m, k, lhs_t, &device)).collect();
        let b = operand(k, n, rhs_t, &device);
        let flops = 2.0 * (m * k * n) as f64;
        let mut s = time_product(&lhs[..1], &b, flops);
        let line = |s: f64, what: &str| {
            println!(
                "{name:30} [{m}, {k}] × [{k}, {n}]  {:8.3} ms  {:6.1} GFLOP/s  × {uses} per step{what}",
                s * 1e3,
                flops / s / 1e9
            )
        };
        line(s, "");
        if layers > 1 {
            s = time_product(&lhs, &b, flops);
            line(s, ", 10 matrices in turn");
        }
        total += s * uses as f64;
    }
    println!("sum over one step: {total:.3} s");
}
