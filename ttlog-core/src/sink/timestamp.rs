//! RFC 3339 timestamps, formatted without redoing the calendar arithmetic per event.
//!
//! Consecutive events almost always fall in the same second, so the `YYYY-MM-DDTHH:MM:SS`
//! prefix is cached and only the fraction is written per event.

use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Default)]
pub(crate) struct TimestampCache {
    second: Option<u64>,
    /// `2026-01-06T12:34:56.` for `second`, then room for the fraction and the `Z`: the
    /// year has four digits for every `u64` of nanoseconds (up to 2554), so each event copies
    /// a fixed number of bytes (inlined moves, no call to `memcpy`).
    line: [u8; 30],
}

/// How many fractional digits to write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Precision {
    Millis,
    Micros,
    Nanos,
}

/// `YYYY-MM-DDTHH:MM:SS.`
const PREFIX: usize = 20;

impl TimestampCache {
    /// Appends `2026-01-06T12:34:56.789012345Z` (with the fraction cut to `precision`).
    pub(crate) fn write(&mut self, unix_nanos: u64, precision: Precision, out: &mut Vec<u8>) {
        let second = unix_nanos / 1_000_000_000;
        if self.second != Some(second) {
            self.set_second(second);
        }
        let line = &mut self.line;
        line[PREFIX..PREFIX + 9].copy_from_slice(&nine_digits((unix_nanos % 1_000_000_000) as u32));
        // The first digits of the zero-padded nine are the fraction cut to that precision.
        match precision {
            Precision::Nanos => {
                line[PREFIX + 9] = b'Z';
                out.extend_from_slice(&line[..PREFIX + 10]);
            }
            Precision::Micros => {
                line[PREFIX + 6] = b'Z';
                out.extend_from_slice(&line[..PREFIX + 7]);
            }
            Precision::Millis => {
                line[PREFIX + 3] = b'Z';
                out.extend_from_slice(&line[..PREFIX + 4]);
            }
        }
    }

    #[cold]
    fn set_second(&mut self, second: u64) {
        // Nanoseconds in a u64 end in the year 2554: the year always has four digits.
        let time = UNIX_EPOCH + Duration::from_secs(second);
        let text = humantime::format_rfc3339_seconds(time).to_string();
        self.line[..PREFIX - 1].copy_from_slice(&text.as_bytes()[..PREFIX - 1]);
        self.line[PREFIX - 1] = b'.';
        self.second = Some(second);
    }
}

/// `"00"` to `"99"`.
const PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// `n` (below 10^9) as nine decimal digits, zero-padded, two digits per step.
fn nine_digits(n: u32) -> [u8; 9] {
    debug_assert!(n < 1_000_000_000);
    let mut out = [0u8; 9];
    let (high, low) = (n / 10_000, n % 10_000);
    out[0] = b'0' + (high / 10_000) as u8;
    let high = high % 10_000;
    for (at, pair) in [
        (1, high / 100),
        (3, high % 100),
        (5, low / 100),
        (7, low % 100),
    ] {
        let pair = pair as usize * 2;
        out[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_digits_are_zero_padded() {
        for n in [0, 7, 10, 99_999, 100_000, 123_456_789, 999_999_999] {
            assert_eq!(
                std::str::from_utf8(&nine_digits(n)).unwrap(),
                format!("{n:09}")
            );
        }
    }

    #[test]
    fn matches_humantime_at_every_precision() {
        let mut cache = TimestampCache::default();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let random = (0..2_000).map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        });
        for nanos in [
            0u64,
            1_767_702_896_789_012_345,
            1_767_702_896_000_000_007,
            1_767_702_897_999_999_999,
            1_767_702_897_100_000_000,
        ]
        .into_iter()
        .chain(random)
        {
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

    #[test]
    fn the_last_representable_second_keeps_a_four_digit_year() {
        let mut cache = TimestampCache::default();
        for nanos in [0, u64::MAX] {
            let time = UNIX_EPOCH + Duration::from_nanos(nanos);
            let mut out = Vec::new();
            cache.write(nanos, Precision::Nanos, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                humantime::format_rfc3339_nanos(time).to_string()
            );
        }
    }
}
