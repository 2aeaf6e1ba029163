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
    GenerationRequest {
        prompt: prompt.into(),
        seed,
        duration_seconds: 1,
        aspect_ratio: AspectRatio::Landscape,
        reference: None,
    }
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
    with_ref.reference = Some(vec![0.5; pipeline().manifest().embed_dim]);
    assert!(a.rgb != run(&with_ref).rgb, "the reference input flows into generation");
}

#[test]
fn progress_is_reported_per_step_and_cancel_stops_at_the_next_step() {
    let mut seen = vec![];
    pipeline().generate(&request("waves", 1), &mut |d, t| seen.push((d, t)), &|| false).unwrap();
    let steps = pipeline().manifest().steps;
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
    assert_eq!(e.len(), 3);
    assert_eq!(e[0].len(), pipeline().manifest().embed_dim);
    assert_eq!(e[0], e[1]);
    assert_ne!(e[0], e[2]);
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
    let dim = pipeline().manifest().embed_dim;
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
