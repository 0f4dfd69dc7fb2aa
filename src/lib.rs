//! # ttlog: structured logging and a flight recorder, at nanosecond cost
//!
//! An enabled event costs the calling thread about a timestamp and a copy: its values are
//! encoded into the thread's own lock-free ring, and a background thread formats and writes
//! them. Nothing is lost silently: a full ring either blocks ([`Overflow::Block`]) or drops
//! and counts, and every gap shows in the output as `N events dropped`.
//!
//! ```
//! use ttlog::{info, warn, error, debug, LogLevel};
//!
//! let _handle = ttlog::init()
//!     .capacity(1024)
//!     .level(LogLevel::Info)
//!     .init();
//!
//! let user_id = 42;
//! let ip = "10.0.0.7";
//! info!("User logged in", user_id, duration_ms = 45);
//! warn!(user_id, action = "failed_login", "Authentication failed");
//! info!("user {} logged in from {ip}", user_id);
//! debug!("mask {:#x}", 0xff_u32); // below the level: costs one load, evaluates nothing
//! let err = std::io::Error::other("connection reset");
//! error!("Database error", error = %err, query = ?("SELECT 1", 3));
//! ```
//!
//! The macros accept, in any mix:
//!
//! - a message, first or last: `info!("User logged in", user_id = 1)`,
//!   `warn!(user_id = 1, "Authentication failed")`;
//! - format arguments with `std::fmt` syntax: positional, named and captured
//!   (`"{} from {ip}"`), with specs (`"{:#x}"`, `"{:>8.2}"`);
//! - fields `key = value`, with `%value` for `Display` and `?value` for `Debug`; shorthand
//!   `user_id` and `%err`; dotted keys `user.id = 7`; string keys `"http.status" = 200`;
//! - `target: "name",` first, to override the module path.
//!
//! Values are taken by reference and never moved or cloned. Arguments are evaluated only
//! when the event is enabled.
//!
//! See `docs/getting-started.md` for a tour and `docs/architecture.md` for the event path.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub use ttlog_core::*;
pub use ttlog_macros::{Fields, instrument};

/// Sinks for production, from the `ttlog-sinks` crate (cargo feature `sinks`, on by
/// default): [`FileSink`](sinks::FileSink) with rotation by size and time, retention and
/// compression.
///
/// ```
/// use ttlog::sinks::{FileSink, Period};
///
/// # let dir = std::env::temp_dir().join(format!("ttlog-doc-facade-sinks-{}", std::process::id()));
/// let file = FileSink::builder(dir.join("app.log")).rotate_every(Period::DAILY).max_files(7).build();
/// let _handle = ttlog::init().sink(file).init();
/// # drop(_handle);
/// # let _ = std::fs::remove_dir_all(dir);
/// ```
#[cfg(feature = "sinks")]
pub mod sinks {
    pub use ttlog_sinks::*;
}

/// Starts configuring the logger: [`Builder`] with the defaults. When the logger is
/// installed it also reads the configuration file named by `TTLOG_CONFIG` (or given with
/// [`Builder::config_file`]); with the `store` (or `remote`) feature it opens the log store
/// named by `TTLOG_STORE` (or given with [`Builder::store`]) and the ttlog server named by
/// `TTLOG_REMOTE`; with the `otlp` feature it exports to the OpenTelemetry collector named by
/// `OTEL_EXPORTER_OTLP_ENDPOINT`. Precedence: the environment variables (`TTLOG`, `RUST_LOG`,
/// `TTLOG_FORMAT`, `TTLOG_STORE`, ...) override the file, which overrides the code. See
/// `docs/configuration.md`, `docs/store.md` and `docs/opentelemetry.md`.
///
/// ```
/// let handle = ttlog::init()
///     .level(ttlog::LogLevel::Info)
///     .console(false)
///     .init();
/// # drop(handle);
/// ```
#[cfg(feature = "sinks")]
pub fn init() -> Builder {
    #[cfg(any(feature = "store", feature = "remote"))]
    ttlog_sinks::config::register_store_factory(store::factory);
    #[cfg(feature = "otlp")]
    ttlog_sinks::config::register_otlp_factory(otlp::factory);
    ttlog_core::init().at_init(|builder| {
        let (builder, from_file) = ttlog_sinks::config::configure_from_file(builder);
        // Only the store and OpenTelemetry features add problems of their own.
        #[cfg_attr(
            not(any(feature = "store", feature = "remote", feature = "otlp")),
            allow(unused_mut)
        )]
        let mut problems: Vec<String> = from_file.into_iter().collect();
        #[cfg(any(feature = "store", feature = "remote"))]
        let builder = {
            let (builder, from_store) = store::add_sink(builder);
            problems.extend(from_store);
            builder
        };
        #[cfg(feature = "otlp")]
        let builder = {
            let (builder, from_otlp) = otlp::add_sink(builder);
            problems.extend(from_otlp);
            builder
        };
        (builder, (!problems.is_empty()).then(|| problems.join("; ")))
    })
}

/// OpenTelemetry export, from the `ttlog-otlp` crate (cargo feature `otlp`): events as OTLP
/// log records and closed spans as OTLP spans, to a collector. [`init`] adds the exporter
/// when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal endpoint) is set; in code, add
/// [`otlp_sink`](otlp::otlp_sink) as a sink. See `docs/opentelemetry.md`.
///
/// ```no_run
/// let mut config = ttlog::otlp::OtlpConfig::new("http://collector:4318")?;
/// config.service_name = Some("checkout".into());
/// let handle = ttlog::init().sink(ttlog::otlp::otlp_sink(config)?).init();
/// # drop(handle);
/// # Ok::<(), ttlog::otlp::OtlpError>(())
/// ```
#[cfg(feature = "otlp")]
pub mod otlp {
    pub use ttlog_otlp::*;

    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set when the configuration file made an exporter: the environment's settings went into
    /// it, so [`add_sink`] adds no second one.
    static FROM_FILE: AtomicBool = AtomicBool::new(false);

    /// Makes the exporter of a `type: otlp` sink of the configuration file: its `url` is the
    /// endpoint unless `OTEL_EXPORTER_OTLP_ENDPOINT` overrides it (the environment wins over
    /// the file); every other setting comes from the `OTEL_*` variables.
    pub(crate) fn factory(endpoint: &str) -> Result<Box<dyn crate::Sink>, String> {
        let config = OtlpConfig::from_vars(|name| match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Some(v),
            _ => (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| endpoint.to_owned()),
        })
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "OTEL_SDK_DISABLED is set".to_owned())?;
        let sink = otlp_sink(config).map_err(|e| e.to_string())?;
        FROM_FILE.store(true, Ordering::Relaxed);
        Ok(Box::new(sink))
    }

    /// Adds the exporter the `OTEL_*` variables describe, if any (and if the configuration
    /// file did not make one).
    pub(crate) fn add_sink(builder: crate::Builder) -> (crate::Builder, Option<String>) {
        if FROM_FILE.load(Ordering::Relaxed) {
            return (builder, None);
        }
        match OtlpConfig::from_env().and_then(|c| c.map(otlp_sink).transpose()) {
            Ok(Some(sink)) => (builder.sink(sink), None),
            Ok(None) => (builder, None),
            Err(err) => (builder, Some(format!("OpenTelemetry export: {err}"))),
        }
    }
}

/// The log store, from the `ttlog-store` crate (cargo feature `store`, and `postgres` for
/// PostgreSQL): the sink, queries and trends. See `docs/store.md`.
///
/// ```no_run
/// use ttlog::store::{LogQuery, Store};
///
/// let mut store = Store::open("sqlite:logs.db").expect("the store opens");
/// for row in store.query(&LogQuery::new().level(ttlog::LogLevel::Error)).expect("a query") {
///     println!("{}", row.to_text());
/// }
/// ```
#[cfg(any(feature = "store", feature = "remote"))]
pub mod store {
    pub use ttlog_store::*;

    /// Makes the sinks of `type: store` entries of a configuration file.
    pub(crate) fn factory(
        settings: &ttlog_sinks::config::StoreSettings,
    ) -> Result<Box<dyn crate::Sink>, String> {
        let retention = (settings.max_age.is_some() || settings.max_rows.is_some()).then(|| {
            ttlog_store::Retention {
                max_age: settings.max_age,
                max_rows: settings.max_rows,
                ..ttlog_store::Retention::default()
            }
        });
        ttlog_store::store_sink_with_retention(&settings.url, Default::default(), retention)
            .map(|sink| Box::new(sink) as Box<dyn crate::Sink>)
            .map_err(|e| e.to_string())
    }

    /// Adds the store named by `TTLOG_STORE` (else given with `.store(url)`), if any, and the
    /// ttlog server named by `TTLOG_REMOTE`, if any.
    pub(crate) fn add_sink(mut builder: crate::Builder) -> (crate::Builder, Option<String>) {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();
        // Taken even when the environment overrides it: a store left in the builder is an
        // error at install.
        let given = builder.take_store();
        if let Some(url) = env("TTLOG_STORE").or(given) {
            match ttlog_store::store_sink(&url, Default::default()) {
                Ok(sink) => builder = builder.sink(sink),
                Err(err) => problems.push(format!("log store: {err}")),
            }
        }
        if let Some(url) = env("TTLOG_REMOTE") {
            match ttlog_store::store_sink(&url, Default::default()) {
                Ok(sink) => builder = builder.sink(sink),
                Err(err) => problems.push(format!("TTLOG_REMOTE: {err}")),
            }
        }
        (builder, (!problems.is_empty()).then(|| problems.join("; ")))
    }
}

/// What the macros expand to. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use ttlog_core::__macro_support::*;
    pub use ttlog_core::{
        Callsite, Encoder, Fields, FieldsWriter, FormatFn, Instrument, LogLevel, Metadata,
        STATIC_MAX_LEVEL, Span, Timer, Value, level_enabled, span_events_enabled,
    };
    pub use ttlog_macros::{__enabled, __event, __span};
}

/// Logs an event at a level given first, as `tracing::event!` does; the rest is the syntax of
/// [`info!`] and friends.
///
/// ```text
/// event!([target: "name",] [parent: &span | None,] [name: "n",] Level::INFO, items…)
/// ```
///
/// The level is a path ending in a level name (`Level::INFO`, `LogLevel::Info`,
/// `tracing::Level::INFO`). `name:` is accepted for `tracing` compatibility and not recorded.
///
/// ```
/// use ttlog::{Level, event};
///
/// let (order_id, amount_cents) = (42_u64, 1299_u64);
/// event!(Level::INFO, order_id, amount_cents, "payment captured");
/// event!(target: "billing", Level::WARN, { order_id, retry = true }, "card declined");
/// ```
#[macro_export]
macro_rules! event {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) _; $($arg)*) };
}

/// Whether an event at the level (and target) would be logged now, as `tracing::enabled!`:
/// for work done only to log. Field names may follow the level; they are ignored.
///
/// ```
/// use ttlog::{Level, enabled};
///
/// if enabled!(Level::DEBUG) {
///     let summary = String::from("expensive summary");
///     ttlog::debug!(summary);
/// }
/// let _ = enabled!(target: "billing", Level::TRACE, invoice_id);
/// ```
#[macro_export]
macro_rules! enabled {
    ($($arg:tt)*) => { $crate::__private::__enabled!(($crate); $($arg)*) };
}

/// [`enabled!`] for events, as `tracing::event_enabled!`.
///
/// ```
/// let _ = ttlog::event_enabled!(ttlog::Level::INFO);
/// ```
#[macro_export]
macro_rules! event_enabled {
    ($($arg:tt)*) => { $crate::__private::__enabled!(($crate); $($arg)*) };
}

/// [`enabled!`] for spans, as `tracing::span_enabled!` (spans follow the same filter).
///
/// ```
/// let _ = ttlog::span_enabled!(target: "db", ttlog::Level::DEBUG);
/// ```
#[macro_export]
macro_rules! span_enabled {
    ($($arg:tt)*) => { $crate::__private::__enabled!(($crate); $($arg)*) };
}

/// Logs an event at [`LogLevel::Trace`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// let (attempt, backoff_ms) = (3, 250);
/// ttlog::trace!("retrying", attempt, backoff_ms);
/// ```
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Trace; $($arg)*) };
}

/// Logs an event at [`LogLevel::Debug`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// let mask = 0b1010_u8;
/// ttlog::debug!("mask {:#x}", mask);
/// ```
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Debug; $($arg)*) };
}

/// Logs an event at [`LogLevel::Info`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// let path = String::from("/api/v1/items");
/// ttlog::info!("request handled", user_id = 42_u64, path, latency_ms = 3.25);
/// assert_eq!(path, "/api/v1/items"); // taken by reference
/// ```
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Info; $($arg)*) };
}

/// Logs an event at [`LogLevel::Warn`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// struct User { id: u64 }
/// let user = User { id: 7 };
/// ttlog::warn!(user_id = user.id, action = "failed_login", "Authentication failed");
/// ```
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Warn; $($arg)*) };
}

/// Logs an event at [`LogLevel::Error`]. See the [crate docs](crate) for the syntax.
///
/// ```
/// let err = std::io::Error::other("disk full");
/// ttlog::error!(target: "storage", "write failed", error = %err, "file.path" = "/var/data");
/// ```
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::__private::__event!(($crate) Error; $($arg)*) };
}

/// Creates a [`Span`] at the given level (`LogLevel::Info` when left out).
///
/// ```text
/// span!([target: "name",] [LogLevel::Info,] "span name" [, fields…])
/// ```
///
/// Fields use the event syntax: `key = value`, `%value`, `?value`, shorthand `user_id`. The
/// span is entered with [`Span::enter`], [`Span::entered`], [`Span::in_scope`] or, for a
/// future, [`Instrument::in_span`]; events inside carry it. When the span is disabled,
/// nothing is evaluated and a no-op span is returned.
///
/// ```
/// use ttlog::{LogLevel, info, span};
///
/// let _h = ttlog::init().console(false).init();
/// let order_id = 42_u64;
/// let span = span!(LogLevel::Info, "checkout", order_id, region = "eu-west");
/// span.in_scope(|| {
///     info!("payment captured", amount_cents = 1299);
/// });
/// span.record("status", "paid");
/// drop(span); // logs "checkout closed" with duration_ns
/// ```
#[macro_export]
macro_rules! span {
    ($($arg:tt)*) => { $crate::__private::__span!(($crate) _; $($arg)*) };
}

/// Creates a [`Span`] at [`LogLevel::Trace`]; see [`span!`].
///
/// ```
/// let span = ttlog::trace_span!("parse_header", bytes = 512_u32);
/// let _guard = span.enter();
/// ```
#[macro_export]
macro_rules! trace_span {
    ($($arg:tt)*) => { $crate::__private::__span!(($crate) Trace; $($arg)*) };
}

/// Creates a [`Span`] at [`LogLevel::Debug`]; see [`span!`].
///
/// ```
/// let span = ttlog::debug_span!("cache_lookup", key = "user:42");
/// let hit = span.in_scope(|| true);
/// assert!(hit);
/// ```
#[macro_export]
macro_rules! debug_span {
    ($($arg:tt)*) => { $crate::__private::__span!(($crate) Debug; $($arg)*) };
}

/// Creates a [`Span`] at [`LogLevel::Info`]; see [`span!`].
///
/// ```
/// let request_id = 7_u64;
/// let _entered = ttlog::info_span!("http_request", request_id, method = "GET").entered();
/// ttlog::info!("handling request");
/// ```
#[macro_export]
macro_rules! info_span {
    ($($arg:tt)*) => { $crate::__private::__span!(($crate) Info; $($arg)*) };
}

/// Creates a [`Span`] at [`LogLevel::Warn`]; see [`span!`].
///
/// ```
/// let span = ttlog::warn_span!("degraded_mode", reason = "replica lag");
/// # drop(span);
/// ```
#[macro_export]
macro_rules! warn_span {
    ($($arg:tt)*) => { $crate::__private::__span!(($crate) Warn; $($arg)*) };
}

/// Creates a [`Span`] at [`LogLevel::Error`]; see [`span!`].
///
/// ```
/// let span = ttlog::error_span!("recovery", attempt = 3_u32);
/// # drop(span);
/// ```
#[macro_export]
macro_rules! error_span {
    ($($arg:tt)*) => { $crate::__private::__span!(($crate) Error; $($arg)*) };
}

/// Starts a [`Timer`]: when the guard is dropped, an event with the timer's name as message
/// and the elapsed time as `elapsed_ns` is logged (at `Info`, or the level given first).
///
/// ```
/// use ttlog::{LogLevel, timer};
///
/// fn rebuild_index() {
///     let _timer = timer!("rebuild_index");
///     // ... work ...
/// } // logs "rebuild_index" elapsed_ns=…
///
/// let _debug_timer = timer!(LogLevel::Debug, "warm_cache");
/// rebuild_index();
/// ```
#[macro_export]
macro_rules! timer {
    ($name:literal) => {
        $crate::timer!($crate::LogLevel::Info, $name)
    };
    ($level:expr, $name:literal) => {{
        static __TTLOG_META: $crate::__private::Metadata<'static> =
            $crate::__private::Metadata::new(
                $level,
                ::core::module_path!(),
                ::core::module_path!(),
                ::core::file!(),
                ::core::line!(),
                $name,
                0,
                &["elapsed_ns"],
                ::core::option::Option::None,
            );
        static __TTLOG_CALLSITE: $crate::__private::Callsite =
            $crate::__private::Callsite::new(&__TTLOG_META);
        $crate::__private::Timer::start(&__TTLOG_CALLSITE)
    }};
}
