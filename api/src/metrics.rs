//! Prometheus metrics: HTTP requests by route, GraphQL operations (top-level fields) with
//! latency, and refusals by error code. Label values come from the schema and the route table,
//! never from client-chosen strings, so their number stays bounded.
//!
//! | series | labels | recorded by |
//! | --- | --- | --- |
//! | `http_requests_total` | `route` (matched pattern or `unmatched`), `method`, `status` | `observe` (server) |
//! | `http_request_duration_seconds` | `route` | `observe` |
//! | `graphql_operations_total` | `operation` (top-level field), `kind` | the metrics extension |
//! | `graphql_operation_duration_seconds` | `operation` | the metrics extension |
//! | `graphql_errors_total` | `code` | `ensure_codes` |
//! | `jobs_live` (gauge) | `status` (`QUEUED`, `RUNNING`) | the `/metrics` handler, from the database at each scrape |
//! | `jobs_ended_total` | `status` (final) | `Telemetry::job_ended`, by the node that ended the job |
//! | `job_stage_seconds` | `stage` (`StageMillis` field) | `Telemetry::job_ended`, for jobs that made a video |
//! | `push_sends_total` | `platform` (`IOS`, `ANDROID`, `WEB`), `outcome` (`delivered`, `gone`, `retry`, `rejected`) | `Telemetry::push_sent` |
//! | `feed_cache_lookups_total` | `layer` (`page`, `response`; `memory`: the response hits served from the node's mirror, no round trip), `result` (`hit`, `miss`) | `Telemetry::feed_cache_lookup` |
//!
//! An unknown field fails validation before it could become a label; introspection fields are not
//! counted. Operations and errors are counted on `/graphql` and `/graphql/ws` alike; a feed response
//! served from the server's response cache counts as one `feed` query.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use app_core::error::{AppError, AppResult};
use app_core::model::JobStatus;
use app_core::telemetry::Telemetry;

/// The registry and its series.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route pattern, method and status.
    pub http_requests: IntCounterVec,
    /// HTTP latency by route pattern.
    pub http_latency: HistogramVec,
    /// GraphQL operations by top-level field and kind.
    pub operations: IntCounterVec,
    /// GraphQL latency by top-level field.
    pub operation_latency: HistogramVec,
    /// GraphQL errors by `extensions.code`.
    pub errors: IntCounterVec,
    /// Jobs waiting and running (the queue depth).
    live_jobs: IntGaugeVec,
    /// Jobs ended, by final status.
    jobs_ended: IntCounterVec,
    /// Worker stage times of jobs that made a video.
    job_stages: HistogramVec,
    /// Feed cache lookups by layer and result.
    feed_cache: IntCounterVec,
    /// Pushes handed to providers, by platform and outcome.
    pushes: IntCounterVec,
}

const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Stage times run from milliseconds (muxing) to minutes (a long storyboard's denoising, a long
/// wait in the queue).
const STAGE_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

impl Metrics {
    /// Registers every series.
    pub fn new() -> AppResult<Self> {
        let registry = Registry::new();
        let m = |e: prometheus::Error| AppError::internal("metrics", e);
        let http_requests =
            IntCounterVec::new(Opts::new("http_requests_total", "HTTP requests"), &["route", "method", "status"])
                .map_err(m)?;
        let http_latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(BUCKETS.to_vec()),
            &["route"],
        )
        .map_err(m)?;
        let operations = IntCounterVec::new(
            Opts::new("graphql_operations_total", "GraphQL operations by top-level field"),
            &["operation", "kind"],
        )
        .map_err(m)?;
        let operation_latency = HistogramVec::new(
            HistogramOpts::new("graphql_operation_duration_seconds", "GraphQL top-level field latency")
                .buckets(BUCKETS.to_vec()),
            &["operation"],
        )
        .map_err(m)?;
        let errors =
            IntCounterVec::new(Opts::new("graphql_errors_total", "GraphQL errors by code"), &["code"]).map_err(m)?;
        let live_jobs = IntGaugeVec::new(
            Opts::new("jobs_live", "Generation jobs waiting (QUEUED) and being made (RUNNING), all workers"),
            &["status"],
        )
        .map_err(m)?;
        let jobs_ended =
            IntCounterVec::new(Opts::new("jobs_ended_total", "Generation jobs ended, by final status"), &["status"])
                .map_err(m)?;
        let job_stages = HistogramVec::new(
            HistogramOpts::new("job_stage_seconds", "Worker stage times of generation jobs that made a video")
                .buckets(STAGE_BUCKETS.to_vec()),
            &["stage"],
        )
        .map_err(m)?;
        let feed_cache = IntCounterVec::new(
            Opts::new("feed_cache_lookups_total", "Feed cache lookups by layer and result"),
            &["layer", "result"],
        )
        .map_err(m)?;
        let pushes = IntCounterVec::new(
            Opts::new("push_sends_total", "Pushes handed to APNs, FCM or a Web Push service, by outcome"),
            &["platform", "outcome"],
        )
        .map_err(m)?;
        for c in [
            Box::new(pushes.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_requests.clone()),
            Box::new(http_latency.clone()),
            Box::new(operations.clone()),
            Box::new(operation_latency.clone()),
            Box::new(errors.clone()),
            Box::new(live_jobs.clone()),
            Box::new(jobs_ended.clone()),
            Box::new(job_stages.clone()),
            Box::new(feed_cache.clone()),
        ] {
            registry.register(c).map_err(m)?;
        }
        Ok(Self {
            registry,
            http_requests,
            http_latency,
            operations,
            operation_latency,
            errors,
            live_jobs,
            jobs_ended,
            job_stages,
            feed_cache,
            pushes,
        })
    }

    /// The queue depth, as just read from the database.
    pub fn set_live_jobs(&self, queued: u64, running: u64) {
        self.live_jobs.with_label_values(&["QUEUED"]).set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.live_jobs.with_label_values(&["RUNNING"]).set(i64::try_from(running).unwrap_or(i64::MAX));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_default()
    }
}

impl Telemetry for Metrics {
    fn job_ended(&self, status: JobStatus, stages: &[(&'static str, u64)]) {
        self.jobs_ended.with_label_values(&[status.as_str()]).inc();
        for (stage, millis) in stages {
            self.job_stages.with_label_values(&[stage]).observe(*millis as f64 / 1000.0);
        }
    }

    fn feed_cache_lookup(&self, layer: &'static str, hit: bool) {
        self.feed_cache.with_label_values(&[layer, if hit { "hit" } else { "miss" }]).inc();
    }

    fn push_sent(&self, platform: &'static str, outcome: &'static str) {
        self.pushes.with_label_values(&[platform, outcome]).inc();
    }
}
