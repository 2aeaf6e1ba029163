//! Whole responses of feed-only GraphQL operations, kept per viewer and request body under the
//! feed epochs (`domain::feed::epoch_names`), so a repeated feed query is answered without
//! executing it.
//!
//! Invariant: a cached body is served only while the epochs it was stamped with are still the
//! current ones and the caller's session is not revoked; one round trip to Redis reads the body,
//! the epochs and the session's revocation marker together. This is an HTTP concern (bytes of a
//! response), so it lives in the server, not in the domain.

use domain::feed::cache_err;
use std::time::Duration;

use app_core::error::AppResult;
use app_core::types::{SessionId, UserId};
use feed::cache::FeedCache;
use kv::KeyValue;

/// The response cache.
#[derive(Clone)]
pub struct FeedResponses {
    cache: FeedCache,
    kv: KeyValue,
    ttl: Duration,
}

/// What a look-up of a cached response found.
pub struct ResponseProbe {
    /// The response body, when a valid one was cached.
    pub hit: Option<Vec<u8>>,
    /// The epochs now (a response computed next is stamped with them).
    pub epochs: Vec<u64>,
    /// Whether the session was revoked (the full path then refuses the token).
    pub revoked: bool,
}

fn response_key(viewer: UserId, digest: &str) -> String {
    format!("resp:{}:{digest}", viewer.0.simple())
}

/// Splits a stamped response into its epochs and its body.
fn split_stamped(bytes: &[u8]) -> Option<(Vec<u64>, &[u8])> {
    let (&n, rest) = bytes.split_first()?;
    let n = usize::from(n);
    let head = rest.get(..n * 8)?;
    let epochs =
        head.chunks_exact(8).map(|c| c.try_into().map(u64::from_le_bytes)).collect::<Result<Vec<_>, _>>().ok()?;
    Some((epochs, rest.get(n * 8..)?))
}

/// A body prefixed with the epochs it was computed under.
fn stamp(epochs: &[u64], body: &[u8]) -> Vec<u8> {
    let mut stamped = Vec::with_capacity(1 + epochs.len() * 8 + body.len());
    stamped.push(u8::try_from(epochs.len()).unwrap_or(u8::MAX));
    for e in epochs {
        stamped.extend_from_slice(&e.to_le_bytes());
    }
    stamped.extend_from_slice(body);
    stamped
}

impl FeedResponses {
    /// Responses kept in `cache` for `ttl` (zero: never), checked against revocations in `kv`.
    pub fn new(cache: FeedCache, kv: KeyValue, ttl: Duration) -> Self {
        Self { cache, kv, ttl }
    }

    /// Whether whole responses may be reused at all (the page cache is on).
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The response to a feed-only operation (`digest` of its exact body) that this viewer was
    /// served recently, if it is still valid: same epochs, session not revoked.
    pub async fn probe(&self, viewer: UserId, session: SessionId, digest: &str) -> AppResult<ResponseProbe> {
        let key = response_key(viewer, digest);
        let names = domain::feed::epoch_names(viewer);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let foreign: Vec<String> = self.kv.revocation_key(session).into_iter().collect();
        let (value, epochs, flags) =
            self.cache.get_with_epochs_and_flags(&key, &names, &foreign).await.map_err(cache_err)?;
        let revoked = if foreign.is_empty() { self.kv.is_revoked(session).await? } else { flags.iter().any(|f| *f) };
        let hit = value.and_then(|bytes| {
            let (stored, body) = split_stamped(&bytes)?;
            (stored == epochs && !revoked).then(|| body.to_vec())
        });
        Ok(ResponseProbe { hit, epochs, revoked })
    }

    /// Keeps a feed-only response for the page lifetime, stamped with the epochs read before it
    /// was computed (a change made meanwhile bumped them, so it is never served stale).
    pub async fn store(&self, viewer: UserId, digest: &str, epochs: &[u64], body: &[u8]) -> AppResult<()> {
        self.cache.set(&response_key(viewer, digest), &stamp(epochs, body), self.ttl).await.map_err(cache_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_bodies_round_trip() {
        let s = stamp(&[3, 7], b"{\"data\":1}");
        let (epochs, body) = split_stamped(&s).unwrap();
        assert_eq!(epochs, vec![3, 7]);
        assert_eq!(body, b"{\"data\":1}");
        assert!(split_stamped(&[2, 1, 2]).is_none(), "a truncated stamp is refused");
    }
}
