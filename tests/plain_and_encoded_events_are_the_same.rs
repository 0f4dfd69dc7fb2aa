//! An event whose values are all plain (integers, floats, booleans, `None`, short strings) is
//! written by the plain path, straight into the ring; any other value sends the whole event
//! through the encoder. Both must record the same thing: here the same values are logged both
//! ways (the second event adds a `char`, which has no plain form), with strings of every
//! length around the plain path's limit, inside and outside a span, through a 4 KiB ring in
//! Block mode so that both paths wrap and wait many times; every event arrives, in order, and
//! the two of each pair carry the same message, fields and span.

use ttlog::{CaptureSink, CapturedEvent, LogLevel, Overflow, OwnedValue, info, info_span};

fn log_pair(seq: u64, body: &str) {
    let count = -(seq as i64);
    let ratio = seq as f64 / 4.0;
    let ok = seq.is_multiple_of(2);
    let missing: Option<u64> = None;
    let owned = body.to_owned();
    info!("pair {}", seq, seq, count, ratio, ok, missing, body, owned);
    info!(
        "pair {}",
        seq,
        seq,
        count,
        ratio,
        ok,
        missing,
        body,
        owned,
        marker = 'x'
    );
}

fn without_marker(event: &CapturedEvent) -> Vec<(String, OwnedValue)> {
    event
        .fields
        .iter()
        .filter(|(name, _)| name != "marker")
        .cloned()
        .collect()
}

#[test]
fn plain_and_encoded_events_are_the_same() {
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

    let text = "abcdefghij".repeat(40);
    let mut seq = 0u64;
    for round in 0..3 {
        for len in 0..=300 {
            let body = &text[..len];
            if round == 1 {
                let span = info_span!("request", round);
                let _entered = span.enter();
                log_pair(seq, body);
            } else {
                log_pair(seq, body);
            }
            seq += 1;
        }
    }
    handle.flush();

    // (Span close events are captured too.)
    let events: Vec<CapturedEvent> = capture
        .take()
        .into_iter()
        .filter(|e| e.template == "pair {}")
        .collect();
    assert_eq!(events.len() as u64, 2 * seq, "every event arrives");
    for (i, pair) in events.chunks(2).enumerate() {
        let (plain, encoded) = (&pair[0], &pair[1]);
        let i = i as u64;
        assert_eq!(plain.message, format!("pair {i}"));
        assert_eq!(encoded.message, plain.message);
        assert_eq!(plain.field("seq"), Some(&OwnedValue::U64(i)));
        assert_eq!(plain.field("count"), Some(&OwnedValue::I64(-(i as i64))));
        assert_eq!(plain.field("ratio"), Some(&OwnedValue::F64(i as f64 / 4.0)));
        assert_eq!(
            plain.field("ok"),
            Some(&OwnedValue::Bool(i.is_multiple_of(2)))
        );
        let body = &text[..(i % 301) as usize];
        assert_eq!(plain.field("body"), Some(&OwnedValue::Str(body.to_owned())));
        assert_eq!(plain.field("owned"), plain.field("body"));
        assert_eq!(encoded.field("marker"), Some(&OwnedValue::Char('x')));
        assert_eq!(plain.fields, without_marker(encoded), "event {i}");
        assert_eq!(plain.spans.len(), usize::from(i / 301 == 1), "event {i}");
        assert_eq!(plain.spans, encoded.spans, "event {i}");
    }
    assert_eq!(handle.stats().dropped, 0);
}
