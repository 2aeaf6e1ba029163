//! The durable job queue and event channel: one API, two engines (in-process and Redis Streams).
//!
//! Delivery and failure, the same on both engines (`tests/queue.rs` runs every behaviour on each):
//!
//! - **Enqueue** is idempotent while a job is waiting or in flight (`<prefix>:entry` maps a job to
//!   its stream entry), so the backend may offer its live jobs again at every start.
//! - **Attempts.** A delivery's `attempt` is the entry's delivery count: 1 at first, +1 for every
//!   reclaim or retry.
//! - **A worker dies**: its delivery is neither acknowledged nor kept alive, so after `reclaim_idle`
//!   (60 s) the next `next` of any worker claims it (`XAUTOCLAIM`) as the next attempt. A healthy
//!   worker calls `keep_alive` three times per `reclaim_idle` window; only the holder of a delivery
//!   (same consumer, same attempt) can keep it alive or retry it.
//! - **An attempt fails**: `retry_later` backdates the delivery's idle time so that it is reclaimed
//!   after `retry_backoff × 2^(attempt − 1)`, capped at `reclaim_idle` (2 s, then 4 s by default).
//! - **Dead letter**: on the last allowed attempt (`max_deliveries`, 3) `retry_later` settles the job
//!   in one script: a dead letter on `<prefix>:dead`, a `Failed` event ("generation failed after N
//!   attempts"), `XACK`, `XDEL`; a job whose workers die on every delivery is dead-lettered the same
//!   way when claimed past the limit.
//! - **Cancel** marks the job in `<prefix>:cancelled` (kept a day): a waiting delivery is settled with
//!   `Cancelled` and skipped; a running worker polls `is_cancelled` and stops at its next step.
//! - **Events** go to `<prefix>:events`, read by one consumer group per reader (the API nodes share
//!   `backend`): each event is handled by one node, acknowledged after it was applied, reclaimed from
//!   a node that died holding it. A group created later starts at the oldest retained event. Event and
//!   dead-letter streams keep about 100,000 entries.
//! - **Help with shots.** Enqueuing a storyboard also offers its new shots after the first (those
//!   with no `source`), last first, as side work (`ShotWork`, `<prefix>:shots`): a worker that
//!   finds no job waiting takes one with `next_shot`, which skips shots of jobs no longer waiting or
//!   in flight, or cancelled, and claims the shot for it (`<prefix>:claim:<job>:<shot>`, held for
//!   `reclaim_idle` and renewed with `claim_shot`). Side work is taken at most once and never
//!   retried: the storyboard's own delivery makes any shot nobody kept. A claim is what keeps two
//!   workers off one shot: the storyboard's worker claims each shot before making it, and waits
//!   for a shot another worker holds.
//! - Every multi-step change (enqueue, claim, settle, hold, cancel) is one Lua script, so a crash
//!   never leaves half of one behind; blocking reads use a small pool of dedicated connections.

mod memory;
mod redis_streams;

use std::time::Duration;

use uuid::Uuid;

use crate::{JobEvent, JobSpec, QueueError, QueueSettings};

pub use memory::MemoryQueue;
pub use redis_streams::RedisQueue;

/// Events kept on the event channel for consumer groups that fall behind or start late.
pub(crate) const EVENT_RETENTION: usize = 100_000;
/// Dead letters kept for inspection.
pub(crate) const DEAD_LETTER_RETENTION: usize = 100_000;
/// How long a cancellation is remembered.
pub(crate) const CANCEL_MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// One job handed to one worker; give it back with `ack`, `retry_later` or let it time out.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The job to run.
    pub spec: JobSpec,
    /// Delivery number of this job: 1 on first delivery, +1 per redelivery (retry or reclaim).
    pub attempt: u32,
    /// Engine-specific entry id (a stream id in Redis).
    pub(crate) id: String,
    /// Consumer the job was delivered to, so only its holder can extend or retry it.
    pub(crate) consumer: String,
}

/// A storyboard's shot offered to a worker with nothing else to do, claimed for it by
/// `JobQueue::next_shot`: make it, keep it where the storyboard's own delivery looks for it, then
/// `release_shot`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShotWork {
    /// The storyboard's job.
    pub spec: JobSpec,
    /// Which shot (0 = the first).
    pub shot: usize,
}

/// The shots of `spec` offered as side work when it is enqueued: a storyboard's new shots (no
/// `source`) after the first, last first, so helpers start far from where the storyboard's own
/// worker begins.
pub(crate) fn offered_shots(spec: &JobSpec) -> Vec<usize> {
    if spec.shots.len() < 2 {
        return Vec::new();
    }
    (1..spec.shots.len()).rev().filter(|&i| spec.shots.get(i).is_some_and(|s| s.source.is_none())).collect()
}

/// A job the queue gave up on, kept for inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The job, or `None` when its payload could not be read.
    pub spec: Option<JobSpec>,
    /// Why it was dead-lettered (e.g. "gave up after 3 attempts").
    pub reason: String,
}

/// Reason written on a dead letter after `attempts` failed deliveries.
pub(crate) fn gave_up_reason(attempts: u32) -> String {
    format!("gave up after {attempts} attempts")
}

/// The `Failed` event sent to the backend (and read by the user) when a job is given up.
pub(crate) fn gave_up_event(job_id: Uuid, attempts: u32) -> JobEvent {
    JobEvent::Failed { job_id, reason: format!("generation failed after {attempts} attempts") }
}

/// The job queue and event channel, in-process or on Redis; cheap to clone and share.
#[derive(Debug, Clone)]
pub enum JobQueue {
    /// In-process engine for the one-command setup and tests; state dies with the process.
    Memory(MemoryQueue),
    /// Redis Streams engine with consumer groups; survives crashes of any process.
    Redis(RedisQueue),
}

impl JobQueue {
    /// An in-process queue. Call `settings.validate()` first if the values come from config.
    pub fn memory(settings: QueueSettings) -> Self {
        Self::Memory(MemoryQueue::new(settings))
    }

    /// A queue on Redis at `url`, keeping all its keys under `<prefix>:`.
    pub async fn redis(url: &str, prefix: &str, settings: QueueSettings) -> Result<Self, QueueError> {
        Ok(Self::Redis(RedisQueue::connect(url, prefix, settings).await?))
    }

    /// Which engine runs this queue: `"memory"` or `"redis"`.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
        }
    }

    /// The settings this queue runs with.
    pub fn settings(&self) -> &QueueSettings {
        match self {
            Self::Memory(q) => q.settings(),
            Self::Redis(q) => q.settings(),
        }
    }

    /// Adds a job at the tail; `false` (and nothing added) when this job id is already queued
    /// or in flight, so re-enqueueing after an unsure write is safe.
    pub async fn enqueue(&self, spec: &JobSpec) -> Result<bool, QueueError> {
        match self {
            Self::Memory(q) => q.enqueue(spec).await,
            Self::Redis(q) => q.enqueue(spec).await,
        }
    }

    /// Next job for `consumer`, waiting up to `block`: stale deliveries of dead workers first,
    /// then new jobs in FIFO order. Skips (and reports) cancelled and given-up jobs.
    pub async fn next(&self, consumer: &str, block: Duration) -> Result<Option<Delivery>, QueueError> {
        match self {
            Self::Memory(q) => q.next(consumer, block).await,
            Self::Redis(q) => q.next(consumer, block).await,
        }
    }

    /// The job is done (whatever the outcome the worker reported): remove it for good.
    pub async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        match self {
            Self::Memory(q) => q.ack(delivery).await,
            Self::Redis(q) => q.ack(delivery).await,
        }
    }

    /// The attempt failed in a way worth retrying: offer the job again after
    /// `settings.retry_delay(attempt)`; on the last allowed attempt, dead-letter it now and
    /// publish `Failed`. Does nothing if the delivery was already reclaimed by another worker.
    pub async fn retry_later(&self, delivery: &Delivery) -> Result<(), QueueError> {
        match self {
            Self::Memory(q) => q.retry_later(delivery).await,
            Self::Redis(q) => q.retry_later(delivery).await,
        }
    }

    /// Tells the queue the worker is still on the job, so it is not reclaimed after
    /// `reclaim_idle`; `false` when the job was already reclaimed, acked or given up.
    pub async fn keep_alive(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        match self {
            Self::Memory(q) => q.keep_alive(delivery).await,
            Self::Redis(q) => q.keep_alive(delivery).await,
        }
    }

    /// Marks a job cancelled (remembered for a day); a queued job is skipped at delivery.
    pub async fn cancel(&self, job_id: Uuid) -> Result<(), QueueError> {
        match self {
            Self::Memory(q) => q.cancel(job_id).await,
            Self::Redis(q) => q.cancel(job_id).await,
        }
    }

    /// Whether `cancel` was called for this job in the last day.
    pub async fn is_cancelled(&self, job_id: Uuid) -> Result<bool, QueueError> {
        match self {
            Self::Memory(q) => q.is_cancelled(job_id).await,
            Self::Redis(q) => q.is_cancelled(job_id).await,
        }
    }

    /// Jobs waiting ahead of this one (0 = next to go); `None` once it was delivered, or if
    /// it is unknown.
    pub async fn position(&self, job_id: Uuid) -> Result<Option<u64>, QueueError> {
        match self {
            Self::Memory(q) => q.position(job_id).await,
            Self::Redis(q) => q.position(job_id).await,
        }
    }

    /// Puts a held job back at the tail as a new entry, without counting an attempt (a long job
    /// makes way for the jobs behind it, and is taken again in its turn); `false`, and nothing
    /// changed, when the delivery is no longer held (reclaimed, acked or given up).
    pub async fn requeue(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        match self {
            Self::Memory(q) => q.requeue(delivery).await,
            Self::Redis(q) => q.requeue(delivery).await,
        }
    }

    /// A storyboard's shot for a worker that found no job waiting (see the module docs), claimed
    /// for `consumer`; `None` when no live storyboard has a shot on offer that nobody holds.
    pub async fn next_shot(&self, consumer: &str) -> Result<Option<ShotWork>, QueueError> {
        match self {
            Self::Memory(q) => q.next_shot(consumer).await,
            Self::Redis(q) => q.next_shot(consumer).await,
        }
    }

    /// Claims shot `shot` of `job` for `holder` for `reclaim_idle`, or renews `holder`'s claim;
    /// `false` while another holder has it.
    pub async fn claim_shot(&self, job: Uuid, shot: usize, holder: &str) -> Result<bool, QueueError> {
        match self {
            Self::Memory(q) => q.claim_shot(job, shot, holder).await,
            Self::Redis(q) => q.claim_shot(job, shot, holder).await,
        }
    }

    /// Lets go of `holder`'s claim on a shot (nothing happens when another holder has it).
    pub async fn release_shot(&self, job: Uuid, shot: usize, holder: &str) -> Result<(), QueueError> {
        match self {
            Self::Memory(q) => q.release_shot(job, shot, holder).await,
            Self::Redis(q) => q.release_shot(job, shot, holder).await,
        }
    }

    /// Whether a job is waiting or in flight (not yet acked, cancelled at delivery or given up).
    pub async fn is_live(&self, job_id: Uuid) -> Result<bool, QueueError> {
        match self {
            Self::Memory(q) => q.is_live(job_id).await,
            Self::Redis(q) => q.is_live(job_id).await,
        }
    }

    /// Jobs waiting for a worker (never delivered; not those in flight).
    pub async fn waiting(&self) -> Result<u64, QueueError> {
        match self {
            Self::Memory(q) => q.waiting().await,
            Self::Redis(q) => q.waiting().await,
        }
    }

    /// Jobs not yet acked: waiting plus in flight.
    pub async fn depth(&self) -> Result<u64, QueueError> {
        match self {
            Self::Memory(q) => q.depth().await,
            Self::Redis(q) => q.depth().await,
        }
    }

    /// The most recent dead letters, newest first.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        match self {
            Self::Memory(q) => q.dead_letters(limit).await,
            Self::Redis(q) => q.dead_letters(limit).await,
        }
    }

    /// Appends an event to the durable event channel (generator → backend).
    pub async fn publish(&self, event: &JobEvent) -> Result<(), QueueError> {
        match self {
            Self::Memory(q) => q.publish(event).await,
            Self::Redis(q) => q.publish(event).await,
        }
    }

    /// Up to `count` events for `consumer` of consumer `group`, waiting up to `block`: stale
    /// un-acked events of dead consumers first, then new ones. Every group sees every event;
    /// a new group starts at the oldest retained event.
    pub async fn next_events(
        &self,
        group: &str,
        consumer: &str,
        block: Duration,
        count: usize,
    ) -> Result<Vec<(String, JobEvent)>, QueueError> {
        match self {
            Self::Memory(q) => q.next_events(group, consumer, block, count).await,
            Self::Redis(q) => q.next_events(group, consumer, block, count).await,
        }
    }

    /// Marks events (ids from `next_events`) handled by `group`, so they are not redelivered.
    pub async fn ack_events(&self, group: &str, ids: &[String]) -> Result<(), QueueError> {
        match self {
            Self::Memory(q) => q.ack_events(group, ids).await,
            Self::Redis(q) => q.ack_events(group, ids).await,
        }
    }

    /// Checks the engine answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(q) => q.ping().await,
        }
    }
}
