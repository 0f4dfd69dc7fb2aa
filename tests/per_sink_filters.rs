//! A sink with a filter of its own (`Sink::filter`) gets what its filter lets through,
//! whatever the logger's filter: a sink at debug beside a console at info gets debug events
//! (their callsites are enabled for it), a sink with target directives gets those targets,
//! and changing the logger's level through the handle changes only the sinks that follow it.

mod common;

use std::io;

use ttlog::{CaptureSink, Event, Filter, LevelFilter, LogLevel, Sink, debug, info, trace, warn};

/// A capture sink with its own filter.
struct Own(CaptureSink, &'static str);

impl Sink for Own {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.0.write(event)
    }

    fn filter(&self) -> Option<Filter> {
        Some(self.1.parse().expect("valid directives"))
    }
}

fn messages(capture: &CaptureSink) -> Vec<String> {
    capture.take().into_iter().map(|e| e.message).collect()
}

#[test]
fn per_sink_filters() {
    let follows = CaptureSink::new();
    let debug_sink = CaptureSink::new();
    let billing_sink = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .recorder(false)
        .panic_hook(false)
        .signals(false)
        .sink(follows.clone())
        .sink(Own(debug_sink.clone(), "debug"))
        .sink(Own(billing_sink.clone(), "warn,billing=trace"))
        .try_init()
        .unwrap();

    let emit = || {
        trace!(target: "billing::invoices", "invoice lines summed");
        debug!(target: "app", "cache miss");
        info!(target: "app", "request handled");
        warn!(target: "app", "slow request");
    };
    emit();
    handle.flush();
    assert_eq!(messages(&follows), ["request handled", "slow request"]);
    assert_eq!(
        messages(&debug_sink),
        ["cache miss", "request handled", "slow request"]
    );
    assert_eq!(
        messages(&billing_sink),
        ["invoice lines summed", "slow request"]
    );

    // The handle changes the logger's filter: only the sink that follows it.
    handle.set_level(LevelFilter::Warn);
    emit();
    handle.flush();
    assert_eq!(messages(&follows), ["slow request"]);
    assert_eq!(
        messages(&debug_sink),
        ["cache miss", "request handled", "slow request"]
    );
    assert_eq!(
        messages(&billing_sink),
        ["invoice lines summed", "slow request"]
    );

    handle.set_filter("trace").unwrap();
    emit();
    handle.flush();
    assert_eq!(
        messages(&follows),
        [
            "invoice lines summed",
            "cache miss",
            "request handled",
            "slow request"
        ]
    );
    assert_eq!(messages(&debug_sink).len(), 3);
}
