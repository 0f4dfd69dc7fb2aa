//! Values as large as the room they are written into, or larger, never write past it: text is
//! cut at a character boundary and marked, and the values after it are intact or absent.
//!
//! These reproduce the encoder overrun of issue 9 (a cut text whose marker did not fit): span
//! fields in the 1 KiB span-value buffer, `#[instrument]` arguments, and events around each
//! half of a 4 KiB ring in Block mode. In a build with debug assertions the old code failed an
//! internal assertion here; in release it wrote past the buffer.

use ttlog::{CaptureSink, LogLevel, Overflow, OwnedValue, TRUNCATION_MARKER, info, instrument};

/// `value` is `full` (true), or a prefix of it followed by the truncation marker (false).
fn intact_or_marked(value: Option<&OwnedValue>, full: &str) -> bool {
    let Some(OwnedValue::Str(text) | OwnedValue::Display(text)) = value else {
        panic!("expected text, got {value:?}");
    };
    if text == full {
        return true;
    }
    let prefix = text
        .strip_suffix(TRUNCATION_MARKER)
        .unwrap_or_else(|| panic!("{}-byte text changed without a marker", full.len()));
    assert!(full.starts_with(prefix), "not a prefix of the value");
    false
}

/// The value after a large one: absent if the large one was cut; else intact, or itself cut
/// and marked when it was the one that reached the limit. Never anything else.
fn after_large(large_intact: bool, value: Option<&OwnedValue>, full: &str) {
    match value {
        None => {}
        Some(_) if !large_intact => panic!("a value after a cut one: {value:?}"),
        Some(_) => {
            intact_or_marked(value, full);
        }
    }
}

#[instrument(level = "info")]
fn run_query(sql: &str, tag: &str, n: usize) -> usize {
    info!("query ran", rows = n);
    n
}

#[test]
fn large_values_stay_in_bounds() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .thread_buffer_size(4096)
        .sink(capture.clone())
        .try_init()
        .unwrap();

    // Span fields around the 1 KiB span-value buffer ('é' puts some cuts inside a character).
    for len in 900..=1100 {
        let sql: String = "é".repeat(len / 2) + &"s".repeat(len % 2);
        let span = ttlog::span!(LogLevel::Info, "query", sql = sql.as_str(), tag = "x");
        span.in_scope(|| info!("inside", len));
        drop(span);
        handle.flush();
        let events = capture.take();
        let inside = events
            .iter()
            .find(|e| e.message == "inside")
            .expect("the event inside the span");
        let fields = inside.span().expect("the span");
        let whole = intact_or_marked(fields.field("sql"), &sql);
        after_large(whole, fields.field("tag"), "x");
        assert_eq!(inside.field("len"), Some(&OwnedValue::U64(len as u64)));
    }

    // `#[instrument]` arguments of the same sizes.
    for len in 900..=1100 {
        let sql = "q".repeat(len);
        assert_eq!(run_query(&sql, "tag", len), len);
        handle.flush();
        let events = capture.take();
        let ran = events.iter().find(|e| e.message == "query ran").unwrap();
        let span = ran.span().expect("run_query's span");
        let whole = intact_or_marked(span.field("sql"), &sql);
        after_large(whole, span.field("tag"), "tag");
        if let Some(n) = span.field("n") {
            assert!(whole, "a value after a cut one: {n:?}");
            assert_eq!(n, &OwnedValue::U64(len as u64));
        }
    }

    // Events around each half of the 4 KiB ring: all delivered, values intact or cut.
    let sizes: Vec<usize> = (1_900..=2_200).chain(3_900..=4_300).step_by(3).collect();
    for &len in &sizes {
        let s = "v".repeat(len);
        info!("big", n = len, s = s.as_str(), after = "tail");
    }
    handle.flush();
    let events = capture.take();
    assert_eq!(events.len(), sizes.len(), "Block mode delivers every event");
    for (event, &len) in events.iter().zip(&sizes) {
        assert_eq!(event.field("n"), Some(&OwnedValue::U64(len as u64)));
        let whole = intact_or_marked(event.field("s"), &"v".repeat(len));
        after_large(whole, event.field("after"), "tail");
    }
    // A record takes at most half the ring: the 2,000-byte values fit whole.
    assert_eq!(
        events[0].field("s"),
        Some(&OwnedValue::Str("v".repeat(1_900)))
    );
    assert_eq!(handle.stats().dropped, 0);
}
