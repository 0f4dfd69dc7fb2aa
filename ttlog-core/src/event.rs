//! The event as sinks see it: a borrowed view of one decoded record.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::callsite::Metadata;
use crate::level::LogLevel;
use crate::span::SpanRef;
use crate::thread::ThreadInfo;
use crate::trace::{SpanId, TraceId};
use crate::value::{FieldsIter, FieldsRef, ValueRef};

/// The callsite of the `N events dropped` marker.
pub(crate) static GAP_METADATA: Metadata<'static> = Metadata::new(
    LogLevel::Warn,
    "ttlog",
    "ttlog",
    file!(),
    line!(),
    "{} events dropped",
    1,
    &["dropped"],
    Some(|out, args| {
        match args.first() {
            Some(n) => write!(out, "{n}")?,
            None => out.write_str("?")?,
        }
        out.write_str(" events dropped")
    }),
);

/// The message of a panic event: its first value.
fn write_panic_message(out: &mut dyn fmt::Write, args: &[ValueRef<'_>]) -> fmt::Result {
    match args.first() {
        Some(ValueRef::Str(message)) => out.write_str(message),
        _ => out.write_str("panic"),
    }
}

/// The callsite of the event the panic hook logs: level error, target `panic`, the panic
/// message as message, fields `location` and `panic` (always `true`).
pub(crate) static PANIC_METADATA: Metadata<'static> = Metadata::new(
    LogLevel::Error,
    "panic",
    "ttlog::panic",
    file!(),
    line!(),
    "{}",
    1,
    &["location", "panic"],
    Some(write_panic_message),
);
/// One event, decoded on the consumer thread and lent to each sink in turn.
///
/// Nothing in it is allocated per event: the values borrow the consumer's copy of the record,
/// the metadata is the callsite's `static`, and the message is formatted only when a sink asks
/// for it ([`Event::message`]).
#[derive(Clone, Copy)]
pub struct Event<'a> {
    meta: &'a Metadata<'a>,
    timestamp_ns: u64,
    thread: &'a ThreadInfo,
    values: &'a [ValueRef<'a>],
    truncated: bool,
    scope: EventScope<'a>,
    /// The message as redaction rewrote it, in place of the callsite's formatting.
    message: Option<&'a str>,
}

/// The spans and context an event was logged in.
#[derive(Clone, Copy, Default)]
pub(crate) struct EventScope<'a> {
    /// Root first.
    pub(crate) spans: &'a [SpanRef<'a>],
    pub(crate) trace_id: Option<TraceId>,
    pub(crate) context: Option<FieldsRef<'a>>,
    /// The logger's static fields (`Builder::static_field`), listed before the context.
    pub(crate) statics: Option<FieldsRef<'a>>,
}

impl<'a> Event<'a> {
    pub(crate) fn new(
        meta: &'a Metadata<'a>,
        timestamp_ns: u64,
        thread: &'a ThreadInfo,
        values: &'a [ValueRef<'a>],
        truncated: bool,
    ) -> Event<'a> {
        Event {
            meta,
            timestamp_ns,
            thread,
            values,
            truncated,
            scope: EventScope::default(),
            message: None,
        }
    }

    /// An event made by a sink itself (a summary of what it suppressed, a marker), to hand to
    /// another sink or an [`EventFormatter`](crate::EventFormatter). `values` are the message
    /// arguments (`meta.arg_count()` of them) then one per field name of `meta`, as a
    /// callsite records them. It carries no span or context.
    ///
    /// ```
    /// use std::fmt::Write as _;
    /// use ttlog_core::{Event, EventFormatter, Format, LogLevel, Metadata, ValueRef};
    ///
    /// static SUMMARY: Metadata<'static> = Metadata::new(
    ///     LogLevel::Warn, "ttlog", "ttlog", file!(), line!(),
    ///     "{} events suppressed", 1, &["suppressed"],
    ///     Some(|out, args| write!(out, "{} events suppressed", args[0])),
    /// );
    ///
    /// fn summarize(seen: &Event<'_>, count: u64, out: &mut Vec<u8>) {
    ///     let values = [ValueRef::U64(count), ValueRef::U64(count)];
    ///     let summary = Event::synthetic(&SUMMARY, seen.timestamp_nanos(), seen.thread(), &values);
    ///     EventFormatter::new(Format::Json, false).write(&summary, out);
    /// }
    /// # let _ = summarize;
    /// ```
    pub fn synthetic(
        meta: &'a Metadata<'a>,
        timestamp_ns: u64,
        thread: &'a ThreadInfo,
        values: &'a [ValueRef<'a>],
    ) -> Event<'a> {
        Event::new(meta, timestamp_ns, thread, values, false)
    }

    pub(crate) fn with_scope(mut self, scope: EventScope<'a>) -> Event<'a> {
        self.scope = scope;
        self
    }

    /// The callsite's static description.
    pub fn metadata(&self) -> &'a Metadata<'a> {
        self.meta
    }

    /// The level.
    pub fn level(&self) -> LogLevel {
        self.meta.level()
    }

    /// The target.
    pub fn target(&self) -> &'a str {
        self.meta.target()
    }

    /// When the event was recorded.
    pub fn timestamp(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.timestamp_ns)
    }

    /// When the event was recorded, in nanoseconds since the Unix epoch.
    pub fn timestamp_nanos(&self) -> u64 {
        self.timestamp_ns
    }

    /// The thread that logged it.
    pub fn thread(&self) -> &'a ThreadInfo {
        self.thread
    }

    /// The message, formatted when displayed.
    pub fn message(&self) -> Message<'_> {
        Message(self)
    }

    /// Writes the message into `out`.
    pub fn write_message(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self.plain_message() {
            Some(message) => out.write_str(message),
            None => self.meta.write_message(out, self.args()),
        }
    }

    /// The message as it stands, when no formatting is needed: replaced by redaction, or the
    /// template `"{}"` with one text argument (the facade adapters' messages, which tracing
    /// hands over as `fmt::Arguments` and the layer keeps as `Debug` text; `info!("{}",
    /// text)`), whose message is that text: `ValueRef`'s `Display`, which the template
    /// applies, writes it as it is.
    pub(crate) fn plain_message(&self) -> Option<&'a str> {
        if let Some(message) = self.message {
            return Some(message);
        }
        match self.args() {
            [ValueRef::Str(text) | ValueRef::Display(text) | ValueRef::Debug(text)]
                if self.meta.template() == "{}" =>
            {
                Some(text)
            }
            _ => None,
        }
    }

    /// The message text when redaction replaced it (formatters with a per-callsite copy of
    /// a constant message must not use that copy then).
    pub(crate) fn replaced_message(&self) -> Option<&'a str> {
        self.message
    }

    /// The event with other values (as many, in the same order): redaction.
    pub(crate) fn with_values(&self, values: &'a [ValueRef<'a>]) -> Event<'a> {
        Event { values, ..*self }
    }

    /// The event with other spans: redaction.
    pub(crate) fn with_spans(&self, spans: &'a [SpanRef<'a>]) -> Event<'a> {
        let mut event = *self;
        event.scope.spans = spans;
        event
    }

    /// The event with other context fields: redaction.
    pub(crate) fn with_context(&self, context: FieldsRef<'a>) -> Event<'a> {
        let mut event = *self;
        event.scope.context = Some(context);
        event
    }

    /// The event with its message replaced: redaction.
    pub(crate) fn with_message(&self, message: &'a str) -> Event<'a> {
        Event {
            message: Some(message),
            ..*self
        }
    }

    /// The message arguments, in placeholder order.
    pub fn args(&self) -> &'a [ValueRef<'a>] {
        &self.values[..self.meta.arg_count().min(self.values.len())]
    }

    /// The fields, in the order they were written at the call. A struct logged by its
    /// variable alone (`info!(attempt)`, see [`Fields`](crate::Fields)) contributes each of
    /// its fields here, in its place.
    pub fn fields(&self) -> EventFields<'a> {
        EventFields {
            fields: self.call_fields(),
            group: None,
        }
    }

    /// The values of the fields as given at the call, in the order of the metadata's field
    /// names (groups not spread).
    pub(crate) fn field_values(&self) -> &'a [ValueRef<'a>] {
        &self.values[self.meta.arg_count().min(self.values.len())..]
    }

    /// The fields as given at the call: one per name in the metadata, groups not spread.
    pub(crate) fn call_fields(
        &self,
    ) -> std::iter::Zip<
        std::iter::Copied<std::slice::Iter<'a, &'a str>>,
        std::iter::Copied<std::slice::Iter<'a, ValueRef<'a>>>,
    > {
        let skip = self.meta.arg_count().min(self.values.len());
        self.meta
            .field_names()
            .iter()
            .copied()
            .zip(self.values[skip..].iter().copied())
    }

    /// The value of the field `name`, if the event has it.
    pub fn field(&self, name: &str) -> Option<ValueRef<'a>> {
        self.fields().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The innermost span the event was logged in.
    pub fn span(&self) -> Option<&SpanRef<'a>> {
        self.scope.spans.last()
    }

    /// Every span the event was logged in, root first.
    pub fn spans(&self) -> &'a [SpanRef<'a>] {
        self.scope.spans
    }

    /// The id of the event's trace (that of its spans).
    pub fn trace_id(&self) -> Option<TraceId> {
        self.scope.trace_id
    }

    /// The id of the innermost span.
    pub fn span_id(&self) -> Option<SpanId> {
        self.span().map(|s| s.id())
    }

    /// The context fields in force where the event was logged (see
    /// [`with_context`](crate::with_context)), outermost first; the logger's static fields
    /// ([`Builder::static_field`](crate::Builder::static_field)) come first of all.
    pub fn context(&self) -> FieldsIter<'a> {
        let context = self
            .scope
            .context
            .unwrap_or_else(|| FieldsRef::new(&[], 0, false));
        match self.scope.statics {
            Some(statics) => statics.iter().chain(context),
            None => context.iter(),
        }
    }

    /// Whether the event carries context fields.
    pub fn has_context(&self) -> bool {
        self.scope.context.is_some_and(|c| !c.is_empty())
            || self.scope.statics.is_some_and(|c| !c.is_empty())
    }

    /// Whether the event was logged in a span or with context fields (static ones included).
    pub(crate) fn has_scope(&self) -> bool {
        !self.scope.spans.is_empty() || self.has_context()
    }

    /// The event with the logger's static fields (listed first in its context).
    pub(crate) fn with_statics<'s: 'a>(&self, statics: FieldsRef<'s>) -> Event<'a> {
        let mut event = *self;
        event.scope.statics = Some(statics);
        event
    }

    pub(crate) fn scope(&self) -> &EventScope<'a> {
        &self.scope
    }

    /// Whether some values were cut or left out because the record did not fit the ring.
    pub fn is_truncated(&self) -> bool {
        self.truncated || self.values.len() < self.meta.arg_count() + self.meta.field_names().len()
    }
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("level", &self.level())
            .field("target", &self.target())
            .field("message", &self.message().to_string())
            .field("fields", &self.fields())
            .field("spans", &self.spans())
            .field("context", &self.context())
            .field("thread", &self.thread.name())
            .finish()
    }
}

/// The fields of an event; see [`Event::fields`].
#[derive(Clone)]
pub struct EventFields<'a> {
    fields: std::iter::Zip<
        std::iter::Copied<std::slice::Iter<'a, &'a str>>,
        std::iter::Copied<std::slice::Iter<'a, ValueRef<'a>>>,
    >,
    group: Option<FieldsIter<'a>>,
}

impl fmt::Debug for EventFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.clone()).finish()
    }
}

impl<'a> Iterator for EventFields<'a> {
    type Item = (&'a str, ValueRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(group) = &mut self.group {
                match group.next() {
                    Some(pair) => return Some(pair),
                    None => self.group = None,
                }
            }
            match self.fields.next()? {
                (_, ValueRef::Fields(group)) if group.is_flat() => self.group = Some(group.iter()),
                (name, value) => return Some((name, value)),
            }
        }
    }
}

/// An event's message, formatted on demand (see [`Event::message`]).
#[derive(Debug)]
pub struct Message<'e>(&'e Event<'e>);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_message(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message of a `"{}"` template with one argument, as the macros and the facade
    /// adapters format it: the argument's `Display`.
    static ONE_ARGUMENT: Metadata<'static> = Metadata::new(
        LogLevel::Info,
        "checkout",
        "checkout",
        file!(),
        line!(),
        "{}",
        1,
        &["order_id"],
        Some(|out, args| match args.first() {
            Some(value) => write!(out, "{value}"),
            None => Ok(()),
        }),
    );

    /// Where it takes a shortcut, `plain_message` gives exactly what the callsite's
    /// formatting writes; every other argument (and every other template) is formatted.
    #[test]
    fn plain_messages_are_the_formatted_message() {
        let thread = ThreadInfo {
            id: 1,
            name: "main".into(),
        };
        let texts = [
            "",
            "payment captured",
            "quote \" backslash \\ newline \n tab \t é ✓",
        ];
        for text in texts {
            for arg in [
                ValueRef::Str(text),
                ValueRef::Display(text),
                ValueRef::Debug(text),
            ] {
                let values = [arg, ValueRef::U64(7)];
                let event = Event::new(&ONE_ARGUMENT, 0, &thread, &values, false);
                // What the callsite's own formatting writes (`write_message` now takes the
                // shortcut itself).
                let mut formatted = String::new();
                ONE_ARGUMENT
                    .write_message(&mut formatted, event.args())
                    .unwrap();
                assert_eq!(formatted, text);
                assert_eq!(event.plain_message(), Some(text));
                assert_eq!(event.message().to_string(), text);
            }
        }
        for arg in [ValueRef::U64(42), ValueRef::F64(3.25), ValueRef::FmtError] {
            let values = [arg, ValueRef::U64(7)];
            let event = Event::new(&ONE_ARGUMENT, 0, &thread, &values, false);
            assert_eq!(event.plain_message(), None);
        }
        let values = [ValueRef::Str("x"), ValueRef::U64(7)];
        let event = Event::new(&GAP_METADATA, 0, &thread, &values, false);
        assert_eq!(
            event.plain_message(),
            None,
            "template {:?}",
            GAP_METADATA.template()
        );
        assert_eq!(
            event.with_message("[redacted]").plain_message(),
            Some("[redacted]")
        );
    }
}
