//! `#[instrument]` on sync fns, methods, generic fns and async fns (on a multi-thread tokio
//! runtime, with tasks moving between threads), and its options.

mod common;

use std::collections::{HashMap, HashSet};

use common::SharedBuf;
use serde_json::{Value, json};
use ttlog::{Format, Instrument, LogLevel, info, instrument};

#[derive(Debug)]
struct Card {
    #[allow(dead_code)] // only ever shown through Debug, which must not happen
    number: &'static str,
}

#[derive(Debug, PartialEq)]
struct PaymentError(&'static str);

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "payment declined: {}", self.0)
    }
}

/// Simple arguments are recorded; `card` is not (no `Debug` of a whole struct).
#[instrument(err)]
fn charge(order_id: u64, amount: f64, currency: &str, card: &Card) -> Result<u32, PaymentError> {
    let _ = card;
    info!("charging");
    if amount > 100.0 {
        return Err(PaymentError("limit exceeded"));
    }
    Ok(7)
}

#[instrument(
    name = "lookup",
    level = "debug",
    target = "inventory",
    skip(token),
    ret
)]
fn find_stock(sku: String, token: &str, warehouse: u16) -> u64 {
    let _ = token;
    info!("scanning shelves");
    40 + u64::from(warehouse)
}

#[instrument(skip_all, fields(user = %user.name, roles = user.roles.len()), ret(Display))]
fn authorize(user: &User, password: &str) -> &'static str {
    let _ = password;
    "granted"
}

struct User {
    name: String,
    roles: Vec<&'static str>,
}

struct Cache {
    shard: u32,
}

impl Cache {
    #[instrument(fields(shard = self.shard))]
    fn get(&self, key: &str) -> Option<u64> {
        info!("cache probe");
        (key == "hot").then_some(1)
    }
}

#[instrument(level = "trace")]
fn largest<T: PartialOrd + Copy>(items: &[T], limit: usize) -> Option<T> {
    info!("comparing");
    items
        .iter()
        .take(limit)
        .copied()
        .fold(None, |best, x| match best {
            Some(b) if b >= x => Some(b),
            _ => Some(x),
        })
}

/// Wakes tasks from a thread outside the runtime, so that any worker may resume them.
fn waker_thread() -> std::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>> {
    let (tx, rx) = std::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>();
    std::thread::spawn(move || {
        for wake in rx {
            let _ = wake.send(());
        }
    });
    tx
}

#[instrument(skip(wakeups), err)]
async fn fetch_order(
    task: u64,
    steps: u32,
    wakeups: std::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
) -> Result<u64, PaymentError> {
    info!("fetch started", task);
    for step in 0..steps {
        tokio::task::yield_now().await;
        let (wake, woken) = tokio::sync::oneshot::channel();
        wakeups.send(wake).unwrap();
        woken.await.unwrap();
        info!("step done", step);
    }
    let total = load_total(task).await?;
    Ok(total)
}

async fn load_total(task: u64) -> Result<u64, PaymentError> {
    if task == 13 {
        Err(PaymentError("unlucky"))
    } else {
        Ok(task * 10)
    }
}

fn span_of(line: &Value) -> &Value {
    &line["span"]
}

#[test]
fn instrument_records_spans_options_and_async_context() {
    let out = SharedBuf::new();
    let handle = ttlog::init()
        .level(LogLevel::Trace)
        .format(Format::Json)
        .writer(out.clone())
        .overflow(ttlog::Overflow::Block)
        .try_init()
        .expect("first init");

    // Sync fn: arguments, the error, the close event.
    let card = Card {
        number: "4111 1111 1111 1111",
    };
    assert_eq!(charge(42, 99.5, "EUR", &card), Ok(7));
    assert_eq!(
        charge(43, 250.0, "EUR", &card),
        Err(PaymentError("limit exceeded"))
    );
    assert_eq!(find_stock("SKU-9".to_owned(), "secret-token", 2), 42);
    let admin = User {
        name: "ada".to_owned(),
        roles: vec!["admin", "ops"],
    };
    assert_eq!(authorize(&admin, "pw"), "granted");
    let cache = Cache { shard: 3 };
    assert_eq!(cache.get("hot"), Some(1));
    assert_eq!(largest(&[3, 9, 4], 2), Some(9));
    assert_eq!(largest(&[1.5, 0.5], 5), Some(1.5));
    handle.flush();
    let lines = out.json();
    out.clear();
    let text = serde_json::to_string(&lines).unwrap();
    // The whole number: "4111" alone also turns up in random trace ids and in timestamps.
    assert!(
        !text.contains("4111 1111 1111 1111") && !text.contains("number"),
        "the card must never be logged"
    );
    assert!(!text.contains("secret-token") && !text.contains("\"pw\""));

    let with = |message: &str| -> Vec<&Value> {
        lines.iter().filter(|l| l["message"] == message).collect()
    };
    let charging = with("charging");
    assert_eq!(charging.len(), 2);
    assert_eq!(
        span_of(charging[0]),
        &json!({"name": "charge", "order_id": 42, "amount": 99.5, "currency": "EUR"})
    );
    let started = with("charge started");
    assert_eq!(started.len(), 2);
    assert_eq!(started[0]["level"], "info");
    assert_eq!(started[0]["span_id"], charging[0]["span_id"]);
    let failed = with("charge failed");
    assert_eq!(failed.len(), 1, "only the Err is logged");
    assert_eq!(failed[0]["level"], "error");
    assert_eq!(
        failed[0]["fields"]["error"],
        "payment declined: limit exceeded"
    );
    assert_eq!(failed[0]["span"]["order_id"], 43);
    let closed = with("charge closed");
    assert_eq!(closed.len(), 2);
    assert!(
        closed
            .iter()
            .all(|c| c["fields"]["duration_ns"].as_u64().is_some())
    );

    let scanning = with("scanning shelves")[0];
    assert_eq!(
        span_of(scanning),
        &json!({"name": "lookup", "sku": "SKU-9", "warehouse": 2})
    );
    let returned = with("lookup returned")[0];
    assert_eq!(returned["level"], "debug");
    assert_eq!(returned["target"], "inventory");
    assert_eq!(returned["fields"]["return"], 42, "integers stay integers");

    let granted = with("authorize returned")[0];
    assert_eq!(
        span_of(granted),
        &json!({"name": "authorize", "user": "ada", "roles": 2})
    );
    assert_eq!(granted["fields"]["return"], "granted");

    let probe = with("cache probe")[0];
    assert_eq!(
        span_of(probe),
        &json!({"name": "get", "key": "hot", "shard": 3})
    );
    let comparing = with("comparing");
    assert_eq!(comparing.len(), 2);
    assert_eq!(comparing[0]["span"], json!({"name": "largest", "limit": 2}));
    assert_eq!(comparing[0]["level"], "info");
    assert_eq!(with("largest started")[0]["level"], "trace");

    // Async fn on a multi-thread runtime: every event keeps its task's span and context,
    // whichever worker polls it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .thread_name_fn(|| {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("worker-{n}")
        })
        .build()
        .unwrap();
    const TASKS: u64 = 32;
    const STEPS: u32 = 12;
    let wakeups = waker_thread();
    let results: Vec<Result<u64, PaymentError>> = runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                tokio::spawn(
                    fetch_order(task, STEPS, wakeups.clone())
                        .with_context("request_id", format!("req-{task}")),
                )
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    drop(runtime);
    for (task, result) in results.iter().enumerate() {
        let task = task as u64;
        if task == 13 {
            assert_eq!(result, &Err(PaymentError("unlucky")));
        } else {
            assert_eq!(result, &Ok(task * 10));
        }
    }
    handle.flush();
    let lines = out.json();
    let mut per_task: HashMap<u64, Vec<&Value>> = HashMap::new();
    for line in &lines {
        if line["span"]["name"] == "fetch_order" {
            let task = line["span"]["task"].as_u64().unwrap();
            per_task.entry(task).or_default().push(line);
        }
    }
    assert_eq!(per_task.len(), TASKS as usize);
    let mut moved = 0;
    for (task, events) in &per_task {
        // started + "fetch started" + STEPS steps + closed (+ failed for task 13).
        let expected = 3 + STEPS as usize + usize::from(*task == 13);
        assert_eq!(events.len(), expected, "task {task}: {events:?}");
        let span_ids: HashSet<&Value> = events.iter().map(|e| &e["span_id"]).collect();
        assert_eq!(span_ids.len(), 1, "task {task} has one span");
        for event in events {
            assert_eq!(event["span"]["steps"], STEPS);
            assert_eq!(
                event["context"]["request_id"],
                format!("req-{task}"),
                "task {task}: {event}"
            );
        }
        let threads: HashSet<&Value> = events.iter().map(|e| &e["thread"]).collect();
        if threads.len() > 1 {
            moved += 1;
        }
    }
    // Scheduling is tokio's choice: with wake-ups from outside the runtime tasks usually
    // move (2 to 32 of 32 in trials), but not surely; the hand-made move below always does.
    eprintln!("{moved} of {TASKS} tasks were polled on more than one thread");
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "fetch_order failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["fields"]["error"], "payment declined: unlucky");
    assert_eq!(failed[0]["context"]["request_id"], "req-13");
    out.clear();

    // The same, with the move made by hand so that it happens on every run: polled once on
    // this thread, then finished on another.
    let span = ttlog::info_span!("nightly_export", batch = 9_u32);
    let mut fut = Box::pin(
        async {
            info!("before the move");
            YieldOnce(false).await;
            info!("after the move");
        }
        .with_context("job", "export")
        .in_span(span),
    );
    assert!(poll_once(fut.as_mut()).is_pending());
    std::thread::Builder::new()
        .name("other".into())
        .spawn(move || assert!(poll_once(fut.as_mut()).is_ready()))
        .unwrap()
        .join()
        .unwrap();
    handle.flush();
    let lines = out.json();
    let before = lines
        .iter()
        .find(|l| l["message"] == "before the move")
        .unwrap();
    let after = lines
        .iter()
        .find(|l| l["message"] == "after the move")
        .unwrap();
    assert_ne!(before["thread"], after["thread"]);
    assert_eq!(after["thread"], "other");
    for event in [before, after] {
        assert_eq!(event["span"], json!({"name": "nightly_export", "batch": 9}));
        assert_eq!(event["context"], json!({"job": "export"}));
    }
    assert_eq!(before["span_id"], after["span_id"]);
    // The span closes when the future is dropped (on the other thread).
    let closed = lines
        .iter()
        .find(|l| l["message"] == "nightly_export closed")
        .unwrap();
    assert_eq!(closed["thread"], "other");
}

/// Pending once, then ready.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }
}

fn poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    let waker = std::task::Waker::noop();
    fut.poll(&mut std::task::Context::from_waker(waker))
}
