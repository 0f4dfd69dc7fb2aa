//! A sink that keeps failing (a closed pipe, a full disk) is not called for every event: after
//! each failure it sits out 1, 2, 4, ... up to 1,024 events; once a write succeeds it gets
//! every event again. Every failure and every skipped event is counted per sink in `stats()`
//! (issue 10).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ttlog::{Event, LogLevel, Overflow, Sink, info};

/// Fails while `broken` is set; counts the events it accepts.
struct Flaky {
    broken: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
}

impl Sink for Flaky {
    fn write(&mut self, _: &Event<'_>) -> io::Result<()> {
        if self.broken.load(Ordering::Relaxed) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn name(&self) -> &str {
        "flaky"
    }
}

/// The failures and skips of a sink failing on every attempt for `events` events.
fn expected(events: u64) -> (u64, u64) {
    let (mut errors, mut skipped, mut skip, mut backoff) = (0, 0, 0, 1);
    for _ in 0..events {
        if skip > 0 {
            skip -= 1;
            skipped += 1;
        } else {
            errors += 1;
            skip = backoff;
            backoff = (backoff * 2).min(1024);
        }
    }
    (errors, skipped)
}

#[test]
fn failing_sinks_back_off_and_recover() {
    let broken = Arc::new(AtomicBool::new(true));
    let accepted = Arc::new(AtomicU64::new(0));
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .sink(Flaky {
            broken: Arc::clone(&broken),
            accepted: Arc::clone(&accepted),
        })
        .try_init()
        .unwrap();
    let stats_of = |handle: &ttlog::TtlogHandle| {
        let stats = handle.stats();
        let sink = stats
            .sinks
            .iter()
            .find(|s| s.name == "flaky")
            .unwrap()
            .clone();
        (sink.errors, sink.skipped)
    };

    for seq in 0..10_000_u64 {
        info!("while broken", seq);
    }
    handle.flush();
    let (errors, skipped) = stats_of(&handle);
    assert_eq!((errors, skipped), expected(10_000));
    assert!(
        errors < 25,
        "a sink failing on every event was tried {errors} times"
    );
    assert_eq!(handle.stats().sink_errors, errors);

    // Repaired: within the current back-off (at most 1,024 events) it gets events again.
    broken.store(false, Ordering::Relaxed);
    for seq in 0..5_000_u64 {
        info!("repaired", seq);
    }
    handle.flush();
    let (errors_after, skipped_after) = stats_of(&handle);
    assert_eq!(errors_after, errors, "no failure once repaired");
    assert!(skipped_after - skipped <= 1_024);
    assert_eq!(
        accepted.load(Ordering::Relaxed) + (skipped_after - skipped),
        5_000,
        "every event after the repair is accepted or counted as skipped"
    );
}
