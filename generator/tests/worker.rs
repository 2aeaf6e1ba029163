//! The worker end to end on the shipped tiny model (CPU): pipeline, frame check with the real
//! open_nsfw model, watermarks, H.264/MP4, C2PA with a local CA, the in-process queue and a
//! local media store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use config::{ModerationConfig, Secret};
use generator::GenError;
use generator::batch::{BatchSettings, Batcher};
use generator::finish::{FinishConfig, Finisher, finish_config};
use generator::journal::Journal;
use generator::pipeline::{GenerationRequest, Pipeline, PipelineOptions, SourceClip};
use generator::runtime::{self, DevicePreference, default_dylib_path};
use generator::speech::{SpeechConfig, SpeechEngine};
use generator::storyboard::grey_thumbnail;
use generator::worker::Worker;
use jobs::{AspectRatio, JobEvent, JobOutput, JobQueue, JobSpec, QueueSettings, RemixRef};
use media::MediaStore;
use moderation::provenance::{local_ca_root_pem, verify_mp4_trusting};
use moderation::watermark::{detect, payload_for_video};
use uuid::Uuid;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pipeline() -> Arc<Pipeline> {
    static P: OnceLock<Arc<Pipeline>> = OnceLock::new();
    P.get_or_init(|| {
        let opts = PipelineOptions { dylib: default_dylib_path(), device: DevicePreference::Cpu, intra_threads: 1 };
        Arc::new(Pipeline::load(&root().join("models/tiny/manifest.toml"), &opts).unwrap())
    })
    .clone()
}

/// One worker with its own temp directory (media, journal, key, local CA).
struct Rig {
    dir: PathBuf,
    queue: JobQueue,
    worker: Worker,
    media: MediaStore,
    config: FinishConfig,
}

impl Rig {
    async fn new(review: f32, block: f32) -> Rig {
        Rig::with_pipeline(review, block, pipeline()).await
    }

    async fn with_pipeline(review: f32, block: f32, pipeline: Arc<Pipeline>) -> Rig {
        let dir = std::env::temp_dir().join(format!("worker-test-{}", Uuid::new_v4().simple()));
        let settings = ModerationConfig {
            frame_classifier: root().join(ModerationConfig::default().frame_classifier),
            frame_review_threshold: review,
            frame_block_threshold: block,
            // A fixed key keeps the watermark's detection margin the same on every run.
            watermark_key: Some(Secret::new("5a".repeat(moderation::watermark::KEY_BYTES))),
            ..ModerationConfig::default()
        };
        let config = finish_config(&dir, &settings).unwrap();
        let env = runtime::environment(&default_dylib_path()).unwrap();
        let finisher = Finisher::load(config.clone(), env).unwrap();
        let queue = JobQueue::memory(QueueSettings {
            max_deliveries: 3,
            reclaim_idle: Duration::from_secs(60),
            retry_backoff: Duration::from_millis(20),
            stop_grace: Duration::from_secs(1),
        });
        let media = MediaStore::local(&dir.join("media")).unwrap();
        let worker = Worker {
            queue: queue.clone(),
            batcher: Batcher::new(pipeline, BatchSettings::default()),
            media: media.clone(),
            journal: Journal::open(&dir.join("journal.sqlite")).await.unwrap(),
            name: "test-worker".into(),
            finisher: Arc::new(finisher),
            speech: Arc::new(SpeechEngine::load(&SpeechConfig::default()).unwrap()),
        };
        Rig { dir, queue, worker, media, config }
    }

    fn spec(&self, author: &str, duration_seconds: u32) -> JobSpec {
        JobSpec {
            job_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            prompt: "a paper boat drifting down a rainy street".into(),
            seed: 11,
            duration_seconds,
            aspect_ratio: AspectRatio::Landscape,
            reference: None,
            enqueued_at: chrono::Utc::now(),
            author_username: author.into(),
            remix: None,
            cameos: vec![],
            audio: jobs::AudioMode::Full,
            dialogue: vec![],
            shots: vec![],
            parts: vec![],
            trace_parent: None,
        }
    }

    /// Enqueues `spec`, lets the worker handle the delivery, and returns the job's events.
    async fn run(&self, spec: &JobSpec) -> Vec<JobEvent> {
        self.queue.enqueue(spec).await.unwrap();
        let d = self.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
        self.worker.handle(d).await;
        let all = self.events().await;
        assert!(all.iter().all(|e| e.job_id() == spec.job_id));
        // The delivery was acknowledged: nothing is handed out again.
        assert!(self.queue.next("test-worker", Duration::from_millis(50)).await.unwrap().is_none());
        all
    }

    /// The events published so far.
    async fn events(&self) -> Vec<JobEvent> {
        let mut all = vec![];
        loop {
            let batch = self.queue.next_events("test", "t", Duration::from_millis(50), 100).await.unwrap();
            if batch.is_empty() {
                break;
            }
            let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
            self.queue.ack_events("test", &ids).await.unwrap();
            all.extend(batch.into_iter().map(|(_, e)| e));
        }
        all
    }

    fn ca_root(&self) -> String {
        local_ca_root_pem(&self.dir.join("c2pa")).unwrap()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn position(events: &[JobEvent], f: impl Fn(&JobEvent) -> bool) -> usize {
    events.iter().position(f).unwrap_or_else(|| panic!("event missing from {events:#?}"))
}

fn succeeded(events: &[JobEvent]) -> JobOutput {
    match events.last() {
        Some(JobEvent::Succeeded { output, .. }) => (**output).clone(),
        other => panic!("expected Succeeded last, got {other:#?} in {events:#?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_checked_watermarked_signed_and_stored() {
    let rig = Rig::new(0.4, 0.8).await;
    // 4 s: on the tiny model's noisy frames the invisible mark needs about 3 s of frames to be
    // read back at all (1–2 s clips do not decode even before H.264).
    let spec = rig.spec("fox_fan", 4);
    let job = spec.job_id;
    let events = rig.run(&spec).await;

    let started = position(&events, |e| matches!(e, JobEvent::Started { .. }));
    let last_progress = events.iter().rposition(|e| matches!(e, JobEvent::Progress { .. })).unwrap();
    let moderating = position(&events, |e| matches!(e, JobEvent::Moderating { .. }));
    assert!(started < last_progress && last_progress < moderating, "{events:#?}");
    let out = succeeded(&events);
    eprintln!("frame scores {:?} at {:?}; stages {:?}", out.frame_scores, out.frame_indices, out.stages);

    // Frame check.
    assert_eq!(out.verdict, "pass", "tiny model frames scored {:?}", out.frame_scores);
    assert_eq!(out.verdict_reason, None);
    assert!(out.frame_scores.len() >= 8);
    assert_eq!(out.frame_scores.len(), out.frame_indices.len());
    assert!(out.frame_indices.windows(2).all(|w| w[0] < w[1]));
    assert!(out.frame_scores.iter().all(|s| (0.0..0.4).contains(s)));

    // Strip of the scored frames: 8+ tiles of 213×128 (640×384 scaled to 128 high).
    assert_eq!(out.frame_strip_key, format!("strips/{job}.jpg"));
    let strip = rig.media.get(&out.frame_strip_key).await.unwrap();
    assert_eq!(&strip[..3], &[0xFF, 0xD8, 0xFF]);
    let image = image::load_from_memory_with_format(&strip, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((image.width(), image.height()), (213 * out.frame_scores.len() as u32, 128));

    // The stored video: signed, watermarked, the right size.
    assert_eq!(out.video_key, format!("videos/{job}.mp4"));
    let mp4 = rig.media.get(&out.video_key).await.unwrap();
    let info = media::probe_mp4(&mp4).unwrap();
    assert_eq!((info.width, info.height), (640, 384));
    assert_eq!((out.width, out.height, out.frame_count, out.fps), (640, 384, 48, 12));
    let found = verify_mp4_trusting(&mp4, &rig.ca_root()).unwrap();
    assert!(found.valid && found.trusted, "{:?}", found.validation_errors);
    assert_eq!(found.video_id.as_deref(), Some(job.to_string().as_str()));
    assert_eq!(found.model.as_deref(), Some("tiny-test-video 2"));
    assert_eq!(found.generator_version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(out.manifest_issuer, found.issuer);
    assert_eq!(out.manifest_issuer.as_deref(), Some("SoraVibe"));

    let payload = payload_for_video(job.as_bytes());
    assert_eq!(out.watermark_id, payload);
    let frames = media::decode_mp4(&mp4).unwrap();
    assert_eq!(frames.len(), 48);
    let detection = detect(&frames, 640, 384, &rig.config.watermark_key).unwrap();
    assert_eq!(detection.payload, Some(payload));
    // Under another key the mark reads as nothing (or at least not as this video).
    let other = detect(&frames, 640, 384, &[7u8; 32]).unwrap();
    assert_ne!(other.payload, Some(payload));

    assert!(rig.media.exists(&out.thumbnail_key).await.unwrap());
    // The journal re-reports exactly this output on a redelivery.
    assert_eq!(rig.worker.journal.output(job).await.unwrap(), Some(out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_clip_is_rejected_and_nothing_is_stored() {
    let rig = Rig::new(0.0, 0.0).await;
    let spec = rig.spec("", 1);
    let job = spec.job_id;
    let events = rig.run(&spec).await;

    let moderating = position(&events, |e| matches!(e, JobEvent::Moderating { .. }));
    let Some(JobEvent::Rejected { reason, frame_indices, frame_scores, .. }) = events.last() else {
        panic!("expected Rejected last: {events:#?}");
    };
    assert!(moderating < events.len() - 1);
    assert!(!events.iter().any(|e| matches!(e, JobEvent::Succeeded { .. } | JobEvent::Failed { .. })));
    assert!(reason.contains("block at 0.00"), "{reason}");
    assert!(frame_scores.len() >= 8);
    assert_eq!(frame_scores.len(), frame_indices.len());

    for key in [format!("videos/{job}.mp4"), format!("thumbs/{job}.jpg"), format!("strips/{job}.jpg")] {
        assert!(!rig.media.exists(&key).await.unwrap(), "{key} stored");
    }
    let videos = rig.dir.join("media/videos");
    assert!(!videos.exists() || std::fs::read_dir(&videos).unwrap().next().is_none());
    assert_eq!(rig.worker.journal.output(job).await.unwrap(), None);
    assert!(rig.worker.journal.interrupted().await.unwrap().is_empty(), "the job is journalled as ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_over_the_review_threshold_is_stored_for_review() {
    let rig = Rig::new(0.0, 1.0).await;
    let spec = rig.spec("", 1);
    let events = rig.run(&spec).await;
    let out = succeeded(&events);
    assert_eq!(out.verdict, "review");
    let reason = out.verdict_reason.clone().unwrap();
    assert!(reason.contains("review at 0.00"), "{reason}");
    assert!(rig.media.exists(&out.video_key).await.unwrap());
    assert!(rig.media.exists(&out.frame_strip_key).await.unwrap());
    let mp4 = rig.media.get(&out.video_key).await.unwrap();
    let found = verify_mp4_trusting(&mp4, &rig.ca_root()).unwrap();
    assert!(found.valid && found.trusted, "{:?}", found.validation_errors);
}

#[test]
fn a_missing_frame_classifier_stops_start_up_naming_setup() {
    let dir = std::env::temp_dir().join(format!("worker-test-{}", Uuid::new_v4().simple()));
    let settings = ModerationConfig { frame_classifier: dir.join("missing.onnx"), ..ModerationConfig::default() };
    let config = finish_config(&dir, &settings).unwrap();
    let env = runtime::environment(&default_dylib_path()).unwrap();
    let err = Finisher::load(config, env).unwrap_err();
    assert!(matches!(err, GenError::Finish { .. }), "{err:?}");
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A journal that can be read but no longer written (a full disk, a read-only mount; here a
/// trigger refuses every write): the worker does not generate a job it cannot record as taken.
/// It hands the job back to the queue each time, and after the last delivery the queue
/// dead-letters it; nothing is generated or stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_the_journal_cannot_record_is_handed_back_not_generated() {
    let rig = Rig::new(0.4, 0.8).await;
    rusqlite::Connection::open(rig.worker.journal.path())
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_insert BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'disk full'); END;
             CREATE TRIGGER refuse_update BEFORE UPDATE ON journal BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .unwrap();
    let spec = rig.spec("", 1);
    let job = spec.job_id;
    rig.queue.enqueue(&spec).await.unwrap();
    for attempt in 1..=3 {
        let d = rig.queue.next("test-worker", Duration::from_secs(5)).await.unwrap().expect("handed out again");
        assert_eq!((d.spec.job_id, d.attempt), (job, attempt));
        rig.worker.handle(d).await;
    }
    assert!(rig.queue.next("test-worker", Duration::from_millis(300)).await.unwrap().is_none(), "dead-lettered");
    let dead = rig.queue.dead_letters(10).await.unwrap();
    assert!(dead.iter().any(|l| l.spec.as_ref().is_some_and(|s| s.job_id == job)), "{dead:?}");

    let events = rig.events().await;
    assert!(!events.iter().any(|e| matches!(e, JobEvent::Started { .. } | JobEvent::Succeeded { .. })), "{events:#?}");
    assert!(matches!(events.last(), Some(JobEvent::Failed { .. })), "{events:#?}");
    assert!(!rig.media.exists(&format!("videos/{job}.mp4")).await.unwrap());
    assert_eq!(rig.worker.journal.output(job).await.unwrap(), None);
}

/// A journal that cannot be read: the worker cannot tell whether the job was finished before,
/// so it hands the job back instead of generating it blind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_handed_back_when_the_journal_cannot_be_read() {
    let rig = Rig::new(0.4, 0.8).await;
    rusqlite::Connection::open(rig.worker.journal.path()).unwrap().execute_batch("DROP TABLE journal;").unwrap();
    let spec = rig.spec("", 1);
    rig.queue.enqueue(&spec).await.unwrap();
    let d = rig.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
    rig.worker.handle(d).await;
    // Handed back: delivered again after the backoff, as attempt 2.
    let again = rig.queue.next("test-worker", Duration::from_secs(5)).await.unwrap().expect("handed out again");
    assert_eq!((again.spec.job_id, again.attempt), (spec.job_id, 2));
    assert!(rig.events().await.is_empty(), "nothing started, nothing reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remix_on_a_model_with_source_latents_is_conditioned_on_the_source_frames() {
    let opts = PipelineOptions { dylib: default_dylib_path(), device: DevicePreference::Cpu, intra_threads: 1 };
    let model = Arc::new(Pipeline::load(&root().join("models/tiny/source.toml"), &opts).unwrap());
    let rig = Rig::with_pipeline(0.4, 0.8, model.clone()).await;
    let first = rig.spec("maker", 1);
    let source = succeeded(&rig.run(&first).await);
    let mut remix = rig.spec("remixer", 1);
    remix.seed = 5;
    remix.remix =
        Some(RemixRef { video_id: first.video_id(), video_key: source.video_key.clone(), title: "boat".into() });
    let out = succeeded(&rig.run(&remix).await);
    let got = media::decode_mp4(&rig.media.get(&out.video_key).await.unwrap()).unwrap();

    // What the model makes for the remix's reference (the source's likeness, as the worker
    // computes it) with the source's first frames, and without them.
    let mp4 = rig.media.get(&source.video_key).await.unwrap();
    let info = media::probe_mp4(&mp4).unwrap();
    let dim = model.manifest().embed_dim();
    let prefix = media::decode_mp4_prefix(&mp4, generator::reference::MAX_FRAMES).unwrap();
    let likeness = generator::reference::from_frames(&prefix, info.width, info.height, dim).unwrap();
    let mut req = GenerationRequest::new(remix.prompt.clone(), remix.seed, 1, remix.aspect_ratio);
    req.reference = generator::reference::combine(&[likeness.clone(), likeness]);
    let make = |r: &GenerationRequest| model.generate(r, &mut |_, _| {}, &|| false).unwrap().0.rgb;
    let without = make(&req);
    let rgb = media::decode_mp4_prefix(&mp4, got.len()).unwrap();
    req.source = Some(SourceClip { width: info.width, height: info.height, rgb });
    let with = make(&req);
    let mean_diff = |a: &[Vec<u8>], b: &[Vec<u8>]| {
        let total: u64 =
            a.iter().zip(b).flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| u64::from(p.abs_diff(*q)))).sum();
        total as f64 / (a.len() * a[0].len()) as f64
    };
    let (near, far) = (mean_diff(&got, &with), mean_diff(&got, &without));
    // The stored clip is watermarked and H.264-encoded, so not equal to either; it is the one made
    // with the source frames.
    assert!(near * 3.0 < far, "mean difference {near} from the clip with the source, {far} without");
}

/// Shot `index` of a one-second-shot storyboard as a plain grey (200) H.264 clip of the size and
/// length its plan asks for, with that plan.
fn grey_shot(board: &JobSpec, index: usize) -> (generator::pipeline::Plan, Vec<u8>) {
    let plan = pipeline()
        .plan(&GenerationRequest::new(
            board.shots[index].model_prompt(&board.prompt),
            board.seed,
            1,
            board.aspect_ratio,
        ))
        .unwrap();
    let [w, h] = plan.size;
    let grey = vec![vec![200u8; w * h * 3]; plan.frames];
    let opts = media::EncodeOptions { fps: 12, bitrate_kbps: 20_000, keyframe_interval: 24 };
    (plan, media::encode_mp4(w, h, &grey, &opts).unwrap().mp4)
}

/// Mean distance of a frame from the grey of [`grey_shot`] (the marks change a little of it).
fn off_grey(frame: &[u8]) -> f64 {
    frame.iter().map(|&v| (f64::from(v) - 200.0).abs()).sum::<f64>() / frame.len() as f64
}

/// A storyboard keeps each shot it makes (`Worker::part_key`), makes way for a waiting job after a
/// shot (`JobQueue::requeue`), comes back from its next shot using the kept one as it is, and
/// deletes what it kept once it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storyboard_makes_way_resumes_from_its_kept_shots_and_cleans_up() {
    use jobs::{Shot, Transition};
    let rig = Rig::new(0.4, 0.8).await;
    let mut board = rig.spec("fox_fan", 3);
    board.audio = jobs::AudioMode::Silent;
    board.shots = ["it sets sail", "it drifts", "it reaches the shore"]
        .iter()
        .enumerate()
        .map(|(i, p)| Shot {
            prompt: (*p).into(),
            seconds: 1,
            transition: if i == 2 { Transition::Crossfade } else { Transition::Cut },
            source: None,
        })
        .collect();
    let other = rig.spec("fox_fan", 1);
    let key = |i: usize| rig.worker.part_key(board.job_id, i);

    rig.queue.enqueue(&board).await.unwrap();
    let d = rig.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
    rig.queue.enqueue(&other).await.unwrap();
    rig.worker.handle(d).await;
    let events = rig.events().await;
    assert!(events.iter().all(|e| !e.is_final()), "made way, not finished: {events:#?}");
    assert!(rig.media.exists(&key(0)).await.unwrap(), "shot 1 kept");
    assert!(!rig.media.exists(&key(1)).await.unwrap(), "shot 2 not made yet");

    // The waiting job goes first.
    let d = rig.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(d.spec.job_id, other.job_id);
    rig.worker.handle(d).await;
    rig.events().await;

    // Swap the kept shot 1 for a plain grey clip: the next delivery must take it as it is.
    let (plan, clip) = grey_shot(&board, 0);
    rig.media.put(&key(0), clip, "video/mp4").await.unwrap();

    let d = rig.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!((d.spec.job_id, d.attempt), (board.job_id, 1), "back in its turn, not as a retry");
    rig.worker.handle(d).await;
    let out = succeeded(&rig.events().await);
    let frames = media::decode_mp4(&rig.media.get(&out.video_key).await.unwrap()).unwrap();
    assert_eq!(frames.len(), 3 * plan.frames);
    let (one, two) = (off_grey(&frames[plan.frames / 2]), off_grey(&frames[plan.frames + plan.frames / 2]));
    assert!(one < 10.0, "shot 1 is the kept clip ({one:.1} from grey)");
    assert!(two > 30.0, "shot 2 was made by the model ({two:.1} from grey)");
    for i in 0..3 {
        assert!(!rig.media.exists(&key(i)).await.unwrap(), "kept shot {} deleted", i + 1);
    }
}

/// A three-shot silent storyboard of one-second shots.
fn three_shots(rig: &Rig) -> JobSpec {
    use jobs::{Shot, Transition};
    let mut board = rig.spec("fox_fan", 3);
    board.audio = jobs::AudioMode::Silent;
    board.shots = ["it sets sail", "it drifts under a bridge", "it reaches the shore"]
        .iter()
        .map(|p| Shot { prompt: (*p).into(), seconds: 1, transition: Transition::Cut, source: None })
        .collect();
    board
}

/// Mean absolute difference of two `width`×`height` frames' 16×16 grey thumbnails, in levels
/// (what `storyboard::difference` compares: the marks and the H.264 encodes, which differ per
/// job, are fine detail that the thumbnails average away).
fn frame_difference(a: &[u8], b: &[u8], width: usize, height: usize) -> f64 {
    let (ta, tb) = (grey_thumbnail(a, width, height), grey_thumbnail(b, width, height));
    ta.iter().zip(&tb).map(|(x, y)| (x - y).abs()).sum::<f64>() / ta.len().max(1) as f64
}

/// A worker with nothing to do makes a storyboard's later shots for it (`Worker::help`), the
/// same shot the storyboard would have made itself; the storyboard's delivery takes it as kept
/// rather than making it again, and nothing is left on offer once the storyboard is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_worker_makes_a_storyboards_later_shots_for_it() {
    let rig = Rig::new(0.4, 0.8).await;
    let helper = Worker { name: "helper".into(), ..rig.worker.clone() };
    let helped = three_shots(&rig);
    let key = |i: usize| rig.worker.part_key(helped.job_id, i);

    rig.queue.enqueue(&helped).await.unwrap();
    assert!(helper.help().await, "the last shot is on offer");
    assert!(rig.media.exists(&key(2)).await.unwrap(), "shot 3 made and kept by the helper");
    assert!(!rig.media.exists(&key(1)).await.unwrap());
    let kept_by_helper = media::decode_mp4(&rig.media.get(&key(2)).await.unwrap()).unwrap();
    let d = rig.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
    rig.worker.handle(d).await;
    let out = succeeded(&rig.events().await);
    assert!(!helper.help().await, "nothing on offer once the storyboard is done");
    for i in 0..3 {
        assert!(!rig.media.exists(&key(i)).await.unwrap(), "kept shot {} deleted", i + 1);
    }

    // The same storyboard (another job) made by its own worker alone.
    let alone = JobSpec { job_id: Uuid::new_v4(), ..helped.clone() };
    let out_alone = succeeded(&rig.run(&alone).await);
    let with_help = media::decode_mp4(&rig.media.get(&out.video_key).await.unwrap()).unwrap();
    let without = media::decode_mp4(&rig.media.get(&out_alone.video_key).await.unwrap()).unwrap();
    assert_eq!(with_help.len(), without.len());
    let per_shot = with_help.len() / 3;
    let mid = |shot: usize| shot * per_shot + per_shot / 2;
    let (w, h) = (out.width as usize, out.height as usize);
    let frame_difference = |a: &[u8], b: &[u8]| frame_difference(a, b, w, h);
    // The helper's shot is the one the storyboard makes (the marks and two encodes apart)...
    let same = frame_difference(&with_help[mid(2)], &without[mid(2)]);
    let helper_copy = frame_difference(&kept_by_helper[per_shot / 2], &without[mid(2)]);
    // ...while the shots of one storyboard differ from each other.
    let other_shot = frame_difference(&without[mid(1)], &without[mid(2)]);
    eprintln!("shot 3: {same:.2} apart ({helper_copy:.2} as kept); shots 2 and 3: {other_shot:.2}");
    assert!(same < 3.0 && helper_copy < 3.0, "helped shot 3 differs by {same:.2} ({helper_copy:.2} as kept)");
    assert!(other_shot > 4.0 * same.max(1.0), "shots 2 and 3 differ by only {other_shot:.2}");
}

/// A shot another worker holds is waited for, then taken as that worker kept it; a storyboard
/// that was cancelled offers nothing to help with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storyboard_waits_for_a_shot_another_worker_holds() {
    let rig = Rig::new(0.4, 0.8).await;
    let board = three_shots(&rig);
    let key = rig.worker.part_key(board.job_id, 1);
    rig.queue.enqueue(&board).await.unwrap();
    // Another worker holds shot 2 and keeps a plain grey clip for it a moment later.
    assert!(rig.queue.claim_shot(board.job_id, 1, "elsewhere").await.unwrap());
    let (plan, clip) = grey_shot(&board, 1);
    let elsewhere = {
        let (queue, media, key, job) = (rig.queue.clone(), rig.media.clone(), key.clone(), board.job_id);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            media.put(&key, clip, "video/mp4").await.unwrap();
            queue.release_shot(job, 1, "elsewhere").await.unwrap();
        })
    };
    let d = rig.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
    rig.worker.handle(d).await;
    elsewhere.await.unwrap();
    let out = succeeded(&rig.events().await);
    let frames = media::decode_mp4(&rig.media.get(&out.video_key).await.unwrap()).unwrap();
    let second = off_grey(&frames[plan.frames + plan.frames / 2]);
    assert!(second < 10.0, "shot 2 is the clip the other worker kept ({second:.1} from grey)");
    assert!(off_grey(&frames[plan.frames / 2]) > 30.0, "shot 1 was made by the model");

    let cancelled = three_shots(&rig);
    rig.queue.enqueue(&cancelled).await.unwrap();
    rig.queue.cancel(cancelled.job_id).await.unwrap();
    assert!(!rig.worker.help().await, "a cancelled storyboard's shots are not on offer");
}

/// A retry that keeps a new shot goes back to the queue as a fresh delivery (attempt 1): attempts
/// count deliveries in a row that kept nothing new, so each shot gets every try, and the shots
/// kept before a failure are not made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_that_keeps_a_shot_starts_the_count_again() {
    let rig = Rig::new(0.4, 0.8).await;
    let board = three_shots(&rig);
    let key = |i: usize| rig.worker.part_key(board.job_id, i);
    rig.queue.enqueue(&board).await.unwrap();
    // The first delivery fails before it keeps anything.
    let first = rig.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
    rig.queue.retry_later(&first).await.unwrap();
    let second = rig.queue.next("test-worker", Duration::from_secs(2)).await.unwrap().unwrap();
    assert_eq!((second.spec.job_id, second.attempt), (board.job_id, 2));
    rig.worker.handle(second).await;
    let events = rig.events().await;
    assert!(events.iter().all(|e| !e.is_final()), "went back after its first kept shot: {events:#?}");
    assert!(rig.media.exists(&key(0)).await.unwrap(), "shot 1 kept");
    assert!(!rig.media.exists(&key(1)).await.unwrap(), "shot 2 not made yet");
    let third = rig.queue.next("test-worker", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!((third.spec.job_id, third.attempt), (board.job_id, 1), "a fresh delivery, counted from 1");
    rig.worker.handle(third).await;
    let out = succeeded(&rig.events().await);
    assert_eq!(out.frame_count, 36);
}
