//! The finishing stages run shot by shot, so a long video never has all its frames in memory:
//! each shot, as it comes from the model (or from the shots a delivery kept), is scored by the
//! frame check, joined to the video so far (a cut, or a crossfade over the frames still held
//! back), marked (visible and invisible, at its place in the whole video) and handed to the
//! H.264 encoder, which keeps only compressed packets; [`Assembly::finish`] muxes them with the
//! sound track.
//!
//! Invariant: the frames pushed to the encoder are exactly those `storyboard::join` followed by
//! `Finisher::watermark_run` over the whole clip would give: the last
//! [`CROSSFADE_SECONDS`](crate::storyboard::CROSSFADE_SECONDS)`/2` of the video so far are held
//! back unmarked (a crossfade into the next shot blends them), and every mark is drawn at the
//! frame's index in the whole video. Memory: one shot, the held-back frames, the packets.

use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use jobs::Transition;
use media::{EncodeOptions, EncodedVideo, H264Stream, SoundTrack};
use uuid::Uuid;

use crate::finish::{Finisher, FrameCheck, ShotChecks};
use crate::pipeline::Frames;
use crate::{GenError, GenResult};

/// A video being finished shot by shot.
pub struct Assembly {
    finisher: Arc<Finisher>,
    author: String,
    video_id: Uuid,
    checks: ShotChecks,
    encoder: Option<H264Stream>,
    /// The end of the video so far, not yet marked (a crossfade may still blend it).
    held: Option<Frames>,
    /// Index in the whole video of the next frame to mark.
    next: usize,
    /// Which frame becomes the thumbnail, and that frame once marked (else the last one marked).
    thumbnail_at: usize,
    thumbnail: Option<Vec<u8>>,
    last: Option<Vec<u8>>,
    /// The invisible mark's payload.
    watermark_id: u64,
    /// Frames in each shot, as added, and their rate.
    shot_frames: Vec<usize>,
    fps: u32,
    /// Time spent marking.
    pub watermark: Duration,
}

/// What [`Assembly::finish`] made.
pub struct Assembled {
    /// The encoded MP4 (not yet signed).
    pub video: EncodedVideo,
    /// JPEG thumbnail of the middle frame, as published (marked).
    pub thumbnail: Vec<u8>,
    /// The frame check over every shot.
    pub check: FrameCheck,
    /// The invisible mark's payload.
    pub watermark_id: u64,
}

impl Assembly {
    /// Starts a video of `shots` shots and `total_frames` frames (for the thumbnail's place) by
    /// `author`.
    pub fn new(finisher: Arc<Finisher>, author: &str, video_id: Uuid, shots: usize, total_frames: usize) -> Self {
        Self {
            finisher,
            author: author.to_owned(),
            video_id,
            checks: ShotChecks::for_shots(shots),
            encoder: None,
            held: None,
            next: 0,
            thumbnail_at: total_frames / 2,
            thumbnail: None,
            last: None,
            watermark_id: moderation::watermark::payload_for_video(video_id.as_bytes()),
            shot_frames: Vec::new(),
            fps: 0,
            watermark: Duration::ZERO,
        }
    }

    /// Frames in each shot added so far.
    pub fn shot_frames(&self) -> &[usize] {
        &self.shot_frames
    }

    /// Frames per second of the shots added (0 before the first).
    pub fn fps(&self) -> u32 {
        self.fps
    }

    /// Time spent in the frame check so far.
    pub fn moderate(&self) -> Duration {
        self.checks.elapsed()
    }

    /// Whether the frames checked so far already block the video (nothing after can undo it).
    pub fn blocked(&self) -> bool {
        self.finisher.blocks(&self.checks)
    }

    /// Adds the next shot, which begins with `transition` (ignored on the first): checks it,
    /// joins it, marks and encodes all of the video so far but its held-back end. Blocking.
    pub fn add(&mut self, shot: Frames, transition: Transition) -> GenResult<()> {
        self.finisher.check_shot(&mut self.checks, &shot)?;
        self.shot_frames.push(shot.rgb.len());
        self.fps = shot.fps;
        let (ready, held) = join_held(self.held.take(), shot, transition)?;
        let size = (held.width, held.height, held.fps);
        self.mark_and_encode(ready, size)?;
        self.held = Some(held);
        Ok(())
    }

    /// Marks the held-back end, then muxes the video with `sound`; the thumbnail and the frame
    /// check's conclusion come with it. Blocking.
    pub fn finish(mut self, sound: Option<&SoundTrack>) -> GenResult<Assembled> {
        if let Some(held) = self.held.take() {
            let Frames { width, height, fps, rgb } = held;
            self.mark_and_encode(rgb, (width, height, fps))?;
        }
        let encoder_err = |e: media::MediaError| GenError::Model { model: "encoder", message: e.to_string() };
        let encoder = self.encoder.take().ok_or(GenError::Model { model: "encoder", message: "no frames".into() })?;
        let video = encoder.finish(sound).map_err(encoder_err)?;
        let thumbnail = match self.thumbnail.as_ref().or(self.last.as_ref()) {
            Some(frame) => media::thumbnail_jpeg(video.width, video.height, frame, crate::worker::THUMBNAIL_SIDE)
                .map_err(encoder_err)?,
            None => return Err(GenError::Model { model: "encoder", message: "no thumbnail frame".into() }),
        };
        let check = self.finisher.conclude(self.checks)?;
        Ok(Assembled { video, thumbnail, check, watermark_id: self.watermark_id })
    }

    /// The frame check's conclusion alone, for a video the check blocked (nothing is encoded).
    /// Blocking.
    pub fn finish_check(self) -> GenResult<FrameCheck> {
        self.finisher.conclude(self.checks)
    }

    fn mark_and_encode(&mut self, mut rgb: Vec<Vec<u8>>, (width, height, fps): (usize, usize, u32)) -> GenResult<()> {
        if rgb.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        self.finisher.watermark_run(&mut rgb, self.next, (width, height, fps), &self.author, self.video_id)?;
        self.watermark += started.elapsed();
        let encoder_err = |e: media::MediaError| GenError::Model { model: "encoder", message: e.to_string() };
        if self.encoder.is_none() {
            self.encoder =
                Some(H264Stream::new(width, height, &EncodeOptions::published_clip(fps)).map_err(encoder_err)?);
        }
        let Some(encoder) = self.encoder.as_mut() else { return Ok(()) };
        for (i, frame) in rgb.iter().enumerate() {
            encoder.push(frame).map_err(encoder_err)?;
            if self.next + i == self.thumbnail_at {
                self.thumbnail = Some(frame.clone());
            }
        }
        self.next += rgb.len();
        self.last = rgb.pop();
        Ok(())
    }
}

/// Joins `shot` to the held-back end of the video so far: the frames now final (to mark and
/// encode, in order), and the new end to hold back.
fn join_held(held: Option<Frames>, shot: Frames, transition: Transition) -> GenResult<(Vec<Vec<u8>>, Frames)> {
    let joined = match held {
        None => shot,
        Some(held) => crate::storyboard::join(vec![held, shot], &[Transition::Cut, transition])?,
    };
    let hold = held_frames(joined.fps).min(joined.rgb.len());
    let Frames { width, height, fps, mut rgb } = joined;
    let tail = rgb.split_off(rgb.len() - hold);
    Ok((rgb, Frames { width, height, fps, rgb: tail }))
}

/// Frames held back at the end of the video so far: half a crossfade, as `storyboard::join`
/// blends on either side of a boundary.
fn held_frames(fps: u32) -> usize {
    ((crate::storyboard::CROSSFADE_SECONDS * f64::from(fps)) / 2.0).round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shot(first: u8, frames: usize) -> Frames {
        Frames { width: 2, height: 1, fps: 12, rgb: (0..frames).map(|i| vec![first + i as u8 * 3; 6]).collect() }
    }

    #[test]
    fn joining_shot_by_shot_gives_the_frames_of_the_whole_join() {
        // Cuts, crossfades, and shots shorter than half a crossfade (3 frames at 12 fps).
        let cases: Vec<Vec<(usize, Transition)>> = vec![
            vec![(12, Transition::Cut), (24, Transition::Cut)],
            vec![(12, Transition::Cut), (12, Transition::Crossfade), (12, Transition::Crossfade)],
            vec![(12, Transition::Cut), (1, Transition::Crossfade), (2, Transition::Crossfade), (9, Transition::Cut)],
            vec![(2, Transition::Cut), (12, Transition::Crossfade)],
            vec![(5, Transition::Cut)],
        ];
        for case in cases {
            let shots: Vec<Frames> = case.iter().enumerate().map(|(i, &(n, _))| shot(i as u8 * 40, n)).collect();
            let transitions: Vec<Transition> = case.iter().map(|&(_, t)| t).collect();
            let whole = crate::storyboard::join(shots.clone(), &transitions).unwrap().rgb;
            let (mut streamed, mut held) = (Vec::new(), None);
            for (s, &t) in shots.into_iter().zip(&transitions) {
                let (ready, rest) = join_held(held.take(), s, t).unwrap();
                streamed.extend(ready);
                held = Some(rest);
            }
            streamed.extend(held.unwrap().rgb);
            assert_eq!(streamed, whole, "{case:?}");
        }
    }
}
