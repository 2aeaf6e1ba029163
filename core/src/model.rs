//! Plain domain records: what services reason about. No SQL, HTTP or GraphQL types.
//!
//! Every state is one enum here, spelled once. With the `db` feature each state enum stored in a
//! column derives its sea-orm mapping (`DeriveActiveEnum`: the stored text is the variant's name in
//! `SCREAMING_SNAKE_CASE` unless the enum says otherwise, and a value the enum does not know fails
//! the read with an error instead of becoming a default); with the `graphql` feature each state
//! the API shows derives its GraphQL enum (the doc comments below are the schema's descriptions,
//! so they must match `schema.graphql`).

use chrono::{DateTime, Utc};
#[cfg(feature = "db")]
use sea_orm::sea_query::StringLen;

use crate::types::{CameoId, CaseId, CommentId, InviteId, JobId, UserId, VideoId};

/// Member roles.
// In increasing power: `Ord` follows the order of the variants. Column `users.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "Role"))]
pub enum Role {
    /// A member.
    User,
    /// Works the review queue; may ban members.
    Moderator,
    /// Everything.
    Admin,
}

impl Role {
    /// The stored and wire spelling (for messages and the audit log).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Moderator => "MODERATOR",
            Role::Admin => "ADMIN",
        }
    }
}

/// A member as the rules see them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Lower-cased address.
    pub email: String,
    /// Handle as typed at sign-up (unique ignoring case).
    pub username: String,
    /// Optional display name.
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
    /// When the address was confirmed.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// When the member was banned.
    pub banned_at: Option<DateTime<Utc>>,
    /// Why.
    pub ban_reason: Option<String>,
    /// Who invited them: the code's owner, or the admin who minted or granted it (none for
    /// command-line admins and command-line codes).
    pub invited_by: Option<UserId>,
    /// When they joined.
    pub created_at: DateTime<Utc>,
    /// Members following them.
    pub follower_count: i64,
    /// Members they follow.
    pub following_count: i64,
    /// Birth year and month (none: joined without an age check, counted as an adult).
    #[serde(default)]
    pub birth_month: Option<crate::age::BirthMonth>,
    /// IANA time zone (none: UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Their own daily feed limit in minutes.
    #[serde(default)]
    pub daily_feed_minutes: Option<u32>,
}

impl User {
    /// Whether the member is banned.
    pub fn is_banned(&self) -> bool {
        self.banned_at.is_some()
    }

    /// Whether the member is 13 to 17 on `today` (see [`crate::age`]).
    pub fn is_teen_on(&self, today: chrono::NaiveDate) -> bool {
        self.birth_month.is_some_and(|m| m.is_teen_on(today))
    }
}

/// An address on the waitlist.
#[derive(Debug, Clone)]
pub struct WaitlistEntry {
    /// Id.
    pub id: uuid::Uuid,
    /// The address (normalised).
    pub email: String,
    /// When it joined.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When an admin granted it a code.
    pub granted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The code it was granted.
    pub invite_id: Option<InviteId>,
}

/// An invite code.
#[derive(Clone, Debug)]
pub struct Invite {
    /// Id.
    pub id: InviteId,
    /// The normalised (upper-case) code.
    pub code: String,
    /// The member whose quota it belongs to.
    pub owner_id: Option<UserId>,
    /// The admin who minted it.
    pub created_by: Option<UserId>,
    /// Redemptions allowed.
    pub max_uses: i32,
    /// Redemptions so far.
    pub uses: i32,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Admin's note.
    pub note: Option<String>,
    /// Creation.
    pub created_at: DateTime<Utc>,
}

impl Invite {
    /// Redemptions left (never negative).
    pub fn uses_left(&self) -> i32 {
        (self.max_uses - self.uses).max(0)
    }
}

/// Job states.
// Where a generation job is. Column `generation_jobs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "JobStatus"))]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// Being generated.
    Running,
    /// Output being checked.
    Moderating,
    /// A draft exists.
    Succeeded,
    /// Gave up (see `error`).
    Failed,
    /// Moderation refused the output.
    Rejected,
    /// Cancelled by its author.
    Cancelled,
}

impl JobStatus {
    /// Every status a job has not ended in.
    pub const LIVE: [JobStatus; 3] = [JobStatus::Queued, JobStatus::Running, JobStatus::Moderating];
    /// The statuses of a job a worker holds.
    pub const RUNNING: [JobStatus; 2] = [JobStatus::Running, JobStatus::Moderating];

    /// Stored and wire spelling (for messages).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::Moderating => "MODERATING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Rejected => "REJECTED",
            JobStatus::Cancelled => "CANCELLED",
        }
    }
    /// No further change will happen.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed | JobStatus::Rejected | JobStatus::Cancelled)
    }
}

/// A generation job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Author.
    pub user_id: UserId,
    /// Status.
    pub status: JobStatus,
    /// Prompt.
    pub prompt: String,
    /// Noise seed.
    pub seed: i64,
    /// Requested length.
    pub duration_seconds: i32,
    /// Frame shape.
    pub aspect_ratio: AspectRatio,
    /// Denoiser steps done.
    pub step: i32,
    /// Denoiser steps in all (0 until a worker starts).
    pub total_steps: i32,
    /// Deliveries so far.
    pub attempts: i32,
    /// Machine-readable failure code.
    pub error_code: Option<JobErrorCode>,
    /// Failure a user can read.
    pub error_message: Option<String>,
    /// The video, once made.
    pub video_id: Option<VideoId>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// When a worker took it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final status.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last change of its row (dispatch, state, progress).
    pub updated_at: DateTime<Utc>,
    /// The published video this job remixes.
    pub remix_of: Option<VideoId>,
    /// What its sound track holds.
    pub audio_mode: AudioMode,
    /// A storyboard's shots, in order (empty: one shot from `prompt`, which then describes the
    /// whole video). With shots, `prompt` describes their shared world and `duration_seconds` is
    /// their sum.
    pub shots: Vec<Shot>,
    /// The caption the video gets when it is made (`stitchVideos`); `None` for most jobs.
    pub caption: Option<String>,
    /// The W3C `traceparent` of the request that created it (`None`: not traced), continued by
    /// the worker that makes it and the node that applies its result.
    pub trace_parent: Option<String>,
}

/// How a shot begins after the one before it.
// Asked for per shot at `createVideo` (`ShotInput.transition`), kept in `generation_jobs.shots`
// (JSON) and sent to the generator, as `CUT` or `CROSSFADE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "Transition"))]
pub enum Transition {
    /// A hard cut.
    #[default]
    Cut,
    /// The previous shot dissolves into this one over half a second (the video keeps its length).
    Crossfade,
}

/// One shot of a storyboard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shot {
    /// What happens in the shot (the storyboard's prompt says where and who).
    pub prompt: String,
    /// Its length in seconds.
    pub seconds: u32,
    /// How it begins after the shot before it (the first shot's is ignored).
    #[serde(default)]
    pub transition: Transition,
    /// Set when the shot remakes part of an earlier video (`extendVideo`, `stitchVideos`): the
    /// model request it was made from, and where it lies in that video. `prompt` then holds the
    /// words the shot speaks and sounds like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ShotSource>,
}

impl Shot {
    /// The model prompt of a shot: what happens in it, then the world it happens in (a shot
    /// that remakes an earlier one keeps its own request's prompt).
    pub fn model_prompt(&self, world: &str) -> String {
        if let Some(source) = &self.source {
            return source.prompt.clone();
        }
        let action = self.prompt.trim().trim_end_matches(['.', '!', '?']);
        format!("{action}. {}", world.trim())
    }

    /// The seed of this shot, the shot at `index` of a storyboard whose seed is `seed` (a shot
    /// that remakes an earlier one keeps its own).
    pub fn model_seed(&self, seed: u64, index: usize) -> u64 {
        match &self.source {
            Some(source) => source.seed,
            None => seed.wrapping_add(index as u64),
        }
    }
}

/// The earlier video a shot remakes, and the request that made it there: the same model, prompt,
/// seed and likeness make the same frames, which the worker checks against that video's file
/// before they are used (so the new file is marked and signed once, from clean frames).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShotSource {
    /// The video whose file shows this shot (checked against it).
    pub video_id: VideoId,
    /// Where the shot starts in that video, in seconds.
    pub offset_seconds: u32,
    /// The model prompt it was made from.
    pub prompt: String,
    /// Its seed.
    pub seed: u64,
    /// The video whose cameos (and remix source) gave the shot its likeness when it was first
    /// made.
    pub likeness_of: VideoId,
    /// The model that made it, `"name version"`.
    pub model: String,
}

/// Why a job ended without a video: the machine-readable `JobError.code`.
// Column `generation_jobs.error_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))", rename_all = "SCREAMING_SNAKE_CASE")
)]
pub enum JobErrorCode {
    /// The frame check blocked the clip.
    ContentBlocked,
    /// A cameo in it may no longer be used by the author (checked when the job finished).
    ConsentRequired,
    /// A cameo's owner withdrew consent while the job waited or ran.
    ConsentWithdrawn,
    /// The generator gave up.
    GenerationFailed,
    /// The job could not be handed to the queue (no longer set: a job the queue does not take
    /// waits and is offered again; kept for jobs that ended so before).
    QueueUnavailable,
}

impl JobErrorCode {
    /// The client-visible code (`JobError.code`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobErrorCode::ContentBlocked => "CONTENT_BLOCKED",
            JobErrorCode::ConsentRequired => "CONSENT_REQUIRED",
            JobErrorCode::ConsentWithdrawn => "CONSENT_WITHDRAWN",
            JobErrorCode::GenerationFailed => "GENERATION_FAILED",
            JobErrorCode::QueueUnavailable => "QUEUE_UNAVAILABLE",
        }
    }
}

/// Frame shapes.
// The shape asked for at `createVideo`: stored in `generation_jobs.aspect_ratio` and
// `videos.aspect_ratio`, sent to the generator (`jobs::AspectRatio` is this type) and read from
// model manifests, all as `PORTRAIT`, `LANDSCAPE`, `SQUARE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "AspectRatio"))]
pub enum AspectRatio {
    /// Tall.
    Portrait,
    /// Wide.
    Landscape,
    /// 1:1.
    Square,
}

/// What a video's sound track holds.
// Asked for at `createVideo` (`audio`), stored in `generation_jobs.audio_mode` and sent to the
// generator, as `FULL`, `AMBIENCE`, `SILENT` or `KEEP_SOURCE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "AudioMode"))]
pub enum AudioMode {
    /// Dialogue from the prompt over ambience and effects from the scene (a remix: new sound for
    /// the new prompt, replacing the source's).
    #[default]
    Full,
    /// Ambience and effects only; quoted lines are not spoken.
    Ambience,
    /// No sound track (a remix: the source's sound dropped).
    Silent,
    /// A remix keeps its source's sound track as it is (a video that is not a remix gets `FULL`).
    KeepSource,
}

impl AudioMode {
    /// Whether the prompt's dialogue is spoken.
    pub fn speaks(self) -> bool {
        matches!(self, AudioMode::Full)
    }
}

impl Job {
    /// Progress in [0, 1].
    pub fn progress(&self) -> f64 {
        match self.status {
            JobStatus::Succeeded => 1.0,
            _ if self.total_steps > 0 => f64::from(self.step.clamp(0, self.total_steps)) / f64::from(self.total_steps),
            _ => 0.0,
        }
    }

    /// While a storyboard runs: the shot being made (from 1) and its progress in [0, 1]. The
    /// worker makes the shots in order, each with the same number of steps, and counts progress
    /// over all of them, so both follow from [`Job::progress`]. `None` for one shot, or when not
    /// running.
    pub fn shot_progress(&self) -> Option<(u32, f64)> {
        if self.shots.len() < 2 || self.status != JobStatus::Running {
            return None;
        }
        let n = self.shots.len() as f64;
        let at = (self.progress() * n).clamp(0.0, n);
        let shot = (at.floor() as usize).min(self.shots.len() - 1);
        Some((u32::try_from(shot + 1).unwrap_or(u32::MAX), (at - shot as f64).clamp(0.0, 1.0)))
    }
}

/// Video states.
// Where a video is in its life; a draft is visible to its author (and cameo owners). Column
// `videos.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "VideoStatus"))]
pub enum VideoStatus {
    /// Visible to its author.
    Draft,
    /// Waiting for a human moderator.
    InReview,
    /// In the feed.
    Published,
    /// Taken down.
    Removed,
}

/// A generated video.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Video {
    /// Id.
    pub id: VideoId,
    /// Author.
    pub author_id: UserId,
    /// The job that made it.
    pub job_id: JobId,
    /// Status.
    pub status: VideoStatus,
    /// Prompt.
    pub prompt: String,
    /// Caption given at publish.
    pub caption: Option<String>,
    /// Seed.
    pub seed: i64,
    /// Aspect ratio.
    pub aspect_ratio: AspectRatio,
    /// Media-store key of the MP4.
    pub video_key: String,
    /// Media-store key of the thumbnail.
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
    /// Model that made it.
    pub model_name: String,
    /// Its version.
    pub model_version: String,
    /// `cpu` or `cuda`.
    pub execution_provider: String,
    /// Per-stage timings (JSON).
    pub stage_millis: String,
    /// Whether others may remix it.
    pub remix_allowed: bool,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Publication.
    pub published_at: Option<DateTime<Utc>>,
    /// Payload of the invisible watermark (none for videos made before watermarking).
    pub watermark_id: Option<u64>,
    /// The frame check's verdict.
    pub verdict: Verdict,
    /// Why the frame check held it, if it did.
    pub verdict_reason: Option<String>,
    /// Scored frames and their NSFW probabilities.
    pub frame_scores: FrameScores,
    /// Media key of the strip of scored frames.
    pub frame_strip_key: Option<String>,
    /// Issuer of the C2PA signing certificate.
    pub manifest_issuer: Option<String>,
    /// Whether the manifest verified (at the last check: creation or publish).
    pub manifest_valid: bool,
    /// When a moderator (or a cameo owner) took it down.
    pub removed_at: Option<DateTime<Utc>>,
    /// Why.
    pub removal_reason: Option<String>,
    /// The video this one remixes.
    pub remix_of: Option<VideoId>,
    /// The first video of its remix chain (none for an original).
    pub root_id: Option<VideoId>,
    /// Members who like it.
    pub like_count: i64,
    /// Members who watched it (each counted once).
    pub view_count: i64,
    /// Sum over viewers of their longest watch, in milliseconds.
    pub watch_ms_total: i64,
    /// Visible comments.
    pub comment_count: i64,
    /// Whether the MP4 has a sound track.
    pub has_audio: bool,
    /// Media key of the dialogue's WebVTT captions (none when nothing is said).
    pub captions_key: Option<String>,
    /// Whether teen accounts may see it.
    #[serde(default)]
    pub maturity: Maturity,
}

impl Video {
    /// Who may see the video now: anyone once published; before that (and after a removal) only
    /// its author and moderators.
    pub fn visible_to(&self, viewer: Option<(UserId, Role)>) -> bool {
        match self.status {
            VideoStatus::Published => true,
            _ => viewer.is_some_and(|(id, role)| id == self.author_id || role >= Role::Moderator),
        }
    }
}

/// The frame check's verdict.
// On a clip. `Block` never reaches a video: the job ends `REJECTED` and no video exists.
// Column `videos.verdict`; GraphQL `ModerationVerdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "ModerationVerdict"))]
pub enum Verdict {
    /// Nothing found.
    Pass,
    /// Held for a moderator.
    Review,
    /// Refused.
    Block,
    /// Held, then approved by a moderator.
    Approved,
}

impl Verdict {
    /// Stored and wire spelling (for messages).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Review => "REVIEW",
            Verdict::Block => "BLOCK",
            Verdict::Approved => "APPROVED",
        }
    }
    /// Whether the publish gate lets a video with this verdict through.
    pub fn allows_publishing(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::Approved)
    }
    /// Reads the generator's verdict (`pass`, `review` or `block`, any case); anything else
    /// reads as review, never as pass.
    pub fn from_worker(s: &str) -> Verdict {
        match s.to_ascii_uppercase().as_str() {
            "PASS" => Verdict::Pass,
            "BLOCK" => Verdict::Block,
            _ => Verdict::Review,
        }
    }
}

/// Frame-check scores as stored (JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrameScores {
    /// Scored frame indices.
    pub indices: Vec<u32>,
    /// NSFW probability per scored frame.
    pub scores: Vec<f32>,
}

/// A comment on a video.
#[derive(Debug, Clone)]
pub struct Comment {
    /// Id.
    pub id: CommentId,
    /// The video.
    pub video_id: VideoId,
    /// Who wrote it.
    pub author_id: UserId,
    /// Text.
    pub body: String,
    /// Taken down by a moderator.
    pub removed: bool,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What a moderation case is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A video.
    Video(VideoId),
    /// A member.
    User(UserId),
    /// A comment.
    Comment(CommentId),
    /// A cameo's verification.
    Cameo(CameoId),
}

/// The kind of thing a moderation case is about. Column `moderation_cases.subject_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "lowercase")
)]
pub enum SubjectKind {
    /// A video.
    Video,
    /// A member.
    User,
    /// A comment.
    Comment,
    /// A cameo.
    Cameo,
}

impl Subject {
    /// Stored kind.
    pub fn kind(self) -> SubjectKind {
        match self {
            Subject::Video(_) => SubjectKind::Video,
            Subject::User(_) => SubjectKind::User,
            Subject::Comment(_) => SubjectKind::Comment,
            Subject::Cameo(_) => SubjectKind::Cameo,
        }
    }
    /// The open-case key: one open case per subject.
    pub fn key(self) -> String {
        match self {
            Subject::Video(id) => format!("video:{}", id.0),
            Subject::User(id) => format!("user:{}", id.0),
            Subject::Comment(id) => format!("comment:{}", id.0),
            Subject::Cameo(id) => format!("cameo:{}", id.0),
        }
    }
}

/// Where a case stands.
// Appealed: the author appealed the decision. Column `moderation_cases.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "CaseStatus"))]
pub enum CaseStatus {
    /// Waiting for a moderator.
    Open,
    /// Decided.
    Resolved,
    /// Appealed; waiting for a different moderator.
    Appealed,
}

/// A moderator's decision.
// Column `moderation_cases.resolution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "ModerationAction"))]
pub enum ModerationAction {
    /// Nothing wrong: keep it (a held video becomes a publishable draft; an appealed removal is undone).
    Approve,
    /// Take it down and tell the author why.
    Remove,
    /// Take it down and ban its author.
    BanAuthor,
    /// Hand the case to an admin.
    Escalate,
}

impl ModerationAction {
    /// Stored and wire spelling (for the audit log).
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationAction::Approve => "APPROVE",
            ModerationAction::Remove => "REMOVE",
            ModerationAction::BanAuthor => "BAN_AUTHOR",
            ModerationAction::Escalate => "ESCALATE",
        }
    }
}

/// Who opened a moderation case. Column `moderation_cases.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "snake_case")
)]
pub enum CaseSource {
    /// The frame check held a generated video.
    FrameCheck,
    /// A member's report.
    Report,
    /// A cameo waiting for verification.
    Cameo,
}

impl CaseSource {
    /// The spelling moderators see (`ModerationCase.source`).
    pub fn as_str(self) -> &'static str {
        match self {
            CaseSource::FrameCheck => "frame_check",
            CaseSource::Report => "report",
            CaseSource::Cameo => "cameo",
        }
    }
}

/// Why a member reports something.
// Column `reports.reason` (32 characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "ReportReason"))]
pub enum ReportReason {
    /// Sexual content.
    Nudity,
    /// Violence or gore.
    Violence,
    /// Harassment or hate.
    Harassment,
    /// Someone's likeness used without consent.
    LikenessMisuse,
    /// A minor at risk.
    MinorSafety,
    /// Spam or scams.
    Spam,
    /// Anything else (say what in `details`).
    Other,
}

impl ReportReason {
    /// The spelling moderators see (`CaseReport.reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReportReason::Nudity => "NUDITY",
            ReportReason::Violence => "VIOLENCE",
            ReportReason::Harassment => "HARASSMENT",
            ReportReason::LikenessMisuse => "LIKENESS_MISUSE",
            ReportReason::MinorSafety => "MINOR_SAFETY",
            ReportReason::Spam => "SPAM",
            ReportReason::Other => "OTHER",
        }
    }
}

/// A moderation case: one per subject while open.
#[derive(Debug, Clone)]
pub struct ModerationCase {
    /// Id.
    pub id: CaseId,
    /// What it is about.
    pub subject: Subject,
    /// Where it stands.
    pub status: CaseStatus,
    /// Who opened it.
    pub source: CaseSource,
    /// Why it was opened (classifier reasons, report reasons).
    pub reasons: Vec<String>,
    /// Classifier scores (frame check), if any.
    pub scores: Vec<f32>,
    /// Reports received.
    pub report_count: i32,
    /// Handed to an admin.
    pub escalated: bool,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Decided.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who decided last.
    pub resolved_by: Option<UserId>,
    /// What was decided last.
    pub resolution: Option<ModerationAction>,
    /// The moderator's note.
    pub note: Option<String>,
    /// The author's appeal.
    pub appeal_message: Option<String>,
    /// When they appealed.
    pub appealed_at: Option<DateTime<Utc>>,
    /// Who made the decision that was appealed (may not decide the appeal).
    pub appealed_resolver: Option<UserId>,
}

/// One member's report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Who reported.
    pub reporter_id: UserId,
    /// Reason.
    pub reason: ReportReason,
    /// Free text.
    pub details: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A notice to a member.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Id.
    pub id: uuid::Uuid,
    /// Kind.
    pub kind: NotificationKind,
    /// The video it is about.
    pub video_id: Option<VideoId>,
    /// Who caused it.
    pub actor_id: Option<UserId>,
    /// Text shown to the member.
    pub message: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When the member read it.
    pub read_at: Option<DateTime<Utc>>,
}

/// What a notification is about (`Notification.kind`, e.g. `video.removed`).
// Column `notifications.kind` (32 characters); the text is the variant's `string_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")
)]
pub enum NotificationKind {
    /// Someone followed the member.
    #[cfg_attr(feature = "db", sea_orm(string_value = "user.followed"))]
    UserFollowed,
    /// Someone liked the member's video.
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.liked"))]
    VideoLiked,
    /// Someone commented on the member's video.
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.comment"))]
    VideoComment,
    /// Someone published a remix of the member's video.
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.remixed"))]
    VideoRemixed,
    /// The frame check held the member's video for a moderator.
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.in_review"))]
    VideoInReview,
    /// A moderator approved the member's held video.
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.approved"))]
    VideoApproved,
    /// The member's video was taken down.
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.removed"))]
    VideoRemoved,
    /// The member's draft was deleted (a cameo in it was withdrawn).
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.deleted"))]
    VideoDeleted,
    /// An appeal of the member's was decided against them.
    #[cfg_attr(feature = "db", sea_orm(string_value = "appeal.upheld"))]
    AppealUpheld,
    /// The member's comment was taken down.
    #[cfg_attr(feature = "db", sea_orm(string_value = "comment.removed"))]
    CommentRemoved,
    /// A moderator verified the member's cameo.
    #[cfg_attr(feature = "db", sea_orm(string_value = "cameo.approved"))]
    CameoApproved,
    /// A moderator refused the member's cameo.
    #[cfg_attr(feature = "db", sea_orm(string_value = "cameo.rejected"))]
    CameoRejected,
    /// Someone used the member's cameo.
    #[cfg_attr(feature = "db", sea_orm(string_value = "cameo.used"))]
    CameoUsed,
    /// The member's job was stopped (a cameo in it was withdrawn).
    #[cfg_attr(feature = "db", sea_orm(string_value = "job.cancelled"))]
    JobCancelled,
    /// The member's video finished generating (a draft to look at and publish).
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.ready"))]
    VideoReady,
    /// A day's likes on the member's videos, counted (the likes digest push).
    #[cfg_attr(feature = "db", sea_orm(string_value = "likes.digest"))]
    LikesDigest,
}

impl NotificationKind {
    /// The client-visible kind (`Notification.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::UserFollowed => "user.followed",
            NotificationKind::VideoLiked => "video.liked",
            NotificationKind::VideoComment => "video.comment",
            NotificationKind::VideoRemixed => "video.remixed",
            NotificationKind::VideoInReview => "video.in_review",
            NotificationKind::VideoApproved => "video.approved",
            NotificationKind::VideoRemoved => "video.removed",
            NotificationKind::VideoDeleted => "video.deleted",
            NotificationKind::AppealUpheld => "appeal.upheld",
            NotificationKind::CommentRemoved => "comment.removed",
            NotificationKind::CameoApproved => "cameo.approved",
            NotificationKind::CameoRejected => "cameo.rejected",
            NotificationKind::CameoUsed => "cameo.used",
            NotificationKind::JobCancelled => "job.cancelled",
            NotificationKind::VideoReady => "video.ready",
            NotificationKind::LikesDigest => "likes.digest",
        }
    }
}

/// Whether a comment shows. Column `comments.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
pub enum CommentStatus {
    /// Shown under its video.
    Visible,
    /// Taken down by a moderator.
    Removed,
}

/// What a one-time mail token is for. Column `one_time_tokens.purpose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "lowercase")
)]
pub enum TokenPurpose {
    /// Confirms an email address.
    Verify,
    /// Sets a new password.
    Reset,
}

/// Why a session (refresh-token family) was revoked. Column `refresh_families.revoked_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))", rename_all = "snake_case")
)]
pub enum SessionRevocation {
    /// The member logged out.
    Logout,
    /// A used refresh token was presented again (theft is assumed).
    Reuse,
    /// The password was reset.
    PasswordReset,
    /// The member was banned.
    Banned,
}

/// One moderator or admin action, as recorded.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Id.
    pub id: uuid::Uuid,
    /// Who acted (none: the operator's command line).
    pub actor_id: Option<UserId>,
    /// What was done.
    pub action: AuditAction,
    /// Kind of thing acted on.
    pub subject_type: Option<AuditSubject>,
    /// Its id.
    pub subject_id: Option<String>,
    /// The actor's note or reason.
    pub note: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What a moderator or admin did (`AuditEntry.action`, e.g. `user.ban`).
// Column `audit_log.action`; the text is the variant's `string_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(64))")
)]
pub enum AuditAction {
    /// An admin changed a member's role (the note is the new role).
    #[cfg_attr(feature = "db", sea_orm(string_value = "user.set_role"))]
    UserSetRole,
    /// A moderator banned a member.
    #[cfg_attr(feature = "db", sea_orm(string_value = "user.ban"))]
    UserBan,
    /// The operator created an admin on the command line.
    #[cfg_attr(feature = "db", sea_orm(string_value = "user.create_admin"))]
    UserCreateAdmin,
    /// Invite codes were minted.
    #[cfg_attr(feature = "db", sea_orm(string_value = "invites.mint"))]
    InvitesMint,
    /// An admin granted a waitlisted address a code.
    #[cfg_attr(feature = "db", sea_orm(string_value = "waitlist.grant"))]
    WaitlistGrant,
    /// A moderator decided a case.
    #[cfg_attr(feature = "db", sea_orm(string_value = "case.resolve"))]
    CaseResolve,
    /// A moderator decided an appeal.
    #[cfg_attr(feature = "db", sea_orm(string_value = "case.decide_appeal"))]
    CaseDecideAppeal,
    /// An author appealed a decision.
    #[cfg_attr(feature = "db", sea_orm(string_value = "case.appeal"))]
    CaseAppeal,
    /// An admin put a failed job back in the queue.
    #[cfg_attr(feature = "db", sea_orm(string_value = "job.retry"))]
    JobRetry,
    /// An admin discarded a failed job from the failed-jobs list.
    #[cfg_attr(feature = "db", sea_orm(string_value = "job.discard"))]
    JobDiscard,
    /// A moderator corrected a member's date of birth (the note says from what to what).
    #[cfg_attr(feature = "db", sea_orm(string_value = "user.set_birth_date"))]
    UserSetBirthDate,
    /// A moderator, or both sides, unlinked a parent from a teen (the subject is the teen).
    #[cfg_attr(feature = "db", sea_orm(string_value = "guardian.unlink"))]
    GuardianUnlink,
    /// A moderator changed a video's maturity label (the note is the new label).
    #[cfg_attr(feature = "db", sea_orm(string_value = "video.set_maturity"))]
    VideoSetMaturity,
}

impl AuditAction {
    /// The admin-visible text (`AuditEntry.action`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::UserSetRole => "user.set_role",
            AuditAction::UserBan => "user.ban",
            AuditAction::UserCreateAdmin => "user.create_admin",
            AuditAction::InvitesMint => "invites.mint",
            AuditAction::WaitlistGrant => "waitlist.grant",
            AuditAction::CaseResolve => "case.resolve",
            AuditAction::CaseDecideAppeal => "case.decide_appeal",
            AuditAction::CaseAppeal => "case.appeal",
            AuditAction::JobRetry => "job.retry",
            AuditAction::JobDiscard => "job.discard",
            AuditAction::UserSetBirthDate => "user.set_birth_date",
            AuditAction::GuardianUnlink => "guardian.unlink",
            AuditAction::VideoSetMaturity => "video.set_maturity",
        }
    }
}

/// The kind of thing an audited action was done to. Column `audit_log.subject_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))", rename_all = "lowercase")
)]
pub enum AuditSubject {
    /// A member.
    User,
    /// A moderation case.
    Case,
    /// An invite code.
    Invite,
    /// A generation job.
    Job,
    /// A video.
    Video,
}

impl AuditSubject {
    /// The admin-visible text (the `type` of `AuditEntry.subject`, `type:id`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditSubject::User => "user",
            AuditSubject::Case => "case",
            AuditSubject::Invite => "invite",
            AuditSubject::Job => "job",
            AuditSubject::Video => "video",
        }
    }
}

/// Where a push device receives notifications (`registerPushDevice`).
// Column `push_devices.platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "PushPlatform"))]
pub enum PushPlatform {
    /// An iPhone or iPad: Apple Push Notification service (the token is the APNs device token).
    Ios,
    /// An Android phone: Firebase Cloud Messaging (the token is the FCM registration token).
    Android,
    /// A browser: Web Push (the token is the `PushSubscription` as JSON).
    Web,
}

impl PushPlatform {
    /// Stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PushPlatform::Ios => "IOS",
            PushPlatform::Android => "ANDROID",
            PushPlatform::Web => "WEB",
        }
    }
}

/// A registered push device (the token itself stays in the store and the push worker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDevice {
    /// Id.
    pub id: uuid::Uuid,
    /// The member it belongs to.
    pub user_id: UserId,
    /// Where it receives.
    pub platform: PushPlatform,
    /// A readable name ("iPhone or iPad", "Firefox", …), derived from the platform and the token.
    pub label: String,
    /// When it was registered (or last moved to this member).
    pub created_at: DateTime<Utc>,
    /// When a push to it was last accepted by its provider.
    pub last_success_at: Option<DateTime<Utc>>,
}

/// What a member wants pushed, per kind, and when not (`notification_settings`; every kind on and
/// no quiet hours without a row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    /// A generated video is ready.
    pub video_ready: bool,
    /// Someone used the member's cameo.
    pub cameo_used: bool,
    /// Comments on the member's videos.
    pub comments: bool,
    /// Remixes of the member's videos.
    pub remixes: bool,
    /// New followers.
    pub follows: bool,
    /// Likes, counted in the weekly digest (never pushed one by one).
    pub likes_digest: bool,
    /// Moderation decisions about the member's videos, comments and cameos.
    pub moderation: bool,
    /// The weekly email digest, sent while the member has no push device.
    pub email_digest: bool,
    /// Quiet hours, `HH:MM`–`HH:MM` in the member's time zone (may wrap past midnight).
    pub quiet_hours: Option<(String, String)>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            video_ready: true,
            cameo_used: true,
            comments: true,
            remixes: true,
            follows: true,
            likes_digest: true,
            moderation: true,
            email_digest: true,
            quiet_hours: None,
        }
    }
}

/// Whether a video suits every audience: teen accounts are not shown `MATURE` videos.
// Set when the video is made, from the frame check and the prompt (`domain::teens::maturity_of`);
// a moderator may change it. Column `videos.maturity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "Maturity"))]
pub enum Maturity {
    /// Fine for every member, teens included.
    #[default]
    General,
    /// Not shown to teen accounts.
    Mature,
}

impl Maturity {
    /// Stored and wire spelling (for the audit log).
    pub fn as_str(self) -> &'static str {
        match self {
            Maturity::General => "GENERAL",
            Maturity::Mature => "MATURE",
        }
    }
}

/// Who may use a cameo.
// Who may put it into their videos. Column `cameos.permission`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "CameoPermission"))]
pub enum CameoPermission {
    /// Only its owner.
    OnlyMe,
    /// Its owner and the members they approved.
    Approved,
    /// Members who follow the owner and whom the owner follows (following arrives with the feed; until then no one).
    Mutuals,
    /// Every member.
    Everyone,
}

/// Where a cameo stands.
// Pending review: a moderator compares the clip with the challenge. Revoked: the owner withdrew
// it and every video with it was taken down. Column `cameos.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "db",
    derive(sea_orm::DeriveActiveEnum, sea_orm::EnumIter),
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "CameoStatus"))]
pub enum CameoStatus {
    /// Waiting for a moderator.
    PendingReview,
    /// Usable under its permission.
    Active,
    /// Not verified.
    Rejected,
    /// Withdrawn by its owner.
    Revoked,
}

impl CameoStatus {
    /// Stored and wire spelling (for messages).
    pub fn as_str(self) -> &'static str {
        match self {
            CameoStatus::PendingReview => "PENDING_REVIEW",
            CameoStatus::Active => "ACTIVE",
            CameoStatus::Rejected => "REJECTED",
            CameoStatus::Revoked => "REVOKED",
        }
    }
}

/// A member's verified likeness.
#[derive(Debug, Clone)]
pub struct Cameo {
    /// Id.
    pub id: CameoId,
    /// Whose likeness.
    pub owner_id: UserId,
    /// Display name.
    pub name: String,
    /// Who may use it.
    pub permission: CameoPermission,
    /// The owner's restrictions, enforced by the prompt policy.
    pub restrictions: Option<String>,
    /// Where it stands.
    pub status: CameoStatus,
    /// Media key of the verification clip.
    pub clip_key: String,
    /// The phrase the owner was asked to say and act out.
    pub challenge_phrase: String,
    /// Changes with every change of consent (permission, approvals, restrictions, revocation).
    pub consent_version: i64,
    /// Each video using it waits for the owner's approval before it can publish.
    pub require_approval: bool,
    /// Likeness features passed to the model.
    pub reference: Vec<f32>,
    /// Length of the verification clip.
    pub clip_duration_ms: i64,
    /// The moderator's note.
    pub review_note: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change (review, settings, revocation).
    pub updated_at: DateTime<Utc>,
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Cameo {
    /// Days the verification clip of a rejected or revoked cameo is kept (for an appeal or a second
    /// look by a moderator) before the sweeper deletes it.
    pub const ENDED_CLIP_DAYS: i64 = 30;

    /// Whether its verification clip is kept: while it is pending or active, and for
    /// [`Cameo::ENDED_CLIP_DAYS`] after it was rejected or revoked.
    pub fn clip_kept(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            CameoStatus::PendingReview | CameoStatus::Active => true,
            CameoStatus::Rejected | CameoStatus::Revoked => {
                let ended = self.revoked_at.unwrap_or(self.updated_at);
                now - ended < chrono::Duration::days(Self::ENDED_CLIP_DAYS)
            }
        }
    }
}

/// A cameo's use in a video (or in the job making it: same id).
#[derive(Debug, Clone)]
pub struct CameoUse {
    /// The video (= job) id.
    pub video_id: VideoId,
    /// The cameo.
    pub cameo_id: CameoId,
    /// The consent version that allowed it.
    pub consent_version: i64,
    /// When the owner approved this use (cameos that require it).
    pub owner_approved_at: Option<DateTime<Utc>>,
}

/// What a cameo depicts. Every cameo so far is a member's own likeness (`PERSON`); the other
/// kinds are characters (`createCharacter`, not built yet: see docs/ROADMAP.md).
// Not stored yet: every stored cameo is a PERSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "CameoKind"))]
pub enum CameoKind {
    /// A member's own likeness, verified with a challenge clip.
    Person,
    /// A pet.
    Pet,
    /// An object or a toy.
    Object,
    /// A drawing.
    Drawing,
    /// An invented persona.
    Persona,
}

/// What `search` looks for.
// Not stored: a request's choice (`search(kinds:)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "SearchKind"))]
pub enum SearchKind {
    /// Published videos, by the meaning and the words of their prompts and captions.
    Video,
    /// Members, by handle and display name.
    Member,
    /// Cameos and characters anyone may ask to use, by name.
    Character,
}

/// The feeds.
// Not stored: a request's choice (`feed(kind:)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "FeedKind"))]
pub enum FeedKind {
    /// Ranked for the viewer: followed authors, trending, remixes of what they liked, cameos of
    /// people they follow, and fresh videos; steered by `setFeedPreferences`.
    ForYou,
    /// Followed authors, newest first.
    Following,
    /// Time-decayed engagement, the same for everyone.
    Trending,
}

/// What a linked parent set for their teen (a teen without a parent, or whose parent set
/// nothing, has the defaults: `domain::teens`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeenControls {
    /// Minutes of feed a day (none: the default).
    pub daily_feed_minutes: Option<u32>,
    /// Start of the quiet hours, `HH:MM` in the teen's time zone (none: the default).
    pub quiet_start: Option<String>,
    /// End of the quiet hours, `HH:MM`.
    pub quiet_end: Option<String>,
    /// The widest permission the teen's cameos may have (none: `APPROVED`, never `EVERYONE`).
    pub cameo_permission: Option<CameoPermission>,
    /// Whether the teen's published videos appear to members beyond their mutuals.
    pub videos_public: bool,
}

impl Default for TeenControls {
    fn default() -> Self {
        TeenControls {
            daily_feed_minutes: None,
            quiet_start: None,
            quiet_end: None,
            cameo_permission: None,
            videos_public: true,
        }
    }
}

/// A parent linked to a teen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianLink {
    /// The teen.
    pub teen_id: UserId,
    /// The parent.
    pub parent_id: UserId,
    /// Since when.
    pub created_at: DateTime<Utc>,
    /// Who asked to unlink, waiting for the other's agreement.
    pub unlink_requested_by: Option<UserId>,
}
