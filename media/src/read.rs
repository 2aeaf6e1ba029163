//! Reading MP4s back: facts from the header, every frame decoded to RGB, and box order.

use std::io::Cursor;

use mp4::{Mp4Reader, Mp4Track};
use openh264::OpenH264API;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

use crate::MediaError;

/// Facts about the video track of an MP4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mp4Info {
    /// Frame width in pixels.
    pub width: usize,
    /// Frame height in pixels.
    pub height: usize,
    /// Number of video samples (frames).
    pub frame_count: usize,
    /// Track length in milliseconds.
    pub duration_ms: u64,
    /// Average frames per second (`frame_count / duration`), 0 when the duration is 0.
    pub fps: f64,
}

/// Annex B start code written before every NAL unit handed to the decoder.
const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// An MP4 reader over bytes in memory.
type MemoryReader<'a> = Mp4Reader<Cursor<&'a [u8]>>;

/// Opens the MP4 and returns the reader with the id of its H.264 track.
fn open(bytes: &[u8]) -> Result<(MemoryReader<'_>, u32), MediaError> {
    let reader = Mp4Reader::read_header(Cursor::new(bytes), bytes.len() as u64)?;
    // Lowest id first, so a file with several H.264 tracks always answers the same way.
    let track_id = reader
        .tracks()
        .values()
        .filter(|t| t.trak.mdia.minf.stbl.stsd.avc1.is_some())
        .map(Mp4Track::track_id)
        .min()
        .ok_or(MediaError::UnsupportedMp4("no H.264 video track"))?;
    Ok((reader, track_id))
}

/// Reads size, frame count, duration and frame rate of the first H.264 track.
pub fn probe_mp4(bytes: &[u8]) -> Result<Mp4Info, MediaError> {
    let (reader, track_id) = open(bytes)?;
    let track = reader.tracks().get(&track_id).ok_or(MediaError::UnsupportedMp4("no H.264 video track"))?;
    let mdhd = &track.trak.mdia.mdhd;
    // Computed here rather than with `Mp4Track::duration`, which divides by a zero timescale.
    if mdhd.timescale == 0 {
        return Err(MediaError::UnsupportedMp4("video track has a zero timescale"));
    }
    let timescale = u64::from(mdhd.timescale);
    let duration_ms =
        mdhd.duration.checked_mul(1000).ok_or(MediaError::UnsupportedMp4("video track duration overflows"))?
            / timescale;
    let frame_count = track.trak.mdia.minf.stbl.stsz.sample_count as usize;
    let fps = if mdhd.duration == 0 { 0.0 } else { frame_count as f64 * timescale as f64 / mdhd.duration as f64 };
    Ok(Mp4Info {
        width: usize::from(track.width()),
        height: usize::from(track.height()),
        frame_count,
        duration_ms,
        fps,
    })
}

/// Decodes every frame of the first H.264 track to RGB (3 bytes per pixel, row-major).
pub fn decode_mp4(bytes: &[u8]) -> Result<Vec<Vec<u8>>, MediaError> {
    decode(bytes, None)
}

/// Decodes the first `max_frames` frames (in presentation order) of the first H.264 track, so
/// that a long upload cannot make the decoder hold every frame in memory.
pub fn decode_mp4_prefix(bytes: &[u8], max_frames: usize) -> Result<Vec<Vec<u8>>, MediaError> {
    decode(bytes, Some(max_frames))
}

fn decode(bytes: &[u8], max_frames: Option<usize>) -> Result<Vec<Vec<u8>>, MediaError> {
    // The sample count comes from the file: never trust it for an allocation.
    let mut frames = Vec::with_capacity(max_frames.unwrap_or(1024).min(1024));
    decode_each(bytes, max_frames, |rgb| frames.push(rgb))?;
    Ok(frames)
}

/// Decodes every frame of the first H.264 track in presentation order, handing each to `frame`
/// as packed RGB and keeping none: memory stays at one frame whatever the clip's length.
pub fn decode_mp4_each(bytes: &[u8], frame: impl FnMut(Vec<u8>)) -> Result<usize, MediaError> {
    decode_each(bytes, None, frame)
}

fn decode_each(bytes: &[u8], max_frames: Option<usize>, mut frame: impl FnMut(Vec<u8>)) -> Result<usize, MediaError> {
    let (mut reader, track_id) = open(bytes)?;
    let track = reader.tracks().get(&track_id).ok_or(MediaError::UnsupportedMp4("no H.264 video track"))?;
    let avcc =
        &track.trak.mdia.minf.stbl.stsd.avc1.as_ref().ok_or(MediaError::UnsupportedMp4("no H.264 video track"))?.avcc;
    let length_size = usize::from(avcc.length_size_minus_one & 0b11) + 1;
    // SPS/PPS live in avcC, not in the samples: a keyframe is only decodable with them in front.
    let mut parameter_sets = Vec::new();
    for nal in avcc.sequence_parameter_sets.iter().chain(&avcc.picture_parameter_sets) {
        parameter_sets.extend_from_slice(&START_CODE);
        parameter_sets.extend_from_slice(&nal.bytes);
    }
    if parameter_sets.is_empty() {
        return Err(MediaError::UnsupportedMp4("avcC box holds no SPS/PPS"));
    }
    let sample_count = reader.sample_count(track_id)?;

    // The crate's default flushes after every `decode`, pulling pictures out of OpenH264's
    // reorder buffer before later samples arrive. With B-frames (libx264's default) that breaks
    // display order and soon fails the decode outright. Without it the decoder hands pictures
    // out in presentation order itself, and `flush_remaining` below drains the tail.
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|source| MediaError::Decode { sample: 0, source })?;
    let mut frames = 0usize;
    let max = max_frames.unwrap_or(usize::MAX);
    let mut annex_b = Vec::new();
    for sample_id in 1..=sample_count {
        let sample = reader
            .read_sample(track_id, sample_id)?
            .ok_or(MediaError::UnsupportedMp4("sample table points past the file"))?;
        annex_b.clear();
        if sample.is_sync {
            annex_b.extend_from_slice(&parameter_sets);
        }
        avcc_to_annex_b(&sample.bytes, length_size, &mut annex_b)?;
        let decoded = decoder.decode(&annex_b).map_err(|source| MediaError::Decode { sample: sample_id, source })?;
        if let Some(yuv) = decoded {
            frame(to_rgb(&yuv));
            frames += 1;
        }
        if frames >= max {
            return Ok(frames);
        }
    }
    let remaining = decoder.flush_remaining().map_err(|source| MediaError::Decode { sample: sample_count, source })?;
    for yuv in remaining.iter().take(max - frames) {
        frame(to_rgb(yuv));
        frames += 1;
    }
    if max_frames.is_none() && frames != sample_count as usize {
        return Err(MediaError::UnsupportedMp4("decoder returned a different number of frames than samples"));
    }
    Ok(frames)
}

/// Converts one decoded picture to packed RGB.
fn to_rgb(yuv: &DecodedYUV<'_>) -> Vec<u8> {
    let (width, height) = yuv.dimensions();
    let mut rgb = vec![0; width * height * 3];
    yuv.write_rgb8(&mut rgb);
    rgb
}

/// Rewrites length-prefixed (AVCC) NAL units as start-code-prefixed (Annex B) ones.
fn avcc_to_annex_b(sample: &[u8], length_size: usize, out: &mut Vec<u8>) -> Result<(), MediaError> {
    let mut rest = sample;
    while !rest.is_empty() {
        let (prefix, tail) =
            rest.split_at_checked(length_size).ok_or(MediaError::UnsupportedMp4("sample ends inside a NAL length"))?;
        let len = prefix.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let (nal, tail) =
            tail.split_at_checked(len).ok_or(MediaError::UnsupportedMp4("NAL length runs past the sample"))?;
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
        rest = tail;
    }
    Ok(())
}

/// True when the top-level `moov` box comes before `mdat`, so players can start before the end.
pub fn is_faststart(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some((header, _)) = rest.split_first_chunk::<8>() {
        let [s0, s1, s2, s3, t0, t1, t2, t3] = *header;
        let kind = [t0, t1, t2, t3];
        match &kind {
            b"moov" => return true,
            b"mdat" => return false,
            _ => {}
        }
        let size = match u32::from_be_bytes([s0, s1, s2, s3]) {
            // Size 0: the box runs to the end of the file, so nothing follows it.
            0 => return false,
            // Size 1: a 64-bit size follows the type.
            1 => match rest.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(large) => u64::from_be_bytes(large),
                None => return false,
            },
            small => u64::from(small),
        };
        let Ok(size) = usize::try_from(size) else {
            return false;
        };
        if size < 8 {
            return false;
        }
        match rest.get(size..) {
            Some(next) => rest = next,
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A top-level box with the given type and payload length.
    fn boxed(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut out = ((payload + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.resize(payload + 8, 0xAB);
        out
    }

    #[test]
    fn faststart_follows_box_order() {
        let fast = [boxed(b"ftyp", 16), boxed(b"moov", 40), boxed(b"mdat", 100)].concat();
        let slow = [boxed(b"ftyp", 16), boxed(b"mdat", 100), boxed(b"moov", 40)].concat();
        assert!(is_faststart(&fast));
        assert!(!is_faststart(&slow));
        assert!(!is_faststart(&[boxed(b"ftyp", 16), boxed(b"free", 4)].concat()));
        assert!(!is_faststart(b""));
        assert!(!is_faststart(b"garbage that is not an mp4"));
    }

    #[test]
    fn faststart_handles_64_bit_sizes_and_truncation() {
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"free");
        large.extend_from_slice(&24u64.to_be_bytes());
        large.resize(24, 0);
        let file = [boxed(b"ftyp", 8), large, boxed(b"moov", 8)].concat();
        assert!(is_faststart(&file));
        // A box claiming more bytes than the file has stops the scan.
        let mut truncated = boxed(b"ftyp", 8);
        truncated.extend_from_slice(&1000u32.to_be_bytes());
        truncated.extend_from_slice(b"free");
        truncated.extend_from_slice(&boxed(b"moov", 8));
        assert!(!is_faststart(&truncated));
    }

    #[test]
    fn avcc_becomes_annex_b() {
        let sample = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x41];
        let mut out = Vec::new();
        avcc_to_annex_b(&sample, 4, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 0x88, 0, 0, 0, 1, 0x41]);

        let mut out = Vec::new();
        avcc_to_annex_b(&[0, 3, 1, 2, 3], 2, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 1, 2, 3]);
    }

    #[test]
    fn avcc_with_lying_lengths_is_refused() {
        let mut out = Vec::new();
        assert!(matches!(avcc_to_annex_b(&[0, 0, 0, 9, 1, 2], 4, &mut out), Err(MediaError::UnsupportedMp4(_))));
        assert!(matches!(avcc_to_annex_b(&[0, 0], 4, &mut out), Err(MediaError::UnsupportedMp4(_))));
    }

    #[test]
    fn non_mp4_bytes_are_an_error_not_a_panic() {
        assert!(probe_mp4(b"definitely not an mp4 file").is_err());
        assert!(decode_mp4(&[]).is_err());
    }
}
