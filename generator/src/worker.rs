//! The worker loop: take a job from the queue, run the pipeline, check and watermark the frames,
//! encode H.264/MP4 and a thumbnail, sign the MP4 (C2PA), store them, report progress and the
//! result, acknowledge. At-least-once delivery with effect once: media keys are derived from the
//! job id (a re-put overwrites the same object), the journal remembers finished outputs, and the
//! backend applies a result once. A clip the frame check blocks is stored nowhere and ends in
//! `JobEvent::Rejected`.
//!
//! One job, in order (`Worker::handle`, then `generate`):
//!
//! 1. A job the journal has as finished is reported again from the journal; a cancelled one ends
//!    with `Cancelled`; otherwise the journal records it taken and `Started { worker, attempt }` goes
//!    out.
//! 2. A remix's source MP4 is read once from the media store (its frames fold into the reference
//!    vector when the model has a `reference` input, and its first frames become the request's
//!    `source` when the model has `source_latents`; the file becomes the C2PA ingredient); a source
//!    that cannot be read is logged and the job goes on without it.
//! 3. `Pipeline::check` (a request the model cannot make is `Failed` with its reason, no retry), then
//!    `Batcher::generate` (`batch.rs`: jobs of one shape that the process's worker tasks hold at
//!    once share each denoiser call; a job over the memory budget is handed back). A storyboard
//!    (`spec.shots`) is one request per shot (`storyboard.rs`: the shot's prompt with the world's,
//!    seed `seed + n`, the same reference), all checked first, then made in order, progress
//!    counted over every shot's steps. Each shot made is kept (`Worker::part_key`, an H.264 MP4
//!    in the media store) and a later delivery takes the kept shots as they are; after each kept
//!    shot but the last, if jobs are waiting, the storyboard makes way (`JobQueue::requeue`: to
//!    the back, not counted as an attempt) and ends this delivery (`Outcome::Yielded`); a retry
//!    that kept a new shot does the same, so attempts count deliveries in a row that kept
//!    nothing new (each shot gets every try, and a failed shot is retried alone). The kept
//!    shots are deleted when the job ends. Shots run in parallel on free workers: a worker that
//!    finds no job waiting takes a shot the queue offers (`Worker::help`: the storyboard's new
//!    shots after the first, last first) and keeps it; the storyboard's delivery takes each shot
//!    kept, waits for one another worker holds (`Worker::take_shot`), and claims and makes the
//!    others (`JobQueue::claim_shot`), so no shot is made twice while its holder lives. A shot that remakes part of an earlier video (extend,
//!    stitch: `Shot::source`) takes that video's request and likeness (`JobSpec::parts`, read
//!    once: its file, the likeness of its cameos and remix source) and must match its stored
//!    file (`check_remade`), else the job fails naming the shot. Beside the pipeline, a watcher
//!    polls `is_cancelled` (the pipeline drops the job at its next step) and renews the delivery
//!    (`keep_alive`, three times per `reclaim_idle`) until the output is stored, and a forwarder
//!    publishes `Progress` per step.
//! 4. Each shot, as soon as it is made, goes through `assemble.rs::Assembly::add` on a blocking
//!    thread: `Finisher::check_shot` on the frames as the model made them, the join to the video
//!    so far (`storyboard::join`), the marks (`Finisher::watermark_run`: visible `@author`,
//!    invisible `payload_for_video(job id)`, at each frame's place in the whole video) and the
//!    H.264 encoder (`media::H264Stream`; the manifest's fps, an IDR frame every 2 s); only one
//!    shot's frames are in memory. A frame the check blocks ends the job `Rejected` at once
//!    (later shots not made; nothing stored or retried).
//! 5. `Moderating`; `sound::make` (`sound.rs`): the sound track (`FULL`: the spec's dialogue in a
//!    voice per speaker over ambience from the prompt, a window per shot; `AMBIENCE`; `SILENT`;
//!    `KEEP_SOURCE`: the remix source's packets) and its captions; `Assembly::finish` (the held-back
//!    end, the sound as Opus, the mux, a thumbnail of the middle frame, the strip of scored
//!    frames), then `Finisher::sign` (model, versions, video id, cameo consents, remix and part
//!    ingredients; verified once; its hash covers the sound track too).
//! 6. Strip, thumbnail and captions are stored before the video (`strips/`, `thumbs/`,
//!    `captions/<job>.vtt`, `videos/<job>.…`), so a stored video always has them; an S3 store
//!    that does not answer is asked again for up to `STORE_WAIT` (10 minutes) with the output kept
//!    and the delivery alive (`put_output`); the stage times become `StageMillis`.
//! 7. The journal records the output, `Succeeded { output }` is published (five tries), then the
//!    delivery is acknowledged. A final event that cannot be published leaves the delivery
//!    unacknowledged, so it comes back and is re-sent.
//!
//! Any other failure of an attempt (model, frame check, marks, encoder, signing, store, journal)
//! hands the delivery back (`retry_later`: backoff, then the dead letter). The worker reads no
//! service database and never checks consent: the backend re-checks it when it applies the result.
//!
//! Stopping (`run`'s `shutdown`, SIGTERM in both binaries): the worker takes no new job; the job in
//! hand gets `queue_stop_grace_secs` to finish, after which it is handed back whole (`requeue`,
//! no attempt counted) for another worker (`handle_within_grace`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jobs::{Delivery, JobEvent, JobOutput, JobQueue, StageMillis};
use media::{EncodeOptions, MediaStore};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use moderation::provenance::ProvenanceInfo;

use crate::batch::Batcher;
use crate::finish::Finisher;
use crate::journal::{Ended, Journal};
use crate::pipeline::{Frames, GenerationRequest, SourceClip};
use crate::sound::SoundRequest;
use crate::speech::SpeechEngine;
use crate::{GenError, GenResult};

/// Longest side of thumbnails.
pub const THUMBNAIL_SIDE: u32 = 480;

/// What a worker needs.
#[derive(Clone)]
pub struct Worker {
    /// The queue (jobs in, events out).
    pub queue: JobQueue,
    /// The loaded model, behind the process's batcher (shared by its worker tasks).
    pub batcher: Batcher,
    /// Where media go.
    pub media: MediaStore,
    /// Local journal (what it took and finished; see [`Worker::handle`]).
    pub journal: Journal,
    /// Consumer name (unique per worker).
    pub name: String,
    /// Frame check, watermarks and C2PA signing.
    pub finisher: Arc<Finisher>,
    /// The voices that speak the dialogue (`sound.rs`).
    pub speech: Arc<SpeechEngine>,
}

/// How long a finished job waits for a remote media store that does not take its outputs before
/// the attempt counts as failed ([`Worker::put_output`]).
pub const STORE_WAIT: Duration = Duration::from_secs(600);

/// Resolves `grace` after `shutdown` turns true; never when it does not (or its sender is gone
/// without saying so).
async fn grace_ran_out(mut shutdown: watch::Receiver<bool>, grace: Duration) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(grace).await;
}

/// How a generation ended when it did not fail.
enum Outcome {
    /// Stored and ready.
    Done(Box<JobOutput>),
    /// Blocked by the frame check; nothing stored.
    Rejected {
        /// Safe to show the user.
        reason: String,
        /// The scored frames.
        frame_indices: Vec<u32>,
        /// Their scores.
        frame_scores: Vec<f32>,
    },
    /// A storyboard made way for waiting jobs after a shot it kept (`JobQueue::requeue`): its
    /// next delivery starts from the next shot.
    Yielded {
        /// Shots made and kept so far.
        kept: usize,
    },
}

/// Aborts a side task when dropped (on every way out of `generate`).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Raises a flag when dropped. Beside each generation's cancellation flag: a generation whose
/// future is dropped (the stop grace ran out) stops the model at its next step, instead of running
/// on, unseen, on a blocking thread that would also keep the process from exiting.
struct RaiseOnDrop(Arc<AtomicBool>);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A storyboard shot this worker holds (`JobQueue::claim_shot`), renewed three times per
/// `reclaim_idle` until it is released; dropped unreleased (an error on the way), it is released
/// in the background.
struct ShotClaim {
    queue: JobQueue,
    job: uuid::Uuid,
    shot: usize,
    holder: String,
    renew: Option<AbortOnDrop>,
}

impl ShotClaim {
    fn hold(queue: JobQueue, job: uuid::Uuid, shot: usize, holder: String) -> Self {
        let every = (queue.settings().reclaim_idle / 3).max(Duration::from_millis(100));
        let renew = {
            let (queue, holder) = (queue.clone(), holder.clone());
            AbortOnDrop(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = queue.claim_shot(job, shot, &holder).await {
                        tracing::warn!(job = %job, shot = shot + 1, error = %e, "could not renew a shot's claim");
                    }
                }
            }))
        };
        Self { queue, job, shot, holder, renew: Some(renew) }
    }

    async fn release(mut self) {
        self.renew = None;
        if let Err(e) = self.queue.release_shot(self.job, self.shot, &self.holder).await {
            tracing::warn!(job = %self.job, shot = self.shot + 1, error = %e, "could not release a shot; its claim runs out");
        }
    }
}

impl Drop for ShotClaim {
    fn drop(&mut self) {
        if self.renew.take().is_some()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (queue, job, shot, holder) =
                (self.queue.clone(), self.job, self.shot, std::mem::take(&mut self.holder));
            runtime.spawn(async move {
                let _ = queue.release_shot(job, shot, &holder).await;
            });
        }
    }
}

/// A storyboard's shot as its delivery finds it (`Worker::take_shot`).
enum Taken {
    /// Made and kept already (by an earlier delivery or a helping worker).
    Kept(Frames),
    /// To be made here; the claim, unless the queue could not be asked.
    Mine(Option<ShotClaim>),
}

/// The sound stage running beside the frame check: aborted if the job ends before it is joined
/// (a blocked clip, a failed mark), joined once otherwise.
struct SoundTask(Option<tokio::task::JoinHandle<GenResult<crate::sound::Sound>>>);

impl SoundTask {
    async fn join(mut self) -> GenResult<crate::sound::Sound> {
        match self.0.take() {
            Some(handle) => handle.await.map_err(|e| GenError::Finish { stage: "sound", message: e.to_string() })?,
            None => Err(GenError::Finish { stage: "sound", message: "joined twice".into() }),
        }
    }
}

impl Drop for SoundTask {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

/// Runs CPU-heavy work off the async threads, in a span named after `stage` (under the job's);
/// a panic in it is an internal error of `stage`.
async fn blocking<T: Send + 'static>(
    stage: &'static str,
    f: impl FnOnce() -> GenResult<T> + Send + 'static,
) -> GenResult<T> {
    let span = tracing::info_span!("stage", otel.name = stage);
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| GenError::Finish { stage, message: e.to_string() })?
}

/// The span of one delivery of a job, in the trace of the request that created the job.
fn job_span(name: &'static str, worker: &str, spec: &jobs::JobSpec, attempt: u32) -> tracing::Span {
    let span = tracing::info_span!(
        "job",
        otel.name = name,
        otel.kind = "consumer",
        job.id = %spec.job_id,
        job.attempt = attempt,
        job.shots = spec.shots.len(),
        job.seconds = spec.duration_seconds,
        job.shot = tracing::field::Empty,
        worker = worker,
    );
    telemetry::continue_trace(&span, spec.trace_parent.as_deref());
    span
}

/// A failure while making shot `index` of `count`, naming the shot when there are several (so a
/// storyboard that ends `FAILED` says which shot); a cancellation stays as it is.
fn in_shot(e: GenError, index: usize, count: usize) -> GenError {
    if count < 2 {
        return e;
    }
    let shot = index + 1;
    match e {
        GenError::BadRequest(m) => GenError::BadRequest(format!("shot {shot}: {m}")),
        GenError::DoesNotFit(m) => GenError::DoesNotFit(format!("shot {shot}: {m}")),
        GenError::Model { model, message } => GenError::Model { model, message: format!("shot {shot}: {message}") },
        other => other,
    }
}

/// An earlier video a job's shots remake, as read for this delivery.
struct Part {
    /// Its signed MP4 (the ingredient).
    mp4: Vec<u8>,
    /// Frame width and height.
    size: (usize, usize),
    /// A grey thumbnail of each of its frames (`storyboard::grey_thumbnail`).
    thumbnails: Vec<Vec<f64>>,
    /// Its cameos' likeness.
    reference: Option<Vec<f32>>,
    /// The video it remixed, whose frames also conditioned it.
    remix_mp4: Option<Vec<u8>>,
}

/// Refuses a remade shot whose frames are not those of the video it remakes (see
/// `storyboard::difference`); a shot with no source passes.
fn check_remade(
    spec: &jobs::JobSpec,
    index: usize,
    frames: &Frames,
    parts: &HashMap<uuid::Uuid, Part>,
) -> GenResult<()> {
    let Some(source) = spec.shots.get(index).and_then(|s| s.source.as_ref()) else {
        return Ok(());
    };
    let shot = index + 1;
    let part = parts
        .get(&source.video_id.0)
        .ok_or_else(|| GenError::BadRequest(format!("shot {shot}: the video it comes from can no longer be read")))?;
    let offset = source.offset_seconds as usize * frames.fps as usize;
    match crate::storyboard::difference(frames, &part.thumbnails, part.size, offset) {
        Some(d) if d <= crate::storyboard::SAME_FRAMES => {
            tracing::debug!(shot, difference = d, video = %source.video_id, "remade shot matches its source");
            Ok(())
        }
        found => {
            tracing::warn!(shot, difference = ?found, video = %source.video_id, "remade shot differs from its source");
            Err(GenError::BadRequest(format!(
                "shot {shot} did not come out as it is in the video it comes from, so that video cannot be reused"
            )))
        }
    }
}

/// Whether a job is no longer waiting or in flight, or was cancelled (a queue that does not
/// answer counts as neither).
async fn job_ended(queue: &JobQueue, job: uuid::Uuid) -> bool {
    !queue.is_live(job).await.unwrap_or(true) || queue.is_cancelled(job).await.unwrap_or(false)
}

/// The request for one shot of a storyboard (`storyboard::plan`: prompt, seed, seconds) with the
/// job's likeness; the same wherever the shot is made (its delivery, or a helping worker).
fn shot_request(
    spec: &jobs::JobSpec,
    base: &GenerationRequest,
    (prompt, seed, seconds): (String, u64, u32),
) -> GenerationRequest {
    let mut r = GenerationRequest::new(prompt, seed, seconds, spec.aspect_ratio);
    r.reference = base.reference.clone();
    r
}

/// A shot as a storyboard keeps it (`Worker::store_part`): H.264 at 20 Mbit/s, near lossless at
/// the model's sizes. Blocking.
fn encode_part(frames: &Frames) -> GenResult<Vec<u8>> {
    let fps = frames.fps;
    let opts = EncodeOptions { fps, bitrate_kbps: 20_000, keyframe_interval: fps.saturating_mul(2).max(1) };
    media::encode_mp4(frames.width, frames.height, &frames.rgb, &opts)
        .map(|v| v.mp4)
        .map_err(|e| GenError::Model { model: "encoder", message: e.to_string() })
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Worker {
    /// Runs until `shutdown` turns true (finishing the job in hand first).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.name, engine = self.queue.engine(), "worker started");
        // After a shot made for another storyboard, look at the queue without waiting.
        let mut helped = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let block = if helped { Duration::ZERO } else { Duration::from_secs(1) };
            let next = tokio::select! {
                n = self.queue.next(&self.name, block) => n,
                _ = shutdown.changed() => continue,
            };
            match next {
                Ok(Some(d)) => {
                    helped = false;
                    let span = job_span("generate video", &self.name, &d.spec, d.attempt);
                    self.handle_within_grace(d, &shutdown).instrument(span).await;
                }
                // No job waits: make a shot of a storyboard another worker is on, if one is offered.
                Ok(None) => {
                    helped = tokio::select! {
                        h = self.help() => h,
                        () = grace_ran_out(shutdown.clone(), self.queue.settings().stop_grace) => {
                            // The claim lapses; the storyboard's own worker makes the shot.
                            tracing::warn!(worker = %self.name, "stop grace ran out while making another worker's shot; leaving it");
                            false
                        }
                    };
                }
                Err(e) => {
                    tracing::warn!(worker = %self.name, error = %e, "queue read failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        tracing::info!(worker = %self.name, "worker stopped");
    }

    /// Publishes an event, retrying a few times; false when it could not be published.
    async fn publish(&self, event: JobEvent) -> bool {
        for attempt in 0..5u32 {
            match self.queue.publish(&event).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::warn!(worker = %self.name, job = %event.job_id(), error = %e, attempt, "event publish failed");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
                }
            }
        }
        false
    }

    /// Publishes a final event, then acknowledges the delivery. If the event cannot be
    /// published the delivery is left unacknowledged: it is handed out again and the final
    /// event re-sent (from the journal when the work was done).
    async fn finish(&self, d: &Delivery, event: JobEvent) {
        let span = tracing::info_span!("report", otel.name = %format_args!("report {}", event.name()));
        if self.publish(event).instrument(span).await {
            self.ack(d).await;
        } else {
            tracing::error!(job = %d.spec.job_id, "final event not published; leaving the job to be redelivered");
        }
    }

    /// [`Worker::handle`], but once the process is told to stop, for at most
    /// `queue_stop_grace_secs` more: a job still in hand then is handed back whole
    /// (`JobQueue::requeue`, no attempt counted) for another worker, and the journal lists it as
    /// interrupted at the next start. Stopping between two awaits of `handle` is safe: a result is
    /// published only after the journal recorded it, so a redelivery re-reports it rather than
    /// making it again.
    async fn handle_within_grace(&self, d: Delivery, shutdown: &watch::Receiver<bool>) {
        let grace = self.queue.settings().stop_grace;
        tokio::select! {
            () = self.handle(d.clone()) => {}
            () = grace_ran_out(shutdown.clone(), grace) => {
                let job = d.spec.job_id;
                match self.queue.requeue(&d).await {
                    Ok(true) => tracing::warn!(worker = %self.name, job = %job, grace_secs = grace.as_secs(),
                        "stop grace ran out with the job in hand; handed it back for another worker"),
                    Ok(false) => tracing::info!(worker = %self.name, job = %job,
                        "stop grace ran out; the job had already left this worker"),
                    Err(e) => tracing::warn!(worker = %self.name, job = %job, error = %e,
                        "stop grace ran out and the job could not be handed back; it is reclaimed after the reclaim idle time"),
                }
            }
        }
    }

    /// Processes one delivery to its end (ack, retry or dead letter).
    ///
    /// The journal is what keeps a redelivered job from being generated twice, so what
    /// happens when it fails depends on the call:
    /// - it cannot say whether the job was finished before, or cannot record that the job was
    ///   taken: the job is handed back to the queue (`retry_later`: another attempt after the
    ///   backoff, maybe on another worker; dead-lettered after `queue_max_deliveries`), not
    ///   generated without a record. A generation the journal does not know of could, after a
    ///   crash, run again and overwrite media whose first result the backend already applied
    ///   (possibly with another verdict on hardware that is not bit-exact).
    /// - it cannot record the output of a job whose media are stored: the result is reported
    ///   and acknowledged anyway (that is what makes it count); only a redelivery of this job
    ///   (if the report or the acknowledgement also fails) would generate it again.
    /// - it cannot record a job ending without output (cancelled, rejected, refused): the
    ///   final event is sent anyway; a restart may list the job as interrupted.
    ///
    /// Each failure is logged with the worker, the job, the attempt and the journal file.
    pub async fn handle(&self, d: Delivery) {
        let job = d.spec.job_id;
        // Finished before (crash between store and ack): report the recorded output again.
        match self.journal.output(job).await {
            Ok(Some(output)) => {
                self.finish(&d, JobEvent::Succeeded { job_id: job, output: Box::new(output) }).await;
                return;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(
                    worker = %self.name, job = %job, attempt = d.attempt, journal = %self.journal.path().display(),
                    error = %e, "journal unreadable: cannot tell whether this job was finished before; handing it back"
                );
                self.hand_back(&d).await;
                return;
            }
        }
        if self.queue.is_cancelled(job).await.unwrap_or(false) {
            self.record_end(&d, Ended::Cancelled).await;
            self.finish(&d, JobEvent::Cancelled { job_id: job }).await;
            return;
        }
        if let Err(e) = self.journal.taken(job, d.attempt).await {
            tracing::error!(
                worker = %self.name, job = %job, attempt = d.attempt, journal = %self.journal.path().display(),
                error = %e, "journal write failed: not generating a job the journal does not know of; handing it back"
            );
            self.hand_back(&d).await;
            return;
        }
        let _ = self.publish(JobEvent::Started { job_id: job, worker: self.name.clone(), attempt: d.attempt }).await;
        match self.generate(&d).await {
            Ok(Outcome::Done(output)) => {
                if let Err(e) = self.journal.finished(job, &output).await {
                    tracing::error!(
                        worker = %self.name, job = %job, attempt = d.attempt, journal = %self.journal.path().display(),
                        error = %e, "journal write failed after the media were stored; reporting the result anyway \
                        (if it is redelivered, this job will be generated again)"
                    );
                }
                self.finish(&d, JobEvent::Succeeded { job_id: job, output }).await;
                self.drop_parts(&d.spec).await;
            }
            Ok(Outcome::Yielded { kept }) => {
                tracing::info!(job = %job, kept, attempt = d.attempt,
                    "storyboard went back to the queue after a kept shot (jobs waiting, or a retry that got further); it comes back in its turn");
            }
            Ok(Outcome::Rejected { reason, frame_indices, frame_scores }) => {
                tracing::info!(job = %job, %reason, "frame check blocked the clip");
                self.drop_parts(&d.spec).await;
                self.record_end(&d, Ended::Rejected).await;
                self.finish(&d, JobEvent::Rejected { job_id: job, reason, frame_indices, frame_scores }).await;
            }
            Err(GenError::Cancelled) => {
                self.drop_parts(&d.spec).await;
                self.record_end(&d, Ended::Cancelled).await;
                self.finish(&d, JobEvent::Cancelled { job_id: job }).await;
            }
            Err(GenError::BadRequest(reason)) => {
                self.drop_parts(&d.spec).await;
                self.record_end(&d, Ended::Refused).await;
                self.finish(&d, JobEvent::Failed { job_id: job, reason }).await;
            }
            Err(GenError::DoesNotFit(reason)) => {
                tracing::warn!(worker = %self.name, job = %job, %reason, "job exceeds this worker's memory budget; handing it back");
                self.record_end(&d, Ended::Refused).await;
                self.hand_back(&d).await;
            }
            Err(e) => {
                tracing::error!(job = %job, attempt = d.attempt, error = %e, "generation attempt failed");
                self.hand_back(&d).await;
            }
        }
    }

    /// Records a job that ended without output; a failure is logged and otherwise ignored (the
    /// final event matters more than the journal's bookkeeping of it).
    async fn record_end(&self, d: &Delivery, how: Ended) {
        if let Err(e) = self.journal.ended(d.spec.job_id, how).await {
            tracing::warn!(
                worker = %self.name, job = %d.spec.job_id, attempt = d.attempt, state = how.as_str(),
                journal = %self.journal.path().display(), error = %e,
                "journal write failed; sending the final event anyway (a restart may list the job as interrupted)"
            );
        }
    }

    /// The remix source's signed MP4, if the job remixes a video and it can be read (a source
    /// that cannot be read is logged, and the job goes on without it).
    async fn remix_source(&self, spec: &jobs::JobSpec) -> Option<Vec<u8>> {
        let r = spec.remix.as_ref()?;
        match self.media.get(&r.video_key).await {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::warn!(job = %spec.job_id, source = %r.video_id, error = %e, "remix source unreadable; generating without it");
                None
            }
        }
    }

    /// The job's request before it is split into shots: its prompt, seed, length and shape, its
    /// cameos' likeness, conditioned on the remix source's frames when there is one.
    async fn base_request(&self, spec: &jobs::JobSpec, source_mp4: Option<Vec<u8>>) -> GenResult<GenerationRequest> {
        let mut request =
            GenerationRequest::new(spec.prompt.clone(), spec.seed, spec.duration_seconds, spec.aspect_ratio);
        request.reference = spec.reference.clone();
        if let Some(mp4) = source_mp4 {
            self.condition(&mut request, mp4).await?;
        }
        Ok(request)
    }

    /// Shot `index` of a storyboard as this delivery finds it: kept (by an earlier delivery or a
    /// helping worker), or claimed to be made here. While another worker holds the shot it waits
    /// for it, looking every 250 ms: that worker keeps it, or lets it go (an error), or dies and
    /// its claim runs out after `reclaim_idle`. A queue that cannot be asked means make it here.
    async fn take_shot(
        &self,
        spec: &jobs::JobSpec,
        index: usize,
        plan: &crate::pipeline::Plan,
        cancelled: &AtomicBool,
    ) -> GenResult<Taken> {
        let job = spec.job_id;
        let mut waiting = false;
        loop {
            if let Some(frames) = self.load_part(job, index, plan).await {
                return Ok(Taken::Kept(frames));
            }
            match self.queue.claim_shot(job, index, &self.name).await {
                Ok(true) => {
                    return Ok(Taken::Mine(Some(ShotClaim::hold(self.queue.clone(), job, index, self.name.clone()))));
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(job = %job, shot = index + 1, error = %e, "could not claim a shot; making it here");
                    return Ok(Taken::Mine(None));
                }
            }
            if cancelled.load(Ordering::SeqCst) {
                return Err(GenError::Cancelled);
            }
            if !waiting {
                tracing::info!(job = %job, shot = index + 1, "another worker is making this shot; waiting for it");
                waiting = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Helps with another worker's storyboard while no job waits: takes a shot on offer
    /// (`JobQueue::next_shot`, claimed for this worker), makes it as the storyboard's own
    /// delivery would (the same request: `base_request`, `shot_request`) and keeps it where that
    /// delivery looks (`part_key`), then lets the claim go. `true` when it took a shot.
    ///
    /// Best effort, never retried: a shot that cannot be made here (any error) is logged and
    /// left to the storyboard's delivery. The frame check, the marks and the progress reports
    /// stay with that delivery. A storyboard that ends while its shot is made here (finished,
    /// cancelled, dead-lettered) keeps nothing: the shot is not stored, or is deleted again when
    /// the job turns out to have ended between the look and the store (the job's own end
    /// deletes its kept shots, so one of the two always does).
    pub async fn help(&self) -> bool {
        let work = match self.queue.next_shot(&self.name).await {
            Ok(Some(work)) => work,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(worker = %self.name, error = %e, "could not look for shots to help with");
                return false;
            }
        };
        let (job, shot) = (work.spec.job_id, work.shot);
        let claim = ShotClaim::hold(self.queue.clone(), job, shot, self.name.clone());
        let started = Instant::now();
        let span = job_span("make a storyboard's shot", &self.name, &work.spec, 1);
        span.record("job.shot", shot + 1);
        match self.make_offered_shot(&work).instrument(span).await {
            Ok(true) => tracing::info!(worker = %self.name, job = %job, shot = shot + 1, ms = ms(started.elapsed()),
                "made a shot of another worker's storyboard"),
            Ok(false) => tracing::debug!(worker = %self.name, job = %job, shot = shot + 1, "shot no longer needed"),
            Err(e) => tracing::warn!(worker = %self.name, job = %job, shot = shot + 1, error = %e,
                "could not make a shot on offer; the storyboard's worker makes it"),
        }
        claim.release().await;
        true
    }

    /// [`Worker::help`]'s work: `false` when the shot turned out not to be needed.
    async fn make_offered_shot(&self, work: &jobs::ShotWork) -> GenResult<bool> {
        let (spec, shot) = (&work.spec, work.shot);
        let job = spec.job_id;
        let key = self.part_key(job, shot);
        let store_err = |e: media::MediaError| GenError::Model { model: "media store", message: e.to_string() };
        if self.media.exists(&key).await.map_err(store_err)? {
            return Ok(false);
        }
        let planned = crate::storyboard::plan(spec)
            .into_iter()
            .nth(shot)
            .ok_or_else(|| GenError::BadRequest(format!("the storyboard has no shot {}", shot + 1)))?;
        let base = self.base_request(spec, self.remix_source(spec).await).await?;
        let request = shot_request(spec, &base, planned);
        self.batcher.pipeline().check(&request)?;
        // Stop at the next step when the storyboard ends meanwhile.
        let cancelled = Arc::new(AtomicBool::new(false));
        let _stop_model_if_dropped = RaiseOnDrop(cancelled.clone());
        let _watcher = {
            let (queue, cancelled) = (self.queue.clone(), cancelled.clone());
            AbortOnDrop(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                loop {
                    tick.tick().await;
                    if job_ended(&queue, job).await {
                        cancelled.store(true, Ordering::SeqCst);
                    }
                }
            }))
        };
        // Progress is the storyboard's delivery's to report.
        let (progress, _ignored) = mpsc::unbounded_channel::<(usize, usize)>();
        let (frames, _) = match self.batcher.generate(request, progress, cancelled).await {
            Ok(made) => made,
            Err(GenError::Cancelled) => return Ok(false),
            Err(e) => return Err(e),
        };
        let part = blocking("keeping a shot", move || encode_part(&frames)).await;
        if job_ended(&self.queue, job).await || !self.store_part(job, shot, part).await {
            return Ok(false);
        }
        if job_ended(&self.queue, job).await {
            self.media.delete(&key).await.map_err(store_err)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Where shot `index` of a storyboard is kept between deliveries (under the model's name and
    /// version, so a worker running another model makes it afresh).
    pub fn part_key(&self, job: uuid::Uuid, index: usize) -> String {
        let m = self.batcher.pipeline().manifest();
        let model: String = format!("{}-{}", m.name, m.version)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '-' })
            .collect();
        format!("{}/{model}/{index}.mp4", jobs::kept_shots_folder(job))
    }

    /// Conditions `request` on a source video's frames, as a remix is: the first frames fold
    /// into the reference vector (when the model has a `reference` input), weighing as much as
    /// all cameos together; a model with source latents also takes the first frames, as many as
    /// the clip has (the pipeline encodes them with its encoder). Unusable frames are logged and
    /// left out.
    async fn condition(&self, request: &mut GenerationRequest, mp4: Vec<u8>) -> GenResult<()> {
        let m = self.batcher.pipeline().manifest();
        let (wants_reference, wants_source) = (m.denoiser.reference.is_some(), m.denoiser.source_latents.is_some());
        if !wants_reference && !wants_source {
            return Ok(());
        }
        let frames = if wants_source { self.batcher.pipeline().plan(request)?.frames } else { 0 };
        let dim = m.embed_dim();
        let decoded = tokio::task::spawn_blocking(move || {
            let info = media::probe_mp4(&mp4).map_err(|e| e.to_string())?;
            let prefix = frames.max(crate::reference::MAX_FRAMES);
            let rgb = media::decode_mp4_prefix(&mp4, prefix).map_err(|e| e.to_string())?;
            let first = rgb.get(..crate::reference::MAX_FRAMES).unwrap_or(&rgb);
            let likeness = if wants_reference {
                Some(crate::reference::from_frames(first, info.width, info.height, dim).map_err(|e| e.to_string())?)
            } else {
                None
            };
            let clip = wants_source.then_some(SourceClip { width: info.width, height: info.height, rgb });
            Ok::<_, String>((likeness, clip))
        })
        .await
        .map_err(|e| GenError::Model { model: "remix source", message: e.to_string() })?;
        match decoded {
            Ok((likeness, clip)) => {
                if let Some(source) = likeness {
                    let cameos = request.reference.take().unwrap_or_else(|| source.clone());
                    request.reference = crate::reference::combine(&[cameos, source]);
                }
                request.source = clip;
            }
            Err(e) => tracing::warn!(error = %e, "source frames unusable; generating without them"),
        }
        Ok(())
    }

    /// Reads the job's parts (`JobSpec::parts`): each file once, with a grey thumbnail of each
    /// frame (decoded one frame at a time), and the file of the video it remixed. A part that
    /// cannot be read fails the job; a store that does not answer is retried.
    async fn parts(&self, spec: &jobs::JobSpec) -> GenResult<HashMap<uuid::Uuid, Part>> {
        let mut parts = HashMap::with_capacity(spec.parts.len());
        for p in &spec.parts {
            let mp4 = self.media.get(&p.video_key).await.map_err(|e| GenError::Finish {
                stage: "part",
                message: format!("video {} could not be read: {e}", p.video_id),
            })?;
            let remix_mp4 = match &p.remix_key {
                Some(key) => match self.media.get(key).await {
                    Ok(bytes) => Some(bytes),
                    Err(e) => {
                        tracing::warn!(part = %p.video_id, error = %e, "the part's remix source is unreadable");
                        None
                    }
                },
                None => None,
            };
            let read = blocking("part", move || {
                let info =
                    media::probe_mp4(&mp4).map_err(|e| GenError::Finish { stage: "part", message: e.to_string() })?;
                let mut thumbnails = Vec::with_capacity(info.frame_count.min(4096));
                media::decode_mp4_each(&mp4, |rgb| {
                    thumbnails.push(crate::storyboard::grey_thumbnail(&rgb, info.width, info.height));
                })
                .map_err(|e| GenError::Finish { stage: "part", message: e.to_string() })?;
                Ok((mp4, (info.width, info.height), thumbnails))
            })
            .await;
            let (mp4, size, thumbnails) = read.map_err(|e| {
                tracing::warn!(part = %p.video_id, error = %e, "part unreadable");
                GenError::BadRequest(format!("the video {} it is made from cannot be read", p.video_id))
            })?;
            parts.insert(p.video_id, Part { mp4, size, thumbnails, reference: p.reference.clone(), remix_mp4 });
        }
        Ok(parts)
    }

    /// Shot `index` as an earlier delivery kept it, if it is there and has the size and length
    /// the plan asks for; anything else (missing, unreadable, another shape) means make it again.
    async fn load_part(&self, job: uuid::Uuid, index: usize, plan: &crate::pipeline::Plan) -> Option<Frames> {
        let bytes = match self.media.get(&self.part_key(job, index)).await {
            Ok(bytes) => bytes,
            Err(media::MediaError::NotFound { .. }) => return None,
            Err(e) => {
                tracing::warn!(job = %job, shot = index + 1, error = %e, "a kept shot is unreadable; making it again");
                return None;
            }
        };
        let decoded = tokio::task::spawn_blocking(move || {
            let info = media::probe_mp4(&bytes)?;
            Ok::<_, media::MediaError>((info, media::decode_mp4(&bytes)?))
        })
        .await
        .ok()?;
        let fps = self.batcher.pipeline().manifest().fps;
        match decoded {
            Ok((info, rgb)) if rgb.len() == plan.frames && [info.width, info.height] == plan.size => {
                tracing::info!(job = %job, shot = index + 1, "a shot kept by an earlier delivery is used as it is");
                Some(Frames { width: info.width, height: info.height, fps, rgb })
            }
            Ok((info, rgb)) => {
                tracing::warn!(job = %job, shot = index + 1, frames = rgb.len(), width = info.width, height = info.height,
                    "a kept shot does not match its plan; making it again");
                None
            }
            Err(e) => {
                tracing::warn!(job = %job, shot = index + 1, error = %e, "a kept shot does not decode; making it again");
                None
            }
        }
    }

    /// Keeps a storyboard's shot for later deliveries (an H.264 MP4 at 20 Mbit/s, close to
    /// lossless at the model's sizes); `false` when it could not be kept (logged: the job goes on,
    /// but a later delivery makes the shot again).
    async fn store_part(&self, job: uuid::Uuid, index: usize, part: GenResult<Vec<u8>>) -> bool {
        let stored = match part {
            Ok(mp4) => self.media.put(&self.part_key(job, index), mp4, "video/mp4").await,
            Err(e) => {
                tracing::warn!(job = %job, shot = index + 1, error = %e, "keeping a shot failed");
                return false;
            }
        };
        match stored {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(job = %job, shot = index + 1, error = %e, "keeping a shot failed; a later delivery makes it again");
                false
            }
        }
    }

    /// Deletes a storyboard's kept shots once the job has ended (a failure is logged).
    async fn drop_parts(&self, spec: &jobs::JobSpec) {
        if spec.shots.is_empty() {
            return;
        }
        if let Err(e) = self.media.delete_prefix(&jobs::kept_shots_folder(spec.job_id)).await {
            tracing::warn!(job = %spec.job_id, error = %e, "kept shots could not be deleted");
        }
    }

    /// Stores one output of a finished job. A remote store (S3) that fails is asked again (after
    /// 1 s, doubling to at most 15 s apart) for up to [`STORE_WAIT`] while the delivery is kept
    /// alive, so an object-store outage delays a finished job instead of failing the attempt and
    /// making the video again; a local folder's failure, a cancellation or the end of the wait
    /// fail the attempt as before.
    #[tracing::instrument(
        name = "store",
        skip_all,
        fields(otel.name = %format_args!("store {content_type}"), key, bytes = bytes.len())
    )]
    async fn put_output(
        &self,
        job: uuid::Uuid,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        cancelled: &AtomicBool,
    ) -> GenResult<()> {
        if !self.media.is_remote() {
            // A local folder's failure is this machine's fault: no waiting, no copy of the bytes.
            return self
                .media
                .put(key, bytes, content_type)
                .await
                .map_err(|e| GenError::Model { model: "media store", message: e.to_string() });
        }
        let started = Instant::now();
        let mut pause = Duration::from_secs(1);
        let mut tries = 0u32;
        loop {
            tries += 1;
            let e = match self.media.put(key, bytes.clone(), content_type).await {
                Ok(()) => {
                    if tries > 1 {
                        tracing::info!(worker = %self.name, job = %job, key, tries, waited_ms = started.elapsed().as_millis() as u64,
                            "media store answers again; output stored");
                    }
                    return Ok(());
                }
                Err(e) => e,
            };
            if cancelled.load(Ordering::SeqCst) {
                return Err(GenError::Cancelled);
            }
            if started.elapsed() + pause > STORE_WAIT {
                return Err(GenError::Model { model: "media store", message: e.to_string() });
            }
            if tries == 1 {
                tracing::warn!(worker = %self.name, job = %job, key, error = %e,
                    "media store does not take the output; keeping it and asking again");
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(15));
        }
    }

    /// Gives the delivery back to the queue for a later attempt (or the dead letter).
    async fn hand_back(&self, d: &Delivery) {
        if let Err(e) = self.queue.retry_later(d).await {
            tracing::warn!(job = %d.spec.job_id, error = %e, "retry scheduling failed; the job will be reclaimed");
        }
    }

    async fn ack(&self, d: &Delivery) {
        if let Err(e) = self.queue.ack(d).await {
            tracing::warn!(job = %d.spec.job_id, error = %e, "ack failed; the job may be redelivered (its effect stays once)");
        }
    }

    async fn generate(&self, d: &Delivery) -> GenResult<Outcome> {
        let job = d.spec.job_id;
        let queue_wait = (chrono::Utc::now() - d.spec.enqueued_at).to_std().unwrap_or_default();
        // A remix's source, read once: its frames condition the model (through the reference
        // input, when the model declares one) and its signed MP4 becomes the C2PA ingredient.
        let source_mp4 = self.remix_source(&d.spec).await;
        let m = self.batcher.pipeline().manifest();
        let request = self.base_request(&d.spec, source_mp4.clone()).await?;
        // The earlier videos a storyboard's shots remake (extend, stitch), read once each: a
        // video that lent its likeness is conditioned as it was then; a part's file is what its
        // remade shots are checked against and becomes an ingredient.
        let mut parts = self.parts(&d.spec).await?;
        // A storyboard: one request per shot, the same likeness in each (`storyboard.rs`); every
        // shot is checked before the first is made.
        let requests: Vec<GenerationRequest> = if d.spec.shots.is_empty() {
            vec![request]
        } else {
            let served = format!("{} {}", m.name, m.version);
            let count = d.spec.shots.len();
            let mut requests = Vec::with_capacity(count);
            for (i, (shot, planned)) in d.spec.shots.iter().zip(crate::storyboard::plan(&d.spec)).enumerate() {
                let mut r = shot_request(&d.spec, &request, planned);
                if let Some(source) = &shot.source {
                    if source.model != served {
                        return Err(in_shot(
                            GenError::BadRequest(format!(
                                "it was made by the model {}, and this service now runs {served}, so it cannot be made again",
                                source.model
                            )),
                            i,
                            count,
                        ));
                    }
                    let likeness = parts.get(&source.likeness_of.0);
                    r.reference = likeness.and_then(|p| p.reference.clone());
                    if let Some(remixed) = likeness.and_then(|p| p.remix_mp4.clone()) {
                        self.condition(&mut r, remixed).await?;
                    }
                }
                requests.push(r);
            }
            requests
        };
        for (i, r) in requests.iter().enumerate() {
            self.batcher.pipeline().check(r).map_err(|e| in_shot(e, i, requests.len()))?;
        }

        // Side tasks while the pipeline runs: forward progress, watch for cancellation, and
        // tell the queue the job is alive so it is not reclaimed from a slow but healthy worker
        // (until the job's output is stored: the finishing stages take time too).
        let cancelled = Arc::new(AtomicBool::new(false));
        let _stop_model_if_dropped = RaiseOnDrop(cancelled.clone());
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, usize)>();
        let _watcher = {
            let (queue, cancelled, d) = (self.queue.clone(), cancelled.clone(), d.clone());
            // Renew the claim three times per reclaim window, so only a dead worker loses it.
            let renew_every = (queue.settings().reclaim_idle / 3).max(Duration::from_millis(250));
            AbortOnDrop(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(250));
                let mut renewed = Instant::now();
                loop {
                    tick.tick().await;
                    if queue.is_cancelled(job).await.unwrap_or(false) {
                        cancelled.store(true, Ordering::SeqCst);
                    }
                    if renewed.elapsed() >= renew_every {
                        let _ = queue.keep_alive(&d).await;
                        renewed = Instant::now();
                    }
                }
            }))
        };
        let forwarder = {
            let this = self.clone();
            tokio::spawn(async move {
                while let Some((step, total)) = rx.recv().await {
                    let _ =
                        this.publish(JobEvent::Progress { job_id: job, step: step as u32, total: total as u32 }).await;
                }
            })
        };
        // The shots one after another, progress counted over all of them; each is checked,
        // joined, marked and encoded as soon as it is made (`assemble.rs`), so only one shot's
        // frames are held at a time.
        let count = requests.len();
        let storyboard = count > 1;
        let plans = requests.iter().map(|r| self.batcher.pipeline().plan(r)).collect::<GenResult<Vec<_>>>()?;
        let total_frames = plans.iter().map(|p| p.frames).sum();
        let video_id = d.spec.video_id();
        let mut assembly = crate::assemble::Assembly::new(
            self.finisher.clone(),
            &d.spec.author_username,
            video_id,
            count,
            total_frames,
        );
        let mut timings = crate::pipeline::StageTimings::default();
        for (i, (r, plan)) in requests.into_iter().zip(&plans).enumerate() {
            let transition = d.spec.shots.get(i).map(|s| s.transition).unwrap_or_default();
            // A shot an earlier delivery or a helping worker made and kept is taken as it is;
            // one another worker is making is waited for; any other is claimed and made here.
            let claim = if storyboard {
                match self.take_shot(&d.spec, i, plan, &cancelled).await? {
                    Taken::Kept(frames) => {
                        // (A remade shot was checked against its source before it was kept.)
                        let _ = tx.send(((i + 1) * plan.steps, count * plan.steps));
                        assembly =
                            blocking("finishing a shot", move || assembly.add(frames, transition).map(|()| assembly))
                                .await?;
                        if assembly.blocked() {
                            break;
                        }
                        continue;
                    }
                    Taken::Mine(claim) => claim,
                }
            } else {
                None
            };
            let (shot_tx, mut shot_rx) = mpsc::unbounded_channel::<(usize, usize)>();
            let relay = {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some((step, total)) = shot_rx.recv().await {
                        let _ = tx.send((i * total + step, count * total));
                    }
                })
            };
            let model_span = tracing::info_span!(
                "model",
                otel.name = "model",
                shot = i + 1,
                text_encode_ms = tracing::field::Empty,
                denoise_ms = tracing::field::Empty,
                decode_ms = tracing::field::Empty,
            );
            let run = self.batcher.generate(r, shot_tx, cancelled.clone()).instrument(model_span.clone()).await;
            let _ = relay.await;
            let (frames, t) = run.map_err(|e| in_shot(e, i, count))?;
            model_span.record("text_encode_ms", ms(t.text_encode));
            model_span.record("denoise_ms", ms(t.denoise));
            model_span.record("decode_ms", ms(t.decode));
            check_remade(&d.spec, i, &frames, &parts)?;
            timings.text_encode += t.text_encode;
            timings.denoise += t.denoise;
            timings.decode += t.decode;
            // A storyboard keeps each shot it makes (encoded beside the finishing of the shot).
            let (done, part) = blocking("finishing a shot", move || {
                let part = storyboard.then(|| encode_part(&frames));
                assembly.add(frames, transition).map(|()| (assembly, part))
            })
            .await?;
            assembly = done;
            if assembly.blocked() {
                break;
            }
            let kept = match part {
                Some(part) => self.store_part(job, i, part).await,
                None => false,
            };
            if let Some(claim) = claim {
                claim.release().await;
            }
            // Make way for waiting jobs after each kept shot but the last: the storyboard goes to
            // the back of the queue and starts from its next shot when it comes round again, so a
            // long storyboard holds a worker one shot at a time. A retry (attempt > 1) that kept a
            // new shot goes back too, as a fresh delivery (attempt 1): attempts count deliveries
            // in a row that kept nothing new, so each shot gets every try `max_deliveries` allows,
            // and a failed shot is retried alone (those kept before it are taken as they are).
            if kept && i + 1 < count && (d.attempt > 1 || self.queue.waiting().await.unwrap_or(0) > 0) {
                match self.queue.requeue(d).await {
                    Ok(true) => {
                        drop(tx);
                        let _ = forwarder.await;
                        return Ok(Outcome::Yielded { kept: i + 1 });
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(job = %job, error = %e, "could not make way; going on"),
                }
            }
        }
        drop(tx);
        let _ = forwarder.await;
        let moderate = assembly.moderate();
        // A frame the check blocks ends the job here (later shots are not made).
        if assembly.blocked() {
            let _ = self.publish(JobEvent::Moderating { job_id: job }).await;
            let check = blocking("frame check", move || assembly.finish_check()).await?;
            tracing::info!(job = %job, verdict = check.verdict.as_str(), scores = ?check.frame_scores, "frame check");
            let reason = check.reason.unwrap_or_else(|| "the frame check blocked this video".into());
            return Ok(Outcome::Rejected {
                reason,
                frame_indices: check.frame_indices,
                frame_scores: check.frame_scores,
            });
        }
        // Shot lengths as made, for the sound's windows.
        let fps = assembly.fps().max(1);
        let shot_seconds: Vec<f64> = assembly.shot_frames().iter().map(|&n| n as f64 / f64::from(fps)).collect();

        // The sound track.
        let sound_task = {
            let (speech, spec, source) = (self.speech.clone(), d.spec.clone(), source_mp4.clone());
            let seconds = shot_seconds.iter().sum();
            let segments: Vec<crate::sound::Segment> = if spec.shots.is_empty() {
                vec![]
            } else {
                spec.shots
                    .iter()
                    .zip(&shot_seconds)
                    .map(|(shot, &seconds)| crate::sound::Segment { prompt: shot.model_prompt(&spec.prompt), seconds })
                    .collect()
            };
            let span = tracing::info_span!("stage", otel.name = "sound");
            tokio::task::spawn_blocking(move || {
                let _in = span.enter();
                let req = SoundRequest {
                    prompt: &spec.prompt,
                    mode: spec.audio,
                    dialogue: &spec.dialogue,
                    seconds,
                    seed: spec.seed,
                    source_mp4: source.as_deref(),
                    shots: &segments,
                };
                crate::sound::make(&speech, &req)
            })
        };
        let sound_task = SoundTask(Some(sound_task));
        let _ = self.publish(JobEvent::Moderating { job_id: job }).await;
        let watermark = assembly.watermark;

        let sound = sound_task.join().await?;
        tracing::info!(
            job = %job, mode = ?d.spec.audio, lines = d.spec.dialogue.len(), spoken = sound.spoken, pace = sound.pace,
            lufs = ?sound.loudness_lufs, true_peak = ?sound.true_peak_db, ms = ms(sound.elapsed), "sound"
        );
        let has_audio = sound.track.is_some();
        let track = sound.track;
        // The held-back end marked, the sound muxed in, the frame check concluded.
        let crate::assemble::Assembled { mut video, thumbnail: thumb, check, watermark_id } =
            blocking("encoder", move || assembly.finish(track.as_ref())).await?;
        tracing::info!(job = %job, verdict = check.verdict.as_str(), scores = ?check.frame_scores, "frame check");

        // The source's signed MP4 travels as the ingredient, so the new manifest carries the
        // source's provenance; a source that could not be read is named without its manifest.
        let remix_source = d.spec.remix.as_ref().map(|r| moderation::provenance::RemixSource {
            video_id: r.video_id.to_string(),
            title: r.title.clone(),
            source_mp4,
        });

        // C2PA manifest into the encoded file, verified once.
        let m = self.batcher.pipeline().manifest();
        let info = ProvenanceInfo {
            title: format!("SoraVibe video {video_id}"),
            video_id: video_id.to_string(),
            model_name: m.name.clone(),
            model_version: m.version.clone(),
            generator_version: env!("CARGO_PKG_VERSION").into(),
            remix_source,
            parts: d
                .spec
                .parts
                .iter()
                .filter(|p| p.ingredient)
                .map(|p| moderation::provenance::RemixSource {
                    video_id: p.video_id.to_string(),
                    title: p.title.clone(),
                    source_mp4: parts.remove(&p.video_id).map(|p| p.mp4),
                })
                .collect(),
            cameos: d
                .spec
                .cameos
                .iter()
                .map(|c| moderation::provenance::CameoConsent {
                    cameo_id: c.cameo_id.to_string(),
                    owner_id: c.owner_id.to_string(),
                    consent_version: c.consent_version,
                })
                .collect(),
        };
        let started = Instant::now();
        let signed = {
            let (finisher, mp4) = (self.finisher.clone(), std::mem::take(&mut video.mp4));
            blocking("C2PA signing", move || finisher.sign(&mp4, &info)).await?
        };
        let sign = started.elapsed();

        let store_start = Instant::now();
        let video_key = format!("videos/{job}.mp4");
        let thumbnail_key = format!("thumbs/{job}.jpg");
        let frame_strip_key = format!("strips/{job}.jpg");
        let captions_key = sound.captions.as_ref().map(|_| format!("captions/{job}.vtt"));
        // The strip, thumbnail and captions first: a stored video always has them.
        if let Some(strip) = check.strip_jpeg {
            self.put_output(job, &frame_strip_key, strip, "image/jpeg", &cancelled).await?;
        }
        if let (Some(key), Some(vtt)) = (&captions_key, sound.captions) {
            self.put_output(job, key, vtt.into_bytes(), "text/vtt", &cancelled).await?;
        }
        self.put_output(job, &thumbnail_key, thumb, "image/jpeg", &cancelled).await?;
        self.put_output(job, &video_key, signed.mp4, "video/mp4", &cancelled).await?;
        let store = store_start.elapsed();

        Ok(Outcome::Done(Box::new(JobOutput {
            video_key,
            thumbnail_key,
            width: video.width as u32,
            height: video.height as u32,
            duration_ms: video.duration_ms,
            frame_count: video.frame_count as u32,
            fps,
            model_name: m.name.clone(),
            model_version: m.version.clone(),
            execution_provider: self.batcher.pipeline().target().as_str().into(),
            stages: StageMillis {
                queue_wait: ms(queue_wait),
                text_encode: ms(timings.text_encode),
                denoise: ms(timings.denoise),
                decode: ms(timings.decode),
                // H.264 and the sound track's Opus encode.
                encode: ms(video.timings.encode + video.timings.audio),
                mux: ms(video.timings.mux),
                store: ms(store),
                moderate: ms(moderate),
                watermark: ms(watermark),
                sign: ms(sign),
                audio: ms(sound.elapsed),
            },
            watermark_id,
            verdict: check.verdict.as_str().into(),
            frame_indices: check.frame_indices,
            frame_scores: check.frame_scores,
            verdict_reason: check.reason,
            frame_strip_key,
            manifest_issuer: signed.issuer,
            has_audio,
            captions_key,
        })))
    }
}
