//! The machinery a slow sink needs (a database, a remote service): a bounded queue between
//! ttlog's consumer and a worker thread of the sink's own, batches, retries with back-off,
//! and counted drops when the destination cannot keep up. Written once here for the store,
//! remote and OpenTelemetry sinks.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ttlog_core::write_diagnostic as diag;
use ttlog_core::{CapturedEvent, Event, Filter, Sink};

/// Writes batches of events somewhere slow. Implemented by a store or a remote sink and run
/// by a [`BatchingSink`] on a thread of its own. The items are [`CapturedEvent`]s unless the
/// sink was made with [`BatchingSink::with_items`], which turns each event into an item of
/// the writer's own (an OTLP log record, say) on ttlog's consumer thread.
///
/// ```
/// use std::io;
/// use ttlog_core::CapturedEvent;
/// use ttlog_sinks::BatchWriter;
///
/// /// Sends each batch as JSON lines to a service (here: counts them).
/// struct Shipper { shipped: usize }
///
/// impl BatchWriter for Shipper {
///     fn write_batch(&mut self, batch: &[CapturedEvent]) -> io::Result<()> {
///         self.shipped += batch.len();
///         Ok(())
///     }
/// }
/// ```
pub trait BatchWriter<T = CapturedEvent>: Send + 'static {
    /// Writes `batch` (in order). An error makes the sink try the same batch again after a
    /// back-off; it must leave the destination as if nothing of the batch was written, or
    /// tolerate the batch again (idempotent writes).
    fn write_batch(&mut self, batch: &[T]) -> io::Result<()>;

    /// A short name for diagnostics.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// What a [`BatchWriter`] returns (inside an `io::Error`) to say more than "try again":
/// any other error makes the sink retry the batch with back-off.
///
/// ```
/// use std::{io, time::Duration};
/// use ttlog_sinks::BatchError;
///
/// // An HTTP 400: the destination refuses these events; the batch is dropped and counted.
/// let refused: io::Error = BatchError::Rejected("HTTP 400".into()).into();
/// // An HTTP 429 with `Retry-After: 30`: wait at least that long before the next try.
/// let busy: io::Error = BatchError::RetryAfter(Duration::from_secs(30), "HTTP 429".into()).into();
/// # let _ = (refused, busy);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchError {
    /// The destination refuses the batch as it is: it is dropped (counted), not retried.
    Rejected(String),
    /// Retry, but not before this long (at least the usual back-off).
    RetryAfter(Duration, String),
}

impl BatchError {
    /// The error of a failure worth retrying (`why`), after `retry_after` (an HTTP
    /// `Retry-After` header's value in seconds) if one is given: a [`BatchError::RetryAfter`],
    /// else a plain error (the usual back-off).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ttlog_sinks::BatchError;
    ///
    /// let busy = BatchError::retryable("HTTP 503".into(), Some("30"));
    /// let inner = busy.get_ref().and_then(|e| e.downcast_ref::<BatchError>());
    /// assert_eq!(inner, Some(&BatchError::RetryAfter(Duration::from_secs(30), "HTTP 503".into())));
    /// ```
    pub fn retryable(why: String, retry_after: Option<&str>) -> io::Error {
        match retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(secs) => BatchError::RetryAfter(Duration::from_secs(secs), why).into(),
            None => io::Error::other(why),
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Rejected(why) => write!(f, "{why} (the batch is dropped)"),
            BatchError::RetryAfter(wait, why) => write!(f, "{why} (retry after {wait:?})"),
        }
    }
}

impl std::error::Error for BatchError {}

impl From<BatchError> for io::Error {
    fn from(e: BatchError) -> io::Error {
        io::Error::other(e)
    }
}

/// How a [`BatchingSink`] queues, batches and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Events waiting for the worker at most; past it, events are dropped and counted.
    pub queue: usize,
    /// Events per batch at most.
    pub batch: usize,
    /// A batch is written at the latest this long after its first event.
    pub max_delay: Duration,
    /// The first wait after a failed batch; it doubles after each failure.
    pub retry_initial: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
    /// How long dropping the sink waits for the queue to be written before it counts the
    /// rest as dropped.
    pub shutdown_timeout: Duration,
}

impl Default for BatchOptions {
    fn default() -> BatchOptions {
        BatchOptions {
            queue: 65_536,
            batch: 1_024,
            max_delay: Duration::from_millis(200),
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// What a [`BatchingSink`] did, readable while the logger runs.
#[derive(Debug, Clone, Default)]
pub struct BatchCounters {
    inner: Arc<CountersInner>,
}

#[derive(Debug, Default)]
struct CountersInner {
    /// Set when the sink is dropped: the moment after which the worker stops retrying.
    deadline: Mutex<Option<Instant>>,
    written: AtomicU64,
    /// Shared with ttlog's `stats()` (`Sink::drop_counter`).
    dropped: Arc<AtomicU64>,
    failures: AtomicU64,
    /// Events handed to the queue and not yet written or dropped.
    pending: Mutex<u64>,
    idle: Condvar,
}

impl BatchCounters {
    /// New counters whose drops are counted together with `self`'s: for a sink made of
    /// several [`BatchingSink`]s (one per destination) that reports one drop count.
    pub fn sharing_drops(&self) -> BatchCounters {
        BatchCounters {
            inner: Arc::new(CountersInner {
                dropped: Arc::clone(&self.inner.dropped),
                ..CountersInner::default()
            }),
        }
    }

    /// Events written by the [`BatchWriter`].
    pub fn written(&self) -> u64 {
        self.inner.written.load(Ordering::Relaxed)
    }

    /// Events dropped: the queue was full, or the destination was still failing at shutdown.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Failed batch writes (each retried).
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Waits until every event handed to the sink was written or dropped, at most `timeout`;
    /// whether it got there.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (pending, _) = self
            .inner
            .idle
            .wait_timeout_while(pending, timeout, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *pending == 0
    }

    fn settle(&self, events: u64) {
        let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending = pending.saturating_sub(events);
        if *pending == 0 {
            self.inner.idle.notify_all();
        }
    }
}

// The queue is bounded and most messages are events: boxing them would cost an allocation
// per event for nothing.
#[allow(clippy::large_enum_variant)]
enum Message<T> {
    Event(T),
    /// Write what is batched now.
    Flush,
}

/// Turns an event into a sink's item, on the consumer thread.
type MakeItem<T> = Box<dyn FnMut(&Event<'_>) -> Option<T> + Send>;

/// A [`Sink`] that hands events to a [`BatchWriter`] on a thread of its own, through a
/// bounded queue: ttlog's consumer never waits for a slow or failing destination.
///
/// - Events are copied (owned) into the queue; a full queue drops the event and counts it
///   ([`BatchCounters::dropped`]), reported once on stderr.
/// - The worker writes batches of up to [`BatchOptions::batch`] events, at the latest
///   [`BatchOptions::max_delay`] after the first, and when ttlog flushes.
/// - A failed batch is retried with back-off (doubling up to [`BatchOptions::retry_max`]),
///   reported once on stderr; later events wait in the queue meanwhile.
/// - Dropping the sink (the logger shutting down) writes what is queued, waiting at most
///   [`BatchOptions::shutdown_timeout`]; what is left then is counted as dropped.
///
/// ```
/// use std::io;
/// use ttlog_core::CapturedEvent;
/// use ttlog_sinks::{BatchOptions, BatchWriter, BatchingSink};
///
/// struct Shipper;
/// impl BatchWriter for Shipper {
///     fn write_batch(&mut self, batch: &[CapturedEvent]) -> io::Result<()> {
///         let _ = batch; // send them
///         Ok(())
///     }
/// }
///
/// let sink = BatchingSink::new(Shipper, BatchOptions::default());
/// let counters = sink.counters();
/// let handle = ttlog::init().console(false).sink(sink).init();
/// ttlog::info!("shipped", batch_id = 7_u64);
/// handle.flush();
/// assert!(counters.wait_idle(std::time::Duration::from_secs(5)));
/// assert_eq!(counters.written(), 1);
/// ```
pub struct BatchingSink<T = CapturedEvent> {
    tx: Option<SyncSender<Message<T>>>,
    /// Makes the item of an event, on the consumer thread (`None`: not for this sink).
    make: MakeItem<T>,
    worker: Option<std::thread::JoinHandle<()>>,
    counters: BatchCounters,
    options: BatchOptions,
    filter: Option<Filter>,
    name: String,
    reported_full: bool,
}

impl<T> std::fmt::Debug for BatchingSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchingSink")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl BatchingSink {
    /// Runs `writer` on a new thread, fed through a bounded queue.
    pub fn new(writer: impl BatchWriter, options: BatchOptions) -> BatchingSink {
        BatchingSink::with_items(
            writer,
            options,
            BatchCounters::default(),
            |event: &Event<'_>| Some(CapturedEvent::from_event(event)),
        )
    }
}

impl<T: Send + 'static> BatchingSink<T> {
    /// Runs `writer` on a new thread, fed through a bounded queue with the items `make`
    /// turns events into, on ttlog's consumer thread (an event it gives `None` for is not
    /// this sink's); counts into `counters`.
    ///
    /// ```
    /// use std::io;
    /// use ttlog_sinks::{BatchCounters, BatchOptions, BatchWriter, BatchingSink};
    ///
    /// /// Only the messages of errors, as strings.
    /// struct Pager { paged: Vec<String> }
    /// impl BatchWriter<String> for Pager {
    ///     fn write_batch(&mut self, batch: &[String]) -> io::Result<()> {
    ///         self.paged.extend_from_slice(batch);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let sink = BatchingSink::with_items(
    ///     Pager { paged: Vec::new() },
    ///     BatchOptions::default(),
    ///     BatchCounters::default(),
    ///     |event: &ttlog_core::Event<'_>| {
    ///         (event.level() == ttlog_core::LogLevel::Error).then(|| event.message().to_string())
    ///     },
    /// );
    /// # drop(sink);
    /// ```
    pub fn with_items(
        writer: impl BatchWriter<T>,
        options: BatchOptions,
        counters: BatchCounters,
        make: impl FnMut(&Event<'_>) -> Option<T> + Send + 'static,
    ) -> BatchingSink<T> {
        let options = BatchOptions {
            queue: options.queue.max(1),
            batch: options.batch.max(1),
            ..options
        };
        let name = writer.name().to_owned();
        let (tx, rx) = sync_channel(options.queue);
        let worker_counters = counters.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("ttlog-batch-{}", short(&name)))
            .spawn(move || run(writer, rx, options, worker_counters));
        let (tx, worker) = match spawned {
            Ok(join) => (Some(tx), Some(join)),
            Err(err) => {
                diag(format_args!(
                    "ttlog: sink `{name}`: no worker thread ({err}); its events are dropped \
                     and counted"
                ));
                (None, None)
            }
        };
        BatchingSink {
            tx,
            make: Box::new(make),
            worker,
            counters,
            options,
            filter: None,
            name,
            reported_full: false,
        }
    }

    /// Gives the sink its own filter (see [`Sink::filter`]).
    pub fn with_filter(mut self, filter: Filter) -> BatchingSink<T> {
        self.filter = Some(filter);
        self
    }

    /// Counters of what the sink wrote, dropped and retried.
    pub fn counters(&self) -> BatchCounters {
        self.counters.clone()
    }

    fn drop_event(&mut self, why: &str) {
        self.counters.inner.dropped.fetch_add(1, Ordering::Relaxed);
        self.counters.settle(1);
        if !self.reported_full {
            self.reported_full = true;
            diag(format_args!(
                "ttlog: sink `{}`: {why}; events are dropped and counted (further drops are only \
                 counted)",
                self.name
            ));
        }
    }
}

fn short(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

impl<T: Send + 'static> Sink for BatchingSink<T> {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        let Some(item) = (self.make)(event) else {
            return Ok(());
        };
        *self
            .counters
            .inner
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner()) += 1;
        let Some(tx) = &self.tx else {
            self.drop_event("no worker thread");
            return Ok(());
        };
        match tx.try_send(Message::Event(item)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.drop_event("its queue is full (the destination is slow or failing)");
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                self.drop_event("its worker stopped");
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        // Called whenever ttlog's consumer runs out of events: ask for the batch to be
        // written, without waiting for it (a slow destination must not stall the consumer).
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(Message::Flush);
        }
        Ok(())
    }

    fn filter(&self) -> Option<Filter> {
        self.filter.clone()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn drop_counter(&self) -> Option<Arc<AtomicU64>> {
        Some(Arc::clone(&self.counters.inner.dropped))
    }
}

impl<T> Drop for BatchingSink<T> {
    fn drop(&mut self) {
        // Closing the queue tells the worker to write what is left and stop; the deadline
        // tells it when to stop retrying (it then counts what is left as dropped).
        *self
            .counters
            .inner
            .deadline
            .lock()
            .unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + self.options.shutdown_timeout);
        drop(self.tx.take());
        let margin = Duration::from_millis(100);
        if self
            .counters
            .wait_idle(self.options.shutdown_timeout + margin)
            && let Some(worker) = self.worker.take()
        {
            let _ = worker.join();
        }
    }
}

/// The worker: batches, writes, retries.
fn run<T>(
    mut writer: impl BatchWriter<T>,
    rx: Receiver<Message<T>>,
    options: BatchOptions,
    counters: BatchCounters,
) {
    ttlog_core::mark_internal_thread();
    let mut batch: Vec<T> = Vec::with_capacity(options.batch);
    let mut first_at: Option<Instant> = None;
    let mut closed = false;
    let mut reported_failure = false;
    let mut reported_rejection = false;
    let deadline = || {
        *counters
            .inner
            .deadline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    };
    while !(closed && batch.is_empty()) {
        // Gather until the batch is full, its delay is up, a flush is asked, or the queue
        // closes.
        let mut write_now = false;
        while !closed && batch.len() < options.batch && !write_now {
            let wait = match first_at {
                Some(first) => options.max_delay.saturating_sub(first.elapsed()),
                None => Duration::from_secs(3600),
            };
            match rx.recv_timeout(wait) {
                Ok(Message::Event(event)) => {
                    first_at.get_or_insert_with(Instant::now);
                    batch.push(event);
                }
                Ok(Message::Flush) => write_now = !batch.is_empty(),
                Err(RecvTimeoutError::Timeout) => write_now = !batch.is_empty(),
                Err(RecvTimeoutError::Disconnected) => closed = true,
            }
        }
        if batch.is_empty() {
            continue;
        }
        // Write it, retrying with back-off.
        let mut backoff = options.retry_initial;
        loop {
            match writer.write_batch(&batch) {
                Ok(()) => {
                    counters
                        .inner
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    counters.settle(batch.len() as u64);
                    reported_failure = false;
                    break;
                }
                Err(err) => {
                    counters.inner.failures.fetch_add(1, Ordering::Relaxed);
                    let kind = err
                        .get_ref()
                        .and_then(|e| e.downcast_ref::<BatchError>())
                        .cloned();
                    if let Some(BatchError::Rejected(why)) = kind {
                        if !reported_rejection {
                            reported_rejection = true;
                            diag(format_args!(
                                "ttlog: sink `{}`: a batch of {} events was refused: {why}; \
                                 it is dropped and counted (further refusals are only counted)",
                                writer.name(),
                                batch.len()
                            ));
                        }
                        counters
                            .inner
                            .dropped
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        counters.settle(batch.len() as u64);
                        break;
                    }
                    if let Some(BatchError::RetryAfter(wait, _)) = kind {
                        backoff = backoff.max(wait.min(options.retry_max));
                    }
                    if !reported_failure {
                        reported_failure = true;
                        diag(format_args!(
                            "ttlog: sink `{}`: writing a batch of {} events failed: {err}; \
                             retrying with back-off (further failures are only counted)",
                            writer.name(),
                            batch.len()
                        ));
                    }
                    if deadline().is_some_and(|d| Instant::now() + backoff > d) {
                        // Shutting down and still failing: what cannot be written is dropped,
                        // counted.
                        let left = batch.len() as u64 + drain_count(&rx);
                        diag(format_args!(
                            "ttlog: sink `{}`: still failing at shutdown ({err}); {left} events \
                             not written are dropped and counted",
                            writer.name()
                        ));
                        counters.inner.dropped.fetch_add(left, Ordering::Relaxed);
                        counters.settle(left);
                        return;
                    }
                    // Sleep in short steps, so that a shutdown does not wait for a long back-off.
                    let until = Instant::now() + backoff;
                    while Instant::now() < until && deadline().is_none() {
                        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
                    }
                    backoff = (backoff * 2).min(options.retry_max);
                }
            }
        }
        batch.clear();
        first_at = None;
    }
}

/// Empties the queue, counting its events.
fn drain_count<T>(rx: &Receiver<Message<T>>) -> u64 {
    rx.try_iter()
        .filter(|m| matches!(m, Message::Event(_)))
        .count() as u64
}
