//! Logs and traces for both binaries.
//!
//! [`init`] installs the process's one `tracing` subscriber:
//! - the log filter (`APP_LOG`) over everything;
//! - log lines on standard error, as text or, with `APP_LOG_FORMAT=json`, as one JSON object per
//!   line ([`json`]) that carries the `trace_id` and `span_id` of the span it was written in;
//! - the OpenTelemetry layer, when traces are exported (`APP_OTLP_ENDPOINT`: OTLP/HTTP protobuf,
//!   batched on the SDK's own thread, `APP_OTLP_SAMPLE_RATIO` of new traces) or logs are JSON
//!   (trace ids for the log lines, nothing exported).
//!
//! A trace crosses processes as a W3C `traceparent`: an HTTP request may bring one (a proxy or a
//! client that traces), and a generation job keeps the one of the request that created it
//! ([`traceparent`] when it is stored, [`continue_trace`] when a worker takes it), so one trace
//! shows a `createVideo` from the request to the stored file and the result applied.
//!
//! Invariant: nothing here fails the process. An exporter that cannot be built is reported on
//! standard error and the process runs untraced; a collector that does not answer loses spans
//! (the SDK's queue is bounded), never requests.

pub mod json;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use config::{LogConfig, LogFormat};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The W3C header (and job field) that carries a trace from one process to the next.
pub const TRACEPARENT: &str = "traceparent";

/// Whether the OpenTelemetry layer is installed ([`init`] with an endpoint or JSON logs).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether spans reach OpenTelemetry in this process. Per-request spans are made only then: with
/// text logs and no exporter they would cost every request a little and show nobody anything.
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// The process's tracer, kept so its last spans are sent at exit ([`Telemetry::shutdown`], or on
/// drop).
#[must_use = "dropping it stops the exporter; keep it until the process ends"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    exporting: bool,
}

impl Telemetry {
    /// Whether spans leave the process (an OTLP endpoint is configured).
    pub fn exporting(&self) -> bool {
        self.exporting
    }

    /// Sends the spans still queued (waiting at most a few seconds for the collector) and stops
    /// the exporter.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(p) = self.provider.take()
            && self.exporting
            && let Err(e) = p.shutdown_with_timeout(Duration::from_secs(5))
        {
            eprintln!("telemetry: the last spans were not all sent: {e}");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Installs the subscriber for `service` (`backend`, `generator`, …), as the module says. Call
/// once, first thing in `main`; the configuration was validated by `config::Config::load`.
pub fn init(service: &'static str, log: &LogConfig) -> Telemetry {
    let filter = tracing_subscriber::EnvFilter::new(&log.filter);
    let json = log.format == LogFormat::Json;
    let (provider, exporting, warning) = provider(service, log, json);
    let otel = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    let text_lines = (!json).then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    let format = json::JsonLines::default();
    let json_lines = json.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(format.clone())
    });
    ACTIVE.store(otel.is_some(), Ordering::Relaxed);
    tracing_subscriber::registry().with(filter).with(otel).with(text_lines).with(json_lines).init();
    format.attach();
    if let Some(w) = warning {
        tracing::warn!(error = %w, "traces are not exported: the OTLP exporter could not be built");
    } else if let Some(endpoint) = log.otlp_endpoint.as_deref() {
        tracing::info!(endpoint, sample_ratio = log.otlp_sample_ratio, "exporting traces over OTLP/HTTP");
    }
    Telemetry { provider, exporting }
}

/// The tracer provider: exporting when an endpoint is set, id-only for JSON logs, none otherwise.
fn provider(service: &'static str, log: &LogConfig, json: bool) -> (Option<SdkTracerProvider>, bool, Option<String>) {
    let resource = Resource::builder().with_service_name(service).build();
    let id_only = |resource: Resource| {
        // Spans that are never sampled still get ids, for the log lines; nothing is recorded.
        SdkTracerProvider::builder().with_sampler(Sampler::AlwaysOff).with_resource(resource).build()
    };
    let Some(endpoint) = log.otlp_endpoint.as_deref() else {
        return (json.then(|| id_only(resource)), false, None);
    };
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = {
        use opentelemetry_otlp::{WithExportConfig, WithHttpConfig as _};
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(Duration::from_secs(10))
            .with_headers(HashMap::new())
            .build()
    };
    match exporter {
        Ok(exporter) => {
            let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(log.otlp_sample_ratio)));
            let p = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_sampler(sampler)
                .with_resource(resource)
                .build();
            (Some(p), true, None)
        }
        Err(e) => (Some(id_only(resource)), false, Some(e.to_string())),
    }
}

/// The current span's trace context as a W3C `traceparent`
/// (`00-<trace id>-<span id>-<flags>`), to store with work that another process continues; `None`
/// outside a traced span (no OpenTelemetry layer, or no span).
pub fn traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| format!("00-{}-{}-{:02x}", sc.trace_id(), sc.span_id(), sc.trace_flags().to_u8()))
}

/// Makes `span` continue the trace of `traceparent` (from an HTTP header or a job); call before
/// the span is entered. A missing or malformed value leaves `span` the root of a new trace.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(value) = traceparent.filter(|v| !v.is_empty()) else { return };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), value.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        // Fails only without the OpenTelemetry layer, or once the span has started: then the
        // span stays where it is.
        let _ = span.set_parent(parent);
    }
}

/// Renames `span` in its trace once it has started (an HTTP server span learns its route only
/// after routing); `otel.name` recorded late would be ignored.
pub fn rename(span: &tracing::Span, name: String) {
    span.context().span().update_name(name);
}

#[cfg(test)]
mod tests;
