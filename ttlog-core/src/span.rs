//! Spans: named, timed scopes with fields, nested into traces.
//!
//! A [`Span`] is a handle on shared span data (one allocation when the span is created).
//! Entering it makes it the thread's current span (see `scope.rs`), so every event logged
//! there carries it: the consumer writes the span, its ancestors, and the trace and span
//! ids. When the last handle goes, the span closes: an event `"<name> closed"` with the
//! field `duration_ns` is logged at the span's level, with the span as its scope.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use smallvec::SmallVec;

use crate::callsite::{Callsite, Metadata, level_enabled};
use crate::clock;
use crate::encode::Encoder;
use crate::level::STATIC_MAX_LEVEL;
use crate::producer::{self, SavedScope, What};
use crate::scope::{self, OwnedValues, Scope};
use crate::trace::{SpanId, TraceId, TraceParent};
use crate::value::{FieldsRef, Value, ValueRef, decode_value};

/// The shared state of a span.
pub(crate) struct SpanInner {
    callsite: &'static Callsite,
    close: &'static Callsite,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    /// The span of a remote caller this span continues (from a `traceparent`).
    pub(crate) remote_parent: Option<SpanId>,
    pub(crate) parent: Option<Arc<SpanInner>>,
    /// Raw clock ticks at creation.
    start: u64,
    /// Handles ([`Span`]s and open children); the span closes when the last one goes.
    handles: AtomicUsize,
    /// The values given at creation, in the order of the metadata's field names.
    values: OwnedValues,
    has_recorded: AtomicBool,
    /// Values given later with [`Span::record`]: (name, value) pairs as in a fields group.
    recorded: Mutex<OwnedValues>,
}

impl fmt::Debug for SpanInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("name", &self.metadata().template())
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .finish()
    }
}

impl SpanInner {
    pub(crate) fn metadata(&self) -> &'static Metadata<'static> {
        self.callsite.metadata()
    }

    pub(crate) fn callsite(&self) -> &'static Callsite {
        self.callsite
    }

    /// The values given at creation.
    pub(crate) fn values(&self) -> (&[u8], u16) {
        (&self.values.bytes, self.values.count)
    }

    /// Applies values recorded later (consumer thread): each pair of `group` replaces the
    /// pair of the same name, or is added.
    pub(crate) fn apply_recorded(&self, group: FieldsRef<'_>) {
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        let mut merged: SmallVec<[u8; 64]> = SmallVec::new();
        let mut count = 0u16;
        let mut old = FieldsRef::new(&recorded.bytes, recorded.count, false).iter();
        while let Some((old_name, _, raw)) = old.next_raw() {
            if !group.iter().any(|(name, _)| name == old_name) {
                merged.extend_from_slice(raw);
                count += 1;
            }
        }
        merged.extend_from_slice(group.body());
        recorded.bytes = merged;
        recorded.count = count + group.len() as u16;
        self.has_recorded.store(true, Ordering::Release);
    }

    /// Appends the recorded (name, value) pairs to `out`; returns how many.
    pub(crate) fn copy_recorded(&self, out: &mut Vec<u8>) -> u16 {
        if !self.has_recorded.load(Ordering::Acquire) {
            return 0;
        }
        let recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        out.extend_from_slice(&recorded.bytes);
        recorded.count
    }

    fn add_handle(&self) {
        self.handles.fetch_add(1, Ordering::Relaxed);
    }

    /// Gives up one handle; the last one closes the span, which gives up its handle on the
    /// parent, and so on up the chain (a loop: chains may be arbitrarily deep).
    fn drop_handle(self: &Arc<SpanInner>) {
        let mut span = self;
        loop {
            if span.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
                return;
            }
            span.log_close();
            match &span.parent {
                Some(parent) => span = parent,
                None => return,
            }
        }
    }

    /// Logs the close event: `"<name> closed"` with `duration_ns`, inside the span.
    fn log_close(self: &Arc<SpanInner>) {
        let cs = self.close;
        let level = cs.metadata().level();
        if STATIC_MAX_LEVEL.enables(level)
            && level_enabled(level)
            && cs.is_enabled()
            && crate::callsite::span_events_enabled()
        {
            let duration = clock::nanos_between(self.start, clock::raw_now());
            // The close record takes these references.
            let scope = Scope {
                span: Arc::into_raw(Arc::clone(self)),
                ctx: scope::into_raw(scope::current_context()),
            };
            producer::emit_owned(What::Event(cs), scope, |enc| enc.u64(duration));
        }
    }
}

impl Drop for SpanInner {
    /// Frees the ancestors this span was the last reference to in a loop, not by recursion:
    /// a chain of a million nested spans must not overflow the stack.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(next) = parent {
            parent = match Arc::try_unwrap(next) {
                Ok(mut inner) => inner.parent.take(),
                Err(_) => None,
            };
        }
    }
}

/// A span: a named, timed scope whose fields and ids every event inside it carries.
///
/// Create one with [`span!`](../ttlog/macro.span.html) or `info_span!` and friends (or
/// `#[instrument]`); enter it with [`enter`](Span::enter) (a guard),
/// [`in_scope`](Span::in_scope) (a closure) or, for futures,
/// [`Instrument::in_span`](crate::Instrument::in_span). A span created while another is
/// current becomes its child and shares its trace id; a span with no parent starts a new
/// trace. Cloning a `Span` gives another handle on the same span; the span closes, logging
/// `"<name> closed"` with `duration_ns`, when the last handle and the last child are gone.
///
/// A span whose level is disabled is a no-op handle ([`Span::none`]): entering it does
/// nothing, and events inside are logged without it.
pub struct Span {
    inner: Option<Arc<SpanInner>>,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(inner) => inner.fmt(f),
            None => f.write_str("Span(none)"),
        }
    }
}

impl Span {
    /// Creates a span from its callsites; `encode` writes the values of the metadata's fields.
    /// Called by the macros once the span's level is known to be enabled.
    #[doc(hidden)]
    pub fn new(
        callsite: &'static Callsite,
        close: &'static Callsite,
        encode: impl FnOnce(&mut Encoder<'_>),
    ) -> Span {
        Span::build(scope::current_span(), callsite, close, encode)
    }

    /// Creates a span whose parent is `parent` rather than the thread's current span: a root
    /// span when `parent` is `None` or a disabled span. What `span!(parent: …, …)` and the
    /// `tracing` adapter call.
    #[doc(hidden)]
    pub fn new_with_parent(
        parent: Option<&Span>,
        callsite: &'static Callsite,
        close: &'static Callsite,
        encode: impl FnOnce(&mut Encoder<'_>),
    ) -> Span {
        let parent = parent.and_then(|p| p.inner.clone());
        Span::build(parent, callsite, close, encode)
    }

    fn build(
        parent: Option<Arc<SpanInner>>,
        callsite: &'static Callsite,
        close: &'static Callsite,
        encode: impl FnOnce(&mut Encoder<'_>),
    ) -> Span {
        if let Some(parent) = &parent {
            parent.add_handle();
        }
        let trace_id = parent.as_ref().map_or_else(TraceId::random, |p| p.trace_id);
        Span {
            inner: Some(Arc::new(SpanInner {
                callsite,
                close,
                trace_id,
                span_id: SpanId::random(),
                remote_parent: None,
                parent,
                start: clock::raw_now(),
                handles: AtomicUsize::new(1),
                values: OwnedValues::encode(encode),
                has_recorded: AtomicBool::new(false),
                recorded: Mutex::new(OwnedValues::default()),
            })),
        }
    }

    /// A disabled span: entering it does nothing.
    ///
    /// ```
    /// let span = ttlog_core::Span::none();
    /// assert!(span.is_disabled());
    /// span.in_scope(|| { /* logged without a span */ });
    /// ```
    pub const fn none() -> Span {
        Span { inner: None }
    }

    /// A new handle on the thread's current span ([`Span::none`] outside any span). Useful
    /// to hand the span to a thread or a task spawned from here.
    ///
    /// ```
    /// assert!(ttlog_core::Span::current().is_disabled());
    /// ```
    pub fn current() -> Span {
        let inner = scope::current_span();
        if let Some(inner) = &inner {
            inner.add_handle();
        }
        Span { inner }
    }

    /// Whether this is a disabled (no-op) span.
    pub fn is_disabled(&self) -> bool {
        self.inner.is_none()
    }

    /// The span's name (`None` when disabled).
    pub fn name(&self) -> Option<&'static str> {
        self.inner.as_ref().map(|i| i.metadata().template())
    }

    /// The span's metadata (`None` when disabled).
    pub fn metadata(&self) -> Option<&'static Metadata<'static>> {
        self.inner.as_ref().map(|i| i.metadata())
    }

    /// The span's id (`None` when disabled).
    pub fn id(&self) -> Option<SpanId> {
        self.inner.as_ref().map(|i| i.span_id)
    }

    /// The id of the trace the span belongs to (`None` when disabled).
    pub fn trace_id(&self) -> Option<TraceId> {
        self.inner.as_ref().map(|i| i.trace_id)
    }

    /// The `traceparent` header that makes a remote service's spans children of this one.
    pub fn traceparent(&self) -> Option<TraceParent> {
        self.inner
            .as_ref()
            .map(|i| TraceParent::new(i.trace_id, i.span_id))
    }

    /// Makes this span continue a remote trace: it takes the trace id of `parent` and
    /// records the remote span as its parent, instead of belonging to a local parent.
    ///
    /// Call it on a span just created, before entering it or creating children: afterwards
    /// the span is shared and is returned unchanged.
    ///
    /// ```
    /// use ttlog_core::TraceParent;
    ///
    /// # let _h = ttlog_core::init().console(false).init();
    /// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    /// let span = match header.parse::<TraceParent>() {
    ///     Ok(parent) => ttlog_core::Span::none().continue_from(&parent),
    ///     Err(err) => {
    ///         eprintln!("ignoring bad traceparent: {err}");
    ///         ttlog_core::Span::none()
    ///     }
    /// };
    /// # drop(span);
    /// ```
    pub fn continue_from(mut self, parent: &TraceParent) -> Span {
        if let Some(inner) = self.inner.as_mut().and_then(Arc::get_mut) {
            inner.trace_id = parent.trace_id;
            inner.remote_parent = Some(parent.parent_id);
            if let Some(local) = inner.parent.take() {
                local.drop_handle();
            }
        }
        self
    }

    /// Sets the field `name` to `value` (or adds it): every later event inside the span,
    /// and its close event, shows the new value.
    ///
    /// ```
    /// # let _h = ttlog_core::init().console(false).init();
    /// let span = ttlog_core::Span::none();
    /// span.record("status", 200_u16).record("cache", "hit");
    /// ```
    pub fn record<V: Value>(&self, name: &str, value: V) -> &Span {
        if let Some(inner) = &self.inner {
            // The consumer applies the value in order with the events, so events logged
            // before this call keep showing the old value.
            let scope = Scope {
                span: Arc::into_raw(Arc::clone(inner)),
                ctx: std::ptr::null(),
            };
            producer::emit_owned(What::SpanRecord, scope, |enc| {
                enc.fields(false, |out| out.field(name, &value));
            });
        }
        self
    }

    /// Says that this span was caused by `cause` without being its child (a batch job started
    /// by a request that has returned): the span gets the field `follows_from` with the
    /// cause's span id, as `tracing`'s `Span::follows_from` links them. A later call replaces
    /// the link; a disabled span on either side is ignored.
    ///
    /// ```
    /// # let _h = ttlog_core::init().console(false).init();
    /// let request = ttlog_core::Span::none();
    /// let batch = ttlog_core::Span::none();
    /// batch.follows_from(&request);
    /// ```
    pub fn follows_from(&self, cause: &Span) -> &Span {
        if let (Some(_), Some(id)) = (&self.inner, cause.id()) {
            self.record("follows_from", crate::value::display(&id));
        }
        self
    }

    /// Enters the span until the returned guard is dropped. The guard is tied to this thread
    /// (it is not `Send`); across `.await`, use [`Instrument::in_span`](crate::Instrument).
    ///
    /// ```
    /// # let _h = ttlog_core::init().console(false).init();
    /// let span = ttlog_core::Span::none();
    /// {
    ///     let _guard = span.enter();
    ///     // events here carry the span
    /// }
    /// ```
    pub fn enter(&self) -> Entered<'_> {
        Entered {
            saved: self.enter_inner(),
            _span: PhantomData,
        }
    }

    /// Enters the span and returns a guard that owns it: the span stays entered, and open,
    /// until the guard is dropped.
    pub fn entered(self) -> EnteredSpan {
        let saved = self.enter_inner();
        EnteredSpan {
            span: self,
            saved,
            _not_send: PhantomData,
        }
    }

    /// Runs `f` inside the span (left again even if `f` panics).
    ///
    /// ```
    /// let total = ttlog_core::Span::none().in_scope(|| 40 + 2);
    /// assert_eq!(total, 42);
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }

    fn enter_inner(&self) -> Option<SavedScope> {
        let inner = self.inner.as_ref()?;
        Some(producer::enter_scope(Scope {
            span: Arc::into_raw(Arc::clone(inner)),
            ctx: scope::into_raw(scope::current_context()),
        }))
    }

    pub(crate) fn inner(&self) -> Option<&Arc<SpanInner>> {
        self.inner.as_ref()
    }
}

impl Clone for Span {
    fn clone(&self) -> Span {
        if let Some(inner) = &self.inner {
            inner.add_handle();
        }
        Span {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            inner.drop_handle();
        }
    }
}

/// A guard that keeps a span entered on this thread; see [`Span::enter`].
#[must_use = "the span is left as soon as the guard is dropped"]
#[derive(Debug)]
pub struct Entered<'a> {
    saved: Option<SavedScope>,
    /// Borrows the span and is not `Send`: the guard must be dropped on the thread that
    /// entered.
    _span: PhantomData<(&'a Span, *const ())>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            producer::leave_scope(saved);
        }
    }
}

/// A guard that owns a span and keeps it entered on this thread; see [`Span::entered`].
#[must_use = "the span is left (and closed) as soon as the guard is dropped"]
#[derive(Debug)]
pub struct EnteredSpan {
    span: Span,
    saved: Option<SavedScope>,
    _not_send: PhantomData<*const ()>,
}

impl EnteredSpan {
    /// Leaves the span and returns it, still open.
    pub fn exit(mut self) -> Span {
        if let Some(saved) = self.saved.take() {
            producer::leave_scope(saved);
        }
        std::mem::replace(&mut self.span, Span::none())
    }

    /// The span.
    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl Drop for EnteredSpan {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            producer::leave_scope(saved);
        }
    }
}

/// What `parent:` accepts in the event and span macros: a span (`&span`), or an
/// `Option<&Span>` (`None` makes a root).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`parent:` takes a `&Span` or `None`, not `{Self}`",
    label = "not a span",
    note = "`tracing`'s `parent: span.id()` has no ttlog equivalent: write `parent: &span`"
)]
pub trait AsParent {
    /// The parent span, if any.
    fn __as_parent(&self) -> Option<&Span>;
}

impl AsParent for Span {
    fn __as_parent(&self) -> Option<&Span> {
        Some(self)
    }
}

impl AsParent for &Span {
    fn __as_parent(&self) -> Option<&Span> {
        Some(self)
    }
}

impl AsParent for Option<&Span> {
    fn __as_parent(&self) -> Option<&Span> {
        *self
    }
}

/// Records an event from `cs` inside `parent` rather than the thread's current span (at the
/// root when `parent` is `None` or disabled), with the thread's current context. What
/// `info!(parent: &span, …)` and the `tracing` adapter call; costs two reference-count
/// updates more than an event in the current span.
#[doc(hidden)]
pub fn emit_with_parent(
    cs: &'static Callsite,
    parent: Option<&Span>,
    encode: impl FnOnce(&mut Encoder<'_>),
) {
    let span = parent.and_then(|p| p.inner.clone());
    // The record hands the consumer these references (see `producer::emit_owned`).
    let scope = Scope {
        span: scope::into_raw(span),
        ctx: scope::into_raw(scope::current_context()),
    };
    producer::emit_owned(What::Event(cs), scope, encode);
}

/// The `traceparent` of the thread's current span, to send with outgoing requests; `None`
/// outside any (enabled) span.
///
/// ```
/// assert!(ttlog_core::current_traceparent().is_none());
/// ```
pub fn current_traceparent() -> Option<TraceParent> {
    let current = producer::current_scope();
    // SAFETY: the current span is alive while the thread is in it (this call).
    unsafe { current.span_ref() }.map(|s| TraceParent::new(s.trace_id, s.span_id))
}

/// A span of a sink's event: its metadata, ids and fields, borrowed for the event's
/// duration. Listed root first by [`Event::spans`](crate::Event::spans).
#[derive(Clone, Copy)]
pub struct SpanRef<'a> {
    pub(crate) meta: &'a Metadata<'a>,
    pub(crate) span_id: SpanId,
    /// The parent in another process ([`Span::continue_from`]), for a root span.
    pub(crate) remote_parent: Option<SpanId>,
    pub(crate) values: &'a [u8],
    pub(crate) nvalues: u16,
    pub(crate) recorded: &'a [u8],
    pub(crate) nrecorded: u16,
}

impl<'a> SpanRef<'a> {
    /// The span's name.
    pub fn name(&self) -> &'a str {
        self.meta.template()
    }

    /// The span's callsite metadata (level, target, file, line, field names).
    pub fn metadata(&self) -> &'a Metadata<'a> {
        self.meta
    }

    /// The span's id.
    pub fn id(&self) -> SpanId {
        self.span_id
    }

    /// The span's parent in another process, for a span continued from a `traceparent`
    /// ([`Span::continue_from`]); `None` otherwise (a local parent is the span before this
    /// one in [`Event::spans`](crate::Event::spans)).
    pub fn remote_parent(&self) -> Option<SpanId> {
        self.remote_parent
    }

    /// The span's fields: those given at creation, with values set later by
    /// [`Span::record`] replacing them or added after them.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, ValueRef<'a>)> + 'a {
        let recorded = FieldsRef::new(self.recorded, self.nrecorded, false);
        let names = self.meta.field_names().iter().copied();
        let mut rest = self.values;
        let created = names
            .take(self.nvalues as usize)
            .map_while(move |name| {
                let (value, used) = decode_value(rest)?;
                rest = &rest[used..];
                Some((name, value))
            })
            .flat_map(Spread::new)
            .filter(move |(name, _)| !recorded.iter().any(|(n, _)| n == *name));
        created.chain(recorded.iter())
    }
}

/// One value of a span, or, for a flat group (a `Fields` struct given by its variable alone,
/// `field::Empty`, the fields from an adapter), each of its members.
enum Spread<'a> {
    One(Option<(&'a str, ValueRef<'a>)>),
    Group(crate::value::FieldsIter<'a>),
}

impl<'a> Spread<'a> {
    fn new((name, value): (&'a str, ValueRef<'a>)) -> Spread<'a> {
        match value {
            ValueRef::Fields(group) if group.is_flat() => Spread::Group(group.iter()),
            value => Spread::One(Some((name, value))),
        }
    }
}

impl<'a> Iterator for Spread<'a> {
    type Item = (&'a str, ValueRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Spread::One(one) => one.take(),
            Spread::Group(group) => group.next(),
        }
    }
}

impl fmt::Debug for SpanRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        map.entry(&"name", &self.name());
        for (name, value) in self.fields() {
            map.entry(&name, &value);
        }
        map.finish()
    }
}

/// A guard that logs how long it lived when dropped: what `timer!("name")` returns.
///
/// The event's message is the timer's name and its field `elapsed_ns` (an integer) the time
/// since the timer started. It is logged only if its level is enabled when the timer drops.
#[must_use = "the timer logs when it is dropped; bind it: `let _timer = timer!(..)`"]
#[derive(Debug)]
pub struct Timer {
    callsite: &'static Callsite,
    start: u64,
}

impl Timer {
    /// Starts a timer that logs through `callsite` (built by `timer!`).
    #[doc(hidden)]
    pub fn start(callsite: &'static Callsite) -> Timer {
        Timer {
            callsite,
            start: clock::raw_now(),
        }
    }

    /// The time since the timer started.
    pub fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(clock::nanos_between(self.start, clock::raw_now()))
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let cs = self.callsite;
        let level = cs.metadata().level();
        if STATIC_MAX_LEVEL.enables(level) && level_enabled(level) && cs.is_enabled() {
            let elapsed = clock::nanos_between(self.start, clock::raw_now());
            producer::emit(cs, |enc| enc.u64(elapsed));
        }
    }
}
