//! The background thread: drains every thread's ring, restores timestamp order across
//! threads, and hands decoded events to the sinks.
//!
//! Each round it (1) copies the published records of every ring into a per-ring staging
//! buffer and gives the ring space back at once, so producers rarely wait; (2) computes a
//! horizon, the time before which no ring can still publish a record; (3) merges the staged
//! records of all rings by timestamp up to the horizon and dispatches them. Each ring is
//! already in time order (one thread, monotonic clock), so a k-way merge of the ring fronts
//! gives global order. A ring that has published nothing recently can only publish records
//! stamped after `now - reorder_window` (a record is stamped just before it is published), so
//! the horizon is `min over rings of max(last stamp seen, now - window)`. A flush or shutdown
//! takes everything.
//!
//! Sinks run here and only here. A sink that returns an error is counted; a sink that panics
//! is disabled, reported once on stderr, and the consumer goes on.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use smallvec::SmallVec;

use crate::callsite::Callsite;
use crate::clock;
use crate::event::{Event, EventScope};
use crate::record::{
    FLAG_RECORDER, FLAG_RELEASE, FLAG_SCOPE, FLAG_SINKS, FLAG_TRUNCATED, HEADER, Header,
    KIND_EVENT, KIND_GAP, KIND_RELEASE, KIND_SPAN_RECORD, SCOPE_WORDS, callsite_from_payload,
};
use crate::ring::BadLength;
use crate::runtime::{self, ConsumerShared, RINGS_VERSION, ThreadRing};
use crate::scope::Scope;
use crate::span::{SpanInner, SpanRef};
use crate::thread::ThreadInfo;
use crate::value::{ValueRef, decode_value};

/// An event as the consumer hands it to each [`Receiver`], in global timestamp order: the
/// view sinks get, and what the flight recorder stores besides.
pub(crate) struct Ordered<'a> {
    /// The event as sinks see it.
    pub(crate) event: &'a Event<'a>,
    /// The callsite it was logged from.
    pub(crate) callsite: &'static Callsite,
    /// Where the event goes, decided when it was logged (the callsite's interest then).
    pub(crate) to_sinks: bool,
    /// See `to_sinks`.
    pub(crate) to_recorder: bool,
    /// The field values as the ring holds them (the recorder keeps them as they are).
    pub(crate) raw_fields: &'a [u8],
    /// The spans the event was logged in, root first (those of `event.spans()`).
    pub(crate) spans: &'a [&'a SpanInner],
}

impl<'a> Ordered<'a> {
    /// `event` of the record with `flags`, from `callsite`.
    fn new(
        event: &'a Event<'a>,
        callsite: &'static Callsite,
        flags: u8,
        raw_fields: &'a [u8],
        spans: &'a [&'a SpanInner],
    ) -> Ordered<'a> {
        Ordered {
            event,
            callsite,
            to_sinks: flags & FLAG_SINKS != 0,
            to_recorder: flags & FLAG_RECORDER != 0,
            raw_fields,
            spans,
        }
    }
}

/// Hands `ordered` to every receiver, in order (the recorder first), and counts it as
/// delivered if it goes to the sinks.
fn hand_out(receivers: &mut [Box<dyn Receiver>], delivered: &mut u64, ordered: &Ordered<'_>) {
    if ordered.to_sinks {
        *delivered += 1;
    }
    for receiver in receivers {
        receiver.event(ordered);
    }
}

/// What receives the consumer's events, in global timestamp order, on the consumer thread:
/// the sinks (`sink::SinkSet`) and the flight recorder (`recorder::RecorderSink`). The one
/// interface through which anything leaves the consumer.
pub(crate) trait Receiver: Send {
    /// One event.
    fn event(&mut self, ordered: &Ordered<'_>);

    /// `count` events of `thread` were dropped before `timestamp_ns`.
    fn gap(&mut self, thread: &ThreadInfo, timestamp_ns: u64, count: u64);

    /// A round of dispatch is over: the consumer holds nothing of the receiver's.
    fn end_round(&mut self) {}

    /// Make everything received so far durable or visible (on flush, and when idle).
    fn flush(&mut self) {}

    /// On a requested flush, after `flush`: finish work handed to other threads (error
    /// snapshots) before the flush is reported done.
    fn sync(&mut self) {}
}

/// Values of one event decoded on the stack; more go into a `Vec`.
const INLINE_VALUES: usize = 16;

/// Thread identity used for drops that no ring can account for.
static UNKNOWN_THREAD: std::sync::LazyLock<ThreadInfo> = std::sync::LazyLock::new(|| ThreadInfo {
    id: 0,
    name: "unknown".to_owned(),
});

/// Settings of the consumer thread.
pub(crate) struct ConsumerConfig {
    /// Everything that receives events: the sinks, the recorder.
    pub(crate) receivers: Vec<Box<dyn Receiver>>,
    pub(crate) reorder_window: Duration,
    /// Beyond this many staged bytes the consumer stops copying out of rings (so blocking
    /// producers feel back-pressure) and emits without waiting for the horizon.
    pub(crate) staging_limit: usize,
}

struct RingState {
    shared: Arc<ThreadRing>,
    staging: Vec<u8>,
    read: usize,
    /// Timestamp (raw ticks) of the newest record copied out of the ring.
    last_ts: u64,
    /// The thread's cumulative drop count as already reported by a marker.
    reported_drops: u64,
    /// The producer exited and everything was copied out.
    finished: bool,
}

impl RingState {
    fn staged(&self) -> usize {
        self.staging.len() - self.read
    }

    /// Given the thread's cumulative drop count, the drops not yet marked (and marks them).
    fn take_unreported_drops(&mut self, total: u64) -> Option<u64> {
        let count = total.checked_sub(self.reported_drops).filter(|&n| n > 0)?;
        self.reported_drops = total;
        Some(count)
    }

    fn front_ts(&self) -> Option<u64> {
        (self.staged() > 0).then(|| Header::parse(&self.staging[self.read..]).timestamp)
    }
}

struct Consumer {
    shared: &'static ConsumerShared,
    receivers: Vec<Box<dyn Receiver>>,
    rings: Vec<RingState>,
    rings_version: u64,
    window_ticks: u64,
    staging_limit: usize,
    staged_total: usize,
    flushed: u64,
    reported_orphans: u64,
    dirty: bool,
    /// Events delivered since `shared.delivered` was last updated (once per round).
    delivered: u64,
    /// Scratch space for the values spans were given after creation, per event.
    recorded: Vec<u8>,
    /// A malformed record was reported on stderr (later ones are only counted).
    bad_reported: bool,
}

/// Runs the consumer loop until shutdown; returns when every record published before the
/// shutdown request was delivered and the sinks were flushed.
pub(crate) fn run(shared: &'static ConsumerShared, config: ConsumerConfig) {
    crate::thread::mark_internal_thread();
    struct AliveGuard(&'static ConsumerShared);
    impl Drop for AliveGuard {
        fn drop(&mut self) {
            // Whatever happens to this thread, waiters must not wait for it any more, and a
            // new logger may start: only now are the rings free of this consumer.
            runtime::uninstall_consumer(self.0);
            self.0.alive.store(false, Ordering::Release);
            self.0.flush_cv.notify_all();
        }
    }
    let _alive = AliveGuard(shared);
    runtime::mark_consumer_thread();
    Consumer::new(shared, config).run();
}

impl RingState {
    fn new(shared: Arc<ThreadRing>) -> RingState {
        RingState {
            shared,
            staging: Vec::new(),
            read: 0,
            last_ts: 0,
            reported_drops: 0,
            finished: false,
        }
    }
}

impl Consumer {
    fn new(shared: &'static ConsumerShared, config: ConsumerConfig) -> Consumer {
        Consumer {
            shared,
            receivers: config.receivers,
            rings: Vec::new(),
            rings_version: u64::MAX,
            window_ticks: clock::nanos_to_ticks(config.reorder_window.as_nanos() as u64),
            staging_limit: config.staging_limit,
            staged_total: 0,
            flushed: 0,
            reported_orphans: 0,
            dirty: false,
            delivered: 0,
            recorded: Vec::new(),
            bad_reported: false,
        }
    }

    fn run(&mut self) {
        let mut idle = Duration::from_micros(50);
        loop {
            let requested = self.shared.flush_requested.load(Ordering::Acquire);
            let shutdown = self.shared.shutdown.load(Ordering::Acquire);
            let flushing = requested > self.flushed || shutdown;

            self.refresh_rings();
            let now = clock::raw_now();
            let copied = self.drain_rings(flushing);
            let horizon = if flushing || self.staged_total > self.staging_limit {
                u64::MAX
            } else {
                self.horizon(now)
            };
            let emitted = self.emit_until(horizon);
            if self.delivered > 0 {
                self.shared
                    .delivered
                    .fetch_add(std::mem::take(&mut self.delivered), Ordering::Relaxed);
            }

            if flushing {
                self.report_unrecorded_drops();
                self.flush_sinks();
                for receiver in &mut self.receivers {
                    receiver.sync();
                }
                self.flushed = requested;
                *self
                    .shared
                    .flush_done
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = requested;
                self.shared.flush_cv.notify_all();
                if shutdown {
                    return;
                }
            }
            self.forget_finished_rings();

            if copied == 0 && emitted == 0 {
                // Drops at the end of a burst have no later record to carry their gap marker:
                // mark them now, so the recorder (a persisted one too) has them before a
                // crash that leaves no time for a flush.
                self.report_unrecorded_drops();
                if self.dirty {
                    self.flush_sinks();
                }
                // Sleep; producers wake us when a ring fills up, flushes always do.
                self.shared.sleeping.store(true, Ordering::Release);
                if self.shared.flush_requested.load(Ordering::Acquire) == self.flushed
                    && !self.shared.shutdown.load(Ordering::Acquire)
                {
                    std::thread::park_timeout(idle);
                }
                self.shared.sleeping.store(false, Ordering::Release);
                idle = (idle * 2).min(Duration::from_millis(10));
            } else {
                idle = Duration::from_micros(50);
            }
        }
    }

    fn refresh_rings(&mut self) {
        let version = RINGS_VERSION.load(Ordering::Acquire);
        if version == self.rings_version {
            return;
        }
        self.rings_version = version;
        let registry = runtime::rings();
        for shared in &registry.rings {
            if !self.rings.iter().any(|r| Arc::ptr_eq(&r.shared, shared)) {
                self.rings.push(RingState::new(Arc::clone(shared)));
            }
        }
    }

    /// Copies published records out of every ring; returns the bytes copied.
    fn drain_rings(&mut self, flushing: bool) -> usize {
        let mut copied = 0;
        for state in &mut self.rings {
            if state.finished {
                continue;
            }
            if !flushing && self.staged_total > self.staging_limit {
                break;
            }
            let ring = &state.shared.ring;
            let closed = ring.producer_shared().closed.load(Ordering::Acquire);
            let mut last_ts = state.last_ts;
            let staged_before = state.staging.len();
            match ring.drain(&mut state.staging, |record| {
                last_ts = Header::parse(record).timestamp;
            }) {
                Ok(bytes) => copied += bytes,
                Err(BadLength) => {
                    report_bad_record(self.shared, &mut self.bad_reported, "record length");
                }
            }
            state.last_ts = last_ts;
            // Only records are staged (pads are not), and dispatching subtracts each record.
            self.staged_total += state.staging.len() - staged_before;
            if closed {
                state.finished = true;
            }
        }
        copied
    }

    fn horizon(&self, now: u64) -> u64 {
        let floor = now.saturating_sub(self.window_ticks);
        self.rings
            .iter()
            .filter(|r| !r.finished)
            .map(|r| r.last_ts.max(floor))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Dispatches staged records stamped at or before `horizon`, in timestamp order.
    fn emit_until(&mut self, horizon: u64) -> usize {
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = self
            .rings
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.front_ts().map(|ts| Reverse((ts, i))))
            .collect();
        let mut emitted = 0;
        while let Some(Reverse((ts, index))) = heap.pop() {
            if ts > horizon {
                break;
            }
            // This ring goes on alone while its front stays before every other ring's
            // (ties by ring index, as the heap orders them) and within the horizon: the
            // order is the heap's, without a push and a pop per record (one ring, the
            // common case, never touches the heap again).
            let bound = heap.peek().map(|&Reverse(other)| other);
            loop {
                self.dispatch_front(index);
                emitted += 1;
                let Some(next) = self.rings[index].front_ts() else {
                    break;
                };
                if next > horizon || bound.is_some_and(|other| (next, index) > other) {
                    heap.push(Reverse((next, index)));
                    break;
                }
            }
        }
        for state in &mut self.rings {
            if state.read == state.staging.len() {
                state.staging.clear();
                state.read = 0;
            } else if state.read > state.staging.len() / 2 {
                state.staging.drain(..state.read);
                state.read = 0;
            }
        }
        for receiver in &mut self.receivers {
            receiver.end_round();
        }
        emitted
    }

    fn dispatch_front(&mut self, index: usize) {
        let state = &mut self.rings[index];
        let bytes = &state.staging[state.read..];
        let header = Header::parse(bytes);
        state.read += header.len;
        self.staged_total -= header.len;
        let timestamp = clock::to_unix_nanos(header.timestamp);
        match header.kind {
            KIND_EVENT => {
                // SAFETY: EVENT records are written only by `producer::emit`, which stores a
                // `&'static Callsite` address in the payload.
                let cs = unsafe { callsite_from_payload(header.payload) };
                let meta = cs.metadata();
                let scope = scope_words(bytes, header.flags);
                let scoped = header.flags & FLAG_SCOPE != 0;
                let body_start = HEADER + if scoped { SCOPE_WORDS } else { 0 };
                let Some(body) = bytes.get(body_start..header.len) else {
                    report_bad_record(self.shared, &mut self.bad_reported, "scope words");
                    return;
                };
                // The values, decoded into an array on the stack (a `Vec` past 16 of them):
                // a `SmallVec` push cost some 27 instructions per value.
                let count = header.values as usize;
                let mut inline = [ValueRef::None; INLINE_VALUES];
                let mut spilled = Vec::new();
                let slots: &mut [ValueRef<'_>] = if count <= INLINE_VALUES {
                    &mut inline[..count]
                } else {
                    spilled.resize(count, ValueRef::None);
                    &mut spilled
                };
                // Byte offsets in `body` where the fields start and where the values end.
                let (mut fields_at, mut pos, mut decoded) = (0, 0, 0);
                for slot in slots.iter_mut() {
                    let Some((value, used)) = decode_value(&body[pos..]) else {
                        break;
                    };
                    *slot = value;
                    pos += used;
                    decoded += 1;
                    if decoded == meta.arg_count() {
                        fields_at = pos;
                    }
                }
                if decoded < count {
                    // A value that does not decode (bad tag, length or UTF-8): the record's
                    // scope pointers cannot be trusted either, so they are leaked, not freed.
                    report_bad_record(self.shared, &mut self.bad_reported, "values");
                    return;
                }
                if count < meta.arg_count() {
                    fields_at = pos;
                }
                let values = &*slots;
                let truncated = header.flags & FLAG_TRUNCATED != 0;
                let event = Event::new(meta, timestamp, &state.shared.info, values, truncated);
                let raw_fields = &body[fields_at..pos];
                let Some(scope) = scope else {
                    // Outside spans and context (most events): no chain, no span views, no
                    // scope, nothing to release.
                    let ordered = Ordered::new(&event, cs, header.flags, raw_fields, &[]);
                    hand_out(&mut self.receivers, &mut self.delivered, &ordered);
                    self.dirty = true;
                    return;
                };
                // SAFETY: the scope pointers of a record stay alive until a later record of
                // the same ring releases them (see `scope.rs`), so at least until this
                // record is dispatched.
                let chain = unsafe { span_chain(scope) };
                // Context without spans: skip the two collections (an empty
                // `SmallVec::extend` still costs some 80 instructions).
                let spans: SmallVec<[SpanRef<'_>; 8]> = if chain.is_empty() {
                    SmallVec::new()
                } else {
                    self.recorded.clear();
                    let recorded: SmallVec<[(usize, usize, u16); 8]> = chain
                        .iter()
                        .map(|span| {
                            let start = self.recorded.len();
                            let count = span.copy_recorded(&mut self.recorded);
                            (start, self.recorded.len(), count)
                        })
                        .collect();
                    chain
                        .iter()
                        .zip(&recorded)
                        .map(|(span, &(start, end, nrecorded))| {
                            let (values, nvalues) = span.values();
                            SpanRef {
                                meta: span.metadata(),
                                span_id: span.span_id,
                                remote_parent: span.remote_parent,
                                values,
                                nvalues,
                                recorded: &self.recorded[start..end],
                                nrecorded,
                            }
                        })
                        .collect()
                };
                let event_scope = EventScope {
                    spans: &spans,
                    trace_id: chain.first().map(|s| s.trace_id),
                    // SAFETY: as for the spans above.
                    context: unsafe { scope.ctx_ref() }.map(|c| c.fields()),
                    statics: None,
                };
                let event = event.with_scope(event_scope);
                let ordered = Ordered::new(&event, cs, header.flags, raw_fields, &chain);
                hand_out(&mut self.receivers, &mut self.delivered, &ordered);
                if header.flags & FLAG_RELEASE != 0 {
                    drop(spans);
                    // SAFETY: a RELEASE record hands the consumer one reference to each
                    // pointer; every earlier record that borrowed them was dispatched.
                    unsafe { scope.release() };
                }
            }
            KIND_SPAN_RECORD => {
                let group = bytes
                    .get(HEADER + SCOPE_WORDS..header.len)
                    .and_then(decode_value);
                let scope = scope_words(bytes, header.flags);
                match (scope, group) {
                    (Some(scope), Some((ValueRef::Fields(group), _)))
                        if header.flags & FLAG_RELEASE != 0 =>
                    {
                        // SAFETY: the record owns a reference to the span (released below).
                        if let Some(span) = unsafe { scope.span_ref() } {
                            span.apply_recorded(group);
                        }
                        // SAFETY: as for RELEASE records.
                        unsafe { scope.release() };
                    }
                    _ => report_bad_record(self.shared, &mut self.bad_reported, "span record"),
                }
            }
            KIND_RELEASE => match scope_words(bytes, header.flags) {
                Some(scope) if header.flags & FLAG_RELEASE != 0 => {
                    // SAFETY: as above.
                    unsafe { scope.release() };
                }
                _ => report_bad_record(self.shared, &mut self.bad_reported, "release record"),
            },
            KIND_GAP => {
                if let Some(count) = state.take_unreported_drops(header.payload) {
                    gap_to_all(&mut self.receivers, &state.shared.info, timestamp, count);
                }
            }
            _ => report_bad_record(self.shared, &mut self.bad_reported, "record kind"),
        }
        self.dirty = true;
    }

    /// On flush, and when idle: drops not yet followed by a gap record (the thread logged
    /// nothing since) get their marker now. A ring with records still held back for ordering
    /// is left for later, so the marker never comes before events logged earlier.
    fn report_unrecorded_drops(&mut self) {
        let now = clock::to_unix_nanos(clock::raw_now());
        for state in &mut self.rings {
            if state.staged() > 0 {
                continue;
            }
            let total = state
                .shared
                .ring
                .producer_shared()
                .dropped
                .load(Ordering::Acquire);
            if let Some(count) = state.take_unreported_drops(total) {
                gap_to_all(&mut self.receivers, &state.shared.info, now, count);
            }
        }
        let orphans = runtime::ORPHAN_DROPS.load(Ordering::Relaxed);
        if orphans > self.reported_orphans {
            let count = orphans - self.reported_orphans;
            self.reported_orphans = orphans;
            gap_to_all(&mut self.receivers, &UNKNOWN_THREAD, now, count);
        }
    }

    fn forget_finished_rings(&mut self) {
        let mut dead = Vec::new();
        self.rings.retain(|r| {
            let done = r.finished
                && r.staged() == 0
                && r.shared
                    .ring
                    .producer_shared()
                    .dropped
                    .load(Ordering::Acquire)
                    == r.reported_drops;
            if done {
                dead.push(Arc::clone(&r.shared));
            }
            !done
        });
        runtime::remove_rings(&dead);
    }

    fn flush_sinks(&mut self) {
        for receiver in &mut self.receivers {
            receiver.flush();
        }
        self.dirty = false;
    }
}

/// Tells every receiver that `count` events of `thread` were dropped before `timestamp_ns`.
fn gap_to_all(
    receivers: &mut [Box<dyn Receiver>],
    thread: &ThreadInfo,
    timestamp_ns: u64,
    count: u64,
) {
    for receiver in receivers {
        receiver.gap(thread, timestamp_ns, count);
    }
}

/// Counts a malformed record the consumer skips; reports the first one on stderr.
#[cold]
fn report_bad_record(shared: &ConsumerShared, reported: &mut bool, what: &str) {
    shared.bad_records.fetch_add(1, Ordering::Relaxed);
    if !std::mem::replace(reported, true) {
        diag!(
            "ttlog: skipped a malformed record ({what}); this is a bug in ttlog, please report \
             it (further ones are only counted in stats().bad_records)"
        );
    }
}

/// The scope words of a record, if it has them (and it is long enough to hold them).
fn scope_words(record: &[u8], flags: u8) -> Option<Scope> {
    if flags & FLAG_SCOPE == 0 {
        return None;
    }
    let word = |at: usize| {
        let bytes = record.get(at..at + 8)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?) as usize)
    };
    Some(Scope {
        span: word(HEADER)? as *const SpanInner,
        ctx: word(HEADER + 8)? as *const crate::context::ContextNode,
    })
}

/// The most spans an event reports: the innermost ones. Deeper nesting is legal, but walking
/// (and writing) every ancestor for every event would make the consumer's work grow with the
/// square of the depth.
pub(crate) const MAX_SPAN_DEPTH: usize = 128;

/// The spans of `scope`, root first (at most the innermost [`MAX_SPAN_DEPTH`]).
///
/// # Safety
///
/// The scope's span must stay alive for `'a`.
unsafe fn span_chain<'a>(scope: Scope) -> SmallVec<[&'a SpanInner; 8]> {
    let mut chain = SmallVec::new();
    // SAFETY: guaranteed by the caller; parents are kept alive by their children.
    let mut span: Option<&'a SpanInner> = unsafe { scope.span_ref() };
    while let Some(s) = span
        && chain.len() < MAX_SPAN_DEPTH
    {
        chain.push(s);
        span = s.parent.as_deref();
    }
    chain.reverse();
    chain
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::callsite::{Callsite, Metadata};
    use crate::level::LogLevel;
    use crate::record::header_word;
    use crate::ring::Ring;
    use crate::value::TAG_U64;
    use std::sync::Mutex;

    /// Keeps the first field value of each event it receives.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<Option<u64>>>>);

    impl Collect {
        fn take(&self) -> Vec<Option<u64>> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl Receiver for Collect {
        fn event(&mut self, ordered: &Ordered<'_>) {
            let n = ordered.event.fields().next().and_then(|(_, v)| match v {
                ValueRef::U64(n) => Some(n),
                _ => None,
            });
            self.0.lock().unwrap().push(n);
        }

        fn gap(&mut self, _: &ThreadInfo, _: u64, _: u64) {}
    }

    static META: Metadata<'static> = Metadata::new(
        LogLevel::Info,
        "bad_records",
        "bad_records",
        file!(),
        line!(),
        "ok",
        0,
        &["n"],
        None,
    );
    static CALLSITE: Callsite = Callsite::new(&META);

    /// A consumer over one hand-written ring, with a capture sink (not the global runtime).
    fn consumer(capture: &Collect) -> (Consumer, Arc<ThreadRing>) {
        let shared: &'static ConsumerShared = Box::leak(Box::new(ConsumerShared::new()));
        let ring = Arc::new(ThreadRing {
            ring: Ring::new(4096),
            info: ThreadInfo {
                id: 1,
                name: "writer".into(),
            },
        });
        let config = ConsumerConfig {
            receivers: vec![Box::new(capture.clone())],
            reorder_window: Duration::ZERO,
            staging_limit: 1 << 20,
        };
        let mut consumer = Consumer::new(shared, config);
        // Only this ring: the test does not look at the process's registry.
        consumer.rings.push(RingState::new(Arc::clone(&ring)));
        consumer.rings_version = RINGS_VERSION.load(Ordering::Acquire);
        (consumer, ring)
    }

    /// Writes `words` at the ring's head and publishes them.
    fn publish(ring: &Ring, head: &mut u64, words: &[u64]) {
        for (i, &w) in words.iter().enumerate() {
            // SAFETY: single-threaded test: the test is the producer and owns the free space.
            unsafe { ring.write_word((*head as usize + i * 8) & (ring.capacity() - 1), w) };
        }
        *head += (words.len() * 8) as u64;
        ring.publish(*head);
    }

    /// An EVENT record of `CALLSITE` with one value word (tag + 7 bytes, as the test says).
    fn event(value: [u8; 16]) -> Vec<u64> {
        let payload = &CALLSITE as *const Callsite as usize as u64;
        let flags = crate::record::FLAG_SINKS;
        vec![
            header_word(40, KIND_EVENT, flags, 1),
            1,
            payload,
            u64::from_le_bytes(value[..8].try_into().unwrap()),
            u64::from_le_bytes(value[8..].try_into().unwrap()),
        ]
    }

    fn u64_value(n: u64) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[0] = TAG_U64;
        v[1..9].copy_from_slice(&n.to_le_bytes());
        v
    }

    fn round(consumer: &mut Consumer) {
        consumer.drain_rings(true);
        consumer.emit_until(u64::MAX);
    }

    /// A value with an unknown tag, a record of unknown kind and a record of impossible
    /// length are each counted and skipped; good records around them are delivered.
    #[test]
    fn malformed_records_are_counted_and_skipped() {
        let capture = Collect::default();
        let (mut consumer, ring) = consumer(&capture);
        let mut head = 0;
        publish(&ring.ring, &mut head, &event(u64_value(1)));
        let mut bad_tag = u64_value(2);
        bad_tag[0] = 0xEE;
        publish(&ring.ring, &mut head, &event(bad_tag));
        publish(&ring.ring, &mut head, &[header_word(24, 0x7F, 0, 0), 2, 0]);
        publish(&ring.ring, &mut head, &event(u64_value(3)));
        round(&mut consumer);
        assert_eq!(capture.take(), [Some(1), Some(3)]);
        assert_eq!(consumer.shared.bad_records.load(Ordering::Relaxed), 2);

        // A length that is not a multiple of 8: everything published with it is skipped,
        // and the ring goes on with the next record.
        publish(
            &ring.ring,
            &mut head,
            &[header_word(12, KIND_EVENT, 0, 0), 0, 0],
        );
        publish(&ring.ring, &mut head, &event(u64_value(4)));
        round(&mut consumer);
        assert_eq!(capture.take().len(), 0);
        assert_eq!(consumer.shared.bad_records.load(Ordering::Relaxed), 3);
        assert_eq!(ring.ring.consumer_tail(), head);
        publish(&ring.ring, &mut head, &event(u64_value(5)));
        round(&mut consumer);
        assert_eq!(capture.take(), [Some(5)]);

        // A scope flag on a record too short to hold the scope words.
        let mut short = event(u64_value(6));
        short[0] = header_word(32, KIND_EVENT, crate::record::FLAG_SINKS | FLAG_SCOPE, 1);
        short.pop();
        publish(&ring.ring, &mut head, &short);
        round(&mut consumer);
        assert_eq!(capture.take().len(), 0);
        assert_eq!(consumer.shared.bad_records.load(Ordering::Relaxed), 4);
        assert_eq!(consumer.staged_total, 0);
    }

    /// Records of several rings come out in timestamp order, ties in ring order, each ring's
    /// in its own order; records past the horizon wait for a later round. (One ring goes on
    /// alone while its front stays first, without the heap: this checks it hands over at
    /// the right record.)
    #[test]
    fn rings_are_merged_by_timestamp_then_ring() {
        let capture = Collect::default();
        let (mut consumer, first) = consumer(&capture);
        let second = Arc::new(ThreadRing {
            ring: Ring::new(4096),
            info: ThreadInfo {
                id: 2,
                name: "second".into(),
            },
        });
        consumer.rings.push(RingState::new(Arc::clone(&second)));
        let at = |ts: u64, n: u64| {
            let mut words = event(u64_value(n));
            words[1] = ts;
            words
        };
        // (timestamp, value) per ring; the values say the order expected.
        let first_ring = [
            (10, 1),
            (20, 2),
            (30, 4),
            (30, 5),
            (31, 7),
            (60, 11),
            (70, 12),
        ];
        let second_ring = [(25, 3), (30, 6), (40, 8), (50, 9), (55, 10), (80, 13)];
        let (mut head_first, mut head_second) = (0, 0);
        for (ts, n) in first_ring {
            publish(&first.ring, &mut head_first, &at(ts, n));
        }
        for (ts, n) in second_ring {
            publish(&second.ring, &mut head_second, &at(ts, n));
        }
        consumer.drain_rings(true);
        assert_eq!(consumer.emit_until(55), 10);
        assert_eq!(capture.take(), (1..=10).map(Some).collect::<Vec<_>>());
        assert_eq!(consumer.emit_until(u64::MAX), 3);
        assert_eq!(capture.take(), [Some(11), Some(12), Some(13)]);
        assert_eq!(consumer.staged_total, 0);
    }

    /// Pads are not staged, so the staged byte count returns to 0 once everything is
    /// dispatched (it used to count pads and drift up until the staging limit was reached,
    /// after which the reorder window was ignored).
    #[test]
    fn pads_do_not_count_as_staged_bytes() {
        let capture = Collect::default();
        let (mut consumer, ring) = consumer(&capture);
        let mut head = 0;
        for round_no in 0..1_000 {
            publish(&ring.ring, &mut head, &event(u64_value(round_no)));
            let offset = head as usize & (ring.ring.capacity() - 1);
            let to_end = ring.ring.capacity() - offset;
            let pad = [header_word(to_end, crate::record::KIND_PAD, 0, 0)];
            publish(&ring.ring, &mut head, &pad);
            head += (to_end - 8) as u64;
            ring.ring.publish(head);
            round(&mut consumer);
            assert_eq!(consumer.staged_total, 0, "round {round_no}");
        }
        assert_eq!(capture.take().len(), 1_000);
        assert_eq!(consumer.shared.bad_records.load(Ordering::Relaxed), 0);
    }
}
