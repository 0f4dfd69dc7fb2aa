//! The binary layout of a record in a thread's ring, and its decoding on the consumer.
//!
//! ```text
//! offset  size  field
//! 0       4     total length in bytes, a multiple of 8 (header included)
//! 4       1     kind: PAD, EVENT, GAP, RELEASE or SPAN_RECORD
//! 5       1     flags: TRUNCATED when values were cut to fit; SINKS and RECORDER say
//!               where the event goes (the callsite's interest when it was logged); SCOPE
//!               when the scope words follow the header; RELEASE when the consumer owns
//!               one reference to each scope pointer and drops it once done
//! 6       2     number of encoded values
//! 8       8     timestamp, raw clock ticks (taken just before the commit)
//! 16      8     EVENT: address of the `&'static Callsite`
//!               GAP: the thread's cumulative count of dropped events
//! 24      16    with SCOPE: the span (`*const SpanInner`) and the context
//!               (`*const ContextNode`) the event was logged in; either may be null
//! 24|40   ...   values: a tag byte each, then the value's bytes (see `value.rs`)
//! ```
//!
//! Values are written unaligned, little-endian. A record never straddles the end of the ring.
//!
//! Scope pointers are borrowed, not owned: an event inside a span points at the span without
//! touching its reference count. The thread that logged keeps the span alive until a later
//! record of the same ring (a RELEASE record, or an event with the RELEASE flag) hands one
//! reference to the consumer, which drops it after that record. A ring is read in order, so
//! every event that borrowed the pointer has been dispatched by then (see `scope.rs`).

use crate::callsite::{Callsite, INTEREST_RECORDER, INTEREST_SINKS};

/// Size of the record header.
pub(crate) const HEADER: usize = 24;

/// Filler up to the end of the ring; the consumer skips it.
pub(crate) const KIND_PAD: u8 = 0;
/// An event from a callsite.
pub(crate) const KIND_EVENT: u8 = 1;
/// A marker left where events were dropped.
pub(crate) const KIND_GAP: u8 = 2;
/// No event: hands the consumer the scope references in the record's scope words.
pub(crate) const KIND_RELEASE: u8 = 3;
/// A value given to a span later (`Span::record`): one fields group, applied by the
/// consumer in order with the events, for the span in the scope words (owned, RELEASE).
pub(crate) const KIND_SPAN_RECORD: u8 = 4;

/// The record's values were cut short to fit into the ring.
pub(crate) const FLAG_TRUNCATED: u8 = 1;
/// The callsite's interest bits are stored in the flags shifted by this much.
pub(crate) const ROUTE_SHIFT: u32 = 1;
/// The event goes to the sinks.
pub(crate) const FLAG_SINKS: u8 = INTEREST_SINKS << ROUTE_SHIFT;
/// The event goes to the flight recorder.
pub(crate) const FLAG_RECORDER: u8 = INTEREST_RECORDER << ROUTE_SHIFT;
/// The span and context words follow the header.
pub(crate) const FLAG_SCOPE: u8 = 8;
/// The consumer owns one reference to each non-null scope pointer and drops it after the record.
pub(crate) const FLAG_RELEASE: u8 = 16;
/// Size of the scope words.
pub(crate) const SCOPE_WORDS: usize = 16;

/// The first header word: length, kind, flags and value count.
#[inline]
pub(crate) const fn header_word(len: usize, kind: u8, flags: u8, values: u16) -> u64 {
    (len as u64) | ((kind as u64) << 32) | ((flags as u64) << 40) | ((values as u64) << 48)
}

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) len: usize,
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) values: u16,
    pub(crate) timestamp: u64,
    pub(crate) payload: u64,
}

impl Header {
    pub(crate) fn parse_word(word: u64) -> (usize, u8, u8, u16) {
        (
            (word & 0xffff_ffff) as usize,
            (word >> 32) as u8,
            (word >> 40) as u8,
            (word >> 48) as u16,
        )
    }

    /// Parses the header at the start of `bytes` (at least `HEADER` long).
    pub(crate) fn parse(bytes: &[u8]) -> Header {
        let word = u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes"));
        let (len, kind, flags, values) = Header::parse_word(word);
        Header {
            len,
            kind,
            flags,
            values,
            timestamp: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            payload: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
        }
    }
}

/// Decodes the values of a record into `out` (tests; the consumer decodes inline). Stops at
/// the first malformed value, which can only come from a bug: the ring is written only by this
/// crate.
#[cfg(test)]
pub(crate) fn decode_values<'a>(
    body: &'a [u8],
    count: u16,
    mut push: impl FnMut(crate::value::ValueRef<'a>),
) {
    use crate::value::decode_value;
    let mut rest = body;
    for _ in 0..count {
        match decode_value(rest) {
            Some((value, used)) => {
                push(value);
                rest = &rest[used..];
            }
            None => break,
        }
    }
}

/// The callsite an event record points at.
///
/// # Safety
///
/// `payload` must be the payload of an EVENT record written by this crate's producer, which
/// stores the address of a `&'static Callsite` there.
pub(crate) unsafe fn callsite_from_payload(payload: u64) -> &'static Callsite {
    // SAFETY: the caller guarantees the address came from a `&'static Callsite`.
    unsafe { &*(payload as usize as *const Callsite) }
}
