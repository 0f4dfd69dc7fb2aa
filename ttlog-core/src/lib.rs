//! The runtime of [ttlog](https://docs.rs/ttlog): levels, callsites, filters, the per-thread
//! rings, the consumer thread and its sinks.
//!
//! Applications depend on the `ttlog` facade, which re-exports this crate together with the
//! logging macros. This crate is what sinks, adapters and tools build on.
//!
//! The event path, in order (see `docs/architecture.md`):
//!
//! 1. a macro call owns a `static` [`Callsite`] with its [`Metadata`] (`callsite.rs`);
//! 2. the enabled check: a constant, one relaxed load, the callsite's cached interest;
//! 3. the values are encoded into the calling thread's ring (`encode.rs`, `producer.rs`,
//!    `ring.rs`), published with one `Release` store;
//! 4. the consumer thread merges all rings by timestamp and decodes each record into an
//!    [`Event`] (`consumer.rs`);
//! 5. each [`Sink`] formats or stores it (`sink/`).
//!
//! ```
//! use ttlog_core::{CaptureSink, Filter, LogLevel};
//!
//! let filter: Filter = "warn,billing=debug".parse().unwrap();
//! assert!(filter.enabled(LogLevel::Debug, "billing::invoices"));
//!
//! let capture = CaptureSink::new();
//! let handle = ttlog_core::init().console(false).sink(capture.clone()).init();
//! // ... ttlog::info!(...) calls here ...
//! handle.flush();
//! assert_eq!(handle.stats().dropped, 0);
//! ```

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[macro_use]
mod diag;

mod builder;
mod callsite;
mod clock;
mod consumer;
mod context;
mod encode;
mod event;
mod filter;
mod fork;
mod guard;
mod handle;
mod level;
mod producer;
mod record;
mod recorder;
mod redact;
mod redactor;
mod ring;
mod runtime;
mod scope;
mod sink;
mod snapshot;
mod span;
mod stats;
mod sync;
mod thread;
mod trace;
mod trigger;
mod value;

pub use builder::{
    Builder, DEFAULT_CAPACITY, InitError, MAX_RECORDER_BYTES, MAX_RECORDER_EVENTS,
    MAX_THREAD_BUFFER, MIN_RECORDER_BYTES, MIN_THREAD_BUFFER, Overflow, init,
};
pub use callsite::{
    Callsite, FormatFn, Metadata, level_enabled, max_level, span_events_enabled, target_enabled,
    watch_interest, watch_max_level,
};
pub use context::{Instrument, Instrumented, with_context};
pub use diag::write_diagnostic;
pub use encode::{Encoder, FieldsWriter, REDACTED, TRUNCATION_MARKER};
pub use event::{Event, Message};
pub use filter::{Directive, Filter, ParseDirectiveError};
pub use handle::{FlushError, ReloadError, TtlogHandle, flush_running};
pub use level::{Level, LevelFilter, LogLevel, ParseLevelError, STATIC_MAX_LEVEL};
pub use redact::Redaction;
pub use redactor::Redactor;
pub use runtime::{DEFAULT_THREAD_BUFFER, DEFAULT_THREAD_BUFFER_MAX};
pub use sink::{
    CaptureSink, CapturedEvent, CapturedSpan, EventFormatter, Format, OwnedValue, ParseFormatError,
    Sink, WriterSink,
};
pub use snapshot::{
    DEFAULT_RETENTION, DEFAULT_SNAPSHOT_DIR, Problem, SNAPSHOT_EXTENSION, Salvaged, Snapshot,
    SnapshotError, recover,
};
pub use span::{Entered, EnteredSpan, Span, SpanRef, Timer, current_traceparent};
pub use stats::{SinkStats, Stats, ThreadStats};
pub use thread::{ThreadInfo, is_internal_thread, mark_internal_thread};
pub use trace::{SpanId, TraceId, TraceParent, TraceParentError};
pub use value::{
    FMT_ERROR_MARKER, FMT_PANIC_MARKER, Fields, FieldsIter, FieldsRef, Value, ValueRef,
};

/// Field value helpers, under the names `tracing::field` gives them, so that
/// `use tracing::field::{display, debug, Empty}` becomes `use ttlog::field::…`.
///
/// `display(v)` and `debug(v)` log a value (or a reference) through `Display` or `Debug`, as
/// `%v` and `?v` do in the macros; [`Empty`](field::Empty) declares a span field that is
/// recorded later.
///
/// ```
/// use ttlog_core::field::{debug, display};
///
/// let addr = std::net::Ipv4Addr::LOCALHOST;
/// let _shown = display(addr);
/// let _listed = debug(vec!["beta", "eu-west"]);
/// ```
pub mod field {
    pub use crate::value::{DebugValue, DisplayValue, Empty, debug, display};
}

/// Entry points for the fuzz targets in `fuzz/` (built with `--cfg fuzzing` by cargo-fuzz).
/// Not public API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzz {
    use crate::value::{ValueRef, decode_value};

    /// Decodes `bytes` as the values of a ring record, as the consumer does (tags, lengths,
    /// UTF-8, nested groups), and formats each one as the text sinks do.
    pub fn decode_values(bytes: &[u8]) {
        use std::fmt::Write as _;
        let mut rest = bytes;
        let mut text = String::new();
        while let Some((value, used)) = decode_value(rest) {
            assert!(used > 0 && used <= rest.len());
            text.clear();
            let _ = write!(text, "{value} {value:?}");
            if let ValueRef::Fields(group) = value {
                for (name, inner) in group.iter() {
                    let _ = write!(text, "{name}={inner}");
                }
            }
            rest = &rest[used..];
        }
    }

    /// Parses a persisted recorder file; one that parses is written out as a snapshot, which
    /// must then read back without error.
    pub fn parse_persisted(bytes: &[u8]) {
        if let Ok(recovered) = crate::recorder::parse_persisted(bytes) {
            let info = [("reason", "fuzz")];
            let out = crate::snapshot::write_copy(Vec::new(), &info, &recovered.copy)
                .expect("writing into a Vec");
            let snapshot = crate::Snapshot::read(&out).expect("a recovered recorder reads back");
            snapshot.for_each_event(|event| {
                let _ = event.message().to_string();
            });
        }
    }
}

/// What the `ttlog` macros expand to. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __macro_support {
    pub use crate::encode::{
        ArgRef, EncodeFormattedArg, EncodeRawArg, OpenFields, Plain, PlainOther, PlainProbe,
        PlainValue, TextWriter,
    };
    pub use crate::producer::{emit, emit_encoded, try_plain};
    pub use crate::span::{AsParent, emit_with_parent};
    pub use crate::value::ValueRef;

    use std::fmt;

    /// Writes message argument `index`: text the caller already formatted is copied, anything
    /// else is formatted here with the placeholder's spec (`format`).
    pub fn write_arg(
        out: &mut dyn fmt::Write,
        args: &[ValueRef<'_>],
        index: usize,
        format: fn(&mut dyn fmt::Write, &ValueRef<'_>) -> fmt::Result,
    ) -> fmt::Result {
        match args.get(index) {
            Some(ValueRef::Display(text)) => out.write_str(text),
            Some(value) => format(out, value),
            None => out.write_str("<?>"),
        }
    }

    /// `{:?}` of a raw message argument, as `{:?}` of the original value.
    pub fn debug_arg<'a, 'b>(value: &'b ValueRef<'a>) -> impl fmt::Debug + 'b {
        crate::value::DebugArg(value)
    }
}
