//! Helpers of the server tests: a real `ttlog serve` child process on a loopback port, HTTP
//! requests through `ureq`, and a Server-Sent Events reader.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const JOB_A: &str = "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd";
pub const JOB_B: &str = "0b7f3c2e-1d4a-4e5b-8c6d-7e8f90a1b2c3";
pub const TASK_A: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f98765432";

/// A fresh directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ttlog-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `ttlog serve` running as a child; killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub store: String,
    pub token: Option<String>,
}

impl Server {
    /// Serves a new SQLite store called `name`, with `args` added.
    pub fn sqlite(name: &str, args: &[&str]) -> Server {
        let dir = temp_dir(name);
        let store = format!("sqlite:{}", dir.join("logs.db").display());
        Server::start(&store, args)
    }

    /// Serves `store` on a free loopback port.
    pub fn start(store: &str, args: &[&str]) -> Server {
        let listen: &[&str] = if args.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_ttlog"))
            .args(["serve", "--store", store])
            .args(listen)
            .args(args)
            .env_remove("TTLOG_STORE")
            .env_remove("TTLOG_SERVER_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("ttlog serve printed {line:?}"))
            .to_owned();
        let token = args
            .iter()
            .position(|a| *a == "--token")
            .map(|i| args[i + 1].to_owned());
        Server {
            child,
            base,
            store: store.to_owned(),
            token,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn agent(timeout: Option<Duration>) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(timeout)
            .build()
            .into()
    }

    /// GET `path` with the server's token; the status and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut request = Server::agent(Some(Duration::from_secs(30))).get(self.url(path));
        if let Some(t) = &self.token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let mut response = request.call().unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// GET `path`, expecting 200 and JSON.
    pub fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// POST `body` to `path` with the server's token.
    pub fn post(&self, path: &str, body: &str) -> (u16, String) {
        let mut request = Server::agent(Some(Duration::from_secs(60))).post(self.url(path));
        if let Some(t) = &self.token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let mut response = request.send(body.as_bytes()).unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// POSTs lines and checks they were all stored.
    pub fn ingest(&self, lines: &[String]) {
        let (status, body) = self.post("/api/v1/logs", &lines.join("\n"));
        assert_eq!(status, 200, "{body}");
        let stored: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(stored["stored"], lines.len(), "{body}");
    }

    /// Opens an SSE stream on `path` (query included); its events arrive on the receiver.
    pub fn sse(&self, path: &str, last_event_id: Option<i64>) -> SseClient {
        let mut request = Server::agent(None)
            .get(self.url(path))
            .header("Accept", "text/event-stream");
        if let Some(t) = &self.token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.call().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let reader = response.into_body().into_reader();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || read_events(reader, &tx));
        SseClient { events: rx }
    }

    /// Waits until the status endpoint shows `n` open SSE streams.
    pub fn wait_for_streams(&self, kind: &str, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.json("/api/v1/logs/stream/status");
            if status["connections"][kind] == n {
                return;
            }
            assert!(Instant::now() < deadline, "streams: {status}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

pub struct SseClient {
    pub events: mpsc::Receiver<SseEvent>,
}

impl SseClient {
    /// The next event (heartbeats skipped), within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<SseEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Events until `n` have come or `timeout` passes.
    pub fn take(&self, n: usize, timeout: Duration) -> Vec<SseEvent> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => out.push(e),
                Err(_) => break,
            }
        }
        out
    }
}

/// Parses `text/event-stream` (comments are heartbeats and skipped).
pub fn read_events(reader: impl Read, tx: &mpsc::Sender<SseEvent>) {
    let mut event = SseEvent::default();
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { return };
        if line.is_empty() {
            if !event.data.is_empty() && tx.send(std::mem::take(&mut event)).is_err() {
                return;
            }
            event = SseEvent::default();
        } else if let Some(v) = line.strip_prefix("data:") {
            if !event.data.is_empty() {
                event.data.push('\n');
            }
            event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
        } else if let Some(v) = line.strip_prefix("id:") {
            event.id = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("event:") {
            event.event = Some(v.trim().to_owned());
        }
    }
}

/// A ttlog JSON line.
pub fn line(level: &str, message: &str, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    };
    format!(
        r#"{{"timestamp":"{}","level":"{level}","target":"checkout::api","message":"{message}"{extra}}}"#,
        humantime::format_rfc3339_nanos(std::time::SystemTime::now())
    )
}

/// A job log line of job run `job`.
pub fn job_line(job: &str, level: &str, message: &str) -> String {
    line(
        level,
        message,
        &format!(r#""context":{{"job_run_id":"{job}"}}"#),
    )
}
