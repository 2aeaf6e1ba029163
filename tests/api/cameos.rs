//! Cameos: verification uploads and their automatic checks, the consent matrix at submit,
//! finish and publish, restrictions, and the whole story from recording to revocation.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

const CHALLENGE: &str = "mutation { startCameoVerification { id phrase expiresAt } }";
const CREATE_CAMEO: &str = "mutation($i: CreateCameoInput!) { createCameo(input: $i) { id name status permission restrictions challengePhrase clipUrl owner { username } } }";
const REVIEW: &str =
    "mutation($id: ID!, $a: Boolean!, $n: String) { reviewCameo(id: $id, approve: $a, note: $n) { id status } }";
pub(crate) const CREATE: &str = "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id status } }";
const JOB: &str =
    "query($id: ID!) { job(id: $id) { id status error { code message } video { id status cameos { id name } } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishVideo(id: $id) { id status } }";
pub(crate) const UPDATE: &str = "mutation($id: ID!, $p: CameoPermission, $r: String, $a: Boolean) { updateCameo(id: $id, permission: $p, restrictions: $r, requireApproval: $a) { id permission restrictions requireApproval consentVersion } }";
pub(crate) const APPROVE_USER: &str =
    "mutation($c: ID!, $u: ID!) { approveCameoUser(cameoId: $c, userId: $u) { id approvedUsers { username } } }";
const UNAPPROVE_USER: &str = "mutation($c: ID!, $u: ID!) { unapproveCameoUser(cameoId: $c, userId: $u) { id } }";

const FOLLOW: &str = "mutation($u: ID!) { follow(userId: $u) { id } }";

/// The consent rule the matrices check: who may use a cameo with `permission`, by relation to
/// its owner (a block either way overrides everything).
fn allowed(permission: &str, relation: &str) -> bool {
    match relation {
        "owner" => true,
        "blocked" => false,
        "approved" => matches!(permission, "APPROVED" | "EVERYONE"),
        "mutual" => matches!(permission, "MUTUALS" | "EVERYONE"),
        _ => permission == "EVERYONE",
    }
}

async fn member(app: &TestApp, name: &str) -> (String, String) {
    let code = app.mint(1, 1).await.remove(0);
    let (token, _, id) = app.sign_up(&code, name).await;
    (token, id)
}

/// A clip recorded "by a camera": moving shapes, never near our generator.
fn camera_clip(seconds: f64, w: usize, h: usize) -> Vec<u8> {
    let fps = 12u32;
    let n = (seconds * f64::from(fps)).round() as usize;
    let frames: Vec<Vec<u8>> = (0..n)
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

/// Sends a mutation with one upload in `variables.input.clip`.
async fn upload_cameo(app: &TestApp, token: &str, input: Value, clip: Vec<u8>) -> reqwest::Response {
    let mut input = input;
    input["clip"] = Value::Null;
    let operations = json!({"query": CREATE_CAMEO, "variables": {"i": input}}).to_string();
    let form = reqwest::multipart::Form::new()
        .text("operations", operations)
        .text("map", json!({"0": ["variables.i.clip"]}).to_string())
        .part("0", reqwest::multipart::Part::bytes(clip).file_name("me.mp4").mime_str("video/mp4").unwrap());
    app.http.post(format!("{}/graphql", app.base)).bearer_auth(token).multipart(form).send().await.unwrap()
}

async fn new_cameo(app: &TestApp, token: &str, name: &str, permission: &str) -> Value {
    let ch = app.ok(CHALLENGE, json!({}), Some(token)).await;
    let r: Value = upload_cameo(
        app,
        token,
        json!({"challengeId": ch["startCameoVerification"]["id"], "name": name, "permission": permission}),
        camera_clip(2.5, 320, 240),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(r.get("errors").is_none(), "{r}");
    r["data"]["createCameo"].clone()
}

/// A cameo of `token`'s with `permission`, verified by `reviewer` (a moderator): its id.
pub(crate) async fn active_cameo(app: &TestApp, token: &str, name: &str, permission: &str, reviewer: &str) -> String {
    let cameo = new_cameo(app, token, name, permission).await;
    let id = cameo["id"].as_str().unwrap().to_owned();
    app.ok(REVIEW, json!({"id": id, "a": true, "n": "matches the challenge"}), Some(reviewer)).await;
    id
}

async fn wait_job(app: &TestApp, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let j = app.ok(JOB, json!({"id": id}), Some(token)).await["job"].clone();
        if done(&j) {
            return j;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "timed out: {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ended(j: &Value) -> bool {
    ["SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"].contains(&j["status"].as_str().unwrap_or(""))
}

/// A non-video, a too-long clip, one of our own generated clips, an oversized body, a used
/// challenge: each refused with its code, and nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_uploads_are_checked_and_nothing_is_stored_on_refusal() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let (ann, _) = member(&app, "ann").await;
    let refuse = |r: &Value, needle: &str| {
        assert_eq!(code_of(r), "BAD_USER_INPUT", "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains(needle), "{needle}: {r}");
    };
    let ch = app.ok(CHALLENGE, json!({}), Some(&ann)).await["startCameoVerification"].clone();
    assert!(ch["phrase"].as_str().unwrap().starts_with("Say \""), "{ch}");
    let input = json!({"challengeId": ch["id"], "name": "Ann"});
    let r: Value = upload_cameo(&app, &ann, input.clone(), b"not a video".to_vec()).await.json().await.unwrap();
    refuse(&r, "not a video file");
    let r: Value = upload_cameo(&app, &ann, input.clone(), camera_clip(31.0, 320, 240)).await.json().await.unwrap();
    refuse(&r, "record 2 to 30 seconds");
    let r: Value = upload_cameo(&app, &ann, input.clone(), camera_clip(1.0, 320, 240)).await.json().await.unwrap();
    refuse(&r, "record 2 to 30 seconds");
    let r: Value = upload_cameo(&app, &ann, input.clone(), camera_clip(2.5, 200, 160)).await.json().await.unwrap();
    refuse(&r, "240 to 4096");
    // One of our own generated clips.
    let job = app
        .ok(
            CREATE,
            json!({"i": {"prompt": "a quiet pond", "durationSeconds": 4, "aspectRatio": "LANDSCAPE"}}),
            Some(&ann),
        )
        .await;
    let jid = job["createVideo"]["id"].as_str().unwrap().to_owned();
    let done = wait_job(&app, &ann, &jid, ended).await;
    let ours = std::fs::read(
        app.data_dir.join("media").join("videos").join(format!("{}.mp4", done["video"]["id"].as_str().unwrap())),
    )
    .unwrap();
    let r: Value = upload_cameo(&app, &ann, input.clone(), ours).await.json().await.unwrap();
    refuse(&r, "generated here");
    let too_big =
        upload_cameo(&app, &ann, input.clone(), vec![0u8; app.config.server.max_upload_bytes + 100_000]).await;
    assert_eq!(too_big.status(), 413);
    // Nothing was stored by any refusal.
    let stored = std::fs::read_dir(app.data_dir.join("media").join("cameos")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0);
    let me = app.ok("{ me { cameos { id } } }", json!({}), Some(&ann)).await;
    assert_eq!(me["me"]["cameos"].as_array().unwrap().len(), 0);
    // A good clip is accepted once per challenge; someone else's challenge does not work.
    let ok: Value = upload_cameo(&app, &ann, input.clone(), camera_clip(2.5, 320, 240)).await.json().await.unwrap();
    let cameo = &ok["data"]["createCameo"];
    assert_eq!(cameo["status"], "PENDING_REVIEW", "{ok}");
    assert_eq!(cameo["challengePhrase"], ch["phrase"]);
    let again: Value = upload_cameo(&app, &ann, input.clone(), camera_clip(2.5, 320, 240)).await.json().await.unwrap();
    refuse(&again, "challenge");
    let (bob, _) = member(&app, "bob").await;
    let theirs: Value = upload_cameo(&app, &bob, json!({"challengeId": app.ok(CHALLENGE, json!({}), Some(&ann)).await["startCameoVerification"]["id"], "name": "Bob"}), camera_clip(2.5, 320, 240))
        .await
        .json()
        .await
        .unwrap();
    refuse(&theirs, "challenge");
    // Challenges are limited per member (10 an hour by default; Ann has used 2).
    for _ in 0..8 {
        app.ok(CHALLENGE, json!({}), Some(&ann)).await;
    }
    assert_eq!(app.code(CHALLENGE, json!({}), Some(&ann)).await, "RATE_LIMITED");
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// A real browser recording (Chromium's MediaRecorder: fragmented MP4, `avcC` after `pasp`
/// and `btrt`) is accepted, and what is stored is a plain MP4 every reader takes as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_recording_is_accepted_and_stored_as_a_plain_mp4() {
    const RECORDING: &[u8] = include_bytes!("../../media/tests/fixtures/chromium-recording.mp4");
    let app = app(Engine::Sqlite).start().await;
    let (ann, _) = member(&app, "ann").await;
    let ch = app.ok(CHALLENGE, json!({}), Some(&ann)).await["startCameoVerification"].clone();
    let r: Value = upload_cameo(&app, &ann, json!({"challengeId": ch["id"], "name": "Ann"}), RECORDING.to_vec())
        .await
        .json()
        .await
        .unwrap();
    assert!(r.get("errors").is_none(), "{r}");
    let cameo = &r["data"]["createCameo"];
    assert_eq!(cameo["status"], "PENDING_REVIEW", "{r}");

    let stored = app.http.get(cameo["clipUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(stored.status(), 200);
    let stored = stored.bytes().await.unwrap();
    assert_ne!(stored.as_ref(), RECORDING, "the browser's fragmented file was stored as it came");
    assert!(
        matches!(media::normalize_mp4(&stored).unwrap(), std::borrow::Cow::Borrowed(_)),
        "the stored clip is not plain"
    );
    assert!(media::is_faststart(&stored));
    let info = media::probe_mp4(&stored).unwrap();
    assert_eq!((info.width, info.height), (320, 240));
    assert!((2700..=3300).contains(&info.duration_ms), "{info:?}");
    assert_eq!(media::decode_mp4(&stored).unwrap().len(), info.frame_count);
    app.stop().await;
}

/// A media store that does not answer is a fault to retry, not a broken file: an upload answers
/// `UNAVAILABLE` with `retryAfterSeconds` (within the store's bounded retries, not its default
/// three minutes) and creates nothing; a signed media link answers 503 with `Retry-After`, and
/// the same link works again once the store does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_store_that_does_not_answer_is_unavailable_not_an_error() {
    // S3 on a port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s3_app = app(Engine::Sqlite).tweak(with_s3(format!("http://127.0.0.1:{closed}"))).start().await;
    let (ann, _) = member(&s3_app, "ann").await;
    let ch = s3_app.ok(CHALLENGE, json!({}), Some(&ann)).await["startCameoVerification"].clone();
    let started = std::time::Instant::now();
    let r: Value =
        upload_cameo(&s3_app, &ann, json!({"challengeId": ch["id"], "name": "Ann"}), camera_clip(2.5, 320, 240))
            .await
            .json()
            .await
            .unwrap();
    let e = &r["errors"][0];
    assert_eq!(e["extensions"]["code"], "UNAVAILABLE", "{r}");
    assert_eq!(e["extensions"]["retryAfterSeconds"], 10, "{r}");
    assert!(e["message"].as_str().unwrap().starts_with("uploading is unavailable for a moment"), "{r}");
    eprintln!("upload refused after {:?}", started.elapsed());
    let mine = s3_app.ok("{ me { cameos { id } } }", json!({}), Some(&ann)).await;
    assert_eq!(mine["me"]["cameos"].as_array().unwrap().len(), 0, "nothing created: {mine}");
    s3_app.stop().await;

    // The local store: its folder for cameo clips turned into a file (a disk fault, not a
    // missing object), then put back.
    let app = app(Engine::Sqlite).start().await;
    let (bob, _) = member(&app, "bob").await;
    let cameo = new_cameo(&app, &bob, "Bob", "ONLY_ME").await;
    let url = cameo["clipUrl"].as_str().unwrap().to_owned();
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 200);
    let folder = app.data_dir.join("media/cameos");
    let aside = app.data_dir.join("cameos-aside");
    std::fs::rename(&folder, &aside).unwrap();
    std::fs::write(&folder, b"not a folder").unwrap();
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    std::fs::remove_file(&folder).unwrap();
    std::fs::rename(&aside, &folder).unwrap();
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 200);
    app.stop().await;
}

/// Submit-time consent for every permission × relation (owner, approved, mutual, follower only,
/// blocked, stranger); changes of
/// consent landing between submit, finish and publish; restrictions naming the cameo; the
/// bypasses (a pending or revoked id, someone else's draft, too many cameos).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_matrix_and_bypasses() {
    // On PostgreSQL: the cameo queries (approvals, name prefix, cursors) on the production engine.
    let app = app(Engine::Postgres).tweak(|c| c.limits.max_queued_jobs_per_user = 100).start().await;
    let admin = app.create_admin("chief").await;
    let (ann, ann_id) = member(&app, "ann").await;
    let (bob, bob_id) = member(&app, "bob").await;
    let (cat, _) = member(&app, "cat").await;
    let (moder, mod_id) = member(&app, "mod1").await;
    app.ok("mutation($u: ID!) { setRole(userId: $u, role: MODERATOR) { role } }", json!({"u": mod_id}), Some(&admin))
        .await;
    let cameo = new_cameo(&app, &ann, "Ann", "ONLY_ME").await;
    let cid = cameo["id"].as_str().unwrap().to_owned();
    let submit = |token: String, prompt: &'static str| {
        let app = &app;
        let cid = cid.clone();
        async move {
            app.gql(
                CREATE,
                json!({"i": {"prompt": prompt, "durationSeconds": 1, "aspectRatio": "LANDSCAPE", "cameoIds": [cid]}}),
                Some(&token),
            )
            .await
        }
    };
    // Pending review: no one, the owner included.
    assert_eq!(code_of(&submit(ann.clone(), "ann waving").await), "CONSENT_REQUIRED");
    app.ok(REVIEW, json!({"id": cid, "a": true, "n": "matches the challenge"}), Some(&moder)).await;
    app.ok(APPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    assert_eq!(
        app.code(APPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&bob)).await,
        "NOT_FOUND",
        "only the owner approves"
    );

    // Dan and Ann follow each other (mutuals); Eve follows Ann (a follower only); Fay was
    // approved and mutual, then Ann blocked her: the block overrides every permission.
    let (dan, dan_id) = member(&app, "dan").await;
    let (eve, _) = member(&app, "eve").await;
    let (fay, fay_id) = member(&app, "fay").await;
    for (token, target) in [(&dan, &ann_id), (&ann, &dan_id), (&eve, &ann_id), (&fay, &ann_id), (&ann, &fay_id)] {
        app.ok(FOLLOW, json!({"u": target}), Some(token)).await;
    }
    app.ok(APPROVE_USER, json!({"c": cid, "u": fay_id}), Some(&ann)).await;
    app.ok("mutation($u: ID!) { block(userId: $u) }", json!({"u": fay_id}), Some(&ann)).await;

    let relations = [
        ("owner", ann.clone()),
        ("approved", bob.clone()),
        ("mutual", dan.clone()),
        ("follower", eve.clone()),
        ("blocked", fay.clone()),
        ("stranger", cat.clone()),
    ];
    for permission in ["ONLY_ME", "APPROVED", "MUTUALS", "EVERYONE"] {
        app.ok(UPDATE, json!({"id": cid, "p": permission}), Some(&ann)).await;
        for (relation, token) in &relations {
            let allowed = allowed(permission, relation);
            let r = submit(token.clone(), "a person waving on a beach").await;
            if allowed {
                assert!(r.get("errors").is_none(), "{permission} × {relation}: {r}");
            } else {
                assert_eq!(code_of(&r), "CONSENT_REQUIRED", "{permission} × {relation}: {r}");
                assert!(r["errors"][0]["message"].as_str().unwrap().contains("\"Ann\""), "names the cameo: {r}");
            }
        }
    }
    // Usable cameos follow the same rule.
    let usable = |token: String| {
        let app = &app;
        async move {
            app.ok("{ usableCameos(first: 10) { edges { node { id name } } } }", json!({}), Some(&token)).await["usableCameos"]["edges"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    app.ok(UPDATE, json!({"id": cid, "p": "APPROVED"}), Some(&ann)).await;
    assert_eq!((usable(ann.clone()).await, usable(bob.clone()).await, usable(cat.clone()).await), (1, 1, 0));
    assert_eq!(usable(fay.clone()).await, 0, "a block hides the cameo from search even when approved");
    app.ok(UPDATE, json!({"id": cid, "p": "MUTUALS"}), Some(&ann)).await;
    assert_eq!((usable(dan.clone()).await, usable(eve.clone()).await, usable(bob.clone()).await), (1, 0, 0));
    app.ok(UPDATE, json!({"id": cid, "p": "EVERYONE"}), Some(&ann)).await;
    assert_eq!((usable(eve.clone()).await, usable(fay.clone()).await), (1, 0));
    app.ok(UPDATE, json!({"id": cid, "p": "APPROVED"}), Some(&ann)).await;
    let by_name = "query($q: String) { usableCameos(query: $q, first: 10) { edges { node { name } } } }";
    for (q, n) in [("aN", 1), ("ann", 1), ("b", 0), ("%", 0)] {
        let r = app.ok(by_name, json!({"q": q}), Some(&bob)).await;
        assert_eq!(r["usableCameos"]["edges"].as_array().unwrap().len(), n, "prefix {q:?}: {r}");
    }

    // Restrictions are enforced with the cameo named; other prompts pass.
    app.ok(UPDATE, json!({"id": cid, "r": "no political content, never shirtless"}), Some(&ann)).await;
    let r = submit(bob.clone(), "ann giving a political speech").await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    assert!(r["errors"][0]["extensions"]["reasons"].to_string().contains("Ann"), "{r}");
    assert_eq!(code_of(&submit(bob.clone(), "ann running shirtless on a beach").await), "POLICY_VIOLATION");
    // By meaning: no word of the rule is in the prompt.
    let r = submit(bob.clone(), "ann at a rally with flags outside parliament").await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    let reasons = r["errors"][0]["extensions"]["reasons"].to_string();
    assert!(reasons.contains("Ann") && reasons.contains("political content"), "{r}");
    app.ok(UPDATE, json!({"id": cid, "r": "no political content, nothing scary"}), Some(&ann)).await;
    assert_eq!(code_of(&submit(bob.clone(), "ann in a haunted house at midnight").await), "POLICY_VIOLATION");
    app.ok(UPDATE, json!({"id": cid, "r": "no political content, never shirtless"}), Some(&ann)).await;

    // Too many cameos; an id that does not exist.
    let two = new_cameo(&app, &ann, "Ann two", "EVERYONE").await;
    let three = new_cameo(&app, &ann, "Ann three", "EVERYONE").await;
    for c in [&two, &three] {
        app.ok(REVIEW, json!({"id": c["id"], "a": true}), Some(&moder)).await;
    }
    let r = app
        .gql(
            CREATE,
            json!({"i": {"prompt": "three of her", "durationSeconds": 1, "cameoIds": [cid, two["id"], three["id"]]}}),
            Some(&ann),
        )
        .await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
    let r = app
        .gql(
            CREATE,
            json!({"i": {"prompt": "a ghost", "durationSeconds": 1, "cameoIds": [uuid::Uuid::new_v4().to_string()]}}),
            Some(&bob),
        )
        .await;
    assert_eq!(code_of(&r), "CONSENT_REQUIRED", "{r}");

    // Between submit and finish: unapproval. Bob's queued job (no worker runs here) still has
    // its consent recorded; the owner's change shows up at finish and at publish.
    let queued = submit(bob.clone(), "ann and bob at a picnic").await;
    let job_id = queued["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    app.ok(UNAPPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    assert_eq!(code_of(&submit(bob.clone(), "ann and bob again").await), "CONSENT_REQUIRED");
    // Revocation between submit and finish cancels the job.
    app.ok("mutation($id: ID!) { revokeCameo(id: $id) { status } }", json!({"id": cid}), Some(&ann)).await;
    let j = app.ok(JOB, json!({"id": job_id}), Some(&bob)).await;
    assert_eq!(j["job"]["status"], "CANCELLED", "{j}");
    assert_eq!(j["job"]["error"]["code"], "CONSENT_WITHDRAWN");
    // A revoked id is refused even to its owner.
    assert_eq!(code_of(&submit(ann.clone(), "ann alone").await), "CONSENT_REQUIRED");
    let _ = ann_id;
    app.stop().await;
}

/// The whole story: A records a cameo → a moderator approves → B is refused → A approves B →
/// B generates (the consent version lands in the C2PA manifest) → consent withdrawn before
/// publish is refused → B publishes → A sees it and removes it → B remixes something else with
/// A's cameo → A revokes → every video with A is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cameo_story() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let admin = app.create_admin("chief").await;
    let (ann, _) = member(&app, "ann").await;
    let (bob, bob_id) = member(&app, "bob").await;
    let (moder, mod_id) = member(&app, "mod1").await;
    app.ok("mutation($u: ID!) { setRole(userId: $u, role: MODERATOR) { role } }", json!({"u": mod_id}), Some(&admin))
        .await;

    let cameo = new_cameo(&app, &ann, "Ann", "APPROVED").await;
    let cid = cameo["id"].as_str().unwrap().to_owned();
    // The verification waits as a case with the clip and the phrase.
    let q = app.ok("{ moderationQueue { edges { node { id source subjectCameo { id challengePhrase clipUrl owner { username } } } } } }", json!({}), Some(&moder)).await;
    let case = q["moderationQueue"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["source"] == "cameo")
        .unwrap()
        .clone();
    assert_eq!(case["subjectCameo"]["id"], cid);
    assert!(case["subjectCameo"]["clipUrl"].as_str().is_some());
    assert_eq!(app.code(REVIEW, json!({"id": cid, "a": true}), Some(&bob)).await, "FORBIDDEN");
    app.ok(REVIEW, json!({"id": cid, "a": true}), Some(&moder)).await;

    let with_ann = |prompt: &str, remix: Option<&str>| json!({"i": {"prompt": prompt, "durationSeconds": 1, "aspectRatio": "LANDSCAPE", "cameoIds": [cid], "remixOf": remix}});
    assert_eq!(app.code(CREATE, with_ann("ann skating", None), Some(&bob)).await, "CONSENT_REQUIRED");
    // `@ann` in a prompt names her cameo, with the same consent rules and codes as its id.
    let by_handle = |prompt: &str| json!({"i": {"prompt": prompt, "durationSeconds": 1, "aspectRatio": "LANDSCAPE"}});
    assert_eq!(app.code(CREATE, by_handle("@ann skating"), Some(&bob)).await, "CONSENT_REQUIRED");
    assert_eq!(app.code(CREATE, by_handle("@nobody_here skating"), Some(&bob)).await, "CONSENT_REQUIRED");
    app.ok(APPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    let made = app.ok(CREATE, by_handle("@Ann skating on a frozen lake"), Some(&bob)).await;
    let vid = made["createVideo"]["id"].as_str().unwrap().to_owned();
    let done = wait_job(&app, &bob, &vid, ended).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["video"]["cameos"][0]["name"], "Ann");
    // The manifest lists the cameo with the consent version that allowed it.
    let roots = moderation::provenance::local_ca_root_pem(&app.data_dir.join("c2pa")).unwrap();
    let bytes = std::fs::read(app.data_dir.join("media").join("videos").join(format!("{vid}.mp4"))).unwrap();
    let m = moderation::provenance::verify_mp4_trusting(&bytes, &roots).unwrap();
    assert_eq!(m.cameos.len(), 1);
    assert_eq!(m.cameos[0].cameo_id, cid);
    // The owner was told of the use.
    let notes = app.ok("{ notifications { edges { node { kind } } } }", json!({}), Some(&ann)).await;
    assert!(notes["notifications"]["edges"].as_array().unwrap().iter().any(|e| e["node"]["kind"] == "cameo.used"));

    // Consent withdrawn between finish and publish: refused; given again: published.
    app.ok(UNAPPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    assert_eq!(app.code(PUBLISH, json!({"id": vid}), Some(&bob)).await, "CONSENT_REQUIRED");
    app.ok(APPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    app.ok(PUBLISH, json!({"id": vid}), Some(&bob)).await;

    // The cameo feed: the video by Ann's handle, for anyone who may see it; her cameo is a
    // PERSON named by her handle.
    let cameo_feed = "query($h: String!) { videosWithCameo(handle: $h, first: 5) { edges { node { id } } pageInfo { hasNextPage } } }";
    for token in [Some(bob.as_str()), None] {
        let r = app.ok(cameo_feed, json!({"h": "@ann"}), token).await;
        assert_eq!(r["videosWithCameo"]["edges"][0]["node"]["id"], vid, "{r}");
        assert_eq!(r["videosWithCameo"]["pageInfo"]["hasNextPage"], false);
    }
    assert_eq!(app.code(cameo_feed, json!({"h": "nobody_here"}), Some(&bob)).await, "NOT_FOUND");
    let r = app.ok("query($id: ID!) { cameo(id: $id) { kind handle } }", json!({"id": cid}), Some(&ann)).await;
    assert_eq!(r["cameo"], json!({"kind": "PERSON", "handle": "ann"}));

    // A sees it (and only A: appearances are the owner's) and removes it.
    let appearances = "query($id: ID!) { cameo(id: $id) { appearances(first: 10) { edges { node { id status } } } } }";
    let seen = app.ok(appearances, json!({"id": cid}), Some(&ann)).await;
    assert_eq!(seen["cameo"]["appearances"]["edges"][0]["node"]["id"], vid);
    let hidden = app.ok(appearances, json!({"id": cid}), Some(&bob)).await;
    assert_eq!(hidden["cameo"]["appearances"]["edges"].as_array().unwrap().len(), 0);
    let remove = "mutation($c: ID!, $v: ID!) { removeCameoAppearance(cameoId: $c, videoId: $v) }";
    assert_eq!(app.code(remove, json!({"c": cid, "v": vid}), Some(&bob)).await, "NOT_FOUND");
    app.ok(remove, json!({"c": cid, "v": vid}), Some(&ann)).await;
    let gone =
        app.ok("query($id: ID!) { video(id: $id) { status removalReason } }", json!({"id": vid}), Some(&bob)).await;
    assert_eq!(gone["video"]["status"], "REMOVED");
    assert!(gone["video"]["removalReason"].as_str().unwrap().contains("Ann"));

    // B remixes another (published) video of theirs with A's cameo; then A revokes.
    let own = app
        .ok(
            CREATE,
            json!({"i": {"prompt": "a red kite over a field", "durationSeconds": 1, "aspectRatio": "LANDSCAPE"}}),
            Some(&bob),
        )
        .await;
    let own_id = own["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_job(&app, &bob, &own_id, ended).await;
    app.ok(PUBLISH, json!({"id": own_id}), Some(&bob)).await;
    let remix = app.ok(CREATE, with_ann("ann flying it", Some(&own_id)), Some(&bob)).await;
    let remix_id = remix["createVideo"]["id"].as_str().unwrap().to_owned();
    let r = wait_job(&app, &bob, &remix_id, ended).await;
    assert_eq!(r["status"], "SUCCEEDED", "{r}");
    app.ok(PUBLISH, json!({"id": remix_id}), Some(&bob)).await;
    // A remix of that remix carries A's cameo along (Bob is still approved).
    let second = app.ok(CREATE, json!({"i": {"prompt": "at sunset", "remixOf": remix_id}}), Some(&bob)).await;
    let second_id = second["createVideo"]["id"].as_str().unwrap().to_owned();
    let s = wait_job(&app, &bob, &second_id, ended).await;
    assert_eq!(s["video"]["cameos"][0]["name"], "Ann", "{s}");

    let revoked =
        app.ok("mutation($id: ID!) { revokeCameo(id: $id) { status } }", json!({"id": cid}), Some(&ann)).await;
    assert_eq!(revoked["revokeCameo"]["status"], "REVOKED");
    let status = |id: String| {
        let app = &app;
        let bob = bob.clone();
        async move {
            app.ok("query($id: ID!) { video(id: $id) { status } }", json!({"id": id}), Some(&bob)).await["video"]["status"].clone()
        }
    };
    assert_eq!(status(remix_id.clone()).await, "REMOVED");
    assert_eq!(status(second_id.clone()).await, Value::Null, "the draft remix was deleted");
    assert_eq!(status(own_id.clone()).await, "PUBLISHED", "a video without Ann stays");
    // Remixing the source again cannot bring her back.
    assert_eq!(app.code(CREATE, json!({"i": {"prompt": "again", "remixOf": remix_id}}), Some(&bob)).await, "NOT_FOUND");
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// The moments after submit: consent withdrawn while the job runs (no video), the owner's
/// per-video approval before publishing, a remix that would carry a cameo its remixer may not
/// use, and revocation racing a publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_at_finish_owner_approval_remix_and_race() {
    let manifest = crate::generation::slow_manifest(160);
    let app = app(Engine::Sqlite)
        .tweak(move |c| {
            c.queue.in_process_workers = Some(1);
            c.inference.model_manifest = manifest;
        })
        .start()
        .await;
    let admin = app.create_admin("chief").await;
    let (ann, _) = member(&app, "ann").await;
    let (bob, bob_id) = member(&app, "bob").await;
    let (cat, _) = member(&app, "cat").await;
    let (moder, mod_id) = member(&app, "mod1").await;
    app.ok("mutation($u: ID!) { setRole(userId: $u, role: MODERATOR) { role } }", json!({"u": mod_id}), Some(&admin))
        .await;
    let cameo = new_cameo(&app, &ann, "Ann", "APPROVED").await;
    let cid = cameo["id"].as_str().unwrap().to_owned();
    app.ok(REVIEW, json!({"id": cid, "a": true}), Some(&moder)).await;
    app.ok(APPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    let with_ann = |prompt: &str| json!({"i": {"prompt": prompt, "durationSeconds": 1, "aspectRatio": "LANDSCAPE", "cameoIds": [cid]}});

    // Withdrawn while the job runs: the job ends REJECTED (CONSENT_REQUIRED), no video, no media.
    let job = app.ok(CREATE, with_ann("ann juggling oranges"), Some(&bob)).await["createVideo"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_job(&app, &bob, &job, |j| j["status"] == "RUNNING").await;
    app.ok(UNAPPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    let j = wait_job(&app, &bob, &job, ended).await;
    assert_eq!(j["status"], "REJECTED", "{j}");
    assert_eq!(j["error"]["code"], "CONSENT_REQUIRED");
    assert!(j["video"].is_null());
    assert!(
        !app.data_dir.join("media").join("videos").join(format!("{job}.mp4")).exists(),
        "the stored file was deleted"
    );

    // The owner asks to approve each use: the gate waits for it.
    app.ok(APPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    app.ok(UPDATE, json!({"id": cid, "a": true}), Some(&ann)).await;
    let job = app.ok(CREATE, with_ann("ann reading a book"), Some(&bob)).await["createVideo"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let j = wait_job(&app, &bob, &job, ended).await;
    let vid = j["video"]["id"].as_str().unwrap().to_owned();
    let r = app.gql(PUBLISH, json!({"id": vid}), Some(&bob)).await;
    assert_eq!(code_of(&r), "CONSENT_REQUIRED");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("not approved this video"), "{r}");
    let approve = "mutation($c: ID!, $v: ID!) { approveCameoAppearance(cameoId: $c, videoId: $v) }";
    assert_eq!(app.code(approve, json!({"c": cid, "v": vid}), Some(&bob)).await, "NOT_FOUND");
    app.ok(approve, json!({"c": cid, "v": vid}), Some(&ann)).await;
    app.ok(PUBLISH, json!({"id": vid}), Some(&bob)).await;

    // A restriction added after the job was accepted still applies at publish.
    let job = app.ok(CREATE, with_ann("ann at a political rally"), Some(&bob)).await["createVideo"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let j = wait_job(&app, &bob, &job, ended).await;
    let rally = j["video"]["id"].as_str().unwrap().to_owned();
    app.ok(approve, json!({"c": cid, "v": rally}), Some(&ann)).await;
    app.ok(UPDATE, json!({"id": cid, "r": "no politics"}), Some(&ann)).await;
    let r = app.gql(PUBLISH, json!({"id": rally}), Some(&bob)).await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    assert!(r["errors"][0]["extensions"]["reasons"][0].as_str().unwrap().contains("\"Ann\""), "{r}");
    app.ok(UPDATE, json!({"id": cid, "r": ""}), Some(&ann)).await;

    // Cat may not use Ann: remixing Bob's video with her in it is refused, naming her.
    let r = app.gql(CREATE, json!({"i": {"prompt": "in the rain", "remixOf": vid}}), Some(&cat)).await;
    assert_eq!(code_of(&r), "CONSENT_REQUIRED", "{r}");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("\"Ann\""), "{r}");

    // Revocation racing a publish: whichever wins, the video does not stay published.
    app.ok(UPDATE, json!({"id": cid, "a": false}), Some(&ann)).await;
    let job = app.ok(CREATE, with_ann("ann on a bicycle"), Some(&bob)).await["createVideo"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let j = wait_job(&app, &bob, &job, ended).await;
    let racing = j["video"]["id"].as_str().unwrap().to_owned();
    let publish = app.gql(PUBLISH, json!({"id": racing}), Some(&bob));
    let revoke = app.gql("mutation($id: ID!) { revokeCameo(id: $id) { status } }", json!({"id": cid}), Some(&ann));
    let (_, revoked) = tokio::join!(publish, revoke);
    assert!(revoked.get("errors").is_none(), "{revoked}");
    let after = app.ok("query($id: ID!) { video(id: $id) { status } }", json!({"id": racing}), Some(&bob)).await;
    assert_ne!(after["video"]["status"], "PUBLISHED", "{after}");
    let earlier = app.ok("query($id: ID!) { video(id: $id) { status } }", json!({"id": vid}), Some(&bob)).await;
    assert_eq!(earlier["video"]["status"], "REMOVED");
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// Every permission × relation (owner, approved, mutual, follower only, blocked, stranger)
/// through all three moments: submit, finish and publish; then consent changes landing between
/// finish and publish (mutuals ended by an unfollow, a block, a permission narrowed, a revocation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_matrix_through_finish_and_publish() {
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.limits.max_queued_jobs_per_user = 20;
        })
        .start()
        .await;
    let admin = app.create_admin("chief").await;
    let (ann, ann_id) = member(&app, "ann").await;
    let (bob, bob_id) = member(&app, "bob").await;
    let (cat, _) = member(&app, "cat").await;
    let (moder, mod_id) = member(&app, "mod1").await;
    app.ok("mutation($u: ID!) { setRole(userId: $u, role: MODERATOR) { role } }", json!({"u": mod_id}), Some(&admin))
        .await;
    let cameo = new_cameo(&app, &ann, "Ann", "ONLY_ME").await;
    let cid = cameo["id"].as_str().unwrap().to_owned();
    app.ok(REVIEW, json!({"id": cid, "a": true}), Some(&moder)).await;
    app.ok(APPROVE_USER, json!({"c": cid, "u": bob_id}), Some(&ann)).await;
    let with_ann = json!({"i": {"prompt": "a person waving", "durationSeconds": 1, "aspectRatio": "LANDSCAPE", "cameoIds": [cid]}});
    let (dan, dan_id) = member(&app, "dan").await;
    let (eve, _) = member(&app, "eve").await;
    let (fay, fay_id) = member(&app, "fay").await;
    for (token, target) in [(&dan, &ann_id), (&ann, &dan_id), (&eve, &ann_id)] {
        app.ok(FOLLOW, json!({"u": target}), Some(token)).await;
    }
    app.ok(APPROVE_USER, json!({"c": cid, "u": fay_id}), Some(&ann)).await;
    app.ok("mutation($u: ID!) { block(userId: $u) }", json!({"u": ann_id}), Some(&fay)).await;
    let relations = [
        ("owner", ann.clone()),
        ("approved", bob.clone()),
        ("mutual", dan.clone()),
        ("follower", eve.clone()),
        ("blocked", fay.clone()),
        ("stranger", cat.clone()),
    ];
    let mut published = 0;
    for permission in ["ONLY_ME", "APPROVED", "MUTUALS", "EVERYONE"] {
        app.ok(UPDATE, json!({"id": cid, "p": permission}), Some(&ann)).await;
        for (relation, token) in &relations {
            let allowed = allowed(permission, relation);
            let r = app.gql(CREATE, with_ann.clone(), Some(token)).await;
            if !allowed {
                assert_eq!(code_of(&r), "CONSENT_REQUIRED", "submit {permission} × {relation}: {r}");
                continue;
            }
            let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
            let j = wait_job(&app, token, &id, ended).await;
            assert_eq!(j["status"], "SUCCEEDED", "finish {permission} × {relation}: {j}");
            let p = app.gql(PUBLISH, json!({"id": id}), Some(token)).await;
            assert_eq!(p["data"]["publishVideo"]["status"], "PUBLISHED", "publish {permission} × {relation}: {p}");
            published += 1;
        }
    }
    assert_eq!(
        published,
        4 + 2 + 2 + 1 + 1,
        "owner ×4, approved ×2, mutual ×2 (MUTUALS, EVERYONE), follower and stranger under EVERYONE"
    );

    // Between finish and publish under MUTUALS: the owner unfollows, so they are no longer mutuals.
    app.ok(UPDATE, json!({"id": cid, "p": "MUTUALS"}), Some(&ann)).await;
    let id = app.ok(CREATE, with_ann.clone(), Some(&dan)).await["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_job(&app, &dan, &id, ended).await;
    app.ok("mutation($u: ID!) { unfollow(userId: $u) { id } }", json!({"u": dan_id}), Some(&ann)).await;
    assert_eq!(app.code(PUBLISH, json!({"id": id}), Some(&dan)).await, "CONSENT_REQUIRED");
    // Between finish and publish under EVERYONE: a block refuses the follower's draft.
    app.ok(UPDATE, json!({"id": cid, "p": "EVERYONE"}), Some(&ann)).await;
    let id = app.ok(CREATE, with_ann.clone(), Some(&eve)).await["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_job(&app, &eve, &id, ended).await;
    let eve_id = app.running.store.user_by_username("eve").await.unwrap().unwrap().id.to_string();
    app.ok("mutation($u: ID!) { block(userId: $u) }", json!({"u": eve_id}), Some(&ann)).await;
    assert_eq!(app.code(PUBLISH, json!({"id": id}), Some(&eve)).await, "CONSENT_REQUIRED");

    // Between finish and publish: EVERYONE narrowed to APPROVED refuses the stranger's draft.
    app.ok(UPDATE, json!({"id": cid, "p": "EVERYONE"}), Some(&ann)).await;
    let id = app.ok(CREATE, with_ann.clone(), Some(&cat)).await["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_job(&app, &cat, &id, ended).await;
    app.ok(UPDATE, json!({"id": cid, "p": "APPROVED"}), Some(&ann)).await;
    assert_eq!(app.code(PUBLISH, json!({"id": id}), Some(&cat)).await, "CONSENT_REQUIRED");
    // Between finish and publish: revocation deletes the approved member's draft.
    let id = app.ok(CREATE, with_ann.clone(), Some(&bob)).await["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_job(&app, &bob, &id, ended).await;
    app.ok("mutation($id: ID!) { revokeCameo(id: $id) { status } }", json!({"id": cid}), Some(&ann)).await;
    assert_eq!(app.code(PUBLISH, json!({"id": id}), Some(&bob)).await, "NOT_FOUND");
    // … and every published video with her is down, for everyone.
    let listed = app
        .ok(
            "query($u: String!) { user(username: $u) { videos(first: 20) { edges { node { id } } } } }",
            json!({"u": "bob"}),
            None,
        )
        .await;
    assert_eq!(listed["user"]["videos"]["edges"].as_array().unwrap().len(), 0);
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}
