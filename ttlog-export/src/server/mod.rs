//! `ttlog serve`: the log store over HTTP.
//!
//! A REST API over the store's `logs` table (queries, trends, analyses, remote ingest), live
//! streams of new rows over Server-Sent Events and WebSocket, and a web viewer, on `axum`
//! and `tokio`. The store's drivers are blocking; every store call runs on tokio's blocking
//! pool, from a small pool of open connections.
//!
//! New rows reach streams by polling the store by row id (every 50 ms, and at once after a
//! `POST /api/v1/logs`), so rows written by other processes (other services' store sinks,
//! `ttlog ingest`) are streamed too, for SQLite and PostgreSQL alike. Each stream has a
//! bounded queue: a client that does not keep up is sent `{"type":"missed","missed":N}`
//! rather than slowing the others down (see docs/server.md).
//!
//! ```no_run
//! use ttlog_export::server::{ServeConfig, run};
//!
//! let config = ServeConfig::new("sqlite:/var/lib/myapp/logs.db");
//! run(config)?; // until SIGINT or SIGTERM
//! # Ok::<(), ttlog_export::server::ServeError>(())
//! ```

mod api;
mod hub;
mod params;
mod pool;
mod viewer;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::patterns::PatternLibrary;
use crate::report::{LLMExportConfig, LLMExporter, ReportFormat};
use ttlog_sinks::RedactionRules;
use ttlog_store::StoredRow;

/// How `ttlog serve` runs.
#[derive(Clone)]
pub struct ServeConfig {
    /// The store: `sqlite:PATH` or `postgres://user@host:port/db`.
    pub store_url: String,
    /// Where to listen (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The bearer token every endpoint but `/healthz` and the viewer's files requires.
    /// Without one, only a loopback address is accepted.
    pub token: Option<String>,
    /// The largest `POST /api/v1/logs` body, in bytes (default 10 MiB).
    pub max_body: usize,
    /// Rows queued per streaming client before it misses some (default 4,096).
    pub client_queue: usize,
    /// How often the store is polled for new rows (default 50 ms).
    pub poll_interval: Duration,
    /// How often an idle SSE stream gets a heartbeat comment (default 15 s).
    pub heartbeat: Duration,
    /// Secrets masked in everything the server sends (rows, streams, reports); default: the
    /// default rules. `None` sends rows as stored.
    pub redaction: Option<RedactionRules>,
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("store_url", &ttlog_store::redact_url(&self.store_url))
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("max_body", &self.max_body)
            .field("client_queue", &self.client_queue)
            .field("poll_interval", &self.poll_interval)
            .field("heartbeat", &self.heartbeat)
            .field("redaction", &self.redaction.is_some())
            .finish()
    }
}

impl ServeConfig {
    /// The defaults, serving the store at `store_url`.
    pub fn new(store_url: &str) -> ServeConfig {
        ServeConfig {
            store_url: store_url.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            max_body: 10 << 20,
            client_queue: 4096,
            poll_interval: Duration::from_millis(50),
            heartbeat: Duration::from_secs(15),
            redaction: Some(RedactionRules::default()),
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// A non-loopback address without a token.
    Insecure(SocketAddr),
    /// An empty token.
    EmptyToken,
    /// The store could not be opened.
    Store(ttlog_store::StoreError),
    /// The address could not be bound, or serving failed.
    Io(std::io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Insecure(addr) => write!(
                f,
                "refusing to listen on {addr} without a token: set --token or \
                 TTLOG_SERVER_TOKEN, or listen on a loopback address"
            ),
            ServeError::EmptyToken => f.write_str("the token is empty"),
            ServeError::Store(e) => write!(f, "store: {e}"),
            ServeError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// What every handler shares.
struct Shared {
    config: ServeConfig,
    pool: pool::StorePool,
    hub: Arc<hub::Hub>,
    token: Option<Vec<u8>>,
    patterns: PatternLibrary,
    /// The report exporter, loaded (tokenizer and all) at the first analysis.
    exporter: OnceLock<Result<LLMExporter, String>>,
}

impl Shared {
    fn exporter(&self) -> Result<&LLMExporter, String> {
        self.exporter
            .get_or_init(|| {
                LLMExporter::new(LLMExportConfig {
                    format: ReportFormat::Json,
                    patterns: self.patterns.clone(),
                    redaction: self.config.redaction.clone(),
                    ..LLMExportConfig::default()
                })
                .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl Shared {
    /// A row as sent: its JSON with secrets masked.
    fn row_json(&self, row: &StoredRow) -> serde_json::Value {
        let mut json = row.to_json();
        if let (Some(rules), Some(object)) = (&self.config.redaction, json.as_object_mut()) {
            crate::input::redact_object(rules, object);
        }
        json
    }

    /// Masks secrets in report input.
    fn redact(&self, input: &mut crate::input::Input) {
        if let Some(rules) = &self.config.redaction {
            input.redact(rules);
        }
    }
}

type AppState = Arc<Shared>;

/// Serves until SIGINT or SIGTERM, on a runtime of its own; prints the address it listens
/// on (`listening on http://127.0.0.1:8080`) to stdout.
///
/// # Errors
///
/// See [`ServeError`].
pub fn run(config: ServeConfig) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ttlog-serve")
        .build()
        .map_err(ServeError::Io)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(ServeError::Io)?;
        let addr = listener.local_addr().map_err(ServeError::Io)?;
        check_exposure(&config, addr)?;
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{addr}");
            let _ = out.flush();
        }
        serve(config, listener, shutdown_signal()).await
    })
}

/// Refuses a non-loopback address without a token.
fn check_exposure(config: &ServeConfig, addr: SocketAddr) -> Result<(), ServeError> {
    match &config.token {
        Some(t) if t.is_empty() => Err(ServeError::EmptyToken),
        None if !addr.ip().is_loopback() => Err(ServeError::Insecure(addr)),
        _ => Ok(()),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Serves on `listener` until `shutdown` completes; then open streams are ended and
/// requests in flight get up to five seconds to finish.
///
/// # Errors
///
/// The configuration is refused (see [`ServeError`]), or the store cannot be opened.
pub async fn serve(
    config: ServeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(ServeError::Io)?;
    check_exposure(&config, addr)?;
    let pool = pool::StorePool::new(&config.store_url);
    // Open (create, migrate) the store once up front, so a bad URL fails here.
    pool.check().await.map_err(ServeError::Store)?;
    let hub = Arc::new(hub::Hub::new(config.client_queue));
    // Streams start after the rows stored before the server: no client can miss a row
    // because the first poll raced with its connection.
    let last = pool
        .run(|store| store.last_id().map_err(api::ApiError::store))
        .await
        .map_err(|e| {
            ServeError::Store(ttlog_store::StoreError::Unreachable(e.message().to_owned()))
        })?;
    hub.start_at(last);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        token: config.token.as_ref().map(|t| t.as_bytes().to_vec()),
        pool,
        hub: hub.clone(),
        patterns: PatternLibrary::builtin(),
        exporter: OnceLock::new(),
        config,
    });
    let poller = tokio::spawn(hub::poll(shared.clone(), stop_rx.clone()));
    let app = router(shared.clone());
    let graceful = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        // Streams never end by themselves: end them so the server can stop.
        hub.close_all();
    };
    let served = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let mut stopped = stop_rx.clone();
    let result = tokio::select! {
        r = served => r,
        () = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        } => Ok(()),
    };
    poller.abort();
    result.map_err(ServeError::Io)
}

fn router(shared: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/logs", get(api::logs).post(api::ingest))
        .route("/api/v1/logs/job-runs/{id}", get(api::job_run))
        .route("/api/v1/logs/task-runs/{id}", get(api::task_run))
        .route("/api/v1/logs/system", get(api::system))
        .route("/api/v1/logs/type/{type}", get(api::by_type))
        .route("/api/v1/logs/stream/sse", get(hub::sse))
        .route("/api/v1/logs/stream/ws", get(hub::ws))
        .route("/api/v1/logs/stream/status", get(hub::status))
        .route("/api/v1/errors/trends", get(api::trends))
        .route("/api/v1/errors/{id}/analysis", get(api::analysis))
        .route("/api/v1/openapi.json", get(viewer::openapi))
        .fallback(api::not_found)
        .route_layer(middleware::from_fn_with_state(shared.clone(), authorize));
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/", get(viewer::index))
        .route("/viewer.js", get(viewer::script))
        .route("/viewer.css", get(viewer::style))
        .merge(api)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(shared)
}

/// `Authorization: Bearer TOKEN`, compared in constant time, when a token is set.
async fn authorize(State(shared): State<AppState>, request: Request, next: Next) -> Response {
    use subtle::ConstantTimeEq;
    let Some(token) = &shared.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    match given {
        Some(given) if bool::from(given.ct_eq(token)) => next.run(request).await,
        _ => {
            let mut response = api::ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token (Authorization: Bearer TOKEN)",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}
