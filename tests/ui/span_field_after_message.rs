fn main() {
    let (amount, order) = (1299, "A-17");
    // A span's message comes after its fields; after it come only format arguments.
    let _span = ttlog::info_span!("checkout", "paying {}", amount, %order);
}
