//! The shared state of feeds: FOLLOWING timelines, ranked-list snapshots,
//! small values and epochs, kept in-process (the embedded default) or in
//! Redis (production).
//!
//! Invariant: both engines have the same observable semantics; every
//! behaviour is tested on both. In particular:
//!
//! - A timeline is a set of [`TimelineItem`]s, newest first by
//!   `(at_micros, video)` descending, one entry per `(video, author)` (adding
//!   it again moves it to the new time), capped at [`TIMELINE_CAP`] items
//!   (the oldest are trimmed), kept [`TIMELINE_TTL`] after its last write.
//!   A timeline is *built* once [`FeedCache::build_timeline`] ran; fan-out
//!   only writes to built timelines, so unbuilt ones are left for
//!   build-on-read. An unbuilt timeline reads as empty.
//! - Ranked lists are immutable snapshots of ids with a TTL; they read as
//!   missing (`None`) once expired and as empty past their end.
//! - Values and lists may disappear early (memory pressure, eviction): callers
//!   treat a miss as "rebuild", never as "empty feed".
//!
//! In Redis every key starts with `{prefix}:feed:`; timelines are sorted sets
//! scored by `at_micros` (exact below 2^53) with members
//! `<video hex>:<author hex>` (so equal scores order by video id), next to a
//! `built` marker key; lists are one string of a one-byte header followed by
//! 16-byte ids, read with GETRANGE; epochs are INCR counters.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use reconnect::Reconnecting;
use redis::aio::ConnectionManagerConfig;
use uuid::Uuid;

/// The most items a FOLLOWING timeline keeps.
pub const TIMELINE_CAP: usize = 1000;
/// How long a timeline is kept after its last write.
pub const TIMELINE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How many followers one fan-out or removal script handles (Redis).
const SCRIPT_BATCH: usize = 500;
/// Memory engine capacities (entries).
const MEMORY_TIMELINES: u64 = 100_000;
const MEMORY_LISTS: u64 = 20_000;
const MEMORY_VALUES: u64 = 100_000;
/// The header byte of a stored list (distinguishes an empty list from a missing key).
const LIST_HEADER: u8 = b'L';

/// A ranked list as stored in Redis: [`LIST_HEADER`], then each id's 16 bytes.
fn list_bytes(ids: &[Uuid]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + ids.len() * 16);
    bytes.push(LIST_HEADER);
    for id in ids {
        bytes.extend_from_slice(id.as_bytes());
    }
    bytes
}

/// One entry of a FOLLOWING timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineItem {
    /// Publication time, microseconds since the epoch.
    pub at_micros: i64,
    /// The video.
    pub video: Uuid,
    /// Its author.
    pub author: Uuid,
}

/// A failure of the feed cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Redis failed or could not be reached.
    #[error("feed cache: redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored value could not be read back.
    #[error("feed cache: corrupt data under {key}: {what}")]
    Corrupt {
        /// The key.
        key: String,
        /// What was wrong.
        what: String,
    },
}

/// The shared feed state, in-process or in Redis. Cloning is cheap and
/// clones share the state.
#[derive(Clone)]
pub enum FeedCache {
    /// In-process caches (single node; lost on restart).
    Memory(Arc<MemoryEngine>),
    /// Redis, through a reconnecting connection manager.
    Redis {
        /// The connection.
        conn: Reconnecting,
        /// Every key starts with `{prefix}:feed:`.
        prefix: Arc<str>,
    },
}

impl std::fmt::Debug for FeedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedCache::Memory(_) => f.write_str("FeedCache::Memory"),
            FeedCache::Redis { prefix, .. } => write!(f, "FeedCache::Redis({prefix})"),
        }
    }
}

/// A value with its own time to live.
#[derive(Clone)]
struct Expiring<T> {
    value: T,
    ttl: Duration,
    deadline: Instant,
}

impl<T> Expiring<T> {
    fn new(value: T, ttl: Duration) -> Self {
        let now = Instant::now();
        Expiring { value, ttl, deadline: now.checked_add(ttl).unwrap_or(now + TIMELINE_TTL * 52) }
    }

    fn live(&self) -> Option<&T> {
        (Instant::now() < self.deadline).then_some(&self.value)
    }
}

/// Per-entry expiry for [`Expiring`] values.
struct PerEntry;

impl<K, T> Expiry<K, Expiring<T>> for PerEntry {
    fn expire_after_create(&self, _key: &K, value: &Expiring<T>, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &K,
        value: &Expiring<T>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// One in-memory timeline: items ordered ascending, and member → time.
#[derive(Default)]
struct Timeline {
    items: BTreeSet<(i64, Uuid, Uuid)>,
    at_of: HashMap<(Uuid, Uuid), i64>,
}

impl Timeline {
    fn insert(&mut self, it: TimelineItem) {
        if let Some(old) = self.at_of.insert((it.video, it.author), it.at_micros) {
            self.items.remove(&(old, it.video, it.author));
        }
        self.items.insert((it.at_micros, it.video, it.author));
    }

    fn trim(&mut self) {
        while self.items.len() > TIMELINE_CAP {
            if let Some((_, v, a)) = self.items.pop_first() {
                self.at_of.remove(&(v, a));
            }
        }
    }

    fn remove_video(&mut self, video: Uuid) {
        let gone: Vec<(i64, Uuid, Uuid)> = self.items.iter().filter(|(_, v, _)| *v == video).copied().collect();
        for k in gone {
            self.items.remove(&k);
            self.at_of.remove(&(k.1, k.2));
        }
    }
}

/// Sorted-set rows read WITHSCORES: (member, score).
type ZRows = Vec<(String, f64)>;

type SharedTimeline = Arc<tokio::sync::Mutex<Timeline>>;

/// The in-process engine: moka caches with TTLs and a map of epochs.
pub struct MemoryEngine {
    timelines: Cache<Uuid, SharedTimeline>,
    lists: Cache<String, Expiring<Arc<Vec<Uuid>>>>,
    values: Cache<String, Expiring<Arc<[u8]>>>,
    epochs: std::sync::Mutex<HashMap<String, u64>>,
}

impl MemoryEngine {
    fn new() -> Self {
        MemoryEngine {
            timelines: Cache::builder().max_capacity(MEMORY_TIMELINES).time_to_live(TIMELINE_TTL).build(),
            lists: Cache::builder().max_capacity(MEMORY_LISTS).expire_after(PerEntry).build(),
            values: Cache::builder().max_capacity(MEMORY_VALUES).expire_after(PerEntry).build(),
            epochs: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn epochs(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.epochs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Milliseconds of a TTL for PEXPIRE/PX: at least 1, at most ~35 years.
fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).clamp(1, 1 << 40)
}

/// A sorted-set member: `<video hex>:<author hex>`.
fn member(video: Uuid, author: Uuid) -> String {
    format!("{}:{}", video.simple(), author.simple())
}

fn parse_member(key: &str, m: &str, score: f64) -> Result<TimelineItem, CacheError> {
    let corrupt = || CacheError::Corrupt { key: key.to_owned(), what: format!("bad timeline member {m:?}") };
    let (v, a) = m.split_once(':').ok_or_else(corrupt)?;
    let video = Uuid::try_parse(v).map_err(|_| corrupt())?;
    let author = Uuid::try_parse(a).map_err(|_| corrupt())?;
    if !score.is_finite() {
        return Err(corrupt());
    }
    Ok(TimelineItem { at_micros: score as i64, video, author })
}

/// Escapes glob characters for SCAN MATCH.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Adds one item to every built timeline among KEYS (pairs of timeline, built marker).
/// Increments an epoch (KEYS[1]) and announces it on the change channel (ARGV[1]) with its
/// acknowledgement id (ARGV[2]) and name (ARGV[3]), as `reconnect::changes::decode` reads it: returns
/// the new value and how many nodes heard it.
const BUMP_LUA: &str = r"
local v = redis.call('INCR', KEYS[1])
local n = redis.call('PUBLISH', ARGV[1], 'e ' .. ARGV[2] .. ' ' .. v .. ' ' .. ARGV[3])
return {v, n}
";

const FAN_OUT_LUA: &str = r"
local n = 0
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i + 1]) == 1 then
    redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2])
    redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(tonumber(ARGV[3]) + 1))
    redis.call('PEXPIRE', KEYS[i], ARGV[4])
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[4])
    n = n + 1
  end
end
return n
";

/// Removes every member matching ARGV[1] from the sorted sets in KEYS.
const REMOVE_LUA: &str = r"
local removed = 0
for i = 1, #KEYS do
  local cursor = '0'
  repeat
    local r = redis.call('ZSCAN', KEYS[i], cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
    cursor = r[1]
    local items = r[2]
    for j = 1, #items, 2 do
      removed = removed + redis.call('ZREM', KEYS[i], items[j])
    end
  until cursor == '0'
end
return removed
";

impl FeedCache {
    /// A fresh in-process cache.
    pub fn memory() -> Self {
        FeedCache::Memory(Arc::new(MemoryEngine::new()))
    }

    /// Connects to Redis at `url`; every key this cache touches starts with
    /// `{prefix}:feed:`.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let conn = Reconnecting::connect(url, ConnectionManagerConfig::new()).await?;
        Ok(FeedCache::Redis { conn, prefix: Arc::from(prefix) })
    }

    fn key(prefix: &str, kind: &str, name: &str) -> String {
        format!("{prefix}:feed:{kind}:{name}")
    }

    /// Whether `user`'s FOLLOWING timeline is built (and not expired or dropped).
    pub async fn timeline_built(&self, user: Uuid) -> Result<bool, CacheError> {
        match self {
            FeedCache::Memory(m) => Ok(m.timelines.contains_key(&user)),
            FeedCache::Redis { conn, prefix } => {
                let n: i64 = redis::cmd("EXISTS")
                    .arg(Self::key(prefix, "tlb", &user.simple().to_string()))
                    .query_async(&mut conn.clone())
                    .await?;
                Ok(n > 0)
            }
        }
    }

    /// Replaces `user`'s timeline with `items` (trimmed to the newest
    /// [`TIMELINE_CAP`]) atomically and marks it built.
    pub async fn build_timeline(&self, user: Uuid, items: &[TimelineItem]) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(m) => {
                let mut t = Timeline::default();
                for it in items {
                    t.insert(*it);
                }
                t.trim();
                m.timelines.insert(user, Arc::new(tokio::sync::Mutex::new(t))).await;
                Ok(())
            }
            FeedCache::Redis { conn, prefix } => {
                let u = user.simple().to_string();
                let tl = Self::key(prefix, "tl", &u);
                let built = Self::key(prefix, "tlb", &u);
                let ttl = ttl_ms(TIMELINE_TTL);
                let mut p = redis::pipe();
                p.atomic();
                p.cmd("DEL").arg(&tl).ignore();
                if !items.is_empty() {
                    let mut zadd = redis::cmd("ZADD");
                    zadd.arg(&tl);
                    for it in items {
                        zadd.arg(it.at_micros).arg(member(it.video, it.author));
                    }
                    p.add_command(zadd).ignore();
                    p.cmd("ZREMRANGEBYRANK").arg(&tl).arg(0).arg(-(TIMELINE_CAP as i64) - 1).ignore();
                    p.cmd("PEXPIRE").arg(&tl).arg(ttl).ignore();
                }
                p.cmd("SET").arg(&built).arg(1).arg("PX").arg(ttl).ignore();
                p.query_async::<()>(&mut conn.clone()).await?;
                Ok(())
            }
        }
    }

    /// Adds `item` to the timelines of those `followers` whose timeline is
    /// built, trimming each to [`TIMELINE_CAP`]; unbuilt timelines are left
    /// for build-on-read. One round trip in Redis.
    pub async fn fan_out(&self, followers: &[Uuid], item: TimelineItem) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(m) => {
                for f in followers {
                    if let Some(t) = m.timelines.get(f).await {
                        {
                            let mut g = t.lock().await;
                            g.insert(item);
                            g.trim();
                        }
                        // Re-inserting refreshes the time to live.
                        m.timelines.insert(*f, t).await;
                    }
                }
                Ok(())
            }
            FeedCache::Redis { conn, prefix } => {
                if followers.is_empty() {
                    return Ok(());
                }
                let m = member(item.video, item.author);
                let ttl = ttl_ms(TIMELINE_TTL);
                let mut p = redis::pipe();
                for batch in followers.chunks(SCRIPT_BATCH) {
                    let mut c = redis::cmd("EVAL");
                    c.arg(FAN_OUT_LUA).arg(batch.len() * 2);
                    for f in batch {
                        let u = f.simple().to_string();
                        c.arg(Self::key(prefix, "tl", &u)).arg(Self::key(prefix, "tlb", &u));
                    }
                    c.arg(item.at_micros).arg(&m).arg(TIMELINE_CAP).arg(ttl);
                    p.add_command(c).ignore();
                }
                p.query_async::<()>(&mut conn.clone()).await?;
                Ok(())
            }
        }
    }

    /// Up to `limit` items of `user`'s timeline, newest first, strictly after
    /// the keyset position `before = (at_micros, video)`: items with
    /// `at < before.0`, or `at == before.0` and `video < before.1`.
    pub async fn timeline_page(
        &self,
        user: Uuid,
        before: Option<(i64, Uuid)>,
        limit: usize,
    ) -> Result<Vec<TimelineItem>, CacheError> {
        let limit = limit.min(TIMELINE_CAP);
        if limit == 0 {
            return Ok(Vec::new());
        }
        match self {
            FeedCache::Memory(m) => {
                let Some(t) = m.timelines.get(&user).await else {
                    return Ok(Vec::new());
                };
                let g = t.lock().await;
                let to_item =
                    |&(at_micros, video, author): &(i64, Uuid, Uuid)| TimelineItem { at_micros, video, author };
                Ok(match before {
                    None => g.items.iter().rev().take(limit).map(to_item).collect(),
                    Some((at, video)) => {
                        g.items.range(..(at, video, Uuid::nil())).rev().take(limit).map(to_item).collect()
                    }
                })
            }
            FeedCache::Redis { conn, prefix } => {
                let tl = Self::key(prefix, "tl", &user.simple().to_string());
                let rows: ZRows = match before {
                    None => {
                        redis::cmd("ZREVRANGE")
                            .arg(&tl)
                            .arg(0)
                            .arg(limit - 1)
                            .arg("WITHSCORES")
                            .query_async(&mut conn.clone())
                            .await?
                    }
                    Some((at, video)) => {
                        // Equal timestamps: fetch them all and keep smaller video ids;
                        // then the strictly older ones.
                        let (equal, older): (ZRows, ZRows) = redis::pipe()
                            .cmd("ZREVRANGEBYSCORE")
                            .arg(&tl)
                            .arg(at)
                            .arg(at)
                            .arg("WITHSCORES")
                            .cmd("ZREVRANGEBYSCORE")
                            .arg(&tl)
                            .arg(format!("({at}"))
                            .arg("-inf")
                            .arg("WITHSCORES")
                            .arg("LIMIT")
                            .arg(0)
                            .arg(limit)
                            .query_async(&mut conn.clone())
                            .await?;
                        let cut = video.simple().to_string();
                        let mut rows: ZRows = equal
                            .into_iter()
                            .filter(|(m, _)| m.split(':').next().is_some_and(|v| v < cut.as_str()))
                            .collect();
                        rows.extend(older);
                        rows
                    }
                };
                rows.iter().take(limit).map(|(m, s)| parse_member(&tl, m, *s)).collect()
            }
        }
    }

    /// Drops `user`'s timeline and its built mark, forcing a rebuild on the
    /// next read (after follow, unfollow or block).
    pub async fn drop_timeline(&self, user: Uuid) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(m) => {
                m.timelines.invalidate(&user).await;
                Ok(())
            }
            FeedCache::Redis { conn, prefix } => {
                let u = user.simple().to_string();
                redis::cmd("DEL")
                    .arg(Self::key(prefix, "tl", &u))
                    .arg(Self::key(prefix, "tlb", &u))
                    .query_async::<()>(&mut conn.clone())
                    .await?;
                Ok(())
            }
        }
    }

    /// Removes `video` (whatever its author) from the timelines of `followers`.
    pub async fn remove_from_timelines(&self, followers: &[Uuid], video: Uuid) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(m) => {
                for f in followers {
                    if let Some(t) = m.timelines.get(f).await {
                        t.lock().await.remove_video(video);
                    }
                }
                Ok(())
            }
            FeedCache::Redis { conn, prefix } => {
                if followers.is_empty() {
                    return Ok(());
                }
                let pattern = format!("{}:*", video.simple());
                let mut p = redis::pipe();
                for batch in followers.chunks(SCRIPT_BATCH) {
                    let mut c = redis::cmd("EVAL");
                    c.arg(REMOVE_LUA).arg(batch.len());
                    for f in batch {
                        c.arg(Self::key(prefix, "tl", &f.simple().to_string()));
                    }
                    c.arg(&pattern);
                    p.add_command(c).ignore();
                }
                p.query_async::<()>(&mut conn.clone()).await?;
                Ok(())
            }
        }
    }

    /// Stores a ranked list under `key` for `ttl` (at least 1 ms). Lists are
    /// snapshots: writers use a fresh key per ranking rather than rewriting.
    pub async fn put_list(&self, key: &str, ids: &[Uuid], ttl: Duration) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(m) => {
                let ttl = Duration::from_millis(ttl_ms(ttl));
                m.lists.insert(key.to_owned(), Expiring::new(Arc::new(ids.to_vec()), ttl)).await;
                Ok(())
            }
            FeedCache::Redis { conn, prefix } => {
                redis::cmd("SET")
                    .arg(Self::key(prefix, "list", key))
                    .arg(list_bytes(ids))
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .query_async::<()>(&mut conn.clone())
                    .await?;
                Ok(())
            }
        }
    }

    /// Stores a freshly ranked list (`key`, `ids`, `ttl`) and then points `pointer` at it (the
    /// value `list_id`, kept `pointer_ttl`): [`FeedCache::put_list`] then [`FeedCache::set`], in
    /// that order, in one round trip in Redis (a pipeline; the pointer never names a list that
    /// is not stored yet).
    pub async fn put_list_and_pointer(
        &self,
        (key, ids, ttl): (&str, &[Uuid], Duration),
        (pointer, list_id, pointer_ttl): (&str, &str, Duration),
    ) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(_) => {
                self.put_list(key, ids, ttl).await?;
                self.set(pointer, list_id.as_bytes(), pointer_ttl).await
            }
            FeedCache::Redis { conn, prefix } => {
                redis::pipe()
                    .cmd("SET")
                    .arg(Self::key(prefix, "list", key))
                    .arg(list_bytes(ids))
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .ignore()
                    .cmd("SET")
                    .arg(Self::key(prefix, "kv", pointer))
                    .arg(list_id.as_bytes())
                    .arg("PX")
                    .arg(ttl_ms(pointer_ttl))
                    .ignore()
                    .query_async::<()>(&mut conn.clone())
                    .await?;
                Ok(())
            }
        }
    }

    /// Up to `n` ids of the list `key` from `offset`: `None` when the list
    /// is missing or expired, `Some(vec![])` past its end. One round trip.
    pub async fn list_range(&self, key: &str, offset: usize, n: usize) -> Result<Option<Vec<Uuid>>, CacheError> {
        match self {
            FeedCache::Memory(m) => {
                let Some(e) = m.lists.get(key).await else {
                    return Ok(None);
                };
                Ok(e.live().map(|ids| ids.iter().skip(offset).take(n).copied().collect()))
            }
            FeedCache::Redis { conn, prefix } => {
                let k = Self::key(prefix, "list", key);
                // Byte positions, clamped far beyond any real list.
                let off = offset.min(1 << 32) as i64;
                let n = n.min(1 << 32) as i64;
                let start = 1 + off * 16;
                let end = start + n * 16 - 1;
                let (len, bytes): (usize, Vec<u8>) = redis::pipe()
                    .atomic()
                    .cmd("STRLEN")
                    .arg(&k)
                    .cmd("GETRANGE")
                    .arg(&k)
                    .arg(start)
                    .arg(end.max(start - 1))
                    .query_async(&mut conn.clone())
                    .await?;
                if len == 0 {
                    return Ok(None);
                }
                if n == 0 {
                    return Ok(Some(Vec::new()));
                }
                decode_ids(&k, &bytes).map(Some)
            }
        }
    }

    /// The length of the list `key`, `None` when it is missing or expired.
    pub async fn list_len(&self, key: &str) -> Result<Option<usize>, CacheError> {
        match self {
            FeedCache::Memory(m) => Ok(m.lists.get(key).await.and_then(|e| e.live().map(|ids| ids.len()))),
            FeedCache::Redis { conn, prefix } => {
                let len: usize =
                    redis::cmd("STRLEN").arg(Self::key(prefix, "list", key)).query_async(&mut conn.clone()).await?;
                Ok((len > 0).then(|| (len - 1) / 16))
            }
        }
    }

    /// The value stored under `key`, if any and not expired.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        match self {
            FeedCache::Memory(m) => Ok(m.values.get(key).await.and_then(|e| e.live().map(|v| v.to_vec()))),
            FeedCache::Redis { conn, prefix } => {
                let v: Option<Vec<u8>> =
                    redis::cmd("GET").arg(Self::key(prefix, "kv", key)).query_async(&mut conn.clone()).await?;
                Ok(v)
            }
        }
    }

    /// Stores `value` under `key` for `ttl` (at least 1 ms).
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(m) => {
                let ttl = Duration::from_millis(ttl_ms(ttl));
                m.values.insert(key.to_owned(), Expiring::new(Arc::from(value), ttl)).await;
                Ok(())
            }
            FeedCache::Redis { conn, prefix } => {
                redis::cmd("SET")
                    .arg(Self::key(prefix, "kv", key))
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .query_async::<()>(&mut conn.clone())
                    .await?;
                Ok(())
            }
        }
    }

    /// Deletes the value under `key` (no error when missing).
    pub async fn delete(&self, key: &str) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(m) => {
                m.values.invalidate(key).await;
                Ok(())
            }
            FeedCache::Redis { conn, prefix } => {
                redis::cmd("DEL").arg(Self::key(prefix, "kv", key)).query_async::<()>(&mut conn.clone()).await?;
                Ok(())
            }
        }
    }

    /// The current values of the epochs `names` (missing = 0), in order.
    /// One round trip (MGET) in Redis.
    pub async fn epochs(&self, names: &[&str]) -> Result<Vec<u64>, CacheError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            FeedCache::Memory(m) => {
                let e = m.epochs();
                Ok(names.iter().map(|n| e.get(*n).copied().unwrap_or(0)).collect())
            }
            FeedCache::Redis { conn, prefix } => {
                let keys: Vec<String> = names.iter().map(|n| Self::key(prefix, "epoch", n)).collect();
                let vals: Vec<Option<u64>> = redis::cmd("MGET").arg(keys).query_async(&mut conn.clone()).await?;
                Ok(vals.into_iter().map(|v| v.unwrap_or(0)).collect())
            }
        }
    }

    /// The value under `key` and the epochs `names`, read together (one round trip in Redis):
    /// a cached page and the counters that say whether it is still valid.
    pub async fn get_with_epochs(&self, key: &str, names: &[&str]) -> Result<(Option<Vec<u8>>, Vec<u64>), CacheError> {
        let (value, epochs, _) = self.get_with_epochs_and_flags(key, names, &[]).await?;
        Ok((value, epochs))
    }

    /// Like [`FeedCache::get_with_epochs`], and in the same round trip whether each of
    /// `foreign_keys` exists — full Redis key names outside this cache's prefix (a session's
    /// revocation marker, say). The memory engine has no foreign keys: it answers `false`.
    pub async fn get_with_epochs_and_flags(
        &self,
        key: &str,
        names: &[&str],
        foreign_keys: &[String],
    ) -> Result<(Option<Vec<u8>>, Vec<u64>, Vec<bool>), CacheError> {
        match self {
            FeedCache::Memory(_) => {
                Ok((self.get(key).await?, self.epochs(names).await?, vec![false; foreign_keys.len()]))
            }
            FeedCache::Redis { conn, prefix } => {
                let mut keys = Vec::with_capacity(names.len() + foreign_keys.len() + 1);
                keys.push(Self::key(prefix, "kv", key));
                keys.extend(names.iter().map(|n| Self::key(prefix, "epoch", n)));
                keys.extend(foreign_keys.iter().cloned());
                let mut vals: Vec<Option<Vec<u8>>> =
                    redis::cmd("MGET").arg(keys).query_async(&mut conn.clone()).await?;
                if vals.len() != names.len() + foreign_keys.len() + 1 {
                    return Err(CacheError::Corrupt {
                        key: key.to_owned(),
                        what: "MGET answered the wrong number of values".into(),
                    });
                }
                let flags: Vec<bool> = vals.split_off(names.len() + 1).into_iter().map(|v| v.is_some()).collect();
                let value = vals.remove(0);
                let mut epochs = Vec::with_capacity(names.len());
                for (v, n) in vals.into_iter().zip(names) {
                    let e = match v {
                        None => 0,
                        Some(b) => {
                            std::str::from_utf8(&b).ok().and_then(|t| t.parse::<u64>().ok()).ok_or_else(|| {
                                CacheError::Corrupt {
                                    key: (*n).to_owned(),
                                    what: "an epoch that is not a number".into(),
                                }
                            })?
                        }
                    };
                    epochs.push(e);
                }
                Ok((value, epochs, flags))
            }
        }
    }

    /// Increments the epoch `name` and returns its new value.
    pub async fn bump_epoch(&self, name: &str) -> Result<u64, CacheError> {
        match self {
            FeedCache::Memory(m) => {
                let mut e = m.epochs();
                let v = e.entry(name.to_owned()).or_insert(0);
                *v = v.saturating_add(1);
                Ok(*v)
            }
            FeedCache::Redis { conn, prefix } => {
                // Incremented and announced in one step; every API node's mirror applies it
                // before this returns (`reconnect::changes`).
                let ack = reconnect::changes::new_ack_id();
                let (v, receivers): (u64, u64) = redis::cmd("EVAL")
                    .arg(BUMP_LUA)
                    .arg(1)
                    .arg(Self::key(prefix, "epoch", name))
                    .arg(reconnect::changes::channel(prefix))
                    .arg(&ack)
                    .arg(name)
                    .query_async(&mut conn.clone())
                    .await?;
                reconnect::changes::await_applied(conn, prefix, &ack, receivers).await;
                Ok(v)
            }
        }
    }

    /// Deletes every key of this cache (SCAN + UNLINK on the prefix in Redis),
    /// e.g. for a cold-cache benchmark.
    pub async fn clear(&self) -> Result<(), CacheError> {
        match self {
            FeedCache::Memory(m) => {
                m.timelines.invalidate_all();
                m.lists.invalidate_all();
                m.values.invalidate_all();
                m.epochs().clear();
                Ok(())
            }
            FeedCache::Redis { conn, prefix } => {
                let mut c = conn.clone();
                let pattern = format!("{}:feed:*", glob_escape(prefix));
                let mut cursor: u64 = 0;
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut c)
                        .await?;
                    if !keys.is_empty() {
                        redis::cmd("UNLINK").arg(keys).query_async::<()>(&mut c).await?;
                    }
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
                Ok(())
            }
        }
    }
}

/// Splits concatenated 16-byte ids.
fn decode_ids(key: &str, bytes: &[u8]) -> Result<Vec<Uuid>, CacheError> {
    let chunks = bytes.chunks_exact(16);
    if !chunks.remainder().is_empty() {
        return Err(CacheError::Corrupt { key: key.to_owned(), what: format!("list of {} bytes", bytes.len()) });
    }
    Ok(chunks
        .map(|c| {
            let mut b = [0u8; 16];
            b.copy_from_slice(c);
            Uuid::from_bytes(b)
        })
        .collect())
}
