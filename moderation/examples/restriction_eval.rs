//! Precision and recall of cameo restrictions on the labelled pairs
//! (`assets/restriction_pairs.tsv`): by words alone, by meaning alone, and both (what the service
//! does), at the shipped threshold or a sweep; prints the mistakes.
//!
//! `cargo run -p moderation --example restriction_eval [-- --threshold 0.20 | --sweep]`

use std::path::PathBuf;
use std::process::ExitCode;

use moderation::policy::eval::{PairReport, RESTRICTION_PAIRS, evaluate_pairs, parse_restriction_pairs};
use moderation::policy::{
    CameoRestriction, RESTRICTION_MEANING_THRESHOLD, check_restrictions, check_restrictions_by_meaning,
};

fn line(name: &str, r: &PairReport) {
    println!(
        "{name:<22} precision {:.3}  recall {:.3}  (tp {}, fp {}, fn {}, tn {})",
        r.precision(),
        r.recall(),
        r.true_positives,
        r.false_positives.len(),
        r.false_negatives.len(),
        r.true_negatives
    );
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dylib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| ".venv/ort/libonnxruntime.so".into()));
    let env = match moderation::policy::environment(&dylib) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let models = root.join(".venv/models");
    let encoder =
        match meaning::TextEncoder::load(env, &models.join("minilm.onnx"), &models.join("minilm-tokenizer.json"), 1) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
    let pairs = match parse_restriction_pairs(RESTRICTION_PAIRS) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("restriction_pairs.tsv: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cameo = |r: &str| vec![CameoRestriction { cameo_name: "C".into(), restrictions: r.into() }];
    let by_meaning = |t: f32| {
        evaluate_pairs(&pairs, |r, p| {
            check_restrictions_by_meaning(p, &cameo(r), &encoder, t).map(|v| !v.is_empty()).unwrap_or(false)
        })
    };
    let both = |t: f32| {
        evaluate_pairs(&pairs, |r, p| {
            !check_restrictions(p, &cameo(r)).is_empty()
                || check_restrictions_by_meaning(p, &cameo(r), &encoder, t).map(|v| !v.is_empty()).unwrap_or(false)
        })
    };
    println!("{} pairs ({} breaking)", pairs.len(), pairs.iter().filter(|p| p.breaks).count());
    if args.iter().any(|a| a == "--sweep") {
        for i in 16..=34 {
            let t = i as f32 / 100.0;
            line(&format!("words+meaning @ {t:.2}"), &both(t));
        }
        return ExitCode::SUCCESS;
    }
    let threshold = args
        .iter()
        .position(|a| a == "--threshold")
        .and_then(|i| args.get(i + 1))
        .and_then(|t| t.parse().ok())
        .unwrap_or(RESTRICTION_MEANING_THRESHOLD);
    line("words", &evaluate_pairs(&pairs, |r, p| !check_restrictions(p, &cameo(r)).is_empty()));
    line(&format!("meaning @ {threshold:.2}"), &by_meaning(threshold));
    let report = both(threshold);
    line(&format!("words+meaning @ {threshold:.2}"), &report);
    for (r, p) in &report.false_positives {
        println!("  refused, should pass: {r:?} / {p:?}");
    }
    for (r, p) in &report.false_negatives {
        println!("  passed, should refuse: {r:?} / {p:?}");
    }
    let started = std::time::Instant::now();
    let n = 200;
    for i in 0..n {
        let prompt = format!("a quiet street number {i} at dawn, then a crowd at a rally");
        let _ =
            check_restrictions_by_meaning(&prompt, &cameo("no political content, nothing scary"), &encoder, threshold);
    }
    println!(
        "one check with two rules, a fresh two-clause prompt: {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    ExitCode::SUCCESS
}
