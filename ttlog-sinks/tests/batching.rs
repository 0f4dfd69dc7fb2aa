//! `BatchingSink`: a destination that fails is retried with back-off until it works, in order
//! and without losing an event; one that blocks never stalls ttlog's consumer or the other
//! sinks (its full queue drops, counted); at shutdown, one that keeps failing has its events
//! counted as dropped after the timeout. Every event is written or counted.

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ttlog::{CaptureSink, CapturedEvent, OwnedValue};
use ttlog_sinks::{BatchOptions, BatchWriter, BatchingSink};

const EVENTS: u64 = 5_000;

/// Fails its first `failures` batches, then keeps every event's `seq`.
struct Flaky {
    failures: u32,
    seen: Arc<Mutex<Vec<u64>>>,
}

impl BatchWriter for Flaky {
    fn write_batch(&mut self, batch: &[CapturedEvent]) -> io::Result<()> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(io::Error::other("connection refused"));
        }
        let mut seen = self.seen.lock().unwrap();
        for event in batch {
            if let Some(OwnedValue::U64(seq)) = event.field("seq") {
                seen.push(*seq);
            }
        }
        Ok(())
    }

    fn name(&self) -> &str {
        "flaky"
    }
}

/// Blocks until released, then accepts everything.
struct Stuck {
    gate: Arc<Mutex<()>>,
}

impl BatchWriter for Stuck {
    fn write_batch(&mut self, _batch: &[CapturedEvent]) -> io::Result<()> {
        drop(self.gate.lock().unwrap());
        Ok(())
    }

    fn name(&self) -> &str {
        "stuck"
    }
}

/// Never works.
struct Down;

impl BatchWriter for Down {
    fn write_batch(&mut self, _batch: &[CapturedEvent]) -> io::Result<()> {
        Err(io::Error::other("database is down"))
    }

    fn name(&self) -> &str {
        "down"
    }
}

#[test]
fn batching() {
    let fast = BatchOptions {
        retry_initial: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        max_delay: Duration::from_millis(20),
        shutdown_timeout: Duration::from_millis(300),
        ..BatchOptions::default()
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let flaky = BatchingSink::new(
        Flaky {
            failures: 3,
            seen: Arc::clone(&seen),
        },
        BatchOptions { batch: 256, ..fast },
    );
    let flaky_counters = flaky.counters();
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let stuck = BatchingSink::new(
        Stuck {
            gate: Arc::clone(&gate),
        },
        BatchOptions {
            queue: 1_000,
            ..fast
        },
    );
    let stuck_counters = stuck.counters();
    let down = BatchingSink::new(Down, fast);
    let down_counters = down.counters();
    let capture = CaptureSink::new();
    let handle = common::logger(vec![
        Box::new(flaky),
        Box::new(stuck),
        Box::new(down),
        Box::new(capture.clone()),
    ]);

    let start = Instant::now();
    for seq in 0..EVENTS {
        ttlog::info!("order placed", seq);
    }
    handle.flush();
    // The stuck and failing destinations did not hold the consumer up.
    assert_eq!(capture.len() as u64, EVENTS);
    assert!(start.elapsed() < Duration::from_secs(20));

    // The flaky destination got everything, in order, after its failures.
    assert!(flaky_counters.wait_idle(Duration::from_secs(10)));
    assert_eq!(*seen.lock().unwrap(), (0..EVENTS).collect::<Vec<_>>());
    assert_eq!(flaky_counters.failures(), 3);
    assert_eq!(flaky_counters.dropped(), 0);

    // The stuck one dropped what did not fit its queue, counted; once released it writes
    // the rest.
    assert!(stuck_counters.dropped() > 0);
    drop(held);
    assert!(stuck_counters.wait_idle(Duration::from_secs(10)));
    assert_eq!(stuck_counters.written() + stuck_counters.dropped(), EVENTS);

    // The one that is down: retried until shutdown, then counted as dropped.
    assert!(down_counters.failures() > 0);
    drop(handle);
    assert_eq!(down_counters.written(), 0);
    assert_eq!(down_counters.dropped(), EVENTS);
}
