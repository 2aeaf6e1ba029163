//! Batching and the memory budget: the worker tasks of one process share a [`Batcher`], which
//! runs their requests through one [`Pipeline`] and puts requests of the same batch key
//! ([`Plan::batch_key`]: latent shape and step count) into one
//! [`Pipeline::generate_batch`] call, so one denoiser call per step serves all of them.
//!
//! Invariants:
//! - one batch runs at a time (the sessions are shared); requests that arrive while it runs wait
//!   for the next one, in arrival order; a request with another key never waits for more than
//!   one batch of others to go first;
//! - a batch is formed from the requests waiting when the previous one ends, plus those that
//!   arrive within `window` of its first member, up to `max` members;
//! - the estimated memory of a batch ([`Manifest::memory_estimate_mb`], weights included) stays
//!   within `budget_mb` (0: no budget): a request that would push it over waits for the next
//!   batch, and a request that alone exceeds the budget is refused with
//!   [`GenError::DoesNotFit`] (the worker hands the job back to the queue, for a worker with more
//!   memory) instead of being run into an out-of-memory kill;
//! - a request's frames do not depend on its batch (the pipeline's guarantee).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::pipeline::{Frames, GenerationRequest, Pipeline, Plan, StageTimings};
use crate::{GenError, GenResult};

/// How requests are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// Most requests in one denoiser call (1: no batching).
    pub max: usize,
    /// How long the first request of a batch waits for others.
    pub window: Duration,
    /// Memory the batch in hand may take, MiB, weights included (0: no limit).
    pub budget_mb: u64,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self { max: 1, window: Duration::ZERO, budget_mb: 0 }
    }
}

type Output = GenResult<(Frames, StageTimings)>;

struct Pending {
    req: GenerationRequest,
    plan: Plan,
    progress: mpsc::UnboundedSender<(usize, usize)>,
    cancelled: Arc<AtomicBool>,
    reply: oneshot::Sender<Output>,
}

/// The shared front of a pipeline; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    pipeline: Arc<Pipeline>,
    settings: BatchSettings,
    tx: mpsc::UnboundedSender<Pending>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Batcher {
    /// Starts the batching task (on the current Tokio runtime).
    pub fn new(pipeline: Arc<Pipeline>, settings: BatchSettings) -> Self {
        let settings = BatchSettings { max: settings.max.max(1), ..settings };
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pipeline.clone(), settings, rx));
        Self { pipeline, settings, tx }
    }

    /// The pipeline behind it.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// The settings in force.
    pub fn settings(&self) -> BatchSettings {
        self.settings
    }

    /// Estimated memory, MiB with the weights, of `n` requests planned as `plan` in one batch.
    pub fn estimate_mb(&self, plan: &Plan, n: usize) -> u64 {
        estimate_mb(&self.pipeline, plan, n)
    }

    /// Makes one clip, possibly in a batch with others. Progress `(done, total)` goes to
    /// `progress` after every step; `cancelled` is polled before each.
    pub async fn generate(
        &self,
        req: GenerationRequest,
        progress: mpsc::UnboundedSender<(usize, usize)>,
        cancelled: Arc<AtomicBool>,
    ) -> Output {
        let plan = self.pipeline.plan(&req)?;
        let budget = self.settings.budget_mb;
        let need = self.estimate_mb(&plan, 1);
        if budget > 0 && need > budget {
            return Err(GenError::DoesNotFit(format!(
                "this clip needs about {need} MiB and this worker's memory budget is {budget} MiB"
            )));
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { req, plan, progress, cancelled, reply })
            .map_err(|_| GenError::Model { model: "pipeline", message: "the batching task has stopped".into() })?;
        answer.await.map_err(|_| GenError::Model {
            model: "pipeline",
            message: "the batching task dropped the request".into(),
        })?
    }
}

fn estimate_mb(pipeline: &Pipeline, plan: &Plan, n: usize) -> u64 {
    let m = pipeline.manifest();
    let seconds = u32::try_from(plan.frames.div_ceil(m.fps.max(1) as usize)).unwrap_or(u32::MAX);
    m.memory_estimate_mb(seconds, plan.size, n)
}

async fn run(pipeline: Arc<Pipeline>, settings: BatchSettings, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut waiting: VecDeque<Pending> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match rx.recv().await {
                Some(p) => waiting.push_back(p),
                None => return,
            }
        }
        while let Ok(p) = rx.try_recv() {
            waiting.push_back(p);
        }
        let Some(first) = waiting.pop_front() else { continue };
        let mut batch = vec![first];
        let fits = |batch: &[Pending], plan: &Plan| {
            settings.budget_mb == 0 || estimate_mb(&pipeline, plan, batch.len() + 1) <= settings.budget_mb
        };
        let take_matching = |batch: &mut Vec<Pending>, waiting: &mut VecDeque<Pending>| {
            let mut i = 0;
            while i < waiting.len() && batch.len() < settings.max {
                let matches = match (waiting.get(i), batch.first()) {
                    (Some(p), Some(f)) => p.plan.batch_key() == f.plan.batch_key() && fits(batch, &f.plan),
                    _ => false,
                };
                if matches {
                    if let Some(p) = waiting.remove(i) {
                        batch.push(p);
                    }
                } else {
                    i += 1;
                }
            }
        };
        take_matching(&mut batch, &mut waiting);
        if batch.len() < settings.max && !settings.window.is_zero() {
            let deadline = tokio::time::Instant::now() + settings.window;
            while batch.len() < settings.max {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(p)) => {
                        waiting.push_back(p);
                        take_matching(&mut batch, &mut waiting);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
        run_batch(&pipeline, batch).await;
    }
}

async fn run_batch(pipeline: &Arc<Pipeline>, batch: Vec<Pending>) {
    let mut reqs = Vec::with_capacity(batch.len());
    let mut sinks = Vec::with_capacity(batch.len());
    for p in batch {
        reqs.push(p.req);
        sinks.push((p.progress, p.cancelled, p.reply));
    }
    if reqs.len() > 1 {
        tracing::info!(jobs = reqs.len(), "denoising a batch");
    }
    let progress: Vec<_> = sinks.iter().map(|(tx, _, _)| tx.clone()).collect();
    let flags: Vec<_> = sinks.iter().map(|(_, c, _)| c.clone()).collect();
    let pipeline = pipeline.clone();
    let results = tokio::task::spawn_blocking(move || {
        pipeline.generate_batch(
            &reqs,
            &mut |i, done, total| {
                if let Some(tx) = progress.get(i) {
                    let _ = tx.send((done, total));
                }
            },
            &|i| flags.get(i).is_some_and(|f| f.load(Ordering::SeqCst)),
        )
    })
    .await;
    match results {
        Ok(results) => {
            for ((_, _, reply), result) in sinks.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            for (_, _, reply) in sinks {
                let _ = reply.send(Err(GenError::Model { model: "pipeline", message: e.to_string() }));
            }
        }
    }
}
