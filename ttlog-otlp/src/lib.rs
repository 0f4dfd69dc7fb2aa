//! OpenTelemetry export for [ttlog](https://docs.rs/ttlog): every event as an OTLP log record
//! (`/v1/logs`) and every closed span as an OTLP span (`/v1/traces`), over HTTP to an
//! OpenTelemetry Collector (or any OTLP/HTTP receiver), off the program's threads.
//!
//! Setting an endpoint is all a program needs with the `ttlog` facade's `otlp` feature:
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 OTEL_SERVICE_NAME=checkout ./checkout
//! ```
//!
//! or, in code, [`otlp_sink`] with an [`OtlpConfig`]:
//!
//! ```no_run
//! use ttlog_otlp::{OtlpConfig, otlp_sink};
//!
//! let mut config = OtlpConfig::new("http://collector:4318")?;
//! config.service_name = Some("checkout".into());
//! let handle = ttlog::init().sink(otlp_sink(config)?).init();
//! # drop(handle);
//! # Ok::<(), ttlog_otlp::OtlpError>(())
//! ```
//!
//! The caller pays nothing for it: the consumer thread turns each event into its OTLP
//! message and queues it; one thread per signal batches (by size and delay), encodes
//! (protobuf or JSON, gzip if asked), posts, and retries by OTLP's rules (connection errors,
//! 429, 502, 503 and 504, with back-off and `Retry-After`; never a 400). Queues are bounded:
//! past them, records are dropped and counted (`stats()`), said once on stderr. What is
//! queued is sent at shutdown within the export timeout. The exporter's threads are ttlog's
//! own: whatever its HTTP client logs through `log` or `tracing` is not fed back into the
//! pipeline by ttlog's adapters.
//!
//! Why not the OpenTelemetry SDK on the path: its log and span pipeline would take each
//! event on the caller's thread through its own processor (attribute maps, `Arc`s, a lock or
//! channel per record), which is exactly the cost ttlog removes; ttlog already has the
//! batching, bounded queues and counted drops the SDK's batch processors provide. The
//! message types are the official ones (`opentelemetry-proto`, with `prost`), so what goes on
//! the wire is what the Collector expects.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod config;
mod convert;
mod export;

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use ttlog_core::{Event, Filter, Sink};
use ttlog_sinks::{BatchCounters, BatchingSink};

pub use config::{OtlpConfig, OtlpError, Protocol};

use convert::{Errors, LogItem, SpanItem};
use export::{LogsWriter, Poster, TracesWriter};

/// The exporter: a [`Sink`] that queues log records and spans for their senders.
pub struct OtlpSink {
    logs: Option<BatchingSink<LogItem>>,
    traces: Option<BatchingSink<SpanItem>>,
    counters: BatchCounters,
    name: String,
}

impl std::fmt::Debug for OtlpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl OtlpSink {
    /// Counters of the log records and spans sent and dropped, both signals together.
    pub fn counters(&self) -> OtlpCounters {
        OtlpCounters {
            logs: self.logs.as_ref().map(BatchingSink::counters),
            traces: self.traces.as_ref().map(BatchingSink::counters),
            dropped: self.counters.clone(),
        }
    }
}

/// What an [`OtlpSink`] sent and dropped, readable while the logger runs.
#[derive(Debug, Clone)]
pub struct OtlpCounters {
    logs: Option<BatchCounters>,
    traces: Option<BatchCounters>,
    dropped: BatchCounters,
}

impl OtlpCounters {
    /// Log records the collector accepted.
    pub fn logs_sent(&self) -> u64 {
        self.logs.as_ref().map_or(0, BatchCounters::written)
    }

    /// Spans the collector accepted.
    pub fn spans_sent(&self) -> u64 {
        self.traces.as_ref().map_or(0, BatchCounters::written)
    }

    /// Log records and spans dropped: full queues, refused batches, a collector still down
    /// at shutdown.
    pub fn dropped(&self) -> u64 {
        self.dropped.dropped()
    }

    /// Failed requests (each retried or, if refused, dropped).
    pub fn failures(&self) -> u64 {
        self.logs.as_ref().map_or(0, BatchCounters::failures)
            + self.traces.as_ref().map_or(0, BatchCounters::failures)
    }

    /// Waits until everything queued was sent or dropped, at most `timeout`.
    pub fn wait_idle(&self, timeout: std::time::Duration) -> bool {
        let start = std::time::Instant::now();
        [&self.logs, &self.traces]
            .into_iter()
            .flatten()
            .all(|c| c.wait_idle(timeout.saturating_sub(start.elapsed())))
    }
}

impl Sink for OtlpSink {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        if let Some(logs) = &mut self.logs {
            logs.write(event)?;
        }
        if let Some(traces) = &mut self.traces {
            traces.write(event)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(logs) = &mut self.logs {
            logs.flush()?;
        }
        if let Some(traces) = &mut self.traces {
            traces.flush()?;
        }
        Ok(())
    }

    fn filter(&self) -> Option<Filter> {
        None
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn drop_counter(&self) -> Option<Arc<AtomicU64>> {
        self.logs
            .as_ref()
            .and_then(Sink::drop_counter)
            .or_else(|| self.traces.as_ref().and_then(Sink::drop_counter))
    }
}

/// The resource of every request: `service.name`, the configured attributes, `host.name`,
/// `process.pid` and the exporter's own `telemetry.sdk.*`.
fn resource(config: &OtlpConfig) -> Resource {
    let string = |s: String| AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    };
    let mut attributes: Vec<KeyValue> = Vec::new();
    let mut put = |key: &str, value: AnyValue| {
        if !attributes.iter().any(|a| a.key == key) {
            attributes.push(KeyValue {
                key: key.to_owned(),
                value: Some(value),
                ..KeyValue::default()
            });
        }
    };
    let service = config
        .service_name
        .clone()
        .or_else(|| {
            config
                .resource_attributes
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| {
            let exe = std::env::current_exe()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            format!("unknown_service:{exe}")
        });
    put("service.name", string(service));
    for (key, value) in &config.resource_attributes {
        put(key, string(value.clone()));
    }
    put("host.name", string(hostname()));
    put(
        "process.pid",
        AnyValue {
            value: Some(any_value::Value::IntValue(i64::from(std::process::id()))),
        },
    );
    put("telemetry.sdk.name", string("ttlog".into()));
    put("telemetry.sdk.language", string("rust".into()));
    put(
        "telemetry.sdk.version",
        string(env!("CARGO_PKG_VERSION").into()),
    );
    Resource {
        attributes,
        ..Resource::default()
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The exporter for `config`: a sink to add to the logger (`ttlog::init().sink(..)`).
///
/// # Errors
///
/// The configuration names no endpoint.
pub fn otlp_sink(config: OtlpConfig) -> Result<OtlpSink, OtlpError> {
    if config.logs_endpoint.is_none() && config.traces_endpoint.is_none() {
        return Err(OtlpError(
            "no endpoint: set logs_endpoint or traces_endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)"
                .into(),
        ));
    }
    let resource = resource(&config);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(config.timeout))
        .user_agent(concat!("ttlog-otlp/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let poster = |endpoint: &str, extra: &[(String, String)]| Poster {
        agent: agent.clone(),
        endpoint: endpoint.to_owned(),
        headers: config.headers.iter().chain(extra).cloned().collect(),
        protocol: config.protocol,
        gzip: config.gzip,
        name: format!("otlp {endpoint}"),
        body: Vec::new(),
    };
    let counters = BatchCounters::default();
    let logs = config.logs_endpoint.as_deref().map(|endpoint| {
        BatchingSink::with_items(
            LogsWriter {
                poster: poster(endpoint, &config.logs_headers),
                resource: resource.clone(),
            },
            config.logs_batch,
            counters.sharing_drops(),
            |event: &Event<'_>| {
                (!event.metadata().is_span_close()).then(|| convert::log_item(event))
            },
        )
    });
    let traces = config.traces_endpoint.as_deref().map(|endpoint| {
        let mut errors = Errors::default();
        BatchingSink::with_items(
            TracesWriter {
                poster: poster(endpoint, &config.traces_headers),
                resource: resource.clone(),
            },
            config.traces_batch,
            counters.sharing_drops(),
            move |event: &Event<'_>| errors.span_item(event),
        )
    });
    let name = format!(
        "otlp {}",
        config
            .logs_endpoint
            .as_deref()
            .or(config.traces_endpoint.as_deref())
            .unwrap_or_default()
    );
    Ok(OtlpSink {
        logs,
        traces,
        counters,
        name,
    })
}
