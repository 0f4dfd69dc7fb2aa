//! Snapshots: the flight recorder's history frozen into a self-describing file.
//!
//! Writing happens in this process (on demand, on panic, on error events, on `SIGUSR1`);
//! reading ([`Snapshot`]) is for tools and tests. The byte layout is in `format.rs` and
//! specified in `docs/snapshot-format.md`.

pub(crate) mod format;
mod read;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use read::{Problem, Salvaged, Snapshot};

use crate::recorder::{HistoryCopy, Recovered, parse_persisted};
use format::{CHUNK_CALLSITES, CHUNK_THREADS, SnapshotWriter};

/// File name extension of snapshots.
pub const SNAPSHOT_EXTENSION: &str = "ttsnap";
/// Snapshot directory when neither `.snapshot_dir()` nor `TTLOG_SNAPSHOT_DIR` says otherwise.
pub const DEFAULT_SNAPSHOT_DIR: &str = "ttlog-snapshots";
/// Snapshots kept per directory by default.
pub const DEFAULT_RETENTION: usize = 20;

/// Why a snapshot could not be written or read.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotError {
    /// No logger with a flight recorder is running.
    NoRecorder,
    /// The recorder stayed locked longer than the snapshot may wait (only seen while another
    /// snapshot or a panic holds it).
    Busy,
    /// Creating, writing or reading a file failed.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The bytes are not a valid snapshot (or recorder file).
    Invalid {
        /// Byte offset in the file where the problem was found.
        offset: u64,
        /// What is wrong.
        problem: Problem,
    },
}

impl Clone for SnapshotError {
    fn clone(&self) -> Self {
        match self {
            SnapshotError::NoRecorder => SnapshotError::NoRecorder,
            SnapshotError::Busy => SnapshotError::Busy,
            SnapshotError::Io { path, source } => SnapshotError::Io {
                path: path.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            SnapshotError::Invalid { offset, problem } => SnapshotError::Invalid {
                offset: *offset,
                problem: problem.clone(),
            },
        }
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::NoRecorder => f.write_str("no ttlog flight recorder is running"),
            SnapshotError::Busy => f.write_str("the flight recorder stayed busy; no snapshot"),
            SnapshotError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            SnapshotError::Invalid { offset, problem } => write!(f, "at byte {offset}: {problem}"),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Where snapshots go and what they say about the process. Fixed at `init`.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotConfig {
    pub(crate) dir: PathBuf,
    pub(crate) retention: usize,
    pub(crate) service: String,
    pub(crate) hostname: String,
    pub(crate) pid: u32,
    pub(crate) started_at: SystemTime,
    pub(crate) recorder_level: String,
}

impl SnapshotConfig {
    pub(crate) fn new(
        dir: PathBuf,
        retention: usize,
        service: Option<String>,
        recorder_level: String,
    ) -> SnapshotConfig {
        SnapshotConfig {
            dir,
            retention: retention.max(1),
            service: service.unwrap_or_else(default_service),
            hostname: hostname(),
            pid: std::process::id(),
            started_at: SystemTime::now(),
            recorder_level,
        }
    }

    /// The process information pairs, without the per-snapshot ones.
    pub(crate) fn process_info(&self) -> Vec<(&'static str, String)> {
        vec![
            ("service", self.service.clone()),
            ("hostname", self.hostname.clone()),
            ("pid", self.pid.to_string()),
            ("ttlog_version", env!("CARGO_PKG_VERSION").to_owned()),
            ("started_at", rfc3339(self.started_at)),
            ("recorder_level", self.recorder_level.clone()),
        ]
    }
}

/// The executable's file name, or `ttlog`.
fn default_service() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "ttlog".to_owned())
}

fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is valid for `buf.len()` bytes; gethostname writes at most that many.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            if end > 0 {
                return String::from_utf8_lossy(&buf[..end]).into_owned();
            }
        }
    }
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "unknown".to_owned())
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Keeps `[A-Za-z0-9_-]`, turns anything else into `-`, at most 40 characters.
fn slug(s: &str) -> String {
    let slug: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if slug.is_empty() {
        "snapshot".to_owned()
    } else {
        slug
    }
}

/// `service-20261121T101500.123456Z-4242-reason.ttsnap`
fn file_name(config: &SnapshotConfig, reason: &str, now: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_micros(now).to_string();
    let stamp: String = stamp.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!(
        "{}-{}-{}-{}.{SNAPSHOT_EXTENSION}",
        slug(&config.service),
        stamp,
        config.pid,
        slug(reason)
    )
}

/// Writes `copy` as a snapshot file in the configured directory; returns its path.
pub(crate) fn write_snapshot(
    config: &SnapshotConfig,
    reason: &str,
    extra: &[(&str, String)],
    copy: &HistoryCopy,
) -> Result<PathBuf, SnapshotError> {
    let dir = &config.dir;
    fs::create_dir_all(dir).map_err(|source| SnapshotError::Io {
        path: dir.clone(),
        source,
    })?;
    let now = SystemTime::now();
    let mut info = config.process_info();
    info.push(("created_at", rfc3339(now)));
    info.push(("reason", reason.to_owned()));
    info.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    let tmp = write_temp(dir, &info, copy)?;
    // Publish under the first free name: `hard_link` never replaces an existing file, so two
    // snapshots taken at once (a signal, a panic and a call) both keep theirs.
    let mut n = 1;
    let path = loop {
        let reason = if n == 1 {
            reason.to_owned()
        } else {
            format!("{reason}-{n}")
        };
        let path = dir.join(file_name(config, &reason, now));
        match fs::hard_link(&tmp, &path) {
            Ok(()) => break path,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => n += 1,
            Err(source) => {
                let _ = fs::remove_file(&tmp);
                return Err(SnapshotError::Io { path, source });
            }
        }
    };
    let _ = fs::remove_file(&tmp);
    apply_retention(dir, config.retention, &path);
    Ok(path)
}

/// Suffix of the temporary file a snapshot is written to before it gets its name.
const TEMP_SUFFIX: &str = ".tmp";
/// A temporary snapshot file older than this is left over (a process killed mid-write) and
/// retention removes it.
const STALE_TEMP: Duration = Duration::from_secs(60);

/// Writes a snapshot into a new temporary file in `dir` (a name no other writer uses) and
/// syncs it; returns its path.
fn write_temp(
    dir: &Path,
    info: &[(&str, String)],
    copy: &HistoryCopy,
) -> Result<PathBuf, SnapshotError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".writing-{}-{n}.{SNAPSHOT_EXTENSION}{TEMP_SUFFIX}",
        std::process::id()
    ));
    let result = (|| {
        let file = File::create(&tmp)?;
        let out = write_copy(BufWriter::with_capacity(256 * 1024, file), info, copy)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(source) => {
            let _ = fs::remove_file(&tmp);
            Err(SnapshotError::Io { path: tmp, source })
        }
    }
}

/// Writes a snapshot of `copy` with `info` into `out`.
pub(crate) fn write_copy<W: io::Write>(
    out: W,
    info: &[(&str, impl AsRef<str>)],
    copy: &HistoryCopy,
) -> io::Result<W> {
    let mut writer = SnapshotWriter::new(out)?;
    writer.info(info)?;
    writer.table(CHUNK_CALLSITES, copy.callsite_count, &copy.callsites)?;
    writer.table(CHUNK_THREADS, copy.thread_count, &copy.threads)?;
    let mut cur = format::Cursor::new(&copy.records);
    while let Some(len) = cur.u32() {
        let Some(record) = cur.take(len as usize) else {
            break;
        };
        writer.event(record)?;
    }
    Ok(writer.finish()?.0)
}

/// Writes a snapshot to `path` through a temporary file, so that readers never see half a
/// file under the final name (replacing a file already there: `recover`'s output).
fn write_file(
    path: &Path,
    info: &[(&str, String)],
    copy: &HistoryCopy,
) -> Result<(), SnapshotError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let tmp = write_temp(dir, info, copy)?;
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        SnapshotError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

/// Deletes the oldest snapshots in `dir` beyond `keep` (never `just_written`), and temporary
/// files left by writers that died (older than a minute).
fn apply_retention(dir: &Path, keep: usize, just_written: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let entries: Vec<fs::DirEntry> = entries.filter_map(Result::ok).collect();
    let now = SystemTime::now();
    for entry in &entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let temp = name.ends_with(&format!(".{SNAPSHOT_EXTENSION}{TEMP_SUFFIX}"));
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TEMP);
        if temp && stale {
            let _ = fs::remove_file(entry.path());
        }
    }
    let mut files: Vec<(SystemTime, PathBuf)> = entries
        .into_iter()
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|ext| ext == SNAPSHOT_EXTENSION)
        })
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    let excess = files.len() - keep;
    for (_, path) in files.into_iter().take(excess) {
        if path != just_written {
            let _ = fs::remove_file(path);
        }
    }
}

/// Turns a persisted recorder file (from [`Builder::persist`](crate::Builder::persist)) into
/// a snapshot at `out`, after a crash or `kill -9`. Torn or damaged records at the end are
/// left out. Returns the number of events written.
///
/// ```no_run
/// let events = ttlog_core::recover("/var/run/orders.ttrec", "/tmp/orders-crash.ttsnap")?;
/// println!("recovered {events} events");
/// # Ok::<(), ttlog_core::SnapshotError>(())
/// ```
pub fn recover(
    recorder_file: impl AsRef<Path>,
    out: impl AsRef<Path>,
) -> Result<u64, SnapshotError> {
    let path = recorder_file.as_ref();
    let bytes = fs::read(path).map_err(|source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    })?;
    let recovered = parse_persisted(&bytes).map_err(|(offset, what)| SnapshotError::Invalid {
        offset: offset as u64,
        problem: Problem::Corrupt(what),
    })?;
    write_recovered(path, &recovered, out.as_ref())
}

/// Writes a parsed recorder file (read from `source`) as a snapshot at `out`.
pub(crate) fn write_recovered(
    source: &Path,
    recovered: &Recovered,
    out: &Path,
) -> Result<u64, SnapshotError> {
    let mut info: Vec<(&str, String)> = recovered
        .info
        .iter()
        .filter(|(k, _)| k != "reason" && k != "created_at")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    info.push(("created_at", rfc3339(SystemTime::now())));
    info.push(("reason", "recovered".to_owned()));
    info.push(("recovered_from", source.display().to_string()));
    info.push((
        "shutdown",
        if recovered.clean { "clean" } else { "unclean" }.to_owned(),
    ));
    if recovered.torn {
        info.push(("torn_record_skipped", "true".to_owned()));
    }
    write_file(out, &info, &recovered.copy)?;
    Ok(recovered.copy.count)
}

/// Milliseconds since the Unix epoch of `t` (for rate limits).
pub(crate) fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

#[cfg(test)]
mod tests {
    //! The reader against damaged input: every truncation and thousands of random corruptions
    //! of a valid snapshot, and random bytes. It may refuse, never panic, and salvage keeps
    //! what is intact.

    use super::format::{RECORD_EVENT, RECORD_MESSAGE, put_gap, put_str, record_header};
    use super::*;
    use crate::callsite::Metadata;
    use crate::level::LogLevel;
    use crate::recorder::History;
    use crate::value::{TAG_STR, TAG_U64};

    static PAYMENT: Metadata<'static> = Metadata::new(
        LogLevel::Info,
        "billing::payments",
        "billing::payments",
        "src/payments.rs",
        42,
        "payment {} captured",
        1,
        &["amount_cents", "currency"],
        Some(|out, _| out.write_str("payment captured")),
    );

    /// A snapshot of `n` events (and a gap marker every 100) with small chunks' worth of data.
    fn sample(n: u64) -> Vec<u8> {
        let mut history = History::in_memory(8 << 20, 1_000_000, 1);
        let id = history.add_callsite(&PAYMENT);
        history.add_thread(1, "checkout-worker");
        let mut record = Vec::new();
        for i in 0..n {
            record.clear();
            if i % 100 == 99 {
                put_gap(&mut record, 1, 1_700_000_000_000_000_000 + i, 3);
            } else {
                record.extend_from_slice(&record_header(
                    RECORD_EVENT,
                    RECORD_MESSAGE,
                    2,
                    id,
                    1,
                    1_700_000_000_000_000_000 + i,
                ));
                put_str(&mut record, &format!("payment {i} captured"));
                record.push(TAG_U64);
                record.extend_from_slice(&(i * 100).to_le_bytes());
                record.push(TAG_STR);
                put_str(&mut record, "EUR");
            }
            history.push(&record);
        }
        write_history(&history, &[("service", "checkout"), ("reason", "test")])
    }

    /// A snapshot file of everything in `history`, with `info`.
    fn write_history(history: &History, info: &[(&str, &str)]) -> Vec<u8> {
        write_copy(Vec::new(), info, &history.copy()).unwrap()
    }

    /// Resident set size of this process in bytes (Linux).
    fn rss() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        statm
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<usize>()
            .unwrap()
            * 4096
    }

    /// A reader owns the callsite table of each snapshot it reads: reading snapshots of ever
    /// new callsites (a server reading the snapshots of a fleet, release after release) does
    /// not grow the process. The previous reader leaked every distinct callsite it met.
    #[test]
    fn reading_snapshots_of_new_callsites_does_not_grow_the_process() {
        let padding = "x".repeat(1024);
        let read_round = |round: usize| {
            let mut history = History::in_memory(4 << 20, 100_000, 1);
            history.add_thread(1, "worker");
            let targets: Vec<String> = (0..100)
                .map(|i| format!("service{round}::module{i}::{padding}"))
                .collect();
            let mut record = Vec::new();
            for (i, target) in targets.iter().enumerate() {
                let meta = Metadata::new(
                    LogLevel::Info,
                    target,
                    target,
                    "src/main.rs",
                    i as u32,
                    "request handled",
                    0,
                    &[],
                    None,
                );
                let id = history.add_callsite(&meta);
                record.clear();
                record.extend_from_slice(&record_header(RECORD_EVENT, 0, 0, id, 1, i as u64));
                history.push(&record);
            }
            let bytes = write_history(&history, &[("reason", "test")]);
            let snapshot = Snapshot::read(&bytes).unwrap();
            let mut targets_seen = 0;
            snapshot.for_each_event(|e| targets_seen += e.target().len());
            assert_eq!(targets_seen, targets.iter().map(String::len).sum::<usize>());
        };
        for round in 0..20 {
            read_round(round);
        }
        let before = rss();
        // 20,000 distinct callsites of ~1 KiB each: the old reader kept ~25 MB of them.
        for round in 20..220 {
            read_round(round);
        }
        let grown = rss().saturating_sub(before);
        assert!(grown < 8 << 20, "grew by {grown} bytes");
    }

    fn count_events(s: &Snapshot) -> usize {
        let mut n = 0;
        s.for_each_event(|e| {
            let _ = e.message().to_string();
            n += 1;
        });
        n
    }

    #[test]
    fn a_valid_snapshot_reads_back_every_event() {
        let bytes = sample(5000);
        let s = Snapshot::read(&bytes).unwrap();
        assert_eq!(s.len(), 5000);
        assert_eq!(s.declared_events(), Some(5000));
        assert_eq!(s.info("service"), Some("checkout"));
        let mut seen = Vec::new();
        s.for_each_event(|e| {
            seen.push((
                e.message().to_string(),
                e.field("currency").map(|v| v.to_string()),
            ))
        });
        assert_eq!(
            seen[0],
            ("payment 0 captured".to_owned(), Some("EUR".to_owned()))
        );
        assert_eq!(seen[99].0, "3 events dropped");
    }

    #[test]
    fn every_truncation_is_an_error_and_salvage_keeps_complete_chunks() {
        // Every prefix length is tried, across two event chunks.
        let bytes = sample(1200);
        let chunks = bytes
            .windows(4)
            .filter(|w| w == format::CHUNK_MAGIC)
            .count();
        assert!(
            chunks >= 6,
            "info, callsites, threads, 2+ events, end: {chunks}"
        );
        let full = Snapshot::read(&bytes).unwrap().len();
        let mut last_salvaged = 0;
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            match Snapshot::read(cut) {
                Err(SnapshotError::Invalid { offset, .. }) => assert!(offset as usize <= len),
                other => panic!("truncated to {len} bytes: {other:?}"),
            }
            let salvaged = Snapshot::salvage(cut);
            assert!(!salvaged.problems.is_empty());
            let n = count_events(&salvaged.snapshot);
            assert_eq!(n, salvaged.snapshot.len());
            // Longer prefixes never salvage fewer events.
            assert!(n >= last_salvaged, "at {len}: {n} < {last_salvaged}");
            last_salvaged = n;
        }
        // Everything but the end chunk (32 bytes) is intact at the end.
        assert_eq!(last_salvaged, full);
    }

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_corruption_never_panics() {
        let bytes = sample(2500);
        let full = Snapshot::read(&bytes).unwrap().len();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..1000 {
            let mut damaged = bytes.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(damaged.len());
                match rng.below(3) {
                    0 => damaged[at] ^= 1 << rng.below(8),
                    1 => damaged[at] = rng.next() as u8,
                    _ => {
                        let end = (at + rng.below(64)).min(damaged.len());
                        damaged.drain(at..end);
                    }
                }
            }
            if let Ok(s) = Snapshot::read(&damaged) {
                count_events(&s);
            }
            let salvaged = Snapshot::salvage(&damaged);
            let n = count_events(&salvaged.snapshot);
            assert!(n <= full + 100, "round {round}: {n} events from {full}");
        }
        for round in 0..2000 {
            let len = rng.below(4096);
            let mut junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if round % 2 == 0 && junk.len() >= 16 {
                // Valid header, junk after it.
                junk[..16].copy_from_slice(&bytes[..16]);
            }
            assert!(Snapshot::read(&junk).is_err());
            let _ = Snapshot::salvage(&junk);
        }
    }

    static CHECKOUT_SPAN: Metadata<'static> = Metadata::new(
        LogLevel::Info,
        "shop",
        "shop",
        "src/shop.rs",
        7,
        "checkout",
        0,
        &["order_id"],
        None,
    );

    /// An event record inside the span `checkout{order_id=42}` with `status="paid"` recorded
    /// later, and the context `request_id=7`.
    fn scoped_record(callsite: u32, span_callsite: u32) -> Vec<u8> {
        use crate::encode::Encoder;
        use crate::event::EventScope;
        use crate::span::SpanRef;
        use crate::trace::{SpanId, TraceId};
        use crate::value::{ValueRef, decode_value};

        let mut values = [0u8; 64];
        let mut enc = Encoder::over_slice(&mut values, false);
        enc.u64(42);
        let values_len = enc.len();
        let mut groups = [[0u8; 64]; 2];
        let [recorded, context] = &mut groups;
        Encoder::over_slice(recorded, false).fields(false, |o| o.field("status", "paid"));
        Encoder::over_slice(context, false).fields(false, |o| o.field("request_id", &7_u64));
        fn group(bytes: &[u8]) -> crate::value::FieldsRef<'_> {
            match decode_value(bytes) {
                Some((ValueRef::Fields(group), _)) => group,
                other => panic!("not a group: {other:?}"),
            }
        }
        let (recorded, context) = (group(recorded), group(context));
        let spans = [SpanRef {
            meta: &CHECKOUT_SPAN,
            span_id: SpanId::from_u64(0x00f0_67aa_0ba9_02b7).unwrap(),
            remote_parent: None,
            values: &values[..values_len],
            nvalues: 1,
            recorded: recorded.body(),
            nrecorded: recorded.len() as u16,
        }];
        let scope = EventScope {
            spans: &spans,
            trace_id: TraceId::from_u128(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            context: Some(context),
            statics: None,
        };
        let mut out = Vec::new();
        out.extend_from_slice(&record_header(
            RECORD_EVENT,
            RECORD_MESSAGE | format::RECORD_SCOPE,
            1,
            callsite,
            1,
            1_700_000_000_000_000_000,
        ));
        put_str(&mut out, "payment 12.99 captured");
        out.push(TAG_U64);
        out.extend_from_slice(&1299_u64.to_le_bytes());
        format::put_scope(&mut out, &scope, &[span_callsite]);
        out
    }

    /// A snapshot holding `records` (checked by CRCs as written, whatever they contain).
    fn snapshot_of(records: &[Vec<u8>]) -> Vec<u8> {
        let mut history = History::in_memory(8 << 20, 1_000_000, 1);
        history.add_callsite(&PAYMENT);
        history.add_callsite(&CHECKOUT_SPAN);
        history.add_thread(1, "checkout-worker");
        for record in records {
            history.push(record);
        }
        write_history(&history, &[("service", "shop")])
    }

    fn json_lines(s: &Snapshot) -> Vec<String> {
        let mut formatter = crate::sink::EventFormatter::new(crate::sink::Format::Json, false);
        let mut lines = Vec::new();
        s.for_each_event(|event| {
            let mut out = Vec::new();
            formatter.write(event, &mut out);
            lines.push(String::from_utf8(out).expect("UTF-8"));
        });
        lines
    }

    #[test]
    fn scope_sections_read_back_and_damaged_ones_never_panic() {
        let good = scoped_record(1, 2);
        let snapshot = Snapshot::read(&snapshot_of(std::slice::from_ref(&good))).unwrap();
        let lines = json_lines(&snapshot);
        assert_eq!(lines.len(), 1);
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            line["span"],
            serde_json::json!({"name": "checkout", "order_id": 42, "status": "paid"})
        );
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["span_id"], "00f067aa0ba902b7");
        assert_eq!(line["context"], serde_json::json!({"request_id": 7}));

        // Records damaged before they were written (so their CRCs are valid): every
        // truncation, and random byte changes, including of the span's callsite id.
        let mut damaged: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..3000 {
            let mut record = good.clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(record.len());
                record[at] = rng.next() as u8;
            }
            damaged.push(record);
        }
        damaged.push(scoped_record(1, 99));
        for chunk in damaged.chunks(64) {
            let bytes = snapshot_of(chunk);
            if let Ok(s) = Snapshot::read(&bytes) {
                json_lines(&s);
            }
            json_lines(&Snapshot::salvage(&bytes).snapshot);
        }
    }

    #[test]
    fn a_foreign_file_is_not_a_snapshot() {
        let err = Snapshot::read(b"{\"timestamp\":\"2026-01-01\"}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "at byte 0: not a ttlog snapshot (no TTLOGSNP magic)"
        );
        let mut future = sample(10);
        future[8] = 9;
        assert!(matches!(
            Snapshot::read(&future),
            Err(SnapshotError::Invalid {
                offset: 8,
                problem: Problem::UnsupportedVersion(9)
            })
        ));
    }

    #[test]
    fn a_damaged_recorder_file_recovers_without_panicking() {
        let dir = std::env::temp_dir().join(format!("ttlog-rec-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("unit.ttrec");
        {
            let (mut history, _) =
                History::persisted(&path, 64 * 1024, 10_000, 1, &[("service", "unit")]).unwrap();
            let id = history.add_callsite(&PAYMENT);
            history.add_thread(7, "worker");
            let mut record = Vec::new();
            for i in 0..2000u64 {
                record.clear();
                record.extend_from_slice(&record_header(RECORD_EVENT, RECORD_MESSAGE, 1, id, 7, i));
                put_str(&mut record, "payment captured");
                record.push(TAG_U64);
                record.extend_from_slice(&i.to_le_bytes());
                history.push(&record);
            }
        }
        let bytes = std::fs::read(&path).unwrap();
        let intact = crate::recorder::parse_persisted(&bytes).unwrap();
        assert!(intact.copy.count > 100 && !intact.torn);
        let mut rng = Rng(42);
        for _ in 0..300 {
            let mut damaged = bytes.clone();
            let at = rng.below(damaged.len());
            damaged[at] ^= 0xff;
            if rng.below(4) == 0 {
                damaged.truncate(rng.below(damaged.len()));
            }
            if let Ok(r) = crate::recorder::parse_persisted(&damaged) {
                assert!(r.copy.count <= intact.copy.count);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
