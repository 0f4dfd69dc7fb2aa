//! The flight recorder: it keeps trace events the console does not print, snapshots copy it
//! without draining it, it keeps only the last `capacity` events, a panic freezes it (after the
//! previous panic hook ran), error events trigger rate-limited snapshots, and `SIGUSR1` /
//! `SIGTERM` do what the docs say.
//!
//! A logger is per process, so each case runs this test binary again as a child process.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use ttlog::{LogLevel, OwnedValue, Snapshot, error, info, trace};

const CHILD: &str = "TTLOG_RECORDER_CHILD";

fn child_command(mode: &str, dir: &Path) -> Command {
    let mut cmd = common::child_process(CHILD, mode);
    cmd.env("TTLOG_SNAPSHOT_DIR", dir);
    cmd
}

fn run(mode: &str, dir: &Path) -> Output {
    child_command(mode, dir).output().unwrap()
}

fn snapshots(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ttsnap"))
        .collect();
    files.sort();
    files
}

/// One event of a snapshot, copied out.
#[derive(Debug, Clone)]
struct Row {
    level: LogLevel,
    target: String,
    message: String,
    thread: String,
    timestamp: u64,
    seq: Option<u64>,
    location: Option<String>,
}

fn rows(snapshot: &Snapshot) -> Vec<Row> {
    let mut rows = Vec::new();
    snapshot.for_each_event(|e| {
        rows.push(Row {
            level: e.level(),
            target: e.target().to_owned(),
            message: e.message().to_string(),
            thread: e.thread().name().to_owned(),
            timestamp: e.timestamp_nanos(),
            seq: match e.field("seq").map(OwnedValue::from) {
                Some(OwnedValue::U64(n)) => Some(n),
                _ => None,
            },
            location: e
                .field("location")
                .and_then(|v| v.as_text().map(str::to_owned)),
        })
    });
    rows
}

fn seqs(rows: &[Row], thread: &str) -> Vec<u64> {
    rows.iter()
        .filter(|r| r.thread == thread)
        .filter_map(|r| r.seq)
        .collect()
}

/// The child process's entry point: not a test of its own. The tests above run it in a
/// child process (`child --exact --ignored`), with the mode in the environment.
#[test]
#[ignore = "entry point of the child processes the other tests start"]
fn child() {
    let mode = std::env::var(CHILD).expect("run by the other tests, in a child process");
    match mode.as_str() {
        "panic" => {
            std::panic::set_hook(Box::new(|info| {
                eprintln!("PREVIOUS HOOK RAN: {info}");
            }));
            let _handle = ttlog::init()
                .level(LogLevel::Info)
                .recorder_level(LogLevel::Trace)
                .service_name("orders")
                .init();
            let workers: Vec<_> = (0..2)
                .map(|w| {
                    std::thread::Builder::new()
                        .name(format!("worker-{w}"))
                        .spawn(move || {
                            for seq in 0..200u64 {
                                trace!(seq, worker = w, "polling queue");
                            }
                            info!(worker = w, "worker done");
                        })
                        .unwrap()
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            trace!(seq = 0u64, "about to write the ledger");
            panic!("ledger write failed: disk quota exceeded");
        }
        "demand" => {
            let handle = ttlog::init()
                .console(false)
                .capacity(1000)
                .recorder_level(LogLevel::Trace)
                .level(LogLevel::Warn)
                .init();
            for seq in 0..100u64 {
                trace!(seq, "step");
            }
            let first = handle.snapshot("first").unwrap();
            for seq in 100..150u64 {
                trace!(seq, "step");
            }
            let second = handle.snapshot("second").unwrap();
            for seq in 150..5000u64 {
                trace!(seq, "step");
            }
            let third = handle.snapshot("third").unwrap();
            println!(
                "FILES {} {} {}",
                first.display(),
                second.display(),
                third.display()
            );
        }
        "errors" => {
            let handle = ttlog::init()
                .console(false)
                .snapshot_on_error(true)
                .snapshot_rate_limit(Duration::from_millis(500))
                .init();
            info!("starting batch");
            error!(job = 1u64, "job failed");
            handle.flush();
            error!(job = 2u64, "job failed");
            error!(job = 3u64, "job failed");
            handle.flush();
            std::thread::sleep(Duration::from_millis(700));
            error!(job = 4u64, "job failed");
            handle.flush();
        }
        "signals" => {
            let _handle = ttlog::init()
                .format(ttlog::Format::Json)
                .writer(std::io::stdout())
                .init();
            for seq in 0..10u64 {
                info!(seq, "serving");
            }
            println!("READY");
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        "persist-flushed" | "persist-midstream" => {
            let path = std::env::var("TTLOG_TEST_RECORDER").unwrap();
            let handle = ttlog::init()
                .console(false)
                .level(LogLevel::Info)
                .recorder_level(LogLevel::Trace)
                .capacity(5000)
                .overflow(ttlog::Overflow::Block)
                .persist(&path)
                .init();
            let forever = mode == "persist-midstream";
            static LOGGED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let workers: Vec<_> = (0..2)
                .map(|w| {
                    std::thread::Builder::new()
                        .name(format!("worker-{w}"))
                        .spawn(move || {
                            let mut seq = 0u64;
                            while forever || seq < 20_000 {
                                trace!(seq, worker = w, "reconciling account");
                                seq += 1;
                                LOGGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        })
                        .unwrap()
                })
                .collect();
            if forever {
                // Killed in full flow: the workers go on logging while the parent kills us.
                while LOGGED.load(std::sync::atomic::Ordering::Relaxed) < 20_000 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            } else {
                for w in workers {
                    w.join().unwrap();
                }
                handle.flush();
            }
            println!("LOGGED");
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        "persist-restart" => {
            let path = std::env::var("TTLOG_TEST_RECORDER").unwrap();
            let _handle = ttlog::init().console(false).persist(&path).init();
            info!("restarted");
        }
        other => panic!("unknown mode {other}"),
    }
}

#[test]
fn panic_freezes_every_threads_last_events_with_the_panic_last() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let dir = common::temp_dir("panic");
    let out = run("panic", &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("PREVIOUS HOOK RAN") && stderr.contains("disk quota exceeded"),
        "the previous hook must run: {stderr}"
    );
    assert!(
        !stderr.contains("polling queue"),
        "console is at info: {stderr}"
    );
    assert!(stderr.contains("worker done"));

    let files = snapshots(&dir);
    assert_eq!(files.len(), 1, "{files:?}\n{stderr}");
    let snapshot = Snapshot::read_file(&files[0]).unwrap();
    assert_eq!(snapshot.info("reason"), Some("panic"));
    assert_eq!(snapshot.info("service"), Some("orders"));
    assert!(
        snapshot
            .info("pid")
            .is_some_and(|p| p.parse::<u32>().is_ok())
    );
    assert!(snapshot.info("hostname").is_some_and(|h| !h.is_empty()));
    let rows = rows(&snapshot);
    for w in 0..2 {
        let name = format!("worker-{w}");
        assert_eq!(seqs(&rows, &name), (0..200).collect::<Vec<_>>(), "{name}");
    }
    assert!(rows.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert!(rows.iter().any(|r| r.level == LogLevel::Trace));
    let last = rows.last().unwrap();
    assert_eq!(last.level, LogLevel::Error);
    assert_eq!(last.target, "panic");
    assert_eq!(last.message, "ledger write failed: disk quota exceeded");
    assert!(
        last.location
            .as_deref()
            .unwrap()
            .contains("flight_recorder.rs")
    );
    assert_eq!(last.thread, "child");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn snapshots_copy_without_draining_and_keep_the_last_capacity_events() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let dir = common::temp_dir("demand");
    let out = run("demand", &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = snapshots(&dir);
    assert_eq!(files.len(), 3);
    let by_reason = |reason: &str| {
        files
            .iter()
            .map(|f| Snapshot::read_file(f).unwrap())
            .find(|s| s.info("reason") == Some(reason))
            .unwrap()
    };
    let main = |s: &Snapshot| seqs(&rows(s), "child");
    assert_eq!(main(&by_reason("first")), (0..100).collect::<Vec<_>>());
    assert_eq!(main(&by_reason("second")), (0..150).collect::<Vec<_>>());
    assert_eq!(main(&by_reason("third")), (4000..5000).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn error_events_trigger_snapshots_at_most_once_per_interval() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let dir = common::temp_dir("errors");
    let out = run("errors", &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = snapshots(&dir);
    assert_eq!(
        files.len(),
        2,
        "jobs 2 and 3 fall in the first interval: {files:?}"
    );
    let mut jobs: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            let s = Snapshot::read_file(f).unwrap();
            assert_eq!(s.info("reason"), Some("error"));
            rows(&s).iter().map(|r| r.message.clone()).collect()
        })
        .collect();
    jobs.sort_by_key(Vec::len);
    assert_eq!(jobs[0].first().map(String::as_str), Some("starting batch"));
    // The first snapshot is taken right after job 1's error; jobs 2 and 3 come after it.
    assert_eq!(jobs[0].iter().filter(|m| *m == "job failed").count(), 1);
    assert_eq!(jobs[1].iter().filter(|m| *m == "job failed").count(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn sigusr1_snapshots_and_sigterm_flushes_then_terminates() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    if std::env::var(CHILD).is_ok() {
        return;
    }
    let dir = common::temp_dir("signals");
    let mut proc = child_command("signals", &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(proc.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "child ended early"
        );
        if line.contains("READY") {
            break;
        }
        lines.push(line);
    }
    let kill = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &proc.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    kill("-USR1");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while snapshots(&dir).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no SIGUSR1 snapshot");
        std::thread::sleep(Duration::from_millis(20));
    }
    let snapshot = Snapshot::read_file(&snapshots(&dir)[0]).unwrap();
    assert_eq!(snapshot.info("reason"), Some("signal-SIGUSR1"));
    assert_eq!(seqs(&rows(&snapshot), "child"), (0..10).collect::<Vec<_>>());

    kill("-TERM");
    let status = proc.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(15),
        "the default action of SIGTERM still ends it"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let all: String = lines.concat() + &rest;
    let serving = all.lines().filter(|l| l.contains("\"serving\"")).count();
    assert_eq!(serving, 10, "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kills the child with SIGKILL once it printed `LOGGED` and recovers its persisted recorder.
fn kill9_and_recover(mode: &str, dir: &Path) -> (Vec<Row>, Snapshot) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let recorder = dir.join(format!("{mode}.ttrec"));
    let mut proc = child_command(mode, dir)
        .env("TTLOG_TEST_RECORDER", &recorder)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(proc.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("LOGGED") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "child ended early"
        );
    }
    proc.kill().unwrap();
    proc.wait().unwrap();
    let out = dir.join(format!("{mode}-by-test.ttsnap"));
    let events = ttlog::recover(&recorder, &out).unwrap();
    let snapshot = Snapshot::read_file(&out).unwrap();
    assert_eq!(events as usize, snapshot.len());
    assert_eq!(snapshot.info("shutdown"), Some("unclean"));
    (rows(&snapshot), snapshot)
}

fn assert_contiguous(seqs: &[u64], what: &str) {
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{what}: not contiguous: {seqs:?}"
    );
}

#[cfg(unix)]
#[test]
fn kill9_of_a_persisted_recorder_leaves_the_last_events_recoverable() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let dir = common::temp_dir("persist");
    // Everything logged was handed to the recorder before the kill: the recovered events are
    // exactly the last 5,000 (its capacity); each thread's are a contiguous run ending at its
    // last event, 19,999 (a thread that finished early may have none left).
    let (rows, _) = kill9_and_recover("persist-flushed", &dir);
    assert_eq!(rows.len(), 5000);
    for w in 0..2 {
        let seqs = seqs(&rows, &format!("worker-{w}"));
        assert_contiguous(&seqs, "flushed");
        assert!(seqs.is_empty() || seqs.last() == Some(&19_999), "{seqs:?}");
    }
    assert!(rows.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));

    // Killed in full flow: whatever was recovered is a contiguous run per thread.
    let (rows, _) = kill9_and_recover("persist-midstream", &dir);
    assert!(!rows.is_empty());
    for w in 0..2 {
        assert_contiguous(&seqs(&rows, &format!("worker-{w}")), "midstream");
    }

    // The next start of the program recovers the unclean recorder by itself.
    let recorder = dir.join("persist-midstream.ttrec");
    let out = child_command("persist-restart", &dir)
        .env("TTLOG_TEST_RECORDER", &recorder)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recovered: Vec<Snapshot> = snapshots(&dir)
        .iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("persist-midstream-recovered-")
        })
        .map(|p| Snapshot::read_file(p).unwrap())
        .collect();
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].info("reason"), Some("recovered"));
    assert!(!recovered[0].is_empty());
    // That run shut down cleanly: nothing left to recover.
    let again = dir.join("again.ttsnap");
    ttlog::recover(&recorder, &again).unwrap();
    assert_eq!(
        Snapshot::read_file(&again).unwrap().info("shutdown"),
        Some("clean")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
