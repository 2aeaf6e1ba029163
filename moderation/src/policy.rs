//! The prompt policy: decides, before a generation is queued and when a comment is posted,
//! whether a text may pass, and if not, which categories it breaks and what the user should
//! change.
//!
//! Pipeline: [`normalise`] folds the text (case, accents, look-alikes, invisible characters,
//! leetspeak, letter spacing); word-boundary rules from the lists in `moderation/assets/policy/`
//! find sexual content, minors in a sexual context, violence, hate, self-harm and public figures;
//! an ONNX text classifier (alt-profanity-check, MIT, converted by
//! `scripts/make_text_classifier.py`) scores profanity.
//!
//! API boundary: text in, [`Violation`]s out. The caller maps a non-empty result to the
//! `POLICY_VIOLATION` error with `extensions.reasons`; this module knows nothing of GraphQL.
//! Per-request rules (a cameo owner's consent and restriction text) arrive through
//! [`PolicyContext`]; the restrictions can also be checked alone, without a loaded classifier,
//! with [`check_restrictions`] (see `restrictions.rs` for the parsing and matching rules).
//!
//! Each category is reported once, in the order `SEXUAL`, `MINORS`, `VIOLENCE`, `HATE`, `SELF_HARM`,
//! `PUBLIC_FIGURE` (one per person), `PROFANITY`, `RESTRICTION` (one per broken rule); every reason
//! starts with its code and says what to change. Rules match whole words only, so "Essex" never
//! matches "sex"; phrases of `safe_phrases.txt` ("killer whale") hide their words from the category
//! rules and the classifier; besides its own list, `VIOLENCE` fires on a violent verb within 3
//! words before a person, `HATE` on a dehumanising word within 6 words of a group; `MINORS` on a
//! minor (or an age under 18) with a sexual or suggestive word; the classifier adds `PROFANITY` at
//! [`DEFAULT_PROFANITY_THRESHOLD`] (0.90, chosen on the eval set), and a classifier failure is logged
//! while the rules still apply. Public figures pass only when named in
//! `PolicyContext::allowed_public_figures` (the service passes none yet).
//!
//! Where it runs: in the domain, on the API node, inline on the request: `createVideo` (the whole
//! prompt of a remix, with every cameo's restrictions) before anything is written or queued, captions
//! at publish (with the owners' restrictions re-checked on the prompt), and comments. The eval set
//! `assets/policy_eval.tsv` (370 labelled prompts) is measured by
//! `cargo run -p moderation --example policy_eval`; `tests/policy.rs` requires precision ≥ 0.95
//! and recall ≥ 0.90. It was written alongside the rules, so it is not an independent held-out
//! measure.

pub mod eval;
mod lexicon;
mod normalise;
mod restrictions;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use serde::Serialize;

use lexicon::Lexicon;
pub use normalise::normalise;
pub use restrictions::{
    CameoRestriction, RESTRICTION_MEANING_THRESHOLD, RestrictionRule, check_restrictions,
    check_restrictions_by_meaning, parse_restrictions, prompt_parts, rule_sentence,
};

/// The classifier score at or above which a text counts as profane; chosen on the evaluation set
/// (`cargo run -p moderation --example policy_eval`).
pub const DEFAULT_PROFANITY_THRESHOLD: f32 = 0.90;

/// How far (in words) a violent verb may be from the person it targets.
const VIOLENCE_WINDOW: usize = 3;
/// How far (in words) dehumanising language may be from a protected group.
const HATE_WINDOW: usize = 6;

/// Why the policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The ONNX Runtime library could not be loaded or its environment not created.
    #[error("ONNX Runtime at {path}: {message}")]
    Runtime {
        /// The library path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The classifier model could not be opened or has an unexpected shape.
    #[error("text classifier {path}: {message}")]
    Model {
        /// The model path.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// A kind of content the policy refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    /// Nudity, sexual acts, pornography.
    Sexual,
    /// Minors in a sexual or suggestive context.
    Minors,
    /// Graphic or real-world violence against people.
    Violence,
    /// Slurs, hateful symbols, dehumanising language about a group.
    Hate,
    /// Suicide and self-harm.
    SelfHarm,
    /// A real public figure who has not consented through their own cameo.
    PublicFigure,
    /// Profanity and insults (the text classifier).
    Profanity,
    /// Something a cameo's owner does not allow in videos with their cameo.
    Restriction,
}

impl Category {
    /// Every category, in reporting order.
    pub const ALL: [Category; 8] = [
        Category::Sexual,
        Category::Minors,
        Category::Violence,
        Category::Hate,
        Category::SelfHarm,
        Category::PublicFigure,
        Category::Profanity,
        Category::Restriction,
    ];

    /// The client-visible code, e.g. `SELF_HARM`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sexual => "SEXUAL",
            Category::Minors => "MINORS",
            Category::Violence => "VIOLENCE",
            Category::Hate => "HATE",
            Category::SelfHarm => "SELF_HARM",
            Category::PublicFigure => "PUBLIC_FIGURE",
            Category::Profanity => "PROFANITY",
            Category::Restriction => "RESTRICTION",
        }
    }

    /// Parses a code written by [`Category::as_str`].
    pub fn parse(code: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(code))
    }

    /// One line telling the user what to change.
    pub fn advice(self) -> &'static str {
        match self {
            Category::Sexual => "remove nudity and sexual content; describe clothed people and a non-sexual scene",
            Category::Minors => {
                "never combine children or teenagers with sexual or suggestive content; remove one or the other"
            }
            Category::Violence => {
                "remove graphic or real-world violence against people; keep action non-graphic and fictional"
            }
            Category::Hate => "remove slurs, hate symbols and demeaning language about any group of people",
            Category::SelfHarm => {
                "remove suicide and self-harm; if you are struggling, please reach out to a local helpline"
            }
            Category::PublicFigure => {
                "a real public figure may appear only through their own consented cameo; use a fictional person instead"
            }
            Category::Profanity => "remove profanity and insults",
            Category::Restriction => {
                "remove what the cameo's owner does not allow from the prompt, or use another cameo"
            }
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule: its category and a one-line reason that names the category and says what
/// to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The category broken.
    pub category: Category,
    /// One line naming the category and what to change.
    pub reason: String,
}

impl Violation {
    fn new(category: Category) -> Self {
        Violation { category, reason: format!("{}: {}.", category.as_str(), category.advice()) }
    }

    fn public_figure(name: &str) -> Self {
        let category = Category::PublicFigure;
        Violation {
            category,
            reason: format!("{}: \"{name}\" is a real public figure; {}.", category.as_str(), category.advice()),
        }
    }
}

/// Per-request facts that relax or tighten the rules.
#[derive(Debug, Clone, Default)]
pub struct PolicyContext {
    /// Public figures who consented to this request through their own cameo (any spelling).
    pub allowed_public_figures: Vec<String>,
    /// The restriction text of every cameo the request uses; empty means none apply.
    pub cameo_restrictions: Vec<CameoRestriction>,
}

/// The compiled rule lists (no classifier); cheap to share.
#[derive(Debug)]
struct Rules {
    safe: Lexicon,
    sexual: Lexicon,
    suggestive: Lexicon,
    minors: Lexicon,
    minors_explicit: Lexicon,
    violence: Lexicon,
    violent_acts: Lexicon,
    targets: Lexicon,
    hate: Lexicon,
    hate_groups: Lexicon,
    dehumanising: Lexicon,
    self_harm: Lexicon,
    figures: Lexicon,
}

impl Rules {
    fn compiled() -> &'static Rules {
        static RULES: OnceLock<Rules> = OnceLock::new();
        RULES.get_or_init(|| Rules {
            safe: Lexicon::parse(include_str!("../assets/policy/safe_phrases.txt")),
            sexual: Lexicon::parse(include_str!("../assets/policy/sexual.txt")),
            suggestive: Lexicon::parse(include_str!("../assets/policy/suggestive.txt")),
            minors: Lexicon::parse(include_str!("../assets/policy/minors.txt")),
            minors_explicit: Lexicon::parse(include_str!("../assets/policy/minors_explicit.txt")),
            violence: Lexicon::parse(include_str!("../assets/policy/violence.txt")),
            violent_acts: Lexicon::parse(include_str!("../assets/policy/violent_acts.txt")),
            targets: Lexicon::parse(include_str!("../assets/policy/targets.txt")),
            hate: Lexicon::parse(include_str!("../assets/policy/hate.txt")),
            hate_groups: Lexicon::parse(include_str!("../assets/policy/hate_groups.txt")),
            dehumanising: Lexicon::parse(include_str!("../assets/policy/dehumanising.txt")),
            self_harm: Lexicon::parse(include_str!("../assets/policy/self_harm.txt")),
            figures: Lexicon::parse_aliased(include_str!("../assets/policy/public_figures.txt")),
        })
    }

    /// Rule violations in normalised text (everything but profanity), and the text the
    /// classifier should score: the words outside safe phrases ("naked mole rat" scores as
    /// profane on its own).
    fn check(&self, normalised: &str, ctx: &PolicyContext) -> (Vec<Violation>, String) {
        let tokens: Vec<&str> = normalised.split(' ').filter(|t| !t.is_empty()).collect();
        let mut masked = vec![false; tokens.len()];
        for hit in self.safe.find(&tokens, &[]) {
            for m in masked.iter_mut().take(hit.end).skip(hit.start) {
                *m = true;
            }
        }
        let unmasked: Vec<&str> = tokens.iter().zip(&masked).filter(|(_, m)| !**m).map(|(t, _)| *t).collect();
        let for_classifier = unmasked.join(" ");
        let mut out = Vec::new();

        let sexual = self.sexual.any(&tokens, &masked);
        let suggestive = self.suggestive.any(&tokens, &masked);
        let minor = self.minors.any(&tokens, &masked) || mentions_minor_age(&tokens);
        if sexual {
            out.push(Violation::new(Category::Sexual));
        }
        if self.minors_explicit.any(&tokens, &masked) || (minor && (sexual || suggestive)) {
            out.push(Violation::new(Category::Minors));
        }

        let violent = self.violence.any(&tokens, &masked) || {
            let targets = self.targets.find(&tokens, &masked);
            self.violent_acts
                .find(&tokens, &masked)
                .iter()
                .any(|act| targets.iter().any(|t| t.start >= act.end && t.start < act.end + VIOLENCE_WINDOW))
        };
        if violent {
            out.push(Violation::new(Category::Violence));
        }

        let hateful = self.hate.any(&tokens, &masked) || {
            let groups = self.hate_groups.find(&tokens, &masked);
            self.dehumanising.find(&tokens, &masked).iter().any(|d| {
                groups.iter().any(|g| g.start.abs_diff(d.start) <= HATE_WINDOW || g.end.abs_diff(d.end) <= HATE_WINDOW)
            })
        };
        if hateful {
            out.push(Violation::new(Category::Hate));
        }

        if self.self_harm.any(&tokens, &masked) {
            out.push(Violation::new(Category::SelfHarm));
        }

        let allowed: Vec<String> = ctx.allowed_public_figures.iter().map(|n| normalise(n)).collect();
        let mut named: Vec<&str> = Vec::new();
        for hit in self.figures.find(&tokens, &[]) {
            let name = self.figures.label(hit.label);
            if named.contains(&name) {
                continue;
            }
            named.push(name);
            let spelled = tokens.get(hit.start..hit.end).map(|t| t.join(" ")).unwrap_or_default();
            let consented = allowed.iter().any(|a| *a == normalise(name) || *a == spelled);
            if !consented {
                out.push(Violation::public_figure(name));
            }
        }
        (out, for_classifier)
    }
}

const NUMBER_WORDS: [&str; 17] = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
];

/// Whether the text gives an age under 18: "12 year old", "14 yo", "14yo", "fifteen years old".
fn mentions_minor_age(tokens: &[&str]) -> bool {
    let under_18 = |t: &str| -> bool { t.parse::<u32>().is_ok_and(|n| n < 18) || NUMBER_WORDS.contains(&t) };
    tokens.iter().enumerate().any(|(i, t)| {
        if let Some(n) = t.strip_suffix("yo").or_else(|| t.strip_suffix("yrs")).or_else(|| t.strip_suffix("yr"))
            && !n.is_empty()
            && n.parse::<u32>().is_ok_and(|n| n < 18)
        {
            return true;
        }
        if !under_18(t) {
            return false;
        }
        let next: Vec<&str> = tokens.iter().skip(i + 1).take(2).copied().collect();
        match next.as_slice() {
            [unit, "old", ..] => matches!(*unit, "year" | "years" | "yr" | "yrs"),
            ["yo", ..] => true,
            ["y", "o"] => true,
            _ => false,
        }
    })
}

/// The process-wide environment from the library at `dylib` (`meaning::environment`, shared with
/// the sentence encoder). A process that already made one elsewhere (the generator) must pass it
/// to [`PromptPolicy::load_with`].
pub fn environment(dylib: &Path) -> Result<&'static Environment, PolicyError> {
    meaning::environment(dylib).map_err(|e| match e {
        meaning::MeaningError::Load { path, message } => PolicyError::Runtime { path, message },
        meaning::MeaningError::Run(message) => PolicyError::Runtime { path: dylib.display().to_string(), message },
    })
}

/// The ONNX profanity classifier: string input `[N, 1]`, probabilities `[N, 2]`.
struct TextClassifier {
    session: Mutex<Session>,
    input: String,
    output: String,
}

impl TextClassifier {
    fn open(env: &Environment, path: &Path) -> Result<Self, PolicyError> {
        let model_err = |message: String| PolicyError::Model { path: path.display().to_string(), message };
        if !path.exists() {
            return Err(model_err("file not found".into()));
        }
        let session = Session::builder(env)
            .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::All).map_err(Into::into))
            .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(path))
            .map_err(|e| model_err(e.to_string()))?;
        let input = session
            .inputs()
            .first()
            .map(|i| i.name().to_owned())
            .ok_or_else(|| model_err("the model has no input".into()))?;
        let output =
            session.outputs().iter().map(|o| o.name().to_owned()).find(|n| n == "probabilities").ok_or_else(|| {
                model_err("no `probabilities` output; regenerate with scripts/make_text_classifier.py".into())
            })?;
        Ok(TextClassifier { session: Mutex::new(session), input, output })
    }

    /// Probability that `text` is profane.
    fn score(&self, text: &str) -> Result<f32, String> {
        // The tensor API wants owned ('static) strings.
        let data = [text.to_owned()];
        let input = Tensor::from_string_array(([1usize, 1], &data[..])).map_err(|e| e.to_string())?;
        let mut session = self.session.lock().map_err(|_| "classifier lock poisoned".to_owned())?;
        let outputs = session.run(ort::inputs![self.input.as_str() => input]).map_err(|e| e.to_string())?;
        let (_, probs) = outputs
            .get(self.output.as_str())
            .ok_or_else(|| format!("no output `{}`", self.output))?
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        probs.get(1).copied().ok_or_else(|| format!("expected 2 probabilities, got {}", probs.len()))
    }
}

/// The prompt policy: rule lists plus the ONNX profanity classifier.
pub struct PromptPolicy {
    rules: &'static Rules,
    classifier: TextClassifier,
    threshold: f32,
    model_path: PathBuf,
    /// The sentence encoder and the similarity from which a restriction is broken by meaning.
    meaning: Option<(std::sync::Arc<meaning::TextEncoder>, f32)>,
}

impl std::fmt::Debug for PromptPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptPolicy")
            .field("model_path", &self.model_path)
            .field("threshold", &self.threshold)
            .field("meaning", &self.meaning.as_ref().map(|(_, t)| t))
            .finish()
    }
}

impl PromptPolicy {
    /// Loads the classifier at `model_path` with ONNX Runtime from `ort_dylib`, creating this
    /// crate's process-wide environment on first use.
    pub fn load(model_path: &Path, ort_dylib: &Path) -> Result<Self, PolicyError> {
        let env = environment(ort_dylib)?;
        Self::load_with(model_path, env)
    }

    /// Loads the classifier into an environment the process already has.
    pub fn load_with(model_path: &Path, env: &Environment) -> Result<Self, PolicyError> {
        let classifier = TextClassifier::open(env, model_path)?;
        Ok(PromptPolicy {
            rules: Rules::compiled(),
            classifier,
            threshold: DEFAULT_PROFANITY_THRESHOLD,
            model_path: model_path.to_path_buf(),
            meaning: None,
        })
    }

    /// Checks cameo restrictions by meaning as well as by words, with `encoder`, from cosine
    /// similarity `threshold` ([`RESTRICTION_MEANING_THRESHOLD`] by default).
    pub fn with_meaning(mut self, encoder: std::sync::Arc<meaning::TextEncoder>, threshold: f32) -> Self {
        self.meaning = Some((encoder, threshold.clamp(-1.0, 1.0)));
        self
    }

    /// Sets the profanity score at or above which a text is refused (0..=1).
    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold.clamp(0.0, 1.0);
        self
    }

    /// The profanity threshold in use.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The classifier's profanity probability for `text` (after normalisation).
    pub fn profanity_score(&self, text: &str) -> Result<f32, PolicyError> {
        self.classifier
            .score(&normalise(text))
            .map_err(|message| PolicyError::Model { path: self.model_path.display().to_string(), message })
    }

    /// Every category `text` breaks, each once, in [`Category::ALL`] order (public figures one
    /// per person, cameo restrictions one per broken rule, from `ctx.cameo_restrictions`); empty
    /// means allowed. A classifier failure is logged and the rules still apply.
    pub fn check(&self, text: &str, ctx: &PolicyContext) -> Vec<Violation> {
        let normalised = normalise(text);
        let (mut out, for_classifier) = self.rules.check(&normalised, ctx);
        if !for_classifier.is_empty() {
            match self.classifier.score(&for_classifier) {
                Ok(p) if p >= self.threshold => out.push(Violation::new(Category::Profanity)),
                Ok(_) => {}
                Err(error) => tracing::error!(%error, model = %self.model_path.display(), "text classifier failed"),
            }
        }
        out.extend(self.check_restrictions(text, &ctx.cameo_restrictions));
        out
    }

    /// The rules of the cameos' owners' restrictions that `text` breaks: by words
    /// ([`check_restrictions`], which needs no loaded policy), then, with an encoder, by meaning
    /// ([`check_restrictions_by_meaning`]). An encoder failure is logged and the words still apply.
    pub fn check_restrictions(&self, text: &str, cameos: &[CameoRestriction]) -> Vec<Violation> {
        let mut out = check_restrictions(text, cameos);
        if let Some((encoder, threshold)) = &self.meaning {
            match check_restrictions_by_meaning(text, cameos, encoder, *threshold) {
                Ok(found) => out.extend(found.into_iter().map(|(v, _)| v)),
                Err(error) => tracing::error!(%error, "restrictions by meaning failed; words only"),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_categories(text: &str) -> Vec<Category> {
        Rules::compiled().check(&normalise(text), &PolicyContext::default()).0.iter().map(|v| v.category).collect()
    }

    #[test]
    fn ages_under_eighteen_are_minors() {
        let t = |s: &str| mentions_minor_age(&normalise(s).split(' ').collect::<Vec<_>>());
        assert!(t("a 12 year old"));
        assert!(t("a 14yo"));
        assert!(t("fifteen-year-old"));
        assert!(!t("a 35 year old"));
        assert!(!t("12 eggs"));
    }

    #[test]
    fn violence_needs_a_person_after_the_verb() {
        assert!(rule_categories("a knight kills a dragon").is_empty());
        assert_eq!(rule_categories("a man kills his wife"), vec![Category::Violence]);
    }

    #[test]
    fn every_list_loads() {
        let r = Rules::compiled();
        assert!(r.figures.len() > 300);
        assert!(!r.sexual.is_empty() && !r.safe.is_empty() && !r.hate.is_empty());
    }
}
