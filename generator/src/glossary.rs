//! Prompt expansion before the text encoder: a word the encoder cannot place gets a plainer word
//! written after it, from the manifest's `[tokenizer] glossary` (a two-column file).
//!
//! The shipped model's text encoder (MiniLM) does not tell colour names apart: its state for
//! "crimson" is nearer "purple" than "red" (`models/world/README.md`). Its glossary,
//! `models/world/colour-words.tsv`, is derived by `training/make_glossary.py` from WordNet 3.1:
//! every noun whose hypernyms reach one of the model's colour words ("crimson" → "red", "azure" →
//! "blue"). So "a crimson sphere" reaches the encoder as "a crimson red sphere", as production
//! systems rewrite prompts before encoding them.
//!
//! File format: UTF-8, one `word<TAB>gloss` a line; blank lines and lines starting with `#` are
//! skipped. Words are matched whole and case-insensitively, ignoring punctuation around them
//! ("Crimson," matches `crimson`); a gloss already written after its word is not repeated ("navy
//! blue" stays). A prompt with no glossary word is passed on unchanged.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use crate::{GenError, GenResult};

/// Longest glossary file accepted.
const MAX_BYTES: u64 = 4 << 20;

/// Words and the plainer word written after each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Glossary {
    entries: HashMap<String, String>,
}

fn bad(path: &Path, message: String) -> GenError {
    GenError::Manifest { path: path.display().to_string(), message: format!("glossary: {message}") }
}

/// The word inside `token`, lower-cased, without the punctuation around it.
fn bare(token: &str) -> String {
    token.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()
}

impl Glossary {
    /// Reads a glossary file.
    pub fn load(path: &Path) -> GenResult<Self> {
        let size = std::fs::metadata(path).map_err(|e| bad(path, e.to_string()))?.len();
        if size > MAX_BYTES {
            return Err(bad(path, format!("{size} bytes, more than {MAX_BYTES}")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| bad(path, e.to_string()))?;
        Self::parse(&text).map_err(|m| bad(path, m))
    }

    /// Parses the file's text; the error names the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(word), Some(gloss), None) = (cols.next(), cols.next(), cols.next()) else {
                return Err(format!("line {}: expected a word and a gloss separated by one tab", n + 1));
            };
            let (word, gloss) = (word.trim(), gloss.trim());
            if word.is_empty() || gloss.is_empty() || word.contains(' ') || bare(word) != word.to_lowercase() {
                return Err(format!("line {}: `{word}` → `{gloss}` is not a single word and a gloss", n + 1));
            }
            entries.insert(word.to_lowercase(), gloss.to_string());
        }
        Ok(Self { entries })
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no words (every prompt passes unchanged).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The prompt with each glossary word followed by its gloss.
    pub fn expand<'a>(&self, prompt: &'a str) -> Cow<'a, str> {
        if self.entries.is_empty() {
            return Cow::Borrowed(prompt);
        }
        let tokens: Vec<&str> = prompt.split_whitespace().collect();
        let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(tokens.len() + 2);
        let mut changed = false;
        for (i, token) in tokens.iter().enumerate() {
            // The next word is looked at only after a glossary word (glosses are few and short).
            let gloss = self
                .entries
                .get(&bare(token))
                .filter(|g| tokens.get(i + 1).is_none_or(|next| bare(next) != g.to_lowercase()));
            match gloss {
                Some(g) => {
                    changed = true;
                    // The gloss goes between the word and the punctuation after it.
                    let end = token.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
                    let (word, tail) = token.split_at(end);
                    out.push(Cow::Owned(format!("{word} {g}{tail}")));
                }
                _ => out.push(Cow::Borrowed(token)),
            }
        }
        if changed { Cow::Owned(out.join(" ")) } else { Cow::Borrowed(prompt) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colours() -> Glossary {
        Glossary::parse("# from WordNet\ncrimson\tred\nazure\tblue\n\nnavy\tblue\nsnow-white\twhite\n").unwrap()
    }

    #[test]
    fn a_glossary_word_gets_its_gloss_after_it() {
        let g = colours();
        assert_eq!(g.len(), 4);
        assert_eq!(g.expand("a crimson sphere drifting left"), "a crimson red sphere drifting left");
        assert_eq!(g.expand("Crimson, azure: two balls"), "Crimson red, azure blue: two balls");
        assert_eq!(g.expand("a snow-white crate"), "a snow-white white crate");
    }

    #[test]
    fn a_gloss_already_there_is_not_repeated_and_other_prompts_pass_unchanged() {
        let g = colours();
        assert_eq!(g.expand("a navy blue cube"), "a navy blue cube");
        assert!(matches!(g.expand("a red ball  in the rain"), Cow::Borrowed("a red ball  in the rain")));
        // Whole words only.
        assert_eq!(g.expand("crimsonish azures"), "crimsonish azures");
        assert_eq!(Glossary::default().expand("a crimson ball"), "a crimson ball");
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line_number() {
        for (text, line) in
            [("crimson red\n", 1), ("ok\tfine\nthree\tcols\there\n", 2), ("\tred\n", 1), ("two words\tred\n", 1)]
        {
            let err = Glossary::parse(text).unwrap_err();
            assert!(err.contains(&format!("line {line}")), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_missing_file_is_a_manifest_error() {
        let err = Glossary::load(Path::new("/nonexistent/glossary.tsv")).unwrap_err();
        assert!(matches!(err, GenError::Manifest { message, .. } if message.contains("glossary")));
    }
}
