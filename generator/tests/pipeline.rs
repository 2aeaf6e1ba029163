//! The real ONNX Runtime pipeline on the shipped tiny model (CPU).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use generator::manifest::AspectRatio;
use generator::pipeline::{GenerationRequest, Pipeline, PipelineOptions};
use generator::runtime::{DevicePreference, default_dylib_path};
use generator::{GenError, runtime};

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tiny/manifest.toml")
}

fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        let opts = PipelineOptions { dylib: default_dylib_path(), device: DevicePreference::Auto, intra_threads: 1 };
        Pipeline::load(&manifest(), &opts).unwrap()
    })
}

fn request(prompt: &str, seed: u64) -> GenerationRequest {
    GenerationRequest::new(prompt, seed, 1, AspectRatio::Landscape)
}

fn run(req: &GenerationRequest) -> generator::pipeline::Frames {
    pipeline().generate(req, &mut |_, _| {}, &|| false).unwrap().0
}

#[test]
fn frames_have_the_requested_shape_and_count() {
    let f = run(&request("a red fox running through snow", 7));
    assert_eq!((f.width, f.height, f.fps), (640, 384, 12));
    assert_eq!(f.rgb.len(), 12);
    assert!(f.rgb.iter().all(|fr| fr.len() == 640 * 384 * 3));
    // Not a flat image: the frames carry structure.
    let first = &f.rgb[0];
    let distinct: std::collections::HashSet<u8> = first.iter().copied().collect();
    assert!(distinct.len() > 16, "only {} distinct values", distinct.len());
    assert_eq!(pipeline().target(), runtime::ExecutionTarget::Cpu);
}

#[test]
fn same_prompt_seed_and_model_give_identical_frames() {
    let a = run(&request("a lighthouse at dusk", 42));
    let b = run(&request("a lighthouse at dusk", 42));
    assert!(a.rgb == b.rgb);
    let other_seed = run(&request("a lighthouse at dusk", 43));
    assert!(a.rgb != other_seed.rgb);
    let other_prompt = run(&request("a lighthouse at noon", 42));
    assert!(a.rgb != other_prompt.rgb);
    let mut with_ref = request("a lighthouse at dusk", 42);
    with_ref.reference = Some(vec![0.5; pipeline().manifest().embed_dim()]);
    assert!(a.rgb != run(&with_ref).rgb, "the reference input flows into generation");
}

#[test]
fn progress_is_reported_per_step_and_cancel_stops_at_the_next_step() {
    let mut seen = vec![];
    pipeline().generate(&request("waves", 1), &mut |d, t| seen.push((d, t)), &|| false).unwrap();
    let steps = pipeline().manifest().steps();
    assert_eq!(seen, (1..=steps).map(|d| (d, steps)).collect::<Vec<_>>());

    let done = AtomicUsize::new(0);
    let r = pipeline().generate(&request("waves", 1), &mut |d, _| done.store(d, Ordering::SeqCst), &|| {
        done.load(Ordering::SeqCst) >= 3
    });
    assert!(matches!(r, Err(GenError::Cancelled)));
    assert_eq!(done.load(Ordering::SeqCst), 3);
}

#[test]
fn requests_outside_the_model_are_refused() {
    let mut r = request("x", 1);
    r.duration_seconds = 0;
    assert!(matches!(pipeline().check(&r), Err(GenError::BadRequest(_))));
    r.duration_seconds = 9;
    assert!(matches!(pipeline().check(&r), Err(GenError::BadRequest(_))));
    r.duration_seconds = 2;
    r.reference = Some(vec![0.0; 3]);
    assert!(matches!(pipeline().check(&r), Err(GenError::BadRequest(_))));
}

#[test]
fn a_missing_library_says_what_to_run() {
    let e = runtime::environment(Path::new("/nonexistent/libonnxruntime.so")).unwrap_err().to_string();
    assert!(e.contains("scripts/setup.sh"), "{e}");
}

#[test]
fn text_embeddings_are_pooled_per_prompt() {
    let e = pipeline().encode_text(&["a cat", "a cat", "a dog on a boat"]).unwrap();
    assert_eq!(e.rows, 3);
    assert_eq!(e.pooled(0).len(), pipeline().manifest().embed_dim());
    assert_eq!(e.pooled(0), e.pooled(1));
    assert_ne!(e.pooled(0), e.pooled(2));
    // Padded to the longest prompt, with a mask over the real tokens.
    assert_eq!(e.mask.len(), 3 * e.len);
    assert_eq!(e.mask.iter().take(e.len).filter(|&&m| m == 1.0).count(), 4, "BOS a cat EOS");
}

#[test]
fn a_reference_from_a_cameo_clip_is_accepted_and_changes_the_frames() {
    // A 48x64 portrait clip: a warm face over a blue shirt on green, swaying a little.
    let (w, h) = (48, 64);
    let clip: Vec<Vec<u8>> = (0..10)
        .map(|t| {
            let mut buf = Vec::with_capacity(w * h * 3);
            for y in 0..h {
                for x in 0..w {
                    let (u, v) = (x as f64 / w as f64 - 0.5 - t as f64 * 0.005, y as f64 / h as f64);
                    let px = if u * u + (v - 0.35) * (v - 0.35) < 0.02 {
                        [224, 172, 140]
                    } else if v > 0.6 && u.abs() < 0.25 {
                        [40, 60, 180]
                    } else {
                        [90, 160, 90]
                    };
                    buf.extend(px);
                }
            }
            buf
        })
        .collect();
    let dim = pipeline().manifest().embed_dim();
    let reference = generator::reference::from_frames(&clip, w, h, dim).unwrap();
    assert_eq!(reference.len(), dim);

    let plain = request("a person waving in a kitchen", 11);
    let with_ref = GenerationRequest { reference: Some(reference.clone()), ..plain.clone() };
    assert!(pipeline().check(&with_ref).is_ok());
    let a = run(&plain);
    let b = run(&with_ref);
    assert_eq!((b.width, b.height, b.rgb.len()), (a.width, a.height, a.rgb.len()));
    assert!(a.rgb != b.rgb, "the clip's reference flows into generation");
    assert!(b.rgb == run(&with_ref).rgb, "and deterministically");

    // Several cameos: the mean of their references is accepted too.
    let combined = generator::reference::combine(&[reference, vec![0.0; dim]]).unwrap();
    assert!(pipeline().check(&GenerationRequest { reference: Some(combined), ..plain }).is_ok());
}

fn load(manifest: &str) -> Pipeline {
    let opts = PipelineOptions { dylib: default_dylib_path(), device: DevicePreference::Cpu, intra_threads: 1 };
    Pipeline::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(manifest), &opts).unwrap()
}

fn max_diff(a: &[Vec<u8>], b: &[Vec<u8>]) -> u8 {
    a.iter().zip(b).flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| p.abs_diff(*q))).max().unwrap_or(0)
}

#[test]
fn a_batch_gives_each_request_the_frames_it_gets_alone() {
    let mut reqs = vec![request("a lighthouse at dusk", 42), request("a red balloon over a very long road", 7)];
    reqs[1].guidance_scale = Some(1.0); // no guidance pair for this one
    reqs.push(GenerationRequest { negative_prompt: Some("blurry".into()), ..request("waves", 3) });
    let alone: Vec<_> = reqs.iter().map(run).collect();
    let mut progress = vec![0usize; reqs.len()];
    let batch = pipeline().generate_batch(&reqs, &mut |i, done, _| progress[i] = done, &|_| false);
    assert_eq!(progress, vec![pipeline().manifest().steps(); 3]);
    for (a, b) in alone.iter().zip(batch) {
        let b = b.unwrap().0;
        // Same shapes; values equal up to float summation order in a bigger matrix product.
        assert_eq!(b.rgb.len(), a.rgb.len());
        assert!(max_diff(&a.rgb, &b.rgb) <= 1, "batched frames differ by {}", max_diff(&a.rgb, &b.rgb));
    }
}

#[test]
fn a_batch_member_that_cannot_be_made_or_is_cancelled_does_not_stop_the_others() {
    let mut bad = request("too long", 1);
    bad.duration_seconds = 99;
    let other_shape = GenerationRequest::new("square", 1, 1, AspectRatio::Square);
    let reqs = vec![request("a", 1), bad, other_shape, request("b", 2), request("c", 3)];
    let out = pipeline().generate_batch(&reqs, &mut |_, _, _| {}, &|i| i == 4);
    assert!(out[0].is_ok() && out[3].is_ok());
    assert!(matches!(&out[1], Err(GenError::BadRequest(m)) if m.contains("duration")));
    assert!(matches!(&out[2], Err(GenError::BadRequest(m)) if m.contains("shapes")));
    assert!(matches!(out[4], Err(GenError::Cancelled)));
}

#[test]
fn steps_guidance_and_negative_prompt_are_overridable_within_bounds() {
    let m = pipeline().manifest();
    let base = request("a lighthouse at dusk", 42);
    let mut seen = 0;
    let more = GenerationRequest { steps: Some(m.max_steps()), ..base.clone() };
    pipeline().generate(&more, &mut |_, t| seen = t, &|| false).unwrap();
    assert_eq!(seen, m.max_steps());
    for bad in [
        GenerationRequest { steps: Some(m.max_steps() + 1), ..base.clone() },
        GenerationRequest { steps: Some(0), ..base.clone() },
        GenerationRequest { guidance_scale: Some(m.max_guidance_scale() + 0.5), ..base.clone() },
        GenerationRequest { guidance_scale: Some(f32::NAN), ..base.clone() },
        GenerationRequest { guidance_scale: Some(0.5), ..base.clone() },
    ] {
        assert!(matches!(pipeline().check(&bad), Err(GenError::BadRequest(_))), "{bad:?}");
    }
    let a = run(&base);
    assert!(a.rgb != run(&GenerationRequest { negative_prompt: Some("fog".into()), ..base.clone() }).rgb);
    assert!(a.rgb != run(&GenerationRequest { guidance_scale: Some(7.5), ..base.clone() }).rgb);
    // Guidance 1 is the conditional prediction alone: the negative prompt no longer matters.
    let g1 = GenerationRequest { guidance_scale: Some(1.0), ..base.clone() };
    assert!(run(&g1).rgb == run(&GenerationRequest { negative_prompt: Some("fog".into()), ..g1 }).rgb);
}

#[test]
fn half_precision_models_run_through_the_same_seam() {
    let half = load("models/tiny/fp16.toml");
    let req = request("a lighthouse at dusk", 42);
    let a = run(&req);
    let b = half.generate(&req, &mut |_, _| {}, &|| false).unwrap().0;
    assert_eq!((b.width, b.height, b.rgb.len()), (a.width, a.height, a.rgb.len()));
    // fp16 inputs and outputs round the latents each step: close to fp32, not equal.
    let mean: f64 = a
        .rgb
        .iter()
        .zip(&b.rgb)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| f64::from(p.abs_diff(*q))))
        .sum::<f64>()
        / (a.rgb.len() * a.rgb[0].len()) as f64;
    assert!(mean < 2.0, "mean difference {mean}");
    assert!(a.rgb != b.rgb, "the fp16 model really ran");
}

#[test]
fn an_epsilon_prediction_model_samples_with_ddim() {
    let ddim = load("models/tiny/ddim.toml");
    let req = request("a lighthouse at dusk", 42);
    let mut steps = vec![];
    let a = ddim.generate(&req, &mut |d, _| steps.push(d), &|| false).unwrap().0;
    assert_eq!(steps.len(), ddim.manifest().steps());
    assert_eq!(a.rgb.len(), 12);
    assert!(a.rgb == ddim.generate(&req, &mut |_, _| {}, &|| false).unwrap().0.rgb);
    assert!(a.rgb != run(&req).rgb, "another sampler, other frames");
}

/// A source clip of `frames` frames, `width` x `height`: a horizontal gradient whose colour moves.
fn source_clip(width: usize, height: usize, frames: usize) -> generator::pipeline::SourceClip {
    let rgb = (0..frames)
        .map(|f| {
            let mut px = Vec::with_capacity(width * height * 3);
            for _y in 0..height {
                for x in 0..width {
                    px.extend_from_slice(&[(x * 255 / width) as u8, (f * 20) as u8, 200]);
                }
            }
            px
        })
        .collect();
    generator::pipeline::SourceClip { width, height, rgb }
}

#[test]
fn a_remix_source_conditions_a_model_with_source_latents() {
    let src_model = load("models/tiny/source.toml");
    let plain = request("a lighthouse at dusk", 42);
    // Half the clip's size and fewer frames than it has: resized, and zeros after its frames.
    let remix = GenerationRequest { source: Some(source_clip(320, 192, 5)), ..plain.clone() };
    let make = |p: &Pipeline, r: &GenerationRequest| p.generate(r, &mut |_, _| {}, &|| false).unwrap().0;
    let with = make(&src_model, &remix);
    let without = make(&src_model, &plain);
    assert_eq!((with.width, with.height, with.rgb.len()), (640, 384, 12));
    assert!(max_diff(&with.rgb, &without.rgb) > 8, "the source changes the frames");
    assert!(with.rgb == make(&src_model, &remix).rgb, "deterministic");
    let other = GenerationRequest { source: Some(source_clip(640, 384, 12)), ..plain.clone() };
    assert!(make(&src_model, &other).rgb != with.rgb, "another source, other frames");
    // In a batch, a remix and a plain request each get the frames they get alone.
    let batch = src_model.generate_batch(&[remix.clone(), plain.clone()], &mut |_, _, _| {}, &|_| false);
    let got: Vec<_> = batch.into_iter().map(|r| r.unwrap().0).collect();
    assert!(max_diff(&got[0].rgb, &with.rgb) <= 1 && max_diff(&got[1].rgb, &without.rgb) <= 1);
    // A model without source latents ignores the source (its reference input carries remixes).
    assert!(run(&remix).rgb == run(&plain).rgb);
    // An empty source is no source.
    let empty = GenerationRequest { source: Some(source_clip(0, 0, 0)), ..plain };
    assert!(make(&src_model, &empty).rgb == without.rgb);
}
