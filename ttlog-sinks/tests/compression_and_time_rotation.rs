//! Rotated files are gzip-compressed on the housekeeping thread (no `.tmp` or uncompressed
//! rotated file left, every line readable), and `rotate_every` cuts files at period
//! boundaries of the events' own timestamps.

mod common;

use std::io::Read;
use std::time::{Duration, UNIX_EPOCH};

use ttlog_sinks::{FileSink, Period};

#[test]
fn compressed_files_and_time_periods() {
    let dir = common::temp_dir("compression");
    let sink = FileSink::builder(dir.join("api.log"))
        .rotate_every(Period::every(Duration::from_secs(1)))
        .compress(true)
        .build();
    let housekeeping = sink.housekeeping();
    let handle = common::logger(vec![Box::new(sink)]);
    let mut seq = 0_u64;
    for _ in 0..3 {
        for _ in 0..200 {
            ttlog::info!("request handled", seq, status = 200_u16);
            seq += 1;
        }
        handle.flush();
        std::thread::sleep(Duration::from_millis(1100));
    }
    ttlog::info!("request handled", seq, status = 200_u16);
    handle.flush();
    assert!(housekeeping.wait_idle(Duration::from_secs(10)));
    drop(handle);

    let names = common::file_names(&dir);
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    let mut files = common::files_in_order(&dir, "api");
    let active = files.pop().unwrap();
    assert!(files.len() >= 3, "{names:?}");
    assert!(
        files
            .iter()
            .all(|f| f.to_str().unwrap().ends_with(".log.gz")),
        "{names:?}"
    );

    let mut all = Vec::new();
    for name in &files {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(name).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        // Every event of a file falls in one second (the period).
        let seconds: std::collections::BTreeSet<u64> = text
            .lines()
            .map(|line| {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                humantime::parse_rfc3339(event["timestamp"].as_str().unwrap())
                    .unwrap()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
            })
            .collect();
        assert_eq!(seconds.len(), 1, "{} spans several periods", name.display());
        all.extend(common::seqs(&text));
    }
    all.extend(common::seqs(&std::fs::read_to_string(active).unwrap()));
    assert_eq!(all, (0..=seq).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}
