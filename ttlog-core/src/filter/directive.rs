//! One `RUST_LOG`-style directive: `level`, `target` or `target=level`.

use std::fmt;

use crate::level::LevelFilter;

/// A parsed directive: events whose target is `target` or under it (`target::…`) are
/// enabled at `level` and above. A directive without a target sets the default level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub(crate) target: Option<String>,
    pub(crate) level: LevelFilter,
}

impl Directive {
    /// The target prefix this directive applies to; `None` for the default level.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The level it enables.
    pub fn level(&self) -> LevelFilter {
        self.level
    }

    /// Whether `target` is this directive's target or a module under it.
    pub(crate) fn matches(&self, target: &str) -> bool {
        match &self.target {
            None => true,
            Some(prefix) => {
                target.starts_with(prefix.as_str())
                    && (target.len() == prefix.len() || target[prefix.len()..].starts_with("::"))
            }
        }
    }

    /// Parses one directive (no commas).
    pub fn parse(input: &str) -> Result<Directive, ParseDirectiveError> {
        let text = input.trim();
        let error = |reason: &'static str| ParseDirectiveError {
            directive: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(error("empty directive"));
        }
        if text.contains(['[', ']', '{', '}']) {
            return Err(error(
                "span filters (`[span{field=value}]`) are not supported",
            ));
        }
        if text.contains('/') {
            return Err(error(
                "regular-expression filters (`/regex`) are not supported",
            ));
        }
        let (target, level) = match text.split_once('=') {
            Some((target, level)) => {
                let target = target.trim();
                let level = level.trim().parse::<LevelFilter>().map_err(|_| {
                    error("unknown level (expected trace, debug, info, warn, error or off)")
                })?;
                if target.is_empty() {
                    return Err(error("missing target before `=`"));
                }
                (Some(target), level)
            }
            None => match text.parse::<LevelFilter>() {
                Ok(level) => (None, level),
                Err(_) => (Some(text), LevelFilter::Trace),
            },
        };
        if let Some(target) = target {
            let valid = target.split("::").all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
            });
            if !valid {
                return Err(error("target must look like `crate::module`"));
            }
        }
        Ok(Directive {
            target: target.map(str::to_owned),
            level,
        })
    }
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Some(target) => write!(f, "{target}={}", self.level),
            None => write!(f, "{}", self.level),
        }
    }
}

/// A directive that could not be parsed; it names the directive and says why.
///
/// ```
/// let err = ttlog_core::Filter::parse("info,app::db=loud").unwrap_err();
/// assert!(err.to_string().contains("app::db=loud"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDirectiveError {
    directive: String,
    reason: &'static str,
}

impl ParseDirectiveError {
    /// The directive as written.
    pub fn directive(&self) -> &str {
        &self.directive
    }
}

impl fmt::Display for ParseDirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid filter directive `{}`: {}",
            self.directive, self.reason
        )
    }
}

impl std::error::Error for ParseDirectiveError {}
