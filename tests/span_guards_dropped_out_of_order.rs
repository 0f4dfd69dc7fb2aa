//! Span guards may be dropped in any order: the thread's current span is always the innermost
//! span still entered, as in `tracing` (issue 9: dropping an outer guard first left events
//! outside every span, and later events inside a span already left, for the rest of the
//! thread's life).

use ttlog::{CaptureSink, LogLevel, Span, info};

/// The span names an event was logged in, root first.
fn spans_of(capture: &CaptureSink, message: &str) -> Vec<String> {
    let events = capture.events();
    let event = events
        .iter()
        .find(|e| e.message == message)
        .unwrap_or_else(|| panic!("no event {message:?}"));
    event.spans.iter().map(|s| s.name.clone()).collect()
}

#[test]
fn span_guards_dropped_out_of_order() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .sink(capture.clone())
        .try_init()
        .unwrap();

    // The case of the issue.
    let a = ttlog::span!(LogLevel::Info, "span_a").entered();
    let b = ttlog::span!(LogLevel::Info, "span_b").entered();
    drop(a);
    info!("x");
    drop(b);
    info!("y");
    handle.flush();
    assert_eq!(spans_of(&capture, "x"), ["span_a", "span_b"]);
    assert!(spans_of(&capture, "y").is_empty());
    assert!(Span::current().is_disabled());
    capture.clear();

    // Random interleavings of enters and exits against a model stack: after every step the
    // current span is the innermost one still entered.
    let spans = [
        ttlog::span!(LogLevel::Info, "s0"),
        ttlog::span!(LogLevel::Info, "s1"),
        ttlog::span!(LogLevel::Info, "s2"),
        ttlog::span!(LogLevel::Info, "s3"),
    ];
    let mut rng = fastrand::Rng::with_seed(9);
    for _ in 0..2_000 {
        let mut guards: Vec<(usize, ttlog::Entered<'_>)> = Vec::new();
        for _ in 0..rng.usize(1..12) {
            if guards.is_empty() || rng.bool() {
                let i = rng.usize(..spans.len());
                guards.push((i, spans[i].enter()));
            } else {
                let at = rng.usize(..guards.len());
                drop(guards.remove(at));
            }
            let expected = guards.last().map(|&(i, _)| spans[i].name().unwrap());
            assert_eq!(Span::current().name(), expected);
        }
        while !guards.is_empty() {
            let at = rng.usize(..guards.len());
            drop(guards.remove(at));
            let expected = guards.last().map(|&(i, _)| spans[i].name().unwrap());
            assert_eq!(Span::current().name(), expected);
        }
    }
    info!("after all");
    handle.flush();
    assert!(spans_of(&capture, "after all").is_empty());
}
