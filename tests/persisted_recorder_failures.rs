//! The persisted recorder (`.persist(path)`) when things go wrong (issue 10), each in child
//! processes: a second live process on the same file, a path that cannot be created, a disk
//! too full for the file, and drops at the end of a burst right before a crash.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ttlog::{LogLevel, Overflow, Snapshot, info};

const CHILD: &str = "TTLOG_PERSIST_CHILD";
const FILE: &str = "TTLOG_PERSIST_FILE";

fn command(mode: &str, file: &Path) -> Command {
    let mut cmd = common::child_process(CHILD, mode);
    cmd.env(FILE, file)
        .env("TTLOG_SNAPSHOT_DIR", file.parent().unwrap());
    cmd
}

fn run(mode: &str, file: &Path) -> Output {
    command(mode, file).output().unwrap()
}

/// The lenient child logged to its console and printed exactly one warning, naming `file`.
fn assert_logged_with_one_warning(out: &Output, file: &Path) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("still logging order_id=42"), "{stdout}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ttlog:")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains(&file.display().to_string()),
        "{stderr}"
    );
}

/// The child processes' entry point; run by the tests below.
#[test]
#[ignore = "entry point of the child processes the other tests start"]
fn child() {
    let mode = std::env::var(CHILD).expect("run by the other tests, in a child process");
    let file = PathBuf::from(std::env::var(FILE).unwrap());
    let builder = || {
        ttlog::init()
            .with_env(false)
            .level(LogLevel::Info)
            .format(ttlog::Format::Compact)
            .writer(std::io::stdout())
            .persist(&file)
    };
    match mode.as_str() {
        // Holds the file until killed.
        "holder" => {
            let _handle = builder()
                .try_init()
                .expect("the first process gets the file");
            info!("holding the recorder file");
            println!("READY");
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // try_init names the file and the reason.
        "strict" => match builder().try_init() {
            Ok(_) => println!("ERROR: a second process got the file"),
            Err(err) => println!("REFUSED: {err}"),
        },
        // init() keeps logging, with the recorder in memory.
        "lenient" => {
            let handle = builder().init();
            info!("still logging", order_id = 42_u64);
            handle.flush();
        }
        // A burst in Drop mode, then a crash with no flush.
        "burst-then-abort" => {
            let handle = builder()
                .overflow(Overflow::Drop)
                .thread_buffer_size(4096)
                .thread_buffer_max(4096)
                .console(false)
                .try_init()
                .unwrap();
            for seq in 0..20_000_u64 {
                info!("burst", seq);
            }
            // Give the consumer time to go idle, then die without any flush.
            std::thread::sleep(Duration::from_millis(300));
            println!("\nDROPPED {}", handle.stats().dropped);
            std::process::abort();
        }
        other => panic!("unknown mode {other}"),
    }
}

/// Kills the child when dropped, also when an assertion fails first.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_ready(holder: &mut Child) {
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("READY") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "holder died");
    }
}

#[test]
fn a_second_live_process_gets_an_error_naming_the_file() {
    let dir = common::temp_dir("second");
    let file = dir.join("orders.ttrec");
    let mut holder = KillOnDrop(
        command("holder", &file)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_ready(&mut holder.0);

    let strict = run("strict", &file);
    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert!(
        stdout.contains(&format!(
            "REFUSED: could not create the recorder file {}",
            file.display()
        )) && stdout.contains("in use by another live process"),
        "{stdout}"
    );

    // init(): logging goes on (console included), one warning names the file, and the
    // holder's events are not "recovered" as a previous run.
    let lenient = run("lenient", &file);
    assert_logged_with_one_warning(&lenient, &file);
    let stderr = String::from_utf8_lossy(&lenient.stderr);
    assert!(!stderr.contains("recovered"), "{stderr}");

    drop(holder);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unusable_path_keeps_console_logging_with_one_warning() {
    let dir = common::temp_dir("unusable");
    let file = dir.join("no-such-dir").join("orders.ttrec");
    let strict = run("strict", &file);
    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert!(
        stdout.contains("REFUSED") && stdout.contains(&file.display().to_string()),
        "{stdout}"
    );

    let lenient = run("lenient", &file);
    assert_logged_with_one_warning(&lenient, &file);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_disk_is_an_error_at_init_not_a_sigbus_later() {
    // A 64 KiB file system: too small for the recorder file (about 1.1 MiB).
    let dir = common::temp_dir("full");
    let tmpfs = common::Tmpfs::mount(&dir, "64k");
    let file = dir.join("orders.ttrec");
    let strict = run("strict", &file);
    let lenient = run("lenient", &file);
    drop(tmpfs);

    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert!(
        stdout.contains("REFUSED") && stdout.contains("no space left"),
        "{stdout}"
    );
    assert!(
        lenient.status.success(),
        "{}",
        String::from_utf8_lossy(&lenient.stderr)
    );
    assert_logged_with_one_warning(&lenient, &file);
}

#[test]
fn drops_at_the_end_of_a_burst_are_marked_before_a_crash() {
    let dir = common::temp_dir("burst");
    let file = dir.join("orders.ttrec");
    let out = run("burst-then-abort", &file);
    assert!(!out.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dropped: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("DROPPED "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        dropped > 0,
        "a 4 KiB ring in Drop mode drops part of a 20,000-event burst"
    );

    let recovered = dir.join("recovered.ttsnap");
    let events = ttlog::recover(&file, &recovered).unwrap();
    let snapshot = Snapshot::read_file(&recovered).unwrap();
    let (mut marked, mut kept) = (0, 0);
    snapshot.for_each_event(|event| match event.field("dropped") {
        Some(ttlog::ValueRef::U64(n)) if event.target() == "ttlog" => marked += n,
        _ => kept += 1,
    });
    assert_eq!(
        marked, dropped,
        "every drop is marked in the recovered file"
    );
    assert_eq!(kept + dropped, 20_000, "recovered {events} records");
    let _ = std::fs::remove_dir_all(&dir);
}
