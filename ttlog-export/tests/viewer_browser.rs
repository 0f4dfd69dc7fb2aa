//! The web viewer in a real browser: Debian's `chromium`, headless, driven over the Chrome
//! DevTools Protocol (a WebSocket). The page loads with the token from the URL fragment, an
//! event posted after load appears within 2 s, the level filter hides info events, and a
//! screenshot is saved (its path is printed).
//!
//! Needs `chromium` (or `TTLOG_CHROMIUM=/path`); skipped without it, except under `CI=true`,
//! where `.ci/run` installs it and a missing browser fails the test.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{Server, line};
use tokio_tungstenite::tungstenite::Message;

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("TTLOG_CHROMIUM").ok(),
        Some("/usr/bin/chromium".into()),
        Some("/usr/bin/chromium-browser".into()),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but chromium is not installed: .ci/run installs Debian's chromium"
        );
        eprintln!("skipped: no chromium (install Debian's chromium or set TTLOG_CHROMIUM)");
    }
    found
}

/// A headless chromium, killed when dropped.
struct Browser {
    child: Child,
    /// `127.0.0.1:PORT` of its DevTools endpoint.
    devtools: String,
    _profile: PathBuf,
}

impl Browser {
    fn launch(path: &PathBuf) -> Browser {
        let profile = support::temp_dir("chromium-profile");
        let mut child = Command::new(path)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--window-size=1280,800",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let devtools = loop {
            let line = lines
                .next()
                .expect("chromium exited before its DevTools endpoint was up")
                .unwrap();
            if let Some(rest) = line.strip_prefix("DevTools listening on ws://") {
                break rest.split('/').next().unwrap().to_owned();
            }
        };
        // Keep draining its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Browser {
            child,
            devtools,
            _profile: profile,
        }
    }

    /// The WebSocket URL of its first page.
    fn page(&self) -> String {
        let list: Value = serde_json::from_str(
            &ureq::get(format!("http://{}/json/list", self.devtools))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target")["webSocketDebuggerUrl"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One DevTools session.
struct Page {
    socket: Socket,
    next_id: u64,
}

impl Page {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::Text(request.to_string().into()))
            .await
            .unwrap();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("DevTools answers")
                .unwrap()
                .unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true; how long it took.
    async fn wait_for(&mut self, expression: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if self.eval(expression).await == Value::Bool(true) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < timeout,
                "not true within {timeout:?}: {expression}\nstatus: {}",
                self.eval("document.getElementById('status').textContent")
                    .await
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[test]
fn the_viewer_shows_live_events_and_filters_by_level() {
    let Some(chromium) = chromium() else { return };
    let server = Server::sqlite("viewer", &["--token", "viewer-token"]);
    server.ingest(&[
        line("info", "service started", ""),
        line("warn", "cache cold", ""),
    ]);
    let browser = Browser::launch(&chromium);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (socket, _) = tokio_tungstenite::connect_async(browser.page())
            .await
            .unwrap();
        let mut page = Page { socket, next_id: 0 };
        page.call("Page.enable", json!({})).await;
        // The token travels in the fragment, which is never sent to the server.
        page.call(
            "Page.navigate",
            json!({ "url": format!("{}/#token=viewer-token", server.base) }),
        )
        .await;
        page.wait_for(
            "document.querySelectorAll('#logs li').length === 2 \
             && document.getElementById('status').textContent === 'Live'",
            Duration::from_secs(15),
        )
        .await;
        assert_eq!(
            page.eval("location.hash").await,
            "",
            "the token is taken out of the URL"
        );
        assert_eq!(
            page.eval("sessionStorage.getItem('ttlog-token')").await,
            "viewer-token"
        );

        // An event posted after load appears within 2 s.
        let srv = &server;
        tokio::task::block_in_place(|| {
            srv.ingest(&[line("error", "payment declined: card expired", "")])
        });
        let shown = page
            .wait_for(
                "[...document.querySelectorAll('#logs li')].some(li => \
                 li.textContent.includes('payment declined: card expired'))",
                Duration::from_secs(2),
            )
            .await;
        eprintln!("a posted event appeared in the viewer after {shown:?}");

        // Level filter: warn and above hides the info events, now and later.
        page.eval(
            "(() => { const s = document.getElementById('f-level'); s.value = 'warn'; \
             s.dispatchEvent(new Event('change')); return true; })()",
        )
        .await;
        page.wait_for(
            "document.getElementById('status').textContent === 'Live'",
            Duration::from_secs(10),
        )
        .await;
        tokio::task::block_in_place(|| {
            srv.ingest(&[
                line("info", "request handled", ""),
                line("warn", "slow query: 1.2 s", ""),
            ])
        });
        page.wait_for(
            "[...document.querySelectorAll('#logs li:not([hidden])')].some(li => \
             li.textContent.includes('slow query'))",
            Duration::from_secs(5),
        )
        .await;
        let visible_levels = page
            .eval(
                "[...document.querySelectorAll('#logs li:not([hidden])')].map(li => li.dataset.level)",
            )
            .await;
        let levels: Vec<&str> = visible_levels
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(!levels.is_empty());
        assert!(
            levels.iter().all(|l| *l == "warn" || *l == "error"),
            "{levels:?}"
        );
        assert_eq!(levels.len(), 3, "cache cold, payment declined, slow query");

        // Expanding a row shows its metadata and, for an error, a link to its analysis.
        page.eval(
            "(() => { const li = [...document.querySelectorAll('#logs li')].find(li => \
             li.dataset.level === 'error'); li.querySelector('button').click(); return true; })()",
        )
        .await;
        page.wait_for(
            "!!document.querySelector('#logs li .details a')",
            Duration::from_secs(5),
        )
        .await;
        page.eval("document.querySelector('#logs li .details a').click(), true")
            .await;
        page.wait_for(
            "!document.getElementById('analysis').hidden && \
             document.getElementById('analysis-body').textContent.includes('card expired')",
            Duration::from_secs(20),
        )
        .await;

        let shot = page
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ttlog-viewer.png");
        std::fs::write(&path, png).unwrap();
        println!("screenshot: {}", path.display());
        eprintln!("screenshot: {}", path.display());
    });
}
