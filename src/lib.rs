//! # ttlog: structured logging and a flight recorder, at nanosecond cost
//!
//! An enabled event costs the calling thread about a timestamp and a copy: its values are
//! encoded into the thread's own lock-free ring, and a background thread formats and writes
//! them. Nothing is lost silently: a full ring either blocks ([`Overflow::Block`]) or drops
//! and counts, and every gap shows in the output as `N events dropped`.
//!
//! ```
//! use ttlog::{info, warn, error, debug, LogLevel};
//!
//! let _handle = ttlog::init()
//!     .capacity(1024)
//!     .level(LogLevel::Info)
//!     .init();
//!
//! let user_id = 42;
//! let ip = "10.0.0.7";
//! info!("User logged in", user_id, duration_ms = 45);
//! warn!(user_id, action = "failed_login", "Authentication failed");
//! info!("user {} logged in from {ip}", user_id);
//! debug!("mask {:#x}", 0xff_u32); // below the level: costs one load, evaluates nothing
//! let err = std::io::Error::other("connection reset");
//! error!("Database error", error = %err, query = ?("SELECT 1", 3));
//! ```
//!
//! The macros accept, in any mix:
//!
//! - a message, first or last: `info!("User logged in", user_id = 1)`,
//!   `warn!(user_id = 1, "Authentication failed")`;
//! - format arguments with `std::fmt` syntax: positional, named and captured
//!   (`"{} from {ip}"`), with specs (`"{:#x}"`, `"{:>8.2}"`);
//! - fields `key = value`, with `%value` for `Display` and `?value` for `Debug`; shorthand
//!   `user_id` and `%err`; dotted keys `user.id = 7`; string keys `"http.status" = 200`;
//! - `target: "name",` first, to override the module path.
//!
//! Values are taken by reference and never moved or cloned. Arguments are evaluated only
//! when the event is enabled.
//!
//! See `docs/getting-started.md` for a tour and `docs/architecture.md` for the event path.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub use ttlog_core::*;

/// What the macros expand to. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use ttlog_core::__macro_support::*;
    pub use ttlog_core::{
        Callsite, Encoder, FormatFn, LogLevel, Metadata, STATIC_MAX_LEVEL, Value, level_enabled,
    };
    pub use ttlog_macros::__event;
}

/// Logs an event at [`LogLevel::Trace`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// let (attempt, backoff_ms) = (3, 250);
/// ttlog::trace!("retrying", attempt, backoff_ms);
/// ```
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Trace; $($arg)*) };
}

/// Logs an event at [`LogLevel::Debug`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// let mask = 0b1010_u8;
/// ttlog::debug!("mask {:#x}", mask);
/// ```
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Debug; $($arg)*) };
}

/// Logs an event at [`LogLevel::Info`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// let path = String::from("/api/v1/items");
/// ttlog::info!("request handled", user_id = 42_u64, path, latency_ms = 3.25);
/// assert_eq!(path, "/api/v1/items"); // taken by reference
/// ```
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Info; $($arg)*) };
}

/// Logs an event at [`LogLevel::Warn`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// struct User { id: u64 }
/// let user = User { id: 7 };
/// ttlog::warn!(user_id = user.id, action = "failed_login", "Authentication failed");
/// ```
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Warn; $($arg)*) };
}

/// Logs an event at [`LogLevel::Error`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// let err = std::io::Error::other("disk full");
/// ttlog::error!(target: "storage", "write failed", error = %err, "file.path" = "/var/data");
/// ```
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Error; $($arg)*) };
}
