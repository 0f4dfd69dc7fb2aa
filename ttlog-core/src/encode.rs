//! Writing values into the ring on the calling thread, without the heap.
//!
//! An [`Encoder`] writes into the contiguous free space the producer reserved. It never
//! allocates: fixed-size values are copied as bytes, `&str` as a length and the bytes, and
//! `%`/`?` values are formatted straight into the ring through `fmt::Write`. When the space
//! runs out the encoder remembers it (`overflow`) and ignores the rest; the producer then
//! wraps, waits or drops, by policy. In "truncate" mode (used when the record could never fit
//! otherwise) text is cut at a character boundary and marked with `…` instead.

use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::value::{
    FIELDS_FLAT, TAG_BOOL, TAG_CHAR, TAG_DEBUG, TAG_DISPLAY, TAG_F64, TAG_FIELDS, TAG_FMT_ERROR,
    TAG_FMT_PANIC, TAG_I64, TAG_I128, TAG_NONE, TAG_STR, TAG_U64, TAG_U128, Value,
};

/// What a `#[ttlog(redact)]` field is always written as.
pub const REDACTED: &str = "[REDACTED]";

/// The marker appended to text cut short to fit into the ring.
pub const TRUNCATION_MARKER: &str = "…";

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
    _buf: PhantomData<&'a mut [u8]>,
}

impl fmt::Debug for Encoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("pos", &self.pos)
            .field("cap", &self.cap)
            .field("count", &self.count)
            .field("overflow", &self.overflow)
            .finish()
    }
}

impl<'a> Encoder<'a> {
    /// An encoder over `cap` bytes at `base`.
    ///
    /// # Safety
    ///
    /// `base..base + cap` must be valid for writes and not accessed by anyone else for `'a`.
    pub(crate) unsafe fn new(base: *mut u8, cap: usize, truncate: bool) -> Encoder<'a> {
        Encoder {
            base,
            pos: 0,
            cap,
            count: 0,
            overflow: false,
            truncate,
            _buf: PhantomData,
        }
    }

    /// An encoder writing into a byte slice (used by tests).
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

    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }

    #[inline]
    fn room(&self) -> usize {
        self.cap - self.pos
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= self.room());
        // SAFETY: `pos + len <= cap` was checked by the caller, and the region is ours.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(self.pos), bytes.len())
        };
        self.pos += bytes.len();
    }

    #[inline]
    fn fixed<const N: usize>(&mut self, tag: u8, bytes: [u8; N]) {
        if self.overflow || self.count == u16::MAX {
            self.overflow = true;
            return;
        }
        if self.room() < 1 + N {
            self.overflow = true;
            return;
        }
        self.put(&[tag]);
        self.put(&bytes);
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
        if !self.overflow && self.count < u16::MAX && s.len() + 5 <= self.room() {
            self.put(&[TAG_STR]);
            self.put(&(s.len() as u32).to_le_bytes());
            self.put(s.as_bytes());
            self.count += 1;
        } else {
            self.text(TAG_STR, |w| w.write_str(s));
        }
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
        const GROUP_HEADER: usize = 8;
        if self.overflow || self.count == u16::MAX || self.room() < GROUP_HEADER {
            self.overflow = true;
            return;
        }
        let start = self.pos;
        let outer_count = self.count;
        let flags = if flat { FIELDS_FLAT } else { 0 };
        self.put(&[TAG_FIELDS, flags, 0, 0, 0, 0, 0, 0]);
        let mut count = 0u16;
        build(&mut FieldsWriter {
            enc: self,
            prefix: None,
            count: &mut count,
        });
        let len = (self.pos - start - GROUP_HEADER) as u32;
        self.patch(start + 2, &count.to_le_bytes());
        self.patch(start + 4, &len.to_le_bytes());
        self.count = outer_count + 1;
    }

    /// Overwrites bytes already written.
    fn patch(&mut self, at: usize, bytes: &[u8]) {
        assert!(at + bytes.len() <= self.pos);
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
    fn text(&mut self, tag: u8, write: impl FnOnce(&mut TextWriter<'_, 'a>) -> fmt::Result) {
        if self.overflow || self.count == u16::MAX || self.room() < 5 {
            self.overflow = true;
            return;
        }
        let start = self.pos;
        self.put(&[tag, 0, 0, 0, 0]);
        let reserve = if self.truncate {
            TRUNCATION_MARKER.len()
        } else {
            0
        };
        let mut writer = TextWriter {
            enc: self,
            reserve,
            state: TextState::Writing,
        };
        let result =
            crate::trigger::guarded(|| catch_unwind(AssertUnwindSafe(|| write(&mut writer))));
        let state = writer.state;
        match (result, state) {
            (Ok(Ok(())), _) | (Ok(Err(_)), TextState::Cut) => {
                if state == TextState::Cut {
                    self.put(TRUNCATION_MARKER.as_bytes());
                }
                let len = (self.pos - start - 5) as u32;
                // SAFETY: `start + 1 .. start + 5` is inside the region written above.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        len.to_le_bytes().as_ptr(),
                        self.base.add(start + 1),
                        4,
                    )
                };
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
    reserve: usize,
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
        if self.state != TextState::Writing {
            return Err(fmt::Error);
        }
        let room = self.enc.room().saturating_sub(self.reserve);
        if s.len() <= room {
            self.enc.put(s.as_bytes());
            return Ok(());
        }
        if self.enc.truncate {
            let mut cut = room;
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

    fn write(&self, enc: &mut Encoder<'_>) {
        if let Some(parent) = self.parent {
            parent.write(enc);
        }
        enc.put(self.name.as_bytes());
        enc.put(b".");
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
    pub fn field<V: Value + ?Sized>(&mut self, name: &str, value: &V) {
        self.field_with(name, |enc| value.encode(enc));
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
        if enc.overflow || *self.count == u16::MAX || raw.len() > enc.room() {
            enc.overflow = true;
            return;
        }
        enc.put(raw);
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
        if enc.room() < 2 + name_len {
            enc.overflow = true;
            return;
        }
        let start = enc.pos;
        let before = enc.count;
        enc.put(&len.to_le_bytes());
        if let Some(prefix) = self.prefix {
            prefix.write(enc);
        }
        enc.put(name.as_bytes());
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
}

/// Encoding of any other message argument: formatted in place (see [`ArgRef`]).
#[doc(hidden)]
pub trait EncodeFormattedArg<T: ?Sized> {
    fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, format: F)
    where
        F: FnOnce(&mut TextWriter<'_, '_>, &T) -> fmt::Result;
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
}

impl<'s> EncodeRawArg<&'s str> for ArgRef<'_, &'s str> {
    #[inline]
    fn __encode_arg<F>(&self, enc: &mut Encoder<'_>, _format: F)
    where
        F: FnOnce(&mut TextWriter<'_, '_>, &&'s str) -> fmt::Result,
    {
        enc.str(self.0)
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
}
