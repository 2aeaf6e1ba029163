#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

use super::*;

/// A writer the JSON layer writes into, read back by the test.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Runs `f` under a subscriber with the OpenTelemetry layer (sampling with `sampler`) and JSON
/// lines into the returned buffer.
fn traced<T>(sampler: Sampler, f: impl FnOnce() -> T) -> (T, Vec<serde_json::Value>) {
    let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
    let buffer = Buffer::default();
    let format = json::JsonLines::default();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test"))).with(
            tracing_subscriber::fmt::layer()
                .with_writer(buffer.clone())
                .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                .event_format(format.clone()),
        );
    let out = tracing::subscriber::with_default(subscriber, || {
        format.attach();
        f()
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (out, lines)
}

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_span_continues_the_trace_it_is_given_and_passes_it_on() {
    let (tp, _) = traced(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)), || {
        let span = tracing::info_span!("job");
        continue_trace(&span, Some(PARENT));
        span.in_scope(traceparent)
    });
    let tp = tp.expect("a traceparent inside a traced span");
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736", "same trace");
    assert_ne!(parts[2], "00f067aa0ba902b7", "a span of its own");
    assert_eq!(parts[2].len(), 16);
    // The parent's sampling decision is kept (ParentBased): sampled upstream, sampled here.
    assert_eq!(parts[3], "01");
}

#[test]
fn a_missing_or_malformed_traceparent_starts_a_new_trace() {
    for bad in [None, Some(""), Some("garbage"), Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01")] {
        let (tp, _) = traced(Sampler::AlwaysOn, || {
            let span = tracing::info_span!("request");
            continue_trace(&span, bad);
            span.in_scope(traceparent)
        });
        let tp = tp.unwrap();
        assert!(!tp.contains("4bf92f3577b34da6a3ce929d0e0e4736"), "{bad:?} → {tp}");
        assert!(!tp.contains("-00000000000000000000000000000000-"), "a valid new trace id: {tp}");
    }
}

#[test]
fn outside_a_traced_span_there_is_no_traceparent() {
    assert_eq!(traceparent(), None, "no subscriber at all");
    let (tp, _) = traced(Sampler::AlwaysOn, traceparent);
    assert_eq!(tp, None, "a subscriber but no span");
}

#[test]
fn json_lines_carry_the_trace_and_the_spans_fields() {
    let ((), lines) = traced(Sampler::AlwaysOff, || {
        let span = tracing::info_span!("job", job.id = "j-1", attempt = 2u32);
        continue_trace(&span, Some(PARENT));
        span.in_scope(|| {
            let inner = tracing::info_span!("stage", otel.name = "encoder");
            inner.in_scope(|| tracing::info!(frames = 48u64, ok = true, ratio = 0.5, who = %"gen-1", "encoded"));
        });
        tracing::warn!("outside");
    });
    assert_eq!(lines.len(), 2, "{lines:?}");
    let l = &lines[0];
    assert_eq!(l["level"], "INFO");
    assert_eq!(l["target"], "telemetry::tests");
    assert_eq!(l["fields"]["message"], "encoded");
    assert_eq!(l["fields"]["frames"], 48, "numbers stay numbers");
    assert_eq!(l["fields"]["ok"], true);
    assert_eq!(l["fields"]["ratio"], 0.5);
    assert_eq!(l["fields"]["who"], "gen-1");
    assert_eq!(l["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736", "unsampled spans still carry the trace id");
    assert_eq!(l["span_id"].as_str().unwrap().len(), 16);
    assert_eq!(l["spans"][0]["name"], "job");
    assert_eq!(l["spans"][0]["job.id"], "j-1");
    assert_eq!(l["spans"][0]["attempt"], 2);
    assert_eq!(l["span"]["name"], "stage");
    assert!(chrono::DateTime::parse_from_rfc3339(l["timestamp"].as_str().unwrap()).is_ok(), "{l}");
    // Outside every span: no ids, no spans.
    let o = &lines[1];
    assert_eq!(o["level"], "WARN");
    assert!(o.get("trace_id").is_none() && o.get("spans").is_none(), "{o}");
}
