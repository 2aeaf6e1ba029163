//! Plain domain records: what services reason about. No SQL, HTTP or GraphQL types.

use chrono::{DateTime, Utc};

use crate::types::{CameoId, CaseId, CommentId, InviteId, JobId, UserId, VideoId};

/// Roles, in increasing power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// A member.
    User,
    /// Works the review queue; may ban.
    Moderator,
    /// Everything, including roles and invites.
    Admin,
}

impl Role {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Moderator => "MODERATOR",
            Role::Admin => "ADMIN",
        }
    }
    /// Reads the stored spelling; anything unknown is the least powerful role.
    pub fn from_stored(s: &str) -> Role {
        match s {
            "ADMIN" => Role::Admin,
            "MODERATOR" => Role::Moderator,
            _ => Role::User,
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
}

impl User {
    /// Whether the member is banned.
    pub fn is_banned(&self) -> bool {
        self.banned_at.is_some()
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

/// Where a generation job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is generating it.
    Running,
    /// Output is being checked.
    Moderating,
    /// A video exists.
    Succeeded,
    /// Gave up; `error_message` says why.
    Failed,
    /// Moderation refused the output.
    Rejected,
    /// The author cancelled it.
    Cancelled,
}

impl JobStatus {
    /// Stored and wire spelling.
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
    /// Reads the stored spelling (unknown values read as failed, never as success).
    pub fn from_stored(s: &str) -> Self {
        match s {
            "QUEUED" => JobStatus::Queued,
            "RUNNING" => JobStatus::Running,
            "MODERATING" => JobStatus::Moderating,
            "SUCCEEDED" => JobStatus::Succeeded,
            "REJECTED" => JobStatus::Rejected,
            "CANCELLED" => JobStatus::Cancelled,
            _ => JobStatus::Failed,
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
    /// `PORTRAIT`, `LANDSCAPE` or `SQUARE`.
    pub aspect_ratio: String,
    /// Denoiser steps done.
    pub step: i32,
    /// Denoiser steps in all (0 until a worker starts).
    pub total_steps: i32,
    /// Deliveries so far.
    pub attempts: i32,
    /// Machine-readable failure code.
    pub error_code: Option<String>,
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
    /// The published video this job remixes.
    pub remix_of: Option<VideoId>,
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
}

/// Where a video is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VideoStatus {
    /// Visible to its author (and cameo owners).
    Draft,
    /// Waiting for a human moderator.
    InReview,
    /// In the feed.
    Published,
    /// Taken down.
    Removed,
}

impl VideoStatus {
    /// Stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoStatus::Draft => "DRAFT",
            VideoStatus::InReview => "IN_REVIEW",
            VideoStatus::Published => "PUBLISHED",
            VideoStatus::Removed => "REMOVED",
        }
    }
    /// Reads the stored spelling (unknown reads as removed, never as published).
    pub fn from_stored(s: &str) -> Self {
        match s {
            "DRAFT" => VideoStatus::Draft,
            "IN_REVIEW" => VideoStatus::InReview,
            "PUBLISHED" => VideoStatus::Published,
            _ => VideoStatus::Removed,
        }
    }
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
    pub aspect_ratio: String,
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

/// The frame check's verdict on a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Verdict {
    /// Nothing found.
    Pass,
    /// Held for a moderator.
    Review,
    /// Refused (the job ends `REJECTED`; no video exists).
    Block,
    /// Held for review, then approved by a moderator.
    Approved,
}

impl Verdict {
    /// Stored and wire spelling.
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
    /// Reads the stored (or worker's lower-case) spelling; unknown reads as review, never pass.
    pub fn from_stored(s: &str) -> Verdict {
        match s.to_ascii_uppercase().as_str() {
            "PASS" => Verdict::Pass,
            "BLOCK" => Verdict::Block,
            "APPROVED" => Verdict::Approved,
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

impl Subject {
    /// Stored kind.
    pub fn kind(self) -> &'static str {
        match self {
            Subject::Video(_) => "video",
            Subject::User(_) => "user",
            Subject::Comment(_) => "comment",
            Subject::Cameo(_) => "cameo",
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    /// Waiting for a moderator.
    Open,
    /// Decided.
    Resolved,
    /// The author appealed the decision; waiting for a different moderator.
    Appealed,
}

impl CaseStatus {
    /// Stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "OPEN",
            CaseStatus::Resolved => "RESOLVED",
            CaseStatus::Appealed => "APPEALED",
        }
    }
    /// Reads the stored spelling.
    pub fn from_stored(s: &str) -> CaseStatus {
        match s {
            "RESOLVED" => CaseStatus::Resolved,
            "APPEALED" => CaseStatus::Appealed,
            _ => CaseStatus::Open,
        }
    }
}

/// What a moderator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModerationAction {
    /// Nothing wrong: the subject stays (or is restored).
    Approve,
    /// Take the subject down.
    Remove,
    /// Take it down and ban its author.
    BanAuthor,
    /// Hand to an admin.
    Escalate,
}

impl ModerationAction {
    /// Stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationAction::Approve => "APPROVE",
            ModerationAction::Remove => "REMOVE",
            ModerationAction::BanAuthor => "BAN_AUTHOR",
            ModerationAction::Escalate => "ESCALATE",
        }
    }
    /// Reads the stored spelling.
    pub fn from_stored(s: &str) -> Option<ModerationAction> {
        match s {
            "APPROVE" => Some(ModerationAction::Approve),
            "REMOVE" => Some(ModerationAction::Remove),
            "BAN_AUTHOR" => Some(ModerationAction::BanAuthor),
            "ESCALATE" => Some(ModerationAction::Escalate),
            _ => None,
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
    /// `frame_check` or `report`.
    pub source: String,
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
    /// Reason (ReportReason spelling).
    pub reason: String,
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
    /// Kind, e.g. `video.removed`.
    pub kind: String,
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

/// One moderator or admin action, as recorded.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Id.
    pub id: uuid::Uuid,
    /// Who acted (none: the operator's command line).
    pub actor_id: Option<UserId>,
    /// What was done, e.g. `user.ban`.
    pub action: String,
    /// Kind of thing acted on, e.g. `user`.
    pub subject_type: Option<String>,
    /// Its id.
    pub subject_id: Option<String>,
    /// The actor's note or reason.
    pub note: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Who may put a cameo into their videos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameoPermission {
    /// Only the owner.
    OnlyMe,
    /// The owner and the members they approved.
    Approved,
    /// Members the owner follows who follow them back (following arrives with the feed).
    Mutuals,
    /// Every member.
    Everyone,
}

impl CameoPermission {
    /// Stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CameoPermission::OnlyMe => "ONLY_ME",
            CameoPermission::Approved => "APPROVED",
            CameoPermission::Mutuals => "MUTUALS",
            CameoPermission::Everyone => "EVERYONE",
        }
    }
    /// Reads the stored spelling; anything unknown is the narrowest permission.
    pub fn from_stored(s: &str) -> CameoPermission {
        match s {
            "APPROVED" => CameoPermission::Approved,
            "MUTUALS" => CameoPermission::Mutuals,
            "EVERYONE" => CameoPermission::Everyone,
            _ => CameoPermission::OnlyMe,
        }
    }
}

/// Where a cameo stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameoStatus {
    /// Waiting for a moderator to compare the clip with the challenge.
    PendingReview,
    /// Usable under its permission.
    Active,
    /// A moderator refused the verification.
    Rejected,
    /// The owner withdrew it; every video with it was taken down.
    Revoked,
}

impl CameoStatus {
    /// Stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CameoStatus::PendingReview => "PENDING_REVIEW",
            CameoStatus::Active => "ACTIVE",
            CameoStatus::Rejected => "REJECTED",
            CameoStatus::Revoked => "REVOKED",
        }
    }
    /// Reads the stored spelling; anything unknown is unusable.
    pub fn from_stored(s: &str) -> CameoStatus {
        match s {
            "ACTIVE" => CameoStatus::Active,
            "PENDING_REVIEW" => CameoStatus::PendingReview,
            "REJECTED" => CameoStatus::Rejected,
            _ => CameoStatus::Revoked,
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
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
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
