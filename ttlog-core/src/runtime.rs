//! Process-wide state shared by the producers and the consumer.
//!
//! The registry of thread rings, the overflow policy and the handle on the running consumer.
//! Producers read these only on cold paths (a thread's first event, a full ring); the hot path
//! touches nothing here.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::Duration;

use crate::ring::Ring;
use crate::thread::ThreadInfo;

/// Default size of each thread's ring, in bytes.
pub const DEFAULT_THREAD_BUFFER: usize = 256 * 1024;

/// Whether a full ring makes the producer wait (`Overflow::Block`) instead of dropping.
pub(crate) static OVERFLOW_BLOCK: AtomicBool = AtomicBool::new(false);
/// Size of rings created from now on.
pub(crate) static RING_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_THREAD_BUFFER);
/// The most a thread's ring may grow to during a burst (see `Builder::thread_buffer_max`).
pub(crate) static RING_MAX_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_THREAD_BUFFER_MAX);

/// Default bound of a thread's ring during a burst.
pub const DEFAULT_THREAD_BUFFER_MAX: usize = 64 << 20;
/// Events dropped because the thread's ring was already gone (logging from a thread-local
/// destructor after ttlog's own was run).
pub(crate) static ORPHAN_DROPS: AtomicU64 = AtomicU64::new(0);
/// The running consumer, or null. Each consumer's state is leaked on purpose (a few hundred
/// bytes per `init`), so producers can hold a `&'static` to it without reference counting.
static CONSUMER: AtomicPtr<ConsumerShared> = AtomicPtr::new(std::ptr::null_mut());

/// A producer's ring and its thread's identity.
#[derive(Debug)]
pub(crate) struct ThreadRing {
    pub(crate) ring: Ring,
    pub(crate) info: ThreadInfo,
}

pub(crate) struct RingRegistry {
    pub(crate) rings: Vec<Arc<ThreadRing>>,
    next_thread_id: u64,
}

static RINGS: Mutex<RingRegistry> = Mutex::new(RingRegistry {
    rings: Vec::new(),
    next_thread_id: 1,
});
/// Bumped whenever `RINGS` changes, so the consumer refreshes its copy only then.
pub(crate) static RINGS_VERSION: AtomicU64 = AtomicU64::new(0);

pub(crate) fn rings() -> MutexGuard<'static, RingRegistry> {
    RINGS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Creates and registers a ring for the calling thread.
pub(crate) fn register_current_thread() -> Arc<ThreadRing> {
    let current = std::thread::current();
    let mut registry = rings();
    let id = registry.next_thread_id;
    registry.next_thread_id += 1;
    let name = current
        .name()
        .map_or_else(|| format!("thread-{id}"), str::to_owned);
    let ring = Arc::new(ThreadRing {
        ring: Ring::new(RING_BYTES.load(Ordering::Relaxed)),
        info: ThreadInfo { id, name },
    });
    registry.rings.push(Arc::clone(&ring));
    RINGS_VERSION.fetch_add(1, Ordering::Release);
    ring
}

/// Registers a new ring of `capacity` bytes for a thread that already has one (`info`): the
/// producer writes there from now on, and closes the old one, which the consumer drains
/// first (its records are older) and then frees.
pub(crate) fn register_replacement(info: &ThreadInfo, capacity: usize) -> Arc<ThreadRing> {
    let ring = Arc::new(ThreadRing {
        ring: Ring::new(capacity),
        info: info.clone(),
    });
    rings().rings.push(Arc::clone(&ring));
    RINGS_VERSION.fetch_add(1, Ordering::Release);
    ring
}

/// Counters of rings already removed, so that totals never go down.
pub(crate) static RETIRED_LOGGED: AtomicU64 = AtomicU64::new(0);
pub(crate) static RETIRED_DROPPED: AtomicU64 = AtomicU64::new(0);

/// Removes rings whose thread exited and whose records were all consumed.
pub(crate) fn remove_rings(dead: &[Arc<ThreadRing>]) {
    if dead.is_empty() {
        return;
    }
    let mut registry = rings();
    for ring in dead {
        let p = ring.ring.producer_shared();
        RETIRED_LOGGED.fetch_add(p.logged.load(Ordering::Relaxed), Ordering::Relaxed);
        RETIRED_DROPPED.fetch_add(p.dropped.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    registry
        .rings
        .retain(|r| !dead.iter().any(|d| Arc::ptr_eq(d, r)));
    RINGS_VERSION.fetch_add(1, Ordering::Release);
}

/// One sink's counters, written by the consumer and read by `stats()`.
#[derive(Debug, Default)]
pub(crate) struct SinkCounters {
    pub(crate) name: String,
    /// Writes and flushes that failed (returned an error or panicked).
    pub(crate) errors: AtomicU64,
    /// Events not given to the sink while it backed off after a failure.
    pub(crate) skipped: AtomicU64,
    /// The sink panicked and gets nothing more.
    pub(crate) disabled: AtomicBool,
    /// The sink's own count of events it lost after accepting them (`Sink::drop_counter`).
    pub(crate) own_dropped: Option<Arc<AtomicU64>>,
}

/// The consumer's state, shared with producers, the handle and the consumer thread.
#[derive(Debug)]
pub(crate) struct ConsumerShared {
    /// The process the consumer thread runs in: after `fork`, a child has this state (copied)
    /// but not the thread.
    pub(crate) pid: u32,
    pub(crate) thread: Mutex<Option<Thread>>,
    pub(crate) sleeping: AtomicBool,
    pub(crate) alive: AtomicBool,
    pub(crate) shutdown: AtomicBool,
    pub(crate) flush_requested: AtomicU64,
    pub(crate) flush_done: Mutex<u64>,
    pub(crate) flush_cv: Condvar,
    pub(crate) delivered: AtomicU64,
    pub(crate) sink_errors: AtomicU64,
    /// Malformed records skipped by the consumer (see `Stats::bad_records`).
    pub(crate) bad_records: AtomicU64,
    /// The last flush timed out (a sink does not return): exit paths wait only briefly.
    pub(crate) stalled: AtomicBool,
    /// Each sink's counters, in the order of the sinks (set once the sinks are built).
    pub(crate) sinks: std::sync::OnceLock<Vec<Arc<SinkCounters>>>,
    /// New redaction rules for the consumer to take (`TtlogHandle::set_redactor`); `None`
    /// inside turns redaction off. Read by the consumer only when `redactor_changed` is set.
    pub(crate) redactor: Mutex<RedactorUpdate>,
    pub(crate) redactor_changed: AtomicBool,
}

/// Redaction rules waiting for the consumer: `Some(None)` turns redaction off.
pub(crate) struct RedactorUpdate(pub(crate) Option<Option<Arc<dyn crate::redactor::Redactor>>>);

impl std::fmt::Debug for RedactorUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "pending" } else { "none" })
    }
}

impl ConsumerShared {
    pub(crate) fn new() -> ConsumerShared {
        ConsumerShared {
            pid: std::process::id(),
            thread: Mutex::new(None),
            sleeping: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            shutdown: AtomicBool::new(false),
            flush_requested: AtomicU64::new(0),
            flush_done: Mutex::new(0),
            flush_cv: Condvar::new(),
            delivered: AtomicU64::new(0),
            sink_errors: AtomicU64::new(0),
            bad_records: AtomicU64::new(0),
            redactor: Mutex::new(RedactorUpdate(None)),
            redactor_changed: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            sinks: std::sync::OnceLock::new(),
        }
    }

    /// Wakes the consumer if it is sleeping.
    pub(crate) fn wake(&self) {
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::AcqRel) {
            self.unpark();
        }
    }

    pub(crate) fn unpark(&self) {
        if let Some(thread) = self
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            thread.unpark();
        }
    }
}

thread_local! {
    /// Set on the consumer thread for its whole life: code that could be reached from there
    /// (a sink that logs or panics, an error snapshot) must never wait for the consumer.
    static ON_CONSUMER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a consumer thread.
pub(crate) fn on_consumer_thread() -> bool {
    ON_CONSUMER.try_with(Cell::get).unwrap_or(false)
}

/// Marks the calling thread as a consumer thread, for its whole life.
pub(crate) fn mark_consumer_thread() {
    let _ = ON_CONSUMER.try_with(|c| c.set(true));
}

/// The running consumer, if any.
#[inline]
pub(crate) fn consumer() -> Option<&'static ConsumerShared> {
    let ptr = CONSUMER.load(Ordering::Acquire);
    // SAFETY: non-null pointers stored in CONSUMER come from `Box::leak` in `install_consumer`
    // and are never freed.
    unsafe { ptr.as_ref() }
}

/// Why no new consumer may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Occupied {
    /// A logger is installed and running.
    Running,
    /// The previous logger's handle was dropped but its consumer is still busy (two
    /// consumers must never share the rings).
    Retiring,
}

/// Waits up to `timeout` for a consumer that is shutting down (its handle was dropped) to
/// exit; `Ok` when no consumer is installed.
pub(crate) fn wait_for_retiring_consumer(timeout: std::time::Duration) -> Result<(), Occupied> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match consumer() {
            None => return Ok(()),
            Some(c) if !c.shutdown.load(Ordering::Acquire) => return Err(Occupied::Running),
            Some(_) if std::time::Instant::now() >= deadline => return Err(Occupied::Retiring),
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    }
}

impl ConsumerShared {
    /// How long to wait for the consumer at most, given `full`: a consumer known to be stuck in
    /// a sink (the last flush timed out) gets a moment (100 ms), not the full wait, so exit
    /// paths never hang on it.
    pub(crate) fn bounded_wait(&self, full: Duration) -> Duration {
        if self.stalled.load(Ordering::Relaxed) {
            full.min(Duration::from_millis(100))
        } else {
            full
        }
    }

    /// Whether the consumer thread runs in this process (not in the parent of a fork).
    pub(crate) fn in_this_process(&self) -> bool {
        self.pid == std::process::id()
    }
}

/// In a child process right after `fork` (only the forking thread exists; no allocation, no
/// lock): forgets the parent's consumer, whose thread is not here, so that events are
/// counted as dropped instead of waiting for it. `init` may install a new one.
pub(crate) fn forget_consumer_after_fork() {
    CONSUMER.store(std::ptr::null_mut(), Ordering::Release);
}

/// In a child process right after `fork`, holding the ring registry's lock (`registry`):
/// drops the parent's unconsumed records (the parent's consumer delivers them) and closes the
/// rings of threads that do not exist here, so that a consumer started in the child starts
/// clean. `own` is the forking thread's ring.
pub(crate) fn reset_rings_after_fork(registry: &RingRegistry, own: Option<&Arc<ThreadRing>>) {
    for ring in &registry.rings {
        ring.ring.release(ring.ring.load_head());
        if !own.is_some_and(|own| Arc::ptr_eq(own, ring)) {
            ring.ring
                .producer_shared()
                .closed
                .store(true, Ordering::Release);
        }
    }
}

/// Makes `shared` the running consumer. Returns `false` if another one is installed.
pub(crate) fn install_consumer(shared: &'static ConsumerShared) -> bool {
    CONSUMER
        .compare_exchange(
            std::ptr::null_mut(),
            shared as *const ConsumerShared as *mut ConsumerShared,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok()
}

/// Forgets the running consumer (after it stopped).
pub(crate) fn uninstall_consumer(shared: &'static ConsumerShared) {
    let _ = CONSUMER.compare_exchange(
        shared as *const ConsumerShared as *mut ConsumerShared,
        std::ptr::null_mut(),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
}
