//! The model manifest (TOML): which ONNX files make up a model, their input and output names,
//! latent layout, frame rate, resolutions per aspect ratio, scheduler and steps.
//!
//! The generator runs whatever the manifest (`APP_MODEL_MANIFEST`, default
//! `models/tiny/manifest.toml`) describes; [`Manifest::load`] refuses unknown keys, unsupported
//! values and missing files (paths are relative to the manifest). Frames = seconds × `fps`; each
//! resolution is a multiple of `spatial_compression`, and an aspect ratio without one is refused at
//! `createVideo`. The API nodes read the manifest too: duration range, aspect ratios, step count (for
//! ETAs) and `embed_dim` (the length of a cameo's reference vector).
//!
//! To run a real model: export its text encoder, velocity-predicting denoiser and decoder to ONNX
//! with the tensors named here (names are free, shapes are not), write a manifest, and point
//! `APP_MODEL_MANIFEST` at it on every API node and generator; for a GPU, `APP_ORT_DYLIB_PATH` names a
//! CUDA build of ONNX Runtime. What such a model must fit today (the `word-hash` tokenizer, `mean`
//! pooling, `flow-matching-euler`, as many latent frames as video frames, one decoder run per clip)
//! is the seam issue 14 widens; see `docs/ROADMAP.md`.
//!
//! The optional denoiser input `reference` is the seam for cameos and remixes: `JobSpec.reference`
//! (`embed_dim` floats; zeros when absent; another length fails the job with a readable reason) goes
//! to both halves of the guidance batch. The tiny models (`scripts/make_tiny_models.py`, seeded
//! random weights, opset 17) have the shapes of a real pipeline and make noise-like frames.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{GenError, GenResult};

/// Aspect ratios clients may ask for (the service's one type, spelled `PORTRAIT`, `LANDSCAPE`,
/// `SQUARE` in manifests too).
pub use jobs::AspectRatio;

/// How the prompt becomes token ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSpec {
    /// `word-hash`: words hashed into the vocabulary (the tiny test model).
    pub kind: String,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// Longest token sequence (BOS and EOS included).
    pub max_tokens: usize,
}

/// The text encoder's file and tensor names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextEncoderSpec {
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// int64 [batch, tokens].
    pub input_ids: String,
    /// float [batch, tokens, embed_dim].
    pub output: String,
    /// `mean` (over real tokens).
    pub pooling: String,
}

/// The denoiser's file and tensor names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenoiserSpec {
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// float [batch, channels, frames, h, w].
    pub latents: String,
    /// float [batch]: the noise level (sigma).
    pub timestep: String,
    /// float [batch, embed_dim]: pooled prompt embedding.
    pub text_embeds: String,
    /// float [batch, embed_dim]: reference (cameo) embedding, when the model takes one.
    pub reference: Option<String>,
    /// float [batch, channels, frames, h, w]: predicted velocity.
    pub output: String,
}

/// The decoder's file and tensor names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderSpec {
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// float [batch, channels, frames, h, w].
    pub latents: String,
    /// float [batch, 3, frames, H, W] in [0, 1].
    pub output: String,
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
    /// Latent channels.
    pub latent_channels: usize,
    /// Pixels per latent cell along each side.
    pub spatial_compression: usize,
    /// Width of the text embedding.
    pub embed_dim: usize,
    /// Denoiser steps.
    pub steps: usize,
    /// Classifier-free guidance scale (1 disables the unconditional pass).
    pub guidance_scale: f32,
    /// `flow-matching-euler`.
    pub scheduler: String,
    /// Timestep shift of the flow-matching schedule (1 = none).
    pub shift: f32,
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
    /// The folder the manifest was read from (files are relative to it).
    #[serde(skip)]
    pub dir: PathBuf,
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
        if self.scheduler != "flow-matching-euler" {
            return Err(format!("scheduler `{}` is not supported (flow-matching-euler is)", self.scheduler));
        }
        if self.tokenizer.kind != "word-hash" {
            return Err(format!("tokenizer kind `{}` is not supported (word-hash is)", self.tokenizer.kind));
        }
        if self.text_encoder.pooling != "mean" {
            return Err(format!("pooling `{}` is not supported (mean is)", self.text_encoder.pooling));
        }
        if self.steps == 0 || self.steps > 1000 {
            return Err("steps must be between 1 and 1000".into());
        }
        if self.fps == 0 || self.min_duration_seconds == 0 || self.min_duration_seconds > self.max_duration_seconds {
            return Err("fps and a duration range 1 ≤ min ≤ max are required".into());
        }
        if self.tokenizer.max_tokens < 2 || self.tokenizer.vocab_size < 4 {
            return Err("tokenizer needs max_tokens ≥ 2 and vocab_size ≥ 4".into());
        }
        if self.shift.is_nan() || self.shift <= 0.0 || self.guidance_scale.is_nan() || self.guidance_scale < 1.0 {
            return Err("shift must be > 0 and guidance_scale ≥ 1".into());
        }
        if self.resolutions.is_empty() {
            return Err("at least one resolution is required".into());
        }
        for (ar, [w, h]) in &self.resolutions {
            if *w == 0 || *h == 0 || w % self.spatial_compression != 0 || h % self.spatial_compression != 0 {
                return Err(format!("resolution {ar:?} must be non-zero multiples of {}", self.spatial_compression));
            }
        }
        for (stage, file) in [
            ("text_encoder", &self.text_encoder.file),
            ("denoiser", &self.denoiser.file),
            ("decoder", &self.decoder.file),
        ] {
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

    /// Frames for a clip of `seconds`.
    pub fn frame_count(&self, seconds: u32) -> usize {
        (seconds as usize) * (self.fps as usize)
    }

    /// `[width, height]` for an aspect ratio, if supported.
    pub fn resolution(&self, ar: AspectRatio) -> Option<[usize; 2]> {
        self.resolutions.get(&ar).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_manifest_loads() {
        let m = Manifest::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tiny/manifest.toml")).unwrap();
        assert_eq!(m.resolution(AspectRatio::Square), Some([512, 512]));
        assert_eq!(m.frame_count(4), 48);
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tiny/manifest.toml"))
            .unwrap();
        let p = dir.join("m.toml");
        std::fs::write(&p, src.replace("flow-matching-euler", "ddim")).unwrap();
        let e = Manifest::load(&p).unwrap_err().to_string();
        assert!(e.contains("scheduler"), "{e}");
        std::fs::write(&p, &src).unwrap();
        let e = Manifest::load(&p).unwrap_err().to_string();
        assert!(e.contains("missing"), "model files are relative to the manifest: {e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
