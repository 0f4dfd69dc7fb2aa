//! After `fork`, the child (which has only the forking thread) gets a consistent, idle logger:
//! its events are counted as dropped, never waited for (Block mode too), `flush` and dropping
//! the handle return at once, SIGTERM still ends it, its trace ids differ from the parent's,
//! and it may `init` a logger of its own (issue 10: events vanished uncounted, `drop(handle)`
//! waited 10 s, in Block mode the child hung and ignored SIGTERM, and trace ids repeated the
//! parent's).

#![cfg(unix)]

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ttlog::{CaptureSink, LogLevel, Overflow, Span, info};

/// Forks; the child runs `child` and exits with its code (never returning into the test
/// harness). Returns the child's pid.
fn fork(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only runs `child`, then exits without returning.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(99);
        std::process::exit(code);
    }
    pid
}

/// Waits for `pid`; its raw wait status.
fn wait(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    // SAFETY: waiting for our own child, `status` lives for the call.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    status
}

fn pipe() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the descriptors were just created and are owned here.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    }
}

#[test]
fn fork_child_gets_an_idle_logger() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        .thread_buffer_size(4096)
        .sink(capture.clone())
        .try_init()
        .unwrap();
    for seq in 0..100_u64 {
        info!("before the fork", seq);
    }
    // The child's copy of the handle, to drop there (the parent keeps and drops its own).
    let handle_in_child = || {
        // SAFETY: only called in a child process, which never returns into this function, so
        // the parent's `handle` (this memory, copied) is never used or dropped there again.
        unsafe { std::ptr::read(&handle) }
    };

    // 1. The child logs 2,000 events in Block mode: no hang, every one counted as dropped;
    //    flush and drop return at once; its trace id is its own.
    let (mut read, mut write) = pipe();
    let start = Instant::now();
    let pid = fork(|| {
        let before = handle.stats().dropped;
        for seq in 0..2_000_u64 {
            info!("in the child", seq);
        }
        let dropped = handle.stats().dropped - before;
        let flushed = handle.try_flush(Duration::from_secs(10)).is_err();
        let trace = ttlog::info_span!("child_request").trace_id().unwrap();
        let t = Instant::now();
        drop(handle_in_child());
        let dropped_fast = t.elapsed() < Duration::from_secs(1);
        let _ = writeln!(write, "{dropped} {flushed} {dropped_fast} {trace}");
        0
    });
    drop(write);
    assert_eq!(wait(pid), 0, "the child exits normally");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let mut report = String::new();
    read.read_to_string(&mut report).unwrap();
    let parts: Vec<&str> = report.split_whitespace().collect();
    assert_eq!(parts[..3], ["2000", "true", "true"], "{report}");
    let parent_trace = ttlog::info_span!("parent_request").trace_id().unwrap();
    assert_ne!(
        parts[3],
        parent_trace.to_string(),
        "fresh trace ids in the child"
    );

    // 2. SIGTERM still ends a child that waits (ttlog's handler would write into the parent's
    //    signal pipe, which the child does not read).
    let pid = fork(|| {
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = wait(pid);
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM);

    // 3. The child may start a logger of its own, which delivers its events (and none of the
    //    parent's).
    let (mut read, mut write) = pipe();
    let pid = fork(|| {
        drop(handle_in_child());
        let capture = CaptureSink::new();
        let own = ttlog::init()
            .with_env(false)
            .console(false)
            .level(LogLevel::Info)
            .sink(capture.clone())
            .try_init()
            .expect("a logger of the child's own");
        for seq in 0..10_u64 {
            info!("child logger", seq);
        }
        own.flush();
        let messages: Vec<String> = capture.events().into_iter().map(|e| e.message).collect();
        let _ = writeln!(write, "{}", messages.len());
        i32::from(messages.iter().any(|m| m != "child logger"))
    });
    drop(write);
    assert_eq!(wait(pid), 0);
    let mut report = String::new();
    read.read_to_string(&mut report).unwrap();
    assert_eq!(report.trim(), "10");

    // The parent goes on unaffected.
    info!("after the forks");
    handle.flush();
    let messages: Vec<String> = capture
        .events()
        .into_iter()
        .map(|e| e.message)
        .filter(|m| m != "parent_request closed")
        .collect();
    assert_eq!(messages.len(), 101, "none of the children's events");
    assert_eq!(messages[100], "after the forks");
    assert!(Span::current().is_disabled());
}
