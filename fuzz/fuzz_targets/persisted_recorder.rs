//! The persisted recorder file parser (`ttlog recover`): any bytes are rejected or recovered,
//! and a recovered file becomes a snapshot that reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ttlog_core::__fuzz::parse_persisted(data);
});
