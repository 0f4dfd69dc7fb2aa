//! Step 1 of moving a `slog` program to ttlog: an API server built on `slog::Logger`s (a root
//! logger with the service's values, a child logger per request), with `TtlogDrain` as the
//! drain. The loggers' values (`o!`) and each record's key-values become typed fields; no
//! `slog-async` is needed, since the drain does no I/O on the caller's thread.
//!
//! ```text
//! cargo run --release --example migrate_slog
//! TTLOG_FORMAT=json cargo run --release --example migrate_slog
//! ```

use slog::{Drain, Logger, debug, error, info, o, warn};
use ttlog_integrations::slog_compat::TtlogDrain;

fn handle(log: &Logger, request_id: u64, path: &str) -> u16 {
    let log = log.new(o!("request_id" => request_id, "path" => path.to_owned()));
    debug!(log, "routing");
    match path {
        "/api/v1/items" => {
            info!(log, "request handled"; "status" => 200_u16, "latency_ms" => 3.25, "items" => 12_u32);
            200
        }
        "/api/v1/admin" => {
            warn!(log, "forbidden"; "status" => 403_u16, "reason" => "missing role");
            403
        }
        _ => {
            error!(log, "no route for {}", path; "status" => 404_u16);
            404
        }
    }
}

fn main() {
    let handle_ttlog = ttlog::init().init();
    let root = Logger::root(
        TtlogDrain::new().fuse(),
        o!("service" => "items-api", "version" => env!("CARGO_PKG_VERSION")),
    );
    info!(root, "listening"; "port" => 8080_u16);
    let statuses: Vec<u16> = ["/api/v1/items", "/api/v1/admin", "/api/v2/items"]
        .iter()
        .zip(1_u64..)
        .map(|(path, id)| handle(&root, id, path))
        .collect();
    info!(root, "shutting down"; "served" => statuses.len(), "errors" => statuses.iter().filter(|s| **s >= 400).count());
    handle_ttlog.flush();
}
