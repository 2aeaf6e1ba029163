//! Whole responses of feed-only GraphQL operations, kept per viewer and request body under the
//! feed epochs (`domain::feed::epoch_names`), so a repeated feed query is answered without
//! executing it.
//!
//! Invariant: a cached body is served only while the epochs it was stamped with are still the
//! current ones, its page time has not passed, and the caller's session is not revoked. With Redis,
//! one round trip reads the body, the epochs and the session's revocation marker together — or
//! none: an API node's [`Mirror`] (`reconnect::changes`) holds the epochs, the sessions' states and the
//! responses this node served, kept current by the change channel (a change is applied on every
//! node before the request that made it answers; the staleness bound is in `reconnect::changes`), and a
//! response whose stamp matches the mirror is served from memory. This is an HTTP concern (bytes
//! of a response), so it lives in the server, not in the domain.

use domain::feed::cache_err;
use std::sync::Arc;
use std::time::Duration;

use app_core::error::AppResult;
use app_core::types::{SessionId, UserId};
use feed::cache::FeedCache;
use kv::KeyValue;
use reconnect::changes::Mirror;

/// The response cache.
#[derive(Clone)]
pub struct FeedResponses {
    cache: FeedCache,
    kv: KeyValue,
    ttl: Duration,
    mirror: Option<Mirror>,
}

/// Where a hit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This node's memory (no round trip).
    Memory,
    /// The shared cache.
    Shared,
}

/// What a look-up of a cached response found.
pub struct ResponseProbe {
    /// The response body, when a valid one was cached, and where it was found.
    pub hit: Option<(Vec<u8>, Source)>,
    /// The epochs now (a response computed next is stamped with them).
    pub epochs: Vec<u64>,
    /// Whether the session was revoked (the full path then refuses the token).
    pub revoked: bool,
}

fn response_key(viewer: UserId, digest: &str) -> String {
    format!("resp:{}:{digest}", viewer.0.simple())
}

/// The flag on a stamp's first byte that says a creation time follows the count of epochs.
const TIMED: u8 = 0x80;

/// Splits a stamped response into its epochs, its creation time (Unix milliseconds) and its body.
fn split_stamped(bytes: &[u8]) -> Option<(Vec<u64>, u64, &[u8])> {
    let (&first, rest) = bytes.split_first()?;
    if first & TIMED == 0 {
        return None;
    }
    let n = usize::from(first & !TIMED);
    let head = rest.get(..(n + 1) * 8)?;
    let mut words =
        head.chunks_exact(8).map(|c| c.try_into().map(u64::from_le_bytes)).collect::<Result<Vec<_>, _>>().ok()?;
    let created = words.pop()?;
    Some((words, created, rest.get((n + 1) * 8..)?))
}

/// A body prefixed with the epochs it was computed under and when.
fn stamp(epochs: &[u64], created_ms: u64, body: &[u8]) -> Vec<u8> {
    let mut stamped = Vec::with_capacity(1 + (epochs.len() + 1) * 8 + body.len());
    stamped.push(u8::try_from(epochs.len()).unwrap_or(0x7f).min(0x7f) | TIMED);
    for e in epochs {
        stamped.extend_from_slice(&e.to_le_bytes());
    }
    stamped.extend_from_slice(&created_ms.to_le_bytes());
    stamped.extend_from_slice(body);
    stamped
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

impl FeedResponses {
    /// Responses kept in `cache` for `ttl` (zero: never), checked against revocations in `kv`,
    /// and served from `mirror` while it is live.
    pub fn new(cache: FeedCache, kv: KeyValue, ttl: Duration, mirror: Option<Mirror>) -> Self {
        Self { cache, kv, ttl, mirror }
    }

    /// Whether whole responses may be reused at all (the page cache is on).
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Whether a response stamped at `created` is still within its page time.
    fn fresh(&self, created: u64) -> bool {
        let ttl = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        now_ms() < created.saturating_add(ttl)
    }

    /// From memory: the response, if the mirror is live, knows every epoch and the session, and
    /// the stamp matches. `None` means "ask the shared cache".
    fn in_memory(&self, key: &str, names: &[String], session: &str) -> Option<ResponseProbe> {
        let m = self.mirror.as_ref().filter(|m| m.live())?;
        let epochs = names.iter().map(|n| m.epoch(n)).collect::<Option<Vec<u64>>>()?;
        match m.session(session)? {
            false => Some(ResponseProbe { hit: None, epochs, revoked: true }),
            true => {
                let bytes = m.response(key)?;
                let (stamped, created, body) = split_stamped(&bytes)?;
                (stamped == epochs && self.fresh(created)).then(|| ResponseProbe {
                    hit: Some((body.to_vec(), Source::Memory)),
                    epochs,
                    revoked: false,
                })
            }
        }
    }

    /// The response to a feed-only operation (`digest` of its exact body) that this viewer was
    /// served recently, if it is still valid: same epochs, within its page time, session not
    /// revoked.
    pub async fn probe(&self, viewer: UserId, session: SessionId, digest: &str) -> AppResult<ResponseProbe> {
        let key = response_key(viewer, digest);
        let names = domain::feed::epoch_names(viewer);
        let session_name = session.to_string();
        if let Some(p) = self.in_memory(&key, &names, &session_name) {
            return Ok(p);
        }
        let ticket = self.mirror.as_ref().map(Mirror::before_fill);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let foreign: Vec<String> = self.kv.revocation_key(session).into_iter().collect();
        let (value, epochs, flags) =
            self.cache.get_with_epochs_and_flags(&key, &refs, &foreign).await.map_err(cache_err)?;
        let revoked = if foreign.is_empty() { self.kv.is_revoked(session).await? } else { flags.iter().any(|f| *f) };
        if let (Some(m), Some(t)) = (&self.mirror, ticket) {
            let pairs: Vec<(&str, u64)> = refs.iter().copied().zip(epochs.iter().copied()).collect();
            m.fill(t, &pairs, &session_name, revoked);
        }
        let hit = value.and_then(|bytes| {
            let (stored, created, body) = split_stamped(&bytes)?;
            if stored != epochs || revoked || !self.fresh(created) {
                return None;
            }
            let body = body.to_vec();
            if let (Some(m), Some(t)) = (&self.mirror, ticket) {
                m.keep_response(t, key.clone(), Arc::from(bytes));
            }
            Some((body, Source::Shared))
        });
        Ok(ResponseProbe { hit, epochs, revoked })
    }

    /// Keeps a feed-only response for the page lifetime, stamped with the epochs read before it
    /// was computed (a change made meanwhile bumped them, so it is never served stale), in the
    /// shared cache and this node's memory.
    pub async fn store(&self, viewer: UserId, digest: &str, epochs: &[u64], body: &[u8]) -> AppResult<()> {
        let key = response_key(viewer, digest);
        let ticket = self.mirror.as_ref().map(Mirror::before_fill);
        let stamped = stamp(epochs, now_ms(), body);
        self.cache.set(&key, &stamped, self.ttl).await.map_err(cache_err)?;
        if let (Some(m), Some(t)) = (&self.mirror, ticket) {
            m.keep_response(t, key, Arc::from(stamped));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_bodies_round_trip() {
        let s = stamp(&[3, 7], 1234, b"{\"data\":1}");
        let (epochs, created, body) = split_stamped(&s).unwrap();
        assert_eq!((epochs, created), (vec![3, 7], 1234));
        assert_eq!(body, b"{\"data\":1}");
        assert!(split_stamped(&[TIMED | 2, 1, 2]).is_none(), "a truncated stamp is refused");
        assert!(split_stamped(&[2, 0, 0, 0, 0, 0, 0, 0, 0]).is_none(), "an untimed stamp (older nodes) is a miss");
    }
}
