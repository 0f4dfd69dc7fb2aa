#[ttlog::instrument(fields("hello"))]
fn handle_request(id: u64) -> u64 {
    id + 1
}

fn main() {
    handle_request(1);
}
