fn main() {
    let _span = ttlog::span!(ttlog::LogLevel::Verbose, "checkout");
}
