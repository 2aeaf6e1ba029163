//! Clips as phones, browsers and screen recorders make them (made here with ffmpeg): HEVC in MOV
//! rotated 90°, H.264 High 4:4:4, 10-bit H.264, VP9 in WebM, AV1 in MKV — each accepted by
//! `createCameo` (stored upright as an H.264 MP4) and answered by `verifyProvenance` (our own
//! video re-encoded into each is recognised); broken and hostile files answered with
//! `BAD_USER_INPUT` in words, never the decoder's text.

use std::process::Command;

use serde_json::{Value, json};

use crate::harness::*;

const CHALLENGE: &str = "mutation { startCameoVerification { id phrase expiresAt } }";
const CREATE_CAMEO: &str = "mutation($i: CreateCameoInput!) { createCameo(input: $i) { id status clipUrl } }";
const VERIFY: &str =
    "query($clip: Upload!) { verifyProvenance(clip: $clip) { fromUs videoId watermarkFound manifestValid } }";

/// `ffmpeg` run on `input` (written as `in.<ext_in>`) producing `out.<ext_out>`.
fn ffmpeg(input: Option<&[u8]>, pre: &[&str], args: &[&str], ext_out: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("sv-ingest-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, dst) = (dir.join("in.mp4"), dir.join(format!("out.{ext_out}")));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y"]).args(pre);
    if let Some(bytes) = input {
        std::fs::write(&src, bytes).unwrap();
        cmd.arg("-i").arg(&src);
    }
    cmd.args(args).arg(&dst);
    let st = cmd.status().expect("ffmpeg is installed by scripts/setup.sh");
    assert!(st.success(), "ffmpeg {pre:?} {args:?}");
    let out = std::fs::read(&dst).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// A camera-like source: 3 s of moving test pattern, 640x360 at 24 fps.
fn source(args: &[&str], ext: &str) -> Vec<u8> {
    ffmpeg(None, &["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24:duration=3"], args, ext)
}

/// The upload corpus: (what, bytes, file name).
fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        (
            "HEVC in MOV, rotated 90° (an iPhone held upright)",
            // (The rotation set on a copy: ffmpeg 5 drops it when encoding.)
            ffmpeg(
                Some(&source(&["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1"], "mov")),
                &[],
                &["-c", "copy", "-metadata:s:v:0", "rotate=90"],
                "mov",
            ),
            "IMG_0001.MOV",
        ),
        (
            "H.264 High 4:4:4 (a screen recording)",
            source(&["-c:v", "libx264", "-pix_fmt", "yuv444p"], "mp4"),
            "screen.mp4",
        ),
        ("10-bit H.264", source(&["-c:v", "libx264", "-pix_fmt", "yuv420p10le"], "mp4"), "ten-bit.mp4"),
        (
            "VP9 in WebM (a browser)",
            source(&["-c:v", "libvpx-vp9", "-b:v", "1M", "-deadline", "realtime", "-cpu-used", "8"], "webm"),
            "clip.webm",
        ),
        ("AV1 in MKV", source(&["-c:v", "libsvtav1", "-preset", "12"], "mkv"), "clip.mkv"),
    ]
}

async fn upload_cameo(app: &TestApp, token: &str, clip: Vec<u8>, name: &str) -> Value {
    let ch = app.ok(CHALLENGE, json!({}), Some(token)).await;
    let input =
        json!({"challengeId": ch["startCameoVerification"]["id"], "name": "me", "permission": "ONLY_ME", "clip": null});
    let operations = json!({"query": CREATE_CAMEO, "variables": {"i": input}}).to_string();
    let form = reqwest::multipart::Form::new()
        .text("operations", operations)
        .text("map", json!({"0": ["variables.i.clip"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(clip)
                .file_name(name.to_owned())
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let r = app.http.post(format!("{}/graphql", app.base)).bearer_auth(token).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn verify(app: &TestApp, clip: Vec<u8>) -> Value {
    let operations = json!({"query": VERIFY, "variables": {"clip": null}}).to_string();
    let form = reqwest::multipart::Form::new()
        .text("operations", operations)
        .text("map", json!({"0": ["variables.clip"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(clip).file_name("clip").mime_str("application/octet-stream").unwrap(),
        );
    let r = app.http.post(format!("{}/graphql", app.base)).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// What a message must never carry: the decoders' and the tools' own words.
fn assert_plain_words(r: &Value) {
    let m = r["errors"][0]["message"].as_str().unwrap_or("");
    for leak in ["OpenH264", "Native:", "Backtrace", "ffmpeg", "ffprobe", "Invalid data", "moov atom", "avcc"] {
        assert!(!m.contains(leak), "the message leaks {leak:?}: {m}");
    }
    assert!(!m.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clips_phones_record_are_accepted() {
    let app = app(Engine::Sqlite).tweak(|c| c.limits.redeem_per_ip_per_minute = 1000).start().await;
    let ann = app.member("ann").await;
    for (i, (what, clip, name)) in corpus().into_iter().enumerate() {
        let r = upload_cameo(&app, &ann, clip, name).await;
        assert!(r.get("errors").is_none(), "{what}: {r}");
        let cameo = &r["data"]["createCameo"];
        assert_eq!(cameo["status"], "PENDING_REVIEW", "{what}: {r}");
        // Stored once, as an H.264 MP4 the pipeline reads, upright.
        let url = cameo["clipUrl"].as_str().unwrap();
        let stored = app.http.get(url).bearer_auth(&ann).send().await.unwrap().bytes().await.unwrap().to_vec();
        let info = media::probe_mp4(&stored).unwrap_or_else(|e| panic!("{what}: stored clip unreadable: {e}"));
        if i == 0 {
            assert!(info.height > info.width, "{what}: stored upright, {}x{}", info.width, info.height);
        } else {
            assert!(info.width > info.height, "{what}: {}x{}", info.width, info.height);
        }
        assert!(media::decode_mp4_prefix(&stored, 4).is_ok(), "{what}: the pipeline decodes it");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_and_hostile_files_are_refused_in_words() {
    let app = app(Engine::Sqlite)
        .tweak(|c| {
            c.limits.redeem_per_ip_per_minute = 1000;
            c.limits.cameo_verifications_per_user_per_hour = 1000;
            c.limits.provenance_checks_per_ip_per_minute = 1000;
        })
        .start()
        .await;
    let ann = app.member("ann").await;
    let good = source(&["-c:v", "libx265", "-x265-params", "log-level=error"], "mov");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("random bytes", (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()),
        ("a text file", b"hello, this is not a video".to_vec()),
        ("cut short", good[..good.len() / 3].to_vec()),
        ("header only", good[..64.min(good.len())].to_vec()),
        (
            "a still image",
            ffmpeg(None, &["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=1:duration=1"], &["-frames:v", "1"], "png"),
        ),
        ("audio only", ffmpeg(None, &["-f", "lavfi", "-i", "sine=frequency=440:duration=3"], &["-c:a", "aac"], "m4a")),
        ("too small", source(&["-vf", "scale=64:36", "-c:v", "libx264"], "mp4")),
        ("MPEG-2 in MPEG-TS", source(&["-c:v", "mpeg2video"], "ts")),
    ];
    // Bytes flipped through a valid file: a fuzzed set (deterministic).
    for k in 0..6usize {
        let mut f = good.clone();
        let n = f.len();
        for j in 0..40 {
            let at = (k * 7919 + j * 104_729) % n;
            f[at] ^= 0x5a;
        }
        cases.push(("a damaged file", f));
    }
    for (what, clip) in cases {
        let started = std::time::Instant::now();
        let r = upload_cameo(&app, &ann, clip.clone(), "x.bin").await;
        if what == "a damaged file" && r.get("errors").is_none() {
            // Damage a decoder can conceal is not an error.
            continue;
        }
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{what}: {r}");
        assert_plain_words(&r);
        // (`verifyProvenance` reads clips of any size.)
        if what != "too small" {
            let v = verify(&app, clip).await;
            assert_eq!(code_of(&v), "BAD_USER_INPUT", "{what}: {v}");
            assert_plain_words(&v);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "{what} took {:?}", started.elapsed());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_provenance_answers_for_our_video_in_every_format() {
    let app = app(Engine::Sqlite).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = app.member("ann").await;
    let r = app
        .ok(
            "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }",
            json!({"i": {"prompt": "a lighthouse on a cliff at dusk", "durationSeconds": 3}}),
            Some(&ann),
        )
        .await;
    let id = r["createVideo"]["id"].as_str().unwrap().to_owned();
    let job = app
        .job_when_ended("query($id: ID!) { job(id: $id) { status } }", &ann, &id, std::time::Duration::from_secs(180))
        .await;
    assert_eq!(job["status"], "SUCCEEDED");
    let original = app.stored_video(&id);
    for (what, args, ext) in [
        (
            "HEVC in MOV",
            vec!["-c:v", "libx265", "-x265-params", "log-level=error", "-crf", "18", "-tag:v", "hvc1", "-an"],
            "mov",
        ),
        ("H.264 4:4:4", vec!["-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "18", "-an"], "mp4"),
        (
            "VP9 in WebM",
            vec!["-c:v", "libvpx-vp9", "-crf", "20", "-b:v", "0", "-deadline", "realtime", "-cpu-used", "8", "-an"],
            "webm",
        ),
    ] {
        let clip = ffmpeg(Some(&original), &[], &args, ext);
        let r = verify(&app, clip).await;
        assert!(r.get("errors").is_none(), "{what}: {r}");
        let v = &r["data"]["verifyProvenance"];
        assert_eq!(v["fromUs"], true, "{what}: {r}");
        assert_eq!(v["watermarkFound"], true, "{what}: {r}");
    }
    app.stop().await;
}
