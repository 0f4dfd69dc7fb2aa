//! The calling thread's side: encode an event into its own ring and publish it.
//!
//! Everything here runs on the thread that logs. The first event of a thread creates and
//! registers its ring (the only allocation); after that an event is: reserve contiguous space,
//! let the macro's closure encode the values, take the timestamp, write the header, and publish
//! with one `Release` store. No lock, no allocation, no system call.
//!
//! A full ring is handled by the overflow policy: `Drop` counts the event and leaves a gap
//! record before the thread's next event, so the consumer can say where events are missing;
//! `Block` wakes the consumer and waits for space (and falls back to dropping, counted, if the
//! consumer is gone, so the program never hangs).

use std::cell::{Cell, UnsafeCell};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_utils::Backoff;

use crate::callsite::Callsite;
use crate::clock;
use crate::encode::{Encoded, Encoder, PLAIN_MAX, Plain, Spill};
use crate::record::{
    FLAG_RELEASE, FLAG_SCOPE, FLAG_TRUNCATED, HEADER, KIND_EVENT, KIND_GAP, KIND_RELEASE,
    KIND_SPAN_RECORD, ROUTE_SHIFT, SCOPE_WORDS, header_word,
};
use crate::ring::align_up;
use crate::runtime::{self, ThreadRing};
use crate::scope::Scope;

/// The scope words a record carries, if any (see `record.rs`).
#[derive(Clone, Copy)]
pub(crate) struct Ext {
    scope: Scope,
    /// 0, or `FLAG_SCOPE` with or without `FLAG_RELEASE`.
    flags: u8,
}

impl Ext {
    /// The event borrows `scope` (kept alive by the thread until a later release).
    pub(crate) fn borrowed(scope: Scope) -> Ext {
        Ext {
            scope,
            flags: if scope.is_empty() { 0 } else { FLAG_SCOPE },
        }
    }

    /// The record hands the consumer one reference to each pointer of `scope`.
    pub(crate) fn owned(scope: Scope) -> Ext {
        Ext {
            scope,
            flags: FLAG_SCOPE | FLAG_RELEASE,
        }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        if self.flags == 0 { 0 } else { SCOPE_WORDS }
    }
}

/// What is being written.
#[derive(Clone, Copy)]
pub(crate) enum What {
    /// An event from a callsite.
    Event(&'static Callsite),
    /// A release of scope references.
    Release,
    /// A value recorded into a span.
    SpanRecord,
}

/// The smallest record: a header (an event with no values, or a gap marker).
const MIN_RECORD: usize = HEADER;

/// The largest encoding of values a record may carry in a ring of `capacity` bytes: with its
/// header, the scope words and a gap record before it, a record never takes more than half the
/// ring, so it always fits once the consumer has caught up.
fn max_values_len(capacity: usize) -> usize {
    (capacity / 2).saturating_sub(2 * HEADER + SCOPE_WORDS)
}

/// Where a record is encoded.
#[derive(Debug, Clone, Copy)]
struct Place {
    /// Where the record (or the gap record before it) starts.
    start: usize,
    /// Where the record starts: `start`, or after a gap record.
    offset: usize,
    /// Contiguous free bytes from `offset`.
    room: usize,
    /// Found by `place_slow`: the record is finished by `finish_slow`.
    slow: bool,
}

/// Below this much contiguous room at the head the fast path gives way to the slow one, which
/// refreshes the tail, wraps or waits. It is also the spill buffer's initial size, so that a
/// record that starts in a nearly full ring and spills does not allocate.
const FAST_ROOM: usize = 512;

// A plain record always fits in the fast path's room.
const _: () = assert!(align_up(HEADER + SCOPE_WORDS + PLAIN_MAX) < FAST_ROOM);

struct Producer {
    shared: Arc<ThreadRing>,
    clock: clock::RawClock,
    /// Our copy of the published head.
    head: u64,
    /// The consumer's tail as last loaded.
    cached_tail: u64,
    /// Timestamps are clamped to be monotonic per ring (the consumer merges rings by time).
    last_ts: u64,
    logged: u64,
    dropped: u64,
    /// `dropped` as of the last gap record written.
    reported: u64,
    /// Scope references whose release record did not fit into the full ring yet. They are
    /// written after the next event that gets through (rare: Drop mode and a full ring).
    pending: Vec<Scope>,
    /// Where a record that outgrew the room at the head is finished (see `encode.rs`);
    /// empty until a thread logs such a record.
    spill: Spill,
    /// The fast paths may write a record at `head` while `head < fast_limit`: then no gap or
    /// release is due and there are at least `FAST_ROOM` contiguous bytes at the head by the
    /// cached tail. It is 0 from the start of every slow placement (which may pad, wrap,
    /// move to another ring or drop) and whenever a gap or a release becomes due, and is
    /// recomputed ([`Producer::update_fast_limit`]) once the slow path has published its
    /// record, when the cached tail is refreshed at half the ring, and for a new producer. In
    /// between it stays true: it depends on the head only through the end of the head's lap,
    /// and a record never crosses that end (one that reaches it leaves `head >= fast_limit`).
    fast_limit: u64,
}

impl Producer {
    fn new() -> Producer {
        let shared = runtime::register_current_thread();
        let limit = max_values_len(shared.ring.capacity());
        let mut producer = Producer {
            spill: Spill::new(FAST_ROOM, limit),
            shared,
            clock: clock::clock(),
            head: 0,
            cached_tail: 0,
            last_ts: 0,
            logged: 0,
            dropped: 0,
            reported: 0,
            pending: Vec::new(),
            fast_limit: 0,
        };
        if runtime::consumer().is_none() {
            // No consumer (the child of a fork): take the slow path, which counts drops.
            producer.force_slow_path();
        }
        producer.update_fast_limit();
        producer
    }

    /// Moves this thread to a new ring: twice as large (`grow`, during a burst, if the bound
    /// allows) or of the configured size (after a burst). The old ring is closed; everything
    /// in it was published, and the consumer drains it before the new one, whose records are
    /// all later (the timestamp merge), so the scope-release protocol holds across the move.
    /// Counters start over with the new ring (totals add up over rings). An allocation, on
    /// this rare path only.
    #[cold]
    #[inline(never)]
    fn switch_ring(&mut self, grow: bool) -> bool {
        let cap = self.shared.ring.capacity();
        let base = runtime::RING_BYTES
            .load(Ordering::Relaxed)
            .next_power_of_two();
        let new_cap = if grow {
            let max = runtime::RING_MAX_BYTES.load(Ordering::Relaxed);
            if cap.saturating_mul(2) > max {
                return false;
            }
            cap * 2
        } else {
            if cap <= base {
                return false;
            }
            base
        };
        let new = runtime::register_replacement(&self.shared.info, new_cap);
        let old = std::mem::replace(&mut self.shared, new);
        old.ring
            .producer_shared()
            .closed
            .store(true, Ordering::Release);
        self.head = 0;
        self.cached_tail = 0;
        self.logged = 0;
        // Drops not marked yet belong to the old ring: the consumer marks them when it is
        // drained (its counter stays).
        self.dropped = 0;
        self.reported = 0;
        self.spill.limit = max_values_len(new_cap);
        true
    }

    /// Makes the fast path refuse until the slow path has written a gap record (which it does
    /// only when a consumer runs): `reported` can never equal `dropped` until then. The gap
    /// record carries the cumulative count, so it marks exactly the drops not marked yet.
    fn force_slow_path(&mut self) {
        self.reported = u64::MAX;
        self.fast_limit = 0;
    }

    /// Whether a gap record or release records must be written before the next record: the
    /// fast paths then give way to the slow one, which writes them.
    fn record_due(&self) -> bool {
        self.dropped != self.reported || !self.pending.is_empty()
    }

    /// Recomputes `fast_limit` from the head, the tail and what is due. The limit also stops
    /// at half the ring by the cached tail, so that below it the plain path needs no
    /// half-full check; past it, `past_fast_limit` does what that check does.
    fn update_fast_limit(&mut self) {
        if self.record_due() {
            self.fast_limit = 0;
            return;
        }
        let mut limit = self.fast_limit_by(self.cached_tail);
        if limit <= self.head {
            // The cached tail may only be stale: one load, rather than several events on the
            // general path until `half_full` refreshes it.
            self.cached_tail = self.shared.ring.load_tail();
            limit = self.fast_limit_by(self.cached_tail);
        }
        self.fast_limit = limit;
    }

    fn fast_limit_by(&self, tail: u64) -> u64 {
        let cap = self.shared.ring.capacity() as u64;
        let lap_end = (self.head | (cap - 1)) + 1;
        (tail + cap / 2)
            .min(lap_end)
            .saturating_sub(FAST_ROOM as u64 - 1)
    }

    #[inline]
    fn timestamp(&mut self) -> u64 {
        let ts = self.clock.raw().max(self.last_ts);
        self.last_ts = ts;
        ts
    }

    fn count_drop(&mut self) {
        self.count_drops(1);
    }

    fn count_drops(&mut self, n: u64) {
        self.dropped += n;
        // A gap record is due: the fast paths must give way until it is written.
        self.fast_limit = 0;
        self.shared
            .ring
            .producer_shared()
            .dropped
            .store(self.dropped, Ordering::Release);
    }

    /// Writes a pad record over the `len` bytes left before the end of the buffer.
    fn pad(&mut self, offset: usize, len: usize) {
        // SAFETY: `offset..offset + len` is free space owned by this producer (it lies
        // between head and the end of the buffer, and `len <= free`).
        unsafe { self.shared.ring.pad(offset, len) };
        self.head += len as u64;
    }

    /// An encoder over the free space at `offset` (`room` bytes, header and scope words
    /// included), which continues in the spill buffer when that runs out.
    ///
    /// # Safety
    ///
    /// `offset .. offset + room` must be free space of the ring, owned by this producer, with
    /// `room >= HEADER + ext_len`.
    #[inline(always)]
    unsafe fn encoder_at(&mut self, offset: usize, room: usize, ext_len: usize) -> Encoder<'_> {
        // SAFETY: the caller guarantees `offset + HEADER + ext_len <= offset + room`, inside
        // the ring.
        let base = unsafe { self.shared.ring.ptr_at(offset).add(HEADER + ext_len) };
        // SAFETY: the region is valid for writes and nobody else touches it until publish.
        unsafe { Encoder::with_spill(base, room - HEADER - ext_len, &mut self.spill) }
    }

    /// The general path's first half: refreshes the tail, wraps, waits or drops until there
    /// are `need` contiguous bytes at the head for the record (and room for a gap record
    /// before it, if one is due). Returns where to write, or `None` when the record is dropped
    /// (counted; before anything was evaluated when the values are not encoded yet).
    #[inline(never)]
    fn place_slow(&mut self, what: What, need: usize) -> Option<Place> {
        // Whatever happens here (a pad, a wrap, another ring, a drop), the fast paths wait
        // for `publish_slow` to recompute their limit.
        self.fast_limit = 0;
        if runtime::consumer().is_none() {
            // Nobody would ever read the record (the child of a fork, before any `init`):
            // count it, and stay on this path until a consumer runs.
            if !matches!(what, What::Release) {
                self.count_drop();
            }
            self.force_slow_path();
            return None;
        }
        loop {
            let gap = self.dropped != self.reported;
            let gap_len = if gap { HEADER } else { 0 };
            let want = need + gap_len;
            let space = self
                .shared
                .ring
                .space(self.head, &mut self.cached_tail, want);
            // A sliver before the end of the buffer is skipped rather than encoded into: most
            // records would not fit and would have to be moved after the wrap.
            let sliver = space.end_limited() && space.to_end < FAST_ROOM;
            if space.contiguous < want || sliver {
                if space.end_limited() {
                    // At the wrap of a ring grown for a burst that is over (the consumer has
                    // caught up): back to the configured size, giving the memory back.
                    let used = (self.head - self.shared.ring.load_tail()) as usize;
                    if used < self.shared.ring.capacity() / 8 && self.switch_ring(false) {
                        continue;
                    }
                    self.pad(space.offset, space.to_end);
                    continue;
                }
                if self.on_full(what) {
                    continue;
                }
                return None;
            }
            return Some(Place {
                start: space.offset,
                offset: space.offset + gap_len,
                room: space.contiguous - gap_len,
                slow: true,
            });
        }
    }

    /// The general path's second half, after encoding at a place from `place_slow` (or a
    /// spilled record from either path): places a spilled record, then publishes.
    #[cold]
    #[inline(never)]
    fn finish_slow(&mut self, what: What, ext: Ext, place: Place, encoded: Encoded) -> bool {
        if encoded.spilled {
            return self.place_spilled(what, ext, encoded);
        }
        self.publish_slow(what, ext, place, encoded);
        true
    }

    /// Copies a record encoded into the spill buffer into the ring, where it fits: wraps,
    /// waits or drops as a record written in place would.
    fn place_spilled(&mut self, what: What, ext: Ext, encoded: Encoded) -> bool {
        let ext_len = ext.len();
        let need = align_up(HEADER + ext_len + encoded.len);
        let Some(place) = self.place_slow(what, need) else {
            return false;
        };
        let values = &self.spill.buf[..encoded.len];
        // SAFETY: `place.offset .. place.offset + need` is free space owned by this producer
        // (`place_slow` found `need` contiguous bytes there), and the values go after the
        // header and the scope words, inside it.
        unsafe {
            let dst = self.shared.ring.ptr_at(place.offset).add(HEADER + ext_len);
            std::ptr::copy_nonoverlapping(values.as_ptr(), dst, values.len());
        }
        self.publish_slow(what, ext, place, encoded);
        true
    }

    /// Publishes a record found a place by `place_slow`: the gap record before it if one is
    /// due, the record, then pending releases.
    fn publish_slow(&mut self, what: What, ext: Ext, place: Place, encoded: Encoded) {
        if place.start != place.offset {
            self.write_gap(place.start);
            self.reported = self.dropped;
        }
        self.commit(what, place.start, place.offset, ext, encoded);
        if !self.pending.is_empty() {
            self.write_pending();
        }
        self.update_fast_limit();
    }

    /// Writes the release records that did not fit earlier, as long as they fit now (without
    /// waiting: this runs after a record was written, in any overflow mode).
    fn write_pending(&mut self) {
        while let Some(&scope) = self.pending.last() {
            let ext = Ext::owned(scope);
            let (offset, room) = self.room_at_head();
            if room < HEADER + ext.len() {
                return;
            }
            let encoded = Encoded {
                len: 0,
                count: 0,
                truncated: false,
                spilled: false,
            };
            self.commit(What::Release, offset, offset, ext, encoded);
            self.pending.pop();
        }
    }

    /// Keeps `scope`'s references for a release record written later (the ring is full now).
    fn defer_release(&mut self, scope: Scope) {
        self.pending.push(scope);
        self.fast_limit = 0;
    }

    /// Hands the consumer the references in `scope` (see `record.rs`).
    fn write_release(&mut self, scope: Scope) {
        if !self.write(What::Release, Ext::owned(scope), |_| {}) {
            self.defer_release(scope);
        }
    }

    /// Writes one record. `encode` writes the values and runs at most once, from one call
    /// site, so it is inlined: only finding the place (when the fast path does not apply) and
    /// finishing a record that needed more than the fast path are out of line.
    #[inline(always)]
    fn write<F: FnOnce(&mut Encoder<'_>)>(&mut self, what: What, ext: Ext, encode: F) -> bool {
        let place = match self.fast_room() {
            Some((offset, room)) => Place {
                start: offset,
                offset,
                room,
                slow: false,
            },
            None => match self.place_slow(what, MIN_RECORD + ext.len()) {
                Some(place) => place,
                None => return false,
            },
        };
        // SAFETY: `place` is free space owned by this producer, from `offset` for `room`
        // bytes, which cover at least the header and the scope words (`fast_room` and
        // `place_slow` check it).
        let mut enc = unsafe { self.encoder_at(place.offset, place.room, ext.len()) };
        encode(&mut enc);
        let encoded = enc.finish();
        if place.slow || encoded.spilled {
            return self.finish_slow(what, ext, place, encoded);
        }
        self.commit(what, place.start, place.offset, ext, encoded);
        true
    }

    /// The offset and size of the contiguous room at the head, when the fast path applies:
    /// no gap or release pending, and at least `FAST_ROOM` bytes by the cached tail.
    #[inline(always)]
    fn fast_room(&mut self) -> Option<(usize, usize)> {
        if self.head >= self.fast_limit && !self.past_fast_limit() {
            return None;
        }
        let (offset, room) = self.room_at_head();
        debug_assert!(room >= FAST_ROOM);
        Some((offset, room))
    }

    /// The head reached `fast_limit`. Refreshes the tail and the limit; past half the ring,
    /// wakes the consumer (what `commit`'s half-full check does, which the plain path skips).
    /// Returns whether a fast path may write the record anyway: nothing is due and the room
    /// at the head is at least `FAST_ROOM` (a burst: the ring is more than half full, and
    /// each event comes here until the consumer catches up, as each came to `half_full`).
    #[cold]
    #[inline(never)]
    fn past_fast_limit(&mut self) -> bool {
        if self.record_due() {
            return false;
        }
        self.cached_tail = self.shared.ring.load_tail();
        self.fast_limit = self.fast_limit_by(self.cached_tail);
        if self.head < self.fast_limit {
            return true;
        }
        if (self.head - self.cached_tail) as usize > self.shared.ring.capacity() / 2
            && let Some(consumer) = runtime::consumer()
        {
            consumer.wake();
        }
        self.room_at_head().1 >= FAST_ROOM
    }

    /// Writes an event of plain values at the head (see [`write_plain`]): `false`, with
    /// nothing done, when the fast path does not apply (`fast_limit`, `past_fast_limit`).
    /// The timestamp is taken first, so that nothing is kept across the clock's call; the
    /// record is published as `commit` does, without its half-full check (below the limit
    /// the head is below half the ring by the cached tail; past it, `past_fast_limit` did
    /// the check).
    #[inline(always)]
    fn write_plain<const N: usize>(
        &mut self,
        cs: &'static Callsite,
        slot: &Slot,
        values: &[Plain<'_>; N],
        len: usize,
    ) -> bool {
        if self.head >= self.fast_limit && !self.past_fast_limit() {
            return false;
        }
        debug_assert!(self.room_at_head().1 >= FAST_ROOM);
        let ts = self.timestamp();
        let scope = slot.scope.get();
        let ring = &self.shared.ring;
        let offset = self.head as usize & (ring.capacity() - 1);
        let scoped = !scope.is_empty();
        let ext_len = if scoped { SCOPE_WORDS } else { 0 };
        let flags = (cs.routes() << ROUTE_SHIFT) | if scoped { FLAG_SCOPE } else { 0 };
        let record = align_up(HEADER + ext_len + len);
        // SAFETY: the `FAST_ROOM` bytes from the 8-aligned `offset` are free space owned by
        // this producer (`head < fast_limit`), and the header, the scope words and
        // `len <= PLAIN_MAX` bytes of values fit in them (checked at compile time next to
        // `FAST_ROOM`). The scope words are written even when the record has none: the values
        // then start where they would be, and overwrite them. Each value writes its own
        // `len()` bytes, which add up to `len`, and none is `Other` (their sum would exceed
        // `PLAIN_MAX`).
        unsafe {
            let start = ring.ptr_at(offset);
            let words = start.cast::<u64>();
            words.add(1).write(ts);
            words.add(2).write(cs as *const Callsite as usize as u64);
            words.add(3).write(scope.span as usize as u64);
            words.add(4).write(scope.ctx as usize as u64);
            let mut dst = start.add(HEADER + ext_len);
            for &value in values {
                dst = value.write(dst);
            }
            words.write(header_word(record, KIND_EVENT, flags, N as u16));
        }
        self.head += record as u64;
        ring.publish(self.head);
        self.logged += 1;
        ring.producer_shared()
            .logged
            .store(self.logged, Ordering::Relaxed);
        if scoped {
            slot.scope_used.set(true);
        }
        true
    }

    /// The offset of the head in the buffer and the contiguous room there, by the cached tail
    /// (which only lags the real one) and the end of the buffer.
    #[inline(always)]
    fn room_at_head(&self) -> (usize, usize) {
        let cap = self.shared.ring.capacity();
        let offset = self.head as usize & (cap - 1);
        let room = (cap - (self.head - self.cached_tail) as usize).min(cap - offset);
        (offset, room)
    }

    /// Writes the header of the record at `offset` (scope words and values already encoded
    /// after it), takes the timestamp and publishes everything from `start` (where a gap
    /// record may precede).
    #[inline(always)]
    fn commit(&mut self, what: What, start: usize, offset: usize, ext: Ext, encoded: Encoded) {
        let len = align_up(HEADER + ext.len() + encoded.len);
        let (values, flags) = (
            encoded.count,
            if encoded.truncated { FLAG_TRUNCATED } else { 0 },
        );
        let (kind, payload, flags) = match what {
            // Where the event goes is decided now, at the call: a filter change before the
            // consumer gets to it does not reroute it.
            What::Event(cs) => (
                KIND_EVENT,
                cs as *const Callsite as usize as u64,
                flags | (cs.routes() << ROUTE_SHIFT) | ext.flags,
            ),
            What::Release => (KIND_RELEASE, 0, ext.flags),
            What::SpanRecord => (KIND_SPAN_RECORD, 0, ext.flags),
        };
        let ts = self.timestamp();
        let ring = &self.shared.ring;
        // SAFETY: the header and scope words are inside the record's region, owned by this
        // producer, which starts at the 8-aligned `offset`. (One pointer for all five words:
        // through `write_word`, the buffer's address was reloaded after each store.)
        unsafe {
            let words = ring.ptr_at(offset).cast::<u64>();
            words.write(header_word(len, kind, flags, values));
            words.add(1).write(ts);
            words.add(2).write(payload);
            if ext.flags != 0 {
                words.add(3).write(ext.scope.span as usize as u64);
                words.add(4).write(ext.scope.ctx as usize as u64);
            }
        }
        self.head += (offset - start + len) as u64;
        ring.publish(self.head);
        if kind == KIND_EVENT {
            self.logged += 1;
            ring.producer_shared()
                .logged
                .store(self.logged, Ordering::Relaxed);
        }
        if (self.head - self.cached_tail) as usize > ring.capacity() / 2 {
            self.half_full();
        }
    }

    /// The ring looks half full by the cached tail: refresh it, and if the consumer really is
    /// behind, wake it so that a burst does not overflow.
    #[cold]
    #[inline(never)]
    fn half_full(&mut self) {
        self.cached_tail = self.shared.ring.load_tail();
        self.update_fast_limit();
        if (self.head - self.cached_tail) as usize > self.shared.ring.capacity() / 2
            && let Some(consumer) = runtime::consumer()
        {
            consumer.wake();
        }
    }

    fn write_gap(&mut self, offset: usize) {
        let ts = self.timestamp();
        let ring = &self.shared.ring;
        // SAFETY: the caller checked that `offset .. offset + HEADER` is free and ours.
        unsafe {
            ring.write_word(offset, header_word(HEADER, KIND_GAP, 0, 0));
            ring.write_word(offset + 8, ts);
            ring.write_word(offset + 16, self.dropped);
        }
    }

    /// The ring is full. Returns `true` to retry (blocking mode, after waiting), `false` when
    /// the record was not written: an event is then counted as dropped, a release is left
    /// for later by the caller.
    #[cold]
    #[inline(never)]
    fn on_full(&mut self, what: What) -> bool {
        let is_event = !matches!(what, What::Release);
        // The cached tail may be stale: the consumer may have freed space since.
        let tail = self.shared.ring.load_tail();
        if tail != self.cached_tail {
            self.cached_tail = tail;
            return true;
        }
        // A burst in Drop mode: a larger ring, up to the bound, before events are dropped.
        // (Block mode loses nothing anyway, and keeps its back-pressure.)
        if !runtime::OVERFLOW_BLOCK.load(Ordering::Relaxed)
            && runtime::consumer().is_some()
            && self.switch_ring(true)
        {
            return true;
        }
        let consumer = match runtime::consumer() {
            Some(c) if c.alive.load(Ordering::Acquire) => c,
            _ => {
                if is_event {
                    self.count_drop();
                }
                return false;
            }
        };
        // The consumer thread never waits for itself: events logged from inside a sink (or
        // anything else it runs) are dropped and counted when its own ring is full.
        if !runtime::OVERFLOW_BLOCK.load(Ordering::Relaxed) || runtime::on_consumer_thread() {
            consumer.wake();
            if is_event {
                self.count_drop();
            }
            return false;
        }
        let backoff = Backoff::new();
        let seen = self.cached_tail;
        loop {
            let tail = self.shared.ring.load_tail();
            if tail != seen {
                self.cached_tail = tail;
                return true;
            }
            if !consumer.alive.load(Ordering::Acquire) {
                if is_event {
                    self.count_drop();
                }
                return false;
            }
            if backoff.is_completed() {
                consumer.unpark();
                std::thread::sleep(std::time::Duration::from_micros(20));
            } else {
                consumer.wake();
                backoff.snooze();
            }
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.shared
            .ring
            .producer_shared()
            .closed
            .store(true, Ordering::Release);
    }
}

struct Slot {
    producer: UnsafeCell<Option<Producer>>,
    busy: Cell<bool>,
    /// Events dropped because they were logged while this thread was writing another one.
    nested_drops: Cell<u64>,
    /// The span and context events are logged in now: the top of `entered`, cached here for
    /// the hot path (borrowed pointers; see `scope.rs`).
    scope: Cell<Scope>,
    /// Whether a record borrowing `scope` was written since it became current, so leaving
    /// it must hand the consumer a reference to release.
    scope_used: Cell<bool>,
    /// The scopes entered on this thread and not left yet, innermost last. Guards may be
    /// dropped in any order: leaving one removes its entry wherever it is, and the current
    /// scope is always the innermost one still entered (as in `tracing`).
    /// (A `Vec`: reserved for 16 entries on the thread's first enter, which keeps push and
    /// pop to a few instructions; a `SmallVec` cost twice the whole enter+exit here.)
    entered: UnsafeCell<Vec<Entered>>,
    /// The id of the next entry (0 is never used: it marks a scope that was not entered).
    next_id: Cell<u64>,
}

/// A scope entered on a thread, owning one reference to each of its pointers.
#[derive(Debug, Clone, Copy)]
struct Entered {
    id: u64,
    scope: Scope,
    /// Whether a record borrowed the scope while it was current (kept up to date for every
    /// entry but the top one, whose flag is `Slot::scope_used`).
    used: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The plain path must not reach the slot once it is being destroyed.
        let _ = READY.try_with(|ready| ready.set(std::ptr::null()));
    }
}

thread_local! {
    /// This thread's slot while its producer exists and is not busy, null otherwise: the
    /// plain path's one check. It has no destructor, so reading it is a plain load, without
    /// the registration check of `SLOT` (which has one).
    static READY: Cell<*const Slot> = const { Cell::new(std::ptr::null()) };

    static SLOT: Slot = const {
        Slot {
            producer: UnsafeCell::new(None),
            busy: Cell::new(false),
            nested_drops: Cell::new(0),
            scope: Cell::new(Scope::EMPTY),
            scope_used: Cell::new(false),
            entered: UnsafeCell::new(Vec::new()),
            next_id: Cell::new(1),
        }
    };
}

#[cold]
#[inline(never)]
fn new_producer(slot: &mut Option<Producer>) -> &mut Producer {
    slot.insert(Producer::new())
}

/// Resets the reentrancy flag even if user code unwinds through `emit`.
struct BusyGuard<'a>(&'a Cell<bool>);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Runs `f` with this thread's producer. Returns `false` when the thread's thread-locals are
/// gone. When the thread is already writing a record (an event logged from a value's
/// `Display`), `f` does not run and, for an event (`is_event`), the drop is counted.
#[inline(always)]
fn with_producer(is_event: bool, f: impl FnOnce(&Slot, &mut Producer)) -> bool {
    SLOT.try_with(|slot| {
        if slot.busy.replace(true) {
            // Writing now would corrupt the record in progress. The outer call counts the
            // dropped event once it is done.
            if is_event {
                slot.nested_drops.set(slot.nested_drops.get() + 1);
            }
            return true;
        }
        // The plain path keeps out until the producer is free again. (If `f` unwinds, it
        // stays out until the next call here that returns: correct, only slower.)
        // (`with`, not `LocalKey::set`: that one is an out-of-line call.)
        READY.with(|ready| ready.set(std::ptr::null()));
        let _guard = BusyGuard(&slot.busy);
        // SAFETY: `busy` was false and is now true until `_guard` drops (and `READY` null,
        // so the plain path keeps out), so this is the only live reference to the producer on
        // this thread (and no other thread can reach it).
        let producer = unsafe { &mut *slot.producer.get() };
        let producer = match producer {
            Some(p) => p,
            None => new_producer(producer),
        };
        f(slot, producer);
        if slot.nested_drops.get() > 0 {
            producer.count_drops(slot.nested_drops.take());
        }
        // The producer exists now, and is free once this returns.
        READY.with(|ready| ready.set(slot));
        true
    })
    .unwrap_or(false)
}

/// Records an event from the callsite `cs`; `encode` writes its values (message arguments
/// first, then fields). Called by the macros once the event is known to be enabled. The
/// event carries the thread's current span and context, if any.
///
/// The closure runs at most once: not at all when the event is dropped before its values
/// are encoded (a full ring in Drop mode, or an event logged from inside another's `Display`).
#[doc(hidden)]
#[inline]
pub fn emit<F: FnOnce(&mut Encoder<'_>)>(cs: &'static Callsite, encode: F) {
    let recorded = with_producer(true, |slot, producer| {
        let scope = slot.scope.get();
        if !scope.is_empty() {
            slot.scope_used.set(true);
        }
        producer.write(What::Event(cs), Ext::borrowed(scope), encode);
    });
    if !recorded {
        runtime::ORPHAN_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records an event whose values are all plain (see [`Plain`]) straight into the ring under
/// one bounds check, when the thread's fast path applies: `true` when the event was written,
/// `false` (nothing done) when the caller must record it through [`emit_encoded`] with the
/// same values, exactly as [`emit`] does. The macros pass the values to both, so the event is
/// the same either way; which values are plain is known at compile time, and an event with
/// any other value compiles to a call of the encoder's path alone.
///
/// The macros build the encoder's closure only in the fallback branch: built before the plain
/// path (as an argument of one function doing both), its captures were three stores on every
/// event, and on the logging thread a store can wait behind a ring line that the consumer's
/// core read last (see docs/BENCHMARKS.md).
#[doc(hidden)]
#[inline(always)]
pub fn try_plain<const N: usize>(cs: &'static Callsite, values: [Plain<'_>; N]) -> bool {
    let mut len = 0usize;
    for value in &values {
        len = len.saturating_add(value.len());
    }
    len <= PLAIN_MAX && N <= usize::from(u16::MAX) && write_plain(cs, &values, len)
}

/// The encoder's path for [`try_plain`], out of line: most events take the plain path, and
/// the others format or encode something, which costs far more than the call.
#[doc(hidden)]
#[inline(never)]
pub fn emit_encoded<F: FnOnce(&mut Encoder<'_>)>(cs: &'static Callsite, encode: F) {
    emit(cs, encode)
}

/// The plain path: `false`, with nothing done, when it does not apply (a record in progress
/// on this thread, no producer yet, the thread-locals gone, a gap or a release due, or less
/// than `FAST_ROOM` bytes at the head by the cached tail). No user code runs here (plain
/// values are copied, not formatted), so nothing can re-enter while it writes.
#[inline(always)]
fn write_plain<const N: usize>(cs: &'static Callsite, values: &[Plain<'_>; N], len: usize) -> bool {
    let slot = READY.get();
    if slot.is_null() {
        return false;
    }
    // SAFETY: `READY` holds this thread's `SLOT` only while it is alive (its destructor
    // clears it first).
    let slot = unsafe { &*slot };
    // SAFETY: `READY` is set only once the producer exists (it is never removed), and is
    // null while `with_producer` borrows it, so this is the only live reference to it;
    // nothing below runs code that could take another (no user code, no logging).
    let producer = unsafe { (*slot.producer.get()).as_mut().unwrap_unchecked() };
    producer.write_plain(cs, slot, values, len)
}

/// Writes a record that carries `scope` and hands the consumer one reference to each of its
/// pointers (a span's close event, a value recorded into a span). If it cannot be written
/// (counted as a dropped event), the references are released by a later record; if this
/// thread cannot write at all, they are leaked (never freed too early).
pub(crate) fn emit_owned(what: What, scope: Scope, encode: impl FnOnce(&mut Encoder<'_>)) {
    let recorded = with_producer(true, |_, producer| {
        if !producer.write(what, Ext::owned(scope), encode) {
            producer.defer_release(scope);
        }
    });
    if !recorded {
        runtime::ORPHAN_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// In a child process right after `fork`: the forking thread's ring (to keep), and its
/// producer switched to the slow path, where events are counted as dropped until a consumer
/// runs in the child. No allocation, no lock.
pub(crate) fn orphan_after_fork() -> Option<Arc<ThreadRing>> {
    SLOT.try_with(|slot| {
        if slot.busy.get() {
            return None;
        }
        // SAFETY: not busy, so no other reference to the producer is live on this thread
        // (the only thread of the child).
        let producer = unsafe { &mut *slot.producer.get() };
        producer.as_mut().map(|p| {
            p.force_slow_path();
            Arc::clone(&p.shared)
        })
    })
    .ok()
    .flatten()
}

/// The calling thread's identity as its ring carries it (`None` before its first event, or
/// while it is writing a record, or without thread-locals).
pub(crate) fn current_thread() -> Option<crate::thread::ThreadInfo> {
    SLOT.try_with(|slot| {
        if slot.busy.get() {
            return None;
        }
        // SAFETY: not busy, so no other reference to the producer is live on this thread.
        let producer = unsafe { &*slot.producer.get() };
        producer.as_ref().map(|p| p.shared.info.clone())
    })
    .ok()
    .flatten()
}

/// The calling thread's current scope, borrowed (empty when its thread-locals are gone). The
/// pointers stay alive while the thread stays in that scope.
#[inline]
pub(crate) fn current_scope() -> Scope {
    SLOT.try_with(|slot| slot.scope.get())
        .unwrap_or(Scope::EMPTY)
}

/// What a guard holds for the scope it entered: the id of its entry on the thread.
#[derive(Debug)]
pub(crate) struct SavedScope {
    id: u64,
}

/// The thread's stack of entered scopes.
///
/// # Safety
///
/// Only `enter_scope` and `leave_scope` call this, on the slot's own thread, and neither calls
/// anything that could reach them again while the reference lives (no user code, no logging:
/// references are released only after it is gone). So the reference is unique.
#[inline(always)]
#[allow(clippy::mut_from_ref)]
unsafe fn entered(slot: &Slot) -> &mut Vec<Entered> {
    // SAFETY: see the function's contract.
    unsafe { &mut *slot.entered.get() }
}

/// The thread's first enter: room for 16 nested scopes, so that steady-state enters never
/// allocate (deeper nesting grows the vector once).
#[cold]
#[inline(never)]
fn reserve_entered(entered: &mut Vec<Entered>) {
    entered.reserve(16);
}

/// Makes `scope` current on this thread, which takes over the references it owns.
#[inline]
pub(crate) fn enter_scope(scope: Scope) -> SavedScope {
    let entered = SLOT.try_with(|slot| {
        // SAFETY: `enter_scope`, see `entered`.
        let entered = unsafe { entered(slot) };
        if let Some(top) = entered.last_mut() {
            top.used = slot.scope_used.get();
        } else if entered.capacity() == 0 {
            reserve_entered(entered);
        }
        let id = slot.next_id.get();
        slot.next_id.set(id + 1);
        entered.push(Entered {
            id,
            scope,
            used: false,
        });
        slot.scope.set(scope);
        slot.scope_used.set(false);
        id
    });
    match entered {
        Ok(id) => SavedScope { id },
        Err(_) => {
            // No thread-locals any more (a destructor logging at thread exit): nothing can
            // borrow the scope, so its references go at once.
            // SAFETY: the caller handed over one reference to each pointer.
            unsafe { scope.release() };
            SavedScope { id: 0 }
        }
    }
}

/// Leaves the scope entered as `saved`, wherever it is on the thread's stack: the current
/// scope becomes the innermost one still entered. The references of the scope left are
/// dropped at once if no event borrowed them, or else handed to the consumer in a release
/// record, to be dropped after those events.
#[inline]
pub(crate) fn leave_scope(saved: SavedScope) {
    if saved.id == 0 {
        return;
    }
    let left = SLOT.try_with(|slot| {
        // SAFETY: `leave_scope`, see `entered`.
        let entered = unsafe { entered(slot) };
        let mut left = match entered.last() {
            // In order (the common case): the top.
            Some(top) if top.id == saved.id => entered.pop()?,
            _ => {
                let at = entered.iter().rposition(|e| e.id == saved.id)?;
                return Some(entered.remove(at));
            }
        };
        // It was the top: its flag is the slot's, and the entry below becomes current.
        left.used = slot.scope_used.get();
        let top = entered.last();
        slot.scope.set(top.map_or(Scope::EMPTY, |t| t.scope));
        slot.scope_used.set(top.is_some_and(|t| t.used));
        Some(left)
    });
    match left {
        Ok(Some(left)) if left.used => release_later(left.scope),
        // SAFETY: the entry owned one reference to each pointer of its scope, and no record
        // borrowed them while it was current.
        Ok(Some(left)) => unsafe { left.scope.release() },
        // The slot is gone: keep the references alive (leaked), since records in the ring
        // may still borrow them.
        _ => {}
    }
}

#[cold]
#[inline(never)]
fn release_later(scope: Scope) {
    if scope.is_empty() {
        return;
    }
    // If this thread cannot write (it is inside a value's Display), the references leak:
    // events in the ring still borrow them, so dropping them here could free them too early.
    with_producer(false, |_, producer| producer.write_release(scope));
}
