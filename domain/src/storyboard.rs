//! Storyboards: a video told in several shots. `createVideo` with `shots` makes one job whose
//! prompt describes the world the shots share (place, people, objects) and whose shots say what
//! happens, each for its own length; the generator makes them in order from one seed lineage, with
//! the same cameos' likeness in every shot, and joins them with cuts or crossfades under one
//! sound track, one watermark and one C2PA manifest.
//!
//! Invariant: a storyboard reaches the store only as [`check_shots`] returns it: 1 to
//! [`MAX_SHOTS`] shots, each prompt through `text::clean_text`, each length within the model's
//! range, the lengths adding up to at most the deployment's `max_storyboard_seconds`; the job's
//! `duration_seconds` is their sum. Every refusal names the shot (from 1) in words and has the
//! field `shots`.
//!
//! Dialogue: each shot's quoted lines are spoken in that shot ([`scripts`]; lines written in the
//! world prompt are spoken in the first shot), checked against that shot's length; a name is one
//! speaker across shots (`dialogue::join_shots`), so it keeps its voice.

use app_core::dialogue::{Line, Script, join_shots};
use app_core::error::{AppError, AppResult};
use app_core::model::{AudioMode, Job, Shot, ShotSource, Transition, Video};

use super::videos::ModelLimits;

/// Most shots in one storyboard.
pub const MAX_SHOTS: usize = 12;
/// Longest shot prompt, in characters.
pub const MAX_SHOT_PROMPT: usize = 500;

/// One shot as a member asks for it.
#[derive(Debug, Clone)]
pub struct ShotRequest {
    /// What happens.
    pub prompt: String,
    /// Seconds (checked against the model's range).
    pub duration_seconds: i32,
    /// How it follows the shot before.
    pub transition: Transition,
}

/// Checks a storyboard's shots (see the module invariant); `Ok(vec![])` when there are none.
pub fn check_shots(input: &[ShotRequest], model: &ModelLimits, max_total: u32) -> AppResult<Vec<Shot>> {
    if input.is_empty() {
        return Ok(vec![]);
    }
    if input.len() > MAX_SHOTS {
        return Err(AppError::bad_input(
            "shots",
            format!("a storyboard has at most {MAX_SHOTS} shots (this one has {})", input.len()),
        ));
    }
    let mut shots = Vec::with_capacity(input.len());
    let mut total = 0u32;
    for (i, shot) in input.iter().enumerate() {
        let n = i + 1;
        let prompt = super::text::clean_text("shots", &shot.prompt, MAX_SHOT_PROMPT, &format!("shot {n}'s prompt"))?;
        let seconds = u32::try_from(shot.duration_seconds).unwrap_or(0);
        if seconds < model.min_seconds || seconds > model.max_seconds {
            return Err(AppError::bad_input(
                "shots",
                format!("shot {n} must last between {} and {} seconds", model.min_seconds, model.max_seconds),
            ));
        }
        total += seconds;
        shots.push(Shot { prompt, seconds, transition: shot.transition, source: None });
    }
    if total > max_total {
        return Err(AppError::bad_input(
            "shots",
            format!("the shots add up to {total} seconds; a storyboard may last at most {max_total} seconds"),
        ));
    }
    Ok(shots)
}

/// The dialogue of each shot, in order: the world prompt's lines belong to the first shot (unless
/// it remakes an earlier video's shot, whose words already hold what it said).
pub fn scripts(world: &str, shots: &[Shot]) -> Vec<Script> {
    shots
        .iter()
        .enumerate()
        .map(|(i, shot)| {
            let own = Script::parse(&shot.prompt);
            if i > 0 || shot.source.is_some() {
                return own;
            }
            let mut first = Script::parse(world);
            first.dropped_lines += own.dropped_lines;
            first.cut_lines += own.cut_lines;
            first.lines.extend(own.lines);
            first
        })
        .collect()
}

/// The lines a job speaks: its prompt's, or across a storyboard's shots.
pub fn dialogue(world: &str, shots: &[Shot]) -> Vec<Line> {
    if shots.is_empty() { Script::parse(world).lines } else { join_shots(&scripts(world, shots)) }
}

/// The shots that make `video` again (made by `job`), each with its source (`ShotSource`): a
/// video of one shot is one shot of its whole prompt; a storyboard's shots keep their
/// transitions, and a shot that already remade an earlier video keeps that request. A shot's
/// words (`Shot::prompt`) are what it said and sounded like: the first shot of a storyboard
/// also holds the world prompt, whose lines it spoke.
pub fn remake(video: &Video, job: &Job) -> Vec<Shot> {
    let model = format!("{} {}", video.model_name, video.model_version);
    let seed = job.seed.unsigned_abs();
    if job.shots.is_empty() {
        let seconds = u32::try_from(job.duration_seconds).unwrap_or(0);
        let source = ShotSource {
            video_id: video.id,
            offset_seconds: 0,
            prompt: job.prompt.clone(),
            seed,
            likeness_of: video.id,
            model,
        };
        return vec![Shot { prompt: job.prompt.clone(), seconds, transition: Transition::Cut, source: Some(source) }];
    }
    let mut offset = 0;
    let mut shots = Vec::with_capacity(job.shots.len());
    for (i, shot) in job.shots.iter().enumerate() {
        let source = match &shot.source {
            Some(earlier) => ShotSource { video_id: video.id, offset_seconds: offset, ..earlier.clone() },
            None => ShotSource {
                video_id: video.id,
                offset_seconds: offset,
                prompt: shot.model_prompt(&job.prompt),
                seed: shot.model_seed(seed, i),
                likeness_of: video.id,
                model: model.clone(),
            },
        };
        let words = if i == 0 && shot.source.is_none() {
            format!("{}\n{}", job.prompt.trim(), shot.prompt)
        } else {
            shot.prompt.clone()
        };
        shots.push(Shot { prompt: words, seconds: shot.seconds, transition: shot.transition, source: Some(source) });
        offset += shot.seconds;
    }
    shots
}

/// How long a storyboard lasts: its shots' seconds together (the job's `duration_seconds`).
pub fn seconds(shots: &[Shot]) -> i32 {
    i32::try_from(shots.iter().map(|s| s.seconds).sum::<u32>()).unwrap_or(i32::MAX)
}

/// Checks that shots made of earlier videos fit one storyboard: at most [`MAX_SHOTS`] shots and
/// `max_total` seconds. `what` names what they came from, for the refusal.
pub fn check_joined(shots: &[Shot], max_total: u32, field: &'static str, what: &str) -> AppResult<()> {
    if shots.len() > MAX_SHOTS {
        return Err(AppError::bad_input(
            field,
            format!("{what} would hold {} shots; a video holds at most {MAX_SHOTS}", shots.len()),
        ));
    }
    let total = shots.iter().map(|s| s.seconds).sum::<u32>();
    if total > max_total {
        return Err(AppError::bad_input(
            field,
            format!("{what} would last {total} seconds; a video may last at most {max_total} seconds"),
        ));
    }
    Ok(())
}

/// The sound of a video made of earlier ones: silent when all were, speaking when one spoke
/// (or kept a remixed sound), ambience otherwise.
pub fn joined_audio(modes: &[AudioMode]) -> AudioMode {
    if modes.iter().any(|m| matches!(m, AudioMode::Full | AudioMode::KeepSource)) {
        AudioMode::Full
    } else if modes.iter().all(|m| *m == AudioMode::Silent) {
        AudioMode::Silent
    } else {
        AudioMode::Ambience
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app_core::model::AspectRatio;

    fn model() -> ModelLimits {
        ModelLimits {
            min_seconds: 1,
            max_seconds: 8,
            aspect_ratios: vec![AspectRatio::Portrait],
            steps: 4,
            model: "m 1".into(),
        }
    }

    fn shot(prompt: &str, seconds: i32) -> ShotRequest {
        ShotRequest { prompt: prompt.into(), duration_seconds: seconds, transition: Transition::Cut }
    }

    fn refusal(result: AppResult<Vec<Shot>>) -> String {
        match result {
            Err(AppError::BadUserInput { message, field }) => {
                assert_eq!(field, Some("shots"));
                message
            }
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn shots_within_the_limits_pass_trimmed() {
        let shots = check_shots(&[shot("  it sits ", 2), shot("it jumps", 8)], &model(), 60).unwrap();
        assert_eq!(shots[0].prompt, "it sits");
        assert_eq!(shots.iter().map(|s| s.seconds).sum::<u32>(), 10);
        assert!(check_shots(&[], &model(), 60).unwrap().is_empty());
    }

    #[test]
    fn each_refusal_names_the_shot() {
        assert!(refusal(check_shots(&[shot("a", 2), shot("b", 9)], &model(), 60)).contains("shot 2 must last"));
        assert!(refusal(check_shots(&[shot("a", 2), shot("b", -1)], &model(), 60)).contains("shot 2"));
        assert!(refusal(check_shots(&[shot(" ", 2)], &model(), 60)).contains("shot 1's prompt"));
        let long = vec![shot("a", 8); 8];
        assert!(refusal(check_shots(&long, &model(), 60)).contains("add up to 64 seconds"));
        let many = vec![shot("a", 1); MAX_SHOTS + 1];
        assert!(refusal(check_shots(&many, &model(), 60)).contains("at most 12 shots"));
    }

    #[test]
    fn the_world_prompts_lines_are_spoken_in_the_first_shot() {
        let shots = check_shots(
            &[shot("a kitchen\nMia: \"morning\"", 2), shot("the garden", 2), shot("Leo says \"bye\"", 2)],
            &model(),
            60,
        )
        .unwrap();
        let lines = dialogue("Leo says \"hello\" in a small flat", &shots);
        let got: Vec<(usize, usize, &str)> = lines.iter().map(|l| (l.shot, l.speaker_index, l.text.as_str())).collect();
        assert_eq!(got, [(0, 0, "hello"), (0, 1, "morning"), (2, 0, "bye")]);
        let per_shot = scripts("Leo says \"hello\"", &shots);
        assert_eq!(per_shot.iter().map(|s| s.lines.len()).collect::<Vec<_>>(), [2, 0, 1]);
    }
}
