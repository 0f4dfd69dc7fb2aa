//! With `max_level_info`, debug and trace events compile to nothing: they are not recorded
//! even when the runtime filter asks for everything, and their arguments are not evaluated.

use std::cell::Cell;

use ttlog::{CaptureSink, LevelFilter, LogLevel, debug, error, info, trace};

fn main() {
    assert_eq!(ttlog::STATIC_MAX_LEVEL, LevelFilter::Info);
    let capture = CaptureSink::new();
    let logger = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Trace)
        .sink(capture.clone())
        .init();

    let evaluated = Cell::new(0);
    let count = || {
        evaluated.set(evaluated.get() + 1);
        1
    };
    trace!("trace event", n = count());
    debug!("debug event", n = count());
    info!("info event", n = count());
    error!("error event", n = count());
    logger.flush();

    let messages: Vec<String> = capture.take().into_iter().map(|e| e.message).collect();
    assert_eq!(messages, ["info event", "error event"]);
    assert_eq!(
        evaluated.get(),
        2,
        "arguments of compiled-out events are not evaluated"
    );
    println!("max_level_info: ok ({messages:?})");
}
