//! `Builder::stdout()` sends the console output to stdout (and nothing to stderr), in the
//! format asked for; without a terminal there are no colours.

mod common;

use ttlog::{Format, LogLevel, info};

const CHILD: &str = "TTLOG_STDOUT_CHILD";

/// The child's entry point; run by the test below, in a child process.
#[test]
#[ignore = "entry point of the child process the other test starts"]
fn child() {
    assert!(std::env::var(CHILD).is_ok(), "run by the other test");
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(Format::Json)
        .stdout()
        .init();
    info!("to stdout", seq = 1_u64);
    handle.flush();
}

#[test]
fn console_to_stdout() {
    let output = common::child_process(CHILD, "1").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    // The test harness writes `test child ... ` before it on the same line.
    let line = stdout
        .lines()
        .find_map(|l| l.find("{\"timestamp\"").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no JSON line on stdout: {stdout}"));
    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(event["message"], "to stdout");
    assert!(!stderr.contains("to stdout"), "{stderr}");
    assert!(!line.contains('\u{1b}'), "no colours without a terminal");
}
