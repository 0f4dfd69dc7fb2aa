//! Events logged from inside a sink (which runs on the consumer thread) or from inside a
//! value's `Display` never deadlock, in Block mode too: they are delivered or counted as
//! dropped (issue 10: a sink that logged in Block mode waited for its own ring forever).

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ttlog::{Event, LogLevel, Overflow, Sink, info};

const WORK: u64 = 2_000;
const PER_WORK: u64 = 50;

/// Logs `PER_WORK` events of its own for every "work" event it receives, and counts the
/// events of each kind that reach it.
struct Chatty(Arc<Mutex<(u64, u64)>>);

impl Sink for Chatty {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        let mut seen = self.0.lock().unwrap();
        if event.target() == "sink_internal" {
            seen.1 += 1;
        } else if event.message().to_string() == "work" {
            seen.0 += 1;
            for n in 0..PER_WORK {
                info!(target: "sink_internal", "sink bookkeeping", n);
            }
        }
        Ok(())
    }
}

/// A value whose `Display` logs.
struct Noisy;

impl fmt::Display for Noisy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        info!("logged while formatting");
        f.write_str("noisy")
    }
}

#[test]
fn logging_from_a_sink_never_deadlocks() {
    // A hang is the failure: end the process with a clear message rather than hang CI.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("deadlock: the test did not finish in 60 s");
        std::process::abort();
    });
    let seen = Arc::new(Mutex::new((0, 0)));
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .thread_buffer_size(4096)
        .sink(Chatty(Arc::clone(&seen)))
        .try_init()
        .unwrap();
    for seq in 0..WORK {
        info!("work", seq);
    }
    info!("with a noisy value", value = %Noisy);
    handle.flush();
    handle.flush();

    let (work, internal) = *seen.lock().unwrap();
    let stats = handle.stats();
    // Block mode loses nothing from the program's own threads.
    assert_eq!(work, WORK);
    // What the sink logged is delivered or counted, never lost silently.
    let dropped = stats.dropped;
    assert!(
        dropped > 0,
        "a 4 KiB ring cannot take 100,000 events in one go"
    );
    // The nested event inside Display is dropped and counted too (1).
    assert_eq!(internal + dropped, WORK * PER_WORK + 1, "{stats:?}");
    assert_eq!(stats.logged + stats.dropped, WORK + 1 + WORK * PER_WORK + 1);
}
