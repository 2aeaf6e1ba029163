//! Atomic writes: every domain operation that writes more than one row is one unit of work.
//! Each is run with the store's fail point armed after 0, 1, 2… statements of its unit until
//! it succeeds: every failed run must answer `INTERNAL` and leave every table exactly as it
//! was (nothing half-written: no job without its cameo uses and notices, no video without its
//! case, no decision without its effect and audit entry…); the run that succeeds must write.
//! Side effects outside the database (the queue, feed caches, files, mail, session revocations)
//! happen after the commit, so a failed run leaves none of them either: the story goes on as if
//! the failed runs had never happened.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;
use crate::on_both_engines;

const CHALLENGE: &str = "mutation { startCameoVerification { id } }";
const CREATE_CAMEO: &str = "mutation($i: CreateCameoInput!) { createCameo(input: $i) { id status } }";
const REVIEW_CAMEO: &str = "mutation($id: ID!) { reviewCameo(id: $id, approve: true) { id status } }";
const APPROVE_USER: &str = "mutation($c: ID!, $u: ID!) { approveCameoUser(cameoId: $c, userId: $u) { id } }";
const CREATE: &str = "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id status } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id status video { id status } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishVideo(id: $id) { id status } }";
const COMMENT: &str = "mutation($v: ID!, $b: String!) { commentOnVideo(videoId: $v, body: $b) { id } }";
const REPORT: &str = "mutation($v: ID, $c: ID, $r: ReportReason!) { report(videoId: $v, commentId: $c, reason: $r) }";
const QUEUE: &str = "query($s: CaseStatus!) { moderationQueue(status: $s, first: 100) { nodes { id subjectVideo { id } subjectComment { id } } } }";
const RESOLVE: &str = "mutation($id: ID!, $a: ModerationAction!, $n: String) { resolveCase(id: $id, action: $a, note: $n) { id status } }";
const APPEAL: &str = "mutation($id: ID!, $m: String!) { appeal(caseId: $id, message: $m) { id status } }";
const SET_ROLE: &str = "mutation($u: ID!, $r: Role!) { setRole(userId: $u, role: $r) { role } }";
const BAN: &str = "mutation($u: ID!, $r: String!) { banUser(userId: $u, reason: $r) { id } }";
const MINT: &str = "mutation { mintInvites(count: 2, note: \"atomic\") { code } }";
const JOIN_WAITLIST: &str = "mutation($e: String!) { joinWaitlist(email: $e) }";
const GRANT: &str = "mutation($e: String!) { grantWaitlist(email: $e) { code } }";
const VERIFY_EMAIL: &str = "mutation($t: String!) { verifyEmail(token: $t) { id } }";
const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
const DELETE: &str = "mutation($id: ID!) { deleteVideo(id: $id) }";
const REMOVE_APPEARANCE: &str = "mutation($c: ID!, $v: ID!) { removeCameoAppearance(cameoId: $c, videoId: $v) }";
const REVOKE: &str = "mutation($id: ID!) { revokeCameo(id: $id) { id status } }";
const FOLLOW: &str = "mutation($u: ID!) { follow(userId: $u) { id } }";
const BLOCK: &str = "mutation($u: ID!) { block(userId: $u) }";

/// Runs `op` with the fail point armed after 0, 1, 2… statements until it succeeds: each failed
/// run answers `INTERNAL` and leaves the database as it was. Returns the statements the
/// successful run's unit needed (its commit included) and its result.
async fn atomically<T, F, Fut>(app: &TestApp, what: &str, mut op: F) -> (u32, T)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let store = &app.running.store;
    let before = app.running.store.snapshot().await.unwrap();
    for n in 0..200 {
        store.fail_after(n);
        let result = op().await;
        assert!(!store.fault_pending(), "{what}: no unit of work began");
        match result {
            Ok(out) => {
                assert_ne!(app.running.store.snapshot().await.unwrap(), before, "{what}: succeeded without writing");
                eprintln!("{what}: all or nothing over {} statements", n + 1);
                return (n + 1, out);
            }
            Err(code) => {
                assert_eq!(code, "INTERNAL", "{what}, fault after {n} statements");
                assert_eq!(
                    app.running.store.snapshot().await.unwrap(),
                    before,
                    "{what}: half-written after a fault at statement {}",
                    n + 1
                );
            }
        }
    }
    panic!("{what}: never succeeded");
}

/// A GraphQL operation as a result: its data, or its error code.
async fn gql(app: &TestApp, query: &str, vars: Value, token: Option<&str>) -> Result<Value, String> {
    let r = app.gql(query, vars, token).await;
    match code_of_opt(&r) {
        Some(code) => Err(code.to_owned()),
        None => Ok(r["data"].clone()),
    }
}

/// A multi-statement operation: at least one write besides the commit.
#[track_caller]
fn multi(what: &str, statements: u32) {
    assert!(statements >= 3, "{what}: only {statements} statements in its unit");
}

async fn wait_job(app: &TestApp, token: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let j = app.ok(JOB, json!({"id": id}), Some(token)).await["job"].clone();
        if ["SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"].contains(&j["status"].as_str().unwrap()) {
            assert_eq!(j["status"], "SUCCEEDED", "{j}");
            return j;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "timed out: {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn open_case(app: &TestApp, token: &str, status: &str, video: Option<&str>, comment: Option<&str>) -> String {
    let q = app.ok(QUEUE, json!({"s": status}), Some(token)).await;
    let nodes = q["moderationQueue"]["nodes"].as_array().unwrap().clone();
    let case = nodes
        .iter()
        .find(|c| {
            video.is_some_and(|v| c["subjectVideo"]["id"] == v)
                || comment.is_some_and(|v| c["subjectComment"]["id"] == v)
        })
        .unwrap_or_else(|| panic!("no {status} case about {video:?}/{comment:?} in {q}"));
    case["id"].as_str().unwrap().to_owned()
}

/// A clip recorded "by a camera": moving shapes, nothing like our generator's.
fn camera_clip() -> Vec<u8> {
    let (w, h, fps) = (320usize, 240usize, 12u32);
    let frames: Vec<Vec<u8>> = (0..30usize)
        .map(|t| {
            let mut f = vec![0u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    let i = (y * w + x) * 3;
                    let d = ((x as i64 - (w / 2) as i64 - t as i64).pow(2) + (y as i64 - (h / 2) as i64).pow(2)) as f64;
                    f[i] = if d < 3000.0 { 220 } else { (x % 200) as u8 };
                    f[i + 1] = ((y + t) % 180) as u8;
                    f[i + 2] = 90;
                }
            }
            f
        })
        .collect();
    let opts = media::EncodeOptions { fps, bitrate_kbps: 1500, keyframe_interval: 24 };
    media::encode_mp4(w, h, &frames, &opts).unwrap().mp4
}

async fn upload_cameo(app: &TestApp, token: &str, challenge: &str, clip: Vec<u8>) -> Value {
    let input = json!({"challengeId": challenge, "name": "bob", "permission": "EVERYONE", "clip": null});
    let operations = json!({"query": CREATE_CAMEO, "variables": {"i": input}}).to_string();
    let form = reqwest::multipart::Form::new()
        .text("operations", operations)
        .text("map", json!({"0": ["variables.i.clip"]}).to_string())
        .part("0", reqwest::multipart::Part::bytes(clip).file_name("me.mp4").mime_str("video/mp4").unwrap());
    let r = app.http.post(format!("{}/graphql", app.base)).bearer_auth(token).multipart(form).send().await.unwrap();
    r.json().await.unwrap()
}

/// A worker's `Succeeded` event for `job`, as if its clip had been made.
fn succeeded(job: &str, verdict: &str) -> jobs::JobEvent {
    serde_json::from_value(json!({
        "type": "Succeeded",
        "job_id": job,
        "output": {
            "video_key": format!("videos/{job}.mp4"),
            "thumbnail_key": format!("thumbs/{job}.jpg"),
            "width": 512, "height": 512, "duration_ms": 1000, "frame_count": 12, "fps": 12,
            "model_name": "tiny", "model_version": "0", "execution_provider": "CPU",
            "stages": {"queue_wait": 1, "text_encode": 1, "denoise": 1, "decode": 1, "encode": 1, "mux": 1, "store": 1},
            "watermark_id": u64::from(uuid::Uuid::parse_str(job).unwrap().as_u128() as u32),
            "verdict": verdict,
            "frame_indices": [0, 6], "frame_scores": [0.1, 0.5],
            "verdict_reason": "frame 6 scored 0.50",
        }
    }))
    .unwrap()
}

async fn member(app: &TestApp, name: &str) -> (String, String) {
    let code = app.mint(1, 1).await.remove(0);
    let (token, _, id) = app.sign_up(&code, name).await;
    (token, id)
}

/// Queues a job with the cameo (no worker takes it).
async fn queued(app: &TestApp, token: &str, cameo: &str, prompt: &str) -> String {
    let input = json!({"i": {"prompt": prompt, "durationSeconds": 1, "aspectRatio": "SQUARE", "cameoIds": [cameo]}});
    app.ok(CREATE, input, Some(token)).await["createVideo"]["id"].as_str().unwrap().to_owned()
}

async fn story(engine: Engine) {
    let test_app = app(engine)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.limits.redeem_per_ip_per_minute = 1000;
            c.limits.mail_requests_per_ip_per_hour = 1000;
            c.limits.comments_per_user_per_minute = 1000;
            c.limits.reports_per_user_per_hour = 1000;
            c.limits.social_actions_per_user_per_minute = 1000;
        })
        .start()
        .await;
    let app = &test_app;

    // Accounts: sign-up (the invite's use, the member, the redemption, their codes, the
    // verification token, the session), roles, codes, the waitlist, mail tokens, bans.
    let admin = app.create_admin("site_admin").await;
    let code = app.mint(1, 1).await.remove(0);
    let (n, dave) = atomically(app, "signUp", || async {
        let input = json!({"birthDate": "1990-04-12", "inviteCode": code, "email": "dave@example.com", "username": "dave", "password": "long enough secret"});
        gql(app, SIGN_UP, json!({"input": input}), None).await.map(|d| tokens(&d["signUp"]))
    })
    .await;
    multi("signUp", n);
    let (_, _, dave_id) = dave;
    let (n, _) = atomically(app, "verifyEmail", || {
        gql(app, VERIFY_EMAIL, json!({"t": app.mailed_token("dave@example.com", "Confirm your email")}), None)
    })
    .await;
    multi("verifyEmail", n);
    // Mail goes out after the commit: one sign-up that succeeded, one mail.
    let mails = std::fs::read_dir(app.data_dir.join("mail"))
        .unwrap()
        .flatten()
        .filter(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            text.contains("dave@example.com") && text.contains("Confirm your email")
        })
        .count();
    assert_eq!(mails, 1, "mail of failed sign-ups");
    app.ok(REQUEST_RESET, json!({"e": "dave@example.com"}), None).await;
    let start = Instant::now();
    let reset = loop {
        // The reset mail is written after the answer (its token is stored then, in a unit of its own).
        if let Some(t) = mailed_token_in(&app.data_dir.join("mail"), "dave@example.com", "Reset your password") {
            break t;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no reset mail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (n, _) =
        atomically(app, "resetPassword", || gql(app, RESET, json!({"t": reset, "p": "another long secret"}), None))
            .await;
    multi("resetPassword", n);
    let dave = app.log_in("dave", "another long secret").await.0;
    let (mod1, mod1_id) = member(app, "mod_one").await;
    let (n, _) =
        atomically(app, "setRole", || gql(app, SET_ROLE, json!({"u": mod1_id, "r": "MODERATOR"}), Some(&admin))).await;
    multi("setRole", n);
    let (mod2, mod2_id) = member(app, "mod_two").await;
    app.ok(SET_ROLE, json!({"u": mod2_id, "r": "MODERATOR"}), Some(&admin)).await;
    let (n, _) = atomically(app, "mintInvites", || gql(app, MINT, json!({}), Some(&admin))).await;
    multi("mintInvites", n);
    app.ok(JOIN_WAITLIST, json!({"e": "wait@example.com"}), None).await;
    let (n, _) =
        atomically(app, "grantWaitlist", || gql(app, GRANT, json!({"e": "wait@example.com"}), Some(&admin))).await;
    multi("grantWaitlist", n);
    let (_, erin_id) = member(app, "erin").await;
    let (n, _) = atomically(app, "banUser", || gql(app, BAN, json!({"u": erin_id, "r": "spam"}), Some(&mod1))).await;
    multi("banUser", n);

    // A cameo: the challenge used with the cameo and its case; the review; an approval.
    let (alice, alice_id) = member(app, "alice").await;
    let (bob, _) = member(app, "bob").await;
    let (carol, carol_id) = member(app, "carol").await;
    let challenge =
        app.ok(CHALLENGE, json!({}), Some(&bob)).await["startCameoVerification"]["id"].as_str().unwrap().to_owned();
    let clip = camera_clip();
    let (n, cameo) = atomically(app, "createCameo", || async {
        let r = upload_cameo(app, &bob, &challenge, clip.clone()).await;
        match code_of_opt(&r) {
            Some(code) => Err(code.to_owned()),
            None => Ok(r["data"]["createCameo"]["id"].as_str().unwrap().to_owned()),
        }
    })
    .await;
    multi("createCameo", n);
    // The clip is stored before the unit of work and deleted again when the unit fails.
    let clips = std::fs::read_dir(app.data_dir.join("media").join("cameos")).unwrap().count();
    assert_eq!(clips, 1, "clips of failed uploads are deleted");
    let (n, _) = atomically(app, "reviewCameo", || gql(app, REVIEW_CAMEO, json!({"id": cameo}), Some(&mod1))).await;
    multi("reviewCameo", n);
    let (n, _) =
        atomically(app, "approveCameoUser", || gql(app, APPROVE_USER, json!({"c": cameo, "u": carol_id}), Some(&bob)))
            .await;
    multi("approveCameoUser", n);

    // Generation with the worker: the cameo uses, the job and the owner's notice are one unit.
    let input = json!({"i": {"prompt": "a fox in the snow", "durationSeconds": 1, "aspectRatio": "SQUARE", "cameoIds": [cameo]}});
    let (n, job) = atomically(app, "createVideo", || async {
        gql(app, CREATE, input.clone(), Some(&alice)).await.map(|d| d["createVideo"]["id"].as_str().unwrap().to_owned())
    })
    .await;
    multi("createVideo", n);
    let v1 = wait_job(app, &alice, &job).await["video"]["id"].as_str().unwrap().to_owned();
    app.ok(PUBLISH, json!({"id": v1}), Some(&alice)).await;
    // A remix, published: the status and the source's author's notice are one unit.
    let remix = app.ok(CREATE, json!({"i": {"prompt": "at night", "remixOf": v1}}), Some(&carol)).await["createVideo"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let v2 = wait_job(app, &carol, &remix).await["video"]["id"].as_str().unwrap().to_owned();
    let (n, _) = atomically(app, "publishVideo (remix)", || gql(app, PUBLISH, json!({"id": v2}), Some(&carol))).await;
    multi("publishVideo (remix)", n);
    // No worker from here: nothing runs in the background while the fail point is armed.
    app.running.stop_workers.send(true).unwrap();

    // Comments, reports, decisions, appeals.
    let (n, comment) = atomically(app, "commentOnVideo", || async {
        gql(app, COMMENT, json!({"v": v2, "b": "lovely"}), Some(&dave)).await.map(|d| d["commentOnVideo"]["id"].clone())
    })
    .await;
    multi("commentOnVideo", n);
    let (n, _) =
        atomically(app, "report (comment)", || gql(app, REPORT, json!({"c": comment, "r": "SPAM"}), Some(&carol)))
            .await;
    multi("report (comment)", n);
    let case = open_case(app, &mod1, "OPEN", None, comment.as_str()).await;
    let (n, _) = atomically(app, "resolveCase (BAN_AUTHOR of a comment)", || {
        gql(app, RESOLVE, json!({"id": case, "a": "BAN_AUTHOR", "n": "spam"}), Some(&mod1))
    })
    .await;
    multi("resolveCase (BAN_AUTHOR)", n);
    app.ok(REPORT, json!({"v": v2, "r": "OTHER"}), Some(&alice)).await;
    let case = open_case(app, &mod1, "OPEN", Some(&v2), None).await;
    let (n, _) = atomically(app, "resolveCase (REMOVE)", || {
        gql(app, RESOLVE, json!({"id": case, "a": "REMOVE", "n": "not allowed"}), Some(&mod1))
    })
    .await;
    multi("resolveCase (REMOVE)", n);
    let (n, _) =
        atomically(app, "appeal", || gql(app, APPEAL, json!({"id": case, "m": "please look again"}), Some(&carol)))
            .await;
    multi("appeal", n);
    let (n, _) = atomically(app, "resolveCase (appeal upheld)", || {
        gql(app, RESOLVE, json!({"id": case, "a": "APPROVE"}), Some(&mod2))
    })
    .await;
    multi("resolveCase (appeal upheld)", n);
    assert_eq!(app.ok(JOB, json!({"id": remix}), Some(&carol)).await["job"]["video"]["status"], "PUBLISHED");

    // Job results: the job's end, the video, its frame-check case and the author's notice.
    let held = queued(app, &alice, &cameo, "a heron at dawn").await;
    let (n, _) = atomically(app, "job result (held for review)", || async {
        app.running.videos.apply_event(&succeeded(&held, "review")).await.map_err(|e| e.code().to_owned())
    })
    .await;
    multi("job result", n);
    assert_eq!(app.ok(JOB, json!({"id": held}), Some(&alice)).await["job"]["video"]["status"], "IN_REVIEW");
    let draft = queued(app, &alice, &cameo, "a crane at dusk").await;
    app.running.videos.apply_event(&succeeded(&draft, "pass")).await.unwrap();
    let (n, _) = atomically(app, "deleteVideo", || gql(app, DELETE, json!({"id": draft}), Some(&alice))).await;
    multi("deleteVideo", n);
    let pending = queued(app, &alice, &cameo, "an owl at night").await;

    // The cameo's owner takes one video down, then withdraws the cameo: every video with it
    // (published, remixed, held) and the live job come down in one unit.
    let (n, _) = atomically(app, "removeCameoAppearance", || {
        gql(app, REMOVE_APPEARANCE, json!({"c": cameo, "v": held}), Some(&bob))
    })
    .await;
    multi("removeCameoAppearance", n);
    let (n, _) = atomically(app, "revokeCameo", || gql(app, REVOKE, json!({"id": cameo}), Some(&bob))).await;
    assert!(n >= 8, "revokeCameo: {n} statements");
    assert_eq!(app.ok(JOB, json!({"id": pending}), Some(&alice)).await["job"]["status"], "CANCELLED");
    assert_eq!(app.gql(JOB, json!({"id": job}), Some(&alice)).await["data"]["job"]["video"]["status"], "REMOVED");

    // The social graph keeps its counters with its rows.
    let (n, _) = atomically(app, "follow", || gql(app, FOLLOW, json!({"u": alice_id}), Some(&carol))).await;
    multi("follow", n);
    let (n, _) = atomically(app, "block", || gql(app, BLOCK, json!({"u": carol_id}), Some(&alice))).await;
    multi("block", n);
    // Dave's comment was removed and he was banned by one decision.
    assert!(
        app.running.store.user(app_core::types::UserId::parse(&dave_id).unwrap()).await.unwrap().unwrap().is_banned()
    );
    test_app.stop().await;
}

on_both_engines!(every_multi_statement_write_is_all_or_nothing, story);

/// The teen operations that write more than one row: accepting a parent's code (the code used
/// and the link), the parent's controls (with the cameos narrowed), a moderator's date-of-birth
/// correction and maturity label (each with its audit entry), and an agreed unlink.
async fn teen_story(engine: Engine) {
    let app = app(engine).tweak(|c| c.limits.redeem_per_ip_per_minute = 1000).start().await;
    let admin = app.create_admin("chief").await;
    let (parent, _) = member(&app, "parent").await;
    let code = app.mint(1, 1).await.remove(0);
    let t = chrono::Utc::now().date_naive();
    let born = format!("{}-01-15", chrono::Datelike::year(&t) - 15);
    let input = json!({"inviteCode": code, "email": "teen@example.com", "username": "teen", "password": "long enough secret", "birthDate": born});
    let (teen, _, teen_id) = tokens(&app.ok(SIGN_UP, json!({"input": input}), None).await["signUp"]);

    let code = app.ok("mutation { createGuardianInvite }", json!({}), Some(&parent)).await["createGuardianInvite"]
        .as_str()
        .unwrap()
        .to_owned();
    let (n, _) = atomically(&app, "acceptGuardianInvite", || {
        gql(&app, "mutation($c: String!) { acceptGuardianInvite(code: $c) { id } }", json!({"c": code}), Some(&teen))
    })
    .await;
    multi("acceptGuardianInvite", n);
    let (n, _) = atomically(&app, "setTeenControls", || {
        gql(
            &app,
            "mutation($t: ID!) { setTeenControls(teenId: $t, input: {dailyFeedMinutes: 30, cameoPermission: ONLY_ME}) { id } }",
            json!({"t": teen_id}),
            Some(&parent),
        )
    })
    .await;
    multi("setTeenControls", n);
    let (n, _) = atomically(&app, "correctBirthDate", || {
        gql(
            &app,
            "mutation($u: ID!) { correctBirthDate(userId: $u, birthDate: \"2010-02-01\") { id } }",
            json!({"u": teen_id}),
            Some(&admin),
        )
    })
    .await;
    multi("correctBirthDate", n);
    let video = crate::feeds::published(&app, &teen_id, "a kite on a windy hill").await;
    let (n, _) = atomically(&app, "setVideoMaturity", || {
        gql(
            &app,
            "mutation($v: ID!) { setVideoMaturity(videoId: $v, maturity: MATURE) { id } }",
            json!({"v": video}),
            Some(&admin),
        )
    })
    .await;
    multi("setVideoMaturity", n);
    let unlink = "mutation($t: ID!) { unlinkGuardian(teenId: $t) }";
    assert_eq!(app.ok(unlink, json!({"t": teen_id}), Some(&teen)).await["unlinkGuardian"], false);
    let (n, done) =
        atomically(&app, "unlinkGuardian", || gql(&app, unlink, json!({"t": teen_id}), Some(&parent))).await;
    multi("unlinkGuardian", n);
    assert_eq!(done["unlinkGuardian"], true);
}

on_both_engines!(teen_writes_are_all_or_nothing, teen_story);
