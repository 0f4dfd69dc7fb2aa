//! Report input from a log store: the rows of a trace, or those around one row.

use std::fmt;

use ttlog_store::{LogQuery, Store, StoreError, StoredRow};

use crate::input::{Input, LogEvent};

/// Rows read for one report, at most.
pub const MAX_REPORT_ROWS: usize = 10_000;

/// What a report on a store is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// Every row of this trace.
    Trace(&'a str),
    /// This row (the trigger) and the rows from five minutes before it to one minute after.
    Row(i64),
}

/// Why a store's rows could not be made into report input.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoredInputError {
    /// The store failed.
    Store(StoreError),
    /// There is no row with this id.
    NoSuchRow(i64),
    /// Nothing matched.
    NoRows,
    /// A stored row is not a log event (the store was written by something else).
    BadRow(String),
}

impl fmt::Display for StoredInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredInputError::Store(e) => write!(f, "{e}"),
            StoredInputError::NoSuchRow(id) => write!(f, "no row {id} in the store"),
            StoredInputError::NoRows => f.write_str("no rows to report on"),
            StoredInputError::BadRow(e) => write!(f, "a stored row does not read back: {e}"),
        }
    }
}

impl std::error::Error for StoredInputError {}

impl From<StoreError> for StoredInputError {
    fn from(e: StoreError) -> Self {
        StoredInputError::Store(e)
    }
}

/// A stored row as report input.
///
/// # Errors
///
/// The row's JSON is not a log event.
pub fn log_event(row: &StoredRow) -> Result<LogEvent, StoredInputError> {
    serde_json::from_value(row.to_json()).map_err(|e| StoredInputError::BadRow(e.to_string()))
}

/// The rows `subject` names, as report input, with the index of the trigger (for a row).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ttlog-doc-stored-{}", std::process::id()));
/// # let url = format!("sqlite:{}", dir.join("logs.db").display());
/// use ttlog_export::stored::{Subject, report_input};
/// use ttlog_store::{IngestDefaults, NewRow, Store};
///
/// let mut store = Store::open(&url)?;
/// let line = r#"{"timestamp":"2026-12-06T10:00:00Z","level":"error","target":"checkout","message":"payment declined","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#;
/// store.insert(&[NewRow::from_line(line, &IngestDefaults::default(), 0)])?;
/// let (input, trigger) = report_input(&mut store, Subject::Trace("4bf92f3577b34da6a3ce929d0e0e4736"))?;
/// assert_eq!(input.events.len(), 1);
/// assert_eq!(trigger, None);
/// # std::fs::remove_dir_all(dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The store failed, the row does not exist, nothing matched, or a row does not read back.
pub fn report_input(
    store: &mut Store,
    subject: Subject<'_>,
) -> Result<(Input, Option<usize>), StoredInputError> {
    let (rows, trigger_id) = match subject {
        Subject::Trace(trace) => (
            store.query(&LogQuery::new().trace(trace).limit(MAX_REPORT_ROWS))?,
            None,
        ),
        Subject::Row(id) => {
            let row = store.get(id)?.ok_or(StoredInputError::NoSuchRow(id))?;
            let mut around = LogQuery::new().limit(MAX_REPORT_ROWS);
            around.since_ns = Some(row.timestamp_ns.saturating_sub(300_000_000_000));
            around.until_ns = Some(row.timestamp_ns.saturating_add(60_000_000_000));
            (store.query(&around)?, Some(id))
        }
    };
    if rows.is_empty() {
        return Err(StoredInputError::NoRows);
    }
    let trigger = trigger_id.and_then(|id| rows.iter().position(|r| r.id == id));
    let events = rows.iter().map(log_event).collect::<Result<Vec<_>, _>>()?;
    Ok((
        Input {
            events,
            info: Vec::new(),
            source: String::new(),
        },
        trigger,
    ))
}
