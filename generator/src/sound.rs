//! The sound stage of a job: the sound track and captions of one clip, from its prompt, its
//! dialogue and its length.
//!
//! `FULL`: each spoken line (checked by the backend's text policy before the job was queued) is
//! synthesised by the [`SpeechEngine`] in its speaker's voice (one voice per speaker through the
//! video, a cameo's the same in every video: [`voices_for`]), the lines are placed one after
//! another from a short lead-in, sped up (to [`jobs::dialogue::MAX_PACE`]) when they would not
//! fit, over ambience and effects from the
//! prompt's scene (`audio::scene`, `audio::ambience`), the ambience ducked under speech and the
//! mix normalised to −16 LUFS with the true peak at most −1 dBTP (`audio::mix`); the lines become
//! WebVTT captions at the times they are heard. `AMBIENCE`: the same without speech. `SILENT`: no
//! track. `KEEP_SOURCE`: the remix source's Opus packets, copied.
//!
//! A storyboard's track runs across its shots: each shot has a window, its scene's ambience
//! dissolving into the next shot's over [`SHOT_AMBIENCE_CROSSFADE`] at the cut, and its lines
//! (`DialogueLine::shot`) placed and sped up within it; a speaker keeps one voice in every shot
//! ([`voices_for`] over all the lines); one mix normalises the whole track.
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
    /// A storyboard's shots, in order, their lengths adding up to `seconds`; empty for a clip of
    /// one shot (then `prompt` is its scene).
    pub shots: &'a [Segment],
}

/// One shot of a storyboard, as the sound stage sees it.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Its scene (the shot's prompt with the storyboard's world).
    pub prompt: String,
    /// Its length as made, seconds.
    pub seconds: f64,
}

/// How long one shot's ambience dissolves into the next one's, seconds (centred on the cut, so
/// the track runs on without a click or a gap).
pub const SHOT_AMBIENCE_CROSSFADE: f64 = 0.3;

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
    // One window per shot (the whole clip for one shot): its scene's ambience and its lines.
    let one = [Segment { prompt: req.prompt.to_owned(), seconds }];
    let segments: &[Segment] = if req.shots.is_empty() { &one } else { req.shots };
    let scenes: Vec<SceneSound> = segments.iter().map(|s| audio::scene::from_prompt(&s.prompt)).collect();
    let ambience = render_shots(&scenes, segments, seconds, req.seed);
    let mut windows = Vec::with_capacity(segments.len());
    let mut start = 0.0;
    for s in segments {
        windows.push((start, s.seconds.min(seconds - start).max(0.0)));
        start += s.seconds;
    }
    let lines: &[DialogueLine] = if req.mode == AudioMode::Full { req.dialogue } else { &[] };
    let (placed, cues, pace) = place_lines(engine, lines, &windows);
    // Dialogue at −16 LUFS; a track without speech as loud as its busiest scene.
    let settings = if placed.is_empty() {
        let target = scenes.iter().map(ambience_target).fold(f64::NEG_INFINITY, f64::max);
        MixSettings { target_lufs: target, ..MixSettings::default() }
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

/// The ambience of each shot's scene over its window, each dissolving into the next over
/// [`SHOT_AMBIENCE_CROSSFADE`] (equal power: the beds are independent), `seconds` long in all.
/// One shot: its scene's ambience as it is.
fn render_shots(scenes: &[SceneSound], segments: &[Segment], seconds: f64, seed: u64) -> audio::Stereo {
    if let [scene] = scenes {
        return audio::ambience::render(scene, seconds, seed);
    }
    let total = audio::frames_for(seconds);
    let half = audio::frames_for(SHOT_AMBIENCE_CROSSFADE / 2.0);
    let mut out = audio::Stereo::silence(total);
    let mut start = 0usize;
    let mut at = 0.0f64;
    for (i, (scene, segment)) in scenes.iter().zip(segments).enumerate() {
        let end = if i + 1 == segments.len() { total } else { audio::frames_for(at + segment.seconds).min(total) };
        at += segment.seconds;
        // Each bed runs `half` past both ends of its window (less at the clip's ends).
        let from = start.saturating_sub(if i == 0 { 0 } else { half });
        let to = if i + 1 == segments.len() { total } else { (end + half).min(total) };
        if to <= from {
            start = end;
            continue;
        }
        let bed = audio::ambience::render(scene, (to - from) as f64 / f64::from(audio::SAMPLE_RATE), seed);
        for k in 0..(to - from).min(bed.frames()) {
            let t = from + k;
            // Rises over [start - half, start + half), falls over [end - half, end + half).
            let rise = if i == 0 { 1.0 } else { fade_in(t, start, half) };
            let fall = if i + 1 == segments.len() { 1.0 } else { 1.0 - fade_in(t, end, half) };
            let gain = (rise * fall).max(0.0).sqrt() as f32;
            if let (Some(l), Some(r), Some(bl), Some(br)) =
                (out.left.get_mut(t), out.right.get_mut(t), bed.left.get(k), bed.right.get(k))
            {
                *l += bl * gain;
                *r += br * gain;
            }
        }
        start = end;
    }
    out
}

/// 0 before `centre - half`, 1 from `centre + half`, linear between.
fn fade_in(t: usize, centre: usize, half: usize) -> f64 {
    if half == 0 {
        return if t >= centre { 1.0 } else { 0.0 };
    }
    let from = centre as f64 - half as f64;
    ((t as f64 + 0.5 - from) / (2.0 * half as f64)).clamp(0.0, 1.0)
}

/// Speaks the lines and lays each shot's out one after another in the shot's window (start,
/// length; a line's `shot` picks it, the last window taking any beyond); returns the placed
/// clips, their captions and the fastest pace used.
fn place_lines(
    engine: &SpeechEngine,
    lines: &[DialogueLine],
    windows: &[(f64, f64)],
) -> (Vec<Placed>, Vec<Caption>, f64) {
    let mut out = (Vec::with_capacity(lines.len()), Vec::with_capacity(lines.len()), 1.0f64);
    if lines.is_empty() || windows.is_empty() {
        return out;
    }
    let voices = voices_for(engine, lines);
    let several_speakers = lines.iter().any(|l| l.speaker_index > 0);
    let last = windows.len() - 1;
    for (w, &window) in windows.iter().enumerate() {
        let mine: Vec<usize> =
            (0..lines.len()).filter(|&i| lines.get(i).is_some_and(|l| l.shot.min(last) == w)).collect();
        if mine.is_empty() {
            continue;
        }
        let pace = place_window(engine, lines, &mine, window, &voices, several_speakers, &mut out.0, &mut out.1);
        out.2 = out.2.max(pace);
    }
    out
}

/// The lines `mine` (indices into `lines`) in one window; returns the pace used.
#[allow(clippy::too_many_arguments)]
fn place_window(
    engine: &SpeechEngine,
    lines: &[DialogueLine],
    mine: &[usize],
    (offset, seconds): (f64, f64),
    voices: &HashMap<usize, VoiceId>,
    several_speakers: bool,
    placed: &mut Vec<Placed>,
    cues: &mut Vec<Caption>,
) -> f64 {
    let room = (seconds - LEAD_IN - TAIL).max(0.1);
    let mut pace = 1.0f64;
    let mut spoken = speak_all(engine, lines, mine, voices, pace);
    let total = |clips: &[(usize, audio::Mono)]| {
        clips.iter().map(|(_, c)| c.seconds()).sum::<f64>() + GAP * clips.len().saturating_sub(1) as f64
    };
    let needed = total(&spoken);
    if needed > room {
        // Once more, faster: the lines take about 1/pace as long.
        pace = (needed / room).min(MAX_PACE);
        spoken = speak_all(engine, lines, mine, voices, pace);
    }
    let end = offset + seconds;
    let mut at = offset + LEAD_IN;
    for (index, clip) in spoken {
        let Some(line) = lines.get(index) else { continue };
        let clip = audio::resample::to_output_rate(&clip);
        let length = clip.seconds();
        if at >= end {
            tracing::warn!(line = index + 1, shot = line.shot + 1, "a spoken line does not fit in its shot; left out");
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
        cues.push(Caption { start: at, end: (at + length).min(end), speaker: line.speaker.clone(), text });
        placed.push(Placed { start_seconds: at, clip, pan });
        at += length + GAP;
    }
    pace
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
        // A free voice, in order; with none left, the engine's own wrap (voice n for speaker n).
        let Some(voice) = (next..count).find(|v| !taken.get(*v).copied().unwrap_or(true)) else {
            voices.insert(*index, engine.voice_for_speaker(*index));
            continue;
        };
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

/// The lines `mine` (indices into `lines`), each in its speaker's voice at `pace`; a line the
/// engine cannot speak is logged and left out. Pairs of (line index, clip at the voice's rate).
fn speak_all(
    engine: &SpeechEngine,
    lines: &[DialogueLine],
    mine: &[usize],
    voices: &HashMap<usize, VoiceId>,
    pace: f64,
) -> Vec<(usize, audio::Mono)> {
    let mut out = Vec::with_capacity(mine.len());
    for (index, line) in mine.iter().filter_map(|&i| lines.get(i).map(|l| (i, l))) {
        let voice = voices.get(&line.speaker_index).copied().unwrap_or_default();
        match engine.speak(&line.text, voice, pace as f32) {
            Ok(clip) if !clip.samples.is_empty() => out.push((index, clip)),
            Ok(_) => tracing::warn!(line = index + 1, "the speech engine returned no sound for a line; left out"),
            Err(e) => tracing::warn!(line = index + 1, error = %e, "a line could not be spoken; left out"),
        }
    }
    out
}
