//! `Overflow::Block`: 4 threads × 100,000 events through small rings are all delivered, each
//! thread's events in its order, and the output in timestamp order across threads.

use std::io;
use std::sync::{Arc, Mutex};

use ttlog::{Event, LogLevel, Overflow, Sink, ValueRef, info};

const THREADS: u64 = 4;
const PER_THREAD: u64 = 100_000;

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(String, u64, u64)>>>);

impl Sink for Recorder {
    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        let seq = match event.field("seq") {
            Some(ValueRef::U64(n)) => n,
            other => panic!("unexpected event {event:?} ({other:?})"),
        };
        self.0.lock().unwrap().push((
            event.thread().name().to_owned(),
            seq,
            event.timestamp_nanos(),
        ));
        Ok(())
    }
}

#[test]
fn block_mode_loses_nothing_and_orders_by_time() {
    let recorder = Recorder::default();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .overflow(Overflow::Block)
        // Small rings: producers wrap around and wait for the consumer many times.
        .thread_buffer_size(8 * 1024)
        .sink(recorder.clone())
        .try_init()
        .unwrap();

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("worker-{t}"))
                .spawn(move || {
                    for seq in 0..PER_THREAD {
                        info!("tick", seq, worker = t, payload = "some text to vary sizes");
                    }
                })
                .unwrap()
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    handle.flush();

    let events = recorder.0.lock().unwrap();
    assert_eq!(
        events.len() as u64,
        THREADS * PER_THREAD,
        "every event delivered"
    );
    for t in 0..THREADS {
        let name = format!("worker-{t}");
        let seqs: Vec<u64> = events.iter().filter(|e| e.0 == name).map(|e| e.1).collect();
        assert_eq!(seqs.len() as u64, PER_THREAD, "{name}");
        assert!(
            seqs.iter().enumerate().all(|(i, &s)| s == i as u64),
            "{name}: thread order preserved"
        );
    }
    let out_of_order = events.windows(2).filter(|w| w[0].2 > w[1].2).count();
    assert_eq!(out_of_order, 0, "output is in timestamp order");

    let stats = handle.stats();
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.logged, THREADS * PER_THREAD);
    assert_eq!(stats.delivered, THREADS * PER_THREAD);
}
