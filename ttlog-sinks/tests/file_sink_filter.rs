//! A file sink's own filter (`.filter(..)` / `.level(..)`) replaces the logger's for the file:
//! the file gets `billing`'s debug events although the logger is at info, and not `app`'s
//! info events.

mod common;

use ttlog_sinks::FileSink;

#[test]
fn file_sink_filter() {
    let dir = common::temp_dir("filter");
    let sink = FileSink::builder(dir.join("billing.log"))
        .filter("warn,billing=debug")
        .unwrap()
        .build();
    let handle = common::logger(vec![Box::new(sink)]);
    ttlog::debug!(target: "billing::invoices", "invoice lines summed", seq = 0_u64);
    ttlog::info!(target: "app", "request handled", seq = 1_u64);
    ttlog::warn!(target: "app", "slow request", seq = 2_u64);
    handle.flush();
    drop(handle);
    let text = std::fs::read_to_string(dir.join("billing.log")).unwrap();
    assert_eq!(common::seqs(&text), [0, 2]);
    assert!(
        FileSink::builder("x.log").filter("info,=x").is_err(),
        "a malformed directive is an error"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
