//! Rotation by size under 4 threads × 100,000 events: every event is in exactly one file,
//! every line of every file parses as JSON (none split across a rotation), each thread's
//! events are in order across the files, and no file passes the size limit.

mod common;

use std::collections::HashMap;

use ttlog::{LogLevel, Overflow};
use ttlog_sinks::FileSink;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 100_000;
const MAX_SIZE: u64 = 1 << 20;

#[test]
fn rotation_loses_and_splits_nothing() {
    let dir = common::temp_dir("rotation");
    let sink = FileSink::builder(dir.join("orders.log"))
        .max_size(MAX_SIZE)
        .build();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .panic_hook(false)
        .signals(false)
        .sink(sink)
        .try_init()
        .unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for seq in 0..PER_THREAD {
                    ttlog::info!("order placed", t, seq, path = "/api/v1/orders");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    handle.flush();
    let stats = handle.stats();
    drop(handle);
    assert_eq!(stats.dropped, 0);
    assert!(stats.sinks.iter().all(|s| s.errors == 0), "{stats:?}");

    // Oldest first: the rotated files (by the time in their name, then their number), then
    // the active file.
    let files = common::files_in_order(&dir, "orders");
    assert!(files.len() >= 30, "{} files", files.len());

    let mut next: HashMap<u64, u64> = HashMap::new();
    let mut total = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.len() as u64 <= MAX_SIZE,
            "{} is {} bytes",
            file.display(),
            text.len()
        );
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{} ends mid-line",
            file.display()
        );
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line}", file.display()));
            let t = event["fields"]["t"].as_u64().unwrap();
            let seq = event["fields"]["seq"].as_u64().unwrap();
            let expected = next.entry(t).or_insert(0);
            assert_eq!(
                seq,
                *expected,
                "thread {t} out of order in {}",
                file.display()
            );
            *expected += 1;
            total += 1;
        }
    }
    assert_eq!(total, THREADS * PER_THREAD);
    let _ = std::fs::remove_dir_all(&dir);
}
