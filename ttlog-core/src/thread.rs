//! A logging thread's identity, as events carry it. A leaf module.

/// A thread's identity, as sinks print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    pub(crate) id: u64,
    pub(crate) name: String,
}

impl ThreadInfo {
    /// A small number unique to the thread for the life of the process (1 is the first
    /// thread that logged).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The thread's name, or `thread-<id>` for unnamed threads.
    pub fn name(&self) -> &str {
        &self.name
    }
}

std::thread_local! {
    /// Whether this thread is one of ttlog's own (the consumer, the snapshot writer, the
    /// signal thread, a sink's worker).
    static INTERNAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the calling thread as one of ttlog's own: the consumer, the snapshot and signal
/// threads, and the worker threads of sinks mark themselves.
///
/// The adapters of `ttlog-integrations` do not feed events logged on such a thread back into
/// the pipeline (a sink whose HTTP client logs through `log` for every batch would otherwise
/// feed itself forever); they count them instead. A sink that starts a thread of its own
/// should call this first thing on it.
///
/// ```
/// std::thread::spawn(|| {
///     ttlog_core::mark_internal_thread();
///     assert!(ttlog_core::is_internal_thread());
/// })
/// .join()
/// .unwrap();
/// assert!(!ttlog_core::is_internal_thread());
/// ```
pub fn mark_internal_thread() {
    let _ = INTERNAL.try_with(|internal| internal.set(true));
}

/// Whether the calling thread is one of ttlog's own (see [`mark_internal_thread`]). A thread
/// whose thread-locals are gone counts as internal: nothing it logs can be delivered safely.
#[inline]
pub fn is_internal_thread() -> bool {
    INTERNAL.try_with(|internal| internal.get()).unwrap_or(true)
}
