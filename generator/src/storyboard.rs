//! Storyboards in the worker: the model request of each shot, and the joining of the shots'
//! frames into one clip.
//!
//! Shot *n* of a storyboard is generated from its own prompt followed by the storyboard's world
//! prompt ([`shot_prompt`]: the shot's action first, so a long world prompt is what a model's
//! token limit cuts), with the seed `seed + n` (one lineage: the same storyboard makes the same
//! video, and shots differ from one another), and the same reference (the cameos' likeness) in
//! every shot. The shipped model has no first-frame input, so the last frame of a shot does not
//! condition the next; the shared world prompt, seed lineage and reference are what keep the
//! world.
//!
//! Invariant: [`join`] returns exactly as many frames as the shots hold together, so a video
//! lasts as long as its shots: a cut puts the next shot's first frame after the last one; a
//! crossfade dissolves over [`CROSSFADE_SECONDS`] centred on the boundary, holding the outgoing
//! shot's last frame and the incoming shot's first frame where one runs out.

use jobs::{JobSpec, Shot, Transition};

use crate::pipeline::Frames;
use crate::{GenError, GenResult};

/// How long a crossfade takes, seconds.
pub const CROSSFADE_SECONDS: f64 = 0.5;

/// The model prompt of a shot: what happens in it, then the world it happens in.
pub fn shot_prompt(world: &str, shot: &Shot) -> String {
    let action = shot.prompt.trim().trim_end_matches(['.', '!', '?']);
    format!("{action}. {}", world.trim())
}

/// The seed of shot `index`.
pub fn shot_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add(index as u64)
}

/// Each shot's prompt, seed and length (a video of one shot has none: its request is the job's).
pub fn plan(spec: &JobSpec) -> Vec<(String, u64, u32)> {
    spec.shots
        .iter()
        .enumerate()
        .map(|(i, shot)| (shot_prompt(&spec.prompt, shot), shot_seed(spec.seed, i), shot.seconds))
        .collect()
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
        let s = Shot { prompt: "the ball bounces.".into(), seconds: 2, transition: Transition::Cut };
        assert_eq!(shot_prompt(" a red ball in a park ", &s), "the ball bounces. a red ball in a park");
        assert_eq!(shot_seed(u64::MAX, 1), 0);
    }
}
