//! `exp`, `log1p` and the logistic function in f32 for the pointwise kernels ([`super::pointwise`]),
//! written so that a loop over them vectorises: no calls, no data-dependent branches (each `if` is
//! a select on values both sides compute), integer tricks for the powers of two.
//!
//! Why not `f32::exp`: in wasm it is compiler-builtins' scalar `expf`, a call per element. A
//! profile of the page training `basic` (benches/profile_page.mjs) put 13% of its time in burn
//! flex's sigmoid, 8% in `expf` alone. These are Cephes' `expf` and `logf` polynomials (relative
//! error about 1e-7 without FMA), as SLEEF's and XNNPACK's vector forms use.

/// Adding this (1.5 × 2²³) to an f32 of magnitude under 2²² rounds it to an integer, which then
/// sits in the low bits of the sum's mantissa.
const ROUND: f32 = 12_582_912.0;
/// ln 2 split in two (Cody-Waite): `n × LN2_HI` is exact for the |n| < 2⁹ the callers reach.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x`, for x in [-87, 87] (clamped there, so that 2ⁿ stays a normal float); NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // (f32::clamp keeps NaN, unlike f32::max/min.)
    let x = x.clamp(-87.0, 87.0);
    // x = n ln 2 + r, |r| <= ln 2 / 2.
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let er = p * (r * r) + r + 1.0;
    // 2ⁿ from n's bits: n = shifted's bits minus ROUND's (the integer lives in the mantissa).
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    er * f32::from_bits(((n_int + 127) << 23) as u32)
}

/// `ln(1 + e)` for e in [0, 1] (the range of `exp(-|z|)` in the logistic losses).
#[inline(always)]
pub fn log1p_unit(e: f32) -> f32 {
    // 1 + e = 2ᵏ (1 + x) with x in [√½ - 1, √2 - 1): k = 0 below √2 (x = e exactly, which keeps
    // small e precise), k = 1 above (x = (e - 1) / 2).
    let high = 1.0 + e >= std::f32::consts::SQRT_2;
    let x = if high { (e - 1.0) * 0.5 } else { e };
    let k = if high { 1.0 } else { 0.0 };
    let z = x * x;
    let p = ((((((((7.037_683_6e-2 * x - 1.151_461e-1) * x + 1.167_699_9e-1) * x
        - 1.242_014_1e-1)
        * x
        + 1.424_932_3e-1)
        * x
        - 1.666_805_8e-1)
        * x
        + 2.000_071_4e-1)
        * x
        - 2.499_999_4e-1)
        * x
        + 3.333_333e-1)
        * x
        * z;
    let y = p + k * LN2_LO - 0.5 * z;
    x + y + k * LN2_HI
}

/// The logistic function `1 / (1 + e^-x)`, from `exp(-|x|)` so that nothing overflows.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    sigmoid_given(x, exp(-x.abs()))
}

/// [`sigmoid`]`(x)` from `e = exp(-|x|)`, which the loss needs as well.
#[inline(always)]
fn sigmoid_given(x: f32, e: f32) -> f32 {
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 { r } else { e * r }
}

/// Binary cross-entropy of the logit `z` against the target `t` in [0, 1],
/// `max(z, 0) - z t + ln(1 + e^-|z|)`, and its derivative in `z`, `sigmoid(z) - t`.
#[inline(always)]
pub fn bce_logits(z: f32, t: f32) -> (f32, f32) {
    let e = exp(-z.abs());
    let s = sigmoid_given(z, e);
    let relu = if z > 0.0 { z } else { 0.0 * z };
    (relu - z * t + log1p_unit(e), s - t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points spread over [lo, hi], the ends included.
    fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    #[test]
    fn exp_is_within_a_few_ulps_of_std() {
        for x in grid(-87.0, 87.0, 200_003) {
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            assert!(
                (got - want).abs() <= 3e-7 * want,
                "exp({x}): {got} vs {want}"
            );
        }
        assert_eq!(exp(-1000.0), exp(-87.0));
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn log1p_unit_is_within_a_few_ulps_of_std() {
        for e in grid(0.0, 1.0, 100_003).chain([1e-30, 1e-12, 1e-7, 0.4142, 0.41422]) {
            let (got, want) = (log1p_unit(e) as f64, (e as f64).ln_1p());
            assert!(
                (got - want).abs() <= 2e-7 * want.max(1e-30),
                "log1p({e}): {got} vs {want}"
            );
        }
        assert!(log1p_unit(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_and_bce_match_their_f64_forms() {
        for z in grid(-120.0, 120.0, 48_001) {
            let zd = z as f64;
            let s = 1.0 / (1.0 + (-zd).exp());
            // A few ulps (f32's is 6e-8 to 1.2e-7 relative); below e^-87 the clamp's 1.6e-38.
            let got = sigmoid(z) as f64;
            assert!(
                (got - s).abs() <= 3e-7 * s + 2e-38,
                "sigmoid({z}): {got} vs {s}"
            );
            for t in [0.0f32, 0.25, 1.0] {
                let (loss, grad) = bce_logits(z, t);
                let td = t as f64;
                let want = zd.max(0.0) - zd * td + (-zd.abs()).exp().ln_1p();
                assert!(
                    (loss as f64 - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "bce({z}, {t}): {loss} vs {want}"
                );
                assert!((grad as f64 - (s - td)).abs() <= 1e-7, "bce'({z}, {t})");
            }
        }
        assert!(sigmoid(f32::NAN).is_nan());
        assert!(bce_logits(f32::NAN, 0.5).0.is_nan() && bce_logits(f32::NAN, 0.5).1.is_nan());
    }
}
