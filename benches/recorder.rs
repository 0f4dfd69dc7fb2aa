//! The flight recorder, side by side with `tracing` in the same run:
//!
//! - `recorder/caller_trace_recorded`: a trace event that no sink prints (console at info) but
//!   the recorder keeps (`recorder_level(Trace)`): what the calling thread pays.
//!   `recorder/tracing_noop_subscriber` is the same event through tracing's bare dispatch.
//! - `recorder/snapshot_100k`: writing a snapshot of 100,000 recorded events to disk.
//! - After the benches: the process's resident memory before and after 10,000,000 recorded
//!   events, which must grow by no more than the recorder's capacity plus a constant.
//!
//! Run: `cargo bench --bench recorder` (figures in docs/BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::{NoopSubscriber, time_in_chunks};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ttlog::{LogLevel, Overflow};

const SNAPSHOT_EVENTS: usize = 100_000;
const RSS_EVENTS: u64 = 10_000_000;
/// Recorder bound in bytes (128 bytes per event of capacity, the default ratio).
const RECORDER_BYTES: usize = SNAPSHOT_EVENTS * 128;

#[inline(always)]
fn ttlog_trace() {
    let user_id = black_box(42u64);
    let path = black_box("/api/v1/items");
    let latency_ms = black_box(3.25f64);
    ttlog::trace!("cache lookup", user_id, path, latency_ms);
}

#[inline(always)]
fn tracing_trace() {
    let user_id = black_box(42u64);
    let path = black_box("/api/v1/items");
    let latency_ms = black_box(3.25f64);
    tracing::trace!(user_id, path, latency_ms, "cache lookup");
}

/// Resident set size in bytes (Linux), or 0.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn benches(c: &mut Criterion) {
    let rss_at_start = rss();
    let dir = std::env::temp_dir().join(format!("ttlog-bench-{}", std::process::id()));
    let logger = ttlog::init()
        .with_env(false)
        .console(true)
        .level(LogLevel::Info)
        .recorder_level(LogLevel::Trace)
        .capacity(SNAPSHOT_EVENTS)
        .recorder_bytes(RECORDER_BYTES)
        .snapshot_dir(&dir)
        .snapshot_retention(3)
        .overflow(Overflow::Block)
        .thread_buffer_size(1 << 20)
        .init();
    ttlog_trace();
    logger.flush();

    let mut group = c.benchmark_group("recorder");
    group.throughput(Throughput::Elements(1));
    group.bench_function("caller_trace_recorded", |b| {
        b.iter_custom(|iters| time_in_chunks(&logger, iters, ttlog_trace))
    });
    group.bench_function("tracing_noop_subscriber", |b| {
        tracing::subscriber::with_default(NoopSubscriber, || b.iter(tracing_trace))
    });
    group.sample_size(10);
    group.throughput(Throughput::Elements(SNAPSHOT_EVENTS as u64));
    group.bench_function("snapshot_100k", |b| {
        for _ in 0..SNAPSHOT_EVENTS {
            ttlog_trace();
        }
        logger.flush();
        assert_eq!(logger.recorder_len(), SNAPSHOT_EVENTS);
        b.iter(|| logger.snapshot("bench").unwrap())
    });
    group.finish();

    let size = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok().map(|m| m.len()))
        .max()
        .unwrap_or(0);
    eprintln!("snapshot of {SNAPSHOT_EVENTS} events: {size} bytes on disk");

    // Memory: 10M recorded events on top of everything above may not grow the process, since
    // before `init`, by more than the recorder's bound plus a constant (thread rings, staging,
    // snapshot buffers).
    let before = rss_at_start;
    let before_loop = rss();
    for i in 0..RSS_EVENTS {
        ttlog_trace();
        if i % 1_000_000 == 0 {
            logger.flush();
        }
    }
    logger.flush();
    let after = rss();
    let growth = after.saturating_sub(before);
    eprintln!(
        "RSS before init {} MiB, before the {RSS_EVENTS}-event loop {} MiB, after it {} MiB: \
         growth since init {} KiB, during the loop {} KiB (recorder bound {} KiB)",
        before >> 20,
        before_loop >> 20,
        after >> 20,
        growth >> 10,
        after.saturating_sub(before_loop) >> 10,
        RECORDER_BYTES >> 10
    );
    assert!(
        growth <= RECORDER_BYTES as u64 + (16 << 20),
        "RSS grew by {growth} bytes"
    );
    let stats = logger.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    drop(logger);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = recorder;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(recorder);
