fn main() {
    let _span = ttlog::span!(ttlog::LogLevel::Info, order_id = 7);
}
