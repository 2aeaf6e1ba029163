//! Generation end to end: createVideo → jobUpdates (QUEUED → RUNNING with rising progress →
//! SUCCEEDED) → a playable MP4 behind a signed link; cancellation; limits; input checks; and,
//! with Redis, separate `generator` processes, one of them killed mid-job.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::harness::*;

const CREATE: &str =
    "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id status progress queuePosition prompt } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id status progress attempts queuePosition etaSeconds error { code message } video { id status url thumbnailUrl width height durationMs frameCount } } }";

async fn member(app: &TestApp, name: &str) -> String {
    let code = app.mint(1, 1).await.remove(0);
    app.sign_up(&code, name).await.0
}

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(CREATE, json!({"i": input}), Some(token)).await
}

async fn job(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(JOB, json!({"id": id}), Some(token)).await["job"].clone()
}

async fn wait_for(app: &TestApp, token: &str, id: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let j = job(app, token, id).await;
        if pred(&j) {
            return j;
        }
        assert!(start.elapsed() < timeout, "timed out waiting; job is {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subscribe(
    app: &TestApp,
    token: &str,
    job_id: &str,
) -> impl futures_util::Stream<Item = Value> + Unpin + use<> {
    let mut req = format!("ws://{}/graphql/ws", app.running.addr).into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}).to_string(),
    ))
    .await
    .unwrap();
    let q = "subscription($id: ID!) { jobUpdates(jobId: $id) { id status progress queuePosition video { id } } }";
    ws.send(Message::text(
        json!({"id": "s", "type": "subscribe", "payload": {"query": q, "variables": {"id": job_id}}}).to_string(),
    ))
    .await
    .unwrap();
    Box::pin(ws.filter_map(|m| async move {
        match m {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).ok()?;
                match v["type"].as_str() {
                    Some("next") => Some(v["payload"]["data"]["jobUpdates"].clone()),
                    Some("complete") => Some(json!({"complete": true})),
                    Some("error") => Some(json!({"error": v["payload"]})),
                    _ => None,
                }
            }
            _ => None,
        }
    }))
}

/// The embedded default: SQLite, in-process queue and worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_watch_and_play_embedded() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = member(&app, "ann").await;
    // A first job keeps the single worker busy, so the second is seen waiting.
    let first = create(
        &app,
        &ann,
        json!({"prompt": "a slow sunrise over mountains", "durationSeconds": 2, "aspectRatio": "SQUARE"}),
    )
    .await;
    let first_id = first["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let r = create(&app, &ann, json!({"prompt": "a red fox running through snow", "durationSeconds": 1, "aspectRatio": "LANDSCAPE", "seed": 7})).await;
    let created = &r["data"]["createVideo"];
    assert_eq!(created["status"], "QUEUED", "{r}");
    let id = created["id"].as_str().unwrap().to_owned();

    let mut updates = subscribe(&app, &ann, &id).await;
    let mut seen = vec![];
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Ok(Some(u)) = tokio::time::timeout(deadline - Instant::now(), updates.next()).await {
        if u.get("complete").is_some() {
            break;
        }
        assert!(u.get("error").is_none(), "{u}");
        seen.push(u);
    }
    let statuses: Vec<&str> = seen.iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.first(), Some(&"QUEUED"), "{statuses:?}");
    assert_eq!(seen[0]["queuePosition"], 0, "the other job is running, none waits ahead");
    assert_eq!(statuses.last(), Some(&"SUCCEEDED"), "{statuses:?}");
    let running: Vec<f64> =
        seen.iter().filter(|u| u["status"] == "RUNNING").map(|u| u["progress"].as_f64().unwrap()).collect();
    assert!(running.len() >= 3, "progress reported per step: {seen:?}");
    assert!(running.windows(2).all(|w| w[1] > w[0]), "progress rises: {running:?}");
    assert_eq!(seen.last().unwrap()["progress"], 1.0);

    // The draft: a real MP4 with the expected frames, behind a signed link with ranges.
    let j = job(&app, &ann, &id).await;
    let v = &j["video"];
    assert_eq!(v["status"], "DRAFT");
    assert_eq!((v["width"].as_i64(), v["height"].as_i64(), v["frameCount"].as_i64()), (Some(448), Some(256), Some(12)));
    let url = v["url"].as_str().unwrap();
    let mp4 = app.http.get(url).send().await.unwrap();
    assert_eq!(mp4.status(), 200);
    assert_eq!(mp4.headers()["content-type"], "video/mp4");
    let bytes = mp4.bytes().await.unwrap();
    let info = media::probe_mp4(&bytes).unwrap();
    assert_eq!((info.width, info.height, info.frame_count), (448, 256, 12));
    assert!(media::is_faststart(&bytes));
    assert_eq!(media::decode_mp4(&bytes).unwrap().len(), 12);
    let part = app.http.get(url).header("range", "bytes=0-99").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 0-99/{}", bytes.len()));
    assert_eq!(part.bytes().await.unwrap().len(), 100);
    let forged = url.replace("sig=", "sig=00");
    assert_eq!(app.http.get(&forged).send().await.unwrap().status(), 403);
    let thumb = app.http.get(v["thumbnailUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");

    // Drafts are the author's: listed for them, invisible to others.
    let drafts = app
        .ok(
            "{ myDrafts(first: 10) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
            json!({}),
            Some(&ann),
        )
        .await;
    assert!(drafts["myDrafts"]["edges"].as_array().unwrap().iter().any(|e| e["node"]["id"] == v["id"]));
    let bob = member(&app, "bob").await;
    let q = "query($id: ID!) { video(id: $id) { id } }";
    assert_eq!(app.ok(q, json!({"id": v["id"]}), Some(&bob)).await["video"], Value::Null);
    assert_eq!(app.ok(q, json!({"id": v["id"]}), None).await["video"], Value::Null);
    assert_eq!(app.ok(JOB, json!({"id": id}), Some(&bob)).await["job"], Value::Null);

    // The same prompt, seed and model give the same video.
    wait_for(&app, &ann, &first_id, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    let again = create(&app, &ann, json!({"prompt": "a red fox running through snow", "durationSeconds": 1, "aspectRatio": "LANDSCAPE", "seed": 7})).await;
    let again_id = again["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let j2 = wait_for(&app, &ann, &again_id, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    let bytes2 = app.http.get(j2["video"]["url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    // Equal but for the invisible watermark, which carries each video's own id, and the codec's
    // rounding of that difference: far closer to each other than to another prompt's video. (The
    // shipped model draws a prompt's scene alike under any seed, so another seed is no yardstick;
    // seeds are checked on frames in generator/tests.)
    let other = create(&app, &ann, json!({"prompt": "a red fox running through outer space", "durationSeconds": 1, "aspectRatio": "LANDSCAPE", "seed": 7})).await;
    let other_id = other["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let j3 = wait_for(&app, &ann, &other_id, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    let bytes3 = app.http.get(j3["video"]["url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    let (a, b, c) =
        (media::decode_mp4(&bytes).unwrap(), media::decode_mp4(&bytes2).unwrap(), media::decode_mp4(&bytes3).unwrap());
    let psnr = |x: &[Vec<u8>], y: &[Vec<u8>]| {
        assert_eq!(x.len(), y.len());
        let (mut sq, mut n) = (0f64, 0f64);
        for (fa, fb) in x.iter().zip(y) {
            for (p, q) in fa.iter().zip(fb) {
                sq += (f64::from(*p) - f64::from(*q)).powi(2);
                n += 1.0;
            }
        }
        10.0 * (255.0f64.powi(2) / (sq / n).max(1e-9)).log10()
    };
    let (same, different) = (psnr(&a, &b), psnr(&a, &c));
    assert!(same > different + 10.0, "same seed {same:.1} dB vs another prompt {different:.1} dB");
    assert_ne!(j2["video"]["id"], v["id"]);
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// The sound of a request: a refused spoken line refuses the job naming the line, dialogue
/// too long for the clip and `KEEP_SOURCE` outside a remix are bad input; good dialogue queues
/// with its mode stored (no workers run here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogue_lines_are_checked_before_queueing() {
    let app = app(Engine::Sqlite).tweak(|c| c.limits.max_queued_jobs_per_user = 5).start().await;
    let ann = member(&app, "ann").await;
    let r = create(
        &app,
        &ann,
        json!({"prompt": "a quiet park at dawn. Mia says \"hello there\" and Leo replies \"I will stab you\""}),
    )
    .await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    let reasons = r["errors"][0]["extensions"]["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|x| x.as_str().unwrap().starts_with("spoken line 2 (\"I will stab you\"): VIOLENCE")),
        "{reasons:?}"
    );
    let long = format!("a beach. Ann says \"{}\"", "we should really go home before the tide comes in ".repeat(3));
    let r = create(&app, &ann, json!({"prompt": long, "durationSeconds": 2})).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "prompt");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("too long for a 2-second video"), "{r}");
    // Without speech the same prompt is fine: nothing is spoken.
    let r = create(&app, &ann, json!({"prompt": long, "durationSeconds": 2, "audio": "AMBIENCE"})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let r = create(&app, &ann, json!({"prompt": "a fox", "audio": "KEEP_SOURCE"})).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "audio");
    let r = create(&app, &ann, json!({"prompt": "a fox", "audio": "LOUD"})).await;
    assert!(r.get("errors").is_some(), "an unknown mode is refused: {r}");
    let r =
        create(&app, &ann, json!({"prompt": "two friends at a café\nMia: did you bring it?\nLeo: of course"})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let id = r["data"]["createVideo"]["id"].as_str().unwrap();
    let stored = app.running.store.job(app_core::types::JobId::parse(id).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.audio_mode, domain::model::AudioMode::Full);
    app.stop().await;
}

/// Input checks, per-member limits, cancelling a queued job (no workers run here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_checks_limits_and_queued_cancel() {
    let app = app(Engine::Sqlite).tweak(|c| c.limits.max_queued_jobs_per_user = 2).start().await;
    let ann = member(&app, "ann").await;
    for (input, field) in [
        (json!({"prompt": "   "}), "prompt"),
        (json!({"prompt": "x".repeat(2001)}), "prompt"),
        (json!({"prompt": "ok", "durationSeconds": 0}), "durationSeconds"),
        (json!({"prompt": "ok", "durationSeconds": 99}), "durationSeconds"),
        (json!({"prompt": "ok", "cameoIds": ["not-an-id"]}), "cameoIds"),
        (json!({"prompt": "ok", "seed": -1}), "seed"),
    ] {
        let r = create(&app, &ann, input).await;
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field);
    }
    // The content policy refuses before anything is queued, naming each category.
    let r = create(&app, &ann, json!({"prompt": "Taylor Swift in a bloody stabbing"})).await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    let reasons: Vec<String> = r["errors"][0]["extensions"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    assert!(reasons.iter().any(|x| x.starts_with("PUBLIC_FIGURE")), "{reasons:?}");
    assert!(reasons.iter().any(|x| x.starts_with("VIOLENCE")), "{reasons:?}");
    // Near misses pass.
    let near = create(&app, &ann, json!({"prompt": "shooting stars over a sextant in Essex"})).await;
    assert!(near.get("errors").is_none(), "{near}");
    let near_id = near["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let cancel = "mutation($id: ID!) { cancelJob(id: $id) { id status } }";
    app.ok(cancel, json!({"id": near_id}), Some(&ann)).await;
    let a = create(&app, &ann, json!({"prompt": "first"})).await;
    let a_id = a["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let b = create(&app, &ann, json!({"prompt": "second"})).await;
    let b_id = b["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let third = create(&app, &ann, json!({"prompt": "third"})).await;
    assert_eq!(code_of(&third), "RATE_LIMITED", "{third}");
    assert_eq!(job(&app, &ann, &b_id).await["queuePosition"].as_i64(), Some(1));
    assert_eq!(app.ok(cancel, json!({"id": a_id}), Some(&ann)).await["cancelJob"]["status"], "CANCELLED");
    assert_eq!(app.code(cancel, json!({"id": a_id}), Some(&ann)).await, "CONFLICT");
    assert_eq!(job(&app, &ann, &b_id).await["queuePosition"].as_i64(), Some(0));
    // Someone else's job cannot be cancelled (or even seen).
    let bob = member(&app, "bob").await;
    assert_eq!(app.code(cancel, json!({"id": b_id}), Some(&bob)).await, "NOT_FOUND");
    assert_eq!(app.code(CREATE, json!({"i": {"prompt": "x"}}), None).await, "UNAUTHENTICATED");
    app.stop().await;
}

/// A running job is stopped at its next step; no video appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_a_running_job() {
    let manifest = slow_manifest(40);
    let app = app(Engine::Sqlite)
        .tweak(move |c| {
            c.queue.in_process_workers = Some(1);
            c.inference.model_manifest = manifest;
        })
        .start()
        .await;
    let ann = member(&app, "ann").await;
    let r =
        create(&app, &ann, json!({"prompt": "a long river journey", "durationSeconds": 8, "aspectRatio": "SQUARE"}))
            .await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_for(&app, &ann, &id, Duration::from_secs(60), |j| {
        j["status"] == "RUNNING" && j["progress"].as_f64().unwrap() > 0.0
    })
    .await;
    let c = app.ok("mutation($id: ID!) { cancelJob(id: $id) { status } }", json!({"id": id}), Some(&ann)).await;
    assert_eq!(c["cancelJob"]["status"], "CANCELLED");
    // The worker notices at its next step and reports; the job stays cancelled, no draft.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let j = job(&app, &ann, &id).await;
    assert_eq!(j["status"], "CANCELLED");
    assert!(j["progress"].as_f64().unwrap() < 1.0, "stopped before the end: {j}");
    assert_eq!(j["video"], Value::Null);
    let drafts = app.ok("{ myDrafts { edges { node { id } } } }", json!({}), Some(&ann)).await;
    assert_eq!(drafts["myDrafts"]["edges"].as_array().unwrap().len(), 0);
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// A copy of the tiny model's manifest with more denoiser steps, so jobs last long enough to
/// be interrupted (the model files are referenced by absolute path).
pub fn slow_manifest(steps: usize) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tiny").canonicalize().unwrap();
    let src = std::fs::read_to_string(dir.join("manifest.toml")).unwrap();
    let mut out = String::new();
    for line in src.lines() {
        if line.starts_with("steps =") {
            out.push_str(&format!("steps = {steps}\n"));
        } else if line.starts_with("max_steps =") {
            out.push_str(&format!("max_steps = {}\n", steps.max(16)));
        } else if let Some(f) = line.strip_prefix("file = \"") {
            out.push_str(&format!("file = \"{}/{}\n", dir.display(), f));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path = std::env::temp_dir().join(format!("slow-manifest-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, out).unwrap();
    path
}

fn generator_binary() -> std::path::PathBuf {
    crate::harness::binary("generator")
}

/// Production shape: PostgreSQL, Redis Streams and no worker in the API server (generators run
/// as separate processes), with `manifest` as the model when given and a short `reclaim_idle`.
pub(crate) async fn production_app(manifest: Option<std::path::PathBuf>, reclaim_idle: Duration) -> TestApp {
    app(Engine::Postgres)
        .redis()
        .tweak(move |c| {
            c.queue.in_process_workers = Some(0);
            if let Some(m) = manifest {
                c.inference.model_manifest = m;
            }
            c.queue.reclaim_idle = reclaim_idle;
        })
        .start()
        .await
}

pub(crate) fn spawn_generator(app: &TestApp, name: &str, manifest: &std::path::Path) -> Child {
    generator_command(app, name, manifest).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// A `generator` process like [`spawn_generator`]'s that logs at `info` into `log`.
pub(crate) fn spawn_logging_generator(
    app: &TestApp,
    name: &str,
    manifest: &std::path::Path,
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> Child {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let mut cmd = generator_command(app, name, manifest);
    cmd.env("APP_LOG", "info").envs(env.iter().copied());
    cmd.stdout(out).stderr(err).spawn().unwrap()
}

fn generator_command(app: &TestApp, name: &str, manifest: &std::path::Path) -> Command {
    let c = &app.config;
    let mut cmd = Command::new(generator_binary());
    cmd.env("APP_REDIS_URL", c.redis.url.as_ref().unwrap().expose())
        .env("APP_REDIS_PREFIX", &c.redis.prefix)
        .env("APP_DATA_DIR", &app.data_dir)
        .env("APP_MODEL_MANIFEST", manifest)
        .env("APP_FRAME_CLASSIFIER", &c.moderation.frame_classifier)
        .env("APP_WORKER_NAME", name)
        .env("APP_QUEUE_RECLAIM_IDLE_SECS", c.queue.reclaim_idle.as_secs().to_string())
        .env("APP_QUEUE_RETRY_BACKOFF_SECS", "1")
        .env("APP_LOG", "warn");
    if let Some(bucket) = &c.storage.s3_bucket {
        cmd.env("APP_S3_BUCKET", bucket).env("APP_S3_REGION", &c.storage.s3_region);
        if let Some(endpoint) = &c.storage.s3_endpoint {
            cmd.env("APP_S3_ENDPOINT", endpoint);
        }
        for (key, value) in
            [("APP_S3_ACCESS_KEY", &c.storage.s3_access_key), ("APP_S3_SECRET_KEY", &c.storage.s3_secret_key)]
        {
            if let Some(v) = value {
                cmd.env(key, v.expose());
            }
        }
    }
    cmd
}

/// Production shape: Redis loses the queue (restarted empty: the jobs stream, its consumer
/// group and the entry map are gone) while a job waits for a worker and the member's next job
/// waits for its slot. The reconciler offers the lost job again within a `reclaim_idle` round, and
/// once a generator starts both end `SUCCEEDED`, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_a_redis_restarted_empty_lost_are_offered_again() {
    let app = production_app(None, Duration::from_secs(1)).await;
    let ann = member(&app, "ann").await;
    let input = |p: &str| json!({"prompt": p, "durationSeconds": 1, "aspectRatio": "SQUARE"});
    let r = create(&app, &ann, input("a lighthouse at dusk")).await;
    let first = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    // Redis restarts empty: every queue key of this service is gone.
    let client = redis::Client::open(crate::harness::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:*", app.config.redis.prefix)).query_async(&mut conn).await.unwrap();
    assert!(keys.iter().any(|k| k.ends_with(":jobs")), "the job was queued on Redis: {keys:?}");
    let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    // The member's next job waits in the database for the slot the lost one holds.
    let r = create(&app, &ann, input("a lighthouse at night")).await;
    let second = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    // Within a round or two the lost job is back on the queue.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let len: i64 =
            redis::cmd("XLEN").arg(format!("{}:jobs", app.config.redis.prefix)).query_async(&mut conn).await.unwrap();
        if len > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the lost job was not offered again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut g = spawn_generator(&app, "gen-a", &slow_manifest(4));
    for id in [&first, &second] {
        let done = wait_for(&app, &ann, id, Duration::from_secs(120), |j| {
            j["status"].as_str().is_some_and(|s| !["RUNNING", "QUEUED", "MODERATING"].contains(&s))
        })
        .await;
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
    }
    let drafts = app.ok("{ myDrafts { edges { node { id } } } }", json!({}), Some(&ann)).await;
    assert_eq!(drafts["myDrafts"]["edges"].as_array().unwrap().len(), 2, "{drafts}");
    g.kill().unwrap();
    g.wait().unwrap();

    // Redis empties again while a generator is on a job and reporting progress: the job is not
    // offered again (it would be made twice); its result still arrives and is applied once.
    let mut g = spawn_generator(&app, "gen-b", &slow_manifest(200));
    let r = create(&app, &ann, input("a lighthouse in a storm")).await;
    let third = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_for(&app, &ann, &third, Duration::from_secs(60), |j| {
        j["status"] == "RUNNING" && j["progress"].as_f64().unwrap() > 0.0
    })
    .await;
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:*", app.config.redis.prefix)).query_async(&mut conn).await.unwrap();
    let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    let done = wait_for(&app, &ann, &third, Duration::from_secs(120), |j| {
        j["status"].as_str().is_some_and(|s| !["RUNNING", "QUEUED", "MODERATING"].contains(&s))
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["attempts"], 1, "made once: {done}");
    let len: i64 =
        redis::cmd("XLEN").arg(format!("{}:jobs", app.config.redis.prefix)).query_async(&mut conn).await.unwrap();
    assert_eq!(len, 0, "nothing was offered again");
    g.kill().unwrap();
    g.wait().unwrap();
    app.stop().await;
}

/// Sends SIGTERM to `child` and waits up to 30 s for it to exit; its exit status.
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(sent.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "still running 30 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM (what Kubernetes, systemd and `docker stop` send) stops both binaries cleanly: the
/// generator after the job in hand, the API server after the requests in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_generator_and_the_api_server_cleanly() {
    let app = app(Engine::Postgres).redis().tweak(|c| c.queue.in_process_workers = Some(0)).start().await;
    let log = app.data_dir.join("gen.log");
    let mut g = spawn_logging_generator(&app, "gen-term", &slow_manifest(4), &log, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("worker started") {
        assert!(Instant::now() < deadline, "the generator did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = terminate(&mut g);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "generator exited with {status}: {text}");
    assert!(text.contains("SIGTERM received") && text.contains("worker stopped"), "{text}");
    app.stop().await;

    // The API server (embedded defaults, no worker), on a port of its own.
    let dir = std::env::temp_dir().join(format!("sigterm-{}", uuid::Uuid::new_v4().simple()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = Command::new(crate::harness::binary("backend"))
        .arg("serve")
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("APP_DATA_DIR", &dir)
        .env("APP_LISTEN", format!("127.0.0.1:{port}"))
        .env("APP_IN_PROCESS_WORKERS", "0")
        .env("APP_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await;
        if up.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < deadline, "the API server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An open subscription socket is closed with 1012 (service restart), which clients treat as
    // "reconnect", not dropped.
    let mut req = format!("ws://127.0.0.1:{port}/graphql/ws").into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(json!({"type": "connection_init", "payload": {}}).to_string())).await.unwrap();
    let ack = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    let sent = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("the socket ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("no close frame within 10 s of SIGTERM")
    .expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 1012, "{close:?}");
    let status = terminate(&mut server);
    assert!(status.success(), "API server exited with {status}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A generator told to stop while a job is still far from done hands the job back once
/// `queue_stop_grace_secs` has passed (not after the reclaim idle time, and without using up an
/// attempt), exits cleanly, and another generator makes the job, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_generator_hands_back_its_job_after_the_grace() {
    let app = app(Engine::Postgres)
        .redis()
        .tweak(|c| {
            c.queue.in_process_workers = Some(0);
            // Far beyond the test: only the hand-back can bring the job to another worker.
            c.queue.reclaim_idle = Duration::from_secs(600);
        })
        .start()
        .await;
    let ann = member(&app, "ann").await;
    let log = app.data_dir.join("slow.log");
    let mut slow =
        spawn_logging_generator(&app, "gen-slow", &slow_manifest(1000), &log, &[("APP_QUEUE_STOP_GRACE_SECS", "1")]);
    let r = create(&app, &ann, json!({"prompt": "a glacier calving into the sea", "durationSeconds": 1})).await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = job(&app, &ann, &id).await;
        if j["status"] == "RUNNING" && j["progress"].as_f64().unwrap() > 0.0 {
            break;
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(Instant::now() < deadline, "the slow generator did not start the job: {j}\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopped_at = Instant::now();
    let status = terminate(&mut slow);
    let took = stopped_at.elapsed();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "generator exited with {status}: {text}");
    assert!(text.contains("handed it back for another worker"), "{text}");
    eprintln!("stopping generator exited {took:?} after SIGTERM (grace 1 s)");
    let mut quick = spawn_generator(&app, "gen-quick", &slow_manifest(4));
    let done = wait_for(&app, &ann, &id, Duration::from_secs(120), |j| {
        j["status"].as_str().is_some_and(|s| !["RUNNING", "QUEUED", "MODERATING"].contains(&s))
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["attempts"], 1, "the hand-back used up no attempt: {done}");
    quick.kill().unwrap();
    quick.wait().unwrap();
    app.stop().await;
}

/// A Redis server of the test's own (no persistence), so it can be stopped and started again
/// empty without touching the one other tests share.
pub(crate) struct PrivateRedis {
    pub(crate) port: u16,
    child: Child,
}

impl PrivateRedis {
    pub(crate) fn start(port: Option<u16>) -> PrivateRedis {
        Self::start_in(port, None)
    }

    /// With `dir`, the server loads `dir/dump.rdb` if there is one (and `SAVE` writes it): a
    /// Redis that keeps its data across a restart.
    fn start_in(port: Option<u16>, dir: Option<&std::path::Path>) -> PrivateRedis {
        let port =
            port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let mut args: Vec<String> =
            ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
                .iter()
                .map(|a| a.to_string())
                .collect();
        if let Some(dir) = dir {
            args.extend(["--dir".to_owned(), dir.display().to_string()]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        PrivateRedis { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A PostgreSQL test app whose Redis is this server (no in-process workers), optionally with
    /// its own `reclaim_idle`.
    async fn app(&self, reclaim_idle: Option<Duration>) -> TestApp {
        let url = self.url();
        app(Engine::Postgres)
            .redis()
            .tweak(move |c| {
                c.redis.url = Some(app_core::types::Secret::new(url));
                c.queue.in_process_workers = Some(0);
                if let Some(r) = reclaim_idle {
                    c.queue.reclaim_idle = r;
                }
            })
            .start()
            .await
    }

    pub(crate) fn stop(mut self) -> u16 {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.port
    }
}

/// The operator's test of issue 18: with Redis stopped, a signed-in member still reads `me`
/// (revocation asked of the database), the feeds answer `UNAVAILABLE` with `retryAfterSeconds`,
/// rate limits count in the process, and `createVideo` is accepted (`QUEUED`, nothing lost) rather than failing; Redis starts again empty, the
/// reconciler offers the job, and a generator makes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_reads_and_new_jobs_still_work_and_nothing_is_lost() {
    let redis = PrivateRedis::start(None);
    let app = redis.app(Some(Duration::from_secs(1))).await;
    let ann = member(&app, "ann").await;
    let port = redis.stop();

    let me = app.ok("{ me { username } }", json!({}), Some(&ann)).await;
    assert_eq!(me["me"]["username"], "ann", "{me}");
    // The feeds need their cache: UNAVAILABLE with a time to retry, never INTERNAL.
    for kind in ["TRENDING", "FOR_YOU"] {
        let r = app
            .gql(
                "query($k: FeedKind!) { feed(kind: $k, first: 5) { edges { node { id } } } }",
                json!({"k": kind}),
                Some(&ann),
            )
            .await;
        let e = &r["errors"][0];
        assert_eq!(e["extensions"]["code"], "UNAVAILABLE", "{kind}: {r}");
        assert!(e["extensions"]["retryAfterSeconds"].as_u64().unwrap() > 0, "{r}");
        assert!(e["message"].as_str().unwrap().starts_with("the feed is unavailable for a moment"), "{r}");
    }
    let r = create(&app, &ann, json!({"prompt": "a kite in the wind", "durationSeconds": 1, "aspectRatio": "SQUARE"}))
        .await;
    assert!(r.get("errors").is_none(), "accepted while Redis is down: {r}");
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let j = app.ok("query($id: ID!) { job(id: $id) { status } }", json!({"id": id}), Some(&ann)).await;
    assert_eq!(j["job"]["status"], "QUEUED", "{j}");

    // Redis comes back empty; a generator starts; the job is made.
    let redis = PrivateRedis::start(Some(port));
    let mut g = spawn_generator(&app, "gen-a", &slow_manifest(4));
    let done = wait_for(&app, &ann, &id, Duration::from_secs(120), |j| {
        j["status"].as_str().is_some_and(|s| !["RUNNING", "QUEUED", "MODERATING"].contains(&s))
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    g.kill().unwrap();
    g.wait().unwrap();
    app.stop().await;
    redis.stop();
}

/// The value of one series in a Prometheus text exposition (0 when it is absent).
fn series(exposition: &str, name_and_labels: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// What the operator's dashboard reads on `/metrics`: the queue depth from the database, jobs
/// ended by status with the worker's stage times, and feed cache lookups by layer and result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_queue_job_stages_and_the_feed_cache() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let metrics =
        || async { app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap() };
    let ann = member(&app, "ann").await;
    let m = metrics().await;
    assert!(m.contains("jobs_live{status=\"QUEUED\"} 0"), "{m}");

    let r =
        create(&app, &ann, json!({"prompt": "a paper boat on a pond", "durationSeconds": 2, "aspectRatio": "SQUARE"}))
            .await;
    let made = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let r = create(&app, &ann, json!({"prompt": "a paper plane", "durationSeconds": 1, "aspectRatio": "SQUARE"})).await;
    let waiting = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let m = metrics().await;
    assert_eq!(series(&m, "jobs_live{status=\"QUEUED\"}") + series(&m, "jobs_live{status=\"RUNNING\"}"), 2.0, "{m}");
    app.ok("mutation($id: ID!) { cancelJob(id: $id) { status } }", json!({"id": waiting}), Some(&ann)).await;
    let done = wait_for(&app, &ann, &made, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    assert_eq!(done["status"], "SUCCEEDED");

    let m = metrics().await;
    assert_eq!(series(&m, "jobs_ended_total{status=\"SUCCEEDED\"}"), 1.0, "{m}");
    assert_eq!(series(&m, "jobs_ended_total{status=\"CANCELLED\"}"), 1.0, "{m}");
    assert_eq!(series(&m, "jobs_live{status=\"QUEUED\"}"), 0.0, "{m}");
    for stage in ["queue_wait", "denoise", "decode", "encode", "moderate", "watermark", "sign", "store"] {
        assert_eq!(series(&m, &format!("job_stage_seconds_count{{stage=\"{stage}\"}}")), 1.0, "{stage}: {m}");
    }
    assert!(series(&m, "job_stage_seconds_sum{stage=\"denoise\"}") > 0.0, "{m}");

    // The same feed query twice (the second from the response cache), then another spelling of
    // it (a new response, its page from the page cache).
    let q = "{ feed(kind: TRENDING, first: 5) { edges { node { id } } } }";
    app.ok(q, json!({}), Some(&ann)).await;
    app.ok(q, json!({}), Some(&ann)).await;
    app.ok("{ top: feed(kind: TRENDING, first: 5) { edges { cursor } } }", json!({}), Some(&ann)).await;
    let m = metrics().await;
    let look = |layer: &str, result: &str| {
        series(&m, &format!("feed_cache_lookups_total{{layer=\"{layer}\",result=\"{result}\"}}"))
    };
    assert_eq!((look("response", "miss"), look("response", "hit")), (2.0, 1.0), "{m}");
    assert_eq!((look("page", "miss"), look("page", "hit")), (1.0, 1.0), "{m}");
    app.stop().await;
}

/// Sessions survive a Redis outage as the database says: a log-out while Redis is down
/// succeeds and its token is refused at once (the database answers); when Redis comes back
/// empty, the first feed request after it succeeds (a lost connection is tried again), and the
/// sessions ended before or during the outage stay ended (their markers are put back from the
/// database) while a live session keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_before_or_during_a_redis_outage_stay_ended() {
    let redis = PrivateRedis::start(None);
    let app = redis.app(None).await;
    let live = app.member("ann").await;
    let (before, before_refresh, _) = app.log_in("ann", "long enough secret").await;
    let (during, during_refresh, _) = app.log_in("ann", "long enough secret").await;
    let log_out = "mutation($t: String!) { logOut(refreshToken: $t) }";
    assert_eq!(app.ok(log_out, json!({"t": before_refresh}), None).await["logOut"], true);
    assert_eq!(app.code(ME, json!({}), Some(&before)).await, "UNAUTHENTICATED");
    let trending = "{ feed(kind: TRENDING, first: 5) { edges { node { id } } } }";
    app.ok(trending, json!({}), Some(&live)).await;

    let port = redis.stop();
    assert_eq!(app.ok(log_out, json!({"t": during_refresh}), None).await["logOut"], true, "log-out needs no Redis");
    assert_eq!(app.code(ME, json!({}), Some(&during)).await, "UNAUTHENTICATED");
    assert_eq!(app.code(ME, json!({}), Some(&before)).await, "UNAUTHENTICATED");
    app.ok(ME, json!({}), Some(&live)).await;

    let redis = PrivateRedis::start(Some(port));
    // Once the connections' rest after the outage is over (1 s, `reconnect::REST`), the first
    // request is answered: not the error that starts the reconnect.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.ok(trending, json!({}), Some(&live)).await;
    // Within one check (5 s) the markers are back.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let flag = format!("{}:revocations-kept", app.config.redis.prefix);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = redis::cmd("EXISTS").arg(&flag).query_async(&mut conn).await.unwrap();
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the revocation markers were not restored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let marked: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:revoked:*", app.config.redis.prefix)).query_async(&mut conn).await.unwrap();
    assert_eq!(marked.len(), 2, "both ended sessions marked again: {marked:?}");
    assert_eq!(app.code(ME, json!({}), Some(&before)).await, "UNAUTHENTICATED");
    assert_eq!(app.code(ME, json!({}), Some(&during)).await, "UNAUTHENTICATED");
    app.ok(ME, json!({}), Some(&live)).await;
    app.stop().await;
    redis.stop();
}

/// A removal while Redis does not answer (here a ban, which withdraws the member's videos) could
/// not invalidate the cached feed pages; when the same Redis comes back with its data (and the
/// pages cached before), the bump is made within one check (5 s), so no page from before the
/// removal is served after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_during_a_redis_outage_invalidates_cached_pages_when_it_returns() {
    let dir = std::env::temp_dir().join(format!("redis-keep-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let redis = PrivateRedis::start_in(None, Some(&dir));
    let app = redis.app(None).await;
    let admin = app.create_admin("the_admin").await;
    let eve = member(&app, "eve").await;
    let eve_id = app.ok(ME, json!({}), Some(&eve)).await["me"]["id"].as_str().unwrap().to_owned();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let epoch_key = format!("{}:feed:epoch:visible", app.config.redis.prefix);
    let epoch = |v: Option<i64>| v.unwrap_or(0);
    let before: Option<i64> = redis::cmd("GET").arg(&epoch_key).query_async(&mut conn).await.unwrap();
    let () = redis::cmd("SAVE").query_async(&mut conn).await.unwrap();
    let port = redis.stop();

    let ban = "mutation($u: ID!, $r: String!) { banUser(userId: $u, reason: $r) { banned } }";
    assert_eq!(app.ok(ban, json!({"u": eve_id, "r": "spam"}), Some(&admin)).await["banUser"]["banned"], true);

    let redis = PrivateRedis::start_in(Some(port), Some(&dir));
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let kept: Option<i64> = redis::cmd("GET").arg(&epoch_key).query_async(&mut conn).await.unwrap();
    assert_eq!(kept, before, "the same Redis, with its data");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now: Option<i64> = redis::cmd("GET").arg(&epoch_key).query_async(&mut conn).await.unwrap();
        if epoch(now) > epoch(before) {
            break;
        }
        assert!(Instant::now() < deadline, "the epoch bump missed during the outage was never made");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
    redis.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TCP proxy on loopback in front of a server that can cut every connection and refuse new
/// ones (a restart, as the service sees it), then let them through again.
pub(crate) struct CutProxy {
    pub(crate) port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::broadcast::Sender<()>,
}

impl CutProxy {
    pub(crate) async fn start(upstream: String) -> CutProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, _) = tokio::sync::broadcast::channel(4);
        let (gate, signal) = (open.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let mut stop = signal.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                        _ = stop.recv() => {}
                    }
                });
            }
        });
        CutProxy { port, open, cut }
    }

    pub(crate) fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        let _ = self.cut.send(());
    }

    pub(crate) fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The object store (S3, here moto behind a proxy) stops answering while a generator makes a job:
/// the finished video is kept and the store asked again (the attempt does not fail and the video
/// is not made twice); once the store answers, the job ends SUCCEEDED after one attempt and its
/// files are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_waits_for_the_object_store_to_come_back() {
    let s3 = S3Server::start("media").await;
    let proxy = CutProxy::start(format!("127.0.0.1:{}", s3.port)).await;
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let app = app(Engine::Postgres)
        .redis()
        .tweak(|c| c.queue.in_process_workers = Some(0))
        .tweak(with_s3(endpoint))
        .start()
        .await;
    let ann = member(&app, "ann").await;
    let log = app.data_dir.join("gen-s3.log");
    let mut g = spawn_logging_generator(&app, "gen-s3", &slow_manifest(60), &log, &[]);
    let r = create(&app, &ann, json!({"prompt": "a kite over the dunes", "durationSeconds": 1})).await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_for(&app, &ann, &id, Duration::from_secs(60), |j| j["status"] == "RUNNING").await;
    proxy.cut();
    let cut_at = Instant::now();
    // The worker finishes, cannot store, and keeps asking.
    let deadline = Instant::now() + Duration::from_secs(90);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("media store does not take the output") {
        assert!(Instant::now() < deadline, "{}", std::fs::read_to_string(&log).unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_ne!(job(&app, &ann, &id).await["status"], "FAILED");
    proxy.restore();
    let restored_at = Instant::now();
    let done = wait_for(&app, &ann, &id, Duration::from_secs(120), |j| {
        j["status"].as_str().is_some_and(|s| !["RUNNING", "QUEUED", "MODERATING"].contains(&s))
    })
    .await;
    eprintln!(
        "store cut for {:?}; job done {:?} after the store came back",
        restored_at - cut_at,
        restored_at.elapsed()
    );
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["attempts"], 1, "made once: {done}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("output stored"), "{text}");
    let video = app.http.get(done["video"]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(video.status(), 200);
    let frames = media::decode_mp4(&video.bytes().await.unwrap()).unwrap();
    assert_eq!(frames.len(), 12);
    g.kill().unwrap();
    g.wait().unwrap();
    app.stop().await;
}

/// Publishing while the object store does not answer: the gate cannot read the stored file, so
/// `publishVideo` answers UNAVAILABLE with `retryAfterSeconds` (not a refusal of the video, not
/// INTERNAL) and the draft stays a draft; once the store answers, the same call publishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_while_the_object_store_is_cut_waits_for_it() {
    let s3 = S3Server::start("media").await;
    let proxy = CutProxy::start(format!("127.0.0.1:{}", s3.port)).await;
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let app =
        app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).tweak(with_s3(endpoint)).start().await;
    let ann = member(&app, "ann").await;
    let r = create(&app, &ann, json!({"prompt": "a kite over the dunes", "durationSeconds": 1})).await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let done = wait_for(&app, &ann, &id, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    let video = done["video"]["id"].as_str().unwrap().to_owned();
    const PUBLISH: &str = "mutation($id: ID!) { publishVideo(id: $id) { id status } }";
    proxy.cut();
    let asked = Instant::now();
    let r = app.gql(PUBLISH, json!({"id": video}), Some(&ann)).await;
    let took = asked.elapsed();
    let e = &r["errors"][0];
    assert_eq!(e["extensions"]["code"], "UNAVAILABLE", "{r}");
    assert!(e["extensions"]["retryAfterSeconds"].as_u64().unwrap() > 0, "{r}");
    eprintln!("publish with the store cut answered UNAVAILABLE in {took:?}");
    let v = app.ok("query($id: ID!) { video(id: $id) { status } }", json!({"id": video}), Some(&ann)).await;
    assert_eq!(v["video"]["status"], "DRAFT");
    proxy.restore();
    let r = app.ok(PUBLISH, json!({"id": video}), Some(&ann)).await;
    assert_eq!(r["publishVideo"]["status"], "PUBLISHED", "{r}");
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// PostgreSQL "restarts" (every connection cut, new ones refused, for some seconds) while a
/// generator makes a job: requests answer `UNAVAILABLE` with `retryAfterSeconds` (never
/// `INTERNAL`), `/readyz` says not ready, the job's result waits in the event stream; when the
/// database is back the pool reconnects, the result is applied once, and requests work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarting_answers_unavailable_and_results_wait_until_it_is_back() {
    let admin = postgres_admin_url();
    let hostport = admin.split('@').nth(1).unwrap().split('/').next().unwrap().to_owned();
    let proxy = CutProxy::start(hostport.clone()).await;
    let via = format!("127.0.0.1:{}", proxy.port);
    let manifest = slow_manifest(40);
    let m = manifest.clone();
    let app = app(Engine::Postgres)
        .redis()
        .tweak(move |c| {
            let url = c.database.url.as_ref().unwrap().expose().replace(&hostport, &via);
            c.database.url = Some(app_core::types::Secret::new(url));
            c.queue.in_process_workers = Some(0);
            c.queue.reclaim_idle = Duration::from_secs(2);
            c.inference.model_manifest = m;
        })
        .start()
        .await;
    let ann = member(&app, "ann").await;
    let mut g = spawn_generator(&app, "gen-a", &manifest);
    let r =
        create(&app, &ann, json!({"prompt": "a harbour at dawn", "durationSeconds": 2, "aspectRatio": "SQUARE"})).await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_for(&app, &ann, &id, Duration::from_secs(60), |j| j["status"] == "RUNNING").await;

    proxy.cut();
    let cut_at = Instant::now();
    let mut codes = std::collections::BTreeMap::<String, u32>::new();
    // Until the generator has published its result (it needs no database), ask as clients do.
    let client = redis::Client::open(crate::harness::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let events = format!("{}:events", app.config.redis.prefix);
    loop {
        for (q, v) in [
            (ME, json!({})),
            ("query($id: ID!) { job(id: $id) { status } }", json!({"id": id})),
            (CREATE, json!({"i": {"prompt": "a harbour at noon", "durationSeconds": 1, "aspectRatio": "SQUARE"}})),
        ] {
            let r = app.gql(q, v, Some(&ann)).await;
            let code = r["errors"][0]["extensions"]["code"].as_str().unwrap_or("OK").to_owned();
            if code == "UNAVAILABLE" {
                assert_eq!(r["errors"][0]["extensions"]["retryAfterSeconds"], 3, "{r}");
            }
            *codes.entry(code).or_default() += 1;
        }
        let ready = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let stream: Vec<(String, Vec<(String, String)>)> =
            redis::cmd("XRANGE").arg(&events).arg("-").arg("+").query_async(&mut conn).await.unwrap();
        if stream.iter().any(|(_, f)| f.iter().any(|(_, v)| v.contains(r#""type":"Succeeded""#))) {
            break;
        }
        assert!(cut_at.elapsed() < Duration::from_secs(90), "the generator never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        codes.keys().collect::<Vec<_>>(),
        ["UNAVAILABLE"],
        "only UNAVAILABLE while the database is away: {codes:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    proxy.restore();
    let back = Instant::now();
    let deadline = back + Duration::from_secs(30);
    while app.gql(ME, json!({}), Some(&ann)).await.get("errors").is_some() {
        assert!(Instant::now() < deadline, "requests did not work again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("database away {:?}; codes {codes:?}; requests work again {:?} after", back - cut_at, back.elapsed());
    let done = wait_for(&app, &ann, &id, Duration::from_secs(60), |j| j["status"] == "SUCCEEDED").await;
    assert_eq!(done["attempts"], 1, "made once: {done}");
    let drafts = app.ok("{ myDrafts { edges { node { id } } } }", json!({}), Some(&ann)).await;
    assert_eq!(drafts["myDrafts"]["edges"].as_array().unwrap().len(), 1, "{drafts}");
    g.kill().unwrap();
    g.wait().unwrap();
    app.stop().await;
}

/// Production shape: PostgreSQL, Redis Streams, separate `generator` processes. A worker
/// killed with SIGKILL mid-job: another reclaims the job, which ends SUCCEEDED exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_queue_separate_workers_survive_sigkill() {
    let manifest = slow_manifest(40);
    let app = production_app(Some(manifest.clone()), Duration::from_secs(2)).await;
    let ann = member(&app, "ann").await;
    let mut a = spawn_generator(&app, "gen-a", &manifest);
    let r = create(
        &app,
        &ann,
        json!({"prompt": "a storm over the sea", "durationSeconds": 8, "aspectRatio": "SQUARE", "seed": 3}),
    )
    .await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_for(&app, &ann, &id, Duration::from_secs(120), |j| {
        j["status"] == "RUNNING" && j["progress"].as_f64().unwrap() > 0.0
    })
    .await;
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let mut b = spawn_generator(&app, "gen-b", &manifest);
    let done = wait_for(&app, &ann, &id, Duration::from_secs(180), |j| {
        j["status"].as_str().is_some_and(|s| !["RUNNING", "QUEUED", "MODERATING"].contains(&s))
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["attempts"], 2, "delivered again after the kill: {done}");
    assert_eq!(done["video"]["frameCount"], 96);
    // Exactly once: one draft for the job.
    let drafts = app.ok("{ myDrafts { edges { node { id prompt } } } }", json!({}), Some(&ann)).await;
    let n = drafts["myDrafts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["prompt"] == "a storm over the sea")
        .count();
    assert_eq!(n, 1);
    // The queue keeps flowing, and live updates cross processes (worker → Redis Stream →
    // API node → Redis pub/sub → subscription).
    let r =
        create(&app, &ann, json!({"prompt": "after the storm", "durationSeconds": 1, "aspectRatio": "PORTRAIT"})).await;
    let id2 = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let mut updates = subscribe(&app, &ann, &id2).await;
    let mut statuses = vec![];
    let mut progress = vec![];
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Ok(Some(u)) = tokio::time::timeout(deadline - Instant::now(), updates.next()).await {
        if u.get("complete").is_some() {
            break;
        }
        let s = u["status"].as_str().unwrap().to_owned();
        if s == "RUNNING" {
            progress.push(u["progress"].as_f64().unwrap());
        }
        statuses.push(s);
    }
    assert_eq!(statuses.last().map(String::as_str), Some("SUCCEEDED"), "{statuses:?}");
    assert!(statuses.iter().any(|s| s == "RUNNING"), "{statuses:?}");
    assert!(progress.windows(2).all(|w| w[1] > w[0]), "{progress:?}");
    let j2 = job(&app, &ann, &id2).await;
    assert_eq!(j2["attempts"], 1);
    let bytes = app.http.get(j2["video"]["url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    let frames = media::decode_mp4(&bytes).unwrap();
    assert_eq!(frames.len(), 12);
    assert_eq!(frames[0].len(), 384 * 640 * 3); // the stand-in (slow_manifest)
    b.kill().unwrap();
    b.wait().unwrap();
    app.stop().await;
}

/// A job that fails on every delivery (here: the media store under the worker is broken) ends
/// FAILED with a readable reason after `queue_max_deliveries` attempts, and the queue keeps
/// flowing once the fault is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_job_is_dead_lettered_and_the_queue_flows() {
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.queue.max_deliveries = 3;
        })
        .start()
        .await;
    let ann = member(&app, "ann").await;
    // Break the store: the media folder becomes a plain file, so every write fails.
    let media = app.data_dir.join("media");
    std::fs::remove_dir_all(&media).ok();
    std::fs::write(&media, b"not a folder").unwrap();
    let r = create(&app, &ann, json!({"prompt": "doomed", "durationSeconds": 1})).await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let j = wait_for(&app, &ann, &id, Duration::from_secs(120), |j| j["status"] == "FAILED").await;
    assert_eq!(j["attempts"], 3, "{j}");
    assert_eq!(j["error"]["code"], "GENERATION_FAILED");
    assert!(j["error"]["message"].as_str().unwrap().contains("after 3 attempts"), "{j}");
    assert_eq!(j["video"], Value::Null);
    // Repair; the next job goes through.
    std::fs::remove_file(&media).unwrap();
    std::fs::create_dir_all(&media).unwrap();
    let r = create(&app, &ann, json!({"prompt": "fine", "durationSeconds": 1})).await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let j = wait_for(&app, &ann, &id, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    assert_eq!(j["attempts"], 1);
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// The console's failed-jobs list: jobs the queue gave up on are listed for admins (others are
/// refused), a retried one goes back to its author's queue as if new and is made once its cause is
/// gone, a discarded one leaves the list and stays FAILED for its author, both are audited, and a
/// job not on the list cannot be retried or discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_retries_or_discards_failed_jobs() {
    const FAILED: &str = "query($after: String) { failedJobs(first: 10, after: $after) { edges { node { id status prompt attempts error { code message } author { username } } } pageInfo { hasNextPage endCursor } } }";
    const RETRY: &str = "mutation($id: ID!) { retryFailedJob(id: $id) { id status attempts error { code } } }";
    const DISCARD: &str = "mutation($id: ID!, $note: String) { discardFailedJob(id: $id, note: $note) { id status } }";
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.queue.max_deliveries = 2;
        })
        .start()
        .await;
    let ann = member(&app, "ann").await;
    let root = app.create_admin("oncall").await;
    // Every write fails while the media folder is a plain file: both jobs are given up.
    let media = app.data_dir.join("media");
    std::fs::remove_dir_all(&media).ok();
    std::fs::write(&media, b"not a folder").unwrap();
    let mut ids = Vec::new();
    for prompt in ["a lighthouse in a storm", "a paper boat on a pond"] {
        let r = create(&app, &ann, json!({"prompt": prompt, "durationSeconds": 1})).await;
        let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
        wait_for(&app, &ann, &id, Duration::from_secs(120), |j| j["status"] == "FAILED").await;
        ids.push(id);
    }
    let (storm, boat) = (ids[0].clone(), ids[1].clone());
    assert_eq!(app.code(FAILED, json!({}), Some(&ann)).await, "FORBIDDEN");
    assert_eq!(app.code(RETRY, json!({"id": storm}), Some(&ann)).await, "FORBIDDEN");
    assert_eq!(app.code(DISCARD, json!({"id": storm}), None).await, "UNAUTHENTICATED");
    // Newest failure first, one page at a time.
    let page = app.ok(FAILED, json!({}), Some(&root)).await["failedJobs"].clone();
    let listed: Vec<&str> =
        page["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [boat.as_str(), storm.as_str()], "{page}");
    let node = &page["edges"][1]["node"];
    assert_eq!(node["author"]["username"], "ann");
    assert_eq!(node["attempts"], 2);
    assert_eq!(node["error"]["code"], "GENERATION_FAILED");
    let first = app
        .ok(
            "query { failedJobs(first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            json!({}),
            Some(&root),
        )
        .await;
    assert_eq!(first["failedJobs"]["edges"][0]["node"]["id"], boat.as_str());
    assert_eq!(first["failedJobs"]["pageInfo"]["hasNextPage"], true);
    let after = first["failedJobs"]["pageInfo"]["endCursor"].clone();
    let rest = app.ok(FAILED, json!({"after": after}), Some(&root)).await;
    assert_eq!(rest["failedJobs"]["edges"][0]["node"]["id"], storm.as_str(), "{rest}");
    assert_eq!(rest["failedJobs"]["pageInfo"]["hasNextPage"], false);

    // The cause is gone; the storm is retried and made, with a fresh count of attempts.
    std::fs::remove_file(&media).unwrap();
    std::fs::create_dir_all(&media).unwrap();
    let r = app.ok(RETRY, json!({"id": storm}), Some(&root)).await;
    assert_eq!(r["retryFailedJob"]["attempts"], 0, "{r}");
    assert_eq!(r["retryFailedJob"]["error"], Value::Null, "{r}");
    assert_ne!(r["retryFailedJob"]["status"], "FAILED", "{r}");
    assert_eq!(app.code(RETRY, json!({"id": storm}), Some(&root)).await, "CONFLICT");
    let j = wait_for(&app, &ann, &storm, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    assert_eq!(j["attempts"], 1, "{j}");
    assert_eq!(j["video"]["frameCount"], 12, "{j}");
    assert_eq!(app.code(RETRY, json!({"id": storm}), Some(&root)).await, "CONFLICT");
    assert_eq!(app.code(DISCARD, json!({"id": storm}), Some(&root)).await, "CONFLICT");

    // The boat is discarded: off the list, still FAILED for ann, and not retried any more.
    let long = "x".repeat(501);
    assert_eq!(app.code(DISCARD, json!({"id": boat, "note": long}), Some(&root)).await, "BAD_USER_INPUT");
    let r = app.ok(DISCARD, json!({"id": boat, "note": "prompt tripped a model bug, fixed in 1.4"}), Some(&root)).await;
    assert_eq!(r["discardFailedJob"]["status"], "FAILED");
    assert_eq!(app.code(DISCARD, json!({"id": boat}), Some(&root)).await, "CONFLICT");
    assert_eq!(app.code(RETRY, json!({"id": boat}), Some(&root)).await, "CONFLICT");
    assert_eq!(job(&app, &ann, &boat).await["status"], "FAILED");
    let page = app.ok(FAILED, json!({}), Some(&root)).await;
    assert_eq!(page["failedJobs"]["edges"], json!([]), "{page}");
    assert_eq!(app.code(RETRY, json!({"id": "nope"}), Some(&root)).await, "BAD_USER_INPUT");
    assert_eq!(app.code(RETRY, json!({"id": uuid::Uuid::now_v7().to_string()}), Some(&root)).await, "NOT_FOUND");

    // Both decisions are in the audit log, with who and which job.
    let log = app
        .ok(
            "{ auditLog(first: 5) { edges { node { action subject note actor { username } } } } }",
            json!({}),
            Some(&root),
        )
        .await;
    let entries: Vec<(String, String)> = log["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["action"].as_str().unwrap().starts_with("job."))
        .map(|e| (e["node"]["action"].as_str().unwrap().to_owned(), e["node"]["subject"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        entries,
        [("job.discard".to_owned(), format!("job:{boat}")), ("job.retry".to_owned(), format!("job:{storm}"))]
    );
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// The sweeper deletes media nothing holds once they are an hour old (a video's files whose job
/// was cancelled, a deleted video's, a dead job's kept shots, an upload no cameo took) and keeps
/// the rest (a video's files, a live job's, anything younger, keys it does not know); a dry run
/// changes nothing; a job a worker holds that has been silent for hours ends FAILED and shows in
/// the failed-jobs list. `backend sweep` runs the same against a data folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_deletes_orphaned_media_and_ends_stuck_jobs() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use store::entities::generation_jobs as jobs;
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = member(&app, "ann").await;
    let admin = app.create_admin("sweepadmin").await;
    // A made video: its files stay.
    let r = create(&app, &ann, json!({"prompt": "a harbour at dawn", "durationSeconds": 1})).await;
    let kept = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_for(&app, &ann, &kept, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    let _ = app.running.stop_workers.send(true);
    // No worker from here on: a job cancelled while it waited (its files, had a worker made them,
    // are nobody's), and two that stay live.
    let r = create(&app, &ann, json!({"prompt": "a result that comes too late", "durationSeconds": 1})).await;
    let cancelled = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let r = app.ok("mutation($id: ID!) { cancelJob(id: $id) { status } }", json!({"id": cancelled}), Some(&ann)).await;
    assert_eq!(r["cancelJob"]["status"], "CANCELLED");
    let r = create(&app, &ann, json!({"prompt": "a queue that waits", "durationSeconds": 1})).await;
    let live = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let r = create(&app, &ann, json!({"prompt": "a job nobody reports on", "durationSeconds": 1})).await;
    let stuck = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();

    let store = media::MediaStore::local(&app.data_dir.join("media")).unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    let age = |key: &str| {
        let path = app.data_dir.join("media").join(key);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
    };
    let nobody = uuid::Uuid::now_v7();
    let orphans = [
        format!("videos/{cancelled}.mp4"),
        format!("thumbs/{cancelled}.jpg"),
        format!("videos/{nobody}.mp4"),
        format!("thumbs/{nobody}.jpg"),
        format!("captions/{nobody}.vtt"),
        format!("parts/{nobody}/m-1/0.mp4"),
        format!("cameos/{}.mp4", uuid::Uuid::now_v7()),
    ];
    let held = [format!("videos/{live}.mp4"), format!("parts/{live}/m-1/0.mp4"), "videos/readme.txt".to_owned()];
    for key in orphans.iter().chain(&held) {
        store.put(key, b"bytes".to_vec(), "application/octet-stream").await.unwrap();
        age(key);
    }
    for key in [format!("videos/{kept}.mp4"), format!("thumbs/{kept}.jpg")] {
        assert!(store.exists(&key).await.unwrap(), "{key}");
        age(&key);
    }
    let young = format!("videos/{}.mp4", uuid::Uuid::now_v7());
    store.put(&young, b"new".to_vec(), "video/mp4").await.unwrap();
    // The stuck job: RUNNING, its row unchanged for three hours.
    let db = sea_orm::Database::connect(app.config.effective_database_url()).await.unwrap();
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value(domain::model::JobStatus::Running))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(chrono::Utc::now() - chrono::Duration::hours(3)))
        .filter(jobs::Column::Id.eq(uuid::Uuid::parse_str(&stuck).unwrap()))
        .exec(&db)
        .await
        .unwrap();

    let dry = app.running.sweeper.sweep(true).await.unwrap();
    assert_eq!((dry.deleted, dry.stuck_jobs, dry.too_young, dry.unknown), (7, 1, 1, 1), "{dry:?}");
    for key in &orphans {
        assert!(store.exists(key).await.unwrap(), "a dry run deleted {key}");
    }
    assert_eq!(job(&app, &ann, &stuck).await["status"], "RUNNING");

    let done = app.running.sweeper.sweep(false).await.unwrap();
    assert_eq!((done.deleted, done.stuck_jobs, done.failed, done.deleted_bytes), (7, 1, 0, 35), "{done:?}");
    for key in &orphans {
        assert!(!store.exists(key).await.unwrap(), "{key} was not deleted");
    }
    for key in held.iter().chain([&young, &format!("videos/{kept}.mp4"), &format!("thumbs/{kept}.jpg")]) {
        assert!(store.exists(key).await.unwrap(), "{key} was deleted");
    }
    let j = job(&app, &ann, &stuck).await;
    assert_eq!(j["status"], "FAILED", "{j}");
    assert!(j["error"]["message"].as_str().unwrap().contains("no worker reported"), "{j}");
    let failed = app.ok("{ failedJobs { edges { node { id } } } }", json!({}), Some(&admin)).await;
    assert_eq!(failed["failedJobs"]["edges"][0]["node"]["id"], stuck.as_str());
    let again = app.running.sweeper.sweep(false).await.unwrap();
    assert_eq!((again.deleted, again.stuck_jobs), (0, 0), "{again:?}");

    // The command line does the same against the same data folder.
    let orphan = format!("strips/{}.jpg", uuid::Uuid::now_v7());
    store.put(&orphan, b"strip".to_vec(), "image/jpeg").await.unwrap();
    age(&orphan);
    let out = backend_cli(&app.data_dir, &["sweep", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("would delete 1 (5 bytes)"), "{text}");
    assert!(store.exists(&orphan).await.unwrap());
    let out = backend_cli(&app.data_dir, &["sweep"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("deleted 1 (5 bytes)") && text.contains("ended 0 stuck jobs"), "{text}");
    assert!(!store.exists(&orphan).await.unwrap());
    app.stop().await;
}

/// Nothing accepted is lost when the embedded service restarts: the in-process queue is gone,
/// but the database still holds the job, and the next start offers it to the queue again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_job_survives_an_embedded_restart() {
    let first = app(Engine::Sqlite).start().await; // no workers
    let ann = member(&first, "ann").await;
    let r = create(&first, &ann, json!({"prompt": "patience", "durationSeconds": 1})).await;
    let id = r["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    first.running.handle.stop(false).await;
    let dir = first.data_dir.clone();
    let second = app(Engine::Sqlite)
        .tweak(move |c| {
            c.storage.data_dir = dir;
            c.queue.in_process_workers = Some(1);
        })
        .start()
        .await;
    // The signing key lives in the data folder, so the old access token still works.
    let j = wait_for(&second, &ann, &id, Duration::from_secs(120), |j| j["status"] == "SUCCEEDED").await;
    assert_eq!(j["video"]["frameCount"], 12);
    let _ = second.running.stop_workers.send(true);
    second.stop().await;
}

/// Fairness: a member's jobs beyond `max_running_jobs_per_user` wait even while a worker is
/// free, and another member's job takes that worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_cannot_take_every_worker() {
    let manifest = slow_manifest(40);
    let app = app(Engine::Sqlite)
        .tweak(move |c| {
            c.queue.in_process_workers = Some(2);
            c.limits.max_running_jobs_per_user = 1;
            c.inference.model_manifest = manifest;
        })
        .start()
        .await;
    let ann = member(&app, "ann").await;
    let bob = member(&app, "bob").await;
    let input = json!({"prompt": "a long walk", "durationSeconds": 8, "aspectRatio": "SQUARE"});
    let a = create(&app, &ann, input.clone()).await["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let b = create(&app, &ann, input.clone()).await["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    let c = create(&app, &bob, input).await["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
    wait_for(&app, &ann, &a, Duration::from_secs(60), |j| j["status"] == "RUNNING").await;
    wait_for(&app, &bob, &c, Duration::from_secs(60), |j| j["status"] == "RUNNING").await;
    let jb = job(&app, &ann, &b).await;
    assert_eq!(jb["status"], "QUEUED", "ann's second job waits for her running slot: {jb}");
    for (tok, id) in [(&ann, &a), (&ann, &b), (&bob, &c)] {
        wait_for(&app, tok, id, Duration::from_secs(180), |j| j["status"] == "SUCCEEDED").await;
    }
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}
