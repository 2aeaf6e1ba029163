//! Robustness of the invisible watermark against real re-encodes, and its false-positive rate.
//!
//! For `WM_CLIPS` (default 10) synthetic clips with random payloads: embed → H.264 via the media
//! crate → `ffmpeg` libx264 CRF 28 (same size, and 50% downscale) → decode → detect. Then detect
//! on `WM_UNMARKED` (default 50) unmarked clips and on every decoded marked clip with a wrong
//! key. `WM_FRAMES` (default 36) sets the clip length. Needs `ffmpeg` on the PATH.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use moderation::watermark::{self, Detection, coded_bits, decode_soft_bits, detect, embed};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const KEY: &[u8] = b"bench-watermark-key";
const WRONG_KEY: &[u8] = b"bench-wrong-key";
const FPS: u32 = 12;
const SIZES: [(usize, usize); 3] = [(384, 640), (640, 384), (512, 512)];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A clip with a random gradient, static texture, moving discs and boxes, and sensor noise.
fn synthetic_clip(width: usize, height: usize, frames: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let texture_strength: f32 = rng.random_range(0.0..20.0);
    let texture: Vec<f32> = (0..width * height).map(|_| rng.random_range(-1.0..1.0) * texture_strength).collect();
    let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
    let (gx, gy) = (angle.cos(), angle.sin());
    let base: [f32; 3] = std::array::from_fn(|_| rng.random_range(30.0..120.0));
    let span: [f32; 3] = std::array::from_fn(|_| rng.random_range(40.0..120.0));
    struct Shape {
        x: f32,
        y: f32,
        vx: f32,
        vy: f32,
        size: f32,
        disc: bool,
        colour: [f32; 3],
    }
    let mut shapes: Vec<Shape> = (0..rng.random_range(2..6))
        .map(|_| Shape {
            x: rng.random_range(0.0..width as f32),
            y: rng.random_range(0.0..height as f32),
            vx: rng.random_range(-6.0..6.0),
            vy: rng.random_range(-6.0..6.0),
            size: rng.random_range(20.0..90.0),
            disc: rng.random(),
            colour: std::array::from_fn(|_| rng.random_range(0.0..255.0)),
        })
        .collect();
    let diag = (width * width + height * height) as f32;
    (0..frames)
        .map(|_| {
            let mut frame = Vec::with_capacity(width * height * 3);
            for y in 0..height {
                for x in 0..width {
                    let t = ((x as f32) * gx * width as f32 + (y as f32) * gy * height as f32) / diag + 0.5;
                    let inside = shapes.iter().rev().find(|s| {
                        let (dx, dy) = (x as f32 - s.x, y as f32 - s.y);
                        if s.disc {
                            dx * dx + dy * dy < s.size * s.size
                        } else {
                            dx.abs() < s.size && dy.abs() < s.size * 0.6
                        }
                    });
                    let noise = rng.random_range(-2.0f32..2.0);
                    for c in 0..3 {
                        let v = match inside {
                            Some(s) => s.colour[c],
                            None => base[c] + span[c] * t,
                        } + texture[y * width + x]
                            + noise;
                        frame.push(v.clamp(0.0, 255.0) as u8);
                    }
                }
            }
            for s in &mut shapes {
                s.x = (s.x + s.vx).rem_euclid(width as f32);
                s.y = (s.y + s.vy).rem_euclid(height as f32);
            }
            frame
        })
        .collect()
}

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg").args(["-y", "-loglevel", "error"]).args(args).status().expect("ffmpeg on PATH");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// Decodes with the media crate, falling back to ffmpeg when openh264 cannot read the file.
fn decode(path: &Path, width: usize, height: usize, fallbacks: &mut usize) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    if let Ok(frames) = media::decode_mp4(&bytes)
        && !frames.is_empty()
        && frames.iter().all(|f| f.len() == width * height * 3)
    {
        return frames;
    }
    *fallbacks += 1;
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg on PATH");
    assert!(out.status.success());
    out.stdout.chunks_exact(width * height * 3).map(<[u8]>::to_vec).collect()
}

#[derive(Default)]
struct Tally {
    raw_correct: usize,
    raw_total: usize,
    payload_bit_correct: usize,
    recovered: usize,
    wrong_payload: usize,
    clips: usize,
    min_raw: f64,
    confidence: f64,
}

impl Tally {
    fn add(&mut self, found: &Detection, payload: u64) {
        let expected = coded_bits(payload);
        let right = found.bits.iter().zip(&expected).filter(|&(&s, &e)| (s > 0.0) == e).count();
        if self.clips == 0 {
            self.min_raw = 1.0;
        }
        self.min_raw = self.min_raw.min(right as f64 / expected.len() as f64);
        self.raw_correct += right;
        self.raw_total += expected.len();
        self.payload_bit_correct += 64 - (found.best_guess ^ payload).count_ones() as usize;
        self.recovered += usize::from(found.payload == Some(payload));
        self.wrong_payload += usize::from(matches!(found.payload, Some(p) if p != payload));
        self.confidence += found.confidence;
        self.clips += 1;
    }

    fn row(&self, name: &str) {
        println!(
            "| {name:<28} | {:>8.2}% | {:>8.2}% | {:>8.2}% | {:>3}/{:<3} | {:>5} | {:>5.3} |",
            100.0 * self.raw_correct as f64 / self.raw_total.max(1) as f64,
            100.0 * self.min_raw,
            100.0 * self.payload_bit_correct as f64 / (64 * self.clips.max(1)) as f64,
            self.recovered,
            self.clips,
            self.wrong_payload,
            self.confidence / self.clips.max(1) as f64,
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let clips = env_usize("WM_CLIPS", 10);
    let unmarked = env_usize("WM_UNMARKED", 50);
    let frame_count = env_usize("WM_FRAMES", 36);
    let dir: PathBuf = std::env::temp_dir().join(format!("wm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5EED);

    let (mut openh264, mut crf28, mut half) = (Tally::default(), Tally::default(), Tally::default());
    let (mut embed_time, mut detect_time, mut detect_runs) = (Duration::ZERO, Duration::ZERO, 0u32);
    let (mut wrong_key_trials, mut wrong_key_hits) = (0usize, 0usize);
    let mut fallbacks = 0usize;
    let mut psnr_min = f64::INFINITY;

    for clip in 0..clips {
        let (width, height) = SIZES[clip % SIZES.len()];
        let payload: u64 = rng.random();
        let original = synthetic_clip(width, height, frame_count, 1000 + clip as u64);
        let mut frames = original.clone();
        let started = Instant::now();
        embed(&mut frames, width, height, payload, KEY).unwrap();
        embed_time += started.elapsed();
        psnr_min = psnr_min.min(psnr(&original, &frames));

        let mp4 = media::encode_mp4(
            width,
            height,
            &frames,
            &media::EncodeOptions { fps: FPS, bitrate_kbps: 4000, keyframe_interval: 24 },
        )
        .unwrap();
        let source = dir.join(format!("clip{clip}.mp4"));
        std::fs::write(&source, &mp4.mp4).unwrap();
        let same = dir.join(format!("clip{clip}-crf28.mp4"));
        let small = dir.join(format!("clip{clip}-half.mp4"));
        let src = source.to_str().unwrap();
        ffmpeg(
            &["-i", src, "-c:v", "libx264", "-crf", "28", "-pix_fmt", "yuv420p"]
                .iter()
                .copied()
                .chain([same.to_str().unwrap()])
                .collect::<Vec<_>>(),
        );
        ffmpeg(&[
            "-i",
            src,
            "-vf",
            "scale=iw/2:ih/2",
            "-c:v",
            "libx264",
            "-crf",
            "28",
            "-pix_fmt",
            "yuv420p",
            small.to_str().unwrap(),
        ]);

        let variants = [
            (&mut openh264, media::decode_mp4(&mp4.mp4).unwrap(), width, height),
            (&mut crf28, decode(&same, width, height, &mut fallbacks), width, height),
            (&mut half, decode(&small, width / 2, height / 2, &mut fallbacks), width / 2, height / 2),
        ];
        for (tally, decoded, w, h) in variants {
            let started = Instant::now();
            let found = detect(&decoded, w, h, KEY).unwrap();
            detect_time += started.elapsed();
            detect_runs += 1;
            tally.add(&found, payload);
            let wrong = detect(&decoded, w, h, WRONG_KEY).unwrap();
            wrong_key_trials += 1;
            wrong_key_hits += usize::from(wrong.payload.is_some());
        }
        for path in [&source, &same, &small] {
            let _ = std::fs::remove_file(path);
        }
        eprintln!("clip {}/{clips} done", clip + 1);
    }
    let _ = std::fs::remove_dir(&dir);

    let mut unmarked_hits = 0usize;
    let mut unmarked_conf_max = f64::MIN;
    for clip in 0..unmarked {
        let (width, height) = SIZES[clip % SIZES.len()];
        let frames = synthetic_clip(width, height, frame_count.min(24), 50_000 + clip as u64);
        let found = detect(&frames, width, height, KEY).unwrap();
        unmarked_hits += usize::from(found.payload.is_some());
        unmarked_conf_max = unmarked_conf_max.max(found.confidence);
    }

    // Monte-Carlo tail of the decision rule on pure noise, far more trials than clips allow.
    let trials = env_usize("WM_NOISE_TRIALS", 200_000);
    let (mut crc_pass, mut conf_pass, mut both) = (0usize, 0usize, 0usize);
    for _ in 0..trials {
        let soft: Vec<f32> = (0..watermark::CODED_BITS)
            .map(|_| rng.random_range(-1.0f32..1.0) + rng.random_range(-1.0f32..1.0))
            .collect();
        let found = decode_soft_bits(&soft);
        crc_pass += usize::from(found.crc_ok);
        conf_pass += usize::from(found.confidence >= watermark::MIN_CONFIDENCE);
        both += usize::from(found.payload.is_some());
    }

    println!();
    println!("Invisible watermark robustness: {clips} clips x {frame_count} frames @ {FPS} fps, sizes {SIZES:?}");
    println!(
        "peak amplitude {} levels, grid {}x{}, {} channel bits; min PSNR marked vs original {psnr_min:.2} dB",
        watermark::PEAK_AMPLITUDE,
        watermark::GRID_COLS,
        watermark::GRID_ROWS,
        watermark::CODED_BITS
    );
    println!();
    println!("| path                         | raw bits | worst clip | payload bits | recovered | wrong | mean conf |");
    println!("|------------------------------|----------|------------|--------------|-----------|-------|-----------|");
    openh264.row("openh264 4 Mb/s (media)");
    crf28.row("+ libx264 CRF 28");
    half.row("+ libx264 CRF 28, 50% scale");
    println!();
    println!(
        "ffmpeg outputs decoded by: {}",
        if fallbacks == 0 {
            "media::decode_mp4".to_string()
        } else {
            format!("ffmpeg rawvideo fallback ({fallbacks} files)")
        }
    );
    println!(
        "embed {:.1} ms/clip, detect {:.1} ms/clip ({} frames)",
        ms(embed_time) / clips.max(1) as f64,
        ms(detect_time) / f64::from(detect_runs.max(1)),
        frame_count
    );
    println!();
    println!("False positives (payload reported where none was embedded under that key):");
    println!("  unmarked clips:          {unmarked_hits}/{unmarked} (max confidence {unmarked_conf_max:.3})");
    println!("  marked, wrong key:       {wrong_key_hits}/{wrong_key_trials}");
    println!(
        "  pure-noise soft bits:    {both}/{trials} (CRC passes {crc_pass}, confidence >= {} {conf_pass})",
        watermark::MIN_CONFIDENCE
    );
    let crc_rate = 2f64.powi(-16);
    let conf_rate = (conf_pass.max(1) as f64) / trials as f64;
    println!(
        "  estimated FPR per clip:  <= {:.1e} (CRC 2^-16 x P(conf >= threshold) {}{:.1e})",
        crc_rate * conf_rate,
        if conf_pass == 0 { "< " } else { "" },
        conf_rate
    );
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
