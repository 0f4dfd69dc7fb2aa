//! Incident reports, error patterns and log templates from ttlog's flight-recorder snapshots
//! and JSON logs: the library behind the `ttlog analyze` and `ttlog templates` commands.
//!
//! Everything takes events as [`input::LogEvent`]s, read from a snapshot or from JSON lines
//! ([`input::Input::read`]) or built by the caller (rows of a log store), so the source does
//! not matter. Secrets are masked ([`input::Input::redact`]) before anything is exported.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod input;
pub mod patterns;
pub mod report;
#[cfg(feature = "server")]
pub mod server;
pub mod stored;
pub mod templates;
