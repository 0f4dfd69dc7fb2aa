//! Counters: what was logged, delivered and dropped, in total and per thread.

use std::sync::atomic::Ordering;

use crate::runtime::{self, ConsumerShared};

/// A snapshot of the logger's counters (see [`TtlogHandle::stats`](crate::TtlogHandle::stats)).
///
/// `logged` counts events written into a thread's ring; `delivered` counts those the consumer
/// has handed to the sinks; `dropped` counts events lost to a full ring (in `Overflow::Drop`
/// mode) or logged where no ring could take them. Every drop is also marked in the output by an
/// `N events dropped` event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Events recorded into thread rings.
    pub logged: u64,
    /// Events handed to the sinks.
    pub delivered: u64,
    /// Events lost (counted, and marked in the output).
    pub dropped: u64,
    /// Sink writes or flushes that failed.
    pub sink_errors: u64,
    /// Records the consumer found malformed and skipped. Always 0 unless ttlog itself has a
    /// bug; the first one is reported on stderr.
    pub bad_records: u64,
    /// Per-thread counts, for threads whose ring is still registered.
    pub threads: Vec<ThreadStats>,
    /// Per-sink counts, in the order the sinks were added (the console first).
    pub sinks: Vec<SinkStats>,
}

/// One sink's counters (see [`Stats::sinks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// The sink's name ([`Sink::name`](crate::Sink::name)).
    pub name: String,
    /// Writes and flushes that failed (returned an error or panicked).
    pub errors: u64,
    /// Events the sink sat out while backing off after a failure (1, 2, 4, ... up to 1,024
    /// events after each failure, until a write succeeds).
    pub skipped: u64,
    /// The sink panicked and was disabled.
    pub disabled: bool,
    /// Events the sink accepted and then lost on its own (a full queue, a destination still
    /// down at shutdown), as it counts them ([`Sink::drop_counter`](crate::Sink::drop_counter));
    /// 0 for a sink that keeps no such count.
    pub dropped: u64,
}

/// One thread's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadStats {
    /// The thread's ttlog id.
    pub id: u64,
    /// The thread's name.
    pub name: String,
    /// Events it recorded.
    pub logged: u64,
    /// Events it dropped.
    pub dropped: u64,
    /// The size of its ring in bytes (larger than configured while a burst lasts).
    pub ring_bytes: usize,
}

pub(crate) fn collect(shared: &ConsumerShared) -> Stats {
    let registry = runtime::rings();
    let threads: Vec<ThreadStats> = registry
        .rings
        .iter()
        .map(|r| {
            let p = r.ring.producer_shared();
            ThreadStats {
                id: r.info.id(),
                name: r.info.name().to_owned(),
                logged: p.logged.load(Ordering::Relaxed),
                dropped: p.dropped.load(Ordering::Relaxed),
                ring_bytes: r.ring.capacity(),
            }
        })
        .collect();
    let logged = runtime::RETIRED_LOGGED.load(Ordering::Relaxed)
        + threads.iter().map(|t| t.logged).sum::<u64>();
    let dropped = runtime::RETIRED_DROPPED.load(Ordering::Relaxed)
        + runtime::ORPHAN_DROPS.load(Ordering::Relaxed)
        + threads.iter().map(|t| t.dropped).sum::<u64>();
    Stats {
        logged,
        delivered: shared.delivered.load(Ordering::Relaxed),
        dropped,
        sink_errors: shared.sink_errors.load(Ordering::Relaxed),
        bad_records: shared.bad_records.load(Ordering::Relaxed),
        threads,
        sinks: shared
            .sinks
            .get()
            .map(|sinks| {
                sinks
                    .iter()
                    .map(|s| SinkStats {
                        name: s.name.clone(),
                        errors: s.errors.load(Ordering::Relaxed),
                        skipped: s.skipped.load(Ordering::Relaxed),
                        disabled: s.disabled.load(Ordering::Relaxed),
                        dropped: s
                            .own_dropped
                            .as_ref()
                            .map_or(0, |d| d.load(Ordering::Relaxed)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}
