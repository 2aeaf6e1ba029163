//! Word and phrase lists matched on normalised text, whole words only.
//!
//! A list file has one phrase per line; `#` starts a comment. A word ending in `*` matches any
//! word that starts with it ("dismember*"); other words also match their plural ("kid" → "kids").
//! Lines of the public-figures list are `Canonical Name|alias|alias`.

use std::collections::HashMap;

use super::normalise::normalise;

#[derive(Debug, Clone)]
enum Word {
    Exact(String),
    Prefix(String),
}

impl Word {
    fn matches(&self, token: &str) -> bool {
        match self {
            Word::Exact(w) => {
                token == w
                    || token.strip_suffix('s').is_some_and(|t| t == w)
                    || token.strip_suffix("es").is_some_and(|t| t == w)
            }
            Word::Prefix(p) => token.starts_with(p.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    words: Vec<Word>,
    /// Index into the lexicon's labels (the canonical name for public figures).
    label: usize,
}

/// Where a phrase was found: token positions `start..end` and the label of its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// First token of the match.
    pub start: usize,
    /// One past the last token of the match.
    pub end: usize,
    /// Index of the entry's label.
    pub label: usize,
}

/// A compiled list of phrases, indexed by first word.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    labels: Vec<String>,
    by_first: HashMap<String, Vec<Entry>>,
    prefixed: Vec<Entry>,
}

fn compile_phrase(phrase: &str) -> Vec<Word> {
    phrase
        .split_whitespace()
        .map(|raw| match raw.strip_suffix('*') {
            Some(stem) => Word::Prefix(normalise(stem)),
            None => Word::Exact(normalise(raw)),
        })
        .filter(|w| !matches!(w, Word::Exact(s) | Word::Prefix(s) if s.is_empty()))
        .collect()
}

fn lines(source: &str) -> impl Iterator<Item = &str> {
    source.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty())
}

impl Lexicon {
    /// One entry per line; each line is its own label.
    pub fn parse(source: &str) -> Self {
        let mut lex = Lexicon::default();
        for line in lines(source) {
            let label = lex.labels.len();
            lex.labels.push(line.to_owned());
            lex.add(line, label);
        }
        lex
    }

    /// `Canonical|alias|alias` per line; every alias carries the canonical name as its label.
    pub fn parse_aliased(source: &str) -> Self {
        let mut lex = Lexicon::default();
        for line in lines(source) {
            let mut parts = line.split('|').map(str::trim).filter(|p| !p.is_empty());
            let Some(canonical) = parts.next() else { continue };
            let label = lex.labels.len();
            lex.labels.push(canonical.to_owned());
            lex.add(canonical, label);
            for alias in parts {
                lex.add(alias, label);
            }
        }
        lex
    }

    fn add(&mut self, phrase: &str, label: usize) {
        let words = compile_phrase(phrase);
        match words.first() {
            Some(Word::Exact(first)) => {
                let first = first.clone();
                self.by_first.entry(first).or_default().push(Entry { words, label });
            }
            Some(Word::Prefix(_)) => self.prefixed.push(Entry { words, label }),
            None => {}
        }
    }

    /// The label text of a hit.
    pub fn label(&self, label: usize) -> &str {
        self.labels.get(label).map(String::as_str).unwrap_or("")
    }

    /// Number of entries' labels (lines).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the list is empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Every match in `tokens` that touches no masked position.
    pub fn find(&self, tokens: &[&str], masked: &[bool]) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (start, token) in tokens.iter().enumerate() {
            let mut candidates: Vec<&Entry> = Vec::new();
            for key in [Some(*token), token.strip_suffix('s'), token.strip_suffix("es")].into_iter().flatten() {
                if let Some(entries) = self.by_first.get(key) {
                    candidates.extend(entries.iter());
                }
            }
            candidates.extend(self.prefixed.iter());
            for entry in candidates {
                let end = start + entry.words.len();
                let Some(window) = tokens.get(start..end) else { continue };
                let clear = masked.get(start..end).is_none_or(|m| m.iter().all(|x| !x));
                if clear && entry.words.iter().zip(window).all(|(w, t)| w.matches(t)) {
                    let hit = Hit { start, end, label: entry.label };
                    if !hits.contains(&hit) {
                        hits.push(hit);
                    }
                }
            }
        }
        hits
    }

    /// Whether any entry matches.
    pub fn any(&self, tokens: &[&str], masked: &[bool]) -> bool {
        !self.find(tokens, masked).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_plurals_and_prefixes() {
        let lex = Lexicon::parse("sex\nkid\ndismember*\nkiller whale # comment\n");
        let toks = |s: &'static str| s.split(' ').collect::<Vec<_>>();
        assert!(!lex.any(&toks("a sextant in essex"), &[]));
        assert!(lex.any(&toks("two kids"), &[]));
        assert!(lex.any(&toks("dismembered body"), &[]));
        assert!(lex.any(&toks("a killer whale"), &[]));
        assert!(!lex.any(&toks("a killer"), &[]));
        assert!(!lex.any(&toks("two kids"), &[false, true]));
    }
}
