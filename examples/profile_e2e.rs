use std::hint::black_box;
fn main() {
    let logger = ttlog::init()
        .with_env(false)
        .console(false)
        .level(ttlog::LogLevel::Info)
        .overflow(ttlog::Overflow::Block)
        .thread_buffer_size(8 << 20)
        .sink(ttlog::WriterSink::new(std::io::sink(), ttlog::Format::Json))
        .init();
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(2_000_000, |s| s.parse().unwrap());
    let t = std::time::Instant::now();
    for _ in 0..n {
        let user_id = black_box(42u64);
        let path = black_box("/api/v1/items");
        let latency_ms = black_box(3.25f64);
        ttlog::info!("request handled", user_id, path, latency_ms);
    }
    let produced = t.elapsed();
    logger.flush();
    eprintln!("produced in {:?}, total {:?}", produced, t.elapsed());
}
