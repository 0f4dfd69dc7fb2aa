//! A file sink whose directory cannot be created (its parent is a regular file) fails, is
//! counted in `stats()`, and does not stop the program or another sink; once the path works
//! again it writes the lines it kept and goes on. Nothing is lost silently: every event is in
//! the file or counted as skipped while the sink backed off.

mod common;

use std::time::Duration;

use ttlog::CaptureSink;
use ttlog_sinks::FileSink;

#[test]
fn a_failing_file_sink_keeps_the_program_running() {
    let dir = common::temp_dir("failing");
    let blocker = dir.join("logs");
    std::fs::write(&blocker, "a file where the log directory should be").unwrap();
    let capture = CaptureSink::new();
    let sink = FileSink::builder(blocker.join("app.log")).build();
    let handle = common::logger(vec![Box::new(sink), Box::new(capture.clone())]);

    for seq in 0..200_u64 {
        ttlog::info!("while broken", seq);
    }
    handle.flush();
    let stats = handle.stats();
    let file_stats = stats
        .sinks
        .iter()
        .find(|s| s.name.starts_with("file:"))
        .unwrap();
    assert!(file_stats.errors > 0, "{stats:?}");
    assert_eq!(capture.len(), 200, "the other sink got everything");

    // The path works again: the sink reopens after its back-off and writes what it kept.
    std::fs::remove_file(&blocker).unwrap();
    std::fs::create_dir_all(&blocker).unwrap();
    for seq in 200..3_000_u64 {
        ttlog::info!("after repair", seq);
        if seq % 500 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    handle.flush();
    let stats = handle.stats();
    drop(handle);
    let file_stats = stats
        .sinks
        .iter()
        .find(|s| s.name.starts_with("file:"))
        .unwrap();
    let written = common::seqs(&std::fs::read_to_string(blocker.join("app.log")).unwrap());
    assert!(written.contains(&2_999), "writing resumed");
    assert_eq!(
        written.len() as u64 + file_stats.skipped,
        3_000,
        "every event is in the file or counted as skipped: {file_stats:?}"
    );
    assert_eq!(capture.len(), 3_000);
    let _ = std::fs::remove_dir_all(&dir);
}
