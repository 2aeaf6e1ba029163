//! The dialogue as WebVTT subtitles: one cue per spoken line, timed to where the line sits in
//! the sound track, with the speaker as a voice span (`<v Mia>…`) that players show or style.
//!
//! Invariant: the output is valid WebVTT whatever the prompt held: text is escaped (`&`, `<`,
//! `>`), so a line can neither open a tag nor contain the cue-timing arrow `-->`; blank lines
//! inside a line are collapsed (a blank line would end the cue); times are clamped to be
//! non-negative and increasing within each cue.

/// One caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// When the line starts, in seconds from the start of the video.
    pub start: f64,
    /// When it ends.
    pub end: f64,
    /// Who says it (shown as a voice span), if the prompt named them.
    pub speaker: Option<String>,
    /// What is said.
    pub text: String,
}

/// The WebVTT file of `cues` (in the order given; players sort by start time anyway).
pub fn webvtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, cue) in cues.iter().enumerate() {
        let text = escape(&cue.text.split_whitespace().collect::<Vec<_>>().join(" "));
        if text.is_empty() {
            continue;
        }
        let start = if cue.start.is_finite() { cue.start.max(0.0) } else { 0.0 };
        let end = if cue.end.is_finite() { cue.end.max(start + 0.001) } else { start + 0.001 };
        out.push_str(&format!("\n{}\n{} --> {}\n", i + 1, timestamp(start), timestamp(end)));
        match cue.speaker.as_deref().map(voice_name).filter(|v| !v.is_empty()) {
            Some(voice) => out.push_str(&format!("<v {voice}>{text}</v>\n")),
            None => out.push_str(&format!("{text}\n")),
        }
    }
    out
}

/// `HH:MM:SS.mmm`.
fn timestamp(seconds: f64) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// Text safe inside a cue.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A speaker's name as a voice annotation: escaped, on one line, without the `>` that would end
/// the tag.
fn voice_name(name: &str) -> String {
    escape(&name.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start: f64, end: f64, speaker: Option<&str>, text: &str) -> Cue {
        Cue { start, end, speaker: speaker.map(str::to_owned), text: text.to_owned() }
    }

    #[test]
    fn cues_with_and_without_a_speaker() {
        let vtt = webvtt(&[cue(0.4, 1.85, Some("Mia"), "ready?"), cue(2.0, 3.5, None, "let's go")]);
        assert_eq!(
            vtt,
            "WEBVTT\n\n1\n00:00:00.400 --> 00:00:01.850\n<v Mia>ready?</v>\n\n2\n00:00:02.000 --> 00:00:03.500\nlet's go\n"
        );
        assert_eq!(timestamp(3725.5), "01:02:05.500");
    }

    #[test]
    fn text_cannot_break_the_file() {
        let vtt = webvtt(&[
            cue(0.0, 1.0, Some("<b>Eve</b>"), "a --> b & <script>x</script>\n\nnew cue?"),
            cue(f64::NAN, f64::INFINITY, None, "odd times"),
            cue(5.0, 4.0, None, "backwards"),
            cue(1.0, 2.0, None, "   "),
        ]);
        assert!(!vtt.contains("<script>") && !vtt.contains("<b>"), "{vtt}");
        assert_eq!(vtt.matches("-->").count(), 3, "only the three timing lines: {vtt}");
        assert!(vtt.contains("<v &lt;b&gt;Eve&lt;/b&gt;>a --&gt; b &amp; &lt;script&gt;x&lt;/script&gt; new cue?</v>"));
        assert!(vtt.contains("00:00:00.000 --> 00:00:00.001\nodd times"));
        assert!(vtt.contains("00:00:05.000 --> 00:00:05.001\nbackwards"));
        assert!(!vtt.contains("\n\n\n"), "no empty cue: {vtt}");
        assert_eq!(webvtt(&[]), "WEBVTT\n");
    }
}
