//! When the reader of stderr goes away (`prog 2>&1 | head -1`, a log shipper restarting), the
//! console sink's writes fail with EPIPE; the logger counts that and goes on: later events
//! still reach the flight recorder and the other sinks, and `flush` keeps working (issue 10:
//! the consumer died in `eprintln!`, and every later event was lost, to the recorder too).
//!
//! The child process logs to stderr, which is a pipe; the parent reads one line and closes
//! its end, then lets the child go on.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use ttlog::{LogLevel, Snapshot, info};

const CHILD: &str = "TTLOG_EPIPE_CHILD";

/// The child's entry point; run by the test below, in a child process.
#[test]
#[ignore = "entry point of the child process the other test starts"]
fn child() {
    let dir = std::env::var(CHILD).expect("run by the other test, in a child process");
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(ttlog::Format::Compact)
        .snapshot_dir(&dir)
        .init();
    info!("first line", seq = 0_u64);
    handle.flush();
    // Wait until the parent has closed its end of the stderr pipe.
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    for seq in 1..=1_000_u64 {
        info!("after the reader left", seq);
    }
    handle
        .try_flush(std::time::Duration::from_secs(10))
        .expect("flush works after EPIPE");
    let path = handle
        .snapshot("after-epipe")
        .expect("a snapshot after EPIPE");
    let stats = handle.stats();
    println!(
        "\nREPORT {} {} {}",
        path.display(),
        stats.sink_errors,
        stats.delivered
    );
}

#[test]
fn closed_stderr_pipe_keeps_the_logger_alive() {
    let dir = std::env::temp_dir().join(format!("ttlog-epipe-{}", std::process::id()));
    let mut child = common::child_process(CHILD, &dir.display().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the first log line, then close the read end of the child's stderr.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    while !first.contains("first line") {
        first.clear();
        assert!(stderr.read_line(&mut first).unwrap() > 0, "no first line");
    }
    drop(stderr);
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("REPORT "))
        .unwrap_or_else(|| panic!("no report line in {stdout:?}"));
    let mut parts = line.split(' ');
    let path = parts.next().unwrap();
    let sink_errors: u64 = parts.next().unwrap().parse().unwrap();
    let delivered: u64 = parts.next().unwrap().parse().unwrap();
    assert!(sink_errors > 0, "the console's EPIPE errors are counted");
    assert_eq!(delivered, 1_001);

    // The recorder kept every event, the ones after the pipe closed included.
    let snapshot = Snapshot::read_file(path).unwrap();
    let mut seqs = Vec::new();
    snapshot.for_each_event(|event| {
        if let Some(ttlog::ValueRef::U64(seq)) = event.field("seq") {
            seqs.push(seq);
        }
    });
    assert_eq!(seqs, (0..=1_000).collect::<Vec<u64>>());
    let _ = std::fs::remove_dir_all(&dir);
}
