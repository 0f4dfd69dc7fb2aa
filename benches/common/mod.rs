//! Pieces shared by the benches: tracing's no-op subscriber, and ttlog's chunked timing of the
//! caller's cost.

use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use ttlog::TtlogHandle;

/// Events per timed chunk: 4,096 records of under 100 bytes fill well under half of the 1 MiB
/// thread ring the benches use, so a chunk never waits for the consumer.
pub(crate) const CHUNK: u64 = 4_096;

/// A subscriber that accepts everything and visits every field, doing nothing with them:
/// tracing's bare dispatch cost.
pub(crate) struct NoopSubscriber;

struct NoopVisitor;

impl Visit for NoopVisitor {
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Subscriber for NoopSubscriber {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        event.record(&mut NoopVisitor);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Times `iters` calls of `event` in chunks of [`CHUNK`], flushing (untimed) between chunks:
/// the cost of recording an event, not of waiting for the consumer.
pub(crate) fn time_in_chunks(
    logger: &TtlogHandle,
    iters: u64,
    mut event: impl FnMut(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            event();
        }
        total += start.elapsed();
        logger.flush();
        left -= n;
    }
    total
}
