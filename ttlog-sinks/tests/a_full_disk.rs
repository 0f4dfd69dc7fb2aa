//! A file sink on a disk that fills up: writes fail part way (a line may be cut), the sink is
//! counted as failing and backs off, the other sink and the program go on; once space is
//! freed, the sink continues exactly where the file stopped: every line in the file is whole
//! and parses, none is written twice, and every event is in the file or counted as skipped.
//!
//! Mounts a 256 KiB tmpfs, so it needs root (CI runs as root).

mod common;

use std::time::Duration;

use ttlog::CaptureSink;
use ttlog_sinks::FileSink;

const EVENTS: u64 = 1_000;

#[test]
fn a_full_disk() {
    let dir = common::temp_dir("full-disk");
    let _tmpfs = common::Tmpfs::mount(&dir, "256k");
    // Leave about 56 KiB free: the ~150 KiB of lines below do not fit.
    let filler = dir.join("filler");
    std::fs::write(&filler, vec![b'x'; 200 * 1024]).unwrap();

    let capture = CaptureSink::new();
    let handle = common::logger(vec![
        Box::new(FileSink::builder(dir.join("app.log")).build()),
        Box::new(capture.clone()),
    ]);
    for seq in 0..EVENTS / 2 {
        ttlog::info!(
            "order placed",
            seq,
            path = "/api/v1/orders",
            note = "padding the line a bit"
        );
    }
    handle.flush();
    let stats = handle.stats();
    let file = stats
        .sinks
        .iter()
        .find(|s| s.name.starts_with("file:"))
        .unwrap();
    assert!(file.errors > 0, "the disk filled up: {stats:?}");

    // Space comes back; the sink goes on after its back-off.
    std::fs::remove_file(&filler).unwrap();
    for seq in EVENTS / 2..EVENTS {
        ttlog::info!(
            "order placed",
            seq,
            path = "/api/v1/orders",
            note = "padding the line a bit"
        );
        if seq % 100 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    handle.flush();
    let stats = handle.stats();
    drop(handle);
    assert_eq!(
        capture.len() as u64,
        EVENTS,
        "the other sink got everything"
    );

    let text = std::fs::read_to_string(dir.join("app.log")).unwrap();
    assert!(text.ends_with('\n'));
    let seqs = common::seqs(&text);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "no line twice, in order"
    );
    let file = stats
        .sinks
        .iter()
        .find(|s| s.name.starts_with("file:"))
        .unwrap();
    assert_eq!(
        seqs.len() as u64 + file.skipped + file.dropped,
        EVENTS,
        "every event is in the file or counted as skipped or dropped: {file:?}"
    );
}
