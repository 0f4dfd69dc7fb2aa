//! End-to-end JSON into a rotating file, side by side with `tracing-appender`'s rolling file
//! writer, in one run: the benches' event (level info, message "request handled", fields
//! user_id: u64 = 42, path: &str = "/api/v1/items", latency_ms: f64 = 3.25), 200,000 events
//! per iteration, from the first event until every line is in the file.
//!
//! - `ttlog_file_json`: `ttlog::info!` into ttlog's `FileSink` (JSON lines, rotation at
//!   16 MiB, two rotated files kept, so rotation and retention run during the bench),
//!   `Overflow::Block` (nothing lost), timed up to `handle.flush()`.
//! - `ttlog_file_json_redacted`: the same with the default redaction rules
//!   (`RedactionRules::default()`, set through the handle): what scanning every event costs
//!   the consumer when the event holds no secret (the usual case).
//! - `tracing_appender_json`: `tracing::info!` into tracing-subscriber's JSON formatter
//!   writing through `tracing_appender::non_blocking` (lossy off: nothing lost) into
//!   `tracing_appender::rolling` (hourly: it has no rotation by size), timed up to the drop of
//!   its guard (which waits for the writer thread).
//!
//! Run: `cargo bench --bench file` (figures in docs/BENCHMARKS.md).

use std::time::Instant;

mod common;

use common::tracing_event;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ttlog::sinks::FileSink;
use ttlog::{LogLevel, Overflow};

const EVENTS: u64 = 200_000;

fn benches(c: &mut Criterion) {
    let root = std::env::temp_dir().join(format!("ttlog-bench-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let sink = FileSink::builder(root.join("ttlog").join("requests.log"))
        .max_size(16 << 20)
        .max_files(2)
        .build();
    let housekeeping = sink.housekeeping();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .thread_buffer_size(1 << 20)
        .sink(sink)
        .init();

    let mut group = c.benchmark_group("file_end_to_end");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    // Events until every line is in the file (`flush` waits for the sinks).
    let ttlog_case = |b: &mut criterion::Bencher<'_>| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..EVENTS {
                    common::ttlog_event();
                }
                handle.flush();
            }
            start.elapsed()
        })
    };
    group.bench_function("ttlog_file_json", ttlog_case);
    handle.set_redactor(Some(std::sync::Arc::new(
        ttlog::sinks::RedactionRules::default(),
    )));
    group.bench_function("ttlog_file_json_redacted", ttlog_case);
    handle.set_redactor(None);
    let mut round = 0;
    group.bench_function("tracing_appender_json", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                round += 1;
                let dir = root.join(format!("tracing-{round}"));
                let appender = tracing_appender::rolling::hourly(&dir, "requests.log");
                let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                    .lossy(false)
                    .finish(appender);
                let subscriber = tracing_subscriber::fmt()
                    .json()
                    .with_max_level(tracing::Level::INFO)
                    .with_writer(writer)
                    .finish();
                let start = Instant::now();
                tracing::subscriber::with_default(subscriber, || {
                    for _ in 0..EVENTS {
                        tracing_event();
                    }
                });
                drop(guard);
                total += start.elapsed();
                let _ = std::fs::remove_dir_all(&dir);
            }
            total
        })
    });
    group.finish();

    handle.flush();
    housekeeping.wait_idle(std::time::Duration::from_secs(10));
    let stats = handle.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert!(stats.sinks.iter().all(|s| s.errors == 0), "{stats:?}");
    drop(handle);
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(file, benches);
criterion_main!(file);
