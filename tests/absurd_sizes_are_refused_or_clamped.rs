//! Sizes no machine can honour are refused by `try_init` with an error naming the setting, and
//! clamped by `init` (with one warning), which then logs normally (issue 9:
//! `thread_buffer_size(usize::MAX / 2)` was accepted and the first event panicked with
//! `capacity overflow`).

use ttlog::{CaptureSink, InitError, LogLevel, MAX_THREAD_BUFFER, MIN_THREAD_BUFFER, info};

#[test]
fn absurd_sizes_are_refused_or_clamped() {
    let refused = ttlog::init()
        .with_env(false)
        .console(false)
        .thread_buffer_size(usize::MAX / 2)
        .try_init();
    let Err(err) = refused else {
        panic!("accepted a ring of usize::MAX / 2 bytes")
    };
    assert!(matches!(
        err,
        InitError::Size {
            setting: "thread_buffer_size",
            ..
        }
    ));
    let message = err.to_string();
    assert!(
        message.contains("thread_buffer_size")
            && message.contains(&MIN_THREAD_BUFFER.to_string())
            && message.contains(&MAX_THREAD_BUFFER.to_string()),
        "{message}"
    );
    for builder in [
        ttlog::init().thread_buffer_size(0),
        ttlog::init().capacity(usize::MAX),
        ttlog::init().capacity(0),
        ttlog::init().recorder_bytes(usize::MAX),
        ttlog::init().recorder_bytes(16),
    ] {
        let refused = builder.with_env(false).console(false).try_init();
        assert!(
            matches!(refused, Err(InitError::Size { .. })),
            "{refused:?}"
        );
    }

    // init() clamps and goes on: events are delivered (on a new thread, whose ring is created
    // with the clamped size).
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .thread_buffer_size(usize::MAX / 2)
        .capacity(usize::MAX)
        .sink(capture.clone())
        .init();
    assert!(handle.is_owner());
    std::thread::spawn(|| {
        for seq in 0..100u64 {
            info!("clamped ring", seq);
        }
    })
    .join()
    .unwrap();
    handle.flush();
    assert_eq!(capture.events().len(), 100);
    assert_eq!(handle.stats().dropped, 0);
}
