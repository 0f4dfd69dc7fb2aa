//! The `TTLOG`/`RUST_LOG` directive parser: any text parses or gives an error naming the bad
//! directive; the lenient parse (what `init()` uses) never fails, and a parsed filter answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttlog_core::{Filter, LevelFilter, LogLevel};

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = Filter::parse(spec) {
        let _ = filter.enabled(LogLevel::Info, "app::db");
        // What parses must print back as a filter that parses the same way.
        let again: Filter = filter.to_string().parse().expect("a printed filter parses");
        assert_eq!(again.to_string(), filter.to_string());
    }
    let (filter, errors) = Filter::parse_lenient(spec, LevelFilter::Info);
    let _ = (filter.enabled(LogLevel::Trace, spec), errors.len());
});
