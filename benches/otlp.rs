//! OpenTelemetry export: what the caller pays with the exporter on, and how many events per
//! second get through to a receiver.
//!
//! - `otlp_caller/without_exporter` and `otlp_caller/with_exporter`: the benches' event
//!   (`ttlog::info!` with user_id, path, latency_ms) on the caller's thread, timed in chunks
//!   (see `common::time_in_chunks`), in one logger whose only sink is switched between nothing
//!   and the OTLP exporter (sending to the receiver below). The exporter runs on the consumer
//!   and its own threads, so the two should be equal. The caller logs faster than the
//!   exporter sends, so in this case the exporter's queue overflows (counted drops).
//! - `otlp_throughput`: 100,000 events (`Overflow::Block`) through the exporter to an
//!   OTLP/HTTP receiver on a loopback port (axum, decoding each request with
//!   `opentelemetry-proto`), timed from the first event until the receiver has accepted every
//!   record. http/protobuf, batches of 512, no gzip.
//!
//! Run: `cargo bench --bench otlp --features otlp` (figures in docs/BENCHMARKS.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use ttlog::otlp::{OtlpConfig, otlp_sink};
use ttlog::sinks::BatchOptions;
use ttlog::{LogLevel, Overflow, Sink};

mod common;

use common::Switch;

use common::time_in_chunks;

const EVENTS: u64 = 100_000;

/// An OTLP/HTTP receiver that decodes log requests and counts their records.
fn receiver() -> (String, Arc<AtomicU64>) {
    async fn logs(State(count): State<Arc<AtomicU64>>, body: Bytes) -> StatusCode {
        let Ok(request) = ExportLogsServiceRequest::decode(&body[..]) else {
            return StatusCode::BAD_REQUEST;
        };
        let n: usize = request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        count.fetch_add(n as u64, Ordering::Relaxed);
        StatusCode::OK
    }
    let count = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .route("/v1/logs", post(logs))
        .route("/v1/traces", post(|| async { StatusCode::OK }))
        .with_state(count.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{}", rx.recv().unwrap()), count)
}

fn exporter(base: &str) -> (Box<dyn Sink>, ttlog::otlp::OtlpCounters) {
    let mut config = OtlpConfig::new(base).unwrap();
    config.service_name = Some("bench".into());
    config.logs_batch = BatchOptions {
        queue: 1 << 20,
        batch: 512,
        max_delay: Duration::from_millis(200),
        ..BatchOptions::default()
    };
    let sink = otlp_sink(config).unwrap();
    let counters = sink.counters();
    (Box::new(sink), counters)
}

fn benches(c: &mut Criterion) {
    let switch = Switch::default();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .recorder(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .thread_buffer_size(1 << 20)
        .sink(switch.clone())
        .init();
    let (base, received) = receiver();

    let mut group = c.benchmark_group("otlp_caller");
    group.bench_function("without_exporter", |b| {
        *switch.0.lock().unwrap() = None;
        b.iter_custom(|iters| time_in_chunks(&handle, iters, common::ttlog_event));
    });
    let (sink, counters) = exporter(&base);
    *switch.0.lock().unwrap() = Some(sink);
    group.bench_function("with_exporter", |b| {
        b.iter_custom(|iters| time_in_chunks(&handle, iters, common::ttlog_event));
    });
    group.finish();
    handle.flush();
    counters.wait_idle(Duration::from_secs(60));

    // The caller case logs faster than any exporter sends: its queue overflows (counted).
    // The throughput case must lose nothing.
    let dropped_before = counters.dropped();
    let mut group = c.benchmark_group("otlp_throughput");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("to_receiver_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let before = received.load(Ordering::Relaxed);
                let start = Instant::now();
                for _ in 0..EVENTS {
                    common::ttlog_event();
                }
                handle.flush();
                let deadline = Instant::now() + Duration::from_secs(120);
                while received.load(Ordering::Relaxed) < before + EVENTS {
                    assert!(
                        Instant::now() < deadline,
                        "the receiver did not get everything"
                    );
                    std::thread::sleep(Duration::from_micros(200));
                }
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
    assert_eq!(
        counters.dropped(),
        dropped_before,
        "the throughput case drops nothing"
    );
    drop(handle);
}

criterion_group!(otlp, benches);
criterion_main!(otlp);
