//! `fork`: the child of a process that logs gets a consistent, idle logger.
//!
//! Only the forking thread exists in the child, so the parent's consumer, signal thread and
//! any lock another thread held are gone with their threads. Handlers registered with
//! `pthread_atfork` (once per process, at `init`) make this safe:
//!
//! - before the fork, the forking thread takes the callsite registry's and the ring
//!   registry's locks, so that the child never inherits them held by a thread it does not
//!   have; both are released after the fork, in the parent and in the child;
//! - in the child, the parent's consumer is forgotten: events are counted as dropped (never
//!   lost silently, never waited for, in Block mode too) until the child calls `init` for a
//!   logger of its own; the parent's unconsumed records are discarded (the parent's consumer
//!   delivers them); the child stops writing into the parent's signal pipe, and SIGTERM and
//!   SIGINT get their default action back where ttlog had installed its own; and the random
//!   ids are reseeded, so that the child's trace and span ids differ from the parent's.

use std::cell::RefCell;
use std::sync::{MutexGuard, Once};

use crate::callsite::{self, Registry};
use crate::runtime::{self, RingRegistry};

thread_local! {
    /// The registry locks the forking thread holds across `fork`.
    static HELD: RefCell<Option<(MutexGuard<'static, Registry>, MutexGuard<'static, RingRegistry>)>> =
        const { RefCell::new(None) };
}

/// Registers the fork handlers, once per process.
pub(crate) fn install_fork_handlers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        #[cfg(unix)]
        // SAFETY: the three handlers are `extern "C" fn()` that do not unwind (they catch
        // nothing that could panic: lock, store, release).
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(in_parent), Some(in_child));
        }
    });
}

#[cfg_attr(not(unix), allow(dead_code))]
extern "C" fn prepare() {
    // Always the callsite registry first, as everywhere else that takes both.
    let held = (callsite::registry(), runtime::rings());
    let _ = HELD.try_with(|h| *h.borrow_mut() = Some(held));
}

#[cfg_attr(not(unix), allow(dead_code))]
extern "C" fn in_parent() {
    let _ = HELD.try_with(|h| h.borrow_mut().take());
}

#[cfg_attr(not(unix), allow(dead_code))]
extern "C" fn in_child() {
    let own = crate::producer::orphan_after_fork();
    let _ = HELD.try_with(|h| {
        if let Some((registry, rings)) = h.borrow_mut().take() {
            runtime::reset_rings_after_fork(&rings, own.as_ref());
            drop(rings);
            drop(registry);
        }
    });
    runtime::forget_consumer_after_fork();
    #[cfg(unix)]
    crate::trigger::after_fork_in_child();
    // Fresh ids: the RNG state was copied from the parent.
    let seed = u64::from(std::process::id()) ^ crate::clock::raw_now().rotate_left(17);
    fastrand::seed(seed);
}
