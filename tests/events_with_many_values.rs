//! The consumer decodes up to 16 values of an event on its stack and more into a `Vec`: an
//! event with message arguments and fields on both sides of that boundary arrives with every
//! value, in order, in the capture sink and in the JSON line.

use ttlog::{CaptureSink, LogLevel, OwnedValue, info};

#[test]
fn events_with_many_values() {
    let capture = CaptureSink::new();
    let json = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    #[derive(Clone)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let handle = ttlog::init()
        .with_env(false)
        .console(false)
        .level(LogLevel::Info)
        .sink(capture.clone())
        .sink(ttlog::WriterSink::new(
            Shared(json.clone()),
            ttlog::Format::Json,
        ))
        .init();
    let (batch, shard) = (7u64, "eu-1");
    // 16 fields: exactly the values held on the stack.
    info!(
        "batch imported",
        f0 = 0u64,
        f1 = 1u64,
        f2 = 2u64,
        f3 = 3u64,
        f4 = 4u64,
        f5 = 5u64,
        f6 = 6u64,
        f7 = 7u64,
        f8 = 8u64,
        f9 = 9u64,
        f10 = 10u64,
        f11 = 11u64,
        f12 = 12u64,
        f13 = 13u64,
        f14 = 14u64,
        f15 = 15u64
    );
    // 2 message arguments and 18 fields: 20 values.
    info!(
        "batch {} of shard {} imported",
        batch,
        shard,
        f0 = 0u64,
        f1 = 1u64,
        f2 = 2u64,
        f3 = 3u64,
        f4 = 4u64,
        f5 = 5u64,
        f6 = 6u64,
        f7 = 7u64,
        f8 = 8u64,
        f9 = 9u64,
        f10 = 10u64,
        f11 = 11u64,
        f12 = 12u64,
        f13 = 13u64,
        f14 = 14u64,
        f15 = 15u64,
        f16 = 16u64,
        last = "end"
    );
    handle.flush();
    drop(handle);

    let events = capture.events();
    assert_eq!(events.len(), 2);
    let expected = |n: u64| -> Vec<(String, OwnedValue)> {
        (0..n)
            .map(|i| (format!("f{i}"), OwnedValue::U64(i)))
            .collect()
    };
    assert_eq!(events[0].message, "batch imported");
    assert_eq!(events[0].fields, expected(16));
    assert_eq!(events[1].message, "batch 7 of shard eu-1 imported");
    let mut fields = expected(17);
    fields.push(("last".to_owned(), OwnedValue::Str("end".to_owned())));
    assert_eq!(events[1].fields, fields);

    let text = String::from_utf8(json.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["message"], "batch 7 of shard eu-1 imported");
    assert_eq!(lines[1]["fields"]["f16"], 16);
    assert_eq!(lines[1]["fields"]["last"], "end");
    assert_eq!(lines[0]["fields"].as_object().unwrap().len(), 16);
}
