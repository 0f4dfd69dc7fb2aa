//! Retention: `max_files` keeps exactly the newest rotated files, and `max_age` deletes
//! rotated files whose rotation time is too old, leaving everything else in the directory
//! alone.

mod common;

use std::time::Duration;

use ttlog_sinks::FileSink;

#[test]
fn retention_deletes_exactly_what_it_should() {
    let dir = common::temp_dir("retention");
    // Planted beforehand: two rotated files from 2020 (past max_age), one from a minute ago,
    // and files that are not this sink's.
    let recent =
        humantime::format_rfc3339_seconds(std::time::SystemTime::now() - Duration::from_secs(60))
            .to_string()
            .replace(['-', ':'], "");
    for name in [
        "jobs.20200101T000000Z.log".to_owned(),
        "jobs.20200102T000000Z.1.log.gz".to_owned(),
        format!("jobs.{recent}.log"),
        "payments.20200101T000000Z.log".to_owned(),
        "jobs.log.bak".to_owned(),
    ] {
        std::fs::write(dir.join(name), "{}\n").unwrap();
    }
    let sink = FileSink::builder(dir.join("jobs.log"))
        .max_size(4 * 1024)
        .max_files(3)
        .max_age(Duration::from_secs(86_400))
        .build();
    let housekeeping = sink.housekeeping();
    let handle = common::logger(vec![Box::new(sink)]);
    for seq in 0..600_u64 {
        ttlog::info!("job finished", seq, queue = "emails");
    }
    handle.flush();
    assert!(housekeeping.wait_idle(Duration::from_secs(10)));

    let names = common::file_names(&dir);
    assert!(
        names.contains(&"payments.20200101T000000Z.log".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"jobs.log.bak".to_owned()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("jobs.2020")),
        "{names:?}"
    );
    let files = common::files_in_order(&dir, "jobs");
    assert_eq!(files.len(), 3 + 1, "{names:?}");
    // The planted recent file is older than every rotation of this run: it went first.
    assert!(!names.contains(&format!("jobs.{recent}.log")), "{names:?}");

    // What is left is the newest events: the three rotated files then the active one hold a
    // run of consecutive events ending with the last.
    let mut kept = Vec::new();
    for file in &files {
        kept.extend(common::seqs(&std::fs::read_to_string(file).unwrap()));
    }
    let first = kept[0];
    assert!(first > 0, "the oldest events were deleted");
    assert_eq!(kept, (first..600).collect::<Vec<_>>());
    drop(handle);
    let _ = std::fs::remove_dir_all(&dir);
}
