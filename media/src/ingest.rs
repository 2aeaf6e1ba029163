//! Clips as phones, browsers and screen recorders make them, turned into the one form the rest of
//! the pipeline reads: an H.264 (constrained baseline, 4:2:0, 8-bit) MP4, upright.
//!
//! Why a subprocess: the pipeline's own reader (openh264 + the `mp4` crate) decodes constrained
//! baseline H.264 in MP4 only. Everything else people upload — HEVC in MOV from an iPhone,
//! High 4:4:4 screen recordings, 10-bit files, VP9 WebM, AV1 MKV — goes through Debian's
//! `ffprobe`/`ffmpeg` (libav), run as a separate process under `prlimit` (address space and CPU
//! seconds) with a wall-clock deadline, so a hostile file can exhaust neither memory nor time of
//! the server, and a crash in a decoder is a failed upload, not a dead server. The tools' output
//! never reaches a client: every failure is an [`IngestError`] whose text is written for a person.
//!
//! [`normalize`] probes first ([`probe`]: container, codec, size, duration, rotation), refuses
//! what is outside [`IngestLimits`] before decoding anything, and only then re-encodes — once,
//! honouring rotation metadata, scaling down to [`IngestLimits::max_output_side`], keeping at most
//! [`IngestLimits::keep_seconds`]: `ffmpeg` decodes to RGB on a pipe, and the pipeline's own
//! H.264 encoder (openh264, constrained baseline) encodes frame by frame as they arrive, so one
//! frame is in memory at a time and no GPL encoder is involved. A file already in the pipeline's form is returned untouched
//! (`Normalized::reencoded == false`), so its bytes (and a C2PA manifest in them) stay as uploaded.
//!
//! Invariants: the input is written to a private temporary file (mode 0600, never an existing
//! name) that is removed on every path; at most one probe and one decode run per call; a tool
//! that runs past its deadline is killed; nothing a tool prints reaches a client.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Containers accepted (as ffprobe names them).
const CONTAINERS: &[&str] = &["mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm"];
/// Video codecs accepted (as ffprobe names them).
const CODECS: &[&str] = &["h264", "hevc", "vp8", "vp9", "av1"];

/// What an upload may be.
#[derive(Debug, Clone)]
pub struct IngestLimits {
    /// Largest file.
    pub max_bytes: usize,
    /// Longest clip (longer is refused).
    pub max_seconds: f64,
    /// Shortest side, after rotation.
    pub min_side: usize,
    /// Pixels of one frame (width × height).
    pub max_frame_pixels: usize,
    /// The re-encoded clip's longest side (larger clips are scaled down; 1280 by default).
    pub max_output_side: usize,
    /// How much of a longer-than-needed clip is kept (re-encoded), seconds.
    pub keep_seconds: f64,
    /// Wall-clock time for the probe and for the encode, each.
    pub timeout: Duration,
    /// Address space of each tool process, bytes.
    pub max_memory: u64,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_bytes: 200 * 1024 * 1024,
            max_seconds: 60.0,
            min_side: 64,
            max_frame_pixels: 4096 * 2304,
            max_output_side: 1280,
            keep_seconds: 60.0,
            timeout: Duration::from_secs(60),
            max_memory: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// Container (`mov,mp4,…` as ffprobe lists it, first name).
    pub container: String,
    /// Video codec (`h264`, `hevc`, …).
    pub codec: String,
    /// The codec profile as ffprobe names it (`High 4:4:4 Predictive`, …), if any.
    pub profile: Option<String>,
    /// Pixel format (`yuv420p`, `yuv420p10le`, …).
    pub pix_fmt: String,
    /// Width as shown (after rotation).
    pub width: usize,
    /// Height as shown (after rotation).
    pub height: usize,
    /// Rotation of the display matrix, degrees.
    pub rotation: i32,
    /// Length, milliseconds.
    pub duration_ms: u64,
    /// Average frames per second (0 when unknown).
    pub fps: f64,
}

impl Probed {
    /// Whether the pipeline's own reader (openh264) takes the file as it is: progressive 8-bit
    /// 4:2:0 H.264 in MP4/MOV, upright.
    fn native(&self) -> bool {
        let profile = self.profile.as_deref().unwrap_or("");
        self.codec == "h264"
            && matches!(self.pix_fmt.as_str(), "yuv420p" | "yuvj420p")
            && !["4:4:4", "4:2:2", "10", "Intra"].iter().any(|p| profile.contains(p))
            && self.rotation == 0
            && matches!(self.container.as_str(), "mov" | "mp4")
    }
}

/// An upload in the pipeline's form.
#[derive(Debug, Clone)]
pub struct Normalized<'a> {
    /// The H.264 MP4: the upload itself (borrowed, not copied) when it was not re-encoded.
    pub mp4: std::borrow::Cow<'a, [u8]>,
    /// What the upload was.
    pub source: Probed,
    /// Whether it was re-encoded (false: the upload's own bytes).
    pub reencoded: bool,
}

/// Why an upload cannot be used, in words for a person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    /// Nothing in it.
    #[error("the file is empty")]
    Empty,
    /// Larger than allowed.
    #[error("the file is {mb} MB; the limit is {max_mb} MB")]
    TooBig {
        /// Its size.
        mb: usize,
        /// The limit.
        max_mb: usize,
    },
    /// Not a video file the tools can read.
    #[error("this is not a video file we can read (it may be damaged or cut short)")]
    NotAVideo,
    /// A container we do not take.
    #[error("{0} files are not supported; upload an MP4, MOV, WebM or MKV video")]
    Container(String),
    /// A codec we do not take.
    #[error("video encoded as {0} is not supported; H.264, HEVC, VP8, VP9 and AV1 are")]
    Codec(String),
    /// Longer than allowed.
    #[error("the video is {secs:.1} s long; the limit is {max:.0} s")]
    TooLong {
        /// Its length.
        secs: f64,
        /// The limit.
        max: f64,
    },
    /// A side is too short.
    #[error("the video is {width}x{height}; each side must be at least {min} pixels")]
    TooSmall {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
        /// The limit.
        min: usize,
    },
    /// Frames too large.
    #[error("the video is {width}x{height}; frames up to 4096x2304 are supported")]
    TooLarge {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
    },
    /// The decoder gave up on the file's content.
    #[error("the video could not be decoded (it may be damaged or cut short)")]
    Undecodable,
    /// It took too long.
    #[error("the video took too long to read; try a shorter or smaller clip")]
    TimedOut,
    /// The server is missing its tools (logged; the client sees an internal error).
    #[error("the video tools are not installed on this server")]
    Unavailable,
}

/// A file in the system's temporary folder, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(ext: &str) -> Self {
        TempFile(std::env::temp_dir().join(format!("sv-ingest-{}-{}.{ext}", std::process::id(), unique())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A new file only this process's user can read (never follows an existing name).
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

fn unique() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    t ^ u128::from(N.fetch_add(1, Ordering::Relaxed)) << 64
}

/// Starts `tool` with `args` under `prlimit` (address space and CPU seconds of `limits`), its
/// stdout piped, its stderr drained to the log on a thread.
fn spawn_limited(tool: &str, args: &[&str], limits: &IngestLimits) -> Result<std::process::Child, IngestError> {
    let cpu = limits.timeout.as_secs().max(1).to_string();
    let mem = limits.max_memory.to_string();
    let mut child = Command::new("prlimit")
        .arg(format!("--as={mem}"))
        .arg(format!("--cpu={cpu}"))
        .arg("--")
        .arg(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            tracing::error!(tool, error = %e, "video tool could not start");
            IngestError::Unavailable
        })?;
    if let Some(mut err) = child.stderr.take() {
        let tool = tool.to_owned();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut err).take(64 * 1024).read_to_end(&mut buf);
            // Drain the rest so the tool never blocks on a full pipe.
            let _ = std::io::copy(&mut err, &mut std::io::sink());
            let text = String::from_utf8_lossy(&buf);
            if !text.trim().is_empty() {
                // For the operator's log only: never sent to the client.
                tracing::info!(tool, stderr = %text.trim(), "video tool said");
            }
        });
    }
    Ok(child)
}

/// Waits for `child` until `deadline`, killing it then. `Some(success)`, or `None` when killed.
fn finish_child(mut child: std::process::Child, tool: &str, deadline: Instant) -> Option<bool> {
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s.success()),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                tracing::warn!(tool, "video tool ran past its deadline; killed");
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                tracing::error!(tool, error = %e, "video tool lost");
                let _ = child.kill();
                return None;
            }
        }
    }
}

/// Runs `tool` to the end (killed at the deadline), collecting up to 1 MiB of stdout.
fn run(tool: &str, args: &[&str], limits: &IngestLimits) -> Result<(bool, Vec<u8>), IngestError> {
    let mut child = spawn_limited(tool, args, limits)?;
    let out = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut o) = out {
            let _ = (&mut o).take(1 << 20).read_to_end(&mut buf);
            let _ = std::io::copy(&mut o, &mut std::io::sink());
        }
        buf
    });
    let deadline = Instant::now() + limits.timeout;
    let finished = finish_child(child, tool, deadline);
    let stdout = reader.join().unwrap_or_default();
    match finished {
        Some(ok) => Ok((ok, stdout)),
        None => Err(IngestError::TimedOut),
    }
}

fn text(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_owned)
}

fn number(v: &serde_json::Value, key: &str) -> Option<f64> {
    v.get(key).and_then(|x| x.as_str().and_then(|s| s.parse().ok()).or_else(|| x.as_f64()))
}

/// Reads container, codec, size, rotation and length of the file at `path`.
pub fn probe(path: &Path, limits: &IngestLimits) -> Result<Probed, IngestError> {
    let p = path.to_string_lossy();
    let (ok, out) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-hide_banner",
            "-show_entries",
            "format=format_name,duration:stream=codec_type,codec_name,profile,pix_fmt,width,height,duration,avg_frame_rate,r_frame_rate:stream_side_data=rotation:stream_tags=rotate",
            "-of",
            "json",
            &p,
        ],
        limits,
    )?;
    if !ok {
        return Err(IngestError::NotAVideo);
    }
    let v: serde_json::Value = serde_json::from_slice(&out).map_err(|_| IngestError::NotAVideo)?;
    let format = v.get("format").ok_or(IngestError::NotAVideo)?;
    let container = text(format, "format_name").unwrap_or_default();
    let first = container.split(',').next().unwrap_or("").to_owned();
    if !container.split(',').any(|c| CONTAINERS.contains(&c)) {
        return Err(IngestError::Container(if first.is_empty() { "These".into() } else { first.to_uppercase() }));
    }
    let streams = v.get("streams").and_then(|s| s.as_array()).ok_or(IngestError::NotAVideo)?;
    let video = streams
        .iter()
        .find(|s| s.get("codec_type").and_then(|t| t.as_str()) == Some("video"))
        .ok_or(IngestError::NotAVideo)?;
    let codec = text(video, "codec_name").unwrap_or_default();
    if !CODECS.contains(&codec.as_str()) {
        return Err(IngestError::Codec(if codec.is_empty() {
            "an unknown codec".into()
        } else {
            codec.to_uppercase()
        }));
    }
    let rotation = video
        .get("side_data_list")
        .and_then(|l| l.as_array())
        .and_then(|l| l.iter().find_map(|d| d.get("rotation").and_then(|r| r.as_f64())))
        .or_else(|| video.get("tags").and_then(|t| number(t, "rotate")))
        .unwrap_or(0.0);
    let rotation = ((rotation.round() as i64).rem_euclid(360)) as i32;
    let (w, h) = (
        video.get("width").and_then(|x| x.as_u64()).unwrap_or(0) as usize,
        video.get("height").and_then(|x| x.as_u64()).unwrap_or(0) as usize,
    );
    let (width, height) = if rotation == 90 || rotation == 270 { (h, w) } else { (w, h) };
    let secs = number(format, "duration").or_else(|| number(video, "duration")).unwrap_or(0.0);
    Ok(Probed {
        container: first,
        codec,
        profile: text(video, "profile"),
        pix_fmt: text(video, "pix_fmt").unwrap_or_default(),
        width,
        height,
        rotation,
        duration_ms: (secs.max(0.0) * 1000.0).round() as u64,
        fps: rate(video, "avg_frame_rate").or_else(|| rate(video, "r_frame_rate")).unwrap_or(0.0),
    })
}

/// A rate as ffprobe writes it (`30000/1001`).
fn rate(v: &serde_json::Value, key: &str) -> Option<f64> {
    let t = v.get(key)?.as_str()?;
    let (n, d) = t.split_once('/').unwrap_or((t, "1"));
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then(|| n / d).filter(|r| r.is_finite())
}

fn check(p: &Probed, limits: &IngestLimits) -> Result<(), IngestError> {
    let secs = p.duration_ms as f64 / 1000.0;
    if secs > limits.max_seconds + 0.05 {
        return Err(IngestError::TooLong { secs, max: limits.max_seconds });
    }
    if p.width == 0 || p.height == 0 {
        return Err(IngestError::NotAVideo);
    }
    if p.width.min(p.height) < limits.min_side {
        return Err(IngestError::TooSmall { width: p.width, height: p.height, min: limits.min_side });
    }
    if p.width.saturating_mul(p.height) > limits.max_frame_pixels {
        return Err(IngestError::TooLarge { width: p.width, height: p.height });
    }
    Ok(())
}

/// The output size: the shown size fitted into `side`, even on both sides.
fn fitted(width: usize, height: usize, side: usize) -> (usize, usize) {
    let long = width.max(height).max(1);
    let scale = (side as f64 / long as f64).min(1.0);
    let even = |x: usize| ((x as f64 * scale) as usize / 2 * 2).max(2);
    (even(width), even(height))
}

/// Decodes the file through `ffmpeg` (upright, scaled, at a constant rate, as RGB on a pipe)
/// and encodes the frames with the pipeline's own H.264 encoder as they come: one frame in
/// memory at a time.
fn reencode(path: &Path, source: &Probed, limits: &IngestLimits) -> Result<Vec<u8>, IngestError> {
    let (w, h) = fitted(source.width, source.height, limits.max_output_side.max(2));
    let fps = if source.fps > 0.0 { source.fps.round().clamp(1.0, 60.0) as u32 } else { 30 };
    let keep = limits.keep_seconds.min(limits.max_seconds);
    let max_frames = (keep * f64::from(fps)).ceil() as usize + 1;
    // About 0.15 bits a pixel: sharp enough for the frame checks and the watermark reader.
    let kbps = ((w * h) as f64 * f64::from(fps) * 0.15 / 1000.0).clamp(300.0, 12_000.0) as u32;
    let opts = crate::EncodeOptions { fps, bitrate_kbps: kbps, keyframe_interval: fps * 2 };
    let mut stream = crate::H264Stream::new(w, h, &opts).map_err(|e| {
        tracing::warn!(error = %e, width = w, height = h, "upload re-encode refused its size");
        IngestError::Undecodable
    })?;
    let filter = format!("scale={w}:{h}:flags=bicubic,format=rgb24");
    let (secs, rate, input) = (format!("{keep:.3}"), fps.to_string(), path.to_string_lossy().into_owned());
    let mut child = spawn_limited(
        "ffmpeg",
        &[
            "-nostdin",
            "-v",
            "error",
            "-hide_banner",
            "-threads",
            "2",
            "-filter_threads",
            "1",
            "-i",
            &input,
            "-map",
            "0:v:0",
            "-an",
            "-sn",
            "-dn",
            "-t",
            &secs,
            "-vf",
            &filter,
            "-r",
            &rate,
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ],
        limits,
    )?;
    let deadline = Instant::now() + limits.timeout;
    let frame_bytes = w * h * 3;
    let mut frame = vec![0u8; frame_bytes];
    let mut frames = 0usize;
    let mut stdout = child.stdout.take();
    let outcome = loop {
        if Instant::now() >= deadline {
            break Err(IngestError::TimedOut);
        }
        let Some(out) = stdout.as_mut() else { break Err(IngestError::Unavailable) };
        match out.read_exact(&mut frame) {
            Ok(()) => {
                if let Err(e) = stream.push(&frame) {
                    tracing::warn!(error = %e, "upload re-encode failed");
                    break Err(IngestError::Undecodable);
                }
                frames += 1;
                if frames >= max_frames {
                    break Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break Ok(()),
            Err(_) => break Err(IngestError::Undecodable),
        }
    };
    drop(stdout);
    let finished = finish_child(child, "ffmpeg", deadline);
    outcome?;
    // A decoder that failed part-way still gave the frames before; a file with none is unusable.
    if frames == 0 {
        return Err(if finished == Some(false) { IngestError::Undecodable } else { IngestError::NotAVideo });
    }
    stream.finish(None).map(|v| v.mp4).map_err(|e| {
        tracing::warn!(error = %e, "upload re-encode could not be finished");
        IngestError::Undecodable
    })
}

/// An upload in the pipeline's form (see the module documentation). Blocking: call from a
/// blocking thread.
/// With `force`, a file the pipeline could read as it is is re-encoded too (for H.264 that
/// openh264 turns out not to decode).
pub fn normalize<'a>(bytes: &'a [u8], limits: &IngestLimits, force: bool) -> Result<Normalized<'a>, IngestError> {
    if bytes.is_empty() {
        return Err(IngestError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(IngestError::TooBig { mb: bytes.len().div_ceil(1 << 20), max_mb: limits.max_bytes >> 20 });
    }
    let input = TempFile::new("in");
    private_file(&input.0).and_then(|mut f| f.write_all(bytes)).map_err(|e| {
        tracing::error!(error = %e, "upload not written to the temporary folder");
        IngestError::Unavailable
    })?;
    let source = probe(&input.0, limits)?;
    check(&source, limits)?;
    if source.native() && !force {
        return Ok(Normalized { mp4: std::borrow::Cow::Borrowed(bytes), source, reencoded: false });
    }
    let mp4 = reencode(&input.0, &source, limits)?;
    Ok(Normalized { mp4: std::borrow::Cow::Owned(mp4), source, reencoded: true })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn sizes_fit_and_stay_even() {
        assert_eq!(fitted(640, 360, 1280), (640, 360));
        assert_eq!(fitted(3840, 2160, 1280), (1280, 720));
        assert_eq!(fitted(1080, 1920, 1280), (720, 1280));
        assert_eq!(fitted(641, 361, 1280), (640, 360));
    }

    #[test]
    fn rates_and_what_the_reader_takes() {
        let v = serde_json::json!({"avg_frame_rate": "30000/1001", "r_frame_rate": "0/0"});
        assert!((rate(&v, "avg_frame_rate").unwrap() - 29.97).abs() < 0.01);
        assert_eq!(rate(&v, "r_frame_rate"), None);
        let p = Probed {
            container: "mov".into(),
            codec: "h264".into(),
            profile: Some("High".into()),
            pix_fmt: "yuv420p".into(),
            width: 640,
            height: 360,
            rotation: 0,
            duration_ms: 3000,
            fps: 30.0,
        };
        assert!(p.native());
        assert!(!Probed { profile: Some("High 4:4:4 Predictive".into()), ..p.clone() }.native());
        assert!(!Probed { pix_fmt: "yuv420p10le".into(), ..p.clone() }.native());
        assert!(!Probed { rotation: 90, ..p.clone() }.native());
        assert!(!Probed { codec: "hevc".into(), ..p }.native());
    }

    /// A rotated HEVC MOV made by ffmpeg becomes an upright H.264 MP4 the reader decodes; garbage
    /// and a text file are refused in words.
    #[test]
    fn a_phone_clip_is_read_once_into_the_pipelines_form() {
        let dir = std::env::temp_dir().join(format!("sv-ingest-unit-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("clip.mov");
        let st = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=12:duration=2"])
            .args(["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1"])
            .arg(&path)
            .status()
            .expect("ffmpeg is installed by scripts/setup.sh");
        assert!(st.success());
        // Held upright: the rotation is metadata (set on a copy, as ffmpeg 5 drops it on encode).
        let upright = dir.join("upright.mov");
        let st = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&path)
            .args(["-c", "copy", "-metadata:s:v:0", "rotate=90"])
            .arg(&upright)
            .status()
            .unwrap();
        assert!(st.success());
        let path = upright;
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let n = normalize(&bytes, &IngestLimits::default(), false).unwrap();
        assert!(n.reencoded);
        assert_eq!(
            (n.source.codec.as_str(), n.source.rotation, n.source.width, n.source.height),
            ("hevc", 90, 240, 320)
        );
        let info = crate::probe_mp4(&n.mp4).unwrap();
        assert_eq!((info.width, info.height), (240, 320), "upright");
        assert!((1900..=2200).contains(&info.duration_ms), "{}", info.duration_ms);
        assert_eq!(crate::decode_mp4_prefix(&n.mp4, 30).unwrap().len(), 24);
        assert_eq!(normalize(b"hello", &IngestLimits::default(), false).unwrap_err(), IngestError::NotAVideo);
        assert_eq!(normalize(&[], &IngestLimits::default(), false).unwrap_err(), IngestError::Empty);
        let short = IngestLimits { max_seconds: 1.0, ..IngestLimits::default() };
        assert!(matches!(normalize(&bytes, &short, false), Err(IngestError::TooLong { .. })));
    }
}
