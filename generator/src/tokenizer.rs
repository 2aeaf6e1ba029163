//! Prompt → token ids. `word-hash`: lower-cased words (letters and digits) hashed (FNV-1a) into
//! the vocabulary, between BOS (1) and EOS (2); 0 pads. Stable across platforms and versions,
//! which the seed-determinism promise needs.

use crate::manifest::TokenizerSpec;

/// Padding id.
pub const PAD: i64 = 0;
/// Start of sequence.
pub const BOS: i64 = 1;
/// End of sequence.
pub const EOS: i64 = 2;
const FIRST_WORD_ID: u32 = 3;

fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Token ids of `prompt` (BOS, words…, EOS), at most `max_tokens` long; and how many are real.
pub fn encode(spec: &TokenizerSpec, prompt: &str) -> Vec<i64> {
    let span = spec.vocab_size.saturating_sub(FIRST_WORD_ID).max(1);
    let mut ids = vec![BOS];
    for word in prompt.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if ids.len() + 1 >= spec.max_tokens {
            break;
        }
        ids.push(i64::from(FIRST_WORD_ID + fnv1a(word) % span));
    }
    ids.push(EOS);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TokenizerSpec {
        TokenizerSpec { kind: "word-hash".into(), vocab_size: 4096, max_tokens: 8 }
    }

    #[test]
    fn stable_case_insensitive_and_bounded() {
        let a = encode(&spec(), "A cat, on the MOON!");
        assert_eq!(a, encode(&spec(), "a cat on the moon"));
        assert_eq!(a.first(), Some(&BOS));
        assert_eq!(a.last(), Some(&EOS));
        assert_eq!(a.len(), 7);
        assert!(a.iter().all(|&t| (0..4096).contains(&t)));
        let long = encode(&spec(), &"word ".repeat(100));
        assert_eq!(long.len(), 8);
        assert_eq!(encode(&spec(), ""), vec![BOS, EOS]);
    }
}
