//! `slog` → ttlog: a [`slog::Drain`] that turns `slog` records into ttlog events.
//!
//! ```
//! use slog::{Drain, o};
//! use ttlog_integrations::slog_compat::TtlogDrain;
//!
//! let handle = ttlog_core::init().console(false).init();
//! let root = slog::Logger::root(TtlogDrain::new().fuse(), o!("service" => "api"));
//! let request_log = root.new(o!("request_id" => 7_u64));
//! slog::info!(request_log, "request handled"; "status" => 200_u16, "path" => "/api/v1/items");
//! handle.flush();
//! ```
//!
//! What maps to what:
//!
//! - the level (`Critical` and `Error` are ttlog's `Error`, `Warning` is `Warn`); the module,
//!   file and line of the call; the target is the module path (`slog` has no targets), and a
//!   non-empty `slog` tag (`info!(log, # "audit", …)`) becomes the field `tag`;
//! - the message is `slog`'s formatted arguments (copied when it has none, formatted into the
//!   ring otherwise);
//! - the record's key-values, then the logger's own (`o!`, innermost logger first), become
//!   fields with their types: integers, floats, bools, chars and strings stay typed, errors
//!   become `error: cause`, `()` and `None` become `null`, other values strings.
//!
//! The drain never fails ([`slog::Never`]), so `.fuse()` is free; it does no I/O and takes no
//! lock on the calling thread, so it needs no `slog-async` in front of it.

use std::fmt;

use slog::{Key, OwnedKVList, Record, Serializer};
use ttlog_core::{Callsite, FieldsWriter, LogLevel, STATIC_MAX_LEVEL, level_enabled};

use crate::intern::{Interner, Kind, Site, ThreadCache};
use crate::suppressed_here;

/// ttlog's level for a `slog` level.
pub fn level_from_slog(level: slog::Level) -> LogLevel {
    match level {
        slog::Level::Critical | slog::Level::Error => LogLevel::Error,
        slog::Level::Warning => LogLevel::Warn,
        slog::Level::Info => LogLevel::Info,
        slog::Level::Debug => LogLevel::Debug,
        slog::Level::Trace => LogLevel::Trace,
    }
}

/// A call site: the addresses of its (static) file and module strings, its line and level.
type SiteKey = (usize, usize, u32, u8);

static CALLSITES: Interner<SiteKey> = Interner::new("slog");

std::thread_local! {
    static CACHE: ThreadCache<SiteKey> = ThreadCache::new();
}

fn callsite(record: &Record<'_>, level: LogLevel) -> Option<&'static Callsite> {
    let key = (
        record.file().as_ptr() as usize,
        record.module().as_ptr() as usize,
        record.line(),
        level as u8,
    );
    let site = || {
        Site {
            level,
            target: record.module(),
            module: record.module(),
            file: record.file(),
            line: record.line(),
            kind: Kind::Event { message: true },
        }
        .leak()
    };
    CACHE
        .try_with(|cache| cache.get(key, || CALLSITES.get(key, site)))
        .unwrap_or_else(|_| CALLSITES.get(key, site))
}

/// The `slog::Drain` that feeds ttlog. See the [module docs](self).
#[derive(Debug, Default, Clone, Copy)]
pub struct TtlogDrain {
    _private: (),
}

impl TtlogDrain {
    /// The drain.
    pub fn new() -> TtlogDrain {
        TtlogDrain { _private: () }
    }
}

impl slog::Drain for TtlogDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let level = level_from_slog(record.level());
        if !STATIC_MAX_LEVEL.enables(level) || !level_enabled(level) {
            return Ok(());
        }
        let Some(callsite) = callsite(record, level) else {
            return Ok(());
        };
        if !callsite.is_enabled() || suppressed_here() {
            return Ok(());
        }
        ttlog_core::__macro_support::emit(callsite, |enc| {
            match record.msg().as_str() {
                Some(text) => enc.str(text),
                None => enc.display(record.msg()),
            }
            enc.fields(true, |out| {
                let mut fields = Fields { out };
                if !record.tag().is_empty() {
                    fields.out.field("tag", record.tag());
                }
                let _ = slog::KV::serialize(&record.kv(), record, &mut fields);
                let _ = slog::KV::serialize(values, record, &mut fields);
            });
        });
        Ok(())
    }

    fn is_enabled(&self, level: slog::Level) -> bool {
        let level = level_from_slog(level);
        STATIC_MAX_LEVEL.enables(level) && level_enabled(level)
    }
}

/// Writes each key-value as a typed field.
struct Fields<'w, 'e, 'a> {
    out: &'w mut FieldsWriter<'e, 'a>,
}

macro_rules! emit_typed {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method(&mut self, key: Key, value: $ty) -> slog::Result {
            self.out.field(key.as_ref(), &value);
            Ok(())
        }
    )*};
}

impl Serializer for Fields<'_, '_, '_> {
    emit_typed!(
        emit_usize: usize, emit_isize: isize, emit_bool: bool, emit_char: char,
        emit_u8: u8, emit_i8: i8, emit_u16: u16, emit_i16: i16, emit_u32: u32, emit_i32: i32,
        emit_f32: f32, emit_u64: u64, emit_i64: i64, emit_f64: f64, emit_u128: u128,
        emit_i128: i128,
    );

    fn emit_str(&mut self, key: Key, value: &str) -> slog::Result {
        self.out.field(key.as_ref(), value);
        Ok(())
    }

    fn emit_unit(&mut self, key: Key) -> slog::Result {
        self.out.field(key.as_ref(), &None::<u64>);
        Ok(())
    }

    fn emit_none(&mut self, key: Key) -> slog::Result {
        self.out.field(key.as_ref(), &None::<u64>);
        Ok(())
    }

    fn emit_error(&mut self, key: Key, error: &(dyn std::error::Error + 'static)) -> slog::Result {
        self.out.field(key.as_ref(), error);
        Ok(())
    }

    fn emit_arguments(&mut self, key: Key, value: &fmt::Arguments<'_>) -> slog::Result {
        match value.as_str() {
            Some(text) => self.out.field(key.as_ref(), text),
            None => self.out.field_display(key.as_ref(), value),
        }
        Ok(())
    }
}
