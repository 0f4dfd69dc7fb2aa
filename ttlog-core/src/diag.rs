//! ttlog's own diagnostics on stderr, written so that they can never take the program down.
//!
//! `eprintln!` panics when stderr is a closed pipe (`prog 2>&1 | head -1`); the consumer, the
//! panic hook and the signal paths must survive that. A leaf module.

use std::fmt;
use std::io::Write as _;

/// Writes one line to stderr, ignoring every error (a closed pipe, a full disk): how ttlog,
/// its adapters and its sinks report their own problems, since `eprintln!` panics when
/// stderr is a closed pipe.
///
/// ```
/// ttlog_core::write_diagnostic(format_args!("my-sink: cannot reach {}; retrying", "db-1"));
/// ```
pub fn write_diagnostic(line: fmt::Arguments<'_>) {
    print(line)
}

/// Writes one line to stderr, ignoring every error (a closed pipe, a full disk).
pub(crate) fn print(line: fmt::Arguments<'_>) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_fmt(line);
    let _ = stderr.write_all(b"\n");
}

/// `eprintln!` that never panics: see [`print`].
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::diag::print(format_args!($($arg)*))
    };
}
