//! The search index: published videos by meaning and by words, in memory, one per API node.
//!
//! Each video has a slot holding its sentence vector, quantised to `i8` with one scale per vector
//! (`code · scale ≈ value`; at 384 dimensions 384 bytes a video, 38 MB at 100,000), and its terms
//! ([`crate::topics::terms`] of prompt and caption) in an inverted index for BM25 (k1 = 1.2,
//! b = 0.75). [`SearchIndex::search`] ranks every live slot by meaning (the quantised query against
//! every vector: an exact scan, no approximate structure, so nothing relevant is missed) and by
//! words (only videos holding every word of the query: "felines playing" must not rank a jazz
//! trio "playing" above a cat), keeps the best [`CANDIDATES`] of each, and fuses the two lists by reciprocal rank (each
//! list gives `1 / (60 + rank)`); a video in both lists beats one in either. Vector candidates must
//! reach [`MEANING_FLOOR`], so a query about nothing in the index returns nothing rather than the
//! nearest noise.
//!
//! Invariants: one slot per video ([`SearchIndex::insert`] replaces; a removed video's slot is
//! freed and reused); postings hold live slots only. The index knows nothing of visibility: callers
//! filter what it returns (removed, banned, blocked) like a feed page. Not thread-safe by itself:
//! the domain holds it behind a lock, writes are batched by its refresher.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use uuid::Uuid;

use crate::topics::terms;

/// Vector width.
pub const DIM: usize = 384;
/// How many of each list (meaning, words) are fused.
pub const CANDIDATES: usize = 200;
/// Least cosine similarity for a video to be a candidate by meaning.
pub const MEANING_FLOOR: f32 = 0.20;
/// Reciprocal-rank constant.
const RRF_K: f32 = 60.0;
const BM25_K1: f32 = 1.2;
const BM25_B: f32 = 0.75;

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The video.
    pub id: Uuid,
    /// The fused score (higher first).
    pub score: f32,
    /// Cosine similarity to the query, when it was a candidate by meaning.
    pub similarity: Option<f32>,
    /// BM25 score, when it was a candidate by words.
    pub bm25: Option<f32>,
}

/// A float that orders totally (NaN lowest), for heaps.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f32, u32);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then_with(|| other.1.cmp(&self.1))
    }
}

/// The index (see the module documentation).
#[derive(Debug, Default)]
pub struct SearchIndex {
    ids: Vec<Uuid>,
    live: Vec<bool>,
    slot_of: HashMap<Uuid, u32>,
    free: Vec<u32>,
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// Distinct terms of each slot (to take its postings out again).
    slot_terms: Vec<Box<[u32]>>,
    lens: Vec<u32>,
    term_ids: HashMap<String, u32>,
    /// Per term id: (slot, term frequency).
    postings: Vec<Vec<(u32, u16)>>,
    total_len: u64,
    live_count: usize,
    /// Least similarity for a candidate by meaning ([`MEANING_FLOOR`] unless set).
    floor: Option<f32>,
}

/// `v` as codes and the scale that brings them back (zero vector: zeros, scale 0).
fn quantise(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0.0_f32, |m, x| m.max(x.abs()));
    if max <= 0.0 || !max.is_finite() {
        return (vec![0; v.len()], 0.0);
    }
    let to_code = 127.0 / max;
    // In range by construction: |x| <= max, so |x * to_code| <= 127.
    (v.iter().map(|x| (x * to_code).round().clamp(-127.0, 127.0) as i8).collect(), max / 127.0)
}

/// Integer dot product of two code rows, in lanes of 32 the compiler turns into SIMD
/// multiply-adds (i8 products summed in i32: no overflow at 384 dimensions).
fn dot(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0_i32; 32];
    let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
    let tail: i32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
    for (x, y) in ca.zip(cb) {
        for ((l, p), q) in lanes.iter_mut().zip(x).zip(y) {
            *l += i32::from(*p) * i32::from(*q);
        }
    }
    lanes.iter().sum::<i32>() + tail
}

impl SearchIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the least similarity for a candidate by meaning (tuning; the service keeps
    /// [`MEANING_FLOOR`]).
    pub fn with_floor(mut self, floor: f32) -> Self {
        self.floor = Some(floor);
        self
    }

    /// Videos in the index.
    pub fn len(&self) -> usize {
        self.live_count
    }

    /// Whether it holds no video.
    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }

    /// Bytes held by vectors and postings (for the operator's figures).
    pub fn approx_bytes(&self) -> usize {
        self.codes.len()
            + self.scales.len() * 4
            + self.postings.iter().map(|p| p.len() * 8).sum::<usize>()
            + self.slot_terms.iter().map(|t| t.len() * 4).sum::<usize>()
    }

    /// Adds `id` with its text and unit vector (`DIM` wide), replacing what it had. A vector of
    /// another width is refused (`false`).
    pub fn insert(&mut self, id: Uuid, text: &str, vector: &[f32]) -> bool {
        if vector.len() != DIM {
            return false;
        }
        self.remove(id);
        let (codes, scale) = quantise(vector);
        let words = terms(text);
        let mut counts: HashMap<u32, u16> = HashMap::new();
        for w in &words {
            let next = u32::try_from(self.term_ids.len()).unwrap_or(u32::MAX);
            let t = *self.term_ids.entry(w.clone()).or_insert(next);
            if t as usize == self.postings.len() {
                self.postings.push(Vec::new());
            }
            let c = counts.entry(t).or_insert(0);
            *c = c.saturating_add(1);
        }
        let len = u32::try_from(words.len()).unwrap_or(u32::MAX);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let s = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
                self.ids.push(id);
                self.live.push(false);
                self.codes.extend(std::iter::repeat_n(0, DIM));
                self.scales.push(0.0);
                self.slot_terms.push(Box::new([]));
                self.lens.push(0);
                s
            }
        };
        let i = slot as usize;
        if let Some(row) = self.codes.get_mut(i * DIM..(i + 1) * DIM) {
            row.copy_from_slice(&codes);
        }
        let mut distinct: Vec<u32> = counts.keys().copied().collect();
        distinct.sort_unstable();
        for (&t, &tf) in &counts {
            if let Some(p) = self.postings.get_mut(t as usize) {
                p.push((slot, tf));
            }
        }
        if let (Some(a), Some(b), Some(c), Some(d), Some(e)) = (
            self.ids.get_mut(i),
            self.live.get_mut(i),
            self.scales.get_mut(i),
            self.slot_terms.get_mut(i),
            self.lens.get_mut(i),
        ) {
            *a = id;
            *b = true;
            *c = scale;
            *d = distinct.into_boxed_slice();
            *e = len;
        }
        self.slot_of.insert(id, slot);
        self.total_len += u64::from(len);
        self.live_count += 1;
        true
    }

    /// Takes `id` out (nothing when it is not in).
    pub fn remove(&mut self, id: Uuid) {
        let Some(slot) = self.slot_of.remove(&id) else { return };
        let i = slot as usize;
        let terms = self.slot_terms.get_mut(i).map(std::mem::take).unwrap_or_default();
        for t in terms.iter() {
            if let Some(p) = self.postings.get_mut(*t as usize) {
                p.retain(|(s, _)| *s != slot);
            }
        }
        if let Some(l) = self.live.get_mut(i) {
            *l = false;
        }
        let len = self.lens.get(i).copied().unwrap_or(0);
        self.total_len = self.total_len.saturating_sub(u64::from(len));
        self.live_count = self.live_count.saturating_sub(1);
        self.free.push(slot);
    }

    /// Up to `k` videos for a query given as text (for words) and, when there is one, its unit
    /// vector (for meaning), best first.
    pub fn search(&self, query: &str, vector: Option<&[f32]>, k: usize) -> Vec<Hit> {
        if k == 0 || self.live_count == 0 {
            return Vec::new();
        }
        let by_meaning = vector.filter(|v| v.len() == DIM).map(|v| self.by_meaning(v)).unwrap_or_default();
        let by_words = self.by_words(query);
        let mut fused: HashMap<u32, Hit> = HashMap::new();
        for (rank, (slot, sim)) in by_meaning.iter().enumerate() {
            let id = self.ids.get(*slot as usize).copied().unwrap_or_default();
            let h = fused.entry(*slot).or_insert(Hit { id, score: 0.0, similarity: None, bm25: None });
            h.score += 1.0 / (RRF_K + rank as f32 + 1.0);
            h.similarity = Some(*sim);
        }
        for (rank, (slot, bm25)) in by_words.iter().enumerate() {
            let id = self.ids.get(*slot as usize).copied().unwrap_or_default();
            let h = fused.entry(*slot).or_insert(Hit { id, score: 0.0, similarity: None, bm25: None });
            h.score += 1.0 / (RRF_K + rank as f32 + 1.0);
            h.bm25 = Some(*bm25);
        }
        let mut hits: Vec<Hit> = fused.into_values().collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| b.similarity.unwrap_or(-1.0).total_cmp(&a.similarity.unwrap_or(-1.0)))
                .then_with(|| a.id.cmp(&b.id))
        });
        hits.truncate(k);
        hits
    }

    /// The best [`CANDIDATES`] live slots by cosine similarity at or above [`MEANING_FLOOR`].
    fn by_meaning(&self, vector: &[f32]) -> Vec<(u32, f32)> {
        let floor = self.floor.unwrap_or(MEANING_FLOOR);
        let (q, q_scale) = quantise(vector);
        if q_scale == 0.0 {
            return Vec::new();
        }
        let mut heap: BinaryHeap<std::cmp::Reverse<Score>> = BinaryHeap::with_capacity(CANDIDATES + 1);
        for (slot, (row, scale)) in self.codes.chunks_exact(DIM).zip(&self.scales).enumerate() {
            if *scale == 0.0 || !self.live.get(slot).copied().unwrap_or(false) {
                continue;
            }
            let sim = dot(&q, row) as f32 * q_scale * scale;
            if sim < floor {
                continue;
            }
            let s = Score(sim, u32::try_from(slot).unwrap_or(u32::MAX));
            if heap.len() < CANDIDATES {
                heap.push(std::cmp::Reverse(s));
            } else if heap.peek().is_some_and(|min| s > min.0) {
                heap.pop();
                heap.push(std::cmp::Reverse(s));
            }
        }
        let mut out: Vec<Score> = heap.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out.into_iter().map(|s| (s.1, s.0)).collect()
    }

    /// The best [`CANDIDATES`] live slots by BM25 among those holding every term of the query
    /// (a word of the query the index has never seen leaves words out: meaning answers alone).
    fn by_words(&self, query: &str) -> Vec<(u32, f32)> {
        let mut q = terms(query);
        q.sort();
        q.dedup();
        let n = self.live_count as f32;
        let avg = if self.live_count == 0 { 1.0 } else { self.total_len as f32 / n };
        let mut scores: HashMap<u32, (f32, usize)> = HashMap::new();
        for term in &q {
            let Some(postings) = self.term_ids.get(term).and_then(|t| self.postings.get(*t as usize)) else {
                return Vec::new();
            };
            let df = postings.len() as f32;
            if df == 0.0 {
                return Vec::new();
            }
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for &(slot, tf) in postings {
                let len = self.lens.get(slot as usize).copied().unwrap_or(0) as f32;
                let tf = f32::from(tf);
                let part = idf * tf * (BM25_K1 + 1.0) / (tf + BM25_K1 * (1.0 - BM25_B + BM25_B * len / avg.max(1.0)));
                let e = scores.entry(slot).or_insert((0.0, 0));
                e.0 += part;
                e.1 += 1;
            }
        }
        let mut out: Vec<(u32, f32)> = scores
            .into_iter()
            .filter(|(_, (_, matched))| *matched == q.len())
            .map(|(s, (score, _))| (s, score))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(CANDIDATES);
        out
    }
}

/// A vector as stored: `DIM` little-endian `f32`.
pub fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector back (`None` when the bytes are not `DIM` floats).
pub fn vector_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.len() != DIM * 4 {
        return None;
    }
    bytes.chunks_exact(4).map(|c| <[u8; 4]>::try_from(c).ok().map(f32::from_le_bytes)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn unit(seed: u32) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIM)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) % 1000) as f32 - 500.0)
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    #[test]
    fn words_and_meaning_fuse_and_replace_and_remove() {
        let mut idx = SearchIndex::new();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert!(idx.insert(a, "a chef plating pasta", &unit(1)));
        assert!(idx.insert(b, "a dog surfing a wave", &unit(2)));
        assert!(idx.insert(c, "pasta party with a dog", &unit(3)));
        assert!(!idx.insert(Uuid::new_v4(), "short", &[0.5; 3]));
        assert_eq!(idx.len(), 3);
        // Words only (no vector): both pasta videos, the one where it weighs more first.
        let hits = idx.search("pasta", None, 10);
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>().len(), 2);
        assert!(hits.iter().all(|h| h.bm25.is_some() && h.similarity.is_none()));
        // Meaning: the query's own vector finds its video first; a word match adds to it.
        let hits = idx.search("dog", Some(&unit(2)), 10);
        assert_eq!(hits[0].id, b);
        assert!(hits[0].similarity.unwrap() > 0.99, "{hits:?}");
        assert!(hits[0].bm25.is_some());
        // Replace: b's text changes, its old words go.
        idx.insert(b, "a cat on a sofa", &unit(2));
        assert_eq!(idx.len(), 3);
        assert!(idx.search("surfing", None, 10).is_empty());
        assert_eq!(idx.search("sofa", None, 10)[0].id, b);
        idx.remove(b);
        idx.remove(b);
        assert_eq!(idx.len(), 2);
        assert!(idx.search("sofa", Some(&unit(2)), 10).iter().all(|h| h.id != b));
        // A freed slot is reused.
        let d = Uuid::new_v4();
        idx.insert(d, "a red kite", &unit(4));
        assert_eq!(idx.ids.len(), 3);
        assert_eq!(idx.search("kites", None, 1)[0].id, d);
    }

    #[test]
    fn quantised_similarity_is_close_to_the_exact_one() {
        let (a, b) = (unit(7), unit(8));
        let exact: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let (qa, sa) = quantise(&a);
        let (qb, sb) = quantise(&b);
        let approx = dot(&qa, &qb) as f32 * sa * sb;
        assert!((exact - approx).abs() < 0.01, "{exact} vs {approx}");
        assert_eq!(vector_from_bytes(&vector_bytes(&a)).unwrap(), a);
        assert!(vector_from_bytes(&[0; 7]).is_none());
    }
}
