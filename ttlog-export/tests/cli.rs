//! The `ttlog` binary on real snapshots: `dump` writes the JSON line contract and filters,
//! `show` and `ls` describe snapshots, and damaged or foreign files give exit code 2 with the
//! byte offset, while `--salvage` still prints what can be decoded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ttlog::{LogLevel, error, info, trace, warn};

fn ttlog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ttlog"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One snapshot with 3 threads' events, shared by all tests of this file.
fn snapshot() -> &'static Path {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ttlog-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let handle = ttlog::init()
            .console(false)
            .recorder_level(LogLevel::Trace)
            .snapshot_dir(&dir)
            .service_name("checkout")
            .init();
        let threads: Vec<_> = ["cart", "payment"]
            .into_iter()
            .map(|name| {
                std::thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || {
                        for order in 0..3000u64 {
                            trace!(order, stage = name, "processing order");
                        }
                        warn!(stage = name, "queue backlog growing");
                    })
                    .unwrap()
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        info!(target: "checkout::auth", password = "hunter2", "login by {}", "ada@example.com");
        info!(target: "checkout::api", user_id = 7u64, "checkout completed");
        error!(target: "checkout::db", retries = 3u64, "database timeout after {} retries", 3);
        let path = handle.snapshot("cli-test").unwrap();
        std::mem::forget(handle);
        path
    })
}

#[test]
fn dump_writes_contract_json_lines() {
    let out = ttlog(&["dump", snapshot().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6005);
    let last = lines.last().unwrap();
    let keys: Vec<&str> = last
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "timestamp",
            "level",
            "target",
            "message",
            "fields",
            "thread",
            "file",
            "line"
        ]
    );
    assert_eq!(last["level"], "error");
    assert_eq!(last["message"], "database timeout after 3 retries");
    assert_eq!(last["fields"]["retries"], 3);
    assert!(last["file"].as_str().unwrap().ends_with("cli.rs"));
}

#[test]
fn dump_filters_by_level_target_and_thread() {
    let path = snapshot().to_str().unwrap();
    let count = |args: &[&str]| {
        let mut all = vec!["dump", path];
        all.extend_from_slice(args);
        let out = ttlog(&all);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).lines().count()
    };
    assert_eq!(count(&["--level", "warn"]), 3);
    assert_eq!(count(&["--target", "checkout::"]), 3);
    assert_eq!(count(&["--thread", "payment"]), 3001);
    assert_eq!(count(&["--thread", "payment", "--level", "info"]), 1);
    assert_eq!(count(&["--until", "2000-01-01T00:00:00Z"]), 0);
    assert_eq!(count(&["--since", "2000-01-01T00:00:00Z"]), 6005);
}

#[test]
fn show_and_ls_describe_snapshots() {
    let path = snapshot();
    let out = ttlog(&["show", path.to_str().unwrap(), "--level", "error"]);
    assert!(out.status.success());
    let shown = text(&out.stdout);
    assert!(shown.contains("# reason: cli-test"), "{shown}");
    assert!(shown.contains("# service: checkout"));
    assert!(shown.contains("database timeout after 3 retries"));
    assert!(!shown.contains('\u{1b}'), "NO_COLOR is honoured");

    let out = ttlog(&["ls", path.parent().unwrap().to_str().unwrap()]);
    assert!(out.status.success());
    let listed = text(&out.stdout);
    assert!(
        listed.contains("cli-test") && listed.contains("6005"),
        "{listed}"
    );
}

#[test]
fn damaged_or_foreign_files_exit_2_with_the_offset_and_salvage_prints_the_rest() {
    let bytes = std::fs::read(snapshot()).unwrap();
    let dir = snapshot().parent().unwrap();
    let truncated = dir.join("truncated.bin");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let out = ttlog(&["dump", truncated.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("at byte") && err.contains("truncated"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = ttlog(&["dump", "--salvage", truncated.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let salvaged = text(&out.stdout).lines().count();
    // Exactly what the library salvages: every event of the chunks before the cut.
    let expected = ttlog::Snapshot::salvage(&bytes[..bytes.len() - 100])
        .snapshot
        .len();
    assert!(expected > 0 && expected < 6005, "{expected}");
    assert_eq!(salvaged, expected);
    assert!(text(&out.stderr).contains("salvaged"));

    let foreign = dir.join("foreign.json");
    std::fs::write(&foreign, b"{\"not\":\"a snapshot\"}\n").unwrap();
    let out = ttlog(&["show", foreign.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at byte 0: not a ttlog snapshot"));

    let out = ttlog(&["recover", foreign.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));

    let out = ttlog(&["dump", dir.join("missing.ttsnap").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn dump_masks_secrets_unless_asked_not_to() {
    let file = snapshot().to_str().unwrap();
    let login = |extra: &[&str]| {
        let mut args = vec!["dump", file, "--target", "checkout::auth"];
        args.extend_from_slice(extra);
        let out = ttlog(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
        line
    };
    let masked = login(&[]);
    assert_eq!(masked["fields"]["password"], "[REDACTED]");
    assert_eq!(masked["message"], "login by [REDACTED]");

    let raw = login(&["--no-redact"]);
    assert_eq!(raw["fields"]["password"], "hunter2");
    assert_eq!(raw["message"], "login by ada@example.com");

    let dir = std::env::temp_dir().join(format!("ttlog-cli-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ttlog.yaml");
    std::fs::write(
        &config,
        "logging:\n  redaction:\n    defaults: false\n    fields: [password]\n    mask: partial\n",
    )
    .unwrap();
    let own = login(&["--config", config.to_str().unwrap()]);
    assert_eq!(
        own["fields"]["password"], "[REDACTED]",
        "too short to keep a part"
    );
    assert_eq!(own["message"], "login by ada@example.com", "no e-mail rule");

    std::fs::write(&config, "logging:\n  redaction:\n    mask: halfway\n").unwrap();
    let out = ttlog(&["dump", file, "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("halfway"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn templates_prints_one_template_per_line_and_refuses_bad_input() {
    let dir = std::env::temp_dir().join(format!("ttlog-cli-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("app.log");
    std::fs::write(
        &text,
        "user alice signed in from 10.0.0.1\nuser bob signed in from 10.0.0.2\n\
         disk /dev/sda1 is 91% full\nuser carol signed in from 10.0.0.3\n",
    )
    .unwrap();
    let out = ttlog(&["templates", text.to_str().unwrap()]);
    assert!(out.status.success(), "{}", self::text(&out.stderr));
    let lines: Vec<(String, String)> = self::text(&out.stdout)
        .lines()
        .map(|l| {
            let (id, template) = l.split_once('\t').unwrap();
            (id.to_owned(), template.to_owned())
        })
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0].1, "user <*> signed in from <*>");
    assert_eq!(lines[0], lines[1]);
    assert_eq!(
        lines[0], lines[3],
        "every line of a family gets its final template"
    );
    assert_eq!(lines[2].1, "disk <*> is <*> full");

    let json = dir.join("app.jsonl");
    std::fs::write(
        &json,
        "{\"timestamp\":\"2026-12-06T10:00:00Z\",\"level\":\"info\",\"target\":\"app\",\"message\":\"job 7 done\"}\nnot json\n",
    )
    .unwrap();
    let out = ttlog(&["templates", json.to_str().unwrap(), "--input", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", self::text(&out.stderr));
    assert!(
        self::text(&out.stderr).contains("line 2"),
        "{}",
        self::text(&out.stderr)
    );

    let empty = dir.join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let out = ttlog(&["templates", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        self::text(&out.stderr).contains("no lines"),
        "{}",
        self::text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
