//! A file sink with rotation by size and by time, retention by count and by age, and optional
//! compression of rotated files.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use ttlog_core::write_diagnostic as diag;
use ttlog_core::{Event, EventFormatter, Filter, Format, LevelFilter, ParseDirectiveError, Sink};

#[cfg(feature = "gzip")]
use crate::names::gz;
use crate::names::{Names, epoch_secs};

/// Lines are written in batches of about this many bytes (and whenever the consumer runs out
/// of events, and on flush).
const BATCH: usize = 256 * 1024;

/// While the file cannot be written, formatted lines wait in memory up to this many bytes;
/// past it they are dropped, counted, and a line in the file says how many once writing works
/// again.
const MAX_PENDING: usize = 8 << 20;

/// A time period for [`FileSinkBuilder::rotate_every`]: files are cut at multiples of the
/// period since the Unix epoch, in UTC (so `HOURLY` cuts on the hour, `DAILY` at midnight UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(Duration);

impl Period {
    /// Every hour, on the hour (UTC).
    pub const HOURLY: Period = Period(Duration::from_secs(3600));
    /// Every day, at midnight UTC.
    pub const DAILY: Period = Period(Duration::from_secs(86_400));

    /// Any whole number of seconds (at least 1; shorter periods are rounded up to 1 s).
    pub fn every(period: Duration) -> Period {
        Period(period.max(Duration::from_secs(1)))
    }

    fn index(self, at: SystemTime) -> u64 {
        epoch_secs(at) / self.0.as_secs().max(1)
    }
}

/// Where a file sink writes and when it rotates; shared with its housekeeping thread.
#[derive(Debug)]
struct Config {
    names: Names,
    max_size: Option<u64>,
    period: Option<Period>,
    max_files: Option<usize>,
    max_age: Option<Duration>,
    compress: bool,
}

/// Configures a [`FileSink`]; see [`FileSink::builder`].
#[derive(Debug)]
pub struct FileSinkBuilder {
    path: PathBuf,
    format: Format,
    flatten_fields: bool,
    filter: Option<Filter>,
    max_size: Option<u64>,
    period: Option<Period>,
    max_files: Option<usize>,
    max_age: Option<Duration>,
    compress: bool,
}

impl FileSinkBuilder {
    /// The line format: JSON lines (the default), or `Compact`/`Pretty` text (no colours).
    pub fn format(mut self, format: Format) -> FileSinkBuilder {
        self.format = format;
        self
    }

    /// JSON: each field at the top level of the object instead of under `"fields"` (see
    /// [`EventFormatter::with_flattened_fields`]).
    pub fn flatten_fields(mut self, flatten: bool) -> FileSinkBuilder {
        self.flatten_fields = flatten;
        self
    }

    /// Writes events at `level` and above, whatever the logger's level: a file at `debug`
    /// beside a console at `info` (see [`Sink::filter`]). Without it (or
    /// [`filter`](FileSinkBuilder::filter)) the sink follows the logger's filter.
    pub fn level(mut self, level: impl Into<LevelFilter>) -> FileSinkBuilder {
        self.filter = Some(Filter::from_level(level));
        self
    }

    /// Writes the events that `directives` (`RUST_LOG` syntax: `info,billing=debug`) let
    /// through, whatever the logger's filter.
    ///
    /// ```
    /// let sink = ttlog_sinks::FileSink::builder("logs/billing.log")
    ///     .filter("warn,billing=debug")
    ///     .expect("valid directives")
    ///     .build();
    /// # drop(sink);
    /// ```
    ///
    /// # Errors
    ///
    /// A malformed directive, named in the error.
    pub fn filter(mut self, directives: &str) -> Result<FileSinkBuilder, ParseDirectiveError> {
        self.filter = Some(directives.parse()?);
        Ok(self)
    }

    /// Rotates before a line would take the file past `bytes` (a line is never split, and a
    /// single line longer than `bytes` gets a file of its own).
    pub fn max_size(mut self, bytes: u64) -> FileSinkBuilder {
        self.max_size = Some(bytes.max(1));
        self
    }

    /// Rotates when an event's timestamp falls in a new period ([`Period::HOURLY`],
    /// [`Period::DAILY`], or [`Period::every`]).
    pub fn rotate_every(mut self, period: Period) -> FileSinkBuilder {
        self.period = Some(period);
        self
    }

    /// Keeps at most `files` rotated files, deleting the oldest (the active file is not
    /// counted).
    pub fn max_files(mut self, files: usize) -> FileSinkBuilder {
        self.max_files = Some(files);
        self
    }

    /// Deletes rotated files whose rotation time (in their name) is older than `age`.
    pub fn max_age(mut self, age: Duration) -> FileSinkBuilder {
        self.max_age = Some(age);
        self
    }

    /// Compresses rotated files with gzip (`.log.gz`), on a background thread.
    #[cfg(feature = "gzip")]
    pub fn compress(mut self, compress: bool) -> FileSinkBuilder {
        self.compress = compress;
        self
    }

    /// The sink. The file is opened (and its directory created) at the first write; a failure
    /// then is reported like any sink error (once on stderr, counted in `stats()`), the lines
    /// wait in memory (up to 8 MiB) and the sink tries again after the logger's back-off. See
    /// [`try_build`](FileSinkBuilder::try_build) to fail at once instead.
    pub fn build(self) -> FileSink {
        let config = Arc::new(Config {
            names: Names::new(&self.path),
            max_size: self.max_size,
            period: self.period,
            max_files: self.max_files,
            max_age: self.max_age,
            compress: self.compress,
        });
        let name = format!("file:{}", config.names.active().display());
        FileSink {
            formatter: EventFormatter::new(self.format, false)
                .with_flattened_fields(self.flatten_fields),
            format: self.format,
            filter: self.filter,
            config,
            file: None,
            size: 0,
            period: None,
            buf: Vec::with_capacity(BATCH + 4096),
            pending_lines: 0,
            lost: 0,
            dropped_total: Arc::default(),
            marker: None,
            partial: false,
            last_error: None,
            last_rotated: None,
            housekeeping: Housekeeping::default(),
            jobs: None,
            name,
        }
    }

    /// Like [`build`](FileSinkBuilder::build), but opens the file now.
    ///
    /// # Errors
    ///
    /// The directory cannot be created or the file opened for appending.
    pub fn try_build(self) -> io::Result<FileSink> {
        let mut sink = self.build();
        sink.open(SystemTime::now())?;
        Ok(sink)
    }
}

/// Waits for a file sink's background work (compressing rotated files, deleting old ones).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ttlog-doc-housekeeping-{}", std::process::id()));
/// let sink = ttlog_sinks::FileSink::builder(dir.join("app.log")).max_files(5).build();
/// let housekeeping = sink.housekeeping();
/// // ... install the sink, log, flush ...
/// assert!(housekeeping.wait_idle(std::time::Duration::from_secs(5)));
/// # let _ = std::fs::remove_dir_all(dir);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Housekeeping {
    pending: Arc<(Mutex<usize>, Condvar)>,
}

impl Housekeeping {
    /// Waits until no rotated file is waiting to be compressed or cleaned up, at most
    /// `timeout`; whether it got there.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let (count, idle) = &*self.pending;
        let count = count.lock().unwrap_or_else(|p| p.into_inner());
        let (count, _) = idle
            .wait_timeout_while(count, timeout, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *count == 0
    }

    fn add(&self) {
        *self.pending.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }

    fn done(&self) {
        let (count, idle) = &*self.pending;
        let mut count = count.lock().unwrap_or_else(|p| p.into_inner());
        *count = count.saturating_sub(1);
        idle.notify_all();
    }
}

/// Writes events as lines into a file that rotates by size and/or time, keeps a bounded
/// number or age of rotated files, and optionally compresses them.
///
/// The active file is the path given; a rotated file is renamed to
/// `{name}.{UTC timestamp}.{ext}` (`app.20261206T215001Z.log`). Lines are whole in every file:
/// the sink runs on ttlog's consumer thread, which formats and writes one event at a time, and
/// rotation happens between lines. Compression and deletion run on a housekeeping thread of the
/// sink's own, never on the consumer.
///
/// ```
/// use std::time::Duration;
/// use ttlog_sinks::{FileSink, Period};
///
/// # let dir = std::env::temp_dir().join(format!("ttlog-doc-file-{}", std::process::id()));
/// let sink = FileSink::builder(dir.join("orders.log"))
///     .max_size(100 << 20)
///     .rotate_every(Period::DAILY)
///     .max_files(5)
///     .max_age(Duration::from_secs(7 * 86_400))
///     .build();
/// let handle = ttlog::init().console(false).sink(sink).init();
/// ttlog::info!("order placed", order_id = 42_u64);
/// handle.flush();
/// # drop(handle);
/// # let _ = std::fs::remove_dir_all(dir);
/// ```
pub struct FileSink {
    config: Arc<Config>,
    formatter: EventFormatter,
    format: Format,
    filter: Option<Filter>,
    file: Option<File>,
    /// Bytes in the active file.
    size: u64,
    /// The rotation period the active file belongs to.
    period: Option<u64>,
    /// Formatted lines not yet written.
    buf: Vec<u8>,
    pending_lines: u64,
    /// Lines dropped while the file could not be written, not yet reported in it.
    lost: u64,
    /// Every line dropped so far (for ttlog's `stats()`).
    dropped_total: Arc<AtomicU64>,
    /// The "N events dropped" line at the front of `buf`, not yet written: its bytes left to
    /// write and the count it reports.
    marker: Option<(usize, u64)>,
    /// The file ends in the middle of a line (a write failed part way).
    partial: bool,
    last_error: Option<String>,
    /// The time (seconds) and number of the last rotation, so the next sorts after it.
    last_rotated: Option<(u64, u32)>,
    housekeeping: Housekeeping,
    jobs: Option<(Sender<PathBuf>, std::thread::JoinHandle<()>)>,
    name: String,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.config.names.active())
            .field("format", &self.format)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl FileSink {
    /// A builder for a sink writing JSON lines into `path` (no rotation until configured).
    pub fn builder(path: impl Into<PathBuf>) -> FileSinkBuilder {
        FileSinkBuilder {
            path: path.into(),
            format: Format::Json,
            flatten_fields: false,
            filter: None,
            max_size: None,
            period: None,
            max_files: None,
            max_age: None,
            compress: false,
        }
    }

    /// The path of the active file.
    pub fn path(&self) -> PathBuf {
        self.config.names.active()
    }

    /// A handle to wait for the sink's background work (see [`Housekeeping`]).
    pub fn housekeeping(&self) -> Housekeeping {
        self.housekeeping.clone()
    }

    /// Opens (or creates) the active file for appending; rotates it first if it belongs to
    /// an earlier period than `now` (a restart after a boundary).
    fn open(&mut self, now: SystemTime) -> io::Result<()> {
        let path = self.config.names.active();
        std::fs::create_dir_all(&self.config.names.dir)?;
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let meta = file.metadata()?;
        self.size = meta.len();
        self.file = Some(file);
        self.period = self.config.period.map(|p| p.index(now));
        // (Not while the file ends mid-line: the rest of that line must go into it first.)
        if let (Some(period), Ok(modified)) = (self.config.period, meta.modified())
            && self.size > 0
            && !self.partial
            && period.index(modified) < period.index(now)
        {
            self.rotate(modified)?;
            self.period = Some(period.index(now));
        }
        Ok(())
    }

    /// Writes the pending lines (after a line about lost ones, if any). On a failure part way
    /// (a disk that fills up), what was written leaves the buffer and the rest stays, so that
    /// the next attempt continues exactly where the file stops: no line is written twice, and
    /// a line cut by the failure is completed by the next write.
    fn write_pending(&mut self, now: SystemTime) -> io::Result<()> {
        if self.buf.is_empty() && self.lost == 0 {
            return Ok(());
        }
        if self.file.is_none() {
            self.open(now)?;
        }
        if self.lost > 0 {
            // Lines were dropped while the file failed: say so, in place of them. A line cut
            // by the failure that preceded the drop is ended first (it stays incomplete).
            let mut marker = Vec::new();
            if self.partial {
                marker.push(b'\n');
            }
            marker.extend_from_slice(
                lost_line(self.format, now, self.lost, self.last_error.as_deref()).as_bytes(),
            );
            self.buf.splice(0..0, marker.iter().copied());
            self.marker = Some((marker.len(), self.lost));
            self.lost = 0;
            self.partial = false;
        }
        let file = self.file.as_mut().expect("opened above");
        let mut written = 0;
        let mut failure = None;
        while written < self.buf.len() {
            match file.write(&self.buf[written..]) {
                Ok(0) => {
                    failure = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => written += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        self.size += written as u64;
        // memchr's count: a byte loop here was a sixth of the consumer's time in a file
        // sink's end-to-end run (perf, 2,000,000 events).
        let mut lines = memchr::memchr_iter(b'\n', &self.buf[..written]).count() as u64;
        if let Some((bytes, count)) = self.marker {
            if written >= bytes {
                // The marker is not an event; its line is not one of the pending ones.
                lines = lines.saturating_sub(1);
                self.marker = None;
            } else {
                self.marker = Some((bytes - written, count));
            }
        }
        self.pending_lines = self.pending_lines.saturating_sub(lines);
        self.partial = written > 0 && self.buf[written - 1] != b'\n';
        self.buf.drain(..written);
        match failure {
            None => Ok(()),
            Some(err) => Err(err),
        }
    }

    /// `write_pending`, keeping the lines for the next attempt on failure (up to
    /// `MAX_PENDING`), and forgetting the file handle so that the next attempt reopens it.
    fn try_write_pending(&mut self, now: SystemTime) -> io::Result<()> {
        match self.write_pending(now) {
            Ok(()) => {
                self.last_error = None;
                Ok(())
            }
            Err(err) => {
                self.file = None;
                self.last_error = Some(err.to_string());
                if self.buf.len() > MAX_PENDING {
                    // A marker still waiting goes with them; its count comes back.
                    let marker_count = self.marker.take().map_or(0, |(_, count)| count);
                    self.lost += self.pending_lines + marker_count;
                    self.dropped_total
                        .fetch_add(self.pending_lines, std::sync::atomic::Ordering::Relaxed);
                    self.pending_lines = 0;
                    self.buf.clear();
                }
                Err(err)
            }
        }
    }

    /// Renames the active file to a rotated name and opens a new one; hands the rotated file
    /// to the housekeeping thread.
    fn rotate(&mut self, at: SystemTime) -> io::Result<()> {
        let active = self.config.names.active();
        let (rotated, secs, seq) = self.config.names.free_rotated(at, self.last_rotated);
        if let Some(file) = self.file.take() {
            // What was written is in the kernel already; the handle goes before the rename.
            drop(file);
        }
        std::fs::rename(&active, &rotated)?;
        self.last_rotated = Some((secs, seq));
        let file = OpenOptions::new().create(true).append(true).open(&active)?;
        self.file = Some(file);
        self.size = 0;
        self.after_rotation(rotated);
        Ok(())
    }

    fn after_rotation(&mut self, rotated: PathBuf) {
        let config = &self.config;
        if !config.compress && config.max_files.is_none() && config.max_age.is_none() {
            return;
        }
        if self.jobs.is_none() {
            let (tx, rx) = channel();
            let config = Arc::clone(&self.config);
            let housekeeping = self.housekeeping.clone();
            let spawned = std::thread::Builder::new()
                .name("ttlog-file-housekeeping".to_owned())
                .spawn(move || housekeep(config, rx, housekeeping));
            match spawned {
                Ok(join) => self.jobs = Some((tx, join)),
                Err(err) => {
                    diag(format_args!(
                        "ttlog: file sink: no housekeeping thread ({err}); rotated files are \
                         kept as they are"
                    ));
                    return;
                }
            }
        }
        if let Some((tx, _)) = &self.jobs {
            self.housekeeping.add();
            if tx.send(rotated).is_err() {
                self.housekeeping.done();
            }
        }
    }
}

impl Sink for FileSink {
    fn filter(&self) -> Option<Filter> {
        self.filter.clone()
    }

    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        let start = self.buf.len();
        self.formatter.write(event, &mut self.buf);
        let line = self.buf.len() - start;
        let at = event.timestamp();
        let new_period = match (self.config.period, self.period) {
            (Some(period), Some(current)) => period.index(at) > current,
            _ => false,
        };
        let written = self.size + start as u64;
        let too_big = self
            .config
            .max_size
            .is_some_and(|max| written > 0 && written + line as u64 > max);
        if (new_period || too_big) && self.file.is_some() {
            // Everything before this line goes into the file being closed.
            let line_bytes = self.buf.split_off(start);
            let result = self.try_write_pending(at).and_then(|()| self.rotate(at));
            self.buf.extend_from_slice(&line_bytes);
            if let Err(err) = result {
                // This line waits with the others (counted, in case they must be dropped).
                self.pending_lines += 1;
                self.file = None;
                return Err(err);
            }
            if let Some(period) = self.config.period {
                self.period = Some(period.index(at));
            }
        }
        self.pending_lines += 1;
        if self.file.is_none() || self.buf.len() >= BATCH {
            return self.try_write_pending(at);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.try_write_pending(SystemTime::now())?;
        if let Some(file) = &mut self.file {
            file.flush()?;
        }
        Ok(())
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn drop_counter(&self) -> Option<Arc<AtomicU64>> {
        Some(Arc::clone(&self.dropped_total))
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        let _ = self.try_write_pending(SystemTime::now());
        if let Some((tx, join)) = self.jobs.take() {
            drop(tx);
            // The housekeeping thread finishes what it was given; a compression of a large
            // file may take a while, so shutdown waits a bounded time for it.
            if self.housekeeping.wait_idle(Duration::from_secs(5)) {
                let _ = join.join();
            }
        }
    }
}

/// The line that says how many lines were dropped while the file could not be written, in
/// the sink's format (a gap marker, as the logger writes for dropped events).
fn lost_line(format: Format, now: SystemTime, lost: u64, error: Option<&str>) -> String {
    let time = humantime::format_rfc3339_nanos(now);
    let reason = error.unwrap_or("write failed");
    match format {
        Format::Json => {
            let mut reason_json = String::new();
            for c in reason.chars() {
                match c {
                    '"' => reason_json.push_str("\\\""),
                    '\\' => reason_json.push_str("\\\\"),
                    c if (c as u32) < 0x20 => {
                        reason_json.push_str(&format!("\\u{:04x}", c as u32));
                    }
                    c => reason_json.push(c),
                }
            }
            format!(
                "{{\"timestamp\":\"{time}\",\"level\":\"warn\",\"target\":\"ttlog\",\
                 \"message\":\"{lost} events dropped\",\"fields\":{{\"count\":{lost},\
                 \"reason\":\"{reason_json}\"}},\"thread\":\"ttlog-consumer\",\"file\":\"\",\
                 \"line\":0}}\n"
            )
        }
        _ => {
            let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
            format!("{time} WARN ttlog: {lost} events dropped count={lost} reason=\"{reason}\"\n")
        }
    }
}

/// The housekeeping thread: compresses each rotated file (if asked), then applies retention.
fn housekeep(config: Arc<Config>, jobs: Receiver<PathBuf>, housekeeping: Housekeeping) {
    ttlog_core::mark_internal_thread();
    for rotated in jobs {
        if config.compress
            && let Err(err) = compress(&rotated)
        {
            diag(format_args!(
                "ttlog: file sink: cannot compress {}: {err}; kept uncompressed",
                rotated.display()
            ));
        }
        if let Err(err) = apply_retention(&config) {
            diag(format_args!(
                "ttlog: file sink: retention in {}: {err}",
                config.names.dir.display()
            ));
        }
        housekeeping.done();
    }
}

#[cfg(feature = "gzip")]
fn compress(path: &Path) -> io::Result<()> {
    let target = gz(path);
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut input = File::open(path)?;
        let output = File::create(&tmp)?;
        let mut encoder = flate2::write::GzEncoder::new(output, flate2::Compression::default());
        io::copy(&mut input, &mut encoder)?;
        encoder.finish()?.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        std::fs::remove_file(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(not(feature = "gzip"))]
fn compress(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Deletes rotated files beyond `max_files` (oldest first) and older than `max_age`.
fn apply_retention(config: &Config) -> io::Result<()> {
    if config.max_files.is_none() && config.max_age.is_none() {
        return Ok(());
    }
    let rotated = config.names.list_rotated()?;
    let now = epoch_secs(SystemTime::now());
    let excess = config
        .max_files
        .map_or(0, |max| rotated.len().saturating_sub(max));
    for (i, file) in rotated.iter().enumerate() {
        let too_many = i < excess;
        let too_old = config
            .max_age
            .is_some_and(|age| file.secs + age.as_secs() < now);
        if too_many || too_old {
            match std::fs::remove_file(&file.path) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(())
}
