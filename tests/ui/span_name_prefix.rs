fn main() {
    let _span = ttlog::info_span!(name: "checkout", "checkout");
}
