//! The configuration file: YAML (or TOML), in the shape of the seed documents.
//!
//! ```yaml
//! logging:
//!   level: info,billing=debug        # directives, RUST_LOG syntax
//!   format: json                     # pretty | compact | json (the console's default)
//!   sinks:
//!     - type: console
//!       stream: stderr               # stderr | stdout
//!       colors: true                 # default: on a terminal, unless NO_COLOR
//!     - type: file
//!       path: logs/api.log
//!       level: debug                 # this sink's own filter
//!       rotation: { max_size: 100MB, every: daily, max_age: 7d, max_files: 5 }
//!       compress: true
//!   enrichment: { fields: { service: api, version: "1.4.2" }, process: true }
//!   sampling: { info_rate: 0.1, per_callsite_per_second: 100 }
//!   recorder: { capacity: 100000, level: trace, snapshot_dir: /var/lib/api/snapshots }
//!   redaction: { fields: [customer_ssn], patterns: ['\bINT-[0-9]{6}\b'], mask: full }
//! ```
//!
//! Every value is checked while the file is read: an unknown key or a bad value is an error
//! that names the key, the value and the line, and nothing of a file with an error is applied.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use ttlog_core::{Builder, Filter, Format, LevelFilter, Sink, WriterSink};

use std::sync::Arc;

use crate::{FileSink, Mask, Period, RedactionRules, Sampled, Sampling, SamplingControl};

/// Why a configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A configuration read from a file or a string; [`apply`](Config::apply) it to a builder.
///
/// ```
/// let config = ttlog_sinks::Config::from_yaml(r#"
/// logging:
///   level: info
///   sinks:
///     - type: console
///       format: compact
/// "#).expect("a valid configuration");
/// let handle = config.apply(ttlog_core::init().with_env(false)).init();
/// # drop(handle);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    logging: Logging,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Logging {
    level: Option<Directives>,
    format: Option<FormatName>,
    sinks: Option<Vec<SinkConfig>>,
    enrichment: Option<Enrichment>,
    sampling: Option<SamplingConfig>,
    recorder: Option<RecorderConfig>,
    redaction: Option<RedactionConfig>,
}

/// `redaction:` turns redaction on for every sink (see [`RedactionRules`]).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedactionConfig {
    /// Default: on when the section is there.
    enabled: Option<bool>,
    /// The default names and patterns, before `fields` and `patterns` (default: yes).
    defaults: Option<bool>,
    fields: Option<Vec<String>>,
    patterns: Option<Vec<PatternSource>>,
    mask: Option<MaskName>,
    /// Card numbers (Luhn-checked); default: with the defaults.
    cards: Option<bool>,
}

impl RedactionConfig {
    /// The rules, or `None` when the section turns redaction off.
    fn rules(&self) -> Option<RedactionRules> {
        if self.enabled == Some(false) {
            return None;
        }
        let defaults = self.defaults.unwrap_or(true);
        let mut rules = if defaults {
            RedactionRules::default()
        } else {
            RedactionRules::none()
        };
        for name in self.fields.iter().flatten() {
            rules = rules.field(name);
        }
        for pattern in self.patterns.iter().flatten() {
            rules = rules.pattern(&pattern.0).expect("checked when read");
        }
        if let Some(mask) = self.mask {
            rules = rules.masking(mask.0);
        }
        Some(rules.cards(self.cards.unwrap_or(defaults)))
    }
}

/// A regular expression, compiled (and so checked) while reading.
#[derive(Debug, Clone, PartialEq)]
struct PatternSource(String);

impl<'de> Deserialize<'de> for PatternSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RedactionRules::none()
            .pattern(&text)
            .map_err(de::Error::custom)?;
        Ok(PatternSource(text))
    }
}

/// `full` or `partial`.
#[derive(Debug, Clone, PartialEq, Copy)]
struct MaskName(Mask);

impl<'de> Deserialize<'de> for MaskName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "full" => Ok(MaskName(Mask::Full)),
            "partial" => Ok(MaskName(Mask::Partial)),
            _ => Err(de::Error::custom(format!(
                "`{text}` is not a mask (expected full or partial)"
            ))),
        }
    }
}

/// One sink. A flat struct rather than an enum tagged by `type`, so that every error inside a
/// sink keeps its exact line; what applies to which type is checked after reading.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkConfig {
    #[serde(rename = "type")]
    kind: SinkKind,
    path: Option<PathBuf>,
    level: Option<Directives>,
    format: Option<FormatName>,
    stream: Option<Stream>,
    flatten_fields: Option<bool>,
    rotation: Option<Rotation>,
    compress: Option<bool>,
    /// Console only: colours on or off (default: on a terminal, unless `NO_COLOR`).
    colors: Option<bool>,
    /// This sink's own sampling, instead of the file's `sampling`.
    sampling: Option<SamplingConfig>,
    /// Store only: where (`sqlite:PATH`, `postgres://…`).
    url: Option<String>,
    /// Store only: how much it keeps.
    retention: Option<StoreRetention>,
}

/// A store's `retention: { max_age: 7d, max_rows: 10000000 }`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreRetention {
    max_age: Option<Span>,
    max_rows: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SinkKind {
    Console,
    File,
    Store,
    /// OpenTelemetry export (the `ttlog` facade's `otlp` feature).
    Otlp,
}

impl SinkConfig {
    /// The keys that do not belong to this type of sink, and a file sink's path.
    fn check(&self, index: usize) -> Result<(), ConfigError> {
        let misplaced = match self.kind {
            SinkKind::Console => [
                ("path", self.path.is_some()),
                ("rotation", self.rotation.is_some()),
                ("compress", self.compress.is_some()),
            ]
            .into_iter()
            .find(|(_, given)| *given),
            SinkKind::File => [
                ("stream", self.stream.is_some()),
                ("colors", self.colors.is_some()),
                ("url", self.url.is_some()),
                ("retention", self.retention.is_some()),
            ]
            .into_iter()
            .find(|(_, given)| *given),
            SinkKind::Store | SinkKind::Otlp => [
                ("path", self.path.is_some()),
                ("format", self.format.is_some()),
                ("stream", self.stream.is_some()),
                ("flatten_fields", self.flatten_fields.is_some()),
                ("rotation", self.rotation.is_some()),
                ("compress", self.compress.is_some()),
                ("colors", self.colors.is_some()),
            ]
            .into_iter()
            .find(|(_, given)| *given),
        };
        let kind = match self.kind {
            SinkKind::Console => "console",
            SinkKind::File => "file",
            SinkKind::Store => "store",
            SinkKind::Otlp => "otlp",
        };
        if self.kind == SinkKind::Console {
            for (key, given) in [
                ("url", self.url.is_some()),
                ("retention", self.retention.is_some()),
            ] {
                if given {
                    return Err(ConfigError::new(format!(
                        "logging.sinks[{index}].{key}: a console sink has no `{key}`"
                    )));
                }
            }
        }
        if self.kind == SinkKind::Store && self.url.is_none() {
            return Err(ConfigError::new(format!(
                "logging.sinks[{index}]: a store sink needs `url` (sqlite:PATH or postgres://…)"
            )));
        }
        if self.kind == SinkKind::Otlp {
            if self.url.is_none() {
                return Err(ConfigError::new(format!(
                    "logging.sinks[{index}]: an otlp sink needs `url` (the collector's \
                     endpoint, http://collector:4318)"
                )));
            }
            if self.retention.is_some() {
                return Err(ConfigError::new(format!(
                    "logging.sinks[{index}].retention: an otlp sink has no `retention`"
                )));
            }
        }
        if let Some((key, _)) = misplaced {
            return Err(ConfigError::new(format!(
                "logging.sinks[{index}].{key}: a {kind} sink has no `{key}`"
            )));
        }
        if self.kind == SinkKind::File && self.path.is_none() {
            return Err(ConfigError::new(format!(
                "logging.sinks[{index}]: a file sink needs `path`"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Stream {
    Stderr,
    Stdout,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotation {
    max_size: Option<ByteSize>,
    every: Option<Every>,
    max_age: Option<Span>,
    max_files: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Enrichment {
    fields: Option<BTreeMap<String, Scalar>>,
    process: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SamplingConfig {
    error_rate: Option<Rate>,
    warn_rate: Option<Rate>,
    info_rate: Option<Rate>,
    debug_rate: Option<Rate>,
    trace_rate: Option<Rate>,
    per_callsite_per_second: Option<u32>,
}

impl SamplingConfig {
    fn sampling(&self) -> Sampling {
        let defaults = Sampling::default();
        Sampling {
            error_rate: self.error_rate.map_or(defaults.error_rate, |r| r.0),
            warn_rate: self.warn_rate.map_or(defaults.warn_rate, |r| r.0),
            info_rate: self.info_rate.map_or(defaults.info_rate, |r| r.0),
            debug_rate: self.debug_rate.map_or(defaults.debug_rate, |r| r.0),
            trace_rate: self.trace_rate.map_or(defaults.trace_rate, |r| r.0),
            per_callsite_per_second: self.per_callsite_per_second,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecorderConfig {
    capacity: Option<usize>,
    level: Option<Level>,
    snapshot_dir: Option<PathBuf>,
    persist: Option<PathBuf>,
}

/// Directives (`info,billing=debug`), checked while reading.
#[derive(Debug, Clone, PartialEq)]
struct Directives(String);

impl<'de> Deserialize<'de> for Directives {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Filter>()
            .map_err(|err| de::Error::custom(format!("`{text}`: {err}")))?;
        Ok(Directives(text))
    }
}

impl Directives {
    fn filter(&self) -> Filter {
        self.0.parse().expect("checked when read")
    }
}

/// A single level (`trace` .. `error`, `off`).
#[derive(Debug, Clone, PartialEq, Copy)]
struct Level(LevelFilter);

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<LevelFilter>()
            .map(Level)
            .map_err(|err| de::Error::custom(format!("`{text}`: {err}")))
    }
}

#[derive(Debug, Clone, PartialEq, Copy)]
struct FormatName(Format);

impl<'de> Deserialize<'de> for FormatName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Format>()
            .map(FormatName)
            .map_err(|err| de::Error::custom(format!("`{text}`: {err}")))
    }
}

/// `100MB`, `512KiB`, `1GB`, or a number of bytes.
#[derive(Debug, Clone, PartialEq, Copy)]
struct ByteSize(u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(text) => parse_size(&text).map(ByteSize).ok_or_else(|| {
                de::Error::custom(format!(
                    "`{text}` is not a size (write e.g. 100MB, 512KiB or a number of bytes)"
                ))
            }),
        }
    }
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let unit: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(unit)
}

/// A duration: `7d`, `12h`, `30m`.
#[derive(Debug, Clone, PartialEq, Copy)]
struct Span(Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text)
            .map(Span)
            .map_err(|err| de::Error::custom(format!("`{text}` is not a duration ({err})")))
    }
}

/// `hourly`, `daily`, or a duration (`30m`).
#[derive(Debug, Clone, PartialEq, Copy)]
struct Every(Period);

impl<'de> Deserialize<'de> for Every {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.trim().to_ascii_lowercase().as_str() {
            "hourly" => Ok(Every(Period::HOURLY)),
            "daily" => Ok(Every(Period::DAILY)),
            other => humantime::parse_duration(other)
                .map(|d| Every(Period::every(d)))
                .map_err(|_| {
                    de::Error::custom(format!(
                        "`{text}` is not a period (hourly, daily, or a duration such as 30m)"
                    ))
                }),
        }
    }
}

/// A fraction between 0 and 1.
#[derive(Debug, Clone, PartialEq, Copy)]
struct Rate(f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let rate = f64::deserialize(d)?;
        if (0.0..=1.0).contains(&rate) {
            Ok(Rate(rate))
        } else {
            Err(de::Error::custom(format!(
                "`{rate}` is not a rate (a fraction between 0 and 1)"
            )))
        }
    }
}

impl Config {
    /// Reads a YAML configuration.
    ///
    /// # Errors
    ///
    /// The text is not valid YAML, has an unknown key, or a bad value; the message names the
    /// key, the value and the line.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            yaml_serde::from_str(text).map_err(|err| ConfigError::new(err.to_string()))?;
        config.check()
    }

    fn check(self) -> Result<Config, ConfigError> {
        for (index, sink) in self.logging.sinks.iter().flatten().enumerate() {
            sink.check(index)?;
        }
        Ok(self)
    }

    /// Reads a TOML configuration (the same keys, under `[logging]`).
    ///
    /// # Errors
    ///
    /// As [`from_yaml`](Config::from_yaml).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|err| ConfigError::new(err.to_string().trim_end().to_owned()))?;
        config.check()
    }

    /// Reads `path`: TOML if its name ends in `.toml`, YAML otherwise.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or its content is not a valid configuration; the message
    /// names the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigError::new(format!("{}: {err}", path.display())))?;
        let config = if path.extension().is_some_and(|e| e == "toml") {
            Config::from_toml(&text)
        } else {
            Config::from_yaml(&text)
        };
        config.map_err(|err| ConfigError::new(format!("{}: {err}", path.display())))
    }

    /// The redaction rules of the `redaction` section, if it turns redaction on (for tools
    /// that print what a program logged, as `ttlog dump --config` does).
    pub fn redaction_rules(&self) -> Option<RedactionRules> {
        self.logging
            .redaction
            .as_ref()
            .and_then(RedactionConfig::rules)
    }

    /// Applies the configuration to `builder`: what the file sets replaces what the builder
    /// had; what it leaves out stays. With `sinks`, the file's sinks replace the console.
    ///
    /// A `store` sink needs a store factory ([`register_store_factory`], which the `ttlog`
    /// facade's `store` feature does); a store sink that cannot be made is left out and said
    /// on stderr (and, read at install time, makes `try_init` fail).
    pub fn apply(self, builder: Builder) -> Builder {
        let (builder, _, problems) = self.apply_with_controls(builder);
        for problem in problems {
            ttlog_core::write_diagnostic(format_args!("ttlog: configuration: {problem}"));
        }
        builder
    }

    /// [`apply`](Config::apply), and a handle on the sampling of each of the file's sinks (in
    /// their order), for a reload.
    fn apply_with_controls(
        self,
        mut builder: Builder,
    ) -> (Builder, Vec<SamplingControl>, Vec<String>) {
        let logging = self.logging;
        let mut controls = Vec::new();
        let mut problems = Vec::new();
        if let Some(level) = &logging.level {
            builder = builder.filter(level.0.clone());
        }
        let default_format = logging.format.map(|f| f.0);
        if let Some(format) = default_format {
            builder = builder.format(format);
        }
        if let Some(enrichment) = &logging.enrichment {
            for (name, value) in enrichment.fields.iter().flatten() {
                builder = match value {
                    Scalar::Bool(v) => builder.static_field(name, v),
                    Scalar::Int(v) => builder.static_field(name, v),
                    Scalar::Float(v) => builder.static_field(name, v),
                    Scalar::Str(v) => builder.static_field(name, v.as_str()),
                };
            }
            if let Some(process) = enrichment.process {
                builder = builder.process_fields(process);
            }
        }
        if let Some(recorder) = &logging.recorder {
            if let Some(capacity) = recorder.capacity {
                builder = builder.capacity(capacity);
            }
            if let Some(level) = recorder.level {
                builder = builder.recorder_level(level.0);
            }
            if let Some(dir) = &recorder.snapshot_dir {
                builder = builder.snapshot_dir(dir);
            }
            if let Some(path) = &recorder.persist {
                builder = builder.persist(path);
            }
        }
        if let Some(rules) = logging.redaction.as_ref().and_then(RedactionConfig::rules) {
            builder = builder.redactor(rules);
        }
        let sampling = logging.sampling.as_ref().map(SamplingConfig::sampling);
        let Some(sinks) = logging.sinks else {
            return (builder, controls, problems);
        };
        builder = builder.console(false);
        for sink in sinks {
            let SinkConfig {
                kind,
                path,
                level,
                format,
                stream,
                flatten_fields,
                rotation,
                compress,
                colors,
                sampling: own_sampling,
                url,
                retention,
            } = sink;
            let sink: Box<dyn Sink> = match kind {
                SinkKind::Console => {
                    let stdout = matches!(stream, Some(Stream::Stdout));
                    let terminal = if stdout {
                        std::io::IsTerminal::is_terminal(&std::io::stdout())
                    } else {
                        std::io::IsTerminal::is_terminal(&std::io::stderr())
                    };
                    let format = format
                        .map(|f| f.0)
                        .or(default_format)
                        .unwrap_or(if terminal {
                            Format::Pretty
                        } else {
                            Format::Compact
                        });
                    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                    let writer: Box<dyn std::io::Write + Send> = if stdout {
                        Box::new(std::io::stdout())
                    } else {
                        Box::new(std::io::stderr())
                    };
                    let console = WriterSink::new(writer, format)
                        .with_ansi(colors.unwrap_or(terminal && !no_color))
                        .with_flattened_fields(flatten_fields.unwrap_or(false))
                        .with_name(if stdout { "stdout" } else { "stderr" });
                    Box::new(WithFilter(console, level.map(|l| l.filter())))
                }
                SinkKind::File => {
                    let path = path.expect("checked when read");
                    let mut file = FileSink::builder(path)
                        .format(
                            format
                                .map(|f| f.0)
                                .or(default_format)
                                .unwrap_or(Format::Json),
                        )
                        .flatten_fields(flatten_fields.unwrap_or(false));
                    if let Some(level) = &level {
                        file = file.filter(&level.0).expect("checked when read");
                    }
                    let rotation = rotation.unwrap_or_default();
                    if let Some(size) = rotation.max_size {
                        file = file.max_size(size.0);
                    }
                    if let Some(every) = rotation.every {
                        file = file.rotate_every(every.0);
                    }
                    if let Some(age) = rotation.max_age {
                        file = file.max_age(age.0);
                    }
                    if let Some(files) = rotation.max_files {
                        file = file.max_files(files);
                    }
                    #[cfg(feature = "gzip")]
                    if let Some(compress) = compress {
                        file = file.compress(compress);
                    }
                    #[cfg(not(feature = "gzip"))]
                    let _ = compress;
                    Box::new(file.build())
                }
                SinkKind::Store => {
                    let settings = StoreSettings {
                        url: url.expect("checked when read"),
                        max_age: retention.as_ref().and_then(|r| r.max_age).map(|a| a.0),
                        max_rows: retention.as_ref().and_then(|r| r.max_rows),
                    };
                    let made = match STORE_FACTORY.get() {
                        Some(make) => make(&settings),
                        None => Err("a store sink needs the `ttlog` facade with its `store` \
                                     feature (and `postgres` for PostgreSQL)"
                            .to_owned()),
                    };
                    match made {
                        Ok(sink) => Box::new(WithFilter(sink, level.map(|l| l.filter()))),
                        Err(problem) => {
                            problems.push(format!("logging.sinks: store: {problem}"));
                            continue;
                        }
                    }
                }
                SinkKind::Otlp => {
                    let endpoint = url.expect("checked when read");
                    let made = match OTLP_FACTORY.get() {
                        Some(make) => make(&endpoint),
                        None => Err("an otlp sink needs the `ttlog` facade with its `otlp` \
                                     feature"
                            .to_owned()),
                    };
                    match made {
                        Ok(sink) => Box::new(WithFilter(sink, level.map(|l| l.filter()))),
                        Err(problem) => {
                            problems.push(format!("logging.sinks: otlp: {problem}"));
                            continue;
                        }
                    }
                }
            };
            let sampling = own_sampling
                .as_ref()
                .map(SamplingConfig::sampling)
                .or(sampling);
            // Always behind a `Sampled` (all rates 1.0 when the file sets none: a comparison
            // per event), so that a reload can change the sampling.
            let sampled = Sampled::new(sink, sampling.unwrap_or_default());
            controls.push(sampled.control());
            builder = builder.sink(sampled);
        }
        (builder, controls, problems)
    }

    /// The sampling of the `index`-th sink: its own, else the file's, else none.
    fn sink_sampling(&self, index: usize) -> Sampling {
        let logging = &self.logging;
        logging
            .sinks
            .as_ref()
            .and_then(|sinks| sinks.get(index))
            .and_then(|sink| sink.sampling.as_ref())
            .or(logging.sampling.as_ref())
            .map(SamplingConfig::sampling)
            .unwrap_or_default()
    }
}

/// What a reload (`handle.reload()`, `SIGHUP`) does for a logger configured from a file.
struct Reloader {
    path: PathBuf,
    /// The configuration in force.
    running: std::sync::Mutex<Config>,
    /// The sampling of each of the file's sinks.
    controls: Vec<SamplingControl>,
    /// `TTLOG`/`RUST_LOG` override the file's level.
    env_filter: bool,
}

impl Reloader {
    fn reload(&self, handle: &ttlog_core::TtlogHandle) -> Result<Vec<String>, String> {
        let new = Config::from_file(&self.path).map_err(|err| format!("configuration {err}"))?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let (old, next) = (&running.logging, &new.logging);
        let mut notes = Vec::new();
        let without_sampling = |sinks: &Option<Vec<SinkConfig>>| {
            sinks.as_ref().map(|sinks| {
                sinks
                    .iter()
                    .map(|sink| SinkConfig {
                        sampling: None,
                        ..sink.clone()
                    })
                    .collect::<Vec<_>>()
            })
        };
        let same_sinks = without_sampling(&old.sinks) == without_sampling(&next.sinks);
        for (key, changed) in [
            ("sinks", !same_sinks),
            ("format", old.format != next.format),
            ("enrichment", old.enrichment != next.enrichment),
            ("recorder", old.recorder != next.recorder),
        ] {
            if changed {
                notes.push(format!(
                    "logging.{key} changed in {}: applies at the next start",
                    self.path.display()
                ));
            }
        }
        if old.level != next.level {
            match &next.level {
                _ if self.env_filter => notes
                    .push("logging.level not applied: TTLOG/RUST_LOG set the filter".to_owned()),
                Some(level) => handle
                    .set_filter(&level.0)
                    .map_err(|err| format!("logging.level: {err}"))?,
                None => notes.push(
                    "logging.level removed: the filter in force stays until the next start"
                        .to_owned(),
                ),
            }
        }
        if old.redaction != next.redaction {
            let rules = next.redaction.as_ref().and_then(RedactionConfig::rules);
            handle.set_redactor(rules.map(|r| Arc::new(r) as Arc<dyn ttlog_core::Redactor>));
        }
        if same_sinks {
            for (index, control) in self.controls.iter().enumerate() {
                let (was, now) = (running.sink_sampling(index), new.sink_sampling(index));
                if was != now {
                    control.set(now);
                }
            }
        } else {
            notes.push("logging.sampling not applied: the sinks changed".to_owned());
        }
        *running = new;
        Ok(notes)
    }
}

/// What a `type: store` sink of the file says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreSettings {
    /// `sqlite:PATH` or `postgres://…`.
    pub url: String,
    /// `retention.max_age`.
    pub max_age: Option<Duration>,
    /// `retention.max_rows`.
    pub max_rows: Option<u64>,
}

/// Makes a store sink: registered by the `ttlog` facade's `store` feature (the store crate
/// depends on this one, so this one cannot name it).
pub type StoreFactory = fn(settings: &StoreSettings) -> Result<Box<dyn Sink>, String>;

static STORE_FACTORY: std::sync::OnceLock<StoreFactory> = std::sync::OnceLock::new();

/// Registers how `type: store` sinks are made (once per process; later calls do nothing).
pub fn register_store_factory(factory: StoreFactory) {
    let _ = STORE_FACTORY.set(factory);
}

/// Makes an OpenTelemetry exporter for a collector endpoint: registered by the `ttlog`
/// facade's `otlp` feature (the exporter crate depends on this one).
pub type OtlpFactory = fn(endpoint: &str) -> Result<Box<dyn Sink>, String>;

static OTLP_FACTORY: std::sync::OnceLock<OtlpFactory> = std::sync::OnceLock::new();

/// Registers how `type: otlp` sinks are made (once per process; later calls do nothing).
pub fn register_otlp_factory(factory: OtlpFactory) {
    let _ = OTLP_FACTORY.set(factory);
}

/// A sink with the filter given to it in the configuration (if any).
struct WithFilter<S>(S, Option<Filter>);

impl<S: Sink> Sink for WithFilter<S> {
    fn write(&mut self, event: &ttlog_core::Event<'_>) -> std::io::Result<()> {
        self.0.write(event)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }

    fn filter(&self) -> Option<Filter> {
        self.1.clone()
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn drop_counter(&self) -> Option<Arc<std::sync::atomic::AtomicU64>> {
        self.0.drop_counter()
    }
}

/// Makes `builder` read its configuration file when it is installed: the file named by
/// `TTLOG_CONFIG`, else the one given with [`Builder::config_file`]. The file applies after
/// the code's settings and before the environment's (see [`Builder::at_init`]). What
/// `ttlog::init()` does when the facade's `sinks` feature is on.
pub fn read_at_init(builder: Builder) -> Builder {
    builder.at_init(configure_from_file)
}

/// What [`read_at_init`] runs when the logger is installed: reads the file, if one is named,
/// and applies it; returns the builder and what went wrong, if anything (for code that
/// composes its own [`Builder::at_init`] step, as the `ttlog` facade does).
pub fn configure_from_file(mut builder: Builder) -> (Builder, Option<String>) {
    {
        let given = builder.take_config_file();
        let path = match std::env::var_os("TTLOG_CONFIG").filter(|p| !p.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => match given {
                Some(path) => path,
                None => return (builder, None),
            },
        };
        match Config::from_file(&path) {
            Ok(config) => {
                let shown = path.display().to_string();
                let env_filter = builder.env_filter_set();
                let running = config.clone();
                let (builder, controls, problems) = config.apply_with_controls(builder);
                let reloader = Reloader {
                    path,
                    running: std::sync::Mutex::new(running),
                    controls,
                    env_filter,
                };
                let builder = builder.on_reload(move |handle| reloader.reload(handle));
                let problem = (!problems.is_empty())
                    .then(|| format!("configuration {shown}: {}", problems.join("; ")));
                (builder, problem)
            }
            Err(err) => (builder, Some(format!("configuration {err}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ttlog_core::Redactor;

    fn rules(yaml: &str) -> Option<RedactionRules> {
        let config = Config::from_yaml(yaml).expect("a valid configuration");
        config
            .logging
            .redaction
            .as_ref()
            .and_then(RedactionConfig::rules)
    }

    #[test]
    fn the_redaction_section_builds_the_rules() {
        let on = rules(
            "logging:\n  redaction:\n    fields: [customer_ssn]\n    patterns: ['\\bINT-[0-9]{6}\\b']\n",
        )
        .expect("on when the section is there");
        assert!(on.is_secret_name("customer_ssn"));
        assert!(on.is_secret_name("password"), "the defaults stay");
        assert!(on.find_secret("ref INT-004211"));
        assert!(on.is_secret_number(4_111_111_111_111_111));

        let only_mine =
            rules("logging:\n  redaction:\n    defaults: false\n    fields: [pin]\n").expect("on");
        assert!(only_mine.is_secret_name("pin"));
        assert!(!only_mine.is_secret_name("password"));
        assert!(!only_mine.find_secret("mail ada@example.com"));
        assert!(!only_mine.is_secret_number(4_111_111_111_111_111));

        let mut masked = String::new();
        let partial = rules("logging:\n  redaction:\n    mask: partial\n").expect("on");
        partial.redact_text("to ada@example.com", &mut masked);
        assert_eq!(masked, "to ****@example.com");

        assert!(rules("logging:\n  redaction:\n    enabled: false\n").is_none());
        assert!(rules("logging:\n  level: info\n").is_none());
    }
}
