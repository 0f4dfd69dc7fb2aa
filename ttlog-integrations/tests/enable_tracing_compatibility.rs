//! The one-line install: `enable_tracing_compatibility_with` starts ttlog and sets the global
//! `tracing` subscriber (`TtlogTracingLayer::sole()`); ttlog's runtime filter reaches tracing
//! callsites at once (tracing's cached interest and its global level are rebuilt on every
//! change of ttlog's filter); a second install fails with `AlreadySet` and leaves the first running.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::SharedBuf;
use ttlog::{Format, LogLevel};
use ttlog_integrations::CompatError;
use ttlog_integrations::tracing_compat::enable_tracing_compatibility_with;

fn builder(out: &SharedBuf) -> ttlog::Builder {
    ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(Format::Json)
        .writer(out.clone())
        .panic_hook(false)
        .signals(false)
}

#[test]
fn one_line_install() {
    let out = SharedBuf::new();
    let handle = enable_tracing_compatibility_with(builder(&out)).expect("first install");

    let emit = |round: u32| {
        let span = tracing::info_span!("job", round);
        let _entered = span.enter();
        tracing::debug!(target: "worker::db", round, "query planned");
        tracing::info!(target: "worker::http", round, "request");
    };
    // tracing's own level check follows ttlog's filter (the layer's max_level_hint, which
    // tracing recomputes when ttlog's filter change rebuilds its interest cache), so a
    // disabled event stops at tracing's first check, as without ttlog.
    let current = tracing::level_filters::LevelFilter::current;
    assert_eq!(current(), tracing::level_filters::LevelFilter::INFO);
    emit(1);
    handle.set_filter("info,worker::db=debug").unwrap();
    assert_eq!(current(), tracing::level_filters::LevelFilter::DEBUG);
    emit(2);
    handle.set_filter("warn").unwrap();
    assert_eq!(current(), tracing::level_filters::LevelFilter::WARN);
    emit(3);
    handle.set_filter("info").unwrap();
    assert_eq!(current(), tracing::level_filters::LevelFilter::INFO);

    let second = enable_tracing_compatibility_with(builder(&SharedBuf::new()));
    assert!(
        matches!(second, Err(CompatError::AlreadySet(_))),
        "{second:?}"
    );
    tracing::info!(target: "worker::http", "still running");
    handle.flush();

    let lines = out.json();
    let seen: Vec<(String, u64)> = lines
        .iter()
        .filter(|l| l["target"].as_str().unwrap().starts_with("worker"))
        .map(|l| {
            (
                l["message"].as_str().unwrap().to_owned(),
                l["fields"]["round"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("request".to_owned(), 1),
            ("query planned".to_owned(), 2),
            ("request".to_owned(), 2),
            ("still running".to_owned(), 0),
        ]
    );
    let in_span = lines.iter().find(|l| l["message"] == "request").unwrap();
    assert_eq!(in_span["spans"][0]["name"], "job");
}
