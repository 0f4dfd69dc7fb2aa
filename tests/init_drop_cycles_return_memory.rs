//! A logger can be installed and dropped again and again: each cycle gives its flight
//! recorder's memory back, and a new logger never runs beside a consumer still busy in a
//! sink (issue 9: 20 cycles with a full recorder grew RSS by ~110 MiB, and a consumer that
//! outlived its handle's drop kept draining the rings beside the next one).

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ttlog::{CaptureSink, Event, InitError, LogLevel, Overflow, Sink, info};

/// Resident set size of this process, in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

const EVENTS: u64 = 40_000;
const HISTORY_BYTES: usize = 8 << 20;

fn one_cycle() {
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .capacity(EVENTS as usize)
        .recorder_bytes(HISTORY_BYTES)
        .try_init()
        .unwrap();
    for seq in 0..EVENTS {
        info!(
            "filling the recorder",
            seq,
            padding = "0123456789abcdef0123456789abcdef"
        );
    }
    handle.flush();
    assert_eq!(handle.recorder_len(), EVENTS as usize);
}

/// A sink that blocks in `write` until the test lets it go.
struct Stuck(Arc<Mutex<mpsc::Receiver<()>>>);

impl Sink for Stuck {
    fn write(&mut self, _: &Event<'_>) -> io::Result<()> {
        let _ = self.0.lock().unwrap().recv();
        Ok(())
    }
}

#[test]
fn init_drop_cycles_return_memory() {
    // Two cycles to warm up the allocator, then 18 more must not grow the process by even one
    // history (the old code kept every history: 18 x 8 MiB).
    one_cycle();
    one_cycle();
    let before = rss();
    for _ in 0..18 {
        one_cycle();
    }
    let grown = rss().saturating_sub(before);
    assert!(
        grown < HISTORY_BYTES as u64,
        "18 init/drop cycles grew RSS by {grown} bytes"
    );

    // A consumer stuck in a sink outlives its handle's drop: no new logger starts beside it.
    let (release, wait) = mpsc::channel();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .sink(Stuck(Arc::new(Mutex::new(wait))))
        .shutdown_timeout(Duration::from_millis(100))
        .try_init()
        .unwrap();
    info!("this one blocks the consumer");
    let start = Instant::now();
    drop(handle);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "drop waited {:?}",
        start.elapsed()
    );
    let refused = ttlog::init().with_env(false).console(false).try_init();
    assert!(
        matches!(refused, Err(InitError::PreviousStillRunning)),
        "{refused:?}"
    );

    // Once the old consumer is done, a new logger starts and receives its own events.
    release.send(()).unwrap();
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .sink(capture.clone())
        .try_init()
        .expect("the old consumer has exited");
    info!("new logger");
    handle.flush();
    assert_eq!(capture.events().len(), 1);
}
