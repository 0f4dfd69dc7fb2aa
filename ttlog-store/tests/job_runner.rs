//! A job runner logging through ttlog into both stores at once: system, job and task events
//! (with `stream`) land with the right type, ids, stream, level and metadata, written by the
//! store sinks off the consumer thread, everything queued written when the logger stops.

mod common;

use ttlog::{LogLevel, Overflow};
use ttlog_store::{LogQuery, LogType, Store, Stream};

const JOB: &str = "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd";
const TASK: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f98765432";

/// What a job runner writes: system events, then a job run and one of its tasks (whose
/// output lines carry their stream), all through `with_context`.
fn run_a_job() {
    ttlog::info!(port = 8080_u16, "scheduler started");
    ttlog::with_context("job_run_id", JOB, || {
        ttlog::info!(total_tasks = 1_u64, "job execution started");
        ttlog::with_context("task_run_id", TASK, || {
            ttlog::with_context("stream", "stdout", || {
                ttlog::info!(status_code = 200_u64, "HTTP request completed");
            });
            ttlog::with_context("stream", "stderr", || {
                ttlog::error!(attempt = 3_u64, "upload failed: connection reset by peer");
            });
        });
        ttlog::warn!("job finished with 1 failed task");
    });
    // An id that is not a UUID does not make a job log.
    ttlog::with_context("job_run_id", "nightly", || {
        ttlog::info!("not a job log");
    });
}

fn check(url: &str) {
    let mut store = Store::open(url).unwrap();
    let rows = store.query(&LogQuery::new().limit(100)).unwrap();
    let messages: Vec<&str> = rows.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "scheduler started",
            "job execution started",
            "HTTP request completed",
            "upload failed: connection reset by peer",
            "job finished with 1 failed task",
            "not a job log",
        ],
        "{url}"
    );
    let [started, job, output, failed, finished, not_job] = &rows[..] else {
        unreachable!()
    };
    assert_eq!(started.log_type, LogType::System);
    assert_eq!(started.job_run_id, None);
    assert_eq!(started.metadata["fields"]["port"], 8080);
    assert_eq!(job.log_type, LogType::Job);
    assert_eq!(job.job_run_id.as_deref(), Some(JOB));
    assert_eq!(job.task_run_id, None);
    assert_eq!(output.log_type, LogType::Task);
    assert_eq!(output.task_run_id.as_deref(), Some(TASK));
    assert_eq!(output.job_run_id.as_deref(), Some(JOB));
    assert_eq!(output.stream, Stream::Stdout);
    assert_eq!(failed.stream, Stream::Stderr);
    assert_eq!(failed.level, "error");
    assert_eq!(failed.metadata["context"]["task_run_id"], TASK);
    assert_eq!(
        failed.metadata["thread"],
        std::thread::current().name().unwrap()
    );
    assert!(
        failed.metadata["file"]
            .as_str()
            .unwrap()
            .ends_with("job_runner.rs")
    );
    assert!(failed.metadata["line"].as_u64().unwrap() > 0);
    assert_eq!(finished.log_type, LogType::Job);
    assert_eq!(finished.level, "warn");
    assert_eq!(not_job.log_type, LogType::System);
    assert_eq!(not_job.metadata["context"]["job_run_id"], "nightly");
    // Queries by run, as a job UI makes them.
    assert_eq!(store.count(&LogQuery::new().job_run(JOB)).unwrap(), 4);
    assert_eq!(store.count(&LogQuery::new().task_run(TASK)).unwrap(), 2);
}

#[test]
fn a_job_runner_lands_typed_rows_in_both_backends() {
    let sqlite = common::sqlite_url("store-job-runner");
    let postgres = common::postgres_url();
    let _lock = common::POSTGRES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(url) = &postgres {
        common::reset_postgres(url);
    }
    let mut builder = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .panic_hook(false)
        .signals(false)
        .sink(ttlog_store::store_sink(&sqlite, Default::default()).unwrap());
    if let Some(url) = &postgres {
        builder = builder.sink(ttlog_store::store_sink(url, Default::default()).unwrap());
    }
    let handle = builder.try_init().expect("the only logger of this process");
    run_a_job();
    let stats = handle.stats();
    drop(handle);
    assert_eq!(stats.dropped, 0);
    check(&sqlite);
    if let Some(url) = &postgres {
        check(url);
    }
}
