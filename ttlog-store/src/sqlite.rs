//! The SQLite backend: one file, WAL mode, created with its directory when missing.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params_from_iter, types::Value as Sql};
use serde_json::{Map, Value};

use crate::query::{LogQuery, StoredRow, Trend, TrendQuery, like_prefix};
use crate::row::{LogType, NewRow, Stream};
use crate::{Backend, Retention, StoreError};

/// Migrations, in order; `MIGRATIONS[i]` takes the schema to version `i + 1`. The CHECKs
/// compare with `OR` rather than `IN (...)`: SQLite evaluates an `IN` list in a CHECK through
/// a temporary table per row, which cost 4.5 µs a row here (more than the rest of an insert).
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE logs (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL DEFAULT 'system'
        CHECK (type = 'system' OR type = 'job' OR type = 'task'),
    job_run_id TEXT NULL,
    task_run_id TEXT NULL,
    timestamp INTEGER NOT NULL,
    level TEXT NOT NULL DEFAULT 'info' CHECK (level = 'trace' OR level = 'debug'
        OR level = 'info' OR level = 'warn' OR level = 'error'),
    stream TEXT NOT NULL DEFAULT 'system'
        CHECK (stream = 'stdout' OR stream = 'stderr' OR stream = 'system'),
    message TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    target TEXT NOT NULL DEFAULT '',
    trace_id TEXT NULL,
    span_id TEXT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK ((type = 'system') = (job_run_id IS NULL AND task_run_id IS NULL)),
    CHECK ((type = 'task') = (task_run_id IS NOT NULL))
);
CREATE INDEX idx_logs_type ON logs (type);
CREATE INDEX idx_logs_job_run_id ON logs (job_run_id) WHERE job_run_id IS NOT NULL;
CREATE INDEX idx_logs_task_run_id ON logs (task_run_id) WHERE task_run_id IS NOT NULL;
CREATE INDEX idx_logs_timestamp ON logs (timestamp);
CREATE INDEX idx_logs_level ON logs (level);
CREATE INDEX idx_logs_job_run_timestamp ON logs (job_run_id, timestamp) WHERE job_run_id IS NOT NULL;
CREATE INDEX idx_logs_task_run_timestamp ON logs (task_run_id, timestamp) WHERE task_run_id IS NOT NULL;
CREATE INDEX idx_logs_trace_id ON logs (trace_id) WHERE trace_id IS NOT NULL;
"#];

/// Rows per INSERT statement (12 parameters each, well under SQLite's 32,766).
const INSERT_ROWS: usize = 64;

/// `INSERT INTO logs (...) VALUES (?, ...), ...` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO logs (type, job_run_id, task_run_id, timestamp, level, stream, message, \
         metadata, target, trace_id, span_id, created_at) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 0..12 {
            if column > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("?{}", row * 12 + column + 1));
        }
        sql.push(')');
    }
    sql
}

pub(crate) struct Sqlite {
    conn: Connection,
}

fn error(context: &str, err: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("{context}: {err}"))
}

impl Sqlite {
    pub(crate) fn open(path: &Path) -> Result<Sqlite, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unreachable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Unreachable(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| error("busy_timeout", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| StoreError::Unreachable(format!("{}: {e}", path.display())))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| error("synchronous", e))?;
        // Eight indexes are updated per row: a page cache that holds their hot pages (64 MiB
        // instead of 2) keeps inserts from going to the file for them.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(|e| error("cache_size", e))?;
        let mut store = Sqlite { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| error("migrations", e))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS ttlog_migrations (
                version INTEGER PRIMARY KEY,
                applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
            )",
        )
        .map_err(|e| error("migrations", e))?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM ttlog_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(|e| error("migrations", e))?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::TooNew {
                found: current,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql).map_err(|e| error("migrations", e))?;
            tx.execute(
                "INSERT INTO ttlog_migrations (version) VALUES (?1)",
                [i as i64 + 1],
            )
            .map_err(|e| error("migrations", e))?;
        }
        tx.commit().map_err(|e| error("migrations", e))
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    let log_type: String = r.get(1)?;
    let stream: String = r.get(6)?;
    let metadata: String = r.get(8)?;
    Ok(StoredRow {
        id: r.get(0)?,
        log_type: log_type.parse().unwrap_or(LogType::System),
        job_run_id: r.get(2)?,
        task_run_id: r.get(3)?,
        timestamp_ns: r.get(4)?,
        level: r.get(5)?,
        stream: stream.parse().unwrap_or(Stream::System),
        message: r.get(7)?,
        metadata: match serde_json::from_str(&metadata) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        },
        target: r.get(9)?,
        trace_id: r.get(10)?,
        span_id: r.get(11)?,
    })
}

const COLUMNS: &str = "id, type, job_run_id, task_run_id, timestamp, level, stream, message, metadata, target, trace_id, span_id";

/// `WHERE ...` and its parameters for `query` (`?N` placeholders).
fn filter(query: &LogQuery) -> (String, Vec<Sql>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Sql> = Vec::new();
    let mut push = |clause: &str, value: Sql, params: &mut Vec<Sql>| {
        params.push(value);
        clauses.push(clause.replace('?', &format!("?{}", params.len())));
    };
    if let Some(ns) = query.since_ns {
        push("timestamp >= ?", Sql::Integer(ns), &mut params);
    }
    if let Some(ns) = query.until_ns {
        push("timestamp <= ?", Sql::Integer(ns), &mut params);
    }
    if let Some(t) = query.log_type {
        push("type = ?", Sql::Text(t.as_str().into()), &mut params);
    }
    if let Some(id) = &query.job_run_id {
        push("job_run_id = ?", Sql::Text(id.clone()), &mut params);
    }
    if let Some(id) = &query.task_run_id {
        push("task_run_id = ?", Sql::Text(id.clone()), &mut params);
    }
    if let Some(id) = &query.trace_id {
        push("trace_id = ?", Sql::Text(id.clone()), &mut params);
    }
    if let Some(prefix) = &query.target_prefix {
        push(
            "target LIKE ? ESCAPE '\\'",
            Sql::Text(like_prefix(prefix)),
            &mut params,
        );
    }
    if let Some(text) = &query.text {
        push(
            "instr(message, ?) > 0",
            Sql::Text(text.clone()),
            &mut params,
        );
    }
    if let Some(id) = query.after_id {
        push("id > ?", Sql::Integer(id), &mut params);
    }
    if let Some(levels) = query.levels() {
        let mut list = Vec::new();
        for level in levels {
            params.push(Sql::Text(level.into()));
            list.push(format!("?{}", params.len()));
        }
        clauses.push(format!("level IN ({})", list.join(", ")));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, params)
}

impl Backend for Sqlite {
    fn insert(&mut self, rows: &[NewRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(|e| error("insert", e))?;
        // One time for the batch: the default's strftime per row costs more than the row.
        let created_at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        for chunk in rows.chunks(INSERT_ROWS) {
            // Rows go in `INSERT_ROWS` at a time: one statement's overhead for many rows.
            let mut insert = tx
                .prepare_cached(&insert_sql(chunk.len()))
                .map_err(|e| error("insert", e))?;
            let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 12);
            // The statement borrows its parameters: the rows' names live here for it.
            let names: Vec<[&str; 3]> = chunk
                .iter()
                .map(|r| [r.log_type.as_str(), r.level.as_str(), r.stream.as_str()])
                .collect();
            for (row, [log_type, level, stream]) in chunk.iter().zip(&names) {
                params.extend_from_slice(&[
                    log_type as &dyn rusqlite::ToSql,
                    &row.job_run_id,
                    &row.task_run_id,
                    &row.timestamp_ns,
                    level,
                    stream,
                    &row.message,
                    &row.metadata,
                    &row.target,
                    &row.trace_id,
                    &row.span_id,
                    &created_at,
                ]);
            }
            insert
                .execute(params.as_slice())
                .map_err(|e| error("insert", e))?;
        }
        tx.commit().map_err(|e| error("insert", e))
    }

    fn query(&mut self, query: &LogQuery) -> Result<Vec<StoredRow>, StoreError> {
        let (filter, mut params) = filter(query);
        params.push(Sql::Integer(i64::try_from(query.limit).unwrap_or(i64::MAX)));
        let limit = params.len();
        params.push(Sql::Integer(
            i64::try_from(query.offset).unwrap_or(i64::MAX),
        ));
        let offset = params.len();
        let sql = format!(
            "SELECT {COLUMNS} FROM logs{filter} ORDER BY {order} LIMIT ?{limit} OFFSET ?{offset}",
            order = query.order()
        );
        let mut statement = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| error("query", e))?;
        let rows = statement
            .query_map(params_from_iter(params), row)
            .map_err(|e| error("query", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| error("query", e))
    }

    fn count(&mut self, query: &LogQuery) -> Result<u64, StoreError> {
        let (filter, params) = filter(query);
        let sql = format!("SELECT COUNT(*) FROM logs{filter}");
        self.conn
            .query_row(&sql, params_from_iter(params), |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| error("count", e))
    }

    fn get(&mut self, id: i64) -> Result<Option<StoredRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM logs WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(|e| error("get", e))
    }

    fn last_id(&mut self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM logs", [], |r| r.get(0))
            .map_err(|e| error("last id", e))
    }

    fn trends(
        &mut self,
        query: &TrendQuery,
        from_ns: i64,
        until_ns: i64,
    ) -> Result<Vec<Trend>, StoreError> {
        let bucket = i64::try_from(query.bucket.as_nanos())
            .unwrap_or(i64::MAX)
            .max(1);
        let column = query.by.column();
        let mut params = vec![
            Sql::Integer(bucket),
            Sql::Integer(from_ns),
            Sql::Integer(until_ns),
        ];
        let mut level_clause = String::new();
        if let Some(levels) = (LogQuery {
            level: query.level,
            ..LogQuery::default()
        })
        .levels()
        {
            let mut list = Vec::new();
            for level in levels {
                params.push(Sql::Text(level.into()));
                list.push(format!("?{}", params.len()));
            }
            level_clause = format!(" AND level IN ({})", list.join(", "));
        }
        let sql = format!(
            "SELECT (timestamp / ?1) * ?1 AS bucket, {column}, COUNT(*), COUNT(DISTINCT trace_id) \
             FROM logs WHERE timestamp >= ?2 AND timestamp <= ?3{level_clause} \
             GROUP BY bucket, {column} ORDER BY bucket, {column}"
        );
        let mut statement = self.conn.prepare(&sql).map_err(|e| error("trends", e))?;
        let rows = statement
            .query_map(params_from_iter(params), |r| {
                Ok(Trend {
                    bucket_ns: r.get(0)?,
                    key: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                    traces: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(|e| error("trends", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| error("trends", e))
    }

    fn retain(&mut self, retention: &Retention, now_ns: i64) -> Result<u64, StoreError> {
        let mut deleted = 0u64;
        if let Some(age) = retention.max_age {
            let cutoff = now_ns.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
            loop {
                let n = self
                    .conn
                    .execute(
                        "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE timestamp < ?1 LIMIT ?2)",
                        rusqlite::params![cutoff, retention.batch as i64],
                    )
                    .map_err(|e| error("retention", e))?;
                deleted += n as u64;
                if n < retention.batch {
                    break;
                }
            }
        }
        if let Some(max_rows) = retention.max_rows {
            loop {
                let total: i64 = self
                    .conn
                    .query_row("SELECT COUNT(*) FROM logs", [], |r| r.get(0))
                    .map_err(|e| error("retention", e))?;
                let excess = (total as u64).saturating_sub(max_rows);
                if excess == 0 {
                    break;
                }
                let n = self
                    .conn
                    .execute(
                        "DELETE FROM logs WHERE id IN (SELECT id FROM logs ORDER BY timestamp, id LIMIT ?1)",
                        [excess.min(retention.batch as u64) as i64],
                    )
                    .map_err(|e| error("retention", e))?;
                deleted += n as u64;
                if n == 0 {
                    break;
                }
            }
        }
        Ok(deleted)
    }
}
