//! What the export tools read: events decoded from a snapshot or from a file of JSON lines,
//! as one owned type, with secrets masked before anything else sees them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ttlog_core::{EventFormatter, Format, LogLevel, Redactor, Snapshot, SnapshotError};

/// One event, whatever it was read from: the keys of ttlog's JSON line contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// `trace` .. `error`.
    pub level: String,
    /// The target (module path by default).
    pub target: String,
    /// The formatted message.
    pub message: String,
    /// The event's own fields.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// The innermost span: its name and fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Map<String, Value>>,
    /// Every span the event was logged in, root first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Map<String, Value>>,
    /// The trace id (32 hex digits), inside a span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The innermost span's id (16 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// Context and static fields.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// The thread's name (or `thread-N`).
    #[serde(default)]
    pub thread: String,
    /// The source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The source line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl LogEvent {
    /// An event with only a level and a message (the other keys empty).
    ///
    /// ```
    /// let event = ttlog_export::input::LogEvent::new("error", "disk full");
    /// assert!(event.is_error());
    /// ```
    pub fn new(level: &str, message: &str) -> LogEvent {
        LogEvent {
            timestamp: String::new(),
            level: level.to_owned(),
            target: String::new(),
            message: message.to_owned(),
            fields: Map::new(),
            span: None,
            spans: Vec::new(),
            trace_id: None,
            span_id: None,
            context: Map::new(),
            thread: String::new(),
            file: None,
            line: None,
        }
    }

    /// The level, if it is one of ttlog's.
    pub fn level(&self) -> Option<LogLevel> {
        self.level.parse().ok()
    }

    /// Whether the event is an error.
    pub fn is_error(&self) -> bool {
        self.level() == Some(LogLevel::Error)
    }

    /// The event's time, if its timestamp parses.
    pub fn time(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339_weak(&self.timestamp).ok()
    }

    /// Nanoseconds since the Unix epoch (0 if the timestamp does not parse).
    pub fn time_nanos(&self) -> u128 {
        self.time()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos())
    }

    /// A field of the event, of its spans (innermost first) or of its context.
    pub fn lookup(&self, name: &str) -> Option<&Value> {
        self.fields
            .get(name)
            .or_else(|| self.spans.iter().rev().find_map(|s| s.get(name)))
            .or_else(|| self.context.get(name))
    }

    /// The names of the spans the event was logged in, root first.
    pub fn span_names(&self) -> Vec<&str> {
        self.spans
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str))
            .collect()
    }
}

/// Events and what is known of the process that logged them.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// In time order.
    pub events: Vec<LogEvent>,
    /// The snapshot's process information (service, hostname, pid, reason, ...); empty for
    /// JSON lines.
    pub info: Vec<(String, String)>,
    /// Where it came from.
    pub source: String,
}

/// Why input could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum InputError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A snapshot that is corrupt, truncated or not a snapshot.
    Snapshot(SnapshotError),
    /// A line that is not a JSON event.
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No events at all.
    Empty,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            InputError::Snapshot(err) => write!(f, "not a valid snapshot: {err}"),
            InputError::Line { line, message } => {
                write!(f, "line {line}: not a JSON event: {message}")
            }
            InputError::Empty => f.write_str("no events in the input"),
        }
    }
}

impl std::error::Error for InputError {}

impl Input {
    /// Reads a snapshot (`.ttsnap`, recognised by its contents) or a file of JSON lines.
    ///
    /// # Errors
    ///
    /// The file cannot be read, is a damaged snapshot, has a line that is not a JSON event,
    /// or holds no event.
    pub fn read(path: &Path) -> Result<Input, InputError> {
        let bytes = std::fs::read(path).map_err(|source| InputError::Io {
            path: path.to_owned(),
            source,
        })?;
        let source = path.display().to_string();
        let input = if Snapshot::is_snapshot(&bytes) {
            Input::from_snapshot(&bytes, source)?
        } else {
            let text = String::from_utf8_lossy(&bytes);
            Input::from_json_lines(&text, source)?
        };
        if input.events.is_empty() {
            return Err(InputError::Empty);
        }
        Ok(input)
    }

    /// The events of a snapshot's bytes.
    ///
    /// # Errors
    ///
    /// The bytes are not a valid snapshot.
    pub fn from_snapshot(bytes: &[u8], source: String) -> Result<Input, InputError> {
        let snapshot = Snapshot::read(bytes).map_err(InputError::Snapshot)?;
        let mut formatter = EventFormatter::new(Format::Json, false);
        let mut line = Vec::with_capacity(512);
        let mut events = Vec::with_capacity(snapshot.len());
        let mut problem = None;
        snapshot.for_each_event(|event| {
            line.clear();
            formatter.write(event, &mut line);
            match serde_json::from_slice::<LogEvent>(&line) {
                Ok(event) => events.push(event),
                Err(err) => {
                    problem.get_or_insert(err.to_string());
                }
            }
        });
        if let Some(message) = problem {
            return Err(InputError::Line { line: 0, message });
        }
        Ok(Input {
            events,
            info: snapshot.info_pairs().to_vec(),
            source,
        })
    }

    /// The events of JSON lines in ttlog's contract (blank lines are skipped). Levels may be
    /// upper case, and a `message` inside `fields` (as `tracing-subscriber` writes it) is
    /// taken as the message.
    ///
    /// # Errors
    ///
    /// A line is not a JSON object with at least `level` and a message.
    pub fn from_json_lines(text: &str, source: String) -> Result<Input, InputError> {
        let mut events = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let event = parse_line(line).map_err(|message| InputError::Line {
                line: n + 1,
                message,
            })?;
            events.push(event);
        }
        events.sort_by_key(LogEvent::time_nanos);
        Ok(Input {
            events,
            info: Vec::new(),
            source,
        })
    }

    /// A snapshot's process information `key`.
    pub fn info(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Masks secrets everywhere in the events (message, fields, spans, context) and in the
    /// process information, by `rules`: what any export does first.
    pub fn redact(&mut self, rules: &dyn Redactor) {
        for event in &mut self.events {
            redact_text(rules, &mut event.message);
            redact_map(rules, &mut event.fields);
            for span in event.spans.iter_mut().chain(event.span.as_mut()) {
                redact_map(rules, span);
            }
            redact_map(rules, &mut event.context);
        }
        for (key, value) in &mut self.info {
            if rules.is_secret_name(key) {
                *value = ttlog_core::REDACTED.to_owned();
            } else {
                redact_text(rules, value);
            }
        }
    }
}

/// Masks secrets in one event as a JSON object of the event contract (a JSON line, a stored
/// row's JSON): its `message`, and the values under `fields`, `span`, `spans` and `context`.
///
/// ```
/// use serde_json::json;
/// use ttlog_export::input::redact_object;
/// use ttlog_sinks::RedactionRules;
///
/// let mut row = json!({"message": "login password=hunter2", "fields": {"token": "abc", "user": "ana"}});
/// redact_object(&RedactionRules::default(), row.as_object_mut().unwrap());
/// assert_eq!(row["message"], "login password=[REDACTED]");
/// assert_eq!(row["fields"]["token"], "[REDACTED]");
/// assert_eq!(row["fields"]["user"], "ana");
/// ```
pub fn redact_object(rules: &dyn Redactor, object: &mut Map<String, Value>) {
    if let Some(Value::String(message)) = object.get_mut("message") {
        redact_text(rules, message);
    }
    for key in ["fields", "span", "context"] {
        if let Some(Value::Object(map)) = object.get_mut(key) {
            redact_map(rules, map);
        }
    }
    if let Some(Value::Array(spans)) = object.get_mut("spans") {
        for span in spans {
            if let Value::Object(map) = span {
                redact_map(rules, map);
            }
        }
    }
}

fn parse_line(line: &str) -> Result<LogEvent, String> {
    let mut object: Map<String, Value> = match serde_json::from_str(line) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("not an object".to_owned()),
        Err(err) => return Err(err.to_string()),
    };
    if let Some(Value::String(level)) = object.get_mut("level") {
        *level = level.to_ascii_lowercase();
    }
    if !object.contains_key("message") {
        let from_fields = object
            .get_mut("fields")
            .and_then(Value::as_object_mut)
            .and_then(|f| f.shift_remove("message"));
        match from_fields.or_else(|| object.shift_remove("msg")) {
            Some(message) => {
                object.insert("message".to_owned(), message);
            }
            None => return Err("no `message`".to_owned()),
        }
    }
    object
        .entry("timestamp")
        .or_insert_with(|| Value::String(String::new()));
    object
        .entry("target")
        .or_insert_with(|| Value::String(String::new()));
    serde_json::from_value(Value::Object(object)).map_err(|err| err.to_string())
}

fn redact_text(rules: &dyn Redactor, text: &mut String) {
    if rules.find_secret(text) {
        let mut out = String::with_capacity(text.len());
        rules.redact_text(text, &mut out);
        *text = out;
    }
}

fn redact_map(rules: &dyn Redactor, map: &mut Map<String, Value>) {
    for (name, value) in map.iter_mut() {
        if name != "name"
            && rules.is_secret_name(name)
            && !matches!(value, Value::Bool(_) | Value::Null)
        {
            *value = Value::String(ttlog_core::REDACTED.to_owned());
        } else {
            redact_value(rules, value);
        }
    }
}

fn redact_value(rules: &dyn Redactor, value: &mut Value) {
    match value {
        Value::String(text) => redact_text(rules, text),
        Value::Number(n) => {
            let secret = n
                .as_u64()
                .map(u128::from)
                .or_else(|| n.as_i64().map(|i| u128::from(i.unsigned_abs())))
                .is_some_and(|n| rules.is_secret_number(n));
            if secret {
                *value = Value::String(ttlog_core::REDACTED.to_owned());
            }
        }
        Value::Object(map) => redact_map(rules, map),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(rules, v)),
        _ => {}
    }
}

/// The duration between two events' timestamps, if both parse.
pub fn between(earlier: &LogEvent, later: &LogEvent) -> Option<Duration> {
    later.time()?.duration_since(earlier.time()?).ok()
}
