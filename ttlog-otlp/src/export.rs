//! Sending batches: requests encoded as protobuf or JSON, gzip, retries by OTLP's rules.

use std::collections::HashMap;
use std::io::{self, Write};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use ttlog_sinks::{BatchError, BatchWriter};

use crate::Protocol;
use crate::convert::{LogItem, SpanItem};

/// Posts encoded requests to one endpoint.
pub(crate) struct Poster {
    pub(crate) agent: ureq::Agent,
    pub(crate) endpoint: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) protocol: Protocol,
    pub(crate) gzip: bool,
    pub(crate) name: String,
    pub(crate) body: Vec<u8>,
}

impl Poster {
    fn send<M: Message + serde::Serialize>(&mut self, request: &M) -> io::Result<()> {
        let encoded = match self.protocol {
            Protocol::HttpProtobuf => request.encode_to_vec(),
            Protocol::HttpJson => serde_json::to_vec(request).map_err(io::Error::other)?,
        };
        self.body.clear();
        if self.gzip {
            let mut gz = flate2::write::GzEncoder::new(&mut self.body, flate2::Compression::fast());
            gz.write_all(&encoded)?;
            gz.finish()?;
        } else {
            self.body.extend_from_slice(&encoded);
        }
        let content_type = match self.protocol {
            Protocol::HttpProtobuf => "application/x-protobuf",
            Protocol::HttpJson => "application/json",
        };
        let mut post = self.agent.post(&self.endpoint).content_type(content_type);
        if self.gzip {
            post = post.header("Content-Encoding", "gzip");
        }
        for (key, value) in &self.headers {
            post = post.header(key.as_str(), value.as_str());
        }
        let response = post.send(&self.body[..]).map_err(io::Error::other)?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(()),
            // OTLP/HTTP: these may be retried, after Retry-After if given.
            429 | 502 | 503 | 504 => Err(BatchError::retryable(
                format!("HTTP {status}"),
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
            )),
            // Anything else the collector refuses as it is: sending it again cannot help.
            _ => Err(BatchError::Rejected(format!("the collector answered HTTP {status}")).into()),
        }
    }
}

fn scope(name: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_owned(),
        ..InstrumentationScope::default()
    }
}

/// Items grouped by scope, in the order scopes first appear.
fn by_scope<'a, T>(items: impl Iterator<Item = (&'a str, T)>) -> Vec<(&'a str, Vec<T>)> {
    let mut groups: Vec<(&str, Vec<T>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (name, item) in items {
        let at = *index.entry(name).or_insert_with(|| {
            groups.push((name, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(item);
    }
    groups
}

/// Sends batches of log records.
pub(crate) struct LogsWriter {
    pub(crate) poster: Poster,
    pub(crate) resource: Resource,
}

impl BatchWriter<LogItem> for LogsWriter {
    fn write_batch(&mut self, batch: &[LogItem]) -> io::Result<()> {
        let scope_logs = by_scope(batch.iter().map(|i| (i.scope.as_str(), i.record.clone())))
            .into_iter()
            .map(|(name, log_records)| ScopeLogs {
                scope: Some(scope(name)),
                log_records,
                schema_url: String::new(),
            })
            .collect();
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(self.resource.clone()),
                scope_logs,
                schema_url: String::new(),
            }],
        };
        self.poster.send(&request)
    }

    fn name(&self) -> &str {
        &self.poster.name
    }
}

/// Sends batches of spans.
pub(crate) struct TracesWriter {
    pub(crate) poster: Poster,
    pub(crate) resource: Resource,
}

impl BatchWriter<SpanItem> for TracesWriter {
    fn write_batch(&mut self, batch: &[SpanItem]) -> io::Result<()> {
        let scope_spans = by_scope(batch.iter().map(|i| (i.scope.as_str(), i.span.clone())))
            .into_iter()
            .map(|(name, spans)| ScopeSpans {
                scope: Some(scope(name)),
                spans,
                schema_url: String::new(),
            })
            .collect();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans,
                schema_url: String::new(),
            }],
        };
        self.poster.send(&request)
    }

    fn name(&self) -> &str {
        &self.poster.name
    }
}
