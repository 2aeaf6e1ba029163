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
//!
//! An unknown field fails validation before it could become a label; introspection fields are not
//! counted. Operations and errors are counted on `/graphql` and `/graphql/ws` alike; a feed response
//! served from the server's response cache counts as one `feed` query.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

use app_core::error::{AppError, AppResult};

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
}

const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

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
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_latency.clone()),
            Box::new(operations.clone()),
            Box::new(operation_latency.clone()),
            Box::new(errors.clone()),
        ] {
            registry.register(c).map_err(m)?;
        }
        Ok(Self { registry, http_requests, http_latency, operations, operation_latency, errors })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_default()
    }
}
