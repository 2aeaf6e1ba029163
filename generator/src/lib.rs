//! The generation service's core: the model manifest, the ONNX Runtime pipeline (tokenizer →
//! text encoder → denoiser steps with a flow-matching scheduler and classifier-free guidance →
//! decoder → RGB frames), and the finishing stages between decoding and encoding: the frame
//! check, visible and invisible watermarks, and C2PA signing of the encoded MP4 (`finish`).
//!
//! Architecture invariant: knows nothing of HTTP, GraphQL, SQL or the backend crate. It turns a
//! `GenerationRequest` into frames, reporting progress per step and stopping at the next step
//! when asked to cancel. Any exported ONNX video model plugs in through a manifest.

pub mod assemble;
pub mod batch;
pub mod finish;
pub mod glossary;
pub mod journal;
pub mod manifest;
pub mod pipeline;
pub use jobs::reference;
pub mod runtime;
pub mod scheduler;
pub mod setup;
pub mod sound;
pub mod speech;
pub mod storyboard;
pub mod tensors;
pub mod tiling;
pub mod tokenizer;
pub mod worker;

/// Everything that can go wrong in generation.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The manifest cannot be read or does not make sense.
    #[error("model manifest {path}: {message}")]
    Manifest {
        /// The manifest file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// ONNX Runtime cannot be loaded.
    #[error("ONNX Runtime library not usable at {path}: {message}. Run scripts/setup.sh, or set APP_ORT_DYLIB_PATH")]
    Runtime {
        /// Where it was looked for.
        path: String,
        /// The loader's message.
        message: String,
    },
    /// A model failed to load or run.
    #[error("model {model}: {message}")]
    Model {
        /// Which stage.
        model: &'static str,
        /// ONNX Runtime's message.
        message: String,
    },
    /// The request cannot be served by this model (duration, aspect ratio…).
    #[error("{0}")]
    BadRequest(String),
    /// The request would not fit in this worker's memory budget (another worker may take it).
    #[error("{0}")]
    DoesNotFit(String),
    /// The finishing stages' configuration is wrong or incomplete (thresholds, keys, certificates).
    #[error("configuration: {0}")]
    Config(String),
    /// A finishing stage (frame check, watermark, frame strip, signing) failed.
    #[error("{stage}: {message}")]
    Finish {
        /// Which stage.
        stage: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The worker's journal could not be opened, read or written.
    #[error("journal {op}: {message}")]
    Journal {
        /// What was being done (`open`, `record taken`, `read output`, …).
        op: &'static str,
        /// SQLite's (or the runtime's) message.
        message: String,
    },
    /// Cancelled at a step boundary.
    #[error("cancelled")]
    Cancelled,
}

/// Result alias.
pub type GenResult<T> = Result<T, GenError>;
