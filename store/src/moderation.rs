//! Moderation records: frame-check outcomes on jobs and videos, the publish transition,
//! comments, cases with their reports, and notifications. Every status change is a
//! conditional update on the status it expects, so two moderators (or a moderator and an
//! author) racing on one subject cannot both win.
//!
//! One open case per subject is the unique `moderation_cases.open_key` (`video:<id>`,
//! `comment:<id>`, `user:<id>` or `cameo:<id>` while open, null once decided): `open_case` joins
//! the open case, or inserts one and, when a concurrent insert won the key, joins that one (three
//! tries, then `CONFLICT`); it takes any connection, so `complete_job` opens a frame-check case inside
//! its own transaction. One report per member and case is the unique (`case_id`, `reporter_id`)
//! index: a repeat is refused and `add_report` leaves `report_count` alone. A comment's insert and a
//! change of its status move `videos.comment_count` in the same transaction, and only when the
//! status really changed.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::Store;
use super::entities::{comments, generation_jobs as jobs, moderation_cases as cases, notifications, reports, videos};
use super::generation::video_from;
use app_core::error::{AppError, AppResult};
use app_core::model::{
    CaseSource, CaseStatus, Comment, CommentStatus, FrameScores, JobErrorCode, JobStatus, ModerationAction,
    ModerationCase, Notification, NotificationKind, Report, ReportReason, Subject, SubjectKind, Verdict, Video,
    VideoStatus,
};
use app_core::types::{CameoId, CaseId, CommentId, JobId, UserId, VideoId};

/// What moderators see of an author's past.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorHistory {
    /// Videos made.
    pub videos: u64,
    /// Videos published.
    pub published: u64,
    /// Videos taken down.
    pub removed: u64,
    /// Cases about their content or account, this one included.
    pub cases: u64,
}

/// Where a resolution moves a case.
pub struct Resolution<'a> {
    /// The status the case must be in now.
    pub from: CaseStatus,
    /// The status it moves to.
    pub to: CaseStatus,
    /// What was decided.
    pub action: ModerationAction,
    /// Who decided.
    pub by: UserId,
    /// Their note.
    pub note: Option<&'a str>,
    /// Set the escalated flag.
    pub escalate: bool,
}

fn comment_from(m: comments::Model) -> Comment {
    Comment {
        id: CommentId(m.id),
        video_id: VideoId(m.video_id),
        author_id: UserId(m.author_id),
        body: m.body,
        removed: m.status == CommentStatus::Removed,
        created_at: m.created_at,
    }
}

fn case_from(m: cases::Model) -> AppResult<ModerationCase> {
    let subject = match m.subject_kind {
        SubjectKind::Video => m.subject_video_id.map(|v| Subject::Video(VideoId(v))),
        SubjectKind::User => m.subject_user_id.map(|u| Subject::User(UserId(u))),
        SubjectKind::Comment => m.subject_comment_id.map(|c| Subject::Comment(CommentId(c))),
        SubjectKind::Cameo => m.subject_cameo_id.map(|c| Subject::Cameo(CameoId(c))),
    };
    let subject = subject.ok_or_else(|| {
        AppError::internal(
            "moderation_cases.subject_kind",
            format_args!("case {} is about a {:?} but names none", m.id, m.subject_kind),
        )
    })?;
    Ok(ModerationCase {
        id: CaseId(m.id),
        subject,
        status: m.status,
        source: m.source,
        reasons: crate::json::read("moderation_cases", "reasons", m.id, &m.reasons)?,
        scores: crate::json::read("moderation_cases", "scores", m.id, &m.scores)?,
        report_count: m.report_count,
        escalated: m.escalated,
        created_at: m.created_at,
        resolved_at: m.resolved_at,
        resolved_by: m.resolved_by.map(UserId),
        resolution: m.resolution,
        note: m.note,
        appeal_message: m.appeal_message,
        appealed_at: m.appealed_at,
        appealed_resolver: m.appealed_resolver.map(UserId),
    })
}

/// Finds the open case about `subject`, or opens one; merges `reasons` and `scores` into it.
pub(crate) async fn open_case<C: ConnectionTrait>(
    conn: &C,
    subject: Subject,
    source: CaseSource,
    reasons: &[String],
    scores: &[f32],
) -> AppResult<CaseId> {
    let key = subject.key();
    for _ in 0..3 {
        if let Some(existing) = cases::Entity::find().filter(cases::Column::OpenKey.eq(key.as_str())).one(conn).await? {
            if !reasons.is_empty() || !scores.is_empty() {
                let mut merged: Vec<String> =
                    crate::json::read("moderation_cases", "reasons", existing.id, &existing.reasons)?;
                for r in reasons {
                    if !merged.contains(r) {
                        merged.push(r.clone());
                    }
                }
                let mut all_scores: Vec<f32> =
                    crate::json::read("moderation_cases", "scores", existing.id, &existing.scores)?;
                if all_scores.is_empty() {
                    all_scores = scores.to_vec();
                }
                cases::Entity::update_many()
                    .col_expr(
                        cases::Column::Reasons,
                        Expr::value(crate::json::write("moderation_cases", "reasons", &merged)?),
                    )
                    .col_expr(
                        cases::Column::Scores,
                        Expr::value(crate::json::write("moderation_cases", "scores", &all_scores)?),
                    )
                    .col_expr(cases::Column::UpdatedAt, Expr::value(Utc::now()))
                    .filter(cases::Column::Id.eq(existing.id))
                    .exec(conn)
                    .await?;
            }
            return Ok(CaseId(existing.id));
        }
        let now = Utc::now();
        let id = Uuid::now_v7();
        let (video, user, comment, cameo) = match subject {
            Subject::Video(v) => (Some(v.0), None, None, None),
            Subject::User(u) => (None, Some(u.0), None, None),
            Subject::Comment(c) => (None, None, Some(c.0), None),
            Subject::Cameo(c) => (None, None, None, Some(c.0)),
        };
        let inserted = cases::Entity::insert(cases::ActiveModel {
            id: Set(id),
            subject_kind: Set(subject.kind()),
            subject_video_id: Set(video),
            subject_user_id: Set(user),
            subject_comment_id: Set(comment),
            open_key: Set(Some(key.clone())),
            status: Set(CaseStatus::Open),
            source: Set(source),
            reasons: Set(crate::json::write("moderation_cases", "reasons", reasons)?),
            scores: Set(crate::json::write("moderation_cases", "scores", scores)?),
            report_count: Set(0),
            escalated: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            resolved_at: Set(None),
            resolved_by: Set(None),
            resolution: Set(None),
            note: Set(None),
            appeal_message: Set(None),
            appealed_at: Set(None),
            appealed_resolver: Set(None),
            subject_cameo_id: Set(cameo),
        })
        // Another request opened it a moment ago: merge into theirs (no error, so a transaction
        // this runs in stays usable on PostgreSQL).
        .on_conflict(OnConflict::column(cases::Column::OpenKey).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
        if inserted == 1 {
            return Ok(CaseId(id));
        }
    }
    Err(app_core::error::AppError::Conflict("the case changed while it was being opened; try again".into()))
}

impl Store {
    /// A running job's pipeline finished; the worker is checking and marking its output.
    pub async fn mark_moderating(&self, id: JobId) -> AppResult<bool> {
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value(JobStatus::Moderating))
            .col_expr(jobs::Column::Step, Expr::col(jobs::Column::TotalSteps))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.eq(JobStatus::Running))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Ends a live job as `REJECTED` by the frame check, keeping the scores.
    pub async fn reject_job(&self, id: JobId, reason: &str, scores: &FrameScores) -> AppResult<bool> {
        let now = Utc::now();
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value(JobStatus::Rejected))
            .col_expr(jobs::Column::ErrorCode, Expr::value(JobErrorCode::ContentBlocked))
            .col_expr(jobs::Column::ErrorMessage, Expr::value(reason))
            .col_expr(
                jobs::Column::FrameScores,
                Expr::value(Some(crate::json::write("generation_jobs", "frame_scores", scores)?)),
            )
            .col_expr(jobs::Column::FinishedAt, Expr::value(now))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Id.eq(id.0))
            .filter(jobs::Column::Status.is_in(JobStatus::LIVE))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// The video whose invisible watermark carries `watermark_id`.
    pub async fn video_by_watermark(&self, watermark_id: u64) -> AppResult<Option<Video>> {
        videos::Entity::find()
            .filter(videos::Column::WatermarkId.eq(watermark_id as i64))
            .one(&self.db)
            .await?
            .map(video_from)
            .transpose()
    }

    /// `DRAFT` → `PUBLISHED`, once; false when the video was not a draft any more.
    pub async fn publish_video(&self, id: VideoId, caption: Option<&str>) -> AppResult<bool> {
        Self::publish_video_in(&self.db, id, caption).await
    }

    pub(crate) async fn publish_video_in<C: ConnectionTrait>(
        c: &C,
        id: VideoId,
        caption: Option<&str>,
    ) -> AppResult<bool> {
        let r = videos::Entity::update_many()
            .col_expr(videos::Column::Status, Expr::value(VideoStatus::Published))
            .col_expr(videos::Column::Caption, Expr::value(caption.map(str::to_owned)))
            .col_expr(videos::Column::PublishedAt, Expr::value(Utc::now()))
            .col_expr(videos::Column::ManifestValid, Expr::value(true))
            .filter(videos::Column::Id.eq(id.0))
            .filter(videos::Column::Status.eq(VideoStatus::Draft))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// A moderator approved a held video: verdict `APPROVED`, `IN_REVIEW` → `DRAFT`.
    pub async fn approve_held_video(&self, id: VideoId) -> AppResult<bool> {
        Self::approve_held_video_in(&self.db, id).await
    }

    pub(crate) async fn approve_held_video_in<C: ConnectionTrait>(c: &C, id: VideoId) -> AppResult<bool> {
        let r = videos::Entity::update_many()
            .col_expr(videos::Column::Status, Expr::value(VideoStatus::Draft))
            .col_expr(videos::Column::Verdict, Expr::value(Verdict::Approved))
            .filter(videos::Column::Id.eq(id.0))
            .filter(videos::Column::Status.eq(VideoStatus::InReview))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Sets a video's verdict.
    pub async fn set_verdict(&self, id: VideoId, verdict: app_core::model::Verdict) -> AppResult<()> {
        Self::set_verdict_in(&self.db, id, verdict).await
    }

    pub(crate) async fn set_verdict_in<C: ConnectionTrait>(
        c: &C,
        id: VideoId,
        verdict: app_core::model::Verdict,
    ) -> AppResult<()> {
        videos::Entity::update_many()
            .col_expr(videos::Column::Verdict, Expr::value(verdict))
            .filter(videos::Column::Id.eq(id.0))
            .exec(c)
            .await?;
        Ok(())
    }

    /// The newest case about a subject, whatever its status.
    pub async fn latest_case_about(&self, subject: Subject) -> AppResult<Option<ModerationCase>> {
        Self::latest_case_about_in(&self.db, subject).await
    }

    pub(crate) async fn latest_case_about_in<C: ConnectionTrait>(
        c: &C,
        subject: Subject,
    ) -> AppResult<Option<ModerationCase>> {
        let q = cases::Entity::find();
        let q = match subject {
            Subject::Video(v) => q.filter(cases::Column::SubjectVideoId.eq(v.0)),
            Subject::User(u) => {
                q.filter(cases::Column::SubjectUserId.eq(u.0)).filter(cases::Column::SubjectKind.eq(SubjectKind::User))
            }
            Subject::Comment(c) => q.filter(cases::Column::SubjectCommentId.eq(c.0)),
            Subject::Cameo(c) => q.filter(cases::Column::SubjectCameoId.eq(c.0)),
        };
        q.order_by_desc(cases::Column::CreatedAt)
            .order_by_desc(cases::Column::Id)
            .one(c)
            .await?
            .map(case_from)
            .transpose()
    }

    /// Records a failed manifest check on a video.
    pub async fn set_manifest_valid(&self, id: VideoId, valid: bool) -> AppResult<()> {
        videos::Entity::update_many()
            .col_expr(videos::Column::ManifestValid, Expr::value(valid))
            .filter(videos::Column::Id.eq(id.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Moves a video from one of `from` to `to` (with a removal reason when taking it down);
    /// false when it was in none of `from`.
    pub async fn set_video_status(
        &self,
        id: VideoId,
        from: &[VideoStatus],
        to: VideoStatus,
        reason: Option<&str>,
    ) -> AppResult<bool> {
        Self::set_video_status_in(&self.db, id, from, to, reason).await
    }

    pub(crate) async fn set_video_status_in<C: ConnectionTrait>(
        c: &C,
        id: VideoId,
        from: &[VideoStatus],
        to: VideoStatus,
        reason: Option<&str>,
    ) -> AppResult<bool> {
        let removed = to == VideoStatus::Removed;
        let r = videos::Entity::update_many()
            .col_expr(videos::Column::Status, Expr::value(to))
            .col_expr(videos::Column::RemovedAt, Expr::value(removed.then(Utc::now)))
            .col_expr(
                videos::Column::RemovalReason,
                Expr::value(if removed { reason.map(str::to_owned) } else { None }),
            )
            .filter(videos::Column::Id.eq(id.0))
            .filter(videos::Column::Status.is_in(from.iter().copied()))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// A member's record for moderators.
    pub async fn author_history(&self, user: UserId) -> AppResult<AuthorHistory> {
        let mine = || videos::Entity::find().filter(videos::Column::AuthorId.eq(user.0));
        let videos = mine().count(&self.db).await?;
        let published = mine().filter(videos::Column::Status.eq(VideoStatus::Published)).count(&self.db).await?;
        let removed = mine().filter(videos::Column::Status.eq(VideoStatus::Removed)).count(&self.db).await?;
        let video_ids: Vec<Uuid> = mine().select_only().column(videos::Column::Id).into_tuple().all(&self.db).await?;
        let cases = cases::Entity::find()
            .filter(cases::Column::SubjectUserId.eq(user.0).or(cases::Column::SubjectVideoId.is_in(video_ids)))
            .count(&self.db)
            .await?;
        Ok(AuthorHistory { videos, published, removed, cases })
    }

    /// Adds a comment.
    pub async fn insert_comment(&self, video: VideoId, author: UserId, body: &str) -> AppResult<Comment> {
        let txn = self.tx().await?;
        let out = Self::insert_comment_in(&txn, video, author, body).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub(crate) async fn insert_comment_in<C: ConnectionTrait>(
        c: &C,
        video: VideoId,
        author: UserId,
        body: &str,
    ) -> AppResult<Comment> {
        let m = comments::Entity::insert(comments::ActiveModel {
            id: Set(Uuid::now_v7()),
            video_id: Set(video.0),
            author_id: Set(author.0),
            body: Set(body.into()),
            status: Set(CommentStatus::Visible),
            created_at: Set(Utc::now()),
        })
        .exec_with_returning(c)
        .await?;
        // The counter changes with the row it counts.
        videos::Entity::update_many()
            .col_expr(videos::Column::CommentCount, Expr::col(videos::Column::CommentCount).add(1))
            .filter(videos::Column::Id.eq(video.0))
            .exec(c)
            .await?;
        Ok(comment_from(m))
    }

    /// One comment (removed ones included).
    pub async fn comment(&self, id: CommentId) -> AppResult<Option<Comment>> {
        Self::comment_in(&self.db, id).await
    }

    pub(crate) async fn comment_in<C: ConnectionTrait>(c: &C, id: CommentId) -> AppResult<Option<Comment>> {
        Ok(comments::Entity::find_by_id(id.0).one(c).await?.map(comment_from))
    }

    /// Visible comments on a video, newest first, after the cursor `(created_at, id)`.
    pub async fn comments_of(
        &self,
        video: VideoId,
        hidden_authors: &std::collections::HashSet<UserId>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Comment>> {
        let mut q = comments::Entity::find()
            .filter(comments::Column::VideoId.eq(video.0))
            .filter(comments::Column::Status.eq(CommentStatus::Visible));
        if !hidden_authors.is_empty() {
            q = q.filter(comments::Column::AuthorId.is_not_in(hidden_authors.iter().map(|u| u.0)));
        }
        if let Some((at, id)) = after {
            q = q.filter(
                comments::Column::CreatedAt
                    .lt(at)
                    .or(comments::Column::CreatedAt.eq(at).and(comments::Column::Id.lt(id))),
            );
        }
        Ok(q.order_by_desc(comments::Column::CreatedAt)
            .order_by_desc(comments::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(comment_from)
            .collect())
    }

    /// Hides or restores a comment.
    pub async fn set_comment_removed(&self, id: CommentId, removed: bool) -> AppResult<bool> {
        let txn = self.tx().await?;
        let out = Self::set_comment_removed_in(&txn, id, removed).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub(crate) async fn set_comment_removed_in<C: ConnectionTrait>(
        c: &C,
        id: CommentId,
        removed: bool,
    ) -> AppResult<bool> {
        let (from, to) = if removed {
            (CommentStatus::Visible, CommentStatus::Removed)
        } else {
            (CommentStatus::Removed, CommentStatus::Visible)
        };
        let Some(row) = comments::Entity::find_by_id(id.0).one(c).await? else {
            return Ok(false);
        };
        let r = comments::Entity::update_many()
            .col_expr(comments::Column::Status, Expr::value(to))
            .filter(comments::Column::Id.eq(id.0))
            .filter(comments::Column::Status.eq(from))
            .exec(c)
            .await?;
        if r.rows_affected == 1 {
            // The visible-comment counter follows the status change, once.
            let by = if removed { -1 } else { 1 };
            videos::Entity::update_many()
                .col_expr(videos::Column::CommentCount, Expr::col(videos::Column::CommentCount).add(by))
                .filter(videos::Column::Id.eq(row.video_id))
                .exec(c)
                .await?;
        }
        Ok(true)
    }

    /// Opens (or joins) the open case about `subject`.
    pub async fn open_case(
        &self,
        subject: Subject,
        source: CaseSource,
        reasons: &[String],
        scores: &[f32],
    ) -> AppResult<CaseId> {
        open_case(&self.db, subject, source, reasons, scores).await
    }

    /// Files a member's report into the open case about `subject`, in one transaction; false
    /// when this member had already reported it (reports are counted once per member).
    pub async fn add_report(
        &self,
        subject: Subject,
        reporter: UserId,
        reason: ReportReason,
        details: Option<&str>,
    ) -> AppResult<(CaseId, bool)> {
        let txn = self.tx().await?;
        let case = open_case(&txn, subject, CaseSource::Report, &[], &[]).await?;
        let inserted = reports::Entity::insert(reports::ActiveModel {
            id: Set(Uuid::now_v7()),
            case_id: Set(case.0),
            reporter_id: Set(reporter.0),
            reason: Set(reason),
            details: Set(details.map(str::to_owned)),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([reports::Column::CaseId, reports::Column::ReporterId]).do_nothing().to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 1 {
            cases::Entity::update_many()
                .col_expr(cases::Column::ReportCount, Expr::col(cases::Column::ReportCount).add(1))
                .col_expr(cases::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(cases::Column::Id.eq(case.0))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok((case, inserted == 1))
    }

    /// One case.
    pub async fn case(&self, id: CaseId) -> AppResult<Option<ModerationCase>> {
        Self::case_in(&self.db, id).await
    }

    pub(crate) async fn case_in<C: ConnectionTrait>(c: &C, id: CaseId) -> AppResult<Option<ModerationCase>> {
        cases::Entity::find_by_id(id.0).one(c).await?.map(case_from).transpose()
    }

    /// Cases in `status`, oldest first (a queue), after the cursor `(created_at, id)`.
    pub async fn cases(
        &self,
        status: CaseStatus,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<ModerationCase>> {
        let mut q = cases::Entity::find().filter(cases::Column::Status.eq(status));
        if let Some((at, id)) = after {
            q = q.filter(
                cases::Column::CreatedAt.gt(at).or(cases::Column::CreatedAt.eq(at).and(cases::Column::Id.gt(id))),
            );
        }
        q.order_by_asc(cases::Column::CreatedAt)
            .order_by_asc(cases::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(case_from)
            .collect()
    }

    /// Reports in a case, oldest first.
    pub async fn reports_of(&self, case: CaseId) -> AppResult<Vec<Report>> {
        Ok(reports::Entity::find()
            .filter(reports::Column::CaseId.eq(case.0))
            .order_by_asc(reports::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| Report {
                reporter_id: UserId(m.reporter_id),
                reason: m.reason,
                details: m.details,
                created_at: m.created_at,
            })
            .collect())
    }

    /// Records a decision on a case in `r.from`; false when the case had moved on.
    pub async fn resolve_case(&self, id: CaseId, r: Resolution<'_>) -> AppResult<bool> {
        Self::resolve_case_in(&self.db, id, r).await
    }

    pub(crate) async fn resolve_case_in<C: ConnectionTrait>(c: &C, id: CaseId, r: Resolution<'_>) -> AppResult<bool> {
        let now = Utc::now();
        let mut q = cases::Entity::update_many()
            .col_expr(cases::Column::Status, Expr::value(r.to))
            .col_expr(cases::Column::Resolution, Expr::value(r.action))
            .col_expr(cases::Column::ResolvedBy, Expr::value(r.by.0))
            .col_expr(cases::Column::Note, Expr::value(r.note.map(str::to_owned)))
            .col_expr(cases::Column::UpdatedAt, Expr::value(now));
        if r.escalate {
            q = q.col_expr(cases::Column::Escalated, Expr::value(true));
        } else {
            // Decided: the subject may get a new case from new reports.
            q = q
                .col_expr(cases::Column::ResolvedAt, Expr::value(now))
                .col_expr(cases::Column::OpenKey, Expr::value(Option::<String>::None));
        }
        let res = q.filter(cases::Column::Id.eq(id.0)).filter(cases::Column::Status.eq(r.from)).exec(c).await?;
        Ok(res.rows_affected == 1)
    }

    /// `RESOLVED` → `APPEALED` with the author's message, once.
    pub async fn appeal_case(&self, id: CaseId, message: &str, resolver: UserId) -> AppResult<bool> {
        Self::appeal_case_in(&self.db, id, message, resolver).await
    }

    pub(crate) async fn appeal_case_in<C: ConnectionTrait>(
        c: &C,
        id: CaseId,
        message: &str,
        resolver: UserId,
    ) -> AppResult<bool> {
        let now = Utc::now();
        let r = cases::Entity::update_many()
            .col_expr(cases::Column::Status, Expr::value(CaseStatus::Appealed))
            .col_expr(cases::Column::AppealMessage, Expr::value(message))
            .col_expr(cases::Column::AppealedAt, Expr::value(now))
            .col_expr(cases::Column::AppealedResolver, Expr::value(resolver.0))
            .col_expr(cases::Column::UpdatedAt, Expr::value(now))
            .filter(cases::Column::Id.eq(id.0))
            .filter(cases::Column::Status.eq(CaseStatus::Resolved))
            .filter(cases::Column::AppealMessage.is_null())
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Tells a member something.
    pub async fn notify(
        &self,
        user: UserId,
        kind: NotificationKind,
        video: Option<VideoId>,
        actor: Option<UserId>,
        message: &str,
    ) -> AppResult<()> {
        Self::notify_in(&self.db, user, kind, video, actor, message).await
    }

    pub(crate) async fn notify_in<C: ConnectionTrait>(
        c: &C,
        user: UserId,
        kind: NotificationKind,
        video: Option<VideoId>,
        actor: Option<UserId>,
        message: &str,
    ) -> AppResult<()> {
        Self::insert_notification(c, user, kind, video, actor, message).await
    }

    /// A member's notifications, newest first, after the cursor `(created_at, id)`.
    pub async fn notifications(
        &self,
        user: UserId,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<Notification>> {
        let mut q = notifications::Entity::find().filter(notifications::Column::UserId.eq(user.0));
        if let Some((at, id)) = after {
            q = q.filter(
                notifications::Column::CreatedAt
                    .lt(at)
                    .or(notifications::Column::CreatedAt.eq(at).and(notifications::Column::Id.lt(id))),
            );
        }
        Ok(q.order_by_desc(notifications::Column::CreatedAt)
            .order_by_desc(notifications::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .iter()
            .map(crate::push::notification_from)
            .collect())
    }

    /// Unread notifications of a member.
    pub async fn unread_notifications(&self, user: UserId) -> AppResult<u64> {
        Ok(notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(user.0))
            .filter(notifications::Column::ReadAt.is_null())
            .count(&self.db)
            .await?)
    }

    /// Marks every notification of a member read; how many were unread.
    pub async fn mark_notifications_read(&self, user: UserId) -> AppResult<u64> {
        let r = notifications::Entity::update_many()
            .col_expr(notifications::Column::ReadAt, Expr::value(Utc::now()))
            .filter(notifications::Column::UserId.eq(user.0))
            .filter(notifications::Column::ReadAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected)
    }
}
