//! Reading snapshot files: strictly (any damage is an error with its byte offset) or in
//! salvage mode (every event that can still be decoded, and a list of what was skipped).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use smallvec::SmallVec;

use super::SnapshotError;
use super::format::{
    CHUNK_CALLSITES, CHUNK_END, CHUNK_EVENTS, CHUNK_HEADER, CHUNK_INFO, CHUNK_MAGIC, CHUNK_THREADS,
    CODEC_LZ4, CODEC_STORED, CallsiteEntry, Cursor, FILE_HEADER, FILE_MAGIC, FORMAT_VERSION,
    MAX_CHUNK_RAW, RECORD_GAP, check_record, read_callsite, read_record, read_thread,
};
use crate::callsite::Metadata;
use crate::event::{Event, EventScope, GAP_METADATA};
use crate::span::SpanRef;
use crate::thread::ThreadInfo;
use crate::trace::{SpanId, TraceId};
use crate::value::FieldsRef;
use crate::value::ValueRef;

/// What is wrong with the bytes of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The file does not start with the snapshot magic bytes (`TTLOGSNP`).
    NotASnapshot,
    /// The file is a snapshot of a format version this reader does not know.
    UnsupportedVersion(u16),
    /// The file ends in the middle of the named structure.
    Truncated(&'static str),
    /// The named structure is damaged.
    Corrupt(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotASnapshot => f.write_str("not a ttlog snapshot (no TTLOGSNP magic)"),
            Problem::UnsupportedVersion(v) => write!(
                f,
                "snapshot format version {v} is not supported (this reader knows version {FORMAT_VERSION})"
            ),
            Problem::Truncated(what) => write!(f, "truncated: the file ends inside {what}"),
            Problem::Corrupt(what) => write!(f, "corrupt {what}"),
        }
    }
}

/// A snapshot read back from its file: process information, the callsite and thread tables,
/// and the events in recorded order.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("ttlog-doc-read-{}", std::process::id()));
/// let handle = ttlog_core::init()
///     .console(false)
///     .recorder_level(ttlog_core::LogLevel::Trace)
///     .snapshot_dir(&dir)
///     .init();
/// let path = handle.snapshot("demo")?;
/// let snapshot = ttlog_core::Snapshot::read_file(&path)?;
/// assert_eq!(snapshot.info("reason"), Some("demo"));
/// snapshot.for_each_event(|event| println!("{} {}", event.level(), event.message()));
/// # drop(handle);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Snapshot {
    info: Vec<(String, String)>,
    /// The callsite table, owned: events borrow their metadata from it.
    callsites: HashMap<u32, CallsiteEntry>,
    threads: HashMap<u64, ThreadInfo>,
    records: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    declared_events: Option<u64>,
}

/// What [`Snapshot::salvage`] recovered, and what it had to skip.
#[derive(Debug)]
pub struct Salvaged {
    /// Everything that could be decoded.
    pub snapshot: Snapshot,
    /// Each damaged or missing part, in file order.
    pub problems: Vec<SnapshotError>,
}

impl Snapshot {
    /// Whether `bytes` begin as a snapshot does (its magic number), to tell a snapshot from
    /// other files before reading it.
    ///
    /// ```
    /// assert!(!ttlog_core::Snapshot::is_snapshot(b"{\"level\":\"info\"}"));
    /// ```
    pub fn is_snapshot(bytes: &[u8]) -> bool {
        bytes.starts_with(super::format::FILE_MAGIC)
    }

    /// Reads a snapshot; any damage is an error naming its byte offset.
    pub fn read(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut reader = Reader::default();
        reader.run(bytes, false)?;
        Ok(reader.snapshot)
    }

    /// Reads the snapshot file at `path` (see [`read`](Snapshot::read)).
    pub fn read_file(path: impl AsRef<Path>) -> Result<Snapshot, SnapshotError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| SnapshotError::Io {
            path: path.to_owned(),
            source,
        })?;
        Snapshot::read(&bytes)
    }

    /// Reads whatever can still be decoded: complete chunks of a truncated file, the chunks
    /// around a damaged one. Never fails; an unreadable file gives an empty snapshot and the
    /// reasons.
    pub fn salvage(bytes: &[u8]) -> Salvaged {
        let mut reader = Reader::default();
        let _ = reader.run(bytes, true);
        Salvaged {
            snapshot: reader.snapshot,
            problems: reader.problems,
        }
    }

    /// The process information, as `(key, value)` pairs in file order (`service`,
    /// `hostname`, `pid`, `ttlog_version`, `started_at`, `created_at`, `reason`, ...).
    pub fn info_pairs(&self) -> &[(String, String)] {
        &self.info
    }

    /// One process information value (`"reason"`, `"service"`, `"pid"`, ...).
    pub fn info(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The number of events (gap markers included).
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the snapshot holds no events.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The number of events the writer said it wrote (from the end chunk), if the file has
    /// one.
    pub fn declared_events(&self) -> Option<u64> {
        self.declared_events
    }

    /// The threads that appear in the snapshot.
    pub fn threads(&self) -> impl Iterator<Item = &ThreadInfo> {
        self.threads.values()
    }

    /// Calls `f` with each event in recorded order, as sinks see events. Dropped-event markers
    /// appear as the usual `N events dropped` warning (target `ttlog`, field `dropped`).
    pub fn for_each_event(&self, mut f: impl FnMut(&Event<'_>)) {
        // The metadata of every callsite, borrowing the snapshot's table.
        let names: HashMap<u32, Vec<&str>> = self
            .callsites
            .iter()
            .map(|(&id, entry)| (id, entry.fields.iter().map(String::as_str).collect()))
            .collect();
        let metas: HashMap<u32, Metadata<'_>> = self
            .callsites
            .iter()
            .map(|(id, entry)| (*id, metadata(entry, &names[id])))
            .collect();
        for &(start, len) in &self.ranges {
            let Some(record) = read_record(&self.records[start..start + len]) else {
                continue;
            };
            let Some(thread) = self.threads.get(&record.thread) else {
                continue;
            };
            let mut values: SmallVec<[ValueRef<'_>; 16]> = SmallVec::new();
            let meta = if record.kind == RECORD_GAP {
                values.push(ValueRef::U64(record.dropped));
                values.push(ValueRef::U64(record.dropped));
                &GAP_METADATA
            } else {
                let Some(meta) = metas.get(&record.callsite) else {
                    continue;
                };
                if let Some(message) = record.message {
                    values.push(ValueRef::Str(message));
                }
                values.extend(record.values.iter().copied());
                meta
            };
            let mut event =
                Event::new(meta, record.timestamp_ns, thread, &values, record.truncated);
            let spans: SmallVec<[SpanRef<'_>; 8]> = record
                .scope
                .iter()
                .flat_map(|scope| &scope.spans)
                .filter_map(|span| {
                    Some(SpanRef {
                        meta: metas.get(&span.callsite)?,
                        span_id: SpanId::from_u64(span.span_id)?,
                        // Snapshots do not keep it.
                        remote_parent: None,
                        values: span.values,
                        nvalues: span.nvalues,
                        recorded: span.recorded,
                        nrecorded: span.nrecorded,
                    })
                })
                .collect();
            if let Some(scope) = &record.scope {
                event = event.with_scope(EventScope {
                    spans: &spans,
                    trace_id: TraceId::from_u128(scope.trace_id),
                    context: (scope.ncontext > 0)
                        .then(|| FieldsRef::new(scope.context, scope.ncontext, false)),
                    statics: None,
                });
            }
            f(&event);
        }
    }
}

#[derive(Default)]
struct Reader {
    snapshot: Snapshot,
    problems: Vec<SnapshotError>,
}

fn invalid(offset: usize, problem: Problem) -> SnapshotError {
    SnapshotError::Invalid {
        offset: offset as u64,
        problem,
    }
}

impl Reader {
    /// Reads `bytes`. In salvage mode, problems are collected and reading goes on where it
    /// can; otherwise the first problem is returned.
    fn run(&mut self, bytes: &[u8], salvage: bool) -> Result<(), SnapshotError> {
        let mut pos = match check_file_header(bytes) {
            Ok(pos) => pos,
            Err(err) => {
                self.problems.push(err.clone());
                return Err(err);
            }
        };
        let mut ended = false;
        while pos < bytes.len() {
            if ended {
                let err = invalid(pos, Problem::Corrupt("file: data after the end chunk"));
                if !salvage {
                    return Err(err);
                }
                self.problems.push(err);
                break;
            }
            match self.chunk(bytes, pos) {
                Ok((next, end)) => {
                    pos = next;
                    ended = end;
                }
                Err(err) => {
                    let truncated = is_truncation(&err);
                    if !salvage {
                        return Err(err);
                    }
                    self.problems.push(err);
                    match (!truncated).then(|| find_chunk(bytes, pos + 1)).flatten() {
                        Some(next) => pos = next,
                        None => break,
                    }
                }
            }
        }
        if !ended {
            let has_truncation = self.problems.iter().any(is_truncation);
            let err = invalid(
                bytes.len(),
                Problem::Truncated("the chunk list (no end chunk)"),
            );
            if !salvage {
                return Err(err);
            }
            if !has_truncation {
                self.problems.push(err);
            }
        }
        Ok(())
    }

    /// Reads the chunk at `pos`; returns the next position and whether it was the end chunk.
    fn chunk(&mut self, bytes: &[u8], pos: usize) -> Result<(usize, bool), SnapshotError> {
        let mut cur = Cursor::new(&bytes[pos..]);
        let header = cur
            .take(CHUNK_HEADER)
            .ok_or_else(|| invalid(pos, Problem::Truncated("a chunk header")))?;
        let mut h = Cursor::new(header);
        if h.take(4) != Some(CHUNK_MAGIC.as_slice()) {
            return Err(invalid(
                pos,
                Problem::Corrupt("chunk header (bad chunk magic)"),
            ));
        }
        let (kind, codec, _reserved) = (h.u8(), h.u8(), h.u16());
        let (kind, codec) = (kind.unwrap_or(0), codec.unwrap_or(0));
        let stored_len = h.u32().unwrap_or(0) as usize;
        let raw_len = h.u32().unwrap_or(0) as usize;
        let crc = h.u32().unwrap_or(0);
        if raw_len > MAX_CHUNK_RAW || stored_len > MAX_CHUNK_RAW {
            return Err(invalid(
                pos,
                Problem::Corrupt("chunk header (size out of range)"),
            ));
        }
        let stored = cur
            .take(stored_len)
            .ok_or_else(|| invalid(pos, Problem::Truncated("a chunk body")))?;
        if crc32fast::hash(stored) != crc {
            return Err(invalid(pos, Problem::Corrupt("chunk (checksum mismatch)")));
        }
        let decompressed;
        let raw = match codec {
            CODEC_STORED if stored_len == raw_len => stored,
            CODEC_LZ4 => {
                decompressed = lz4_flex::block::decompress(stored, raw_len)
                    .ok()
                    .filter(|d| d.len() == raw_len)
                    .ok_or_else(|| invalid(pos, Problem::Corrupt("chunk (does not decompress)")))?;
                &decompressed[..]
            }
            _ => {
                return Err(invalid(
                    pos,
                    Problem::Corrupt("chunk header (unknown codec)"),
                ));
            }
        };
        let next = pos + CHUNK_HEADER + stored_len;
        let mut body = Cursor::new(raw);
        let malformed = |what: &'static str| invalid(pos, Problem::Corrupt(what));
        match kind {
            CHUNK_INFO => {
                let count = body.u32().ok_or_else(|| malformed("info chunk"))?;
                for _ in 0..count {
                    let pair = body.str().zip(body.str());
                    let (k, v) = pair.ok_or_else(|| malformed("info chunk"))?;
                    self.snapshot.info.push((k.to_owned(), v.to_owned()));
                }
            }
            CHUNK_CALLSITES => {
                let count = body.u32().ok_or_else(|| malformed("callsite table"))?;
                for _ in 0..count {
                    let entry =
                        read_callsite(&mut body).ok_or_else(|| malformed("callsite table"))?;
                    self.snapshot.callsites.insert(entry.id, entry);
                }
            }
            CHUNK_THREADS => {
                let count = body.u32().ok_or_else(|| malformed("thread table"))?;
                for _ in 0..count {
                    let (id, name) =
                        read_thread(&mut body).ok_or_else(|| malformed("thread table"))?;
                    self.snapshot.threads.insert(id, ThreadInfo { id, name });
                }
            }
            CHUNK_EVENTS => self.events(&mut body, pos)?,
            CHUNK_END => {
                let events = body.u64().ok_or_else(|| malformed("end chunk"))?;
                self.snapshot.declared_events = Some(events);
                return Ok((next, true));
            }
            // Chunk kinds added by later minor versions are skipped.
            _ => {}
        }
        Ok((next, false))
    }

    /// Reads an events chunk up to its first bad record. The records before it are kept
    /// (salvage shows them); the error tells strict reading to fail.
    fn events(&mut self, body: &mut Cursor<'_>, pos: usize) -> Result<(), SnapshotError> {
        let malformed = |what: &'static str| invalid(pos, Problem::Corrupt(what));
        let count = body.u32().ok_or_else(|| malformed("events chunk"))?;
        for _ in 0..count {
            let checked = body
                .u32()
                .and_then(|len| body.take(len as usize))
                .ok_or("events chunk (record length)")
                .and_then(|record| self.check_record(record).map(|()| record));
            let record = checked.map_err(malformed)?;
            let start = self.snapshot.records.len();
            self.snapshot.records.extend_from_slice(record);
            self.snapshot.ranges.push((start, record.len()));
        }
        if body.remaining() != 0 {
            return Err(malformed("events chunk (bytes after the last record)"));
        }
        Ok(())
    }

    fn check_record(&mut self, record: &[u8]) -> Result<(), &'static str> {
        let view = check_record(record, &self.snapshot.callsites)?;
        self.snapshot
            .threads
            .entry(view.thread)
            .or_insert_with(|| ThreadInfo {
                id: view.thread,
                name: format!("thread-{}", view.thread),
            });
        Ok(())
    }
}

fn is_truncation(err: &SnapshotError) -> bool {
    matches!(
        err,
        SnapshotError::Invalid {
            problem: Problem::Truncated(_),
            ..
        }
    )
}

/// Checks the file header; returns where the first chunk starts.
fn check_file_header(bytes: &[u8]) -> Result<usize, SnapshotError> {
    let magic_len = FILE_MAGIC.len().min(bytes.len());
    if bytes[..magic_len] != FILE_MAGIC[..magic_len] {
        return Err(invalid(0, Problem::NotASnapshot));
    }
    if bytes.len() < FILE_HEADER {
        return Err(invalid(bytes.len(), Problem::Truncated("the file header")));
    }
    let mut cur = Cursor::new(&bytes[FILE_MAGIC.len()..]);
    let version = cur.u16().unwrap_or(0);
    if version != FORMAT_VERSION {
        return Err(invalid(8, Problem::UnsupportedVersion(version)));
    }
    let header_len = usize::from(cur.u16().unwrap_or(0));
    if header_len < FILE_HEADER || header_len > bytes.len() {
        return Err(invalid(10, Problem::Corrupt("file header (header length)")));
    }
    Ok(header_len)
}

/// The next position at or after `from` that starts with the chunk magic.
fn find_chunk(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    rest.windows(CHUNK_MAGIC.len())
        .position(|w| w == CHUNK_MAGIC)
        .map(|i| from + i)
}

/// Formats a stored per-event message: it is the event's first value.
fn stored_message(out: &mut dyn fmt::Write, args: &[ValueRef<'_>]) -> fmt::Result {
    match args.first() {
        Some(ValueRef::Str(message)) => out.write_str(message),
        _ => Ok(()),
    }
}

/// The metadata of a callsite read from a file, borrowing its strings (marked as stored, so
/// that formatters do not cache it by address).
fn metadata<'s>(entry: &'s CallsiteEntry, fields: &'s [&'s str]) -> Metadata<'s> {
    let (args, format): (usize, Option<crate::callsite::FormatFn>) = if entry.message_per_event {
        (1, Some(stored_message))
    } else {
        (0, None)
    };
    let meta = Metadata::new(
        entry.level,
        &entry.target,
        &entry.module_path,
        &entry.file,
        entry.line,
        &entry.template,
        args,
        fields,
        format,
    );
    let meta = if entry.span_close {
        meta.span_close()
    } else {
        meta
    };
    meta.stored()
}
