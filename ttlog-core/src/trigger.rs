//! What freezes the flight recorder into a snapshot: a call, a panic, an error event, a
//! signal; and flushing on `SIGTERM`/`SIGINT`.
//!
//! Every path here waits a bounded time. The panic hook runs on the panicking thread, which
//! may be the consumer itself, so it never waits for the consumer from there; a panic inside
//! ttlog's own guarded code (a value's `Display`, a sink) does not trigger a snapshot.

use std::io::Write as _;
use std::panic::{self, PanicHookInfo};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, TryLockError};
use std::time::{Duration, Instant, SystemTime};

use crate::callsite::{Callsite, level_enabled};
use crate::event::PANIC_METADATA;
use crate::level::LogLevel;
use crate::recorder::{self, ErrorSnapshots, History};
use crate::runtime::{self, ConsumerShared};
use crate::snapshot::{self, SnapshotConfig, SnapshotError};

/// The recorder and its snapshot settings: the history (shared with the consumer's
/// `RecorderSink`), where snapshot files go, and the triggers' rate limits.
#[derive(Debug)]
pub(crate) struct RecorderShared {
    pub(crate) history: Arc<Mutex<History>>,
    pub(crate) config: SnapshotConfig,
    /// Minimum time between two snapshots triggered by error events; `None`: no such trigger.
    pub(crate) on_error: Option<Duration>,
    /// When the last error-triggered snapshot was taken (ms since the epoch).
    pub(crate) last_error_snapshot: AtomicU64,
    /// When the last panic snapshot was taken (ms since the epoch).
    pub(crate) last_panic_snapshot: AtomicU64,
}

impl RecorderShared {
    /// Locks the history.
    pub(crate) fn history(&self) -> MutexGuard<'_, History> {
        recorder::lock(&self.history)
    }

    /// Whether an error event may trigger a snapshot now (and if so, claims the slot).
    pub(crate) fn claim_error_snapshot(&self) -> bool {
        let Some(every) = self.on_error else {
            return false;
        };
        claim(&self.last_error_snapshot, every)
    }
}

/// The running logger's consumer and recorder, for the panic hook and the signal thread.
type Active = (&'static ConsumerShared, Arc<RecorderShared>);
static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

/// Makes `recorder` the one the panic hook and `SIGUSR1` snapshot.
pub(crate) fn set_active(consumer: &'static ConsumerShared, recorder: Arc<RecorderShared>) {
    *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = Some((consumer, recorder));
}

/// Forgets the recorder of `consumer`'s logger (it is shutting down).
pub(crate) fn clear_active(consumer: &'static ConsumerShared) {
    let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
    if active
        .as_ref()
        .is_some_and(|(c, _)| std::ptr::eq(*c, consumer))
    {
        *active = None;
    }
}

/// The running logger's consumer and recorder, if it has a recorder.
pub(crate) fn active() -> Option<Active> {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Error-triggered snapshots, as the consumer's `RecorderSink` asks for them: written by a
/// thread of their own, so that the consumer (which does sink I/O) never compresses or writes
/// a snapshot, and a stalled sink never delays one.
pub(crate) struct ErrorSnapshotter {
    recorder: Arc<RecorderShared>,
    /// Requests to the snapshot thread (`None` if it could not start: then the consumer
    /// writes them itself).
    requests: Option<std::sync::mpsc::SyncSender<String>>,
    /// Requests sent and not yet written.
    pending: Arc<(Mutex<usize>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Writes the snapshot an error event (`trigger_event`) asked for, waiting at most
/// `lock_wait` for the history; a failure is reported on stderr.
fn write_error_snapshot(recorder: &RecorderShared, trigger_event: String, lock_wait: Duration) {
    let extra = [("trigger_event", trigger_event)];
    if let Err(err) = take_flushed(recorder, "error", &extra, lock_wait) {
        diag!("ttlog: error-triggered snapshot failed: {err}");
    }
}

/// How long a flush waits for error snapshots still being written.
const SNAPSHOT_SYNC: Duration = Duration::from_secs(5);

impl ErrorSnapshotter {
    /// Starts the snapshot thread for `recorder`.
    pub(crate) fn new(recorder: Arc<RecorderShared>) -> ErrorSnapshotter {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(4);
        let pending = Arc::new((Mutex::new(0usize), std::sync::Condvar::new()));
        let (thread_recorder, thread_pending) = (Arc::clone(&recorder), Arc::clone(&pending));
        let spawned = std::thread::Builder::new()
            .name("ttlog-snapshots".to_owned())
            .spawn(move || {
                crate::thread::mark_internal_thread();
                for trigger_event in rx {
                    write_error_snapshot(&thread_recorder, trigger_event, Duration::from_secs(1));
                    let (count, done) = &*thread_pending;
                    *count.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
                    done.notify_all();
                }
            });
        let (requests, thread) = match spawned {
            Ok(thread) => (Some(tx), Some(thread)),
            Err(err) => {
                diag!("ttlog: error snapshots are written by the consumer: {err}");
                (None, None)
            }
        };
        ErrorSnapshotter {
            recorder,
            requests,
            pending,
            thread,
        }
    }
}

impl ErrorSnapshots for ErrorSnapshotter {
    fn claim(&self) -> bool {
        self.recorder.claim_error_snapshot()
    }

    fn take(&mut self, trigger_event: String) {
        let Some(requests) = &self.requests else {
            write_error_snapshot(&self.recorder, trigger_event, Duration::ZERO);
            return;
        };
        let (count, _) = &*self.pending;
        *count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        if requests.try_send(trigger_event).is_err() {
            // Four already waiting (the rate limit makes that rare): this one is not needed.
            *count.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        }
    }

    fn sync(&mut self) {
        let (count, done) = &*self.pending;
        let deadline = Instant::now() + SNAPSHOT_SYNC;
        let mut pending = count.lock().unwrap_or_else(|p| p.into_inner());
        while *pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            pending = done
                .wait_timeout(pending, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for ErrorSnapshotter {
    fn drop(&mut self) {
        // The logger is shutting down: snapshots already asked for are still written.
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Claims a rate-limited slot: true if `every` has passed since the last claim.
fn claim(last: &AtomicU64, every: Duration) -> bool {
    let now = snapshot::millis(SystemTime::now());
    let prev = last.load(Ordering::Relaxed);
    if prev != 0 && now.saturating_sub(prev) < every.as_millis() as u64 {
        return false;
    }
    last.compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
}

/// Takes a snapshot: flushes (unless on the consumer thread), copies the history, writes the
/// file. Waits at most `wait` for the flush and again for the history lock.
pub(crate) fn take(
    shared: &'static ConsumerShared,
    recorder: &RecorderShared,
    reason: &str,
    extra: &[(&str, String)],
    wait: Duration,
) -> Result<PathBuf, SnapshotError> {
    let on_consumer = runtime::on_consumer_thread();
    if !on_consumer {
        // Whatever this thread logged before is in the history after a flush; a flush that
        // times out still leaves a useful snapshot.
        let _ = crate::handle::flush(shared, wait);
    }
    let lock_wait = if on_consumer { Duration::ZERO } else { wait };
    take_flushed(recorder, reason, extra, lock_wait)
}

/// Takes a snapshot of the history as it is (the caller flushed, or could not): copies it,
/// waiting at most `lock_wait` for its lock, and writes the file.
fn take_flushed(
    recorder: &RecorderShared,
    reason: &str,
    extra: &[(&str, String)],
    lock_wait: Duration,
) -> Result<PathBuf, SnapshotError> {
    let deadline = Instant::now() + lock_wait;
    let copy = loop {
        match recorder.history.try_lock() {
            Ok(history) => break history.copy(),
            Err(TryLockError::Poisoned(p)) => break p.into_inner().copy(),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => return Err(SnapshotError::Busy),
        }
    };
    snapshot::write_snapshot(&recorder.config, reason, extra, &copy)
}

static PANIC_CALLSITE: Callsite = Callsite::new(&PANIC_METADATA);

/// Minimum time between two panic snapshots (a panicking task pool must not fill the disk).
const PANIC_SNAPSHOT_EVERY: Duration = Duration::from_secs(1);
/// How long the panic hook waits for the consumer, and again for the recorder.
const PANIC_WAIT: Duration = Duration::from_secs(2);

static PANIC_HOOK: Once = Once::new();

/// Installs the panic hook once per process, chained in front of the hook in place.
pub(crate) fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // Nothing in `on_panic` may panic (a panic inside a panic hook aborts the process):
            // it writes to stderr without `eprintln!` and ignores every error.
            on_panic(info);
            previous(info);
        }));
    });
}

fn on_panic(info: &PanicHookInfo<'_>) {
    if crate::guard::is_guarded() {
        return;
    }
    let Some(shared) = runtime::consumer() else {
        return;
    };
    let active = active().filter(|(c, _)| std::ptr::eq(*c, shared));
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let on_consumer = runtime::on_consumer_thread();
    if !on_consumer && level_enabled(LogLevel::Error) && PANIC_CALLSITE.is_enabled() {
        crate::producer::emit(&PANIC_CALLSITE, |enc| {
            enc.str(message);
            enc.str(&location);
            enc.bool(true);
        });
    }
    let Some((_, recorder)) = active else {
        let _ = crate::handle::flush(shared, PANIC_WAIT);
        return;
    };
    if !claim(&recorder.last_panic_snapshot, PANIC_SNAPSHOT_EVERY) {
        let _ = crate::handle::flush(shared, PANIC_WAIT);
        return;
    }
    // Everything logged before the panic, and the panic event, reach the history through the
    // consumer. If it does not answer in time (a sink that stalls), the panic event goes into
    // the history directly: the snapshot then holds what the consumer had passed on, and the
    // panic.
    let flushed = on_consumer || crate::handle::flush(shared, PANIC_WAIT).is_ok();
    if !flushed {
        record_panic_directly(&recorder, message, &location);
    }
    let thread = std::thread::current();
    let extra = [
        ("panic_message", message.to_owned()),
        ("panic_location", location),
        (
            "panic_thread",
            thread.name().unwrap_or("unnamed").to_owned(),
        ),
    ];
    let lock_wait = if on_consumer {
        Duration::ZERO
    } else {
        PANIC_WAIT
    };
    match take_flushed(&recorder, "panic", &extra, lock_wait) {
        Ok(path) => {
            let _ = writeln!(
                std::io::stderr(),
                "ttlog: panic snapshot written to {}",
                path.display()
            );
        }
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "ttlog: no panic snapshot: {err}");
        }
    }
}

/// Appends the panic event to the history from the panicking thread (the consumer did not
/// take it in time), as the consumer would have recorded it.
fn record_panic_directly(recorder: &RecorderShared, message: &str, location: &str) {
    use crate::recorder::layout::{RECORD_EVENT, RECORD_MESSAGE, put_str, record_header};
    use crate::value::{TAG_BOOL, TAG_STR};
    let Some(thread) = crate::producer::current_thread() else {
        return;
    };
    let Ok(mut history) = recorder.history.try_lock() else {
        return;
    };
    history.add_thread(thread.id(), thread.name());
    let id = history.callsite_id(&PANIC_CALLSITE);
    let now = crate::clock::to_unix_nanos(crate::clock::raw_now());
    let mut record = Vec::with_capacity(64 + message.len() + location.len());
    record.extend_from_slice(&record_header(
        RECORD_EVENT,
        RECORD_MESSAGE,
        2,
        id,
        thread.id(),
        now,
    ));
    put_str(&mut record, message);
    record.push(TAG_STR);
    put_str(&mut record, location);
    record.extend_from_slice(&[TAG_BOOL, 1]);
    history.push(&record);
}

/// How long the exit hook waits for the consumer to write what was logged.
const EXIT_FLUSH: Duration = Duration::from_secs(2);

/// Flushes at process exit (`std::process::exit`, or returning from `main` while the handle
/// lives in a `static` and is never dropped), once per process, through `atexit`. Waits at
/// most `EXIT_FLUSH`; does nothing on the consumer thread or without a running logger.
pub(crate) fn install_exit_flush() {
    static INSTALL: Once = Once::new();
    #[cfg_attr(not(unix), allow(dead_code))]
    extern "C" fn at_exit() {
        if runtime::on_consumer_thread() {
            return;
        }
        if let Some(shared) = runtime::consumer() {
            let _ = crate::handle::flush(shared, shared.bounded_wait(EXIT_FLUSH));
        }
    }
    INSTALL.call_once(|| {
        #[cfg(unix)]
        // SAFETY: `at_exit` is an `extern "C" fn()` that never unwinds (flush catches nothing
        // that could panic: it only waits on a condvar with a timeout).
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

#[cfg(unix)]
pub(crate) use unix::{after_fork_in_child, install_reload_signal, install_signal_handlers};

#[cfg(not(unix))]
pub(crate) fn install_signal_handlers() {}

#[cfg(not(unix))]
pub(crate) fn install_reload_signal() {}

#[cfg(unix)]
mod unix {
    //! `SIGUSR1` takes a snapshot (registered through `signal-hook`, which chains a handler
    //! already in place); `SIGHUP` reloads the configuration file, registered only when the
    //! logger was configured from one. `SIGTERM`/`SIGINT` flush: if the program had no handler, ttlog's own
    //! handler flushes and then, unless someone registered a handler since, restores the
    //! default action and re-raises the signal, so the process ends as it would have; if the
    //! program had one, ttlog adds a flush through `signal-hook` and the program's handling
    //! proceeds. Handlers only write the signal number to a pipe; a thread does the work.

    use std::io::Write as _;
    use std::sync::Once;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    use std::time::Duration;

    use libc::c_int;

    use crate::runtime;

    static INSTALL: Once = Once::new();
    /// Write end of the pipe the handlers write signal numbers into.
    static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
    /// How long a terminating signal waits for the flush.
    const SIGNAL_FLUSH: Duration = Duration::from_secs(2);

    /// The handler for terminating signals whose action was the default one. Async-signal
    /// safe: one `write` to a non-blocking pipe, with `errno` saved and restored around it (the
    /// interrupted code may be between a failing call and its reading of `errno`).
    extern "C" fn on_terminate(sig: c_int) {
        let saved = errno::get();
        notify(sig);
        errno::set(saved);
    }

    /// `errno` of the calling thread (where the platform exposes it; elsewhere a no-op).
    mod errno {
        use libc::c_int;

        #[cfg(any(target_os = "linux", target_os = "android"))]
        fn location() -> *mut c_int {
            // SAFETY: returns the calling thread's errno address; async-signal-safe.
            unsafe { libc::__errno_location() }
        }

        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
        fn location() -> *mut c_int {
            // SAFETY: as above.
            unsafe { libc::__error() }
        }

        #[cfg(not(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd"
        )))]
        fn location() -> *mut c_int {
            std::ptr::null_mut()
        }

        pub(super) fn get() -> c_int {
            let at = location();
            // SAFETY: a non-null errno location is valid for the calling thread.
            if at.is_null() { 0 } else { unsafe { *at } }
        }

        pub(super) fn set(value: c_int) {
            let at = location();
            if !at.is_null() {
                // SAFETY: as in `get`.
                unsafe { *at = value };
            }
        }
    }

    fn notify(sig: c_int) {
        let fd = PIPE_WRITE.load(Ordering::Relaxed);
        if fd >= 0 {
            let byte = sig as u8;
            // SAFETY: `write` is async-signal-safe; `byte` lives for the call. A full pipe
            // (thousands of pending signals) loses the byte, which is harmless.
            unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
        }
    }

    /// The current action of `sig` (`SIG_DFL`, `SIG_IGN` or a handler address).
    fn current_action(sig: c_int) -> Option<libc::sighandler_t> {
        // SAFETY: a zeroed `sigaction` is a valid out-parameter; a null `act` only queries.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(sig, std::ptr::null(), &mut old) == 0).then_some(old.sa_sigaction)
        }
    }

    fn install_own(sig: c_int) -> bool {
        // SAFETY: `on_terminate` is an `extern "C" fn(c_int)` that is async-signal-safe; the
        // zeroed struct with an empty mask is a valid `sigaction`.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_terminate as extern "C" fn(c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut()) == 0
        }
    }

    fn register_chained(sig: c_int) -> bool {
        // SAFETY: the action only calls `notify`, which is async-signal-safe.
        unsafe { signal_hook::low_level::register(sig, move || notify(sig)) }.is_ok()
    }

    /// Whether ttlog's own handler (not a chained one) is installed for SIGTERM and SIGINT.
    static OWN_TERM: AtomicBool = AtomicBool::new(false);
    static OWN_INT: AtomicBool = AtomicBool::new(false);

    /// Installs the handlers once per process; later calls do nothing. The thread that does
    /// the work starts first: if it cannot, nothing is installed, so no signal is ever
    /// swallowed by a handler whose pipe nobody reads.
    pub(crate) fn install_signal_handlers() {
        INSTALL.call_once(|| {
            let mut fds = [-1 as c_int; 2];
            // SAFETY: `fds` has room for the two descriptors `pipe` writes.
            if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
                diag!(
                    "ttlog: no signal handling: {}",
                    std::io::Error::last_os_error()
                );
                return;
            }
            for fd in fds {
                // SAFETY: plain fcntl calls on descriptors this function owns.
                unsafe {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            // SAFETY: as above.
            unsafe {
                let flags = libc::fcntl(fds[1], libc::F_GETFL);
                libc::fcntl(fds[1], libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
            let read_fd = fds[0];
            let spawned = std::thread::Builder::new()
                .name("ttlog-signals".to_owned())
                .spawn(move || {
                    crate::thread::mark_internal_thread();
                    signal_loop(read_fd)
                });
            if let Err(err) = spawned {
                diag!("ttlog: no signal handling: cannot start its thread: {err}");
                // SAFETY: closing the descriptors this function created; nothing uses them.
                unsafe {
                    libc::close(fds[0]);
                    libc::close(fds[1]);
                }
                return;
            }
            PIPE_WRITE.store(fds[1], Ordering::Relaxed);
            for (sig, own) in [(libc::SIGTERM, &OWN_TERM), (libc::SIGINT, &OWN_INT)] {
                match current_action(sig) {
                    Some(libc::SIG_DFL) => own.store(install_own(sig), Ordering::Relaxed),
                    Some(libc::SIG_IGN) | None => {}
                    Some(_) => {
                        register_chained(sig);
                    }
                }
            }
            register_chained(libc::SIGUSR1);
        });
    }

    /// Registers `SIGHUP` (once per process) to reload the configuration, after
    /// [`install_signal_handlers`]. Only for a logger configured from a file: SIGHUP then
    /// reloads it instead of ending the process, as daemons conventionally do.
    pub(crate) fn install_reload_signal() {
        static RELOAD_SIGNAL: Once = Once::new();
        if PIPE_WRITE.load(Ordering::Relaxed) < 0 {
            return;
        }
        RELOAD_SIGNAL.call_once(|| {
            register_chained(libc::SIGHUP);
        });
    }

    /// In a child process right after `fork` (async-signal-safe calls only): the signal
    /// thread is the parent's, so the child stops writing into its pipe, and SIGTERM and
    /// SIGINT get their default action back where ttlog had installed its own (they would
    /// otherwise be swallowed). Chained handlers still run the program's own.
    pub(crate) fn after_fork_in_child() {
        PIPE_WRITE.store(-1, Ordering::Relaxed);
        for (sig, own) in [(libc::SIGTERM, &OWN_TERM), (libc::SIGINT, &OWN_INT)] {
            if own.swap(false, Ordering::Relaxed) {
                // SAFETY: `signal` with `SIG_DFL` is async-signal-safe.
                unsafe { libc::signal(sig, libc::SIG_DFL) };
            }
        }
    }

    fn signal_loop(read_fd: c_int) {
        loop {
            let mut byte = 0u8;
            // SAFETY: reads one byte into `byte`, which lives for the call.
            let n = unsafe { libc::read(read_fd, (&raw mut byte).cast(), 1) };
            if n != 1 {
                if n < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {
                    continue;
                }
                return;
            }
            let sig = c_int::from(byte);
            if sig == libc::SIGUSR1 {
                if let Some((shared, recorder)) = super::active() {
                    let mut stderr = std::io::stderr();
                    let reason = "signal-SIGUSR1";
                    let _ = match super::take(shared, &recorder, reason, &[], SIGNAL_FLUSH) {
                        Ok(path) => {
                            writeln!(stderr, "ttlog: snapshot written to {}", path.display())
                        }
                        Err(err) => writeln!(stderr, "ttlog: SIGUSR1 snapshot failed: {err}"),
                    };
                }
                continue;
            }
            if sig == libc::SIGHUP {
                if let Some(shared) = runtime::consumer() {
                    let handle = crate::handle::TtlogHandle::secondary(shared);
                    match handle.reload() {
                        Ok(notes) => {
                            diag!("ttlog: SIGHUP: configuration reloaded");
                            for note in notes {
                                diag!("ttlog: {note}");
                            }
                        }
                        Err(err) => diag!("ttlog: SIGHUP: {err}"),
                    }
                }
                continue;
            }
            if let Some(shared) = runtime::consumer() {
                let _ = crate::handle::flush(shared, SIGNAL_FLUSH);
            }
            let ours = match sig {
                libc::SIGTERM => OWN_TERM.load(Ordering::Relaxed),
                libc::SIGINT => OWN_INT.load(Ordering::Relaxed),
                _ => false,
            };
            let handler = on_terminate as extern "C" fn(c_int) as libc::sighandler_t;
            if ours && current_action(sig) == Some(handler) {
                // Nobody else handles it: end the process the way the default action would.
                // SAFETY: restoring the default action and raising the signal are plain libc
                // calls; the process ends here.
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::raise(sig);
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// ttlog's handler leaves `errno` as the interrupted code had it, even when its own
        /// `write` fails (here on a descriptor that is not open).
        #[test]
        fn the_terminate_handler_preserves_errno() {
            let before = PIPE_WRITE.swap(1_000_000, Ordering::Relaxed);
            errno::set(libc::EAGAIN);
            on_terminate(libc::SIGTERM);
            let after = errno::get();
            PIPE_WRITE.store(before, Ordering::Relaxed);
            assert_eq!(after, libc::EAGAIN);

            // Without the save and restore, the failed write would have left EBADF.
            errno::set(libc::EAGAIN);
            // SAFETY: writing one byte from a live local to a descriptor that is not open.
            let written = unsafe { libc::write(1_000_000, [0u8].as_ptr().cast(), 1) };
            assert_eq!(written, -1);
            assert_eq!(errno::get(), libc::EBADF);
        }
    }
}
