//! The sinks as one receiver of the consumer's events: each sink gets the events its filter
//! wants; a sink that fails is counted and reported once, one that panics is disabled, and
//! neither stops the others or the consumer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

use super::Sink;
use crate::consumer::{Ordered, Receiver};
use crate::event::{Event, GAP_METADATA};
use crate::guard::guarded;
use crate::runtime::ConsumerShared;
use crate::thread::ThreadInfo;
use crate::value::ValueRef;

struct SinkSlot {
    sink: Box<dyn Sink>,
    disabled: bool,
    error_reported: bool,
}

/// Every sink of a logger, fed by the consumer.
pub(crate) struct SinkSet {
    slots: Vec<SinkSlot>,
    shared: &'static ConsumerShared,
}

impl SinkSet {
    /// The sinks, counting their errors in `shared`.
    pub(crate) fn new(sinks: Vec<Box<dyn Sink>>, shared: &'static ConsumerShared) -> SinkSet {
        SinkSet {
            slots: sinks
                .into_iter()
                .map(|sink| SinkSlot {
                    sink,
                    disabled: false,
                    error_reported: false,
                })
                .collect(),
            shared,
        }
    }

    fn dispatch(&mut self, event: &Event<'_>) {
        for slot in &mut self.slots {
            if slot.disabled || !slot.sink.enabled(event.metadata()) {
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
            if slot.disabled {
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
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            shared.sink_errors.fetch_add(1, Ordering::Relaxed);
            if !slot.error_reported {
                slot.error_reported = true;
                diag!(
                    "ttlog: sink `{}` failed to write: {err} (further errors are only counted)",
                    slot.sink.name()
                );
            }
        }
        Err(_) => {
            shared.sink_errors.fetch_add(1, Ordering::Relaxed);
            slot.disabled = true;
            diag!(
                "ttlog: sink `{}` panicked and was disabled; other sinks go on",
                slot.sink.name()
            );
        }
    }
}
