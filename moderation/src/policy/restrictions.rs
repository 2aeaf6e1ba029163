//! A cameo owner's restrictions: free text such as "no political content, never shirtless;
//! nothing with alcohol", parsed into rules and matched against prompts that use the cameo.
//!
//! Parsing. The text splits into rules at `,` `;` `.` and line breaks (" and " does not split).
//! Each rule is normalised with [`normalise`](super::normalise) (case, accents, look-alikes,
//! leetspeak, spacing), then loses one or more leading negations (`no`, `never`, `not`,
//! `don't`, `do not`, `nothing with`, `nothing`, `without`, `avoid`, `keep out`, and a leading
//! `please`); what is left is the rule's text. Its key words are those words minus filler
//! (`content`, `stuff`, `things`, `videos`, `video`, `scenes`, `scene`, `anything`, `any`, `me`,
//! `my`, `of`, `the`, `a`, `an`, `please`, `in`, `with`, and the joiners `and`, `or`). A rule
//! without key words is ignored. "no hats and scarves" is one rule with two key words, broken
//! only by a prompt with both; write "no hats, no scarves" for two rules.
//!
//! Matching. A prompt breaks a rule when every key word of the rule occurs as a word of the
//! normalised prompt, in any order and position, up to simple inflections: two words are the
//! same when their stem sets share a member. A word's stem set holds the word and everything
//! reached by repeatedly removing one of the suffixes `ians`, `ian`, `ally`, `ing`, `ed`, `es`,
//! `s`, `al`, `ly`, `ic` (at least three letters must remain; four after the derivational
//! suffixes `ians`, `ian`, `ally`, `al`, `ly`, `ic`), plus, after `ing` and `ed`, the stem with a
//! doubled last letter undone ("running" → "run") and with an `e` restored ("smoking" →
//! "smoke"). So "political", "politics", "politician(s)" and "politically" all share "politic";
//! "alcoholic" matches "alcohol"; "wars" matches "war" but "warm" does not (whole words, not
//! prefixes). `less` is deliberately not a suffix: "shirtless" means the opposite of "shirt",
//! so a restriction "never shirtless" does not refuse "a man in a blue shirt".
//!
//! Words alone expand no synonyms or paraphrases: "never shirtless" does not catch "topless".
//!
//! Meaning ([`check_restrictions_by_meaning`], used by [`PromptPolicy`](super::PromptPolicy) when the
//! backend gives it the sentence encoder): each rule is also compared with the prompt by meaning.
//! The rule becomes the sentence "a video about <rule text>"; the prompt is read whole and clause
//! by clause (split at `,` `;` `.` and " then "). Each part's score is its cosine similarity to the
//! rule's sentence minus half its mean similarity to thirty everyday topics ([`BACKGROUND_TOPICS`]):
//! a short, vague prompt ("a ghost") sits close to every rule a little, and this takes that off. A
//! rule is broken when the best part's score reaches the threshold
//! ([`RESTRICTION_MEANING_THRESHOLD`], 0.20, tuned on `assets/restriction_pairs.tsv`: 181
//! labelled restriction/prompt pairs; figures in the README, measured by
//! `cargo run -p moderation --example restriction_eval`). So "no political
//! content" refuses "a rally with flags outside parliament" and "nothing scary" "a haunted house at
//! midnight", while "a birthday party in the park" passes both. The encoder does not read negation
//! inside a rule: "never shirtless" sits close to "a tailor ironing a shirt", one of the set's
//! false refusals.

use meaning::{TextEncoder, similarity};

use super::normalise::normalise;
use super::{Category, Violation};

/// Score (see the module documentation) from which a prompt breaks a rule by meaning.
pub const RESTRICTION_MEANING_THRESHOLD: f32 = 0.20;

/// Everyday topics a prompt's closeness to anything at all is measured against.
pub const BACKGROUND_TOPICS: &[&str] = &[
    "cooking",
    "sports",
    "music",
    "animals",
    "travel",
    "cars",
    "technology",
    "fashion",
    "art",
    "games",
    "comedy",
    "fitness",
    "science",
    "history",
    "fantasy",
    "weather",
    "drinks",
    "nature",
    "the ocean",
    "space",
    "the city",
    "children",
    "dance",
    "politics",
    "religion",
    "violence",
    "romance",
    "horror",
    "money",
    "school",
];

/// How much of a prompt's mean closeness to [`BACKGROUND_TOPICS`] is taken off its score.
const BACKGROUND_WEIGHT: f32 = 0.5;

/// A cameo used in a request and its owner's restriction text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CameoRestriction {
    /// The cameo's display name, quoted in the reason.
    pub cameo_name: String,
    /// The owner's free-text restrictions, e.g. "no political content, never shirtless".
    pub restrictions: String,
}

/// One parsed rule of a cameo owner's restrictions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictionRule {
    /// The rule without its negation, normalised, e.g. "political content".
    pub text: String,
    /// The words a prompt must all contain to break the rule, e.g. `["political"]`.
    pub key_words: Vec<String>,
}

/// Leading negations, as normalised word sequences; longer ones first.
const NEGATIONS: &[&[&str]] = &[
    &["nothing", "with"],
    &["do", "not"],
    &["keep", "out"],
    &["dont"],
    &["no"],
    &["never"],
    &["not"],
    &["nothing"],
    &["without"],
    &["avoid"],
    &["please"],
];

/// Words that never count as key words.
const FILLER: &[&str] = &[
    "content", "stuff", "things", "videos", "video", "scenes", "scene", "anything", "any", "me", "my", "of", "the",
    "a", "an", "please", "in", "with", "and", "or",
];

/// Suffixes removed when comparing words, with the fewest letters that must remain.
const SUFFIXES: &[(&str, usize)] = &[
    ("ians", 4),
    ("ian", 4),
    ("ally", 4),
    ("ing", 3),
    ("ed", 3),
    ("es", 3),
    ("s", 3),
    ("al", 4),
    ("ly", 4),
    ("ic", 4),
];

/// Parses an owner's restriction text into rules, in order, without duplicates; blank text and
/// rules with no key word give nothing.
pub fn parse_restrictions(text: &str) -> Vec<RestrictionRule> {
    let mut rules: Vec<RestrictionRule> = Vec::new();
    for piece in text.split([',', ';', '.', '\n', '\r']) {
        let Some(rule) = parse_rule(piece) else { continue };
        if !rules.iter().any(|r| r.key_words == rule.key_words) {
            rules.push(rule);
        }
    }
    rules
}

fn parse_rule(piece: &str) -> Option<RestrictionRule> {
    let normalised = normalise(piece);
    let mut words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    'strip: loop {
        for negation in NEGATIONS {
            if words.starts_with(negation) {
                words.drain(..negation.len());
                continue 'strip;
            }
        }
        break;
    }
    let key_words: Vec<String> = words.iter().filter(|w| !FILLER.contains(w)).map(|w| (*w).to_owned()).collect();
    if key_words.is_empty() {
        return None;
    }
    Some(RestrictionRule { text: words.join(" "), key_words })
}

/// Every form a word is compared under (see the module documentation).
fn stems(word: &str) -> Vec<String> {
    let mut out = vec![word.to_owned()];
    let mut i = 0;
    while let Some(current) = out.get(i).cloned() {
        i += 1;
        for (suffix, keep) in SUFFIXES {
            let Some(stem) = current.strip_suffix(suffix) else { continue };
            if stem.chars().count() < *keep {
                continue;
            }
            let mut found = vec![stem.to_owned()];
            if matches!(*suffix, "ing" | "ed") {
                let mut chars = stem.chars().rev();
                if let (Some(last), Some(before)) = (chars.next(), chars.next())
                    && last == before
                    && !matches!(last, 'a' | 'e' | 'i' | 'o' | 'u' | 's' | 'l')
                {
                    found.push(stem.chars().take(stem.chars().count() - 1).collect());
                }
                found.push(format!("{stem}e"));
            }
            for s in found {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// Whether two words are the same up to simple inflections.
fn same_word(a: &[String], b: &[String]) -> bool {
    a.iter().any(|x| b.contains(x))
}

impl RestrictionRule {
    /// Whether `prompt` (raw; normalised here) breaks this rule.
    pub fn is_broken_by(&self, prompt: &str) -> bool {
        let normalised = normalise(prompt);
        let words: Vec<Vec<String>> = normalised.split(' ').filter(|w| !w.is_empty()).map(stems).collect();
        self.broken_by_stems(&words)
    }

    fn broken_by_stems(&self, prompt_words: &[Vec<String>]) -> bool {
        self.key_words.iter().all(|key| {
            let key = stems(key);
            prompt_words.iter().any(|w| same_word(&key, w))
        })
    }
}

/// The reason for breaking `rule` of the cameo `cameo_name`, one line.
fn violation(cameo_name: &str, rule: &RestrictionRule) -> Violation {
    let category = Category::Restriction;
    // Debug formatting quotes the name and escapes quotes and line breaks in it.
    Violation {
        category,
        reason: format!(
            "{}: the cameo {cameo_name:?} does not allow {:?}; remove it from the prompt or use another cameo.",
            category.as_str(),
            rule.text
        ),
    }
}

/// The reason for breaking `rule` by meaning: the rule's words are not in the prompt, so the
/// reason says the prompt reads as close to it.
fn meaning_violation(cameo_name: &str, rule: &RestrictionRule) -> Violation {
    let category = Category::Restriction;
    Violation {
        category,
        reason: format!(
            "{}: the cameo {cameo_name:?} does not allow {:?}, and this prompt reads as being about that; change \
             the prompt or use another cameo.",
            category.as_str(),
            rule.text
        ),
    }
}

/// The sentence a rule is compared by meaning as.
pub fn rule_sentence(rule: &RestrictionRule) -> String {
    format!("a video about {}", rule.text)
}

/// The texts a prompt is compared by meaning as: the whole prompt, then each clause of a prompt
/// with several (split at `,` `;` `.` line breaks and " then "), without repeats.
pub fn prompt_parts(text: &str) -> Vec<String> {
    let whole = text.trim().to_owned();
    let mut out = vec![whole.clone()];
    let lower = text.replace(" then ", ",").replace(" Then ", ",");
    for piece in lower.split([',', ';', '.', '\n', '\r']) {
        let piece = piece.trim();
        if piece.split_whitespace().count() >= 2 && !out.iter().any(|o| o == piece) {
            out.push(piece.to_owned());
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Rules of the cameos that `text` breaks by meaning at `threshold` (see the module
/// documentation) but not by words (those [`check_restrictions`] reports), one violation each, in
/// the order of `cameos` and their rules, with the similarity that broke each.
pub fn check_restrictions_by_meaning(
    text: &str,
    cameos: &[CameoRestriction],
    encoder: &TextEncoder,
    threshold: f32,
) -> Result<Vec<(Violation, f32)>, meaning::MeaningError> {
    let mut out: Vec<(Violation, f32)> = Vec::new();
    let parsed: Vec<(&str, Vec<RestrictionRule>)> =
        cameos.iter().map(|c| (c.cameo_name.as_str(), parse_restrictions(&c.restrictions))).collect();
    if parsed.iter().all(|(_, rules)| rules.is_empty()) {
        return Ok(out);
    }
    let parts = prompt_parts(text);
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let prompt_vectors = encoder.embed_many(&refs)?;
    let background: Vec<String> = BACKGROUND_TOPICS.iter().map(|t| format!("a video about {t}")).collect();
    let background: Vec<&str> = background.iter().map(String::as_str).collect();
    let background = encoder.embed_many(&background)?;
    let offsets: Vec<f32> = prompt_vectors
        .iter()
        .map(|p| {
            let mean = background.iter().map(|b| similarity(p, b)).sum::<f32>() / background.len().max(1) as f32;
            BACKGROUND_WEIGHT * mean
        })
        .collect();
    let normalised = normalise(text);
    let words: Vec<Vec<String>> = normalised.split(' ').filter(|w| !w.is_empty()).map(stems).collect();
    for (name, rules) in &parsed {
        for rule in rules {
            if rule.broken_by_stems(&words) {
                continue;
            }
            let v = encoder.embed(&rule_sentence(rule))?;
            let best = prompt_vectors.iter().zip(&offsets).map(|(p, o)| similarity(p, &v) - o).fold(f32::MIN, f32::max);
            if best >= threshold {
                let violation = meaning_violation(name, rule);
                if !out.iter().any(|(o, _)| *o == violation) {
                    out.push((violation, best));
                }
            }
        }
    }
    Ok(out)
}

/// Every rule of every cameo that `text` breaks, one [`Category::Restriction`] violation each, in
/// the order of `cameos` and then of their rules. Needs no classifier.
pub fn check_restrictions(text: &str, cameos: &[CameoRestriction]) -> Vec<Violation> {
    let mut out: Vec<Violation> = Vec::new();
    if cameos.iter().all(|c| c.restrictions.trim().is_empty()) {
        return out;
    }
    let normalised = normalise(text);
    let words: Vec<Vec<String>> = normalised.split(' ').filter(|w| !w.is_empty()).map(stems).collect();
    for cameo in cameos {
        for rule in parse_restrictions(&cameo.restrictions) {
            if rule.broken_by_stems(&words) {
                let v = violation(&cameo.cameo_name, &rule);
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<Vec<String>> {
        parse_restrictions(text).into_iter().map(|r| r.key_words).collect()
    }

    #[test]
    fn negations_and_filler_are_dropped() {
        assert_eq!(
            keys("no political content, never shirtless; nothing with alcohol"),
            [vec!["political"], vec!["shirtless"], vec!["alcohol"]]
        );
        assert_eq!(keys("Don't put me in swimwear"), [vec!["put", "swimwear"]]);
        assert_eq!(keys("do not show any guns.\nkeep out of the kitchen"), [vec!["show", "guns"], vec!["kitchen"]]);
        assert_eq!(keys("no red hats and scarves"), [vec!["red", "hats", "scarves"]]);
        assert!(keys("no content, nothing, please.;;\n").is_empty());
        assert_eq!(
            parse_restrictions("NO Political Content").first().map(|r| r.text.as_str()),
            Some("political content")
        );
    }

    #[test]
    fn inflections_share_a_stem() {
        let same = |a: &str, b: &str| same_word(&stems(a), &stems(b));
        for w in ["politics", "politician", "politicians", "politically", "political"] {
            assert!(same("political", w), "{w}");
        }
        assert!(same("alcohol", "alcoholic"));
        assert!(same("war", "wars"));
        assert!(same("smoke", "smoking"));
        assert!(same("run", "running"));
        assert!(same("kiss", "kissing"));
        assert!(same("sale", "sales"));
        assert!(!same("war", "warm"));
        assert!(!same("shirtless", "shirt"));
        assert!(!same("political", "polite"));
        assert!(!same("tops", "topical"));
        assert!(!same("music", "muses"));
    }
}
