//! `e^x` written out, for loops that vectorise: the C library's `expf` is a call per element,
//! which no loop around it can vectorise. Used by the highway fast path's gates
//! ([`conv_kernel`](crate::conv_kernel)) and `models`' softmax loss on the CPU.

/// `e^x` without a library call, so that a loop of it vectorises: Cephes' `expf` (the
/// argument reduced by `n·ln 2` with `n` rounded to nearest, a degree-6 polynomial on
/// `[−ln 2 / 2, ln 2 / 2]`, `2ⁿ` put into the exponent bits). Arguments are clamped to
/// `[−87, 88]`, where `2ⁿ` is a normal number; NaN stays NaN. Within two ulp of `f32::exp`
/// (tested).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // Adding and subtracting 1.5·2²³ rounds a float of magnitude below 2²² to an integer.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // `shifted`'s bits are those of 1.5·2²³ plus `n` (a float conversion `n as i32` would
    // check for NaN and overflow per element, and the loop would not vectorise); for NaN they
    // are garbage, and `e` is NaN.
    let two_n = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127)
        << 23;
    e * f32::from_bits(two_n)
}

#[cfg(test)]
mod tests {
    use super::exp;

    #[test]
    fn exp_is_within_a_few_ulp_of_the_library_exp() {
        let mut worst = 0.0f64;
        for i in 0..=1_750_000 {
            let x = -87.0 + i as f32 * 1e-4;
            let (fast, reference) = (exp(x) as f64, x.exp() as f64);
            worst = worst.max((fast - reference).abs() / reference);
        }
        // f32's ulp is 2^-23 ≈ 1.2e-7 relative.
        assert!(worst < 2.5e-7, "relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
        // Clamped at the ends: finite and positive.
        assert!(exp(1000.0).is_finite() && exp(-1000.0) > 0.0);
    }
}
