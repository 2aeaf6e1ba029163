//! Speech placed over the ambience, the ambience ducked under it, and the whole normalised to a
//! loudness target with a true-peak ceiling (EBU R128 / ITU-R BS.1770 through `ebur128`).
//!
//! Steps: (1) each speech line is resampled to [`SAMPLE_RATE`] if needed, panned (equal power)
//! and summed onto the timeline, cut at the ambience's end with a [`CUT_FADE_SECONDS`] fade;
//! (2) where speech is present (10 ms windows within 35 dB of the loudest, gaps under 250 ms
//! bridged) the ambience's gain ramps down by `duck_db` over [`DUCK_ATTACK_SECONDS`], starting
//! that much before the speech so the first word is already clear, held [`DUCK_HOLD_SECONDS`]
//! after it, and back up over [`DUCK_RELEASE_SECONDS`]; (3) the sum's integrated loudness is measured and a gain applied to
//! reach `target_lufs`; (4) a look-ahead limiter (the same 4× interpolation as the meter's
//! true-peak scan, 5 ms look-ahead, smooth gain) holds the true peak under the ceiling; (5) the
//! result is measured again and steps 3–4 repeated (up to [`MAX_PASSES`]) until the loudness is
//! within [`LOUDNESS_TOLERANCE_LU`] of the target and the true peak at or under the ceiling.
//!
//! Invariants: the output has exactly the ambience's frames (the shorter channel's length);
//! every sample is finite; a track whose loudness cannot be measured (silence, or quieter than
//! the meter's −70 LUFS gate) comes back unchanged with `integrated_lufs: None`; otherwise the
//! true peak is at or under `max_true_peak_db` and, unless the target cannot be reached under
//! that ceiling (a track that is nearly all peaks), the loudness is within
//! [`LOUDNESS_TOLERANCE_LU`] of `target_lufs`. A track shorter than the meter's 400 ms block is
//! measured as if looped to one second.

use ebur128::{EbuR128, Mode};

use crate::dsp::{db_to_gain, gain_to_db};
use crate::resample::to_output_rate;
use crate::{AudioError, Mono, SAMPLE_RATE, Stereo};

/// How close to the target the integrated loudness ends up, in LU.
pub const LOUDNESS_TOLERANCE_LU: f64 = 0.5;
/// Time the ambience takes to duck when speech starts.
pub const DUCK_ATTACK_SECONDS: f64 = 0.05;
/// Time the ambience takes to come back after speech.
pub const DUCK_RELEASE_SECONDS: f64 = 0.3;
/// Time the duck holds after speech ends before it releases, so the quiet ends of words (a final
/// "k" or "t") are not masked by the ambience coming back.
pub const DUCK_HOLD_SECONDS: f64 = 0.25;
/// Fade applied where a speech line is cut by the track's end (or start).
pub const CUT_FADE_SECONDS: f64 = 0.02;
/// Most measure-and-adjust passes of the normalisation.
pub const MAX_PASSES: usize = 6;

/// Loudness aimed at inside the tolerance, to leave room for rounding between passes.
const AIM_LU: f64 = 0.2;
/// Speech windows for presence detection.
const PRESENCE_WINDOW_SECONDS: f64 = 0.01;
/// A window is speech if within this many dB of the loudest window.
const PRESENCE_RANGE_DB: f64 = 35.0;
/// Pauses shorter than this between speech windows still count as speech.
const PRESENCE_BRIDGE_SECONDS: f64 = 0.25;
/// Limiter look-ahead (and gain smoothing) time.
const LIMITER_LOOKAHEAD_SECONDS: f64 = 0.005;
/// Limiter recovery time constant.
const LIMITER_RELEASE_SECONDS: f64 = 0.08;
/// Margin under the ceiling the limiter aims for.
const LIMITER_MARGIN_DB: f64 = 0.1;

/// A speech line on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// When the line starts, in seconds from the track's start (may be negative: cut).
    pub start_seconds: f64,
    /// The line, at [`SAMPLE_RATE`] (another rate is resampled).
    pub clip: Mono,
    /// Position from −1 (left) to 1 (right).
    pub pan: f32,
}

/// How the mix is made.
#[derive(Debug, Clone, PartialEq)]
pub struct MixSettings {
    /// How far the ambience drops under speech, in dB (≥ 0).
    pub duck_db: f32,
    /// Integrated loudness aimed at, in LUFS.
    pub target_lufs: f64,
    /// Highest true peak allowed, in dBTP.
    pub max_true_peak_db: f64,
}

impl Default for MixSettings {
    fn default() -> Self {
        Self { duck_db: 12.0, target_lufs: -16.0, max_true_peak_db: -1.0 }
    }
}

/// A finished track.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixed {
    /// The stereo track at [`SAMPLE_RATE`].
    pub track: Stereo,
    /// Its integrated loudness in LUFS; `None` when it is too quiet to measure (silence).
    pub integrated_lufs: Option<f64>,
    /// Its true peak in dBTP (−∞ for silence).
    pub true_peak_db: f64,
}

/// Mixes `speech` over `ambience` and normalises the result; see the module documentation.
pub fn mix(ambience: &Stereo, speech: &[Placed], settings: &MixSettings) -> Result<Mixed, AudioError> {
    check_settings(settings)?;
    let frames = ambience.frames();
    let (speech_l, speech_r) = lay_out(speech, frames)?;
    let duck = duck_envelope(&speech_l, &speech_r, f64::from(settings.duck_db));
    let clean = |v: f32| if v.is_finite() { v } else { 0.0 };
    let mut left = Vec::with_capacity(frames);
    let mut right = Vec::with_capacity(frames);
    for (i, g) in duck.iter().enumerate() {
        let amb_l = ambience.left.get(i).copied().map_or(0.0, clean);
        let amb_r = ambience.right.get(i).copied().map_or(0.0, clean);
        left.push(amb_l * g + speech_l.get(i).copied().unwrap_or(0.0));
        right.push(amb_r * g + speech_r.get(i).copied().unwrap_or(0.0));
    }
    normalise(Stereo { left, right }, settings)
}

/// Integrated loudness (LUFS, `None` when too quiet or too short to measure) and true peak
/// (dBTP, −∞ for silence) of `track`, as `ebur128` measures them.
pub fn measure(track: &Stereo) -> Result<(Option<f64>, f64), AudioError> {
    let frames = track.frames();
    let left = track.left.get(..frames).unwrap_or(&[]);
    let right = track.right.get(..frames).unwrap_or(&[]);
    let mut meter = EbuR128::new(2, SAMPLE_RATE, Mode::I | Mode::TRUE_PEAK)
        .map_err(|_| AudioError::Measurement { step: "setting up the meter" })?;
    meter.add_frames_planar_f32(&[left, right]).map_err(|_| AudioError::Measurement { step: "reading the samples" })?;
    let lufs = meter.loudness_global().map_err(|_| AudioError::Measurement { step: "integrating the loudness" })?;
    let mut peak = 0f64;
    for channel in 0..2 {
        let p = meter.true_peak(channel).map_err(|_| AudioError::Measurement { step: "finding the true peak" })?;
        peak = peak.max(p);
    }
    let lufs = lufs.is_finite().then_some(lufs);
    Ok((lufs, gain_to_db(peak)))
}

fn check_settings(settings: &MixSettings) -> Result<(), AudioError> {
    let bad = |setting: &'static str, value: String, expected: &'static str| {
        Err(AudioError::InvalidSetting { setting, value, expected })
    };
    if !settings.duck_db.is_finite() || !(0.0..=96.0).contains(&settings.duck_db) {
        return bad("duck_db", settings.duck_db.to_string(), "decibels between 0 and 96");
    }
    if !settings.target_lufs.is_finite() || !(-70.0..=0.0).contains(&settings.target_lufs) {
        return bad("target_lufs", settings.target_lufs.to_string(), "a loudness between -70 and 0 LUFS");
    }
    if !settings.max_true_peak_db.is_finite() || !(-60.0..=0.0).contains(&settings.max_true_peak_db) {
        return bad("max_true_peak_db", settings.max_true_peak_db.to_string(), "a peak between -60 and 0 dBTP");
    }
    Ok(())
}

/// The speech lines summed onto a timeline of `frames`, panned; lines cut at either end fade.
fn lay_out(speech: &[Placed], frames: usize) -> Result<(Vec<f32>, Vec<f32>), AudioError> {
    let mut left = vec![0f32; frames];
    let mut right = vec![0f32; frames];
    let fade = (CUT_FADE_SECONDS * f64::from(SAMPLE_RATE)).round() as usize;
    for (index, line) in speech.iter().enumerate() {
        if !line.start_seconds.is_finite() {
            return Err(AudioError::InvalidPlacement { line: index + 1, start: line.start_seconds.to_string() });
        }
        let resampled;
        let clip: &[f32] = if line.clip.rate == SAMPLE_RATE {
            &line.clip.samples
        } else {
            resampled = to_output_rate(&line.clip);
            &resampled.samples
        };
        let (gl, gr) = crate::dsp::pan_gains(line.pan);
        // Start frame, clamped so absurd times cannot overflow.
        let limit = frames as f64 + 1.0;
        let start =
            (line.start_seconds * f64::from(SAMPLE_RATE)).round().clamp(-limit - clip.len() as f64, limit) as i64;
        let end = start + clip.len() as i64;
        let cut_start = start < 0;
        let cut_end = end > frames as i64;
        let first = start.max(0);
        let last = end.min(frames as i64);
        if first >= last {
            continue;
        }
        for at in first..last {
            let k = (at - start) as usize;
            let mut v = clip.get(k).copied().filter(|v| v.is_finite()).unwrap_or(0.0);
            if cut_start {
                let into = (at - first) as usize;
                if into < fade {
                    v *= crate::dsp::smooth_step((into as f32 + 0.5) / fade as f32);
                }
            }
            if cut_end {
                let left_to_go = (last - 1 - at) as usize;
                if left_to_go < fade {
                    v *= crate::dsp::smooth_step((left_to_go as f32 + 0.5) / fade as f32);
                }
            }
            let at = at as usize;
            if let Some(s) = left.get_mut(at) {
                *s += v * gl;
            }
            if let Some(s) = right.get_mut(at) {
                *s += v * gr;
            }
        }
    }
    Ok((left, right))
}

/// Per frame, the ambience's gain (1 where there is no speech, `10^(−duck_db/20)` under it),
/// ramping linearly in dB: down over the attack (starting that early), up over the release.
fn duck_envelope(speech_l: &[f32], speech_r: &[f32], duck_db: f64) -> Vec<f32> {
    let frames = speech_l.len().min(speech_r.len());
    if duck_db <= 0.0 {
        return vec![1.0; frames];
    }
    let fs = f64::from(SAMPLE_RATE);
    let window = ((PRESENCE_WINDOW_SECONDS * fs).round() as usize).max(1);
    let power: Vec<f64> = speech_l
        .chunks(window)
        .zip(speech_r.chunks(window))
        .map(|(l, r)| {
            let sum: f64 = l.iter().zip(r).map(|(a, b)| f64::from(*a).powi(2) + f64::from(*b).powi(2)).sum();
            sum / (2 * l.len().max(1)) as f64
        })
        .collect();
    let loudest = power.iter().copied().fold(0.0, f64::max);
    if loudest <= 1e-12 {
        return vec![1.0; frames];
    }
    let floor = (loudest * db_to_gain(-PRESENCE_RANGE_DB).powi(2)).max(1e-10);
    let mut active: Vec<bool> = power.iter().map(|p| *p > floor).collect();
    // Bridge short pauses between words.
    let bridge = (PRESENCE_BRIDGE_SECONDS / PRESENCE_WINDOW_SECONDS).round() as usize;
    let mut last_active: Option<usize> = None;
    for w in 0..active.len() {
        if active.get(w).copied().unwrap_or(false) {
            if let Some(prev) = last_active
                && w - prev > 1
                && w - prev <= bridge + 1
            {
                for slot in active.iter_mut().take(w).skip(prev + 1) {
                    *slot = true;
                }
            }
            last_active = Some(w);
        }
    }
    // Hold after each stretch of speech.
    let hold = (DUCK_HOLD_SECONDS / PRESENCE_WINDOW_SECONDS).round() as usize;
    let mut since_speech = usize::MAX;
    for slot in active.iter_mut() {
        if *slot {
            since_speech = 0;
        } else {
            since_speech = since_speech.saturating_add(1);
            if since_speech <= hold {
                *slot = true;
            }
        }
    }
    // Target gain per frame, in dB below unity.
    let mut target: Vec<f64> =
        (0..frames).map(|i| if active.get(i / window).copied().unwrap_or(false) { duck_db } else { 0.0 }).collect();
    // Look ahead: the duck starts one attack before the speech.
    let lead = (DUCK_ATTACK_SECONDS * fs).round() as usize;
    let mut until: Option<usize> = None;
    for i in (0..frames).rev() {
        let t = target.get(i).copied().unwrap_or(0.0);
        if t > 0.0 {
            until = Some(i);
        } else if let Some(onset) = until
            && onset - i <= lead
            && let Some(slot) = target.get_mut(i)
        {
            *slot = duck_db;
        }
    }
    // Slew-limited in dB.
    let down = duck_db / (DUCK_ATTACK_SECONDS * fs);
    let up = duck_db / (DUCK_RELEASE_SECONDS * fs);
    let mut depth = 0f64;
    target
        .iter_mut()
        .map(|t| {
            depth = if *t > depth { (depth + down).min(*t) } else { (depth - up).max(*t) };
            db_to_gain(-depth) as f32
        })
        .collect()
}

/// Loudness for normalising: a track shorter than the meter's 400 ms block is measured looped
/// to one second.
fn loudness_for_gain(track: &Stereo) -> Result<(Option<f64>, f64), AudioError> {
    let frames = track.frames();
    let block = (0.4 * f64::from(SAMPLE_RATE)) as usize;
    if frames == 0 || frames >= block {
        return measure(track);
    }
    let want = SAMPLE_RATE as usize;
    let looped = |c: &[f32]| -> Vec<f32> { c.iter().take(frames).copied().cycle().take(want).collect() };
    let (lufs, _) = measure(&Stereo { left: looped(&track.left), right: looped(&track.right) })?;
    let (_, peak) = measure(track)?;
    Ok((lufs, peak))
}

/// Gain to the target, limiting to the ceiling, re-measured until both hold.
fn normalise(track: Stereo, settings: &MixSettings) -> Result<Mixed, AudioError> {
    let (lufs, peak) = loudness_for_gain(&track)?;
    let Some(lufs) = lufs else {
        return Ok(Mixed { track, integrated_lufs: None, true_peak_db: peak });
    };
    let target = settings.target_lufs;
    let ceiling = settings.max_true_peak_db;
    let mut gain_db = target - lufs;
    let mut limit_db = ceiling - LIMITER_MARGIN_DB;
    let mut best: Option<(f64, Mixed)> = None;
    for _ in 0..MAX_PASSES {
        let g = db_to_gain(gain_db) as f32;
        let mut out = Stereo {
            left: track.left.iter().map(|v| v * g).collect(),
            right: track.right.iter().map(|v| v * g).collect(),
        };
        // The true peak scales with the gain: limit only when it would pass the ceiling.
        if peak + gain_db > limit_db {
            limit(&mut out, db_to_gain(limit_db) as f32);
        }
        let (measured, out_peak) = loudness_for_gain(&out)?;
        let Some(measured) = measured else {
            return Ok(Mixed { track: out, integrated_lufs: None, true_peak_db: out_peak });
        };
        let off = (measured - target).abs();
        let peak_ok = out_peak <= ceiling;
        // Prefer a pass that honours the ceiling, then the one closest to the target.
        let score = off + if peak_ok { 0.0 } else { 1_000.0 + out_peak - ceiling };
        let done = peak_ok && off <= AIM_LU;
        let candidate = Mixed { track: out, integrated_lufs: Some(measured), true_peak_db: out_peak };
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, candidate));
        }
        if done {
            break;
        }
        if !peak_ok {
            limit_db -= out_peak - ceiling + 0.05;
        }
        gain_db += target - measured;
    }
    match best {
        Some((_, mixed)) => Ok(mixed),
        None => Ok(Mixed { track, integrated_lufs: Some(lufs), true_peak_db: peak }),
    }
}

/// The meter's true-peak interpolator: 4 phases × 12 taps of a Hann-windowed sinc (the same
/// design as `ebur128`'s, so the limiter sees the peaks the meter will).
fn interpolator() -> [[f32; 12]; 4] {
    let mut h = [[0f32; 12]; 4];
    for tap in 0..12 {
        for (phase, slot) in h.iter_mut().enumerate() {
            let j = (tap * 4 + phase) as f64;
            let window = 48.0;
            let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * j / window).cos());
            let m = j - window / 2.0;
            let c = if m.abs() > 1e-6 {
                let x = m * std::f64::consts::PI / 4.0;
                w * x.sin() / x
            } else {
                w
            };
            if let Some(v) = slot.get_mut(tap) {
                *v = c as f32;
            }
        }
    }
    h
}

/// Per frame `m`, the largest interpolated magnitude between frames `m` and `m + 1` (both
/// channels), as the meter's 4× scan sees it.
fn true_peaks(track: &Stereo) -> Vec<f32> {
    let frames = track.frames();
    let h = interpolator();
    let mut out = vec![0f32; frames];
    for channel in [&track.left, &track.right] {
        let x = channel.get(..frames).unwrap_or(&[]);
        // The meter's output for phase p after pushing frame n is Σ_tap h[p][tap]·x[n − tap],
        // which sits at time n − 6 + p/4; so position m + p/4 uses frames m + 6 − tap.
        for (m, slot) in out.iter_mut().enumerate() {
            let mut peak = x.get(m).map_or(0.0, |v| v.abs());
            for row in h.iter().skip(1) {
                let mut acc = 0f32;
                for (tap, c) in row.iter().enumerate() {
                    if let Some(v) = (m + 6).checked_sub(tap).and_then(|i| x.get(i)) {
                        acc += c * v;
                    }
                }
                peak = peak.max(acc.abs());
            }
            *slot = slot.max(peak);
        }
    }
    out
}

/// Look-ahead limiter: a smooth gain that is at most `ceiling / peak` at every interpolated
/// peak. The gain is the backward moving average (over the look-ahead) of a forward minimum
/// (over the same span) of the needed gain, with an exponential recovery, so it is never above
/// what any peak in its window needs.
fn limit(track: &mut Stereo, ceiling: f32) {
    let frames = track.frames();
    if frames == 0 || ceiling.is_nan() || ceiling <= 0.0 {
        return;
    }
    let peaks = true_peaks(track);
    if peaks.iter().all(|p| *p <= ceiling) {
        return;
    }
    let need: Vec<f32> = peaks.iter().map(|p| if *p > ceiling { ceiling / p } else { 1.0 }).collect();
    // A peak between frames m and m + 1 needs both frames turned down.
    let need: Vec<f32> = (0..frames)
        .map(|m| {
            need.get(m).copied().unwrap_or(1.0).min(m.checked_sub(1).and_then(|p| need.get(p)).copied().unwrap_or(1.0))
        })
        .collect();
    let span = ((LIMITER_LOOKAHEAD_SECONDS * f64::from(SAMPLE_RATE)).round() as usize).max(1);
    // Forward minimum over [i, i + span) for i in −(span − 1)..frames, via a monotone queue.
    let total = frames + span - 1;
    let mut held = vec![1f32; total];
    let mut queue: std::collections::VecDeque<(usize, f32)> = std::collections::VecDeque::new();
    // Index e in `held` is frame e − (span − 1); its window ends at frame e.
    for (e, slot) in held.iter_mut().enumerate() {
        if let Some(v) = need.get(e) {
            while queue.back().is_some_and(|(_, b)| *b >= *v) {
                queue.pop_back();
            }
            queue.push_back((e, *v));
        }
        while queue.front().is_some_and(|(i, _)| *i + span <= e) {
            queue.pop_front();
        }
        *slot = queue.front().map_or(1.0, |(_, v)| *v);
    }
    // Recovery: the gain rises back towards 1 no faster than the release allows.
    let rise = 1.0 - (-1.0 / (LIMITER_RELEASE_SECONDS * f64::from(SAMPLE_RATE))).exp() as f32;
    let mut g = 1f32;
    for slot in held.iter_mut() {
        g = (g + (1.0 - g) * rise).min(*slot);
        *slot = g;
    }
    // Backward moving average over `span`: frame i averages held[i ..= i + span − 1].
    let mut sum: f64 = held.iter().take(span).map(|v| f64::from(*v)).sum();
    for i in 0..frames {
        let gain = (sum / span as f64) as f32;
        if let Some(s) = track.left.get_mut(i) {
            *s *= gain;
        }
        if let Some(s) = track.right.get_mut(i) {
            *s *= gain;
        }
        sum += f64::from(held.get(i + span).copied().unwrap_or(1.0)) - f64::from(held.get(i).copied().unwrap_or(1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ambience::render;
    use crate::scene::{Cue, SceneSound};
    use std::f64::consts::TAU;

    /// Speech-like: a 140 Hz harmonic tone, amplitude-modulated at a syllable rate with pauses.
    fn speech_like(seconds: f64, amp: f32, rate: u32) -> Mono {
        let n = (seconds * f64::from(rate)) as usize;
        let samples = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let syllable = (TAU * 4.0 * t).sin().max(0.0);
                let tone: f64 = (1..=12).map(|k| (TAU * 140.0 * k as f64 * t).sin() / k as f64).sum();
                (f64::from(amp) * syllable * tone * 0.4) as f32
            })
            .collect();
        Mono { samples, rate }
    }

    fn noise_clip(seconds: f64, amp: f32, seed: u64) -> Mono {
        let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let n = (seconds * 48_000.0) as usize;
        let samples = (0..n)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let u = (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
                (u * amp * 3.0).clamp(-1.0, 1.0)
            })
            .collect();
        Mono { samples, rate: 48_000 }
    }

    fn check_normalised(mixed: &Mixed, settings: &MixSettings, what: &str) {
        let (lufs, peak) = measure(&mixed.track).unwrap();
        let lufs = lufs.unwrap_or_else(|| panic!("{what}: unmeasurable"));
        assert!((lufs - settings.target_lufs).abs() <= LOUDNESS_TOLERANCE_LU, "{what}: {lufs:.2} LUFS");
        assert!(peak <= settings.max_true_peak_db + 1e-9, "{what}: {peak:.2} dBTP");
        assert_eq!(mixed.integrated_lufs, Some(lufs), "{what}");
        assert_eq!(mixed.true_peak_db, peak, "{what}");
        assert!(mixed.track.left.iter().chain(&mixed.track.right).all(|v| v.is_finite() && v.abs() <= 1.0), "{what}");
    }

    #[test]
    fn several_inputs_reach_the_target_under_the_ceiling() {
        let settings = MixSettings::default();
        let rain = render(&crate::scene::from_prompt("rain on the sea"), 4.0, 1);
        let quiet_bed = render(&crate::scene::from_prompt("a red ball"), 4.0, 2);
        let cases: Vec<(&str, Stereo, Vec<Placed>)> = vec![
            ("ambience only", rain.clone(), vec![]),
            ("quiet bed only", quiet_bed.clone(), vec![]),
            (
                "speech over rain",
                rain.clone(),
                vec![Placed { start_seconds: 0.5, clip: speech_like(2.5, 0.5, 48_000), pan: -0.2 }],
            ),
            (
                "loud clipped noise",
                Stereo::silence(frames(4.0)),
                vec![Placed { start_seconds: 0.0, clip: noise_clip(4.0, 1.0, 3), pan: 0.0 }],
            ),
            (
                "very quiet speech at 22.05 kHz",
                Stereo::silence(frames(4.0)),
                vec![Placed { start_seconds: 0.2, clip: speech_like(3.0, 0.002, 22_050), pan: 0.4 }],
            ),
            (
                "two lines over a quiet bed, one cut at the end",
                quiet_bed,
                vec![
                    Placed { start_seconds: 0.3, clip: speech_like(1.5, 0.8, 16_000), pan: -0.2 },
                    Placed { start_seconds: 2.5, clip: speech_like(3.0, 0.8, 24_000), pan: 0.2 },
                ],
            ),
            ("a full-scale square wave", square(4.0), vec![]),
        ];
        for (what, ambience, speech) in cases {
            let mixed = mix(&ambience, &speech, &settings).unwrap();
            assert_eq!(mixed.track.frames(), ambience.frames(), "{what}");
            check_normalised(&mixed, &settings, what);
        }
    }

    fn frames(seconds: f64) -> usize {
        crate::frames_for(seconds)
    }

    fn square(seconds: f64) -> Stereo {
        let n = frames(seconds);
        let s: Vec<f32> = (0..n).map(|i| if (i / 60) % 2 == 0 { 1.0 } else { -1.0 }).collect();
        Stereo { left: s.clone(), right: s }
    }

    #[test]
    fn other_targets_work_too() {
        let ambience = render(&SceneSound { cues: vec![(Cue::Crowd, 0.8), (Cue::Music, 0.5)] }, 3.0, 5);
        for (target, ceiling) in [(-23.0, -2.0), (-14.0, -1.0), (-30.0, -6.0)] {
            let settings = MixSettings { duck_db: 6.0, target_lufs: target, max_true_peak_db: ceiling };
            let speech = vec![Placed { start_seconds: 1.0, clip: speech_like(1.5, 0.9, 48_000), pan: 0.0 }];
            let mixed = mix(&ambience, &speech, &settings).unwrap();
            check_normalised(&mixed, &settings, &format!("{target} LUFS, {ceiling} dBTP"));
        }
    }

    #[test]
    fn silence_comes_back_unchanged() {
        for frames in [0, 1, 100, 48_000 * 2] {
            let silent = Stereo::silence(frames);
            let mixed = mix(&silent, &[], &MixSettings::default()).unwrap();
            assert_eq!(mixed.track, silent);
            assert_eq!(mixed.integrated_lufs, None);
            assert!(mixed.true_peak_db == f64::NEG_INFINITY, "{}", mixed.true_peak_db);
            // Silent speech too.
            let speech =
                vec![Placed { start_seconds: 0.0, clip: Mono { samples: vec![0.0; 500], rate: 48_000 }, pan: 0.0 }];
            let mixed = mix(&silent, &speech, &MixSettings::default()).unwrap();
            assert_eq!(mixed.integrated_lufs, None);
            assert!(mixed.track.left.iter().all(|v| *v == 0.0));
        }
        // Below the meter's gate: unchanged as well.
        let whisper = Stereo { left: vec![1e-6; 48_000], right: vec![1e-6; 48_000] };
        let mixed = mix(&whisper, &[], &MixSettings::default()).unwrap();
        assert_eq!(mixed.integrated_lufs, None);
        assert_eq!(mixed.track, whisper);
        assert_eq!(measure(&Stereo::default()).unwrap().0, None);
    }

    #[test]
    fn ducking_lowers_the_ambience_by_about_duck_db() {
        // Ambience: a steady 100 Hz tone; speech: a 1 kHz tone from 1.5 s to 3.0 s.
        let n = frames(4.5);
        let tone = |hz: f64, amp: f64, i: usize| (amp * (TAU * hz * i as f64 / 48_000.0).sin()) as f32;
        let amb: Vec<f32> = (0..n).map(|i| tone(100.0, 0.1, i)).collect();
        let ambience = Stereo { left: amb.clone(), right: amb };
        let speech_clip = Mono { samples: (0..72_000).map(|i| tone(1_000.0, 0.3, i)).collect(), rate: 48_000 };
        let settings = MixSettings::default();
        let mixed = mix(&ambience, &[Placed { start_seconds: 1.5, clip: speech_clip, pan: 0.0 }], &settings).unwrap();
        let level = |from: f64, to: f64| {
            let x = &mixed.track.left[frames(from)..frames(to)];
            let (mut s, mut c) = (0f64, 0f64);
            for (i, v) in x.iter().enumerate() {
                let p = TAU * 100.0 * (i + frames(from)) as f64 / 48_000.0;
                s += f64::from(*v) * p.sin();
                c += f64::from(*v) * p.cos();
            }
            2.0 * (s * s + c * c).sqrt() / x.len() as f64
        };
        let before = level(0.3, 1.3);
        let under = level(1.7, 2.9);
        let after = level(3.6, 4.3);
        let drop = 20.0 * (before / under).log10();
        assert!((drop - f64::from(settings.duck_db)).abs() < 1.0, "ducked by {drop:.2} dB");
        // It comes back after the release.
        assert!((20.0 * (before / after).log10()).abs() < 0.5);
        // And the duck is already down when speech starts (look-ahead).
        let at_onset = level(1.5, 1.52);
        assert!(20.0 * (before / at_onset).log10() > f64::from(settings.duck_db) - 1.0);
        // With duck_db 0 nothing ducks.
        let flat = duck_envelope(&[0.5; 4_800], &[0.5; 4_800], 0.0);
        assert!(flat.iter().all(|g| *g == 1.0));
    }

    #[test]
    fn duck_envelope_is_smooth_and_bridges_word_gaps() {
        let mut speech = vec![0f32; 48_000 * 3];
        // Two words with a 100 ms gap, then a long pause.
        speech[24_000..33_600].fill(0.3);
        speech[38_400..48_000].fill(0.3);
        let env = duck_envelope(&speech, &speech, 12.0);
        assert_eq!(env.len(), speech.len());
        let floor = db_to_gain(-12.0) as f32;
        // Down across the gap.
        assert!(env[36_000] <= floor + 1e-4);
        // Up long after.
        assert!((env[48_000 * 2 + 24_000] - 1.0).abs() < 1e-4);
        // No step larger than the attack slope allows (≈ 12 dB / 50 ms).
        let max_step_db = env
            .windows(2)
            .map(|w| (gain_to_db(f64::from(w[1])) - gain_to_db(f64::from(w[0]))).abs())
            .fold(0.0, f64::max);
        assert!(max_step_db <= 12.0 / 2_400.0 + 1e-6, "{max_step_db}");
    }

    #[test]
    fn speech_is_placed_panned_and_cut_at_the_end() {
        let ambience = Stereo::silence(48_000);
        let clip = Mono { samples: vec![0.5; 24_000], rate: 48_000 };
        let lines = [
            Placed { start_seconds: 0.75, clip: clip.clone(), pan: -1.0 },
            Placed { start_seconds: -0.25, clip: clip.clone(), pan: 1.0 },
            Placed { start_seconds: 5.0, clip: clip.clone(), pan: 0.0 },
        ];
        let (l, r) = lay_out(&lines, 48_000).unwrap();
        assert_eq!(l.len(), 48_000);
        // The first line, hard left, from 0.75 s; its cut tail fades to nothing.
        assert!(l[40_000] > 0.49 && r[40_000].abs() < 1e-6);
        assert!(l[47_999].abs() < 0.02);
        assert!(l[35_999].abs() < 1e-6);
        // The second, hard right, cut at the start (fades in) and ends at 0.25 s.
        assert!(r[0].abs() < 0.02 && r[6_000] > 0.49 && r[12_000].abs() < 1e-6);
        // The mix keeps the ambience's length whatever the speech does.
        let mixed = mix(&ambience, &lines, &MixSettings::default()).unwrap();
        assert_eq!(mixed.track.frames(), 48_000);
        // Speech at another rate is resampled, not played at the wrong speed.
        let slow = Placed { start_seconds: 0.0, clip: Mono { samples: vec![0.5; 8_000], rate: 16_000 }, pan: 0.0 };
        let (l, _) = lay_out(&[slow], 48_000).unwrap();
        assert!(l[20_000] > 0.3 && l[30_000].abs() < 1e-3, "{} {}", l[20_000], l[30_000]);
    }

    #[test]
    fn bad_input_is_an_error_or_harmless() {
        let ambience = render(&SceneSound { cues: vec![(Cue::Rain, 0.5)] }, 1.0, 1);
        let nan_start = [Placed { start_seconds: f64::NAN, clip: speech_like(0.5, 0.5, 48_000), pan: 0.0 }];
        let err = mix(&ambience, &nan_start, &MixSettings::default()).unwrap_err();
        assert!(matches!(err, AudioError::InvalidPlacement { line: 1, .. }));
        assert!(err.to_string().contains("line 1"), "{err}");
        for settings in [
            MixSettings { duck_db: f32::NAN, ..MixSettings::default() },
            MixSettings { duck_db: -3.0, ..MixSettings::default() },
            MixSettings { target_lufs: f64::INFINITY, ..MixSettings::default() },
            MixSettings { target_lufs: 3.0, ..MixSettings::default() },
            MixSettings { max_true_peak_db: f64::NAN, ..MixSettings::default() },
        ] {
            let err = mix(&ambience, &[], &settings).unwrap_err();
            assert!(matches!(err, AudioError::InvalidSetting { .. }), "{err}");
        }
        // NaN samples, a NaN pan, an absurd start, an empty clip, a zero-rate clip: all harmless.
        let mut noisy = speech_like(0.5, 0.5, 48_000);
        noisy.samples[100] = f32::NAN;
        noisy.samples[200] = f32::INFINITY;
        let mut weird_ambience = ambience.clone();
        weird_ambience.left[10] = f32::NAN;
        weird_ambience.right.push(0.0);
        let lines = [
            Placed { start_seconds: 0.1, clip: noisy, pan: f32::NAN },
            Placed { start_seconds: 1e300, clip: speech_like(0.5, 0.5, 48_000), pan: 0.0 },
            Placed { start_seconds: -1e300, clip: speech_like(0.5, 0.5, 48_000), pan: 0.0 },
            Placed { start_seconds: 0.2, clip: Mono::default(), pan: 0.0 },
            Placed { start_seconds: 0.2, clip: Mono { samples: vec![0.3; 100], rate: 0 }, pan: 5.0 },
        ];
        let mixed = mix(&weird_ambience, &lines, &MixSettings::default()).unwrap();
        assert_eq!(mixed.track.frames(), ambience.frames());
        assert_eq!(mixed.track.left.len(), mixed.track.right.len());
        check_normalised(&mixed, &MixSettings::default(), "weird input");
    }

    #[test]
    fn short_tracks_are_normalised_too() {
        let clip = speech_like(0.3, 0.5, 48_000);
        let ambience = Stereo::silence(clip.samples.len());
        let mixed = mix(&ambience, &[Placed { start_seconds: 0.0, clip, pan: 0.0 }], &MixSettings::default()).unwrap();
        let lufs = mixed.integrated_lufs.unwrap();
        assert!((lufs + 16.0).abs() <= LOUDNESS_TOLERANCE_LU, "{lufs}");
        assert!(mixed.true_peak_db <= -1.0);
    }

    #[test]
    fn the_limiter_matches_the_meter() {
        // A 0 dBFS sine at fs/4 with a phase offset has inter-sample peaks above its samples.
        let n = 48_000;
        let s: Vec<f32> = (0..n).map(|i| (TAU * 11_025.0 * i as f64 / 48_000.0 + 0.7).sin() as f32).collect();
        let track = Stereo { left: s.clone(), right: s };
        let ours = true_peaks(&track).into_iter().fold(0f32, f32::max);
        let (_, theirs) = measure(&track).unwrap();
        assert!((gain_to_db(f64::from(ours)) - theirs).abs() < 0.05, "{ours} vs {theirs}");
        let mut limited = track.clone();
        limit(&mut limited, db_to_gain(-3.0) as f32);
        let (_, after) = measure(&limited).unwrap();
        assert!(after <= -2.95, "{after}");
    }
}
