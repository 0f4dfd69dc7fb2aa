//! Events as OTLP log records and spans, made on ttlog's consumer thread.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, KeyValueList, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span::SpanKind, status::StatusCode};
use ttlog_core::{Event, LogLevel, SpanId, ValueRef};

/// A log record and the scope (the event's target) it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogItem {
    pub(crate) scope: String,
    pub(crate) record: LogRecord,
}

/// A span and its scope (the span's target).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpanItem {
    pub(crate) scope: String,
    pub(crate) span: Span,
}

/// OpenTelemetry's severity number of a level (the logs data model).
pub(crate) fn severity(level: LogLevel) -> (i32, &'static str) {
    match level {
        LogLevel::Trace => (1, "TRACE"),
        LogLevel::Debug => (5, "DEBUG"),
        LogLevel::Info => (9, "INFO"),
        LogLevel::Warn => (13, "WARN"),
        LogLevel::Error => (17, "ERROR"),
    }
}

fn string(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    }
}

/// A value as an attribute value: integers, floats and booleans keep their type; `%`/`?`
/// values are strings; a group of fields is a key-value list; `None` is left out.
pub(crate) fn any_value(value: &ValueRef<'_>) -> Option<AnyValue> {
    use any_value::Value as V;
    let value = match value {
        ValueRef::U64(n) => match i64::try_from(*n) {
            Ok(n) => V::IntValue(n),
            // OTLP integers are signed 64-bit: larger ones travel as text.
            Err(_) => V::StringValue(n.to_string()),
        },
        ValueRef::I64(n) => V::IntValue(*n),
        ValueRef::U128(n) => {
            i64::try_from(*n).map_or_else(|_| V::StringValue(n.to_string()), V::IntValue)
        }
        ValueRef::I128(n) => {
            i64::try_from(*n).map_or_else(|_| V::StringValue(n.to_string()), V::IntValue)
        }
        ValueRef::F64(f) => V::DoubleValue(*f),
        ValueRef::Bool(b) => V::BoolValue(*b),
        ValueRef::Char(c) => V::StringValue(c.to_string()),
        ValueRef::Str(s) | ValueRef::Display(s) | ValueRef::Debug(s) => {
            V::StringValue((*s).to_owned())
        }
        ValueRef::None => return None,
        ValueRef::FmtError => V::StringValue("<fmt error>".to_owned()),
        ValueRef::FmtPanic => V::StringValue("<fmt panicked>".to_owned()),
        ValueRef::Fields(group) => V::KvlistValue(KeyValueList {
            values: group
                .iter()
                .filter_map(|(name, v)| attribute(name, &v))
                .collect(),
        }),
        other => V::StringValue(format!("{other:?}")),
    };
    Some(AnyValue { value: Some(value) })
}

fn attribute(name: &str, value: &ValueRef<'_>) -> Option<KeyValue> {
    any_value(value).map(|value| KeyValue {
        key: name.to_owned(),
        value: Some(value),
        ..KeyValue::default()
    })
}

fn push(attributes: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    attributes.push(KeyValue {
        key: key.to_owned(),
        value: Some(value),
        ..KeyValue::default()
    });
}

fn int(n: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(n)),
    }
}

/// The code and thread attributes of the semantic conventions.
fn code_attributes(
    attributes: &mut Vec<KeyValue>,
    event: &Event<'_>,
    meta: &ttlog_core::Metadata<'_>,
) {
    push(attributes, "code.file.path", string(meta.file()));
    push(attributes, "code.line.number", int(i64::from(meta.line())));
    // No current convention names a module; this is the older one's name for it.
    push(attributes, "code.namespace", string(meta.module_path()));
    push(attributes, "thread.name", string(event.thread().name()));
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The log record of an event: body the message, attributes its fields (then context fields
/// not shadowed by one), code and thread attributes, trace and span ids inside a span.
pub(crate) fn log_item(event: &Event<'_>) -> LogItem {
    let (number, text) = severity(event.level());
    let mut attributes: Vec<KeyValue> = event
        .fields()
        .filter_map(|(name, value)| attribute(name, &value))
        .collect();
    for (name, value) in event.context() {
        if !attributes.iter().any(|a| a.key == name)
            && let Some(kv) = attribute(name, &value)
        {
            attributes.push(kv);
        }
    }
    code_attributes(&mut attributes, event, event.metadata());
    let (trace_id, span_id, flags) = match (event.trace_id(), event.span_id()) {
        (Some(trace), Some(span)) => (trace.to_bytes().to_vec(), span.to_bytes().to_vec(), 1),
        _ => (Vec::new(), Vec::new(), 0),
    };
    LogItem {
        scope: event.target().to_owned(),
        record: LogRecord {
            time_unix_nano: event.timestamp_nanos(),
            observed_time_unix_nano: nanos(SystemTime::now()),
            severity_number: number,
            severity_text: text.to_owned(),
            body: Some(string(event.message().to_string())),
            attributes,
            dropped_attributes_count: 0,
            flags,
            trace_id,
            span_id,
            event_name: String::new(),
        },
    }
}

/// Spans with an error logged in them (by `#[instrument(err)]`, or any error event with an
/// `error` field), until they close; bounded.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    failed: HashMap<SpanId, String>,
}

/// Spans remembered as failed at most (the oldest are not tracked past it).
const MAX_FAILED: usize = 16_384;

impl Errors {
    /// Notes an error event: its innermost span failed.
    pub(crate) fn note(&mut self, event: &Event<'_>) {
        if event.level() != LogLevel::Error || event.metadata().is_span_close() {
            return;
        }
        let (Some(span), Some(error)) = (event.span(), event.field("error")) else {
            return;
        };
        if self.failed.len() >= MAX_FAILED && !self.failed.contains_key(&span.id()) {
            return;
        }
        let text = match error {
            ValueRef::Str(s) | ValueRef::Display(s) | ValueRef::Debug(s) => s.to_owned(),
            _ => event.message().to_string(),
        };
        self.failed.insert(span.id(), text);
    }

    /// The span of a close event (`"<name> closed"`, inside the span, with `duration_ns`).
    pub(crate) fn span_item(&mut self, event: &Event<'_>) -> Option<SpanItem> {
        if !event.metadata().is_span_close() {
            self.note(event);
            return None;
        }
        let spans = event.spans();
        let span = spans.last()?;
        let trace = event.trace_id()?;
        let parent = match spans.len() {
            0 | 1 => span.remote_parent(),
            n => Some(spans[n - 2].id()),
        };
        let end = event.timestamp_nanos();
        let duration = match event.field("duration_ns") {
            Some(ValueRef::U64(d)) => d,
            _ => 0,
        };
        let mut attributes: Vec<KeyValue> = span
            .fields()
            .filter_map(|(name, value)| attribute(name, &value))
            .collect();
        code_attributes(&mut attributes, event, span.metadata());
        let status = match self.failed.remove(&span.id()) {
            Some(message) => Status {
                message,
                code: StatusCode::Error as i32,
            },
            None => Status::default(),
        };
        Some(SpanItem {
            scope: span.metadata().target().to_owned(),
            span: Span {
                trace_id: trace.to_bytes().to_vec(),
                span_id: span.id().to_bytes().to_vec(),
                trace_state: String::new(),
                parent_span_id: parent.map(|p| p.to_bytes().to_vec()).unwrap_or_default(),
                // Sampled; and whether the parent is in another process (bits 8 and 9).
                flags: 0x01 | 0x100 | (u32::from(parent.is_some() && spans.len() <= 1) << 9),
                name: span.name().to_owned(),
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: end.saturating_sub(duration),
                end_time_unix_nano: end,
                attributes,
                dropped_attributes_count: 0,
                events: Vec::new(),
                dropped_events_count: 0,
                links: Vec::new(),
                dropped_links_count: 0,
                status: Some(status),
            },
        })
    }
}
