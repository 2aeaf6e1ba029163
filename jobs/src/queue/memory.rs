//! In-process engine: the same delivery rules as Redis, held in one mutex-guarded state.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    CANCEL_MEMORY, DEAD_LETTER_RETENTION, DeadLetter, Delivery, EVENT_RETENTION, ShotWork, gave_up_event,
    gave_up_reason, offered_shots,
};
use crate::{JobEvent, JobSpec, QueueError, QueueSettings};

/// The in-process queue engine; clones share one queue.
#[derive(Debug, Clone)]
pub struct MemoryQueue {
    settings: QueueSettings,
    state: Arc<Mutex<State>>,
    /// Woken when a job may have become available (enqueue, new in-flight deadline).
    jobs_changed: Arc<Notify>,
    /// Woken when an event was published or a pending event's deadline moved.
    events_changed: Arc<Notify>,
}

#[derive(Debug, Default)]
struct State {
    next_seq: u64,
    /// Jobs never delivered, oldest first.
    waiting: VecDeque<(u64, JobSpec)>,
    /// Delivered, not acked; ordered by entry so reclaim goes oldest first, as in Redis.
    in_flight: BTreeMap<u64, InFlight>,
    /// Job id → entry, for every waiting or in-flight job.
    live: HashMap<Uuid, u64>,
    cancelled: HashMap<Uuid, Instant>,
    dead: VecDeque<DeadLetter>,
    events: EventLog,
    /// Shots of storyboards on offer as side work, in the order they are taken.
    shots: VecDeque<ShotWork>,
    /// (job, shot) → holder and the end of its claim.
    claims: HashMap<(Uuid, usize), (String, Instant)>,
}

#[derive(Debug)]
struct InFlight {
    spec: JobSpec,
    consumer: String,
    deliveries: u32,
    /// From this instant any consumer may take it over.
    reclaim_at: Instant,
}

#[derive(Debug, Default)]
struct EventLog {
    next_seq: u64,
    entries: VecDeque<(u64, JobEvent)>,
    groups: HashMap<String, EventGroup>,
}

#[derive(Debug, Default)]
struct EventGroup {
    /// First sequence number not yet delivered to this group.
    next_seq: u64,
    pending: BTreeMap<u64, PendingEvent>,
}

#[derive(Debug)]
struct PendingEvent {
    event: JobEvent,
    reclaim_at: Instant,
}

/// What one look at the queue found.
enum Take {
    Delivered(Box<Delivery>),
    /// A job was skipped (cancelled or given up); look again.
    Skipped,
    /// Nothing to hand out; the earliest in-flight reclaim time, if any.
    Empty(Option<Instant>),
}

impl MemoryQueue {
    pub(crate) fn new(settings: QueueSettings) -> Self {
        Self {
            settings,
            state: Arc::new(Mutex::new(State::default())),
            jobs_changed: Arc::new(Notify::new()),
            events_changed: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    pub(crate) async fn enqueue(&self, spec: &JobSpec) -> Result<bool, QueueError> {
        let mut st = self.state.lock().await;
        if st.live.contains_key(&spec.job_id) {
            return Ok(false);
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        st.waiting.push_back((seq, spec.clone()));
        st.live.insert(spec.job_id, seq);
        for shot in offered_shots(spec) {
            st.shots.push_back(ShotWork { spec: spec.clone(), shot });
        }
        drop(st);
        self.jobs_changed.notify_waiters();
        Ok(true)
    }

    pub(crate) async fn next(&self, consumer: &str, block: Duration) -> Result<Option<Delivery>, QueueError> {
        let deadline = Instant::now() + block;
        loop {
            // Register interest before looking, so a notify between look and wait is not lost.
            let changed = self.jobs_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            let wake_at = {
                let mut st = self.state.lock().await;
                loop {
                    match self.take(&mut st, consumer) {
                        Take::Delivered(d) => {
                            drop(st);
                            // Other waiters must learn the new reclaim deadline.
                            self.jobs_changed.notify_waiters();
                            return Ok(Some(*d));
                        }
                        Take::Skipped => continue,
                        Take::Empty(reclaim_at) => break reclaim_at,
                    }
                }
            };
            if Instant::now() >= deadline {
                return Ok(None);
            }
            let until = wake_at.map_or(deadline, |at| at.min(deadline));
            // Timing out is the normal way to wake up for a reclaim or the deadline.
            let _ = tokio::time::timeout_at(until, changed).await;
        }
    }

    fn take(&self, st: &mut State, consumer: &str) -> Take {
        let now = Instant::now();
        let stale = st.in_flight.iter().find(|(_, f)| f.reclaim_at <= now).map(|(seq, _)| *seq);
        let (seq, spec, attempt) = if let Some(seq) = stale {
            let Some(f) = st.in_flight.get_mut(&seq) else {
                return Take::Skipped;
            };
            f.deliveries = f.deliveries.saturating_add(1);
            f.consumer = consumer.to_owned();
            f.reclaim_at = now + self.settings.reclaim_idle;
            tracing::info!(job_id = %f.spec.job_id, attempt = f.deliveries, consumer, "reclaimed a stale job");
            (seq, f.spec.clone(), f.deliveries)
        } else if let Some((seq, spec)) = st.waiting.pop_front() {
            st.in_flight.insert(
                seq,
                InFlight {
                    spec: spec.clone(),
                    consumer: consumer.to_owned(),
                    deliveries: 1,
                    reclaim_at: now + self.settings.reclaim_idle,
                },
            );
            (seq, spec, 1)
        } else {
            return Take::Empty(st.in_flight.values().map(|f| f.reclaim_at).min());
        };

        if st.is_cancelled(spec.job_id, now) {
            tracing::info!(job_id = %spec.job_id, "skipped a cancelled job");
            st.finish(seq, spec.job_id);
            self.push_event(st, JobEvent::Cancelled { job_id: spec.job_id });
            return Take::Skipped;
        }
        if attempt > self.settings.max_deliveries {
            self.give_up(st, seq, spec, attempt - 1);
            return Take::Skipped;
        }
        Take::Delivered(Box::new(Delivery { spec, attempt, id: seq.to_string(), consumer: consumer.to_owned() }))
    }

    fn give_up(&self, st: &mut State, seq: u64, spec: JobSpec, attempts: u32) {
        tracing::warn!(job_id = %spec.job_id, attempts, "dead-lettered a job");
        st.finish(seq, spec.job_id);
        let event = gave_up_event(spec.job_id, attempts);
        st.dead.push_back(DeadLetter { spec: Some(spec), reason: gave_up_reason(attempts) });
        while st.dead.len() > DEAD_LETTER_RETENTION {
            st.dead.pop_front();
        }
        self.push_event(st, event);
    }

    /// The in-flight entry behind `d`, if `d` still holds it (not reclaimed, acked or given up).
    fn held<'a>(st: &'a mut State, d: &Delivery) -> Option<(u64, &'a mut InFlight)> {
        let seq = d.id.parse::<u64>().ok()?;
        let f = st.in_flight.get_mut(&seq)?;
        (f.consumer == d.consumer && f.deliveries == d.attempt).then_some((seq, f))
    }

    pub(crate) async fn ack(&self, d: &Delivery) -> Result<(), QueueError> {
        let mut st = self.state.lock().await;
        if let Ok(seq) = d.id.parse::<u64>() {
            st.finish(seq, d.spec.job_id);
        }
        Ok(())
    }

    pub(crate) async fn retry_later(&self, d: &Delivery) -> Result<(), QueueError> {
        let mut st = self.state.lock().await;
        let Some((seq, f)) = Self::held(&mut st, d) else {
            tracing::debug!(job_id = %d.spec.job_id, "retry_later on a delivery no longer held");
            return Ok(());
        };
        if d.attempt >= self.settings.max_deliveries {
            let spec = f.spec.clone();
            self.give_up(&mut st, seq, spec, d.attempt);
            return Ok(());
        }
        f.reclaim_at = Instant::now() + self.settings.retry_delay(d.attempt);
        drop(st);
        self.jobs_changed.notify_waiters();
        Ok(())
    }

    pub(crate) async fn requeue(&self, d: &Delivery) -> Result<bool, QueueError> {
        let mut st = self.state.lock().await;
        let Some((seq, f)) = Self::held(&mut st, d) else {
            return Ok(false);
        };
        let spec = f.spec.clone();
        st.in_flight.remove(&seq);
        let new = st.next_seq;
        st.next_seq += 1;
        st.live.insert(spec.job_id, new);
        st.waiting.push_back((new, spec));
        drop(st);
        self.jobs_changed.notify_waiters();
        Ok(true)
    }

    pub(crate) async fn next_shot(&self, consumer: &str) -> Result<Option<ShotWork>, QueueError> {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        while let Some(work) = st.shots.pop_front() {
            let job = work.spec.job_id;
            if !st.live.contains_key(&job) || st.is_cancelled(job, now) {
                continue;
            }
            if st.claim(job, work.shot, consumer, now + self.settings.reclaim_idle) {
                return Ok(Some(work));
            }
        }
        Ok(None)
    }

    pub(crate) async fn claim_shot(&self, job: Uuid, shot: usize, holder: &str) -> Result<bool, QueueError> {
        let mut st = self.state.lock().await;
        Ok(st.claim(job, shot, holder, Instant::now() + self.settings.reclaim_idle))
    }

    pub(crate) async fn release_shot(&self, job: Uuid, shot: usize, holder: &str) -> Result<(), QueueError> {
        let mut st = self.state.lock().await;
        if st.claims.get(&(job, shot)).is_some_and(|(h, _)| h == holder) {
            st.claims.remove(&(job, shot));
        }
        Ok(())
    }

    pub(crate) async fn is_live(&self, job_id: Uuid) -> Result<bool, QueueError> {
        Ok(self.state.lock().await.live.contains_key(&job_id))
    }

    pub(crate) async fn waiting(&self) -> Result<u64, QueueError> {
        Ok(self.state.lock().await.waiting.len() as u64)
    }

    pub(crate) async fn keep_alive(&self, d: &Delivery) -> Result<bool, QueueError> {
        let mut st = self.state.lock().await;
        Ok(match Self::held(&mut st, d) {
            Some((_, f)) => {
                f.reclaim_at = Instant::now() + self.settings.reclaim_idle;
                true
            }
            None => false,
        })
    }

    pub(crate) async fn cancel(&self, job_id: Uuid) -> Result<(), QueueError> {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        st.cancelled.retain(|_, at| now.duration_since(*at) < CANCEL_MEMORY);
        st.cancelled.insert(job_id, now);
        Ok(())
    }

    pub(crate) async fn is_cancelled(&self, job_id: Uuid) -> Result<bool, QueueError> {
        Ok(self.state.lock().await.is_cancelled(job_id, Instant::now()))
    }

    pub(crate) async fn position(&self, job_id: Uuid) -> Result<Option<u64>, QueueError> {
        let st = self.state.lock().await;
        Ok(st.waiting.iter().position(|(_, spec)| spec.job_id == job_id).map(|i| i as u64))
    }

    pub(crate) async fn depth(&self) -> Result<u64, QueueError> {
        let st = self.state.lock().await;
        Ok((st.waiting.len() + st.in_flight.len()) as u64)
    }

    pub(crate) async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let st = self.state.lock().await;
        Ok(st.dead.iter().rev().take(limit).cloned().collect())
    }

    pub(crate) async fn publish(&self, event: &JobEvent) -> Result<(), QueueError> {
        let mut st = self.state.lock().await;
        self.push_event(&mut st, event.clone());
        Ok(())
    }

    fn push_event(&self, st: &mut State, event: JobEvent) {
        let log = &mut st.events;
        let seq = log.next_seq;
        log.next_seq += 1;
        log.entries.push_back((seq, event));
        while log.entries.len() > EVENT_RETENTION {
            log.entries.pop_front();
        }
        self.events_changed.notify_waiters();
    }

    pub(crate) async fn next_events(
        &self,
        group: &str,
        consumer: &str,
        block: Duration,
        count: usize,
    ) -> Result<Vec<(String, JobEvent)>, QueueError> {
        let count = count.max(1);
        let deadline = Instant::now() + block;
        loop {
            let changed = self.events_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            let wake_at = {
                let mut st = self.state.lock().await;
                let log = &mut st.events;
                let first_retained = log.entries.front().map_or(log.next_seq, |(seq, _)| *seq);
                let g = log.groups.entry(group.to_owned()).or_default();
                let now = Instant::now();
                let reclaim_at = now + self.settings.reclaim_idle;

                let mut out: Vec<(String, JobEvent)> = Vec::new();
                for (seq, p) in g.pending.iter_mut().filter(|(_, p)| p.reclaim_at <= now).take(count) {
                    p.reclaim_at = reclaim_at;
                    tracing::info!(event_id = seq, consumer, "reclaimed a stale event");
                    out.push((seq.to_string(), p.event.clone()));
                }
                if out.is_empty() {
                    // Like Redis: a group never sees events trimmed before it read them.
                    g.next_seq = g.next_seq.max(first_retained);
                    let from = g.next_seq;
                    for (seq, event) in log.entries.iter().filter(|(seq, _)| *seq >= from).take(count) {
                        g.pending.insert(*seq, PendingEvent { event: event.clone(), reclaim_at });
                        g.next_seq = seq + 1;
                        out.push((seq.to_string(), event.clone()));
                    }
                }
                if !out.is_empty() {
                    drop(st);
                    self.events_changed.notify_waiters();
                    return Ok(out);
                }
                g.pending.values().map(|p| p.reclaim_at).min()
            };
            if Instant::now() >= deadline {
                return Ok(Vec::new());
            }
            let until = wake_at.map_or(deadline, |at| at.min(deadline));
            let _ = tokio::time::timeout_at(until, changed).await;
        }
    }

    pub(crate) async fn ack_events(&self, group: &str, ids: &[String]) -> Result<(), QueueError> {
        let mut st = self.state.lock().await;
        if let Some(g) = st.events.groups.get_mut(group) {
            for seq in ids.iter().filter_map(|id| id.parse::<u64>().ok()) {
                g.pending.remove(&seq);
            }
        }
        Ok(())
    }
}

impl State {
    /// Removes a job entry for good (acked, cancelled or given up).
    fn finish(&mut self, seq: u64, job_id: Uuid) {
        self.in_flight.remove(&seq);
        if self.live.get(&job_id) == Some(&seq) {
            self.live.remove(&job_id);
            // Its shots on offer and their claims go with it.
            self.shots.retain(|w| w.spec.job_id != job_id);
            self.claims.retain(|(job, _), _| *job != job_id);
        }
    }

    /// Claims a shot for `holder` until `until` (or renews its claim); `false` while another
    /// holder's claim runs.
    fn claim(&mut self, job: Uuid, shot: usize, holder: &str, until: Instant) -> bool {
        let now = Instant::now();
        match self.claims.get_mut(&(job, shot)) {
            Some((h, end)) if h != holder && *end > now => false,
            Some((h, end)) => {
                holder.clone_into(h);
                *end = until;
                true
            }
            None => {
                self.claims.insert((job, shot), (holder.to_owned(), until));
                true
            }
        }
    }

    fn is_cancelled(&self, job_id: Uuid, now: Instant) -> bool {
        self.cancelled.get(&job_id).is_some_and(|at| now.duration_since(*at) < CANCEL_MEMORY)
    }
}
