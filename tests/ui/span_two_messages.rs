fn main() {
    let _span = ttlog::info_span!("checkout", "paying", "twice");
}
