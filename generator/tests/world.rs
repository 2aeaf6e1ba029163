//! The shipped model (models/world) through the seam: the MiniLM text encoder, the 4x/32x
//! latent space, tiled decoding, and clips that follow their prompt's colour and setting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::path::Path;
use std::sync::OnceLock;

use generator::manifest::{AspectRatio, LatentShape};
use generator::pipeline::{GenerationRequest, Pipeline, PipelineOptions};
use generator::runtime::{DevicePreference, default_dylib_path};
use generator::tiling::Tiling;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

fn world() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        let opts = PipelineOptions { dylib: default_dylib_path(), device: DevicePreference::Cpu, intra_threads: 0 };
        Pipeline::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/world/manifest.toml"), &opts).unwrap()
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn the_minilm_encoder_gives_token_states_a_mask_and_unit_pooled_vectors() {
    let e = world()
        .encode_text(&[
            "a red ball rolling left on the grass",
            "a crimson sphere drifting to the left across a meadow",
            "a blue cube floating in outer space",
        ])
        .unwrap();
    assert_eq!((e.rows, e.dim), (3, 384));
    assert_eq!(e.hidden.len(), 3 * e.len * 384);
    for r in 0..3 {
        let p = e.pooled(r);
        let norm: f32 = p.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "pooled vectors are L2-normalised ({norm})");
    }
    // Paraphrases land closer together than other scenes: what lets held-out wording work.
    let (para, other) = (cosine(e.pooled(0), e.pooled(1)), cosine(e.pooled(0), e.pooled(2)));
    assert!(para > other + 0.1, "paraphrase {para}, other scene {other}");
}

#[test]
fn colour_names_reach_the_encoder_with_the_glossary_word_after_them() {
    // models/world/colour-words.tsv (WordNet): "crimson" is encoded as "crimson red".
    let e = world()
        .encode_text(&[
            "a crimson sphere drifting to the left",
            "a crimson red sphere drifting to the left",
            "an azure cube, in the sea",
            "an azure blue cube, in the sea",
        ])
        .unwrap();
    for (r, same) in [(0, 1), (2, 3)] {
        assert!(cosine(e.pooled(r), e.pooled(same)) > 0.9999, "row {r} not expanded");
        assert_eq!(
            e.hidden[r * e.len * 384..(r + 1) * e.len * 384],
            e.hidden[same * e.len * 384..(same + 1) * e.len * 384]
        );
    }
}

#[test]
fn latents_are_compressed_in_time_and_space() {
    let m = world().manifest();
    let plan = world().plan(&GenerationRequest::new("x", 1, 4, AspectRatio::Portrait)).unwrap();
    assert_eq!(plan.size, [256, 448]);
    assert_eq!(plan.frames, 48);
    assert_eq!(plan.shape, LatentShape { channels: 16, frames: 12, height: 14, width: 8 });
    assert_eq!(m.latent.temporal_compression * plan.shape.frames, plan.frames);
}

fn noise(shape: LatentShape, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..shape.len()).map(|_| StandardNormal.sample(&mut rng)).collect()
}

#[test]
fn tiled_decoding_matches_decoding_the_whole_clip() {
    // An 8 s square clip: 24 latent frames, 96 video frames.
    let shape = LatentShape { channels: 16, frames: 24, height: 8, width: 8 };
    let z: Vec<f32> = noise(shape, 5).iter().map(|v| v * 0.5).collect();
    let whole =
        world().decode_tiled(&z, shape, 96, Tiling { frames: 0, frame_overlap: 0, cells: 0, cell_overlap: 0 }).unwrap();
    let tiled = world().decode(&z, shape, 96).unwrap();
    let spatial =
        world().decode_tiled(&z, shape, 96, Tiling { frames: 8, frame_overlap: 2, cells: 6, cell_overlap: 2 }).unwrap();
    assert_eq!((whole.len(), tiled.len(), spatial.len()), (96, 96, 96));
    // Random latents are the hardest case for the seams (real latents are smoother); the
    // decoder's 3-D convolutions see two latent frames and cells either side, so a tile's edge
    // misses a little context, which the overlap's linear blend hides.
    for (name, other, mean_limit) in [("temporal", &tiled, 2.0), ("temporal and spatial", &spatial, 4.0)] {
        let diffs: Vec<u8> =
            whole.iter().zip(other.iter()).flat_map(|(a, b)| a.iter().zip(b).map(|(p, q)| p.abs_diff(*q))).collect();
        let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
        let max = diffs.iter().copied().max().unwrap();
        println!("{name} tiles: mean {mean:.3}, max {max}");
        assert!(mean < mean_limit && max < 64, "{name} tiles differ from the whole: mean {mean:.3}, max {max}");
    }
    // Frames far from any seam are exact.
    assert_eq!(whole[..16], tiled[..16]);
}

#[test]
fn same_request_gives_identical_frames_and_the_seed_matters() {
    let req = GenerationRequest::new("a red ball bouncing on the grass", 7, 1, AspectRatio::Square);
    let run = |r: &GenerationRequest| world().generate(r, &mut |_, _| {}, &|| false).unwrap().0;
    let a = run(&req);
    assert_eq!((a.width, a.height, a.rgb.len()), (256, 256, 12));
    assert!(a.rgb == run(&req).rgb);
    assert!(a.rgb != run(&GenerationRequest { seed: 8, ..req.clone() }).rgb);
    // The setting follows the prompt: grass is green below the horizon, space is dark everywhere.
    let space = run(&GenerationRequest::new("a red ball bouncing in outer space", 7, 1, AspectRatio::Square));
    let lower_green = |f: &[u8]| {
        let rows = &f[f.len() * 3 / 4..];
        let n = rows.len() / 3;
        rows.chunks_exact(3).filter(|p| p[1] > p[0] + 30 && p[1] > p[2] + 30).count() as f64 / n as f64
    };
    let brightness = |f: &[u8]| f.iter().map(|&v| f64::from(v)).sum::<f64>() / f.len() as f64;
    assert!(lower_green(&a.rgb[6]) > 0.8, "grass: {:.2} of the bottom quarter green", lower_green(&a.rgb[6]));
    assert!(brightness(&space.rgb[6]) < 40.0, "space: mean brightness {:.1}", brightness(&space.rgb[6]));
}
