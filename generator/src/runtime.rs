//! ONNX Runtime: the one environment of the process (ONNX Runtime allows a single one), loaded
//! dynamically from the PyPI wheel's library, and the choice of execution provider.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::{GenError, GenResult};

/// Where inference should run: the `inference_device` key of the shared configuration.
pub use config::DevicePreference;

/// Where a session actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionTarget {
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// NVIDIA CUDA provider.
    Cuda,
}

impl ExecutionTarget {
    /// Lower-case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionTarget::Cpu => "cpu",
            ExecutionTarget::Cuda => "cuda",
        }
    }
}

/// The library file used when none is configured: `ORT_DYLIB_PATH`, else the symlink that
/// `scripts/setup.sh` makes in the project's virtual environment.
pub fn default_dylib_path() -> PathBuf {
    if let Ok(p) = std::env::var("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    PathBuf::from(".venv/ort/libonnxruntime.so")
}

static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();
static ENV_PATH: OnceLock<PathBuf> = OnceLock::new();

/// The process-wide environment, created on first use from the library at `dylib`.
pub fn environment(dylib: &Path) -> GenResult<&'static Environment> {
    let runtime_err = |message: String| GenError::Runtime { path: dylib.display().to_string(), message };
    if !dylib.exists() {
        return Err(runtime_err("file not found".into()));
    }
    let _ = ENV_PATH.set(dylib.to_path_buf());
    let env = ENV.get_or_init(|| {
        let builder = ort::init_from(dylib).map_err(|e| e.to_string())?;
        builder.with_name("generator").build().map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|e| runtime_err(e.clone()))
}

/// Opens one model, on CUDA when preferred and available, else on CPU; says which.
pub fn open_session(
    env: &Environment,
    model: &'static str,
    file: &Path,
    device: DevicePreference,
    intra_threads: usize,
) -> GenResult<(Session, ExecutionTarget)> {
    let model_err = |e: String| GenError::Model { model, message: e };
    let base = || -> GenResult<ort::session::builder::SessionBuilder> {
        let b = Session::builder(env).map_err(|e| model_err(e.to_string()))?;
        let b = b.with_optimization_level(GraphOptimizationLevel::All).map_err(|e| model_err(e.to_string()))?;
        if intra_threads > 0 {
            b.with_intra_threads(intra_threads).map_err(|e| model_err(e.to_string()))
        } else {
            Ok(b)
        }
    };
    if device != DevicePreference::Cpu {
        let available = ep::CUDA::is_available().unwrap_or(false);
        if available {
            let attempt = base()?
                .with_execution_providers([ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| e.to_string())
                .and_then(|mut b| b.commit_from_file(file).map_err(|e| e.to_string()));
            match attempt {
                Ok(s) => return Ok((s, ExecutionTarget::Cuda)),
                Err(e) => tracing::warn!(model, error = %e, "CUDA execution provider did not register; using CPU"),
            }
        } else if device == DevicePreference::Cuda {
            tracing::warn!(model, "this ONNX Runtime build has no CUDA execution provider; using CPU");
        }
    }
    let session = base()?.commit_from_file(file).map_err(|e| model_err(e.to_string()))?;
    Ok((session, ExecutionTarget::Cpu))
}
