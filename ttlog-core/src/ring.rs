//! A single-producer, single-consumer byte ring: one per logging thread.
//!
//! The calling thread (producer) owns `head`, the consumer thread owns `tail`; both are byte
//! positions that only grow (a `u64` of bytes does not wrap in the life of a process), and the
//! offset in the buffer is `position & (capacity - 1)`. The producer writes a record into the
//! free space and publishes it with one `Release` store of `head`; the consumer reads up to the
//! `head` it loaded with `Acquire`, then gives the space back with a `Release` store of `tail`,
//! which the producer loads with `Acquire` before reusing it. Each side caches the other side's
//! position and reloads it only when the cached value says there is not enough room (producer)
//! or nothing to read (consumer), so in steady state neither touches the other's cache line.
//!
//! Records are 8-byte aligned and never straddle the end of the buffer: when a record does not
//! fit before the end, the producer fills the rest with a pad record and starts again at
//! offset 0. The record layout itself lives in `record.rs`.

#[cfg(not(loom))]
use std::cell::UnsafeCell;

use crossbeam_utils::CachePadded;

use crate::record::{HEADER, Header, KIND_PAD, header_word};
use crate::sync::{AtomicBool, AtomicU64, Ordering};

/// A record length in a ring that cannot be right (see [`Ring::drain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadLength;

/// Alignment of every record, in bytes.
pub(crate) const ALIGN: usize = 8;

/// Rounds `n` up to the record alignment.
#[inline]
pub(crate) const fn align_up(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// Producer-side state that lives on the producer's cache line.
#[derive(Debug)]
pub(crate) struct ProducerShared {
    pub(crate) head: AtomicU64,
    /// Events written (a counter only the producer writes; read by `stats()`).
    pub(crate) logged: AtomicU64,
    /// Events this thread dropped, in total.
    pub(crate) dropped: AtomicU64,
    /// Set when the thread exits; the consumer frees the ring once it is drained.
    pub(crate) closed: AtomicBool,
}

/// The ring buffer shared by one producer and the consumer.
pub(crate) struct Ring {
    producer: CachePadded<ProducerShared>,
    tail: CachePadded<AtomicU64>,
    capacity: usize,
    #[cfg(not(loom))]
    buf: Box<[UnsafeCell<u64>]>,
    #[cfg(loom)]
    buf: Box<[loom::cell::UnsafeCell<u64>]>,
}

// SAFETY: the buffer is only written by the single producer in the region it owns (between
// `head` and `tail + capacity`) and only read by the single consumer in the region it owns
// (between `tail` and `head`); the Release/Acquire pairs on `head` and `tail` order those
// accesses. All other fields are atomics.
unsafe impl Sync for Ring {}
// SAFETY: see `Sync`; the buffer holds plain bytes with no thread affinity.
unsafe impl Send for Ring {}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.capacity)
            .field("head", &self.producer.head.load(Ordering::Relaxed))
            .field("tail", &self.tail.load(Ordering::Relaxed))
            .finish()
    }
}

/// Where the producer may write next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Space {
    /// Offset of the write position in the buffer.
    pub(crate) offset: usize,
    /// Contiguous bytes free at `offset`.
    pub(crate) contiguous: usize,
    /// Bytes from `offset` to the end of the buffer.
    pub(crate) to_end: usize,
    /// Free bytes in total (including those after the wrap).
    pub(crate) free: usize,
}

impl Space {
    /// Whether the end of the buffer, rather than the consumer, limits `contiguous`.
    pub(crate) fn end_limited(&self) -> bool {
        self.to_end < self.free
    }
}

impl Ring {
    /// A ring of `capacity` bytes, rounded up to a power of two of at least 64.
    pub(crate) fn new(capacity: usize) -> Ring {
        let capacity = capacity.max(64).next_power_of_two();
        let words = capacity / ALIGN;
        #[cfg(not(loom))]
        let buf = {
            // Zeroed by the allocator (fresh pages, mapped as they are first written) rather
            // than word by word: a large ring costs nothing until it is used.
            let zeroed: Box<[u64]> = vec![0u64; words].into_boxed_slice();
            // SAFETY: `UnsafeCell<u64>` is `repr(transparent)` over `u64`, so the slice has the
            // same layout, and the box keeps the same allocation.
            unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [UnsafeCell<u64>]) }
        };
        #[cfg(loom)]
        let buf = (0..words)
            .map(|_| loom::cell::UnsafeCell::new(0u64))
            .collect();
        Ring {
            producer: CachePadded::new(ProducerShared {
                head: AtomicU64::new(0),
                logged: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
            tail: CachePadded::new(AtomicU64::new(0)),
            capacity,
            buf,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn producer_shared(&self) -> &ProducerShared {
        &self.producer
    }

    /// Producer: the space at `head`, given a cached tail that is refreshed (with `Acquire`)
    /// only when it shows fewer than `want` contiguous bytes.
    #[inline]
    pub(crate) fn space(&self, head: u64, cached_tail: &mut u64, want: usize) -> Space {
        let space = self.space_with(head, *cached_tail);
        if space.contiguous >= want || (space.end_limited() && space.to_end < want) {
            return space;
        }
        *cached_tail = self.tail.load(Ordering::Acquire);
        self.space_with(head, *cached_tail)
    }

    /// Producer: reloads the consumer's position, for waiting in blocking mode.
    pub(crate) fn load_tail(&self) -> u64 {
        self.tail.load(Ordering::Acquire)
    }

    #[inline]
    fn space_with(&self, head: u64, tail: u64) -> Space {
        let used = (head - tail) as usize;
        let free = self.capacity - used;
        let offset = (head as usize) & (self.capacity - 1);
        let to_end = self.capacity - offset;
        Space {
            offset,
            contiguous: free.min(to_end),
            to_end,
            free,
        }
    }

    /// Producer: publishes everything written up to `new_head`.
    #[inline]
    pub(crate) fn publish(&self, new_head: u64) {
        self.producer.head.store(new_head, Ordering::Release);
    }

    /// Consumer: the producer's published position.
    #[inline]
    pub(crate) fn load_head(&self) -> u64 {
        self.producer.head.load(Ordering::Acquire)
    }

    /// Consumer: the consumer's own position (only the consumer writes it).
    #[inline]
    pub(crate) fn consumer_tail(&self) -> u64 {
        self.tail.load(Ordering::Relaxed)
    }

    /// Consumer: gives the bytes before `new_tail` back to the producer.
    #[inline]
    pub(crate) fn release(&self, new_tail: u64) {
        self.tail.store(new_tail, Ordering::Release);
    }

    /// Producer: fills the `len` bytes from `offset` to the end of the buffer with a pad
    /// record, which the consumer skips.
    ///
    /// # Safety
    ///
    /// Producer only: `offset .. offset + len` must be free space it owns, ending at the end of
    /// the buffer.
    pub(crate) unsafe fn pad(&self, offset: usize, len: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.write_word(offset, header_word(len, KIND_PAD, 0, 0)) };
    }

    /// Consumer: copies every record published since the last call into `out` (pads skipped),
    /// checking each length against the buffer and the published head, and gives the space
    /// back. Returns the bytes taken from the ring, or [`BadLength`] when a length is
    /// impossible: nothing after it can be trusted, so everything published is skipped.
    ///
    /// Under loom the bytes are read word by word through the tracked cells; otherwise as one
    /// copy per record.
    pub(crate) fn drain(
        &self,
        out: &mut Vec<u8>,
        mut on_record: impl FnMut(&[u8]),
    ) -> Result<usize, BadLength> {
        let head = self.load_head();
        let start = self.consumer_tail();
        let mut tail = start;
        let mask = self.capacity - 1;
        while tail < head {
            let offset = tail as usize & mask;
            // SAFETY: `tail < head`, so the word at `offset` is a published record header in
            // the region the consumer owns.
            let (len, kind, _, _) = Header::parse_word(unsafe { self.read_word(offset) });
            let min = if kind == KIND_PAD { ALIGN } else { HEADER };
            if len < min
                || !len.is_multiple_of(ALIGN)
                || offset + len > self.capacity
                || len as u64 > head - tail
            {
                self.release(head);
                return Err(BadLength);
            }
            if kind != KIND_PAD {
                let at = out.len();
                #[cfg(not(loom))]
                {
                    // SAFETY: the record lies in `[tail, head)` (published, consumer-owned) and
                    // does not straddle the end of the buffer (both checked just above).
                    let record = unsafe { std::slice::from_raw_parts(self.ptr_at(offset), len) };
                    out.extend_from_slice(record);
                }
                #[cfg(loom)]
                for word in (offset..offset + len).step_by(ALIGN) {
                    // SAFETY: as above, word by word.
                    out.extend_from_slice(&unsafe { self.read_word(word) }.to_le_bytes());
                }
                on_record(&out[at..]);
            }
            tail += len as u64;
        }
        self.release(tail);
        Ok((tail - start) as usize)
    }

    /// A raw pointer to the byte at `offset`, for the producer's writes and the consumer's
    /// reads.
    ///
    /// # Safety
    ///
    /// `offset` must be less than the capacity. The caller may only write through the pointer
    /// in the region it owns (producer: `[head, tail + capacity)`; consumer: none) and only
    /// read in the region it owns (consumer: `[tail, head)`), as described in the module docs.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) unsafe fn ptr_at(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset < self.capacity);
        let base = UnsafeCell::raw_get(self.buf.as_ptr()) as *mut u8;
        // SAFETY: the caller guarantees `offset < capacity`, the buffer's length in bytes.
        unsafe { base.add(offset) }
    }

    /// Under loom, raw byte access cannot be tracked: the model writes whole words with
    /// `write_word` and the consumer reads them with `read_word` (see `drain`). The encoder,
    /// which writes bytes through this pointer, is outside the model.
    ///
    /// # Safety
    ///
    /// Never returns.
    #[cfg(loom)]
    pub(crate) unsafe fn ptr_at(&self, _offset: usize) -> *mut u8 {
        unimplemented!("raw ring access is not modelled under loom")
    }

    /// Writes a 64-bit word at an 8-aligned `offset`.
    ///
    /// # Safety
    ///
    /// Producer only, inside the region it owns.
    #[inline]
    pub(crate) unsafe fn write_word(&self, offset: usize, value: u64) {
        debug_assert!(offset.is_multiple_of(ALIGN));
        #[cfg(not(loom))]
        // SAFETY: the caller owns the word at `offset`; it is 8-aligned and in bounds.
        unsafe {
            (self.ptr_at(offset) as *mut u64).write(value)
        };
        #[cfg(loom)]
        // SAFETY: as above; loom tracks the access.
        self.buf[offset / ALIGN].with_mut(|p| unsafe { p.write(value) });
    }

    /// Reads a 64-bit word at an 8-aligned `offset`.
    ///
    /// # Safety
    ///
    /// Consumer only, inside the region it owns.
    #[inline]
    pub(crate) unsafe fn read_word(&self, offset: usize) -> u64 {
        debug_assert!(offset.is_multiple_of(ALIGN));
        #[cfg(not(loom))]
        // SAFETY: the caller owns the word at `offset`; it is 8-aligned and in bounds.
        unsafe {
            (self.ptr_at(offset) as *const u64).read()
        }
        #[cfg(loom)]
        // SAFETY: as above; loom tracks the access.
        self.buf[offset / ALIGN].with(|p| unsafe { p.read() })
    }
}

/// The model's producer and consumer. The consumer is the real one ([`Ring::drain`], what
/// the consumer thread calls). The producer places records the way `producer.rs` does, with
/// the same `Ring` calls (`space`, `pad`, `write_word`, `publish`), but writes each record as
/// whole words instead of running an encoder, and retries instead of waiting or dropping.
#[cfg(test)]
mod protocol {
    use super::*;
    use crate::record::KIND_EVENT;

    pub(super) struct Producer<'r> {
        pub(super) ring: &'r Ring,
        pub(super) head: u64,
        pub(super) cached_tail: u64,
    }

    impl Producer<'_> {
        /// Writes a record whose header is followed by `words`; returns false when the ring is
        /// full.
        pub(super) fn push(&mut self, words: &[u64]) -> bool {
            let len = ALIGN + words.len() * ALIGN;
            assert!(len >= HEADER, "a record has at least a header");
            loop {
                let space = self.ring.space(self.head, &mut self.cached_tail, len);
                if space.contiguous >= len {
                    for (i, w) in words.iter().enumerate() {
                        // SAFETY: inside the free space owned by the producer.
                        unsafe { self.ring.write_word(space.offset + (1 + i) * ALIGN, *w) };
                    }
                    let header = header_word(len, KIND_EVENT, 0, 0);
                    // SAFETY: as above.
                    unsafe { self.ring.write_word(space.offset, header) };
                    self.head += len as u64;
                    self.ring.publish(self.head);
                    return true;
                }
                if space.end_limited() {
                    // SAFETY: the pad covers free space up to the end of the buffer.
                    unsafe { self.ring.pad(space.offset, space.to_end) };
                    self.head += space.to_end as u64;
                    continue;
                }
                return false;
            }
        }
    }

    /// Drains the ring with [`Ring::drain`] and returns each record's words after the header
    /// word.
    pub(super) fn pop_all(ring: &Ring, out: &mut Vec<Vec<u64>>) {
        let mut staging = Vec::new();
        ring.drain(&mut staging, |record| {
            let words = record[ALIGN..]
                .chunks_exact(ALIGN)
                .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
                .collect();
            out.push(words);
        })
        .expect("the producer writes valid lengths");
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    use super::protocol::{Producer, pop_all};
    use super::*;
    use loom::sync::Arc;

    /// A producer pushes records across the wrap of a 64-byte ring while the consumer drains
    /// concurrently: every record arrives once, in order, with the words the producer wrote.
    #[test]
    fn records_cross_threads_intact() {
        loom::model(|| {
            let ring = Arc::new(Ring::new(64));
            let producer_ring = Arc::clone(&ring);
            let producer = loom::thread::spawn(move || {
                let mut p = Producer {
                    ring: &producer_ring,
                    head: 0,
                    cached_tail: 0,
                };
                let mut sent = 0u64;
                for n in 1..=3u64 {
                    // 24, 24 and 32 bytes: the third cannot fit before the end without a wrap.
                    let words: Vec<u64> = (1..if n == 3 { 4 } else { 3 })
                        .map(|i| n * 10 + i)
                        .collect();
                    while !p.push(&words) {
                        loom::thread::yield_now();
                    }
                    sent += 1;
                }
                sent
            });
            let mut got = Vec::new();
            while got.len() < 3 {
                pop_all(&ring, &mut got);
                loom::thread::yield_now();
            }
            assert_eq!(producer.join().unwrap(), 3);
            assert_eq!(got, vec![vec![11, 12], vec![21, 22], vec![31, 32, 33]]);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn space_accounts_for_wrap_and_consumer() {
        let ring = Ring::new(100);
        assert_eq!(ring.capacity(), 128);
        let mut tail = 0;
        let s = ring.space(0, &mut tail, 8);
        assert_eq!((s.offset, s.contiguous, s.free), (0, 128, 128));
        // Producer at 120, consumer at 64: 8 bytes before the end, 56 after the wrap.
        ring.release(64);
        let s = ring.space(120, &mut tail, 8);
        assert_eq!(tail, 0, "cached tail is enough for 8 bytes");
        assert_eq!((s.offset, s.contiguous, s.to_end), (120, 8, 8));
        let s = ring.space(120, &mut tail, 16);
        assert_eq!(tail, 64, "refreshed when the cache was not enough");
        assert!(s.end_limited());
        assert_eq!(s.free, 72);
    }

    /// Real threads, a small ring, records of varying size: everything arrives in order and
    /// intact through the real `drain`, including across thousands of wraps.
    #[test]
    fn stress_variable_records_across_threads() {
        use super::protocol::{Producer, pop_all};
        use std::sync::Arc;

        const RECORDS: u64 = 200_000;
        let ring = Arc::new(Ring::new(512));
        let producer_ring = Arc::clone(&ring);
        let producer = std::thread::spawn(move || {
            let mut p = Producer {
                ring: &producer_ring,
                head: 0,
                cached_tail: 0,
            };
            for n in 0..RECORDS {
                let words: Vec<u64> = (1..3 + n % 7).map(|i| n * 8 + i).collect();
                while !p.push(&words) {
                    std::hint::spin_loop();
                }
            }
        });
        let mut got = Vec::new();
        let mut next = 0u64;
        while next < RECORDS {
            got.clear();
            pop_all(&ring, &mut got);
            for record in &got {
                let expected: Vec<u64> = (1..3 + next % 7).map(|i| next * 8 + i).collect();
                assert_eq!(record, &expected, "record {next}");
                next += 1;
            }
        }
        producer.join().unwrap();
    }
}
