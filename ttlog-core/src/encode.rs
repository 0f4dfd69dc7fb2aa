//! Writing values into the ring on the calling thread, without the heap.
//!
//! An [`Encoder`] writes into the contiguous free space the producer reserved. It never
//! allocates in the common case: fixed-size values are copied as bytes, `&str` as a length and
//! the bytes, and `%`/`?` values are formatted straight into the ring through `fmt::Write`.
//!
//! Every value is encoded exactly once: a `Display` may have side effects or be one-shot
//! (`itertools::format`), so the encoder never asks the producer to run the encoding again.
//! When a record outgrows the contiguous room it was given (a large value near the end of the
//! ring), the encoder moves what it wrote so far into the thread's *spill* buffer and goes on
//! there, growing it (an allocation, on this rare path only) up to the largest record a ring
//! holds; the producer then copies the finished record into the ring wherever it fits. Beyond
//! that limit text is cut at a character boundary and marked with `…`, and values that do not
//! fit are left out (the record is flagged truncated): what follows a cut value is intact or
//! absent, never garbage.
//!
//! Bounds: every write goes through [`Encoder::reserve`] (a release-mode check) immediately
//! before the copy; nothing writes past `cap`.

use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::guard::guarded;
use crate::value::{
    FIELDS_FLAT, TAG_BOOL, TAG_CHAR, TAG_DEBUG, TAG_DISPLAY, TAG_F64, TAG_FIELDS, TAG_FMT_ERROR,
    TAG_FMT_PANIC, TAG_I64, TAG_I128, TAG_NONE, TAG_STR, TAG_U64, TAG_U128, Value,
};

/// What a `#[ttlog(redact)]` field is always written as.
pub const REDACTED: &str = "[REDACTED]";

/// The marker appended to text cut short to fit into the ring.
pub const TRUNCATION_MARKER: &str = "…";

/// Bytes of a text value's header: tag and 32-bit length.
const TEXT_HEADER: usize = 5;

/// Where a thread's encoders continue when the ring's contiguous room runs out.
#[derive(Debug)]
pub(crate) struct Spill {
    /// The spill buffer; an encoder that moves here replaces its contents.
    pub(crate) buf: Vec<u8>,
    /// The largest encoding the ring can take (see `producer.rs`).
    pub(crate) limit: usize,
    /// Set by an encoder that moved here, until it finishes.
    active: bool,
}

impl Spill {
    /// A spill buffer of `initial` bytes for records of at most `limit` bytes of values.
    pub(crate) fn new(initial: usize, limit: usize) -> Spill {
        Spill {
            buf: Vec::with_capacity(initial),
            limit,
            active: false,
        }
    }
}

/// How an encoding ended, for the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// Bytes written.
    pub(crate) len: usize,
    /// Values written.
    pub(crate) count: u16,
    /// Some value was left out or cut short because the record reached its limit.
    pub(crate) truncated: bool,
    /// The bytes are in the spill buffer (its first `len` bytes), not in the ring.
    pub(crate) spilled: bool,
}

/// Writes the values of one event into the calling thread's ring.
///
/// Users meet it only when implementing [`Value`](crate::Value) for their own types.
pub struct Encoder<'a> {
    base: *mut u8,
    pos: usize,
    cap: usize,
    count: u16,
    overflow: bool,
    truncate: bool,
    /// The thread's spill buffer, when the encoder may move there (null otherwise); borrowed
    /// exclusively for `'a`. Once it moved, `spill.active` is set and `base` points into it.
    spill: *mut Spill,
    _buf: PhantomData<(&'a mut [u8], &'a mut Spill)>,
}

impl fmt::Debug for Encoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: as in `spilled`.
        let spill = unsafe { self.spill.as_ref() };
        f.debug_struct("Encoder")
            .field("pos", &self.pos)
            .field("cap", &self.cap)
            .field("count", &self.count)
            .field("overflow", &self.overflow)
            .field("spilled", &spill.is_some_and(|s| s.active))
            .finish()
    }
}

impl<'a> Encoder<'a> {
    /// An encoder over `cap` bytes at `base`. With `truncate`, text that does not fit is cut
    /// and marked; without, the encoder only reports the overflow.
    ///
    /// # Safety
    ///
    /// `base..base + cap` must be valid for writes and not accessed by anyone else for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn new(base: *mut u8, cap: usize, truncate: bool) -> Encoder<'a> {
        Encoder {
            base,
            pos: 0,
            cap,
            count: 0,
            overflow: false,
            truncate,
            spill: std::ptr::null_mut(),
            _buf: PhantomData,
        }
    }

    /// An encoder over `cap` bytes at `base` that moves to `spill` when they run out, and
    /// truncates there at `spill.limit` bytes.
    ///
    /// # Safety
    ///
    /// As for [`Encoder::new`].
    #[inline(always)]
    pub(crate) unsafe fn with_spill(
        base: *mut u8,
        cap: usize,
        spill: &'a mut Spill,
    ) -> Encoder<'a> {
        let limit = spill.limit;
        // SAFETY: forwarded from the caller.
        let mut enc = unsafe { Encoder::new(base, cap.min(limit), false) };
        if cap >= limit {
            // The ring has room for the largest record: write there and cut at the limit.
            enc.truncate = true;
        } else {
            enc.spill = spill;
        }
        enc
    }

    /// The spill buffer, if the encoder moved there.
    #[inline(always)]
    fn spilled(&mut self) -> Option<&mut Spill> {
        // SAFETY: a non-null `spill` comes from the `&'a mut Spill` given to `with_spill`,
        // used only through this encoder, which is alive.
        unsafe { self.spill.as_mut() }.filter(|s| s.active)
    }

    /// An encoder writing into a byte slice (tests and fuzzing).
    #[cfg(test)]
    pub(crate) fn over_slice(buf: &'a mut [u8], truncate: bool) -> Encoder<'a> {
        // SAFETY: the slice is valid for writes and exclusively borrowed for 'a.
        unsafe { Encoder::new(buf.as_mut_ptr(), buf.len(), truncate) }
    }

    pub(crate) fn len(&self) -> usize {
        self.pos
    }

    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    #[cfg(test)]
    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }

    /// How the encoding ended. A spilled encoder leaves its bytes in the spill buffer.
    #[inline(always)]
    pub(crate) fn finish(mut self) -> Encoded {
        let pos = self.pos;
        let spilled = match self.spilled() {
            Some(spill) => {
                debug_assert!(pos <= spill.buf.capacity());
                // SAFETY: the first `pos` bytes of the buffer's allocation were written by
                // this encoder, and `pos <= cap <= capacity`.
                unsafe { spill.buf.set_len(pos) };
                spill.active = false;
                true
            }
            None => false,
        };
        Encoded {
            len: self.pos,
            count: self.count,
            truncated: self.overflow,
            spilled,
        }
    }

    #[inline]
    fn room(&self) -> usize {
        self.cap - self.pos
    }

    /// Makes sure `n` more bytes can be written: the one bounds check every write passes.
    #[inline]
    fn reserve(&mut self, n: usize) -> bool {
        if n <= self.room() {
            return true;
        }
        // The rare path gets the encoder's state by value, not `&mut self`: a reference
        // passed to an out-of-line function would keep the encoder out of registers on the
        // hot path too.
        // SAFETY: `spill` and `base..base + pos` are as `make_room` requires (see the fields).
        match unsafe { make_room(self.spill, self.base, self.pos, n) } {
            Some((base, cap)) => {
                self.base = base;
                self.cap = cap;
                // From here the record has the largest size it can have: cut, do not fail.
                self.truncate = true;
                n <= self.room()
            }
            None => false,
        }
    }

    /// Copies `bytes` at the write position, if they fit (`false` and nothing written if not).
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> bool {
        if !self.reserve(bytes.len()) {
            self.overflow = true;
            return false;
        }
        // SAFETY: `reserve` just checked that `bytes` fit.
        unsafe { self.put_reserved(bytes) };
        true
    }

    /// Copies `bytes` at the write position.
    ///
    /// # Safety
    ///
    /// A `reserve` that returned `true` in the same function covered these bytes (with
    /// everything written since): `pos + bytes.len() <= cap`. This is how several parts of one
    /// value share one bounds check.
    #[inline(always)]
    unsafe fn put_reserved(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= self.room());
        // SAFETY: `pos + len <= cap` (the caller's reserve), and `base..base + cap` is ours.
        unsafe { copy_bytes(bytes.as_ptr(), self.base.add(self.pos), bytes.len()) };
        self.pos += bytes.len();
    }

    #[inline]
    pub(crate) fn fixed<const N: usize>(&mut self, tag: u8, bytes: [u8; N]) {
        if self.overflow || self.count == u16::MAX || !self.reserve(1 + N) {
            self.overflow = true;
            return;
        }
        // SAFETY: the reserve above covers the tag and the `N` bytes.
        unsafe {
            self.put_reserved(&[tag]);
            self.put_reserved(&bytes);
        }
        self.count += 1;
    }
    /// Writes an unsigned integer.
    #[inline]
    pub fn u64(&mut self, v: u64) {
        self.fixed(TAG_U64, v.to_le_bytes())
    }

    /// Writes a signed integer.
    #[inline]
    pub fn i64(&mut self, v: i64) {
        self.fixed(TAG_I64, v.to_le_bytes())
    }

    /// Writes a 128-bit unsigned integer.
    #[inline]
    pub fn u128(&mut self, v: u128) {
        self.fixed(TAG_U128, v.to_le_bytes())
    }

    /// Writes a 128-bit signed integer.
    #[inline]
    pub fn i128(&mut self, v: i128) {
        self.fixed(TAG_I128, v.to_le_bytes())
    }

    /// Writes a float.
    #[inline]
    pub fn f64(&mut self, v: f64) {
        self.fixed(TAG_F64, v.to_le_bytes())
    }

    /// Writes a boolean.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        self.fixed(TAG_BOOL, [v as u8])
    }

    /// Writes a character.
    #[inline]
    pub fn char(&mut self, v: char) {
        self.fixed(TAG_CHAR, (v as u32).to_le_bytes())
    }

    /// Writes `None`.
    #[inline]
    pub fn none(&mut self) {
        self.fixed(TAG_NONE, [])
    }

    /// Writes a string, copied into the ring.
    #[inline]
    pub fn str(&mut self, s: &str) {
        if !self.overflow && self.count < u16::MAX && s.len() + TEXT_HEADER <= self.room() {
            // SAFETY: the condition above is the bounds check for the header and the bytes.
            unsafe {
                self.put_reserved(&[TAG_STR]);
                self.put_reserved(&(s.len() as u32).to_le_bytes());
                self.put_reserved(s.as_bytes());
            }
            self.count += 1;
        } else {
            self.str_slow(s);
        }
    }

    /// A string that does not fit where the encoder is (to be cut, or to move to the spill
    /// buffer). The encoder is handed over by value and taken back, never by reference: a
    /// reference passed to an out-of-line function would keep the encoder in memory rather
    /// than in registers on the hot path too (as `reserve` does with `make_room`).
    #[inline(always)]
    fn str_slow(&mut self, s: &str) {
        #[cold]
        #[inline(never)]
        fn slow<'a>(mut enc: Encoder<'a>, s: &str) -> Encoder<'a> {
            enc.text(TAG_STR, |w| w.write_str(s));
            enc
        }
        // SAFETY: null base and no room: an encoder that is never written through, standing
        // in for `self` while it is moved out.
        let placeholder = unsafe { Encoder::new(std::ptr::null_mut(), 0, false) };
        let enc = std::mem::replace(self, placeholder);
        *self = slow(enc, s);
    }

    /// Writes a value's `Display` output, formatted in place.
    #[inline]
    pub fn display(&mut self, v: &(impl fmt::Display + ?Sized)) {
        self.text(TAG_DISPLAY, |w| write!(w, "{v}"));
    }

    /// Writes a value's `Debug` output, formatted in place.
    #[inline]
    pub fn debug(&mut self, v: &(impl fmt::Debug + ?Sized)) {
        self.text(TAG_DEBUG, |w| write!(w, "{v:?}"));
    }

    /// Writes a group of named values (see [`Fields`](crate::Fields)). With `flat`, the group
    /// stands for the field that holds it: sinks list its values in the field's place.
    pub fn fields(&mut self, flat: bool, build: impl FnOnce(&mut FieldsWriter<'_, 'a>)) {
        let mut group = self.open_fields(flat);
        build(&mut self.fields_writer(&mut group));
        self.close_fields(group);
    }

    /// Starts a group of named values that is written field by field, for adapters whose
    /// values arrive one call at a time (a `tracing` visitor): [`Encoder::fields`] split in
    /// three. Between this and [`close_fields`](Encoder::close_fields), write only through
    /// [`fields_writer`](Encoder::fields_writer); anything else written in between drops the
    /// group and what follows (the record is marked truncated).
    #[doc(hidden)]
    pub fn open_fields(&mut self, flat: bool) -> OpenFields {
        if self.overflow || self.count == u16::MAX || !self.reserve(GROUP_HEADER) {
            self.overflow = true;
            return OpenFields {
                start: self.pos,
                outer_count: self.count,
                count: 0,
                open: false,
            };
        }
        let start = self.pos;
        let flags = if flat { FIELDS_FLAT } else { 0 };
        // SAFETY: reserved above.
        unsafe { self.put_reserved(&[TAG_FIELDS, flags, 0, 0, 0, 0, 0, 0]) };
        OpenFields {
            start,
            outer_count: self.count,
            count: 0,
            open: true,
        }
    }

    /// Writes fields into a group opened by [`open_fields`](Encoder::open_fields).
    #[doc(hidden)]
    pub fn fields_writer<'w>(&'w mut self, group: &'w mut OpenFields) -> FieldsWriter<'w, 'a> {
        if !group.open {
            // Nothing may land in a group that was never started.
            self.overflow = true;
        }
        FieldsWriter {
            enc: self,
            prefix: None,
            count: &mut group.count,
        }
    }

    /// Ends a group opened by [`open_fields`](Encoder::open_fields): patches its count and
    /// length into its header.
    #[doc(hidden)]
    pub fn close_fields(&mut self, group: OpenFields) {
        if !group.open {
            return;
        }
        if self.count != group.outer_count {
            // Something other than the group's writer wrote a value inside the group: its
            // header would not describe its body. Drop the group and what follows.
            self.pos = group.start;
            self.count = group.outer_count;
            self.overflow = true;
            return;
        }
        let len = (self.pos - group.start - GROUP_HEADER) as u32;
        self.patch(group.start + 2, &group.count.to_le_bytes());
        self.patch(group.start + 4, &len.to_le_bytes());
        self.count = group.outer_count + 1;
    }

    /// Overwrites bytes already written.
    fn patch(&mut self, at: usize, bytes: &[u8]) {
        assert!(
            at + bytes.len() <= self.pos,
            "patch outside the written region"
        );
        // SAFETY: `at .. at + len` lies inside the region written so far, which is ours.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(at), bytes.len()) };
    }

    /// Writes text produced by `write` (used for message arguments with a format spec).
    #[doc(hidden)]
    #[inline]
    pub fn formatted(&mut self, write: impl FnOnce(&mut TextWriter<'_, 'a>) -> fmt::Result) {
        self.text(TAG_DISPLAY, write);
    }

    /// Formats text into the ring. A panic or error in the user's impl leaves a marker.
    ///
    /// Room for the truncation marker is kept free behind the text at all times, so a cut can
    /// always be marked.
    fn text(&mut self, tag: u8, write: impl FnOnce(&mut TextWriter<'_, 'a>) -> fmt::Result) {
        const MARKER: usize = TRUNCATION_MARKER.len();
        if self.overflow || self.count == u16::MAX || !self.reserve(TEXT_HEADER + MARKER) {
            self.overflow = true;
            return;
        }
        let start = self.pos;
        // SAFETY: reserved above (with the marker's bytes).
        unsafe { self.put_reserved(&[tag, 0, 0, 0, 0]) };
        let mut writer = TextWriter {
            enc: self,
            state: TextState::Writing,
        };
        let result = guarded(|| catch_unwind(AssertUnwindSafe(|| write(&mut writer))));
        let state = writer.state;
        match (result, state) {
            (Ok(Ok(())), _) | (Ok(Err(_)), TextState::Cut) => {
                if state == TextState::Cut {
                    self.put(TRUNCATION_MARKER.as_bytes());
                }
                let len = (self.pos - start - TEXT_HEADER) as u32;
                self.patch(start + 1, &len.to_le_bytes());
                self.count += 1;
            }
            (Ok(Err(_)), TextState::Overflow) => {
                self.pos = start;
                self.overflow = true;
            }
            (Ok(Err(_)), TextState::Writing) => {
                // The value's own impl failed: keep the event, mark the value.
                self.pos = start;
                self.fixed(TAG_FMT_ERROR, []);
            }
            (Err(_panic), _) => {
                self.pos = start;
                self.overflow = false;
                self.fixed(TAG_FMT_PANIC, []);
            }
        }
    }
}

/// The largest encoding of an event's values that the plain path writes (see [`Plain`]);
/// larger ones take the encoder's path, which can spill and cut.
pub(crate) const PLAIN_MAX: usize = 256;

/// A value as the *plain path* writes it: an event whose values are all integers, floats,
/// booleans, `None`s or short strings, with a known encoded length, is written straight into
/// the ring under one bounds check, without an [`Encoder`] (see `producer::try_plain`).
/// `Other` values (formatted, nested, user-encoded) make the whole event take the encoder's
/// path. Every variant encodes exactly as the encoder would (a test checks it).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Plain<'a> {
    /// A tag and an 8-byte little-endian payload (`u64`, `i64`, `f64`).
    Word(u8, u64),
    /// A boolean.
    Bool(bool),
    /// `None`.
    None,
    /// A string, copied.
    Str(&'a str),
    /// Anything else: written by the encoder.
    Other,
}

impl Plain<'_> {
    /// Encoded bytes; more than [`PLAIN_MAX`] for `Other` (sums saturate).
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        match self {
            Plain::Word(..) => 9,
            Plain::Bool(_) => 2,
            Plain::None => 1,
            Plain::Str(s) => s.len().saturating_add(TEXT_HEADER),
            Plain::Other => PLAIN_MAX + 1,
        }
    }

    /// Writes the value at `dst` and returns the byte after it.
    ///
    /// # Safety
    ///
    /// `dst` is valid for `self.len()` bytes of writes, and `self` is not `Other` (which
    /// writes nothing). A `Str` is at most [`PLAIN_MAX`] bytes long (its length fits 32 bits).
    #[inline(always)]
    pub(crate) unsafe fn write(self, dst: *mut u8) -> *mut u8 {
        // SAFETY: each arm writes `self.len()` bytes from `dst`, which the caller guarantees
        // are valid; unaligned stores because `dst` has no alignment.
        unsafe {
            match self {
                Plain::Word(tag, v) => {
                    dst.write(tag);
                    dst.add(1)
                        .cast::<[u8; 8]>()
                        .write_unaligned(v.to_le_bytes());
                    dst.add(9)
                }
                Plain::Bool(b) => {
                    dst.cast::<[u8; 2]>().write_unaligned([TAG_BOOL, b as u8]);
                    dst.add(2)
                }
                Plain::None => {
                    dst.write(TAG_NONE);
                    dst.add(1)
                }
                Plain::Str(s) => {
                    dst.write(TAG_STR);
                    let len = s.len() as u32;
                    dst.add(1)
                        .cast::<[u8; 4]>()
                        .write_unaligned(len.to_le_bytes());
                    copy_bytes(s.as_ptr(), dst.add(TEXT_HEADER), s.len());
                    dst.add(TEXT_HEADER + s.len())
                }
                Plain::Other => dst,
            }
        }
    }
}

/// Copies `len` bytes from `src` to `dst`. Copies of up to 16 bytes (most field names and
/// many values) are done inline with at most two overlapping loads and stores: a call into
/// `memcpy` for them costs more than the copy itself (about 20 instructions per call, several
/// calls per event).
///
/// # Safety
///
/// As for [`std::ptr::copy_nonoverlapping`]: `src` is valid for `len` reads, `dst` for `len`
/// writes, and the two do not overlap.
#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: in every branch, each load reads within `src..src + len` and each store writes
    // within `dst..dst + len` (the second of a pair starts at `len - width >= 0`); unaligned
    // accesses are used because neither pointer is aligned.
    unsafe {
        if len > 16 {
            std::ptr::copy_nonoverlapping(src, dst, len);
        } else if len >= 8 {
            let head = src.cast::<u64>().read_unaligned();
            let tail = src.add(len - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(head);
            dst.add(len - 8).cast::<u64>().write_unaligned(tail);
        } else if len >= 4 {
            let head = src.cast::<u32>().read_unaligned();
            let tail = src.add(len - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(head);
            dst.add(len - 4).cast::<u32>().write_unaligned(tail);
        } else if len >= 2 {
            let head = src.cast::<u16>().read_unaligned();
            let tail = src.add(len - 2).cast::<u16>().read_unaligned();
            dst.cast::<u16>().write_unaligned(head);
            dst.add(len - 2).cast::<u16>().write_unaligned(tail);
        } else if len == 1 {
            dst.write(src.read());
        }
    }
}

/// Moves an encoding to the spill buffer, or grows it there, so that `n` more bytes fit after
/// the `pos` bytes written at `base`; as far as the spill's limit allows when they cannot all
/// fit (the caller then cuts or leaves the value out). Returns the new base and capacity, or
/// `None` without a spill buffer.
///
/// # Safety
///
/// `spill` is null or the encoder's exclusively borrowed spill buffer; `base..base + pos` was
/// written by the encoder (in the ring, or in the spill buffer once it is active).
#[cold]
#[inline(never)]
unsafe fn make_room(
    spill: *mut Spill,
    base: *mut u8,
    pos: usize,
    n: usize,
) -> Option<(*mut u8, usize)> {
    // SAFETY: guaranteed by the caller.
    let spill = unsafe { spill.as_mut() }?;
    let limit = spill.limit;
    let want = (pos + n).min(limit);
    let buf = &mut spill.buf;
    if spill.active {
        // SAFETY: the first `pos` bytes of the buffer's allocation were written by the
        // encoder (copied in or put since), so they are initialised.
        unsafe { buf.set_len(pos) };
        buf.reserve(want - pos);
    } else {
        buf.clear();
        buf.reserve(want.max(256));
        // SAFETY: `base..base + pos` was written by the encoder and is still its own.
        let written = unsafe { std::slice::from_raw_parts(base, pos) };
        buf.extend_from_slice(written);
        spill.active = true;
    }
    Some((buf.as_mut_ptr(), buf.capacity().min(limit)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextState {
    Writing,
    Cut,
    Overflow,
}

/// The `fmt::Write` through which values are formatted into the ring.
#[doc(hidden)]
pub struct TextWriter<'e, 'a> {
    enc: &'e mut Encoder<'a>,
    state: TextState,
}

impl fmt::Debug for TextWriter<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextWriter")
            .field("state", &self.state)
            .finish()
    }
}

impl TextWriter<'_, '_> {
    /// Lets `write!` work without `fmt::Write` in scope (macro output runs in user code).
    #[inline]
    pub fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        fmt::Write::write_fmt(self, args)
    }
}

impl fmt::Write for TextWriter<'_, '_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const MARKER: usize = TRUNCATION_MARKER.len();
        if self.state != TextState::Writing {
            return Err(fmt::Error);
        }
        if self.enc.reserve(s.len() + MARKER) {
            // SAFETY: just reserved.
            unsafe { self.enc.put_reserved(s.as_bytes()) };
            return Ok(());
        }
        if self.enc.truncate {
            // `text` reserved the marker, so `room >= MARKER` holds here.
            let mut cut = self.enc.room().saturating_sub(MARKER).min(s.len());
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.enc.put(&s.as_bytes()[..cut]);
            self.state = TextState::Cut;
        } else {
            self.state = TextState::Overflow;
        }
        Err(fmt::Error)
    }
}

/// The header of a group of fields: tag, flags, count (u16), body length (u32).
const GROUP_HEADER: usize = 8;

/// A group of fields being written; see [`Encoder::open_fields`].
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "a group must be closed with `Encoder::close_fields`"]
pub struct OpenFields {
    start: usize,
    outer_count: u16,
    count: u16,
    /// False when there was no room for the header (the encoder overflowed).
    open: bool,
}

/// Writes the named values of a [`Fields`](crate::Fields) group; see
/// [`Encoder::fields`].
pub struct FieldsWriter<'w, 'a> {
    enc: &'w mut Encoder<'a>,
    prefix: Option<&'w Prefix<'w>>,
    count: &'w mut u16,
}

/// The names that prefix a flattened struct's fields (`net.ip`), innermost last.
struct Prefix<'p> {
    parent: Option<&'p Prefix<'p>>,
    name: &'p str,
}

impl Prefix<'_> {
    fn len(&self) -> usize {
        self.name.len() + 1 + self.parent.map_or(0, |p| p.len())
    }

    /// # Safety
    ///
    /// `enc` has `self.len()` bytes reserved (see [`Encoder::put_reserved`]).
    unsafe fn write(&self, enc: &mut Encoder<'_>) {
        if let Some(parent) = self.parent {
            // SAFETY: the parent's part of the reservation.
            unsafe { parent.write(enc) };
        }
        // SAFETY: this part of the reservation.
        unsafe {
            enc.put_reserved(self.name.as_bytes());
            enc.put_reserved(b".");
        }
    }
}

impl fmt::Debug for FieldsWriter<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldsWriter")
            .field("count", &self.count)
            .finish()
    }
}

impl<'a> FieldsWriter<'_, 'a> {
    /// Writes a field through its [`Value`] impl.
    #[inline]
    pub fn field<V: Value + ?Sized>(&mut self, name: &str, value: &V) {
        value.__encode_field(self, name);
    }

    /// A field whose value has a fixed size (`tag` and `bytes`): the name and the value under
    /// one bounds check, what [`field_with`](FieldsWriter::field_with) does in two with the
    /// checks of a value written on its own. Used by the primitive [`Value`] impls.
    #[inline]
    pub(crate) fn fixed_field<const N: usize>(&mut self, name: &str, tag: u8, bytes: [u8; N]) {
        if self.prefix.is_some() || name.len() > u16::MAX as usize {
            return self.field_with(name, |enc| enc.fixed(tag, bytes));
        }
        let enc = &mut *self.enc;
        if enc.overflow || *self.count == u16::MAX || !enc.reserve(2 + name.len() + 1 + N) {
            enc.overflow = true;
            return;
        }
        // SAFETY: the reserve above covers the name's length, the name, the tag and the value.
        unsafe {
            enc.put_reserved(&(name.len() as u16).to_le_bytes());
            enc.put_reserved(name.as_bytes());
            enc.put_reserved(&[tag]);
            enc.put_reserved(&bytes);
        }
        *self.count += 1;
    }

    /// A string field, as [`fixed_field`](FieldsWriter::fixed_field) for a string that fits
    /// where it is; anything else (a string to truncate, a ring to grow) takes the general
    /// path.
    #[inline]
    pub(crate) fn str_field(&mut self, name: &str, value: &str) {
        let enc = &mut *self.enc;
        let fits = self.prefix.is_none()
            && name.len() <= u16::MAX as usize
            && !enc.overflow
            && *self.count < u16::MAX
            && 2 + name.len() + TEXT_HEADER + value.len() <= enc.room();
        if !fits {
            return self.field_with(name, |enc| enc.str(value));
        }
        // SAFETY: `fits` checked the room for the name's length, the name, the string's
        // header and the string.
        unsafe {
            enc.put_reserved(&(name.len() as u16).to_le_bytes());
            enc.put_reserved(name.as_bytes());
            enc.put_reserved(&[TAG_STR]);
            enc.put_reserved(&(value.len() as u32).to_le_bytes());
            enc.put_reserved(value.as_bytes());
        }
        *self.count += 1;
    }

    /// Writes a field through its `Display` impl (`#[ttlog(display)]`).
    pub fn field_display<V: fmt::Display + ?Sized>(&mut self, name: &str, value: &V) {
        self.field_with(name, |enc| enc.display(value));
    }

    /// Writes a field through its `Debug` impl (`#[ttlog(debug)]`).
    pub fn field_debug<V: fmt::Debug + ?Sized>(&mut self, name: &str, value: &V) {
        self.field_with(name, |enc| enc.debug(value));
    }

    /// Writes a field as [`REDACTED`], never looking at its value (`#[ttlog(redact)]`).
    pub fn field_redacted(&mut self, name: &str) {
        self.field_with(name, |enc| enc.str(REDACTED));
    }

    /// Writes the fields of a nested struct with `prefix.` before each name (no prefix when
    /// `prefix` is empty): `#[ttlog(flatten)]`.
    pub fn flatten(&mut self, prefix: &str, write: impl FnOnce(&mut FieldsWriter<'_, 'a>)) {
        let own;
        let prefix = if prefix.is_empty() {
            self.prefix
        } else {
            own = Prefix {
                parent: self.prefix,
                name: prefix,
            };
            Some(&own)
        };
        write(&mut FieldsWriter {
            enc: self.enc,
            prefix,
            count: self.count,
        });
    }

    /// Copies a pair taken from another group as it is.
    pub(crate) fn raw_pair(&mut self, raw: &[u8]) {
        let enc = &mut *self.enc;
        if enc.overflow || *self.count == u16::MAX || !enc.reserve(raw.len()) {
            enc.overflow = true;
            return;
        }
        // SAFETY: reserved just above.
        unsafe { enc.put_reserved(raw) };
        *self.count += 1;
    }

    /// Writes one field: its (prefixed) name, then whatever `value` encodes, which must be
    /// exactly one value. A field that does not fit is left out whole.
    pub fn field_with(&mut self, name: &str, value: impl FnOnce(&mut Encoder<'a>)) {
        let enc = &mut *self.enc;
        let name_len = name.len() + self.prefix.map_or(0, |p| p.len());
        if enc.overflow || *self.count == u16::MAX {
            enc.overflow = true;
            return;
        }
        let Ok(len) = u16::try_from(name_len) else {
            return;
        };
        if !enc.reserve(2 + name_len) {
            enc.overflow = true;
            return;
        }
        let start = enc.pos;
        let before = enc.count;
        // SAFETY: `2 + name_len` bytes (length, prefixes, name) were reserved above.
        unsafe {
            enc.put_reserved(&len.to_le_bytes());
            if let Some(prefix) = self.prefix {
                prefix.write(enc);
            }
            enc.put_reserved(name.as_bytes());
        }
        value(enc);
        if enc.count == before + 1 {
            *self.count += 1;
        } else {
            // Nothing, or more than one value, was written: leave the field out.
            enc.pos = start;
        }
        enc.count = before;
    }
}

/// A field value, wrapped so that the macros can ask for its [`Plain`] form without
/// requiring `Value` (a value that is not one gets its error from the encoder's path alone):
/// `(&PlainProbe(x)).__plain_value()` resolves to [`PlainValue`] when `x`'s type is a
/// [`Value`] and to [`PlainOther`] (always `Other`) otherwise.
#[doc(hidden)]
#[derive(Debug)]
pub struct PlainProbe<'a, T: ?Sized>(pub &'a T);

/// The plain form of a [`Value`] (see [`PlainProbe`]).
#[doc(hidden)]
pub trait PlainValue {
    fn __plain_value(&self) -> Plain<'_>;
}

impl<T: Value + ?Sized> PlainValue for PlainProbe<'_, T> {
    #[inline(always)]
    fn __plain_value(&self) -> Plain<'_> {
        self.0.__plain()
    }
}

/// Anything else is `Other` (see [`PlainProbe`]).
#[doc(hidden)]
pub trait PlainOther {
    #[inline(always)]
    fn __plain_value(&self) -> Plain<'_> {
        Plain::Other
    }
}

impl<T: ?Sized> PlainOther for &PlainProbe<'_, T> {}

/// A message argument, wrapped so that the macros can pick how to encode it.
///
/// Arguments of primitive types are written raw and formatted by the consumer; any other
/// `Display`/`Debug` argument is formatted on the caller's thread, in place. The choice is made
/// at compile time by method resolution (the `(&ArgRef(x)).__encode_arg(..)` call resolves to
/// [`EncodeRawArg`] when `x`'s type has a raw encoding and to [`EncodeFormattedArg`] otherwise).
#[doc(hidden)]
#[derive(Debug)]
pub struct ArgRef<'a, T: ?Sized>(pub &'a T);

/// Raw encoding of primitive message arguments (see [`ArgRef`]).
#[doc(hidden)]
pub trait EncodeRawArg<T: ?Sized> {
    fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, format: F)
    where
        F: FnOnce(&mut TextWriter<'_, '_>, &T) -> fmt::Result;

    /// The argument for the plain path: what `__encode_arg` writes.
    fn __plain_arg(&self) -> Plain<'_>;
}

/// Encoding of any other message argument: formatted in place (see [`ArgRef`]).
#[doc(hidden)]
pub trait EncodeFormattedArg<T: ?Sized> {
    fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, format: F)
    where
        F: FnOnce(&mut TextWriter<'_, '_>, &T) -> fmt::Result;

    /// Always `Other`: a formatted argument takes the encoder's path.
    #[inline(always)]
    fn __plain_arg(&self) -> Plain<'_> {
        Plain::Other
    }
}

impl<T: ?Sized> EncodeFormattedArg<T> for &ArgRef<'_, T> {
    #[inline]
    fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, format: F)
    where
        F: FnOnce(&mut TextWriter<'_, '_>, &T) -> fmt::Result,
    {
        let value = self.0;
        enc.formatted(|w| format(w, value));
    }
}

macro_rules! raw_arg {
    ($($t:ty => $method:ident as $as:ty),* $(,)?) => {$(
        impl EncodeRawArg<$t> for ArgRef<'_, $t> {
            #[inline]
            fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, _format: F)
            where
                F: FnOnce(&mut TextWriter<'_, '_>, &$t) -> fmt::Result,
            {
                enc.$method(*self.0 as $as)
            }

            #[inline(always)]
            fn __plain_arg(&self) -> Plain<'_> {
                crate::Value::__plain(self.0)
            }
        }
    )*};
}
raw_arg!(
    u8 => u64 as u64, u16 => u64 as u64, u32 => u64 as u64, u64 => u64 as u64,
    usize => u64 as u64, i8 => i64 as i64, i16 => i64 as i64, i32 => i64 as i64,
    i64 => i64 as i64, isize => i64 as i64, u128 => u128 as u128, i128 => i128 as i128,
    f32 => f64 as f64, f64 => f64 as f64, bool => bool as bool, char => char as char,
);

impl EncodeRawArg<str> for ArgRef<'_, str> {
    #[inline]
    fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, _format: F)
    where
        F: FnOnce(&mut TextWriter<'_, '_>, &str) -> fmt::Result,
    {
        enc.str(self.0)
    }

    #[inline(always)]
    fn __plain_arg(&self) -> Plain<'_> {
        Plain::Str(self.0)
    }
}

impl<'s> EncodeRawArg<&'s str> for ArgRef<'_, &'s str> {
    #[inline]
    fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, _format: F)
    where
        F: FnOnce(&mut TextWriter<'_, '_>, &&'s str) -> fmt::Result,
    {
        enc.str(self.0)
    }

    #[inline(always)]
    fn __plain_arg(&self) -> Plain<'_> {
        Plain::Str(self.0)
    }
}

impl EncodeRawArg<String> for ArgRef<'_, String> {
    #[inline]
    fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, _format: F)
    where
        F: FnOnce(&mut TextWriter<'_, '_>, &String) -> fmt::Result,
    {
        enc.str(self.0)
    }

    #[inline(always)]
    fn __plain_arg(&self) -> Plain<'_> {
        Plain::Str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{ValueRef, decode_value};

    fn decode_all(buf: &[u8], n: u16) -> Vec<ValueRef<'_>> {
        let mut out = Vec::new();
        crate::record::decode_values(buf, n, |v| out.push(v));
        out
    }

    #[test]
    fn copy_bytes_copies_every_length_exactly() {
        let src: Vec<u8> = (1..=40).collect();
        for len in 0..=40 {
            for at in 0..3 {
                let mut dst = [0xEEu8; 48];
                // SAFETY: `src` has 40 >= len bytes; `dst[at..]` has 45 >= len bytes.
                unsafe { copy_bytes(src.as_ptr(), dst.as_mut_ptr().add(at), len) };
                assert!(
                    dst[..at].iter().all(|&b| b == 0xEE),
                    "len {len}: wrote before"
                );
                assert_eq!(&dst[at..at + len], &src[..len], "len {len}");
                assert!(
                    dst[at + len..].iter().all(|&b| b == 0xEE),
                    "len {len}: wrote past"
                );
            }
        }
    }

    /// Every value the plain path writes (see `Plain`) has exactly the bytes and the length
    /// that `Value::encode` writes through the encoder; the types without a plain form say
    /// `Other`. Strings of every length up to 40 and at `PLAIN_MAX`.
    #[test]
    fn plain_values_encode_exactly_as_the_encoder_does() {
        fn check<V: Value + ?Sized>(v: &V) {
            let mut general = [0u8; PLAIN_MAX + 16];
            let mut enc = Encoder::over_slice(&mut general, false);
            v.encode(&mut enc);
            let (len, count) = (enc.len(), enc.count());
            let plain = v.__plain();
            assert!(!matches!(plain, Plain::Other));
            assert_eq!((plain.len(), count), (len, 1));
            let mut direct = [0xEEu8; PLAIN_MAX + 16];
            // SAFETY: `direct` has room for `len <= PLAIN_MAX + 5` bytes.
            let end = unsafe { plain.write(direct.as_mut_ptr()) };
            assert_eq!(end as usize - direct.as_ptr() as usize, len);
            assert_eq!(&direct[..len], &general[..len]);
            assert!(direct[len..].iter().all(|&b| b == 0xEE));
        }
        check(&42u8);
        check(&u16::MAX);
        check(&7u32);
        check(&u64::MAX);
        check(&usize::MAX);
        check(&-1i8);
        check(&i16::MIN);
        check(&-3i32);
        check(&i64::MIN);
        check(&-9isize);
        check(&2.5f32);
        check(&f64::NAN);
        check(&-0.0f64);
        check(&true);
        check(&false);
        check(&None::<u64>);
        check(&Some(5u64));
        check(&Some("text"));
        check(&&&7u64);
        check(&Box::new(1.5f64));
        check(&std::sync::Arc::new(String::from("arc")));
        check(&std::borrow::Cow::Borrowed("cow"));
        let text = "é".repeat(PLAIN_MAX / 2 - 3);
        for len in (0..=40).chain([PLAIN_MAX - TEXT_HEADER]) {
            let s = &"0123456789".repeat(30)[..len];
            check(s);
            check(&s.to_owned());
        }
        check(text.as_str());
        assert!(matches!('c'.__plain(), Plain::Other));
        assert!(matches!(u128::MAX.__plain(), Plain::Other));
        assert!(matches!(i128::MIN.__plain(), Plain::Other));
        assert!(matches!(crate::field::display(&1).__plain(), Plain::Other));
        assert!(matches!(crate::field::debug(&1).__plain(), Plain::Other));
    }

    /// The one-check field writers (`fixed_field`, `str_field`, what `FieldsWriter::field`
    /// takes for integers, floats, booleans and strings) write exactly what the general path
    /// (`field_with`) writes, at every buffer size: the same bytes, the same count, the same
    /// overflow and truncation, inside a prefix (`flatten`) too.
    #[test]
    fn one_check_fields_match_the_general_path_at_every_size() {
        let long = "x".repeat(40);
        let write = |out: &mut FieldsWriter<'_, '_>, general: bool| {
            let f = |out: &mut FieldsWriter<'_, '_>, name: &str, v: &dyn Fn(&mut Encoder<'_>)| {
                out.field_with(name, |enc| v(enc))
            };
            if general {
                f(out, "user_id", &|enc| enc.u64(42));
                f(out, "delta", &|enc| enc.i64(-7));
                f(out, "latency_ms", &|enc| enc.f64(3.25));
                f(out, "ok", &|enc| enc.bool(true));
                f(out, "path", &|enc| enc.str("/api/v1/items"));
                f(out, "body", &|enc| enc.str(&long));
            } else {
                out.field("user_id", &42u64);
                out.field("delta", &-7i64);
                out.field("latency_ms", &3.25f64);
                out.field("ok", &true);
                out.field("path", "/api/v1/items");
                out.field("body", long.as_str());
            }
        };
        for size in 0..160 {
            for truncate in [false, true] {
                for prefixed in [false, true] {
                    let run = |general: bool| {
                        let mut buf = vec![0u8; size];
                        let mut enc = Encoder::over_slice(&mut buf, truncate);
                        enc.fields(false, |out| {
                            if prefixed {
                                out.flatten("req", |out| write(out, general));
                            } else {
                                write(out, general);
                            }
                        });
                        let (len, count, over) = (enc.len(), enc.count(), enc.overflowed());
                        buf.truncate(len);
                        (buf, count, over)
                    };
                    assert_eq!(
                        run(false),
                        run(true),
                        "size {size}, truncate {truncate}, prefixed {prefixed}"
                    );
                }
            }
        }
    }

    struct Fails;
    impl fmt::Display for Fails {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }

    struct Panics;
    impl fmt::Display for Panics {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            panic!("Display of Panics")
        }
    }

    #[test]
    fn encodes_and_decodes_every_kind() {
        let mut buf = [0u8; 256];
        let mut enc = Encoder::over_slice(&mut buf, false);
        enc.u64(7);
        enc.i64(-3);
        enc.f64(2.5);
        enc.bool(true);
        enc.char('é');
        enc.str("hello");
        enc.display(&std::net::Ipv4Addr::LOCALHOST);
        enc.debug(&Some("x"));
        enc.u128(u128::MAX);
        enc.none();
        assert!(!enc.overflowed());
        let (len, n) = (enc.len(), enc.count());
        let values = decode_all(&buf[..len], n);
        assert_eq!(
            values,
            vec![
                ValueRef::U64(7),
                ValueRef::I64(-3),
                ValueRef::F64(2.5),
                ValueRef::Bool(true),
                ValueRef::Char('é'),
                ValueRef::Str("hello"),
                ValueRef::Display("127.0.0.1"),
                ValueRef::Debug("Some(\"x\")"),
                ValueRef::U128(u128::MAX),
                ValueRef::None,
            ]
        );
    }

    #[test]
    fn a_group_written_field_by_field_equals_one_written_at_once() {
        let mut whole = [0u8; 256];
        let mut enc = Encoder::over_slice(&mut whole, true);
        enc.str("message");
        enc.fields(true, |out| {
            out.field("user_id", &42_u64);
            out.field("path", "/api/v1/items");
        });
        let (whole_len, whole_count) = (enc.len(), enc.count());

        let mut split = [0u8; 256];
        let mut enc = Encoder::over_slice(&mut split, true);
        enc.str("message");
        let mut group = enc.open_fields(true);
        enc.fields_writer(&mut group).field("user_id", &42_u64);
        enc.fields_writer(&mut group).field("path", "/api/v1/items");
        enc.close_fields(group);
        assert_eq!((enc.len(), enc.count()), (whole_len, whole_count));
        assert_eq!(whole[..whole_len], split[..whole_len]);
        assert_eq!(decode_all(&split[..whole_len], whole_count).len(), 2);
    }

    #[test]
    fn a_value_written_inside_an_open_group_drops_the_group() {
        let mut buf = [0u8; 128];
        let mut enc = Encoder::over_slice(&mut buf, true);
        enc.u64(1);
        let mut group = enc.open_fields(true);
        enc.fields_writer(&mut group).field("a", &2_u64);
        enc.u64(3); // not through the group's writer
        enc.close_fields(group);
        let (len, count) = (enc.len(), enc.count());
        assert!(enc.overflowed());
        assert_eq!(count, 1);
        assert_eq!(decode_all(&buf[..len], count), vec![ValueRef::U64(1)]);
    }

    #[test]
    fn a_group_without_room_for_its_header_writes_nothing() {
        let mut buf = [0u8; 4];
        let mut enc = Encoder::over_slice(&mut buf, true);
        let mut group = enc.open_fields(true);
        enc.fields_writer(&mut group).field("a", &2_u64);
        enc.close_fields(group);
        assert_eq!((enc.len(), enc.count()), (0, 0));
        assert!(enc.overflowed());
    }

    #[test]
    fn failing_and_panicking_impls_leave_markers() {
        let mut buf = [0u8; 64];
        let mut enc = Encoder::over_slice(&mut buf, false);
        enc.display(&Fails);
        enc.display(&Panics);
        enc.u64(1);
        let (len, n) = (enc.len(), enc.count());
        assert_eq!(
            decode_all(&buf[..len], n),
            vec![ValueRef::FmtError, ValueRef::FmtPanic, ValueRef::U64(1)]
        );
    }

    #[test]
    fn overflow_is_reported_and_truncation_cuts_at_char_boundary() {
        let mut buf = [0u8; 16];
        let mut enc = Encoder::over_slice(&mut buf, false);
        enc.str("a string longer than sixteen bytes");
        assert!(enc.overflowed());

        let mut buf = [0u8; 16];
        let mut enc = Encoder::over_slice(&mut buf, true);
        enc.display(&"ééééééééééééééé");
        assert!(!enc.overflowed());
        let (len, n) = (enc.len(), enc.count());
        let (value, _) = decode_value(&buf[..len]).unwrap();
        assert_eq!(n, 1);
        let ValueRef::Display(text) = value else {
            panic!("{value:?}")
        };
        assert!(text.ends_with(TRUNCATION_MARKER), "{text}");
        assert!(text.starts_with("éééé"), "{text}");
    }

    /// One value of each kind, written through `enc`.
    fn write_kind(enc: &mut Encoder<'_>, kind: usize, text: &str) {
        match kind {
            0 => enc.u64(u64::MAX),
            1 => enc.i64(-5),
            2 => enc.u128(7),
            3 => enc.i128(-7),
            4 => enc.f64(1.5),
            5 => enc.bool(true),
            6 => enc.char('ß'),
            7 => enc.none(),
            8 => enc.str(text),
            9 => enc.display(&text),
            10 => enc.debug(&text),
            11 => enc.fields(false, |out| out.field("k", text)),
            _ => unreachable!(),
        }
    }
    const KINDS: usize = 12;

    /// Every remaining room from 0 to 32 bytes, every kind of value, with and without
    /// truncation: nothing is written past the room (canaries intact), and what was written
    /// decodes, followed by the next value intact or absent.
    #[test]
    fn no_write_past_the_room_for_any_room_kind_or_mode() {
        const CANARY: u8 = 0xA5;
        for room in 0..=32usize {
            for kind in 0..KINDS {
                for truncate in [false, true] {
                    for text in ["", "é", "hello", "a text of thirty-two bytes long!"] {
                        let mut buf = [CANARY; 64];
                        // SAFETY: `room <= 32 < 64`, inside the local array.
                        let mut enc = unsafe { Encoder::new(buf.as_mut_ptr(), room, truncate) };
                        write_kind(&mut enc, kind, text);
                        enc.u64(42);
                        let (len, n) = (enc.len(), enc.count());
                        assert!(len <= room, "room {room} kind {kind}: wrote {len}");
                        assert!(
                            buf[room..].iter().all(|&b| b == CANARY),
                            "room {room} kind {kind} truncate {truncate}: canary overwritten"
                        );
                        let values = decode_all(&buf[..len], n);
                        assert_eq!(values.len(), n as usize, "room {room} kind {kind}");
                        if n == 2 {
                            assert_eq!(values[1], ValueRef::U64(42));
                        }
                        let expected = if kind == 10 {
                            format!("{text:?}")
                        } else {
                            text.to_owned()
                        };
                        for value in &values {
                            if let Some(t) = value.as_text()
                                && t != expected
                            {
                                assert!(truncate, "cut without truncation: {t:?}");
                                assert!(t.ends_with(TRUNCATION_MARKER), "{t:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// A `Display` that counts its calls and writes `len` bytes.
    struct Counted<'c> {
        calls: &'c std::cell::Cell<u32>,
        len: usize,
    }
    impl fmt::Display for Counted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.calls.set(self.calls.get() + 1);
            for _ in 0..self.len / 10 {
                f.write_str("0123456789")?;
            }
            Ok(())
        }
    }

    /// A value that outgrows the room it started in moves to the spill buffer, whole, with
    /// the values before and after it; its `Display` runs once.
    #[test]
    fn outgrowing_the_room_spills_once_and_keeps_every_value() {
        let calls = std::cell::Cell::new(0);
        let mut ring = [0u8; 100];
        let mut spill = Spill::new(0, 4096);
        // SAFETY: the local array is valid for 100 bytes.
        let mut enc = unsafe { Encoder::with_spill(ring.as_mut_ptr(), ring.len(), &mut spill) };
        enc.u64(1);
        enc.display(&Counted {
            calls: &calls,
            len: 1500,
        });
        enc.str("after");
        let encoded = enc.finish();
        assert!(encoded.spilled && !encoded.truncated, "{encoded:?}");
        assert_eq!(calls.get(), 1);
        assert_eq!(spill.buf.len(), encoded.len);
        let values = decode_all(&spill.buf, encoded.count);
        assert_eq!(values.len(), 3);
        assert_eq!(values[0], ValueRef::U64(1));
        assert_eq!(values[1].as_text().map(str::len), Some(1500));
        assert_eq!(values[2], ValueRef::Str("after"));
    }

    /// Past the limit, text is cut and marked, and values after it are absent (never garbage).
    #[test]
    fn past_the_limit_text_is_cut_and_later_values_absent() {
        let calls = std::cell::Cell::new(0);
        let mut ring = [0u8; 64];
        let mut spill = Spill::new(0, 1000);
        // SAFETY: the local array is valid for 64 bytes.
        let mut enc = unsafe { Encoder::with_spill(ring.as_mut_ptr(), ring.len(), &mut spill) };
        enc.display(&Counted {
            calls: &calls,
            len: 5000,
        });
        enc.u64(7);
        let encoded = enc.finish();
        assert!(encoded.spilled && encoded.len <= 1000, "{encoded:?}");
        assert_eq!(calls.get(), 1);
        let values = decode_all(&spill.buf, encoded.count);
        assert_eq!(values.len(), encoded.count as usize);
        let text = values[0].as_text().unwrap();
        assert!(text.ends_with(TRUNCATION_MARKER), "{}", text.len());
        assert!(values.len() == 1 || values[1] == ValueRef::U64(7));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum V {
            U(u64),
            I(i64),
            F(f64),
            B(bool),
            C(char),
            S(String),
            D(String),
            G(Vec<(String, u64)>),
        }

        fn value() -> impl Strategy<Value = V> {
            prop_oneof![
                any::<u64>().prop_map(V::U),
                any::<i64>().prop_map(V::I),
                any::<f64>().prop_map(V::F),
                any::<bool>().prop_map(V::B),
                any::<char>().prop_map(V::C),
                ".{0,300}".prop_map(V::S),
                ".{0,40}".prop_map(|s| V::D(s.repeat(20))),
                prop::collection::vec(("[a-z]{1,8}", any::<u64>()), 0..5).prop_map(V::G),
            ]
        }

        fn write(enc: &mut Encoder<'_>, v: &V) {
            match v {
                V::U(x) => enc.u64(*x),
                V::I(x) => enc.i64(*x),
                V::F(x) => enc.f64(*x),
                V::B(x) => enc.bool(*x),
                V::C(x) => enc.char(*x),
                V::S(x) => enc.str(x),
                V::D(x) => enc.display(x),
                V::G(pairs) => enc.fields(false, |out| {
                    for (k, x) in pairs {
                        out.field(k, x);
                    }
                }),
            }
        }

        /// Whether `got` is what `v` encodes, or (text) a marked prefix of it.
        fn matches(v: &V, got: &ValueRef<'_>) -> bool {
            let text = |want: &str, got: &str| {
                got == want
                    || got
                        .strip_suffix(TRUNCATION_MARKER)
                        .is_some_and(|p| want.starts_with(p))
            };
            match (v, got) {
                (V::U(x), ValueRef::U64(y)) => x == y,
                (V::I(x), ValueRef::I64(y)) => x == y,
                (V::F(x), ValueRef::F64(y)) => x.to_bits() == y.to_bits(),
                (V::B(x), ValueRef::Bool(y)) => x == y,
                (V::C(x), ValueRef::Char(y)) => x == y,
                (V::S(x), ValueRef::Str(y)) => text(x, y),
                (V::D(x), ValueRef::Display(y)) => text(x, y),
                (V::G(pairs), ValueRef::Fields(group)) => {
                    let got: Vec<_> = group.iter().collect();
                    got.len() <= pairs.len()
                        && got
                            .iter()
                            .zip(pairs)
                            .all(|((n, v), (k, x))| n == k && *v == ValueRef::U64(*x))
                }
                _ => false,
            }
        }

        proptest! {
            /// Random values into a random room, with a spill buffer of a random limit: the
            /// record stays within its bounds and decodes to a prefix of the values, each
            /// intact (text possibly cut and marked), the ones after a cut absent.
            #[test]
            fn encode_decode_round_trip(
                values in prop::collection::vec(value(), 0..12),
                room in 0usize..2048,
                limit in 0usize..4096,
            ) {
                let mut ring = vec![0xA5u8; room + 64];
                let mut spill = Spill::new(0, limit);
                // SAFETY: `ring` has `room + 64` bytes.
                let mut enc = unsafe { Encoder::with_spill(ring.as_mut_ptr(), room, &mut spill) };
                for v in &values {
                    write(&mut enc, v);
                }
                let encoded = enc.finish();
                prop_assert!(ring[room..].iter().all(|&b| b == 0xA5), "wrote past the room");
                prop_assert!(encoded.len <= limit.max(room.min(limit)));
                let bytes = if encoded.spilled { &spill.buf[..] } else { &ring[..encoded.len] };
                prop_assert_eq!(bytes.len(), encoded.len);
                let got = decode_all(bytes, encoded.count);
                prop_assert_eq!(got.len(), encoded.count as usize);
                for (v, g) in values.iter().zip(&got) {
                    prop_assert!(matches(v, g), "{:?} decoded as {:?}", v, g);
                }
                if !encoded.truncated {
                    prop_assert_eq!(got.len(), values.len());
                }
            }
        }
    }
}
