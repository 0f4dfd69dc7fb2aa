//! Callsites for events whose metadata is only known at run time.
//!
//! ttlog's rings store a `&'static Callsite` per record, and its filter caches its interest in
//! the callsite. Events from `tracing`, `log` and `slog` arrive with their own metadata, so
//! each adapter makes one ttlog callsite per call site of the facade, the first time it sees
//! it, and keeps it for the life of the process (as `tracing` keeps its own). A call site is
//! known by a key the adapter chooses (the address of `tracing`'s static metadata, or `log`'s
//! target, file and line); a thread-local map answers repeat lookups without a lock.
//!
//! The number of callsites is bounded ([`MAX_CALLSITES`]): a program that builds `log` targets
//! at run time would otherwise grow the table without end. Past the bound, an adapter logs
//! through a shared callsite of its own and says so once on stderr.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

use rustc_hash::FxHashMap;
use ttlog_core::__macro_support::{ValueRef, write_arg};
use ttlog_core::{Callsite, LogLevel, Metadata};

/// The most callsites one adapter makes.
pub(crate) const MAX_CALLSITES: usize = 16_384;

/// The most entries a thread's cache holds before it starts afresh.
const MAX_CACHED: usize = 4_096;

/// The name of the one field slot of an adapter's event or span: the values arrive as a flat
/// group, which sinks show as the event's (or span's) own fields.
pub(crate) const FIELDS_SLOT: &[&str] = &["fields"];

/// What kind of callsite to make.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind<'a> {
    /// An event; with a message, its first value is the message text.
    Event { message: bool },
    /// A span named `name`.
    Span { name: &'a str },
    /// The close event of the span named `name`: `"<name> closed"` with `duration_ns`.
    SpanClose { name: &'a str },
}

/// The metadata of a callsite to make.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    pub(crate) level: LogLevel,
    pub(crate) target: &'a str,
    pub(crate) module: &'a str,
    pub(crate) file: &'a str,
    pub(crate) line: u32,
    pub(crate) kind: Kind<'a>,
}

fn leak(text: &str) -> &'static str {
    if text.is_empty() {
        return "";
    }
    Box::leak(text.to_owned().into_boxed_str())
}

/// The message of an adapter's event: its first value, written as is.
fn write_message(out: &mut dyn fmt::Write, args: &[ValueRef<'_>]) -> fmt::Result {
    write_arg(out, args, 0, |out, value| write!(out, "{value}"))
}

impl Site<'_> {
    /// Makes the callsite, for the rest of the process.
    pub(crate) fn leak(self) -> &'static Callsite {
        let (template, args, fields, format, close): (&'static str, usize, _, _, bool) =
            match self.kind {
                Kind::Event { message: true } => {
                    ("{}", 1, FIELDS_SLOT, Some(write_message as _), false)
                }
                Kind::Event { message: false } => ("", 0, FIELDS_SLOT, None, false),
                Kind::Span { name } => (leak(name), 0, FIELDS_SLOT, None, false),
                Kind::SpanClose { name } => (
                    leak(&format!("{name} closed")),
                    0,
                    &["duration_ns"][..],
                    None,
                    true,
                ),
            };
        let metadata = Metadata::new(
            self.level,
            leak(self.target),
            leak(self.module),
            leak(self.file),
            self.line,
            template,
            args,
            fields,
            format,
        );
        let metadata = if close {
            metadata.span_close()
        } else {
            metadata
        };
        let metadata: &'static Metadata<'static> = Box::leak(Box::new(metadata));
        Box::leak(Box::new(Callsite::new(metadata)))
    }
}

/// One adapter's callsites, by key: each entry is what the adapter made for a call site (a
/// callsite, or a callsite with facts the adapter keeps beside it).
pub(crate) struct Interner<K, V = &'static Callsite> {
    map: Mutex<Option<FxHashMap<K, V>>>,
    what: &'static str,
}

impl<K: Hash + Eq, V: Copy> Interner<K, V> {
    /// An empty table; `what` names the adapter in the message printed when it is full.
    pub(crate) const fn new(what: &'static str) -> Interner<K, V> {
        Interner {
            map: Mutex::new(None),
            what,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<FxHashMap<K, V>>> {
        // Nothing panics while the lock is held, but a poisoned table is still a valid one.
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The entry for `key`, made by `make()` the first time; `None` once the table is full
    /// and `key` is not in it.
    pub(crate) fn get(&self, key: K, make: impl FnOnce() -> V) -> Option<V> {
        let mut guard = self.lock();
        let map = guard.get_or_insert_with(FxHashMap::default);
        if let Some(entry) = map.get(&key) {
            return Some(*entry);
        }
        if map.len() >= MAX_CALLSITES {
            drop(guard);
            report_full(self.what);
            return None;
        }
        let entry = make();
        map.insert(key, entry);
        Some(entry)
    }
}

#[cold]
fn report_full(what: &'static str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        crate::diag(format_args!(
            "ttlog: the {what} adapter has made {MAX_CALLSITES} callsites (targets built at run \
             time?); further new ones log under a shared callsite that keeps the original \
             target, file and line as fields"
        ));
    }
}

/// A thread's cache in front of an [`Interner`]: the last entry looked up, then a map.
pub(crate) struct ThreadCache<K, V = &'static Callsite> {
    last: Cell<Option<(K, V)>>,
    map: RefCell<FxHashMap<K, V>>,
}

impl<K: Hash + Eq + Copy, V: Copy> ThreadCache<K, V> {
    pub(crate) fn new() -> ThreadCache<K, V> {
        ThreadCache {
            last: Cell::new(None),
            map: RefCell::new(FxHashMap::default()),
        }
    }

    /// The entry for `key`: from this cache, else from `miss()` (and cached).
    #[inline]
    pub(crate) fn get(&self, key: K, miss: impl FnOnce() -> Option<V>) -> Option<V> {
        // The same call site twice in a row (a filter's check, then the event) is one compare.
        if let Some((last, entry)) = self.last.get()
            && last == key
        {
            return Some(entry);
        }
        // Nothing below calls back into the cache, so the borrow cannot fail; a failure would
        // only cost a trip to the shared table.
        let cached = self
            .map
            .try_borrow()
            .ok()
            .and_then(|map| map.get(&key).copied());
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let entry = miss()?;
                if let Ok(mut map) = self.map.try_borrow_mut() {
                    if map.len() >= MAX_CACHED {
                        map.clear();
                    }
                    map.insert(key, entry);
                }
                entry
            }
        };
        self.last.set(Some((key, entry)));
        Some(entry)
    }
}
