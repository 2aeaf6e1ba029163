//! The sound track: an H.264 + Opus MP4 that ffprobe reads as two streams of the same length,
//! that stays faststart, whose video still decodes, and whose sound comes back as it went in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::path::PathBuf;
use std::process::Command;

use media::{AUDIO_RATE, EncodeOptions, Pcm, SoundTrack, decode_opus, encode_mp4_with_audio, read_opus};

fn frames(width: usize, height: usize, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = vec![0u8; width * height * 3];
            for (p, px) in f.chunks_exact_mut(3).enumerate() {
                let x = p % width;
                px.copy_from_slice(&[(x * 4 + i * 8) as u8, 120, (p / width * 2) as u8]);
            }
            f
        })
        .collect()
}

/// A 440 Hz tone on the left and 660 Hz on the right, `seconds` long.
fn tones(seconds: f64) -> Pcm {
    let n = (seconds * f64::from(AUDIO_RATE)) as usize;
    let mut samples = Vec::with_capacity(n * 2);
    for i in 0..n {
        let t = i as f64 / f64::from(AUDIO_RATE);
        samples.push((0.4 * (std::f64::consts::TAU * 440.0 * t).sin()) as f32);
        samples.push((0.4 * (std::f64::consts::TAU * 660.0 * t).sin()) as f32);
    }
    Pcm { channels: 2, samples }
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("media-sound-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// ffprobe's streams: (codec_type, codec_name, duration in seconds).
fn streams(file: &std::path::Path) -> Vec<(String, String, f64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,codec_name,duration", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe is not on PATH: run scripts/setup.sh (it installs ffmpeg)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "ffprobe: {stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_owned(), f[0].to_owned(), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn one_h264_and_one_opus_stream_of_the_same_length() {
    let dir = temp("streams");
    for (fps, n, seconds) in [(12, 48, 4.0), (24, 96, 4.5), (12, 25, 1.0)] {
        let video = encode_mp4_with_audio(
            64,
            64,
            &frames(64, 64, n),
            &EncodeOptions::published_clip(fps),
            Some(&SoundTrack::Pcm(tones(seconds))),
        )
        .unwrap();
        assert!(media::is_faststart(&video.mp4));
        let file = dir.join(format!("{fps}-{n}.mp4"));
        std::fs::write(&file, &video.mp4).unwrap();
        let s = streams(&file);
        let kinds: Vec<(&str, &str)> = s.iter().map(|(k, c, _)| (k.as_str(), c.as_str())).collect();
        // ffprobe lists `codec_name,codec_type` in its own order: read both.
        assert!(kinds.contains(&("video", "h264")) || kinds.contains(&("h264", "video")), "{s:?}");
        assert!(kinds.contains(&("audio", "opus")) || kinds.contains(&("opus", "audio")), "{s:?}");
        assert_eq!(s.len(), 2, "{s:?}");
        let video_s = n as f64 / f64::from(fps);
        let frame = 1.0 / f64::from(fps);
        for (_, _, d) in &s {
            assert!((d - video_s).abs() <= frame, "stream of {d} s in a {video_s} s video ({s:?})");
        }
        let audio_ms = video.audio_duration_ms.unwrap();
        assert!((audio_ms as f64 / 1000.0 - video_s).abs() <= 0.021, "{audio_ms} ms");
        // The video track is read as before.
        let info = media::probe_mp4(&video.mp4).unwrap();
        assert_eq!(info.frame_count, n);
        assert_eq!(media::decode_mp4(&video.mp4).unwrap().len(), n);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_sound_comes_back_as_it_went_in() {
    let pcm = tones(2.0);
    let video = encode_mp4_with_audio(
        32,
        32,
        &frames(32, 32, 24),
        &EncodeOptions::published_clip(12),
        Some(&SoundTrack::Pcm(pcm.clone())),
    )
    .unwrap();
    let back = decode_opus(&video.mp4).unwrap().expect("a sound track");
    assert_eq!(back.channels, 2);
    // Within one Opus frame of the input's length.
    let frames_back = back.samples.len() / 2;
    assert!((frames_back as i64 - 96_000).abs() <= 960, "{frames_back}");
    // Same waveform, aligned (the pre-skip took the encoder's delay away): correlation near 1
    // over the middle of the clip.
    let (a, b): (Vec<f32>, Vec<f32>) =
        (pcm.samples[48_000..144_000].to_vec(), back.samples[48_000..144_000.min(back.samples.len())].to_vec());
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    assert!(dot / (na * nb) > 0.95, "correlation {}", dot / (na * nb));
    // Copying the packets into another file keeps them byte for byte, fitted to its length.
    let packets = read_opus(&video.mp4).unwrap().unwrap();
    let copy = encode_mp4_with_audio(
        32,
        32,
        &frames(32, 32, 36),
        &EncodeOptions::published_clip(12),
        Some(&SoundTrack::Opus(packets.clone())),
    )
    .unwrap();
    let copied = read_opus(&copy.mp4).unwrap().unwrap();
    assert_eq!(&copied.packets[..packets.packets.len()], &packets.packets[..]);
    assert!((copy.audio_duration_ms.unwrap() as i64 - 3000).abs() <= 20);
}

#[test]
fn a_silent_file_has_no_sound_and_bad_sound_is_refused() {
    let silent = media::encode_mp4(32, 32, &frames(32, 32, 12), &EncodeOptions::published_clip(12)).unwrap();
    assert!(silent.audio_duration_ms.is_none());
    assert!(read_opus(&silent.mp4).unwrap().is_none());
    let opts = EncodeOptions::published_clip(12);
    let nan = SoundTrack::Pcm(Pcm { channels: 2, samples: vec![f32::NAN; 960] });
    let err = encode_mp4_with_audio(32, 32, &frames(32, 32, 12), &opts, Some(&nan)).unwrap_err();
    assert!(err.to_string().contains("not a number"), "{err}");
    let six = SoundTrack::Pcm(Pcm { channels: 6, samples: vec![0.0; 960 * 6] });
    let err = encode_mp4_with_audio(32, 32, &frames(32, 32, 12), &opts, Some(&six)).unwrap_err();
    assert!(err.to_string().contains("mono and stereo"), "{err}");
    // A short track is padded with silence to the video's length.
    let short = SoundTrack::Pcm(Pcm { channels: 1, samples: vec![0.1; 4800] });
    let v = encode_mp4_with_audio(32, 32, &frames(32, 32, 24), &opts, Some(&short)).unwrap();
    assert!((v.audio_duration_ms.unwrap() as i64 - 2000).abs() <= 20);
}
