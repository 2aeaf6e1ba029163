//! The sound stage of a job: the sound track and captions of one clip, from its prompt, its
//! dialogue and its length.
//!
//! `FULL`: each spoken line (checked by the backend's text policy before the job was queued) is
//! synthesised by the [`SpeechEngine`] in its speaker's voice (speaker *n* keeps voice *n* through
//! the video), the lines are placed one after another from a short lead-in, sped up (to
//! [`jobs::dialogue::MAX_PACE`]) when they would not fit, over ambience and effects from the
//! prompt's scene (`audio::scene`, `audio::ambience`), the ambience ducked under speech and the
//! mix normalised to −16 LUFS with the true peak at most −1 dBTP (`audio::mix`); the lines become
//! WebVTT captions at the times they are heard. `AMBIENCE`: the same without speech. `SILENT`: no
//! track. `KEEP_SOURCE`: the remix source's Opus packets, copied.
//!
//! Invariant: the sound stage never fails a job for want of a voice: a line the engine cannot
//! speak is logged and left out (with its caption), and the clip keeps its ambience. It fails
//! only on a mix or encoding error, which is a bug.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use audio::captions::Cue as Caption;
use audio::mix::{MixSettings, Placed};
use audio::scene::{Cue, SceneSound};
use jobs::dialogue::MAX_PACE;
use jobs::{AudioMode, DialogueLine};

use crate::speech::{SpeechEngine, VoiceId};
use crate::{GenError, GenResult};

/// Silence before the first line, seconds.
const LEAD_IN: f64 = 0.3;
/// Silence between lines, seconds.
const GAP: f64 = 0.25;
/// Silence kept after the last line, seconds.
const TAIL: f64 = 0.2;
/// How far the ambience drops under speech, dB: out of the way of the words (its bed returns
/// between lines). Measured with an independent recogniser (pocketsphinx) on one line over a
/// park, rain and waves, four seeds each: at 12–30 dB birdsong, rain and surf took words away in
/// most clips; at 36 dB, with the mix's hold after speech, 11 of 12 kept at least 7 of 8 words.
pub const DIALOGUE_DUCK_DB: f32 = 36.0;

/// What the stage is asked for.
#[derive(Debug, Clone, Copy)]
pub struct SoundRequest<'a> {
    /// The job's prompt (the scene's sounds come from it).
    pub prompt: &'a str,
    /// What the track holds.
    pub mode: AudioMode,
    /// The lines to speak (`FULL` only).
    pub dialogue: &'a [DialogueLine],
    /// The clip's length in seconds.
    pub seconds: f64,
    /// The job's seed (the ambience is seeded from it).
    pub seed: u64,
    /// A remix source's MP4 (`KEEP_SOURCE`).
    pub source_mp4: Option<&'a [u8]>,
}

/// What the stage made.
#[derive(Debug, Clone, Default)]
pub struct Sound {
    /// The track for the MP4; `None` for a silent clip.
    pub track: Option<media::SoundTrack>,
    /// WebVTT captions of the lines heard; `None` when nothing is said.
    pub captions: Option<String>,
    /// Lines spoken (of those asked for).
    pub spoken: usize,
    /// How much faster than normal the lines were spoken to fit (1.0: not at all).
    pub pace: f64,
    /// Integrated loudness of the mix, LUFS.
    pub loudness_lufs: Option<f64>,
    /// True peak of the mix, dBTP.
    pub true_peak_db: Option<f64>,
    /// Time spent.
    pub elapsed: Duration,
}

/// Makes the sound of one clip (blocking, CPU-bound; call from `spawn_blocking`).
pub fn make(engine: &SpeechEngine, req: &SoundRequest<'_>) -> GenResult<Sound> {
    let started = Instant::now();
    let mut sound = match req.mode {
        AudioMode::Silent => Sound { pace: 1.0, ..Sound::default() },
        AudioMode::KeepSource => keep_source(req),
        AudioMode::Ambience | AudioMode::Full => scored(engine, req)?,
    };
    sound.elapsed = started.elapsed();
    Ok(sound)
}

/// A remix's source sound, copied; silence (logged) when the source has none or cannot be read.
fn keep_source(req: &SoundRequest<'_>) -> Sound {
    let packets = match req.source_mp4.map(media::read_opus) {
        Some(Ok(Some(packets))) => Some(packets),
        Some(Ok(None)) => {
            tracing::info!("the remix source has no sound track; the remix is silent");
            None
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "the remix source's sound track is unreadable; the remix is silent");
            None
        }
        None => {
            tracing::warn!("KEEP_SOURCE without a readable remix source; the remix is silent");
            None
        }
    };
    Sound { track: packets.map(media::SoundTrack::Opus), pace: 1.0, ..Sound::default() }
}

/// Ambience from the scene, and (for `FULL`) the dialogue over it.
fn scored(engine: &SpeechEngine, req: &SoundRequest<'_>) -> GenResult<Sound> {
    let seconds = req.seconds.max(0.1);
    let scene = audio::scene::from_prompt(req.prompt);
    let ambience = audio::ambience::render(&scene, seconds, req.seed);
    let lines: &[DialogueLine] = if req.mode == AudioMode::Full { req.dialogue } else { &[] };
    let (placed, cues, pace) = place_lines(engine, lines, seconds);
    // Dialogue at −16 LUFS; a track without speech as loud as its scene is busy.
    let settings = if placed.is_empty() {
        MixSettings { target_lufs: ambience_target(&scene), ..MixSettings::default() }
    } else {
        // Dialogue sits well above its bed, as in a film mix.
        MixSettings { duck_db: DIALOGUE_DUCK_DB, ..MixSettings::default() }
    };
    let mixed = audio::mix::mix(&ambience, &placed, &settings)
        .map_err(|e| GenError::Finish { stage: "sound mix", message: e.to_string() })?;
    let captions = (!cues.is_empty()).then(|| audio::captions::webvtt(&cues));
    let pcm = media::Pcm { channels: 2, samples: mixed.track.interleaved() };
    Ok(Sound {
        track: Some(media::SoundTrack::Pcm(pcm)),
        captions,
        spoken: placed.len(),
        pace,
        loudness_lufs: mixed.integrated_lufs,
        true_peak_db: Some(mixed.true_peak_db),
        elapsed: Duration::ZERO,
    })
}

/// Loudness of a track without speech: −16 LUFS (as dialogue) for a scene full of sound (rain,
/// waves, traffic, a crowd, music…), down to −28 LUFS for a quiet bed (room tone, the hum of
/// space, crickets), so a quiet room is not turned into loud hiss.
pub fn ambience_target(scene: &SceneSound) -> f64 {
    let busy = scene
        .cues
        .iter()
        .map(|(cue, level)| {
            let weight = match cue {
                Cue::Room | Cue::Space | Cue::Crickets => 0.0,
                Cue::Wind | Cue::Snow | Cue::Birds | Cue::Footsteps => 0.7,
                _ => 1.0,
            };
            weight * f64::from(level.clamp(0.0, 1.0))
        })
        .fold(0.0, f64::max);
    -28.0 + 12.0 * busy
}

/// Speaks the lines and lays them out one after another; returns the placed clips, their
/// captions and the pace used.
fn place_lines(engine: &SpeechEngine, lines: &[DialogueLine], seconds: f64) -> (Vec<Placed>, Vec<Caption>, f64) {
    if lines.is_empty() {
        return (vec![], vec![], 1.0);
    }
    let room = (seconds - LEAD_IN - TAIL).max(0.1);
    let mut pace = 1.0f64;
    let mut spoken = speak_all(engine, lines, pace);
    let total = |clips: &[(usize, audio::Mono)]| {
        clips.iter().map(|(_, c)| c.seconds()).sum::<f64>() + GAP * clips.len().saturating_sub(1) as f64
    };
    let needed = total(&spoken);
    if needed > room {
        // Once more, faster: the lines take about 1/pace as long.
        pace = (needed / room).min(MAX_PACE);
        spoken = speak_all(engine, lines, pace);
    }
    let several_speakers = lines.iter().any(|l| l.speaker_index > 0);
    let mut at = LEAD_IN;
    let mut placed = Vec::with_capacity(spoken.len());
    let mut cues = Vec::with_capacity(spoken.len());
    for (index, clip) in spoken {
        let Some(line) = lines.get(index) else { continue };
        let clip = audio::resample::to_output_rate(&clip);
        let length = clip.seconds();
        if at >= seconds {
            tracing::warn!(line = index + 1, "a spoken line does not fit in the clip; left out");
            continue;
        }
        // Speakers stand a little apart: the first left of centre, the next right, and so on.
        let pan = match line.speaker_index % 3 {
            0 => -0.2,
            1 => 0.2,
            _ => 0.0,
        };
        // With more than one speaker the caption names who speaks, as subtitles for the deaf do
        // (browsers do not show the voice span's name).
        let text = match (&line.speaker, several_speakers) {
            (Some(name), true) => format!("{name}: {}", line.text),
            _ => line.text.clone(),
        };
        cues.push(Caption { start: at, end: (at + length).min(seconds), speaker: line.speaker.clone(), text });
        placed.push(Placed { start_seconds: at, clip, pan });
        at += length + GAP;
    }
    (placed, cues, pace)
}

/// The voice of each speaker (by `speaker_index`): a speaker with a `voice_key` (a cameo) gets
/// the stock voice its key hashes to, so it sounds the same in every video; the others take the
/// free voices in order of appearance; two speakers share a voice only when there are more
/// speakers than voices.
pub fn voices_for(engine: &SpeechEngine, lines: &[DialogueLine]) -> HashMap<usize, VoiceId> {
    let count = engine.voices().max(1);
    let mut speakers: Vec<(usize, Option<&str>)> = Vec::new();
    for line in lines {
        if !speakers.iter().any(|(i, _)| *i == line.speaker_index) {
            speakers.push((line.speaker_index, line.voice_key.as_deref()));
        }
    }
    let mut taken = vec![false; count];
    let mut voices = HashMap::with_capacity(speakers.len());
    // Keyed speakers first, so they keep their voice whatever else is said.
    for (index, key) in speakers.iter().filter_map(|(i, k)| k.map(|k| (*i, k))) {
        let preferred = (fnv1a(key) % count as u64) as usize;
        let voice = (0..count).map(|step| (preferred + step) % count).find(|v| !taken.get(*v).copied().unwrap_or(true));
        let voice = voice.unwrap_or(preferred);
        if let Some(slot) = taken.get_mut(voice) {
            *slot = true;
        }
        voices.insert(index, VoiceId(u8::try_from(voice).unwrap_or(0)));
    }
    let mut next = 0usize;
    for (index, _) in speakers.iter().filter(|(_, k)| k.is_none()) {
        let free = (next..count).find(|v| !taken.get(*v).copied().unwrap_or(true));
        let voice = free.unwrap_or(next % count);
        if let Some(slot) = taken.get_mut(voice) {
            *slot = true;
        }
        next = voice + 1;
        voices.insert(*index, VoiceId(u8::try_from(voice).unwrap_or(0)));
    }
    voices
}

/// FNV-1a: a hash that stays the same across runs, machines and Rust versions.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Each line in its speaker's voice at `pace`; a line the engine cannot speak is logged and
/// left out. Pairs of (line index, clip at the voice's rate).
fn speak_all(engine: &SpeechEngine, lines: &[DialogueLine], pace: f64) -> Vec<(usize, audio::Mono)> {
    let voices = voices_for(engine, lines);
    let mut out = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let voice = voices.get(&line.speaker_index).copied().unwrap_or_default();
        match engine.speak(&line.text, voice, pace as f32) {
            Ok(clip) if !clip.samples.is_empty() => out.push((index, clip)),
            Ok(_) => tracing::warn!(line = index + 1, "the speech engine returned no sound for a line; left out"),
            Err(e) => tracing::warn!(line = index + 1, error = %e, "a line could not be spoken; left out"),
        }
    }
    out
}
