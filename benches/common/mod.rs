//! Pieces shared by the benches: the benchmark event, the no-op backends of tracing, log and
//! slog, tracing's JSON formatter, and ttlog's chunked timing of the caller's cost.
// Each bench uses a part of this module.
#![allow(dead_code)]

use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use ttlog::{Format, LogLevel, Overflow, Sink, TtlogHandle, WriterSink};

/// A sink that forwards to whichever sink the bench put in it: the logger is installed once,
/// and each case brings its own sink (or none).
#[derive(Clone, Default)]
pub(crate) struct Switch(pub(crate) Arc<Mutex<Option<Box<dyn Sink>>>>);

impl Sink for Switch {
    fn write(&mut self, event: &ttlog::Event<'_>) -> io::Result<()> {
        match self.0.lock().unwrap().as_mut() {
            Some(sink) => sink.write(event),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock().unwrap().as_mut() {
            Some(sink) => sink.flush(),
            None => Ok(()),
        }
    }
}

/// Events per timed chunk: 4,096 records of under 100 bytes fill well under half of the 1 MiB
/// thread ring the benches use, so a chunk never waits for the consumer.
pub(crate) const CHUNK: u64 = 4_096;

/// A subscriber that accepts everything and visits every field, doing nothing with them:
/// tracing's bare dispatch cost.
pub(crate) struct NoopSubscriber;

struct NoopVisitor;

impl Visit for NoopVisitor {
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Subscriber for NoopSubscriber {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        event.record(&mut NoopVisitor);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Visits every `log` key-value and does nothing with it: with [`NoopLog`], the least any
/// backend that reads key-values pays.
pub(crate) struct NoopVisit;

impl<'kvs> log::kv::VisitSource<'kvs> for NoopVisit {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        black_box((key, value));
        Ok(())
    }
}

/// A `log` logger at info that looks at the message and visits the key-values, doing nothing
/// else: the facade's own cost.
pub(crate) struct NoopLog;

impl log::Log for NoopLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            black_box(record.args());
            let _ = record.key_values().visit(&mut NoopVisit);
        }
    }

    fn flush(&self) {}
}

/// A `slog` drain that serializes every key-value into nothing: the facade's own cost.
pub(crate) struct NoopDrain;

struct NoopSerializer;

impl slog::Serializer for NoopSerializer {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        black_box((key, value));
        Ok(())
    }
}

impl slog::Drain for NoopDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        black_box(record.msg());
        let _ = slog::KV::serialize(&record.kv(), record, &mut NoopSerializer);
        let _ = slog::KV::serialize(values, record, &mut NoopSerializer);
        Ok(())
    }
}

/// Times `iters` calls of `event` in chunks of [`CHUNK`], flushing (untimed) between chunks:
/// the cost of recording an event, not of waiting for the consumer.
pub(crate) fn time_in_chunks(
    logger: &TtlogHandle,
    iters: u64,
    mut event: impl FnMut(),
) -> Duration {
    time_in_bursts(
        iters,
        CHUNK,
        |n| {
            for _ in 0..n {
                event();
            }
        },
        || logger.flush(),
    )
}

/// Times `iters` events logged by `burst(n)` in bursts of at most `len`, calling `settle`
/// (untimed) after each burst.
pub(crate) fn time_in_bursts(
    iters: u64,
    len: u64,
    mut burst: impl FnMut(u64),
    mut settle: impl FnMut(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(len);
        let start = Instant::now();
        burst(n);
        total += start.elapsed();
        settle();
        left -= n;
    }
    total
}

/// The benches' event: level info, message "request handled", fields `user_id: u64 = 42`,
/// `path: &str = "/api/v1/items"`, `latency_ms: f64 = 3.25`, each through `black_box`.
pub(crate) const USER_ID: u64 = 42;
pub(crate) const PATH: &str = "/api/v1/items";
pub(crate) const LATENCY_MS: f64 = 3.25;

/// The event's values, each through `black_box`.
#[inline(always)]
pub(crate) fn values() -> (u64, &'static str, f64) {
    (black_box(USER_ID), black_box(PATH), black_box(LATENCY_MS))
}

/// The event, through ttlog.
#[inline(always)]
pub(crate) fn ttlog_event() {
    let (user_id, path, latency_ms) = values();
    ttlog::info!("request handled", user_id, path, latency_ms);
}

/// The same event, through tracing.
#[inline(always)]
pub(crate) fn tracing_event() {
    let (user_id, path, latency_ms) = values();
    tracing::info!(user_id, path, latency_ms, "request handled");
}

/// tracing-subscriber's JSON formatter into `io::sink()`, at info.
pub(crate) fn tracing_json() -> impl Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(io::sink)
        .finish()
}

/// The logger of `hot_path` and `spans`: info, JSON into `io::sink()`, blocking, no console.
pub(crate) fn json_logger() -> TtlogHandle {
    ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        // 1 MiB rather than the default 256 KiB: the ring then cycles through memory the
        // consumer core no longer caches, as in a steady workload (see docs/BENCHMARKS.md).
        .thread_buffer_size(1 << 20)
        .sink(WriterSink::new(io::sink(), Format::Json))
        .init()
}

/// Slots of the floor's ring (48 bytes each).
const FLOOR_SLOTS: usize = 4_096;

struct FloorRing {
    slots: std::cell::UnsafeCell<Box<[[u64; 6]]>>,
    head: AtomicU64,
}

std::thread_local! {
    static FLOOR: FloorRing = FloorRing {
        slots: std::cell::UnsafeCell::new(vec![[0u64; 6]; FLOOR_SLOTS].into_boxed_slice()),
        head: AtomicU64::new(0),
    };
}

#[inline(always)]
pub(crate) fn timestamp() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` has no preconditions on x86_64.
        unsafe { std::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// The floor: for each of `n` events (the benches' values), a timestamp and a 48-byte write
/// into a preallocated thread-local ring, published with one Release store. What any
/// in-memory logger has to do at least (`benches/suite.rs`, `benches/icount.rs`).
#[inline(never)]
pub(crate) fn floor_events(n: u64) {
    FLOOR.with(|ring| {
        for _ in 0..n {
            let (user_id, path, latency_ms) = values();
            let head = ring.head.load(Ordering::Relaxed);
            let slot = [
                timestamp(),
                &FLOOR as *const _ as u64, // stands for the callsite
                user_id,
                path.as_ptr() as u64,
                path.len() as u64,
                latency_ms.to_bits(),
            ];
            // SAFETY: the ring belongs to this thread and nothing else borrows it; the index
            // is within the slice.
            unsafe { (*ring.slots.get())[head as usize % FLOOR_SLOTS] = slot };
            ring.head.store(head + 1, Ordering::Release);
        }
    });
}
