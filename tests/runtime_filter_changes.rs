//! `set_level` and `set_filter` take effect at once for callsites already resolved; a
//! malformed filter is refused and leaves the current one in force.

use ttlog::{CaptureSink, LevelFilter, LogLevel, debug, info, trace};

fn log_round(round: u32) {
    trace!(target: "app::db", "db trace", round);
    debug!(target: "app", "app debug", round);
    info!(target: "app", "app info", round);
}

fn messages(capture: &CaptureSink) -> Vec<String> {
    capture.take().into_iter().map(|e| e.message).collect()
}

#[test]
fn runtime_filter_changes() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .sink(capture.clone())
        .try_init()
        .unwrap();

    log_round(0);
    handle.flush();
    assert_eq!(messages(&capture), ["app info"]);
    assert_eq!(ttlog::max_level(), LevelFilter::Info);

    handle.set_level(LogLevel::Debug);
    log_round(1);
    handle.flush();
    assert_eq!(messages(&capture), ["app debug", "app info"]);

    handle.set_filter("warn,app::db=trace").unwrap();
    log_round(2);
    handle.flush();
    assert_eq!(messages(&capture), ["db trace"]);
    assert_eq!(ttlog::max_level(), LevelFilter::Trace);

    let err = handle.set_filter("info,app=chatty").unwrap_err();
    assert_eq!(err.directive(), "app=chatty");
    log_round(3);
    handle.flush();
    assert_eq!(
        messages(&capture),
        ["db trace"],
        "previous filter still in force"
    );

    handle.set_level(LevelFilter::Off);
    handle.set_filter("off").unwrap();
    log_round(4);
    handle.flush();
    assert!(messages(&capture).is_empty());
    assert_eq!(ttlog::max_level(), LevelFilter::Off);
}
