//! The queue's behaviour, run against both engines: in-process and a real Redis.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use chrono::Utc;
use jobs::{AspectRatio, AudioMode, JobEvent, JobQueue, JobSpec, QueueSettings};
use uuid::Uuid;

const RECLAIM: Duration = Duration::from_millis(200);
/// Comfortably past `RECLAIM`, so an un-acked delivery is stale.
const PAST_RECLAIM: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(2);
const SHORT: Duration = Duration::from_millis(50);

fn settings() -> QueueSettings {
    QueueSettings {
        max_deliveries: 3,
        reclaim_idle: RECLAIM,
        retry_backoff: Duration::from_millis(20),
        stop_grace: Duration::from_secs(1),
    }
}

fn spec(prompt: &str) -> JobSpec {
    JobSpec {
        job_id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        prompt: prompt.to_owned(),
        seed: 42,
        duration_seconds: 4,
        aspect_ratio: AspectRatio::Portrait,
        reference: Some(vec![0.5, -0.25]),
        enqueued_at: Utc::now(),
        author_username: String::new(),
        remix: None,
        cameos: vec![],
        audio: AudioMode::Full,
        dialogue: vec![],
        shots: vec![],
        parts: vec![],
        trace_parent: None,
    }
}

/// A queue under test, and how to open a second handle on it (another "process").
struct Engine {
    queue: JobQueue,
    redis_prefix: Option<String>,
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

impl Engine {
    fn memory(settings: QueueSettings) -> Self {
        Self { queue: JobQueue::memory(settings), redis_prefix: None }
    }

    async fn redis(settings: QueueSettings) -> Self {
        let prefix = format!("jobs-test:{}", Uuid::new_v4());
        let queue = JobQueue::redis(&redis_url(), &prefix, settings).await.unwrap();
        Self { queue, redis_prefix: Some(prefix) }
    }

    /// A separate handle on the same queue: a fresh connection for Redis, a clone in memory.
    async fn another(&self) -> JobQueue {
        match &self.redis_prefix {
            Some(prefix) => JobQueue::redis(&redis_url(), prefix, *self.queue.settings()).await.unwrap(),
            None => self.queue.clone(),
        }
    }

    async fn cleanup(self) {
        if let Some(prefix) = self.redis_prefix {
            let client = redis::Client::open(redis_url()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let keys: Vec<String> = ["jobs", "entry", "dead", "cancelled", "events", "shots"]
                .iter()
                .map(|k| format!("{prefix}:{k}"))
                .collect();
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
        }
    }
}

/// Every event currently available to `group`, acked.
async fn drain_events(q: &JobQueue, group: &str) -> Vec<JobEvent> {
    let mut all = Vec::new();
    loop {
        let batch = q.next_events(group, "drain", SHORT, 100).await.unwrap();
        if batch.is_empty() {
            return all;
        }
        let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
        q.ack_events(group, &ids).await.unwrap();
        all.extend(batch.into_iter().map(|(_, e)| e));
    }
}

/// Runs each named test body (`async fn(&Engine)`) once per engine: `<name>::memory`, `<name>::redis`.
macro_rules! on_both_engines {
    ($($name:ident $(with $settings:expr)?),* $(,)?) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn chosen() -> QueueSettings {
                #[allow(unused_mut, unused_assignments)]
                let mut s = super::settings();
                $( s = $settings; )?
                s
            }
            #[tokio::test]
            async fn memory() {
                let engine = super::Engine::memory(chosen());
                super::$name(&engine).await;
                engine.cleanup().await;
            }
            #[tokio::test]
            async fn redis() {
                let engine = super::Engine::redis(chosen()).await;
                super::$name(&engine).await;
                engine.cleanup().await;
            }
        }
    )*};
}

on_both_engines!(
    enqueue_next_ack,
    fifo_order_and_position,
    enqueue_is_idempotent_per_job_id,
    next_wakes_when_a_job_arrives,
    unacked_delivery_is_reclaimed_by_another_consumer,
    keep_alive_stops_a_long_job_from_being_reclaimed with QueueSettings {
        reclaim_idle: Duration::from_millis(600),
        ..super::settings()
    },
    // A reclaim idle far beyond the test: redelivery can only come from the 20 ms backoff.
    retry_later_redelivers_then_gives_up_on_the_last_attempt with QueueSettings {
        reclaim_idle: Duration::from_secs(60),
        ..super::settings()
    },
    abandoned_job_is_dead_lettered_after_max_deliveries,
    cancelled_job_is_skipped_and_reported,
    events_are_delivered_acked_and_reclaimed,
    requeue_goes_to_the_tail_without_counting_an_attempt,
    a_storyboards_new_shots_are_offered_last_first_and_held_by_one_worker,
    shots_of_ended_or_cancelled_jobs_are_not_offered,
    ping_answers,
);

/// A storyboard of `n` shots; the shots at `remade` remake an earlier video.
fn storyboard(n: usize, remade: &[usize]) -> JobSpec {
    let mut s = spec("a paper boat's voyage");
    s.shots = (0..n)
        .map(|i| jobs::Shot {
            prompt: format!("part {i}"),
            seconds: 2,
            transition: jobs::Transition::Cut,
            source: remade.contains(&i).then(|| jobs::ShotSource {
                video_id: jobs::VideoId(Uuid::new_v4()),
                offset_seconds: 0,
                prompt: "before".into(),
                seed: 1,
                likeness_of: jobs::VideoId(Uuid::new_v4()),
                model: "tiny 1".into(),
            }),
        })
        .collect();
    s
}

async fn a_storyboards_new_shots_are_offered_last_first_and_held_by_one_worker(e: &Engine) {
    let q = &e.queue;
    let board = storyboard(4, &[2]);
    let job = board.job_id;
    assert!(q.enqueue(&board).await.unwrap());
    assert!(q.is_live(job).await.unwrap());
    // Shot 3 (index 2) remakes another video, and the first is the storyboard's own to make.
    let first = q.next_shot("h1").await.unwrap().expect("the last shot");
    assert_eq!((first.spec.job_id, first.shot), (job, 3));
    assert_eq!(first.spec, board);
    let other = e.another().await;
    let second = other.next_shot("h2").await.unwrap().expect("the second shot");
    assert_eq!(second.shot, 1);
    assert!(q.next_shot("h3").await.unwrap().is_none(), "nothing else on offer");

    // One holder at a time: h1 renews its claim, h2 cannot take it, nor release it.
    assert!(q.claim_shot(job, 3, "h1").await.unwrap());
    assert!(!other.claim_shot(job, 3, "h2").await.unwrap());
    other.release_shot(job, 3, "h2").await.unwrap();
    assert!(!other.claim_shot(job, 3, "h2").await.unwrap(), "only the holder releases");
    q.release_shot(job, 3, "h1").await.unwrap();
    assert!(other.claim_shot(job, 3, "h2").await.unwrap(), "free once released");
    // A holder that stops renewing loses the claim after reclaim_idle.
    assert!(q.claim_shot(job, 0, "main").await.unwrap());
    assert!(!other.claim_shot(job, 0, "h2").await.unwrap());
    tokio::time::sleep(PAST_RECLAIM).await;
    assert!(other.claim_shot(job, 0, "h2").await.unwrap(), "an unrenewed claim expires");

    // The job itself is delivered as usual; once acked it is no longer live.
    let d = q.next("w1", WAIT).await.unwrap().expect("the storyboard");
    assert_eq!(d.spec.job_id, job);
    q.ack(&d).await.unwrap();
    assert!(!q.is_live(job).await.unwrap());
    // A job of one shot offers nothing.
    assert!(q.enqueue(&spec("one clip")).await.unwrap());
    assert!(q.next_shot("h1").await.unwrap().is_none());
}

async fn shots_of_ended_or_cancelled_jobs_are_not_offered(e: &Engine) {
    let q = &e.queue;
    let (done, cancelled, waiting) = (storyboard(3, &[]), storyboard(3, &[]), storyboard(2, &[]));
    for s in [&done, &cancelled, &waiting] {
        assert!(q.enqueue(s).await.unwrap());
    }
    let d = q.next("w1", WAIT).await.unwrap().expect("the first storyboard");
    assert_eq!(d.spec.job_id, done.job_id);
    q.ack(&d).await.unwrap();
    q.cancel(cancelled.job_id).await.unwrap();
    // Only the live, uncancelled storyboard's shot is handed out.
    let work = q.next_shot("h1").await.unwrap().expect("a shot of the waiting storyboard");
    assert_eq!((work.spec.job_id, work.shot), (waiting.job_id, 1));
    assert!(q.next_shot("h1").await.unwrap().is_none());
    // Requeuing a storyboard that makes way does not offer its shots again.
    let d = q.next("w1", WAIT).await.unwrap().expect("the cancelled one is skipped");
    assert_eq!(d.spec.job_id, waiting.job_id);
    assert!(q.requeue(&d).await.unwrap());
    assert!(q.next_shot("h1").await.unwrap().is_none());
}

async fn requeue_goes_to_the_tail_without_counting_an_attempt(e: &Engine) {
    let q = &e.queue;
    let (long, short) = (spec("a long storyboard"), spec("a short clip"));
    assert!(q.enqueue(&long).await.unwrap());
    let d = q.next("w1", WAIT).await.unwrap().expect("a delivery");
    assert_eq!(q.waiting().await.unwrap(), 0, "a job in flight is not waiting");
    assert!(q.enqueue(&short).await.unwrap());
    assert_eq!(q.waiting().await.unwrap(), 1);
    assert!(q.requeue(&d).await.unwrap());
    assert!(!q.requeue(&d).await.unwrap(), "requeued once");
    assert!(!q.enqueue(&long).await.unwrap(), "still queued under its id");
    assert_eq!(q.waiting().await.unwrap(), 2);
    // The short clip first, then the long job again, as a first attempt.
    let first = q.next("w2", WAIT).await.unwrap().expect("the short clip");
    assert_eq!(first.spec, short);
    let again = q.next("w2", WAIT).await.unwrap().expect("the long job again");
    assert_eq!((again.spec.job_id, again.attempt), (long.job_id, 1));
    q.ack(&first).await.unwrap();
    q.ack(&again).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 0);
    tokio::time::sleep(PAST_RECLAIM).await;
    assert!(q.next("w3", SHORT).await.unwrap().is_none(), "nothing left behind by the requeue");
}

async fn enqueue_next_ack(e: &Engine) {
    let q = &e.queue;
    let job = spec("a fox");
    assert!(q.enqueue(&job).await.unwrap());
    assert_eq!(q.depth().await.unwrap(), 1);

    let d = q.next("w1", WAIT).await.unwrap().expect("a delivery");
    assert_eq!(d.spec, job);
    assert_eq!(d.attempt, 1);
    assert_eq!(q.position(job.job_id).await.unwrap(), None, "delivered jobs are not waiting");
    assert_eq!(q.depth().await.unwrap(), 1, "in flight still counts");

    q.ack(&d).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 0);
    assert!(q.next("w1", SHORT).await.unwrap().is_none());
    tokio::time::sleep(PAST_RECLAIM).await;
    assert!(q.next("w2", SHORT).await.unwrap().is_none(), "an acked job never comes back");
}

async fn fifo_order_and_position(e: &Engine) {
    let q = &e.queue;
    let jobs: Vec<JobSpec> = ["first", "second", "third"].into_iter().map(spec).collect();
    for job in &jobs {
        q.enqueue(job).await.unwrap();
    }
    for (i, job) in jobs.iter().enumerate() {
        assert_eq!(q.position(job.job_id).await.unwrap(), Some(i as u64));
    }
    assert_eq!(q.position(Uuid::new_v4()).await.unwrap(), None);

    let d = q.next("w1", WAIT).await.unwrap().unwrap();
    assert_eq!(d.spec.prompt, "first");
    assert_eq!(q.position(jobs[0].job_id).await.unwrap(), None);
    assert_eq!(q.position(jobs[1].job_id).await.unwrap(), Some(0));
    assert_eq!(q.position(jobs[2].job_id).await.unwrap(), Some(1));
    q.ack(&d).await.unwrap();

    for want in ["second", "third"] {
        let d = q.next("w2", WAIT).await.unwrap().unwrap();
        assert_eq!(d.spec.prompt, want);
        q.ack(&d).await.unwrap();
    }
    assert_eq!(q.depth().await.unwrap(), 0);
}

async fn enqueue_is_idempotent_per_job_id(e: &Engine) {
    let q = &e.queue;
    let job = spec("once");
    assert!(q.enqueue(&job).await.unwrap());
    assert!(!q.enqueue(&job).await.unwrap(), "still waiting");
    let d = q.next("w1", WAIT).await.unwrap().unwrap();
    assert!(!q.enqueue(&job).await.unwrap(), "still in flight");
    assert_eq!(q.depth().await.unwrap(), 1);
    q.ack(&d).await.unwrap();
    assert!(q.enqueue(&job).await.unwrap(), "after ack the id may be queued again");
    assert_eq!(q.depth().await.unwrap(), 1);
}

async fn next_wakes_when_a_job_arrives(e: &Engine) {
    let producer = e.another().await;
    let job = spec("late");
    let sent = job.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        producer.enqueue(&sent).await.unwrap();
    });
    let d = e.queue.next("w1", Duration::from_secs(10)).await.unwrap().expect("woken by enqueue");
    assert_eq!(d.spec, job);
    task.await.unwrap();
}

async fn unacked_delivery_is_reclaimed_by_another_consumer(e: &Engine) {
    let crashed = &e.queue;
    let survivor = e.another().await;
    let job = spec("orphan");
    crashed.enqueue(&job).await.unwrap();
    let lost = crashed.next("w-crashed", WAIT).await.unwrap().unwrap();
    assert_eq!(lost.attempt, 1);
    // The worker dies here: no ack, no keep-alive.

    assert!(survivor.next("w-survivor", SHORT).await.unwrap().is_none(), "not stale yet");
    tokio::time::sleep(PAST_RECLAIM).await;
    let d = survivor.next("w-survivor", WAIT).await.unwrap().expect("reclaimed");
    assert_eq!(d.spec, job);
    assert_eq!(d.attempt, 2);

    assert!(!crashed.keep_alive(&lost).await.unwrap(), "the old holder lost it");
    assert!(survivor.keep_alive(&d).await.unwrap());
    survivor.ack(&d).await.unwrap();
    assert_eq!(survivor.depth().await.unwrap(), 0);
}

async fn keep_alive_stops_a_long_job_from_being_reclaimed(e: &Engine) {
    let q = &e.queue;
    let other = e.another().await;
    let job = spec("long");
    q.enqueue(&job).await.unwrap();
    let d = q.next("w1", WAIT).await.unwrap().unwrap();
    // Four beats of 200 ms: 800 ms in all, longer than the 600 ms reclaim idle.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(q.keep_alive(&d).await.unwrap());
        assert!(other.next("w2", Duration::ZERO).await.unwrap().is_none(), "kept alive");
    }
    q.ack(&d).await.unwrap();
    assert!(other.next("w2", SHORT).await.unwrap().is_none());
}

async fn retry_later_redelivers_then_gives_up_on_the_last_attempt(e: &Engine) {
    let q = &e.queue;
    let job = spec("flaky");
    let other = spec("healthy");
    q.enqueue(&job).await.unwrap();
    for attempt in 1..=3 {
        let d = q.next("w1", WAIT).await.unwrap().expect("redelivered");
        assert_eq!((d.spec.job_id, d.attempt), (job.job_id, attempt));
        q.retry_later(&d).await.unwrap();
    }
    // The third retry_later was the last allowed attempt: dead-lettered at once.
    assert_eq!(q.depth().await.unwrap(), 0);
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].spec.as_ref(), Some(&job));
    assert_eq!(dead[0].reason, "gave up after 3 attempts");
    assert_eq!(
        drain_events(q, "api").await,
        vec![JobEvent::Failed { job_id: job.job_id, reason: "generation failed after 3 attempts".into() }]
    );

    q.enqueue(&other).await.unwrap();
    let d = q.next("w1", WAIT).await.unwrap().unwrap();
    assert_eq!((d.spec.job_id, d.attempt), (other.job_id, 1));
    q.ack(&d).await.unwrap();
}

async fn abandoned_job_is_dead_lettered_after_max_deliveries(e: &Engine) {
    let q = &e.queue;
    let doomed = spec("crashes every worker");
    q.enqueue(&doomed).await.unwrap();
    for attempt in 1..=3 {
        if attempt > 1 {
            tokio::time::sleep(PAST_RECLAIM).await;
        }
        let d = q.next(&format!("w{attempt}"), WAIT).await.unwrap().unwrap();
        assert_eq!((d.spec.job_id, d.attempt), (doomed.job_id, attempt));
        // Each worker dies holding it.
    }
    let next_job = spec("next in line");
    q.enqueue(&next_job).await.unwrap();
    tokio::time::sleep(PAST_RECLAIM).await;

    let d = q.next("w4", WAIT).await.unwrap().expect("the queue still flows");
    assert_eq!((d.spec.job_id, d.attempt), (next_job.job_id, 1));
    q.ack(&d).await.unwrap();

    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].spec.as_ref(), Some(&doomed));
    assert_eq!(dead[0].reason, "gave up after 3 attempts");
    let events = drain_events(q, "api").await;
    assert_eq!(
        events,
        vec![JobEvent::Failed { job_id: doomed.job_id, reason: "generation failed after 3 attempts".into() }]
    );
    assert!(events[0].is_final());
    assert_eq!(q.depth().await.unwrap(), 0);
}

async fn cancelled_job_is_skipped_and_reported(e: &Engine) {
    let q = &e.queue;
    let cancelled = spec("never mind");
    let kept = spec("keep");
    q.enqueue(&cancelled).await.unwrap();
    q.enqueue(&kept).await.unwrap();
    q.cancel(cancelled.job_id).await.unwrap();
    assert!(q.is_cancelled(cancelled.job_id).await.unwrap());
    assert!(!q.is_cancelled(kept.job_id).await.unwrap());

    let d = q.next("w1", WAIT).await.unwrap().unwrap();
    assert_eq!(d.spec.job_id, kept.job_id);
    q.ack(&d).await.unwrap();
    assert!(q.next("w1", SHORT).await.unwrap().is_none());
    assert_eq!(q.depth().await.unwrap(), 0);
    assert!(q.dead_letters(10).await.unwrap().is_empty());
    assert_eq!(drain_events(q, "api").await, vec![JobEvent::Cancelled { job_id: cancelled.job_id }]);
    assert!(q.is_cancelled(cancelled.job_id).await.unwrap(), "still known to a worker that asks");
}

async fn events_are_delivered_acked_and_reclaimed(e: &Engine) {
    let publisher = &e.queue;
    let api_a = e.another().await;
    let api_b = e.another().await;
    let job_id = Uuid::new_v4();
    let sent: Vec<JobEvent> = (1..=3).map(|step| JobEvent::Progress { job_id, step, total: 3 }).collect();
    for event in &sent {
        publisher.publish(event).await.unwrap();
    }

    let got = api_a.next_events("api", "node-a", WAIT, 10).await.unwrap();
    assert_eq!(got.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(), sent);
    let ids: Vec<String> = got.iter().map(|(id, _)| id.clone()).collect();
    api_a.ack_events("api", &ids[..2]).await.unwrap();
    // node-a dies before handling the third event.

    assert!(api_b.next_events("api", "node-b", SHORT, 10).await.unwrap().is_empty(), "not stale yet");
    tokio::time::sleep(PAST_RECLAIM).await;
    let again = api_b.next_events("api", "node-b", WAIT, 10).await.unwrap();
    assert_eq!(again, vec![got[2].clone()], "only the un-acked event is reclaimed");
    api_b.ack_events("api", &[again[0].0.clone()]).await.unwrap();
    tokio::time::sleep(PAST_RECLAIM).await;
    assert!(api_b.next_events("api", "node-b", SHORT, 10).await.unwrap().is_empty());

    // Another group sees every event on its own, from the start.
    assert_eq!(drain_events(publisher, "audit").await, sent);

    // A consumer blocked on the channel wakes for a new event.
    let late = JobEvent::Cancelled { job_id };
    let sender = e.another().await;
    let to_send = late.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sender.publish(&to_send).await.unwrap();
    });
    let woke = api_a.next_events("api", "node-a", Duration::from_secs(10), 10).await.unwrap();
    assert_eq!(woke.into_iter().map(|(_, e)| e).collect::<Vec<_>>(), vec![late]);
    task.await.unwrap();
}

async fn ping_answers(e: &Engine) {
    e.queue.ping().await.unwrap();
}

#[tokio::test]
async fn redis_rejects_unusable_settings_naming_the_field() {
    let bad = QueueSettings { max_deliveries: 0, ..settings() };
    let err = JobQueue::redis(&redis_url(), "jobs-test:bad", bad).await.unwrap_err();
    assert!(err.to_string().contains("max_deliveries"), "{err}");
}
