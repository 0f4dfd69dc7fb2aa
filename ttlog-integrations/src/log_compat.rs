//! `log` → ttlog: a [`log::Log`] that turns `log` records into ttlog events.
//!
//! ```
//! let handle = ttlog_core::init().console(false).init();
//! ttlog_integrations::log_compat::install().expect("no other logger");
//! log::info!(target: "billing", order_id = 42; "invoice sent");
//! handle.flush();
//! ```
//!
//! What maps to what:
//!
//! - a record keeps its real target, module path, file and line (never the target `log`) and
//!   its level (`log`'s levels are ttlog's);
//! - the message is `log`'s formatted arguments: a message without arguments is copied, one
//!   with arguments is formatted into the ring on the calling thread (the `log` API hands
//!   over `fmt::Arguments`, which cannot be sent elsewhere), without a heap allocation;
//! - key-values of `log`'s `kv` feature become fields with their types: integers, floats,
//!   bools, chars and strings stay typed, `:?`/`:%` values and errors become strings;
//! - `log::max_level()` follows ttlog's threshold (the most verbose level its sinks or its
//!   flight recorder want), including changes made later through the handle, so disabled
//!   `log` calls cost what they cost without ttlog;
//! - `log::logger().flush()` flushes ttlog.

use log::kv::{self, VisitSource, VisitValue};
use ttlog_core::{
    Callsite, FieldsWriter, LevelFilter, LogLevel, STATIC_MAX_LEVEL, TtlogHandle, level_enabled,
};

use crate::intern::{Interner, Kind, Site, ThreadCache};
use crate::{CompatError, suppressed_here};

/// ttlog's level for a `log` level.
pub fn level_from_log(level: log::Level) -> LogLevel {
    match level {
        log::Level::Trace => LogLevel::Trace,
        log::Level::Debug => LogLevel::Debug,
        log::Level::Info => LogLevel::Info,
        log::Level::Warn => LogLevel::Warn,
        log::Level::Error => LogLevel::Error,
    }
}

/// `log`'s threshold for a ttlog threshold.
pub fn level_filter_to_log(level: LevelFilter) -> log::LevelFilter {
    match level {
        LevelFilter::Trace => log::LevelFilter::Trace,
        LevelFilter::Debug => log::LevelFilter::Debug,
        LevelFilter::Info => log::LevelFilter::Info,
        LevelFilter::Warn => log::LevelFilter::Warn,
        LevelFilter::Error => log::LevelFilter::Error,
        LevelFilter::Off => log::LevelFilter::Off,
    }
}

/// A call site as the calling thread sees it: the addresses and lengths of its strings
/// (static for `log`'s macros) and its line and level.
type FastKey = (usize, usize, usize, usize, u32, u8);

/// A call site by content, for the shared table (targets built at run time land here too).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    level: u8,
    target: Box<str>,
    module: Box<str>,
    file: Box<str>,
    line: u32,
}

static CALLSITES: Interner<Key> = Interner::new("log");

std::thread_local! {
    static CACHE: ThreadCache<FastKey> = ThreadCache::new();
}

/// The callsite of `record`, or `None` once the shared table is full.
fn callsite(record: &log::Record<'_>, level: LogLevel) -> Option<&'static Callsite> {
    let target = record.target();
    let module = record.module_path().unwrap_or("");
    let file = record.file().unwrap_or("");
    let line = record.line().unwrap_or(0);
    let miss = || {
        let key = Key {
            level: level as u8,
            target: target.into(),
            module: module.into(),
            file: file.into(),
            line,
        };
        CALLSITES.get(key, || {
            Site {
                level,
                target,
                module,
                file,
                line,
                kind: Kind::Event { message: true },
            }
            .leak()
        })
    };
    let fast = (
        target.as_ptr() as usize,
        target.len(),
        module.as_ptr() as usize,
        file.as_ptr() as usize,
        line,
        level as u8,
    );
    CACHE
        .try_with(|cache| cache.get(fast, miss))
        .unwrap_or_else(|_| miss())
}

/// The shared callsites used once the table is full: one per level, with the target `ttlog`;
/// the record's own target, module, file and line become fields.
fn overflow_callsite(level: LogLevel) -> &'static Callsite {
    static OVERFLOW: std::sync::OnceLock<[&'static Callsite; 5]> = std::sync::OnceLock::new();
    let sites = OVERFLOW.get_or_init(|| {
        LogLevel::ALL.map(|level| {
            Site {
                level,
                target: "ttlog::log",
                module: "",
                file: "",
                line: 0,
                kind: Kind::Event { message: true },
            }
            .leak()
        })
    });
    sites[level as usize]
}

/// The `log::Log` that feeds ttlog. See the [module docs](self).
#[derive(Debug, Default, Clone, Copy)]
pub struct TtlogLogAdapter {
    _private: (),
}

impl TtlogLogAdapter {
    /// The adapter.
    pub const fn new() -> TtlogLogAdapter {
        TtlogLogAdapter { _private: () }
    }
}

impl log::Log for TtlogLogAdapter {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        ttlog_core::target_enabled(level_from_log(metadata.level()), metadata.target())
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = level_from_log(record.level());
        if !STATIC_MAX_LEVEL.enables(level) || !level_enabled(level) {
            return;
        }
        let (callsite, overflow) = match callsite(record, level) {
            Some(callsite) => (callsite, false),
            None => (overflow_callsite(level), true),
        };
        if !callsite.is_enabled() || suppressed_here() {
            return;
        }
        ttlog_core::__macro_support::emit(callsite, |enc| {
            match record.args().as_str() {
                Some(text) => enc.str(text),
                None => enc.display(record.args()),
            }
            enc.fields(true, |out| {
                if overflow {
                    out.field("log.target", record.target());
                    out.field("log.module_path", record.module_path().unwrap_or(""));
                    out.field("log.file", record.file().unwrap_or(""));
                    out.field("log.line", &record.line().unwrap_or(0));
                }
                let _ = record.key_values().visit(&mut Pairs { out });
            });
        });
    }

    fn flush(&self) {
        ttlog_core::flush_running();
    }
}

/// Writes each key-value as a typed field.
struct Pairs<'w, 'e, 'a> {
    out: &'w mut FieldsWriter<'e, 'a>,
}

impl<'kvs> VisitSource<'kvs> for Pairs<'_, '_, '_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let name = key.as_str();
        let mut typed = Typed {
            out: self.out,
            name,
        };
        value.visit(&mut typed)
    }
}

struct Typed<'w, 'e, 'a, 'n> {
    out: &'w mut FieldsWriter<'e, 'a>,
    name: &'n str,
}

impl<'v> VisitValue<'v> for Typed<'_, '_, '_, '_> {
    fn visit_any(&mut self, value: kv::Value<'_>) -> Result<(), kv::Error> {
        self.out.field_display(self.name, &value);
        Ok(())
    }

    fn visit_null(&mut self) -> Result<(), kv::Error> {
        self.out.field(self.name, &None::<u64>);
        Ok(())
    }

    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.out.field(self.name, &value);
        Ok(())
    }

    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.out.field(self.name, &value);
        Ok(())
    }

    fn visit_u128(&mut self, value: u128) -> Result<(), kv::Error> {
        self.out.field(self.name, &value);
        Ok(())
    }

    fn visit_i128(&mut self, value: i128) -> Result<(), kv::Error> {
        self.out.field(self.name, &value);
        Ok(())
    }

    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        self.out.field(self.name, &value);
        Ok(())
    }

    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.out.field(self.name, &value);
        Ok(())
    }

    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.out.field(self.name, value);
        Ok(())
    }

    fn visit_char(&mut self, value: char) -> Result<(), kv::Error> {
        self.out.field(self.name, &value);
        Ok(())
    }

    fn visit_error(&mut self, err: &(dyn std::error::Error + 'static)) -> Result<(), kv::Error> {
        self.out.field(self.name, err);
        Ok(())
    }
}

static ADAPTER: TtlogLogAdapter = TtlogLogAdapter::new();

/// Makes ttlog the `log` crate's logger and keeps `log::max_level()` equal to ttlog's
/// threshold from now on. ttlog itself is started separately (`ttlog::init()`), before or
/// after.
///
/// # Errors
///
/// [`CompatError::AlreadySet`] if another `log` logger is installed.
pub fn install() -> Result<(), CompatError> {
    log::set_logger(&ADAPTER).map_err(|_| {
        CompatError::AlreadySet(
            "a `log` logger is already installed; ttlog cannot receive `log` records".to_owned(),
        )
    })?;
    static WATCH: std::sync::Once = std::sync::Once::new();
    WATCH.call_once(|| {
        ttlog_core::watch_max_level(|level| log::set_max_level(level_filter_to_log(level)));
    });
    Ok(())
}

/// Starts ttlog with its defaults (`ttlog::init()`: environment, console, flight recorder)
/// and makes it the `log` crate's logger: one line at the top of `main` for a program
/// written against `log`.
///
/// Never panics: if another `log` logger is installed, it says so on stderr and ttlog runs
/// without `log` records (see [`try_init_with_log_compatibility`] to handle that).
///
/// ```no_run
/// let _handle = ttlog_integrations::log_compat::init_with_log_compatibility();
/// log::info!("listening on {}", 8080);
/// ```
pub fn init_with_log_compatibility() -> TtlogHandle {
    let handle = ttlog_core::init().init();
    if let Err(err) = install() {
        crate::diag(format_args!("ttlog: {err}"));
    }
    handle
}

/// Starts ttlog from `builder` and makes it the `log` crate's logger.
///
/// ```no_run
/// use ttlog_core::LogLevel;
///
/// let handle = ttlog_integrations::log_compat::try_init_with_log_compatibility(
///     ttlog_core::init().level(LogLevel::Debug),
/// )
/// .expect("ttlog and the log adapter start");
/// # drop(handle);
/// ```
///
/// # Errors
///
/// [`CompatError::Init`] if ttlog cannot start, [`CompatError::AlreadySet`] if another `log`
/// logger is installed (ttlog is then stopped again).
pub fn try_init_with_log_compatibility(
    builder: ttlog_core::Builder,
) -> Result<TtlogHandle, CompatError> {
    let handle = builder.try_init()?;
    install()?;
    Ok(handle)
}
