//! Reloading the configuration file (`handle.reload()` and `SIGHUP`) in a real process: the
//! level, the redaction rules and the sinks' sampling change while the program runs; a file
//! with an error changes nothing; changes that need a restart are reported, not half-applied.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

const CHILD: &str = "TTLOG_RELOAD_TEST_CHILD";

fn config(level: &str, extra: &str, log: &Path) -> String {
    format!(
        "logging:\n  level: \"{level}\"\n  sinks:\n    - type: file\n      path: {}\n{extra}",
        log.display()
    )
}

/// The child: configured from `TTLOG_CONFIG`, rewrites that file and reloads it.
#[test]
#[ignore = "entry point of the child process the other test starts"]
fn child() {
    let _mode = std::env::var(CHILD).expect("run by the other test");
    let path = std::path::PathBuf::from(std::env::var("TTLOG_CONFIG").unwrap());
    let log = path.with_file_name("app.log");
    let handle = ttlog::init()
        .console(false)
        .panic_hook(false)
        .try_init()
        .expect("the configuration is valid");

    ttlog::info!(seq = 0_u64, "started");
    ttlog::debug!(seq = 1_u64, "filtered out at info");
    ttlog::info!(seq = 2_u64, password = "hunter2", "no redaction yet");
    handle.flush();

    // Debug on, redaction on, info events sampled out entirely.
    let sampled = "      sampling: { info_rate: 0.0 }\n  redaction: {}\n";
    std::fs::write(&path, config("debug", sampled, &log)).unwrap();
    let notes = handle.reload().expect("a valid file");
    assert!(notes.is_empty(), "{notes:?}");
    ttlog::debug!(seq = 3_u64, "debug now on");
    ttlog::info!(seq = 4_u64, "sampled out");
    ttlog::warn!(seq = 5_u64, password = "hunter2", "redacted now");
    handle.flush();

    // A file with an error: nothing changes.
    std::fs::write(&path, "logging:\n  level: \"info,db=loud\"\n").unwrap();
    let err = handle.reload().expect_err("an invalid file").to_string();
    assert!(err.contains("loud") && err.contains("stays"), "{err}");
    ttlog::debug!(seq = 6_u64, "still debug");
    handle.flush();

    // By SIGHUP: the level changes; a new sink is only reported (it needs a restart), so the
    // sampling of the old one is left as it was.
    let file = format!(
        "logging:\n  level: warn\n  sinks:\n    - type: file\n      path: {}\n      \
         sampling: {{ info_rate: 0.0 }}\n    - type: file\n      path: {}\n  redaction: {{}}\n",
        log.display(),
        log.with_file_name("other.log").display()
    );
    std::fs::write(&path, file).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.filter().to_string() != "warn" {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(10));
    }
    ttlog::info!(seq = 7_u64, "filtered out at warn");
    ttlog::warn!(seq = 8_u64, "kept");
    handle.flush();
    println!("DONE");
}

#[test]
fn reload_applies_level_redaction_and_sampling() {
    let dir = common::temp_dir("reload");
    let path = dir.join("ttlog.yaml");
    let log = dir.join("app.log");
    std::fs::write(&path, config("info", "", &log)).unwrap();
    let out = common::child_process(CHILD, "reload")
        .env("TTLOG_CONFIG", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("DONE"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("SIGHUP: configuration reloaded")
            && stderr.contains("logging.sinks changed"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = lines
        .iter()
        .map(|l| l["fields"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [0, 2, 3, 5, 6, 8]);
    assert_eq!(lines[1]["fields"]["password"], "hunter2");
    assert_eq!(lines[3]["fields"]["password"], "[REDACTED]");
    let _ = std::fs::remove_dir_all(dir);
}
