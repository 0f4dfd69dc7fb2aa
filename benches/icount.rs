//! Instruction counts of the caller's side, for callgrind: stable where wall-clock timings on a
//! shared VM are not (see docs/BENCHMARKS.md). Not a criterion bench: it runs `N` events (or
//! span enter/exit pairs) in a non-inlined function that callgrind counts alone.
//!
//! ```text
//! cargo bench --bench icount --no-run          # prints the binary's path
//! N=10000 MODE=event valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='icount::events' target/release/deps/icount-<hash>
//! ```
//!
//! Run with two values of `N` and divide the difference of the totals by the difference of
//! `N`: that removes the one-time costs (registration, the thread's ring). `benches/icount.sh`
//! does all of it and prints the table of docs/BENCHMARKS.md. `MODE` is one of:
//!
//! - ttlog: `event` (the `hot_path` event), `disabled` (`debug!` at level info), `in_span`
//!   (the event inside an entered span), `enter_exit` (toggle `icount::enter_exit` instead);
//! - tracing with a no-op subscriber: `tracing_noop`, `tracing_disabled` (tracing-subscriber at
//!   info), `tracing_noop_in_span`, `tracing_enter_exit` (toggle `icount::tracing_enter_exit`);
//! - the adapters: `tracing` (layer with `TtlogFilter`), `tracing_sole`, `log`, `slog`;
//! - `floor`: a timestamp and a 48-byte store into a thread-local ring (`common::floor_events`).

use std::hint::black_box;

mod common;

#[inline(never)]
fn events(n: u64) {
    for i in 0..n {
        let user_id = black_box(42u64 + i);
        let path = black_box("/api/v1/items");
        let latency_ms = black_box(3.25f64);
        ttlog::info!("request handled", user_id, path, latency_ms);
    }
}

/// A `debug!` event while the level is info: the disabled path.
#[inline(never)]
fn disabled_events(n: u64) {
    for i in 0..n {
        let user_id = black_box(42u64 + i);
        let path = black_box("/api/v1/items");
        let latency_ms = black_box(3.25f64);
        ttlog::debug!("request handled", user_id, path, latency_ms);
    }
}

/// `tracing::debug!` while tracing's level is info.
#[inline(never)]
fn tracing_disabled_events(n: u64) {
    for i in 0..n {
        let user_id = black_box(42u64 + i);
        let path = black_box("/api/v1/items");
        let latency_ms = black_box(3.25f64);
        tracing::debug!(user_id, path, latency_ms, "request handled");
    }
}

#[inline(never)]
fn tracing_events(n: u64) {
    for i in 0..n {
        let user_id = black_box(42u64 + i);
        let path = black_box("/api/v1/items");
        let latency_ms = black_box(3.25f64);
        tracing::info!(user_id, path, latency_ms, "request handled");
    }
}

#[inline(never)]
fn log_events(n: u64) {
    for i in 0..n {
        let user_id = black_box(42u64 + i);
        let path = black_box("/api/v1/items");
        let latency_ms = black_box(3.25f64);
        log::info!(user_id, path, latency_ms; "request handled");
    }
}

#[inline(never)]
fn slog_events(logger: &slog::Logger, n: u64) {
    for i in 0..n {
        let user_id = black_box(42u64 + i);
        let path = black_box("/api/v1/items");
        let latency_ms = black_box(3.25f64);
        slog::info!(logger, "request handled"; "user_id" => user_id, "path" => path, "latency_ms" => latency_ms);
    }
}

#[inline(never)]
fn tracing_enter_exit(span: &tracing::Span, n: u64) {
    for _ in 0..n {
        drop(black_box(span.enter()));
    }
}

#[inline(never)]
fn enter_exit(span: &ttlog::Span, n: u64) {
    for _ in 0..n {
        drop(black_box(span.enter()));
    }
}

fn main() {
    // `cargo bench` passes `--bench`; without `N` this is a quick smoke run.
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let logger = ttlog::init()
        .with_env(false)
        .console(false)
        .level(ttlog::LogLevel::Info)
        .overflow(ttlog::Overflow::Block)
        // Large enough that the measured loop never waits for the consumer.
        .thread_buffer_size(1 << 22)
        .sink(ttlog::WriterSink::new(std::io::sink(), ttlog::Format::Json))
        .init();
    let span = ttlog::info_span!("http_request", request_id = 7_u64);
    // One-time costs outside the counted calls' difference.
    events(1);
    enter_exit(&span, 1);
    logger.flush();
    match std::env::var("MODE").as_deref() {
        Ok("in_span") => {
            let _entered = span.enter();
            events(n);
        }
        Ok("enter_exit") => enter_exit(&span, n),
        Ok("tracing") => {
            use tracing_subscriber::prelude::*;
            use ttlog_integrations::tracing_compat::{TtlogFilter, TtlogTracingLayer};
            let subscriber = tracing_subscriber::registry()
                .with(TtlogTracingLayer::new().with_filter(TtlogFilter::new()));
            tracing::subscriber::with_default(subscriber, || {
                tracing_events(1);
                tracing_events(n);
            });
        }
        Ok("disabled") => {
            disabled_events(1);
            disabled_events(n);
        }
        Ok("tracing_disabled") => {
            use tracing_subscriber::prelude::*;
            let subscriber = tracing_subscriber::registry().with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::sink)
                    .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            );
            tracing::subscriber::with_default(subscriber, || {
                tracing_disabled_events(1);
                tracing_disabled_events(n);
            });
        }
        Ok("floor") => {
            common::floor_events(1);
            common::floor_events(n);
        }
        Ok("tracing_noop") => {
            tracing::subscriber::with_default(common::NoopSubscriber, || {
                tracing_events(1);
                tracing_events(n);
            });
        }
        Ok("tracing_noop_in_span") => {
            tracing::subscriber::with_default(common::NoopSubscriber, || {
                let span = tracing::info_span!("http_request", request_id = 7_u64);
                let _entered = span.enter();
                tracing_events(1);
                tracing_events(n);
            });
        }
        Ok("tracing_enter_exit") => {
            tracing::subscriber::with_default(common::NoopSubscriber, || {
                let span = tracing::info_span!("http_request", request_id = 7_u64);
                tracing_enter_exit(&span, 1);
                tracing_enter_exit(&span, n);
            });
        }
        Ok("tracing_sole") => {
            use tracing_subscriber::prelude::*;
            let subscriber = tracing_subscriber::registry()
                .with(ttlog_integrations::tracing_compat::TtlogTracingLayer::sole());
            tracing::subscriber::with_default(subscriber, || {
                tracing_events(1);
                tracing_events(n);
            });
        }
        Ok("log") => {
            ttlog_integrations::log_compat::install().expect("the only logger");
            log_events(1);
            log_events(n);
        }
        Ok("slog") => {
            use slog::Drain;
            let logger = slog::Logger::root(
                ttlog_integrations::slog_compat::TtlogDrain::new().fuse(),
                slog::o!(),
            );
            slog_events(&logger, 1);
            slog_events(&logger, n);
        }
        _ => events(n),
    }
    logger.flush();
    assert_eq!(logger.stats().dropped, 0);
}
