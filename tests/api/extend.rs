//! `extendVideo` and `stitchVideos` end to end, through the embedded worker: a continuation holds
//! the original's shots made again and then the new ones, as a remix of it (and a continuation
//! can be continued again); a stitch joins a member's drafts into one video with their files as
//! the manifest's parts and its caption; every wrong request is refused before anything is
//! queued; and a part whose stored file is not what its request makes fails the job, naming the
//! shot, with nothing stored.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

const CREATE: &str = "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }";
const EXTEND: &str = "mutation($v: ID!, $s: [ShotInput!]!) { extendVideo(videoId: $v, shots: $s) { id durationSeconds shots { prompt durationSeconds transition } } }";
const STITCH: &str = "mutation($v: [ID!]!, $c: String) { stitchVideos(videoIds: $v, caption: $c) { id durationSeconds shots { durationSeconds } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishVideo(id: $id) { id status caption } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id status error { code message } video { id status caption durationMs remixOf { id } root { id } provenance { manifestValid } } } }";

async fn made(app: &TestApp, token: &str, job: &Value) -> Value {
    let id = job["id"].as_str().unwrap();
    let j = app.job_when_ended(JOB, token, id, Duration::from_secs(300)).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    j["video"].clone()
}

fn seconds(v: &Value) -> f64 {
    v["durationMs"].as_f64().unwrap() / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_remakes_the_original_and_a_stitch_joins_drafts() {
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.limits.max_queued_jobs_per_user = 6;
        })
        .start()
        .await;
    let ann = app.member("ann").await;
    let clip = |prompt: &str, seconds: i32, seed: i32| json!({"i": {"prompt": prompt, "durationSeconds": seconds, "aspectRatio": "SQUARE", "seed": seed, "audio": "AMBIENCE"}});
    let a = app.ok(CREATE, clip("a blue boat on a calm lake", 2, 11), Some(&ann)).await["createVideo"].clone();
    let a = made(&app, &ann, &a).await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    app.ok(PUBLISH, json!({"id": a_id}), Some(&ann)).await;

    // The continuation: the original's shot made again, then the new one, as a remix.
    let shots = json!([{"prompt": "the boat reaches a stony shore", "durationSeconds": 2, "transition": "CROSSFADE"}]);
    let e = app.ok(EXTEND, json!({"v": a_id, "s": shots}), Some(&ann)).await["extendVideo"].clone();
    assert_eq!(e["durationSeconds"], 4, "{e}");
    assert_eq!(e["shots"].as_array().unwrap().len(), 2, "{e}");
    assert_eq!(e["shots"][1]["transition"], "CROSSFADE", "{e}");
    let e = made(&app, &ann, &e).await;
    assert!((seconds(&e) - 4.0).abs() < 0.1, "{e}");
    assert_eq!(e["remixOf"]["id"], a_id, "{e}");
    assert_eq!(e["provenance"]["manifestValid"], true, "{e}");
    let e_id = e["id"].as_str().unwrap().to_owned();
    let found = moderation::provenance::verify_mp4(&app.stored_video(&e_id)).unwrap();
    assert_eq!(found.remix_source.as_deref(), Some(a_id.as_str()), "the original is the remix ingredient");
    assert!(found.parts.is_empty(), "the original is named once: {:?}", found.parts);

    // A continuation can be continued: its own new shot is made again with the likeness its
    // remix source gave it.
    app.ok(PUBLISH, json!({"id": e_id}), Some(&ann)).await;
    let more = json!([{"prompt": "night falls over the shore", "durationSeconds": 1}]);
    let e2 = app.ok(EXTEND, json!({"v": e_id, "s": more}), Some(&ann)).await["extendVideo"].clone();
    assert_eq!(e2["durationSeconds"], 5, "{e2}");
    let e2 = made(&app, &ann, &e2).await;
    assert_eq!(e2["remixOf"]["id"], e_id, "{e2}");
    assert_eq!(e2["root"]["id"], a_id, "{e2}");

    // Two drafts, one a storyboard, stitched into one captioned draft whose manifest names both.
    let b = app.ok(CREATE, clip("a red kite over a green hill", 1, 5), Some(&ann)).await["createVideo"].clone();
    let b_id = made(&app, &ann, &b).await["id"].as_str().unwrap().to_owned();
    let board = json!({"i": {"prompt": "a yellow taxi", "aspectRatio": "SQUARE", "seed": 3, "audio": "SILENT", "shots": [
        {"prompt": "it waits in the rain", "durationSeconds": 1},
        {"prompt": "it drives off at dusk", "durationSeconds": 2, "transition": "CROSSFADE"}
    ]}});
    let c = app.ok(CREATE, board, Some(&ann)).await["createVideo"].clone();
    let c_id = made(&app, &ann, &c).await["id"].as_str().unwrap().to_owned();
    let s = app.ok(STITCH, json!({"v": [c_id, b_id], "c": "two rides"}), Some(&ann)).await["stitchVideos"].clone();
    assert_eq!(s["durationSeconds"], 4, "{s}");
    assert_eq!(s["shots"].as_array().unwrap().len(), 3, "{s}");
    let s = made(&app, &ann, &s).await;
    assert!((seconds(&s) - 4.0).abs() < 0.1, "{s}");
    assert_eq!(s["status"], "DRAFT", "{s}");
    assert_eq!(s["caption"], "two rides", "{s}");
    assert_eq!(s["remixOf"], Value::Null, "{s}");
    let s_id = s["id"].as_str().unwrap().to_owned();
    let found = moderation::provenance::verify_mp4(&app.stored_video(&s_id)).unwrap();
    assert!(found.valid, "{:?}", found.validation_errors);
    assert_eq!(found.parts, [(c_id.clone(), true), (b_id.clone(), true)], "the parts in order, with their manifests");
    // Publishing without a caption keeps the one it was made with (an empty one would clear it).
    let p = app.ok(PUBLISH, json!({"id": s_id}), Some(&ann)).await["publishVideo"].clone();
    assert_eq!(p["caption"], "two rides", "{p}");
    // Its parts, in order, to whoever may see them: drafts only to their author.
    const PARTS: &str = "query($id: ID!) { video(id: $id) { parts { id } } }";
    let parts = app.ok(PARTS, json!({"id": s_id}), Some(&ann)).await;
    assert_eq!(parts["video"]["parts"], json!([{"id": c_id}, {"id": b_id}]), "{parts}");
    let bob = app.member("bob").await;
    let parts = app.ok(PARTS, json!({"id": s_id}), Some(&bob)).await;
    assert_eq!(parts["video"]["parts"], json!([]), "{parts}");
    let parts = app.ok(PARTS, json!({"id": e_id}), Some(&ann)).await;
    assert_eq!(parts["video"]["parts"], json!([]), "a continuation's source is its remixOf: {parts}");
    // An empty caption at publish clears the one it was made with.
    let s2 = app.ok(STITCH, json!({"v": [b_id, c_id], "c": "again"}), Some(&ann)).await["stitchVideos"].clone();
    let s2 = made(&app, &ann, &s2).await;
    assert_eq!(s2["caption"], "again", "{s2}");
    const PUBLISH_AS: &str = "mutation($id: ID!, $c: String) { publishVideo(id: $id, caption: $c) { caption } }";
    let p = app.ok(PUBLISH_AS, json!({"id": s2["id"], "c": ""}), Some(&ann)).await;
    assert_eq!(p["publishVideo"]["caption"], Value::Null, "{p}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_continuations_and_stitches_are_refused_and_a_part_that_changed_fails() {
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.limits.max_storyboard_seconds = 10;
            c.limits.max_queued_jobs_per_user = 6;
        })
        .start()
        .await;
    let (ann, bob) = (app.member("ann").await, app.member("bob").await);
    let clip = |prompt: &str, seconds: i32, shape: &str| json!({"i": {"prompt": prompt, "durationSeconds": seconds, "aspectRatio": shape, "audio": "SILENT"}});
    let a = app.ok(CREATE, clip("a green frog on a lily pad", 4, "SQUARE"), Some(&ann)).await["createVideo"].clone();
    let a_id = made(&app, &ann, &a).await["id"].as_str().unwrap().to_owned();
    let b = app.ok(CREATE, clip("a grey owl on a branch", 1, "SQUARE"), Some(&ann)).await["createVideo"].clone();
    let b_id = made(&app, &ann, &b).await["id"].as_str().unwrap().to_owned();
    let p = app.ok(CREATE, clip("a tall lighthouse", 1, "PORTRAIT"), Some(&ann)).await["createVideo"].clone();
    let p_id = made(&app, &ann, &p).await["id"].as_str().unwrap().to_owned();
    let shot = |seconds: i32| json!([{"prompt": "it rains", "durationSeconds": seconds}]);
    let expect = |r: &Value, code: &str, field: Option<&str>, words: &str| {
        assert_eq!(code_of(r), code, "{words}: {r}");
        if let Some(f) = field {
            assert_eq!(r["errors"][0]["extensions"]["field"], f, "{r}");
        }
        assert!(r["errors"][0]["message"].as_str().unwrap().contains(words), "{words}: {r}");
    };

    // A draft is not there to continue, for anyone; published, it is the author's to continue.
    let r = app.gql(EXTEND, json!({"v": a_id, "s": shot(2)}), Some(&ann)).await;
    assert_eq!(code_of(&r), "NOT_FOUND", "{r}");
    app.ok(PUBLISH, json!({"id": a_id}), Some(&ann)).await;
    let r = app.gql(EXTEND, json!({"v": a_id, "s": []}), Some(&ann)).await;
    expect(&r, "BAD_USER_INPUT", Some("shots"), "at least one shot");
    let r = app.gql(EXTEND, json!({"v": a_id, "s": shot(9)}), Some(&ann)).await;
    expect(&r, "BAD_USER_INPUT", Some("shots"), "shot 1 must last between 1 and 8 seconds");
    let r = app.gql(EXTEND, json!({"v": a_id, "s": [shot(4)[0].clone(), shot(4)[0].clone()]}), Some(&ann)).await;
    expect(&r, "BAD_USER_INPUT", Some("shots"), "would last 12 seconds; a video may last at most 10 seconds");
    let r = app.gql(EXTEND, json!({"v": "not-an-id", "s": shot(1)}), Some(&ann)).await;
    expect(&r, "BAD_USER_INPUT", Some("videoId"), "");
    // Another member's video only when its author allows remixes.
    app.ok("mutation($v: ID!) { setRemixAllowed(videoId: $v, allowed: false) { id } }", json!({"v": a_id}), Some(&ann))
        .await;
    let r = app.gql(EXTEND, json!({"v": a_id, "s": shot(1)}), Some(&bob)).await;
    expect(&r, "FORBIDDEN", None, "does not allow remixes");
    // A new shot's words go through the policy, named as the member sent them.
    let bloody = json!([{"prompt": "a calm pond", "durationSeconds": 1}, {"prompt": "a bloody stabbing by the pond", "durationSeconds": 1}]);
    let r = app.gql(EXTEND, json!({"v": a_id, "s": bloody}), Some(&ann)).await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    let reasons = r["errors"][0]["extensions"]["reasons"].to_string();
    assert!(reasons.contains("shot 2: VIOLENCE"), "{reasons}");

    // Stitching: two or more of one's own videos of one shape.
    let r = app.gql(STITCH, json!({"v": [b_id]}), Some(&ann)).await;
    expect(&r, "BAD_USER_INPUT", Some("videoIds"), "at least two videos");
    let r = app.gql(STITCH, json!({"v": [b_id, a_id]}), Some(&bob)).await;
    assert_eq!(code_of(&r), "NOT_FOUND", "{r}");
    let r = app.gql(STITCH, json!({"v": [b_id, p_id]}), Some(&ann)).await;
    expect(&r, "BAD_USER_INPUT", Some("videoIds"), "video 2 has another shape than video 1");
    let r = app.gql(STITCH, json!({"v": [a_id, a_id, a_id]}), Some(&ann)).await;
    expect(&r, "BAD_USER_INPUT", Some("videoIds"), "the stitched video would last 12 seconds");
    let r = app.gql(STITCH, json!({"v": [b_id, a_id], "c": "x".repeat(501)}), Some(&ann)).await;
    expect(&r, "BAD_USER_INPUT", Some("caption"), "caption");
    let queued = app.running.store.live_jobs_of(app_core::types::UserId::parse(&app.my_id(&ann).await).unwrap()).await;
    assert_eq!(queued.unwrap(), (0, 0), "nothing refused was queued");

    // A part whose stored file is not what its request makes: the job fails naming the shot,
    // and stores nothing.
    let before = app.stored_video_count();
    std::fs::write(app.video_file(&b_id), app.stored_video(&a_id)).unwrap();
    let r = app.ok(STITCH, json!({"v": [a_id, b_id]}), Some(&ann)).await["stitchVideos"].clone();
    let j = app.job_when_ended(JOB, &ann, r["id"].as_str().unwrap(), Duration::from_secs(300)).await;
    assert_eq!(j["status"], "FAILED", "{j}");
    assert_eq!(j["error"]["code"], "GENERATION_FAILED", "{j}");
    let message = j["error"]["message"].as_str().unwrap();
    assert!(message.contains("shot 2 did not come out as it is in the video it comes from"), "{j}");
    assert_eq!(app.stored_video_count(), before, "nothing stored");
    app.stop().await;
}
