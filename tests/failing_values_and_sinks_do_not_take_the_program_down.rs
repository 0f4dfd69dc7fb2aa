//! A `Display`/`Debug` impl that errors or panics leaves a marker and the event survives; a
//! sink that panics is disabled and the other sinks go on; a sink that errors is counted.

use std::fmt;
use std::io;

use ttlog::{
    CaptureSink, Event, FMT_ERROR_MARKER, FMT_PANIC_MARKER, LogLevel, OwnedValue, Sink, info,
};

struct Refuses;
impl fmt::Display for Refuses {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Err(fmt::Error)
    }
}

struct Explodes;
impl fmt::Debug for Explodes {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug of Explodes")
    }
}

struct PanickingSink;
impl Sink for PanickingSink {
    fn write(&mut self, _: &Event<'_>) -> io::Result<()> {
        panic!("sink bug")
    }
}

struct FullDisk;
impl Sink for FullDisk {
    fn write(&mut self, _: &Event<'_>) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::StorageFull,
            "no space left on device",
        ))
    }
}

#[test]
fn failing_values_and_sinks_do_not_take_the_program_down() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .sink(PanickingSink)
        .sink(FullDisk)
        .sink(capture.clone())
        .try_init()
        .unwrap();

    info!("bad values", a = %Refuses, b = ?Explodes, c = 3);
    info!("bad argument {}", Refuses);
    info!("still alive");
    handle.flush();

    let events = capture.take();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0].field("a"),
        Some(&OwnedValue::Error(FMT_ERROR_MARKER.into()))
    );
    assert_eq!(
        events[0].field("b"),
        Some(&OwnedValue::Error(FMT_PANIC_MARKER.into()))
    );
    assert_eq!(events[0].field("c"), Some(&OwnedValue::I64(3)));
    assert_eq!(
        events[1].message,
        format!("bad argument {FMT_ERROR_MARKER}")
    );
    assert_eq!(events[2].message, "still alive");
    let stats = handle.stats();
    assert_eq!(stats.delivered, 3);
    // FullDisk fails on the first event, sits the second out (back-off: 1 event), fails on
    // the third (and would now sit out 2): 2 errors, 1 skipped. PanickingSink panics once and
    // is disabled. The capture sink is untouched.
    assert_eq!(stats.sink_errors, 3, "1 panic + 2 write errors: {stats:?}");
    let sink = |suffix: &str| {
        stats
            .sinks
            .iter()
            .find(|s| s.name.ends_with(suffix))
            .unwrap_or_else(|| panic!("no sink {suffix}: {stats:?}"))
            .clone()
    };
    let full = sink("FullDisk");
    assert_eq!((full.errors, full.skipped, full.disabled), (2, 1, false));
    let panicking = sink("PanickingSink");
    assert_eq!((panicking.errors, panicking.disabled), (1, true));
    let capture = sink("capture");
    assert_eq!((capture.errors, capture.skipped), (0, 0));
}
