//! Logging evaluates each value's `Display` exactly once per event, whatever its size and
//! wherever the record lands in the ring (issue 9: a large value used to be formatted again
//! when its record had to move past the end of the ring).

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use ttlog::{CaptureSink, LogLevel, Overflow, OwnedValue, info};

static CALLS: AtomicU64 = AtomicU64::new(0);

/// Counts its calls and writes `len` bytes.
struct Counted(usize);

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        CALLS.fetch_add(1, Ordering::Relaxed);
        for _ in 0..self.0 {
            f.write_str("x")?;
        }
        Ok(())
    }
}

/// Like `itertools::Itertools::format`: may be formatted once; a second time panics.
struct OneShot {
    used: Cell<bool>,
    len: usize,
}

impl fmt::Display for OneShot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        assert!(!self.used.replace(true), "OneShot formatted twice");
        f.write_str(&"o".repeat(self.len))
    }
}

#[test]
fn each_value_is_formatted_once() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .thread_buffer_size(16 * 1024)
        .sink(capture.clone())
        .try_init()
        .unwrap();

    for seq in 0..3_000u64 {
        info!("payload", seq, body = %Counted(1_500));
    }
    handle.flush();
    assert_eq!(CALLS.load(Ordering::Relaxed), 3_000);
    assert_eq!(capture.take().len(), 3_000);

    // Sizes that wander across the ring so that records land at every offset.
    for seq in 0..20_000usize {
        let value = OneShot {
            used: Cell::new(false),
            len: (seq * 37) % 3_000,
        };
        info!("one shot", seq, value = %value);
    }
    handle.flush();
    let events = capture.take();
    assert_eq!(events.len(), 20_000);
    for (seq, event) in events.iter().enumerate() {
        let value = event.field("value").expect("the value");
        assert_ne!(
            value,
            &OwnedValue::Error("<panicked while formatting>".into()),
            "event {seq}"
        );
        let OwnedValue::Display(text) = value else {
            panic!("event {seq}: {value:?}")
        };
        assert_eq!(text.len(), (seq * 37) % 3_000, "event {seq}");
    }
    assert_eq!(handle.stats().dropped, 0);
}
