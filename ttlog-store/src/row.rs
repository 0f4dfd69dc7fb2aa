//! A row of the `logs` table, and the rule that gives it its type.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use ttlog_core::{CapturedEvent, LogLevel, OwnedValue};

/// `system`, `job` or `task`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogType {
    /// No job run: the service's own events.
    System,
    /// An event of a job run (`job_run_id`).
    Job,
    /// An event of a task run (`task_run_id`, and usually `job_run_id`).
    Task,
}

impl LogType {
    /// The name stored in the `type` column.
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::System => "system",
            LogType::Job => "job",
            LogType::Task => "task",
        }
    }
}

impl std::str::FromStr for LogType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "system" => Ok(LogType::System),
            "job" => Ok(LogType::Job),
            "task" => Ok(LogType::Task),
            _ => Err(format!("unknown type `{s}` (expected system, job or task)")),
        }
    }
}

/// `stdout`, `stderr` or `system`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// A program's standard output.
    Stdout,
    /// A program's standard error.
    Stderr,
    /// An event logged through ttlog.
    System,
}

impl Stream {
    /// The name stored in the `stream` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
            Stream::System => "system",
        }
    }
}

impl std::str::FromStr for Stream {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdout" => Ok(Stream::Stdout),
            "stderr" => Ok(Stream::Stderr),
            "system" => Ok(Stream::System),
            _ => Err(format!(
                "unknown stream `{s}` (expected stdout, stderr or system)"
            )),
        }
    }
}

/// One row to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRow {
    /// From the type rule (see [`NewRow::from_event`]).
    pub log_type: LogType,
    /// A UUID, lower case.
    pub job_run_id: Option<String>,
    /// A UUID, lower case.
    pub task_run_id: Option<String>,
    /// Nanoseconds since the Unix epoch, UTC.
    pub timestamp_ns: i64,
    /// The level.
    pub level: LogLevel,
    /// The stream.
    pub stream: Stream,
    /// The message.
    pub message: String,
    /// The target.
    pub target: String,
    /// 32 hex digits.
    pub trace_id: Option<String>,
    /// 16 hex digits.
    pub span_id: Option<String>,
    /// `fields`, `span`, `spans`, `context`, `target`, `file`, `line`, `thread`.
    pub metadata: Map<String, Value>,
}

/// Whether `s` is a UUID (8-4-4-4-12 hex digits).
pub fn is_uuid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A JSON value for a captured value.
pub(crate) fn json(value: &OwnedValue) -> Value {
    match value {
        OwnedValue::U64(v) => (*v).into(),
        OwnedValue::I64(v) => (*v).into(),
        OwnedValue::U128(v) => u64::try_from(*v).map_or_else(|_| v.to_string().into(), Value::from),
        OwnedValue::I128(v) => i64::try_from(*v).map_or_else(|_| v.to_string().into(), Value::from),
        OwnedValue::F64(v) => {
            serde_json::Number::from_f64(*v).map_or_else(|| v.to_string().into(), Value::Number)
        }
        OwnedValue::Bool(v) => (*v).into(),
        OwnedValue::Char(v) => v.to_string().into(),
        OwnedValue::Str(s)
        | OwnedValue::Display(s)
        | OwnedValue::Debug(s)
        | OwnedValue::Error(s) => s.clone().into(),
        OwnedValue::None => Value::Null,
        OwnedValue::Fields(pairs) => Value::Object(object(pairs)),
        _ => value.to_text().into(),
    }
}

fn object(pairs: &[(String, OwnedValue)]) -> Map<String, Value> {
    pairs.iter().map(|(n, v)| (n.clone(), json(v))).collect()
}

/// The text of a field or context value named `name` (fields win over context).
fn text_of(event: &CapturedEvent, name: &str) -> Option<String> {
    event
        .fields
        .iter()
        .chain(&event.context)
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| match v {
            OwnedValue::Str(s) | OwnedValue::Display(s) | OwnedValue::Debug(s) => Some(s.clone()),
            _ => None,
        })
}

/// Nanoseconds since the epoch of `time` (0 before it).
pub fn nanos(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl NewRow {
    /// The row of an event. The type rule: an event whose fields or context carry a
    /// `job_run_id` (a UUID) is a job log; with a `task_run_id` (a UUID) too, or alone, a task
    /// log; otherwise a system log. A `stream` field or context value of `stdout` or `stderr`
    /// sets the stream; otherwise `system`. Ids that are not UUIDs do not make a job or task
    /// log (they stay in the metadata).
    pub fn from_event(event: &CapturedEvent) -> NewRow {
        let id = |name: &str| {
            text_of(event, name)
                .filter(|v| is_uuid(v))
                .map(|v| v.to_ascii_lowercase())
        };
        let job_run_id = id("job_run_id");
        let task_run_id = id("task_run_id");
        let log_type = match (&job_run_id, &task_run_id) {
            (_, Some(_)) => LogType::Task,
            (Some(_), None) => LogType::Job,
            (None, None) => LogType::System,
        };
        let stream = text_of(event, "stream")
            .and_then(|s| s.parse().ok())
            .unwrap_or(Stream::System);
        let mut metadata = Map::new();
        metadata.insert("target".into(), event.target.clone().into());
        if !event.fields.is_empty() {
            metadata.insert("fields".into(), Value::Object(object(&event.fields)));
        }
        if let Some(span) = event.spans.last() {
            let mut object = object(&span.fields);
            object.shift_insert(0, "name".into(), span.name.clone().into());
            metadata.insert("span".into(), Value::Object(object));
            let spans = event
                .spans
                .iter()
                .map(|s| {
                    let mut o = self::object(&s.fields);
                    o.shift_insert(0, "name".into(), s.name.clone().into());
                    Value::Object(o)
                })
                .collect();
            metadata.insert("spans".into(), Value::Array(spans));
        }
        if !event.context.is_empty() {
            metadata.insert("context".into(), Value::Object(object(&event.context)));
        }
        metadata.insert("thread".into(), event.thread.clone().into());
        metadata.insert("file".into(), event.file.clone().into());
        metadata.insert("line".into(), event.line.into());
        NewRow {
            log_type,
            job_run_id,
            task_run_id,
            timestamp_ns: nanos(event.timestamp),
            level: event.level,
            stream,
            message: event.message.clone(),
            target: event.target.clone(),
            trace_id: event.trace_id.map(|t| t.to_string()),
            span_id: event.spans.last().map(|s| s.id.to_string()),
            metadata,
        }
    }
}
