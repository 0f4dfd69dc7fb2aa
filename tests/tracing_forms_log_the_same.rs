//! The forms of `tracing`'s event macros log the same message, fields (names, values and JSON
//! types), level, target, file and line with ttlog's macros as with `tracing` and
//! `tracing-subscriber`'s JSON formatter: each form below is written once and expanded with
//! both crates' macros.

mod common;

use std::sync::OnceLock;

use common::SharedBuf;
use serde_json::{Map, Value};
use ttlog::{Format, LogLevel, TtlogHandle};

struct Outputs {
    handle: TtlogHandle,
    ttlog: SharedBuf,
    tracing: SharedBuf,
    dispatch: tracing::Dispatch,
}

fn outputs() -> &'static Outputs {
    static OUTPUTS: OnceLock<Outputs> = OnceLock::new();
    OUTPUTS.get_or_init(|| {
        let ttlog = SharedBuf::new();
        let handle = ttlog::init()
            .with_env(false)
            .level(LogLevel::Trace)
            .format(Format::Json)
            .writer(ttlog.clone())
            .panic_hook(false)
            .signals(false)
            .try_init()
            .unwrap();
        let tracing = SharedBuf::new();
        let writer = tracing.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_file(true)
            .with_line_number(true)
            .with_writer(move || writer.clone())
            .finish();
        Outputs {
            handle,
            ttlog,
            tracing,
            dispatch: tracing::Dispatch::new(subscriber),
        }
    })
}

/// What both outputs must agree on.
fn normalise(line: &Value, from_tracing: bool) -> Value {
    let mut fields: Map<String, Value> = line["fields"].as_object().cloned().unwrap_or_default();
    let message = if from_tracing {
        fields
            .remove("message")
            .unwrap_or(Value::String(String::new()))
    } else {
        line["message"].clone()
    };
    let level = line["level"].as_str().unwrap().to_lowercase();
    let line_no = if from_tracing {
        line["line_number"].clone()
    } else {
        line["line"].clone()
    };
    serde_json::json!({
        "level": level, "target": line["target"], "message": message,
        "fields": fields, "line": line_no,
    })
}

/// Logs the same invocation through `tracing::event!` and `ttlog::event!` and compares.
macro_rules! same {
    ($($args:tt)*) => {{
        let outputs = outputs();
        outputs.ttlog.clear();
        outputs.tracing.clear();
        tracing::dispatcher::with_default(&outputs.dispatch, || {
            #[allow(unused_imports)]
            use tracing::{Level, field::{debug, display}};
            tracing::event!($($args)*);
        });
        {
            #[allow(unused_imports)]
            use ttlog::{Level, field::{debug, display}};
            ttlog::event!($($args)*);
        }
        outputs.handle.flush();
        let theirs = outputs.tracing.json();
        let ours = outputs.ttlog.json();
        assert_eq!(theirs.len(), 1, "tracing: {theirs:#?}");
        assert_eq!(ours.len(), 1, "ttlog: {ours:#?}");
        assert_eq!(
            normalise(&ours[0], false),
            normalise(&theirs[0], true),
            "for `{}`",
            stringify!($($args)*)
        );
    }};
}

#[derive(Debug)]
struct Position {
    x: f32,
    y: f32,
}

#[test]
fn tracing_event_forms_log_the_same_fields() {
    let foo = 1_u64;
    let pos = Position { x: 3.25, y: -1.5 };
    let error = "a bad error";
    let data = (42, "forty-two");
    const KEY: &str = "computed.key";

    same!(Level::DEBUG, foo = ?3, bar.baz = %2, quux = false);
    same!(Level::DEBUG, foo = 3, bar.baz = 3,);
    same!(Level::DEBUG, "foo");
    same!(Level::DEBUG, "foo: {}", 3);
    same!(Level::INFO, foo = ?3, bar.baz = %2, quux = false, "hello world {:?}", 42);
    same!(Level::INFO, foo = 3, bar.baz = 3, "hello world {:?}", 42,);
    same!(Level::DEBUG, { foo = 3, bar.baz = 80 }, "quux");
    same!(Level::DEBUG, { foo = 2, bar.baz = 79 }, "quux {:?}, {quux}", true, quux = false);
    same!(target: "foo_events", Level::WARN, { foo = ?2, bar.baz = %78, }, "quux");
    same!(Level::DEBUG, ?foo);
    same!(Level::DEBUG, %foo);
    same!(Level::DEBUG, foo);
    same!(Level::DEBUG, foo = display("foo"), quux = debug(Some(2)));
    same!(Level::ERROR, %error, "Received error");
    same!(target: "app_events", Level::WARN, ?data, "App warning: {}", error);
    same!(name: "foo", target: "app_events", Level::WARN, ?data,);
    same!(Level::TRACE, ?pos.x, ?pos.y);
    same!(Level::TRACE, x = debug(pos.x), y = debug(pos.y));
    same!(Level::INFO, "foo" = 3, "bar.baz" = 3,);
    same!(
        Level::INFO,
        { KEY } = "bar",
        { "constant string" } = "also works",
        foo.bar = "baz",
        "quux"
    );
    same!(Level::INFO, message = "hello from a field");
    same!(Level::INFO, message = %error);
    same!(Level::INFO, crate = "ttlog", "message");
    same!(Level::INFO, this.r#type = "Value");
    same!(Level::TRACE, %foo, true, "message");
    same!(
        Level::INFO,
        delta = -7_i64,
        ratio = 0.25,
        big = u64::MAX,
        flag = true,
        text = "t"
    );
}
