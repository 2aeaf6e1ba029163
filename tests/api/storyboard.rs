//! Storyboards end to end, through `createVideo(shots)` and the embedded worker: the shots become
//! one MP4 as long as they are, whose cut ffmpeg's scene detection finds where the shots meet,
//! with one sound track of the same length, each shot's line captioned inside the shot, one valid
//! manifest; and every way a storyboard can be wrong is refused before anything is queued,
//! naming the shot.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;
use crate::sound::{streams, tool};

const CREATE: &str = "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id durationSeconds shots { prompt durationSeconds transition } } }";
const JOB: &str = "query($id: ID!) { job(id: $id) { id status progress shot shotProgress queuePosition etaSeconds error { code message } video { id status hasAudio captionsUrl durationMs provenance { manifestValid } } } }";

/// Times (seconds) of the frames ffmpeg's scene detection scores above `threshold`.
fn scene_changes(file: &Path, threshold: f64) -> Vec<f64> {
    let out = tool("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(file)
        .args(["-vf", &format!("select='gt(scene,{threshold})',showinfo"), "-an", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    log.lines()
        .filter_map(|l| l.split("pts_time:").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// WebVTT cue times and text.
fn cues(vtt: &str) -> Vec<(f64, f64, String)> {
    let secs = |t: &str| {
        let p: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2]
    };
    let lines: Vec<&str> = vtt.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let (a, b) = l.split_once(" --> ")?;
            Some((secs(a), secs(b), lines[i + 1].to_owned()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storyboard_becomes_one_video_cut_where_its_shots_meet() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = app.member("ann").await;
    let input = json!({
        "prompt": "a small red ball",
        "aspectRatio": "SQUARE",
        "seed": 4,
        "durationSeconds": 8,
        "shots": [
            {"prompt": "the ball on green grass in a sunny park", "durationSeconds": 2},
            {"prompt": "the ball in deep white snow at night. Mia says \"it is cold here\"", "durationSeconds": 3},
            {"prompt": "the ball on a yellow sandy beach", "durationSeconds": 2, "transition": "CROSSFADE"}
        ]
    });
    let r = app.ok(CREATE, json!({ "i": input }), Some(&ann)).await["createVideo"].clone();
    // The video lasts as long as its shots, whatever durationSeconds said.
    assert_eq!(r["durationSeconds"], 7, "{r}");
    let transitions: Vec<&str> =
        r["shots"].as_array().unwrap().iter().map(|s| s["transition"].as_str().unwrap()).collect();
    assert_eq!(transitions, ["CUT", "CUT", "CROSSFADE"]);
    let id = r["id"].as_str().unwrap().to_owned();
    let job = wait_end(&app, &ann, &id).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    let v = &job["video"];
    assert_eq!(v["provenance"]["manifestValid"], true, "{job}");
    assert_eq!(v["hasAudio"], true, "{job}");

    let bytes = app.stored_video(v["id"].as_str().unwrap());
    let info = media::probe_mp4(&bytes).unwrap();
    let frame = 1.0 / info.fps;
    let dir = std::env::temp_dir().join(format!("storyboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("storyboard.mp4");
    std::fs::write(&file, &bytes).unwrap();

    // 7 s of video and 7 s of sound, within one frame.
    let s = streams(&file);
    assert_eq!(s.len(), 2, "{s:?}");
    for (kind, _, seconds) in &s {
        assert!((seconds - 7.0).abs() <= frame + 1e-6, "{kind} lasts {seconds} s");
    }
    assert!((v["durationMs"].as_f64().unwrap() / 1000.0 - 7.0).abs() <= frame + 1e-6, "{job}");

    // ffmpeg finds the cut between shots 1 and 2 (at 2 s), and no change away from where shots
    // meet (2 s; the crossfade around 5 s may or may not count as one).
    let changes = scene_changes(&file, 0.3);
    assert!(changes.iter().any(|t| (t - 2.0).abs() <= frame + 1e-6), "no cut at 2 s: {changes:?}");
    for t in &changes {
        let near = [2.0, 5.0].iter().any(|b| (t - b).abs() <= 0.25 + frame);
        assert!(near, "a scene change at {t} s, away from the shots' boundaries: {changes:?}");
    }

    // The line of shot 2 is captioned inside shot 2.
    let url = v["captionsUrl"].as_str().expect("captions");
    let vtt = app.http.get(url).send().await.unwrap().text().await.unwrap();
    let c = cues(&vtt);
    assert_eq!(c.len(), 1, "{vtt}");
    assert!(c[0].0 >= 2.0 && c[0].1 <= 5.0, "{vtt}");
    assert!(c[0].2.contains("it is cold here"), "{vtt}");

    // The video lists its shots as the job does (the drafts page shows them); a clip of one shot
    // has none.
    let q = "query($id: ID!) { video(id: $id) { shots { prompt durationSeconds transition } } }";
    let shots = app.ok(q, json!({"id": v["id"]}), Some(&ann)).await["video"]["shots"].clone();
    assert_eq!(shots, r["shots"], "{shots}");
    let clip = app
        .ok(
            CREATE,
            json!({"i": {"prompt": "a small red ball", "durationSeconds": 1, "aspectRatio": "SQUARE"}}),
            Some(&ann),
        )
        .await;
    let clip = wait_end(&app, &ann, clip["createVideo"]["id"].as_str().unwrap()).await;
    let none = app.ok(q, json!({"id": clip["video"]["id"]}), Some(&ann)).await;
    assert_eq!(none["video"]["shots"], json!([]), "{none}");
    app.stop().await;
}

/// Every way a storyboard can be wrong, refused before anything is queued, naming the shot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storyboards_are_checked_before_queueing() {
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.limits.max_queued_jobs_per_user = 5;
            c.limits.max_storyboard_seconds = 12;
        })
        .start()
        .await;
    let ann = app.member("ann").await;
    let create = |input: Value| {
        let (app, ann) = (&app, ann.clone());
        async move { app.gql(CREATE, json!({ "i": input }), Some(&ann)).await }
    };
    let shot = |prompt: &str, seconds: i32| json!({"prompt": prompt, "durationSeconds": seconds});
    let bad = [
        (vec![shot("a", 2), shot("b", 9)], "shot 2 must last between 1 and 8 seconds"),
        (vec![shot("a", 2), shot("b", 0)], "shot 2 must last"),
        (vec![shot("a", 8), shot("b", 8)], "the shots add up to 16 seconds; a storyboard may last at most 12 seconds"),
        (vec![shot("a", 1); 13], "at most 12 shots"),
        (vec![shot("a", 2), shot("   ", 2)], "shot 2's prompt must have 1 to 500 characters"),
        (
            vec![
                shot("a", 2),
                shot(&format!("Ann says \"{}\"", "we must leave before the tide comes in ".repeat(2)), 1),
            ],
            "shot 2: the dialogue takes about",
        ),
    ];
    for (shots, words) in bad {
        let r = create(json!({"prompt": "a beach", "shots": shots})).await;
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], "shots", "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains(words), "{words}: {r}");
    }
    // A shot's words, and a shot's spoken line, go through the content policy by themselves.
    let r = create(json!({"prompt": "a quiet street", "shots": [
        shot("two friends walk", 2),
        shot("a bloody stabbing in the alley", 2),
        shot("Leo says \"I will stab you\"", 2),
    ]}))
    .await;
    assert_eq!(code_of(&r), "POLICY_VIOLATION", "{r}");
    let reasons: Vec<&str> =
        r["errors"][0]["extensions"]["reasons"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
    assert!(reasons.iter().any(|x| x.starts_with("shot 2: VIOLENCE")), "{reasons:?}");
    assert!(
        reasons.iter().any(|x| x.starts_with("shot 3, spoken line 1 (\"I will stab you\"): VIOLENCE")),
        "{reasons:?}"
    );
    assert!(reasons.iter().all(|x| !x.starts_with("shot 1")), "{reasons:?}");
    // A remix is one video changed, not a storyboard.
    let r = create(json!({"prompt": "x", "remixOf": uuid::Uuid::now_v7().to_string(), "shots": [shot("a", 2)]})).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "shots", "{r}");
    // Nothing of the above was queued.
    let drafts = app.running.store.live_jobs_of(app_core::types::UserId::parse(&app.my_id(&ann).await).unwrap()).await;
    assert_eq!(drafts.unwrap(), (0, 0));
    // A good storyboard is stored with its shots.
    let r = create(json!({"prompt": "a beach", "shots": [shot("waves roll in", 2), {"prompt": "gulls fly", "durationSeconds": 3, "transition": "CROSSFADE"}]})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let id = r["data"]["createVideo"]["id"].as_str().unwrap();
    let stored = app.running.store.job(app_core::types::JobId::parse(id).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.duration_seconds, 5);
    assert_eq!(stored.shots.len(), 2);
    assert_eq!(stored.shots[1].transition, domain::model::Transition::Crossfade);
    app.stop().await;
}

async fn wait_end(app: &TestApp, token: &str, id: &str) -> Value {
    app.job_when_ended(JOB, token, id, Duration::from_secs(300)).await
}

/// A storyboard whose frames the check blocks ends `REJECTED` naming the shot, with nothing
/// stored; one cancelled while its second shot is being made stops there, with nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_shot_and_a_cancel_in_the_middle_leave_nothing_behind() {
    let shots = |seconds: i32| {
        json!([
            {"prompt": "the ball on green grass", "durationSeconds": seconds},
            {"prompt": "the ball on a sandy beach", "durationSeconds": seconds},
            {"prompt": "the ball in the snow", "durationSeconds": seconds, "transition": "CROSSFADE"}
        ])
    };
    // Block at zero: every frame is over the line.
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.moderation.frame_review_threshold = 0.0;
            c.moderation.frame_block_threshold = 0.0;
        })
        .start()
        .await;
    let ann = app.member("ann").await;
    let r = app
        .ok(CREATE, json!({"i": {"prompt": "a red ball", "aspectRatio": "SQUARE", "shots": shots(1)}}), Some(&ann))
        .await;
    let job = wait_end(&app, &ann, r["createVideo"]["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "REJECTED", "{job}");
    assert_eq!(job["error"]["code"], "CONTENT_BLOCKED", "{job}");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(["shot 1: ", "shot 2: ", "shot 3: "].iter().any(|p| message.starts_with(p)), "{message}");
    assert!(job["video"].is_null(), "{job}");
    assert_eq!(app.stored_video_count(), 0);
    let _ = app.running.stop_workers.send(true);
    app.stop().await;

    // Cancel while shot 2 of 3 is being made.
    let app = crate::harness::app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = app.member("ann").await;
    let r = app
        .ok(CREATE, json!({"i": {"prompt": "a red ball", "aspectRatio": "SQUARE", "shots": shots(8)}}), Some(&ann))
        .await;
    let id = r["createVideo"]["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let j = app.ok(JOB, json!({"id": id}), Some(&ann)).await["job"].clone();
        let progress = j["progress"].as_f64().unwrap();
        assert_ne!(j["status"], "SUCCEEDED", "finished before it could be cancelled: {j}");
        if progress > 0.4 {
            assert!(progress < 0.67, "past shot 2 already: {j}");
            // Per shot: the second of three, partly made.
            assert_eq!(j["shot"], 2, "{j}");
            let within = j["shotProgress"].as_f64().unwrap();
            assert!((within - (progress * 3.0 - 1.0)).abs() < 1e-6 && within > 0.0, "{j}");
            break;
        }
        if j["status"] == "QUEUED" {
            assert!(j["shot"].is_null(), "{j}");
        }
        assert!(start.elapsed() < Duration::from_secs(300), "timed out: {j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = app.ok("mutation($id: ID!) { cancelJob(id: $id) { status } }", json!({"id": id}), Some(&ann)).await;
    assert_eq!(c["cancelJob"]["status"], "CANCELLED", "{c}");
    // The worker stops at its next step and stores nothing; the job stays cancelled.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let j = app.ok(JOB, json!({"id": id}), Some(&ann)).await["job"].clone();
    assert_eq!(j["status"], "CANCELLED", "{j}");
    assert!(j["video"].is_null(), "{j}");
    assert_eq!(app.stored_video_count(), 0);
    let _ = app.running.stop_workers.send(true);
    app.stop().await;
}

/// Share of a frame's pixels that are a saturated blue (the ball), not sky, snow or night.
fn blue_share(rgb: &[u8]) -> f64 {
    let blue = rgb
        .chunks_exact(3)
        .filter(|p| {
            let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            b > 90.0 && b > 1.8 * r && b > 1.3 * g
        })
        .count();
    blue as f64 / (rgb.len() / 3) as f64
}

/// The storyboard: 60 s in eight shots (the model makes at most 8 s a shot) across three
/// settings, one MP4 of 60 s whose cuts ffmpeg finds where the shots meet, one sound track that
/// never drops out, and the ball blue in every shot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_seconds_in_eight_shots_keep_the_ball_blue_and_the_sound_running() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = app.member("ann").await;
    let settings = ["on green grass", "in a sandy desert", "in white snow"];
    let lengths = [8, 8, 8, 8, 7, 7, 7, 7];
    let shots: Vec<Value> = lengths
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"prompt": format!("the ball rolls {}", settings[i % 3]), "durationSeconds": s}))
        .collect();
    let r = app
        .ok(
            CREATE,
            json!({"i": {"prompt": "a small blue ball", "aspectRatio": "SQUARE", "seed": 2, "shots": shots}}),
            Some(&ann),
        )
        .await;
    assert_eq!(r["createVideo"]["durationSeconds"], 60, "{r}");
    let job = wait_end(&app, &ann, r["createVideo"]["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    let v = &job["video"];
    assert_eq!(v["provenance"]["manifestValid"], true, "{job}");
    let bytes = app.stored_video(v["id"].as_str().unwrap());
    let info = media::probe_mp4(&bytes).unwrap();
    let frame = 1.0 / info.fps;
    let dir = std::env::temp_dir().join(format!("storyboard60-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sixty.mp4");
    std::fs::write(&file, &bytes).unwrap();
    for (kind, _, seconds) in streams(&file) {
        assert!((seconds - 60.0).abs() <= frame + 1e-6, "{kind} lasts {seconds} s");
    }

    // Every boundary is a cut ffmpeg finds, and it finds nothing else.
    let boundaries: Vec<f64> = lengths
        .iter()
        .scan(0.0, |t, s| {
            *t += f64::from(*s);
            Some(*t)
        })
        .take(lengths.len() - 1)
        .collect();
    // Threshold 0.15: a cut between two bright settings (desert → snow) scores about 0.29,
    // frames within a shot at most about 0.05.
    let changes = scene_changes(&file, 0.15);
    for b in &boundaries {
        assert!(changes.iter().any(|t| (t - b).abs() <= frame + 1e-6), "no cut at {b} s: {changes:?}");
    }
    for t in &changes {
        assert!(boundaries.iter().any(|b| (t - b).abs() <= frame + 1e-6), "a change at {t} s: {changes:?}");
    }

    // The sound runs through: no half second of the track is silent, cuts included.
    let pcm = media::decode_opus(&bytes).unwrap().expect("a sound track");
    let per_half = 48_000 * usize::from(pcm.channels) / 2;
    for (i, window) in pcm.samples.chunks(per_half).enumerate().take(119) {
        let rms = (window.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / window.len() as f64).sqrt();
        assert!(rms > 1e-3, "silence at {:.1} s (rms {rms:.5})", i as f64 / 2.0);
    }

    // The ball is blue in every shot (the middle frame of each).
    let frames = media::decode_mp4(&bytes).unwrap();
    let mut start = 0.0;
    for (n, s) in lengths.iter().enumerate() {
        let middle = ((start + f64::from(*s) / 2.0) * info.fps) as usize;
        let share = blue_share(&frames[middle]);
        assert!(share > 0.003, "shot {} ({}): {:.2}% blue pixels", n + 1, settings[n % 3], share * 100.0);
        start += f64::from(*s);
    }
    app.stop().await;
}

/// Production shape (PostgreSQL, Redis Streams, separate `generator` processes). A storyboard
/// with a shot the worker's model cannot make ends `FAILED` at once, naming the shot; a generator
/// killed with SIGKILL while it makes shot 3 loses the job to another, which takes the two shots
/// the first kept, makes shot 3, and ends it `SUCCEEDED`, once, as long as its shots; the kept
/// shots are deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shot_the_model_cannot_make_and_a_generator_killed_during_shot_3() {
    use crate::generation::{production_app, slow_manifest, spawn_generator};
    let manifest = slow_manifest(120);
    let app = production_app(Some(manifest.clone()), Duration::from_secs(2)).await;
    let ann = app.member("ann").await;

    // A generator whose model makes at most 2 s, behind a service that allows 8 s shots.
    let short =
        std::fs::read_to_string(&manifest).unwrap().replace("max_duration_seconds = 8", "max_duration_seconds = 2");
    let short_manifest = manifest.with_file_name(format!("short-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&short_manifest, short).unwrap();
    let mut limited = spawn_generator(&app, "gen-short", &short_manifest);
    let shots = json!([
        {"prompt": "the boat leaves", "durationSeconds": 2},
        {"prompt": "the boat sails on", "durationSeconds": 4}
    ]);
    let r = app
        .ok(CREATE, json!({"i": {"prompt": "a paper boat", "aspectRatio": "SQUARE", "shots": shots}}), Some(&ann))
        .await;
    let job = wait_end(&app, &ann, r["createVideo"]["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["error"]["code"], "GENERATION_FAILED", "{job}");
    assert!(job["error"]["message"].as_str().unwrap().contains("shot 2: "), "{job}");
    limited.kill().unwrap();
    limited.wait().unwrap();

    // SIGKILL during shot 3 of 3.
    let mut a = spawn_generator(&app, "gen-a", &manifest);
    let shots = json!([
        {"prompt": "the boat leaves", "durationSeconds": 2},
        {"prompt": "the boat sails on", "durationSeconds": 2},
        {"prompt": "the boat comes home", "durationSeconds": 2, "transition": "CROSSFADE"}
    ]);
    let r = app
        .ok(CREATE, json!({"i": {"prompt": "a paper boat", "aspectRatio": "SQUARE", "shots": shots}}), Some(&ann))
        .await;
    let id = r["createVideo"]["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let j = app.ok(JOB, json!({"id": id}), Some(&ann)).await["job"].clone();
        assert_ne!(j["status"], "SUCCEEDED", "finished before the kill: {j}");
        if j["progress"].as_f64().unwrap() > 0.7 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "timed out: {j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let kept = || {
        fn count(dir: &Path) -> usize {
            std::fs::read_dir(dir)
                .map(|d| d.flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum())
                .unwrap_or(0)
        }
        count(&app.data_dir.join("media").join("parts").join(&id))
    };
    assert_eq!(kept(), 2, "shots 1 and 2 were kept when the generator died");
    let mut b = spawn_generator(&app, "gen-b", &manifest);
    let done = wait_end(&app, &ann, &id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(kept(), 0, "the kept shots are deleted at the end");
    let attempts = app
        .ok("query($id: ID!) { job(id: $id) { attempts video { frameCount } } }", json!({"id": id}), Some(&ann))
        .await;
    assert_eq!(attempts["job"]["attempts"], 2, "delivered again after the kill: {attempts}");
    assert_eq!(attempts["job"]["video"]["frameCount"], 72, "{attempts}");
    let drafts = app.ok("{ myDrafts { edges { node { id } } } }", json!({}), Some(&ann)).await;
    assert_eq!(drafts["myDrafts"]["edges"].as_array().unwrap().len(), 1, "{drafts}");
    b.kill().unwrap();
    b.wait().unwrap();
    app.stop().await;
}

/// Production shape: a storyboard on two idle generator processes has its shots made by both
/// (the other one takes shots on offer, last first), is joined once by the one that took the
/// job, and ends `SUCCEEDED` as long as its shots, its kept shots deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storyboards_shots_are_made_in_parallel_by_idle_generators() {
    use crate::generation::{production_app, slow_manifest, spawn_logging_generator};
    let manifest = slow_manifest(60);
    let app = production_app(Some(manifest.clone()), Duration::from_secs(5)).await;
    let ann = app.member("ann").await;
    let logs: Vec<_> = ["gen-a", "gen-b"].iter().map(|n| app.data_dir.join(format!("{n}.log"))).collect();
    let mut generators: Vec<_> = ["gen-a", "gen-b"]
        .iter()
        .zip(&logs)
        .map(|(name, log)| spawn_logging_generator(&app, name, &manifest, log, &[]))
        .collect();
    let shots = json!([
        {"prompt": "the boat leaves", "durationSeconds": 2},
        {"prompt": "the boat sails under a bridge", "durationSeconds": 2},
        {"prompt": "the boat passes a lighthouse", "durationSeconds": 2, "transition": "CROSSFADE"},
        {"prompt": "the boat comes home", "durationSeconds": 2}
    ]);
    let r = app
        .ok(CREATE, json!({"i": {"prompt": "a paper boat", "aspectRatio": "SQUARE", "shots": shots}}), Some(&ann))
        .await;
    let id = r["createVideo"]["id"].as_str().unwrap().to_owned();
    let done = wait_end(&app, &ann, &id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let job = app
        .ok("query($id: ID!) { job(id: $id) { attempts video { frameCount } } }", json!({"id": id}), Some(&ann))
        .await;
    assert_eq!(job["job"]["attempts"], 1, "{job}");
    assert_eq!(job["job"]["video"]["frameCount"], 96, "{job}");
    for g in &mut generators {
        g.kill().unwrap();
        g.wait().unwrap();
    }
    let text: Vec<String> = logs.iter().map(|l| std::fs::read_to_string(l).unwrap()).collect();
    let helped: usize = text.iter().map(|t| t.matches("made a shot of another worker's storyboard").count()).sum();
    assert!(helped >= 1, "no shot was made by the other generator:\n{}", text.join("\n"));
    fn files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .flat_map(
                        |e| if e.path().is_dir() { files(&e.path()) } else { vec![e.path().display().to_string()] },
                    )
                    .collect()
            })
            .unwrap_or_default()
    }
    let left = files(&app.data_dir.join("media").join("parts").join(&id));
    assert!(left.is_empty(), "kept shots left behind: {left:?}");
    app.stop().await;
}

/// While jobs wait, `etaSeconds` counts the seconds of video ahead: a 24 s storyboard in the
/// queue weighs six 4 s clips, for the jobs behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_estimate_counts_seconds_of_video() {
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(1);
            c.limits.max_queued_jobs_per_user = 5;
        })
        .start()
        .await;
    let ann = app.member("ann").await;
    // One clip made, so the service knows how long a second of video takes here.
    let r = app
        .ok(
            CREATE,
            json!({"i": {"prompt": "a red ball on grass", "durationSeconds": 2, "aspectRatio": "SQUARE"}}),
            Some(&ann),
        )
        .await;
    let done = wait_end(&app, &ann, r["createVideo"]["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    // Stop the worker: what follows waits.
    let _ = app.running.stop_workers.send(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (bob, cat, dan) = (app.member("bob").await, app.member("cat").await, app.member("dan").await);
    let clip = json!({"prompt": "a blue ball in the snow", "durationSeconds": 4, "aspectRatio": "SQUARE"});
    let board = json!({"prompt": "a blue ball", "aspectRatio": "SQUARE", "shots": [
        {"prompt": "on grass", "durationSeconds": 8}, {"prompt": "in snow", "durationSeconds": 8},
        {"prompt": "in a desert", "durationSeconds": 8}
    ]});
    let mut ids = vec![];
    for (token, input) in [(&bob, &clip), (&cat, &board), (&dan, &clip)] {
        let r = app.ok(CREATE, json!({"i": input}), Some(token)).await;
        ids.push((token.clone(), r["createVideo"]["id"].as_str().unwrap().to_owned()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut etas = vec![];
    for (n, (token, id)) in ids.iter().enumerate() {
        let j = app.ok(JOB, json!({"id": id}), Some(token)).await["job"].clone();
        assert_eq!(j["status"], "QUEUED", "{j}");
        assert_eq!(j["queuePosition"], n, "{j}");
        etas.push(j["etaSeconds"].as_f64().unwrap_or_else(|| panic!("no estimate: {j}")));
    }
    // One worker: the clip waits for 4 s of video, the storyboard for 28, the last clip for 32.
    assert!(etas[1] >= 5.0 * etas[0], "{etas:?}");
    assert!(etas[2] >= 6.0 * etas[0] && etas[2] > etas[1], "{etas:?}");
    app.stop().await;
}

/// Seconds each job waited for a worker (created → started), from the store.
async fn waits(app: &TestApp, ids: &[String]) -> Vec<f64> {
    let mut out = vec![];
    for id in ids {
        let job = app.running.store.job(app_core::types::JobId::parse(id).unwrap()).await.unwrap().unwrap();
        let started = job.started_at.expect("started");
        out.push((started - job.created_at).num_milliseconds() as f64 / 1000.0);
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The fairness test: ten members' 4 s clips on two workers wait, at the median, at most
/// twice as long beside one member's 60 s storyboard as without it (the storyboard makes way for
/// waiting jobs after each shot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_short_clips_are_not_starved_by_a_sixty_second_storyboard() {
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.queue.in_process_workers = Some(2);
            c.limits.redeem_per_ip_per_minute = 1000;
        })
        .start()
        .await;
    let mut members = vec![];
    for n in 0..11 {
        members.push(app.member(&format!("member{n}")).await);
    }
    let clip = |n: usize| json!({"prompt": format!("a small red ball on green grass, take {n}"), "durationSeconds": 4, "aspectRatio": "SQUARE", "audio": "SILENT"});
    let clips = |round: usize| {
        let (app, members) = (&app, &members);
        async move {
            let mut ids = vec![];
            for (n, token) in members.iter().take(10).enumerate() {
                let r = app.ok(CREATE, json!({"i": clip(round * 10 + n)}), Some(token)).await;
                ids.push(r["createVideo"]["id"].as_str().unwrap().to_owned());
            }
            for (id, token) in ids.iter().zip(members.iter()) {
                let j = wait_end(app, token, id).await;
                assert_eq!(j["status"], "SUCCEEDED", "{j}");
            }
            ids
        }
    };
    // Without the storyboard.
    let alone = median(waits(&app, &clips(0).await).await);
    // With a 60 s storyboard (eight shots) taken by a worker first.
    let shots: Vec<Value> =
        [8, 8, 8, 8, 7, 7, 7, 7].iter().map(|s| json!({"prompt": "the ball rolls on", "durationSeconds": s})).collect();
    let board = app
        .ok(
            CREATE,
            json!({"i": {"prompt": "a small blue ball", "aspectRatio": "SQUARE", "audio": "SILENT", "shots": shots}}),
            Some(&members[10]),
        )
        .await["createVideo"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = Instant::now();
    while app.ok(JOB, json!({"id": board}), Some(&members[10])).await["job"]["status"] == "QUEUED" {
        assert!(start.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let beside = median(waits(&app, &clips(1).await).await);
    eprintln!("median wait of ten 4 s clips: {alone:.2} s alone, {beside:.2} s beside a 60 s storyboard");
    assert!(beside <= 2.0 * alone, "median wait {beside:.2} s beside the storyboard, {alone:.2} s without it");
    // The storyboard still ends, as one 60 s video.
    let done = wait_end(&app, &members[10], &board).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert!((done["video"]["durationMs"].as_f64().unwrap() - 60_000.0).abs() <= 100.0, "{done}");
    app.stop().await;
}

/// A storyboard that made way and was cancelled while it waited (its worker never sees it again)
/// has its kept shots deleted by the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_shots_of_a_storyboard_cancelled_while_it_waits_are_deleted() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(0)).start().await;
    let ann = app.member("ann").await;
    let shots =
        json!([{"prompt": "the boat leaves", "durationSeconds": 2}, {"prompt": "it sails", "durationSeconds": 2}]);
    let r = app
        .ok(CREATE, json!({"i": {"prompt": "a paper boat", "aspectRatio": "SQUARE", "shots": shots}}), Some(&ann))
        .await;
    let id = r["createVideo"]["id"].as_str().unwrap().to_owned();
    // As a worker leaves them when the storyboard makes way after its first shot.
    let dir = app.data_dir.join("media").join("parts").join(&id).join("world-1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0.mp4"), b"a kept shot").unwrap();
    let c = app.ok("mutation($id: ID!) { cancelJob(id: $id) { status } }", json!({"id": id}), Some(&ann)).await;
    assert_eq!(c["cancelJob"]["status"], "CANCELLED", "{c}");
    assert!(!dir.join("0.mp4").exists(), "the kept shot is deleted with the job's end");
    app.stop().await;
}
