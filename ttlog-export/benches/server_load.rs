//! Load on `ttlog serve`: 20 SSE clients while events are posted at a steady rate, by
//! default 50,000 events/s for 20 s, into a SQLite store. Half the clients follow everything,
//! half follow one job run (half of the events). It checks that every client got every event
//! of its filter, in order, with no `missed` notice, and prints the delay from posting to
//! receipt (p50, p99, max), the events sent, and the server's peak resident memory.
//!
//! ```text
//! cargo bench -p ttlog-export --bench server_load
//! TTLOG_LOAD_RATE=20000 TTLOG_LOAD_SECS=5 TTLOG_LOAD_CLIENTS=4 cargo bench -p ttlog-export --bench server_load
//! ```
//!
//! The delay is measured with the machine's wall clock on both ends (one machine), from the
//! moment the batch holding the event is posted. Everything (server, 20 clients, the
//! poster) shares this machine's cores.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const JOB_A: &str = "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd";
const JOB_B: &str = "0b7f3c2e-1d4a-4e5b-8c6d-7e8f90a1b2c3";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    events: u64,
    missed: u64,
    out_of_order: u64,
    delays_us: Vec<u32>,
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `GET /api/v1/logs/stream/status`.
fn stream_status(base: &str) -> serde_json::Value {
    let body = ureq::get(format!("{base}/api/v1/logs/stream/status"))
        .call()
        .expect("the status")
        .body_mut()
        .read_to_string()
        .expect("a body");
    serde_json::from_str(&body).expect("JSON")
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it briefly.
    let quick = std::env::args().all(|a| a != "--bench");
    let rate = env_or("TTLOG_LOAD_RATE", if quick { 2_000 } else { 50_000 });
    let secs = env_or("TTLOG_LOAD_SECS", if quick { 1 } else { 20 });
    let clients = env_or("TTLOG_LOAD_CLIENTS", 20) as usize;
    let dir = std::env::temp_dir().join(format!("ttlog-server-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = format!("sqlite:{}", dir.join("logs.db").display());

    let mut server = Command::new(env!("CARGO_BIN_EXE_ttlog"))
        .args(["serve", "--store", &store, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ttlog serve starts");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let pid = server.id();
    let rss_start = rss_kb(pid);

    // The clients: each reads until the server stops.
    let mut readers = Vec::new();
    for i in 0..clients {
        let filtered = i % 2 == 1;
        let url = if filtered {
            format!("{base}/api/v1/logs/stream/sse?job_run_id={JOB_A}")
        } else {
            format!("{base}/api/v1/logs/stream/sse")
        };
        readers.push(std::thread::spawn(move || {
            let response = ureq::get(&url).call().expect("a stream");
            let mut reader = BufReader::with_capacity(1 << 16, response.into_body().into_reader());
            let mut seen = Seen::default();
            let mut last_seq: Option<u64> = None;
            let mut is_missed = false;
            // One buffer for every line: the clients share the machine with the server.
            let mut line = String::with_capacity(512);
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = line.trim_end_matches('\n');
                if line.starts_with("event: missed") {
                    is_missed = true;
                } else if let Some(data) = line.strip_prefix("data: ") {
                    if is_missed {
                        seen.missed += 1;
                        is_missed = false;
                        continue;
                    }
                    let received = now_ns();
                    let number = |key: &str| -> u64 {
                        let at = data.find(key).expect("the field") + key.len();
                        data[at..]
                            .bytes()
                            .take_while(u8::is_ascii_digit)
                            .fold(0, |n, b| n * 10 + u64::from(b - b'0'))
                    };
                    let sent = number("\"sent_ns\":");
                    let seq = number("\"seq\":");
                    if last_seq.is_some_and(|l| seq <= l) {
                        seen.out_of_order += 1;
                    }
                    last_seq = Some(seq);
                    seen.events += 1;
                    let delay = received.saturating_sub(sent) / 1000;
                    seen.delays_us.push(delay.min(u64::from(u32::MAX)) as u32);
                }
            }
            seen
        }));
    }
    // Every client subscribed before the first event.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = stream_status(&base);
        if status["connections"]["sse"] == clients as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "clients did not connect: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // RSS, sampled every 200 ms.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(Ordering::Relaxed) {
                peak = peak.max(rss_kb(pid));
                std::thread::sleep(Duration::from_millis(200));
            }
            peak
        })
    };

    // The poster: a batch every 10 ms.
    let per_batch = (rate / 100).max(1);
    let batches = secs * 100;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let start = Instant::now();
    let mut seq = 0u64;
    let mut posted_a = 0u64;
    let mut late_batches = 0u64;
    let mut body = Vec::with_capacity(per_batch as usize * 256);
    for b in 0..batches {
        let due = start + Duration::from_millis(b * 10);
        let now = Instant::now();
        if now < due {
            std::thread::sleep(due - now);
        } else if now > due + Duration::from_millis(10) {
            late_batches += 1;
        }
        body.clear();
        let sent = now_ns();
        for _ in 0..per_batch {
            seq += 1;
            let job = if seq.is_multiple_of(2) { JOB_A } else { JOB_B };
            posted_a += u64::from(seq.is_multiple_of(2));
            writeln!(
                body,
                r#"{{"level":"info","target":"load","message":"request handled","fields":{{"seq":{seq},"sent_ns":{sent},"path":"/api/v1/items"}},"context":{{"job_run_id":"{job}"}}}}"#
            )
            .unwrap();
        }
        agent
            .post(format!("{base}/api/v1/logs"))
            .send(&body[..])
            .expect("the post is stored");
    }
    let posting = start.elapsed();
    let posted = seq;

    // Wait until every client has everything (or 60 s), then stop the server.
    let deadline = Instant::now() + Duration::from_secs(60);
    let expected_sent = posted * clients.div_ceil(2) as u64 + posted_a * (clients / 2) as u64;
    loop {
        let status = stream_status(&base);
        let sent = status["events_sent"].as_u64().unwrap_or(0);
        let missed = status["events_missed"].as_u64().unwrap_or(0);
        if sent + missed >= expected_sent || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    sampling.store(false, Ordering::Relaxed);
    let rss_peak = sampler.join().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();

    let mut all_delays = Vec::new();
    let mut failures = Vec::new();
    for (i, reader) in readers.into_iter().enumerate() {
        let seen = reader.join().unwrap();
        let expected = if i % 2 == 1 { posted_a } else { posted };
        if seen.events != expected || seen.missed > 0 || seen.out_of_order > 0 {
            failures.push(format!(
                "client {i}: {} of {expected} events, {} missed notices, {} out of order",
                seen.events, seen.missed, seen.out_of_order
            ));
        }
        all_delays.extend(seen.delays_us);
    }
    all_delays.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all_delays.is_empty() {
            return f64::NAN;
        }
        let i = ((all_delays.len() as f64 - 1.0) * p).round() as usize;
        f64::from(all_delays[i]) / 1000.0
    };
    println!("ttlog serve under load (SQLite store, loopback, one machine)");
    println!(
        "  posted: {posted} events in {:.1} s ({:.0} events/s; {late_batches} of {batches} batches posted late)",
        posting.as_secs_f64(),
        posted as f64 / posting.as_secs_f64()
    );
    println!(
        "  clients: {clients} SSE ({} all events, {} one job run); events delivered: {}",
        clients.div_ceil(2),
        clients / 2,
        all_delays.len()
    );
    println!(
        "  delay post -> client: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "  server RSS: {} MiB at start, {} MiB peak",
        rss_start / 1024,
        rss_peak / 1024
    );
    let _ = std::fs::remove_dir_all(&dir);
    if failures.is_empty() {
        println!("  every client got every event of its filter, in order");
    } else {
        for f in &failures {
            println!("  FAILED {f}");
        }
        std::process::exit(1);
    }
}
