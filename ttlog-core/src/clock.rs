//! Timestamps: raw TSC ticks on the hot path, wall-clock nanoseconds on the consumer.
//!
//! `SystemTime::now()` per event costs a system call's worth of time on many machines; the
//! TSC read through `quanta` costs a few nanoseconds. The clock is calibrated once, at the
//! first use, and an anchor pair (raw ticks, wall time) taken then converts raw ticks into
//! wall-clock nanoseconds off the hot path.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug)]
struct Anchored {
    clock: quanta::Clock,
    raw_anchor: u64,
    wall_anchor_ns: u64,
}

static CLOCK: OnceLock<Anchored> = OnceLock::new();

fn anchored() -> &'static Anchored {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let raw_anchor = clock.raw();
        let wall_anchor_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Anchored {
            clock,
            raw_anchor,
            wall_anchor_ns,
        }
    })
}

/// Calibrates the clock now rather than at the first event.
pub(crate) fn warm_up() {
    anchored();
}

/// A clone of the calibrated clock, for producers to keep (saves a lookup per event).
pub(crate) fn clock() -> quanta::Clock {
    anchored().clock.clone()
}

/// Raw ticks for a record's timestamp: cheap, monotonic per thread, convertible with
/// [`to_unix_nanos`].
#[inline]
pub(crate) fn raw_now() -> u64 {
    anchored().clock.raw()
}

/// Converts raw ticks taken by [`raw_now`] into nanoseconds since the Unix epoch.
pub(crate) fn to_unix_nanos(raw: u64) -> u64 {
    let a = anchored();
    if raw >= a.raw_anchor {
        a.wall_anchor_ns + a.clock.delta_as_nanos(a.raw_anchor, raw)
    } else {
        a.wall_anchor_ns
            .saturating_sub(a.clock.delta_as_nanos(raw, a.raw_anchor))
    }
}

/// Nanoseconds between two raw timestamps (0 if `end` is before `start`).
pub(crate) fn nanos_between(start: u64, end: u64) -> u64 {
    if end <= start {
        return 0;
    }
    anchored().clock.delta_as_nanos(start, end)
}

/// Converts a duration into raw ticks, for comparing against raw timestamps.
pub(crate) fn nanos_to_ticks(nanos: u64) -> u64 {
    let a = anchored();
    // Measure how many ticks one millisecond spans, once, from the calibration itself.
    let probe = a.raw_anchor.wrapping_add(1_000_000_000);
    let ns_per_billion_ticks = a.clock.delta_as_nanos(a.raw_anchor, probe).max(1);
    ((nanos as u128 * 1_000_000_000u128) / ns_per_billion_ticks as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ticks_convert_to_current_wall_time() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let converted = to_unix_nanos(raw_now());
        let diff = converted.abs_diff(wall);
        assert!(diff < 1_000_000_000, "clock off by {diff} ns");
    }

    #[test]
    fn duration_round_trips_through_ticks() {
        let ticks = nanos_to_ticks(10_000_000);
        let a = anchored();
        let back = a.clock.delta_as_nanos(0, ticks);
        assert!(back.abs_diff(10_000_000) < 100_000, "{back}");
    }
}
