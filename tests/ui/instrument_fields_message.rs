#[ttlog::instrument(fields("hello"))]
fn handle_request(id: u64) {}

fn main() {
    handle_request(1);
}
