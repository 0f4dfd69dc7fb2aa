//! An enabled event allocates nothing on the calling thread, for every kind of value, after
//! the thread's first event (which creates its ring); neither do entering and leaving spans,
//! nor events inside spans and context scopes (creating a span allocates once).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt;

use ttlog::{LogLevel, Overflow, debug, error, info, warn};

struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counters are thread-local cells that do not
// allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                ALLOCATIONS.with(|a| a.set(a.get() + 1));
            }
        });
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                ALLOCATIONS.with(|a| a.set(a.get() + 1));
            }
        });
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[derive(Debug)]
struct Order {
    id: u64,
    #[allow(dead_code)] // read through Debug
    items: [u16; 3],
}

struct Money(i64);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}.{:02}", self.0 / 100, self.0 % 100)
    }
}

fn log_everything(i: u64, name: &String, order: &Order) {
    let price = Money(12_345);
    info!(
        "order placed",
        seq = i,
        delta = -(i as i64),
        ratio = 0.25f64,
        express = true,
        region = "eu-west-1",
        customer = name,
        price = %price,
        order = ?order,
    );
    debug!("mask {:#x} for {} at {:.1}", i, name, 1.5f64);
    warn!(seq = i, "slow", elapsed = ?std::time::Duration::from_millis(3));
    error!("failed {}", price);
}

#[test]
fn zero_alloc_hot_path() {
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Trace)
        .overflow(Overflow::Block)
        .sink(ttlog::WriterSink::new(std::io::sink(), ttlog::Format::Json))
        .try_init()
        .unwrap();
    let name = String::from("ada");
    let order = Order {
        id: 9,
        items: [1, 2, 3],
    };
    // The first event creates this thread's ring and registers its callsites.
    log_everything(0, &name, &order);

    COUNTING.with(|c| c.set(true));
    for i in 0..10_000 {
        log_everything(i, &name, &order);
    }
    COUNTING.with(|c| c.set(false));
    let allocations = ALLOCATIONS.with(Cell::get);
    assert_eq!(
        allocations, 0,
        "allocations on the calling thread for 40,000 events"
    );

    // Spans and context: created once, then entered, left and logged in 10,000 times.
    let request = ttlog::info_span!("request", request_id = 7_u64, path = "/orders");
    let query = ttlog::debug_span!("db_query", table = "orders");
    ttlog::with_context("tenant", "acme", || {
        // Warm-up: the first release record of each kind.
        request.in_scope(|| query.in_scope(|| log_everything(0, &name, &order)));
        COUNTING.with(|c| c.set(true));
        for i in 0..10_000 {
            let _request = request.enter();
            info!("routing", attempt = i);
            let _query = query.enter();
            log_everything(i, &name, &order);
            drop(_query);
            request.in_scope(|| debug!("nested enter of the current span"));
        }
        COUNTING.with(|c| c.set(false));
    });
    let allocations = ALLOCATIONS.with(Cell::get);
    assert_eq!(
        allocations, 0,
        "allocations on the calling thread for 20,000 span enters and 60,000 events in spans"
    );
    drop((request, query));

    handle.flush();
    let stats = handle.stats();
    // 4 per log_everything call, 2 more per span-loop iteration, 2 close events.
    assert_eq!(
        stats.delivered,
        4 * 10_001 + 4 + 6 * 10_000 + 2,
        "{stats:?}"
    );
    assert_eq!(order.id, 9);
}
