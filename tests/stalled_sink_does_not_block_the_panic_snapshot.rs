//! A sink that stalls forever does not keep the panic snapshot from being written, nor the
//! process from exiting: the snapshot holds every event the consumer had passed on and the
//! panic, and the process ends with status 101 within a few seconds (issue 10: it printed
//! "no panic snapshot: the flight recorder stayed busy" and took ~14 s to exit).

mod common;

use std::io;
use std::time::{Duration, Instant};

use ttlog::{Event, LogLevel, Sink, Snapshot, info};

const CHILD: &str = "TTLOG_STALL_CHILD";

/// Blocks forever on the event with `seq == 49`.
struct Stalls;

impl Sink for Stalls {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        if matches!(event.field("seq"), Some(ttlog::ValueRef::U64(49))) {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Ok(())
    }
}

/// The child's entry point; run by the test below, in a child process.
#[test]
#[ignore = "entry point of the child process the other test starts"]
fn child() {
    let dir = std::env::var(CHILD).expect("run by the other test, in a child process");
    let _handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .snapshot_dir(&dir)
        .sink(Stalls)
        .init();
    for seq in 0..100_u64 {
        info!("settling invoice", seq);
    }
    // Let the consumer reach the stalling event.
    std::thread::sleep(Duration::from_millis(200));
    panic!("ledger corrupted");
}

#[test]
fn stalled_sink_does_not_block_the_panic_snapshot() {
    let dir = std::env::temp_dir().join(format!("ttlog-stall-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = Instant::now();
    let out = common::child_process(CHILD, &dir.display().to_string())
        .output()
        .unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(took < Duration::from_secs(6), "exit took {took:?}");
    assert!(
        stderr.contains("ttlog: panic snapshot written to"),
        "{stderr}"
    );

    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let snapshot = Snapshot::read_file(&files[0]).unwrap();
    assert_eq!(snapshot.info("reason"), Some("panic"));
    let mut seqs = Vec::new();
    let mut last = String::new();
    snapshot.for_each_event(|event| {
        if let Some(ttlog::ValueRef::U64(seq)) = event.field("seq") {
            seqs.push(seq);
        }
        last = format!("{} {}", event.target(), event.message());
    });
    // The recorder gets each event before the sinks: it has everything up to the event the
    // sink stalls on; then the panic.
    assert_eq!(seqs, (0..=49).collect::<Vec<u64>>());
    assert_eq!(last, "panic ledger corrupted");
    let _ = std::fs::remove_dir_all(&dir);
}
