//! `slog` through `TtlogDrain`: record key-values and the logger's own (`o!`) become typed
//! fields; levels, module, file and line are kept; a snapshot contains the records.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::SharedBuf;
use serde_json::json;
use slog::{Drain, o};
use ttlog::{Format, LogLevel};
use ttlog_integrations::slog_compat::TtlogDrain;

#[test]
fn records_and_logger_values_become_fields() {
    let out = SharedBuf::new();
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Debug)
        .format(Format::Json)
        .writer(out.clone())
        .snapshot_dir(common::temp_dir("slog-drain"))
        .panic_hook(false)
        .signals(false)
        .try_init()
        .unwrap();
    let root = slog::Logger::root(
        TtlogDrain::new().fuse(),
        o!("service" => "api", "version" => 3_u32),
    );
    let request = root.new(o!("request_id" => 7_u64));
    let line = line!() + 1;
    slog::info!(request, "request handled"; "status" => 200_u16, "latency_ms" => 3.25, "path" => "/api/v1/items", "cached" => false);
    slog::crit!(root, "database unreachable {}", "db-1"; "retry" => -1_i32);
    slog::warn!(root, # "audit", "password changed"; "user" => "ana");
    slog::trace!(root, "below the level");
    let bare = slog::Logger::root(TtlogDrain::new().fuse(), o!());
    let (user_id, path, latency_ms) = (42_u64, "/api/v1/items", 3.25);
    // slog serializes key-values last first: written in reverse, they come out in order.
    slog::info!(bare, "request handled"; "latency_ms" => latency_ms, "path" => path, "user_id" => user_id);
    ttlog::info!("request handled", user_id, path, latency_ms);
    handle.flush();
    let mut lines = out.json();
    let native = lines.pop().unwrap();
    let adapted = lines.pop().unwrap();
    let strip = |line: &serde_json::Value| {
        let mut line = line.clone();
        for key in ["timestamp", "line"] {
            line.as_object_mut().unwrap().remove(key);
        }
        serde_json::to_string(&line).unwrap()
    };
    // Compared as text: the same keys, values, types and order.
    assert_eq!(strip(&adapted), strip(&native));
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(common::keys(&lines[0]), common::CONTRACT_KEYS);
    assert_eq!(lines[0]["message"], "request handled");
    assert_eq!(lines[0]["target"], "slog_drain");
    assert_eq!(lines[0]["file"], file!());
    assert_eq!(lines[0]["line"], line);
    assert_eq!(
        lines[0]["fields"],
        json!({"status": 200, "latency_ms": 3.25, "path": "/api/v1/items", "cached": false,
               "request_id": 7, "service": "api", "version": 3})
    );
    assert_eq!(lines[1]["level"], "error");
    assert_eq!(lines[1]["message"], "database unreachable db-1");
    assert_eq!(lines[1]["fields"]["retry"], -1);
    assert_eq!(lines[2]["level"], "warn");
    assert_eq!(lines[2]["fields"]["tag"], "audit");

    let path = handle.snapshot("test").unwrap();
    let snapshot = ttlog::Snapshot::read(&std::fs::read(path).unwrap()).unwrap();
    let mut messages = Vec::new();
    snapshot.for_each_event(|event| messages.push(event.message().to_string()));
    assert!(
        messages.contains(&"request handled".to_owned()),
        "{messages:?}"
    );
}
