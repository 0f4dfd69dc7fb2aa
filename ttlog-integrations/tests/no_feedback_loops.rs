//! A sink that itself logs through `log`, `tracing` and `slog` for every event it writes (as a
//! sink whose HTTP client logs would) does not feed those events back into the pipeline: the
//! program's events arrive once each, the sink's own are counted as suppressed, and nothing
//! loops or hangs.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use slog::{Drain, o};
use tracing_subscriber::prelude::*;
use ttlog::{Event, LogLevel, Overflow, Sink};
use ttlog_integrations::slog_compat::TtlogDrain;
use ttlog_integrations::tracing_compat::{TtlogFilter, TtlogTracingLayer};

const EVENTS: u64 = 200;

fn slog_logger() -> &'static slog::Logger {
    static LOGGER: OnceLock<slog::Logger> = OnceLock::new();
    LOGGER.get_or_init(|| slog::Logger::root(TtlogDrain::new().fuse(), o!()))
}

/// Logs through every facade for each event it is handed.
struct ChattySink(Arc<AtomicU64>);

impl Sink for ChattySink {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.0.fetch_add(1, Ordering::Relaxed);
        log::info!(target: "sink_client", "POST /ingest for {}", event.message());
        tracing::info!(target: "sink_client", bytes = 512_u64, "sent batch");
        slog::info!(slog_logger(), "retry budget left"; "budget" => 3_u32);
        Ok(())
    }
}

#[test]
fn a_sink_that_logs_through_the_facades_does_not_feed_itself() {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("the test did not finish in 60 s: a feedback loop or a deadlock");
        std::process::abort();
    });
    let written = Arc::new(AtomicU64::new(0));
    let handle = ttlog_integrations::log_compat::try_init_with_log_compatibility(
        ttlog::init()
            .with_env(false)
            .console(false)
            .level(LogLevel::Info)
            .overflow(Overflow::Block)
            .sink(ChattySink(Arc::clone(&written)))
            .panic_hook(false)
            .signals(false),
    )
    .unwrap();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(TtlogTracingLayer::new().with_filter(TtlogFilter::new())),
    )
    .unwrap();

    for n in 0..EVENTS {
        match n % 3 {
            0 => log::info!(target: "app", "order {n} placed"),
            1 => tracing::info!(target: "app", n, "order placed"),
            _ => slog::info!(slog_logger(), "order placed"; "n" => n),
        }
    }
    handle.flush();
    // Give a loop, if there were one, time to show.
    std::thread::sleep(Duration::from_millis(200));
    handle.flush();
    assert_eq!(written.load(Ordering::Relaxed), EVENTS);
    assert_eq!(ttlog_integrations::suppressed_internal_events(), 3 * EVENTS);
    assert_eq!(handle.stats().dropped, 0);
}
