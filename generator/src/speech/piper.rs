//! A Piper-format voice (VITS exported to ONNX): `voice.onnx` and `voice.onnx.json` beside it.
//!
//! Text becomes espeak-style IPA through `piper-plus-g2p` (English, CMUdict; no espeak-ng), each
//! phoneme becomes ids through the voice's `phoneme_id_map` in Piper's convention — BOS `^`,
//! the pad `_`, then every phoneme's ids each followed by the pad, then EOS `$` — and the graph
//! (`input` int64 [1, N], `input_lengths` int64 [1], `scales` f32 [noise, length, noise_w],
//! `sid` int64 [1] for multi-speaker voices) gives f32 audio at the config's sample rate.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use piper_plus_g2p::Phonemizer;
use piper_plus_g2p::english::EnglishPhonemizer;
use serde_json::Value;

use crate::runtime::{self, DevicePreference};
use crate::{GenError, GenResult};

const MODEL: &str = "piper voice";

/// How many speakers of a multi-speaker voice are offered as stock voices.
pub(super) const MAX_SPEAKERS: usize = 16;

fn model_err(message: impl Into<String>) -> GenError {
    GenError::Model { model: MODEL, message: message.into() }
}

/// A loaded Piper voice.
pub(super) struct PiperVoice {
    session: Mutex<Session>,
    output: String,
    has_sid: bool,
    phonemizer: EnglishPhonemizer,
    ids: HashMap<String, Vec<i64>>,
    bos: Vec<i64>,
    pad: Vec<i64>,
    eos: Vec<i64>,
    rate: u32,
    speakers: usize,
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

impl std::fmt::Debug for PiperVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperVoice").field("rate", &self.rate).field("speakers", &self.speakers).finish()
    }
}

/// `voice.onnx` → `voice.onnx.json`.
pub(super) fn config_path(onnx: &Path) -> PathBuf {
    let mut name = onnx.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

fn f32_of(v: Option<&Value>, default: f32) -> f32 {
    v.and_then(Value::as_f64).map(|x| x as f32).filter(|x| x.is_finite() && *x > 0.0).unwrap_or(default)
}

impl PiperVoice {
    /// Reads the config, opens the graph on the CPU with `threads` intra-op threads (0: ONNX
    /// Runtime's choice) and checks that the two agree.
    pub(super) fn load(onnx: &Path, dylib: &Path, threads: usize) -> GenResult<PiperVoice> {
        if !onnx.is_file() {
            return Err(model_err(format!("{} not found", onnx.display())));
        }
        let json_path = config_path(onnx);
        let text = std::fs::read_to_string(&json_path)
            .map_err(|e| model_err(format!("cannot read {}: {e}", json_path.display())))?;
        let config: Value =
            serde_json::from_str(&text).map_err(|e| model_err(format!("{} is not JSON: {e}", json_path.display())))?;

        let phoneme_type = config.get("phoneme_type").and_then(Value::as_str).unwrap_or("espeak");
        if phoneme_type != "espeak" {
            return Err(model_err(format!("phoneme_type `{phoneme_type}`; only espeak-style voices are supported")));
        }
        let language = config
            .pointer("/espeak/voice")
            .or_else(|| config.pointer("/language/code"))
            .and_then(Value::as_str)
            .unwrap_or("en");
        if !language.to_ascii_lowercase().starts_with("en") {
            return Err(model_err(format!("language `{language}`; only English voices are supported")));
        }
        let rate = config
            .pointer("/audio/sample_rate")
            .and_then(Value::as_u64)
            .and_then(|r| u32::try_from(r).ok())
            .filter(|r| (8_000..=48_000).contains(r))
            .ok_or_else(|| model_err(format!("{}: no plausible audio.sample_rate", json_path.display())))?;
        let speakers = config.get("num_speakers").and_then(Value::as_u64).unwrap_or(1).max(1);
        let speakers = usize::try_from(speakers).unwrap_or(1).min(MAX_SPEAKERS);
        let noise_scale = f32_of(config.pointer("/inference/noise_scale"), 0.667);
        let length_scale = f32_of(config.pointer("/inference/length_scale"), 1.0);
        let noise_w = f32_of(config.pointer("/inference/noise_w"), 0.8);
        let ids: HashMap<String, Vec<i64>> = config
            .get("phoneme_id_map")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| model_err(format!("{}: phoneme_id_map: {e}", json_path.display())))?
            .unwrap_or_default();
        let special = |s: &str| {
            ids.get(s)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| model_err(format!("{}: phoneme_id_map has no `{s}`", json_path.display())))
        };
        let (bos, pad, eos) = (special("^")?, special("_")?, special("$")?);

        let phonemizer = EnglishPhonemizer::new_bundled()
            .map_err(|e| model_err(format!("the pronouncing dictionary did not load: {e}")))?;

        let env = runtime::environment(dylib)?;
        let (session, _) = runtime::open_session(env, MODEL, onnx, DevicePreference::Cpu, threads)?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for want in ["input", "input_lengths", "scales"] {
            if !names.contains(&want) {
                return Err(model_err(format!("the graph has no input `{want}` (it has {names:?})")));
            }
        }
        let has_sid = names.contains(&"sid");
        if speakers > 1 && !has_sid {
            return Err(model_err(format!("the config says {speakers} speakers but the graph has no `sid` input")));
        }
        let output = session
            .outputs()
            .first()
            .map(|o| o.name().to_string())
            .ok_or_else(|| model_err("the graph has no output"))?;
        Ok(PiperVoice {
            session: Mutex::new(session),
            output,
            has_sid,
            phonemizer,
            ids,
            bos,
            pad,
            eos,
            rate,
            speakers,
            noise_scale,
            length_scale,
            noise_w,
        })
    }

    /// Samples per second of what [`Self::speak`] returns.
    pub(super) fn rate(&self) -> u32 {
        self.rate
    }

    /// Speakers offered (1 for a single-speaker voice).
    pub(super) fn speakers(&self) -> usize {
        self.speakers
    }

    /// Phoneme ids of `text` in Piper's convention; how many phoneme symbols the map lacked.
    pub(super) fn phoneme_ids(&self, text: &str) -> GenResult<(Vec<i64>, usize)> {
        // The G2P crate is not ours: a panic inside it on some odd input must not take down the
        // worker, so it becomes an error like any other.
        let phonemized = std::panic::catch_unwind(AssertUnwindSafe(|| self.phonemizer.phonemize_with_prosody(text)))
            .map_err(|_| model_err("the phonemizer failed on this text"))?
            .map_err(|e| model_err(format!("phonemizer: {e}")))?;
        let (tokens, _) = phonemized;
        let mut ids = Vec::with_capacity(tokens.len() * 2 + 4);
        ids.extend_from_slice(&self.bos);
        ids.extend_from_slice(&self.pad);
        let mut dropped = 0usize;
        let mut spoken = 0usize;
        for token in &tokens {
            // A token the map knows whole, else each of its characters (the English phonemizer
            // emits one IPA character per token, as espeak's Piper voices expect).
            if let Some(v) = self.ids.get(token.as_str()) {
                ids.extend_from_slice(v);
                ids.extend_from_slice(&self.pad);
                spoken += usize::from(token.chars().any(char::is_alphabetic));
                continue;
            }
            let mut buf = [0u8; 4];
            for ch in token.chars() {
                match self.ids.get(&*ch.encode_utf8(&mut buf)) {
                    Some(v) => {
                        ids.extend_from_slice(v);
                        ids.extend_from_slice(&self.pad);
                        spoken += usize::from(ch.is_alphabetic());
                    }
                    None => dropped += 1,
                }
            }
        }
        ids.extend_from_slice(&self.eos);
        if spoken == 0 {
            return Err(GenError::BadRequest("speech: the line has no sounds this voice can say".into()));
        }
        Ok((ids, dropped))
    }

    /// Speaks already-sanitised `text` as `speaker`; `pace` > 1 is faster. Raw model output.
    pub(super) fn speak(&self, text: &str, speaker: usize, pace: f32) -> GenResult<Vec<f32>> {
        let (ids, dropped) = self.phoneme_ids(text)?;
        if dropped > 0 {
            tracing::debug!(dropped, "phoneme symbols missing from the voice's map were skipped");
        }
        let n = ids.len();
        let input = ort::value::Tensor::from_array(([1usize, n], ids)).map_err(|e| model_err(e.to_string()))?;
        let lengths =
            ort::value::Tensor::from_array(([1usize], vec![n as i64])).map_err(|e| model_err(e.to_string()))?;
        let scales =
            ort::value::Tensor::from_array(([3usize], vec![self.noise_scale, self.length_scale / pace, self.noise_w]))
                .map_err(|e| model_err(e.to_string()))?;
        let mut inputs: Vec<(std::borrow::Cow<'_, str>, ort::session::SessionInputValue<'_>)> = vec![
            ("input".into(), input.into()),
            ("input_lengths".into(), lengths.into()),
            ("scales".into(), scales.into()),
        ];
        if self.has_sid {
            let sid = speaker.min(self.speakers.saturating_sub(1)) as i64;
            let sid = ort::value::Tensor::from_array(([1usize], vec![sid])).map_err(|e| model_err(e.to_string()))?;
            inputs.push(("sid".into(), sid.into()));
        }
        let mut session = self.session.lock().map_err(|_| model_err("session lock poisoned"))?;
        let outputs = session.run(inputs).map_err(|e| model_err(e.to_string()))?;
        let value =
            outputs.get(self.output.as_str()).ok_or_else(|| model_err(format!("no output `{}`", self.output)))?;
        let (_, samples) = value.try_extract_tensor::<f32>().map_err(|e| model_err(format!("output: {e}")))?;
        Ok(samples.to_vec())
    }
}
