//! Filters in `RUST_LOG` syntax: a default level and per-target levels.
//!
//! `info,my_app::db=trace,hyper=off` enables info and above everywhere, everything under
//! `my_app::db`, and nothing from `hyper`. The most specific (longest) matching target wins;
//! targets match on module boundaries, so `app::db` covers `app::db::pool` but not `app::dbx`.
//! A filter is consulted once per callsite (the answer is cached on the callsite), never per
//! event.

mod directive;

use std::fmt;

pub use directive::{Directive, ParseDirectiveError};

use crate::level::{LevelFilter, LogLevel};

/// A set of directives.
///
/// ```
/// use ttlog_core::{Filter, LevelFilter, LogLevel};
///
/// let filter = Filter::parse("warn,checkout=info,checkout::db=trace").unwrap();
/// assert!(filter.enabled(LogLevel::Trace, "checkout::db::pool"));
/// assert!(filter.enabled(LogLevel::Info, "checkout::api"));
/// assert!(!filter.enabled(LogLevel::Info, "hyper::client"));
/// assert_eq!(filter.max_level(), LevelFilter::Trace);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    default: LevelFilter,
    /// Sorted by target length, longest first, so the first match is the most specific.
    targets: Vec<Directive>,
}

impl Filter {
    /// The filter that lets nothing through.
    pub const fn off() -> Filter {
        Filter {
            default: LevelFilter::Off,
            targets: Vec::new(),
        }
    }

    /// A filter with only a default level.
    pub fn from_level(level: impl Into<LevelFilter>) -> Filter {
        Filter {
            default: level.into(),
            targets: Vec::new(),
        }
    }

    /// Parses comma-separated directives; the first malformed one is an error.
    pub fn parse(spec: &str) -> Result<Filter, ParseDirectiveError> {
        let (filter, errors) = Filter::parse_lenient(spec, LevelFilter::Off);
        match errors.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(filter),
        }
    }

    /// Parses what can be parsed and returns the malformed directives beside the result.
    /// Without a default-level directive, `default` applies to targets no directive names.
    pub fn parse_lenient(spec: &str, default: LevelFilter) -> (Filter, Vec<ParseDirectiveError>) {
        let mut filter = Filter::from_level(default);
        let mut errors = Vec::new();
        for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
            match Directive::parse(part) {
                Ok(d) => filter.add(d),
                Err(e) => errors.push(e),
            }
        }
        (filter, errors)
    }

    /// Adds a directive; a later directive for the same target replaces the earlier one.
    pub fn add(&mut self, directive: Directive) {
        match directive.target {
            None => self.default = directive.level,
            Some(_) => {
                self.targets.retain(|d| d.target != directive.target);
                self.targets.push(directive);
                self.targets
                    .sort_by_key(|d| std::cmp::Reverse(d.target.as_ref().map_or(0, String::len)));
            }
        }
    }

    /// The default level.
    pub fn default_level(&self) -> LevelFilter {
        self.default
    }

    /// Replaces the default level, keeping the per-target directives.
    pub fn set_default_level(&mut self, level: LevelFilter) {
        self.default = level;
    }

    /// The level filter that applies to `target`.
    pub fn level_for(&self, target: &str) -> LevelFilter {
        self.targets
            .iter()
            .find(|d| d.matches(target))
            .map_or(self.default, |d| d.level)
    }

    /// Whether an event at `level` from `target` passes.
    pub fn enabled(&self, level: LogLevel, target: &str) -> bool {
        self.level_for(target).enables(level)
    }

    /// The most verbose level any directive enables: the global fast-path threshold.
    pub fn max_level(&self) -> LevelFilter {
        self.targets
            .iter()
            .fold(self.default, |acc, d| acc.most_verbose(d.level))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.default)?;
        for d in &self.targets {
            write!(f, ",{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Filter {
    type Err = ParseDirectiveError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

/// Where the directives come from: `TTLOG`, else `RUST_LOG`, else the builder's setting.
///
/// Returns the directive string and the name of its source, for messages.
pub(crate) fn directives_from_env(
    ttlog: Option<String>,
    rust_log: Option<String>,
) -> Option<(String, &'static str)> {
    let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    set(ttlog)
        .map(|s| (s, "TTLOG"))
        .or_else(|| set(rust_log).map(|s| (s, "RUST_LOG")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_target_wins() {
        let f = Filter::parse("info,app=warn,app::db=trace,app::db::pool=off").unwrap();
        assert_eq!(f.level_for("other"), LevelFilter::Info);
        assert_eq!(f.level_for("app"), LevelFilter::Warn);
        assert_eq!(f.level_for("app::api"), LevelFilter::Warn);
        assert_eq!(f.level_for("app::db"), LevelFilter::Trace);
        assert_eq!(f.level_for("app::db::query"), LevelFilter::Trace);
        assert_eq!(f.level_for("app::db::pool"), LevelFilter::Off);
        assert_eq!(
            f.level_for("app::dbx"),
            LevelFilter::Warn,
            "module boundary"
        );
        assert_eq!(
            f.level_for("application"),
            LevelFilter::Info,
            "module boundary"
        );
        assert_eq!(f.max_level(), LevelFilter::Trace);
    }

    #[test]
    fn bare_target_means_everything_and_later_directives_replace() {
        let f = Filter::parse("warn,app,app=info").unwrap();
        assert_eq!(f.level_for("app"), LevelFilter::Info);
        let f = Filter::parse("warn,app").unwrap();
        assert_eq!(f.level_for("app::x"), LevelFilter::Trace);
        assert_eq!(Filter::parse("debug").unwrap().to_string(), "debug");
    }

    #[test]
    fn malformed_directives_are_named() {
        for (spec, bad) in [
            ("info,app=loud", "app=loud"),
            ("=info", "=info"),
            ("info,app[span]=debug", "app[span]=debug"),
            ("app::/foo/", "app::/foo/"),
            ("my app=info", "my app=info"),
        ] {
            let err = Filter::parse(spec).unwrap_err();
            assert_eq!(err.directive(), bad, "{spec}");
            assert!(err.to_string().contains(bad));
        }
        let (f, errors) = Filter::parse_lenient("debug,app=loud,db=trace", LevelFilter::Info);
        assert_eq!(errors.len(), 1);
        assert_eq!(f.default_level(), LevelFilter::Debug);
        assert_eq!(f.level_for("db"), LevelFilter::Trace);
    }

    #[test]
    fn env_precedence_is_ttlog_then_rust_log() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            directives_from_env(s("debug"), s("error")),
            Some(("debug".to_owned(), "TTLOG"))
        );
        assert_eq!(
            directives_from_env(None, s("error")),
            Some(("error".to_owned(), "RUST_LOG"))
        );
        assert_eq!(
            directives_from_env(s("  "), s("warn")),
            Some(("warn".to_owned(), "RUST_LOG"))
        );
        assert_eq!(directives_from_env(None, None), None);
    }
}
