use super::gates::{
    gates_backward, gates_backward_portable, gates_forward, gates_forward_portable, sigmoid,
};
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
fn the_sigmoid_saturates_and_equals_its_definition() {
    // The exp is clamped at the ends: the sigmoid saturates to 0 and 1.
    assert!(sigmoid(-1000.0) < 1e-37 && sigmoid(1000.0) == 1.0);
    assert!((sigmoid(0.5) - 1.0 / (1.0 + (-0.5f32).exp())).abs() < 1e-7);
}

/// The gate loops as picked at run time (AVX2 with FMA where the CPU has them) give the same
/// bits as the build's baseline: one source, compiled twice, no reassociation.
#[test]
fn the_gate_loops_equal_their_baseline_build() {
    let c = 37;
    let wave = |s: f32, len: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 + s) * 0.73).sin() * 4.0)
            .collect()
    };
    for act in [Act::Relu, Act::Tanh] {
        for gates in 1..=3 {
            let (x, d) = (wave(1.0, c), wave(2.0, c));
            let (mut z, mut z0) = (wave(3.0, gates * c), wave(3.0, gates * c));
            let (mut out, mut out0) = (vec![0.0; c], vec![0.0; c]);
            gates_forward(act, gates, &mut z, &x, &mut out);
            gates_forward_portable(act, gates, &mut z0, &x, &mut out0);
            assert_eq!((&z, &out), (&z0, &out0), "{act:?}, {gates} gates");
            let (mut dz, mut dz0) = (vec![0.0; gates * c], vec![0.0; gates * c]);
            let (mut dx, mut dx0) = (vec![0.0; c], vec![0.0; c]);
            gates_backward(act, gates, &d, &z, &x, &mut dz, &mut dx);
            gates_backward_portable(act, gates, &d, &z, &x, &mut dz0, &mut dx0);
            assert_eq!((&dz, &dx), (&dz0, &dx0), "{act:?}, {gates} gates");
        }
    }
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
