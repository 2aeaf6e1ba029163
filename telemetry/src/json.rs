//! JSON log lines: one object per event, shaped like `tracing-subscriber`'s own JSON format
//! (`timestamp`, `level`, `target`, `fields` with the `message`, `span` and `spans` with their
//! fields) plus `trace_id` and `span_id` when the event happened inside a traced span, so a log
//! search and a trace view meet on the same id.
//!
//! Span fields are recorded as JSON by [`tracing_subscriber::fmt::format::JsonFields`] (the layer
//! is built with it in [`crate::init`]); a span whose fields cannot be read back is listed by name.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter (see the module).
#[derive(Debug, Clone, Default)]
pub struct JsonLines {
    /// The subscriber this formatter is part of, to ask the OpenTelemetry layer for a span's
    /// context (inside an event's dispatch `tracing` hides the current subscriber, so
    /// `Span::current()` sees none). Set by [`JsonLines::attach`] once the subscriber is built.
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl JsonLines {
    /// Points the formatter at the default subscriber of this thread (call right after
    /// installing the subscriber that holds it).
    pub fn attach(&self) {
        tracing::dispatcher::get_default(|d| {
            let _ = self.dispatch.set(d.downgrade());
        });
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into());
        line.insert("level".into(), meta.level().as_str().into());
        let mut fields = FieldMap(Map::new());
        event.record(&mut fields);
        line.insert("fields".into(), Value::Object(fields.0));
        line.insert("target".into(), meta.target().into());

        let scope = event.parent().and_then(|id| ctx.span(id)).or_else(|| ctx.lookup_current());
        let innermost = scope.as_ref().map(|s| s.id());
        if let Some(span) = scope {
            let mut spans = Vec::new();
            for s in span.scope().from_root() {
                let mut entry = Map::new();
                entry.insert("name".into(), s.name().into());
                let ext = s.extensions();
                if let Some(recorded) = ext.get::<FormattedFields<JsonFields>>()
                    && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&recorded.fields)
                {
                    entry.extend(fields);
                }
                spans.push(Value::Object(entry));
            }
            if let Some(innermost) = spans.last() {
                line.insert("span".into(), innermost.clone());
            }
            line.insert("spans".into(), Value::Array(spans));
        }
        // The span's trace (no extension lock is held here).
        if let Some(id) = innermost
            && let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade)
            && let Some(cx) = tracing_opentelemetry::get_otel_context(&id, &dispatch)
        {
            let span = cx.span();
            let sc = span.span_context();
            if sc.is_valid() {
                line.insert("trace_id".into(), sc.trace_id().to_string().into());
                line.insert("span_id".into(), sc.span_id().to_string().into());
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON values (numbers and booleans kept as such).
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
}
