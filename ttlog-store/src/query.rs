//! Queries: filters over the `logs` table, trends, and the rows they return.
// The SQL helpers are unused in a build with no backend (one that only sends to a server).
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use ttlog_core::{LevelFilter, LogLevel};

use crate::row::{LogType, Stream};

/// A query over stored logs: every filter is optional; results come oldest first (in the
/// order they were stored with [`LogQuery::after_id`]).
///
/// ```
/// use ttlog_store::LogQuery;
///
/// let errors_of_a_run = LogQuery::new()
///     .job_run("3f2c1a9e-8b7d-4c6e-9f01-23456789abcd")
///     .level(ttlog_core::LogLevel::Error)
///     .limit(50);
/// # let _ = errors_of_a_run;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    /// At or after, nanoseconds since the epoch.
    pub since_ns: Option<i64>,
    /// At or before, nanoseconds since the epoch.
    pub until_ns: Option<i64>,
    /// At this level or more severe.
    pub level: Option<LogLevel>,
    /// Of this type.
    pub log_type: Option<LogType>,
    /// Of this job run (its job and task logs).
    pub job_run_id: Option<String>,
    /// Of this task run.
    pub task_run_id: Option<String>,
    /// Of this trace.
    pub trace_id: Option<String>,
    /// Whose target starts with this.
    pub target_prefix: Option<String>,
    /// Whose message contains this text.
    pub text: Option<String>,
    /// With an id greater than this (to follow new rows; the rows then come by id).
    pub after_id: Option<i64>,
    /// At most this many rows (default 100).
    pub limit: usize,
    /// After skipping this many.
    pub offset: usize,
}

impl Default for LogQuery {
    fn default() -> Self {
        LogQuery {
            since_ns: None,
            until_ns: None,
            level: None,
            log_type: None,
            job_run_id: None,
            task_run_id: None,
            trace_id: None,
            target_prefix: None,
            text: None,
            after_id: None,
            limit: 100,
            offset: 0,
        }
    }
}

impl LogQuery {
    /// Everything, 100 rows at a time.
    pub fn new() -> LogQuery {
        LogQuery::default()
    }

    /// At or after `time`.
    pub fn since(mut self, time: SystemTime) -> LogQuery {
        self.since_ns = Some(crate::row::nanos(time));
        self
    }

    /// At or before `time`.
    pub fn until(mut self, time: SystemTime) -> LogQuery {
        self.until_ns = Some(crate::row::nanos(time));
        self
    }

    /// At `level` or more severe.
    pub fn level(mut self, level: LogLevel) -> LogQuery {
        self.level = Some(level);
        self
    }

    /// Of type `log_type`.
    pub fn log_type(mut self, log_type: LogType) -> LogQuery {
        self.log_type = Some(log_type);
        self
    }

    /// Of job run `id`.
    pub fn job_run(mut self, id: &str) -> LogQuery {
        self.job_run_id = Some(id.to_ascii_lowercase());
        self
    }

    /// Of task run `id`.
    pub fn task_run(mut self, id: &str) -> LogQuery {
        self.task_run_id = Some(id.to_ascii_lowercase());
        self
    }

    /// Of trace `id`.
    pub fn trace(mut self, id: &str) -> LogQuery {
        self.trace_id = Some(id.to_ascii_lowercase());
        self
    }

    /// Whose target starts with `prefix`.
    pub fn target(mut self, prefix: &str) -> LogQuery {
        self.target_prefix = Some(prefix.to_owned());
        self
    }

    /// Whose message contains `text`.
    pub fn grep(mut self, text: &str) -> LogQuery {
        self.text = Some(text.to_owned());
        self
    }

    /// With an id above `id`, to follow new rows: the rows then come in the order they were
    /// stored (by id) rather than by time, so that the last id of a page is where the next
    /// page starts even when rows arrive out of time order (lines of an old log ingested).
    pub fn after_id(mut self, id: i64) -> LogQuery {
        self.after_id = Some(id);
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: usize) -> LogQuery {
        self.limit = n;
        self
    }

    /// Skipping the first `n`.
    pub fn offset(mut self, n: usize) -> LogQuery {
        self.offset = n;
        self
    }

    /// `ORDER BY` of the rows: by id when following (see [`LogQuery::after_id`]), else by
    /// time.
    pub(crate) fn order(&self) -> &'static str {
        if self.after_id.is_some() {
            "id"
        } else {
            "timestamp, id"
        }
    }

    /// The levels at `level` or more severe, for an `IN` list.
    pub(crate) fn levels(&self) -> Option<Vec<&'static str>> {
        self.level.map(|min| {
            [
                LogLevel::Error,
                LogLevel::Warn,
                LogLevel::Info,
                LogLevel::Debug,
                LogLevel::Trace,
            ]
            .into_iter()
            .filter(|l| LevelFilter::from(min).enables(*l))
            .map(LogLevel::as_str)
            .collect()
        })
    }
}

/// `target LIKE ?` for a prefix: `%`, `_` and `\` escaped.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// What trends are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendKey {
    /// The level.
    Level,
    /// The target.
    Target,
    /// The type.
    Type,
}

impl TrendKey {
    pub(crate) fn column(self) -> &'static str {
        match self {
            TrendKey::Level => "level",
            TrendKey::Target => "target",
            TrendKey::Type => "type",
        }
    }
}

impl std::str::FromStr for TrendKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "level" => Ok(TrendKey::Level),
            "target" => Ok(TrendKey::Target),
            "type" => Ok(TrendKey::Type),
            _ => Err(format!(
                "cannot group by `{s}` (expected level, target or type)"
            )),
        }
    }
}

/// Counts per time bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendQuery {
    /// From this long before `until`.
    pub window: Duration,
    /// Bucket width.
    pub bucket: Duration,
    /// Grouped by.
    pub by: TrendKey,
    /// The end of the window (default: now).
    pub until: Option<SystemTime>,
    /// Only events at this level or more severe (default: errors and warnings... all).
    pub level: Option<LogLevel>,
}

impl Default for TrendQuery {
    fn default() -> Self {
        TrendQuery {
            window: Duration::from_secs(3600),
            bucket: Duration::from_secs(300),
            by: TrendKey::Level,
            until: None,
            level: None,
        }
    }
}

/// One bucket of a trend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trend {
    /// The bucket's start, nanoseconds since the epoch.
    pub bucket_ns: i64,
    /// The group's key (a level, a target or a type).
    pub key: String,
    /// Events.
    pub count: u64,
    /// Distinct trace ids among them.
    pub traces: u64,
}

impl Trend {
    /// `{"bucket": RFC 3339, "key": .., "count": .., "traces": ..}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("bucket".into(), rfc3339(self.bucket_ns).into());
        object.insert("key".into(), self.key.clone().into());
        object.insert("count".into(), self.count.into());
        object.insert("traces".into(), self.traces.into());
        Value::Object(object)
    }
}

/// A stored row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    /// The row's id.
    pub id: i64,
    /// Its type.
    pub log_type: LogType,
    /// Its job run.
    pub job_run_id: Option<String>,
    /// Its task run.
    pub task_run_id: Option<String>,
    /// Nanoseconds since the epoch (microseconds precision in PostgreSQL).
    pub timestamp_ns: i64,
    /// `trace` .. `error`.
    pub level: String,
    /// Its stream.
    pub stream: Stream,
    /// The message.
    pub message: String,
    /// The target.
    pub target: String,
    /// The trace id.
    pub trace_id: Option<String>,
    /// The span id.
    pub span_id: Option<String>,
    /// Fields, span, spans, context, file, line, thread.
    pub metadata: Map<String, Value>,
}

impl StoredRow {
    /// The row as a JSON object: the event contract's keys (DESIGN.md) plus `id`, `type`,
    /// `job_run_id`, `task_run_id` and `stream`.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), self.id.into());
        o.insert("type".into(), self.log_type.as_str().into());
        o.insert(
            "job_run_id".into(),
            self.job_run_id.clone().map_or(Value::Null, Value::from),
        );
        o.insert(
            "task_run_id".into(),
            self.task_run_id.clone().map_or(Value::Null, Value::from),
        );
        o.insert("stream".into(), self.stream.as_str().into());
        o.insert("timestamp".into(), rfc3339(self.timestamp_ns).into());
        o.insert("level".into(), self.level.clone().into());
        o.insert("target".into(), self.target.clone().into());
        o.insert("message".into(), self.message.clone().into());
        for key in ["fields", "span", "spans"] {
            if let Some(v) = self.metadata.get(key) {
                o.insert(key.into(), v.clone());
            }
        }
        if let Some(t) = &self.trace_id {
            o.insert("trace_id".into(), t.clone().into());
        }
        if let Some(s) = &self.span_id {
            o.insert("span_id".into(), s.clone().into());
        }
        for key in ["context", "thread", "file", "line"] {
            if let Some(v) = self.metadata.get(key) {
                o.insert(key.into(), v.clone());
            }
        }
        Value::Object(o)
    }

    /// One readable line: time, level, type and run, target, message, fields.
    pub fn to_text(&self) -> String {
        let mut line = format!(
            "{} {:>5} {}",
            rfc3339(self.timestamp_ns),
            self.level.to_uppercase(),
            self.log_type.as_str()
        );
        if let Some(task) = &self.task_run_id {
            line.push_str(&format!(" task={task}"));
        } else if let Some(job) = &self.job_run_id {
            line.push_str(&format!(" job={job}"));
        }
        if self.stream != Stream::System {
            line.push_str(&format!(" [{}]", self.stream.as_str()));
        }
        line.push_str(&format!(" {}: {}", self.target, self.message));
        if let Some(Value::Object(fields)) = self.metadata.get("fields") {
            for (k, v) in fields {
                match v {
                    Value::String(s) => line.push_str(&format!(" {k}={s:?}")),
                    other => line.push_str(&format!(" {k}={other}")),
                }
            }
        }
        // One line per row, whatever the message holds.
        line.replace(['\n', '\r'], " ")
    }
}

/// RFC 3339 with nanoseconds, UTC.
pub fn rfc3339(ns: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    humantime::format_rfc3339_nanos(time).to_string()
}
