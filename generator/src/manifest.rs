//! The model manifest (TOML): which ONNX files make up a model, their tensor names and number
//! types, the latent space, the tokenizer, the sampler, the resolutions per aspect ratio and a
//! memory estimate.
//!
//! The generator runs whatever the manifest (`APP_MODEL_MANIFEST`, default
//! `models/world/manifest.toml`) describes; [`Manifest::load`] refuses unknown keys, unsupported
//! values, inconsistent numbers and missing files (paths are relative to the manifest). The API
//! nodes read it too: duration range, aspect ratios, step count (for ETAs) and the width of the
//! reference vector.
//!
//! What a model declares, and the generator honours:
//! - `[tokenizer]`: `word-hash` (the stand-in) or `huggingface` (a `tokenizer.json`: WordPiece,
//!   BPE or Unigram; its own padding and truncation are replaced by ours: at most `max_tokens`,
//!   padded to the longest prompt of a batch with an attention mask); optionally a `glossary`
//!   that writes a plainer word after words the encoder cannot place (`glossary.rs`).
//! - `[text_encoder]`: token ids (and optionally the attention mask and token types) in, per-token
//!   states `[batch, tokens, embed_dim]` out; the pooled vector is the masked mean (optionally
//!   L2-normalised), the first token, or a separate output.
//! - `[latent]`: channels and the spatial and temporal compression of the autoencoder: a clip of
//!   `F` frames is `ceil(F / temporal)` latent frames of `H / spatial × W / spatial` cells.
//! - `[sampling]`: `flow-matching-euler` (velocity) or `ddim` (ε or v prediction over a β
//!   schedule); classifier-free guidance with a negative prompt; the step count and guidance scale
//!   may be overridden per request within `[min_steps, max_steps]` and
//!   `[1, max_guidance_scale]`.
//! - `[denoiser]`: latents, timestep, and any of: pooled text, token states and mask, a reference
//!   vector (cameos, remixes), source latents (a remix's first frames, through `[encoder]`).
//! - `[decoder]`: latents in, frames `[batch, 3, frames, H, W]` in [0, 1] out, run in temporal
//!   tiles (and spatial tiles for large frames) with overlap blending.
//! - `precision` per model: `fp32`, `fp16` or `bf16` input and output tensors.
//! - `[memory]`: what one job needs, so a worker takes only jobs that fit
//!   ([`Manifest::memory_estimate`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{GenError, GenResult};

/// Aspect ratios clients may ask for (the service's one type, spelled `PORTRAIT`, `LANDSCAPE`,
/// `SQUARE` in manifests too).
pub use jobs::AspectRatio;

/// How the prompt becomes token ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenizerKind {
    /// Lower-cased words hashed into the vocabulary (the stand-in model).
    WordHash,
    /// A Hugging Face `tokenizer.json`.
    Huggingface,
}

/// The tokenizer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSpec {
    /// Which kind.
    pub kind: TokenizerKind,
    /// `word-hash`: vocabulary size.
    #[serde(default)]
    pub vocab_size: Option<u32>,
    /// `huggingface`: the `tokenizer.json`, relative to the manifest.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Longest token sequence (special tokens included); longer prompts are truncated.
    pub max_tokens: usize,
    /// Words the text encoder cannot place and the plainer word written after each before
    /// tokenizing (`glossary.rs`), relative to the manifest.
    #[serde(default)]
    pub glossary: Option<PathBuf>,
}

/// How the pooled prompt vector is made from the encoder's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// Mean over real (unmasked) tokens.
    Mean,
    /// The first token's state (BERT's `[CLS]`).
    First,
    /// A separate output of the encoder (`pooled_output`).
    Output,
}

/// Number type of a model's float inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// 32-bit floats.
    #[default]
    Fp32,
    /// IEEE half precision.
    Fp16,
    /// bfloat16.
    Bf16,
}

impl Precision {
    /// Bytes per value.
    pub fn bytes(self) -> usize {
        match self {
            Precision::Fp32 => 4,
            Precision::Fp16 | Precision::Bf16 => 2,
        }
    }
}

/// The text encoder's file and tensor names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextEncoderSpec {
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// int64 [batch, tokens].
    pub input_ids: String,
    /// int64 [batch, tokens]: 1 for real tokens, 0 for padding (when the model takes it).
    #[serde(default)]
    pub attention_mask: Option<String>,
    /// int64 [batch, tokens] of zeros (BERT-style encoders).
    #[serde(default)]
    pub token_type_ids: Option<String>,
    /// float [batch, tokens, embed_dim]: per-token states.
    pub output: String,
    /// float [batch, embed_dim], with `pooling = "output"`.
    #[serde(default)]
    pub pooled_output: Option<String>,
    /// How the pooled vector is made.
    pub pooling: Pooling,
    /// L2-normalise the pooled vector (sentence-transformers models are used so).
    #[serde(default)]
    pub normalize: bool,
    /// Width of the states and of the pooled vector.
    pub embed_dim: usize,
}

/// The latent space.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatentSpec {
    /// Channels.
    pub channels: usize,
    /// Output pixels per latent cell along each side.
    pub spatial_compression: usize,
    /// Video frames per latent frame.
    #[serde(default = "one")]
    pub temporal_compression: usize,
}

fn one() -> usize {
    1
}

/// The sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// Rectified flow: `x ← x + (σ' − σ)·v` from σ = 1 (noise) to 0.
    FlowMatchingEuler,
    /// Deterministic DDIM over a discrete β schedule.
    Ddim,
}

/// What a DDIM denoiser predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prediction {
    /// The noise ε.
    Epsilon,
    /// v = √ᾱ·ε − √(1−ᾱ)·x₀.
    VPrediction,
}

/// The β schedule of a DDIM model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BetaSchedule {
    /// β linear from `beta_start` to `beta_end`.
    Linear,
    /// √β linear (Stable Diffusion's).
    ScaledLinear,
}

/// Sampling: scheduler, steps, guidance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingSpec {
    /// Which scheduler.
    pub scheduler: SchedulerKind,
    /// DDIM: what the model predicts.
    #[serde(default)]
    pub prediction: Option<Prediction>,
    /// Default step count.
    pub steps: usize,
    /// Fewest steps a request may ask for.
    #[serde(default = "one")]
    pub min_steps: usize,
    /// Most steps a request may ask for (default: `steps`).
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// Default classifier-free guidance scale (1 disables the unconditional pass).
    pub guidance_scale: f32,
    /// Largest scale a request may ask for (default: `guidance_scale`).
    #[serde(default)]
    pub max_guidance_scale: Option<f32>,
    /// The unconditional branch's prompt when a request names none.
    #[serde(default)]
    pub negative_prompt: String,
    /// Flow matching: timestep shift (1 = none).
    #[serde(default = "one_f")]
    pub shift: f32,
    /// The number the denoiser's timestep input is multiplied by (flow: σ × scale; DDIM: the
    /// training timestep index × scale).
    #[serde(default = "one_f")]
    pub timestep_scale: f32,
    /// DDIM: training timesteps.
    #[serde(default = "thousand")]
    pub train_timesteps: usize,
    /// DDIM: β schedule.
    #[serde(default)]
    pub beta_schedule: Option<BetaSchedule>,
    /// DDIM: first β.
    #[serde(default = "beta_start")]
    pub beta_start: f32,
    /// DDIM: last β.
    #[serde(default = "beta_end")]
    pub beta_end: f32,
}

fn one_f() -> f32 {
    1.0
}
fn thousand() -> usize {
    1000
}
fn beta_start() -> f32 {
    0.000_85
}
fn beta_end() -> f32 {
    0.012
}

/// The denoiser's file and tensor names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenoiserSpec {
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// [batch, channels, latent frames, h, w].
    pub latents: String,
    /// [batch]: the noise level (see `sampling.timestep_scale`).
    pub timestep: String,
    /// [batch, embed_dim]: the pooled prompt.
    #[serde(default)]
    pub text_embeds: Option<String>,
    /// [batch, tokens, embed_dim]: the prompt's token states.
    #[serde(default)]
    pub text_tokens: Option<String>,
    /// [batch, tokens]: 1 for real tokens (same number type as the other float inputs).
    #[serde(default)]
    pub text_mask: Option<String>,
    /// [batch, embed_dim]: reference (cameo, remix) vector.
    #[serde(default)]
    pub reference: Option<String>,
    /// [batch, channels, latent frames, h, w]: a remix source's latents (zeros when none).
    #[serde(default)]
    pub source_latents: Option<String>,
    /// [batch, channels, latent frames, h, w]: the prediction.
    pub output: String,
    /// Float inputs' and outputs' number type.
    #[serde(default)]
    pub precision: Precision,
}

/// The decoder's file, tensor names and tiling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderSpec {
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// [batch, channels, latent frames, h, w].
    pub latents: String,
    /// [batch, 3, frames, H, W] in [0, 1].
    pub output: String,
    /// Number type.
    #[serde(default)]
    pub precision: Precision,
    /// Latent frames per temporal tile (0: the whole clip at once).
    #[serde(default)]
    pub tile_frames: usize,
    /// Latent frames shared by neighbouring temporal tiles, blended linearly.
    #[serde(default)]
    pub tile_frame_overlap: usize,
    /// Latent cells per side of a spatial tile (0: no spatial tiling).
    #[serde(default)]
    pub tile_cells: usize,
    /// Cells shared by neighbouring spatial tiles.
    #[serde(default)]
    pub tile_cell_overlap: usize,
}

/// The encoder (frames → latents), for models that condition remixes on source latents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderSpec {
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// [batch, 3, frames, H, W] in [0, 1].
    pub frames: String,
    /// [batch, channels, latent frames, h, w].
    pub output: String,
    /// Number type.
    #[serde(default)]
    pub precision: Precision,
}

/// What one job needs, for [`Manifest::memory_estimate`]. Measured for the shipped model by
/// `cargo bench -p generator --bench pipeline`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySpec {
    /// Resident size of the loaded models, MiB.
    pub weights_mb: u64,
    /// Peak denoiser working memory per latent value of the guidance batch, bytes.
    pub denoiser_bytes_per_latent: u64,
    /// Peak decoder working memory per output pixel of one tile (frames × H × W), bytes.
    pub decoder_bytes_per_pixel: u64,
}

/// A model, as described by its manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Model name (goes into provenance).
    pub name: String,
    /// Model version.
    pub version: String,
    /// Output frame rate.
    pub fps: u32,
    /// Shortest clip.
    pub min_duration_seconds: u32,
    /// Longest clip.
    pub max_duration_seconds: u32,
    /// Latent space.
    pub latent: LatentSpec,
    /// Sampler.
    pub sampling: SamplingSpec,
    /// Tokenizer.
    pub tokenizer: TokenizerSpec,
    /// `[width, height]` per aspect ratio.
    pub resolutions: BTreeMap<AspectRatio, [usize; 2]>,
    /// Text encoder.
    pub text_encoder: TextEncoderSpec,
    /// Denoiser.
    pub denoiser: DenoiserSpec,
    /// Decoder.
    pub decoder: DecoderSpec,
    /// Encoder, when the denoiser takes source latents.
    #[serde(default)]
    pub encoder: Option<EncoderSpec>,
    /// Memory estimate.
    pub memory: MemorySpec,
    /// The folder the manifest was read from (files are relative to it).
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The shape of one clip's latents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LatentShape {
    /// Channels.
    pub channels: usize,
    /// Latent frames.
    pub frames: usize,
    /// Cells down.
    pub height: usize,
    /// Cells across.
    pub width: usize,
}

impl LatentShape {
    /// Values in one clip's latents.
    pub fn len(&self) -> usize {
        self.channels * self.frames * self.height * self.width
    }

    /// True when the shape holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Manifest {
    /// Reads and checks a manifest; every named file must exist.
    pub fn load(path: &Path) -> GenResult<Self> {
        let err = |message: String| GenError::Manifest { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut m: Manifest = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        m.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        m.check().map_err(err)?;
        Ok(m)
    }

    fn check(&self) -> Result<(), String> {
        let s = &self.sampling;
        if s.steps == 0 || s.steps > 1000 || s.min_steps == 0 || s.min_steps > s.steps || self.max_steps() < s.steps {
            return Err("sampling needs 1 ≤ min_steps ≤ steps ≤ max_steps ≤ 1000".into());
        }
        if self.max_steps() > 1000 {
            return Err("max_steps must be at most 1000".into());
        }
        let finite_ge = |v: f32, min: f32| v.is_finite() && v >= min;
        if !finite_ge(s.guidance_scale, 1.0) || !finite_ge(self.max_guidance_scale(), s.guidance_scale) {
            return Err("guidance needs 1 ≤ guidance_scale ≤ max_guidance_scale".into());
        }
        if !(s.shift.is_finite() && s.shift > 0.0 && s.timestep_scale.is_finite() && s.timestep_scale > 0.0) {
            return Err("shift and timestep_scale must be positive".into());
        }
        match s.scheduler {
            SchedulerKind::FlowMatchingEuler => {
                if s.prediction.is_some() || s.beta_schedule.is_some() {
                    return Err(
                        "flow-matching-euler predicts velocity: `prediction` and `beta_schedule` are for ddim".into()
                    );
                }
            }
            SchedulerKind::Ddim => {
                if s.prediction.is_none() || s.beta_schedule.is_none() {
                    return Err("ddim needs `prediction` (epsilon or v-prediction) and `beta_schedule`".into());
                }
                if s.train_timesteps < self.max_steps()
                    || !(s.beta_start > 0.0 && s.beta_end > s.beta_start && s.beta_end < 1.0)
                {
                    return Err("ddim needs train_timesteps ≥ max_steps and 0 < beta_start < beta_end < 1".into());
                }
            }
        }
        if self.fps == 0 || self.min_duration_seconds == 0 || self.min_duration_seconds > self.max_duration_seconds {
            return Err("fps and a duration range 1 ≤ min ≤ max are required".into());
        }
        let t = &self.tokenizer;
        if t.max_tokens < 2 {
            return Err("tokenizer needs max_tokens ≥ 2".into());
        }
        match t.kind {
            TokenizerKind::WordHash => {
                if t.vocab_size.is_none_or(|v| v < 4) || t.file.is_some() {
                    return Err("a word-hash tokenizer needs vocab_size ≥ 4 and no file".into());
                }
            }
            TokenizerKind::Huggingface => {
                if t.file.is_none() || t.vocab_size.is_some() {
                    return Err("a huggingface tokenizer needs `file` (its tokenizer.json) and no vocab_size".into());
                }
            }
        }
        let e = &self.text_encoder;
        if e.embed_dim == 0 {
            return Err("text_encoder.embed_dim must be at least 1".into());
        }
        if (e.pooling == Pooling::Output) != e.pooled_output.is_some() {
            return Err("text_encoder: pooling = \"output\" goes with `pooled_output`, and only with it".into());
        }
        let d = &self.denoiser;
        if d.text_embeds.is_none() && d.text_tokens.is_none() {
            return Err("the denoiser needs the prompt: `text_embeds`, `text_tokens`, or both".into());
        }
        if d.text_mask.is_some() && d.text_tokens.is_none() {
            return Err("denoiser `text_mask` goes with `text_tokens`".into());
        }
        if d.source_latents.is_some() != self.encoder.is_some() {
            return Err("denoiser `source_latents` and an [encoder] go together".into());
        }
        let l = &self.latent;
        if l.channels == 0 || l.spatial_compression == 0 || l.temporal_compression == 0 {
            return Err("latent channels and compression factors must be at least 1".into());
        }
        let dec = &self.decoder;
        if dec.tile_frames > 0 && dec.tile_frame_overlap * 2 >= dec.tile_frames {
            return Err("decoder tile_frame_overlap must be less than half of tile_frames".into());
        }
        if dec.tile_cells > 0 && dec.tile_cell_overlap * 2 >= dec.tile_cells {
            return Err("decoder tile_cell_overlap must be less than half of tile_cells".into());
        }
        if self.resolutions.is_empty() {
            return Err("at least one resolution is required".into());
        }
        for (ar, [w, h]) in &self.resolutions {
            if *w == 0 || *h == 0 || w % l.spatial_compression != 0 || h % l.spatial_compression != 0 {
                return Err(format!("resolution {ar:?} must be non-zero multiples of {}", l.spatial_compression));
            }
        }
        let mut files = vec![
            ("text_encoder", &self.text_encoder.file),
            ("denoiser", &self.denoiser.file),
            ("decoder", &self.decoder.file),
        ];
        if let Some(f) = &t.file {
            files.push(("tokenizer", f));
        }
        if let Some(f) = &t.glossary {
            files.push(("glossary", f));
        }
        if let Some(enc) = &self.encoder {
            files.push(("encoder", &enc.file));
        }
        for (stage, file) in files {
            let p = self.dir.join(file);
            if !p.is_file() {
                return Err(format!("{stage} file {} is missing (run scripts/setup.sh, or fix the path)", p.display()));
            }
        }
        Ok(())
    }

    /// Path of a model file.
    pub fn file(&self, rel: &Path) -> PathBuf {
        self.dir.join(rel)
    }

    /// Default denoiser steps.
    pub fn steps(&self) -> usize {
        self.sampling.steps
    }

    /// Most steps a request may ask for.
    pub fn max_steps(&self) -> usize {
        self.sampling.max_steps.unwrap_or(self.sampling.steps)
    }

    /// Largest guidance scale a request may ask for.
    pub fn max_guidance_scale(&self) -> f32 {
        self.sampling.max_guidance_scale.unwrap_or(self.sampling.guidance_scale)
    }

    /// Width of the pooled prompt vector and of the reference vector.
    pub fn embed_dim(&self) -> usize {
        self.text_encoder.embed_dim
    }

    /// Video frames for a clip of `seconds`.
    pub fn frame_count(&self, seconds: u32) -> usize {
        (seconds as usize) * (self.fps as usize)
    }

    /// `[width, height]` for an aspect ratio, if supported.
    pub fn resolution(&self, ar: AspectRatio) -> Option<[usize; 2]> {
        self.resolutions.get(&ar).copied()
    }

    /// The latents of a clip of `frames` video frames at `[width, height]`: enough latent frames
    /// to cover every video frame (the decoder's surplus frames are dropped).
    pub fn latent_shape(&self, frames: usize, [width, height]: [usize; 2]) -> LatentShape {
        let l = &self.latent;
        LatentShape {
            channels: l.channels,
            frames: frames.div_ceil(l.temporal_compression).max(1),
            height: height / l.spatial_compression,
            width: width / l.spatial_compression,
        }
    }

    /// Bytes one job of `seconds` at `[width, height]` needs beyond the loaded weights, when
    /// `batch` such jobs share the denoiser: the guidance batch's working memory, one decoder
    /// tile's, and the finished RGB frames.
    pub fn memory_estimate(&self, seconds: u32, size: [usize; 2], batch: usize) -> u64 {
        let frames = self.frame_count(seconds);
        let shape = self.latent_shape(frames, size);
        let guidance = if self.sampling.guidance_scale > 1.0 { 2 } else { 1 };
        let latents = (shape.len() * guidance * batch.max(1)) as u64;
        let [w, h] = size;
        let d = &self.decoder;
        let tile_frames = if d.tile_frames == 0 { shape.frames } else { d.tile_frames.min(shape.frames) };
        let cell = self.latent.spatial_compression;
        let tile_side = |cells: usize| if d.tile_cells == 0 { cells * cell } else { d.tile_cells.min(cells) * cell };
        let tile_pixels =
            (tile_frames * self.latent.temporal_compression * tile_side(w / cell) * tile_side(h / cell)) as u64;
        let rgb = (frames * w * h * 3) as u64;
        latents * self.memory.denoiser_bytes_per_latent
            + tile_pixels * self.memory.decoder_bytes_per_pixel
            + rgb * batch.max(1) as u64
    }

    /// [`Manifest::memory_estimate`] plus the weights, in MiB (rounded up).
    pub fn memory_estimate_mb(&self, seconds: u32, size: [usize; 2], batch: usize) -> u64 {
        self.memory.weights_mb + self.memory_estimate(seconds, size, batch).div_ceil(1 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn the_stand_in_manifest_loads() {
        let m = Manifest::load(&root().join("models/tiny/manifest.toml")).unwrap();
        assert_eq!(m.resolution(AspectRatio::Square), Some([512, 512]));
        assert_eq!(m.frame_count(4), 48);
        assert_eq!(m.latent_shape(48, [512, 512]), LatentShape { channels: 4, frames: 48, height: 64, width: 64 });
    }

    #[test]
    fn latent_frames_cover_the_video_frames() {
        let mut m = Manifest::load(&root().join("models/tiny/manifest.toml")).unwrap();
        m.latent.temporal_compression = 4;
        m.latent.spatial_compression = 32;
        assert_eq!(m.latent_shape(48, [256, 448]).frames, 12);
        assert_eq!(m.latent_shape(49, [256, 448]).frames, 13);
        assert_eq!((m.latent_shape(48, [256, 448]).width, m.latent_shape(48, [256, 448]).height), (8, 14));
    }

    #[test]
    fn memory_grows_with_the_batch_and_not_with_tiles_beyond_one() {
        let mut m = Manifest::load(&root().join("models/tiny/manifest.toml")).unwrap();
        m.decoder.tile_frames = 8;
        m.decoder.tile_frame_overlap = 2;
        let one = m.memory_estimate(4, [512, 512], 1);
        assert!(m.memory_estimate(4, [512, 512], 2) > one);
        // Longer clips add latents and RGB frames, but the decoder's share stays one tile.
        let decoder_share = |s: u32| {
            m.memory_estimate(s, [512, 512], 1)
                - (m.latent_shape(m.frame_count(s), [512, 512]).len() as u64 * 2 * m.memory.denoiser_bytes_per_latent)
                - (m.frame_count(s) * 512 * 512 * 3) as u64
        };
        assert_eq!(decoder_share(4), decoder_share(8));
        assert!(m.memory_estimate_mb(8, [512, 512], 1) >= m.memory.weights_mb);
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = std::fs::read_to_string(root().join("models/tiny/manifest.toml")).unwrap();
        let p = dir.join("m.toml");
        let cases = [
            (src.replace("flow-matching-euler", "heun"), "scheduler"),
            (src.replace("scheduler = \"flow-matching-euler\"", "scheduler = \"ddim\""), "ddim needs"),
            (src.replace("kind = \"word-hash\"", "kind = \"huggingface\""), "tokenizer.json"),
            (src.replace("steps = 8", "steps = 0"), "steps"),
            (src.replace("text_embeds = \"text_embeds\"", ""), "needs the prompt"),
            (src.replace("pooling = \"mean\"", "pooling = \"output\""), "pooled_output"),
        ];
        for (text, needle) in cases {
            std::fs::write(&p, text).unwrap();
            std::fs::write(dir.join("text_encoder.onnx"), b"").unwrap();
            std::fs::write(dir.join("denoiser.onnx"), b"").unwrap();
            std::fs::write(dir.join("decoder.onnx"), b"").unwrap();
            let e = Manifest::load(&p).unwrap_err().to_string();
            assert!(e.contains(needle), "expected `{needle}` in: {e}");
        }
        std::fs::write(&p, &src).unwrap();
        std::fs::remove_file(dir.join("decoder.onnx")).unwrap();
        let e = Manifest::load(&p).unwrap_err().to_string();
        assert!(e.contains("decoder file") && e.contains("missing"), "model files are relative to the manifest: {e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
