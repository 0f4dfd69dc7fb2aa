fn main() {
    let _span = ttlog::info_span!("checkout", message = "paying", "charging card");
}
