//! Watermark behaviour: the visible mark's placement and the invisible mark's round trips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use moderation::watermark::{
    self, CODED_BITS, Corner, WatermarkError, coded_bits, corner_at, detect, draw_visible, draw_visible_from, embed,
    label_size,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const KEY: &[u8] = b"test-watermark-key";

/// Natural-ish clip: a diagonal gradient, a static noise texture, a moving disc and a little
/// per-frame sensor noise.
fn clip(width: usize, height: usize, frames: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let texture: Vec<f32> = (0..width * height).map(|_| rng.random_range(-12.0..12.0)).collect();
    let hue: [f32; 3] = [rng.random_range(0.6..1.0), rng.random_range(0.6..1.0), rng.random_range(0.6..1.0)];
    (0..frames)
        .map(|t| {
            let cx = (width as f32) * (0.2 + 0.6 * ((t as f32) * 0.05).sin().abs());
            let cy = (height as f32) * (0.3 + 0.4 * ((t as f32) * 0.03).cos().abs());
            let radius = (width.min(height) as f32) * 0.15;
            let mut frame = Vec::with_capacity(width * height * 3);
            for y in 0..height {
                for x in 0..width {
                    let base = 40.0 + 160.0 * ((x + y) as f32) / ((width + height) as f32);
                    let dist = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                    let disc = if dist < radius { 50.0 } else { 0.0 };
                    let noise = rng.random_range(-2.0..2.0);
                    for h in hue {
                        let v = base * h + disc + texture[y * width + x] + noise;
                        frame.push(v.clamp(0.0, 255.0) as u8);
                    }
                }
            }
            frame
        })
        .collect()
}

fn psnr(a: &[Vec<u8>], b: &[Vec<u8>]) -> f64 {
    let (mut sum, mut count) = (0.0f64, 0usize);
    for (fa, fb) in a.iter().zip(b) {
        for (&x, &y) in fa.iter().zip(fb) {
            let d = f64::from(x) - f64::from(y);
            sum += d * d;
            count += 1;
        }
    }
    10.0 * (255.0f64 * 255.0 / (sum / count as f64)).log10()
}

fn raw_bit_accuracy(bits: &[f32], payload: u64) -> f64 {
    let expected = coded_bits(payload);
    let right = bits.iter().zip(&expected).filter(|&(&s, &e)| (s > 0.0) == e).count();
    right as f64 / expected.len() as f64
}

/// Box-filter 2:1 downscale, as a stand-in for a player or re-encoder halving the size.
fn halve(frames: &[Vec<u8>], width: usize, height: usize) -> Vec<Vec<u8>> {
    let (w2, h2) = (width / 2, height / 2);
    frames
        .iter()
        .map(|f| {
            let mut out = Vec::with_capacity(w2 * h2 * 3);
            for y in 0..h2 {
                for x in 0..w2 {
                    for c in 0..3 {
                        let at = |dx: usize, dy: usize| u32::from(f[((2 * y + dy) * width + 2 * x + dx) * 3 + c]);
                        out.push(((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8);
                    }
                }
            }
            out
        })
        .collect()
}

// ---------- visible ----------

/// Bounding box (x0, y0, x1, y1) of pixels that differ between two frames.
fn changed_box(a: &[u8], b: &[u8], width: usize) -> Option<(usize, usize, usize, usize)> {
    let mut bbox: Option<(usize, usize, usize, usize)> = None;
    for (i, (pa, pb)) in a.chunks_exact(3).zip(b.chunks_exact(3)).enumerate() {
        if pa != pb {
            let (x, y) = (i % width, i / width);
            bbox = Some(match bbox {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
    }
    bbox
}

#[test]
fn a_clip_marked_a_run_at_a_time_is_marked_as_one_marked_whole() {
    let (width, height, fps) = (64, 64, 12);
    let original: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i.wrapping_mul(4); width * height * 3]).collect();
    let mut whole = original.clone();
    draw_visible(&mut whole, width, height, fps, "nora_k").unwrap();
    let mut runs = original;
    let mut first = 0;
    // Runs that straddle the two-second corner changes.
    for len in [7, 20, 1, 32] {
        draw_visible_from(&mut runs[first..first + len], first, width, height, fps, "nora_k").unwrap();
        first += len;
    }
    assert_eq!(runs, whole);
}

#[test]
fn visible_mark_sits_in_one_corner_and_moves_clockwise_every_two_seconds() {
    let (width, height, fps) = (384, 640, 12);
    let original = vec![vec![128u8; width * height * 3]; 96];
    let mut frames = original.clone();
    draw_visible(&mut frames, width, height, fps, "nora_k").unwrap();
    let (label_w, label_h) = label_size("nora_k");
    let expected = [Corner::TopLeft, Corner::TopRight, Corner::BottomRight, Corner::BottomLeft];
    for (index, frame) in frames.iter().enumerate() {
        let corner = corner_at(index, fps);
        assert_eq!(corner, expected[(index / 24) % 4], "frame {index}");
        let (x0, y0, x1, y1) = changed_box(&original[index], frame, width).expect("mark drawn");
        // Entirely inside the expected quadrant, near its edges, and no larger than the label.
        let (left, top) = (x0 < width / 2, y0 < height / 2);
        let want = match corner {
            Corner::TopLeft => (true, true),
            Corner::TopRight => (false, true),
            Corner::BottomRight => (false, false),
            Corner::BottomLeft => (true, false),
        };
        assert_eq!((left, top), want, "frame {index} box {:?}", (x0, y0, x1, y1));
        assert_eq!(x1 < width / 2, left);
        assert_eq!(y1 < height / 2, top);
        assert!(x1 - x0 < label_w && y1 - y0 < label_h);
        let edge_gap = match corner {
            Corner::TopLeft => x0.max(y0),
            Corner::TopRight => (width - 1 - x1).max(y0),
            Corner::BottomRight => (width - 1 - x1).max(height - 1 - y1),
            Corner::BottomLeft => x0.max(height - 1 - y1),
        };
        assert!(edge_gap <= 16, "frame {index}: {edge_gap} px from the corner");
    }
    // Both white fill and dark outline are present, so it reads on any background.
    let (brighter, darker) =
        frames[0].iter().fold((0, 0), |(b, d), &v| (b + usize::from(v > 128), d + usize::from(v < 128)));
    assert!(brighter > 100 && darker > 100, "{brighter} {darker}");
}

#[test]
fn visible_mark_replaces_non_ascii_with_question_marks() {
    let (width, height) = (640, 384);
    let draw = |name: &str| {
        let mut frames = vec![vec![90u8; width * height * 3]];
        draw_visible(&mut frames, width, height, 12, name).unwrap();
        frames.remove(0)
    };
    assert_eq!(draw("zoë"), draw("zo?"));
    assert_ne!(draw("zoe"), draw("zo?"));
    // Lower case uses the capital glyphs rather than being dropped.
    assert_eq!(draw("abc"), draw("ABC"));
}

#[test]
fn visible_mark_is_cut_to_fit_and_rejects_bad_input() {
    let long = "x".repeat(200);
    let mut frames = vec![vec![0u8; 64 * 64 * 3]];
    draw_visible(&mut frames, 64, 64, 12, &long).unwrap();
    assert!(frames[0].iter().any(|&v| v != 0));
    assert_eq!(draw_visible(&mut frames, 64, 64, 0, "a"), Err(WatermarkError::InvalidFps));
    assert_eq!(
        draw_visible(&mut frames, 32, 64, 12, "a"),
        Err(WatermarkError::InvalidDimensions { width: 32, height: 64, min: 64 })
    );
    let mut short = vec![vec![0u8; 10]];
    assert!(matches!(draw_visible(&mut short, 64, 64, 12, "a"), Err(WatermarkError::FrameSize { index: 0, .. })));
}

// ---------- invisible ----------

#[test]
fn invisible_mark_round_trips_on_raw_frames_and_keeps_psnr_above_38_db() {
    for (width, height) in [(384, 640), (640, 384), (512, 512)] {
        let original = clip(width, height, 12, width as u64);
        let mut marked = original.clone();
        let payload = 0x1234_5678_9ABC_DEF0 ^ width as u64;
        embed(&mut marked, width, height, payload, KEY).unwrap();
        let quality = psnr(&original, &marked);
        assert!(quality >= 38.0, "{width}x{height}: PSNR {quality:.2} dB");

        let found = detect(&marked, width, height, KEY).unwrap();
        assert_eq!(found.payload, Some(payload), "{width}x{height}");
        assert_eq!(found.bits.len(), CODED_BITS);
        assert!(raw_bit_accuracy(&found.bits, payload) >= 0.99);
        assert!(found.confidence > 0.8, "{}", found.confidence);
    }
}

#[test]
fn invisible_mark_survives_a_2_to_1_downscale() {
    let (width, height) = (640, 384);
    let mut frames = clip(width, height, 24, 7);
    let payload = 0xFEED_FACE_CAFE_BEEF;
    embed(&mut frames, width, height, payload, KEY).unwrap();
    let small = halve(&frames, width, height);
    let found = detect(&small, width / 2, height / 2, KEY).unwrap();
    assert_eq!(found.payload, Some(payload));
    assert!(raw_bit_accuracy(&found.bits, payload) >= 0.95);
}

#[test]
fn invisible_mark_survives_h264_encode_and_decode() {
    let (width, height) = (384, 640);
    let mut frames = clip(width, height, 24, 11);
    let payload = 0x0BAD_C0DE_5EED_0001;
    embed(&mut frames, width, height, payload, KEY).unwrap();
    let mp4 = media::encode_mp4(
        width,
        height,
        &frames,
        &media::EncodeOptions { fps: 12, bitrate_kbps: 4000, keyframe_interval: 24 },
    )
    .unwrap();
    let decoded = media::decode_mp4(&mp4.mp4).unwrap();
    assert_eq!(decoded.len(), frames.len());
    let found = detect(&decoded, width, height, KEY).unwrap();
    let accuracy = raw_bit_accuracy(&found.bits, payload);
    assert!(accuracy >= 0.95, "raw bit accuracy {accuracy:.3}");
    assert_eq!(found.payload, Some(payload));

    // The wrong key reads noise from the very same decoded clip.
    let wrong = detect(&decoded, width, height, b"another-key").unwrap();
    assert_eq!(wrong.payload, None);
    assert!(wrong.confidence < watermark::MIN_CONFIDENCE);
}

#[test]
fn wrong_key_and_unmarked_clips_give_no_payload() {
    let (width, height) = (512, 512);
    let original = clip(width, height, 12, 3);
    let mut marked = original.clone();
    embed(&mut marked, width, height, 42, KEY).unwrap();
    assert_eq!(detect(&marked, width, height, KEY).unwrap().payload, Some(42));
    for key in [&b"other"[..], b"", b"test-watermark-kez"] {
        let found = detect(&marked, width, height, key).unwrap();
        assert_eq!(found.payload, None, "key {key:?}");
    }
    for seed in 100..110 {
        let unmarked = clip(width, height, 6, seed);
        let found = detect(&unmarked, width, height, KEY).unwrap();
        assert_eq!(found.payload, None, "seed {seed}");
        assert!(found.confidence < watermark::MIN_CONFIDENCE);
    }
}

#[test]
fn different_payloads_and_keys_give_different_patterns() {
    let (width, height) = (512, 512);
    let base = vec![vec![128u8; width * height * 3]; 1];
    let mark = |payload: u64, key: &[u8]| {
        let mut frames = base.clone();
        embed(&mut frames, width, height, payload, key).unwrap();
        frames.remove(0)
    };
    assert_eq!(mark(1, KEY), mark(1, KEY));
    assert_ne!(mark(1, KEY), mark(2, KEY));
    assert_ne!(mark(1, KEY), mark(1, b"k2"));
    // Bounded change: luma offset at most the peak amplitude.
    let delta = mark(1, KEY).iter().map(|&v| (i16::from(v) - 128).unsigned_abs()).max().unwrap();
    assert!(f32::from(delta) <= watermark::PEAK_AMPLITUDE.ceil());
}

#[test]
fn invisible_mark_rejects_malformed_input() {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    assert_eq!(embed(&mut frames, 128, 128, 1, KEY), Err(WatermarkError::NoFrames));
    let frames = vec![vec![0u8; 128 * 128 * 3], vec![0u8; 5]];
    assert!(matches!(detect(&frames, 128, 128, KEY), Err(WatermarkError::FrameSize { index: 1, .. })));
    assert!(matches!(detect(&frames, 0, 128, KEY), Err(WatermarkError::InvalidDimensions { .. })));
}

#[test]
fn payload_is_a_stable_function_of_the_video_id() {
    let a = moderation::watermark::payload_for_video(&[1; 16]);
    assert_eq!(a, moderation::watermark::payload_for_video(&[1; 16]));
    assert_ne!(a, moderation::watermark::payload_for_video(&[2; 16]));
}

#[test]
fn watermark_key_is_created_once_and_then_read_back() {
    let dir = std::env::temp_dir().join(format!("wm-key-{}", std::process::id()));
    let path = dir.join("keys").join("watermark.key");
    let _ = std::fs::remove_dir_all(&dir);
    let first = moderation::watermark::load_or_create_key(&path).unwrap();
    assert_eq!(first.len(), moderation::watermark::KEY_BYTES);
    assert_eq!(moderation::watermark::load_or_create_key(&path).unwrap(), first);
    std::fs::write(&path, "not hex").unwrap();
    assert!(moderation::watermark::load_or_create_key(&path).is_err());
    assert!(moderation::watermark::parse_key(&"ab".repeat(32)).is_some());
    assert!(moderation::watermark::parse_key(&"ab".repeat(31)).is_none());
    let _ = std::fs::remove_dir_all(&dir);
}
