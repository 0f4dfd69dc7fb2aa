//! The `ttlog` commands on a log store: `query`, `trends`, `tail`, `ingest`, and the store
//! side of `analyze`.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::{Args, ValueEnum};
use ttlog_core::LogLevel;
use ttlog_store::{
    IngestDefaults, LogQuery, LogType, NewRow, Store, StoredRow, Stream, TrendKey, TrendQuery,
    is_uuid, nanos,
};

use ttlog_export::input::Input;

use crate::Failure;

/// Where the store is.
#[derive(Args, Debug)]
pub(crate) struct StoreArg {
    /// The store: sqlite:PATH or postgres://user@host:port/db (default: $TTLOG_STORE).
    #[arg(long, env = "TTLOG_STORE", hide_env_values = true)]
    store: String,
}

impl StoreArg {
    fn open(&self) -> Result<Store, Failure> {
        Store::open(&self.store).map_err(|e| Failure::Invalid(format!("store: {e}")))
    }
}

/// The filters of `query`.
#[derive(Args, Debug)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Logs of this job run (its job and task logs).
    #[arg(long, value_parser = uuid)]
    job_run: Option<String>,
    /// Logs of this task run.
    #[arg(long, value_parser = uuid)]
    task_run: Option<String>,
    /// system, job or task.
    #[arg(long = "type", value_parser = log_type)]
    log_type: Option<LogType>,
    /// At this level or more severe.
    #[arg(long)]
    level: Option<LogLevel>,
    /// From this time: RFC 3339 (2026-12-06T10:00:00Z) or a duration ago (15m, 2h).
    #[arg(long, value_parser = time)]
    since: Option<SystemTime>,
    /// Until this time (same forms).
    #[arg(long, value_parser = time)]
    until: Option<SystemTime>,
    /// Logs of this trace.
    #[arg(long)]
    trace_id: Option<String>,
    /// Whose target starts with this.
    #[arg(long)]
    target: Option<String>,
    /// Whose message contains this text.
    #[arg(long)]
    grep: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// After skipping this many.
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// json (the event contract plus id, type, job_run_id, task_run_id, stream) or text.
    #[arg(long, value_enum, default_value_t = RowFormat::Json)]
    format: RowFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowFormat {
    Json,
    Text,
}

fn uuid(s: &str) -> Result<String, String> {
    if is_uuid(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!("`{s}` is not a UUID (8-4-4-4-12 hex digits)"))
    }
}

fn log_type(s: &str) -> Result<LogType, String> {
    s.parse()
}

fn stream(s: &str) -> Result<Stream, String> {
    s.parse()
}

fn time(s: &str) -> Result<SystemTime, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t);
    }
    match humantime::parse_duration(s) {
        Ok(ago) => Ok(SystemTime::now() - ago),
        Err(_) => Err(format!(
            "`{s}` is neither a time (2026-12-06T10:00:00Z) nor a duration ago (15m)"
        )),
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}` is not a duration (e.g. 5m, 1h)"))
}

fn trend_key(s: &str) -> Result<TrendKey, String> {
    s.parse()
}

impl QueryArgs {
    fn query(&self) -> LogQuery {
        let mut q = LogQuery::new().limit(self.limit).offset(self.offset);
        q.job_run_id = self.job_run.clone();
        q.task_run_id = self.task_run.clone();
        q.log_type = self.log_type;
        q.level = self.level;
        q.since_ns = self.since.map(nanos);
        q.until_ns = self.until.map(nanos);
        q.trace_id = self.trace_id.as_ref().map(|t| t.to_ascii_lowercase());
        q.target_prefix = self.target.clone();
        q.text = self.grep.clone();
        q
    }
}

/// Writes `line` and a newline; a closed stdout (`| head`) ends the command quietly.
fn emit(out: &mut impl Write, line: &str) -> Result<bool, Failure> {
    match writeln!(out, "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Failure::Io(format!("stdout: {e}"))),
    }
}

fn show(row: &StoredRow, format: RowFormat) -> String {
    match format {
        RowFormat::Json => row.to_json().to_string(),
        RowFormat::Text => row.to_text(),
    }
}

pub(crate) fn query(args: &QueryArgs) -> Result<(), Failure> {
    let mut store = args.store.open()?;
    let rows = store
        .query(&args.query())
        .map_err(|e| Failure::Invalid(format!("query: {e}")))?;
    let mut out = BufWriter::new(io::stdout().lock());
    for row in &rows {
        if !emit(&mut out, &show(row, args.format))? {
            return Ok(());
        }
    }
    let _ = out.flush();
    Ok(())
}

/// The arguments of `trends`.
#[derive(Args, Debug)]
pub(crate) struct TrendArgs {
    #[command(flatten)]
    store: StoreArg,
    /// How far back from now.
    #[arg(long, default_value = "1h", value_parser = duration)]
    window: Duration,
    /// The width of a bucket.
    #[arg(long, default_value = "5m", value_parser = duration)]
    bucket: Duration,
    /// level, target or type.
    #[arg(long, default_value = "level", value_parser = trend_key)]
    by: TrendKey,
    /// Only events at this level or more severe.
    #[arg(long)]
    level: Option<LogLevel>,
}

pub(crate) fn trends(args: &TrendArgs) -> Result<(), Failure> {
    let mut store = args.store.open()?;
    let trends = store
        .trends(&TrendQuery {
            window: args.window,
            bucket: args.bucket,
            by: args.by,
            until: None,
            level: args.level,
        })
        .map_err(|e| Failure::Invalid(format!("trends: {e}")))?;
    let mut out = BufWriter::new(io::stdout().lock());
    for trend in &trends {
        if !emit(&mut out, &trend.to_json().to_string())? {
            return Ok(());
        }
    }
    let _ = out.flush();
    Ok(())
}

/// The arguments of `tail`.
#[derive(Args, Debug)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only errors.
    #[arg(long)]
    errors: bool,
    /// Only this job run.
    #[arg(long, value_parser = uuid)]
    job_run: Option<String>,
    /// Only this task run.
    #[arg(long, value_parser = uuid)]
    task_run: Option<String>,
    /// Rows shown before following.
    #[arg(long, default_value_t = 10)]
    lines: usize,
    /// json or text.
    #[arg(long, value_enum, default_value_t = RowFormat::Text)]
    format: RowFormat,
}

pub(crate) fn tail(args: &TailArgs) -> Result<(), Failure> {
    let mut store = args.store.open()?;
    let mut filter = LogQuery::new();
    filter.job_run_id = args.job_run.clone();
    filter.task_run_id = args.task_run.clone();
    if args.errors {
        filter.level = Some(LogLevel::Error);
    }
    let fail = |e: ttlog_store::StoreError| Failure::Invalid(format!("tail: {e}"));
    // The last rows first, as `tail -f` does.
    let total = store.count(&filter).map_err(fail)?;
    let skip = (total as usize).saturating_sub(args.lines);
    let mut last_id = 0;
    let mut out = io::stdout().lock();
    for row in store
        .query(&filter.clone().offset(skip).limit(args.lines))
        .map_err(fail)?
    {
        last_id = last_id.max(row.id);
        if !emit(&mut out, &show(&row, args.format))? {
            return Ok(());
        }
    }
    if last_id == 0 {
        last_id = store.last_id().map_err(fail)?;
    }
    loop {
        let rows = store
            .query(&filter.clone().after_id(last_id).limit(1000))
            .map_err(fail)?;
        for row in &rows {
            last_id = last_id.max(row.id);
            if !emit(&mut out, &show(row, args.format))? {
                return Ok(());
            }
        }
        if out.flush().is_err() {
            return Ok(());
        }
        if rows.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The arguments of `ingest`.
#[derive(Args, Debug)]
pub(crate) struct IngestArgs {
    #[command(flatten)]
    store: StoreArg,
    /// system, job or task (the ids decide by default; system forces system logs).
    #[arg(long = "type", value_parser = log_type)]
    log_type: Option<LogType>,
    /// The job run of every line.
    #[arg(long, value_parser = uuid)]
    job_run: Option<String>,
    /// The task run of every line.
    #[arg(long, value_parser = uuid)]
    task_run: Option<String>,
    /// The stream of lines that do not say theirs: stdout, stderr or system.
    #[arg(long, value_parser = stream)]
    stream: Option<Stream>,
    /// The file to read; - (the default) for stdin.
    #[arg(default_value = "-")]
    file: PathBuf,
}

pub(crate) fn ingest(args: &IngestArgs) -> Result<(), Failure> {
    if args.log_type == Some(LogType::Task) && args.task_run.is_none() {
        return Err(Failure::Invalid("--type task needs --task-run".into()));
    }
    if args.log_type == Some(LogType::Job) && args.job_run.is_none() {
        return Err(Failure::Invalid("--type job needs --job-run".into()));
    }
    let mut store = args.store.open()?;
    let defaults = IngestDefaults {
        job_run_id: args.job_run.clone(),
        task_run_id: args.task_run.clone(),
        log_type: args.log_type,
        stream: args.stream,
    };
    let reader: Box<dyn BufRead> = if args.file == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.file)
            .map_err(|e| Failure::Invalid(format!("{}: {e}", args.file.display())))?;
        Box::new(io::BufReader::new(file))
    };
    let mut batch = Vec::with_capacity(1000);
    let mut stored = 0u64;
    let mut write = |batch: &mut Vec<NewRow>, store: &mut Store| -> Result<(), Failure> {
        store
            .insert(batch)
            .map_err(|e| Failure::Invalid(format!("ingest: {e}")))?;
        stored += batch.len() as u64;
        batch.clear();
        Ok(())
    };
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| Failure::Io(format!("{}: {e}", args.file.display())))?;
        // Not UTF-8 (a binary's output): kept, with replacement characters.
        let line = String::from_utf8_lossy(&line);
        if line.trim().is_empty() {
            continue;
        }
        batch.push(NewRow::from_line(
            &line,
            &defaults,
            nanos(SystemTime::now()),
        ));
        if batch.len() == 1000 {
            write(&mut batch, &mut store)?;
        }
    }
    write(&mut batch, &mut store)?;
    eprintln!("ttlog: stored {stored} lines");
    Ok(())
}

/// Events for a report from the store: the rows of `trace`, or those around row `id`, with
/// the index of the trigger.
pub(crate) fn report_input(
    store_url: &str,
    trace: Option<&str>,
    id: Option<i64>,
) -> Result<(Input, Option<usize>), Failure> {
    use ttlog_export::stored::{Subject, report_input};
    let mut store = Store::open(store_url).map_err(|e| Failure::Invalid(format!("store: {e}")))?;
    let subject = match (trace, id) {
        (Some(trace), _) => Subject::Trace(trace),
        (None, Some(id)) => Subject::Row(id),
        (None, None) => return Err(Failure::Invalid("analyze: give --trace-id or --id".into())),
    };
    let (mut input, trigger) =
        report_input(&mut store, subject).map_err(|e| Failure::Invalid(format!("analyze: {e}")))?;
    input.source = ttlog_store::redact_url(store_url);
    Ok((input, trigger))
}

/// The arguments of `serve`.
#[cfg(feature = "server")]
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The address to listen on; anything but loopback needs a token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Every endpoint but /healthz and the viewer's files requires `Authorization: Bearer TOKEN`.
    #[arg(long, env = "TTLOG_SERVER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The largest POST /api/v1/logs body, in bytes.
    #[arg(long, default_value_t = 10 << 20)]
    max_body: usize,
    /// Rows queued per streaming client before it misses some.
    #[arg(long, default_value_t = 4096)]
    client_queue: usize,
    /// How long an SSE stream may be silent before a heartbeat comment is sent (keep it
    /// below the idle timeout of proxies in front of the server).
    #[arg(long, default_value = "15s", value_parser = duration)]
    heartbeat: Duration,
    /// Send rows as stored. By default secrets are masked in everything the server sends:
    /// ttlog's default redaction rules, or the `redaction` section of --config.
    #[arg(long)]
    no_redact: bool,
    /// A ttlog configuration file (YAML or TOML) whose `redaction` section gives the rules.
    #[arg(long, value_name = "FILE", conflicts_with = "no_redact")]
    config: Option<PathBuf>,
}

#[cfg(feature = "server")]
pub(crate) fn serve(args: ServeArgs) -> Result<(), Failure> {
    use ttlog_export::server::{ServeConfig, ServeError};
    let mut config = ServeConfig::new(&args.store.store);
    config.listen = args.listen;
    config.token = args.token;
    config.max_body = args.max_body;
    config.client_queue = args.client_queue;
    config.heartbeat = args.heartbeat;
    config.redaction = crate::redaction_rules(args.no_redact, args.config.as_deref())?;
    ttlog_export::server::run(config).map_err(|e| match e {
        ServeError::Io(e) => Failure::Io(format!("serve: {e}")),
        e => Failure::Invalid(format!("serve: {e}")),
    })
}
