//! Quickstart: an order service whose workers handle a queue of checkout requests.
//!
//! Some requests fail (declined cards, a slow inventory service); every outcome is logged with
//! structured fields. Each request runs in a `checkout` span (`#[instrument]`) with its
//! request id in the context, and continues the trace of the caller's `traceparent`; the
//! inventory and payment steps are child spans. Run it with different settings to see
//! filtering and formats (`json` shows the span keys, ids and context):
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

use ttlog::{Fields, LogLevel, TraceParent, debug, error, info, instrument, trace, warn};

/// A checkout request; `#[derive(Fields)]` lets `info!(order, ..)` log its fields.
#[derive(Debug, Clone, Fields)]
struct Checkout {
    request_id: u64,
    user_id: u64,
    path: &'static str,
    items: u32,
    amount_cents: u64,
    /// The caller's trace, as received in the `traceparent` header.
    #[ttlog(skip)]
    traceparent: String,
    /// Never logged as it is.
    #[ttlog(redact)]
    card_number: &'static str,
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
    #[instrument(level = "debug", skip(order), fields(items = order.items), err)]
    pub(crate) fn reserve(order: &Checkout) -> Result<(), CheckoutError> {
        for sku in 0..order.items {
            trace!("reserving", sku);
        }
        let latency = Duration::from_millis(5 + order.request_id * 7 % 20);
        thread::sleep(latency);
        if order.request_id.is_multiple_of(11) {
            return Err(CheckoutError::InventoryTimeout { after: latency });
        }
        debug!("stock reserved");
        Ok(())
    }
}

mod payments {
    use super::*;

    /// Charges the card; some cards are declined.
    #[instrument(level = "debug", skip_all, fields(amount_cents = order.amount_cents), ret)]
    pub(crate) fn charge(order: &Checkout) -> Result<u64, CheckoutError> {
        thread::sleep(Duration::from_millis(3));
        // Test cards starting with 4000 are always declined.
        if order.request_id.is_multiple_of(7) || order.card_number.starts_with("4000") {
            return Err(CheckoutError::CardDeclined {
                code: "insufficient_funds",
            });
        }
        let receipt = 90_000 + order.request_id;
        debug!("charged {} cents, receipt {receipt:#x}", order.amount_cents);
        Ok(receipt)
    }
}

/// One request: a `checkout` span (continuing the caller's trace) with the request id in the
/// context of every event inside.
fn handle(order: &Checkout) -> Result<u64, CheckoutError> {
    let span = ttlog::info_span!("checkout", user_id = order.user_id, path = order.path);
    let span = match order.traceparent.parse::<TraceParent>() {
        Ok(parent) => span.continue_from(&parent),
        Err(err) => {
            warn!("ignoring the caller's traceparent", error = %err);
            span
        }
    };
    span.in_scope(|| ttlog::with_context("request_id", order.request_id, || process(order)))
}

fn process(order: &Checkout) -> Result<u64, CheckoutError> {
    let started = Instant::now();
    info!(order, "checkout received");
    inventory::reserve(order)?;
    let receipt = payments::charge(order)?;
    // Milliseconds with two decimals.
    let latency_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    info!("checkout completed", latency_ms);
    if latency_ms > 20.0 {
        warn!(latency_ms, "slow checkout");
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
                        match handle(&order) {
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
                                error = %err,
                                order,
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
            // The upstream gateway's trace; one caller sends a malformed header.
            traceparent: if request_id == 13 {
                "00-not-a-trace".to_owned()
            } else {
                let trace_id = 0x4bf9_2f35_77b3_4da6_a3ce_0000_0000_0000_u128 + request_id as u128;
                format!("00-{trace_id:032x}-00f067aa0ba902b7-01")
            },
            card_number: "4111 1111 1111 1111",
        };
        tx.send(order).expect("workers are running");
    }
    drop(tx);
    {
        let _timer = ttlog::timer!("queue drained");
        for worker in workers {
            worker.join().expect("worker finished");
        }
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
