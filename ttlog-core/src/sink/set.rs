//! The sinks as one receiver of the consumer's events: each sink gets the events its filter
//! wants; a sink that fails is counted and reported once, one that panics is disabled, and
//! neither stops the others or the consumer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Sink;
use crate::consumer::{Ordered, Receiver};
use crate::event::{Event, GAP_METADATA};
use crate::guard::guarded;
use crate::runtime::{ConsumerShared, SinkCounters};
use crate::thread::ThreadInfo;
use crate::value::ValueRef;

/// After a failure a sink sits out 1 event, then 2, 4, ... up to this many, until a write
/// succeeds: a sink that fails on every event (a closed pipe) costs little, and one that
/// recovers gets events again soon. Counted in events, not time, so it is deterministic.
const MAX_BACKOFF_EVENTS: u64 = 1024;

struct SinkSlot {
    sink: Box<dyn Sink>,
    disabled: bool,
    error_reported: bool,
    /// Events still to skip before the next attempt.
    skip: u64,
    /// How many the next failure makes it skip.
    backoff: u64,
    counters: Arc<SinkCounters>,
}

impl SinkSlot {
    /// Whether the sink sits this event out (backing off); counts it if so.
    fn backing_off(&mut self) -> bool {
        if self.skip == 0 {
            return false;
        }
        self.skip -= 1;
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Every sink of a logger, fed by the consumer.
pub(crate) struct SinkSet {
    slots: Vec<SinkSlot>,
    shared: &'static ConsumerShared,
}

impl SinkSet {
    /// The sinks, counting their errors in `shared`.
    pub(crate) fn new(sinks: Vec<Box<dyn Sink>>, shared: &'static ConsumerShared) -> SinkSet {
        let slots: Vec<SinkSlot> = sinks
            .into_iter()
            .map(|sink| SinkSlot {
                counters: Arc::new(SinkCounters {
                    name: sink.name().to_owned(),
                    ..SinkCounters::default()
                }),
                sink,
                disabled: false,
                error_reported: false,
                skip: 0,
                backoff: 1,
            })
            .collect();
        let _ = shared
            .sinks
            .set(slots.iter().map(|s| Arc::clone(&s.counters)).collect());
        SinkSet { slots, shared }
    }

    fn dispatch(&mut self, event: &Event<'_>) {
        for slot in &mut self.slots {
            if slot.disabled || !slot.sink.enabled(event.metadata()) || slot.backing_off() {
                continue;
            }
            let result = guarded(|| catch_unwind(AssertUnwindSafe(|| slot.sink.write(event))));
            handle_result(slot, self.shared, result);
        }
    }
}

impl Receiver for SinkSet {
    fn event(&mut self, ordered: &Ordered<'_>) {
        if ordered.to_sinks {
            self.dispatch(ordered.event);
        }
    }

    fn gap(&mut self, thread: &ThreadInfo, timestamp_ns: u64, count: u64) {
        let values = [ValueRef::U64(count), ValueRef::U64(count)];
        let event = Event::new(&GAP_METADATA, timestamp_ns, thread, &values, false);
        self.dispatch(&event);
    }

    fn flush(&mut self) {
        for slot in &mut self.slots {
            if slot.disabled || slot.skip > 0 {
                continue;
            }
            let result = guarded(|| catch_unwind(AssertUnwindSafe(|| slot.sink.flush())));
            handle_result(slot, self.shared, result);
        }
    }
}

fn handle_result(
    slot: &mut SinkSlot,
    shared: &ConsumerShared,
    result: std::thread::Result<std::io::Result<()>>,
) {
    match result {
        Ok(Ok(())) => slot.backoff = 1,
        Ok(Err(err)) => {
            shared.sink_errors.fetch_add(1, Ordering::Relaxed);
            slot.counters.errors.fetch_add(1, Ordering::Relaxed);
            slot.skip = slot.backoff;
            slot.backoff = (slot.backoff * 2).min(MAX_BACKOFF_EVENTS);
            if !slot.error_reported {
                slot.error_reported = true;
                diag!(
                    "ttlog: sink `{}` failed to write: {err} (further errors are only counted; it \
                     sits out 1, 2, 4, ... up to 1024 events after each)",
                    slot.sink.name()
                );
            }
        }
        Err(_) => {
            shared.sink_errors.fetch_add(1, Ordering::Relaxed);
            slot.counters.errors.fetch_add(1, Ordering::Relaxed);
            slot.counters.disabled.store(true, Ordering::Relaxed);
            slot.disabled = true;
            diag!(
                "ttlog: sink `{}` panicked and was disabled; other sinks go on",
                slot.sink.name()
            );
        }
    }
}
