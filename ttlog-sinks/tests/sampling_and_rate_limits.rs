//! Sampling keeps about the configured fraction of each level (within 4 standard deviations)
//! and every warning; the per-callsite limit lets at most N events of a callsite through per
//! second and reports the rest in `suppressed N events from <target> <file>:<line>` lines, so
//! that every event is either written or counted in a summary.

mod common;

use ttlog::CaptureSink;
use ttlog_sinks::{Sampled, Sampling};

const INFO_EVENTS: u64 = 100_000;

#[test]
fn sampling_and_rate_limits() {
    let sampled_capture = CaptureSink::new();
    let limited_capture = CaptureSink::new();
    let sampled = Sampled::new(
        sampled_capture.clone(),
        Sampling {
            info_rate: 0.1,
            ..Sampling::default()
        },
    );
    let counters = sampled.counters();
    let limited = Sampled::new(
        limited_capture.clone(),
        Sampling {
            per_callsite_per_second: Some(100),
            ..Sampling::default()
        },
    );
    let limited_counters = limited.counters();
    let handle = common::logger(vec![Box::new(sampled), Box::new(limited)]);

    for seq in 0..INFO_EVENTS {
        ttlog::info!("cache refreshed", seq);
        if seq % 100 == 0 {
            ttlog::warn!("slow refresh", seq);
        }
    }
    handle.flush();
    drop(handle);

    // Sampling: about 10 % of the info events, every warning.
    let events = sampled_capture.take();
    let infos = events
        .iter()
        .filter(|e| e.message == "cache refreshed")
        .count() as f64;
    let warns = events
        .iter()
        .filter(|e| e.message == "slow refresh")
        .count() as u64;
    let expected = INFO_EVENTS as f64 * 0.1;
    let sigma = (INFO_EVENTS as f64 * 0.1 * 0.9).sqrt();
    assert!(
        (infos - expected).abs() < 4.0 * sigma,
        "{infos} info events kept, expected {expected} ± {}",
        4.0 * sigma
    );
    assert_eq!(warns, INFO_EVENTS / 100);
    assert_eq!(counters.sampled_out() + infos as u64, INFO_EVENTS);

    // Rate limit: each callsite at most 100 per second of event time; the rest in summaries.
    let events = limited_capture.take();
    let kept = events
        .iter()
        .filter(|e| e.message == "cache refreshed")
        .count() as u64;
    let summaries: Vec<_> = events
        .iter()
        .filter(|e| e.message.starts_with("suppressed "))
        .collect();
    assert!(!summaries.is_empty());
    let mut suppressed = 0;
    for summary in &summaries {
        let n = match summary.field("suppressed") {
            Some(ttlog::OwnedValue::U64(n)) => *n,
            other => panic!("no count: {other:?}"),
        };
        assert!(
            summary
                .message
                .starts_with(&format!("suppressed {n} events from ")),
            "{}",
            summary.message
        );
        assert!(summary.message.contains(file!()), "{}", summary.message);
        assert_eq!(summary.level, ttlog::LogLevel::Warn);
        suppressed += n;
    }
    let warn_kept = events
        .iter()
        .filter(|e| e.message == "slow refresh")
        .count() as u64;
    assert_eq!(
        kept + warn_kept + suppressed,
        INFO_EVENTS + INFO_EVENTS / 100,
        "every event written or counted in a summary"
    );
    assert_eq!(limited_counters.rate_limited(), suppressed);
    assert!(kept <= 100 * 60, "{kept} kept: the limit did not apply");
}
