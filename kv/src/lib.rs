//! Short-lived shared state: rate-limit counters, revoked sessions, the job-updates fan-out
//! ([`updates`]) and the announcement of revocations on the change channel (`reconnect::changes`). In-process (moka) in the embedded default; Redis (keys with TTL, one prefix per
//! instance) when `APP_REDIS_URL` is set, so that every API node sees the same counters and
//! revocations.
//!
//! Architecture invariant: both engines implement the same fixed-window algorithm and the same
//! semantics; callers cannot tell them apart except by durability across processes.
//!
//! - Windows are aligned to multiples of the window length since the Unix epoch; the counter key is
//!   `<name>:<key>:<window index>` (`<prefix>:rl:…` in Redis, `INCR` and `EXPIRE … NX` in one atomic
//!   pipeline); `RATE_LIMITED` carries the seconds to the end of the window. The named limits
//!   (`redeem-ip`, `login-acct`, `provenance-ip`, `cameo-verify`, …) are built in `backend::app`.
//! - A revocation (`<prefix>:revoked:<session>`) lives the access-token TTL plus 60 s (covering the
//!   verifier's clock leeway): long enough to outlive every access token it stops, and no more. The
//!   durable record is `refresh_families.revoked_at` in the database, which the in-process engine's
//!   callers also consult, since memory does not survive a restart, and so do Redis's callers
//!   while Redis does not answer.
//! - While Redis does not answer, `hit` counts in this process (each node limits on its own) rather
//!   than fail the request.

pub mod updates;

use reconnect::changes;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use moka::future::Cache;
use redis::aio::ConnectionManagerConfig;

use reconnect::Reconnecting;

use app_core::error::{AppError, AppResult};
use app_core::types::SessionId;

/// A named limit: at most `limit` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Bucket name (part of the key).
    pub name: &'static str,
    /// Hits allowed per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
}

/// The engine.
#[derive(Clone)]
pub enum KeyValue {
    /// In this process.
    Memory {
        /// Counters by bucket, key and window.
        counters: Cache<String, Arc<AtomicU32>>,
        /// Revoked sessions.
        revoked: Cache<String, ()>,
    },
    /// Redis.
    Redis {
        /// Multiplexed, reconnecting connection.
        conn: Reconnecting,
        /// Key prefix.
        prefix: String,
        /// This process's counters, used while Redis does not answer (each API node then limits
        /// on its own: the limits hold per node rather than across the service).
        fallback: Cache<String, Arc<AtomicU32>>,
    },
}

impl KeyValue {
    /// In-process state; revocations live `revocation_ttl` (the access-token lifetime).
    pub fn memory(revocation_ttl: Duration) -> Self {
        KeyValue::Memory {
            counters: Cache::builder().time_to_live(Duration::from_secs(3600)).max_capacity(1_000_000).build(),
            revoked: Cache::builder().time_to_live(revocation_ttl + Duration::from_secs(60)).build(),
        }
    }

    /// Connects to Redis.
    pub async fn redis(url: &str, prefix: &str) -> AppResult<Self> {
        let conn = Reconnecting::connect(url, ConnectionManagerConfig::new())
            .await
            .map_err(|e| AppError::internal("redis connect", e))?;
        let fallback = Cache::builder().time_to_live(Duration::from_secs(3600)).max_capacity(100_000).build();
        Ok(KeyValue::Redis { conn, prefix: prefix.into(), fallback })
    }

    /// Whether this is the Redis engine.
    pub fn is_redis(&self) -> bool {
        matches!(self, KeyValue::Redis { .. })
    }

    /// Round-trip to the engine (readiness).
    pub async fn ping(&self) -> AppResult<()> {
        match self {
            KeyValue::Memory { .. } => Ok(()),
            KeyValue::Redis { conn, .. } => {
                let mut c = conn.clone();
                let _: String =
                    redis::cmd("PING").query_async(&mut c).await.map_err(|e| AppError::internal("redis ping", e))?;
                Ok(())
            }
        }
    }

    /// Counts one hit of `key` against `limit`; `RATE_LIMITED` (with seconds to wait) past it.
    pub async fn hit(&self, limit: Limit, key: &str) -> AppResult<()> {
        let secs = limit.window.as_secs().max(1);
        let now = chrono::Utc::now().timestamp().max(0).unsigned_abs();
        let window = now / secs;
        let retry_after_secs = (window + 1) * secs - now;
        let count = match self {
            KeyValue::Memory { counters, .. } => {
                let k = format!("{}:{key}:{window}", limit.name);
                let c = counters.get_with(k, async { Arc::new(AtomicU32::new(0)) }).await;
                c.fetch_add(1, Ordering::SeqCst).saturating_add(1)
            }
            KeyValue::Redis { conn, prefix, fallback } => {
                let k = format!("{prefix}:rl:{}:{key}:{window}", limit.name);
                let mut c = conn.clone();
                let counted: Result<(u32,), _> = redis::pipe()
                    .atomic()
                    .incr(&k, 1u32)
                    .cmd("EXPIRE")
                    .arg(&k)
                    .arg(secs + 1)
                    .arg("NX")
                    .ignore()
                    .query_async(&mut c)
                    .await;
                match counted {
                    Ok((n,)) => n,
                    Err(e) => {
                        tracing::warn!(limit = limit.name, error = %e, "Redis did not count a hit; counting in this process");
                        let c = fallback.get_with(k, async { Arc::new(AtomicU32::new(0)) }).await;
                        c.fetch_add(1, Ordering::SeqCst).saturating_add(1)
                    }
                }
            }
        };
        if count > limit.limit { Err(AppError::RateLimited { retry_after_secs }) } else { Ok(()) }
    }

    /// Marks sessions revoked so their access tokens stop working at once. Kept a minute past
    /// `ttl` (the access-token lifetime) to cover the verifier's clock leeway.
    pub async fn revoke_sessions(&self, sessions: &[SessionId], ttl: Duration) -> AppResult<()> {
        match self {
            KeyValue::Memory { revoked, .. } => {
                for s in sessions {
                    revoked.insert(s.to_string(), ()).await;
                }
                Ok(())
            }
            KeyValue::Redis { conn, prefix, .. } => {
                if sessions.is_empty() {
                    return Ok(());
                }
                let mut p = redis::pipe();
                for s in sessions {
                    p.cmd("SET").arg(format!("{prefix}:revoked:{s}")).arg(1).arg("EX").arg(ttl.as_secs() + 60).ignore();
                }
                // Announced in the same pipeline; every API node's mirror applies it before this
                // returns (`changes`).
                let ack = changes::new_ack_id();
                let names = sessions.iter().map(ToString::to_string).collect();
                p.cmd("PUBLISH")
                    .arg(changes::channel(prefix))
                    .arg(changes::encode(&ack, &changes::Change::Revoked(names)));
                let mut c = conn.clone();
                let (receivers,): (u64,) =
                    p.query_async(&mut c).await.map_err(|e| AppError::internal("redis revoke", e))?;
                changes::await_applied(conn, prefix, &ack, receivers).await;
                Ok(())
            }
        }
    }

    /// Whether Redis has lost the revocation markers since they were last restored (it
    /// restarted empty, or never had them): the flag key set by
    /// [`KeyValue::revocations_restored`] is gone. Never on the in-process engine, whose callers
    /// ask the database anyway.
    pub async fn revocations_lost(&self) -> AppResult<bool> {
        match self {
            KeyValue::Memory { .. } => Ok(false),
            KeyValue::Redis { conn, prefix, .. } => {
                let n: u32 = redis::cmd("EXISTS")
                    .arg(format!("{prefix}:revocations-kept"))
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(|e| AppError::internal("redis revocations flag", e))?;
                Ok(n == 0)
            }
        }
    }

    /// Records that the revocation markers are complete again (see
    /// [`KeyValue::revocations_lost`]).
    pub async fn revocations_restored(&self) -> AppResult<()> {
        match self {
            KeyValue::Memory { .. } => Ok(()),
            KeyValue::Redis { conn, prefix, .. } => {
                let () = redis::cmd("SET")
                    .arg(format!("{prefix}:revocations-kept"))
                    .arg(1)
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(|e| AppError::internal("redis revocations flag", e))?;
                Ok(())
            }
        }
    }

    /// The Redis key that marks `session` revoked (none in process), for callers that check it
    /// in a round trip they make anyway.
    pub fn revocation_key(&self, session: SessionId) -> Option<String> {
        match self {
            KeyValue::Memory { .. } => None,
            KeyValue::Redis { prefix, .. } => Some(format!("{prefix}:revoked:{session}")),
        }
    }

    /// Whether a session was revoked within the access-token lifetime. An error means Redis did
    /// not answer: the caller asks the durable record instead (`Store::session_revoked`).
    pub async fn is_revoked(&self, session: SessionId) -> AppResult<bool> {
        match self {
            KeyValue::Memory { revoked, .. } => Ok(revoked.contains_key(&session.to_string())),
            KeyValue::Redis { conn, prefix, .. } => {
                let mut c = conn.clone();
                let n: u32 = redis::cmd("EXISTS")
                    .arg(format!("{prefix}:revoked:{session}"))
                    .query_async(&mut c)
                    .await
                    .map_err(|e| AppError::internal("redis revoked check", e))?;
                Ok(n > 0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows are aligned to the clock; keep a test's few hits inside one hour-long window.
    async fn avoid_window_edge() {
        let s = chrono::Utc::now().timestamp().rem_euclid(3600);
        if s >= 3590 {
            tokio::time::sleep(Duration::from_secs((3601 - s).unsigned_abs())).await;
        }
    }

    #[tokio::test]
    async fn memory_limits_and_revocations() {
        avoid_window_edge().await;
        let kv = KeyValue::memory(Duration::from_secs(60));
        let l = Limit { name: "t", limit: 2, window: Duration::from_secs(3600) };
        kv.hit(l, "a").await.unwrap();
        kv.hit(l, "a").await.unwrap();
        match kv.hit(l, "a").await {
            Err(AppError::RateLimited { retry_after_secs }) => assert!(retry_after_secs <= 3600),
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        kv.hit(l, "b").await.unwrap();
        let s = SessionId::new();
        assert!(!kv.is_revoked(s).await.unwrap());
        kv.revoke_sessions(&[s], Duration::from_secs(60)).await.unwrap();
        assert!(kv.is_revoked(s).await.unwrap());
    }

    #[tokio::test]
    async fn redis_limits_and_revocations() {
        let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("unit-{}", uuid::Uuid::new_v4());
        let kv = KeyValue::redis(&url, &prefix).await.unwrap();
        avoid_window_edge().await;
        kv.ping().await.unwrap();
        let l = Limit { name: "t", limit: 2, window: Duration::from_secs(3600) };
        kv.hit(l, "a").await.unwrap();
        kv.hit(l, "a").await.unwrap();
        assert!(matches!(kv.hit(l, "a").await, Err(AppError::RateLimited { .. })));
        kv.hit(l, "b").await.unwrap();
        let s = SessionId::new();
        assert!(!kv.is_revoked(s).await.unwrap());
        kv.revoke_sessions(&[s], Duration::from_secs(60)).await.unwrap();
        assert!(kv.is_revoked(s).await.unwrap());
    }
}
