//! Moderation rules: the publish gate, the public provenance check, comments under the prompt
//! policy, reports aggregated into cases, the moderators' queue, decisions, appeals, and the
//! notices that tell authors what happened to their content.
//!
//! Invariant: nothing reaches `PUBLISHED` except through [`ModerationService::publish`], which
//! re-checks the stored verdict, the invisible watermark and the C2PA manifest of the exact
//! stored file at publish time, then moves the video with one conditional update (or through an
//! upheld appeal that restores a video which had passed it). Case decisions and appeals are
//! conditional on the status they read, so of two racing moderators one answers `CONFLICT`.
//!
//! # The gate (`publish`)
//!
//! In order, the first failure answers and nothing changes (but `manifest_valid`): the caller's own
//! video (`NOT_FOUND` otherwise, moderators included); `gate::verdict_allows` (`CONFLICT` when already
//! published; `PUBLISH_REFUSED` with check `VERDICT` for `REMOVED`, `IN_REVIEW` or a verdict other than
//! `PASS`/`APPROVED`); the caption (`clean_text`, 500 characters, then the policy); the stored file
//! read from the media store (unreadable → `MANIFEST`) and inspected by [`ClipChecker::inspect`] on
//! the blocking pool; `gate::manifest_names` (`MANIFEST`, and `manifest_valid` set to false);
//! `gate::watermark_names` (`WATERMARK`); every cameo's consent as of now with the owner's per-video
//! approval (`consent::uses_still_consented`, `CONSENT_REQUIRED`) and the owners' current
//! restrictions (`POLICY_VIOLATION`); then one unit of work: `Tx::publish_video` (`DRAFT` →
//! `PUBLISHED`, caption, `published_at`; a lost race → `CONFLICT`) and a `video.remixed` notice to a
//! remix source's author; after the commit the fan-out (`FeedService::on_published`; a failure is
//! logged, the video stays published).
//!
//! `ClipChecker` holds the deployment's watermark key and trusted C2PA roots. `inspect` verifies the
//! manifest on the bytes as stored, reads the frames from the plain form of the file
//! (`media::normalize_mp4`), decodes at most `MAX_CHECK_FRAMES` (fewer for large frames, within
//! `MAX_CHECK_PIXELS`, never fewer than `MIN_CHECK_FRAMES`; frames over 4096×2304 are not decoded)
//! and runs `watermark::detect`. One check per core decodes at a time (a semaphore), so concurrent
//! uploads wait rather than fill memory. The same inspection serves `verifyProvenance` and the cameo
//! clip check.
//!
//! # `verify_provenance`
//!
//! Anyone, signed in or not: `provenance-ip` rate limit (every call counts), an empty upload is
//! `BAD_USER_INPUT`, a clip that neither decodes nor carries a manifest too. Blind decoding (CRC-16
//! and confidence ≥ 0.7) names a video by `videos.watermark_id`; a valid, trusted manifest names a
//! video id, for which the matched test runs (so a clip too short for blind decoding still counts).
//! `videoId` is answered only for `PUBLISHED` or `REMOVED` videos (a draft's existence is not
//! revealed); `manifestIssuer` only when trusted. Re-encoding strips the manifest, not the mark.
//!
//! # Reports, cases, decisions, appeals
//!
//! - A case is about one subject (video, comment, member, or a cameo's verification); while open its
//!   `open_key` is unique, so reports join the open case; a decision frees the key. Sources:
//!   `frame_check` (opened with an `IN_REVIEW` video), `report`, `cameo` (a verification).
//! - `report`: exactly one subject, visible to the reporter, not their own; `reports-user` limit;
//!   one report per member and case counts once; the answer is `true` either way.
//! - `queue` (oldest first) and `case` for moderators; the subject's owner sees a decided case.
//! - `resolve`: a moderator; `RESOLVED` is `CONFLICT`; an appeal is decided by a different moderator
//!   than the one who made the appealed decision (`FORBIDDEN`); an escalated case only by an admin;
//!   `REMOVE` on a member is refused (ban instead); `BAN_AUTHOR` only against a lower role. Then the
//!   conditional `Tx::resolve_case`, `apply_to_subject`, and the audit entry (`case.resolve`, or
//!   `case.decide_appeal`, note `ACTION: note`): the checks' reads and every write in one unit of
//!   work (`resolve_in`); `after_resolve` then ends a banned member's sessions in kv, bumps the
//!   feed epoch and puts a restored video back into timelines.
//! - `apply_to_subject`: a video `APPROVE` → `IN_REVIEW` to `DRAFT` with verdict `APPROVED`, or on appeal
//!   `REMOVED` back to `PUBLISHED` (if it had been) or `DRAFT`; `REMOVE` → `REMOVED` with the reason;
//!   `BAN_AUTHOR` → removed and `AccountService::ban_in`; comments hidden or shown again; a cameo
//!   verification `ACTIVE` or `REJECTED`. Removals, bans and appeal decisions bump the `visible`
//!   feed epoch. Each outcome notifies the author (`video.approved`, `video.removed`,
//!   `appeal.upheld`, `comment.removed`, `cameo.approved`, `cameo.rejected`).
//! - `appeal`: the subject's owner (else `NOT_FOUND`), a decided `REMOVE` or `BAN_AUTHOR`, once,
//!   within `APPEAL_DAYS` (`CONFLICT` otherwise); the case waits as `APPEALED`; audited as
//!   `case.appeal` with the author as actor, in the same unit of work.
//! - `comment`: a `PUBLISHED` video not hidden by a block, 1–1000 characters, `comments-user` limit,
//!   the policy; the row, `videos.comment_count` and the `video.comment` notice in one unit of work.

use std::sync::Arc;

use chrono::Utc;
use media::MediaStore;
use moderation::policy::{PolicyContext, PromptPolicy};

use super::gate;
pub use super::gate::ClipInspection;
use super::model::{
    AuditAction, AuditSubject, CaseStatus, Comment, ModerationAction, ModerationCase, NotificationKind, ReportReason,
    Role, Subject, Verdict, Video, VideoStatus,
};
use super::text::{clean_text, refuse_violations};
use super::{Caller, Deps, Viewer};
use app_core::error::{AppError, AppResult, PublishCheck};
use app_core::types::{CaseId, CommentId, SessionId, UserId, VideoId};
use kv::Limit;
use store::Tx;
use store::moderation::{AuthorHistory, Resolution};

/// Longest caption, in characters.
pub const MAX_CAPTION: usize = 500;
/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 1000;
/// Longest report details, appeal or moderator note, in characters.
pub const MAX_NOTE: usize = 2000;
/// Days after a decision during which its author may appeal.
pub const APPEAL_DAYS: i64 = 20;
/// Frames decoded from a clip for the watermark check (the mark is in every frame; more frames
/// only average the same signal, and a cap keeps a long upload from filling memory).
pub const MAX_CHECK_FRAMES: usize = 96;
/// Pixels decoded per check in all (frames × width × height): about 120 MB of RGB. Larger
/// frames get fewer frames, never fewer than [`MIN_CHECK_FRAMES`].
pub const MAX_CHECK_PIXELS: usize = 40_000_000;
/// Fewest frames a check decodes (when the clip has them).
pub const MIN_CHECK_FRAMES: usize = 8;
/// Largest frame accepted for checking (4096×2304, "4K" at 16:9).
pub const MAX_CHECK_FRAME_PIXELS: usize = 4096 * 2304;

/// What `verifyProvenance` takes: any length up to 10 minutes, of which the first 20 s are read.
fn provenance_limits() -> media::ingest::IngestLimits {
    media::ingest::IngestLimits {
        max_seconds: 600.0,
        keep_seconds: 20.0,
        min_side: 32,
        max_frame_pixels: MAX_CHECK_FRAME_PIXELS,
        ..media::ingest::IngestLimits::default()
    }
}

/// An upload that cannot be used, as the client sees it: the words of the error on `field`, or
/// `INTERNAL` when the server lacks its tools.
pub(crate) fn upload_error(field: &'static str, e: media::ingest::IngestError) -> AppError {
    match e {
        media::ingest::IngestError::Unavailable => AppError::internal("video tools", e),
        e => AppError::bad_input(field, e.to_string()),
    }
}

/// Rate limits of moderation operations.
#[derive(Debug, Clone, Copy)]
pub struct ModerationLimits {
    /// `verifyProvenance` per client address.
    pub provenance_per_ip: Limit,
    /// Reports per member.
    pub reports_per_user: Limit,
    /// Comments per member.
    pub comments_per_user: Limit,
}

/// The deployment's means of recognising its own clips: the watermark key and the C2PA roots.
pub struct ClipChecker {
    /// The current key first, then keys used before rotations, newest first.
    watermark_keys: Vec<Vec<u8>>,
    trust_roots_pem: String,
    /// Checks running at once (each holds up to [`MAX_CHECK_PIXELS`] decoded pixels).
    permits: tokio::sync::Semaphore,
}

impl ClipChecker {
    /// A checker with the shared watermark key and the trusted C2PA roots (PEM).
    pub fn new(watermark_key: Vec<u8>, trust_roots_pem: String) -> Self {
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        Self { watermark_keys: vec![watermark_key], trust_roots_pem, permits: tokio::sync::Semaphore::new(cores) }
    }

    /// Also recognises marks made with keys used before a rotation (newest first).
    pub fn with_previous_watermark_keys(mut self, keys: Vec<Vec<u8>>) -> Self {
        for key in keys {
            if !self.watermark_keys.contains(&key) {
                self.watermark_keys.push(key);
            }
        }
        self
    }

    /// Waits for a free check (one per core).
    pub(crate) async fn permit(&self) -> AppResult<tokio::sync::SemaphorePermit<'_>> {
        self.permits.acquire().await.map_err(|e| AppError::internal("clip check", e))
    }

    /// The C2PA manifest of `bytes`, or why it could not be read (neither when there is none).
    fn manifest_of(&self, bytes: &[u8]) -> (Option<moderation::provenance::VerifiedManifest>, Option<String>) {
        match moderation::provenance::verify_mp4_trusting(bytes, &self.trust_roots_pem) {
            Ok(m) => (Some(m), None),
            Err(moderation::provenance::ProvenanceError::NoManifest) => (None, None),
            Err(e) => (None, Some(e.to_string())),
        }
    }

    /// Checks an upload in whatever form a phone, a browser or a screen recorder made it: the
    /// manifest from the bytes as sent, the frames from their normal form (`media::ingest`:
    /// re-encoded once when the pipeline's reader cannot take them, also when an H.264 MP4 turns
    /// out not to decode). A file that cannot be used is an [`media::ingest::IngestError`], in
    /// words for a person. CPU-bound and runs tools: call from a blocking thread.
    pub fn inspect_upload<'a>(
        &self,
        bytes: &'a [u8],
        limits: &media::ingest::IngestLimits,
    ) -> Result<(ClipInspection, media::ingest::Normalized<'a>), media::ingest::IngestError> {
        let mut n = media::ingest::normalize(bytes, limits, false)?;
        let mut found = self.inspect(&n.mp4);
        if !n.reencoded && found.decode_error.is_some() {
            tracing::info!(error = ?found.decode_error, "upload re-encoded: the H.264 reader refused it");
            n = media::ingest::normalize(bytes, limits, true)?;
            found = self.inspect(&n.mp4);
        }
        if n.reencoded {
            (found.manifest, found.manifest_error) = self.manifest_of(bytes);
        }
        if let Some(e) = &found.decode_error {
            tracing::warn!(error = %e, "normalised upload does not decode");
            return Err(media::ingest::IngestError::Undecodable);
        }
        Ok((found, n))
    }

    /// Reads watermark and manifest from an MP4 (CPU-bound: call from a blocking thread).
    pub fn inspect(&self, bytes: &[u8]) -> ClipInspection {
        let mut out = ClipInspection::default();
        (out.manifest, out.manifest_error) = self.manifest_of(bytes);
        // The manifest above is bound to the bytes as uploaded; the frames are read from the
        // plain form of the file (a browser's fragmented recording rewritten, no re-encoding).
        // A file the rewriter refuses is probed as it came, so the reader decides as before.
        let plain = media::normalize_mp4(bytes).unwrap_or(std::borrow::Cow::Borrowed(bytes));
        let bytes: &[u8] = &plain;
        let info = match media::probe_mp4(bytes) {
            Ok(i) => i,
            Err(e) => {
                out.decode_error = Some(e.to_string());
                return out;
            }
        };
        (out.width, out.height) = (info.width, info.height);
        let pixels = info.width.saturating_mul(info.height);
        if pixels == 0 || pixels > MAX_CHECK_FRAME_PIXELS {
            out.decode_error = Some(format!(
                "frames of {}x{} are outside what can be checked (up to 4096x2304)",
                info.width, info.height
            ));
            return out;
        }
        let max_frames = (MAX_CHECK_PIXELS / pixels).clamp(MIN_CHECK_FRAMES, MAX_CHECK_FRAMES);
        let frames = match media::decode_mp4_prefix(bytes, max_frames) {
            Ok(f) => f,
            Err(e) => {
                out.decode_error = Some(e.to_string());
                return out;
            }
        };
        // Each key the deployment has marked with (the current one first); the first that decodes
        // a payload names it, and every reading is kept for matched tests.
        for key in &self.watermark_keys {
            match moderation::watermark::detect(&frames, info.width, info.height, key) {
                Ok(d) => {
                    if out.watermark.is_none() && (d.payload.is_some() || out.detections.is_empty()) {
                        out.watermark = d.payload;
                        out.watermark_confidence = d.confidence;
                    }
                    out.detections.push(d);
                }
                Err(e) => {
                    out.decode_error = Some(e.to_string());
                    break;
                }
            }
        }
        out
    }
}

/// What `verifyProvenance` says about a clip.
#[derive(Debug, Clone)]
pub struct ProvenanceReport {
    /// The clip was made here (by watermark or by a trusted manifest naming one of our videos).
    pub from_us: bool,
    /// Our video it came from, when that video is public (published or taken down).
    pub video_id: Option<VideoId>,
    /// The invisible watermark decoded to one of our videos.
    pub watermark_found: bool,
    /// Detector correlation.
    pub watermark_confidence: f64,
    /// The C2PA manifest is valid, bound to these bytes and signed by a trusted issuer.
    pub manifest_valid: bool,
    /// Issuer of the manifest's signing certificate.
    pub manifest_issuer: Option<String>,
}

/// One moderator decision to make.
pub struct Decision<'a> {
    /// The case.
    pub case: CaseId,
    /// What to do.
    pub action: ModerationAction,
    /// Why (shown to the author on removals).
    pub note: Option<&'a str>,
}

/// Moderation, provenance and comments.
#[derive(Clone)]
pub struct ModerationService {
    deps: Arc<Deps>,
    accounts: super::accounts::AccountService,
    feed: super::feed::FeedService,
    media: MediaStore,
    checker: Arc<ClipChecker>,
    policy: Arc<PromptPolicy>,
    limits: ModerationLimits,
}

/// What a moderation decision leaves to do once its unit of work committed.
pub(crate) struct Decided {
    /// The case decided.
    case: CaseId,
    /// Something came down or came back: every cached feed page goes.
    withdrawn: bool,
    /// A video restored to `PUBLISHED` on appeal: back into timelines.
    restored: Option<VideoId>,
    /// A member was banned: the sessions the ban ended.
    banned: Option<Vec<SessionId>>,
}

fn optional_note(field: &'static str, note: Option<&str>) -> AppResult<Option<String>> {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) => clean_text(field, n, MAX_NOTE, "the text").map(Some),
    }
}

impl ModerationService {
    /// Wires the service.
    pub fn new(
        deps: Arc<Deps>,
        accounts: super::accounts::AccountService,
        feed: super::feed::FeedService,
        media: MediaStore,
        checker: Arc<ClipChecker>,
        policy: Arc<PromptPolicy>,
        limits: ModerationLimits,
    ) -> Self {
        Self { deps, accounts, feed, media, checker, policy, limits }
    }

    async fn inspect(&self, bytes: Vec<u8>) -> AppResult<ClipInspection> {
        // At most one check per core decodes at a time; the rest wait their turn.
        let _permit = self.checker.permit().await?;
        let checker = self.checker.clone();
        tokio::task::spawn_blocking(move || checker.inspect(&bytes))
            .await
            .map_err(|e| AppError::internal("clip check", e))
    }

    fn check_policy(&self, text: &str) -> AppResult<()> {
        refuse_violations(self.policy.check(text, &PolicyContext::default()))
    }

    /// The publish gate: the author publishes a draft only if, now, its verdict allows it, the
    /// stored file's manifest is valid, trusted and names this video, and its invisible
    /// watermark decodes to this video's id. Nothing changes unless every check passes.
    pub async fn publish(&self, caller: &Caller, id: VideoId, caption: Option<&str>) -> AppResult<Video> {
        let v = caller.require()?;
        let video =
            self.deps.store.video(id).await?.filter(|x| x.author_id == v.user.id).ok_or(AppError::NotFound("video"))?;
        gate::verdict_allows(&video)?;
        // No caption sent keeps the one it was made with (`stitchVideos`); an empty one clears it.
        let caption = match caption.map(str::trim) {
            Some("") => None,
            Some(c) => {
                let c = clean_text("caption", c, MAX_CAPTION, "the caption")?;
                self.check_policy(&c)?;
                Some(c)
            }
            None => video.caption.clone(),
        };
        let bytes = match self.media.get(&video.video_key).await {
            Ok(b) => b,
            Err(e @ (media::MediaError::Store(_) | media::MediaError::Io(_))) => {
                // The store did not answer: nothing is wrong with the video; try again.
                tracing::warn!(video = %id, error = %e, "publish: media store unavailable");
                return Err(AppError::Unavailable { what: "publishing", retry_after_secs: 10 });
            }
            Err(e) => {
                tracing::error!(video = %id, error = %e, "publish: stored file unreadable");
                return Err(AppError::PublishRefused {
                    check: PublishCheck::Manifest,
                    reason: "the stored video file cannot be read".into(),
                });
            }
        };
        let found = self.inspect(bytes.to_vec()).await?;
        if let Err(reason) = gate::manifest_names(&found, id) {
            self.deps.store.set_manifest_valid(id, false).await?;
            tracing::warn!(video = %id, %reason, "publish refused: manifest");
            return Err(AppError::PublishRefused { check: PublishCheck::Manifest, reason });
        }
        if let Some(e) = &found.decode_error {
            tracing::warn!(video = %id, error = %e, "publish refused: undecodable");
        }
        gate::watermark_names(&video, &found)?;
        // Every cameo's consent as of now, and the owner's approval where they asked for it.
        let uses = self.deps.store.cameo_uses_of(id).await?;
        let cameos = match super::consent::uses_still_consented(&self.deps, v.user.id, &uses, true).await? {
            Ok(cameos) => cameos,
            Err(why) => return Err(AppError::ConsentRequired(why)),
        };
        // The owners' restrictions as of now: one added after the job was accepted still applies.
        let restrictions: Vec<moderation::policy::CameoRestriction> = cameos
            .into_iter()
            .filter_map(|c| {
                c.restrictions.map(|r| moderation::policy::CameoRestriction { cameo_name: c.name, restrictions: r })
            })
            .collect();
        refuse_violations(self.policy.check_restrictions(&video.prompt, &restrictions))?;
        // One unit of work: the status change and the remix source's author's notice; the
        // timelines after the commit.
        let tx = self.deps.store.begin().await?;
        if !tx.publish_video(id, caption.as_deref()).await? {
            return Err(AppError::Conflict("the video changed while it was being published; reload it".into()));
        }
        if let Some(source) = video.remix_of
            && let Some(src) = tx.video(source).await?
            && src.author_id != v.user.id
        {
            let message = format!("@{} remixed your video", v.user.username);
            tx.notify(src.author_id, NotificationKind::VideoRemixed, Some(id), Some(v.user.id), &message).await?;
        }
        let published = tx.video(id).await?.ok_or(AppError::NotFound("video"))?;
        tx.commit().await?;
        tracing::info!(video = %id, user = %v.user.id, "published");
        // Into followers' FOLLOWING timelines. The video is published whatever happens here: a
        // timeline that misses it is rebuilt from the store when it is dropped or expires.
        if let Err(e) = self.feed.on_published(&published).await {
            tracing::error!(video = %id, error = %e, "fan-out failed");
        }
        Ok(published)
    }

    /// Anyone: did this clip come from here?
    pub async fn verify_provenance(&self, client: &str, bytes: Vec<u8>) -> AppResult<ProvenanceReport> {
        self.deps.kv.hit(self.limits.provenance_per_ip, client).await?;
        if bytes.is_empty() {
            return Err(AppError::bad_input("clip", "the upload is empty"));
        }
        let found = {
            let _permit = self.checker.permit().await?;
            let checker = self.checker.clone();
            let limits = provenance_limits();
            tokio::task::spawn_blocking(move || checker.inspect_upload(&bytes, &limits).map(|(found, _)| found))
                .await
                .map_err(|e| AppError::internal("clip check", e))?
                .map_err(|e| upload_error("clip", e))?
        };
        let by_mark = match found.watermark {
            Some(w) => self.deps.store.video_by_watermark(w).await?,
            None => None,
        };
        let trusted = found.manifest_trusted();
        let by_manifest = match found.manifest.as_ref().filter(|_| trusted).and_then(|m| m.video_id.as_deref()) {
            Some(vid) => match uuid::Uuid::parse_str(vid) {
                Ok(u) => self.deps.store.video(VideoId(u)).await?,
                Err(_) => None,
            },
            None => None,
        };
        // A trusted manifest names the video: test for that video's mark directly (short clips).
        let mark_of_named = by_manifest.as_ref().and_then(|v| v.watermark_id).is_some_and(|w| found.carries(w));
        let video = by_mark.as_ref().or(by_manifest.as_ref());
        Ok(ProvenanceReport {
            from_us: video.is_some(),
            video_id: video.filter(|v| matches!(v.status, VideoStatus::Published | VideoStatus::Removed)).map(|v| v.id),
            watermark_found: by_mark.is_some() || mark_of_named,
            watermark_confidence: found.watermark_confidence,
            manifest_valid: trusted,
            manifest_issuer: found.manifest.as_ref().filter(|_| trusted).and_then(|m| m.issuer.clone()),
        })
    }

    /// Comments on a published video, under the prompt policy and a per-member rate limit.
    pub async fn comment(&self, caller: &Caller, video: VideoId, body: &str) -> AppResult<Comment> {
        let v = caller.require()?;
        let target = self
            .deps
            .store
            .video(video)
            .await?
            .filter(|x| x.status == VideoStatus::Published)
            .ok_or(AppError::NotFound("video"))?;
        // A block either way hides the video from the member, so it reads as absent.
        if target.author_id != v.user.id && self.deps.store.blocked_either(target.author_id, v.user.id).await? {
            return Err(AppError::NotFound("video"));
        }
        let body = clean_text("body", body, MAX_COMMENT, "a comment")?;
        self.deps.kv.hit(self.limits.comments_per_user, &v.user.id.to_string()).await?;
        self.check_policy(&body)?;
        // One unit of work: the comment, its count and the author's notice.
        let tx = self.deps.store.begin().await?;
        let c = tx.insert_comment(target.id, v.user.id, &body).await?;
        if target.author_id != v.user.id {
            let who = &v.user.username;
            tx.notify(
                target.author_id,
                NotificationKind::VideoComment,
                Some(target.id),
                Some(v.user.id),
                &format!("@{who} commented on your video"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(c)
    }

    /// Files a report about exactly one of a video, a comment or a member.
    pub async fn report(
        &self,
        caller: &Caller,
        video: Option<VideoId>,
        comment: Option<CommentId>,
        user: Option<UserId>,
        reason: ReportReason,
        details: Option<&str>,
    ) -> AppResult<bool> {
        let v = caller.require()?;
        let subject = match (video, comment, user) {
            (Some(id), None, None) => Subject::Video(id),
            (None, Some(id), None) => Subject::Comment(id),
            (None, None, Some(id)) => Subject::User(id),
            _ => return Err(AppError::bad_input("videoId", "report exactly one of videoId, commentId or userId")),
        };
        let details = optional_note("details", details)?;
        // The subject must exist and be visible to the reporter; one's own content is not reported.
        let owner = match subject {
            Subject::Video(id) => {
                let x = self.deps.store.video(id).await?;
                let x =
                    x.filter(|x| x.visible_to(Some((v.user.id, v.user.role)))).ok_or(AppError::NotFound("video"))?;
                x.author_id
            }
            Subject::Comment(id) => {
                self.deps
                    .store
                    .comment(id)
                    .await?
                    .filter(|c| !c.removed)
                    .ok_or(AppError::NotFound("comment"))?
                    .author_id
            }
            Subject::User(id) => self.deps.store.user(id).await?.ok_or(AppError::NotFound("user"))?.id,
            Subject::Cameo(_) => return Err(AppError::bad_input("videoId", "cameos are reviewed, not reported")),
        };
        if owner == v.user.id {
            return Err(AppError::bad_input("videoId", "you cannot report your own content"));
        }
        self.deps.kv.hit(self.limits.reports_per_user, &v.user.id.to_string()).await?;
        let (case, new) = self.deps.store.add_report(subject, v.user.id, reason, details.as_deref()).await?;
        tracing::info!(case = %case, reporter = %v.user.id, new, "report filed");
        Ok(true)
    }

    /// The moderators' queue, oldest first.
    pub async fn queue(
        &self,
        caller: &Caller,
        status: CaseStatus,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<ModerationCase>> {
        caller.require_role(Role::Moderator)?;
        self.deps.store.cases(status, after, limit).await
    }

    /// One case, to moderators, and to the author of its subject once decided (to appeal).
    pub async fn case(&self, caller: &Caller, id: CaseId) -> AppResult<Option<ModerationCase>> {
        let v = caller.require()?;
        let Some(case) = self.deps.store.case(id).await? else { return Ok(None) };
        if v.user.role >= Role::Moderator {
            return Ok(Some(case));
        }
        let mine = self.subject_owner(case.subject).await? == Some(v.user.id);
        Ok((mine && case.status != CaseStatus::Open).then_some(case))
    }

    /// The newest case about a video, to its author (to follow a decision and appeal it) and
    /// to moderators; an open case stays hidden from the author.
    pub async fn latest_case_of_video(&self, caller: &Caller, video: &Video) -> AppResult<Option<ModerationCase>> {
        let Some(v) = caller.optional()? else { return Ok(None) };
        let moderator = v.user.role >= Role::Moderator;
        if !moderator && v.user.id != video.author_id {
            return Ok(None);
        }
        let case = self.deps.store.latest_case_about(Subject::Video(video.id)).await?;
        Ok(case.filter(|c| moderator || c.status != CaseStatus::Open))
    }

    /// Who owns a case's subject (the video's or comment's author, or the member).
    pub async fn subject_owner(&self, subject: Subject) -> AppResult<Option<UserId>> {
        Ok(match subject {
            Subject::Video(id) => self.deps.store.video(id).await?.map(|v| v.author_id),
            Subject::Comment(id) => self.deps.store.comment(id).await?.map(|c| c.author_id),
            Subject::User(id) => Some(id),
            Subject::Cameo(id) => self.deps.store.cameo(id).await?.map(|c| c.owner_id),
        })
    }

    /// Who owns a case's subject, read in a unit of work.
    async fn subject_owner_in(tx: &Tx, subject: Subject) -> AppResult<Option<UserId>> {
        Ok(match subject {
            Subject::Video(id) => tx.video(id).await?.map(|v| v.author_id),
            Subject::Comment(id) => tx.comment(id).await?.map(|c| c.author_id),
            Subject::User(id) => Some(id),
            Subject::Cameo(id) => tx.cameo(id).await?.map(|c| c.owner_id),
        })
    }

    /// A moderator decides an open case, or (a different moderator) an appealed one. The
    /// decision, what it does to the subject (a ban included), the notices and the audit entries
    /// are one unit of work; feed caches, timelines and session revocations follow the commit.
    pub async fn resolve(&self, caller: &Caller, d: Decision<'_>) -> AppResult<ModerationCase> {
        let tx = self.deps.store.begin().await?;
        let decided = self.resolve_in(&tx, caller, d).await?;
        tx.commit().await?;
        self.after_resolve(decided).await
    }

    /// The reads and writes of [`ModerationService::resolve`], in the caller's unit of work (a
    /// cameo review may open the case in the same unit); returns what is left for after the
    /// commit ([`ModerationService::after_resolve`]).
    pub(crate) async fn resolve_in(&self, tx: &Tx, caller: &Caller, d: Decision<'_>) -> AppResult<Decided> {
        let actor = caller.require_role(Role::Moderator)?;
        let note = optional_note("note", d.note)?;
        let case = tx.case(d.case).await?.ok_or(AppError::NotFound("case"))?;
        let from = case.status;
        match from {
            CaseStatus::Resolved => return Err(AppError::Conflict("the case is already resolved".into())),
            CaseStatus::Appealed if case.appealed_resolver == Some(actor.user.id) => {
                return Err(AppError::Forbidden(
                    "an appeal is decided by a different moderator than the one who made the decision".into(),
                ));
            }
            _ => {}
        }
        if case.escalated && actor.user.role < Role::Admin {
            return Err(AppError::Forbidden("this case was escalated to an admin".into()));
        }
        if let Subject::User(_) = case.subject
            && d.action == ModerationAction::Remove
        {
            return Err(AppError::bad_input("action", "a member cannot be removed; use BAN_AUTHOR to ban them"));
        }
        let owner = Self::subject_owner_in(tx, case.subject).await?;
        if matches!(d.action, ModerationAction::BanAuthor)
            && let Some(o) = owner
        {
            let target = tx.user(o).await?.ok_or(AppError::NotFound("user"))?;
            if target.role >= actor.user.role || target.id == actor.user.id {
                return Err(AppError::Forbidden("you can only ban members of a lower role".into()));
            }
        }
        let escalate = d.action == ModerationAction::Escalate;
        let to = if escalate { from } else { CaseStatus::Resolved };
        let won = tx
            .resolve_case(
                d.case,
                Resolution { from, to, action: d.action, by: actor.user.id, note: note.as_deref(), escalate },
            )
            .await?;
        if !won {
            return Err(AppError::Conflict("another moderator decided this case first; reload it".into()));
        }
        let appeal = from == CaseStatus::Appealed;
        let why = note
            .clone()
            .unwrap_or_else(|| case.reasons.first().cloned().unwrap_or_else(|| "it breaks the community rules".into()));
        let mut decided = Decided {
            case: case.id,
            // Whatever came down (or came back) leaves every cached feed page at once.
            withdrawn: matches!(d.action, ModerationAction::Remove | ModerationAction::BanAuthor) || appeal,
            restored: None,
            banned: None,
        };
        self.apply_to_subject(tx, actor, &case, d.action, &why, appeal, &mut decided).await?;
        let action = if appeal { AuditAction::CaseDecideAppeal } else { AuditAction::CaseResolve };
        let audit_note = match &note {
            Some(n) => format!("{}: {n}", d.action.as_str()),
            None => d.action.as_str().to_owned(),
        };
        tx.record_audit(
            Some(actor.user.id),
            action,
            Some((AuditSubject::Case, case.id.to_string())),
            Some(&audit_note),
        )
        .await?;
        tracing::info!(case = %case.id, actor = %actor.user.id, action = d.action.as_str(), appeal, "case decided");
        Ok(decided)
    }

    /// Once a decision committed: a banned member's sessions end, cached feed pages go, a video
    /// restored to `PUBLISHED` goes back into its author's followers' timelines (a timeline that
    /// misses it is rebuilt when it expires). Then the case as decided.
    pub(crate) async fn after_resolve(&self, d: Decided) -> AppResult<ModerationCase> {
        if let Some(ended) = &d.banned {
            self.accounts.after_ban(ended).await?;
        }
        if d.withdrawn {
            super::feed::content_withdrawn(&self.deps).await;
        }
        if let Some(id) = d.restored
            && let Some(restored) = self.deps.store.video(id).await?
            && let Err(e) = self.feed.on_published(&restored).await
        {
            tracing::error!(video = %id, error = %e, "fan-out of a restored video failed");
        }
        self.deps.store.case(d.case).await?.ok_or(AppError::NotFound("case"))
    }

    /// Carries out a decision on the case's subject and tells its author, in the decision's
    /// unit of work.
    #[allow(clippy::too_many_arguments)]
    async fn apply_to_subject(
        &self,
        tx: &Tx,
        actor: &Viewer,
        case: &ModerationCase,
        action: ModerationAction,
        why: &str,
        appeal: bool,
        decided: &mut Decided,
    ) -> AppResult<()> {
        let store = tx;
        match (case.subject, action) {
            (_, ModerationAction::Escalate) => {}
            (Subject::Video(id), ModerationAction::Approve) => {
                let Some(video) = store.video(id).await? else { return Ok(()) };
                match video.status {
                    VideoStatus::InReview => {
                        store.approve_held_video(id).await?;
                        store
                            .notify(
                                video.author_id,
                                NotificationKind::VideoApproved,
                                Some(id),
                                None,
                                "A moderator approved your video; you can publish it now",
                            )
                            .await?;
                    }
                    VideoStatus::Removed if appeal => {
                        let back =
                            if video.published_at.is_some() { VideoStatus::Published } else { VideoStatus::Draft };
                        store.set_video_status(id, &[VideoStatus::Removed], back, None).await?;
                        if video.verdict == Verdict::Review {
                            // Held by the frame check, removed, restored on appeal: the appeal's
                            // moderator has now approved what the frame check held.
                            store.set_verdict(id, Verdict::Approved).await?;
                        }
                        store
                            .notify(
                                video.author_id,
                                NotificationKind::AppealUpheld,
                                Some(id),
                                None,
                                "Your appeal succeeded: your video is back",
                            )
                            .await?;
                        if back == VideoStatus::Published {
                            decided.restored = Some(id);
                        }
                    }
                    _ => {}
                }
            }
            (Subject::Video(id), ModerationAction::Remove | ModerationAction::BanAuthor) => {
                let Some(video) = store.video(id).await? else { return Ok(()) };
                let from = [VideoStatus::Draft, VideoStatus::InReview, VideoStatus::Published];
                if store.set_video_status(id, &from, VideoStatus::Removed, Some(why)).await? || appeal {
                    let message = if appeal {
                        format!("Your appeal was refused; your video stays removed: {why}")
                    } else {
                        format!("Your video was removed: {why}")
                    };
                    store.notify(video.author_id, NotificationKind::VideoRemoved, Some(id), None, &message).await?;
                }
                if action == ModerationAction::BanAuthor {
                    self.ban(tx, actor, decided, video.author_id, why).await?;
                }
            }
            (Subject::Comment(id), ModerationAction::Approve) => {
                if appeal {
                    store.set_comment_removed(id, false).await?;
                }
            }
            (Subject::Comment(id), ModerationAction::Remove | ModerationAction::BanAuthor) => {
                let Some(comment) = store.comment(id).await? else { return Ok(()) };
                store.set_comment_removed(id, true).await?;
                store
                    .notify(
                        comment.author_id,
                        NotificationKind::CommentRemoved,
                        Some(comment.video_id),
                        None,
                        &format!("Your comment was removed: {why}"),
                    )
                    .await?;
                if action == ModerationAction::BanAuthor {
                    self.ban(tx, actor, decided, comment.author_id, why).await?;
                }
            }
            (Subject::Cameo(id), ModerationAction::Approve) => {
                if store.review_cameo(id, true, actor.user.id, Some(why)).await?
                    && let Some(c) = store.cameo(id).await?
                {
                    store
                        .notify(
                            c.owner_id,
                            NotificationKind::CameoApproved,
                            None,
                            None,
                            &format!("Your cameo \"{}\" is verified and ready to use", c.name),
                        )
                        .await?;
                }
            }
            (Subject::Cameo(id), ModerationAction::Remove | ModerationAction::BanAuthor) => {
                if store.review_cameo(id, false, actor.user.id, Some(why)).await?
                    && let Some(c) = store.cameo(id).await?
                {
                    let message = format!("Your cameo \"{}\" was not verified: {why}", c.name);
                    store.notify(c.owner_id, NotificationKind::CameoRejected, None, None, &message).await?;
                    if action == ModerationAction::BanAuthor {
                        self.ban(tx, actor, decided, c.owner_id, why).await?;
                    }
                }
            }
            (Subject::User(_), ModerationAction::Approve | ModerationAction::Remove) => {}
            (Subject::User(id), ModerationAction::BanAuthor) => self.ban(tx, actor, decided, id, why).await?,
        }
        Ok(())
    }

    async fn ban(&self, tx: &Tx, actor: &Viewer, decided: &mut Decided, user: UserId, why: &str) -> AppResult<()> {
        let reason: String = why.chars().take(500).collect();
        let (_, ended) = self.accounts.ban_in(tx, actor, user, &reason).await?;
        decided.banned.get_or_insert_with(Vec::new).extend(ended);
        Ok(())
    }

    /// The author of a removed subject asks for another look, within [`APPEAL_DAYS`], once.
    pub async fn appeal(&self, caller: &Caller, id: CaseId, message: &str) -> AppResult<ModerationCase> {
        let v = caller.require()?;
        let message = clean_text("message", message, MAX_NOTE, "the appeal")?;
        let case = self.deps.store.case(id).await?.ok_or(AppError::NotFound("case"))?;
        if self.subject_owner(case.subject).await? != Some(v.user.id) {
            // Not theirs: as if it did not exist.
            return Err(AppError::NotFound("case"));
        }
        if case.status != CaseStatus::Resolved
            || !matches!(case.resolution, Some(ModerationAction::Remove | ModerationAction::BanAuthor))
        {
            return Err(AppError::Conflict("only a decided removal can be appealed".into()));
        }
        if case.appeal_message.is_some() {
            return Err(AppError::Conflict("this decision was already appealed".into()));
        }
        let decided = case.resolved_at.unwrap_or(case.created_at);
        if Utc::now() - decided > chrono::Duration::days(APPEAL_DAYS) {
            return Err(AppError::Conflict(format!("appeals close {APPEAL_DAYS} days after the decision")));
        }
        let resolver =
            case.resolved_by.ok_or_else(|| AppError::internal("appeal", "resolved case without a resolver"))?;
        // One unit of work: the appeal and its audit entry.
        let tx = self.deps.store.begin().await?;
        if !tx.appeal_case(id, &message, resolver).await? {
            return Err(AppError::Conflict("this decision was already appealed".into()));
        }
        tx.record_audit(
            Some(v.user.id),
            AuditAction::CaseAppeal,
            Some((AuditSubject::Case, id.to_string())),
            Some(&message),
        )
        .await?;
        let appealed = tx.case(id).await?.ok_or(AppError::NotFound("case"))?;
        tx.commit().await?;
        Ok(appealed)
    }

    /// An author's record, for moderators.
    pub async fn author_history(&self, caller: &Caller, user: UserId) -> AppResult<AuthorHistory> {
        caller.require_role(Role::Moderator)?;
        self.deps.store.author_history(user).await
    }
}
