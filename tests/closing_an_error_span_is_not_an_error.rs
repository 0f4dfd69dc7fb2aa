//! Closing an `error_span!` logs its close event at error level, but that is not a failure:
//! it does not trigger an error snapshot; a real error event still does (issue 10).

use std::time::Duration;

use ttlog::{LogLevel, Snapshot, error, info};

fn snapshots(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[test]
fn closing_an_error_span_is_not_an_error() {
    let dir = std::env::temp_dir().join(format!("ttlog-error-span-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .snapshot_dir(&dir)
        .snapshot_on_error(true)
        .snapshot_rate_limit(Duration::ZERO)
        .try_init()
        .unwrap();
    {
        let span = ttlog::error_span!("reconcile_ledger", batch = 7_u64);
        span.in_scope(|| info!("reconciled"));
    }
    handle.flush();
    assert!(snapshots(&dir).is_empty(), "{:?}", snapshots(&dir));

    error!("ledger out of balance", delta = -3_i64);
    handle.flush();
    let files = snapshots(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let snapshot = Snapshot::read_file(&files[0]).unwrap();
    assert_eq!(snapshot.info("reason"), Some("error"));
    // The close event is in the snapshot, marked as a span close.
    let mut closes = 0;
    snapshot.for_each_event(|event| {
        if event.metadata().is_span_close() {
            closes += 1;
            assert_eq!(event.message().to_string(), "reconcile_ledger closed");
            assert_eq!(event.level(), LogLevel::Error);
        }
    });
    assert_eq!(closes, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
