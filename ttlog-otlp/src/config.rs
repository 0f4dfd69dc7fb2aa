//! The exporter's settings: the standard OpenTelemetry environment variables, or code.

use std::fmt;
use std::time::Duration;

use ttlog_sinks::BatchOptions;

/// How requests are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `http/protobuf` (the default): protobuf bodies, `application/x-protobuf`.
    #[default]
    HttpProtobuf,
    /// `http/json`: OTLP's JSON encoding, `application/json`.
    HttpJson,
}

/// What is wrong with the settings: the variable (or setting) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpError(pub(crate) String);

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OtlpError {}

/// Where and how to export. [`OtlpConfig::from_env`] reads the standard variables;
/// [`OtlpConfig::new`] starts from an endpoint in code.
///
/// ```
/// use std::time::Duration;
/// use ttlog_otlp::{OtlpConfig, Protocol};
///
/// let mut config = OtlpConfig::new("http://collector:4318")?;
/// config.service_name = Some("checkout".into());
/// config.protocol = Protocol::HttpJson;
/// config.gzip = true;
/// config.timeout = Duration::from_secs(5);
/// assert_eq!(config.logs_endpoint.as_deref(), Some("http://collector:4318/v1/logs"));
/// assert_eq!(config.traces_endpoint.as_deref(), Some("http://collector:4318/v1/traces"));
/// # Ok::<(), ttlog_otlp::OtlpError>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct OtlpConfig {
    /// Where log records go (`…/v1/logs`); `None` exports no logs.
    pub logs_endpoint: Option<String>,
    /// Where spans go (`…/v1/traces`); `None` exports no spans.
    pub traces_endpoint: Option<String>,
    /// The encoding.
    pub protocol: Protocol,
    /// Headers of every request (an API key, say).
    pub headers: Vec<(String, String)>,
    /// Headers of log requests only.
    pub logs_headers: Vec<(String, String)>,
    /// Headers of span requests only.
    pub traces_headers: Vec<(String, String)>,
    /// Gzip request bodies.
    pub gzip: bool,
    /// How long one request may take (default 10 s).
    pub timeout: Duration,
    /// `service.name` (default: `OTEL_SERVICE_NAME`, else `service.name` of the resource
    /// attributes, else `unknown_service:<executable>`).
    pub service_name: Option<String>,
    /// Other resource attributes (`deployment.environment.name=prod`, ...).
    pub resource_attributes: Vec<(String, String)>,
    /// Queue, batch and retry settings of log records (`OTEL_BLRP_*`).
    pub logs_batch: BatchOptions,
    /// Queue, batch and retry settings of spans (`OTEL_BSP_*`).
    pub traces_batch: BatchOptions,
}

impl fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |h: &[(String, String)]| h.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        f.debug_struct("OtlpConfig")
            .field("logs_endpoint", &self.logs_endpoint)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("protocol", &self.protocol)
            // Header values are often API keys.
            .field("headers", &names(&self.headers))
            .field("logs_headers", &names(&self.logs_headers))
            .field("traces_headers", &names(&self.traces_headers))
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .field("logs_batch", &self.logs_batch)
            .field("traces_batch", &self.traces_batch)
            .finish()
    }
}

/// The batch defaults of the OpenTelemetry SDKs' batch processors: a queue of 2,048, batches
/// of 512, and a delay of 1 s for logs and 5 s for spans.
fn batch_defaults(delay: Duration) -> BatchOptions {
    BatchOptions {
        queue: 2048,
        batch: 512,
        max_delay: delay,
        ..BatchOptions::default()
    }
}

impl OtlpConfig {
    /// Logs to `endpoint/v1/logs` and spans to `endpoint/v1/traces` (`http://collector:4318`),
    /// with the defaults.
    ///
    /// # Errors
    ///
    /// `endpoint` is not an `http://` or `https://` URL.
    pub fn new(endpoint: &str) -> Result<OtlpConfig, OtlpError> {
        let base = check_url("endpoint", endpoint)?;
        Ok(OtlpConfig {
            logs_endpoint: Some(signal_url(&base, "logs")),
            traces_endpoint: Some(signal_url(&base, "traces")),
            protocol: Protocol::default(),
            headers: Vec::new(),
            logs_headers: Vec::new(),
            traces_headers: Vec::new(),
            gzip: false,
            timeout: Duration::from_secs(10),
            service_name: None,
            resource_attributes: Vec::new(),
            logs_batch: batch_defaults(Duration::from_millis(1000)),
            traces_batch: batch_defaults(Duration::from_millis(5000)),
        })
    }

    /// The settings of the standard variables, or `None` when none names an endpoint (or
    /// `OTEL_SDK_DISABLED=true`):
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `OTEL_EXPORTER_OTLP_ENDPOINT` | base URL; `/v1/logs` and `/v1/traces` are appended |
    /// | `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, `…_TRACES_ENDPOINT` | a signal's full URL |
    /// | `OTEL_EXPORTER_OTLP_PROTOCOL` (and `…_LOGS_…`, `…_TRACES_…`) | `http/protobuf` (default) or `http/json`; `grpc` is refused |
    /// | `OTEL_EXPORTER_OTLP_HEADERS` (and per signal) | `key=value,key2=value2`, values percent-decoded |
    /// | `OTEL_EXPORTER_OTLP_COMPRESSION` (and per signal) | `gzip` or `none` |
    /// | `OTEL_EXPORTER_OTLP_TIMEOUT` (and per signal) | milliseconds per request (10,000) |
    /// | `OTEL_SERVICE_NAME` | `service.name` |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,...` |
    /// | `OTEL_BLRP_MAX_QUEUE_SIZE`, `…_MAX_EXPORT_BATCH_SIZE`, `…_SCHEDULE_DELAY`, `…_EXPORT_TIMEOUT` | logs: queue (2,048), batch (512), delay in ms (1,000), time to send what is queued at shutdown in ms (30,000) |
    /// | `OTEL_BSP_*` | the same for spans (delay 5,000) |
    ///
    /// # Errors
    ///
    /// A variable has a value that means nothing (the error names it).
    pub fn from_env() -> Result<Option<OtlpConfig>, OtlpError> {
        OtlpConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](OtlpConfig::from_env) with the variables looked up by `var`.
    ///
    /// ```
    /// use ttlog_otlp::OtlpConfig;
    ///
    /// let vars = [
    ///     ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
    ///     ("OTEL_SERVICE_NAME", "checkout"),
    ///     ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cr%3Dt"),
    /// ];
    /// let get = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    /// let config = OtlpConfig::from_vars(get)?.expect("an endpoint is set");
    /// assert_eq!(config.service_name.as_deref(), Some("checkout"));
    /// assert_eq!(config.headers, [("x-api-key".to_string(), "s3cr=t".to_string())]);
    /// # Ok::<(), ttlog_otlp::OtlpError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](OtlpConfig::from_env).
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OtlpConfig>, OtlpError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let base = get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|v| check_url("OTEL_EXPORTER_OTLP_ENDPOINT", &v))
            .transpose()?;
        let signal = |name: &str, path: &str| -> Result<Option<String>, OtlpError> {
            let var = format!("OTEL_EXPORTER_OTLP_{name}_ENDPOINT");
            match get(&var) {
                Some(url) => check_url(&var, &url).map(Some),
                None => Ok(base.as_deref().map(|b| signal_url(b, path))),
            }
        };
        let logs_endpoint = signal("LOGS", "logs")?;
        let traces_endpoint = signal("TRACES", "traces")?;
        if logs_endpoint.is_none() && traces_endpoint.is_none() {
            return Ok(None);
        }
        // A per-signal value wins over the general one.
        let either = |general: &str, logs: &str, traces: &str| {
            get(logs)
                .or_else(|| get(traces))
                .map(|v| (logs.to_owned(), v))
                .or_else(|| get(general).map(|v| (general.to_owned(), v)))
        };
        let protocol = match either(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ) {
            None => Protocol::HttpProtobuf,
            Some((_, v)) if v == "http/protobuf" => Protocol::HttpProtobuf,
            Some((_, v)) if v == "http/json" => Protocol::HttpJson,
            Some((name, v)) if v == "grpc" => {
                return Err(OtlpError(format!(
                    "{name}=grpc: this build exports over HTTP only; use http/protobuf (port 4318)"
                )));
            }
            Some((name, v)) => {
                return Err(OtlpError(format!(
                    "{name}=`{v}`: expected http/protobuf or http/json"
                )));
            }
        };
        let gzip = match either(
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        ) {
            None => false,
            Some((_, v)) if v == "gzip" => true,
            Some((_, v)) if v == "none" => false,
            Some((name, v)) => {
                return Err(OtlpError(format!("{name}=`{v}`: expected gzip or none")));
            }
        };
        let millis = |name: &str, default: u64| -> Result<Duration, OtlpError> {
            match get(name) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => v.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                    OtlpError(format!(
                        "{name}=`{v}`: expected milliseconds (a whole number)"
                    ))
                }),
            }
        };
        let count = |name: &str, default: usize| -> Result<usize, OtlpError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    OtlpError(format!("{name}=`{v}`: expected a positive whole number"))
                }),
            }
        };
        let timeout = match either(
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        ) {
            None => Duration::from_secs(10),
            Some((name, _)) => millis(&name, 10_000)?,
        };
        let batch = |prefix: &str, delay: u64| -> Result<BatchOptions, OtlpError> {
            Ok(BatchOptions {
                queue: count(&format!("{prefix}_MAX_QUEUE_SIZE"), 2048)?,
                batch: count(&format!("{prefix}_MAX_EXPORT_BATCH_SIZE"), 512)?,
                max_delay: millis(&format!("{prefix}_SCHEDULE_DELAY"), delay)?,
                shutdown_timeout: millis(&format!("{prefix}_EXPORT_TIMEOUT"), 30_000)?,
                ..BatchOptions::default()
            })
        };
        let headers = |name: &str| -> Result<Vec<(String, String)>, OtlpError> {
            get(name).map_or(Ok(Vec::new()), |v| pairs(name, &v))
        };
        Ok(Some(OtlpConfig {
            logs_endpoint,
            traces_endpoint,
            protocol,
            headers: headers("OTEL_EXPORTER_OTLP_HEADERS")?,
            logs_headers: headers("OTEL_EXPORTER_OTLP_LOGS_HEADERS")?,
            traces_headers: headers("OTEL_EXPORTER_OTLP_TRACES_HEADERS")?,
            gzip,
            timeout,
            service_name: get("OTEL_SERVICE_NAME"),
            resource_attributes: headers("OTEL_RESOURCE_ATTRIBUTES")?,
            logs_batch: batch("OTEL_BLRP", 1000)?,
            traces_batch: batch("OTEL_BSP", 5000)?,
        }))
    }
}

/// `url` without a trailing slash, if it is an http(s) URL with a host.
fn check_url(name: &str, url: &str) -> Result<String, OtlpError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            OtlpError(format!(
                "{name}=`{url}`: expected an http:// or https:// URL"
            ))
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(OtlpError(format!("{name}=`{url}`: the URL has no host")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The signal's URL under a base endpoint: `http://host:4318` → `http://host:4318/v1/logs`.
fn signal_url(base: &str, signal: &str) -> String {
    format!("{}/v1/{signal}", base.trim_end_matches('/'))
}

/// `key=value,key2=value2` (W3C baggage style, values percent-decoded).
fn pairs(name: &str, text: &str) -> Result<Vec<(String, String)>, OtlpError> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| OtlpError(format!("{name}: `{pair}` is not key=value")))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(OtlpError(format!("{name}: `{pair}` has an empty key")));
            }
            Ok((key.to_owned(), percent_decode(name, value.trim())?))
        })
        .collect()
}

fn percent_decode(name: &str, text: &str) -> Result<String, OtlpError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| OtlpError(format!("{name}: bad percent-encoding in `{text}`")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| OtlpError(format!("{name}: `{text}` is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<OtlpConfig>, OtlpError> {
        OtlpConfig::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn nothing_set_is_no_exporter() {
        assert_eq!(config(&[]), Ok(None));
        assert_eq!(
            config(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "true")
            ]),
            Ok(None)
        );
    }

    #[test]
    fn endpoints_per_signal_and_from_the_base() {
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
            .unwrap()
            .unwrap();
        assert_eq!(
            c.logs_endpoint.as_deref(),
            Some("http://collector:4318/v1/logs")
        );
        assert_eq!(
            c.traces_endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "https://logs.example.com/ingest",
            ),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            c.logs_endpoint.as_deref(),
            Some("https://logs.example.com/ingest")
        );
        assert_eq!(
            c.traces_endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        let only_traces = config(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://t:4318/v1/traces",
        )])
        .unwrap()
        .unwrap();
        assert_eq!(only_traces.logs_endpoint, None);
    }

    #[test]
    fn every_setting_is_read() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%2C1, tenant = eu"),
            ("OTEL_SERVICE_NAME", "checkout"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=prod,service.version=1.4.2",
            ),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "10"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
            ("OTEL_BSP_SCHEDULE_DELAY", "60"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.protocol, Protocol::HttpJson);
        assert!(c.gzip);
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!(
            c.headers,
            [
                ("api-key".to_owned(), "abc,1".to_owned()),
                ("tenant".to_owned(), "eu".to_owned())
            ]
        );
        assert_eq!(c.service_name.as_deref(), Some("checkout"));
        assert_eq!(c.resource_attributes.len(), 2);
        assert_eq!(c.logs_batch.queue, 100);
        assert_eq!(c.logs_batch.batch, 10);
        assert_eq!(c.logs_batch.max_delay, Duration::from_millis(50));
        assert_eq!(c.traces_batch.max_delay, Duration::from_millis(60));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        for (var, value) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
        ] {
            let vars = if var == base.0 {
                vec![(var, value)]
            } else {
                vec![base, (var, value)]
            };
            let err = config(&vars).unwrap_err();
            assert!(err.0.contains(var), "{var}={value}: {err}");
        }
    }
}
