//! The JSON line format (the contract in DESIGN.md):
//!
//! ```json
//! {"timestamp":"2026-01-06T12:34:56.789012345Z","level":"info","target":"app::db",
//!  "message":"User logged in","fields":{"user_id":123},"thread":"main","file":"src/main.rs","line":12}
//! ```
//!
//! Inside spans, `"span"` (the innermost span: its name and fields), `"spans"` (all of them,
//! root first), `"trace_id"` and `"span_id"` follow `"line"`; context fields follow under
//! `"context"`.
//!
//! Everything that depends only on the callsite (level, target, a constant message, the field
//! keys, file and line) is escaped once per callsite and cached; per event only the timestamp,
//! the message arguments, the values and the thread are written.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::Write as _;

use super::timestamp::{Precision, TimestampCache};
use crate::callsite::Metadata;
use crate::event::Event;
use crate::span::SpanRef;
use crate::value::{FieldsRef, ValueRef};

/// The JSON of one callsite, escaped once.
struct CallsiteJson {
    /// `","level":"info","target":"app::db","message":"`
    head: Vec<u8>,
    /// The escaped message when it has no arguments.
    message: Option<Vec<u8>>,
    /// `head`, the constant `message` and `","fields":{` in one piece: everything between
    /// the timestamp and the first field, when the message has no arguments.
    opening: Option<Vec<u8>>,
    /// `"user_id":` for each field.
    keys: Vec<Piece>,
    /// `,"file":"src/main.rs","line":12`.
    tail: Vec<u8>,
    /// `tail` then `}\n`: the end of an event logged outside spans and context.
    tail_end: Piece,
}

/// Bytes cached once and copied into many lines. Up to [`Piece::SHORT`] bytes they are
/// kept in a fixed array that is copied whole (a few vector moves) and then cut to length:
/// `extend_from_slice` of a few bytes of unknown length is a call to `memcpy`, some 25
/// instructions.
enum Piece {
    Short([u8; Piece::SHORT], u8),
    Long(Vec<u8>),
}

impl Piece {
    const SHORT: usize = 64;

    fn new(bytes: &[u8]) -> Piece {
        if bytes.len() <= Piece::SHORT {
            let mut short = [0; Piece::SHORT];
            short[..bytes.len()].copy_from_slice(bytes);
            Piece::Short(short, bytes.len() as u8)
        } else {
            Piece::Long(bytes.to_vec())
        }
    }

    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Piece::Short(bytes, len) => {
                let end = out.len() + *len as usize;
                out.extend_from_slice(bytes);
                out.truncate(end);
            }
            Piece::Long(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// Hashes the integer keys of the caches (metadata addresses, thread ids) with one multiply.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 << 8 | b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Values built once per key. Consecutive events mostly share a callsite and a thread, so the
/// previous hit is checked before the map.
struct LastHitCache<K, V> {
    index: HashMap<K, usize, BuildHasherDefault<KeyHasher>>,
    values: Vec<V>,
    last: Option<(K, usize)>,
}

impl<K, V> Default for LastHitCache<K, V> {
    fn default() -> Self {
        LastHitCache {
            index: HashMap::default(),
            values: Vec::new(),
            last: None,
        }
    }
}

impl<K: Copy + Eq + Hash, V> LastHitCache<K, V> {
    fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &V {
        let at = match self.last {
            Some((last, at)) if last == key => at,
            _ => {
                let values = &mut self.values;
                let at = *self.index.entry(key).or_insert_with(|| {
                    values.push(make());
                    values.len() - 1
                });
                self.last = Some((key, at));
                at
            }
        };
        &self.values[at]
    }

    fn len(&self) -> usize {
        self.values.len()
    }
}

/// Formats events as JSON lines, with per-callsite and per-thread caches.
#[derive(Default)]
pub(crate) struct JsonFormatter {
    timestamps: TimestampCache,
    /// By metadata address.
    callsites: LastHitCache<usize, CallsiteJson>,
    /// `"thread-name"` escaped, by thread id.
    threads: LastHitCache<u64, Piece>,
    /// Fields at the top level of the object rather than under `"fields"`.
    pub(crate) flatten: bool,
}

/// The keys of the JSON contract: a field of the same name, lifted to the top level, is
/// written `fields.<name>` instead so that it cannot shadow them.
const RESERVED_KEYS: [&str; 13] = [
    "timestamp",
    "level",
    "target",
    "message",
    "fields",
    "thread",
    "file",
    "line",
    "span",
    "spans",
    "trace_id",
    "span_id",
    "context",
];

/// `,"name":value` at the top level of a flattened event.
fn write_top_level_pair(out: &mut Vec<u8>, name: &str, value: &ValueRef<'_>) {
    out.push(b',');
    if RESERVED_KEYS.contains(&name) {
        let mut prefixed = String::with_capacity(7 + name.len());
        prefixed.push_str("fields.");
        prefixed.push_str(name);
        write_str(out, &prefixed);
    } else {
        write_str(out, name);
    }
    out.push(b':');
    write_value(out, value);
}

impl fmt::Debug for JsonFormatter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonFormatter")
            .field("callsites", &self.callsites.len())
            .field("threads", &self.threads.len())
            .finish()
    }
}

fn callsite_json(meta: &Metadata<'_>) -> CallsiteJson {
    let mut head = Vec::new();
    head.extend_from_slice(b"\",\"level\":\"");
    head.extend_from_slice(meta.level().as_str().as_bytes());
    head.extend_from_slice(b"\",\"target\":");
    write_str(&mut head, meta.target());
    head.extend_from_slice(b",\"message\":\"");
    let message = (meta.arg_count() == 0).then(|| {
        let mut text = String::new();
        let _ = meta.write_message(&mut text, &[]);
        let mut escaped = Vec::new();
        escape_into(&mut escaped, &text);
        escaped
    });
    let opening = message
        .as_ref()
        .map(|message| [&head[..], message, FIELDS_OPEN].concat());
    let keys = meta
        .field_names()
        .iter()
        .map(|name| {
            let mut key = Vec::new();
            write_str(&mut key, name);
            key.push(b':');
            Piece::new(&key)
        })
        .collect();
    let mut tail = Vec::new();
    tail.extend_from_slice(b",\"file\":");
    write_str(&mut tail, meta.file());
    tail.extend_from_slice(b",\"line\":");
    tail.extend_from_slice(itoa::Buffer::new().format(meta.line()).as_bytes());
    let tail_end = Piece::new(&[&tail[..], b"}\n"].concat());
    CallsiteJson {
        head,
        message,
        opening,
        keys,
        tail,
        tail_end,
    }
}

/// What follows the message when the fields are nested.
const FIELDS_OPEN: &[u8] = b"\",\"fields\":{";

impl JsonFormatter {
    pub(crate) fn write_event(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        let meta = event.metadata();
        // Metadata read back from a snapshot lives only as long as the snapshot: its address
        // may be reused by another callsite later, so it is never cached by address.
        let uncached;
        let parts = if meta.is_stored() {
            uncached = callsite_json(meta);
            &uncached
        } else {
            self.callsites
                .get_or_insert_with(meta as *const Metadata<'_> as usize, || callsite_json(meta))
        };
        out.extend_from_slice(b"{\"timestamp\":\"");
        self.timestamps
            .write(event.timestamp_nanos(), Precision::Nanos, out);
        match (&parts.opening, event.replaced_message()) {
            (Some(opening), None) if !self.flatten => out.extend_from_slice(opening),
            _ => {
                out.extend_from_slice(&parts.head);
                match (&parts.message, event.replaced_message()) {
                    (Some(message), None) => out.extend_from_slice(message),
                    // A failing Display of an argument was already replaced by a marker.
                    _ => {
                        let _ = event.write_message(&mut Escaper(out));
                    }
                }
                if self.flatten {
                    out.push(b'"');
                } else {
                    out.extend_from_slice(FIELDS_OPEN);
                }
            }
        }
        if self.flatten {
            for (name, value) in event.fields() {
                write_top_level_pair(out, name, &value);
            }
            out.extend_from_slice(b",\"thread\":");
        } else {
            write_fields(event, &parts.keys, out);
        }
        let thread = event.thread();
        if meta.is_stored() {
            // Thread ids are per process: one formatter may see several snapshots.
            write_str(out, thread.name());
        } else {
            let name = self.threads.get_or_insert_with(thread.id(), || {
                let mut name = Vec::new();
                write_str(&mut name, thread.name());
                Piece::new(&name)
            });
            name.put(out);
        }
        if !event.has_scope() {
            parts.tail_end.put(out);
        } else {
            out.extend_from_slice(&parts.tail);
            write_scope(event, out);
            out.extend_from_slice(b"}\n");
        }
    }
}

/// The call's fields after `"fields":{`, each key precomputed per callsite (`keys`), then
/// `},"thread":`.
fn write_fields(event: &Event<'_>, keys: &[Piece], out: &mut Vec<u8>) {
    let mut first = true;
    for (value, key) in event.field_values().iter().zip(keys) {
        match value {
            // A struct given by its variable alone: its fields stand in its place.
            ValueRef::Fields(group) if group.is_flat() => {
                for (name, value) in group.iter() {
                    write_pair(out, &mut first, name, &value);
                }
            }
            _ => {
                if !std::mem::take(&mut first) {
                    out.push(b',');
                }
                key.put(out);
                write_value(out, value);
            }
        }
    }
    out.extend_from_slice(b"},\"thread\":");
}

/// `"name":value`, after a comma unless it is the first.
fn write_pair(out: &mut Vec<u8>, first: &mut bool, name: &str, value: &ValueRef<'_>) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    write_str(out, name);
    out.push(b':');
    write_value(out, value);
}

/// `{"name":"checkout","order_id":7}`
fn write_span(out: &mut Vec<u8>, span: &SpanRef<'_>) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, span.name());
    let mut first = false;
    for (name, value) in span.fields() {
        write_pair(out, &mut first, name, &value);
    }
    out.push(b'}');
}

/// The span and context keys of the contract, when the event has them.
fn write_scope(event: &Event<'_>, out: &mut Vec<u8>) {
    if let Some(span) = event.span() {
        out.extend_from_slice(b",\"span\":");
        write_span(out, span);
        out.extend_from_slice(b",\"spans\":[");
        for (i, span) in event.spans().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_span(out, span);
        }
        out.push(b']');
        if let Some(trace_id) = event.trace_id() {
            let _ = write!(out, ",\"trace_id\":\"{trace_id}\"");
        }
        let _ = write!(out, ",\"span_id\":\"{}\"", span.id());
    }
    if event.has_context() {
        out.extend_from_slice(b",\"context\":{");
        let mut first = true;
        for (name, value) in event.context() {
            write_pair(out, &mut first, name, &value);
        }
        out.push(b'}');
    }
}

/// Nested groups deeper than this (only a crafted snapshot has them) are written as a string.
const MAX_DEPTH: usize = 16;

/// Writes a value with its JSON type: numbers, booleans, strings, `null`, and objects for
/// groups of named values.
pub(super) fn write_value(out: &mut Vec<u8>, value: &ValueRef<'_>) {
    write_value_at(out, value, 0)
}

fn write_value_at(out: &mut Vec<u8>, value: &ValueRef<'_>, depth: usize) {
    let mut ints = itoa::Buffer::new();
    match *value {
        ValueRef::U64(v) => out.extend_from_slice(ints.format(v).as_bytes()),
        ValueRef::I64(v) => out.extend_from_slice(ints.format(v).as_bytes()),
        ValueRef::U128(v) => out.extend_from_slice(ints.format(v).as_bytes()),
        ValueRef::I128(v) => out.extend_from_slice(ints.format(v).as_bytes()),
        ValueRef::F64(v) if v.is_finite() => write_f64(out, v),
        // JSON has no NaN or infinity; keep the information as a string.
        ValueRef::F64(v) => {
            let _ = write!(out, "\"{v}\"");
        }
        ValueRef::Bool(v) => out.extend_from_slice(if v { b"true" } else { b"false" }),
        ValueRef::Char(c) => write_str(out, c.encode_utf8(&mut [0; 4])),
        ValueRef::None => out.extend_from_slice(b"null"),
        ValueRef::Fields(group) if depth < MAX_DEPTH => write_group(out, group, depth),
        ValueRef::Fields(_) => write_str(out, "…"),
        other => write_str(out, other.as_text().unwrap_or_default()),
    }
}

/// `{"name":value,...}`: a struct's fields, nested. Out of line, so that the common values'
/// arms of [`write_value_at`] do not pay for the loop's registers.
#[inline(never)]
fn write_group(out: &mut Vec<u8>, group: FieldsRef<'_>, depth: usize) {
    out.push(b'{');
    for (i, (name, value)) in group.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        write_value_at(out, &value, depth + 1);
    }
    out.push(b'}');
}

/// Writes a finite float in its shortest round-trip form, as `ryu` does.
///
/// Most logged floats are short decimals (latencies, ratios): for those, `n`, the nearest
/// integer to `v * 10^4`, gives `v` back as `n / 10^4` (`n` and `10^4` are exact in `f64` and
/// division is correctly rounded, so the check is exact). Below `10^11` the product is off
/// by less than 0.5 from the exact one, so this finds every `v` with at most four fractional
/// digits; `n` without its trailing zeros is then the shortest form, printed with a decimal
/// point. Anything else goes to `ryu`.
fn write_f64(out: &mut Vec<u8>, v: f64) {
    let magnitude = v.abs();
    if (1e-3..1e11).contains(&magnitude) {
        // The nearest integer to `v * 10^4`, without a call to libm's `round`.
        // Through `i64` (exact: below 10^15): x86-64 converts signed integers in one
        // instruction each way, unsigned ones in a sequence of six to ten.
        let scaled = magnitude * 10_000.0;
        let truncated = scaled as i64;
        let n = truncated + i64::from(scaled - truncated as f64 >= 0.5);
        if n as f64 / 10_000.0 == magnitude {
            let (mut n, mut k) = (n as u64, 4);
            while k > 0 && n % 10 == 0 {
                n /= 10;
                k -= 1;
            }
            // `n` with a point before its last `k` digits ("325", 2 -> "3.25"; "5", 3 ->
            // "0.005"; "12", 0 -> "12.0"), as ryu writes it.
            if v < 0.0 {
                out.push(b'-');
            }
            let mut ints = itoa::Buffer::new();
            let digits = ints.format(n).as_bytes();
            if k == 0 {
                out.extend_from_slice(digits);
                out.extend_from_slice(b".0");
            } else if digits.len() > k {
                let (int, frac) = digits.split_at(digits.len() - k);
                out.extend_from_slice(int);
                out.push(b'.');
                out.extend_from_slice(frac);
            } else {
                out.extend_from_slice(b"0.");
                out.extend(std::iter::repeat_n(b'0', k - digits.len()));
                out.extend_from_slice(digits);
            }
            return;
        }
    }
    out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
}

/// Writes `s` as a quoted JSON string.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `word` is `"`, `\` or a control character (< 0x20).
#[inline]
fn needs_escape(word: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = has_zero(word ^ (ONES * b'"' as u64));
    let backslash = has_zero(word ^ (ONES * b'\\' as u64));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control != 0
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings need no escaping: skip clean 8-byte words, then fall back to bytes.
    let mut clean = 0;
    while clean + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[clean..clean + 8].try_into().expect("8 bytes"));
        if needs_escape(word) {
            break;
        }
        clean += 8;
    }
    if clean + 8 > bytes.len() {
        // Fewer than 8 bytes left and all before them clean: check the rest as one word
        // too (the last 8 bytes, or the rest padded with spaces), so that a clean string is
        // one copy instead of a byte loop over its tail.
        let last = match bytes.len().checked_sub(8) {
            Some(from) => u64::from_le_bytes(bytes[from..].try_into().expect("8 bytes")),
            None => {
                let mut word = [b' '; 8];
                word[..bytes.len()].copy_from_slice(bytes);
                u64::from_le_bytes(word)
            }
        };
        if !needs_escape(last) {
            out.extend_from_slice(bytes);
            return;
        }
    }
    out.extend_from_slice(&bytes[..clean]);
    let mut start = clean;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
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
        // Escapes found after the word-at-a-time scan, and inside a word.
        let mut out = Vec::new();
        write_str(&mut out, "clean prefix of 16 \"quoted\" and\ttab, é\u{1f}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""clean prefix of 16 \"quoted\" and\ttab, é\u001f""#
        );
    }

    #[test]
    fn float_fast_path_matches_ryu() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut values = vec![
            3.25,
            -0.5,
            0.001,
            0.1 + 0.2,
            1e12,
            1e11,
            99_999_999_999.999_9,
            99_999_999_999.5,
            12_345_678_901.25,
            0.000_999_9,
            0.001_05,
            999_999.999_9,
            -12.0,
            0.0,
            7.05,
        ];
        for _ in 0..20_000 {
            let r = next();
            let cents = (r % 10_000_000) as f64 / 100.0;
            values.push(if r & 1 == 0 { cents } else { -cents });
            values.push(f64::from_bits(r >> 2) % 1e6);
            // Up to four decimals at every magnitude around the fast path's bounds.
            let decimals = 10f64.powi((r % 5) as i32);
            values.push(((r >> 8) % 1_000_000_000_000_000) as f64 / decimals);
            values.push(((r >> 8) % 100_000) as f64 / 1e7);
            values.push(f64::from_bits(next()));
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let mut out = Vec::new();
            write_f64(&mut out, v);
            let expected = ryu::Buffer::new().format_finite(v).to_owned();
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{v:?}");
        }
    }

    #[test]
    fn short_and_tail_escapes_are_found() {
        for (text, expected) in [
            ("", r#""""#),
            ("a", r#""a""#),
            ("\"", r#""\"""#),
            ("1234567\n", r#""1234567\n""#),
            ("12345678\t", r#""12345678\t""#),
            ("/api/v1/items", r#""/api/v1/items""#),
            ("/api/v1/item\\", r#""/api/v1/item\\""#),
        ] {
            let mut out = Vec::new();
            write_str(&mut out, text);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{text:?}");
        }
    }

    proptest::proptest! {
        /// Any string, from any mix of clean bytes, quotes, backslashes, control characters
        /// and non-ASCII, at every length around the 8-byte words: serde_json reads back the
        /// same string.
        #[test]
        fn escaped_strings_read_back(text in "[a-z\"\\\\\n\t\u{1}\u{1f}é ]{0,40}") {
            let mut out = Vec::new();
            write_str(&mut out, &text);
            let back: String = serde_json::from_slice(&out).unwrap();
            proptest::prop_assert_eq!(back, text);
        }
    }

    #[test]
    fn word_scan_agrees_with_bytes() {
        for b in 0u8..=255 {
            let word = u64::from_le_bytes([b'a', b'b', b, b'c', b'd', b'e', b'f', b'g']);
            let expected = b == b'"' || b == b'\\' || b < 0x20;
            assert_eq!(needs_escape(word), expected, "byte {b:#x}");
        }
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
