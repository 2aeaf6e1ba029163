#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
//! End-to-end checks of the media crate: a real encode → probe → decode round trip, ffprobe's
//! opinion of the file, thumbnails, refusals, and the local MediaStore.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use media::{EncodeOptions, MediaError, MediaStore, decode_mp4, encode_mp4, is_faststart, probe_mp4, thumbnail_jpeg};

const SIZE: usize = 512;
const FRAMES: usize = 48;
const FPS: u32 = 12;

/// A diagonal gradient that drifts each frame, with a white square moving across it.
fn synthetic_clip(width: usize, height: usize, frames: usize) -> Vec<Vec<u8>> {
    (0..frames)
        .map(|t| {
            let mut rgb = vec![0u8; width * height * 3];
            let (sq_x, sq_y, sq_side) = (16 + t * 8, 64 + t * 4, 96);
            for y in 0..height {
                for x in 0..width {
                    let i = (y * width + x) * 3;
                    let inside = (sq_x..sq_x + sq_side).contains(&x) && (sq_y..sq_y + sq_side).contains(&y);
                    if inside {
                        rgb[i..i + 3].copy_from_slice(&[240, 240, 240]);
                    } else {
                        rgb[i] = ((x + t * 4) * 255 / (width + FRAMES * 4)) as u8;
                        rgb[i + 1] = (y * 255 / height) as u8;
                        rgb[i + 2] = (((x + y) / 2 + t * 2) % 256) as u8 / 2 + 40;
                    }
                }
            }
            rgb
        })
        .collect()
}

fn options() -> EncodeOptions {
    EncodeOptions { fps: FPS, bitrate_kbps: 4000, keyframe_interval: FPS * 2 }
}

fn mean_abs_error(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let total: u64 = a.iter().zip(b).map(|(&x, &y)| u64::from(x.abs_diff(y))).sum();
    total as f64 / a.len() as f64
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("media-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn encode_probe_decode_round_trip() {
    let source = synthetic_clip(SIZE, SIZE, FRAMES);
    let video = encode_mp4(SIZE, SIZE, &source, &options()).unwrap();
    let secs = video.timings.encode.as_secs_f64();
    eprintln!(
        "encoded {FRAMES} frames {SIZE}x{SIZE}: {} bytes, encode {:.1} ms ({:.1} fps), mux {:.2} ms",
        video.mp4.len(),
        secs * 1000.0,
        FRAMES as f64 / secs,
        video.timings.mux.as_secs_f64() * 1000.0,
    );
    assert_eq!(video.frame_count, FRAMES);
    assert_eq!(video.duration_ms, 4000);
    assert_eq!((video.width, video.height), (SIZE, SIZE));
    assert_eq!(&video.mp4[4..8], b"ftyp");
    assert!(is_faststart(&video.mp4), "moov must precede mdat");
    // 4000 kbps for 4 s is ~2 MB at most; an almost empty file would mean blank frames.
    assert!(video.mp4.len() > 20_000 && video.mp4.len() < 4_000_000, "{} bytes", video.mp4.len());

    let info = probe_mp4(&video.mp4).unwrap();
    assert_eq!((info.width, info.height), (SIZE, SIZE));
    assert_eq!(info.frame_count, FRAMES);
    assert_eq!(info.duration_ms, 4000);
    assert!((info.fps - 12.0).abs() < 1e-9, "fps {}", info.fps);

    let decoded = decode_mp4(&video.mp4).unwrap();
    assert_eq!(decoded.len(), FRAMES);
    let mut worst = 0.0f64;
    for (index, (got, want)) in decoded.iter().zip(&source).enumerate() {
        assert_eq!(got.len(), SIZE * SIZE * 3, "frame {index}");
        let mae = mean_abs_error(got, want);
        worst = worst.max(mae);
        assert!(mae < 12.0, "frame {index}: mean absolute error {mae:.2}");
    }
    eprintln!("worst per-frame mean absolute error: {worst:.2}");

    // Frames must come back in order: each decoded frame is closest to its own source frame.
    let mid = FRAMES / 2;
    let own = mean_abs_error(&decoded[mid], &source[mid]);
    let neighbour = mean_abs_error(&decoded[mid], &source[mid + 6]);
    assert!(own < neighbour, "frame {mid}: own {own:.2} vs later {neighbour:.2}");
}

#[test]
fn ffprobe_reads_the_mp4() {
    let found = Command::new("which").arg("ffprobe").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "ffprobe is not on PATH: run scripts/setup.sh (it installs ffmpeg) and test again");

    let source = synthetic_clip(SIZE, SIZE, FRAMES);
    let video = encode_mp4(SIZE, SIZE, &source, &options()).unwrap();
    let dir = temp_dir("ffprobe");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("clip.mp4");
    std::fs::write(&file, &video.mp4).unwrap();

    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffprobe failed: {stderr}");
    assert!(stderr.trim().is_empty(), "ffprobe complained: {stderr}");
    let compact: String = stdout.split_whitespace().collect();
    for field in [r#""codec_name":"h264""#, r#""width":512"#, r#""height":512"#, r#""nb_read_frames":"48""#] {
        assert!(compact.contains(field), "missing {field} in {stdout}");
    }

    // ffmpeg's own decode + colour conversion must give back the source colours: this catches a
    // wrong colour matrix or range in the stream's VUI, which our own decoder would not notice.
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&out.stderr));
    let frame_len = SIZE * SIZE * 3;
    assert_eq!(out.stdout.len(), frame_len * FRAMES);
    for (index, (got, want)) in out.stdout.chunks(frame_len).zip(&source).enumerate() {
        let mae = mean_abs_error(got, want);
        assert!(mae < 12.0, "ffmpeg frame {index}: mean absolute error {mae:.2}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_refused_with_clear_errors() {
    let opts = options();
    let frame = |w: usize, h: usize| vec![0u8; w * h * 3];

    let odd = encode_mp4(63, 64, &[frame(63, 64)], &opts).unwrap_err();
    assert!(matches!(odd, MediaError::InvalidDimensions { width: 63, height: 64, .. }), "{odd}");
    assert!(odd.to_string().contains("even"), "{odd}");
    assert!(matches!(encode_mp4(64, 0, &[], &opts), Err(MediaError::InvalidDimensions { .. })));

    assert!(matches!(encode_mp4(64, 64, &[], &opts), Err(MediaError::NoFrames)));

    let frames = vec![frame(64, 64), frame(64, 64), vec![0u8; 64 * 64 * 3 - 1]];
    let err = encode_mp4(64, 64, &frames, &opts).unwrap_err();
    assert!(matches!(err, MediaError::FrameSize { index: 2, expected: 12288, actual: 12287 }), "{err}");

    let zero_fps = EncodeOptions { fps: 0, ..opts };
    assert!(matches!(
        encode_mp4(64, 64, &[frame(64, 64)], &zero_fps),
        Err(MediaError::InvalidOption { name: "fps", .. })
    ));
}

#[test]
fn small_odd_aspect_clip_round_trips() {
    // Not a multiple of 16: the encoder pads internally and the decoder must crop back.
    let (w, h) = (100, 60);
    let source = synthetic_clip(w, h, 5);
    let opts = EncodeOptions { fps: 25, bitrate_kbps: 2000, keyframe_interval: 2 };
    let video = encode_mp4(w, h, &source, &opts).unwrap();
    assert_eq!(video.duration_ms, 200);
    let info = probe_mp4(&video.mp4).unwrap();
    assert_eq!((info.width, info.height, info.frame_count), (w, h, 5));
    let decoded = decode_mp4(&video.mp4).unwrap();
    assert_eq!(decoded.len(), 5);
    assert!(decoded.iter().all(|f| f.len() == w * h * 3));
}

/// Re-encodes `input` with ffmpeg's libx264 (CRF 28 plus `extra` arguments) and returns the new
/// MP4 together with ffmpeg's own decode of it, one packed RGB buffer per frame.
fn reencode_with_libx264(dir: &std::path::Path, name: &str, extra: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let output = dir.join(format!("{name}.mp4"));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(dir.join("ours.mp4"))
        .args(["-c:v", "libx264", "-crf", "28"])
        .args(extra)
        .arg(&output)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg {name} failed: {}", String::from_utf8_lossy(&out.stderr));
    let reference = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&output)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(reference.status.success(), "ffmpeg decode of {name} failed");
    (std::fs::read(&output).unwrap(), reference.stdout)
}

#[test]
fn decodes_clips_reencoded_by_ffmpeg_libx264() {
    // libx264's default (High profile, CABAC, B-frames with a B-pyramid) stores frames in decode
    // order; decode_mp4 must hand them back complete and in presentation order, like ffmpeg does.
    let (size, frames) = (256, 24);
    let source = synthetic_clip(size, size, frames);
    let video = encode_mp4(size, size, &source, &options()).unwrap();
    let dir = temp_dir("libx264");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ours.mp4"), &video.mp4).unwrap();

    let variants: [(&str, &[&str], usize); 3] = [
        ("default", &[], size),
        ("half", &["-vf", "scale=iw/2:ih/2"], size / 2),
        ("baseline", &["-profile:v", "baseline"], size),
    ];
    for (name, extra, side) in variants {
        let (mp4, reference) = reencode_with_libx264(&dir, name, extra);
        let info = probe_mp4(&mp4).unwrap();
        assert_eq!((info.width, info.height), (side, side), "{name}");
        assert_eq!(info.frame_count, frames, "{name}");

        let decoded = decode_mp4(&mp4).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.len(), frames, "{name}");
        let frame_len = side * side * 3;
        assert_eq!(reference.len(), frame_len * frames, "{name}");
        let reference: Vec<&[u8]> = reference.chunks(frame_len).collect();
        for (index, got) in decoded.iter().enumerate() {
            assert_eq!(got.len(), frame_len, "{name} frame {index}");
            // Same pixels as ffmpeg's decode (only the YUV→RGB rounding may differ) ...
            let own = mean_abs_error(got, reference[index]);
            assert!(own < 3.0, "{name} frame {index}: mean absolute error {own:.2}");
            // ... and in the same order: closer to its own frame than to either neighbour.
            for other in [index.wrapping_sub(1), index + 1] {
                if let Some(neighbour) = reference.get(other) {
                    let theirs = mean_abs_error(got, neighbour);
                    assert!(own < theirs, "{name} frame {index}: own {own:.2} vs frame {other} {theirs:.2}");
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn thumbnail_is_a_jpeg_within_max_side() {
    let (w, h) = (512, 288);
    let rgb = synthetic_clip(w, h, 1).remove(0);
    let jpeg = thumbnail_jpeg(w, h, &rgb, 256).unwrap();
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF], "JPEG SOI marker");
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "JPEG EOI marker");
    let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (256, 144));

    // Already small enough: kept at its own size.
    let small = thumbnail_jpeg(w, h, &rgb, 1024).unwrap();
    let decoded = image::load_from_memory(&small).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (512, 288));

    assert!(matches!(thumbnail_jpeg(w, h, &rgb[1..], 256), Err(MediaError::FrameSize { .. })));
    assert!(matches!(thumbnail_jpeg(0, h, &[], 256), Err(MediaError::InvalidDimensions { .. })));
    assert!(matches!(thumbnail_jpeg(w, h, &rgb, 0), Err(MediaError::InvalidOption { .. })));
}

#[tokio::test]
async fn local_store_round_trip() {
    let base = temp_dir("store");
    let root = base.join("nested/root");
    let store = MediaStore::local(&root).unwrap();
    assert!(root.is_dir(), "local() creates the folder");

    let key = "videos/0190b1c2-7d3e-7000-8000-000000000000.mp4";
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    assert!(!store.exists(key).await.unwrap());
    store.put(key, body.clone(), "video/mp4").await.unwrap();
    assert!(root.join("videos").join("0190b1c2-7d3e-7000-8000-000000000000.mp4").is_file());

    assert!(store.exists(key).await.unwrap());
    assert_eq!(store.size(key).await.unwrap(), 10_000);
    assert_eq!(store.get(key).await.unwrap(), body);
    assert_eq!(store.get_range(key, 100..356).await.unwrap(), &body[100..356]);
    // A range past the end is cut at the end.
    assert_eq!(store.get_range(key, 9_990..20_000).await.unwrap(), &body[9_990..]);
    assert!(matches!(store.get_range(key, 50..50).await, Err(MediaError::BadRange { .. })));

    // Overwrite replaces.
    store.put(key, b"short".to_vec(), "video/mp4").await.unwrap();
    assert_eq!(store.get(key).await.unwrap(), b"short");

    assert_eq!(store.presigned_get_url(key, Duration::from_secs(60)).await.unwrap(), None);

    store.delete(key).await.unwrap();
    assert!(!store.exists(key).await.unwrap());
    store.delete(key).await.unwrap();
    common::a_folder_is_deleted_alone(&store).await;
    common::a_folder_is_listed_in_chunks(&store).await;

    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test]
async fn local_store_refuses_bad_keys_and_reports_missing_ones() {
    let root = temp_dir("store-errors");
    let store = MediaStore::local(&root).unwrap();

    for key in ["../escape.mp4", "/etc/passwd", "videos/a b.mp4", "videos/x;rm.mp4", ""] {
        let err = store.put(key, vec![1, 2, 3], "video/mp4").await.unwrap_err();
        assert!(matches!(err, MediaError::BadKey { .. }), "{key:?}: {err}");
        assert!(matches!(store.get(key).await, Err(MediaError::BadKey { .. })), "{key:?}");
    }
    assert!(!root.parent().unwrap().join("escape.mp4").exists());

    let missing = "videos/missing.mp4";
    match store.get(missing).await {
        Err(MediaError::NotFound { key }) => assert_eq!(key, missing),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(store.size(missing).await, Err(MediaError::NotFound { .. })));
    assert!(matches!(store.get_range(missing, 0..10).await, Err(MediaError::NotFound { .. })));

    std::fs::remove_dir_all(&root).unwrap();
}
