//! The flight recorder as a receiver of the consumer's events: it encodes each event routed
//! to it as an event record (`layout.rs`) and appends it to the history, and notices error
//! events that should trigger a snapshot.
//!
//! The history's lock is taken per event and never held while anything else (a sink) runs, so
//! a snapshot never waits for sink I/O.

use std::sync::{Arc, Mutex, MutexGuard};

use smallvec::SmallVec;

use super::History;
use super::layout::{
    RECORD_EVENT, RECORD_MESSAGE, RECORD_SCOPE, RECORD_TRUNCATED, put_scope, record_header,
};
use crate::consumer::{Ordered, Receiver};
use crate::event::{Event, PANIC_METADATA};
use crate::level::LogLevel;
use crate::thread::ThreadInfo;

/// Snapshots triggered by error events (implemented where snapshot files are written).
pub(crate) trait ErrorSnapshots: Send {
    /// Whether an error event may trigger a snapshot now (the rate limit); claims it if so.
    fn claim(&self) -> bool;

    /// Takes the snapshot `trigger_event` (`target: message`) asked for (or has it taken).
    /// Called once the round is over, with no lock held.
    fn take(&mut self, trigger_event: String);

    /// Returns once the snapshots asked for so far are written (bounded): on flush.
    fn sync(&mut self) {}
}

/// The history behind its lock. Nothing panics while holding it, and every write to the
/// history completes or is not started, so a poisoned lock still holds a consistent history.
pub(crate) fn lock(history: &Mutex<History>) -> MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|p| p.into_inner())
}

/// The recorder's receiver, on the consumer thread.
pub(crate) struct RecorderSink {
    history: Arc<Mutex<History>>,
    errors: Option<Box<dyn ErrorSnapshots>>,
    /// An error event claimed a snapshot; taken at the end of the round.
    due: Option<String>,
    /// Scratch space for what follows a record's header when it has a message or a scope
    /// section.
    record: Vec<u8>,
    /// The thread of the last event recorded: already in the history's thread table (events
    /// come in runs from one thread, so this skips most table lookups).
    last_thread: Option<u64>,
}

impl RecorderSink {
    /// Appends to `history`; error events trigger snapshots through `errors`, if given.
    pub(crate) fn new(
        history: Arc<Mutex<History>>,
        errors: Option<Box<dyn ErrorSnapshots>>,
    ) -> RecorderSink {
        RecorderSink {
            history,
            errors,
            due: None,
            record: Vec::with_capacity(1024),
            last_thread: None,
        }
    }
}

impl Receiver for RecorderSink {
    fn event(&mut self, ordered: &Ordered<'_>) {
        if !ordered.to_recorder {
            return;
        }
        let event = ordered.event;
        {
            let mut history = lock(&self.history);
            let thread = event.thread();
            if self.last_thread != Some(thread.id()) {
                history.add_thread(thread.id(), thread.name());
                self.last_thread = Some(thread.id());
            }
            let id = history.callsite_id(ordered.callsite);
            // (Outside spans, no collection: an empty `SmallVec::extend` costs ~70 instructions.)
            let span_ids: SmallVec<[u32; 8]> = if ordered.spans.is_empty() {
                SmallVec::new()
            } else {
                ordered
                    .spans
                    .iter()
                    .map(|span| history.callsite_id(span.callsite()))
                    .collect()
            };
            let flags = record_flags(event);
            // Most records are the header then the values as the ring held them; a message
            // or a scope section is encoded after the header first.
            let body = if flags == 0 {
                ordered.raw_fields
            } else {
                encode_body(
                    &mut self.record,
                    event,
                    flags,
                    ordered.raw_fields,
                    &span_ids,
                );
                &self.record
            };
            history.push_parts(&event_header(id, event, flags), body);
        }
        let meta = event.metadata();
        // A span closing at error level is not a failure; the panic hook takes its own.
        if meta.level() == LogLevel::Error
            && !meta.is_span_close()
            && !std::ptr::eq(meta, &PANIC_METADATA)
            && self.due.is_none()
            && self.errors.as_ref().is_some_and(|e| e.claim())
        {
            self.due = Some(format!("{}: {}", meta.target(), event.message()));
        }
    }

    fn gap(&mut self, thread: &ThreadInfo, timestamp_ns: u64, count: u64) {
        // `push_gap` adds the thread to the table itself.
        lock(&self.history).push_gap(thread, timestamp_ns, count);
    }

    fn sync(&mut self) {
        if let Some(errors) = self.errors.as_mut() {
            errors.sync();
        }
    }

    fn end_round(&mut self) {
        if let Some(trigger) = self.due.take()
            && let Some(errors) = self.errors.as_mut()
        {
            errors.take(trigger);
        }
    }
}

/// What an event record holds besides the header and the values: `RECORD_MESSAGE` when the
/// callsite formats a message per event, `RECORD_SCOPE` when the event has spans or context.
fn record_flags(event: &Event<'_>) -> u8 {
    let mut flags = 0;
    if event.metadata().has_format() {
        flags |= RECORD_MESSAGE;
    }
    if event.has_scope() {
        flags |= RECORD_SCOPE;
    }
    flags
}

/// Encodes what follows the header of `event`'s record into `out`: the message when `flags`
/// (from [`record_flags`]) has `RECORD_MESSAGE`, the field values as the ring holds them
/// (`fields`), then with `RECORD_SCOPE` the spans (their callsite ids in `span_callsites`)
/// and context.
fn encode_body(
    out: &mut Vec<u8>,
    event: &Event<'_>,
    flags: u8,
    fields: &[u8],
    span_callsites: &[u32],
) {
    out.clear();
    if flags & RECORD_MESSAGE != 0 {
        out.extend_from_slice(&[0; 4]);
        // (`write_message` would take the same shortcut, but behind `fmt::write`'s set-up.)
        match event.plain_message() {
            Some(text) => out.extend_from_slice(text.as_bytes()),
            // Only primitive arguments are formatted here (the caller formatted the others),
            // so this neither fails nor panics; a failure would just leave the message short.
            None => {
                let _ = std::io::Write::write_fmt(out, format_args!("{}", event.message()));
            }
        }
        let len = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(fields);
    if flags & RECORD_SCOPE != 0 {
        put_scope(out, event.scope(), span_callsites);
    }
}

/// The header of the event record of `event`, with `flags` besides the truncation flag.
fn event_header(callsite: u32, event: &Event<'_>, flags: u8) -> [u8; 24] {
    let truncated = if event.is_truncated() {
        RECORD_TRUNCATED
    } else {
        0
    };
    record_header(
        RECORD_EVENT,
        flags | truncated,
        event.call_fields().len() as u16,
        callsite,
        event.thread().id(),
        event.timestamp_nanos(),
    )
}
