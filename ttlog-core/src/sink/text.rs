//! The human formats: `pretty` (aligned, coloured on a terminal) and `compact` (one plain
//! line).

use std::fmt::Write as _;

use super::escape::Escaped;
use super::timestamp::{Precision, TimestampCache};

use crate::event::Event;
use crate::level::LogLevel;
use crate::value::ValueRef;

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const ITALIC: &str = "\x1b[3m";

fn level_colour(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "\x1b[35m",
        LogLevel::Debug => "\x1b[34m",
        LogLevel::Info => "\x1b[32m",
        LogLevel::Warn => "\x1b[33m",
        LogLevel::Error => "\x1b[1;31m",
    }
}

struct Style {
    ansi: bool,
}

impl Style {
    /// Writes `text` (escaped: it may come from the user) in the colour `code`.
    fn paint(&self, out: &mut Vec<u8>, code: &str, text: impl std::fmt::Display) {
        if self.ansi {
            out.extend_from_slice(code.as_bytes());
        }
        let _ = write!(Escaped(out), "{text}");
        if self.ansi {
            out.extend_from_slice(RESET.as_bytes());
        }
    }
}

fn write_message(event: &Event<'_>, out: &mut Vec<u8>) {
    let _ = write!(Escaped(out), "{}", event.message());
}

/// Text values are quoted when they are strings (so spaces and `=` stay readable); `%` and `?`
/// values are written as their impls wrote them, with control characters escaped.
fn write_field_value(out: &mut Vec<u8>, value: &ValueRef<'_>) {
    let mut out = Escaped(out);
    let _ = match value {
        ValueRef::Str(s) => write!(out, "{s:?}"),
        ValueRef::Char(c) => write!(out, "{c:?}"),
        other => write!(out, "{other}"),
    };
}

/// `name=`, escaped.
fn write_name(out: &mut Vec<u8>, name: &str) {
    let _ = write!(Escaped(out), "{name}=");
}

pub(super) fn write_pretty(
    event: &Event<'_>,
    ansi: bool,
    timestamps: &mut TimestampCache,
    out: &mut Vec<u8>,
) {
    let style = Style { ansi };
    if ansi {
        out.extend_from_slice(DIM.as_bytes());
    }
    timestamps.write(event.timestamp_nanos(), Precision::Micros, out);
    if ansi {
        out.extend_from_slice(RESET.as_bytes());
    }
    out.push(b' ');
    let level = event.level();
    let name = match level {
        LogLevel::Trace => "TRACE",
        LogLevel::Debug => "DEBUG",
        LogLevel::Info => " INFO",
        LogLevel::Warn => " WARN",
        LogLevel::Error => "ERROR",
    };
    style.paint(out, level_colour(level), name);
    out.push(b' ');
    style.paint(out, DIM, format_args!("[{}]", event.thread().name()));
    out.push(b' ');
    style.paint(out, DIM, format_args!("{}:", event.target()));
    out.push(b' ');
    write_spans(event, out);
    if ansi {
        out.extend_from_slice(BOLD.as_bytes());
        write_message(event, out);
        out.extend_from_slice(RESET.as_bytes());
    } else {
        write_message(event, out);
    }
    for (name, value) in event.fields() {
        out.push(b' ');
        style.paint(out, ITALIC, name);
        style.paint(out, DIM, "=");
        write_field_value(out, &value);
    }
    for (name, value) in event.context() {
        out.push(b' ');
        style.paint(out, DIM, format_args!("{name}="));
        write_field_value(out, &value);
    }
    if level >= LogLevel::Warn {
        let meta = event.metadata();
        out.push(b' ');
        style.paint(out, DIM, format_args!("at {}:{}", meta.file(), meta.line()));
    }
    out.push(b'\n');
}

/// `checkout{order_id=7}:charge{amount=3}: ` for an event inside spans, as `tracing` does.
fn write_spans(event: &Event<'_>, out: &mut Vec<u8>) {
    for span in event.spans() {
        let _ = Escaped(out).write_str(span.name());
        let mut fields = span.fields().peekable();
        if fields.peek().is_some() {
            out.push(b'{');
            for (i, (name, value)) in fields.enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_name(out, name);
                write_field_value(out, &value);
            }
            out.push(b'}');
        }
        out.push(b':');
    }
    if !event.spans().is_empty() {
        out.push(b' ');
    }
}

pub(super) fn write_compact(event: &Event<'_>, timestamps: &mut TimestampCache, out: &mut Vec<u8>) {
    timestamps.write(event.timestamp_nanos(), Precision::Millis, out);
    let level = match event.level() {
        LogLevel::Trace => "TRACE",
        LogLevel::Debug => "DEBUG",
        LogLevel::Info => "INFO",
        LogLevel::Warn => "WARN",
        LogLevel::Error => "ERROR",
    };
    let _ = write!(Escaped(out), " {level} {}: ", event.target());
    write_spans(event, out);
    write_message(event, out);
    for (name, value) in event.fields().chain(event.context()) {
        out.push(b' ');
        write_name(out, name);
        write_field_value(out, &value);
    }
    out.push(b'\n');
}
