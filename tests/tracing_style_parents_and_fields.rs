//! The `tracing` forms of ttlog's own macros, checked in the JSON output: `parent:` on events
//! and spans (a span, or `None` for a root), `field::Empty` recorded later, `&err as &dyn
//! Error` with its sources, `follows_from`, `enabled!` under filter changes, and a span's
//! message (recorded as its `message` field, as `tracing` does).

mod common;

use serde_json::json;
use ttlog::field::Empty;
use ttlog::{Level, LogLevel, enabled, event, info, info_span, span};

#[derive(Debug)]
struct ConfigError(std::io::Error);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot read config.toml")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn tracing_style_parents_and_fields() {
    let (handle, out) = common::json_logger(LogLevel::Info);

    let request = info_span!("request", id = 7_u64, user = Empty);
    let batch = span!(Level::INFO, "batch");
    {
        let _in_batch = batch.enter();
        info!(parent: &request, "explicit parent");
        event!(parent: None, Level::WARN, "explicit root");
        let audit = info_span!(parent: &request, "audit");
        audit.in_scope(|| info!("in audit"));
        let none: Option<&ttlog::Span> = None;
        info!(parent: none, "root through an Option");
        info!("contextual");
    }
    request.record("user", "ana");
    request.in_scope(|| info!("after record"));
    batch.follows_from(&request);
    batch.in_scope(|| info!("after follows_from"));
    let err = ConfigError(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "no such file",
    ));
    info!(error = &err as &dyn std::error::Error, "startup failed");
    let load = info_span!("load", path = "config.toml", "loading {} bytes", 512);
    load.in_scope(|| info!("in load"));

    assert!(enabled!(Level::INFO));
    assert!(!enabled!(Level::DEBUG));
    handle.set_filter("info,billing=debug").unwrap();
    assert!(enabled!(target: "billing", Level::DEBUG));
    assert!(!enabled!(target: "shipping", Level::DEBUG));
    handle.flush();

    let lines = out.json();
    let by_message = |m: &str| {
        lines
            .iter()
            .find(|l| l["message"] == m)
            .unwrap_or_else(|| panic!("no line {m:?}"))
            .clone()
    };
    assert_eq!(
        by_message("explicit parent")["spans"],
        json!([{"name": "request", "id": 7}])
    );
    assert!(by_message("explicit root").get("spans").is_none());
    assert!(by_message("root through an Option").get("spans").is_none());
    assert_eq!(
        by_message("in audit")["spans"],
        json!([{"name": "request", "id": 7}, {"name": "audit"}])
    );
    assert_eq!(
        by_message("contextual")["spans"],
        json!([{"name": "batch"}])
    );
    // `user = Empty` is absent until recorded.
    assert_eq!(
        by_message("after record")["span"],
        json!({"name": "request", "id": 7, "user": "ana"})
    );
    assert_eq!(
        by_message("after follows_from")["span"]["follows_from"],
        by_message("after record")["span_id"]
    );
    assert_eq!(
        by_message("startup failed")["fields"]["error"],
        "cannot read config.toml: no such file"
    );
    assert_eq!(
        by_message("in load")["span"],
        json!({"name": "load", "path": "config.toml", "message": "loading 512 bytes"})
    );
}
