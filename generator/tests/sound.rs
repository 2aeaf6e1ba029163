//! The sound stage (`generator::sound::make`) with the flite engine: lines in order, a voice per
//! speaker, captions at the times they are heard, a faster pace when the lines would not fit,
//! loudness by what the track holds, and the modes without speech.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use generator::sound::{SoundRequest, ambience_target, make};
use generator::speech::{SpeechConfig, SpeechEngine};
use jobs::AudioMode;
use jobs::dialogue::Script;

fn engine() -> SpeechEngine {
    let e = SpeechEngine::load(&SpeechConfig::default()).unwrap();
    assert!(e.available(), "flite is missing: run scripts/setup.sh ({:?})", e.unavailable_reason());
    e
}

fn request<'a>(prompt: &'a str, script: &'a Script, mode: AudioMode, seconds: f64) -> SoundRequest<'a> {
    SoundRequest { prompt, mode, dialogue: &script.lines, seconds, seed: 5, source_mp4: None, shots: &[] }
}

/// Seconds of each cue in a WebVTT file: (start, end, text line).
fn cues(vtt: &str) -> Vec<(f64, f64, String)> {
    let secs = |t: &str| {
        let p: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2]
    };
    let lines: Vec<&str> = vtt.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let (a, b) = l.split_once(" --> ")?;
            Some((secs(a), secs(b), lines[i + 1].to_owned()))
        })
        .collect()
}

#[test]
fn dialogue_is_spoken_in_order_and_captioned_where_it_is_heard() {
    let e = engine();
    let prompt = "two friends in a park\nMia: are you ready?\nLeo: almost\nMia: then let's go";
    let script = Script::parse(prompt);
    let sound = make(&e, &request(prompt, &script, AudioMode::Full, 6.0)).unwrap();
    assert_eq!(sound.spoken, 3);
    let vtt = sound.captions.expect("captions");
    let c = cues(&vtt);
    assert_eq!(
        c.iter().map(|x| x.2.as_str()).collect::<Vec<_>>(),
        ["<v Mia>Mia: are you ready?</v>", "<v Leo>Leo: almost</v>", "<v Mia>Mia: then let's go</v>"]
    );
    assert!(c.windows(2).all(|w| w[0].1 <= w[1].0), "lines do not overlap: {c:?}");
    assert!(c[0].0 >= 0.2 && c.last().unwrap().1 <= 6.0, "{c:?}");
    let (lufs, peak) = (sound.loudness_lufs.unwrap(), sound.true_peak_db.unwrap());
    assert!((lufs + 16.0).abs() <= 0.5 && peak <= -1.0, "{lufs} LUFS, {peak} dBTP");
    match sound.track.unwrap() {
        media::SoundTrack::Pcm(pcm) => {
            assert_eq!(pcm.channels, 2);
            assert_eq!(pcm.samples.len(), 2 * 6 * 48_000);
        }
        other => panic!("expected PCM, got {other:?}"),
    }
}

#[test]
fn lines_too_long_for_the_clip_are_spoken_faster() {
    let e = engine();
    let prompt = "Ann says \"we should leave the harbour before the storm reaches the coast tonight\"";
    let script = Script::parse(prompt);
    let relaxed = make(&e, &request(prompt, &script, AudioMode::Full, 8.0)).unwrap();
    let rushed = make(&e, &request(prompt, &script, AudioMode::Full, 3.0)).unwrap();
    assert_eq!(relaxed.pace, 1.0);
    assert!(rushed.pace > 1.05, "pace {}", rushed.pace);
    let end = |s: &generator::sound::Sound| cues(s.captions.as_ref().unwrap())[0].1;
    assert!(end(&rushed) <= 3.0 && end(&rushed) < end(&relaxed), "{} vs {}", end(&rushed), end(&relaxed));
}

#[test]
fn without_speech_the_scene_sets_the_loudness() {
    let e = engine();
    let prompt = "heavy rain on a tin roof. Bo says \"hello\"";
    let script = Script::parse(prompt);
    let ambience = make(&e, &request(prompt, &script, AudioMode::Ambience, 2.0)).unwrap();
    assert_eq!((ambience.spoken, ambience.captions.is_none()), (0, true));
    assert!((ambience.loudness_lufs.unwrap() + 16.0).abs() <= 0.5, "{:?}", ambience.loudness_lufs);
    let quiet = make(&e, &request("an empty room", &Script::default(), AudioMode::Full, 2.0)).unwrap();
    assert!(quiet.loudness_lufs.unwrap() < -24.0, "a quiet room stays quiet: {:?}", quiet.loudness_lufs);
    let rain = audio::scene::from_prompt("heavy rain");
    let room = audio::scene::from_prompt("an empty room");
    assert!(ambience_target(&rain) > ambience_target(&room) + 8.0);
    let silent = make(&e, &request(prompt, &script, AudioMode::Silent, 2.0)).unwrap();
    assert!(silent.track.is_none() && silent.captions.is_none());
    // KEEP_SOURCE without a source (unreadable, or not a remix): a silent clip, not a failure.
    let kept = make(&e, &request(prompt, &script, AudioMode::KeepSource, 2.0)).unwrap();
    assert!(kept.track.is_none());
}

#[test]
fn without_any_speech_engine_the_clip_keeps_its_ambience() {
    let none =
        SpeechEngine::load(&SpeechConfig { flite: "/nonexistent/flite".into(), ..SpeechConfig::default() }).unwrap();
    assert!(!none.available());
    let prompt = "waves on a beach. Ann says \"hello\"";
    let script = Script::parse(prompt);
    let sound = make(&none, &request(prompt, &script, AudioMode::Full, 2.0)).unwrap();
    assert_eq!(sound.spoken, 0);
    assert!(sound.captions.is_none(), "no captions for lines nobody hears");
    assert!(sound.track.is_some());
}

#[test]
fn a_cameo_keeps_its_voice_across_videos_and_others_take_the_free_ones() {
    let e = engine();
    let keyed = |mut script: Script, speaker: &str, key: &str| {
        jobs::dialogue::mark_voices(&mut script.lines, &[(speaker.to_owned(), key.to_owned())]);
        script
    };
    // Ann is a cameo: second speaker in one video, first in another, alone in a third.
    let one = keyed(Script::parse("a\nLeo: hi\nAnn: hello"), "Ann", "cameo-ann");
    let two = keyed(Script::parse("b\nAnn: hello\nMia: hey\nLeo: yo"), "Ann", "cameo-ann");
    let three = keyed(Script::parse("c\nAnn: hello"), "ann", "cameo-ann");
    let voice_of = |s: &Script, name: &str| {
        let v = generator::sound::voices_for(&e, &s.lines);
        let line = s.lines.iter().find(|l| l.speaker.as_deref() == Some(name)).unwrap();
        v[&line.speaker_index]
    };
    let ann = voice_of(&one, "Ann");
    assert_eq!(voice_of(&two, "Ann"), ann);
    assert_eq!(voice_of(&three, "Ann"), ann);
    // Nobody else in a video shares Ann's voice while voices are free.
    assert_ne!(voice_of(&one, "Leo"), ann);
    assert_ne!(voice_of(&two, "Mia"), ann);
    assert_ne!(voice_of(&two, "Leo"), ann);
    assert_ne!(voice_of(&two, "Mia"), voice_of(&two, "Leo"));
    // Without keys, voices go in order of appearance.
    let plain = Script::parse("d\nMia: a\nLeo: b");
    let v = generator::sound::voices_for(&e, &plain.lines);
    assert_eq!((v[&0].0, v[&1].0), (0, 1));
}

#[test]
fn a_storyboard_speaks_each_line_in_its_shot_over_each_shots_own_scene() {
    use generator::sound::Segment;
    use jobs::{Shot, Transition};
    let e = engine();
    let world = "a small wooden cabin";
    let shots = [
        Shot {
            prompt: "heavy rain drums on the roof. Mia says \"it is pouring\"".into(),
            seconds: 3,
            transition: Transition::Cut,
            source: None,
        },
        Shot { prompt: "a quiet empty room".into(), seconds: 3, transition: Transition::Cut, source: None },
        Shot { prompt: "mia: \"finally quiet\"".into(), seconds: 2, transition: Transition::Crossfade, source: None },
    ];
    let scripts: Vec<Script> = shots.iter().map(|s| Script::parse(&s.prompt)).collect();
    let lines = jobs::dialogue::join_shots(&scripts);
    assert_eq!(lines.iter().map(|l| (l.shot, l.speaker_index)).collect::<Vec<_>>(), [(0, 0), (2, 0)]);
    let segments: Vec<Segment> =
        shots.iter().map(|s| Segment { prompt: s.model_prompt(world), seconds: f64::from(s.seconds) }).collect();
    let req = SoundRequest {
        prompt: world,
        mode: AudioMode::Full,
        dialogue: &lines,
        seconds: 8.0,
        seed: 3,
        source_mp4: None,
        shots: &segments,
    };
    let sound = make(&e, &req).unwrap();
    assert_eq!(sound.spoken, 2);
    // Each caption falls inside its shot.
    let c = cues(sound.captions.as_deref().unwrap());
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c[0].0 >= 0.0 && c[0].1 <= 3.0, "{c:?}");
    assert!(c[1].0 >= 6.0 && c[1].1 <= 8.0, "{c:?}");
    assert!(c[1].2.contains("finally quiet"), "{c:?}");
    // One track as long as the shots, without a gap at the cuts; the rain shot is far louder
    // than the quiet room (measured after the first line, before the second).
    let Some(media::SoundTrack::Pcm(pcm)) = sound.track else { panic!("no PCM track") };
    assert_eq!(pcm.samples.len(), 8 * 48_000 * 2);
    let rms = |from: f64, to: f64| {
        let s = &pcm.samples[(from * 96_000.0) as usize..(to * 96_000.0) as usize];
        (s.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    };
    let (rain, room) = (rms(2.4, 2.9), rms(3.6, 5.6));
    assert!(rain > room * 4.0, "rain {rain:.4} vs room {room:.4}");
    for t in [2.9, 3.0, 3.1, 5.9, 6.0, 6.1] {
        assert!(rms(t - 0.05, t + 0.05) > 0.0, "silence at the cut near {t} s");
    }
}
