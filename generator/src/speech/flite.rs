//! flite, CMU's small speech synthesiser, run as a separate process: `flite -voice NAME -f
//! text.txt -o out.wav`. The text goes through a file in a private temporary directory, never
//! through a shell or the argument list (a line starting with `-` would otherwise read as an
//! option), and every run has a deadline after which the process is killed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use audio::Mono;

use super::wav;
use crate::{GenError, GenResult};

/// flite's built-in voices this engine offers, most distinct first: `slt` (US English, female),
/// `rms` (US English, male), `awb` (Scottish English, male), `kal16` (US English, male, diphone).
pub const STOCK_VOICES: [&str; 4] = ["slt", "rms", "awb", "kal16"];

/// A flite binary that answered `-lv`, and which of [`STOCK_VOICES`] it has.
#[derive(Debug)]
pub(super) struct Flite {
    binary: PathBuf,
    voices: Vec<&'static str>,
    timeout: Duration,
}

fn model_err(message: String) -> GenError {
    GenError::Model { model: "flite", message }
}

/// Waits for `child` until `deadline`; kills it (and reaps it) past the deadline.
fn wait_until(child: &mut Child, deadline: Instant) -> Result<ExitStatus, String> {
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for flite: {e}")),
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("flite did not finish in time and was stopped".into());
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(now)));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

impl Flite {
    /// Runs `flite -lv` and keeps the stock voices it lists.
    pub(super) fn probe(binary: &Path, timeout: Duration) -> Result<Flite, String> {
        let mut child = Command::new(binary)
            .arg("-lv")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let mut listing = String::new();
        // `-lv` prints one short line; reading to the end cannot block past the process's exit.
        if let Some(mut out) = child.stdout.take() {
            let _ = out.by_ref().take(64 * 1024).read_to_string(&mut listing);
        }
        let status = wait_until(&mut child, Instant::now() + timeout)?;
        if !status.success() {
            return Err(format!("{} -lv exited with {status}", binary.display()));
        }
        let listed: Vec<&str> =
            listing.split_once(':').map(|(_, names)| names).unwrap_or(&listing).split_whitespace().collect();
        let voices: Vec<&'static str> = STOCK_VOICES.iter().copied().filter(|v| listed.contains(v)).collect();
        if voices.is_empty() {
            return Err(format!(
                "{} lists none of the voices {STOCK_VOICES:?} (it said {:?})",
                binary.display(),
                listing.trim()
            ));
        }
        Ok(Flite { binary: binary.to_path_buf(), voices, timeout })
    }

    /// The stock voices this binary has, most distinct first.
    pub(super) fn voices(&self) -> &[&'static str] {
        &self.voices
    }

    /// Speaks already-sanitised `text` with `voice`; `pace` > 1 is faster.
    pub(super) fn speak(&self, text: &str, voice: &'static str, pace: f32) -> GenResult<Mono> {
        let dir = tempfile::Builder::new()
            .prefix("speech-flite-")
            .tempdir()
            .map_err(|e| model_err(format!("cannot make a temporary directory: {e}")))?;
        let text_file = dir.path().join("line.txt");
        let wav_file = dir.path().join("line.wav");
        let log_file = dir.path().join("stderr.txt");
        std::fs::write(&text_file, text.as_bytes()).map_err(|e| model_err(format!("cannot write the text: {e}")))?;
        let log = std::fs::File::create(&log_file).map_err(|e| model_err(format!("cannot make a log file: {e}")))?;
        let stretch = 1.0 / pace;
        let mut child = Command::new(&self.binary)
            .arg("-voice")
            .arg(voice)
            .arg("--setf")
            .arg(format!("duration_stretch={stretch:.3}"))
            .arg("-f")
            .arg(&text_file)
            .arg("-o")
            .arg(&wav_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| model_err(format!("cannot run {}: {e}", self.binary.display())))?;
        let status = wait_until(&mut child, Instant::now() + self.timeout).map_err(model_err)?;
        if !status.success() {
            let said = std::fs::read_to_string(&log_file).unwrap_or_default();
            let said: String = said.trim().chars().take(300).collect();
            return Err(model_err(format!("exited with {status}: {said}")));
        }
        let size = std::fs::metadata(&wav_file).map(|m| m.len()).unwrap_or(0);
        if size > wav::MAX_BYTES as u64 {
            return Err(model_err(format!("wrote a {size}-byte WAV file, larger than expected")));
        }
        let bytes = std::fs::read(&wav_file).map_err(|e| model_err(format!("wrote no audio: {e}")))?;
        wav::parse_pcm16_mono(&bytes).map_err(|e| model_err(format!("wrote an unreadable WAV file: {e}")))
    }
}
