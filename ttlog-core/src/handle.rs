//! The handle returned by `init()`: flush, change the filter, read the counters, shut down.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::callsite;
use crate::filter::{Filter, ParseDirectiveError};
use crate::level::LevelFilter;
use crate::runtime::ConsumerShared;
use crate::snapshot::SnapshotError;
use crate::stats::{self, Stats};
use crate::trigger::{self, RecorderShared};

/// What `TtlogHandle::reload` runs: re-reads the configuration and applies what can change
/// while the program runs; returns notes on what could not (or an error, nothing applied).
pub(crate) type ReloadFn = dyn Fn(&TtlogHandle) -> Result<Vec<String>, String> + Send + Sync;

/// The reload step of the installed logger (`Builder::on_reload`).
static RELOAD: Mutex<Option<Arc<ReloadFn>>> = Mutex::new(None);

pub(crate) fn set_reload(reload: Option<Arc<ReloadFn>>) {
    *RELOAD.lock().unwrap_or_else(|p| p.into_inner()) = reload;
}

/// Why [`TtlogHandle::reload`] changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadError {
    /// The logger was not configured from a file (nothing to reload), or is not running.
    NotConfigured,
    /// The new configuration is not valid; the running one stays, untouched.
    Invalid(String),
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::NotConfigured => {
                f.write_str("the logger was not configured from a file: nothing to reload")
            }
            ReloadError::Invalid(message) => {
                write!(f, "{message}; the running configuration stays")
            }
        }
    }
}

impl std::error::Error for ReloadError {}

/// How long `flush()` and shutdown wait for the consumer at most.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Controls the installed logger. Dropping the handle returned by a successful `init()`
/// flushes everything logged before and uninstalls the logger.
#[must_use = "dropping the handle shuts the logger down; keep it alive for the program's life"]
pub struct TtlogHandle {
    shared: Option<&'static ConsumerShared>,
    /// The flight recorder, if the logger has one.
    recorder: Option<Arc<RecorderShared>>,
    join: Mutex<Option<JoinHandle<()>>>,
    owner: bool,
    capacity: usize,
    /// How long dropping the handle waits for the consumer to drain and stop.
    shutdown_timeout: Duration,
}

impl fmt::Debug for TtlogHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlogHandle")
            .field("owner", &self.owner)
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// Why a flush did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushError {
    /// The consumer did not finish within the timeout (a sink may be stuck on I/O).
    Timeout,
    /// The consumer thread is not running (the logger was shut down, or never installed).
    NotRunning,
}

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlushError::Timeout => f.write_str("the ttlog consumer did not flush in time"),
            FlushError::NotRunning => f.write_str("the ttlog consumer is not running"),
        }
    }
}

impl std::error::Error for FlushError {}

impl TtlogHandle {
    pub(crate) fn owner(
        shared: &'static ConsumerShared,
        recorder: Option<Arc<RecorderShared>>,
        join: JoinHandle<()>,
        capacity: usize,
        shutdown_timeout: Duration,
    ) -> TtlogHandle {
        TtlogHandle {
            shared: Some(shared),
            recorder,
            join: Mutex::new(Some(join)),
            owner: true,
            capacity,
            shutdown_timeout,
        }
    }

    pub(crate) fn secondary(shared: &'static ConsumerShared) -> TtlogHandle {
        let recorder = trigger::active()
            .filter(|(c, _)| std::ptr::eq(*c, shared))
            .map(|(_, recorder)| recorder);
        TtlogHandle {
            shared: Some(shared),
            recorder,
            join: Mutex::new(None),
            owner: false,
            capacity: 0,
            shutdown_timeout: FLUSH_TIMEOUT,
        }
    }

    pub(crate) fn detached() -> TtlogHandle {
        TtlogHandle {
            shared: None,
            recorder: None,
            join: Mutex::new(None),
            owner: false,
            capacity: 0,
            shutdown_timeout: FLUSH_TIMEOUT,
        }
    }

    /// Whether this handle uninstalls the logger when dropped (it came from the `init()` that
    /// installed it).
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// The flight recorder's history in events, as configured.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes out every event logged before this call (on any thread that has synchronised
    /// with this one) and flushes the sinks. Waits at most 10 seconds.
    pub fn flush(&self) {
        let _ = self.try_flush(FLUSH_TIMEOUT);
    }

    /// Like [`flush`](TtlogHandle::flush), waiting at most `timeout`.
    pub fn try_flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let shared = self.shared.ok_or(FlushError::NotRunning)?;
        flush(shared, timeout)
    }

    /// Sets the default level, keeping per-target directives. Takes effect at once for every
    /// callsite; the hot path takes no lock.
    pub fn set_level(&self, level: impl Into<LevelFilter>) {
        let active = self.is_active();
        callsite::update_registry(|registry| {
            let mut filter = registry.filter().clone();
            filter.set_default_level(level.into());
            registry.set_filter(filter, active);
        });
    }

    /// Replaces the filter with `directives` (`"info,app::db=trace"`). A malformed directive
    /// leaves the current filter in place.
    pub fn set_filter(&self, directives: &str) -> Result<(), ParseDirectiveError> {
        let filter = Filter::parse(directives)?;
        let active = self.is_active();
        callsite::update_registry(|registry| registry.set_filter(filter, active));
        Ok(())
    }

    /// Replaces the redaction rules (`None` turns redaction off), as a configuration reload
    /// does. The consumer takes them before the next event it hands to the sinks; the
    /// threads that log are not involved. Does nothing on a handle of no running logger.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # struct Rules;
    /// # impl ttlog_core::Redactor for Rules {
    /// #     fn is_secret_name(&self, name: &str) -> bool { name == "password" }
    /// #     fn find_secret(&self, _: &str) -> bool { false }
    /// #     fn redact_text(&self, text: &str, out: &mut String) { out.push_str(text) }
    /// # }
    /// let handle = ttlog_core::init().console(false).init();
    /// handle.set_redactor(Some(Arc::new(Rules)));
    /// # drop(handle);
    /// ```
    pub fn set_redactor(&self, rules: Option<Arc<dyn crate::redactor::Redactor>>) {
        let Some(shared) = self.shared else {
            return;
        };
        match shared.redactor.lock() {
            Ok(mut slot) => slot.0 = Some(rules),
            Err(poisoned) => poisoned.into_inner().0 = Some(rules),
        }
        shared.redactor_changed.store(true, Ordering::Release);
    }

    /// Reads the configuration file again and applies it: the filter, the redaction rules and
    /// the sinks' sampling change at once, without a restart and without a lock on the
    /// threads that log; the notes say what changed in the file that only a restart applies
    /// (the list of sinks, their paths and formats, enrichment, the recorder). A file with an
    /// error changes nothing. `SIGHUP` does the same when the logger handles signals.
    ///
    /// ```
    /// let handle = ttlog_core::init().console(false).init();
    /// // Configured in code only: there is no file to read again.
    /// assert_eq!(handle.reload(), Err(ttlog_core::ReloadError::NotConfigured));
    /// # drop(handle);
    /// ```
    pub fn reload(&self) -> Result<Vec<String>, ReloadError> {
        if self.shared.is_none() {
            return Err(ReloadError::NotConfigured);
        }
        let reload = RELOAD
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(ReloadError::NotConfigured)?;
        reload(self).map_err(ReloadError::Invalid)
    }

    /// The filter in force.
    pub fn filter(&self) -> Filter {
        callsite::registry().filter().clone()
    }

    /// Freezes the flight recorder into a snapshot file and returns its path. Everything this
    /// thread logged before the call is in it; the recorder is not emptied, so the next
    /// snapshot holds the same history and what came after.
    ///
    /// `reason` goes into the file and its name (`orders-20261121T101500.123456Z-4242-deploy.ttsnap`).
    /// Waits at most 10 seconds for the consumer.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ttlog-doc-snap-{}", std::process::id()));
    /// let handle = ttlog_core::init().console(false).snapshot_dir(&dir).init();
    /// let path = handle.snapshot("before-migration").expect("snapshot written");
    /// assert!(path.exists());
    /// # drop(handle);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn snapshot(&self, reason: &str) -> Result<PathBuf, SnapshotError> {
        let shared = self.shared.ok_or(SnapshotError::NoRecorder)?;
        let recorder = self.recorder.as_ref().ok_or(SnapshotError::NoRecorder)?;
        trigger::take(shared, recorder, reason, &[], FLUSH_TIMEOUT)
    }

    /// The number of events the flight recorder holds now (0 without a recorder).
    pub fn recorder_len(&self) -> usize {
        self.recorder.as_ref().map_or(0, |r| r.history().len())
    }

    /// The counters: logged, delivered, dropped, sink errors, and per thread.
    pub fn stats(&self) -> Stats {
        match self.shared {
            Some(shared) => stats::collect(shared),
            None => Stats::default(),
        }
    }

    fn is_active(&self) -> bool {
        self.shared
            .is_some_and(|s| !s.shutdown.load(Ordering::Acquire) && s.alive.load(Ordering::Acquire))
    }

    fn shutdown(&self, shared: &'static ConsumerShared) {
        set_reload(None);
        // Stop new events first, then let the consumer drain what was published and exit.
        callsite::update_registry(|registry| {
            let filter = registry.filter().clone();
            registry.set_filter(filter, false);
        });
        shared.shutdown.store(true, Ordering::Release);
        shared.unpark();
        if !shared.in_this_process() {
            // The child of a fork: the consumer thread is the parent's; nothing to wait for.
            return;
        }
        // A panicking program must not hang in its handle's drop on a stuck consumer.
        let deadline = Instant::now() + shared.bounded_wait(self.shutdown_timeout);
        let mut done = shared.flush_done.lock().unwrap_or_else(|p| p.into_inner());
        while shared.alive.load(Ordering::Acquire) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            done = shared
                .flush_cv
                .wait_timeout(done, left.min(Duration::from_millis(10)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(done);
        if !shared.alive.load(Ordering::Acquire)
            && let Some(join) = self.join.lock().unwrap_or_else(|p| p.into_inner()).take()
        {
            let _ = join.join();
            if let Some(recorder) = &self.recorder {
                // Everything was written: a persisted recorder has nothing to recover, and the
                // history's memory goes back.
                recorder.history().retire();
            }
        }
        trigger::clear_active(shared);
        // The consumer uninstalls itself when its thread ends, not here: a consumer still
        // busy after the timeout keeps the rings, and no new logger starts beside it.
    }
}

/// Flushes the running logger, wherever its handle is: what `log::logger().flush()` does
/// through the `log` adapter. Does nothing without a running logger, or on the consumer
/// thread (a sink cannot wait for itself). Waits at most 10 seconds.
///
/// ```
/// ttlog_core::flush_running(); // no logger: returns at once
/// ```
pub fn flush_running() {
    if crate::runtime::on_consumer_thread() {
        return;
    }
    if let Some(shared) = crate::runtime::consumer() {
        let _ = flush(shared, FLUSH_TIMEOUT);
    }
}

pub(crate) fn flush(shared: &'static ConsumerShared, timeout: Duration) -> Result<(), FlushError> {
    // In the child of a fork the consumer's state is here but its thread is not.
    if !shared.alive.load(Ordering::Acquire) || !shared.in_this_process() {
        return Err(FlushError::NotRunning);
    }
    let ticket = shared.flush_requested.fetch_add(1, Ordering::AcqRel) + 1;
    shared.unpark();
    let deadline = Instant::now() + timeout;
    let mut done = shared.flush_done.lock().unwrap_or_else(|p| p.into_inner());
    while *done < ticket {
        if !shared.alive.load(Ordering::Acquire) {
            return Err(FlushError::NotRunning);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            shared.stalled.store(true, Ordering::Relaxed);
            return Err(FlushError::Timeout);
        }
        // Short waits: the consumer may have died between our check and the wait.
        done = shared
            .flush_cv
            .wait_timeout(done, left.min(Duration::from_millis(10)))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    shared.stalled.store(false, Ordering::Relaxed);
    Ok(())
}

impl Drop for TtlogHandle {
    fn drop(&mut self) {
        let Some(shared) = self.shared else { return };
        if self.owner {
            self.shutdown(shared);
        } else {
            let _ = flush(shared, FLUSH_TIMEOUT);
        }
    }
}
