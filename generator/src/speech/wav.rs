//! The one WAV flavour speech needs: RIFF/WAVE, 16-bit PCM, mono (what flite writes). Reading
//! checks the header and never panics on a malformed or truncated file; writing is for tests
//! and debugging (a clip to listen to, or to hand to a recogniser).

use audio::Mono;

/// The largest WAV file read (an hour of 48 kHz 16-bit mono is ~330 MB; a line of dialogue is
/// well under 1 MB): anything bigger is refused rather than allocated.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?]))
}

/// Decodes a 16-bit PCM mono WAV file into samples in −1..1 at the file's rate.
///
/// Accepts the plain PCM format tag and WAVE_FORMAT_EXTENSIBLE with 16-bit samples; skips
/// chunks it does not know (`LIST`, `fact`…), honours RIFF's pad byte after odd-sized chunks,
/// and takes a `data` size larger than the file (a writer that streamed and never patched the
/// header) as "up to the end". Errors say what is wrong with the header.
pub fn parse_pcm16_mono(bytes: &[u8]) -> Result<Mono, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!("WAV file of {} bytes is larger than the {MAX_BYTES} bytes read", bytes.len()));
    }
    if bytes.get(0..4) != Some(b"RIFF".as_slice()) || bytes.get(8..12) != Some(b"WAVE".as_slice()) {
        return Err("not a RIFF/WAVE file".into());
    }
    let mut at = 12usize;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while let (Some(id), Some(size)) = (bytes.get(at..at.saturating_add(4)), u32_at(bytes, at.saturating_add(4))) {
        let body = at.saturating_add(8);
        let size = size as usize;
        match id {
            b"fmt " => {
                if size < 16 {
                    return Err(format!("`fmt ` chunk of {size} bytes is too short"));
                }
                let tag = u16_at(bytes, body).ok_or("truncated `fmt ` chunk")?;
                let channels = u16_at(bytes, body.saturating_add(2)).ok_or("truncated `fmt ` chunk")?;
                let rate = u32_at(bytes, body.saturating_add(4)).ok_or("truncated `fmt ` chunk")?;
                let bits = u16_at(bytes, body.saturating_add(14)).ok_or("truncated `fmt ` chunk")?;
                format = Some((tag, channels, rate, bits));
            }
            b"data" => {
                let (tag, channels, rate, bits) = format.ok_or("`data` chunk before the `fmt ` chunk")?;
                if tag != FORMAT_PCM && tag != FORMAT_EXTENSIBLE {
                    return Err(format!("format tag {tag:#06x} is not PCM"));
                }
                if bits != 16 {
                    return Err(format!("{bits}-bit samples; expected 16-bit PCM"));
                }
                if channels != 1 {
                    return Err(format!("{channels} channels; expected mono"));
                }
                if !(1_000..=384_000).contains(&rate) {
                    return Err(format!("sample rate {rate} Hz is not plausible"));
                }
                let end = body.saturating_add(size).min(bytes.len());
                let data = bytes.get(body..end).ok_or("truncated `data` chunk")?;
                let samples = data
                    .chunks_exact(2)
                    .filter_map(|p| <[u8; 2]>::try_from(p).ok())
                    .map(|p| f32::from(i16::from_le_bytes(p)) / 32768.0)
                    .collect();
                return Ok(Mono { samples, rate });
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        at = match body.checked_add(size).and_then(|e| e.checked_add(size & 1)) {
            Some(next) => next,
            None => break,
        };
    }
    Err("no `data` chunk".into())
}

/// Encodes `clip` as a 16-bit PCM mono WAV file (samples clamped to −1..1).
pub fn write_pcm16_mono(clip: &Mono) -> Vec<u8> {
    let data_len = clip.samples.len().saturating_mul(2).min(u32::MAX as usize - 36);
    let frames = data_len / 2;
    let mut out = Vec::with_capacity(44 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&FORMAT_PCM.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&clip.rate.to_le_bytes());
    out.extend_from_slice(&clip.rate.saturating_mul(2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for s in clip.samples.iter().take(frames) {
        let v = if s.is_finite() { (s.clamp(-1.0, 1.0) * 32767.0).round() as i16 } else { 0 };
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_malformed_files() {
        let clip = Mono { samples: vec![0.0, 0.5, -0.5, 1.0, -1.0], rate: 16_000 };
        let bytes = write_pcm16_mono(&clip);
        let back = parse_pcm16_mono(&bytes).unwrap();
        assert_eq!(back.rate, 16_000);
        assert_eq!(back.samples.len(), 5);
        for (a, b) in clip.samples.iter().zip(&back.samples) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        // Every truncation is an error or a shorter clip, never a panic.
        for n in 0..bytes.len() {
            let _ = parse_pcm16_mono(&bytes[..n]);
        }
        // Junk, stereo, 8-bit, a huge data size.
        assert!(parse_pcm16_mono(b"hello").is_err());
        let mut stereo = bytes.clone();
        stereo[22] = 2;
        assert!(parse_pcm16_mono(&stereo).unwrap_err().contains("channels"));
        let mut eight = bytes.clone();
        eight[34] = 8;
        assert!(parse_pcm16_mono(&eight).unwrap_err().contains("16-bit"));
        let mut huge = bytes.clone();
        huge[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_pcm16_mono(&huge).unwrap().samples.len(), 5);
        let mut huge_fmt = bytes;
        huge_fmt[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_pcm16_mono(&huge_fmt).is_err());
    }
}
