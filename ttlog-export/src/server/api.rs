//! The REST endpoints.

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use ttlog_store::{IngestDefaults, LogQuery, LogType, NewRow, StoreError, TrendQuery, nanos};

use super::AppState;
use super::params::{Params, QUERY_PARAMS, uuid};
use crate::stored::{StoredInputError, Subject, report_input};

/// An error response: `{"error": "...", "parameter": "..."}`.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
    parameter: Option<String>,
    /// The store failed (the connection is not reused).
    pub(super) store_failed: bool,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: &str) -> ApiError {
        ApiError {
            status,
            message: message.to_owned(),
            parameter: None,
            store_failed: false,
        }
    }

    /// A 400 about parameter `name`.
    pub(super) fn param(name: &str, message: &str) -> ApiError {
        ApiError {
            parameter: Some(name.to_owned()),
            ..ApiError::new(StatusCode::BAD_REQUEST, message)
        }
    }

    /// The store failed: 503, the client may retry.
    pub(super) fn store(e: StoreError) -> ApiError {
        ApiError {
            store_failed: true,
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the store failed: {e}"),
            )
        }
    }

    pub(super) fn message(&self) -> &str {
        &self.message
    }

    pub(super) fn internal(message: &str) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(p) = self.parameter {
            body["parameter"] = p.into();
        }
        (self.status, Json(body)).into_response()
    }
}

/// `GET /healthz`: the server runs (no token needed).
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Any other path under `/api`.
pub(super) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint (see /api/v1/openapi.json)",
    )
}

/// Runs `query` and answers `{"logs": [...], "total": N, "limit": L, "offset": O}`.
async fn page(shared: AppState, query: LogQuery) -> Result<Json<Value>, ApiError> {
    let worker = shared.clone();
    shared
        .pool
        .run(move |store| {
            let rows = store.query(&query).map_err(ApiError::store)?;
            let total = store.count(&query).map_err(ApiError::store)?;
            Ok(Json(json!({
                "logs": rows.iter().map(|r| worker.row_json(r)).collect::<Vec<_>>(),
                "total": total,
                "limit": query.limit,
                "offset": query.offset,
            })))
        })
        .await
}

/// `GET /api/v1/logs`: seed 001's query.
pub(super) async fn logs(
    State(shared): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = Params::parse(raw.as_deref(), QUERY_PARAMS)?.log_query(LogQuery::new())?;
    page(shared, query).await
}

/// The query endpoints with one filter in the path take every other filter too.
fn path_params<'a>(fixed: &str) -> Vec<&'a str> {
    QUERY_PARAMS
        .iter()
        .copied()
        .filter(|p| *p != fixed)
        .collect()
}

/// `GET /api/v1/logs/job-runs/{id}`: the job and task logs of a job run.
pub(super) async fn job_run(
    State(shared): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let id = uuid("job_run_id", &id)?;
    let params = Params::parse(raw.as_deref(), &path_params("job_run_id"))?;
    page(shared, params.log_query(LogQuery::new().job_run(&id))?).await
}

/// `GET /api/v1/logs/task-runs/{id}`.
pub(super) async fn task_run(
    State(shared): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let id = uuid("task_run_id", &id)?;
    let params = Params::parse(raw.as_deref(), &path_params("task_run_id"))?;
    page(shared, params.log_query(LogQuery::new().task_run(&id))?).await
}

/// `GET /api/v1/logs/system`.
pub(super) async fn system(
    State(shared): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(raw.as_deref(), &path_params("type"))?;
    page(
        shared,
        params.log_query(LogQuery::new().log_type(LogType::System))?,
    )
    .await
}

/// `GET /api/v1/logs/type/{type}`.
pub(super) async fn by_type(
    State(shared): State<AppState>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let kind: LogType = kind
        .parse()
        .map_err(|e: String| ApiError::param("type", &e))?;
    let params = Params::parse(raw.as_deref(), &path_params("type"))?;
    page(shared, params.log_query(LogQuery::new().log_type(kind))?).await
}

/// `GET /api/v1/errors/trends?window=1h&bucket=5m&by=level&level=warn`: counts per
/// bucket of errors (or of the events at `level` and above).
pub(super) async fn trends(
    State(shared): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(raw.as_deref(), &["window", "bucket", "by", "level"])?;
    let window = params.duration("window", Duration::from_secs(3600))?;
    let bucket = params.duration("bucket", Duration::from_secs(300))?;
    if window.as_nanos() / bucket.as_nanos() > 10_000 {
        return Err(ApiError::param(
            "bucket",
            "more than 10,000 buckets: widen the bucket or narrow the window",
        ));
    }
    let query = TrendQuery {
        window,
        bucket,
        by: params.trend_key("by")?,
        until: None,
        level: Some(
            params
                .level("level")?
                .unwrap_or(ttlog_core::LogLevel::Error),
        ),
    };
    shared
        .pool
        .run(move |store| {
            let trends = store.trends(&query).map_err(ApiError::store)?;
            Ok(Json(json!({
                "window": humantime::format_duration(query.window).to_string(),
                "bucket": humantime::format_duration(query.bucket).to_string(),
                "trends": trends.iter().map(|t| t.to_json()).collect::<Vec<_>>(),
            })))
        })
        .await
}

/// `GET /api/v1/errors/{id}/analysis[?format=md]`: the incident report on stored row `id`
/// (redacted, within the default token budget), with the errors correlated with it.
pub(super) async fn analysis(
    State(shared): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::param("id", &format!("`{id}` is not a row id")))?;
    let params = Params::parse(raw.as_deref(), &["format"])?;
    let markdown = match params.get("format") {
        None | Some("json") => false,
        Some("md") => true,
        Some(other) => {
            return Err(ApiError::param(
                "format",
                &format!("`{other}` is not a format (json or md)"),
            ));
        }
    };
    let worker = shared.clone();
    shared
        .pool
        .run(move |store| {
            let (mut input, trigger) = match report_input(store, Subject::Row(id)) {
                Ok(found) => found,
                Err(StoredInputError::Store(e)) => return Err(ApiError::store(e)),
                Err(StoredInputError::NoSuchRow(_)) => {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        &format!("no row {id} in the store"),
                    ));
                }
                Err(e) => return Err(ApiError::internal(&e.to_string())),
            };
            input.source = format!("row {id} of {}", ttlog_store::redact_url(worker.pool.url()));
            let correlated = store
                .correlated_errors(id, Duration::from_secs(300), 50)
                .map_err(ApiError::store)?;
            let exporter = worker.exporter().map_err(|e| ApiError::internal(&e))?;
            let report = match trigger {
                Some(at) => exporter.export_with_trigger(&input, at),
                None => exporter.export_for_analysis(&input),
            }
            .map_err(|e| ApiError::internal(&e.to_string()))?;
            if markdown {
                return Ok((
                    [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
                    crate::report::format_markdown_report(&report),
                )
                    .into_response());
            }
            // Correlated rows go out redacted, like the report.
            let mut correlated_input = crate::input::Input {
                events: correlated
                    .iter()
                    .map(crate::stored::log_event)
                    .collect::<Result<_, _>>()
                    .map_err(|e| ApiError::internal(&e.to_string()))?,
                info: Vec::new(),
                source: String::new(),
            };
            worker.redact(&mut correlated_input);
            let correlated: Vec<Value> = correlated
                .iter()
                .zip(correlated_input.events)
                .map(|(row, event)| {
                    let mut v = serde_json::to_value(event).unwrap_or(Value::Null);
                    v["id"] = row.id.into();
                    v
                })
                .collect();
            Ok(Json(json!({
                "id": id,
                "report": report,
                "correlated_errors": correlated,
            }))
            .into_response())
        })
        .await
}

/// `POST /api/v1/logs[?type=&job_run_id=&task_run_id=&stream=]`: stores a body of lines in
/// the formats `ttlog ingest` reads; answers `{"stored": N}`.
pub(super) async fn ingest(
    State(shared): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(
        raw.as_deref(),
        &["type", "job_run_id", "task_run_id", "stream"],
    )?;
    let defaults = IngestDefaults {
        job_run_id: params.uuid("job_run_id")?,
        task_run_id: params.uuid("task_run_id")?,
        log_type: params.log_type("type")?,
        stream: params.stream("stream")?,
    };
    if defaults.log_type == Some(LogType::Task) && defaults.task_run_id.is_none() {
        return Err(ApiError::param("type", "type=task needs task_run_id"));
    }
    if defaults.log_type == Some(LogType::Job) && defaults.job_run_id.is_none() {
        return Err(ApiError::param("type", "type=job needs job_run_id"));
    }
    let limit = shared.config.max_body;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {limit} bytes: send it in parts"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, &format!("reading the body: {e}"))
        }
    })?;
    let now = nanos(SystemTime::now());
    let rows: Vec<NewRow> = bytes
        .split(|b| *b == b'\n')
        .map(String::from_utf8_lossy)
        .filter(|line| !line.trim().is_empty())
        .map(|line| NewRow::from_line(&line, &defaults, now))
        .collect();
    let stored = rows.len();
    shared
        .pool
        .run(move |store| store.insert(&rows).map_err(ApiError::store))
        .await?;
    // Stream the new rows now rather than at the next poll.
    shared.hub.wake();
    Ok(Json(json!({ "stored": stored })))
}
