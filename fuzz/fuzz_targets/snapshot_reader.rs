//! The snapshot reader: strict reading fails with an offset or succeeds; salvage never fails;
//! every event it returns formats as JSON and as text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttlog_core::{EventFormatter, Format, Snapshot, SnapshotError};

fuzz_target!(|data: &[u8]| {
    match Snapshot::read(data) {
        Ok(_) => {}
        Err(SnapshotError::Invalid { offset, .. }) => assert!(offset as usize <= data.len()),
        Err(other) => panic!("reading bytes failed with {other}"),
    }
    let salvaged = Snapshot::salvage(data);
    let mut json = EventFormatter::new(Format::Json, false);
    let mut text = EventFormatter::new(Format::Pretty, true);
    let mut out = Vec::new();
    salvaged.snapshot.for_each_event(|event| {
        out.clear();
        json.write(event, &mut out);
        text.write(event, &mut out);
    });
});
