//! Severity levels and the level filter.
//!
//! `LogLevel` orders from the most verbose to the most severe, so that "this event is at least
//! as severe as the filter" reads as `level >= filter`. `LevelFilter` adds `Off`, which lets a
//! filter disable everything. Both convert from and to `u8` without `transmute`: the seeds'
//! `transmute` of an arbitrary byte into an enum is undefined behaviour.

use std::fmt;
use std::str::FromStr;

/// The severity of an event.
///
/// Ordered from the most verbose to the most severe:
/// `Trace < Debug < Info < Warn < Error`.
///
/// ```
/// use ttlog_core::LogLevel;
/// assert!(LogLevel::Error > LogLevel::Info);
/// assert_eq!("warn".parse::<LogLevel>().unwrap(), LogLevel::Warn);
/// assert_eq!(LogLevel::Info.as_str(), "info");
/// ```
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Very detailed tracing, usually only recorded by the flight recorder.
    Trace = 0,
    /// Information useful while debugging.
    Debug = 1,
    /// Normal operation worth knowing about.
    Info = 2,
    /// Something unexpected that the program recovered from.
    Warn = 3,
    /// A failure.
    Error = 4,
}

/// The name `tracing` gives the level type, so that `use tracing::Level` becomes
/// `use ttlog::Level` and `Level::INFO` keeps working.
///
/// ```
/// use ttlog_core::{Level, LogLevel};
/// assert_eq!(Level::INFO, LogLevel::Info);
/// ```
pub type Level = LogLevel;

impl LogLevel {
    /// [`LogLevel::Trace`], under `tracing`'s name.
    pub const TRACE: LogLevel = LogLevel::Trace;
    /// [`LogLevel::Debug`], under `tracing`'s name.
    pub const DEBUG: LogLevel = LogLevel::Debug;
    /// [`LogLevel::Info`], under `tracing`'s name.
    pub const INFO: LogLevel = LogLevel::Info;
    /// [`LogLevel::Warn`], under `tracing`'s name.
    pub const WARN: LogLevel = LogLevel::Warn;
    /// [`LogLevel::Error`], under `tracing`'s name.
    pub const ERROR: LogLevel = LogLevel::Error;

    /// All levels, from the most verbose to the most severe.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The lower-case name used in JSON output and filter directives.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// The level whose `as u8` value is `value`, if there is one.
    ///
    /// ```
    /// use ttlog_core::LogLevel;
    /// assert_eq!(LogLevel::from_u8(3), Some(LogLevel::Warn));
    /// assert_eq!(LogLevel::from_u8(9), None);
    /// ```
    pub const fn from_u8(value: u8) -> Option<LogLevel> {
        match value {
            0 => Some(LogLevel::Trace),
            1 => Some(LogLevel::Debug),
            2 => Some(LogLevel::Info),
            3 => Some(LogLevel::Warn),
            4 => Some(LogLevel::Error),
            _ => None,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A threshold: events at this level or more severe pass; `Off` lets nothing pass.
///
/// ```
/// use ttlog_core::{LevelFilter, LogLevel};
/// assert!(LevelFilter::Info.enables(LogLevel::Warn));
/// assert!(!LevelFilter::Info.enables(LogLevel::Debug));
/// assert!(!LevelFilter::Off.enables(LogLevel::Error));
/// assert_eq!(LevelFilter::from(LogLevel::Debug), LevelFilter::Debug);
/// ```
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LevelFilter {
    /// Everything passes.
    Trace = 0,
    /// Debug and more severe.
    Debug = 1,
    /// Info and more severe.
    Info = 2,
    /// Warn and Error.
    Warn = 3,
    /// Error only.
    Error = 4,
    /// Nothing passes.
    Off = 5,
}

impl LevelFilter {
    /// Whether an event at `level` passes this filter.
    #[inline]
    pub const fn enables(self, level: LogLevel) -> bool {
        level as u8 >= self as u8
    }

    /// The lower-case name, as written in directives.
    pub const fn as_str(self) -> &'static str {
        match self {
            LevelFilter::Trace => "trace",
            LevelFilter::Debug => "debug",
            LevelFilter::Info => "info",
            LevelFilter::Warn => "warn",
            LevelFilter::Error => "error",
            LevelFilter::Off => "off",
        }
    }

    /// The filter whose `as u8` value is `value`; anything out of range is `Off`.
    pub const fn from_u8(value: u8) -> LevelFilter {
        match value {
            0 => LevelFilter::Trace,
            1 => LevelFilter::Debug,
            2 => LevelFilter::Info,
            3 => LevelFilter::Warn,
            4 => LevelFilter::Error,
            _ => LevelFilter::Off,
        }
    }

    /// The more verbose of two filters (the one that lets more through).
    pub fn most_verbose(self, other: LevelFilter) -> LevelFilter {
        self.min(other)
    }
}

impl From<LogLevel> for LevelFilter {
    fn from(level: LogLevel) -> Self {
        LevelFilter::from_u8(level as u8)
    }
}

impl fmt::Display for LevelFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The error returned when a string is not a level name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLevelError {
    input: String,
}

impl fmt::Display for ParseLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a level (expected trace, debug, info, warn, error or off)",
            self.input
        )
    }
}

impl std::error::Error for ParseLevelError {}

impl FromStr for LevelFilter {
    type Err = ParseLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let filter = match s.to_ascii_lowercase().as_str() {
            "trace" => LevelFilter::Trace,
            "debug" => LevelFilter::Debug,
            "info" => LevelFilter::Info,
            "warn" | "warning" => LevelFilter::Warn,
            "error" => LevelFilter::Error,
            "off" | "none" => LevelFilter::Off,
            _ => {
                return Err(ParseLevelError {
                    input: s.to_owned(),
                });
            }
        };
        Ok(filter)
    }
}

impl FromStr for LogLevel {
    type Err = ParseLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<LevelFilter>()? {
            LevelFilter::Off => Err(ParseLevelError {
                input: s.trim().to_owned(),
            }),
            filter => Ok(LogLevel::from_u8(filter as u8).expect("every filter but Off is a level")),
        }
    }
}

/// The compile-time ceiling chosen with the `max_level_*` cargo features.
///
/// Macros compare their level with this constant first, so events above it compile to nothing.
pub const STATIC_MAX_LEVEL: LevelFilter = static_max_level();

const fn static_max_level() -> LevelFilter {
    if cfg!(feature = "max_level_off") {
        LevelFilter::Off
    } else if cfg!(feature = "max_level_error") {
        LevelFilter::Error
    } else if cfg!(feature = "max_level_warn") {
        LevelFilter::Warn
    } else if cfg!(feature = "max_level_info") {
        LevelFilter::Info
    } else if cfg!(feature = "max_level_debug") {
        LevelFilter::Debug
    } else {
        LevelFilter::Trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_u8_and_names() {
        for level in LogLevel::ALL {
            assert_eq!(LogLevel::from_u8(level as u8), Some(level));
            assert_eq!(level.as_str().parse::<LogLevel>().unwrap(), level);
            assert_eq!(LevelFilter::from(level).as_str(), level.as_str());
        }
        assert_eq!("OFF".parse::<LevelFilter>().unwrap(), LevelFilter::Off);
        assert!("off".parse::<LogLevel>().is_err());
        assert!("verbose".parse::<LevelFilter>().is_err());
    }

    #[test]
    fn filter_orders_by_severity() {
        assert!(LevelFilter::Trace.enables(LogLevel::Trace));
        assert!(LevelFilter::Warn.enables(LogLevel::Error));
        assert!(!LevelFilter::Warn.enables(LogLevel::Info));
        assert_eq!(
            LevelFilter::Warn.most_verbose(LevelFilter::Debug),
            LevelFilter::Debug
        );
    }
}
