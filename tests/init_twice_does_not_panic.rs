//! `try_init` refuses a second logger; `init` returns a handle to the installed one; after the
//! owner is dropped a new logger can be installed.

use ttlog::{CaptureSink, InitError, LogLevel, info};

#[test]
fn init_twice_does_not_panic() {
    let first = CaptureSink::new();
    let owner = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .sink(first.clone())
        .try_init()
        .unwrap();
    assert!(owner.is_owner());

    let err = ttlog::init()
        .with_env(false)
        .console(false)
        .try_init()
        .unwrap_err();
    assert!(matches!(err, InitError::AlreadyInstalled), "{err}");

    let second = ttlog::init().with_env(false).console(false).init();
    assert!(!second.is_owner());
    info!("still logging", n = 1);
    second.flush();
    drop(second); // flushes, does not uninstall
    info!("after the secondary handle", n = 2);
    owner.flush();
    assert_eq!(first.take().len(), 2);

    drop(owner);
    info!("nobody listens", n = 3);

    let again = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .sink(again.clone())
        .try_init()
        .expect("a logger can be installed after the previous one was dropped");
    info!("new logger", n = 4);
    handle.flush();
    let events = again.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message, "new logger");
    assert!(first.is_empty());
}
