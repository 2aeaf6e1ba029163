//! The publish gate's checks, as pure functions over what the store recorded for a video and
//! what its stored file was found to carry ([`ClipInspection`]). `ModerationService::publish`
//! reads the file and runs them in order: verdict, manifest, watermark (then consent, in
//! `consent`, and the owners' restrictions, in the prompt policy).
//!
//! Invariant: each check either passes or names itself (`PUBLISH_REFUSED` with its check) and
//! says what it found, in words an author understands; none of them touches storage, so each is
//! unit-tested here without a server.
//!
//! Why the watermark check is a matched test: blind decoding must find 64 unknown bits with a valid
//! CRC-16 at confidence ≥ 0.7, which on the tiny model's noise-like frames needs about 3 s of video
//! (1–2 s clips reach 0.45–0.68). The gate knows which payload to expect (`payload_for_video` of the
//! video's id, which is also the job's id), so it asks a simpler question: do the detector's soft
//! bits correlate with that payload's codeword (`match_score ≥ MATCH_THRESHOLD`, 0.4, about 5.2
//! standard deviations of an unmarked clip)? A blind read of the same payload passes too; a clip
//! marked for another video, or not marked, fails. `verifyProvenance`, which has no payload to
//! expect, decodes blind, and uses the matched test only for a video a trusted manifest names.

use app_core::error::{AppError, AppResult, PublishCheck};
use app_core::model::{Video, VideoStatus};
use app_core::types::VideoId;
use moderation::provenance::VerifiedManifest;

/// What a clip turned out to carry.
#[derive(Debug, Clone, Default)]
pub struct ClipInspection {
    /// Why the clip could not be decoded, if it could not.
    pub decode_error: Option<String>,
    /// Frame size.
    pub width: usize,
    /// Frame size.
    pub height: usize,
    /// The invisible watermark's payload, when it decoded with a valid checksum.
    pub watermark: Option<u64>,
    /// Correlation of the watermark detector (0 for noise, near 1 for a clean mark).
    pub watermark_confidence: f64,
    /// The detector's soft readings, one per watermark key (the current one first, then those
    /// of before rotations), for matched tests against a known payload.
    pub detections: Vec<moderation::watermark::Detection>,
    /// The C2PA manifest, when there is one.
    pub manifest: Option<VerifiedManifest>,
    /// Why the manifest could not be read (`None` also when there is simply none).
    pub manifest_error: Option<String>,
}

impl ClipInspection {
    /// Whether the clip carries `payload` (matched test: works on clips too short for blind decoding).
    pub fn carries(&self, payload: u64) -> bool {
        self.watermark == Some(payload)
            || self
                .detections
                .iter()
                .any(|d| moderation::watermark::match_score(d, payload) >= moderation::watermark::MATCH_THRESHOLD)
    }

    /// The manifest verified, is bound to these bytes, and chains to a trusted root.
    pub fn manifest_trusted(&self) -> bool {
        self.manifest.as_ref().is_some_and(|m| m.valid && m.trusted)
    }
}

/// The verdict check: only a draft whose stored moderation verdict allows it may be published.
pub fn verdict_allows(video: &Video) -> AppResult<()> {
    match video.status {
        VideoStatus::Published => return Err(AppError::Conflict("the video is already published".into())),
        VideoStatus::Removed => {
            let why = video.removal_reason.clone().unwrap_or_else(|| "no reason recorded".into());
            return Err(AppError::PublishRefused {
                check: PublishCheck::Verdict,
                reason: format!("the video was taken down ({why})"),
            });
        }
        VideoStatus::InReview => {
            return Err(AppError::PublishRefused {
                check: PublishCheck::Verdict,
                reason: "the frame check held this video for a moderator; it can be published once approved".into(),
            });
        }
        VideoStatus::Draft => {}
    }
    if !video.verdict.allows_publishing() {
        return Err(AppError::PublishRefused {
            check: PublishCheck::Verdict,
            reason: format!("the moderation verdict is {}", video.verdict.as_str()),
        });
    }
    Ok(())
}

/// Ok when the manifest is valid, trusted and names `id`; else why not.
pub fn manifest_names(found: &ClipInspection, id: VideoId) -> Result<(), String> {
    let Some(m) = &found.manifest else {
        return Err(match &found.manifest_error {
            Some(e) => format!("the C2PA manifest cannot be read ({e})"),
            None => "the file carries no C2PA manifest".into(),
        });
    };
    if !m.valid {
        let first = m.validation_errors.first().cloned().unwrap_or_else(|| "invalid".into());
        return Err(format!("the C2PA manifest does not match the file ({first})"));
    }
    if !m.trusted {
        return Err("the C2PA manifest is not signed by a trusted issuer".into());
    }
    if m.video_id.as_deref() != Some(id.0.to_string().as_str()) {
        return Err("the C2PA manifest was made for another video".into());
    }
    Ok(())
}

/// The watermark check: the stored file decodes and carries this video's invisible watermark,
/// the one recorded when it was made.
pub fn watermark_names(video: &Video, found: &ClipInspection) -> AppResult<()> {
    let expected = moderation::watermark::payload_for_video(video.id.0.as_bytes());
    if found.decode_error.is_some() {
        return Err(AppError::PublishRefused {
            check: PublishCheck::Watermark,
            reason: "the stored video does not decode".into(),
        });
    }
    if video.watermark_id != Some(expected) || !found.carries(expected) {
        let reason = match found.watermark {
            Some(other) if other != expected => "the invisible watermark belongs to another video",
            _ => "the invisible watermark of this video is missing",
        };
        return Err(AppError::PublishRefused { check: PublishCheck::Watermark, reason: reason.into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app_core::model::{AspectRatio, FrameScores, Maturity, Verdict};
    use app_core::types::{JobId, UserId};

    fn draft(verdict: Verdict) -> Video {
        let id = VideoId::new();
        Video {
            id,
            author_id: UserId::new(),
            job_id: JobId(id.0),
            status: VideoStatus::Draft,
            prompt: "a fox".into(),
            caption: None,
            seed: 1,
            aspect_ratio: AspectRatio::Portrait,
            video_key: "v.mp4".into(),
            thumbnail_key: "t.jpg".into(),
            width: 64,
            height: 112,
            duration_ms: 2000,
            frame_count: 16,
            fps: 8,
            model_name: "tiny".into(),
            model_version: "1".into(),
            execution_provider: "cpu".into(),
            stage_millis: "{}".into(),
            remix_allowed: true,
            created_at: chrono::Utc::now(),
            published_at: None,
            watermark_id: Some(moderation::watermark::payload_for_video(id.0.as_bytes())),
            verdict,
            verdict_reason: None,
            frame_scores: FrameScores::default(),
            frame_strip_key: None,
            manifest_issuer: None,
            manifest_valid: true,
            removed_at: None,
            removal_reason: None,
            remix_of: None,
            root_id: None,
            like_count: 0,
            view_count: 0,
            watch_ms_total: 0,
            comment_count: 0,
            has_audio: false,
            captions_key: None,
            maturity: Maturity::General,
        }
    }

    fn check_of(e: AppError) -> &'static str {
        match e {
            AppError::PublishRefused { check, .. } => check.as_str(),
            other => panic!("expected PUBLISH_REFUSED, got {other:?}"),
        }
    }

    fn manifest(video: Option<String>) -> VerifiedManifest {
        VerifiedManifest {
            valid: true,
            signature_valid: true,
            trusted: true,
            issuer: Some("Soravibe".into()),
            video_id: video,
            ..VerifiedManifest::default()
        }
    }

    #[test]
    fn only_a_passed_or_approved_draft_passes_the_verdict_check() {
        assert!(verdict_allows(&draft(Verdict::Pass)).is_ok());
        assert!(verdict_allows(&draft(Verdict::Approved)).is_ok());
        for v in [Verdict::Review, Verdict::Block] {
            assert_eq!(check_of(verdict_allows(&draft(v)).unwrap_err()), "VERDICT");
        }
        let mut held = draft(Verdict::Pass);
        held.status = VideoStatus::InReview;
        assert_eq!(check_of(verdict_allows(&held).unwrap_err()), "VERDICT");
        let mut removed = draft(Verdict::Pass);
        removed.status = VideoStatus::Removed;
        removed.removal_reason = Some("spam".into());
        let e = verdict_allows(&removed).unwrap_err();
        assert!(e.to_string().contains("spam"), "{e}");
        let mut published = draft(Verdict::Pass);
        published.status = VideoStatus::Published;
        assert_eq!(verdict_allows(&published).unwrap_err().code(), "CONFLICT");
    }

    #[test]
    fn the_manifest_must_be_valid_trusted_and_name_the_video() {
        let id = VideoId::new();
        let ok = ClipInspection { manifest: Some(manifest(Some(id.0.to_string()))), ..ClipInspection::default() };
        assert!(manifest_names(&ok, id).is_ok());
        assert!(manifest_names(&ok, VideoId::new()).unwrap_err().contains("another video"));
        let none = ClipInspection::default();
        assert!(manifest_names(&none, id).unwrap_err().contains("no C2PA manifest"));
        let unreadable = ClipInspection { manifest_error: Some("bad box".into()), ..ClipInspection::default() };
        assert!(manifest_names(&unreadable, id).unwrap_err().contains("bad box"));
        let mut m = manifest(Some(id.0.to_string()));
        m.trusted = false;
        let untrusted = ClipInspection { manifest: Some(m), ..ClipInspection::default() };
        assert!(manifest_names(&untrusted, id).unwrap_err().contains("trusted issuer"));
        let mut m = manifest(Some(id.0.to_string()));
        m.valid = false;
        m.validation_errors = vec!["hash mismatch".into()];
        let tampered = ClipInspection { manifest: Some(m), ..ClipInspection::default() };
        assert!(manifest_names(&tampered, id).unwrap_err().contains("hash mismatch"));
    }

    #[test]
    fn the_watermark_must_decode_to_this_video() {
        let v = draft(Verdict::Pass);
        let mine = moderation::watermark::payload_for_video(v.id.0.as_bytes());
        let found = ClipInspection { watermark: Some(mine), ..ClipInspection::default() };
        assert!(watermark_names(&v, &found).is_ok());
        let other = ClipInspection { watermark: Some(mine ^ 1), ..ClipInspection::default() };
        assert!(watermark_names(&v, &other).unwrap_err().to_string().contains("another video"));
        let missing = ClipInspection::default();
        assert!(watermark_names(&v, &missing).unwrap_err().to_string().contains("missing"));
        let broken =
            ClipInspection { decode_error: Some("bad".into()), watermark: Some(mine), ..ClipInspection::default() };
        assert_eq!(check_of(watermark_names(&v, &broken).unwrap_err()), "WATERMARK");
        let mut unrecorded = draft(Verdict::Pass);
        unrecorded.watermark_id = None;
        assert!(watermark_names(&unrecorded, &found).is_err(), "a file alone cannot vouch for a video");
    }
}
