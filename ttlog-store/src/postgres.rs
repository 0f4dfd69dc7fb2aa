//! The PostgreSQL backend: one server for a fleet of services. Rows go in with binary `COPY`, one
//! transaction per batch; migrations take an advisory lock, so services that start together
//! migrate once.

use bytes::{BufMut, BytesMut};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls};
use serde_json::{Map, Value};

use crate::query::{LogQuery, StoredRow, Trend, TrendQuery, like_prefix};
use crate::row::{LogType, NewRow, Stream};
use crate::{Backend, Retention, StoreError, redact_url};

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE logs (
    id BIGSERIAL PRIMARY KEY,
    type TEXT NOT NULL DEFAULT 'system' CHECK (type IN ('system', 'job', 'task')),
    job_run_id UUID NULL,
    task_run_id UUID NULL,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT now(),
    level TEXT NOT NULL DEFAULT 'info' CHECK (level IN ('trace', 'debug', 'info', 'warn', 'error')),
    stream TEXT NOT NULL DEFAULT 'system' CHECK (stream IN ('stdout', 'stderr', 'system')),
    message TEXT NOT NULL,
    metadata JSONB NOT NULL DEFAULT '{}',
    target TEXT NOT NULL DEFAULT '',
    trace_id TEXT NULL,
    span_id TEXT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
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

/// A key for `pg_advisory_xact_lock` ("ttlog" in ASCII).
const MIGRATION_LOCK: i64 = 0x0074_746c_6f67;

pub(crate) struct Postgres {
    client: Client,
}

fn error(context: &str, err: postgres::Error) -> StoreError {
    StoreError::Backend(format!("{context}: {}", describe(&err)))
}

/// What went wrong, said in full: `postgres::Error` displays a server's refusal as
/// "db error" alone and keeps the server's message (a failed password, a missing database,
/// a violated constraint) in its source.
fn describe(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl Postgres {
    pub(crate) fn open(url: &str) -> Result<Postgres, StoreError> {
        let client = Client::connect(url, NoTls).map_err(|e| {
            StoreError::Unreachable(format!("{}: {}", redact_url(url), describe(&e)))
        })?;
        let mut store = Postgres { client };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| error("migrations", e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| error("migrations", e))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS ttlog_migrations (
                version INTEGER PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
            )",
        )
        .map_err(|e| error("migrations", e))?;
        let current: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM ttlog_migrations",
                &[],
            )
            .map_err(|e| error("migrations", e))?
            .get(0);
        let known = MIGRATIONS.len() as i64;
        if i64::from(current) > known {
            return Err(StoreError::TooNew {
                found: i64::from(current),
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.batch_execute(sql).map_err(|e| error("migrations", e))?;
            let version = i as i32 + 1;
            tx.execute(
                "INSERT INTO ttlog_migrations (version) VALUES ($1)",
                &[&version],
            )
            .map_err(|e| error("migrations", e))?;
        }
        tx.commit().map_err(|e| error("migrations", e))
    }
}

/// The column types of the binary `COPY` of [`Backend::insert`].
const COPY_TYPES: [Type; 11] = [
    Type::TEXT,
    Type::UUID,
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// `text` with NUL (which PostgreSQL text cannot hold) replaced.
fn no_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A UUID in its text form (rows carry checked, lower-case UUIDs), sent as PostgreSQL's 16
/// bytes.
#[derive(Debug)]
struct UuidText<'a>(&'a str);

impl ToSql for UuidText<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let digits: Vec<u8> = self.0.bytes().filter(|b| *b != b'-').collect();
        if digits.len() != 32 {
            return Err(format!("`{}` is not a UUID", self.0).into());
        }
        for pair in digits.chunks(2) {
            let byte = std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("`{}` is not a UUID", self.0))?;
            out.put_u8(byte);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

/// JSON text sent as JSONB (version 1 of its binary form: the text after a version byte).
#[derive(Debug)]
struct JsonbText(String);

impl ToSql for JsonbText {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_u8(1);
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}

/// The WHERE clause and parameters of `query`, numbered from `$1`.
fn filter(query: &LogQuery) -> (String, Vec<Box<dyn ToSql + Sync>>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    fn push(
        clauses: &mut Vec<String>,
        params: &mut Vec<Box<dyn ToSql + Sync>>,
        clause: &str,
        value: Box<dyn ToSql + Sync>,
    ) {
        params.push(value);
        clauses.push(clause.replace('$', &format!("${}", params.len())));
    }
    let (c, p) = (&mut clauses, &mut params);
    if let Some(ns) = query.since_ns {
        push(
            c,
            p,
            "timestamp >= 'epoch'::timestamptz + $::bigint * interval '1 microsecond'",
            Box::new(ns / 1000),
        );
    }
    if let Some(ns) = query.until_ns {
        push(
            c,
            p,
            "timestamp <= 'epoch'::timestamptz + $::bigint * interval '1 microsecond'",
            Box::new(ns / 1000),
        );
    }
    if let Some(t) = query.log_type {
        push(c, p, "type = $::text", Box::new(t.as_str().to_owned()));
    }
    if let Some(id) = &query.job_run_id {
        push(c, p, "job_run_id = $::text::uuid", Box::new(id.clone()));
    }
    if let Some(id) = &query.task_run_id {
        push(c, p, "task_run_id = $::text::uuid", Box::new(id.clone()));
    }
    if let Some(id) = &query.trace_id {
        push(c, p, "trace_id = $::text", Box::new(id.clone()));
    }
    if let Some(prefix) = &query.target_prefix {
        push(
            c,
            p,
            "target LIKE $::text ESCAPE '\\'",
            Box::new(like_prefix(prefix)),
        );
    }
    if let Some(text) = &query.text {
        push(c, p, "strpos(message, $::text) > 0", Box::new(text.clone()));
    }
    if let Some(id) = query.after_id {
        push(c, p, "id > $::bigint", Box::new(id));
    }
    if let Some(levels) = query.levels() {
        let levels: Vec<String> = levels.into_iter().map(str::to_owned).collect();
        push(c, p, "level = ANY($::text[])", Box::new(levels));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, params)
}

const COLUMNS: &str = "id, type, job_run_id::text, task_run_id::text, \
    (extract(epoch FROM timestamp) * 1000000)::bigint, level, stream, message, metadata::text, \
    target, trace_id, span_id";

fn row(r: &postgres::Row) -> StoredRow {
    let log_type: String = r.get(1);
    let stream: String = r.get(6);
    let metadata: String = r.get(8);
    let micros: i64 = r.get(4);
    StoredRow {
        id: r.get(0),
        log_type: log_type.parse().unwrap_or(LogType::System),
        job_run_id: r.get(2),
        task_run_id: r.get(3),
        timestamp_ns: micros.saturating_mul(1000),
        level: r.get(5),
        stream: stream.parse().unwrap_or(Stream::System),
        message: r.get(7),
        metadata: match serde_json::from_str(&metadata) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        },
        target: r.get(9),
        trace_id: r.get(10),
        span_id: r.get(11),
    }
}

fn refs(params: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref()).collect()
}

impl Backend for Postgres {
    fn insert(&mut self, rows: &[NewRow]) -> Result<(), StoreError> {
        let mut tx = self.client.transaction().map_err(|e| error("insert", e))?;
        let sink = tx
            .copy_in(
                "COPY logs (type, job_run_id, task_run_id, timestamp, level, stream, message, \
                 metadata, target, trace_id, span_id) FROM STDIN (FORMAT binary)",
            )
            .map_err(|e| error("insert", e))?;
        let mut writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
        for row in rows {
            // Microseconds: PostgreSQL's precision.
            let timestamp = std::time::UNIX_EPOCH
                + std::time::Duration::from_micros(
                    u64::try_from(row.timestamp_ns.div_euclid(1000)).unwrap_or(0),
                );
            let job_run_id = row.job_run_id.as_deref().map(UuidText);
            let task_run_id = row.task_run_id.as_deref().map(UuidText);
            // PostgreSQL text and JSONB cannot hold NUL.
            let message = no_nul(&row.message);
            let target = no_nul(&row.target);
            let metadata = JsonbText(row.metadata.replace("\\u0000", "\\ufffd"));
            writer
                .write(&[
                    &row.log_type.as_str(),
                    &job_run_id,
                    &task_run_id,
                    &timestamp,
                    &row.level.as_str(),
                    &row.stream.as_str(),
                    &message.as_ref(),
                    &metadata,
                    &target.as_ref(),
                    &row.trace_id.as_deref(),
                    &row.span_id.as_deref(),
                ])
                .map_err(|e| error("insert", e))?;
        }
        writer.finish().map_err(|e| error("insert", e))?;
        tx.commit().map_err(|e| error("insert", e))
    }

    fn query(&mut self, query: &LogQuery) -> Result<Vec<StoredRow>, StoreError> {
        let (filter, mut params) = filter(query);
        params.push(Box::new(i64::try_from(query.limit).unwrap_or(i64::MAX)));
        let limit = params.len();
        params.push(Box::new(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        let offset = params.len();
        let sql = format!(
            "SELECT {COLUMNS} FROM logs{filter} ORDER BY {order} LIMIT ${limit} OFFSET ${offset}",
            order = query.order()
        );
        let rows = self
            .client
            .query(&sql, &refs(&params))
            .map_err(|e| error("query", e))?;
        Ok(rows.iter().map(row).collect())
    }

    fn count(&mut self, query: &LogQuery) -> Result<u64, StoreError> {
        let (filter, params) = filter(query);
        let n: i64 = self
            .client
            .query_one(
                &format!("SELECT COUNT(*) FROM logs{filter}"),
                &refs(&params),
            )
            .map_err(|e| error("count", e))?
            .get(0);
        Ok(n as u64)
    }

    fn get(&mut self, id: i64) -> Result<Option<StoredRow>, StoreError> {
        let rows = self
            .client
            .query(&format!("SELECT {COLUMNS} FROM logs WHERE id = $1"), &[&id])
            .map_err(|e| error("get", e))?;
        Ok(rows.first().map(row))
    }

    fn last_id(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .client
            .query_one("SELECT COALESCE(MAX(id), 0)::bigint FROM logs", &[])
            .map_err(|e| error("last id", e))?
            .get(0))
    }

    fn trends(
        &mut self,
        query: &TrendQuery,
        from_ns: i64,
        until_ns: i64,
    ) -> Result<Vec<Trend>, StoreError> {
        let bucket = i64::try_from(query.bucket.as_micros())
            .unwrap_or(i64::MAX)
            .max(1);
        let column = query.by.column();
        let levels: Option<Vec<String>> = (LogQuery {
            level: query.level,
            ..LogQuery::default()
        })
        .levels()
        .map(|l| l.into_iter().map(str::to_owned).collect());
        let sql = format!(
            "SELECT ((extract(epoch FROM timestamp) * 1000000)::bigint / $1) * $1 AS bucket, \
             {column}, COUNT(*), COUNT(DISTINCT trace_id) FROM logs \
             WHERE timestamp >= 'epoch'::timestamptz + $2::bigint * interval '1 microsecond' \
             AND timestamp <= 'epoch'::timestamptz + $3::bigint * interval '1 microsecond' \
             AND ($4::text[] IS NULL OR level = ANY($4::text[])) \
             GROUP BY bucket, {column} ORDER BY bucket, {column}"
        );
        let rows = self
            .client
            .query(
                &sql,
                &[&bucket, &(from_ns / 1000), &(until_ns / 1000), &levels],
            )
            .map_err(|e| error("trends", e))?;
        Ok(rows
            .iter()
            .map(|r| Trend {
                bucket_ns: r.get::<_, i64>(0).saturating_mul(1000),
                key: r.get(1),
                count: r.get::<_, i64>(2) as u64,
                traces: r.get::<_, i64>(3) as u64,
            })
            .collect())
    }

    fn retain(&mut self, retention: &Retention, now_ns: i64) -> Result<u64, StoreError> {
        let batch = retention.batch as i64;
        let mut deleted = 0u64;
        if let Some(age) = retention.max_age {
            let cutoff =
                now_ns.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX)) / 1000;
            loop {
                let n = self
                    .client
                    .execute(
                        "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE timestamp < \
                         'epoch'::timestamptz + $1::bigint * interval '1 microsecond' LIMIT $2)",
                        &[&cutoff, &batch],
                    )
                    .map_err(|e| error("retention", e))?;
                deleted += n;
                if n < retention.batch as u64 {
                    break;
                }
            }
        }
        if let Some(max_rows) = retention.max_rows {
            loop {
                let total: i64 = self
                    .client
                    .query_one("SELECT COUNT(*) FROM logs", &[])
                    .map_err(|e| error("retention", e))?
                    .get(0);
                let excess = (total as u64).saturating_sub(max_rows);
                if excess == 0 {
                    break;
                }
                let n = self
                    .client
                    .execute(
                        "DELETE FROM logs WHERE id IN (SELECT id FROM logs ORDER BY timestamp, id LIMIT $1)",
                        &[&(excess.min(retention.batch as u64) as i64)],
                    )
                    .map_err(|e| error("retention", e))?;
                deleted += n;
                if n == 0 {
                    break;
                }
            }
        }
        Ok(deleted)
    }
}
