//! A PostgreSQL store that is down when the program starts and comes up later: the program
//! is never blocked, events wait in the sink's bounded queue, those that fit are written once
//! the server is back, and the rest are counted as dropped. Stops and starts the server
//! named by `TTLOG_TEST_POSTGRES_CTL` (e.g. `pg_ctlcluster 15 main`; `.ci/run` sets it).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use ttlog::{LogLevel, Overflow};
use ttlog_sinks::BatchOptions;
use ttlog_store::{LogQuery, Store};

fn ctl(action: &str) {
    let ctl = std::env::var("TTLOG_TEST_POSTGRES_CTL").expect("checked by the caller");
    let mut parts = ctl.split_whitespace();
    let status = Command::new(parts.next().unwrap())
        .args(parts)
        .arg(action)
        .status()
        .unwrap_or_else(|e| panic!("{ctl} {action}: {e}"));
    assert!(status.success(), "{ctl} {action} failed");
}

#[test]
fn a_store_down_at_start_gets_what_was_queued() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    if std::env::var("TTLOG_TEST_POSTGRES_CTL").is_err() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but TTLOG_TEST_POSTGRES_CTL is not set"
        );
        eprintln!("skipped: set TTLOG_TEST_POSTGRES_CTL to stop and start the server");
        return;
    }
    let _lock = common::POSTGRES.lock().unwrap_or_else(|p| p.into_inner());
    common::reset_postgres(&url);
    ctl("stop");
    let sink = ttlog_store::store_sink(
        &url,
        BatchOptions {
            queue: 1_000,
            batch: 100,
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_millis(500),
            ..BatchOptions::default()
        },
    )
    .unwrap();
    let counters = sink.counters();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .panic_hook(false)
        .signals(false)
        .sink(sink)
        .try_init()
        .unwrap();
    let started = Instant::now();
    for seq in 0..1_500_u64 {
        ttlog::info!(seq, "order accepted");
    }
    handle.flush();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the program was held up: {:?}",
        started.elapsed()
    );
    assert_eq!(counters.written(), 0);
    ctl("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    while counters.written() + counters.dropped() < 1_500 {
        assert!(
            Instant::now() < deadline,
            "written {} dropped {}",
            counters.written(),
            counters.dropped()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = handle.stats();
    drop(handle);
    let (written, dropped) = (counters.written(), counters.dropped());
    assert_eq!(
        stats.sinks[0].dropped, dropped,
        "the logger's stats show what the sink dropped: {stats:?}"
    );
    assert!(
        dropped > 0 && written >= 1_000,
        "written {written} dropped {dropped}"
    );
    assert_eq!(written + dropped, 1_500);
    let mut store = Store::open(&url).unwrap();
    assert_eq!(store.count(&LogQuery::new()).unwrap(), written);
    let first = store.query(&LogQuery::new().limit(1)).unwrap();
    assert_eq!(first[0].message, "order accepted");
    common::reset_postgres(&url);
}
