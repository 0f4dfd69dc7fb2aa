//! The remote sink (`TTLOG_REMOTE`, `ttlog::store::remote_sink`) against a real `ttlog serve`:
//! a service's events land in the server's store with their type, ids and fields; a server
//! that is down when the service starts gets the queued events once it is up; a server that
//! never comes up costs the service nothing but counted drops. Each service is a child
//! process (one logger per process).

/// The facade's test helpers (child processes).
#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{JOB_A, Server};

const MODE: &str = "TTLOG_TEST_REMOTE_MODE";

/// This test binary's `child` entry point in a child process, with `env` set.
fn spawn_child(mode: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = common::child_process(MODE, mode);
    for name in ["TTLOG_STORE", "TTLOG_REMOTE", "TTLOG_REMOTE_TOKEN"] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    cmd
}

#[test]
#[ignore = "entry point of the child processes"]
fn child() {
    let mode = std::env::var(MODE).unwrap();
    match mode.as_str() {
        // A job runner: a system event, then a job run's events (one on stderr).
        "job-runner" => {
            let handle = ttlog::init().console(false).with_env(false).init();
            ttlog::info!(port = 8080_u64, "runner started");
            ttlog::with_context("job_run_id", JOB_A, || {
                for step in 0..20_u64 {
                    ttlog::info!(step, "step done");
                }
                ttlog::with_context("stream", "stderr", || {
                    ttlog::error!(code = 137_i64, "worker killed");
                });
            });
            handle.flush();
            drop(handle);
        }
        // Logs, then waits for the parent to start the server before stopping.
        "server-later" => {
            let handle = ttlog::init().console(false).with_env(false).init();
            for i in 0..50_u64 {
                ttlog::info!(i, "queued while the server is down");
            }
            handle.flush();
            let go = std::env::var("TTLOG_TEST_GO_FILE").unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            while !std::path::Path::new(&go).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(handle); // waits (up to 5 s) for the queue to be written
        }
        // A server that never answers: a small queue overflows; the program is not slowed.
        "never-up" => {
            let url = std::env::var("TTLOG_TEST_URL").unwrap();
            let sink = ttlog::store::remote_sink(
                &url,
                ttlog::store::RemoteOptions {
                    batch: ttlog::sinks::BatchOptions {
                        queue: 100,
                        batch: 10,
                        shutdown_timeout: Duration::from_millis(300),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .unwrap();
            let counters = sink.counters();
            let handle = ttlog::init()
                .console(false)
                .with_env(false)
                .overflow(ttlog::Overflow::Block)
                .sink(sink)
                .init();
            let start = Instant::now();
            for i in 0..1000_u64 {
                ttlog::info!(i, "nobody is listening");
            }
            let logging = start.elapsed();
            handle.flush();
            let in_stats = handle.stats().sinks.iter().map(|s| s.dropped).sum::<u64>();
            drop(handle);
            println!(
                "RESULT written={} dropped={} in_stats={in_stats} logging_ms={}",
                counters.written(),
                counters.dropped(),
                logging.as_millis()
            );
        }
        other => panic!("unknown mode {other}"),
    }
}

#[test]
fn a_services_events_land_in_the_servers_store() {
    let server = Server::sqlite("remote-job-runner", &["--token", "fleet-token"]);
    let output = spawn_child(
        "job-runner",
        &[
            ("TTLOG_REMOTE", server.base.as_str()),
            ("TTLOG_REMOTE_TOKEN", "fleet-token"),
        ],
    )
    .output()
    .unwrap();
    common::succeed(&output);
    let all = server.json("/api/v1/logs?limit=1000");
    assert_eq!(all["total"], 22, "{all}");
    let system = server.json("/api/v1/logs/system");
    assert_eq!(system["logs"][0]["message"], "runner started");
    assert_eq!(system["logs"][0]["fields"]["port"], 8080);
    let run = server.json(&format!("/api/v1/logs/job-runs/{JOB_A}?limit=100"));
    assert_eq!(run["total"], 21);
    let failed = server.json(&format!("/api/v1/logs/job-runs/{JOB_A}?level=error"));
    let row = &failed["logs"][0];
    assert_eq!(row["message"], "worker killed");
    assert_eq!(row["stream"], "stderr");
    assert_eq!(row["type"], "job");
    assert_eq!(row["fields"]["code"], 137);
    assert!(row["file"].as_str().unwrap().ends_with("remote_sink.rs"));
    assert!(row["line"].as_u64().unwrap() > 0);
}

#[test]
fn a_wrong_token_is_retried_then_counted_not_lost_silently() {
    let server = Server::sqlite("remote-wrong-token", &["--token", "right"]);
    let output = spawn_child(
        "job-runner",
        &[
            ("TTLOG_REMOTE", server.base.as_str()),
            ("TTLOG_REMOTE_TOKEN", "wrong"),
        ],
    )
    .output()
    .unwrap();
    common::succeed(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HTTP 401"), "said once on stderr: {stderr}");
    assert!(stderr.contains("dropped"), "{stderr}");
    assert_eq!(server.json("/api/v1/logs")["total"], 0);
}

#[test]
fn a_server_that_comes_up_later_gets_the_queued_events() {
    let port = common::free_port();
    let dir = support::temp_dir("remote-later");
    let go = dir.join("go");
    let service = spawn_child(
        "server-later",
        &[
            ("TTLOG_REMOTE", &format!("http://127.0.0.1:{port}")),
            ("TTLOG_TEST_GO_FILE", go.to_str().unwrap()),
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // The service has tried (and failed) to send before the server starts.
    std::thread::sleep(Duration::from_millis(500));
    let store = format!("sqlite:{}", dir.join("logs.db").display());
    let server = Server::start(&store, &["--listen", &format!("127.0.0.1:{port}")]);
    std::fs::write(&go, b"").unwrap();
    let output = service.wait_with_output().unwrap();
    common::succeed(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("retrying"), "{stderr}");
    assert_eq!(server.json("/api/v1/logs?limit=1000")["total"], 50);
}

#[test]
fn a_server_that_never_answers_costs_counted_drops_only() {
    let port = common::free_port();
    let output = spawn_child(
        "never-up",
        &[("TTLOG_TEST_URL", &format!("http://127.0.0.1:{port}"))],
    )
    .output()
    .unwrap();
    let stdout = common::succeed(&output);
    let value = |key: &str| common::result_value(&stdout, key);
    assert_eq!(value("written"), 0);
    assert_eq!(value("dropped"), 1000, "every event is counted: {stdout}");
    assert!(
        value("in_stats") >= 1000 - 100 - 10,
        "the full queue's drops show in stats() while running: {stdout}"
    );
}

#[test]
fn a_refused_batch_is_dropped_and_counted_not_retried() {
    // The server refuses bodies over 200 bytes with 413: resending cannot help.
    let server = Server::sqlite("remote-refused", &["--max-body", "200"]);
    let start = Instant::now();
    let output = spawn_child("job-runner", &[("TTLOG_REMOTE", server.base.as_str())])
        .output()
        .unwrap();
    common::succeed(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(stderr.contains("HTTP 413"), "{stderr}");
    assert!(!stderr.contains("retrying"), "not retried: {stderr}");
    assert_eq!(server.json("/api/v1/logs")["total"], 0);
    // Not a timing assertion on speed: a refused batch must not wait out the shutdown timeout.
    assert!(start.elapsed() < Duration::from_secs(5));
}
