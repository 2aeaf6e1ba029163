//! What the publish gate and `verifyProvenance` spend on one clip: read the C2PA manifest,
//! decode the MP4, read the invisible watermark (`ClipChecker::inspect`), on a signed, marked
//! 512×512×48 clip, and on the same clip re-encoded by libx264 at CRF 28 (manifest gone).
//! Run: `cargo bench -p backend --bench clip_check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // bench code

use std::time::{Duration, Instant};

use domain::moderation::ClipChecker;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("clip-check-{}", std::process::id()));
    let (w, h, n) = (512usize, 512usize, 48usize);
    // Smooth moving gradients with some texture: a stand-in for generated content.
    let mut frames: Vec<Vec<u8>> = (0..n)
        .map(|t| {
            let mut f = vec![0u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    let i = (y * w + x) * 3;
                    f[i] = ((x + 2 * t) % 256) as u8;
                    f[i + 1] = ((y + t) % 256) as u8;
                    f[i + 2] = (((x * y) / 97 + 3 * t) % 256) as u8;
                }
            }
            f
        })
        .collect();
    let key = [7u8; 32];
    let video_id = [9u8; 16];
    let payload = moderation::watermark::payload_for_video(&video_id);
    moderation::watermark::draw_visible(&mut frames, w, h, 12, "bench").unwrap();
    moderation::watermark::embed(&mut frames, w, h, payload, &key).unwrap();
    let opts = media::EncodeOptions { fps: 12, bitrate_kbps: 4000, keyframe_interval: 24 };
    let mp4 = media::encode_mp4(w, h, &frames, &opts).unwrap().mp4;
    let signer = moderation::provenance::load_or_create_local_ca(&dir).unwrap();
    let info = moderation::provenance::ProvenanceInfo {
        title: "bench".into(),
        video_id: "bench".into(),
        model_name: "tiny".into(),
        model_version: "1".into(),
        generator_version: "1".into(),
        remix_source: None,
        parts: vec![],
        cameos: vec![],
    };
    let signed = moderation::provenance::sign_mp4(&mp4, &info, &signer).unwrap();
    let roots = moderation::provenance::local_ca_root_pem(&dir).unwrap();
    let checker = ClipChecker::new(key.to_vec(), roots);

    let src = dir.join("in.mp4");
    let dst = dir.join("out.mp4");
    std::fs::write(&src, &signed).unwrap();
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&src)
        .args(["-c:v", "libx264", "-crf", "28", "-an"])
        .arg(&dst)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let reencoded = ok.then(|| std::fs::read(&dst).unwrap());

    println!("clip check, {w}x{h}x{n} frames, median of 10 runs");
    for (name, bytes) in [("signed original", Some(signed)), ("libx264 CRF 28 copy", reencoded)] {
        let Some(bytes) = bytes else {
            println!("  {name}: skipped (no ffmpeg; run scripts/setup.sh)");
            continue;
        };
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..10 {
            let start = Instant::now();
            last = Some(checker.inspect(&bytes));
            times.push(start.elapsed());
        }
        let found = last.unwrap();
        println!(
            "  {name:22} {:>7.1} ms  manifest trusted {}  watermark {}  matched {}",
            median(times).as_secs_f64() * 1000.0,
            found.manifest_trusted(),
            found.watermark == Some(payload),
            found.carries(payload),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
