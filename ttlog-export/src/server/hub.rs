//! Live streams: the poller that finds new rows, the hub that fans them out to bounded
//! per-client queues, and the SSE and WebSocket endpoints.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::ws::Utf8Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};
use ttlog_core::{LevelFilter, LogLevel};
use ttlog_store::{LogQuery, LogType, Store, StoredRow};

use super::api::ApiError;
use super::params::Params;
use super::{AppState, Shared};

/// Rows read per poll, at most (the poller reads again at once when it got this many).
const PAGE: usize = 1000;

/// How long a hole in PostgreSQL's ids is watched for a row committed late.
const GAP_WAIT: Duration = Duration::from_millis(500);

/// A stream's filter: the query parameters of the stream endpoints.
#[derive(Debug, Clone, Default)]
pub(super) struct StreamFilter {
    job_run_id: Option<String>,
    task_run_id: Option<String>,
    log_type: Option<LogType>,
    level: Option<LogLevel>,
}

const STREAM_PARAMS: &[&str] = &["job_run_id", "task_run_id", "type", "level"];

impl StreamFilter {
    fn parse(raw: Option<&str>) -> Result<StreamFilter, ApiError> {
        let params = Params::parse(raw, STREAM_PARAMS)?;
        Ok(StreamFilter {
            job_run_id: params.uuid("job_run_id")?,
            task_run_id: params.uuid("task_run_id")?,
            log_type: params.log_type("type")?,
            level: params.level("level")?,
        })
    }

    fn matches(&self, row: &StoredRow) -> bool {
        self.job_run_id
            .as_ref()
            .is_none_or(|id| row.job_run_id.as_ref() == Some(id))
            && self
                .task_run_id
                .as_ref()
                .is_none_or(|id| row.task_run_id.as_ref() == Some(id))
            && self.log_type.is_none_or(|t| row.log_type == t)
            && self.level.is_none_or(|min| {
                row.level
                    .parse::<LogLevel>()
                    .is_ok_and(|l| LevelFilter::from(min).enables(l))
            })
    }

    fn query(&self) -> LogQuery {
        let mut q = LogQuery::new();
        q.job_run_id = self.job_run_id.clone();
        q.task_run_id = self.task_run_id.clone();
        q.log_type = self.log_type;
        q.level = self.level;
        q
    }
}

/// A row on its way to clients, serialized once for all of them.
#[derive(Debug)]
pub(super) struct Delivered {
    row: StoredRow,
    /// The row's JSON (masked): a WebSocket text message.
    json: Utf8Bytes,
    /// The same as a Server-Sent Event: `id: N`, `data: JSON`, a blank line.
    sse: Bytes,
}

impl Delivered {
    fn new(shared: &Shared, row: StoredRow) -> Arc<Delivered> {
        let json = shared.row_json(&row).to_string();
        // JSON text has no raw newline, so it is one `data:` line.
        let sse = Bytes::from(format!("id: {}\ndata: {json}\n\n", row.id));
        Arc::new(Delivered {
            row,
            json: Utf8Bytes::from(json),
            sse,
        })
    }
}

/// What a client's queue holds.
#[derive(Debug)]
pub(super) enum Item {
    Row(Arc<Delivered>),
    /// This many rows of the client's filter were dropped because its queue was full.
    Missed(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sse,
    Ws,
}

struct Subscriber {
    id: u64,
    filter: StreamFilter,
    tx: mpsc::Sender<Item>,
    /// Rows dropped since the last `Missed` the client was sent.
    missed: u64,
}

/// The client's end of its queue is gone.
struct Gone;

impl Subscriber {
    /// Sends the pending `missed` notice, if any: `Ok(true)` when none is pending any more,
    /// `Ok(false)` when the queue is still full.
    fn tell_missed(&mut self, notices: &AtomicU64) -> Result<bool, Gone> {
        if self.missed == 0 {
            return Ok(true);
        }
        match self.tx.try_send(Item::Missed(self.missed)) {
            Ok(()) => {
                self.missed = 0;
                notices.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(mpsc::error::TrySendError::Full(_)) => Ok(false),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Gone),
        }
    }

    /// Queues `row` without waiting, after the pending notice; a row that does not fit is
    /// counted as missed. False when the client is gone.
    fn offer(&mut self, row: Arc<Delivered>, hub: &Hub) -> bool {
        let room = match self.tell_missed(&hub.missed_notices) {
            Err(Gone) => return false,
            Ok(room) => room,
        };
        let sent = if room {
            match self.tx.try_send(Item::Row(row)) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => false,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        } else {
            false
        };
        if !sent {
            self.missed += 1;
            hub.events_missed.fetch_add(1, Ordering::Relaxed);
        }
        true
    }
}

struct Inner {
    subscribers: Vec<Subscriber>,
    /// The highest row id looked at: rows above it have not reached any client yet.
    position: i64,
    /// Ids below `position` not seen yet, with when they were first missed (PostgreSQL
    /// commits concurrent transactions out of id order).
    gaps: BTreeMap<i64, Instant>,
    next_id: u64,
    /// Subscriptions made so far: a poll that skipped rows for want of clients only moves
    /// the position if no client came meanwhile.
    epoch: u64,
    closed: bool,
}

/// Fans new rows out to the clients whose filters they match.
pub(super) struct Hub {
    inner: Mutex<Inner>,
    wake: Notify,
    capacity: usize,
    sse_open: AtomicUsize,
    ws_open: AtomicUsize,
    events_sent: AtomicU64,
    events_missed: AtomicU64,
    missed_notices: AtomicU64,
    connections_total: AtomicU64,
}

impl Hub {
    pub(super) fn new(capacity: usize) -> Hub {
        Hub {
            inner: Mutex::new(Inner {
                subscribers: Vec::new(),
                position: -1,
                gaps: BTreeMap::new(),
                next_id: 0,
                epoch: 0,
                closed: false,
            }),
            wake: Notify::new(),
            capacity: capacity.max(1),
            sse_open: AtomicUsize::new(0),
            ws_open: AtomicUsize::new(0),
            events_sent: AtomicU64::new(0),
            events_missed: AtomicU64::new(0),
            missed_notices: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Polls now rather than at the next tick (rows were just stored).
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    /// A new client: its queue, and the row id from which it receives live rows (those
    /// above). `None` once the server is stopping.
    fn subscribe(self: &Arc<Self>, filter: StreamFilter, kind: Kind) -> Option<Subscription> {
        let (tx, rx) = mpsc::channel(self.capacity);
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.epoch += 1;
        inner.subscribers.push(Subscriber {
            id,
            filter,
            tx,
            missed: 0,
        });
        let position = inner.position;
        drop(inner);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        match kind {
            Kind::Sse => self.sse_open.fetch_add(1, Ordering::Relaxed),
            Kind::Ws => self.ws_open.fetch_add(1, Ordering::Relaxed),
        };
        Some(Subscription {
            hub: self.clone(),
            id,
            kind,
            rx,
            position,
        })
    }

    /// Ends every stream (the server is stopping).
    pub(super) fn close_all(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.subscribers.clear();
    }

    /// Where the next poll starts (below the oldest gap still watched, else the position),
    /// whether any client wants rows, and the subscription epoch.
    fn poll_state(&self) -> (i64, bool, u64) {
        let inner = self.lock();
        let from = inner
            .gaps
            .keys()
            .next()
            .map_or(inner.position, |first| first - 1);
        (from, !inner.subscribers.is_empty(), inner.epoch)
    }

    /// Hands `rows` (in id order) to the clients, and moves the position past them.
    fn publish(&self, shared: &Shared, rows: Vec<StoredRow>, track_gaps: bool) {
        let mut inner = self.lock();
        let now = Instant::now();
        inner
            .gaps
            .retain(|_, since| now.duration_since(*since) < GAP_WAIT);
        let Inner {
            subscribers,
            position,
            gaps,
            ..
        } = &mut *inner;
        for row in rows {
            let fresh = if row.id > *position {
                if track_gaps && *position >= 0 && row.id - *position <= PAGE as i64 {
                    for missing in *position + 1..row.id {
                        gaps.insert(missing, now);
                    }
                }
                *position = row.id;
                true
            } else {
                gaps.remove(&row.id).is_some()
            };
            // Masked and serialized only for a client that wants it.
            if !fresh || !subscribers.iter().any(|s| s.filter.matches(&row)) {
                continue;
            }
            let delivered = Delivered::new(shared, row);
            subscribers.retain_mut(|s| {
                !s.filter.matches(&delivered.row) || s.offer(delivered.clone(), self)
            });
        }
        // Clients that missed rows are told as soon as their queue has room.
        subscribers.retain_mut(|s| s.tell_missed(&self.missed_notices).is_ok());
    }

    /// Where streams start: after row `last`.
    pub(super) fn start_at(&self, last: i64) {
        self.lock().position = last;
    }

    /// Skips to row `to`, read while no client was connected: unless one connected since
    /// (`epoch` changed), when those rows may be its own.
    fn advance(&self, to: i64, epoch: u64) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        inner.position = inner.position.max(to);
        inner.gaps.clear();
    }

    fn status(&self) -> Value {
        let position = self.lock().position;
        json!({
            "connections": {
                "sse": self.sse_open.load(Ordering::Relaxed),
                "ws": self.ws_open.load(Ordering::Relaxed),
            },
            "connections_total": self.connections_total.load(Ordering::Relaxed),
            "events_sent": self.events_sent.load(Ordering::Relaxed),
            "events_missed": self.events_missed.load(Ordering::Relaxed),
            "missed_notices": self.missed_notices.load(Ordering::Relaxed),
            "last_id": position.max(0),
        })
    }
}

/// One client's end of the hub.
struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    kind: Kind,
    rx: mpsc::Receiver<Item>,
    /// Live rows start above this id.
    position: i64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().subscribers.retain(|s| s.id != self.id);
        match self.kind {
            Kind::Sse => self.hub.sse_open.fetch_sub(1, Ordering::Relaxed),
            Kind::Ws => self.hub.ws_open.fetch_sub(1, Ordering::Relaxed),
        };
    }
}

/// Finds new rows: every `poll_interval`, and at once when woken.
pub(super) async fn poll(shared: AppState, mut stop: watch::Receiver<bool>) {
    let track_gaps = !shared.pool.url().starts_with("sqlite:");
    let mut store: Option<Store> = None;
    let mut failing = false;
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                () = shared.hub.wake.notified() => {}
                () = tokio::time::sleep(shared.config.poll_interval) => {}
                _ = stop.changed() => return,
            }
        }
        first = false;
        loop {
            let hub = shared.hub.clone();
            let url = shared.pool.url().to_owned();
            let (from, want_rows, epoch) = hub.poll_state();
            let mut conn = store.take();
            let result = tokio::task::spawn_blocking(move || {
                let s = match conn.as_mut() {
                    Some(s) => s,
                    None => conn.insert(Store::open(&url)?),
                };
                let found = if want_rows && from >= 0 {
                    Ok(s.query(&LogQuery::new().after_id(from).limit(PAGE))?)
                } else {
                    Err(s.last_id()?)
                };
                Ok::<_, ttlog_store::StoreError>((conn, found))
            })
            .await;
            match result {
                Ok(Ok((conn, found))) => {
                    store = conn;
                    if failing {
                        failing = false;
                        eprintln!("ttlog serve: the store answers again");
                    }
                    match found {
                        Ok(rows) => {
                            let full = rows.len() == PAGE;
                            hub.publish(&shared, rows, track_gaps);
                            if full {
                                continue;
                            }
                        }
                        // No client: skip what is there.
                        Err(last) => hub.advance(last, epoch),
                    }
                }
                Ok(Err(e)) => {
                    if !failing {
                        failing = true;
                        eprintln!("ttlog serve: polling the store failed: {e} (retrying)");
                    }
                }
                Err(e) => eprintln!("ttlog serve: the poller's store call failed: {e}"),
            }
            break;
        }
    }
}

/// Rows of `filter` in `(after, up_to]`, read from the store a page at a time.
fn backfill(
    shared: AppState,
    filter: StreamFilter,
    after: i64,
    up_to: i64,
) -> impl Stream<Item = Result<Item, ApiError>> + Send {
    stream::unfold(Some(after), move |cursor| {
        let shared = shared.clone();
        let filter = filter.clone();
        async move {
            let cursor = cursor?;
            if cursor >= up_to {
                return None;
            }
            let query = filter.query().after_id(cursor).limit(PAGE);
            let result = shared
                .pool
                .run(move |store| store.query(&query).map_err(ApiError::store))
                .await;
            match result {
                Err(e) => Some((vec![Err(e)], None)),
                Ok(rows) => {
                    let next = rows.last().map(|r| r.id);
                    let done = rows.len() < PAGE;
                    let items: Vec<_> = rows
                        .into_iter()
                        .filter(|r| r.id <= up_to)
                        .map(|r| Ok(Item::Row(Delivered::new(&shared, r))))
                        .collect();
                    let more = next.filter(|n| !done && *n < up_to);
                    Some((items, more))
                }
            }
        }
    })
    .flat_map(stream::iter)
}

/// The rows the hub hands to `sub`, until the server stops or the client goes.
fn live(sub: Subscription) -> impl Stream<Item = Result<Item, ApiError>> + Send {
    stream::unfold(sub, |mut sub| async move {
        let item = sub.rx.recv().await?;
        Some((Ok(item), sub))
    })
}

/// Rows a reconnecting client missed (`Last-Event-ID`), then live rows.
async fn open_stream(
    shared: &AppState,
    filter: StreamFilter,
    kind: Kind,
    resume_after: Option<i64>,
) -> Result<impl Stream<Item = Result<Item, ApiError>> + Send + use<>, ApiError> {
    let sub = shared.hub.subscribe(filter.clone(), kind).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the server is stopping",
        )
    })?;
    let past = match resume_after {
        Some(after) if after < sub.position => {
            backfill(shared.clone(), filter, after, sub.position).left_stream()
        }
        _ => stream::empty().right_stream(),
    };
    Ok(past.chain(live(sub)))
}

/// The JSON of a `missed` notice.
fn missed_json(n: u64) -> String {
    json!({
        "type": "missed",
        "missed": n,
        "reason": "the client did not keep up; its queue was full",
    })
    .to_string()
}

/// `GET /api/v1/logs/stream/sse?job_run_id=&task_run_id=&type=&level=`: one `data:` line
/// per row (its id as the event id), `event: missed` notices, heartbeat comments;
/// `Last-Event-ID` resumes after that row.
pub(super) async fn sse(
    State(shared): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let filter = StreamFilter::parse(raw.as_deref())?;
    let resume_after = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|id| *id >= 0)
                .ok_or_else(|| {
                    ApiError::param("Last-Event-ID", "the Last-Event-ID header is not a row id")
                })
        })
        .transpose()?;
    let hub = shared.hub.clone();
    let rows = open_stream(&shared, filter, Kind::Sse, resume_after).await?;
    // Whatever is ready goes out in one write: a row's frame is made once for all clients.
    let frames = rows.ready_chunks(256).map(move |items| {
        let mut out = Vec::new();
        for item in items {
            match item {
                Ok(Item::Row(row)) => {
                    hub.events_sent.fetch_add(1, Ordering::Relaxed);
                    out.extend_from_slice(&row.sse);
                }
                Ok(Item::Missed(n)) => {
                    out.extend_from_slice(
                        format!("event: missed\ndata: {}\n\n", missed_json(n)).as_bytes(),
                    );
                }
                Err(e) => {
                    let error = json!({ "type": "error", "error": e.message() });
                    out.extend_from_slice(format!("event: error\ndata: {error}\n\n").as_bytes());
                }
            }
        }
        Bytes::from(out)
    });
    // A comment line when nothing was sent for a while, so proxies and clients see it live.
    let heartbeat = shared.config.heartbeat;
    let body = stream::unfold(Box::pin(frames), move |mut frames| async move {
        match tokio::time::timeout(heartbeat, frames.next()).await {
            Ok(Some(bytes)) => Some((Ok::<_, Infallible>(bytes), frames)),
            Ok(None) => None,
            Err(_) => Some((Ok(Bytes::from_static(b": heartbeat\n\n")), frames)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// `GET /api/v1/logs/stream/ws?job_run_id=&task_run_id=&type=&level=`: one JSON row per text
/// message; answers seed 002's `analysis_request` messages.
pub(super) async fn ws(
    State(shared): State<AppState>,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let filter = StreamFilter::parse(raw.as_deref())?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            e.status(),
            &format!("{} (this endpoint is a WebSocket)", e.body_text()),
        )
    })?;
    Ok(upgrade.on_upgrade(move |socket| async move {
        if let Ok(rows) = open_stream(&shared, filter, Kind::Ws, None).await {
            serve_socket(shared, socket, rows).await;
        }
    }))
}

async fn serve_socket(
    shared: AppState,
    mut socket: WebSocket,
    rows: impl Stream<Item = Result<Item, ApiError>> + Send,
) {
    let mut rows = std::pin::pin!(rows);
    loop {
        tokio::select! {
            item = rows.next() => {
                let text = match item {
                    Some(Ok(Item::Row(row))) => {
                        shared.hub.events_sent.fetch_add(1, Ordering::Relaxed);
                        row.json.clone()
                    }
                    Some(Ok(Item::Missed(n))) => missed_json(n).into(),
                    Some(Err(e)) => json!({ "type": "error", "error": e.message() }).to_string().into(),
                    None => {
                        let _ = socket
                            .send(Message::Close(Some(CloseFrame {
                                code: 1001,
                                reason: "the server is stopping".into(),
                            })))
                            .await;
                        return;
                    }
                };
                if socket.send(Message::Text(text)).await.is_err() {
                    return;
                }
            }
            message = socket.recv() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let answer = answer_request(&shared, text.as_str()).await;
                if socket.send(Message::Text(answer.to_string().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Seed 002's `analysis_request`.
#[derive(Debug, serde::Deserialize)]
struct AnalysisRequest {
    #[serde(rename = "type")]
    kind: String,
    request_id: Option<Value>,
    /// Seconds back from now (default one hour).
    time_range: Option<u64>,
    /// A target prefix, or a `service_name`/`service` in the row's metadata or context.
    service: Option<String>,
    /// The least severe level counted (default: all).
    level: Option<String>,
}

/// Rows one analysis reads, at most (the newest).
const ANALYSIS_ROWS: usize = 10_000;

async fn answer_request(shared: &AppState, text: &str) -> Value {
    let request: AnalysisRequest = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            return json!({ "type": "error", "error": format!("not a request: {e}") });
        }
    };
    let request_id = request.request_id.clone().unwrap_or(Value::Null);
    let error =
        |message: String| json!({ "type": "error", "request_id": request_id, "error": message });
    if request.kind != "analysis_request" {
        return error(format!(
            "unknown request type `{}` (expected analysis_request)",
            request.kind
        ));
    }
    let level = match request
        .level
        .as_deref()
        .map(|l| l.to_ascii_lowercase().parse::<LogLevel>())
    {
        None => None,
        Some(Ok(l)) => Some(l),
        Some(Err(_)) => return error("`level` is not a level (trace .. error)".into()),
    };
    let range = request.time_range.unwrap_or(3600).clamp(1, 366 * 86_400);
    let since = SystemTime::now() - Duration::from_secs(range);
    let service = request.service.clone();
    let worker = shared.clone();
    let result = shared
        .pool
        .run(move |store| {
            let mut query = LogQuery::new().since(since).limit(ANALYSIS_ROWS);
            query.level = level;
            let total = store.count(&query).map_err(ApiError::store)?;
            // The newest rows when there are more than one analysis reads.
            query.offset = usize::try_from(total)
                .unwrap_or(usize::MAX)
                .saturating_sub(ANALYSIS_ROWS);
            let rows = store.query(&query).map_err(ApiError::store)?;
            Ok(analyse(&worker, rows, service.as_deref(), total))
        })
        .await;
    match result {
        Ok(mut body) => {
            body["type"] = "analysis_response".into();
            body["request_id"] = request_id;
            body["time_range"] = range.into();
            body["service"] = request.service.map_or(Value::Null, Value::from);
            body["level"] = level.map_or(Value::Null, |l| l.as_str().into());
            body
        }
        Err(e) => error(e.message().to_owned()),
    }
}

/// Counts, top templates and matched error patterns of `rows` (of `service`, if given).
fn analyse(shared: &AppState, rows: Vec<StoredRow>, service: Option<&str>, total: u64) -> Value {
    let of_service = |row: &StoredRow| {
        service.is_none_or(|s| {
            row.target.starts_with(s)
                || row.metadata.get("service_name").and_then(Value::as_str) == Some(s)
                || row
                    .metadata
                    .get("context")
                    .and_then(|c| c.get("service"))
                    .and_then(Value::as_str)
                    == Some(s)
        })
    };
    let rows: Vec<StoredRow> = rows.into_iter().filter(of_service).collect();
    let mut by_level: HashMap<String, u64> = HashMap::new();
    let mut by_type: HashMap<&'static str, u64> = HashMap::new();
    for row in &rows {
        *by_level.entry(row.level.clone()).or_default() += 1;
        *by_type.entry(row.log_type.as_str()).or_default() += 1;
    }
    // Masked before templates are mined: a template can keep a secret of its messages.
    let mut input = crate::input::Input {
        events: rows
            .iter()
            .filter_map(|r| crate::stored::log_event(r).ok())
            .collect(),
        info: Vec::new(),
        source: String::new(),
    };
    shared.redact(&mut input);
    let events = input.events;
    let mut miner = crate::templates::TemplateMiner::default();
    for event in &events {
        miner.add(&event.message);
    }
    let mut templates = miner.templates();
    templates.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
    templates.truncate(10);
    let patterns = shared.patterns.diagnose(&events, None);
    json!({
        "total": rows.len(),
        "truncated": total > ANALYSIS_ROWS as u64,
        "counts": { "by_level": by_level, "by_type": by_type },
        "top_templates": templates,
        "patterns": patterns,
        "first": rows.first().map(|r| ttlog_store::rfc3339(r.timestamp_ns)),
        "last": rows.last().map(|r| ttlog_store::rfc3339(r.timestamp_ns)),
    })
}

/// `GET /api/v1/logs/stream/status`: open connections and what was sent.
pub(super) async fn status(State(shared): State<AppState>) -> Json<Value> {
    Json(shared.hub.status())
}
