#[ttlog::instrument(level = "loud")]
fn handle_request(id: u64) {}

fn main() {
    handle_request(1);
}
