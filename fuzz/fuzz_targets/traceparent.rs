//! The W3C `traceparent` parser: any header parses or is rejected with an error; one that
//! parses prints back as a header that parses to the same ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttlog_core::TraceParent;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parent) = header.parse::<TraceParent>() {
        let printed = parent.to_string();
        let again: TraceParent = printed.parse().expect("a printed traceparent parses");
        assert_eq!(again.trace_id, parent.trace_id);
        assert_eq!(again.parent_id, parent.parent_id);
    }
});
