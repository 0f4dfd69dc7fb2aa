//! Inputs the fuzzers (`fuzz/`, docs/fuzzing.md) once failed on, replayed through the public
//! API on every test run.
//!
//! `persisted_recorder/`: recorder files that `recover` accepted but turned into a snapshot
//! that did not read back (a frame whose CRC matched but whose record did not decode: an
//! empty frame has CRC 0).

use std::path::PathBuf;

use ttlog_core::{Snapshot, recover};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn recovered_recorder_files_read_back() {
    let files = inputs("persisted_recorder");
    assert!(!files.is_empty());
    let out_dir =
        std::env::temp_dir().join(format!("ttlog-fuzz-regressions-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    for input in files {
        let out = out_dir.join("recovered.ttsnap");
        // Rejecting the file is fine; recovering it into an unreadable snapshot is not.
        if let Ok(events) = recover(&input, &out) {
            let snapshot = Snapshot::read_file(&out)
                .unwrap_or_else(|e| panic!("{}: recovered but unreadable: {e}", input.display()));
            assert_eq!(snapshot.len() as u64, events, "{}", input.display());
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}
