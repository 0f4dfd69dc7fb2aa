//! `Overflow::Drop` with the smallest ring (4 KiB), kept at that size: every drop is counted,
//! and each gap is marked in the output, where it happened, by an `N events dropped` event
//! whose N is the size of the gap.

mod common;

use common::SharedBuf;
use ttlog::{Format, LogLevel, info};

const EVENTS: u64 = 50_000;

#[test]
fn drop_mode_counts_and_marks_gaps() {
    let out = SharedBuf::new();
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(Format::Json)
        .writer(out.clone())
        .thread_buffer_size(4096)
        .thread_buffer_max(4096)
        .try_init()
        .unwrap();

    for seq in 0..EVENTS {
        info!("burst", seq);
    }
    handle.flush();

    let stats = handle.stats();
    assert!(stats.dropped > 0, "a 4 KiB ring must overflow: {stats:?}");
    assert_eq!(stats.logged + stats.dropped, EVENTS, "{stats:?}");
    assert_eq!(stats.delivered, stats.logged, "{stats:?}");

    let lines = out.json();
    let mut previous: Option<u64> = None;
    let mut pending_gap = 0;
    let mut marked = 0;
    let mut delivered = 0;
    for line in &lines {
        if line["target"] == "ttlog" {
            assert_eq!(line["level"], "warn");
            let n = line["fields"]["dropped"].as_u64().unwrap();
            assert_eq!(line["message"], format!("{n} events dropped"));
            pending_gap += n;
            marked += n;
            continue;
        }
        let seq = line["fields"]["seq"].as_u64().unwrap();
        let expected = previous.map_or(0, |p| p + 1) + pending_gap;
        assert_eq!(
            seq, expected,
            "the marker before seq {seq} says how many are missing"
        );
        pending_gap = 0;
        previous = Some(seq);
        delivered += 1;
    }
    // Drops after the last delivered event are marked at the flush.
    assert_eq!(previous.map_or(0, |p| p + 1) + pending_gap, EVENTS);
    assert_eq!(marked, stats.dropped);
    assert_eq!(delivered, stats.delivered);
}
