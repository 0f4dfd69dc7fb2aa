fn main() {
    let (user_id, latency_ms) = (7, 3.5);
    // Both duplicates and the stray value are reported.
    ttlog::info!("request handled", user_id, user_id, latency_ms, latency_ms = 4.0, 1 + 1);
}
