//! Helpers of the store tests: the PostgreSQL under test, and a fresh SQLite file.
#![allow(dead_code, unreachable_pub)]

use std::sync::Mutex;

/// The facade's test helpers (temporary directories, child processes).
#[path = "../../../tests/common/mod.rs"]
mod shared;

#[allow(unused_imports)]
pub use shared::{child_process, temp_dir};

/// The PostgreSQL tests share one database: they take this lock, then empty it.
pub static POSTGRES: Mutex<()> = Mutex::new(());

/// `TTLOG_TEST_POSTGRES_URL`, or `None` to skip, except under `CI=true`, where a missing
/// variable fails the test (CI must run them).
pub fn postgres_url() -> Option<String> {
    match std::env::var("TTLOG_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but TTLOG_TEST_POSTGRES_URL is not set: .ci/run starts PostgreSQL and sets it"
            )
        }
        _ => {
            eprintln!("skipped: set TTLOG_TEST_POSTGRES_URL to run the PostgreSQL tests");
            None
        }
    }
}

/// Drops ttlog's tables from the test database, so a test starts from nothing.
pub fn reset_postgres(url: &str) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("the test database");
    client
        .batch_execute("DROP TABLE IF EXISTS logs; DROP TABLE IF EXISTS ttlog_migrations;")
        .expect("reset");
}

/// A URL of a new SQLite file in a fresh directory.
pub fn sqlite_url(name: &str) -> String {
    let dir = temp_dir(name);
    format!("sqlite:{}", dir.join("nested").join("logs.db").display())
}
