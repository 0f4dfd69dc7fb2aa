//! The JSON line format (the contract in DESIGN.md):
//!
//! ```json
//! {"timestamp":"2026-01-06T12:34:56.789012345Z","level":"info","target":"app::db",
//!  "message":"User logged in","fields":{"user_id":123},"thread":"main","file":"src/main.rs","line":12}
//! ```

use std::fmt;
use std::io::Write as _;

use crate::event::Event;
use crate::value::ValueRef;

pub(super) fn write_event(event: &Event<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    let _ = write!(
        out,
        "{}",
        humantime::format_rfc3339_nanos(event.timestamp())
    );
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(event.level().as_str().as_bytes());
    out.extend_from_slice(b"\",\"target\":");
    write_str(out, event.target());
    out.extend_from_slice(b",\"message\":\"");
    // A failing Display of an argument was already replaced by a marker; nothing else fails.
    let _ = event.write_message(&mut Escaper(out));
    out.extend_from_slice(b"\",\"fields\":{");
    for (i, (name, value)) in event.fields().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        write_value(out, &value);
    }
    out.extend_from_slice(b"},\"thread\":");
    write_str(out, event.thread().name());
    out.extend_from_slice(b",\"file\":");
    write_str(out, event.metadata().file());
    out.extend_from_slice(b",\"line\":");
    out.extend_from_slice(
        itoa::Buffer::new()
            .format(event.metadata().line())
            .as_bytes(),
    );
    out.extend_from_slice(b"}\n");
}

/// Writes a value with its JSON type: numbers, booleans, strings, `null`.
pub(super) fn write_value(out: &mut Vec<u8>, value: &ValueRef<'_>) {
    let mut ints = itoa::Buffer::new();
    match *value {
        ValueRef::U64(v) => out.extend_from_slice(ints.format(v).as_bytes()),
        ValueRef::I64(v) => out.extend_from_slice(ints.format(v).as_bytes()),
        ValueRef::U128(v) => out.extend_from_slice(ints.format(v).as_bytes()),
        ValueRef::I128(v) => out.extend_from_slice(ints.format(v).as_bytes()),
        ValueRef::F64(v) if v.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes())
        }
        // JSON has no NaN or infinity; keep the information as a string.
        ValueRef::F64(v) => {
            let _ = write!(out, "\"{v}\"");
        }
        ValueRef::Bool(v) => out.extend_from_slice(if v { b"true" } else { b"false" }),
        ValueRef::Char(c) => write_str(out, c.encode_utf8(&mut [0; 4])),
        ValueRef::None => out.extend_from_slice(b"null"),
        other => write_str(out, other.as_text().unwrap_or_default()),
    }
}

/// Writes `s` as a quoted JSON string.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A `fmt::Write` that JSON-escapes as it appends (for the message).
struct Escaper<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_quotes() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn values_keep_their_json_type() {
        let cases = [
            (ValueRef::U64(3), "3"),
            (ValueRef::I64(-3), "-3"),
            (ValueRef::F64(3.25), "3.25"),
            (ValueRef::F64(f64::NAN), "\"NaN\""),
            (ValueRef::Bool(false), "false"),
            (ValueRef::Str("x"), "\"x\""),
            (ValueRef::Display("1.2.3.4"), "\"1.2.3.4\""),
            (ValueRef::None, "null"),
            (ValueRef::FmtError, "\"<fmt error>\""),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            write_value(&mut out, &value);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
