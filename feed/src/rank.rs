//! Candidate scoring, ranking and author diversity for the FOR_YOU and
//! TRENDING feeds.
//!
//! This module is pure: it orders the candidates it is given and never looks
//! anything up. Its invariants: every score is finite (counts are clamped to
//! zero, divisions are guarded, future timestamps count as age zero), ranking
//! is deterministic (ties are broken by video id), and a ranked list never
//! shows one author twice within [`Weights::diversity_window`] consecutive
//! items.
//!
//! # The FOR_YOU score
//!
//! With counts clamped to `>= 0`:
//!
//! ```text
//! rate        = (likes + 2·comments + 3·remixes + ENGAGEMENT_PRIOR_ACTIONS) / (views + ENGAGEMENT_PRIOR_VIEWS)
//! e           = rate / (rate + ENGAGEMENT_HALF_RATE)                        ∈ [0, 1)
//! raw_c       = clamp(watch_ms_total / (views · duration_ms), 0, 1)         (COMPLETION_PRIOR when views or duration is 0)
//! c           = (raw_c · views + COMPLETION_PRIOR · COMPLETION_PRIOR_VIEWS) / (views + COMPLETION_PRIOR_VIEWS)
//! a           = min(ln(1 + affinity[author]), AFFINITY_CAP) / AFFINITY_CAP ∈ [0, 1]
//! p           = Preferences::score(topics) / 3                              ∈ [-1, 1]
//! bonus       = Σ w.<source> for each source pool the video came from (followed, remix_of_liked, cameo_network, fresh)
//! decay       = 0.5 ^ (max(age_hours, 0) / w.half_life_hours)
//! score       = decay · exp(w.preference · p) · (w.engagement·e + w.completion·c + w.affinity·a + bonus + SCORE_FLOOR)
//! ```
//!
//! The preference acts as a multiplier so that it moves a video up or down
//! by the same factor whatever its age; the floor keeps every score positive
//! so that recency still orders videos with no signal at all.
//!
//! # The TRENDING score
//!
//! ```text
//! trending = (likes + 2·comments + 3·remixes + 0.1·views·completion + 1) / (max(age_hours, 0) + 2)^1.5
//! ```

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::topics::{Preferences, SCORE_BOUND};

/// Smoothing: engagement actions added to every video (prior rate = 1/20).
pub const ENGAGEMENT_PRIOR_ACTIONS: f64 = 1.0;
/// Smoothing: views added to every video.
pub const ENGAGEMENT_PRIOR_VIEWS: f64 = 20.0;
/// The engagement rate at which the engagement term is one half.
pub const ENGAGEMENT_HALF_RATE: f64 = 0.1;
/// The completion assumed for a video nobody has watched.
pub const COMPLETION_PRIOR: f64 = 0.5;
/// How many views' worth of weight the completion prior carries.
pub const COMPLETION_PRIOR_VIEWS: f64 = 10.0;
/// The cap of `ln(1 + affinity)`; affinity is normalised by it.
pub const AFFINITY_CAP: f64 = 5.0;
/// Added to every FOR_YOU score before decay, so scores stay positive.
pub const SCORE_FLOOR: f64 = 0.01;
/// The diversity window of TRENDING.
pub const TRENDING_DIVERSITY_WINDOW: usize = 5;

/// A video that may be ranked, with its counters and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The video.
    pub id: Uuid,
    /// Its author.
    pub author: Uuid,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// Like count.
    pub likes: i64,
    /// Comment count.
    pub comments: i64,
    /// View count.
    pub views: i64,
    /// How many remixes were made of it.
    pub remixes: i64,
    /// Total watch time over all views, in milliseconds.
    pub watch_ms_total: i64,
    /// The video's duration in milliseconds.
    pub duration_ms: i64,
    /// Its topics ([`crate::topics::topics_of`] of its prompt), shared: a video's prompt never
    /// changes, so callers compute them once per video.
    pub topics: std::sync::Arc<[String]>,
    /// The candidate pools it came from.
    pub sources: Sources,
}

/// Bit set of the candidate pools a video came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sources(pub u8);

impl Sources {
    /// No pool.
    pub const NONE: Sources = Sources(0);
    /// Posted by someone the viewer follows.
    pub const FOLLOWED: Sources = Sources(1);
    /// Globally trending.
    pub const TRENDING: Sources = Sources(1 << 1);
    /// A remix of a video the viewer liked.
    pub const REMIX_OF_LIKED: Sources = Sources(1 << 2);
    /// Features a cameo of someone in the viewer's network.
    pub const CAMEO_NETWORK: Sources = Sources(1 << 3);
    /// Recently published (exploration pool).
    pub const FRESH: Sources = Sources(1 << 4);

    /// Whether every bit of `o` is set in `self`.
    pub fn contains(self, o: Sources) -> bool {
        self.0 & o.0 == o.0
    }

    /// The pools of both.
    pub fn union(self, o: Sources) -> Sources {
        Sources(self.0 | o.0)
    }
}

/// The viewer a FOR_YOU feed is ranked for.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The viewer's user id; their own videos are never ranked.
    pub id: Uuid,
    /// The ranking time.
    pub now: DateTime<Utc>,
    /// Author → raw count of the viewer's engagement with them (likes, views,
    /// follows); normalised here with `ln(1 + x)`.
    pub affinity: HashMap<Uuid, f32>,
    /// The viewer's topic preferences.
    pub preferences: Preferences,
    /// Videos the viewer watched recently: never ranked.
    pub seen: HashSet<Uuid>,
    /// Authors blocked either way: never ranked.
    pub blocked: HashSet<Uuid>,
}

/// The weights of the FOR_YOU score (see the module docs for the formula).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// Weight of the smoothed engagement rate (default 1.0).
    pub engagement: f64,
    /// Weight of the smoothed watch-time completion (default 0.6).
    pub completion: f64,
    /// Weight of the viewer's affinity with the author (default 0.8).
    pub affinity: f64,
    /// Exponent weight of the preference multiplier (default 2.0: a video
    /// matching ±1 preference point is scaled by e^±0.67 ≈ 1.95 or 0.51, one
    /// matching ±3 points by e^±2 ≈ 7.4 or 0.14 — a stated preference is the
    /// strongest signal a member gives).
    pub preference: f64,
    /// Bonus when the viewer follows the author (default 0.5).
    pub followed: f64,
    /// Bonus for remixes of videos the viewer liked (default 0.3).
    pub remix_of_liked: f64,
    /// Bonus for cameos from the viewer's network (default 0.25).
    pub cameo_network: f64,
    /// Bonus for the fresh exploration pool (default 0.15).
    pub fresh: f64,
    /// Recency half-life in hours (default 36).
    pub half_life_hours: f64,
    /// No author twice within this many consecutive items (default 5).
    pub diversity_window: usize,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            engagement: 1.0,
            completion: 0.6,
            affinity: 0.8,
            preference: 2.0,
            followed: 0.5,
            remix_of_liked: 0.3,
            cameo_network: 0.25,
            fresh: 0.15,
            half_life_hours: 36.0,
            diversity_window: 5,
        }
    }
}

/// A ranked video.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// The video.
    pub id: Uuid,
    /// Its author.
    pub author: Uuid,
    /// Its score (finite; higher ranks first).
    pub score: f64,
}

/// A finite number or zero.
fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A count as a non-negative float.
fn count(x: i64) -> f64 {
    x.max(0) as f64
}

/// Age in hours at `now`, zero for future timestamps.
fn age_hours(published_at: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let ms = now.signed_duration_since(published_at).num_milliseconds();
    (ms.max(0) as f64) / 3_600_000.0
}

/// Raw watch-time completion in [0, 1], or `None` without views or duration.
fn raw_completion(c: &Candidate) -> Option<f64> {
    let views = count(c.views);
    let duration = count(c.duration_ms);
    if views <= 0.0 || duration <= 0.0 {
        return None;
    }
    let r = count(c.watch_ms_total) / (views * duration);
    r.is_finite().then(|| r.clamp(0.0, 1.0))
}

/// The FOR_YOU score of one candidate for one viewer (see the module docs).
/// Always finite.
pub fn score(c: &Candidate, v: &Viewer, w: &Weights) -> f64 {
    let views = count(c.views);
    let actions = count(c.likes) + 2.0 * count(c.comments) + 3.0 * count(c.remixes);
    let rate = (actions + ENGAGEMENT_PRIOR_ACTIONS) / (views + ENGAGEMENT_PRIOR_VIEWS);
    let e = finite_or_zero(rate / (rate + ENGAGEMENT_HALF_RATE));

    let completion = match raw_completion(c) {
        Some(raw) => (raw * views + COMPLETION_PRIOR * COMPLETION_PRIOR_VIEWS) / (views + COMPLETION_PRIOR_VIEWS),
        None => COMPLETION_PRIOR,
    };

    let raw_affinity = v.affinity.get(&c.author).copied().unwrap_or(0.0);
    let raw_affinity = if raw_affinity.is_finite() { f64::from(raw_affinity.max(0.0)) } else { 0.0 };
    let a = raw_affinity.ln_1p().min(AFFINITY_CAP) / AFFINITY_CAP;

    let p = f64::from(v.preferences.score(&c.topics)) / f64::from(SCORE_BOUND);

    let mut bonus = 0.0;
    for (source, weight) in [
        (Sources::FOLLOWED, w.followed),
        (Sources::REMIX_OF_LIKED, w.remix_of_liked),
        (Sources::CAMEO_NETWORK, w.cameo_network),
        (Sources::FRESH, w.fresh),
    ] {
        if c.sources.contains(source) {
            bonus += finite_or_zero(weight);
        }
    }

    let decay = if w.half_life_hours.is_finite() && w.half_life_hours > 0.0 {
        0.5_f64.powf(age_hours(c.published_at, v.now) / w.half_life_hours)
    } else {
        1.0
    };
    let base = finite_or_zero(w.engagement) * e
        + finite_or_zero(w.completion) * completion
        + finite_or_zero(w.affinity) * a
        + bonus
        + SCORE_FLOOR;
    let multiplier = (finite_or_zero(w.preference) * p).clamp(-50.0, 50.0).exp();
    finite_or_zero(decay * multiplier * base)
}

/// Merges duplicate ids (union of sources, first copy's data), keeping order.
fn dedupe(cands: Vec<Candidate>) -> Vec<Candidate> {
    let mut index: HashMap<Uuid, usize> = HashMap::with_capacity(cands.len());
    let mut out: Vec<Candidate> = Vec::with_capacity(cands.len());
    for c in cands {
        match index.get(&c.id) {
            Some(&i) => {
                if let Some(first) = out.get_mut(i) {
                    first.sources = first.sources.union(c.sources);
                }
            }
            None => {
                index.insert(c.id, out.len());
                out.push(c);
            }
        }
    }
    out
}

/// Descending by score, then ascending by id.
fn by_score_desc(a: &Scored, b: &Scored) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id))
}

/// Ranks FOR_YOU candidates: merges duplicate ids (union of their sources,
/// the first copy's data), drops seen videos, blocked authors and the
/// viewer's own videos, scores, sorts descending (ties by id), applies
/// [`diversify`] with `w.diversity_window`, and keeps the first `limit`.
pub fn rank_for_you(cands: Vec<Candidate>, v: &Viewer, w: &Weights, limit: usize) -> Vec<Scored> {
    let mut scored: Vec<Scored> = dedupe(cands)
        .into_iter()
        .filter(|c| !v.seen.contains(&c.id) && !v.blocked.contains(&c.author) && c.author != v.id)
        .map(|c| Scored { id: c.id, author: c.author, score: score(&c, v, w) })
        .collect();
    scored.sort_by(by_score_desc);
    let mut out = diversify(scored, w.diversity_window);
    out.truncate(limit);
    out
}

/// The global TRENDING score: time-decayed engagement (see the module docs).
/// Always finite and positive.
pub fn trending_score(c: &Candidate, now: DateTime<Utc>) -> f64 {
    let completion = raw_completion(c).unwrap_or(0.0);
    let numerator =
        count(c.likes) + 2.0 * count(c.comments) + 3.0 * count(c.remixes) + 0.1 * count(c.views) * completion + 1.0;
    let denominator = (age_hours(c.published_at, now) + 2.0).powf(1.5);
    finite_or_zero(numerator / denominator)
}

/// Ranks TRENDING candidates: merges duplicate ids, scores with
/// [`trending_score`], sorts descending (ties by id), diversifies with a
/// window of [`TRENDING_DIVERSITY_WINDOW`], and keeps the first `limit`.
pub fn rank_trending(cands: Vec<Candidate>, now: DateTime<Utc>, limit: usize) -> Vec<Scored> {
    let mut scored: Vec<Scored> = dedupe(cands)
        .into_iter()
        .map(|c| Scored { id: c.id, author: c.author, score: trending_score(&c, now) })
        .collect();
    scored.sort_by(by_score_desc);
    let mut out = diversify(scored, TRENDING_DIVERSITY_WINDOW);
    out.truncate(limit);
    out
}

/// Greedy author-diversity re-rank of a list sorted best first.
///
/// Repeatedly takes the highest-ranked remaining item whose author is not
/// among the last `window - 1` items taken, so no author appears twice within
/// any `window` consecutive items. The rule is strict: when no remaining item
/// qualifies (only recently shown authors are left), the rest are dropped.
/// A window of 0 or 1 returns the list unchanged.
///
/// Runs in O(n · window): items skipped because their author is recent wait
/// in per-author queues, and at most `window` authors wait at any time.
pub fn diversify(ranked: Vec<Scored>, window: usize) -> Vec<Scored> {
    if window <= 1 {
        return ranked;
    }
    let recent_len = window - 1;
    let mut out: Vec<Scored> = Vec::with_capacity(ranked.len());
    let mut recent: VecDeque<Uuid> = VecDeque::with_capacity(recent_len + 1);
    // Per-author queues of deferred items, each in rank order, with their rank.
    let mut deferred: Vec<(Uuid, VecDeque<(usize, Scored)>)> = Vec::new();
    let mut input = ranked.into_iter().enumerate();

    loop {
        // The best deferred item whose author is no longer recent.
        let best = deferred
            .iter()
            .enumerate()
            .filter(|(_, (author, _))| !recent.contains(author))
            .filter_map(|(gi, (_, q))| q.front().map(|(rank, _)| (*rank, gi)))
            .min();
        let taken = if let Some((_, gi)) = best {
            let item = deferred.get_mut(gi).and_then(|(_, q)| q.pop_front()).map(|(_, s)| s);
            if deferred.get(gi).is_some_and(|(_, q)| q.is_empty()) {
                deferred.swap_remove(gi);
            }
            item
        } else {
            let mut found = None;
            for (rank, item) in input.by_ref() {
                if recent.contains(&item.author) {
                    match deferred.iter_mut().find(|(a, _)| *a == item.author) {
                        Some((_, q)) => q.push_back((rank, item)),
                        None => deferred.push((item.author, VecDeque::from([(rank, item)]))),
                    }
                } else {
                    found = Some(item);
                    break;
                }
            }
            found
        };
        let Some(item) = taken else { break };
        recent.push_back(item.author);
        if recent.len() > recent_len {
            recent.pop_front();
        }
        out.push(item);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use chrono::Duration;

    /// xorshift64* PRNG, deterministic.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn cand(n: u128, author: u128) -> Candidate {
        Candidate {
            id: id(n),
            author: id(author),
            published_at: now() - Duration::hours(1),
            likes: 10,
            comments: 2,
            views: 100,
            remixes: 0,
            watch_ms_total: 100 * 5_000,
            duration_ms: 10_000,
            topics: std::sync::Arc::default(),
            sources: Sources::TRENDING,
        }
    }

    fn viewer() -> Viewer {
        Viewer {
            id: id(999_999),
            now: now(),
            affinity: HashMap::new(),
            preferences: Preferences::default(),
            seen: HashSet::new(),
            blocked: HashSet::new(),
        }
    }

    fn assert_diverse(list: &[Scored], window: usize) {
        for (i, a) in list.iter().enumerate() {
            for b in list.iter().skip(i + 1).take(window - 1) {
                assert_ne!(a.author, b.author, "author repeated within {window}");
            }
        }
    }

    #[test]
    fn sources_bits() {
        let s = Sources::FOLLOWED.union(Sources::FRESH);
        assert!(s.contains(Sources::FOLLOWED));
        assert!(s.contains(Sources::FRESH));
        assert!(!s.contains(Sources::TRENDING));
        assert!(s.contains(Sources::NONE));
    }

    #[test]
    fn diversity_random_inputs() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..300 {
            let n = rng.below(200) as usize;
            let authors = 1 + rng.below(12);
            let window = [2, 3, 5, 7][round % 4];
            let mut list: Vec<Scored> = (0..n)
                .map(|i| Scored {
                    id: id(i as u128),
                    author: id(1000 + u128::from(rng.below(authors))),
                    score: (rng.below(1000) as f64) / 10.0,
                })
                .collect();
            list.sort_by(by_score_desc);
            let out = diversify(list.clone(), window);
            assert_diverse(&out, window);
            // Matches the naive greedy definition.
            let mut rest = list.clone();
            let mut naive: Vec<Scored> = Vec::new();
            loop {
                let recent: Vec<Uuid> = naive.iter().rev().take(window - 1).map(|s| s.author).collect();
                let Some(pos) = rest.iter().position(|s| !recent.contains(&s.author)) else {
                    break;
                };
                naive.push(rest.remove(pos));
            }
            assert_eq!(out, naive, "round {round}");
        }
    }

    #[test]
    fn diversity_large_single_author_is_fast() {
        let mut list: Vec<Scored> = (0..20_000).map(|i| Scored { id: id(i), author: id(1), score: 1.0 }).collect();
        list.push(Scored { id: id(50_000), author: id(2), score: 0.5 });
        let start = std::time::Instant::now();
        let out = diversify(list, 5);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(out.len(), 2, "strict rule drops what cannot be placed");
    }

    #[test]
    fn filters_seen_blocked_own_and_merges_duplicates() {
        let mut v = viewer();
        v.seen.insert(id(1));
        v.blocked.insert(id(102));
        let mut dup = cand(4, 104);
        dup.sources = Sources::FOLLOWED;
        dup.likes = 0;
        let cands = vec![cand(1, 101), cand(2, 102), cand(3, 999_999), cand(4, 104), dup, cand(5, 105)];
        let out = rank_for_you(cands, &v, &Weights::default(), 10);
        let ids: Vec<Uuid> = out.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&id(4)) && ids.contains(&id(5)));
        // The duplicate's FOLLOWED bonus was merged in, its counts were not.
        assert_eq!(ids[0], id(4));
        let mut merged = cand(4, 104);
        merged.sources = Sources::TRENDING.union(Sources::FOLLOWED);
        assert_eq!(out[0].score, score(&merged, &v, &Weights::default()));
    }

    #[test]
    fn recency_decay_orders() {
        let v = viewer();
        let mut old = cand(1, 101);
        old.published_at = now() - Duration::hours(72);
        let mid = {
            let mut c = cand(2, 102);
            c.published_at = now() - Duration::hours(20);
            c
        };
        let new = cand(3, 103);
        let out = rank_for_you(vec![old, mid, new], &v, &Weights::default(), 10);
        let ids: Vec<Uuid> = out.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![id(3), id(2), id(1)]);
        // One half-life halves the score.
        let mut a = cand(9, 109);
        a.published_at = now();
        let mut b = a.clone();
        b.published_at = now() - Duration::hours(36);
        let r = score(&b, &v, &Weights::default()) / score(&a, &v, &Weights::default());
        assert!((r - 0.5).abs() < 1e-9);
    }

    #[test]
    fn engagement_orders() {
        let v = viewer();
        let mut low = cand(1, 101);
        low.likes = 1;
        low.comments = 0;
        let mut high = cand(2, 102);
        high.likes = 50;
        high.comments = 10;
        high.remixes = 5;
        let mut none = cand(3, 103);
        none.likes = 0;
        none.comments = 0;
        none.views = 1000;
        let out = rank_for_you(vec![low, none, high], &v, &Weights::default(), 10);
        let ids: Vec<Uuid> = out.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![id(2), id(1), id(3)]);
        // Better completion ranks higher with equal engagement.
        let mut watched = cand(4, 104);
        watched.watch_ms_total = 100 * 10_000;
        assert!(score(&watched, &v, &Weights::default()) > score(&cand(5, 105), &v, &Weights::default()));
    }

    #[test]
    fn affinity_and_sources_boost() {
        let mut v = viewer();
        let base = score(&cand(1, 101), &v, &Weights::default());
        v.affinity.insert(id(101), 20.0);
        assert!(score(&cand(1, 101), &v, &Weights::default()) > base);
        v.affinity.insert(id(101), f32::NAN);
        assert_eq!(score(&cand(1, 101), &v, &Weights::default()), base);
        let mut f = cand(1, 101);
        f.sources = Sources::FOLLOWED;
        v.affinity.clear();
        assert!(score(&f, &v, &Weights::default()) > base);
    }

    #[test]
    fn preferences_change_order() {
        let mut v = viewer();
        let mut prank = cand(1, 101);
        prank.likes = 30;
        prank.topics = crate::topics::topics_of("a prank on my roommate").into();
        let mut cooking = cand(2, 102);
        cooking.topics = crate::topics::topics_of("a chef cooking pasta").into();
        let out = rank_for_you(vec![prank.clone(), cooking.clone()], &v, &Weights::default(), 10);
        assert_eq!(out[0].id, id(1));
        v.preferences = Preferences::parse("more cooking, fewer pranks").unwrap();
        let out = rank_for_you(vec![prank, cooking], &v, &Weights::default(), 10);
        assert_eq!(out[0].id, id(2));
    }

    #[test]
    fn never_nan() {
        let v = viewer();
        let mut weird = Weights::default();
        for c in [
            Candidate { views: 0, duration_ms: 0, watch_ms_total: 0, ..cand(1, 101) },
            Candidate {
                views: -5,
                likes: -3,
                comments: -1,
                remixes: -9,
                duration_ms: -10,
                watch_ms_total: -1,
                ..cand(2, 102)
            },
            Candidate { published_at: now() + Duration::days(30), ..cand(3, 103) },
            Candidate {
                views: i64::MAX,
                duration_ms: i64::MAX,
                watch_ms_total: i64::MAX,
                likes: i64::MAX,
                ..cand(4, 104)
            },
            Candidate { published_at: DateTime::<Utc>::MIN_UTC, ..cand(5, 105) },
        ] {
            for w in [&Weights::default(), &weird] {
                let s = score(&c, &v, w);
                assert!(s.is_finite() && s >= 0.0, "{s} for {c:?}");
            }
            let t = trending_score(&c, now());
            assert!(t.is_finite() && t >= 0.0, "{t}");
            weird =
                Weights { half_life_hours: 0.0, preference: f64::NAN, engagement: f64::INFINITY, ..Weights::default() };
        }
        // Future dates count as brand new.
        let future = Candidate { published_at: now() + Duration::days(30), ..cand(3, 103) };
        let fresh = Candidate { published_at: now(), ..cand(3, 103) };
        assert_eq!(score(&future, &v, &Weights::default()), score(&fresh, &v, &Weights::default()));
    }

    #[test]
    fn trending_orders_by_age_and_engagement() {
        let mut old = cand(1, 101);
        old.published_at = now() - Duration::hours(48);
        old.likes = 1000;
        let mut new = cand(2, 102);
        new.likes = 1000;
        new.published_at = now() - Duration::hours(2);
        let mut newest_empty = cand(3, 103);
        newest_empty.published_at = now();
        newest_empty.likes = 0;
        newest_empty.comments = 0;
        newest_empty.views = 0;
        let out = rank_trending(vec![old.clone(), newest_empty, new.clone(), old.clone()], now(), 10);
        let ids: Vec<Uuid> = out.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![id(2), id(1), id(3)]);
        // The formula.
        let c = cand(7, 107);
        let mut same_but_older = c.clone();
        same_but_older.published_at = now() - Duration::hours(30);
        assert!(trending_score(&same_but_older, now()) < trending_score(&c, now()));
        let expected = (10.0 + 4.0 + 0.0 + 0.1 * 100.0 * 0.5 + 1.0) / (1.0_f64 + 2.0).powf(1.5);
        assert!((trending_score(&c, now()) - expected).abs() < 1e-9);
        assert_eq!(rank_trending(vec![old, new], now(), 1).len(), 1);
    }

    #[test]
    fn ties_are_deterministic_and_diverse() {
        let v = viewer();
        let cands: Vec<Candidate> = (0..40).map(|i| cand(i, 100 + (i % 3))).collect();
        let a = rank_for_you(cands.clone(), &v, &Weights { diversity_window: 3, ..Weights::default() }, 100);
        let mut rev = cands;
        rev.reverse();
        let b = rank_for_you(rev, &v, &Weights { diversity_window: 3, ..Weights::default() }, 100);
        assert_eq!(a, b);
        assert_eq!(a.len(), 40);
        assert_diverse(&a, 3);
        assert_eq!(a[0].id, id(0));
    }
}
