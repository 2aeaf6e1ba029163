//! Sign and verify time for a 512×512, 48-frame MP4: 10 runs each, median reported.
//!
//! `cargo run --release -p moderation --example provenance_bench`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};

use moderation::provenance::{self, CameoConsent, ProvenanceInfo};

const RUNS: usize = 10;

fn clip(w: usize, h: usize, frames: usize) -> Vec<Vec<u8>> {
    (0..frames)
        .map(|t| {
            let mut f = Vec::with_capacity(w * h * 3);
            for y in 0..h {
                for x in 0..w {
                    f.push(((x + t * 3) % 256) as u8);
                    f.push(((y * 2 + t) % 256) as u8);
                    f.push((((x ^ y) + t * 7) % 256) as u8);
                }
            }
            f
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let (w, h, frames) = (512, 512, 48);
    let mp4 = media::encode_mp4(
        w,
        h,
        &clip(w, h, frames),
        &media::EncodeOptions { fps: 24, bitrate_kbps: 4000, keyframe_interval: 48 },
    )
    .unwrap()
    .mp4;
    let dir = std::env::temp_dir().join(format!("provenance-bench-{}", std::process::id()));
    let signer = provenance::load_or_create_local_ca(&dir).unwrap();
    let root = provenance::local_ca_root_pem(&dir).unwrap();
    let info = ProvenanceInfo {
        title: "bench".into(),
        video_id: "vid-bench".into(),
        model_name: "tiny-denoiser".into(),
        model_version: "0.3.1".into(),
        generator_version: "bench".into(),
        remix_source: None,
        parts: vec![],
        cameos: vec![CameoConsent { cameo_id: "cameo-1".into(), owner_id: "user-1".into(), consent_version: 2 }],
    };

    let mut signed = Vec::new();
    let mut sign_times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        signed = provenance::sign_mp4(&mp4, &info, &signer).unwrap();
        sign_times.push(start.elapsed());
    }
    let mut verify_times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let found = provenance::verify_mp4_trusting(&signed, &root).unwrap();
        verify_times.push(start.elapsed());
        assert!(found.valid && found.trusted, "{:?}", found.validation_errors);
    }
    println!(
        "{w}x{h}x{frames} MP4: {} bytes, signed {} bytes (+{})",
        mp4.len(),
        signed.len(),
        signed.len() - mp4.len()
    );
    println!("sign   median {:?} over {RUNS} runs", median(sign_times));
    println!("verify median {:?} over {RUNS} runs (trusting the local root)", median(verify_times));
    let _ = std::fs::remove_dir_all(&dir);
}
