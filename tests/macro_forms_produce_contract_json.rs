//! Every macro form renders to the JSON line of the contract (keys, order, types).

mod common;

use common::SharedBuf;
use serde_json::{Value, json};
use ttlog::{Format, LogLevel, debug, error, info, trace, warn};

struct User {
    id: u64,
}

#[derive(Debug)]
struct Query<'a> {
    #[allow(dead_code)] // read through Debug
    sql: &'a str,
}

/// Checks a line: the fixed keys in contract order, and the variable parts.
fn check(line: &Value, level: &str, message: &str, fields: Value) {
    assert_eq!(common::keys(line), common::CONTRACT_KEYS, "{line}");
    assert_eq!(line["level"], level, "{line}");
    assert_eq!(line["message"], message, "{line}");
    assert_eq!(line["fields"], fields, "{line}");
    assert_eq!(
        line["thread"],
        std::thread::current().name().unwrap(),
        "{line}"
    );
    assert_eq!(line["file"], "tests/macro_forms_produce_contract_json.rs");
    let ts = line["timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 30 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
        "{ts}"
    );
}

#[test]
fn macro_forms_produce_contract_json() {
    let out = SharedBuf::new();
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Trace)
        .format(Format::Json)
        .writer(out.clone())
        .try_init()
        .expect("first logger");

    let user = User { id: 7 };
    let id = 42u64;
    let ip = "10.0.0.7";
    let name = String::from("ada");
    let err = std::io::Error::other("connection reset");
    let query = Query { sql: "SELECT 1" };
    let user_id = 5i32;
    let m = 255u32;

    let first_line = line!() + 1;
    info!("User logged in", user_id = 123, duration_ms = 45);
    warn!(
        user_id = user.id,
        action = "failed_login",
        "Authentication failed"
    );
    info!("user {} logged in from {ip}", id);
    debug!("mask {:#x}", m);
    error!("Database error", error = %err, query = ?query);
    info!("started", user_id);
    info!("dotted", user.id = 7, "http.status" = 200);
    info!(target: "app::custom", "with target", ok = true);
    debug!(x = 1);
    info!("x", name = name);
    trace!(
        "floats and chars",
        ratio = 0.5f32,
        grade = 'A',
        big = u128::MAX,
        neg = -3i64
    );
    info!(
        "named {who} and {0:>5}|{1:<4}|{2:.2}",
        7,
        "ab",
        2.0f64,
        who = "bob"
    );
    info!("debug args {:?} {:?}", "quoted", 'c');
    info!("escaped {{braces}} stay");
    info!("optional", present = Some(3u8), absent = None::<u8>);
    info!("shorthand sigils", %err, ?query);
    info!(target: "app", nested.key.path = 1, "fields first then args {}", id);
    // Values are borrowed, never moved.
    assert_eq!(name, "ada");

    handle.flush();
    let lines = out.json();
    assert_eq!(lines.len(), 17, "{:#?}", out.lines());

    check(
        &lines[0],
        "info",
        "User logged in",
        json!({"user_id": 123, "duration_ms": 45}),
    );
    assert_eq!(lines[0]["target"], "macro_forms_produce_contract_json");
    assert_eq!(lines[0]["line"], first_line);
    check(
        &lines[1],
        "warn",
        "Authentication failed",
        json!({"user_id": 7, "action": "failed_login"}),
    );
    check(
        &lines[2],
        "info",
        "user 42 logged in from 10.0.0.7",
        json!({}),
    );
    check(&lines[3], "debug", "mask 0xff", json!({}));
    check(
        &lines[4],
        "error",
        "Database error",
        json!({"error": "connection reset", "query": "Query { sql: \"SELECT 1\" }"}),
    );
    check(&lines[5], "info", "started", json!({"user_id": 5}));
    check(
        &lines[6],
        "info",
        "dotted",
        json!({"user.id": 7, "http.status": 200}),
    );
    check(&lines[7], "info", "with target", json!({"ok": true}));
    assert_eq!(lines[7]["target"], "app::custom");
    check(&lines[8], "debug", "", json!({"x": 1}));
    check(&lines[9], "info", "x", json!({"name": "ada"}));
    // 128-bit integers stay exact JSON numbers (serde_json reads them back as floats).
    assert!(
        out.lines()[10].contains(r#""big":340282366920938463463374607431768211455,"#),
        "{}",
        out.lines()[10]
    );
    assert_eq!(lines[10]["level"], "trace");
    assert_eq!(lines[10]["message"], "floats and chars");
    assert_eq!(lines[10]["fields"]["ratio"], 0.5);
    assert_eq!(lines[10]["fields"]["grade"], "A");
    assert_eq!(lines[10]["fields"]["neg"], -3);
    check(
        &lines[11],
        "info",
        "named bob and     7|ab  |2.00",
        json!({}),
    );
    check(&lines[12], "info", "debug args \"quoted\" 'c'", json!({}));
    check(&lines[13], "info", "escaped {braces} stay", json!({}));
    check(
        &lines[14],
        "info",
        "optional",
        json!({"present": 3, "absent": null}),
    );
    check(
        &lines[15],
        "info",
        "shorthand sigils",
        json!({"err": "connection reset", "query": "Query { sql: \"SELECT 1\" }"}),
    );
    check(
        &lines[16],
        "info",
        "fields first then args 42",
        json!({"nested.key.path": 1}),
    );
    assert_eq!(lines[16]["target"], "app");

    // Timestamps are in order.
    let stamps: Vec<&str> = lines
        .iter()
        .map(|l| l["timestamp"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
}
