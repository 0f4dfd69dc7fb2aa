//! Query-string parameters: parsed strictly, every mistake a 400 that names the parameter.

use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use ttlog_core::LogLevel;
use ttlog_store::{LogQuery, LogType, Stream, TrendKey, is_uuid, nanos};

use super::api::ApiError;

/// The most rows one request returns.
pub(super) const MAX_LIMIT: usize = 1000;

/// The parameters of one request.
#[derive(Debug, Default)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `raw`, refusing parameters not in `allowed` and repeated ones.
    pub(super) fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, &format!("query string: {e}")))?;
        for (i, (key, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::param(
                    key,
                    &format!(
                        "unknown parameter `{key}` (this endpoint takes: {})",
                        allowed.join(", ")
                    ),
                ));
            }
            if pairs[..i].iter().any(|(k, _)| k == key) {
                return Err(ApiError::param(key, &format!("`{key}` is given twice")));
            }
        }
        Ok(Params(pairs))
    }

    /// The value of `key`, if given (an empty value counts as not given).
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn level(&self, key: &str) -> Result<Option<LogLevel>, ApiError> {
        self.get(key)
            .map(|v| {
                v.to_ascii_lowercase().parse::<LogLevel>().map_err(|_| {
                    ApiError::param(
                        key,
                        &format!("`{v}` is not a level (trace, debug, info, warn, error)"),
                    )
                })
            })
            .transpose()
    }

    pub(super) fn log_type(&self, key: &str) -> Result<Option<LogType>, ApiError> {
        self.get(key)
            .map(|v| v.parse::<LogType>().map_err(|e| ApiError::param(key, &e)))
            .transpose()
    }

    pub(super) fn stream(&self, key: &str) -> Result<Option<Stream>, ApiError> {
        self.get(key)
            .map(|v| v.parse::<Stream>().map_err(|e| ApiError::param(key, &e)))
            .transpose()
    }

    pub(super) fn uuid(&self, key: &str) -> Result<Option<String>, ApiError> {
        self.get(key).map(|v| uuid(key, v)).transpose()
    }

    /// A time: RFC 3339 (`2026-12-06T10:00:00Z`) or a duration ago (`15m`).
    pub(super) fn time(&self, key: &str) -> Result<Option<SystemTime>, ApiError> {
        self.get(key)
            .map(|v| {
                if let Ok(t) = humantime::parse_rfc3339_weak(v) {
                    return Ok(t);
                }
                humantime::parse_duration(v)
                    .ok()
                    .and_then(|ago| SystemTime::now().checked_sub(ago))
                    .ok_or_else(|| {
                        ApiError::param(
                            key,
                            &format!(
                                "`{v}` is neither a time (2026-12-06T10:00:00Z) nor a duration \
                                 ago (15m)"
                            ),
                        )
                    })
            })
            .transpose()
    }

    /// A positive duration (`5m`, `1h`).
    pub(super) fn duration(&self, key: &str, default: Duration) -> Result<Duration, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => humantime::parse_duration(v)
                .ok()
                .filter(|d| !d.is_zero() && *d <= Duration::from_secs(366 * 86_400))
                .ok_or_else(|| {
                    ApiError::param(
                        key,
                        &format!("`{v}` is not a duration of up to a year (e.g. 5m, 1h)"),
                    )
                }),
        }
    }

    /// An integer in `range`.
    pub(super) fn number(
        &self,
        key: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    ApiError::param(
                        key,
                        &format!(
                            "`{v}` is not a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    )
                }),
        }
    }

    pub(super) fn trend_key(&self, key: &str) -> Result<TrendKey, ApiError> {
        match self.get(key) {
            None => Ok(TrendKey::Level),
            Some(v) => v.parse().map_err(|e: String| ApiError::param(key, &e)),
        }
    }

    /// Seed 001's query: every filter of `GET /api/v1/logs`, on top of `base`.
    pub(super) fn log_query(&self, mut base: LogQuery) -> Result<LogQuery, ApiError> {
        if let Some(level) = self.level("level")? {
            base.level = Some(level);
        }
        if let Some(t) = self.log_type("type")? {
            base.log_type = Some(t);
        }
        base.since_ns = self.time("since")?.map(nanos).or(base.since_ns);
        base.until_ns = self.time("until")?.map(nanos).or(base.until_ns);
        if let Some(q) = self.get("q") {
            base.text = Some(q.to_owned());
        }
        if let Some(trace) = self.get("trace_id") {
            if trace.len() != 32 || !trace.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiError::param(
                    "trace_id",
                    &format!("`{trace}` is not a trace id (32 hex digits)"),
                ));
            }
            base = base.trace(trace);
        }
        if let Some(target) = self.get("target") {
            base.target_prefix = Some(target.to_owned());
        }
        if let Some(id) = self.uuid("job_run_id")? {
            base.job_run_id = Some(id);
        }
        if let Some(id) = self.uuid("task_run_id")? {
            base.task_run_id = Some(id);
        }
        base.limit = self.number("limit", 100, 1..=MAX_LIMIT as u64)? as usize;
        base.offset = self.number("offset", 0, 0..=100_000_000)? as usize;
        Ok(base)
    }
}

/// `v` as a lower-case UUID, or a 400 naming `key`.
pub(super) fn uuid(key: &str, v: &str) -> Result<String, ApiError> {
    if is_uuid(v) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(ApiError::param(
            key,
            &format!("`{v}` is not a UUID (8-4-4-4-12 hex digits)"),
        ))
    }
}

/// The parameters of the query endpoints.
pub(super) const QUERY_PARAMS: &[&str] = &[
    "level",
    "type",
    "since",
    "until",
    "q",
    "trace_id",
    "target",
    "job_run_id",
    "task_run_id",
    "limit",
    "offset",
];
