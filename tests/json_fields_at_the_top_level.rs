//! `flatten_fields(true)`: JSON objects carry each field at the top level instead of under
//! `"fields"`, in call order after `"message"`; a field named like a contract key is written
//! `fields.<name>`; spans keep their keys; without the option the schema is unchanged.

mod common;

use serde_json::json;
use ttlog::{Format, LogLevel, info, info_span};

#[test]
fn json_fields_at_the_top_level() {
    let out = common::SharedBuf::new();
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(Format::Json)
        .flatten_fields(true)
        .writer(out.clone())
        .panic_hook(false)
        .signals(false)
        .try_init()
        .unwrap();
    let span = info_span!("checkout", order_id = 7_u64);
    span.in_scope(|| {
        info!(
            "payment captured",
            amount_cents = 1299_u64,
            level = "gold",
            ok = true
        );
    });
    handle.flush();
    let lines = out.json();
    let line = &lines[0];
    assert_eq!(
        common::keys(line),
        [
            "timestamp",
            "level",
            "target",
            "message",
            "amount_cents",
            "fields.level",
            "ok",
            "thread",
            "file",
            "line",
            "span",
            "spans",
            "trace_id",
            "span_id"
        ]
    );
    assert_eq!(line["level"], "info");
    assert_eq!(line["fields.level"], "gold");
    assert_eq!(line["amount_cents"], 1299);
    assert_eq!(line["span"], json!({"name": "checkout", "order_id": 7}));
}
