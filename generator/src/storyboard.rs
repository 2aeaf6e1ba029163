//! Storyboards in the worker: the model request of each shot, and the joining of the shots'
//! frames into one clip.
//!
//! Shot *n* of a storyboard is generated from its own prompt followed by the storyboard's world
//! prompt (`Shot::model_prompt`: the shot's action first, so a long world prompt is what a model's
//! token limit cuts), with the seed `seed + n` (`Shot::model_seed`) (one lineage: the same storyboard makes the same
//! video, and shots differ from one another), and the same reference (the cameos' likeness) in
//! every shot. The shipped model has no first-frame input, so the last frame of a shot does not
//! condition the next; the shared world prompt, seed lineage and reference are what keep the
//! world.
//!
//! A shot that remakes part of an earlier video (`extendVideo`, `stitchVideos`: `Shot::source`)
//! is made again from that video's request (prompt, seed, likeness) rather than decoded from its
//! file, whose frames already carry a visible and an invisible mark: marking them again would
//! overlay two marks. The remade frames are compared with the file ([`difference`]) before they
//! are used, so a part that does not come out as it was fails the job instead of passing as it.
//!
//! Invariant: [`join`] returns exactly as many frames as the shots hold together, so a video
//! lasts as long as its shots: a cut puts the next shot's first frame after the last one; a
//! crossfade dissolves over [`CROSSFADE_SECONDS`] centred on the boundary, holding the outgoing
//! shot's last frame and the incoming shot's first frame where one runs out.

#[cfg(test)]
use jobs::Shot;
use jobs::{JobSpec, Transition};

use crate::pipeline::Frames;
use crate::{GenError, GenResult};

/// How long a crossfade takes, seconds.
pub const CROSSFADE_SECONDS: f64 = 0.5;

/// Each shot's prompt, seed and length (a video of one shot has none: its request is the job's).
/// A shot that remakes part of an earlier video keeps that video's prompt and seed
/// (`Shot::source`).
pub fn plan(spec: &JobSpec) -> Vec<(String, u64, u32)> {
    spec.shots
        .iter()
        .enumerate()
        .map(|(i, shot)| (shot.model_prompt(&spec.prompt), shot.model_seed(spec.seed, i), shot.seconds))
        .collect()
}

/// Side of the grey thumbnails [`difference`] compares.
const PROBE_SIDE: usize = 16;
/// Frames [`difference`] compares per shot, spread over its middle.
const PROBE_FRAMES: usize = 6;
/// Largest mean difference (0–255 grey levels) between a remade shot and the file it remakes
/// that still counts as the same frames: the marks and the H.264 encode of the earlier file
/// account for 1–3 levels; another seed or prompt gives 15 and more.
pub const SAME_FRAMES: f64 = 6.0;

/// How far a remade shot is from the video it remakes: the mean absolute difference of
/// `16x16` grey thumbnails ([`grey_thumbnail`]) of frames away from the shot's ends (where a
/// crossfade may blend), taken from `shot` and from the source's thumbnails starting at frame
/// `offset`. `None` when the sizes differ or the source is too short to hold the shot.
pub fn difference(shot: &Frames, source: &[Vec<f64>], source_size: (usize, usize), offset: usize) -> Option<f64> {
    if source_size != (shot.width, shot.height) || shot.rgb.is_empty() || offset + shot.rgb.len() > source.len() {
        return None;
    }
    let n = shot.rgb.len();
    // Away from either end by a crossfade's half, where the shot is long enough for that.
    let margin = ((CROSSFADE_SECONDS * f64::from(shot.fps)) / 2.0).ceil() as usize + 1;
    let (lo, hi) = if n > 2 * margin + 1 { (margin, n - margin) } else { (0, n) };
    let picks: Vec<usize> = (0..PROBE_FRAMES).map(|k| lo + (hi - lo - 1) * k / (PROBE_FRAMES - 1)).collect();
    let mut total = 0.0;
    for &i in &picks {
        let (Some(frame), Some(b)) = (shot.rgb.get(i), source.get(offset + i)) else { return None };
        let a = grey_thumbnail(frame, shot.width, shot.height);
        total += a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64;
    }
    Some(total / picks.len() as f64)
}

/// Mean grey level of each cell of a 16x16 grid over a packed RGB frame.
pub fn grey_thumbnail(rgb: &[u8], width: usize, height: usize) -> Vec<f64> {
    let mut sums = vec![0.0; PROBE_SIDE * PROBE_SIDE];
    let mut counts = vec![0u32; PROBE_SIDE * PROBE_SIDE];
    for (p, px) in rgb.chunks_exact(3).take(width * height).enumerate() {
        let (x, y) = (p % width.max(1), p / width.max(1));
        let cell = (y * PROBE_SIDE / height.max(1)) * PROBE_SIDE + x * PROBE_SIDE / width.max(1);
        let (Some(sum), Some(count)) = (sums.get_mut(cell), counts.get_mut(cell)) else { continue };
        if let [r, g, b] = px {
            *sum += 0.299 * f64::from(*r) + 0.587 * f64::from(*g) + 0.114 * f64::from(*b);
            *count += 1;
        }
    }
    sums.iter().zip(&counts).map(|(s, &c)| if c == 0 { 0.0 } else { s / f64::from(c) }).collect()
}

/// Joins the shots' frames in order; `transitions[i]` is how shot `i` begins (the first is
/// ignored; missing ones are cuts). Every shot must have the same size and rate.
pub fn join(shots: Vec<Frames>, transitions: &[Transition]) -> GenResult<Frames> {
    let mut shots = shots.into_iter();
    let Some(mut out) = shots.next() else {
        return Err(GenError::Model { model: "storyboard", message: "a storyboard without shots".into() });
    };
    for (i, next) in shots.enumerate() {
        let index = i + 1;
        if (next.width, next.height, next.fps) != (out.width, out.height, out.fps) {
            return Err(GenError::Model {
                model: "storyboard",
                message: format!(
                    "shot {} is {}x{} at {} fps, shot 1 {}x{} at {} fps",
                    index + 1,
                    next.width,
                    next.height,
                    next.fps,
                    out.width,
                    out.height,
                    out.fps
                ),
            });
        }
        let crossfade = transitions.get(index).copied().unwrap_or_default() == Transition::Crossfade;
        // Half the dissolve on either side of the boundary.
        let half = ((CROSSFADE_SECONDS * f64::from(out.fps)) / 2.0).round() as usize;
        let (Some(last), Some(first)) = (out.rgb.last().cloned(), next.rgb.first().cloned()) else {
            out.rgb.extend(next.rgb);
            continue;
        };
        if !crossfade || half == 0 {
            out.rgb.extend(next.rgb);
            continue;
        }
        // The frames around the boundary: the outgoing shot (its last frame held) blended into
        // the incoming one (its first frame held), as many as the two shots give up.
        let boundary = out.rgb.len();
        let start = boundary.saturating_sub(half);
        let taken = half.min(next.rgb.len());
        let span = (boundary - start) + taken;
        let blended: Vec<Vec<u8>> = (0..span)
            .map(|k| {
                let at = start + k;
                let outgoing = out.rgb.get(at).unwrap_or(&last);
                let incoming = if at < boundary { &first } else { next.rgb.get(at - boundary).unwrap_or(&first) };
                mix(outgoing, incoming, (k as f32 + 0.5) / span as f32)
            })
            .collect();
        out.rgb.truncate(start);
        out.rgb.extend(blended);
        out.rgb.extend(next.rgb.into_iter().skip(taken));
    }
    Ok(out)
}

/// `a` towards `b` by `alpha` (0: all `a`).
fn mix(a: &[u8], b: &[u8], alpha: f32) -> Vec<u8> {
    a.iter().zip(b).map(|(&x, &y)| (f32::from(x) * (1.0 - alpha) + f32::from(y) * alpha).round() as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shot(value: u8, frames: usize) -> Frames {
        Frames { width: 2, height: 1, fps: 12, rgb: vec![vec![value; 6]; frames] }
    }

    #[test]
    fn a_cut_puts_the_next_shot_after_the_last_frame() {
        let joined = join(vec![shot(0, 12), shot(200, 24)], &[Transition::Cut, Transition::Cut]).unwrap();
        assert_eq!(joined.rgb.len(), 36);
        assert!(joined.rgb[..12].iter().all(|f| f[0] == 0));
        assert!(joined.rgb[12..].iter().all(|f| f[0] == 200));
    }

    #[test]
    fn a_crossfade_dissolves_around_the_boundary_and_keeps_the_length() {
        let joined =
            join(vec![shot(0, 12), shot(240, 12), shot(0, 12)], &[Transition::Cut, Transition::Crossfade]).unwrap();
        assert_eq!(joined.rgb.len(), 36);
        let values: Vec<u8> = joined.rgb.iter().map(|f| f[0]).collect();
        // 0.5 s at 12 fps: three frames either side of frame 12, rising steadily.
        assert!(values[..9].iter().all(|&v| v == 0), "{values:?}");
        let fade = &values[9..15];
        assert!(fade.windows(2).all(|w| w[0] < w[1]), "{fade:?}");
        assert!(fade[0] > 0 && fade[5] < 240, "{fade:?}");
        // Shot 3 follows with a cut (no transition given).
        assert!(values[15..24].iter().all(|&v| v == 240), "{values:?}");
        assert!(values[24..].iter().all(|&v| v == 0), "{values:?}");
    }

    #[test]
    fn a_crossfade_into_a_shot_shorter_than_the_dissolve_holds_its_frame() {
        let joined = join(vec![shot(0, 12), shot(120, 1)], &[Transition::Cut, Transition::Crossfade]).unwrap();
        assert_eq!(joined.rgb.len(), 13);
        let values: Vec<u8> = joined.rgb.iter().map(|f| f[0]).collect();
        assert!(values[9..].windows(2).all(|w| w[0] < w[1]), "{values:?}");
    }

    #[test]
    fn shots_of_different_sizes_do_not_join() {
        let mut odd = shot(0, 4);
        odd.width = 4;
        odd.rgb = vec![vec![0; 12]; 4];
        assert!(join(vec![shot(0, 4), odd], &[]).is_err());
        assert!(join(vec![], &[]).is_err());
    }

    #[test]
    fn shot_prompts_lead_with_the_action() {
        let mut s = Shot { prompt: "the ball bounces.".into(), seconds: 2, transition: Transition::Cut, source: None };
        assert_eq!(s.model_prompt(" a red ball in a park "), "the ball bounces. a red ball in a park");
        assert_eq!(s.model_seed(u64::MAX, 1), 0);
        // A remade shot keeps the request it was made from.
        let id = jobs::ShotSource {
            video_id: jobs::VideoId(uuid::Uuid::nil()),
            offset_seconds: 0,
            prompt: "a ball. a park".into(),
            seed: 7,
            likeness_of: jobs::VideoId(uuid::Uuid::nil()),
            model: "m 1".into(),
        };
        s.source = Some(id);
        assert_eq!(s.model_prompt("anything"), "a ball. a park");
        assert_eq!(s.model_seed(100, 3), 7);
    }

    #[test]
    fn the_same_frames_differ_little_and_other_frames_much() {
        let frames = |seed: u32| Frames {
            width: 32,
            height: 32,
            fps: 12,
            rgb: (0..24u32)
                .map(|f| (0..32 * 32 * 3u32).map(|i| ((i * 7 + f * 3 + seed * 101) % 251) as u8).collect())
                .collect(),
        };
        let shot = frames(1);
        let mut source = frames(9).rgb;
        source.extend(frames(1).rgb.into_iter().map(|f| f.iter().map(|&v| v.saturating_add(2)).collect()));
        let source: Vec<Vec<f64>> = source.iter().map(|f| grey_thumbnail(f, 32, 32)).collect();
        let same = difference(&shot, &source, (32, 32), 24).unwrap();
        let other = difference(&shot, &source, (32, 32), 0).unwrap();
        assert!(same < SAME_FRAMES && other > SAME_FRAMES, "same {same}, other {other}");
        assert!(difference(&shot, &source, (16, 32), 0).is_none());
        assert!(difference(&shot, &source, (32, 32), 30).is_none());
    }
}
