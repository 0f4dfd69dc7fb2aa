//! The hot path, side by side with `tracing`, all on the same event:
//! level info, message "request handled", fields user_id: u64 = 42,
//! path: &str = "/api/v1/items", latency_ms: f64 = 3.25.
//!
//! - `caller/*`: what the logging thread pays per event.
//!   ttlog's enabled cost is measured in chunks that fit the thread's ring, with a flush
//!   (untimed) between chunks, so it is the cost of recording, not of waiting for the consumer.
//! - `end_to_end/*`: 2,000,000 events formatted as JSON into `io::sink()`, flush included.
//!
//! Run: `cargo bench --bench hot_path` (figures and the machine in docs/BENCHMARKS.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::{
    NoopSubscriber, USER_ID, json_logger, time_in_chunks, tracing_event, tracing_json, ttlog_event,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Events per end-to-end iteration.
const END_TO_END_EVENTS: u64 = 2_000_000;

fn benches(c: &mut Criterion) {
    let logger = json_logger();
    // Register the callsites and create this thread's ring outside the measurements.
    ttlog_event();
    logger.flush();

    let mut caller = c.benchmark_group("caller");
    caller.throughput(Throughput::Elements(1));
    caller.bench_function("ttlog_enabled", |b| {
        b.iter_custom(|iters| time_in_chunks(&logger, iters, ttlog_event))
    });
    caller.bench_function("ttlog_disabled", |b| {
        b.iter(|| ttlog::debug!("request handled", user_id = black_box(USER_ID)))
    });
    caller.bench_function("tracing_noop_subscriber", |b| {
        tracing::subscriber::with_default(NoopSubscriber, || b.iter(tracing_event))
    });
    caller.bench_function("tracing_fmt_json", |b| {
        tracing::subscriber::with_default(tracing_json(), || b.iter(tracing_event))
    });
    caller.bench_function("tracing_disabled", |b| {
        tracing::subscriber::with_default(tracing_json(), || {
            b.iter(|| tracing::debug!(user_id = black_box(USER_ID), "request handled"))
        })
    });
    caller.finish();

    let mut e2e = c.benchmark_group("end_to_end");
    e2e.throughput(Throughput::Elements(END_TO_END_EVENTS));
    e2e.sample_size(10);
    e2e.bench_function("ttlog_json_2M", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..END_TO_END_EVENTS {
                    ttlog_event();
                }
                logger.flush();
            }
            start.elapsed()
        })
    });
    e2e.bench_function("tracing_fmt_json_2M", |b| {
        tracing::subscriber::with_default(tracing_json(), || {
            b.iter(|| {
                for _ in 0..END_TO_END_EVENTS {
                    tracing_event();
                }
            })
        })
    });
    e2e.finish();

    let stats = logger.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    eprintln!("ttlog stats after the run: {stats:?}");
}

criterion_group! {
    name = hot_path;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(hot_path);
