//! The finishing stages of a job, between decoding and publishing: the frame check (sampled
//! frames through the NSFW classifier, a verdict, a strip of the scored frames for moderators),
//! the visible and invisible watermarks drawn into the frames before encoding, and the C2PA
//! manifest signed into the encoded MP4.
//!
//! [`finish_config`] turns the moderation section of the shared configuration
//! ([`config::ModerationConfig`], the `APP_*` keys the worker and the backend share) into a
//! [`FinishConfig`]; [`Finisher::load`] loads the classifier once per process. The
//! `Finisher` methods are blocking and CPU-heavy: call them from `spawn_blocking`.

use std::path::{Path, PathBuf};

use config::ModerationConfig;
use moderation::frames::{FrameClassifier, MIN_SAMPLES, Thresholds, Verdict};
use moderation::provenance::{ProvenanceInfo, SignerConfig};
use ort::environment::Environment;
use uuid::Uuid;

use crate::pipeline::Frames;
use crate::{GenError, GenResult};

/// Height in pixels of each frame in the moderators' strip.
pub const STRIP_TILE_HEIGHT: u32 = 128;
/// Drawn in the visible watermark when the author has no username.
pub const UNNAMED_AUTHOR: &str = "soravibe";

/// Everything the finishing stages need, resolved (keys and certificates read).
#[derive(Clone)]
pub struct FinishConfig {
    /// The open_nsfw ONNX model (`open-nsfw.onnx`).
    pub frame_classifier: PathBuf,
    /// Frames scored per clip (at least 8).
    pub frame_samples: usize,
    /// Review and block thresholds of the frame check.
    pub thresholds: Thresholds,
    /// The deployment's invisible-watermark key (shared with the API).
    pub watermark_key: Vec<u8>,
    /// The certificate chain and key that sign C2PA manifests.
    pub signer: SignerConfig,
}

impl std::fmt::Debug for FinishConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither key reaches logs (`SignerConfig` redacts its own).
        f.debug_struct("FinishConfig")
            .field("frame_classifier", &self.frame_classifier)
            .field("frame_samples", &self.frame_samples)
            .field("thresholds", &self.thresholds)
            .field("watermark_key", &"<redacted>")
            .field("signer", &self.signer)
            .finish()
    }
}

fn config_err(message: impl Into<String>) -> GenError {
    GenError::Config(message.into())
}

fn stage_err(stage: &'static str) -> impl Fn(String) -> GenError {
    move |message| GenError::Finish { stage, message }
}

/// Checks `0 ≤ review ≤ block ≤ 1` (both 0 is allowed: everything is blocked).
pub fn check_thresholds(t: &Thresholds) -> GenResult<()> {
    let in_range = |v: f32| (0.0..=1.0).contains(&v);
    if !in_range(t.review) || !in_range(t.block) {
        return Err(config_err(format!(
            "frame thresholds must be between 0 and 1 (review {}, block {})",
            t.review, t.block
        )));
    }
    if t.review > t.block {
        return Err(config_err(format!(
            "frame_review_threshold ({}) must not exceed frame_block_threshold ({})",
            t.review, t.block
        )));
    }
    Ok(())
}

fn check_samples(samples: usize) -> GenResult<()> {
    if samples < MIN_SAMPLES {
        return Err(config_err(format!("frame_samples must be at least {MIN_SAMPLES} (got {samples})")));
    }
    Ok(())
}

/// The data-folder file of watermark keys retired by a rotation (`backend keys
/// rotate-watermark`), one per line.
pub const WATERMARK_PREVIOUS_FILE: &str = "watermark-previous.keys";

/// The watermark keys used before rotations, newest first: `watermark_previous_keys`, then
/// `<data_dir>/keys/watermark-previous.keys`. Only checkers need them (workers mark with the
/// current key).
pub fn previous_watermark_keys(data_dir: &Path, settings: &ModerationConfig) -> GenResult<Vec<Vec<u8>>> {
    let mut text = settings.watermark_previous_keys.as_ref().map(|k| k.expose().clone()).unwrap_or_default();
    let path = data_dir.join("keys").join(WATERMARK_PREVIOUS_FILE);
    if path.exists() {
        let file = std::fs::read_to_string(&path)
            .map_err(|e| config_err(format!("previous watermark keys {}: {e}", path.display())))?;
        // The file is appended to: its newest key is last.
        let mut lines: Vec<&str> = file.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        lines.reverse();
        text.push(',');
        text.push_str(&lines.join(","));
    }
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|k| !k.is_empty())
        .map(|k| {
            moderation::watermark::parse_key(k).ok_or_else(|| {
                config_err(format!(
                    "a previous watermark key is not {} hex characters",
                    moderation::watermark::KEY_BYTES * 2
                ))
            })
        })
        .collect()
}

/// Resolves the finishing settings: checks thresholds and samples, reads or creates the
/// watermark key, and reads the C2PA signer (configured PEM files, else the local CA under
/// `data_dir/c2pa`). Does not load the classifier (see [`Finisher::load`]).
pub fn finish_config(data_dir: &Path, settings: &ModerationConfig) -> GenResult<FinishConfig> {
    let thresholds = Thresholds { review: settings.frame_review_threshold, block: settings.frame_block_threshold };
    check_thresholds(&thresholds)?;
    check_samples(settings.frame_samples)?;

    let watermark_key = match &settings.watermark_key {
        Some(hex) => moderation::watermark::parse_key(hex.expose().trim()).ok_or_else(|| {
            config_err(format!("watermark_key must be {} hex characters", moderation::watermark::KEY_BYTES * 2))
        })?,
        None => {
            let path = data_dir.join("keys").join("watermark.key");
            moderation::watermark::load_or_create_key(&path)
                .map_err(|e| config_err(format!("watermark key {}: {e}", path.display())))?
        }
    };

    let mut signer = match (&settings.c2pa_cert_chain, &settings.c2pa_private_key) {
        (Some(chain), Some(key)) => {
            let read = |path: &Path| {
                std::fs::read_to_string(path)
                    .map_err(|e| config_err(format!("C2PA signer file {}: {e}", path.display())))
            };
            SignerConfig { cert_chain_pem: read(chain)?, private_key_pem: read(key)?, tsa_url: None }
        }
        (None, None) => {
            let dir = data_dir.join("c2pa");
            moderation::provenance::load_or_create_local_ca(&dir)
                .map_err(|e| config_err(format!("local C2PA CA in {}: {e}", dir.display())))?
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(config_err(
                "c2pa_cert_chain and c2pa_private_key must be set together (or neither, for the local CA)",
            ));
        }
    };
    signer.tsa_url = settings.c2pa_tsa_url.clone().filter(|u| !u.trim().is_empty());

    Ok(FinishConfig {
        frame_classifier: settings.frame_classifier.clone(),
        frame_samples: settings.frame_samples,
        thresholds,
        watermark_key,
        signer,
    })
}

/// What the frame check found in one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameCheck {
    /// Pass, review or block.
    pub verdict: Verdict,
    /// One line naming the worst frame, for review and block; `None` for pass.
    pub reason: Option<String>,
    /// The scored frames, ascending.
    pub frame_indices: Vec<u32>,
    /// NSFW probability of each scored frame, paired with `frame_indices`.
    pub frame_scores: Vec<f32>,
    /// JPEG of the scored frames side by side (before watermarking); `None` when blocked.
    pub strip_jpeg: Option<Vec<u8>>,
}

/// A frame check made shot by shot: [`Finisher::check_shot`] feeds it, [`Finisher::conclude`]
/// ends it. It keeps the scores and the few sampled frames (for the strip), not the shots.
#[derive(Debug, Default)]
pub struct ShotChecks {
    merged: moderation::frames::FrameScores,
    starts: Vec<usize>,
    offset: usize,
    strip: Vec<Vec<u8>>,
    size: Option<(usize, usize)>,
    /// The video has several shots (a reason names the shot even when the check stopped early).
    storyboard: bool,
}

impl ShotChecks {
    /// A check of a video of `shots` shots.
    pub fn for_shots(shots: usize) -> Self {
        Self { storyboard: shots > 1, ..Self::default() }
    }

    /// Time spent scoring so far.
    pub fn elapsed(&self) -> std::time::Duration {
        self.merged.elapsed
    }
}

/// A signed MP4 and what verifying it once found.
#[derive(Debug, Clone)]
pub struct SignedVideo {
    /// The MP4 with its C2PA manifest embedded.
    pub mp4: Vec<u8>,
    /// Issuer (organisation) of the signing certificate.
    pub issuer: Option<String>,
}

/// The loaded finishing stages, shared by every job of a worker.
pub struct Finisher {
    classifier: FrameClassifier,
    samples: usize,
    thresholds: Thresholds,
    watermark_key: Vec<u8>,
    signer: SignerConfig,
}

impl std::fmt::Debug for Finisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finisher")
            .field("classifier", &self.classifier)
            .field("samples", &self.samples)
            .field("thresholds", &self.thresholds)
            .finish_non_exhaustive()
    }
}

impl Finisher {
    /// Checks the configuration, loads the frame classifier into `env` (the process's one
    /// ONNX Runtime environment, [`crate::runtime::environment`]) and signs a tiny clip once,
    /// so a bad certificate or key stops start-up instead of failing every job. Blocking.
    pub fn load(config: FinishConfig, env: &Environment) -> GenResult<Finisher> {
        check_thresholds(&config.thresholds)?;
        check_samples(config.frame_samples)?;
        if config.watermark_key.is_empty() {
            return Err(config_err("the watermark key is empty"));
        }
        let classifier = FrameClassifier::load_with(&config.frame_classifier, env)
            .map_err(|e| stage_err("frame check")(e.to_string()))?;
        let finisher = Finisher {
            classifier,
            samples: config.frame_samples,
            thresholds: config.thresholds,
            watermark_key: config.watermark_key,
            signer: config.signer,
        };
        finisher.self_check()?;
        Ok(finisher)
    }

    /// Signs and verifies a one-frame clip with the configured chain (no time stamp, so no
    /// network at start-up).
    fn self_check(&self) -> GenResult<()> {
        let side = 64;
        let opts = media::EncodeOptions { fps: 1, bitrate_kbps: 100, keyframe_interval: 1 };
        let clip = media::encode_mp4(side, side, &[vec![128u8; side * side * 3]], &opts)
            .map_err(|e| stage_err("signer self-check")(e.to_string()))?;
        let signer = SignerConfig { tsa_url: None, ..self.signer.clone() };
        let info = ProvenanceInfo {
            title: "SoraVibe signer self-check".into(),
            video_id: Uuid::nil().to_string(),
            model_name: "self-check".into(),
            model_version: "0".into(),
            generator_version: env!("CARGO_PKG_VERSION").into(),
            remix_source: None,
            parts: vec![],
            cameos: vec![],
        };
        sign_and_verify(&clip.mp4, &info, &signer)
            .map(|_| ())
            .map_err(|e| config_err(format!("the C2PA signer does not work: {e}")))
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Scores the next shot of a video into `run` (its sampled frames are kept for the strip):
    /// each shot is sampled on its own (a short shot is not skipped by samples spread over the
    /// whole video), frame indices count from the first frame of the first shot (the joined
    /// video's frames, as `join` keeps the count). Blocking.
    pub fn check_shot(&self, run: &mut ShotChecks, frames: &Frames) -> GenResult<()> {
        let scores = self
            .classifier
            .score_frames(&frames.rgb, frames.width, frames.height, self.samples)
            .map_err(|e| stage_err("frame check")(e.to_string()))?;
        run.starts.push(run.offset);
        for &i in &scores.indices {
            if let Some(frame) = frames.rgb.get(i) {
                run.strip.push(frame.clone());
            }
        }
        run.merged.indices.extend(scores.indices.iter().map(|i| i + run.offset));
        run.merged.nsfw.extend(scores.nsfw);
        run.merged.elapsed += scores.elapsed;
        run.offset += frames.rgb.len();
        run.size = Some((frames.width, frames.height));
        Ok(())
    }

    /// Whether the frames scored so far already block the video (the verdict only grows).
    pub fn blocks(&self, run: &ShotChecks) -> bool {
        run.merged.nsfw.iter().any(|&s| s >= self.thresholds.block)
    }

    /// The verdict over every shot scored into `run` (one verdict covers every scored frame), its
    /// reason (naming the shot of the worst frame in a video of several shots), and, unless
    /// blocked, the strip of the scored frames. Blocking.
    pub fn conclude(&self, run: ShotChecks) -> GenResult<FrameCheck> {
        let err = stage_err("frame check");
        let ShotChecks { mut merged, starts, strip, size, storyboard, .. } = run;
        merged.max = merged.nsfw.iter().copied().fold(0.0, f32::max);
        merged.mean =
            if merged.nsfw.is_empty() { 0.0 } else { merged.nsfw.iter().sum::<f32>() / merged.nsfw.len() as f32 };
        let verdict = moderation::frames::verdict(&merged, &self.thresholds);
        let mut reason = moderation::frames::reason(&merged, &self.thresholds);
        if let (Some(text), Some((worst, _))) = (reason.as_mut(), merged.worst())
            && (storyboard || starts.len() > 1)
        {
            let shot = starts.iter().rposition(|&s| s <= worst).unwrap_or(0) + 1;
            *text = format!("shot {shot}: {text}");
        }
        let strip_jpeg = match (verdict, size) {
            (Verdict::Block, _) | (_, None) => None,
            (_, Some((width, height))) => {
                let scored: Vec<&[u8]> = strip.iter().map(Vec::as_slice).collect();
                let jpeg = media::strip_jpeg(width, height, &scored, STRIP_TILE_HEIGHT)
                    .map_err(|e| stage_err("frame strip")(e.to_string()))?;
                Some(jpeg)
            }
        };
        let frame_indices = merged
            .indices
            .iter()
            .map(|&i| u32::try_from(i).map_err(|_| err(format!("frame index {i} out of range"))))
            .collect::<GenResult<Vec<u32>>>()?;
        Ok(FrameCheck { verdict, reason, frame_indices, frame_scores: merged.nsfw, strip_jpeg })
    }

    /// Draws the visible mark (`@author`, or [`UNNAMED_AUTHOR`] when empty) and embeds the
    /// invisible payload of `video_id` into a run of a clip's frames whose first is frame `first`
    /// of the clip (`size`: width, height, fps), so a clip marked run by run comes out as one
    /// marked whole; returns the payload. Blocking.
    pub fn watermark_run(
        &self,
        frames: &mut [Vec<u8>],
        first: usize,
        (width, height, fps): (usize, usize, u32),
        author: &str,
        video_id: Uuid,
    ) -> GenResult<u64> {
        let author = if author.trim().is_empty() { UNNAMED_AUTHOR } else { author };
        let payload = moderation::watermark::payload_for_video(video_id.as_bytes());
        if frames.is_empty() {
            return Ok(payload);
        }
        moderation::watermark::draw_visible_from(frames, first, width, height, fps, author)
            .map_err(|e| stage_err("visible watermark")(e.to_string()))?;
        moderation::watermark::embed(frames, width, height, payload, &self.watermark_key)
            .map_err(|e| stage_err("invisible watermark")(e.to_string()))?;
        Ok(payload)
    }

    /// Signs `mp4` with the C2PA manifest `info` and verifies the result once. Blocking.
    pub fn sign(&self, mp4: &[u8], info: &ProvenanceInfo) -> GenResult<SignedVideo> {
        sign_and_verify(mp4, info, &self.signer).map_err(stage_err("C2PA signing"))
    }
}

fn sign_and_verify(mp4: &[u8], info: &ProvenanceInfo, signer: &SignerConfig) -> Result<SignedVideo, String> {
    let signed = moderation::provenance::sign_mp4(mp4, info, signer).map_err(|e| e.to_string())?;
    let found = moderation::provenance::verify_mp4(&signed).map_err(|e| format!("verifying the signed file: {e}"))?;
    if !found.valid {
        return Err(format!("the signed file does not verify: {}", found.validation_errors.join("; ")));
    }
    if found.video_id.as_deref() != Some(info.video_id.as_str()) {
        return Err(format!("the signed file names video {:?}, expected {}", found.video_id, info.video_id));
    }
    Ok(SignedVideo { mp4: signed, issuer: found.issuer })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("finish-{}", Uuid::new_v4().simple()))
    }

    #[test]
    fn the_shared_configuration_defaults_to_the_frame_checks_own() {
        let c = ModerationConfig::default();
        let t = Thresholds::default();
        assert_eq!((c.frame_review_threshold, c.frame_block_threshold), (t.review, t.block));
        assert_eq!(c.frame_samples, MIN_SAMPLES);
        assert_eq!(config::WATERMARK_KEY_BYTES, moderation::watermark::KEY_BYTES);
    }

    #[test]
    fn thresholds_must_be_ordered_within_zero_and_one() {
        let ok = |review, block| check_thresholds(&Thresholds { review, block }).is_ok();
        assert!(ok(0.4, 0.8));
        assert!(ok(0.0, 0.0));
        assert!(ok(0.0, 1.0));
        assert!(ok(0.5, 0.5));
        assert!(!ok(0.8, 0.4));
        assert!(!ok(-0.1, 0.5));
        assert!(!ok(0.1, 1.01));
        assert!(!ok(f32::NAN, 0.5));
        assert!(!ok(0.1, f32::NAN));
    }

    #[test]
    fn config_defaults_create_a_key_and_a_local_ca_and_reuse_them() {
        let dir = temp_dir();
        let a = finish_config(&dir, &ModerationConfig::default()).unwrap();
        assert_eq!(a.watermark_key.len(), moderation::watermark::KEY_BYTES);
        assert_eq!(a.frame_samples, 8);
        assert_eq!(a.thresholds, Thresholds { review: 0.4, block: 0.8 });
        assert!(dir.join("keys/watermark.key").exists());
        assert!(moderation::provenance::local_ca_root_pem(&dir.join("c2pa")).is_ok());
        let b = finish_config(&dir, &ModerationConfig::default()).unwrap();
        assert_eq!(a.watermark_key, b.watermark_key);
        assert_eq!(a.signer.cert_chain_pem, b.signer.cert_chain_pem);
        assert!(!format!("{a:?}").contains("PRIVATE KEY"), "keys stay out of Debug");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn config_reads_a_hex_key_and_pem_files_and_refuses_half_a_signer() {
        let dir = temp_dir();
        let ca = moderation::provenance::load_or_create_local_ca(&dir.join("ca")).unwrap();
        std::fs::write(dir.join("chain.pem"), &ca.cert_chain_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &ca.private_key_pem).unwrap();
        let hex = "ab".repeat(moderation::watermark::KEY_BYTES);
        let settings = ModerationConfig {
            watermark_key: Some(config::Secret::new(hex)),
            c2pa_cert_chain: Some(dir.join("chain.pem")),
            c2pa_private_key: Some(dir.join("key.pem")),
            c2pa_tsa_url: Some("http://tsa.example/".into()),
            ..ModerationConfig::default()
        };
        let c = finish_config(&dir, &settings).unwrap();
        assert_eq!(c.watermark_key, vec![0xab; moderation::watermark::KEY_BYTES]);
        assert_eq!(c.signer.cert_chain_pem, ca.cert_chain_pem);
        assert_eq!(c.signer.tsa_url.as_deref(), Some("http://tsa.example/"));
        assert!(!dir.join("keys").exists() && !dir.join("c2pa").exists(), "nothing created");

        let half = ModerationConfig { c2pa_private_key: None, ..settings.clone() };
        assert!(matches!(finish_config(&dir, &half), Err(GenError::Config(m)) if m.contains("together")));
        let bad_key = ModerationConfig { watermark_key: Some(config::Secret::new("abc".into())), ..settings.clone() };
        assert!(matches!(finish_config(&dir, &bad_key), Err(GenError::Config(m)) if m.contains("watermark_key")));
        let few = ModerationConfig { frame_samples: 7, ..settings.clone() };
        assert!(matches!(finish_config(&dir, &few), Err(GenError::Config(m)) if m.contains("frame_samples")));
        let upside_down =
            ModerationConfig { frame_review_threshold: 0.9, frame_block_threshold: 0.5, ..settings.clone() };
        assert!(matches!(finish_config(&dir, &upside_down), Err(GenError::Config(_))));
        let missing = ModerationConfig { c2pa_cert_chain: Some(dir.join("nope.pem")), ..settings };
        assert!(matches!(finish_config(&dir, &missing), Err(GenError::Config(m)) if m.contains("nope.pem")));
        std::fs::remove_dir_all(&dir).ok();
    }
}
