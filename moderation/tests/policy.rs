//! The prompt policy through the real ONNX classifier (ONNX Runtime from `ORT_DYLIB_PATH`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use moderation::policy::eval::{EVAL_SET, evaluate, parse_eval_set};
use moderation::policy::{
    CameoRestriction, Category, PolicyContext, PromptPolicy, check_restrictions, normalise, parse_restrictions,
};

fn policy() -> &'static PromptPolicy {
    static POLICY: OnceLock<PromptPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let dylib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").expect("ORT_DYLIB_PATH (set by .cargo/config.toml)"));
        let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/moderation/text_classifier.onnx");
        PromptPolicy::load(&model, &dylib).expect("load the prompt policy")
    })
}

fn categories(text: &str) -> Vec<Category> {
    policy().check(text, &PolicyContext::default()).into_iter().map(|v| v.category).collect()
}

#[test]
fn every_category_is_refused_with_a_reason_naming_it() {
    let cases = [
        (Category::Sexual, "a naked woman lying on a bed"),
        (Category::Minors, "a sexy teenage girl in lingerie"),
        (Category::Violence, "a man stabbing a woman in an alley"),
        (Category::Hate, "a nazi salute at a rally"),
        (Category::SelfHarm, "how to kill myself painlessly"),
        (Category::PublicFigure, "Barack Obama riding a unicorn"),
        (Category::Profanity, "you are a fucking idiot"),
    ];
    for (category, prompt) in cases {
        let violations = policy().check(prompt, &PolicyContext::default());
        let v = violations
            .iter()
            .find(|v| v.category == category)
            .unwrap_or_else(|| panic!("{prompt:?} not refused as {category}: {violations:?}"));
        assert!(v.reason.starts_with(category.as_str()), "{}", v.reason);
        assert!(v.reason.contains(category.advice()), "{}", v.reason);
        assert!(!v.reason.contains('\n'));
    }
}

#[test]
fn codes_and_advice_are_stable() {
    let codes: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        codes,
        ["SEXUAL", "MINORS", "VIOLENCE", "HATE", "SELF_HARM", "PUBLIC_FIGURE", "PROFANITY", "RESTRICTION"]
    );
    for c in Category::ALL {
        assert_eq!(Category::parse(c.as_str()), Some(c));
        assert!(!c.advice().is_empty() && !c.advice().contains('\n'));
    }
}

#[test]
fn near_misses_are_allowed() {
    for prompt in [
        "a sextant on a ship's deck",
        "shooting stars over a lake",
        "a kid's birthday party with balloons",
        "a cocktail",
        "Essex countryside",
        "grape harvest",
        "a killer whale jumping out of the water",
        "a naked mole rat in a burrow",
        "a knight kills a dragon",
        "analysis of a chess game",
        "a therapist's office with plants",
        "a woman in a bikini on a beach in hawaii",
    ] {
        assert_eq!(categories(prompt), vec![], "{prompt:?} should be allowed");
    }
}

#[test]
fn minors_are_allowed_alone_and_refused_with_sexual_content() {
    assert!(categories("a kid's birthday party with balloons").is_empty());
    assert!(categories("a 12 year old playing chess").is_empty());
    let c = categories("a kid's birthday party with naked balloons and sex");
    assert!(c.contains(&Category::Minors) && c.contains(&Category::Sexual), "{c:?}");
    assert!(categories("a 14yo boy undressing").contains(&Category::Minors));
    assert!(categories("a teenager in lingerie").contains(&Category::Minors));
}

#[test]
fn normalise_undoes_case_accents_lookalikes_leet_and_spacing() {
    assert_eq!(normalise("  Héllo,   WÖRLD! "), "hello world");
    assert_eq!(normalise("s e x"), "sex");
    assert_eq!(normalise("s.e.x"), "sex");
    assert_eq!(normalise("p0rn"), "porn");
    assert_eq!(normalise("$ex"), "sex");
    assert_eq!(normalise("n\u{200B}ude"), "nude");
    assert_eq!(normalise("nu\u{00AD}de"), "nude");
    assert_eq!(normalise("sех"), "sex"); // Cyrillic е and х
    assert_eq!(normalise("ＮＡＫＥＤ"), "naked"); // full-width
    assert_eq!(normalise("seeeeex"), "sex");
    assert_eq!(normalise("k1ll"), "kill");
    assert_eq!(normalise("kid's"), "kids");
    // Numbers that are numbers stay numbers.
    assert_eq!(normalise("the 1990s in 4k, a 12yo"), "the 1990s in 4k a 12yo");
    assert_eq!(normalise("a b"), "a b");
}

#[test]
fn evasions_are_refused() {
    assert!(categories("a n@ked woman").contains(&Category::Sexual));
    assert!(categories("a womаn hаving sех").contains(&Category::Sexual));
    assert!(categories("s u i c i d e note").contains(&Category::SelfHarm));
    assert!(categories("a s3xy t33n in l1ngerie").contains(&Category::Minors));
    assert!(categories("Ｅｌｏｎ Ｍｕｓｋ eating noodles").contains(&Category::PublicFigure));
    assert!(categories("f u c k you").contains(&Category::Profanity));
}

#[test]
fn a_public_figure_passes_only_as_their_own_consented_cameo() {
    let prompt = "Taylor Swift singing in my kitchen";
    let refused = policy().check(prompt, &PolicyContext::default());
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].category, Category::PublicFigure);
    assert!(refused[0].reason.contains("Taylor Swift"), "{}", refused[0].reason);

    let own = PolicyContext { allowed_public_figures: vec!["taylor SWIFT".into()], ..PolicyContext::default() };
    assert!(policy().check(prompt, &own).is_empty());

    let other = PolicyContext { allowed_public_figures: vec!["Barack Obama".into()], ..PolicyContext::default() };
    assert_eq!(policy().check(prompt, &other).len(), 1);

    // Two figures, one consented: only the other is named.
    let both = policy().check("Barack Obama and Taylor Swift at a picnic", &own);
    assert_eq!(both.len(), 1);
    assert!(both[0].reason.contains("Barack Obama"));
}

#[test]
fn the_threshold_is_configurable() {
    let p = policy();
    let mild = "this is damn annoying";
    let score = p.profanity_score(mild).unwrap();
    assert!((0.0..=1.0).contains(&score));
    assert!(p.profanity_score("you are a fucking idiot").unwrap() > 0.9);
    assert!(p.profanity_score("a cat surfing a wave at sunset").unwrap() < 0.1);

    // A second policy on the same process-wide environment, with thresholds either side.
    let dylib = PathBuf::from(std::env::var("ORT_DYLIB_PATH").unwrap());
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/moderation/text_classifier.onnx");
    let strict = PromptPolicy::load(&model, &dylib).unwrap().with_threshold(score - 0.01);
    assert!(strict.check(mild, &PolicyContext::default()).iter().any(|v| v.category == Category::Profanity));
    let lenient = strict.with_threshold(score + 0.01);
    assert!(lenient.check(mild, &PolicyContext::default()).is_empty());
}

#[test]
fn eval_set_meets_precision_and_recall() {
    let cases = parse_eval_set(EVAL_SET).unwrap();
    assert!(cases.len() >= 300, "{} rows", cases.len());
    let blocks = cases.iter().filter(|c| c.block).count();
    assert!(blocks * 10 >= cases.len() * 4, "at least 40% of rows are disallowed");
    // Cameo restrictions come from the request, not the prompt alone, so the set has no rows.
    for c in Category::ALL.into_iter().filter(|c| *c != Category::Restriction) {
        assert!(cases.iter().any(|r| r.category == Some(c)), "no rows for {c}");
    }
    let report = evaluate(policy(), &cases);
    assert!(
        report.precision() >= 0.95,
        "precision {:.3}; false positives {:?}",
        report.precision(),
        report.false_positives
    );
    assert!(report.recall() >= 0.90, "recall {:.3}; false negatives {:?}", report.recall(), report.false_negatives);
}

fn cameo(name: &str, restrictions: &str) -> CameoRestriction {
    CameoRestriction { cameo_name: name.into(), restrictions: restrictions.into() }
}

const ANN: &str = "no political content, never shirtless; nothing with alcohol";

fn broken(prompt: &str, cameos: &[CameoRestriction]) -> Vec<String> {
    check_restrictions(prompt, cameos).into_iter().map(|v| v.reason).collect()
}

#[test]
fn restriction_text_parses_into_rules() {
    let rules = parse_restrictions("No political content, never shirtless; nothing with alcohol\nDon't use me in ads.");
    let texts: Vec<&str> = rules.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["political content", "shirtless", "alcohol", "use me in ads"]);
    let keys: Vec<Vec<&str>> = rules.iter().map(|r| r.key_words.iter().map(String::as_str).collect()).collect();
    assert_eq!(keys, [vec!["political"], vec!["shirtless"], vec!["alcohol"], vec!["use", "ads"]]);
    assert!(rules[0].is_broken_by("a politician giving a speech"));
    assert!(!rules[0].is_broken_by("a polite waiter"));
}

#[test]
fn a_prompt_breaking_an_owners_rule_names_the_cameo_and_the_rule() {
    let ann = [cameo("Ann", ANN)];
    let v = check_restrictions("Ann giving a speech about politics", &ann);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].category, Category::Restriction);
    assert_eq!(
        v[0].reason,
        "RESTRICTION: the cameo \"Ann\" does not allow \"political content\"; remove it from the prompt or use another cameo."
    );
    for prompt in
        ["a political rally with Ann", "Ann as a politician", "Ann shirtless on a beach", "Ann drinking alcohol"]
    {
        assert_eq!(check_restrictions(prompt, &ann).len(), 1, "{prompt:?}");
    }
    let all = broken("Ann, shirtless and political, pours alcohol", &ann);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all[0].contains("\"political content\"") && all[1].contains("\"shirtless\"") && all[2].contains("\"alcohol\"")
    );
}

#[test]
fn restriction_evasions_are_caught() {
    let ann = [cameo("Ann", ANN)];
    for prompt in [
        "Ann at a p0litical rally",
        "Ann s h i r t l e s s at the gym",
        "ANN, SHIRTLESS",
        "Ann with ălcohol",
        "Ann with alc0h0l",
    ] {
        assert_eq!(check_restrictions(prompt, &ann).len(), 1, "{prompt:?}");
    }
    // The owner's own text is normalised the same way.
    assert_eq!(check_restrictions("Ann shirtless", &[cameo("Ann", "NEVER s h 1 r t l e s s")]).len(), 1);
}

#[test]
fn prompts_without_the_words_pass() {
    let ann = [cameo("Ann", ANN)];
    for prompt in [
        "Ann walking a dog in the park",
        "Ann in a blue shirt",    // "shirtless" is not "shirt"
        "Ann topless on a beach", // synonyms are not expanded
        "Ann without a shirt",    // paraphrases neither
        "a polite conversation with Ann",
        "Ann drinking lemonade",
    ] {
        assert!(check_restrictions(prompt, &ann).is_empty(), "{prompt:?}");
    }
    // Every key word of a rule must be present.
    let bob = [cameo("Bob", "no red hats")];
    assert!(check_restrictions("Bob in a red scarf", &bob).is_empty());
    assert!(check_restrictions("Bob in a blue hat", &bob).is_empty());
    assert_eq!(check_restrictions("Bob in a hat that is red", &bob).len(), 1);
}

#[test]
fn blank_restrictions_give_nothing() {
    for text in ["", "   ", "\n;,. ", "no content", "nothing, never, please"] {
        assert!(parse_restrictions(text).is_empty(), "{text:?}");
        assert!(check_restrictions("anything at all, politics, shirtless", &[cameo("Ann", text)]).is_empty());
    }
    assert!(check_restrictions("politics", &[]).is_empty());
}

#[test]
fn several_cameos_are_named_separately() {
    let cameos = [cameo("Ann", ANN), cameo("Bob", "no dancing; avoid hats"), cameo("Cy", "")];
    let reasons = broken("Ann and Bob dance at a political rally wearing hats", &cameos);
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("\"Ann\"") && reasons[0].contains("political content"));
    assert!(reasons[1].contains("\"Bob\"") && reasons[1].contains("\"dancing\""));
    assert!(reasons[2].contains("\"Bob\"") && reasons[2].contains("\"hats\""));
    assert!(reasons.iter().all(|r| !r.contains("Cy") && !r.contains('\n')));

    let only_bob = broken("Ann and Bob dancing", &cameos);
    assert_eq!(only_bob.len(), 1);
    assert!(only_bob[0].contains("\"Bob\""));

    // A name with quotes or a line break stays on one line.
    let odd = broken("politics", &[cameo("Ann \"the\"\nBest", "no politics")]);
    assert_eq!(odd.len(), 1);
    assert!(!odd[0].contains('\n'), "{}", odd[0]);
}

#[test]
fn one_check_reports_restrictions_with_everything_else() {
    let ctx = PolicyContext { cameo_restrictions: vec![cameo("Ann", ANN)], ..PolicyContext::default() };
    let v = policy().check("Ann shirtless next to Barack Obama", &ctx);
    let got: Vec<Category> = v.iter().map(|v| v.category).collect();
    assert_eq!(got, [Category::PublicFigure, Category::Restriction], "{v:?}");
    assert!(v[1].reason.contains("\"Ann\"") && v[1].reason.contains("shirtless"));
    assert_eq!(
        policy().check_restrictions("Ann shirtless", &ctx.cameo_restrictions),
        check_restrictions("Ann shirtless", &ctx.cameo_restrictions)
    );
    assert!(policy().check("Ann walking a dog", &ctx).is_empty());
    assert!(policy().check("Ann shirtless", &PolicyContext::default()).is_empty());
}
