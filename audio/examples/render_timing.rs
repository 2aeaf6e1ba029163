//! Times rendering and mixing a 4 s clip: `cargo run -p audio --release --example render_timing`.

use std::time::Instant;

use audio::ambience::render;
use audio::mix::{MixSettings, Placed, mix};
use audio::scene::{Cue, SceneSound, from_prompt};
use audio::{Mono, resample};

fn main() -> Result<(), audio::AudioError> {
    for cue in Cue::ALL {
        let scene = SceneSound { cues: vec![(cue, 0.8)] };
        let start = Instant::now();
        let out = render(&scene, 4.0, 1);
        println!("{:>10}: {:7.1} ms ({} frames)", cue.name(), start.elapsed().as_secs_f64() * 1e3, out.frames());
    }
    let scene = from_prompt("a storm over the sea at night by a campfire with music");
    let start = Instant::now();
    let ambience = render(&scene, 4.0, 1);
    println!("4 cues {:?}: {:.1} ms", scene.cue_list(), start.elapsed().as_secs_f64() * 1e3);
    let voice = Mono {
        samples: (0..66_150).map(|i| (i as f32 * 0.06).sin() * (i as f32 * 0.0005).sin().abs() * 0.5).collect(),
        rate: 22_050,
    };
    let start = Instant::now();
    let clip = resample::to_output_rate(&voice);
    println!("resample 3 s from 22.05 kHz: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    measure_timing(&ambience);
    let start = Instant::now();
    let mixed = mix(&ambience, &[Placed { start_seconds: 0.5, clip, pan: 0.0 }], &MixSettings::default())?;
    println!(
        "mix: {:.1} ms, {:?} LUFS, {:.2} dBTP",
        start.elapsed().as_secs_f64() * 1e3,
        mixed.integrated_lufs,
        mixed.true_peak_db
    );
    Ok(())
}

#[allow(dead_code)]
fn measure_timing(track: &audio::Stereo) {
    let start = Instant::now();
    let _ = audio::mix::measure(track);
    println!("measure: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
}
