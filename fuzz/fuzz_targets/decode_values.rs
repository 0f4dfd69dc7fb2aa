//! The value decoder the consumer runs on every record: any bytes decode to values or stop
//! cleanly, and every decoded value formats without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ttlog_core::__fuzz::decode_values(data);
});
