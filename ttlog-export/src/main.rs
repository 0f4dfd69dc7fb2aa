//! `ttlog`: read flight-recorder snapshots.
//!
//! ```text
//! ttlog dump FILE [--level L] [--target PREFIX] [--thread NAME] [--since T] [--until T] [--salvage]
//!                 [--no-redact | --config FILE]
//! ttlog show FILE [same filters] [--color auto|always|never]
//! ttlog ls [DIR]
//! ttlog recover RECORDER_FILE [-o OUT]
//! ttlog templates FILE [--input text|json]
//! ttlog analyze SNAPSHOT_OR_JSONL [--format md|json] [--max-tokens N] [--model cl100k|o200k]
//! ttlog analyze --store URL (--trace-id X | --id N) [same options]
//! ttlog query --store URL [--job-run ID] [--task-run ID] [--type T] [--level L] [--since T]
//!             [--until T] [--trace-id X] [--target PREFIX] [--grep TEXT] [--limit N]
//!             [--offset N] [--format json|text]
//! ttlog trends --store URL [--window 1h] [--bucket 5m] [--by level|target|type]
//! ttlog tail --store URL [--errors] [--job-run ID] [--task-run ID]
//! ttlog ingest --store URL [--type T] [--job-run ID] [--task-run ID] [--stream S] [FILE|-]
//! ttlog serve --store URL [--listen 127.0.0.1:8080] [--token TOKEN]
//!
//! `--store` defaults to `$TTLOG_STORE`.
//! ```
//!
//! Exit codes: 0 success; 1 an I/O error or bad arguments; 2 the file is not a valid snapshot
//! (corrupt, truncated or foreign; with `--salvage`, whatever could be decoded is printed
//! first).

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ttlog_core::{
    Event, EventFormatter, Format, LevelFilter, Redaction, SNAPSHOT_EXTENSION, Snapshot,
    SnapshotError,
};
use ttlog_sinks::{Config, RedactionRules};

#[derive(Parser, Debug)]
#[command(
    name = "ttlog",
    version,
    about = "Read ttlog snapshots, analyse incidents, and query the log store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a snapshot's events as JSON lines (the schema of ttlog's JSON output).
    Dump {
        /// The snapshot file.
        file: PathBuf,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Print a snapshot for people: its process information, then one line per event.
    Show {
        /// The snapshot file.
        file: PathBuf,
        #[command(flatten)]
        filter: FilterArgs,
        /// Colours: auto (on a terminal, unless NO_COLOR is set), always or never.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
    },
    /// List the snapshots in a directory (default: $TTLOG_SNAPSHOT_DIR or ./ttlog-snapshots).
    Ls {
        /// The directory.
        dir: Option<PathBuf>,
    },
    /// An incident report on a snapshot's or a JSON log's last failure, or on a store's trace
    /// or row, redacted, within a token budget.
    Analyze {
        /// A snapshot (.ttsnap) or a file of JSON lines.
        #[arg(required_unless_present = "store")]
        file: Option<PathBuf>,
        /// Report from this store (sqlite:PATH, postgres://...) instead of a file.
        #[arg(long, conflicts_with = "file", requires = "pick")]
        store: Option<String>,
        /// With --store: the rows of this trace.
        #[arg(long, group = "pick")]
        trace_id: Option<String>,
        /// With --store: this row (an error), with the rows of the 5 minutes before it.
        #[arg(long, group = "pick")]
        id: Option<i64>,
        /// md (Markdown, for people and LLM prompts) or json.
        #[arg(long, value_enum, default_value_t = ReportKind::Md)]
        format: ReportKind,
        /// The report never exceeds this many tokens.
        #[arg(long, default_value_t = 4000)]
        max_tokens: usize,
        /// The tokenizer that counts them.
        #[arg(long, value_enum, default_value_t = Model::Cl100k)]
        model: Model,
    },
    /// Print stored logs, oldest first, as JSON lines (or text).
    Query(store_cmd::QueryArgs),
    /// Counts per time bucket, by level, target or type, as JSON lines.
    Trends(store_cmd::TrendArgs),
    /// Follow new rows of a store as they arrive.
    Tail(store_cmd::TailArgs),
    /// Store lines read from a file or stdin: ttlog JSON lines, log entry objects, or plain text.
    Ingest(store_cmd::IngestArgs),
    /// Serve the store over HTTP: REST, live streams (SSE, WebSocket) and a web viewer.
    #[cfg(feature = "server")]
    Serve(store_cmd::ServeArgs),
    /// Group messages into templates: prints `<template_id>\t<template>` for each input line,
    /// in order (the template is the final one of the line's group, so every line of a
    /// family gets the same id).
    Templates {
        /// A file of messages (one per line) or of JSON events; `-` for stdin.
        file: PathBuf,
        /// What the lines are: plain messages, or JSON events (their `message`).
        #[arg(long, value_enum, default_value_t = InputKind::Text)]
        input: InputKind,
    },
    /// Turn a persisted recorder file (`.persist(path)`) into a snapshot, after a crash.
    Recover {
        /// The recorder file.
        file: PathBuf,
        /// Where to write the snapshot (default: next to FILE, named after it).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct FilterArgs {
    /// Only events at this level or more severe (trace, debug, info, warn, error).
    #[arg(long)]
    level: Option<LevelFilter>,
    /// Only events whose target starts with this prefix.
    #[arg(long)]
    target: Option<String>,
    /// Only events from the thread with this name.
    #[arg(long)]
    thread: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-21T10:15:00Z).
    #[arg(long, value_parser = parse_time)]
    since: Option<SystemTime>,
    /// Only events at or before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    until: Option<SystemTime>,
    /// Print every event that can still be decoded from a damaged or truncated file.
    #[arg(long)]
    salvage: bool,
    /// Print values as recorded. By default secrets are masked on the way out (the flight
    /// recorder keeps what was logged): ttlog's default redaction rules, or the `redaction`
    /// section of --config.
    #[arg(long)]
    no_redact: bool,
    /// A ttlog configuration file (YAML or TOML) whose `redaction` section gives the rules.
    #[arg(long, value_name = "FILE", conflicts_with = "no_redact")]
    config: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReportKind {
    Md,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Model {
    Cl100k,
    O200k,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum InputKind {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Color {
    Auto,
    Always,
    Never,
}

/// The rules output goes through: none with `--no-redact`, the `redaction` section of
/// `--config`, or the default rules.
fn redaction_rules(
    no_redact: bool,
    config: Option<&Path>,
) -> Result<Option<RedactionRules>, Failure> {
    if no_redact {
        return Ok(None);
    }
    Ok(Some(match config {
        Some(path) => Config::from_file(path)
            .map_err(|e| Failure::Io(e.to_string()))?
            .redaction_rules()
            .unwrap_or_default(),
        None => RedactionRules::default(),
    }))
}

fn parse_time(s: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("{e} (expected e.g. 2026-11-21T10:15:00Z)"))
}

impl FilterArgs {
    /// The redaction to print through, if any.
    fn redaction(&self) -> Result<Option<Redaction>, Failure> {
        Ok(redaction_rules(self.no_redact, self.config.as_deref())?
            .map(|rules| Redaction::new(Arc::new(rules))))
    }

    fn matches(&self, event: &Event<'_>) -> bool {
        self.level.is_none_or(|l| l.enables(event.level()))
            && self
                .target
                .as_deref()
                .is_none_or(|t| event.target().starts_with(t))
            && self
                .thread
                .as_deref()
                .is_none_or(|t| event.thread().name() == t)
            && self.since.is_none_or(|t| event.timestamp() >= t)
            && self.until.is_none_or(|t| event.timestamp() <= t)
    }
}

mod store_cmd;

/// Why the command failed, and its exit code.
enum Failure {
    Io(String),
    Invalid(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dump { file, filter } => print(&file, &filter, Format::Json, false, false),
        Command::Show {
            file,
            filter,
            color,
        } => {
            let ansi = match color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            print(&file, &filter, Format::Pretty, ansi, true)
        }
        Command::Ls { dir } => list(dir),
        Command::Templates { file, input } => templates(&file, input),
        Command::Analyze {
            file,
            store,
            trace_id,
            id,
            format,
            max_tokens,
            model,
        } => analyze(
            file.as_deref(),
            store.as_deref().map(|s| (s, trace_id.as_deref(), id)),
            format,
            max_tokens,
            model,
        ),
        Command::Query(args) => store_cmd::query(&args),
        Command::Trends(args) => store_cmd::trends(&args),
        Command::Tail(args) => store_cmd::tail(&args),
        Command::Ingest(args) => store_cmd::ingest(&args),
        #[cfg(feature = "server")]
        Command::Serve(args) => store_cmd::serve(args),
        Command::Recover { file, output } => recover(&file, output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Io(msg)) => {
            eprintln!("ttlog: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Invalid(msg)) => {
            eprintln!("ttlog: {msg}");
            ExitCode::from(2)
        }
    }
}

fn describe(path: &Path, err: &SnapshotError) -> Failure {
    match err {
        SnapshotError::Invalid { .. } => Failure::Invalid(format!("{}: {err}", path.display())),
        _ => Failure::Io(err.to_string()),
    }
}

fn print(
    path: &Path,
    filter: &FilterArgs,
    format: Format,
    ansi: bool,
    header: bool,
) -> Result<(), Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?;
    let (snapshot, problems) = if filter.salvage {
        let salvaged = Snapshot::salvage(&bytes);
        (salvaged.snapshot, salvaged.problems)
    } else {
        (
            Snapshot::read(&bytes).map_err(|e| describe(path, &e))?,
            Vec::new(),
        )
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let write = |out: &mut BufWriter<_>, bytes: &[u8]| -> Result<(), Failure> {
        match out.write_all(bytes) {
            Ok(()) => Ok(()),
            // `ttlog dump x | head` closes the pipe: not an error.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(Failure::Io(format!("stdout: {e}"))),
        }
    };
    if header {
        let mut text = String::new();
        for (key, value) in snapshot.info_pairs() {
            text.push_str(&format!("# {key}: {value}\n"));
        }
        text.push_str(&format!("# events: {}\n", snapshot.len()));
        write(&mut out, text.as_bytes())?;
    }
    let mut redaction = filter.redaction()?;
    let mut formatter = EventFormatter::new(format, ansi);
    let mut line = Vec::with_capacity(512);
    let mut result = Ok(());
    snapshot.for_each_event(|event| {
        if result.is_err() || !filter.matches(event) {
            return;
        }
        line.clear();
        match &mut redaction {
            Some(redaction) => redaction.apply(event, |event| formatter.write(event, &mut line)),
            None => formatter.write(event, &mut line),
        }
        result = write(&mut out, &line);
    });
    result?;
    if let Err(e) = out.flush()
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(Failure::Io(format!("stdout: {e}")));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
    Err(Failure::Invalid(format!(
        "{}: salvaged {} events; skipped damaged parts: {}",
        path.display(),
        snapshot.len(),
        list.join("; ")
    )))
}

fn analyze(
    file: Option<&Path>,
    store: Option<(&str, Option<&str>, Option<i64>)>,
    format: ReportKind,
    max_tokens: usize,
    model: Model,
) -> Result<(), Failure> {
    use ttlog_export::input::{Input, InputError};
    use ttlog_export::report::{LLMExportConfig, LLMExporter, ReportFormat, TokenModel};
    let (input, trigger, name) = match (store, file) {
        (Some((url, trace, id)), _) => {
            let (input, trigger) = store_cmd::report_input(url, trace, id)?;
            let name = input.source.clone();
            (input, trigger, name)
        }
        (None, Some(file)) => {
            let input = Input::read(file).map_err(|e| match e {
                InputError::Io { .. } => Failure::Io(e.to_string()),
                _ => Failure::Invalid(format!("{}: {e}", file.display())),
            })?;
            (input, None, file.display().to_string())
        }
        (None, None) => return Err(Failure::Invalid("analyze: give a FILE or --store".into())),
    };
    let exporter = LLMExporter::new(LLMExportConfig {
        max_tokens,
        model: match model {
            Model::Cl100k => TokenModel::Cl100k,
            Model::O200k => TokenModel::O200k,
        },
        format: match format {
            ReportKind::Md => ReportFormat::Markdown,
            ReportKind::Json => ReportFormat::Json,
        },
        ..LLMExportConfig::default()
    })
    .map_err(|e| Failure::Io(e.to_string()))?;
    let report = match trigger {
        Some(at) => exporter.export_with_trigger(&input, at),
        None => exporter.export_for_analysis(&input),
    }
    .map_err(|e| Failure::Invalid(format!("{name}: {e}")))?;
    let text = match format {
        ReportKind::Md => ttlog_export::report::format_markdown_report(&report),
        ReportKind::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
    };
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Failure::Io(format!("stdout: {e}"))),
        _ => Ok(()),
    }
}

fn read_input(file: &Path) -> Result<String, Failure> {
    let bytes = if file == Path::new("-") {
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::stdin(), &mut bytes)
            .map_err(|e| Failure::Io(format!("stdin: {e}")))?;
        bytes
    } else {
        std::fs::read(file).map_err(|e| Failure::Io(format!("{}: {e}", file.display())))?
    };
    String::from_utf8(bytes).map_err(|e| {
        Failure::Invalid(format!(
            "{}: not UTF-8 text (at byte {})",
            file.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

fn templates(file: &Path, kind: InputKind) -> Result<(), Failure> {
    let text = read_input(file)?;
    let messages: Vec<String> = match kind {
        InputKind::Text => text.lines().map(str::to_owned).collect(),
        InputKind::Json => {
            let input = ttlog_export::input::Input::from_json_lines(&text, String::new())
                .map_err(|e| Failure::Invalid(format!("{}: {e}", file.display())))?;
            input.events.into_iter().map(|e| e.message).collect()
        }
    };
    if messages.iter().all(|m| m.trim().is_empty()) {
        return Err(Failure::Invalid(format!("{}: no lines", file.display())));
    }
    let mut miner = ttlog_export::templates::TemplateMiner::default();
    for message in &messages {
        miner.add(message);
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for message in &messages {
        let template = miner.assign(message);
        if let Err(e) = writeln!(out, "{}\t{}", template.id, template.template) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(Failure::Io(format!("stdout: {e}")));
        }
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Failure::Io(format!("stdout: {e}"))),
        _ => Ok(()),
    }
}

fn list(dir: Option<PathBuf>) -> Result<(), Failure> {
    let dir = dir
        .or_else(|| std::env::var_os("TTLOG_SNAPSHOT_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(ttlog_core::DEFAULT_SNAPSHOT_DIR));
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == SNAPSHOT_EXTENSION))
        .collect();
    files.sort();
    let mut out = String::new();
    out.push_str(&format!(
        "{:<32} {:<20} {:>8}  {}\n",
        "CREATED", "REASON", "EVENTS", "FILE"
    ));
    for path in files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        match Snapshot::read_file(&path) {
            Ok(s) => out.push_str(&format!(
                "{:<32} {:<20} {:>8}  {name}\n",
                s.info("created_at").unwrap_or("?"),
                s.info("reason").unwrap_or("?"),
                s.len()
            )),
            Err(err) => out.push_str(&format!(
                "{:<32} {:<20} {:>8}  {name} ({err})\n",
                "?", "damaged", "?"
            )),
        }
    }
    print!("{out}");
    Ok(())
}

fn recover(file: &Path, output: Option<PathBuf>) -> Result<(), Failure> {
    let output = output.unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map_or_else(|| "recorder".into(), |s| s.to_string_lossy().into_owned());
        file.with_file_name(format!("{stem}-recovered.{SNAPSHOT_EXTENSION}"))
    });
    let events = ttlog_core::recover(file, &output).map_err(|e| describe(file, &e))?;
    eprintln!("ttlog: recovered {events} events");
    println!("{}", output.display());
    Ok(())
}
