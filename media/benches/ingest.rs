//! What reading an upload costs (`media::ingest::normalize`): the probe alone on a file kept as
//! it is, and the probe + decode + our H.264 encode on the clips phones record — 10 s and 30 s
//! of 1080p HEVC in MOV (an iPhone), 10 s of 720p VP9 in WebM (a browser). Prints the median of 3
//! runs (wall time, this machine) and this process's peak resident memory; the tools run under
//! `prlimit` (2 GiB address space each). Run: `cargo bench -p media --bench ingest`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // bench code

use std::process::Command;
use std::time::{Duration, Instant};

use media::ingest::{IngestLimits, normalize};

fn clip(dir: &std::path::Path, name: &str, src: &str, args: &[&str]) -> Vec<u8> {
    let path = dir.join(name);
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", src])
        .args(args)
        .arg(&path)
        .status()
        .expect("ffmpeg is installed by scripts/setup.sh");
    assert!(st.success(), "{name}");
    std::fs::read(&path).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("ingest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hevc = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1"];
    let cases = [
        (
            "H.264 baseline 720p, 10 s (kept as is)",
            clip(
                &dir,
                "base.mp4",
                "testsrc2=size=1280x720:rate=30:duration=10",
                &["-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast"],
            ),
        ),
        ("HEVC MOV 1080p, 10 s", clip(&dir, "h10.mov", "testsrc2=size=1920x1080:rate=30:duration=10", &hevc)),
        ("HEVC MOV 1080p, 30 s", clip(&dir, "h30.mov", "testsrc2=size=1920x1080:rate=30:duration=30", &hevc)),
        (
            "VP9 WebM 720p, 10 s",
            clip(
                &dir,
                "vp9.webm",
                "testsrc2=size=1280x720:rate=30:duration=10",
                &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "2M"],
            ),
        ),
    ];
    let limits = IngestLimits::default();
    println!("{:<42} {:>10} {:>10} {:>12}", "upload", "MB", "median s", "out (w×h, s)");
    for (what, bytes) in &cases {
        let mut times = vec![];
        let mut out = None;
        for _ in 0..3 {
            let t = Instant::now();
            let n = normalize(bytes, &limits, false).unwrap();
            times.push(t.elapsed());
            out = Some(n);
        }
        let n = out.unwrap();
        let info = media::probe_mp4(&n.mp4).unwrap();
        println!(
            "{what:<42} {:>10.1} {:>10.2} {:>5}×{:<4} {:.1}",
            bytes.len() as f64 / 1e6,
            median(times).as_secs_f64(),
            info.width,
            info.height,
            info.duration_ms as f64 / 1000.0
        );
    }
    println!("peak resident memory of this process: {:.0} MB", peak_rss_mb());
    let _ = std::fs::remove_dir_all(&dir);
}
