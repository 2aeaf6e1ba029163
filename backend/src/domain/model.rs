//! Plain domain records: what services reason about. No SQL, HTTP or GraphQL types.

use chrono::{DateTime, Utc};

use crate::types::{InviteId, JobId, UserId, VideoId};

/// Roles, in increasing power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
#[derive(Debug, Clone)]
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
}

impl User {
    /// Whether the member is banned.
    pub fn is_banned(&self) -> bool {
        self.banned_at.is_some()
    }
}

/// An invite code.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone)]
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
