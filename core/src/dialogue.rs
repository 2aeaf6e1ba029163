//! The dialogue written in a prompt: who says what, in order.
//!
//! A prompt carries speech in three forms, all of which [`Script::parse`] reads:
//! - a speaker and a speech verb before a quotation: `a cat says "hello there"`, `Mia asks: "ready?"`
//!   (says, said, asks, shouts, whispers, replies, yells, sings, calls, adds, answers, exclaims);
//! - a name and a colon before a quotation: `Mia: "ready?"`, or, on the second and later lines of
//!   a prompt (the first describes the scene), `Mia: ready?` without quotation marks: a line per
//!   speaker;
//! - any other quotation (`"…"`, `“…”`, `«…»`): a line with no named speaker.
//!
//! Invariant: parsing is total and cheap. Any text (empty, 10 kB, emoji, unbalanced quotation
//! marks) gives a script, never a panic; at most [`MAX_LINES`] lines of at most [`MAX_LINE_CHARS`]
//! characters each are kept (what [`Script::check`] reports as too much). Speakers are numbered in
//! order of first appearance, so the same speaker keeps one voice through a video.

use serde::{Deserialize, Serialize};

/// Most spoken lines a video may hold.
pub const MAX_LINES: usize = 12;
/// Longest spoken line, in characters.
pub const MAX_LINE_CHARS: usize = 300;
/// Speaking rate assumed when estimating how long a script takes, in words per second (a calm
/// voice at its normal pace says about 2.5–3 words a second).
pub const WORDS_PER_SECOND: f64 = 2.7;
/// How much faster than normal a voice may speak to fit its lines into the clip.
pub const MAX_PACE: f64 = 1.3;

/// The verbs that introduce a quotation as speech.
const SPEECH_VERBS: [&str; 24] = [
    "says",
    "said",
    "say",
    "asks",
    "asked",
    "ask",
    "shouts",
    "shouted",
    "whispers",
    "whispered",
    "replies",
    "replied",
    "yells",
    "yelled",
    "sings",
    "sang",
    "calls",
    "called",
    "adds",
    "added",
    "answers",
    "answered",
    "exclaims",
    "exclaimed",
];

/// Words that start a new clause when reading backwards from a speech verb.
const CLAUSE_STOPS: [&str; 11] = ["and", "then", "while", "when", "as", "but", "so", "where", "who", "which", "that"];

/// Words that end a speaker's name: "a cat *on* a sofa says".
const PREPOSITIONS: [&str; 16] = [
    "on", "in", "at", "by", "with", "near", "under", "over", "from", "of", "to", "inside", "beside", "behind",
    "across", "into",
];

/// Words dropped in front of a speaker's name.
const DETERMINERS: [&str; 10] = ["a", "an", "the", "his", "her", "their", "my", "our", "your", "its"];

/// One spoken line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Who says it, as written ("Mia", "cat"); `None` when the prompt names nobody.
    pub speaker: Option<String>,
    /// The speaker's number: 0 for the first speaker met, 1 for the next… (the unnamed speaker
    /// counts as one speaker too).
    pub speaker_index: usize,
    /// What is said, without quotation marks.
    pub text: String,
    /// Who the speaker is, when the backend knows them (a cameo in the video, by its name or its
    /// owner's username): the generator gives a speaker with a key the same stock voice in every
    /// video (see [`mark_voices`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_key: Option<String>,
    /// The storyboard shot it is spoken in, from 0 (always 0 for a video of one shot).
    #[serde(default, skip_serializing_if = "is_first")]
    pub shot: usize,
}

fn is_first(shot: &usize) -> bool {
    *shot == 0
}

/// The dialogue of a prompt, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// The lines, in the order they are spoken.
    pub lines: Vec<Line>,
    /// Lines found beyond [`MAX_LINES`] (dropped).
    pub dropped_lines: usize,
    /// Lines cut at [`MAX_LINE_CHARS`].
    pub cut_lines: usize,
}

/// Why a script cannot be spoken in a clip; each says what to change.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptProblem {
    /// More than [`MAX_LINES`] lines.
    TooManyLines {
        /// Lines found.
        found: usize,
    },
    /// A line longer than [`MAX_LINE_CHARS`].
    LineTooLong {
        /// Its number, from 1.
        line: usize,
    },
    /// More words than the clip can hold even at [`MAX_PACE`].
    TooLong {
        /// Estimated seconds of speech at the normal pace.
        speech_seconds: f64,
        /// The clip's length.
        clip_seconds: f64,
    },
}

impl std::fmt::Display for ScriptProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScriptProblem::TooManyLines { found } => {
                write!(f, "the prompt has {found} spoken lines; a video can hold at most {MAX_LINES}")
            }
            ScriptProblem::LineTooLong { line } => {
                write!(f, "spoken line {line} is longer than {MAX_LINE_CHARS} characters; shorten it")
            }
            ScriptProblem::TooLong { speech_seconds, clip_seconds } => write!(
                f,
                "the dialogue takes about {speech_seconds:.0} seconds to say, too long for a {clip_seconds:.0}-second \
                 video; shorten the lines or make the video longer"
            ),
        }
    }
}

impl Script {
    /// Reads the dialogue of `prompt` (see the module documentation).
    pub fn parse(prompt: &str) -> Script {
        let mut raw: Vec<(Option<String>, String)> = Vec::new();
        for (number, line) in prompt.lines().enumerate() {
            parse_line(line, number > 0, &mut raw);
        }
        let mut script = Script::default();
        let mut speakers: Vec<Option<String>> = Vec::new();
        for (speaker, text) in raw {
            let text = tidy(&text);
            if !text.chars().any(char::is_alphanumeric) {
                continue;
            }
            if script.lines.len() == MAX_LINES {
                script.dropped_lines += 1;
                continue;
            }
            let text = if text.chars().count() > MAX_LINE_CHARS {
                script.cut_lines += 1;
                text.chars().take(MAX_LINE_CHARS).collect()
            } else {
                text
            };
            let key = speaker.as_ref().map(|s| s.to_lowercase());
            let speaker_index = match speakers.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    speakers.push(key);
                    speakers.len() - 1
                }
            };
            script.lines.push(Line { speaker, speaker_index, text, voice_key: None, shot: 0 });
        }
        script
    }

    /// Whether there is anything to say.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Distinct speakers.
    pub fn speakers(&self) -> usize {
        self.lines.iter().map(|l| l.speaker_index + 1).max().unwrap_or(0)
    }

    /// Seconds the lines take at the normal pace, with a short pause after each.
    pub fn estimated_seconds(&self) -> f64 {
        self.lines.iter().map(|l| l.text.split_whitespace().count() as f64 / WORDS_PER_SECOND + 0.3).sum()
    }

    /// Whether the script can be spoken in a clip of `clip_seconds`: not too many lines, none cut,
    /// and short enough at [`MAX_PACE`] (the first problem found).
    pub fn check(&self, clip_seconds: f64) -> Result<(), ScriptProblem> {
        if self.dropped_lines > 0 {
            return Err(ScriptProblem::TooManyLines { found: self.lines.len() + self.dropped_lines });
        }
        if self.cut_lines > 0 {
            let line = self.lines.iter().position(|l| l.text.chars().count() >= MAX_LINE_CHARS).unwrap_or(0) + 1;
            return Err(ScriptProblem::LineTooLong { line });
        }
        let speech_seconds = self.estimated_seconds();
        // Half a second of the clip stays free: a lead-in and a tail.
        if speech_seconds / MAX_PACE > (clip_seconds - 0.5).max(0.0) && !self.is_empty() {
            return Err(ScriptProblem::TooLong { speech_seconds, clip_seconds });
        }
        Ok(())
    }
}

/// The lines of a storyboard, one script per shot, as one list: each line with its shot, and
/// speakers numbered across the shots (a name is one speaker in every shot, so it keeps one
/// voice; the unnamed speaker is one speaker too).
pub fn join_shots(scripts: &[Script]) -> Vec<Line> {
    let mut speakers: Vec<Option<String>> = Vec::new();
    let mut lines = Vec::with_capacity(scripts.iter().map(|s| s.lines.len()).sum());
    for (shot, script) in scripts.iter().enumerate() {
        for line in &script.lines {
            let key = line.speaker.as_ref().map(|s| s.trim_start_matches('@').to_lowercase());
            let speaker_index = match speakers.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    speakers.push(key);
                    speakers.len() - 1
                }
            };
            lines.push(Line { speaker_index, shot, ..line.clone() });
        }
    }
    lines
}

/// Gives `voice_key` to the lines whose speaker is one of `known` (name, key): names compare
/// without case and without a leading `@` ("Ann", "@ann" and "ann" are one name). The first
/// match in `known` wins.
pub fn mark_voices(lines: &mut [Line], known: &[(String, String)]) {
    let norm = |s: &str| s.trim().trim_start_matches('@').to_lowercase();
    for line in lines.iter_mut() {
        let Some(speaker) = line.speaker.as_deref().map(norm) else { continue };
        if let Some((_, key)) = known.iter().find(|(name, _)| norm(name) == speaker) {
            line.voice_key = Some(key.clone());
        }
    }
}

/// A quotation in a line: the text before it, the quoted text, and where it ends.
struct Quote<'a> {
    before: &'a str,
    inner: &'a str,
    rest: &'a str,
}

/// The first quotation in `s` ("…", “…” or «…»); an opening mark without its closing one quotes
/// to the end of the line.
fn next_quote(s: &str) -> Option<Quote<'_>> {
    let (start, open) = s.char_indices().find(|(_, c)| matches!(c, '"' | '“' | '«' | '”'))?;
    let close = match open {
        '“' => ['”', '"'],
        '«' => ['»', '"'],
        _ => ['"', '”'],
    };
    let after = start + open.len_utf8();
    let tail = s.get(after..)?;
    let (inner, rest) = match tail.char_indices().find(|(_, c)| close.contains(c)) {
        Some((end, c)) => (tail.get(..end)?, tail.get(end + c.len_utf8()..)?),
        None => (tail, ""),
    };
    Some(Quote { before: s.get(..start)?, inner, rest })
}

/// Adds the spoken lines of one line of the prompt to `out`.
fn parse_line(line: &str, continuation: bool, out: &mut Vec<(Option<String>, String)>) {
    let mut rest = line;
    let mut found = false;
    while let Some(q) = next_quote(rest) {
        found = true;
        out.push((speaker_before(q.before), q.inner.to_owned()));
        rest = q.rest;
    }
    // `Name: text` without quotation marks, on the lines after the scene's.
    if !found
        && continuation
        && let Some((name, text)) = line.split_once(':')
        && let Some(name) = plain_name(name)
    {
        out.push((Some(name), text.to_owned()));
    }
}

/// The speaker named right before a quotation: `… Mia says`, `… the old man asks:`, `Mia:`.
fn speaker_before(before: &str) -> Option<String> {
    let trimmed = before.trim_end().trim_end_matches([',', ':', '-', '—']).trim_end();
    if before.trim_end().ends_with(':') {
        // `Name: "…"`: the words right before the colon, if they look like a name.
        if let Some(name) = plain_name(trimmed.rsplit(['.', ',', ';', '!', '?']).next().unwrap_or(trimmed)) {
            return Some(name);
        }
    }
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    let (verb_at, _) = words.iter().enumerate().rev().find(|(_, w)| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        SPEECH_VERBS.contains(&w.as_str())
    })?;
    // Only "X says", "X says loudly": the verb ends the text before the quotation, give or take
    // one adverb.
    if verb_at + 2 < words.len() {
        return None;
    }
    // Back from the verb to the start of its clause…
    let before_verb = words.get(..verb_at)?;
    let mut clause_start = 0;
    for (i, w) in before_verb.iter().enumerate().rev() {
        let lower = w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        if CLAUSE_STOPS.contains(&lower.as_str()) {
            clause_start = i + 1;
            break;
        }
        if w.ends_with([',', '.', ';', '!', '?', ':']) {
            clause_start = i + 1;
            break;
        }
    }
    // …then its subject: up to a preposition ("a cat on a sofa"), without its determiner.
    let mut name: Vec<&str> = Vec::new();
    for w in before_verb.get(clause_start..)? {
        let clean = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '@');
        let lower = clean.to_lowercase();
        if PREPOSITIONS.contains(&lower.as_str()) {
            break;
        }
        if clean.is_empty() || (name.is_empty() && DETERMINERS.contains(&lower.as_str())) {
            continue;
        }
        name.push(clean);
    }
    let keep = name.len().saturating_sub(3);
    let name = name.get(keep..).unwrap_or_default();
    (!name.is_empty()).then(|| name.join(" "))
}

/// `text` as a speaker's name when it looks like one: one to three words of letters (an `@handle`
/// too), none of them a verb of speech.
fn plain_name(text: &str) -> Option<String> {
    let text = text.trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    let name_like = |w: &&str| {
        w.chars().all(|c| c.is_alphanumeric() || matches!(c, '\'' | '-' | '@' | '_' | '.'))
            && w.chars().any(char::is_alphabetic)
            && !SPEECH_VERBS.contains(&w.to_lowercase().as_str())
    };
    (!words.is_empty() && words.len() <= 3 && words.iter().all(name_like)).then(|| words.join(" "))
}

/// Collapses whitespace and strips quotation marks and spaces at the ends.
fn tidy(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '“' | '”' | '«' | '»')).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(prompt: &str) -> Vec<(Option<String>, usize, String)> {
        Script::parse(prompt).lines.into_iter().map(|l| (l.speaker, l.speaker_index, l.text)).collect()
    }

    fn named(name: &str, index: usize, text: &str) -> (Option<String>, usize, String) {
        (Some(name.to_owned()), index, text.to_owned())
    }

    #[test]
    fn a_speaker_and_a_verb_before_a_quotation() {
        assert_eq!(
            lines(r#"a cat on a sofa says "feed me now" and the dog replies "later""#),
            vec![named("cat", 0, "feed me now"), named("dog", 1, "later")]
        );
        assert_eq!(lines(r#"Mia asks: “are we there yet?”"#), vec![named("Mia", 0, "are we there yet?")]);
        assert_eq!(
            lines(r#"the old fisherman whispers softly "the tide is turning""#),
            vec![named("old fisherman", 0, "the tide is turning")]
        );
    }

    #[test]
    fn a_name_and_a_colon_and_a_line_per_speaker() {
        let prompt = "two friends at a café in the rain\nMia: did you bring the umbrella?\nLeo: I thought you did\nMia: \"of course not\"";
        assert_eq!(
            lines(prompt),
            vec![
                named("Mia", 0, "did you bring the umbrella?"),
                named("Leo", 1, "I thought you did"),
                named("Mia", 0, "of course not"),
            ]
        );
        // On the scene's own line a colon is not a speaker: "cinematic shot: …" is a description.
        assert!(lines("cinematic shot: a red ball rolling left").is_empty());
        assert_eq!(lines(r#"Mia: "hello""#), vec![named("Mia", 0, "hello")]);
    }

    #[test]
    fn other_quotations_are_an_unnamed_speaker() {
        assert_eq!(lines(r#"a sunny beach, "what a day", waves"#), vec![(None, 0, "what a day".to_owned())]);
        // The unnamed speaker counts as one speaker among the named ones.
        let l = lines(r#""hi" then Ann says "hello" and "bye""#);
        assert_eq!(l.iter().map(|x| x.1).collect::<Vec<_>>(), vec![0, 1, 0]);
    }

    #[test]
    fn no_dialogue_and_odd_text() {
        for p in ["", "a red ball bouncing on green grass", "\"\"", "“  ”", "it's a dog's life", "🦊🎬", ":\n:"]
        {
            assert!(Script::parse(p).is_empty(), "{p:?}");
        }
        // An unclosed quotation runs to the end of its line.
        assert_eq!(lines("he says \"wait for me\nmore scene"), vec![named("he", 0, "wait for me")]);
        let huge = "x \"ab\" ".repeat(5000);
        let s = Script::parse(&huge);
        assert_eq!(s.lines.len(), MAX_LINES);
        assert!(s.dropped_lines > 0);
        assert!(matches!(s.check(60.0), Err(ScriptProblem::TooManyLines { .. })));
    }

    #[test]
    fn known_speakers_get_their_voice_key() {
        let mut s = Script::parse("a party\nMia: hi\n@Ann: hello\nLeo: hey");
        let known = [("ann".to_owned(), "cameo-1".to_owned()), ("Leo".to_owned(), "cameo-2".to_owned())];
        mark_voices(&mut s.lines, &known);
        let keys: Vec<Option<&str>> = s.lines.iter().map(|l| l.voice_key.as_deref()).collect();
        assert_eq!(keys, [None, Some("cameo-1"), Some("cameo-2")]);
        // Lines without a key travel as before.
        let text = serde_json::to_string(&s.lines[0]).unwrap();
        assert!(!text.contains("voice_key"), "{text}");
        let back: Line = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s.lines[0]);
    }

    #[test]
    fn shots_share_their_speakers() {
        let shots = [
            Script::parse("a kitchen\nMia: hello\nLeo: hi"),
            Script::parse("the garden"),
            Script::parse("a hall\nleo: bye\nTom: see you\nMia: bye"),
        ];
        let lines = join_shots(&shots);
        let got: Vec<(usize, usize, &str)> = lines.iter().map(|l| (l.shot, l.speaker_index, l.text.as_str())).collect();
        assert_eq!(got, [(0, 0, "hello"), (0, 1, "hi"), (2, 1, "bye"), (2, 2, "see you"), (2, 0, "bye")]);
        // The shot travels only when it is not the first.
        let text = serde_json::to_string(&lines[0]).unwrap();
        assert!(!text.contains("shot"), "{text}");
        let text = serde_json::to_string(&lines[2]).unwrap();
        assert!(text.contains("\"shot\":2"), "{text}");
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), lines[2]);
    }

    #[test]
    fn long_lines_are_cut_and_reported() {
        let long = format!("Ann says \"{}\"", "word ".repeat(200));
        let s = Script::parse(&long);
        assert_eq!(s.lines.first().map(|l| l.text.chars().count()), Some(MAX_LINE_CHARS));
        assert_eq!(s.check(60.0), Err(ScriptProblem::LineTooLong { line: 1 }));
    }

    #[test]
    fn a_script_must_fit_the_clip() {
        let s = Script::parse(r#"Ann says "we should go home now before it rains""#);
        assert!(s.check(4.0).is_ok(), "{} s", s.estimated_seconds());
        let s = Script::parse(&format!("Ann says \"{}\"", "very long sentence indeed ".repeat(6)));
        let err = s.check(4.0).expect_err("too long");
        assert!(err.to_string().contains("too long for a 4-second video"), "{err}");
        assert!(s.check(20.0).is_ok());
        assert!(Script::default().check(1.0).is_ok());
        assert_eq!(Script::default().speakers(), 0);
    }
}
