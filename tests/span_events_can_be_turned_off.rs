//! `.span_events(false)` turns off the lifecycle events spans log on their own (`"<name>
//! started"` from `#[instrument]`, `"<name> closed"` at the end of every span); the spans
//! themselves still carry their fields and ids on the events logged inside them.

use ttlog::{CaptureSink, LogLevel, info, instrument};

#[instrument]
fn charge(order_id: u64) -> u64 {
    info!("card charged");
    order_id
}

#[test]
fn span_events_can_be_turned_off() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .span_events(false)
        .sink(capture.clone())
        .try_init()
        .unwrap();
    assert_eq!(charge(42), 42);
    ttlog::error_span!("reconcile").in_scope(|| info!("reconciled"));
    handle.flush();
    let events = capture.events();
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["card charged", "reconciled"]);
    let span = events[0].span().expect("still inside `charge`");
    assert_eq!(span.name, "charge");
    assert_eq!(span.field("order_id"), Some(&ttlog::OwnedValue::U64(42)));
    assert_eq!(events[1].span().unwrap().name, "reconcile");
}
