//! A chain of a million nested spans is created, closed and freed without overflowing the
//! stack (issue 9: dropping the chain recursed once per ancestor).

use std::time::Duration;

use ttlog::{LogLevel, Span};

const DEPTH: usize = 1_000_000;

#[test]
fn deep_span_chains_drop_without_recursion() {
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        // A fixed ring: most of the two million close events are dropped (counted), which
        // keeps the consumer's work (128 spans per event) short.
        .thread_buffer_max(ttlog::DEFAULT_THREAD_BUFFER)
        .try_init()
        .unwrap();
    // A thread with a small stack: a recursive drop would need ~100 bytes per level.
    let worker = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut guards = Vec::with_capacity(DEPTH);
            for _ in 0..DEPTH {
                guards.push(ttlog::info_span!("level").entered());
            }
            assert_eq!(Span::current().name(), Some("level"));
            // Leaving innermost first closes each span as its guard goes; the last guard
            // holds the whole chain until then.
            while let Some(guard) = guards.pop() {
                drop(guard);
            }
            assert!(Span::current().is_disabled());

            // A chain held only by its innermost span: dropping that one closes and frees
            // every ancestor.
            let mut leaf = ttlog::info_span!("root");
            for _ in 0..DEPTH {
                leaf = leaf.in_scope(|| ttlog::info_span!("link"));
            }
            drop(leaf);
        })
        .unwrap();
    worker.join().expect("no stack overflow");
    handle.try_flush(Duration::from_secs(30)).unwrap();
    let stats = handle.stats();
    assert_eq!(
        stats.logged + stats.dropped,
        2 * DEPTH as u64 + 1,
        "{stats:?}"
    );
}
