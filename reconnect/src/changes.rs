//! Changes every API node must see before it answers from memory: feed epochs bumped and
//! sessions revoked, announced on the pub/sub channel `<prefix>:changes`, and [`Mirror`], the
//! in-process copy of them that lets a node serve a cached feed response without a round trip
//! to Redis.
//!
//! # Bounded staleness
//!
//! A change is written to Redis and published in one step (a script for an epoch, a pipeline
//! for revocations); `PUBLISH` answers how many nodes are subscribed, and the writer waits
//! ([`await_applied`]) until that many have applied it and acknowledged (`INCR` of
//! `<prefix>:changes-ack:<id>`), for at most [`ACK_WAIT`]. So when the request that made the
//! change answers, every node that will serve from memory already knows it: a removal, a ban, a
//! block, a log-out or a like made on one node is seen at once on every other.
//!
//! The exceptions, and their bound: a node that does not acknowledge within [`ACK_WAIT`] (its
//! event loop stalled) may serve what it has for at most [`STALE_AFTER`] after the last message it
//! heard, since every node publishes a heartbeat every [`HEARTBEAT`] and a mirror that has heard
//! nothing for [`STALE_AFTER`] stops answering (callers go to Redis). A mirror whose subscription
//! drops (Redis restarted, a network cut) forgets everything at once and fills again only after it
//! has subscribed anew, so it never holds values from before a restart of Redis.
//!
//! # What the mirror holds
//!
//! Epochs and session states are filled from the round trips the node makes anyway (and updated
//! by messages); a fill read before a change that was applied meanwhile is refused (the
//! subscription's generation and the count of revocations seen are compared). Epochs only grow
//! (each is incremented and announced in one script, so announcements come in order), so a fill
//! never lowers one; a value lower than the mirror's, announced or read with no announcement
//! since, means Redis lost its epochs (restarted unnoticed, evicted, flushed), and the mirror
//! forgets everything, so no response stamped before can match the new values by chance. Everything is bounded (moka caches): an evicted entry is a miss,
//! never a wrong answer, except that a revoked session is kept in its own set until it expires.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Reconnecting;
use futures_util::StreamExt;
use moka::sync::Cache;

/// How long a writer waits for every subscribed node to apply a change.
pub const ACK_WAIT: Duration = Duration::from_millis(500);
/// A mirror that has heard nothing for this long does not answer.
pub const STALE_AFTER: Duration = Duration::from_millis(500);
/// How often each node publishes a heartbeat.
pub const HEARTBEAT: Duration = Duration::from_millis(100);
/// How long an acknowledgement counter lives.
const ACK_TTL_MS: u64 = 10_000;
/// Mirror capacities (entries).
const EPOCHS: u64 = 500_000;
const SESSIONS: u64 = 500_000;
/// Bytes of cached responses a mirror holds.
const RESPONSE_BYTES: u64 = 64 << 20;

/// The channel changes are announced on.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}:changes")
}

fn ack_key(prefix: &str, ack: &str) -> String {
    format!("{prefix}:changes-ack:{ack}")
}

/// A fresh acknowledgement id for one change.
pub fn new_ack_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// One announced change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The epoch `name` is now `value`.
    Epoch {
        /// Its name (no spaces).
        name: String,
        /// Its new value.
        value: u64,
    },
    /// These sessions were revoked.
    Revoked(Vec<String>),
    /// A node is alive (no acknowledgement).
    Heartbeat,
}

/// The message for an epoch bump (`e <ack> <value> <name>`), built in Redis by the bump script
/// from these parts; [`decode`] reads it.
pub fn encode(ack: &str, change: &Change) -> String {
    match change {
        Change::Epoch { name, value } => format!("e {ack} {value} {name}"),
        Change::Revoked(sessions) => format!("r {ack} {}", sessions.join(" ")),
        Change::Heartbeat => "h".to_owned(),
    }
}

/// Reads a message: its acknowledgement id (none for a heartbeat) and the change.
pub fn decode(message: &str) -> Option<(Option<String>, Change)> {
    let mut parts = message.split(' ');
    match parts.next()? {
        "h" => Some((None, Change::Heartbeat)),
        "e" => {
            let ack = parts.next()?.to_owned();
            let value = parts.next()?.parse().ok()?;
            let name = parts.next()?.to_owned();
            parts.next().is_none().then_some((Some(ack), Change::Epoch { name, value }))
        }
        "r" => {
            let ack = parts.next()?.to_owned();
            let sessions: Vec<String> = parts.map(str::to_owned).collect();
            (!sessions.is_empty()).then_some((Some(ack), Change::Revoked(sessions)))
        }
        _ => None,
    }
}

/// Waits until `receivers` nodes have acknowledged the change published under `ack`, for at
/// most [`ACK_WAIT`] (then logs which change it gave up on; see the module's staleness bound).
pub async fn await_applied(conn: &Reconnecting, prefix: &str, ack: &str, receivers: u64) {
    if receivers == 0 {
        return;
    }
    let key = ack_key(prefix, ack);
    let deadline = Instant::now() + ACK_WAIT;
    let mut pause = Duration::from_micros(100);
    loop {
        let got: Result<Option<u64>, _> = redis::cmd("GET").arg(&key).query_async(&mut conn.clone()).await;
        match got {
            Ok(Some(n)) if n >= receivers => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "change acknowledgements could not be read; not waiting");
                return;
            }
        }
        if Instant::now() >= deadline {
            tracing::warn!(receivers, ack, "not every node acknowledged a change in time");
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// This node's copy of the announced state, kept current by its subscription. Clones share it.
#[derive(Clone)]
pub struct Mirror {
    inner: Arc<Inner>,
}

struct Inner {
    /// Whether the subscription is established (cleared when it drops).
    connected: AtomicBool,
    /// Bumped whenever the subscription is (re)established or lost: fills read under another
    /// generation are refused.
    generation: AtomicU64,
    /// Revocations applied so far: a session fill read before one of them is refused.
    revocations: AtomicU64,
    /// Epoch messages applied so far: a fill lower than the mirror, read when none came since,
    /// means Redis lost its epochs.
    epoch_messages: AtomicU64,
    /// Milliseconds since `base` when the last message was heard.
    last_heard: AtomicU64,
    base: Instant,
    epochs: Cache<String, u64>,
    /// Sessions known not revoked.
    live_sessions: Cache<String, ()>,
    /// Sessions announced revoked (kept for the access-token lifetime).
    revoked: Cache<String, ()>,
    responses: Cache<String, Arc<[u8]>>,
}

/// What a fill was read under ([`Mirror::before_fill`]).
#[derive(Clone, Copy, Debug)]
pub struct FillTicket {
    generation: u64,
    revocations: u64,
    epoch_messages: u64,
}

impl Mirror {
    /// A mirror of the changes on `prefix`'s channel at `url`: subscribes (and subscribes again
    /// after any loss), acknowledges every change it applies through `conn`, and publishes this
    /// node's heartbeat. Revoked sessions are kept `revocation_ttl`; responses live as long as
    /// their stamp says (the caller checks) and at most `response_ttl`.
    pub fn start(
        url: &str,
        prefix: &str,
        conn: Reconnecting,
        revocation_ttl: Duration,
        response_ttl: Duration,
    ) -> Result<Mirror, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let mirror = Mirror::detached(revocation_ttl, response_ttl);
        let inner = mirror.inner.clone();
        let ch = channel(prefix);
        let p = prefix.to_owned();
        let c = conn.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = follow(&client, &ch, &p, &c, &inner).await {
                    tracing::warn!(error = %e, "change mirror lost its subscription; answering from Redis until it is back");
                }
                inner.lose();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let ch = channel(prefix);
        tokio::spawn(async move {
            let beat = encode("", &Change::Heartbeat);
            loop {
                let r: Result<u64, _> = redis::cmd("PUBLISH").arg(&ch).arg(&beat).query_async(&mut conn.clone()).await;
                if let Err(e) = r {
                    tracing::debug!(error = %e, "heartbeat not published");
                }
                tokio::time::sleep(HEARTBEAT).await;
            }
        });
        Ok(mirror)
    }

    /// A mirror with no subscription (it never answers until [`Mirror::subscribed`]); for tests.
    pub fn detached(revocation_ttl: Duration, response_ttl: Duration) -> Mirror {
        Mirror {
            inner: Arc::new(Inner {
                connected: AtomicBool::new(false),
                generation: AtomicU64::new(0),
                revocations: AtomicU64::new(0),
                epoch_messages: AtomicU64::new(0),
                last_heard: AtomicU64::new(0),
                base: Instant::now(),
                epochs: Cache::new(EPOCHS),
                live_sessions: Cache::new(SESSIONS),
                revoked: Cache::builder().max_capacity(SESSIONS).time_to_live(revocation_ttl).build(),
                responses: Cache::builder()
                    .max_capacity(RESPONSE_BYTES)
                    .weigher(|k: &String, v: &Arc<[u8]>| u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX))
                    .time_to_live(response_ttl.max(Duration::from_millis(1)))
                    .build(),
            }),
        }
    }

    /// Marks the subscription established (everything forgotten first); what [`Mirror::start`]'s
    /// task does on subscribing.
    pub fn subscribed(&self) {
        self.inner.forget();
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        self.inner.heard();
        self.inner.connected.store(true, Ordering::SeqCst);
    }

    /// Applies one change (what the subscription does with each message).
    pub fn apply(&self, change: &Change) {
        self.inner.heard();
        self.inner.apply(change);
    }

    /// Whether the mirror may answer now: subscribed, and heard from within [`STALE_AFTER`].
    pub fn live(&self) -> bool {
        self.inner.connected.load(Ordering::SeqCst) && self.inner.silence() <= STALE_AFTER
    }

    /// The epoch `name`, if known.
    pub fn epoch(&self, name: &str) -> Option<u64> {
        self.inner.epochs.get(name)
    }

    /// Whether `session` is known live (`Some(true)`), known revoked (`Some(false)`), or unknown.
    pub fn session(&self, session: &str) -> Option<bool> {
        if self.inner.revoked.contains_key(session) {
            Some(false)
        } else if self.inner.live_sessions.contains_key(session) {
            Some(true)
        } else {
            None
        }
    }

    /// The response cached under `key`.
    pub fn response(&self, key: &str) -> Option<Arc<[u8]>> {
        self.inner.responses.get(key)
    }

    /// Taken before a round trip whose answers will be filled in.
    pub fn before_fill(&self) -> FillTicket {
        FillTicket {
            generation: self.inner.generation.load(Ordering::SeqCst),
            revocations: self.inner.revocations.load(Ordering::SeqCst),
            epoch_messages: self.inner.epoch_messages.load(Ordering::SeqCst),
        }
    }

    /// Fills in what a round trip read under `ticket`: epochs by name, and whether `session` was
    /// revoked. Refused while not subscribed or when the subscription changed meanwhile; the
    /// session is not recorded live when a revocation was applied meanwhile.
    pub fn fill(&self, ticket: FillTicket, epochs: &[(&str, u64)], session: &str, revoked: bool) {
        let i = &self.inner;
        if !i.connected.load(Ordering::SeqCst) || i.generation.load(Ordering::SeqCst) != ticket.generation {
            return;
        }
        for (name, value) in epochs {
            match i.epochs.get(*name) {
                // Lower than what the mirror holds, and no announcement came since the read:
                // Redis lost its epochs (a restart the subscription did not notice, eviction, a
                // flush). Whatever was stamped before may collide with the new values: forget it.
                Some(held) if *value < held => {
                    if i.epoch_messages.load(Ordering::SeqCst) == ticket.epoch_messages {
                        i.reset();
                        return;
                    }
                }
                _ => i.raise(name, *value),
            }
        }
        if revoked {
            i.revoked.insert(session.to_owned(), ());
        } else if i.revocations.load(Ordering::SeqCst) == ticket.revocations {
            i.live_sessions.insert(session.to_owned(), ());
        }
        // A change applied after the read (another generation) cleared the mirror: nothing stale
        // stays, since `forget` runs before the generation moves.
        if i.generation.load(Ordering::SeqCst) != ticket.generation {
            i.forget();
        }
    }

    /// Keeps a response (stamped by the caller with what makes it valid).
    pub fn keep_response(&self, ticket: FillTicket, key: String, bytes: Arc<[u8]>) {
        let i = &self.inner;
        if !i.connected.load(Ordering::SeqCst) || i.generation.load(Ordering::SeqCst) != ticket.generation {
            return;
        }
        i.responses.insert(key, bytes);
        if i.generation.load(Ordering::SeqCst) != ticket.generation {
            i.forget();
        }
    }
}

impl Inner {
    fn heard(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_heard.store(ms, Ordering::SeqCst);
    }

    fn silence(&self) -> Duration {
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(now.saturating_sub(self.last_heard.load(Ordering::SeqCst)))
    }

    fn raise(&self, name: &str, value: u64) {
        self.epochs.entry(name.to_owned()).and_compute_with(|old| match old {
            Some(e) if *e.value() >= value => moka::ops::compute::Op::Nop,
            _ => moka::ops::compute::Op::Put(value),
        });
    }

    fn apply(&self, change: &Change) {
        match change {
            Change::Epoch { name, value } => {
                self.epoch_messages.fetch_add(1, Ordering::SeqCst);
                // Announcements come in the order of the increments (one script), so a lower
                // value means Redis lost its epochs: forget what was stamped before.
                if self.epochs.get(name).is_some_and(|held| *value < held) {
                    self.reset();
                }
                self.raise(name, *value);
            }
            Change::Revoked(sessions) => {
                self.revocations.fetch_add(1, Ordering::SeqCst);
                for s in sessions {
                    self.revoked.insert(s.clone(), ());
                    self.live_sessions.invalidate(s);
                }
            }
            Change::Heartbeat => {}
        }
    }

    fn forget(&self) {
        self.epochs.invalidate_all();
        self.live_sessions.invalidate_all();
        self.responses.invalidate_all();
    }

    /// Forgets everything and refuses fills read before (the subscription stays).
    fn reset(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.forget();
    }

    fn lose(&self) {
        self.connected.store(false, Ordering::SeqCst);
        self.forget();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// One subscription: applies and acknowledges messages until it drops.
async fn follow(
    client: &redis::Client,
    channel: &str,
    prefix: &str,
    conn: &Reconnecting,
    inner: &Arc<Inner>,
) -> Result<(), redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mirror = Mirror { inner: inner.clone() };
    mirror.subscribed();
    let mut stream = pubsub.on_message();
    while let Some(msg) = stream.next().await {
        inner.heard();
        let payload: String = msg.get_payload()?;
        let Some((ack, change)) = decode(&payload) else {
            tracing::warn!(message = %payload, "unreadable change message ignored");
            continue;
        };
        mirror.apply(&change);
        if let Some(ack) = ack {
            let key = ack_key(prefix, &ack);
            let r: Result<(), _> = redis::pipe()
                .cmd("INCR")
                .arg(&key)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(ACK_TTL_MS)
                .ignore()
                .query_async(&mut conn.clone())
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "change applied but not acknowledged");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for c in
            [Change::Epoch { name: "viewer:0a1b".into(), value: 42 }, Change::Revoked(vec!["s1".into(), "s2".into()])]
        {
            assert_eq!(decode(&encode("ack1", &c)), Some((Some("ack1".to_owned()), c)));
        }
        assert_eq!(decode("h"), Some((None, Change::Heartbeat)));
        for bad in ["", "e", "e a notanumber visible", "e a 1 two words", "r a", "x a b"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_mirror_answers_only_while_subscribed_and_never_lowers_an_epoch() {
        let m = Mirror::detached(Duration::from_secs(60), Duration::from_secs(15));
        let t = m.before_fill();
        m.fill(t, &[("visible", 3)], "s", false);
        assert!(!m.live());
        assert_eq!(m.epoch("visible"), None, "no fill before the subscription");
        m.subscribed();
        assert!(m.live());
        let t = m.before_fill();
        m.fill(t, &[("visible", 3)], "s", false);
        assert_eq!((m.epoch("visible"), m.session("s")), (Some(3), Some(true)));
        m.apply(&Change::Epoch { name: "visible".into(), value: 5 });
        m.fill(t, &[("visible", 4)], "s", false);
        assert_eq!(m.epoch("visible"), Some(5), "a late fill does not lower an epoch");
    }

    #[test]
    fn a_revocation_wins_over_a_fill_read_before_it() {
        let m = Mirror::detached(Duration::from_secs(60), Duration::from_secs(15));
        m.subscribed();
        let t = m.before_fill();
        m.apply(&Change::Revoked(vec!["s".into()]));
        m.fill(t, &[], "s", false);
        assert_eq!(m.session("s"), Some(false));
        let t2 = m.before_fill();
        m.fill(t2, &[], "other", false);
        assert_eq!(m.session("other"), Some(true));
        m.apply(&Change::Revoked(vec!["other".into()]));
        assert_eq!(m.session("other"), Some(false));
    }

    #[test]
    fn epochs_going_back_mean_redis_lost_them_and_the_mirror_forgets() {
        let m = Mirror::detached(Duration::from_secs(60), Duration::from_secs(15));
        m.subscribed();
        let t = m.before_fill();
        m.fill(t, &[("visible", 7), ("viewer:a", 2)], "s", false);
        m.keep_response(t, "k".into(), Arc::from(&b"stamped with 7"[..]));
        // A stale read (an announcement came since) is ignored, not a reset.
        let stale = m.before_fill();
        m.apply(&Change::Epoch { name: "visible".into(), value: 8 });
        m.fill(stale, &[("visible", 7)], "s", false);
        assert_eq!(m.epoch("visible"), Some(8));
        assert!(m.response("k").is_some());
        // A lower value read with nothing announced since: Redis lost its epochs.
        let t = m.before_fill();
        m.fill(t, &[("visible", 1)], "s", false);
        assert_eq!((m.epoch("visible"), m.epoch("viewer:a")), (None, None));
        assert!(m.response("k").is_none());
        // Refilled, and a lower announcement does the same.
        let t = m.before_fill();
        m.fill(t, &[("visible", 1)], "s", false);
        m.keep_response(t, "k".into(), Arc::from(&b"stamped with 1"[..]));
        m.apply(&Change::Epoch { name: "visible".into(), value: 5 });
        m.apply(&Change::Epoch { name: "visible".into(), value: 1 });
        assert_eq!(m.epoch("visible"), Some(1));
        assert!(m.response("k").is_none(), "what was stamped before the loss is gone");
    }

    #[test]
    fn losing_the_subscription_forgets_everything() {
        let m = Mirror::detached(Duration::from_secs(60), Duration::from_secs(15));
        m.subscribed();
        let t = m.before_fill();
        m.fill(t, &[("visible", 9)], "s", false);
        m.keep_response(t, "k".into(), Arc::from(&b"body"[..]));
        assert!(m.response("k").is_some());
        m.inner.lose();
        assert!(!m.live());
        assert_eq!((m.epoch("visible"), m.session("s")), (None, None));
        assert!(m.response("k").is_none());
        m.fill(t, &[("visible", 9)], "s", false);
        assert_eq!(m.epoch("visible"), None, "a fill from before the loss is refused");
    }
}
