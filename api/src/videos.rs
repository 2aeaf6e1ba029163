//! Generation and drafts: `createVideo`, `cancelJob`, `job`, `jobUpdates`, `myDrafts`, `video`.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Subscription};
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use super::accounts::UserObject;
use super::{ApiResult, caller, parse_id, to_gql};
use crate::links::MediaLinks;
use app_core::error::AppError;
use app_core::types::{JobId, VideoId};
use domain::model::{AspectRatio, AudioMode, Job, JobStatus, Transition, Video, VideoStatus};
use domain::storyboard::ShotRequest;
use domain::videos::{CreateVideo, ExtendVideo, QueueEstimate, StitchVideos, VideoService};

/// What to generate.
#[derive(InputObject)]
pub struct CreateVideoInput {
    /// 1–2000 characters.
    prompt: String,
    /// Within the model's range.
    #[graphql(default = 4)]
    duration_seconds: i32,
    /// Frame shape.
    #[graphql(default_with = "AspectRatio::Portrait")]
    aspect_ratio: AspectRatio,
    /// Noise seed; the same prompt, seed and model give the same video.
    seed: Option<i32>,
    /// Cameos to put in the scene (at most 2 by default; each needs its owner's consent now).
    #[graphql(default)]
    cameo_ids: Vec<ID>,
    /// A published video to remix: the job starts from its prompt, length, shape and seed, and
    /// `prompt` is the change.
    remix_of: Option<ID>,
    /// The sound track: `FULL` (the prompt's quoted lines spoken over ambience and effects from
    /// the scene), `AMBIENCE` (no speech), `SILENT`; a remix may also `KEEP_SOURCE` (its source's
    /// sound as it is); `FULL` on a remix replaces the source's sound, `SILENT` drops it.
    #[graphql(default)]
    audio: AudioMode,
    /// A storyboard: shots made in order and joined into one video that lasts as long as they
    /// do (at most 12 shots, 60 seconds together by default; each shot within the model's
    /// range). `prompt` then describes the world they share (place, people, objects); its spoken
    /// lines belong to the first shot. `durationSeconds` is ignored. Not with `remixOf`.
    shots: Option<Vec<ShotInput>>,
}

/// One shot of a storyboard.
#[derive(InputObject)]
pub struct ShotInput {
    /// What happens in the shot (1–500 characters; quoted lines are spoken in it).
    prompt: String,
    /// Its length, within the model's range.
    duration_seconds: i32,
    /// How it follows the shot before it (ignored on the first).
    #[graphql(default)]
    transition: Transition,
}

fn shot_request(s: ShotInput) -> ShotRequest {
    ShotRequest { prompt: s.prompt, duration_seconds: s.duration_seconds, transition: s.transition }
}

/// One shot of a storyboard job.
#[derive(SimpleObject)]
#[graphql(name = "Shot")]
pub struct ShotObject {
    /// What happens in the shot.
    prompt: String,
    /// Its length.
    duration_seconds: i32,
    /// How it follows the shot before it.
    transition: Transition,
}

impl From<&app_core::model::Shot> for ShotObject {
    fn from(s: &app_core::model::Shot) -> Self {
        Self {
            prompt: s.prompt.clone(),
            duration_seconds: i32::try_from(s.seconds).unwrap_or(i32::MAX),
            transition: s.transition,
        }
    }
}

/// Why a job failed.
#[derive(SimpleObject)]
pub struct JobError {
    /// Machine-readable code.
    code: String,
    /// What happened, for the user.
    message: String,
}

/// A generation job. Its queue estimate is computed at most once per response, however many of
/// `queuePosition` and `etaSeconds` are selected.
pub struct JobObject(pub Job, tokio::sync::OnceCell<QueueEstimate>);

impl JobObject {
    /// Wraps a job.
    pub fn new(job: Job) -> Self {
        Self(job, tokio::sync::OnceCell::new())
    }

    async fn estimate(&self, ctx: &Context<'_>) -> Result<QueueEstimate> {
        let service = ctx.data::<VideoService>()?;
        self.1.get_or_try_init(|| async { service.estimate(&self.0).await.api() }).await.copied()
    }
}

#[Object(name = "GenerationJob")]
impl JobObject {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Status.
    async fn status(&self) -> JobStatus {
        self.0.status
    }
    /// Denoiser progress in [0, 1] (a storyboard: over all its shots).
    async fn progress(&self) -> f64 {
        self.0.progress()
    }
    /// While a storyboard is being made, the shot being made now (1 = the first); null for a
    /// video of one shot, or when the job is not running.
    async fn shot(&self) -> Option<i32> {
        self.0.shot_progress().map(|(shot, _)| i32::try_from(shot).unwrap_or(i32::MAX))
    }
    /// Progress of that shot in [0, 1]; null when `shot` is.
    async fn shot_progress(&self) -> Option<f64> {
        self.0.shot_progress().map(|(_, p)| p)
    }
    /// Jobs ahead of this one while it waits (0 = next).
    async fn queue_position(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        let est = self.estimate(ctx).await?;
        Ok(est.position.map(|p| i32::try_from(p).unwrap_or(i32::MAX)))
    }
    /// Seconds until it should be done, from measured job and step times.
    async fn eta_seconds(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        let est = self.estimate(ctx).await?;
        Ok(est.eta_seconds.map(|p| i32::try_from(p).unwrap_or(i32::MAX)))
    }
    /// Prompt.
    async fn prompt(&self) -> &str {
        &self.0.prompt
    }
    /// Requested seconds (a storyboard: its shots' sum).
    async fn duration_seconds(&self) -> i32 {
        self.0.duration_seconds
    }
    /// A storyboard's shots, in order; empty for a video of one shot.
    async fn shots(&self) -> Vec<ShotObject> {
        self.0.shots.iter().map(ShotObject::from).collect()
    }
    /// Seed.
    async fn seed(&self) -> i64 {
        self.0.seed
    }
    /// Deliveries to a worker of the current try: 1 at first, +1 for each retry. A storyboard
    /// counts from 1 again when it goes back to the queue after a shot it kept (making way for
    /// other jobs, or a retry that got further): its tries are counted per shot.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// Creation.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// End.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// Why it failed.
    async fn error(&self) -> Option<JobError> {
        match (&self.0.error_code, &self.0.error_message) {
            (Some(code), message) => {
                Some(JobError { code: code.as_str().to_owned(), message: message.clone().unwrap_or_default() })
            }
            _ => None,
        }
    }
    /// Who asked for it (a job is seen only by its author and admins).
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        super::accounts::load_user(ctx, self.0.user_id).await
    }
    /// The draft it made.
    async fn video(&self, ctx: &Context<'_>) -> Result<Option<VideoObject>> {
        let Some(id) = self.0.video_id else { return Ok(None) };
        let c = caller(ctx)?;
        Ok(ctx.data::<VideoService>()?.video(&c.caller, id).await.api()?.map(VideoObject))
    }
}

/// A generated video.
pub struct VideoObject(pub Video);

#[Object(name = "Video")]
impl VideoObject {
    /// Id.
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Author.
    async fn author(&self, ctx: &Context<'_>) -> Result<UserObject> {
        super::accounts::existing_user(ctx, self.0.author_id).await
    }
    /// Status.
    async fn status(&self) -> VideoStatus {
        self.0.status
    }
    /// Caption given at publish.
    async fn caption(&self) -> Option<&str> {
        self.0.caption.as_deref()
    }
    /// Prompt.
    async fn prompt(&self) -> &str {
        &self.0.prompt
    }
    /// The MP4 (H.264, faststart): a short-lived link that supports range requests.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        ctx.data::<MediaLinks>()?.url(&self.0.video_key).await.api()
    }
    /// A JPEG thumbnail: a short-lived link.
    async fn thumbnail_url(&self, ctx: &Context<'_>) -> Result<String> {
        ctx.data::<MediaLinks>()?.url(&self.0.thumbnail_key).await.api()
    }
    /// Whether teen accounts may see it (set from the frame check and the prompt; moderators
    /// may change it).
    async fn maturity(&self) -> domain::model::Maturity {
        self.0.maturity
    }
    /// Whether the MP4 has a sound track (Opus, beside the H.264 video).
    async fn has_audio(&self) -> bool {
        self.0.has_audio
    }
    /// The spoken dialogue as WebVTT subtitles (a short-lived link); null when nothing is said.
    async fn captions_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        match &self.0.captions_key {
            Some(key) => Ok(Some(ctx.data::<MediaLinks>()?.url(key).await.api()?)),
            None => Ok(None),
        }
    }
    /// Length in milliseconds.
    async fn duration_ms(&self) -> i64 {
        self.0.duration_ms
    }
    /// Pixels.
    async fn width(&self) -> i32 {
        self.0.width
    }
    /// Pixels.
    async fn height(&self) -> i32 {
        self.0.height
    }
    /// Frame rate.
    async fn fps(&self) -> i32 {
        self.0.fps
    }
    /// Frames.
    async fn frame_count(&self) -> i32 {
        self.0.frame_count
    }
    /// Seed it was made with.
    async fn seed(&self) -> i64 {
        self.0.seed
    }
    /// The model that made it.
    async fn model_name(&self) -> &str {
        &self.0.model_name
    }
    /// Its version.
    async fn model_version(&self) -> &str {
        &self.0.model_version
    }
    /// Whether others may remix it.
    async fn remix_allowed(&self) -> bool {
        self.0.remix_allowed
    }
    /// Creation.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Publication.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    /// The video this one remixes, if the viewer may see it.
    async fn remix_of(&self, ctx: &Context<'_>) -> Result<Option<VideoObject>> {
        let Some(id) = self.0.remix_of else { return Ok(None) };
        let c = caller(ctx)?;
        Ok(ctx.data::<VideoService>()?.video(&c.caller, id).await.api()?.map(VideoObject))
    }
    /// The shots of a video made as a storyboard (`createVideo` with shots, `extendVideo`,
    /// `stitchVideos`), in order; empty for a video of one shot.
    async fn shots(&self, ctx: &Context<'_>) -> Result<Vec<ShotObject>> {
        let shots = ctx.data::<VideoService>()?.shots_of(&self.0).await.api()?;
        Ok(shots.iter().map(ShotObject::from).collect())
    }
    /// The videos this one joins (`stitchVideos`), in order, that the viewer may see (a draft
    /// part only to its author); empty for any other video.
    async fn parts(&self, ctx: &Context<'_>) -> Result<Vec<VideoObject>> {
        let c = caller(ctx)?;
        let parts = ctx.data::<VideoService>()?.parts_of(&c.caller, &self.0).await.api()?;
        Ok(parts.into_iter().map(VideoObject).collect())
    }
    /// The first video of its remix chain (itself for an original), if the viewer may see it.
    async fn root(&self, ctx: &Context<'_>) -> Result<Option<VideoObject>> {
        let Some(id) = self.0.root_id else { return Ok(Some(VideoObject(self.0.clone()))) };
        let c = caller(ctx)?;
        Ok(ctx.data::<VideoService>()?.video(&c.caller, id).await.api()?.map(VideoObject))
    }
    /// Published remixes of this video, newest first.
    async fn remixes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, VideoObject>> {
        let (n, after) = page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list = ctx.data::<VideoService>()?.remixes_of(&c.caller, self.0.id, after, n + 1).await.api()?;
        Ok(connection(&mut list, n, after.is_some()))
    }
    /// Published remixes of this video.
    async fn remix_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let counts = ctx.data::<super::moderation::RemixCounts>()?;
        let n = counts.load_one(self.0.id).await.map_err(|e| (*e).clone())?.unwrap_or(0);
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
    /// The cameos in it (those the viewer may see).
    async fn cameos(&self, ctx: &Context<'_>) -> Result<Vec<super::cameos::CameoObject>> {
        let c = caller(ctx)?;
        let service = ctx.data::<domain::cameos::CameoService>()?;
        Ok(service.cameos_in(&c.caller, self.0.id).await.api()?.into_iter().map(super::cameos::CameoObject).collect())
    }
    /// Provenance: watermark, manifest and the moderation verdict.
    async fn provenance(&self) -> super::moderation::ProvenanceObject {
        super::moderation::ProvenanceObject(self.0.clone())
    }
    /// The newest moderation case about this video: to its author once decided (to follow a
    /// removal and appeal it with the case id), and to moderators.
    async fn moderation_case(&self, ctx: &Context<'_>) -> Result<Option<super::moderation::CaseObject>> {
        let c = caller(ctx)?;
        let service = ctx.data::<domain::moderation::ModerationService>()?;
        Ok(service.latest_case_of_video(&c.caller, &self.0).await.api()?.map(super::moderation::CaseObject::new))
    }
    /// Why it was taken down (to its author and moderators; null while it is up).
    async fn removal_reason(&self) -> Option<&str> {
        self.0.removal_reason.as_deref()
    }
    /// Comments, newest first.
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, super::moderation::CommentObject>> {
        let (n, after) = page_args(first, after)?;
        // Comments of members in a block with the viewer are hidden from them.
        let services = ctx.data::<domain::Services>()?;
        let mut list = services.comments_of(&caller(ctx)?.caller, self.0.id, after, n + 1).await.api()?;
        Ok(super::moderation::comment_connection(&mut list, n, after.is_some()))
    }
    /// Visible comments.
    async fn comment_count(&self) -> i32 {
        i32::try_from(self.0.comment_count).unwrap_or(i32::MAX)
    }
    /// Members who like it.
    async fn like_count(&self) -> i32 {
        i32::try_from(self.0.like_count).unwrap_or(i32::MAX)
    }
    /// Members who watched it (each once).
    async fn view_count(&self) -> i32 {
        i32::try_from(self.0.view_count).unwrap_or(i32::MAX)
    }
    /// Whether the viewer likes it (false when signed out).
    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> Result<bool> {
        let loader = ctx.data::<super::social::Liked>()?;
        Ok(loader.load_one(self.0.id).await.map_err(|e| (*e).clone())?.unwrap_or(false))
    }
}

/// The opaque cursor of an item in a newest-first list: its creation time and id.
pub fn encode_cursor(created_at: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{id}", created_at.timestamp_micros()))
}

fn cursor_of(v: &Video) -> String {
    encode_cursor(v.created_at, v.id)
}

/// A position in a newest-first list: the last item's creation time and id.
pub type Position = (DateTime<Utc>, uuid::Uuid);

fn parse_cursor(c: &str) -> Option<Position> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (t, id) = s.split_once('|')?;
    Some((DateTime::from_timestamp_micros(t.parse().ok()?)?, uuid::Uuid::parse_str(id).ok()?))
}

/// Checks `first` (1–100, default 20) and decodes `after`.
pub fn page_args(first: Option<i32>, after: Option<String>) -> Result<(u64, Option<Position>)> {
    let first = first.unwrap_or(20);
    if !(1..=100).contains(&first) {
        return Err(to_gql(AppError::bad_input("first", "first must be between 1 and 100")));
    }
    let after = match after {
        None => None,
        Some(a) => Some(
            parse_cursor(&a)
                .ok_or_else(|| to_gql(AppError::bad_input("after", "after is not a cursor from this list")))?,
        ),
    };
    Ok((first as u64, after))
}

/// A page of videos from a list fetched with one extra item (which tells whether more follow).
pub fn connection(list: &mut Vec<Video>, n: u64, has_previous: bool) -> Connection<String, VideoObject> {
    let has_next = list.len() as u64 > n;
    list.truncate(n as usize);
    let mut conn = Connection::new(has_previous, has_next);
    conn.edges.extend(list.drain(..).map(|v| Edge::new(cursor_of(&v), VideoObject(v))));
    conn
}

/// Generation queries.
#[derive(Default)]
pub struct VideosQuery;

#[Object]
impl VideosQuery {
    /// A job of the caller's.
    async fn job(&self, ctx: &Context<'_>, id: ID) -> Result<Option<JobObject>> {
        let id = parse_id(&id, "id", JobId::parse)?;
        let c = caller(ctx)?;
        Ok(ctx.data::<VideoService>()?.job(&c.caller, id).await.api()?.map(JobObject::new))
    }

    /// A video the caller may see (drafts: only their author).
    async fn video(&self, ctx: &Context<'_>, id: ID) -> Result<Option<VideoObject>> {
        let id = parse_id(&id, "id", VideoId::parse)?;
        let c = caller(ctx)?;
        Ok(ctx.data::<VideoService>()?.video(&c.caller, id).await.api()?.map(VideoObject))
    }

    /// The caller's drafts, newest first.
    async fn my_drafts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, VideoObject>> {
        let (n, after) = page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list = ctx.data::<VideoService>()?.drafts(&c.caller, after, n + 1).await.api()?;
        Ok(connection(&mut list, n, after.is_some()))
    }

    /// Jobs that ended `FAILED` (the queue gave up after its retries, or the worker refused the
    /// job) that no admin has discarded, most recently failed first (admin).
    async fn failed_jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, JobObject>> {
        let (n, after) = page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list = ctx.data::<VideoService>()?.failed_jobs(&c.caller, after, n + 1).await.api()?;
        let has_next = list.len() as u64 > n;
        list.truncate(n as usize);
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(
            list.into_iter()
                .map(|j| Edge::new(encode_cursor(j.finished_at.unwrap_or(j.created_at), j.id.0), JobObject::new(j))),
        );
        Ok(conn)
    }
}

/// Generation mutations.
#[derive(Default)]
pub struct VideosMutation;

#[Object]
impl VideosMutation {
    /// Queues a generation job (prompt checked first).
    async fn create_video(&self, ctx: &Context<'_>, input: CreateVideoInput) -> Result<JobObject> {
        let remix_of = input.remix_of.as_ref().map(|id| parse_id(id, "remixOf", VideoId::parse)).transpose()?;
        let cameo_ids = input
            .cameo_ids
            .iter()
            .map(|id| parse_id(id, "cameoIds", app_core::types::CameoId::parse))
            .collect::<Result<Vec<_>>>()?;
        let c = caller(ctx)?;
        let job = ctx
            .data::<VideoService>()?
            .create(
                &c.caller,
                CreateVideo {
                    prompt: input.prompt,
                    duration_seconds: input.duration_seconds,
                    aspect_ratio: input.aspect_ratio,
                    seed: input.seed.map(i64::from),
                    remix_of,
                    cameo_ids,
                    audio: input.audio,
                    shots: input.shots.unwrap_or_default().into_iter().map(shot_request).collect(),
                },
            )
            .await
            .api()?;
        Ok(JobObject::new(job))
    }

    /// Continues a published video (the caller's own, or one that allows remixes) with new
    /// shots, as a remix of it: the new video holds the original's shots made again and then
    /// the new ones, in one world (up to 12 shots and the deployment's storyboard length).
    async fn extend_video(&self, ctx: &Context<'_>, video_id: ID, shots: Vec<ShotInput>) -> Result<JobObject> {
        let video_id = parse_id(&video_id, "videoId", VideoId::parse)?;
        let c = caller(ctx)?;
        let job = ctx
            .data::<VideoService>()?
            .extend(&c.caller, ExtendVideo { video_id, shots: shots.into_iter().map(shot_request).collect() })
            .await
            .api()?;
        Ok(JobObject::new(job))
    }

    /// Joins the caller's own videos, in order, into one new draft: made again shot by shot,
    /// encoded, watermarked and signed once, with the videos as its manifest's ingredients.
    async fn stitch_videos(&self, ctx: &Context<'_>, video_ids: Vec<ID>, caption: Option<String>) -> Result<JobObject> {
        let video_ids =
            video_ids.iter().map(|id| parse_id(id, "videoIds", VideoId::parse)).collect::<Result<Vec<_>>>()?;
        let c = caller(ctx)?;
        let job = ctx.data::<VideoService>()?.stitch(&c.caller, StitchVideos { video_ids, caption }).await.api()?;
        Ok(JobObject::new(job))
    }

    /// Deletes one of the caller's videos for good (file, thumbnail and record).
    async fn delete_video(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id(&id, "id", VideoId::parse)?;
        let c = caller(ctx)?;
        ctx.data::<VideoService>()?.delete(&c.caller, id).await.api()
    }

    /// Allows or forbids others to remix the caller's video.
    async fn set_remix_allowed(&self, ctx: &Context<'_>, video_id: ID, allowed: bool) -> Result<VideoObject> {
        let id = parse_id(&video_id, "videoId", VideoId::parse)?;
        let c = caller(ctx)?;
        Ok(VideoObject(ctx.data::<VideoService>()?.set_remix_allowed(&c.caller, id, allowed).await.api()?))
    }

    /// Puts a failed job back in its author's queue as if new: same id, prompt and seed, no
    /// attempts (admin; audited). `CONFLICT` unless it is on the failed list.
    async fn retry_failed_job(&self, ctx: &Context<'_>, id: ID) -> Result<JobObject> {
        let id = parse_id(&id, "id", JobId::parse)?;
        let c = caller(ctx)?;
        Ok(JobObject::new(ctx.data::<VideoService>()?.retry_failed(&c.caller, id).await.api()?))
    }

    /// Takes a failed job off the failed list; it stays `FAILED` for its author (admin;
    /// audited, with the note). `CONFLICT` unless it is on the failed list.
    async fn discard_failed_job(&self, ctx: &Context<'_>, id: ID, note: Option<String>) -> Result<JobObject> {
        let id = parse_id(&id, "id", JobId::parse)?;
        let c = caller(ctx)?;
        Ok(JobObject::new(ctx.data::<VideoService>()?.discard_failed(&c.caller, id, note.as_deref()).await.api()?))
    }

    /// Cancels a queued job, or stops a running one at its next step.
    async fn cancel_job(&self, ctx: &Context<'_>, id: ID) -> Result<JobObject> {
        let id = parse_id(&id, "id", JobId::parse)?;
        let c = caller(ctx)?;
        Ok(JobObject::new(ctx.data::<VideoService>()?.cancel(&c.caller, id).await.api()?))
    }
}

/// Live updates.
#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The job now, then at every status or progress change, until a final status.
    async fn job_updates(&self, ctx: &Context<'_>, job_id: ID) -> Result<impl Stream<Item = JobObject> + use<>> {
        let id = parse_id(&job_id, "jobId", JobId::parse)?;
        let c = caller(ctx)?;
        let service = ctx.data::<VideoService>()?.clone();
        let viewer = c.caller.clone();
        // Subscribe before reading, so no change between the read and the subscription is lost.
        let rx = service.updates().subscribe();
        let first = service.job(&viewer, id).await.api()?.ok_or_else(|| to_gql(AppError::NotFound("job")))?;
        Ok(job_stream(service, viewer, id, first, rx))
    }
}

/// The job's states: `first`, then each change announced on `rx`, ending after a final one.
fn job_stream(
    service: VideoService,
    viewer: domain::Caller,
    id: JobId,
    first: Job,
    rx: tokio::sync::broadcast::Receiver<JobId>,
) -> impl Stream<Item = JobObject> {
    futures_util::stream::unfold(
        (Some(first), rx, service, viewer, None::<(JobStatus, i32)>, false),
        move |state| async move {
            let (pending, mut rx, service, viewer, mut last, done) = state;
            if done {
                return None;
            }
            if let Some(job) = pending {
                last = Some((job.status, job.step));
                let fin = job.status.is_final();
                return Some((JobObject::new(job), (None, rx, service, viewer, last, fin)));
            }
            loop {
                match rx.recv().await {
                    Ok(changed) if changed != id => continue,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
                let Ok(Some(job)) = service.job(&viewer, id).await else { return None };
                if last == Some((job.status, job.step)) {
                    continue;
                }
                last = Some((job.status, job.step));
                let fin = job.status.is_final();
                return Some((JobObject::new(job), (None, rx, service, viewer, last, fin)));
            }
        },
    )
}
