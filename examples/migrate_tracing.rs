//! Step 1 of moving a `tracing` program to ttlog: keep every `tracing` call, install ttlog as
//! its backend. An HTTP API handles a burst of requests; each request is a `tracing` span
//! (`#[tracing::instrument]`), the database call a child span, failures are `error!` events
//! with the error's source chain. Output, filtering (`TTLOG`/`RUST_LOG`), the flight recorder
//! and snapshots are ttlog's; the code is still `tracing`'s.
//!
//! ```text
//! cargo run --release --example migrate_tracing
//! TTLOG_FORMAT=json cargo run --release --example migrate_tracing
//! ```
//!
//! The last handler is already ported to ttlog's macros (step 2): both kinds of call site
//! share spans, trace ids and output.

use std::fmt;
use std::time::Duration;

use tracing::{Level, debug, error, info, info_span, instrument, warn};
use ttlog::LogLevel;

#[derive(Debug)]
struct DbError {
    query: &'static str,
    cause: std::io::Error,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query `{}` failed", self.query)
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

#[instrument(level = "debug", skip(user_id), fields(table = "orders"))]
fn load_orders(user_id: u64) -> Result<u32, DbError> {
    debug!(user_id, "querying orders");
    if user_id.is_multiple_of(5) {
        return Err(DbError {
            query: "SELECT * FROM orders WHERE user_id = $1",
            cause: std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out"),
        });
    }
    Ok((user_id % 7) as u32)
}

#[instrument(fields(status = tracing::field::Empty))]
fn handle_request(request_id: u64, path: &str, user_id: u64) {
    let span = tracing::Span::current();
    match load_orders(user_id) {
        Ok(count) => {
            span.record("status", 200_u16);
            info!(orders = count, latency_ms = 3.25, "request handled");
        }
        Err(err) => {
            span.record("status", 503_u16);
            error!(error = &err as &dyn std::error::Error, "request failed");
        }
    }
}

/// Already ported to ttlog's macros: same spans, same output.
#[ttlog::instrument]
fn handle_health_check(request_id: u64) {
    ttlog::info!("health check", healthy = true);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handle = ttlog_integrations::tracing_compat::enable_tracing_compatibility_with(
        ttlog::init()
            .level(LogLevel::Info)
            .recorder_level(LogLevel::Trace)
            .service_name("orders-api"),
    )?;

    let server = info_span!("server", port = 8080_u16);
    let _entered = server.enter();
    info!("listening");
    for request_id in 1..=8_u64 {
        handle_request(request_id, "/api/v1/orders", 40 + request_id);
    }
    handle_health_check(9);
    tracing::event!(Level::WARN, slow_requests = 1_u32, "latency above target");
    warn!(target: "orders_api::shutdown", drain_for = ?Duration::from_millis(250), "draining");
    drop(_entered);
    drop(server);

    // The flight recorder kept the debug events the console did not print.
    let path = handle.snapshot("end of the migration example")?;
    handle.flush();
    let stats = handle.stats();
    eprintln!(
        "{} events logged, {} dropped; snapshot with the debug events: {}",
        stats.logged,
        stats.dropped,
        path.display()
    );
    Ok(())
}
