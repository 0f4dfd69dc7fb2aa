//! `NewRow::from_live_event` (what the store and remote sinks use, on the consumer thread)
//! makes exactly the row `NewRow::from_event` makes from the event's captured copy, for
//! every kind of value, nested groups, spans with recorded values, and context.

use std::fmt;
use std::sync::{Arc, Mutex};

use ttlog::{CapturedEvent, Event, Sink};
use ttlog_store::NewRow;

/// Compares the two rows of every event; keeps the mismatches.
#[derive(Clone, Default)]
struct Compare(Arc<Mutex<(usize, Vec<String>)>>);

impl Sink for Compare {
    fn write(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        let live = NewRow::from_live_event(event);
        let copied = NewRow::from_event(&CapturedEvent::from_event(event));
        let mut state = self.0.lock().unwrap();
        state.0 += 1;
        if live != copied {
            state.1.push(format!("{live:#?}\n!=\n{copied:#?}"));
        }
        Ok(())
    }
}

struct Failing;

impl fmt::Display for Failing {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Err(fmt::Error)
    }
}

#[derive(ttlog::Fields)]
struct Card {
    last4: &'static str,
    expiry_month: u8,
}

#[derive(ttlog::Fields)]
struct Order {
    id: u64,
    #[ttlog(flatten)]
    card: Card,
}

#[test]
fn live_rows_equal_rows_of_captured_events() {
    let compare = Compare::default();
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(ttlog::LogLevel::Trace)
        .sink(compare.clone())
        .init();
    let order = Order {
        id: 7,
        card: Card {
            last4: "4242",
            expiry_month: 12,
        },
    };
    ttlog::info!(
        a = 1_u64,
        b = -2_i64,
        c = u128::MAX,
        d = i128::MIN,
        e = 2.5_f64,
        f = f64::NAN,
        g = true,
        h = 'x',
        i = "text",
        j = %std::net::Ipv4Addr::LOCALHOST,
        k = ?vec![1, 2],
        l = Option::<u64>::None,
        m = %Failing,
        order,
        "values of every kind {}",
        3
    );
    let job = "3F2C1A9E-8B7D-4C6E-9F01-23456789ABCD";
    ttlog::with_context("job_run_id", job, || {
        let span = ttlog::info_span!("task", attempt = 2_u64);
        span.in_scope(|| {
            ttlog::with_context(
                "task_run_id",
                "9a8b7c6d-5e4f-4a3b-8c2d-1e0f98765432",
                || {
                    ttlog::with_context("stream", "stderr", || {
                        let inner = ttlog::debug_span!("step", name = "compile");
                        inner.record("exit_code", 1_i64);
                        inner.in_scope(|| ttlog::error!(code = 1_i64, "compile failed"));
                    });
                },
            );
        });
    });
    ttlog::warn!(
        job_run_id = "not-a-uuid",
        stream = "stdout",
        "ids that are not UUIDs"
    );
    handle.flush();
    drop(handle);
    let state = compare.0.lock().unwrap();
    assert!(state.0 >= 4, "events seen: {}", state.0);
    assert!(state.1.is_empty(), "{}", state.1.join("\n\n"));
}
