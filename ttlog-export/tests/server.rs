//! `ttlog serve` as a child process on a loopback port, over a SQLite store (and the
//! PostgreSQL of `TTLOG_TEST_POSTGRES_URL` for rows written by another process): every REST
//! endpoint with its filters and pagination, tokens, 400s naming the parameter, 413, SQL
//! injection attempts, SSE and WebSocket delivery with filters, `Last-Event-ID` resume, an
//! analysis request over WebSocket, a slow client told what it missed while a fast one
//! gets everything, and a clean stop on SIGTERM.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{JOB_A, JOB_B, Server, TASK_A, job_line, line};

#[test]
fn rest_queries_filter_and_paginate() {
    let server = Server::sqlite("rest", &[]);
    let mut lines = Vec::new();
    for i in 0..30 {
        lines.push(job_line(JOB_A, "info", &format!("job step {i}")));
    }
    lines.push(line(
        "error",
        "task failed: disk full",
        &format!(
            r#""context":{{"job_run_id":"{JOB_A}","task_run_id":"{TASK_A}","stream":"stderr"}},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#
        ),
    ));
    lines.push(job_line(JOB_B, "warn", "another run"));
    lines.push(line("info", "server started", ""));
    lines.push(line("debug", "cache warm", r#""target":"checkout::cache""#));
    server.ingest(&lines);

    let all = server.json("/api/v1/logs?limit=1000");
    assert_eq!(all["total"], 34);
    assert_eq!(all["limit"], 1000);
    assert_eq!(all["offset"], 0);
    let logs = all["logs"].as_array().unwrap();
    let times: Vec<&str> = logs
        .iter()
        .map(|l| l["timestamp"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    // Pagination: pages of 10 cover the rows once each.
    let mut seen = Vec::new();
    for offset in (0..34).step_by(10) {
        let page = server.json(&format!("/api/v1/logs?limit=10&offset={offset}"));
        assert_eq!(page["total"], 34);
        assert_eq!(page["offset"], offset);
        seen.extend(
            page["logs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_i64().unwrap()),
        );
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 34);

    let run = server.json(&format!("/api/v1/logs/job-runs/{JOB_A}?limit=100"));
    assert_eq!(run["total"], 31, "job and task logs of the run");
    let task = server.json(&format!("/api/v1/logs/task-runs/{TASK_A}"));
    assert_eq!(task["total"], 1);
    let row = &task["logs"][0];
    assert_eq!(row["type"], "task");
    assert_eq!(row["stream"], "stderr");
    assert_eq!(row["job_run_id"], JOB_A);
    assert_eq!(row["task_run_id"], TASK_A);
    assert_eq!(row["level"], "error");

    assert_eq!(server.json("/api/v1/logs/system")["total"], 2);
    assert_eq!(server.json("/api/v1/logs/type/job")["total"], 31);
    assert_eq!(server.json("/api/v1/logs/type/task")["total"], 1);
    assert_eq!(server.json("/api/v1/logs/system?level=info")["total"], 1);
    assert_eq!(server.json("/api/v1/logs?level=warn")["total"], 2);
    assert_eq!(server.json("/api/v1/logs?level=ERROR")["total"], 1);
    assert_eq!(server.json("/api/v1/logs?type=job&level=warn")["total"], 1);
    assert_eq!(server.json("/api/v1/logs?q=disk%20full")["total"], 1);
    assert_eq!(
        server.json("/api/v1/logs?trace_id=4BF92F3577B34DA6A3CE929D0E0E4736")["total"],
        1
    );
    assert_eq!(
        server.json("/api/v1/logs?target=checkout::cache")["total"],
        1
    );
    assert_eq!(server.json("/api/v1/logs?target=checkout")["total"], 34);
    assert_eq!(server.json("/api/v1/logs?since=1h")["total"], 34);
    assert_eq!(server.json("/api/v1/logs?until=1h")["total"], 0);
    assert_eq!(
        server.json("/api/v1/logs?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")["total"],
        0
    );
    assert_eq!(
        server.json(&format!("/api/v1/logs/job-runs/{JOB_A}?level=error&q=disk"))["total"],
        1
    );

    // Trends of errors (the default), and of warnings and above by type.
    let trends = server.json("/api/v1/errors/trends?window=1h&bucket=5m");
    let total: u64 = trends["trends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 1, "{trends}");
    let by_type = server.json("/api/v1/errors/trends?window=1h&bucket=1h&by=type&level=warn");
    let keys: Vec<&str> = by_type["trends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"task") && keys.contains(&"job"), "{by_type}");

    // The analysis of the stored error.
    let id = row["id"].as_i64().unwrap();
    let analysis = server.json(&format!("/api/v1/errors/{id}/analysis"));
    assert_eq!(analysis["id"], id);
    assert_eq!(
        analysis["report"]["trigger"]["message"],
        "task failed: disk full"
    );
    let patterns: Vec<&str> = analysis["report"]["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(patterns.contains(&"disk_full"), "{patterns:?}");
    assert!(analysis["correlated_errors"].is_array());
    let (status, markdown) = server.get(&format!("/api/v1/errors/{id}/analysis?format=md"));
    assert_eq!(status, 200);
    assert!(markdown.contains("disk full"), "{markdown}");
    let (status, _) = server.get("/api/v1/errors/999999/analysis");
    assert_eq!(status, 404);
}

#[test]
fn secrets_are_masked_unless_no_redact() {
    let lines = vec![line(
        "error",
        "login failed password=hunter2",
        r#""fields":{"token":"tok_live_1234","user":"ana"}"#,
    )];
    let server = Server::sqlite("redact", &[]);
    server.ingest(&lines);
    let row = &server.json("/api/v1/logs")["logs"][0];
    assert_eq!(row["message"], "login failed password=[REDACTED]");
    assert_eq!(row["fields"]["token"], "[REDACTED]");
    assert_eq!(row["fields"]["user"], "ana");
    let raw = Server::start(&server.store, &["--no-redact"]);
    let row = &raw.json("/api/v1/logs")["logs"][0];
    assert_eq!(row["message"], "login failed password=hunter2");
}

#[test]
fn bad_input_is_a_400_that_names_the_parameter() {
    let server = Server::sqlite("bad-input", &[]);
    let cases = [
        ("/api/v1/logs?level=loud", "level"),
        ("/api/v1/logs?type=cron", "type"),
        ("/api/v1/logs?since=yesterday-ish", "since"),
        ("/api/v1/logs?until=12:00", "until"),
        ("/api/v1/logs?limit=0", "limit"),
        ("/api/v1/logs?limit=5000", "limit"),
        ("/api/v1/logs?limit=-1", "limit"),
        ("/api/v1/logs?offset=ten", "offset"),
        ("/api/v1/logs?trace_id=xyz", "trace_id"),
        ("/api/v1/logs?job_run_id=42", "job_run_id"),
        ("/api/v1/logs?lvl=error", "lvl"),
        ("/api/v1/logs?level=info&level=warn", "level"),
        ("/api/v1/logs/job-runs/not-a-uuid", "job_run_id"),
        (
            "/api/v1/logs/task-runs/3f2c1a9e-8b7d-4c6e-9f01",
            "task_run_id",
        ),
        ("/api/v1/logs/type/cron", "type"),
        ("/api/v1/logs/system?type=job", "type"),
        ("/api/v1/errors/trends?window=forever", "window"),
        ("/api/v1/errors/trends?bucket=0s", "bucket"),
        ("/api/v1/errors/trends?window=365d&bucket=1s", "bucket"),
        ("/api/v1/errors/trends?by=colour", "by"),
        ("/api/v1/errors/abc/analysis", "id"),
        ("/api/v1/errors/-3/analysis", "id"),
        ("/api/v1/errors/1/analysis?format=pdf", "format"),
        ("/api/v1/logs/stream/sse?level=chatty", "level"),
        ("/api/v1/logs/stream/sse?job_run_id=1", "job_run_id"),
        ("/api/v1/logs/stream/ws?type=x", "type"),
    ];
    for (path, parameter) in cases {
        let (status, body) = server.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let (status, body) = server.post("/api/v1/logs?stream=stdin", "x");
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.post("/api/v1/logs?type=task", "x");
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.get("/api/v1/nothing/here");
    assert_eq!(status, 404);
    // A Last-Event-ID that is not a row id.
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "GET /api/v1/logs/stream/sse HTTP/1.1\r\nHost: x\r\nLast-Event-ID: yesterday\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("Last-Event-ID"), "{response}");
    // Nothing was stored by any of it.
    assert_eq!(server.json("/api/v1/logs")["total"], 0);
}

#[test]
fn sql_injection_attempts_have_no_effect() {
    let server = Server::sqlite("injection", &[]);
    server.ingest(&[
        line("info", "harmless", ""),
        line("error", "it's broken", ""),
    ]);
    let attempts = [
        "' OR '1'='1",
        "'; DROP TABLE logs; --",
        "%' OR 1=1 --",
        "\" OR \"\"=\"",
        "1; DELETE FROM logs",
        "_%\\",
    ];
    for attempt in attempts {
        let enc: String = url_encode(attempt);
        for param in ["q", "target"] {
            let page = server.json(&format!("/api/v1/logs?{param}={enc}"));
            assert_eq!(page["total"], 0, "{param}={attempt}: {page}");
        }
        for param in ["level", "type", "since", "trace_id", "job_run_id", "limit"] {
            let (status, _) = server.get(&format!("/api/v1/logs?{param}={enc}"));
            assert_eq!(status, 400, "{param}={attempt}");
        }
        let (status, _) = server.get(&format!("/api/v1/logs/type/{enc}"));
        assert_eq!(status, 400, "type/{attempt}");
        let (status, _) = server.get(&format!("/api/v1/errors/{enc}/analysis"));
        assert!(
            status == 400 || status == 404,
            "analysis/{attempt}: {status}"
        );
    }
    // A quote in the text is just text.
    assert_eq!(server.json("/api/v1/logs?q=it%27s")["total"], 1);
    assert_eq!(
        server.json("/api/v1/logs")["total"],
        2,
        "the table is intact"
    );
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_token_guards_every_endpoint_but_healthz_and_the_viewer() {
    let server = Server::sqlite("token", &["--token", "s3cret-token"]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let status = |path: &str, auth: Option<&str>| {
        let mut request = agent.get(server.url(path));
        if let Some(a) = auth {
            request = request.header("Authorization", a);
        }
        request.call().unwrap().status().as_u16()
    };
    for path in [
        "/api/v1/logs",
        "/api/v1/logs/system",
        "/api/v1/logs/stream/status",
        "/api/v1/errors/trends",
        "/api/v1/openapi.json",
        "/api/v1/logs/stream/sse",
    ] {
        assert_eq!(status(path, None), 401, "{path} without a token");
        assert_eq!(status(path, Some("Bearer wrong")), 401, "{path}");
        assert_eq!(status(path, Some("Bearer s3cret-tokenX")), 401, "{path}");
        assert_eq!(status(path, Some("s3cret-token")), 401, "{path}");
    }
    assert_eq!(status("/api/v1/logs", Some("Bearer s3cret-token")), 200);
    assert_eq!(status("/healthz", None), 200);
    assert_eq!(status("/", None), 200, "the viewer's page holds no data");
    let (code, _) = {
        let mut r = agent
            .post(server.url("/api/v1/logs"))
            .send("unauthorised line".as_bytes())
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(code, 401);
    assert_eq!(server.json("/api/v1/logs")["total"], 0);
}

#[test]
fn no_token_means_loopback_only() {
    let output = Command::new(env!("CARGO_BIN_EXE_ttlog"))
        .args([
            "serve",
            "--store",
            "sqlite:/nonexistent-never-opened/logs.db",
        ])
        .args(["--listen", "0.0.0.0:0"])
        .env_remove("TTLOG_SERVER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without a token"), "{stderr}");
    // A store that cannot be opened is a clear error too.
    let output = Command::new(env!("CARGO_BIN_EXE_ttlog"))
        .args([
            "serve",
            "--store",
            "mysql://db/logs",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("store URL"));
}

#[test]
fn an_oversized_body_is_413_and_stores_nothing() {
    let server = Server::sqlite("too-large", &["--max-body", "1000"]);
    let body = vec![line("info", &"x".repeat(100), ""); 20].join("\n");
    let (status, text) = server.post("/api/v1/logs", &body);
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("larger than 1000 bytes"), "{text}");
    assert_eq!(server.json("/api/v1/logs")["total"], 0);
    let (status, _) = server.post("/api/v1/logs", &line("info", "small", ""));
    assert_eq!(status, 200);
}

#[test]
fn sse_sends_the_rows_of_its_filter_and_resumes() {
    let server = Server::sqlite("sse", &[]);
    let client = server.sse(&format!("/api/v1/logs/stream/sse?job_run_id={JOB_A}"), None);
    let errors = server.sse("/api/v1/logs/stream/sse?level=error", None);
    server.wait_for_streams("sse", 2);
    let posted = Instant::now();
    server.ingest(&[
        job_line(JOB_B, "info", "other run 1"),
        job_line(JOB_A, "info", "mine 1"),
        job_line(JOB_B, "error", "other run failed"),
        job_line(JOB_A, "warn", "mine 2"),
    ]);
    let got = client.take(2, Duration::from_secs(5));
    let delay = posted.elapsed();
    let messages: Vec<String> = got
        .iter()
        .map(|e| e.json()["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, ["mine 1", "mine 2"]);
    assert!(
        got.iter()
            .all(|e| e.id.as_deref() == Some(&*e.json()["id"].to_string())),
        "the event id is the row id"
    );
    // Not a timing assertion on the delivery: it only guards against a poll that never
    // comes (the 100 ms target is measured by the load bench).
    assert!(delay < Duration::from_secs(5));
    assert!(
        client.next(Duration::from_millis(300)).is_none(),
        "nothing of run B"
    );
    let e = errors.take(1, Duration::from_secs(5));
    assert_eq!(e[0].json()["message"], "other run failed");

    // Resume after the first row: the second comes again, from the store.
    let first: i64 = got[0].id.as_ref().unwrap().parse().unwrap();
    let resumed = server.sse(
        &format!("/api/v1/logs/stream/sse?job_run_id={JOB_A}"),
        Some(first),
    );
    let again = resumed.take(1, Duration::from_secs(5));
    assert_eq!(again[0].json()["message"], "mine 2");
    server.ingest(&[job_line(JOB_A, "info", "mine 3")]);
    let live = resumed.take(1, Duration::from_secs(5));
    assert_eq!(live[0].json()["message"], "mine 3", "then live rows");

    let status = server.json("/api/v1/logs/stream/status");
    assert_eq!(status["connections"]["sse"], 3, "{status}");
    assert!(status["events_sent"].as_u64().unwrap() >= 5, "{status}");
}

#[test]
fn an_idle_stream_gets_heartbeats() {
    let server = Server::sqlite("heartbeat", &["--heartbeat", "200ms"]);
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "GET /api/v1/logs/stream/sse HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while seen.matches(": heartbeat").count() < 2 {
        let n = stream.read(&mut buf).expect("heartbeats within 5 s");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("content-type: text/event-stream"), "{seen}");
}

#[test]
fn a_slow_client_is_told_what_it_missed_and_a_fast_one_gets_everything() {
    // The queue holds a poll's worth of rows (1,000), so a client that reads keeps up.
    let server = Server::sqlite("slow", &["--client-queue", "1000"]);
    // The slow client sends its request and then reads nothing until the end.
    let mut slow = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    write!(
        slow,
        "GET /api/v1/logs/stream/sse HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let fast = server.sse("/api/v1/logs/stream/sse", None);
    server.wait_for_streams("sse", 2);
    // Rows big enough that the slow client's socket buffers (a few MB) fill up.
    const ROWS: usize = 12_000;
    let filler = "y".repeat(2000);
    // Paced so that the fast client keeps up: it has all of a chunk before the next is sent.
    let mut got = Vec::new();
    for chunk in 0..ROWS / 500 {
        let lines: Vec<String> = (0..500)
            .map(|i| line("info", &format!("row {} {filler}", chunk * 500 + i), ""))
            .collect();
        server.ingest(&lines);
        got.extend(fast.take(500, Duration::from_secs(20)));
    }
    assert_eq!(got.len(), ROWS, "the fast client gets every row");
    assert!(
        got.iter().all(|e| e.event.is_none()),
        "and no missed notice"
    );
    let ids: Vec<i64> = got
        .iter()
        .map(|e| e.id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");

    let status = server.json("/api/v1/logs/stream/status");
    let missed = status["events_missed"].as_u64().unwrap();
    assert!(missed > 0, "{status}");
    // Now the slow client reads what it got: rows and notices adding up to every row.
    slow.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || support::read_events(slow, &tx));
    let mut rows = 0u64;
    let mut told = 0u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows + told < ROWS as u64 && Instant::now() < deadline {
        // A notice is sent once the client's queue has room again, after the next poll.
        if let Ok(event) = rx.recv_timeout(Duration::from_secs(1)) {
            if event.event.as_deref() == Some("missed") {
                let n = event.json()["missed"].as_u64().unwrap();
                assert!(n > 0, "a notice says how many: {}", event.data);
                told += n;
            } else {
                rows += 1;
            }
        }
    }
    assert_eq!(told, missed, "the client is told exactly what it missed");
    assert_eq!(rows + told, ROWS as u64);
}

#[test]
fn websocket_streams_its_filter_and_answers_analysis_requests() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::sqlite("ws", &["--token", "ws-token"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!(
            "{}/api/v1/logs/stream/ws?level=error",
            server.base.replace("http://", "ws://")
        );
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                url.as_str(),
            )
            .unwrap();
        let refused = tokio_tungstenite::connect_async(request.clone()).await;
        assert!(refused.is_err(), "no token, no stream");
        request
            .headers_mut()
            .insert("Authorization", "Bearer ws-token".parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let srv = &server;
        tokio::task::block_in_place(|| srv.wait_for_streams("ws", 1));
        tokio::task::block_in_place(|| {
            srv.ingest(&[
                line("info", "request handled", ""),
                line("error", "database connection refused", ""),
                line("error", "database connection refused", ""),
            ])
        });
        let mut got = Vec::new();
        while got.len() < 2 {
            let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
                .await
                .expect("rows within 5 s")
                .unwrap()
                .unwrap();
            if let Message::Text(text) = message {
                got.push(serde_json::from_str::<Value>(&text).unwrap());
            }
        }
        assert!(got.iter().all(|r| r["level"] == "error"), "{got:?}");

        socket
            .send(Message::Text(
                r#"{"type":"analysis_request","request_id":"r-1","time_range":3600,"service":"checkout","level":"ERROR"}"#.into(),
            ))
            .await
            .unwrap();
        let answer = loop {
            let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
                .await
                .expect("an answer")
                .unwrap()
                .unwrap();
            if let Message::Text(text) = message {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["type"] == "analysis_response" {
                    break v;
                }
            }
        };
        assert_eq!(answer["request_id"], "r-1");
        assert_eq!(answer["total"], 2, "{answer}");
        assert_eq!(answer["counts"]["by_level"]["error"], 2, "{answer}");
        assert_eq!(answer["top_templates"][0]["count"], 2, "{answer}");
        let patterns: Vec<&str> = answer["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert!(!patterns.is_empty(), "{answer}");

        socket
            .send(Message::Text(r#"{"type":"subscribe"}"#.into()))
            .await
            .unwrap();
        let message = socket.next().await.unwrap().unwrap();
        let v: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        assert_eq!(v["type"], "error", "{v}");
    });
}

#[test]
fn sigterm_stops_the_server_with_streams_open() {
    let mut server = Server::sqlite("sigterm", &[]);
    let client = server.sse("/api/v1/logs/stream/sse", None);
    server.wait_for_streams("sse", 1);
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    // The stream ended rather than hanging.
    while client.next(Duration::from_secs(2)).is_some() {}
}

#[test]
fn rows_written_by_another_process_are_streamed() {
    let mut stores = vec![("sqlite", {
        let dir = support::temp_dir("other-process");
        format!("sqlite:{}", dir.join("logs.db").display())
    })];
    match std::env::var("TTLOG_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => stores.push(("postgres", url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but TTLOG_TEST_POSTGRES_URL is not set")
        }
        _ => eprintln!("PostgreSQL part skipped: TTLOG_TEST_POSTGRES_URL is not set"),
    }
    for (kind, store) in stores {
        let server = Server::start(&store, &[]);
        // A run id of its own, so rows of other tests in the same database do not count.
        let job = format!(
            "5e1f00d{}-0000-4000-8000-{:012x}",
            kind.len() % 10,
            std::process::id()
        );
        let client = server.sse(&format!("/api/v1/logs/stream/sse?job_run_id={job}"), None);
        server.wait_for_streams("sse", 1);
        let mut ingest = Command::new(env!("CARGO_BIN_EXE_ttlog"))
            .args([
                "ingest",
                "--store",
                &store,
                "--job-run",
                &job,
                "--stream",
                "stdout",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(ingest.stdin.take().unwrap(), "compiling\nlinking\nfinished").unwrap();
        assert!(ingest.wait().unwrap().success());
        let got = client.take(3, Duration::from_secs(10));
        let messages: Vec<String> = got
            .iter()
            .map(|e| e.json()["message"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(messages, ["compiling", "linking", "finished"], "{kind}");
        assert!(got.iter().all(|e| e.json()["stream"] == "stdout"));
    }
}

#[test]
fn every_path_of_the_openapi_description_is_served() {
    let server = Server::sqlite("openapi", &[]);
    server.ingest(&[line("error", "boom", "")]);
    let doc = server.json("/api/v1/openapi.json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 12);
    for path in paths.keys() {
        if path.ends_with("/stream/sse") || path.ends_with("/stream/ws") {
            continue; // streams: tested above
        }
        let concrete = path
            .replace("{job_run_id}", JOB_A)
            .replace("{task_run_id}", TASK_A)
            .replace("{type}", "system")
            .replace("{id}", "1");
        let (status, body) = server.get(&concrete);
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Every query parameter the description lists is one the endpoint takes (the server
    // refuses unknown ones): a sample value of each, alone.
    let samples = [
        ("level", "warn"),
        ("type", "job"),
        ("since", "1h"),
        ("until", "2099-01-01T00:00:00Z"),
        ("q", "boom"),
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("target", "checkout"),
        ("job_run_id", JOB_A),
        ("task_run_id", TASK_A),
        ("limit", "5"),
        ("offset", "1"),
        ("window", "2h"),
        ("bucket", "10m"),
        ("by", "target"),
        ("format", "md"),
    ];
    let mut checked = 0;
    for (path, item) in paths {
        let Some(get) = item.get("get") else { continue };
        if path.contains("/stream/") && !path.ends_with("/status") {
            continue;
        }
        let concrete = path
            .replace("{job_run_id}", JOB_A)
            .replace("{task_run_id}", TASK_A)
            .replace("{type}", "system")
            .replace("{id}", "1");
        for param in get["parameters"].as_array().into_iter().flatten() {
            if param["in"] != "query" {
                continue;
            }
            let name = param["name"].as_str().unwrap();
            let value = samples
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("no sample value for `{name}` of {path}"))
                .1;
            let (status, body) = server.get(&format!("{concrete}?{name}={value}"));
            assert_eq!(status, 200, "{path}?{name}={value}: {body}");
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");

    // The viewer: a page and its two files, under a strict content security policy.
    let response = ureq::get(server.url("/")).call().unwrap();
    let csp = response
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let (status, page) = server.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("<title>ttlog</title>"));
    assert_eq!(server.get("/viewer.js").0, 200);
    assert_eq!(server.get("/viewer.css").0, 200);
}
