//! The `ttlog` store commands on a SQLite store (and the PostgreSQL of
//! `TTLOG_TEST_POSTGRES_URL` for ingest and query): ingest of each line kind, query filters
//! and formats, trends, tail following new rows, analyze from stored rows, and bad
//! arguments, URLs and unreachable stores exiting 2 with a clear message.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const JOB: &str = "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd";
const TASK: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f98765432";

fn ttlog(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttlog"))
        .args(args)
        .env_remove("TTLOG_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn store_url(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ttlog-store-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    format!("sqlite:{}", dir.join("logs.db").display())
}

/// Ingests the three kinds of line and checks what `query` gives back.
fn ingest_and_query(url: &str) {
    let lines_in = format!(
        "{{\"timestamp\":\"2026-12-06T10:00:00Z\",\"level\":\"info\",\"target\":\"runner\",\"message\":\"job started\",\"context\":{{\"job_run_id\":\"{JOB}\"}},\"thread\":\"main\"}}\n\
         {{\"timestamp\":\"2026-12-06T10:00:01Z\",\"source\":\"docker\",\"stream\":\"stderr\",\"content\":\"pulling image\",\"level\":\"warn\",\"service_name\":\"worker\"}}\n\
         plain line of output\n"
    );
    let out = ttlog(
        &[
            "ingest",
            "--store",
            url,
            "--job-run",
            JOB,
            "--task-run",
            TASK,
            "--stream",
            "stdout",
        ],
        Some(&lines_in),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("stored 3 lines"),
        "{}",
        text(&out.stderr)
    );

    let out = ttlog(&["query", "--store", url, "--task-run", TASK], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = lines(&out);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["message"], "job started");
    assert_eq!(rows[0]["type"], "task");
    assert_eq!(rows[0]["job_run_id"], JOB);
    assert_eq!(
        rows[0]["stream"], "stdout",
        "--stream fills lines without one"
    );
    assert_eq!(rows[1]["message"], "pulling image");
    assert_eq!(rows[1]["stream"], "stderr");
    assert_eq!(rows[1]["level"], "warn");
    assert_eq!(rows[2]["message"], "plain line of output");
    for key in [
        "id",
        "timestamp",
        "level",
        "target",
        "message",
        "type",
        "task_run_id",
    ] {
        assert!(rows[0].get(key).is_some(), "{key}");
    }
    let out = ttlog(
        &[
            "query", "--store", url, "--grep", "image", "--format", "text",
        ],
        None,
    );
    let shown = text(&out.stdout);
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert!(
        shown.contains("WARN") && shown.contains("pulling image"),
        "{shown}"
    );
    let out = ttlog(
        &[
            "query", "--store", url, "--level", "warn", "--limit", "1", "--offset", "0",
        ],
        None,
    );
    assert_eq!(lines(&out).len(), 1);
}

#[test]
fn ingest_query_trends_and_analyze_on_sqlite() {
    let url = store_url("main");
    ingest_and_query(&url);

    let out = ttlog(
        &[
            "trends", "--store", &url, "--window", "100000d", "--bucket", "1h", "--by", "level",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let trends = lines(&out);
    assert!(!trends.is_empty());
    for key in ["bucket", "key", "count", "traces"] {
        assert!(trends[0].get(key).is_some(), "{key}");
    }
    let total: u64 = trends.iter().map(|t| t["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 3);

    // A report on a stored row.
    let error = "{\"timestamp\":\"2026-12-06T10:00:02Z\",\"level\":\"error\",\"target\":\"runner\",\"message\":\"pool timed out while waiting for an open connection\"}\n";
    assert!(
        ttlog(&["ingest", "--store", &url], Some(error))
            .status
            .success()
    );
    let out = ttlog(&["query", "--store", &url, "--level", "error"], None);
    let id = lines(&out)[0]["id"].as_i64().unwrap().to_string();
    let out = ttlog(
        &["analyze", "--store", &url, "--id", &id, "--format", "json"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["trigger"]["message"],
        "pool timed out while waiting for an open connection"
    );
    assert_eq!(report["patterns"][0]["id"], "db_pool_exhausted");
    assert!(
        report["causal_chain"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
}

#[test]
fn ingest_and_query_on_postgres() {
    let Ok(url) = std::env::var("TTLOG_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but TTLOG_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    // Cargo runs test binaries one after the other, and in this one only this test uses the
    // database: it may start from an empty one.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute("DROP TABLE IF EXISTS logs; DROP TABLE IF EXISTS ttlog_migrations;")
        .unwrap();
    ingest_and_query(&url);
    client
        .batch_execute("DROP TABLE IF EXISTS logs; DROP TABLE IF EXISTS ttlog_migrations;")
        .unwrap();
}

#[test]
fn tail_follows_new_rows() {
    let url = store_url("tail");
    let mut store = ttlog_store::Store::open(&url).unwrap();
    let row = |message: &str| {
        ttlog_store::NewRow::from_line(
            message,
            &Default::default(),
            ttlog_store::nanos(std::time::SystemTime::now()),
        )
    };
    store.insert(&[row("before 1"), row("before 2")]).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttlog"))
        .args(["tail", "--store", &url, "--lines", "1", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if tx.send(v["message"].as_str().unwrap().to_owned()).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("a line from tail")
    };
    assert_eq!(next(), "before 2", "the last row first");
    let started = Instant::now();
    store.insert(&[row("after 1")]).unwrap();
    store.insert(&[row("after 2")]).unwrap();
    assert_eq!(next(), "after 1");
    assert_eq!(next(), "after 2");
    assert!(started.elapsed() < Duration::from_secs(5));
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn bad_arguments_urls_and_stores_exit_2() {
    let url = store_url("bad");
    let cases: [(&[&str], &str); 7] = [
        (&["query", "--store", "mysql://db/logs"], "not a store URL"),
        (
            &["query", "--store", "postgres://nobody@127.0.0.1:1/none"],
            "store",
        ),
        (
            &["query", "--store", &url, "--job-run", "run-42"],
            "not a UUID",
        ),
        (
            &["query", "--store", &url, "--type", "cron"],
            "unknown type",
        ),
        (
            &["query", "--store", &url, "--since", "yesterday-ish"],
            "neither a time",
        ),
        (
            &["trends", "--store", &url, "--by", "colour"],
            "cannot group by",
        ),
        (
            &["ingest", "--store", &url, "--type", "task"],
            "needs --task-run",
        ),
    ];
    for (args, expected) in cases {
        let out = ttlog(args, Some(""));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let out = ttlog(&["query"], None);
    assert_eq!(out.status.code(), Some(2), "no store given");
}
