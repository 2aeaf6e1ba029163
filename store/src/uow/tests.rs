//! Units of work on SQLite (in memory, one connection: a statement of a unit that went to the
//! pool would wait forever) and on PostgreSQL (`TEST_POSTGRES_URL`; skipped when that is unset
//! and the default server does not answer).
//!
//! The fault tests run each multi-statement write with the fail point armed after 0, 1, 2…
//! statements until it succeeds: every failed run must answer `INTERNAL` and leave every table
//! exactly as it was; the successful run must change something.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::future::Future;

use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

use crate::cameos::NewCameo;
use crate::generation::{NewJob, NewVideo};
use crate::{NewInvite, NewUser, Store};
use app_core::error::AppResult;
use app_core::model::{
    AspectRatio, AudioMode, CameoPermission, FrameScores, JobStatus, NotificationKind, ReportReason, Role, Subject,
    TokenPurpose, Verdict,
};
use app_core::types::{JobId, UserId, VideoId};

async fn snapshot(store: &Store) -> Vec<String> {
    store.snapshot().await.unwrap()
}

/// Runs `op` with the fail point armed after 0, 1, 2… statements until it succeeds. Each failed
/// run must answer `INTERNAL` and leave the database as it was; returns how many statements the
/// successful run needed (the commit included).
async fn until_it_succeeds<T, F, Fut>(store: &Store, what: &str, mut op: F) -> (u32, T)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    let before = snapshot(store).await;
    for n in 0..100 {
        store.fail_after(n);
        let result = op().await;
        assert!(!store.fault_pending(), "{what}: began no transaction");
        match result {
            Ok(out) => {
                assert_ne!(snapshot(store).await, before, "{what}: succeeded without writing");
                return (n + 1, out);
            }
            Err(e) => {
                assert_eq!(e.code(), "INTERNAL", "{what}: {e}");
                assert!(e.to_string().contains("injected fault") || format!("{e:?}").contains("injected fault"));
                assert_eq!(snapshot(store).await, before, "{what}: half-written after statement {}", n + 1);
            }
        }
    }
    panic!("{what}: never succeeded");
}

async fn sqlite() -> Store {
    let store = Store::connect("sqlite::memory:", 1).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// A fresh PostgreSQL database, or `None` when no server is configured or answering.
async fn postgres() -> Option<Store> {
    let configured = std::env::var("TEST_POSTGRES_URL").ok();
    let url = configured.clone().unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = match Database::connect(&url).await {
        Ok(a) => a,
        Err(e) if configured.is_none() => {
            eprintln!("PostgreSQL not reachable at {url} ({e}); skipping");
            return None;
        }
        Err(e) => panic!("{url}: {e}"),
    };
    let name = format!("store_uow_{}", Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let base = &url[..url.rfind('/').unwrap()];
    let store = Store::connect(&format!("{base}/{name}"), 3).await.unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        email: format!("{name}@example.com"),
        username: name.into(),
        display_name: None,
        password_hash: "$argon2id$test".into(),
        role: Role::User,
        email_verified: false,
        birth_month: None,
        time_zone: None,
    }
}

fn new_invite(code: &str, owner: Option<UserId>) -> NewInvite {
    NewInvite { code: code.into(), owner_id: owner, created_by: None, max_uses: 1, expires_at: None, note: None }
}

async fn member(store: &Store, name: &str) -> UserId {
    let invite = store.insert_invites(vec![new_invite(&format!("SEED{name}"), None)]).await.unwrap().remove(0);
    store.sign_up(&invite, new_user(name), vec![]).await.unwrap().ok().unwrap().id
}

fn new_job(user: UserId) -> NewJob {
    NewJob {
        id: JobId::new(),
        user_id: user,
        prompt: "a fox".into(),
        seed: 1,
        duration_seconds: 2,
        aspect_ratio: AspectRatio::Square,
        remix_of: None,
        audio_mode: AudioMode::Full,
        shots: vec![],
        caption: None,
        trace_parent: None,
    }
}

fn new_video(verdict: Verdict) -> NewVideo {
    NewVideo {
        video_key: "videos/x.mp4".into(),
        thumbnail_key: "thumbs/x.jpg".into(),
        width: 512,
        height: 512,
        duration_ms: 1000,
        frame_count: 12,
        fps: 12,
        model_name: "tiny".into(),
        model_version: "0".into(),
        execution_provider: "CPU".into(),
        stage_millis: "{}".into(),
        watermark_id: rand_u32(),
        verdict,
        verdict_reason: Some("frame 3 scored 0.5".into()),
        frame_scores: FrameScores { indices: vec![3], scores: vec![0.5] },
        frame_strip_key: None,
        manifest_issuer: None,
        has_audio: false,
        captions_key: None,
        maturity: app_core::model::Maturity::General,
    }
}

fn rand_u32() -> u64 {
    u64::from(Uuid::new_v4().as_u128() as u32)
}

/// What a unit of work wrote is visible after `commit` only; dropping it or rolling it back
/// leaves nothing; statements inside run on the transaction (one pooled connection on SQLite).
async fn commit_drop_and_rollback(store: &Store) {
    let alice = member(store, "alice").await;
    let before = snapshot(store).await;

    let tx = store.begin().await.unwrap();
    tx.insert_job(new_job(alice)).await.unwrap();
    tx.notify(alice, NotificationKind::CameoUsed, None, None, "x").await.unwrap();
    assert!(tx.user(alice).await.unwrap().is_some(), "reads inside the unit use its transaction");
    drop(tx);
    assert_eq!(snapshot(store).await, before, "dropped: nothing");

    let tx = store.begin().await.unwrap();
    tx.insert_job(new_job(alice)).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(snapshot(store).await, before, "rolled back: nothing");

    let tx = store.begin().await.unwrap();
    let job = tx.insert_job(new_job(alice)).await.unwrap();
    tx.notify(alice, NotificationKind::CameoUsed, Some(VideoId(job.id.0)), None, "x").await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.job(job.id).await.unwrap().is_some());
    assert_eq!(store.notifications(alice, None, 10).await.unwrap().len(), 1);
}

/// Every multi-statement write the store does on its own, and a unit of work opened the way the
/// domain opens one, each failed after each of its statements in turn.
async fn faults_leave_nothing_half_written(store: &Store) {
    let alice = member(store, "alice").await;
    let bob = member(store, "bob").await;

    // Sign-up: the invite's use, the member, the redemption, the member's own codes.
    let invite = store.insert_invites(vec![new_invite("SIGNUP1", Some(alice))]).await.unwrap().remove(0);
    let (n, _) = until_it_succeeds(store, "sign_up", || async {
        let quota = vec![new_invite("Q1CAROL", None), new_invite("Q2CAROL", None)];
        Ok(store.sign_up(&invite, new_user("carol"), quota).await?.ok().unwrap())
    })
    .await;
    assert!(n >= 4, "sign_up: {n} statements");

    // Sessions, one-time tokens, password reset, ban.
    until_it_succeeds(store, "create_session", || {
        store.create_session(alice, format!("h{}", Uuid::new_v4()), Utc::now() + Duration::days(1))
    })
    .await;
    until_it_succeeds(store, "insert_one_time", || {
        store.insert_one_time(
            alice,
            TokenPurpose::Reset,
            format!("t{}", Uuid::new_v4()),
            Utc::now() + Duration::hours(1),
        )
    })
    .await;
    until_it_succeeds(store, "set_password_and_revoke_sessions", || {
        store.set_password_and_revoke_sessions(alice, "$argon2id$new".into())
    })
    .await;
    store.create_session(bob, "bob-session".into(), Utc::now() + Duration::days(1)).await.unwrap();
    until_it_succeeds(store, "ban", || store.ban(bob, "spam")).await;

    // Invites and the waitlist.
    until_it_succeeds(store, "insert_invites", || {
        store.insert_invites(vec![new_invite("MINT1", None), new_invite("MINT2", None)])
    })
    .await;
    let grant = store.insert_invites(vec![new_invite("GRANT1", None)]).await.unwrap().remove(0);
    until_it_succeeds(store, "mark_waitlist_granted", || store.mark_waitlist_granted("w@example.com", grant.id)).await;

    // A unit of work as `createVideo` opens it: cameo uses, the job, the owner's notice.
    let (phrase_id, _) = store.insert_challenge(bob, "say apple", Utc::now() + Duration::minutes(5)).await.unwrap();
    let (_, cameo) = until_it_succeeds(store, "insert_cameo", || async {
        let cameo = store
            .insert_cameo(NewCameo {
                owner: bob,
                name: "bob".into(),
                permission: CameoPermission::Everyone,
                restrictions: None,
                clip_key: "cameos/bob.mp4".into(),
                challenge: phrase_id,
                reference: vec![0.5; 4],
                clip_duration_ms: 2500,
            })
            .await?;
        Ok(cameo.unwrap())
    })
    .await;
    let (n, job) = until_it_succeeds(store, "create video unit", || async {
        let id = JobId::new();
        let tx = store.begin().await?;
        tx.record_cameo_uses(VideoId(id.0), &[(cameo.id, cameo.consent_version)]).await?;
        let job = tx.insert_job(NewJob { id, ..new_job(alice) }).await?;
        tx.notify(bob, NotificationKind::CameoUsed, Some(VideoId(id.0)), Some(alice), "x").await?;
        tx.commit().await?;
        Ok(job)
    })
    .await;
    assert!(n >= 4, "create video unit: {n} statements");

    // A job's result: the job ends, the video, its frame-check case (held for review).
    let (n, video) = until_it_succeeds(store, "complete_job", || async {
        Ok(store.complete_job(job.id, new_video(Verdict::Review)).await?.unwrap())
    })
    .await;
    assert!(n >= 4, "complete_job: {n} statements");
    assert_eq!(store.job(job.id).await.unwrap().unwrap().status, JobStatus::Succeeded);

    // Approvals bump the consent version with the row.
    until_it_succeeds(store, "approve_cameo_user", || store.approve_cameo_user(cameo.id, alice)).await;
    until_it_succeeds(store, "unapprove_cameo_user", || store.unapprove_cameo_user(cameo.id, alice)).await;

    // Comments and their counter, reports and their case.
    let (_, comment) = until_it_succeeds(store, "insert_comment", || store.insert_comment(video.id, bob, "nice")).await;
    until_it_succeeds(store, "set_comment_removed", || store.set_comment_removed(comment.id, true)).await;
    let (n, _) = until_it_succeeds(store, "add_report", || {
        store.add_report(Subject::Video(video.id), alice, ReportReason::Spam, None)
    })
    .await;
    assert!(n >= 4, "add_report: {n} statements");

    // The social graph keeps its counters with its rows.
    let carol = store.user_by_username("carol").await.unwrap().unwrap().id;
    until_it_succeeds(store, "follow", || {
        store.follow(
            alice,
            carol,
            Some(crate::social::Notice {
                user: carol,
                kind: NotificationKind::UserFollowed,
                video: None,
                actor: Some(alice),
                message: "followed",
            }),
        )
    })
    .await;
    until_it_succeeds(store, "block", || store.block(carol, alice)).await;
    until_it_succeeds(store, "like", || {
        store.like(
            carol,
            video.id,
            Some(crate::social::Notice {
                user: alice,
                kind: NotificationKind::VideoLiked,
                video: Some(video.id),
                actor: Some(carol),
                message: "liked",
            }),
        )
    })
    .await;
    until_it_succeeds(store, "record_view", || store.record_view(carol, video.id, 500)).await;

    // A revocation as `revokeCameo` runs it: the cameo, the draft deleted, the author told.
    let (n, _) = until_it_succeeds(store, "revoke unit", || async {
        let tx = store.begin().await?;
        tx.revoke_cameo(cameo.id).await?;
        for (u, _) in tx.uses_of_cameo(cameo.id, None, 100).await? {
            if tx.delete_video(u.video_id).await? {
                tx.notify(alice, NotificationKind::VideoDeleted, None, None, "gone").await?;
            }
        }
        tx.commit().await?;
        Ok(())
    })
    .await;
    assert!(n >= 5, "revoke unit: {n} statements");
    assert!(store.video(video.id).await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_commit_drop_and_rollback() {
    commit_drop_and_rollback(&sqlite().await).await;
}

#[tokio::test]
async fn sqlite_faults_leave_nothing_half_written() {
    faults_leave_nothing_half_written(&sqlite().await).await;
}

#[tokio::test]
async fn postgres_commit_drop_and_rollback() {
    if let Some(store) = postgres().await {
        commit_drop_and_rollback(&store).await;
    }
}

#[tokio::test]
async fn postgres_faults_leave_nothing_half_written() {
    if let Some(store) = postgres().await {
        faults_leave_nothing_half_written(&store).await;
    }
}
