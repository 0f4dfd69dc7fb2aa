//! A row of the `logs` table, and the rule that gives it its type.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use ttlog_core::{CapturedEvent, CapturedSpan, Event, LogLevel, OwnedValue, ValueRef};

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
    /// What the `metadata` column holds: a JSON object's text with `fields`, `span`,
    /// `spans`, `context`, `target`, `file`, `line`, `thread` (written once, when the row is
    /// made).
    pub metadata: String,
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

/// A captured value as JSON: numbers, bools and strings keep their type (`%`/`?` values are
/// strings); integers beyond 64 bits and floats that are not finite are written as strings.
struct Json<'a>(&'a OwnedValue);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            OwnedValue::U64(v) => s.serialize_u64(*v),
            OwnedValue::I64(v) => s.serialize_i64(*v),
            OwnedValue::U128(v) => match u64::try_from(*v) {
                Ok(v) => s.serialize_u64(v),
                Err(_) => s.collect_str(v),
            },
            OwnedValue::I128(v) => match i64::try_from(*v) {
                Ok(v) => s.serialize_i64(v),
                Err(_) => s.collect_str(v),
            },
            OwnedValue::F64(v) if v.is_finite() => s.serialize_f64(*v),
            OwnedValue::F64(v) => s.collect_str(v),
            OwnedValue::Bool(v) => s.serialize_bool(*v),
            OwnedValue::Char(v) => s.serialize_char(*v),
            OwnedValue::Str(t)
            | OwnedValue::Display(t)
            | OwnedValue::Debug(t)
            | OwnedValue::Error(t) => s.serialize_str(t),
            OwnedValue::None => s.serialize_unit(),
            OwnedValue::Fields(pairs) => Pairs(pairs, None).serialize(s),
            other => s.serialize_str(&other.to_text()),
        }
    }
}

/// Named values as a JSON object, with a `name` first when given (a span).
struct Pairs<'a>(&'a [(String, OwnedValue)], Option<&'a str>);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len() + usize::from(self.1.is_some())))?;
        if let Some(name) = self.1 {
            map.serialize_entry("name", name)?;
        }
        for (name, value) in self.0 {
            map.serialize_entry(name, &Json(value))?;
        }
        map.end()
    }
}

/// The spans of an event, root first.
struct Spans<'a>(&'a [CapturedSpan]);

impl Serialize for Spans<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .iter()
                .map(|span| Pairs(&span.fields, Some(&span.name))),
        )
    }
}

/// The `metadata` column of an event's row.
struct MetadataView<'a>(&'a CapturedEvent);

impl Serialize for MetadataView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("target", &event.target)?;
        if !event.fields.is_empty() {
            map.serialize_entry("fields", &Pairs(&event.fields, None))?;
        }
        if let Some(span) = event.spans.last() {
            map.serialize_entry("span", &Pairs(&span.fields, Some(&span.name)))?;
            map.serialize_entry("spans", &Spans(&event.spans))?;
        }
        if !event.context.is_empty() {
            map.serialize_entry("context", &Pairs(&event.context, None))?;
        }
        map.serialize_entry("thread", &event.thread)?;
        map.serialize_entry("file", &event.file)?;
        map.serialize_entry("line", &event.line)?;
        map.end()
    }
}

/// The type rule: with a task run, a task log; with a job run only, a job log; else a system
/// log.
fn type_of(job_run_id: &Option<String>, task_run_id: &Option<String>) -> LogType {
    match (job_run_id, task_run_id) {
        (_, Some(_)) => LogType::Task,
        (Some(_), None) => LogType::Job,
        (None, None) => LogType::System,
    }
}

/// The type, ids and stream of an event whose field or context values `text` looks up (see
/// [`NewRow::from_event`]).
fn typed(
    text: impl Fn(&str) -> Option<String>,
) -> (LogType, Option<String>, Option<String>, Stream) {
    let id = |name: &str| {
        text(name)
            .filter(|v| is_uuid(v))
            .map(|v| v.to_ascii_lowercase())
    };
    let job_run_id = id("job_run_id");
    let task_run_id = id("task_run_id");
    let stream = text("stream")
        .and_then(|s| s.parse().ok())
        .unwrap_or(Stream::System);
    (
        type_of(&job_run_id, &task_run_id),
        job_run_id,
        task_run_id,
        stream,
    )
}

/// A live value as JSON, exactly as [`Json`] writes its captured copy.
struct JsonRef<'a>(ValueRef<'a>);

impl Serialize for JsonRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ValueRef::U64(v) => s.serialize_u64(v),
            ValueRef::I64(v) => s.serialize_i64(v),
            ValueRef::U128(v) => match u64::try_from(v) {
                Ok(v) => s.serialize_u64(v),
                Err(_) => s.collect_str(&v),
            },
            ValueRef::I128(v) => match i64::try_from(v) {
                Ok(v) => s.serialize_i64(v),
                Err(_) => s.collect_str(&v),
            },
            ValueRef::F64(v) if v.is_finite() => s.serialize_f64(v),
            ValueRef::F64(v) => s.collect_str(&v),
            ValueRef::Bool(v) => s.serialize_bool(v),
            ValueRef::Char(v) => s.serialize_char(v),
            ValueRef::Str(t) | ValueRef::Display(t) | ValueRef::Debug(t) => s.serialize_str(t),
            ValueRef::None => s.serialize_unit(),
            ValueRef::Fields(group) => PairsRef(|| group.iter(), None).serialize(s),
            other => s.serialize_str(other.as_text().unwrap_or_default()),
        }
    }
}

/// Live named values as a JSON object, with a `name` first when given (a span).
struct PairsRef<'n, F>(F, Option<&'n str>);

impl<'a, 'n, F, I> Serialize for PairsRef<'n, F>
where
    F: Fn() -> I,
    I: Iterator<Item = (&'a str, ValueRef<'a>)>,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(name) = self.1 {
            map.serialize_entry("name", name)?;
        }
        for (name, value) in (self.0)() {
            map.serialize_entry(name, &JsonRef(value))?;
        }
        map.end()
    }
}

/// The `metadata` column of a live event's row: [`MetadataView`] without the copy.
struct MetadataRef<'e, 'a>(&'e Event<'a>);

impl Serialize for MetadataRef<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("target", event.target())?;
        if event.fields().next().is_some() {
            map.serialize_entry("fields", &PairsRef(|| event.fields(), None))?;
        }
        if let Some(span) = event.span() {
            map.serialize_entry("span", &PairsRef(|| span.fields(), Some(span.name())))?;
            let spans: Vec<_> = event
                .spans()
                .iter()
                .map(|span| PairsRef(move || span.fields(), Some(span.name())))
                .collect();
            map.serialize_entry("spans", &spans)?;
        }
        if event.context().next().is_some() {
            map.serialize_entry("context", &PairsRef(|| event.context(), None))?;
        }
        map.serialize_entry("thread", event.thread().name())?;
        map.serialize_entry("file", event.metadata().file())?;
        map.serialize_entry("line", &event.metadata().line())?;
        map.end()
    }
}

/// The text of a live field or context value named `name` (fields win over context).
fn text_of_ref(event: &Event<'_>, name: &str) -> Option<String> {
    event
        .fields()
        .chain(event.context())
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| match v {
            ValueRef::Str(s) | ValueRef::Display(s) | ValueRef::Debug(s) => Some(s.to_owned()),
            _ => None,
        })
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
        let (log_type, job_run_id, task_run_id, stream) = typed(|name| text_of(event, name));
        // Straight from the captured values to JSON text: no map is built in between.
        let metadata = serde_json::to_string(&MetadataView(event)).unwrap_or_else(|_| "{}".into());
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

impl NewRow {
    /// The row as one JSON line in the event contract, which [`NewRow::from_line`] reads
    /// back into the same row: what a remote sink sends to `POST /api/v1/logs`.
    ///
    /// ```
    /// use ttlog_store::{IngestDefaults, NewRow};
    ///
    /// let line = r#"{"timestamp":"2026-12-06T10:00:00Z","level":"error","target":"api","message":"upstream timed out","fields":{"ms":5000}}"#;
    /// let row = NewRow::from_line(line, &IngestDefaults::default(), 0);
    /// let again = NewRow::from_line(&row.to_line(), &IngestDefaults::default(), 0);
    /// assert_eq!((again.level, &again.message, again.timestamp_ns), (row.level, &row.message, row.timestamp_ns));
    /// ```
    pub fn to_line(&self) -> String {
        let mut object = Map::new();
        object.insert(
            "timestamp".into(),
            crate::query::rfc3339(self.timestamp_ns).into(),
        );
        object.insert("level".into(), self.level.as_str().into());
        object.insert("message".into(), self.message.clone().into());
        object.insert("target".into(), self.target.clone().into());
        // fields, span, spans, context, thread, file, line.
        if let Ok(metadata) = serde_json::from_str::<Map<String, Value>>(&self.metadata) {
            for (key, value) in metadata {
                object.entry(key).or_insert(value);
            }
        }
        let mut put = |key: &str, value: &Option<String>| {
            if let Some(v) = value {
                object.insert(key.into(), v.clone().into());
            }
        };
        put("trace_id", &self.trace_id);
        put("span_id", &self.span_id);
        put("job_run_id", &self.job_run_id);
        put("task_run_id", &self.task_run_id);
        object.insert("stream".into(), self.stream.as_str().into());
        Value::Object(object).to_string()
    }
}

impl NewRow {
    /// The row of a live event (in a sink): the same row as
    /// `NewRow::from_event(&CapturedEvent::from_event(event))`, without the copy in between.
    /// The store and remote sinks make their rows with it on ttlog's consumer thread.
    pub fn from_live_event(event: &Event<'_>) -> NewRow {
        let (log_type, job_run_id, task_run_id, stream) = typed(|name| text_of_ref(event, name));
        let metadata = serde_json::to_string(&MetadataRef(event)).unwrap_or_else(|_| "{}".into());
        NewRow {
            log_type,
            job_run_id,
            task_run_id,
            timestamp_ns: nanos(event.timestamp()),
            level: event.level(),
            stream,
            message: event.message().to_string(),
            target: event.target().to_owned(),
            trace_id: event.trace_id().map(|t| t.to_string()),
            span_id: event.span().map(|s| s.id().to_string()),
            metadata,
        }
    }
}

/// Overrides for rows read from outside (`ttlog ingest`, remote ingest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestDefaults {
    /// The job run of every row (makes it a job log, or a task log with a task run).
    pub job_run_id: Option<String>,
    /// The task run of every row.
    pub task_run_id: Option<String>,
    /// A type that the ids do not say (`system` to force one).
    pub log_type: Option<LogType>,
    /// The stream of rows that do not say theirs.
    pub stream: Option<Stream>,
}

fn level_of(text: &str) -> Option<LogLevel> {
    match text.to_ascii_lowercase().as_str() {
        "trace" => Some(LogLevel::Trace),
        "debug" => Some(LogLevel::Debug),
        "info" | "notice" => Some(LogLevel::Info),
        "warn" | "warning" => Some(LogLevel::Warn),
        "error" | "err" | "fatal" | "critical" | "crit" => Some(LogLevel::Error),
        _ => None,
    }
}

fn str_of<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// A value of `object`'s `fields` or `context` (or `metadata`) named `name`.
fn nested_str(object: &Map<String, Value>, name: &str) -> Option<String> {
    ["fields", "context", "metadata"]
        .iter()
        .filter_map(|k| object.get(*k).and_then(Value::as_object))
        .find_map(|o| o.get(name).and_then(Value::as_str).map(str::to_owned))
}

impl NewRow {
    /// The row of one line read from outside: a ttlog JSON line (the event contract), a log
    /// entry object in the shape of seed 002 (`timestamp`, `source`, `stream`, `content`,
    /// `level`, `service_name`, `metadata`, `context`), or anything else as a plain message
    /// (level info, now). `defaults` fill or force the type, ids and stream; the type rule
    /// of [`NewRow::from_event`] applies to the ids the line carries.
    pub fn from_line(line: &str, defaults: &IngestDefaults, now_ns: i64) -> NewRow {
        let parsed = serde_json::from_str::<Value>(line.trim_end_matches(['\r', '\n']));
        let mut row = match parsed {
            Ok(Value::Object(object))
                if object.contains_key("message") || object.contains_key("content") =>
            {
                from_object(object, now_ns)
            }
            _ => NewRow {
                log_type: LogType::System,
                job_run_id: None,
                task_run_id: None,
                timestamp_ns: now_ns,
                level: LogLevel::Info,
                stream: Stream::System,
                message: line.trim_end_matches(['\r', '\n']).to_owned(),
                target: String::new(),
                trace_id: None,
                span_id: None,
                metadata: "{}".to_owned(),
            },
        };
        let valid = |id: &Option<String>| {
            id.as_deref()
                .filter(|v| is_uuid(v))
                .map(str::to_ascii_lowercase)
        };
        if let Some(id) = valid(&defaults.job_run_id) {
            row.job_run_id = Some(id);
        }
        if let Some(id) = valid(&defaults.task_run_id) {
            row.task_run_id = Some(id);
        }
        row.log_type = type_of(&row.job_run_id, &row.task_run_id);
        if defaults.log_type == Some(LogType::System) {
            row.log_type = LogType::System;
            row.job_run_id = None;
            row.task_run_id = None;
        }
        if row.stream == Stream::System
            && let Some(stream) = defaults.stream
        {
            row.stream = stream;
        }
        row
    }
}

fn from_object(mut object: Map<String, Value>, now_ns: i64) -> NewRow {
    let timestamp_ns = str_of(&object, "timestamp")
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .map_or(now_ns, nanos);
    let level = str_of(&object, "level")
        .and_then(level_of)
        .unwrap_or(LogLevel::Info);
    let message = str_of(&object, "message")
        .or_else(|| str_of(&object, "content"))
        .unwrap_or_default()
        .to_owned();
    let target = str_of(&object, "target")
        .or_else(|| str_of(&object, "source"))
        .or_else(|| str_of(&object, "service_name"))
        .unwrap_or_default()
        .to_owned();
    let id = |name: &str| {
        str_of(&object, name)
            .map(str::to_owned)
            .or_else(|| nested_str(&object, name))
            .filter(|v| is_uuid(v))
            .map(|v| v.to_ascii_lowercase())
    };
    let job_run_id = id("job_run_id");
    let task_run_id = id("task_run_id");
    let stream = str_of(&object, "stream")
        .map(str::to_owned)
        .or_else(|| nested_str(&object, "stream"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(Stream::System);
    let trace_id = str_of(&object, "trace_id").map(str::to_owned);
    let span_id = str_of(&object, "span_id").map(str::to_owned);
    // What is left is metadata, as the table keeps it.
    for key in [
        "timestamp",
        "level",
        "message",
        "content",
        "job_run_id",
        "task_run_id",
        "stream",
        "trace_id",
        "span_id",
    ] {
        object.shift_remove(key);
    }
    object.insert("target".into(), target.clone().into());
    NewRow {
        log_type: LogType::System,
        job_run_id,
        task_run_id,
        timestamp_ns,
        level,
        stream,
        message,
        target,
        trace_id,
        span_id,
        metadata: Value::Object(object).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd";

    #[test]
    fn to_line_reads_back_as_the_same_row() {
        let defaults = IngestDefaults::default();
        let line = format!(
            r#"{{"timestamp":"2026-12-06T10:00:00.123456789Z","level":"error","target":"runner::task","message":"exit 137","fields":{{"code":137}},"span":{{"name":"task","attempt":2}},"spans":[{{"name":"task","attempt":2}}],"context":{{"job_run_id":"{JOB}","task_run_id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f98765432","stream":"stderr"}},"thread":"worker-1","file":"src/run.rs","line":42,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}}"#
        );
        let row = NewRow::from_line(&line, &defaults, 0);
        let again = NewRow::from_line(&row.to_line(), &defaults, 0);
        let metadata = |r: &NewRow| serde_json::from_str::<Value>(&r.metadata).unwrap();
        assert_eq!(metadata(&again), metadata(&row));
        assert_eq!(
            NewRow {
                metadata: String::new(),
                ..again
            },
            NewRow {
                metadata: String::new(),
                ..row
            }
        );
    }

    #[test]
    fn lines_of_each_kind_become_rows() {
        let none = IngestDefaults::default();
        let ttlog = NewRow::from_line(
            r#"{"timestamp":"2026-12-06T10:00:00Z","level":"warn","target":"api","message":"slow","fields":{"ms":900},"context":{"job_run_id":"3F2C1A9E-8B7D-4C6E-9F01-23456789ABCD"},"thread":"main"}"#,
            &none,
            0,
        );
        assert_eq!(ttlog.level, LogLevel::Warn);
        assert_eq!(ttlog.log_type, LogType::Job);
        assert_eq!(ttlog.job_run_id.as_deref(), Some(JOB));
        let metadata: Value = serde_json::from_str(&ttlog.metadata).unwrap();
        assert_eq!(metadata["fields"]["ms"], 900);
        assert_eq!(ttlog.timestamp_ns, 1_796_551_200_000_000_000);

        let entry = NewRow::from_line(
            r#"{"timestamp":"2026-12-06T10:00:01Z","source":"docker","stream":"stderr","content":"OOM killed","level":"error","service_name":"worker","metadata":{"container":"abc"}}"#,
            &none,
            0,
        );
        assert_eq!(entry.message, "OOM killed");
        assert_eq!(entry.stream, Stream::Stderr);
        assert_eq!(entry.target, "docker");
        let metadata: Value = serde_json::from_str(&entry.metadata).unwrap();
        assert_eq!(metadata["service_name"], "worker");

        let task = IngestDefaults {
            job_run_id: Some(JOB.into()),
            task_run_id: Some("9a8b7c6d-5e4f-4a3b-8c2d-1e0f98765432".into()),
            stream: Some(Stream::Stdout),
            ..IngestDefaults::default()
        };
        let plain = NewRow::from_line("downloading 3 files\n", &task, 42);
        assert_eq!(plain.message, "downloading 3 files");
        assert_eq!(plain.log_type, LogType::Task);
        assert_eq!(plain.stream, Stream::Stdout);
        assert_eq!(plain.timestamp_ns, 42);
        let not_json = NewRow::from_line("{broken", &none, 1);
        assert_eq!(not_json.message, "{broken");
        assert_eq!(not_json.log_type, LogType::System);
    }
}
