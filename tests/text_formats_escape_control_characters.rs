//! `pretty` and `compact` never write a control character from user data raw: a value cannot
//! forge a log line or drive the terminal (issue 9; the class of RUSTSEC-2025-0055). JSON keeps
//! the text as it is, escaped by JSON's own rules.

mod common;

use common::SharedBuf;
use ttlog::{Format, LogLevel, info, warn};

const FORGED: &str = "bob\nFORGED ERROR app: admin logged in";
const TERMINAL: &str = "\x1b[2K\x1b[31mFAKE\u{9b}2J\r\t";

fn log_hostile_values() {
    let worker = std::thread::Builder::new()
        .name("evil\nthread\x1b[0m".into())
        .spawn(|| {
            info!("login {}", FORGED);
            info!("user said {}", TERMINAL);
            warn!("display", value = %TERMINAL, debug = ?FORGED, plain = FORGED);
            let span = ttlog::info_span!("request", path = %FORGED);
            span.in_scope(|| {
                ttlog::with_context("note\n", TERMINAL, || info!("in scope"));
            });
            span.record("status\x1b", "ok\n");
            span.in_scope(|| info!("after record"));
        })
        .unwrap();
    worker.join().unwrap();
}

/// Runs the hostile events through `format` and returns the output.
fn output(format: Format, ansi: bool) -> String {
    let out = SharedBuf::new();
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(format)
        .ansi(ansi)
        .writer(out.clone())
        .try_init()
        .unwrap();
    log_hostile_values();
    handle.flush();
    drop(handle);
    out.text()
}

/// Every line is one event, and the only control characters are ttlog's own colour codes.
fn assert_clean(text: &str, ansi: bool) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "one line per event:\n{text}");
    for line in &lines {
        assert!(
            !line.contains("\x1b[2K") && !line.contains("\x1b[31m"),
            "{line:?}"
        );
        assert!(!line.contains('\r') && !line.contains('\t') && !line.contains('\u{9b}'));
        let stripped = strip_own_colours(line);
        assert!(
            !stripped.chars().any(char::is_control),
            "control character in {line:?}"
        );
        if !ansi {
            assert_eq!(&stripped, line);
        }
        assert!(line.contains("evil\\nthread\\u{1b}[0m") || !line.contains("evil"));
    }
    assert!(text.contains("login bob\\nFORGED ERROR app: admin logged in"));
    assert!(text.contains("user said \\u{1b}[2K\\u{1b}[31mFAKE\\u{9b}2J\\r\\t"));
    assert!(text.contains("note\\n="));
    assert!(text.contains("status\\u{1b}="));
}

/// Removes the SGR sequences ttlog itself writes (`ESC [ digits ; m`).
fn strip_own_colours(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
                assert!(c.is_ascii_digit() || c == ';', "not a colour code: {c:?}");
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[test]
fn text_formats_escape_control_characters() {
    assert_clean(&output(Format::Compact, false), false);
    assert_clean(&output(Format::Pretty, false), false);
    assert_clean(&output(Format::Pretty, true), true);

    // JSON: the same text, kept exactly (JSON escapes it).
    let out = SharedBuf::new();
    let handle = ttlog::init()
        .with_env(false)
        .level(LogLevel::Info)
        .format(Format::Json)
        .writer(out.clone())
        .try_init()
        .unwrap();
    log_hostile_values();
    handle.flush();
    let lines = out.json();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["message"], format!("login {FORGED}"));
    assert_eq!(lines[1]["message"], format!("user said {TERMINAL}"));
    assert_eq!(lines[2]["fields"]["value"], TERMINAL);
    assert_eq!(lines[0]["thread"], "evil\nthread\x1b[0m");
}
