//! Sinks for [ttlog](https://docs.rs/ttlog) that production needs, kept out of the hot-path
//! core: a file sink with rotation by size and by time, retention by count and by age, and
//! optional gzip compression of rotated files ([`FileSink`]); sampling by level and rate
//! limiting by callsite in front of any sink ([`Sampled`]); the queue, batches and retries a
//! slow destination needs ([`BatchingSink`] around a [`BatchWriter`]); and the configuration
//! file ([`Config`]).
//!
//! Every sink runs on ttlog's consumer thread (or a thread of its own): the thread that logs
//! never does I/O.
//!
//! ```
//! use ttlog_sinks::{FileSink, Period};
//!
//! # let dir = std::env::temp_dir().join(format!("ttlog-doc-lib-{}", std::process::id()));
//! let file = FileSink::builder(dir.join("api.log"))
//!     .max_size(50 << 20)
//!     .rotate_every(Period::HOURLY)
//!     .max_files(24)
//!     .build();
//! let handle = ttlog::init().sink(file).init();
//! ttlog::info!("listening", port = 8080_u16);
//! # drop(handle);
//! # let _ = std::fs::remove_dir_all(dir);
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod batch;
pub mod config;
mod file;
mod names;
pub mod redact;
mod sampling;

pub use batch::{BatchCounters, BatchError, BatchOptions, BatchWriter, BatchingSink};
pub use config::{Config, ConfigError};
pub use file::{FileSink, FileSinkBuilder, Housekeeping, Period};
pub use redact::{Mask, PatternError, RedactionRules};
pub use sampling::{Sampled, Sampling, SamplingControl, SamplingCounters};
