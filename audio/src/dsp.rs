//! Small DSP building blocks shared by the synthesis and the mix: a seeded noise source, biquad
//! and state-variable filters, one-pole smoothers, slow random modulators, panning and fades.
//!
//! Invariant: every block is deterministic (randomness only through the [`Noise`] it is given),
//! allocation-free per sample, and stable for the parameters it accepts (cutoffs are clamped
//! below Nyquist), so finite input gives finite output.

use fundsp::biquad::BiquadCoefs;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{PI, TAU};

use crate::SAMPLE_RATE;

/// The output rate as `f32`.
pub(crate) const FS: f32 = SAMPLE_RATE as f32;

/// Decibels to an amplitude factor.
pub(crate) fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// An amplitude factor to decibels (−∞ for 0).
pub(crate) fn gain_to_db(gain: f64) -> f64 {
    if gain > 0.0 { 20.0 * gain.log10() } else { f64::NEG_INFINITY }
}

/// Seeded randomness: white and pink noise per sample, and uniform draws for events.
pub(crate) struct Noise {
    rng: ChaCha8Rng,
    /// White-noise words drawn a block at a time (much cheaper than one call per sample).
    block: [u32; NOISE_BLOCK],
    next: usize,
}

/// Random words drawn per refill of a [`Noise`]'s white-noise block.
const NOISE_BLOCK: usize = 256;

impl Noise {
    /// A source drawing from `rng`.
    pub(crate) fn new(rng: ChaCha8Rng) -> Self {
        Self { rng, block: [0; NOISE_BLOCK], next: NOISE_BLOCK }
    }

    /// A new source seeded from this one's next draw (for an event's own noise).
    pub(crate) fn fork(&mut self) -> Self {
        Self::new(ChaCha8Rng::seed_from_u64(self.rng.next_u64()))
    }

    /// White noise, uniform in −1..1.
    #[inline]
    pub(crate) fn white(&mut self) -> f32 {
        if self.next >= NOISE_BLOCK {
            self.rng.fill(&mut self.block[..]);
            self.next = 0;
        }
        let word = self.block.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        // 24 random bits: exact in f32.
        (word >> 8) as f32 * (2.0 / 16_777_216.0) - 1.0
    }

    /// Uniform in `lo..hi`.
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        if hi > lo { self.rng.random_range(lo..hi) } else { lo }
    }

    /// Log-uniform in `lo..hi` (both > 0): even over octaves.
    pub(crate) fn log_range(&mut self, lo: f32, hi: f32) -> f32 {
        if lo > 0.0 && hi > lo { (self.range(lo.ln(), hi.ln())).exp() } else { lo }
    }

    /// Uniform in 0..1.
    pub(crate) fn unit(&mut self) -> f32 {
        self.rng.random::<f32>()
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    /// An exponentially distributed wait with the given mean (for Poisson events).
    pub(crate) fn wait(&mut self, mean: f32) -> f32 {
        -mean * (1.0 - self.unit()).max(1e-9).ln()
    }
}

/// Pink noise (−3 dB/octave, Paul Kellet's filter) from white: one per independent stream.
#[derive(Clone, Copy, Default)]
pub(crate) struct Pink([f32; 7]);

impl Pink {
    /// The next pink sample for white sample `w` (roughly −1..1 for `w` in −1..1).
    #[inline]
    pub(crate) fn tick(&mut self, w: f32) -> f32 {
        let [b0, b1, b2, b3, b4, b5, b6] = &mut self.0;
        *b0 = 0.99886 * *b0 + w * 0.055_517_9;
        *b1 = 0.99332 * *b1 + w * 0.075_075_9;
        *b2 = 0.96900 * *b2 + w * 0.153_852;
        *b3 = 0.86650 * *b3 + w * 0.310_485_6;
        *b4 = 0.55000 * *b4 + w * 0.532_952_2;
        *b5 = -0.7616 * *b5 - w * 0.016_898;
        let out = *b0 + *b1 + *b2 + *b3 + *b4 + *b5 + *b6 + w * 0.5362;
        *b6 = w * 0.115_926;
        out * 0.11
    }
}

/// Brown (red) noise from white: a leaky integrator, one per independent stream.
#[derive(Clone, Copy, Default)]
pub(crate) struct Brown(f32);

impl Brown {
    /// The next brown sample for white sample `w` (roughly −1..1).
    #[inline]
    pub(crate) fn tick(&mut self, w: f32) -> f32 {
        self.0 = (self.0 * 0.995 + w * 0.06).clamp(-1.0, 1.0);
        self.0 * 3.0
    }
}

/// A second-order IIR filter (transposed direct form II) with fundsp's coefficient designs.
#[derive(Clone, Copy)]
pub(crate) struct Biquad {
    c: BiquadCoefs<f32>,
    s1: f32,
    s2: f32,
}

fn safe_cutoff(hz: f32) -> f32 {
    hz.clamp(5.0, FS * 0.45)
}

impl Biquad {
    fn with(c: BiquadCoefs<f32>) -> Self {
        Self { c, s1: 0.0, s2: 0.0 }
    }

    /// Low-pass at `hz` with resonance `q` (0.707: Butterworth).
    pub(crate) fn lowpass(hz: f32, q: f32) -> Self {
        Self::with(BiquadCoefs::lowpass(FS, safe_cutoff(hz), q.max(0.1)))
    }

    /// High-pass at `hz` with resonance `q`.
    pub(crate) fn highpass(hz: f32, q: f32) -> Self {
        Self::with(BiquadCoefs::highpass(FS, safe_cutoff(hz), q.max(0.1)))
    }

    /// Band-pass around `hz` with quality `q`, unit gain at the centre.
    pub(crate) fn bandpass(hz: f32, q: f32) -> Self {
        let hz = safe_cutoff(hz);
        // fundsp's resonator keeps its noise gain constant; scale it to unit gain at the centre.
        let mut c = BiquadCoefs::resonator(FS, hz, q.max(0.1));
        let peak = c.response(f64::from(hz / FS)).norm() as f32;
        if peak.is_finite() && peak > 1e-6 {
            c.b0 /= peak;
            c.b2 /= peak;
        }
        Self::with(c)
    }

    /// One sample through the filter.
    #[inline]
    pub(crate) fn tick(&mut self, x: f32) -> f32 {
        let c = &self.c;
        let y = c.b0 * x + self.s1;
        self.s1 = c.b1 * x - c.a1 * y + self.s2;
        self.s2 = c.b2 * x - c.a2 * y;
        y
    }
}

/// A state-variable filter (Simper's trapezoidal form) whose cutoff can move every sample.
#[derive(Clone, Copy, Default)]
pub(crate) struct Svf {
    g: f32,
    k: f32,
    a1: f32,
    a2: f32,
    a3: f32,
    ic1: f32,
    ic2: f32,
}

/// Outputs of one [`Svf`] step.
pub(crate) struct SvfOut {
    pub(crate) low: f32,
    pub(crate) band: f32,
}

impl Svf {
    /// A filter at `hz` with quality `q`.
    pub(crate) fn new(hz: f32, q: f32) -> Self {
        let mut f = Self::default();
        f.set(hz, q);
        f
    }

    /// Moves the cutoff to `hz` with quality `q` (state kept, so it glides).
    pub(crate) fn set(&mut self, hz: f32, q: f32) {
        self.g = (PI * safe_cutoff(hz) / FS).tan();
        self.k = 1.0 / q.max(0.1);
        self.a1 = 1.0 / (1.0 + self.g * (self.g + self.k));
        self.a2 = self.g * self.a1;
        self.a3 = self.g * self.a2;
    }

    /// One sample through the filter.
    #[inline]
    pub(crate) fn tick(&mut self, x: f32) -> SvfOut {
        let v3 = x - self.ic2;
        let v1 = self.a1 * self.ic1 + self.a2 * v3;
        let v2 = self.ic2 + self.a2 * self.ic1 + self.a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        SvfOut { low: v2, band: v1 }
    }
}

/// A one-pole low-pass (smoother) with a time constant in seconds.
#[derive(Clone, Copy)]
pub(crate) struct OnePole {
    a: f32,
    y: f32,
}

impl OnePole {
    /// A smoother with time constant `seconds`, starting at `start`.
    pub(crate) fn new(seconds: f32, start: f32) -> Self {
        let a = if seconds > 0.0 { 1.0 - (-1.0 / (seconds * FS)).exp() } else { 1.0 };
        Self { a, y: start }
    }

    /// One step towards `x`.
    #[inline]
    pub(crate) fn tick(&mut self, x: f32) -> f32 {
        self.y += self.a * (x - self.y);
        self.y
    }
}

/// A slow random modulator: three sines at random rates and phases, normalised to −1..1.
#[derive(Clone, Copy)]
pub(crate) struct Drift {
    parts: [(f32, f32, f32); 3],
}

impl Drift {
    /// A modulator whose rates lie in `lo_hz..hi_hz`.
    pub(crate) fn new(noise: &mut Noise, lo_hz: f32, hi_hz: f32) -> Self {
        let mut part = || (TAU * noise.log_range(lo_hz.max(1e-3), hi_hz.max(lo_hz * 1.01)), noise.range(0.0, TAU), 0.0);
        let mut parts = [part(), part(), part()];
        let weights = [0.55, 0.3, 0.15];
        for (p, w) in parts.iter_mut().zip(weights) {
            p.2 = w;
        }
        Self { parts }
    }

    /// The value at `t` seconds, in −1..1.
    #[inline]
    pub(crate) fn at(&self, t: f32) -> f32 {
        self.parts.iter().map(|(w, phase, amp)| amp * (w * t + phase).sin()).sum()
    }
}

/// Equal-power pan gains (left, right) for `pan` in −1..1.
#[inline]
pub(crate) fn pan_gains(pan: f32) -> (f32, f32) {
    let p = if pan.is_finite() { pan.clamp(-1.0, 1.0) } else { 0.0 };
    let angle = (p + 1.0) * 0.25 * PI;
    (angle.cos(), angle.sin())
}

/// A raised-cosine ramp from 0 to 1 over `x` in 0..1.
#[inline]
pub(crate) fn smooth_step(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    0.5 - 0.5 * (x * PI).cos()
}

/// Fades `samples` in over its first `frames` and out over its last `frames` (raised cosine);
/// a clip shorter than two fades fades over half its length each way.
pub(crate) fn fade_ends(samples: &mut [f32], frames: usize) {
    let n = samples.len();
    let fade = frames.min(n / 2);
    if fade == 0 {
        return;
    }
    for k in 0..fade {
        let g = smooth_step((k as f32 + 0.5) / fade as f32);
        if let Some(s) = samples.get_mut(k) {
            *s *= g;
        }
        if let Some(s) = samples.get_mut(n - 1 - k) {
            *s *= g;
        }
    }
}

/// A table-lookup oscillator shape: one period, `TABLE` points, read with linear interpolation.
pub(crate) const TABLE: usize = 2048;

/// One period of a waveform with the given harmonic amplitudes (index 0: fundamental) and
/// phases, normalised to a peak of 1.
pub(crate) fn harmonic_table(amps: &[f32], phases: &[f32]) -> Vec<f32> {
    let mut table: Vec<f32> = (0..TABLE)
        .map(|i| {
            let x = TAU * i as f32 / TABLE as f32;
            amps.iter()
                .enumerate()
                .map(|(h, a)| a * ((h as f32 + 1.0) * x + phases.get(h).copied().unwrap_or(0.0)).sin())
                .sum::<f32>()
        })
        .collect();
    let peak = table.iter().fold(0f32, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        for v in &mut table {
            *v /= peak;
        }
    }
    table
}

/// An oscillator phase kept in 0..1 after a step of less than one cycle either way (cheaper
/// than `fract`, which is a library call on baseline x86-64).
#[inline]
pub(crate) fn wrap(phase: f32) -> f32 {
    if phase >= 1.0 {
        phase - 1.0
    } else if phase < 0.0 {
        phase + 1.0
    } else {
        phase
    }
}

/// Reads `table` at `phase` (in cycles, any real value) with linear interpolation.
#[inline]
pub(crate) fn read_table(table: &[f32], phase: f32) -> f32 {
    let n = table.len();
    if n == 0 {
        return 0.0;
    }
    // Oscillators keep their phase in 0..1 already; wrapping (fmod) is slow, so only if needed.
    let phase = if (0.0..1.0).contains(&phase) { phase } else { phase.rem_euclid(1.0) };
    let pos = phase * n as f32;
    let i = (pos as usize).min(n - 1);
    let frac = pos - i as f32;
    let a = table.get(i).copied().unwrap_or(0.0);
    let b = table.get((i + 1) % n).copied().unwrap_or(0.0);
    a + (b - a) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_bounded_and_seeded() {
        let mut a = Noise::new(ChaCha8Rng::seed_from_u64(1));
        let mut b = Noise::new(ChaCha8Rng::seed_from_u64(1));
        let (mut pink, mut brown) = (Pink::default(), Brown::default());
        for _ in 0..10_000 {
            let (x, y) = (a.white(), b.white());
            assert_eq!(x, y);
            assert!((-1.0..1.0).contains(&x));
            assert!(pink.tick(x).abs() < 2.0);
            assert!(brown.tick(x).abs() <= 3.0);
        }
    }

    #[test]
    fn filters_pass_and_stop() {
        let sine = |hz: f32, n: usize| (0..n).map(move |i| (TAU * hz * i as f32 / FS).sin());
        let rms_after = |mut f: Biquad, hz: f32| {
            let out: Vec<f32> = sine(hz, 48_000).map(|x| f.tick(x)).skip(4_800).collect();
            (out.iter().map(|v| v * v).sum::<f32>() / out.len() as f32).sqrt()
        };
        assert!(rms_after(Biquad::lowpass(500.0, 0.707), 100.0) > 0.65);
        assert!(rms_after(Biquad::lowpass(500.0, 0.707), 8_000.0) < 0.01);
        assert!(rms_after(Biquad::highpass(2_000.0, 0.707), 100.0) < 0.01);
        assert!(rms_after(Biquad::bandpass(1_000.0, 2.0), 1_000.0) > 0.6);
        assert!(rms_after(Biquad::bandpass(1_000.0, 2.0), 10_000.0) < 0.1);
        let mut svf = Svf::new(300.0, 0.707);
        let out: Vec<f32> = sine(5_000.0, 48_000).map(|x| svf.tick(x).low).collect();
        assert!(out.iter().skip(1_000).all(|v| v.abs() < 0.02));
    }

    #[test]
    fn fades_and_pans() {
        let mut x = vec![1.0f32; 1_000];
        fade_ends(&mut x, 100);
        assert!(x[0] < 0.01 && x[999] < 0.01 && x[500] == 1.0);
        let mut short = vec![1.0f32; 3];
        fade_ends(&mut short, 100);
        assert!(short.iter().all(|v| v.is_finite()));
        fade_ends(&mut [], 10);
        let (l, r) = pan_gains(0.0);
        assert!((l * l + r * r - 1.0).abs() < 1e-5 && (l - r).abs() < 1e-6);
        assert_eq!(pan_gains(f32::NAN), pan_gains(0.0));
        let t = harmonic_table(&[1.0, 0.5], &[0.0, 0.0]);
        assert!((t.iter().fold(0f32, |m, v| m.max(v.abs())) - 1.0).abs() < 1e-5);
        assert!((read_table(&t, 0.25) - read_table(&t, 1.25)).abs() < 1e-5);
        assert_eq!(read_table(&[], 0.3), 0.0);
    }
}
