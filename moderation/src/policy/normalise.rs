//! Text folding that undoes the usual evasions before any rule or the classifier sees a prompt:
//! case, accents, compatibility forms (full-width, ligatures), Cyrillic and Greek look-alikes,
//! invisible characters, leetspeak, letter spacing ("s e x") and stretched letters ("seeex").
//!
//! The output is lower-case words separated by single spaces, so rules can match whole words and
//! never fire inside a longer word (the Scunthorpe problem: "Essex", "sextant", "grape").

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Characters that render as nothing (or almost nothing) and are used to split banned words.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Look-alike letters from other scripts (after lower-casing and NFKD) mapped to Latin ones.
fn confusable(c: char) -> Option<&'static str> {
    Some(match c {
        // Cyrillic
        'а' => "a",
        'в' => "b",
        'е' | 'є' => "e",
        'ѕ' => "s",
        'і' | 'ї' => "i",
        'ј' => "j",
        'к' => "k",
        'м' => "m",
        'н' => "h",
        'о' => "o",
        'р' => "p",
        'с' => "c",
        'т' => "t",
        'у' => "y",
        'х' => "x",
        'ԁ' => "d",
        'һ' => "h",
        'ԛ' => "q",
        'ԝ' => "w",
        'ь' => "b",
        // Greek
        'α' => "a",
        'β' => "b",
        'γ' => "y",
        'ε' => "e",
        'η' => "n",
        'ι' => "i",
        'κ' => "k",
        'ν' => "v",
        'ο' => "o",
        'ρ' => "p",
        'τ' => "t",
        'υ' => "u",
        'χ' => "x",
        'ω' => "w",
        // Latin letters that NFKD does not decompose
        'ı' => "i",
        'ł' => "l",
        'ø' => "o",
        'đ' => "d",
        'ð' => "d",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        'ɡ' => "g",
        'ɑ' => "a",
        _ => return None,
    })
}

/// Symbols that stand in for letters inside a word ("$ex", "sh!t", "@ss").
fn leet_symbol(c: char) -> Option<char> {
    Some(match c {
        '@' => 'a',
        '$' => 's',
        '!' => 'i',
        '|' => 'l',
        '+' => 't',
        _ => return None,
    })
}

/// Digits that stand in for letters inside a word ("s3x", "k1ll", "p0rn").
fn leet_digit(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        '9' => 'g',
        _ => return None,
    })
}

/// Units and suffixes that legitimately follow a number ("1990s", "4k", "8yo", "3d"), so the
/// number is kept rather than read as leetspeak.
const NUMBER_SUFFIXES: &[&str] = &[
    "", "s", "st", "nd", "rd", "th", "yo", "yr", "yrs", "k", "p", "d", "x", "am", "pm", "mm", "cm", "m", "km", "kg",
    "fps", "h", "hr", "hrs", "min", "gb", "mb", "v", "w", "ft", "in", "mph", "kmh",
];

fn is_number_with_suffix(token: &str) -> bool {
    let digits = token.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && token.get(digits..).is_some_and(|rest| NUMBER_SUFFIXES.contains(&rest))
}

/// Folds one character to zero or more lower-case characters, pushing them onto `out`.
fn fold_char(c: char, out: &mut String) {
    if is_invisible(c) || is_combining_mark(c) {
        return;
    }
    for lower in c.to_lowercase() {
        match confusable(lower) {
            Some(s) => out.push_str(s),
            None => out.push(lower),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || leet_symbol(c).is_some()
}

/// Reads one raw token as a word: strips stray symbols at its edges and decodes leetspeak when
/// the token has letters in it.
fn decode_token(raw: &str) -> String {
    // Trailing "!" or "+" is punctuation ("wow!", "c++"), not a letter.
    let trimmed = raw.trim_end_matches(['!', '+', '|']).trim_start_matches(['!', '+', '|']);
    let has_letter = trimmed.chars().any(char::is_alphabetic);
    if !has_letter || is_number_with_suffix(trimmed) {
        return trimmed.chars().filter(|c| c.is_alphanumeric()).collect();
    }
    trimmed
        .chars()
        .map(|c| leet_symbol(c).or_else(|| leet_digit(c)).unwrap_or(c))
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Shortens runs of three or more identical letters to one ("seeeex" → "sex").
fn squeeze_repeats(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    let mut out = String::with_capacity(token.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let mut j = i;
        while chars.get(j) == Some(&c) {
            j += 1;
        }
        let run = j - i;
        let keep = if run >= 3 && c.is_alphabetic() { 1 } else { run };
        out.extend(std::iter::repeat_n(c, keep));
        i = j;
    }
    out
}

/// Joins runs of three or more single-character tokens ("s e x", "k.i.l.l") into one word.
fn join_spelled_out(tokens: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, out: &mut Vec<String>| {
        let letters = run.iter().filter(|t| t.chars().any(char::is_alphabetic)).count();
        if run.len() >= 3 && letters >= 2 {
            out.push(run.concat());
        } else {
            out.append(run);
        }
        run.clear();
    };
    for token in tokens {
        if token.chars().count() == 1 {
            run.push(token);
        } else {
            flush(&mut run, &mut out);
            out.push(token);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Folds `text` to lower-case words separated by single spaces, undoing accents, look-alike
/// characters, invisible characters, leetspeak, letter spacing and stretched letters.
pub fn normalise(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.nfkd() {
        fold_char(c, &mut folded);
    }
    // Apostrophes join ("kid's" → "kids"); anything else that is not part of a word splits.
    let mut spaced = String::with_capacity(folded.len());
    for c in folded.chars() {
        if matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{00B4}') {
            continue;
        }
        spaced.push(if is_word_char(c) { c } else { ' ' });
    }
    let raw: Vec<String> = spaced.split_whitespace().map(str::to_owned).collect();
    let joined = join_spelled_out(raw);
    let words: Vec<String> =
        joined.iter().map(|t| squeeze_repeats(&decode_token(t))).filter(|t| !t.is_empty()).collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_suffixes_stay_numbers() {
        assert!(is_number_with_suffix("1990s"));
        assert!(is_number_with_suffix("12yo"));
        assert!(!is_number_with_suffix("5ex"));
        assert!(!is_number_with_suffix("s3x"));
    }

    #[test]
    fn squeeze_keeps_double_letters() {
        assert_eq!(squeeze_repeats("balloon"), "balloon");
        assert_eq!(squeeze_repeats("seeeex"), "sex");
        assert_eq!(squeeze_repeats("1000"), "1000");
    }
}
