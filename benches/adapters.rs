//! The compatibility adapters against native ttlog and against each facade's usual backend,
//! in one run, on the hot-path event of the core issue: level info, message "request
//! handled", fields user_id: u64 = 42, path: &str = "/api/v1/items", latency_ms: f64 = 3.25.
//!
//! Every case measures what the logging thread pays per event:
//!
//! - `ttlog_native`, `ttlog_via_tracing` (`TtlogTracingLayer::sole()`, what
//!   `enable_tracing_compatibility()` installs), `ttlog_via_log`, `ttlog_via_slog`: into ttlog
//!   (JSON to `io::sink()` on the consumer thread), timed in chunks that fit the thread's ring
//!   with an untimed flush between chunks (as in `hot_path`);
//! - `tracing_noop_subscriber`, `log_noop_visiting`, `slog_noop_serializing`: each facade into
//!   a backend that visits every value and does nothing: the facade's own cost, a floor no
//!   backend goes below;
//! - `tracing_fmt_json`: `tracing` + `tracing-subscriber`'s JSON formatter into `io::sink()`,
//!   formatted and written on the calling thread;
//! - `log_env_logger`: `log` + `env_logger` writing into `io::sink()`, on the calling thread;
//! - `slog_async_json`: `slog` + `slog-async` (blocking when full) + `slog-json` into
//!   `io::sink()`: the caller serializes the values into the channel, the async thread
//!   formats. Timed in chunks of 512 events with an untimed 2 ms pause between chunks, so the
//!   channel (4,096 entries) never fills: the cost of logging, not of waiting.
//!
//! `log` allows one logger per process: both `log` cases go through one installed logger
//! that forwards to ttlog's adapter or to `env_logger` (one relaxed load and a branch, paid by
//! both).
//!
//! Run: `cargo bench --bench adapters` (figures in docs/BENCHMARKS.md and docs/migration.md).

use std::hint::black_box;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::{
    NoopDrain, NoopSubscriber, NoopVisit, json_logger, time_in_chunks, tracing_event, tracing_json,
    ttlog_event, values,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slog::{Drain, o};
use tracing_subscriber::prelude::*;
use ttlog_integrations::log_compat::TtlogLogAdapter;
use ttlog_integrations::slog_compat::TtlogDrain;
use ttlog_integrations::tracing_compat::TtlogTracingLayer;

/// Forwards `log` records to ttlog's adapter, to `env_logger`, or to a logger that visits
/// the key-values and does nothing (the facade's own cost).
struct Switch {
    ttlog: TtlogLogAdapter,
    env_logger: OnceLock<env_logger::Logger>,
}

const TO_TTLOG: u8 = 0;
const TO_ENV_LOGGER: u8 = 1;
const TO_NOTHING: u8 = 2;
static LOG_TO: AtomicU8 = AtomicU8::new(TO_TTLOG);

impl log::Log for Switch {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        match LOG_TO.load(Ordering::Relaxed) {
            TO_ENV_LOGGER => self.env_logger.get().is_some_and(|l| l.enabled(metadata)),
            TO_NOTHING => true,
            _ => self.ttlog.enabled(metadata),
        }
    }

    fn log(&self, record: &log::Record<'_>) {
        match LOG_TO.load(Ordering::Relaxed) {
            TO_ENV_LOGGER => {
                if let Some(logger) = self.env_logger.get() {
                    logger.log(record);
                }
            }
            TO_NOTHING => {
                black_box(record.args());
                let _ = record.key_values().visit(&mut NoopVisit);
            }
            _ => self.ttlog.log(record),
        }
    }

    fn flush(&self) {}
}

static SWITCH: Switch = Switch {
    ttlog: TtlogLogAdapter::new(),
    env_logger: OnceLock::new(),
};

#[inline(always)]
fn log_event() {
    let (user_id, path, latency_ms) = values();
    log::info!(user_id, path, latency_ms; "request handled");
}

#[inline(always)]
fn slog_event(logger: &slog::Logger) {
    let (user_id, path, latency_ms) = values();
    slog::info!(logger, "request handled"; "user_id" => user_id, "path" => path, "latency_ms" => latency_ms);
}

/// Times `iters` events in chunks of 512 with an untimed pause after each chunk.
fn time_with_pauses(iters: u64, mut event: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(512);
        let start = Instant::now();
        for _ in 0..n {
            event();
        }
        total += start.elapsed();
        std::thread::sleep(Duration::from_millis(2));
        left -= n;
    }
    total
}

fn benches(c: &mut Criterion) {
    let logger = json_logger();
    log::set_logger(&SWITCH).expect("the only logger");
    let _ = SWITCH.env_logger.set(
        env_logger::Builder::new()
            .filter_level(log::LevelFilter::Info)
            .target(env_logger::Target::Pipe(Box::new(io::sink())))
            .build(),
    );
    log::set_max_level(log::LevelFilter::Info);
    let ttlog_slog = slog::Logger::root(TtlogDrain::new().fuse(), o!());
    let async_json = slog_async::Async::new(slog_json::Json::default(io::sink()).fuse())
        .chan_size(4096)
        .overflow_strategy(slog_async::OverflowStrategy::Block)
        .build()
        .fuse();
    let slog_async_json = slog::Logger::root(async_json, o!());
    // What `enable_tracing_compatibility()` installs.
    let ttlog_tracing =
        tracing::Dispatch::new(tracing_subscriber::registry().with(TtlogTracingLayer::sole()));
    let slog_noop = slog::Logger::root(NoopDrain, o!());

    // Callsites and this thread's ring are created outside the measurements.
    ttlog_event();
    tracing::dispatcher::with_default(&ttlog_tracing, tracing_event);
    log_event();
    slog_event(&ttlog_slog);
    logger.flush();

    let mut group = c.benchmark_group("adapters_caller");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ttlog_native", |b| {
        b.iter_custom(|iters| time_in_chunks(&logger, iters, ttlog_event))
    });
    group.bench_function("ttlog_via_tracing", |b| {
        tracing::dispatcher::with_default(&ttlog_tracing, || {
            b.iter_custom(|iters| time_in_chunks(&logger, iters, tracing_event))
        })
    });
    group.bench_function("tracing_fmt_json", |b| {
        tracing::subscriber::with_default(tracing_json(), || b.iter(tracing_event))
    });
    group.bench_function("tracing_noop_subscriber", |b| {
        tracing::subscriber::with_default(NoopSubscriber, || b.iter(tracing_event))
    });
    group.bench_function("ttlog_via_log", |b| {
        LOG_TO.store(TO_TTLOG, Ordering::Relaxed);
        b.iter_custom(|iters| time_in_chunks(&logger, iters, log_event))
    });
    group.bench_function("log_env_logger", |b| {
        LOG_TO.store(TO_ENV_LOGGER, Ordering::Relaxed);
        b.iter(log_event);
    });
    group.bench_function("log_noop_visiting", |b| {
        LOG_TO.store(TO_NOTHING, Ordering::Relaxed);
        b.iter(log_event);
        LOG_TO.store(TO_TTLOG, Ordering::Relaxed);
    });
    group.bench_function("ttlog_via_slog", |b| {
        b.iter_custom(|iters| time_in_chunks(&logger, iters, || slog_event(&ttlog_slog)))
    });
    group.bench_function("slog_async_json", |b| {
        b.iter_custom(|iters| time_with_pauses(iters, || slog_event(&slog_async_json)))
    });
    group.bench_function("slog_noop_serializing", |b| {
        b.iter(|| slog_event(&slog_noop))
    });
    group.finish();

    logger.flush();
    let stats = logger.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
}

criterion_group!(adapters, benches);
criterion_main!(adapters);
