//! `std::process::exit` right after logging, and returning from `main` with the handle in a
//! `static` (never dropped), still write everything that was logged: an `atexit` hook flushes,
//! waiting at most 2 s (issue 10: `error!("fatal"); std::process::exit(3)` printed nothing,
//! nor the 1,000 events before it).

mod common;

use std::sync::OnceLock;

use ttlog::{LogLevel, TtlogHandle, error, info};

const CHILD: &str = "TTLOG_EXIT_CHILD";

static HANDLE: OnceLock<TtlogHandle> = OnceLock::new();

/// The child's entry point; run by the tests below, in a child process.
#[test]
#[ignore = "entry point of the child processes the other tests start"]
fn child() {
    let mode = std::env::var(CHILD).expect("run by the other tests, in a child process");
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(ttlog::Format::Json)
        .writer(std::io::stdout())
        .init();
    for seq in 0..1_000_u64 {
        info!("processing", seq);
    }
    error!("fatal: cannot continue", code = 3_u8);
    match mode.as_str() {
        "exit" => {
            // The handle is alive (not dropped): only the exit hook can flush.
            let _keep = handle;
            std::process::exit(3)
        }
        "static" => {
            // Never dropped: the test harness returns from `main` after this test.
            HANDLE.set(handle).unwrap();
        }
        other => panic!("unknown mode {other}"),
    }
}

/// Runs the child in `mode`; returns its exit code and the JSON lines it logged.
fn run(mode: &str) -> (Option<i32>, Vec<serde_json::Value>) {
    let out = common::child_process(CHILD, mode).output().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        // The test harness may print "test child ... " before the first line.
        .filter_map(|l| l.find('{').map(|at| &l[at..]))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code(), lines)
}

fn assert_complete(lines: &[serde_json::Value]) {
    assert_eq!(lines.len(), 1_001, "every event, then the fatal one");
    for (seq, line) in lines[..1_000].iter().enumerate() {
        assert_eq!(line["fields"]["seq"], seq as u64);
    }
    assert_eq!(lines[1_000]["message"], "fatal: cannot continue");
    assert_eq!(lines[1_000]["level"], "error");
}

#[test]
fn process_exit_right_after_an_error() {
    let (code, lines) = run("exit");
    assert_eq!(code, Some(3));
    assert_complete(&lines);
}

#[test]
fn returning_from_main_with_the_handle_in_a_static() {
    let (code, lines) = run("static");
    assert_eq!(code, Some(0));
    assert_complete(&lines);
}
