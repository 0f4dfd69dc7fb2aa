//! RFC 3339 timestamps, formatted without redoing the calendar arithmetic per event.
//!
//! Consecutive events almost always fall in the same second, so the `YYYY-MM-DDTHH:MM:SS`
//! prefix is cached and only the fraction is written per event.

use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Default)]
pub(crate) struct TimestampCache {
    second: Option<u64>,
    /// `2026-01-06T12:34:56`, for `second`.
    prefix: String,
}

/// How many fractional digits to write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Precision {
    Millis,
    Micros,
    Nanos,
}

impl TimestampCache {
    /// Appends `2026-01-06T12:34:56.789012345Z` (with the fraction cut to `precision`).
    pub(crate) fn write(&mut self, unix_nanos: u64, precision: Precision, out: &mut Vec<u8>) {
        let second = unix_nanos / 1_000_000_000;
        if self.second != Some(second) {
            let text = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(second))
                .to_string();
            self.prefix = text.trim_end_matches('Z').to_owned();
            self.second = Some(second);
        }
        out.extend_from_slice(self.prefix.as_bytes());
        let nanos = (unix_nanos % 1_000_000_000) as u32;
        let (value, digits) = match precision {
            Precision::Millis => (nanos / 1_000_000, 3),
            Precision::Micros => (nanos / 1_000, 6),
            Precision::Nanos => (nanos, 9),
        };
        let mut fraction = [b'0'; 10];
        fraction[0] = b'.';
        let mut v = value;
        for i in (1..=digits).rev() {
            fraction[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend_from_slice(&fraction[..=digits]);
        out.push(b'Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_humantime_at_every_precision() {
        let mut cache = TimestampCache::default();
        for nanos in [
            0u64,
            1_767_702_896_789_012_345,
            1_767_702_896_000_000_007,
            1_767_702_897_999_999_999,
        ] {
            let time = UNIX_EPOCH + Duration::from_nanos(nanos);
            for (precision, expected) in [
                (
                    Precision::Nanos,
                    humantime::format_rfc3339_nanos(time).to_string(),
                ),
                (
                    Precision::Micros,
                    humantime::format_rfc3339_micros(time).to_string(),
                ),
                (
                    Precision::Millis,
                    humantime::format_rfc3339_millis(time).to_string(),
                ),
            ] {
                let mut out = Vec::new();
                cache.write(nanos, precision, &mut out);
                assert_eq!(String::from_utf8(out).unwrap(), expected);
            }
        }
    }
}
