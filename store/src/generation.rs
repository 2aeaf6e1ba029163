//! Jobs and videos. Status changes are conditional updates (`WHERE status IN …`), so a result
//! delivered twice takes effect once, and a cancelled job never turns into a video.
//!
//! The live statuses are `QUEUED`, `RUNNING` and `MODERATING`; `RUNNING` and `MODERATING` both count
//! as a job a worker holds (running slots, per-member limits, ETAs). `mark_dispatched` is
//! conditional on `dispatched_at IS NULL`, so only one caller enqueues a job. `complete_job`, one
//! transaction: the job becomes `SUCCEEDED` only if it is still live (else nothing changes and the
//! answer is `None`), the video is inserted with the job's id (the worker marked and signed for that
//! id; `videos.id` and `videos.job_id` are unique besides), `DRAFT` for a `PASS` verdict or
//! `IN_REVIEW` with a frame-check case opened in the same transaction; a remix records its source
//! and the root of its chain (the source's root, or the source itself).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::Store;
use super::entities::{generation_jobs as jobs, videos};
use app_core::error::AppResult;
use app_core::model::{
    AspectRatio, AudioMode, CaseSource, FrameScores, Job, JobErrorCode, JobStatus, Maturity, Shot, Subject, Verdict,
    Video, VideoStatus,
};
use app_core::types::{JobId, UserId, VideoId};

fn job_from(m: jobs::Model) -> AppResult<Job> {
    Ok(Job {
        id: JobId(m.id),
        user_id: UserId(m.user_id),
        status: m.status,
        prompt: m.prompt,
        seed: m.seed,
        duration_seconds: m.duration_seconds,
        aspect_ratio: m.aspect_ratio,
        step: m.step,
        total_steps: m.total_steps,
        attempts: m.attempts,
        error_code: m.error_code,
        error_message: m.error_message,
        video_id: m.video_id.map(VideoId),
        created_at: m.created_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
        updated_at: m.updated_at,
        remix_of: m.remix_of.map(VideoId),
        audio_mode: m.audio_mode,
        shots: match &m.shots {
            Some(raw) => crate::json::read("generation_jobs", "shots", m.id, raw)?,
            None => Vec::new(),
        },
        caption: m.caption,
        trace_parent: m.trace_parent,
    })
}

pub(crate) fn video_from(m: videos::Model) -> AppResult<Video> {
    let frame_scores = match &m.frame_scores {
        Some(raw) => crate::json::read("videos", "frame_scores", m.id, raw)?,
        None => FrameScores::default(),
    };
    Ok(Video {
        id: VideoId(m.id),
        author_id: UserId(m.author_id),
        job_id: JobId(m.job_id),
        status: m.status,
        prompt: m.prompt,
        caption: m.caption,
        seed: m.seed,
        aspect_ratio: m.aspect_ratio,
        video_key: m.video_key,
        thumbnail_key: m.thumbnail_key,
        width: m.width,
        height: m.height,
        duration_ms: m.duration_ms,
        frame_count: m.frame_count,
        fps: m.fps,
        model_name: m.model_name,
        model_version: m.model_version,
        execution_provider: m.execution_provider,
        stage_millis: m.stage_millis,
        remix_allowed: m.remix_allowed,
        created_at: m.created_at,
        published_at: m.published_at,
        watermark_id: m.watermark_id.map(|w| w as u64),
        verdict: m.verdict,
        verdict_reason: m.verdict_reason,
        frame_scores,
        frame_strip_key: m.frame_strip_key,
        manifest_issuer: m.manifest_issuer,
        manifest_valid: m.manifest_valid,
        removed_at: m.removed_at,
        removal_reason: m.removal_reason,
        remix_of: m.remix_of.map(VideoId),
        root_id: m.root_id.map(VideoId),
        like_count: m.like_count,
        view_count: m.view_count,
        watch_ms_total: m.watch_ms_total,
        comment_count: m.comment_count,
        has_audio: m.has_audio,
        captions_key: m.captions_key,
        maturity: m.maturity,
    })
}

/// Statuses of a job that has not ended.
const LIVE: [JobStatus; 3] = JobStatus::LIVE;
/// Statuses of a job a worker holds.
const RUNNING: [JobStatus; 2] = JobStatus::RUNNING;

/// A new job.
pub struct NewJob {
    /// Id (also the queue's idempotency key).
    pub id: JobId,
    /// Author.
    pub user_id: UserId,
    /// Prompt.
    pub prompt: String,
    /// Seed.
    pub seed: i64,
    /// Seconds.
    pub duration_seconds: i32,
    /// Frame shape.
    pub aspect_ratio: AspectRatio,
    /// The published video it remixes.
    pub remix_of: Option<VideoId>,
    /// What its sound track holds.
    pub audio_mode: AudioMode,
    /// A storyboard's shots (empty: one shot).
    pub shots: Vec<Shot>,
    /// The caption of the video it makes (`stitchVideos`).
    pub caption: Option<String>,
    /// The W3C `traceparent` of the request that creates it, if traced.
    pub trace_parent: Option<String>,
}

/// Means over recent successful jobs; `None` when there is none to measure.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecentJobTimes {
    /// Wall seconds per job.
    pub seconds_per_job: Option<f64>,
    /// Wall seconds per second of video (what a queue of clips and storyboards is estimated with).
    pub seconds_per_video_second: Option<f64>,
}

/// What a finished job produced.
pub struct NewVideo {
    /// Media key of the MP4.
    pub video_key: String,
    /// Media key of the thumbnail.
    pub thumbnail_key: String,
    /// Pixels.
    pub width: i32,
    /// Pixels.
    pub height: i32,
    /// Length.
    pub duration_ms: i64,
    /// Frames.
    pub frame_count: i32,
    /// Frame rate.
    pub fps: i32,
    /// Model name.
    pub model_name: String,
    /// Model version.
    pub model_version: String,
    /// `cpu` / `cuda`.
    pub execution_provider: String,
    /// Stage timings, JSON.
    pub stage_millis: String,
    /// Invisible watermark payload.
    pub watermark_id: u64,
    /// Frame-check verdict (pass or review).
    pub verdict: Verdict,
    /// Why it was held.
    pub verdict_reason: Option<String>,
    /// Scores.
    pub frame_scores: FrameScores,
    /// Media key of the frame strip.
    pub frame_strip_key: Option<String>,
    /// C2PA signer's issuer.
    pub manifest_issuer: Option<String>,
    /// Whether the MP4 has a sound track.
    pub has_audio: bool,
    /// Media key of the WebVTT captions.
    pub captions_key: Option<String>,
    /// Whether teen accounts may see it.
    pub maturity: Maturity,
}

impl Store {
    /// Inserts a queued job.
    pub async fn insert_job(&self, j: NewJob) -> AppResult<Job> {
        Self::insert_job_in(&self.db, j).await
    }

    pub(crate) async fn insert_job_in<C: ConnectionTrait>(c: &C, j: NewJob) -> AppResult<Job> {
        let now = Utc::now();
        let shots = match j.shots.is_empty() {
            true => None,
            false => Some(crate::json::write("generation_jobs", "shots", &j.shots)?),
        };
        let m = jobs::Entity::insert(jobs::ActiveModel {
            id: Set(j.id.0),
            user_id: Set(j.user_id.0),
            status: Set(JobStatus::Queued),
            prompt: Set(j.prompt),
            seed: Set(j.seed),
            duration_seconds: Set(j.duration_seconds),
            aspect_ratio: Set(j.aspect_ratio),
            step: Set(0),
            total_steps: Set(0),
            attempts: Set(0),
            worker: Set(None),
            error_code: Set(None),
            error_message: Set(None),
            video_id: Set(None),
            created_at: Set(now),
            started_at: Set(None),
            finished_at: Set(None),
            updated_at: Set(now),
            dispatched_at: Set(None),
            frame_scores: Set(None),
            remix_of: Set(j.remix_of.map(|v| v.0)),
            audio_mode: Set(j.audio_mode),
            shots: Set(shots),
            caption: Set(j.caption),
            failure_dismissed_at: Set(None),
            trace_parent: Set(j.trace_parent),
        })
        .exec_with_returning(c)
        .await?;
        job_from(m)
    }

    /// One job.
    pub async fn job(&self, id: JobId) -> AppResult<Option<Job>> {
        Self::job_in(&self.db, id).await
    }

    pub(crate) async fn job_in<C: ConnectionTrait>(c: &C, id: JobId) -> AppResult<Option<Job>> {
        jobs::Entity::find_by_id(id.0).one(c).await?.map(job_from).transpose()
    }

    /// A member's queued and running jobs.
    pub async fn live_jobs_of(&self, user: UserId) -> AppResult<(u64, u64)> {
        let queued = jobs::Entity::find()
            .filter(jobs::Column::UserId.eq(user.0))
            .filter(jobs::Column::Status.eq(JobStatus::Queued))
            .count(&self.db)
            .await?;
        let running = jobs::Entity::find()
            .filter(jobs::Column::UserId.eq(user.0))
            .filter(jobs::Column::Status.is_in(RUNNING))
            .count(&self.db)
            .await?;
        Ok((queued, running))
    }

    /// The queued jobs created before `(created_at, id)` (the queue is FIFO): how many, and the
    /// seconds of video they will make (a storyboard counts all its shots).
    pub async fn queued_before(&self, created_at: DateTime<Utc>, id: JobId) -> AppResult<(u64, u64)> {
        let seconds: Vec<i32> = jobs::Entity::find()
            .select_only()
            .column(jobs::Column::DurationSeconds)
            .filter(jobs::Column::Status.eq(JobStatus::Queued))
            .filter(
                jobs::Column::CreatedAt
                    .lt(created_at)
                    .or(jobs::Column::CreatedAt.eq(created_at).and(jobs::Column::Id.lt(id.0))),
            )
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok((seconds.len() as u64, seconds.iter().map(|s| u64::try_from(*s).unwrap_or(0)).sum()))
    }

    /// Jobs waiting for a worker, everyone's.
    pub async fn queued_count(&self) -> AppResult<u64> {
        Ok(jobs::Entity::find().filter(jobs::Column::Status.eq(JobStatus::Queued)).count(&self.db).await?)
    }

    /// Jobs currently running anywhere.
    pub async fn running_count(&self) -> AppResult<u64> {
        Ok(jobs::Entity::find().filter(jobs::Column::Status.is_in(RUNNING)).count(&self.db).await?)
    }

    /// Marks a job taken by a worker (from queued, or a redelivery while running).
    pub async fn mark_running(&self, id: JobId, worker: &str, attempt: i32, total_steps: i32) -> AppResult<bool> {
        let now = Utc::now();
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value(JobStatus::Running))
            .col_expr(jobs::Column::Worker, Expr::value(worker))
            .col_expr(jobs::Column::Attempts, Expr::value(attempt))
            .col_expr(jobs::Column::Step, Expr::value(0))
            .col_expr(jobs::Column::TotalSteps, Expr::value(total_steps))
            .col_expr(jobs::Column::StartedAt, Expr::value(now))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.is_in(LIVE))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Records denoiser progress of a running job (never moves backwards).
    pub async fn set_progress(&self, id: JobId, step: i32, total: i32) -> AppResult<bool> {
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Step, Expr::value(step))
            .col_expr(jobs::Column::TotalSteps, Expr::value(total))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.eq(JobStatus::Running))
            .filter(jobs::Column::Step.lt(step))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Finishes a live job with its video, once: a second delivery of the same result, or a
    /// result for a cancelled job, changes nothing and returns `None`.
    pub async fn complete_job(&self, id: JobId, v: NewVideo) -> AppResult<Option<Video>> {
        let txn = self.tx().await?;
        let out = Self::complete_job_in(&txn, id, v).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub(crate) async fn complete_job_in<C: ConnectionTrait>(c: &C, id: JobId, v: NewVideo) -> AppResult<Option<Video>> {
        let Some(job) = jobs::Entity::find_by_id(id.0).one(c).await? else {
            return Ok(None);
        };
        let now = Utc::now();
        // A job makes at most one video, and the video takes the job's id (the worker
        // watermarks and signs for that id).
        let video_id = id.0;
        // Lineage: the source, and the root of its chain (the source itself when it is an original).
        let root_id = match job.remix_of {
            Some(source) => {
                let src = videos::Entity::find_by_id(source).one(c).await?;
                Some(src.and_then(|s| s.root_id).unwrap_or(source))
            }
            None => None,
        };
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value(JobStatus::Succeeded))
            .col_expr(jobs::Column::VideoId, Expr::value(video_id))
            .col_expr(jobs::Column::Step, Expr::col(jobs::Column::TotalSteps))
            .col_expr(jobs::Column::FinishedAt, Expr::value(now))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.is_in(LIVE))
            .exec(c)
            .await?;
        if r.rows_affected != 1 {
            return Ok(None);
        }
        let m = videos::Entity::insert(videos::ActiveModel {
            id: Set(video_id),
            author_id: Set(job.user_id),
            job_id: Set(job.id),
            status: Set(match v.verdict {
                Verdict::Pass => VideoStatus::Draft,
                _ => VideoStatus::InReview,
            }),
            prompt: Set(job.prompt),
            caption: Set(job.caption),
            seed: Set(job.seed),
            aspect_ratio: Set(job.aspect_ratio),
            video_key: Set(v.video_key),
            thumbnail_key: Set(v.thumbnail_key),
            width: Set(v.width),
            height: Set(v.height),
            duration_ms: Set(v.duration_ms),
            frame_count: Set(v.frame_count),
            fps: Set(v.fps),
            model_name: Set(v.model_name),
            model_version: Set(v.model_version),
            execution_provider: Set(v.execution_provider),
            stage_millis: Set(v.stage_millis),
            remix_allowed: Set(true),
            created_at: Set(now),
            published_at: Set(None),
            watermark_id: Set(Some(v.watermark_id as i64)),
            verdict: Set(v.verdict),
            verdict_reason: Set(v.verdict_reason),
            frame_scores: Set(Some(crate::json::write("videos", "frame_scores", &v.frame_scores)?)),
            frame_strip_key: Set(v.frame_strip_key),
            manifest_issuer: Set(v.manifest_issuer),
            manifest_valid: Set(true),
            removed_at: Set(None),
            removal_reason: Set(None),
            remix_of: Set(job.remix_of),
            root_id: Set(root_id),
            like_count: Set(0),
            view_count: Set(0),
            watch_ms_total: Set(0),
            comment_count: Set(0),
            has_audio: Set(v.has_audio),
            captions_key: Set(v.captions_key),
            maturity: Set(v.maturity),
        })
        .exec_with_returning(c)
        .await?;
        let video = video_from(m)?;
        if video.verdict != Verdict::Pass {
            // Held by the frame check: a case for a moderator, in the same transaction.
            let reasons: Vec<String> = video.verdict_reason.iter().map(|r| format!("frame check: {r}")).collect();
            super::moderation::open_case(
                c,
                Subject::Video(video.id),
                CaseSource::FrameCheck,
                &reasons,
                &video.frame_scores.scores,
            )
            .await?;
        }
        Ok(Some(video))
    }

    /// Ends a live job as failed or cancelled; false when it had already ended.
    pub async fn end_job(
        &self,
        id: JobId,
        status: JobStatus,
        code: Option<JobErrorCode>,
        message: Option<&str>,
    ) -> AppResult<bool> {
        Self::end_job_in(&self.db, id, status, code, message).await
    }

    pub(crate) async fn end_job_in<C: ConnectionTrait>(
        c: &C,
        id: JobId,
        status: JobStatus,
        code: Option<JobErrorCode>,
        message: Option<&str>,
    ) -> AppResult<bool> {
        let now = Utc::now();
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value(status))
            .col_expr(jobs::Column::ErrorCode, Expr::value(code))
            .col_expr(jobs::Column::ErrorMessage, Expr::value(message.map(str::to_owned)))
            .col_expr(jobs::Column::FinishedAt, Expr::value(now))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.is_in(LIVE))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Timings of the last `sample` successful jobs (of every member): the basis of ETAs.
    pub async fn recent_job_times(&self, sample: u64) -> AppResult<RecentJobTimes> {
        let rows = jobs::Entity::find()
            .filter(jobs::Column::Status.eq(JobStatus::Succeeded))
            .order_by_desc(jobs::Column::FinishedAt)
            .limit(sample)
            .all(&self.db)
            .await?;
        // (wall seconds, seconds of video) of each job with both timestamps.
        let times: Vec<(f64, i32)> = rows
            .iter()
            .filter_map(|r| {
                Some(((r.finished_at? - r.started_at?).num_milliseconds() as f64 / 1000.0, r.duration_seconds))
            })
            .filter(|(wall, _)| *wall >= 0.0)
            .collect();
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let walls: Vec<f64> = times.iter().map(|(wall, _)| *wall).collect();
        let rates: Vec<f64> =
            times.iter().filter(|(_, video)| *video > 0).map(|(wall, video)| wall / f64::from(*video)).collect();
        Ok(RecentJobTimes { seconds_per_job: mean(&walls), seconds_per_video_second: mean(&rates) })
    }

    /// One video.
    pub async fn video(&self, id: VideoId) -> AppResult<Option<Video>> {
        Self::video_in(&self.db, id).await
    }

    pub(crate) async fn video_in<C: ConnectionTrait>(c: &C, id: VideoId) -> AppResult<Option<Video>> {
        videos::Entity::find_by_id(id.0).one(c).await?.map(video_from).transpose()
    }

    /// A member's drafts (and videos in review), newest first, after the cursor `(created_at, id)`.
    pub async fn drafts_of(
        &self,
        user: UserId,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Video>> {
        self.videos_of(user, &[VideoStatus::Draft, VideoStatus::InReview], after, limit).await
    }

    async fn videos_of(
        &self,
        user: UserId,
        statuses: &[VideoStatus],
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Video>> {
        let cond = Condition::all()
            .add(videos::Column::AuthorId.eq(user.0))
            .add(videos::Column::Status.is_in(statuses.iter().copied()));
        self.videos_where(cond, after, limit).await
    }

    /// Videos matching `cond`, newest first, after the cursor `(created_at, id)`.
    async fn videos_where(
        &self,
        cond: Condition,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Video>> {
        let mut q = videos::Entity::find().filter(cond);
        if let Some((at, id)) = after {
            q = q.filter(
                videos::Column::CreatedAt.lt(at).or(videos::Column::CreatedAt.eq(at).and(videos::Column::Id.lt(id))),
            );
        }
        q.order_by_desc(videos::Column::CreatedAt)
            .order_by_desc(videos::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(video_from)
            .collect()
    }

    /// Published remixes of a video, newest first, after the cursor `(created_at, id)`.
    pub async fn published_remixes_of(
        &self,
        source: VideoId,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Video>> {
        let cond = Condition::all()
            .add(videos::Column::RemixOf.eq(source.0))
            .add(videos::Column::Status.eq(VideoStatus::Published));
        self.videos_where(cond, after, limit).await
    }

    /// Which of `ids` are videos (any status): the sweeper keeps their files.
    pub async fn existing_videos(&self, ids: &[Uuid]) -> AppResult<std::collections::HashSet<Uuid>> {
        let rows: Vec<Uuid> = videos::Entity::find()
            .select_only()
            .column(videos::Column::Id)
            .filter(videos::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Which of `ids` are live jobs (`QUEUED`, `RUNNING`, `MODERATING`): their files may still be
    /// being written.
    pub async fn live_jobs_among(&self, ids: &[Uuid]) -> AppResult<std::collections::HashSet<Uuid>> {
        let rows: Vec<Uuid> = jobs::Entity::find()
            .select_only()
            .column(jobs::Column::Id)
            .filter(jobs::Column::Id.is_in(ids.iter().copied()))
            .filter(jobs::Column::Status.is_in(LIVE))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Jobs a worker holds (`RUNNING`, `MODERATING`) whose row has not changed since `before`:
    /// no progress, no state, from any worker.
    pub async fn quiet_held_jobs(&self, before: DateTime<Utc>) -> AppResult<Vec<Job>> {
        jobs::Entity::find()
            .filter(jobs::Column::Status.is_in(RUNNING))
            .filter(jobs::Column::UpdatedAt.lt(before))
            .order_by_asc(jobs::Column::UpdatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(job_from)
            .collect()
    }

    /// Published remixes per video, for a page of videos in one query.
    pub async fn remix_counts(&self, ids: &[VideoId]) -> AppResult<std::collections::HashMap<VideoId, i64>> {
        let rows: Vec<(Uuid, i64)> = videos::Entity::find()
            .select_only()
            .column(videos::Column::RemixOf)
            .column_as(videos::Column::Id.count(), "n")
            .filter(videos::Column::RemixOf.is_in(ids.iter().map(|v| v.0)))
            .filter(videos::Column::Status.eq(VideoStatus::Published))
            .group_by(videos::Column::RemixOf)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(v, n)| (VideoId(v), n)).collect())
    }

    /// Allows or forbids remixes of a video.
    pub async fn set_remix_allowed(&self, id: VideoId, allowed: bool) -> AppResult<()> {
        videos::Entity::update_many()
            .col_expr(videos::Column::RemixAllowed, Expr::value(allowed))
            .filter(videos::Column::Id.eq(id.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// A member's published videos, newest first, after the cursor `(created_at, id)`.
    pub async fn published_of(
        &self,
        user: UserId,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Video>> {
        self.videos_of(user, &[VideoStatus::Published], after, limit).await
    }

    /// Live jobs already handed to the queue, oldest first (offered again at start: the
    /// database is the durable record of what was accepted).
    pub async fn dispatched_live_jobs(&self) -> AppResult<Vec<Job>> {
        jobs::Entity::find()
            .filter(jobs::Column::Status.is_in(LIVE))
            .filter(jobs::Column::DispatchedAt.is_not_null())
            .order_by_asc(jobs::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(job_from)
            .collect()
    }

    /// Members with jobs waiting for a running slot.
    pub async fn users_with_undispatched(&self) -> AppResult<Vec<UserId>> {
        let mut ids: Vec<Uuid> = jobs::Entity::find()
            .filter(jobs::Column::Status.eq(JobStatus::Queued))
            .filter(jobs::Column::DispatchedAt.is_null())
            .all(&self.db)
            .await?
            .into_iter()
            .map(|j| j.user_id)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids.into_iter().map(UserId).collect())
    }

    /// A member's jobs that hold a running slot: running, or handed to the queue.
    pub async fn slots_in_use(&self, user: UserId) -> AppResult<u64> {
        Ok(jobs::Entity::find()
            .filter(jobs::Column::UserId.eq(user.0))
            .filter(
                jobs::Column::Status
                    .is_in(RUNNING)
                    .or(jobs::Column::Status.eq(JobStatus::Queued).and(jobs::Column::DispatchedAt.is_not_null())),
            )
            .count(&self.db)
            .await?)
    }

    /// A member's oldest jobs still waiting for a slot.
    pub async fn undispatched_of(&self, user: UserId, limit: u64) -> AppResult<Vec<Job>> {
        jobs::Entity::find()
            .filter(jobs::Column::UserId.eq(user.0))
            .filter(jobs::Column::Status.eq(JobStatus::Queued))
            .filter(jobs::Column::DispatchedAt.is_null())
            .order_by_asc(jobs::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(job_from)
            .collect()
    }

    /// Failed jobs no admin has discarded, most recently failed first, after the cursor
    /// `(finished_at, id)`: the console's list of what the queue gave up on.
    pub async fn failed_jobs(&self, after: Option<(DateTime<Utc>, Uuid)>, limit: u64) -> AppResult<Vec<Job>> {
        let mut q = jobs::Entity::find()
            .filter(jobs::Column::Status.eq(JobStatus::Failed))
            .filter(jobs::Column::FailureDismissedAt.is_null());
        if let Some((at, id)) = after {
            q = q.filter(
                Condition::any()
                    .add(jobs::Column::FinishedAt.lt(at))
                    .add(jobs::Column::FinishedAt.eq(at).and(jobs::Column::Id.lt(id))),
            );
        }
        q.order_by_desc(jobs::Column::FinishedAt)
            .order_by_desc(jobs::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(job_from)
            .collect()
    }

    /// Puts a failed, undiscarded job back to `QUEUED` as if new (no attempts, no progress, not
    /// dispatched, no error), keeping its id, prompt, seed and creation time; `false` when it is
    /// not (or no longer) such a job.
    pub(crate) async fn retry_failed_job_in<C: ConnectionTrait>(c: &C, id: JobId) -> AppResult<bool> {
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value(JobStatus::Queued))
            .col_expr(jobs::Column::Step, Expr::value(0))
            .col_expr(jobs::Column::TotalSteps, Expr::value(0))
            .col_expr(jobs::Column::Attempts, Expr::value(0))
            .col_expr(jobs::Column::Worker, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::ErrorCode, Expr::value(Option::<JobErrorCode>::None))
            .col_expr(jobs::Column::ErrorMessage, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::StartedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(jobs::Column::FinishedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(jobs::Column::DispatchedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(jobs::Column::FrameScores, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.eq(JobStatus::Failed))
            .filter(jobs::Column::FailureDismissedAt.is_null())
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Takes a failed job off the failed-jobs list (it stays `FAILED` for its author); `false`
    /// when it is not (or no longer) a failed, undiscarded job.
    pub(crate) async fn discard_failed_job_in<C: ConnectionTrait>(c: &C, id: JobId) -> AppResult<bool> {
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::FailureDismissedAt, Expr::value(Utc::now()))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.eq(JobStatus::Failed))
            .filter(jobs::Column::FailureDismissedAt.is_null())
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Marks a waiting job handed to the queue; false when it was already (or is no longer queued).
    pub async fn mark_dispatched(&self, id: JobId) -> AppResult<bool> {
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::DispatchedAt, Expr::value(Utc::now()))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.eq(JobStatus::Queued))
            .filter(jobs::Column::DispatchedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }
}
