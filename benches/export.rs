//! The export tools on realistic sizes, in one run:
//!
//! - `report_100k_snapshot`: `ttlog analyze`'s work on a snapshot of 100,000 events (a
//!   service's requests on 4 threads, then a database pool running dry): read and decode the
//!   snapshot, redact, mine templates, match patterns, build the report and fit it to 4,000
//!   tokens. Target: under 1 s.
//! - `mine_templates`: `TemplateMiner::add` over the 8,000 lines of
//!   `benches/templates/corpus.tsv` (HDFS, OpenStack, proxy, kernel, sshd, HTTP and job
//!   lines), reported in lines per second on one core. Target: 500,000 lines/s.
//!
//! Run: `cargo bench --bench export` (figures in docs/BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ttlog::LogLevel;
use ttlog_export::input::Input;
use ttlog_export::report::{LLMExportConfig, LLMExporter};
use ttlog_export::templates::TemplateMiner;

const EVENTS: u64 = 100_000;

/// A snapshot of `EVENTS` events: requests, then a pool running dry.
fn snapshot(dir: &std::path::Path) -> std::path::PathBuf {
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .capacity(EVENTS as usize)
        .recorder_level(LogLevel::Debug)
        .overflow(ttlog::Overflow::Block)
        .snapshot_dir(dir)
        .service_name("orders-api")
        .panic_hook(false)
        .signals(false)
        .init();
    let per_thread = (EVENTS - 100) / 4;
    let workers: Vec<_> = (0..4)
        .map(|n| {
            std::thread::Builder::new()
                .name(format!("http-{n}"))
                .spawn(move || {
                    for request in 0..per_thread {
                        ttlog::info!(
                            request,
                            path = "/api/v1/orders",
                            latency_ms = 3.25,
                            "request handled"
                        );
                    }
                })
                .unwrap()
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    for attempt in 0..100_u64 {
        ttlog::error!(target: "orders::db", attempt, "pool timed out while waiting for an open connection");
    }
    let path = handle.snapshot("bench").unwrap();
    drop(handle);
    path
}

fn benches(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ttlog-bench-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = snapshot(&dir);
    let exporter = LLMExporter::new(LLMExportConfig::default()).unwrap();
    let events = Input::read(&path).unwrap().events.len();
    assert!(
        events as u64 >= EVENTS * 9 / 10,
        "{events} events in the snapshot"
    );

    let mut group = c.benchmark_group("export");
    group.sample_size(10);
    group.bench_function("report_100k_snapshot", |b| {
        b.iter(|| {
            let input = Input::read(&path).unwrap();
            black_box(exporter.export_for_analysis(&input).unwrap())
        })
    });
    let corpus = include_str!("templates/corpus.tsv");
    let lines: Vec<&str> = corpus
        .lines()
        .map(|l| l.split_once('\t').map_or(l, |(_, m)| m))
        .collect();
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("mine_templates", |b| {
        b.iter(|| {
            let mut miner = TemplateMiner::default();
            for line in &lines {
                black_box(miner.add(line));
            }
            miner
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(export, benches);
criterion_main!(export);
