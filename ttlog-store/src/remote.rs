//! The remote sink: batches of events sent to a ttlog server's `POST /api/v1/logs`.

use std::io;
use std::time::Duration;

use ttlog_sinks::{BatchError, BatchOptions, BatchWriter, BatchingSink};

use crate::{NewRow, StoreError};

/// How a remote sink connects.
#[derive(Clone, Default)]
pub struct RemoteOptions {
    /// The bearer token (default: `TTLOG_REMOTE_TOKEN`).
    pub token: Option<String>,
    /// How long one request may take (default 10 s).
    pub timeout: Option<Duration>,
    /// Queue, batch and retry settings.
    pub batch: BatchOptions,
}

impl std::fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("batch", &self.batch)
            .finish()
    }
}

/// The ingest endpoint of the server at `url`: `https://host[:port][/prefix]`, with or without
/// `/api/v1/logs` at the end.
pub(crate) fn endpoint(url: &str) -> Result<String, StoreError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| StoreError::BadUrl(format!("`{url}` is not an http(s):// URL")))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(StoreError::BadUrl(format!("`{url}` has no host")));
    }
    if rest.contains(['?', '#']) {
        return Err(StoreError::BadUrl(format!(
            "`{url}`: give the server's address without a query or fragment"
        )));
    }
    let base = url.trim_end_matches('/');
    Ok(if base.ends_with("/api/v1/logs") {
        base.to_owned()
    } else {
        format!("{base}/api/v1/logs")
    })
}

struct RemoteWriter {
    agent: ureq::Agent,
    endpoint: String,
    authorization: Option<String>,
    name: String,
    body: Vec<u8>,
}

impl BatchWriter<NewRow> for RemoteWriter {
    fn write_batch(&mut self, batch: &[NewRow]) -> io::Result<()> {
        self.body.clear();
        for row in batch {
            self.body.extend_from_slice(row.to_line().as_bytes());
            self.body.push(b'\n');
        }
        let mut request = self
            .agent
            .post(&self.endpoint)
            .content_type("application/x-ndjson");
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let response = request.send(&self.body[..]).map_err(io::Error::other)?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(()),
            // The server refuses these events as they are: sending them again cannot help.
            400 | 413 | 422 => Err(BatchError::Rejected(format!(
                "the server refused the batch (HTTP {status})"
            ))
            .into()),
            _ => {
                let message = match status {
                    401 | 403 => format!(
                        "HTTP {status}: the server wants a (different) token (TTLOG_REMOTE_TOKEN)"
                    ),
                    _ => format!("HTTP {status}"),
                };
                Err(BatchError::retryable(
                    message,
                    response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                ))
            }
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// A sink that sends every event it gets to the ttlog server at `url` (`ttlog serve`), in
/// batches of JSON lines, from a thread of its own: off the caller's and the consumer's
/// threads. A server that is down or slow never blocks the program: failed batches are
/// retried with back-off (honouring `Retry-After`), events wait in a bounded queue and past
/// it are dropped and counted (`stats()`); a batch the server refuses (400, 413) is dropped and
/// counted rather than retried. The token comes from `options.token`, else
/// `TTLOG_REMOTE_TOKEN`.
///
/// ```no_run
/// use ttlog_store::{RemoteOptions, remote_sink};
///
/// let sink = remote_sink("https://logs.internal:8080", RemoteOptions::default())?;
/// let handle = ttlog::init().sink(sink).init();
/// # drop(handle);
/// # Ok::<(), ttlog_store::StoreError>(())
/// ```
///
/// # Errors
///
/// `url` is not an `http://` or `https://` URL with a host.
pub fn remote_sink(url: &str, options: RemoteOptions) -> Result<BatchingSink<NewRow>, StoreError> {
    let endpoint = endpoint(url)?;
    let token = options
        .token
        .or_else(|| std::env::var("TTLOG_REMOTE_TOKEN").ok())
        .filter(|t| !t.is_empty());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(options.timeout.unwrap_or(Duration::from_secs(10))))
        .user_agent(concat!("ttlog/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let writer = RemoteWriter {
        agent,
        name: format!("remote {}", crate::redact_url(&endpoint)),
        endpoint,
        authorization: token.map(|t| format!("Bearer {t}")),
        body: Vec::new(),
    };
    Ok(crate::row_sink(writer, options.batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("https://logs.example.com").unwrap(),
            "https://logs.example.com/api/v1/logs"
        );
        assert_eq!(
            endpoint("http://10.0.0.5:8080/").unwrap(),
            "http://10.0.0.5:8080/api/v1/logs"
        );
        assert_eq!(
            endpoint("https://gw.example.com/ttlog/api/v1/logs").unwrap(),
            "https://gw.example.com/ttlog/api/v1/logs"
        );
        assert!(endpoint("ftp://x").is_err());
        assert!(endpoint("https://").is_err());
        assert!(endpoint("https:///path").is_err());
        assert!(endpoint("https://x/?token=1").is_err());
    }
}
