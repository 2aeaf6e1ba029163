//! Search latency at scale: N published videos (default 100,000; distinct prompts built from 50
//! subjects × 50 actions × 40 settings), each embedded by the real MiniLM encoder, in one
//! `SearchIndex`; then 500 queries (paraphrases, single words, rare words), each timed as the
//! service runs it: the query's vector (a fresh text, so the encoder runs) and the index search.
//! Prints the time to embed and to build, the index's memory, and p50/p99 per query.
//!
//! `cargo run --release -p feed --example search_bench [-- 100000 [--random]]` (`--random`: random
//! unit vectors instead of embedding each prompt, to time the index alone quickly).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use feed::search::SearchIndex;
use uuid::Uuid;

#[rustfmt::skip]
const SUBJECTS: &[&str] = &[
    "a ginger cat", "a golden retriever", "a tiny robot", "a grandmother", "two friends", "a street musician", "an astronaut",
    "a red fox", "a chef", "a skateboarder", "a ballerina", "a dragon", "a knight", "a surfer", "a toddler", "a wizard",
    "a humpback whale", "a barista", "a painter", "a monster truck", "a hot air balloon", "a zombie", "a ghost", "a corgi",
    "a panda", "a cyclist", "a samurai", "a viking", "a drone", "a sports car", "a rock band", "a jazz trio", "a farmer",
    "a scientist", "a penguin", "a kitten", "a horse", "a sea turtle", "a parrot", "a boxer", "a yoga teacher", "a pilot",
    "a mermaid", "a clown", "a firefighter", "a snowman", "a lighthouse keeper", "a baker", "a potter", "a gamer",
];
#[rustfmt::skip]
const ACTIONS: &[&str] = &[
    "dancing", "chasing bubbles", "playing guitar", "cooking pasta", "sleeping", "running", "flying", "swimming", "laughing",
    "painting a mural", "juggling oranges", "riding a bike", "reading a book", "building a sandcastle", "surfing a wave",
    "climbing a wall", "eating noodles", "drinking coffee", "taking a selfie", "fixing a car", "singing opera",
    "knitting a scarf", "lifting weights", "doing yoga", "skiing downhill", "throwing snowballs", "feeding ducks",
    "walking a tightrope", "casting a spell", "fighting a troll", "watching fireworks", "planting flowers", "baking bread",
    "playing chess", "kicking a football", "shooting hoops", "rowing a boat", "writing code", "hiding in a box",
    "spinning in circles", "sneaking through a hallway", "waving at the camera", "blowing out candles", "roller skating",
    "digging for treasure", "launching a rocket", "catching a frisbee", "skipping rope", "playing drums", "zorbing",
];
#[rustfmt::skip]
const SETTINGS: &[&str] = &[
    "in a sunny kitchen", "at a night market", "on the moon", "in a haunted house", "at the beach at sunset",
    "in a snowy forest", "on a rooftop in the rain", "in a neon city at night", "in a medieval castle", "under the sea",
    "in a packed stadium", "in a quiet library", "at a birthday party", "in a desert", "on a mountain summit",
    "in a jazz club", "in a classroom", "at a wedding", "in a spaceship", "in a cornfield", "on a frozen lake",
    "in a busy subway", "in a rainforest", "at a skate park", "in a garden", "in an office", "on a farm",
    "in a museum", "in a gym", "at a carnival", "in a cave", "on a train", "in a greenhouse", "at a campfire",
    "in a thunderstorm", "on a pirate ship", "in a bakery", "in a garage", "at a concert", "in the snow",
];
const QUERIES: &[&str] = &[
    "felines",
    "cute puppies",
    "outer space",
    "something spooky",
    "live music",
    "street food",
    "extreme sports",
    "medieval battles",
    "underwater animals",
    "city at night",
    "zorbing",
    "a cat",
    "winter fun",
    "romantic dinner",
    "kids party",
    "robots",
    "fantasy magic",
    "workout",
    "coffee",
    "dancing at a wedding",
];

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn main() -> ExitCode {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let random = std::env::args().any(|a| a == "--random");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dylib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| ".venv/ort/libonnxruntime.so".into()));
    let models = root.join(".venv/models");
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1);
    let encoder = match meaning::environment(&dylib).and_then(|env| {
        meaning::TextEncoder::load(env, &models.join("minilm.onnx"), &models.join("minilm-tokenizer.json"), threads)
    }) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let prompts: Vec<String> = (0..n)
        .map(|i| {
            let s = SUBJECTS.get(i % SUBJECTS.len()).copied().unwrap_or("a cat");
            let a = ACTIONS.get((i / SUBJECTS.len()) % ACTIONS.len()).copied().unwrap_or("dancing");
            let t = SETTINGS.get((i / (SUBJECTS.len() * ACTIONS.len())) % SETTINGS.len()).copied().unwrap_or("");
            format!("{s} {a} {t}")
        })
        .collect();
    let started = Instant::now();
    let mut index = SearchIndex::new();
    let mut embed_time = Duration::ZERO;
    for chunk in prompts.chunks(256) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let t = Instant::now();
        let vectors: Vec<meaning::Vector> = if random {
            refs.iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ p.len() as u64;
                    let mut v: Vec<f32> = (0..feed::search::DIM)
                        .map(|_| {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            (state % 2001) as f32 / 1000.0 - 1.0
                        })
                        .collect();
                    meaning::normalise(&mut v);
                    meaning::Vector::from(v)
                })
                .collect()
        } else {
            match encoder.embed_many(&refs) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        };
        embed_time += t.elapsed();
        for (p, v) in chunk.iter().zip(vectors) {
            index.insert(Uuid::new_v4(), p, &v);
        }
    }
    let build = started.elapsed() - embed_time;
    println!(
        "{n} videos: embedded in {:.1} s ({:.2} ms a video, {threads} threads), indexed in {:.2} s, index {:.1} MB",
        embed_time.as_secs_f64(),
        embed_time.as_secs_f64() * 1e3 / n as f64,
        build.as_secs_f64(),
        index.approx_bytes() as f64 / 1e6
    );
    let mut total = Vec::new();
    let mut scan = Vec::new();
    let mut results = 0;
    for round in 0..25 {
        for q in QUERIES {
            // A fresh text each time, so the encoder runs as for a new query.
            let text = if round == 0 { (*q).to_owned() } else { format!("{q} {round}") };
            let t = Instant::now();
            let v = match encoder.embed(&text) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let s = Instant::now();
            let hits = index.search(&text, Some(&v), 200);
            scan.push(s.elapsed());
            total.push(t.elapsed());
            results += hits.len();
        }
    }
    total.sort();
    scan.sort();
    println!(
        "{} queries ({:.0} results each): query p50 {:.2} ms p99 {:.2} ms (of which index p50 {:.2} ms p99 {:.2} ms)",
        total.len(),
        results as f64 / total.len() as f64,
        quantile(&total, 0.5).as_secs_f64() * 1e3,
        quantile(&total, 0.99).as_secs_f64() * 1e3,
        quantile(&scan, 0.5).as_secs_f64() * 1e3,
        quantile(&scan, 0.99).as_secs_f64() * 1e3,
    );
    ExitCode::SUCCESS
}
