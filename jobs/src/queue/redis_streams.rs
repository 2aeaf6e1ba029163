//! Redis Streams engine: jobs on `<prefix>:jobs` read by consumer group `workers`, events on
//! `<prefix>:events` read by one consumer group per reader (e.g. the API nodes).
//!
//! Keys: `<prefix>:jobs` (stream), `<prefix>:entry` (hash job id → stream id of waiting or
//! in-flight jobs), `<prefix>:dead` (stream of dead letters), `<prefix>:cancelled` (sorted set
//! job id → cancel time), `<prefix>:events` (stream), `<prefix>:shots` (list of storyboard shots on
//! offer, `<job> <shot> <spec json>`, the newest `SHOTS_KEPT`), `<prefix>:claim:<job>:<shot>`
//! (a shot's holder, expiring after `reclaim_idle`). Multi-step changes run as Lua scripts so
//! a crash never leaves half of one behind.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use reconnect::Reconnecting;
use redis::aio::{ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::StreamReadReply;
use redis::{AsyncConnectionConfig, Client, Cmd, FromRedisValue, Script};
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    CANCEL_MEMORY, DEAD_LETTER_RETENTION, DeadLetter, Delivery, EVENT_RETENTION, ShotWork, gave_up_event,
    gave_up_reason, offered_shots,
};
use crate::{JobEvent, JobSpec, QueueError, QueueSettings};

/// Consumer group of the generator workers on the jobs stream.
const WORKERS: &str = "workers";
/// Extra time a blocking read may take beyond its BLOCK before the connection is abandoned.
const BLOCK_MARGIN: Duration = Duration::from_secs(2);
/// Time limit of ordinary (non-blocking) commands.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Floor of `poll_interval`, so a zero backoff does not spin.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Idle blocking-read connections kept for reuse.
const BLOCKING_POOL_SIZE: usize = 8;

/// Shots on offer kept at most (older ones, of storyboards long done, fall off).
const SHOTS_KEPT: usize = 10_000;

/// Adds a job unless its id is already waiting or in flight, and offers its shots (ARGV[4..])
/// as side work. → 1 added, 0 already there.
static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing and #redis.call('XRANGE', KEYS[1], existing, existing) > 0 then return 0 end
local id = redis.call('XADD', KEYS[1], '*', 'job', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], id)
if #ARGV > 3 then
  for i = 4, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
end
return 1
",
    )
});

/// Whether a job is waiting or in flight. → 1 or 0.
static LIVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if entry and #redis.call('XRANGE', KEYS[1], entry, entry) > 0 then return 1 end
return 0
",
    )
});

/// Takes the first shot on offer whose job is live and not cancelled and that nobody holds,
/// claiming it for ARGV[2] for ARGV[3] ms (entries passed over are dropped). → the entry or nil.
static NEXT_SHOT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for _ = 1, 64 do
  local raw = redis.call('LPOP', KEYS[1])
  if not raw then return false end
  local job, shot = string.match(raw, '^(%S+) (%d+) ')
  if job then
    local entry = redis.call('HGET', KEYS[2], job)
    if entry and #redis.call('XRANGE', KEYS[3], entry, entry) > 0 and not redis.call('ZSCORE', KEYS[4], job) then
      if redis.call('SET', ARGV[1] .. job .. ':' .. shot, ARGV[2], 'NX', 'PX', ARGV[3]) then return raw end
    end
  end
end
return false
",
    )
});

/// Claims a shot for ARGV[1] for ARGV[2] ms, or renews ARGV[1]'s claim. → 1 held, 0 another's.
static CLAIM_SHOT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
",
    )
});

/// Deletes a shot's claim if ARGV[1] holds it.
static RELEASE_SHOT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
",
    )
});

/// XAUTOCLAIM walked to the end of the pending list until something is claimed, with each
/// claimed entry's delivery count. → {{id, {field, value, ...}, deliveries}, ...}
static CLAIM_STALE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cursor = '0-0'
local out = {}
repeat
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', ARGV[4])
  cursor = r[1]
  for _, e in ipairs(r[2]) do
    if e then
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
      local n = 1
      if #p > 0 then n = p[1][4] end
      out[#out + 1] = {e[1], e[2], n}
    end
  end
until #out > 0 or cursor == '0-0'
return out
",
    )
});

/// Ends a job entry: optional dead letter, optional event, XACK + XDEL, forget the job id.
/// With an owner given, does nothing (→ 0) unless that owner still holds that delivery.
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[4] ~= '' then
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
  if #p == 0 or p[1][2] ~= ARGV[4] or tonumber(p[1][4]) ~= tonumber(ARGV[5]) then return 0 end
end
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', 'job', ARGV[6], 'reason', ARGV[7])
end
if ARGV[8] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], '*', 'event', ARGV[8])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[3] ~= '' and redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
return 1
",
    )
});

/// Sets a held delivery's idle time (keep-alive: 0; retry: so it is reclaimed after the
/// backoff). XCLAIM JUSTID does not count a delivery. → 1 still held, 0 lost.
static HOLD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] or tonumber(p[1][4]) ~= tonumber(ARGV[4]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'IDLE', ARGV[5], 'JUSTID')
return 1
",
    )
});

/// Puts a held delivery back at the tail as a new entry (XACK + XDEL, XADD, the job id's entry
/// moved), unless the owner no longer holds it. → 1 requeued, 0 lost.
static REQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[4] or tonumber(p[1][4]) ~= tonumber(ARGV[5]) then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
local id = redis.call('XADD', KEYS[1], '*', 'job', ARGV[6])
redis.call('HSET', KEYS[2], ARGV[3], id)
return 1
",
    )
});

/// Entries never delivered to the workers' group: the stream's length less its pending list.
static WAITING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('XLEN', KEYS[1])
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if ok and p[1] then n = n - tonumber(p[1]) end
if n < 0 then n = 0 end
return n
",
    )
});

/// Remembers a cancellation with the server's clock; forgets those older than ARGV[2] ms.
static CANCEL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
",
    )
});

/// Undelivered entries ahead of a job's entry; -1 when it is not waiting.
static POSITION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry then return -1 end
if #redis.call('XRANGE', KEYS[1], entry, entry) == 0 then return -1 end
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, id
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then id = g[i + 1] end
  end
  if name == ARGV[2] and id then last = id end
end
local ems, eseq = string.match(entry, '^(%d+)-(%d+)$')
local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
ems, eseq, lms, lseq = tonumber(ems), tonumber(eseq), tonumber(lms), tonumber(lseq)
if ems < lms or (ems == lms and eseq <= lseq) then return -1 end
return #redis.call('XRANGE', KEYS[1], '(' .. last, '(' .. entry)
",
    )
});

/// The keys of one queue.
#[derive(Debug)]
struct Keys {
    jobs: String,
    entry: String,
    dead: String,
    cancelled: String,
    events: String,
    shots: String,
    /// `<prefix>:claim:`, followed by `<job>:<shot>`.
    claim: String,
}

/// One stream entry as read or claimed.
struct RawEntry {
    id: String,
    payload: Option<Vec<u8>>,
    deliveries: u32,
}

/// The Redis Streams queue engine; clones share connections.
#[derive(Clone)]
pub struct RedisQueue {
    settings: QueueSettings,
    keys: Arc<Keys>,
    conn: Reconnecting,
    blocking: Arc<BlockingPool>,
    jobs_group_ready: Arc<AtomicBool>,
    event_groups_ready: Arc<std::sync::Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue").field("settings", &self.settings).field("keys", &self.keys).finish_non_exhaustive()
    }
}

/// Dedicated connections for blocking reads: a BLOCKed command would stall every other
/// command multiplexed on the same connection.
struct BlockingPool {
    client: Client,
    idle: std::sync::Mutex<Vec<MultiplexedConnection>>,
}

impl BlockingPool {
    async fn take(&self) -> Result<MultiplexedConnection, QueueError> {
        let reused = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(conn) = reused {
            return Ok(conn);
        }
        let config = AsyncConnectionConfig::new().set_response_timeout(None);
        Ok(self.client.get_multiplexed_async_connection_with_config(&config).await?)
    }

    fn give_back(&self, conn: MultiplexedConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < BLOCKING_POOL_SIZE {
            idle.push(conn);
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn is_error_code(e: &QueueError, code: &str) -> bool {
    matches!(e, QueueError::Redis(r) if r.code() == Some(code))
}

/// The job id inside a payload that does not parse as a whole `JobSpec`, if there is one.
fn job_id_of(payload: &[u8]) -> Option<Uuid> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    value.get("job_id")?.as_str()?.parse().ok()
}

impl RedisQueue {
    pub(crate) async fn connect(url: &str, prefix: &str, settings: QueueSettings) -> Result<Self, QueueError> {
        settings.validate()?;
        let client = Client::open(url)?;
        let config = ConnectionManagerConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT));
        let conn = Reconnecting::connect(url, config).await?;
        Ok(Self {
            settings,
            keys: Arc::new(Keys {
                jobs: format!("{prefix}:jobs"),
                entry: format!("{prefix}:entry"),
                dead: format!("{prefix}:dead"),
                cancelled: format!("{prefix}:cancelled"),
                events: format!("{prefix}:events"),
                shots: format!("{prefix}:shots"),
                claim: format!("{prefix}:claim:"),
            }),
            conn,
            blocking: Arc::new(BlockingPool { client, idle: std::sync::Mutex::new(Vec::new()) }),
            jobs_group_ready: Arc::new(AtomicBool::new(false)),
            event_groups_ready: Arc::new(std::sync::Mutex::new(HashSet::new())),
        })
    }

    pub(crate) fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// Longest single blocking read: stale and retried entries only show up through
    /// XAUTOCLAIM, so a waiting consumer looks for them at least this often.
    fn poll_interval(&self) -> Duration {
        self.settings.reclaim_idle.min(self.settings.retry_backoff).max(MIN_POLL_INTERVAL)
    }

    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, QueueError> {
        let mut conn = self.conn.clone();
        Ok(cmd.query_async(&mut conn).await?)
    }

    /// Creates a consumer group reading the stream from its start (ignores BUSYGROUP).
    async fn create_group(&self, stream: &str, group: &str) -> Result<(), QueueError> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE").arg(stream).arg(group).arg("0").arg("MKSTREAM");
        match self.query::<()>(&cmd).await {
            Err(e) if is_error_code(&e, "BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    async fn ensure_jobs_group(&self) -> Result<(), QueueError> {
        if !self.jobs_group_ready.load(Ordering::Acquire) {
            self.create_group(&self.keys.jobs, WORKERS).await?;
            self.jobs_group_ready.store(true, Ordering::Release);
        }
        Ok(())
    }

    async fn ensure_event_group(&self, group: &str) -> Result<(), QueueError> {
        let known = self.event_groups_ready.lock().unwrap_or_else(|e| e.into_inner()).contains(group);
        if !known {
            self.create_group(&self.keys.events, group).await?;
            self.event_groups_ready.lock().unwrap_or_else(|e| e.into_inner()).insert(group.to_owned());
        }
        Ok(())
    }

    /// Claims up to `count` entries idle longer than `reclaim_idle` for `consumer`.
    async fn claim_stale(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        field: &str,
        count: usize,
    ) -> Result<Vec<RawEntry>, QueueError> {
        let mut conn = self.conn.clone();
        let rows: Vec<(String, Vec<Vec<u8>>, u32)> = CLAIM_STALE
            .key(stream)
            .arg(group)
            .arg(consumer)
            .arg(millis(self.settings.reclaim_idle))
            .arg(count)
            .invoke_async(&mut conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, fields, deliveries)| {
                let payload = fields
                    .chunks_exact(2)
                    .find(|kv| kv.first().is_some_and(|k| k.as_slice() == field.as_bytes()))
                    .and_then(|kv| kv.get(1).cloned());
                RawEntry { id, payload, deliveries }
            })
            .collect())
    }

    /// XREADGROUP of new entries, blocking up to `wait` on a dedicated connection.
    async fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        field: &str,
        count: usize,
        wait: Duration,
    ) -> Result<Vec<RawEntry>, QueueError> {
        let block_ms = millis(wait);
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(group).arg(consumer).arg("COUNT").arg(count);
        if block_ms > 0 {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(stream).arg(">");
        let reply: Option<StreamReadReply> = if block_ms == 0 {
            self.query(&cmd).await?
        } else {
            let mut conn = self.blocking.take().await?;
            let limit = wait + BLOCK_MARGIN;
            // On error or timeout the connection is dropped, never reused mid-command.
            let reply = tokio::time::timeout(limit, cmd.query_async(&mut conn))
                .await
                .map_err(|_| QueueError::Timeout(limit))??;
            self.blocking.give_back(conn);
            reply
        };
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|entry| RawEntry { payload: entry.get::<Vec<u8>>(field), id: entry.id, deliveries: 1 })
            .collect())
    }

    async fn settle(
        &self,
        id: &str,
        job_id: Option<Uuid>,
        owner: Option<(&str, u32)>,
        dead: Option<(&[u8], &str)>,
        event: Option<&JobEvent>,
    ) -> Result<bool, QueueError> {
        let event = event.map(serde_json::to_string).transpose()?;
        let (owner, attempt) = owner.unwrap_or(("", 0));
        let (dead_payload, dead_reason) = dead.unwrap_or((b"", ""));
        let mut conn = self.conn.clone();
        let done: i64 = SETTLE
            .key(&self.keys.jobs)
            .key(&self.keys.entry)
            .key(&self.keys.dead)
            .key(&self.keys.events)
            .arg(WORKERS)
            .arg(id)
            .arg(job_id.map(|j| j.to_string()).unwrap_or_default())
            .arg(owner)
            .arg(attempt)
            .arg(dead_payload)
            .arg(dead_reason)
            .arg(event.unwrap_or_default())
            .arg(EVENT_RETENTION.max(DEAD_LETTER_RETENTION))
            .invoke_async(&mut conn)
            .await?;
        Ok(done == 1)
    }

    pub(crate) async fn enqueue(&self, spec: &JobSpec) -> Result<bool, QueueError> {
        self.ensure_jobs_group().await?;
        let payload = serde_json::to_string(spec)?;
        let mut conn = self.conn.clone();
        let mut script = ENQUEUE.key(&self.keys.jobs);
        script.key(&self.keys.entry).key(&self.keys.shots).arg(spec.job_id.to_string()).arg(&payload).arg(SHOTS_KEPT);
        for shot in offered_shots(spec) {
            script.arg(format!("{} {shot} {payload}", spec.job_id));
        }
        let added: i64 = script.invoke_async(&mut conn).await?;
        Ok(added == 1)
    }

    pub(crate) async fn next_shot(&self, consumer: &str) -> Result<Option<ShotWork>, QueueError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = NEXT_SHOT
            .key(&self.keys.shots)
            .key(&self.keys.entry)
            .key(&self.keys.jobs)
            .key(&self.keys.cancelled)
            .arg(&self.keys.claim)
            .arg(consumer)
            .arg(millis(self.settings.reclaim_idle))
            .invoke_async(&mut conn)
            .await?;
        let Some(raw) = raw else { return Ok(None) };
        let mut fields = raw.splitn(3, ' ');
        let (_, shot, payload) = (fields.next(), fields.next(), fields.next());
        match (shot.and_then(|s| s.parse::<usize>().ok()), payload.map(serde_json::from_str::<JobSpec>)) {
            (Some(shot), Some(Ok(spec))) => Ok(Some(ShotWork { spec, shot })),
            _ => {
                tracing::warn!("a shot on offer could not be read; dropped");
                Ok(None)
            }
        }
    }

    fn claim_key(&self, job: Uuid, shot: usize) -> String {
        format!("{}{job}:{shot}", self.keys.claim)
    }

    pub(crate) async fn claim_shot(&self, job: Uuid, shot: usize, holder: &str) -> Result<bool, QueueError> {
        let mut conn = self.conn.clone();
        let held: i64 = CLAIM_SHOT
            .key(self.claim_key(job, shot))
            .arg(holder)
            .arg(millis(self.settings.reclaim_idle))
            .invoke_async(&mut conn)
            .await?;
        Ok(held == 1)
    }

    pub(crate) async fn release_shot(&self, job: Uuid, shot: usize, holder: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: i64 = RELEASE_SHOT.key(self.claim_key(job, shot)).arg(holder).invoke_async(&mut conn).await?;
        Ok(())
    }

    pub(crate) async fn is_live(&self, job_id: Uuid) -> Result<bool, QueueError> {
        let mut conn = self.conn.clone();
        let live: i64 =
            LIVE.key(&self.keys.jobs).key(&self.keys.entry).arg(job_id.to_string()).invoke_async(&mut conn).await?;
        Ok(live == 1)
    }

    pub(crate) async fn next(&self, consumer: &str, block: Duration) -> Result<Option<Delivery>, QueueError> {
        self.ensure_jobs_group().await?;
        let deadline = Instant::now() + block;
        let mut regrouped = false;
        loop {
            let entry = match self.take(consumer, deadline).await {
                // The stream was deleted under us (e.g. FLUSHDB): recreate the group once.
                Err(e) if is_error_code(&e, "NOGROUP") && !regrouped => {
                    regrouped = true;
                    self.create_group(&self.keys.jobs, WORKERS).await?;
                    continue;
                }
                other => other?,
            };
            match entry {
                Some(entry) => {
                    if let Some(delivery) = self.admit(consumer, entry).await? {
                        return Ok(Some(delivery));
                    }
                }
                None if Instant::now() >= deadline => return Ok(None),
                None => {}
            }
        }
    }

    /// A stale entry if any, else a new one, waiting at most until `deadline` (in slices of
    /// `poll_interval`, so stale and retried entries are looked for again while waiting).
    async fn take(&self, consumer: &str, deadline: Instant) -> Result<Option<RawEntry>, QueueError> {
        let stale = self.claim_stale(&self.keys.jobs, WORKERS, consumer, "job", 1).await?;
        if let Some(entry) = stale.into_iter().next() {
            return Ok(Some(entry));
        }
        let wait = deadline.saturating_duration_since(Instant::now()).min(self.poll_interval());
        let fresh = self.read_new(&self.keys.jobs, WORKERS, consumer, "job", 1, wait).await?;
        Ok(fresh.into_iter().next())
    }

    /// Turns a claimed entry into a delivery, or settles it (cancelled, given up) → `None`.
    async fn admit(&self, consumer: &str, entry: RawEntry) -> Result<Option<Delivery>, QueueError> {
        let payload = entry.payload.unwrap_or_default();
        let spec = serde_json::from_slice::<JobSpec>(&payload);
        let job_id = spec.as_ref().ok().map(|s| s.job_id).or_else(|| job_id_of(&payload));
        let owner = Some((consumer, entry.deliveries));

        if let Ok(spec) = &spec
            && self.is_cancelled(spec.job_id).await?
        {
            tracing::info!(job_id = %spec.job_id, "skipped a cancelled job");
            let event = JobEvent::Cancelled { job_id: spec.job_id };
            self.settle(&entry.id, job_id, owner, None, Some(&event)).await?;
            return Ok(None);
        }
        if entry.deliveries > self.settings.max_deliveries {
            let attempts = entry.deliveries - 1;
            tracing::warn!(job_id = ?job_id, attempts, stream_id = %entry.id, "dead-lettered a job");
            let event = job_id.map(|j| gave_up_event(j, attempts));
            let reason = gave_up_reason(attempts);
            let dead = Some((payload.as_slice(), reason.as_str()));
            self.settle(&entry.id, job_id, owner, dead, event.as_ref()).await?;
            return Ok(None);
        }
        match spec {
            Ok(spec) => {
                if entry.deliveries > 1 {
                    tracing::info!(job_id = %spec.job_id, attempt = entry.deliveries, consumer, "redelivered a job");
                }
                Ok(Some(Delivery { spec, attempt: entry.deliveries, id: entry.id, consumer: consumer.to_owned() }))
            }
            Err(error) => {
                // Perhaps written by a newer release: leave it pending for another worker;
                // the delivery limit still ends it.
                tracing::error!(job_id = ?job_id, stream_id = %entry.id, %error, "unreadable job left pending");
                Ok(None)
            }
        }
    }

    pub(crate) async fn ack(&self, d: &Delivery) -> Result<(), QueueError> {
        self.settle(&d.id, Some(d.spec.job_id), None, None, None).await?;
        Ok(())
    }

    async fn hold(&self, d: &Delivery, idle: Duration) -> Result<bool, QueueError> {
        let mut conn = self.conn.clone();
        let held: i64 = HOLD
            .key(&self.keys.jobs)
            .arg(WORKERS)
            .arg(&d.id)
            .arg(&d.consumer)
            .arg(d.attempt)
            .arg(millis(idle))
            .invoke_async(&mut conn)
            .await?;
        Ok(held == 1)
    }

    pub(crate) async fn retry_later(&self, d: &Delivery) -> Result<(), QueueError> {
        let still_held = if d.attempt >= self.settings.max_deliveries {
            let payload = serde_json::to_vec(&d.spec)?;
            let reason = gave_up_reason(d.attempt);
            let event = gave_up_event(d.spec.job_id, d.attempt);
            let owner = Some((d.consumer.as_str(), d.attempt));
            let dead = Some((payload.as_slice(), reason.as_str()));
            let settled = self.settle(&d.id, Some(d.spec.job_id), owner, dead, Some(&event)).await?;
            if settled {
                tracing::warn!(job_id = %d.spec.job_id, attempts = d.attempt, "dead-lettered a job");
            }
            settled
        } else {
            // Backdate the idle time so the entry becomes reclaimable after the backoff.
            let idle = self.settings.reclaim_idle.saturating_sub(self.settings.retry_delay(d.attempt));
            self.hold(d, idle).await?
        };
        if !still_held {
            tracing::debug!(job_id = %d.spec.job_id, "retry_later on a delivery no longer held");
        }
        Ok(())
    }

    pub(crate) async fn requeue(&self, d: &Delivery) -> Result<bool, QueueError> {
        let payload = serde_json::to_string(&d.spec)?;
        let mut conn = self.conn.clone();
        let done: i64 = REQUEUE
            .key(&self.keys.jobs)
            .key(&self.keys.entry)
            .arg(WORKERS)
            .arg(&d.id)
            .arg(d.spec.job_id.to_string())
            .arg(&d.consumer)
            .arg(d.attempt)
            .arg(payload)
            .invoke_async(&mut conn)
            .await?;
        Ok(done == 1)
    }

    pub(crate) async fn waiting(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let n: i64 = WAITING.key(&self.keys.jobs).arg(WORKERS).invoke_async(&mut conn).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) async fn keep_alive(&self, d: &Delivery) -> Result<bool, QueueError> {
        self.hold(d, Duration::ZERO).await
    }

    pub(crate) async fn cancel(&self, job_id: Uuid) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: i64 = CANCEL
            .key(&self.keys.cancelled)
            .arg(job_id.to_string())
            .arg(millis(CANCEL_MEMORY))
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    pub(crate) async fn is_cancelled(&self, job_id: Uuid) -> Result<bool, QueueError> {
        let mut cmd = redis::cmd("ZSCORE");
        cmd.arg(&self.keys.cancelled).arg(job_id.to_string());
        let score: Option<f64> = self.query(&cmd).await?;
        Ok(score.is_some())
    }

    pub(crate) async fn position(&self, job_id: Uuid) -> Result<Option<u64>, QueueError> {
        let mut conn = self.conn.clone();
        let ahead: i64 = POSITION
            .key(&self.keys.jobs)
            .key(&self.keys.entry)
            .arg(job_id.to_string())
            .arg(WORKERS)
            .invoke_async(&mut conn)
            .await?;
        Ok(u64::try_from(ahead).ok())
    }

    pub(crate) async fn depth(&self) -> Result<u64, QueueError> {
        // Every way out of the queue (ack, cancel, dead letter) also XDELs the entry.
        let mut cmd = redis::cmd("XLEN");
        cmd.arg(&self.keys.jobs);
        self.query(&cmd).await
    }

    pub(crate) async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(&self.keys.dead).arg("+").arg("-").arg("COUNT").arg(limit);
        let reply: redis::streams::StreamRangeReply = self.query(&cmd).await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| DeadLetter {
                spec: entry.get::<Vec<u8>>("job").and_then(|p| serde_json::from_slice(&p).ok()),
                reason: entry.get("reason").unwrap_or_default(),
            })
            .collect())
    }

    pub(crate) async fn publish(&self, event: &JobEvent) -> Result<(), QueueError> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.keys.events)
            .arg("MAXLEN")
            .arg("~")
            .arg(EVENT_RETENTION)
            .arg("*")
            .arg("event")
            .arg(serde_json::to_string(event)?);
        self.query::<String>(&cmd).await?;
        Ok(())
    }

    pub(crate) async fn next_events(
        &self,
        group: &str,
        consumer: &str,
        block: Duration,
        count: usize,
    ) -> Result<Vec<(String, JobEvent)>, QueueError> {
        self.ensure_event_group(group).await?;
        let count = count.max(1);
        let deadline = Instant::now() + block;
        let mut regrouped = false;
        loop {
            let entries = match self.take_events(group, consumer, count, deadline).await {
                Err(e) if is_error_code(&e, "NOGROUP") && !regrouped => {
                    regrouped = true;
                    self.create_group(&self.keys.events, group).await?;
                    continue;
                }
                other => other?,
            };
            let events = self.decode_events(group, entries).await?;
            if !events.is_empty() || Instant::now() >= deadline {
                return Ok(events);
            }
        }
    }

    async fn take_events(
        &self,
        group: &str,
        consumer: &str,
        count: usize,
        deadline: Instant,
    ) -> Result<Vec<RawEntry>, QueueError> {
        let events = &self.keys.events;
        let stale = self.claim_stale(events, group, consumer, "event", count).await?;
        if !stale.is_empty() {
            return Ok(stale);
        }
        let wait = deadline.saturating_duration_since(Instant::now()).min(self.poll_interval());
        self.read_new(events, group, consumer, "event", count, wait).await
    }

    /// Decodes events; an unreadable one stays pending for a newer reader until it has been
    /// delivered more than `max_deliveries` times, then it is acked and logged.
    async fn decode_events(&self, group: &str, entries: Vec<RawEntry>) -> Result<Vec<(String, JobEvent)>, QueueError> {
        let mut out = Vec::with_capacity(entries.len());
        let mut dropped = Vec::new();
        for entry in entries {
            let payload = entry.payload.unwrap_or_default();
            match serde_json::from_slice::<JobEvent>(&payload) {
                Ok(event) => out.push((entry.id, event)),
                Err(error) => {
                    let text = String::from_utf8_lossy(&payload);
                    if entry.deliveries > self.settings.max_deliveries {
                        tracing::error!(event_id = %entry.id, payload = %text, %error, "dropped an unreadable event");
                        dropped.push(entry.id);
                    } else {
                        tracing::error!(event_id = %entry.id, payload = %text, %error, "unreadable event left pending");
                    }
                }
            }
        }
        self.ack_events(group, &dropped).await?;
        Ok(out)
    }

    pub(crate) async fn ack_events(&self, group: &str, ids: &[String]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("XACK");
        cmd.arg(&self.keys.events).arg(group).arg(ids);
        self.query::<i64>(&cmd).await?;
        Ok(())
    }

    pub(crate) async fn ping(&self) -> Result<(), QueueError> {
        self.query::<String>(&redis::cmd("PING")).await?;
        Ok(())
    }
}
