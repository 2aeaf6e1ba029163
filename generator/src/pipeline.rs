//! The pipeline: prompt → tokens → text encoder (token states, mask, pooled vector) → N
//! denoiser steps from seeded noise (the manifest's sampler, classifier-free guidance against a
//! negative prompt) → decoder in tiles → RGB frames. Blocking: callers run it on a worker thread.
//!
//! Several requests whose latents have the same shape and step count run as one batch
//! ([`Pipeline::generate_batch`]): one denoiser call per step for all of them (the guidance
//! pairs of each side by side), each with its own seed, prompt, negative prompt, guidance scale,
//! reference and cancellation. A request's frames do not depend on what it was batched with
//! (padding tokens are masked), which the tests check.
//!
//! The denoiser runs through an ONNX Runtime IO binding: a batch's conditioning (text, reference,
//! source latents) is bound once and only the latents and timestep are bound each step, so on
//! CUDA the conditioning is copied to the GPU once, not once a step. The latents themselves come
//! back to the host every step, where the scheduler updates them (`scheduler.rs`).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ort::memory::MemoryInfo;
use ort::session::{IoBinding, Session};
use ort::value::DynValue;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::glossary::Glossary;
use crate::manifest::{AspectRatio, LatentShape, Manifest, Pooling};
use crate::runtime::{DevicePreference, ExecutionTarget, environment, open_session};
use crate::scheduler::{Sampler, guide};
use crate::tensors;
use crate::tiling::{Scale, Tiling, decode_tiled};
use crate::tokenizer::Tokenizer;
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

/// A clip to condition a remix on (RGB frames, row-major, 3 bytes a pixel).
#[derive(Debug, Clone)]
pub struct SourceClip {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The first frames of the source.
    pub rgb: Vec<Vec<u8>>,
}

/// One clip to make.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    /// The prompt.
    pub prompt: String,
    /// Noise seed: same request and model give identical frames.
    pub seed: u64,
    /// Clip length.
    pub duration_seconds: u32,
    /// Frame shape.
    pub aspect_ratio: AspectRatio,
    /// Reference vector (a cameo's likeness, a remix source), `embed_dim` long, when the model
    /// takes one.
    pub reference: Option<Vec<f32>>,
    /// What the clip should not look like (the guidance's unconditional branch); the
    /// manifest's default when `None`.
    pub negative_prompt: Option<String>,
    /// Denoiser steps, within the manifest's bounds; its default when `None`.
    pub steps: Option<usize>,
    /// Guidance scale, within the manifest's bounds; its default when `None`.
    pub guidance_scale: Option<f32>,
    /// A remix source, for models that take source latents.
    pub source: Option<SourceClip>,
}

impl GenerationRequest {
    /// A request with the model's defaults for everything but the essentials.
    pub fn new(prompt: impl Into<String>, seed: u64, duration_seconds: u32, aspect_ratio: AspectRatio) -> Self {
        Self {
            prompt: prompt.into(),
            seed,
            duration_seconds,
            aspect_ratio,
            reference: None,
            negative_prompt: None,
            steps: None,
            guidance_scale: None,
            source: None,
        }
    }
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
    /// Tokenizing and the text encoder (shared by a batch).
    pub text_encode: Duration,
    /// All denoiser steps (shared by a batch).
    pub denoise: Duration,
    /// This clip's decoder tiles and conversion to RGB bytes.
    pub decode: Duration,
}

/// The text encoder's outputs for a batch of prompts.
#[derive(Debug, Clone)]
pub struct TextEncoding {
    /// Prompts.
    pub rows: usize,
    /// Tokens per row (padded).
    pub len: usize,
    /// Width of a state.
    pub dim: usize,
    /// `[rows, len, dim]` per-token states.
    pub hidden: Vec<f32>,
    /// `[rows, len]`: 1 for real tokens.
    pub mask: Vec<f32>,
    /// `[rows, dim]` pooled vectors.
    pub pooled: Vec<f32>,
}

impl TextEncoding {
    /// The pooled vector of row `r`.
    pub fn pooled(&self, r: usize) -> &[f32] {
        self.pooled.get(r * self.dim..(r + 1) * self.dim).unwrap_or(&[])
    }

    fn hidden_row(&self, r: usize) -> &[f32] {
        let n = self.len * self.dim;
        self.hidden.get(r * n..(r + 1) * n).unwrap_or(&[])
    }

    fn mask_row(&self, r: usize) -> &[f32] {
        self.mask.get(r * self.len..(r + 1) * self.len).unwrap_or(&[])
    }
}

/// What a request resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// `[width, height]`.
    pub size: [usize; 2],
    /// Video frames.
    pub frames: usize,
    /// Latents.
    pub shape: LatentShape,
    /// Denoiser steps.
    pub steps: usize,
    /// Guidance scale.
    pub guidance: f32,
}

impl Plan {
    /// Requests with equal keys can share denoiser calls.
    pub fn batch_key(&self) -> (LatentShape, usize) {
        (self.shape, self.steps)
    }
}

/// A loaded model.
pub struct Pipeline {
    manifest: Manifest,
    tokenizer: Tokenizer,
    glossary: Glossary,
    text_encoder: Mutex<Session>,
    denoiser: Mutex<Session>,
    decoder: Mutex<Session>,
    encoder: Option<Mutex<Session>>,
    target: ExecutionTarget,
}

fn model_err(model: &'static str) -> impl Fn(ort::Error) -> GenError {
    move |e| GenError::Model { model, message: e.to_string() }
}

fn lock<'a>(m: &'a Mutex<Session>, model: &'static str) -> GenResult<std::sync::MutexGuard<'a, Session>> {
    m.lock().map_err(|_| GenError::Model { model, message: "session lock poisoned".into() })
}

/// One request's state through the denoising loop.
struct Item {
    index: usize,
    x: Vec<f32>,
    guidance: f32,
    reference: Vec<f32>,
    source: Vec<f32>,
    /// Rows of the text encoding: (unconditional, conditional).
    text_rows: (usize, usize),
}

impl Pipeline {
    /// Loads the manifest, its tokenizer and models; logs the execution provider chosen.
    pub fn load(manifest_path: &Path, opts: &PipelineOptions) -> GenResult<Self> {
        let manifest = Manifest::load(manifest_path)?;
        let tokenizer = Tokenizer::load(&manifest.tokenizer, &manifest.dir)?;
        let glossary = match &manifest.tokenizer.glossary {
            Some(f) => Glossary::load(&manifest.file(f))?,
            None => Glossary::default(),
        };
        let env = environment(&opts.dylib)?;
        let open = |model: &'static str, file: &Path| {
            open_session(env, model, &manifest.file(file), opts.device, opts.intra_threads)
        };
        let (text_encoder, t1) = open("text_encoder", &manifest.text_encoder.file)?;
        let (denoiser, t2) = open("denoiser", &manifest.denoiser.file)?;
        let (decoder, t3) = open("decoder", &manifest.decoder.file)?;
        let encoder = match &manifest.encoder {
            Some(e) => Some(Mutex::new(open("encoder", &e.file)?.0)),
            None => None,
        };
        let target = if t2 == ExecutionTarget::Cuda { ExecutionTarget::Cuda } else { ExecutionTarget::Cpu };
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
            tokenizer,
            glossary,
            text_encoder: Mutex::new(text_encoder),
            denoiser: Mutex::new(denoiser),
            decoder: Mutex::new(decoder),
            encoder,
            target,
        })
    }

    /// The manifest in force.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where the denoiser runs.
    pub fn target(&self) -> ExecutionTarget {
        self.target
    }

    /// Checks a request against what the model can make; its resolution.
    pub fn check(&self, req: &GenerationRequest) -> GenResult<[usize; 2]> {
        self.plan(req).map(|p| p.size)
    }

    /// What a request resolves to, or why the model cannot make it.
    pub fn plan(&self, req: &GenerationRequest) -> GenResult<Plan> {
        let m = &self.manifest;
        if req.duration_seconds < m.min_duration_seconds || req.duration_seconds > m.max_duration_seconds {
            return Err(GenError::BadRequest(format!(
                "duration must be between {} and {} seconds",
                m.min_duration_seconds, m.max_duration_seconds
            )));
        }
        let size = m.resolution(req.aspect_ratio).ok_or_else(|| {
            GenError::BadRequest(format!("aspect ratio {:?} is not supported by this model", req.aspect_ratio))
        })?;
        if let Some(r) = &req.reference
            && r.len() != m.embed_dim()
        {
            return Err(GenError::BadRequest(format!("reference embedding must have {} values", m.embed_dim())));
        }
        let steps = req.steps.unwrap_or(m.steps());
        if steps < m.sampling.min_steps || steps > m.max_steps() {
            return Err(GenError::BadRequest(format!(
                "steps must be between {} and {}",
                m.sampling.min_steps,
                m.max_steps()
            )));
        }
        let guidance = req.guidance_scale.unwrap_or(m.sampling.guidance_scale);
        if !guidance.is_finite() || guidance < 1.0 || guidance > m.max_guidance_scale() {
            return Err(GenError::BadRequest(format!(
                "guidance scale must be between 1 and {}",
                m.max_guidance_scale()
            )));
        }
        let frames = m.frame_count(req.duration_seconds);
        Ok(Plan { size, frames, shape: m.latent_shape(frames, size), steps, guidance })
    }

    /// Token states, masks and pooled vectors of `prompts` (after the manifest's glossary),
    /// padded to the longest.
    pub fn encode_text(&self, prompts: &[&str]) -> GenResult<TextEncoding> {
        let m = &self.manifest;
        let e = &m.text_encoder;
        let expanded: Vec<_> = prompts.iter().map(|p| self.glossary.expand(p)).collect();
        let expanded: Vec<&str> = expanded.iter().map(|p| p.as_ref()).collect();
        let batch = self.tokenizer.encode_batch(&expanded)?;
        let shape = [batch.rows, batch.len];
        let mut inputs: Vec<(String, ort::session::SessionInputValue<'_>)> =
            vec![(e.input_ids.clone(), tensors::int64("text_encoder", &shape, batch.ids.clone())?.into())];
        if let Some(name) = &e.attention_mask {
            inputs.push((name.clone(), tensors::int64("text_encoder", &shape, batch.mask.clone())?.into()));
        }
        if let Some(name) = &e.token_type_ids {
            inputs.push((name.clone(), tensors::int64("text_encoder", &shape, vec![0; batch.ids.len()])?.into()));
        }
        let mut session = lock(&self.text_encoder, "text_encoder")?;
        let outputs = session.run(inputs).map_err(model_err("text_encoder"))?;
        let output = |name: &str| {
            outputs
                .get(name)
                .ok_or_else(|| GenError::Model { model: "text_encoder", message: format!("no output `{name}`") })
        };
        let (hshape, hidden) = tensors::read_f32("text_encoder", output(&e.output)?)?;
        let dim = e.embed_dim;
        if hshape != [batch.rows, batch.len, dim] {
            return Err(GenError::Model {
                model: "text_encoder",
                message: format!("output shape {hshape:?}, expected [{}, {}, {dim}]", batch.rows, batch.len),
            });
        }
        let mask: Vec<f32> = batch.mask.iter().map(|&v| v as f32).collect();
        let mut pooled = match (e.pooling, &e.pooled_output) {
            (Pooling::Output, Some(name)) => {
                let (pshape, p) = tensors::read_f32("text_encoder", output(name)?)?;
                if pshape != [batch.rows, dim] {
                    return Err(GenError::Model {
                        model: "text_encoder",
                        message: format!("pooled output shape {pshape:?}, expected [{}, {dim}]", batch.rows),
                    });
                }
                p
            }
            (Pooling::First, _) => {
                hidden.chunks_exact(batch.len * dim).flat_map(|row| row.iter().take(dim)).copied().collect()
            }
            _ => {
                let mut out = vec![0f32; batch.rows * dim];
                for ((acc, states), m) in out
                    .chunks_exact_mut(dim)
                    .zip(hidden.chunks_exact(batch.len * dim))
                    .zip(mask.chunks_exact(batch.len))
                {
                    let real: f32 = m.iter().sum::<f32>().max(1.0);
                    for (state, &w) in states.chunks_exact(dim).zip(m) {
                        for (a, s) in acc.iter_mut().zip(state) {
                            *a += w * s;
                        }
                    }
                    acc.iter_mut().for_each(|a| *a /= real);
                }
                out
            }
        };
        if e.normalize {
            for row in pooled.chunks_exact_mut(dim) {
                let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        Ok(TextEncoding { rows: batch.rows, len: batch.len, dim, hidden, mask, pooled })
    }

    /// Makes one clip. `on_step(done, total)` is called after every denoiser step;
    /// `cancelled()` is polled before each step.
    pub fn generate(
        &self,
        req: &GenerationRequest,
        on_step: &mut dyn FnMut(usize, usize),
        cancelled: &dyn Fn() -> bool,
    ) -> GenResult<(Frames, StageTimings)> {
        let mut results =
            self.generate_batch(std::slice::from_ref(req), &mut |_, done, total| on_step(done, total), &|_| {
                cancelled()
            });
        results.pop().unwrap_or(Err(GenError::Cancelled))
    }

    /// Makes several clips, sharing each denoiser call. Every request must have the batch key
    /// ([`Plan::batch_key`]) of the first; one that does not, or that the model cannot make,
    /// gets its error and the others go on. `on_step(index, done, total)` reports progress per
    /// request; `cancelled(index)` drops a request from the batch at the next step.
    pub fn generate_batch(
        &self,
        reqs: &[GenerationRequest],
        on_step: &mut dyn FnMut(usize, usize, usize),
        cancelled: &dyn Fn(usize) -> bool,
    ) -> Vec<GenResult<(Frames, StageTimings)>> {
        let mut results: Vec<Option<GenResult<(Frames, StageTimings)>>> = reqs.iter().map(|_| None).collect();
        let plans: Vec<GenResult<Plan>> = reqs.iter().map(|r| self.plan(r)).collect();
        let Some(first) = plans.iter().find_map(|p| p.as_ref().ok()).copied() else {
            return plans.into_iter().map(|p| Err(p.err().unwrap_or(GenError::Cancelled))).collect();
        };
        let mut members = vec![];
        for (i, p) in plans.into_iter().enumerate() {
            match p {
                Ok(p) if p.batch_key() == first.batch_key() => members.push(i),
                Ok(_) => {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(Err(GenError::BadRequest(
                            "requests of different shapes or step counts cannot share a batch".into(),
                        )));
                    }
                }
                Err(e) => {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(Err(e));
                    }
                }
            }
        }
        match self.run_batch(reqs, &members, first, on_step, cancelled) {
            Ok(done) => {
                for (i, r) in done {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            }
            Err(e) => {
                // A failure of a shared stage fails every member alike.
                let message = e.to_string();
                for &i in &members {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(Err(match &e {
                            GenError::Model { model, .. } => GenError::Model { model, message: message.clone() },
                            GenError::BadRequest(m) => GenError::BadRequest(m.clone()),
                            _ => GenError::Model { model: "pipeline", message: message.clone() },
                        }));
                    }
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Err(GenError::Cancelled))).collect()
    }

    #[allow(clippy::type_complexity)]
    fn run_batch(
        &self,
        reqs: &[GenerationRequest],
        members: &[usize],
        plan: Plan,
        on_step: &mut dyn FnMut(usize, usize, usize),
        cancelled: &dyn Fn(usize) -> bool,
    ) -> GenResult<Vec<(usize, GenResult<(Frames, StageTimings)>)>> {
        let m = &self.manifest;
        let shape = plan.shape;
        let n = shape.len();
        let mut out = vec![];

        // Text: every member's negative and positive prompt in one encoder call.
        let t0 = Instant::now();
        let mut prompts: Vec<&str> = vec![];
        for &i in members {
            let Some(r) = reqs.get(i) else { continue };
            prompts.push(r.negative_prompt.as_deref().unwrap_or(&m.sampling.negative_prompt));
            prompts.push(&r.prompt);
        }
        let text = self.encode_text(&prompts)?;
        let text_encode = t0.elapsed();

        let t1 = Instant::now();
        let mut items = vec![];
        for (k, &i) in members.iter().enumerate() {
            let Some(r) = reqs.get(i) else { continue };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(r.seed);
            let source = match (&r.source, &m.denoiser.source_latents) {
                (Some(src), Some(_)) => self.encode_source(src, shape, plan.size)?,
                _ => vec![0.0; n],
            };
            items.push(Item {
                index: i,
                x: (0..n).map(|_| StandardNormal.sample(&mut rng)).collect(),
                guidance: r.guidance_scale.unwrap_or(m.sampling.guidance_scale),
                reference: r.reference.clone().unwrap_or_else(|| vec![0.0; m.embed_dim()]),
                source,
                text_rows: (2 * k, 2 * k + 1),
            });
        }
        let sampler = Sampler::new(&m.sampling, plan.steps);
        let mut bound: Option<Bound> = None;
        for step in 0..sampler.steps() {
            items.retain(|it| {
                if cancelled(it.index) {
                    out.push((it.index, Err(GenError::Cancelled)));
                    false
                } else {
                    true
                }
            });
            if items.is_empty() {
                break;
            }
            // A batch member that was cancelled changes the rows: bind the conditioning again.
            let b = match bound.take() {
                Some(b) if b.members.iter().copied().eq(items.iter().map(|it| it.index)) => b,
                _ => self.bind_conditioning(&items, &text, shape)?,
            };
            let b = bound.insert(b);
            let pred = self.denoise_step(&items, b, shape, sampler.model_timestep(step))?;
            for (it, (&rows, &offset)) in items.iter_mut().zip(b.counts.iter().zip(&b.starts)) {
                let Some(values) = pred.get(offset * n..(offset + rows) * n) else { continue };
                let v = if rows == 2 {
                    let (u, c) = values.split_at(n);
                    guide(u, c, it.guidance)
                } else {
                    values.to_vec()
                };
                sampler.step(step, &mut it.x, &v);
                on_step(it.index, step + 1, sampler.steps());
            }
        }
        let denoise = t1.elapsed();

        for it in items {
            let t2 = Instant::now();
            let decoded = self.decode(&it.x, shape, plan.frames);
            let result = decoded.map(|rgb| {
                let [width, height] = plan.size;
                let timings = StageTimings { text_encode, denoise, decode: t2.elapsed() };
                (Frames { width, height, fps: m.fps, rgb }, timings)
            });
            out.push((it.index, result));
        }
        Ok(out)
    }

    /// Binds what stays the same through the steps of a batch (each row's pooled text, token
    /// states, mask, reference and source latents) and the output, once: ONNX Runtime copies the
    /// inputs to the denoiser's device when they are bound, so on CUDA the conditioning crosses
    /// to the GPU once a batch instead of once a step. Each row is one guidance branch of one
    /// item: its unconditional and conditional prompt, or the conditional alone at scale 1.
    fn bind_conditioning(&self, items: &[Item], text: &TextEncoding, shape: LatentShape) -> GenResult<Bound> {
        let m = &self.manifest;
        let d = &m.denoiser;
        let p = d.precision;
        let (mut pooled, mut hidden, mut mask, mut refs, mut src) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut counts, mut starts) = (vec![], vec![]);
        let mut rows = 0usize;
        for it in items {
            let pair = if it.guidance > 1.0 { vec![it.text_rows.0, it.text_rows.1] } else { vec![it.text_rows.1] };
            starts.push(rows);
            counts.push(pair.len());
            for r in pair {
                pooled.extend_from_slice(text.pooled(r));
                hidden.extend_from_slice(text.hidden_row(r));
                mask.extend_from_slice(text.mask_row(r));
                refs.extend_from_slice(&it.reference);
                src.extend_from_slice(&it.source);
                rows += 1;
            }
        }
        let lshape = [rows, shape.channels, shape.frames, shape.height, shape.width];
        let mut inputs: Vec<(&str, DynValue)> = vec![];
        if let Some(name) = &d.text_embeds {
            inputs.push((name, tensors::float("denoiser", p, &[rows, text.dim], pooled)?));
        }
        if let Some(name) = &d.text_tokens {
            inputs.push((name, tensors::float("denoiser", p, &[rows, text.len, text.dim], hidden)?));
        }
        if let Some(name) = &d.text_mask {
            inputs.push((name, tensors::float("denoiser", p, &[rows, text.len], mask)?));
        }
        if let Some(name) = &d.reference {
            inputs.push((name, tensors::float("denoiser", p, &[rows, m.embed_dim()], refs)?));
        }
        if let Some(name) = &d.source_latents {
            inputs.push((name, tensors::float("denoiser", p, &lshape, src)?));
        }
        let mut binding = lock(&self.denoiser, "denoiser")?.create_binding().map_err(model_err("denoiser"))?;
        for (name, value) in &inputs {
            binding.bind_input(*name, value).map_err(model_err("denoiser"))?;
        }
        // The scheduler's update runs on the host, so the velocity comes back to host memory
        // (from the GPU on CUDA) every step.
        binding.bind_output_to_device(d.output.as_str(), &MemoryInfo::default()).map_err(model_err("denoiser"))?;
        Ok(Bound { members: items.iter().map(|it| it.index).collect(), binding, rows, counts, starts })
    }

    /// One denoiser call for all items, on the conditioning bound for exactly these items: only
    /// the latents and the timestep are bound afresh.
    /// Returns the velocity rows, laid out as `bound.counts` and `bound.starts` say.
    fn denoise_step(&self, items: &[Item], bound: &mut Bound, shape: LatentShape, t: f32) -> GenResult<Vec<f32>> {
        let d = &self.manifest.denoiser;
        let p = d.precision;
        let n = shape.len();
        let rows = bound.rows;
        let mut lat = Vec::with_capacity(rows * n);
        for (it, &count) in items.iter().zip(&bound.counts) {
            for _ in 0..count {
                lat.extend_from_slice(&it.x);
            }
        }
        let lshape = [rows, shape.channels, shape.frames, shape.height, shape.width];
        let latents = tensors::float("denoiser", p, &lshape, lat)?;
        let timestep = tensors::float("denoiser", p, &[rows], vec![t; rows])?;
        bound.binding.bind_input(d.latents.as_str(), &latents).map_err(model_err("denoiser"))?;
        bound.binding.bind_input(d.timestep.as_str(), &timestep).map_err(model_err("denoiser"))?;
        let mut session = lock(&self.denoiser, "denoiser")?;
        let outputs = session.run_binding(&bound.binding).map_err(model_err("denoiser"))?;
        let value = outputs
            .get(d.output.as_str())
            .ok_or_else(|| GenError::Model { model: "denoiser", message: format!("no output `{}`", d.output) })?;
        let (_, values) = tensors::read_f32("denoiser", value)?;
        if values.len() != rows * n {
            return Err(GenError::Model {
                model: "denoiser",
                message: format!("output has {} values, expected {}", values.len(), rows * n),
            });
        }
        Ok(values)
    }

    /// Decodes one clip's latents to `frames` RGB frames, in the manifest's tiles.
    pub fn decode(&self, latents: &[f32], shape: LatentShape, frames: usize) -> GenResult<Vec<Vec<u8>>> {
        let d = &self.manifest.decoder;
        let tiling = Tiling {
            frames: d.tile_frames,
            frame_overlap: d.tile_frame_overlap,
            cells: d.tile_cells,
            cell_overlap: d.tile_cell_overlap,
        };
        self.decode_tiled(latents, shape, frames, tiling)
    }

    /// [`Pipeline::decode`] with other tiles (0 in a field: the whole extent at once).
    pub fn decode_tiled(
        &self,
        latents: &[f32],
        shape: LatentShape,
        frames: usize,
        tiling: Tiling,
    ) -> GenResult<Vec<Vec<u8>>> {
        let m = &self.manifest;
        let d = &m.decoder;
        let scale = Scale { temporal: m.latent.temporal_compression, spatial: m.latent.spatial_compression };
        let mut session = lock(&self.decoder, "decoder")?;
        let mut run = |tile: Vec<f32>, s: LatentShape| -> GenResult<Vec<f32>> {
            let input = tensors::float("decoder", d.precision, &[1, s.channels, s.frames, s.height, s.width], tile)?;
            let outputs = session.run(vec![(d.latents.clone(), input)]).map_err(model_err("decoder"))?;
            let value = outputs
                .get(d.output.as_str())
                .ok_or_else(|| GenError::Model { model: "decoder", message: format!("no output `{}`", d.output) })?;
            let (oshape, values) = tensors::read_f32("decoder", value)?;
            let want = [1, 3, s.frames * scale.temporal, s.height * scale.spatial, s.width * scale.spatial];
            if oshape != want {
                return Err(GenError::Model {
                    model: "decoder",
                    message: format!("output shape {oshape:?}, expected {want:?}"),
                });
            }
            Ok(values)
        };
        let mut rgb = Vec::with_capacity(frames);
        decode_tiled(latents, shape, scale, tiling, &mut run, &mut |f| {
            if rgb.len() < frames {
                rgb.push(f);
            }
        })?;
        if rgb.len() < frames {
            return Err(GenError::Model {
                model: "decoder",
                message: format!("decoded {} frames, expected {frames}", rgb.len()),
            });
        }
        Ok(rgb)
    }

    /// A remix source's latents at this clip's shape: its first frames, resized to the clip's
    /// size, through the encoder; latent frames beyond the source's are zeros.
    fn encode_source(&self, src: &SourceClip, shape: LatentShape, [width, height]: [usize; 2]) -> GenResult<Vec<f32>> {
        let (Some(spec), Some(session)) = (&self.manifest.encoder, &self.encoder) else {
            return Ok(vec![0.0; shape.len()]);
        };
        let tc = self.manifest.latent.temporal_compression;
        let available = src.rgb.len() / tc;
        if available == 0 || src.width == 0 || src.height == 0 {
            return Ok(vec![0.0; shape.len()]);
        }
        let lf = available.min(shape.frames);
        let frames = lf * tc;
        let pixels = width * height;
        let mut planar = vec![0f32; 3 * frames * pixels];
        for (f, frame) in src.rgb.iter().take(frames).enumerate() {
            for y in 0..height {
                let sy = y * src.height / height;
                for x in 0..width {
                    let sx = x * src.width / width;
                    let at = (sy * src.width + sx) * 3;
                    for ch in 0..3 {
                        let v = frame.get(at + ch).copied().unwrap_or(0);
                        if let Some(slot) = planar.get_mut((ch * frames + f) * pixels + y * width + x) {
                            *slot = f32::from(v) / 255.0;
                        }
                    }
                }
            }
        }
        let input = tensors::float("encoder", spec.precision, &[1, 3, frames, height, width], planar)?;
        let mut s = lock(session, "encoder")?;
        let outputs = s.run(vec![(spec.frames.clone(), input)]).map_err(model_err("encoder"))?;
        let value = outputs
            .get(spec.output.as_str())
            .ok_or_else(|| GenError::Model { model: "encoder", message: format!("no output `{}`", spec.output) })?;
        let (oshape, values) = tensors::read_f32("encoder", value)?;
        if oshape != [1, shape.channels, lf, shape.height, shape.width] {
            return Err(GenError::Model {
                model: "encoder",
                message: format!(
                    "output shape {oshape:?}, expected [1, {}, {lf}, {}, {}]",
                    shape.channels, shape.height, shape.width
                ),
            });
        }
        // [C, lf, h, w] into [C, F, h, w], zeros after the source's frames.
        let plane = shape.height * shape.width;
        let mut out = vec![0f32; shape.len()];
        for (c, chunk) in values.chunks_exact(lf * plane).enumerate() {
            if let Some(dst) = out.get_mut(c * shape.frames * plane..(c * shape.frames + lf) * plane) {
                dst.copy_from_slice(chunk);
            }
        }
        Ok(out)
    }
}

/// The denoiser's IO binding for one composition of a batch (`members`: the items' request
/// indices), with `rows` guidance rows, `counts[i]` of them for item i, starting at `starts[i]`.
struct Bound {
    members: Vec<usize>,
    binding: IoBinding,
    rows: usize,
    counts: Vec<usize>,
    starts: Vec<usize>,
}
