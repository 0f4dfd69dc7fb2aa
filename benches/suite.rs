//! The comparison suite: every logging set-up of docs/BENCHMARKS.md's main table, measured in
//! one run and printed as one table.
//!
//! ```text
//! cargo bench --bench suite                # everything (about 7 minutes), then the table
//! cargo bench --bench suite -- --quick     # each case briefly (a smoke run)
//! cargo bench --bench suite -- json        # only the cases whose name contains "json"
//! cargo test --bench suite                 # quick mode in a debug build: what CI runs
//! ```
//!
//! Every case logs the same event (level info, message "request handled", fields
//! `user_id: u64 = 42`, `path: &str = "/api/v1/items"`, `latency_ms: f64 = 3.25`, each through
//! `black_box`), with each library set up the way its users run it. Each case runs in a
//! process of its own (this binary, started again with `TTLOG_SUITE_CASE=<name>`), so no
//! global logger, thread or allocation of one case touches another, and the peak RSS is the
//! case's own. Per case:
//!
//! - caller cost: what the logging thread pays per enabled event (criterion, `iter_custom`),
//!   timed in bursts of 256 events with the library's background work settled, untimed, between
//!   bursts (the cost of logging, not of waiting for a consumer that fell behind);
//! - the same with two threads logging at once (each thread's cost per event);
//! - for a few cases (`ONE_CPU_CASES`), the one-thread caller cost again with every thread
//!   of the process on one CPU (a second table): a consumer on another core reads the lines
//!   the logging thread writes, and writing them again costs the caller; on one CPU it does
//!   not, which separates the library's own work from that traffic;
//! - disabled cost: a `debug!` event while the level is info (values `black_box`ed per
//!   event, so the check cannot be hoisted out of the loop);
//! - end to end: `TTLOG_SUITE_EVENTS` events (2,000,000; 20,000 in quick mode) from one thread,
//!   timed until every line is written (flush, or the library's guard dropped); the lines are
//!   counted where they land (a counting writer, or the file read back), so "delivered" is
//!   measured, and "dropped" is what the library counted (ttlog's `stats()`,
//!   tracing-appender's error counter) or, where it counts nothing, what is missing; for
//!   `ttlog_json_drop_fixed` the writer also adds up the `N events dropped` lines that mark
//!   the gaps ("marked"), and a case that lost events gets no ratio to tracing. Each case
//!   runs end to end in five fresh processes (`TTLOG_SUITE_ROUNDS`; one in quick mode), every
//!   case once per round, and the table gives the median rate with the slowest and fastest
//!   run, the fewest lines delivered and the worst run's drops;
//! - the same end to end with two logging threads, each logging half of the events, started
//!   together (as many rounds; delivered and dropped above cover these runs too);
//! - CPU per event end to end: the CPU time of all the process's threads during the
//!   end-to-end run (`getrusage`; the logging thread, its waiting included, and the library's
//!   own threads, those that ended too) divided by the events: what logging costs in all, not
//!   only on the caller's thread;
//! - peak RSS of the process (`VmHWM`).
//!
//! Besides the libraries, two floors: `floor`, a timestamp and a 48-byte store into a
//! thread-local ring that nothing else touches, and `floor_read`, the same ring read by
//! another thread after each burst, as a consumer reads its producers' rings (so each burst
//! writes lines another core read last).
//!
//! The parent prints the table with ratios against the floor and against tracing-subscriber's
//! JSON formatter (caller cost and end-to-end median, all from this run) and writes it to `target/suite/table.md`. Quick mode
//! (`--quick`, or any run that is not `cargo bench`) does a few bursts per case without
//! criterion; it checks that every case still runs and fails only if one crashes: its
//! figures are not measurements. There are no timing assertions.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::values;
use criterion::Criterion;

/// Events per timed burst.
const BURST: u64 = 256;

/// End-to-end runs per case in a full run (one in quick mode; `TTLOG_SUITE_ROUNDS` overrides).
const E2E_ROUNDS: usize = 5;

/// One logging set-up.
struct Case {
    name: &'static str,
    what: &'static str,
    build: fn(&Dirs) -> Setup,
}

/// Where a case may write files.
struct Dirs {
    tmp: PathBuf,
}

/// What a case gives the measuring code.
struct Setup {
    /// Logs `n` enabled events on the calling thread.
    burst: Arc<dyn Fn(u64) + Send + Sync>,
    /// Logs `n` events below the level; `None` where the library has no level (the floor).
    disabled: Option<Box<dyn Fn(u64)>>,
    /// Waits, untimed, until the library's background work caught up with what was logged.
    settle: Box<dyn Fn()>,
    /// Ends the case: writes out everything (timed: part of end to end) and says how to
    /// count what arrived (untimed).
    finish: Box<dyn FnOnce() -> Tally>,
}

/// Counts what reached a case's output.
type Count = Box<dyn FnOnce() -> u64>;

/// What arrived at the end of a case.
#[derive(Default)]
struct Tally {
    /// Counts the lines (events) that reached the output, there; `None` where nothing is
    /// output. Called after the end-to-end clock stopped: reading a file back is not the
    /// library's work.
    delivered: Option<Count>,
    /// Events the library itself counted as dropped; `None` where it counts nothing.
    counted_drops: Option<u64>,
    /// Drops marked in the output (the sum of ttlog's `N events dropped` lines), counted
    /// where the output lands; `None` where the case does not look for markers.
    marked: Option<Count>,
}

// ---------------------------------------------------------------------------------------
// The event, through each library.

fn ttlog_events(n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        ttlog::info!("request handled", user_id, path, latency_ms);
    }
}

fn ttlog_disabled(n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        ttlog::debug!("request handled", user_id, path, latency_ms);
    }
}

fn tracing_events(n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        tracing::info!(user_id, path, latency_ms, "request handled");
    }
}

fn tracing_disabled(n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        tracing::debug!(user_id, path, latency_ms, "request handled");
    }
}

fn log_events(n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        log::info!(user_id, path, latency_ms; "request handled");
    }
}

fn log_disabled(n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        log::debug!(user_id, path, latency_ms; "request handled");
    }
}

/// ftlog prints no key-values (it reads a few of its own), so its users put them in the
/// message.
fn ftlog_events(n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        log::info!("request handled user_id={user_id} path={path} latency_ms={latency_ms}");
    }
}

fn ftlog_disabled(n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        log::debug!("request handled user_id={user_id} path={path} latency_ms={latency_ms}");
    }
}

fn slog_events(logger: &slog::Logger, n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        slog::info!(logger, "request handled"; "user_id" => user_id, "path" => path, "latency_ms" => latency_ms);
    }
}

fn slog_disabled(logger: &slog::Logger, n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        slog::debug!(logger, "request handled"; "user_id" => user_id, "path" => path, "latency_ms" => latency_ms);
    }
}

fn spdlog_events(logger: &spdlog::Logger, n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        spdlog::info!(logger: logger, "request handled", kv: { user_id, path, latency_ms });
    }
}

fn spdlog_disabled(logger: &spdlog::Logger, n: u64) {
    for _ in 0..n {
        let (user_id, path, latency_ms) = values();
        spdlog::debug!(logger: logger, "request handled", kv: { user_id, path, latency_ms });
    }
}

// ---------------------------------------------------------------------------------------
// Outputs that count what reaches them.

/// A writer that throws the bytes away and counts the lines.
#[derive(Clone, Default)]
struct Lines(Arc<AtomicU64>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // memchr: a byte-at-a-time count cost the consumer of the JSON case a quarter of its
        // instructions, which is the writer's work, not the library's.
        let lines = memchr::memchr_iter(b'\n', buf).count() as u64;
        self.0.fetch_add(lines, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A writer that throws ttlog's JSON lines away and counts them, telling events from the
/// `N events dropped` lines that mark gaps (the consumer writes whole lines; a line split
/// across writes is still read whole). Only for the case with drops: looking for markers
/// costs the consumer's thread time that the other cases do not spend.
#[derive(Clone, Default)]
struct MarkedLines(Arc<Mutex<MarkedCount>>);

#[derive(Default)]
struct MarkedCount {
    events: u64,
    marked: u64,
    /// The start of a line the last write did not finish.
    partial: Vec<u8>,
}

/// How a gap marker's count begins in ttlog's JSON (`"fields":{"dropped":N}`).
const MARKER: &[u8] = b"{\"dropped\":";

impl MarkedCount {
    fn line(&mut self, line: &[u8]) {
        match memchr::memmem::find(line, MARKER) {
            Some(at) => {
                let digits = &line[at + MARKER.len()..];
                let end = digits
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .unwrap_or(digits.len());
                let n = std::str::from_utf8(&digits[..end])
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok())
                    .expect("a gap marker's count");
                self.marked += n;
            }
            None => self.events += 1,
        }
    }
}

impl Write for MarkedLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut count = self.0.lock().unwrap();
        let mut rest = buf;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if count.partial.is_empty() {
                count.line(&rest[..end]);
            } else {
                let mut line = std::mem::take(&mut count.partial);
                line.extend_from_slice(&rest[..end]);
                count.line(&line);
            }
            rest = &rest[end + 1..];
        }
        count.partial.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The lines of every file under `dir`, read in small pieces (reading a file whole would add
/// its size to the peak RSS the case reports).
fn lines_under(dir: &Path) -> u64 {
    let mut total = 0;
    let mut buf = vec![0u8; 64 << 10];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            total += lines_under(&path);
        } else if let Ok(mut file) = std::fs::File::open(&path) {
            use std::io::Read;
            while let Ok(n @ 1..) = file.read(&mut buf) {
                total += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            }
        }
    }
    total
}

// ---------------------------------------------------------------------------------------
// The cases.

fn ttlog_builder() -> ttlog::Builder {
    ttlog::init()
        .with_env(false)
        .console(false)
        .level(ttlog::LogLevel::Info)
}

/// ttlog with `sink` (or none), in `overflow` mode, default ring size.
fn ttlog_setup(
    sink: Option<Box<dyn ttlog::Sink>>,
    overflow: ttlog::Overflow,
    burst: Arc<dyn Fn(u64) + Send + Sync>,
    disabled: Box<dyn Fn(u64)>,
    delivered: Option<Count>,
) -> Setup {
    ttlog_setup_with(
        ttlog_builder().overflow(overflow),
        sink,
        burst,
        disabled,
        delivered,
        None,
    )
}

/// ttlog as `builder` says, with `sink` (or none).
fn ttlog_setup_with(
    mut builder: ttlog::Builder,
    sink: Option<Box<dyn ttlog::Sink>>,
    burst: Arc<dyn Fn(u64) + Send + Sync>,
    disabled: Box<dyn Fn(u64)>,
    delivered: Option<Count>,
    marked: Option<Count>,
) -> Setup {
    if let Some(sink) = sink {
        builder = builder.sink(sink);
    }
    let handle = Arc::new(builder.init());
    let settle = {
        let handle = handle.clone();
        Box::new(move || handle.flush())
    };
    Setup {
        burst,
        disabled: Some(disabled),
        settle,
        finish: Box::new(move || {
            handle.flush();
            let stats = handle.stats();
            Tally {
                delivered,
                counted_drops: Some(stats.dropped),
                marked,
            }
        }),
    }
}

fn ttlog_json(overflow: ttlog::Overflow) -> Setup {
    let lines = Lines::default();
    let counted = lines.clone();
    ttlog_setup(
        Some(Box::new(ttlog::WriterSink::new(lines, ttlog::Format::Json))),
        overflow,
        Arc::new(ttlog_events),
        Box::new(ttlog_disabled),
        Some(Box::new(move || counted.count())),
    )
}

fn case_ttlog_recorder(_: &Dirs) -> Setup {
    ttlog_setup(
        None,
        ttlog::Overflow::Block,
        Arc::new(ttlog_events),
        Box::new(ttlog_disabled),
        None,
    )
}

fn case_ttlog_json(_: &Dirs) -> Setup {
    ttlog_json(ttlog::Overflow::Block)
}

fn case_ttlog_json_drop(_: &Dirs) -> Setup {
    ttlog_json(ttlog::Overflow::Drop)
}

/// Drop mode with the ring kept at its default size (no growth during a burst): the
/// end-to-end burst outruns the consumer, and every event is either delivered or counted as
/// dropped and marked in the output.
fn case_ttlog_json_drop_fixed(_: &Dirs) -> Setup {
    let lines = MarkedLines::default();
    let (events, marked) = (lines.clone(), lines.clone());
    ttlog_setup_with(
        ttlog_builder()
            .overflow(ttlog::Overflow::Drop)
            .thread_buffer_max(ttlog::DEFAULT_THREAD_BUFFER),
        Some(Box::new(ttlog::WriterSink::new(lines, ttlog::Format::Json))),
        Arc::new(ttlog_events),
        Box::new(ttlog_disabled),
        Some(Box::new(move || events.0.lock().unwrap().events)),
        Some(Box::new(move || marked.0.lock().unwrap().marked)),
    )
}

fn case_ttlog_file(dirs: &Dirs) -> Setup {
    let dir = dirs.tmp.join("ttlog-file");
    let sink = ttlog::sinks::FileSink::builder(dir.join("requests.log"))
        .max_size(256 << 20)
        .max_files(4)
        .build();
    ttlog_setup(
        Some(Box::new(sink)),
        ttlog::Overflow::Block,
        Arc::new(ttlog_events),
        Box::new(ttlog_disabled),
        Some(Box::new(move || lines_under(&dir))),
    )
}

fn case_ttlog_via_tracing(_: &Dirs) -> Setup {
    use tracing_subscriber::prelude::*;
    let mut setup = ttlog_json(ttlog::Overflow::Block);
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(ttlog_integrations::tracing_compat::TtlogTracingLayer::sole()),
    )
    .expect("the only subscriber");
    setup.burst = Arc::new(tracing_events);
    setup.disabled = Some(Box::new(tracing_disabled));
    setup
}

fn case_ttlog_via_log(_: &Dirs) -> Setup {
    let mut setup = ttlog_json(ttlog::Overflow::Block);
    ttlog_integrations::log_compat::install().expect("the only logger");
    setup.burst = Arc::new(log_events);
    setup.disabled = Some(Box::new(log_disabled));
    setup
}

fn case_ttlog_via_slog(_: &Dirs) -> Setup {
    use slog::Drain;
    let mut setup = ttlog_json(ttlog::Overflow::Block);
    let logger = slog::Logger::root(
        ttlog_integrations::slog_compat::TtlogDrain::new().fuse(),
        slog::o!(),
    );
    let disabled = logger.clone();
    setup.burst = Arc::new(move |n| slog_events(&logger, n));
    setup.disabled = Some(Box::new(move |n| slog_disabled(&disabled, n)));
    setup
}

/// A synchronous library: nothing to settle, everything written when the call returns.
fn synchronous(
    burst: Arc<dyn Fn(u64) + Send + Sync>,
    disabled: Box<dyn Fn(u64)>,
    delivered: Option<Count>,
) -> Setup {
    Setup {
        burst,
        disabled: Some(disabled),
        settle: Box::new(|| {}),
        finish: Box::new(move || Tally {
            delivered,
            counted_drops: None,
            marked: None,
        }),
    }
}

fn case_floor(_: &Dirs) -> Setup {
    Setup {
        burst: Arc::new(common::floor_events),
        disabled: None,
        settle: Box::new(|| {}),
        finish: Box::new(Tally::default),
    }
}

/// Slots of a `floor_read` ring (48 bytes each: 192 KiB, near ttlog's default 256 KiB).
const READ_FLOOR_SLOTS: usize = 4_096;

/// One logging thread's ring of `floor_read`, leaked so that the reader thread can see it.
struct ReadFloorRing {
    slots: Box<[std::cell::UnsafeCell<[u64; 6]>]>,
    head: AtomicU64,
}

// SAFETY: the owning thread writes a slot and then publishes it with a Release store of
// `head`; the reader reads only published slots, and only while every logging thread waits
// for it in `settle` (no slot is written while it reads).
unsafe impl Sync for ReadFloorRing {}

/// Every `floor_read` ring, for the reader.
static READ_FLOOR_RINGS: Mutex<Vec<&'static ReadFloorRing>> = Mutex::new(Vec::new());

std::thread_local! {
    static READ_FLOOR: &'static ReadFloorRing = {
        let ring: &'static ReadFloorRing = Box::leak(Box::new(ReadFloorRing {
            slots: (0..READ_FLOOR_SLOTS)
                .map(|_| std::cell::UnsafeCell::new([0; 6]))
                .collect(),
            head: AtomicU64::new(0),
        }));
        READ_FLOOR_RINGS.lock().unwrap().push(ring);
        ring
    };
}

/// The floor's event (`common::floor_events`) into a ring that another thread reads.
fn read_floor_events(n: u64) {
    READ_FLOOR.with(|ring| {
        for _ in 0..n {
            let (user_id, path, latency_ms) = values();
            let head = ring.head.load(Ordering::Relaxed);
            let slot = [
                common::timestamp(),
                *ring as *const ReadFloorRing as u64, // stands for the callsite
                user_id,
                path.as_ptr() as u64,
                path.len() as u64,
                latency_ms.to_bits(),
            ];
            // SAFETY: only this thread writes this ring, and the reader does not run now
            // (see `ReadFloorRing`); the index is within the slice.
            unsafe { *ring.slots[head as usize % READ_FLOOR_SLOTS].get() = slot };
            ring.head.store(head + 1, Ordering::Release);
        }
    });
}

/// The floor with a consumer's reads: after each burst (in `settle`, untimed) a reader
/// thread reads every slot written since it last read, as ttlog's consumer reads a ring.
/// The next burst then writes lines that another core read last, as ttlog's producer does.
fn case_floor_read(_: &Dirs) -> Setup {
    let (ask, asked) = std::sync::mpsc::channel::<()>();
    let (answer, answered) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut read: Vec<u64> = Vec::new();
        let mut sum = 0u64;
        while asked.recv().is_ok() {
            let rings = READ_FLOOR_RINGS.lock().unwrap().clone();
            read.resize(rings.len(), 0);
            for (ring, from) in rings.iter().zip(read.iter_mut()) {
                let head = ring.head.load(Ordering::Acquire);
                for at in *from..head {
                    // SAFETY: the slot was published (`at < head`, Acquire) and its writer
                    // waits for this answer (see `ReadFloorRing`).
                    let slot = unsafe { *ring.slots[at as usize % READ_FLOOR_SLOTS].get() };
                    sum = slot.iter().fold(sum, |a, &w| a.wrapping_add(w));
                }
                *from = head;
            }
            std::hint::black_box(sum);
            if answer.send(()).is_err() {
                break;
            }
        }
    });
    Setup {
        burst: Arc::new(read_floor_events),
        disabled: None,
        settle: Box::new(move || {
            if ask.send(()).is_ok() {
                let _ = answered.recv();
            }
        }),
        finish: Box::new(Tally::default),
    }
}

/// `common::NoopSubscriber` at info: `debug!` is then disabled, as in the other cases.
struct NoopAtInfo;

impl tracing::Subscriber for NoopAtInfo {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        common::NoopSubscriber.new_span(span)
    }
    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        common::NoopSubscriber.record(span, values)
    }
    fn record_follows_from(&self, span: &tracing::span::Id, follows: &tracing::span::Id) {
        common::NoopSubscriber.record_follows_from(span, follows)
    }
    fn event(&self, event: &tracing::Event<'_>) {
        common::NoopSubscriber.event(event)
    }
    fn enter(&self, span: &tracing::span::Id) {
        common::NoopSubscriber.enter(span)
    }
    fn exit(&self, span: &tracing::span::Id) {
        common::NoopSubscriber.exit(span)
    }
}

fn case_tracing_noop(_: &Dirs) -> Setup {
    tracing::subscriber::set_global_default(NoopAtInfo).expect("the only subscriber");
    tracing::callsite::rebuild_interest_cache();
    synchronous(Arc::new(tracing_events), Box::new(tracing_disabled), None)
}

fn case_log_noop(_: &Dirs) -> Setup {
    log::set_max_level(log::LevelFilter::Info);
    log::set_logger(&common::NoopLog).expect("the only logger");
    synchronous(Arc::new(log_events), Box::new(log_disabled), None)
}

fn case_slog_noop(_: &Dirs) -> Setup {
    use slog::Drain;
    let logger = slog::Logger::root(
        common::NoopDrain.filter_level(slog::Level::Info).fuse(),
        slog::o!(),
    );
    let disabled = logger.clone();
    synchronous(
        Arc::new(move |n| slog_events(&logger, n)),
        Box::new(move |n| slog_disabled(&disabled, n)),
        None,
    )
}

fn tracing_fmt(json: bool) -> Setup {
    let lines = Lines::default();
    let writer = lines.clone();
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone());
    if json {
        tracing::subscriber::set_global_default(builder.json().finish())
    } else {
        tracing::subscriber::set_global_default(builder.compact().finish())
    }
    .expect("the only subscriber");
    synchronous(
        Arc::new(tracing_events),
        Box::new(tracing_disabled),
        Some(Box::new(move || lines.count())),
    )
}

fn case_tracing_fmt_json(_: &Dirs) -> Setup {
    tracing_fmt(true)
}

fn case_tracing_fmt_compact(_: &Dirs) -> Setup {
    tracing_fmt(false)
}

fn case_tracing_appender_json(dirs: &Dirs) -> Setup {
    let dir = dirs.tmp.join("tracing-appender");
    // Defaults: lossy, 128,000 lines buffered.
    let (writer, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::hourly(&dir, "requests.log"));
    let errors = writer.error_counter();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(writer)
            .finish(),
    )
    .expect("the only subscriber");
    let guard = Arc::new(Mutex::new(Some(guard)));
    Setup {
        burst: Arc::new(tracing_events),
        disabled: Some(Box::new(tracing_disabled)),
        // tracing-appender has no flush; its worker writes as fast as it can.
        settle: Box::new(|| std::thread::sleep(Duration::from_millis(1))),
        finish: Box::new(move || {
            // Dropping the guard writes out what is queued.
            drop(guard.lock().unwrap().take());
            Tally {
                delivered: Some(Box::new(move || lines_under(&dir))),
                counted_drops: Some(errors.dropped_lines() as u64),
                marked: None,
            }
        }),
    }
}

fn case_log_env_logger(_: &Dirs) -> Setup {
    let lines = Lines::default();
    let logger = env_logger::Builder::new()
        .filter_level(log::LevelFilter::Info)
        .target(env_logger::Target::Pipe(Box::new(lines.clone())))
        .build();
    log::set_max_level(logger.filter());
    log::set_boxed_logger(Box::new(logger)).expect("the only logger");
    synchronous(
        Arc::new(log_events),
        Box::new(log_disabled),
        Some(Box::new(move || lines.count())),
    )
}

fn case_slog_async_json(_: &Dirs) -> Setup {
    use slog::Drain;
    let lines = Lines::default();
    // slog-async's defaults (a channel of 128) but blocking when full, as ttlog's Block mode:
    // its default drops and writes a report record instead.
    let (drain, guard) = slog_async::Async::new(slog_json::Json::default(lines.clone()).fuse())
        .overflow_strategy(slog_async::OverflowStrategy::Block)
        .build_with_guard();
    // slog filters levels in a drain; in front of the channel, so a debug record costs no copy.
    let logger = slog::Logger::root(drain.filter_level(slog::Level::Info).fuse(), slog::o!());
    let disabled = logger.clone();
    let guard = Mutex::new(Some(guard));
    Setup {
        burst: Arc::new(move |n| slog_events(&logger, n)),
        disabled: Some(Box::new(move |n| slog_disabled(&disabled, n))),
        // No flush in slog-async: give its thread time to drain the channel.
        settle: Box::new(|| std::thread::sleep(Duration::from_millis(1))),
        finish: Box::new(move || {
            // Dropping the guard waits for the thread to write everything.
            drop(guard.lock().unwrap().take());
            Tally {
                delivered: Some(Box::new(move || lines.count())),
                counted_drops: None,
                marked: None,
            }
        }),
    }
}

fn case_spdlog_async(dirs: &Dirs) -> Setup {
    use spdlog::formatter::JsonFormatter;
    use spdlog::sink::{AsyncPoolSink, FileSink};
    let dir = dirs.tmp.join("spdlog");
    let file = FileSink::builder()
        .path(dir.join("requests.log"))
        .formatter(JsonFormatter::new())
        .build_arc()
        .expect("spdlog file sink");
    // Blocks when its queue is full (the default).
    let pool = AsyncPoolSink::builder()
        .sink(file)
        .build_arc()
        .expect("spdlog async sink");
    let logger = spdlog::Logger::builder()
        .sink(pool)
        .level_filter(spdlog::LevelFilter::MoreSevereEqual(spdlog::Level::Info))
        .build_arc()
        .expect("spdlog logger");
    let (burst_logger, disabled_logger, settle_logger) =
        (logger.clone(), logger.clone(), logger.clone());
    Setup {
        burst: Arc::new(move |n| spdlog_events(&burst_logger, n)),
        disabled: Some(Box::new(move |n| spdlog_disabled(&disabled_logger, n))),
        settle: Box::new(move || {
            settle_logger.flush();
            std::thread::sleep(Duration::from_millis(1));
        }),
        finish: Box::new(move || {
            logger.flush();
            // The pool's flush is queued too: wait until the file stops growing.
            let mut last = u64::MAX;
            loop {
                std::thread::sleep(Duration::from_millis(20));
                let now = lines_under(&dir);
                if now == last {
                    break;
                }
                last = now;
            }
            Tally {
                delivered: Some(Box::new(move || last)),
                counted_drops: None,
                marked: None,
            }
        }),
    }
}

fn case_ftlog(dirs: &Dirs) -> Setup {
    let dir = dirs.tmp.join("ftlog");
    std::fs::create_dir_all(&dir).expect("ftlog directory");
    // ftlog's defaults: a bounded queue of 100,000 that discards when full.
    let guard = ftlog::builder()
        .max_log_level(ftlog::LevelFilter::Info)
        .root(ftlog::appender::FileAppender::new(dir.join("requests.log")))
        .try_init()
        .expect("the only logger");
    let guard = Mutex::new(Some(guard));
    Setup {
        burst: Arc::new(ftlog_events),
        disabled: Some(Box::new(ftlog_disabled)),
        settle: Box::new(|| log::logger().flush()),
        finish: Box::new(move || {
            log::logger().flush();
            drop(guard.lock().unwrap().take());
            Tally {
                delivered: Some(Box::new(move || lines_under(&dir))),
                counted_drops: None,
                marked: None,
            }
        }),
    }
}

const CASES: &[Case] = &[
    Case {
        name: "floor",
        what: "TSC read + 48-byte write into a thread-local ring + one Release store",
        build: case_floor,
    },
    Case {
        name: "floor_read",
        what: "the floor, its ring read by another thread after each burst (as a consumer reads)",
        build: case_floor_read,
    },
    Case {
        name: "ttlog_recorder",
        what: "ttlog macros, flight recorder only (no sink)",
        build: case_ttlog_recorder,
    },
    Case {
        name: "ttlog_json",
        what: "ttlog macros, JSON to a counting writer, Block",
        build: case_ttlog_json,
    },
    Case {
        name: "ttlog_json_drop",
        what: "ttlog macros, JSON to a counting writer, Drop (the default)",
        build: case_ttlog_json_drop,
    },
    Case {
        name: "ttlog_json_drop_fixed",
        what: "ttlog macros, JSON to a counting writer, Drop with the ring kept at 256 KiB (no growth): delivered + dropped = sent, each gap marked",
        build: case_ttlog_json_drop_fixed,
    },
    Case {
        name: "ttlog_file",
        what: "ttlog macros, FileSink (JSON, size rotation), Block",
        build: case_ttlog_file,
    },
    Case {
        name: "ttlog_via_tracing",
        what: "tracing macros, TtlogTracingLayer::sole(), JSON, Block",
        build: case_ttlog_via_tracing,
    },
    Case {
        name: "ttlog_via_log",
        what: "log macros, TtlogLogAdapter, JSON, Block",
        build: case_ttlog_via_log,
    },
    Case {
        name: "ttlog_via_slog",
        what: "slog macros, TtlogDrain, JSON, Block",
        build: case_ttlog_via_slog,
    },
    Case {
        name: "tracing_noop",
        what: "tracing into a subscriber that visits fields and does nothing",
        build: case_tracing_noop,
    },
    Case {
        name: "log_noop",
        what: "log into a logger that visits the key-values and does nothing",
        build: case_log_noop,
    },
    Case {
        name: "slog_noop",
        what: "slog into a drain that serializes the key-values into nothing",
        build: case_slog_noop,
    },
    Case {
        name: "tracing_fmt_json",
        what: "tracing-subscriber fmt().json() to a counting writer",
        build: case_tracing_fmt_json,
    },
    Case {
        name: "tracing_fmt_compact",
        what: "tracing-subscriber fmt().compact() to a counting writer",
        build: case_tracing_fmt_compact,
    },
    Case {
        name: "tracing_appender_json",
        what: "tracing-subscriber JSON via tracing-appender non_blocking (defaults) to a file",
        build: case_tracing_appender_json,
    },
    Case {
        name: "log_env_logger",
        what: "log + env_logger to a counting writer",
        build: case_log_env_logger,
    },
    Case {
        name: "slog_async_json",
        what: "slog + slog-async (Block) + slog-json to a counting writer",
        build: case_slog_async_json,
    },
    Case {
        name: "spdlog_async",
        what: "spdlog-rs AsyncPoolSink + FileSink, JSON",
        build: case_spdlog_async,
    },
    Case {
        name: "ftlog",
        what: "ftlog (log macros, message with the values) to a file",
        build: case_ftlog,
    },
];

// ---------------------------------------------------------------------------------------
// Measuring one case (the child process).

/// How long each part runs.
#[derive(Clone, Copy)]
struct Effort {
    quick: bool,
    events: u64,
}

/// The figures of one case, printed by the child as one line of JSON.
#[derive(Default)]
struct Figures {
    caller_ns: Option<Estimate>,
    caller_2t_ns: Option<Estimate>,
    disabled_ns: Option<Estimate>,
    events: u64,
    e2e_secs: f64,
    /// CPU time of every thread of the process during the end-to-end run (the logging
    /// thread, waiting included, and the library's own threads).
    e2e_cpu_secs: Option<f64>,
    /// The logging threads of the end-to-end run.
    e2e_threads: u64,
    delivered: Option<u64>,
    counted_drops: Option<u64>,
    marked: Option<u64>,
    peak_rss_kib: Option<u64>,
}

/// A median with its spread (criterion's confidence interval; in quick mode the 10th and
/// 90th percentiles of the bursts).
#[derive(Clone, Copy)]
struct Estimate {
    median: f64,
    low: f64,
    high: f64,
}

/// Times `bursts` bursts of `BURST` with `settle` between them; ns per event.
fn quick_estimate(bursts: usize, burst: &dyn Fn(u64), settle: &dyn Fn()) -> Estimate {
    let mut per_event: Vec<f64> = (0..bursts)
        .map(|_| {
            let start = Instant::now();
            burst(BURST);
            let ns = start.elapsed().as_nanos() as f64 / BURST as f64;
            settle();
            ns
        })
        .collect();
    per_event.sort_by(f64::total_cmp);
    let at = |q: f64| per_event[((per_event.len() - 1) as f64 * q) as usize];
    Estimate {
        median: at(0.5),
        low: at(0.1),
        high: at(0.9),
    }
}

/// criterion as every timed part of the suite uses it, writing under `dir`.
fn suite_criterion(dir: &Path) -> Criterion {
    Criterion::default()
        .output_directory(dir)
        .sample_size(40)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

/// criterion's median for `group/function`, read back from its output.
fn criterion_estimate(dir: &Path, group: &str, function: &str) -> Option<Estimate> {
    let path = dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let median = &json["median"];
    Some(Estimate {
        median: median["point_estimate"].as_f64()?,
        low: median["confidence_interval"]["lower_bound"].as_f64()?,
        high: median["confidence_interval"]["upper_bound"].as_f64()?,
    })
}

/// A second thread that logs a burst whenever the measuring thread does.
struct Partner {
    n: Arc<AtomicU64>,
    nanos: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    start: Arc<Barrier>,
    done: Arc<Barrier>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Partner {
    fn new(burst: Arc<dyn Fn(u64) + Send + Sync>) -> Partner {
        let n = Arc::new(AtomicU64::new(0));
        let nanos = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(2));
        let done = Arc::new(Barrier::new(2));
        let thread = {
            let (n, nanos, stop, start, done) = (
                n.clone(),
                nanos.clone(),
                stop.clone(),
                start.clone(),
                done.clone(),
            );
            std::thread::spawn(move || {
                loop {
                    start.wait();
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    let began = Instant::now();
                    burst(n.load(Ordering::Acquire));
                    nanos.store(began.elapsed().as_nanos() as u64, Ordering::Release);
                    done.wait();
                }
            })
        };
        Partner {
            n,
            nanos,
            stop,
            start,
            done,
            thread: Some(thread),
        }
    }

    /// Both threads log `n` events at once; the mean of their times.
    fn burst_together(&self, n: u64, burst: &dyn Fn(u64)) -> Duration {
        self.n.store(n, Ordering::Release);
        self.start.wait();
        let began = Instant::now();
        burst(n);
        let own = began.elapsed();
        self.done.wait();
        let partner = Duration::from_nanos(self.nanos.load(Ordering::Acquire));
        (own + partner) / 2
    }
}

impl Drop for Partner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.start.wait();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// CPU time of the whole process so far: every thread, those that already ended included
/// (`getrusage(RUSAGE_SELF)`, from the scheduler's own accounting).
fn process_cpu() -> Option<Duration> {
    // SAFETY: `rusage` is plain integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one `rusage` through the pointer, which points at one.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Some(time(usage.ru_utime) + time(usage.ru_stime))
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Which part of a case a child process measures: the caller costs, or end to end from one
/// or from two logging threads (in a fresh process, so that every line counted at the
/// output is one of its events and the peak RSS is the burst's).
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Caller,
    /// The one-thread caller cost with every thread of the process on one CPU.
    CallerOneCpu,
    EndToEnd {
        threads: u64,
    },
}

/// The cases measured again with every thread on one CPU (`Part::CallerOneCpu`): the floors,
/// ttlog's native cases, tracing's bare dispatch and a library with a background thread.
const ONE_CPU_CASES: &[&str] = &[
    "floor",
    "floor_read",
    "ttlog_recorder",
    "ttlog_json",
    "ttlog_file",
    "tracing_noop",
    "slog_async_json",
];

/// Keeps this process, and every thread it starts from now on, on the CPU it runs on.
/// `false` where that is not possible (then the one-CPU figures are left out).
fn pin_to_one_cpu() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `sched_getcpu` has no preconditions.
        let cpu = unsafe { libc::sched_getcpu() };
        if cpu < 0 {
            return false;
        }
        // SAFETY: `cpu_set_t` is plain integers, for which all zeroes is an empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is a CPU number the kernel gave, within the set's size; `set` is a
        // valid set of the size passed to `sched_setaffinity`.
        unsafe {
            libc::CPU_SET(cpu as usize, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

fn run_case(case: &Case, part: Part, effort: Effort, criterion_dir: &Path) -> Figures {
    let tmp =
        std::env::temp_dir().join(format!("ttlog-suite-{}-{}", case.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("temporary directory");
    let setup = (case.build)(&Dirs { tmp: tmp.clone() });
    let mut figures = Figures::default();
    if let Part::EndToEnd { threads } = part {
        let burst = setup.burst.clone();
        let cpu_before = process_cpu();
        let start = Instant::now();
        // The events split evenly; every thread starts at once, this one among them.
        let share = effort.events / threads;
        let gate = Barrier::new(threads as usize);
        std::thread::scope(|scope| {
            for _ in 1..threads {
                let (burst, gate) = (burst.clone(), &gate);
                scope.spawn(move || {
                    gate.wait();
                    burst(share);
                });
            }
            gate.wait();
            burst(effort.events - share * (threads - 1));
        });
        let tally = (setup.finish)();
        figures.e2e_secs = start.elapsed().as_secs_f64();
        figures.e2e_threads = threads;
        figures.e2e_cpu_secs = cpu_before
            .zip(process_cpu())
            .map(|(before, after)| after.saturating_sub(before).as_secs_f64());
        figures.events = effort.events;
        figures.delivered = tally.delivered.map(|count| count());
        figures.counted_drops = tally.counted_drops;
        figures.marked = tally.marked.map(|count| count());
        figures.peak_rss_kib = peak_rss_kib();
        let _ = std::fs::remove_dir_all(&tmp);
        return figures;
    }
    let burst = setup.burst.clone();
    // Callsites, thread rings and lazily made state, outside every measurement.
    burst(BURST);
    (setup.settle)();
    if part == Part::CallerOneCpu {
        figures.caller_ns = if effort.quick {
            Some(quick_estimate(50, &*burst, &*setup.settle))
        } else {
            suite_criterion(criterion_dir)
                .benchmark_group("caller_one_cpu")
                .bench_function(case.name, |b| {
                    b.iter_custom(|iters| {
                        common::time_in_bursts(iters, BURST, &*burst, &*setup.settle)
                    })
                });
            criterion_estimate(criterion_dir, "caller_one_cpu", case.name)
        };
        let _ = (setup.finish)();
        let _ = std::fs::remove_dir_all(&tmp);
        return figures;
    }

    let partner = Partner::new(burst.clone());
    if effort.quick {
        figures.caller_ns = Some(quick_estimate(50, &*burst, &*setup.settle));
        let together = |n: u64| {
            partner.burst_together(n, &*burst);
        };
        figures.caller_2t_ns = Some(quick_estimate(20, &together, &*setup.settle));
        if let Some(disabled) = &setup.disabled {
            figures.disabled_ns = Some(quick_estimate(50, &**disabled, &|| {}));
        }
    } else {
        let mut c = suite_criterion(criterion_dir);
        c.benchmark_group("caller").bench_function(case.name, |b| {
            b.iter_custom(|iters| common::time_in_bursts(iters, BURST, &*burst, &*setup.settle))
        });
        c.benchmark_group("caller_2_threads")
            .bench_function(case.name, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let together = |n| total += partner.burst_together(n, &*burst);
                    // The burst's own timing is the two threads' mean, not the wall clock.
                    common::time_in_bursts(iters, BURST, together, &*setup.settle);
                    total
                })
            });
        if let Some(disabled) = &setup.disabled {
            c.benchmark_group("disabled")
                .bench_function(case.name, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        disabled(iters);
                        start.elapsed()
                    })
                });
        }
        figures.caller_ns = criterion_estimate(criterion_dir, "caller", case.name);
        figures.caller_2t_ns = criterion_estimate(criterion_dir, "caller_2_threads", case.name);
        figures.disabled_ns = criterion_estimate(criterion_dir, "disabled", case.name);
    }
    drop(partner);
    // Writes out and stops the library's threads before the process exits.
    let _ = (setup.finish)();
    let _ = std::fs::remove_dir_all(&tmp);
    figures
}

// ---------------------------------------------------------------------------------------
// The parent: one child per case, then the table.

fn estimate_json(e: Option<Estimate>) -> serde_json::Value {
    match e {
        Some(e) => serde_json::json!({"median": e.median, "low": e.low, "high": e.high}),
        None => serde_json::Value::Null,
    }
}

fn estimate_from(v: &serde_json::Value) -> Option<Estimate> {
    Some(Estimate {
        median: v["median"].as_f64()?,
        low: v["low"].as_f64()?,
        high: v["high"].as_f64()?,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; `cargo test` does not: then this is the quick smoke run.
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let filter = args.iter().find(|a| !a.starts_with("--")).cloned();
    let events: u64 = std::env::var("TTLOG_SUITE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 20_000 } else { 2_000_000 });
    let effort = Effort { quick, events };
    let out_dir = target_dir().join("suite");
    let criterion_dir = out_dir.join("criterion");

    if let Ok(name) = std::env::var("TTLOG_SUITE_CASE") {
        let case = CASES
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case named {name}"));
        let part = match std::env::var("TTLOG_SUITE_PART").as_deref() {
            Ok("e2e") => Part::EndToEnd { threads: 1 },
            Ok("e2e2") => Part::EndToEnd { threads: 2 },
            Ok("one_cpu") => Part::CallerOneCpu,
            _ => Part::Caller,
        };
        // Before the case starts any thread: they all inherit the affinity.
        let f = if part == Part::CallerOneCpu && !pin_to_one_cpu() {
            Figures::default()
        } else {
            run_case(case, part, effort, &criterion_dir)
        };
        let line = serde_json::json!({
            "case": case.name,
            "caller_ns": estimate_json(f.caller_ns),
            "caller_2t_ns": estimate_json(f.caller_2t_ns),
            "disabled_ns": estimate_json(f.disabled_ns),
            "events": f.events,
            "e2e_secs": f.e2e_secs,
            "e2e_cpu_secs": f.e2e_cpu_secs,
            "e2e_threads": f.e2e_threads,
            "delivered": f.delivered,
            "counted_drops": f.counted_drops,
            "marked": f.marked,
            "peak_rss_kib": f.peak_rss_kib,
        });
        println!("SUITE-RESULT {line}");
        return;
    }

    std::fs::create_dir_all(&out_dir).expect("target/suite");
    let exe = std::env::current_exe().expect("this binary");
    let rounds = std::env::var("TTLOG_SUITE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&r: &usize| r > 0)
        .unwrap_or(if quick { 1 } else { E2E_ROUNDS });
    let mut failed = Vec::new();
    let mut results = Vec::new();
    for case in CASES {
        if filter
            .as_ref()
            .is_some_and(|f| !case.name.contains(f.as_str()))
        {
            continue;
        }
        eprintln!("suite: {} ({})", case.name, case.what);
        let mut caller = match run_child(&exe, case, "caller", quick, events) {
            Ok(caller) => caller,
            Err(why) => {
                eprintln!("suite: case {} failed: {why}", case.name);
                failed.push(case.name);
                continue;
            }
        };
        if ONE_CPU_CASES.contains(&case.name) {
            match run_child(&exe, case, "one_cpu", quick, events) {
                Ok(one_cpu) => caller["one_cpu_ns"] = one_cpu["caller_ns"].clone(),
                Err(why) => {
                    eprintln!("suite: case {} failed: {why}", case.name);
                    failed.push(case.name);
                    continue;
                }
            }
        }
        results.push((case, caller, Vec::new()));
    }
    // End to end: every case once per round, round after round, so that a slow spell of a
    // shared machine falls on all cases alike instead of on one case's only run.
    for round in 1..=rounds {
        eprintln!("suite: end to end, round {round} of {rounds}");
        results.retain_mut(|(case, _, runs)| {
            for part in ["e2e", "e2e2"] {
                match run_child(&exe, case, part, quick, events) {
                    Ok(e2e) => runs.push(e2e),
                    Err(why) => {
                        eprintln!("suite: case {} failed: {why}", case.name);
                        failed.push(case.name);
                        return false;
                    }
                }
            }
            true
        });
    }
    let results: Vec<_> = results
        .into_iter()
        .map(|(case, mut caller, runs)| {
            caller["e2e_runs"] = serde_json::Value::Array(runs);
            (case, caller)
        })
        .collect();

    let table = render(&results, effort, rounds);
    println!("{table}");
    let path = out_dir.join("table.md");
    std::fs::write(&path, &table).expect("write the table");
    eprintln!("suite: table written to {}", path.display());
    if !failed.is_empty() {
        eprintln!(
            "suite: {} case(s) failed: {}",
            failed.len(),
            failed.join(", ")
        );
        std::process::exit(1);
    }
}

/// Runs one part of one case in a process of its own; its figures as JSON.
fn run_child(
    exe: &Path,
    case: &Case,
    part: &str,
    quick: bool,
    events: u64,
) -> Result<serde_json::Value, String> {
    let mut command = Command::new(exe);
    command
        .env("TTLOG_SUITE_CASE", case.name)
        .env("TTLOG_SUITE_PART", part)
        .env("TTLOG_SUITE_EVENTS", events.to_string())
        .env_remove("TTLOG_LEVEL")
        .env_remove("RUST_LOG")
        .arg(if quick { "--quick" } else { "--bench" });
    let output = command
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SUITE-RESULT "))
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok());
    match (output.status.success(), result) {
        (true, Some(result)) => Ok(result),
        _ => Err(format!(
            "{part}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// The cargo target directory (the bench runs from `target/<profile>/deps/`).
fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("this binary");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn ns(e: Option<Estimate>) -> String {
    match e {
        Some(e) if e.median >= 1000.0 => format!("{:.0} [{:.0}, {:.0}]", e.median, e.low, e.high),
        Some(e) => format!("{:.1} [{:.1}, {:.1}]", e.median, e.low, e.high),
        None => "-".to_owned(),
    }
}

fn ratio(a: Option<Estimate>, b: Option<Estimate>) -> String {
    match (a, b) {
        // Two decimals below 10, where a target like "2 × the floor" is read off.
        (Some(a), Some(b)) if b.median > 0.0 => match a.median / b.median {
            r if r < 10.0 => format!("{r:.2}"),
            r => format!("{r:.1}"),
        },
        _ => "-".to_owned(),
    }
}

/// What the end-to-end runs of one case gave: their rates (events per second) in order, and
/// the figures of the worst run for what arrived.
struct EndToEnd {
    /// One logging thread.
    rates: Vec<f64>,
    /// Two logging threads.
    rates_2t: Vec<f64>,
    /// CPU time of all the process's threads per event, in ns (one logging thread).
    cpu_ns: Vec<f64>,
    /// The fewest lines delivered in any run; `None` where the case has no output.
    delivered: Option<u64>,
    /// The drop column of the run that lost the most without counting it (then the most
    /// counted), and whether the runs differed in it.
    dropped: String,
    /// Whether every run delivered all its events (or the case has no output to count).
    lossless: bool,
    peak_rss_kib: Option<u64>,
}

impl EndToEnd {
    fn of(runs: &[serde_json::Value]) -> EndToEnd {
        let (mut rates, mut rates_2t, mut cpu_ns) = (Vec::new(), Vec::new(), Vec::new());
        let mut worst: Option<((u64, u64, u64), String)> = None;
        let mut texts = Vec::new();
        let (mut delivered, mut peak_rss_kib) = (None::<u64>, None::<u64>);
        let mut lossless = true;
        for run in runs {
            let events = run["events"].as_u64().unwrap_or(0);
            let secs = run["e2e_secs"].as_f64().unwrap_or(0.0);
            let two_threads = run["e2e_threads"].as_u64() == Some(2);
            if secs > 0.0 {
                let rate = events as f64 / secs;
                if two_threads {
                    rates_2t.push(rate);
                } else {
                    rates.push(rate);
                }
            }
            if let Some(cpu) = run["e2e_cpu_secs"].as_f64().filter(|_| events > 0)
                && !two_threads
            {
                cpu_ns.push(cpu * 1e9 / events as f64);
            }
            let got = run["delivered"].as_u64();
            delivered = match (delivered, got) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some(k) = run["peak_rss_kib"].as_u64() {
                peak_rss_kib = Some(peak_rss_kib.map_or(k, |p| p.max(k)));
            }
            let counted = run["counted_drops"].as_u64();
            let marked = run["marked"].as_u64();
            let lost = got.map(|d| events.saturating_sub(d));
            lossless &= lost.unwrap_or(0) == 0 && counted.unwrap_or(0) == 0;
            let text = match (counted, lost) {
                (Some(c), Some(l)) if l == c => match marked {
                    Some(m) if m == c => format!("{c} (counted, marked)"),
                    Some(m) => format!("{c} (counted), {m} marked"),
                    None => format!("{c} (counted)"),
                },
                (Some(c), Some(l)) => format!("{c} counted, {l} missing"),
                (Some(c), None) => format!("{c} (counted)"),
                (None, Some(l)) => format!("{l} missing"),
                (None, None) => "-".to_owned(),
            };
            let uncounted = lost.unwrap_or(0).saturating_sub(counted.unwrap_or(0));
            // Drops counted but not marked in the output, where the case looks for markers.
            let unmarked = marked.map_or(0, |m| counted.unwrap_or(0).abs_diff(m));
            let badness = (
                uncounted,
                unmarked,
                counted.unwrap_or(0).max(lost.unwrap_or(0)),
            );
            if worst.as_ref().is_none_or(|(b, _)| badness > *b) {
                worst = Some((badness, text.clone()));
            }
            texts.push(text);
        }
        let mut dropped = worst.map_or_else(|| "-".to_owned(), |(_, text)| text);
        if texts.iter().any(|t| *t != texts[0]) {
            dropped.push_str(&format!(" (worst of {})", texts.len()));
        }
        EndToEnd {
            rates,
            rates_2t,
            cpu_ns,
            delivered,
            dropped,
            lossless,
            peak_rss_kib,
        }
    }

    /// The median rate, events per second (one logging thread).
    fn median(&self) -> Option<f64> {
        median(&self.rates)
    }
}

/// `rates` (events per second) as "median M/s [slowest, fastest]".
fn rate_cell(rates: &[f64]) -> String {
    match median(rates) {
        Some(m) if rates.len() > 1 => {
            let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = rates.iter().copied().fold(0.0, f64::max);
            format!("{:.2} M/s [{:.2}, {:.2}]", m / 1e6, lo / 1e6, hi / 1e6)
        }
        Some(m) => format!("{:.2} M/s", m / 1e6),
        None => "-".to_owned(),
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn render(results: &[(&Case, serde_json::Value)], effort: Effort, rounds: usize) -> String {
    // A case's figure (`key`: "caller_ns", "one_cpu_ns") from this run.
    let find = |name: &str, key: &str| {
        results
            .iter()
            .find(|(c, _)| c.name == name)
            .and_then(|(_, r)| estimate_from(&r[key]))
    };
    let floor = find("floor", "caller_ns");
    let tracing_json = find("tracing_fmt_json", "caller_ns");
    let end_to_end = |r: &serde_json::Value| {
        EndToEnd::of(r["e2e_runs"].as_array().map_or(&[][..], |v| v.as_slice()))
    };
    let tracing_json_e2e = results
        .iter()
        .find(|(c, _)| c.name == "tracing_fmt_json")
        .and_then(|(_, r)| end_to_end(r).median());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ttlog comparison suite, {} mode, {} events end to end; caller and disabled costs in ns \
         per event, median [spread]{}; end to end: the median of {} run{} [slowest, fastest]",
        if effort.quick {
            "quick (smoke run: not measurements)"
        } else {
            "full"
        },
        effort.events,
        if effort.quick {
            " (10th-90th percentile of bursts)"
        } else {
            " (criterion 95 % interval)"
        },
        rounds,
        if rounds == 1 { "" } else { "s" },
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| case | caller, 1 thread | ÷ floor | tracing json ÷ case | caller, 2 threads | disabled | end to end | ÷ tracing json, end to end | CPU per event, end to end | end to end, 2 threads | delivered | dropped | peak RSS |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for (case, r) in results {
        let caller = estimate_from(&r["caller_ns"]);
        let e2e = end_to_end(r);
        let has_output = e2e.delivered.is_some() || case.name.starts_with("ttlog");
        let rate_median = e2e.median().filter(|_| has_output);
        let (rate, rate_2t) = if has_output {
            (rate_cell(&e2e.rates), rate_cell(&e2e.rates_2t))
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        // A case that dropped events did not do the same work: no ratio.
        let versus_tracing = match (rate_median, tracing_json_e2e) {
            (Some(m), Some(t)) if t > 0.0 && e2e.lossless => format!("{:.1}", m / t),
            _ => "-".to_owned(),
        };
        let cpu = median(&e2e.cpu_ns)
            .filter(|_| has_output)
            .map_or("-".to_owned(), |ns| format!("{ns:.0} ns"));
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            case.name,
            ns(caller),
            ratio(caller, floor),
            ratio(tracing_json, caller),
            ns(estimate_from(&r["caller_2t_ns"])),
            ns(estimate_from(&r["disabled_ns"])),
            rate,
            versus_tracing,
            cpu,
            rate_2t,
            e2e.delivered.map_or("-".to_owned(), |d| d.to_string()),
            e2e.dropped,
            e2e.peak_rss_kib
                .map_or("-".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        );
    }
    let _ = writeln!(out);
    for (case, _) in results {
        let _ = writeln!(out, "- `{}`: {}", case.name, case.what);
    }

    // The same callers with every thread of the process on one CPU: what is left when no
    // line a logging thread writes was last read by another core.
    let one_cpu: Vec<_> = results
        .iter()
        .filter_map(|(case, r)| Some((case, estimate_from(&r["one_cpu_ns"])?, r)))
        .collect();
    if !one_cpu.is_empty() {
        let floor_one_cpu = find("floor", "one_cpu_ns");
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Caller, 1 thread, with every thread of the process (the library's too) on one CPU:"
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| case | caller, one CPU | ÷ floor, one CPU | caller, 1 thread (above) | ÷ floor (above) |"
        );
        let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
        for (case, e, r) in one_cpu {
            let caller = estimate_from(&r["caller_ns"]);
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                case.name,
                ns(Some(e)),
                ratio(Some(e), floor_one_cpu),
                ns(caller),
                ratio(caller, floor),
            );
        }
    }
    out
}
