//! The byte layout of event records, shared by the flight recorder, the persisted recorder
//! file and snapshot files (specified for other tools in `docs/snapshot-format.md`).
//!
//! Everything is little-endian. A string is a `u32` byte length followed by UTF-8 bytes.
//!
//! An *event record* is what the recorder keeps per event and what snapshot files store:
//!
//! ```text
//! offset  size  field
//! 0       1     kind: 1 event, 2 gap (events were dropped here)
//! 1       1     flags: 1 truncated values, 2 a message string follows the header
//! 2       2     number of field values
//! 4       4     callsite id (0 for gaps)
//! 8       8     thread id
//! 16      8     timestamp, nanoseconds since the Unix epoch
//! 24      ...   gap: u64 number of dropped events
//!               event: [message string] then the field values, each a tag byte and its
//!               bytes, then [scope section]
//! ```
//!
//! The scope section (flag 4) holds the spans and context the event was logged in:
//!
//! ```text
//! 16    trace id (u128; 0 when there is no span)
//! 2     span count, then per span, root first:
//!         4 callsite id, 8 span id,
//!         2 value count, 4 byte length, the values given at creation (in field-name order),
//!         2 pair count, 4 byte length, the (name, value) pairs recorded later
//! 2     context pair count, 4 byte length, the pairs
//! ```
//!
//! A pair is a `u16` name length, the UTF-8 name, then a value.

use crate::callsite::Metadata;
use crate::event::EventScope;
use crate::level::LogLevel;
use crate::value::{self, ValueRef};
use std::collections::HashMap;

pub(crate) const RECORD_EVENT: u8 = 1;
pub(crate) const RECORD_GAP: u8 = 2;
pub(crate) const RECORD_TRUNCATED: u8 = 1;
pub(crate) const RECORD_MESSAGE: u8 = 2;
pub(crate) const RECORD_SCOPE: u8 = 4;

/// Callsite flag: the message is formatted per event and stored in each record.
pub(crate) const CALLSITE_MESSAGE: u8 = 1;
/// Callsite flag: the close event of a span.
pub(crate) const CALLSITE_SPAN_CLOSE: u8 = 2;

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

/// Appends process information: a `u32` count, then (key, value) string pairs.
pub(crate) fn put_info(out: &mut Vec<u8>, pairs: &[(&str, impl AsRef<str>)]) {
    put_u32(out, pairs.len() as u32);
    for (key, value) in pairs {
        put_str(out, key);
        put_str(out, value.as_ref());
    }
}

/// The fixed part of an event record.
pub(crate) fn record_header(
    kind: u8,
    flags: u8,
    values: u16,
    callsite: u32,
    thread: u64,
    timestamp_ns: u64,
) -> [u8; 24] {
    let mut header = [0; 24];
    header[0] = kind;
    header[1] = flags;
    header[2..4].copy_from_slice(&values.to_le_bytes());
    header[4..8].copy_from_slice(&callsite.to_le_bytes());
    header[8..16].copy_from_slice(&thread.to_le_bytes());
    header[16..24].copy_from_slice(&timestamp_ns.to_le_bytes());
    header
}

/// Appends the scope section of an event record; `callsites` has the callsite id of each
/// span in `scope.spans`.
pub(crate) fn put_scope(out: &mut Vec<u8>, scope: &EventScope<'_>, callsites: &[u32]) {
    out.extend_from_slice(&scope.trace_id.map_or(0, |t| t.to_u128()).to_le_bytes());
    put_u16(out, scope.spans.len() as u16);
    for (span, &id) in scope.spans.iter().zip(callsites) {
        put_u32(out, id);
        put_u64(out, span.span_id.to_u64());
        put_u16(out, span.nvalues);
        put_u32(out, span.values.len() as u32);
        out.extend_from_slice(span.values);
        put_u16(out, span.nrecorded);
        put_u32(out, span.recorded.len() as u32);
        out.extend_from_slice(span.recorded);
    }
    let context = scope
        .context
        .map_or((&[][..], 0), |c| (c.body(), c.len() as u16));
    put_u16(out, context.1);
    put_u32(out, context.0.len() as u32);
    out.extend_from_slice(context.0);
}

/// A span of a stored event record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredSpan<'a> {
    pub(crate) callsite: u32,
    pub(crate) span_id: u64,
    pub(crate) values: &'a [u8],
    pub(crate) nvalues: u16,
    pub(crate) recorded: &'a [u8],
    pub(crate) nrecorded: u16,
}

/// The scope section of a stored event record.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoredScope<'a> {
    pub(crate) trace_id: u128,
    pub(crate) spans: smallvec::SmallVec<[StoredSpan<'a>; 4]>,
    pub(crate) context: &'a [u8],
    pub(crate) ncontext: u16,
}

fn read_scope<'a>(cur: &mut Cursor<'a>) -> Option<StoredScope<'a>> {
    let mut scope = StoredScope {
        trace_id: u128::from_le_bytes(cur.take(16)?.try_into().ok()?),
        ..StoredScope::default()
    };
    for _ in 0..cur.u16()? {
        let callsite = cur.u32()?;
        let span_id = cur.u64()?;
        let nvalues = cur.u16()?;
        let len = cur.u32()? as usize;
        let values = cur.take(len)?;
        let nrecorded = cur.u16()?;
        let len = cur.u32()? as usize;
        let recorded = cur.take(len)?;
        scope.spans.push(StoredSpan {
            callsite,
            span_id,
            values,
            nvalues,
            recorded,
            nrecorded,
        });
    }
    scope.ncontext = cur.u16()?;
    let len = cur.u32()? as usize;
    scope.context = cur.take(len)?;
    Some(scope)
}

/// Appends a gap record.
pub(crate) fn put_gap(out: &mut Vec<u8>, thread: u64, timestamp_ns: u64, dropped: u64) {
    out.extend_from_slice(&record_header(RECORD_GAP, 0, 0, 0, thread, timestamp_ns));
    put_u64(out, dropped);
}

/// Appends a callsite table entry.
pub(crate) fn put_callsite(out: &mut Vec<u8>, id: u32, meta: &Metadata<'_>) {
    put_u32(out, id);
    out.push(meta.level() as u8);
    let mut flags = 0;
    if meta.has_format() {
        flags |= CALLSITE_MESSAGE;
    }
    if meta.is_span_close() {
        flags |= CALLSITE_SPAN_CLOSE;
    }
    out.push(flags);
    put_u16(out, meta.field_names().len() as u16);
    put_u32(out, meta.line());
    put_str(out, meta.target());
    put_str(out, meta.module_path());
    put_str(out, meta.file());
    put_str(out, meta.template());
    for name in meta.field_names() {
        put_str(out, name);
    }
}

/// Appends a thread table entry.
pub(crate) fn put_thread(out: &mut Vec<u8>, id: u64, name: &str) {
    put_u64(out, id);
    put_str(out, name);
}

/// A bounds-checked reader over a byte slice. Every read returns `None` past the end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }

    /// Decodes one value (tag byte and bytes).
    pub(crate) fn value(&mut self) -> Option<ValueRef<'a>> {
        let (value, used) = value::decode_value(&self.bytes[self.pos..])?;
        self.pos += used;
        Some(value)
    }
}

/// A callsite as a snapshot describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CallsiteEntry {
    pub(crate) id: u32,
    pub(crate) level: LogLevel,
    pub(crate) message_per_event: bool,
    pub(crate) span_close: bool,
    pub(crate) line: u32,
    pub(crate) target: String,
    pub(crate) module_path: String,
    pub(crate) file: String,
    pub(crate) template: String,
    pub(crate) fields: Vec<String>,
}

pub(crate) fn read_callsite(cur: &mut Cursor<'_>) -> Option<CallsiteEntry> {
    let id = cur.u32()?;
    let level = LogLevel::from_u8(cur.u8()?)?;
    let flags = cur.u8()?;
    let nfields = cur.u16()?;
    let line = cur.u32()?;
    let target = cur.str()?.to_owned();
    let module_path = cur.str()?.to_owned();
    let file = cur.str()?.to_owned();
    let template = cur.str()?.to_owned();
    let mut fields = Vec::with_capacity(usize::from(nfields).min(cur.remaining() / 4));
    for _ in 0..nfields {
        fields.push(cur.str()?.to_owned());
    }
    Some(CallsiteEntry {
        id,
        level,
        message_per_event: flags & CALLSITE_MESSAGE != 0,
        span_close: flags & CALLSITE_SPAN_CLOSE != 0,
        line,
        target,
        module_path,
        file,
        template,
        fields,
    })
}

/// Checks an event record against the callsite table it will be read with: it decodes, its
/// callsite is known, and its values and message match the callsite. What every reader of
/// records (snapshot files, a recovered recorder file) accepts.
pub(crate) fn check_record<'r>(
    record: &'r [u8],
    callsites: &HashMap<u32, CallsiteEntry>,
) -> Result<RecordView<'r>, &'static str> {
    let view = read_record(record).ok_or("event record")?;
    if view.kind == RECORD_EVENT {
        let entry = callsites
            .get(&view.callsite)
            .ok_or("event record (unknown callsite)")?;
        if view.values.len() > entry.fields.len() {
            return Err("event record (more values than the callsite has fields)");
        }
        if entry.message_per_event != view.message.is_some() {
            return Err("event record (message does not match its callsite)");
        }
    }
    Ok(view)
}

pub(crate) fn read_thread(cur: &mut Cursor<'_>) -> Option<(u64, String)> {
    Some((cur.u64()?, cur.str()?.to_owned()))
}

/// An event record, decoded and checked.
#[derive(Debug, Clone)]
pub(crate) struct RecordView<'a> {
    pub(crate) kind: u8,
    pub(crate) truncated: bool,
    pub(crate) callsite: u32,
    pub(crate) thread: u64,
    pub(crate) timestamp_ns: u64,
    pub(crate) message: Option<&'a str>,
    pub(crate) dropped: u64,
    pub(crate) values: smallvec::SmallVec<[ValueRef<'a>; 8]>,
    pub(crate) scope: Option<StoredScope<'a>>,
}

/// Decodes a whole event record; `None` if it is malformed or has bytes left over.
pub(crate) fn read_record(bytes: &[u8]) -> Option<RecordView<'_>> {
    let mut cur = Cursor::new(bytes);
    let kind = cur.u8()?;
    let flags = cur.u8()?;
    let nvalues = cur.u16()?;
    let callsite = cur.u32()?;
    let thread = cur.u64()?;
    let timestamp_ns = cur.u64()?;
    let mut view = RecordView {
        kind,
        truncated: flags & RECORD_TRUNCATED != 0,
        callsite,
        thread,
        timestamp_ns,
        message: None,
        dropped: 0,
        values: smallvec::SmallVec::new(),
        scope: None,
    };
    match kind {
        RECORD_GAP => view.dropped = cur.u64()?,
        RECORD_EVENT => {
            if flags & RECORD_MESSAGE != 0 {
                view.message = Some(cur.str()?);
            }
            for _ in 0..nvalues {
                let value = cur.value()?;
                view.values.push(value);
            }
            if flags & RECORD_SCOPE != 0 {
                view.scope = Some(read_scope(&mut cur)?);
            }
        }
        _ => return None,
    }
    (cur.remaining() == 0).then_some(view)
}
