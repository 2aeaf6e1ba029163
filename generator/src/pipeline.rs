//! The pipeline: prompt → tokens → text encoder (mean-pooled) → N denoiser steps from seeded
//! noise (flow-matching Euler, classifier-free guidance, cond and uncond in one batch) →
//! decoder → RGB frames. Blocking: callers run it on a worker thread.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ndarray::{Array, ArrayD, Axis, IxDyn};
use ort::session::Session;
use ort::value::Tensor;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::manifest::{AspectRatio, Manifest};
use crate::runtime::{DevicePreference, ExecutionTarget, environment, open_session};
use crate::scheduler::{euler_step, guide, sigmas};
use crate::tokenizer::{self, PAD};
use crate::{GenError, GenResult};

/// How to run the models.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// ONNX Runtime library file.
    pub dylib: std::path::PathBuf,
    /// CPU, CUDA or whichever works.
    pub device: DevicePreference,
    /// Threads per model (0: ONNX Runtime's default).
    pub intra_threads: usize,
}

/// One clip to make.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    /// The prompt.
    pub prompt: String,
    /// Noise seed: same prompt, seed and model give identical frames.
    pub seed: u64,
    /// Clip length.
    pub duration_seconds: u32,
    /// Frame shape.
    pub aspect_ratio: AspectRatio,
    /// Reference embedding (a cameo's likeness), `embed_dim` long, when the model takes one.
    pub reference: Option<Vec<f32>>,
}

/// Decoded frames, RGB, row-major, 3 bytes a pixel.
#[derive(Debug, Clone)]
pub struct Frames {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Frames per second.
    pub fps: u32,
    /// One buffer of `width * height * 3` bytes per frame.
    pub rgb: Vec<Vec<u8>>,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimings {
    /// Tokenizing and the text encoder.
    pub text_encode: Duration,
    /// All denoiser steps.
    pub denoise: Duration,
    /// The decoder and conversion to RGB bytes.
    pub decode: Duration,
}

/// A loaded model.
pub struct Pipeline {
    manifest: Manifest,
    text_encoder: Mutex<Session>,
    denoiser: Mutex<Session>,
    decoder: Mutex<Session>,
    target: ExecutionTarget,
}

fn model_err(model: &'static str) -> impl Fn(ort::Error) -> GenError {
    move |e| GenError::Model { model, message: e.to_string() }
}

fn lock<'a>(m: &'a Mutex<Session>, model: &'static str) -> GenResult<std::sync::MutexGuard<'a, Session>> {
    m.lock().map_err(|_| GenError::Model { model, message: "session lock poisoned".into() })
}

impl Pipeline {
    /// Loads the manifest and its three models; logs the execution provider chosen.
    pub fn load(manifest_path: &Path, opts: &PipelineOptions) -> GenResult<Self> {
        let manifest = Manifest::load(manifest_path)?;
        let env = environment(&opts.dylib)?;
        let (text_encoder, t1) = open_session(
            env,
            "text_encoder",
            &manifest.file(&manifest.text_encoder.file),
            opts.device,
            opts.intra_threads,
        )?;
        let (denoiser, t2) =
            open_session(env, "denoiser", &manifest.file(&manifest.denoiser.file), opts.device, opts.intra_threads)?;
        let (decoder, t3) =
            open_session(env, "decoder", &manifest.file(&manifest.decoder.file), opts.device, opts.intra_threads)?;
        let target = if [t1, t2, t3].iter().all(|t| *t == ExecutionTarget::Cuda) {
            ExecutionTarget::Cuda
        } else {
            ExecutionTarget::Cpu
        };
        tracing::info!(
            model = %manifest.name,
            version = %manifest.version,
            text_encoder = t1.as_str(),
            denoiser = t2.as_str(),
            decoder = t3.as_str(),
            "model loaded"
        );
        Ok(Self {
            manifest,
            text_encoder: Mutex::new(text_encoder),
            denoiser: Mutex::new(denoiser),
            decoder: Mutex::new(decoder),
            target,
        })
    }

    /// The manifest in force.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where the denoiser runs (CUDA only when all three models do).
    pub fn target(&self) -> ExecutionTarget {
        self.target
    }

    /// Checks a request against what the model can make.
    pub fn check(&self, req: &GenerationRequest) -> GenResult<[usize; 2]> {
        let m = &self.manifest;
        if req.duration_seconds < m.min_duration_seconds || req.duration_seconds > m.max_duration_seconds {
            return Err(GenError::BadRequest(format!(
                "duration must be between {} and {} seconds",
                m.min_duration_seconds, m.max_duration_seconds
            )));
        }
        let res = m.resolution(req.aspect_ratio).ok_or_else(|| {
            GenError::BadRequest(format!("aspect ratio {:?} is not supported by this model", req.aspect_ratio))
        })?;
        if let Some(r) = &req.reference
            && r.len() != m.embed_dim
        {
            return Err(GenError::BadRequest(format!("reference embedding must have {} values", m.embed_dim)));
        }
        Ok(res)
    }

    /// Mean-pooled embeddings of `prompts`, one row of `embed_dim` each.
    pub fn encode_text(&self, prompts: &[&str]) -> GenResult<Vec<Vec<f32>>> {
        let m = &self.manifest;
        let ids: Vec<Vec<i64>> = prompts.iter().map(|p| tokenizer::encode(&m.tokenizer, p)).collect();
        let t = ids.iter().map(Vec::len).max().unwrap_or(2);
        let mut flat = Vec::with_capacity(ids.len() * t);
        for row in &ids {
            flat.extend(row.iter().copied());
            flat.extend(std::iter::repeat_n(PAD, t - row.len()));
        }
        let input = Tensor::from_array((vec![ids.len() as i64, t as i64], flat)).map_err(model_err("text_encoder"))?;
        let mut session = lock(&self.text_encoder, "text_encoder")?;
        let outputs =
            session.run(ort::inputs![m.text_encoder.input_ids.as_str() => input]).map_err(model_err("text_encoder"))?;
        let hidden = outputs
            .get(m.text_encoder.output.as_str())
            .ok_or_else(|| GenError::Model {
                model: "text_encoder",
                message: format!("no output `{}`", m.text_encoder.output),
            })?
            .try_extract_array::<f32>()
            .map_err(model_err("text_encoder"))?;
        if hidden.ndim() != 3 || hidden.shape().get(2) != Some(&m.embed_dim) {
            return Err(GenError::Model {
                model: "text_encoder",
                message: format!("output shape {:?}, expected [batch, tokens, {}]", hidden.shape(), m.embed_dim),
            });
        }
        let mut pooled = Vec::with_capacity(ids.len());
        for (b, row) in ids.iter().enumerate() {
            let real = row.len().max(1);
            let mut acc = vec![0f32; m.embed_dim];
            for tok in 0..row.len() {
                for (d, a) in acc.iter_mut().enumerate() {
                    *a += hidden.get([b, tok, d]).copied().unwrap_or(0.0);
                }
            }
            acc.iter_mut().for_each(|a| *a /= real as f32);
            pooled.push(acc);
        }
        Ok(pooled)
    }

    /// Makes the clip. `on_step(done, total)` is called after every denoiser step;
    /// `cancelled()` is polled before each step.
    pub fn generate(
        &self,
        req: &GenerationRequest,
        on_step: &mut dyn FnMut(usize, usize),
        cancelled: &dyn Fn() -> bool,
    ) -> GenResult<(Frames, StageTimings)> {
        let [width, height] = self.check(req)?;
        let m = &self.manifest;
        let mut timings = StageTimings::default();

        let t0 = Instant::now();
        let guided = m.guidance_scale > 1.0;
        let mut emb = self.encode_text(&["", req.prompt.as_str()])?;
        let cond = emb.pop().unwrap_or_default();
        let uncond = emb.pop().unwrap_or_default();
        timings.text_encode = t0.elapsed();

        let t1 = Instant::now();
        let (c, f, h, w) = (
            m.latent_channels,
            m.frame_count(req.duration_seconds),
            height / m.spatial_compression,
            width / m.spatial_compression,
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(req.seed);
        let n = c * f * h * w;
        let mut x: Vec<f32> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        let batch = if guided { 2 } else { 1 };
        let texts: Vec<f32> = if guided { [uncond, cond].concat() } else { cond };
        let reference = req.reference.clone().unwrap_or_else(|| vec![0.0; m.embed_dim]);
        let refs: Vec<f32> = std::iter::repeat_n(reference, batch).flatten().collect();
        let schedule = sigmas(m.steps, m.shift);
        let mut denoiser = lock(&self.denoiser, "denoiser")?;
        for (i, pair) in schedule.windows(2).enumerate() {
            if cancelled() {
                return Err(GenError::Cancelled);
            }
            let (sigma, next) = match pair {
                [a, b] => (*a, *b),
                _ => break,
            };
            let lat: Vec<f32> = std::iter::repeat_n(x.iter().copied(), batch).flatten().collect();
            let shape = vec![batch as i64, c as i64, f as i64, h as i64, w as i64];
            let mut inputs = ort::inputs![
                m.denoiser.latents.as_str() => Tensor::from_array((shape, lat)).map_err(model_err("denoiser"))?,
                m.denoiser.timestep.as_str() => Tensor::from_array((vec![batch as i64], vec![sigma; batch])).map_err(model_err("denoiser"))?,
                m.denoiser.text_embeds.as_str() => Tensor::from_array((vec![batch as i64, m.embed_dim as i64], texts.clone())).map_err(model_err("denoiser"))?,
            ];
            if let Some(name) = &m.denoiser.reference {
                let t = Tensor::from_array((vec![batch as i64, m.embed_dim as i64], refs.clone()))
                    .map_err(model_err("denoiser"))?;
                inputs.push((name.as_str().into(), t.into()));
            }
            let outputs = denoiser.run(inputs).map_err(model_err("denoiser"))?;
            let (_, v) = outputs
                .get(m.denoiser.output.as_str())
                .ok_or_else(|| GenError::Model {
                    model: "denoiser",
                    message: format!("no output `{}`", m.denoiser.output),
                })?
                .try_extract_tensor::<f32>()
                .map_err(model_err("denoiser"))?;
            if v.len() != batch * n {
                return Err(GenError::Model {
                    model: "denoiser",
                    message: format!("output has {} values, expected {}", v.len(), batch * n),
                });
            }
            let velocity = if guided {
                let (u, cnd) = v.split_at(n);
                guide(u, cnd, m.guidance_scale)
            } else {
                v.to_vec()
            };
            euler_step(&mut x, &velocity, sigma, next);
            on_step(i + 1, m.steps);
        }
        drop(denoiser);
        timings.denoise = t1.elapsed();

        let t2 = Instant::now();
        let latents: ArrayD<f32> = Array::from_shape_vec(IxDyn(&[1, c, f, h, w]), x)
            .map_err(|e| GenError::Model { model: "decoder", message: e.to_string() })?;
        let mut decoder = lock(&self.decoder, "decoder")?;
        let input = Tensor::from_array(latents).map_err(model_err("decoder"))?;
        let outputs = decoder.run(ort::inputs![m.decoder.latents.as_str() => input]).map_err(model_err("decoder"))?;
        let out = outputs
            .get(m.decoder.output.as_str())
            .ok_or_else(|| GenError::Model { model: "decoder", message: format!("no output `{}`", m.decoder.output) })?
            .try_extract_array::<f32>()
            .map_err(model_err("decoder"))?;
        if out.shape() != [1, 3, f, height, width] {
            return Err(GenError::Model {
                model: "decoder",
                message: format!("output shape {:?}, expected [1, 3, {f}, {height}, {width}]", out.shape()),
            });
        }
        let out = out.index_axis(Axis(0), 0);
        let mut rgb = Vec::with_capacity(f);
        for fi in 0..f {
            let frame = out.index_axis(Axis(1), fi); // [3, H, W]
            let mut buf = vec![0u8; width * height * 3];
            for (ch, plane) in frame.outer_iter().enumerate() {
                // Planes are [H, W] in row-major order: the i-th value is pixel i.
                for (i, v) in plane.iter().enumerate() {
                    if let Some(slot) = buf.get_mut(i * 3 + ch) {
                        *slot = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                    }
                }
            }
            rgb.push(buf);
        }
        timings.decode = t2.elapsed();
        Ok((Frames { width, height, fps: m.fps, rgb }, timings))
    }
}
