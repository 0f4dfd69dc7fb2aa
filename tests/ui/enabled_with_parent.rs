fn main() {
    let request = ttlog::info_span!("request");
    let _ = ttlog::enabled!(parent: &request, ttlog::Level::DEBUG);
}
