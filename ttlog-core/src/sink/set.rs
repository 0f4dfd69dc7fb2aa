//! The sinks as one receiver of the consumer's events: each sink gets the events its filter
//! wants; a sink that fails is counted and reported once, one that panics is disabled, and
//! neither stops the others or the consumer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Sink;
use crate::callsite::{Metadata, logger_filter_enables, logger_filter_epoch};
use crate::consumer::{Ordered, Receiver};
use crate::event::{Event, GAP_METADATA};
use crate::filter::Filter;
use crate::guard::guarded;
use crate::redact::Redaction;
use crate::redactor::Redactor;
use crate::runtime::{ConsumerShared, SinkCounters};
use crate::thread::ThreadInfo;
use crate::value::{FieldsRef, ValueRef};

/// After a failure a sink sits out 1 event, then 2, 4, ... up to this many, until a write
/// succeeds: a sink that fails on every event (a closed pipe) costs little, and one that
/// recovers gets events again soon. Counted in events, not time, so it is deterministic.
const MAX_BACKOFF_EVENTS: u64 = 1024;

/// A direct-mapped cache of filter answers by callsite (the address of its metadata): the
/// consumer evaluates a directive filter once per callsite, not per event.
struct FilterCache {
    /// (metadata address, epoch of the answer, answer); address 0 never matches.
    entries: Box<[(usize, u64, bool)]>,
}

impl FilterCache {
    const SIZE: usize = 256;

    fn new() -> FilterCache {
        FilterCache {
            entries: vec![(0, 0, false); Self::SIZE].into_boxed_slice(),
        }
    }

    /// The answer for `meta` at `epoch`, from the cache or from `eval` (which returns the
    /// answer and the epoch it belongs to).
    fn check(
        &mut self,
        meta: &Metadata<'_>,
        epoch: u64,
        eval: impl FnOnce() -> (bool, u64),
    ) -> bool {
        if meta.is_stored() {
            // Metadata read back from a snapshot: its address may be reused later.
            return eval().0;
        }
        let key = meta as *const Metadata<'_> as usize;
        let at = ((key >> 4) ^ (key >> 12)) % Self::SIZE;
        let entry = &mut self.entries[at];
        if entry.0 == key && entry.1 == epoch {
            return entry.2;
        }
        let (answer, answer_epoch) = eval();
        *entry = (key, answer_epoch, answer);
        answer
    }
}

struct SinkSlot {
    sink: Box<dyn Sink>,
    /// The sink's own filter ([`Sink::filter`]), with its answers cached.
    own: Option<(Filter, FilterCache)>,
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
    /// Some sink has a filter of its own: the callsite's interest then says only that *some*
    /// sink wants an event, and the sinks that follow the logger's filter must ask it.
    mixed: bool,
    /// The logger filter's answers, for the sinks that follow it.
    logger: FilterCache,
    /// The logger's static fields (encoded pairs and their count), added to every event.
    statics: Option<(Vec<u8>, u16)>,
    /// Redaction before any sink (`Builder::redactor`).
    redaction: Option<Redaction>,
    /// The redactor panicked once: reported, and every event it fails on is dropped (counted).
    redaction_failed: bool,
}

impl SinkSet {
    /// The sinks, counting their errors in `shared`.
    /// `filters` are the sinks' own filters (`Sink::filter`), in the same order.
    pub(crate) fn new(
        sinks: Vec<Box<dyn Sink>>,
        filters: Vec<Option<Filter>>,
        shared: &'static ConsumerShared,
    ) -> SinkSet {
        let mixed = filters.iter().any(Option::is_some);
        let slots: Vec<SinkSlot> = sinks
            .into_iter()
            .zip(filters)
            .map(|(sink, own)| SinkSlot {
                counters: Arc::new(SinkCounters {
                    name: sink.name().to_owned(),
                    own_dropped: sink.drop_counter(),
                    ..SinkCounters::default()
                }),
                own: own.map(|filter| (filter, FilterCache::new())),
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
        SinkSet {
            slots,
            shared,
            mixed,
            logger: FilterCache::new(),
            statics: None,
            redaction: None,
            redaction_failed: false,
        }
    }

    /// Adds `count` static fields (encoded pairs) to every event the sinks get.
    pub(crate) fn with_statics(mut self, pairs: Vec<u8>, count: u16) -> SinkSet {
        self.statics = (count > 0).then_some((pairs, count));
        self
    }

    /// Redacts every event by `rules` before the sinks see it.
    pub(crate) fn with_redactor(mut self, rules: Option<Arc<dyn Redactor>>) -> SinkSet {
        self.redaction = rules.map(Redaction::for_logger);
        self
    }

    /// Takes new redaction rules given through the handle, if any.
    fn update_redaction(&mut self) {
        // A plain load first: a swap is a locked instruction, paid on every event otherwise.
        if !self.shared.redactor_changed.load(Ordering::Relaxed)
            || !self.shared.redactor_changed.swap(false, Ordering::Acquire)
        {
            return;
        }
        let update = match self.shared.redactor.lock() {
            Ok(mut slot) => slot.0.take(),
            Err(poisoned) => poisoned.into_inner().0.take(),
        };
        match (update, &mut self.redaction) {
            (Some(Some(rules)), Some(redaction)) => redaction.set_rules(rules),
            (Some(Some(rules)), None) => self.redaction = Some(Redaction::for_logger(rules)),
            (Some(None), _) => self.redaction = None,
            (None, _) => {}
        }
    }

    /// Hands `event` to every sink that wants it, after the static fields are added and
    /// secrets redacted; a gap marker (`filtered` false) goes to every sink whatever its
    /// filter, since it reports events that are missing.
    fn dispatch(&mut self, event: &Event<'_>, filtered: bool) {
        self.update_redaction();
        if self.statics.is_none() && self.redaction.is_none() {
            self.deliver(event, filtered);
        } else {
            self.enrich_and_deliver(event, filtered);
        }
    }

    /// `dispatch` with static fields to add or redaction rules to apply.
    #[inline(never)]
    fn enrich_and_deliver(&mut self, event: &Event<'_>, filtered: bool) {
        // Taken out while the sinks run (they borrow `self`), put back below.
        let statics = self.statics.take();
        let enriched;
        let event = match &statics {
            Some((pairs, count)) => {
                enriched = event.with_statics(FieldsRef::new(pairs, *count, false));
                &enriched
            }
            None => event,
        };
        let Some(mut redaction) = self.redaction.take() else {
            self.deliver(event, filtered);
            self.statics = statics;
            return;
        };
        let result = guarded(|| {
            catch_unwind(AssertUnwindSafe(|| {
                redaction.apply(event, |redacted| self.deliver(redacted, filtered))
            }))
        });
        self.redaction = Some(redaction);
        if result.is_err() {
            // Fail closed: an event the rules could not be applied to is not written.
            self.shared.sink_errors.fetch_add(1, Ordering::Relaxed);
            if !self.redaction_failed {
                self.redaction_failed = true;
                diag!(
                    "ttlog: the redaction rules panicked on an event from `{}`; such events are \
                     not written (counted in stats().sink_errors)",
                    event.target()
                );
            }
        }
        self.statics = statics;
    }

    fn deliver(&mut self, event: &Event<'_>, filtered: bool) {
        let meta = event.metadata();
        let epoch = if filtered && self.mixed {
            logger_filter_epoch()
        } else {
            0
        };
        let mut logger_answer = None;
        for slot in &mut self.slots {
            if slot.disabled {
                continue;
            }
            if filtered && self.mixed {
                let wanted = match &mut slot.own {
                    Some((filter, cache)) => {
                        cache.check(meta, 0, || (filter.enabled(meta.level(), meta.target()), 0))
                    }
                    None => *logger_answer.get_or_insert_with(|| {
                        self.logger
                            .check(meta, epoch, || logger_filter_enables(meta))
                    }),
                };
                if !wanted {
                    continue;
                }
            }
            if !slot.sink.enabled(meta) || slot.backing_off() {
                continue;
            }
            let result = guarded(|| catch_unwind(AssertUnwindSafe(|| slot.sink.write(event))));
            handle_result(slot, self.shared, result);
        }
    }
}

impl Receiver for SinkSet {
    fn event(&mut self, ordered: &Ordered<'_>) {
        // No sinks (the flight recorder alone): nothing to enrich, redact or write.
        if ordered.to_sinks && !self.slots.is_empty() {
            self.dispatch(ordered.event, true);
        }
    }

    fn gap(&mut self, thread: &ThreadInfo, timestamp_ns: u64, count: u64) {
        let values = [ValueRef::U64(count), ValueRef::U64(count)];
        let event = Event::new(&GAP_METADATA, timestamp_ns, thread, &values, false);
        self.dispatch(&event, false);
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

/// After a sink's call: success resets its back-off (inline: every event takes this path);
/// an error or a panic is handled out of line.
#[inline(always)]
fn handle_result(
    slot: &mut SinkSlot,
    shared: &ConsumerShared,
    result: std::thread::Result<std::io::Result<()>>,
) {
    match result {
        Ok(Ok(())) => slot.backoff = 1,
        failed => sink_failed(slot, shared, failed),
    }
}

/// A sink's write or flush returned an error (counted, reported once, and the sink sits out
/// a back-off that doubles with each error in a row) or panicked (see [`sink_panicked`]).
#[cold]
#[inline(never)]
fn sink_failed(
    slot: &mut SinkSlot,
    shared: &ConsumerShared,
    result: std::thread::Result<std::io::Result<()>>,
) {
    let err = match result {
        Ok(Err(err)) => err,
        Err(_) => return sink_panicked(slot, shared),
        // Not a failure; `handle_result` does not send it here.
        Ok(Ok(())) => return,
    };
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

/// A sink panicked: counted, reported, and the sink is disabled for good.
fn sink_panicked(slot: &mut SinkSlot, shared: &ConsumerShared) {
    shared.sink_errors.fetch_add(1, Ordering::Relaxed);
    slot.counters.errors.fetch_add(1, Ordering::Relaxed);
    slot.counters.disabled.store(true, Ordering::Relaxed);
    slot.disabled = true;
    diag!(
        "ttlog: sink `{}` panicked and was disabled; other sinks go on",
        slot.sink.name()
    );
}
