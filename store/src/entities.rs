//! sea-orm entities, one module per table. Only `store` sees them.
//!
//! A column holding a state is typed with its `app_core::model` enum (mapped by
//! `DeriveActiveEnum`), so a stored value the enum does not know fails the read loudly. JSON
//! columns stay text here and are parsed through `crate::json`, which refuses a corrupt value.

pub mod users {
    //! `users`
    use app_core::model::Role;
    use sea_orm::entity::prelude::*;

    /// A row of `users`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub email: String,
        pub username: String,
        pub username_key: String,
        pub display_name: Option<String>,
        pub password_hash: String,
        pub role: Role,
        pub email_verified_at: Option<DateTimeUtc>,
        pub banned_at: Option<DateTimeUtc>,
        pub ban_reason: Option<String>,
        pub invited_by: Option<Uuid>,
        pub invite_id: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub follower_count: i64,
        pub following_count: i64,
        pub birth_month: Option<String>,
        pub time_zone: Option<String>,
        pub daily_feed_minutes: Option<i32>,
    }

    /// No navigated relations; queries join explicitly.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invites {
    //! `invites`
    use sea_orm::entity::prelude::*;

    /// A row of `invites`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invites")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub owner_id: Option<Uuid>,
        pub created_by: Option<Uuid>,
        pub max_uses: i32,
        pub uses: i32,
        pub expires_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invite_redemptions {
    //! `invite_redemptions`
    use sea_orm::entity::prelude::*;

    /// A row of `invite_redemptions`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invite_redemptions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub invite_id: Uuid,
        pub user_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh_families {
    //! `refresh_families`
    use app_core::model::SessionRevocation;
    use sea_orm::entity::prelude::*;

    /// A row of `refresh_families`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_families")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
        pub revoked_reason: Option<SessionRevocation>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh_tokens {
    //! `refresh_tokens`
    use sea_orm::entity::prelude::*;

    /// A row of `refresh_tokens`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub family_id: Uuid,
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod one_time_tokens {
    //! `one_time_tokens`
    use app_core::model::TokenPurpose;
    use sea_orm::entity::prelude::*;

    /// A row of `one_time_tokens`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "one_time_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub purpose: TokenPurpose,
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod waitlist {
    //! `waitlist`
    use sea_orm::entity::prelude::*;

    /// A row of `waitlist`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "waitlist")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub email: String,
        pub created_at: DateTimeUtc,
        pub granted_at: Option<DateTimeUtc>,
        pub invite_id: Option<Uuid>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod generation_jobs {
    //! `generation_jobs`
    use app_core::model::{AspectRatio, AudioMode, JobErrorCode, JobStatus};
    use sea_orm::entity::prelude::*;

    /// A row of `generation_jobs`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "generation_jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub status: JobStatus,
        pub prompt: String,
        pub seed: i64,
        pub duration_seconds: i32,
        pub aspect_ratio: AspectRatio,
        pub step: i32,
        pub total_steps: i32,
        pub attempts: i32,
        pub worker: Option<String>,
        pub error_code: Option<JobErrorCode>,
        pub error_message: Option<String>,
        pub video_id: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub started_at: Option<DateTimeUtc>,
        pub finished_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
        pub dispatched_at: Option<DateTimeUtc>,
        pub frame_scores: Option<String>,
        pub remix_of: Option<Uuid>,
        pub audio_mode: AudioMode,
        /// JSON: the storyboard's shots; `None` for one shot.
        #[sea_orm(column_type = "Text", nullable)]
        pub shots: Option<String>,
        /// The caption of the video it makes (`stitchVideos`).
        pub caption: Option<String>,
        /// When an admin discarded it from the failed-jobs list.
        pub failure_dismissed_at: Option<DateTimeUtc>,
        /// The W3C `traceparent` of the request that created it.
        pub trace_parent: Option<String>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod videos {
    //! `videos`
    use app_core::model::{AspectRatio, Maturity, Verdict, VideoStatus};
    use sea_orm::entity::prelude::*;

    /// A row of `videos`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "videos")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub author_id: Uuid,
        pub job_id: Uuid,
        pub status: VideoStatus,
        pub prompt: String,
        pub caption: Option<String>,
        pub seed: i64,
        pub aspect_ratio: AspectRatio,
        pub video_key: String,
        pub thumbnail_key: String,
        pub width: i32,
        pub height: i32,
        pub duration_ms: i64,
        pub frame_count: i32,
        pub fps: i32,
        pub model_name: String,
        pub model_version: String,
        pub execution_provider: String,
        pub stage_millis: String,
        pub remix_allowed: bool,
        pub created_at: DateTimeUtc,
        pub published_at: Option<DateTimeUtc>,
        pub watermark_id: Option<i64>,
        pub verdict: Verdict,
        pub verdict_reason: Option<String>,
        pub frame_scores: Option<String>,
        pub frame_strip_key: Option<String>,
        pub manifest_issuer: Option<String>,
        pub manifest_valid: bool,
        pub removed_at: Option<DateTimeUtc>,
        pub removal_reason: Option<String>,
        pub remix_of: Option<Uuid>,
        pub root_id: Option<Uuid>,
        pub like_count: i64,
        pub view_count: i64,
        pub watch_ms_total: i64,
        pub comment_count: i64,
        pub has_audio: bool,
        pub captions_key: Option<String>,
        pub maturity: Maturity,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_log {
    //! `audit_log` (append-only: the store only inserts and reads it)
    use app_core::model::{AuditAction, AuditSubject};
    use sea_orm::entity::prelude::*;

    /// A row of `audit_log`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub actor_id: Option<Uuid>,
        pub action: AuditAction,
        pub subject_type: Option<AuditSubject>,
        pub subject_id: Option<String>,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod comments {
    //! `comments`
    use app_core::model::CommentStatus;
    use sea_orm::entity::prelude::*;

    /// A row of `comments`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "comments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub video_id: Uuid,
        pub author_id: Uuid,
        pub body: String,
        pub status: CommentStatus,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod moderation_cases {
    //! `moderation_cases`
    use app_core::model::{CaseSource, CaseStatus, ModerationAction, SubjectKind};
    use sea_orm::entity::prelude::*;

    /// A row of `moderation_cases`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "moderation_cases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub subject_kind: SubjectKind,
        pub subject_video_id: Option<Uuid>,
        pub subject_user_id: Option<Uuid>,
        pub subject_comment_id: Option<Uuid>,
        pub open_key: Option<String>,
        pub status: CaseStatus,
        pub source: CaseSource,
        pub reasons: String,
        pub scores: String,
        pub report_count: i32,
        pub escalated: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub resolved_at: Option<DateTimeUtc>,
        pub resolved_by: Option<Uuid>,
        pub resolution: Option<ModerationAction>,
        pub note: Option<String>,
        pub appeal_message: Option<String>,
        pub appealed_at: Option<DateTimeUtc>,
        pub appealed_resolver: Option<Uuid>,
        pub subject_cameo_id: Option<Uuid>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod reports {
    //! `reports`
    use app_core::model::ReportReason;
    use sea_orm::entity::prelude::*;

    /// A row of `reports`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub case_id: Uuid,
        pub reporter_id: Uuid,
        pub reason: ReportReason,
        pub details: Option<String>,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notifications {
    //! `notifications`
    use app_core::model::NotificationKind;
    use sea_orm::entity::prelude::*;

    /// A row of `notifications`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notifications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub kind: NotificationKind,
        pub video_id: Option<Uuid>,
        pub actor_id: Option<Uuid>,
        pub message: String,
        pub created_at: DateTimeUtc,
        pub read_at: Option<DateTimeUtc>,
        pub push_state: crate::push::PushState,
        pub push_due_at: Option<DateTimeUtc>,
        pub push_lease_until: Option<DateTimeUtc>,
        pub push_attempts: i32,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cameo_challenges {
    //! `cameo_challenges`
    use sea_orm::entity::prelude::*;

    /// A row of `cameo_challenges`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cameo_challenges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub phrase: String,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cameos {
    //! `cameos`
    use app_core::model::{CameoPermission, CameoStatus};
    use sea_orm::entity::prelude::*;

    /// A row of `cameos`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cameos")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub owner_id: Uuid,
        pub name: String,
        pub permission: CameoPermission,
        pub restrictions: Option<String>,
        pub status: CameoStatus,
        pub clip_key: String,
        pub challenge_phrase: String,
        pub consent_version: i64,
        pub require_approval: bool,
        pub reference: String,
        pub clip_duration_ms: i64,
        pub review_note: Option<String>,
        pub reviewed_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cameo_approvals {
    //! `cameo_approvals`
    use sea_orm::entity::prelude::*;

    /// A row of `cameo_approvals`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cameo_approvals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub cameo_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod video_cameos {
    //! `video_cameos` (`video_id` is also the job id)
    use sea_orm::entity::prelude::*;

    /// A row of `video_cameos`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "video_cameos")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub video_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub cameo_id: Uuid,
        pub consent_version: i64,
        pub owner_approved_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod follows {
    //! `follows`
    use sea_orm::entity::prelude::*;

    /// A row of `follows`: `follower_id` follows `followee_id`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "follows")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub follower_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub followee_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod blocks {
    //! `blocks`
    use sea_orm::entity::prelude::*;

    /// A row of `blocks`: `blocker_id` blocked `blocked_id`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "blocks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub blocker_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub blocked_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod likes {
    //! `likes`
    use sea_orm::entity::prelude::*;

    /// A row of `likes`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "likes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub video_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod views {
    //! `views`: one row per member and video, with the longest watch.
    use sea_orm::entity::prelude::*;

    /// A row of `views`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "views")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub video_id: Uuid,
        pub watch_ms: i64,
        pub viewed_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod feed_preferences {
    //! `feed_preferences`
    use sea_orm::entity::prelude::*;

    /// A row of `feed_preferences`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_preferences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        pub text: String,
        pub weights: String,
        pub updated_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod guardian_invites {
    //! `guardian_invites`
    use sea_orm::entity::prelude::*;

    /// A row of `guardian_invites`: a parent's one-time code for their teen (its digest).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "guardian_invites")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub parent_id: Uuid,
        pub code_hash: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod guardian_links {
    //! `guardian_links`
    use sea_orm::entity::prelude::*;

    /// A row of `guardian_links`: one parent per teen.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "guardian_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub teen_id: Uuid,
        pub parent_id: Uuid,
        pub created_at: DateTimeUtc,
        pub unlink_requested_by: Option<Uuid>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod teen_controls {
    //! `teen_controls`
    use app_core::model::CameoPermission;
    use sea_orm::entity::prelude::*;

    /// A row of `teen_controls`: what a linked parent set.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "teen_controls")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub teen_id: Uuid,
        pub daily_feed_minutes: Option<i32>,
        pub quiet_start: Option<String>,
        pub quiet_end: Option<String>,
        pub cameo_permission: Option<CameoPermission>,
        pub videos_public: bool,
        pub updated_at: DateTimeUtc,
        pub updated_by: Option<Uuid>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod push_devices {
    //! `push_devices`
    use app_core::model::PushPlatform;
    use sea_orm::entity::prelude::*;

    /// A row of `push_devices`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "push_devices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub platform: PushPlatform,
        pub token: String,
        pub token_hash: String,
        pub label: String,
        pub created_at: DateTimeUtc,
        pub last_success_at: Option<DateTimeUtc>,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod push_deliveries {
    //! `push_deliveries`
    use sea_orm::entity::prelude::*;

    /// A row of `push_deliveries`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "push_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub notification_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub device_id: Uuid,
        pub key: Uuid,
        pub state: crate::push::DeliveryState,
        pub attempts: i32,
        pub updated_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification_settings {
    //! `notification_settings`
    use sea_orm::entity::prelude::*;

    /// A row of `notification_settings`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        pub video_ready: bool,
        pub cameo_used: bool,
        pub comments: bool,
        pub remixes: bool,
        pub follows: bool,
        pub likes_digest: bool,
        pub moderation: bool,
        pub email_digest: bool,
        pub quiet_start: Option<String>,
        pub quiet_end: Option<String>,
        pub digest_sent_at: Option<DateTimeUtc>,
        pub likes_digest_sent_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod video_embeddings {
    //! `video_embeddings`
    use sea_orm::entity::prelude::*;

    /// A row of `video_embeddings`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "video_embeddings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub video_id: Uuid,
        pub model: String,
        pub vector: Vec<u8>,
        pub created_at: DateTimeUtc,
    }

    /// No navigated relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
