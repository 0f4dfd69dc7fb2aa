//! Spans, context and trace ids in the JSON lines (the contract's span keys), close events,
//! `timer!`, and `#[derive(Fields)]` values.

mod common;

use common::SharedBuf;
use serde_json::{Value, json};
use ttlog::{Fields, Format, LogLevel, TraceParent, info, span, warn, with_context};

fn start(level: LogLevel) -> (ttlog::TtlogHandle, SharedBuf) {
    let out = SharedBuf::new();
    let handle = ttlog::init()
        .level(level)
        .format(Format::Json)
        .writer(out.clone())
        .recorder_level(LogLevel::Trace)
        .snapshot_dir(std::env::temp_dir().join(format!("ttlog-spans-{}", std::process::id())))
        // The test panics on purpose (inside `with_context`); no snapshot for that.
        .panic_hook(false)
        .try_init()
        .expect("first init in this test process");
    (handle, out)
}

fn is_hex(value: &Value, len: usize) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == len
            && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && s.bytes().any(|b| b != b'0')
    })
}

#[derive(Fields)]
struct Peer {
    ip: &'static str,
    port: u16,
}

#[derive(Fields)]
struct LoginAttempt {
    user_id: u64,
    #[ttlog(rename = "client")]
    ip_address: String,
    success: bool,
    #[ttlog(redact)]
    #[allow(dead_code)] // never read: redacted fields are not looked at
    password: String,
    #[ttlog(skip)]
    #[allow(dead_code)]
    session_cache: Vec<u8>,
    #[ttlog(display)]
    method: Method,
    #[ttlog(debug)]
    scopes: Vec<&'static str>,
    #[ttlog(flatten)]
    peer: Peer,
    #[ttlog(flatten = "")]
    timing: Timing,
}

#[derive(Fields)]
struct Timing {
    duration_ms: u64,
}

struct Method;

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("password")
    }
}

/// One test per process: `init` is global.
#[test]
fn spans_context_timers_and_derived_fields() {
    let (handle, out) = start(LogLevel::Trace);
    let mut live: Vec<Value> = Vec::new();

    // 1. Nested spans: events carry the innermost span, the whole stack, and the ids.
    let order_id = 42_u64;
    let outer = span!(LogLevel::Info, "checkout", order_id, region = "eu-west");
    let outer_guard = outer.enter();
    info!("cart loaded", items = 3);
    let inner = ttlog::debug_span!("charge", amount_cents = 1299);
    inner.in_scope(|| {
        warn!("card declined once, retrying");
        inner.record("attempts", 2_u32);
        info!("payment captured");
    });
    drop(inner);
    drop(outer_guard);
    info!("outside any span");
    drop(outer);
    handle.flush();
    let lines = out.json();
    live.extend(lines.iter().cloned());
    out.clear();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "cart loaded",
            "card declined once, retrying",
            "payment captured",
            "charge closed",
            "outside any span",
            "checkout closed"
        ]
    );
    let cart = &lines[0];
    assert_eq!(
        common::keys(cart),
        [
            &common::CONTRACT_KEYS[..],
            &["span", "spans", "trace_id", "span_id"]
        ]
        .concat()
    );
    assert_eq!(
        cart["span"],
        json!({"name": "checkout", "order_id": 42, "region": "eu-west"})
    );
    assert_eq!(cart["spans"], json!([cart["span"].clone()]));
    assert!(is_hex(&cart["trace_id"], 32), "{cart}");
    assert!(is_hex(&cart["span_id"], 16), "{cart}");

    let declined = &lines[1];
    assert_eq!(
        declined["span"],
        json!({"name": "charge", "amount_cents": 1299})
    );
    assert_eq!(
        declined["spans"],
        json!([
            {"name": "checkout", "order_id": 42, "region": "eu-west"},
            {"name": "charge", "amount_cents": 1299}
        ])
    );
    assert_eq!(declined["trace_id"], cart["trace_id"], "one trace");
    assert_ne!(declined["span_id"], cart["span_id"]);
    // Recorded later: the next events show it.
    assert_eq!(
        lines[2]["span"],
        json!({"name": "charge", "amount_cents": 1299, "attempts": 2})
    );

    // Close events: at the span's level, with the span as their scope and an integer duration.
    let charge_closed = &lines[3];
    assert_eq!(charge_closed["level"], "debug");
    assert_eq!(charge_closed["span"]["name"], "charge");
    assert_eq!(charge_closed["span_id"], declined["span_id"]);
    assert!(charge_closed["fields"]["duration_ns"].as_u64().unwrap() > 0);
    let outside = &lines[4];
    assert!(outside.get("span").is_none() && outside.get("trace_id").is_none());
    let checkout_closed = &lines[5];
    assert_eq!(checkout_closed["level"], "info");
    assert_eq!(checkout_closed["span_id"], cart["span_id"]);
    assert!(
        checkout_closed["fields"]["duration_ns"].as_u64().unwrap()
            >= charge_closed["fields"]["duration_ns"].as_u64().unwrap()
    );

    // 2. Two root spans are two traces.
    let a = ttlog::info_span!("job").entered();
    let first = ttlog::current_traceparent().expect("inside a span");
    drop(a);
    let b = ttlog::info_span!("job").entered();
    let second = ttlog::current_traceparent().expect("inside a span");
    drop(b);
    assert_ne!(first.trace_id, second.trace_id);
    assert!(ttlog::current_traceparent().is_none());

    // 3. Continuing a remote trace: same trace id, and our outgoing traceparent names our span.
    let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let remote: TraceParent = header.parse().unwrap();
    let request = ttlog::info_span!("http_request", path = "/orders").continue_from(&remote);
    let outgoing = request.in_scope(|| {
        info!("calling inventory");
        ttlog::current_traceparent().unwrap().to_string()
    });
    assert!(outgoing.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert_eq!(outgoing, request.traceparent().unwrap().to_string());
    assert_ne!(&outgoing[36..52], "00f067aa0ba902b7");
    drop(request);
    for malformed in [
        "",
        "00-xyz",
        &header.replace("-01", "-0z"),
        &header.to_uppercase(),
    ] {
        assert!(malformed.parse::<TraceParent>().is_err(), "{malformed}");
    }

    // 4. Context: nested scopes merge, inner wins, gone after the scope, also on panic.
    with_context("request_id", 7_u64, || {
        info!("accepted");
        with_context("tenant", "acme", || {
            with_context("request_id", "7-retry", || info!("retrying"));
        });
    });
    let caught = std::panic::catch_unwind(|| {
        with_context("doomed", true, || -> () { panic!("handler bug") });
    });
    assert!(caught.is_err());
    info!("after the scopes");
    handle.flush();
    let lines = out.json();
    live.extend(lines.iter().cloned());
    out.clear();
    let by_message = |m: &str| {
        lines
            .iter()
            .find(|l| l["message"] == m)
            .unwrap_or_else(|| panic!("no {m}"))
            .clone()
    };
    let calling = by_message("calling inventory");
    assert_eq!(calling["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(by_message("accepted")["context"], json!({"request_id": 7}));
    assert_eq!(
        by_message("retrying")["context"],
        json!({"tenant": "acme", "request_id": "7-retry"})
    );
    assert!(by_message("after the scopes").get("context").is_none());

    // 5. timer! and #[derive(Fields)].
    {
        let _timer = ttlog::timer!("rebuild_index");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let attempt = LoginAttempt {
        user_id: 123,
        ip_address: "10.0.0.7".to_owned(),
        success: true,
        password: "hunter2".to_owned(),
        session_cache: vec![1, 2, 3],
        method: Method,
        scopes: vec!["read", "write"],
        peer: Peer {
            ip: "192.168.1.9",
            port: 443,
        },
        timing: Timing { duration_ms: 45 },
    };
    info!(attempt, "Login attempt completed");
    info!("nested", login = attempt);
    handle.flush();
    let lines = out.json();
    let timer = lines
        .iter()
        .find(|l| l["message"] == "rebuild_index")
        .unwrap();
    assert!(
        timer["fields"]["elapsed_ns"].as_u64().unwrap() >= 2_000_000,
        "{timer}"
    );
    let login = lines
        .iter()
        .find(|l| l["message"] == "Login attempt completed")
        .unwrap();
    let expected = json!({
        "user_id": 123,
        "client": "10.0.0.7",
        "success": true,
        "password": "[REDACTED]",
        "method": "password",
        "scopes": "[\"read\", \"write\"]",
        "peer.ip": "192.168.1.9",
        "peer.port": 443,
        "duration_ms": 45
    });
    assert_eq!(login["fields"], expected);
    assert!(!out.text().contains("hunter2"));
    let nested = lines.iter().find(|l| l["message"] == "nested").unwrap();
    assert_eq!(nested["fields"], json!({ "login": expected }));
    live.extend(lines.iter().cloned());

    // 6. The flight recorder keeps spans, ids, recorded values, context and groups: a snapshot
    // read back renders the same lines as the live sink did.
    let path = handle.snapshot("spans test").expect("snapshot");
    let snapshot = ttlog::Snapshot::read_file(&path).expect("read back");
    let mut formatter = ttlog::EventFormatter::new(Format::Json, false);
    let mut stored = Vec::new();
    snapshot.for_each_event(|event| formatter.write(event, &mut stored));
    let stored: Vec<Value> = String::from_utf8(stored)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let without_time = |l: &Value| {
        let mut l = l.clone();
        l.as_object_mut().unwrap().remove("timestamp");
        l
    };
    let live: Vec<Value> = live.iter().map(without_time).collect();
    let stored: Vec<Value> = stored.iter().map(without_time).collect();
    assert_eq!(stored.len(), live.len());
    for (stored, live) in stored.iter().zip(&live) {
        assert_eq!(stored, live);
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
