//! Timestamps: raw TSC ticks on the hot path, wall-clock nanoseconds on the consumer.
//!
//! `SystemTime::now()` per event costs a system call's worth of time on many machines; the
//! TSC read of `quanta`'s clock costs a few nanoseconds (and is done inline on the hot path,
//! see [`RawClock`]). The clock is calibrated once, at the first use, and an anchor pair (raw
//! ticks, wall time) taken then converts raw ticks into wall-clock nanoseconds off the hot
//! path.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug)]
struct Anchored {
    raw: RawClock,
    clock: quanta::Clock,
    raw_anchor: u64,
    wall_anchor_ns: u64,
}

/// The producers' timestamp source: `quanta`'s calibrated clock, whose raw ticks the
/// consumer converts. When those ticks are the x86-64 time-stamp counter (quanta's choice on
/// a CPU with an invariant TSC, checked at calibration), the counter is read inline: quanta's
/// `Clock::raw` is a call across crates that cannot be inlined, and on the hot path the call
/// cost more than the read (and kept the caller's values out of the registers it clobbers).
#[derive(Debug, Clone)]
pub(crate) struct RawClock {
    clock: quanta::Clock,
    tsc: bool,
}

impl RawClock {
    /// Raw ticks, as `quanta::Clock::raw` returns them.
    #[inline(always)]
    pub(crate) fn raw(&self) -> u64 {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        if self.tsc {
            // SAFETY: `rdtsc` has no preconditions on x86-64; it is what quanta's raw read
            // executes for this clock (checked in `reads_the_tsc`).
            return unsafe { core::arch::x86_64::_rdtsc() };
        }
        self.clock.raw()
    }
}

/// Whether `clock.raw()` reads the time-stamp counter: each of several raw reads lies between
/// two reads of the counter around it. Another source (the monotonic clock's nanoseconds, a
/// mock) does not land in a window of a few hundred ticks three times in a row.
fn reads_the_tsc(clock: &quanta::Clock) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        (0..3).all(|_| {
            // SAFETY: `rdtsc` has no preconditions on x86-64.
            let before = unsafe { core::arch::x86_64::_rdtsc() };
            let raw = clock.raw();
            // SAFETY: as above.
            let after = unsafe { core::arch::x86_64::_rdtsc() };
            before <= raw && raw <= after
        })
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        let _ = clock;
        false
    }
}

static CLOCK: OnceLock<Anchored> = OnceLock::new();

fn anchored() -> &'static Anchored {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let raw = RawClock {
            clock: clock.clone(),
            tsc: reads_the_tsc(&clock),
        };
        let raw_anchor = clock.raw();
        let wall_anchor_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Anchored {
            raw,
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
pub(crate) fn clock() -> RawClock {
    anchored().raw.clone()
}

/// Raw ticks for a record's timestamp: cheap, monotonic per thread, convertible with
/// [`to_unix_nanos`].
#[inline]
pub(crate) fn raw_now() -> u64 {
    anchored().raw.raw()
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

    /// The inlined read and quanta's own agree: the producers' ticks are the consumer's.
    #[test]
    fn the_inlined_read_is_quantas_raw_read() {
        let producer = clock();
        let a = anchored();
        for _ in 0..3 {
            let before = a.clock.raw();
            let mine = producer.raw();
            let after = a.clock.raw();
            assert!(before <= mine && mine <= after, "{before} {mine} {after}");
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        println!("time-stamp counter read inline: {}", producer.tsc);
    }

    #[test]
    fn duration_round_trips_through_ticks() {
        let ticks = nanos_to_ticks(10_000_000);
        let a = anchored();
        let back = a.clock.delta_as_nanos(0, ticks);
        assert!(back.abs_diff(10_000_000) < 100_000, "{back}");
    }
}
