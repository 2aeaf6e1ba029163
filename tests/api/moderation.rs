//! Moderation end to end: the worker's frame check, watermarks and C2PA signature on every
//! draft; the publish gate refusing a stripped manifest, a tampered byte and a missing
//! watermark; `verifyProvenance` on our re-encoded clip and on a stranger's; comments under the
//! policy; reports → one case → decision → appeal → a different moderator → the audit log.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

const CREATE: &str = "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id status error { code message } video { id status url provenance { watermarkId manifestValid manifestIssuer moderationVerdict } } } }";
const PUBLISH: &str = "mutation($id: ID!, $c: String) { publishVideo(id: $id, caption: $c) { id status caption publishedAt provenance { manifestValid } } }";
const VERIFY: &str = "query($clip: Upload!) { verifyProvenance(clip: $clip) { fromUs videoId watermarkFound watermarkConfidence manifestValid manifestIssuer } }";
const REPORT: &str = "mutation($v: ID, $c: ID, $u: ID, $r: ReportReason!, $d: String) { report(videoId: $v, commentId: $c, userId: $u, reason: $r, details: $d) }";
const QUEUE: &str = "query($s: CaseStatus) { moderationQueue(status: $s, first: 20) { edges { node { id status source reasons scores reportCount escalated frameStripUrl subjectVideo { id prompt status } subjectUser { username } subjectComment { id body } reports { reporter { username } reason details } authorHistory { videos published removed cases } resolution note appealMessage } } } }";
const RESOLVE: &str = "mutation($id: ID!, $a: ModerationAction!, $n: String) { resolveCase(id: $id, action: $a, note: $n) { id status resolution note resolvedAt appealMessage } }";
const APPEAL: &str = "mutation($id: ID!, $m: String!) { appeal(caseId: $id, message: $m) { id status appealMessage } }";

async fn member(app: &TestApp, name: &str) -> (String, String) {
    let code = app.mint(1, 1).await.remove(0);
    let (token, _, id) = app.sign_up(&code, name).await;
    (token, id)
}

async fn moderator(app: &TestApp, admin: &str, name: &str) -> String {
    let (token, id) = member(app, name).await;
    app.ok("mutation($u: ID!) { setRole(userId: $u, role: MODERATOR) { role } }", json!({"u": id}), Some(admin)).await;
    // Roles are read per request: the same token now acts as a moderator.
    token
}

/// Generates a video and waits for the job to end; returns the job.
async fn generate(app: &TestApp, token: &str, prompt: &str) -> Value {
    generate_for(app, token, prompt, 4).await
}

async fn generate_for(app: &TestApp, token: &str, prompt: &str, seconds: i32) -> Value {
    let r = app
        .ok(
            CREATE,
            json!({"i": {"prompt": prompt, "durationSeconds": seconds, "aspectRatio": "LANDSCAPE"}}),
            Some(token),
        )
        .await;
    let id = r["createVideo"]["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let j = app.ok(JOB, json!({"id": id}), Some(token)).await["job"].clone();
        if ["SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"].contains(&j["status"].as_str().unwrap()) {
            return j;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "timed out: {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stored_path(app: &TestApp, video_id: &str) -> std::path::PathBuf {
    app.data_dir.join("media").join("videos").join(format!("{video_id}.mp4"))
}

/// Sends `query` with `bytes` as the `clip` variable (GraphQL multipart request spec).
async fn upload(app: &TestApp, query: &str, bytes: Vec<u8>) -> reqwest::Response {
    let operations = json!({"query": query, "variables": {"clip": null}}).to_string();
    let form = reqwest::multipart::Form::new()
        .text("operations", operations)
        .text("map", json!({"0": ["variables.clip"]}).to_string())
        .part("0", reqwest::multipart::Part::bytes(bytes).file_name("clip.mp4").mime_str("video/mp4").unwrap());
    app.http.post(format!("{}/graphql", app.base)).multipart(form).send().await.unwrap()
}

async fn verify(app: &TestApp, bytes: Vec<u8>) -> Value {
    let r = upload(app, VERIFY, bytes).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A clip that was never near this service.
fn foreign_clip() -> Vec<u8> {
    let (w, h) = (320usize, 192usize);
    let frames: Vec<Vec<u8>> = (0..12)
        .map(|t| (0..w * h * 3).map(|i| ((i / 3 % w + t * 7 + (i / 3 / w) * 2) % 251) as u8).collect())
        .collect();
    let opts = media::EncodeOptions { fps: 12, bitrate_kbps: 2000, keyframe_interval: 12 };
    media::encode_mp4(w, h, &frames, &opts).unwrap().mp4
}

fn ffmpeg(input: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("sv-ff-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, dst) = (dir.join("in.mp4"), dir.join("out.mp4"));
    std::fs::write(&src, input).unwrap();
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-i"]).arg(&src).args(args).arg(&dst);
    let st = cmd.status().expect("ffmpeg is installed by scripts/setup.sh");
    assert!(st.success());
    let out = std::fs::read(&dst).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// Every draft is checked, watermarked and signed by the worker; the gate re-checks all of it
/// on the stored file at publish time; `verifyProvenance` recognises our clips after re-encoding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_gate_and_provenance_embedded() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let (ann, _) = member(&app, "ann").await;
    let job = generate(&app, &ann, "a lighthouse on a cliff at dusk").await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    let video = &job["video"];
    let id = video["id"].as_str().unwrap().to_owned();
    assert_eq!(id, job["id"], "a job's video takes the job's id");
    assert_eq!(video["status"], "DRAFT");
    let p = &video["provenance"];
    assert_eq!(p["moderationVerdict"], "PASS");
    assert_eq!(p["manifestValid"], true);
    assert_eq!(p["manifestIssuer"], "SoraVibe");
    let expected = moderation::watermark::payload_for_video(uuid::Uuid::parse_str(&id).unwrap().as_bytes());
    assert_eq!(p["watermarkId"], format!("{expected:016x}"));

    // The stored file carries the mark and a manifest naming this video.
    let path = stored_path(&app, &id);
    let original = std::fs::read(&path).unwrap();
    let roots = moderation::provenance::local_ca_root_pem(&app.data_dir.join("c2pa")).unwrap();
    // The independent reader (c2pa-python, installed by setup.sh) trusts it under our root.
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let root_path = app.data_dir.join("c2pa").join("c2pa-root.pem");
    let reader = "import json, sys, c2pa\n\
        s = c2pa.Settings.from_json(json.dumps({'version': 1, 'trust': {'trust_anchors': open(sys.argv[2]).read()}}))\n\
        r = c2pa.Reader(sys.argv[1], context=c2pa.Context(s))\n\
        print(json.dumps({'state': r.get_validation_state(), 'store': json.loads(r.json())}))\n";
    let out =
        Command::new(&python).args(["-c", reader]).arg(&path).arg(&root_path).output().expect("run scripts/setup.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "Trusted", "{report}");
    let label = report["store"]["active_manifest"].as_str().unwrap();
    let assertions = report["store"]["manifests"][label]["assertions"].as_array().unwrap().clone();
    assert!(assertions.iter().any(|a| a["data"]["video_id"] == id.as_str()), "{assertions:?}");

    let key = moderation::watermark::load_or_create_key(&app.data_dir.join("keys").join("watermark.key")).unwrap();
    let decoded = media::decode_mp4(&original).unwrap();
    let found = moderation::watermark::detect(&decoded, 448, 256, &key).unwrap();
    assert_eq!(found.payload, Some(expected), "blind decoding reads the mark of a 4 s clip");
    let m = moderation::provenance::verify_mp4_trusting(&original, &roots).unwrap();
    assert!(m.valid && m.trusted, "{:?}", m.validation_errors);
    assert_eq!(m.video_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        m.digital_source_type.as_deref(),
        Some("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
    );

    let refused = |r: &Value, check: &str| {
        assert_eq!(code_of(r), "PUBLISH_REFUSED", "{r}");
        assert_eq!(r["errors"][0]["extensions"]["check"], check, "{r}");
        assert!(!r["errors"][0]["extensions"]["reasons"][0].as_str().unwrap().is_empty());
    };
    // 1. Manifest stripped: the same frames (watermark intact) re-muxed without C2PA.
    let frames = media::decode_mp4(&original).unwrap();
    let info = media::probe_mp4(&original).unwrap();
    let opts = media::EncodeOptions { fps: 12, bitrate_kbps: 4000, keyframe_interval: 24 };
    let stripped = media::encode_mp4(info.width, info.height, &frames, &opts).unwrap().mp4;
    std::fs::write(&path, &stripped).unwrap();
    refused(&app.gql(PUBLISH, json!({"id": id}), Some(&ann)).await, "MANIFEST");
    // 2. One byte of the signed file changed (inside the media data).
    let mut tampered = original.clone();
    let at = tampered.len() - 200;
    tampered[at] ^= 0x5a;
    std::fs::write(&path, &tampered).unwrap();
    refused(&app.gql(PUBLISH, json!({"id": id}), Some(&ann)).await, "MANIFEST");
    // 3. A validly signed manifest for this video on frames without our watermark.
    let signer = moderation::provenance::load_or_create_local_ca(&app.data_dir.join("c2pa")).unwrap();
    let info_for = moderation::provenance::ProvenanceInfo {
        title: "forged".into(),
        video_id: id.clone(),
        model_name: "tiny".into(),
        model_version: "0".into(),
        generator_version: "0".into(),
        remix_source: None,
        parts: vec![],
        cameos: vec![],
    };
    let unmarked = moderation::provenance::sign_mp4(&foreign_clip(), &info_for, &signer).unwrap();
    std::fs::write(&path, &unmarked).unwrap();
    refused(&app.gql(PUBLISH, json!({"id": id}), Some(&ann)).await, "WATERMARK");
    // Nothing was half-published.
    let still = app.ok(JOB, json!({"id": id}), Some(&ann)).await;
    assert_eq!(still["job"]["video"]["status"], "DRAFT");
    assert_eq!(still["job"]["video"]["provenance"]["manifestValid"], false, "the failed check is recorded");

    // Someone else cannot publish it; a caption under the policy; the real file publishes.
    let (bob, _) = member(&app, "bob").await;
    assert_eq!(app.code(PUBLISH, json!({"id": id}), Some(&bob)).await, "NOT_FOUND");
    std::fs::write(&path, &original).unwrap();
    let r = app.gql(PUBLISH, json!({"id": id, "c": "k1ll all of them"}), Some(&ann)).await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    let published = app.ok(PUBLISH, json!({"id": id, "c": "dusk at the point"}), Some(&ann)).await;
    assert_eq!(published["publishVideo"]["status"], "PUBLISHED");
    assert_eq!(published["publishVideo"]["caption"], "dusk at the point");
    assert_eq!(published["publishVideo"]["provenance"]["manifestValid"], true);
    assert_eq!(app.code(PUBLISH, json!({"id": id}), Some(&ann)).await, "CONFLICT");
    // Now public.
    let seen = app.ok("query($id: ID!) { video(id: $id) { id status } }", json!({"id": id}), None).await;
    assert_eq!(seen["video"]["status"], "PUBLISHED");
    // A 1-second clip (12 frames, too few for blind decoding) passes the gate's matched test.
    let short = generate_for(&app, &ann, "a candle flickering", 1).await;
    let short_id = short["video"]["id"].as_str().unwrap().to_owned();
    let short_bytes = std::fs::read(stored_path(&app, &short_id)).unwrap();
    let blind = moderation::watermark::detect(&media::decode_mp4(&short_bytes).unwrap(), 448, 256, &key).unwrap();
    let short_payload = moderation::watermark::payload_for_video(uuid::Uuid::parse_str(&short_id).unwrap().as_bytes());
    assert!(moderation::watermark::match_score(&blind, short_payload) >= moderation::watermark::MATCH_THRESHOLD);
    assert!(moderation::watermark::match_score(&blind, expected) < 0.2, "another video's payload does not match");
    app.ok(PUBLISH, json!({"id": short_id}), Some(&ann)).await;

    // verifyProvenance, signed out: the original file.
    let r = verify(&app, original.clone()).await;
    let v = &r["data"]["verifyProvenance"];
    assert_eq!(
        (v["fromUs"].as_bool(), v["watermarkFound"].as_bool(), v["manifestValid"].as_bool()),
        (Some(true), Some(true), Some(true)),
        "{r}"
    );
    assert_eq!(v["videoId"], id);
    assert_eq!(v["manifestIssuer"], "SoraVibe");
    // The original has a sound track (the default), and its manifest covers it.
    assert!(media::read_opus(&original).unwrap().is_some(), "a generated video has sound");
    // Re-encoded by someone else with libx264 at CRF 28, the sound as AAC (as phones share it):
    // the manifest is gone, the mark is not.
    let with_aac = ffmpeg(&original, &["-c:v", "libx264", "-crf", "28", "-c:a", "aac", "-b:a", "96k"]);
    let r = verify(&app, with_aac).await;
    let v = &r["data"]["verifyProvenance"];
    assert_eq!(
        (v["fromUs"].as_bool(), v["watermarkFound"].as_bool(), v["manifestValid"].as_bool()),
        (Some(true), Some(true), Some(false)),
        "{r}"
    );
    assert_eq!(v["videoId"], id);
    // … and without sound.
    let reencoded = ffmpeg(&original, &["-c:v", "libx264", "-crf", "28", "-an"]);
    let r = verify(&app, reencoded).await;
    let v = &r["data"]["verifyProvenance"];
    assert_eq!(
        (v["fromUs"].as_bool(), v["watermarkFound"].as_bool(), v["manifestValid"].as_bool()),
        (Some(true), Some(true), Some(false)),
        "{r}"
    );
    assert_eq!(v["videoId"], id);
    // … and downscaled to half size.
    let smaller = ffmpeg(&original, &["-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-crf", "28", "-an"]);
    let r = verify(&app, smaller).await;
    assert_eq!(r["data"]["verifyProvenance"]["videoId"], id, "{r}");
    // A clip not made here.
    let r = verify(&app, foreign_clip()).await;
    let v = &r["data"]["verifyProvenance"];
    assert_eq!(
        (v["fromUs"].as_bool(), v["watermarkFound"].as_bool(), v["videoId"].is_null()),
        (Some(false), Some(false), true),
        "{r}"
    );
    // Not a video at all; an oversized body.
    let r = verify(&app, b"this is not an mp4 file".to_vec()).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
    let too_big = upload(&app, VERIFY, vec![0u8; app.config.server.max_upload_bytes + 100_000]).await;
    assert_eq!(too_big.status(), 413);
    // Rate-limited per address (10 per minute by default; 7 used above, one refused by size).
    // The window is a fixed minute: on a slow machine it may roll over during this test, so up
    // to a whole window's worth more is sent, stopping at the first refusal.
    let mut last = Value::Null;
    for _ in 0..11 {
        last = verify(&app, foreign_clip()).await;
        if code_of_opt(&last) == Some("RATE_LIMITED") {
            break;
        }
    }
    assert_eq!(code_of(&last), "RATE_LIMITED", "{last}");

    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// The frame check's three verdicts: review holds a video for a moderator (a case with scores
/// and a frame strip; the gate refuses until approved), block ends the job `REJECTED`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_check_review_and_block() {
    // Thresholds at zero: every clip reaches review (the tiny model's frames score above 0).
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.moderation.frame_review_threshold = 0.0;
            c.moderation.frame_block_threshold = 1.0;
        })
        .start()
        .await;
    let admin = app.create_admin("chief").await;
    let (ann, _) = member(&app, "ann").await;
    let job = generate(&app, &ann, "waves breaking on black sand").await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    let id = job["video"]["id"].as_str().unwrap().to_owned();
    assert_eq!(job["video"]["status"], "IN_REVIEW");
    assert_eq!(job["video"]["provenance"]["moderationVerdict"], "REVIEW");
    let r = app.gql(PUBLISH, json!({"id": id}), Some(&ann)).await;
    assert_eq!(code_of(&r), "PUBLISH_REFUSED");
    assert_eq!(r["errors"][0]["extensions"]["check"], "VERDICT");

    let moder = moderator(&app, &admin, "mod1").await;
    let q = app.ok(QUEUE, json!({"s": "OPEN"}), Some(&moder)).await;
    let cases = q["moderationQueue"]["edges"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{q}");
    let case = &cases[0]["node"];
    assert_eq!(case["source"], "frame_check");
    assert_eq!(case["subjectVideo"]["id"], id);
    assert_eq!(case["subjectVideo"]["prompt"], "waves breaking on black sand");
    assert_eq!(case["subjectUser"]["username"], "ann");
    assert!(case["scores"].as_array().unwrap().len() >= 8, "{case}");
    assert!(case["reasons"][0].as_str().unwrap().starts_with("frame check: frame"), "{case}");
    assert_eq!(case["authorHistory"]["videos"], 1);
    let strip = app.http.get(case["frameStripUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(strip.headers()["content-type"], "image/jpeg");
    assert_eq!(&strip.bytes().await.unwrap()[..2], &[0xff, 0xd8]);

    let r = app.ok(RESOLVE, json!({"id": case["id"], "a": "APPROVE", "n": "abstract waves, fine"}), Some(&moder)).await;
    assert_eq!(r["resolveCase"]["status"], "RESOLVED");
    let j = app.ok(JOB, json!({"id": id}), Some(&ann)).await;
    assert_eq!(j["job"]["video"]["status"], "DRAFT");
    assert_eq!(j["job"]["video"]["provenance"]["moderationVerdict"], "APPROVED");
    app.ok(PUBLISH, json!({"id": id}), Some(&ann)).await;
    let _ = app.running.stop_workers.send(true);
    app.stop().await;

    // Block at zero: the job ends REJECTED with the reason, and no video exists.
    let app = crate::harness::app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.moderation.frame_review_threshold = 0.0;
            c.moderation.frame_block_threshold = 0.0;
        })
        .start()
        .await;
    let (ann, _) = member(&app, "ann").await;
    let job = generate(&app, &ann, "waves breaking on black sand").await;
    assert_eq!(job["status"], "REJECTED", "{job}");
    assert_eq!(job["error"]["code"], "CONTENT_BLOCKED");
    assert!(job["error"]["message"].as_str().unwrap().contains("block at"), "{job}");
    assert!(job["video"].is_null());
    let drafts = app.ok("{ myDrafts { edges { node { id } } } }", json!({}), Some(&ann)).await;
    assert_eq!(drafts["myDrafts"]["edges"].as_array().unwrap().len(), 0);
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// Reports gather into one case; a USER cannot moderate; a removal is notified with its
/// reason; the author appeals; the deciding moderator may not decide the appeal; another does;
/// every step is in the audit log. Also comments: the policy applies, and a comment can be
/// reported and removed. Runs on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_appeal_and_audit_story_postgres() {
    let app = app(Engine::Postgres).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let admin = app.create_admin("chief").await;
    let (ann, ann_id) = member(&app, "ann").await;
    let (bob, _) = member(&app, "bob").await;
    let (cat, _) = member(&app, "cat").await;
    let job = generate(&app, &ann, "a paper boat in a rain puddle").await;
    let vid = job["video"]["id"].as_str().unwrap().to_owned();
    app.ok(PUBLISH, json!({"id": vid}), Some(&ann)).await;

    // Comments: refused by the policy with reasons, accepted otherwise, counted.
    let comment =
        "mutation($v: ID!, $b: String!) { commentOnVideo(videoId: $v, body: $b) { id body author { username } } }";
    let r = app.gql(comment, json!({"v": vid, "b": "go kill yourself"}), Some(&bob)).await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    assert!(!r["errors"][0]["extensions"]["reasons"].as_array().unwrap().is_empty());
    let c = app.ok(comment, json!({"v": vid, "b": "lovely little boat"}), Some(&bob)).await;
    let comment_id = c["commentOnVideo"]["id"].as_str().unwrap().to_owned();
    let v = app.ok("query($id: ID!) { video(id: $id) { commentCount comments(first: 5) { edges { node { body author { username } } } } } }", json!({"id": vid}), None).await;
    assert_eq!(v["video"]["commentCount"], 1);
    assert_eq!(v["video"]["comments"]["edges"][0]["node"]["body"], "lovely little boat");

    // Reports: exactly one subject; not one's own; repeated reports count once; one open case.
    assert_eq!(app.code(REPORT, json!({"v": vid, "u": ann_id, "r": "SPAM"}), Some(&bob)).await, "BAD_USER_INPUT");
    assert_eq!(app.code(REPORT, json!({"v": vid, "r": "SPAM"}), Some(&ann)).await, "BAD_USER_INPUT");
    assert_eq!(app.code(REPORT, json!({"v": vid, "r": "SPAM"}), None).await, "UNAUTHENTICATED");
    app.ok(REPORT, json!({"v": vid, "r": "VIOLENCE", "d": "the boat sinks violently"}), Some(&bob)).await;
    app.ok(REPORT, json!({"v": vid, "r": "VIOLENCE"}), Some(&bob)).await;
    app.ok(REPORT, json!({"v": vid, "r": "SPAM"}), Some(&cat)).await;
    app.ok(REPORT, json!({"c": comment_id, "r": "HARASSMENT"}), Some(&cat)).await;

    // A USER is refused every moderator operation.
    assert_eq!(app.code(QUEUE, json!({}), Some(&bob)).await, "FORBIDDEN");
    assert_eq!(app.code(QUEUE, json!({}), None).await, "UNAUTHENTICATED");

    let m1 = moderator(&app, &admin, "mod1").await;
    let m2 = moderator(&app, &admin, "mod2").await;
    let q = app.ok(QUEUE, json!({}), Some(&m1)).await;
    let edges = q["moderationQueue"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "one case per subject: {q}");
    let video_case = edges.iter().map(|e| &e["node"]).find(|n| n["subjectVideo"]["id"] == vid).unwrap().clone();
    let comment_case = edges.iter().map(|e| &e["node"]).find(|n| !n["subjectComment"].is_null()).unwrap().clone();
    assert_eq!(video_case["reportCount"], 2, "bob's repeat counted once: {video_case}");
    assert_eq!(video_case["source"], "report");
    let reasons: Vec<&str> = video_case["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(reasons, ["reported as VIOLENCE (1)", "reported as SPAM (1)"]);
    assert_eq!(video_case["reports"][0]["reporter"]["username"], "bob");
    assert_eq!(video_case["reports"][0]["details"], "the boat sinks violently");
    assert_eq!(video_case["subjectUser"]["username"], "ann");
    assert_eq!(video_case["authorHistory"]["published"], 1);
    assert_eq!(comment_case["subjectComment"]["body"], "lovely little boat");
    let case_id = video_case["id"].as_str().unwrap().to_owned();
    assert_eq!(app.code(RESOLVE, json!({"id": case_id, "a": "REMOVE"}), Some(&bob)).await, "FORBIDDEN");

    // mod1 removes it with a note; the author is told why; it is gone for everyone else.
    let r = app.ok(RESOLVE, json!({"id": case_id, "a": "REMOVE", "n": "graphic violence"}), Some(&m1)).await;
    assert_eq!(r["resolveCase"]["status"], "RESOLVED");
    assert_eq!(r["resolveCase"]["resolution"], "REMOVE");
    assert_eq!(app.code(RESOLVE, json!({"id": case_id, "a": "APPROVE"}), Some(&m2)).await, "CONFLICT");
    let gone = app.ok("query($id: ID!) { video(id: $id) { id } }", json!({"id": vid}), Some(&bob)).await;
    assert!(gone["video"].is_null());
    let notes = app.ok("{ notifications(first: 10) { unreadCount edges { node { kind message video { id status removalReason } } } } }", json!({}), Some(&ann)).await;
    let removed = notes["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["kind"] == "video.removed")
        .unwrap()
        .clone();
    assert!(removed["message"].as_str().unwrap().contains("graphic violence"), "{removed}");
    assert_eq!(removed["video"]["status"], "REMOVED");
    assert_eq!(removed["video"]["removalReason"], "graphic violence");
    assert!(notes["notifications"]["unreadCount"].as_i64().unwrap() >= 1);
    // Removed means unpublishable.
    assert_eq!(app.code(PUBLISH, json!({"id": vid}), Some(&ann)).await, "PUBLISH_REFUSED");

    // The author finds the case from the video, and appeals (someone else cannot); mod1 may not
    // decide it; mod2 reverses it.
    let mine = app
        .ok(
            "query($id: ID!) { video(id: $id) { moderationCase { id status resolution note } } }",
            json!({"id": vid}),
            Some(&ann),
        )
        .await;
    assert_eq!(mine["video"]["moderationCase"]["id"], case_id.as_str());
    assert_eq!(mine["video"]["moderationCase"]["note"], "graphic violence");
    assert_eq!(app.code(APPEAL, json!({"id": case_id, "m": "it is a paper boat"}), Some(&bob)).await, "NOT_FOUND");
    let r = app.ok(APPEAL, json!({"id": case_id, "m": "it is a paper boat in a puddle"}), Some(&ann)).await;
    assert_eq!(r["appeal"]["status"], "APPEALED");
    assert_eq!(app.code(APPEAL, json!({"id": case_id, "m": "again"}), Some(&ann)).await, "CONFLICT");
    let appealed = app.ok(QUEUE, json!({"s": "APPEALED"}), Some(&m2)).await;
    assert_eq!(appealed["moderationQueue"]["edges"][0]["node"]["appealMessage"], "it is a paper boat in a puddle");
    assert_eq!(app.code(RESOLVE, json!({"id": case_id, "a": "APPROVE"}), Some(&m1)).await, "FORBIDDEN");
    let r = app.ok(RESOLVE, json!({"id": case_id, "a": "APPROVE", "n": "harmless on a second look"}), Some(&m2)).await;
    assert_eq!(r["resolveCase"]["status"], "RESOLVED");
    assert_eq!(r["resolveCase"]["resolution"], "APPROVE");
    let back = app.ok("query($id: ID!) { video(id: $id) { status } }", json!({"id": vid}), Some(&bob)).await;
    assert_eq!(back["video"]["status"], "PUBLISHED");
    // An approval is not appealable.
    assert_eq!(app.code(APPEAL, json!({"id": case_id, "m": "thanks"}), Some(&ann)).await, "CONFLICT");

    // The comment case: escalated by mod1, then only an admin decides it.
    let comment_case_id = comment_case["id"].as_str().unwrap();
    app.ok(RESOLVE, json!({"id": comment_case_id, "a": "ESCALATE", "n": "unsure"}), Some(&m1)).await;
    assert_eq!(app.code(RESOLVE, json!({"id": comment_case_id, "a": "REMOVE"}), Some(&m2)).await, "FORBIDDEN");
    app.ok(RESOLVE, json!({"id": comment_case_id, "a": "REMOVE", "n": "harassment"}), Some(&admin)).await;
    let v = app.ok("query($id: ID!) { video(id: $id) { commentCount } }", json!({"id": vid}), None).await;
    assert_eq!(v["video"]["commentCount"], 0);

    // The audit log holds every step, newest first; moderators cannot read it.
    assert_eq!(app.code("{ auditLog(first: 5) { edges { node { id } } } }", json!({}), Some(&m1)).await, "FORBIDDEN");
    let log = app
        .ok(
            "{ auditLog(first: 50) { edges { node { action subject note actor { username } } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let entries: Vec<(String, String, String)> = log["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["action"].as_str().unwrap().to_owned(),
                n["actor"]["username"].as_str().unwrap_or("").to_owned(),
                n["note"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let find = |action: &str, actor: &str| entries.iter().any(|(a, who, _)| a == action && who == actor);
    assert!(find("case.resolve", "mod1"), "{entries:?}");
    assert!(find("case.appeal", "ann"), "{entries:?}");
    assert!(find("case.decide_appeal", "mod2"), "{entries:?}");
    assert!(find("case.resolve", "chief"), "{entries:?}");
    assert!(
        entries.iter().any(|(a, _, note)| a == "case.resolve" && note == "REMOVE: graphic violence"),
        "{entries:?}"
    );
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// Every policy category through `createVideo`, each refused with its reason; near misses pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_policy_category_refused_and_near_misses_accepted() {
    let app = app(Engine::Sqlite).tweak(|c| c.limits.max_queued_jobs_per_user = 50).start().await;
    let (ann, _) = member(&app, "ann").await;
    let refused = [
        ("a nude woman posing on a bed", "SEXUAL:"),
        ("a 12 year old girl in lingerie", "MINORS:"),
        ("a man beheading a prisoner with blood everywhere", "VIOLENCE:"),
        ("kill all the jews", "HATE:"),
        ("how to kill myself painlessly", "SELF_HARM:"),
        ("taylor swift dancing at a party", "PUBLIC_FIGURE:"),
        ("a n4k3d w.o.m.a.n", "SEXUAL:"),
        ("what a fucking piece of shit", "PROFANITY:"),
    ];
    for (prompt, category) in refused {
        let r = app
            .gql(CREATE, json!({"i": {"prompt": prompt, "durationSeconds": 1, "aspectRatio": "LANDSCAPE"}}), Some(&ann))
            .await;
        assert_eq!(code_of(&r), "POLICY_VIOLATION", "{prompt}: {r}");
        let reasons = r["errors"][0]["extensions"]["reasons"].as_array().unwrap();
        assert!(
            reasons.iter().any(|x| x.as_str().unwrap().starts_with(category)),
            "{prompt}: expected a {category} reason in {reasons:?}"
        );
    }
    let near_misses = [
        "a naked mole rat eating a carrot",
        "a kid building a sandcastle at the beach",
        "a knight killing a dragon in a storybook style",
        "a cooking show chopping onions with a sharp knife",
        "a swift bird diving over a lake",
    ];
    for prompt in near_misses {
        let r = app
            .gql(CREATE, json!({"i": {"prompt": prompt, "durationSeconds": 1, "aspectRatio": "LANDSCAPE"}}), Some(&ann))
            .await;
        assert!(r.get("errors").is_none(), "{prompt}: {r}");
    }
    app.stop().await;
}

/// The watermark key rotates (`backend keys rotate-watermark`) and the C2PA signer is renewed
/// (`backend keys renew-c2pa`): a draft marked and signed before still passes the publish gate
/// afterwards, its file's manifest still verifies, and a re-encoded copy of it (no manifest left,
/// only the mark) is still recognised and named by `verifyProvenance`; a video made after carries
/// the new key and the new signature. Once the old watermark key is taken out, the old mark is no
/// longer recognised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watermark_key_rotates_and_the_c2pa_signer_renews_and_older_videos_still_verify() {
    let first = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let (ann, _) = member(&first, "ann").await;
    let old = generate_for(&first, &ann, "a lighthouse in a storm", 2).await;
    assert_eq!(old["status"], "SUCCEEDED", "{old}");
    let old_id = old["video"]["id"].as_str().unwrap().to_owned();
    let old_file = std::fs::read(stored_path(&first, &old_id)).unwrap();
    let old_copy = ffmpeg(&old_file, &["-c:v", "libx264", "-crf", "23", "-an"]);
    let dir = first.data_dir.clone();
    let key_before = std::fs::read_to_string(dir.join("keys").join("watermark.key")).unwrap();
    let _ = first.running.stop_workers.send(true);
    first.running.handle.stop(false).await;
    let out = backend_cli(&dir, &["keys", "rotate-watermark"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 previous key(s) kept"));
    assert_ne!(std::fs::read_to_string(dir.join("keys").join("watermark.key")).unwrap(), key_before);
    // The C2PA signer is renewed at the same time (same root, new key and certificate).
    let signer_files = || {
        let mut certs: Vec<String> = std::fs::read_dir(dir.join("c2pa"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pem" || x == "key"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        certs.sort();
        certs
    };
    let before_renewal = signer_files();
    let out = backend_cli(&dir, &["keys", "renew-c2pa"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-----BEGIN CERTIFICATE-----"));
    assert_ne!(signer_files(), before_renewal);

    let d = dir.clone();
    let second = app(Engine::Sqlite)
        .tweak(move |c| {
            c.storage.data_dir = d;
            c.queue.in_process_workers = Some(1);
        })
        .start()
        .await;
    let r = second.ok(PUBLISH, json!({"id": old_id}), Some(&ann)).await;
    assert_eq!(r["publishVideo"]["status"], "PUBLISHED", "the gate recognises the old key's mark: {r}");
    let r = verify(&second, old_copy.clone()).await;
    let v = &r["data"]["verifyProvenance"];
    assert_eq!(
        (v["fromUs"].as_bool(), v["watermarkFound"].as_bool(), v["manifestValid"].as_bool()),
        (Some(true), Some(true), Some(false)),
        "{r}"
    );
    assert_eq!(v["videoId"], old_id.as_str());
    // The old file as stored: its manifest, signed before the renewal, is still valid and trusted.
    let r = verify(&second, old_file).await;
    let v = &r["data"]["verifyProvenance"];
    assert_eq!((v["manifestValid"].as_bool(), v["watermarkFound"].as_bool()), (Some(true), Some(true)), "{r}");
    // A new video carries the new key: the old key alone does not find it.
    let new = generate_for(&second, &ann, "a paper boat on a pond", 2).await;
    let new_id = new["video"]["id"].as_str().unwrap().to_owned();
    second.ok(PUBLISH, json!({"id": new_id}), Some(&ann)).await;
    // (The data folder is the first app's: `stored_path` of a later app would look in its own.)
    let new_bytes = std::fs::read(dir.join("media").join("videos").join(format!("{new_id}.mp4"))).unwrap();
    let frames = media::decode_mp4(&new_bytes).unwrap();
    let info = media::probe_mp4(&new_bytes).unwrap();
    let old_key = moderation::watermark::parse_key(key_before.trim()).unwrap();
    let new_payload = moderation::watermark::payload_for_video(uuid::Uuid::parse_str(&new_id).unwrap().as_bytes());
    let with_old = moderation::watermark::detect(&frames, info.width, info.height, &old_key).unwrap();
    assert!(moderation::watermark::match_score(&with_old, new_payload) < 0.2, "marked with the new key, not the old");
    let r = verify(&second, new_bytes.clone()).await;
    assert_eq!(r["data"]["verifyProvenance"]["manifestValid"], true, "signed by the renewed signer: {r}");
    let new_copy = ffmpeg(&new_bytes, &["-c:v", "libx264", "-crf", "23", "-an"]);
    let r = verify(&second, new_copy.clone()).await;
    assert_eq!(r["data"]["verifyProvenance"]["videoId"], new_id.as_str(), "{r}");
    let _ = second.running.stop_workers.send(true);
    second.running.handle.stop(false).await;

    // The old key taken out: its marks are strangers now; the new key's still verify.
    std::fs::remove_file(dir.join("keys").join("watermark-previous.keys")).unwrap();
    let d = dir.clone();
    let third = app(Engine::Sqlite).tweak(move |c| c.storage.data_dir = d).start().await;
    let r = verify(&third, old_copy).await;
    let v = &r["data"]["verifyProvenance"];
    assert_eq!((v["fromUs"].as_bool(), v["watermarkFound"].as_bool()), (Some(false), Some(false)), "{r}");
    let r = verify(&third, new_copy).await;
    assert_eq!(r["data"]["verifyProvenance"]["videoId"], new_id.as_str(), "{r}");
    third.stop().await;
}
