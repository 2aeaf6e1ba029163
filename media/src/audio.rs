//! The sound track of a published MP4: 48 kHz PCM → Opus packets (libopus through the `opus`
//! crate, BSD), written beside the H.264 track by `encode::encode_mp4_with_audio`; and Opus
//! packets read back from an MP4 (a remix that keeps its source's sound copies them unchanged).
//!
//! Invariant: the audio track lasts as long as the video to within one Opus frame (20 ms): the
//! encoder is fed exactly the video's duration of samples (cut or padded with silence) plus its
//! own look-ahead, which the MP4's `dOps` pre-skip (312 samples) takes away again on playback.

use std::io::Cursor;

use mp4::Mp4Reader;

use crate::MediaError;

/// The only rate the sound track is written at (Opus's native rate).
pub const AUDIO_RATE: u32 = 48_000;
/// Samples per channel in one Opus packet (20 ms).
pub const OPUS_FRAME: usize = 960;
/// The encoder's look-ahead at 48 kHz, which the `dOps` box of the MP4 writer signals as pre-skip.
pub const PRE_SKIP: usize = 312;
/// Bits per second of the Opus stream (transparent for speech over ambience in stereo).
pub const OPUS_BITRATE: i32 = 128_000;

/// Interleaved PCM at [`AUDIO_RATE`], samples in −1..1.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    /// 1 (mono) or 2 (stereo, left first).
    pub channels: u16,
    /// Interleaved samples.
    pub samples: Vec<f32>,
}

/// Opus packets of 20 ms each, as they sit in an MP4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPackets {
    /// 1 or 2.
    pub channels: u16,
    /// One packet per 20 ms.
    pub packets: Vec<Vec<u8>>,
}

impl OpusPackets {
    /// Playback length in milliseconds (packets less the pre-skip).
    pub fn duration_ms(&self) -> u64 {
        let samples = (self.packets.len() * OPUS_FRAME).saturating_sub(PRE_SKIP) as u64;
        samples * 1000 / u64::from(AUDIO_RATE)
    }
}

/// What goes into the MP4 as its sound track.
#[derive(Debug, Clone, PartialEq)]
pub enum SoundTrack {
    /// Samples to encode.
    Pcm(Pcm),
    /// Packets encoded before (a remix keeping its source's sound), cut or padded with silence
    /// to the video's length.
    Opus(OpusPackets),
}

fn opus_err(what: &'static str) -> impl Fn(opus::Error) -> MediaError {
    move |e| MediaError::Audio(format!("{what}: {}", e.description()))
}

/// Encodes `pcm` into 20 ms Opus packets holding exactly `duration_ms` of sound after the
/// pre-skip (samples beyond it are dropped, missing ones are silence).
pub(crate) fn encode_opus(pcm: &Pcm, duration_ms: u64) -> Result<OpusPackets, MediaError> {
    let channels = match pcm.channels {
        1 => opus::Channels::Mono,
        2 => opus::Channels::Stereo,
        n => return Err(MediaError::Audio(format!("{n} audio channels; only mono and stereo are written"))),
    };
    if pcm.samples.iter().any(|s| !s.is_finite()) {
        return Err(MediaError::Audio("the sound track holds a sample that is not a number".into()));
    }
    let ch = usize::from(pcm.channels);
    let wanted = usize::try_from(duration_ms * u64::from(AUDIO_RATE) / 1000)
        .map_err(|_| MediaError::Audio("the sound track is too long".into()))?;
    let mut encoder =
        opus::Encoder::new(AUDIO_RATE, channels, opus::Application::Audio).map_err(opus_err("Opus encoder"))?;
    encoder.set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE)).map_err(opus_err("Opus bitrate"))?;
    let lookahead = encoder.get_lookahead().map_err(opus_err("Opus look-ahead"))?;
    if usize::try_from(lookahead).ok() != Some(PRE_SKIP) {
        // The MP4 writer signals a pre-skip of PRE_SKIP; another look-ahead would shift the sound.
        return Err(MediaError::Audio(format!("the Opus encoder's look-ahead is {lookahead}, expected {PRE_SKIP}")));
    }
    // The encoder's output lags its input by the look-ahead, which playback skips: feed that
    // much more, rounded up to whole packets.
    let packets = (wanted + PRE_SKIP).div_ceil(OPUS_FRAME);
    let mut frame = vec![0f32; OPUS_FRAME * ch];
    let mut out = Vec::with_capacity(packets);
    for p in 0..packets {
        let start = p * OPUS_FRAME * ch;
        // Samples past the end of the track and past the video's length are silence.
        let limit = wanted * ch;
        for (i, slot) in frame.iter_mut().enumerate() {
            let at = start + i;
            *slot = if at < limit { pcm.samples.get(at).copied().unwrap_or(0.0).clamp(-1.0, 1.0) } else { 0.0 };
        }
        out.push(encoder.encode_vec_float(&frame, 4000).map_err(opus_err("Opus encoding"))?);
    }
    Ok(OpusPackets { channels: pcm.channels, packets: out })
}

/// Fits packets encoded before to `duration_ms`: drops packets past it, or adds packets of
/// silence (encoded once) to reach it.
pub(crate) fn fit_packets(source: &OpusPackets, duration_ms: u64) -> Result<OpusPackets, MediaError> {
    let wanted = usize::try_from(duration_ms * u64::from(AUDIO_RATE) / 1000)
        .map_err(|_| MediaError::Audio("the sound track is too long".into()))?;
    let count = (wanted + PRE_SKIP).div_ceil(OPUS_FRAME);
    let mut packets: Vec<Vec<u8>> = source.packets.iter().take(count).cloned().collect();
    if packets.len() < count {
        let silence = encode_opus(
            &Pcm { channels: source.channels, samples: vec![0.0; OPUS_FRAME * usize::from(source.channels)] },
            20,
        )?;
        let quiet = silence.packets.last().cloned().unwrap_or_default();
        packets.resize(count, quiet);
    }
    Ok(OpusPackets { channels: source.channels, packets })
}

/// The Opus track of an MP4, if it has one (the lowest track id of a sound handler whose
/// sample entry is `Opus`). A file without sound answers `None`.
pub fn read_opus(bytes: &[u8]) -> Result<Option<OpusPackets>, MediaError> {
    let mut reader = Mp4Reader::read_header(Cursor::new(bytes), bytes.len() as u64)?;
    let Some((track_id, channels)) = opus_track(bytes, &reader) else {
        return Ok(None);
    };
    let count = reader.sample_count(track_id)?;
    // The count comes from the file: bounded by what its bytes can hold before allocating.
    let mut packets = Vec::with_capacity((count as usize).min(bytes.len() / 8).min(1 << 16));
    for sample_id in 1..=count {
        let sample = reader
            .read_sample(track_id, sample_id)?
            .ok_or(MediaError::UnsupportedMp4("sample table points past the file"))?;
        packets.push(sample.bytes.to_vec());
    }
    Ok(Some(OpusPackets { channels, packets }))
}

/// Decodes an MP4's Opus track to interleaved PCM at [`AUDIO_RATE`] (pre-skip removed); `None`
/// for a file without sound.
pub fn decode_opus(bytes: &[u8]) -> Result<Option<Pcm>, MediaError> {
    let Some(track) = read_opus(bytes)? else {
        return Ok(None);
    };
    let channels = match track.channels {
        1 => opus::Channels::Mono,
        _ => opus::Channels::Stereo,
    };
    let ch = if track.channels == 1 { 1 } else { 2 };
    let mut decoder = opus::Decoder::new(AUDIO_RATE, channels).map_err(opus_err("Opus decoder"))?;
    let mut samples = Vec::with_capacity(track.packets.len() * OPUS_FRAME * ch);
    // The longest Opus packet is 120 ms.
    let mut buffer = vec![0f32; 5760 * ch];
    for packet in &track.packets {
        let n = decoder.decode_float(packet, &mut buffer, false).map_err(opus_err("Opus decoding"))?;
        samples.extend_from_slice(buffer.get(..n * ch).unwrap_or_default());
    }
    let skip = (PRE_SKIP * ch).min(samples.len());
    samples.drain(..skip);
    Ok(Some(Pcm { channels: track.channels, samples }))
}

/// Id and channel count of the Opus track, found by walking `moov/trak` for a `soun` handler
/// whose `stsd` holds an `Opus` entry (the `mp4` crate does not know Opus entries).
fn opus_track(bytes: &[u8], reader: &Mp4Reader<Cursor<&[u8]>>) -> Option<(u32, u16)> {
    let mut found: Option<(u32, u16)> = None;
    for (&id, track) in reader.tracks() {
        if track.trak.mdia.hdlr.handler_type.to_string() != "soun" {
            continue;
        }
        if let Some(channels) = opus_channels(bytes, id)
            && found.is_none_or(|(best, _)| id < best)
        {
            found = Some((id, channels));
        }
    }
    found
}

/// The channel count in the `Opus` sample entry of track `track_id`, read from the boxes.
fn opus_channels(bytes: &[u8], track_id: u32) -> Option<u16> {
    let moov = child(bytes, b"moov")?;
    let mut rest = moov;
    while let Some((kind, body, tail)) = next_box(rest) {
        rest = tail;
        if &kind != b"trak" {
            continue;
        }
        let tkhd = child(body, b"tkhd")?;
        let version = *tkhd.first()?;
        // tkhd: version/flags (4), then times (4+4 or 8+8), then the track id.
        let at = if version == 1 { 20 } else { 12 };
        let id = u32::from_be_bytes(tkhd.get(at..at + 4)?.try_into().ok()?);
        if id != track_id {
            continue;
        }
        let stsd = child(child(child(child(body, b"mdia")?, b"minf")?, b"stbl")?, b"stsd")?;
        // stsd: version/flags (4), entry count (4), then entries.
        let (kind, entry, _) = next_box(stsd.get(8..)?)?;
        if &kind != b"Opus" {
            return None;
        }
        // AudioSampleEntry: reserved (6), data reference index (2), reserved (8), channel count.
        return Some(u16::from_be_bytes(entry.get(16..18)?.try_into().ok()?));
    }
    None
}

/// The body of the first child box of `parent` of kind `kind`.
fn child<'a>(parent: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut rest = parent;
    while let Some((k, body, tail)) = next_box(rest) {
        if &k == kind {
            return Some(body);
        }
        rest = tail;
    }
    None
}

/// The first box of `bytes`: its kind, its body and what follows it.
fn next_box(bytes: &[u8]) -> Option<([u8; 4], &[u8], &[u8])> {
    let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    let (header, size) = match size {
        1 => (16, usize::try_from(u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?)).ok()?),
        0 => (8, bytes.len()),
        n => (8, n),
    };
    if size < header {
        return None;
    }
    Some((kind, bytes.get(header..size)?, bytes.get(size..)?))
}
