#[ttlog::instrument(verbose)]
fn handle_request(id: u64) {}

fn main() {
    handle_request(1);
}
