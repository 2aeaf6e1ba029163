//! From the shared configuration ([`config::Config`]) to what a worker runs with: used by the
//! `generator` binary and by the backend's in-process workers, so both read the same keys the
//! same way; and `stop_signal`, how both binaries hear they should stop.

use std::path::PathBuf;

use config::{InferenceConfig, QueueConfig, StorageConfig};
use jobs::QueueSettings;
use media::{MediaError, MediaStore};

use crate::pipeline::PipelineOptions;
use crate::runtime::default_dylib_path;

/// The queue's delivery settings (`queue_max_deliveries`, `queue_reclaim_idle_secs`,
/// `queue_retry_backoff_secs`, `queue_stop_grace_secs`).
pub fn queue_settings(q: &QueueConfig) -> QueueSettings {
    QueueSettings {
        max_deliveries: q.max_deliveries,
        reclaim_idle: q.reclaim_idle,
        retry_backoff: q.retry_backoff,
        stop_grace: q.stop_grace,
    }
}

/// The media store: the S3 bucket when `s3_bucket` is set, else `<data_dir>/media`.
pub fn media_store(s: &StorageConfig) -> Result<MediaStore, MediaError> {
    match &s.s3_bucket {
        Some(bucket) => MediaStore::s3(
            bucket,
            s.s3_endpoint.as_deref(),
            &s.s3_region,
            s.s3_access_key.as_ref().map(|k| k.expose().as_str()).unwrap_or_default(),
            s.s3_secret_key.as_ref().map(|k| k.expose().as_str()).unwrap_or_default(),
            s.s3_allows_http(),
        ),
        None => MediaStore::local(&s.data_dir.join("media")),
    }
}

/// The ONNX Runtime library: `ort_dylib_path`, else [`default_dylib_path`].
pub fn dylib(i: &InferenceConfig) -> PathBuf {
    i.ort_dylib_path.clone().unwrap_or_else(default_dylib_path)
}

/// How to load the model (`ort_dylib_path`, `inference_device`, `inference_threads`).
pub fn pipeline_options(i: &InferenceConfig) -> PipelineOptions {
    PipelineOptions { dylib: dylib(i), device: i.device, intra_threads: i.threads }
}

/// Which voices speak the dialogue (`voice_model`, `flite_path`; the ONNX Runtime library and
/// threads of the model).
pub fn speech_config(i: &InferenceConfig) -> crate::speech::SpeechConfig {
    crate::speech::SpeechConfig {
        piper_voice: i.voice_model.clone(),
        ort_dylib: dylib(i),
        flite: i.flite_path.clone(),
        ..crate::speech::SpeechConfig::default()
    }
}

/// How the process's worker tasks share the model ([`crate::batch::Batcher`]).
pub fn batch_settings(i: &InferenceConfig) -> crate::batch::BatchSettings {
    crate::batch::BatchSettings { max: i.batch_max, window: i.batch_window, budget_mb: i.memory_budget_mb }
}

/// The journal file of the worker called `worker`: `<data_dir>/journal/<worker>.sqlite`. A
/// restarted worker of the same name finds its journal again.
pub fn journal_path(s: &StorageConfig, worker: &str) -> PathBuf {
    s.data_dir.join("journal").join(format!("{worker}.sqlite"))
}

/// Resolves when the process is asked to stop: SIGTERM (what Kubernetes, systemd and `docker
/// stop` send) or SIGINT (Ctrl-C). Both binaries then finish what they hold before exiting.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops this process"),
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal can be received: never resolve.
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn settings_follow_the_configuration() {
        let q = QueueConfig { max_deliveries: 5, reclaim_idle: Duration::from_secs(7), ..QueueConfig::default() };
        let s = queue_settings(&q);
        assert_eq!((s.max_deliveries, s.reclaim_idle, s.retry_backoff), (5, Duration::from_secs(7), q.retry_backoff));
        let storage = StorageConfig { data_dir: "/srv/sv".into(), ..StorageConfig::default() };
        assert_eq!(journal_path(&storage, "gen-a"), PathBuf::from("/srv/sv/journal/gen-a.sqlite"));
        let i = InferenceConfig {
            ort_dylib_path: Some("/opt/ort.so".into()),
            device: config::DevicePreference::Cpu,
            threads: 3,
            ..InferenceConfig::default()
        };
        let o = pipeline_options(&i);
        assert_eq!(
            (o.dylib, o.device, o.intra_threads),
            (PathBuf::from("/opt/ort.so"), config::DevicePreference::Cpu, 3)
        );
    }
}
