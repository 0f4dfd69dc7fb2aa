//! Incident reports on real snapshots: a service whose database pool runs dry (in this
//! process), and a worker that panics (in a child process, through the panic hook's
//! snapshot and the `ttlog analyze` command); and bad input to `ttlog analyze`.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ttlog::LogLevel;
use ttlog_export::input::Input;
use ttlog_export::report::{LLMExportConfig, LLMExporter, format_markdown_report};

const CHILD: &str = "TTLOG_INCIDENT_CHILD";

fn snapshots_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "ttsnap"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The child: a worker panics on a missing value.
#[test]
#[ignore = "entry point of the child process the panic test starts"]
fn child() {
    let dir = std::env::var(CHILD).expect("run by the panic test");
    let _handle = ttlog::init()
        .console(false)
        .with_env(false)
        .recorder_level(LogLevel::Debug)
        .snapshot_dir(&dir)
        .service_name("thumbnailer")
        .signals(false)
        .init();
    let worker = std::thread::Builder::new()
        .name("worker-1".to_owned())
        .spawn(|| {
            for job in 0..20_u64 {
                ttlog::info!(job, "thumbnail rendered");
            }
            ttlog::warn!(job = 20_u64, "image has no EXIF orientation");
            // The EXIF tag the code assumed is there.
            let orientation: Option<u8> = std::hint::black_box(None);
            let _ = orientation.unwrap();
        })
        .unwrap();
    let _ = worker.join();
}

#[test]
fn a_panic_snapshot_reports_the_panic_and_its_pattern() {
    let dir = common::temp_dir("incident-panic");
    let out = common::child_process(CHILD, dir.to_str().unwrap())
        .output()
        .unwrap();
    let snapshots = snapshots_in(&dir);
    assert_eq!(
        snapshots.len(),
        1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = Command::new(env!("CARGO_BIN_EXE_ttlog"))
        .args([
            "analyze",
            snapshots[0].to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["trigger"]["target"], "panic");
    assert_eq!(report["trigger"]["thread"], "worker-1");
    assert_eq!(report["patterns"][0]["id"], "panic_unwrap_none");
    assert_eq!(report["patterns"][0]["on_trigger"], true);
    let chain = report["causal_chain"].as_array().unwrap();
    assert!(
        chain
            .iter()
            .any(|e| e["message"] == "image has no EXIF orientation"),
        "{chain:?}"
    );
    let process: Vec<(String, String)> = serde_json::from_value(report["process"].clone()).unwrap();
    assert!(process.contains(&("service".to_owned(), "thumbnailer".to_owned())));
    assert!(report["tokens"].as_u64().unwrap() <= 4000);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_pool_running_dry_is_named_counted_and_fits_the_budget() {
    let dir = common::temp_dir("incident-pool");
    let handle = ttlog::init()
        .console(false)
        .with_env(false)
        .recorder_level(LogLevel::Debug)
        .snapshot_dir(&dir)
        .service_name("orders-api")
        .panic_hook(false)
        .signals(false)
        .init();
    let workers: Vec<_> = (0..4)
        .map(|n| {
            std::thread::Builder::new()
                .name(format!("http-{n}"))
                .spawn(move || {
                    for request in 0..200_u64 {
                        ttlog::info!(request, path = "/api/v1/orders", "request handled");
                    }
                })
                .unwrap()
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let pool = std::thread::Builder::new()
        .name("http-9".to_owned())
        .spawn(|| {
            ttlog::info!(
                dsn = "postgres://orders:Sup3rS3cret@db.internal:5432/orders",
                "database pool started"
            );
            for in_use in 8..=10_u64 {
                ttlog::warn!(in_use, max = 10_u64, "connection pool nearly exhausted");
            }
            for attempt in 0..15_u64 {
                ttlog::error!(
                    target: "orders::db",
                    attempt,
                    user_email = "ada@example.com",
                    "pool timed out while waiting for an open connection"
                );
            }
        })
        .unwrap();
    pool.join().unwrap();
    let path = handle.snapshot("pool").unwrap();
    drop(handle);

    let input = Input::read(&path).unwrap();
    let exporter = LLMExporter::new(LLMExportConfig::default()).unwrap();
    let report = exporter.export_for_analysis(&input).unwrap();
    let markdown = format_markdown_report(&report);

    assert_eq!(report.patterns[0].id, "db_pool_exhausted", "{markdown}");
    // The 15 errors, and the 3 warnings that already said "nearly exhausted".
    assert_eq!(report.patterns[0].matched_events, 18);
    assert_eq!(report.trigger.target, "orders::db");
    assert_eq!(report.error_summary.retryable, Some(true));
    // The errors before the trigger and the warnings before the first error, from its thread.
    let chain: Vec<&str> = report
        .causal_chain
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        chain
            .iter()
            .filter(|m| **m == "connection pool nearly exhausted")
            .count(),
        3,
        "{chain:?}"
    );
    assert_eq!(chain.first(), Some(&"database pool started"), "{chain:?}");
    // The 15 repeats are one template with its count.
    let errors = report
        .templates
        .iter()
        .find(|t| t.template == "pool timed out while waiting for an open connection")
        .expect("the error's template");
    assert_eq!(errors.count, 15);
    // Within the budget, counted again here on what is printed.
    assert!(report.tokens <= 4000);
    assert_eq!(exporter.count_tokens(&markdown), report.tokens);
    // Redacted.
    for secret in ["Sup3rS3cret", "ada@example.com"] {
        assert!(!markdown.contains(secret), "`{secret}` in the report");
    }

    // A small budget cuts the lowest priorities first and says so.
    let small = LLMExporter::new(LLMExportConfig {
        max_tokens: 600,
        ..LLMExportConfig::default()
    })
    .unwrap();
    let cut = small.export_for_analysis(&input).unwrap();
    let cut_markdown = format_markdown_report(&cut);
    assert!(cut.tokens <= 600, "{}", cut.tokens);
    assert_eq!(small.count_tokens(&cut_markdown), cut.tokens);
    let truncated = cut.truncated.as_ref().expect("something was cut");
    assert!(truncated.sections.iter().any(|s| s.section == "prompts"));
    assert_eq!(
        cut.trigger.message, report.trigger.message,
        "the trigger stays"
    );
    assert_eq!(
        cut.patterns.first().map(|p| &p.id),
        report.patterns.first().map(|p| &p.id)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_input_exits_2_with_a_clear_error() {
    let dir = common::temp_dir("incident-bad");
    let cases = [
        ("empty.jsonl", &b""[..], "no events"),
        (
            "notjson.jsonl",
            &b"{\"level\":\"info\",\"message\":\"ok\"}\nnot json\n"[..],
            "line 2",
        ),
        (
            "corrupt.ttsnap",
            &b"TTLOGSNP\x01\x00garbage"[..],
            "not a valid snapshot",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ttlog"))
            .args(["analyze", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
