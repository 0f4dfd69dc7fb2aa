//! `tracing` through `TtlogTracingLayer`: events and spans arrive in ttlog's JSON output with
//! the same schema, field types and source locations as ttlog's own macros; explicit parents,
//! `record`, `follows_from`, errors; beside another layer with per-layer filters; in a
//! flight-recorder snapshot; and ttlog's runtime filter reaches `tracing` callsites.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::sync::OnceLock;

use common::SharedBuf;
use serde_json::{Value, json};
use tracing_subscriber::prelude::*;
use ttlog::{Format, LogLevel, TtlogHandle};
use ttlog_integrations::tracing_compat::{TtlogFilter, TtlogTracingLayer};

struct Logger {
    handle: TtlogHandle,
    out: SharedBuf,
    capture: ttlog::CaptureSink,
}

/// One ttlog logger for the whole test binary (tests run in parallel and tell their lines
/// apart by target).
fn logger() -> &'static Logger {
    static LOGGER: OnceLock<Logger> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let out = SharedBuf::new();
        let capture = ttlog::CaptureSink::new();
        let handle = ttlog::init()
            .with_env(false)
            .level(LogLevel::Debug)
            .recorder_level(LogLevel::Trace)
            .format(Format::Json)
            .writer(out.clone())
            .sink(capture.clone())
            .snapshot_dir(common::temp_dir("tracing-layer"))
            .panic_hook(false)
            .signals(false)
            .try_init()
            .expect("the only logger of this test binary");
        Logger {
            handle,
            out,
            capture,
        }
    })
}

/// The JSON lines of `target` logged so far.
fn lines(target: &str) -> Vec<Value> {
    let logger = logger();
    logger.handle.flush();
    logger.out.json_of_target(target)
}

fn with_ttlog<R>(f: impl FnOnce() -> R) -> R {
    logger();
    let subscriber = tracing_subscriber::registry()
        .with(TtlogTracingLayer::new().with_filter(TtlogFilter::new()));
    tracing::subscriber::with_default(subscriber, f)
}

/// The parts of a line that do not change from run to run.
fn stable(line: &Value) -> Value {
    let mut line = line.clone();
    let object = line.as_object_mut().unwrap();
    for key in ["timestamp", "line", "trace_id", "span_id"] {
        object.remove(key);
    }
    if let Some(fields) = object.get_mut("fields").and_then(Value::as_object_mut) {
        fields.remove("duration_ns");
    }
    line
}

#[test]
fn events_match_native_events() {
    let (native_line, tracing_line) = with_ttlog(|| {
        let native_line = line!() + 1;
        ttlog::info!(target: "cmp", "request handled", user_id = 42_u64, path = "/api/v1/items", latency_ms = 3.25, ok = true, delta = -7_i64, peer = %"10.0.0.7", tags = ?["a", "b"]);
        let tracing_line = line!() + 1;
        tracing::info!(target: "cmp", user_id = 42_u64, path = "/api/v1/items", latency_ms = 3.25, ok = true, delta = -7_i64, peer = %"10.0.0.7", tags = ?["a", "b"], "request handled");
        (native_line, tracing_line)
    });
    let lines = lines("cmp");
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let (native, adapted) = (&lines[0], &lines[1]);
    assert_eq!(common::keys(adapted), common::CONTRACT_KEYS);
    assert_eq!(stable(native), stable(adapted));
    assert_eq!(
        adapted["fields"],
        json!({"user_id": 42, "path": "/api/v1/items", "latency_ms": 3.25, "ok": true,
               "delta": -7, "peer": "10.0.0.7", "tags": "[\"a\", \"b\"]"})
    );
    assert_eq!(native["line"], native_line);
    assert_eq!(adapted["line"], tracing_line);
    assert_eq!(adapted["file"], file!());

    // The capture sink sees the same typed values.
    let captured: Vec<ttlog::CapturedEvent> = logger()
        .capture
        .events()
        .into_iter()
        .filter(|e| e.target == "cmp")
        .collect();
    assert_eq!(captured.len(), 2);
    let (native, adapted) = (&captured[0], &captured[1]);
    // Typed values keep their kind. `tracing` hands `%` values to layers through `Debug` (its
    // `DisplayValue` records itself with `record_debug`), so `peer` arrives as Debug text:
    // the same text, the same JSON string.
    let text = |e: &ttlog::CapturedEvent| -> Vec<(String, String)> {
        e.fields
            .iter()
            .map(|(n, v)| (n.clone(), v.to_text()))
            .collect()
    };
    assert_eq!(text(native), text(adapted));
    assert_eq!(native.fields[..5], adapted.fields[..5]);
    assert_eq!(
        (native.level, &native.message),
        (adapted.level, &adapted.message)
    );
    assert_eq!((native.file.as_str(), native.line), (file!(), native_line));
    assert_eq!(
        (adapted.file.as_str(), adapted.line),
        (file!(), tracing_line)
    );
    assert_eq!(adapted.field("user_id"), Some(&ttlog::OwnedValue::U64(42)));
    assert_eq!(
        adapted.field("latency_ms"),
        Some(&ttlog::OwnedValue::F64(3.25))
    );
    assert_eq!(adapted.field("delta"), Some(&ttlog::OwnedValue::I64(-7)));
}

#[test]
fn messages_levels_and_errors() {
    #[derive(Debug)]
    struct Upstream(std::io::Error);
    impl std::fmt::Display for Upstream {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("inventory service failed")
        }
    }
    impl std::error::Error for Upstream {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let err = Upstream(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "timed out after 30 s",
    ));
    let attempt = 3;
    with_ttlog(|| {
        tracing::warn!(target: "msg", "retrying in {} ms (attempt {attempt})", 250);
        tracing::error!(target: "msg", error = &err as &dyn std::error::Error, "upstream failed");
        tracing::debug!(target: "msg", message = "set as a field");
        tracing::trace!(target: "msg", "below the level: not logged");
        tracing::info!(target: "msg", queue = "emails");
    });
    let lines = lines("msg");
    let summary: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["level"].as_str().unwrap(), l["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("warn", "retrying in 250 ms (attempt 3)"),
            ("error", "upstream failed"),
            ("debug", "set as a field"),
            ("info", ""),
        ]
    );
    assert_eq!(
        lines[1]["fields"]["error"],
        "inventory service failed: timed out after 30 s"
    );
    assert_eq!(lines[2]["fields"], json!({}));
    assert_eq!(lines[3]["fields"], json!({"queue": "emails"}));
}

/// The same program written with `tracing` and with ttlog's macros.
fn spans_with_tracing() {
    let checkout = tracing::info_span!(target: "spans", "checkout", order_id = 42_u64, status = tracing::field::Empty);
    let _entered = checkout.enter();
    let charge = tracing::debug_span!(target: "spans", "charge", provider = "stripe");
    charge.in_scope(|| tracing::info!(target: "spans", amount_cents = 1299_u64, "captured"));
    checkout.record("status", "paid");
    tracing::info!(target: "spans", "receipt sent");
    drop(charge);
    drop(_entered);
    drop(checkout);
}

fn spans_with_ttlog() {
    let checkout = ttlog::span!(target: "spans", LogLevel::Info, "checkout", order_id = 42_u64);
    let _entered = checkout.enter();
    let charge = ttlog::debug_span!(target: "spans", "charge", provider = "stripe");
    charge.in_scope(|| ttlog::info!(target: "spans", "captured", amount_cents = 1299_u64));
    checkout.record("status", "paid");
    ttlog::info!(target: "spans", "receipt sent");
    drop(charge);
    drop(_entered);
    drop(checkout);
}

#[test]
fn spans_match_native_spans() {
    with_ttlog(spans_with_ttlog);
    let native = lines("spans");
    with_ttlog(spans_with_tracing);
    let all = lines("spans");
    let adapted = &all[native.len()..];
    let messages: Vec<&str> = adapted
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "captured",
            "receipt sent",
            "charge closed",
            "checkout closed"
        ]
    );
    assert_eq!(native.len(), adapted.len());
    for (native, adapted) in native.iter().zip(adapted) {
        let (mut n, mut a) = (stable(native), stable(adapted));
        // The files and lines differ (two functions); the rest is the same JSON.
        for line in [&mut n, &mut a] {
            line.as_object_mut().unwrap().remove("file");
        }
        assert_eq!(n, a);
        assert_eq!(common::keys(native), common::keys(adapted));
    }
    let captured = &adapted[0];
    assert_eq!(
        captured["spans"],
        json!([{"name": "checkout", "order_id": 42}, {"name": "charge", "provider": "stripe"}])
    );
    assert_eq!(
        adapted[1]["span"],
        json!({"name": "checkout", "order_id": 42, "status": "paid"})
    );
    // One trace: the child's trace id is the parent's; span ids differ.
    assert_eq!(captured["trace_id"], adapted[1]["trace_id"]);
    assert_ne!(captured["span_id"], adapted[1]["span_id"]);
    assert!(adapted[3]["fields"]["duration_ns"].as_u64().is_some());
}

#[test]
fn explicit_parents_roots_and_follows_from() {
    with_ttlog(|| {
        let request = tracing::info_span!(target: "parents", "request", id = 1_u64);
        let batch = tracing::info_span!(target: "parents", "batch");
        let _in_batch = batch.enter();
        // Inside `batch`, but explicitly a child of `request`.
        let audit = tracing::info_span!(target: "parents", parent: &request, "audit");
        tracing::info!(target: "parents", parent: &request, "explicit parent");
        tracing::info!(target: "parents", parent: None, "explicit root");
        audit.in_scope(|| tracing::info!(target: "parents", "in audit"));
        tracing::info!(target: "parents", "contextual");
        batch.follows_from(&request);
        tracing::info!(target: "parents", "after follows_from");
    });
    let lines = lines("parents");
    let by_message = |m: &str| {
        lines
            .iter()
            .find(|l| l["message"] == m)
            .unwrap_or_else(|| panic!("no line {m:?} in {lines:#?}"))
    };
    assert_eq!(
        by_message("explicit parent")["spans"],
        json!([{"name": "request", "id": 1}])
    );
    assert!(by_message("explicit root").get("spans").is_none());
    assert_eq!(
        by_message("in audit")["spans"],
        json!([{"name": "request", "id": 1}, {"name": "audit"}])
    );
    assert_eq!(
        by_message("contextual")["spans"],
        json!([{"name": "batch"}])
    );
    let after = by_message("after follows_from");
    let request_id = by_message("explicit parent")["span_id"].clone();
    assert_eq!(after["span"]["follows_from"], request_id);
}

#[test]
fn works_beside_another_layer_with_per_layer_filters() {
    logger();
    let fmt_out = SharedBuf::new();
    let fmt_writer = fmt_out.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || fmt_writer.clone())
                .with_filter(tracing_subscriber::filter::LevelFilter::WARN),
        )
        .with(TtlogTracingLayer::new().with_filter(TtlogFilter::new()));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!(target: "beside", "job", job_id = 9_u64);
        let _entered = span.enter();
        tracing::info!(target: "beside", "step done");
        tracing::warn!(target: "beside", "disk almost full");
    });
    let ours = lines("beside");
    let messages: Vec<&str> = ours
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["step done", "disk almost full", "job closed"]);
    assert_eq!(ours[0]["spans"], json!([{"name": "job", "job_id": 9}]));
    // The other layer got what its own filter wants, unchanged by ttlog.
    let theirs = fmt_out.json();
    assert_eq!(theirs.len(), 1, "{theirs:#?}");
    assert_eq!(theirs[0]["fields"]["message"], "disk almost full");
}

/// The messages logged so far under targets starting with `prefix`, in order.
fn messages_under(prefix: &str) -> Vec<String> {
    logger().handle.flush();
    logger()
        .out
        .json()
        .iter()
        .filter(|l| l["target"].as_str().unwrap().starts_with(prefix))
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

/// Held by the tests that replace the logger's filter, one at a time (each sets the whole
/// filter; the other tests' targets stay at debug in every filter they set).
static FILTER_CHANGES: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_runtime_filter_reaches_tracing_callsites() {
    let _one_at_a_time = FILTER_CHANGES.lock().unwrap_or_else(|p| p.into_inner());
    let handle = &logger().handle;
    let emit = || {
        with_ttlog(|| {
            tracing::debug!(target: "runtime_filter::db", "query planned");
            tracing::info!(target: "runtime_filter::http", "request");
        })
    };
    emit();
    handle.set_filter("debug,runtime_filter::db=warn").unwrap();
    emit();
    handle.set_filter("debug").unwrap();
    emit();
    assert_eq!(
        messages_under("runtime_filter"),
        [
            "query planned",
            "request",
            "request",
            "query planned",
            "request"
        ]
    );
}

/// The same subscriber across filter changes: `tracing` caches the filter's per-callsite
/// answers, and a change of ttlog's filter rebuilds that cache before `set_filter` returns.
#[test]
fn a_filter_change_reaches_callsites_cached_by_one_subscriber() {
    let _one_at_a_time = FILTER_CHANGES.lock().unwrap_or_else(|p| p.into_inner());
    let handle = &logger().handle;
    with_ttlog(|| {
        let emit = || {
            tracing::debug!(target: "cached_interest::db", "query planned");
            tracing::info!(target: "cached_interest::http", "request");
        };
        emit();
        handle.set_filter("debug,cached_interest::db=warn").unwrap();
        emit();
        // (Directives for this test's targets only: the other tests share the logger.)
        handle.set_filter("debug,cached_interest=warn").unwrap();
        emit();
        handle.set_filter("debug").unwrap();
        emit();
    });
    assert_eq!(
        messages_under("cached_interest"),
        [
            "query planned",
            "request",
            "request",
            "query planned",
            "request"
        ]
    );
}

#[test]
fn a_snapshot_contains_tracing_events() {
    with_ttlog(|| {
        let span = tracing::trace_span!(target: "recorded", "warmup");
        let _entered = span.enter();
        // Below the sinks' level, kept by the flight recorder.
        tracing::trace!(target: "recorded", cache_entries = 512_u64, "cache warmed");
    });
    let path = logger().handle.snapshot("test").expect("snapshot written");
    let bytes = std::fs::read(&path).unwrap();
    let snapshot = ttlog::Snapshot::read(&bytes).expect("snapshot reads back");
    let mut found = Vec::new();
    snapshot.for_each_event(|event| {
        if event.target() == "recorded" {
            let spans: Vec<String> = event.spans().iter().map(|s| s.name().to_owned()).collect();
            found.push((
                event.message().to_string(),
                event.field("cache_entries").map(|v| v.to_string()),
                spans,
            ));
        }
    });
    assert_eq!(
        found[0],
        (
            "cache warmed".to_owned(),
            Some("512".to_owned()),
            vec!["warmup".to_owned()]
        )
    );
    assert!(
        lines("recorded").is_empty(),
        "trace is below the sinks' level"
    );
}
