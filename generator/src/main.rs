//! `generator`: a worker process. Reads the same `APP_*` configuration as the backend, takes
//! jobs from the Redis queue, and writes media to the same store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use generator::finish::{FinishSettings, Finisher, finish_config};
use generator::journal::Journal;
use generator::pipeline::{Pipeline, PipelineOptions};
use generator::runtime::{self, DevicePreference, default_dylib_path};
use generator::worker::Worker;
use jobs::{JobQueue, QueueSettings};
use media::MediaStore;
use serde::Deserialize;

/// The keys of the shared configuration that a worker reads (others are ignored).
#[derive(Debug, Deserialize)]
#[serde(default)]
struct WorkerConfig {
    data_dir: PathBuf,
    redis_url: Option<String>,
    redis_prefix: String,
    model_manifest: PathBuf,
    ort_dylib_path: Option<PathBuf>,
    inference_device: String,
    inference_threads: usize,
    queue_max_deliveries: u32,
    queue_reclaim_idle_secs: u64,
    queue_retry_backoff_secs: u64,
    s3_bucket: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: String,
    s3_access_key: Option<String>,
    s3_secret_key: Option<String>,
    worker_name: Option<String>,
    log: String,
    frame_classifier: PathBuf,
    frame_samples: usize,
    frame_review_threshold: f32,
    frame_block_threshold: f32,
    watermark_key: Option<String>,
    c2pa_cert_chain: Option<PathBuf>,
    c2pa_private_key: Option<PathBuf>,
    c2pa_tsa_url: Option<String>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let finish = FinishSettings::default();
        Self {
            data_dir: PathBuf::from("./data"),
            redis_url: None,
            redis_prefix: "sv".into(),
            model_manifest: PathBuf::from("models/tiny/manifest.toml"),
            ort_dylib_path: None,
            inference_device: "auto".into(),
            inference_threads: 0,
            queue_max_deliveries: 3,
            queue_reclaim_idle_secs: 60,
            queue_retry_backoff_secs: 2,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key: None,
            s3_secret_key: None,
            worker_name: None,
            log: "info".into(),
            frame_classifier: finish.frame_classifier,
            frame_samples: finish.frame_samples,
            frame_review_threshold: finish.frame_review_threshold,
            frame_block_threshold: finish.frame_block_threshold,
            watermark_key: finish.watermark_key,
            c2pa_cert_chain: finish.c2pa_cert_chain,
            c2pa_private_key: finish.c2pa_private_key,
            c2pa_tsa_url: finish.c2pa_tsa_url,
        }
    }
}

impl WorkerConfig {
    fn finish_settings(&self) -> FinishSettings {
        FinishSettings {
            frame_classifier: self.frame_classifier.clone(),
            frame_samples: self.frame_samples,
            frame_review_threshold: self.frame_review_threshold,
            frame_block_threshold: self.frame_block_threshold,
            watermark_key: self.watermark_key.clone(),
            c2pa_cert_chain: self.c2pa_cert_chain.clone(),
            c2pa_private_key: self.c2pa_private_key.clone(),
            c2pa_tsa_url: self.c2pa_tsa_url.clone(),
        }
    }
}

fn load() -> Result<WorkerConfig, String> {
    let mut fig = Figment::new();
    if let Ok(path) = std::env::var("APP_CONFIG") {
        fig = fig.merge(Toml::file(path));
    }
    fig.merge(Env::prefixed("APP_").ignore(&["config"])).extract().map_err(|e| {
        let key = e.path.last().map(|k| format!("APP_{}", k.to_uppercase())).unwrap_or_else(|| "APP_*".into());
        format!("configuration: {key}: {}", e.kind)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let c = match load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&c.log))
        .with_writer(std::io::stderr)
        .init();
    match run(c).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(c: WorkerConfig) -> Result<(), String> {
    let Some(redis_url) = c.redis_url.clone() else {
        return Err(
            "the generator process needs APP_REDIS_URL (without Redis the backend runs the worker itself)".into()
        );
    };
    let device = DevicePreference::parse(&c.inference_device).ok_or_else(|| {
        format!("configuration: APP_INFERENCE_DEVICE: `{}` is not auto, cpu or cuda", c.inference_device)
    })?;
    let dylib = c.ort_dylib_path.clone().unwrap_or_else(default_dylib_path);
    let opts = PipelineOptions { dylib: dylib.clone(), device, intra_threads: c.inference_threads };
    let pipeline = {
        let manifest = c.model_manifest.clone();
        tokio::task::spawn_blocking(move || Pipeline::load(&manifest, &opts))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    // Frame check, watermark key and C2PA signer: a missing model or a bad key stops start-up.
    let finisher = {
        let (data_dir, settings) = (c.data_dir.clone(), c.finish_settings());
        tokio::task::spawn_blocking(move || {
            let config = finish_config(&data_dir, &settings)?;
            Finisher::load(config, runtime::environment(&dylib)?)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
    };
    let settings = QueueSettings {
        max_deliveries: c.queue_max_deliveries,
        reclaim_idle: Duration::from_secs(c.queue_reclaim_idle_secs),
        retry_backoff: Duration::from_secs(c.queue_retry_backoff_secs),
    };
    let queue = JobQueue::redis(&redis_url, &c.redis_prefix, settings).await.map_err(|e| e.to_string())?;
    let media = match &c.s3_bucket {
        Some(bucket) => MediaStore::s3(
            bucket,
            c.s3_endpoint.as_deref(),
            &c.s3_region,
            c.s3_access_key.as_deref().unwrap_or_default(),
            c.s3_secret_key.as_deref().unwrap_or_default(),
            c.s3_endpoint.as_deref().is_some_and(|e| e.starts_with("http://")),
        ),
        None => MediaStore::local(&c.data_dir.join("media")),
    }
    .map_err(|e| e.to_string())?;
    // A stable name: a restarted worker finds its journal (set APP_WORKER_NAME when several run on one host).
    let name = c.worker_name.clone().unwrap_or_else(|| format!("gen-{}", hostname()));
    let journal =
        Journal::open(&c.data_dir.join("journal").join(format!("{name}.sqlite"))).map_err(|e| e.to_string())?;
    // Jobs this worker held when it last stopped: the queue hands them out again after the
    // reclaim idle time; finished ones are re-reported from the journal, not regenerated.
    match journal.interrupted() {
        Ok(list) if !list.is_empty() => {
            tracing::warn!(worker = %name, jobs = ?list, "jobs were interrupted by the last stop; they will be redelivered")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "journal read failed"),
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("stopping after the job in hand");
            let _ = stop_tx.send(true);
        }
    });
    Worker {
        queue,
        pipeline: Arc::new(pipeline),
        media,
        journal: Arc::new(journal),
        name,
        finisher: Arc::new(finisher),
    }
    .run(stop_rx)
    .await;
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_owned()).unwrap_or_else(|_| "host".into())
}
