//! A sink that keeps events in memory, for tests.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::Sink;
use crate::event::Event;
use crate::level::LogLevel;
use crate::trace::{SpanId, TraceId};
use crate::value::ValueRef;

/// A field value copied out of an event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OwnedValue {
    /// An unsigned integer.
    U64(u64),
    /// A signed integer.
    I64(i64),
    /// A 128-bit unsigned integer.
    U128(u128),
    /// A 128-bit signed integer.
    I128(i128),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A character.
    Char(char),
    /// A string.
    Str(String),
    /// A `%` value's `Display` output.
    Display(String),
    /// A `?` value's `Debug` output.
    Debug(String),
    /// `None`.
    None,
    /// A marker for a value that failed or panicked while formatting.
    Error(String),
    /// Named values (a `#[derive(Fields)]` struct logged under a name).
    Fields(Vec<(String, OwnedValue)>),
}

/// Copies named values out of an event.
fn owned_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, ValueRef<'a>)>,
) -> Vec<(String, OwnedValue)> {
    pairs.map(|(n, v)| (n.to_owned(), v.into())).collect()
}

impl From<ValueRef<'_>> for OwnedValue {
    fn from(value: ValueRef<'_>) -> Self {
        match value {
            ValueRef::U64(v) => OwnedValue::U64(v),
            ValueRef::I64(v) => OwnedValue::I64(v),
            ValueRef::U128(v) => OwnedValue::U128(v),
            ValueRef::I128(v) => OwnedValue::I128(v),
            ValueRef::F64(v) => OwnedValue::F64(v),
            ValueRef::Bool(v) => OwnedValue::Bool(v),
            ValueRef::Char(v) => OwnedValue::Char(v),
            ValueRef::Str(s) => OwnedValue::Str(s.to_owned()),
            ValueRef::Display(s) => OwnedValue::Display(s.to_owned()),
            ValueRef::Debug(s) => OwnedValue::Debug(s.to_owned()),
            ValueRef::None => OwnedValue::None,
            ValueRef::Fields(group) => OwnedValue::Fields(owned_pairs(group.iter())),
            other => OwnedValue::Error(other.as_text().unwrap_or_default().to_owned()),
        }
    }
}

impl OwnedValue {
    /// The value as text, as a JSON string or number would read.
    pub fn to_text(&self) -> String {
        match self {
            OwnedValue::U64(v) => v.to_string(),
            OwnedValue::I64(v) => v.to_string(),
            OwnedValue::U128(v) => v.to_string(),
            OwnedValue::I128(v) => v.to_string(),
            OwnedValue::F64(v) => v.to_string(),
            OwnedValue::Bool(v) => v.to_string(),
            OwnedValue::Char(v) => v.to_string(),
            OwnedValue::Str(s)
            | OwnedValue::Display(s)
            | OwnedValue::Debug(s)
            | OwnedValue::Error(s) => s.clone(),
            OwnedValue::None => "None".to_owned(),
            OwnedValue::Fields(pairs) => {
                let inner: Vec<String> = pairs
                    .iter()
                    .map(|(n, v)| format!("{n}={}", v.to_text()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }
}

/// One event, copied out for inspection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CapturedEvent {
    /// The level.
    pub level: LogLevel,
    /// The target.
    pub target: String,
    /// The formatted message.
    pub message: String,
    /// The message template as written at the call.
    pub template: String,
    /// The fields, in call order.
    pub fields: Vec<(String, OwnedValue)>,
    /// The spans the event was logged in, root first.
    pub spans: Vec<CapturedSpan>,
    /// The trace id of those spans.
    pub trace_id: Option<TraceId>,
    /// The context fields, outermost first.
    pub context: Vec<(String, OwnedValue)>,
    /// The name of the thread that logged it.
    pub thread: String,
    /// The source file.
    pub file: String,
    /// The source line.
    pub line: u32,
    /// When it was logged.
    pub timestamp: SystemTime,
}

/// A span of a captured event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CapturedSpan {
    /// The span's name.
    pub name: String,
    /// The span's id.
    pub id: SpanId,
    /// The span's fields.
    pub fields: Vec<(String, OwnedValue)>,
}

fn find<'a>(pairs: &'a [(String, OwnedValue)], name: &str) -> Option<&'a OwnedValue> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

impl CapturedEvent {
    /// An owned copy of `event`: for sinks that keep events beyond the call (a queue to a
    /// worker thread, a batch for a store).
    ///
    /// ```
    /// fn keep(event: &ttlog_core::Event<'_>, queue: &mut Vec<ttlog_core::CapturedEvent>) {
    ///     queue.push(ttlog_core::CapturedEvent::from_event(event));
    /// }
    /// # let _ = keep;
    /// ```
    pub fn from_event(event: &Event<'_>) -> CapturedEvent {
        CapturedEvent {
            level: event.level(),
            target: event.target().to_owned(),
            message: event.message().to_string(),
            template: event.metadata().template().to_owned(),
            fields: owned_pairs(event.fields()),
            spans: event
                .spans()
                .iter()
                .map(|span| CapturedSpan {
                    name: span.name().to_owned(),
                    id: span.id(),
                    fields: owned_pairs(span.fields()),
                })
                .collect(),
            trace_id: event.trace_id(),
            context: owned_pairs(event.context()),
            thread: event.thread().name().to_owned(),
            file: event.metadata().file().to_owned(),
            line: event.metadata().line(),
            timestamp: event.timestamp(),
        }
    }

    /// The value of field `name`.
    pub fn field(&self, name: &str) -> Option<&OwnedValue> {
        find(&self.fields, name)
    }

    /// The value of context field `name`.
    pub fn context_field(&self, name: &str) -> Option<&OwnedValue> {
        find(&self.context, name)
    }

    /// The innermost span.
    pub fn span(&self) -> Option<&CapturedSpan> {
        self.spans.last()
    }
}

impl CapturedSpan {
    /// The value of the span's field `name`.
    pub fn field(&self, name: &str) -> Option<&OwnedValue> {
        find(&self.fields, name)
    }
}

/// Collects every event it receives; clone it before handing it to the builder and read the
/// events through the clone.
///
/// ```
/// use ttlog_core::CaptureSink;
///
/// let capture = CaptureSink::new();
/// // let _handle = ttlog::init().sink(capture.clone()).init();
/// // ... code under test logs ...
/// // handle.flush();
/// assert!(capture.events().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CaptureSink {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

impl CaptureSink {
    /// An empty capture.
    pub fn new() -> CaptureSink {
        CaptureSink::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<CapturedEvent>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the events captured so far, in delivery (timestamp) order.
    pub fn events(&self) -> Vec<CapturedEvent> {
        self.lock().clone()
    }

    /// Takes the events captured so far, leaving the capture empty.
    pub fn take(&self) -> Vec<CapturedEvent> {
        std::mem::take(&mut *self.lock())
    }

    /// How many events were captured.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the events captured so far.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl Sink for CaptureSink {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        let captured = CapturedEvent::from_event(event);
        self.lock().push(captured);
        Ok(())
    }

    fn name(&self) -> &str {
        "capture"
    }
}
