//! The log store: ingest through the logger's own pipeline, and query latency on a big table.
//!
//! - `ingest_sqlite` / `ingest_postgres`: 100,000 of the benches' event (`ttlog::info!` with
//!   user_id, path, latency_ms: system logs), `Overflow::Block`, timed
//!   from the first event until the store sink has written every one (its batch counters).
//!   Targets: 200,000 events/s into SQLite, 100,000 events/s into PostgreSQL.
//! - `query_by_job_run_*` / `query_by_trace_*`: `Store::query` of one job run (100 rows) and
//!   of one trace (10 rows) on a table of 5,000,000 rows (50,000 job runs, 500,000 traces),
//!   made once and kept (SQLite under `target/bench-store/`; PostgreSQL: the table `logs` of
//!   `TTLOG_BENCH_POSTGRES_URL`, rebuilt when it does not hold 5,000,000 rows). Target: under
//!   10 ms.
//!
//! PostgreSQL cases run when `TTLOG_BENCH_POSTGRES_URL` is set (e.g.
//! `postgres://ttlog:ttlog@127.0.0.1:5432/ttlog_test`).
//!
//! Run: `cargo bench --bench store --features postgres` (figures in docs/BENCHMARKS.md).

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ttlog::sinks::{BatchCounters, BatchOptions};
use ttlog::store::{LogQuery, LogType, NewRow, Store, Stream};
use ttlog::{LogLevel, Overflow};

mod common;

use common::Switch;

use common::{LATENCY_MS, PATH};

const EVENTS: u64 = 100_000;
const ROWS: u64 = 5_000_000;

fn ingest(c: &mut Criterion, name: &str, url: &str, switch: &Switch, handle: &ttlog::TtlogHandle) {
    let sink = ttlog::store::store_sink(
        url,
        BatchOptions {
            queue: 1 << 20,
            batch: 8_192,
            ..BatchOptions::default()
        },
    )
    .unwrap();
    let counters: BatchCounters = sink.counters();
    *switch.0.lock().unwrap() = Some(Box::new(sink));
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let target = counters.written() + EVENTS;
                for _ in 0..EVENTS {
                    common::ttlog_event();
                }
                handle.flush();
                while counters.written() < target {
                    assert_eq!(counters.dropped(), 0, "the queue is big enough");
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            start.elapsed()
        })
    });
    group.finish();
    *switch.0.lock().unwrap() = None;
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// Fills the store at `url` with `ROWS` rows unless it already has them.
fn big_table(url: &str) -> Store {
    let mut store = Store::open(url).unwrap();
    if store.count(&LogQuery::new()).unwrap() == ROWS {
        return store;
    }
    assert_eq!(
        store.count(&LogQuery::new()).unwrap(),
        0,
        "{url} holds rows of something else"
    );
    let start = ttlog::store::nanos(std::time::SystemTime::now()) - ROWS as i64 * 1_000_000;
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..ROWS {
        let metadata = serde_json::json!({
            "target": "api::http",
            "fields": {"user_id": i % 1000, "path": PATH, "latency_ms": LATENCY_MS},
        })
        .to_string();
        batch.push(NewRow {
            log_type: LogType::Job,
            job_run_id: Some(uuid(i / 100)),
            task_run_id: None,
            timestamp_ns: start + i as i64 * 1_000_000,
            level: if i % 50 == 0 {
                LogLevel::Error
            } else {
                LogLevel::Info
            },
            stream: Stream::System,
            message: "request handled".into(),
            target: "api::http".into(),
            trace_id: Some(format!("{:032x}", i % 500_000)),
            span_id: None,
            metadata,
        });
        if batch.len() == batch.capacity() {
            store.insert(&batch).unwrap();
            batch.clear();
        }
    }
    store.insert(&batch).unwrap();
    store
}

fn queries(c: &mut Criterion, name: &str, url: &str) {
    let mut store = big_table(url);
    let mut group = c.benchmark_group("store");
    group.sample_size(50);
    let mut n = 0u64;
    group.bench_function(format!("query_by_job_run_{name}"), |b| {
        b.iter(|| {
            n = (n + 7919) % 50_000;
            let rows = store
                .query(&LogQuery::new().job_run(&uuid(n)).limit(100))
                .unwrap();
            assert_eq!(rows.len(), 100);
            rows
        })
    });
    group.bench_function(format!("query_by_trace_{name}"), |b| {
        b.iter(|| {
            n = (n + 7919) % 500_000;
            let rows = store
                .query(&LogQuery::new().trace(&format!("{n:032x}")).limit(100))
                .unwrap();
            assert_eq!(rows.len(), 10);
            rows
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-store");
    let _ = std::fs::remove_dir_all(root.join("ingest"));
    let switch = Switch::default();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .thread_buffer_size(1 << 20)
        .sink(switch.clone())
        .init();
    let postgres = std::env::var("TTLOG_BENCH_POSTGRES_URL").ok();

    let sqlite = format!("sqlite:{}", root.join("ingest/logs.db").display());
    ingest(c, "ingest_sqlite", &sqlite, &switch, &handle);
    if let Some(url) = &postgres {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        client
            .batch_execute("DROP TABLE IF EXISTS logs; DROP TABLE IF EXISTS ttlog_migrations;")
            .unwrap();
        ingest(c, "ingest_postgres", url, &switch, &handle);
        client
            .batch_execute("DROP TABLE IF EXISTS logs; DROP TABLE IF EXISTS ttlog_migrations;")
            .unwrap();
    }
    drop(handle);

    queries(
        c,
        "sqlite",
        &format!("sqlite:{}", root.join("big/logs.db").display()),
    );
    if let Some(url) = &postgres {
        queries(c, "postgres", url);
    }
}

criterion_group!(store, benches);
criterion_main!(store);
