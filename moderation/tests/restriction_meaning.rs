//! Cameo restrictions by meaning, through the real MiniLM encoder (ONNX Runtime from
//! `ORT_DYLIB_PATH`, the model from `.venv/models`, linked by `scripts/setup.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use meaning::TextEncoder;
use moderation::policy::eval::{RESTRICTION_PAIRS, evaluate_pairs, parse_restriction_pairs};
use moderation::policy::{
    CameoRestriction, Category, PolicyContext, PromptPolicy, RESTRICTION_MEANING_THRESHOLD, check_restrictions,
    check_restrictions_by_meaning,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn encoder() -> Arc<TextEncoder> {
    static ENCODER: OnceLock<Arc<TextEncoder>> = OnceLock::new();
    ENCODER
        .get_or_init(|| {
            let dylib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").expect("ORT_DYLIB_PATH"));
            let env = moderation::policy::environment(&dylib).expect("onnx runtime");
            let models = root().join(".venv/models");
            Arc::new(
                TextEncoder::load(env, &models.join("minilm.onnx"), &models.join("minilm-tokenizer.json"), 1)
                    .expect("load MiniLM"),
            )
        })
        .clone()
}

fn policy() -> PromptPolicy {
    let dylib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").expect("ORT_DYLIB_PATH"));
    PromptPolicy::load(&root().join("models/moderation/text_classifier.onnx"), &dylib)
        .expect("policy")
        .with_meaning(encoder(), RESTRICTION_MEANING_THRESHOLD)
}

fn cameo(restrictions: &str) -> Vec<CameoRestriction> {
    vec![CameoRestriction { cameo_name: "Ana".into(), restrictions: restrictions.into() }]
}

#[test]
fn the_issue_s_examples_are_refused_by_meaning_and_the_party_passes() {
    let policy = policy();
    let check =
        |r: &str, p: &str| policy.check(p, &PolicyContext { cameo_restrictions: cameo(r), ..Default::default() });
    // No shared word: words alone let these through.
    assert!(check_restrictions("a rally with flags outside parliament", &cameo("no political content")).is_empty());
    let v = check("no political content", "a rally with flags outside parliament");
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].category, Category::Restriction);
    assert!(v[0].reason.contains("\"Ana\"") && v[0].reason.contains("\"political content\""), "{}", v[0].reason);
    let v = check("nothing scary", "a haunted house at midnight");
    assert_eq!(v.iter().map(|v| v.category).collect::<Vec<_>>(), [Category::Restriction]);
    assert!(check("no political content, nothing scary", "a birthday party in the park").is_empty());
    // A clause of a longer prompt is enough.
    assert!(
        !check("no political content", "a cat asleep on a sofa, then a rally with flags outside parliament").is_empty()
    );
    // Broken by words: reported once, not twice.
    let v = check("no political content", "a political debate");
    assert_eq!(v.len(), 1, "{v:?}");
}

#[test]
fn the_labelled_pairs_meet_the_stated_precision_and_recall() {
    let pairs = parse_restriction_pairs(RESTRICTION_PAIRS).unwrap();
    assert!(pairs.len() >= 150, "{}", pairs.len());
    let encoder = encoder();
    let report = evaluate_pairs(&pairs, |r, p| {
        !check_restrictions(p, &cameo(r)).is_empty()
            || !check_restrictions_by_meaning(p, &cameo(r), &encoder, RESTRICTION_MEANING_THRESHOLD).unwrap().is_empty()
    });
    // The figures the README states (in-sample; the threshold was chosen on these pairs).
    assert!(report.precision() >= 0.93, "precision {:.3}: {:?}", report.precision(), report.false_positives);
    assert!(report.recall() >= 0.86, "recall {:.3}: {:?}", report.recall(), report.false_negatives);
    let words = evaluate_pairs(&pairs, |r, p| !check_restrictions(p, &cameo(r)).is_empty());
    assert!(words.recall() < 0.5, "words alone already catch {:.3}: the set would not test meaning", words.recall());
}

#[test]
fn vectors_are_unit_length_and_repeatable() {
    let e = encoder();
    let a = e.embed("a dog running on the beach").unwrap();
    let b = e.embed_many(&["a dog running on the beach", "", "a puppy playing by the sea"]).unwrap();
    assert_eq!(a.len(), meaning::DIM);
    assert_eq!(&*a, &*b[0]);
    for v in &b {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    }
    assert!(meaning::similarity(&a, &b[2]) > meaning::similarity(&a, &e.embed("a tax form on a desk").unwrap()));
}
