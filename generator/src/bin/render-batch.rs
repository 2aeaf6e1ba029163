//! `render-batch`: runs a list of prompts through a model manifest and writes one H.264 MP4 per
//! prompt, with the per-stage times. For the adherence evaluation (`training/evaluate.py`), the
//! README's frame strips and the batching benchmark; it goes through the same `Pipeline` (and
//! the same encoder) as the service, without moderation, marks or signing.
//!
//! ```text
//! render-batch --manifest models/world/manifest.toml --jobs prompts.jsonl --out DIR
//!              [--batch N] [--threads N] [--steps N] [--guidance X]
//! ```
//!
//! Each line of the jobs file: `{"id": "p000", "prompt": "…", "seconds": 4,
//! "aspect_ratio": "SQUARE", "seed": 7}`, optionally `"reference": [384 numbers]` (a cameo's
//! likeness, as `jobs::reference::from_frames` computes it); other fields are ignored. Lines are
//! taken in order; up to `--batch` consecutive jobs of one shape share each denoiser call.
//! `DIR/<id>.mp4` and a line per job in `DIR/timings.jsonl`; a summary on stdout.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use generator::manifest::AspectRatio;
use generator::pipeline::{GenerationRequest, Pipeline, PipelineOptions};
use generator::runtime::{DevicePreference, default_dylib_path};
use media::EncodeOptions;

#[derive(serde::Deserialize)]
struct Job {
    id: String,
    prompt: String,
    #[serde(default = "four")]
    seconds: u32,
    #[serde(default = "square")]
    aspect_ratio: AspectRatio,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    reference: Option<Vec<f32>>,
}

fn four() -> u32 {
    4
}

fn square() -> AspectRatio {
    AspectRatio::Square
}

struct Args {
    manifest: PathBuf,
    jobs: PathBuf,
    out: PathBuf,
    batch: usize,
    threads: usize,
    steps: Option<usize>,
    guidance: Option<f32>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        manifest: PathBuf::from("models/world/manifest.toml"),
        jobs: PathBuf::new(),
        out: PathBuf::new(),
        batch: 1,
        threads: 0,
        steps: None,
        guidance: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--manifest" => a.manifest = value()?.into(),
            "--jobs" => a.jobs = value()?.into(),
            "--out" => a.out = value()?.into(),
            "--batch" => a.batch = value()?.parse().map_err(|_| "--batch takes a whole number")?,
            "--threads" => a.threads = value()?.parse().map_err(|_| "--threads takes a whole number")?,
            "--steps" => a.steps = Some(value()?.parse().map_err(|_| "--steps takes a whole number")?),
            "--guidance" => a.guidance = Some(value()?.parse().map_err(|_| "--guidance takes a number")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.jobs.as_os_str().is_empty() || a.out.as_os_str().is_empty() {
        return Err("usage: render-batch --jobs FILE.jsonl --out DIR [--manifest M] [--batch N] [--threads N] \
                    [--steps N] [--guidance X]"
            .into());
    }
    a.batch = a.batch.max(1);
    Ok(a)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("render-batch: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let a = parse()?;
    let file = std::fs::File::open(&a.jobs).map_err(|e| format!("{}: {e}", a.jobs.display()))?;
    let mut jobs = vec![];
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let job: Job = serde_json::from_str(&line).map_err(|e| format!("{} line {}: {e}", a.jobs.display(), n + 1))?;
        jobs.push(job);
    }
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let opts =
        PipelineOptions { dylib: default_dylib_path(), device: DevicePreference::Auto, intra_threads: a.threads };
    let load = Instant::now();
    let pipeline = Pipeline::load(&a.manifest, &opts).map_err(|e| e.to_string())?;
    let m = pipeline.manifest();
    println!("model {} v{} on {} (loaded in {:?})", m.name, m.version, pipeline.target().as_str(), load.elapsed());
    let mut timings = std::fs::File::create(a.out.join("timings.jsonl")).map_err(|e| e.to_string())?;

    let requests: Vec<GenerationRequest> = jobs
        .iter()
        .map(|j| {
            let mut r = GenerationRequest::new(j.prompt.clone(), j.seed, j.seconds, j.aspect_ratio);
            r.steps = a.steps;
            r.guidance_scale = a.guidance;
            r.reference = j.reference.clone();
            r
        })
        .collect();
    let plans: Vec<_> = requests.iter().map(|r| pipeline.plan(r).map(|p| p.batch_key())).collect();
    let started = Instant::now();
    let (mut done, mut failed) = (0usize, 0usize);
    let (mut denoise_ms, mut decode_ms, mut encode_ms, mut text_ms) = (0f64, 0f64, 0f64, 0f64);
    let mut i = 0;
    while i < jobs.len() {
        // Consecutive jobs with the same key, up to --batch.
        let mut j = i + 1;
        while j < jobs.len() && j - i < a.batch && plans.get(j).and_then(|p| p.as_ref().ok()).is_some() {
            if plans.get(j).and_then(|p| p.as_ref().ok()) != plans.get(i).and_then(|p| p.as_ref().ok()) {
                break;
            }
            j += 1;
        }
        let group = requests.get(i..j).unwrap_or(&[]);
        let t = Instant::now();
        let results = pipeline.generate_batch(group, &mut |_, _, _| {}, &|_| false);
        let batch_wall = t.elapsed();
        for (k, result) in results.into_iter().enumerate() {
            let Some(job) = jobs.get(i + k) else { continue };
            match result {
                Ok((frames, st)) => {
                    let t = Instant::now();
                    let opts = EncodeOptions::published_clip(frames.fps);
                    let video = media::encode_mp4(frames.width, frames.height, &frames.rgb, &opts)
                        .map_err(|e| e.to_string())?;
                    let enc = t.elapsed();
                    std::fs::write(a.out.join(format!("{}.mp4", job.id)), &video.mp4).map_err(|e| e.to_string())?;
                    let row = serde_json::json!({
                        "id": job.id,
                        "width": frames.width,
                        "height": frames.height,
                        "frames": frames.rgb.len(),
                        "batch": group.len(),
                        "text_encode_ms": st.text_encode.as_secs_f64() * 1e3,
                        "denoise_ms": st.denoise.as_secs_f64() * 1e3,
                        "decode_ms": st.decode.as_secs_f64() * 1e3,
                        "encode_ms": enc.as_secs_f64() * 1e3,
                        "batch_wall_ms": batch_wall.as_secs_f64() * 1e3,
                    });
                    writeln!(timings, "{row}").map_err(|e| e.to_string())?;
                    // Shared stages count once per batch.
                    if k == 0 {
                        text_ms += st.text_encode.as_secs_f64() * 1e3;
                        denoise_ms += st.denoise.as_secs_f64() * 1e3;
                    }
                    decode_ms += st.decode.as_secs_f64() * 1e3;
                    encode_ms += enc.as_secs_f64() * 1e3;
                    done += 1;
                }
                Err(e) => {
                    eprintln!("{}: {e}", job.id);
                    failed += 1;
                }
            }
        }
        i = j;
    }
    let wall = started.elapsed().as_secs_f64();
    let per = |ms: f64| if done == 0 { 0.0 } else { ms / done as f64 };
    println!(
        "{done} clips ({failed} failed) in {wall:.1} s: {:.2} clips/min, batch {}; per clip: text {:.0} ms, \
         denoise {:.0} ms, decode {:.0} ms, encode {:.0} ms",
        done as f64 / wall * 60.0,
        a.batch,
        per(text_ms),
        per(denoise_ms),
        per(decode_ms),
        per(encode_ms)
    );
    if failed > 0 {
        return Err(format!("{failed} clips failed"));
    }
    Ok(())
}
