//! Speech engines against an independent recogniser (pocketsphinx): the Piper path with the
//! test voice, flite's voices, pace, fallback, and text that must not break anything.
//!
//! Needs what scripts/setup.sh installs: the ONNX Runtime library, the Piper test voice
//! (`.venv/models/piper-test-voice.onnx`), flite and pocketsphinx. A missing piece fails the
//! test with a message saying so; nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use audio::Mono;
use generator::speech::{EngineKind, MAX_CHARS, PEAK, SpeechConfig, SpeechEngine, VoiceId, wav};

const SENTENCES: [&str; 3] = [
    "the quick brown fox jumps over the lazy dog",
    "we should meet at the station tomorrow morning",
    "the weather is cold and the river is very wide",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn test_voice() -> PathBuf {
    let p = root().join(".venv/models/piper-test-voice.onnx");
    assert!(
        p.is_file() && p.with_extension("onnx.json").is_file(),
        "the Piper test voice is missing at {} (and its .onnx.json): run scripts/setup.sh",
        p.display()
    );
    p
}

fn require_tool(name: &str, arg: &str) {
    let ok = Command::new(name).arg(arg).output().is_ok();
    assert!(ok, "`{name}` is not installed: run scripts/setup.sh (Debian packages flite, pocketsphinx)");
}

fn flite_engine() -> SpeechEngine {
    require_tool("flite", "-lv");
    let engine = SpeechEngine::load(&SpeechConfig::default()).unwrap();
    assert_eq!(engine.kind(), EngineKind::Flite, "flite did not load: {:?}", engine.unavailable_reason());
    engine
}

fn piper_engine() -> SpeechEngine {
    require_tool("flite", "-lv");
    let config = SpeechConfig { piper_voice: Some(test_voice()), ..SpeechConfig::default() };
    let engine = SpeechEngine::load(&config).unwrap();
    assert_eq!(engine.kind(), EngineKind::Piper, "the Piper test voice did not load (see the warning above)");
    engine
}

/// Windowed-sinc resampling to 16 kHz, good enough for a recogniser.
fn to_16k(clip: &Mono) -> Mono {
    const OUT: u32 = 16_000;
    if clip.rate == OUT {
        return clip.clone();
    }
    let ratio = f64::from(clip.rate) / f64::from(OUT);
    let cutoff = (1.0 / ratio).min(1.0) * 0.9;
    let half = 24i64;
    let n_out = (clip.samples.len() as f64 / ratio) as usize;
    let x = &clip.samples;
    let samples = (0..n_out)
        .map(|i| {
            let t = i as f64 * ratio;
            let centre = t.floor() as i64;
            let mut acc = 0.0f64;
            for k in (centre - half)..=(centre + half) {
                if k < 0 || k as usize >= x.len() {
                    continue;
                }
                let d = t - k as f64;
                let arg = std::f64::consts::PI * d * cutoff;
                let sinc = if arg.abs() < 1e-9 { 1.0 } else { arg.sin() / arg };
                let w = 0.5 + 0.5 * (std::f64::consts::PI * d / (half as f64 + 1.0)).cos();
                acc += f64::from(x[k as usize]) * sinc * cutoff * w;
            }
            acc as f32
        })
        .collect();
    Mono { samples, rate: OUT }
}

fn transcribe(clip: &Mono) -> String {
    require_tool("pocketsphinx_continuous", "-h");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("speech.wav");
    // Half a second of silence either side helps the recogniser's voice activity detection.
    let mut padded = vec![0.0f32; 8_000];
    padded.extend(&to_16k(clip).samples);
    padded.extend(vec![0.0f32; 8_000]);
    std::fs::write(&path, wav::write_pcm16_mono(&Mono { samples: padded, rate: 16_000 })).unwrap();
    let out = Command::new("pocketsphinx_continuous")
        .arg("-infile")
        .arg(&path)
        .arg("-logfn")
        .arg("/dev/null")
        .output()
        .expect("pocketsphinx_continuous is not installed: run scripts/setup.sh");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_alphanumeric() || *c == '\'').collect::<String>().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word edit distance (substitutions, insertions, deletions).
fn edits(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(r != h)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[hypothesis.len()]
}

/// Word accuracy over `SENTENCES` spoken by `voice`; checks length, finiteness and level too.
fn recognition_accuracy(engine: &SpeechEngine, voice: VoiceId) -> f64 {
    let (mut errors, mut total) = (0usize, 0usize);
    for sentence in SENTENCES {
        let clip = engine.speak(sentence, voice, 1.0).unwrap();
        let n = words(sentence).len();
        let seconds = clip.seconds();
        assert!(
            seconds > n as f64 * 0.15 && seconds < n as f64 * 0.6,
            "{:?}: {seconds:.2} s for {n} words",
            engine.voice_name(voice)
        );
        assert!(clip.samples.iter().all(|s| s.is_finite()));
        let peak = clip.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - PEAK).abs() < 0.01, "peak {peak}");
        let rms = (clip.samples.iter().map(|s| s * s).sum::<f32>() / clip.samples.len() as f32).sqrt();
        assert!(rms > 0.03, "nearly silent: rms {rms}");
        let heard = transcribe(&clip);
        let e = edits(&words(sentence), &words(&heard)).min(n);
        println!("{:?}: said {sentence:?}, heard {heard:?} ({e} errors of {n})", engine.voice_name(voice));
        errors += e;
        total += n;
    }
    let accuracy = 1.0 - errors as f64 / total as f64;
    println!("{:?}: word accuracy {:.0} %", engine.voice_name(voice), accuracy * 100.0);
    accuracy
}

/// Median pitch in Hz of the voiced 40 ms frames, by normalised autocorrelation.
fn median_pitch(clip: &Mono) -> f64 {
    let clip = to_16k(clip);
    let x = &clip.samples;
    let (frame, hop) = (640usize, 160usize);
    let (min_lag, max_lag) = (16_000 / 400, 16_000 / 60);
    let energy = |s: &[f32]| s.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>();
    let frames: Vec<&[f32]> = (0..x.len().saturating_sub(frame + max_lag) / hop).map(|i| &x[i * hop..]).collect();
    let loudest = frames.iter().map(|f| energy(&f[..frame])).fold(0.0, f64::max);
    let mut pitches = Vec::new();
    for f in frames {
        let e0 = energy(&f[..frame]);
        if e0 < loudest * 0.05 {
            continue;
        }
        let mut best = (0usize, 0.0f64);
        for lag in min_lag..=max_lag {
            let r: f64 = (0..frame).map(|i| f64::from(f[i]) * f64::from(f[i + lag])).sum();
            let el = energy(&f[lag..lag + frame]);
            let nr = r / (e0 * el).sqrt().max(1e-12);
            if nr > best.1 {
                best = (lag, nr);
            }
        }
        if best.1 > 0.6 {
            pitches.push(16_000.0 / best.0 as f64);
        }
    }
    assert!(pitches.len() > 20, "too few voiced frames ({})", pitches.len());
    pitches.sort_by(f64::total_cmp);
    pitches[pitches.len() / 2]
}

#[test]
fn piper_test_voice_is_understood() {
    let engine = piper_engine();
    assert!(engine.available());
    assert_eq!(engine.voice_name(VoiceId(0)).as_deref(), Some("piper speaker 0"));
    let accuracy = recognition_accuracy(&engine, VoiceId(0));
    assert!(accuracy >= 0.6, "Piper: word accuracy {accuracy:.2}");
}

#[test]
fn single_speaker_piper_voice_is_paired_with_flite_voices() {
    let engine = piper_engine();
    // The joe voice has one speaker: flite's voices follow it, so a second speaker sounds different.
    assert!(engine.voices() >= 3, "{} voices", engine.voices());
    assert_eq!(engine.voice_name(VoiceId(1)).as_deref(), Some("flite slt"));
    assert_eq!(engine.voice_for_speaker(0), VoiceId(0));
    assert_eq!(engine.voice_for_speaker(1), VoiceId(1));
    assert_eq!(engine.voice_for_speaker(engine.voices()), VoiceId(0));
    assert_eq!(engine.voice_for_speaker(engine.voices() + 1), VoiceId(1));
    let first = engine.speak(SENTENCES[0], engine.voice_for_speaker(0), 1.0).unwrap();
    let second = engine.speak(SENTENCES[0], engine.voice_for_speaker(1), 1.0).unwrap();
    let (a, b) = (median_pitch(&first), median_pitch(&second));
    println!("median pitch: piper speaker 0 {a:.0} Hz, flite slt {b:.0} Hz");
    assert!((a - b).abs() > 30.0, "speakers 0 and 1 sound alike: {a:.0} Hz vs {b:.0} Hz");
}

#[test]
fn flite_voices_are_understood_and_distinct() {
    let engine = flite_engine();
    assert!(engine.voices() >= 2);
    let (female, male) = (VoiceId(0), VoiceId(1));
    assert_eq!(engine.voice_name(female).as_deref(), Some("flite slt"));
    assert_eq!(engine.voice_name(male).as_deref(), Some("flite rms"));
    for voice in [female, male] {
        let accuracy = recognition_accuracy(&engine, voice);
        assert!(accuracy >= 0.6, "{:?}: word accuracy {accuracy:.2}", engine.voice_name(voice));
    }
    let a = median_pitch(&engine.speak(SENTENCES[1], female, 1.0).unwrap());
    let b = median_pitch(&engine.speak(SENTENCES[1], male, 1.0).unwrap());
    println!("median pitch: slt {a:.0} Hz, rms {b:.0} Hz");
    assert!(a - b > 30.0, "slt {a:.0} Hz should be well above rms {b:.0} Hz");
}

#[test]
fn faster_pace_is_shorter() {
    // Piper rounds each phoneme up to whole frames, so its lengths follow pace only roughly
    // (pace 1.3 gives ~0.87 of the length, not 0.77), and its durations are sampled: average.
    let length = |engine: &SpeechEngine, pace: f32| {
        (0..2).map(|_| engine.speak(SENTENCES[2], VoiceId(0), pace).unwrap().seconds()).sum::<f64>() / 2.0
    };
    for engine in [flite_engine(), piper_engine()] {
        let kind = engine.kind().as_str();
        let (slow, normal, fast) = (length(&engine, 0.8), length(&engine, 1.0), length(&engine, 1.3));
        println!("{kind}: pace 0.8 {slow:.2} s, 1.0 {normal:.2} s, 1.3 {fast:.2} s");
        assert!(fast < normal * 0.95, "{kind}: pace 1.3 gave {fast:.2} s vs {normal:.2} s");
        assert!(slow > normal * 1.05, "{kind}: pace 0.8 gave {slow:.2} s vs {normal:.2} s");
    }
}

#[test]
fn missing_piper_voice_falls_back_to_flite() {
    require_tool("flite", "-lv");
    let config = SpeechConfig { piper_voice: Some(PathBuf::from("/nonexistent/voice.onnx")), ..Default::default() };
    let engine = SpeechEngine::load(&config).unwrap();
    assert_eq!(engine.kind(), EngineKind::Flite);
    assert!(engine.available());
    assert!(engine.unavailable_reason().is_none());
    assert!(engine.voices() >= 2);
    let clip = engine.speak("hello there", VoiceId(0), 1.0).unwrap();
    assert!(clip.seconds() > 0.3);

    // A file that is not a voice at all, with a config beside it that is not one either.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.onnx");
    std::fs::write(&bogus, b"not a model").unwrap();
    std::fs::write(dir.path().join("bogus.onnx.json"), b"{\"audio\":").unwrap();
    let engine = SpeechEngine::load(&SpeechConfig { piper_voice: Some(bogus), ..Default::default() }).unwrap();
    assert_eq!(engine.kind(), EngineKind::Flite);
}

#[test]
fn no_engine_loads_but_speak_says_why() {
    let config =
        SpeechConfig { piper_voice: None, flite: PathBuf::from("/nonexistent/bin/flite"), ..SpeechConfig::default() };
    let engine = SpeechEngine::load(&config).unwrap();
    assert_eq!(engine.kind(), EngineKind::Unavailable);
    assert!(!engine.available());
    assert_eq!(engine.voices(), 0);
    assert_eq!(engine.voice_for_speaker(3), VoiceId(0));
    let err = engine.speak("hello", VoiceId(0), 1.0).unwrap_err().to_string();
    assert!(err.contains("no speech engine") && err.contains("/nonexistent/bin/flite"), "{err}");
    assert!(engine.unavailable_reason().is_some());
}

#[test]
fn hostile_text_is_spoken_or_refused_never_run() {
    let canary = std::env::temp_dir().join(format!("speech-canary-{}", std::process::id()));
    let _ = std::fs::remove_file(&canary);
    let c = canary.display();
    let long = "and then we walked a little further ".repeat(300); // ~10 kB
    let spoken: Vec<String> = vec![
        "\"; rm -rf / #".into(),
        "$(whoami)".into(),
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        format!("hello; touch {c} #"),
        format!("' && touch {c} && echo '"),
        "-o /dev/null --help".into(),
        "hello\u{0}world\u{7}\u{1b}[2J again".into(),
        long,
    ];
    let refused = ["", "   ", "?!... -- ,,", "\u{0}\u{1}\u{7f}", "\u{200B}\u{FEFF}"];
    for engine in [flite_engine(), piper_engine()] {
        let kind = engine.kind().as_str();
        for text in &spoken {
            let clip = engine.speak(text, VoiceId(0), 1.0);
            let clip = clip.unwrap_or_else(|e| panic!("{kind}: {text:?} gave {e}"));
            assert!(!clip.samples.is_empty() && clip.samples.iter().all(|s| s.is_finite()), "{kind}: {text:?}");
            // At most MAX_CHARS characters are spoken: well under a minute.
            assert!(clip.seconds() < MAX_CHARS as f64 * 0.12, "{kind}: {:.1} s", clip.seconds());
        }
        for text in refused {
            let err = engine.speak(text, VoiceId(0), 1.0).unwrap_err().to_string();
            assert!(err.contains("nothing to say"), "{kind}: {text:?} gave {err}");
        }
        let err = engine.speak("hello", VoiceId(200), 1.0).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        for pace in [f32::NAN, f32::INFINITY, -1.0, 0.0, 100.0] {
            assert!(engine.speak("hello", VoiceId(0), pace).is_ok(), "{kind}: pace {pace}");
        }
    }
    assert!(!canary.exists(), "a shell ran the text");
}

#[test]
fn engine_is_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<SpeechEngine>();
    let engine = &piper_engine();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| s.spawn(move || engine.speak(SENTENCES[i % 3], VoiceId(0), 1.0).map(|c| c.seconds())))
            .collect();
        for h in handles {
            assert!(h.join().unwrap().unwrap() > 1.0);
        }
    });
}

/// CPU seconds used so far by this process and its waited-for children (flite), from
/// `/proc/self/stat` (utime, stime, cutime, cstime in clock ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<f64> = after_name.split_whitespace().map(|f| f.parse().unwrap_or(0.0)).collect();
    let ticks = Command::new("getconf").arg("CLK_TCK").output().ok();
    let ticks: f64 = ticks.and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0);
    // Fields 14..=17 of stat(5), counted from 1 with the pid and name as 1 and 2.
    fields[11..15].iter().sum::<f64>() / ticks
}

/// Prints each engine's speed: seconds of speech per second of wall clock and of CPU.
#[test]
fn synthesis_speed() {
    let text = SENTENCES.join(". ");
    for engine in [flite_engine(), piper_engine()] {
        engine.speak("warm up", VoiceId(0), 1.0).unwrap();
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let mut audio = 0.0;
        for _ in 0..3 {
            audio += engine.speak(&text, VoiceId(0), 1.0).unwrap().seconds();
        }
        let wall = start.elapsed().as_secs_f64();
        let cpu = (cpu_seconds() - cpu).max(0.01);
        let kind = engine.kind().as_str();
        println!(
            "{kind}: {audio:.1} s of speech in {wall:.2} s wall, {cpu:.2} s CPU: {:.1}x real time, {:.1} s per CPU second",
            audio / wall,
            audio / cpu
        );
        assert!(audio / wall > 0.5, "{kind}: only {:.2}x real time", audio / wall);
    }
}
