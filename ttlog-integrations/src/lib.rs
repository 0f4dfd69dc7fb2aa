//! Adapters that feed programs written against `tracing`, `log` or `slog` into ttlog's
//! pipeline: their events reach the same sinks, JSON schema and flight recorder as ttlog's own
//! macros, so a team adopts ttlog in three steps (see `docs/migration.md`):
//!
//! 1. install ttlog as the backend of the facade already in use (this crate);
//! 2. replace that facade's macros with ttlog's, call site by call site;
//! 3. drop the old facade.
//!
//! One cargo feature per facade, none by default:
//!
//! | feature   | module           | what                                                        |
//! |-----------|------------------|-------------------------------------------------------------|
//! | `tracing` | `tracing_compat` | `TtlogTracingLayer`, `TtlogFilter`, `enable_tracing_compatibility()` |
//! | `log`     | `log_compat`     | `TtlogLogAdapter`, `init_with_log_compatibility()`, `install()` |
//! | `slog`    | `slog_compat`    | `TtlogDrain`                                                |
//!
//! Each adapter keeps the facade's level, target, module, file and line, and its typed
//! values (integers stay integers), and encodes the event into the calling thread's ring like
//! a native event: formatting and I/O happen on ttlog's consumer thread. What a facade hands
//! over already formatted (a `log` message with arguments, a `Debug` value) is formatted into
//! the ring, without a heap allocation.
//!
//! No loops: an event logged through an adapter on one of ttlog's own threads (a sink that
//! logs through `log` while it writes, say) is not fed back into the pipeline; it is counted
//! ([`suppressed_internal_events`]) and reported once on stderr.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[allow(dead_code)]
mod intern;

#[cfg(feature = "log")]
pub mod log_compat;
#[cfg(feature = "slog")]
pub mod slog_compat;
#[cfg(feature = "tracing")]
pub mod tracing_compat;

static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// How many events the adapters did not feed back into the pipeline because they were logged
/// on one of ttlog's own threads (see [`ttlog_core::mark_internal_thread`]).
///
/// ```
/// assert_eq!(ttlog_integrations::suppressed_internal_events(), 0);
/// ```
pub fn suppressed_internal_events() -> u64 {
    SUPPRESSED.load(Ordering::Relaxed)
}

/// Whether an adapter must not feed an event into the pipeline from this thread; counts it
/// and says so once if so.
#[inline]
#[allow(dead_code)]
pub(crate) fn suppressed_here() -> bool {
    if !ttlog_core::is_internal_thread() {
        return false;
    }
    suppress();
    true
}

#[cold]
fn suppress() {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        diag(format_args!(
            "ttlog: an event was logged through tracing/log/slog on one of ttlog's own threads \
             (a sink?); such events are not fed back into the pipeline (counted in \
             ttlog_integrations::suppressed_internal_events())"
        ));
    }
}

/// Writes one line on stderr, ignoring errors (stderr may be a closed pipe).
pub(crate) use ttlog_core::write_diagnostic as diag;

/// Why an adapter could not be installed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CompatError {
    /// ttlog itself could not start.
    Init(ttlog_core::InitError),
    /// The facade already has a global backend (a subscriber or logger installed earlier);
    /// the message is the facade's own.
    AlreadySet(String),
}

impl fmt::Display for CompatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompatError::Init(err) => write!(f, "ttlog could not start: {err}"),
            CompatError::AlreadySet(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for CompatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CompatError::Init(err) => Some(err),
            CompatError::AlreadySet(_) => None,
        }
    }
}

impl From<ttlog_core::InitError> for CompatError {
    fn from(err: ttlog_core::InitError) -> CompatError {
        CompatError::Init(err)
    }
}
