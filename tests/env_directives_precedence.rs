//! `TTLOG` wins over `RUST_LOG`, which wins over the builder's level; a malformed directive
//! makes `try_init` fail naming it, and makes `init` warn once and go on with the rest.
//!
//! Environment variables are per process, so each case runs this test binary again as a child
//! with the variables set, and reads what the child printed.

mod common;

use common::SharedBuf;
use ttlog::{Format, LogLevel, debug, error, info, trace, warn};

const CHILD: &str = "TTLOG_TEST_CHILD";

fn run_child(mode: &str, env: &[(&str, &str)]) -> (Vec<serde_json::Value>, String) {
    let mut cmd = common::child_process(CHILD, mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        // libtest may print `test child ... ` on the same line as the first event.
        .filter_map(|l| l.find("{\"timestamp\"").map(|at| &l[at..]))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, String::from_utf8(out.stderr).unwrap())
}

fn messages(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            format!(
                "{}:{}",
                l["target"].as_str().unwrap(),
                l["message"].as_str().unwrap()
            )
        })
        .collect()
}

/// The child process's entry point: not a test of its own. The tests above run it in a
/// child process (`child --exact --ignored`), with the mode in the environment.
#[test]
#[ignore = "entry point of the child processes the other tests start"]
fn child() {
    let mode = std::env::var(CHILD).expect("run by the other tests, in a child process");
    let out = SharedBuf::new();
    let builder = ttlog::init()
        .level(LogLevel::Warn)
        .format(Format::Json)
        .writer(out.clone());
    let handle = if mode == "strict" {
        match builder.try_init() {
            Ok(handle) => handle,
            Err(err) => {
                println!("ERROR: {err}");
                return;
            }
        }
    } else {
        builder.init()
    };
    trace!(target: "app::db", "db trace");
    debug!(target: "app", "app debug");
    info!(target: "app", "app info");
    warn!(target: "other", "other warn");
    error!(target: "dep", "dep error");
    info!(target: "dep", "dep info");
    handle.flush();
    print!("{}", out.text());
}

#[test]
fn ttlog_beats_rust_log_beats_builder() {
    let (lines, _) = run_child(
        "lenient",
        &[("TTLOG", "info,app::db=trace"), ("RUST_LOG", "error")],
    );
    assert_eq!(
        messages(&lines),
        [
            "app::db:db trace",
            "app:app info",
            "other:other warn",
            "dep:dep error",
            "dep:dep info"
        ]
    );

    let (lines, _) = run_child("lenient", &[("RUST_LOG", "debug,dep=error")]);
    assert_eq!(
        messages(&lines),
        [
            "app:app debug",
            "app:app info",
            "other:other warn",
            "dep:dep error"
        ]
    );

    // Neither set: the builder's level (warn).
    let (lines, _) = run_child("lenient", &[]);
    assert_eq!(messages(&lines), ["other:other warn", "dep:dep error"]);
}

#[test]
fn malformed_directive_is_named_by_try_init() {
    let mut cmd = common::child_process(CHILD, "strict");
    cmd.env("TTLOG", "info,app=loud");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("ERROR: invalid filter directive `app=loud`"),
        "{stdout}"
    );
}

#[test]
fn malformed_directive_warns_once_and_keeps_the_rest() {
    let (lines, stderr) = run_child("lenient", &[("TTLOG", "debug,app=loud,dep=off")]);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ttlog:")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("`app=loud`"), "{stderr}");
    assert_eq!(
        messages(&lines),
        ["app:app debug", "app:app info", "other:other warn"]
    );
}
