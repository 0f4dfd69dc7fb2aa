//! Spans, side by side with `tracing` (a no-op subscriber, and tracing-subscriber's JSON
//! formatter with its span registry), all in the same run:
//!
//! - `span/*_enter_exit`: entering and leaving a span that already exists;
//! - `span/*_event_in_span`: one event (as in `hot_path`) inside an entered span with two fields;
//! - `span/*_enter_event_exit`: both, per iteration (ttlog then also hands the span to the
//!   consumer, a 40-byte release record);
//! - `span/*_new_close`: creating a span and dropping it (ttlog logs its close event).
//!
//! ttlog's timings that write records are taken in chunks that fit the thread's ring, with an
//! untimed flush between chunks, as in `hot_path`.
//!
//! Run: `cargo bench --bench spans` (figures in docs/BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::{
    NoopSubscriber, json_logger, time_in_chunks, tracing_event, tracing_json, ttlog_event,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tracing::Subscriber;

/// The tracing side of each benchmark, under `subscriber`.
fn tracing_benches(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    subscriber: impl Subscriber + Send + Sync,
) {
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("http_request", request_id = 7_u64, method = "GET");
        c.bench_function(format!("tracing_{name}_enter_exit"), |b| {
            b.iter(|| drop(black_box(span.enter())))
        });
        c.bench_function(format!("tracing_{name}_event_in_span"), |b| {
            let _entered = span.enter();
            b.iter(tracing_event)
        });
        c.bench_function(format!("tracing_{name}_enter_event_exit"), |b| {
            b.iter(|| {
                let _entered = span.enter();
                tracing_event();
            })
        });
        c.bench_function(format!("tracing_{name}_new_close"), |b| {
            b.iter(|| {
                drop(tracing::info_span!(
                    "db_query",
                    table = black_box("orders"),
                    rows = black_box(3_u64)
                ))
            })
        });
    });
}

fn benches(c: &mut Criterion) {
    let logger = json_logger();
    let span = ttlog::info_span!("http_request", request_id = 7_u64, method = "GET");
    // Register the callsites and create this thread's ring outside the measurements.
    span.in_scope(ttlog_event);
    logger.flush();

    let mut group = c.benchmark_group("span");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ttlog_enter_exit", |b| {
        b.iter(|| drop(black_box(span.enter())))
    });
    group.bench_function("ttlog_event_in_span", |b| {
        let _entered = span.enter();
        b.iter_custom(|iters| time_in_chunks(&logger, iters, ttlog_event))
    });
    group.bench_function("ttlog_enter_event_exit", |b| {
        b.iter_custom(|iters| {
            time_in_chunks(&logger, iters, || {
                let _entered = span.enter();
                ttlog_event();
            })
        })
    });
    group.bench_function("ttlog_new_close", |b| {
        b.iter_custom(|iters| {
            time_in_chunks(&logger, iters, || {
                drop(ttlog::info_span!(
                    "db_query",
                    table = black_box("orders"),
                    rows = black_box(3_u64)
                ))
            })
        })
    });
    tracing_benches(&mut group, "noop", NoopSubscriber);
    tracing_benches(&mut group, "fmt_json", tracing_json());
    group.finish();

    drop(span);
    logger.flush();
    let stats = logger.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
}

criterion_group! {
    name = spans;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(spans);
