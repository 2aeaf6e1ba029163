//! The messages that travel between the backend and the generator, as JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Shape of the video frame the user asked for: the one aspect-ratio type of the service, on the
/// wire as `PORTRAIT`, `LANDSCAPE` or `SQUARE` (portrait is 9:16, the feed's native shape).
pub use app_core::model::AspectRatio;

/// What the sound track holds (`FULL`, `AMBIENCE`, `SILENT`, `KEEP_SOURCE`).
pub use app_core::model::AudioMode;

/// One spoken line of the prompt's dialogue (`app_core::dialogue`).
pub use app_core::dialogue::Line as DialogueLine;

/// One shot of a storyboard, and how it follows the one before.
pub use app_core::model::{Shot, ShotSource, Transition};

/// Everything a generator needs to make one video; enqueued by the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job's id; results are applied idempotently by this id.
    pub job_id: Uuid,
    /// The user who asked for the video.
    pub user_id: Uuid,
    /// The prompt, already checked by the prompt policy.
    pub prompt: String,
    /// Seed for the sampler, so a job re-run produces the same video.
    pub seed: u64,
    /// Requested length of the video in seconds.
    pub duration_seconds: u32,
    /// Requested frame shape.
    pub aspect_ratio: AspectRatio,
    /// Optional conditioning vector (cameo or remix reference).
    pub reference: Option<Vec<f32>>,
    /// When the backend enqueued the job (for queue-wait timing).
    pub enqueued_at: DateTime<Utc>,
    /// Username of the author, drawn into the visible watermark.
    #[serde(default)]
    pub author_username: String,
    /// The published video this job remixes (its manifest becomes the new one's ingredient).
    #[serde(default)]
    pub remix: Option<RemixRef>,
    /// The cameos in the video and the consent versions that allowed them (for the C2PA
    /// consent assertion); their likeness features are in `reference`.
    #[serde(default)]
    pub cameos: Vec<CameoRef>,
    /// What the sound track holds (a job queued before sound existed asks for `FULL`).
    #[serde(default)]
    pub audio: AudioMode,
    /// The prompt's dialogue, each line already checked by the text policy; spoken when `audio`
    /// is `FULL`, in order, a voice per speaker.
    #[serde(default)]
    pub dialogue: Vec<DialogueLine>,
    /// A storyboard's shots, in order, their lengths adding up to `duration_seconds`; `prompt`
    /// then describes the world they share. Empty: one shot of `prompt`.
    #[serde(default)]
    pub shots: Vec<Shot>,
    /// The earlier videos that shots remake (`Shot::source`), each once: the files the remade
    /// frames are checked against (and that become the manifest's ingredients), and the likeness
    /// each gave its shots.
    #[serde(default)]
    pub parts: Vec<PartRef>,
    /// The W3C `traceparent` of the request that created the job, so the worker's spans join
    /// that request's trace (`None`: not traced, or a job queued before traces travelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<String>,
}

/// The media-store folder where a storyboard's worker keeps the shots it made between
/// deliveries (`parts/<job>`); the worker and the service delete it when the job ends.
pub fn kept_shots_folder(job: Uuid) -> String {
    format!("parts/{job}")
}

/// An earlier video a job's shots remake, as the worker needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRef {
    /// Id of the video.
    pub video_id: Uuid,
    /// Media-store key of its signed MP4.
    pub video_key: String,
    /// Title for the ingredient.
    pub title: String,
    /// Its cameos' likeness features, combined as when it was made.
    pub reference: Option<Vec<f32>>,
    /// Media-store key of the video it remixed, whose frames also gave it likeness.
    pub remix_key: Option<String>,
    /// Whether its file is one of the job's parts (a C2PA ingredient); `false` for a video that
    /// only lent its likeness to a shot.
    pub ingredient: bool,
}

/// One cameo in a job and the consent version that allowed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameoRef {
    /// Id of the cameo.
    pub cameo_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// The consent version in force when the job was accepted.
    pub consent_version: i64,
}

/// The source of a remix, as the worker needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemixRef {
    /// Id of the source video.
    pub video_id: Uuid,
    /// Media-store key of the source's signed MP4.
    pub video_key: String,
    /// Title for the ingredient.
    pub title: String,
}

impl JobSpec {
    /// The id of the video this job makes: a job makes at most one video, and it takes the
    /// job's id, so every delivery of a job watermarks and signs for the same video.
    pub fn video_id(&self) -> Uuid {
        self.job_id
    }
}

/// Milliseconds spent in each stage of one generation, for dashboards and the job record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMillis {
    /// From enqueue to the start of work.
    pub queue_wait: u64,
    /// Text encoder.
    pub text_encode: u64,
    /// All denoiser steps together.
    pub denoise: u64,
    /// Latent decoder.
    pub decode: u64,
    /// Video encode (H.264).
    pub encode: u64,
    /// MP4 muxing.
    pub mux: u64,
    /// Upload to the media store.
    pub store: u64,
    /// Frame check (sampling, classifier).
    #[serde(default)]
    pub moderate: u64,
    /// Visible and invisible watermarks.
    #[serde(default)]
    pub watermark: u64,
    /// C2PA signing.
    #[serde(default)]
    pub sign: u64,
    /// The sound track: speech, ambience, mix and loudness (its Opus encode counts in `encode`).
    #[serde(default)]
    pub audio: u64,
}

impl StageMillis {
    /// Every stage by name (the names of the fields), for metrics.
    pub fn named(&self) -> [(&'static str, u64); 11] {
        [
            ("queue_wait", self.queue_wait),
            ("text_encode", self.text_encode),
            ("denoise", self.denoise),
            ("decode", self.decode),
            ("encode", self.encode),
            ("mux", self.mux),
            ("store", self.store),
            ("moderate", self.moderate),
            ("watermark", self.watermark),
            ("sign", self.sign),
            ("audio", self.audio),
        ]
    }
}

/// What a successful generation produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutput {
    /// Media-store key of the MP4.
    pub video_key: String,
    /// Media-store key of the JPEG thumbnail.
    pub thumbnail_key: String,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Length of the video in milliseconds.
    pub duration_ms: u64,
    /// Number of frames in the video.
    pub frame_count: u32,
    /// Frames per second.
    pub fps: u32,
    /// Name of the model that made the video.
    pub model_name: String,
    /// Version of that model.
    pub model_version: String,
    /// ONNX Runtime execution provider that ran it (e.g. `CUDA`, `CPU`).
    pub execution_provider: String,
    /// Time spent per stage.
    pub stages: StageMillis,
    /// The invisible watermark's 64-bit payload (derived from the video id).
    #[serde(default)]
    pub watermark_id: u64,
    /// Frame-check verdict: `pass` or `review` (a blocked clip ends in [`JobEvent::Rejected`]).
    #[serde(default)]
    pub verdict: String,
    /// The frames the frame check scored, ascending.
    #[serde(default)]
    pub frame_indices: Vec<u32>,
    /// NSFW probability of each scored frame, paired with `frame_indices`.
    #[serde(default)]
    pub frame_scores: Vec<f32>,
    /// One-line reason for a `review` verdict.
    #[serde(default)]
    pub verdict_reason: Option<String>,
    /// Media-store key of a JPEG strip of the scored frames (for moderators).
    #[serde(default)]
    pub frame_strip_key: String,
    /// Issuer of the certificate that signed the C2PA manifest.
    #[serde(default)]
    pub manifest_issuer: Option<String>,
    /// Whether the MP4 has a sound track.
    #[serde(default)]
    pub has_audio: bool,
    /// Media-store key of the dialogue's WebVTT captions (none when nothing is said).
    #[serde(default)]
    pub captions_key: Option<String>,
}

/// A change in a job's life, sent from the generator (or the queue itself) to the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum JobEvent {
    /// A worker took the job (`attempt` is 1 on first delivery).
    Started {
        /// The job.
        job_id: Uuid,
        /// Name of the worker (queue consumer) that took it.
        worker: String,
        /// Delivery number, 1 for the first.
        attempt: u32,
    },
    /// The denoiser finished `step` of `total` steps.
    Progress {
        /// The job.
        job_id: Uuid,
        /// Steps done.
        step: u32,
        /// Steps in all.
        total: u32,
    },
    /// The pipeline finished; the frame check and watermarking are running.
    Moderating {
        /// The job.
        job_id: Uuid,
    },
    /// Final: the frame check blocked the clip; nothing was stored.
    Rejected {
        /// The job.
        job_id: Uuid,
        /// Human-readable reason, safe to show the user.
        reason: String,
        /// The scored frames.
        frame_indices: Vec<u32>,
        /// NSFW probability of each scored frame.
        frame_scores: Vec<f32>,
    },
    /// Final: the video was made and stored.
    Succeeded {
        /// The job.
        job_id: Uuid,
        /// What was made (boxed: it is by far the largest event).
        output: Box<JobOutput>,
    },
    /// Final: the job will not produce a video; `reason` is shown to the user.
    Failed {
        /// The job.
        job_id: Uuid,
        /// Human-readable reason, safe to show the user.
        reason: String,
    },
    /// Final: the job was cancelled before it produced a video.
    Cancelled {
        /// The job.
        job_id: Uuid,
    },
}

impl JobEvent {
    /// The job this event is about.
    pub fn job_id(&self) -> Uuid {
        match self {
            Self::Started { job_id, .. }
            | Self::Progress { job_id, .. }
            | Self::Moderating { job_id }
            | Self::Rejected { job_id, .. }
            | Self::Succeeded { job_id, .. }
            | Self::Failed { job_id, .. }
            | Self::Cancelled { job_id } => *job_id,
        }
    }

    /// The event's kind as it is logged and traced (`started`, `succeeded`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Started { .. } => "started",
            Self::Progress { .. } => "progress",
            Self::Moderating { .. } => "moderating",
            Self::Rejected { .. } => "rejected",
            Self::Succeeded { .. } => "succeeded",
            Self::Failed { .. } => "failed",
            Self::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether no further events follow for this job (succeeded, failed or cancelled).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Succeeded { .. } | Self::Failed { .. } | Self::Cancelled { .. } | Self::Rejected { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn output() -> JobOutput {
        JobOutput {
            video_key: "videos/a.mp4".into(),
            thumbnail_key: "thumbs/a.jpg".into(),
            width: 576,
            height: 1024,
            duration_ms: 4000,
            frame_count: 96,
            fps: 24,
            model_name: "tiny".into(),
            model_version: "0.1".into(),
            execution_provider: "CPU".into(),
            stages: StageMillis {
                queue_wait: 1,
                text_encode: 2,
                denoise: 3,
                decode: 4,
                encode: 5,
                mux: 6,
                store: 7,
                moderate: 8,
                watermark: 9,
                sign: 10,
                audio: 11,
            },
            watermark_id: u64::MAX - 5,
            verdict: "review".into(),
            frame_indices: vec![0, 47],
            frame_scores: vec![0.1, 0.5],
            verdict_reason: Some("frame 47 scored 0.50 NSFW (review at 0.40)".into()),
            frame_strip_key: "strips/a.jpg".into(),
            manifest_issuer: Some("SoraVibe".into()),
            has_audio: true,
            captions_key: Some("captions/a.vtt".into()),
        }
    }

    fn all_events(job_id: Uuid) -> Vec<JobEvent> {
        vec![
            JobEvent::Started { job_id, worker: "gpu-1".into(), attempt: 2 },
            JobEvent::Progress { job_id, step: 3, total: 20 },
            JobEvent::Moderating { job_id },
            JobEvent::Rejected {
                job_id,
                reason: "frame 3 scored 0.91 NSFW (block at 0.80)".into(),
                frame_indices: vec![3],
                frame_scores: vec![0.91],
            },
            JobEvent::Succeeded { job_id, output: Box::new(output()) },
            JobEvent::Failed { job_id, reason: "generation failed after 3 attempts".into() },
            JobEvent::Cancelled { job_id },
        ]
    }

    #[test]
    fn every_event_variant_survives_a_json_round_trip() {
        let job_id = Uuid::new_v4();
        for event in all_events(job_id) {
            let text = serde_json::to_string(&event).unwrap();
            let back: JobEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(back, event, "{text}");
            assert_eq!(back.job_id(), job_id);
        }
    }

    #[test]
    fn events_are_tagged_by_type_with_snake_case_fields() {
        let job_id = Uuid::new_v4();
        let value = serde_json::to_value(JobEvent::Failed { job_id, reason: "no".into() }).unwrap();
        assert_eq!(value, json!({ "type": "Failed", "job_id": job_id, "reason": "no" }));
        let value = serde_json::to_value(JobEvent::Progress { job_id, step: 1, total: 2 }).unwrap();
        assert_eq!(value, json!({ "type": "Progress", "job_id": job_id, "step": 1, "total": 2 }));
    }

    #[test]
    fn only_rejected_succeeded_failed_and_cancelled_are_final() {
        let finals: Vec<bool> = all_events(Uuid::new_v4()).iter().map(JobEvent::is_final).collect();
        assert_eq!(finals, [false, false, false, true, true, true, true]);
    }

    #[test]
    fn job_spec_round_trips_and_writes_aspect_ratio_in_capitals() {
        let spec = JobSpec {
            job_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            prompt: "a red fox in snow".into(),
            seed: u64::MAX,
            duration_seconds: 4,
            aspect_ratio: AspectRatio::Portrait,
            reference: Some(vec![0.25, -1.5]),
            enqueued_at: Utc::now(),
            author_username: "fox_fan".into(),
            remix: Some(RemixRef { video_id: Uuid::new_v4(), video_key: "videos/x.mp4".into(), title: "x".into() }),
            cameos: vec![CameoRef { cameo_id: Uuid::new_v4(), owner_id: Uuid::new_v4(), consent_version: 3 }],
            audio: AudioMode::Ambience,
            dialogue: vec![DialogueLine {
                speaker: Some("Fox".into()),
                speaker_index: 0,
                text: "brr".into(),
                voice_key: Some("c1".into()),
                shot: 1,
            }],
            shots: vec![
                Shot { prompt: "it sits".into(), seconds: 2, transition: Transition::Cut, source: None },
                Shot { prompt: "it jumps".into(), seconds: 3, transition: Transition::Crossfade, source: None },
            ],
            parts: vec![],
            trace_parent: None,
        };
        let value = serde_json::to_value(&spec).unwrap();
        assert_eq!(value["aspect_ratio"], "PORTRAIT");
        assert_eq!(value["audio"], "AMBIENCE");
        assert_eq!(value["shots"][1]["transition"], "CROSSFADE");
        assert_eq!(value["reference"], json!([0.25, -1.5]));
        let back: JobSpec = serde_json::from_value(value).unwrap();
        assert_eq!(back, spec);
        for (ratio, text) in [(AspectRatio::Landscape, "\"LANDSCAPE\""), (AspectRatio::Square, "\"SQUARE\"")] {
            assert_eq!(serde_json::to_string(&ratio).unwrap(), text);
            assert_eq!(serde_json::from_str::<AspectRatio>(text).unwrap(), ratio);
        }
    }

    #[test]
    fn a_job_queued_before_sound_existed_asks_for_full_sound_and_says_nothing() {
        let value = json!({
            "job_id": Uuid::new_v4(), "user_id": Uuid::new_v4(), "prompt": "a fox", "seed": 1,
            "duration_seconds": 4, "aspect_ratio": "SQUARE", "reference": null, "enqueued_at": Utc::now(),
        });
        let spec: JobSpec = serde_json::from_value(value).unwrap();
        assert_eq!((spec.audio, spec.dialogue.len()), (AudioMode::Full, 0));
        let old_output = json!({
            "video_key": "v", "thumbnail_key": "t", "width": 2, "height": 2, "duration_ms": 1, "frame_count": 1,
            "fps": 1, "model_name": "m", "model_version": "1", "execution_provider": "cpu",
            "stages": { "queue_wait": 0, "text_encode": 0, "denoise": 0, "decode": 0, "encode": 0, "mux": 0, "store": 0 },
        });
        let out: JobOutput = serde_json::from_value(old_output).unwrap();
        assert!(!out.has_audio && out.captions_key.is_none() && out.stages.audio == 0);
    }

    #[test]
    fn job_output_round_trips() {
        let text = serde_json::to_string(&output()).unwrap();
        assert_eq!(serde_json::from_str::<JobOutput>(&text).unwrap(), output());
    }
}
