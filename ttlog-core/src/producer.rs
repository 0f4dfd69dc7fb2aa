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
use crate::encode::Encoder;
use crate::record::{
    FLAG_TRUNCATED, HEADER, KIND_EVENT, KIND_GAP, KIND_PAD, ROUTE_SHIFT, header_word,
};
use crate::ring::align_up;
use crate::runtime::{self, ThreadRing};

/// The smallest record: a header (an event with no values, or a gap marker).
const MIN_RECORD: usize = HEADER;

struct Producer {
    shared: Arc<ThreadRing>,
    clock: quanta::Clock,
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
}

impl Producer {
    fn new() -> Producer {
        Producer {
            shared: runtime::register_current_thread(),
            clock: clock::clock(),
            head: 0,
            cached_tail: 0,
            last_ts: 0,
            logged: 0,
            dropped: 0,
            reported: 0,
        }
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
        unsafe {
            self.shared
                .ring
                .write_word(offset, header_word(len, KIND_PAD, 0, 0))
        };
        self.head += len as u64;
    }

    /// The general path: refreshes the tail, reports gaps, wraps, truncates, waits or drops.
    #[inline(never)]
    fn write_event(&mut self, cs: &'static Callsite, encode: &mut dyn FnMut(&mut Encoder<'_>)) {
        let cap = self.shared.ring.capacity();
        loop {
            let gap = self.dropped != self.reported;
            let want = MIN_RECORD + if gap { HEADER } else { 0 };
            let space = self
                .shared
                .ring
                .space(self.head, &mut self.cached_tail, want);
            if space.contiguous < want {
                if space.end_limited() {
                    self.pad(space.offset, space.to_end);
                    continue;
                }
                if self.on_full() {
                    continue;
                }
                return;
            }
            let (mut offset, mut room) = (space.offset, space.contiguous);
            if gap {
                self.write_gap(offset);
                offset += HEADER;
                room -= HEADER;
            }
            // When the space is at least half the ring, the record must fit: cut text instead
            // of giving up (only huge values get here).
            let truncate = room >= cap / 2;
            // SAFETY: `offset + HEADER .. offset + room` is free space owned by this producer.
            let base = unsafe { self.shared.ring.ptr_at(offset).add(HEADER) };
            // SAFETY: the region is valid for writes and nobody else touches it until publish.
            let mut enc = unsafe { Encoder::new(base, room - HEADER, truncate) };
            encode(&mut enc);
            if enc.overflowed() && !truncate {
                if space.end_limited() && space.to_end < cap / 2 {
                    // Retry after the wrap, where there may be more room. The gap record
                    // written above is simply not published; it is rewritten next time.
                    self.pad(space.offset, space.to_end);
                    continue;
                }
                if self.on_full() {
                    continue;
                }
                return;
            }
            let flags = if enc.overflowed() { FLAG_TRUNCATED } else { 0 };
            let (len, values) = (enc.len(), enc.count());
            self.commit(cs, space.offset, offset, len, values, flags);
            if gap {
                self.reported = self.dropped;
            }
            return;
        }
    }

    /// The common case, inlined into the call site: enough contiguous room at the head (by the
    /// cached tail) and no gap to report. Returns `false` to fall back to `write_event`, which
    /// starts over (the closure only encodes, so running it again is harmless).
    #[inline(always)]
    fn try_write_fast<F: FnMut(&mut Encoder<'_>)>(
        &mut self,
        cs: &'static Callsite,
        encode: &mut F,
    ) -> bool {
        /// Below this much room the slow path refreshes the tail, wraps or waits.
        const FAST_ROOM: usize = 512;
        if self.dropped != self.reported {
            return false;
        }
        let ring = &self.shared.ring;
        let cap = ring.capacity();
        let offset = self.head as usize & (cap - 1);
        let room = (cap - (self.head - self.cached_tail) as usize).min(cap - offset);
        if room < FAST_ROOM {
            return false;
        }
        // SAFETY: `offset .. offset + room` is free space owned by this producer (bounded by
        // the cached tail, which only lags the real one, and by the end of the buffer).
        let base = unsafe { ring.ptr_at(offset).add(HEADER) };
        // SAFETY: the region is valid for writes and nobody else touches it until publish.
        let mut enc = unsafe { Encoder::new(base, room - HEADER, false) };
        encode(&mut enc);
        if enc.overflowed() {
            return false;
        }
        let (len, values) = (enc.len(), enc.count());
        self.commit(cs, offset, offset, len, values, 0);
        true
    }

    /// Writes the header of the record at `offset` (values already encoded after it), takes
    /// the timestamp and publishes everything from `start` (where a gap record may precede).
    #[inline(always)]
    fn commit(
        &mut self,
        cs: &'static Callsite,
        start: usize,
        offset: usize,
        values_len: usize,
        values: u16,
        flags: u8,
    ) {
        let len = align_up(HEADER + values_len);
        // Where the event goes is decided now, at the call: a filter change before the
        // consumer gets to it does not reroute it.
        let flags = flags | (cs.routes() << ROUTE_SHIFT);
        let ts = self.timestamp();
        let ring = &self.shared.ring;
        // SAFETY: the header words are inside the record's region, owned by this producer.
        unsafe {
            ring.write_word(offset, header_word(len, KIND_EVENT, flags, values));
            ring.write_word(offset + 8, ts);
            ring.write_word(offset + 16, cs as *const Callsite as usize as u64);
        }
        self.head += (offset - start + len) as u64;
        ring.publish(self.head);
        self.logged += 1;
        ring.producer_shared()
            .logged
            .store(self.logged, Ordering::Relaxed);
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
    /// the event was dropped and counted.
    #[cold]
    #[inline(never)]
    fn on_full(&mut self) -> bool {
        // The cached tail may be stale: the consumer may have freed space since.
        let tail = self.shared.ring.load_tail();
        if tail != self.cached_tail {
            self.cached_tail = tail;
            return true;
        }
        let consumer = match runtime::consumer() {
            Some(c) if c.alive.load(Ordering::Acquire) => c,
            _ => {
                self.count_drop();
                return false;
            }
        };
        if !runtime::OVERFLOW_BLOCK.load(Ordering::Relaxed) {
            consumer.wake();
            self.count_drop();
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
                self.count_drop();
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
}

thread_local! {
    static SLOT: Slot = const {
        Slot {
            producer: UnsafeCell::new(None),
            busy: Cell::new(false),
            nested_drops: Cell::new(0),
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

/// Records an event from the callsite `cs`; `encode` writes its values (message arguments
/// first, then fields). Called by the macros once the event is known to be enabled.
///
/// The closure may run more than once (when the record has to move past the end of the ring),
/// so it must only encode.
#[doc(hidden)]
#[inline]
pub fn emit<F: FnMut(&mut Encoder<'_>)>(cs: &'static Callsite, mut encode: F) {
    let recorded = SLOT.try_with(|slot| {
        if slot.busy.replace(true) {
            // An event logged from inside a value's Display impl while this thread is
            // writing another: writing it now would corrupt the first. The outer call counts
            // it once it is done.
            slot.nested_drops.set(slot.nested_drops.get() + 1);
            return;
        }
        let _guard = BusyGuard(&slot.busy);
        // SAFETY: `busy` was false and is now true until `_guard` drops, so this is the only
        // live reference to the producer on this thread (and no other thread can reach it).
        let producer = unsafe { &mut *slot.producer.get() };
        let producer = match producer {
            Some(p) => p,
            None => new_producer(producer),
        };
        if !producer.try_write_fast(cs, &mut encode) {
            producer.write_event(cs, &mut encode);
        }
        if slot.nested_drops.get() > 0 {
            producer.count_drops(slot.nested_drops.take());
        }
    });
    if recorded.is_err() {
        runtime::ORPHAN_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}
