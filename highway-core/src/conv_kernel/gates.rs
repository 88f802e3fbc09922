//! The element-wise part of the fast path's highway layer (*Training Very Deep Networks*
//! eq. (2)): from the pre-activations `z = [z_H z_T (z_C)]` of a block of pixels, the output
//! `y = act(z_H)·T + x·C` and, backwards, `∂z` and the carry term of `∂x` (the equations in the
//! [parent module's docs](super)).

/// The non-linearity of `H` the fast path computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `max(z, 0)`.
    Relu,
    /// `tanh z`.
    Tanh,
}

/// A non-linearity as a type, so that the gate loops are compiled once for each, without a
/// branch on it per element.
trait Nonlinearity {
    /// `act(z)`.
    fn value(z: f32) -> f32;
    /// `act'(z)` from `h = act(z)`.
    fn derivative(h: f32) -> f32;
}

struct Relu;

impl Nonlinearity for Relu {
    #[inline(always)]
    fn value(z: f32) -> f32 {
        z.max(0.0)
    }

    /// `h > 0` exactly where `z > 0`.
    #[inline(always)]
    fn derivative(h: f32) -> f32 {
        if h > 0.0 { 1.0 } else { 0.0 }
    }
}

struct Tanh;

impl Nonlinearity for Tanh {
    #[inline(always)]
    fn value(z: f32) -> f32 {
        crate::fast_tanh::tanh(z)
    }

    #[inline(always)]
    fn derivative(h: f32) -> f32 {
        1.0 - h * h
    }
}

pub(super) use crate::fast_exp::exp;

/// `σ(z) = 1 / (1 + e^{−z})`.
#[inline(always)]
pub(super) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp(-z))
}

/// The gate arithmetic of one position, forward: `z` (`[G·C]`, biases added) becomes
/// `H = act(z_H)`, `T = σ(z_T)` (and `C = σ(z_C)`) in place, and `out` gets
/// `y = H·T + x·(1 − T)` (coupled carry), `H·T + x·C` (free carry) or `H` (a plain layer).
///
/// Element-wise, so `C` may be any block of values laid out alike in `z`, `x` and `out`: the
/// RHN's hand-written recurrence (`rhn`) passes a micro-layer's `[units, batch]` gates.
///
/// # Panics
///
/// If `z` holds fewer than `G · C` values (`C = out.len()`), or `x` fewer than `C` (with two or
/// three gates).
pub fn gates_forward(act: Act, gates: usize, z: &mut [f32], x: &[f32], out: &mut [f32]) {
    let c = out.len();
    assert!(
        z.len() >= gates * c && (gates == 1 || x.len() >= c),
        "gate buffers too short"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { gates_forward_avx2(act, gates, z, x, out) };
    }
    gates_forward_portable(act, gates, z, x, out);
}

/// [`gates_forward`] compiled for AVX2 with FMA ([`crate::simd`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gates_forward_avx2(act: Act, gates: usize, z: &mut [f32], x: &[f32], out: &mut [f32]) {
    gates_forward_portable(act, gates, z, x, out);
}

/// [`gates_forward`] for the build's baseline instructions.
#[inline(always)]
pub(super) fn gates_forward_portable(
    act: Act,
    gates: usize,
    z: &mut [f32],
    x: &[f32],
    out: &mut [f32],
) {
    match act {
        Act::Relu => gates_forward_with::<Relu>(gates, z, x, out),
        Act::Tanh => gates_forward_with::<Tanh>(gates, z, x, out),
    }
}

#[inline(always)]
fn gates_forward_with<A: Nonlinearity>(gates: usize, z: &mut [f32], x: &[f32], out: &mut [f32]) {
    let c = out.len();
    let (h, rest) = z.split_at_mut(c);
    for v in h.iter_mut() {
        *v = A::value(*v);
    }
    match gates {
        1 => out.copy_from_slice(h),
        2 => {
            let t = &mut rest[..c];
            for v in t.iter_mut() {
                *v = sigmoid(*v);
            }
            for (((o, h), t), x) in out.iter_mut().zip(&*h).zip(&*t).zip(x) {
                *o = h * t + x * (1.0 - t);
            }
        }
        _ => {
            let (t, carry) = rest.split_at_mut(c);
            for v in t.iter_mut() {
                *v = sigmoid(*v);
            }
            for v in carry.iter_mut() {
                *v = sigmoid(*v);
            }
            let it = out.iter_mut().zip(&*h).zip(&*t).zip(&*carry).zip(x);
            for ((((o, h), t), cg), x) in it {
                *o = h * t + x * cg;
            }
        }
    }
}

/// The gate arithmetic of one position, backward: from `∂y` (`d`), the saved `H, T (, C)` and
/// the input `x`, writes `∂z` (`[G·C]`) and the carry part of `∂x`:
/// `∂z_H = ∂y·T·act'`, `∂z_T = ∂y·(H − x)·T(1 − T)` and `∂x = ∂y·(1 − T)` (coupled);
/// `∂z_T = ∂y·H·T(1 − T)`, `∂z_C = ∂y·x·C(1 − C)` and `∂x = ∂y·C` (free);
/// `∂z_H = ∂y·act'` and no carry part (plain). Element-wise, as [`gates_forward`].
///
/// # Panics
///
/// If `saved` or `dz` hold fewer than `G · C` values (`C = d.len()`), or `x` or `dx` (with
/// two or three gates) fewer than `C`.
pub fn gates_backward(
    act: Act,
    gates: usize,
    d: &[f32],
    saved: &[f32],
    x: &[f32],
    dz: &mut [f32],
    dx: &mut [f32],
) {
    let c = d.len();
    let carry = gates == 1 || (x.len() >= c && dx.len() >= c);
    assert!(
        saved.len() >= gates * c && dz.len() >= gates * c && carry,
        "gate buffers too short"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { gates_backward_avx2(act, gates, d, saved, x, dz, dx) };
    }
    gates_backward_portable(act, gates, d, saved, x, dz, dx);
}

/// [`gates_backward`] compiled for AVX2 with FMA ([`crate::simd`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gates_backward_avx2(
    act: Act,
    gates: usize,
    d: &[f32],
    saved: &[f32],
    x: &[f32],
    dz: &mut [f32],
    dx: &mut [f32],
) {
    gates_backward_portable(act, gates, d, saved, x, dz, dx);
}

/// [`gates_backward`] for the build's baseline instructions.
#[inline(always)]
pub(super) fn gates_backward_portable(
    act: Act,
    gates: usize,
    d: &[f32],
    saved: &[f32],
    x: &[f32],
    dz: &mut [f32],
    dx: &mut [f32],
) {
    match act {
        Act::Relu => gates_backward_with::<Relu>(gates, d, saved, x, dz, dx),
        Act::Tanh => gates_backward_with::<Tanh>(gates, d, saved, x, dz, dx),
    }
}

#[inline(always)]
fn gates_backward_with<A: Nonlinearity>(
    gates: usize,
    d: &[f32],
    saved: &[f32],
    x: &[f32],
    dz: &mut [f32],
    dx: &mut [f32],
) {
    let c = d.len();
    let h = &saved[..c];
    let (dz_h, dz_rest) = dz.split_at_mut(c);
    if gates == 1 {
        for ((o, d), h) in dz_h.iter_mut().zip(d).zip(h) {
            *o = d * A::derivative(*h);
        }
        return;
    }
    let t = &saved[c..2 * c];
    for (((o, d), h), t) in dz_h.iter_mut().zip(d).zip(h).zip(t) {
        *o = d * t * A::derivative(*h);
    }
    if gates == 2 {
        let it = dz_rest
            .iter_mut()
            .zip(dx.iter_mut())
            .zip(d)
            .zip(h)
            .zip(t)
            .zip(x);
        for (((((dz_t, dx), d), h), t), x) in it {
            *dz_t = d * (h - x) * t * (1.0 - t);
            *dx = d * (1.0 - t);
        }
    } else {
        let carry = &saved[2 * c..3 * c];
        let (dz_t, dz_c) = dz_rest.split_at_mut(c);
        for (((o, d), h), t) in dz_t.iter_mut().zip(d).zip(h).zip(t) {
            *o = d * h * t * (1.0 - t);
        }
        let it = dz_c.iter_mut().zip(dx.iter_mut()).zip(d).zip(carry).zip(x);
        for ((((dz_c, dx), d), cg), x) in it {
            *dz_c = d * x * cg * (1.0 - cg);
            *dx = d * cg;
        }
    }
}
