//! Sampling by level and rate limiting by callsite, in front of any sink.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ttlog_core::{Event, Filter, LogLevel, Metadata, Sink, ThreadInfo, ValueRef};

/// What a [`Sampled`] sink lets through.
///
/// Rates are fractions of events kept, per level (1.0 keeps all, 0.0 none); warnings and
/// errors are kept unless their rate is set lower. `per_callsite_per_second` caps how many
/// events of one callsite go through in each second of event time; past it, the sink gets one
/// line per second and callsite: `suppressed N events from <target> <file>:<line>`.
///
/// ```
/// let sampling = ttlog_sinks::Sampling {
///     debug_rate: 0.01,
///     info_rate: 0.1,
///     per_callsite_per_second: Some(100),
///     ..ttlog_sinks::Sampling::default()
/// };
/// # let _ = sampling;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Fraction of error events kept (default 1.0).
    pub error_rate: f64,
    /// Fraction of warnings kept (default 1.0).
    pub warn_rate: f64,
    /// Fraction of info events kept (default 1.0).
    pub info_rate: f64,
    /// Fraction of debug events kept (default 1.0).
    pub debug_rate: f64,
    /// Fraction of trace events kept (default 1.0).
    pub trace_rate: f64,
    /// At most this many events per callsite per second (default: no limit).
    pub per_callsite_per_second: Option<u32>,
}

impl Default for Sampling {
    fn default() -> Sampling {
        Sampling {
            error_rate: 1.0,
            warn_rate: 1.0,
            info_rate: 1.0,
            debug_rate: 1.0,
            trace_rate: 1.0,
            per_callsite_per_second: None,
        }
    }
}

impl Sampling {
    fn rate(&self, level: LogLevel) -> f64 {
        match level {
            LogLevel::Error => self.error_rate,
            LogLevel::Warn => self.warn_rate,
            LogLevel::Info => self.info_rate,
            LogLevel::Debug => self.debug_rate,
            LogLevel::Trace => self.trace_rate,
        }
    }
}

/// How many events a [`Sampled`] sink held back, readable while the logger runs.
#[derive(Debug, Clone, Default)]
pub struct SamplingCounters {
    sampled_out: Arc<AtomicU64>,
    rate_limited: Arc<AtomicU64>,
}

impl SamplingCounters {
    /// Events left out by the level rates.
    pub fn sampled_out(&self) -> u64 {
        self.sampled_out.load(Ordering::Relaxed)
    }

    /// Events left out by the per-callsite limit (each reported in a summary line).
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }
}

/// Changes the [`Sampling`] of a running [`Sampled`] sink (a configuration reload). The sink
/// takes the new rates before the next event it gets, on the consumer thread.
///
/// ```
/// use ttlog_sinks::{Sampled, Sampling};
///
/// let sampled = Sampled::new(ttlog_core::CaptureSink::new(), Sampling::default());
/// let control = sampled.control();
/// let handle = ttlog::init().console(false).sink(sampled).init();
/// // Under load: keep one info event in ten from now on.
/// control.set(Sampling { info_rate: 0.1, ..Sampling::default() });
/// # drop(handle);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SamplingControl {
    next: Arc<Mutex<Option<Sampling>>>,
    changed: Arc<AtomicBool>,
}

impl SamplingControl {
    /// Makes `sampling` the sink's sampling from its next event on.
    pub fn set(&self, sampling: Sampling) {
        *self.next.lock().unwrap_or_else(|p| p.into_inner()) = Some(sampling);
        self.changed.store(true, Ordering::Release);
    }

    fn take(&self) -> Option<Sampling> {
        if !self.changed.swap(false, Ordering::Acquire) {
            return None;
        }
        self.next.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// One callsite's count in the current second.
struct Window {
    second: u64,
    passed: u32,
    suppressed: u64,
    /// For the summary line: where and on which thread the suppressed events were.
    target: String,
    file: String,
    line: u32,
    thread: ThreadInfo,
    last_ns: u64,
}

static SUMMARY: Metadata<'static> = Metadata::new(
    LogLevel::Warn,
    "ttlog",
    "ttlog",
    file!(),
    line!(),
    "suppressed {} events from {} {}:{}",
    4,
    &["suppressed"],
    Some(|out, args| {
        let arg = |i: usize| args.get(i).copied().unwrap_or(ValueRef::None);
        write!(
            out,
            "suppressed {} events from {} {}:{}",
            arg(0),
            arg(1),
            arg(2),
            arg(3)
        )
    }),
);

/// Applies [`Sampling`] in front of a sink, on the consumer thread: the logging threads and
/// the flight recorder are not affected (the recorder keeps every event at its own level).
///
/// ```
/// use ttlog_sinks::{FileSink, Sampled, Sampling};
///
/// # let dir = std::env::temp_dir().join(format!("ttlog-doc-sampled-{}", std::process::id()));
/// let file = FileSink::builder(dir.join("app.log")).build();
/// let sampled = Sampled::new(file, Sampling { info_rate: 0.1, ..Sampling::default() });
/// let counters = sampled.counters();
/// let handle = ttlog::init().console(false).sink(sampled).init();
/// ttlog::info!("cache refreshed");
/// handle.flush();
/// let _left_out = counters.sampled_out();
/// # drop(handle);
/// # let _ = std::fs::remove_dir_all(dir);
/// ```
pub struct Sampled<S> {
    inner: S,
    sampling: Sampling,
    rng: u64,
    windows: HashMap<usize, Window>,
    counters: SamplingCounters,
    control: SamplingControl,
    name: String,
}

impl<S: Sink> std::fmt::Debug for Sampled<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampled")
            .field("sink", &self.inner.name())
            .field("sampling", &self.sampling)
            .finish_non_exhaustive()
    }
}

impl<S: Sink> Sampled<S> {
    /// `inner`, behind `sampling`.
    pub fn new(inner: S, sampling: Sampling) -> Sampled<S> {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64);
        let name = format!("sampled {}", inner.name());
        Sampled {
            inner,
            sampling,
            rng: seed | 1,
            windows: HashMap::new(),
            counters: SamplingCounters::default(),
            control: SamplingControl::default(),
            name,
        }
    }

    /// Counters of what was held back.
    pub fn counters(&self) -> SamplingCounters {
        self.counters.clone()
    }

    /// A handle that changes the sampling while the logger runs.
    pub fn control(&self) -> SamplingControl {
        self.control.clone()
    }

    /// A uniform number in [0, 1) (xorshift64*: sampling needs speed, not secrecy).
    fn uniform(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Writes the summary line of `window`, if it suppressed anything.
    fn summarize(inner: &mut S, window: &mut Window) -> io::Result<()> {
        if window.suppressed == 0 {
            return Ok(());
        }
        let values = [
            ValueRef::U64(window.suppressed),
            ValueRef::Str(&window.target),
            ValueRef::Str(&window.file),
            ValueRef::U64(u64::from(window.line)),
            ValueRef::U64(window.suppressed),
        ];
        let summary = Event::synthetic(&SUMMARY, window.last_ns, &window.thread, &values);
        window.suppressed = 0;
        inner.write(&summary)
    }
}

impl<S: Sink> Sink for Sampled<S> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn filter(&self) -> Option<Filter> {
        self.inner.filter()
    }

    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Some(sampling) = self.control.take() {
            self.sampling = sampling;
        }
        let meta = event.metadata();
        let rate = self.sampling.rate(meta.level());
        if rate < 1.0 && self.uniform() >= rate {
            self.counters.sampled_out.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let Some(limit) = self.sampling.per_callsite_per_second else {
            return self.inner.write(event);
        };
        let second = event.timestamp_nanos() / 1_000_000_000;
        let key = meta as *const Metadata<'_> as usize;
        let window = self.windows.entry(key).or_insert_with(|| Window {
            second,
            passed: 0,
            suppressed: 0,
            target: meta.target().to_owned(),
            file: meta.file().to_owned(),
            line: meta.line(),
            thread: event.thread().clone(),
            last_ns: event.timestamp_nanos(),
        });
        // Events from several threads can arrive a little out of time order: an earlier second
        // than the window's counts in the window rather than starting it over.
        if second > window.second {
            let result = Self::summarize(&mut self.inner, window);
            window.second = second;
            window.passed = 0;
            result?;
        }
        if window.passed < limit {
            window.passed += 1;
            return self.inner.write(event);
        }
        window.suppressed += 1;
        window.last_ns = event.timestamp_nanos();
        if window.thread != *event.thread() {
            window.thread = event.thread().clone();
        }
        self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for window in self.windows.values_mut() {
            if let Err(err) = Self::summarize(&mut self.inner, window) {
                result = Err(err);
            }
        }
        self.inner.flush()?;
        result
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn drop_counter(&self) -> Option<Arc<AtomicU64>> {
        // What sampling leaves out is not lost: it is counted in `SamplingCounters`.
        self.inner.drop_counter()
    }
}
