//! Moderation over GraphQL: `publishVideo` (the gate), `verifyProvenance`, comments, `report`,
//! `moderationQueue`, `resolveCase`, `appeal`, notifications, and `Video.provenance`.

use std::io::Read;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Result, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use super::accounts::{UserObject, Users};
use super::videos::{VideoObject, encode_cursor, page_args};
use super::{ApiResult, caller, parse_id, to_gql};
use crate::links::MediaLinks;
use app_core::error::AppError;
use app_core::types::{CaseId, CommentId, UserId, VideoId};
use domain::model::{
    CaseStatus, Comment, ModerationAction, ModerationCase, Notification, ReportReason, Role, Subject, Verdict, Video,
};
use domain::moderation::{Decision, ModerationService, ProvenanceReport};
use domain::videos::VideoService;

/// Where a video came from and what the checks found.
pub struct ProvenanceObject(pub Video);

#[Object(name = "Provenance")]
impl ProvenanceObject {
    /// The invisible watermark's 64-bit payload, as 16 hex digits.
    async fn watermark_id(&self) -> Option<String> {
        self.0.watermark_id.map(|w| format!("{w:016x}"))
    }
    /// Whether the C2PA manifest verified against the stored file (at creation, and again at publish).
    async fn manifest_valid(&self) -> bool {
        self.0.manifest_valid
    }
    /// Organisation of the certificate that signed the manifest.
    async fn manifest_issuer(&self) -> Option<&str> {
        self.0.manifest_issuer.as_deref()
    }
    /// The frame check's verdict.
    async fn moderation_verdict(&self) -> Verdict {
        self.0.verdict
    }
    /// Model that made it, with its version.
    async fn model(&self) -> String {
        format!("{} {}", self.0.model_name, self.0.model_version)
    }
}

/// What `verifyProvenance` found.
#[derive(SimpleObject)]
#[graphql(name = "ProvenanceReport")]
pub struct ProvenanceReportObject {
    /// The clip was made here.
    from_us: bool,
    /// The video it came from, when that video is public.
    video_id: Option<ID>,
    /// Our invisible watermark was found and decodes to one of our videos.
    watermark_found: bool,
    /// The watermark detector's correlation (near 0 for unmarked clips).
    watermark_confidence: f64,
    /// The C2PA manifest is valid for these bytes and signed by an issuer we trust.
    manifest_valid: bool,
    /// Who signed the manifest.
    manifest_issuer: Option<String>,
}

impl From<ProvenanceReport> for ProvenanceReportObject {
    fn from(r: ProvenanceReport) -> Self {
        Self {
            from_us: r.from_us,
            video_id: r.video_id.map(|v| ID(v.to_string())),
            watermark_found: r.watermark_found,
            watermark_confidence: r.watermark_confidence,
            manifest_valid: r.manifest_valid,
            manifest_issuer: r.manifest_issuer,
        }
    }
}

/// A comment.
pub struct CommentObject(pub Comment);

#[Object(name = "Comment")]
impl CommentObject {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> Result<UserObject> {
        super::accounts::existing_user(ctx, self.0.author_id).await
    }
    /// Text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Batches published-remix counts of the videos in one response.
pub struct RemixCountLoader(pub domain::Services);

impl async_graphql::dataloader::Loader<VideoId> for RemixCountLoader {
    type Value = i64;
    type Error = std::sync::Arc<async_graphql::Error>;

    async fn load(
        &self,
        keys: &[VideoId],
    ) -> std::result::Result<std::collections::HashMap<VideoId, i64>, Self::Error> {
        self.0.remix_counts(keys).await.map_err(|e| std::sync::Arc::new(to_gql(e)))
    }
}

/// Per-request loader handle.
pub type RemixCounts = async_graphql::dataloader::DataLoader<RemixCountLoader, async_graphql::dataloader::HashMapCache>;

/// A page of comments.
pub fn comment_connection(list: &mut Vec<Comment>, n: u64, has_previous: bool) -> Connection<String, CommentObject> {
    let has_next = list.len() as u64 > n;
    list.truncate(n as usize);
    let mut conn = Connection::new(has_previous, has_next);
    conn.edges.extend(list.drain(..).map(|c| Edge::new(encode_cursor(c.created_at, c.id), CommentObject(c))));
    conn
}

/// One member's report in a case.
#[derive(SimpleObject)]
pub struct CaseReport {
    /// Who reported.
    reporter: UserObject,
    /// Why.
    reason: String,
    /// What they added.
    details: Option<String>,
    /// When.
    created_at: DateTime<Utc>,
}

/// An author's record.
#[derive(SimpleObject)]
pub struct AuthorHistory {
    /// Videos made.
    videos: i64,
    /// Videos published.
    published: i64,
    /// Videos taken down.
    removed: i64,
    /// Cases about their content or account (this one included).
    cases: i64,
}

/// A moderation case. Its reports are read at most once per response, however many of
/// `reasons` and `reports` are selected.
pub struct CaseObject(pub ModerationCase, tokio::sync::OnceCell<Vec<domain::model::Report>>);

impl CaseObject {
    /// Wraps a case.
    pub fn new(case: ModerationCase) -> Self {
        Self(case, tokio::sync::OnceCell::new())
    }

    async fn reports_once(&self, ctx: &Context<'_>) -> Result<&[domain::model::Report]> {
        let services = ctx.data::<domain::Services>()?;
        let caller = &caller(ctx)?.caller;
        Ok(self.1.get_or_try_init(|| async { services.case_reports(caller, self.0.id).await.api() }).await?.as_slice())
    }

    fn moderator(ctx: &Context<'_>) -> bool {
        caller(ctx).ok().and_then(|c| c.caller.require().ok()).is_some_and(|v| v.user.role >= Role::Moderator)
    }
}

#[Object(name = "ModerationCase")]
impl CaseObject {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Where it stands.
    async fn status(&self) -> CaseStatus {
        self.0.status
    }
    /// The video it is about.
    async fn subject_video(&self, ctx: &Context<'_>) -> Result<Option<VideoObject>> {
        let Subject::Video(id) = self.0.subject else { return Ok(None) };
        let c = caller(ctx)?;
        Ok(ctx.data::<VideoService>()?.video(&c.caller, id).await.api()?.map(VideoObject))
    }
    /// The member it is about: the member reported, or the author of the video or comment.
    async fn subject_user(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let owner = ctx.data::<ModerationService>()?.subject_owner(self.0.subject).await.api()?;
        let Some(id) = owner else { return Ok(None) };
        super::accounts::load_user(ctx, id).await
    }
    /// The comment it is about.
    async fn subject_comment(&self, ctx: &Context<'_>) -> Result<Option<CommentObject>> {
        let Subject::Comment(id) = self.0.subject else { return Ok(None) };
        Ok(ctx.data::<domain::Services>()?.case_comment(id).await.api()?.map(CommentObject))
    }
    /// The cameo whose verification it is (its clip and challenge phrase are on the cameo).
    async fn subject_cameo(&self, ctx: &Context<'_>) -> Result<Option<super::cameos::CameoObject>> {
        let Subject::Cameo(id) = self.0.subject else { return Ok(None) };
        let c = caller(ctx)?;
        Ok(ctx
            .data::<domain::cameos::CameoService>()?
            .cameo(&c.caller, id)
            .await
            .api()?
            .map(super::cameos::CameoObject))
    }
    /// Why it is open: the frame check's findings and each distinct report reason with its count.
    async fn reasons(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let mut out = self.0.reasons.clone();
        if self.0.report_count > 0 && Self::moderator(ctx) {
            let reports = self.reports_once(ctx).await?;
            let mut counts: Vec<(ReportReason, usize)> = Vec::new();
            for r in reports {
                match counts.iter_mut().find(|(reason, _)| *reason == r.reason) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((r.reason, 1)),
                }
            }
            out.extend(counts.into_iter().map(|(reason, n)| format!("reported as {} ({n})", reason.as_str())));
        }
        Ok(out)
    }
    /// Frame-check NSFW scores of the sampled frames.
    async fn scores(&self) -> &[f32] {
        &self.0.scores
    }
    /// Reports filed (moderators only).
    async fn reports(&self, ctx: &Context<'_>) -> Result<Vec<CaseReport>> {
        if !Self::moderator(ctx) {
            return Ok(vec![]);
        }
        let reports = self.reports_once(ctx).await?;
        let users = ctx.data::<Users>()?;
        let ids: Vec<UserId> = reports.iter().map(|r| r.reporter_id).collect();
        let loaded = users.load_many(ids).await.map_err(|e| (*e).clone())?;
        Ok(reports
            .iter()
            .filter_map(|r| {
                loaded.get(&r.reporter_id).cloned().map(|u| CaseReport {
                    reporter: UserObject(u),
                    reason: r.reason.as_str().to_owned(),
                    details: r.details.clone(),
                    created_at: r.created_at,
                })
            })
            .collect())
    }
    /// Number of reports.
    async fn report_count(&self) -> i32 {
        self.0.report_count
    }
    /// `frame_check` or `report`.
    async fn source(&self) -> &str {
        self.0.source.as_str()
    }
    /// Handed to an admin.
    async fn escalated(&self) -> bool {
        self.0.escalated
    }
    /// A strip of the sampled frames (JPEG link), for video cases held by the frame check.
    async fn frame_strip_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let Subject::Video(id) = self.0.subject else { return Ok(None) };
        if !Self::moderator(ctx) {
            return Ok(None);
        }
        let Some(video) = ctx.data::<domain::Services>()?.case_video(&caller(ctx)?.caller, id).await.api()? else {
            return Ok(None);
        };
        match video.frame_strip_key {
            Some(key) => Ok(Some(ctx.data::<MediaLinks>()?.url(&key).await.api()?)),
            None => Ok(None),
        }
    }
    /// The author's record (moderators only).
    async fn author_history(&self, ctx: &Context<'_>) -> Result<Option<AuthorHistory>> {
        if !Self::moderator(ctx) {
            return Ok(None);
        }
        let service = ctx.data::<ModerationService>()?;
        let Some(owner) = service.subject_owner(self.0.subject).await.api()? else { return Ok(None) };
        let c = caller(ctx)?;
        let h = service.author_history(&c.caller, owner).await.api()?;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(Some(AuthorHistory {
            videos: n(h.videos),
            published: n(h.published),
            removed: n(h.removed),
            cases: n(h.cases),
        }))
    }
    /// Opened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Decided.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    /// The last decision.
    async fn resolution(&self) -> Option<ModerationAction> {
        self.0.resolution
    }
    /// Who decided (moderators only).
    async fn resolved_by(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(id) = self.0.resolved_by.filter(|_| Self::moderator(ctx)) else { return Ok(None) };
        super::accounts::load_user(ctx, id).await
    }
    /// The moderator's note (shown to the author as the reason for a removal).
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// The author's appeal.
    async fn appeal_message(&self) -> Option<&str> {
        self.0.appeal_message.as_deref()
    }
    /// When they appealed.
    async fn appealed_at(&self) -> Option<DateTime<Utc>> {
        self.0.appealed_at
    }
}

/// A notice to a member.
pub struct NotificationObject(pub Notification);

#[Object(name = "Notification")]
impl NotificationObject {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Kind, e.g. `video.removed`, `video.approved`, `video.comment`.
    async fn kind(&self) -> &str {
        self.0.kind.as_str()
    }
    /// What happened.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The video it is about, if the reader may see it.
    async fn video(&self, ctx: &Context<'_>) -> Result<Option<VideoObject>> {
        let Some(id) = self.0.video_id else { return Ok(None) };
        let c = caller(ctx)?;
        Ok(ctx.data::<VideoService>()?.video(&c.caller, id).await.api()?.map(VideoObject))
    }
    /// Who caused it.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(id) = self.0.actor_id else { return Ok(None) };
        super::accounts::load_user(ctx, id).await
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Whether it was read.
    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }
}

/// A page of notifications with the unread count.
#[derive(SimpleObject)]
pub struct NotificationsExtra {
    /// Unread notifications in all.
    unread_count: i32,
}

/// Moderation queries.
#[derive(Default)]
pub struct ModerationQuery;

#[Object]
impl ModerationQuery {
    /// Cases in a status, oldest first (moderators and admins).
    async fn moderation_queue(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(CaseStatus::Open)")] status: Option<CaseStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, CaseObject>> {
        let (n, after) = page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list = ctx
            .data::<ModerationService>()?
            .queue(&c.caller, status.unwrap_or(CaseStatus::Open), after, n + 1)
            .await
            .api()?;
        let has_next = list.len() as u64 > n;
        list.truncate(n as usize);
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(list.into_iter().map(|k| Edge::new(encode_cursor(k.created_at, k.id), CaseObject::new(k))));
        Ok(conn)
    }

    /// One case: to moderators, and to the author of its subject once decided.
    async fn moderation_case(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CaseObject>> {
        let id = parse_id(&id, "id", CaseId::parse)?;
        let c = caller(ctx)?;
        Ok(ctx.data::<ModerationService>()?.case(&c.caller, id).await.api()?.map(CaseObject::new))
    }

    /// Open to anyone (rate-limited per address): did this clip come from here? Reads the
    /// invisible watermark (which survives re-encoding and downscaling) and the C2PA manifest.
    async fn verify_provenance(&self, ctx: &Context<'_>, clip: Upload) -> Result<ProvenanceReportObject> {
        provenance_check(ctx, clip).await
    }

    /// The caller's notifications, newest first.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, NotificationObject, NotificationsExtra>> {
        let (n, after) = page_args(first, after)?;
        let c = caller(ctx)?;
        let (mut list, unread) = ctx.data::<domain::Services>()?.notifications(&c.caller, after, n + 1).await.api()?;
        let has_next = list.len() as u64 > n;
        list.truncate(n as usize);
        let mut conn = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            NotificationsExtra { unread_count: i32::try_from(unread).unwrap_or(i32::MAX) },
        );
        conn.edges
            .extend(list.into_iter().map(|x| Edge::new(encode_cursor(x.created_at, x.id), NotificationObject(x))));
        Ok(conn)
    }
}

/// Reads the upload and asks the service whether the clip came from here.
async fn provenance_check(ctx: &Context<'_>, clip: Upload) -> Result<ProvenanceReportObject> {
    let c = caller(ctx)?;
    let value = clip
        .value(ctx)
        .map_err(|e| to_gql(AppError::bad_input("clip", format!("the upload could not be read: {e}"))))?;
    let mut bytes = Vec::new();
    value
        .into_read()
        .read_to_end(&mut bytes)
        .map_err(|e| to_gql(AppError::bad_input("clip", format!("the upload could not be read: {e}"))))?;
    let report = ctx.data::<ModerationService>()?.verify_provenance(&c.client, bytes).await.api()?;
    Ok(report.into())
}

/// Moderation mutations.
#[derive(Default)]
pub struct ModerationMutation;

#[Object]
impl ModerationMutation {
    /// Publishes a draft through the gate: verdict, watermark and manifest are re-checked on
    /// the stored file now. A refusal is `PUBLISH_REFUSED` with `extensions.check` and `reasons`.
    async fn publish_video(&self, ctx: &Context<'_>, id: ID, caption: Option<String>) -> Result<VideoObject> {
        let id = parse_id(&id, "id", VideoId::parse)?;
        let c = caller(ctx)?;
        let video = ctx.data::<ModerationService>()?.publish(&c.caller, id, caption.as_deref()).await.api()?;
        Ok(VideoObject(video))
    }

    /// Comments on a published video (prompt policy applies; rate-limited).
    async fn comment_on_video(&self, ctx: &Context<'_>, video_id: ID, body: String) -> Result<CommentObject> {
        let id = parse_id(&video_id, "videoId", VideoId::parse)?;
        let c = caller(ctx)?;
        Ok(CommentObject(ctx.data::<ModerationService>()?.comment(&c.caller, id, &body).await.api()?))
    }

    /// Reports exactly one of a video, a comment or a member. Reports about one subject gather
    /// in one open case; a member's repeat report is counted once.
    async fn report(
        &self,
        ctx: &Context<'_>,
        video_id: Option<ID>,
        comment_id: Option<ID>,
        user_id: Option<ID>,
        reason: ReportReason,
        details: Option<String>,
    ) -> Result<bool> {
        let video = video_id.map(|v| parse_id(&v, "videoId", VideoId::parse)).transpose()?;
        let comment = comment_id.map(|v| parse_id(&v, "commentId", CommentId::parse)).transpose()?;
        let user = user_id.map(|v| parse_id(&v, "userId", UserId::parse)).transpose()?;
        let c = caller(ctx)?;
        ctx.data::<ModerationService>()?.report(&c.caller, video, comment, user, reason, details.as_deref()).await.api()
    }

    /// Asks for another look at a removal, within 20 days of it, once; a different moderator decides.
    async fn appeal(&self, ctx: &Context<'_>, case_id: ID, message: String) -> Result<CaseObject> {
        let id = parse_id(&case_id, "caseId", CaseId::parse)?;
        let c = caller(ctx)?;
        Ok(CaseObject::new(ctx.data::<ModerationService>()?.appeal(&c.caller, id, &message).await.api()?))
    }

    /// Decides a case (moderators and admins; escalated cases: admins).
    async fn resolve_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        action: ModerationAction,
        note: Option<String>,
    ) -> Result<CaseObject> {
        let id = parse_id(&id, "id", CaseId::parse)?;
        let c = caller(ctx)?;
        let case = ctx
            .data::<ModerationService>()?
            .resolve(&c.caller, Decision { case: id, action, note: note.as_deref() })
            .await
            .api()?;
        Ok(CaseObject::new(case))
    }

    /// The same check as `Query.verifyProvenance`, reachable as a mutation: GraphQL servers
    /// commonly accept uploads only in mutations, so clients may send it either way.
    async fn verify_provenance(&self, ctx: &Context<'_>, clip: Upload) -> Result<ProvenanceReportObject> {
        provenance_check(ctx, clip).await
    }

    /// Marks every notification read; returns how many were unread.
    async fn mark_notifications_read(&self, ctx: &Context<'_>) -> Result<i32> {
        let c = caller(ctx)?;
        let n = ctx.data::<domain::Services>()?.mark_notifications_read(&c.caller).await.api()?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}
