//! An event nested more than 128 spans deep reports the innermost 128, root-most first: the
//! consumer's work per event stays bounded however deep a program nests (a chain of 100,000
//! spans would otherwise cost 100,000 steps per event).

use ttlog::{CaptureSink, LogLevel, Span, info};

#[test]
fn deep_spans_report_the_innermost_128() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .sink(capture.clone())
        .try_init()
        .unwrap();
    let mut guards = Vec::new();
    for depth in 0..200u64 {
        guards.push(ttlog::info_span!("nested", depth).entered());
    }
    let trace = Span::current().trace_id();
    info!("deep inside");
    while let Some(guard) = guards.pop() {
        drop(guard);
    }
    handle.flush();
    let events = capture.events();
    let event = events.iter().find(|e| e.message == "deep inside").unwrap();
    assert_eq!(event.spans.len(), 128);
    let depths: Vec<_> = event
        .spans
        .iter()
        .map(|s| s.field("depth").cloned())
        .collect();
    let expected: Vec<_> = (72..200u64)
        .map(|d| Some(ttlog::OwnedValue::U64(d)))
        .collect();
    assert_eq!(depths, expected);
    assert_eq!(event.trace_id, trace);
}
