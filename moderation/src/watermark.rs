//! Watermarks drawn into generated clips before they are encoded.
//!
//! Two marks, both applied to packed RGB frames (3 bytes per pixel, row-major):
//! - [`draw_visible`]: the app's logo and `@username`, semi-transparent, hopping between corners
//!   every two seconds so that cropping one corner does not remove it.
//! - [`embed`] / [`detect`]: an invisible 64-bit payload, spread over a key-seeded grid of smooth
//!   luma bumps, protected by a CRC-16 and a rate-1/2 convolutional code, and read back from the
//!   decoded video at its original size or after downscaling.
//!
//! Architecture invariant: pure functions over frame buffers; no I/O, no codec, no clock.
//!
//! The payload of a video is [`payload_for_video`] of its id, and a job's video takes the job's id,
//! so the worker marks a clip before the video row exists and every delivery marks the same payload.
//! The key is the deployment's (`APP_WATERMARK_KEY`, else `<data>/keys/watermark.key`, made once by
//! [`load_or_create_key`]); every API node and generator needs the same one.
//!
//! Two ways to read the mark. Blind decoding ([`Detection::payload`]) needs the CRC to match and a
//! confidence of at least [`MIN_CONFIDENCE`] (0.7): over 200,000 pure-noise trials none reached it,
//! and the CRC leaves 2⁻¹⁶ of the rest (`benches/watermark_robustness.rs`). On the tiny model's
//! noise-like frames it needs about 3 s of video (1–2 s clips reach 0.45–0.68, 3 s and longer
//! 0.80–0.90). The matched test ([`match_score`] ≥ [`MATCH_THRESHOLD`], 0.4) asks only how well the
//! soft bits agree with one known payload's codeword: on an unmarked clip the score spreads about
//! 1/√172 ≈ 0.076, so 0.4 is about 5.2 standard deviations, a chance match about 1e-7. The publish
//! gate uses it for the payload it expects; `verifyProvenance` decodes blind, and tests the video a
//! trusted manifest names. `tests/watermark.rs` checks PSNR ≥ 38 dB and recovery after a 2:1
//! downscale and an H.264 round trip; the bench measures ffmpeg re-encodes and false positives.

mod ecc;
mod font;
mod invisible;
mod visible;

pub use invisible::{
    CODED_BITS, Detection, GRID_COLS, GRID_ROWS, MIN_CONFIDENCE, PEAK_AMPLITUDE, coded_bits, decode_soft_bits, detect,
    embed,
};
pub use visible::{CORNER_PERIOD_SECONDS, Corner, corner_at, draw_visible, draw_visible_from, label_size};

/// Domain separation for [`payload_for_video`].
const PAYLOAD_CONTEXT: &[u8] = b"moderation.watermark.payload.v1";
/// Bytes in a watermark key.
pub const KEY_BYTES: usize = 32;

/// The 64-bit invisible-watermark payload for a video id (16 bytes): the first eight bytes,
/// big-endian, of SHA-256 over a context string and the id. Deterministic, so every delivery
/// of a job marks the same payload and the publish gate can recompute it.
pub fn payload_for_video(video_id: &[u8; 16]) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(PAYLOAD_CONTEXT).chain_update(video_id).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(first)
}

/// Reads the deployment's watermark key (hex, [`KEY_BYTES`] bytes) from `path`, creating a
/// random one (owner-readable only) on first use. Workers and the API must share it.
pub fn load_or_create_key(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Write};
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        return parse_key(text.trim()).ok_or_else(|| {
            Error::new(ErrorKind::InvalidData, format!("{}: expected {} hex characters", path.display(), KEY_BYTES * 2))
        });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let key: [u8; KEY_BYTES] = rand::random();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(hex.as_bytes())?;
            Ok(key.to_vec())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => load_or_create_key(path),
        Err(e) => Err(e),
    }
}

/// Parses a hex key of exactly [`KEY_BYTES`] bytes.
pub fn parse_key(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != KEY_BYTES * 2 || !hex.is_ascii() {
        return None;
    }
    (0..KEY_BYTES).map(|i| hex.get(2 * i..2 * i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// Smallest [`match_score`] at which a clip counts as carrying a *known* payload. The score of
/// an unmarked clip is a mean of [`CODED_BITS`] unit-RMS products, so its spread is about
/// `1/sqrt(CODED_BITS)` ≈ 0.076: 0.4 is 5.2 standard deviations, a chance match about 1e-7.
pub const MATCH_THRESHOLD: f64 = 0.4;

/// How well a detection's soft bits agree with the channel bits of `payload` (−1…1): the
/// matched test the publish gate runs when it knows which payload to expect. Far more
/// sensitive than blind decoding ([`Detection::payload`]), so short clips still verify.
pub fn match_score(detection: &Detection, payload: u64) -> f64 {
    let expected = coded_bits(payload);
    let n = expected.len().min(detection.bits.len());
    if n == 0 {
        return 0.0;
    }
    let energy: f64 = detection.bits.iter().take(n).map(|&b| f64::from(b) * f64::from(b)).sum::<f64>();
    if energy <= 0.0 {
        return 0.0;
    }
    let dot: f64 = detection
        .bits
        .iter()
        .zip(&expected)
        .map(|(&soft, &bit)| if bit { f64::from(soft) } else { -f64::from(soft) })
        .sum();
    dot / (energy.sqrt() * (n as f64).sqrt())
}

/// Why a watermark could not be drawn, embedded or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WatermarkError {
    /// Width or height is zero, too small for the mark, or the area overflows.
    #[error("frame size {width}x{height} is not supported (at least {min}x{min} needed)")]
    InvalidDimensions {
        /// Frame width in pixels.
        width: usize,
        /// Frame height in pixels.
        height: usize,
        /// Smallest side accepted.
        min: usize,
    },
    /// A frame buffer does not hold `width * height * 3` bytes.
    #[error("frame {index} holds {actual} bytes, expected {expected}")]
    FrameSize {
        /// Position of the offending frame.
        index: usize,
        /// `width * height * 3`.
        expected: usize,
        /// Bytes actually present.
        actual: usize,
    },
    /// No frames were given.
    #[error("no frames")]
    NoFrames,
    /// Frames per second must be positive.
    #[error("fps must be positive")]
    InvalidFps,
}

/// Checks that every frame is `width * height * 3` bytes and the size is at least `min` per side.
fn check_frames<F: AsRef<[u8]>>(frames: &[F], width: usize, height: usize, min: usize) -> Result<(), WatermarkError> {
    let expected = width.checked_mul(height).and_then(|area| area.checked_mul(3));
    let Some(expected) = expected.filter(|_| width >= min && height >= min) else {
        return Err(WatermarkError::InvalidDimensions { width, height, min });
    };
    if frames.is_empty() {
        return Err(WatermarkError::NoFrames);
    }
    match frames.iter().enumerate().find(|(_, frame)| frame.as_ref().len() != expected) {
        Some((index, frame)) => Err(WatermarkError::FrameSize { index, expected, actual: frame.as_ref().len() }),
        None => Ok(()),
    }
}
