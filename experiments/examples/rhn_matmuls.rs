//! The matrix products of one RHN training step (*Recurrent Highway Networks*; `ptb_sota`:
//! depth 10, 830 units, or `ptb_small`: depth 4, 256 units; batch 20 × 35, vocabulary 10,000,
//! tied) on Burn's `flex` backend. A diagnostic for `bench-rhn`: it shows which products are
//! slow, not the step's speed.
//!
//! 1. Each product in the operand layout the step uses, in ms and GFLOP/s; the recurrent ones
//!    also cycling through the `depth` matrices as a step does (5.5 MB each for `ptb_sota`;
//!    they do not stay in cache). Their sum over a step is what the products alone take, each
//!    run on its own (the step runs the recurrent ones one partition per thread).
//! 2. The four ways to lay out a recurrent product `z_l = s_{l−1}·R_l` (`s` `[20, d]`, `R_l`
//!    `[d, 2d]` with `H` and `T` fused), forward and backward (the product autodiff runs for
//!    `∂L/∂s`), cycling through the matrices. Whichever way the matrix is stored, one direction
//!    reads it through a transposed view and is 2-4× slower under autodiff. `rhn`'s plain
//!    forward computes F1; its hand-written backward through time (`Rhn::forward_deferred`,
//!    used for training) computes F1 forward and F4's backward, each on a contiguous copy of
//!    its matrix, split by hidden units over the threads.
//! 3. One partition's forward product as the step runs it (two partitions: `[d, d]` rows of
//!    the fused matrix times `sᵀ` `[d, batch]`, on the calling thread), for batches of 4 to 40
//!    rows: the time it takes by the batch's size, through Burn's `matmul` and through
//!    [`highway_core::thin`]'s packed kernel (which `rhn` takes where [`thin::pays_off`]).
//! 4. The tied softmax layer as the CPU step runs it
//!    ([`models::softmax_kernel::softmax_cross_entropy_host`]: its three products through their
//!    strides and the row pass), on the rayon threads, in ms and in GFLOP/s of the products.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -p experiments --example rhn_matmuls [sota|small]
//! ```

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use highway_core::thin::{self, PackedRows};
use models::softmax_kernel::{WeightLayout, softmax_cross_entropy_host};

/// `(name, m, k, n, lhs stored transposed, rhs stored transposed, uses per step, distinct lhs
/// matrices per step)`.
type Shape = (&'static str, usize, usize, usize, bool, bool, usize, usize);

/// The tokens of a window: batch 20 × 35 steps.
const TOKENS: usize = 700;
const BATCH: usize = 20;
const VOCAB: usize = 10_000;

/// The products of a step of a tied, coupled-carry RHN of `depth` micro-layers and `d` units.
fn shapes(d: usize, depth: usize) -> [Shape; 7] {
    let steps = TOKENS / BATCH * depth;
    [
        (
            "recurrent forward  R_lᵀ·sᵀ",
            2 * d,
            d,
            BATCH,
            false,
            true,
            steps,
            depth,
        ),
        (
            "recurrent backward R_l·gᵀ",
            d,
            2 * d,
            BATCH,
            true,
            true,
            steps,
            depth,
        ),
        (
            "deferred weights   Sᵀ·G",
            d,
            TOKENS,
            2 * d,
            true,
            false,
            depth,
            1,
        ),
        (
            "input projection   x·W",
            TOKENS,
            d,
            2 * d,
            false,
            false,
            1,
            1,
        ),
        (
            "softmax forward    h·Eᵀ",
            TOKENS,
            d,
            VOCAB,
            false,
            true,
            1,
            1,
        ),
        (
            "softmax backward   g·E",
            TOKENS,
            VOCAB,
            d,
            false,
            false,
            1,
            1,
        ),
        (
            "softmax weights    gᵀ·h",
            VOCAB,
            TOKENS,
            d,
            true,
            false,
            1,
            1,
        ),
    ]
}

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
    let preset = std::env::args().nth(1).unwrap_or_else(|| "sota".into());
    let (d, depth) = match preset.as_str() {
        "sota" => (830, 10),
        "small" => (256, 4),
        other => {
            eprintln!("rhn_matmuls: unknown preset {other:?}: give sota or small");
            std::process::exit(2);
        }
    };
    println!("ptb_{preset}: depth {depth}, {d} units");
    let device = Device::flex();
    let mut total = 0.0;
    for (name, m, k, n, lhs_t, rhs_t, uses, matrices) in shapes(d, depth) {
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
            line(s, &format!(", {matrices} matrices in turn"));
        }
        total += s * uses as f64;
    }
    println!("sum over one step: {total:.3} s\n");

    // The layouts of a recurrent product, forward + backward, the matrices in turn.
    let r = |rows: usize, cols: usize| operand(rows, cols, false, &device);
    let m1: Vec<_> = (0..depth).map(|_| r(2 * d, d)).collect(); // R_lᵀ stored
    let m2: Vec<_> = (0..depth).map(|_| r(d, 2 * d)).collect(); // R_l stored
    let m1t: Vec<_> = m1.iter().map(|m| m.clone().transpose()).collect();
    let m2t: Vec<_> = m2.iter().map(|m| m.clone().transpose()).collect();
    let (s, g) = ([r(BATCH, d)], [r(BATCH, 2 * d)]);
    let (st, gt) = (
        [operand(d, BATCH, true, &device)],
        [operand(2 * d, BATCH, true, &device)],
    );
    let flops = 2.0 * (BATCH * d * 2 * d) as f64;
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

    // One partition's forward product by the batch's size, on this thread alone.
    println!(
        "\nthin kernel: {} on this CPU, taken by rhn: {}",
        thin::kernel(),
        thin::pays_off()
    );
    let part: Vec<_> = (0..depth).map(|_| r(d, d)).collect();
    let packed: Vec<_> = part
        .iter()
        .map(|m| PackedRows::pack(&m.to_data().try_to_vec::<f32>().expect("f32 values"), d, d))
        .collect();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    for batch in [4, 8, 12, 16, 20, 24, 32, 40] {
        let s = [r(d, batch)];
        let flops = 2.0 * (d * d * batch) as f64;
        let seconds = one_thread.install(|| time_product(&part, &s, flops));
        let s_host = s[0].to_data().try_to_vec::<f32>().expect("f32 values");
        let thin = time_thin(&packed, &s_host, batch, flops);
        println!(
            "partition R[{d}, {d}]·sᵀ[{d}, {batch:2}]  matmul {:7.1} µs {:6.1} GFLOP/s  thin {:7.1} µs {:6.1} GFLOP/s",
            seconds * 1e6,
            flops / seconds / 1e9,
            thin * 1e6,
            flops / thin / 1e9
        );
    }

    let softmax = time_softmax_host(d);
    let flops = 3.0 * 2.0 * (TOKENS * d * VOCAB) as f64;
    println!(
        "\nsoftmax host pass (tied, [{TOKENS}, {d}] · [{d}, {VOCAB}], three products and the row pass): {:.1} ms, {:.1} GFLOP/s of its products",
        softmax * 1e3,
        flops / softmax / 1e9
    );
}

/// Seconds per call of the host softmax pass on `tokens` rows of `d` values and a tied `[vocab,
/// d]` matrix (median of five after one warm-up call).
fn time_softmax_host(d: usize) -> f64 {
    let wave =
        |len: usize, s: f32| -> Vec<f32> { (0..len).map(|i| (i as f32 * s).sin() * 0.1).collect() };
    let (h, w, b) = (
        wave(TOKENS * d, 0.37),
        wave(VOCAB * d, 0.11),
        wave(VOCAB, 0.7),
    );
    let targets: Vec<usize> = (0..TOKENS).map(|i| (i * 7919) % VOCAB).collect();
    let call = || {
        let out = softmax_cross_entropy_host(&h, &w, WeightLayout::Rows, &b, &targets, 1.0);
        std::hint::black_box(out);
    };
    call();
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            call();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

/// Seconds per [`PackedRows::product`] on this thread, cycling through the matrices.
fn time_thin(packed: &[PackedRows], s: &[f32], n: usize, flops: f64) -> f64 {
    let reps = ((2e9 / flops).ceil() as usize).max(2 * packed.len());
    let mut z = vec![0.0; packed[0].rows() * n];
    packed[0].product(s, n, &mut z);
    let start = Instant::now();
    for r in 0..reps {
        packed[r % packed.len()].product(s, n, &mut z);
        std::hint::black_box(&mut z);
    }
    start.elapsed().as_secs_f64() / reps as f64
}
