//! Once a thread has logged from a call site, an event through each adapter allocates
//! nothing on the calling thread: `tracing` events (in and out of an entered span), `log`
//! records with arguments and key-values, `slog` records with record and logger values.
//! Creating spans and the first event of a call site (which makes its ttlog callsite) do
//! allocate, as they do natively.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use slog::{Drain, o};
use tracing_subscriber::prelude::*;
use ttlog::{LogLevel, Overflow};
use ttlog_integrations::slog_compat::TtlogDrain;
use ttlog_integrations::tracing_compat::{TtlogFilter, TtlogTracingLayer};

struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
    });
}

// SAFETY: forwards to the system allocator; the counters are thread-local cells that do not
// allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocations on this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(|a| a.get())
}

fn tracing_events(i: u64) {
    tracing::info!(
        user_id = 42_u64,
        path = "/api/v1/items",
        latency_ms = 3.25,
        "request handled"
    );
    tracing::warn!(attempt = i, error = %"timeout", "retrying in {} ms", 250);
}

fn log_records(i: u64) {
    log::info!(user_id = 42_u64, path = "/api/v1/items", latency_ms = 3.25; "request handled");
    log::warn!("retrying request {i} in {} ms", 250);
}

fn slog_records(logger: &slog::Logger, i: u64) {
    slog::info!(logger, "request handled"; "user_id" => 42_u64, "path" => "/api/v1/items", "latency_ms" => 3.25);
    slog::warn!(logger, "retrying in {} ms", 250; "attempt" => i);
}

#[test]
fn adapters_allocate_nothing_per_event() {
    let handle = ttlog_integrations::log_compat::try_init_with_log_compatibility(
        ttlog::init()
            .with_env(false)
            .console(false)
            .level(LogLevel::Info)
            .overflow(Overflow::Block)
            .panic_hook(false)
            .signals(false),
    )
    .unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(TtlogTracingLayer::new().with_filter(TtlogFilter::new()));
    let slog_logger = slog::Logger::root(TtlogDrain::new().fuse(), o!("service" => "api"));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", request_id = 7_u64);
        // Warm-up: the thread's ring, each call site's callsite, the entered-span stack.
        for i in 0..3 {
            tracing_events(i);
            span.in_scope(|| tracing_events(i));
            log_records(i);
            slog_records(&slog_logger, i);
        }
        let tracing_outside = allocations(|| (0..1000).for_each(tracing_events));
        let tracing_inside = allocations(|| span.in_scope(|| (0..1000).for_each(tracing_events)));
        let log = allocations(|| (0..1000).for_each(log_records));
        let slog = allocations(|| (0..1000).for_each(|i| slog_records(&slog_logger, i)));
        assert_eq!(
            (tracing_outside, tracing_inside, log, slog),
            (0, 0, 0, 0),
            "allocations per 2,000 events: tracing outside a span, tracing inside, log, slog"
        );
    });
    handle.flush();
    assert_eq!(handle.stats().dropped, 0);
}
