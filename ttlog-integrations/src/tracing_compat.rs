//! `tracing` → ttlog: a [`Layer`] that turns `tracing` events and spans into ttlog's.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! use ttlog_integrations::tracing_compat::{TtlogFilter, TtlogTracingLayer};
//!
//! let handle = ttlog_core::init().console(false).init();
//! let subscriber = tracing_subscriber::registry()
//!     .with(TtlogTracingLayer::new().with_filter(TtlogFilter::new()));
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("checkout", order_id = 42_u64);
//!     let _entered = span.enter();
//!     tracing::info!(amount_cents = 1299_u64, "payment captured");
//! });
//! handle.flush();
//! ```
//!
//! What maps to what:
//!
//! - an event keeps its level, target, module, file and line; its `message` field is the
//!   message; every other field keeps its type (`u64`, `i64`, `f64`, `bool`, `&str`, and
//!   `i128`/`u128`), `%`/`?` values and other `Debug` values become strings formatted into the
//!   ring, a `dyn Error` value becomes `error: cause: root cause`;
//! - a span becomes a ttlog [`Span`]: the same name, fields, `record`, parent (contextual,
//!   explicit `parent:` or root), enter/exit, duration (`"<name> closed"` with `duration_ns`)
//!   and trace and span ids, written exactly as ttlog's own spans;
//! - `follows_from` becomes the field `follows_from` (see [`Span::follows_from`]).
//!
//! The layer works beside other layers and under per-layer filters. [`TtlogFilter`] makes
//! ttlog's own directives (`TTLOG`, `RUST_LOG`, [`TtlogHandle::set_filter`]) decide which
//! events reach it; without it, the layer still drops what ttlog's filter rejects, after
//! `tracing` has dispatched it. As the only layer of its subscriber (what
//! [`enable_tracing_compatibility`] installs), [`TtlogTracingLayer::sole`] applies ttlog's
//! filter itself, without the per-layer-filter machinery.
//!
//! Costs: per enabled event, one lookup of the callsite in a thread-local map and one pass
//! over the event's values, encoded into the thread's ring (no heap allocation once a thread
//! has seen the callsite). Spans cost what `tracing`'s registry costs plus one allocation per
//! span, as native ttlog spans do.
//!
//! [`TtlogHandle::set_filter`]: ttlog_core::TtlogHandle::set_filter

use std::cell::RefCell;
use std::fmt;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use ttlog_core::__macro_support::OpenFields;
use ttlog_core::{
    Builder, Callsite, Encoder, EnteredSpan, FieldsWriter, LogLevel, STATIC_MAX_LEVEL, Span,
    TtlogHandle, level_enabled,
};

use crate::intern::{Interner, Kind, Site, ThreadCache};
use crate::{CompatError, suppressed_here};

/// ttlog's level for a `tracing` level.
pub fn level_from_tracing(level: &tracing_core::Level) -> LogLevel {
    match *level {
        tracing_core::Level::TRACE => LogLevel::Trace,
        tracing_core::Level::DEBUG => LogLevel::Debug,
        tracing_core::Level::INFO => LogLevel::Info,
        tracing_core::Level::WARN => LogLevel::Warn,
        _ => LogLevel::Error,
    }
}

/// What a `tracing` callsite is to ttlog: an event, a span, or a span's close event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    Event,
    Span,
    Close,
}

/// Keyed by the address of `tracing`'s `&'static Metadata` and the role.
type Key = (usize, Role);

/// Where a `tracing` event carries its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageAt {
    /// No `message` field.
    Nowhere,
    /// The first field (what `tracing`'s macros generate): one pass over the values.
    First,
    /// Elsewhere: a first pass finds the message, a second writes the other fields.
    Elsewhere,
}

/// What the layer keeps for a `tracing` callsite in one role.
#[derive(Debug, Clone, Copy)]
struct Entry {
    callsite: &'static Callsite,
    message: MessageAt,
}

static CALLSITES: Interner<Key, Entry> = Interner::new("tracing");

std::thread_local! {
    static CACHE: ThreadCache<Key, Entry> = ThreadCache::new();
    /// The ttlog spans this thread entered for `tracing` spans, innermost last.
    static ENTERED: RefCell<Vec<(Id, EnteredSpan)>> = const { RefCell::new(Vec::new()) };
}

/// The entry for `meta` in `role`. `tracing`'s callsites keep their metadata in a `static`,
/// so its address names the callsite.
fn entry(meta: &Metadata<'_>, role: Role) -> Option<Entry> {
    let key = (meta as *const Metadata<'_> as usize, role);
    let make = || {
        let fields = meta.fields();
        let message = match fields.iter().position(|f| f.name() == "message") {
            None => MessageAt::Nowhere,
            Some(0) => MessageAt::First,
            Some(_) => MessageAt::Elsewhere,
        };
        let callsite = Site {
            level: level_from_tracing(meta.level()),
            target: meta.target(),
            module: meta.module_path().unwrap_or(""),
            file: meta.file().unwrap_or(""),
            line: meta.line().unwrap_or(0),
            kind: match role {
                Role::Event => Kind::Event {
                    message: message != MessageAt::Nowhere,
                },
                Role::Span => Kind::Span { name: meta.name() },
                Role::Close => Kind::SpanClose { name: meta.name() },
            },
        }
        .leak();
        Entry { callsite, message }
    };
    CACHE
        .try_with(|cache| cache.get(key, || CALLSITES.get(key, make)))
        .unwrap_or_else(|_| CALLSITES.get(key, make))
}

/// Whether ttlog wants what `meta` describes: the level checks first, then the callsite's
/// cached interest under ttlog's filter.
#[inline]
fn wanted(meta: &Metadata<'_>) -> Option<Entry> {
    let level = level_from_tracing(meta.level());
    if !STATIC_MAX_LEVEL.enables(level) || !level_enabled(level) {
        return None;
    }
    let role = if meta.is_span() {
        Role::Span
    } else {
        Role::Event
    };
    entry(meta, role).filter(|entry| entry.callsite.is_enabled())
}

/// The ttlog span of a `tracing` span, kept in the registry's extensions.
struct TtlogSpan(Span);

/// The `tracing_subscriber::Layer` that feeds ttlog. See the [module docs](self).
///
/// It needs a subscriber that stores spans (`tracing_subscriber::registry()`), and ttlog
/// installed (`ttlog::init()`); without a running logger it costs a level check per event.
#[derive(Debug, Default, Clone, Copy)]
pub struct TtlogTracingLayer {
    /// Answer `tracing`'s `enabled` with ttlog's filter (see [`TtlogTracingLayer::sole`]).
    sole: bool,
}

impl TtlogTracingLayer {
    /// The layer, for a subscriber with other layers: it leaves `tracing`'s `enabled` to
    /// them (add [`TtlogFilter`] with `.with_filter(..)` to apply ttlog's directives early).
    pub fn new() -> TtlogTracingLayer {
        TtlogTracingLayer { sole: false }
    }

    /// The layer, for a subscriber where it is the only layer that consumes events (what
    /// [`enable_tracing_compatibility`] installs): it answers `tracing`'s `enabled` with
    /// ttlog's filter itself, which spares the per-layer-filter bookkeeping on every event.
    /// Its answers are per callsite ("always" or "never", and ttlog's level as `tracing`'s
    /// max level hint), which `tracing` caches and rebuilds after every change of ttlog's
    /// filter ([`ttlog_core::watch_interest`]): a disabled event costs what it costs in
    /// `tracing` alone.
    /// Beside other layers, use [`new`](TtlogTracingLayer::new): this one's answer would
    /// disable events for them too.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use ttlog_integrations::tracing_compat::TtlogTracingLayer;
    ///
    /// let subscriber = tracing_subscriber::registry().with(TtlogTracingLayer::sole());
    /// # drop(subscriber);
    /// ```
    pub fn sole() -> TtlogTracingLayer {
        follow_ttlog_filter();
        TtlogTracingLayer { sole: true }
    }
}

/// Makes `tracing` ask the sole layer again about every callsite whenever ttlog's filter
/// changes, so that the layer can answer "always" or "never" per callsite (cached by
/// `tracing`: a disabled event then costs what it costs without ttlog) instead of
/// "sometimes" (a call per event).
fn follow_ttlog_filter() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        ttlog_core::watch_interest(tracing_core::callsite::rebuild_interest_cache);
    });
}

/// ttlog's answer for a callsite now, as `tracing` caches it: "always" or "never". `tracing`
/// asks again after every change of ttlog's filter (`follow_ttlog_filter`). The callsite's
/// entry is made now too, so that its first event does not pay for it.
fn interest_now(meta: &'static Metadata<'static>) -> Interest {
    follow_ttlog_filter();
    if wanted(meta).is_some() {
        Interest::always()
    } else {
        Interest::never()
    }
}

/// ttlog's threshold as `tracing`'s max level hint (`tracing` recomputes it when it rebuilds
/// its interest cache, which a change of ttlog's filter makes it do).
fn max_level_hint() -> tracing_core::LevelFilter {
    match ttlog_core::max_level() {
        ttlog_core::LevelFilter::Trace => tracing_core::LevelFilter::TRACE,
        ttlog_core::LevelFilter::Debug => tracing_core::LevelFilter::DEBUG,
        ttlog_core::LevelFilter::Info => tracing_core::LevelFilter::INFO,
        ttlog_core::LevelFilter::Warn => tracing_core::LevelFilter::WARN,
        ttlog_core::LevelFilter::Error => tracing_core::LevelFilter::ERROR,
        ttlog_core::LevelFilter::Off => tracing_core::LevelFilter::OFF,
    }
}

/// A per-layer filter that lets ttlog's directives decide which `tracing` events and spans
/// reach the layer: `TtlogTracingLayer::new().with_filter(TtlogFilter::new())`.
///
/// Filter changes through the ttlog handle take effect at once: the filter answers "always" or
/// "never" per callsite and gives ttlog's level as its max level hint, and `tracing` asks again
/// after every change of ttlog's filter ([`ttlog_core::watch_interest`]), before the change
/// returns.
#[derive(Debug, Default, Clone, Copy)]
pub struct TtlogFilter {
    _private: (),
}

impl TtlogFilter {
    /// The filter.
    pub fn new() -> TtlogFilter {
        follow_ttlog_filter();
        TtlogFilter { _private: () }
    }
}

impl<S> Filter<S> for TtlogFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        wanted(meta).is_some()
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        interest_now(meta)
    }

    fn max_level_hint(&self) -> Option<tracing_core::LevelFilter> {
        Some(max_level_hint())
    }
}

impl<S> Layer<S> for TtlogTracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.sole {
            interest_now(meta)
        } else {
            Interest::always()
        }
    }

    fn max_level_hint(&self) -> Option<tracing_core::LevelFilter> {
        self.sole.then(max_level_hint)
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        !self.sole || wanted(meta).is_some()
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(Entry { callsite, message }) = wanted(event.metadata()) else {
            return;
        };
        if suppressed_here() {
            return;
        }
        let encode = |enc: &mut Encoder<'_>| match message {
            MessageAt::First => {
                let mut visitor = OnePass { enc, group: None };
                event.record(&mut visitor);
                let OnePass { enc, group } = visitor;
                let group = match group {
                    Some(group) => group,
                    None => {
                        enc.str("");
                        enc.open_fields(true)
                    }
                };
                enc.close_fields(group);
            }
            MessageAt::Elsewhere => {
                let mut visitor = MessageVisitor { enc, done: false };
                event.record(&mut visitor);
                if !visitor.done {
                    visitor.enc.str("");
                }
                enc.fields(true, |out| {
                    event.record(&mut FieldVisitor {
                        out,
                        skip_message: true,
                    })
                });
            }
            MessageAt::Nowhere => enc.fields(true, |out| {
                event.record(&mut FieldVisitor {
                    out,
                    skip_message: false,
                })
            }),
        };
        if event.is_contextual() {
            // ttlog's current span is the innermost `tracing` span this layer entered here.
            ttlog_core::__macro_support::emit(callsite, encode);
        } else {
            let parent = event.parent().and_then(|id| nearest_ttlog_span(&ctx, id));
            ttlog_core::__macro_support::emit_with_parent(callsite, parent.as_ref(), encode);
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        let Some(Entry { callsite, .. }) = wanted(meta) else {
            return;
        };
        let Some(Entry {
            callsite: close, ..
        }) = entry(meta, Role::Close)
        else {
            return;
        };
        if suppressed_here() {
            return;
        }
        let encode = |enc: &mut Encoder<'_>| {
            enc.fields(true, |out| {
                attrs.record(&mut FieldVisitor {
                    out,
                    skip_message: false,
                })
            });
        };
        let span = if attrs.is_contextual() {
            Span::new(callsite, close, encode)
        } else {
            let parent = attrs.parent().and_then(|id| nearest_ttlog_span(&ctx, id));
            Span::new_with_parent(parent.as_ref(), callsite, close, encode)
        };
        if let Some(data) = ctx.span(id) {
            data.extensions_mut().insert(TtlogSpan(span));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ttlog_span(&ctx, id) {
            values.record(&mut RecordVisitor { span: &span });
        }
    }

    fn on_follows_from(&self, id: &Id, cause: &Id, ctx: Context<'_, S>) {
        if let (Some(span), Some(cause)) = (ttlog_span(&ctx, id), ttlog_span(&ctx, cause)) {
            span.follows_from(&cause);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ttlog_span(&ctx, id) {
            let entered = span.entered();
            let _ = ENTERED.try_with(|stack| stack.borrow_mut().push((id.clone(), entered)));
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        // Spans may be exited out of order: take the innermost entry for this id. The guard is
        // dropped after the borrow ends (dropping it may close the span and log).
        let left = ENTERED
            .try_with(|stack| {
                let mut stack = stack.borrow_mut();
                let at = stack.iter().rposition(|(entered, _)| entered == id)?;
                Some(stack.remove(at))
            })
            .ok()
            .flatten();
        drop(left);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // Dropping the ttlog span now logs its close event (once its children are closed).
        let removed = ctx
            .span(&id)
            .and_then(|data| data.extensions_mut().remove::<TtlogSpan>());
        drop(removed);
    }
}

/// A new handle on the ttlog span of the `tracing` span `id`.
fn ttlog_span<S>(ctx: &Context<'_, S>, id: &Id) -> Option<Span>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let data = ctx.span(id)?;
    let extensions = data.extensions();
    extensions.get::<TtlogSpan>().map(|span| span.0.clone())
}

/// The ttlog span of `id`, or of its nearest ancestor that has one (a span this layer did
/// not see, filtered out, is skipped as `tracing`'s per-layer filters do).
fn nearest_ttlog_span<S>(ctx: &Context<'_, S>, id: &Id) -> Option<Span>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let data = ctx.span(id)?;
    data.scope().find_map(|span| {
        span.extensions()
            .get::<TtlogSpan>()
            .map(|span| span.0.clone())
    })
}

/// One pass over an event whose first field is its message: the message is written as the
/// event's first value, then a group is opened for the other fields as they come.
struct OnePass<'e, 'a> {
    enc: &'e mut Encoder<'a>,
    group: Option<OpenFields>,
}

impl<'a> OnePass<'_, 'a> {
    /// Whether `field` is the message, not yet written (then the caller writes it, and the
    /// group opens).
    #[inline]
    fn is_message(&self, field: &Field) -> bool {
        self.group.is_none() && field.index() == 0
    }

    #[inline]
    fn opened(&mut self) {
        self.group = Some(self.enc.open_fields(true));
    }

    /// The writer for a field other than the message (an event without its message value
    /// gets an empty one first).
    #[inline]
    fn out(&mut self) -> FieldsWriter<'_, 'a> {
        if self.group.is_none() {
            self.enc.str("");
            self.opened();
        }
        let group = self.group.as_mut().expect("opened above");
        self.enc.fields_writer(group)
    }
}

macro_rules! one_pass_typed {
    ($($method:ident: $ty:ty => $encode:ident),* $(,)?) => {$(
        fn $method(&mut self, field: &Field, value: $ty) {
            if self.is_message(field) {
                self.enc.$encode(value);
                self.opened();
            } else {
                self.out().field(field.name(), &value);
            }
        }
    )*};
}

impl Visit for OnePass<'_, '_> {
    one_pass_typed!(
        record_f64: f64 => f64,
        record_i64: i64 => i64,
        record_u64: u64 => u64,
        record_i128: i128 => i128,
        record_u128: u128 => u128,
        record_bool: bool => bool,
    );

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.is_message(field) {
            self.enc.str(value);
            self.opened();
        } else {
            self.out().field(field.name(), value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.is_message(field) {
            ttlog_core::Value::encode(value, self.enc);
            self.opened();
        } else {
            self.out().field(field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.is_message(field) {
            // `format_args!` and `%` values: their Debug is their Display.
            self.enc.debug(value);
            self.opened();
        } else {
            self.out().field_debug(field.name(), value);
        }
    }
}

/// Writes the `message` field as the event's first value.
struct MessageVisitor<'e, 'a> {
    enc: &'e mut Encoder<'a>,
    done: bool,
}

impl Visit for MessageVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.done && field.name() == "message" {
            self.enc.str(value);
            self.done = true;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.done && field.name() == "message" {
            // `format_args!` and `%` values: their Debug is their Display.
            self.enc.debug(value);
            self.done = true;
        }
    }
}

/// Writes every field but the message, with its type.
struct FieldVisitor<'w, 'e, 'a> {
    out: &'w mut FieldsWriter<'e, 'a>,
    skip_message: bool,
}

impl FieldVisitor<'_, '_, '_> {
    #[inline]
    fn keep(&self, field: &Field) -> bool {
        !(self.skip_message && field.name() == "message")
    }
}

impl Visit for FieldVisitor<'_, '_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.keep(field) {
            self.out.field(field.name(), &value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.keep(field) {
            self.out.field(field.name(), &value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.keep(field) {
            self.out.field(field.name(), &value);
        }
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        if self.keep(field) {
            self.out.field(field.name(), &value);
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        if self.keep(field) {
            self.out.field(field.name(), &value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.keep(field) {
            self.out.field(field.name(), &value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.keep(field) {
            self.out.field(field.name(), value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.keep(field) {
            self.out.field(field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.keep(field) {
            self.out.field_debug(field.name(), value);
        }
    }
}

/// Applies `span.record(..)` values to the ttlog span, with their types.
struct RecordVisitor<'s> {
    span: &'s Span,
}

impl Visit for RecordVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.span.record(field.name(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.span.record(field.name(), value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.span.record(field.name(), value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.span.record(field.name(), value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.span.record(field.name(), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.span.record(field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.span.record(field.name(), value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.span.record(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.span
            .record(field.name(), ttlog_core::field::debug(value));
    }
}

/// Starts ttlog with its defaults (`ttlog::init()`: environment, console, flight recorder)
/// and makes it the global `tracing` subscriber: one line at the top of `main` for a program
/// written against `tracing`.
///
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let _handle = ttlog_integrations::tracing_compat::enable_tracing_compatibility()?;
///     tracing::info!(port = 8080_u16, "listening");
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// [`CompatError::AlreadySet`] if a global `tracing` subscriber is already set (ttlog is then
/// not started), [`CompatError::Init`] if ttlog cannot start.
pub fn enable_tracing_compatibility() -> Result<TtlogHandle, CompatError> {
    enable_tracing_compatibility_with(ttlog_core::init())
}

/// [`enable_tracing_compatibility`] with a configured builder.
///
/// ```no_run
/// use ttlog_core::LogLevel;
///
/// let builder = ttlog_core::init().level(LogLevel::Debug).format(ttlog_core::Format::Json);
/// let _handle = ttlog_integrations::tracing_compat::enable_tracing_compatibility_with(builder)
///     .expect("no other tracing subscriber");
/// ```
///
/// # Errors
///
/// As [`enable_tracing_compatibility`].
pub fn enable_tracing_compatibility_with(builder: Builder) -> Result<TtlogHandle, CompatError> {
    if tracing_core::dispatcher::has_been_set() {
        return Err(already_set());
    }
    let handle = builder.try_init()?;
    let subscriber = tracing_subscriber::registry().with(TtlogTracingLayer::sole());
    // Another thread may have won the race since the check: then ttlog stops again (the
    // handle drops) and the error says why.
    tracing_core::dispatcher::set_global_default(Dispatch::new(subscriber))
        .map_err(|_| already_set())?;
    Ok(handle)
}

fn already_set() -> CompatError {
    CompatError::AlreadySet(
        "a global tracing subscriber is already set; add ttlog_integrations::tracing_compat::\
         TtlogTracingLayer to it instead"
            .to_owned(),
    )
}
