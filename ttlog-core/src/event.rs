//! The event as sinks see it: a borrowed view of one decoded record.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::callsite::Metadata;
use crate::level::LogLevel;
use crate::runtime::ThreadInfo;
use crate::value::ValueRef;

/// One event, decoded on the consumer thread and lent to each sink in turn.
///
/// Nothing in it is allocated per event: the values borrow the consumer's copy of the record,
/// the metadata is the callsite's `static`, and the message is formatted only when a sink asks
/// for it ([`Event::message`]).
#[derive(Clone, Copy)]
pub struct Event<'a> {
    meta: &'static Metadata,
    timestamp_ns: u64,
    thread: &'a ThreadInfo,
    values: &'a [ValueRef<'a>],
    truncated: bool,
}

impl<'a> Event<'a> {
    pub(crate) fn new(
        meta: &'static Metadata,
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
        }
    }

    /// The callsite's static description.
    pub fn metadata(&self) -> &'static Metadata {
        self.meta
    }

    /// The level.
    pub fn level(&self) -> LogLevel {
        self.meta.level()
    }

    /// The target.
    pub fn target(&self) -> &'static str {
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
        self.meta.write_message(out, self.args())
    }

    /// The message arguments, in placeholder order.
    pub fn args(&self) -> &'a [ValueRef<'a>] {
        &self.values[..self.meta.arg_count().min(self.values.len())]
    }

    /// The fields, in the order they were written at the call.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&'static str, ValueRef<'a>)> + 'a {
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

    /// Whether some values were cut or left out because the record did not fit the ring.
    pub fn is_truncated(&self) -> bool {
        self.truncated || self.values.len() < self.meta.arg_count() + self.meta.field_names().len()
    }
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fields = f.debug_map();
        for (name, value) in self.fields() {
            fields.entry(&name, &value);
        }
        fields.finish()?;
        f.debug_struct("Event")
            .field("level", &self.level())
            .field("target", &self.target())
            .field("message", &self.message().to_string())
            .field("thread", &self.thread.name())
            .finish()
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
