//! A scene's cues synthesised procedurally: rain, wind, waves, birds, crowd, traffic, an engine,
//! fire, a music pad, crickets, thunder, a space drone, room tone, a stream and falling snow.
//!
//! Each cue is rendered from its own random stream (seeded from the render's seed and the cue),
//! scaled so that at level 1 cues sit near the same loudness (about −20 LUFS), and summed; the
//! sum fades in and out over [`FADE_SECONDS`] and is scaled down if its peak would pass
//! [`PEAK_CEILING`].
//!
//! Invariants: [`render`] returns exactly [`frames_for`]`(seconds)` frames per channel (up to
//! [`MAX_SECONDS`]), every sample finite and within ±[`PEAK_CEILING`]; the same scene, length and
//! seed give the same samples, bit for bit; a cue's sound does not depend on which other cues
//! are in the scene.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{PI, TAU};

use crate::dsp::{
    Biquad, Brown, Drift, FS, Noise, OnePole, Pink, Svf, fade_ends, harmonic_table, pan_gains, read_table, smooth_step,
    wrap,
};
use crate::scene::{Cue, SceneSound};
use crate::{Stereo, frames_for};

/// Length of the fade at each end of a rendered clip.
pub const FADE_SECONDS: f64 = 0.05;

/// Longest clip rendered; a longer request is cut to this.
pub const MAX_SECONDS: f64 = 600.0;

/// Highest sample magnitude a render has.
pub const PEAK_CEILING: f32 = 0.98;

/// Samples per control-rate step (modulators are evaluated this often).
const BLOCK: usize = 32;

/// Renders `scene` as `seconds` of 48 kHz stereo, deterministic for `seed`.
pub fn render(scene: &SceneSound, seconds: f64, seed: u64) -> Stereo {
    let frames = frames_for(seconds).min(frames_for(MAX_SECONDS));
    let mut out = Stereo::silence(frames);
    if frames == 0 {
        return out;
    }
    for (cue, level) in &scene.cues {
        let level = if level.is_finite() { level.clamp(0.0, 1.0) } else { 0.0 };
        if level <= 0.0 {
            continue;
        }
        let rng = ChaCha8Rng::seed_from_u64(seed ^ cue_salt(*cue));
        let mut bus = Bus { left: &mut out.left, right: &mut out.right, gain: level * cue_gain(*cue) };
        let mut noise = Noise::new(rng);
        match cue {
            Cue::Rain => rain(&mut bus, &mut noise),
            Cue::Wind => wind(&mut bus, &mut noise, WindKind::Open),
            Cue::Snow => wind(&mut bus, &mut noise, WindKind::Muffled),
            Cue::Waves => waves(&mut bus, &mut noise),
            Cue::Birds => birds(&mut bus, &mut noise),
            Cue::Crowd => crowd(&mut bus, &mut noise),
            Cue::Traffic => traffic(&mut bus, &mut noise),
            Cue::Footsteps => footsteps(&mut bus, &mut noise),
            Cue::Engine => engine(&mut bus, &mut noise),
            Cue::Fire => fire(&mut bus, &mut noise),
            Cue::Music => music(&mut bus, &mut noise),
            Cue::Crickets => crickets(&mut bus, &mut noise),
            Cue::Thunder => thunder(&mut bus, &mut noise),
            Cue::Space => space(&mut bus, &mut noise),
            Cue::Room => room(&mut bus, &mut noise),
            Cue::Stream => stream(&mut bus, &mut noise),
        }
    }
    finish(&mut out);
    out
}

/// Fades the ends, replaces anything non-finite, and keeps the peak under [`PEAK_CEILING`].
fn finish(out: &mut Stereo) {
    let fade = (FADE_SECONDS * f64::from(crate::SAMPLE_RATE)).round() as usize;
    let mut peak = 0f32;
    for s in out.left.iter_mut().chain(out.right.iter_mut()) {
        if !s.is_finite() {
            *s = 0.0;
        }
        peak = peak.max(s.abs());
    }
    if peak > PEAK_CEILING {
        let g = PEAK_CEILING / peak;
        for s in out.left.iter_mut().chain(out.right.iter_mut()) {
            *s *= g;
        }
    }
    fade_ends(&mut out.left, fade);
    fade_ends(&mut out.right, fade);
}

/// A distinct seed salt per cue, so cues are independent of one another and of order.
fn cue_salt(cue: Cue) -> u64 {
    let name =
        cue.name().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    name.rotate_left(17)
}

/// Per-cue scale so every cue at level 1 is near −20 LUFS (measured by the calibration test).
fn cue_gain(cue: Cue) -> f32 {
    match cue {
        Cue::Rain => 0.26,
        Cue::Wind => 0.82,
        Cue::Snow => 0.6,
        Cue::Waves => 0.72,
        Cue::Birds => 0.28,
        Cue::Crowd => 0.7,
        Cue::Traffic => 0.19,
        Cue::Footsteps => 1.13,
        Cue::Engine => 0.27,
        Cue::Fire => 0.45,
        Cue::Music => 0.23,
        Cue::Crickets => 0.26,
        Cue::Thunder => 0.75,
        Cue::Space => 0.39,
        // Room tone is meant to be barely there.
        Cue::Room => 0.12,
        Cue::Stream => 0.26,
    }
}

/// Where a cue's samples go: both channels, scaled by the cue's gain.
struct Bus<'a> {
    left: &'a mut [f32],
    right: &'a mut [f32],
    gain: f32,
}

impl Bus<'_> {
    fn frames(&self) -> usize {
        self.left.len().min(self.right.len())
    }

    fn seconds(&self) -> f32 {
        self.frames() as f32 / FS
    }

    /// Adds one frame at `i` (ignored past the end).
    #[inline]
    fn add(&mut self, i: usize, l: f32, r: f32) {
        if let Some(s) = self.left.get_mut(i) {
            *s += l * self.gain;
        }
        if let Some(s) = self.right.get_mut(i) {
            *s += r * self.gain;
        }
    }

    /// Adds a mono event `sample(k)` for `len` frames from `start` (may start before 0), panned.
    fn add_event(&mut self, start: i64, len: usize, pan: f32, mut sample: impl FnMut(usize) -> f32) {
        let (gl, gr) = pan_gains(pan);
        let frames = self.frames() as i64;
        for k in 0..len {
            let at = start + k as i64;
            if at >= frames {
                break;
            }
            let v = sample(k);
            if at >= 0 {
                self.add(at as usize, v * gl, v * gr);
            }
        }
    }
}

fn at_frame(seconds: f32) -> i64 {
    (seconds * FS).round() as i64
}

/// Dense filtered noise with droplet ticks.
fn rain(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let intensity = Drift::new(noise, 0.08, 0.5);
    let mut hiss = [Biquad::highpass(600.0, 0.6), Biquad::highpass(600.0, 0.6)];
    let mut top = [Biquad::lowpass(9_000.0, 0.6), Biquad::lowpass(9_000.0, 0.6)];
    let mut body = [Biquad::bandpass(1_400.0, 0.7), Biquad::bandpass(1_400.0, 0.7)];
    let mut pinks = [Pink::default(); 2];
    let mut level = 1.0;
    for i in 0..frames {
        if i % BLOCK == 0 {
            level = 1.0 + 0.18 * intensity.at(i as f32 / FS);
        }
        let mut frame = [0f32; 2];
        for (((out, (h, t)), b), pink) in
            frame.iter_mut().zip(hiss.iter_mut().zip(top.iter_mut())).zip(body.iter_mut()).zip(pinks.iter_mut())
        {
            let w = noise.white();
            let p = pink.tick(noise.white());
            *out = (t.tick(h.tick(w)) * 0.55 + b.tick(p) * 0.7) * level;
        }
        bus.add(i, frame[0], frame[1]);
    }
    // Droplets: short damped sines and ticks, about 80 a second, panned across.
    let seconds = bus.seconds();
    let mut t = noise.wait(1.0 / 80.0);
    while t < seconds {
        let pan = noise.range(-1.0, 1.0);
        let amp = 0.15 + 0.85 * noise.unit().powi(3);
        if noise.chance(0.6) {
            let hz = noise.log_range(1_800.0, 7_000.0);
            let tau = noise.range(0.0015, 0.005) * FS;
            let len = (tau * 6.0) as usize;
            bus.add_event(at_frame(t), len, pan, |k| {
                let k = k as f32;
                amp * 0.9 * (-k / tau).exp() * (TAU * hz * k / FS).sin()
            });
        } else {
            let tau = noise.range(0.0004, 0.0015) * FS;
            let len = (tau * 6.0) as usize;
            let mut prev = 0.0;
            let mut tick_noise = noise.fork();
            bus.add_event(at_frame(t), len, pan, |k| {
                let w = tick_noise.white();
                let hp = w - prev;
                prev = w;
                amp * 0.6 * (-(k as f32) / tau).exp() * hp
            });
        }
        t += noise.wait(1.0 / 80.0);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum WindKind {
    /// Open wind: gusts sweep a resonant band, up to ~1 kHz.
    Open,
    /// Snowfall: soft, low and muffled, gentle gusts.
    Muffled,
}

/// Low-passed noise whose level and cutoff follow slow gusts (separately per side).
fn wind(bus: &mut Bus<'_>, noise: &mut Noise, kind: WindKind) {
    let frames = bus.frames();
    let (lo, hi) = if kind == WindKind::Open { (0.05, 0.3) } else { (0.03, 0.15) };
    let gusts = [Drift::new(noise, lo, hi), Drift::new(noise, lo, hi)];
    let shared = Drift::new(noise, lo, hi);
    let mut filters = [Svf::new(400.0, 1.0), Svf::new(400.0, 1.0)];
    let mut rumble = [Biquad::lowpass(90.0, 0.7), Biquad::lowpass(90.0, 0.7)];
    let mut amps = [0f32; 2];
    let mut sources = [(Pink::default(), Brown::default()); 2];
    for i in 0..frames {
        if i % BLOCK == 0 {
            let t = i as f32 / FS;
            let common = shared.at(t);
            for ((f, amp), g) in filters.iter_mut().zip(amps.iter_mut()).zip(&gusts) {
                // 0..1, mostly shared between the sides, partly each side's own.
                let gust = (0.5 + 0.5 * (0.7 * common + 0.3 * g.at(t))).clamp(0.0, 1.0);
                match kind {
                    WindKind::Open => {
                        f.set(180.0 + 900.0 * gust * gust, 1.6);
                        *amp = 0.25 + 0.75 * gust.powf(1.5);
                    }
                    WindKind::Muffled => {
                        f.set(140.0 + 260.0 * gust, 0.7);
                        *amp = 0.5 + 0.35 * gust;
                    }
                }
            }
        }
        let mut frame = [0f32; 2];
        for ((((out, f), amp), r), (pink, brown)) in
            frame.iter_mut().zip(filters.iter_mut()).zip(&amps).zip(rumble.iter_mut()).zip(sources.iter_mut())
        {
            let o = f.tick(pink.tick(noise.white()));
            let whistle = if kind == WindKind::Open { o.band * 0.8 } else { 0.0 };
            *out = (o.low + whistle + r.tick(brown.tick(noise.white())) * 0.25) * amp;
        }
        bus.add(i, frame[0], frame[1]);
    }
}

/// One wave of the swell: onset time, period and size.
struct Swell {
    start: f32,
    period: f32,
    size: f32,
}

impl Swell {
    /// The wave's envelope at `t`: a rise to the break at 30 % of its period, then a wash.
    fn at(&self, t: f32) -> f32 {
        let x = (t - self.start) / self.period;
        if x <= 0.0 || x > 1.6 {
            0.0
        } else if x < 0.3 {
            self.size * smooth_step(x / 0.3)
        } else {
            self.size * (-(x - 0.3) * 3.2).exp()
        }
    }
}

/// Noise with slow swells (6–10 s), brighter as each wave breaks; the right side lags.
fn waves(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let seconds = bus.seconds();
    let mut swells = Vec::new();
    let mut t = -noise.range(0.0, 8.0);
    while t < seconds + 1.0 {
        let period = noise.range(6.0, 10.0);
        swells.push(Swell { start: t, period, size: noise.range(0.65, 1.0) });
        t += period * noise.range(0.75, 1.0);
    }
    let lag = [0.0, noise.range(0.25, 0.7)];
    let envelope = |t: f32| -> f32 { swells.iter().map(|s| s.at(t)).sum::<f32>().min(1.3) };
    let mut filters = [Svf::new(500.0, 0.7), Svf::new(500.0, 0.7)];
    let mut foam = [Biquad::highpass(2_500.0, 0.7), Biquad::highpass(2_500.0, 0.7)];
    let mut env = [0f32; 2];
    let mut pinks = [Pink::default(); 2];
    for i in 0..frames {
        if i % BLOCK == 0 {
            let t = i as f32 / FS;
            for ((e, f), lag) in env.iter_mut().zip(filters.iter_mut()).zip(lag) {
                *e = envelope(t - lag);
                f.set(250.0 + 3_200.0 * e.powf(1.5), 0.7);
            }
        }
        let mut frame = [0f32; 2];
        for ((((out, f), h), e), pink) in
            frame.iter_mut().zip(filters.iter_mut()).zip(foam.iter_mut()).zip(&env).zip(pinks.iter_mut())
        {
            let body = f.tick(pink.tick(noise.white())).low;
            let fizz = h.tick(noise.white()) * e * e * 0.25;
            *out = body * (0.12 + e) + fizz;
        }
        bus.add(i, frame[0], frame[1]);
    }
}

/// Short sine sweeps in phrases, from two to four "species" with their own voices.
fn birds(bus: &mut Bus<'_>, noise: &mut Noise) {
    let seconds = bus.seconds();
    let species = 2 + (noise.unit() * 3.0) as usize;
    for _ in 0..species {
        let base = noise.log_range(2_200.0, 5_000.0);
        let sweep = noise.range(-1_800.0, 1_800.0);
        let chirp = noise.range(0.04, 0.14);
        let gap = noise.range(0.03, 0.12);
        let notes = 2 + (noise.unit() * 5.0) as usize;
        let interval = noise.range(1.0, 2.6);
        let pan = noise.range(-0.8, 0.8);
        let loud = noise.range(0.45, 1.0);
        let trill = if noise.chance(0.4) { (noise.range(20.0, 45.0), noise.range(100.0, 400.0)) } else { (0.0, 0.0) };
        let mut t = noise.range(0.0, interval);
        while t < seconds {
            let count = (notes as f32 * noise.range(0.6, 1.3)).round().max(1.0) as usize;
            let mut at = t;
            for n in 0..count {
                let f0 = (base * noise.range(0.92, 1.08) * (1.0 - 0.04 * n as f32)).clamp(1_500.0, 7_500.0);
                let f1 = (f0 + sweep * noise.range(0.7, 1.1)).clamp(1_500.0, 7_500.0);
                let len = (chirp * noise.range(0.8, 1.2) * FS) as usize;
                let amp = loud * noise.range(0.6, 1.0);
                let mut phase = 0f32;
                bus.add_event(at_frame(at), len, pan, |k| {
                    let x = k as f32 / len.max(1) as f32;
                    let vib = trill.1 * (TAU * trill.0 * k as f32 / FS).sin();
                    phase = wrap(phase + (f0 + (f1 - f0) * x * x.sqrt() + vib) / FS);
                    let env = (PI * x).sin().powi(2);
                    amp * env * (TAU * phase).sin()
                });
                at += chirp + gap * noise.range(0.7, 1.3);
            }
            t = at + interval * noise.range(0.5, 1.5);
        }
    }
}

/// Babble: voices (buzz plus breath through a moving formant, syllable by syllable) over a
/// band-passed murmur.
fn crowd(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    const VOICES: usize = 8;
    struct Voice {
        pitch: f32,
        phase: f32,
        formant: Svf,
        second: Svf,
        pan: (f32, f32),
        syllable_left: usize,
        syllable_len: usize,
        loud: f32,
    }
    let mut voices: Vec<Voice> = (0..VOICES)
        .map(|_| Voice {
            pitch: noise.log_range(95.0, 240.0),
            phase: noise.unit(),
            formant: Svf::new(600.0, 4.0),
            second: Svf::new(1_600.0, 5.0),
            pan: pan_gains(noise.range(-0.9, 0.9)),
            syllable_left: (noise.unit() * 10_000.0) as usize,
            syllable_len: 1,
            loud: 0.0,
        })
        .collect();
    let mut murmur = [(Biquad::highpass(250.0, 0.7), Biquad::lowpass(2_200.0, 0.7)); 2];
    let mut pinks = [Pink::default(); 2];
    let swell = Drift::new(noise, 0.1, 0.4);
    let mut level = 1.0;
    for i in 0..frames {
        if i % BLOCK == 0 {
            level = 0.85 + 0.15 * swell.at(i as f32 / FS);
        }
        let (mut l, mut r) = (0f32, 0f32);
        for v in voices.iter_mut() {
            if v.syllable_left == 0 {
                v.syllable_len = (noise.range(0.12, 0.3) * FS) as usize;
                v.syllable_left = v.syllable_len;
                v.loud = if noise.chance(0.25) { 0.0 } else { noise.range(0.4, 1.0) };
                v.formant.set(noise.log_range(350.0, 900.0), 4.0);
                v.second.set(noise.log_range(1_000.0, 2_600.0), 5.0);
                v.pitch *= noise.range(0.97, 1.03);
            }
            v.syllable_left -= 1;
            let x = 1.0 - v.syllable_left as f32 / v.syllable_len.max(1) as f32;
            // A parabola: the syllable swells and fades (cheaper than a sine per voice).
            let env = v.loud * 4.0 * x * (1.0 - x);
            v.phase = wrap(v.phase + v.pitch / FS);
            let src = (2.0 * v.phase - 1.0) * 0.5 + noise.white() * 0.35;
            let s = (v.formant.tick(src).band + 0.6 * v.second.tick(src).band) * env;
            l += s * v.pan.0;
            r += s * v.pan.1;
        }
        let mut bed = [0f32; 2];
        for ((b, (h, lp)), pink) in bed.iter_mut().zip(murmur.iter_mut()).zip(pinks.iter_mut()) {
            *b = lp.tick(h.tick(pink.tick(noise.white()))) * 0.5;
        }
        bus.add(i, (l * 0.35 + bed[0]) * level, (r * 0.35 + bed[1]) * level);
    }
}

/// A low road rumble with cars passing now and then, panned across, with a Doppler drop.
fn traffic(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let seconds = bus.seconds();
    // Each passing car adds to a left and right level for the shared tyre noise.
    let mut tyre_level = [vec![0f32; frames], vec![0f32; frames]];
    let hum_table = harmonic_table(&[1.0, 0.5, 0.25], &[0.0; 3]);
    let mut t = -noise.range(0.0, 3.0);
    while t < seconds + 3.0 {
        let width = noise.range(0.6, 1.4);
        let amp = noise.range(0.5, 1.0);
        let dir = if noise.chance(0.5) { 1.0 } else { -1.0 };
        let hum = noise.range(55.0, 110.0);
        let start = at_frame(t - 4.0 * width);
        let len = (8.0 * width * FS) as usize;
        let mut phase = 0f32;
        let centre = t;
        let (mut env, mut gl, mut gr, mut f) = (0f32, 0f32, 0f32, hum);
        for k in 0..len {
            let at = start + k as i64;
            if at < 0 {
                continue;
            }
            let Ok(at) = usize::try_from(at) else { continue };
            if at >= frames {
                break;
            }
            // Position, level, pan and Doppler move slowly: once per control block.
            if k % BLOCK == 0 || at == 0 {
                let x = (at as f32 / FS - centre) / width;
                env = amp / (1.0 + x * x);
                (gl, gr) = pan_gains(dir * (x * 1.2).tanh());
                f = hum * (1.0 - 0.05 * (x * 1.5).tanh());
            }
            if let Some(v) = tyre_level[0].get_mut(at) {
                *v += env * gl;
            }
            if let Some(v) = tyre_level[1].get_mut(at) {
                *v += env * gr;
            }
            phase = wrap(phase + f / FS);
            let tone = read_table(&hum_table, phase) * env * 0.4;
            bus.add(at, tone * gl, tone * gr);
        }
        t += noise.range(1.5, 4.5);
    }
    let mut rumble = [Biquad::lowpass(140.0, 0.7), Biquad::lowpass(140.0, 0.7)];
    let mut mid = [Biquad::bandpass(450.0, 0.8), Biquad::bandpass(450.0, 0.8)];
    let mut tyres = [Biquad::bandpass(900.0, 0.7), Biquad::bandpass(900.0, 0.7)];
    let mut sources = [(Pink::default(), Brown::default()); 2];
    let [tyre_l, tyre_r] = &tyre_level;
    for (i, (tl, tr)) in tyre_l.iter().zip(tyre_r.iter()).enumerate() {
        let mut frame = [0f32; 2];
        for (((((out, rb), m), ty), level), (pink, brown)) in frame
            .iter_mut()
            .zip(rumble.iter_mut())
            .zip(mid.iter_mut())
            .zip(tyres.iter_mut())
            .zip([tl, tr])
            .zip(sources.iter_mut())
        {
            let base = rb.tick(brown.tick(noise.white())) * 0.8 + m.tick(pink.tick(noise.white())) * 0.3;
            *out = base + ty.tick(noise.white()) * level * 0.9;
        }
        bus.add(i, frame[0], frame[1]);
    }
}

/// Steps at a walking pace: heel then toe, each a short filtered noise burst with a thump.
fn footsteps(bus: &mut Bus<'_>, noise: &mut Noise) {
    let seconds = bus.seconds();
    let pace = noise.range(0.48, 0.6);
    let surface = noise.log_range(900.0, 2_000.0);
    let mut t = noise.range(0.1, 0.4);
    let mut side = if noise.chance(0.5) { 1.0 } else { -1.0 };
    while t < seconds {
        let loud = noise.range(0.7, 1.0);
        for (offset, part) in [(0.0, 1.0), (noise.range(0.025, 0.045), 0.55)] {
            let tau = noise.range(0.008, 0.015) * FS;
            let thump_tau = 0.025 * FS;
            let thump_hz = noise.range(70.0, 110.0);
            let mut lp = Biquad::lowpass(surface * noise.range(0.8, 1.2), 0.8);
            let mut crunch = Biquad::highpass(3_000.0, 0.7);
            let len = (0.12 * FS) as usize;
            let mut burst = noise.fork();
            bus.add_event(at_frame(t + offset), len, side * 0.15, |k| {
                let k = k as f32;
                let w = burst.white();
                let scuff = lp.tick(w) * (-k / tau).exp();
                let grit = crunch.tick(w) * (-k / (tau * 0.5)).exp() * 0.2;
                let thump = (TAU * thump_hz * k / FS).sin() * (-k / thump_tau).exp() * 0.5;
                loud * part * (scuff * 1.4 + grit + thump)
            });
        }
        side = -side;
        t += pace * noise.range(0.92, 1.08);
    }
}

/// A harmonic low tone with rpm wobble, combustion noise pulsing with the firing, and rumble.
fn engine(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let amps: Vec<f32> = (1..=16)
        .map(|h| (1.0 / (h as f32).powf(0.9)) * if h % 2 == 0 { 1.3 } else { 0.8 } * noise.range(0.6, 1.0))
        .collect();
    let phases: Vec<f32> = (0..16).map(|_| noise.range(0.0, TAU)).collect();
    let table = harmonic_table(&amps, &phases);
    let base = noise.range(28.0, 45.0);
    let rpm = Drift::new(noise, 0.05, 0.3);
    let mut jitter = OnePole::new(0.01, 0.0);
    let mut combustion = [Biquad::lowpass(1_400.0, 0.7), Biquad::lowpass(1_400.0, 0.7)];
    let mut tone_lp = Biquad::lowpass(900.0, 0.7);
    let mut rumble = [Biquad::lowpass(80.0, 0.7), Biquad::lowpass(80.0, 0.7)];
    let mut phase = 0f32;
    let mut f = base;
    let mut browns = [Brown::default(); 2];
    for i in 0..frames {
        if i % BLOCK == 0 {
            f = base * (1.0 + 0.07 * rpm.at(i as f32 / FS));
        }
        let wobble = jitter.tick(noise.white()) * 0.3;
        phase = wrap(phase + f * (1.0 + wobble) / FS);
        let tone = tone_lp.tick(read_table(&table, phase));
        let firing = (0.5 + 0.5 * (TAU * 2.0 * phase).cos()).powi(4);
        let mut frame = [0f32; 2];
        for (((out, c), r), brown) in
            frame.iter_mut().zip(combustion.iter_mut()).zip(rumble.iter_mut()).zip(browns.iter_mut())
        {
            *out = tone * 0.7 + c.tick(noise.white()) * firing * 0.5 + r.tick(brown.tick(noise.white())) * 0.3;
        }
        bus.add(i, frame[0], frame[1]);
    }
}

/// A low flickering roar, a faint hiss, and random crackles (some in bursts).
fn fire(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let seconds = bus.seconds();
    let flicker = [Drift::new(noise, 0.5, 3.0), Drift::new(noise, 0.5, 3.0)];
    let mut roar = [Biquad::lowpass(350.0, 0.8), Biquad::lowpass(350.0, 0.8)];
    let mut hiss = [Biquad::bandpass(3_000.0, 0.8), Biquad::bandpass(3_000.0, 0.8)];
    let mut amps = [1f32; 2];
    let mut browns = [Brown::default(); 2];
    for i in 0..frames {
        if i % BLOCK == 0 {
            let t = i as f32 / FS;
            for (a, d) in amps.iter_mut().zip(&flicker) {
                *a = 0.75 + 0.25 * d.at(t);
            }
        }
        let mut frame = [0f32; 2];
        for ((((out, r), h), a), brown) in
            frame.iter_mut().zip(roar.iter_mut()).zip(hiss.iter_mut()).zip(&amps).zip(browns.iter_mut())
        {
            *out = (r.tick(brown.tick(noise.white())) * 0.35 + h.tick(noise.white()) * 0.05) * a;
        }
        bus.add(i, frame[0], frame[1]);
    }
    let mut t = noise.wait(1.0 / 20.0);
    while t < seconds {
        let bursts = if noise.chance(0.12) { 2 + (noise.unit() * 3.0) as usize } else { 1 };
        let pan = noise.range(-0.7, 0.7);
        let mut at = t;
        for _ in 0..bursts {
            let amp = 0.2 + 0.8 * noise.unit().powi(2);
            let tau = noise.range(0.0003, 0.0025) * FS;
            let len = (tau * 6.0) as usize + 1;
            let mut click = noise.fork();
            let mut prev = 0.0;
            bus.add_event(at_frame(at), len, pan, |k| {
                let w = click.white();
                let hp = w - prev;
                prev = w;
                amp * hp * (-(k as f32) / tau).exp()
            });
            at += noise.range(0.004, 0.03);
        }
        t += noise.wait(1.0 / 20.0);
    }
}

/// Equal temperament: a MIDI note's frequency.
fn midi_hz(note: f32) -> f32 {
    440.0 * 2f32.powf((note - 69.0) / 12.0)
}

/// A soft chord pad (I–vi–IV–V, one chord a bar, slow attack, detuned per side), a sine bass
/// and a gentle arpeggio in eighth notes.
fn music(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let seconds = bus.seconds();
    let keys = [48.0, 50.0, 53.0, 55.0, 57.0];
    let key = keys.get((noise.unit() * keys.len() as f32) as usize).copied().unwrap_or(48.0);
    let bpm = noise.range(80.0, 100.0);
    let beat = 60.0 / bpm;
    let bar = 4.0 * beat;
    // Degrees of I–vi–IV–V and their triads (semitones above the degree).
    let chords: [(f32, [f32; 3]); 4] =
        [(0.0, [0.0, 4.0, 7.0]), (9.0, [0.0, 3.0, 7.0]), (5.0, [0.0, 4.0, 7.0]), (7.0, [0.0, 4.0, 7.0])];
    let pad_table = harmonic_table(&[1.0, 0.0, 0.11, 0.0, 0.04], &[0.0; 5]);
    let pluck_table = harmonic_table(&[1.0, 0.3, 0.1, 0.05], &[0.0; 4]);
    let detune = 2f32.powf(noise.range(3.0, 6.0) / 1200.0);
    let bars = (seconds / bar).ceil() as usize + 1;
    for b in 0..bars {
        let Some(&(degree, triad)) = chords.get(b % chords.len()) else { continue };
        let start = b as f32 * bar;
        // Pad notes within an octave above middle C's fifth below, so voices move little.
        for step in triad {
            let mut note = key + 12.0 + degree + step;
            while note > 72.0 {
                note -= 12.0;
            }
            while note < 58.0 {
                note += 12.0;
            }
            let hz = midi_hz(note);
            let (fl, fr) = (hz / detune, hz * detune);
            let len = ((bar + 0.9) * FS) as usize;
            let (mut pl, mut pr) = (noise.unit(), noise.unit());
            let first = at_frame(start).max(0) as usize;
            for k in 0..len {
                let i = first + k;
                if i >= frames {
                    break;
                }
                let x = k as f32 / FS;
                let env = smooth_step(x / 0.45) * if x > bar { smooth_step(1.0 - (x - bar) / 0.9) } else { 1.0 };
                pl = wrap(pl + fl / FS);
                pr = wrap(pr + fr / FS);
                let a = env * 0.22;
                bus.add(i, read_table(&pad_table, pl) * a, read_table(&pad_table, pr) * a);
            }
        }
        // Bass: the degree's root, two octaves down.
        let bass_hz = midi_hz(key - 12.0 + degree);
        let mut phase = 0f32;
        bus.add_event(at_frame(start), (bar * FS) as usize, 0.0, |k| {
            let x = k as f32 / FS;
            phase = wrap(phase + bass_hz / FS);
            let env = smooth_step(x / 0.08) * smooth_step((bar - x) / 0.15);
            0.35 * env * (TAU * phase).sin()
        });
        // Arpeggio: chord tones an octave up, one per eighth note.
        for e in 0..8 {
            let step = triad.get(e % 3).copied().unwrap_or(0.0) + if e % 4 == 3 { 12.0 } else { 0.0 };
            let hz = midi_hz(key + 24.0 + degree + step);
            let mut phase = 0f32;
            let pan = if e % 2 == 0 { -0.35 } else { 0.35 };
            let vel = noise.range(0.8, 1.0);
            bus.add_event(at_frame(start + e as f32 * beat / 2.0), (0.9 * FS) as usize, pan, |k| {
                let x = k as f32 / FS;
                phase = wrap(phase + hz / FS);
                let env = smooth_step(x / 0.006) * (-x / 0.22).exp();
                0.16 * vel * env * read_table(&pluck_table, phase)
            });
        }
    }
}

/// Pulsed high tones: a few crickets, each with its own pitch, pulse rate and chirp rhythm.
fn crickets(bus: &mut Bus<'_>, noise: &mut Noise) {
    let seconds = bus.seconds();
    let count = 3 + (noise.unit() * 4.0) as usize;
    for _ in 0..count {
        let hz = noise.range(3_800.0, 5_200.0);
        let pulse_rate = noise.range(25.0, 40.0);
        let pulses = 2 + (noise.unit() * 4.0) as usize;
        let period = noise.range(0.4, 1.0);
        let loud = noise.range(0.3, 1.0);
        let pan = noise.range(-0.9, 0.9);
        let mut t = noise.range(0.0, period);
        while t < seconds {
            let len = (pulses as f32 / pulse_rate * FS) as usize;
            let mut phase = noise.unit();
            bus.add_event(at_frame(t), len, pan, |k| {
                let x = k as f32 * pulse_rate / FS;
                let within = x.fract();
                let env = if within < 0.55 { (PI * within / 0.55).sin().powi(2) } else { 0.0 };
                phase = wrap(phase + hz / FS);
                let p = TAU * phase;
                loud * env * (p.sin() + 0.2 * (2.0 * p).sin())
            });
            t += period * noise.range(0.9, 1.1);
        }
    }
}

/// Rare low rumbles: the first within the clip's first half, then every 7–16 s; a near one
/// opens with a crack.
fn thunder(bus: &mut Bus<'_>, noise: &mut Noise) {
    let seconds = bus.seconds();
    let mut t = seconds * noise.range(0.05, 0.5);
    while t < seconds {
        let length = noise.range(2.5, 5.0);
        let near = noise.chance(0.35);
        let rolls: Vec<(f32, f32, f32)> = (0..5)
            .map(|j| (if j == 0 { 0.0 } else { noise.range(0.1, 1.8) }, noise.range(0.4, 1.0), noise.range(0.5, 1.6)))
            .collect();
        let attack = noise.range(0.06, 0.3);
        let roll_sum: f32 = rolls.iter().map(|(_, a, _)| a).sum::<f32>().max(1.0);
        let cutoff = if near { 320.0 } else { 170.0 };
        let mut lp = [Biquad::lowpass(cutoff, 0.7), Biquad::lowpass(cutoff, 0.7), Biquad::lowpass(cutoff, 0.7)];
        let mut crack = Biquad::highpass(1_500.0, 0.7);
        let mut sub = noise.fork();
        let mut browns = [Brown::default(); 3];
        let start = at_frame(t).max(0) as usize;
        let len = (length * FS) as usize;
        let frames = bus.frames();
        for k in 0..len {
            let i = start + k;
            if i >= frames {
                break;
            }
            let x = k as f32 / FS;
            let env = smooth_step(x / attack)
                * rolls.iter().map(|(d, a, tau)| if x >= *d { a * (-(x - d) / tau).exp() } else { 0.0 }).sum::<f32>()
                / roll_sum
                * smooth_step((length - x) / 0.3);
            let [l0, l1, l2] = &mut lp;
            let [b0, b1, b2] = &mut browns;
            let common = l2.tick(b2.tick(sub.white()));
            let l = (l0.tick(b0.tick(sub.white())) * 0.6 + common * 0.6) * env;
            let r = (l1.tick(b1.tick(sub.white())) * 0.6 + common * 0.6) * env;
            let c = if near && x < 0.5 { crack.tick(sub.white()) * (-x / 0.07).exp() * 0.5 } else { 0.0 };
            bus.add(i, l + c, r + c);
        }
        t += length + noise.range(4.0, 11.0);
    }
}

/// A low drone: detuned partials beating slowly (left and right apart), a slowly opening
/// noise band and a faint high shimmer.
fn space(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let base = noise.range(40.0, 65.0);
    let partials = [(1.0, 1.0), (1.5, 0.6), (2.0, 0.45), (3.01, 0.25), (8.02, 0.04)];
    let beat = noise.range(0.1, 0.25);
    let mods: Vec<Drift> = partials.iter().map(|_| Drift::new(noise, 0.03, 0.15)).collect();
    let sweep = Drift::new(noise, 0.02, 0.08);
    let mut phases: Vec<[f32; 2]> = partials.iter().map(|_| [noise.unit(), noise.unit()]).collect();
    let mut filters = [Svf::new(200.0, 1.2), Svf::new(200.0, 1.2)];
    let mut gains = vec![0f32; partials.len()];
    let mut pinks = [Pink::default(); 2];
    let sine = harmonic_table(&[1.0], &[0.0]);
    for i in 0..frames {
        if i % BLOCK == 0 {
            let t = i as f32 / FS;
            for ((g, m), (_, a)) in gains.iter_mut().zip(&mods).zip(&partials) {
                *g = a * (0.7 + 0.3 * m.at(t));
            }
            let cutoff = 220.0 + 180.0 * sweep.at(t);
            for f in filters.iter_mut() {
                f.set(cutoff, 1.2);
            }
        }
        let (mut l, mut r) = (0f32, 0f32);
        for ((p, (mult, _)), g) in phases.iter_mut().zip(&partials).zip(&gains) {
            let f = base * mult;
            p[0] = wrap(p[0] + (f - beat) / FS);
            p[1] = wrap(p[1] + (f + beat) / FS);
            l += g * read_table(&sine, p[0]);
            r += g * read_table(&sine, p[1]);
        }
        let [fl, fr] = &mut filters;
        let [pl, pr] = &mut pinks;
        let nl = fl.tick(pl.tick(noise.white())).low;
        let nr = fr.tick(pr.tick(noise.white())).low;
        bus.add(i, l * 0.35 + nl * 0.6, r * 0.35 + nr * 0.6);
    }
}

/// Very quiet pink noise, band-limited like a room's air, partly shared between the sides.
fn room(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let mut filters = [(Biquad::highpass(70.0, 0.7), Biquad::lowpass(3_500.0, 0.7)); 3];
    let mut pinks = [Pink::default(); 3];
    for i in 0..frames {
        let mut v = [0f32; 3];
        for ((o, (h, l)), pink) in v.iter_mut().zip(filters.iter_mut()).zip(pinks.iter_mut()) {
            *o = l.tick(h.tick(pink.tick(noise.white())));
        }
        let [a, b, shared] = v;
        bus.add(i, a * 0.8 + shared * 0.4, b * 0.8 + shared * 0.4);
    }
}

/// A babbling stream: noise through resonances that jump about, plus rising bubble blips.
fn stream(bus: &mut Bus<'_>, noise: &mut Noise) {
    let frames = bus.frames();
    let seconds = bus.seconds();
    let mut bands = [Svf::new(800.0, 3.0), Svf::new(1_500.0, 3.0), Svf::new(900.0, 3.0), Svf::new(1_700.0, 3.0)];
    let mut centres = [800f32, 1_500.0, 900.0, 1_700.0];
    let mut glide = [
        OnePole::new(0.01, 800.0),
        OnePole::new(0.01, 1_500.0),
        OnePole::new(0.01, 900.0),
        OnePole::new(0.01, 1_700.0),
    ];
    let mut wash = [Biquad::lowpass(1_200.0, 0.7), Biquad::lowpass(1_200.0, 0.7)];
    let mut pinks = [Pink::default(); 2];
    for i in 0..frames {
        if i % BLOCK == 0 {
            for ((band, centre), g) in bands.iter_mut().zip(centres.iter_mut()).zip(glide.iter_mut()) {
                if noise.chance(0.06) {
                    *centre = noise.log_range(400.0, 2_600.0);
                }
                let mut c = 0.0;
                for _ in 0..BLOCK {
                    c = g.tick(*centre);
                }
                band.set(c, 3.0);
            }
        }
        let [b0, b1, b2, b3] = &mut bands;
        let [w0, w1] = &mut wash;
        let [p0, p1] = &mut pinks;
        let l = b0.tick(noise.white()).band + b1.tick(noise.white()).band + w0.tick(p0.tick(noise.white())) * 0.5;
        let r = b2.tick(noise.white()).band + b3.tick(noise.white()).band + w1.tick(p1.tick(noise.white())) * 0.5;
        bus.add(i, l * 0.6, r * 0.6);
    }
    let mut t = noise.wait(1.0 / 30.0);
    while t < seconds {
        let f0 = noise.log_range(300.0, 1_200.0);
        let rise = noise.range(1.5, 2.5);
        let len_s = noise.range(0.008, 0.025);
        let len = (len_s * FS) as usize;
        let amp = noise.range(0.1, 0.5);
        let pan = noise.range(-0.8, 0.8);
        let mut phase = 0f32;
        bus.add_event(at_frame(t), len, pan, |k| {
            let x = k as f32 / len.max(1) as f32;
            phase = wrap(phase + f0 * (1.0 + (rise - 1.0) * x) / FS);
            amp * (TAU * phase).sin() * (PI * x).sin() * (-3.0 * x).exp()
        });
        t += noise.wait(1.0 / 30.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SAMPLE_RATE;

    fn scene(cues: &[(Cue, f32)]) -> SceneSound {
        SceneSound { cues: cues.to_vec() }
    }

    fn rms(x: &[f32]) -> f64 {
        if x.is_empty() {
            return 0.0;
        }
        (x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// Share of the signal's energy above ~2 kHz (a fourth-order high-pass).
    fn high_share(x: &[f32]) -> f64 {
        let mut a = Biquad::highpass(2_000.0, 0.707);
        let mut b = Biquad::highpass(2_000.0, 0.707);
        let high: Vec<f32> = x.iter().map(|v| b.tick(a.tick(*v))).collect();
        let total = rms(x);
        if total == 0.0 { 0.0 } else { (rms(&high) / total).powi(2) }
    }

    #[test]
    fn every_cue_renders_finite_samples_of_the_right_length_deterministically() {
        for cue in Cue::ALL {
            let s = scene(&[(cue, 0.8)]);
            let a = render(&s, 2.5, 7);
            assert_eq!(a.left.len(), frames_for(2.5), "{cue:?}");
            assert_eq!(a.right.len(), frames_for(2.5), "{cue:?}");
            assert!(a.left.iter().chain(&a.right).all(|v| v.is_finite() && v.abs() <= PEAK_CEILING), "{cue:?}");
            assert!(rms(&a.left) > 1e-4 && rms(&a.right) > 1e-4, "{cue:?} is silent: {}", rms(&a.left));
            let again = render(&s, 2.5, 7);
            assert_eq!(a, again, "{cue:?} is not deterministic");
            let other = render(&s, 2.5, 8);
            assert_ne!(a, other, "{cue:?} ignores the seed");
            // Ends fade: the first and last samples are (nearly) silent.
            assert!(a.left[0].abs() < 1e-3 && a.right.last().unwrap().abs() < 1e-3, "{cue:?}");
        }
    }

    #[test]
    fn odd_lengths_and_levels() {
        let s = scene(&[(Cue::Rain, 0.5), (Cue::Birds, 0.3)]);
        for seconds in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-9, 0.001, 0.0105, 0.3] {
            let out = render(&s, seconds, 1);
            let want = frames_for(seconds);
            assert_eq!(out.frames(), want, "{seconds}");
            assert_eq!(out.left.len(), out.right.len());
            assert!(out.left.iter().chain(&out.right).all(|v| v.is_finite()));
        }
        // NaN, negative and huge levels are tolerated.
        let weird = scene(&[(Cue::Rain, f32::NAN), (Cue::Wind, -3.0), (Cue::Fire, 50.0)]);
        let out = render(&weird, 1.0, 3);
        assert!(out.left.iter().chain(&out.right).all(|v| v.is_finite() && v.abs() <= PEAK_CEILING));
        assert!(rms(&out.left) > 1e-4);
        // An empty scene is silence.
        let empty = render(&SceneSound::default(), 1.0, 3);
        assert!(empty.left.iter().chain(&empty.right).all(|v| *v == 0.0));
    }

    #[test]
    fn cues_do_not_depend_on_each_other() {
        // Rendering rain alone equals rain's share of a two-cue render.
        let rain = render(&scene(&[(Cue::Rain, 0.5)]), 1.0, 11);
        let wind = render(&scene(&[(Cue::Wind, 0.5)]), 1.0, 11);
        let both = render(&scene(&[(Cue::Wind, 0.5), (Cue::Rain, 0.5)]), 1.0, 11);
        let err: f32 = both
            .left
            .iter()
            .zip(rain.left.iter().zip(&wind.left))
            .map(|(b, (r, w))| (b - r - w).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-5, "{err}");
    }

    #[test]
    fn rain_is_measurably_brighter_and_denser_than_a_quiet_scene() {
        let rain = render(&crate::scene::from_prompt("heavy rain"), 4.0, 5);
        let quiet = render(&crate::scene::from_prompt("a red ball"), 4.0, 5);
        let (rain_high, quiet_high) = (high_share(&rain.left), high_share(&quiet.left));
        assert!(rain_high > 0.25, "rain's share above 2 kHz {rain_high}");
        assert!(quiet_high < 0.03, "quiet bed's share above 2 kHz {quiet_high}");
        let (rain_lufs, quiet_lufs) = (integrated(&rain), integrated(&quiet));
        assert!(rain_lufs > quiet_lufs + 10.0, "{rain_lufs:.1} vs {quiet_lufs:.1} LUFS");
    }

    #[test]
    fn waves_swell_slowly() {
        let out = render(&scene(&[(Cue::Waves, 0.8)]), 12.0, 21);
        let windows: Vec<f64> = out.left.chunks(SAMPLE_RATE as usize).map(rms).collect();
        let (lo, hi) = windows.iter().fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        assert!(hi > 2.5 * lo, "1 s windows vary too little: {windows:?}");
        // And slowly: adjacent 100 ms windows are close to one another most of the time.
        let short: Vec<f64> = out.left.chunks(4_800).map(rms).collect();
        let jumps = short.windows(2).filter(|w| (w[1] / w[0].max(1e-9)).ln().abs() > 0.7).count();
        assert!(jumps <= short.len() / 10, "{jumps} sudden jumps");
        // The two sides are decorrelated.
        assert!(correlation(&out.left, &out.right) < 0.5);
    }

    fn correlation(a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        let na = rms(a) * (a.len() as f64).sqrt();
        let nb = rms(b) * (b.len() as f64).sqrt();
        if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
    }

    #[test]
    fn stereo_is_wide_for_beds() {
        for cue in [Cue::Rain, Cue::Wind, Cue::Crowd, Cue::Room, Cue::Stream, Cue::Fire] {
            let out = render(&scene(&[(cue, 0.8)]), 2.0, 4);
            let c = correlation(&out.left, &out.right);
            assert!(c < 0.9, "{cue:?}: correlation {c}");
        }
    }

    #[test]
    fn events_happen_where_expected() {
        // Birds: mostly silence between chirps, chirps are high.
        let birds = render(&scene(&[(Cue::Birds, 1.0)]), 6.0, 9);
        assert!(high_share(&birds.left) > 0.5, "{}", high_share(&birds.left));
        // Fire crackles: clicks carry real energy above 2 kHz over the low roar.
        let fire = render(&scene(&[(Cue::Fire, 1.0)]), 4.0, 3);
        assert!(high_share(&fire.left) > 0.01, "{}", high_share(&fire.left));
        let loud = birds.left.chunks(480).filter(|c| rms(c) > 0.1 * rms(&birds.left)).count();
        assert!(loud < birds.left.len() / 480, "birds never pause");
        // Thunder and space are low.
        for cue in [Cue::Thunder, Cue::Space, Cue::Engine] {
            let out = render(&scene(&[(cue, 1.0)]), 4.0, 2);
            assert!(high_share(&out.left) < 0.05, "{cue:?}: {}", high_share(&out.left));
        }
        // Thunder rumbles at least once in a 4 s clip, and is quiet elsewhere.
        let thunder = render(&scene(&[(Cue::Thunder, 1.0)]), 4.0, 2);
        let windows: Vec<f64> = thunder.left.chunks(4_800).map(rms).collect();
        let peak = windows.iter().cloned().fold(0.0, f64::max);
        assert!(peak > 0.01, "{peak}");
        // Room tone is far quieter than rain.
        let room = render(&scene(&[(Cue::Room, 1.0)]), 2.0, 2);
        let rain = render(&scene(&[(Cue::Rain, 1.0)]), 2.0, 2);
        assert!(integrated(&room) + 10.0 < integrated(&rain));
    }

    /// Integrated loudness only (no true-peak scan: quicker in debug builds).
    fn integrated(x: &Stereo) -> f64 {
        let mut meter = ebur128::EbuR128::new(2, SAMPLE_RATE, ebur128::Mode::I).unwrap();
        meter.add_frames_planar_f32(&[&x.left, &x.right]).unwrap();
        meter.loudness_global().unwrap()
    }

    #[test]
    #[ignore = "prints each cue's loudness at level 1, for tuning cue_gain"]
    fn print_calibration() {
        for cue in Cue::ALL {
            let out = render(&scene(&[(cue, 1.0)]), 8.0, 17);
            let (lufs, peak) = crate::mix::measure(&out).unwrap();
            println!("{cue:?}: {lufs:?} LUFS, {peak:.1} dBTP, high share {:.3}", high_share(&out.left));
        }
    }

    #[test]
    fn calibration_levels_are_near_each_other() {
        // Every cue at level 1 is within a reasonable window of -20 LUFS.
        for cue in Cue::ALL {
            let out = render(&scene(&[(cue, 1.0)]), 4.0, 17);
            let lufs = integrated(&out);
            let (lo, hi) = if cue == Cue::Room { (-40.0, -26.0) } else { (-27.0, -14.0) };
            assert!((lo..=hi).contains(&lufs), "{cue:?} at level 1 is {lufs:.1} LUFS");
        }
    }

    #[test]
    fn a_long_prompt_scene_renders_quickly_enough() {
        // A functional check (not timing): four cues, four seconds, all finite.
        let s = crate::scene::from_prompt("a storm over the sea at night with a campfire and music");
        let out = render(&s, 4.0, 99);
        assert_eq!(out.frames(), frames_for(4.0));
        assert!(out.left.iter().chain(&out.right).all(|v| v.is_finite() && v.abs() <= PEAK_CEILING));
    }
}
