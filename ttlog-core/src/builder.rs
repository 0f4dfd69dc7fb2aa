//! `ttlog::init()`: configuration, environment, and installing the logger.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::callsite;
use crate::clock;
use crate::consumer::{self, ConsumerConfig, Receiver};
use crate::filter::{Filter, ParseDirectiveError, directives_from_env};
use crate::handle::TtlogHandle;
use crate::level::LevelFilter;
use crate::recorder::{ErrorSnapshots, History, RecorderSink};
use crate::runtime::{self, ConsumerShared, Occupied};
use crate::sink::{Format, ParseFormatError, Sink, SinkSet, WriterSink};
use crate::snapshot::{self, SnapshotConfig};
use crate::trigger::{self, ErrorSnapshotter, RecorderShared};

/// What happens when a thread's ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the event, count it, and mark the gap in the output with `N events dropped`.
    /// The program never waits for the logger.
    #[default]
    Drop,
    /// Wait until the consumer frees space: nothing is lost. (If the consumer is gone, events
    /// are dropped and counted rather than blocking forever.)
    Block,
}

enum Console {
    Stderr,
    Stdout,
    Writer(Box<dyn Write + Send>),
    Off,
}

/// A step that configures a builder when it is installed; see [`Builder::at_init`].
type AtInit = Box<dyn FnOnce(Builder) -> (Builder, Option<String>) + Send>;

/// Default flight-recorder history, in events.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Configures and installs the logger; made by [`init()`].
///
/// ```
/// use ttlog_core::{CaptureSink, LogLevel, Overflow};
///
/// let capture = CaptureSink::new();
/// let handle = ttlog_core::init()
///     .level(LogLevel::Debug)
///     .overflow(Overflow::Block)
///     .console(false)
///     .sink(capture.clone())
///     .try_init()
///     .expect("no other logger installed");
/// handle.flush();
/// ```
#[must_use = "call `.init()` or `.try_init()` to install the logger"]
pub struct Builder {
    capacity: usize,
    level: LevelFilter,
    filter: Option<String>,
    use_env: bool,
    format: Option<Format>,
    ansi: Option<bool>,
    flatten_fields: bool,
    /// Static fields: encoded (name, value) pairs and their count.
    statics: (Vec<u8>, u16),
    process_fields: bool,
    redactor: Option<Arc<dyn crate::redactor::Redactor>>,
    reload: Option<Arc<crate::handle::ReloadFn>>,
    /// Applied when the logger is installed, over the code's settings (a configuration file).
    at_init: Option<AtInit>,
    /// A configuration file to read when installed (by the facade's `sinks` feature).
    config_file: Option<PathBuf>,
    /// A log store to write to (by the facade's `store` feature).
    store: Option<String>,
    console: Console,
    sinks: Vec<Box<dyn Sink>>,
    overflow: Overflow,
    thread_buffer: usize,
    reorder_window: Duration,
    shutdown_timeout: Duration,
    span_events: bool,
    thread_buffer_max: Option<usize>,
    recorder: bool,
    recorder_level: Option<LevelFilter>,
    recorder_bytes: Option<usize>,
    snapshot_dir: Option<PathBuf>,
    retention: usize,
    service: Option<String>,
    snapshot_on_error: bool,
    error_rate_limit: Duration,
    persist: Option<PathBuf>,
    panic_hook: bool,
    signals: bool,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("level", &self.level)
            .field("filter", &self.filter)
            .field("use_env", &self.use_env)
            .field("format", &self.format)
            .field("sinks", &self.sinks.len())
            .field("overflow", &self.overflow)
            .field("thread_buffer", &self.thread_buffer)
            .field("recorder", &self.recorder)
            .field("recorder_level", &self.recorder_level)
            .field("snapshot_dir", &self.snapshot_dir)
            .field("persist", &self.persist)
            .finish_non_exhaustive()
    }
}

/// Starts configuring the logger: `ttlog::init().level(LogLevel::Info).init()`.
pub fn init() -> Builder {
    Builder::new()
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The defaults: level info, pretty output on a terminal (compact otherwise) to stderr,
    /// `Overflow::Drop`, 256 KiB per thread, environment variables honoured.
    pub fn new() -> Builder {
        Builder {
            capacity: DEFAULT_CAPACITY,
            level: LevelFilter::Info,
            filter: None,
            use_env: true,
            format: None,
            ansi: None,
            flatten_fields: false,
            statics: (Vec::new(), 0),
            process_fields: false,
            redactor: None,
            reload: None,
            at_init: None,
            config_file: None,
            store: None,
            console: Console::Stderr,
            sinks: Vec::new(),
            overflow: Overflow::Drop,
            thread_buffer: runtime::DEFAULT_THREAD_BUFFER,
            reorder_window: Duration::from_millis(50),
            shutdown_timeout: Duration::from_secs(10),
            span_events: true,
            thread_buffer_max: None,
            recorder: true,
            recorder_level: None,
            recorder_bytes: None,
            snapshot_dir: None,
            retention: snapshot::DEFAULT_RETENTION,
            service: None,
            snapshot_on_error: false,
            error_rate_limit: Duration::from_secs(10),
            persist: None,
            panic_hook: true,
            signals: true,
        }
    }

    /// The flight recorder's history, in events: the last `events` events of all threads are
    /// kept for snapshots (default 100,000).
    pub fn capacity(mut self, events: usize) -> Builder {
        self.capacity = events;
        self
    }

    /// Bounds the flight recorder's history in bytes as well (default: 128 bytes per event of
    /// [`capacity`](Builder::capacity)); the oldest events make room first.
    pub fn recorder_bytes(mut self, bytes: usize) -> Builder {
        self.recorder_bytes = Some(bytes);
        self
    }

    /// The flight recorder keeps events at `level` and above from every target, besides
    /// everything the sinks get: `.level(LogLevel::Info).recorder_level(LogLevel::Trace)`
    /// prints info and records trace. By default the recorder keeps what the sinks get.
    ///
    /// Events only the recorder wants cost the caller what any enabled event costs.
    pub fn recorder_level(mut self, level: impl Into<LevelFilter>) -> Builder {
        self.recorder_level = Some(level.into());
        self
    }

    /// Turns the flight recorder off (or back on). Without it there are no snapshots.
    pub fn recorder(mut self, enabled: bool) -> Builder {
        self.recorder = enabled;
        self
    }

    /// Where snapshots are written (default: `TTLOG_SNAPSHOT_DIR`, else `./ttlog-snapshots`).
    /// `TTLOG_SNAPSHOT_DIR` wins over this when set.
    pub fn snapshot_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.snapshot_dir = Some(dir.into());
        self
    }

    /// How many snapshot files the directory keeps; older ones are deleted (default 20).
    pub fn snapshot_retention(mut self, files: usize) -> Builder {
        self.retention = files;
        self
    }

    /// The service name written into snapshots and their file names (default: the
    /// executable's name).
    pub fn service_name(mut self, name: impl Into<String>) -> Builder {
        self.service = Some(name.into());
        self
    }

    /// Takes a snapshot when an error-level event is recorded, at most once per
    /// [`snapshot_rate_limit`](Builder::snapshot_rate_limit) (default: off).
    pub fn snapshot_on_error(mut self, enabled: bool) -> Builder {
        self.snapshot_on_error = enabled;
        self
    }

    /// The minimum time between two error-triggered snapshots (default 10 s).
    pub fn snapshot_rate_limit(mut self, every: Duration) -> Builder {
        self.error_rate_limit = every;
        self
    }

    /// Keeps the flight recorder in a memory-mapped file at `path`, so that its events
    /// survive `kill -9`, `abort()` or a segfault; read them back with `ttlog recover PATH`.
    /// If `path` holds the recorder of a run that did not shut down cleanly, it is first
    /// recovered into a snapshot (reason `recovered`) in the snapshot directory.
    pub fn persist(mut self, path: impl Into<PathBuf>) -> Builder {
        self.persist = Some(path.into());
        self
    }

    /// Whether a panic takes a snapshot (default: yes). The hook is chained: the previous
    /// panic hook still runs after it.
    pub fn panic_hook(mut self, enabled: bool) -> Builder {
        self.panic_hook = enabled;
        self
    }

    /// Whether ttlog handles signals (Unix; default: yes): `SIGUSR1` takes a snapshot,
    /// `SIGTERM`/`SIGINT` flush before the program's own handling (or the default action)
    /// proceeds.
    pub fn signals(mut self, enabled: bool) -> Builder {
        self.signals = enabled;
        self
    }

    /// The default level, used when neither `TTLOG` nor `RUST_LOG` is set (and no
    /// [`filter`](Builder::filter) was given).
    pub fn level(mut self, level: impl Into<LevelFilter>) -> Builder {
        self.level = level.into();
        self
    }

    /// Default directives in `RUST_LOG` syntax (`"info,my_app::db=trace"`), used when neither
    /// `TTLOG` nor `RUST_LOG` is set.
    pub fn filter(mut self, directives: impl Into<String>) -> Builder {
        self.filter = Some(directives.into());
        self
    }

    /// Whether `TTLOG`, `RUST_LOG`, `TTLOG_FORMAT` and `NO_COLOR` are read (default: yes).
    pub fn with_env(mut self, read: bool) -> Builder {
        self.use_env = read;
        self
    }

    /// The console format (`TTLOG_FORMAT` overrides it when set).
    pub fn format(mut self, format: Format) -> Builder {
        self.format = Some(format);
        self
    }

    /// Forces ANSI colours on or off (default: on when writing pretty lines to a terminal and
    /// `NO_COLOR` is not set).
    pub fn ansi(mut self, ansi: bool) -> Builder {
        self.ansi = Some(ansi);
        self
    }

    /// JSON console output: fields at the top level of each object instead of under
    /// `"fields"` (see [`EventFormatter::with_flattened_fields`](crate::EventFormatter::with_flattened_fields)).
    pub fn flatten_fields(mut self, flatten: bool) -> Builder {
        self.flatten_fields = flatten;
        self
    }

    /// Adds `name = value` to every event the sinks get, under `"context"` (before the
    /// event's own context): the service, its version, the region. Added on the consumer
    /// thread, not by the threads that log; the flight recorder's snapshots do not carry them
    /// (their process information has the pid and the service name).
    ///
    /// ```
    /// let _handle = ttlog_core::init()
    ///     .console(false)
    ///     .static_field("service", "checkout")
    ///     .static_field("version", env!("CARGO_PKG_VERSION"))
    ///     .static_field("replica", &3_u32)
    ///     .init();
    /// ```
    pub fn static_field<V: crate::value::Value + ?Sized>(
        mut self,
        name: &str,
        value: &V,
    ) -> Builder {
        add_static(&mut self.statics, name, value);
        self
    }

    /// Adds `hostname` and `pid` to every event the sinks get, as
    /// [`static_field`](Builder::static_field) does.
    pub fn process_fields(mut self, enabled: bool) -> Builder {
        self.process_fields = enabled;
        self
    }

    /// Redacts secrets from every event before any sink sees it, by `rules` (see
    /// [`Redactor`](crate::Redactor); `ttlog::sinks::Redaction` has the default rules). It
    /// runs on the consumer thread: the calling thread pays nothing for it. The flight
    /// recorder keeps events as logged; tools that read snapshots redact what they print.
    ///
    /// ```
    /// # struct Rules;
    /// # impl ttlog_core::Redactor for Rules {
    /// #     fn is_secret_name(&self, name: &str) -> bool { name == "password" }
    /// #     fn find_secret(&self, _: &str) -> bool { false }
    /// #     fn redact_text(&self, text: &str, out: &mut String) { out.push_str(text) }
    /// # }
    /// let _builder = ttlog_core::init().redactor(Rules);
    /// ```
    pub fn redactor(mut self, rules: impl crate::redactor::Redactor) -> Builder {
        self.redactor = Some(Arc::new(rules));
        self
    }

    /// What [`TtlogHandle::reload`] (and `SIGHUP`, when the logger handles signals) runs: it
    /// reads the configuration again and applies it through the handle, returning notes on
    /// what needs a restart, or an error when the new configuration is invalid. Set by the
    /// configuration file support (`ttlog::init()` with a file); rarely set by hand.
    ///
    /// ```
    /// let _builder = ttlog_core::init().on_reload(|handle| {
    ///     let level = std::fs::read_to_string("/etc/api/log-level").map_err(|e| e.to_string())?;
    ///     handle.set_filter(level.trim()).map_err(|e| e.to_string())?;
    ///     Ok(Vec::new())
    /// });
    /// ```
    pub fn on_reload(
        mut self,
        reload: impl Fn(&TtlogHandle) -> Result<Vec<String>, String> + Send + Sync + 'static,
    ) -> Builder {
        self.reload = Some(Arc::new(reload));
        self
    }

    /// Whether the environment's `TTLOG`/`RUST_LOG` directives apply (see
    /// [`with_env`](Builder::with_env)) and are set: they then override any other filter,
    /// a reloaded configuration file's too.
    pub fn env_filter_set(&self) -> bool {
        self.use_env
            && ["TTLOG", "RUST_LOG"]
                .iter()
                .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
    }

    /// Writes the console output to `writer` instead of stderr.
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Builder {
        self.console = Console::Writer(Box::new(writer));
        self
    }

    /// Reads a configuration file (YAML, or TOML for `*.toml`) when the logger is installed;
    /// `TTLOG_CONFIG` names another file that is read instead. The file overrides what the
    /// code set, the environment variables override the file. Reading it is the `ttlog`
    /// facade's work (its `sinks` feature, on by default); without it the file is not read,
    /// and installing says so (an error from [`try_init`](Builder::try_init)).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Builder {
        self.config_file = Some(path.into());
        self
    }

    /// Takes the path given with [`config_file`](Builder::config_file), for the code that
    /// reads it (in [`at_init`](Builder::at_init)).
    #[doc(hidden)]
    pub fn take_config_file(&mut self) -> Option<PathBuf> {
        self.config_file.take()
    }

    /// Writes every event into the log store at `url` as well (`sqlite:PATH`, or
    /// `postgres://user@host:port/db`), in batches, off the caller's and the consumer's
    /// threads; `TTLOG_STORE` names another store that is used instead. Writing to a store is
    /// the `ttlog` facade's work (its `store` feature, and `postgres` for PostgreSQL); without
    /// it, installing says so (an error from [`try_init`](Builder::try_init)). See
    /// `docs/store.md`.
    ///
    /// ```no_run
    /// let handle = ttlog_core::init().store("sqlite:/var/lib/api/logs.db").init();
    /// # drop(handle);
    /// ```
    pub fn store(mut self, url: impl Into<String>) -> Builder {
        self.store = Some(url.into());
        self
    }

    /// Takes the URL given with [`store`](Builder::store), for the code that opens it (in
    /// [`at_init`](Builder::at_init)).
    #[doc(hidden)]
    pub fn take_store(&mut self) -> Option<String> {
        self.store.take()
    }

    /// Runs `configure` on this builder when the logger is installed (`init`/`try_init`):
    /// after the settings made in code, before the environment variables, which override
    /// both. This is how a configuration file applies (`ttlog::init()` reads `TTLOG_CONFIG`
    /// this way): the file overrides the code, the environment overrides the file.
    /// `configure` returns the builder and, if it could not apply everything, why: then
    /// [`try_init`](Builder::try_init) fails with [`InitError::Config`] and
    /// [`init`](Builder::init) says so on stderr and goes on with the builder as returned.
    /// Calling it again replaces the earlier step.
    ///
    /// ```
    /// let handle = ttlog_core::init()
    ///     .console(false)
    ///     .level(ttlog_core::LogLevel::Info)
    ///     .at_init(|builder| (builder.level(ttlog_core::LogLevel::Warn), None))
    ///     .with_env(false)
    ///     .init();
    /// assert_eq!(handle.filter().max_level(), ttlog_core::LevelFilter::Warn);
    /// ```
    pub fn at_init(
        mut self,
        configure: impl FnOnce(Builder) -> (Builder, Option<String>) + Send + 'static,
    ) -> Builder {
        self.at_init = Some(Box::new(configure));
        self
    }

    /// Writes the console output to stdout instead of stderr (for programs whose logs are
    /// their output, as in containers that collect stdout). Formats and colours follow
    /// stdout as they follow stderr otherwise: pretty and coloured on a terminal, unless
    /// `NO_COLOR` or [`ansi`](Builder::ansi) say otherwise.
    ///
    /// ```
    /// let _handle = ttlog_core::init().stdout().init();
    /// ```
    pub fn stdout(mut self) -> Builder {
        self.console = Console::Stdout;
        self
    }

    /// Turns the console output off (or back on, to stderr).
    pub fn console(mut self, enabled: bool) -> Builder {
        self.console = if enabled {
            Console::Stderr
        } else {
            Console::Off
        };
        self
    }

    /// Adds a sink besides the console.
    pub fn sink(mut self, sink: impl Sink) -> Builder {
        self.sinks.push(sink.into_boxed());
        self
    }

    /// What a full thread ring does (default: [`Overflow::Drop`]).
    pub fn overflow(mut self, overflow: Overflow) -> Builder {
        self.overflow = overflow;
        self
    }

    /// Size of each thread's ring in bytes (rounded up to a power of two; default 256 KiB,
    /// at least [`MIN_THREAD_BUFFER`], at most [`MAX_THREAD_BUFFER`]). Applies to threads
    /// that log their first event after `init`. A record takes at most half the ring: longer
    /// text is cut and marked.
    pub fn thread_buffer_size(mut self, bytes: usize) -> Builder {
        self.thread_buffer = bytes;
        self
    }

    /// The most a thread's ring may grow to during a burst in [`Overflow::Drop`] mode (default
    /// [`DEFAULT_THREAD_BUFFER_MAX`], 64 MiB; at least the ring's size, at most
    /// [`MAX_THREAD_BUFFER`]). When a ring is full, the thread moves to one twice as large (an
    /// allocation, only then) until this bound; only beyond it are events dropped (counted
    /// and marked). [`Overflow::Block`] never grows rings: it waits.
    /// After the burst, at a later wrap of its ring, the thread returns to a ring of
    /// [`thread_buffer_size`](Builder::thread_buffer_size). Set it to the ring's size for a
    /// fixed ring.
    ///
    /// [`DEFAULT_THREAD_BUFFER_MAX`]: crate::DEFAULT_THREAD_BUFFER_MAX
    pub fn thread_buffer_max(mut self, bytes: usize) -> Builder {
        self.thread_buffer_max = Some(bytes);
        self
    }

    /// How long the consumer holds events back to put events of different threads in
    /// timestamp order (default 50 ms). Flushes never wait for it.
    pub fn reorder_window(mut self, window: Duration) -> Builder {
        self.reorder_window = window;
        self
    }

    /// Whether spans log their lifecycle events (default `true`): `"<name> started"` when an
    /// `#[instrument]`ed function is entered and `"<name> closed"` (with `duration_ns`) when a
    /// span ends, both at the span's level. With `false` only the events you log appear; the
    /// spans themselves (fields, ids, nesting) are unchanged. A span's close event never
    /// triggers an error snapshot, even at error level.
    pub fn span_events(mut self, enabled: bool) -> Builder {
        self.span_events = enabled;
        self
    }

    /// How long dropping the handle waits for the consumer to write everything and stop
    /// (default 10 s). A consumer still busy then (a sink that does not return) keeps running
    /// until it is done; a new logger waits for it and never runs beside it.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.shutdown_timeout = timeout;
        self
    }

    /// Installs the logger. Never panics: a malformed directive or `TTLOG_FORMAT` prints one
    /// warning line on stderr and the valid part is used. If a logger is already installed,
    /// this prints a warning and returns a handle to that logger, which flushes on drop but
    /// does not uninstall it; this builder's settings are ignored.
    pub fn init(self) -> TtlogHandle {
        match self.build(false) {
            Ok(handle) => handle,
            Err(err) => match runtime::consumer() {
                Some(shared) if matches!(err, InitError::AlreadyInstalled) => {
                    diag!("ttlog: {err}; using it");
                    TtlogHandle::secondary(shared)
                }
                _ => {
                    diag!("ttlog: {err}; logging is off");
                    TtlogHandle::detached()
                }
            },
        }
    }

    /// Installs the logger, or says why not: another logger is installed, a directive in
    /// `TTLOG`/`RUST_LOG`/[`filter`](Builder::filter) is malformed, `TTLOG_FORMAT` is not
    /// a format, or a size is out of range ([`InitError::Size`]; [`init`](Builder::init)
    /// clamps it instead, with a warning).
    pub fn try_init(self) -> Result<TtlogHandle, InitError> {
        self.build(true)
    }

    fn build(mut self, strict: bool) -> Result<TtlogHandle, InitError> {
        if let Some(configure) = self.at_init.take() {
            let (configured, problem) = configure(self);
            self = configured;
            if let Some(problem) = problem {
                if strict {
                    return Err(InitError::Config(problem));
                }
                diag!("ttlog: {problem}; going on without it");
            }
        }
        if let Some(path) = self.config_file.take() {
            let problem = format!(
                "configuration file {} not read: reading configuration files needs the `ttlog` \
                 facade with its `sinks` feature",
                path.display()
            );
            if strict {
                return Err(InitError::Config(problem));
            }
            diag!("ttlog: {problem}");
        }
        if self.store.take().is_some() {
            let problem = "the log store given with `.store(..)` is not used: writing to a store \
                           needs the `ttlog` facade with its `store` feature"
                .to_owned();
            if strict {
                return Err(InitError::Config(problem));
            }
            diag!("ttlog: {problem}");
        }
        let env = |name: &str| {
            if self.use_env {
                std::env::var(name).ok()
            } else {
                None
            }
        };
        let (spec, source) = match directives_from_env(env("TTLOG"), env("RUST_LOG")) {
            Some((spec, source)) => (Some(spec), source),
            None => (self.filter.clone(), "the builder's filter"),
        };
        let filter = match spec {
            None => Filter::from_level(self.level),
            Some(spec) => {
                let (filter, errors) = Filter::parse_lenient(&spec, self.level);
                if let Some(first) = errors.first() {
                    if strict {
                        return Err(InitError::Filter(first.clone()));
                    }
                    let names: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                    diag!("ttlog: ignoring in {source}: {}", names.join("; "));
                }
                filter
            }
        };

        let terminal = match self.console {
            Console::Stderr => io::stderr().is_terminal(),
            Console::Stdout => io::stdout().is_terminal(),
            _ => false,
        };
        let format = match env("TTLOG_FORMAT").filter(|s| !s.trim().is_empty()) {
            Some(name) => match name.parse::<Format>() {
                Ok(format) => Some(format),
                Err(err) if strict => return Err(InitError::Format(err)),
                Err(err) => {
                    diag!("ttlog: ignoring TTLOG_FORMAT: {err}");
                    None
                }
            },
            None => None,
        }
        .or(self.format)
        .unwrap_or(if terminal {
            Format::Pretty
        } else {
            Format::Compact
        });
        let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
        let ansi = self.ansi.unwrap_or(terminal && !no_color);

        let thread_buffer = checked_size(
            "thread_buffer_size",
            self.thread_buffer,
            MIN_THREAD_BUFFER..=MAX_THREAD_BUFFER,
            strict,
        )?;
        match runtime::wait_for_retiring_consumer(RETIRE_WAIT) {
            Ok(()) => {}
            Err(Occupied::Running) => return Err(InitError::AlreadyInstalled),
            Err(Occupied::Retiring) => return Err(InitError::PreviousStillRunning),
        }
        let recorder = if self.recorder {
            Some(Arc::new(self.recorder_shared(&env, strict)?))
        } else {
            None
        };
        let mut sinks: Vec<Box<dyn Sink>> = Vec::with_capacity(self.sinks.len() + 1);
        match self.console {
            Console::Stderr => sinks.push(Box::new(
                WriterSink::new(io::stderr(), format)
                    .with_ansi(ansi)
                    .with_flattened_fields(self.flatten_fields)
                    .with_name("stderr"),
            )),
            Console::Stdout => sinks.push(Box::new(
                WriterSink::new(io::stdout(), format)
                    .with_ansi(ansi)
                    .with_flattened_fields(self.flatten_fields)
                    .with_name("stdout"),
            )),
            Console::Writer(writer) => sinks.push(Box::new(
                WriterSink::new(writer, format)
                    .with_ansi(self.ansi.unwrap_or(false))
                    .with_flattened_fields(self.flatten_fields)
                    .with_name("console writer"),
            )),
            Console::Off => {}
        }
        sinks.extend(self.sinks);

        let shared: &'static ConsumerShared = Box::leak(Box::new(ConsumerShared::new()));
        if !runtime::install_consumer(shared) {
            return Err(InitError::AlreadyInstalled);
        }
        // What leaves the consumer: the recorder first, so that a sink that stalls on an event
        // never keeps that event (and what came before it) from the next snapshot; then sinks.
        let mut receivers: Vec<Box<dyn Receiver>> = Vec::with_capacity(2);
        if let Some(recorder) = &recorder {
            let errors: Option<Box<dyn ErrorSnapshots>> = recorder.on_error.map(|_| {
                Box::new(ErrorSnapshotter::new(Arc::clone(recorder))) as Box<dyn ErrorSnapshots>
            });
            let history = Arc::clone(&recorder.history);
            receivers.push(Box::new(RecorderSink::new(history, errors)));
        }
        let sink_filters: Vec<Option<Filter>> = sinks.iter().map(|sink| sink.filter()).collect();
        let own_filters: Vec<Filter> = sink_filters.iter().flatten().cloned().collect();
        let followers = sink_filters.iter().filter(|f| f.is_none()).count();
        let mut statics = std::mem::take(&mut self.statics);
        if self.process_fields {
            add_static(&mut statics, "hostname", hostname().as_str());
            add_static(&mut statics, "pid", &std::process::id());
        }
        receivers.push(Box::new(
            SinkSet::new(sinks, sink_filters, shared)
                .with_statics(statics.0, statics.1)
                .with_redactor(self.redactor.take()),
        ));
        clock::warm_up();
        runtime::OVERFLOW_BLOCK.store(self.overflow == Overflow::Block, Ordering::Relaxed);
        runtime::RING_BYTES.store(thread_buffer, Ordering::Relaxed);
        let max = self
            .thread_buffer_max
            .unwrap_or(runtime::DEFAULT_THREAD_BUFFER_MAX)
            .clamp(thread_buffer, MAX_THREAD_BUFFER);
        runtime::RING_MAX_BYTES.store(max, Ordering::Relaxed);
        let config = ConsumerConfig {
            receivers,
            reorder_window: self.reorder_window,
            staging_limit: 64 << 20,
        };
        let spawned = std::thread::Builder::new()
            .name("ttlog-consumer".to_owned())
            .spawn(move || consumer::run(shared, config));
        let join = match spawned {
            Ok(join) => join,
            Err(err) => {
                shared.alive.store(false, Ordering::Release);
                runtime::uninstall_consumer(shared);
                return Err(InitError::Spawn(err));
            }
        };
        *shared.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(join.thread().clone());
        let recorder_level = self
            .recorder
            .then(|| self.recorder_level.unwrap_or(LevelFilter::Off));
        callsite::update_registry(|registry| {
            registry.set_recorder_level(recorder_level);
            registry.set_sink_filters(own_filters, followers);
            registry.set_filter(filter, true);
            callsite::set_span_events(self.span_events);
        });
        if let Some(recorder) = &recorder {
            trigger::set_active(shared, Arc::clone(recorder));
            if self.panic_hook {
                trigger::install_panic_hook();
            }
        }
        let reload = self.reload.take();
        let reloadable = reload.is_some();
        crate::handle::set_reload(reload);
        if self.signals {
            trigger::install_signal_handlers();
            if reloadable {
                trigger::install_reload_signal();
            }
        }
        trigger::install_exit_flush();
        crate::fork::install_fork_handlers();
        Ok(TtlogHandle::owner(
            shared,
            recorder,
            join,
            self.capacity,
            self.shutdown_timeout,
        ))
    }

    /// The recorder: its history (on the heap or in the persisted file) and snapshot settings.
    fn recorder_shared(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        strict: bool,
    ) -> Result<RecorderShared, InitError> {
        let dir = env("TTLOG_SNAPSHOT_DIR")
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from)
            .or_else(|| self.snapshot_dir.clone())
            .unwrap_or_else(|| PathBuf::from(snapshot::DEFAULT_SNAPSHOT_DIR));
        let level = self
            .recorder_level
            .map_or_else(|| "same as sinks".to_owned(), |l| l.as_str().to_owned());
        let config = SnapshotConfig::new(dir, self.retention, self.service.clone(), level);
        let events = checked_size("capacity", self.capacity, 1..=MAX_RECORDER_EVENTS, strict)?;
        let bytes = match self.recorder_bytes {
            Some(bytes) => checked_size(
                "recorder_bytes",
                bytes,
                MIN_RECORDER_BYTES..=MAX_RECORDER_BYTES,
                strict,
            )?,
            None => events
                .saturating_mul(128)
                .clamp(64 * 1024, MAX_RECORDER_BYTES),
        };
        static GENERATION: AtomicU32 = AtomicU32::new(0);
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
        let history = match &self.persist {
            None => History::in_memory(bytes, events, generation),
            Some(path) => {
                let info: Vec<(&str, String)> = config.process_info();
                match History::persisted(path, bytes, events, generation, &info) {
                    Ok((history, previous)) => {
                        recover_previous_run(path, &previous, &config);
                        history
                    }
                    Err(source) if strict => {
                        return Err(InitError::Persist {
                            path: path.clone(),
                            source,
                        });
                    }
                    Err(source) => {
                        // Logging goes on, console included; only the crash-proof copy is lost.
                        diag!(
                            "ttlog: {}; the flight recorder keeps its history in memory",
                            InitError::Persist {
                                path: path.clone(),
                                source
                            }
                        );
                        History::in_memory(bytes, events, generation)
                    }
                }
            }
        };
        Ok(RecorderShared {
            history: Arc::new(Mutex::new(history)),
            config,
            on_error: self.snapshot_on_error.then_some(self.error_rate_limit),
            last_error_snapshot: AtomicU64::new(0),
            last_panic_snapshot: AtomicU64::new(0),
        })
    }
}

/// A persisted recorder left by a run that did not shut down cleanly (`bytes`, the file's
/// content before it was reused) becomes a snapshot (reason `recovered`).
fn recover_previous_run(path: &Path, bytes: &[u8], config: &SnapshotConfig) {
    if bytes.is_empty() {
        return;
    }
    let Ok(previous) = crate::recorder::parse_persisted(bytes) else {
        return;
    };
    if previous.clean || previous.copy.count == 0 {
        return;
    }
    let name = format!(
        "{}-recovered-{}.{}",
        path.file_stem()
            .map_or("recorder".into(), |s| s.to_string_lossy()),
        snapshot::millis(std::time::SystemTime::now()),
        snapshot::SNAPSHOT_EXTENSION
    );
    let out = config.dir.join(name);
    let result = std::fs::create_dir_all(&config.dir)
        .map_err(|source| snapshot::SnapshotError::Io {
            path: config.dir.clone(),
            source,
        })
        .and_then(|()| snapshot::write_recovered(path, &previous, &out));
    match result {
        Ok(n) => diag!(
            "ttlog: recovered {n} events of the previous run from {} into {}",
            path.display(),
            out.display()
        ),
        Err(err) => diag!("ttlog: could not recover {}: {err}", path.display()),
    }
}

/// How long `init` waits for the previous logger's consumer to finish shutting down.
const RETIRE_WAIT: Duration = Duration::from_secs(2);

/// The smallest ring a thread may have ([`Builder::thread_buffer_size`]).
pub const MIN_THREAD_BUFFER: usize = 4 * 1024;
/// The largest ring a thread may have ([`Builder::thread_buffer_size`]).
pub const MAX_THREAD_BUFFER: usize = 256 << 20;
/// The most events the flight recorder may keep ([`Builder::capacity`]).
pub const MAX_RECORDER_EVENTS: usize = 1 << 27;
/// The smallest flight recorder history in bytes ([`Builder::recorder_bytes`]).
pub const MIN_RECORDER_BYTES: usize = 4 * 1024;
/// The largest flight recorder history in bytes ([`Builder::recorder_bytes`]).
pub const MAX_RECORDER_BYTES: usize = 4 << 30;

/// `value` if it is in `range`; else an error (`strict`) or the nearest bound, with a warning.
fn checked_size(
    setting: &'static str,
    value: usize,
    range: std::ops::RangeInclusive<usize>,
    strict: bool,
) -> Result<usize, InitError> {
    if range.contains(&value) {
        return Ok(value);
    }
    let (min, max) = (*range.start(), *range.end());
    let error = InitError::Size {
        setting,
        value,
        min,
        max,
    };
    if strict {
        return Err(error);
    }
    let clamped = value.clamp(min, max);
    diag!("ttlog: {error}; using {clamped}");
    Ok(clamped)
}

/// Appends `name = value` to the static fields: their encoded pairs and their count.
fn add_static<V: crate::value::Value + ?Sized>(
    statics: &mut (Vec<u8>, u16),
    name: &str,
    value: &V,
) {
    let group = crate::scope::OwnedValues::encode(|enc| {
        enc.fields(false, |out| out.field(name, value));
    });
    let bytes = &group.bytes;
    // One group value: an 8-byte header (tag, flags, count, length), then its one pair.
    if group.count == 1
        && bytes.len() > 8
        && u16::from_le_bytes([bytes[2], bytes[3]]) == 1
        && statics.1 < u16::MAX
    {
        statics.0.extend_from_slice(&bytes[8..]);
        statics.1 += 1;
    }
}

/// The machine's host name (`HOSTNAME`, else `/etc/hostname`, else `unknown`).
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Why [`Builder::try_init`] did not install the logger.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// A logger is already installed (drop its handle first to replace it).
    AlreadyInstalled,
    /// A filter directive is malformed.
    Filter(ParseDirectiveError),
    /// `TTLOG_FORMAT` is not `pretty`, `compact` or `json`.
    Format(ParseFormatError),
    /// The consumer thread could not be started.
    Spawn(io::Error),
    /// The previous logger's handle was dropped, but its consumer thread is still busy (in a
    /// sink that does not return) after a wait; a new logger never runs beside it.
    PreviousStillRunning,
    /// A size given to the builder is out of range.
    Size {
        /// The builder method (`thread_buffer_size`, `capacity`, `recorder_bytes`).
        setting: &'static str,
        /// The value given.
        value: usize,
        /// The smallest value allowed.
        min: usize,
        /// The largest value allowed.
        max: usize,
    },
    /// The configuration (a file given with `TTLOG_CONFIG` or `config_file`) could not be
    /// read or applied; the message names the file, the key, the value and the line.
    Config(String),
    /// The persisted recorder file could not be created or mapped.
    Persist {
        /// The file given to [`Builder::persist`].
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyInstalled => f.write_str("a ttlog logger is already installed"),
            InitError::PreviousStillRunning => f.write_str(
                "the previous ttlog logger is still shutting down (one of its sinks does not return)",
            ),
            InitError::Filter(err) => write!(f, "{err}"),
            InitError::Config(problem) => f.write_str(problem),
            InitError::Format(err) => write!(f, "TTLOG_FORMAT: {err}"),
            InitError::Spawn(err) => write!(f, "could not start the consumer thread: {err}"),
            InitError::Size {
                setting,
                value,
                min,
                max,
            } => write!(
                f,
                "{setting}({value}) is out of range: it must be between {min} and {max}"
            ),
            InitError::Persist { path, source } => {
                write!(
                    f,
                    "could not create the recorder file {}: {source}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Filter(err) => Some(err),
            InitError::Format(err) => Some(err),
            InitError::Spawn(err) => Some(err),
            InitError::Persist { source, .. } => Some(source),
            InitError::AlreadyInstalled
            | InitError::Config(_)
            | InitError::PreviousStillRunning
            | InitError::Size { .. } => None,
        }
    }
}
