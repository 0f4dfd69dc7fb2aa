//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A `Write` whose bytes the test can read back.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn new() -> SharedBuf {
        SharedBuf::default()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("output is UTF-8")
    }

    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    /// Every line parsed as JSON.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The JSON lines whose target is `target`.
    pub fn json_of_target(&self, target: &str) -> Vec<serde_json::Value> {
        self.json()
            .into_iter()
            .filter(|line| line["target"] == target)
            .collect()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The keys of a JSON line, in order (the contract fixes the order).
pub fn keys(line: &serde_json::Value) -> Vec<&str> {
    line.as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// The keys every JSON line has, in the contract's order.
pub const CONTRACT_KEYS: [&str; 8] = [
    "timestamp",
    "level",
    "target",
    "message",
    "fields",
    "thread",
    "file",
    "line",
];

/// A command that runs this test binary's `child` test (an `#[ignore]`d entry point) in a
/// child process, with `mode` in the environment variable `var` and the logging variables of
/// the parent's environment removed.
pub fn child_process(var: &str, mode: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(var, mode)
    .env_remove("TTLOG")
    .env_remove("RUST_LOG")
    .env_remove("TTLOG_FORMAT");
    cmd
}

/// A child's stdout, after checking it exited successfully (else its output is shown).
pub fn succeed(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The value of `key` in a child's `RESULT key=value key2=value2` line.
pub fn result_value(stdout: &str, key: &str) -> u64 {
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no RESULT line in {stdout}"));
    line.split(' ')
        .find_map(|kv| kv.trim().strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no `{key}` in {line}"))
        .parse()
        .unwrap_or_else(|_| panic!("`{key}` is not a number in {line}"))
}

/// A loopback port with nothing listening on it (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh, empty directory for this test process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ttlog-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A JSON logger at `level` writing into a buffer, ignoring the environment, with no panic
/// hook or signal handlers (the test harness has its own): what most JSON tests start with.
pub fn json_logger(level: ttlog::LogLevel) -> (ttlog::TtlogHandle, SharedBuf) {
    let out = SharedBuf::new();
    let handle = ttlog::init()
        .with_env(false)
        .level(level)
        .format(ttlog::Format::Json)
        .writer(out.clone())
        .panic_hook(false)
        .signals(false)
        .try_init()
        .expect("the only logger of this test process");
    (handle, out)
}

/// A tiny tmpfs mounted on `dir` (to fill a disk), unmounted and removed on drop. Needs root
/// (CI runs as root); fails the test with a message saying so otherwise.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            mounted,
            "this test mounts a tiny tmpfs and needs root (CI runs as root)"
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
