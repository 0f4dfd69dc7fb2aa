#[derive(ttlog::Fields)]
struct Marker;

fn main() {}
