//! RGB frames → YUV 4:2:0 → H.264 (openh264) → faststart MP4 (muxide), with an Opus sound
//! track beside the video when one is given (`audio.rs`).

use std::time::{Duration, Instant};

use muxide::api::{AudioCodec, MuxerBuilder, VideoCodec};
use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode, VuiConfig,
};
use openh264::formats::{RgbSliceU8, YUVBuffer};

use crate::MediaError;
use crate::audio::{AUDIO_RATE, OPUS_FRAME, OpusPackets, SoundTrack};

/// Largest width or height accepted by the encoder (H.264 levels top out near 4K).
pub const MAX_SIDE: usize = 4096;

/// Highest frame rate accepted; anything above is a caller bug rather than a real clip.
const MAX_FPS: u32 = 240;

/// Settings for one H.264/MP4 encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Frames per second of the output.
    pub fps: u32,
    /// Target bitrate in kilobits per second, e.g. 4000.
    pub bitrate_kbps: u32,
    /// Frames between IDR (seekable) frames, e.g. `fps * 2`.
    pub keyframe_interval: u32,
}

impl EncodeOptions {
    /// The settings of every clip the app publishes (the generator and its batch renderer): 4 Mbit/s
    /// and an IDR frame every two seconds, so a player can seek to any 2 s mark.
    pub fn published_clip(fps: u32) -> Self {
        Self { fps, bitrate_kbps: 4000, keyframe_interval: fps.saturating_mul(2).max(1) }
    }
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self { fps: 24, bitrate_kbps: 4000, keyframe_interval: 48 }
    }
}

/// Wall time spent in each stage of [`encode_mp4`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeTimings {
    /// RGB → YUV conversion plus H.264 encoding of every frame.
    pub encode: Duration,
    /// Writing the MP4 container.
    pub mux: Duration,
    /// Opus encoding of the sound track (zero without one).
    pub audio: Duration,
}

/// A finished MP4 and the facts a caller stores beside it.
#[derive(Debug, Clone)]
pub struct EncodedVideo {
    /// The MP4 file, `moov` before `mdat` (faststart).
    pub mp4: Vec<u8>,
    /// Number of video frames in the file.
    pub frame_count: usize,
    /// Playback length in milliseconds (`frame_count / fps`).
    pub duration_ms: u64,
    /// Frame width in pixels.
    pub width: usize,
    /// Frame height in pixels.
    pub height: usize,
    /// Playback length of the sound track in milliseconds; `None` for a silent file.
    pub audio_duration_ms: Option<u64>,
    /// Where the time went.
    pub timings: EncodeTimings,
}

/// Refuses sizes H.264 4:2:0 cannot carry (odd sides) and absurd ones.
pub(crate) fn check_dimensions(width: usize, height: usize) -> Result<(), MediaError> {
    let side_ok = |side: usize| (2..=MAX_SIDE).contains(&side) && side.is_multiple_of(2);
    if side_ok(width) && side_ok(height) {
        Ok(())
    } else {
        Err(MediaError::InvalidDimensions { width, height, max: MAX_SIDE })
    }
}

/// Checks options before any expensive work starts.
fn check_options(opts: &EncodeOptions) -> Result<(), MediaError> {
    if opts.fps == 0 || opts.fps > MAX_FPS {
        return Err(MediaError::InvalidOption { name: "fps", reason: "must be between 1 and 240" });
    }
    if opts.bitrate_kbps == 0 || opts.bitrate_kbps.checked_mul(1000).is_none() {
        return Err(MediaError::InvalidOption { name: "bitrate_kbps", reason: "must be positive and below 4294967" });
    }
    if opts.keyframe_interval == 0 {
        return Err(MediaError::InvalidOption { name: "keyframe_interval", reason: "must be at least 1" });
    }
    Ok(())
}

/// Encodes RGB frames (3 bytes per pixel, row-major) into a faststart H.264 MP4 without sound.
pub fn encode_mp4(
    width: usize,
    height: usize,
    frames: &[Vec<u8>],
    opts: &EncodeOptions,
) -> Result<EncodedVideo, MediaError> {
    encode_mp4_with_audio(width, height, frames, opts, None)
}

/// Encodes RGB frames into a faststart H.264 MP4 with `sound` (when given) as an Opus track
/// of the video's length (to within one 20 ms Opus frame; see `audio.rs`).
pub fn encode_mp4_with_audio(
    width: usize,
    height: usize,
    frames: &[Vec<u8>],
    opts: &EncodeOptions,
    sound: Option<&SoundTrack>,
) -> Result<EncodedVideo, MediaError> {
    let mut stream = H264Stream::new(width, height, opts)?;
    // Checked before encoding so a bad last frame does not waste the whole encode.
    let expected = width * height * 3;
    if let Some((index, frame)) = frames.iter().enumerate().find(|(_, f)| f.len() != expected) {
        return Err(MediaError::FrameSize { index, expected, actual: frame.len() });
    }
    for frame in frames {
        stream.push(frame)?;
    }
    stream.finish(sound)
}

/// An H.264 encode fed one frame at a time, so a long video never has all its frames in memory:
/// only their compressed packets are kept until [`H264Stream::finish`] muxes them (with the
/// sound) into a faststart MP4.
pub struct H264Stream {
    width: usize,
    height: usize,
    opts: EncodeOptions,
    encoder: Encoder,
    yuv: YUVBuffer,
    packets: Vec<Packet>,
    encode: Duration,
}

impl H264Stream {
    /// Starts an encode of `width` x `height` frames.
    pub fn new(width: usize, height: usize, opts: &EncodeOptions) -> Result<Self, MediaError> {
        check_dimensions(width, height)?;
        check_options(opts)?;
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(opts.bitrate_kbps.saturating_mul(1000)))
            .rate_control_mode(RateControlMode::Bitrate)
            .max_frame_rate(FrameRate::from_hz(opts.fps as f32))
            .intra_frame_period(IntraFramePeriod::from_num_frames(opts.keyframe_interval))
            // A skipped frame would leave a hole in the timeline and an empty MP4 sample.
            .skip_frames(false)
            // openh264's RGB→YUV is BT.601 limited range; say so, or players guess the colours.
            .vui(VuiConfig::bt601());
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(MediaError::Encode)?;
        Ok(Self {
            width,
            height,
            opts: *opts,
            encoder,
            yuv: YUVBuffer::new(width, height),
            packets: Vec::new(),
            encode: Duration::ZERO,
        })
    }

    /// Encodes the next frame (packed RGB, `width * height * 3` bytes): one packet per frame.
    pub fn push(&mut self, frame: &[u8]) -> Result<(), MediaError> {
        let expected = self.width * self.height * 3;
        if frame.len() != expected {
            return Err(MediaError::FrameSize { index: self.packets.len(), expected, actual: frame.len() });
        }
        let started = Instant::now();
        self.yuv.read_rgb8(RgbSliceU8::new(frame, (self.width, self.height)));
        let stream = self.encoder.encode(&self.yuv).map_err(MediaError::Encode)?;
        let keyframe = stream.frame_type() == FrameType::IDR;
        let annex_b = stream.to_vec();
        if annex_b.is_empty() {
            return Err(MediaError::Encode(openh264::Error::msg("encoder produced an empty frame")));
        }
        self.packets.push(Packet { annex_b, keyframe });
        self.encode += started.elapsed();
        Ok(())
    }

    /// Muxes the frames pushed, with `sound` (when given) as an Opus track of the video's length.
    pub fn finish(self, sound: Option<&SoundTrack>) -> Result<EncodedVideo, MediaError> {
        if self.packets.is_empty() {
            return Err(MediaError::NoFrames);
        }
        let (width, height, packets) = (self.width, self.height, self.packets);
        let frame_count = packets.len();
        let duration_ms = (frame_count as u64).saturating_mul(1000) / u64::from(self.opts.fps);

        let started = Instant::now();
        let opus = match sound {
            Some(SoundTrack::Pcm(pcm)) => Some(crate::audio::encode_opus(pcm, duration_ms)?),
            Some(SoundTrack::Opus(packets)) => Some(crate::audio::fit_packets(packets, duration_ms)?),
            None => None,
        };
        let audio = started.elapsed();

        let started = Instant::now();
        let mp4 = mux(width, height, &packets, self.opts.fps, opus.as_ref())?;
        let mux = started.elapsed();
        let audio_duration_ms = opus.as_ref().map(OpusPackets::duration_ms);
        tracing::debug!(
            width,
            height,
            frame_count,
            bytes = mp4.len(),
            encode_ms = self.encode.as_millis() as u64,
            mux_ms = mux.as_millis() as u64,
            "encoded mp4"
        );
        Ok(EncodedVideo {
            mp4,
            frame_count,
            duration_ms,
            width,
            height,
            audio_duration_ms,
            timings: EncodeTimings { encode: self.encode, mux, audio },
        })
    }
}

/// One encoded access unit in Annex B form.
struct Packet {
    annex_b: Vec<u8>,
    keyframe: bool,
}

/// Writes the packets into an MP4 with `moov` first; audio packets interleaved by time.
fn mux(
    width: usize,
    height: usize,
    packets: &[Packet],
    fps: u32,
    opus: Option<&OpusPackets>,
) -> Result<Vec<u8>, MediaError> {
    let too_big = || MediaError::InvalidDimensions { width, height, max: MAX_SIDE };
    let w = u32::try_from(width).map_err(|_| too_big())?;
    let h = u32::try_from(height).map_err(|_| too_big())?;
    let payload: usize = packets.iter().map(|p| p.annex_b.len()).sum::<usize>()
        + opus.map_or(0, |o| o.packets.iter().map(Vec::len).sum());
    let mut builder = MuxerBuilder::new(Vec::with_capacity(payload + 64 * 1024))
        .video(VideoCodec::H264, w, h, f64::from(fps))
        .with_fast_start(true);
    if let Some(o) = opus {
        builder = builder.audio(AudioCodec::Opus, AUDIO_RATE, o.channels);
    }
    let mut muxer = builder.build()?;
    // Audio packet times: the first starts at 0 and covers the encoder's look-ahead, which the
    // pre-skip hides on playback.
    let audio: Vec<(f64, &[u8])> = opus
        .map(|o| {
            o.packets
                .iter()
                .enumerate()
                .map(|(i, p)| ((i * OPUS_FRAME) as f64 / f64::from(AUDIO_RATE), p.as_slice()))
                .collect()
        })
        .unwrap_or_default();
    let mut next_audio = audio.iter().peekable();
    // Each video frame, then the sound until the next frame (the writer wants video first).
    for (index, packet) in packets.iter().enumerate() {
        let pts = index as f64 / f64::from(fps);
        muxer.write_video(pts, &packet.annex_b, packet.keyframe)?;
        let next = (index + 1) as f64 / f64::from(fps);
        while let Some((at, bytes)) = next_audio.next_if(|(at, _)| *at < next) {
            muxer.write_audio(*at, bytes)?;
        }
    }
    for (at, bytes) in next_audio {
        muxer.write_audio(*at, bytes)?;
    }
    muxer.finish_in_place()?;
    Ok(muxer.into_writer())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_zero_and_huge_sizes_are_refused() {
        assert!(check_dimensions(512, 512).is_ok());
        assert!(check_dimensions(2, 2).is_ok());
        for (w, h) in [(0, 64), (64, 0), (513, 512), (512, 511), (1, 1), (MAX_SIDE + 2, 64)] {
            assert!(matches!(check_dimensions(w, h), Err(MediaError::InvalidDimensions { .. })), "{w}x{h} accepted");
        }
    }

    #[test]
    fn options_out_of_range_are_refused() {
        assert!(check_options(&EncodeOptions::default()).is_ok());
        let bad = [
            EncodeOptions { fps: 0, ..EncodeOptions::default() },
            EncodeOptions { fps: 241, ..EncodeOptions::default() },
            EncodeOptions { bitrate_kbps: 0, ..EncodeOptions::default() },
            EncodeOptions { bitrate_kbps: u32::MAX, ..EncodeOptions::default() },
            EncodeOptions { keyframe_interval: 0, ..EncodeOptions::default() },
        ];
        for opts in bad {
            assert!(matches!(check_options(&opts), Err(MediaError::InvalidOption { .. })), "{opts:?} accepted");
        }
    }

    #[test]
    fn default_keyframe_interval_is_two_seconds() {
        let opts = EncodeOptions::default();
        assert_eq!(opts.keyframe_interval, opts.fps * 2);
    }

    #[test]
    fn published_clips_seek_every_two_seconds_at_any_rate() {
        for fps in [1, 12, 24, 30, 240] {
            let opts = EncodeOptions::published_clip(fps);
            assert_eq!(opts.keyframe_interval, fps * 2, "{fps} fps");
            assert!(check_options(&opts).is_ok(), "{opts:?} refused");
        }
        // Zero is refused by the encoder, not turned into a zero keyframe interval here.
        assert_eq!(EncodeOptions::published_clip(0).keyframe_interval, 1);
    }
}
