#[ttlog::instrument]
struct Handler;

fn main() {}
