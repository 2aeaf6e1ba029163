//! Audio: everything a generated video's sound track is made of, as samples.
//!
//! - [`scene`]: what the prompt and the scene say should be heard (rain, waves, birds, crowd,
//!   traffic, engine, fire, a music bed…), as weighted [`scene::Cue`]s;
//! - [`ambience`]: those cues synthesised procedurally (fundsp), timed to the clip, seeded;
//! - [`mix`]: speech clips placed on the timeline over the ambience, the ambience ducked under
//!   speech, loudness normalised to −16 LUFS integrated with true peak ≤ −1 dBTP (EBU R128 /
//!   ITU-R BS.1770 through the `ebur128` crate);
//! - [`resample`]: speech from a voice's own rate (16 kHz, 22.05 kHz…) to [`SAMPLE_RATE`];
//! - [`captions`]: the dialogue's timing as WebVTT.
//!
//! Architecture invariant: this crate owns samples, nothing more. It knows nothing of codecs,
//! containers (the `media` crate encodes Opus into the MP4), ONNX, HTTP or SQL, and it never
//! panics on what a prompt contains.

#![warn(missing_docs)]

pub mod ambience;
pub mod captions;
mod dsp;
mod error;
pub mod mix;
pub mod resample;
pub mod scene;

pub use error::AudioError;

/// The rate of every track this crate hands out (Opus's native rate).
pub const SAMPLE_RATE: u32 = 48_000;

/// A stereo track at [`SAMPLE_RATE`], samples in −1..1, both channels the same length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stereo {
    /// Left channel.
    pub left: Vec<f32>,
    /// Right channel.
    pub right: Vec<f32>,
}

impl Stereo {
    /// `frames` samples of silence per channel.
    pub fn silence(frames: usize) -> Self {
        Self { left: vec![0.0; frames], right: vec![0.0; frames] }
    }

    /// Samples per channel.
    pub fn frames(&self) -> usize {
        self.left.len().min(self.right.len())
    }

    /// Length in seconds at [`SAMPLE_RATE`].
    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(SAMPLE_RATE)
    }

    /// Left, right, left, right… (what an encoder takes).
    pub fn interleaved(&self) -> Vec<f32> {
        self.left.iter().zip(&self.right).flat_map(|(l, r)| [*l, *r]).collect()
    }
}

/// A mono clip at its own rate (speech from a voice).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mono {
    /// Samples in −1..1.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub rate: u32,
}

impl Mono {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        if self.rate == 0 { 0.0 } else { self.samples.len() as f64 / f64::from(self.rate) }
    }
}

/// Number of frames at [`SAMPLE_RATE`] in `seconds` (rounded to the nearest frame).
pub fn frames_for(seconds: f64) -> usize {
    if seconds.is_finite() && seconds > 0.0 { (seconds * f64::from(SAMPLE_RATE)).round() as usize } else { 0 }
}
