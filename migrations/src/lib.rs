//! Database schema migrations. Owns the table layout; knows nothing of the service's rules.
//!
//! Architecture invariant: every migration is append-only, reversible, and runs the same on
//! SQLite (embedded default) and PostgreSQL (production). The suite runs them up and down on both
//! (`tests/up_down.rs`: each step down removes only the newest). SQLite adds one column per
//! `ALTER TABLE`, so columns are added one statement at a time. Only `store` runs them
//! (`Store::migrate`, `Store::migrate_down`; `backend serve` and `backend migrate`).
//!
//! Twenty-six tables (and sea-orm's `seaql_migrations`); ids are UUIDv7 made by the service,
//! times `timestamp with time zone`, media bytes live in the media store, never here:
//!
//! - `…000001_accounts`: `users` (unique lower-cased `email` and `username_key`, `role`,
//!   `banned_at`, `invited_by`), `invites` (unique `code`, `uses` < `max_uses`),
//!   `invite_redemptions`, `refresh_families` (one session), `refresh_tokens` and
//!   `one_time_tokens` (SHA-256 digests only), `waitlist`;
//! - `…000002_generation`: `generation_jobs` (its id is the queue's idempotency key and its video's
//!   id), `videos` (unique `job_id`); `…000003_job_dispatch`: `generation_jobs.dispatched_at`;
//! - `…000004_audit_log`: `audit_log` (append-only: the store has no update or delete for it);
//! - `…000005_moderation`: `comments`, `moderation_cases` (unique `open_key` while open), `reports`
//!   (unique per case and reporter), `notifications`; verdict, watermark, manifest and removal
//!   columns on `videos`, frame scores on jobs;
//! - `…000006_remixes`: `remix_of` on jobs and videos, `videos.root_id`;
//! - `…000007_cameos`: `cameo_challenges`, `cameos` (`consent_version`, `reference`),
//!   `cameo_approvals`, `video_cameos` (one cameo in one video, with the consent version that
//!   allowed it), `moderation_cases.subject_cameo_id`;
//! - `…000008_social`: `follows`, `blocks`, `likes`, `views` (the longest watch per member and
//!   video), `feed_preferences`; counter columns on `users` and `videos`; the candidate index on
//!   `videos` (`author_id`, `status`, `published_at`);
//! - `…000009_sound`: `generation_jobs.audio_mode`, `videos.has_audio` and `captions_key`;
//! - `…000010_storyboards`: `generation_jobs.shots` (JSON);
//! - `…000011_stitch_caption`: `generation_jobs.caption` (a stitched video's caption);
//! - `…000012_failed_job_review`: `generation_jobs.failure_dismissed_at` (a failed job an admin
//!   discarded from the console's list);
//! - `…000013_job_trace`: `generation_jobs.trace_parent` (the W3C `traceparent` of the request
//!   that created the job);
//! - `…000014_teens`: `users.birth_month` (`YYYY-MM`), `time_zone` and `daily_feed_minutes`,
//!   `videos.maturity`, `guardian_invites` (digests), `guardian_links` (one parent per teen),
//!   `teen_controls`;
//! - `…000015_push`: the push outbox on `notifications` (`push_state`, `push_due_at`,
//!   `push_lease_until`, `push_attempts`), `push_devices`, `push_deliveries` (idempotency keys),
//!   `notification_settings` (per kind, quiet hours, the weekly email digest).
//!
//! Deleting a user cascades to everything they own (invites, sessions, jobs, videos, comments,
//! reports, notifications, cameos, follows and blocks either side, likes, views, preferences); a
//! video to its comments, likes and views; a case to its reports; a cameo to its approvals and uses.
//! No operation deletes users or cameos. Cases, lineage columns and `video_cameos.video_id` keep
//! plain ids (no foreign key), so they outlive their subject.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_accounts;
mod m20261125_000002_generation;
mod m20261125_000003_job_dispatch;
mod m20261125_000004_audit_log;
mod m20261130_000005_moderation;
mod m20261130_000006_remixes;
mod m20261130_000007_cameos;
mod m20261130_000008_social;
mod m20261204_000009_sound;
mod m20261204_000010_storyboards;
mod m20261204_000011_stitch_caption;
mod m20261204_000012_failed_job_review;
mod m20261205_000013_job_trace;
mod m20261205_000014_teens;
mod m20261205_000015_push;
mod m20261206_000016_search;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_accounts::Migration),
            Box::new(m20261125_000002_generation::Migration),
            Box::new(m20261125_000003_job_dispatch::Migration),
            Box::new(m20261125_000004_audit_log::Migration),
            Box::new(m20261130_000005_moderation::Migration),
            Box::new(m20261130_000006_remixes::Migration),
            Box::new(m20261130_000007_cameos::Migration),
            Box::new(m20261130_000008_social::Migration),
            Box::new(m20261204_000009_sound::Migration),
            Box::new(m20261204_000010_storyboards::Migration),
            Box::new(m20261204_000011_stitch_caption::Migration),
            Box::new(m20261204_000012_failed_job_review::Migration),
            Box::new(m20261205_000013_job_trace::Migration),
            Box::new(m20261205_000014_teens::Migration),
            Box::new(m20261205_000015_push::Migration),
            Box::new(m20261206_000016_search::Migration),
        ]
    }
}
