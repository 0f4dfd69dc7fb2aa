//! Snapshots taken at the same moment (calls from many threads, a storm of SIGUSR1) all land
//! under their own name, no temporary file is left behind, and retention removes temporary
//! files that a killed writer left (issue 10: concurrent `snapshot()` calls sometimes failed
//! with `Busy`; a storm of SIGUSR1s left a `.ttsnap.tmp` that retention never removed).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use ttlog::{LogLevel, info};

fn files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let all: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let (temps, snaps) = all
        .into_iter()
        .partition(|p| p.to_string_lossy().ends_with(".tmp"));
    (snaps, temps)
}

#[test]
fn snapshots_are_never_lost_or_left_half_written() {
    let dir = std::env::temp_dir().join(format!("ttlog-snap-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A temporary file a killed writer left two minutes ago, and one being written now.
    let stale = dir.join(".writing-1-0.ttsnap.tmp");
    let fresh = dir.join(".writing-2-0.ttsnap.tmp");
    for path in [&stale, &fresh] {
        std::fs::write(path, b"half a snapshot").unwrap();
    }
    let old = SystemTime::now() - Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();

    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .snapshot_dir(&dir)
        .snapshot_retention(10_000)
        .try_init()
        .unwrap();
    info!("before the snapshots", order_id = 7_u64);

    // 8 threads x 25 snapshots at once: every call succeeds, each under its own name.
    std::thread::scope(|scope| {
        for t in 0..8 {
            let handle = &handle;
            scope.spawn(move || {
                for i in 0..25 {
                    handle
                        .snapshot(&format!("thread{t}"))
                        .unwrap_or_else(|e| panic!("snapshot {i} of thread {t}: {e}"));
                }
            });
        }
    });
    let (snaps, temps) = files(&dir);
    assert_eq!(snaps.len(), 200, "{snaps:?}");
    assert_eq!(
        temps,
        vec![fresh.clone()],
        "the stale temp file is removed, the fresh one kept"
    );

    // A storm of SIGUSR1: the signal thread takes snapshots until the pipe is drained; none is
    // left half written.
    #[cfg(unix)]
    {
        for _ in 0..300 {
            // SAFETY: raising a signal ttlog handles (installed by init).
            unsafe { libc::raise(libc::SIGUSR1) };
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = 0;
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let (snaps, _) = files(&dir);
            if snaps.len() == last || Instant::now() > deadline {
                break;
            }
            last = snaps.len();
        }
        let (snaps, temps) = files(&dir);
        assert!(snaps.len() > 200, "SIGUSR1 took snapshots");
        assert_eq!(temps, vec![fresh], "no temporary file left by the storm");
    }
    drop(handle);
    let _ = std::fs::remove_dir_all(&dir);
}
