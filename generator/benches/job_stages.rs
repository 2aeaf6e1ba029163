//! Per-stage benchmark of one generation job through the real worker path (in-process queue,
//! ONNX Runtime pipeline, frame check, watermarks, H.264/MP4 encode, C2PA signing with a local
//! CA, local media store): queue wait, text encode, denoise, decode, moderate, watermark,
//! sound (speech, ambience, mix; beside the frame check and the marks), encode, mux, sign, store;
//! H.264 encode frames per second; and the share of the job's wall time spent outside the model.
//! The prompt has one spoken line, so the sound stage runs speech, ambience and the mix (env
//! BENCH_AUDIO = FULL | AMBIENCE | SILENT, default FULL).
//!
//! Run: `cargo bench -p generator --bench job_stages` (env: BENCH_JOBS, default 5; BENCH_MANIFEST,
//! an absolute path, default `models/tiny/manifest.toml`;
//! BENCH_DEVICE = cpu | cuda | auto, default auto). Default job: 512×512, 48 frames (4 s at 12 fps).
//! BENCH_SECONDS = N makes each job a storyboard of N seconds in shots of at most 8 s (as even as
//! they go, every other one a crossfade). The process's peak resident memory (VmHWM) is printed
//! at the end: run one length per process to read it per length. BENCH_HELPERS = N adds N workers
//! with nothing else to do (each with its own batcher over the same loaded model; with
//! BENCH_THREADS = T, the ONNX Runtime threads per model, each loads its own, as another generator
//! process on its own device would) that make a storyboard's later shots ahead (`Worker::help`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // bench code

use std::sync::Arc;
use std::time::{Duration, Instant};

use config::ModerationConfig;
use generator::batch::{BatchSettings, Batcher};
use generator::finish::{Finisher, finish_config};
use generator::journal::Journal;
use generator::pipeline::{Pipeline, PipelineOptions};
use generator::runtime::{self, DevicePreference, default_dylib_path};
use generator::worker::Worker;
use jobs::{AspectRatio, JobEvent, JobQueue, JobSpec, QueueSettings};
use media::MediaStore;

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let jobs_n: usize = std::env::var("BENCH_JOBS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let device = match std::env::var("BENCH_DEVICE").as_deref() {
        Ok("cpu") => DevicePreference::Cpu,
        Ok("cuda") => DevicePreference::Cuda,
        _ => DevicePreference::Auto,
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest =
        std::env::var("BENCH_MANIFEST").map(Into::into).unwrap_or_else(|_| root.join("models/tiny/manifest.toml"));
    let dir = std::env::temp_dir().join(format!("job-bench-{}", uuid::Uuid::new_v4().simple()));
    // BENCH_THREADS: ONNX Runtime threads per loaded model (0: all cores).
    let threads: usize = std::env::var("BENCH_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let opts = PipelineOptions { dylib: default_dylib_path(), device, intra_threads: threads };
    let load = Instant::now();
    let pipeline = Arc::new(Pipeline::load(&manifest, &opts).unwrap());
    println!(
        "model {} v{} on {} (loaded in {:?})",
        pipeline.manifest().name,
        pipeline.manifest().version,
        pipeline.target().as_str(),
        load.elapsed()
    );
    let settings = ModerationConfig {
        frame_classifier: root.join(ModerationConfig::default().frame_classifier),
        ..ModerationConfig::default()
    };
    let load = Instant::now();
    let finisher =
        Finisher::load(finish_config(&dir, &settings).unwrap(), runtime::environment(&opts.dylib).unwrap()).unwrap();
    println!("frame classifier and signer loaded in {:?}", load.elapsed());
    let queue = JobQueue::memory(QueueSettings::default());
    let worker = Worker {
        queue: queue.clone(),
        batcher: Batcher::new(pipeline.clone(), BatchSettings::default()),
        media: MediaStore::local(&dir.join("media")).unwrap(),
        journal: Journal::open(&dir.join("journal.sqlite")).await.unwrap(),
        name: "bench".into(),
        finisher: Arc::new(finisher),
        speech: Arc::new(generator::speech::SpeechEngine::load(&generator::speech::SpeechConfig::default()).unwrap()),
    };
    let helpers: usize = std::env::var("BENCH_HELPERS").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    for h in 0..helpers {
        // With BENCH_THREADS set, each helper loads the model for itself (its own cores, as
        // another generator process on its own device would have).
        let model = if threads > 0 { Arc::new(Pipeline::load(&manifest, &opts).unwrap()) } else { pipeline.clone() };
        let helper = Worker {
            name: format!("helper-{h}"),
            batcher: Batcher::new(model, BatchSettings::default()),
            ..worker.clone()
        };
        tokio::spawn(async move {
            loop {
                if !helper.help().await {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }
    let audio = match std::env::var("BENCH_AUDIO").as_deref() {
        Ok("AMBIENCE") => jobs::AudioMode::Ambience,
        Ok("SILENT") => jobs::AudioMode::Silent,
        _ => jobs::AudioMode::Full,
    };
    let storyboard: Option<u32> = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok());
    let shots: Vec<jobs::Shot> = match storyboard {
        Some(total) => {
            let n = total.div_ceil(8).max(1);
            (0..n)
                .map(|k| jobs::Shot {
                    prompt: format!("the boat turns, part {}", k + 1),
                    seconds: total / n + u32::from(k < total % n),
                    transition: if k % 2 == 1 { jobs::Transition::Crossfade } else { jobs::Transition::Cut },
                    source: None,
                })
                .collect()
        }
        None => vec![],
    };
    let mut rows = vec![];
    for i in 0..jobs_n {
        let spec = JobSpec {
            job_id: uuid::Uuid::new_v4(),
            user_id: uuid::Uuid::new_v4(),
            prompt: format!("a paper boat drifting down a rainy street, take {i}. Ann says \"look at it go\""),
            seed: i as u64,
            duration_seconds: storyboard.unwrap_or(4),
            aspect_ratio: AspectRatio::Square,
            reference: None,
            enqueued_at: chrono::Utc::now(),
            author_username: "bench_user".into(),
            remix: None,
            cameos: vec![],
            audio,
            dialogue: if audio.speaks() {
                jobs::dialogue::Script::parse("Ann says \"look at it go\"").lines
            } else {
                vec![]
            },
            shots: shots.clone(),
            parts: vec![],
            trace_parent: None,
        };
        let start = Instant::now();
        queue.enqueue(&spec).await.unwrap();
        let d = queue.next("bench", Duration::from_secs(1)).await.unwrap().unwrap();
        worker.handle(d).await;
        let wall = start.elapsed();
        let events = queue.next_events("bench", "b", Duration::from_millis(100), 1000).await.unwrap();
        let ids: Vec<String> = events.iter().map(|(id, _)| id.clone()).collect();
        queue.ack_events("bench", &ids).await.unwrap();
        let out = events
            .into_iter()
            .find_map(|(_, e)| match e {
                JobEvent::Succeeded { output, job_id } if job_id == spec.job_id => Some(output),
                _ => None,
            })
            .expect("job succeeded");
        rows.push((wall, out));
    }
    let frames = rows[0].1.frame_count;
    let s = |f: fn(&jobs::StageMillis) -> u64| median(rows.iter().map(|(_, o)| f(&o.stages)).collect());
    let wall = median(rows.iter().map(|(w, _)| w.as_millis() as u64).collect());
    let (qw, te, dn, dc, en, mx, st) = (
        s(|x| x.queue_wait),
        s(|x| x.text_encode),
        s(|x| x.denoise),
        s(|x| x.decode),
        s(|x| x.encode),
        s(|x| x.mux),
        s(|x| x.store),
    );
    let (md, wm, sg, au) = (s(|x| x.moderate), s(|x| x.watermark), s(|x| x.sign), s(|x| x.audio));
    println!(
        "job: {}x{} x {frames} frames, {} steps, {jobs_n} runs (medians)",
        rows[0].1.width,
        rows[0].1.height,
        pipeline.manifest().steps()
    );
    println!("  queue wait   {qw:>6} ms");
    println!("  text encode  {te:>6} ms");
    println!("  denoise      {dn:>6} ms");
    println!("  decode       {dc:>6} ms");
    println!(
        "  moderate     {md:>6} ms   ({} frames scored, max {:.3})",
        rows[0].1.frame_scores.len(),
        rows[0].1.frame_scores.iter().copied().fold(0.0f32, f32::max)
    );
    println!("  watermark    {wm:>6} ms");
    println!(
        "  sound        {au:>6} ms   ({audio:?}; {:.1}% of wall, run beside moderate + watermark)",
        100.0 * au as f64 / wall.max(1) as f64
    );
    println!(
        "  encode       {en:>6} ms   (H.264 and the Opus sound track: {:.0} frames/s)",
        f64::from(frames) / (en.max(1) as f64 / 1000.0)
    );
    println!("  mux          {mx:>6} ms");
    println!("  sign         {sg:>6} ms");
    println!("  store        {st:>6} ms");
    println!("  wall         {wall:>6} ms");
    let model = te + dn + dc;
    println!(
        "  non-model overhead: {:.1}% of wall ({} ms outside text encode + denoise + decode)",
        100.0 * (wall.saturating_sub(model)) as f64 / wall.max(1) as f64,
        wall.saturating_sub(model)
    );
    // Peak resident memory of the whole process (model, classifier and every job so far).
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0);
    println!("  peak RSS     {:>6} MB   ({} shots, {helpers} helping workers)", peak / 1024, shots.len().max(1));
    std::fs::remove_dir_all(&dir).ok();
}
