//! Cameos: verification (a challenge phrase, a recorded clip with automatic checks, a
//! moderator's review), who may use a cameo, and the owner's control over every video with it.
//!
//! Invariant: no video with a cameo exists unless its owner's consent is in force: consent is
//! checked when a job is submitted (`consent::consented_cameos`), again when it finishes, and again at
//! publish (the gate); revoking a cameo or removing an appearance takes the videos down at once.
//! The rule itself lives in `crate::consent`.
//!
//! # Verification
//!
//! 1. `start_verification`: a member (`cameo-verify` limit per hour); three words of 48 and one of 8
//!    actions (`Say "kettle ocean drum", then touch your nose`), valid `CHALLENGE_MINUTES`, once, for
//!    that member.
//! 2. `create` (the clip is the multipart `Upload` of `createCameo`): name 1–`MAX_NAME` characters,
//!    restrictions up to `MAX_RESTRICTIONS`, permission `ONLY_ME` by default; the challenge must be the
//!    caller's, unused and unexpired (`BAD_USER_INPUT`, field `challengeId`).
//! 3. `check_clip` (every refusal `BAD_USER_INPUT`, field `clip`, in words, nothing stored): any
//!    video phones and browsers record (`ClipChecker::inspect_upload` → `media::ingest`: HEVC, VP9,
//!    AV1, 10-bit or 4:4:4 H.264, rotated, re-encoded once into an upright H.264 MP4; a browser's
//!    fragmented MP4 rewritten without re-encoding; that is what is stored); `CLIP_SECONDS`, sides
//!    within `MIN_SIDE`–`MAX_SIDE`; then
//!    `ClipChecker::inspect`: a clip whose watermark decodes blind, or that carries a trusted
//!    manifest, is one of our own generated clips and is refused. The first 16 frames become the
//!    likeness features (`jobs::reference::from_frames`, the manifest's `embed_dim` values).
//! 4. The clip is stored as `cameos/<uuid>.mp4` first; then one unit of work: `Tx::insert_cameo` uses
//!    the challenge and inserts the cameo (`PENDING_REVIEW`, consent version 1), and its case (5.). If
//!    a concurrent upload used the challenge first, or the unit fails, the clip is deleted again (the
//!    former answers the `challengeId` refusal).
//! 5. A case (source `cameo`, reason "verify: the clip should show the owner doing this: …"). `review`
//!    decides it through `ModerationService::resolve_in`, in one unit of work with the case's opening
//!    when there was none (`APPROVE` → `ACTIVE`, `REMOVE` → `REJECTED` with
//!    the note), so moderators work one queue and every decision is audited. Whether the clip shows
//!    the owner saying the phrase is the moderator's call.
//!
//! # The owner's controls
//!
//! `update` (permission, restrictions, `requireApproval`; an `ACTIVE` or `PENDING_REVIEW` cameo),
//! `set_approved` (the `APPROVED` list), `approve_appearance` (one video, when approval is required),
//! `appearances` (every video with the cameo, drafts included, to the owner only), `usable` (cameos the
//! caller may use now, by name). Every change of consent bumps `consent_version` in the store, in the
//! statement that makes it; each use records the version that allowed it, and the C2PA manifest
//! carries it.
//!
//! # Take-downs (`remove_appearance`, `revoke`, `take_down`)
//!
//! `revoke` marks the cameo `REVOKED` (so every consent check refuses it from the commit on) and takes
//! down every use, 100 at a time, newest first, all in one unit of work; a revoked cameo can never be
//! used again. `remove_appearance` takes one use down in a unit of its own. `take_down` acts on what
//! the id is now, in the caller's unit; what is not in the database (the `visible` epoch, the files,
//! the queue) is collected in `TakenDown` and done after the commit:
//!
//! | the id is | what happens | notice |
//! | --- | --- | --- |
//! | a `PUBLISHED` video | `REMOVED` with the reason (conditional); `visible` epoch bumped | `video.removed` |
//! | a `DRAFT` or `IN_REVIEW` video | row deleted; its files after the commit | `video.deleted` |
//! | a `REMOVED` video | nothing | |
//! | no video: a live job | `VideoService::cancel_for_consent` (`CONSENT_WITHDRAWN`); stopped in the queue after the commit | `job.cancelled` |
//!
//! Revocation finds videos through their recorded uses, not remix trees: a remix inherits its
//! source's cameos at submit, each with a use of its own. A revocation racing a publish cannot leave
//! the video published: either the take-down finds it `PUBLISHED` and removes it, or finds a draft
//! and deletes it (the publish's conditional update then changes nothing).

use std::sync::Arc;

use chrono::Utc;
use media::MediaStore;

use super::model::{
    Cameo, CameoPermission, CameoStatus, CaseSource, NotificationKind, Role, Subject, User, Video, VideoStatus,
};
use super::moderation::{ClipChecker, Decision, ModerationService};
use super::videos::VideoService;
use super::{Caller, Deps};
use app_core::error::{AppError, AppResult};
use app_core::types::{CameoId, ChallengeId, UserId, VideoId};
use store::Tx;
use store::cameos::{CameoChange, NewCameo};

/// Longest cameo name, in characters.
pub const MAX_NAME: usize = 80;
/// Longest restrictions text, in characters.
pub const MAX_RESTRICTIONS: usize = 500;
/// Shortest and longest verification clip.
pub const CLIP_SECONDS: (u64, u64) = (2, 30);
/// Smallest side of a verification clip, in pixels.
pub const MIN_SIDE: usize = 240;
/// Largest side of a verification clip, in pixels.
pub const MAX_SIDE: usize = 4096;
/// How long a challenge stays valid.
pub const CHALLENGE_MINUTES: i64 = 10;

/// Words of challenge phrases: concrete, easy to say and to act out.
const WORDS: [&str; 48] = [
    "apple", "banjo", "candle", "dolphin", "eagle", "feather", "guitar", "hammer", "island", "jacket", "kettle",
    "lemon", "mountain", "needle", "orange", "pepper", "quilt", "rocket", "saddle", "tiger", "umbrella", "violin",
    "window", "yellow", "anchor", "basket", "cactus", "drum", "engine", "forest", "garden", "harbor", "igloo",
    "jungle", "kite", "ladder", "magnet", "napkin", "ocean", "pencil", "river", "spoon", "tunnel", "velvet", "wagon",
    "zebra", "bridge", "comet",
];
/// Actions of challenge phrases.
const ACTIONS: [&str; 8] = [
    "wave both hands",
    "turn your head left then right",
    "touch your nose",
    "nod twice",
    "smile and blink",
    "raise one hand",
    "look up then down",
    "shrug",
];

/// What a new cameo is made from.
pub struct CreateCameo {
    /// The challenge the clip answers.
    pub challenge: ChallengeId,
    /// Display name.
    pub name: String,
    /// The recorded clip (MP4).
    pub clip: Vec<u8>,
    /// Who may use it.
    pub permission: CameoPermission,
    /// The owner's restrictions.
    pub restrictions: Option<String>,
}

/// Cameo rules.
#[derive(Clone)]
pub struct CameoService {
    deps: Arc<Deps>,
    media: MediaStore,
    checker: Arc<ClipChecker>,
    moderation: ModerationService,
    videos: VideoService,
    reference_dim: usize,
    verifications_per_user: kv::Limit,
}

fn clean_name(name: &str) -> AppResult<String> {
    let n = name.trim();
    let count = n.chars().count();
    if count == 0 || count > MAX_NAME || n.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "name",
            format!("the name must have 1 to {MAX_NAME} characters, without control characters"),
        ));
    }
    Ok(n.to_owned())
}

/// The clip as a plain MP4: a browser's fragmented recording rewritten (no re-encoding), any
/// other file as it came (one the rewriter refuses is then judged by the MP4 reader as before).
fn plain_mp4(clip: Vec<u8>) -> Vec<u8> {
    match media::normalize_mp4(&clip) {
        Ok(std::borrow::Cow::Owned(plain)) => plain,
        Ok(std::borrow::Cow::Borrowed(_)) | Err(_) => clip,
    }
}

fn clean_restrictions(text: Option<&str>) -> AppResult<Option<String>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) if t.chars().count() > MAX_RESTRICTIONS || t.chars().any(|c| c.is_control() && c != '\n') => Err(
            AppError::bad_input("restrictions", format!("restrictions may have up to {MAX_RESTRICTIONS} characters")),
        ),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

impl CameoService {
    /// Wires the service.
    pub fn new(
        deps: Arc<Deps>,
        media: MediaStore,
        checker: Arc<ClipChecker>,
        moderation: ModerationService,
        videos: VideoService,
        reference_dim: usize,
        verifications_per_user: kv::Limit,
    ) -> Self {
        Self { deps, media, checker, moderation, videos, reference_dim, verifications_per_user }
    }

    /// Issues a single-use challenge: a phrase to say and an action to do on camera.
    pub async fn start_verification(&self, caller: &Caller) -> AppResult<(ChallengeId, String, chrono::DateTime<Utc>)> {
        let v = caller.require()?;
        // Each challenge leads to an upload and a clip check: a member gets a few per hour.
        self.deps.kv.hit(self.verifications_per_user, &v.user.id.to_string()).await?;
        let pick = |n: usize| rand::random_range(0..n);
        let words: Vec<&str> = (0..3).filter_map(|_| WORDS.get(pick(WORDS.len())).copied()).collect();
        let action = ACTIONS.get(pick(ACTIONS.len())).copied().unwrap_or("wave both hands");
        let phrase = format!("Say \"{}\", then {action}", words.join(" "));
        let expires = Utc::now() + chrono::Duration::minutes(CHALLENGE_MINUTES);
        let (id, expires) = self.deps.store.insert_challenge(v.user.id, &phrase, expires).await?;
        Ok((id, phrase, expires))
    }

    /// Checks the recorded clip, stores it and the cameo (`PENDING_REVIEW`), and opens a case
    /// for a moderator to compare the clip with the challenge.
    pub async fn create(&self, caller: &Caller, c: CreateCameo) -> AppResult<Cameo> {
        let v = caller.require()?;
        let name = clean_name(&c.name)?;
        let restrictions = clean_restrictions(c.restrictions.as_deref())?;
        self.check_teen_permission(&v.user, c.permission).await?;
        if self.deps.store.live_challenge(c.challenge, v.user.id).await?.is_none() {
            return Err(AppError::bad_input(
                "challengeId",
                "the challenge expired, was used, or is not yours; start a new verification",
            ));
        }
        // The plain MP4 is what gets stored: the moderator's player and every later reader get
        // that, not the browser's fragmented recording.
        let (clip, facts, reference) = self.check_clip(c.clip).await?;
        let key = format!("cameos/{}.mp4", uuid::Uuid::now_v7());
        self.media.put(&key, clip, "video/mp4").await.map_err(|e| {
            tracing::warn!(error = %e, "cameo clip not stored: media store unavailable");
            AppError::Unavailable { what: "uploading", retry_after_secs: 10 }
        })?;
        let new = NewCameo {
            owner: v.user.id,
            name,
            permission: c.permission,
            restrictions,
            clip_key: key.clone(),
            challenge: c.challenge,
            reference,
            clip_duration_ms: i64::try_from(facts).unwrap_or(i64::MAX),
        };
        // One unit of work: the challenge used, the cameo, and its case for a moderator. The clip is
        // stored already: when the unit does not commit, it is deleted again.
        let created = async {
            let tx = self.deps.store.begin().await?;
            let Some(cameo) = tx.insert_cameo(new).await? else { return Ok(None) };
            let reason = format!("verify: the clip should show the owner doing this: {}", cameo.challenge_phrase);
            tx.open_case(Subject::Cameo(cameo.id), CaseSource::Cameo, &[reason], &[]).await?;
            tx.commit().await?;
            AppResult::Ok(Some(cameo))
        }
        .await;
        let cameo = match created {
            Ok(Some(cameo)) => cameo,
            Ok(None) => {
                // The challenge was used by a concurrent upload: keep nothing of this one.
                let _ = self.media.delete(&key).await;
                return Err(AppError::bad_input(
                    "challengeId",
                    "the challenge expired, was used, or is not yours; start a new verification",
                ));
            }
            Err(e) => {
                // Nothing was written: keep nothing of this upload either.
                let _ = self.media.delete(&key).await;
                return Err(e);
            }
        };
        tracing::info!(cameo = %cameo.id, owner = %v.user.id, "cameo submitted for review");
        Ok(cameo)
    }

    /// The automatic checks of a verification clip: a video of 2–30 s within the size bounds, in
    /// any form phones and browsers record (`ClipChecker::inspect_upload`: HEVC, VP9, AV1, 10-bit
    /// or 4:4:4 H.264, rotated, are re-encoded once into an upright H.264 MP4; a browser's
    /// fragmented MP4 is rewritten without re-encoding), and not one of our own generated clips.
    /// Returns the clip as stored, its length and the likeness features passed to the model.
    async fn check_clip(&self, clip: Vec<u8>) -> AppResult<(Vec<u8>, u64, Vec<f32>)> {
        use media::ingest::IngestError;
        let bad = |m: String| AppError::bad_input("clip", m);
        if clip.is_empty() {
            return Err(bad("the clip is empty".into()));
        }
        let seconds = |secs: f64| {
            bad(format!("the clip is {secs:.1} s long; record {} to {} seconds", CLIP_SECONDS.0, CLIP_SECONDS.1))
        };
        let sides =
            |w: usize, h: usize| bad(format!("the clip is {w}x{h}; each side must be {MIN_SIDE} to {MAX_SIDE} pixels"));
        let limits = media::ingest::IngestLimits {
            max_seconds: CLIP_SECONDS.1 as f64,
            keep_seconds: CLIP_SECONDS.1 as f64,
            min_side: MIN_SIDE,
            max_frame_pixels: MAX_SIDE * MAX_SIDE,
            ..media::ingest::IngestLimits::default()
        };
        let _permit = self.checker.permit().await?;
        let checker = self.checker.clone();
        let dim = self.reference_dim;
        let checked = tokio::task::spawn_blocking(move || {
            let (found, n) = checker.inspect_upload(&clip, &limits)?;
            // What is stored: the re-encoded clip, or the upload as a plain MP4.
            let reencoded = n.reencoded.then(|| n.mp4.into_owned());
            let clip = reencoded.unwrap_or_else(|| plain_mp4(clip));
            let frames = media::decode_mp4_prefix(&clip, 16);
            let info = media::probe_mp4(&clip);
            Ok::<_, IngestError>((clip, found, frames, info))
        })
        .await
        .map_err(|e| AppError::internal("cameo clip check", e))?
        .map_err(|e| match e {
            IngestError::TooLong { secs, .. } => seconds(secs),
            IngestError::TooSmall { width, height, .. } | IngestError::TooLarge { width, height } => {
                sides(width, height)
            }
            e => crate::moderation::upload_error("clip", e),
        })?;
        let (clip, found, frames, info) = checked;
        let info = info.map_err(|e| {
            tracing::warn!(error = %e, "normalised cameo clip unreadable");
            bad("the clip could not be decoded (it may be damaged or cut short)".into())
        })?;
        if info.duration_ms < CLIP_SECONDS.0 * 1000 || info.duration_ms > CLIP_SECONDS.1 * 1000 + 50 {
            return Err(seconds(info.duration_ms as f64 / 1000.0));
        }
        let (w, h) = (info.width, info.height);
        if w.min(h) < MIN_SIDE || w.max(h) > MAX_SIDE {
            return Err(sides(w, h));
        }

        if found.watermark.is_some() || found.manifest_trusted() {
            return Err(bad("this clip was generated here; record yourself with your camera instead".into()));
        }
        let frames = frames.map_err(|e| {
            tracing::warn!(error = %e, "normalised cameo clip does not decode");
            bad("the clip could not be decoded (it may be damaged or cut short)".into())
        })?;
        let reference = jobs::reference::from_frames(&frames, w, h, dim)
            .map_err(|e| bad(format!("the clip cannot be used ({e})")))?;
        Ok((clip, info.duration_ms, reference))
    }

    /// A moderator decides a pending verification (through its case, so it is audited).
    pub async fn review(&self, caller: &Caller, id: CameoId, approve: bool, note: Option<&str>) -> AppResult<Cameo> {
        caller.require_role(Role::Moderator)?;
        let cameo = self.deps.store.cameo(id).await?.ok_or(AppError::NotFound("cameo"))?;
        if cameo.status != CameoStatus::PendingReview {
            return Err(AppError::Conflict(format!("the cameo is {}, not waiting for review", cameo.status.as_str())));
        }
        // One unit of work: the case (opened when there is none) and the decision on it.
        let tx = self.deps.store.begin().await?;
        let case =
            tx.latest_case_about(Subject::Cameo(id)).await?.filter(|c| c.status == super::model::CaseStatus::Open);
        let case = match case {
            Some(c) => c.id,
            None => tx.open_case(Subject::Cameo(id), CaseSource::Cameo, &[], &[]).await?,
        };
        let action =
            if approve { super::model::ModerationAction::Approve } else { super::model::ModerationAction::Remove };
        let decided = self.moderation.resolve_in(&tx, caller, Decision { case, action, note }).await?;
        tx.commit().await?;
        self.moderation.after_resolve(decided).await?;
        self.deps.store.cameo(id).await?.ok_or(AppError::NotFound("cameo"))
    }

    /// A cameo, to anyone while active; to its owner and moderators whatever its status.
    pub async fn cameo(&self, caller: &Caller, id: CameoId) -> AppResult<Option<Cameo>> {
        let viewer = caller.optional()?;
        let Some(c) = self.deps.store.cameo(id).await? else { return Ok(None) };
        let privileged = viewer.is_some_and(|v| v.user.id == c.owner_id || v.user.role >= Role::Moderator);
        Ok((c.status == CameoStatus::Active || privileged).then_some(c))
    }

    /// A member's cameos as the caller may see them.
    pub async fn cameos_of(&self, caller: &Caller, owner: UserId) -> AppResult<Vec<Cameo>> {
        let viewer = caller.optional()?;
        let privileged = viewer.is_some_and(|v| v.user.id == owner || v.user.role >= Role::Moderator);
        let all = self.deps.store.cameos_of(owner).await?;
        Ok(all.into_iter().filter(|c| privileged || c.status == CameoStatus::Active).collect())
    }

    /// The cameos in a video, as the caller may see them (revoked ones are not listed).
    pub async fn cameos_in(&self, caller: &Caller, video: VideoId) -> AppResult<Vec<Cameo>> {
        let uses = self.deps.store.cameo_uses_of(video).await?;
        let ids: Vec<CameoId> = uses.iter().map(|u| u.cameo_id).collect();
        let viewer = caller.optional()?;
        Ok(self
            .deps
            .store
            .cameos(&ids)
            .await?
            .into_iter()
            .filter(|c| {
                c.status == CameoStatus::Active
                    || viewer.is_some_and(|v| v.user.id == c.owner_id || v.user.role >= Role::Moderator)
            })
            .collect())
    }

    /// Cameos the caller may use now, by name.
    pub async fn usable(
        &self,
        caller: &Caller,
        query: Option<&str>,
        after: Option<(String, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Cameo>> {
        let v = caller.require()?;
        self.deps.store.usable_cameos(v.user.id, query, after, limit, self.deps.adult_cutoff()).await
    }

    /// `BAD_USER_INPUT` when `owner` is a teen and `p` is wider than their cameos may be.
    async fn check_teen_permission(&self, owner: &User, p: CameoPermission) -> AppResult<()> {
        if !self.deps.is_teen(owner) {
            return Ok(());
        }
        let controls = self.deps.store.teen_controls(owner.id).await?;
        crate::teens::check_teen_permission(p, crate::teens::teen_cameo_ceiling(&controls))
    }

    fn owned(&self, caller: &Caller, cameo: Option<Cameo>) -> AppResult<Cameo> {
        let v = caller.require()?;
        cameo.filter(|c| c.owner_id == v.user.id).ok_or(AppError::NotFound("cameo"))
    }

    /// The owner changes who may use the cameo and what it may not be used for.
    pub async fn update(
        &self,
        caller: &Caller,
        id: CameoId,
        permission: Option<CameoPermission>,
        restrictions: Option<Option<String>>,
        require_approval: Option<bool>,
    ) -> AppResult<Cameo> {
        let cameo = self.owned(caller, self.deps.store.cameo(id).await?)?;
        if let Some(p) = permission {
            self.check_teen_permission(&caller.require()?.user, p).await?;
        }
        let restrictions = match restrictions {
            Some(r) => Some(clean_restrictions(r.as_deref())?),
            None => None,
        };
        if !self.deps.store.update_cameo(cameo.id, CameoChange { permission, restrictions, require_approval }).await? {
            return Err(AppError::Conflict(format!("a {} cameo cannot be changed", cameo.status.as_str())));
        }
        self.deps.store.cameo(id).await?.ok_or(AppError::NotFound("cameo"))
    }

    /// The owner approves (or withdraws approval of) a member.
    pub async fn set_approved(&self, caller: &Caller, id: CameoId, user: UserId, approved: bool) -> AppResult<Cameo> {
        let cameo = self.owned(caller, self.deps.store.cameo(id).await?)?;
        if user == cameo.owner_id {
            return Err(AppError::bad_input("userId", "the owner may always use their own cameo"));
        }
        self.deps.store.user(user).await?.ok_or(AppError::NotFound("user"))?;
        // A teen approves only mutuals: an adult cannot get onto a teen's cameo by approval alone.
        if approved
            && self.deps.is_teen(&caller.require()?.user)
            && !(self.deps.store.follows(cameo.owner_id, user).await?
                && self.deps.store.follows(user, cameo.owner_id).await?)
        {
            return Err(AppError::bad_input(
                "userId",
                "a teen account can approve only members they follow who follow them back",
            ));
        }
        if approved {
            self.deps.store.approve_cameo_user(id, user).await?;
        } else {
            self.deps.store.unapprove_cameo_user(id, user).await?;
        }
        self.deps.store.cameo(id).await?.ok_or(AppError::NotFound("cameo"))
    }

    /// The members the owner approved (owner only).
    pub async fn approved_users(&self, caller: &Caller, cameo: &Cameo) -> AppResult<Vec<UserId>> {
        let v = caller.require()?;
        if v.user.id != cameo.owner_id {
            return Ok(vec![]);
        }
        self.deps.store.cameo_approved_users(cameo.id).await
    }

    /// Every video (drafts included) and job that uses the cameo, to its owner.
    pub async fn appearances(
        &self,
        caller: &Caller,
        cameo: &Cameo,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<(Video, chrono::DateTime<Utc>)>> {
        let v = caller.require()?;
        if v.user.id != cameo.owner_id {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        let mut cursor = after;
        // Uses whose job has not made a video yet are skipped; keep reading until the page fills.
        loop {
            let uses = self.deps.store.uses_of_cameo(cameo.id, cursor, limit).await?;
            let exhausted = (uses.len() as u64) < limit;
            for (u, at) in &uses {
                cursor = Some((*at, u.video_id.0));
                if let Some(video) = self.deps.store.video(u.video_id).await? {
                    out.push((video, *at));
                    if out.len() as u64 >= limit {
                        return Ok(out);
                    }
                }
            }
            if exhausted || uses.is_empty() {
                return Ok(out);
            }
        }
    }

    /// The owner approves one video's use of a cameo that requires approval.
    pub async fn approve_appearance(&self, caller: &Caller, id: CameoId, video: VideoId) -> AppResult<bool> {
        let cameo = self.owned(caller, self.deps.store.cameo(id).await?)?;
        if !self.deps.store.approve_cameo_use(cameo.id, video).await? {
            return Err(AppError::NotFound("appearance"));
        }
        Ok(true)
    }

    /// The owner takes one video with their cameo down.
    pub async fn remove_appearance(&self, caller: &Caller, id: CameoId, video: VideoId) -> AppResult<bool> {
        let cameo = self.owned(caller, self.deps.store.cameo(id).await?)?;
        let uses = self.deps.store.cameo_uses_of(video).await?;
        if !uses.iter().any(|u| u.cameo_id == cameo.id) {
            return Err(AppError::NotFound("appearance"));
        }
        let why = format!("the person in the cameo \"{}\" removed it from this video", cameo.name);
        let tx = self.deps.store.begin().await?;
        let mut down = TakenDown::default();
        Self::take_down(&tx, video, &why, &mut down).await?;
        tx.commit().await?;
        self.after_take_down(down).await?;
        Ok(true)
    }

    /// The owner withdraws the cameo: every video with it comes down, live jobs with it are
    /// cancelled, and it can never be used again.
    pub async fn revoke(&self, caller: &Caller, id: CameoId) -> AppResult<Cameo> {
        let cameo = self.owned(caller, self.deps.store.cameo(id).await?)?;
        // One unit of work: the revocation (from its commit every consent check refuses the
        // cameo, so nothing new can appear) and every take-down with its notice. The queue, the
        // feed caches and the files follow the commit.
        let tx = self.deps.store.begin().await?;
        tx.revoke_cameo(cameo.id).await?;
        let why = format!("the person in the cameo \"{}\" withdrew it", cameo.name);
        let mut down = TakenDown::default();
        let mut cursor = None;
        loop {
            let uses = tx.uses_of_cameo(cameo.id, cursor, 100).await?;
            if uses.is_empty() {
                break;
            }
            for (u, at) in &uses {
                cursor = Some((*at, u.video_id.0));
                Self::take_down(&tx, u.video_id, &why, &mut down).await?;
            }
        }
        let revoked = tx.cameo(id).await?.ok_or(AppError::NotFound("cameo"))?;
        tx.commit().await?;
        self.after_take_down(down).await?;
        tracing::info!(cameo = %cameo.id, "cameo revoked and its videos taken down");
        Ok(revoked)
    }

    /// Takes one video (or the job making it) down in the caller's unit of work: a live job is
    /// ended, a draft deleted, a published video removed; its author is told why. What is not in
    /// the database (the queue, feed caches, files) is noted in `down` for after the commit.
    async fn take_down(tx: &Tx, video: VideoId, why: &str, down: &mut TakenDown) -> AppResult<()> {
        let store = tx;
        match store.video(video).await? {
            Some(v) if v.status == VideoStatus::Published => {
                if store.set_video_status(v.id, &[VideoStatus::Published], VideoStatus::Removed, Some(why)).await? {
                    down.withdrawn = true;
                    store
                        .notify(
                            v.author_id,
                            NotificationKind::VideoRemoved,
                            Some(v.id),
                            None,
                            &format!("Your video was removed: {why}"),
                        )
                        .await?;
                }
            }
            Some(v) if v.status == VideoStatus::Removed => {}
            Some(v) => {
                if store.delete_video(v.id).await? {
                    store
                        .notify(
                            v.author_id,
                            NotificationKind::VideoDeleted,
                            None,
                            None,
                            &format!("Your draft was deleted: {why}"),
                        )
                        .await?;
                    down.deleted.push(v);
                }
            }
            None => {
                // No video yet: the job may still be running.
                let job = app_core::types::JobId(video.0);
                if let Some(ended) = VideoService::cancel_for_consent(tx, job, why).await? {
                    down.jobs.push(ended);
                }
            }
        }
        Ok(())
    }

    /// Once the take-downs committed: the feed caches, the deleted drafts' files, the ended jobs
    /// in the queue.
    async fn after_take_down(&self, down: TakenDown) -> AppResult<()> {
        if down.withdrawn {
            super::feed::content_withdrawn(&self.deps).await;
        }
        for v in &down.deleted {
            self.videos.delete_media_of(v).await;
        }
        self.videos.after_consent_cancel(&down.jobs).await
    }
}

/// What take-downs leave for after their unit of work committed.
#[derive(Default)]
struct TakenDown {
    /// A published video came down: cached feed pages go.
    withdrawn: bool,
    /// Drafts deleted: their files go.
    deleted: Vec<Video>,
    /// Live jobs ended, with their authors: stopped in the queue.
    jobs: Vec<(app_core::types::JobId, UserId)>,
}
