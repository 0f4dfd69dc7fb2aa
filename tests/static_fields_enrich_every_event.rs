//! `static_field` and `process_fields` add fields to every event the sinks get, under
//! `"context"` before the event's own context, in JSON and in a capture sink.

mod common;

use ttlog::{CaptureSink, Format, LogLevel, OwnedValue, info, with_context};

#[test]
fn static_fields_enrich_every_event() {
    let out = common::SharedBuf::new();
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(Format::Json)
        .writer(out.clone())
        .sink(capture.clone())
        .static_field("service", "checkout")
        .static_field("version", "1.2.3")
        .static_field("replica", &3_u32)
        .process_fields(true)
        .panic_hook(false)
        .signals(false)
        .try_init()
        .unwrap();
    info!("started");
    with_context("request_id", 7_u64, || info!("request handled"));
    handle.flush();

    let lines = out.json();
    let context = lines[0]["context"].as_object().expect("a context object");
    let keys: Vec<&str> = context.keys().map(String::as_str).collect();
    assert_eq!(keys, ["service", "version", "replica", "hostname", "pid"]);
    assert_eq!(context["service"], "checkout");
    assert_eq!(context["replica"], 3);
    assert_eq!(context["pid"], std::process::id());
    assert!(!context["hostname"].as_str().unwrap().is_empty());
    let keys: Vec<&str> = lines[1]["context"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "service",
            "version",
            "replica",
            "hostname",
            "pid",
            "request_id"
        ]
    );

    let captured = capture.events();
    assert_eq!(
        captured[1].context_field("service"),
        Some(&OwnedValue::Str("checkout".to_owned()))
    );
    assert_eq!(
        captured[1].context_field("request_id"),
        Some(&OwnedValue::U64(7))
    );
}
