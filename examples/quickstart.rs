//! Quickstart: an order service whose workers handle a queue of checkout requests.
//!
//! Some requests fail (declined cards, a slow inventory service); every outcome is logged with
//! structured fields. Run it with different settings to see filtering and formats:
//!
//! ```text
//! cargo run --release --example quickstart
//! TTLOG=debug,quickstart::inventory=trace cargo run --release --example quickstart
//! TTLOG_FORMAT=json cargo run --release --example quickstart
//! ```
//!
//! At the end it writes a flight-recorder snapshot (trace and debug events included) into
//! `./ttlog-snapshots` (or `$TTLOG_SNAPSHOT_DIR`); read it with
//! `cargo run -p ttlog-export -- show <file>`.

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ttlog::{LogLevel, debug, error, info, trace, warn};

#[derive(Debug, Clone)]
struct Checkout {
    request_id: u64,
    user_id: u64,
    path: &'static str,
    items: u32,
    amount_cents: u64,
}

#[derive(Debug)]
enum CheckoutError {
    CardDeclined { code: &'static str },
    InventoryTimeout { after: Duration },
}

impl fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckoutError::CardDeclined { code } => write!(f, "card declined ({code})"),
            CheckoutError::InventoryTimeout { after } => {
                write!(f, "inventory service timed out after {after:?}")
            }
        }
    }
}

impl std::error::Error for CheckoutError {}

mod inventory {
    use super::*;

    /// Reserves stock; the inventory service is slow now and then.
    pub(crate) fn reserve(order: &Checkout) -> Result<(), CheckoutError> {
        for sku in 0..order.items {
            trace!("reserving", request_id = order.request_id, sku);
        }
        let latency = Duration::from_millis(5 + order.request_id * 7 % 20);
        thread::sleep(latency);
        if order.request_id.is_multiple_of(11) {
            return Err(CheckoutError::InventoryTimeout { after: latency });
        }
        debug!(
            "stock reserved",
            request_id = order.request_id,
            items = order.items
        );
        Ok(())
    }
}

mod payments {
    use super::*;

    /// Charges the card; some cards are declined.
    pub(crate) fn charge(order: &Checkout) -> Result<u64, CheckoutError> {
        thread::sleep(Duration::from_millis(3));
        if order.request_id.is_multiple_of(7) {
            return Err(CheckoutError::CardDeclined {
                code: "insufficient_funds",
            });
        }
        let receipt = 90_000 + order.request_id;
        debug!("charged {} cents, receipt {receipt:#x}", order.amount_cents);
        Ok(receipt)
    }
}

fn process(order: &Checkout) -> Result<u64, CheckoutError> {
    let started = Instant::now();
    inventory::reserve(order)?;
    let receipt = payments::charge(order)?;
    // Milliseconds with two decimals.
    let latency_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    info!(
        "checkout completed",
        request_id = order.request_id,
        user_id = order.user_id,
        path = order.path,
        latency_ms,
    );
    if latency_ms > 20.0 {
        warn!(request_id = order.request_id, latency_ms, "slow checkout");
    }
    Ok(receipt)
}

fn main() {
    // The console prints info; the flight recorder keeps the last 10,000 events at every
    // level, for the snapshot at the end (and for any panic).
    let logger = ttlog::init()
        .capacity(10_000)
        .level(LogLevel::Info)
        .recorder_level(LogLevel::Trace)
        .service_name("orders")
        .init();

    info!(
        "order service starting",
        workers = 4,
        version = env!("CARGO_PKG_VERSION")
    );
    let (tx, rx) = mpsc::channel::<Checkout>();
    let rx = Arc::new(Mutex::new(rx));
    let workers: Vec<_> = (1..=4)
        .map(|n| {
            let rx = Arc::clone(&rx);
            thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || {
                    let mut done = 0u32;
                    loop {
                        let next = rx.lock().expect("queue").recv();
                        let Ok(order) = next else { break };
                        match process(&order) {
                            Ok(receipt) => {
                                done += 1;
                                debug!("receipt issued", receipt);
                            }
                            Err(err @ CheckoutError::CardDeclined { .. }) => warn!(
                                "payment refused",
                                request_id = order.request_id,
                                user_id = order.user_id,
                                error = %err,
                            ),
                            Err(err) => error!(
                                "checkout failed",
                                request_id = order.request_id,
                                error = %err,
                                order = ?order,
                            ),
                        }
                    }
                    info!("worker stopping", handled = done);
                })
                .expect("spawn worker")
        })
        .collect();

    for request_id in 1..=40u64 {
        let order = Checkout {
            request_id,
            user_id: 1000 + request_id % 9,
            path: if request_id.is_multiple_of(3) {
                "/api/v1/cart/express"
            } else {
                "/api/v1/cart/checkout"
            },
            items: 1 + (request_id % 4) as u32,
            amount_cents: 1999 * (1 + request_id % 5),
        };
        tx.send(order).expect("workers are running");
    }
    drop(tx);
    for worker in workers {
        worker.join().expect("worker finished");
    }

    logger.flush();
    let stats = logger.stats();
    info!(
        "order service stopped",
        logged = stats.logged,
        delivered = stats.delivered,
        dropped = stats.dropped,
    );

    // Freeze the recorder: every event above, debug ones included, in one file.
    match logger.snapshot("quickstart") {
        Ok(path) => info!(
            "flight recorder snapshot written; read it with `ttlog show {}`",
            path.display(),
            events = logger.recorder_len(),
        ),
        Err(err) => warn!("no snapshot", error = %err),
    }
}
