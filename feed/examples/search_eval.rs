//! Relevance of video search on a small judged set: `assets/search_corpus.tsv` (100 prompts, each
//! tagged with what it is about) and `assets/search_queries.tsv` (38 queries with the tags they
//! ask for, graded 2 or 1). Prints nDCG@10 for words alone (BM25), meaning alone and both fused
//! (what the service runs), and the queries where fusion does worst.
//!
//! `cargo run -p feed --example search_eval`

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use feed::search::SearchIndex;
use uuid::Uuid;

const CORPUS: &str = include_str!("../assets/search_corpus.tsv");
const QUERIES: &str = include_str!("../assets/search_queries.tsv");

fn lines(tsv: &str) -> impl Iterator<Item = (&str, &str)> {
    tsv.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).filter_map(|l| l.split_once('\t'))
}

/// nDCG@10 of `ranked` (grades in result order) against every grade there is.
fn ndcg(ranked: &[u32], all: &[u32]) -> f64 {
    let dcg = |g: &[u32]| -> f64 {
        g.iter().take(10).enumerate().map(|(i, &r)| (2f64.powi(r as i32) - 1.0) / ((i + 2) as f64).log2()).sum()
    };
    let mut ideal = all.to_vec();
    ideal.sort_by(|a, b| b.cmp(a));
    let best = dcg(&ideal);
    if best == 0.0 { 0.0 } else { dcg(ranked) / best }
}

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dylib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| ".venv/ort/libonnxruntime.so".into()));
    let models = root.join(".venv/models");
    let encoder = match meaning::environment(&dylib).and_then(|env| {
        meaning::TextEncoder::load(env, &models.join("minilm.onnx"), &models.join("minilm-tokenizer.json"), 2)
    }) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let docs: Vec<(Uuid, &str, &str)> = lines(CORPUS).map(|(tags, prompt)| (Uuid::new_v4(), tags, prompt)).collect();
    let texts: Vec<&str> = docs.iter().map(|d| d.2).collect();
    let vectors = match encoder.embed_many(&texts) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let floor: f32 = std::env::var("FLOOR").ok().and_then(|f| f.parse().ok()).unwrap_or(feed::search::MEANING_FLOOR);
    let mut index = SearchIndex::new().with_floor(floor);
    for ((id, _, prompt), v) in docs.iter().zip(&vectors) {
        index.insert(*id, prompt, v);
    }
    let tags: HashMap<Uuid, &str> = docs.iter().map(|(id, t, _)| (*id, *t)).collect();
    let mut totals = [0.0_f64; 3];
    let mut worst: Vec<(f64, String)> = Vec::new();
    let queries: Vec<(&str, &str)> = lines(QUERIES).collect();
    for (query, wanted) in &queries {
        let grades: HashMap<&str, u32> = wanted
            .split(';')
            .filter_map(|g| g.split_once(':'))
            .filter_map(|(t, g)| g.trim().parse().ok().map(|g| (t.trim(), g)))
            .collect();
        let grade = |id: &Uuid| tags.get(id).and_then(|t| t.split(',').filter_map(|t| grades.get(t)).max()).copied();
        let all: Vec<u32> = docs.iter().filter_map(|(id, _, _)| grade(id)).collect();
        let v = match encoder.embed(query) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let runs = [index.search(query, None, 10), index.search("", Some(&v), 10), index.search(query, Some(&v), 10)];
        for (i, hits) in runs.iter().enumerate() {
            let ranked: Vec<u32> = hits.iter().map(|h| grade(&h.id).unwrap_or(0)).collect();
            let n = ndcg(&ranked, &all);
            if let Some(t) = totals.get_mut(i) {
                *t += n;
            }
            if i == 2 {
                worst.push((n, (*query).to_owned()));
            }
        }
    }
    let q = queries.len() as f64;
    println!("{} videos, {} queries, meaning floor {floor}", docs.len(), queries.len());
    println!("nDCG@10  words {:.3}  meaning {:.3}  fused {:.3}", totals[0] / q, totals[1] / q, totals[2] / q);
    for nonsense in ["qwzx blorp", "zzzzzz", "tax return form 1040"] {
        if let Ok(v) = encoder.embed(nonsense) {
            let hits = index.search(nonsense, Some(&v), 10);
            let best = hits.first().and_then(|h| h.similarity).unwrap_or(0.0);
            println!("  {nonsense:?}: {} results, best similarity {best:.3}", hits.len());
        }
    }
    worst.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (n, query) in worst.iter().take(5) {
        println!("  weakest: {query:?} {n:.3}");
    }
    ExitCode::SUCCESS
}
