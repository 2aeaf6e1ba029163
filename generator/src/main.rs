//! `generator`: a worker process. Reads the same configuration as the backend (the `config`
//! crate: the `APP_CONFIG` file and `APP_*` variables, checked the same way), takes jobs from
//! the Redis queue, and writes media to the same store.

use std::process::ExitCode;
use std::sync::Arc;

use config::Config;
use generator::batch::Batcher;
use generator::finish::{Finisher, finish_config};
use generator::journal::Journal;
use generator::pipeline::Pipeline;
use generator::runtime;
use generator::setup;
use generator::worker::Worker;
use jobs::JobQueue;

#[tokio::main]
async fn main() -> ExitCode {
    let c = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = telemetry::init("generator", &c.log);
    let code = match run(c).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}

async fn run(c: Config) -> Result<(), String> {
    let Some(redis_url) = c.redis.url.as_ref() else {
        return Err(
            "the generator process needs APP_REDIS_URL (without Redis the backend runs the worker itself)".into()
        );
    };
    let opts = setup::pipeline_options(&c.inference);
    let dylib = opts.dylib.clone();
    let pipeline = {
        let manifest = c.inference.model_manifest.clone();
        tokio::task::spawn_blocking(move || Pipeline::load(&manifest, &opts))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    // Frame check, watermark key and C2PA signer: a missing model or a bad key stops start-up.
    let finisher = {
        let (data_dir, settings) = (c.storage.data_dir.clone(), c.moderation.clone());
        tokio::task::spawn_blocking(move || {
            let config = finish_config(&data_dir, &settings)?;
            Finisher::load(config, runtime::environment(&dylib)?)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
    };
    let queue = JobQueue::redis(redis_url.expose(), &c.redis.prefix, setup::queue_settings(&c.queue))
        .await
        .map_err(|e| e.to_string())?;
    let media = setup::media_store(&c.storage).map_err(|e| e.to_string())?;
    // A stable name: a restarted worker finds its journal (set APP_WORKER_NAME when several run on one host).
    let name = c.queue.worker_name.clone().unwrap_or_else(|| format!("gen-{}", hostname()));
    let journal = Journal::open(&setup::journal_path(&c.storage, &name)).await.map_err(|e| e.to_string())?;
    // Jobs this worker held when it last stopped: the queue hands them out again after the
    // reclaim idle time; finished ones are re-reported from the journal, not regenerated.
    match journal.interrupted().await {
        Ok(list) if !list.is_empty() => {
            tracing::warn!(worker = %name, jobs = ?list, "jobs were interrupted by the last stop; they will be redelivered")
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(worker = %name, journal = %journal.path().display(), error = %e, "journal read failed")
        }
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        setup::stop_signal().await;
        tracing::info!("stopping after the job in hand");
        let _ = stop_tx.send(true);
    });
    // One worker task per batch slot, all over one model: queued jobs of one shape are
    // denoised together (inference_batch_max; 1 is one job at a time).
    let batcher = Batcher::new(Arc::new(pipeline), setup::batch_settings(&c.inference));
    let finisher = Arc::new(finisher);
    let speech = Arc::new(
        generator::speech::SpeechEngine::load(&setup::speech_config(&c.inference)).map_err(|e| e.to_string())?,
    );
    tracing::info!(engine = speech.kind().as_str(), voices = speech.voices(), "speech engine");
    let mut tasks = vec![];
    for i in 0..c.inference.batch_max.max(1) {
        // The first task keeps the plain name, so a journal from before batching is found again.
        let name = if i == 0 { name.clone() } else { format!("{name}-{i}") };
        let journal = if i == 0 {
            journal.clone()
        } else {
            Journal::open(&setup::journal_path(&c.storage, &name)).await.map_err(|e| e.to_string())?
        };
        let w = Worker {
            queue: queue.clone(),
            batcher: batcher.clone(),
            media: media.clone(),
            journal,
            name,
            finisher: finisher.clone(),
            speech: speech.clone(),
        };
        tasks.push(tokio::spawn(w.run(stop_rx.clone())));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_owned()).unwrap_or_else(|_| "host".into())
}
