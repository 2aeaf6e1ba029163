//! Speech from a voice's own rate (8 kHz, 16 kHz, 22.05 kHz, 44.1 kHz…) to [`SAMPLE_RATE`].
//!
//! Band-limited interpolation with a Kaiser-windowed sinc (β = 8, about 80 dB of stop-band
//! rejection, [`ZERO_CROSSINGS`] zero crossings each side), tabulated at [`PHASES`] points per
//! zero crossing and read with linear interpolation. The cut-off is 90 % of the lower of the two
//! Nyquist frequencies, so upsampling leaves no images above the input's band and downsampling
//! folds nothing back. Output sample `n` sits exactly at input time `n·from/to` (integer
//! arithmetic, no drift over long clips).
//!
//! Invariants: never panics; a rate of 0, a rate outside [`MIN_RATE`]`..=`[`MAX_RATE`] or an
//! empty clip gives an empty clip (at the requested rate); otherwise the output has
//! `round(len·to/from)` samples, all finite (non-finite input samples count as silence).

use crate::{Mono, SAMPLE_RATE};

/// Lowest input rate resampled.
pub const MIN_RATE: u32 = 1_000;
/// Highest input rate resampled.
pub const MAX_RATE: u32 = 384_000;
/// Zero crossings of the interpolation kernel on each side of its centre.
pub const ZERO_CROSSINGS: usize = 32;
/// Table points per zero crossing of the kernel.
pub const PHASES: usize = 512;
/// Cut-off as a fraction of the lower Nyquist frequency.
const PASSBAND: f64 = 0.9;
/// Kaiser window shape (≈ 80 dB stop band).
const KAISER_BETA: f64 = 8.0;

/// `clip` at [`SAMPLE_RATE`]; see the module documentation for the guarantees.
pub fn to_output_rate(clip: &Mono) -> Mono {
    resample(clip, SAMPLE_RATE)
}

/// `clip` at `rate` (also within [`MIN_RATE`]`..=`[`MAX_RATE`]); see the module documentation.
pub fn resample(clip: &Mono, rate: u32) -> Mono {
    let from = clip.rate;
    let empty = Mono { samples: Vec::new(), rate };
    let supported = |r: u32| (MIN_RATE..=MAX_RATE).contains(&r);
    if clip.samples.is_empty() || !supported(from) || !supported(rate) {
        return empty;
    }
    let clean = |v: &f32| if v.is_finite() { *v } else { 0.0 };
    if from == rate {
        return Mono { samples: clip.samples.iter().map(clean).collect(), rate };
    }
    let input: Vec<f32> = clip.samples.iter().map(clean).collect();
    let len = input.len() as u128;
    let out_len = ((len * u128::from(rate) + u128::from(from) / 2) / u128::from(from)) as usize;
    let kernel = Kernel::new();
    // Kernel scale: zero crossings every 1/scale input samples.
    let scale = PASSBAND * (f64::from(rate) / f64::from(from)).min(1.0);
    let half = (ZERO_CROSSINGS as f64 / scale).ceil() as usize;
    let taps = 2 * half;
    // Output n sits at input time n·from/to = centre + phase/steps, with `steps` distinct phases.
    let g = gcd(from, rate);
    let (step, steps) = (u64::from(from / g), u64::from(rate / g));
    // The coefficients of one phase: tap k weighs input sample centre − half + 1 + k.
    let coefficients = |phase: u64| -> Vec<f32> {
        let frac = phase as f64 / steps as f64;
        (0..taps)
            .map(|k| {
                let t = k as f64 - (half as f64 - 1.0) - frac;
                (kernel.at((t * scale).abs()) * scale) as f32
            })
            .collect()
    };
    // With few phases (every common rate) all are computed once; otherwise each as needed.
    let bank: Option<Vec<Vec<f32>>> =
        (steps as usize * taps <= MAX_BANK).then(|| (0..steps).map(coefficients).collect());
    let mut out = Vec::with_capacity(out_len);
    let mut scratch;
    for n in 0..out_len as u64 {
        let centre = (n * step / steps) as usize;
        let phase = (n * step) % steps;
        let coefs: &[f32] = match &bank {
            Some(bank) => bank.get(phase as usize).map_or(&[], Vec::as_slice),
            None => {
                scratch = coefficients(phase);
                &scratch
            }
        };
        // Taps that fall before the clip's start or after its end meet silence.
        let first = (centre + 1).saturating_sub(half);
        let skip = first + half - (centre + 1);
        let window = input.get(first..).unwrap_or(&[]);
        let acc: f32 = coefs.iter().skip(skip).zip(window).map(|(c, x)| c * x).sum();
        out.push(acc);
    }
    Mono { samples: out, rate }
}

/// Most coefficients kept precomputed (phases × taps).
const MAX_BANK: usize = 1 << 20;

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// The windowed sinc `sinc(u)·kaiser(u/ZERO_CROSSINGS)` for `u ≥ 0`, tabulated.
struct Kernel {
    table: Vec<f64>,
}

impl Kernel {
    fn new() -> Self {
        let points = ZERO_CROSSINGS * PHASES + 2;
        let norm = bessel_i0(KAISER_BETA);
        let table = (0..points)
            .map(|i| {
                let u = i as f64 / PHASES as f64;
                let x = u / ZERO_CROSSINGS as f64;
                if x >= 1.0 {
                    return 0.0;
                }
                let window = bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / norm;
                let sinc = if u == 0.0 { 1.0 } else { (std::f64::consts::PI * u).sin() / (std::f64::consts::PI * u) };
                sinc * window
            })
            .collect();
        Self { table }
    }

    /// The kernel at `u` zero crossings from its centre (0 beyond the window).
    #[inline]
    fn at(&self, u: f64) -> f64 {
        let pos = u * PHASES as f64;
        let i = pos as usize;
        let frac = pos - i as f64;
        match (self.table.get(i), self.table.get(i + 1)) {
            (Some(a), Some(b)) => a + (b - a) * frac,
            _ => 0.0,
        }
    }
}

/// The modified Bessel function of the first kind, order 0 (series; converges fast for β ≤ 20).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..60 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    fn sine(hz: f64, rate: u32, seconds: f64, amp: f64) -> Mono {
        let n = (seconds * f64::from(rate)) as usize;
        Mono { samples: (0..n).map(|i| (amp * (TAU * hz * i as f64 / f64::from(rate)).sin()) as f32).collect(), rate }
    }

    /// Amplitude of the `hz` component (Goertzel-style projection onto sine and cosine).
    fn amplitude_at(x: &[f32], rate: u32, hz: f64) -> f64 {
        let (mut s, mut c) = (0f64, 0f64);
        for (i, v) in x.iter().enumerate() {
            let p = TAU * hz * i as f64 / f64::from(rate);
            s += f64::from(*v) * p.sin();
            c += f64::from(*v) * p.cos();
        }
        2.0 * (s * s + c * c).sqrt() / x.len() as f64
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    /// The part of `x` that is not a sine at `hz`, relative to the whole (least squares fit).
    fn residual_db(x: &[f32], rate: u32, hz: f64) -> f64 {
        let (mut ss, mut cc, mut sc, mut xs, mut xc) = (0f64, 0f64, 0f64, 0f64, 0f64);
        for (i, v) in x.iter().enumerate() {
            let p = TAU * hz * i as f64 / f64::from(rate);
            let (s, c, v) = (p.sin(), p.cos(), f64::from(*v));
            ss += s * s;
            cc += c * c;
            sc += s * c;
            xs += v * s;
            xc += v * c;
        }
        let det = ss * cc - sc * sc;
        let a = (xs * cc - xc * sc) / det;
        let b = (xc * ss - xs * sc) / det;
        let res: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let p = TAU * hz * i as f64 / f64::from(rate);
                (f64::from(*v) - a * p.sin() - b * p.cos()) as f32
            })
            .collect();
        20.0 * (rms(&res) / rms(x)).log10()
    }

    #[test]
    fn a_sine_keeps_its_frequency_and_amplitude_from_22050() {
        let clip = sine(1_000.0, 22_050, 1.0, 0.5);
        let out = to_output_rate(&clip);
        assert_eq!(out.rate, SAMPLE_RATE);
        assert_eq!(out.samples.len(), 48_000);
        // Away from the edges (where the kernel runs off the clip).
        let inner = &out.samples[2_400..45_600];
        let amp = amplitude_at(inner, SAMPLE_RATE, 1_000.0);
        assert!((amp - 0.5).abs() < 0.005, "amplitude {amp}");
        let residual = residual_db(inner, SAMPLE_RATE, 1_000.0);
        assert!(residual < -60.0, "energy away from 1 kHz: {residual:.1} dB");
        // Nothing at the images an unfiltered upsampler would leave (22.05 kHz ± 1 kHz).
        for image in [21_050.0, 23_050.0] {
            let a = amplitude_at(inner, SAMPLE_RATE, image);
            assert!(a < 0.5e-3, "image at {image}: {a}");
        }
    }

    #[test]
    fn common_voice_rates() {
        for rate in
            [8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 88_200, 96_000, 192_000, 4_000, 12_345]
        {
            let hz = 440.0;
            let clip = sine(hz, rate, 0.5, 0.8);
            let out = to_output_rate(&clip);
            let want = ((clip.samples.len() as f64) * 48_000.0 / f64::from(rate)).round() as usize;
            assert_eq!(out.samples.len(), want, "{rate}");
            let inner = &out.samples[4_800..out.samples.len() - 4_800];
            let amp = amplitude_at(inner, SAMPLE_RATE, hz);
            assert!((amp - 0.8).abs() < 0.01, "{rate}: amplitude {amp}");
            assert!(residual_db(inner, SAMPLE_RATE, hz) < -60.0, "{rate}");
        }
    }

    #[test]
    fn downsampling_removes_what_does_not_fit() {
        // 30 kHz at 96 kHz has no place at 48 kHz: it must be filtered, not folded to 18 kHz.
        let clip = sine(30_000.0, 96_000, 0.5, 0.5);
        let out = to_output_rate(&clip);
        assert!(rms(&out.samples[2_400..21_600]) < 1e-3, "{}", rms(&out.samples));
        // Upsampling from 8 kHz: a 3 kHz tone stays, no image at 5 kHz.
        let out = to_output_rate(&sine(3_000.0, 8_000, 0.5, 0.5));
        let inner = &out.samples[4_800..19_200];
        assert!((amplitude_at(inner, SAMPLE_RATE, 3_000.0) - 0.5).abs() < 0.01);
        assert!(amplitude_at(inner, SAMPLE_RATE, 5_000.0) < 1e-3);
    }

    #[test]
    fn edge_cases_never_panic() {
        assert!(to_output_rate(&Mono { samples: vec![0.1; 100], rate: 0 }).samples.is_empty());
        assert!(to_output_rate(&Mono { samples: vec![], rate: 16_000 }).samples.is_empty());
        assert!(to_output_rate(&Mono { samples: vec![0.1; 100], rate: 999 }).samples.is_empty());
        assert!(to_output_rate(&Mono { samples: vec![0.1; 100], rate: u32::MAX }).samples.is_empty());
        assert_eq!(to_output_rate(&Mono::default()), Mono { samples: vec![], rate: SAMPLE_RATE });
        let one = to_output_rate(&Mono { samples: vec![0.5], rate: 16_000 });
        assert_eq!(one.samples.len(), 3);
        assert!(one.samples.iter().all(|v| v.is_finite()));
        let nan = to_output_rate(&Mono { samples: vec![f32::NAN, f32::INFINITY, 0.2, -0.2], rate: 16_000 });
        assert!(nan.samples.iter().all(|v| v.is_finite()));
        let same = to_output_rate(&Mono { samples: vec![0.25, f32::NAN], rate: SAMPLE_RATE });
        assert_eq!(same.samples, vec![0.25, 0.0]);
        assert!(resample(&Mono { samples: vec![0.1; 10], rate: 16_000 }, 0).samples.is_empty());
    }

    #[test]
    fn dc_and_length_are_exact_enough() {
        // A constant stays constant (kernel gain 1 at every phase).
        let out = to_output_rate(&Mono { samples: vec![0.5; 22_050], rate: 22_050 });
        for v in &out.samples[4_800..43_200] {
            assert!((v - 0.5).abs() < 1e-3, "{v}");
        }
        // Long clips do not drift: 5 s of 44.1 kHz gives exactly 5 s, and a click stays put.
        let mut samples = vec![0.0; 44_100 * 5];
        samples[44_100 * 4] = 1.0;
        let out = to_output_rate(&Mono { samples, rate: 44_100 });
        assert_eq!(out.samples.len(), 48_000 * 5);
        let peak = out.samples.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(peak, 48_000 * 4);
        // A rate with many phases (no precomputed bank) works the same way.
        let odd = to_output_rate(&sine(440.0, 47_999, 0.2, 0.5));
        assert_eq!(odd.samples.len(), 9_599);
        assert!((amplitude_at(&odd.samples[2_000..7_600], SAMPLE_RATE, 440.0) - 0.5).abs() < 0.01);
    }
}
