//! Both backends through the `Store` API: schema and migrations, every query filter and
//! pagination, trends, correlated errors, retention, SQL injection attempts in every text
//! filter, and a writer and a reader at once. The same checks run on SQLite and on the
//! PostgreSQL of `TTLOG_TEST_POSTGRES_URL` (skipped without it, except under `CI=true`).

mod common;

use std::time::{Duration, SystemTime};

use ttlog_core::LogLevel;
use ttlog_store::{
    LogQuery, LogType, NewRow, Retention, Store, StoreError, Stream, TrendKey, TrendQuery, nanos,
};

const JOB: &str = "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd";
const TASK: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f98765432";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn row(at_ns: i64, level: LogLevel, target: &str, message: &str) -> NewRow {
    let metadata = serde_json::json!({"target": target, "thread": "main"}).to_string();
    NewRow {
        log_type: LogType::System,
        job_run_id: None,
        task_run_id: None,
        timestamp_ns: at_ns,
        level,
        stream: Stream::System,
        message: message.to_owned(),
        target: target.to_owned(),
        trace_id: None,
        span_id: None,
        metadata,
    }
}

/// 100 rows a second apart from `start`: system, job and task logs, a trace, errors.
fn fixture(start: i64) -> Vec<NewRow> {
    (0..100)
        .map(|i| {
            let at = start + i * 1_000_000_000;
            let level = match i % 10 {
                0 => LogLevel::Error,
                1 | 2 => LogLevel::Warn,
                9 => LogLevel::Debug,
                _ => LogLevel::Info,
            };
            let target = if i % 2 == 0 { "api::db" } else { "api::http" };
            let mut r = row(at, level, target, &format!("event {i} of the fixture"));
            if (20..60).contains(&i) {
                r.log_type = LogType::Job;
                r.job_run_id = Some(JOB.into());
            }
            if (40..60).contains(&i) {
                r.log_type = LogType::Task;
                r.task_run_id = Some(TASK.into());
                r.stream = if i % 2 == 0 {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
            }
            if (50..55).contains(&i) {
                r.trace_id = Some(TRACE.into());
                r.span_id = Some("00f067aa0ba902b7".into());
            }
            r
        })
        .collect()
}

fn ids(rows: &[ttlog_store::StoredRow]) -> Vec<usize> {
    rows.iter()
        .map(|r| {
            r.message
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

fn check_backend(url: &str) {
    let mut store = Store::open(url).expect("the store opens");
    let start = nanos(SystemTime::now()) - 200 * 1_000_000_000;
    store.insert(&fixture(start)).unwrap();
    let all = LogQuery::new().limit(1000);
    assert_eq!(store.count(&all).unwrap(), 100);

    // Oldest first, limit and offset.
    let page = store.query(&LogQuery::new().limit(10).offset(5)).unwrap();
    assert_eq!(ids(&page), (5..15).collect::<Vec<_>>());
    // Level at least warn.
    let warnings = store.query(&all.clone().level(LogLevel::Warn)).unwrap();
    assert_eq!(warnings.len(), 30);
    assert!(
        warnings
            .iter()
            .all(|r| r.level == "warn" || r.level == "error")
    );
    // Type, job run, task run.
    assert_eq!(
        store.count(&all.clone().log_type(LogType::Job)).unwrap(),
        20
    );
    assert_eq!(store.count(&all.clone().job_run(JOB)).unwrap(), 40);
    let task = store
        .query(&all.clone().task_run(&TASK.to_uppercase()))
        .unwrap();
    assert_eq!(ids(&task), (40..60).collect::<Vec<_>>());
    assert_eq!(task[0].stream, Stream::Stdout);
    assert_eq!(task[1].stream, Stream::Stderr);
    assert_eq!(task[0].job_run_id.as_deref(), Some(JOB));
    // Trace, target prefix, text.
    assert_eq!(
        ids(&store.query(&all.clone().trace(TRACE)).unwrap()),
        vec![50, 51, 52, 53, 54]
    );
    assert_eq!(store.count(&all.clone().target("api::d")).unwrap(), 50);
    assert_eq!(
        ids(&store.query(&all.clone().grep("event 7 ")).unwrap()),
        vec![7]
    );
    // Time range.
    let mut range = all.clone();
    range.since_ns = Some(start + 10 * 1_000_000_000);
    range.until_ns = Some(start + 19 * 1_000_000_000);
    assert_eq!(
        ids(&store.query(&range).unwrap()),
        (10..20).collect::<Vec<_>>()
    );
    // After an id (what `tail` follows).
    let first = store.query(&LogQuery::new().limit(1)).unwrap()[0].id;
    assert_eq!(store.count(&all.clone().after_id(first)).unwrap(), 99);
    // The JSON of a row: the contract's keys plus the row's own.
    let json = task[0].to_json();
    for key in [
        "id",
        "type",
        "job_run_id",
        "task_run_id",
        "stream",
        "timestamp",
        "level",
        "target",
        "message",
        "thread",
    ] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    assert_eq!(json["type"], "task");

    // Injection attempts in every text filter match nothing and change nothing.
    for evil in [
        "'; DROP TABLE logs; --",
        "\" OR 1=1 --",
        "%",
        "_",
        "\\",
        "x') OR ('1'='1",
    ] {
        let q = all.clone().target(evil).grep(evil).trace(evil);
        assert_eq!(store.count(&q).unwrap(), 0, "{evil}");
        assert!(
            store.query(&all.clone().grep(evil)).unwrap().is_empty(),
            "{evil}"
        );
        assert!(
            store.query(&all.clone().target(evil)).unwrap().is_empty(),
            "{evil}"
        );
    }
    assert_eq!(store.count(&all).unwrap(), 100, "the table is intact");

    // Trends: 10 buckets of 10 s over the fixture, by level; traces counted.
    let trends = store
        .trends(&TrendQuery {
            window: Duration::from_secs(100),
            bucket: Duration::from_secs(10),
            by: TrendKey::Level,
            until: Some(
                SystemTime::UNIX_EPOCH + Duration::from_nanos((start + 99 * 1_000_000_000) as u64),
            ),
            level: None,
        })
        .unwrap();
    let total: u64 = trends.iter().map(|t| t.count).sum();
    assert_eq!(total, 100);
    let errors: u64 = trends
        .iter()
        .filter(|t| t.key == "error")
        .map(|t| t.count)
        .sum();
    assert_eq!(errors, 10);
    let traces: u64 = trends.iter().map(|t| t.traces).sum();
    assert!(traces >= 1, "{trends:?}");
    let by_type = store
        .trends(&TrendQuery {
            window: Duration::from_secs(1000),
            bucket: Duration::from_secs(1000),
            by: TrendKey::Type,
            until: None,
            level: Some(LogLevel::Error),
        })
        .unwrap();
    assert_eq!(by_type.iter().map(|t| t.count).sum::<u64>(), 10);

    // Correlated errors: the trace's and those within the window.
    let error_50 = store.query(&all.clone().grep("event 50 ")).unwrap()[0].id;
    let related = store
        .correlated_errors(error_50, Duration::from_secs(15), 100)
        .unwrap();
    assert_eq!(ids(&related), vec![40, 60]);

    // Retention: by age, then by count, in small batches.
    // The fixture began 200 s ago: rows 0 to 50 are older than 149.5 s (with half a second
    // for the test to get here).
    let deleted = store
        .retain(&Retention {
            max_age: Some(Duration::from_millis(149_500)),
            max_rows: None,
            batch: 7,
        })
        .unwrap();
    assert_eq!(deleted, 51);
    assert_eq!(
        ids(&store.query(&all).unwrap()),
        (51..100).collect::<Vec<_>>()
    );
    store
        .retain(&Retention {
            max_age: None,
            max_rows: Some(20),
            batch: 7,
        })
        .unwrap();
    assert_eq!(
        ids(&store.query(&all).unwrap()),
        (80..100).collect::<Vec<_>>()
    );

    // A writer and a reader at once.
    let writer_url = url.to_owned();
    let writer = std::thread::spawn(move || {
        let mut store = Store::open(&writer_url).unwrap();
        for batch in 0..20 {
            let rows: Vec<NewRow> = (0..50)
                .map(|i| {
                    row(
                        start + 1000 + batch * 50 + i,
                        LogLevel::Info,
                        "bulk",
                        "bulk row",
                    )
                })
                .collect();
            store.insert(&rows).unwrap();
        }
    });
    let mut seen = 0;
    while !writer.is_finished() {
        let n = store.count(&all.clone().target("bulk")).unwrap();
        assert!(
            n >= seen && n.is_multiple_of(50),
            "a reader sees whole batches: {n}"
        );
        seen = n;
    }
    writer.join().unwrap();
    assert_eq!(store.count(&all.clone().target("bulk")).unwrap(), 1000);

    // Awkward text survives the trip: tabs, newlines, backslashes, quotes, non-ASCII. NUL,
    // which PostgreSQL text and JSONB cannot hold, becomes U+FFFD there (SQLite keeps it).
    // PostgreSQL keeps microseconds, SQLite nanoseconds.
    let awkward = "tab\there\nnew line \\ back \"quoted\" \u{e9}t\u{e9} \u{1F600} nul\0end";
    let mut r = row(start + 123_456_789, LogLevel::Warn, "awkward", awkward);
    r.metadata =
        serde_json::json!({"target": "awkward", "fields": {"raw": "a\u{0}b", "n": 1}}).to_string();
    r.log_type = LogType::Task;
    r.job_run_id = Some(JOB.into());
    r.task_run_id = Some(TASK.into());
    store.insert(&[r]).unwrap();
    let back = store.query(&all.clone().target("awkward")).unwrap();
    assert_eq!(back.len(), 1);
    let back = &back[0];
    let expected = awkward.replace('\0', "\u{FFFD}");
    if url.starts_with("postgres") {
        assert_eq!(back.message, expected);
        assert_eq!(back.metadata["fields"]["raw"], "a\u{FFFD}b");
    } else {
        // SQLite keeps NUL as it is.
        assert_eq!(back.message, awkward);
        assert_eq!(back.metadata["fields"]["raw"], "a\u{0}b");
    }
    assert_eq!(back.metadata["fields"]["n"], 1);
    assert_eq!(back.job_run_id.as_deref(), Some(JOB));
    assert_eq!(back.task_run_id.as_deref(), Some(TASK));
    let at = start + 123_456_789;
    let kept = if url.starts_with("postgres") {
        at.div_euclid(1000) * 1000
    } else {
        at
    };
    assert_eq!(back.timestamp_ns, kept);
}

#[test]
fn sqlite_store() {
    let url = common::sqlite_url("store-sqlite");
    check_backend(&url);
}

#[test]
fn postgres_store() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let _lock = common::POSTGRES.lock().unwrap_or_else(|p| p.into_inner());
    common::reset_postgres(&url);
    check_backend(&url);

    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .execute("INSERT INTO ttlog_migrations (version) VALUES (99)", &[])
        .unwrap();
    let err = Store::open(&url).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    common::reset_postgres(&url);
}

#[test]
fn bad_urls_and_newer_stores_are_clear_errors() {
    for url in ["mysql://db/logs", "sqlite:", "logs.db"] {
        let err = Store::open(url).unwrap_err();
        assert!(matches!(err, StoreError::BadUrl(_)), "{url}: {err}");
        assert!(
            err.to_string().contains("sqlite:") || err.to_string().contains("path"),
            "{err}"
        );
    }
    let err = Store::open("postgres://nobody@127.0.0.1:1/nothing").unwrap_err();
    assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");

    // A store whose schema is newer than this ttlog: refused.
    let url = common::sqlite_url("store-newer");
    drop(Store::open(&url).unwrap());
    let conn = rusqlite::Connection::open(url.strip_prefix("sqlite:").unwrap()).unwrap();
    conn.execute("INSERT INTO ttlog_migrations (version) VALUES (99)", [])
        .unwrap();
    let err = Store::open(&url).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("upgrade"), "{err}");
}

/// A server that refuses (here: a database that does not exist) says why, in the error
/// itself: `postgres::Error` alone displays only "db error".
#[test]
fn a_refusing_postgres_server_says_why() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let (server, _) = url.rsplit_once('/').expect("a database in the URL");
    let missing = format!("{server}/ttlog_no_such_database");
    let err = Store::open(&missing).unwrap_err();
    assert!(matches!(err, StoreError::Unreachable(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("ttlog_no_such_database") && text.contains("does not exist"),
        "{text}"
    );
    assert!(!text.contains(":ttlog@"), "the password stays out: {text}");
}
