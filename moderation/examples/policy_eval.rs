//! Prints precision, recall, F1, recall per category, the mistakes and the latency of the prompt
//! policy on the committed evaluation set.
//!
//! `cargo run -p moderation --example policy_eval [-- --threshold 0.9 | --sweep]`

use std::path::PathBuf;
use std::process::ExitCode;

use moderation::policy::PromptPolicy;
use moderation::policy::eval::{EVAL_SET, evaluate, parse_eval_set};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dylib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").unwrap_or_else(|_| ".venv/ort/libonnxruntime.so".into()));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = root.join("models/moderation/text_classifier.onnx");
    let policy = match PromptPolicy::load(&model, &dylib) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot load the prompt policy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cases = match parse_eval_set(EVAL_SET) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("policy_eval.tsv: {e}");
            return ExitCode::FAILURE;
        }
    };
    let threshold =
        args.iter().position(|a| a == "--threshold").and_then(|i| args.get(i + 1)).and_then(|t| t.parse::<f32>().ok());

    if args.iter().any(|a| a == "--sweep") {
        println!("threshold  precision  recall  f1");
        let mut policy = policy;
        for t in [0.5_f32, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0] {
            policy = policy.with_threshold(t);
            let r = evaluate(&policy, &cases);
            println!("{t:>9.2}  {:>9.3}  {:>6.3}  {:.3}", r.precision(), r.recall(), r.f1());
        }
        return ExitCode::SUCCESS;
    }

    let policy = match threshold {
        Some(t) => policy.with_threshold(t),
        None => policy,
    };
    // One warm-up call so the first latency does not include session start-up.
    let _ = policy.check("warm up", &Default::default());
    let r = evaluate(&policy, &cases);
    let blocks = cases.iter().filter(|c| c.block).count();
    println!(
        "prompt policy on {} prompts ({} block, {} allow), profanity threshold {:.2}",
        r.total,
        blocks,
        r.total - blocks,
        policy.threshold()
    );
    println!("precision {:.3}  recall {:.3}  F1 {:.3}  (block = positive)", r.precision(), r.recall(), r.f1());
    println!("recall per category:");
    for (category, hit, total) in &r.per_category {
        let recall = if *total == 0 { 1.0 } else { *hit as f64 / *total as f64 };
        println!("  {:<14} {hit:>3}/{total:<3} {recall:.3}", category.as_str());
    }
    println!("false positives ({}):", r.false_positives.len());
    for (prompt, named) in &r.false_positives {
        let codes: Vec<&str> = named.iter().map(|c| c.as_str()).collect();
        println!("  [{}] {prompt}", codes.join(","));
    }
    println!("false negatives ({}):", r.false_negatives.len());
    for (prompt, expected) in &r.false_negatives {
        println!("  [{}] {prompt}", expected.map(|c| c.as_str()).unwrap_or("-"));
    }
    println!("blocked under another category ({}):", r.wrong_category.len());
    for (prompt, expected, named) in &r.wrong_category {
        let codes: Vec<&str> = named.iter().map(|c| c.as_str()).collect();
        println!("  expected {} got [{}] {prompt}", expected.as_str(), codes.join(","));
    }
    println!(
        "latency of check per prompt: p50 {:.1} µs  p99 {:.1} µs  max {:.1} µs",
        r.latency_quantile(0.5).as_secs_f64() * 1e6,
        r.latency_quantile(0.99).as_secs_f64() * 1e6,
        r.latency_quantile(1.0).as_secs_f64() * 1e6
    );
    ExitCode::SUCCESS
}
