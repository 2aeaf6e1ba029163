//! What the services tell the operator's dashboards: a port the domain reports to, implemented
//! by the API's Prometheus registry (`api::metrics::Metrics`) and by [`Silent`] where nothing
//! scrapes (operator commands, tests).
//!
//! Invariant: reporting never fails and never waits (the implementation counts in memory), so a
//! service calls it inline on its hot path and no outcome depends on it. Labels are fixed
//! strings chosen here and in the domain, never client input, so series stay bounded.

use crate::model::JobStatus;

/// Receives the service's own events for metrics.
pub trait Telemetry: Send + Sync {
    /// A job reached a final status here (counted once, by the node that ended it); `stages`
    /// are the worker's stage times (name, milliseconds) when it made a video, empty otherwise.
    fn job_ended(&self, status: JobStatus, stages: &[(&'static str, u64)]);

    /// One lookup in a feed cache: `layer` is `page` (ranked pages in the feed cache) or
    /// `response` (whole responses kept by the server).
    fn feed_cache_lookup(&self, layer: &'static str, hit: bool);

    /// One push handed to a provider: `platform` (`IOS`, `ANDROID`, `WEB`) and what became of it
    /// (`delivered`, `gone`, `retry`, `rejected`).
    fn push_sent(&self, platform: &'static str, outcome: &'static str) {
        let _ = (platform, outcome);
    }
}

/// Reports to nobody.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Telemetry for Silent {
    fn job_ended(&self, _: JobStatus, _: &[(&'static str, u64)]) {}

    fn feed_cache_lookup(&self, _: &'static str, _: bool) {}
}
