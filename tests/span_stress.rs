//! Spans shared between threads, entered, recorded into and dropped concurrently, with tiny
//! rings in drop mode (so release records often wait for room): every delivered event still
//! sees intact spans and context, and nothing is freed early or counted wrong.

use std::collections::HashSet;
use std::sync::Barrier;

use ttlog::{CaptureSink, LogLevel, Overflow, OwnedValue, info};

const THREADS: u64 = 4;
const ROUNDS: u64 = 5_000;

#[test]
fn spans_survive_concurrent_use_with_full_rings() {
    let capture = CaptureSink::new();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Trace)
        .overflow(Overflow::Drop)
        .thread_buffer_size(16 * 1024)
        .panic_hook(false)
        .sink(capture.clone())
        .try_init()
        .unwrap();

    let shared = ttlog::info_span!("shared", kind = "batch");
    let barrier = Barrier::new(THREADS as usize);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let shared = shared.clone();
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for round in 0..ROUNDS {
                    let _in_shared = shared.enter();
                    let job = ttlog::debug_span!("job", thread = t, round);
                    ttlog::with_context("worker", t, || {
                        job.in_scope(|| {
                            info!("step", t, round);
                            if round % 7 == 0 {
                                job.record("seven", true);
                                shared.record("last_round", round);
                            }
                            info!("step done", t, round);
                        });
                    });
                    // Spans handed to another handle and dropped later.
                    if round % 3 == 0 {
                        let kept = job.clone();
                        drop(job);
                        kept.in_scope(|| info!("late", t, round));
                    }
                }
            });
        }
    });
    drop(shared);
    handle.flush();

    let events = capture.take();
    let stats = handle.stats();
    assert!(!events.is_empty());
    let names: HashSet<&str> = ["shared", "job"].into();
    let mut shared_ids = HashSet::new();
    let mut dropped_markers = 0u64;
    for event in &events {
        if event.template.ends_with("events dropped") {
            if let Some(OwnedValue::U64(n)) = event.field("dropped") {
                dropped_markers += n;
            }
            continue;
        }
        for span in &event.spans {
            assert!(names.contains(span.name.as_str()), "{event:?}");
        }
        match event.template.as_str() {
            "step" | "step done" | "late" => {
                let t = event.field("t").cloned();
                let round = event.field("round").cloned();
                let job = event.span().expect("inside job");
                assert_eq!(job.name, "job", "{event:?}");
                assert_eq!(job.field("thread"), t.as_ref(), "{event:?}");
                assert_eq!(job.field("round"), round.as_ref(), "{event:?}");
                if event.template != "late" {
                    assert_eq!(event.context_field("worker"), t.as_ref(), "{event:?}");
                }
                assert_eq!(event.spans[0].name, "shared");
                assert_eq!(event.spans[0].field("kind").unwrap().to_text(), "batch");
                shared_ids.insert(event.spans[0].id);
            }
            "job closed" | "shared closed" => {
                assert!(event.field("duration_ns").is_some());
            }
            other => panic!("unexpected event {other}: {event:?}"),
        }
    }
    assert_eq!(shared_ids.len(), 1, "one shared span");
    // Every event is either delivered or counted, and every drop is marked.
    assert_eq!(stats.dropped, dropped_markers, "{stats:?}");
    assert_eq!(stats.logged, stats.delivered, "{stats:?}");
    eprintln!(
        "{} events delivered, {} dropped and marked",
        stats.delivered, stats.dropped
    );
}
