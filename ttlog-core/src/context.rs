//! Context fields (`with_context`) and carrying span and context into futures.
//!
//! A context is an immutable set of (name, value) pairs. Entering `with_context(k, v, ..)`
//! makes a new set, the current one plus `k` (replacing an outer `k`: inner wins), so an
//! event points at one set and the consumer never merges anything.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::encode::Encoder;
use crate::producer::{self, SavedScope};
use crate::scope::{self, OwnedValues, Scope};
use crate::span::Span;
use crate::value::{FieldsRef, Value, ValueRef, decode_value};

/// One set of context fields, encoded as a fields group body.
pub(crate) struct ContextNode {
    /// One encoded fields group.
    group: OwnedValues,
}

impl fmt::Debug for ContextNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fields().fmt(f)
    }
}

impl ContextNode {
    /// The fields, in the order they were added (outermost first).
    pub(crate) fn fields(&self) -> FieldsRef<'_> {
        match decode_value(&self.group.bytes) {
            Some((ValueRef::Fields(group), _)) => group,
            _ => FieldsRef::new(&[], 0, false),
        }
    }

    /// The thread's current context plus `name = value`.
    fn current_plus(name: &str, value: &dyn Fn(&mut Encoder<'_>)) -> Arc<ContextNode> {
        let current = producer::current_scope();
        // SAFETY: the current context is alive while the thread is in it (this call).
        let outer = unsafe { current.ctx_ref() };
        let group = OwnedValues::encode(|enc| {
            enc.fields(false, |out| {
                if let Some(outer) = outer {
                    let mut pairs = outer.fields().iter();
                    while let Some((outer_name, _, raw)) = pairs.next_raw() {
                        if outer_name != name {
                            out.raw_pair(raw);
                        }
                    }
                }
                out.field_with(name, value);
            })
        });
        Arc::new(ContextNode { group })
    }

    fn enter(self: &Arc<ContextNode>) -> SavedScope {
        producer::enter_scope(Scope {
            span: scope::into_raw(scope::current_span()),
            ctx: Arc::into_raw(Arc::clone(self)),
        })
    }
}

/// Leaves a scope when dropped, also during a panic.
struct ScopeGuard(Option<SavedScope>);

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        if let Some(saved) = self.0.take() {
            producer::leave_scope(saved);
        }
    }
}

/// Runs `f` with the field `name = value` added to every event logged inside it, on this
/// thread. Scopes nest: inner fields are added to outer ones, and an inner field with the
/// same name wins. The field is gone again when `f` returns or panics.
///
/// Sinks write context fields under `"context"`. For async code, use
/// [`Instrument::with_context`] on the future: a closure returning a future would only
/// cover the creation of the future, not its polls.
///
/// ```
/// let _h = ttlog_core::init().console(false).init();
/// let request_id = 7_u64;
/// let status = ttlog_core::with_context("request_id", request_id, || {
///     ttlog_core::with_context("tenant", "acme", || {
///         // events here carry {"request_id":7,"tenant":"acme"}
///         200
///     })
/// });
/// assert_eq!(status, 200);
/// ```
pub fn with_context<K, V, F, R>(name: K, value: V, f: F) -> R
where
    K: AsRef<str>,
    V: Value,
    F: FnOnce() -> R,
{
    let node = ContextNode::current_plus(name.as_ref(), &|enc| value.encode(enc));
    let _guard = ScopeGuard(Some(node.enter()));
    f()
}

/// Carries a span and context fields into a future, across `.await` points and executor
/// threads: every poll runs inside them.
///
/// ```
/// use ttlog_core::{Instrument, Span};
///
/// async fn charge(order_id: u64) -> bool { order_id > 0 }
///
/// # let _h = ttlog_core::init().console(false).init();
/// let fut = charge(42)
///     .with_context("order_id", 42_u64)
///     .in_span(Span::current());
/// // hand `fut` to any executor; tokio::spawn(fut) works from any thread
/// # drop(fut);
/// ```
pub trait Instrument: Future + Sized {
    /// Polls the future inside `span` (which stays open until the future is dropped).
    fn in_span(self, span: Span) -> Instrumented<Self> {
        Instrumented::new(self, Some(span), None)
    }

    /// Same as [`in_span`](Instrument::in_span), under the name `tracing` users know.
    fn instrument(self, span: Span) -> Instrumented<Self> {
        self.in_span(span)
    }

    /// Polls the future with `name = value` added to the context current here, now.
    fn with_context<V: Value>(self, name: &str, value: V) -> Instrumented<Self> {
        let ctx = ContextNode::current_plus(name, &|enc| value.encode(enc));
        Instrumented::new(self, None, Some(ctx))
    }

    /// Polls the future in the span and context current here, now: for `spawn`ed tasks.
    fn in_current_scope(self) -> Instrumented<Self> {
        Instrumented::new(self, Some(Span::current()), scope::current_context())
    }
}

impl<F: Future> Instrument for F {}

pin_project_lite::pin_project! {
    /// A future polled (and dropped) inside a span and/or context; see [`Instrument`].
    pub struct Instrumented<F> {
        // Dropped by hand in `drop`, inside the scope, so that what the future's own drop
        // logs carries the span too.
        #[pin]
        inner: ManuallyDrop<F>,
        span: Option<Span>,
        ctx: Option<Arc<ContextNode>>,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let _guard = enter(this.span, this.ctx);
            // SAFETY: `inner` is dropped in place exactly once, here, and never used again;
            // dropping pinned data in place keeps the pinning guarantee.
            unsafe { ManuallyDrop::drop(this.inner.get_unchecked_mut()) };
        }
    }
}

impl<F> fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented")
            .field("span", &self.span)
            .field("context", &self.ctx)
            .finish()
    }
}

impl<F> Instrumented<F> {
    fn new(inner: F, span: Option<Span>, ctx: Option<Arc<ContextNode>>) -> Instrumented<F> {
        Instrumented {
            inner: ManuallyDrop::new(inner),
            span,
            ctx,
        }
    }

    /// The span the future is polled in, if it was given one.
    pub fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }
}

/// Enters the given span and context; where one is `None`, the thread's current one stays.
fn enter(span: &Option<Span>, ctx: &Option<Arc<ContextNode>>) -> ScopeGuard {
    let span = match span.as_ref().and_then(|s| s.inner()) {
        Some(inner) => Some(Arc::clone(inner)),
        None => scope::current_span(),
    };
    let ctx = match ctx {
        Some(node) => Some(Arc::clone(node)),
        None => scope::current_context(),
    };
    ScopeGuard(Some(producer::enter_scope(Scope {
        span: scope::into_raw(span),
        ctx: scope::into_raw(ctx),
    })))
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = enter(this.span, this.ctx);
        // SAFETY: `ManuallyDrop<F>` is pinned with `Self`, so the `F` inside it is never moved
        // either; this only reaches through the wrapper.
        let inner = unsafe { this.inner.map_unchecked_mut(|inner| &mut **inner) };
        inner.poll(cx)
    }
}
