//! Generation and drafts: `createVideo` (input checks, remixes, cameo consent, the content policy,
//! per-member limits, queueing), job state from worker events (applied exactly once), cancellation,
//! queue position and ETA, deletion, and who may see which video (`Video::visible_to`: a
//! `PUBLISHED` video is everyone's, any other status only its author's and moderators').
//!
//! Invariant: every change of a job's state (events, cancel, dispatch) is a conditional update in the
//! store on the live statuses (`QUEUED`, `RUNNING`, `MODERATING`), so a repeated or late event can
//! neither end a job twice nor bring an ended one back; a job makes at most one video, which takes
//! the job's id.
//!
//! # `create`
//!
//! 1. A member; the prompt through `text::clean_text` (1–2000 characters); repeated cameo ids count
//!    once.
//! 2. A remix (`remix_of`) needs a `PUBLISHED` source not hidden by a block (else `NOT_FOUND`)
//!    whose author allows remixes (`FORBIDDEN`). The job's prompt is the source's, `". "`, and the
//!    change; duration (rounded to seconds), aspect ratio and default seed are the source's; the
//!    source's cameos join the request. The source reaches the worker as a `RemixRef` (`spec`).
//! 3. A storyboard (`shots`, not with a remix) through `storyboard::check_shots` (its length is
//!    the shots' sum); otherwise the duration within the model manifest (`ModelLimits`); the aspect
//!    ratio within it too, at most
//!    `max_cameos_per_video` cameos, then consent: `consent::consented_cameos` answers
//!    `CONSENT_REQUIRED` naming the first cameo this member may not use now.
//! 4. The content policy on the (combined) prompt with every cameo's restrictions
//!    (`POLICY_VIOLATION` with one reason per violation), before anything is written or queued.
//! 5. Per-member limits (`Store::live_jobs_of`): `queued ≥ max_queued`, or
//!    `queued + running ≥ max_queued + max_running`, is `RATE_LIMITED` with the mean duration of
//!    recent jobs.
//! 6. One unit of work: the cameo uses with the consent version that allowed each
//!    (`Tx::record_cameo_uses`, under the future video's id), the job row (`QUEUED`, not yet
//!    dispatched), a `cameo.used` notice to each owner other than the author. Then, after the commit
//!    (a worker never hears of a job whose row could still roll back), `dispatch`.
//!
//! # Dispatch and the queue
//!
//! `dispatch(member)` hands the member's oldest undispatched jobs to the queue while they have a free
//! running slot (`max_running_per_user`), marking each dispatched with a conditional update so only
//! one caller enqueues it; a job without a slot waits in the database until one of the member's jobs
//! ends (`apply_event` and `cancel` dispatch again), so one member cannot occupy every worker. The
//! `JobSpec` (`spec`) carries the author's handle (visible watermark), the remix source's media key,
//! the cameos with their consent versions and the mean of their reference vectors
//! (`jobs::reference::combine`). A queue that does not take the job (Redis down) leaves it
//! `QUEUED` and dispatched: nothing accepted is lost, `reconcile` offers it when the queue answers. `requeue_live` (at start) offers every dispatched live job to the queue
//! again (it ignores jobs it holds) and dispatches waiting ones: what an in-process queue lost in a
//! restart comes back. `reconcile` (every `reclaim_idle`, `run_reconciler`) does the same while
//! the service runs for jobs whose queue entry is gone (a Redis restarted empty): queued ones at
//! once, running ones that stopped reporting. `estimate` answers `queuePosition` (queued jobs created before it) and
//! `etaSeconds` (waiting: the seconds of video queued ahead, spread over the workers, plus the job's
//! own, times the mean wall time per second of video of the last 20 successful jobs; running: the
//! job's own time per step, or the mean of the last 20 jobs).
//!
//! # Worker events (`apply_event`, `run_event_consumer`)
//!
//! Each API node consumes the queue's event stream as consumer group `backend`; an event is
//! acknowledged after it was applied, and one that fails is redelivered. `Started` → `RUNNING`
//! (worker, attempt); `Progress` → forward-only step; `Moderating` → `MODERATING`; `Rejected` → a
//! live job `REJECTED` with `CONTENT_BLOCKED` and the frame scores; `Failed` → `FAILED`
//! (`GENERATION_FAILED`); `Cancelled` → `CANCELLED`. `Succeeded`: while the job is live, consent
//! again (`consent::uses_still_consented`, without per-video approval): a cameo withdrawn or no longer
//! allowed ends the job `REJECTED` with `CONSENT_REQUIRED` and deletes its files; an output carrying
//! a block verdict is refused; then one unit of work: `Tx::complete_job` ends the job and inserts the
//! video, or changes nothing when the job is no longer live: `DRAFT` for `PASS`, else `IN_REVIEW`
//! with a frame-check case and a `video.in_review` notice; lineage (`remix_of`, `root_id`) is set
//! there. Every event ends with `JobUpdates::notify`; a final one dispatches the
//! author's next job.
//!
//! # Cancel and delete
//!
//! `cancel` (the author, a live job; else `NOT_FOUND`/`CONFLICT`) marks the job cancelled in the queue
//! first (a waiting delivery is skipped, a running one stops at its next denoiser step), then ends
//! the row `CANCELLED`; a result that still arrives finds no live job (its media stay in the store).
//! `cancel_for_consent` ends a live job `CANCELLED` with `CONSENT_WITHDRAWN` and a `job.cancelled`
//! notice inside a cameo revocation's unit of work; `after_consent_cancel` then stops it in the queue.
//! `delete` (the author, any status) deletes the row and its cameo uses in one unit of work, then its
//! files; remixes of it
//! stay and read their source as `null`; a published video bumps the `visible` feed epoch.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use jobs::{JobEvent, JobQueue, JobSpec};
use tracing::Instrument;

use app_core::dialogue::Script;

use super::model::{
    AspectRatio, AudioMode, FrameScores, Job, JobErrorCode, JobStatus, Maturity, NotificationKind, Role, Verdict,
    Video, VideoStatus,
};
use super::storyboard::ShotRequest;
use super::updates::JobUpdates;
use super::{Caller, Deps};
use app_core::error::{AppError, AppResult};
use app_core::model::Shot;
use app_core::types::{CameoId, JobId, UserId, VideoId};
use store::Tx;
use store::generation::{NewJob, NewVideo};

/// Longest prompt, in characters.
pub const MAX_PROMPT: usize = 2000;

/// What the model can make (from its manifest).
#[derive(Debug, Clone)]
pub struct ModelLimits {
    /// Shortest clip.
    pub min_seconds: u32,
    /// Longest clip.
    pub max_seconds: u32,
    /// Aspect ratios with a resolution.
    pub aspect_ratios: Vec<AspectRatio>,
    /// Denoiser steps per job.
    pub steps: u32,
    /// The model, `"name version"` as a video records it: only videos it made can be remade
    /// into new ones (extend, stitch).
    pub model: String,
}

/// Limits per member.
#[derive(Debug, Clone, Copy)]
pub struct JobLimits {
    /// Queued jobs a member may have.
    pub max_queued_per_user: u64,
    /// Running jobs a member may have.
    pub max_running_per_user: u64,
    /// Workers serving the queue (for ETAs).
    pub workers: u64,
    /// Cameos one video may hold.
    pub max_cameos_per_video: usize,
    /// Seconds a storyboard's shots may add up to.
    pub max_storyboard_seconds: u32,
}

/// A request to generate.
pub struct CreateVideo {
    /// Prompt.
    pub prompt: String,
    /// Seconds.
    pub duration_seconds: i32,
    /// Aspect ratio.
    pub aspect_ratio: AspectRatio,
    /// Seed; random when absent (a remix's default is its source's).
    pub seed: Option<i64>,
    /// A published video to remix: the job starts from its prompt, length and shape, plus the
    /// change in `prompt`.
    pub remix_of: Option<VideoId>,
    /// Cameos to put into the scene (each needs its owner's consent now).
    pub cameo_ids: Vec<CameoId>,
    /// What the sound track holds.
    pub audio: AudioMode,
    /// A storyboard's shots (`storyboard.rs`); `prompt` then describes their world and
    /// `duration_seconds` is ignored (the video lasts as long as its shots).
    pub shots: Vec<ShotRequest>,
}

/// A request to continue a published video with new shots (`extendVideo`).
pub struct ExtendVideo {
    /// The video to continue.
    pub video_id: VideoId,
    /// The shots that follow it.
    pub shots: Vec<ShotRequest>,
}

/// A request to join one's own videos into one (`stitchVideos`).
pub struct StitchVideos {
    /// The videos, in order.
    pub video_ids: Vec<VideoId>,
    /// The new video's caption.
    pub caption: Option<String>,
}

/// A job as `admit` takes it, after the checks of the way it was asked for.
struct Admission {
    prompt: String,
    duration_seconds: i32,
    aspect_ratio: AspectRatio,
    /// `None`: a random seed.
    seed: Option<i64>,
    remix_of: Option<VideoId>,
    cameo_ids: Vec<CameoId>,
    audio: AudioMode,
    shots: Vec<Shot>,
    /// How many of the first shots remake an earlier video (refusals name the others from 1).
    remade: usize,
    caption: Option<String>,
}

/// How a refusal names shot `index` of a job whose first `remade` shots remake earlier videos:
/// the member's own shots count from 1, as they sent them.
fn shot_name(index: usize, remade: usize) -> String {
    match index.checked_sub(remade) {
        Some(own) => format!("shot {}", own + 1),
        None => format!("the earlier video's shot {}", index + 1),
    }
}

/// Where a queued job stands.
#[derive(Debug, Clone, Copy)]
pub struct QueueEstimate {
    /// Jobs ahead of it (0 = next); `None` once it runs or ended.
    pub position: Option<u64>,
    /// Seconds until it should finish; `None` when ended or not yet measurable.
    pub eta_seconds: Option<u64>,
}

/// Generation rules.
#[derive(Clone)]
pub struct VideoService {
    deps: Arc<Deps>,
    queue: JobQueue,
    updates: JobUpdates,
    model: ModelLimits,
    limits: JobLimits,
    policy: Arc<moderation::policy::PromptPolicy>,
    media: media::MediaStore,
}

impl VideoService {
    /// Wires the service.
    pub fn new(
        deps: Arc<Deps>,
        queue: JobQueue,
        updates: JobUpdates,
        model: ModelLimits,
        limits: JobLimits,
        policy: Arc<moderation::policy::PromptPolicy>,
        media: media::MediaStore,
    ) -> Self {
        Self { deps, queue, updates, model, limits, policy, media }
    }

    /// The queue (health checks, workers).
    pub fn queue(&self) -> &JobQueue {
        &self.queue
    }

    /// The update fan-out (subscriptions).
    pub fn updates(&self) -> &JobUpdates {
        &self.updates
    }

    /// Checks the input, the member's limits, and queues the job.
    pub async fn create(&self, caller: &Caller, input: CreateVideo) -> AppResult<Job> {
        let v = caller.require()?;
        let prompt = super::text::clean_text("prompt", &input.prompt, MAX_PROMPT, "the prompt")?;
        let prompt = prompt.as_str();
        let d = input.duration_seconds;
        let mut cameo_ids: Vec<CameoId> = Vec::new();
        for id in &input.cameo_ids {
            if !cameo_ids.contains(id) {
                cameo_ids.push(*id);
            }
        }
        // `@handle`s in the prompt and the shots name cameos too, with the same consent rules.
        let mut handles = super::consent::handles_in(prompt);
        for shot in &input.shots {
            for h in super::consent::handles_in(&shot.prompt) {
                if !handles.contains(&h) {
                    handles.push(h);
                }
            }
        }
        for id in super::consent::cameos_by_handle(&self.deps, v.user.id, &handles).await? {
            if !cameo_ids.contains(&id) {
                cameo_ids.push(id);
            }
        }
        if !input.shots.is_empty() && input.remix_of.is_some() {
            return Err(AppError::bad_input(
                "shots",
                "a remix changes one video; it cannot also be a storyboard (send shots without remixOf)",
            ));
        }
        // A remix starts from its source: prompt, length, shape and (by default) seed.
        let (prompt, d, aspect_ratio, source_seed) = match input.remix_of {
            Some(source_id) => {
                let source = self
                    .deps
                    .store
                    .video(source_id)
                    .await?
                    .filter(|s| s.status == VideoStatus::Published)
                    .ok_or(AppError::NotFound("video"))?;
                // A block either way hides the source from the member.
                if source.author_id != v.user.id && self.deps.store.blocked_either(source.author_id, v.user.id).await? {
                    return Err(AppError::NotFound("video"));
                }
                if !source.remix_allowed {
                    return Err(AppError::Forbidden("the author does not allow remixes of this video".into()));
                }
                // Cameos in the source stay in the remix, each only with its owner's consent now.
                for u in self.deps.store.cameo_uses_of(source.id).await? {
                    if !cameo_ids.contains(&u.cameo_id) {
                        cameo_ids.push(u.cameo_id);
                    }
                }
                let seconds = i32::try_from((source.duration_ms + 500) / 1000).unwrap_or(i32::MAX);
                (format!("{}. {prompt}", source.prompt), seconds, source.aspect_ratio, Some(source.seed))
            }
            None => (prompt.to_owned(), d, input.aspect_ratio, None),
        };
        let prompt = prompt.as_str();
        let shots = super::storyboard::check_shots(&input.shots, &self.model, self.limits.max_storyboard_seconds)?;
        // A storyboard lasts as long as its shots (each already within the model's range).
        let d = if shots.is_empty() { d } else { super::storyboard::seconds(&shots) };
        if shots.is_empty() && (d < 0 || (d as u32) < self.model.min_seconds || (d as u32) > self.model.max_seconds) {
            return Err(AppError::bad_input(
                "durationSeconds",
                format!("duration must be between {} and {} seconds", self.model.min_seconds, self.model.max_seconds),
            ));
        }
        if !self.model.aspect_ratios.contains(&aspect_ratio) {
            return Err(AppError::bad_input("aspectRatio", "this aspect ratio is not supported by the model"));
        }
        if input.audio == AudioMode::KeepSource && input.remix_of.is_none() {
            return Err(AppError::bad_input(
                "audio",
                "KEEP_SOURCE keeps the sound of the video being remixed; this video is not a remix",
            ));
        }
        if input.seed.is_some_and(|s| s < 0) {
            return Err(AppError::bad_input("seed", "seed must be zero or positive"));
        }
        self.admit(
            v,
            Admission {
                prompt: prompt.to_owned(),
                duration_seconds: d,
                aspect_ratio,
                seed: input.seed.or(source_seed),
                remix_of: input.remix_of,
                cameo_ids,
                audio: input.audio,
                shots,
                remade: 0,
                caption: None,
            },
        )
        .await
    }

    /// Continues a published video (the member's own, or one whose author allows remixes) with
    /// new shots: a storyboard whose first shots remake the video (`storyboard::remake`) and
    /// whose new shots share its world, seed lineage and cameos, as a remix of it (lineage, the
    /// source as the manifest's ingredient).
    pub async fn extend(&self, caller: &Caller, input: ExtendVideo) -> AppResult<Job> {
        let v = caller.require()?;
        if input.shots.is_empty() {
            return Err(AppError::bad_input("shots", "send at least one shot to continue the video with"));
        }
        let source = self
            .deps
            .store
            .video(input.video_id)
            .await?
            .filter(|s| s.status == VideoStatus::Published)
            .ok_or(AppError::NotFound("video"))?;
        let own = source.author_id == v.user.id;
        // A block either way hides the source from the member.
        if !own && self.deps.store.blocked_either(source.author_id, v.user.id).await? {
            return Err(AppError::NotFound("video"));
        }
        if !own && !source.remix_allowed {
            return Err(AppError::Forbidden("the author does not allow remixes of this video".into()));
        }
        let job = self.remakeable(&source, "videoId", "the video").await?;
        let mut shots = super::storyboard::remake(&source, &job);
        let remade = shots.len();
        shots.extend(super::storyboard::check_shots(&input.shots, &self.model, self.limits.max_storyboard_seconds)?);
        super::storyboard::check_joined(
            &shots,
            self.limits.max_storyboard_seconds,
            "shots",
            "the video with its new shots",
        )?;
        // Cameos in the video stay in the continuation, each only with its owner's consent now.
        let cameo_ids = self.deps.store.cameo_uses_of(source.id).await?.into_iter().map(|u| u.cameo_id).collect();
        self.admit(
            v,
            Admission {
                prompt: job.prompt.clone(),
                duration_seconds: super::storyboard::seconds(&shots),
                aspect_ratio: source.aspect_ratio,
                seed: Some(source.seed),
                remix_of: Some(source.id),
                cameo_ids,
                audio: super::storyboard::joined_audio(&[job.audio_mode]),
                shots,
                remade,
                caption: None,
            },
        )
        .await
    }

    /// Joins the member's own videos (drafts, or published) into one new draft: a storyboard of
    /// their shots remade (`storyboard::remake`, a cut between videos), encoded, marked and
    /// signed once, with the videos as the manifest's ingredients, and `caption` as its caption.
    pub async fn stitch(&self, caller: &Caller, input: StitchVideos) -> AppResult<Job> {
        let v = caller.require()?;
        if input.video_ids.len() < 2 {
            return Err(AppError::bad_input("videoIds", "send at least two videos to stitch together"));
        }
        if input.video_ids.len() > super::storyboard::MAX_SHOTS {
            return Err(AppError::bad_input(
                "videoIds",
                format!("at most {} videos can be stitched together", super::storyboard::MAX_SHOTS),
            ));
        }
        let caption = match input.caption.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(super::text::clean_text("caption", c, super::moderation::MAX_CAPTION, "the caption")?),
            None => None,
        };
        let (mut shots, mut prompts, mut modes, mut cameo_ids) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut first: Option<Video> = None;
        for (i, id) in input.video_ids.iter().enumerate() {
            let n = i + 1;
            // Another member's video, or a removed one, is not there for this member.
            let video = self
                .deps
                .store
                .video(*id)
                .await?
                .filter(|x| x.author_id == v.user.id && x.status != VideoStatus::Removed)
                .ok_or(AppError::NotFound("video"))?;
            if video.status == VideoStatus::InReview {
                return Err(AppError::bad_input(
                    "videoIds",
                    format!("video {n} is waiting for a moderator's review; stitch it once it is cleared"),
                ));
            }
            if let Some(first) = &first
                && first.aspect_ratio != video.aspect_ratio
            {
                return Err(AppError::bad_input(
                    "videoIds",
                    format!("video {n} has another shape than video 1; only videos of one shape can be stitched"),
                ));
            }
            let job = self.remakeable(&video, "videoIds", &format!("video {n}")).await?;
            let mut remade = super::storyboard::remake(&video, &job);
            // A cut where one video ends and the next begins.
            if let Some(s) = remade.first_mut() {
                s.transition = app_core::model::Transition::Cut;
            }
            shots.extend(remade);
            prompts.push(job.prompt.clone());
            modes.push(job.audio_mode);
            for u in self.deps.store.cameo_uses_of(video.id).await? {
                if !cameo_ids.contains(&u.cameo_id) {
                    cameo_ids.push(u.cameo_id);
                }
            }
            first.get_or_insert(video);
        }
        let Some(first) = first else {
            return Err(AppError::bad_input("videoIds", "send at least two videos to stitch together"));
        };
        super::storyboard::check_joined(&shots, self.limits.max_storyboard_seconds, "videoIds", "the stitched video")?;
        if let Some(c) = &caption {
            super::text::refuse_violations(self.policy.check(c, &Default::default()))?;
        }
        // The new video's prompt tells what it joins (its shots keep their own prompts).
        let joined: String = prompts.join(" / ").chars().take(MAX_PROMPT).collect();
        let remade = shots.len();
        self.admit(
            v,
            Admission {
                prompt: joined,
                duration_seconds: super::storyboard::seconds(&shots),
                aspect_ratio: first.aspect_ratio,
                seed: Some(first.seed),
                remix_of: None,
                cameo_ids,
                audio: super::storyboard::joined_audio(&modes),
                shots,
                remade,
                caption,
            },
        )
        .await
    }

    /// The job that made `video`, when the model served now made it (only then can its frames
    /// be made again); `what` names the video in a refusal.
    async fn remakeable(&self, video: &Video, field: &'static str, what: &str) -> AppResult<Job> {
        let made_by = format!("{} {}", video.model_name, video.model_version);
        if made_by != self.model.model {
            return Err(AppError::bad_input(
                field,
                format!(
                    "{what} was made by the model {made_by}, and this service now runs {}, so it cannot be made again",
                    self.model.model
                ),
            ));
        }
        self.deps.store.job(video.job_id).await?.ok_or_else(|| {
            AppError::bad_input(field, format!("{what} can no longer be made again (its request is gone)"))
        })
    }

    /// What every way of asking for a video has in common, once its own checks passed: the
    /// cameos' consent now, the content policy over every spoken line, every shot and the whole
    /// prompt (with the cameos' restrictions), the member's limits, then the job, the consents
    /// that allow it and the owners' notices in one unit of work, and dispatch.
    async fn admit(&self, v: &super::Viewer, a: Admission) -> AppResult<Job> {
        let cameo_ids = &a.cameo_ids;
        if cameo_ids.len() > self.limits.max_cameos_per_video {
            return Err(AppError::bad_input(
                "cameoIds",
                format!("a video may hold at most {} cameos", self.limits.max_cameos_per_video),
            ));
        }
        let cameos = super::consent::consented_cameos(&self.deps, v.user.id, cameo_ids).await?;
        // The content policy, before anything is queued (on the whole prompt of a remix, with
        // the restrictions of every cameo in it).
        let context = moderation::policy::PolicyContext {
            cameo_restrictions: cameos
                .iter()
                .filter_map(|c| {
                    c.restrictions.as_ref().map(|r| moderation::policy::CameoRestriction {
                        cameo_name: c.name.clone(),
                        restrictions: r.clone(),
                    })
                })
                .collect(),
            ..Default::default()
        };
        // The spoken lines, each through the policy on its own so a refusal names the line, then
        // the whole prompt (its scene with its lines).
        let (prompt, d, shots, audio) = (a.prompt.as_str(), a.duration_seconds, a.shots, a.audio);
        let name = |i: usize| shot_name(i, a.remade);
        // A storyboard's lines are checked shot by shot, against each shot's length.
        let scripts = match (audio.speaks(), shots.is_empty()) {
            (false, _) => vec![],
            (true, true) => vec![Script::parse(prompt)],
            (true, false) => super::storyboard::scripts(prompt, &shots),
        };
        // What the policy reads, each with the label its refusal starts with (none: the prompt).
        let mut texts: Vec<(Option<String>, String)> = Vec::new();
        for (i, script) in scripts.iter().enumerate() {
            let shot = shots.get(i);
            let seconds = shot.map_or(d as u32, |s| s.seconds);
            script.check(f64::from(seconds)).map_err(|problem| match shot {
                None => AppError::bad_input("prompt", problem.to_string()),
                Some(_) => AppError::bad_input("shots", format!("{}: {problem}", name(i))),
            })?;
            let place = if shot.is_some() { format!("{}, spoken line", name(i)) } else { "spoken line".into() };
            for (n, line) in script.lines.iter().enumerate() {
                texts.push((Some(format!("{place} {} (\"{}\")", n + 1, excerpt(&line.text))), line.text.clone()));
            }
        }
        // Each shot's own words, then the whole prompt (its scene with its lines).
        for (i, shot) in shots.iter().enumerate() {
            texts.push((Some(name(i)), shot.prompt.clone()));
        }
        texts.push((None, prompt.to_owned()));
        // The classifier and the restrictions' encoder are CPU work: off the async threads.
        let policy = self.policy.clone();
        let checked = tokio::task::spawn_blocking(move || {
            texts.into_iter().map(|(label, text)| (label, policy.check(&text, &context))).collect::<Vec<_>>()
        })
        .await
        .map_err(|e| AppError::internal("content policy", e))?;
        let mut refused = Vec::new();
        let mut whole = Vec::new();
        for (label, violations) in checked {
            match label {
                Some(label) => refused.extend(violations.into_iter().map(|v| format!("{label}: {}", v.reason))),
                None => whole = violations,
            }
        }
        if !refused.is_empty() {
            return Err(AppError::PolicyViolation { reasons: refused });
        }
        super::text::refuse_violations(whole)?;
        let (queued, running) = self.deps.store.live_jobs_of(v.user.id).await?;
        // At most `max_queued` waiting, and at most `max_queued + max_running` alive at once.
        let live_cap = self.limits.max_queued_per_user + self.limits.max_running_per_user;
        if queued >= self.limits.max_queued_per_user || queued + running >= live_cap {
            return Err(AppError::RateLimited { retry_after_secs: self.eta_per_job().await?.unwrap_or(30) });
        }
        // Random seeds stay within GraphQL's Int, so a client can send one back to repeat a video.
        let seed = a.seed.unwrap_or_else(|| i64::from(rand::random::<u32>() >> 1));
        let id = JobId::new();
        // One unit of work: the consent versions that allow this job, the job, and the owners'
        // notices; the queue hears of the job only after the commit (`dispatch`).
        let uses: Vec<(CameoId, i64)> = cameos.iter().map(|c| (c.id, c.consent_version)).collect();
        let tx = self.deps.store.begin().await?;
        tx.record_cameo_uses(VideoId(id.0), &uses).await?;
        let job = tx
            .insert_job(NewJob {
                id,
                user_id: v.user.id,
                prompt: prompt.to_owned(),
                seed,
                duration_seconds: d,
                aspect_ratio: a.aspect_ratio,
                remix_of: a.remix_of,
                audio_mode: audio,
                shots,
                caption: a.caption,
                // The request's trace, continued by the worker (`jobs::JobSpec::trace_parent`).
                trace_parent: telemetry::traceparent(),
            })
            .await?;
        for c in cameos.iter().filter(|c| c.owner_id != v.user.id) {
            let message = format!("@{} is making a video with your cameo \"{}\"", v.user.username, c.name);
            tx.notify(c.owner_id, NotificationKind::CameoUsed, Some(VideoId(id.0)), Some(v.user.id), &message).await?;
        }
        tx.commit().await?;
        self.dispatch(v.user.id).await?;
        tracing::info!(job = %id, user = %v.user.id, "job queued");
        Ok(job)
    }

    /// A job, to its author (and moderators); `None` for anyone else.
    pub async fn job(&self, caller: &Caller, id: JobId) -> AppResult<Option<Job>> {
        let v = caller.require()?;
        let job = self.deps.store.job(id).await?;
        Ok(job.filter(|j| j.user_id == v.user.id || v.user.role >= Role::Moderator))
    }

    /// Cancels a queued job at once, or a running one at its next step.
    pub async fn cancel(&self, caller: &Caller, id: JobId) -> AppResult<Job> {
        let v = caller.require()?;
        let job = self.deps.store.job(id).await?.filter(|j| j.user_id == v.user.id).ok_or(AppError::NotFound("job"))?;
        if job.status.is_final() {
            return Err(AppError::Conflict(format!("the job has already ended ({})", job.status.as_str())));
        }
        // Tell workers first, then end it here; a result arriving later is ignored.
        self.queue.cancel(id.0).await.map_err(|e| AppError::internal("cancel", e))?;
        if self.deps.store.end_job(id, JobStatus::Cancelled, None, None).await? {
            self.deps.telemetry.job_ended(JobStatus::Cancelled, &[]);
        }
        self.updates.notify(id).await;
        self.dispatch(v.user.id).await?;
        let job = self.deps.store.job(id).await?.ok_or(AppError::NotFound("job"))?;
        self.drop_kept_shots(&job).await;
        Ok(job)
    }

    /// Seconds per job, from recent jobs.
    async fn eta_per_job(&self) -> AppResult<Option<u64>> {
        Ok(self.deps.store.recent_job_times(20).await?.seconds_per_job.map(|s| s.ceil() as u64))
    }

    /// Queue position and ETA from measured job times.
    pub async fn estimate(&self, job: &Job) -> AppResult<QueueEstimate> {
        match job.status {
            JobStatus::Queued => {
                // In seconds of video: a storyboard ahead weighs what its shots do.
                let (ahead, ahead_seconds) = self.deps.store.queued_before(job.created_at, job.id).await?;
                let recent = self.deps.store.recent_job_times(20).await?;
                let workers = self.limits.workers.max(1) as f64;
                let own = f64::from(job.duration_seconds.max(1));
                let eta =
                    recent.seconds_per_video_second.map(|r| ((ahead_seconds as f64 / workers + own) * r).ceil() as u64);
                Ok(QueueEstimate { position: Some(ahead), eta_seconds: eta })
            }
            JobStatus::Running => {
                let elapsed =
                    job.started_at.map(|t| (Utc::now() - t).num_milliseconds() as f64 / 1000.0).unwrap_or(0.0);
                let eta = match (job.step, job.total_steps) {
                    // Measured on this job: time per step so far times steps left (plus the
                    // decode/encode tail, estimated as one step's worth).
                    (s, t) if s > 0 && t > 0 => Some(((elapsed / f64::from(s)) * f64::from(t - s + 1)).ceil() as u64),
                    _ => self
                        .deps
                        .store
                        .recent_job_times(20)
                        .await?
                        .seconds_per_job
                        .map(|p| (p - elapsed).max(1.0).ceil() as u64),
                };
                Ok(QueueEstimate { position: None, eta_seconds: eta })
            }
            _ => Ok(QueueEstimate { position: None, eta_seconds: None }),
        }
    }

    /// Applies one worker event; idempotent (a redelivered event changes nothing twice).
    pub async fn apply_event(&self, event: &JobEvent) -> AppResult<()> {
        let id = JobId(event.job_id());
        match event {
            JobEvent::Started { worker, attempt, .. } => {
                self.deps
                    .store
                    .mark_running(id, worker, i32::try_from(*attempt).unwrap_or(i32::MAX), self.model.steps as i32)
                    .await?;
            }
            JobEvent::Progress { step, total, .. } => {
                self.deps.store.set_progress(id, *step as i32, *total as i32).await?;
            }
            JobEvent::Moderating { .. } => {
                self.deps.store.mark_moderating(id).await?;
            }
            JobEvent::Rejected { reason, frame_indices, frame_scores, .. } => {
                let scores = FrameScores { indices: frame_indices.clone(), scores: frame_scores.clone() };
                if self.deps.store.reject_job(id, reason, &scores).await? {
                    self.deps.telemetry.job_ended(JobStatus::Rejected, &[]);
                    tracing::info!(job = %id, %reason, "frame check blocked the clip");
                }
            }
            JobEvent::Succeeded { output, .. } => {
                let stage_millis =
                    serde_json::to_string(&output.stages).map_err(|e| AppError::internal("stages", e))?;
                // Consent, again, now that the video exists: a cameo withdrawn or no longer
                // allowed while the job ran means no video.
                let job = self.deps.store.job(id).await?;
                if let Some(job) = &job
                    && !job.status.is_final()
                {
                    let uses = self.deps.store.cameo_uses_of(VideoId(id.0)).await?;
                    if let Err(why) =
                        super::consent::uses_still_consented(&self.deps, job.user_id, &uses, false).await?
                    {
                        if self
                            .deps
                            .store
                            .end_job(id, JobStatus::Rejected, Some(JobErrorCode::ConsentRequired), Some(&why))
                            .await?
                        {
                            self.deps.telemetry.job_ended(JobStatus::Rejected, &[]);
                            let keys = [
                                output.video_key.as_str(),
                                output.thumbnail_key.as_str(),
                                output.frame_strip_key.as_str(),
                            ];
                            self.delete_media(VideoId(id.0), keys.into_iter().filter(|k| !k.is_empty())).await;
                        }
                        self.updates.notify(id).await;
                        self.dispatch(job.user_id).await?;
                        return Ok(());
                    }
                }
                let verdict = Verdict::from_worker(&output.verdict);
                if verdict == Verdict::Block {
                    // A worker never stores a blocked clip; refuse to turn one into a video.
                    return Err(AppError::internal("job event", "a succeeded job carried a block verdict"));
                }
                // One unit of work: the job's end, the video, its frame-check case and the
                // author's notice.
                let tx = self.deps.store.begin().await?;
                let video = tx
                    .complete_job(
                        id,
                        NewVideo {
                            video_key: output.video_key.clone(),
                            thumbnail_key: output.thumbnail_key.clone(),
                            width: output.width as i32,
                            height: output.height as i32,
                            duration_ms: output.duration_ms as i64,
                            frame_count: output.frame_count as i32,
                            fps: output.fps as i32,
                            model_name: output.model_name.clone(),
                            model_version: output.model_version.clone(),
                            execution_provider: output.execution_provider.clone(),
                            stage_millis,
                            watermark_id: output.watermark_id,
                            verdict,
                            verdict_reason: output.verdict_reason.clone(),
                            frame_scores: FrameScores {
                                indices: output.frame_indices.clone(),
                                scores: output.frame_scores.clone(),
                            },
                            frame_strip_key: Some(output.frame_strip_key.clone()).filter(|k| !k.is_empty()),
                            manifest_issuer: output.manifest_issuer.clone(),
                            has_audio: output.has_audio,
                            captions_key: output.captions_key.clone(),
                            maturity: crate::teens::maturity_of(job.as_ref(), &output.frame_scores),
                        },
                    )
                    .await?;
                if let Some(v) = &video
                    && v.status == VideoStatus::InReview
                {
                    tx.notify(
                        v.author_id,
                        NotificationKind::VideoInReview,
                        Some(v.id),
                        None,
                        "Your video is waiting for a moderator's review before it can be published",
                    )
                    .await?;
                } else if let Some(v) = &video {
                    // Written with the draft, so the push goes out exactly when the draft exists.
                    tx.notify(
                        v.author_id,
                        NotificationKind::VideoReady,
                        Some(v.id),
                        None,
                        &ready_message(job.as_ref()),
                    )
                    .await?;
                }
                tx.commit().await?;
                if let Some(v) = video {
                    self.deps.telemetry.job_ended(JobStatus::Succeeded, &output.stages.named());
                    tracing::info!(job = %id, video = %v.id, verdict = v.verdict.as_str(), "draft created");
                }
            }
            JobEvent::Failed { reason, .. } => {
                if self
                    .deps
                    .store
                    .end_job(id, JobStatus::Failed, Some(JobErrorCode::GenerationFailed), Some(reason))
                    .await?
                {
                    self.deps.telemetry.job_ended(JobStatus::Failed, &[]);
                }
            }
            JobEvent::Cancelled { .. } => {
                if self.deps.store.end_job(id, JobStatus::Cancelled, None, None).await? {
                    self.deps.telemetry.job_ended(JobStatus::Cancelled, &[]);
                }
            }
        }
        self.updates.notify(id).await;
        if event.is_final()
            && let Some(job) = self.deps.store.job(id).await?
        {
            self.drop_kept_shots(&job).await;
            self.dispatch(job.user_id).await?;
        }
        Ok(())
    }

    /// Deletes the shots a storyboard's worker kept between deliveries
    /// (`jobs::kept_shots_folder`), once
    /// the job has ended however it ended: its worker deletes them when it ends the job itself,
    /// but not when the job is cancelled while it waits, or dead-lettered. A failure is logged
    /// (the objects stay, harmless).
    async fn drop_kept_shots(&self, job: &Job) {
        if job.shots.is_empty() || !job.status.is_final() {
            return;
        }
        match self.media.delete_prefix(&jobs::kept_shots_folder(job.id.0)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(job = %job.id, shots = n, "kept shots deleted"),
            Err(e) => tracing::warn!(job = %job.id, error = %e, "kept shots not deleted"),
        }
    }

    /// [`VideoService::apply_event`]; a job's final event inside a span of the trace of the
    /// request that created the job (progress events are not traced: one span per step would
    /// drown the trace).
    async fn apply_traced(&self, event: &JobEvent) -> AppResult<()> {
        if !event.is_final() {
            return self.apply_event(event).await;
        }
        let id = JobId(event.job_id());
        let span = tracing::info_span!("apply job result", job.id = %id, job.outcome = event.name());
        let parent = self.deps.store.job(id).await?.and_then(|j| j.trace_parent);
        telemetry::continue_trace(&span, parent.as_deref());
        self.apply_event(event).instrument(span).await
    }

    /// Consumes worker events until the process stops (one consumer per API node; a crashed
    /// node's unacknowledged events are reclaimed by another).
    pub async fn run_event_consumer(self, consumer: String) {
        loop {
            match self.queue.next_events("backend", &consumer, Duration::from_secs(1), 64).await {
                Ok(batch) => {
                    let mut done = Vec::with_capacity(batch.len());
                    for (eid, event) in batch {
                        match self.apply_traced(&event).await {
                            Ok(()) => done.push(eid),
                            Err(e) => {
                                tracing::error!(error = %e, cause = ?e, job = %event.job_id(), "job event not applied; it will be redelivered")
                            }
                        }
                    }
                    if !done.is_empty()
                        && let Err(e) = self.queue.ack_events("backend", &done).await
                    {
                        tracing::warn!(error = %e, "event ack failed; events will be applied again (idempotent)");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading job events failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// A video, if the caller may see it: published ones to all, drafts to their author (and
    /// moderators).
    pub async fn video(&self, caller: &Caller, id: VideoId) -> AppResult<Option<Video>> {
        let viewer = caller.optional()?;
        let Some(video) = self.deps.store.video(id).await? else { return Ok(None) };
        if !video.visible_to(viewer.map(|v| (v.user.id, v.user.role))) {
            return Ok(None);
        }
        Ok(self.for_audience(caller, vec![video]).await?.pop())
    }

    /// `videos` without those the teen rules keep from the caller (`teens`): `MATURE` ones for a
    /// teen, and a private teen's for anyone but the teen, their mutuals and their parent.
    /// Moderators see everything.
    pub async fn for_audience(&self, caller: &Caller, mut videos: Vec<Video>) -> AppResult<Vec<Video>> {
        let viewer = caller.optional()?;
        if viewer.is_some_and(|v| v.user.role >= Role::Moderator) {
            return Ok(videos);
        }
        let me = viewer.map(|v| v.user.id);
        if viewer.is_some_and(|v| self.deps.is_teen(&v.user)) {
            videos.retain(|x| x.maturity != Maturity::Mature || Some(x.author_id) == me);
        }
        let Some(cutoff) = self.deps.adult_cutoff() else { return Ok(videos) };
        let others: Vec<VideoId> = videos.iter().filter(|x| Some(x.author_id) != me).map(|x| x.id).collect();
        let hidden = self.deps.store.private_teen_videos(&others, me, cutoff).await?;
        videos.retain(|x| !hidden.contains(&x.id));
        Ok(videos)
    }

    /// The videos `video` joins (`stitchVideos`), in order, each once, that the caller may see;
    /// empty for any other video (a continuation's source is its `remixOf`).
    pub async fn parts_of(&self, caller: &Caller, video: &Video) -> AppResult<Vec<Video>> {
        let Some(job) = self.deps.store.job(video.job_id).await? else { return Ok(vec![]) };
        let mut ids: Vec<VideoId> = Vec::new();
        for source in job.shots.iter().filter_map(|s| s.source.as_ref()) {
            if Some(source.video_id) != job.remix_of && !ids.contains(&source.video_id) {
                ids.push(source.video_id);
            }
        }
        let mut parts = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(part) = self.video(caller, id).await? {
                parts.push(part);
            }
        }
        Ok(parts)
    }

    /// The shots of a video made as a storyboard (its job's), in order; empty for a video of one
    /// shot. Whoever may see the video may see them, as its prompt.
    pub async fn shots_of(&self, video: &Video) -> AppResult<Vec<Shot>> {
        Ok(self.deps.store.job(video.job_id).await?.map(|job| job.shots).unwrap_or_default())
    }

    /// The caller's drafts, newest first.
    pub async fn drafts(
        &self,
        caller: &Caller,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Video>> {
        let v = caller.require()?;
        self.deps.store.drafts_of(v.user.id, after, limit).await
    }
}

/// Failed jobs, for admins: what the queue gave up on (a job whose every delivery failed is
/// dead-lettered and ends `FAILED`), and what they do about it.
impl VideoService {
    /// Failed jobs no admin has discarded, most recently failed first (admins only).
    pub async fn failed_jobs(
        &self,
        caller: &Caller,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Job>> {
        caller.require_role(Role::Admin)?;
        self.deps.store.failed_jobs(after, limit).await
    }

    /// Puts a failed job back in its author's queue as if new (same id, prompt and seed; no
    /// attempts), audited: for a failure whose cause is gone (a store that was down, a worker
    /// bug since fixed). Consent is checked again when its result arrives, as for every job; a
    /// banned author's job is not retried.
    pub async fn retry_failed(&self, caller: &Caller, id: JobId) -> AppResult<Job> {
        let admin = caller.require_role(Role::Admin)?;
        let job = self.failed_job(id).await?;
        if self.deps.store.user(job.user_id).await?.is_none_or(|u| u.is_banned()) {
            return Err(AppError::Conflict("the job's author is banned; their jobs are not retried".into()));
        }
        // One unit of work: the job back to QUEUED and its audit entry.
        let tx = self.deps.store.begin().await?;
        if !tx.retry_failed_job(id).await? {
            return Err(no_longer_failed());
        }
        tx.record_audit(
            Some(admin.user.id),
            super::model::AuditAction::JobRetry,
            Some((super::model::AuditSubject::Job, id.to_string())),
            job.error_message.as_deref(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(actor = %admin.user.id, job = %id, "failed job retried");
        self.updates.notify(id).await;
        // Queued now if the author has a free running slot, else in their turn.
        self.dispatch(job.user_id).await?;
        self.deps.store.job(id).await?.ok_or(AppError::NotFound("job"))
    }

    /// Takes a failed job off the failed-jobs list, audited; it stays `FAILED` for its author.
    pub async fn discard_failed(&self, caller: &Caller, id: JobId, note: Option<&str>) -> AppResult<Job> {
        let admin = caller.require_role(Role::Admin)?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 500) {
            return Err(AppError::bad_input("note", "write at most 500 characters"));
        }
        self.failed_job(id).await?;
        let tx = self.deps.store.begin().await?;
        if !tx.discard_failed_job(id).await? {
            return Err(no_longer_failed());
        }
        tx.record_audit(
            Some(admin.user.id),
            super::model::AuditAction::JobDiscard,
            Some((super::model::AuditSubject::Job, id.to_string())),
            note,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(actor = %admin.user.id, job = %id, "failed job discarded");
        self.deps.store.job(id).await?.ok_or(AppError::NotFound("job"))
    }

    /// The job, if it exists and ended `FAILED`; else `NOT_FOUND` or `CONFLICT` naming its status.
    async fn failed_job(&self, id: JobId) -> AppResult<Job> {
        let job = self.deps.store.job(id).await?.ok_or(AppError::NotFound("job"))?;
        if job.status != JobStatus::Failed {
            return Err(AppError::Conflict(format!(
                "only a failed job can be retried or discarded; this one is {}",
                job.status.as_str()
            )));
        }
        Ok(job)
    }
}

/// A failed job that another admin retried or discarded meanwhile.
fn no_longer_failed() -> AppError {
    AppError::Conflict("the job is no longer on the failed list (another admin retried or discarded it)".into())
}

impl VideoService {
    /// At start: offers every dispatched live job the queue does not hold again, whatever its
    /// state, then fills free running slots (`reconcile` with no staleness). Recovers what an
    /// in-process queue (or a Redis without persistence) lost in a restart.
    pub async fn requeue_live(&self) -> AppResult<usize> {
        let n = self.reconcile(Duration::ZERO).await?;
        if n > 0 {
            tracing::info!(jobs = n, "live jobs offered to the queue again");
        }
        Ok(n)
    }

    /// Offers again every dispatched live job whose queue entry is gone (a Redis that restarted
    /// empty, or was flushed): a `QUEUED` one at once, a `RUNNING` or `MODERATING` one once its
    /// row has not changed for `stale` (its worker stopped reporting; a worker still on it sends
    /// progress and is left alone), then fills free running slots. Returns how many it offered.
    /// Safe on every API node at once: enqueue ignores a job already waiting or in flight, and a
    /// result that arrives twice is applied once.
    pub async fn reconcile(&self, stale: Duration) -> AppResult<usize> {
        let mut n = 0;
        let now = Utc::now();
        for job in self.deps.store.dispatched_live_jobs().await? {
            if self.queue.is_live(job.id.0).await.map_err(|e| AppError::internal("reconcile", e))? {
                continue;
            }
            let quiet = (now - job.updated_at).to_std().unwrap_or_default();
            if job.status != JobStatus::Queued && quiet < stale {
                continue;
            }
            let username = self.username(job.user_id).await?;
            let spec = self.spec(&job, &username).await?;
            if self.queue.enqueue(&spec).await.map_err(|e| AppError::internal("reconcile", e))? {
                tracing::warn!(job = %job.id, status = ?job.status, "a live job had no queue entry; offered again");
                n += 1;
            }
        }
        for user in self.deps.store.users_with_undispatched().await? {
            self.dispatch(user).await?;
        }
        Ok(n)
    }

    /// Runs [`VideoService::reconcile`] every `every` (with `every` as its staleness) for as long
    /// as the process lives; a failed round (a queue or database that does not answer) is logged
    /// and tried again at the next.
    pub async fn run_reconciler(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = self.reconcile(every).await {
                tracing::warn!(error = %e, "queue reconciliation failed; trying again later");
            }
        }
    }

    /// Hands a member's oldest waiting jobs to the queue while they have free running slots
    /// (`max_running_per_user`), so one member cannot occupy every worker.
    pub async fn dispatch(&self, user: UserId) -> AppResult<()> {
        let used = self.deps.store.slots_in_use(user).await?;
        let free = self.limits.max_running_per_user.saturating_sub(used);
        if free == 0 {
            return Ok(());
        }
        let waiting = self.deps.store.undispatched_of(user, free).await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let username = self.username(user).await?;
        for job in waiting {
            if !self.deps.store.mark_dispatched(job.id).await? {
                continue;
            }
            let spec = self.spec(&job, &username).await?;
            let span =
                tracing::info_span!("enqueue", otel.kind = "producer", job.id = %job.id, queue = self.queue.engine());
            if let Err(e) = self.queue.enqueue(&spec).instrument(span).await {
                // Not queued now (the queue does not answer): the job stays QUEUED, marked
                // dispatched, and the reconciler offers it once the queue answers again.
                tracing::warn!(job = %job.id, error = %e, "the queue did not take the job; it is offered again when it answers");
                return Ok(());
            }
            tracing::debug!(job = %job.id, user = %user, "job dispatched");
        }
        Ok(())
    }

    /// A member's published videos (anyone may list them, within the teen rules:
    /// [`VideoService::for_audience`]), newest first.
    pub async fn published_by(
        &self,
        caller: &Caller,
        user: UserId,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Video>> {
        let list = self.deps.store.published_of(user, after, limit).await?;
        self.for_audience(caller, list).await
    }
}

impl VideoService {
    /// Inside a unit of work: ends a live job whose cameo consent was withdrawn
    /// (`CONSENT_WITHDRAWN`) and tells its author. Returns the job and its author when it ended
    /// here; after the commit, [`VideoService::after_consent_cancel`] stops it in the queue.
    pub(crate) async fn cancel_for_consent(tx: &Tx, id: JobId, why: &str) -> AppResult<Option<(JobId, UserId)>> {
        let Some(job) = tx.job(id).await? else { return Ok(None) };
        if job.status.is_final()
            || !tx.end_job(id, JobStatus::Cancelled, Some(JobErrorCode::ConsentWithdrawn), Some(why)).await?
        {
            return Ok(None);
        }
        tx.notify(job.user_id, NotificationKind::JobCancelled, None, None, &format!("Your video was stopped: {why}"))
            .await?;
        Ok(Some((id, job.user_id)))
    }

    /// Once the unit that ended them committed: stops the jobs in the queue (queued: at once;
    /// running: at the next step; a result that still arrives finds no live job and is ignored),
    /// tells their subscribers, and gives their authors' slots to waiting jobs.
    pub(crate) async fn after_consent_cancel(&self, jobs: &[(JobId, UserId)]) -> AppResult<()> {
        let mut authors: Vec<UserId> = Vec::new();
        for (id, author) in jobs {
            self.deps.telemetry.job_ended(JobStatus::Cancelled, &[]);
            if let Err(e) = self.queue.cancel(id.0).await {
                tracing::warn!(job = %id, error = %e, "queue cancel failed; the job has ended, its result will be ignored");
            }
            self.updates.notify(*id).await;
            if !authors.contains(author) {
                authors.push(*author);
            }
        }
        for author in authors {
            self.dispatch(author).await?;
        }
        Ok(())
    }

    /// The queue's view of a job, with its remix source when it has one.
    async fn spec(&self, job: &Job, username: &str) -> AppResult<JobSpec> {
        let mut spec = spec_of(job, username);
        if let Some(source) = job.remix_of
            && let Some(v) = self.deps.store.video(source).await?
        {
            spec.remix = Some(jobs::RemixRef {
                video_id: v.id.0,
                video_key: v.video_key,
                title: format!("SoraVibe video {}", v.id),
            });
        }
        // The earlier videos the shots remake: their files (checked against, and ingredients
        // unless it is the remix source, already one) and the likeness each gave its shots.
        let mut ids: Vec<(VideoId, bool)> = Vec::new();
        for source in job.shots.iter().filter_map(|s| s.source.as_ref()) {
            let ingredient = job.remix_of != Some(source.video_id);
            for (id, part) in [(source.video_id, ingredient), (source.likeness_of, false)] {
                match ids.iter_mut().find(|(x, _)| *x == id) {
                    Some(found) => found.1 |= part,
                    None => ids.push((id, part)),
                }
            }
        }
        for (id, ingredient) in ids {
            let Some(video) = self.deps.store.video(id).await? else { continue };
            let uses = self.deps.store.cameo_uses_of(id).await?;
            let cameos = self.deps.store.cameos(&uses.iter().map(|u| u.cameo_id).collect::<Vec<_>>()).await?;
            let refs: Vec<Vec<f32>> = cameos.iter().map(|c| c.reference.clone()).filter(|r| !r.is_empty()).collect();
            let remix_key = match video.remix_of {
                Some(source) => self.deps.store.video(source).await?.map(|s| s.video_key),
                None => None,
            };
            spec.parts.push(jobs::PartRef {
                video_id: id.0,
                video_key: video.video_key,
                title: format!("SoraVibe video {id}"),
                reference: jobs::reference::combine(&refs),
                remix_key,
                ingredient,
            });
        }
        // The cameos' likeness features go to the model; their consent versions to the manifest.
        let uses = self.deps.store.cameo_uses_of(VideoId(job.id.0)).await?;
        if !uses.is_empty() {
            let ids: Vec<CameoId> = uses.iter().map(|u| u.cameo_id).collect();
            let cameos = self.deps.store.cameos(&ids).await?;
            let refs: Vec<Vec<f32>> = cameos.iter().map(|c| c.reference.clone()).filter(|r| !r.is_empty()).collect();
            spec.reference = jobs::reference::combine(&refs);
            spec.cameos = uses
                .iter()
                .filter_map(|u| {
                    let c = cameos.iter().find(|c| c.id == u.cameo_id)?;
                    Some(jobs::CameoRef {
                        cameo_id: c.id.0,
                        owner_id: c.owner_id.0,
                        consent_version: u.consent_version,
                    })
                })
                .collect();
            // A cameo named as a speaker ("Ann says …", by the cameo's name or its owner's
            // username) keeps one stock voice in every video it speaks in.
            let mut known = Vec::with_capacity(cameos.len() * 2);
            for c in &cameos {
                known.push((c.name.clone(), c.id.to_string()));
                if let Some(owner) = self.deps.store.user(c.owner_id).await? {
                    known.push((owner.username, c.id.to_string()));
                }
            }
            app_core::dialogue::mark_voices(&mut spec.dialogue, &known);
        }
        Ok(spec)
    }

    /// Deletes a video's stored objects (file, thumbnail, frame strip); failures are logged, the
    /// objects left behind are orphans.
    pub async fn delete_media_of(&self, video: &Video) {
        let keys = [
            Some(video.video_key.as_str()),
            Some(video.thumbnail_key.as_str()),
            video.frame_strip_key.as_deref(),
            video.captions_key.as_deref(),
        ];
        self.delete_media(video.id, keys.into_iter().flatten()).await;
    }

    async fn delete_media(&self, video: VideoId, keys: impl Iterator<Item = &str>) {
        for key in keys {
            if let Err(e) = self.media.delete(key).await {
                tracing::warn!(video = %video, key, error = %e, "media object not removed");
            }
        }
    }

    /// The author deletes their video for good: the row, its media, its cameo uses. Remixes of it
    /// stay (their `remixOf` reads as gone); moderation cases and the audit log keep their record.
    pub async fn delete(&self, caller: &Caller, id: VideoId) -> AppResult<bool> {
        let v = caller.require()?;
        let video =
            self.deps.store.video(id).await?.filter(|x| x.author_id == v.user.id).ok_or(AppError::NotFound("video"))?;
        // One unit of work: the row and its cameo uses; the cache and the files after the commit.
        let tx = self.deps.store.begin().await?;
        if !tx.delete_video(video.id).await? {
            return Err(AppError::NotFound("video"));
        }
        tx.forget_cameo_uses(video.id).await?;
        tx.commit().await?;
        if video.status == crate::model::VideoStatus::Published {
            super::feed::content_withdrawn(&self.deps).await;
        }
        self.delete_media_of(&video).await;
        tracing::info!(video = %video.id, user = %v.user.id, "video deleted by its author");
        Ok(true)
    }

    /// Allows or forbids remixes of the caller's video.
    pub async fn set_remix_allowed(&self, caller: &Caller, id: VideoId, allowed: bool) -> AppResult<Video> {
        let v = caller.require()?;
        let video =
            self.deps.store.video(id).await?.filter(|x| x.author_id == v.user.id).ok_or(AppError::NotFound("video"))?;
        self.deps.store.set_remix_allowed(video.id, allowed).await?;
        self.deps.store.video(id).await?.ok_or(AppError::NotFound("video"))
    }

    /// Published remixes of a video (anyone may list them, within the teen rules), newest first.
    /// A page the teen rules thin out comes back shorter.
    pub async fn remixes_of(
        &self,
        caller: &Caller,
        id: VideoId,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Video>> {
        let list = self.deps.store.published_remixes_of(id, after, limit).await?;
        self.for_audience(caller, list).await
    }

    /// The handle drawn into a member's watermarks.
    async fn username(&self, user: UserId) -> AppResult<String> {
        Ok(self.deps.store.user(user).await?.map(|u| u.username).unwrap_or_default())
    }
}

/// The queue's view of a job.
fn spec_of(job: &Job, username: &str) -> JobSpec {
    JobSpec {
        job_id: job.id.0,
        user_id: job.user_id.0,
        prompt: job.prompt.clone(),
        seed: job.seed.unsigned_abs(),
        duration_seconds: u32::try_from(job.duration_seconds).unwrap_or(1),
        aspect_ratio: job.aspect_ratio,
        reference: None,
        enqueued_at: job.created_at,
        author_username: username.to_owned(),
        remix: None,
        cameos: vec![],
        audio: job.audio_mode,
        // The lines were checked at `create`; the prompt and shots have not changed since.
        dialogue: if job.audio_mode.speaks() { super::storyboard::dialogue(&job.prompt, &job.shots) } else { vec![] },
        shots: job.shots.clone(),
        parts: vec![],
        trace_parent: job.trace_parent.clone(),
    }
}

/// The first 40 characters of a spoken line, for a refusal that names it.
fn excerpt(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        short.push('…');
    }
    short
}

/// The "video ready" line: the start of the prompt.
fn ready_message(job: Option<&app_core::model::Job>) -> String {
    let prompt = job.map(|j| j.prompt.trim()).unwrap_or("");
    if prompt.is_empty() {
        return "Your draft is ready to watch and publish".to_owned();
    }
    let mut short: String = prompt.chars().take(60).collect();
    if prompt.chars().count() > 60 {
        short.push('…');
    }
    format!("“{short}” is ready to watch and publish")
}
