fn main() {
    let request = ttlog::info_span!("request");
    ttlog::info!(parent: request.id(), "handled");
}
