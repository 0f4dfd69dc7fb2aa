//! What an event is logged *in*: the thread's current span and context, and how their
//! lifetime is handed from the logging thread to the consumer.
//!
//! A thread's current scope is a pair of pointers (span, context) in its thread-local slot,
//! each owning one reference (`Arc::into_raw`). An event copies the pointers into its record
//! without touching the reference counts, which is what keeps events inside spans free of
//! atomic read-modify-writes and allocation. When the thread leaves a scope that events
//! borrowed, it does not drop its references: it writes them into its ring (a RELEASE
//! record) and the consumer drops them after dispatching every earlier record of that ring,
//! which includes every event that borrowed them. A scope no event borrowed is dropped on the
//! spot.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::context::ContextNode;
use crate::encode::Encoder;
use crate::producer;
use crate::span::SpanInner;

/// A span and a context pointer pair; either may be null. Whether it owns references depends
/// on where it is stored (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) span: *const SpanInner,
    pub(crate) ctx: *const ContextNode,
}

impl Scope {
    pub(crate) const EMPTY: Scope = Scope {
        span: std::ptr::null(),
        ctx: std::ptr::null(),
    };

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.span.is_null() && self.ctx.is_null()
    }

    /// Drops one reference of each non-null pointer.
    ///
    /// # Safety
    ///
    /// The caller must own one reference to each non-null pointer (obtained from
    /// `Arc::into_raw`) and must not use it afterwards.
    pub(crate) unsafe fn release(self) {
        if !self.span.is_null() {
            // SAFETY: the caller owns this reference and gives it up here.
            unsafe { Arc::decrement_strong_count(self.span) };
        }
        if !self.ctx.is_null() {
            // SAFETY: as above.
            unsafe { Arc::decrement_strong_count(self.ctx) };
        }
    }

    /// The span, borrowed.
    ///
    /// # Safety
    ///
    /// The span must stay alive for `'a` (the caller holds a reference, directly or through
    /// the release protocol of the module docs).
    pub(crate) unsafe fn span_ref<'a>(&self) -> Option<&'a SpanInner> {
        // SAFETY: the caller guarantees the pointer is null or alive for 'a.
        unsafe { self.span.as_ref() }
    }

    /// The context, borrowed.
    ///
    /// # Safety
    ///
    /// As for [`Scope::span_ref`].
    pub(crate) unsafe fn ctx_ref<'a>(&self) -> Option<&'a ContextNode> {
        // SAFETY: the caller guarantees the pointer is null or alive for 'a.
        unsafe { self.ctx.as_ref() }
    }
}

/// A new reference to the thread's current span, if it is in one.
pub(crate) fn current_span() -> Option<Arc<SpanInner>> {
    // SAFETY: the slot's pointers come from `Arc::into_raw` and the slot owns a reference to
    // each while they are current, which covers this call.
    unsafe { clone_raw(producer::current_scope().span) }
}

/// A new reference to the thread's current context, if it has one.
pub(crate) fn current_context() -> Option<Arc<ContextNode>> {
    // SAFETY: as in `current_span`.
    unsafe { clone_raw(producer::current_scope().ctx) }
}

/// A new `Arc` on the allocation behind `ptr` (`None` for null).
///
/// # Safety
///
/// A non-null `ptr` must come from `Arc::into_raw`, and its allocation must stay alive for the
/// duration of the call.
unsafe fn clone_raw<T>(ptr: *const T) -> Option<Arc<T>> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller; the reference added becomes the returned `Arc`.
    unsafe {
        Arc::increment_strong_count(ptr);
        Some(Arc::from_raw(ptr))
    }
}

/// The pointer of a scope that owns the reference `arc` (null for `None`).
pub(crate) fn into_raw<T>(arc: Option<Arc<T>>) -> *const T {
    arc.map_or(std::ptr::null(), Arc::into_raw)
}

/// Values encoded once and kept (span fields, context fields), without a per-value heap.
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnedValues {
    pub(crate) bytes: SmallVec<[u8; 64]>,
    pub(crate) count: u16,
}

/// Longest encoding kept for a span's or context's values; longer text is cut (and marked).
const OWNED_LIMIT: usize = 1024;

impl OwnedValues {
    /// Encodes with `encode` into a new buffer.
    pub(crate) fn encode(encode: impl FnOnce(&mut Encoder<'_>)) -> OwnedValues {
        let mut buf = [0u8; OWNED_LIMIT];
        // SAFETY: `buf` is a local array, valid for writes and used by nobody else.
        let mut enc = unsafe { Encoder::new(buf.as_mut_ptr(), buf.len(), true) };
        encode(&mut enc);
        let (len, count) = (enc.len(), enc.count());
        OwnedValues {
            bytes: SmallVec::from_slice(&buf[..len]),
            count,
        }
    }
}
