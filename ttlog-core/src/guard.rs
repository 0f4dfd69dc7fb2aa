//! Marking ttlog's own calls into user code (a value's `Display`, a sink) for the panic hook.
//!
//! A leaf module: the encoder, the consumer and the panic hook all use it, and it uses nothing
//! of the crate.

use std::cell::Cell;

thread_local! {
    /// Set while ttlog runs user code under `catch_unwind` (a value's `Display`, a sink):
    /// panics there are handled by ttlog and are not the program's.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (which catches its own panics) marked as ttlog-guarded for the panic hook.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = GUARDED.try_with(|g| g.set(self.0));
        }
    }
    let before = GUARDED.try_with(|g| g.replace(true)).unwrap_or(false);
    let _reset = Reset(before);
    f()
}

/// Whether the calling thread is inside [`guarded`] code, whose panics ttlog catches itself
/// (assumed when the thread's thread-locals are already gone: better no snapshot than a hang).
pub(crate) fn is_guarded() -> bool {
    GUARDED.try_with(Cell::get).unwrap_or(true)
}
