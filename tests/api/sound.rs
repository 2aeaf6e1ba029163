//! Sound end to end, through `createVideo` and the embedded worker: a prompt's dialogue is spoken
//! (an independent recogniser, pocketsphinx, hears the words), captioned (WebVTT behind a signed
//! link) and mixed over ambience at −16 LUFS (ffmpeg's `ebur128`) into one MP4 with one H.264 and
//! one Opus stream of the same length (ffprobe); a rainy scene sounds unlike a quiet one; `SILENT`
//! has no sound; a remix keeps, replaces or drops its source's sound; the C2PA hash covers the
//! sound track.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

const CREATE: &str = "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id status error { code message } video { id status url hasAudio captionsUrl durationMs provenance { manifestValid } } } }";

/// Queues `input` and waits for the job to end; returns the job.
async fn generate(app: &TestApp, token: &str, input: Value) -> Value {
    let r = app.ok(CREATE, json!({ "i": input }), Some(token)).await;
    let id = r["createVideo"]["id"].as_str().unwrap();
    let j = app.job_when_ended(JOB, token, id, Duration::from_secs(240)).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    j
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sound-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn tool(name: &str) -> Command {
    let found = Command::new("which").arg(name).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "{name} is not on PATH: run scripts/setup.sh (it installs ffmpeg and pocketsphinx)");
    Command::new(name)
}

/// ffprobe's streams of `file`: (codec_type, codec_name, duration seconds).
pub(crate) fn streams(file: &Path) -> Vec<(String, String, f64)> {
    let out = tool("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,codec_name,duration", "-of", "json"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap().to_owned(),
                s["codec_name"].as_str().unwrap().to_owned(),
                s["duration"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// ffmpeg's EBU R128 summary of `file`: (integrated LUFS, true peak dBTP).
fn loudness(file: &Path) -> (f64, f64) {
    let out = tool("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(file)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let summary = log.rsplit("Summary:").next().unwrap();
    let value_after = |label: &str| -> f64 {
        let line = summary.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{log}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (value_after("I:"), value_after("Peak:"))
}

/// pocketsphinx's transcript of the sound of `file` (16 kHz mono through ffmpeg).
fn transcript(file: &Path) -> String {
    let wav = file.with_extension("wav");
    let out = tool("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(file)
        .args(["-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = tool("pocketsphinx_continuous").arg("-infile").arg(&wav).args(["-logfn", "/dev/null"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

/// Share of `expected`'s words the recogniser got right: words of `expected` matched, in order,
/// by words of `heard` (the longest common subsequence of the two word lists).
fn words_right(expected: &str, heard: &str) -> f64 {
    let norm = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
    };
    let (e, h) = (norm(expected), norm(heard));
    let mut lcs = vec![vec![0usize; h.len() + 1]; e.len() + 1];
    for i in 1..=e.len() {
        for j in 1..=h.len() {
            lcs[i][j] = if e[i - 1] == h[j - 1] { lcs[i - 1][j - 1] + 1 } else { lcs[i - 1][j].max(lcs[i][j - 1]) };
        }
    }
    lcs[e.len()][h.len()] as f64 / e.len().max(1) as f64
}

/// Share of the sound's energy above 2 kHz (a crude but robust "hiss" measure), from the
/// decoded Opus track, left channel.
fn high_share(mp4: &[u8]) -> f64 {
    let pcm = media::decode_opus(mp4).unwrap().expect("a sound track");
    let left: Vec<f64> = pcm.samples.iter().step_by(usize::from(pcm.channels)).map(|s| f64::from(*s)).collect();
    // A one-pole high-pass at ~2 kHz against the whole signal.
    let a = (-2.0 * std::f64::consts::PI * 2000.0 / 48_000.0).exp();
    let (mut lp, mut high, mut all) = (0.0, 0.0, 0.0);
    for x in &left {
        lp = (1.0 - a) * x + a * lp;
        high += (x - lp).powi(2);
        all += x.powi(2);
    }
    high / all.max(1e-12)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogue_ambience_captions_and_loudness_embedded() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = app.member("ann").await;
    let dir = temp("dialogue");
    let line = "we should go home before it gets dark";
    let job = generate(
        &app,
        &ann,
        json!({"prompt": format!("a quiet park in the morning. Mia says \"{line}\""), "durationSeconds": 4, "aspectRatio": "SQUARE", "seed": 1}),
    )
    .await;
    let v = &job["video"];
    assert_eq!(v["hasAudio"], true, "{job}");
    assert_eq!(v["provenance"]["manifestValid"], true);
    let id = v["id"].as_str().unwrap();
    let bytes = app.stored_video(id);
    assert!(media::is_faststart(&bytes));
    let file = dir.join("dialogue.mp4");
    std::fs::write(&file, &bytes).unwrap();

    // One H.264 and one Opus stream, of the same length within one frame.
    let s = streams(&file);
    let kinds: Vec<(&str, &str)> = s.iter().map(|(k, c, _)| (k.as_str(), c.as_str())).collect();
    assert_eq!(kinds, [("video", "h264"), ("audio", "opus")], "{s:?}");
    let fps = media::probe_mp4(&bytes).unwrap().fps;
    assert!((s[0].2 - s[1].2).abs() <= 1.0 / fps, "video {} s, audio {} s", s[0].2, s[1].2);

    // Loudness for phones: −16 LUFS integrated within 1 LU, true peak at most −1 dBTP.
    let (lufs, peak) = loudness(&file);
    assert!((lufs + 16.0).abs() <= 1.0, "integrated {lufs} LUFS");
    assert!(peak <= -1.0 + 0.2, "true peak {peak} dBTP");

    // The words are heard by an independent recogniser.
    let heard = transcript(&file);
    let accuracy = words_right(line, &heard);
    assert!(accuracy >= 0.6, "pocketsphinx heard {heard:?} for {line:?} ({:.0}%)", accuracy * 100.0);

    // Captions: WebVTT behind a signed link, the line with its speaker.
    let url = v["captionsUrl"].as_str().expect("captions for a video with dialogue");
    let r = app.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/vtt; charset=utf-8");
    let vtt = r.text().await.unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    assert!(vtt.contains(&format!("<v Mia>{line}</v>")), "{vtt}");

    // The C2PA hash covers the sound: one byte of an Opus packet changed breaks the manifest.
    let packets = media::read_opus(&bytes).unwrap().unwrap();
    let packet = packets.packets.iter().max_by_key(|p| p.len()).unwrap();
    let at = bytes.windows(packet.len()).position(|w| w == packet.as_slice()).unwrap() + packet.len() / 2;
    let mut tampered = bytes.clone();
    tampered[at] ^= 0x20;
    let m = moderation::provenance::verify_mp4(&tampered).unwrap();
    assert!(!m.valid, "a changed sound track still verifies");
    assert!(moderation::provenance::verify_mp4(&bytes).unwrap().valid);

    // A rainy scene sounds unlike a quiet one; a silent video has no sound and no captions.
    let rain =
        generate(&app, &ann, json!({"prompt": "a meadow in heavy rain", "durationSeconds": 2, "audio": "AMBIENCE"}))
            .await;
    let quiet =
        generate(&app, &ann, json!({"prompt": "an empty white room", "durationSeconds": 2, "audio": "AMBIENCE"})).await;
    let (rain_bytes, quiet_bytes) = (
        app.stored_video(rain["video"]["id"].as_str().unwrap()),
        app.stored_video(quiet["video"]["id"].as_str().unwrap()),
    );
    let (rain_high, quiet_high) = (high_share(&rain_bytes), high_share(&quiet_bytes));
    assert!(rain_high > 2.0 * quiet_high, "energy above 2 kHz: rain {rain_high:.3}, quiet room {quiet_high:.3}");
    assert_eq!(rain["video"]["captionsUrl"], Value::Null, "nothing is said");
    let silent =
        generate(&app, &ann, json!({"prompt": "a boat. Ann says \"ahoy\"", "durationSeconds": 1, "audio": "SILENT"}))
            .await;
    assert_eq!((silent["video"]["hasAudio"].as_bool(), silent["video"]["captionsUrl"].is_null()), (Some(false), true));
    let silent_file = dir.join("silent.mp4");
    std::fs::write(&silent_file, app.stored_video(silent["video"]["id"].as_str().unwrap())).unwrap();
    assert_eq!(streams(&silent_file).len(), 1);

    let _ = app.running.stop_workers.send(true);
    app.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remix_keeps_replaces_or_drops_its_sources_sound() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = app.member("ann").await;
    let source =
        generate(&app, &ann, json!({"prompt": "waves on a beach. Ann says \"come on in\"", "durationSeconds": 2}))
            .await;
    let source_id = source["video"]["id"].as_str().unwrap().to_owned();
    app.ok("mutation($id: ID!) { publishVideo(id: $id) { id } }", json!({"id": source_id}), Some(&ann)).await;
    let source_packets = media::read_opus(&app.stored_video(&source_id)).unwrap().unwrap();

    let bob = app.member("bob").await;
    let keep = generate(&app, &bob, json!({"prompt": "at night", "remixOf": source_id, "audio": "KEEP_SOURCE"})).await;
    let kept = media::read_opus(&app.stored_video(keep["video"]["id"].as_str().unwrap())).unwrap().unwrap();
    assert_eq!(kept.packets, source_packets.packets, "the source's sound, packet for packet");
    assert_eq!(keep["video"]["captionsUrl"], Value::Null);
    let replace = generate(&app, &bob, json!({"prompt": "in a storm", "remixOf": source_id})).await;
    let replaced = media::read_opus(&app.stored_video(replace["video"]["id"].as_str().unwrap())).unwrap().unwrap();
    assert_ne!(replaced.packets, source_packets.packets, "new sound for the remix");
    assert!(replace["video"]["captionsUrl"].is_string(), "the source's line is spoken again in the remix: {replace}");
    let drop = generate(&app, &bob, json!({"prompt": "in silence", "remixOf": source_id, "audio": "SILENT"})).await;
    assert_eq!(drop["video"]["hasAudio"], false);
    assert!(media::read_opus(&app.stored_video(drop["video"]["id"].as_str().unwrap())).unwrap().is_none());

    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}
