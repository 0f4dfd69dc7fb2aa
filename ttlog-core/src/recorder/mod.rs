//! The flight recorder's history: the last events of all threads, as event records (see
//! `layout.rs`), in a byte ring that evicts the oldest records.
//!
//! The consumer thread appends every event routed to the recorder, in global timestamp order;
//! a snapshot copies the ring under the history's lock and never empties it. The ring lives on
//! the heap or, with `.persist(path)`, in a memory-mapped file laid out as:
//!
//! ```text
//! 0       128          header: magic "TTLOGREC", version, sizes, head, tail, dictionary use
//! 128     dict_cap     dictionary: process info, callsites and threads, appended as met
//! ...     data_cap     the ring of frames
//! ```
//!
//! A frame is `u32 payload length, u32 CRC-32 of the payload, payload`, padded to 8 bytes; a
//! length of `u32::MAX` means "skip to the end of the ring". The head is stored after the frame
//! is written and the tail before a frame is overwritten, so the frames between tail and head
//! are always complete; the CRC also rejects a frame torn by anything else.

pub(crate) mod layout;
mod sink;

pub(crate) use sink::{ErrorSnapshots, RecorderSink, lock};

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use memmap2::MmapMut;

use crate::callsite::Metadata;
use crate::thread::ThreadInfo;
use layout::{
    Cursor, check_record, put_callsite, put_gap, put_info, put_thread, put_u32, read_callsite,
};

/// Ring frame header: payload length and CRC-32.
const FRAME_HEADER: usize = 8;
/// Frame length meaning "the rest of the ring is padding".
const WRAP: u32 = u32::MAX;

pub(crate) const PERSIST_MAGIC: &[u8; 8] = b"TTLOGREC";
pub(crate) const PERSIST_VERSION: u16 = 1;
pub(crate) const PERSIST_HEADER: usize = 128;
/// Header offsets of the persisted file.
const H_DATA_CAP: usize = 16;
const H_DICT_CAP: usize = 24;
const H_HEAD: usize = 32;
const H_TAIL: usize = 40;
const H_DICT_USED: usize = 48;
const H_FLAGS: usize = 56;
/// Header flag: the program shut the recorder down cleanly.
pub(crate) const FLAG_CLEAN: u64 = 1;
/// Dictionary entry kinds.
pub(crate) const DICT_INFO: u8 = 1;
pub(crate) const DICT_CALLSITE: u8 = 2;
pub(crate) const DICT_THREAD: u8 = 3;
/// Dictionary size of persisted recorders.
const DICT_CAP: usize = 1 << 20;

enum Backing {
    Heap(Box<[u8]>),
    Mapped { map: MmapMut, _file: File },
}

impl Backing {
    fn bytes(&mut self) -> &mut [u8] {
        match self {
            Backing::Heap(buf) => buf,
            Backing::Mapped { map, .. } => map,
        }
    }

    fn bytes_ref(&self) -> &[u8] {
        match self {
            Backing::Heap(buf) => buf,
            Backing::Mapped { map, .. } => map,
        }
    }
}

/// What a snapshot copies out of the history.
#[derive(Debug, Default)]
pub(crate) struct HistoryCopy {
    /// Event records, each prefixed with its `u32` length, oldest first.
    pub(crate) records: Vec<u8>,
    pub(crate) count: u64,
    pub(crate) callsites: Vec<u8>,
    pub(crate) callsite_count: u32,
    pub(crate) threads: Vec<u8>,
    pub(crate) thread_count: u32,
}

impl HistoryCopy {
    fn push_record(&mut self, record: &[u8]) {
        put_u32(&mut self.records, record.len() as u32);
        self.records.extend_from_slice(record);
        self.count += 1;
    }

    fn set_threads(&mut self, threads: &HashMap<u64, String>) {
        self.threads.clear();
        for (id, name) in threads {
            put_thread(&mut self.threads, *id, name);
        }
        self.thread_count = threads.len() as u32;
    }
}

/// The recorder's history, behind a mutex shared by the consumer's `RecorderSink` (which
/// appends) and the snapshot triggers (which copy).
pub(crate) struct History {
    backing: Backing,
    /// Where the ring starts in `backing` (0 on the heap, after header and dictionary in a
    /// file).
    data_start: usize,
    cap: usize,
    head: u64,
    tail: u64,
    events: usize,
    max_events: usize,
    persisted: bool,
    dict_used: usize,
    dict_cap: usize,
    /// Distinguishes this history's callsite ids from those of an earlier logger.
    pub(crate) generation: u32,
    callsites: Vec<u8>,
    callsite_count: u32,
    threads: HashMap<u64, String>,
    /// Events appended since the start (evicted ones included).
    pub(crate) recorded: u64,
    /// Room to encode gap records in.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("bytes", &self.cap)
            .field("events", &self.events)
            .field("max_events", &self.max_events)
            .field("persisted", &self.persisted)
            .finish()
    }
}

fn align8(n: usize) -> usize {
    (n + 7) & !7
}

impl History {
    /// A history on the heap of `bytes` bytes holding at most `max_events` events.
    pub(crate) fn in_memory(bytes: usize, max_events: usize, generation: u32) -> History {
        let cap = align8(bytes.max(4096));
        History::with_backing(
            Backing::Heap(vec![0u8; cap].into_boxed_slice()),
            0,
            cap,
            max_events,
            false,
            generation,
        )
    }

    /// A history in a memory-mapped file at `path` (created or replaced), with the process
    /// information `info` written into its dictionary. Also returns what the file held before
    /// (the previous run's recorder, to recover), read under the lock.
    ///
    /// The file is locked (`flock`, exclusive) for as long as the history lives: a second live
    /// process gets an error naming the file instead of sharing the mapping. Its space is
    /// allocated up front, so a full disk is an error here rather than a `SIGBUS` later.
    pub(crate) fn persisted(
        path: &Path,
        bytes: usize,
        max_events: usize,
        generation: u32,
        info: &[(&str, impl AsRef<str>)],
    ) -> io::Result<(History, Vec<u8>)> {
        let cap = align8(bytes.max(4096));
        let total = PERSIST_HEADER + DICT_CAP + cap;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        lock_exclusive(&file)?;
        let mut previous = Vec::new();
        io::Read::read_to_end(&mut file, &mut previous)?;
        file.set_len(0)?;
        allocate(&file, total as u64)?;
        // SAFETY: this process holds an exclusive `flock` on the file for as long as the
        // mapping lives (the file is kept in the backing), so no other ttlog process maps,
        // truncates or writes it, and its space was allocated above, so writes through the
        // mapping do not fault on a full disk. The lock is advisory: a program that ignores it
        // and truncates or writes the file could still make accesses fault or read torn
        // bytes; that is outside this crate's control (docs/flight-recorder.md). Every read of
        // the mapping is bounds-checked.
        let map = unsafe { MmapMut::map_mut(&file)? };
        let mut history = History::with_backing(
            Backing::Mapped { map, _file: file },
            PERSIST_HEADER + DICT_CAP,
            cap,
            max_events,
            true,
            generation,
        );
        history.dict_cap = DICT_CAP;
        let bytes = history.backing.bytes();
        bytes[..8].copy_from_slice(PERSIST_MAGIC);
        bytes[8..10].copy_from_slice(&PERSIST_VERSION.to_le_bytes());
        bytes[H_DATA_CAP..H_DATA_CAP + 8].copy_from_slice(&(cap as u64).to_le_bytes());
        bytes[H_DICT_CAP..H_DICT_CAP + 8].copy_from_slice(&(DICT_CAP as u64).to_le_bytes());
        let mut entry = vec![DICT_INFO];
        put_info(&mut entry, info);
        history.dict_append(&entry);
        Ok((history, previous))
    }

    fn with_backing(
        backing: Backing,
        data_start: usize,
        cap: usize,
        max_events: usize,
        persisted: bool,
        generation: u32,
    ) -> History {
        History {
            backing,
            data_start,
            cap,
            head: 0,
            tail: 0,
            events: 0,
            max_events: max_events.max(1),
            persisted,
            dict_used: 0,
            dict_cap: 0,
            generation,
            callsites: Vec::new(),
            callsite_count: 0,
            threads: HashMap::new(),
            recorded: 0,
            scratch: Vec::new(),
        }
    }

    fn set_header_word(&mut self, at: usize, value: u64) {
        if self.persisted {
            std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
            self.backing.bytes()[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
    }

    /// Appends a dictionary entry to the persisted file (nothing on the heap). A full
    /// dictionary drops the entry: recovery then reports the events that need it.
    fn dict_append(&mut self, payload: &[u8]) {
        if !self.persisted {
            return;
        }
        let frame = align8(FRAME_HEADER + payload.len());
        if self.dict_used + frame > self.dict_cap {
            return;
        }
        let at = PERSIST_HEADER + self.dict_used;
        let bytes = self.backing.bytes();
        bytes[at..at + 4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes[at + 4..at + 8].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
        bytes[at + 8..at + 8 + payload.len()].copy_from_slice(payload);
        self.dict_used += frame;
        self.set_header_word(H_DICT_USED, self.dict_used as u64);
    }

    /// The id of `cs` in this recorder's callsite table, adding it on first use.
    #[inline]
    pub(crate) fn callsite_id(&mut self, cs: &crate::callsite::Callsite) -> u32 {
        match cs.recorder_id(self.generation) {
            Some(id) => id,
            None => self.new_callsite_id(cs),
        }
    }

    #[cold]
    fn new_callsite_id(&mut self, cs: &crate::callsite::Callsite) -> u32 {
        let id = self.add_callsite(cs.metadata());
        cs.set_recorder_id(self.generation, id);
        id
    }

    /// Adds a callsite to the table; returns its id.
    pub(crate) fn add_callsite(&mut self, meta: &Metadata<'_>) -> u32 {
        self.callsite_count += 1;
        let id = self.callsite_count;
        let start = self.callsites.len();
        put_callsite(&mut self.callsites, id, meta);
        if self.persisted {
            let mut entry = vec![DICT_CALLSITE];
            entry.extend_from_slice(&self.callsites[start..]);
            self.dict_append(&entry);
        }
        id
    }

    /// Makes sure the thread is in the table.
    pub(crate) fn add_thread(&mut self, id: u64, name: &str) {
        if self.threads.contains_key(&id) {
            return;
        }
        self.threads.insert(id, name.to_owned());
        if self.persisted {
            let mut entry = vec![DICT_THREAD];
            put_thread(&mut entry, id, name);
            self.dict_append(&entry);
        }
    }

    /// Appends a marker for `count` events of `thread` that were dropped before `timestamp_ns`.
    pub(crate) fn push_gap(&mut self, thread: &ThreadInfo, timestamp_ns: u64, count: u64) {
        self.add_thread(thread.id(), thread.name());
        let mut record = std::mem::take(&mut self.scratch);
        record.clear();
        put_gap(&mut record, thread.id(), timestamp_ns, count);
        self.push(&record);
        self.scratch = record;
    }

    /// Appends one event record, evicting the oldest as needed.
    pub(crate) fn push(&mut self, record: &[u8]) {
        self.push_parts(record, &[]);
    }

    /// Appends the event record made of `first` then `second` (a header and the values that
    /// follow it, without copying them together first), evicting the oldest as needed.
    pub(crate) fn push_parts(&mut self, first: &[u8], second: &[u8]) {
        let len = first.len() + second.len();
        let frame = align8(FRAME_HEADER + len);
        if frame > self.cap / 2 {
            // Cannot happen for records from thread rings (they are smaller than the ring);
            // a pathological record is not worth evicting half the history for.
            return;
        }
        while self.events >= self.max_events {
            self.evict();
        }
        let mut offset = (self.head as usize) % self.cap;
        if offset + frame > self.cap {
            // Not enough room before the end: pad to the end and start over at 0.
            let pad = self.cap - offset;
            while (self.cap - (self.head - self.tail) as usize) < pad {
                self.evict();
            }
            let at = self.data_start + offset;
            self.backing.bytes()[at..at + 4].copy_from_slice(&WRAP.to_le_bytes());
            self.head += pad as u64;
            self.set_header_word(H_HEAD, self.head);
            offset = 0;
        }
        while (self.cap - (self.head - self.tail) as usize) < frame {
            self.evict();
        }
        let at = self.data_start + offset;
        let crc = if self.persisted {
            let mut crc = crc32fast::Hasher::new();
            crc.update(first);
            crc.update(second);
            crc.finalize()
        } else {
            0
        };
        let frame_bytes = &mut self.backing.bytes()[at..at + FRAME_HEADER + len];
        let (header, body) = frame_bytes.split_at_mut(FRAME_HEADER);
        header[..4].copy_from_slice(&(len as u32).to_le_bytes());
        header[4..].copy_from_slice(&crc.to_le_bytes());
        let (head, rest) = body.split_at_mut(first.len());
        head.copy_from_slice(first);
        rest.copy_from_slice(second);
        self.head += frame as u64;
        self.events += 1;
        self.recorded += 1;
        self.set_header_word(H_HEAD, self.head);
    }

    /// Drops the oldest frame (or the padding at the end of the ring).
    fn evict(&mut self) {
        debug_assert!(self.tail < self.head);
        let offset = (self.tail as usize) % self.cap;
        let at = self.data_start + offset;
        let bytes = self.backing.bytes_ref();
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        if len == WRAP {
            self.tail += (self.cap - offset) as u64;
        } else {
            self.tail += align8(FRAME_HEADER + len as usize) as u64;
            self.events -= 1;
        }
        self.set_header_word(H_TAIL, self.tail);
    }

    /// The number of events held.
    pub(crate) fn len(&self) -> usize {
        self.events
    }

    /// Copies the history out (the history is unchanged).
    pub(crate) fn copy(&self) -> HistoryCopy {
        let mut copy = HistoryCopy {
            records: Vec::with_capacity((self.head - self.tail) as usize),
            callsites: self.callsites.clone(),
            callsite_count: self.callsite_count,
            ..HistoryCopy::default()
        };
        let data = &self.backing.bytes_ref()[self.data_start..self.data_start + self.cap];
        for_each_frame(data, self.tail, self.head, false, |record| {
            copy.push_record(record)
        });
        copy.set_threads(&self.threads);
        copy
    }

    /// Marks a persisted recorder as cleanly shut down (nothing to recover).
    pub(crate) fn mark_clean(&mut self) {
        self.set_header_word(H_FLAGS, FLAG_CLEAN);
        if let Backing::Mapped { map, .. } = &self.backing {
            let _ = map.flush();
        }
    }

    /// Gives the history's memory (or mapping) back once its logger has shut down: a
    /// persisted file is marked clean first. The logger's shared state stays allocated for
    /// the life of the process, so without this every init/drop cycle would keep a history.
    pub(crate) fn retire(&mut self) {
        self.mark_clean();
        *self = History::with_backing(Backing::Heap(Box::new([])), 0, 0, 1, false, 0);
    }
}

/// Takes an exclusive advisory lock on `file`, or fails at once if another process holds one.
#[cfg(unix)]
fn lock_exclusive(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` on a file descriptor this `File` owns; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        return Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            "the recorder file is in use by another live process",
        ));
    }
    Err(err)
}

#[cfg(not(unix))]
fn lock_exclusive(_file: &File) -> io::Result<()> {
    Ok(())
}

/// Gives `file` `len` bytes of real disk space (not a sparse file, whose first write to a
/// hole on a full disk would be a `SIGBUS` through the mapping).
#[cfg(unix)]
fn allocate(file: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let Ok(len_off) = libc::off_t::try_from(len) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "recorder file too large",
        ));
    };
    // SAFETY: `posix_fallocate` on a file descriptor this `File` owns; no memory is passed.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len_off) } {
        0 => Ok(()),
        libc::ENOSPC => Err(io::Error::new(
            io::ErrorKind::StorageFull,
            format!("no space left for the recorder file ({len} bytes)"),
        )),
        // The file system cannot preallocate: write the zeros ourselves.
        libc::EINVAL | libc::EOPNOTSUPP => write_zeros(file, len),
        code => Err(io::Error::from_raw_os_error(code)),
    }
}

#[cfg(not(unix))]
fn allocate(file: &File, len: u64) -> io::Result<()> {
    write_zeros(file, len)
}

fn write_zeros(mut file: &File, len: u64) -> io::Result<()> {
    use std::io::{Seek, Write};
    file.seek(io::SeekFrom::Start(0))?;
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_data()
}

/// Calls `f` with each frame payload in `[tail, head)` of a ring `data`. With `verify`, a frame
/// whose CRC does not match ends the walk (returns `false`); so does any frame that does not
/// fit, whatever `verify` says.
pub(crate) fn for_each_frame(
    data: &[u8],
    tail: u64,
    head: u64,
    verify: bool,
    mut f: impl FnMut(&[u8]),
) -> bool {
    let cap = data.len();
    if cap == 0 || head < tail || (head - tail) as usize > cap {
        return false;
    }
    let mut pos = tail;
    while pos < head {
        let offset = (pos as usize) % cap;
        let mut cur = Cursor::new(&data[offset..]);
        let Some(len) = cur.u32() else { return false };
        if len == WRAP {
            pos += (cap - offset) as u64;
            continue;
        }
        let crc = cur.u32().unwrap_or(0);
        let frame = align8(FRAME_HEADER + len as usize) as u64;
        let Some(payload) = cur.take(len as usize) else {
            return false;
        };
        if pos + frame > head || (verify && crc32fast::hash(payload) != crc) {
            return false;
        }
        f(payload);
        pos += frame;
    }
    true
}

/// A persisted recorder file, parsed for recovery.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub(crate) info: Vec<(String, String)>,
    pub(crate) copy: HistoryCopy,
    pub(crate) clean: bool,
    /// Whether the frames ended early on a torn or damaged one.
    pub(crate) torn: bool,
}

/// Parses a persisted recorder file.
pub(crate) fn parse_persisted(bytes: &[u8]) -> Result<Recovered, (usize, &'static str)> {
    if bytes.len() < PERSIST_HEADER || &bytes[..8] != PERSIST_MAGIC {
        return Err((0, "not a ttlog recorder file (no TTLOGREC magic)"));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != PERSIST_VERSION {
        return Err((8, "unsupported recorder file version"));
    }
    let data_cap = word(H_DATA_CAP) as usize;
    let dict_cap = word(H_DICT_CAP) as usize;
    let expected = PERSIST_HEADER
        .checked_add(dict_cap)
        .and_then(|n| n.checked_add(data_cap));
    if expected != Some(bytes.len()) {
        return Err((
            H_DATA_CAP,
            "recorder file sizes do not match the file length",
        ));
    }
    let (head, tail) = (word(H_HEAD), word(H_TAIL));
    let dict_used = (word(H_DICT_USED) as usize).min(dict_cap);
    let mut out = Recovered {
        clean: word(H_FLAGS) & FLAG_CLEAN != 0,
        ..Recovered::default()
    };
    let dict = &bytes[PERSIST_HEADER..PERSIST_HEADER + dict_used];
    let mut threads = HashMap::new();
    let mut callsites = HashMap::new();
    let mut pos = 0;
    while pos + FRAME_HEADER <= dict.len() {
        let mut cur = Cursor::new(&dict[pos..]);
        let (len, crc) = (cur.u32().unwrap_or(0) as usize, cur.u32().unwrap_or(0));
        let Some(payload) = cur.take(len) else { break };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let mut entry = Cursor::new(payload);
        match entry.u8() {
            Some(DICT_INFO) => {
                let count = entry.u32().unwrap_or(0);
                for _ in 0..count {
                    if let (Some(k), Some(v)) = (entry.str(), entry.str()) {
                        out.info.push((k.to_owned(), v.to_owned()));
                    }
                }
            }
            Some(DICT_CALLSITE) => {
                // Only entries that read back whole go into the table.
                let mut cur = Cursor::new(&payload[1..]);
                if let Some(callsite) = read_callsite(&mut cur)
                    && cur.remaining() == 0
                {
                    out.copy.callsites.extend_from_slice(&payload[1..]);
                    out.copy.callsite_count += 1;
                    callsites.insert(callsite.id, callsite);
                }
            }
            Some(DICT_THREAD) => {
                if let (Some(id), Some(name)) = (entry.u64(), entry.str()) {
                    threads.insert(id, name.to_owned());
                }
            }
            _ => {}
        }
        pos += align8(FRAME_HEADER + len);
    }
    out.copy.set_threads(&threads);
    let data = &bytes[PERSIST_HEADER + dict_cap..];
    // A frame whose CRC matches but whose record does not read back (damage that kept the
    // CRC, e.g. an empty frame) is skipped like a torn one: a recovered snapshot must read.
    let mut damaged = false;
    let complete = for_each_frame(data, tail, head, true, |record| {
        match check_record(record, &callsites) {
            Ok(_) => out.copy.push_record(record),
            Err(_) => damaged = true,
        }
    });
    out.torn = !complete || damaged;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records `copy` returns, by the index each starts with.
    fn indices(history: &History) -> Vec<u64> {
        let copy = history.copy();
        let mut at = 0;
        let mut out = Vec::new();
        while at < copy.records.len() {
            let len = u32::from_le_bytes(copy.records[at..at + 4].try_into().unwrap()) as usize;
            let record = &copy.records[at + 4..at + 4 + len];
            out.push(u64::from_le_bytes(record[..8].try_into().unwrap()));
            at += 4 + len;
        }
        out
    }

    /// Records of many sizes pushed through a small ring, many times round: the history
    /// always holds the newest records, consecutive and in order, within its byte and event
    /// limits, whether pushed whole or in two parts.
    #[test]
    fn wrapping_keeps_the_newest_records_in_order() {
        for max_events in [usize::MAX, 7] {
            let mut history = History::in_memory(4096, max_events, 1);
            for i in 0..20_000u64 {
                let mut record = i.to_le_bytes().to_vec();
                record.resize(8 + (i as usize * 7) % 300, 0xAB);
                if i % 2 == 0 {
                    history.push(&record);
                } else {
                    let (first, second) = record.split_at(8);
                    history.push_parts(first, second);
                }
                if i % 997 == 0 || i > 19_990 {
                    let held = indices(&history);
                    assert_eq!(held.last(), Some(&i));
                    assert!(held.windows(2).all(|w| w[1] == w[0] + 1), "{held:?}");
                    assert!(held.len() <= max_events && held.len() == history.len());
                }
            }
        }
    }
}
