//! `tanh x` written out, for loops that vectorise: the C library's `tanhf` is a call per
//! element (and an `expm1f` inside it), which no loop around it can vectorise. Used by the
//! fast paths' gate loops ([`conv_kernel::gates_forward`](crate::conv_kernel::gates_forward):
//! the conv and dense stacks with `tanh`, and `rhn`'s recurrence on the CPU).

/// Below this magnitude `tanh x` is `x` in `f32` (`x³/3` is under half an ulp of `x`).
const TINY: f32 = 4e-4;

/// `tanh x` without a library call, so that a loop of it vectorises: the rational
/// approximation of Eigen's `ptanh` for `float` (a degree-13 odd numerator over a degree-6
/// even denominator in `x`), with the argument clamped to `[−9, 9]` (beyond which `tanh` rounds
/// to `±1`) and `x` itself returned below `4e-4` (where `x³/3` is under half an ulp of `x`).
/// Within 4e-7 of `tanh` relative (about three ulp; tested); NaN stays NaN.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    // Eigen's coefficients as published (more digits than an f32 holds).
    #[allow(clippy::excessive_precision)]
    const ALPHA: [f32; 7] = [
        4.89352455891786e-03,
        6.37261928875436e-04,
        1.48572235717979e-05,
        5.12229709037114e-08,
        -8.60467152213735e-11,
        2.00018790482477e-13,
        -2.76076847742355e-16,
    ];
    #[allow(clippy::excessive_precision)]
    const BETA: [f32; 4] = [
        4.89352518554385e-03,
        2.26843463243900e-03,
        1.18534705686654e-04,
        1.19825839466702e-06,
    ];
    let c = x.clamp(-9.0, 9.0);
    let x2 = c * c;
    let mut p = ALPHA[6];
    for a in ALPHA[..6].iter().rev() {
        p = p * x2 + a;
    }
    let p = p * c;
    let mut q = BETA[3];
    for b in BETA[..3].iter().rev() {
        q = q * x2 + b;
    }
    // `clamp` keeps NaN, and so does the quotient.
    if x.abs() < TINY { x } else { p / q }
}

#[cfg(test)]
mod tests {
    use super::tanh;

    #[test]
    fn tanh_is_within_a_few_ulp_of_the_library_tanh() {
        let mut worst = 0.0f64;
        let mut check = |x: f32| {
            let (fast, reference) = (tanh(x) as f64, (x as f64).tanh());
            let rel = (fast - reference).abs() / reference.abs().max(f64::MIN_POSITIVE);
            worst = worst.max(rel);
        };
        for i in 0..=2_400_000 {
            check(-12.0 + i as f32 * 1e-5);
        }
        for i in 0..=90_000 {
            // 1e-8 to 10, logarithmically, and their negatives.
            let x = 10f32.powf(-8.0 + i as f32 * 1e-4);
            check(x);
            check(-x);
        }
        // f32's ulp is 2^-23 ≈ 1.2e-7 relative.
        assert!(worst < 4e-7, "relative error {worst:e}");
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(30.0), 1.0);
        assert_eq!(tanh(-30.0), -1.0);
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(1e-20), 1e-20);
    }
}
