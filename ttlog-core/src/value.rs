//! Field and argument values: how the caller encodes them and how the consumer sees them.
//!
//! On the calling thread a value is written into the ring as a tag byte and raw bytes:
//! integers, floats, bools and chars as their bytes, strings as a length and the bytes, and
//! `%`/`?` values formatted in place through `fmt::Write` (no heap). On the consumer a value
//! is a [`ValueRef`] borrowing the ring's copy.

use std::fmt;

use crate::encode::{Encoder, FieldsWriter, Plain};

pub(crate) const TAG_U64: u8 = 1;
pub(crate) const TAG_I64: u8 = 2;
pub(crate) const TAG_F64: u8 = 3;
pub(crate) const TAG_BOOL: u8 = 4;
pub(crate) const TAG_CHAR: u8 = 5;
pub(crate) const TAG_STR: u8 = 6;
pub(crate) const TAG_DISPLAY: u8 = 7;
pub(crate) const TAG_DEBUG: u8 = 8;
pub(crate) const TAG_U128: u8 = 9;
pub(crate) const TAG_I128: u8 = 10;
pub(crate) const TAG_FMT_ERROR: u8 = 11;
pub(crate) const TAG_FMT_PANIC: u8 = 12;
pub(crate) const TAG_NONE: u8 = 13;
/// A group of named values: `[flags u8][count u16][body length u32]`, then per value the
/// name (`u16` length and UTF-8) and the value. Flag 1: flatten into the enclosing fields.
pub(crate) const TAG_FIELDS: u8 = 14;
/// The group's values stand for the field that holds them (`info!(attempt)`).
pub(crate) const FIELDS_FLAT: u8 = 1;

/// A value as the consumer and the sinks see it, borrowed from the ring.
///
/// ```
/// use ttlog_core::ValueRef;
/// assert_eq!(ValueRef::U64(42).to_string(), "42");
/// assert_eq!(ValueRef::Str("ok").to_string(), "ok");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ValueRef<'a> {
    /// An unsigned integer up to 64 bits.
    U64(u64),
    /// A signed integer up to 64 bits.
    I64(i64),
    /// A 128-bit unsigned integer.
    U128(u128),
    /// A 128-bit signed integer.
    I128(i128),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A character.
    Char(char),
    /// A string value.
    Str(&'a str),
    /// A value logged with `%` (its `Display` output).
    Display(&'a str),
    /// A value logged with `?` (its `Debug` output).
    Debug(&'a str),
    /// `None`, from an `Option` value.
    None,
    /// The value's `Display` or `Debug` impl returned an error.
    FmtError,
    /// The value's `Display` or `Debug` impl panicked.
    FmtPanic,
    /// Named values: a struct with `#[derive(Fields)]`, or a span's or context's fields.
    Fields(FieldsRef<'a>),
}

/// A group of named values, borrowed from a record (see [`ValueRef::Fields`]): a struct
/// with `#[derive(Fields)]` logged under a name (`info!(login = attempt)`), whose values a
/// sink writes as one nested object.
#[derive(Clone, Copy, PartialEq)]
pub struct FieldsRef<'a> {
    body: &'a [u8],
    count: u16,
    flat: bool,
}

impl<'a> FieldsRef<'a> {
    pub(crate) fn new(body: &'a [u8], count: u16, flat: bool) -> FieldsRef<'a> {
        FieldsRef { body, count, flat }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the values stand for the field that holds them (they are listed in its place).
    pub fn is_flat(&self) -> bool {
        self.flat
    }

    /// The values with their names, in order. Stops early at malformed bytes (which only a
    /// damaged snapshot can hold).
    pub fn iter(&self) -> FieldsIter<'a> {
        FieldsIter {
            rest: self.body,
            left: self.count,
            then: None,
        }
    }

    /// The encoded pairs, as stored.
    pub(crate) fn body(&self) -> &'a [u8] {
        self.body
    }
}

impl fmt::Debug for FieldsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Iterator over the values of a [`FieldsRef`].
#[derive(Debug, Clone)]
pub struct FieldsIter<'a> {
    rest: &'a [u8],
    left: u16,
    /// A second group, iterated after this one (an event's static fields, then its context).
    then: Option<FieldsRef<'a>>,
}

impl<'a> FieldsIter<'a> {
    /// The pairs of this group, then those of `next`.
    pub(crate) fn chain(mut self, next: FieldsRef<'a>) -> FieldsIter<'a> {
        self.then = Some(next);
        self
    }

    /// The next pair and its encoded bytes.
    pub(crate) fn next_raw(&mut self) -> Option<(&'a str, ValueRef<'a>, &'a [u8])> {
        if self.left == 0 {
            let next = self.then.take()?;
            self.rest = next.body;
            self.left = next.count;
            return self.next_raw();
        }
        let parsed = (|| {
            let len = u16::from_le_bytes(self.rest.get(..2)?.try_into().ok()?) as usize;
            let name = utf8(self.rest.get(2..2 + len)?)?;
            let (value, used) = decode_value(&self.rest[2 + len..])?;
            Some((name, value, 2 + len + used))
        })();
        match parsed {
            Some((name, value, used)) => {
                let raw = &self.rest[..used];
                self.rest = &self.rest[used..];
                self.left -= 1;
                Some((name, value, raw))
            }
            None => {
                self.left = 0;
                None
            }
        }
    }
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = (&'a str, ValueRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.next_raw().map(|(name, value, _)| (name, value))
    }
}

/// What a sink writes for a value whose formatting returned an error.
pub const FMT_ERROR_MARKER: &str = "<fmt error>";
/// What a sink writes for a value whose formatting panicked.
pub const FMT_PANIC_MARKER: &str = "<panicked while formatting>";

impl ValueRef<'_> {
    /// The text of string-like values (`Str`, `Display`, `Debug` and the error markers).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ValueRef::Str(s) | ValueRef::Display(s) | ValueRef::Debug(s) => Some(s),
            ValueRef::FmtError => Some(FMT_ERROR_MARKER),
            ValueRef::FmtPanic => Some(FMT_PANIC_MARKER),
            _ => None,
        }
    }
}

macro_rules! delegate_fmt {
    ($($trait:ident),*) => {$(
        impl fmt::$trait for ValueRef<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    ValueRef::U64(v) => fmt::$trait::fmt(v, f),
                    ValueRef::I64(v) => fmt::$trait::fmt(v, f),
                    ValueRef::U128(v) => fmt::$trait::fmt(v, f),
                    ValueRef::I128(v) => fmt::$trait::fmt(v, f),
                    other => fmt::Display::fmt(other, f),
                }
            }
        }
    )*};
}
delegate_fmt!(LowerHex, UpperHex, Octal, Binary);

macro_rules! delegate_float_fmt {
    ($($trait:ident),*) => {$(
        impl fmt::$trait for ValueRef<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    ValueRef::U64(v) => fmt::$trait::fmt(v, f),
                    ValueRef::I64(v) => fmt::$trait::fmt(v, f),
                    ValueRef::U128(v) => fmt::$trait::fmt(v, f),
                    ValueRef::I128(v) => fmt::$trait::fmt(v, f),
                    ValueRef::F64(v) => fmt::$trait::fmt(v, f),
                    other => fmt::Display::fmt(other, f),
                }
            }
        }
    )*};
}
delegate_float_fmt!(LowerExp, UpperExp);

impl fmt::Display for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueRef::U64(v) => fmt::Display::fmt(v, f),
            ValueRef::I64(v) => fmt::Display::fmt(v, f),
            ValueRef::U128(v) => fmt::Display::fmt(v, f),
            ValueRef::I128(v) => fmt::Display::fmt(v, f),
            ValueRef::F64(v) => fmt::Display::fmt(v, f),
            ValueRef::Bool(v) => fmt::Display::fmt(v, f),
            ValueRef::Char(v) => fmt::Display::fmt(v, f),
            ValueRef::Str(s) | ValueRef::Display(s) | ValueRef::Debug(s) => f.pad(s),
            ValueRef::None => f.pad("None"),
            ValueRef::FmtError => f.pad(FMT_ERROR_MARKER),
            ValueRef::FmtPanic => f.pad(FMT_PANIC_MARKER),
            ValueRef::Fields(group) => {
                f.write_str("{")?;
                for (i, (name, value)) in group.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}={value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// `{:?}` of a message argument behaves as `{:?}` of the original value: strings and chars are
/// quoted, numbers are not. (Values formatted on the caller's side never reach this.)
pub(crate) struct DebugArg<'a, 'b>(pub(crate) &'b ValueRef<'a>);

impl fmt::Debug for DebugArg<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ValueRef::U64(v) => fmt::Debug::fmt(v, f),
            ValueRef::I64(v) => fmt::Debug::fmt(v, f),
            ValueRef::U128(v) => fmt::Debug::fmt(v, f),
            ValueRef::I128(v) => fmt::Debug::fmt(v, f),
            ValueRef::F64(v) => fmt::Debug::fmt(v, f),
            ValueRef::Bool(v) => fmt::Debug::fmt(v, f),
            ValueRef::Char(v) => fmt::Debug::fmt(v, f),
            ValueRef::Str(s) => fmt::Debug::fmt(s, f),
            other => fmt::Display::fmt(other, f),
        }
    }
}

/// Text read back from a record, checked: a record is untrusted input (a snapshot file, or a
/// ring a bug could have damaged). Short ASCII text, most field names and values, is checked
/// with `is_ascii` (a few instructions); the rest by `from_utf8`, whose set-up costs about a
/// hundred instructions per call.
#[inline]
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.len() <= 64 && bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

/// Decodes one value; returns it and the bytes it used.
#[inline]
pub(crate) fn decode_value(bytes: &[u8]) -> Option<(ValueRef<'_>, usize)> {
    let (&tag, rest) = bytes.split_first()?;
    fn fixed<const N: usize>(rest: &[u8]) -> Option<[u8; N]> {
        rest.get(..N)?.try_into().ok()
    }
    let decoded = match tag {
        TAG_U64 => (ValueRef::U64(u64::from_le_bytes(fixed(rest)?)), 9),
        TAG_I64 => (ValueRef::I64(i64::from_le_bytes(fixed(rest)?)), 9),
        TAG_F64 => (ValueRef::F64(f64::from_le_bytes(fixed(rest)?)), 9),
        TAG_U128 => (ValueRef::U128(u128::from_le_bytes(fixed(rest)?)), 17),
        TAG_I128 => (ValueRef::I128(i128::from_le_bytes(fixed(rest)?)), 17),
        TAG_BOOL => (ValueRef::Bool(*rest.first()? != 0), 2),
        TAG_CHAR => (
            ValueRef::Char(char::from_u32(u32::from_le_bytes(fixed(rest)?))?),
            5,
        ),
        TAG_STR | TAG_DISPLAY | TAG_DEBUG => {
            let len = u32::from_le_bytes(fixed(rest)?) as usize;
            let text = utf8(rest.get(4..4 + len)?)?;
            let value = match tag {
                TAG_STR => ValueRef::Str(text),
                TAG_DISPLAY => ValueRef::Display(text),
                _ => ValueRef::Debug(text),
            };
            (value, 5 + len)
        }
        TAG_FMT_ERROR => (ValueRef::FmtError, 1),
        TAG_FMT_PANIC => (ValueRef::FmtPanic, 1),
        TAG_NONE => (ValueRef::None, 1),
        TAG_FIELDS => {
            let flags = *rest.first()?;
            let count = u16::from_le_bytes(rest.get(1..3)?.try_into().ok()?);
            let len = u32::from_le_bytes(rest.get(3..7)?.try_into().ok()?) as usize;
            let body = rest.get(7..7 + len)?;
            let group = FieldsRef::new(body, count, flags & FIELDS_FLAT != 0);
            (ValueRef::Fields(group), 8 + len)
        }
        _ => return None,
    };
    Some(decoded)
}

/// A type that can be logged as a field value without `%` or `?`.
///
/// Implemented for integers, floats, `bool`, `char`, `str`, `String`, references, `Option`s
/// of those, and for [`DisplayValue`]/[`DebugValue`] (what `%x` and `?x` produce). Values are
/// always taken by reference: logging never moves or clones them.
///
/// ```
/// use ttlog_core::{Encoder, Value};
///
/// /// An HTTP status logged as its number.
/// struct Status(u16);
///
/// impl Value for Status {
///     fn encode(&self, enc: &mut Encoder<'_>) {
///         enc.u64(u64::from(self.0));
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be logged as a field value",
    label = "not a ttlog field value",
    note = "log it with `%value` (Display) or `?value` (Debug), or implement `ttlog::Value`"
)]
pub trait Value {
    /// Writes the value into the event being recorded.
    fn encode(&self, enc: &mut Encoder<'_>);

    /// Writes the value for a field given by its variable alone (`info!(attempt)`). A
    /// `#[derive(Fields)]` struct writes its values so that they replace the field; every
    /// other type writes itself as [`encode`](Value::encode) does.
    #[doc(hidden)]
    #[inline]
    fn __encode_shorthand(&self, enc: &mut Encoder<'_>) {
        self.encode(enc)
    }

    /// Writes the value as the field `name` of `out` ([`FieldsWriter::field`], the path of
    /// the facade adapters and `#[derive(Fields)]`). Integers, floats, booleans and strings
    /// write the name and the value under one bounds check; every other type writes itself
    /// with [`encode`](Value::encode).
    ///
    /// [`FieldsWriter::field`]: crate::FieldsWriter::field
    #[doc(hidden)]
    #[inline]
    fn __encode_field(&self, out: &mut FieldsWriter<'_, '_>, name: &str) {
        out.field_with(name, |enc| self.encode(enc))
    }

    /// The value as the macros' plain path writes it (integers, floats, booleans, strings,
    /// `None`), or `Other` to be written with [`encode`](Value::encode). Only the plain types
    /// answer anything but `Other`, and they encode exactly as `encode` does.
    #[doc(hidden)]
    #[inline]
    fn __plain(&self) -> Plain<'_> {
        Plain::Other
    }
}

/// A struct whose fields become event fields: what `#[derive(Fields)]` implements.
///
/// `info!(attempt, "Login attempt completed")` logs every field of `attempt` as a field of
/// the event; `info!(login = attempt, ..)` logs them as one nested object.
///
/// ```
/// use ttlog_core::{Encoder, Fields, FieldsWriter, Value};
///
/// // What the derive generates, written by hand.
/// struct Job { id: u64, queue: &'static str }
///
/// impl Fields for Job {
///     fn write_fields(&self, out: &mut FieldsWriter<'_, '_>) {
///         out.field("id", &self.id);
///         out.field("queue", &self.queue);
///     }
/// }
///
/// impl Value for Job {
///     fn encode(&self, enc: &mut Encoder<'_>) {
///         enc.fields(false, |out| self.write_fields(out));
///     }
///     fn __encode_shorthand(&self, enc: &mut Encoder<'_>) {
///         enc.fields(true, |out| self.write_fields(out));
///     }
/// }
/// ```
pub trait Fields {
    /// Writes each field with its name.
    fn write_fields(&self, out: &mut FieldsWriter<'_, '_>);
}

macro_rules! value_via {
    ($method:ident as $as:ty, $tag:ident: $($t:ty),*) => {$(
        impl Value for $t {
            #[inline]
            fn encode(&self, enc: &mut Encoder<'_>) {
                enc.$method(*self as $as)
            }

            #[inline]
            fn __encode_field(&self, out: &mut FieldsWriter<'_, '_>, name: &str) {
                out.fixed_field(name, $tag, (*self as $as).to_le_bytes())
            }

            #[inline]
            fn __plain(&self) -> Plain<'_> {
                plain_word($tag, (*self as $as).to_le_bytes())
            }
        }
    )*};
}
value_via!(u64 as u64, TAG_U64: u8, u16, u32, u64, usize);
value_via!(i64 as i64, TAG_I64: i8, i16, i32, i64, isize);
value_via!(f64 as f64, TAG_F64: f32, f64);
value_via!(u128 as u128, TAG_U128: u128);
value_via!(i128 as i128, TAG_I128: i128);

/// An 8-byte value as a plain word; anything wider is `Other` (written by the encoder).
#[inline(always)]
fn plain_word<const N: usize>(tag: u8, bytes: [u8; N]) -> Plain<'static> {
    match <[u8; 8]>::try_from(&bytes[..]) {
        Ok(word) => Plain::Word(tag, u64::from_le_bytes(word)),
        Err(_) => Plain::Other,
    }
}

impl Value for bool {
    #[inline]
    fn encode(&self, enc: &mut Encoder<'_>) {
        enc.bool(*self)
    }

    #[inline]
    fn __encode_field(&self, out: &mut FieldsWriter<'_, '_>, name: &str) {
        out.fixed_field(name, TAG_BOOL, [*self as u8])
    }

    #[inline]
    fn __plain(&self) -> Plain<'_> {
        Plain::Bool(*self)
    }
}

impl Value for char {
    #[inline]
    fn encode(&self, enc: &mut Encoder<'_>) {
        enc.char(*self)
    }
}

/// Strings: copied into the ring as they are.
macro_rules! value_as_str {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline]
            fn encode(&self, enc: &mut Encoder<'_>) {
                enc.str(self)
            }

            #[inline]
            fn __encode_field(&self, out: &mut FieldsWriter<'_, '_>, name: &str) {
                out.str_field(name, self)
            }

            #[inline]
            fn __plain(&self) -> Plain<'_> {
                Plain::Str(self)
            }
        }
    )*};
}
value_as_str!(str, String, std::borrow::Cow<'_, str>);

/// References and smart pointers: logged as what they point to.
macro_rules! value_through_pointer {
    ($($t:ty),*) => {$(
        impl<T: Value + ?Sized> Value for $t {
            #[inline]
            fn encode(&self, enc: &mut Encoder<'_>) {
                (**self).encode(enc)
            }

            #[inline]
            fn __encode_shorthand(&self, enc: &mut Encoder<'_>) {
                (**self).__encode_shorthand(enc)
            }

            #[inline]
            fn __encode_field(&self, out: &mut FieldsWriter<'_, '_>, name: &str) {
                (**self).__encode_field(out, name)
            }

            #[inline]
            fn __plain(&self) -> Plain<'_> {
                (**self).__plain()
            }
        }
    )*};
}
value_through_pointer!(&T, &mut T, Box<T>, std::sync::Arc<T>);

impl<T: Value> Value for Option<T> {
    #[inline]
    fn encode(&self, enc: &mut Encoder<'_>) {
        match self {
            Some(v) => v.encode(enc),
            None => enc.none(),
        }
    }

    #[inline]
    fn __plain(&self) -> Plain<'_> {
        match self {
            Some(v) => v.__plain(),
            None => Plain::None,
        }
    }
}

/// A value logged through its `Display` impl: what `field = %value` and
/// `field = display(value)` produce.
///
/// ```
/// let addr: std::net::Ipv4Addr = "10.0.0.7".parse().unwrap();
/// let _by_ref = ttlog_core::field::display(&addr);
/// let _by_value = ttlog_core::field::display(addr);
/// ```
#[derive(Clone, Copy)]
pub struct DisplayValue<T>(pub T);

/// A value logged through its `Debug` impl: what `field = ?value` and `field = debug(value)`
/// produce.
///
/// ```
/// let tags = vec!["beta", "eu-west"];
/// let _shown = ttlog_core::field::debug(&tags);
/// ```
#[derive(Clone, Copy)]
pub struct DebugValue<T>(pub T);

/// Wraps a value (or a reference) so that it is logged with `Display`, as
/// `tracing::field::display` does.
pub fn display<T: fmt::Display>(value: T) -> DisplayValue<T> {
    DisplayValue(value)
}

/// Wraps a value (or a reference) so that it is logged with `Debug`, as
/// `tracing::field::debug` does.
pub fn debug<T: fmt::Debug>(value: T) -> DebugValue<T> {
    DebugValue(value)
}

impl<T: fmt::Display> Value for DisplayValue<T> {
    #[inline]
    fn encode(&self, enc: &mut Encoder<'_>) {
        enc.display(&self.0)
    }
}

impl<T: fmt::Debug> Value for DebugValue<T> {
    #[inline]
    fn encode(&self, enc: &mut Encoder<'_>) {
        enc.debug(&self.0)
    }
}

impl<T: fmt::Display> fmt::Debug for DisplayValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for DebugValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A field declared without a value yet, as `tracing::field::Empty`: a span declares it at
/// creation and fills it in later with [`Span::record`](crate::Span::record). Until then the
/// field is absent from the output (in an event, it is always absent).
///
/// ```
/// let _h = ttlog_core::init().console(false).init();
/// let span = ttlog_core::Span::none(); // what `info_span!("login", user = Empty)` returns
/// span.record("user", "ana");          // when disabled
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Empty;

impl Value for Empty {
    #[inline]
    fn encode(&self, enc: &mut Encoder<'_>) {
        enc.fields(true, |_| {});
    }
}

/// An error and its chain of sources, written `outer: cause: root cause`.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)?;
        let mut source = self.0.source();
        // A cyclic chain (a buggy `source`) must not loop forever.
        let mut depth = 0;
        while let Some(cause) = source {
            depth += 1;
            if depth > 32 {
                return f.write_str(": …");
            }
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

macro_rules! value_for_dyn_error {
    ($($bounds:tt)*) => {
        /// An error is logged as its message followed by its sources, `outer: cause: root
        /// cause` (`&err as &dyn Error`, as with `tracing`).
        impl Value for dyn std::error::Error $($bounds)* {
            fn encode(&self, enc: &mut Encoder<'_>) {
                enc.display(&ErrorChain(self));
            }
        }
    };
}
value_for_dyn_error!(+ 'static);
value_for_dyn_error!(+ Send + 'static);
value_for_dyn_error!(+ Send + Sync + 'static);
