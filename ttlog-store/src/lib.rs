//! A log store for [ttlog](https://docs.rs/ttlog): every event of a service, and of each job
//! run and task run it executes, in one queryable `logs` table (seed 004's unified table). One
//! machine uses an embedded SQLite file with no set-up (`sqlite:PATH`, feature `sqlite`, on by
//! default); a fleet of services points at one PostgreSQL server (`postgres://…`, feature
//! `postgres`).
//!
//! - [`store_sink`] makes the sink: each event's row is made on ttlog's consumer thread and
//!   queued (a bounded queue), and written in batches (one transaction each) by a thread of
//!   its own; a
//!   store that is down or slow never blocks the program (events wait up to the queue's bound,
//!   then are counted as dropped), and it reconnects with back-off.
//! - [`Store`] opens a store for queries: [`LogQuery`] filters, [`Store::trends`],
//!   [`Store::correlated_errors`], retention.
//!
//! The type of a row comes from the event, with no new logging API: an event whose fields or
//! context carry a `job_run_id` is a job log; with a `task_run_id`, a task log; otherwise a
//! system log (see [`NewRow::from_event`]). So a job runner writes
//! `ttlog::with_context("job_run_id", id, || run(job))`.
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("ttlog-doc-store-{}", std::process::id()));
//! let url = format!("sqlite:{}", dir.join("logs.db").display());
//! let sink = ttlog_store::store_sink(&url, Default::default()).expect("a valid URL");
//! let handle = ttlog::init().console(false).sink(sink).init();
//! ttlog::info!(port = 8080_u16, "server started");
//! drop(handle); // writes what is queued
//!
//! let mut store = ttlog_store::Store::open(&url).expect("the store opens");
//! let rows = store.query(&ttlog_store::LogQuery::new()).expect("a query");
//! assert_eq!(rows[0].message, "server started");
//! # std::fs::remove_dir_all(dir).ok();
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[cfg(feature = "postgres")]
mod postgres;
mod query;
#[cfg(feature = "remote")]
mod remote;
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::io;
use std::time::{Duration, SystemTime};

use ttlog_sinks::{BatchCounters, BatchOptions, BatchWriter, BatchingSink};

pub use query::{LogQuery, StoredRow, Trend, TrendKey, TrendQuery, rfc3339};
#[cfg(feature = "remote")]
pub use remote::{RemoteOptions, remote_sink};
pub use row::{IngestDefaults, LogType, NewRow, Stream, is_uuid, nanos};

/// Why a store could not be opened or used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL is not `sqlite:PATH` or `postgres://…`, or names a backend this build lacks.
    BadUrl(String),
    /// The store cannot be reached (a file that cannot be created, a server that refuses).
    Unreachable(String),
    /// The store was created by a newer version of ttlog.
    TooNew {
        /// Its schema version.
        found: i64,
        /// The newest this version knows.
        known: i64,
    },
    /// A statement failed.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::BadUrl(m) | StoreError::Unreachable(m) | StoreError::Backend(m) => {
                f.write_str(m)
            }
            StoreError::TooNew { found, known } => write!(
                f,
                "the store's schema is version {found}, newer than this ttlog knows ({known}): \
                 upgrade ttlog to use it"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// How much a store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Rows older than this are deleted.
    pub max_age: Option<Duration>,
    /// The oldest rows beyond this count are deleted.
    pub max_rows: Option<u64>,
    /// Rows deleted per statement (small, so writers are not held up).
    pub batch: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: None,
            max_rows: None,
            batch: 10_000,
        }
    }
}

/// What a backend does.
trait Backend: Send {
    fn insert(&mut self, rows: &[NewRow]) -> Result<(), StoreError>;
    fn query(&mut self, query: &LogQuery) -> Result<Vec<StoredRow>, StoreError>;
    fn count(&mut self, query: &LogQuery) -> Result<u64, StoreError>;
    fn get(&mut self, id: i64) -> Result<Option<StoredRow>, StoreError>;
    fn last_id(&mut self) -> Result<i64, StoreError>;
    fn trends(
        &mut self,
        query: &TrendQuery,
        from_ns: i64,
        until_ns: i64,
    ) -> Result<Vec<Trend>, StoreError>;
    fn retain(&mut self, retention: &Retention, now_ns: i64) -> Result<u64, StoreError>;
}

/// Where a store is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(String),
    /// A ttlog server (`ttlog serve`), written to by the remote sink.
    Remote,
}

fn parse_url(url: &str) -> Result<Location, StoreError> {
    let url = url.trim();
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(StoreError::BadUrl(format!(
                "`{url}`: sqlite: needs a path (sqlite:logs.db)"
            )));
        }
        return Ok(Location::Sqlite(path.into()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Location::Postgres(url.to_owned()));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Location::Remote);
    }
    Err(StoreError::BadUrl(format!(
        "`{url}` is not a store URL (expected sqlite:PATH, postgres://user@host:port/db, or \
         the http(s):// address of a ttlog server)"
    )))
}

/// A store, open for queries (and writes).
pub struct Store {
    backend: Box<dyn Backend>,
    url: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

/// `url` without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Opens (and creates, or migrates) the store at `url`: `sqlite:PATH` or
    /// `postgres://user@host:port/db`.
    ///
    /// # Errors
    ///
    /// A bad URL, a backend this build lacks, a store that cannot be reached, or one created
    /// by a newer ttlog.
    // With neither backend (a build that only sends to a server), every arm returns.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        allow(unreachable_code, unused_variables)
    )]
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let backend: Box<dyn Backend> = match parse_url(url)? {
            #[cfg(feature = "sqlite")]
            Location::Sqlite(path) => Box::new(sqlite::Sqlite::open(&path)?),
            #[cfg(not(feature = "sqlite"))]
            Location::Sqlite(_) => {
                return Err(StoreError::BadUrl(
                    "this build of ttlog-store has no SQLite (feature `sqlite`)".into(),
                ));
            }
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => Box::new(postgres::Postgres::open(&url)?),
            #[cfg(not(feature = "postgres"))]
            Location::Postgres(_) => {
                return Err(StoreError::BadUrl(
                    "this build of ttlog-store has no PostgreSQL (feature `postgres`)".into(),
                ));
            }
            Location::Remote => {
                return Err(StoreError::BadUrl(format!(
                    "`{}` is a ttlog server: query it over HTTP (docs/server.md); only a sink \
                     writes to it",
                    redact_url(url)
                )));
            }
        };
        Ok(Store {
            backend,
            url: url.to_owned(),
        })
    }

    /// Stores `rows` in one transaction.
    ///
    /// # Errors
    ///
    /// The store failed; nothing of the batch is stored.
    pub fn insert(&mut self, rows: &[NewRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.backend.insert(rows)
    }

    /// The rows `query` selects, oldest first.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub fn query(&mut self, query: &LogQuery) -> Result<Vec<StoredRow>, StoreError> {
        self.backend.query(query)
    }

    /// How many rows `query` selects, ignoring its limit and offset.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub fn count(&mut self, query: &LogQuery) -> Result<u64, StoreError> {
        self.backend.count(query)
    }

    /// The row with this id.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub fn get(&mut self, id: i64) -> Result<Option<StoredRow>, StoreError> {
        self.backend.get(id)
    }

    /// The highest row id (0 for an empty store): rows written later have higher ids.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub fn last_id(&mut self) -> Result<i64, StoreError> {
        self.backend.last_id()
    }

    /// Counts per bucket, grouped by level, target or type, with distinct trace counts.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub fn trends(&mut self, query: &TrendQuery) -> Result<Vec<Trend>, StoreError> {
        let until = nanos(query.until.unwrap_or_else(SystemTime::now));
        let from = until.saturating_sub(i64::try_from(query.window.as_nanos()).unwrap_or(i64::MAX));
        self.backend.trends(query, from, until)
    }

    /// The other errors related to error `id`: those of its trace, and those within
    /// `window` of it, oldest first.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub fn correlated_errors(
        &mut self,
        id: i64,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let Some(error) = self.get(id)? else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        if let Some(trace) = &error.trace_id {
            found = self.query(
                &LogQuery::new()
                    .trace(trace)
                    .level(ttlog_core::LogLevel::Error)
                    .limit(limit),
            )?;
        }
        let w = i64::try_from(window.as_nanos()).unwrap_or(i64::MAX);
        let mut near = LogQuery::new()
            .level(ttlog_core::LogLevel::Error)
            .limit(limit);
        near.since_ns = Some(error.timestamp_ns.saturating_sub(w));
        near.until_ns = Some(error.timestamp_ns.saturating_add(w));
        for row in self.query(&near)? {
            if !found.iter().any(|r| r.id == row.id) {
                found.push(row);
            }
        }
        found.retain(|r| r.id != id);
        found.sort_by_key(|r| (r.timestamp_ns, r.id));
        found.truncate(limit);
        Ok(found)
    }

    /// Deletes what `retention` says, in small batches; returns the rows deleted.
    ///
    /// # Errors
    ///
    /// The store failed (what was deleted before stays deleted).
    pub fn retain(&mut self, retention: &Retention) -> Result<u64, StoreError> {
        self.backend.retain(retention, nanos(SystemTime::now()))
    }
}

/// Writes batches of events into a store, (re)connecting when needed.
struct StoreWriter {
    url: String,
    store: Option<Store>,
    name: String,
    retention: Option<Retention>,
    /// When retention last ran (it runs after a write, at most once per `RETENTION_EVERY`).
    retained: Option<std::time::Instant>,
    retention_failed: bool,
}

/// How often a store sink applies its retention, at most.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

impl BatchWriter<NewRow> for StoreWriter {
    fn write_batch(&mut self, batch: &[NewRow]) -> io::Result<()> {
        if self.store.is_none() {
            self.store = Some(Store::open(&self.url).map_err(io::Error::other)?);
        }
        let store = self.store.as_mut().expect("opened above");
        match store.insert(batch) {
            Ok(()) => {
                if let Some(retention) = &self.retention
                    && self
                        .retained
                        .is_none_or(|at| at.elapsed() >= RETENTION_EVERY)
                {
                    self.retained = Some(std::time::Instant::now());
                    if let Err(err) = store.retain(retention)
                        && !self.retention_failed
                    {
                        // The batch is written; retention tries again next time.
                        self.retention_failed = true;
                        ttlog_core::write_diagnostic(format_args!(
                            "ttlog: {}: retention failed: {err} (reported once)",
                            self.name
                        ));
                    }
                }
                Ok(())
            }
            Err(err) => {
                // Reconnect before the retry: the connection may be what failed.
                self.store = None;
                Err(io::Error::other(err))
            }
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// A sink that writes every event it gets into the store at `url`, in batches, off the
/// consumer thread (see the crate docs). The store is opened by the sink's thread: a store
/// that is not up yet is retried with back-off, events waiting in the queue meanwhile.
///
/// # Errors
///
/// `url` is not a store URL, or names a backend this build lacks.
pub fn store_sink(url: &str, options: BatchOptions) -> Result<BatchingSink<NewRow>, StoreError> {
    store_sink_with_retention(url, options, None)
}

/// [`store_sink`], applying `retention` after a write, at most once a minute.
///
/// ```
/// use std::time::Duration;
/// use ttlog_store::Retention;
///
/// # let dir = std::env::temp_dir().join(format!("ttlog-doc-retention-{}", std::process::id()));
/// # let url = format!("sqlite:{}", dir.join("logs.db").display());
/// let retention = Retention {
///     max_age: Some(Duration::from_secs(7 * 86_400)),
///     max_rows: Some(10_000_000),
///     ..Retention::default()
/// };
/// let sink = ttlog_store::store_sink_with_retention(&url, Default::default(), Some(retention))
///     .expect("a store URL");
/// # drop(sink);
/// # std::fs::remove_dir_all(dir).ok();
/// ```
///
/// # Errors
///
/// As [`store_sink`].
pub fn store_sink_with_retention(
    url: &str,
    options: BatchOptions,
    retention: Option<Retention>,
) -> Result<BatchingSink<NewRow>, StoreError> {
    match parse_url(url)? {
        #[cfg(not(feature = "sqlite"))]
        Location::Sqlite(_) => {
            return Err(StoreError::BadUrl(
                "this build of ttlog-store has no SQLite (feature `sqlite`)".into(),
            ));
        }
        #[cfg(not(feature = "postgres"))]
        Location::Postgres(_) => {
            return Err(StoreError::BadUrl(
                "this build of ttlog-store has no PostgreSQL (feature `postgres`)".into(),
            ));
        }
        #[cfg(feature = "remote")]
        Location::Remote => {
            if retention.is_some() {
                return Err(StoreError::BadUrl(
                    "retention applies to a store, not to a ttlog server (set it where the \
                     server's store is)"
                        .into(),
                ));
            }
            let options = RemoteOptions {
                batch: options,
                ..RemoteOptions::default()
            };
            return remote_sink(url, options);
        }
        #[cfg(not(feature = "remote"))]
        Location::Remote => {
            return Err(StoreError::BadUrl(
                "this build of ttlog-store cannot send to a ttlog server (feature `remote`)".into(),
            ));
        }
        #[allow(unreachable_patterns)]
        _ => {}
    }
    let writer = StoreWriter {
        url: url.to_owned(),
        store: None,
        name: format!("store {}", redact_url(url)),
        retention,
        retained: None,
        retention_failed: false,
    };
    Ok(row_sink(writer, options))
}

/// A batching sink of rows: each event's row is made on ttlog's consumer thread, so the
/// sink's own thread only writes (the two work side by side).
pub(crate) fn row_sink(
    writer: impl BatchWriter<NewRow>,
    options: BatchOptions,
) -> BatchingSink<NewRow> {
    BatchingSink::with_items(writer, options, BatchCounters::default(), |event| {
        Some(NewRow::from_live_event(event))
    })
}
