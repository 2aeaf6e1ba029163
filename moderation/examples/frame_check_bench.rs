//! Times the frame check on a 512×512, 48-frame clip with 8 and 16 sampled frames (10 runs each,
//! median), through the real open_nsfw model.
//!
//! Run: `cargo run --release -p moderation --example frame_check_bench` after scripts/setup.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use moderation::frames::{FrameClassifier, Thresholds, verdict};

const SIDE: usize = 512;
const FRAMES: usize = 48;
const RUNS: usize = 10;

/// A moving colour pattern so each frame differs.
fn clip() -> Vec<Vec<u8>> {
    (0..FRAMES)
        .map(|t| {
            (0..SIDE * SIDE)
                .flat_map(|i| {
                    let (x, y) = (i % SIDE, i / SIDE);
                    [((x + 3 * t) % 256) as u8, ((y + 2 * t) % 256) as u8, ((x ^ y) % 256) as u8]
                })
                .collect()
        })
        .collect()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dylib =
        std::env::var("ORT_DYLIB_PATH").map(PathBuf::from).unwrap_or_else(|_| root.join(".venv/ort/libonnxruntime.so"));
    let env = ort::init_from(&dylib).expect("load ONNX Runtime").with_name("frame-bench").build().expect("environment");
    let classifier =
        FrameClassifier::load_with(&root.join(".venv/models/open-nsfw.onnx"), &env).expect("load open-nsfw.onnx");
    let frames = clip();

    // Warm-up: the first run pays for ONNX Runtime's allocations.
    classifier.score_frames(&frames, SIDE, SIDE, 8).expect("score");

    println!("frame check, {SIDE}x{SIDE} RGB, {FRAMES} frames, median of {RUNS} runs");
    for n in [8, 16] {
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut last = None;
        for _ in 0..RUNS {
            let scores = classifier.score_frames(&frames, SIDE, SIDE, n).expect("score");
            times.push(scores.elapsed);
            last = Some(scores);
        }
        times.sort();
        let median = times[RUNS / 2 - 1].saturating_add(times[RUNS / 2]) / 2;
        let scores = last.expect("at least one run");
        println!(
            "  {n:2} samples: {:7.1} ms/clip  ({:.1} ms/frame; min {:.1}, max {:.1})  max score {:.4}, verdict {}",
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3 / scores.indices.len() as f64,
            times[0].as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3,
            scores.max,
            verdict(&scores, &Thresholds::default()),
        );
    }
}
