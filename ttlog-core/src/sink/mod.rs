//! Sinks: where decoded events go, on the consumer thread.
//!
//! A [`Sink`] receives each event as a borrowed [`Event`] and owns whatever it writes to; the
//! consumer calls it from one thread, so it needs no locking. [`WriterSink`] formats events as
//! `pretty`, `compact` or `json` lines into any `Write`; [`CaptureSink`] keeps them in memory
//! for tests. The log store, live streaming and OpenTelemetry export attach here as further
//! sinks.

mod capture;
mod escape;
mod json;
mod set;
mod text;
mod timestamp;

use std::fmt;
use std::io::{self, Write};

pub use capture::{CaptureSink, CapturedEvent, CapturedSpan, OwnedValue};
pub(crate) use set::SinkSet;

use crate::callsite::Metadata;
use crate::event::Event;
use crate::level::LevelFilter;

/// A destination for events, run on the consumer thread.
///
/// An event and everything in it are borrowed for the call: copy what must outlive it (an
/// event read back from a snapshot has metadata that lives only as long as the snapshot).
///
/// ```
/// use std::io;
/// use ttlog_core::{Event, Sink};
///
/// /// Counts errors per target, e.g. to export as a metric.
/// #[derive(Default)]
/// struct ErrorCounter(std::collections::HashMap<String, u64>);
///
/// impl Sink for ErrorCounter {
///     fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
///         if event.level() == ttlog_core::LogLevel::Error {
///             match self.0.get_mut(event.target()) {
///                 Some(count) => *count += 1,
///                 None => {
///                     self.0.insert(event.target().to_owned(), 1);
///                 }
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Sink: Send + 'static {
    /// Whether this sink wants events from this callsite (checked before `write`).
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let _ = metadata;
        true
    }

    /// The sink's own filter, which replaces the logger's for this sink: a file at `debug`
    /// (or `info,db=trace`) beside a console at `info`. Callsites that only this sink wants
    /// are enabled for it; the logger's filter, and changes to it through the handle, no
    /// longer apply to this sink. Asked once, when the logger is installed. `None` (the
    /// default): the sink follows the logger's filter.
    ///
    /// ```
    /// use ttlog_core::{Filter, Format, WriterSink};
    ///
    /// struct DebugFile(WriterSink);
    ///
    /// impl ttlog_core::Sink for DebugFile {
    ///     fn write(&mut self, event: &ttlog_core::Event<'_>) -> std::io::Result<()> {
    ///         self.0.write(event)
    ///     }
    ///     fn filter(&self) -> Option<Filter> {
    ///         Some("info,billing=debug".parse().expect("valid directives"))
    ///     }
    /// }
    /// # let _ = DebugFile(WriterSink::new(std::io::sink(), Format::Json));
    /// ```
    fn filter(&self) -> Option<crate::filter::Filter> {
        None
    }

    /// Writes one event. An error is counted in [`Stats::sink_errors`](crate::Stats) and
    /// reported once on stderr; the consumer goes on with the next event.
    fn write(&mut self, event: &Event<'_>) -> io::Result<()>;

    /// Makes everything written so far durable or visible.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// A short name for diagnostics.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// A counter of the events this sink accepted and then lost on its own (a queue that was
    /// full, a destination still down at shutdown, lines a file could not hold), which
    /// [`Stats::sinks`](crate::Stats) reports as `dropped`. Asked once, when the logger is
    /// installed. Default: none (the sink loses nothing it accepts).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::AtomicU64;
    ///
    /// struct Remote { lost: Arc<AtomicU64> }
    ///
    /// impl ttlog_core::Sink for Remote {
    ///     fn write(&mut self, _: &ttlog_core::Event<'_>) -> std::io::Result<()> { Ok(()) }
    ///     fn drop_counter(&self) -> Option<Arc<AtomicU64>> {
    ///         Some(Arc::clone(&self.lost))
    ///     }
    /// }
    /// # let _ = Remote { lost: Arc::default() };
    /// ```
    fn drop_counter(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicU64>> {
        None
    }

    /// This sink in a box, for the consumer's list. A sink that already is a
    /// `Box<dyn Sink>` returns itself instead of going into a second box, through whose two
    /// vtables every event would go. Not meant to be overridden.
    #[doc(hidden)]
    fn into_boxed(self) -> Box<dyn Sink>
    where
        Self: Sized,
    {
        Box::new(self)
    }
}

/// A boxed sink is a sink: every method, the filter included, goes to the one in the box
/// (for lists of sinks chosen at run time, as a configuration file makes).
///
/// ```
/// use ttlog_core::{CaptureSink, Sink};
///
/// let sinks: Vec<Box<dyn Sink>> = vec![Box::new(CaptureSink::new())];
/// let mut builder = ttlog_core::init().console(false);
/// for sink in sinks {
///     builder = builder.sink(sink);
/// }
/// # drop(builder);
/// ```
impl Sink for Box<dyn Sink> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        (**self).enabled(metadata)
    }

    fn filter(&self) -> Option<crate::filter::Filter> {
        (**self).filter()
    }

    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        (**self).write(event)
    }

    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn drop_counter(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicU64>> {
        (**self).drop_counter()
    }

    fn into_boxed(self) -> Box<dyn Sink> {
        self
    }
}

/// How a [`WriterSink`] lays out each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Aligned, coloured (on a terminal) lines for people: time, level, thread, target,
    /// message and fields, and the source location of warnings and errors.
    Pretty,
    /// One plain line per event: time, level, target, message, fields.
    Compact,
    /// One JSON object per line, in the schema of the JSON contract.
    Json,
}

impl Format {
    /// The name used by `TTLOG_FORMAT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pretty => "pretty",
            Format::Compact => "compact",
            Format::Json => "json",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pretty" => Ok(Format::Pretty),
            "compact" | "text" => Ok(Format::Compact),
            "json" => Ok(Format::Json),
            _ => Err(ParseFormatError(s.to_owned())),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a format name other than `pretty`, `compact` or `json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFormatError(String);

impl fmt::Display for ParseFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown format `{}` (expected pretty, compact or json)",
            self.0
        )
    }
}

impl std::error::Error for ParseFormatError {}

/// Formats events as lines, for sinks that write text (files, sockets, streams).
///
/// It keeps caches (the current second's timestamp prefix, each callsite's constant JSON), so
/// keep one per sink rather than making one per event.
///
/// ```
/// use ttlog_core::{EventFormatter, Format};
///
/// struct Lines { formatter: EventFormatter, buf: Vec<u8> }
///
/// impl Lines {
///     fn on_event(&mut self, event: &ttlog_core::Event<'_>) {
///         self.buf.clear();
///         self.formatter.write(event, &mut self.buf);
///         // send self.buf somewhere
///     }
/// }
/// let _lines = Lines { formatter: EventFormatter::new(Format::Json, false), buf: Vec::new() };
/// ```
#[derive(Debug)]
pub struct EventFormatter {
    format: Format,
    ansi: bool,
    json: json::JsonFormatter,
    timestamps: timestamp::TimestampCache,
}

impl EventFormatter {
    /// A formatter for `format`; `ansi` turns colours on (pretty format only).
    pub fn new(format: Format, ansi: bool) -> EventFormatter {
        EventFormatter {
            format,
            ansi,
            json: json::JsonFormatter::default(),
            timestamps: timestamp::TimestampCache::default(),
        }
    }

    /// The format it writes.
    pub fn format(&self) -> Format {
        self.format
    }

    /// JSON only: writes each field at the top level of the object (`"user_id":42` beside
    /// `"message"`) instead of under `"fields"`, as some log pipelines expect. A field named
    /// like a key of the contract (`level`, `message`, …) is written `fields.<name>`. Spans and
    /// context keep their keys. The default schema (DESIGN.md, "Contracts") is unchanged
    /// unless this is asked for.
    ///
    /// ```
    /// use ttlog_core::{EventFormatter, Format};
    /// let _flat = EventFormatter::new(Format::Json, false).with_flattened_fields(true);
    /// ```
    pub fn with_flattened_fields(mut self, flatten: bool) -> EventFormatter {
        self.json.flatten = flatten;
        self
    }

    /// Appends one line (with its newline) for `event` to `out`.
    pub fn write(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => self.json.write_event(event, out),
            Format::Pretty => text::write_pretty(event, self.ansi, &mut self.timestamps, out),
            Format::Compact => text::write_compact(event, &mut self.timestamps, out),
        }
    }
}

/// Buffer size past which a [`WriterSink`] writes out without waiting for a flush.
const WRITE_THRESHOLD: usize = 64 * 1024;

/// Formats events into any `Write + Send` (stderr, a file, a socket, `io::sink()`).
///
/// Lines are buffered and written in batches: when the buffer passes 64 KiB, when the consumer
/// runs out of events, and on flush.
///
/// ```
/// use ttlog_core::{Format, WriterSink};
/// let sink = WriterSink::new(std::io::stdout(), Format::Compact).with_level(ttlog_core::LevelFilter::Warn);
/// # drop(sink);
/// ```
pub struct WriterSink {
    writer: Box<dyn Write + Send>,
    formatter: EventFormatter,
    level: LevelFilter,
    buf: Vec<u8>,
    name: String,
}

impl fmt::Debug for WriterSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterSink")
            .field("format", &self.formatter.format)
            .field("ansi", &self.formatter.ansi)
            .field("level", &self.level)
            .finish()
    }
}

impl WriterSink {
    /// A sink writing `format` lines into `writer`, without colours.
    pub fn new(writer: impl Write + Send + 'static, format: Format) -> WriterSink {
        WriterSink {
            writer: Box::new(writer),
            formatter: EventFormatter::new(format, false),
            level: LevelFilter::Trace,
            buf: Vec::with_capacity(WRITE_THRESHOLD + 4096),
            name: format!("{format} writer"),
        }
    }

    /// Turns ANSI colours on or off (pretty format only).
    pub fn with_ansi(mut self, ansi: bool) -> WriterSink {
        self.formatter.ansi = ansi;
        self
    }

    /// JSON only: fields at the top level of each object (see
    /// [`EventFormatter::with_flattened_fields`]).
    pub fn with_flattened_fields(mut self, flatten: bool) -> WriterSink {
        self.formatter.json.flatten = flatten;
        self
    }

    /// Only writes events at `level` or more severe.
    pub fn with_level(mut self, level: impl Into<LevelFilter>) -> WriterSink {
        self.level = level.into();
        self
    }

    /// Names the sink in diagnostics.
    pub fn with_name(mut self, name: impl Into<String>) -> WriterSink {
        self.name = name.into();
        self
    }

    fn write_out(&mut self) -> io::Result<()> {
        let result = self.writer.write_all(&self.buf);
        // Whatever happened, do not keep (and grow) what could not be written.
        self.buf.clear();
        result
    }
}

impl Sink for WriterSink {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.level.enables(metadata.level())
    }

    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.formatter.write(event, &mut self.buf);
        if self.buf.len() >= WRITE_THRESHOLD {
            self.write_out()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.write_out()?;
        }
        self.writer.flush()
    }

    fn name(&self) -> &str {
        &self.name
    }
}
