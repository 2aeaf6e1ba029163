//! Remixes: a published video whose author allows it is the start of a new job (its prompt,
//! length, shape and seed, plus the change); lineage (`remixOf`, `root`, `remixes`,
//! `remixCount`); the source's manifest as the C2PA ingredient; the author's switch.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

const CREATE: &str = "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id prompt durationSeconds } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id status prompt video { id status width height frameCount remixOf { id } root { id } } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishVideo(id: $id) { id status } }";
const LINEAGE: &str = "query($id: ID!) { video(id: $id) { id remixCount remixes(first: 10) { edges { node { id remixOf { id } } } } root { id } } }";
const ALLOW: &str = "mutation($v: ID!, $a: Boolean!) { setRemixAllowed(videoId: $v, allowed: $a) { id remixAllowed } }";

async fn member(app: &TestApp, name: &str) -> String {
    let code = app.mint(1, 1).await.remove(0);
    app.sign_up(&code, name).await.0
}

async fn finished(app: &TestApp, token: &str, input: Value) -> Value {
    let r = app.ok(CREATE, json!({"i": input}), Some(token)).await;
    let id = r["createVideo"]["id"].as_str().unwrap().to_owned();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remix_lineage_ingredient_and_switch() {
    // On the stand-in model: its frames follow the reference input strongly, which is what the
    // check below measures (the source's frames reach the model). The shipped model's reference
    // conditioning has no visible effect yet (docs/ROADMAP.md).
    let tiny = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tiny/manifest.toml");
    let app = app(Engine::Sqlite)
        .tweak(move |c| {
            c.queue.in_process_workers = Some(1);
            c.inference.model_manifest = tiny;
        })
        .start()
        .await;
    let ann = member(&app, "ann").await;
    let bob = member(&app, "bob").await;
    let cat = member(&app, "cat").await;
    let source = finished(
        &app,
        &ann,
        json!({"prompt": "a fox in the snow", "durationSeconds": 1, "aspectRatio": "SQUARE", "seed": 5}),
    )
    .await;
    let source_id = source["video"]["id"].as_str().unwrap().to_owned();

    // Only published videos can be remixed.
    let r = app.gql(CREATE, json!({"i": {"prompt": "at night", "remixOf": source_id}}), Some(&bob)).await;
    assert_eq!(code_of(&r), "NOT_FOUND", "{r}");
    app.ok(PUBLISH, json!({"id": source_id}), Some(&ann)).await;

    // The change is checked with the source's prompt; a bad id is bad input.
    assert_eq!(
        app.code(CREATE, json!({"i": {"prompt": "at night", "remixOf": "nope"}}), Some(&bob)).await,
        "BAD_USER_INPUT"
    );
    let r =
        app.gql(CREATE, json!({"i": {"prompt": "covered in blood, beheaded", "remixOf": source_id}}), Some(&bob)).await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");

    // Bob's remix keeps the source's length and shape; the prompt is the source's plus the change.
    let remix = finished(&app, &bob, json!({"prompt": "at night under the aurora", "remixOf": source_id})).await;
    assert_eq!(remix["prompt"], "a fox in the snow. at night under the aurora");
    let rv = &remix["video"];
    assert_eq!(
        (rv["width"].as_i64(), rv["height"].as_i64(), rv["frameCount"].as_i64()),
        (Some(512), Some(512), Some(12))
    );
    assert_eq!(rv["remixOf"]["id"], source_id);
    assert_eq!(rv["root"]["id"], source_id);
    let remix_id = rv["id"].as_str().unwrap().to_owned();

    // The source's signed file is the C2PA ingredient of the remix.
    let roots = moderation::provenance::local_ca_root_pem(&app.data_dir.join("c2pa")).unwrap();
    let bytes = std::fs::read(app.data_dir.join("media").join("videos").join(format!("{remix_id}.mp4"))).unwrap();
    let m = moderation::provenance::verify_mp4_trusting(&bytes, &roots).unwrap();
    assert!(m.valid && m.trusted, "{:?}", m.validation_errors);
    assert_eq!(m.remix_source.as_deref(), Some(source_id.as_str()));
    assert!(m.remix_source_has_manifest, "the ingredient carries the source's own manifest");

    // The source's frames condition the model: the same prompt, seed and shape without the
    // source make a clearly different video.
    let plain_input = json!({"prompt": "a fox in the snow. at night under the aurora", "durationSeconds": 1, "aspectRatio": "SQUARE", "seed": 5});
    let frames_of = |job: &Value| {
        let path =
            app.data_dir.join("media").join("videos").join(format!("{}.mp4", job["video"]["id"].as_str().unwrap()));
        media::decode_mp4(&std::fs::read(path).unwrap()).unwrap()
    };
    let psnr = |a: &[Vec<u8>], b: &[Vec<u8>]| {
        let mse = a
            .iter()
            .zip(b)
            .flat_map(|(x, y)| x.iter().zip(y))
            .map(|(p, q)| (f64::from(*p) - f64::from(*q)).powi(2))
            .sum::<f64>()
            / a.iter().map(Vec::len).sum::<usize>() as f64;
        10.0 * (255.0f64.powi(2) / mse).log10()
    };
    let plain = frames_of(&finished(&app, &bob, plain_input.clone()).await);
    let plain_again = frames_of(&finished(&app, &bob, plain_input).await);
    let remixed = media::decode_mp4(&bytes).unwrap();
    // Two plain runs differ only by their watermarks (and the codec's rounding of them).
    let (baseline, with_source) = (psnr(&plain, &plain_again), psnr(&remixed, &plain));
    assert!(
        with_source + 4.0 < baseline,
        "the source changed the frames: {with_source:.1} dB vs {baseline:.1} dB between plain runs"
    );

    // Published, the remix is counted and listed on the source; its author is told.
    let l = app.ok(LINEAGE, json!({"id": source_id}), None).await;
    assert_eq!(l["video"]["remixCount"], 0, "drafts are not counted");
    app.ok(PUBLISH, json!({"id": remix_id}), Some(&bob)).await;
    let l = app.ok(LINEAGE, json!({"id": source_id}), None).await;
    assert_eq!(l["video"]["remixCount"], 1);
    assert_eq!(l["video"]["remixes"]["edges"][0]["node"]["id"], remix_id);
    assert_eq!(l["video"]["root"]["id"], source_id, "an original is its own root");
    let notes = app.ok("{ notifications { edges { node { kind actor { username } } } } }", json!({}), Some(&ann)).await;
    assert!(
        notes["notifications"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["kind"] == "video.remixed" && e["node"]["actor"]["username"] == "bob")
    );

    // A remix of the remix keeps the chain's root.
    let second = finished(&app, &cat, json!({"prompt": "in watercolour", "remixOf": remix_id})).await;
    assert_eq!(second["video"]["remixOf"]["id"], remix_id);
    assert_eq!(second["video"]["root"]["id"], source_id);

    // The author's switch: only the author may flip it; off means no new remixes.
    assert_eq!(app.code(ALLOW, json!({"v": source_id, "a": false}), Some(&bob)).await, "NOT_FOUND");
    let r = app.ok(ALLOW, json!({"v": source_id, "a": false}), Some(&ann)).await;
    assert_eq!(r["setRemixAllowed"]["remixAllowed"], false);
    assert_eq!(
        app.code(CREATE, json!({"i": {"prompt": "at dawn", "remixOf": source_id}}), Some(&cat)).await,
        "FORBIDDEN"
    );
    app.ok(ALLOW, json!({"v": source_id, "a": true}), Some(&ann)).await;
    app.ok(CREATE, json!({"i": {"prompt": "at dawn", "remixOf": source_id}}), Some(&cat)).await;

    // The author deletes the source for good: its file goes, the remix stays with its lineage gone.
    let delete = "mutation($id: ID!) { deleteVideo(id: $id) }";
    assert_eq!(app.code(delete, json!({"id": source_id}), Some(&bob)).await, "NOT_FOUND");
    let path = app.data_dir.join("media").join("videos").join(format!("{source_id}.mp4"));
    assert!(path.exists());
    assert_eq!(app.ok(delete, json!({"id": source_id}), Some(&ann)).await["deleteVideo"], true);
    assert!(!path.exists());
    assert!(
        app.ok("query($id: ID!) { video(id: $id) { id } }", json!({"id": source_id}), Some(&ann)).await["video"]
            .is_null()
    );
    let r = app.ok(LINEAGE, json!({"id": remix_id}), None).await;
    assert_eq!(r["video"]["id"], remix_id);
    assert_eq!(app.code(delete, json!({"id": source_id}), Some(&ann)).await, "NOT_FOUND");

    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}
