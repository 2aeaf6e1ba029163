#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
//! `normalize_mp4` on a real Chromium `MediaRecorder` recording (fragmented MP4, `avcC` after
//! `pasp`/`btrt`), on ffmpeg's fragmented output, on our own plain files, and on broken input.
//!
//! The fixture `fixtures/chromium-recording.mp4` was recorded by headless Chromium from its fake
//! camera: 3 s at 320x240 (20 fps), `MediaRecorder` with `video/mp4;codecs=avc1.42E01E`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Command;

use media::{EncodeOptions, decode_mp4, encode_mp4, is_faststart, normalize_mp4, probe_mp4};

const CHROMIUM: &[u8] = include_bytes!("fixtures/chromium-recording.mp4");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("media-normalize-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// ffprobe's frame count (decoding every frame) and duration of the first video stream; fails
/// the test on any complaint.
fn ffprobe(file: &Path) -> (usize, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames:format=duration",
            "-of",
            "default=noprint_wrappers=1",
        ])
        .arg(file)
        .output()
        .expect("ffprobe is not on PATH: run scripts/setup.sh (it installs ffmpeg)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffprobe failed: {stderr}");
    assert!(stderr.trim().is_empty(), "ffprobe complained: {stderr}");
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_owned()
    };
    assert_eq!(field("codec_name"), "h264", "{stdout}");
    (field("nb_read_frames").parse().unwrap(), field("duration").parse().unwrap())
}

/// The top-level boxes of a file: (type, start, end).
fn top_level(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().unwrap();
        out.push((kind, at, at + size));
        at += size;
    }
    out
}

/// Offset of the first box of type `kind` anywhere in the file (by searching for its name).
fn find_box(bytes: &[u8], kind: &[u8; 4]) -> usize {
    bytes.windows(4).position(|w| w == kind).unwrap() - 4
}

/// A small plain MP4 from our own encoder.
fn our_clip(frames: usize, keyframe_interval: u32) -> Vec<u8> {
    let (w, h) = (64, 48);
    let source: Vec<Vec<u8>> =
        (0..frames).map(|t| (0..w * h * 3).map(|i| ((i / 3 % w + t * 3) % 256) as u8).collect()).collect();
    let opts = EncodeOptions { fps: 12, bitrate_kbps: 500, keyframe_interval };
    encode_mp4(w, h, &source, &opts).unwrap().mp4
}

#[test]
fn chromium_recording_becomes_a_plain_mp4() {
    // What the reader says about the recording as the browser wrote it.
    let raw = probe_mp4(CHROMIUM).unwrap_err().to_string();
    assert!(raw.contains("avcc not found"), "{raw}");

    let dir = temp_dir("chromium");
    let original = dir.join("original.mp4");
    std::fs::write(&original, CHROMIUM).unwrap();
    let (frames, seconds) = ffprobe(&original);
    assert!(frames >= 40, "{frames} frames");

    let plain = normalize_mp4(CHROMIUM).unwrap();
    assert!(matches!(plain, Cow::Owned(_)));
    assert!(is_faststart(&plain), "moov must come before mdat");
    let kinds: Vec<[u8; 4]> = top_level(&plain).iter().map(|b| b.0).collect();
    assert_eq!(kinds, [*b"ftyp", *b"moov", *b"mdat"]);
    assert!(!plain.windows(4).any(|w| w == b"mvex" || w == b"moof"));

    let info = probe_mp4(&plain).unwrap();
    assert_eq!((info.width, info.height), (320, 240));
    assert_eq!(info.frame_count, frames);
    let ms = info.duration_ms as f64;
    assert!((ms - 3000.0).abs() <= 300.0, "{ms} ms");
    assert!((ms / 1000.0 - seconds).abs() <= 0.1, "{ms} ms, ffprobe {seconds} s");
    assert!((info.fps - 20.0).abs() < 1.0, "{} fps", info.fps);

    let decoded = decode_mp4(&plain).unwrap();
    assert_eq!(decoded.len(), frames);
    assert!(decoded.iter().all(|f| f.len() == 320 * 240 * 3));
    // The fake camera draws a moving picture: not every frame is the same.
    assert_ne!(decoded[0], decoded[frames - 1]);

    // ffprobe reads the rewritten file as it read the original, without complaint.
    let rewritten = dir.join("plain.mp4");
    std::fs::write(&rewritten, &plain).unwrap();
    let (plain_frames, plain_seconds) = ffprobe(&rewritten);
    assert_eq!(plain_frames, frames);
    assert!((plain_seconds - seconds).abs() <= 0.1, "{plain_seconds} vs {seconds}");

    // ffmpeg decodes the same pictures from both files: no sample was changed or reordered.
    let decode = |file: &Path| {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(file)
            // Every decoded picture once, whatever the timestamps say about a frame rate.
            .args(["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let pictures = decode(&original);
    assert_eq!(pictures.len(), frames * 320 * 240 * 3);
    assert!(pictures == decode(&rewritten), "ffmpeg decodes different pictures");

    // A second pass has nothing left to do.
    assert!(matches!(normalize_mp4(&plain).unwrap(), Cow::Borrowed(_)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plain_mp4_from_our_encoder_comes_back_borrowed_and_identical() {
    let clip = our_clip(24, 12);
    match normalize_mp4(&clip).unwrap() {
        Cow::Borrowed(same) => {
            assert_eq!(same, clip.as_slice());
            assert_eq!(same.as_ptr(), clip.as_ptr());
        }
        Cow::Owned(_) => panic!("a plain MP4 must not be rewritten"),
    }
}

#[test]
fn avcc_after_other_boxes_is_moved_first_in_a_plain_mp4() {
    // The normalised recording has avcC, pasp, btrt: swap avcC and pasp back, in place.
    let plain = normalize_mp4(CHROMIUM).unwrap().into_owned();
    let avcc = find_box(&plain, b"avcC");
    let pasp = find_box(&plain, b"pasp");
    assert!(avcc < pasp);
    let mut swapped = plain.clone();
    swapped[avcc..pasp + 16].rotate_left(pasp - avcc);
    assert!(find_box(&swapped, b"pasp") < find_box(&swapped, b"avcC"));
    assert!(probe_mp4(&swapped).is_err());

    let fixed = normalize_mp4(&swapped).unwrap();
    assert!(matches!(fixed, Cow::Owned(_)));
    assert_eq!(fixed.as_ref(), plain.as_slice());
}

/// Fragments written by ffmpeg: several `moof`s, with an explicit base data offset in `tfhd` or
/// with `default-base-is-moof`. The rewritten file must hold the very same samples.
#[test]
fn ffmpeg_fragments_come_back_sample_for_sample() {
    let clip = our_clip(36, 6);
    let reference = decode_mp4(&clip).unwrap();
    let dir = temp_dir("ffmpeg");
    let source = dir.join("source.mp4");
    std::fs::write(&source, &clip).unwrap();
    for flags in ["frag_keyframe+empty_moov", "frag_keyframe+empty_moov+default_base_moof"] {
        let target = dir.join("fragmented.mp4");
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&source)
            .args(["-c", "copy", "-movflags", flags])
            .arg(&target)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let fragmented = std::fs::read(&target).unwrap();
        let moofs = top_level(&fragmented).iter().filter(|b| &b.0 == b"moof").count();
        assert!(moofs >= 3, "{flags}: {moofs} fragments");

        let plain = normalize_mp4(&fragmented).unwrap();
        let info = probe_mp4(&plain).unwrap();
        assert_eq!(info.frame_count, 36, "{flags}");
        assert_eq!(info.duration_ms, 3000, "{flags}");
        assert_eq!(decode_mp4(&plain).unwrap(), reference, "{flags}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_recordings_are_refused_without_panicking() {
    let boundaries: Vec<usize> = top_level(CHROMIUM).iter().map(|b| b.2).collect();
    for cut in 0..CHROMIUM.len() {
        let result = normalize_mp4(&CHROMIUM[..cut]);
        // A cut exactly between two top-level boxes may leave a readable file (the index box
        // `mfra` at the end is optional); anywhere else a box is cut short.
        if !boundaries.contains(&cut) {
            assert!(result.is_err(), "cut at {cut} was accepted");
        }
    }
    assert!(normalize_mp4(b"").is_err());
    assert!(normalize_mp4(b"definitely not an mp4 file").is_err());
}

#[test]
fn lying_sizes_and_counts_are_refused() {
    let patched = |at: usize, value: &[u8]| {
        let mut bytes = CHROMIUM.to_vec();
        bytes[at..at + value.len()].copy_from_slice(value);
        bytes
    };
    let moov = find_box(CHROMIUM, b"moov");
    let trun = find_box(CHROMIUM, b"trun");
    let tkhd = find_box(CHROMIUM, b"tkhd");
    let cases = [
        ("moov past the end", patched(moov, &0xffff_fff0u32.to_be_bytes())),
        ("moov smaller than a header", patched(moov, &4u32.to_be_bytes())),
        ("64-bit size past the end", {
            let mut b = patched(moov, &1u32.to_be_bytes());
            b[moov + 8..moov + 16].copy_from_slice(&u64::MAX.to_be_bytes());
            b
        }),
        ("trun past its traf", patched(trun, &0x00ff_ffffu32.to_be_bytes())),
        ("huge sample count", patched(trun + 12, &u32::MAX.to_be_bytes())),
        // Only a data offset: every sample takes the defaults, so the box cannot bound the
        // count; the media data must.
        ("huge count of default samples", {
            let mut b = patched(trun + 8, &[0, 0, 0, 1]);
            b[trun + 12..trun + 16].copy_from_slice(&0x0100_0000u32.to_be_bytes());
            b
        }),
        ("data offset outside the file", patched(trun + 16, &0x7fff_fff0u32.to_be_bytes())),
        ("fragment of an unknown track", patched(tkhd + 8 + 20, &7u32.to_be_bytes())),
    ];
    for (name, bytes) in cases {
        let err = normalize_mp4(&bytes).expect_err(name);
        eprintln!("{name}: {err}");
    }
}

#[test]
fn corrupted_recordings_never_panic() {
    // Deterministic xorshift: flip bytes in the headers (ftyp, moov, moof) and see no panic.
    let header_end = find_box(CHROMIUM, b"mdat");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut refused = 0;
    for _ in 0..3000 {
        let mut bytes = CHROMIUM.to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() % header_end as u64) as usize;
            bytes[at] ^= 1 << (next() % 8);
        }
        if normalize_mp4(&bytes).is_err() {
            refused += 1;
        }
    }
    eprintln!("{refused} of 3000 corrupted files refused");
}

/// Packet timing of the first video stream as ffprobe reads it, in decode order: presentation
/// and decode times relative to the first packet's (players may start the timeline at a
/// different origin when offsets are negative), and whether the packet is a keyframe.
fn packet_times(file: &Path) -> Vec<(i64, i64, bool)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "packet=pts,dts,flags", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let packets: Vec<(i64, i64, bool)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].starts_with('K'))
        })
        .collect();
    let (pts0, dts0) = (packets[0].0, packets[0].1);
    packets.into_iter().map(|(p, d, k)| (p - pts0, d - dts0, k)).collect()
}

/// B-frames (libx264): composition offsets in the `trun`s, unsigned (version 0) and signed
/// (version 1), must come out as a `ctts` giving every frame the same presentation time.
#[test]
fn bframe_composition_offsets_survive() {
    let dir = temp_dir("bframes");
    let source = dir.join("source.mp4");
    std::fs::write(&source, our_clip(36, 36)).unwrap();
    for flags in ["frag_keyframe+empty_moov", "frag_keyframe+empty_moov+negative_cts_offsets"] {
        let fragmented = dir.join("fragmented.mp4");
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&source)
            .args(["-c:v", "libx264", "-bf", "2", "-g", "12", "-movflags", flags])
            .arg(&fragmented)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let plain = normalize_mp4(&std::fs::read(&fragmented).unwrap()).unwrap().into_owned();
        assert!(plain.windows(4).any(|w| w == b"ctts"), "{flags}: no ctts");
        let rewritten = dir.join("plain.mp4");
        std::fs::write(&rewritten, &plain).unwrap();

        let before = packet_times(&fragmented);
        assert_eq!(before.len(), 36, "{flags}");
        assert_eq!(packet_times(&rewritten), before, "{flags}");
        assert_eq!(ffprobe(&rewritten).0, 36, "{flags}");
        assert_eq!(probe_mp4(&plain).unwrap().frame_count, 36, "{flags}");
        assert_eq!(decode_mp4(&plain).unwrap().len(), 36, "{flags}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
