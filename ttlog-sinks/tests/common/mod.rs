//! Helpers shared by the sink tests.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use ttlog::{LogLevel, Overflow, Sink, TtlogHandle};

/// The facade's test helpers (temporary directories, child processes, a tmpfs).
#[path = "../../../tests/common/mod.rs"]
mod shared;

#[allow(unused_imports)] // each test binary uses a part
pub use shared::{Tmpfs, child_process, temp_dir};

/// A logger at info that blocks rather than drops, with `sinks` and no console.
pub fn logger(sinks: Vec<Box<dyn Sink>>) -> TtlogHandle {
    let mut builder = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .panic_hook(false)
        .signals(false);
    for sink in sinks {
        builder = builder.sink(sink);
    }
    builder
        .try_init()
        .expect("the only logger of this test process")
}

/// The names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The `seq` field of every JSON line in `text`.
pub fn seqs(text: &str) -> Vec<u64> {
    text.lines()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            event["fields"]["seq"].as_u64().unwrap()
        })
        .collect()
}

/// The rotated files of `{stem}.log` in `dir`, oldest first (by the time in their name, then
/// their number, compared as numbers), followed by the active file.
pub fn files_in_order(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let prefix = format!("{stem}.");
    let mut rotated: Vec<(String, u32, PathBuf)> = file_names(dir)
        .into_iter()
        .filter(|name| name.starts_with(&prefix) && name != &format!("{stem}.log"))
        .filter_map(|name| {
            let rest = name
                .strip_prefix(&prefix)?
                .strip_suffix(".gz")
                .unwrap_or(&name[prefix.len()..]);
            let rest = rest.strip_suffix(".log")?;
            let (stamp, seq) = match rest.split_once('.') {
                Some((stamp, seq)) => (stamp.to_owned(), seq.parse().ok()?),
                None => (rest.to_owned(), 0),
            };
            Some((stamp, seq, dir.join(&name)))
        })
        .collect();
    rotated.sort();
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, _, path)| path).collect();
    files.push(dir.join(format!("{stem}.log")));
    files
}
