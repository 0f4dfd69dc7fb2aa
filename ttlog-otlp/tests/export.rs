//! The exporter against a real OTLP/HTTP receiver on a loopback port (axum, decoding with the
//! official message types of `opentelemetry-proto`): the logs data model (severities, bodies,
//! typed attributes, code attributes, resource, scope), spans (parent and child, `record`,
//! error status, a remote parent), ids that match between records and spans, gzip, JSON;
//! and delivery: 503 twice then 200 loses and duplicates nothing, a receiver down at start
//! gets everything once up, one that stays down costs counted drops and never blocks, a 400
//! is not retried, and the HTTP client's own `log` output does not loop back. Each program
//! is a child process (one logger per process).

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

#[path = "../../tests/common/mod.rs"]
mod common;

const MODE: &str = "TTLOG_TEST_OTLP_MODE";

/// What the receiver got.
#[derive(Default)]
struct Received {
    logs: Vec<ExportLogsServiceRequest>,
    traces: Vec<ExportTraceServiceRequest>,
    headers: Vec<HeaderMap>,
    /// Statuses to answer before 200s (one per request), with a Retry-After of 0 s.
    fail_with: VecDeque<u16>,
    requests: usize,
    /// The log requests answered from `fail_with`, decoded: what was sent and refused.
    refused: Vec<ExportLogsServiceRequest>,
}

type Shared = Arc<Mutex<Received>>;

fn body(headers: &HeaderMap, bytes: &Bytes) -> Vec<u8> {
    if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .expect("a gzip body");
        out
    } else {
        bytes.to_vec()
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .is_some_and(|v| v == "application/json")
}

async fn logs(
    State(state): State<Shared>,
    headers: HeaderMap,
    bytes: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1]) {
    let mut r = state.lock().unwrap();
    r.requests += 1;
    let data = body(&headers, &bytes);
    let request = if is_json(&headers) {
        serde_json::from_slice(&data).expect("OTLP JSON")
    } else {
        ExportLogsServiceRequest::decode(&data[..]).expect("OTLP protobuf")
    };
    if let Some(status) = r.fail_with.pop_front() {
        r.refused.push(request);
        return (
            StatusCode::from_u16(status).unwrap(),
            [("retry-after", "0")],
        );
    }
    r.logs.push(request);
    r.headers.push(headers);
    (StatusCode::OK, [("content-type", "application/x-protobuf")])
}

async fn traces(State(state): State<Shared>, headers: HeaderMap, bytes: Bytes) -> StatusCode {
    let data = body(&headers, &bytes);
    let request = if is_json(&headers) {
        serde_json::from_slice(&data).expect("OTLP JSON")
    } else {
        ExportTraceServiceRequest::decode(&data[..]).expect("OTLP protobuf")
    };
    state.lock().unwrap().traces.push(request);
    StatusCode::OK
}

/// A receiver on `addr` (port 0 for any), serving until the test process ends.
fn receiver(addr: SocketAddr) -> (String, Shared) {
    let state: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/v1/logs", post(logs))
        .route("/v1/traces", post(traces))
        .with_state(state.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}"), state)
}

fn spawn(mode: &str, env: &[(&str, &str)]) -> Command {
    let mut cmd = common::child_process(MODE, mode);
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

fn records(state: &Shared) -> Vec<(String, LogRecord)> {
    records_of(&state.lock().unwrap().logs)
}

/// The records of `requests`, each with its scope's name.
fn records_of(requests: &[ExportLogsServiceRequest]) -> Vec<(String, LogRecord)> {
    requests
        .iter()
        .flat_map(|req| &req.resource_logs)
        .flat_map(|rl| &rl.scope_logs)
        .flat_map(|sl| {
            let scope = sl
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            sl.log_records
                .iter()
                .map(move |r| (scope.clone(), r.clone()))
        })
        .collect()
}

fn spans(state: &Shared) -> Vec<Span> {
    let r = state.lock().unwrap();
    r.traces
        .iter()
        .flat_map(|req| &req.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.clone())
        .collect()
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn body_text(record: &LogRecord) -> &str {
    match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::StringValue(s)) => s,
        other => panic!("body {other:?}"),
    }
}

#[ttlog::instrument(err)]
fn charge(order_id: u64, amount_cents: u64) -> Result<(), String> {
    ttlog::info!(amount_cents, "charging card");
    Err(format!("card declined for order {order_id}"))
}

#[test]
#[ignore = "entry point of the child processes"]
fn child() {
    let mode = std::env::var(MODE).unwrap();
    match mode.as_str() {
        // A request handler: typed fields, spans (nested, recorded, failing), a remote
        // parent, context.
        "handler" => {
            let handle = ttlog::init().console(false).with_env(false).init();
            ttlog::info!(
                user_id = 42_u64,
                delta = -7_i64,
                latency_ms = 3.25_f64,
                cached = true,
                path = "/api/v1/items",
                peer = %std::net::Ipv4Addr::new(10, 0, 0, 7),
                query = ?("SELECT 1", 3),
                "request handled"
            );
            let request = ttlog::info_span!("request", method = "POST");
            request.in_scope(|| {
                ttlog::with_context("tenant", "eu-1", || {
                    let db = ttlog::info_span!("db_query", table = "orders");
                    db.in_scope(|| ttlog::warn!(rows = 0_u64, "no rows"));
                    db.record("rows", 0_u64);
                    drop(db);
                    let _ = charge(7, 1299);
                });
            });
            request.record("status", 402_u64);
            drop(request);
            let parent: ttlog::TraceParent =
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                    .parse()
                    .unwrap();
            let remote = ttlog::info_span!("from_upstream").continue_from(&parent);
            remote.in_scope(|| ttlog::info!("continued"));
            drop(remote);
            drop(handle);
        }
        // Many events, then exit.
        "burst" => {
            let n: u64 = std::env::var("TTLOG_TEST_N").unwrap().parse().unwrap();
            let handle = ttlog::init()
                .console(false)
                .with_env(false)
                .overflow(ttlog::Overflow::Block)
                .init();
            let start = Instant::now();
            for i in 0..n {
                ttlog::info!(i, "job step");
            }
            let logging = start.elapsed();
            handle.flush();
            let dropped: u64 = handle.stats().sinks.iter().map(|s| s.dropped).sum();
            drop(handle);
            println!(
                "RESULT logging_ms={} dropped_while_running={dropped}",
                logging.as_millis()
            );
        }
        // Logs, then waits for the parent to start the receiver.
        "wait" => {
            let handle = ttlog::init().console(false).with_env(false).init();
            for i in 0..100_u64 {
                ttlog::info!(i, "queued while the collector is down");
            }
            handle.flush();
            let go = std::env::var("TTLOG_TEST_GO_FILE").unwrap();
            while !std::path::Path::new(&go).exists() {
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(handle);
        }
        // `log` records through ttlog, with `log` at trace: the HTTP client's own logging
        // (ureq logs through `log`) must not come back.
        "log-adapter" => {
            let handle = ttlog_integrations::log_compat::try_init_with_log_compatibility(
                ttlog::init()
                    .console(false)
                    .with_env(false)
                    .level(ttlog::LogLevel::Trace),
            )
            .unwrap();
            for i in 0..20_u64 {
                log::info!(target: "app", "order {i} shipped");
            }
            handle.flush();
            std::thread::sleep(Duration::from_millis(500));
            drop(handle);
            println!(
                "RESULT suppressed={}",
                ttlog_integrations::suppressed_internal_events()
            );
        }
        // The exporter named by the configuration file (`type: otlp`).
        "config" => {
            let handle = ttlog::init().console(false).init();
            ttlog::info!("cache warmed");
            ttlog::warn!(retries = 3_u64, "payment provider slow");
            drop(handle);
        }
        other => panic!("unknown mode {other}"),
    }
}

fn endpoint_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", base.to_owned()),
        ("OTEL_SERVICE_NAME", "checkout".to_owned()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "50".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()),
    ]
}

fn run(mode: &str, env: &[(&str, String)]) -> String {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::succeed(&spawn(mode, &env).output().unwrap())
}

#[test]
fn records_and_spans_follow_the_data_model() {
    let (base, state) = receiver("127.0.0.1:0".parse().unwrap());
    let mut env = endpoint_env(&base);
    env.push(("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()));
    env.push(("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%3D1".into()));
    env.push((
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment.name=test,service.version=1.4.2".into(),
    ));
    run("handler", &env);

    let r = state.lock().unwrap();
    assert!(
        r.headers
            .iter()
            .all(|h| h.get("content-encoding").is_some_and(|v| v == "gzip"))
    );
    assert!(
        r.headers
            .iter()
            .all(|h| h.get("x-api-key").is_some_and(|v| v == "k=1"))
    );
    let resource = &r.logs[0].resource_logs[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes;
    assert_eq!(
        attr(resource, "service.name"),
        Some(&Value::StringValue("checkout".into()))
    );
    assert_eq!(
        attr(resource, "deployment.environment.name"),
        Some(&Value::StringValue("test".into()))
    );
    assert_eq!(
        attr(resource, "process.pid").map(|v| matches!(v, Value::IntValue(p) if *p > 0)),
        Some(true)
    );
    assert!(attr(resource, "host.name").is_some());
    drop(r);

    let records = records(&state);
    let (scope, handled) = records
        .iter()
        .find(|(_, r)| body_text(r) == "request handled")
        .expect("the event");
    assert_eq!(scope, "export", "the scope is the target");
    assert_eq!(handled.severity_number, 9);
    assert_eq!(handled.severity_text, "INFO");
    assert!(
        handled.time_unix_nano > 0 && handled.observed_time_unix_nano >= handled.time_unix_nano
    );
    let a = &handled.attributes;
    assert_eq!(attr(a, "user_id"), Some(&Value::IntValue(42)));
    assert_eq!(attr(a, "delta"), Some(&Value::IntValue(-7)));
    assert_eq!(attr(a, "latency_ms"), Some(&Value::DoubleValue(3.25)));
    assert_eq!(attr(a, "cached"), Some(&Value::BoolValue(true)));
    assert_eq!(
        attr(a, "path"),
        Some(&Value::StringValue("/api/v1/items".into()))
    );
    assert_eq!(
        attr(a, "peer"),
        Some(&Value::StringValue("10.0.0.7".into()))
    );
    assert_eq!(
        attr(a, "query"),
        Some(&Value::StringValue("(\"SELECT 1\", 3)".into()))
    );
    assert!(
        matches!(attr(a, "code.file.path"), Some(Value::StringValue(f)) if f.ends_with("export.rs"))
    );
    assert!(matches!(attr(a, "code.line.number"), Some(Value::IntValue(l)) if *l > 0));
    assert_eq!(
        attr(a, "code.namespace"),
        Some(&Value::StringValue("export".into()))
    );
    assert!(attr(a, "thread.name").is_some());
    assert!(
        handled.trace_id.is_empty() && handled.span_id.is_empty(),
        "outside any span"
    );

    let by_body = |b: &str| {
        records
            .iter()
            .find(|(_, r)| body_text(r) == b)
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    let no_rows = by_body("no rows");
    assert_eq!(no_rows.severity_number, 13);
    assert_eq!(
        attr(&no_rows.attributes, "tenant"),
        Some(&Value::StringValue("eu-1".into())),
        "context"
    );
    let failed = by_body("charge failed");
    assert_eq!(failed.severity_number, 17);
    assert!(
        !records
            .iter()
            .any(|(_, r)| body_text(r).ends_with(" closed")),
        "span closes are spans"
    );

    let spans = spans(&state);
    let span = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("span {name}: {spans:?}"))
            .clone()
    };
    let (request, db, charge) = (span("request"), span("db_query"), span("charge"));
    assert_eq!(request.trace_id.len(), 16);
    assert!(request.parent_span_id.is_empty(), "a root");
    assert_eq!(db.parent_span_id, request.span_id);
    assert_eq!(charge.parent_span_id, request.span_id);
    assert_eq!(db.trace_id, request.trace_id);
    assert!(request.start_time_unix_nano <= db.start_time_unix_nano);
    assert!(db.end_time_unix_nano <= request.end_time_unix_nano);
    assert!(db.start_time_unix_nano < db.end_time_unix_nano);
    assert_eq!(
        attr(&request.attributes, "method"),
        Some(&Value::StringValue("POST".into()))
    );
    assert_eq!(
        attr(&request.attributes, "status"),
        Some(&Value::IntValue(402)),
        "record"
    );
    assert_eq!(attr(&db.attributes, "rows"), Some(&Value::IntValue(0)));
    assert_eq!(
        attr(&charge.attributes, "order_id"),
        Some(&Value::IntValue(7))
    );
    let status = |s: &Span| s.status.clone().unwrap_or_default();
    assert_eq!(
        status(&charge).code,
        2,
        "#[instrument(err)] marks the span failed"
    );
    assert_eq!(status(&charge).message, "card declined for order 7");
    assert_eq!(status(&request).code, 0);
    // The records inside a span carry its ids.
    assert_eq!(no_rows.trace_id, db.trace_id);
    assert_eq!(no_rows.span_id, db.span_id);
    assert_eq!(failed.span_id, charge.span_id);
    // A span continued from a traceparent keeps the remote parent.
    let remote = span("from_upstream");
    assert_eq!(remote.trace_id, hex("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(remote.parent_span_id, hex("00f067aa0ba902b7"));
    assert_eq!(remote.flags & 0x300, 0x300, "the parent is remote");
    assert_eq!(by_body("continued").trace_id, remote.trace_id);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn http_json_is_read_by_the_official_types() {
    let (base, state) = receiver("127.0.0.1:0".parse().unwrap());
    let mut env = endpoint_env(&base);
    env.push(("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".into()));
    run("handler", &env);
    let records = records(&state);
    let handled = records
        .iter()
        .find(|(_, r)| body_text(r) == "request handled")
        .unwrap();
    assert_eq!(
        attr(&handled.1.attributes, "user_id"),
        Some(&Value::IntValue(42))
    );
    let spans = spans(&state);
    let remote = spans.iter().find(|s| s.name == "from_upstream").unwrap();
    assert_eq!(remote.parent_span_id, hex("00f067aa0ba902b7"));
}

fn all_steps(state: &Shared, n: u64) -> Vec<u64> {
    steps_of(&records(state), n)
}

/// The `i` of each of `records` (the burst's step), sorted.
fn steps_of(records: &[(String, LogRecord)], n: u64) -> Vec<u64> {
    let mut steps: Vec<u64> = records
        .iter()
        .filter_map(|(_, r)| match attr(&r.attributes, "i") {
            Some(Value::IntValue(i)) => Some(*i as u64),
            _ => None,
        })
        .collect();
    steps.sort_unstable();
    assert!(steps.len() as u64 <= n * 2);
    steps
}

#[test]
fn two_503s_then_200_lose_and_duplicate_nothing() {
    let (base, state) = receiver("127.0.0.1:0".parse().unwrap());
    state.lock().unwrap().fail_with.extend([503, 503]);
    let mut env = endpoint_env(&base);
    env.push(("TTLOG_TEST_N", "2000".into()));
    run("burst", &env);
    let steps = all_steps(&state, 2000);
    assert_eq!(steps, (0..2000).collect::<Vec<_>>(), "each step once");
    assert!(state.lock().unwrap().requests >= 3);
}

#[test]
fn a_receiver_down_at_start_gets_everything_once_up() {
    let port = common::free_port();
    let dir = common::temp_dir("otlp-later");
    let go = dir.join("go");
    let mut env: Vec<(&str, String)> = endpoint_env(&format!("http://127.0.0.1:{port}"));
    env.push(("TTLOG_TEST_GO_FILE", go.display().to_string()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let child = spawn("wait", &env_ref)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let (_, state) = receiver(format!("127.0.0.1:{port}").parse().unwrap());
    std::fs::write(&go, b"").unwrap();
    let output = child.wait_with_output().unwrap();
    common::succeed(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("retrying"));
    let steps = all_steps(&state, 100);
    assert_eq!(steps, (0..100).collect::<Vec<_>>());
}

#[test]
fn a_receiver_that_stays_down_costs_counted_drops_and_never_blocks() {
    let port = common::free_port();
    let mut env = endpoint_env(&format!("http://127.0.0.1:{port}"));
    env.extend([
        ("TTLOG_TEST_N", "20000".to_owned()),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "256".to_owned()),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "300".to_owned()),
    ]);
    let start = Instant::now();
    let stdout = run("burst", &env);
    assert!(common::result_value(&stdout, "dropped_while_running") >= 20_000 - 256 - 512);
    // Not a timing assertion on logging speed: a collector that is down must not hold the
    // program up for its retries (the shutdown waits 300 ms).
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_400_is_dropped_and_counted_not_retried() {
    let (base, state) = receiver("127.0.0.1:0".parse().unwrap());
    // Every request refused: the ten events may go in one batch or, when the consumer
    // delivers part of them before the rest are logged, in more than one.
    state.lock().unwrap().fail_with.extend([400; 64]);
    let mut env = endpoint_env(&base);
    env.push(("TTLOG_TEST_N", "10".into()));
    let output = spawn(
        "burst",
        &env.iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .output()
    .unwrap();
    common::succeed(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("HTTP 400"),
        "{stderr}"
    );
    // Not retried: each event was sent once, in whichever batch, and refused.
    let refused = steps_of(&records_of(&state.lock().unwrap().refused), 10);
    assert_eq!(refused, (0..10).collect::<Vec<_>>(), "each event sent once");
    assert!(records(&state).is_empty());
}

#[test]
fn the_http_clients_own_logging_does_not_loop_back() {
    let (base, state) = receiver("127.0.0.1:0".parse().unwrap());
    let stdout = run("log-adapter", &endpoint_env(&base));
    // The HTTP client did log (through `log`, from the exporter's threads): those records
    // were counted and left out, not exported.
    assert!(common::result_value(&stdout, "suppressed") > 0, "{stdout}");
    let records = records(&state);
    assert_eq!(
        records.len(),
        20,
        "{:?}",
        records
            .iter()
            .map(|(s, r)| (s, body_text(r)))
            .collect::<Vec<_>>()
    );
    assert!(records.iter().all(|(scope, _)| scope == "app"));
}

#[test]
fn nothing_is_exported_without_an_endpoint() {
    let stdout = run("burst", &[("TTLOG_TEST_N", "10".into())]);
    assert_eq!(common::result_value(&stdout, "dropped_while_running"), 0);
}

#[test]
fn a_bad_variable_is_refused_at_install_with_its_name() {
    let output = spawn(
        "burst",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("TTLOG_TEST_N", "1"),
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{stderr}");
}

#[test]
fn the_configuration_file_can_name_the_collector() {
    let (base, state) = receiver("127.0.0.1:0".parse().unwrap());
    let dir = common::temp_dir("otlp-config");
    let file = dir.join("ttlog.yaml");
    std::fs::write(
        &file,
        format!("logging:\n  sinks:\n    - type: otlp\n      url: {base}\n      level: warn\n"),
    )
    .unwrap();
    let output = spawn(
        "config",
        &[
            ("TTLOG_CONFIG", file.to_str().unwrap()),
            ("OTEL_SERVICE_NAME", "checkout"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
        ],
    )
    .output()
    .unwrap();
    common::succeed(&output);
    let records = records(&state);
    let bodies: Vec<&str> = records.iter().map(|(_, r)| body_text(r)).collect();
    assert_eq!(bodies, ["payment provider slow"], "the sink's own level");
    // A bad endpoint in the file is said at start, with the sink left out.
    std::fs::write(
        &file,
        "logging:\n  sinks:\n    - type: otlp\n      url: collector:4318\n",
    )
    .unwrap();
    let output = spawn("config", &[("TTLOG_CONFIG", file.to_str().unwrap())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("otlp") && stderr.contains("collector:4318"),
        "{stderr}"
    );
}
