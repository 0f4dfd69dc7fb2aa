//! Step 1 of moving a `log` program to ttlog: a job runner written against the `log` facade,
//! with ttlog installed as its logger. Records keep their targets, files and lines; key-values
//! (`log`'s `kv` feature) become typed fields; `log::max_level()` follows ttlog's filter, so
//! raising the level at run time (as an admin endpoint would) takes effect for `log` calls too.
//!
//! ```text
//! cargo run --release --example migrate_log
//! TTLOG=debug TTLOG_FORMAT=json cargo run --release --example migrate_log
//! ```

use std::time::Duration;

use log::{debug, error, info, warn};
use ttlog::LevelFilter;

mod jobs {
    use log::{debug, info, warn};

    pub(crate) struct Job {
        pub(crate) id: u64,
        pub(crate) kind: &'static str,
        pub(crate) attempts: u32,
    }

    /// Runs one job; the `jobs` target lets an operator turn its debug output on alone.
    pub(crate) fn run(job: &Job) -> Result<u64, String> {
        debug!(target: "jobs::runner", job_id = job.id; "starting {}", job.kind);
        if job.kind == "resize-image" && job.attempts < 2 {
            warn!(job_id = job.id, attempt = job.attempts; "image service busy, will retry");
            return Err("image service busy".to_owned());
        }
        let items = job.id * 3;
        info!(job_id = job.id, kind = job.kind, items, elapsed_ms = 12.5; "job done");
        Ok(items)
    }
}

fn main() {
    let handle = ttlog_integrations::log_compat::init_with_log_compatibility();
    info!(workers = 2, queue = "default"; "job runner started");
    info!(
        "log::max_level() is {} (follows ttlog's filter)",
        log::max_level()
    );

    let queue = [
        jobs::Job {
            id: 1,
            kind: "send-email",
            attempts: 0,
        },
        jobs::Job {
            id: 2,
            kind: "resize-image",
            attempts: 0,
        },
        jobs::Job {
            id: 3,
            kind: "resize-image",
            attempts: 2,
        },
    ];
    for job in &queue {
        if let Err(reason) = jobs::run(job) {
            error!(job_id = job.id, reason:% = reason; "job failed");
        }
    }

    // An operator asks for the runner's debug output: one call, no restart.
    handle.set_level(LevelFilter::Debug);
    debug!("log::max_level() is now {}", log::max_level());
    jobs::run(&jobs::Job {
        id: 4,
        kind: "send-email",
        attempts: 0,
    })
    .ok();
    warn!(backlog = 0, idle_for:? = Duration::from_secs(30); "queue drained");
    log::logger().flush();
}
