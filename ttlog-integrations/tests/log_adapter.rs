//! `log` through `TtlogLogAdapter`: records keep their real target, module, file and line;
//! key-values become typed fields; `log::max_level()` follows ttlog's filter, including
//! runtime changes; `log_enabled!` sees per-target directives; targets built at run time
//! work; a snapshot contains the records.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use common::SharedBuf;
use serde_json::json;
use ttlog::{Event, Format, LevelFilter, LogLevel, Sink, TtlogHandle};

/// What the JSON does not show: the module path of each event.
#[derive(Clone, Default)]
struct Modules(Arc<Mutex<Vec<(String, String)>>>);

impl Sink for Modules {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        let meta = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((meta.target().to_owned(), meta.module_path().to_owned()));
        Ok(())
    }
}

struct Logger {
    handle: TtlogHandle,
    out: SharedBuf,
    modules: Modules,
}

fn logger() -> &'static Logger {
    static LOGGER: OnceLock<Logger> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let out = SharedBuf::new();
        let modules = Modules::default();
        let handle = ttlog_integrations::log_compat::try_init_with_log_compatibility(
            ttlog::init()
                .with_env(false)
                .level(LogLevel::Info)
                .format(Format::Json)
                .writer(out.clone())
                .sink(modules.clone())
                .snapshot_dir(common::temp_dir("log-adapter"))
                .panic_hook(false)
                .signals(false),
        )
        .expect("the only logger of this test binary");
        Logger {
            handle,
            out,
            modules,
        }
    })
}

fn lines(target: &str) -> Vec<serde_json::Value> {
    let logger = logger();
    logger.handle.flush();
    logger.out.json_of_target(target)
}

mod billing {
    pub(crate) fn send_invoice() -> u32 {
        let line = line!() + 1;
        log::info!(target: "billing", "invoice {} sent to {}", 1042, "ana@example.com");
        log::info!("default target");
        line
    }
}

#[test]
fn records_keep_target_module_file_and_line() {
    logger();
    let line = billing::send_invoice();
    let lines = lines("billing");
    assert_eq!(lines.len(), 1);
    let event = &lines[0];
    assert_eq!(common::keys(event), common::CONTRACT_KEYS);
    assert_eq!(event["message"], "invoice 1042 sent to ana@example.com");
    assert_eq!(event["level"], "info");
    assert_eq!(event["file"], file!());
    assert_eq!(event["line"], line);
    let default = self::lines("log_adapter::billing");
    assert_eq!(default[0]["message"], "default target");
    let modules = logger().modules.0.lock().unwrap().clone();
    assert!(modules.contains(&("billing".into(), "log_adapter::billing".into())));
    assert!(!modules.iter().any(|(target, _)| target == "log"));
}

#[test]
fn key_values_become_typed_fields() {
    logger();
    let err = std::io::Error::other("connection reset");
    let tags = vec!["beta", "eu"];
    log::warn!(target: "kv", user_id = 42_u64, delta = -3_i64, ratio = 0.5, ok = true, initial = 'x',
        name = "ana", tags:? = tags, addr:% = std::net::Ipv4Addr::LOCALHOST, error:err = err; "login slow");
    let lines = lines("kv");
    assert_eq!(lines[0]["message"], "login slow");
    assert_eq!(
        lines[0]["fields"],
        json!({"user_id": 42, "delta": -3, "ratio": 0.5, "ok": true, "initial": "x",
               "name": "ana", "tags": "[\"beta\", \"eu\"]", "addr": "127.0.0.1",
               "error": "connection reset"})
    );
}

#[test]
fn max_level_follows_the_filter() {
    let logger = logger();
    // The flight recorder keeps what the sinks get here, so the threshold is the sinks'.
    assert_eq!(log::max_level(), log::LevelFilter::Info);
    logger.handle.set_filter("info,maxlevel=trace").unwrap();
    assert_eq!(log::max_level(), log::LevelFilter::Trace);
    assert!(log::log_enabled!(target: "maxlevel::db", log::Level::Trace));
    assert!(!log::log_enabled!(target: "elsewhere", log::Level::Debug));
    log::trace!(target: "maxlevel", "now visible");
    log::trace!(target: "elsewhere", "filtered by target");
    logger.handle.set_level(LevelFilter::Info);
    logger.handle.set_filter("info").unwrap();
    assert_eq!(log::max_level(), log::LevelFilter::Info);
    log::trace!(target: "maxlevel", "hidden again");
    let messages: Vec<_> = lines("maxlevel")
        .iter()
        .map(|l| l["message"].clone())
        .collect();
    assert_eq!(messages, ["now visible"]);
    assert!(lines("elsewhere").is_empty());
}

#[test]
fn records_match_native_events() {
    logger();
    let (user_id, path, latency_ms) = (42_u64, "/api/v1/items", 3.25);
    ttlog::info!(target: "same_as_native", "request handled", user_id, path, latency_ms);
    log::info!(target: "same_as_native", user_id, path, latency_ms; "request handled");
    let lines = lines("same_as_native");
    assert_eq!(lines.len(), 2);
    let strip = |line: &serde_json::Value| {
        let mut line = line.clone();
        for key in ["timestamp", "line"] {
            line.as_object_mut().unwrap().remove(key);
        }
        line
    };
    assert_eq!(strip(&lines[0]), strip(&lines[1]));
    assert_eq!(common::keys(&lines[1]), common::CONTRACT_KEYS);
}

#[test]
fn targets_built_at_run_time() {
    logger();
    for tenant in ["acme", "globex"] {
        let target = format!("tenant::{tenant}");
        log::info!(target: &target, "sync done");
    }
    assert_eq!(lines("tenant::acme").len(), 1);
    assert_eq!(lines("tenant::globex").len(), 1);
}

#[test]
fn a_snapshot_contains_log_records() {
    let logger = logger();
    log::error!(target: "snap", code = 503; "upstream unavailable");
    logger.handle.flush();
    let path = logger.handle.snapshot("test").expect("snapshot written");
    let snapshot = ttlog::Snapshot::read(&std::fs::read(path).unwrap()).unwrap();
    let mut found = Vec::new();
    snapshot.for_each_event(|event| {
        if event.target() == "snap" {
            found.push((
                event.message().to_string(),
                event.field("code").map(|v| v.to_string()),
            ));
        }
    });
    assert_eq!(
        found,
        [("upstream unavailable".to_owned(), Some("503".to_owned()))]
    );
}
