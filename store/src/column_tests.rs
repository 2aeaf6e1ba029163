//! Typed columns: every state is stored with the spelling it always had, and a row the types
//! cannot read (an unknown state, corrupt JSON, a case naming no subject) fails the read with
//! `INTERNAL` instead of turning into a default. SQLite in memory, one connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use sea_orm::{ActiveEnum, ConnectionTrait};
use uuid::Uuid;

use crate::cameos::NewCameo;
use crate::generation::{NewJob, NewVideo};
use crate::{NewUser, Store};
use app_core::error::{AppError, AppResult};
use app_core::model::{
    AspectRatio, AudioMode, CameoPermission, CameoStatus, CaseSource, CaseStatus, CommentStatus, FrameScores,
    JobErrorCode, JobStatus, ModerationAction, NotificationKind, ReportReason, Role, SessionRevocation, Subject,
    SubjectKind, TokenPurpose, User, Verdict, Video, VideoStatus,
};
use app_core::types::{JobId, UserId};

pub(crate) async fn sqlite() -> Store {
    let store = Store::connect("sqlite::memory:", 1).await.unwrap();
    store.migrate().await.unwrap();
    store
}

pub(crate) async fn member(store: &Store, name: &str) -> User {
    store
        .create_user(NewUser {
            email: format!("{name}@example.com"),
            username: name.into(),
            display_name: None,
            password_hash: "x".into(),
            role: Role::User,
            email_verified: true,
            birth_month: None,
            time_zone: None,
        })
        .await
        .unwrap()
        .ok()
        .unwrap()
}

pub(crate) async fn video(store: &Store, author: UserId, verdict: Verdict) -> Video {
    let id = JobId(Uuid::now_v7());
    store
        .insert_job(NewJob {
            id,
            user_id: author,
            prompt: "a fox".into(),
            seed: 1,
            duration_seconds: 2,
            aspect_ratio: AspectRatio::Landscape,
            remix_of: None,
            audio_mode: AudioMode::Full,
            shots: vec![],
            caption: None,
            trace_parent: None,
        })
        .await
        .unwrap();
    let made = NewVideo {
        video_key: "v.mp4".into(),
        thumbnail_key: "t.jpg".into(),
        width: 64,
        height: 36,
        duration_ms: 2000,
        frame_count: 16,
        fps: 8,
        model_name: "tiny".into(),
        model_version: "1".into(),
        execution_provider: "cpu".into(),
        stage_millis: "{}".into(),
        watermark_id: u64::try_from(id.0.as_u128() & 0x7fff_ffff).unwrap(),
        verdict,
        verdict_reason: (verdict == Verdict::Review).then(|| "frame 3 scored 0.5".into()),
        frame_scores: FrameScores { indices: vec![0, 3], scores: vec![0.1, 0.5] },
        frame_strip_key: None,
        manifest_issuer: None,
        has_audio: false,
        captions_key: None,
        maturity: app_core::model::Maturity::General,
    };
    store.complete_job(id, made).await.unwrap().unwrap()
}

async fn corrupt(store: &Store, sql: &str) {
    let r = store.db.execute_unprepared(sql).await.unwrap();
    assert!(r.rows_affected() >= 1, "{sql} changed nothing");
}

/// The read failed with `INTERNAL`, and the logged cause says what and where.
fn refused<T: std::fmt::Debug>(read: AppResult<T>, cause: &[&str]) {
    match read {
        Err(AppError::Internal(e)) => {
            let text = format!("{e:#}");
            for c in cause {
                assert!(text.contains(c), "cause {text:?} does not mention {c:?}");
            }
        }
        other => panic!("expected INTERNAL naming {cause:?}, got {other:?}"),
    }
}

fn stored<E: ActiveEnum<Value = String>>() -> Vec<String> {
    E::iter().map(|v| v.to_value()).collect()
}

#[test]
fn every_state_keeps_its_stored_spelling() {
    assert_eq!(stored::<Role>(), ["USER", "MODERATOR", "ADMIN"]);
    assert_eq!(
        stored::<JobStatus>(),
        ["QUEUED", "RUNNING", "MODERATING", "SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"]
    );
    assert_eq!(
        stored::<JobErrorCode>(),
        ["CONTENT_BLOCKED", "CONSENT_REQUIRED", "CONSENT_WITHDRAWN", "GENERATION_FAILED", "QUEUE_UNAVAILABLE"]
    );
    assert_eq!(stored::<AspectRatio>(), ["PORTRAIT", "LANDSCAPE", "SQUARE"]);
    assert_eq!(stored::<AudioMode>(), ["FULL", "AMBIENCE", "SILENT", "KEEP_SOURCE"]);
    assert_eq!(stored::<VideoStatus>(), ["DRAFT", "IN_REVIEW", "PUBLISHED", "REMOVED"]);
    assert_eq!(stored::<Verdict>(), ["PASS", "REVIEW", "BLOCK", "APPROVED"]);
    assert_eq!(stored::<SubjectKind>(), ["video", "user", "comment", "cameo"]);
    assert_eq!(stored::<CaseStatus>(), ["OPEN", "RESOLVED", "APPEALED"]);
    assert_eq!(stored::<ModerationAction>(), ["APPROVE", "REMOVE", "BAN_AUTHOR", "ESCALATE"]);
    assert_eq!(stored::<CaseSource>(), ["frame_check", "report", "cameo"]);
    assert_eq!(
        stored::<ReportReason>(),
        ["NUDITY", "VIOLENCE", "HARASSMENT", "LIKENESS_MISUSE", "MINOR_SAFETY", "SPAM", "OTHER"]
    );
    assert_eq!(
        stored::<NotificationKind>(),
        [
            "user.followed",
            "video.liked",
            "video.comment",
            "video.remixed",
            "video.in_review",
            "video.approved",
            "video.removed",
            "video.deleted",
            "appeal.upheld",
            "comment.removed",
            "cameo.approved",
            "cameo.rejected",
            "cameo.used",
            "job.cancelled",
            "video.ready",
            "likes.digest",
        ]
    );
    assert_eq!(stored::<CommentStatus>(), ["VISIBLE", "REMOVED"]);
    assert_eq!(stored::<TokenPurpose>(), ["verify", "reset"]);
    assert_eq!(stored::<SessionRevocation>(), ["logout", "reuse", "password_reset", "banned"]);
    assert_eq!(stored::<CameoPermission>(), ["ONLY_ME", "APPROVED", "MUTUALS", "EVERYONE"]);
    assert_eq!(stored::<CameoStatus>(), ["PENDING_REVIEW", "ACTIVE", "REJECTED", "REVOKED"]);
}

#[test]
fn the_text_shown_outside_the_database_is_the_stored_spelling() {
    fn same<E: ActiveEnum<Value = String> + Copy + std::fmt::Debug>(as_str: fn(E) -> &'static str) {
        for v in E::iter() {
            assert_eq!(as_str(v), v.to_value(), "{v:?}");
        }
    }
    same::<Role>(Role::as_str);
    same::<JobStatus>(JobStatus::as_str);
    same::<JobErrorCode>(JobErrorCode::as_str);
    same::<Verdict>(Verdict::as_str);
    same::<ModerationAction>(ModerationAction::as_str);
    same::<CaseSource>(CaseSource::as_str);
    same::<ReportReason>(ReportReason::as_str);
    same::<NotificationKind>(NotificationKind::as_str);
    same::<CameoStatus>(CameoStatus::as_str);
}

#[tokio::test]
async fn states_round_trip_through_their_columns() {
    let store = sqlite().await;
    let ann = member(&store, "ann_round").await;
    let held = video(&store, ann.id, Verdict::Review).await;
    let read = store.video(held.id).await.unwrap().unwrap();
    assert_eq!(
        (read.status, read.verdict, read.aspect_ratio),
        (VideoStatus::InReview, Verdict::Review, AspectRatio::Landscape)
    );
    assert_eq!(read.frame_scores, FrameScores { indices: vec![0, 3], scores: vec![0.1, 0.5] });
    let case = store.latest_case_about(Subject::Video(held.id)).await.unwrap().unwrap();
    assert_eq!((case.status, case.source), (CaseStatus::Open, CaseSource::FrameCheck));
    assert_eq!(case.reasons, ["frame check: frame 3 scored 0.5"]);
    assert_eq!(case.scores, [0.1, 0.5]);
    store.notify(ann.id, NotificationKind::VideoInReview, Some(held.id), None, "held").await.unwrap();
    let notes = store.notifications(ann.id, None, 10).await.unwrap();
    assert_eq!(notes.iter().map(|n| n.kind).collect::<Vec<_>>(), [NotificationKind::VideoInReview]);
}

#[tokio::test]
async fn an_unknown_state_in_a_column_is_refused() {
    let store = sqlite().await;
    let ann = member(&store, "ann_state").await;
    corrupt(&store, "UPDATE users SET role = 'SUPERUSER'").await;
    refused(store.user(ann.id).await, &["SUPERUSER"]);

    let store = sqlite().await;
    let bob = member(&store, "bob_state").await;
    let v = video(&store, bob.id, Verdict::Pass).await;
    corrupt(&store, "UPDATE videos SET status = 'ARCHIVED'").await;
    refused(store.video(v.id).await, &["ARCHIVED"]);
    corrupt(&store, "UPDATE videos SET status = 'DRAFT', verdict = 'pass'").await;
    refused(store.video(v.id).await, &["pass"]);
    corrupt(&store, "UPDATE generation_jobs SET status = 'PAUSED'").await;
    refused(store.job(JobId(v.id.0)).await, &["PAUSED"]);

    let store = sqlite().await;
    let cy = member(&store, "cy_state").await;
    store.notify(cy.id, NotificationKind::UserFollowed, None, None, "hi").await.unwrap();
    corrupt(&store, "UPDATE notifications SET kind = 'user.poked'").await;
    refused(store.notifications(cy.id, None, 10).await, &["user.poked"]);

    let store = sqlite().await;
    let dee = member(&store, "dee_state").await;
    let eve = member(&store, "eve_state").await;
    let (case, _) = store.add_report(Subject::User(dee.id), eve.id, ReportReason::Spam, None).await.unwrap();
    corrupt(&store, "UPDATE reports SET reason = 'BORING'").await;
    refused(store.reports_of(case).await, &["BORING"]);
    corrupt(&store, "UPDATE moderation_cases SET status = 'CLOSED'").await;
    refused(store.case(case).await, &["CLOSED"]);
    corrupt(&store, "UPDATE moderation_cases SET status = 'OPEN', subject_kind = 'video'").await;
    refused(store.case(case).await, &["moderation_cases.subject_kind", "names none"]);
}

#[tokio::test]
async fn corrupt_json_in_a_column_is_refused() {
    let store = sqlite().await;
    let ann = member(&store, "ann_json").await;
    let v = video(&store, ann.id, Verdict::Review).await;
    corrupt(&store, "UPDATE videos SET frame_scores = '{\"indices\": [0, 3]'").await;
    refused(store.video(v.id).await, &["videos.frame_scores", &v.id.0.to_string()]);

    let case = store.latest_case_about(Subject::Video(v.id)).await.unwrap().unwrap().id;
    corrupt(&store, "UPDATE moderation_cases SET reasons = 'frame check: held'").await;
    refused(store.case(case).await, &["moderation_cases.reasons"]);
    corrupt(&store, "UPDATE moderation_cases SET reasons = '[]', scores = '{\"a\": 1}'").await;
    refused(store.case(case).await, &["moderation_cases.scores"]);
    // Merging new findings into the open case reads the stored ones first: refused too.
    let more = vec!["again".to_owned()];
    refused(
        store.open_case(Subject::Video(v.id), CaseSource::FrameCheck, &more, &[]).await,
        &["moderation_cases.scores"],
    );

    let (challenge, _) =
        store.insert_challenge(ann.id, "wave twice", Utc::now() + Duration::minutes(10)).await.unwrap();
    let cameo = store
        .insert_cameo(NewCameo {
            owner: ann.id,
            name: "Ann".into(),
            permission: CameoPermission::OnlyMe,
            restrictions: None,
            clip_key: "c.mp4".into(),
            challenge,
            reference: vec![0.25, -1.0],
            clip_duration_ms: 3000,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.cameo(cameo.id).await.unwrap().unwrap().reference, [0.25, -1.0]);
    corrupt(&store, "UPDATE cameos SET reference = 'null'").await;
    refused(store.cameo(cameo.id).await, &["cameos.reference"]);

    store.set_feed_preferences(ann.id, "more foxes", &vec![("fox", 2.0)]).await.unwrap();
    let (text, read_as) = store.feed_preferences::<Vec<(String, f32)>>(ann.id).await.unwrap().unwrap();
    assert_eq!((text.as_str(), read_as), ("more foxes", vec![("fox".to_owned(), 2.0)]));
    corrupt(&store, "UPDATE feed_preferences SET weights = 'fox'").await;
    refused(store.feed_preferences::<Vec<(String, f32)>>(ann.id).await, &["feed_preferences.weights"]);
}
